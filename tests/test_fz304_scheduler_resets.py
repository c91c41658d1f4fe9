"""FZ304 in the code: what the schedulers built over a group's optimizer do to its lr=0, said as
torch does it. OneCycleLR and CyclicLR reset every group's lr from their own max_lr (and base_lr),
when built and at each step(), whichever came first (unless given one value per group, 0 for it);
LambdaLR computes each group's lr from its initial one (a 0 written after it was built lasts one
step, a 0 written before is its base); StepLR multiplies the current lr (a 0 stays). Each case runs
too, and the lr it ends with is the one the message implies."""

from __future__ import annotations

import textwrap

import pytest

from freezelint.check.engine import check_source

RESETS = "resets every group's lr from its"
RESTARTS = "computes each group's lr from its initial one at its next step(), so this group trains on"
MAYBE = "schedulers can move the lr off 0"

HEAD = """
    import torch
    from torch import nn
    from torch.optim.lr_scheduler import CyclicLR, LambdaLR, OneCycleLR, StepLR

    a, b = nn.Linear(2, 2), nn.Linear(2, 2)
"""


def _source(body: str) -> str:
    return textwrap.dedent(HEAD).lstrip() + textwrap.dedent(body).lstrip()


def _one(body: str) -> str:
    (d,) = check_source(_source(body), "train.py", select=["FZ304"])
    return d.message


def _lr_after_a_step(body: str) -> float:
    """The first group's lr once the optimizer and the scheduler have stepped once."""
    torch = pytest.importorskip("torch")
    ns: dict = {}
    exec(compile(_source(body), "train.py", "exec"), ns)
    opt, sched = ns["opt"], ns["sched"]
    with torch.no_grad():
        opt.step()
    sched.step()
    return opt.param_groups[0]["lr"]


ZERO_THEN_ONE_CYCLE = """
    opt = torch.optim.SGD([{"params": a.parameters(), "lr": 0}, {"params": b.parameters(), "lr": 0.1}], momentum=0.9)
    sched = OneCycleLR(opt, max_lr=0.1, total_steps=10)
"""
WRITE_THEN_ONE_CYCLE = """
    opt = torch.optim.SGD([{"params": a.parameters()}, {"params": b.parameters()}], lr=0.1, momentum=0.9)
    opt.param_groups[0]["lr"] = 0.0
    sched = OneCycleLR(opt, max_lr=0.1, total_steps=10)
"""
CYCLIC_THEN_WRITE = """
    opt = torch.optim.SGD([{"params": a.parameters()}, {"params": b.parameters()}], lr=0.1, momentum=0.9)
    sched = CyclicLR(opt, base_lr=1e-3, max_lr=0.1, step_size_up=4)
    for g in opt.param_groups[:1]:
        g["lr"] = 0.0
"""


@pytest.mark.parametrize("body, kind, args, line", [
    (ZERO_THEN_ONE_CYCLE, "OneCycleLR", "max_lr", 7),
    (WRITE_THEN_ONE_CYCLE, "OneCycleLR", "max_lr", 8),
    (CYCLIC_THEN_WRITE, "CyclicLR", "base_lr and max_lr", 7),
], ids=["lr-0-given-then-built", "lr-0-written-then-built", "built-then-lr-0-written"])
def test_one_cycle_and_cyclic_reset_an_lr_zero_group_in_either_order(body, kind, args, line):
    message = _one(body)
    assert f"the {kind} at line {line} {RESETS} {args}, when built and at each step(), this group's too, so it " \
           f"trains" in message, message
    assert MAYBE not in message and RESTARTS not in message
    assert _lr_after_a_step(body) > 0


def test_a_scheduler_held_by_the_same_object_in_another_method_counts():
    message = _one("""
        class Trainer:
            def __init__(self):
                self.opt = torch.optim.AdamW([{"params": a.parameters()}, {"params": b.parameters()}])
                self.sched = OneCycleLR(self.opt, max_lr=1e-3, total_steps=100)

            def freeze_a(self):
                self.opt.param_groups[0]["lr"] = 0.0
    """)
    assert f"the OneCycleLR at line 9 {RESETS} max_lr" in message, message


@pytest.mark.parametrize("body", [
    # over another optimizer
    """
    opt = torch.optim.SGD([{"params": a.parameters(), "lr": 0}, {"params": b.parameters()}], lr=0.1)
    other = torch.optim.SGD(b.parameters(), lr=0.1)
    sched = OneCycleLR(other, max_lr=0.1, total_steps=10)
    """,
    # an optimizer of the same name in another function
    """
    def build():
        opt = torch.optim.SGD([{"params": a.parameters(), "lr": 0}, {"params": b.parameters()}], lr=0.1)
        return opt

    def schedule(opt):
        return OneCycleLR(opt, max_lr=0.1, total_steps=10)
    """,
], ids=["another-optimizer", "another-function"])
def test_a_scheduler_over_another_optimizer_is_not_named(body):
    message = _one(body)
    assert RESETS not in message and MAYBE in message, message


@pytest.mark.parametrize("body", [
    """
    opt = torch.optim.SGD([{"params": a.parameters(), "lr": 0}, {"params": b.parameters()}], lr=0.1)
    sched = OneCycleLR(opt, max_lr=[0.0, 0.1], total_steps=10)
    """,
    """
    opt = torch.optim.SGD([{"params": a.parameters()}, {"params": b.parameters()}], lr=0.1)
    opt.param_groups[0]["lr"] = 0
    sched = CyclicLR(opt, [0.0, 1e-3], [0.0, 0.1], step_size_up=4)
    """,
    """
    max_lrs = [0.0, 0.1]
    opt = torch.optim.SGD([{"params": a.parameters(), "lr": 0}, {"params": b.parameters()}], lr=0.1)
    sched = OneCycleLR(opt, max_lrs, total_steps=10)
    """,
], ids=["max_lr-list", "cyclic-lists-positional", "max_lr-list-variable"])
def test_per_group_values_with_0_for_the_group_keep_it_at_0_and_say_nothing_of_the_scheduler(body):
    message = _one(body)  # still an lr-0 freeze: grads and state are computed
    assert RESETS not in message and MAYBE not in message, message
    assert _lr_after_a_step(body) == 0


def test_max_lr_per_group_without_0_for_the_group_still_resets_it():
    body = """
        opt = torch.optim.SGD([{"params": a.parameters(), "lr": 0}, {"params": b.parameters()}], lr=0.1)
        sched = OneCycleLR(opt, max_lr=[1e-3, 0.1], total_steps=10)
    """
    assert f"the OneCycleLR at line 7 {RESETS} max_lr" in _one(body)
    assert _lr_after_a_step(body) > 0


def test_lambda_lr_restarts_an_lr_zero_written_after_it_and_keeps_one_written_before():
    after = """
        opt = torch.optim.SGD([{"params": a.parameters()}, {"params": b.parameters()}], lr=0.1)
        sched = LambdaLR(opt, lambda s: 1.0)
        opt.param_groups[0]["lr"] = 0.0
    """
    before = after.replace('sched = LambdaLR(opt, lambda s: 1.0)\n        opt.param_groups[0]["lr"] = 0.0',
                           'opt.param_groups[0]["lr"] = 0.0\n        sched = LambdaLR(opt, lambda s: 1.0)')
    assert before != after
    assert f"the LambdaLR here {RESTARTS}" in _one(after) and _lr_after_a_step(after) > 0
    message = _one(before)
    assert RESTARTS not in message and MAYBE not in message, message
    assert _lr_after_a_step(before) == 0


@pytest.mark.parametrize("order", ["before", "after"])
def test_step_lr_multiplies_the_lr_so_an_lr_zero_stays_and_no_scheduler_is_said_to_move_it(order):
    build = "sched = StepLR(opt, step_size=1, gamma=0.5)"
    write = 'opt.param_groups[0]["lr"] = 0.0'
    first, second = (build, write) if order == "before" else (write, build)
    body = f"""
        opt = torch.optim.SGD([{{"params": a.parameters()}}, {{"params": b.parameters()}}], lr=0.1)
        {first}
        {second}
    """
    message = _one(body)
    assert RESETS not in message and RESTARTS not in message and MAYBE not in message, message
    assert _lr_after_a_step(body) == 0
