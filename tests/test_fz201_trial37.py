"""FZ201 cases of trial 37: a BatchNorm freeze that walks `mods = model.modules()` (Chinese-CLIP's
freeze_vision_bn), and `.eval()` chained onto the assignment that builds a frozen submodule."""

from __future__ import annotations

import textwrap

import pytest

from freezelint import codes
from freezelint.check.engine import check_text

from conftest import write

ALL_STATIC = frozenset(c for c, i in codes.CATALOGUE.items() if i.static)

HELPER = """
import torch.nn as nn


def freeze_bn(model):
    mods = model.modules()
    for m in mods:
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()


def train(model, opt):
    model.train()
    {refreeze}
    for x in range(10):
        model(x).sum().backward()
        opt.step()
"""

MAIN = """
import torch
import torch.nn as nn
from train import train, freeze_bn

model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))
for m in model.modules():
    if isinstance(m, nn.modules.batchnorm._BatchNorm):
        m.eval()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(3):
    train(model, opt)
"""


def _rows(src: str, code: str) -> list[int]:
    found = check_text(textwrap.dedent(src), "ex.py", ALL_STATIC, force=True).diagnostics
    return [d.row for d in found if d.code == code]


def test_a_walk_of_either_of_two_different_parts_is_no_freeze_of_a_known_part():
    src = HELPER.format(refreeze="pass").replace(
        "mods = model.modules()", "mods = model.visual.modules() if cfg.rn else model.text.modules()")
    assert _rows(src + MAIN.split("from train import train, freeze_bn\n")[1].replace(
        "for m in model.modules():\n    if isinstance(m, nn.modules.batchnorm._BatchNorm):\n        m.eval()",
        "freeze_bn(model)"), "FZ201") == []


def test_a_freeze_that_walks_a_name_bound_to_modules_is_a_batchnorm_freeze():
    # the freeze before the loop is seen, so the train() that undoes it is reported
    src = HELPER.format(refreeze="pass") + MAIN.split("from train import train, freeze_bn\n")[1].replace(
        "for m in model.modules():\n    if isinstance(m, nn.modules.batchnorm._BatchNorm):\n        m.eval()",
        "freeze_bn(model)")
    assert _rows(src, "FZ201") == [len(textwrap.dedent(src).splitlines())]


# Chinese-CLIP's own form: the modules of the model or of the model a DDP wrapper holds
EITHER = "model.module.modules() if isinstance(model, nn.parallel.DistributedDataParallel) else model.modules()"


@pytest.mark.parametrize("walked", ["model.modules()", EITHER])
def test_a_helper_that_walks_a_name_bound_to_modules_re_freezes_after_train(cli, tmp_path, walked):
    """Chinese-CLIP: `model.train()` then `freeze_vision_bn(args, model)`, whose loop walks
    `mods = model.modules()`: the re-freeze, across files as in one."""
    helper = HELPER.replace("mods = model.modules()", f"mods = {walked}")
    write(tmp_path / "pyproject.toml", "[tool.freezelint]\n")
    write(tmp_path / "train.py", helper.format(refreeze="freeze_bn(model)"))
    write(tmp_path / "main.py", MAIN)
    r = cli(tmp_path, "check", "--no-cache", "--format", "concise", ".")
    assert "FZ201" not in r.out, r.out
    write(tmp_path / "train.py", helper.format(refreeze="pass"))
    r = cli(tmp_path, "check", "--no-cache", "--format", "concise", ".")
    assert "main.py:11:5: FZ201" in r.out, r.out


NET = """
import torch
from torch import nn


def disabled_train(self, mode=True):
    return self


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.model = nn.Conv2d(4, 4, 3)
        self.first_stage_model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)){chain}
        {after}
        for param in self.first_stage_model.parameters():
            param.requires_grad = False

    def forward(self, x):
        return self.model(self.first_stage_model(x))


net = Net()
opt = torch.optim.SGD(net.model.parameters(), lr=0.1)
for epoch in range(3):
    net.train()
    for x in range(3):
        net(x).mean().backward()
        opt.step()
"""


@pytest.mark.parametrize("chain", [".eval()", ".train(False)", ".requires_grad_(False).eval()", ".eval().to('cpu')"])
def test_eval_chained_onto_the_assignment_of_a_frozen_submodule_is_its_eval(chain):
    src = NET.format(chain=chain, after="pass")
    found = [d for d in check_text(textwrap.dedent(src), "ex.py", ALL_STATIC, force=True).diagnostics
             if d.code == "FZ201"]
    assert [d.row for d in found] == [14], found
    assert "Net puts `self.first_stage_model` in eval mode in __init__" in found[0].message


@pytest.mark.parametrize("chain,after", [
    (".eval()", "self.first_stage_model.train = disabled_train"),  # latent-diffusion: train() does nothing
    (".eval().train()", "pass"),  # the last mode set is training
    ("", "pass"),  # never put in eval mode
])
def test_a_chained_eval_that_train_cannot_undo_or_that_is_undone_is_silent(chain, after):
    assert _rows(NET.format(chain=chain, after=after), "FZ201") == []
