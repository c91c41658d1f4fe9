"""The window's first pass begun beside the forward (`Watch._start_early`): where a CPU is spare,
the parameters' read for the first step runs on a thread of its own while the forward and backward
run. These tests take that path on any machine (`fingerprint.BACKGROUND`) and check that it judges
what the pass at the step judges, and that no read outlives the watch."""

from __future__ import annotations

import threading

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import freezelint  # noqa: E402
from freezelint.runtime import fingerprint  # noqa: E402
from freezelint.runtime.fingerprint import Fingerprinter  # noqa: E402


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    model[0].requires_grad_(False)
    model[1].requires_grad_(False)
    return model


def _train(model, opt, iters: int, before_step=None) -> None:
    gen = torch.Generator().manual_seed(1)
    for i in range(iters):
        model.train()
        model[1].eval()
        model(torch.randn(6, 4, generator=gen)).pow(2).mean().backward()
        if before_step is not None:
            before_step(i)
        opt.step()
        opt.zero_grad()


def _threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "freezelint-fingerprint"]


@pytest.fixture(params=[True, False], ids=["beside-the-forward", "at-the-step"])
def early(request, monkeypatch):
    monkeypatch.setattr(fingerprint, "BACKGROUND", request.param)
    if request.param and fingerprint._fold is None:
        pytest.skip("the _fold kernel was not built (no C compiler at install)")
    return request.param


def _watched(before_step=None, model: nn.Sequential | None = None, iters: int = 3) -> freezelint.AuditReport:
    model = model if model is not None else _net()
    opt = torch.optim.SGD(model[3].parameters(), lr=0.1, momentum=0.9)
    with freezelint.watch(steps=2) as w:
        _train(model, opt, iters, before_step)
    assert not _threads()
    return w.report


def test_the_pass_begun_beside_the_forward_is_the_one_the_step_takes(early, monkeypatch):
    # Beside the forward, the first step runs no pass of its own: two passes per window either way.
    passes = []
    original = Fingerprinter._pass
    monkeypatch.setattr(Fingerprinter, "_pass",
                        lambda self, just_built, readers: passes.append(readers > 0) or original(self, just_built, readers))
    report = _watched()
    assert report.ok, report.render_text()
    assert passes == [early, early]
    assert {r.name for r in report.params if r.changed} == {"3.weight", "3.bias"}


def test_a_frozen_weight_written_before_the_first_step_is_judged_from_the_step_on(early):
    # A write between the first backward and the first step (here in place, as a load would) comes
    # before the window: the pass begun at the forward no longer holds (its version moved), so the
    # step reads again, as it does without a spare CPU. Inside the window the same write is a change.
    def write_at(k, model):
        def before_step(i):
            if i == k:
                with torch.no_grad():
                    model[0].weight.add_(1.0)
        return before_step

    model = _net()
    report = _watched(write_at(0, model), model)
    assert {r.name for r in report.params if r.changed} == {"3.weight", "3.bias"}, report.render_text()
    model = _net()
    report = _watched(write_at(1, model), model)
    assert {r.name for r in report.params if r.changed} == {"0.weight", "3.weight", "3.bias"}, report.render_text()


def test_a_frozen_weight_whose_storage_is_swapped_before_the_first_step_is_read_again(early):
    # `.data` swapped for other values between the forward and the first step: no version moves,
    # but the tensor no longer lies where the begun pass read it, so the step reads it again.
    model = _net()
    opt = torch.optim.SGD(model[3].parameters(), lr=0.1, momentum=0.9)

    def swap(i):
        if i == 0:
            model[0].weight.data = torch.randn(8, 4)

    with freezelint.watch(steps=2) as w:
        _train(model, opt, 3, swap)
    assert {r.name for r in w.report.params if r.changed} == {"3.weight", "3.bias"}, w.report.render_text()


def test_no_read_outlives_a_watch_that_saw_forwards_only_or_a_failing_step(early, monkeypatch):
    # every pass begun is waited for before the watch ends (a read may not outlive it)
    begun = []
    original = Fingerprinter._pass
    monkeypatch.setattr(Fingerprinter, "_pass", lambda self, *a: begun.append(original(self, *a)) or begun[-1])
    model = _net()
    with freezelint.watch(steps=2) as w:
        with torch.no_grad():
            model.eval()
            for _ in range(3):
                model(torch.randn(6, 4))
    assert not _threads()
    with pytest.raises(freezelint.AuditUsageError, match="no optimizer step"):
        w.report

    opt = torch.optim.SGD(model[3].parameters(), lr=0.1)
    with pytest.raises(RuntimeError, match="boom"):
        with freezelint.watch(steps=2):
            model(torch.randn(6, 4)).sum().backward()
            raise RuntimeError("boom")
    assert not _threads()
    assert len(begun) == 2 * early and all(p._out is not None for p in begun)
    del opt


def test_both_paths_give_the_same_report(monkeypatch):
    if fingerprint._fold is None:
        pytest.skip("the _fold kernel was not built (no C compiler at install)")
    reports = []
    for on_thread in (True, False):
        monkeypatch.setattr(fingerprint, "BACKGROUND", on_thread)
        report = _watched()
        reports.append(report.to_dict())
    assert reports[0] == reports[1]
