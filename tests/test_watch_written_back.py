"""watch(): an update undone between steps. The window judges a parameter by its value at the
window's end, which is a step's end: a write after optimizer.step() that puts it back (textual
inversion's restore of the rows meant to stay frozen with an index that also covers the trained
row, saved weights copied in at every step) left it "changed", OK. The watch reads what was
written between steps, and a parameter back at its start value at every later step is FZ505."""

from __future__ import annotations

import contextlib

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import freezelint  # noqa: E402


def embedding_run(restore, steps: int = 2, iters: int = 4, lr: float = 0.1, **watch_kwargs):
    """A textual-inversion loop: one new token (row 9) trains, the other rows are restored after
    every step by `restore(weight, orig)`. Returns the watch and the embedding."""
    torch.manual_seed(0)
    emb = nn.Embedding(10, 4)
    head = nn.Linear(4, 1).requires_grad_(False)
    orig = emb.weight.detach().clone()
    opt = torch.optim.AdamW(emb.parameters(), lr=lr)
    ids = torch.tensor([[1, 9], [2, 9]])
    with freezelint.watch(steps=steps, **watch_kwargs) as w:
        for _ in range(iters):
            head(emb(ids)).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
            with torch.no_grad():
                restore(emb.weight, orig)
    return w, emb, orig


def restore_rows(upto: int):
    def restore(weight, orig):
        keep = torch.ones(10, dtype=torch.bool)
        keep[9:upto] = False  # rows [9, upto) train; the rest goes back to what it was
        weight[keep] = orig[keep]
    return restore


def test_an_off_by_one_restore_that_covers_the_trained_row_is_fz505():
    w, emb, orig = embedding_run(restore_rows(9))  # keep[9:9]: nothing left out, row 9 restored too
    assert torch.equal(emb.weight, orig)  # the script's own truth: nothing ever learned
    f = [f for f in w.report.findings if f.code == "FZ505"]
    assert len(f) == 1, w.report.render_text()
    assert "no step's update lasted" in f[0].message
    assert "at the start of step 2 it was back at its value from before step 1" in f[0].message
    assert "find the write after optimizer.step()" in f[0].advice
    assert w.report.params[0].written_back == (1,)
    assert w.report.to_dict()["params"][0]["written_back"] == [1]


def test_the_restore_that_leaves_the_trained_row_out_is_ok():
    w, emb, orig = embedding_run(restore_rows(10))
    assert not torch.equal(emb.weight[9], orig[9]) and torch.equal(emb.weight[:9], orig[:9])
    assert w.report.ok, w.report.render_text()
    assert w.report.params[0].written_back == ()


def warmup_run(restore, steps: int):
    """embedding_run's loop under a warmup from lr=0 (the first step moves nothing)."""
    torch.manual_seed(0)
    emb = nn.Embedding(10, 4)
    head = nn.Linear(4, 1).requires_grad_(False)
    orig = emb.weight.detach().clone()
    opt = torch.optim.AdamW(emb.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: min(1.0, i / 2))
    ids = torch.tensor([[1, 9], [2, 9]])
    with freezelint.watch(steps=steps) as w:
        for _ in range(4):
            head(emb(ids)).pow(2).mean().backward()
            opt.step()
            sched.step()
            opt.zero_grad()
            with torch.no_grad():
                restore(emb.weight, orig)
    return w


def test_a_step_that_moved_nothing_has_no_update_to_undo():
    # lr=0 at the first step: the right restore leaves the whole tensor as it was, undoing nothing
    w = warmup_run(restore_rows(10), steps=2)
    assert w.report.ok, w.report.render_text()
    # the off-by-one restore is judged from the first step that could move it
    w = warmup_run(restore_rows(9), steps=3)
    f = [f for f in w.report.findings if f.code == "FZ505"]
    assert len(f) == 1 and "at the start of step 3" in f[0].message, w.report.render_text()
    assert w.report.params[0].written_back == (2,)


def test_every_later_step_of_the_window_is_named():
    w, _, _ = embedding_run(restore_rows(9), steps=3)
    f = [f for f in w.report.findings if f.code == "FZ505"]
    assert len(f) == 1 and "at the start of steps 2 and 3" in f[0].message, w.report.render_text()


def test_a_write_back_at_one_step_only_is_no_finding_when_a_later_update_lasts():
    calls = []

    def once(weight, orig):  # a one-off reload after the first step: later steps train
        if not calls:
            weight.copy_(orig)
        calls.append(1)

    w, emb, orig = embedding_run(once, steps=3)
    assert not torch.equal(emb.weight, orig)
    assert w.report.ok, w.report.render_text()


@pytest.mark.parametrize("write", ["clamp", "renorm", "noise"])
def test_writes_between_steps_that_keep_the_update_are_ok(write):
    def project(weight, orig):  # weight clipping, max-norm projection, noise: the update stays
        if write == "clamp":
            weight.clamp_(-0.5, 0.5)
        elif write == "renorm":
            weight.copy_(torch.renorm(weight, 2, 0, 1.0))
        else:
            weight.add_(1e-3)

    w, _, _ = embedding_run(project)
    assert w.report.ok, w.report.render_text()


def test_a_parameter_perturbed_before_the_forward_and_restored_before_the_step_is_ok():
    """Sharpness-aware minimisation: the weights move to a neighbour for the forward and come back
    before the optimizer steps; the update itself lasts."""
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(8, 4)
    with freezelint.watch(steps=3) as w:
        for _ in range(4):
            with torch.no_grad():
                eps = [torch.randn_like(p) * 1e-2 for p in model.parameters()]
                for p, e in zip(model.parameters(), eps):
                    p.add_(e)
            model(x).pow(2).mean().backward()
            with torch.no_grad():
                for p, e in zip(model.parameters(), eps):
                    p.sub_(e)
            opt.step()
            opt.zero_grad()
    assert w.report.ok, w.report.render_text()


def test_saved_weights_copied_in_at_every_step_is_fz505_and_training_is_unchanged_by_watching():
    def run(watched: bool):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        saved = [p.detach().clone() for p in model.parameters()]
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        x = torch.randn(8, 4)
        with freezelint.watch(steps=2) if watched else contextlib.nullcontext() as w:
            for _ in range(3):
                model(x).pow(2).mean().backward()
                opt.step()
                opt.zero_grad()
                with torch.no_grad():  # "keep the best weights": copied back at every step by mistake
                    for p, s in zip(model.parameters(), saved):
                        p.copy_(s)
        return w, model, opt

    w, watched_model, o1 = run(True)
    _, plain_model, o2 = run(False)
    for a, b in zip(watched_model.parameters(), plain_model.parameters()):
        assert torch.equal(a, b)
    for s1, s2 in zip(o1.state.values(), o2.state.values()):
        assert torch.equal(s1["momentum_buffer"], s2["momentum_buffer"])
    f = [f for f in w.report.findings if f.code == "FZ505"]
    assert len(f) == 1, w.report.render_text()
    assert [p.written_back for p in w.report.params] == [(1,)] * 4 and f[0].count == 4
    assert "they were back at their value from before step 1" in f[0].message


def test_a_write_through_data_is_not_seen():
    """`.data` gives a tensor with its own version counter: such a write is not read (the window
    judges the parameter at its last step's end, as before)."""
    def restore(weight, orig):
        weight.data.copy_(orig)

    w, _, _ = embedding_run(restore)
    assert w.report.ok and w.report.params[0].written_back == ()
