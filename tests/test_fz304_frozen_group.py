"""FZ304 of trial 37: an lr-0 param group whose every parameter is frozen with requires_grad=False
before the optimizer is built (a placeholder for a later unfreeze) gets no gradients and no state:
"gradients and optimizer state are still computed for this group" is false there, so it is silent."""

from __future__ import annotations

import textwrap

import pytest

from freezelint import codes
from freezelint.check.engine import check_text

ALL_STATIC = frozenset(c for c, i in codes.CATALOGUE.items() if i.static)

SRC = """
import torch
import torchvision

model = torchvision.models.resnet18(weights=None)
{freeze}
head = [p for n, p in model.named_parameters() if not n.startswith("layer4")]
optimizer = torch.optim.AdamW([
    {{"params": head, "lr": 1e-3}},
    {{"params": model.layer4.parameters(), "lr": 0.0}},
], weight_decay=1e-4)
"""


def _fz304(freeze: str) -> list[int]:
    src = textwrap.dedent(SRC.format(freeze=freeze))
    return [d.row for d in check_text(src, "ex.py", ALL_STATIC, force=True).diagnostics if d.code == "FZ304"]


@pytest.mark.parametrize("freeze", [
    "for p in model.layer4.parameters():\n    p.requires_grad = False",
    "model.layer4.requires_grad_(False)",
    "model.requires_grad_(False)",  # all of the model, the group's part included
])
def test_an_lr_zero_group_of_parameters_frozen_before_the_build_is_silent(freeze):
    assert _fz304(freeze) == []


@pytest.mark.parametrize("freeze", [
    "pass",  # lr 0 is the only freeze
    "for p in model.layer4[0].parameters():\n    p.requires_grad = False",  # a part of the group only
    "model.layer4.requires_grad_(False)\nmodel.layer4.requires_grad_(True)",  # unfrozen again before the build
    "if cfg.freeze:\n    model.layer4.requires_grad_(False)",  # not on every path
    "model.layer4.requires_grad_(False)\nmodel.layer4[1] = torchvision.models.resnet.BasicBlock(512, 512)",
    "model.layer4.requires_grad_ = False",  # freezes nothing as written (FZ101)
])
def test_an_lr_zero_group_not_seen_frozen_whole_is_reported(freeze):
    assert len(_fz304(freeze)) == 1
