"""After a window: what the watch keeps of the models and optimizers it judged (weakly, so that one
the script drops is freed), and optimizers retired on purpose (all their parameters frozen, no
longer stepped) in a later window: the window does not wait for them, and the model they held is
judged as a frozen one."""

from __future__ import annotations

import gc
import weakref

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import freezelint  # noqa: E402


def _step(model, opt, x) -> None:
    opt.zero_grad()
    model(x).pow(2).mean().backward()
    opt.step()


def _wgan_iteration(it, gen_net, critic, opt_g, opt_c):
    """A critic step with the generator frozen, then a generator step once per 3 iterations."""
    gen_net.requires_grad_(False)
    critic(gen_net(torch.randn(3, 2))).mean().backward()
    opt_c.step()
    opt_c.zero_grad()
    gen_net.requires_grad_(True)
    if it % 3 == 2:
        (-critic(gen_net(torch.randn(3, 2)))).mean().backward()
        opt_g.step()
        opt_g.zero_grad()
        opt_c.zero_grad()


def test_an_optimizer_the_script_drops_after_the_window_is_freed():
    torch.manual_seed(0)
    a, c = nn.Linear(4, 1), nn.Linear(4, 1)
    oa, oc = torch.optim.SGD(a.parameters(), lr=0.1), torch.optim.Adam(c.parameters(), lr=0.1)
    gone = weakref.ref(oc)
    with freezelint.watch() as w:
        for it in range(8):
            if it == 4:  # the critic retired: frozen, its optimizer (and its Adam state) dropped
                c.requires_grad_(False)
                oc = None
                gc.collect()
                assert gone() is None
            x = torch.randn(8, 4)
            _step(a, oa, x)
            if oc is not None:
                _step(c, oc, x)
    assert w.report.ok and len(w.reports) == 2
    # dropped, not shrunk: the optimizer that steps on holds what it held
    assert w.reports[1].notes[0] == ("a later window, from oa's step 5: before it, 2 parameters were newly frozen, "
                                     "1 optimizer was dropped by the script")


def test_the_models_optimizers_and_tensors_of_closed_windows_are_not_kept():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 1))
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    with freezelint.watch() as w:
        for it in range(5):
            if it == 2:
                model[0].requires_grad_(False)  # a later window opens at this step, closes after the next two
            _step(model, opt, torch.randn(8, 4))
        assert len(w.later) == 1 and w.later[0].done
        refs = [weakref.ref(x) for x in (model, opt, model[1], model[1].running_mean, model[2].weight)]
        del model, opt
        other = nn.Linear(4, 1)  # training goes on, inside the block, with a model of its own
        other_opt = torch.optim.SGD(other.parameters(), lr=0.1)
        for _ in range(2):
            _step(other, other_opt, torch.randn(8, 4))
        gc.collect()
        assert [r() is None for r in refs] == [True] * len(refs)
    assert w.report.ok


def _actor_critic(iters: int, critic: nn.Module):
    """The critic trains for 4 iterations, then is frozen and its optimizer no longer steps; it
    still runs, as a baseline for the actor."""
    torch.manual_seed(0)
    actor = nn.Linear(4, 1)
    oa, oc = torch.optim.SGD(actor.parameters(), lr=0.1), torch.optim.SGD(critic.parameters(), lr=0.1)
    with freezelint.watch() as w:
        for it in range(iters):
            if it == 4:
                critic.requires_grad_(False)
            x = torch.randn(8, 4)
            base = critic(x)
            oa.zero_grad()
            (actor(x) - base.detach()).pow(2).mean().backward()
            oa.step()
            if it < 4:
                oc.zero_grad()
                (base - x.sum(1, keepdim=True)).pow(2).mean().backward()
                oc.step()
    return w


def test_a_later_window_does_not_wait_for_an_optimizer_that_holds_only_parameters_frozen_since_it_stepped():
    w = _actor_critic(10, nn.Linear(4, 1))
    (later,) = w.later
    assert list(later.counts.values()) == [2] and not later.judged_at_exit  # closed on the actor's steps
    report = later.report
    assert report.ok, report.render_text()
    assert ("oc did not step in the window and holds only frozen parameters, frozen after its last step: the "
            "window did not wait for it") in report.notes
    assert not any("train longer" in n or "raise the number of steps" in n for n in report.notes), report.notes


def test_a_retired_critic_left_in_train_mode_is_fz502_as_one_frozen_from_the_start():
    w = _actor_critic(12, nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 1)))
    report = w.later[0].report
    assert [(f.code, f.target) for f in report.findings] == [("FZ502", "critic.1")], report.render_text()
    assert not any("ran, not judged" in n for n in report.notes), report.notes


def test_near_miss_a_generator_frozen_only_during_the_critics_steps_is_still_waited_for_in_a_later_window():
    # the critic's first layer is unfrozen at iteration 9 (a later window); the generator is frozen
    # at every critic step and steps once per 3 iterations: it will step, so the window waits
    torch.manual_seed(0)
    gen_net, critic = nn.Linear(2, 4), nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 1))
    critic[0].requires_grad_(False)
    opt_g, opt_c = torch.optim.SGD(gen_net.parameters(), lr=0.01), torch.optim.SGD(critic.parameters(), lr=0.01)
    with freezelint.watch() as w:
        for it in range(16):
            if it == 9:
                critic[0].requires_grad_(True)
            _wgan_iteration(it, gen_net, critic, opt_g, opt_c)
    (later,) = w.later
    assert later.retired == [] and sorted(later.counts.values()) == [2, 6], later.report.render_text()
    assert any(n.startswith("the window waited for opt_g") for n in later.report.notes), later.report.notes


def _tree_modes(eval_until: int):
    """The frozen block is put in eval() before each of the first `eval_until` forwards;
    model.train() comes between backward and step() (a train-metrics helper)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16)), nn.Linear(16, 3))
    model[0].requires_grad_(False)
    opt = torch.optim.SGD(model[1].parameters(), lr=0.1)
    with freezelint.watch() as w:
        for step in range(4):
            if step < eval_until:
                model[0].eval()
            loss = nn.functional.cross_entropy(model(torch.randn(8, 8)), torch.randint(0, 3, (8,)))
            opt.zero_grad()
            loss.backward()
            model.train()
            opt.step()
    return w.report


def test_the_tree_shows_the_mode_the_forwards_ran_in_not_the_mode_at_the_step():
    report = _tree_modes(eval_until=4)  # every forward of the block in eval()
    assert report.ok, report.render_text()
    assert {m.name: m.mode for m in report.modules} == {"": "train", "0": "eval", "0.0": "eval", "0.1": "eval",
                                                         "1": "train"}


def test_the_tree_says_when_a_modules_forwards_ran_in_both_modes():
    report = _tree_modes(eval_until=1)  # the first step's forward in eval(), the second's in train mode
    modes = {m.name: m.mode for m in report.modules}
    assert modes["0.1"] == "train+eval" and modes["1"] == "train", report.render_text()
    assert "train+eval" in report.render_text()


def _staged(a: nn.Module, eval_a: bool = False, opt=torch.optim.SGD, **kw) -> freezelint.Watch:
    """Stage 1 trains `a` with `oa`, unwatched; stage 2 freezes `a`, stops stepping `oa` and trains
    `b` on `a`'s features, in a watch opened there: its first window, with no steps before it seen."""
    torch.manual_seed(0)
    b = nn.Linear(4, 2)
    oa, ob = opt(a.parameters(), lr=0.1, **kw), torch.optim.SGD(b.parameters(), lr=0.1)
    for _ in range(3):
        oa.zero_grad()
        a(torch.randn(8, 4)).sum().backward()
        oa.step()
    a.requires_grad_(False)
    if eval_a:
        a.eval()
    with freezelint.watch(steps=2) as w:
        for _ in range(3):
            ob.zero_grad()
            b(a(torch.randn(8, 4))).sum().backward()
            ob.step()
    return w


_FIRST_RETIRED = ("oa did not step in the window and holds only frozen parameters, which it had trained before the "
                  "window (their optimizer state or grads remain): the window did not wait for it")


def test_the_first_window_does_not_wait_for_an_optimizer_that_holds_only_parameters_frozen_before_it():
    w = _staged(nn.Linear(4, 4))
    report = w.report
    assert list(w.counts.values()) == [2] and not w.judged_at_exit, report.render_text()  # closed on ob's steps
    assert report.ok and report.notes == [_FIRST_RETIRED], report.notes  # no "train longer", no "ran, not judged"
    assert w.retired == ["oa"]


@pytest.mark.parametrize("opt, kw", [(torch.optim.SGD, {}), (torch.optim.Adam, {})])
def test_a_model_frozen_before_the_first_window_with_its_optimizer_retired_is_judged_as_frozen(opt, kw):
    # its BatchNorm left in train mode drifts: FZ502, as for a model frozen from the start
    # (Adam: its state is the sign it trained; SGD: the grads its last step left)
    bn = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
    report = _staged(bn, opt=opt, **kw).report
    assert [(f.code, f.target) for f in report.findings] == [("FZ502", "a.1")], report.render_text()
    assert report.notes == [_FIRST_RETIRED]
    assert [p.name for p in report.params if p.changed] == ["b.weight", "b.bias"]  # a's stayed put
    report = _staged(nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4)), eval_a=True).report
    assert report.ok and report.notes == [_FIRST_RETIRED], report.render_text()


def test_near_miss_a_generator_frozen_during_the_critics_steps_whose_optimizer_never_stepped_is_waited_for():
    # the same at the first window's close (an idle optimizer over frozen parameters), but no state
    # and no grads: it has not trained yet, and steps once per 3 critic steps
    torch.manual_seed(0)
    gen_net, critic = nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4)), nn.Sequential(nn.Linear(4, 1))
    opt_g, opt_c = torch.optim.Adam(gen_net.parameters()), torch.optim.Adam(critic.parameters())
    with freezelint.watch() as w:
        for it in range(9):
            _wgan_iteration(it, gen_net, critic, opt_g, opt_c)
    report = w.report
    assert w.retired == [] and sorted(w.counts.values()) == [2, 6] and not w.judged_at_exit, report.render_text()
    assert report.ok and any(n.startswith("the window waited for opt_g") for n in report.notes), report.notes


def test_near_miss_a_first_window_gan_toggling_d_around_gs_step_is_unchanged():
    # D frozen for G's step, unfrozen for its own: at the step that closes the window (G's second)
    # D is frozen, but its optimizer stepped in the window: both train, nothing is retired
    torch.manual_seed(0)
    G, D = nn.Sequential(nn.Linear(4, 8)), nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8), nn.Linear(8, 1))
    opt_g, opt_d = torch.optim.Adam(G.parameters(), lr=1e-2), torch.optim.Adam(D.parameters(), lr=1e-2)
    with freezelint.watch() as w:
        for _ in range(3):
            D.requires_grad_(True)
            fake = G(torch.randn(4, 4))
            opt_d.zero_grad()
            (D(torch.randn(4, 8)).mean() - D(fake.detach()).mean()).backward()
            opt_d.step()
            D.requires_grad_(False)
            opt_g.zero_grad()
            (-D(fake).mean()).backward()
            opt_g.step()
    report = w.report
    assert report.ok and report.notes == [] and w.retired == [], report.render_text()
    assert sorted(w.counts.values()) == [2, 2]
    assert {p.name.split(".")[0] for p in report.params if p.changed} == {"G", "D"}


def test_the_model_and_optimizer_given_to_watch_are_held_weakly_once_the_window_is_judged():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 1))
    model[:2].requires_grad_(False)  # its BatchNorm left in train mode: FZ502
    opt = torch.optim.Adam(model[2].parameters(), lr=0.1)
    with freezelint.watch(model=model, optimizer=opt) as w:
        for it in range(6):
            if it == 3:  # the script replaces both: the old ones (and Adam's state) are freed, as unwatched
                refs = [weakref.ref(model), weakref.ref(opt)]
                model = nn.Sequential(nn.Linear(4, 1))
                opt = torch.optim.SGD(model.parameters(), lr=0.1)
                gc.collect()
                assert [r() is None for r in refs] == [True, True]
            _step(model, opt, torch.randn(8, 4))
    refs = [weakref.ref(model), weakref.ref(opt)]
    del model, opt
    gc.collect()
    assert [r() is None for r in refs] == [True, True]
    # what the report says is kept as plain values
    report = w.report
    assert [(f.code, f.target) for f in report.findings] == [("FZ502", "1")], report.render_text()
    assert report.optimizer == "Adam" and w.progress() == "Adam 2" and len(w.reports) == 1


def test_a_later_window_of_a_given_model_still_opens_while_it_lives():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with freezelint.watch(model=model, optimizer=opt) as w:
        for it in range(5):
            if it == 2:
                model[0].requires_grad_(False)
            _step(model, opt, torch.randn(8, 4))
    (later,) = w.later
    assert later.report.ok and later.report.notes[0].startswith("a later window, from step 3: before it"), later.report.notes


def test_no_later_window_watches_everything_in_place_of_a_given_model_the_script_dropped():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with freezelint.watch(model=model) as w:
        for it in range(6):
            if it == 3:  # a new model and optimizer: the one given is gone, nothing of it to watch
                ref = weakref.ref(model)
                model = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 1))
                opt = torch.optim.SGD(model[1].parameters(), lr=0.1)  # model[0] left out: not the given model's
                gc.collect()
                assert ref() is None
            _step(model, opt, torch.randn(8, 4))
    assert w.report.ok and w.later == [] and w.unfinished == "", [r.render_text() for r in w.reports]
