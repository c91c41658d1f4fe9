from __future__ import annotations

import json
import os
import subprocess
import sys
from xml.etree import ElementTree as ET

import pytest

from conftest import BAD_MODULE, ROOT, run_subprocess, write


def test_exit_codes_clean_findings_usage(cli, tmp_path):
    write(tmp_path / "ok.py", "x = 1\n")
    assert cli(tmp_path, "check", "ok.py").code == 0
    write(tmp_path / "bad.py", BAD_MODULE)
    r = cli(tmp_path, "check", "bad.py")
    assert r.code == 1 and "bad.py:3:1: FZ102" in r.out
    assert cli(tmp_path, "check", "--exit-zero", "bad.py").code == 0
    r = cli(tmp_path, "check", "--format", "nope")
    assert r.code == 2 and r.err.count("\n") == 1 and "invalid choice" in r.err


def test_missing_path_is_one_line_error(cli, tmp_path):
    r = cli(tmp_path, "check", "missing.py")
    assert r.code == 2
    assert r.err.strip() == "freezelint: error: no such file or directory: missing.py"


def test_a_run_that_checks_no_file_warns_and_exits_zero_as_ruff_does(cli, tmp_path):
    warning = "freezelint: warning: no Python files found under the given paths: nothing was checked\n"
    (tmp_path / "empty").mkdir()
    write(tmp_path / "docs" / "README.md", "model.requires_grad = False\n")
    write(tmp_path / "a.py", BAD_MODULE)
    for args in (["empty"], ["docs"]):
        r = cli(tmp_path, "check", *args)
        assert (r.code, r.err) == (0, warning) and "All checks passed" in r.out
    r = cli(tmp_path, "check", "--exclude", "a.py", "--force-exclude", "a.py")  # found, and excluded: not "no file"
    assert (r.code, r.err) == (0, "freezelint: warning: every file named is excluded (--force-exclude): nothing "
                                  "was checked\n")
    r = cli(tmp_path, "check", "-q", "empty")
    assert (r.code, r.out, r.err) == (0, "", "")
    r = cli(tmp_path, "check", "a.py")
    assert r.code == 1 and r.err == ""


def test_a_selection_of_no_rule_warns_and_an_empty_select_flag_is_a_usage_error(cli, tmp_path):
    write(tmp_path / "a.py", BAD_MODULE)
    r = cli(tmp_path, "check", "--select", "", "a.py")
    assert r.code == 2 and r.err.count("\n") == 1 and "--select names no code" in r.err
    r = cli(tmp_path, "check", "--select", "FZ102", "--ignore", "FZ1", "a.py")
    assert r.code == 0 and r.err == ("freezelint: warning: the selection leaves no rule to run: only syntax errors "
                                     "(FZ001) were checked\n")
    write(tmp_path / "pyproject.toml", "[tool.freezelint]\nselect = []\n")
    r = cli(tmp_path, "check", "a.py")
    assert r.code == 0 and "the selection (" in r.err and "pyproject.toml) leaves no rule to run" in r.err
    assert cli(tmp_path, "check", "--select", "FZ102", "a.py").code == 1  # the flag starts afresh


def test_text_output_shows_source_caret_and_fix(cli, tmp_path):
    write(tmp_path / "bad.py", BAD_MODULE)
    r = cli(tmp_path, "check", "bad.py")
    lines = r.out.splitlines()
    assert "3 | layer.requires_grad = False" in lines
    caret = next(line for line in lines if "^" in line)
    assert caret.index("^") == lines[lines.index("3 | layer.requires_grad = False")].index("layer")
    assert "= fix: Call `layer.requires_grad_(False)`" in r.out
    assert "\x1b[" not in r.out  # plain when piped
    assert "Found 1 finding in 1 file." in r.out


def test_colored_text_paints_the_gutter_and_caret_not_the_code(tmp_path):
    write(tmp_path / "bad.py", BAD_MODULE)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FORCE_COLOR": "1"}
    env.pop("NO_COLOR", None)
    out = subprocess.run([sys.executable, "-m", "freezelint", "check", "--no-cache", "bad.py"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=120).stdout
    assert "\x1b[1mbad.py:3:1\x1b[0m: \x1b[1;31mFZ102\x1b[0m [*] " in out
    assert "\x1b[34m3 | \x1b[0mlayer.requires_grad = False\n" in out  # the code as written, uncoloured
    assert "\x1b[34m  | \x1b[0m\x1b[1;31m^" in out
    assert "  = \x1b[36mfix\x1b[0m: Call `layer.requires_grad_(False)`" in out


def test_json_output_has_ruff_shape(cli, tmp_path):
    write(tmp_path / "bad.py", BAD_MODULE)
    r = cli(tmp_path, "check", "--format", "json", "bad.py")
    data = json.loads(r.out)
    assert len(data) == 1
    d = data[0]
    assert {"code", "message", "filename", "location", "end_location", "fix", "severity", "url"} <= set(d)
    assert d["location"] == {"row": 3, "column": 1}
    assert d["end_location"] == {"row": 3, "column": 20}
    assert d["fix"]["applicability"] == "safe"
    assert d["fix"]["edits"][0]["content"] == "layer.requires_grad_(False)"


def test_concise_github_junit(cli, tmp_path):
    write(tmp_path / "bad.py", BAD_MODULE)
    r = cli(tmp_path, "check", "--format", "concise", "bad.py")
    assert r.out.splitlines()[0].startswith("bad.py:3:1: FZ102 [*] ")
    r = cli(tmp_path, "check", "--format", "github", "bad.py")
    assert r.out.startswith("::error title=freezelint (FZ102),file=bad.py,line=3,col=1,endLine=3,endColumn=20::")
    r = cli(tmp_path, "check", "--format", "junit", "bad.py")
    root = ET.fromstring(r.out.split("\n", 1)[1])
    failures = root.findall(".//failure")
    assert len(failures) == 1 and failures[0].get("type") == "FZ102"


# The parts of SARIF 2.1.0 that GitHub code scanning requires, as a JSON schema.
SARIF_SUBSET = {
    "type": "object",
    "required": ["version", "runs", "$schema"],
    "properties": {
        "version": {"const": "2.1.0"},
        "runs": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["tool", "results"],
            "properties": {
                "tool": {"type": "object", "required": ["driver"], "properties": {"driver": {
                    "type": "object", "required": ["name", "rules"],
                    "properties": {"rules": {"type": "array", "items": {
                        "type": "object", "required": ["id", "shortDescription"]}}}}}},
                "results": {"type": "array", "items": {
                    "type": "object", "required": ["ruleId", "message", "locations", "level"],
                    "properties": {
                        "level": {"enum": ["none", "note", "warning", "error"]},
                        "message": {"type": "object", "required": ["text"]},
                        "locations": {"type": "array", "minItems": 1, "items": {
                            "type": "object", "required": ["physicalLocation"],
                            "properties": {"physicalLocation": {
                                "type": "object", "required": ["artifactLocation", "region"],
                                "properties": {
                                    "artifactLocation": {"type": "object", "required": ["uri"]},
                                    "region": {"type": "object", "required": ["startLine"],
                                               "properties": {"startLine": {"type": "integer", "minimum": 1},
                                                              "startColumn": {"type": "integer", "minimum": 1}}},
                                }}}}},
                    }}},
            }}},
    },
}


def test_sarif_is_valid_for_code_scanning(cli, tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    write(tmp_path / "bad.py", BAD_MODULE)
    r = cli(tmp_path, "check", "--format", "sarif", "bad.py")
    doc = json.loads(r.out)
    jsonschema.validate(doc, SARIF_SUBSET)
    result = doc["runs"][0]["results"][0]
    assert result["ruleId"] == "FZ102"
    assert doc["runs"][0]["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == "FZ102"


def test_sarif_locations_are_relative_to_a_named_source_root(cli, tmp_path):
    """Relative URIs resolve against %SRCROOT%, the working directory as a file:// URI, so a
    consumer (GitHub code scanning, an IDE) can map them to its own checkout."""
    write(tmp_path / "work" / "dir with space" / "bad.py", BAD_MODULE)
    write(tmp_path / "other" / "bad.py", BAD_MODULE)
    os.mkfifo(tmp_path / "work" / "pipe.py")
    r = cli(tmp_path / "work", "check", "--format", "sarif", "dir with space/bad.py", "../other/bad.py", "pipe.py")
    run = json.loads(r.out)["runs"][0]
    assert run["originalUriBaseIds"] == {"%SRCROOT%": {"uri": (tmp_path / "work").as_uri() + "/"}}
    where = [res["locations"][0]["physicalLocation"]["artifactLocation"] for res in run["results"]]
    assert where == [{"uri": "../other/bad.py", "uriBaseId": "%SRCROOT%"},
                     {"uri": "dir%20with%20space/bad.py", "uriBaseId": "%SRCROOT%"}]
    note = run["invocations"][0]["toolExecutionNotifications"][0]
    assert note["locations"][0]["physicalLocation"]["artifactLocation"] == {"uri": "pipe.py", "uriBaseId": "%SRCROOT%"}


def test_statistics_quiet_output_file(cli, tmp_path):
    write(tmp_path / "bad.py", BAD_MODULE + "layer.requires_grad_ = True\n")
    r = cli(tmp_path, "check", "--statistics", "bad.py")
    assert "1  FZ101  [*] requires-grad-method-assigned" in r.out.splitlines()
    r = cli(tmp_path, "check", "--quiet", "bad.py")
    assert "Found" not in r.out and "FZ102" in r.out
    write(tmp_path / "fixed.py", BAD_MODULE + "layer.load_state_dict({}, strict=False)\n")
    r = cli(tmp_path, "check", "--statistics", "--fix", "fixed.py")  # what is left, and that a fix was written
    assert r.code == 1 and r.out == "1  FZ401      unchecked-partial-load\nFixed 1 finding.\nFound 1 finding in 1 file.\n"
    write(tmp_path / "fixed.py", BAD_MODULE)
    assert cli(tmp_path, "check", "--statistics", "--fix", "fixed.py").out == "Fixed 1 finding.\n"
    r = cli(tmp_path, "check", "--format", "json", "-o", "report.json", "bad.py")
    assert r.out == "" and len(json.loads((tmp_path / "report.json").read_text())) == 2


def test_statistics_text_keeps_the_total_and_the_fix_hint_as_ruff_does(cli, tmp_path):
    write(tmp_path / "bad.py", BAD_MODULE + "layer.requires_grad_ = True\n")
    write(tmp_path / "other.py", BAD_MODULE)
    for fmt in ("text", "concise"):
        r = cli(tmp_path, "check", "--statistics", "--format", fmt, "bad.py", "other.py")
        assert r.code == 1 and r.out.splitlines() == [
            "2  FZ102  [*] requires-grad-on-module", "1  FZ101  [*] requires-grad-method-assigned",
            "Found 3 findings in 2 files.", "[*] 3 fixable with the `--fix` option."], r.out
    assert cli(tmp_path, "check", "--statistics", "--quiet", "bad.py").out.splitlines() == [
        "1  FZ101  [*] requires-grad-method-assigned", "1  FZ102  [*] requires-grad-on-module"]
    write(tmp_path / "ok.py", "x = 1\n")
    assert cli(tmp_path, "check", "--statistics", "ok.py").out == ""  # an empty table, as ruff's


def test_statistics_as_json_in_ruffs_shape_and_refused_where_no_shape_fits(cli, tmp_path):
    write(tmp_path / "bad.py", BAD_MODULE + "layer.requires_grad_ = True\nfc = nn.Linear(2, 2)\nfc.requires_grad = False\n")
    r = cli(tmp_path, "check", "--statistics", "--format", "json", "bad.py")
    assert r.code == 1 and json.loads(r.out) == [
        {"code": "FZ102", "name": "requires-grad-on-module", "count": 2, "fixable": True, "fixable_count": 2},
        {"code": "FZ101", "name": "requires-grad-method-assigned", "count": 1, "fixable": True, "fixable_count": 1},
    ]
    for fmt in ("github", "sarif", "junit"):
        r = cli(tmp_path, "check", "--statistics", "--format", fmt, "bad.py")
        assert r.code == 2 and r.out == "" and r.err.count("\n") == 1
        assert f"--statistics cannot be written as {fmt}: use --format text, concise or json" in r.err


def test_fix_diff_and_second_fix_is_noop(cli, tmp_path):
    f = write(tmp_path / "bad.py", BAD_MODULE)
    r = cli(tmp_path, "check", "--diff", "bad.py")
    assert r.code == 1 and "+layer.requires_grad_(False)" in r.out
    assert f.read_text() == BAD_MODULE.lstrip("\n")  # --diff writes nothing
    r = cli(tmp_path, "check", "--fix", "--show-fixes", "bad.py")
    assert r.code == 0 and "Fixed 1 finding" in r.out and "bad.py" in r.out
    fixed = f.read_text()
    assert "layer.requires_grad_(False)" in fixed
    r = cli(tmp_path, "check", "--fix", "bad.py")
    assert r.code == 0 and f.read_text() == fixed


def test_unsafe_fixes_only_with_flag(cli, tmp_path):
    # FZ103's rename is safe on a Parameter (`p` over `.parameters()`) and unsafe on `backbone`,
    # whose kind the checker cannot know: plain --fix renames only the first.
    source = "for p in m.parameters():\n    p.require_grad = False\nbackbone.require_grad = False\n"
    write(tmp_path / "a.py", source)
    r = cli(tmp_path, "check", "--fix", "a.py")
    assert r.code == 1 and "a.py:3:" in r.out and "a.py:2:" not in r.out
    assert (tmp_path / "a.py").read_text() == source.replace("p.require_grad", "p.requires_grad")
    r = cli(tmp_path, "check", "--fix", "--unsafe-fixes", "a.py")
    assert r.code == 0
    assert (tmp_path / "a.py").read_text() == source.replace("require_grad", "requires_grad")


def test_syntax_error_reported_and_run_goes_on_and_never_rewritten(cli, tmp_path):
    broken = "model.requires_grad_ = False\ndef f(:\n"
    write(tmp_path / "broken.py", broken)
    write(tmp_path / "bad.py", BAD_MODULE)
    r = cli(tmp_path, "check", "--fix", ".", "--format", "concise")
    assert "broken.py:2:7: FZ001 SyntaxError: invalid syntax" in r.out
    assert (tmp_path / "broken.py").read_text() == broken
    assert "layer.requires_grad_(False)" in (tmp_path / "bad.py").read_text()
    assert r.code == 1


def test_a_notebook_saved_as_py_says_its_magic_line_is_why_nothing_was_checked(cli, tmp_path):
    """A Kaggle or Colab export keeps `%matplotlib inline`: CPython refuses it, so the file's real
    mistakes go unchecked; the finding says so and what to do, not only 'invalid syntax'."""
    write(tmp_path / "kernel.py", "import torch\n%matplotlib inline\nfor p in m.parameters():\n"
                                  "    p.require_grad = False\n")
    write(tmp_path / "shell.py", "import os\n!pip install timm\n")
    write(tmp_path / "other.py", "x = (1 %\n")  # a `%` that is no magic: CPython's words
    r = cli(tmp_path, "check", "--no-cache", "--format", "concise", ".")
    assert r.code == 1
    lines = r.out.splitlines()
    assert lines[0] == ("kernel.py:2:1: FZ001 `%matplotlib inline` is an IPython magic, not Python, so nothing else "
                        "in this file was checked; delete the magic lines (or keep the notebook as .ipynb, whose "
                        "magics are skipped)")
    assert lines[1].startswith("other.py:1:") and "FZ001 SyntaxError:" in lines[1]
    assert lines[2].startswith("shell.py:2:1: FZ001 `!pip install timm` is an IPython magic")


def test_file_without_trigger_words_that_does_not_parse_is_fz001(cli, tmp_path):
    """The text prefilter keeps libcst off a file no rule could fire on; CPython's parser still
    sees it, so a file that does not parse is FZ001 whatever words it holds, cold and cached."""
    write(tmp_path / "plain.py", "import os\nx = os.path.join(\n")
    write(tmp_path / "calls.py", "def f(model):\n    model.train(\n")
    write(tmp_path / "ok.py", "import os\nprint(os.sep)\n")
    write(tmp_path / "top_return.py", "return 1\n")  # ast.parse accepts it (a compile-time error only)
    for extra in (["--no-cache"], [], []):  # cold, then written to and read from the cache
        r = cli(tmp_path, "check", *extra, "--format", "concise", ".")
        assert r.code == 1
        assert r.out.splitlines()[:2] == ["calls.py:2:16: FZ001 SyntaxError: '(' was never closed",
                                          "plain.py:2:17: FZ001 SyntaxError: '(' was never closed"]
        assert "Found 2 findings in 2 files." in r.out


def test_python_3_12_type_parameters_are_no_syntax_error_on_an_older_python(cli, tmp_path):
    """`def f[T](...)`, `class C[T]:` and `type X = ...` are Python 3.12 (PEP 695): CPython 3.11's
    parser refuses them, libcst's takes them, so the file is checked, not FZ001 (torch's
    testing/_internal/py312_intrinsics.py)."""
    write(tmp_path / "plain.py", "def f[T](a: T) -> T:\n    return a\n\ntype Pair[T] = tuple[T, T]\n")
    write(tmp_path / "model.py", "import torch.nn as nn\n\nclass Box[T]:\n    pass\n\n"
                                 "head = nn.Linear(4, 2)\nhead.requires_grad = False\n")
    write(tmp_path / "broken.py", "def f[T](a: T) -> T:\n    return (a\n")  # still an error: libcst refuses it too
    r = cli(tmp_path, "check", "--no-cache", "--format", "concise", ".")
    lines = [line for line in r.out.splitlines() if ": FZ" in line]
    assert [line.split(" ")[1] for line in lines] == ["FZ001", "FZ102"], r.out
    assert lines[0].startswith("broken.py:") and lines[1].startswith("model.py:7:")


def test_syntax_errors_are_reported_whatever_the_selection(cli, tmp_path):
    """As ruff does: a file that does not parse was not checked, so FZ001 shows whatever
    --select, --ignore, per-file-ignores or a `# noqa` say; naming it in an ignore warns."""
    write(tmp_path / "plain.py", "import os\nx = os.path.join(  # noqa\n")
    write(tmp_path / "calls.py", "def f(model):\n    model.requires_grad = False\n    model.train(  # noqa: FZ001\n")
    wanted = ["calls.py:3:16: FZ001 SyntaxError: '(' was never closed",
              "plain.py:2:17: FZ001 SyntaxError: '(' was never closed"]
    for flags, warns in ((["--select", "FZ1"], False), (["--select", "FZ3", "--ignore", "FZ0"], False),
                         (["--ignore", "FZ001"], True), (["--per-file-ignores", "*.py:FZ001,FZ1"], True),
                         (["--select", "FZ102", "--ignore", "FZ1"], False)):
        r = cli(tmp_path, "check", "--no-cache", "--format", "concise", *flags, ".")
        assert r.code == 1 and r.out.splitlines()[:2] == wanted, flags
        assert ("FZ001 is always reported" in r.err) == warns, (flags, r.err)
    assert "leaves no rule to run: only syntax errors (FZ001) were checked" in r.err
    write(tmp_path / "pyproject.toml", '[tool.freezelint]\nignore = ["FZ001"]\n')
    r = cli(tmp_path, "check", "--no-cache", "--format", "concise", ".")
    assert r.code == 1 and r.out.splitlines()[:2] == wanted and "FZ001 is always reported" in r.err


def test_files_without_trigger_words_are_fz001_through_the_worker_pool_too(cli, tmp_path):
    for i in range(10):  # enough files to parse that workers start; the plain ones follow
        write(tmp_path / f"a{i}.py", BAD_MODULE)
    for i in range(3):
        write(tmp_path / f"z{i}.py", f"import os\nx{i} = os.path.join(\n")
    write(tmp_path / "z_ok.py", "import os\n")
    r = cli(tmp_path, "check", "--no-cache", "--jobs", "2", "--format", "concise", ".")
    fz001 = [line for line in r.out.splitlines() if "FZ001" in line]
    assert fz001 == [f"z{i}.py:2:18: FZ001 SyntaxError: '(' was never closed" for i in range(3)]
    assert "Found 13 findings in 13 files." in r.out


def test_undecodable_file_is_fz001(cli, tmp_path):
    (tmp_path / "bin.py").write_bytes(b"x = '\xff\xfe'\nmodel.requires_grad_ = False\n")
    r = cli(tmp_path, "check", "--format", "concise", "bin.py")
    assert r.code == 1 and "FZ001 cannot decode as utf-8: byte 0xff at line 1" in r.out


def test_utf16_or_utf32_file_is_fz001_that_says_to_save_it_as_utf8(cli, tmp_path):
    source = "import torch.nn as nn\nlayer = nn.Linear(2, 2)\nlayer.requires_grad = False\n"
    (tmp_path / "u16.py").write_bytes(source.encode("utf-16"))  # with its byte-order mark, as editors save it
    (tmp_path / "u32.py").write_bytes(source.encode("utf-32"))
    (tmp_path / "nb.ipynb").write_bytes('{"cells": []}'.encode("utf-16"))
    r = cli(tmp_path, "check", "--format", "concise", "--quiet", ".")
    assert r.code == 1 and r.out.splitlines() == [
        f"{name}:1:1: FZ001 the file is {enc} (it starts with a {enc} byte-order mark), which no coding comment "
        f"makes readable: save it as UTF-8" for name, enc in (("nb.ipynb", "UTF-16"), ("u16.py", "UTF-16"),
                                                              ("u32.py", "UTF-32"))]
    (tmp_path / "u16.py").write_bytes(source.encode("utf-8"))  # saved as UTF-8: checked
    assert "u16.py:3:1: FZ102" in cli(tmp_path, "check", "--format", "concise", "u16.py").out


def test_select_ignore_extend_select(cli, tmp_path):
    write(tmp_path / "bad.py", BAD_MODULE + "layer.requires_grad_ = True\n")
    r = cli(tmp_path, "check", "--select", "FZ101", "--format", "concise", "--quiet", "bad.py")
    assert [line.split()[1] for line in r.out.splitlines()] == ["FZ101"]
    r = cli(tmp_path, "check", "--ignore", "FZ10", "bad.py")
    assert r.code == 0
    r = cli(tmp_path, "check", "--select", "FZ101", "--extend-select", "FZ102", "--format", "concise",
            "--quiet", "bad.py")
    assert sorted(line.split()[1] for line in r.out.splitlines()) == ["FZ101", "FZ102"]
    r = cli(tmp_path, "check", "--select", "FZ777", "bad.py")
    assert r.code == 2 and "unknown rule selector 'FZ777'" in r.err
    # repeated, as ruff takes them: each adds to the list (the last alone dropped FZ101 without a word)
    r = cli(tmp_path, "check", "--select", "FZ101", "--select", "FZ102", "--format", "concise", "--quiet", "bad.py")
    assert sorted(line.split()[1] for line in r.out.splitlines()) == ["FZ101", "FZ102"]
    assert cli(tmp_path, "check", "--ignore", "FZ101", "--ignore", "FZ102", "bad.py").code == 0
    write(tmp_path / "b.py", BAD_MODULE)
    r = cli(tmp_path, "check", "--exclude", "bad.py", "--exclude", "b.py", "--force-exclude", "bad.py", "b.py")
    assert r.code == 0 and "nothing was checked" in r.err


def test_rule_and_rules_commands(cli, tmp_path):
    r = cli(tmp_path, "rule", "fz101")
    assert r.code == 0 and r.out.startswith("# FZ101 requires-grad-method-assigned")
    assert "## Why is this bad?" in r.out and "# expect:" not in r.out
    r = cli(tmp_path, "rule", "FZ999")
    assert r.code == 2
    r = cli(tmp_path, "rules", "--json")
    rows = json.loads(r.out)
    assert {"FZ101", "FZ501"} <= {row["code"] for row in rows}
    assert next(row for row in rows if row["code"] == "FZ101")["found_by"].startswith("check")


def test_rules_pages_are_not_stale(tmp_path):
    from freezelint.check.docs import write_pages

    write_pages(tmp_path)
    shipped = ROOT / "rules"
    for page in sorted(tmp_path.iterdir()):
        assert (shipped / page.name).exists(), f"rules/{page.name} missing: run `freezelint rules --markdown rules/`"
        assert (shipped / page.name).read_text() == page.read_text(), (
            f"rules/{page.name} is stale: run `freezelint rules --markdown rules/`")


def test_rules_markdown_into_a_file_is_a_usage_error_not_an_internal_one(cli, tmp_path):
    write(tmp_path / "rules", "not a directory\n")
    r = cli(tmp_path, "rules", "--markdown", "rules")
    assert (r.code, r.out, r.err) == (2, "", "freezelint: error: --markdown takes a directory, and rules is a file\n")
    write(tmp_path / "docs", "not a directory either\n")
    r = cli(tmp_path, "rules", "--markdown", "docs/rules")
    assert r.code == 2 and r.err.startswith("freezelint: error: cannot write the pages to docs/rules: ") and \
        "internal error" not in r.err and r.err.count("\n") == 1, r.err


def test_python_dash_m_and_version():
    r = run_subprocess(ROOT, "--version")
    assert r.code == 0 and r.out.startswith("freezelint ")


def test_cli_never_imports_torch(tmp_path):
    write(tmp_path / "bad.py", BAD_MODULE)
    code = ("import sys; from freezelint.cli import main; rc = main(['check', '--no-cache', 'bad.py']); "
            "sys.stdout.write('TORCH' if 'torch' in sys.modules else 'NOTORCH'); ")
    p = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                       env={**os.environ, "NO_COLOR": "1"})
    assert p.stdout.endswith("NOTORCH"), p.stdout + p.stderr


def test_internal_error_is_one_line(cli, tmp_path, monkeypatch):
    import freezelint.check.runner as runner

    def boom(*a, **k):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(runner, "check_paths", boom)
    write(tmp_path / "a.py", "x = 1\n")
    r = cli(tmp_path, "check", "a.py")
    assert r.code == 2 and r.err.count("\n") == 1 and "internal error: RuntimeError: kaboom" in r.err


def test_shipped_examples_report_and_fixed_twins_are_clean(cli):
    r = cli(ROOT, "check", "--no-cache", "--format", "json", "examples")
    found = json.loads(r.out)
    by_file = {}
    for d in found:
        by_file.setdefault(os.path.basename(d["filename"]), set()).add(d["code"])
    assert r.code == 1
    for name in os.listdir(ROOT / "examples"):
        if name.endswith((".py", ".ipynb")) and "_fixed" in name:
            assert name not in by_file, f"{name} should check clean: {by_file.get(name)}"
            bad = name.replace("_fixed", "")
            assert bad in by_file, f"{bad} should have findings"
    for name in os.listdir(ROOT / "examples" / "watch"):  # their mistakes show only in a run, the fixes never
        if name.endswith("_fixed.py"):
            assert name not in by_file, f"watch/{name} should check clean: {by_file.get(name)}"
    assert by_file["finetune_loop.py"] == {"FZ303"}  # layer4 unfrozen, never added (its train() is on purpose)
    assert by_file["finetune_resnet.py"] >= {"FZ101", "FZ102", "FZ103", "FZ106"}
    assert by_file["freeze_from_checkpoint.py"] >= {"FZ104", "FZ105", "FZ401"}
    # its `isinstance(m, nn.BatchNorm2d)` covers every BatchNorm a resnet18 has: no other kind is made
    # or converted to in any file tied to it (freezelint's own sources, which name them all, are not)
    assert "FZ203" not in by_file["finetune_resnet.py"]
    # nor for runtime/bn_undone_by_train.py's SmallNet: the freezelint sources its `from freezelint import
    # audit` leads to (three imports on, through the package's re-export __init__.py) build no model of it
    assert "FZ203" not in by_file.get("bn_undone_by_train.py", set())
    assert by_file["lr_zero_freeze.py"] == {"FZ304"}
    assert by_file["bn_freeze_epoch_loop.py"] == {"FZ201"}


def test_the_fix_hint_counts_unsafe_fixes_in_when_they_were_asked_for(cli, tmp_path):
    write(tmp_path / "a.py", "from torch import nn\nmodel = nn.BatchNorm1d(2)\nmodel.eval\n")  # FZ107: unsafe
    plain = cli(tmp_path, "check", "--no-cache", "a.py")
    assert plain.code == 1 and "1 more fixable with `--unsafe-fixes`." in plain.out
    asked = cli(tmp_path, "check", "--no-cache", "--unsafe-fixes", "a.py")
    assert "[*] 1 fixable with the `--fix --unsafe-fixes` option." in asked.out
    assert "more fixable" not in asked.out


def test_a_command_another_linter_uses_or_a_typo_of_one_names_the_command_meant(cli, tmp_path):
    for words, meant in ((["explain", "FZ102"], "rule"), (["chek", "a.py"], "check"), (["audits", "x.py:make"], "audit"),
                         (["fix", "src"], "check --fix"), (["help"], "--help")):
        r = cli(tmp_path, *words)
        assert r.code == 2 and r.err.startswith(
            f"freezelint: error: unknown command {words[0]!r}: did you mean `freezelint {meant}`? (commands: "), r.err
    r = cli(tmp_path, "frobnicate")  # nothing near: the commands alone
    assert r.code == 2 and r.err.startswith("freezelint: error: unknown command 'frobnicate' (commands: check, rule")
    write(tmp_path / "explain", "import torch\n")  # a file of that name is checked, as `freezelint PATH` says
    assert cli(tmp_path, "explain").code == 0


def test_check_help_says_the_exit_codes_and_names_what_each_option_takes(cli, tmp_path):
    text = " ".join(cli(tmp_path, "check", "--help").out.split())
    assert "Exit status: 0 no findings, 1 findings (or a file that could not be checked), 2 a usage error" in text
    for shown in ("--select CODES", "--ignore CODES", "--exclude PATTERNS", "--output-file FILE", "--config FILE",
                  "--cache-dir DIR", "--jobs N"):
        assert shown in text, shown
    assert "SELECT" not in text and "OUTPUT_FILE" not in text


def test_a_rule_is_found_by_the_name_rules_lists_too(cli, tmp_path):
    by_code = cli(tmp_path, "rule", "FZ102").out
    assert by_code.startswith("# FZ102 requires-grad-on-module")
    assert cli(tmp_path, "rule", "requires-grad-on-module").out == by_code
    assert cli(tmp_path, "rule", "Requires-Grad-On-Module").out == by_code
    r = cli(tmp_path, "rule", "requires-grad-on-modules")
    assert r.code == 2 and r.err == "freezelint: error: unknown rule 'requires-grad-on-modules'; `freezelint rules` lists them\n"


def test_an_unknown_option_points_at_its_own_command_help(cli, tmp_path):
    write(tmp_path / "a.py", "x = 1\n")
    for words, command in ((["check", "--bogus", "a.py"], "check"), (["--bogus", "a.py"], "check"),
                           (["rules", "--format", "json"], "rules"), (["audit", "--bogus", "a.py:make"], "audit")):
        r = cli(tmp_path, *words)
        assert r.code == 2 and r.err.endswith(f"(see `freezelint {command} --help`)\n"), r.err


def test_the_fix_hint_names_the_option_not_a_command_that_would_fix_the_whole_directory(cli, tmp_path):
    """`freezelint check --fix` run as the hint said, after a check of one file, would rewrite every
    file under the working directory: the hint names the option to add to the command just run."""
    write(tmp_path / "a.py", BAD_MODULE)
    write(tmp_path / "b.py", BAD_MODULE)
    r = cli(tmp_path, "check", "--no-cache", "a.py")
    assert r.out.splitlines()[-1] == "[*] 1 fixable with the `--fix` option."
    assert "freezelint check --fix" not in r.out


def test_named_files_of_another_kind_are_a_note_and_scripts_without_a_suffix_are_python(cli, tmp_path):
    """`freezelint check *` in a project root names README.md and pyproject.toml: neither is read
    as Python (ruff lints neither as Python). A file with no suffix, or one not known, is Python."""
    write(tmp_path / "README.md", "# Title\n\nSome *text* `model.requires_grad = False`\n")
    write(tmp_path / "pyproject.toml", "[project]\nname = 'x'\n")
    write(tmp_path / "setup.cfg", "[metadata]\nname = x\n")
    write(tmp_path / "LICENSE", "MIT License\n\nPermission is hereby granted\n")
    write(tmp_path / "deploy", "#!/usr/bin/env bash\nset -e\necho done\n")
    write(tmp_path / "train", "#!/usr/bin/env python3\n" + BAD_MODULE.lstrip("\n"))
    write(tmp_path / "job.pyw", BAD_MODULE)
    write(tmp_path / "model.py", "x = 1\n")
    names = sorted(p.name for p in tmp_path.iterdir())
    r = cli(tmp_path, "check", "--format", "concise", *names)
    assert r.code == 1 and [line.split(":")[0] for line in r.out.splitlines() if "FZ102" in line] == ["job.pyw", "train"]
    assert "FZ001" not in r.out
    assert r.err.splitlines() == [
        "freezelint: note: LICENSE: not checked: LICENSE is not Python",
        "freezelint: note: README.md: not checked: .md files are not Python",
        "freezelint: note: deploy: not checked: a bash script (its #! line), not Python",
        "freezelint: note: pyproject.toml: not checked: .toml files are not Python",
        "freezelint: note: setup.cfg: not checked: .cfg files are not Python"]
    assert cli(tmp_path, "check", "--quiet", *names).err == ""
    r = cli(tmp_path, "check", "README.md")  # nothing else named: nothing checked, as ruff says, exit 0
    assert r.code == 0 and r.err.splitlines() == [
        "freezelint: note: README.md: not checked: .md files are not Python",
        "freezelint: warning: no Python files found under the given paths: nothing was checked"]
    r = run_subprocess(tmp_path, "check", "--format", "concise", "-", "--stdin-filename", "notes.txt",
                       stdin=BAD_MODULE.lstrip("\n"))  # the way to check such a file as Python
    assert r.code == 1 and r.out.startswith("notes.txt:3:1: FZ102")


def test_a_named_binary_file_without_a_python_suffix_is_a_note_not_an_encoding_error(cli, tmp_path):
    """Random bytes named on the command line (`check *` in a folder holding a blob): binary, as a
    .so or .pt is, not FZ001's advice to declare an encoding. A .py holding a NUL stays FZ001."""
    import random

    rng = random.Random(0)
    blob = bytes(rng.randrange(256) for _ in range(2000))
    assert b"\0" in blob
    (tmp_path / "blob").write_bytes(blob)
    (tmp_path / "late").write_bytes(b"#!/usr/bin/env python3\n" + b"# " + b"x" * 9000 + b"\n\0\n")  # past the sniff
    (tmp_path / "nul.py").write_bytes(b"import torch\0\n")
    (tmp_path / "wide").write_bytes("import torch\n".encode("utf-16"))  # text, though NULs: FZ001 says why
    r = cli(tmp_path, "check", "--no-cache", "--format", "concise", "blob", "late", "nul.py", "wide")
    assert r.err.splitlines() == ["freezelint: note: blob: not checked: a binary file (a NUL byte in its first 8 kB), "
                                  "not Python"]
    assert [line.split(":")[0] for line in r.out.splitlines() if "FZ001" in line] == ["late", "nul.py", "wide"]
    assert "save it as UTF-8" in r.out
    assert "declare the file's encoding" not in r.out
    r = cli(tmp_path, "check", "--no-cache", "blob")
    assert r.code == 0 and "no Python files found" in r.err
