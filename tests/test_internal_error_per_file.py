"""A rule that raises on one file (a bug of freezelint's) is reported for that file, in one line
naming the file, the rule and the exception, and every other file is still checked and reported;
the run exits 2. Nothing is cached or written for the file whose check raised (as ruff does with
a panic in one file)."""

from __future__ import annotations

import pytest

from freezelint.check.rules.fz102_requires_grad_on_module import RequiresGradOnModule

from conftest import write

MODULE = """
import torch.nn as nn
layer = nn.Linear(2, 2)
layer.requires_grad = False
"""
MARK = "# the file the rule breaks on\n"


@pytest.fixture
def broken_on_b(monkeypatch):
    """FZ102 raises KeyError on the file that starts with MARK (on its first pass, or with
    `after_fix`, only once a fix has been applied to it)."""
    check = RequiresGradOnModule.check

    def install(after_fix: bool = False):
        def broken(self, facts, module):
            code = module.code
            if code.startswith(MARK) and (not after_fix or "requires_grad_(False)" in code):
                raise KeyError("filtered")
            return check(self, facts, module)

        monkeypatch.setattr(RequiresGradOnModule, "check", broken)

    return install


def _three(tmp_path):
    write(tmp_path / "a.py", MODULE)
    (tmp_path / "b.py").write_text(MARK + MODULE.lstrip("\n"))
    write(tmp_path / "c.py", MODULE)
    return tmp_path


def test_the_other_files_are_reported_and_the_error_names_the_file_and_the_rule(cli, tmp_path, broken_on_b):
    broken_on_b()
    root = _three(tmp_path)
    r = cli(root, "check", "--no-cache", "--format", "concise", ".")
    assert r.code == 2
    assert "a.py:3:1: FZ102" in r.out and "c.py:3:1: FZ102" in r.out and "b.py" not in r.out
    errors = [line for line in r.err.splitlines() if "b.py" in line]
    assert errors == ["freezelint: b.py: internal error in FZ102: KeyError: 'filtered' (a bug in freezelint: "
                      "please report it, with this file if you can; --verbose shows the traceback)"]
    assert "Traceback" not in r.err
    verbose = cli(root, "check", "--no-cache", "--verbose", ".")
    assert verbose.code == 2 and "Traceback (most recent call last)" in verbose.err and 'raise KeyError("filtered")' \
        in verbose.err
    assert cli(root, "check", "--no-cache", "--exit-zero", ".").code == 2  # a bug is no finding to wave through


def test_no_result_is_cached_for_the_file_whose_check_raised(cli, tmp_path, broken_on_b, monkeypatch):
    root = _three(tmp_path)
    check = RequiresGradOnModule.check
    broken_on_b()
    cache = ["--cache-dir", str(tmp_path / ".cache"), "--format", "concise"]
    assert cli(root, "check", *cache, ".").code == 2
    monkeypatch.setattr(RequiresGradOnModule, "check", check)  # the bug fixed: b.py is checked now
    r = cli(root, "check", *cache, ".")
    assert r.code == 1 and "b.py:4:1: FZ102" in r.out, r.out + r.err


@pytest.mark.parametrize("after_fix", [False, True], ids=["check", "recheck-after-fix"])
def test_fix_writes_the_other_files_and_leaves_the_one_whose_check_raised(cli, tmp_path, broken_on_b, after_fix):
    broken_on_b(after_fix)
    root = _three(tmp_path)
    before = (root / "b.py").read_bytes()
    r = cli(root, "check", "--no-cache", "--fix", ".")
    assert r.code == 2 and "freezelint: b.py: internal error in FZ102" in r.err
    assert (root / "b.py").read_bytes() == before
    for name in ("a.py", "c.py"):
        assert "layer.requires_grad_(False)" in (root / name).read_text()
