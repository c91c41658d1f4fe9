"""A file checked in its project costs little more than alone where the other files cannot change
its findings: the text tests that come before a summary read a helper's code, not its docstring or
comments."""

from __future__ import annotations

import json
from pathlib import Path

from freezelint.check import summaries
from freezelint.check.project import Project

from conftest import write

TRAIN = """
import torch
import torchvision
from bnutil import freeze_bn
from report import log_model

model = torchvision.models.resnet18()
freeze_bn(model)
log_model(model)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for x, y in loader:
    model.train()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()
"""

BNUTIL = """
import torch.nn as nn


def freeze_bn(model):
    \"\"\"Put the BatchNorm layers in eval mode.\"\"\"
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()
"""

# words of what summaries record only in its docstring and a comment: a print is all it does
REPORT = '''
def log_model(model, out=None):
    """Print the model. Call it before `model.train()`, or after `model.eval()`; it keeps
    `requires_grad` as it is."""
    print(model, file=out)  # not model.train(): a report changes nothing
'''


def _project(tmp_path: Path, report: str) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    write(tmp_path / "train.py", TRAIN)
    write(tmp_path / "bnutil.py", BNUTIL)
    write(tmp_path / "report.py", report)
    return tmp_path


def _check(cli, root: Path, monkeypatch) -> tuple[list, list[str]]:
    """The findings of `check train.py` in place, and the files it summarised."""
    summarised: list[str] = []
    summarise = summaries.summarise_text

    def counted(text):
        summarised.append("report" if "def log_model" in text else "bnutil" if "def freeze_bn" in text else "?")
        return summarise(text)

    monkeypatch.setattr(summaries, "summarise_text", counted)
    r = cli(root, "check", "--no-cache", "--format", "json", "train.py")
    assert r.code in (0, 1), r.err
    return sorted((d["location"]["row"], d["code"]) for d in json.loads(r.out)), summarised


def test_a_helper_naming_train_only_in_its_docstring_is_not_summarised(cli, tmp_path, monkeypatch):
    """report.py's `log_model` says `model.train()` and `requires_grad` in its docstring and a
    comment only: its file is not parsed to learn it does nothing to the model (trial 39: a
    docstring's `model.eval()` cost a 19,000-line summary). The findings are those of a helper
    without such words, and bnutil.py's freeze (in its code) is still followed."""
    root = _project(tmp_path, REPORT)
    found, summarised = _check(cli, root, monkeypatch)
    assert "report" not in summarised
    assert "bnutil" in summarised
    assert (11, "FZ201") in found  # model.train() undoes freeze_bn's BatchNorm freeze
    plain = REPORT.replace("model.train()", "a train step").replace("model.eval()", "evaluation") \
        .replace("requires_grad", "the flags")
    assert _check(cli, _project(tmp_path, plain), monkeypatch)[0] == found


def test_a_helper_that_trains_in_its_code_is_still_summarised(cli, tmp_path, monkeypatch):
    """The same helper with `model.train()` in its code, after the docstring: summarised, and
    what it does reaches the caller's findings."""
    report = REPORT.replace("    print(model, file=out)", "    model.train()\n    print(model, file=out)")
    root = _project(tmp_path, report)
    found, summarised = _check(cli, root, monkeypatch)
    assert "report" in summarised
    assert (8, "FZ201") in found  # log_model(model) puts the frozen BatchNorm back in train mode


def test_code_blanks_docstrings_and_comments_but_keeps_f_strings_and_offsets(tmp_path):
    text = ('def f(model):\n    """model.train()\n"""\n    x = "model.eval()"  # model.train()\n'
            '    y = f"""{model.train()}"""\n    return x\n')
    path = write(tmp_path / "m.py", text)
    project = Project.for_paths([path])
    outline = project.outline(path)
    from freezelint.check.project import _code

    code = _code(outline)
    assert len(code) == len(text) and code.count("\n") == text.count("\n")
    assert code.count("model.train()") == 1 and "{model.train()}" in code  # the f-string's is code
    assert '"model.eval()"' in code  # a one-line string may be an argument (`setattr(p, "requires_grad", ...)`)
    assert project.might_act(path, "f")
