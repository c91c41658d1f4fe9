"""The checker's command line never goes quiet on what it could not see (issue 18 points 1, 4)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from xml.etree import ElementTree as ET

import pytest
from conftest import BAD_MODULE, ROOT, write



# ------------------------------------------------------------------- `freezelint PATH`
def test_bare_path_means_check(cli, tmp_path):
    write(tmp_path / "src" / "bad.py", BAD_MODULE)
    r = cli(tmp_path, "src/")
    assert r.code == 1 and "bad.py:3:1: FZ102" in r.out
    assert cli(tmp_path, "src/bad.py").code == 1


def test_options_first_then_files_means_check(cli, tmp_path):
    # The pre-commit hook's entry is `freezelint --force-exclude` followed by the staged files.
    write(tmp_path / "bad.py", BAD_MODULE)
    r = cli(tmp_path, "--force-exclude", "--select", "FZ102", "bad.py")
    assert r.code == 1 and "FZ102" in r.out


def test_glob_is_expanded_when_the_shell_did_not(cli, tmp_path):
    write(tmp_path / "a" / "bad.py", BAD_MODULE)
    write(tmp_path / "a" / "ok.py", "x = 1\n")
    r = cli(tmp_path, "a/*.py")
    assert r.code == 1 and "bad.py:3:1: FZ102" in r.out
    r = cli(tmp_path, "check", "nothing*.py")
    assert r.code == 2 and r.err.strip() == "freezelint: error: no file or directory matches 'nothing*.py'"


def test_no_argument_prints_help_and_unknown_word_is_an_error(cli, tmp_path):
    r = cli(tmp_path)
    assert "usage: freezelint" in r.out and "freezelint PATH" in r.out
    r = cli(tmp_path, "chek")  # neither a subcommand nor a path
    assert r.code == 2 and r.err == (
        "freezelint: error: unknown command 'chek': did you mean `freezelint check`? (commands: check, rule, "
        "rules, audit, run, server; `freezelint PATH` checks a file or directory that exists)\n")


def test_a_check_option_with_no_path_says_whose_option_it_is(cli, tmp_path):
    write(tmp_path / "a.py", "import torch.nn as nn\nlayer = nn.Linear(2, 2)\nlayer.requires_grad = False\n")
    for option in ("--fix", "--select=FZ1"):
        r = cli(tmp_path, option)
        assert (r.code, r.out) == (2, "") and r.err == (
            f"freezelint: error: {option} is an option of check: give the files (`freezelint {option} PATH ...`), "
            f"or `freezelint check {option}` for the working directory\n")
    assert "requires_grad = False" in (tmp_path / "a.py").read_text()  # nothing was fixed
    assert cli(tmp_path, "--fix", "a.py").code == 0 and "requires_grad_(False)" in (tmp_path / "a.py").read_text()


def test_a_missing_file_in_the_short_form_is_said_to_be_missing_not_an_unknown_command(cli, tmp_path):
    # a typo in a file name (or a file pre-commit passes after a rename) is no subcommand to choose
    for argv, missing in [(("trian.py",), "trian.py"), (("--fix", "trian.py"), "trian.py"),
                          (("notebooks/eda.ipynb",), "notebooks/eda.ipynb"), (("src/",), "src/")]:
        r = cli(tmp_path, *argv)
        assert (r.code, r.err) == (2, f"freezelint: error: no such file or directory: {missing}\n"), argv


def test_pre_commit_hooks_use_the_short_form():
    text = (ROOT / ".pre-commit-hooks.yaml").read_text()
    entries = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.strip().startswith("entry:")]
    assert entries and all(e.startswith("freezelint --") and " check" not in e for e in entries)


# ---------------------------------------------------------- run errors in every format
@pytest.fixture
def not_regular(tmp_path):
    """A file named on the command line that cannot be checked: a FIFO (never read, never waited on)."""
    os.mkfifo(tmp_path / "pipe.py")
    return tmp_path


def test_text_never_says_all_passed_when_a_file_was_not_checked(cli, not_regular):
    r = cli(not_regular, "check", "pipe.py")
    assert r.code == 1
    assert "All checks passed" not in r.out
    assert "1 file could not be checked" in r.out
    assert "pipe.py: not checked" in r.err


def test_json_carries_run_errors_as_entries_without_a_code(cli, not_regular):
    r = cli(not_regular, "check", "--format", "json", "pipe.py")
    assert r.code == 1
    data = json.loads(r.out)
    assert [(d["code"], d["filename"], d["severity"]) for d in data] == [(None, "pipe.py", "error")]
    assert "not checked" in data[0]["message"]
    assert {"message", "location", "end_location", "fix", "url"} <= set(data[0])


def test_sarif_carries_run_errors_as_tool_notifications(cli, not_regular):
    r = cli(not_regular, "check", "--format", "sarif", "pipe.py")
    inv = json.loads(r.out)["runs"][0]["invocations"]
    assert inv[0]["executionSuccessful"] is False
    notes = inv[0]["toolExecutionNotifications"]
    assert len(notes) == 1 and notes[0]["level"] == "error" and "not checked" in notes[0]["message"]["text"]
    uri = notes[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "pipe.py"


def test_sarif_clean_run_is_successful(cli, tmp_path):
    write(tmp_path / "ok.py", "x = 1\n")
    inv = json.loads(cli(tmp_path, "check", "--format", "sarif", "ok.py").out)["runs"][0]["invocations"]
    assert inv == [{"executionSuccessful": True, "toolExecutionNotifications": []}]


def test_junit_carries_run_errors_as_error_elements(cli, not_regular):
    r = cli(not_regular, "check", "--format", "junit", "pipe.py")
    root = ET.fromstring(r.out)
    suite = root.find("testsuite")
    assert suite.get("errors") == "1" and suite.get("failures") == "0"
    errors = root.findall(".//error")
    assert len(errors) == 1 and "not checked" in errors[0].get("message")


def test_github_carries_run_errors_as_error_commands(cli, not_regular):
    r = cli(not_regular, "check", "--format", "github", "pipe.py")
    lines = r.out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("::error ") and "file=pipe.py" in lines[0]
    assert "not checked" in lines[0]


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_diff_is_a_patch_git_applies_as_fix_would(cli, tmp_path):
    """No final newline, latin-1 bytes, CRLF, a form feed and a U+0085 inside a line (line breaks
    to str.splitlines, not to git): `git apply` takes the patch and leaves the bytes --fix writes."""
    files = {
        "nonl.py": b"import torch.nn as nn\nmodel = nn.Linear(2, 2)\nmodel.requires_grad = False",
        "latin1.py": b"# -*- coding: latin-1 -*-\nimport torch.nn as nn\nmodel = nn.Linear(2, 2)\n"
                     b's = "caf\xe9"\nmodel.requires_grad = False\n',
        "crlf.py": b"import torch.nn as nn\r\nmodel = nn.Linear(2, 2)\r\n\x0ct = 'a\xc2\x85b'\r\n"
                   b"model.requires_grad = False\r\n",
    }
    for tree in ("fixed", "patched"):
        (tmp_path / tree).mkdir()
        for name, data in files.items():
            (tmp_path / tree / name).write_bytes(data)
    assert cli(tmp_path / "fixed", "check", "--fix", ".").code == 0
    r = cli(tmp_path / "patched", "check", "--diff", "-o", "../p.diff", ".")
    assert r.code == 1
    patch = (tmp_path / "p.diff").read_bytes()
    assert patch.count(b"\\ No newline at end of file\n") == 2 and b's = "caf\xe9"' in patch
    git = ["git", "-c", "core.autocrlf=false"]
    subprocess.run([*git, "init", "-q", "."], cwd=tmp_path / "patched", check=True)
    for args in (["apply", "--check", "../p.diff"], ["apply", "../p.diff"]):
        p = subprocess.run([*git, *args], cwd=tmp_path / "patched", capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
    for name in files:
        assert (tmp_path / "patched" / name).read_bytes() == (tmp_path / "fixed" / name).read_bytes() != files[name]


def test_diff_exits_1_on_a_syntax_error(cli, tmp_path):
    write(tmp_path / "broken.py", "model.requires_grad = (\n")
    r = cli(tmp_path, "check", "--diff", "broken.py")
    assert r.code == 1
    assert "broken.py:" in r.err and "FZ001" in r.err


def test_diff_exits_1_when_a_file_could_not_be_checked(cli, not_regular):
    assert cli(not_regular, "check", "--diff", "pipe.py").code == 1


def test_diff_still_exits_0_on_nothing_to_fix(cli, tmp_path):
    write(tmp_path / "ok.py", "x = 1\n")
    r = cli(tmp_path, "check", "--diff", "ok.py")
    assert r.code == 0 and r.out == "" and r.err == ""


# ------------------------------------------------------------------ --fix through symlinks
FIXED = BAD_MODULE.lstrip("\n").replace("layer.requires_grad = False", "layer.requires_grad_(False)")


def test_fix_writes_through_a_symlink_and_keeps_it(cli, tmp_path):
    target = write(tmp_path / "real" / "target.py", BAD_MODULE)
    link = tmp_path / "link.py"
    link.symlink_to("real/target.py")
    r = cli(tmp_path, "check", "--fix", "--show-fixes", "link.py")
    assert r.code == 0, r.out + r.err
    assert link.is_symlink() and os.readlink(link) == "real/target.py"
    assert target.read_text() == FIXED
    assert "real/target.py" in r.out  # the file that was written, by its real path


def test_fix_through_a_symlinked_file_found_by_walking(cli, tmp_path):
    target = write(tmp_path / "real" / "target.py", BAD_MODULE)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "link.py").symlink_to(target)
    r = cli(tmp_path, "check", "--fix", "src")
    assert r.code == 0, r.out + r.err
    assert (tmp_path / "src" / "link.py").is_symlink() and target.read_text() == FIXED


def test_fix_refuses_a_link_leading_outside_the_checked_tree(cli, tmp_path):
    outside = write(tmp_path / "elsewhere" / "target.py", BAD_MODULE)
    project = tmp_path / "project"
    write(project / "pyproject.toml", "[tool.freezelint]\n")
    (project / "src").mkdir()
    (project / "src" / "link.py").symlink_to(outside)
    r = cli(project, "check", "--fix", "src")
    assert r.code == 1
    assert outside.read_text() == BAD_MODULE.lstrip("\n")  # untouched
    assert (project / "src" / "link.py").is_symlink()
    errors = [line for line in r.err.splitlines() if line.strip()]
    assert len(errors) == 1 and "outside the checked tree" in errors[0] and str(outside) in errors[0]
    assert "src/link.py:3:1: FZ102" in r.out  # still reported, as found


def test_link_and_target_both_checked_are_fixed_once(cli, tmp_path):
    target = write(tmp_path / "target.py", BAD_MODULE)
    (tmp_path / "link.py").symlink_to("target.py")
    r = cli(tmp_path, "check", "--fix", ".")
    assert r.code == 0, r.out + r.err
    assert target.read_text() == FIXED and (tmp_path / "link.py").is_symlink()
    assert "Fixed 1 finding." in r.out


# ---------------------------------------------------- links: no invented domain (issue 16.2)
def test_no_invented_domain_anywhere():
    hits = [str(p.relative_to(ROOT)) for base in ("freezelint", "rules", "examples", "benchmarks")
            for p in (ROOT / base).rglob("*") if p.is_file() and p.suffix in (".py", ".md", ".toml", ".ipynb")
            and "freezelint.dev" in p.read_text(encoding="utf-8", errors="replace")]
    hits += [name for name in ("README.md", "pyproject.toml") if "freezelint.dev" in (ROOT / name).read_text()]
    assert hits == []


def test_urls_are_null_without_a_docs_url(cli, tmp_path):
    write(tmp_path / "bad.py", BAD_MODULE)
    data = json.loads(cli(tmp_path, "check", "--format", "json", "bad.py").out)
    assert data[0]["url"] is None
    text = cli(tmp_path, "check", "bad.py").out
    assert "= docs: freezelint rule FZ102" in text and "http" not in text
    rules = json.loads(cli(tmp_path, "rules", "--json").out)
    assert rules and all(r["url"] is None for r in rules)


def test_docs_url_flag_and_config_fill_the_urls(cli, tmp_path):
    write(tmp_path / "bad.py", BAD_MODULE)
    r = cli(tmp_path, "check", "--format", "json", "--docs-url", "https://mirror.example/rules/{code}.md", "bad.py")
    assert json.loads(r.out)[0]["url"] == "https://mirror.example/rules/FZ102.md"
    write(tmp_path / "pyproject.toml", '[tool.freezelint]\ndocs-url = "https://mirror.example/fz/"\n')
    assert json.loads(cli(tmp_path, "check", "--format", "json", "bad.py").out)[0]["url"] == \
        "https://mirror.example/fz/FZ102"
    assert "docs: https://mirror.example/fz/FZ102  (freezelint rule FZ102)" in cli(tmp_path, "check", "bad.py").out
    rules = {r["code"]: r["url"] for r in json.loads(cli(tmp_path, "rules", "--json").out)}
    assert rules["FZ101"] == "https://mirror.example/fz/FZ101"
    write(tmp_path / "pyproject.toml", "[tool.freezelint]\ndocs-url = 3\n")
    r = cli(tmp_path, "check", "bad.py")
    assert r.code == 2 and "docs-url must be a string" in r.err


def test_sarif_carries_help_text_and_links_only_when_set(cli, tmp_path):
    write(tmp_path / "bad.py", BAD_MODULE)
    driver = json.loads(cli(tmp_path, "check", "--format", "sarif", "bad.py").out)["runs"][0]["tool"]["driver"]
    rule = driver["rules"][0]
    assert "helpUri" not in rule and "informationUri" not in driver
    assert "freezelint rule FZ102" in rule["help"]["text"]
    assert rule["help"]["markdown"].startswith("# FZ102 requires-grad-on-module")
    r = cli(tmp_path, "check", "--format", "sarif", "--docs-url", "https://m.example/{code}", "bad.py")
    assert json.loads(r.out)["runs"][0]["tool"]["driver"]["rules"][0]["helpUri"] == "https://m.example/FZ102"


def test_catalogue_invents_no_links():
    from freezelint import codes

    assert all(c.url is None for c in codes.CATALOGUE.values())
    assert codes.docs_url("FZ101", None) is None


def test_a_closed_stderr_costs_neither_the_report_nor_the_exit_status(tmp_path, monkeypatch, capsys):
    # `freezelint check --show-project . 2>&1 >out | head -1`: the notes' reader goes away first
    from freezelint.cli import main

    class Gone:
        def isatty(self):
            return False

        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            raise BrokenPipeError(32, "Broken pipe")

    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "train.py").write_text("import torch\nmodel = torch.nn.Linear(2, 2)\nmodel.requires_grad = False\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stderr", Gone())
    code = main(["check", "--no-cache", "--format", "concise", "--show-project", "."])
    assert code == 1
    assert "train.py:3:1: FZ102" in capsys.readouterr().out
