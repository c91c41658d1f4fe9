"""FZ202's whole-model freeze and a change that picks modules: `model.apply(fn)` of a function that picks,
or a loop over `model.modules()` under a test on the module. A helper of another file that freezes only the
modules it picks (the Linear layers) does not freeze the model whole, in either form: its BatchNorm layers are
not frozen, so nothing is said of them. After a whole freeze, a loop that unfreezes only layers that hold no
BatchNorm (`isinstance(m, nn.Linear)`) leaves every BatchNorm layer frozen: the finding stays; one that
unfreezes modules picked by their names may train BatchNorm layers again, and keeps it silent, as
`model.apply(fn)` of a function that unfreezes what it picks does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import write
from freezelint.check.engine import check_source

TRAINED = """
import torch
import torch.nn as nn
import torchvision


def run(loader):
    model = torchvision.models.resnet18()
    for p in model.parameters():
        p.requires_grad = False
{loop}
    optimizer = torch.optim.SGD(filter(lambda p: p.requires_grad, model.parameters()), lr=0.1, momentum=0.9)
    model.train()
    for x in loader:
        optimizer.zero_grad()
        model(x).sum().backward()
        optimizer.step()
"""


def _rows(loop: str) -> list[int]:
    source = TRAINED.format(loop=loop.strip("\n"))
    compile(source, "x.py", "exec")
    return [d.row for d in check_source(source, select=["FZ202"])]


def test_an_unfreeze_of_layers_holding_no_batchnorm_leaves_the_finding():
    assert _rows("""
    for m in model.modules():
        if isinstance(m, nn.Linear):
            m.requires_grad_(True)""") == [10]  # at the whole freeze


@pytest.mark.parametrize("loop", [
    """
    for name, m in model.named_modules():
        if name.startswith('layer4'):
            for p in m.parameters():
                p.requires_grad = True""",
    """
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.requires_grad_(True)""",
])
def test_an_unfreeze_that_may_reach_batchnorm_is_silent(loop):
    assert _rows(loop) == []


HELPERS = """
import torch.nn as nn


def _freeze_linear(m):
    if isinstance(m, nn.Linear):
        m.requires_grad_(False)


def freeze_applied(model):
    model.apply(_freeze_linear)


def freeze_looped(model):
    for m in model.modules():
        if isinstance(m, nn.Linear):
            for p in m.parameters():
                p.requires_grad = False


def freeze_all(model):
    for p in model.parameters():
        p.requires_grad = False
"""

TRAIN = """
import torch
import torchvision
from helpers import freeze_applied, freeze_looped, freeze_all


def run(loader):
    model = torchvision.models.resnet18()
    {call}(model)
    optimizer = torch.optim.SGD(filter(lambda p: p.requires_grad, model.parameters()), lr=0.1, momentum=0.9)
    model.train()
    for x in loader:
        optimizer.zero_grad()
        model(x).sum().backward()
        optimizer.step()
"""


def _cli_rows(cli, root: Path, call: str) -> list[int]:
    write(root / "pyproject.toml", "")
    write(root / "helpers.py", HELPERS)
    write(root / "train.py", TRAIN.format(call=call))
    r = cli(root, "check", "--no-cache", "--format", "json", "--select", "FZ202", "train.py")
    assert r.code in (0, 1), r.err
    return [d["location"]["row"] for d in json.loads(r.out)]


@pytest.mark.parametrize("call,rows", [
    ("freeze_all", [8]),  # the whole model, by the helper of another file
    ("freeze_applied", []),  # only the Linear layers it picks
    ("freeze_looped", []),
])
def test_a_helper_of_another_file_that_picks_does_not_freeze_the_model_whole(cli, tmp_path, call, rows):
    assert _cli_rows(cli, tmp_path, call) == rows
