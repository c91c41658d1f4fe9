"""`freezelint check --add-noqa`: every finding reported gets a `# noqa: CODE` where the checker
reads it, so that the next run is clean (adopting freezelint in an existing codebase, as with
ruff's --add-noqa)."""

from __future__ import annotations

import json
import textwrap

from conftest import ROOT, run_subprocess, write


def src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def test_each_finding_gets_its_code_and_the_next_run_is_clean(cli, tmp_path):
    write(tmp_path / "pyproject.toml", "")
    write(tmp_path / "a.py", """
        import torch.nn as nn
        layer = nn.Linear(2, 2)
        layer.requires_grad = False
        x = 1
    """)
    write(tmp_path / "b.py", "m.requires_grad_ = False\nm.requires_grad_ = False\n")
    write(tmp_path / "clean.py", "y = 2\n")
    r = cli(tmp_path, "check", "--add-noqa", ".")
    assert (r.code, r.out, r.err) == (0, "Added 3 noqa directives to 2 files.\n", "")
    assert (tmp_path / "a.py").read_text().splitlines()[2] == "layer.requires_grad = False  # noqa: FZ102"
    assert (tmp_path / "b.py").read_text() == ("m.requires_grad_ = False  # noqa: FZ101\n"
                                               "m.requires_grad_ = False  # noqa: FZ101\n")
    assert (tmp_path / "clean.py").read_text() == "y = 2\n"
    assert cli(tmp_path, "check", ".").code == 0
    before = {p.name: p.read_bytes() for p in tmp_path.glob("*.py")}
    r = cli(tmp_path, "check", "--add-noqa", ".")  # a second run adds nothing
    assert (r.code, r.out, r.err) == (0, "Added 0 noqa directives to 0 files.\n", "")
    assert {p.name: p.read_bytes() for p in tmp_path.glob("*.py")} == before


def test_codes_of_one_line_share_one_sorted_comment_and_merge_into_an_existing_one(cli, tmp_path):
    write(tmp_path / "a.py", """
        import torch.nn as nn
        u = nn.Linear(2, 2)
        u.requires_grad = False; u.requires_grad_ = True
        u.requires_grad = False; u.requires_grad_ = True  # noqa: FZ102
        u.requires_grad = False; u.requires_grad_ = True  # NOQA:fz102
        u.requires_grad = False  # noqa: E501
        u.requires_grad = False  # noqa: E501, FZ999 kept for now
        u.requires_grad = False  # type: ignore[attr-defined]
        u.requires_grad = False  # noqa: because nothing
        u.requires_grad = False  # noqa
    """)
    r = cli(tmp_path, "check", "--add-noqa", "a.py")
    assert (r.code, r.out) == (0, "Added 8 noqa directives to 1 file.\n")
    assert (tmp_path / "a.py").read_text().splitlines()[2:] == [
        "u.requires_grad = False; u.requires_grad_ = True  # noqa: FZ101, FZ102",
        "u.requires_grad = False; u.requires_grad_ = True  # noqa: FZ101, FZ102",  # merged, not a second comment
        "u.requires_grad = False; u.requires_grad_ = True  # NOQA:FZ101, fz102",
        "u.requires_grad = False  # noqa: E501, FZ102",  # another tool's code stays
        # FZ002 reports the unknown code and is left to say so (the prose kept)
        "u.requires_grad = False  # noqa: E501, FZ102, FZ999 kept for now",
        "u.requires_grad = False  # type: ignore[attr-defined]  # noqa: FZ102",
        "u.requires_grad = False  # noqa: FZ102 because nothing",  # `noqa:` listing nothing suppressed nothing
        "u.requires_grad = False  # noqa",  # a bare noqa already suppresses everything: kept as it is
    ]
    r = cli(tmp_path, "check", "--format", "concise", "a.py")
    assert [line.split(" ")[:2] for line in r.out.splitlines()[:-1]] == [["a.py:7:26:", "FZ002"]]


def test_an_unused_suppression_is_left_and_said_never_suppressed(cli, tmp_path):
    """A stale `# noqa: FZ102` on a clean line is reported by FZ002; adding FZ002 to that comment would
    hide the useless suppression behind a second one (ruff's --add-noqa skips its unused-noqa rule)."""
    write(tmp_path / "a.py", """
        import torch.nn as nn
        model = nn.Linear(2, 2)
        x = 1  # noqa: FZ102
        model.requires_grad = False
        model.requires_grad = False  # noqa: FZ101
    """)
    r = cli(tmp_path, "check", "--add-noqa", "a.py")
    assert (r.code, r.out) == (0, "Added 2 noqa directives to 1 file.\n")
    assert r.err == (
        "freezelint: a.py:3: FZ002 left as it is: FZ002 is never suppressed: remove the suppression it reports, "
        "move it to its finding's line, or correct its code\n"
        "freezelint: a.py:5: FZ002 left as it is: FZ002 is never suppressed: remove the suppression it reports, "
        "move it to its finding's line, or correct its code\n")
    assert (tmp_path / "a.py").read_text().splitlines()[2:] == [
        "x = 1  # noqa: FZ102",
        "model.requires_grad = False  # noqa: FZ102",
        "model.requires_grad = False  # noqa: FZ101, FZ102",  # the real finding's code merged, FZ002 not
    ]
    r = cli(tmp_path, "check", "--format", "concise", "a.py")
    assert [line.split(" ")[:2] for line in r.out.splitlines()[:-1]] == [["a.py:3:8:", "FZ002"],
                                                                         ["a.py:5:30:", "FZ002"]]


def test_a_multi_line_statement_gets_the_comment_on_the_row_the_checker_reads(cli, tmp_path):
    """FZ301 is reported on `model.parameters()`, inside the call: the comment goes on that row (a
    comment after the closing parenthesis suppresses nothing, FZ002 says). The freeze is a helper's
    of another file: add-noqa sees what the project analysis reports."""
    write(tmp_path / "pyproject.toml", "")
    write(tmp_path / "helpers.py", """
        def freeze_backbone(m):
            for p in m.parameters():
                p.requires_grad = False
    """)
    write(tmp_path / "train.py", """
        import torch
        import torch.nn as nn
        from helpers import freeze_backbone

        model = nn.Linear(2, 2)
        freeze_backbone(model)
        opt = torch.optim.AdamW(
            model.parameters(),
            lr=0.1,
        )
        opt2 = torch.optim.AdamW(
            model.parameters(),
            lr=0.1,
        )  # noqa: FZ301
    """)
    before = cli(tmp_path, "check", "--format", "json", "train.py")
    assert [(f["code"], f["location"]["row"]) for f in json.loads(before.out)] == \
        [("FZ301", 8), ("FZ301", 12), ("FZ002", 14)]
    r = cli(tmp_path, "check", "--add-noqa", ".")
    assert (r.code, r.out) == (0, "Added 2 noqa directives to 1 file.\n")
    assert r.err.startswith("freezelint: train.py:14: FZ002 left as it is: FZ002 is never suppressed")
    lines = (tmp_path / "train.py").read_text().splitlines()
    assert lines[7] == "    model.parameters(),  # noqa: FZ301"
    assert lines[11] == "    model.parameters(),  # noqa: FZ301"
    assert lines[13] == ")  # noqa: FZ301"  # misplaced: left for its author to remove, not suppressed by FZ002
    after = cli(tmp_path, "check", "--format", "json", "train.py")
    assert [(f["code"], f["location"]["row"]) for f in json.loads(after.out)] == [("FZ002", 14)]


def test_a_line_that_cannot_take_a_comment_is_left_and_said(cli, tmp_path):
    write(tmp_path / "a.py", '''
        import torch.nn as nn
        s = nn.Linear(2, 2)
        s.requires_grad = False or """
        """
        s.requires_grad = False or \\
            False
        s.requires_grad = False
    ''')
    r = cli(tmp_path, "check", "--add-noqa", "a.py")
    assert r.code == 0 and r.out == "Added 1 noqa directive to 1 file.\n"
    assert r.err == (
        "freezelint: a.py:3: FZ102 left as it is: the line ends inside a string, where a comment cannot go: "
        "fix it, or suppress it by hand\n"
        "freezelint: a.py:5: FZ102 left as it is: the line ends in a backslash continuation, where a comment "
        "cannot go: fix it, or suppress it by hand\n")
    lines = (tmp_path / "a.py").read_text().splitlines()
    assert lines[2:6] == ['s.requires_grad = False or """', '"""', "s.requires_grad = False or \\", "    False"]
    assert lines[6] == "s.requires_grad = False  # noqa: FZ102"
    r = cli(tmp_path, "check", "--format", "concise", "a.py")
    assert [line.split(" ")[0] for line in r.out.splitlines()[:2]] == ["a.py:3:1:", "a.py:5:1:"]


def test_crlf_latin1_and_bom_files_keep_their_bytes(tmp_path):
    """Run as a subprocess: bytes in, bytes out. Only the comments are new."""
    write(tmp_path / "pyproject.toml", "")
    latin = ("# -*- coding: latin-1 -*-\r\nimport torch.nn as nn\r\n# caf\xe9\r\nm = nn.Linear(2, 2)\r\n"
             "m.requires_grad = False  # r\xe9gl\xe9\r\nm.requires_grad_ = True\r\n")
    (tmp_path / "latin.py").write_bytes(latin.encode("latin-1"))
    bom = "import torch.nn as nn\nm = nn.Linear(2, 2)\nm.requires_grad = False  # é\n"
    (tmp_path / "bom.py").write_bytes(b"\xef\xbb\xbf" + bom.encode("utf-8"))
    r = run_subprocess(tmp_path, "check", "--no-cache", "--add-noqa", ".")
    assert (r.code, r.out, r.err) == (0, "Added 3 noqa directives to 2 files.\n", "")
    assert (tmp_path / "latin.py").read_bytes() == latin.replace(
        "r\xe9gl\xe9\r\n", "r\xe9gl\xe9  # noqa: FZ102\r\n").replace(
        "= True\r\n", "= True  # noqa: FZ101\r\n").encode("latin-1")
    assert (tmp_path / "bom.py").read_bytes() == b"\xef\xbb\xbf" + bom.replace(
        "# é\n", "# é  # noqa: FZ102\n").encode("utf-8")
    assert run_subprocess(tmp_path, "check", "--no-cache", ".").code == 0
    r = run_subprocess(tmp_path, "check", "--no-cache", "--add-noqa", ".")
    assert r.out == "Added 0 noqa directives to 0 files.\n"


def test_only_what_is_reported_after_selection_and_per_file_ignores(cli, tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.freezelint]\nper-file-ignores = { "tests/*" = ["FZ101"] }\n')
    line = "m.requires_grad_ = False; m.requires_grad = False\n"
    write(tmp_path / "tests" / "t.py", "import torch.nn as nn\nm = nn.Linear(2, 2)\n" + line)
    write(tmp_path / "a.py", "import torch.nn as nn\nm = nn.Linear(2, 2)\n" + line)
    r = cli(tmp_path, "check", "--add-noqa", "--ignore", "FZ102", ".")
    assert r.out == "Added 1 noqa directive to 1 file.\n"
    assert (tmp_path / "a.py").read_text().endswith(line.rstrip() + "  # noqa: FZ101\n")
    assert (tmp_path / "tests" / "t.py").read_text().endswith(line)


def test_a_blanket_or_file_level_suppression_that_suppresses_nothing_is_left_and_said(cli, tmp_path):
    write(tmp_path / "a.py", """
        # freezelint: noqa: FZ104
        x = 1  # freezelint: noqa
    """)
    r = cli(tmp_path, "check", "--add-noqa", "a.py")
    assert r.out == "Added 0 noqa directives to 0 files.\n"
    assert r.err == (
        "freezelint: a.py:1: FZ002 left as it is: FZ002: its file-level suppression names a code with no finding; "
        "remove that code (a code added there would cover the whole file)\n"
        "freezelint: a.py:2: FZ002 left as it is: FZ002: its blanket `# freezelint: noqa` suppresses nothing; "
        "remove it\n")
    assert (tmp_path / "a.py").read_text() == "# freezelint: noqa: FZ104\nx = 1  # freezelint: noqa\n"


def test_a_file_that_does_not_parse_is_left_and_said(cli, tmp_path):
    write(tmp_path / "a.py", "m.requires_grad_ = False\n")
    write(tmp_path / "broken.py", "m.requires_grad_ = (\n")
    r = cli(tmp_path, "check", "--add-noqa", "--select", "ALL", ".")
    assert r.code == 0 and r.out == "Added 1 noqa directive to 1 file.\n"
    assert r.err.startswith("freezelint: broken.py:1:") and r.err.count("\n") == 1
    assert r.err.rstrip().endswith(": no noqa added to a file that does not parse")
    assert (tmp_path / "broken.py").read_text() == "m.requires_grad_ = (\n"


def test_notebook_cells_get_their_comments(cli, tmp_path):
    nb = tmp_path / "probe.ipynb"
    nb.write_bytes((ROOT / "examples" / "linear_probe.ipynb").read_bytes())
    r = cli(tmp_path, "check", "--add-noqa", "probe.ipynb")
    assert (r.code, r.out, r.err) == (0, "Added 2 noqa directives to 1 file.\n", "")
    cells = ["".join(c["source"]) for c in json.loads(nb.read_text())["cells"]]
    assert "model.requires_grad = False  # noqa: FZ102\n" in cells[2]
    assert cells[3].endswith("        p.requires_grad_ = True  # noqa: FZ101")
    assert "!nvidia-smi\n" in cells[3]  # the magic stays
    assert cli(tmp_path, "check", "probe.ipynb").code == 0


def test_add_noqa_with_fix_diff_or_stdin_is_a_usage_error(cli, tmp_path):
    write(tmp_path / "a.py", "m.requires_grad_ = False\n")
    for args, said in ((["--fix"], "--add-noqa cannot be combined with --fix: run --fix first, then --add-noqa"),
                       (["--diff"], "--add-noqa cannot be combined with --diff: run --diff first, then --add-noqa"),
                       (["-"], "--add-noqa edits files in place: it cannot read stdin (`-`)")):
        r = cli(tmp_path, "check", "--add-noqa", *args, *([] if args == ["-"] else ["a.py"]))
        assert (r.code, r.out, r.err) == (2, "", f"freezelint: error: {said}\n")
    assert (tmp_path / "a.py").read_text() == "m.requires_grad_ = False\n"


def test_a_link_and_its_target_get_one_comment(cli, tmp_path):
    write(tmp_path / "a.py", "m.requires_grad_ = False\n")
    (tmp_path / "b.py").symlink_to(tmp_path / "a.py")
    r = cli(tmp_path, "check", "--add-noqa", "--no-cache", ".")
    assert r.out == "Added 1 noqa directive to 1 file.\n"
    assert (tmp_path / "a.py").read_text() == "m.requires_grad_ = False  # noqa: FZ101\n"
    assert (tmp_path / "b.py").is_symlink()


def test_help_says_what_add_noqa_does():
    r = run_subprocess(ROOT, "check", "--help")
    assert "--add-noqa" in r.out and "--stdin-filename" in r.out


def test_merged_lists_keep_the_comment_as_written():
    from freezelint.check.add_noqa import add_to_source

    def added(line: str, *codes: str) -> str:
        return add_to_source(line, {1: set(codes)}).text

    assert added("m.requires_grad_ = False  # noqa:\n", "FZ101") == "m.requires_grad_ = False  # noqa: FZ101\n"
    assert added("m.requires_grad_ = False  # noqa:E501\r", "FZ101") == "m.requires_grad_ = False  # noqa:E501, FZ101\r"
    assert added("m.requires_grad_ = False  # noqa: E501  # pragma: no cover\n", "FZ101") == \
        "m.requires_grad_ = False  # noqa: E501, FZ101  # pragma: no cover\n"
    assert added("m.requires_grad_ = False  # noqa: FZ102. see #12\n", "FZ101") == \
        "m.requires_grad_ = False  # noqa: FZ101, FZ102. see #12\n"
    assert add_to_source("if x:\n\tm.requires_grad_ = False\t# hi   \n", {2: {"FZ101"}}).text == \
        "if x:\n\tm.requires_grad_ = False\t# hi  # noqa: FZ101\n"
    assert added("m.requires_grad_ = False", "FZ101") == "m.requires_grad_ = False  # noqa: FZ101"  # no last newline
