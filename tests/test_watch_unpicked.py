"""FZ505 on heads or experts of a ModuleList that did not run in the window while a sibling did
(one task's head picked per step): the finding says they may not have been picked yet and to watch
more steps, not that the loss ignores them."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import freezelint  # noqa: E402


class MultiTask(nn.Module):
    def __init__(self, heads: int = 3):
        super().__init__()
        self.trunk = nn.Linear(8, 16)
        self.heads = nn.ModuleList([nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))
                                    for _ in range(heads)])
        self.unused = nn.Linear(16, 3)  # never in the forward: dead weight beside the trunk

    def forward(self, x, task):
        return self.heads[task](torch.relu(self.trunk(x)))


def watched(model, tasks, steps):
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = torch.randn(8, 8), torch.randint(0, 3, (8,))
    with freezelint.watch(steps=steps) as w:
        for task in tasks:
            loss = nn.functional.cross_entropy(model(x, task), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return w.report


def test_heads_not_picked_in_the_window_are_said_so():
    torch.manual_seed(0)
    report = watched(MultiTask(), [1, 1, 0, 2, 0, 2], steps=2)
    by_target = {f.target: f for f in report.findings}
    picked = by_target["heads"]
    assert picked.code == "FZ505" and {n.rpartition(".")[0] for n in picked.names} == {
        "heads.0.0", "heads.0.2", "heads.2.0", "heads.2.2"}, report.render_text()
    assert "heads.0, heads.2 did not run their forward over 2 steps, while heads.1 beside them did" in picked.message
    assert picked.advice.startswith("if one is picked per step, watch more steps (`freezelint run --steps N`, "
                                    "`watch(steps=N)`)")
    # the head beside the trunk that never runs keeps the general words
    dead = by_target["unused"]
    assert "picked" not in dead.message + dead.advice and "not used in the forward pass" in dead.message


def test_near_miss_a_window_that_sees_every_head_is_clean_but_for_the_dead_one():
    torch.manual_seed(0)
    report = watched(MultiTask(), [1, 1, 0, 2, 0, 2], steps=4)
    assert [f.target for f in report.findings] == ["unused"], report.render_text()
