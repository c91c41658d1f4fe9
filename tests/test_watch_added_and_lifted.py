"""What trains changes at an epoch boundary or under a scheduler, and only a later window (or a
later step of the window) shows it: a param group added frozen, an lr=0 "freeze" lifted by a
scheduler, a later window cut short by the end of training, and a module run once to size a head
before training (fastai's vision_learner), which is no model of the window."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import freezelint  # noqa: E402


def net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 2))


def run(model, opt, steps: int, on_step=None, sched=None) -> None:
    gen = torch.Generator().manual_seed(1)
    for i in range(steps):
        if on_step is not None:
            on_step(i)
        opt.zero_grad()
        x = torch.randn(16, 8, generator=gen)
        nn.functional.cross_entropy(model(x), torch.zeros(16, dtype=torch.long)).backward()
        opt.step()
        if sched is not None:
            sched.step()


def staged(unfreeze: str):
    """The middle stage frozen, added to the optimizer at step 5; `unfreeze`: "before" the addition
    (gradual unfreezing done right), "never" (the unfreeze forgotten), "step 6" (one step late)."""
    model = net()
    model[:4].requires_grad_(False)
    opt = torch.optim.AdamW(model[4].parameters(), lr=1e-2)

    def on_step(i):
        if i == 4:
            if unfreeze == "before":
                model[2].requires_grad_(True)
            opt.add_param_group({"params": model[2].parameters(), "lr": 1e-3})
        if i == 5 and unfreeze == "step 6":
            model[2].requires_grad_(True)

    return model, opt, on_step


def test_a_group_added_frozen_after_the_window_is_fz504_in_the_later_window():
    model, opt, on_step = staged("never")
    with freezelint.watch() as w:
        run(model, opt, 8, on_step)
    first, *later = w.reports
    assert first.ok and len(later) == 1, [r.render_text() for r in w.reports]
    [f] = later[0].findings
    assert (f.code, f.target) == ("FZ504", "2 in param_groups[1]"), later[0].render_text()
    assert f.message == ("2 parameters (2.weight, 2.bias), added to the optimizer before step 5 (add_param_group, "
                         "param group 1), were frozen at every step of this window, so they never train"), f.message
    assert f.advice.startswith("unfreeze them (`requires_grad_(True)`) where they are added"), f.advice


@pytest.mark.parametrize("unfreeze", ["before", "step 6"])
def test_near_miss_a_group_added_and_unfrozen_by_the_window_is_no_finding(unfreeze):
    model, opt, on_step = staged(unfreeze)
    with freezelint.watch() as w:
        run(model, opt, 8, on_step)
    assert all(r.ok for r in w.reports), [r.render_text() for r in w.reports]


def test_near_miss_groups_given_frozen_at_construction_and_unfrozen_later_are_no_finding():
    # gradual unfreezing: every stage in the optimizer from the start, unfrozen one at a time
    model = net()
    model[:4].requires_grad_(False)
    opt = torch.optim.AdamW([{"params": model[0].parameters()}, {"params": model[2].parameters()},
                             {"params": model[4].parameters()}], lr=1e-2)
    with freezelint.watch() as w:
        run(model, opt, 8, lambda i: i == 4 and model[2].requires_grad_(True))
    assert len(w.reports) == 2 and all(r.ok for r in w.reports), [r.render_text() for r in w.reports]


def lr0_backbone(eta_min: float):
    """The backbone "frozen" by lr=0 in its own group, under CosineAnnealingLR(eta_min=...)."""
    model = net()
    opt = torch.optim.SGD([{"params": model[:4].parameters(), "lr": 0.0},
                           {"params": model[4].parameters(), "lr": 0.1}], momentum=0.9)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10, eta_min=eta_min)
    return model, opt, sched


def test_an_lr0_freeze_that_a_schedulers_eta_min_lifts_is_fz304_at_run_time():
    model, opt, sched = lr0_backbone(1e-3)
    with freezelint.watch(steps=3) as w:
        run(model, opt, 3, sched=sched)
    [f] = w.report.findings
    assert (f.code, f.target) == ("FZ304", "param_groups[0]"), w.report.render_text()
    assert f.message == ("param group 0 had lr=0 at step 1 and lr=2.44717e-05 at step 2, and its parameters "
                         "(0.weight, 0.bias, 2.weight and 1 more) changed: CosineAnnealingLR's eta_min=0.001 applies to "
                         "every group: it raises this one's lr from 0 toward 0.001, so the lr=0 that froze them does "
                         "not hold"), f.message
    assert "requires_grad_(False)" in f.advice


def lr0_written_after(kind: str, warm_head: bool = False):
    """The backbone "frozen" by writing lr=0 into its group after the scheduler was built, which
    took 1e-3 as its base; `warm_head`: the head's group warms up from 0 (per-group lambdas)."""
    model = net()
    opt = torch.optim.SGD([{"params": model[:4].parameters()}, {"params": model[4].parameters()}], lr=1e-3)
    if kind == "LambdaLR":
        sched = torch.optim.lr_scheduler.LambdaLR(opt, [lambda s: 1.0, (lambda s: s / 4) if warm_head else (lambda s: 1.0)])
    else:
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10, eta_min=1e-4)
    opt.param_groups[0]["lr"] = 0.0
    return model, opt, sched


@pytest.mark.parametrize("kind,warm_head", [("LambdaLR", False), ("LambdaLR", True), ("CosineAnnealingLR", False)])
def test_an_lr0_written_after_the_scheduler_was_built_is_fz304(kind, warm_head):
    # the scheduler's step() sets the group's lr again from the base it took (1e-3): the lr=0 held one step
    model, opt, sched = lr0_written_after(kind, warm_head)
    start = model[0].weight.detach().clone()
    with freezelint.watch(steps=3) as w:
        run(model, opt, 3, sched=sched)
    assert not torch.equal(start, model[0].weight)  # torch: the "frozen" backbone trained
    [f] = w.report.findings
    assert (f.code, f.target) == ("FZ304", "param_groups[0]"), w.report.render_text()
    assert f.message.startswith("param group 0 had lr=0 at step 1 and lr="), f.message
    assert (f"changed: the lr=0 was written after {kind} set lr=0.001 for this group, and its step() sets the "
            f"group's lr again from its schedule, so the lr=0 that froze them does not hold") in f.message, f.message


def test_near_miss_a_warmup_that_starts_one_group_at_0_is_no_fz304():
    # LambdaLR's factor 0 at step 0 for the head alone: the scheduler set that 0 itself, and the head trains
    model = net()
    model[:4].requires_grad_(False)
    opt = torch.optim.AdamW([{"params": model[:4].parameters(), "lr": 1e-4}, {"params": model[4].parameters()}], lr=1e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, [lambda s: 1.0, lambda s: min(1.0, s / 3)])
    with freezelint.watch(steps=3) as w:
        run(model, opt, 3, sched=sched)
    assert w.report.ok and not w.report.findings, w.report.render_text()


def test_an_lr0_group_the_schedule_keeps_at_0_is_fz304_it_never_trains():
    # CosineAnnealingLR(eta_min=0) only scales the base lr of 0: a freeze by lr=0 that holds, which
    # still computes grads and optimizer state; FZ304 in the code, and at run time
    model, opt, sched = lr0_backbone(0.0)
    with freezelint.watch(steps=3) as w:
        run(model, opt, 3, sched=sched)
    [f] = w.report.findings
    assert (f.code, f.target) == ("FZ304", "param_groups[0]"), w.report.render_text()
    assert "has a base lr of 0 (its `initial_lr`), and CosineAnnealingLR only multiplies it" in f.message, f.message
    assert not w.report.notes, w.report.render_text()


def test_near_miss_a_warmup_from_0_and_an_lr_raised_by_the_script_are_no_fz304():
    model = net()
    opt = torch.optim.AdamW([{"params": model[:4].parameters(), "lr": 1e-3},
                             {"params": model[4].parameters(), "lr": 1e-2}])
    warmup = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: s / 4)  # every group from 0 (transformers' warmup)
    with freezelint.watch(steps=3) as w:
        run(model, opt, 3, sched=warmup)
    assert w.report.ok, w.report.render_text()
    model = net()
    opt = torch.optim.SGD([{"params": model[:4].parameters(), "lr": 0.0},
                           {"params": model[4].parameters(), "lr": 0.1}])

    def thaw(i):  # the script's own stage: the backbone's lr set at step 2, no scheduler
        if i == 1:
            opt.param_groups[0]["lr"] = 1e-3

    with freezelint.watch(steps=3) as w:
        run(model, opt, 3, thaw)
    assert w.report.ok, w.report.render_text()


def sized_by_probe(freeze_bn: bool, every_step: bool = False):
    """A builder that runs a throw-away wrapper of the body in eval() to size the head (fastai's
    create_vision_model); `every_step`: the wrapper runs at every step too (a reference model built
    around the trained model's modules, which changes with it)."""
    torch.manual_seed(0)
    body = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    probe = nn.Sequential(*body.children()).eval()
    with torch.no_grad():
        nf = probe(torch.zeros(2, 3, 8, 8)).shape[1]
    model = nn.Sequential(body, nn.Linear(nf, 2))
    (body if freeze_bn else body[0]).requires_grad_(False)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    model.train()
    x, y = torch.randn(16, 3, 8, 8), torch.randint(0, 2, (16,))
    for _ in range(4):
        if every_step:
            with torch.no_grad():
                probe(x)
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()


def test_a_module_run_once_before_training_to_size_a_head_is_no_model_of_the_window():
    with freezelint.watch() as w:
        sized_by_probe(freeze_bn=False)
    assert w.report.ok and w.report.notes == [], w.report.render_text()
    text = w.report.render_text()
    assert "probe" not in text and not any(m.tied for m in w.report.modules), text


def test_the_sizing_forwards_eval_is_no_freeze_a_frozen_bn_left_in_train_mode_is_fz502():
    with freezelint.watch() as w:
        sized_by_probe(freeze_bn=True)
    assert [(f.code, f.target) for f in w.report.findings] == [("FZ502", "0.1")], w.report.render_text()


def test_near_miss_a_reference_around_the_models_modules_run_at_every_step_is_still_noted():
    with freezelint.watch() as w:
        sized_by_probe(freeze_bn=False, every_step=True)
    assert any(n.startswith("probe shares") for n in w.report.notes), w.report.render_text()


@pytest.mark.parametrize("frozen", [True, False])
def test_an_expectation_may_name_a_model_that_ran_only_before_the_window(frozen):
    # a reference model run once before training (DPO's precomputed reference log-probs)
    torch.manual_seed(0)
    model, ref = nn.Linear(4, 2), nn.Linear(4, 2)
    ref.requires_grad_(not frozen)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with freezelint.watch(expect_frozen=["ref"]) as w:
        with torch.no_grad():
            ref(torch.randn(3, 4))
        for _ in range(3):
            opt.zero_grad()
            model(torch.randn(3, 4)).sum().backward()
            opt.step()
    assert [f.code for f in w.report.findings] == ([] if frozen else ["FZ506"]), w.report.render_text()
