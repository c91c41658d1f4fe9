"""A file too large to check in reasonable time (a generated table) is left out with a note that
names it, its size and how to check it anyway: it never stalls a pre-commit run, never fails it,
and never reads as checked. The limit is lowered here so the tests write small files."""

from __future__ import annotations

import io
import json
import sys

import pytest
from conftest import BAD_MODULE, write

from freezelint.check import runner
from freezelint.config import parse_size, size_text

BIG = BAD_MODULE + "x = 1  # padding\n" * 40  # about 800 bytes, one FZ102


@pytest.fixture
def big(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "MAX_PARSE_BYTES", 512)
    write(tmp_path / "big.py", BIG)
    write(tmp_path / "small.py", BAD_MODULE)
    return tmp_path


def _note(err: str) -> str:
    lines = [line for line in err.splitlines() if "big.py" in line]
    assert len(lines) == 1, err
    return lines[0]


def test_a_file_over_the_limit_is_left_out_with_a_note_naming_it_its_size_and_the_way_to_check_it(cli, big):
    r = cli(big, "check", "--no-cache", "big.py", "small.py")
    size = (big / "big.py").stat().st_size
    assert _note(r.err) == (f"freezelint: note: big.py: not checked: {size_text(size, up=True)} is over the "
                            f"max-file-size of 512 bytes (parsing takes about 10 s a MB); to check it, pass "
                            f"--max-file-size 1MB (or 0 for no limit), or set max-file-size in [tool.freezelint]")
    assert "small.py:3:1: FZ102" in r.out and "big.py:" not in r.out
    assert "1 file over the max-file-size was not checked (see the note above)." in r.out.splitlines()
    assert r.code == 1  # small.py's finding; the note alone fails nothing


def test_a_run_whose_only_file_is_over_the_limit_exits_0_and_does_not_say_all_passed(cli, big):
    r = cli(big, "check", "--no-cache", "big.py")
    assert r.code == 0 and "All checks passed" not in r.out
    assert r.out == "1 file over the max-file-size was not checked (see the note above).\n"
    assert "no Python files" not in r.err  # it was found, and said why it was left out


@pytest.mark.parametrize("fmt", ["text", "concise", "json", "github", "sarif", "junit"])
def test_every_format_reports_the_skip_as_other_files_left_out_are(cli, big, fmt):
    """As a `.so` named on the command line: a note on stderr, nothing in the report's findings."""
    (big / "lib.so").write_bytes(b"\x7fELF\x00")
    r = cli(big, "check", "--no-cache", "--format", fmt, "big.py", "lib.so")
    assert "note: lib.so: not checked" in r.err and "not checked:" in _note(r.err) and r.code == 0
    if fmt == "json":
        assert json.loads(r.out) == []
    if fmt == "sarif":
        assert json.loads(r.out)["runs"][0]["invocations"][0]["executionSuccessful"] is True


def test_the_flag_and_the_config_key_check_it_anyway(cli, big):
    for args in (["--max-file-size", "0"], ["--max-file-size", "1MB"], ["--max-file-size", "2048"]):
        r = cli(big, "check", "--no-cache", *args, "big.py")
        assert r.code == 1 and "big.py:3:1: FZ102" in r.out and "note" not in r.err, args
    write(big / "pyproject.toml", '[tool.freezelint]\nmax-file-size = "1kB"\n')
    r = cli(big, "check", "--no-cache", "big.py")
    assert r.code == 1 and "big.py:3:1: FZ102" in r.out
    r = cli(big, "check", "--no-cache", "--max-file-size", "100", "big.py")  # the flag over the file
    assert r.code == 0 and "of 100 bytes" in _note(r.err)


def test_a_size_that_means_nothing_is_a_usage_error(cli, big):
    r = cli(big, "check", "--max-file-size", "3x", "big.py")
    assert r.code == 2 and "--max-file-size must be a size such as 2MB" in r.err
    write(big / "pyproject.toml", "[tool.freezelint]\nmax-file-size = -5\n")
    r = cli(big, "check", "big.py")
    assert r.code == 2 and "max-file-size must be a size" in r.err and "pyproject.toml" in r.err


def test_sizes_read_as_the_messages_write_them():
    assert [parse_size(v) for v in (0, 2048, "2MB", "2 mb", "512kB", "1.5MiB", "100")] == \
        [0, 2048, 2 * 2**20, 2 * 2**20, 512 * 1024, 3 * 2**19, 100]
    for bad in (-1, True, 1.5, "", "MB", "2 TB", "-2MB"):
        with pytest.raises(ValueError):
            parse_size(bad)
    assert [size_text(n) for n in (100, 1024, 1536, 2**20, 6_577_845)] == \
        ["100 bytes", "1 kB", "1.5 kB", "1 MB", "6.3 MB"]
    assert size_text(2**20 + 1000, up=True) == "1.1 MB"  # just over a limit of 1 MB never reads "1 MB"
    assert runner.size_limit(None) == runner.MAX_PARSE_BYTES and runner.size_limit(0) is None


def test_the_default_limit_is_one_megabyte():
    # what libcst parses in 10-15 s of CPU and under 1 GB (benchmarks/README.md)
    assert runner.MAX_PARSE_BYTES == 2**20


def test_a_file_over_the_limit_is_left_out_though_its_result_is_cached(cli, big):
    r = cli(big, "check", "--max-file-size", "0", "big.py")
    assert r.code == 1 and "FZ102" in r.out
    r = cli(big, "check", "big.py")  # the index knows the file: the limit is still asked first
    assert r.code == 0 and "not checked" in _note(r.err) and "FZ102" not in r.out


def test_stdin_over_the_limit_is_left_out_and_handed_back(cli, big, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(BIG.encode())))
    r = cli(big, "check", "--fix", "--stdin-filename", "big.py", "-")
    assert r.code == 0 and r.out == BIG and "note: big.py: not checked" in r.err


def test_the_api_lists_the_skip_with_the_files_left_out(big):
    from freezelint.config import load

    run = runner.check_paths([str(big / "big.py")], load(cwd=big), use_cache=False)
    assert run.oversized == 1 and not run.errors and not run.diagnostics
    assert [(s.path.endswith("big.py"), s.level) for s in run.left_out] == [(True, "note")]


def _notebook(source: str, output: str = "") -> str:
    cell = {"cell_type": "code", "source": source, "metadata": {}, "execution_count": 1,
            "outputs": [{"output_type": "display_data", "data": {"image/png": output}, "metadata": {}}]}
    return json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def test_a_notebook_is_measured_by_its_cells_source_not_its_outputs(cli, big):
    write(big / "plots.ipynb", _notebook(BAD_MODULE, "iVBORw0KGgo" * 200))  # a 2 kB image, a small cell
    write(big / "table.ipynb", _notebook(BIG))
    r = cli(big, "check", "--no-cache", "--format", "concise", "plots.ipynb", "table.ipynb")
    assert "plots.ipynb:cell 1:4:1: FZ102" in r.out and "table.ipynb" not in r.out, r.out
    note = [line for line in r.err.splitlines() if "table.ipynb" in line]
    assert len(note) == 1 and "not checked: its cells' " in note[0] and "of source are over the max-file-size" in note[0]


HELPER = ("def freeze_encoder(model):\n    for p in model.encoder.parameters():\n        p.requires_grad = False\n"
          + "TABLE = [\n" + "    1,\n" * 200 + "]\n")  # over 1 kB: a generated table beside the helper
TRAIN = "import torch\nfrom helpers import freeze_encoder\n\nfreeze_encoder(model)\nopt = torch.optim.AdamW(model.parameters())\n"


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_project_file_over_the_limit_is_not_summarised_for_the_files_that_import_it(cli, tmp_path, jobs):
    # the importing file is checked; what the big module it imports does is not read (no parse of it),
    # as the module itself is not checked: FZ301 through its helper needs the limit raised
    write(tmp_path / "pyproject.toml", "")
    write(tmp_path / "helpers.py", HELPER)
    for i in range(runner.POOL_MIN_FILES if jobs == "2" else 1):
        write(tmp_path / f"train{i}.py", TRAIN)
    assert len(TRAIN) < 512 < len(HELPER)
    limited = cli(tmp_path, "check", "--no-cache", "--format", "concise", "--jobs", jobs, "--max-file-size", "512", ".")
    assert "FZ301" not in limited.out and "helpers.py: not checked" in limited.err, (limited.out, limited.err)
    unlimited = cli(tmp_path, "check", "--no-cache", "--format", "concise", "--jobs", jobs, "--max-file-size", "0", ".")
    assert unlimited.out.count(": FZ301 ") == (runner.POOL_MIN_FILES if jobs == "2" else 1), unlimited.out


def test_a_large_file_no_rule_needs_gets_no_note_and_keeps_its_syntax_check(cli, big):
    # a generated module with nothing of torch in it: only CPython's parser reads it (a second, not
    # minutes), so it is checked as any such file is, with no note; a syntax error in it is still FZ001
    write(big / "table.py", "TABLE = [\n" + "    1,\n" * 200 + "]\n")
    write(big / "broken.py", "TABLE = [\n" + "    1,\n" * 200 + "\n")
    assert (big / "table.py").stat().st_size > 512
    r = cli(big, "check", "--no-cache", "--format", "concise", "table.py", "broken.py")
    assert "note" not in r.err and "table.py" not in r.out, (r.out, r.err)
    assert "broken.py:1:9: FZ001" in r.out, r.out
