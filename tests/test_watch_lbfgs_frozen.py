"""LBFGS trained a layer, then the layer was frozen with requires_grad_(False): LBFGS moves every
parameter it holds along one direction computed from its history over all of them (a None grad
reads as zeros, and none is skipped), so the frozen layer keeps moving. FZ501, with that cause,
where the watch read the change as the script's own write (no finding) and said only that the
frozen parameters take room in the history as zeros (FZ504)."""

from __future__ import annotations

import torch
from torch import nn

import freezelint


def _setup():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    opt = torch.optim.LBFGS(m.parameters(), lr=0.5, max_iter=4, history_size=5)
    x, y = torch.randn(16, 4), torch.randn(16, 1)

    def closure():
        opt.zero_grad()
        loss = ((m(x) - y) ** 2).mean()
        loss.backward()
        return loss
    return m, opt, closure


def test_torch_lbfgs_moves_a_layer_frozen_after_it_trained_and_not_one_frozen_from_the_start():
    m, opt, closure = _setup()
    for _ in range(3):
        opt.step(closure)
    m[0].requires_grad_(False)
    before = m[0].weight.detach().clone()
    opt.step(closure)
    assert m[0].weight.grad is None and not torch.equal(m[0].weight, before)
    m, opt, closure = _setup()
    m[0].requires_grad_(False)
    before = m[0].weight.detach().clone()
    for _ in range(3):
        opt.step(closure)
    assert torch.equal(m[0].weight, before)


_CAUSE = ("their .grad was None at every step, but LBFGS lr=0.5 moves every parameter it holds along one direction "
          "computed from its history over all of them, whatever their .grad: the history kept their part from "
          "steps before the freeze, so each step still moved them")


def test_watch_after_the_freeze_is_fz501_naming_lbfgs():
    m, opt, closure = _setup()
    for _ in range(3):
        opt.step(closure)
    m[0].requires_grad_(False)
    with freezelint.watch(2) as w:
        for _ in range(2):
            opt.step(closure)
    [f] = w.report.findings
    assert (f.code, f.target) == ("FZ501", "0"), str(w.report)
    assert f.message.startswith("0.weight, 0.bias: requires_grad=False, yet changed over 2 steps; " + _CAUSE)
    assert f.advice.startswith("after freezing, build a new LBFGS over the trainable parameters only")


def test_watch_over_a_freeze_inside_the_window_is_fz501_too():
    m, opt, closure = _setup()
    with freezelint.watch(6) as w:
        for i in range(6):
            if i == 3:
                m[0].requires_grad_(False)
            opt.step(closure)
    assert [f.code for f in w.report.findings] == ["FZ501"], str(w.report)
    assert _CAUSE in w.report.findings[0].message


def test_watch_of_a_layer_frozen_from_the_start_is_no_fz501():
    m, opt, closure = _setup()
    m[0].requires_grad_(False)
    with freezelint.watch(2) as w:
        for _ in range(2):
            opt.step(closure)
    assert [f.code for f in w.report.findings] == ["FZ504"], str(w.report)
    assert "take room there as zeros" in w.report.findings[0].message
