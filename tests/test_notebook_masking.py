"""Notebook magic masking: only logical-line starts are magics; a cell masking cannot save is
left out, never reported as the notebook's syntax error (issue 18 point 6)."""

from __future__ import annotations

import json

from freezelint.check import notebook


def _nb(tmp_path, *sources: str):
    cells = [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
              "source": src.splitlines(keepends=True)} for src in sources]
    (tmp_path / "nb.ipynb").write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4,
                                                   "nbformat_minor": 5}))


def _codes(cli, tmp_path) -> list[str]:
    r = cli(tmp_path, "check", "--format", "json", "nb.ipynb")
    return [f"{d['code']} cell {d['cell']}:{d['location']['row']}" for d in json.loads(r.out)]


def test_continuation_line_starting_with_not_equal_is_code(cli, tmp_path):
    _nb(tmp_path, "same = (a\n        != b)\nm.requires_grad_ = False\n")
    assert _codes(cli, tmp_path) == ["FZ101 cell 1:3"]


def test_continuation_line_starting_with_percent_or_bang_is_code(cli, tmp_path):
    _nb(tmp_path, "total = [x\n    % 3 for x in y]\nok = f(a\n  != b)\n"
                  "s = '''\n%not a magic\n'''\nt = 1 \\\n    % 2\nm.requires_grad_ = False\n")
    assert _codes(cli, tmp_path) == ["FZ101 cell 1:10"]


def test_magics_at_logical_line_starts_are_still_masked(cli, tmp_path):
    _nb(tmp_path, "x = (1,\n     2)\n%time y = 3\nfiles = !ls\nif x:\n    !echo hi\nm.requires_grad_ = False\n")
    assert _codes(cli, tmp_path) == ["FZ101 cell 1:7"]


def test_cell_that_masking_cannot_save_is_left_out_not_a_syntax_error(cli, tmp_path):
    # A line magic whose Python argument runs on: the rest of the cell cannot parse alone.
    _nb(tmp_path, "%timeit y = (1 +\n    2)\n", "m.requires_grad_ = False\n")
    assert _codes(cli, tmp_path) == ["FZ101 cell 2:1"]


def test_cell_without_magics_that_does_not_parse_is_still_fz001(cli, tmp_path):
    _nb(tmp_path, "x = (\n", "m.requires_grad_ = False\n")
    assert [c.split(" ")[0] for c in _codes(cli, tmp_path)] == ["FZ001"]


def test_masking_keeps_rows_and_fixes_leave_masked_lines_alone(cli, tmp_path):
    _nb(tmp_path, "same = (a\n        != b)\n!pip list\nm.requires_grad_ = False\n")
    nb = notebook.load((tmp_path / "nb.ipynb").read_text())
    assert nb.cells[0].masked == [False, False, True, False]
    assert nb.source.splitlines() == ["same = (a", "        != b)", "pass", "m.requires_grad_ = False"]
    # `m` is of unknown kind, so its fix is unsafe (issue 18 point 5)
    r = cli(tmp_path, "check", "--fix", "--unsafe-fixes", "nb.ipynb")
    assert r.code == 0, r.out + r.err
    src = json.loads((tmp_path / "nb.ipynb").read_text())["cells"][0]["source"]
    assert src == ["same = (a\n", "        != b)\n", "!pip list\n", "m.requires_grad_(False)\n"]
