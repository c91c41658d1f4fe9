"""A message or fix title names another rule's code only where the run reports that code (trial 36:
`ignore = ["FZ101"]`, and FZ103 still said "... FZ101: fix both together"); it says what the code does
either way. FZ301's naming of a broken freeze's code: tests/test_rule_messages.py."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from freezelint.check.engine import check_source

STORED_AND_READ = textwrap.dedent("""
    import torch.nn as nn
    model = nn.Linear(2, 2)
    for p in model.parameters():
        p.requires_grad_ = False
    params = [p for p in model.parameters() if p.requires_grad_]
    """).lstrip()

_CODE = re.compile(r"FZ\d{3}")


def _texts(select: list[str]) -> dict[str, tuple[str, str]]:
    return {d.code: (d.message, (d.fix or {}).get("message", "")) for d in check_source(STORED_AND_READ, select=select)}


def test_fz103_names_no_fz101_the_run_does_not_report():
    message, fix = _texts(["FZ103"])["FZ103"]
    assert "(the file also assigns `.requires_grad_ = ...`, which stores a value in place of the method: until " \
           "those assignments are calls this reads the stored value; fix both together)" in message
    assert fix == "Read `p.requires_grad` (right once the assignments to `.requires_grad_` are calls)"
    assert not _CODE.search(message + fix)


def test_fz101_and_fz103_name_each_other_when_both_are_reported():
    found = _texts(["FZ101", "FZ103"])
    assert "the file also assigns `.requires_grad_ = ...` (FZ101), which stores" in found["FZ103"][0]
    assert found["FZ101"][1].endswith("(the file reads `.requires_grad_` back as a value: fix those reads with it, "
                                      "FZ103)")
    fz101_alone = _texts(["FZ101"])["FZ101"][1]
    assert fz101_alone.endswith("fix those reads with it)") and "FZ103" not in fz101_alone


def test_project_ignore_reaches_the_message(cli, tmp_path: Path):
    """The trial's layout: pyproject.toml ignores FZ101, the CLI checks the file."""
    (tmp_path / "pyproject.toml").write_text('[tool.freezelint]\nignore = ["FZ101"]\n')
    (tmp_path / "t.py").write_text(STORED_AND_READ)
    out = cli(tmp_path, "check", "--no-cache", "--format", "concise", "t.py").out
    lines = [line for line in out.splitlines() if line.startswith("t.py:")]
    assert [line.split()[1] for line in lines] == ["FZ103"], out
    assert "FZ101" not in lines[0] and "fix both together" in lines[0]
