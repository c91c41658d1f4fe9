"""A "freeze" by a gradient hook (`p.register_hook(lambda g: torch.zeros_like(g))`) leaves the
parameters trainable and in the optimizer: weight decay or momentum moves them all the same. The
watch and audit() read the grads of changed parameters that carry a hook and say so (FZ505)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import freezelint  # noqa: E402


def model_with_hook(hook):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    for p in model[0].parameters():
        p.register_hook(hook)
    return model


def watched(model, opt):
    x, y = torch.randn(32, 8), torch.randint(0, 2, (32,))
    with freezelint.watch() as w:
        for _ in range(3):
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return w.report


def test_a_freeze_by_a_zeroing_hook_that_weight_decay_moves_is_reported():
    model = model_with_hook(lambda g: torch.zeros_like(g))
    before = model[0].weight.detach().clone()
    report = watched(model, torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1))
    assert not torch.equal(before, model[0].weight)  # the "frozen" layer did move
    [f] = report.findings
    assert (f.code, f.target) == ("FZ505", "0"), report.render_text()
    assert "they moved over 2 steps with a zero gradient" in f.message, f.message
    assert "a hook on their gradient (`register_hook`) returns zeros" in f.message
    assert "AdamW's weight_decay=0.1 moves them whatever the gradient" in f.message
    assert f.advice.startswith("freeze them with `requires_grad_(False)` and leave them out of the optimizer")
    assert all(r.grad_hook for r in report.params if r.name.startswith("0."))
    assert not any(r.grad_hook for r in report.params if r.name.startswith("2."))


def test_momentum_is_named_where_it_moves_them():
    model = model_with_hook(lambda g: torch.zeros_like(g))
    x, y = torch.randn(32, 8), torch.randint(0, 2, (32,))
    opt = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
    nn.functional.cross_entropy(model[2](torch.relu(model[0](x))).detach().requires_grad_(), y)
    # a step before the hook's zeros: momentum then carries the update on
    for p in model[0].parameters():
        p.grad = torch.ones_like(p)
    opt.step()
    opt.zero_grad()
    [f] = watched(model, opt).findings
    assert "SGD's momentum=0.9 moves them whatever the gradient" in f.message, f.message


def test_a_zeroing_hook_without_decay_is_unchanged_and_says_hook_not_loss():
    model = model_with_hook(lambda g: torch.zeros_like(g))
    [f] = watched(model, torch.optim.SGD(model.parameters(), lr=1e-2)).findings
    assert f.code == "FZ505" and "a hook on their gradient (`register_hook`) returns zeros" in f.message
    assert "the loss does not depend on them" not in f.message


@pytest.mark.parametrize("hook", [lambda g: g.clamp(-0.01, 0.01), lambda g: g * (torch.arange(g.shape[0]) % 2 == 0)
                                  .reshape(-1, *([1] * (g.dim() - 1)))], ids=["clip", "row-mask"])
def test_near_miss_hooks_that_leave_a_gradient_are_clean(hook):
    model = model_with_hook(hook)
    report = watched(model, torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1))
    assert report.ok, report.render_text()


def test_audit_says_the_same():
    model = model_with_hook(lambda g: torch.zeros_like(g))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    report = freezelint.audit(model, opt, batch=torch.randn(16, 8), steps=2)
    [f] = report.findings
    assert f.code == "FZ505" and "a hook on their gradient (`register_hook`) returns zeros" in f.message, \
        report.render_text()
