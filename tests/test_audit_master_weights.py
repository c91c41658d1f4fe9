"""audit() over an optimizer that holds copies of the model's trainable parameters (fp32 master
weights of a bf16 model, stepped and written back by the loop): audit() does no copy-back, so the
optimizer says nothing of the model. It refuses, naming the copies and pointing to the watch,
where it read them as layers replaced after the optimizer was built (FZ302)."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import freezelint
from freezelint.runtime.errors import AuditUsageError


def _model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)).to(torch.bfloat16)


def _audit(model: nn.Module, opt: torch.optim.Optimizer):
    return freezelint.audit(model, opt, batch=torch.randn(3, 4, dtype=torch.bfloat16),
                            loss_fn=lambda o, b: o.float().sum())


def test_fp32_master_copies_of_the_trainable_part_are_refused_as_copies():
    m = _model()
    m[0].requires_grad_(False)
    masters = [p.detach().float().clone().requires_grad_(True) for p in m.parameters() if p.requires_grad]
    with pytest.raises(AuditUsageError) as err:
        _audit(m, torch.optim.AdamW(masters, lr=1e-3))
    assert str(err.value).startswith(
        "the optimizer holds none of this model's parameters, but 2 tensors shaped as its trainable ones (in "
        "float32; the model's are bfloat16): copies (master weights) that the loop steps and writes back into the "
        "model. audit() judges each parameter by the optimizer that holds it and does no copy-back, so this "
        "optimizer cannot show what trains in the model: watch the real loop instead")


def test_plain_tensor_copies_in_the_models_dtype_are_copies_too():
    m = _model().float()
    copies = [p.detach().clone().requires_grad_(True) for p in m.parameters()]
    opts = {"main": torch.optim.SGD(m[0].parameters(), lr=0.1), "masters": torch.optim.SGD(copies, lr=0.1)}
    with pytest.raises(AuditUsageError, match=r"^the optimizer masters holds none of this model's parameters, but 4 "
                                              r"tensors shaped as its trainable ones: copies \(master weights\)"):
        freezelint.audit(m, opts, batch=torch.randn(3, 4), loss_fn=lambda o, b: o.sum())


def test_an_optimizer_built_for_a_copy_of_the_model_keeps_its_own_refusal():
    m = _model()
    with pytest.raises(AuditUsageError, match=r"was it built for another model \(or a copy of it\)\?$"):
        _audit(m, torch.optim.AdamW(copy.deepcopy(m).parameters(), lr=1e-3))
