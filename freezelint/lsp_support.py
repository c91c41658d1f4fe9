"""What the language server needs from the checker, without pygls: documents in, findings out.

Kept apart from `server.py` so that it can be tested in-process and so that the protocol layer
stays thin. Positions here are 1-based rows and code-point columns, as the engine reports them;
`server.py` converts them to the client's units.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from freezelint.check.diagnostic import Diagnostic
from freezelint.config import Config, ConfigError
from freezelint.config import load as load_config

PYTHON_SUFFIXES = (".py", ".pyi")
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")

# The engine call every check goes through: (text, path, selected, fix) -> engine.Outcome.
Analyse = Callable[[str, str, frozenset, "str | None"], Any]


def source_lines(text: str, keepends: bool = True) -> list[str]:
    """Lines as Python and LSP count them: only \\n, \\r\\n and \\r end a line."""
    parts = _LINE.findall(text)
    return parts if keepends else [p.rstrip("\r\n") for p in parts]


# --------------------------------------------------------------------------- config
@dataclass
class Settings:
    """What applies to one document: the codes to report, or None when config excludes it."""

    selected: frozenset[str] | None
    config: Config | None = None
    error: str | None = None  # a broken pyproject.toml: reported once, defaults used meanwhile


class ConfigCache:
    """`[tool.freezelint]` of the nearest pyproject.toml above a document, as `freezelint check`
    reads it; re-read when any pyproject.toml on the way up appears, changes or goes."""

    def __init__(self) -> None:
        self._by_dir: dict[Path, tuple[tuple, Config | None, str | None]] = {}

    @staticmethod
    def _stamp(directory: Path) -> tuple:
        out = []
        for d in [directory, *directory.parents]:
            try:
                st = (d / "pyproject.toml").stat()
            except OSError:
                continue
            out.append((str(d), st.st_mtime_ns, st.st_size, st.st_ino))
        return tuple(out)

    def config(self, directory: Path) -> tuple[Config, str | None]:
        stamp = self._stamp(directory)
        hit = self._by_dir.get(directory)
        if hit is None or hit[0] != stamp:
            try:
                hit = (stamp, load_config(cwd=directory), None)
            except ConfigError as e:
                hit = (stamp, None, str(e))
            self._by_dir[directory] = hit
        _, cfg, error = hit
        return (cfg if cfg is not None else Config(root=directory)), error

    def settings(self, path: Path | None, fallback_dir: Path) -> Settings:
        from freezelint.check.discover import Discovery
        from freezelint.check.runner import _per_file_selected

        cfg, error = self.config(path.parent if path is not None else fallback_dir)
        try:
            selected = cfg.selected()
        except ConfigError as e:
            cfg, error = Config(root=cfg.root), str(e)
            selected = cfg.selected()
        if path is None:
            return Settings(selected, cfg, error)
        # excluded files stay silent, as `freezelint check --force-exclude` (pre-commit) has it;
        # decided from the path, so a new file not saved yet is excluded as it will be on disk
        if Discovery(cfg, force_exclude=True).excluded_file(str(path)):
            return Settings(None, cfg, error)
        return Settings(_per_file_selected(cfg, selected)(path), cfg, error)


# --------------------------------------------------------------------------- findings
@dataclass
class Placed:
    """One diagnostic in one document: a file, or one cell of a notebook (rows within it)."""

    doc: str  # the document's key (URI) it is published on
    diagnostic: Diagnostic
    source_row: int  # the row in the checked source (the notebook's joined cells)


@dataclass
class Checked:
    """One check of a document: what to publish, and what code actions need later."""

    source: str  # the text the engine saw (a notebook's cells joined, magics masked)
    placed: list[Placed] = field(default_factory=list)
    skipped: str | None = None  # why the text was not checked
    # project files (resolved paths) the check read; None: every file (a scan of the project)
    uses: frozenset[str] | None = frozenset()
    # for a notebook: source row -> (cell key, row in the cell)
    cell_of_row: Callable[[int], tuple[str, int]] | None = None


def too_big(text: str, setting: int | None = None, notebook: bool = False) -> str | None:
    """Why the text is not checked where it is over the size `freezelint check` leaves out (the
    project's `max-file-size`, else the default: libcst would take minutes), as `check` says it;
    else None."""
    from freezelint.check.runner import size_limit, too_large

    limit = size_limit(setting)
    if limit is None or 4 * len(text) <= limit:  # at most 4 bytes a character: under it
        return None
    size = len(text.encode("utf-8", "surrogatepass"))
    return too_large(size, limit, notebook) if size > limit else None


def default_analyse(text: str, path: str, selected: frozenset, fix: str | None = None,
                    open_files: dict[str, str] | None = None, workspace: list | None = None):
    """The editor's text checked as `freezelint check` checks the file: inside its project (the
    nearest pyproject.toml / .git; without one, the innermost workspace folder that holds it, as
    `freezelint check FOLDER` would root it), so calls and classes from other files resolve. A
    fresh Project per check: summaries come from the on-disk cache by content, so an edit saved
    in another file is seen at the next check. `open_files` (resolved path -> text): the editor's
    buffers, read instead of those files on disk. `workspace`: the editor's folders (Paths)."""
    from pathlib import Path

    from freezelint.check import engine
    from freezelint.check.project import Project, find_root, marked_root

    here = Path(path).resolve()
    root = marked_root(here)
    if root is None:
        holding = [w for w in workspace or () if w in here.parents]
        root = max(holding, key=lambda w: len(w.parts)) if holding else find_root(here)
    overlay = {p: t.encode("utf-8", "surrogatepass") for p, t in (open_files or {}).items()}
    from freezelint.check.runner import size_limit

    project = Project(root, root / ".freezelint_cache", overlay=overlay, parse_limit=size_limit(None))
    return engine.check_text(text, path, selected, fix, project=project)


def _uses(outcome) -> frozenset[str] | None:
    """The project files a check read (from the outcome's dependencies), None for all of them."""
    from freezelint.check.project import _PROJECT

    paths = {dep.partition("#")[0] for dep in getattr(outcome, "deps", None) or {}}
    return None if _PROJECT in paths else frozenset(paths)


class Checker:
    """Checks documents from their in-memory text. Every check goes through `self.analyse`:
    `use_analyse()` is where a project-aware engine (the index of the checked tree, so that
    calls into other files resolve) plugs in, with one call."""

    def __init__(self) -> None:
        self.configs = ConfigCache()
        # the editor's open Python files (resolved path -> text), read instead of the disk
        self.open_files: dict[str, str] = {}
        self.workspace: list = []  # the editor's workspace folders, resolved Paths
        self.analyse: Analyse = lambda text, path, selected, fix: default_analyse(
            text, path, selected, fix, open_files=self.open_files, workspace=self.workspace)

    def use_analyse(self, analyse: Analyse) -> None:
        """Route every check through `analyse(text, path, selected, fix)`, e.g.
        `functools.partial(project_check_text, project=index)`."""
        self.analyse = analyse

    def check_python(self, key: str, text: str, path: str, selected: frozenset[str],
                     max_file_size: int | None = None) -> Checked:
        skipped = too_big(text, max_file_size)
        if skipped:
            return Checked(text, skipped=skipped)
        outcome = self.analyse(text, path, selected, None)
        return Checked(text, [Placed(key, d, d.row) for d in outcome.diagnostics], uses=_uses(outcome))

    def check_notebook(self, cells: list[tuple[str, str]], path: str, selected: frozenset[str],
                       max_file_size: int | None = None) -> Checked:
        """`cells`: (key, text) of each code cell, in notebook order; checked as one module,
        magics masked, as `freezelint check` checks a saved notebook."""
        from freezelint.check import notebook

        nb = notebook.load(json.dumps({"cells": [{"cell_type": "code", "source": text} for _, text in cells]}))
        skipped = too_big(nb.source, max_file_size, notebook=True)
        if skipped:
            return Checked(nb.source, skipped=skipped)
        outcome = self.analyse(nb.source, path, selected, None)

        def cell_of_row(row: int) -> tuple[str, int]:
            number, in_cell = nb.locate(row)
            return cells[number - 1][0], in_cell

        checked = Checked(nb.source, cell_of_row=cell_of_row, uses=_uses(outcome))
        for d in outcome.diagnostics:
            key, row = cell_of_row(d.row)
            end_key, end_row = cell_of_row(d.end_row)
            if end_key != key:  # a statement cannot span cells; keep the mark inside its cell
                end_row, d.end_col = row, d.col
            source_row = d.row
            d.row, d.end_row = row, end_row
            if d.fix is not None and not _fix_within(d.fix, cell_of_row, key):
                d.fix = None
            checked.placed.append(Placed(key, d, source_row))
        return checked

    def fix_all(self, text: str, path: str, selected: frozenset[str]) -> str | None:
        """The text with every safe fix applied (as `freezelint check --fix`), or None."""
        return self.analyse(text, path, selected, "safe").new_text


def _fix_within(fix: dict, cell_of_row, key: str) -> bool:
    """Map a notebook fix's edits to rows of the cell; False when they reach another cell."""
    mapped = []
    for edit in fix["edits"]:
        for loc in (edit["location"], edit["end_location"]):
            k, r = cell_of_row(loc["row"])
            if k != key:
                return False
            mapped.append((loc, r))
    for loc, r in mapped:
        loc["row"] = r
    return True


# ------------------------------------------------------------------------- suppression
@dataclass
class LineEdit:
    """Replace columns [col, end) of `row` of the checked source with `text`: 1-based row, 0-based
    columns (end == col: an insertion)."""

    row: int
    col: int
    text: str
    end: int


def noqa_edit(source: str, row: int, code: str) -> LineEdit | None:
    """The edit that suppresses the finding `code` on `row`: exactly the comment `freezelint check
    --add-noqa` writes there (one source of truth: add_noqa.py places it, merges it into a `# noqa:`
    list already there and proves it). None where --add-noqa would add nothing (the line ends
    inside a string or a backslash continuation, a blanket or file-level suppression is there, or
    the code is FZ002, which is never suppressed)."""
    from freezelint.check import add_noqa

    lines = source_lines(source)
    if not 1 <= row <= len(lines):
        return None
    edited = add_noqa.add_to_source(source, {row: {code}})
    if edited.text is None:
        return None
    old, new = lines[row - 1], source_lines(edited.text)[row - 1]
    head = 0
    while head < min(len(old), len(new)) and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < min(len(old), len(new)) - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    return LineEdit(row, head, new[head:len(new) - tail], len(old) - tail)


def apply_line_edit(source: str, edit: LineEdit) -> str:
    lines = source_lines(source)
    line = lines[edit.row - 1]
    lines[edit.row - 1] = line[: edit.col] + edit.text + line[edit.end:]
    return "".join(lines)
