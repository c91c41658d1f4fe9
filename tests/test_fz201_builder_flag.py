"""FZ201 through a builder whose BatchNorm freeze sits under `if freeze_bn:` on a parameter of its own:
a call that leaves the flag at its False default or passes False gets a model in train mode, nothing to
undo (a Module's `__init__` storing it, a local stored, a script's `model.train()`); a call that passes
True, or a setting that may be True, gets the freeze."""

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
