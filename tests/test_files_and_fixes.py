"""Notebooks, encodings and line endings under --fix, atomic writes, cache, process pool,
and the pre-commit hook entry."""

from __future__ import annotations

import json
import re
import shlex
import stat

import pytest

from conftest import BAD_MODULE, ROOT, run_subprocess, write

NB_BAD = ROOT / "examples" / "linear_probe.ipynb"
NB_FIXED = ROOT / "examples" / "linear_probe_fixed.ipynb"


def test_notebook_locations_and_json_cell_field(cli, tmp_path):
    (tmp_path / "nb.ipynb").write_bytes(NB_BAD.read_bytes())
    r = cli(tmp_path, "check", "--format", "json", "nb.ipynb")
    data = json.loads(r.out)
    assert [(d["code"], d["cell"], d["location"]["row"]) for d in data] == [("FZ102", 3, 2), ("FZ101", 4, 4)]
    r = cli(tmp_path, "check", "--format", "concise", "nb.ipynb")
    assert "nb.ipynb:cell 3:2:1: FZ102" in r.out


def test_notebook_findings_point_at_lines_of_the_ipynb_in_github_sarif_and_junit(cli, tmp_path):
    """Those formats read a row as a line of the file: the .ipynb line holding the cell's line,
    the cell and the place in it carried beside."""
    from xml.etree import ElementTree as ET

    (tmp_path / "nb.ipynb").write_bytes(NB_BAD.read_bytes())
    lines = NB_BAD.read_text().splitlines()
    wanted = {"FZ102": '"model.requires_grad = False\\n",', "FZ101": '"        p.requires_grad_ = True"'}

    gh = cli(tmp_path, "check", "--format", "github", "nb.ipynb").out.splitlines()
    for line in gh:
        code = re.search(r"\(FZ(\d+)\)", line).group(0)[1:-1]
        n = int(re.search(r",line=(\d+)::", line).group(1))
        assert lines[n - 1].strip() == wanted[code] and ",col=" not in line
        assert line.count("cell ") == 1 and "::nb.ipynb:cell " in line  # the location has it, once
    sarif = json.loads(cli(tmp_path, "check", "--format", "sarif", "nb.ipynb").out)
    for res in sarif["runs"][0]["results"]:
        n = res["locations"][0]["physicalLocation"]["region"]["startLine"]
        assert lines[n - 1].strip() == wanted[res["ruleId"]]
    assert [(r["properties"]["notebookCell"], r["properties"]["cellRegion"]["startLine"])
            for r in sarif["runs"][0]["results"]] == [(3, 2), (4, 4)]
    junit = ET.fromstring(cli(tmp_path, "check", "--format", "junit", "nb.ipynb").out)
    cases = {c.find("failure").get("type"): int(c.get("line")) for c in junit.iter("testcase")}
    assert {code: lines[n - 1].strip() for code, n in cases.items()} == wanted

    # one-line JSON, each source one string: everything is on line 1
    data = json.loads(NB_BAD.read_text())
    for cell in data["cells"]:
        cell["source"] = "".join(cell["source"])
    (tmp_path / "nb.ipynb").write_text(json.dumps(data))
    gh = cli(tmp_path, "check", "--format", "github", "nb.ipynb").out.splitlines()
    assert len(gh) == 2 and all(",line=1::" in line for line in gh)


def test_notebook_fix_rewrites_only_changed_cells(cli, tmp_path):
    nb = tmp_path / "nb.ipynb"
    nb.write_bytes(NB_BAD.read_bytes())
    r = cli(tmp_path, "check", "--fix", "nb.ipynb")
    assert r.code == 0
    assert nb.read_text() == NB_FIXED.read_text()  # byte-identical to the hand-fixed twin
    before = json.loads(NB_BAD.read_text())
    after = json.loads(nb.read_text())
    assert after["cells"][1] == before["cells"][1]  # magic cell untouched
    assert after["metadata"] == before["metadata"]


def test_notebook_magics_and_cell_magics_are_skipped(cli, tmp_path):
    cells = [
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
         "source": ["%%bash\n", "echo model.requires_grad_ = False\n"]},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
         "source": ["files = !ls\n", "model?\n", "if True:\n", "    %time x = 1\n",
                    "m.requires_grad_ = False\n"]},
        {"cell_type": "raw", "metadata": {}, "source": "m.requires_grad_ = False"},
    ]
    (tmp_path / "nb.ipynb").write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4,
                                                   "nbformat_minor": 5}))
    r = cli(tmp_path, "check", "--format", "concise", "--quiet", "nb.ipynb")
    # no [*]: the fix is unsafe on `m`, whose kind is unknown
    assert r.out.splitlines() == ["nb.ipynb:cell 2:5:1: FZ101 `m.requires_grad_ = False` replaces the "
                                  "method with a value and freezes nothing; call `m.requires_grad_(False)`"]


def test_bad_notebooks_are_fz001_and_run_goes_on(cli, tmp_path):
    (tmp_path / "a.ipynb").write_text("{not json")
    (tmp_path / "b.ipynb").write_text('{"metadata": {}}')
    write(tmp_path / "c.py", BAD_MODULE)
    r = cli(tmp_path, "check", "--format", "concise", "--quiet", ".")
    lines = r.out.splitlines()
    assert lines[0].startswith("a.ipynb:1:1: FZ001 invalid notebook JSON")
    assert lines[1] == "b.ipynb:1:1: FZ001 not a notebook: no `cells` list"
    assert lines[2].startswith("c.py:3:1: FZ102")


def test_fix_keeps_encoding_bom_and_line_endings(cli, tmp_path):
    latin = "# -*- coding: latin-1 -*-\n# café\nm.requires_grad_ = False\n".encode("latin-1")
    bom = b"\xef\xbb\xbf" + b"m.requires_grad_ = False\r\nx = 1\r\n"
    mixed = b"a = 1\r\nm.requires_grad_ = False\nb = 2\r\n\tc = [\r\n]\n"
    (tmp_path / "latin.py").write_bytes(latin)
    (tmp_path / "bom.py").write_bytes(bom)
    (tmp_path / "mixed.py").write_bytes(mixed)
    r = cli(tmp_path, "check", "--fix", "--unsafe-fixes", "latin.py", "bom.py", "mixed.py")  # `m`: unknown kind
    assert (tmp_path / "latin.py").read_bytes() == latin.replace(b"m.requires_grad_ = False",
                                                                 b"m.requires_grad_(False)")
    assert (tmp_path / "bom.py").read_bytes() == bom.replace(b"m.requires_grad_ = False", b"m.requires_grad_(False)")
    # mixed.py has a syntax error (tab-indented line): it is reported and never touched
    assert (tmp_path / "mixed.py").read_bytes() == mixed
    assert "mixed.py:4" in r.out and "FZ001" in r.out


def test_fix_keeps_mixed_line_endings_byte_for_byte(cli, tmp_path):
    mixed = b"a = 1\r\nm.requires_grad_ = False\nb = 2\r\nc = 3\n"
    (tmp_path / "m.py").write_bytes(mixed)
    cli(tmp_path, "check", "--fix", "--unsafe-fixes", "m.py")  # `m` is of unknown kind
    assert (tmp_path / "m.py").read_bytes() == mixed.replace(b"m.requires_grad_ = False", b"m.requires_grad_(False)")


def test_fix_keeps_an_old_mac_files_cr_line_ends_to_the_last_one(cli, tmp_path):
    """A CR-only file: libcst's code of it drops the last "\r"; the fix must not."""
    cr = b"from torch import nn\rm = nn.Linear(2, 2)\rm.requires_grad = False\rprint(m)\r"
    (tmp_path / "cr.py").write_bytes(cr)
    cli(tmp_path, "check", "--fix", "cr.py")
    assert (tmp_path / "cr.py").read_bytes() == cr.replace(b"m.requires_grad = False", b"m.requires_grad_(False)")


def test_fix_keeps_permissions(cli, tmp_path):
    f = write(tmp_path / "run.py", BAD_MODULE)
    f.chmod(0o751)
    cli(tmp_path, "check", "--fix", "run.py")
    assert stat.S_IMODE(f.stat().st_mode) == 0o751
    assert "requires_grad_(False)" in f.read_text()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".run.py")] == []


def test_fix_and_add_noqa_leave_a_read_only_file_as_it_is(cli, tmp_path):
    f = write(tmp_path / "ro.py", BAD_MODULE)
    f.chmod(0o444)  # the rename would replace it all the same (and root may write it anyway)
    r = cli(tmp_path, "check", "--fix", "ro.py")
    assert r.code == 1 and r.err == "freezelint: ro.py: fix not written: the file is read-only\n"
    assert "Checked, but not fixed: ro.py: the file is read-only." in r.out
    r = cli(tmp_path, "check", "--add-noqa", "ro.py")
    assert r.code == 1 and r.err == "freezelint: ro.py: no noqa added: the file is read-only\n"
    assert f.read_text() == BAD_MODULE.lstrip("\n") and stat.S_IMODE(f.stat().st_mode) == 0o444
    f.chmod(0o644)
    assert cli(tmp_path, "check", "--fix", "ro.py").code == 0 and "requires_grad_(False)" in f.read_text()


def test_fix_with_a_report_file_that_cannot_be_written_fixes_nothing(cli, tmp_path):
    f = write(tmp_path / "a.py", BAD_MODULE)
    r = cli(tmp_path, "check", "--fix", "-o", "reports/fix.txt", "a.py")
    assert (r.code, r.out) == (2, "") and r.err == (
        "freezelint: error: cannot write reports/fix.txt: no such directory (nothing was checked or fixed)\n")
    assert f.read_text() == BAD_MODULE.lstrip("\n")  # not fixed with its report lost
    (tmp_path / "reports").mkdir()
    r = cli(tmp_path, "check", "--fix", "-o", "reports", "a.py")
    assert (r.code, r.err) == (2, "freezelint: error: cannot write reports: it is a directory (nothing was checked "
                                  "or fixed)\n") and f.read_text() == BAD_MODULE.lstrip("\n")
    assert cli(tmp_path, "check", "--fix", "-o", "reports/fix.txt", "a.py").code == 0
    assert (tmp_path / "reports/fix.txt").read_text() == "Fixed 1 finding.\n"
    assert "requires_grad_(False)" in f.read_text()


def test_fix_and_add_noqa_keep_the_files_owner_when_run_as_root(cli, tmp_path):
    import os

    import pytest

    if os.geteuid() != 0:
        pytest.skip("only root can give a file to another user")
    for flag in ("--fix", "--add-noqa"):
        f = write(tmp_path / "theirs.py", BAD_MODULE)
        os.chown(f, 65534, 65534)  # nobody's, fixed by root in a container
        assert cli(tmp_path, "check", flag, "theirs.py").code == 0
        assert (f.stat().st_uid, f.stat().st_gid) == (65534, 65534), flag
        assert "requires_grad_(False)" in f.read_text() or "# noqa: FZ102" in f.read_text()


def test_file_changed_between_read_and_write_is_not_overwritten(cli, tmp_path, monkeypatch):
    import freezelint.check.runner as runner

    f = write(tmp_path / "a.py", BAD_MODULE)
    real = runner.write_source

    def racing(path, original, new, **kw):
        path.write_text("# edited meanwhile\n")
        return real(path, original, new, **kw)

    monkeypatch.setattr(runner, "write_source", racing)
    r = cli(tmp_path, "check", "--fix", "a.py")
    assert f.read_text() == "# edited meanwhile\n"
    assert "fix not written: the file changed on disk" in r.err
    assert r.code == 1 and "FZ102" in r.out  # the unfixed finding is still reported


def test_fix_that_cannot_be_written_is_named_as_such_not_as_an_unchecked_file(cli, tmp_path, monkeypatch):
    from freezelint.check import runner

    def immutable(path, data, **kw):
        raise PermissionError(1, "Operation not permitted", str(path))

    monkeypatch.setattr(runner, "atomic_write", immutable)
    f = write(tmp_path / "a.py", BAD_MODULE)
    r = cli(tmp_path, "check", "--fix", "a.py")
    assert r.code == 1 and f.read_text() == BAD_MODULE.lstrip("\n")
    assert r.err == "freezelint: a.py: fix not written: Operation not permitted\n"
    summary = r.out.splitlines()[-3:]
    assert summary == ["Found 1 finding in 1 file.", "[*] 1 fixable, not fixed.",
                       "Checked, but not fixed: a.py: Operation not permitted."]
    assert "could not be checked" not in r.out and "with `freezelint check --fix`" not in r.out
    data = json.loads(cli(tmp_path, "check", "--fix", "--format", "json", "a.py").out)
    assert [(d["code"], d["message"]) for d in data] == [
        ("FZ102", data[0]["message"]), (None, "fix not written: Operation not permitted")]


def test_fix_whose_result_does_not_parse_is_refused(tmp_path, monkeypatch):
    import libcst as cst

    from freezelint.check import engine
    from freezelint.check.rules import base

    def broken_fix(store, method, message, safe=True):
        name = cst.Name("oops")
        object.__setattr__(name, "value", "oops(")  # a buggy fix: renders code that does not parse
        bad = cst.Expr(name)
        return base.Fix(message, [(store.node, bad)], safe)

    import freezelint.check.rules.fz101_requires_grad_method_assigned as fz101

    monkeypatch.setattr(fz101, "call_fix", broken_fix)
    out = engine.check_text("m.requires_grad_ = False\n", "a.py", frozenset({"FZ101"}), fix="unsafe")
    assert out.new_text is None and "does not parse" in out.fix_refused


def test_cache_hit_corrupt_entry_and_selection_key(cli, tmp_path, monkeypatch):
    write(tmp_path / "a.py", BAD_MODULE)
    first = cli(tmp_path, "check", "--format", "json", "a.py").out
    entries = [p for p in (tmp_path / ".freezelint_cache").rglob("*") if p.is_file() and len(p.name) == 40]
    assert len(entries) == 1
    # a hit does not run the engine at all
    import freezelint.check.runner as runner

    calls = []
    real = runner.process
    monkeypatch.setattr(runner, "process", lambda *a, **k: calls.append(a) or real(*a, **k))
    assert cli(tmp_path, "check", "--format", "json", "a.py").out == first and calls == []
    # a corrupt entry (and a corrupt metadata index) is ignored and rebuilt
    entries[0].write_text('{"diagnostics": [truncated')
    for index in (tmp_path / ".freezelint_cache").rglob("index-*.json"):
        index.write_text('{"')
    assert cli(tmp_path, "check", "--format", "json", "a.py").out == first and len(calls) == 1
    assert json.loads(entries[0].read_text())["diagnostics"]
    # another selection is another key
    assert cli(tmp_path, "check", "--select", "FZ101", "a.py").code == 0
    assert (tmp_path / ".freezelint_cache" / "CACHEDIR.TAG").exists()


def test_a_fix_run_leaves_git_status_showing_only_the_fixed_file(cli, tmp_path):
    """--fix caches no results but writes the project's summaries: the cache directory it makes
    holds its own `.gitignore` then too, as a check run's does."""
    import subprocess

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    write(tmp_path / "pkg" / "freeze.py", """
        import torch.nn as nn


        def freeze_bn(model):
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
        """)
    write(tmp_path / "train.py", """
        import torch.nn as nn
        from pkg.freeze import freeze_bn

        layer = nn.Linear(2, 2)
        layer.requires_grad = False
        net = nn.BatchNorm2d(3)
        freeze_bn(net)
        net.train()
        """)
    subprocess.run(["git", "-C", str(tmp_path), "add", "."], check=True)
    assert cli(tmp_path, "check", "--fix", "train.py").out.startswith("Fixed 1 finding.")
    assert (tmp_path / ".freezelint_cache" / "summaries").is_dir()
    status = subprocess.run(["git", "-C", str(tmp_path), "status", "--porcelain"], capture_output=True,
                            text=True, check=True).stdout
    assert status.splitlines() == ["A  pkg/freeze.py", "AM train.py"]
    assert (tmp_path / ".freezelint_cache" / "CACHEDIR.TAG").exists()


def test_no_cache_and_cache_dir(cli, tmp_path):
    write(tmp_path / "a.py", BAD_MODULE)
    cli(tmp_path, "check", "--no-cache", "a.py")
    assert not (tmp_path / ".freezelint_cache").exists()
    cli(tmp_path, "check", "--cache-dir", "elsewhere", "a.py")
    assert (tmp_path / "elsewhere").is_dir()


def test_a_cache_directory_that_is_a_file_is_a_usage_error_not_a_silent_slow_run(cli, tmp_path):
    write(tmp_path / "a.py", BAD_MODULE)
    write(tmp_path / "notes.txt", "mine\n")
    for args in (("--cache-dir", "notes.txt"), ()):
        if not args:
            write(tmp_path / "pyproject.toml", '[tool.freezelint]\ncache-dir = "notes.txt"\n')
        r = cli(tmp_path, "check", *args, "a.py")
        assert (r.code, r.out) == (2, "") and r.err == (
            "freezelint: error: the cache directory notes.txt is a file: name a directory (--cache-dir, "
            "cache-dir), or pass --no-cache\n")
    assert cli(tmp_path, "check", "--no-cache", "a.py").code == 1
    assert (tmp_path / "notes.txt").read_text() == "mine\n"


def test_process_pool_gives_the_same_results(cli, tmp_path):
    for i in range(60):
        write(tmp_path / f"m{i:02}.py", BAD_MODULE if i % 3 else "x = 1\n")
    serial = cli(tmp_path, "check", "--no-cache", "--jobs", "1", "--format", "json", ".").out
    pooled = cli(tmp_path, "check", "--no-cache", "--jobs", "2", "--format", "json", ".").out
    assert serial == pooled and len(json.loads(serial)) == 40


def _hook_entry() -> list[str]:
    text = (ROOT / ".pre-commit-hooks.yaml").read_text()
    first = text.split("- id:")[1]
    assert "freezelint" in first
    m = re.search(r"^\s*entry:\s*(.+)$", first, re.M)
    assert re.search(r"types_or:\s*\[python, pyi, jupyter\]", first)
    return shlex.split(m.group(1))


def test_pre_commit_hook_entry_with_file_list_and_empty_list(tmp_path):
    entry = _hook_entry()
    assert entry == ["freezelint", "--force-exclude"]  # the short form: `freezelint FILE ...` is check
    write(tmp_path / "src/bad.py", BAD_MODULE)
    write(tmp_path / "build/gen.py", BAD_MODULE)
    write(tmp_path / "src/ok.py", "x = 1\n")
    # pre-commit appends the staged files to the entry
    r = run_subprocess(tmp_path, *entry[1:], "src/bad.py", "src/ok.py", "build/gen.py")
    assert r.code == 1 and "src/bad.py:3:1: FZ102" in r.out and "build/gen.py" not in r.out
    # with no staged files of these types pre-commit skips the hook; an explicit empty
    # list of only excluded files must pass
    r = run_subprocess(tmp_path, *entry[1:], "build/gen.py")
    assert r.code == 0, r.out + r.err


# ---------------------------------------------------------------- files that are no regular files


def test_a_named_pipe_named_on_the_command_line_is_one_line_and_exit_1_not_a_hang(tmp_path):
    import os

    os.mkfifo(tmp_path / "pipe.py")
    os.mkfifo(tmp_path / "pipe")  # no suffix: read as Python, so refused as a FIFO
    write(tmp_path / "ok.py", "x = 1\n")
    r = run_subprocess(tmp_path, "check", "--no-cache", "pipe.py", "pipe", "ok.py")  # a hang fails by timeout
    assert r.code == 1 and r.err.splitlines() == [
        "freezelint: pipe.py: not checked: a named pipe (FIFO), not a regular file",
        "freezelint: pipe: not checked: a named pipe (FIFO), not a regular file"]
    r = run_subprocess(tmp_path, "check", "--no-cache", "/dev/null")
    assert r.code == 1 and r.err.endswith("dev/null: not checked: a character device, not a regular file\n")
    assert r.err.count("\n") == 1


def test_fifos_and_sockets_in_a_walk_are_skipped_with_a_warning_and_never_read(tmp_path):
    import os
    import socket

    os.mkfifo(tmp_path / "helpers.py")  # the project's scan of its files for FZ203 (below) blocked on it
    os.mkfifo(tmp_path / "notes")  # no Python suffix: not even looked at in a walk
    write(tmp_path / "train.py", """
        import torch.nn as nn


        def freeze_bn(model):
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
        """)
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(tmp_path / "server.py"))
        r = run_subprocess(tmp_path, "check", "--no-cache", ".")
    finally:
        sock.close()
    assert r.code == 0 and r.err.splitlines() == [
        "freezelint: warning: helpers.py: skipped: a named pipe (FIFO), not a regular file",
        "freezelint: warning: server.py: skipped: a socket, not a regular file"]
    assert run_subprocess(tmp_path, "check", "--no-cache", "--quiet", ".").err == ""


def test_broken_links_and_link_loops_in_a_walk_are_warnings_and_a_named_one_an_error(cli, tmp_path):
    import os

    write(tmp_path / "ok.py", "x = 1\n")
    os.symlink("nowhere.py", tmp_path / "dangling.py")
    os.symlink("loop.py", tmp_path / "loop.py")
    os.symlink(".", tmp_path / "self")  # a link to a directory: not followed in a walk, and not worth a word
    os.symlink("..", tmp_path / "up.py")
    r = cli(tmp_path, "check", ".")
    assert r.code == 0 and r.err.splitlines() == [
        "freezelint: warning: dangling.py: skipped: a broken symbolic link (to nowhere.py, which does not exist)",
        "freezelint: warning: loop.py: skipped: a symbolic link loop (a link that leads back to itself)"]
    assert cli(tmp_path, "check", "--quiet", ".").err == ""
    r = cli(tmp_path, "check", "dangling.py")
    assert r.code == 1 and r.err == ("freezelint: dangling.py: cannot read: a broken symbolic link "
                                     "(to nowhere.py, which does not exist)\n")
    r = cli(tmp_path, "check", "loop.py")
    assert r.code == 1 and r.err == "freezelint: loop.py: cannot read: a symbolic link loop (a link that leads back to itself)\n"


def test_a_quoted_recursive_glob_does_not_follow_directory_links(tmp_path):
    import os

    write(tmp_path / "sub" / "bad.py", BAD_MODULE)
    write(tmp_path / ".hidden" / "bad.py", BAD_MODULE)  # as glob: wildcards match no hidden name
    os.symlink("..", tmp_path / "sub" / "up")
    os.symlink(".", tmp_path / "self")  # with the one above, glob.glob's `**` would run for ever
    r = run_subprocess(tmp_path, "check", "--no-cache", "--format", "concise", "**/*.py")
    assert r.code == 1 and [line.split(":")[0] for line in r.out.splitlines() if "FZ102" in line] == ["sub/bad.py"]
    r = run_subprocess(tmp_path, "check", "--no-cache", "--format", "concise", "**/.hidden/*.py")
    assert [line.split(":")[0] for line in r.out.splitlines() if "FZ102" in line] == [".hidden/bad.py"]


def test_a_recursive_glob_naming_one_hidden_directory_enters_no_other(tmp_path):
    """`**` matches no hidden name, as glob's: `**/.hidden/*.py` finds `.hidden/` where it lies
    under visible directories, and nothing inside `.venv/` or `.git/`."""
    import os

    for where in (".hidden", "pkg/.hidden", ".venv/lib/.hidden", ".git/x/.hidden", "pkg/.cache/.hidden"):
        write(tmp_path / where / "bad.py", BAD_MODULE)
    os.symlink("..", tmp_path / "pkg" / "up")
    r = run_subprocess(tmp_path, "check", "--no-cache", "--format", "concise", "**/.hidden/*.py")
    assert sorted(line.split(":")[0] for line in r.out.splitlines() if "FZ102" in line) == [
        ".hidden/bad.py", "pkg/.hidden/bad.py"]
    r = run_subprocess(tmp_path, "check", "--no-cache", "--format", "concise", ".venv/**/*.py")
    assert r.code == 2 and "no file or directory matches '.venv/**/*.py'" in r.err  # `.hidden` under it too
    r = run_subprocess(tmp_path, "check", "--no-cache", "--format", "concise", ".venv/**/.hidden/*.py")
    assert [line.split(":")[0] for line in r.out.splitlines() if "FZ102" in line] == [".venv/lib/.hidden/bad.py"]


def test_a_file_reached_under_several_names_is_checked_once_under_its_link_free_name(cli, tmp_path):
    """A link to a directory that `check *` names beside its target, a link to a file in a walked
    tree, and two overlapping paths: one finding, under the name with no link in it; where every
    name has one, the name given first."""
    import os

    write(tmp_path / "pyproject.toml", "")
    write(tmp_path / "src" / "train.py", BAD_MODULE)
    os.symlink("src", tmp_path / "current")  # sorts before src: `check *` meets it first
    os.symlink("train.py", tmp_path / "src" / "train_link.py")

    def shown(*args):
        r = cli(tmp_path, "check", "--no-cache", "--format", "concise", "--exclude", "pyproject.toml", *args)
        assert r.code == 1
        return [line.split(":")[0] for line in r.out.splitlines() if "FZ102" in line]

    assert shown("current", "src") == ["src/train.py"]
    assert shown("src", "src/train.py") == ["src/train.py"]
    assert shown("src/train.py", "src") == ["src/train.py"]
    assert shown("src/train_link.py") == ["src/train_link.py"]  # named alone: as named
    assert shown("current/train.py", "src/train_link.py") == ["current/train.py"]  # one link each: the first
    assert shown("current") == ["current/train.py"]
    r = cli(tmp_path, "check", "--no-cache", "--format", "json", *sorted(os.listdir(tmp_path)))
    assert [d["filename"].rsplit("/", 1)[-1] for d in json.loads(r.out)] == ["train.py"]
    assert "src/train.py" in json.loads(r.out)[0]["filename"]


def test_a_directory_that_cannot_be_listed_is_said_and_the_walk_goes_on(cli, tmp_path, monkeypatch):
    """(root reads every directory, so the refusal is made here.) Met in a walk: a warning, and the
    rest is checked; named on the command line: one error line and exit 1, not a clean run of
    nothing; one removed while the run walks: a warning, no traceback."""
    import os

    from freezelint.check import discover

    write(tmp_path / "open" / "bad.py", BAD_MODULE)
    write(tmp_path / "locked" / "bad.py", BAD_MODULE)
    real = os.scandir

    def scandir(path="."):
        if os.path.basename(str(path)) == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        if os.path.basename(str(path)) == "gone":
            raise FileNotFoundError(2, "No such file or directory", str(path))
        return real(path)

    monkeypatch.setattr(discover.os, "scandir", scandir)
    r = cli(tmp_path, "check", "--no-cache", "--format", "concise", ".")
    assert r.code == 1 and [line.split(":")[0] for line in r.out.splitlines() if "FZ102" in line] == ["open/bad.py"]
    assert r.err == "freezelint: warning: locked: skipped: permission denied (a directory that cannot be listed)\n"
    r = cli(tmp_path, "check", "--no-cache", "--format", "concise", "locked")
    assert r.code == 1 and "FZ102" not in r.out and r.err == (
        "freezelint: locked: cannot read: permission denied (a directory that cannot be listed)\n")
    (tmp_path / "gone").mkdir()
    r = cli(tmp_path, "check", "--no-cache", "--quiet", "--format", "concise", ".")
    assert r.code == 1 and r.err == ""
    r = cli(tmp_path, "check", "--no-cache", "--format", "concise", ".")
    assert "freezelint: warning: gone: skipped: the directory no longer exists (removed during the run)" in r.err


def test_imports_that_reach_link_loops_broken_links_or_vanished_files_are_no_error(cli, tmp_path, monkeypatch):
    """The project's resolution of imports meets only what a walk may: a module that is a link loop,
    a broken link, a package that is a loop of directory links, or a file removed after the run
    listed it. None is a traceback or an internal error; a checked file that vanished is one line."""
    import os

    from freezelint.check import discover

    write(tmp_path / "pyproject.toml", "")
    write(tmp_path / "train.py", """
        import torch.nn as nn
        from loopmod import freeze_bn
        from brokenmod import freeze2
        from looppkg.sub import freeze3
        from loopdir import freeze4
        from freezing import freeze5
        from loopmod import *

        model = nn.BatchNorm2d(3)
        for f in (freeze_bn, freeze2, freeze3, freeze4, freeze5):
            f(model)
        model.train()
        model.requires_grad = False
        """)
    write(tmp_path / "freezing.py", "def freeze5(m):\n    m.eval()\n")
    write(tmp_path / "gone.py", BAD_MODULE)
    os.symlink("loopmod.py", tmp_path / "loopmod.py")
    os.symlink("nothing.py", tmp_path / "brokenmod.py")
    os.symlink("looppkg", tmp_path / "looppkg")
    (tmp_path / "realdir").mkdir()
    os.symlink("../loopdir", tmp_path / "realdir" / "x")
    os.symlink("realdir/x", tmp_path / "loopdir")
    real = discover.Discovery.files

    def files(self, paths):  # the run lists the files, then two vanish before they are read
        listed = list(real(self, paths))
        for name in ("gone.py", "freezing.py"):
            os.unlink(tmp_path / name)
        return iter(listed)

    monkeypatch.setattr(discover.Discovery, "files", files)
    r = cli(tmp_path, "check", "--no-cache", "--format", "concise", ".")
    assert r.code == 1 and "train.py:13:1: FZ102" in r.out and "internal error" not in r.out + r.err
    assert r.err.splitlines() == [
        "freezelint: warning: brokenmod.py: skipped: a broken symbolic link (to nothing.py, which does not exist)",
        "freezelint: warning: loopmod.py: skipped: a symbolic link loop (a link that leads back to itself)",
        "freezelint: freezing.py: cannot read: No such file or directory",
        "freezelint: gone.py: cannot read: No such file or directory"]


def test_a_working_directory_removed_under_the_shell_is_one_line_not_an_internal_error(tmp_path):
    import os
    import subprocess
    import sys

    write(tmp_path / "p" / "bad.py", BAD_MODULE)
    gone = tmp_path / "gone"
    script = (f"import os, sys; os.mkdir({str(gone)!r}); os.chdir({str(gone)!r}); os.rmdir({str(gone)!r}); "
              f"from freezelint.cli import main; sys.exit(main(sys.argv[1:]))")
    for args in (["check", str(tmp_path / "p")], ["check"], [str(tmp_path / "p")], ["run", "train.py"]):
        p = subprocess.run([sys.executable, "-P", "-c", script, *args], capture_output=True, text=True, timeout=120,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert p.returncode == 2 and p.stderr == (
            "freezelint: error: the working directory no longer exists (removed or moved since the shell "
            "entered it): cd to an existing directory (No such file or directory)\n"), args
    for args in (["run", "--format", "json", "train.py"], ["audit", "--format", "json", "m.py:make"]):
        # the JSON document a CI step reads, and no import of torch (which fails to load there) for it
        p = subprocess.run([sys.executable, "-P", "-c", script, *args], capture_output=True, text=True, timeout=120,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
        doc = json.loads(p.stdout)
        assert p.returncode == 2 and doc["ok"] is False and doc["exit_code"] == 2, args
        assert doc["error"].startswith("the working directory no longer exists") and "MKL" not in p.stderr, args


# ---------------------------------------------------------------- malformed notebooks


def _nb(cells, **top) -> str:
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5, **top})


CODE_CELL = {"cell_type": "code", "source": ["import torch.nn as nn\n", "m = nn.Linear(2, 2)\n",
                                             "m.requires_grad = False\n"], "metadata": {}, "outputs": []}


@pytest.mark.parametrize("text, message", [
    (_nb([{"cell_type": "markdown", "source": 42}, CODE_CELL]),
     "cell 1: source is not text: `source` is a number, not a string or a list of strings"),
    (_nb([CODE_CELL, {"cell_type": "code", "source": ["x = 1\n", None]}]),
     ("cell 2: source is not text: `source` is a list with an item that is not a string, not a string or a list of "
      "strings")),
    (_nb([{"source": "m.requires_grad = False\n"}, CODE_CELL]),
     'cell 1 has no `cell_type` ("code", "markdown", ...)'),
    (_nb([{"cell_type": ["code"], "source": ""}]), 'cell 1: `cell_type` is a list, not a name ("code", "markdown", ...)'),
    (_nb([CODE_CELL, {"cell_type": "code", "outputs": []}]), "cell 2 has no `source`"),
    (_nb(["m.requires_grad = False"]), "cell 1 is a string, not an object"),
    (json.dumps({"cells": {"0": CODE_CELL}, "nbformat": 4}), "not a notebook: `cells` is an object, not a list"),
    (json.dumps({"worksheets": [{"cells": [{"cell_type": "code", "input": "m.requires_grad = False\n"}]}],
                 "nbformat": 3, "nbformat_minor": 0, "metadata": {}}),
     ("a notebook in the old nbformat 3 layout (`worksheets`), which freezelint does not read: convert it with "
      "`jupyter nbconvert --to notebook --nbformat 4`")),
    ("[1, 2]", "not a notebook: the JSON is a list, not an object with a `cells` list"),
], ids=["markdown-source-number", "source-list-item", "no-cell-type", "cell-type-list", "no-source", "cell-string",
        "cells-object", "nbformat-3", "json-list"])
def test_a_malformed_notebook_is_one_fz001_line_not_a_silent_pass(cli, tmp_path, text, message):
    (tmp_path / "nb.ipynb").write_text(text)
    write(tmp_path / "c.py", BAD_MODULE)
    r = cli(tmp_path, "check", "--format", "concise", "--quiet", ".")
    lines = r.out.splitlines()
    assert r.code == 1 and r.err == "" and len(lines) == 2
    assert lines[0].startswith("c.py:3:1: FZ102") and lines[1] == f"nb.ipynb:1:1: FZ001 {message}"
    r = cli(tmp_path, "check", "--fix", "nb.ipynb")  # never rewritten
    assert r.code == 1 and (tmp_path / "nb.ipynb").read_text() == text


def test_a_well_formed_notebook_with_other_cell_types_and_no_code_is_clean(cli, tmp_path):
    (tmp_path / "nb.ipynb").write_text(_nb([{"cell_type": "raw", "source": "m.requires_grad = False\n"},
                                            {"cell_type": "markdown", "source": ["# title\n", "text"]}]))
    (tmp_path / "empty.ipynb").write_text(_nb([]))
    assert cli(tmp_path, "check", "nb.ipynb", "empty.ipynb").code == 0


# ---------------------------------------------------------------- hard links and the last check before writing


def test_fix_of_a_hard_linked_file_rewrites_it_in_place_keeping_encoding_line_ends_mode_and_links(cli, tmp_path):
    import os

    latin = ("# -*- coding: latin-1 -*-\r\n# café\r\nimport torch.nn as nn\r\nlayer = nn.Linear(2, 2)\r\n"
             "layer.requires_grad = False\r\n").encode("latin-1")
    f = tmp_path / "a.py"
    f.write_bytes(latin)
    f.chmod(0o640)
    os.link(f, tmp_path / "same.txt")  # another name of the same file (a backup, a shared checkout)
    inode = f.stat().st_ino
    r = cli(tmp_path, "check", "--fix", "a.py")
    assert r.code == 0, r.out + r.err
    fixed = latin.replace(b"layer.requires_grad = False", b"layer.requires_grad_(False)")
    assert f.read_bytes() == fixed and (tmp_path / "same.txt").read_bytes() == fixed
    st = f.stat()
    assert (st.st_ino, st.st_nlink, stat.S_IMODE(st.st_mode)) == (inode, 2, 0o640)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.py", "same.txt"]  # no temporary file left
    os.link(f, tmp_path / "third.py")
    r = cli(tmp_path, "check", "--add-noqa", "--select", "FZ1", "a.py")  # the other writer: alike
    assert r.code == 0 and (tmp_path / "third.py").stat().st_ino == inode


def test_fix_of_an_ordinary_file_is_an_atomic_rename_that_keeps_its_mode(cli, tmp_path):
    f = write(tmp_path / "run.py", BAD_MODULE)
    f.chmod(0o2750)  # setgid kept too (set after the owner, which may clear it)
    inode = f.stat().st_ino
    assert cli(tmp_path, "check", "--fix", "run.py").code == 0
    assert "requires_grad_(False)" in f.read_text()
    assert f.stat().st_ino != inode and stat.S_IMODE(f.stat().st_mode) == 0o2750


@pytest.mark.parametrize("links", [1, 2])
def test_fixed_bytes_that_do_not_parse_are_never_written(tmp_path, links):
    import os

    from freezelint.check import runner

    f = write(tmp_path / "a.py", BAD_MODULE)
    if links == 2:
        os.link(f, tmp_path / "b.py")
    original = f.read_bytes()
    assert runner.write_source(f, original, b"layer.requires_grad_(False\n") == (
        "fix not written: the fixed text does not parse (a bug in freezelint: please report it)")
    nb = tmp_path / "nb.ipynb"
    nb.write_text(_nb([CODE_CELL]))
    assert runner.write_source(nb, nb.read_bytes(), b'{"cells": [') is not None
    assert f.read_bytes() == original and f.stat().st_nlink == links
    assert runner.write_source(f, b"other bytes", original.replace(b"requires_grad = False", b"requires_grad_(False)")) \
        == "fix not written: the file changed on disk while it was being checked"
    assert f.read_bytes() == original
    assert runner.write_source(f, original, original.replace(b"requires_grad = False", b"requires_grad_(False)")) is None
    assert b"requires_grad_(False)" in f.read_bytes() and f.stat().st_nlink == links


def test_a_failed_in_place_write_puts_the_checked_bytes_back(tmp_path, monkeypatch):
    import os

    from freezelint.check import runner

    f = write(tmp_path / "a.py", BAD_MODULE)
    os.link(f, tmp_path / "b.py")
    original = f.read_bytes()
    real, calls = runner._overwrite, []

    def disk_full(handle, data):
        calls.append(data)
        if len(calls) == 1:
            handle.seek(0)
            handle.write(data[:5])  # part of it written, then the disk is full
            handle.truncate()
            raise OSError(28, "No space left on device")
        real(handle, data)

    monkeypatch.setattr(runner, "_overwrite", disk_full)
    fixed = original.replace(b"requires_grad = False", b"requires_grad_(False)")
    assert runner.write_source(f, original, fixed) == "fix not written: No space left on device"
    assert f.read_bytes() == original and (tmp_path / "b.py").read_bytes() == original
