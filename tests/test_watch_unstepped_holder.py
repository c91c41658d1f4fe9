"""FZ503 on parameters that an optimizer holds but the loop never steps (stage 2 builds a new
optimizer over the unfrozen model, the loop still steps stage 1's): they are in that optimizer's
param group, not in none, and the finding names it."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import freezelint  # noqa: E402


def _two_stages(rebind: bool, steps: int = 8):
    torch.manual_seed(0)
    backbone = nn.Sequential(nn.Linear(6, 8), nn.Tanh())
    model = nn.Sequential(backbone, nn.Linear(8, 1))
    backbone.requires_grad_(False)
    optimizer = torch.optim.Adam(model[1].parameters(), lr=1e-2)
    with freezelint.watch(steps=2) as w:
        for step in range(steps):
            if step == 3:  # stage 2: everything trains, at a lower lr
                backbone.requires_grad_(True)
                stage2 = torch.optim.Adam(model.parameters(), lr=1e-3)
                if rebind:
                    optimizer = stage2
            optimizer.zero_grad()
            model(torch.randn(4, 6)).pow(2).mean().backward()
            optimizer.step()
    return w


def test_an_unfrozen_part_held_by_an_optimizer_the_loop_does_not_step_names_that_optimizer():
    w = _two_stages(rebind=False)
    first, later = w.reports
    assert first.ok, first.render_text()
    (f,) = later.findings
    assert f.code == "FZ503" and f.target == "0", later.render_text()
    assert "in no param group" not in f.message, f.message
    assert ("requires_grad=True and in a param group of `stage2` (Adam), which did not step in the window while "
            "`optimizer` did, so never updated") in f.message, f.message
    assert "the loop still steps the old one" in f.message
    assert f.advice.startswith("step `stage2` in the loop (where it replaces `optimizer`, assign it to the name "
                               "the loop steps: `optimizer = ...`)"), f.advice


def test_the_new_optimizer_stepped_in_place_of_the_old_one_is_clean():
    w = _two_stages(rebind=True)
    assert all(r.ok for r in w.reports), [r.render_text() for r in w.reports]


def test_a_part_no_optimizer_holds_keeps_the_words_for_none():
    # the near miss: unfrozen, and no optimizer at all holds it
    torch.manual_seed(0)
    backbone = nn.Sequential(nn.Linear(6, 8), nn.Tanh())
    model = nn.Sequential(backbone, nn.Linear(8, 1))
    backbone.requires_grad_(False)
    opt = torch.optim.Adam(model[1].parameters(), lr=1e-2)
    backbone.requires_grad_(True)
    with freezelint.watch(steps=2) as w:
        for _ in range(2):
            opt.zero_grad()
            model(torch.randn(4, 6)).pow(2).mean().backward()
            opt.step()
    (f,) = w.report.findings
    assert f.code == "FZ503" and "requires_grad=True but in no param group" in f.message, f.message



def test_optimizers_of_one_class_the_code_names_by_no_variable_are_numbered():
    torch.manual_seed(0)
    backbone = nn.Sequential(nn.Linear(6, 8), nn.Tanh())
    model = nn.Sequential(backbone, nn.Linear(8, 1))
    stages = [torch.optim.Adam(model[1].parameters(), lr=1e-2), torch.optim.Adam(model.parameters(), lr=1e-3)]
    with freezelint.watch(steps=2) as w:
        for _ in range(2):
            stages[0].zero_grad()
            model(torch.randn(4, 6)).pow(2).mean().backward()
            stages[0].step()
    (f,) = w.report.findings
    assert f.code == "FZ503" and ("in a param group of `Adam 2`, which did not step in the window while `Adam 1` "
                                  "did") in f.message, f.message
