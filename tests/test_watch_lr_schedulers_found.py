"""FZ304 at run time where the scheduler that undoes a freeze by lr=0 was not seen being built inside
the window: found from the optimizer instead, wherever the training code holds it. OneCycleLR and
CyclicLR built between two windows of a watch (a second stage's new optimizer) over an lr=0 group;
an lr=0 written after a torch scheduler was built whose state a checkpoint read (its instance
dictionary then refers to the optimizer, not the scheduler itself); timm's warm-up kept as
`self.sched`."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import freezelint  # noqa: E402

from conftest import write  # noqa: E402

sched = torch.optim.lr_scheduler
ORIGINAL = {cls: cls.__init__ for cls in (sched.OneCycleLR, sched.CyclicLR)}


def one_cycle(max_lr):
    return lambda o: sched.OneCycleLR(o, max_lr=max_lr, total_steps=20)


def cyclic(base_lr, max_lr):
    return lambda o: sched.CyclicLR(o, base_lr=base_lr, max_lr=max_lr, step_size_up=4)


def _step(model, opt, scheduler=None):
    opt.zero_grad()
    model(torch.randn(4, 6)).pow(2).mean().backward()
    opt.step()
    if scheduler is not None:
        scheduler.step()


def _two_stages(make_sched, watched: bool = True, rewatch: bool = True):
    """Every layer trains for three steps; then a new optimizer keeps the first layer at lr=0 under
    the scheduler `make_sched` builds, after the first window (two steps) has closed."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
    w = freezelint.watch(steps=2, rewatch=rewatch) if watched else None
    if w is not None:
        w.__enter__()
    try:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for _ in range(3):
            _step(model, opt)
        inits = {cls: cls.__init__ for cls in ORIGINAL}
        opt = torch.optim.SGD([{"params": model[0].parameters(), "lr": 0.0},
                               {"params": model[2].parameters(), "lr": 0.1}], momentum=0.9)
        scheduler = make_sched(opt)
        for _ in range(3):
            _step(model, opt, scheduler)
    finally:
        if w is not None:
            w.__exit__(None, None, None)
    return model, w, inits


@pytest.mark.parametrize("make, kind", [(one_cycle(0.1), "OneCycleLR"), (cyclic(1e-3, 0.1), "CyclicLR")])
def test_a_scheduler_built_between_windows_over_an_lr_zero_group_is_fz304_in_the_later_window(make, kind):
    _, w, _ = _two_stages(make)
    first, later = w.reports
    assert first.ok, first.render_text()
    (f,) = later.findings
    assert f.code == "FZ304" and f.target == "0 in param_groups[0]", later.render_text()
    assert f.message.startswith(f"param group 0 had lr=0 until {kind} was built over the optimizer"), f.message
    assert all(cls.__init__ is init for cls, init in ORIGINAL.items())


@pytest.mark.parametrize("make", [one_cycle([0.0, 0.1]), cyclic([0.0, 1e-3], [0.0, 0.1])])
def test_per_group_values_that_keep_the_group_at_zero_are_no_finding_in_the_later_window(make):
    _, w, _ = _two_stages(make)
    assert [r.ok for r in w.reports] == [True, True], w.reports[1].render_text()


def test_between_windows_the_weights_are_those_of_an_unwatched_run():
    watched, _, _ = _two_stages(one_cycle(0.1))
    plain, _, _ = _two_stages(one_cycle(0.1), watched=False)
    assert all(torch.equal(a, b) for a, b in zip(watched.parameters(), plain.parameters()))


def test_without_later_windows_the_schedulers_are_put_back_when_the_window_closes():
    _, w, inits = _two_stages(one_cycle(0.1), rewatch=False)
    assert inits == ORIGINAL and len(w.reports) == 1 and w.report.ok, w.report.render_text()
    _, _, inits = _two_stages(one_cycle(0.1))
    assert inits != ORIGINAL  # kept for the later windows until the block ends
    assert all(cls.__init__ is init for cls, init in ORIGINAL.items())


def _zero_after(make_sched, checkpoint):
    """lr=0 written into a group after the scheduler was built, the watch entered after both; the
    scheduler's state read or loaded before training (a checkpoint), or not."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
    opt = torch.optim.SGD([{"params": model[0].parameters()}, {"params": model[2].parameters()}], lr=0.1,
                          momentum=0.9)
    holder = type("Loop", (), {})()
    holder.sched = make_sched(opt)
    if checkpoint == "saved":
        holder.sched.state_dict()
    elif checkpoint == "loaded":
        holder.sched.load_state_dict(holder.sched.state_dict())
    opt.param_groups[0]["lr"] = 0.0
    with freezelint.watch(steps=2) as w:
        for _ in range(3):
            _step(model, opt, holder.sched)
    return w.report


@pytest.mark.parametrize("checkpoint", ["none", "saved", "loaded"])
@pytest.mark.parametrize("make, kind", [(one_cycle(0.1), "OneCycleLR"), (cyclic(1e-3, 0.1), "CyclicLR"),
                                        (lambda o: sched.LambdaLR(o, lambda s: 1.0), "LambdaLR")])
def test_an_lr_zero_written_after_a_scheduler_whose_state_a_checkpoint_read_is_fz304(make, kind, checkpoint):
    report = _zero_after(make, checkpoint)
    (f,) = report.findings
    assert f.code == "FZ304" and f.target == "0 in param_groups[0]", report.render_text()
    assert f"the lr=0 was written after {kind} set lr=" in f.message, f.message


def test_a_multiplying_scheduler_keeps_an_lr_zero_written_after_it_at_zero():
    # StepLR multiplies the group's current lr: the 0 holds (a note, as any lr=0 group)
    report = _zero_after(lambda o: sched.StepLR(o, step_size=1, gamma=0.5), "saved")
    assert report.ok, report.render_text()


def test_a_cosine_floor_held_by_an_object_is_named():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
    opt = torch.optim.SGD([{"params": model[0].parameters(), "lr": 0.0},
                           {"params": model[2].parameters(), "lr": 0.1}])
    holder = type("Loop", (), {})()
    holder.sched = sched.CosineAnnealingLR(opt, T_max=10, eta_min=1e-3)
    with freezelint.watch(steps=3) as w:
        for _ in range(3):  # no frame names the scheduler
            _step(model, opt)
            holder.sched.step()
    (f,) = w.report.findings
    assert "CosineAnnealingLR's eta_min=0.001 applies to every group" in f.message, f.message


def _timm(start: float, checkpoint: bool = False):
    """timm's cosine schedule with a warm-up, made by its factory and kept by a trainer object."""
    factory = pytest.importorskip("timm.scheduler").create_scheduler_v2

    class Trainer:
        def __init__(self):
            torch.manual_seed(0)
            self.model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
            self.opt = torch.optim.AdamW([{"params": self.model[0].parameters(), "lr": 0.0},
                                          {"params": self.model[2].parameters(), "lr": 1e-2}])
            self.sched, _ = factory(self.opt, "cosine", num_epochs=50, warmup_epochs=5, warmup_lr=start,
                                    step_on_epochs=False, updates_per_epoch=1)
            if checkpoint:
                self.sched.load_state_dict(self.sched.state_dict())

        def fit(self):
            for step in range(3):
                _step(self.model, self.opt)
                self.sched.step_update(step + 1)

    trainer = Trainer()
    with freezelint.watch(steps=2) as w:
        trainer.fit()
    return w.report


@pytest.mark.parametrize("checkpoint", [False, True])
def test_timms_warmup_held_by_an_object_raises_an_lr_zero_group_fz304(checkpoint):
    report = _timm(1e-3, checkpoint)
    (f,) = report.findings
    assert f.code == "FZ304" and f.target == "0 in param_groups[0]", report.render_text()
    assert "timm's CosineLRScheduler warms every param group up from warmup_lr_init=0.001 over warmup_t=5" \
        in f.message, f.message


def test_timms_warmup_from_zero_held_by_an_object_keeps_the_group_at_zero():
    report = _timm(0.0)
    assert report.ok and any("the group's lr is 0, so no FZ505" in n for n in report.notes), report.render_text()


STAGES = """
    import torch, torch.nn as nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
    x = torch.randn(4, 6)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad(); model(x).pow(2).mean().backward(); opt.step()
    # the second stage keeps the first layer by lr=0 under a one-cycle schedule
    opt = torch.optim.SGD([{"params": model[0].parameters(), "lr": 0.0},
                           {"params": model[2].parameters(), "lr": 0.1}], momentum=0.9)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=MAX_LR, total_steps=10)
    for _ in range(3):
        opt.zero_grad(); model(x).pow(2).mean().backward(); opt.step(); sched.step()
"""


def test_run_no_stop_finds_a_one_cycle_schedule_built_between_windows(cli, tmp_path):
    write(tmp_path / "train.py", STAGES.replace("MAX_LR", "0.1"))
    r = cli(tmp_path, "run", "--no-stop", "train.py")
    assert r.code == 1 and "FZ304" in r.out and "until OneCycleLR was built over the optimizer" in r.out, r.out + r.err
    assert "a later window, from the first step of a new optimizer" in r.out, r.out
    write(tmp_path / "train.py", STAGES.replace("MAX_LR", "[0.0, 0.1]"))
    r = cli(tmp_path, "run", "--no-stop", "train.py")
    assert r.code == 0 and "FZ304 lr-zero-freeze" not in r.out and "the group's lr is 0" in r.out, r.out + r.err


RESUMED = """
    import io
    import torch, torch.nn as nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
    x = torch.randn(4, 6)
    opt = torch.optim.SGD([{"params": model[0].parameters()}, {"params": model[2].parameters()}], lr=0.1)
    sched = torch.optim.lr_scheduler.CyclicLR(opt, base_lr=1e-3, max_lr=0.1, step_size_up=4)
    saved = io.BytesIO()
    torch.save(sched.state_dict(), saved)  # a checkpoint, read back as a resumed run does
    saved.seek(0)
    sched.load_state_dict(torch.load(saved, weights_only=False))
    opt.param_groups[0]["lr"] = 0.0  # keep the first layer
    for _ in range(3):
        opt.zero_grad(); model(x).pow(2).mean().backward(); opt.step(); sched.step()
"""


def test_run_finds_the_scheduler_of_a_resumed_run_that_an_lr_zero_was_written_after(cli, tmp_path):
    write(tmp_path / "train.py", RESUMED)
    r = cli(tmp_path, "run", "train.py")
    assert r.code == 1 and "the lr=0 was written after CyclicLR set lr=" in r.out, r.out + r.err
