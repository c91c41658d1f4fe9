"""Trial 35's watch findings: an lr=0 group a multiplying scheduler keeps at 0, expectations on
modules without parameters, the tree's optimizer field, and weights moved with a zero gradient."""
import torch
from torch import nn

import freezelint
from freezelint.runtime.runner import compiled_graphs


def codes(report):
    return [f.code for f in report.findings]


def bn_steps(eval_bn: bool, **expect):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4, affine=False), nn.Linear(4, 2))
    if eval_bn:
        model[1].eval()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with freezelint.watch(**expect) as w:
        for _ in range(2):
            model(torch.randn(8, 4)).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
    return w.report


def test_a_glob_naming_a_buffers_only_module_holds_where_its_buffers_stayed():
    for pattern in ("1*", "1"):
        report = bn_steps(True, expect_frozen=[pattern])
        assert report.ok, report.render_text()


def test_a_buffers_only_module_whose_buffers_moved_fails_expect_frozen():
    report = bn_steps(False, expect_frozen=["1*"])
    assert codes(report) == ["FZ506"], report.render_text()
    assert "names modules without parameters whose buffers changed: 1.running_mean" in report.findings[0].message


def test_expect_trainable_on_a_buffers_only_module_says_it_holds_no_parameters():
    report = bn_steps(True, expect_trainable=["1*"])
    assert [f.message for f in report.findings] == ["expect_trainable pattern names a module that holds no parameters"]


def lr_steps(make_sched, head_lr=0.0, steps=2):
    """A two-group fine-tune whose head group has lr `head_lr` (a per-group lr looked up under a
    misspelt key falls back to 0), under the scheduler `make_sched(opt)` builds (None: none)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = torch.optim.AdamW([{"params": model[0].parameters(), "lr": 1e-3},
                             {"params": model[2].parameters(), "lr": head_lr}])
    sched = make_sched(opt) if make_sched else None
    with freezelint.watch(steps=steps) as w:
        for _ in range(steps + 1):
            model(torch.randn(4, 8)).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
            if sched is not None:
                sched.step()
    return w.report


sched = torch.optim.lr_scheduler


def test_an_lr_zero_group_a_multiplying_scheduler_keeps_at_zero_is_fz304():
    for make in (lambda o: sched.LinearLR(o, start_factor=0.1, total_iters=10),
                 lambda o: sched.LambdaLR(o, lambda s: min(1.0, (s + 1) / 10)),  # a warm-up as transformers builds it
                 lambda o: sched.StepLR(o, 5),
                 lambda o: sched.CosineAnnealingLR(o, T_max=10),
                 lambda o: sched.SequentialLR(o, [sched.LinearLR(o, 0.1, total_iters=2),
                                                  sched.ExponentialLR(o, 0.9)], milestones=[2])):
        report = lr_steps(make)
        assert codes(report) == ["FZ304"], report.render_text()
        f = report.findings[0]
        assert f.target == "2 in param_groups[1]"
        assert "has a base lr of 0 (its `initial_lr`)" in f.message and "2.weight, 2.bias" in f.message
        assert "set the group's lr" in f.advice and "requires_grad_(False)" in f.advice
        assert not report.notes


def test_an_lr_zero_group_a_scheduler_may_raise_stays_a_note():
    class Custom(sched.LambdaLR):  # a subclass may compute any lr
        pass

    for make in (None,  # the loop may set the lr by hand between steps
                 lambda o: Custom(o, lambda s: 1.0),
                 lambda o: sched.CyclicLR(o, base_lr=[1e-4, 0.0], max_lr=[1e-3, 0.0], step_size_up=1000)):
        report = lr_steps(make)
        assert report.ok, report.render_text()
        assert any("the group's lr is 0, so no FZ505" in n for n in report.notes), report.render_text()


def test_a_warm_up_from_near_zero_is_silent():
    for make in (lambda o: sched.LinearLR(o, start_factor=1e-8, total_iters=100),
                 lambda o: sched.LambdaLR(o, lambda s: s / 10)):  # lr exactly 0 at step 1, base lr > 0
        report = lr_steps(make, head_lr=1e-2, steps=3)
        assert report.ok and not report.notes, report.render_text()


def test_the_tree_says_which_frozen_parameters_an_optimizer_holds():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    model[0].requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)  # the frozen layer too
    with freezelint.watch() as w:
        for _ in range(2):
            model(torch.randn(3, 4)).sum().backward()
            opt.step()
            opt.zero_grad()
    lines = w.report.render_text().splitlines()
    root = next(line for line in lines if line.startswith("(model)"))
    assert root.endswith("all 2 trainable params + 2 frozen in the optimizer"), root
    frozen = next(line for line in lines if " 0 Linear" in line)
    assert "frozen" in frozen and frozen.endswith("2 frozen params in the optimizer"), frozen
    assert [m.frozen_held for m in w.report.modules if m.name in ("", "0", "2")] == [2, 2, 0]


def test_the_tree_of_an_optimizer_over_trainable_parameters_only_is_unchanged():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    model[0].requires_grad_(False)
    opt = torch.optim.AdamW(model[2].parameters(), lr=1e-3)
    with freezelint.watch() as w:
        for _ in range(2):
            model(torch.randn(3, 4)).sum().backward()
            opt.step()
            opt.zero_grad()
    lines = w.report.render_text().splitlines()
    assert lines[1].endswith("all 2 trainable params in the optimizer"), lines
    assert not any("frozen" in line.rpartition(" · ")[2] for line in lines), lines
    assert all(m.frozen_held == 0 for m in w.report.modules)


def grad_zeroed_steps(zero_backbone: bool, opt_kind=torch.optim.AdamW, **kw):
    """A backbone "frozen" by zeroing its grads after backward, still trainable and in the optimizer."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    backbone = model[0]
    if not zero_backbone:
        backbone.requires_grad_(False)
    opt = opt_kind([p for p in model.parameters() if p.requires_grad], lr=1e-2, **kw)
    with freezelint.watch(steps=3) as w:
        for _ in range(4):
            loss = nn.functional.cross_entropy(model(torch.randn(8, 8)), torch.randint(0, 2, (8,)))
            opt.zero_grad()
            loss.backward()
            if zero_backbone:
                for p in backbone.parameters():
                    p.grad.zero_()
            opt.step()
    return w.report


def test_a_freeze_by_zeroing_the_grad_that_weight_decay_moves_is_fz505():
    report = grad_zeroed_steps(True, weight_decay=0.01)
    [f] = report.findings
    assert (f.code, f.target) == ("FZ505", "0"), report.render_text()
    if compiled_graphs():  # another test compiled in this process: grads are counted at every step
        assert "a compiled graph (torch.compile) hands out zeros" in f.message, f.message
        return
    assert "0.weight, 0.bias: requires_grad=True and in the optimizer, yet they moved over 3 steps with a zero " \
           "gradient" in f.message, f.message
    assert "`p.grad.zero_()`" in f.message and "AdamW's weight_decay=0.01 moves them" in f.message, f.message
    assert f.advice.startswith("if they are meant to stay frozen, freeze them with `requires_grad_(False)`")
    assert [r.name for r in report.params if r.grad_zeroed] == ["0.weight", "0.bias"]


def test_the_same_freeze_done_right_is_clean():
    report = grad_zeroed_steps(False, weight_decay=0.01)
    assert report.ok, report.render_text()


def test_heads_picked_per_step_with_kept_zeroed_grads_are_no_fz505():
    # the head not picked at the closing step holds a zeroed grad (set_to_none=False) and moves by
    # AdamW's momentum and weight decay: it had a real gradient at its own step
    torch.manual_seed(0)
    body, heads = nn.Linear(8, 8), nn.ModuleList([nn.Linear(8, 2) for _ in range(2)])
    opt = torch.optim.AdamW([*body.parameters(), *heads.parameters()], lr=1e-2, weight_decay=0.01)
    with freezelint.watch(steps=4, model=nn.ModuleDict({"body": body, "heads": heads})) as w:
        for step in range(5):
            opt.zero_grad(set_to_none=False)
            heads[step % 2](body(torch.randn(4, 8))).pow(2).mean().backward()
            opt.step()
    assert w.report.ok, w.report.render_text()
    assert not any(r.grad_zeroed for r in w.report.params)


def test_a_grad_zeroed_at_the_last_step_only_is_no_fz505():
    # a real gradient at the earlier steps of the window: the optimizer's state keeps it
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.01)
    with freezelint.watch(steps=3) as w:
        for step in range(3):
            model(torch.randn(8, 8)).pow(2).mean().backward()
            if step == 2:
                for p in model[0].parameters():
                    p.grad.zero_()
            opt.step()
            opt.zero_grad()
    assert w.report.ok, w.report.render_text()


def test_a_glob_naming_modules_that_hold_parameters_still_says_how_to_widen_it():
    report = bn_steps(True, expect_frozen=["[0-1]"])  # modules 0 (a Linear) and 1 (buffers only)
    [f] = report.findings
    assert f.message.startswith("expect_frozen pattern matched no parameter; a glob matches whole dotted names: "
                                "`[0-1].*` matches"), f.message


class _Lazy:
    """A proxy that computes its object on first use, as lazy_object_proxy's do (reading `__class__`
    runs the factory)."""
    woke = False

    @property
    def __class__(self):
        _Lazy.woke = True
        raise RuntimeError("the factory ran")


def test_schedulers_are_found_in_a_list_and_odd_objects_beside_them_are_not_touched():
    """The scheduler held only in a list is found (FZ304); a dead weakref.proxy and a lazy proxy in
    the same frame neither fail the judging nor run."""
    import weakref

    class Thing:
        pass

    dead = weakref.proxy(Thing())  # noqa: F841 — held by the frame the search reads
    lazy = _Lazy()  # noqa: F841
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = torch.optim.AdamW([{"params": model[0].parameters(), "lr": 1e-3},
                             {"params": model[2].parameters(), "lr": 0.0}])
    scheds = [sched.LinearLR(opt, start_factor=0.1, total_iters=10)]
    with freezelint.watch(steps=2) as w:
        for _ in range(3):
            model(torch.randn(4, 8)).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
            scheds[0].step()
    assert codes(w.report) == ["FZ304"], w.report.render_text()
    assert not _Lazy.woke
