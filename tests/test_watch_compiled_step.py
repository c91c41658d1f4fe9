"""The watch's hooks under torch.compile: an optimizer step compiled with it calls the step hooks
inside the traced region, and Dynamo must not trace them (its warnings and graph breaks would name
freezelint); a compiled model calls the forward hook likewise. The verdict stays the same."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import freezelint

pytestmark = pytest.mark.skipif(not hasattr(torch, "compile"), reason="torch.compile is torch 2's")


def _named_freezelint(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if "freezelint" in str(w.message) or "freezelint" in w.filename]


def _loop(unfreeze: bool, compile_model: bool) -> tuple[freezelint.AuditReport, list[str]]:
    torch._dynamo.reset()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    model[0].requires_grad_(False)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    run = torch.compile(model, backend="eager") if compile_model else model

    @torch.compile(backend="eager")
    def opt_step() -> None:
        opt.step()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with freezelint.watch(steps=3, model=model) as w:
            for step in range(4):
                loss = F.cross_entropy(run(torch.randn(16, 8)), torch.randint(0, 2, (16,)))
                loss.backward()
                opt_step()
                opt.zero_grad()
                if unfreeze and step == 0:
                    model[0].requires_grad_(True)  # meant to train, but in no optimizer: FZ503
    return w.report, _named_freezelint(caught)


@pytest.mark.parametrize("compile_model", [False, True])
def test_compiled_optimizer_step_does_not_trace_the_watch(compile_model):
    report, named = _loop(unfreeze=False, compile_model=compile_model)
    assert not named, named
    assert report.ok, report.render_text()

    report, named = _loop(unfreeze=True, compile_model=compile_model)
    assert not named, named
    assert [f.code for f in report.findings] == ["FZ503"], report.render_text()
