"""audit() on optimizers its built-in step cannot call as `optimizer.step()`: LBFGS (step needs a
closure) and SAM-style optimizers (step() raises NotImplementedError; first_step/second_step)."""

from __future__ import annotations

import pytest

from conftest import write

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import freezelint  # noqa: E402
from freezelint.runtime.runner import AuditUsageError  # noqa: E402


class SAM(torch.optim.Optimizer):
    """Sharpness-aware minimisation as its reference code writes it: two steps around two backwards."""

    def __init__(self, params, base_optimizer, rho=0.05, **kw):
        super().__init__(params, dict(rho=rho, **kw))
        self.base_optimizer = base_optimizer(self.param_groups, **kw)
        self.param_groups = self.base_optimizer.param_groups

    @torch.no_grad()
    def first_step(self):
        norm = torch.norm(torch.stack([p.grad.norm(2) for g in self.param_groups for p in g["params"]
                                       if p.grad is not None]), 2)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self.state[p]["old_p"] = p.data.clone()
                    p.add_(p.grad * group["rho"] / (norm + 1e-12))
        self.zero_grad()

    @torch.no_grad()
    def second_step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.data = self.state[p]["old_p"]
        self.base_optimizer.step()
        self.zero_grad()

    def step(self, closure=None):
        raise NotImplementedError("SAM steps with first_step() and second_step()")


def _model():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 1))
    model[0].requires_grad_(False)
    return model


def _lbfgs():
    model = _model()
    opt = torch.optim.LBFGS([p for p in model.parameters() if p.requires_grad], lr=0.5, max_iter=3)
    x = torch.randn(8, 6)

    def closure():
        opt.zero_grad()
        loss = model(x).pow(2).mean()
        loss.backward()
        return loss

    opt.step(closure)  # state to restore
    return model, opt, x


def _sam():
    model = _model()
    opt = SAM([p for p in model.parameters() if p.requires_grad], torch.optim.SGD, lr=0.1, momentum=0.9)
    x = torch.randn(8, 6)
    model(x).pow(2).mean().backward()
    opt.first_step()
    model(x).pow(2).mean().backward()
    opt.second_step()  # momentum state to restore
    return model, opt, x


def _lbfgs_step(model, opt, batch):
    def closure():
        opt.zero_grad()
        loss = model(batch).pow(2).mean()
        loss.backward()
        return loss

    opt.step(closure)


def _sam_step(model, opt, batch):
    model(batch).pow(2).mean().backward()
    opt.first_step()
    model(batch).pow(2).mean().backward()
    opt.second_step()


def _state(model, opt):
    return ({k: v.clone() for k, v in model.state_dict().items()},
            repr(opt.state_dict()), [p.grad for p in model.parameters()])


@pytest.mark.parametrize("build, cause, says, step_fn", [
    (_lbfgs, TypeError, "LBFGS.step() needs a closure", _lbfgs_step),
    (_sam, NotImplementedError, "SAM.step() raised NotImplementedError", _sam_step),
])
def test_an_optimizer_stepped_its_own_way_is_one_usage_line_and_is_restored(build, cause, says, step_fn):
    model, opt, x = build()
    with pytest.raises(cause):  # what torch (or the optimizer) does with a plain step()
        opt.step()
    weights, state, grads = _state(model, opt)
    with pytest.raises(AuditUsageError) as raised:
        freezelint.audit(model, opt, batch=x)
    text = str(raised.value)
    assert len(text.splitlines()) == 1 and text.startswith(says), text
    assert "step_fn=" in text and "def step(model, optimizer, batch)" in text and "freezelint run" in text
    assert "were restored" in text
    assert isinstance(raised.value.__cause__, cause)
    after = _state(model, opt)
    assert all(torch.equal(weights[k], after[0][k]) for k in weights) and after[1] == state
    assert all(a is b for a, b in zip(grads, after[2]))
    # the shape the line shows works
    report = freezelint.audit(model, opt, batch=x, step_fn=step_fn)
    assert report.ok, report.render_text()


def test_near_miss_a_type_error_inside_a_step_that_needs_no_closure_is_raised_as_it_is():
    model = _model()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    opt.param_groups[0]["lr"] = "0.1"  # a config read as text
    with pytest.raises(TypeError) as raised:
        freezelint.audit(model, opt, batch=torch.randn(8, 6))
    assert not isinstance(raised.value, AuditUsageError)


def test_near_miss_not_implemented_deeper_than_the_optimizers_own_step_is_raised_as_it_is():
    class Unfinished(torch.optim.SGD):
        def step(self, closure=None):
            return self._fused_update()

        def _fused_update(self):
            raise NotImplementedError("fused update for this dtype")

    model = _model()
    opt = Unfinished([p for p in model.parameters() if p.requires_grad], lr=0.1)
    with pytest.raises(NotImplementedError) as raised:
        freezelint.audit(model, opt, batch=torch.randn(8, 6))
    assert not isinstance(raised.value, AuditUsageError)


def test_audit_cli_on_lbfgs_says_where_to_go(tmp_path, cli):
    write(tmp_path / "probe.py", """
        import torch, torch.nn as nn

        def make():
            torch.manual_seed(0)
            model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 1))
            model[0].requires_grad_(False)
            opt = torch.optim.LBFGS([p for p in model.parameters() if p.requires_grad])
            return model, opt, torch.randn(8, 6)
    """)
    r = cli(tmp_path, "audit", "probe.py:make")
    assert r.code == 2 and r.out == ""
    assert r.err.startswith("freezelint: error: LBFGS.step() needs a closure") and r.err.count("\n") == 1, r.err
    assert "step_fn=" in r.err and "freezelint run train.py" in r.err
