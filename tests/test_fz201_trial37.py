"""FZ201 cases of trial 37: a BatchNorm freeze that walks `mods = model.modules()` (Chinese-CLIP's
freeze_vision_bn), and `.eval()` chained onto the assignment that builds a frozen submodule."""

from __future__ import annotations

import textwrap

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


def test_a_freeze_that_walks_a_name_bound_to_modules_is_a_batchnorm_freeze():
    # the freeze before the loop is seen, so the train() that undoes it is reported
    src = HELPER.format(refreeze="pass") + MAIN.split("from train import train, freeze_bn\n")[1].replace(
        "for m in model.modules():\n    if isinstance(m, nn.modules.batchnorm._BatchNorm):\n        m.eval()",
        "freeze_bn(model)")
    assert _rows(src, "FZ201") == [len(textwrap.dedent(src).splitlines())]


def test_a_helper_that_walks_a_name_bound_to_modules_re_freezes_after_train(cli, tmp_path):
    """Chinese-CLIP: `model.train()` then `freeze_vision_bn(args, model)`, whose loop walks
    `mods = model.modules()`: the re-freeze, across files as in one."""
    write(tmp_path / "pyproject.toml", "[tool.freezelint]\n")
    write(tmp_path / "train.py", HELPER.format(refreeze="freeze_bn(model)"))
    write(tmp_path / "main.py", MAIN)
    r = cli(tmp_path, "check", "--no-cache", "--format", "concise", ".")
    assert "FZ201" not in r.out, r.out
    write(tmp_path / "train.py", HELPER.format(refreeze="pass"))
    r = cli(tmp_path, "check", "--no-cache", "--format", "concise", ".")
    assert "main.py:11:5: FZ201" in r.out, r.out
