"""FZ202's message names what is frozen: a constructor that freezes a part of the model
(`self.layers.requires_grad_(False)` in `DenseBlock.__init__`, its `head` trainable) freezes
`net.layers`, not `net`; one that freezes all of it still names the model."""

from __future__ import annotations

import textwrap

import pytest
import torch
import torch.nn as nn

from freezelint.check.engine import check_source

BLOCK = """
import torch
import torch.nn as nn


class DenseBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(nn.Conv2d(8, 8, 3), nn.BatchNorm2d(8), nn.ReLU())
        self.head = nn.Conv2d(8, 8, 1)
        FREEZE

    def forward(self, x):
        return self.head(self.layers(x))


net = DenseBlock()
opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.1)
net.train()
for x in loader:
    opt.zero_grad(); net(x).sum().backward(); opt.step()
"""


@pytest.mark.parametrize("freeze, named", [
    ("self.layers.requires_grad_(False)", "`net.layers` (DenseBlock) is frozen"),
    ("self.requires_grad_(False)", "`net` (DenseBlock) is frozen"),
])
def test_the_message_names_the_part_the_constructor_froze(freeze, named):
    found = check_source(textwrap.dedent(BLOCK).replace("FREEZE", freeze), select=["FZ202"])
    assert [d.row for d in found] == [17]
    assert found[0].message.startswith(f"{named} with requires_grad only by `DenseBlock(...)` and `net.train()`")


def test_only_the_part_is_frozen_and_its_statistics_move():
    """What the message says, on real modules: `head` trains, `layers` is frozen, and train mode moves
    the frozen BatchNorm's running mean all the same."""
    namespace: dict = {}
    exec(compile(textwrap.dedent(BLOCK).replace("FREEZE", "self.layers.requires_grad_(False)")
                 .split("\nnet = ")[0], "block.py", "exec"), namespace)
    net = namespace["DenseBlock"]().train()
    assert net.head.weight.requires_grad and not net.layers[0].weight.requires_grad
    before = net.layers[1].running_mean.clone()
    net(torch.randn(2, 8, 6, 6))
    assert not torch.equal(before, net.layers[1].running_mean) and isinstance(net.layers[1], nn.BatchNorm2d)
