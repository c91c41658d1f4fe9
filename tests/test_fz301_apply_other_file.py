"""FZ301 through `model.apply(fn)` where `fn` is imported from another file of the project: what a direct
call `fn(model)` takes over from its summary (a freeze of what it is given) is done to some modules of the
receiver, which not known. A file that names no freezing word itself is checked for it (the text test admits
a project function handed to `apply`). A function that only puts BatchNorm in eval mode, one whose freeze
sits under a flag left at its default, and an unfreeze after it stay silent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import write

HELPERS = """
import torch.nn as nn


def freeze_backbone(m):
    classname = m.__class__.__name__
    for ntl in ["EfficientNet", "BiFPN"]:
        if ntl in classname:
            for param in m.parameters():
                param.requires_grad = False


def set_bn_eval(m):
    classname = m.__class__.__name__
    if classname.find("BatchNorm") != -1:
        m.eval()


def freeze_if(m, on=False):
    if on:
        m.requires_grad_(False)


def unfreeze_all(m):
    m.requires_grad_(True)
"""

TRAIN = """
import torch
import torchvision
from helpers import freeze_backbone, set_bn_eval, freeze_if, unfreeze_all


def main(opt):
    model = torchvision.models.efficientnet_b0()
    {apply}
    optimizer = torch.optim.AdamW(model.parameters(), opt.lr)
    return optimizer
"""


def _found(cli, root: Path, apply: str) -> list[tuple[str, int]]:
    write(root / "pyproject.toml", "")
    write(root / "helpers.py", HELPERS)
    write(root / "train.py", TRAIN.format(apply=apply))
    r = cli(root, "check", "--no-cache", "--format", "json", "--select", "FZ301", "train.py")
    assert r.code in (0, 1), r.err
    return [(d["code"], d["location"]["row"], d["message"]) for d in json.loads(r.out)]


def test_an_imported_freeze_of_the_modules_it_picks_fires(cli, tmp_path):
    [(code, row, message)] = _found(cli, tmp_path, "model.apply(freeze_backbone)")
    assert (code, row) == ("FZ301", 9)  # the optimizer (write drops the leading blank line)
    assert "part of `model` is frozen (in the modules `model.apply(freeze_backbone)` picks)" in message


@pytest.mark.parametrize("apply", [
    "model.apply(set_bn_eval)",  # modes only
    "model.apply(freeze_if)",  # its flag off by default
    "model.apply(freeze_backbone)\n    model.apply(unfreeze_all)",  # may set back every parameter
    "model.apply(freeze_backbone)\n    model.requires_grad_(True)",
])
def test_imported_near_misses(cli, tmp_path, apply):
    assert _found(cli, tmp_path, apply) == []
