"""FZ303 and FZ306 read a loop over `model.modules()` that picks the modules it changes as they read
`model.apply(fn)` of a function that picks them: an unfreeze of the BatchNorm layers after the optimizer was
built from a requires_grad filter (FZ303), and a freeze of them after DistributedDataParallel wrapped the
model (FZ306). The two forms give the same findings."""

from __future__ import annotations

import pytest

from freezelint.check.engine import check_source

UNFROZEN_LATE = """
import torch
import torch.nn as nn
import torchvision


def unfreeze_bn(m):
    if isinstance(m, nn.BatchNorm2d):
        m.requires_grad_(True)


def run(loader):
    model = torchvision.models.resnet18()
    model.requires_grad_(False)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1, momentum=0.9)
    for epoch in range(3):
        if epoch == 1:
{change}
        for x in loader:
            optimizer.zero_grad()
            model(x).sum().backward()
            optimizer.step()
"""

FROZEN_AFTER_DDP = """
import torch
import torch.nn as nn
import torchvision
from torch.nn.parallel import DistributedDataParallel as DDP


def freeze_bn(m):
    if isinstance(m, nn.BatchNorm2d):
        m.requires_grad_(False)


def run(loader):
    model = DDP(torchvision.models.resnet18().cuda())
{change}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for x in loader:
        optimizer.zero_grad()
        model(x).sum().backward()
        optimizer.step()
"""


def _codes(template: str, change: str, code: str) -> list[str]:
    source = template.format(change=change.strip("\n"))
    compile(source, "x.py", "exec")
    return [d.code for d in check_source(source, select=[code])]


@pytest.mark.parametrize("change", [
    """
            model.apply(unfreeze_bn)""",
    """
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.requires_grad_(True)""",
])
def test_an_unfreeze_of_the_picked_modules_after_a_filtered_optimizer(change):
    assert _codes(UNFROZEN_LATE, change, "FZ303") == ["FZ303"]


@pytest.mark.parametrize("change", [
    """
    model.module.apply(freeze_bn)""",
    """
    for m in model.module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.requires_grad_(False)""",
])
def test_a_freeze_of_the_picked_modules_after_ddp(change):
    assert _codes(FROZEN_AFTER_DDP, change, "FZ306") == ["FZ306"]
    # said of part of the wrapped model: the modules a test picks, not all of it
    [d] = check_source(FROZEN_AFTER_DDP.format(change=change.strip("\n")), select=["FZ306"])
    assert d.message.startswith("freezing part of `model.module` after DistributedDataParallel wrapped it"), d.message


def test_a_loop_that_only_reads_after_ddp_is_silent():
    assert _codes(FROZEN_AFTER_DDP, """
    for m in model.module.modules():
        if isinstance(m, nn.BatchNorm2d):
            print(m.weight.requires_grad)""", "FZ306") == []

