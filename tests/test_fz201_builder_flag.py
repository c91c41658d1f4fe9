"""FZ201 through a builder whose BatchNorm freeze sits under `if freeze_bn:` on a parameter of its own:
a call that leaves the flag at its False default or passes False gets a model in train mode, nothing to
undo (a Module's `__init__` storing it, a local stored, a script's `model.train()`); a call that passes
True, or a setting that may be True, gets the freeze; so too with the builder in a file of its own, the flag
passed by position or by name."""

from __future__ import annotations

import textwrap

import pytest

from freezelint import codes
from freezelint.check.engine import check_text

ALL_STATIC = frozenset(c for c, i in codes.CATALOGUE.items() if i.static)

BUILDER = """
import torch.nn as nn
import torchvision


def set_bn_eval(m):
    if isinstance(m, nn.BatchNorm2d):
        m.eval()


def get_model(freeze_bn=False):
    model = torchvision.models.resnet18()
    if freeze_bn:
        model.apply(set_bn_eval)
    return model
"""

USES = {
    "init": """
class Detector(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.model = get_model({args})
""",
    "local": """
class Detector(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        model = get_model({args})
        self.model = model
""",
    "script": """
def main(loader, cfg):
    model = get_model({args})
    model.train()
    for x in loader:
        model(x)
""",
}


def _fz201(use: str, args: str) -> list:
    src = BUILDER + USES[use].format(args=args)
    return [d for d in check_text(textwrap.dedent(src), "ex.py", ALL_STATIC, force=True).diagnostics
            if d.code == "FZ201"]


@pytest.mark.parametrize("use", sorted(USES))
@pytest.mark.parametrize("args", ["", "freeze_bn=False", "False", "freeze_bn=None"])
def test_a_builder_told_not_to_freeze_is_silent(use, args):
    assert _fz201(use, args) == []


@pytest.mark.parametrize("use", sorted(USES))
@pytest.mark.parametrize("args", ["freeze_bn=True", "cfg.freeze_bn"])
def test_a_builder_that_may_freeze_is_reported(use, args):
    assert len(_fz201(use, args)) == 1


def test_a_builder_that_freezes_on_every_path_is_reported_whatever_the_flag():
    src = BUILDER.replace("    if freeze_bn:\n        model.apply(set_bn_eval)", "    model.apply(set_bn_eval)") \
        + USES["init"].format(args="freeze_bn=False")
    found = [d for d in check_text(textwrap.dedent(src), "ex.py", ALL_STATIC, force=True).diagnostics
             if d.code == "FZ201"]
    assert len(found) == 1


TRAINER = """
class Trainer:
    def __init__(self, cfg):
        self.model = get_model({args})
{more}
    def fit(self, loader):
        for epoch in range(3):
            self.model.train()
            for x in loader:
                self.model(x).sum().backward()
"""


@pytest.mark.parametrize("args,more,fires", [
    ("True", "", True),
    ("freeze_bn=cfg.freeze_bn", "", True),
    ("", "", False),
    ("False", "", False),
    # the model the builder froze is replaced before any method runs
    ("True", "        self.model = nn.Linear(2, 2)\n", False),
], ids=["true", "setting", "default", "false", "replaced"])
def test_a_trainer_that_stores_the_built_model_and_trains_it(args, more, fires):
    src = BUILDER + TRAINER.format(args=args, more=more)
    found = [d for d in check_text(textwrap.dedent(src), "ex.py", ALL_STATIC, force=True).diagnostics
             if d.code == "FZ201"]
    assert [d.row for d in found] == ([src.count("\n", 0, src.index("self.model.train()")) + 1] if fires else [])


def test_a_flag_left_false_leaves_batchnorm_in_train_mode():
    torchvision = pytest.importorskip("torchvision")
    nn = pytest.importorskip("torch").nn

    def set_bn_eval(m):
        if isinstance(m, nn.BatchNorm2d):
            m.eval()

    def get_model(freeze_bn=False):
        model = torchvision.models.resnet18()
        if freeze_bn:
            model.apply(set_bn_eval)
        return model

    assert get_model().bn1.training
    assert not get_model(True).bn1.training


# the builder in a file of its own, its freeze handed to Module.apply; the model held by a Module or trained
BUILDER_FILE = BUILDER
HOLDER_FILE = """import torch
import torch.nn as nn
from model import get_model


class Detector(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.model = get_model({args})

    def forward(self, x):
        return self.model(x)
"""
LOOP_FILE = """import torch
from model import get_model


def main(loader):
    model = get_model({args})
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for epoch in range(3):
        model.train()
        for x in loader:
            model(x).sum().backward()
            opt.step()
"""


# a trainer (no Module) whose __init__ stores the built model and whose fit() trains it with train()
TRAINER_FILE = """import torch
from model import get_model


class Trainer:
    def __init__(self, cfg):
        self.model = get_model({args})
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.1)

    def fit(self, loader):
        for epoch in range(3):
            self.model.train()
            for x in loader:
                self.model(x).sum().backward()
                self.opt.step()
"""


@pytest.mark.parametrize("user,row", [(HOLDER_FILE, 9), (LOOP_FILE, 9), (TRAINER_FILE, 12)],
                         ids=["held", "trained", "trainer"])
@pytest.mark.parametrize("args,fires", [
    ("True", True),
    ("freeze_bn=True", True),
    ("cfg.freeze_bn", True),
    ("", False),
    ("False", False),
    ("freeze_bn=False", False),
])
def test_a_builder_of_another_file(cli, tmp_path, user, row, args, fires):
    import json
    from pathlib import Path

    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (tmp_path / "model.py").write_text(textwrap.dedent(BUILDER_FILE))
    (tmp_path / "detector.py").write_text(user.format(args=args))
    r = cli(tmp_path, "check", "--format", "json", ".")
    assert r.code in (0, 1), r.err
    found = [(Path(d["filename"]).name, d["location"]["row"], d["code"]) for d in json.loads(r.out)]
    assert found == ([("detector.py", row, "FZ201")] if fires else [])
