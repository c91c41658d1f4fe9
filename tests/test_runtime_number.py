"""Runtime messages built from a count or a list say "it" for one and "they" for several:
FZ505, FZ501 (audit() and watch() share their wording)."""

from __future__ import annotations

import torch
from torch import nn

import freezelint


class WithAux(nn.Module):
    """`aux` is in the optimizer but never runs: FZ505 on its parameters."""

    def __init__(self, bias: bool) -> None:
        super().__init__()
        self.body = nn.Linear(4, 2)
        self.aux = nn.Linear(4, 4, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def _fz505(bias: bool):
    torch.manual_seed(0)
    m = WithAux(bias)
    report = freezelint.audit(m, torch.optim.SGD(m.parameters(), lr=0.1), batch=torch.randn(3, 4),
                              loss_fn=lambda o, b: o.sum())
    [f] = [f for f in report.findings if f.code == "FZ505"]
    return f


def test_fz505_one_parameter_is_it():
    f = _fz505(bias=False)
    assert f.message.startswith("aux.weight: requires_grad=True and in the optimizer, yet unchanged over 2 steps; "
                                "it received no gradient")
    assert "they" not in f.message and "them" not in f.message
    assert f.advice.startswith("freeze it explicitly if that is intended")
    assert "otherwise make the loss depend on it (" in f.advice


def test_fz505_several_parameters_are_they():
    f = _fz505(bias=True)
    assert "; they received no gradient" in f.message
    assert "otherwise make the loss depend on them (" in f.advice


def _fz501(frozen: list[str]):
    """Frozen parameters the loop gives a .grad of its own (torch.autograd.grad over all of them)."""
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4))
    for name in frozen:
        m.get_parameter(name).requires_grad_(False)
    opt = torch.optim.SGD(m.parameters(), lr=0.1)

    def step(model, optimizer, batch):
        loss = model(batch).sum()
        for p in model.parameters():
            p.grad = torch.ones_like(p)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    report = freezelint.audit(m, opt, batch=torch.randn(3, 4), step_fn=step)
    [f] = [f for f in report.findings if f.code == "FZ501"]
    return f


def test_fz501_one_parameter_is_it():
    f = _fz501(["0.bias"])
    assert f.message.startswith("0.bias: requires_grad=False, yet changed over 2 steps")
    assert "the loop wrote a new .grad to it at each step" in f.message


def test_fz501_several_parameters_are_they():
    f = _fz501(["0.weight", "0.bias"])
    assert "the loop wrote a new .grad to them at each step" in f.message


def _drifted(bns: list[int]):
    """BatchNorm layers frozen at the window's start, run in train mode, unfrozen at step 2: FZ502."""
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 8), nn.BatchNorm1d(8), nn.Linear(8, 1))
    for i in bns:
        m[i].requires_grad_(False)
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    with freezelint.watch(3) as w:
        for step in range(3):
            if step == 1:
                for i in bns:
                    m[i].requires_grad_(True)
            m(torch.randn(5, 4)).mean().backward()
            opt.step()
            opt.zero_grad()
    [f] = [f for f in w.report.findings if f.code == "FZ502"]
    return f


def test_fz502_norm_frozen_until_a_step_one_layer_is_it():
    assert _drifted([1]).advice == ("put it in eval() for as long as it is frozen (again after every train() that "
                                    "reaches it), and back in train mode when you unfreeze it")


def test_fz502_norm_frozen_until_a_step_several_layers_are_they():
    assert _drifted([1, 3]).advice.startswith("put them in eval() for as long as they are frozen")


def test_unmaterialised_tensors_are_counted_in_number():
    import pytest

    from freezelint.runtime.errors import AuditUsageError

    one = nn.Sequential(nn.LazyLinear(2, bias=False))
    with pytest.raises(AuditUsageError, match=r"^1 parameter or buffer is an uninitialised lazy tensor \(first: "
                                              r"0\.weight\): .* materialise it, then audit"):
        freezelint.audit(one, torch.optim.SGD(one.parameters(), lr=0.1))
    two = nn.Sequential(nn.LazyLinear(2))
    with pytest.raises(AuditUsageError, match=r"^2 parameters or buffers are uninitialised lazy tensors .* "
                                              r"materialise them, then audit"):
        freezelint.audit(two, torch.optim.SGD(two.parameters(), lr=0.1))
    meta = nn.Linear(4, 2, bias=False, device="meta")
    with pytest.raises(AuditUsageError, match=r"^1 parameter or buffer is on the meta device"):
        freezelint.audit(meta, torch.optim.SGD(meta.parameters(), lr=0.1))


ONE_PARAMETER = """
import torch, torch.nn as nn
model = nn.Linear(4, 1, bias=False).requires_grad_(False)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for _ in range(2):
    model(torch.randn(3, 4)).sum().backward()
    opt.step()
"""


def test_run_counts_one_parameter_in_the_frozen_loss_hint(cli, tmp_path):
    from conftest import write

    res = cli(tmp_path, "run", str(write(tmp_path / "train.py", ONE_PARAMETER)))
    assert res.code == 2, res.out + res.err
    assert "every parameter of the models that ran is frozen (Linear: 0 of 1 parameter trainable)" in res.err, res.err
