"""After a window: what the watch keeps of the models and optimizers it judged (weakly, so that one
the script drops is freed), and optimizers retired on purpose (all their parameters frozen, no
longer stepped) in a later window: the window does not wait for them, and the model they held is
judged as a frozen one."""

from __future__ import annotations

import gc
import weakref

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import freezelint  # noqa: E402


def _step(model, opt, x) -> None:
    opt.zero_grad()
    model(x).pow(2).mean().backward()
    opt.step()


def test_an_optimizer_the_script_drops_after_the_window_is_freed():
    torch.manual_seed(0)
    a, c = nn.Linear(4, 1), nn.Linear(4, 1)
    oa, oc = torch.optim.SGD(a.parameters(), lr=0.1), torch.optim.Adam(c.parameters(), lr=0.1)
    gone = weakref.ref(oc)
    with freezelint.watch() as w:
        for it in range(8):
            if it == 4:  # the critic retired: frozen, its optimizer (and its Adam state) dropped
                c.requires_grad_(False)
                oc = None
                gc.collect()
                assert gone() is None
            x = torch.randn(8, 4)
            _step(a, oa, x)
            if oc is not None:
                _step(c, oc, x)
    assert w.report.ok and len(w.reports) == 2


def test_the_models_optimizers_and_tensors_of_closed_windows_are_not_kept():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 1))
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    with freezelint.watch() as w:
        for it in range(5):
            if it == 2:
                model[0].requires_grad_(False)  # a later window opens at this step, closes after the next two
            _step(model, opt, torch.randn(8, 4))
        assert len(w.later) == 1 and w.later[0].done
        refs = [weakref.ref(x) for x in (model, opt, model[1], model[1].running_mean, model[2].weight)]
        del model, opt
        other = nn.Linear(4, 1)  # training goes on, inside the block, with a model of its own
        other_opt = torch.optim.SGD(other.parameters(), lr=0.1)
        for _ in range(2):
            _step(other, other_opt, torch.randn(8, 4))
        gc.collect()
        assert [r() is None for r in refs] == [True] * len(refs)
    assert w.report.ok
