"""Later windows: training that goes on after the watch's window is judged again where what trains
changes (gradual unfreezing at an epoch boundary, a swapped head, a rebuilt optimizer)."""

from __future__ import annotations

import json

import pytest

from conftest import write

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import freezelint  # noqa: E402
from freezelint.runtime.watch import Watch  # noqa: E402


def net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))


def train(model, opt, steps: int, on_step=None) -> None:
    gen = torch.Generator().manual_seed(1)
    for i in range(steps):
        if on_step is not None:
            opt = on_step(i, opt) or opt
        x = torch.randn(8, 6, generator=gen)
        nn.functional.cross_entropy(model(x), torch.zeros(8, dtype=torch.long)).backward()
        opt.step()
        opt.zero_grad()


def gradual(add: bool):
    """Unfreeze model[2] at step 4 (an epoch boundary); with `add`, into the optimizer too."""
    model = net()
    model[:4].requires_grad_(False)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)

    def on_step(i, opt):
        if i == 4:
            model[2].requires_grad_(True)
            if add:
                opt.add_param_group({"params": list(model[2].parameters())})

    return model, opt, on_step


def test_an_unfreeze_after_the_window_that_misses_the_optimizer_is_fz503_in_a_later_window():
    model, opt, on_step = gradual(add=False)
    with freezelint.watch() as w:
        train(model, opt, 10, on_step)
    first, *later = w.reports
    assert first.ok and len(later) == 1, [r.render_text() for r in w.reports]
    assert [(f.code, f.target) for f in later[0].findings] == [("FZ503", "2")], later[0].render_text()
    assert later[0].notes[0] == "a later window, from step 5: before it, 2 parameters were newly trainable"


def test_near_miss_an_unfreeze_that_joins_the_optimizer_gives_a_clean_later_window():
    model, opt, on_step = gradual(add=True)
    with freezelint.watch() as w:
        train(model, opt, 10, on_step)
    assert [r.ok for r in w.reports] == [True, True], [r.render_text() for r in w.reports]
    assert "the optimizer holds 2 more" in w.reports[1].notes[0]
    assert {p.name for p in w.reports[1].params if p.changed} == {"2.weight", "2.bias", "4.weight", "4.bias"}


def test_a_rebuilt_optimizer_and_a_swapped_head_each_open_a_window_judged_on_what_they_hold():
    model = net()
    model[:2].requires_grad_(False)
    opt0 = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)

    def on_step(i, opt):
        if i == 3:  # rebuilt over every trainable parameter: a new optimizer, nothing missing
            return torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
        if i == 8:  # a new head after the optimizer was built: never trained
            model[4] = nn.Linear(16, 3)
        return opt

    with freezelint.watch() as w:
        train(model, opt0, 14, on_step)
    notes = [r.notes[0] for r in w.reports[1:]]
    assert len(notes) == 2 and "from the first step of a new optimizer (opt)" in notes[0] and "new in the model" in notes[1], notes
    assert w.reports[1].ok, w.reports[1].render_text()
    assert [(f.code, f.target) for f in w.reports[2].findings] == [("FZ302", "4")], w.reports[2].render_text()


def test_a_gan_toggling_requires_grad_at_every_step_opens_no_later_window():
    torch.manual_seed(0)
    g, d = nn.Linear(4, 4), nn.Sequential(nn.Linear(4, 1))
    opt_g, opt_d = torch.optim.Adam(g.parameters()), torch.optim.Adam(d.parameters())
    with freezelint.watch() as w:
        for _ in range(12):
            d.requires_grad_(True)
            (d(g(torch.randn(5, 4)).detach()).mean() - d(torch.randn(5, 4)).mean()).backward()
            opt_d.step()
            opt_d.zero_grad()
            d.requires_grad_(False)  # frozen for the generator's step, every step alike
            (-d(g(torch.randn(5, 4))).mean()).backward()
            opt_g.step()
            opt_g.zero_grad()
    assert w.later == [] and len(w.reports) == 1 and w.report.ok, [r.render_text() for r in w.reports]


def test_rewatch_false_judges_the_first_window_only():
    model, opt, on_step = gradual(add=False)
    with freezelint.watch(rewatch=False) as w:
        train(model, opt, 10, on_step)
    assert len(w.reports) == 1 and w.report.ok


def test_a_later_window_counts_the_step_that_first_trains_with_the_change_and_is_judged_when_training_ends():
    # the unfreeze before step 5 is seen at that step's start: steps 5 and 6 are the later window
    model, opt, on_step = gradual(add=False)
    with freezelint.watch() as w:
        train(model, opt, 6, on_step)
    assert len(w.reports) == 2 and not w.unfinished, w.unfinished
    assert [(f.code, f.target) for f in w.reports[1].findings] == [("FZ503", "2")], w.reports[1].render_text()
    assert not any("training ended" in n for n in w.reports[1].notes), w.reports[1].notes
    # the unfreeze before the last step: judged over that one step, with a note
    model, opt, on_step = gradual(add=False)
    with freezelint.watch() as w:
        train(model, opt, 5, on_step)
    assert len(w.reports) == 2 and not w.unfinished, w.unfinished
    assert [(f.code, f.target) for f in w.reports[1].findings] == [("FZ503", "2")], w.reports[1].render_text()
    assert "training ended after 1 of this window's 2 steps: judged over the step seen" in w.reports[1].notes


def test_later_windows_leave_hooks_and_train_as_found():
    from torch.nn.modules import module as module_mod
    from torch.optim import optimizer as optimizer_mod

    train_before = nn.Module.train
    hooks = (dict(module_mod._global_forward_pre_hooks), dict(optimizer_mod._global_optimizer_pre_hooks),
             dict(optimizer_mod._global_optimizer_post_hooks))
    model, opt, on_step = gradual(add=True)
    with freezelint.watch() as w:
        train(model, opt, 10, on_step)
        assert len(w.later) == 1 and w.later[0]._handles == []  # closed once judged
    assert nn.Module.train is train_before
    assert (dict(module_mod._global_forward_pre_hooks), dict(optimizer_mod._global_optimizer_pre_hooks),
            dict(optimizer_mod._global_optimizer_post_hooks)) == hooks


def test_after_the_window_the_watch_holds_no_optimizer_or_model_it_did_not_already():
    # what trains is compared through weak references: an optimizer rebuilt after the window, and
    # the model, are freed with the training however long the watch is kept
    import gc
    import weakref

    model, opt, on_step = gradual(add=False)
    w = Watch(2)
    with w:
        train(model, opt, 3)
        spare = torch.optim.SGD(model[4].parameters(), lr=0.1)
        spare.step()  # a new optimizer after the window: a later window opens and holds it
    gone = weakref.ref(spare)
    del spare
    gc.collect()
    # its one step, judged when the block ends: the report holds records, not the optimizer
    assert len(w.later) == 1 and w.later[0].cut_short and not w.unfinished
    assert gone() is None


def test_assert_watched_fails_on_a_later_windows_findings():
    model, opt, on_step = gradual(add=False)
    with pytest.raises(freezelint.FreezeAuditError, match="FZ503"):
        with freezelint.assert_watched():
            train(model, opt, 10, on_step)


SCRIPT = """
import sys
import torch, torch.nn as nn
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))
model[:4].requires_grad_(False)
opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
for epoch in range(3):
    if epoch == 1:
        model[2].requires_grad_(True)
        if "--fixed" in sys.argv:
            opt.add_param_group({"params": list(model[2].parameters())})
    for step in range(4):
        nn.functional.cross_entropy(model(torch.randn(8, 6)), torch.zeros(8, dtype=torch.long)).backward()
        opt.step()
        opt.zero_grad()
print("finished")
"""


def test_run_no_stop_prints_each_window_and_exits_1_on_a_later_windows_findings(cli, tmp_path):
    write(tmp_path / "train.py", SCRIPT)
    r = cli(tmp_path, "run", "--no-stop", "train.py")
    assert r.code == 1 and r.out.count("freeze audit:") == 2 and "finished" in r.out, r.out + r.err
    assert "FZ503" in r.out.split("freeze audit:")[2] and "a later window, from step 5" in r.out
    fixed = cli(tmp_path, "run", "--no-stop", "train.py", "--fixed")
    assert fixed.code == 0 and fixed.out.count("freeze audit: OK") == 2, fixed.out + fixed.err
    once = cli(tmp_path, "run", "--no-stop", "--once", "train.py")
    assert once.code == 0 and once.out.count("freeze audit:") == 1, once.out + once.err
    stopped = cli(tmp_path, "run", "train.py")  # stopped after the first window: no later one
    assert stopped.code == 0 and "finished" not in stopped.out


def test_run_no_stop_json_is_one_document_with_the_later_windows_and_a_file_gets_every_window(cli, tmp_path):
    write(tmp_path / "train.py", SCRIPT)
    r = cli(tmp_path, "run", "--no-stop", "--format", "json", "train.py")
    doc = json.loads(r.out)
    # the top level's ok is every window's verdict, as the exit code is; each window keeps its own
    assert r.code == 1 and not doc["ok"] and [w["ok"] for w in doc["later_windows"]] == [False], r.err
    assert [f["code"] for f in doc["later_windows"][0]["findings"]] == ["FZ503"]
    ignored = cli(tmp_path, "run", "--no-stop", "--format", "json", "--ignore", "FZ503", "train.py")
    assert ignored.code == 0 and json.loads(ignored.out)["later_windows"][0]["ignore"] == ["FZ503"], ignored.err
    out = tmp_path / "report.txt"
    r = cli(tmp_path, "run", "--no-stop", "-o", str(out), "train.py")
    assert r.code == 1 and out.read_text().count("freeze audit:") == 2, r.err
    stopped = cli(tmp_path, "run", "--format", "json", "train.py")
    assert "later_windows" not in json.loads(stopped.out)


def test_parameters_added_to_the_optimizer_inside_the_window_get_a_note_not_fz503():
    # trainable but in no param group for the first steps, added at step 3: the window's end is
    # clean, and the note says which steps missed them (a longer window hid this)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    model[0].requires_grad_(False)
    opt = torch.optim.SGD(model[3].parameters(), lr=0.1)
    with freezelint.watch(steps=4) as w:
        for step in range(4):
            if step == 2:
                opt.add_param_group({"params": list(model[1].parameters())})
            nn.functional.cross_entropy(model(torch.randn(8, 4)), torch.randint(0, 2, (8,))).backward()
            opt.step()
            opt.zero_grad()
    assert w.report.ok, w.report.render_text()
    assert w.report.notes == ["1.weight, 1.bias were trainable but in no param group at steps 1-2 of the window, "
                              "then added to the optimizer: those steps did not train them (FZ503 had the window "
                              "ended there)"]


def test_near_miss_a_gan_freezing_d_for_gs_step_gets_no_late_add_note():
    torch.manual_seed(0)
    g, d = nn.Linear(4, 4), nn.Sequential(nn.Linear(4, 1))
    opt_g, opt_d = torch.optim.Adam(g.parameters()), torch.optim.Adam(d.parameters())
    with freezelint.watch(steps=3) as w:
        for _ in range(3):
            d.requires_grad_(True)
            (d(g(torch.randn(5, 4)).detach()).mean() - d(torch.randn(5, 4)).mean()).backward()
            opt_d.step()
            opt_d.zero_grad()
            d.requires_grad_(False)
            (-d(g(torch.randn(5, 4))).mean()).backward()
            opt_g.step()
            opt_g.zero_grad()
    assert w.report.ok and not any("no param group" in n for n in w.report.notes), w.report.notes


def test_later_windows_stop_after_twenty_with_a_note():
    # a script whose freeze changes at every few steps: twenty later windows, then no more
    from freezelint.runtime.watch import _MAX_LATER

    model = net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def on_step(i, opt):
        if i % 3 == 2:
            model[0].requires_grad_(not model[0].weight.requires_grad)

    with freezelint.watch() as w:
        train(model, opt, 3 * (_MAX_LATER + 5), on_step)
    assert len(w.later) == _MAX_LATER and "no window opens after the 20 later ones" in w.unfinished


def _two_optimizers(iters: int = 10):
    """`c` is frozen before iteration 5 and its optimizer stops stepping; `a` trains throughout."""
    torch.manual_seed(0)
    a, c = nn.Linear(4, 1), nn.Linear(4, 1)
    oa, oc = torch.optim.SGD(a.parameters(), lr=0.1), torch.optim.SGD(c.parameters(), lr=0.1)
    with freezelint.watch() as w:
        for it in range(iters):
            if it == 4:
                c.requires_grad_(False)
            x = torch.randn(8, 4)
            oa.zero_grad()
            a(x).pow(2).mean().backward()
            oa.step()
            if it < 4:
                oc.zero_grad()
                c(x).pow(2).mean().backward()
                oc.step()
    return w


def test_a_later_window_counts_the_steps_of_the_optimizer_that_saw_the_change_among_several():
    # each optimizer's steps, counted from the watch's start: oa's 5th step is the first after the freeze
    later = _two_optimizers().reports[1]
    assert later.notes[0] == "a later window, from oa's step 5: before it, 2 parameters were newly frozen"


def test_a_later_window_names_models_and_optimizers_as_the_first_did():
    first, later = _two_optimizers().reports
    assert first.optimizer == "oa: SGD + oc: SGD" and [m.name for m in first.modules] == ["", "a", "c"]
    assert later.optimizer == "oa: SGD", later.render_text()
    assert [m.name for m in later.modules] == ["", "a"] and later.modules[0].type == "(1 model: a)"
    assert [p.name for p in later.params] == ["a.weight", "a.bias"]


def attr_set_at(step: int, attr: str, value=True, undo_at: int | None = None):
    """model[:4] frozen; at `step` a module attribute `attr` set on model[2] (an epoch boundary's
    "unfreeze" that unfreezes nothing); at `undo_at`, deleted again."""
    model = net()
    model[:4].requires_grad_(False)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)

    def on_step(i, opt):
        if i == step:
            setattr(model[2], attr, value)
        if i == undo_at:
            delattr(model[2], attr)

    return model, opt, on_step


@pytest.mark.parametrize("attr, code", [("requires_grad", "FZ102"), ("require_grad", "FZ103"),
                                        ("requires_grad_", "FZ101")])
def test_an_unfreeze_by_a_module_attribute_after_the_window_is_reported_in_a_later_window(attr, code):
    # nothing else changes (the attribute freezes and unfreezes nothing): the watch sees the attribute
    model, opt, on_step = attr_set_at(4, attr)
    with freezelint.watch() as w:
        train(model, opt, 10, on_step)
    assert not model[2].weight.requires_grad  # what torch did: nothing
    first, *later = w.reports
    assert first.ok and len(later) == 1, [r.render_text() for r in w.reports]
    assert [(f.code, f.target) for f in later[0].findings] == [(code, "2")], later[0].render_text()
    assert later[0].notes[0] == (f"a later window, from step 5: before it, `{attr}` was set on 1 module, which "
                                 f"freezes and unfreezes nothing")


def test_near_miss_the_attribute_set_before_the_window_is_reported_once_and_deleting_it_opens_no_window():
    model, opt, on_step = attr_set_at(0, "requires_grad")
    with freezelint.watch() as w:
        train(model, opt, 10, on_step)
    assert [[f.code for f in r.findings] for r in w.reports] == [["FZ102"]], [r.render_text() for r in w.reports]
    model, opt, on_step = attr_set_at(0, "requires_grad", undo_at=5)
    with freezelint.watch() as w:
        train(model, opt, 10, on_step)
    assert len(w.reports) == 1, [r.render_text() for r in w.reports]  # the fix, made while training


def test_an_attribute_set_on_a_large_model_after_the_window_is_seen_within_its_walk_period():
    # 40 modules: the tree is walked every 2nd step (every 16 modules), the attribute seen then
    torch.manual_seed(0)
    model = nn.Sequential(*[nn.Sequential(nn.Linear(6, 6), nn.ReLU()) for _ in range(13)])
    model[:12].requires_grad_(False)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    with freezelint.watch() as w:
        for i in range(12):
            if i == 5:
                model[3].requires_grad = True
            model(torch.randn(4, 6)).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
    first, *later = w.reports
    assert len(later) == 1 and [(f.code, f.target) for f in later[0].findings] == [("FZ102", "3")], \
        [r.render_text() for r in w.reports]
    assert later[0].notes[0].startswith(("a later window, from step 6:", "a later window, from step 7:"))


@pytest.mark.parametrize("attr, code", [("require_grad", "FZ103"), ("requires_grad_", "FZ101")])
def test_an_unfreeze_by_a_parameter_attribute_after_the_window_is_reported_in_a_later_window(attr, code):
    # `p.require_grad = True` on a frozen parameter: an attribute of the Parameter, nothing unfrozen
    model = net()
    model[:4].requires_grad_(False)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)

    def on_step(i, opt):
        if i == 4:
            setattr(model[2].weight, attr, True)

    with freezelint.watch() as w:
        train(model, opt, 10, on_step)
    assert not model[2].weight.requires_grad  # what torch did: nothing
    first, *later = w.reports
    assert first.ok and len(later) == 1, [r.render_text() for r in w.reports]
    assert [(f.code, f.target) for f in later[0].findings] == [(code, "2.weight")], later[0].render_text()
    assert later[0].notes[0] == (f"a later window, from step 5: before it, `{attr}` was set on 1 parameter, which "
                                 f"freezes and unfreezes nothing")


def test_near_miss_an_ordinary_attribute_set_on_a_parameter_after_the_window_opens_no_window():
    model = net()
    model[:4].requires_grad_(False)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)

    def on_step(i, opt):
        if i == 4:
            model[2].weight._is_hf_initialized = True  # what a loader sets: no freeze word

    with freezelint.watch() as w:
        train(model, opt, 10, on_step)
    assert len(w.reports) == 1 and w.reports[0].ok, [r.render_text() for r in w.reports]


def _stats_left_moving_then_unfreeze(watch_kwargs=None):
    """A frozen BatchNorm left in train mode (FZ502 in every window) and an unfreeze at step 4
    that joins the optimizer (a later window, clean but for the BatchNorm)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(),
                          nn.Linear(16, 3))
    model[:5].requires_grad_(False)
    opt = torch.optim.AdamW(model[5].parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(1)
    with freezelint.watch(**(watch_kwargs or {})) as w:
        for i in range(8):
            if i == 4:
                model[3].requires_grad_(True)
                opt.add_param_group({"params": list(model[3].parameters())})
            x = torch.randn(8, 6, generator=gen)
            nn.functional.cross_entropy(model(x), torch.zeros(8, dtype=torch.long)).backward()
            opt.step()
            opt.zero_grad()
    return w


def test_a_later_window_names_a_finding_an_earlier_window_reported_without_repeating_it():
    first, later = _stats_left_moving_then_unfreeze().reports
    assert [f.code for f in first.findings] == [f.code for f in later.findings] == ["FZ502"]
    assert first.repeated == [] and later.repeated == ["FZ502 1"] and not later.ok  # still a finding
    text = later.render_text()
    assert "freeze audit: 1 finding (1 as for an earlier window)" in text, text
    assert "[1] as reported for an earlier window: still so" in text and "running statistics moved" not in text
    assert "running statistics moved" in first.render_text()  # the first window says it in full
    doc = later.to_dict()
    assert doc["repeated"] == ["FZ502 1"] and doc["findings"][0]["repeated"] is True
    assert first.to_dict()["findings"][0]["repeated"] is False


def test_near_miss_a_later_windows_new_finding_is_said_in_full():
    # the later window's unfreeze misses the optimizer: its FZ503 is new, the FZ502 is not
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))
    model[:2].requires_grad_(False)
    opt = torch.optim.AdamW(model[3].parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(1)
    with freezelint.watch() as w:
        for i in range(8):
            if i == 4:
                model[0].requires_grad_(True)
            x = torch.randn(8, 6, generator=gen)
            nn.functional.cross_entropy(model(x), torch.zeros(8, dtype=torch.long)).backward()
            opt.step()
            opt.zero_grad()
    first, later = w.reports
    assert sorted(f.code for f in later.findings) == ["FZ502", "FZ503"] and later.repeated == ["FZ502 1"]
    text = later.render_text()
    assert "1 as for an earlier window" in text and "requires_grad=True but in no param group" in text, text
