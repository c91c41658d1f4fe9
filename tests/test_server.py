"""`freezelint server`: real client sessions over stdio (a spawned server driven with JSON-RPC
frames), and the pieces the code actions are made of."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import ROOT
from freezelint import codes
from freezelint.check.engine import check_text
from freezelint.check.rules import ALL_RULES
from freezelint.check import add_noqa
from freezelint.lsp_support import apply_line_edit, noqa_edit, source_lines

pytest.importorskip("pygls")
from lsp_client import LspClient  # noqa: E402

ALL = frozenset(c for c, i in codes.CATALOGUE.items() if i.static)

TRAIN = textwrap.dedent('''\
    import torch.nn as nn

    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    tag = "\U0001F9CA"; model.requires_grad = False
    model.training = False


    def freeze_bn(net):
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
                m.weight.requires_grad = False
''')


def uri_of(path: Path) -> str:
    return path.resolve().as_uri()


def utf16_offset(text: str, pos: dict) -> int:
    """A code-point offset into `text` from an LSP position in UTF-16 units."""
    lines = source_lines(text)
    offset = sum(len(line) for line in lines[: pos["line"]])
    line = lines[pos["line"]] if pos["line"] < len(lines) else ""
    units = 0
    for i, ch in enumerate(line):
        if units >= pos["character"]:
            return offset + i
        units += 2 if ord(ch) > 0xFFFF else 1
    return offset + len(line.rstrip("\r\n")) if units >= pos["character"] else offset + len(line)


def apply_edits(text: str, edits: list[dict]) -> str:
    spans = sorted(((utf16_offset(text, e["range"]["start"]), utf16_offset(text, e["range"]["end"]), e["newText"])
                    for e in edits), reverse=True)
    for a, b, new in spans:
        text = text[:a] + new + text[b:]
    return text


def edits_of(action: dict, uri: str) -> list[dict]:
    edit = action["edit"]
    if "documentChanges" in edit:
        (change,) = edit["documentChanges"]
        assert change["textDocument"]["uri"] == uri
        return change["edits"]
    return edit["changes"][uri]


def initialize(client: LspClient, root: Path, notebooks: bool = False, debounce_ms: int = 200) -> dict:
    caps: dict = {"workspace": {"workspaceEdit": {"documentChanges": True}},
                  "textDocument": {"codeAction": {"codeActionLiteralSupport": {"codeActionKind": {"valueSet": [
                      "quickfix", "source.fixAll"]}}}, "hover": {"contentFormat": ["markdown"]},
                      "publishDiagnostics": {"versionSupport": True}}}
    if notebooks:
        caps["notebookDocument"] = {"synchronization": {"dynamicRegistration": False}}
    result = client.request("initialize", {"processId": os.getpid(), "rootUri": uri_of(root), "capabilities": caps,
                                           "initializationOptions": {"debounceMs": debounce_ms}})
    client.notify("initialized", {})
    return result


@pytest.fixture
def session(tmp_path):
    clients: list[LspClient] = []

    def start(**kw) -> LspClient:
        c = LspClient(tmp_path, **kw)
        clients.append(c)
        return c

    yield start
    for c in clients:
        c.close()


def test_python_session_over_stdio(tmp_path, session):
    (tmp_path / "pyproject.toml").write_text('[tool.freezelint]\nignore = ["FZ106"]\n')
    path = tmp_path / "train.py"
    path.write_text(TRAIN)
    uri = uri_of(path)
    client = session()
    result = initialize(client, tmp_path)
    caps = result["capabilities"]
    assert result["serverInfo"]["name"] == "freezelint"
    assert caps["hoverProvider"] and "quickfix" in caps["codeActionProvider"]["codeActionKinds"]

    text, version = TRAIN, 1
    client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                            "text": text}})
    diags = client.diagnostics(uri)
    # FZ106 is ignored by the nearest pyproject.toml; the others are found in the unsaved text
    assert sorted((d["code"], d["range"]["start"]["line"]) for d in diags) == [("FZ102", 3), ("FZ203", 9)]
    fz102 = next(d for d in diags if d["code"] == "FZ102")
    # columns in UTF-16 units: the ice cube before the mistake counts twice
    assert fz102["range"]["start"]["character"] == len('tag = "') + 2 + len('"; ')
    assert fz102["severity"] == 1 and fz102["source"] == "freezelint"
    assert "requires_grad_(False)" in fz102["message"]

    hover = client.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": fz102["range"]["start"]})
    assert hover["contents"]["kind"] == "markdown"
    assert hover["contents"]["value"].startswith("# FZ102 requires-grad-on-module")
    assert "## Why is this bad?" in hover["contents"]["value"]
    assert client.request("textDocument/hover", {"textDocument": {"uri": uri},
                                                 "position": {"line": 0, "character": 0}}) is None

    def actions_for(diag: dict) -> list[dict]:
        actions = client.request("textDocument/codeAction", {"textDocument": {"uri": uri}, "range": diag["range"],
                                                             "context": {"diagnostics": [diag]}})
        return [a for a in actions if a["kind"] == "quickfix"]

    fix102, noqa102 = actions_for(fz102)
    assert fix102["kind"] == "quickfix" and fix102["isPreferred"] and "unsafe" not in fix102["title"]
    assert "# noqa: FZ102" in noqa102["title"]
    fz203 = next(d for d in diags if d["code"] == "FZ203")
    fix203, noqa203 = actions_for(fz203)
    assert "unsafe" in fix203["title"] and not fix203["isPreferred"]
    assert "# noqa: FZ203" in noqa203["title"]
    # the safe fix is what `freezelint check --fix` writes
    fixed = apply_edits(text, edits_of(fix102, uri))
    assert fixed == check_text(text, "t.py", frozenset({"FZ102"}), fix="safe").new_text

    # apply the safe fix as an editor does: an incremental change with the action's edits
    changes = [{"range": e["range"], "text": e["newText"]} for e in edits_of(fix102, uri)]
    text, version = fixed, version + 1
    mark = client.mark()
    client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version},
                                             "contentChanges": changes})
    diags = client.diagnostics(uri, after=mark)
    assert [d["code"] for d in diags] == ["FZ203"]

    # suppress the other one with its noqa action (asked again: positions are per version)
    (noqa203,) = [a for a in actions_for(diags[0]) if "noqa" in a["title"]]
    edits = edits_of(noqa203, uri)
    text, version = apply_edits(text, edits), version + 1
    assert "isinstance(m, nn.BatchNorm2d):  # noqa: FZ203\n" in text
    mark = client.mark()
    client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version},
                                             "contentChanges": [{"range": e["range"], "text": e["newText"]}
                                                                for e in edits]})
    assert client.diagnostics(uri, after=mark) == []  # cleared

    # typing: changes in quick succession are checked once, after the pause, at the last version
    mark = client.mark()
    burst = []
    for line in ("model.requires_grad_ = False\n", "m = 1\n", "model.require_grad = False\n"):
        version += 1
        burst.append({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text + line}]})
    client.notify_all("textDocument/didChange", burst)
    diags = client.diagnostics(uri, after=mark)
    assert [d["code"] for d in diags] == ["FZ103"]
    published = [n["params"] for n in client.notifications[mark:] if n["method"] == "textDocument/publishDiagnostics"]
    assert [p["version"] for p in published] == [version]

    # the fix-all source action applies every safe fix, as `--fix` does
    (fix_all,) = client.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": {"start": {"line": 0, "character": 0},
                                                 "end": {"line": 0, "character": 0}},
        "context": {"diagnostics": [], "only": ["source.fixAll"]}})
    assert fix_all["kind"] == "source.fixAll.freezelint"
    # FZ103's rename, then FZ102's call; FZ106 is left alone: the config ignores it
    assert apply_edits(text + "model.require_grad = False\n", edits_of(fix_all, uri)) == \
        text + "model.requires_grad_(False)\n"
    assert "model.training = False\n" in text

    # save checks at once; close clears
    mark = client.mark()
    client.notify("textDocument/didSave", {"textDocument": {"uri": uri}})
    assert [d["code"] for d in client.diagnostics(uri, after=mark)] == ["FZ103"]
    mark = client.mark()
    client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    assert client.diagnostics(uri, after=mark) == []

    assert client.request("shutdown", None) is None
    client.notify("exit", None)
    assert client.proc.wait(timeout=30) == 0


def test_notebook_cells_are_checked_as_one_module(tmp_path, session):
    nb_uri = uri_of(tmp_path / "explore.ipynb")
    cells = [("c1", 2, "import torch.nn as nn\nm = nn.Linear(2, 2)\n"),
             ("c2", 1, "Freeze `m`:"),
             ("c3", 2, "%time x = 1\nm.requires_grad = False\n")]
    cell_uri = {name: f"vscode-notebook-cell:{tmp_path / 'explore.ipynb'}#{name}" for name, _, _ in cells}
    client = session()
    caps = initialize(client, tmp_path, notebooks=True, debounce_ms=0)["capabilities"]
    assert caps["notebookDocumentSync"]["notebookSelector"][0]["cells"] == [{"language": "python"}]
    client.notify("notebookDocument/didOpen", {
        "notebookDocument": {"uri": nb_uri, "notebookType": "jupyter-notebook", "version": 1,
                             "cells": [{"kind": kind, "document": cell_uri[name]} for name, kind, _ in cells]},
        "cellTextDocuments": [{"uri": cell_uri[name], "languageId": "python" if kind == 2 else "markdown",
                               "version": 1, "text": text} for name, kind, text in cells]})
    # `m` is a Module because of cell 1; the magic in cell 3 is skipped; lines count within the cell
    diags = client.diagnostics(cell_uri["c3"])
    assert [(d["code"], d["range"]["start"]) for d in diags] == [("FZ102", {"line": 1, "character": 0})]
    assert client.diagnostics(cell_uri["c1"]) == []

    fix, noqa = client.request("textDocument/codeAction", {"textDocument": {"uri": cell_uri["c3"]},
                                                           "range": diags[0]["range"],
                                                           "context": {"diagnostics": diags}})
    assert apply_edits(cells[2][2], edits_of(noqa, cell_uri["c3"])).endswith(
        "m.requires_grad = False  # noqa: FZ102\n")
    edits = edits_of(fix, cell_uri["c3"])
    assert apply_edits(cells[2][2], edits) == "%time x = 1\nm.requires_grad_(False)\n"
    mark = client.mark()
    client.notify("notebookDocument/didChange", {
        "notebookDocument": {"uri": nb_uri, "version": 2},
        "change": {"cells": {"textContent": [{"document": {"uri": cell_uri["c3"], "version": 2},
                                              "changes": [{"range": e["range"], "text": e["newText"]}
                                                          for e in edits]}]}}})
    assert client.diagnostics(cell_uri["c3"], after=mark) == []

    # a new cell with a mistake is checked with the others; deleting it clears its findings
    c4 = f"vscode-notebook-cell:{tmp_path / 'explore.ipynb'}#c4"
    mark = client.mark()
    client.notify("notebookDocument/didChange", {
        "notebookDocument": {"uri": nb_uri, "version": 3},
        "change": {"cells": {"structure": {
            "array": {"start": 3, "deleteCount": 0, "cells": [{"kind": 2, "document": c4}]},
            "didOpen": [{"uri": c4, "languageId": "python", "version": 1, "text": "m.require_grad = False\n"}]}}}})
    assert [d["code"] for d in client.diagnostics(c4, after=mark)] == ["FZ103"]
    mark = client.mark()
    client.notify("notebookDocument/didChange", {
        "notebookDocument": {"uri": nb_uri, "version": 4},
        "change": {"cells": {"structure": {"array": {"start": 3, "deleteCount": 1}, "didClose": [{"uri": c4}]}}}})
    assert client.diagnostics(c4, after=mark) == []

    mark = client.mark()
    client.notify("notebookDocument/didClose", {"notebookDocument": {"uri": nb_uri},
                                                "cellTextDocuments": [{"uri": u} for u in cell_uri.values()]})
    client.diagnostics(cell_uri["c3"], after=mark)
    assert client.request("shutdown", None) is None
    client.notify("exit", None)
    assert client.proc.wait(timeout=30) == 0


def test_broken_config_is_shown_once_and_defaults_apply(tmp_path, session):
    (tmp_path / "pyproject.toml").write_text('[tool.freezelint]\nselect = ["FZ9"]\n')
    path = tmp_path / "a.py"
    uri = uri_of(path)
    client = session()
    initialize(client, tmp_path, debounce_ms=0)
    client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                            "text": "model.requires_grad_ = False\n"}})
    assert [d["code"] for d in client.diagnostics(uri)] == ["FZ101"]
    shown = client.wait_for("window/showMessage")
    assert "unknown rule selector 'FZ9'" in shown["message"] and "default rules" in shown["message"]
    # excluded files stay silent, as with `freezelint check --force-exclude`
    (tmp_path / "pyproject.toml").write_text('[tool.freezelint]\nextend-exclude = ["legacy/"]\n')
    (tmp_path / "legacy").mkdir()
    (tmp_path / "legacy" / "old.py").write_text("model.requires_grad_ = False\n")
    old = uri_of(tmp_path / "legacy" / "old.py")
    client.notify("textDocument/didOpen", {"textDocument": {"uri": old, "languageId": "python", "version": 1,
                                                            "text": "model.requires_grad_ = False\n"}})
    assert client.diagnostics(old) == []
    assert len([n for n in client.notifications if n["method"] == "window/showMessage"]) == 1
    # an edited pyproject.toml applies from the next check on
    (tmp_path / "pyproject.toml").write_text('[tool.freezelint]\nignore = ["FZ101"]\n')
    mark = client.mark()
    client.notify("textDocument/didSave", {"textDocument": {"uri": uri}})
    assert client.diagnostics(uri, after=mark) == []


def test_without_pygls_one_line_and_exit_2(tmp_path):
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "pygls.py").write_text("raise ImportError(\"No module named 'pygls'\")\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(shim), str(ROOT)])}
    p = subprocess.run([sys.executable, "-m", "freezelint", "server"], capture_output=True, text=True, env=env,
                       timeout=60, stdin=subprocess.DEVNULL)
    assert p.returncode == 2
    assert p.stderr == ("freezelint: error: `freezelint server` needs pygls 2 and lsprotocol: "
                        "pip install 'freezelint[server]'\n")


# --------------------------------------------------------------------- the actions' pieces
FIXABLE = [pytest.param(ex.code, bool(ex.instead and ex.fixed is None), id=f"{r.code}-bad{i}")
           for r in ALL_RULES for i, ex in enumerate(r.bad) if r.code in codes.CATALOGUE and codes.get(r.code).fix]


@pytest.mark.parametrize("source,instead_only", FIXABLE)
def test_each_fix_edit_is_the_fix_check_applies(source, instead_only):
    """A code action's edits are the diagnostic's fix edits: applied as text they give exactly
    what `freezelint check --fix --unsafe-fixes` writes for that one finding."""
    diagnostics = check_text(source, "x.py", ALL, force=True).diagnostics
    fixable = [d for d in diagnostics if d.fix]
    # an example whose correction only its `instead=` shows may offer none (FZ301's partial GAN toggle)
    assert fixable or instead_only
    lines = source_lines(source)

    def at(loc: dict) -> int:
        return sum(len(x) for x in lines[: loc["row"] - 1]) + loc["column"] - 1

    for d in fixable:
        text = source
        for e in sorted(d.fix["edits"], key=lambda e: at(e["location"]), reverse=True):
            text = text[: at(e["location"])] + e["content"] + text[at(e["end_location"]):]
        if sum(x.code == d.code for x in fixable) == 1:
            assert text == check_text(source, "x.py", frozenset({d.code}), fix="unsafe", force=True).new_text


@pytest.mark.parametrize("source,row,expected", [
    ("m.requires_grad_ = False\n", 1, "m.requires_grad_ = False  # noqa: FZ101\n"),
    ("m.requires_grad_ = False   \r\n", 1, "m.requires_grad_ = False  # noqa: FZ101\r\n"),
    ("m.requires_grad_ = False  # noqa: E501\n", 1, "m.requires_grad_ = False  # noqa: E501, FZ101\n"),
    ("m.requires_grad_ = False  # noqa: E501 -- long\n", 1, "m.requires_grad_ = False  # noqa: E501, FZ101 -- long\n"),
    # merged into the list in order, as --add-noqa merges it (not appended after W291)
    ("m.requires_grad_ = False  # noqa: W291\n", 1, "m.requires_grad_ = False  # noqa: FZ101, W291\n"),
    ("m.requires_grad_ = False  # freeze it\n", 1, "m.requires_grad_ = False  # freeze it  # noqa: FZ101\n"),
    ("x = 1\nm.requires_grad_ = (\n    False)\n", 2, "x = 1\nm.requires_grad_ = (  # noqa: FZ101\n    False)\n"),
])
def test_noqa_edit(source, row, expected):
    edit = noqa_edit(source, row, "FZ101")
    assert edit is not None and apply_line_edit(source, edit) == expected
    # the editor's comment is the one `check --add-noqa` writes: one placement, not two
    assert add_noqa.add_to_source(source, {row: {"FZ101"}}).text == expected
    out = check_text(expected, "x.py", ALL, force=True).diagnostics
    assert [d.code for d in out] == [], out  # suppressed, and the suppression is used (no FZ002)


@pytest.mark.parametrize("source,row,code", [
    ('m.requires_grad_ = f("""\n""")\n', 1, "FZ101"),  # the line ends inside a string
    ("m.requires_grad_ = \\\n    False\n", 1, "FZ101"),  # backslash continuation
    ("x = 1\n", 5, "FZ101"),
    ("x = 1  # noqa: FZ101\n", 1, "FZ002"),  # "this suppression is unused" is never suppressed
    ("m.requires_grad_ = False  # freezelint: noqa\n", 1, "FZ101"),  # a blanket one is there already
])
def test_noqa_edit_refuses_where_add_noqa_adds_nothing(source, row, code):
    assert noqa_edit(source, row, code) is None
    assert add_noqa.add_to_source(source, {row: {code}}).text is None


def test_cli_lists_the_server():
    from freezelint.cli import build_parser

    assert "server" in build_parser().format_help()
    assert re.search(r"server\s+run the language server", build_parser().format_help())


def test_a_text_over_the_parse_limit_is_not_checked():
    from freezelint.check.runner import MAX_PARSE_BYTES, too_large
    from freezelint.lsp_support import Checker

    checker = Checker()
    small = "model.requires_grad_ = False\n"
    assert [p.diagnostic.code for p in checker.check_python("k", small, "a.py", ALL).placed] == ["FZ101"]
    big = small + "x = 1  # padding\n" * (MAX_PARSE_BYTES // 17 + 1)
    checked = checker.check_python("k", big, "a.py", ALL)
    # the words `freezelint check` says it in, with the size and how to check it anyway
    assert checked.placed == [] and checked.skipped == too_large(len(big.encode()), MAX_PARSE_BYTES)
    nb = checker.check_notebook([("c1", small), ("c2", big)], "n.ipynb", ALL)
    assert nb.placed == [] and nb.skipped and "its cells'" in nb.skipped
    # the project's max-file-size: a lower one leaves the small text out, 0 checks the big one
    assert checker.check_python("k", small, "a.py", ALL, max_file_size=10).skipped
    assert [p.diagnostic.code for p in checker.check_python("k", big, "a.py", ALL, max_file_size=0).placed] \
        == ["FZ101"]


def test_the_server_holds_a_file_to_its_projects_max_file_size(tmp_path, session):
    (tmp_path / "pyproject.toml").write_text('[tool.freezelint]\nmax-file-size = 40\n')
    uri = uri_of(tmp_path / "train.py")
    client = session()
    initialize(client, tmp_path)
    text = "model.requires_grad_ = False\n" + "x = 1\n" * 10  # 89 bytes
    client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                            "text": text}})
    assert client.diagnostics(uri) == []
    logged = client.wait_for("window/logMessage")
    assert "not checked: 89 bytes is over the max-file-size of 40 bytes" in logged["message"], logged["message"]


@pytest.mark.parametrize("fixture, expected", [("split_bad", ["FZ201"]), ("split_good", [])])
def test_diagnostics_follow_calls_into_other_files_of_the_project(tmp_path, session, fixture, expected):
    # train.py calls engine.train_one_epoch (which calls model.train()) after models.Net.freeze_bn():
    # only the project analysis sees it, so the server checks the editor's text inside its project
    import shutil

    root = tmp_path / fixture
    shutil.copytree(ROOT / "tests" / "projects" / fixture, root)
    path = root / "train.py"
    uri = uri_of(path)
    client = session()
    initialize(client, root, debounce_ms=0)
    client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                            "text": path.read_text()}})
    assert [d["code"] for d in client.diagnostics(uri)] == expected


HELPER = textwrap.dedent('''\
    import torch.nn as nn


    def freeze_bn(model):
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
''')

TRAINER = textwrap.dedent('''\
    import torch
    import torchvision

    from mypkg.freeze import freeze_bn


    def main(loader):
        model = torchvision.models.resnet18(weights=None)
        freeze_bn(model)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
        for epoch in range(3):
            model.train()
            for x, y in loader:
                optimizer.step()
''')


def test_a_workspace_folder_without_pyproject_or_git_roots_the_project(tmp_path, session):
    """No marker above the files: the editor's workspace folder is the project, as `freezelint
    check FOLDER` roots it, so scripts/train.py sees the freeze_bn() of mypkg/ beside it."""
    root = tmp_path / "ws"
    (root / "mypkg").mkdir(parents=True)
    (root / "scripts").mkdir()
    (root / "mypkg" / "__init__.py").write_text("")
    (root / "mypkg" / "freeze.py").write_text(HELPER)
    train = root / "scripts" / "train.py"
    train.write_text(TRAINER)
    assert not any((d / m).exists() for d in (root, *root.parents) for m in ("pyproject.toml", ".git"))
    uri = uri_of(train)
    client = session()
    initialize(client, root, debounce_ms=0)
    client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                            "text": TRAINER}})
    assert [d["code"] for d in client.diagnostics(uri)] == ["FZ201"]


def test_open_dependents_follow_the_helpers_text_as_edited_saved_and_closed(tmp_path, session):
    """train.py imports freeze_bn from the helper: its FZ201 (train() undoes the helper's eval())
    follows the helper's buffer while it is open, its disk text once it is closed."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "mypkg"\n')
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    helper, train = pkg / "freeze.py", pkg / "train.py"
    helper.write_text(HELPER)
    train.write_text(TRAINER)
    h_uri, t_uri = uri_of(helper), uri_of(train)
    client = session()
    initialize(client, tmp_path, debounce_ms=0)
    client.notify("textDocument/didOpen", {"textDocument": {"uri": t_uri, "languageId": "python", "version": 1,
                                                            "text": TRAINER}})
    assert [d["code"] for d in client.diagnostics(t_uri)] == ["FZ201"]
    client.notify("textDocument/didOpen", {"textDocument": {"uri": h_uri, "languageId": "python", "version": 1,
                                                            "text": HELPER}})
    client.diagnostics(h_uri)

    # typed, not saved: train.py is checked again against the helper's buffer
    edited = HELPER.replace("m.eval()", "pass")
    mark = client.mark()
    client.notify("textDocument/didChange", {"textDocument": {"uri": h_uri, "version": 2},
                                             "contentChanges": [{"text": edited}]})
    assert client.diagnostics(t_uri, after=mark) == []
    assert helper.read_text() == HELPER

    # saved: still clean (now from the disk as well)
    helper.write_text(edited)
    mark = client.mark()
    client.notify("textDocument/didSave", {"textDocument": {"uri": h_uri}})
    assert client.diagnostics(t_uri, after=mark) == []

    # the edit undone in the buffer, then the helper closed unsaved: the disk's clean text counts
    mark = client.mark()
    client.notify("textDocument/didChange", {"textDocument": {"uri": h_uri, "version": 3},
                                             "contentChanges": [{"text": HELPER}]})
    assert [d["code"] for d in client.diagnostics(t_uri, after=mark)] == ["FZ201"]
    mark = client.mark()
    client.notify("textDocument/didClose", {"textDocument": {"uri": h_uri}})
    assert client.diagnostics(t_uri, after=mark) == []


def test_a_new_unsaved_file_under_an_excluded_path_stays_silent(tmp_path, session):
    (tmp_path / "pyproject.toml").write_text('[tool.freezelint]\nextend-exclude = ["legacy/"]\n')
    (tmp_path / "legacy").mkdir()
    text = "import torch.nn as nn\nm = nn.Linear(1, 1)\nm.requires_grad = False\n"
    client = session()
    initialize(client, tmp_path, debounce_ms=0)
    for name, expected in (("legacy/new.py", []), ("legacy/sub/newer.py", []), ("kept/new.py", ["FZ102"])):
        uri = uri_of(tmp_path / name)
        assert not (tmp_path / name).exists()
        client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                                "text": text}})
        assert [d["code"] for d in client.diagnostics(uri)] == expected, name
