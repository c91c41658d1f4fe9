"""FZ304 at run time where OneCycleLR or CyclicLR, built while watching, replaced an lr=0 "freeze"
with its own lr: both write their lr into every param group when built, so by the first step
nothing on the optimizer or the scheduler keeps the 0. Per-group values with 0 for the frozen
group keep it still (a note, as any lr=0 group); the watch puts the schedulers' __init__ back."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import freezelint  # noqa: E402

sched = torch.optim.lr_scheduler
ORIGINAL = {cls: cls.__init__ for cls in (sched.OneCycleLR, sched.CyclicLR)}


def _train(make_sched, watched: bool = True, zero: tuple[float, float] = (0.0, 0.1)):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
    watch = freezelint.watch(steps=2) if watched else None
    if watch is not None:
        watch.__enter__()
    try:
        opt = torch.optim.SGD([{"params": model[0].parameters(), "lr": zero[0]},
                               {"params": model[2].parameters(), "lr": zero[1]}], momentum=0.9)
        scheduler = make_sched(opt)
        for _ in range(3):
            opt.zero_grad()
            model(torch.randn(4, 6)).pow(2).mean().backward()
            opt.step()
            scheduler.step()
    finally:
        if watch is not None:
            watch.__exit__(None, None, None)
    return model, watch


def one_cycle(max_lr):
    return lambda o: sched.OneCycleLR(o, max_lr=max_lr, total_steps=10)


def cyclic(base_lr, max_lr):
    return lambda o: sched.CyclicLR(o, base_lr=base_lr, max_lr=max_lr, step_size_up=4)


@pytest.mark.parametrize("make, kind, args", [(one_cycle(0.1), "OneCycleLR", "max_lr"),
                                              (cyclic(1e-3, 0.1), "CyclicLR", "base_lr and max_lr")])
def test_an_lr_zero_group_that_the_scheduler_set_when_built_is_fz304(make, kind, args):
    _, w = _train(make)
    (f,) = w.report.findings
    assert f.code == "FZ304" and f.target == "0 in param_groups[0]", w.report.render_text()
    assert f.message.startswith(f"param group 0 had lr=0 until {kind} was built over the optimizer (lr="), f.message
    assert f"changed: {kind} writes its own lr into every param group when built ({args} given as one number" \
        in f.message, f.message
    assert f.advice.endswith(f", or give {kind} one value per group, 0 for this one "
                             + ("(`max_lr=[...]`)" if kind == "OneCycleLR" else "(`base_lr=[...]`, `max_lr=[...]`)"))
    assert all(cls.__init__ is init for cls, init in ORIGINAL.items())


@pytest.mark.parametrize("make", [one_cycle([0.0, 0.1]), cyclic([0.0, 1e-3], [0.0, 0.1])])
def test_per_group_values_that_keep_the_group_at_zero_are_a_note(make):
    _, w = _train(make)
    assert w.report.ok, w.report.render_text()
    assert any("the group's lr is 0, so no FZ505" in n for n in w.report.notes), w.report.notes


def test_every_group_at_zero_before_the_scheduler_is_no_freeze():
    # lr=0 given everywhere as a placeholder for the schedule: nothing was frozen by it
    _, w = _train(one_cycle(0.1), zero=(0.0, 0.0))
    assert w.report.ok, w.report.render_text()


def test_the_weights_are_those_of_an_unwatched_run():
    watched, _ = _train(one_cycle(0.1))
    plain, _ = _train(one_cycle(0.1), watched=False)
    assert all(torch.equal(a, b) for a, b in zip(watched.parameters(), plain.parameters()))


def test_nested_watches_put_the_original_init_back_in_either_order():
    for inner_first in (True, False):
        outer, inner = freezelint.watch(steps=1), freezelint.watch(steps=1)
        outer.__enter__()
        inner.__enter__()
        first, second = (inner, outer) if inner_first else (outer, inner)
        first.__exit__(None, None, None)
        second.__exit__(None, None, None)
        assert all(cls.__init__ is init for cls, init in ORIGINAL.items()), inner_first


def _timm_warmup(start: float):
    timm_scheduler = pytest.importorskip("timm.scheduler")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
    opt = torch.optim.AdamW([{"params": model[0].parameters(), "lr": 0.0},
                             {"params": model[2].parameters(), "lr": 1e-2}])
    scheduler = timm_scheduler.CosineLRScheduler(opt, t_initial=50, warmup_t=5, warmup_lr_init=start,
                                                 t_in_epochs=False)
    with freezelint.watch(steps=2) as w:
        for step in range(3):
            opt.zero_grad()
            model(torch.randn(4, 6)).pow(2).mean().backward()
            opt.step()
            scheduler.step_update(step + 1)
    return w.report


def test_timms_warmup_from_a_nonzero_lr_raises_an_lr_zero_group_fz304():
    (f,) = _timm_warmup(1e-3).findings
    assert f.code == "FZ304" and f.target == "0 in param_groups[0]", f
    assert f.message.startswith("param group 0 has a base lr of 0 (its `initial_lr`) but had lr=0.001 at step 1"), \
        f.message
    assert ("timm's CosineLRScheduler warms every param group up from warmup_lr_init=0.001 over warmup_t=5, this "
            "one's too") in f.message, f.message
    assert f.advice.endswith("or set warmup_lr_init=0 (each group then warms up from 0 to its own base)"), f.advice


def test_timms_warmup_from_zero_keeps_the_group_at_zero():
    report = _timm_warmup(0.0)
    assert report.ok and any("the group's lr is 0, so no FZ505" in n for n in report.notes), report.render_text()


def test_an_lr_the_script_sets_over_a_zero_base_is_not_taken_for_a_scheduler():
    # LambdaLR took 0 as the group's base; the script then sets the lr itself (no scheduler raised it)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
    opt = torch.optim.SGD([{"params": model[0].parameters(), "lr": 0.0},
                           {"params": model[2].parameters(), "lr": 0.1}])
    scheduler = sched.LambdaLR(opt, lambda s: 1.0)
    opt.param_groups[0]["lr"] = 0.05
    with freezelint.watch(steps=2) as w:
        for _ in range(2):
            opt.zero_grad()
            model(torch.randn(4, 6)).pow(2).mean().backward()
            opt.step()
    assert not [f for f in w.report.findings if f.code == "FZ304"], w.report.render_text()
    assert scheduler is not None


@pytest.mark.parametrize("make", [one_cycle([1e-3, 0.1]), cyclic([1e-4, 1e-3], [1e-3, 0.1])])
def test_a_value_given_for_the_zero_group_itself_is_meant_to_train_it(make):
    # lr=0 as a placeholder, the scheduler given this group's own values: no freeze was meant
    _, w = _train(make)
    assert w.report.ok, w.report.render_text()
