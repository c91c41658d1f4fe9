"""A "freeze" by `p.grad.zero_()` after backward under SGD with momentum and weight decay (trial 32):
the momentum takes the decay in and the weights move; the momentum buffer, a multiple of the
weights where no step gave a gradient, tells it, as AdamW's zero first moment does."""
import torch
from torch import nn

import freezelint
from freezelint.runtime.runner import compiled_graphs


def codes(report):
    return [f.code for f in report.findings]


def sgd_steps(zeroed_at=(0, 1, 2), steps=3, dtype=torch.float32, **kw):
    """A backbone whose grads the loop zeroes after backward at the steps in `zeroed_at`."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2)).to(dtype)
    opt = torch.optim.SGD(model.parameters(), lr=1e-2, **kw)
    with freezelint.watch(steps=steps) as w:
        for step in range(steps):
            loss = nn.functional.cross_entropy(model(torch.randn(8, 8, dtype=dtype)), torch.randint(0, 2, (8,)))
            opt.zero_grad()
            loss.backward()
            if step in zeroed_at:
                for p in model[0].parameters():
                    p.grad.zero_()
            opt.step()
    return w.report


def test_a_freeze_by_zeroing_the_grad_that_sgd_momentum_and_weight_decay_move_is_fz505():
    for kw in ({}, {"nesterov": True}, {"dampening": 0.1}, {"maximize": True}, {"foreach": False}):
        report = sgd_steps(momentum=0.9, weight_decay=1e-2, **kw)
        [f] = report.findings
        assert (f.code, f.target) == ("FZ505", "0"), (kw, report.render_text())
        if compiled_graphs():  # another test compiled in this process: grads are counted at every step
            continue
        assert "0.weight, 0.bias: requires_grad=True and in the optimizer, yet they moved over 3 steps with a " \
               "zero gradient" in f.message, f.message
        assert "SGD's momentum buffer is a multiple of the weights, as weight decay alone builds it" in f.message
        assert "`p.grad.zero_()`" in f.message and "SGD's weight_decay=0.01 moves them" in f.message, f.message
        assert f.advice.startswith("if they are meant to stay frozen, freeze them with `requires_grad_(False)`")
        assert [r.name for r in report.params if r.grad_zeroed] == ["0.weight", "0.bias"]


def test_a_grad_zero_at_one_step_only_is_no_fz505():
    # a real gradient at the other step: the momentum buffer holds it, so it is no multiple of the weights
    for zeroed_at in ((1,), (0,)):
        report = sgd_steps(zeroed_at, steps=2, momentum=0.9, weight_decay=1e-2)
        assert report.ok, (zeroed_at, report.render_text())
        assert not any(r.grad_zeroed for r in report.params)


def test_sgd_without_weight_decay_leaves_them_unchanged_fz505_as_before():
    report = sgd_steps(momentum=0.9)
    [f] = report.findings
    assert (f.code, f.target) == ("FZ505", "0") and "unchanged over 3 steps" in f.message, report.render_text()
    assert not any(r.grad_zeroed for r in report.params)


def test_sgd_trained_as_usual_with_momentum_and_weight_decay_is_clean():
    report = sgd_steps((), momentum=0.9, weight_decay=1e-2)
    assert report.ok and not any(r.grad_zeroed for r in report.params), report.render_text()
