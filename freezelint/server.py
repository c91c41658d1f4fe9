"""`freezelint server`: the checker in the editor, as a Language Server over stdio (pygls).

Diagnostics come from the document's in-memory text through the engine `freezelint check` uses,
with the config of the nearest pyproject.toml above the file: on open and save at once, on
change after a pause in typing (debounced), so a keystroke never waits for a parse. Code actions
offer each fix (unsafe ones labelled so) and a `# noqa: FZxxx` suppression; hovering a finding
shows its rule page. Notebooks are checked cell by cell as one module where the client syncs
notebook documents; findings are published on the cell they are in.

The protocol is pygls's; what is checked, and how, is `lsp_support.py`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from freezelint import __version__, codes
from freezelint.lsp_support import PYTHON_SUFFIXES, Checked, Checker, Placed, noqa_edit, source_lines

MISSING = "`freezelint server` needs pygls 2 and lsprotocol: pip install 'freezelint[server]'"
DEBOUNCE_S = 0.3
SOURCE = "freezelint"
FIX_ALL_KIND = "source.fixAll.freezelint"

log = logging.getLogger(__name__)


def missing_dependency() -> str | None:
    """One line saying what to install when the server's libraries are absent, else None."""
    try:
        import lsprotocol.types  # noqa: F401
        from pygls.lsp.server import LanguageServer  # noqa: F401
    except ImportError:
        return MISSING
    return None


def serve() -> int:
    """Run over stdin/stdout until the client says exit; 0 after a shutdown request, else 1."""
    server = build_server()
    server.start_io()
    return 0 if getattr(server.protocol, "_shutdown", False) else 1


@lru_cache(maxsize=None)
def rule_page(code: str) -> str:
    """The rule's page, as `freezelint rule CODE` prints it (Markdown)."""
    from freezelint.check.docs import documented_codes, page

    if code in documented_codes():
        return page(code)
    info = codes.get(code)
    return f"# {code} {info.name}\n\n{info.summary}.\n"


@dataclass
class _Doc:
    """What was published on one document (a file, or one notebook cell)."""

    version: int | None
    lines: list[str]
    findings: list[tuple[Any, Placed]] = field(default_factory=list)  # (LSP diagnostic, finding)


@dataclass
class _Unit:
    """One checked unit: a Python file, or a whole notebook (whose cells are its documents)."""

    checked: Checked
    path: str
    selected: frozenset[str]
    docs: dict[str, _Doc]
    notebook: bool = False


def build_server(debounce: float = DEBOUNCE_S):
    """The pygls server with freezelint's features registered (imports pygls)."""
    from lsprotocol import types as t
    from pygls.lsp.server import LanguageServer
    from pygls.uris import to_fs_path

    notebook_sync = t.NotebookDocumentSyncOptions(
        notebook_selector=[t.NotebookDocumentFilterWithCells(
            notebook="jupyter-notebook", cells=[t.NotebookCellLanguage(language="python")])],
        save=True,
    )

    class FreezelintServer(LanguageServer):
        def __init__(self) -> None:
            super().__init__("freezelint", __version__, text_document_sync_kind=t.TextDocumentSyncKind.Incremental,
                             notebook_document_sync=notebook_sync)
            self.checker = Checker()
            self.debounce = debounce
            self.units: dict[str, _Unit] = {}  # by file or notebook URI
            self._timers: dict[str, asyncio.TimerHandle] = {}
            self._told: set[str] = set()  # config errors already shown

        # ------------------------------------------------------------------ checking
        def _path(self, uri: str) -> Path | None:
            path = to_fs_path(uri)
            return Path(path) if path and uri.startswith("file:") else None

        def _fallback_dir(self) -> Path:
            root = self.workspace.root_path if self.protocol._workspace is not None else None
            return Path(root) if root else Path(os.getcwd())

        def _settings(self, path: Path | None):
            settings = self.checker.configs.settings(path, self._fallback_dir())
            if settings.error and settings.error not in self._told:
                self._told.add(settings.error)
                self.window_show_message(t.ShowMessageParams(
                    type=t.MessageType.Warning,
                    message=f"freezelint: {settings.error}; using the default rules until it is fixed"))
            return settings

        def _is_cell(self, uri: str) -> bool:
            return self.workspace.get_notebook_document(cell_uri=uri) is not None

        def lint(self, uri: str, dependents: bool = False) -> None:
            """Check a file or notebook now and publish; never raises into the protocol.
            `dependents`: its text changed, so the open documents whose last check read this
            file (a helper they import) are checked again too, against its text as it is now."""
            self._cancel(uri)
            try:
                self._sync_open_files()
                if unquote(uri) in self.workspace.notebook_documents:
                    self._lint_notebook(uri)
                elif unquote(uri) in self.workspace.text_documents:
                    self._lint_file(uri)
            except Exception as e:  # noqa: BLE001 — one line in the client's log, the server goes on
                log.exception("check failed")
                self.window_log_message(t.LogMessageParams(
                    type=t.MessageType.Error, message=f"freezelint: cannot check {uri}: {type(e).__name__}: {e}"))
            if dependents:
                self.lint_dependents(uri)

        def lint_dependents(self, uri: str) -> None:
            path = self._path(uri)
            if path is None:
                return
            changed = str(path.resolve())
            for key, unit in list(self.units.items()):
                uses = unit.checked.uses
                if key != uri and (uses is None or changed in uses):
                    self.lint(key)

        def _sync_open_files(self) -> None:
            """The open Python files' texts, read by the project analysis instead of the disk."""
            texts = {}
            for uri, doc in list(self.workspace.text_documents.items()):
                path = self._path(uri)
                if path is not None and path.suffix in PYTHON_SUFFIXES and not self._is_cell(uri):
                    texts[str(path.resolve())] = doc.source
            self.checker.open_files.clear()
            self.checker.open_files.update(texts)

        def _lint_file(self, uri: str) -> None:
            doc = self.workspace.get_text_document(uri)
            path = self._path(uri)
            is_python = doc.language_id == "python" or (path is not None and path.suffix in PYTHON_SUFFIXES)
            if not is_python or self._is_cell(uri):
                return
            settings = self._settings(path)
            selected, text = settings.selected, doc.source
            if selected is None:  # excluded by config
                checked, selected = Checked(text), frozenset()
            else:
                checked = self.checker.check_python(uri, text, str(path or uri), selected,
                                                    settings.config.max_file_size if settings.config else None)
            docs = {uri: _Doc(doc.version, source_lines(text))}
            self._publish(uri, _Unit(checked, str(path or uri), selected, docs))

        def _lint_notebook(self, nb_uri: str) -> None:
            nb = self.workspace.notebook_documents[unquote(nb_uri)]
            path = self._path(nb_uri)
            settings = self._settings(path)
            selected = settings.selected
            cells, docs = [], {}
            for cell in nb.cells:
                doc = self.workspace.get_text_document(cell.document)
                if cell.kind != t.NotebookCellKind.Code or (doc.language_id or "python") != "python":
                    continue
                cells.append((cell.document, doc.source))
                docs[cell.document] = _Doc(doc.version, source_lines(doc.source))
            if selected is None or not cells:
                checked, selected = Checked(""), frozenset()
            else:
                checked = self.checker.check_notebook(cells, str(path or nb_uri), selected,
                                                      settings.config.max_file_size if settings.config else None)
            self._publish(nb_uri, _Unit(checked, str(path or nb_uri), selected, docs, notebook=True))

        def _publish(self, key: str, unit: _Unit) -> None:
            if unit.checked.skipped:
                self.window_log_message(t.LogMessageParams(
                    type=t.MessageType.Info, message=f"freezelint: {unit.path}: {unit.checked.skipped}"))
            old = self.units.get(key)
            self.units[key] = unit
            for placed in unit.checked.placed:
                doc = unit.docs.get(placed.doc)
                if doc is not None:
                    doc.findings.append((self._diagnostic(doc.lines, placed), placed))
            gone = set(old.docs) - set(unit.docs) if old is not None else set()
            for uri in gone:  # cells deleted since the last check
                self.text_document_publish_diagnostics(t.PublishDiagnosticsParams(uri=uri, diagnostics=[]))
            for uri, doc in unit.docs.items():
                self.text_document_publish_diagnostics(t.PublishDiagnosticsParams(
                    uri=uri, version=doc.version, diagnostics=[d for d, _ in doc.findings]))

        def clear(self, key: str) -> None:
            self._cancel(key)
            unit = self.units.pop(key, None)
            for uri in (unit.docs if unit is not None else [key]):
                self.text_document_publish_diagnostics(t.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

        # ------------------------------------------------------------------ debounce
        def later(self, key: str) -> None:
            """Check after a pause in typing, then the open documents that read this one."""
            self._cancel(key)
            if self.debounce <= 0:
                self.lint(key, dependents=True)
                return
            self._timers[key] = asyncio.get_running_loop().call_later(self.debounce, self.lint, key, True)

        def _cancel(self, key: str) -> None:
            timer = self._timers.pop(key, None)
            if timer is not None:
                timer.cancel()

        # ------------------------------------------------------------------ positions
        def _position(self, lines: list[str], row: int, col: int):
            """Engine (1-based row, 1-based code-point column) -> the client's units."""
            return self.workspace.position_codec.position_to_client_units(
                lines, t.Position(line=max(row - 1, 0), character=max(col - 1, 0)))

        def _range(self, lines, row, col, end_row, end_col):
            return t.Range(start=self._position(lines, row, col), end=self._position(lines, end_row, end_col))

        def _diagnostic(self, lines: list[str], placed: Placed):
            d = placed.diagnostic
            return t.Diagnostic(
                range=self._range(lines, d.row, d.col, d.end_row, d.end_col),
                message=d.message,
                severity=t.DiagnosticSeverity.Error if d.severity == codes.ERROR else t.DiagnosticSeverity.Warning,
                code=d.code,
                source=SOURCE,
            )

        # ------------------------------------------------------------------ actions
        def unit_of(self, uri: str) -> tuple[str, _Unit] | tuple[None, None]:
            if uri in self.units:
                return uri, self.units[uri]
            nb = self.workspace.get_notebook_document(cell_uri=uri)
            if nb is not None and nb.uri in self.units:
                return nb.uri, self.units[nb.uri]
            return None, None

        def current(self, uri: str) -> _Doc | None:
            """What was published on `uri`, if the document has not changed since."""
            _, unit = self.unit_of(uri)
            doc = unit.docs.get(uri) if unit is not None else None
            if doc is None or self.workspace.get_text_document(uri).version != doc.version:
                return None  # a check is pending: its positions would be stale
            return doc

        def _edit(self, uri: str, version: int | None, edits: list) -> Any:
            caps = self.client_capabilities.workspace
            versioned = bool(caps and caps.workspace_edit and caps.workspace_edit.document_changes)
            if versioned:
                return t.WorkspaceEdit(document_changes=[t.TextDocumentEdit(
                    text_document=t.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version),
                    edits=edits)])
            return t.WorkspaceEdit(changes={uri: edits})

        def fix_action(self, uri: str, doc: _Doc, diagnostic, placed: Placed):
            fix = placed.diagnostic.fix
            edits = [t.TextEdit(
                range=self._range(doc.lines, e["location"]["row"], e["location"]["column"],
                                  e["end_location"]["row"], e["end_location"]["column"]),
                new_text=e["content"]) for e in fix["edits"]]
            safe = fix["applicability"] == codes.SAFE
            title = f"{fix['message']} ({placed.diagnostic.code})"
            if not safe:
                title += " [unsafe fix: may change behaviour, review it]"
            return t.CodeAction(title=title, kind=t.CodeActionKind.QuickFix, diagnostics=[diagnostic],
                                is_preferred=safe, edit=self._edit(uri, doc.version, edits))

        def noqa_action(self, uri: str, unit: _Unit, doc: _Doc, diagnostic, placed: Placed):
            code = placed.diagnostic.code
            edit = noqa_edit(unit.checked.source, placed.source_row, code)
            if edit is None:
                return None
            row = edit.row
            if unit.checked.cell_of_row is not None:
                cell, row = unit.checked.cell_of_row(edit.row)
                if cell != uri:
                    return None
            start, end = self._position(doc.lines, row, edit.col + 1), self._position(doc.lines, row, edit.end + 1)
            return t.CodeAction(
                title=f"Suppress {code} on this line with `# noqa: {code}`", kind=t.CodeActionKind.QuickFix,
                diagnostics=[diagnostic],
                edit=self._edit(uri, doc.version, [t.TextEdit(range=t.Range(start=start, end=end), new_text=edit.text)]))

        def fix_all_action(self, uri: str, unit: _Unit, doc: _Doc):
            if unit.notebook or not any(p.diagnostic.fix and p.diagnostic.fix["applicability"] == codes.SAFE
                                        for _, p in doc.findings):
                return None
            new_text = self.checker.fix_all(unit.checked.source, unit.path, unit.selected)
            if new_text is None:
                return None
            end = t.Position(line=len(doc.lines), character=0)
            whole = t.Range(start=t.Position(line=0, character=0), end=end)
            return t.CodeAction(title="Fix all safe freezelint findings", kind=FIX_ALL_KIND,
                                edit=self._edit(uri, doc.version, [t.TextEdit(range=whole, new_text=new_text)]))

    server = FreezelintServer()

    @server.feature(t.INITIALIZE)
    def initialize(ls: FreezelintServer, params: t.InitializeParams) -> None:
        options = params.initialization_options
        if isinstance(options, dict) and isinstance(options.get("debounceMs"), (int, float)):
            ls.debounce = max(0.0, options["debounceMs"] / 1000)
        # a folder with no pyproject.toml / .git above it roots the projects of the files in it
        uris = [f.uri for f in params.workspace_folders or ()] or ([params.root_uri] if params.root_uri else [])
        ls.checker.workspace = [Path(p).resolve() for p in (ls._path(u) for u in uris) if p is not None]

    @server.feature(t.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: FreezelintServer, params: t.DidOpenTextDocumentParams) -> None:
        ls.lint(params.text_document.uri)

    @server.feature(t.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: FreezelintServer, params: t.DidChangeTextDocumentParams) -> None:
        ls.later(params.text_document.uri)

    @server.feature(t.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: FreezelintServer, params: t.DidSaveTextDocumentParams) -> None:
        ls.lint(params.text_document.uri, dependents=True)

    @server.feature(t.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: FreezelintServer, params: t.DidCloseTextDocumentParams) -> None:
        ls.clear(params.text_document.uri)
        ls._sync_open_files()  # its unsaved text no longer stands in for the file on disk
        ls.lint_dependents(params.text_document.uri)

    @server.feature(t.NOTEBOOK_DOCUMENT_DID_OPEN)
    def nb_open(ls: FreezelintServer, params: t.DidOpenNotebookDocumentParams) -> None:
        ls.lint(params.notebook_document.uri)

    @server.feature(t.NOTEBOOK_DOCUMENT_DID_CHANGE)
    def nb_change(ls: FreezelintServer, params: t.DidChangeNotebookDocumentParams) -> None:
        ls.later(params.notebook_document.uri)

    @server.feature(t.NOTEBOOK_DOCUMENT_DID_SAVE)
    def nb_save(ls: FreezelintServer, params: t.DidSaveNotebookDocumentParams) -> None:
        ls.lint(params.notebook_document.uri)

    @server.feature(t.NOTEBOOK_DOCUMENT_DID_CLOSE)
    def nb_close(ls: FreezelintServer, params: t.DidCloseNotebookDocumentParams) -> None:
        ls.clear(params.notebook_document.uri)

    @server.feature(t.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def config_changed(ls: FreezelintServer, params: t.DidChangeConfigurationParams) -> None:
        for key in list(ls.units):  # pyproject.toml is re-read when it changed on disk
            ls.lint(key)

    @server.feature(t.TEXT_DOCUMENT_CODE_ACTION, t.CodeActionOptions(
        code_action_kinds=[t.CodeActionKind.QuickFix, FIX_ALL_KIND]))
    def code_action(ls: FreezelintServer, params: t.CodeActionParams) -> list:
        uri = params.text_document.uri
        _, unit = ls.unit_of(uri)
        doc = ls.current(uri)
        if unit is None or doc is None:
            return []
        only = params.context.only
        wants = (lambda kind: not only or any(kind == k or kind.startswith(f"{k}.") for k in only))
        actions = []
        if wants(t.CodeActionKind.QuickFix):
            for diagnostic, placed in doc.findings:
                if not _overlaps(diagnostic.range, params.range):
                    continue
                if placed.diagnostic.fix is not None:
                    actions.append(ls.fix_action(uri, doc, diagnostic, placed))
                if placed.diagnostic.code not in ("FZ001", "FZ002"):  # not for parse errors or stale noqa
                    action = ls.noqa_action(uri, unit, doc, diagnostic, placed)
                    if action is not None:
                        actions.append(action)
        if wants(FIX_ALL_KIND):
            action = ls.fix_all_action(uri, unit, doc)
            if action is not None:
                actions.append(action)
        return actions

    @server.feature(t.TEXT_DOCUMENT_HOVER)
    def hover(ls: FreezelintServer, params: t.HoverParams):
        doc = ls.current(params.text_document.uri)
        if doc is None:
            return None
        pos = params.position
        hits = [(d, p) for d, p in doc.findings if _contains(d.range, pos)]
        if not hits:
            return None
        pages = list(dict.fromkeys(rule_page(p.diagnostic.code) for _, p in hits))
        return t.Hover(contents=t.MarkupContent(kind=t.MarkupKind.Markdown, value="\n---\n\n".join(pages)),
                       range=hits[0][0].range)

    return server


def _key(p) -> tuple[int, int]:
    return (p.line, p.character)


def _overlaps(a, b) -> bool:
    return _key(a.start) <= _key(b.end) and _key(b.start) <= _key(a.end)


def _contains(r, p) -> bool:
    return _key(r.start) <= _key(p) <= _key(r.end)
