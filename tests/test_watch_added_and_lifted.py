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
    assert f.message == ("2 parameters (2.weight, 2.bias), added to the optimizer by step 5 (add_param_group, "
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
