"""`freezelint check -`: one file's source from stdin (editors, `git show HEAD:train.py | freezelint
check - --stdin-filename train.py`), checked as the file `--stdin-filename` names: its config,
per-file-ignores and project, whose analysis reads the source in place of the file on disk."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import Result, write

BAD = b"import torch.nn as nn\nlayer = nn.Linear(2, 2)\nlayer.requires_grad = False\n"
FIXED = b"import torch.nn as nn\nlayer = nn.Linear(2, 2)\nlayer.requires_grad_(False)\n"


def stdin_cli(cwd: Path, data: bytes, *args: str) -> tuple[Result, bytes]:
    """The CLI as a subprocess, bytes on stdin: (the result with text streams, stdout's bytes)."""
    p = subprocess.run([sys.executable, "-m", "freezelint", "check", "--no-cache", *args], cwd=cwd, input=data,
                       capture_output=True, env={**os.environ, "NO_COLOR": "1"}, timeout=120)
    out = p.stdout.decode("utf-8", "replace")
    return Result(p.returncode, out, p.stderr.decode("utf-8", "replace")), p.stdout


def test_dash_reads_the_source_from_stdin(tmp_path):
    r, _ = stdin_cli(tmp_path, BAD, "--format", "concise", "-")
    assert r.code == 1 and r.out.startswith("-:3:1: FZ102 ") and r.err == ""
    r, _ = stdin_cli(tmp_path, b"x = 1\n", "-")
    assert (r.code, r.err) == (0, "") and "All checks passed" in r.out


def test_stdin_filename_names_it_and_picks_its_config_and_per_file_ignores(tmp_path):
    write(tmp_path / "proj" / "pyproject.toml", '[tool.freezelint]\nper-file-ignores = { "scripts/*" = ["FZ102"] }\n')
    r, _ = stdin_cli(tmp_path, BAD, "--format", "concise", "-", "--stdin-filename", "proj/train.py")
    assert r.code == 1 and r.out.startswith("proj/train.py:3:1: FZ102 ")
    r, _ = stdin_cli(tmp_path, BAD, "--format", "concise", "-", "--stdin-filename", "proj/scripts/train.py")
    assert r.code == 0  # proj's per-file-ignores, found from the name (the file need not exist)
    r, _ = stdin_cli(tmp_path, BAD, "--format", "concise", "--stdin-filename", "proj/train.py")
    assert r.code == 1 and r.out.startswith("proj/train.py:3:1:")  # no path: stdin, as ruff reads it


def test_force_exclude_leaves_an_excluded_name_unchecked_and_fix_hands_it_back(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.freezelint]\nextend-exclude = ["legacy/"]\n')
    r, _ = stdin_cli(tmp_path, BAD, "--force-exclude", "-", "--stdin-filename", "legacy/a.py")
    assert r.code == 0 and r.err == ("freezelint: warning: --stdin-filename names an excluded file "
                                     "(--force-exclude): nothing was checked\n")
    r, out = stdin_cli(tmp_path, BAD, "--fix", "--force-exclude", "-", "--stdin-filename", "legacy/a.py")
    assert (r.code, out) == (0, BAD)
    r, _ = stdin_cli(tmp_path, BAD, "-", "--stdin-filename", "legacy/a.py")
    assert r.code == 1  # named explicitly, as a file path is, it is checked without --force-exclude


def test_fix_prints_the_fixed_source_in_its_own_bytes_and_the_report_to_stderr(tmp_path):
    source = ("# -*- coding: latin-1 -*-\r\nimport torch.nn as nn\r\nlayer = nn.Linear(2, 2)  # caf\xe9\r\n"
              "layer.requires_grad = False\r\nlayer.requires_grad_ = True\r\n")
    r, out = stdin_cli(tmp_path, source.encode("latin-1"), "--fix", "-", "--stdin-filename", "t.py")
    assert out == source.replace("layer.requires_grad = False", "layer.requires_grad_(False)").replace(
        "layer.requires_grad_ = True", "layer.requires_grad_(True)").encode("latin-1")
    assert r.code == 0 and "Fixed 2 findings" in r.err
    r, out = stdin_cli(tmp_path, b"\xef\xbb\xbf" + BAD, "--fix", "-")
    assert (r.code, out) == (0, b"\xef\xbb\xbf" + FIXED)
    r, out = stdin_cli(tmp_path, BAD, "--fix", "-o", "report.txt", "-")
    assert (r.code, out, r.err) == (0, FIXED, "") and "Fixed 1 finding" in (tmp_path / "report.txt").read_text()


def test_fix_hands_back_what_it_cannot_fix_unchanged(tmp_path):
    for data in (b"x = (\n", b"x = 1\n", b"# caf\xe9\nm.requires_grad_ = False\n"):
        r, out = stdin_cli(tmp_path, data, "--fix", "--select", "ALL", "-", "--stdin-filename", "a.py")
        assert out == data, data
        assert r.code == (0 if data == b"x = 1\n" else 1)
        assert r.err.count(": FZ001 ") == (0 if data == b"x = 1\n" else 1)


def test_diff_prints_the_diff(tmp_path):
    r, out = stdin_cli(tmp_path, BAD, "--diff", "-", "--stdin-filename", "train.py")
    assert r.code == 1
    assert out.decode().startswith("--- a/train.py\n+++ b/train.py\n@@ -1,3 +1,3 @@\n")
    assert "-layer.requires_grad = False\n+layer.requires_grad_(False)\n" in out.decode()


def test_undecodable_input_and_syntax_errors_read_as_for_files(tmp_path):
    for data in (b"# caf\xe9\nm.requires_grad_ = False\n", b"m.requires_grad_ = (\n", b"x = (\n",
                 b"# -*- coding: nope -*-\nx = 1\n"):
        (tmp_path / "a.py").write_bytes(data)
        from_file, _ = stdin_cli(tmp_path, b"", "--select", "ALL", "--format", "concise", "a.py")
        (tmp_path / "a.py").write_bytes(b"")
        from_stdin, _ = stdin_cli(tmp_path, data, "--select", "ALL", "--format", "concise", "-", "--stdin-filename",
                                  "a.py")
        assert from_stdin == from_file, data
        assert from_file.code == 1 and from_file.out.count("FZ001") == 1


def test_the_project_analysis_reads_the_stdin_source_in_place_of_the_file(tmp_path):
    """train.py on disk is an old version; the source on stdin calls a helper of another file that
    freezes, then builds AdamW over every parameter (FZ301), and its own `freeze`, which that
    helper calls back, freezes only on stdin: the project analysis must read it there."""
    write(tmp_path / "pyproject.toml", "")
    write(tmp_path / "helpers.py", """
        from train import freeze


        def setup(m):
            freeze(m)


        def freeze_backbone(m):
            for p in m.parameters():
                p.requires_grad = False
    """)
    new = (b"import torch\nimport torch.nn as nn\nfrom helpers import setup\n\n\ndef freeze(m):\n"
           b"    for p in m.parameters():\n        p.requires_grad = False\n\n\n"
           b"model = nn.Linear(2, 2)\nsetup(model)\nopt = torch.optim.AdamW(model.parameters(), lr=0.1)\n")
    old = new.replace(b"p.requires_grad = False", b"pass")
    (tmp_path / "train.py").write_bytes(old)
    r, _ = stdin_cli(tmp_path, new, "--format", "concise", "-", "--stdin-filename", "train.py")
    assert r.code == 1 and r.out.startswith("train.py:13:25: FZ301 AdamW gets every parameter of `model` while "
                                            "`setup(...)` freezes parameters of `model`")
    r, _ = stdin_cli(tmp_path, b"", "--format", "concise", "train.py")
    assert r.code == 0  # the file on disk: its freeze does nothing
    helper = (b"import torch\nimport torch.nn as nn\nfrom helpers import freeze_backbone\n\n"
              b"model = nn.Linear(2, 2)\nfreeze_backbone(model)\nopt = torch.optim.AdamW(\n"
              b"    model.parameters(),\n    lr=0.1,\n)\n")
    r, _ = stdin_cli(tmp_path, helper, "--format", "concise", "-", "--stdin-filename", "train.py")
    assert r.code == 1 and r.out.startswith("train.py:8:5: FZ301 ")


def test_stdin_usage_errors_are_one_line(tmp_path):
    write(tmp_path / "a.py", "x = 1\n")
    for args, said in ((["-", "a.py"], "`-` (stdin) is checked alone: give it as the only path"),
                       (["--stdin-filename", "b.py", "a.py"],
                        "--stdin-filename names the source read from stdin: give `-` as the only path")):
        r, _ = stdin_cli(tmp_path, BAD, *args)
        assert (r.code, r.out, r.err) == (2, "", f"freezelint: error: {said}\n")


def test_a_notebook_named_by_stdin_filename_is_checked_and_fixed_by_cells(tmp_path):
    from conftest import ROOT

    data = (ROOT / "examples" / "linear_probe.ipynb").read_bytes()
    r, _ = stdin_cli(tmp_path, data, "--format", "concise", "-", "--stdin-filename", "nb.ipynb")
    assert r.code == 1 and r.out.startswith("nb.ipynb:cell 3:2:1: FZ102 ")
    r, out = stdin_cli(tmp_path, data, "--fix", "-", "--stdin-filename", "nb.ipynb")
    assert r.code == 0 and out == data.replace(b'"model.requires_grad = False\\n"', b'"model.requires_grad_(False)\\n"') \
        .replace(b'p.requires_grad_ = True"', b'p.requires_grad_(True)"')


def test_the_report_shows_the_lines_of_the_source_read_not_of_the_file_on_disk(tmp_path):
    write(tmp_path / "train.py", "import torch.nn as nn\nlayer = nn.Linear(2, 2)\nx = 1  # the version on disk\n")
    r, _ = stdin_cli(tmp_path, BAD, "-", "--stdin-filename", "train.py")
    assert r.code == 1 and "3 | layer.requires_grad = False\n" in r.out and "on disk" not in r.out
    r, _ = stdin_cli(tmp_path, BAD, "-")  # no file of that name at all
    assert "3 | layer.requires_grad = False\n" in r.out
    loaded = BAD + b"layer.load_state_dict({}, strict=False)\n"
    r, out = stdin_cli(tmp_path, loaded, "--fix", "-", "--stdin-filename", "train.py")
    assert out == FIXED + b"layer.load_state_dict({}, strict=False)\n"
    assert "4 | layer.load_state_dict({}, strict=False)\n" in r.err  # what is left, in the source handed back


def test_a_notebook_from_stdin_is_pointed_at_in_its_own_lines_by_github_sarif_and_junit(tmp_path):
    import json

    cell = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
            "source": ["import torch.nn as nn\n", "layer = nn.Linear(2, 2)\n", "layer.requires_grad = False\n"]}
    notebook = json.dumps({"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# notes\n"]}, cell],
                           "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1).encode()
    line = next(i for i, text in enumerate(notebook.decode().splitlines(), 1) if "requires_grad = False" in text)
    write(tmp_path / "nb.ipynb", json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    for name in ("nb.ipynb", "new.ipynb"):  # another version on disk, or none
        r, _ = stdin_cli(tmp_path, notebook, "--format", "github", "-", "--stdin-filename", name)
        assert r.code == 1 and f"file={name},line={line}::{name}:cell 2:3:1: FZ102" in r.out, r.out
        r, _ = stdin_cli(tmp_path, notebook, "--format", "sarif", "-", "--stdin-filename", name)
        assert json.loads(r.out)["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"] == {
            "startLine": line}
        r, _ = stdin_cli(tmp_path, notebook, "--format", "junit", "-", "--stdin-filename", name)
        assert f'line="{line}"' in r.out
