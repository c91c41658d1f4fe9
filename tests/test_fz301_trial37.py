"""FZ301 of trial 37: every parameter of the model frozen, then param groups over its submodules
(torchvision's DeepLabV3 fine-tuning): a group that holds frozen parameters only is reported as a
freeze of that submodule would be; a group something of which was unfrozen or replaced since is not."""

from __future__ import annotations

import textwrap

import pytest

from freezelint import codes
from freezelint.check.engine import check_text

ALL_STATIC = frozenset(c for c, i in codes.CATALOGUE.items() if i.static)

GROUPS = """
import torch
import torchvision

model = torchvision.models.segmentation.deeplabv3_resnet50(weights=None)
for param in model.parameters():
    param.requires_grad = False
model.classifier[4] = torch.nn.Conv2d(256, 5, 1)
{between}
optimizer = torch.optim.SGD(
    [
        {{"params": model.backbone.parameters(), "lr": 0.001}},
        {{"params": model.classifier.parameters(), "lr": 0.01}},
    ],
    lr=0.01, momentum=0.9, weight_decay=1e-4,
)
"""


def _fz301(src: str) -> list:
    return [d for d in check_text(textwrap.dedent(src), "ex.py", ALL_STATIC, force=True).diagnostics
            if d.code == "FZ301"]


@pytest.mark.parametrize("between", ["pass", "model.classifier.requires_grad_(True)"])
def test_a_group_inside_the_frozen_model_holds_frozen_parameters_only(between):
    found = _fz301(GROUPS.format(between=between))
    assert len(found) == 1, found
    assert "SGD gets every parameter of `model.backbone` while `model.backbone` is frozen (all of `model` is)" \
        in found[0].message


@pytest.mark.parametrize("between", [
    "model.requires_grad_(True)",  # all of it trains again
    "model.backbone.requires_grad_(True)",
    "for p in model.backbone.layer4.parameters():\n    p.requires_grad = True",  # part of the group trains
    "model.backbone = torchvision.models.resnet50(weights=None)",  # a new backbone, not frozen
])
def test_a_group_something_of_which_was_unfrozen_or_replaced_since_is_not_reported(between):
    assert _fz301(GROUPS.format(between=between)) == []


def test_a_group_given_before_the_freeze_is_not_this_case():
    src = GROUPS.format(between="pass").replace(
        "for param in model.parameters():\n    param.requires_grad = False\n", "")
    assert _fz301(src + "for param in model.parameters():\n    param.requires_grad = False\n") == []
