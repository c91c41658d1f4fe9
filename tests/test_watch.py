"""freezelint.watch(): the user's own loop, judged through torch's global hooks."""

from __future__ import annotations

import re

import contextlib
import copy
import importlib.metadata
import warnings

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import freezelint  # noqa: E402
from freezelint.runtime.runner import AuditUsageError  # noqa: E402

_SITE = r"called (?:in \w+ )?at [^,]+:\d+, "  # where the watch saw the train() call made


def net(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 2))


def freeze_backbone(model: nn.Sequential) -> None:
    model[0].requires_grad_(False)
    model[1].requires_grad_(False)


def loop(model, opt, iters: int, *, refreeze: bool = True, set_to_none: bool = True, accumulate: int = 1,
         on_iter=None):
    gen = torch.Generator().manual_seed(1)
    for i in range(iters):
        if on_iter is not None:
            on_iter(i)
        model.train()
        if refreeze:
            model[1].eval()
        for _ in range(accumulate):
            loss = model(torch.randn(6, 4, generator=gen)).pow(2).mean()
            loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=set_to_none)


def codes(report) -> list[str]:
    return sorted(f.code for f in report.findings)


def test_correct_head_finetune_is_ok_and_only_the_head_changed():
    model = net()
    freeze_backbone(model)
    opt = torch.optim.SGD(model[4].parameters(), lr=0.1, momentum=0.9)
    with freezelint.watch(expect_frozen=["0", "1"], expect_trainable="4") as w:
        loop(model, opt, 3)
    report = w.report
    assert report.ok, report.render_text()
    assert {p.name for p in report.params if p.changed} == {"4.weight", "4.bias"}
    assert not any(b.changed for b in report.buffers)
    assert report.steps == 2 and report.optimizer == "SGD" and w.steps_seen == 2


def test_watched_steps_compute_what_unwatched_steps_compute_bit_for_bit():
    def run(watched: bool):
        model = net()
        freeze_backbone(model)
        opt = torch.optim.AdamW(model.parameters(), lr=0.1)  # frozen ones included: state, decay
        torch.manual_seed(5)  # dropout draws from the global generator
        if watched:
            with freezelint.watch(steps=3) as w:
                loop(model, opt, 3, refreeze=False)
            assert w.done
        else:
            loop(model, opt, 3, refreeze=False)
        return model, opt, torch.get_rng_state()

    (m1, o1, rng1), (m2, o2, rng2) = run(False), run(True)
    for (n, a), (_, b) in zip(m1.state_dict().items(), m2.state_dict().items()):
        assert torch.equal(a.view(-1).view(torch.uint8), b.view(-1).view(torch.uint8)), n
    assert torch.equal(rng1, rng2)
    assert [m.training for m in m1.modules()] == [m.training for m in m2.modules()]
    s1, s2 = o1.state_dict()["state"], o2.state_dict()["state"]
    assert s1.keys() == s2.keys()
    for k in s1:
        for key in s1[k]:
            assert torch.equal(s1[k][key], s2[k][key]), (k, key)


def _tensors_held(obj, seen=None) -> list:
    """Tensors reachable from obj through plain containers (not through modules or optimizers,
    which are the user's own objects)."""
    seen = set() if seen is None else seen
    if id(obj) in seen or isinstance(obj, (nn.Module, torch.optim.Optimizer)):
        return []
    seen.add(id(obj))
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, dict):
        items = list(obj.keys()) + list(obj.values())
    elif isinstance(obj, (list, tuple, set, frozenset)):
        items = list(obj)
    elif hasattr(obj, "__dict__") and type(obj).__module__.startswith("freezelint"):
        items = list(vars(obj).values())
    else:
        return []
    return [t for item in items for t in _tensors_held(item, seen)]


def test_a_finished_watch_holds_only_the_models_own_tensors_and_is_freed_by_dropping_it():
    import gc
    import weakref

    model = net()
    freeze_backbone(model)
    opt = torch.optim.SGD(model[4].parameters(), lr=0.1, momentum=0.9)
    with freezelint.watch() as w:
        loop(model, opt, 2)
    assert w.report.ok
    own = {id(t) for t in [*model.parameters(), *model.buffers()]}
    copies = [tuple(t.shape) for t in _tensors_held(w) if id(t) not in own]
    assert not copies  # the buffer copies and fingerprint scratch went with the judging
    gone = weakref.ref(w)
    gc.disable()
    try:
        del w
        assert gone() is None  # no reference cycle keeps it until a collection
    finally:
        gc.enable()


def test_train_that_undoes_a_bn_eval_is_fz201():
    model = net()
    freeze_backbone(model)
    model[1].eval()  # frozen once, before the loop; every model.train() undoes it
    opt = torch.optim.SGD(model[4].parameters(), lr=0.1)
    with freezelint.watch() as w:
        loop(model, opt, 2, refreeze=False)
    assert codes(w.report) == ["FZ201"]
    assert w.report.findings[0].target == "1"


def validate_then_train(model, opt, iters: int) -> None:
    """The common epoch: model.eval() for a validation batch, model.train(), a training step."""
    gen = torch.Generator().manual_seed(2)
    for _ in range(iters):
        model.eval()
        with torch.no_grad():
            model(torch.randn(6, 4, generator=gen))
        model.train()
        model(torch.randn(6, 4, generator=gen)).pow(2).mean().backward()
        opt.step()
        opt.zero_grad()


def test_a_validation_eval_that_train_undoes_is_fz502_not_fz201():
    # The frozen BatchNorm was never put in eval() for training: the script's own eval()/train()
    # pair around validation is not a freeze that train() undid.
    model = net()
    freeze_backbone(model)
    opt = torch.optim.SGD(model[4].parameters(), lr=0.1)
    with freezelint.watch() as w:
        validate_then_train(model, opt, 3)
    assert codes(w.report) == ["FZ502"]
    assert w.report.findings[0].target == "1"
    assert {m.name: m.mode for m in w.report.modules}["1"] == "train"  # the mode the steps ran in


def test_a_freeze_undone_by_train_stays_fz201_with_validation_around_it():
    model = net()
    freeze_backbone(model)
    opt = torch.optim.SGD(model[4].parameters(), lr=0.1)
    with freezelint.watch() as w:
        model[1].eval()  # the freeze: an eval() of the part, before the loop
        validate_then_train(model, opt, 3)
    assert codes(w.report) == ["FZ201"]


def test_a_finding_that_stands_for_several_modules_lists_them_all():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))
    model[:4].requires_grad_(False)
    opt = torch.optim.SGD(model[4].parameters(), lr=0.1)
    with freezelint.watch() as w:
        validate_then_train(model, opt, 3)
    (found,) = w.report.to_dict()["findings"]
    assert (found["code"], found["target"], found["names"], found["count"]) == ("FZ502", "2 modules", ["1", "3"], 2)


def test_a_freeze_done_before_watching_undone_by_a_validation_pair_is_fz201():
    model = net()
    freeze_backbone(model)
    model[1].eval()  # the freeze, before the watch: unseen, but in eval() when first seen
    opt = torch.optim.SGD(model[4].parameters(), lr=0.1)
    with freezelint.watch() as w:
        validate_then_train(model, opt, 3)
    assert codes(w.report) == ["FZ201"]


def test_an_eval_of_the_whole_model_that_nothing_ran_under_is_a_freeze_fz201():
    # eval() at set-up to freeze it, then train() every iteration: no forward in between, no validation
    torch.manual_seed(0)
    teacher = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8)).requires_grad_(False)
    student = nn.Sequential(nn.Linear(4, 8))
    opt = torch.optim.SGD(student.parameters(), lr=0.1)
    with freezelint.watch() as w:
        teacher.eval()
        for _ in range(3):
            for m in (student, teacher):
                m.train()
            x = torch.randn(6, 4)
            with torch.no_grad():
                target = teacher(x)
            (student(x) - target).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
    assert codes(w.report) == ["FZ201"], w.report.render_text()


@contextlib.contextmanager
def eval_mode(model):
    """composer's `model_eval_mode`: eval() for the block, the mode it had restored after it."""
    was = model.training
    try:
        model.eval()
        yield
    finally:
        model.train(was)


def test_a_context_managers_eval_and_restore_around_no_forward_is_fz502_not_fz201():
    # composer computes train metrics on the step's own outputs inside `model_eval_mode(model)`:
    # eval() and train() with no forward between, a switch and its undo, never a freeze
    model = net()
    freeze_backbone(model)
    opt = torch.optim.SGD(model[4].parameters(), lr=0.1)
    gen = torch.Generator().manual_seed(1)
    with freezelint.watch() as w:
        for _ in range(3):
            model.train()
            model(torch.randn(6, 4, generator=gen)).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
            with eval_mode(model):
                pass
    assert codes(w.report) == ["FZ502"], w.report.render_text()


def test_a_freeze_by_eval_undone_by_a_later_train_stays_fz201_beside_a_context_managers_pair():
    model = net()
    freeze_backbone(model)
    opt = torch.optim.SGD(model[4].parameters(), lr=0.1)
    gen = torch.Generator().manual_seed(1)
    with freezelint.watch() as w:
        model.eval()  # the freeze, at set-up
        for _ in range(3):
            with eval_mode(model):
                pass
            model.train()
            model(torch.randn(6, 4, generator=gen)).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
    assert codes(w.report) == ["FZ201"], w.report.render_text()


def test_the_tree_shows_modes_as_the_steps_ran_after_a_validation_pass():
    class Override(nn.Sequential):
        def train(self, mode: bool = True):  # keeps the frozen BatchNorm in eval, whatever the loop does
            super().train(mode)
            if mode:
                self[1].eval()
            return self

    model = Override(*net())
    freeze_backbone(model)
    opt = torch.optim.SGD(model[4].parameters(), lr=0.1)
    with freezelint.watch() as w:
        validate_then_train(model, opt, 3)
    assert w.report.ok, w.report.render_text()
    modes = {m.name: m.mode for m in w.report.modules}
    assert modes[""] == modes["0"] == modes["4"] == "train" and modes["1"] == "eval"


def resnet(seed: int = 0) -> nn.Module:
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(seed)
    return torchvision.models.resnet18(weights=None, num_classes=3)


def bn_eval(model: nn.Module, only_frozen: bool = False) -> None:
    """deeplab's `freeze_bn()`: every BatchNorm in eval(), its weight and bias left to train."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d) and not (only_frozen and m.weight.requires_grad):
            m.eval()


def resnet_loop(model, opt, iters: int, *, refreeze: bool = False, validate: bool = False, on_iter=None):
    gen = torch.Generator().manual_seed(3)
    for i in range(iters):
        if on_iter is not None:
            on_iter(i)
        if validate:
            model.eval()
            with torch.no_grad():
                model(torch.randn(2, 3, 32, 32, generator=gen))
        model.train()
        if refreeze:
            bn_eval(model, only_frozen=refreeze == "frozen")
        x, y = torch.randn(4, 3, 32, 32, generator=gen), torch.randint(0, 3, (4,), generator=gen)
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        opt.zero_grad()


@pytest.mark.parametrize("when", ["watched", "before the watch", "with validation"])
def test_an_eval_only_bn_freeze_that_model_train_undoes_is_fz201(when):
    # pytorch-deeplab-xception's --freeze-bn: BatchNorm put in eval() once, its weight and bias
    # trained; every epoch's model.train() undoes it and the statistics move
    model = resnet()
    if when == "before the watch":
        bn_eval(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    with freezelint.watch() as w:
        if when != "before the watch":
            bn_eval(model)
        resnet_loop(model, opt, 3, validate=when == "with validation")
    assert codes(w.report) == ["FZ201"], w.report.render_text()
    (found,) = w.report.findings
    assert found.target == "20 modules" and found.names[:2] == ["bn1", "layer1.0.bn1"]
    assert found.message.startswith("bn1, layer1.0.bn1, layer1.0.bn2 and 17 more were put in eval() to keep their "
                                    "running statistics (their weight and bias left to train), but model.train()")
    assert "call_train=False" not in found.advice  # the watch saw the loop's own train()


@pytest.mark.parametrize("case", ["validation pass", "model.eval() before the loop", "re-frozen after train()",
                                  "gradual unfreeze"])
def test_near_miss_bn_evals_that_keep_or_mean_to_release_the_statistics_are_ok(case):
    model = resnet()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def unfreeze(i):
        if i == 1:  # layer4 and its BatchNorm train from here on: its freeze is released on purpose
            model.layer4.requires_grad_(True)

    with freezelint.watch(steps=3) as w:
        if case == "model.eval() before the loop":
            model.eval()
        if case == "gradual unfreeze":
            model.layer4.requires_grad_(False)
            bn_eval(model, only_frozen=True)
        resnet_loop(model, opt, 4, validate=case == "validation pass",
                    refreeze={"re-frozen after train()": True, "gradual unfreeze": "frozen"}.get(case, False),
                    on_iter=unfreeze if case == "gradual unfreeze" else None)
    assert w.report.ok, w.report.render_text()
    moved = {b.module for b in w.report.buffers if b.changed}
    assert bool(moved) == (case != "re-frozen after train()")


def test_watching_an_eval_only_bn_freeze_computes_what_an_unwatched_run_does():
    def run(watched: bool):
        model = resnet()
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        bn_eval(model)
        with freezelint.watch() if watched else contextlib.nullcontext():
            resnet_loop(model, opt, 3)
        return model

    unwatched, watched = run(False), run(True)
    for (n, a), (_, b) in zip(unwatched.state_dict().items(), watched.state_dict().items()):
        assert torch.equal(a, b), n
    assert [m.training for m in unwatched.modules()] == [m.training for m in watched.modules()]


def test_stale_grads_moving_frozen_weights_under_adamw():
    model = net()
    opt = torch.optim.AdamW(model.parameters(), lr=0.1)
    loop(model, opt, 1, set_to_none=False)  # every parameter has a grad tensor now
    freeze_backbone(model)
    with freezelint.watch() as w:
        loop(model, opt, 2, set_to_none=False)
    found = codes(w.report)
    assert "FZ501" in found and "FZ504" in found
    fz501 = next(f for f in w.report.findings if f.code == "FZ501")
    assert "0.weight" in fz501.message and "zero_grad(set_to_none=False)" in fz501.message
    assert "left from before they were frozen" in fz501.message  # one tensor at every step: no grad the loop wrote
    assert w.report.set_to_none is False


def test_unfreeze_mid_window_without_add_param_group_is_fz503():
    model = net()
    freeze_backbone(model)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)

    def unfreeze_at(i):
        if i == 1:  # an epoch boundary inside the window
            model[0].requires_grad_(True)

    with freezelint.watch() as w:
        loop(model, opt, 3, on_iter=unfreeze_at)
    fz503 = [f for f in w.report.findings if f.code == "FZ503"]
    assert fz503 and "0.weight" in fz503[0].message
    assert "(they were unfrozen after the optimizer was built: FZ303 in the code)" in fz503[0].message  # seen


def test_an_optimizer_built_from_part_of_the_model_is_fz503_naming_both_causes():
    # nothing frozen, nothing unfrozen: the optimizer holds layer3, layer4 and fc only
    model = resnet()
    opt = torch.optim.AdamW([{"params": model.layer3.parameters(), "lr": 1e-5},
                             {"params": model.layer4.parameters()}, {"params": model.fc.parameters()}])
    with freezelint.watch() as w:
        resnet_loop(model, opt, 3)
    (fz503,) = w.report.findings
    assert fz503.code == "FZ503" and fz503.names[:3] == ["conv1.weight", "bn1.weight", "bn1.bias"]
    # grouped: the example is one parameter, worded for one
    assert fz503.message.startswith("30 parameters, the same way: conv1.weight, bn1.weight, bn1.bias and 27 more")
    assert fz503.message.endswith("— e.g. conv1.weight: requires_grad=True but in no param group, so never updated; "
                                  "its .grad accumulates unless the loop clears the model's grads (optimizer.zero_grad()"
                                  " clears only its own) (the optimizer was built from only part of the model, it was "
                                  "unfrozen after the optimizer was built (FZ303 in the code), or its layer was "
                                  "created later (FZ302))")
    assert fz503.advice.startswith("unfreeze them before the optimizer is built")


def _freeze_head_at(model, k):
    def freeze_at(i):
        if i == k:  # a freeze at an epoch boundary inside the window, after steps that trained it
            model[4].requires_grad_(False)
    return freeze_at


def test_a_freeze_inside_the_window_is_judged_from_the_freeze_on():
    # Trained for two steps, then frozen; zero grads (set_to_none=False) and momentum go on
    # moving it in the two steps after: FZ501 for those steps, though it was trainable before.
    model = net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    with freezelint.watch(steps=4) as w:
        loop(model, opt, 4, refreeze=False, set_to_none=False, on_iter=_freeze_head_at(model, 2))
    report = w.report
    fz501 = [f for f in report.findings if f.code == "FZ501"]
    assert fz501 and fz501[0].target == "4" and "zero_grad(set_to_none=False)" in fz501[0].message
    assert not report.set_to_none
    assert {p.name: p.requires_grad for p in report.params if p.name.startswith("4.")} == \
        {"4.weight": False, "4.bias": False}
    assert any("frozen from step 3 of 4 on" in n for n in report.notes), report.notes


def test_a_freeze_inside_the_window_that_holds_is_not_fz501():
    # The same freeze with grads set to None: momentum has nothing to apply, the layer stays put.
    model = net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    with freezelint.watch(steps=4) as w:
        loop(model, opt, 4, refreeze=False, on_iter=_freeze_head_at(model, 2))
    assert "FZ501" not in codes(w.report), w.report.render_text()
    layer = [p for p in w.report.params if p.name.startswith("4.")]
    assert layer and not any(p.changed for p in layer)  # judged from the freeze on: unchanged since
    # the momentum it holds from its training is no FZ504 either: no grad reaches it to apply it
    assert w.report.ok and all(p.has_state for p in layer), w.report.render_text()


@pytest.mark.parametrize("set_to_none", [True, False])
def test_a_freeze_at_an_epoch_boundary_leaves_adamw_state_that_is_fz504_only_where_a_grad_reaches_it(set_to_none):
    # a Lightning callback froze the encoder at an epoch boundary, AdamW still holding
    # its moments: with grads set to None they are never applied; zero grads (set_to_none=False) are
    model = net()
    opt = torch.optim.AdamW(model.parameters(), lr=0.1)
    with freezelint.watch(steps=4) as w:
        loop(model, opt, 4, refreeze=False, set_to_none=set_to_none, on_iter=_freeze_head_at(model, 2))
    found = codes(w.report)
    assert ("FZ504" in found) is (not set_to_none), w.report.render_text()
    assert any("frozen from step 3 of 4 on" in n for n in w.report.notes)


def test_a_parameter_frozen_for_one_step_and_trained_again_is_judged_over_the_whole_window():
    model = net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    def toggle(i):
        model[4].requires_grad_(i != 1)  # frozen at the second step only

    with freezelint.watch(steps=3) as w:
        loop(model, opt, 3, refreeze=False, on_iter=toggle)
    report = w.report
    assert "FZ501" not in codes(report) and not report.notes, report.render_text()
    assert all(p.requires_grad and p.changed for p in report.params if p.name.startswith("4."))


def test_head_replaced_after_the_optimizer_is_fz302():
    model = net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model[4] = nn.Linear(8, 2)
    with freezelint.watch() as w:
        loop(model, opt, 2)
    assert "FZ302" in codes(w.report)


def test_head_replaced_after_it_trained_under_zeroed_grads_is_fz302():
    # zero_grad(set_to_none=False) (fastai's zero_grad alike) keeps the old head's grads as zeros:
    # no gradient got, so no tensor of the forward, but the old layer of the replaced one
    model = net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loop(model, opt, 1, set_to_none=False)
    model[4] = nn.Linear(8, 2)
    with freezelint.watch() as w:
        loop(model, opt, 2, set_to_none=False)
    assert "FZ302" in codes(w.report), w.report.render_text()
    assert not any("got gradients" in n for n in w.report.notes), w.report.notes


def test_an_optimizer_holding_only_the_replaced_head_is_fz302_not_a_usage_error():
    # No module holds what the optimizer steps (only the old head): the model that ran is judged.
    model = net()
    freeze_backbone(model)
    opt = torch.optim.SGD(model[4].parameters(), lr=0.1)
    model[4] = nn.Linear(8, 2)
    with freezelint.watch() as w:
        loop(model, opt, 2)
    assert codes(w.report) == ["FZ302"] and w.report.findings[0].target == "4"
    # the old head, out of the forward, is not trained in the new one's place; a watch restores nothing
    assert "gets no gradient" in w.report.findings[0].message and "trained in its place" not in w.report.findings[0].message
    assert w.report.to_dict()["restored"] is None and "could not restore" not in w.report.render_text()


def test_a_compiled_model_is_judged_under_its_own_names():
    # torch.compile wraps the model in an OptimizedModule (`_orig_mod.` before every name): the
    # report and the expectations use the names the author wrote, as audit() does.
    inner = net()
    freeze_backbone(inner)
    inner[1].eval()
    opt = torch.optim.SGD(inner[4].parameters(), lr=0.1)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with freezelint.watch(expect_frozen="0", expect_trainable="4") as w:
            model = torch.compile(inner, backend="eager")  # compiled while the watch's hooks are on
            for _ in range(2):
                model(torch.randn(6, 4)).pow(2).mean().backward()
                opt.step()
                opt.zero_grad()
    assert w.report.ok, w.report.render_text()
    # torch's warning about global hooks is about the watch's own: not the user's to see
    assert not [x for x in seen if "global hooks" in str(x.message)], [str(x.message) for x in seen]
    assert {p.name for p in w.report.params} == {n for n, _ in inner.named_parameters()}


def test_an_optimized_input_of_a_frozen_model_is_clean():
    # Style transfer: the optimizer steps an image no module holds; the frozen model is judged.
    model = net().requires_grad_(False).eval()
    image = torch.randn(6, 4, requires_grad=True)
    opt = torch.optim.Adam([image], lr=0.1)
    with freezelint.watch() as w:
        for _ in range(2):
            model(image).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
    assert w.report.ok, w.report.render_text()


def test_a_live_attribute_that_freezes_nothing_is_reported():
    model = net()
    model[0].requires_grad = False  # FZ102: a plain attribute
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with freezelint.watch(expect_frozen=["0"]) as w:
        loop(model, opt, 2)
    assert codes(w.report) == ["FZ102", "FZ506"]


def test_a_misspelt_attribute_set_after_a_clean_watch_is_reported_by_the_next():
    # Attribute names already judged ordinary are passed over by later judgements: a new one,
    # on a module or a parameter judged clean before, is still looked at.
    model = net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with freezelint.watch() as w:
        loop(model, opt, 2)
    assert w.report.ok, w.report.render_text()
    model[0].requiresGrad = False  # noqa: FZ103 (the mistake under test)
    model[4].weight.trainable = False  # noqa: FZ103
    with freezelint.watch() as w:
        loop(model, opt, 2)
    assert sorted((f.code, f.target) for f in w.report.findings if f.code == "FZ103") == [
        ("FZ103", "0"), ("FZ103", "4.weight")]


def test_gradient_accumulation_counts_optimizer_steps():
    model = net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    forwards = []
    model.register_forward_pre_hook(lambda m, a: forwards.append(w.done))
    with freezelint.watch(steps=2) as w:
        loop(model, opt, 3, accumulate=4)
    # the window closed with the second optimizer step: eight forwards inside it, four after it
    assert forwards == [False] * 8 + [True] * 4
    assert w.report.steps == 2 and w.report.ok, w.report.render_text()


def test_gradscaler_steps_skipped_on_inf_are_not_counted():
    model = net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 8)
    stepped = []
    with freezelint.watch(steps=2) as w:
        for i in range(4):
            model.train()
            x = torch.randn(6, 4)
            if i == 0:
                x[0, 0] = float("inf")  # inf grads: the scaler skips this optimizer.step()
            loss = model(x).pow(2).mean()
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            opt.zero_grad()
            stepped.append(w.done)
    assert stepped == [False, False, True, True]  # the window needed two real steps
    report = w.report
    assert "FZ505" not in codes(report)
    assert all(p.changed for p in report.params if p.name.startswith("4."))


def test_fused_optimizer_skipping_itself_under_gradscaler_is_not_counted():
    model = net()
    opt = torch.optim.Adam(model.parameters(), lr=0.1, fused=True)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 8)
    stepped = []
    with freezelint.watch(steps=1) as w:
        for i in range(2):
            x = torch.randn(6, 4)
            if i == 0:
                x[0, 0] = float("inf")
            scaler.scale(model(x).pow(2).mean()).backward()
            scaler.step(opt)
            scaler.update()
            opt.zero_grad()
            stepped.append(w.done)
    assert stepped == [False, True]
    assert w.report.ok, w.report.render_text()


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 4))

    def forward(self, z):
        return self.net(z)


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.LeakyReLU(0.2), nn.Linear(8, 1))

    def forward(self, x):
        return self.net(x)


def gan_steps(G, D, opt_g, opt_d, iters: int, frozen_for_g=None) -> None:
    """`frozen_for_g`: the network frozen during the generator's step (D; G is the mistake)."""
    frozen_for_g = D if frozen_for_g is None else frozen_for_g
    for _ in range(iters):
        real, z = torch.randn(6, 4), torch.randn(6, 3)
        fake = G(z)
        D.requires_grad_(True)  # pix2pix's set_requires_grad(netD, True)
        opt_d.zero_grad()
        loss_d = D(fake.detach()).mean() - D(real).mean()
        loss_d.backward()
        opt_d.step()
        frozen_for_g.requires_grad_(False)  # ... and False during the generator's step
        opt_g.zero_grad()
        (-D(fake).mean()).backward()
        opt_g.step()


def gan():
    """A generator and a discriminator, seeded, each with its own Adam over all its parameters."""
    torch.manual_seed(0)
    G, D = Generator(), Discriminator()
    return G, D, torch.optim.Adam(G.parameters(), lr=1e-3), torch.optim.Adam(D.parameters(), lr=1e-3)


def test_several_optimizers_are_named_as_the_loop_names_them_in_findings_and_records():
    # a GAN whose D keeps a layer frozen inside opt_d, with momentum state from before the freeze:
    # FZ504 says which optimizer (two of one class would otherwise read alike)
    G, D, opt_g, _ = gan()
    opt_d = torch.optim.SGD(D.parameters(), lr=1e-2, momentum=0.9)
    opt_g = torch.optim.SGD(G.parameters(), lr=1e-2, momentum=0.9)

    def train(iters):
        for _ in range(iters):
            real, z = torch.randn(6, 4), torch.randn(6, 3)
            opt_d.zero_grad()
            (D(G(z).detach()).mean() - D(real).mean()).backward()
            opt_d.step()
            opt_g.zero_grad()
            (-D(G(z)).mean()).backward()
            opt_g.step()

    train(1)  # momentum for every D parameter
    D.net[0].requires_grad_(False)
    with freezelint.watch() as w:
        train(2)
    report = w.report
    assert report.optimizer == "opt_d: SGD + opt_g: SGD"
    assert [(f.code, f.target) for f in report.findings] == [("FZ504", "D.net.0 in opt_d.param_groups[0]")], \
        report.render_text()
    assert "param group 0 of opt_d (SGD) lr=0.01 momentum=0.9" in report.findings[0].message
    held_by = {p.name: p.optimizer for p in report.params}
    assert held_by["D.net.0.weight"] == "opt_d" and held_by["G.net.0.weight"] == "opt_g"


def test_near_miss_optimizers_the_loop_holds_only_in_a_list_are_named_by_class_numbered():
    # `for o in opts: o.step()`: the loop variable holds one at a time, so it names neither
    torch.manual_seed(0)
    model = Tower()
    opts = [torch.optim.SGD(model.backbone.parameters(), lr=0.1), torch.optim.SGD(model.head.parameters(), lr=0.1)]
    report = split_steps(model, opts, False)
    assert report.ok, report.render_text()
    assert report.optimizer == "SGD 1 + SGD 2"


def test_gan_with_two_optimizers_toggling_requires_grad_is_clean():
    G, D, opt_g, opt_d = gan()
    with freezelint.watch() as w:
        gan_steps(G, D, opt_g, opt_d, 3)
    report = w.report
    assert report.ok, report.render_text()
    assert report.optimizer == "opt_d: Adam + opt_g: Adam"  # the loop's names, in the order they first stepped
    names = {p.name for p in report.params}
    assert "G.net.0.weight" in names and "D.net.0.weight" in names  # the names the loop gives them
    # judged trainable although D's requires_grad was off during the generator's step
    assert all(p.requires_grad for p in report.params)
    assert all(p.changed for p in report.params if p.name != "D.net.3.bias")  # cancels in the loss


def test_gan_whose_toggle_freezes_the_generator_is_fz504_its_optimizer_trains_nothing():
    # The toggle freezes G where it meant D: G is frozen at every one of its optimizer's steps.
    G, D, opt_g, opt_d = gan()
    with freezelint.watch() as w:
        gan_steps(G, D, opt_g, opt_d, 3, frozen_for_g=G)  # meant: D
    trains_nothing = [f for f in w.report.findings if f.code == "FZ504" and "trains nothing" in f.message]
    assert len(trains_nothing) == 1 and "G.net.0.weight" in trains_nothing[0].message, w.report.render_text()


def test_gan_generator_optimizer_missing_the_discriminator_is_fz503_for_it_only():
    torch.manual_seed(0)
    G, D = Generator(), Discriminator()
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-3)
    opt_d = torch.optim.Adam(D.net[3].parameters(), lr=1e-3)  # D's first layers were left out
    with freezelint.watch(optimizer=[opt_g, opt_d]) as w:
        gan_steps(G, D, opt_g, opt_d, 2)  # ends with D.requires_grad_(False)
    # trainable during D's step, in no optimizer: FZ503, not frozen statistics (FZ502)
    assert codes(w.report) == ["FZ503", "FZ503"], w.report.render_text()
    assert [f.target for f in w.report.findings] == ["D.net.0", "D.net.1"]


def test_several_models_under_one_optimizer():
    torch.manual_seed(0)
    enc, dec = nn.Sequential(nn.Linear(4, 3)), nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 4))
    dec[1].requires_grad_(False)
    opt = torch.optim.SGD([*enc.parameters(), *dec.parameters()], lr=0.1, weight_decay=0.01)
    with freezelint.watch() as w:
        for _ in range(2):
            x = torch.randn(5, 4)
            dec(enc(x)).sub(x).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
    report = w.report
    # frozen dec[1] sits in the decaying group, but its .grad stays None: SGD skips it, decay included
    assert [f.code for f in report.findings] == [], report.render_text()
    assert {p.name for p in report.params} == {"enc.0.weight", "enc.0.bias", "dec.0.weight", "dec.0.bias",
                                               "dec.1.weight", "dec.1.bias"}


def test_given_model_and_optimizer_restrict_what_is_watched():
    model, other = net(), net(1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    other_opt = torch.optim.SGD(other.parameters(), lr=0.1)
    with freezelint.watch(model=model, optimizer=opt) as w:
        loop(other, other_opt, 1)
        loop(model, opt, 2)
    assert {p.name for p in w.report.params} == {n for n, _ in model.named_parameters()}
    assert w.report.optimizer == "SGD"


def test_no_step_or_too_few_steps_say_so():
    model = net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with freezelint.watch() as w:
        model(torch.randn(3, 4))
    with pytest.raises(AuditUsageError, match="no optimizer step was observed"):
        w.report
    with freezelint.watch(steps=3) as w:
        loop(model, opt, 1)
    with pytest.raises(AuditUsageError, match="1 of 3 optimizer steps"):
        w.report
    with pytest.raises(AuditUsageError, match="steps must be"):
        freezelint.watch(steps=0)


@pytest.mark.parametrize("outer_steps", [1, 3], ids=["outer-closes-first", "same-window"])
def test_nested_watches_give_train_back_whichever_closes_first(outer_steps):
    train = nn.Module.train
    model = net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with freezelint.watch(outer_steps) as outer:
        with freezelint.watch(3) as inner:
            loop(model, opt, 3)
    assert outer.report.steps == outer_steps and inner.report.steps == 3
    assert nn.Module.train is train


def test_hooks_and_train_are_left_as_found():
    from torch.nn.modules import module as module_mod
    from torch.optim import optimizer as optimizer_mod

    train = nn.Module.train
    counts = (len(module_mod._global_forward_pre_hooks), len(optimizer_mod._global_optimizer_pre_hooks),
              len(optimizer_mod._global_optimizer_post_hooks))
    model = net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(RuntimeError, match="boom"):
        with freezelint.watch():
            loop(model, opt, 1)
            raise RuntimeError("boom")
    assert nn.Module.train is train
    assert counts == (len(module_mod._global_forward_pre_hooks), len(optimizer_mod._global_optimizer_pre_hooks),
                      len(optimizer_mod._global_optimizer_post_hooks))


def test_pytest_fixture_fails_with_the_report(freeze_watch):
    model = net()
    freeze_backbone(model)
    opt = torch.optim.SGD(model[4].parameters(), lr=0.1)
    with freeze_watch(frozen=["0"], trainable=["4"]):
        loop(model, opt, 2)
    model[1].train()
    with pytest.raises(freezelint.FreezeAuditError, match="FZ502"):
        with freeze_watch():
            loop(model, opt, 2, refreeze=False)


def test_watch_failures_in_a_test_show_the_tests_line_and_the_report(pytester):
    # as freeze_audit's: no contextlib or freezelint frames, for findings and for a short window;
    # freezelint.assert_watched is the same outside the fixture (unittest)
    pytester.makepyfile("""
        import torch, torch.nn as nn, freezelint

        def setup():
            m = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
            m[:2].requires_grad_(False)
            return m, torch.optim.SGD(m[2].parameters(), lr=0.1)

        def train(m, opt, n):
            for _ in range(n):
                m.train()
                m(torch.randn(3, 4)).sum().backward()
                opt.step()
                opt.zero_grad()

        def test_findings(freeze_watch):
            m, opt = setup()
            with freeze_watch(frozen=["0"]):
                train(m, opt, 2)

        def test_short_window(freeze_watch):
            m, opt = setup()
            with freeze_watch(steps=3):
                train(m, opt, 1)

        def test_outside_the_fixture():
            m, opt = setup()
            with freezelint.assert_watched(trainable=["2"]):
                train(m, opt, 2)
    """)
    others = [e.name for e in importlib.metadata.entry_points(group="pytest11") if e.name != "freezelint"]
    result = pytester.runpytest_inprocess(*(f"-pno:{name}" for name in others))
    result.assert_outcomes(failed=3)
    out = result.stdout.str()
    result.stdout.fnmatch_lines(["*FZ502 frozen-stats-changed*", "*1 of 3 optimizer steps were observed*"])
    assert "contextlib.py" not in out and "watch.py" not in out and "AuditReport(findings=" not in out, out
    for line, kind in ((17, "FreezeAuditError"), (22, "AuditUsageError"), (27, "FreezeAuditError")):  # the with lines
        assert f"_report.py:{line}: {kind}" in out, out


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_watched_amp_steps_equal_unwatched_ones_and_stay_on_device():
    def run(watched: bool):
        model = net().cuda()
        freeze_backbone(model)
        opt = torch.optim.AdamW(model.parameters(), lr=0.1, fused=True)  # skips itself on inf
        scaler = torch.amp.GradScaler("cuda")
        torch.manual_seed(3)
        ctx = freezelint.watch(steps=2) if watched else None
        with ctx if ctx is not None else contextlib.nullcontext():
            for _ in range(4):  # room for a step the scaler skips
                model.train()
                model[1].eval()
                with torch.autocast("cuda", dtype=torch.float16):
                    loss = model(torch.randn(6, 4, device="cuda")).float().pow(2).mean()
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
                opt.zero_grad()
        return model, ctx

    (plain, _), (seen, w) = run(False), run(True)
    for (n, a), (_, b) in zip(plain.state_dict().items(), seen.state_dict().items()):
        assert torch.equal(a.view(-1).view(torch.uint8), b.view(-1).view(torch.uint8)), n
    assert w.report.ok, w.report.render_text()
    assert w.report.device.startswith("cuda")


class TwoParts(nn.Module):
    """A Lightning-style module whose step calls its parts, never its own forward."""

    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(4, 3))
        self.dec = nn.Sequential(nn.Linear(3, 4))
        self.temperature = nn.Parameter(torch.ones(()))  # its own, held by the optimizer


def test_model_found_above_the_forwarded_parts_that_hold_the_optimizers_parameters():
    torch.manual_seed(0)
    model = TwoParts()
    model.enc.requires_grad_(False)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with freezelint.watch() as w:
        for _ in range(2):
            x = torch.randn(5, 4)
            (model.dec(model.enc(x)) * model.temperature).sub(x).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
    report = w.report
    assert {p.name for p in report.params} == {"temperature", "enc.0.weight", "enc.0.bias", "dec.0.weight",
                                               "dec.0.bias"}
    assert report.ok, report.render_text()


def test_a_failing_hook_leaves_training_alone_and_says_so(monkeypatch):
    import freezelint.runtime.watch as watch_mod

    def broken(tensors):
        raise RuntimeError("no fingerprint today")

    monkeypatch.setattr(watch_mod, "Fingerprinter", broken)
    model = net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    train = nn.Module.train
    with freezelint.watch() as w:
        loop(model, opt, 2)  # runs to the end
        assert nn.Module.train is train  # the watch closed itself
    with pytest.raises(AuditUsageError, match="watching failed: RuntimeError: no fingerprint today"):
        w.report


class Wrapping(torch.optim.Optimizer):
    """An optimizer wrapper (as Lookahead-style wrappers are): its step steps the one it wraps."""

    def __init__(self, inner):
        super().__init__(inner.param_groups[0]["params"], {"lr": 0.0})
        self.inner = inner
        self.param_groups = inner.param_groups

    def step(self, closure=None):
        return self.inner.step(closure)


def test_a_wrapper_stepping_the_optimizer_it_wraps_counts_once():
    model = net()
    opt = Wrapping(torch.optim.SGD(model.parameters(), lr=0.1))
    done_before = []
    with freezelint.watch(steps=2) as w:
        loop(model, opt, 3, on_iter=lambda i: done_before.append(w.done))
    assert done_before == [False, False, True]  # two iterations, not one counted twice
    assert list(w.counts.values()) == [2] and w.report.ok, w.report.render_text()



def test_what_the_first_watched_step_changes_is_judged():
    # torch hands a step pre-hook step()'s own args, the optimizer first: mistaking it for a
    # closure retook the baseline after the first step, and BatchNorm statistics that moved
    # only in the first iteration went unseen
    model = net()
    freeze_backbone(model)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    gen = torch.Generator().manual_seed(1)
    with freezelint.watch(steps=2) as w:
        for i in range(2):
            model.train()
            if i:  # the BatchNorm freeze comes one iteration late
                model[1].eval()
            model(torch.randn(6, 4, generator=gen)).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
    assert "FZ502" in {f.code for f in w.report.findings}


def test_buffers_that_moved_are_sized_each_from_its_own_copy():
    # Buffers are sized together per dtype (one difference, one segment max): each record must
    # still carry its own largest change, a nan stays nan, a counter counts, and a buffer given
    # another shape or dtype in the window is nan.
    class Stats(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 3)
            for name, value in [("a", torch.zeros(4)), ("b", torch.zeros(2, 3)), ("c", torch.zeros(5)),
                                ("n", torch.tensor(7)), ("flag", torch.tensor([True])),
                                ("low", torch.zeros(3, dtype=torch.float16)), ("reshaped", torch.zeros(2))]:
                self.register_buffer(name, value)

        def forward(self, x):
            with torch.no_grad():
                self.a[2] += 0.25
                self.b[1, 0] -= 4.0
                self.c[4] = float("nan")
                self.n += 3
                self.flag[0] = False
                self.low[1] += 2.0
                self.reshaped.resize_(3).fill_(1.0)
            return self.lin(x)

    model = Stats()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with freezelint.watch(steps=1) as w:
        model(torch.randn(2, 3)).sum().backward()
        opt.step()
    got = {b.name: b.max_abs_delta for b in w.report.buffers}
    assert {k: got[k] for k in ("a", "b", "n", "low")} == {"a": 0.25, "b": 4.0, "n": 3.0, "low": 2.0}
    assert got["c"] != got["c"] and got["reshaped"] != got["reshaped"]  # nan
    assert got["flag"] is None and all(b.changed for b in w.report.buffers)


def test_buffers_are_judged_by_their_bits_against_the_copy_not_by_value():
    # Buffers are compared with their copies block by block: a change that leaves the value equal
    # (0.0 to -0.0, one NaN for another) still moved, sized 0 or nan; among many buffers that did
    # not move, the one that did is named alone; a bool buffer that flipped moved, unsized.
    class Quiet(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 2)
            self.register_buffer("zero", torch.zeros(3))
            self.register_buffer("nan", torch.full((2,), float("nan")))
            for i in range(12):  # more unchanged buffers than are checked one by one
                self.register_buffer(f"still{i}", torch.arange(4.0) + i)
            self.register_buffer("mask", torch.tensor([True, False]))

        def forward(self, x):
            with torch.no_grad():
                self.zero[1] = -0.0
                self.nan.view(torch.int32)[0] ^= 1  # another NaN payload: NaN all the same
                self.mask[1] = True
            return self.lin(x)

    model = Quiet()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with freezelint.watch(steps=1) as w:
        model(torch.randn(2, 2)).sum().backward()
        opt.step()
    got = {b.name: (b.changed, b.max_abs_delta) for b in w.report.buffers}
    assert got["zero"] == (True, 0.0)
    assert got["nan"][0] and got["nan"][1] != got["nan"][1]
    assert got["mask"] == (True, None)
    assert all(got[f"still{i}"] == (False, None) for i in range(12))


def test_a_buffer_shared_by_two_models_is_judged_by_its_latest_copy():
    # Before the window each root forward copies its buffers again; a buffer two roots share is
    # in both roots' blocks, and only the copy taken last says whether it moved in the window.
    class Counter(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("count", torch.zeros(()))

    class Counts(nn.Module):  # moves the shared counter in its forward
        def __init__(self, counter):
            super().__init__()
            self.counter, self.lin = counter, nn.Linear(2, 2)

        def forward(self, x):
            with torch.no_grad():
                self.counter.count += 1
            return self.lin(x)

    class Reads(nn.Module):  # holds the counter, leaves it alone
        def __init__(self, counter):
            super().__init__()
            self.counter, self.lin = counter, nn.Linear(2, 1)

        def forward(self, x):
            return self.lin(x)

    counter = Counter()
    a, b = Counts(counter), Reads(counter)
    opt = torch.optim.SGD([*a.lin.parameters(), *b.lin.parameters()], lr=0.1)
    x = torch.randn(3, 2)
    with freezelint.watch(steps=1) as w:
        b(x)  # b's block first (count 0)
        y = a(x)  # a's copy (count 0), then count 1
        b(y).sum().backward()  # b's copy again, the latest: count 1, and nothing moves it after
        opt.step()
    (count,) = [r for r in w.report.buffers if r.name.endswith("count")]
    assert not count.changed, count


def test_evaluating_before_training_reads_the_parameters_once(monkeypatch):
    # Each root forward before the window copies the buffers again (it may be the first step's),
    # but parameters change only at a step: a script that evaluates 5 batches first still gets
    # one pass before the window and one at its end, and the judgement is the same.
    from freezelint.runtime.fingerprint import Fingerprinter

    passes = []
    original = Fingerprinter._pass  # every pass, taken at once or begun beside the forward
    monkeypatch.setattr(Fingerprinter, "_pass", lambda self, *a, **k: passes.append(1) or original(self, *a, **k))
    model = net()
    freeze_backbone(model)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1, momentum=0.9)
    with freezelint.watch(steps=2) as w:
        model.eval()
        with torch.no_grad():
            for _ in range(5):
                model(torch.randn(6, 4))
        loop(model, opt, 2)
    assert w.report.ok, w.report.render_text()
    assert len(passes) == 2
    changed = {r.name for r in w.report.params if r.changed}
    assert changed == {"4.weight", "4.bias"}


def test_copies_the_script_updates_itself_are_neither_fz501_nor_fz503():
    # A mean teacher (a frozen deepcopy, EMA-updated) and SWA's AveragedModel (trainable copies
    # averaged by update_parameters) kept as submodules of the trained model: no optimizer holds
    # them, and the script's own code writes them on purpose. A trainable copy nobody updates is
    # still FZ503.
    from torch.optim.swa_utils import AveragedModel

    class Student(nn.Module):
        def __init__(self, average: bool, update: bool):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
            self.teacher = copy.deepcopy(self.net).requires_grad_(False)
            self.average = AveragedModel(self.net) if average else None
            self.update = update

        def forward(self, x):
            with torch.no_grad():
                target = self.teacher(x)
            return (self.net(x) - target - 1).pow(2).mean()

        @torch.no_grad()
        def after_step(self):
            if self.update:
                for t, s in zip(self.teacher.parameters(), self.net.parameters()):
                    t.mul_(0.9).add_(s, alpha=0.1)
                if self.average is not None:
                    self.average.update_parameters(self.net)

    def run(average, update):
        torch.manual_seed(0)
        model = Student(average, update)
        opt = torch.optim.SGD(model.net.parameters(), lr=0.1, momentum=0.9)
        with freezelint.watch(steps=2) as w:
            for _ in range(3):
                model(torch.randn(6, 4)).backward()
                opt.step()
                opt.zero_grad()
                model.after_step()
        return w.report

    assert run(average=True, update=True).ok, run(average=True, update=True).render_text()
    stale = run(average=True, update=False)
    assert codes(stale) == ["FZ503"] and "average" in stale.findings[0].target


def test_a_model_changed_between_two_watches_is_judged_as_it_is_then():
    # Fingerprinting state is reused across watches of one model (a kept segment table): after
    # `.data` is swapped, a parameter replaced, a buffer or a module added, what the next window
    # does to the new tensors must still be seen, and an untouched window stays clean.
    model = net()
    freeze_backbone(model)
    opt = torch.optim.SGD(model[4].parameters(), lr=0.1)

    def judged(write=None):
        def on_iter(i):
            if i == 1 and write is not None:  # inside the window: after its first step
                with torch.no_grad():
                    write()
        with freezelint.watch() as w:
            loop(model, opt, 2, on_iter=on_iter)
        return w.report

    def moved(report):
        return {p.name for p in report.params if p.changed} | {b.name for b in report.buffers if b.changed}

    assert judged().ok
    model[0].weight.data = model[0].weight.data.clone()  # other storage, same bits
    assert judged().ok
    report = judged(lambda: model[0].weight.add_(1.0))
    # seen; the script's own write to a parameter no optimizer holds is not a finding (an EMA)
    assert "0.weight" in moved(report) and "FZ501" not in codes(report)
    model[0].bias = nn.Parameter(torch.zeros(8), requires_grad=False)  # replaced
    assert judged().ok
    assert "0.bias" in moved(judged(lambda: model[0].bias.add_(1.0)))
    model[1].register_buffer("extra", torch.zeros(3))
    assert judged().ok
    assert "1.extra" in moved(judged(lambda: model[1].extra.add_(1.0)))
    model.add_module("5", nn.Linear(2, 2).requires_grad_(False))
    assert judged().ok
    report = judged(lambda: model[5].weight.mul_(2.0))
    assert moved(report) == {"4.weight", "4.bias", "5.weight"} and report.ok


# ---------------------------------------------------------------- models beside the trained one
def distill(teacher_eval: bool, *, ema: bool = False, steps: int = 3, **expect):
    torch.manual_seed(0)
    teacher = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))
    teacher.requires_grad_(False)
    if teacher_eval:
        teacher.eval()
    student = net(1)
    opt = torch.optim.SGD(student.parameters(), lr=0.1)
    gen = torch.Generator().manual_seed(3)
    with freezelint.watch(**expect) as w:
        for _ in range(steps):
            x = torch.randn(6, 4, generator=gen)
            with torch.no_grad():
                soft = teacher(x)
            (student(x) - soft).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
            if ema:  # a mean teacher: the script's own code moves it, statistics included
                with torch.no_grad():
                    for t, s in zip(teacher.parameters(), student.parameters()):
                        if t.shape == s.shape:
                            t.mul_(0.9).add_(s, alpha=0.1)
    return w.report


def test_a_frozen_teacher_whose_batchnorm_drifts_is_judged_beside_the_student():
    report = distill(teacher_eval=False)  # labelled by the names the loop gives them
    assert codes(report) == ["FZ502"], report.render_text()
    assert report.findings[0].target == "teacher.1"
    assert {p.name for p in report.params if p.name.startswith("teacher.")} == {
        "teacher.0.weight", "teacher.0.bias", "teacher.1.weight", "teacher.1.bias", "teacher.2.weight",
        "teacher.2.bias"}


def test_near_miss_a_teacher_in_eval_and_a_mean_teacher_the_script_moves_are_clean():
    assert distill(teacher_eval=True).ok
    report = distill(teacher_eval=False, ema=True)  # BatchNorm in train mode on purpose, parameters by EMA
    assert report.ok, report.render_text()


def test_an_average_updated_less_often_than_the_window_gets_a_hint_a_teacher_of_another_shape_none():
    torch.manual_seed(0)
    student = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))
    ema = copy.deepcopy(student).requires_grad_(False)  # forwarded in train mode
    opt = torch.optim.SGD(student.parameters(), lr=0.1)
    with freezelint.watch(steps=2) as w:
        for i in range(4):
            x = torch.randn(6, 4)
            with torch.no_grad():
                soft = ema(x)
            (student(x) - soft).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
            if i % 4 == 3:  # its first update falls after the window
                with torch.no_grad():
                    for e, s in zip(ema.parameters(), student.parameters()):
                        e.mul_(0.9).add_(s, alpha=0.1)
    (finding,) = w.report.findings
    assert finding.code == "FZ502" and finding.target == "ema.1"
    assert "if ema is an average of the trained model (an EMA) updated every few steps" in finding.advice
    assert "none of its updates fell in these 2 steps" in finding.advice
    teacher = nn.Sequential(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.Linear(16, 2)).requires_grad_(False)
    with freezelint.watch(steps=2) as w:  # a teacher unlike the student: no such hint
        for _ in range(2):
            x = torch.randn(6, 4)
            with torch.no_grad():
                soft = teacher(x)
            (student(x) - soft).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
    (other,) = w.report.findings
    assert other.code == "FZ502" and other.target == "teacher.1" and "average" not in other.advice


def test_expectations_name_the_trained_model_as_its_author_does_beside_a_teacher():
    report = distill(teacher_eval=True, expect_trainable=["4"], expect_frozen=["teacher"])
    assert report.ok, report.render_text()
    assert codes(distill(teacher_eval=True, expect_frozen=["4"])) == ["FZ506"]


class _ScriptAdam(torch.optim.Adam):
    """An optimizer class of the script's own (found among the live optimizers all the same)."""


@pytest.mark.parametrize("kind", [torch.optim.Adam, _ScriptAdam])
def test_a_model_whose_optimizer_did_not_step_in_the_window_is_named_in_a_note(kind):
    torch.manual_seed(0)
    gen_net, critic = nn.Sequential(nn.Linear(2, 4)), nn.Sequential(nn.Linear(4, 1))
    opt_g = kind(gen_net.parameters())
    opt_c = torch.optim.Adam(critic.parameters())
    with freezelint.watch() as w:
        for it in range(4):  # the critic steps 5 times per generator step: the block ends before its first
            critic(gen_net(torch.randn(3, 2)).detach()).mean().backward()
            opt_c.step()
            opt_c.zero_grad()
            if it % 5 == 4:
                critic(gen_net(torch.randn(3, 2))).mean().backward()
                opt_g.step()
                opt_g.zero_grad()
    report = w.report
    assert report.ok and len(report.notes) == 2 and not w.judged_at_exit, report.render_text()
    assert report.notes[0].startswith(f"gen_net (Sequential) ran, not judged: the {kind.__name__} that holds its "
                                      f"parameters did not")
    assert report.notes[1].startswith("the window waited for opt_g")  # and the block ended first
    assert "note: " in report.render_text() and report.to_dict()["notes"] == report.notes


def _wgan(iters: int, n_critic: int = 5, steps: int = 2) -> freezelint.Watch:
    torch.manual_seed(0)
    gen_net = nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4))
    critic = nn.Sequential(nn.Linear(4, 1))
    opt_g, opt_c = torch.optim.Adam(gen_net.parameters()), torch.optim.Adam(critic.parameters())
    with freezelint.watch(steps=steps) as w:
        for it in range(iters):
            critic(gen_net(torch.randn(3, 2)).detach()).mean().backward()
            opt_c.step()
            opt_c.zero_grad()
            if it % n_critic == n_critic - 1:
                (-critic(gen_net(torch.randn(3, 2))).mean()).backward()
                opt_g.step()
                opt_g.zero_grad()
    return w


def test_the_window_waits_for_a_generator_stepped_once_per_five_critic_steps():
    # (WassersteinGAN): the critic completes its 2 steps before the generator ever
    # steps; the generator's model ran, so the window holds until it has stepped twice too
    w = _wgan(iters=12)
    report = w.report
    assert report.ok and not w.judged_at_exit, report.render_text()
    assert list(w.counts.values()) == [10, 2]  # the critic's, the generator's (the watch no longer holds them)
    assert report.optimizer == "opt_c: Adam + opt_g: Adam"
    assert {p.name.split(".")[0] for p in report.params if p.changed} == {"gen_net", "critic"}
    assert report.notes == ["the window waited for opt_g, which had not stepped when the others had completed "
                            "2 steps, to complete 2 too (opt_c 10, opt_g 2)"]


def test_the_window_stops_waiting_for_an_optimizer_that_does_not_step():
    # held open at most until the others have stepped 50 times the window
    w = _wgan(iters=120, n_critic=1000)
    report = w.report
    assert report.ok and not w.judged_at_exit and w.waited_out == ["opt_g"], report.render_text()
    assert list(w.counts.values()) == [100]  # the critic's
    assert any(n.startswith("the window waited for opt_g, which holds the parameters of a model that ran, to step 2 "
                            "times, and stopped waiting (opt_c 100)") for n in report.notes), report.notes


def test_a_trainable_model_that_no_optimizer_holds_is_named_in_a_note():
    model, reference = net(), nn.Sequential(nn.Linear(4, 2))  # left trainable, run without grad only
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with freezelint.watch() as w:
        for _ in range(2):
            x = torch.randn(6, 4)
            with torch.no_grad():
                target = reference(x)
            (model(x) - target).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
    assert w.report.ok and "ran with trainable parameters that no optimizer holds" in w.report.notes[0]
    # the backward reaching it (a loss network left trainable) makes it FZ503, judged with the model
    loss_net = nn.Sequential(nn.Linear(2, 1))
    with freezelint.watch() as w:
        for _ in range(2):
            loss_net(model(torch.randn(6, 4))).mean().backward()
            opt.step()
            opt.zero_grad()
    assert codes(w.report) == ["FZ503"] and w.report.findings[0].target == "loss_net", w.report.render_text()


def tied_lm_steps(**expect):
    torch.manual_seed(0)
    lm = nn.Sequential(nn.Embedding(10, 4), nn.Dropout(0.1), nn.Linear(4, 10, bias=False))
    lm[2].weight = lm[0].weight  # tied: "train only the head" trains the embedding too
    lm.requires_grad_(False)
    lm[2].requires_grad_(True)
    opt = torch.optim.SGD([p for p in lm.parameters() if p.requires_grad], lr=0.1)
    with freezelint.watch(**expect) as w:
        for _ in range(2):
            lm(torch.arange(6)).logsumexp(-1).mean().backward()
            opt.step()
            opt.zero_grad()
    return w.report


def test_a_tied_parameter_answers_to_every_name_it_has():
    report = tied_lm_steps(expect_trainable=["2"])  # the head's module: its weight is the embedding's
    assert report.ok, report.render_text()
    assert [p.aliases for p in report.params] == [["2.weight"]]
    report = tied_lm_steps(expect_frozen=["0"])
    assert codes(report) == ["FZ506"]
    assert "0.weight (also 2.weight) is trainable" in report.findings[0].message


def test_an_expectation_naming_a_module_without_parameters_says_so():
    report = tied_lm_steps(expect_frozen=["1"])
    assert codes(report) == ["FZ506"]
    assert report.findings[0].message == "expect_frozen pattern names a module that holds no parameters"


def test_a_generator_frozen_during_the_critics_steps_is_noted_not_judged():
    # WGAN: the generator (with BatchNorm) is frozen while the critic steps; its own optimizer
    # steps once per 5 iterations, after the window: it is no frozen bystander
    torch.manual_seed(0)
    gen_net = nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4))
    critic = nn.Sequential(nn.Linear(4, 1))
    opt_g, opt_c = torch.optim.Adam(gen_net.parameters()), torch.optim.Adam(critic.parameters())
    with freezelint.watch() as w:
        for it in range(4):  # the block ends before the generator's first step
            gen_net.requires_grad_(False)
            critic(gen_net(torch.randn(3, 2))).mean().backward()
            opt_c.step()
            opt_c.zero_grad()
            gen_net.requires_grad_(True)
            if it % 5 == 4:
                critic(gen_net(torch.randn(3, 2))).mean().backward()
                opt_g.step()
                opt_g.zero_grad()
    assert w.report.ok, w.report.render_text()
    assert w.report.notes[0].startswith("gen_net (Sequential) ran, not judged: the Adam that holds its parameters")


def test_a_glob_names_the_trained_model_not_the_teacher_beside_it():
    report = distill(teacher_eval=True, expect_trainable=["*.weight"])
    assert report.ok, report.render_text()
    assert codes(distill(teacher_eval=True, expect_trainable=["teacher.*.weight"])) == ["FZ506"]
    report = distill(teacher_eval=True, expect_frozen=["2"])  # a ReLU of the student
    assert report.findings[0].message == "expect_frozen pattern names a module that holds no parameters"


def test_an_ema_teacher_whose_eval_train_undoes_is_still_fz201():
    class MeanTeacher(nn.Module):
        def __init__(self):
            super().__init__()
            self.student = net(1)
            self.teacher = copy.deepcopy(self.student).requires_grad_(False)
            self.teacher.eval()  # meant to stay in eval: every model.train() undoes it

        def forward(self, x):
            with torch.no_grad():
                target = self.teacher(x)
            return (self.student(x) - target).pow(2).mean()

    model = MeanTeacher()
    opt = torch.optim.SGD(model.student.parameters(), lr=0.1)
    with freezelint.watch() as w:
        for _ in range(3):
            model.train()
            model(torch.randn(6, 4)).backward()
            opt.step()
            opt.zero_grad()
            with torch.no_grad():  # the EMA: the script's own code moves the teacher
                for t, s in zip(model.teacher.parameters(), model.student.parameters()):
                    t.mul_(0.9).add_(s, alpha=0.1)
    assert codes(w.report) == ["FZ201"], w.report.render_text()


def test_a_teacher_sharing_a_frozen_stem_with_the_student_is_still_judged():
    torch.manual_seed(0)
    stem = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8)).requires_grad_(False).eval()
    student = nn.Sequential(stem, nn.Linear(8, 2))
    teacher = nn.Sequential(stem, nn.Linear(8, 8), nn.BatchNorm1d(8), nn.Linear(8, 2)).requires_grad_(False)
    opt = torch.optim.SGD(student[1].parameters(), lr=0.1)
    with freezelint.watch() as w:
        for _ in range(3):
            x = torch.randn(6, 4)
            with torch.no_grad():
                soft = teacher(x)  # left in train mode: its own BatchNorm drifts
            (student(x) - soft).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
    assert codes(w.report) == ["FZ502"] and w.report.findings[0].target == "teacher.2", w.report.render_text()


def test_a_teacher_is_judged_beside_a_loss_module_with_parameters():
    class Scaled(nn.Module):  # a learnable temperature: another root, with a parameter the optimizer holds
        def __init__(self):
            super().__init__()
            self.t = nn.Parameter(torch.ones(()))

        def forward(self, a, b):
            return ((a - b) / self.t).pow(2).mean()

    torch.manual_seed(0)
    teacher = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 2)).requires_grad_(False)
    student, loss = net(1), Scaled()
    opt = torch.optim.SGD([*student.parameters(), *loss.parameters()], lr=0.1)
    with freezelint.watch() as w:
        for _ in range(3):
            x = torch.randn(6, 4)
            with torch.no_grad():
                soft = teacher(x)
            loss(student(x), soft).backward()
            opt.step()
            opt.zero_grad()
    assert codes(w.report) == ["FZ502"], w.report.render_text()


def test_a_model_the_backward_reached_that_no_optimizer_holds_is_fz503():
    torch.manual_seed(0)
    policy, value = net(), nn.Sequential(nn.Linear(4, 1))  # the value head was left out of the optimizer
    opt = torch.optim.SGD(policy.parameters(), lr=0.1)
    with freezelint.watch() as w:
        for _ in range(2):
            x = torch.randn(6, 4)
            (policy(x).pow(2).mean() + value(x).pow(2).mean()).backward()
            opt.step()
            opt.zero_grad()
    assert codes(w.report) == ["FZ503"] and w.report.findings[0].target.startswith("value"), w.report.render_text()


def test_an_ema_copy_left_trainable_that_the_script_updates_gets_no_note():
    torch.manual_seed(0)
    model = net()
    ema = copy.deepcopy(model)  # requires_grad left on, as timm's ModelEmaV2 leaves it
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with freezelint.watch() as w:
        for _ in range(3):
            model(torch.randn(6, 4)).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
            with torch.no_grad():
                for e, p in zip(ema.parameters(), model.parameters()):
                    e.mul_(0.9).add_(p, alpha=0.1)
                ema(torch.randn(6, 4))  # evaluated: a root of its own
    assert w.report.ok and w.report.notes == [], w.report.render_text()


def test_peft_modules_to_save_expectations_are_judged_on_the_copy_that_trains_as_audit_judges_them():
    peft = pytest.importorskip("peft")

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body, self.classifier = nn.Linear(8, 8), nn.Linear(8, 3)

        def forward(self, x):
            return self.classifier(torch.relu(self.body(x)))

    torch.manual_seed(0)
    model = peft.get_peft_model(Net(), peft.LoraConfig(r=2, target_modules=["body"], modules_to_save=["classifier"]))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)

    def watched(**expect):
        with freezelint.watch(**expect) as w:
            for _ in range(2):
                model(torch.randn(4, 8)).pow(2).mean().backward()
                opt.step()
                opt.zero_grad()
        return w.report

    report = watched(expect_trainable=["base_model.model.classifier", "base_model.model.classifier.weight"],
                     expect_frozen=["base_model.model.classifier.original_module", "base_model.model.body.base_layer"])
    assert report.ok, report.render_text()
    assert codes(watched(expect_frozen=["base_model.model.classifier"])) == ["FZ506"]
    # and by the names the user wrote, without PEFT's `base_model.model.`
    assert watched(expect_trainable=["classifier", "*lora_B*"], expect_frozen=["body.base_layer"]).ok
    assert codes(watched(expect_frozen=["classifier"])) == ["FZ506"]


# ---------------------------------------------------------------- a loop that calls a method of the model
class Detector(nn.Module):
    """mmdet's shape: the loop calls `model.loss(x)`, never `model(x)`, so the outermost forwards
    are the parts."""

    def __init__(self, bn: bool = False):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8) if bn else nn.Identity(), nn.ReLU())
        self.head = nn.Linear(8, 2)

    def loss(self, x):
        return self.head(self.backbone(x)).pow(2).mean()


def detector(bn: bool = False) -> tuple[Detector, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = Detector(bn)
    model.backbone.requires_grad_(False)
    return model, torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)


def loss_steps(model, opt, iters: int = 3, **expect):
    with freezelint.watch(**expect) as w:
        for _ in range(iters):
            model.loss(torch.randn(6, 4)).backward()
            opt.step()
            opt.zero_grad()
    return w.report


DETECTOR_PARAMS = {"backbone.0.weight", "backbone.0.bias", "head.weight", "head.bias"}


def test_a_model_trained_through_a_method_is_judged_as_one_model_under_its_own_names():
    model, opt = detector()
    report = loss_steps(model, opt, expect_frozen="backbone", expect_trainable="head")
    assert report.ok, report.render_text()
    assert {p.name for p in report.params} == DETECTOR_PARAMS
    assert {p.name for p in report.params if p.changed} == {"head.weight", "head.bias"}


def test_the_model_is_found_through_the_loops_object_that_holds_it():
    class Runner:  # mmengine's / a home-made trainer's `self.model`, no variable holds the model itself
        def __init__(self):
            self.model, self.opt = detector(bn=True)

        def fit(self, iters):
            for _ in range(iters):
                self.model.loss(torch.randn(6, 4)).backward()
                self.opt.step()
                self.opt.zero_grad()

    runner = Runner()
    with freezelint.watch(expect_frozen="backbone") as w:
        runner.fit(3)
    (finding,) = w.report.findings
    assert finding.code == "FZ502" and finding.target == "backbone.1", w.report.render_text()  # its own names


def test_a_vae_whose_elbo_calls_both_parts_is_one_model():
    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder, self.decoder = nn.Linear(4, 4), nn.Linear(2, 4)

        def elbo(self, x):
            mu, logvar = self.encoder(x).chunk(2, dim=-1)
            z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
            return (self.decoder(z) - x).pow(2).mean() - 0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).mean()

    torch.manual_seed(0)
    vae = VAE()
    opt = torch.optim.Adam(vae.parameters(), lr=1e-3)
    with freezelint.watch(expect_trainable=["encoder", "decoder"]) as w:
        for _ in range(2):
            vae.elbo(torch.randn(6, 4)).backward()
            opt.step()
            opt.zero_grad()
    assert w.report.ok, w.report.render_text()
    assert {p.name for p in w.report.params} == {"encoder.weight", "encoder.bias", "decoder.weight", "decoder.bias"}


def test_a_teacher_beside_a_model_trained_through_a_method_is_still_judged_beside_it():
    model, opt = detector()
    teacher = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 2)).requires_grad_(False)
    with freezelint.watch(expect_frozen="backbone") as w:
        for _ in range(2):
            x = torch.randn(6, 4)
            with torch.no_grad():
                soft = teacher(x)
            (model.loss(x) + (model.head(model.backbone(x)) - soft).pow(2).mean()).backward()
            opt.step()
            opt.zero_grad()
    report = w.report
    assert codes(report) == ["FZ502"] and report.findings[0].target == "teacher.1", report.render_text()
    assert {p.name for p in report.params if p.name.startswith("model.")} == {f"model.{n}" for n in DETECTOR_PARAMS}


def test_near_miss_a_gan_kept_in_one_module_stays_two_models():
    class GAN(nn.Module):
        def __init__(self):
            super().__init__()
            self.gen, self.disc = Generator(), Discriminator()

    torch.manual_seed(0)
    both = GAN()
    opt_g, opt_d = torch.optim.Adam(both.gen.parameters(), lr=1e-3), torch.optim.Adam(both.disc.parameters(), lr=1e-3)
    with freezelint.watch() as w:
        gan_steps(both.gen, both.disc, opt_g, opt_d, 3)
    report = w.report
    assert report.ok, report.render_text()
    # two models labelled by the loop's names for them, not one named `gen.…` and `disc.…`
    assert {p.name.partition(".")[0] for p in report.params} == {"G", "D"}


def test_near_miss_a_student_and_teacher_kept_in_a_module_dict_stay_student_and_teacher():
    # torch's containers are not a model: expectations still name the student as its author does
    torch.manual_seed(0)
    teacher = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 2)).requires_grad_(False)
    student = net(1)
    student[0].requires_grad_(False)
    models = nn.ModuleDict({"student": student, "teacher": teacher})  # noqa: F841 — held for saving, say
    opt = torch.optim.SGD([p for p in student.parameters() if p.requires_grad], lr=0.1)
    with freezelint.watch(expect_frozen="0") as w:
        for _ in range(2):
            x = torch.randn(6, 4)
            with torch.no_grad():
                soft = teacher(x)
            (student(x) - soft).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
    report = w.report
    assert [(f.code, f.target) for f in report.findings] == [("FZ502", "teacher.1")], report.render_text()


def test_near_miss_two_modules_each_holding_the_parts_leave_them_as_they_are():
    # two candidates, neither inside the other: which one is the model is not plain, nothing is guessed
    class Left(nn.Module):
        def __init__(self, backbone, head):
            super().__init__()
            self.backbone, self.head = backbone, head

    class Right(Left):
        pass

    torch.manual_seed(0)
    model = Detector()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    left, right = Left(model.backbone, model.head), Right(model.backbone, model.head)  # noqa: F841
    del model
    with freezelint.watch() as w:
        for _ in range(2):
            left.head(right.backbone(torch.randn(6, 4))).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
    assert {p.name.partition(".")[0] for p in w.report.params} == {"Sequential", "Linear"}  # the parts, by class


def test_several_roots_with_no_module_above_them_keep_their_names():
    enc, dec = nn.Linear(4, 3), nn.Linear(3, 4)
    opt = torch.optim.SGD([*enc.parameters(), *dec.parameters()], lr=0.1)
    with freezelint.watch() as w:
        for _ in range(2):
            dec(enc(torch.randn(5, 4))).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
    assert {p.name for p in w.report.params} == {"enc.weight", "enc.bias", "dec.weight", "dec.bias"}


def test_a_mean_teacher_run_through_a_method_beside_the_student_is_judged_as_one_model():
    # mmdet's semi-supervised shape: `teacher.predict(x)` forwards the teacher's parts one by one;
    # judged as the teacher the script holds, shaped as the student (an EMA: the hint applies)
    def run(ema: bool):
        torch.manual_seed(0)
        student = Detector(bn=True)
        teacher = copy.deepcopy(student).requires_grad_(False)
        opt = torch.optim.SGD(student.parameters(), lr=0.1)
        with freezelint.watch(expect_trainable="head") as w:
            for _ in range(3):
                x = torch.randn(6, 4)
                with torch.no_grad():
                    target = teacher.head(teacher.backbone(x))
                (student.loss(x) + (student.head(student.backbone(x)) - target - 1).pow(2).mean()).backward()
                opt.step()
                opt.zero_grad()
                if ema:
                    with torch.no_grad():
                        for t, s in zip(teacher.parameters(), student.parameters()):
                            t.mul_(0.99).add_(s, alpha=0.01)
        return w.report

    assert run(ema=True).ok, run(ema=True).render_text()
    report = run(ema=False)
    (finding,) = report.findings
    assert finding.code == "FZ502" and finding.target == "teacher.backbone.1", report.render_text()
    assert "if teacher is an average of the trained model (an EMA)" in finding.advice
    assert {p.name for p in report.params if p.name.startswith("teacher.")} == {
        "teacher.backbone.0.weight", "teacher.backbone.0.bias", "teacher.backbone.1.weight", "teacher.backbone.1.bias",
        "teacher.head.weight", "teacher.head.bias"}


def test_near_miss_parts_run_beside_held_by_two_modules_neither_inside_the_other_stay_parts():
    torch.manual_seed(0)
    model, opt = detector()
    frozen = Detector(bn=True).requires_grad_(False)
    one, other = nn.Sequential(frozen.backbone, frozen.head), nn.Sequential(frozen.backbone, frozen.head)  # noqa: F841
    del frozen
    with freezelint.watch() as w:
        for _ in range(2):
            x = torch.randn(6, 4)
            with torch.no_grad():
                target = one[1](other[0](x))
            (model.head(model.backbone(x)) - target).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
    (finding,) = w.report.findings
    assert finding.code == "FZ502" and finding.target == "Sequential.1", w.report.render_text()  # the part, by class


def test_a_student_and_teacher_in_one_module_are_one_model_and_expectations_may_name_the_student_as_before():
    class Distiller(nn.Module):
        def __init__(self):
            super().__init__()
            self.student = net(1)
            self.teacher = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 2)).requires_grad_(False)

    torch.manual_seed(0)
    distiller = Distiller()
    distiller.student[0].requires_grad_(False)
    distiller.student[1].eval()
    opt = torch.optim.SGD([p for p in distiller.student.parameters() if p.requires_grad], lr=0.1)
    # `0` and `4` name the student's layers, as they did when the student was judged alone;
    # `teacher` names the module's own part
    with freezelint.watch(expect_frozen=["0", "teacher"], expect_trainable="4") as w:
        for _ in range(2):
            x = torch.randn(6, 4)
            with torch.no_grad():
                soft = distiller.teacher(x)
            (distiller.student(x) - soft).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
    report = w.report
    assert [(f.code, f.target) for f in report.findings] == [("FZ502", "teacher.1")], report.render_text()
    assert "student.0.weight" in {p.name for p in report.params}


def test_near_miss_a_teacher_left_trainable_but_run_under_no_grad_keeps_the_student_alone_and_a_note():
    # inside one model its parameters would be trainable in no param group (FZ503); beside the
    # student, as before, it is a note
    class Distiller(nn.Module):
        def __init__(self):
            super().__init__()
            self.student = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
            self.teacher = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 2)).eval()

    torch.manual_seed(0)
    distiller = Distiller()
    opt = torch.optim.SGD(distiller.student.parameters(), lr=0.1)
    with freezelint.watch() as w:
        for _ in range(2):
            x = torch.randn(6, 4)
            with torch.no_grad():
                soft = distiller.teacher(x)
            (distiller.student(x) - soft).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
    assert w.report.ok, w.report.render_text()
    assert {p.name for p in w.report.params} == {"0.weight", "0.bias", "2.weight", "2.bias"}
    assert "ran with trainable parameters that no optimizer holds" in w.report.notes[0]


# ---------------------------------------------------------------- FZ201 names the train() call the watch saw
class Tower(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU())
        self.head = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))

    def forward(self, x):
        return self.head(self.backbone(x))

    def loss(self, x):  # mmdet's shape: the loop never calls forward
        return self.head(self.backbone(x)).pow(2).mean()


def tower(freeze: str = "backbone") -> Tower:
    """The frozen part (or, `freeze="bn"`, only the backbone's BatchNorm statistics) put in eval()."""
    torch.manual_seed(0)
    model = Tower()
    if freeze == "backbone":
        model.backbone.requires_grad_(False)
    model.backbone[1].eval() if freeze == "bn" else model.backbone.eval()
    return model


def tower_steps(model: Tower, train, iters: int = 3, through_loss: bool = False):
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    with freezelint.watch() as w:
        for _ in range(iters):
            train()
            x = torch.randn(6, 4)
            (model.loss(x) if through_loss else model(x).pow(2).mean()).backward()
            opt.step()
            opt.zero_grad()
    return w.report


@pytest.mark.parametrize("through_loss", [False, True])
def test_fz201_names_the_train_of_the_part_that_undid_the_freeze(through_loss):
    model = tower()
    report = tower_steps(model, lambda: model.backbone.train(), through_loss=through_loss)
    (found,) = report.findings
    assert (found.code, found.target) == ("FZ201", "backbone.1"), report.render_text()
    assert re.match(r"backbone\.1 was in eval\(\) to freeze running statistics, but backbone\.train\(\), "
                    + _SITE + r"switched it back and the statistics moved", found.message), found.message
    assert "model.train()" not in found.message + found.advice
    # the backbone is frozen whole (no parameter trains, none in the optimizer): its train() call has no use
    assert found.advice.startswith("stop calling backbone.train(): backbone is frozen whole ")


def test_fz201_keeps_model_train_where_the_whole_model_was_switched():
    model = tower()
    report = tower_steps(model, lambda: model.train())
    (found,) = report.findings
    assert found.code == "FZ201", report.render_text()
    assert re.search(r"but model\.train\(\), " + _SITE + r"switched it back", found.message), found.message
    assert found.advice.startswith("re-apply .eval() to it after every model.train(): ")


def test_fz201_of_an_eval_only_freeze_names_the_train_of_the_part():
    model = tower("bn")  # the statistics kept, weight and bias trained
    report = tower_steps(model, lambda: model.backbone.train())
    (found,) = report.findings
    assert (found.code, found.target) == ("FZ201", "backbone.1"), report.render_text()
    assert re.search(r"\(its weight and bias left to train\), but backbone\.train\(\), " + _SITE
                     + r"switched it back",
                     found.message), found.message
    assert "after each backbone.train()" in found.advice and "model.train()" not in found.advice


def test_fz201_freezes_undone_by_two_calls_are_one_finding_per_call():
    model = tower()
    model.head[1].requires_grad_(False)
    model.head[1].eval()

    def train():
        model.backbone.train()
        model.head[1].train()

    report = tower_steps(model, train)
    assert [(f.code, f.target) for f in report.findings] == [("FZ201", "backbone.1"), ("FZ201", "head.1")]
    assert ["backbone.train(), called" in f.message for f in report.findings] == [True, False]
    assert re.search(r"but head\.1\.train\(\), " + _SITE + r"switched it back", report.findings[1].message)


def test_fz201_names_a_trainers_train_of_a_part_by_its_name_in_the_model():
    class Runner:  # a home-made trainer: `self.model.backbone.train()` every epoch, `self.model.loss(x)`
        def __init__(self):
            self.model = tower()
            self.opt = torch.optim.SGD(self.model.head.parameters(), lr=0.1)

        def fit(self, epochs):
            for _ in range(epochs):
                self.model.backbone.train()
                self.model.loss(torch.randn(6, 4)).backward()
                self.opt.step()
                self.opt.zero_grad()

    runner = Runner()
    with freezelint.watch() as w:
        runner.fit(3)
    (found,) = w.report.findings
    assert (found.code, found.target) == ("FZ201", "backbone.1"), w.report.render_text()
    assert "but backbone.train(), called in fit at tests/test_watch.py:" in found.message, found.message


def test_fz201_beside_a_student_names_the_teachers_own_train():
    torch.manual_seed(0)
    teacher = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8)).requires_grad_(False).eval()
    student = nn.Sequential(nn.Linear(4, 8))
    opt = torch.optim.SGD(student.parameters(), lr=0.1)
    with freezelint.watch() as w:
        for _ in range(3):
            student.train()
            teacher.train()
            x = torch.randn(6, 4)
            with torch.no_grad():
                target = teacher(x)
            (student(x) - target).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
    (found,) = w.report.findings
    assert (found.code, found.target) == ("FZ201", "teacher.1"), w.report.render_text()
    assert re.search(r"but teacher\.train\(\), " + _SITE + r"switched it back", found.message), found.message


def test_audit_keeps_its_model_train_wording():
    model = tower()
    opt = torch.optim.SGD(model.head.parameters(), lr=0.1)
    (found,) = [f for f in freezelint.audit(model, opt, batch=torch.randn(6, 4)).findings if f.code == "FZ201"]
    assert "but model.train() (as every epoch loop calls it) switched it back" in found.message
    assert "call_train=False" in found.advice


# ---------------------------------------------------------------- one model, two optimizers over its parts
def split_steps(model: Tower, opts, through_loss: bool, iters: int = 3):
    """One backward per iteration, then every optimizer steps (the backbone's lr and the head's)."""
    with freezelint.watch() as w:
        for _ in range(iters):
            x = torch.randn(6, 4)
            (model.loss(x) if through_loss else model(x).pow(2).mean()).backward()
            for o in opts:
                o.step()
            for o in opts:
                o.zero_grad()
    return w.report


TOWER_PARAMS = {f"{part}.{i}.{kind}" for part, i in [("backbone", 0), ("backbone", 1), ("head", 0), ("head", 1),
                                                     ("head", 2)] for kind in ("weight", "bias")}


@pytest.mark.parametrize("through_loss", [False, True])
def test_one_model_with_an_optimizer_per_part_is_one_model_and_clean(through_loss):
    torch.manual_seed(0)
    model = Tower()
    opts = [torch.optim.AdamW(model.backbone.parameters(), lr=1e-4), torch.optim.SGD(model.head.parameters(), lr=0.1)]
    report = split_steps(model, opts, through_loss)
    assert report.ok, report.render_text()
    assert {p.name for p in report.params} == TOWER_PARAMS  # its own names, no label per part
    assert all(p.changed for p in report.params) and report.optimizer == "AdamW + SGD"


@pytest.mark.parametrize("through_loss", [False, True])
def test_one_model_with_an_optimizer_per_part_a_frozen_layer_one_of_them_holds_is_fz504_only(through_loss):
    torch.manual_seed(0)
    model = Tower()
    opts = [torch.optim.AdamW(model.backbone.parameters(), lr=1e-4), torch.optim.SGD(model.head.parameters(), lr=0.1)]
    model(torch.randn(6, 4)).pow(2).mean().backward()  # a step before the freeze: AdamW keeps backbone.0's moments
    opts[0].step()
    opts[0].zero_grad()
    opts[1].zero_grad()
    model.backbone[0].requires_grad_(False)
    report = split_steps(model, opts, through_loss)
    # which of the two optimizers: the loop holds them in a list, so by class
    assert [(f.code, f.target) for f in report.findings] == [("FZ504", "backbone.0 in AdamW.param_groups[0]")], \
        report.render_text()
    assert "param group 0 of AdamW" in report.findings[0].message
    assert {p.name for p in report.params} == TOWER_PARAMS


@pytest.mark.parametrize("through_loss", [False, True])
def test_one_model_with_an_optimizer_per_part_a_part_neither_holds_is_fz503_for_it_alone(through_loss):
    torch.manual_seed(0)
    model = Tower()
    opts = [torch.optim.AdamW(model.backbone[1].parameters(), lr=1e-4),  # backbone.0 left out
            torch.optim.SGD(model.head.parameters(), lr=0.1)]
    report = split_steps(model, opts, through_loss)
    assert [(f.code, f.target) for f in report.findings] == [("FZ503", "backbone.0")], report.render_text()


@pytest.mark.parametrize("through_loss", [False, True])
def test_one_model_with_an_optimizer_per_part_whose_lr_is_zero_is_a_note_not_fz505(through_loss):
    torch.manual_seed(0)
    model = Tower()
    opts = [torch.optim.SGD(model.backbone.parameters(), lr=0.0), torch.optim.SGD(model.head.parameters(), lr=0.1)]
    report = split_steps(model, opts, through_loss)
    assert report.ok, report.render_text()
    assert [n for n in report.notes if "lr is 0" in n] == [
        "backbone.0.weight, backbone.0.bias, backbone.1.weight and 1 more (requires_grad=True, param group 0 of SGD 1 "
        "(SGD)) "
        "did not change over 2 steps: the group's lr is 0, so no FZ505 (a stage a schedule has not reached yet, or a "
        "freeze by learning rate, FZ304 in the code, which still computes their grads and optimizer state)"], \
        report.render_text()


def lr_zero_steps(groups: list[dict]) -> "freezelint.AuditReport":
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = torch.optim.SGD(groups(model), lr=0.1, momentum=0.9)
    with freezelint.watch() as w:
        for _ in range(3):
            model(torch.randn(6, 4)).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
    return w.report


def test_a_group_per_parameter_at_lr_zero_is_one_note_naming_the_groups():
    # mmengine's paramwise_cfg (`custom_keys={"backbone": dict(lr_mult=0)}`) builds a group per parameter
    report = lr_zero_steps(lambda m: [{"params": [p], "lr": 0.0} for p in m[0].parameters()]
                           + [{"params": list(m[2].parameters())}])
    assert report.ok, report.render_text()
    assert [n for n in report.notes if "lr is 0" in n] == [
        "0.weight, 0.bias (requires_grad=True, param groups 0-1 of SGD momentum=0.9) did not change over 2 steps: "
        "each group's lr is 0, so no FZ505 (a stage a schedule has not reached yet, or a freeze by learning rate, "
        "FZ304 in the code, which still computes their grads and optimizer state)"], report.render_text()


def test_near_miss_groups_at_lr_zero_with_other_settings_keep_a_note_each():
    report = lr_zero_steps(lambda m: [{"params": [m[0].weight], "lr": 0.0},
                                      {"params": [m[0].bias], "lr": 0.0, "weight_decay": 0.1},
                                      {"params": list(m[2].parameters())}])
    assert [n.split(" did not")[0] for n in report.notes if "lr is 0" in n] == [
        "0.weight (requires_grad=True, param group 0 of SGD momentum=0.9)",
        "0.bias (requires_grad=True, param group 1 of SGD momentum=0.9 weight_decay=0.1)"], report.render_text()


def test_near_miss_a_gan_whose_methods_forward_its_networks_stays_two_models():
    # each optimizer steps after its own backward: two models, as when the loop calls G and D itself
    class GAN(nn.Module):
        def __init__(self):
            super().__init__()
            self.gen, self.disc = Generator(), Discriminator()

        def d_loss(self, real, z):
            return self.disc(self.gen(z).detach()).mean() - self.disc(real).mean()

        def g_loss(self, z):
            return -self.disc(self.gen(z)).mean()

    torch.manual_seed(0)
    gan_model = GAN()
    opt_g = torch.optim.Adam(gan_model.gen.parameters(), lr=1e-3)
    opt_d = torch.optim.Adam(gan_model.disc.parameters(), lr=1e-3)
    with freezelint.watch() as w:
        for _ in range(3):
            real, z = torch.randn(6, 4), torch.randn(6, 3)
            opt_d.zero_grad()
            gan_model.d_loss(real, z).backward()
            opt_d.step()
            opt_g.zero_grad()
            gan_model.g_loss(z).backward()
            opt_g.step()
    report = w.report
    assert report.ok, report.render_text()
    # two models, labelled by their names in the module the code holds above both (gan_model.gen)
    assert {p.name.partition(".")[0] for p in report.params} == {"gen", "disc"}



def gradual_unfreeze(model: nn.Sequential, iters: int, w=None, *, frozen_bn_eval: bool = False,
                     keep_first: bool = False) -> int:
    """Train the head for 2 steps with the backbone frozen, then unfreeze it and build a NEW optimizer
    over the whole model (a gradual-unfreezing script's epoch boundary). Stops once `w` is done;
    returns the iterations run. `frozen_bn_eval`: the frozen BatchNorm kept in eval() until the
    unfreeze. `keep_first`: the first optimizer steps on beside the new one (no rebuild, then)."""
    gen = torch.Generator().manual_seed(1)
    freeze_backbone(model)
    head_opt = opt = torch.optim.SGD(model[4].parameters(), lr=0.1)
    for i in range(iters):
        if w is not None and w.done:
            return i
        if i == 2:
            model[0].requires_grad_(True)
            model[1].requires_grad_(True)
            opt = torch.optim.SGD(model.parameters(), lr=0.01)
        model.train()
        if frozen_bn_eval and i < 2:
            model[1].eval()
        model(torch.randn(6, 4, generator=gen)).pow(2).mean().backward()
        opt.step()
        opt.zero_grad()
        if keep_first and i >= 2:
            model(torch.randn(6, 4, generator=gen)).pow(2).mean().backward()
            head_opt.step()
            head_opt.zero_grad()
    return iters


def test_an_optimizer_rebuilt_over_its_parameters_and_more_does_not_hold_the_window_open():
    # the first optimizer never reaches 3 steps; the new one holds all it held
    model = net()
    with freezelint.watch(steps=3) as w:
        ran = gradual_unfreeze(model, 8, w)
    # the new optimizer's 2nd step, the old one not stepping since, tells a rebuild: the window
    # closes there, the old one's 2 steps counting for the new one's (two optimizers that both go
    # on stepping, below, are no rebuild)
    assert ran == 4 and not w.judged_at_exit
    report = w.report
    assert report.optimizer == "SGD" and w.progress() == "SGD 2, replaced, SGD 4"
    # the frozen backbone's BatchNorm drifted in train mode in steps 1-2, before the unfreeze: FZ502
    assert codes(report) == ["FZ502"], report.render_text()
    assert report.findings[0].target == "1" and "frozen until step 3 of 3" in report.findings[0].message
    assert any("SGD stepped 2 times, then a new optimizer holding all its parameters took over" in n
               for n in report.notes), report.notes
    assert not w.drifted and not w.before  # released once judged


def test_near_miss_a_rebuilt_optimizer_over_a_backbone_kept_in_eval_while_frozen_is_ok():
    model = net()
    with freezelint.watch(steps=3) as w:
        ran = gradual_unfreeze(model, 8, w, frozen_bn_eval=True)
    assert ran == 4 and w.report.ok, w.report.render_text()


def test_near_miss_an_optimizer_that_steps_on_beside_one_holding_its_parameters_still_counts():
    # not a rebuild: the head's own optimizer steps again, so the window waits for its 3 steps too
    model = net()
    with freezelint.watch(steps=3) as w:
        ran = gradual_unfreeze(model, 8, w, frozen_bn_eval=True, keep_first=True)
    assert ran == 5 and not w.replaced and w.progress() == "head_opt 4, opt 3"  # the new one's own 3 steps
    assert w.report.optimizer == "head_opt: SGD + opt: SGD"


def test_near_miss_a_gan_stepping_its_generator_first_with_the_discriminator_frozen_is_clean():
    # D's BatchNorm runs in train mode, frozen, in G's step (the first): D's own optimizer then
    # trains it; that is no unfreeze of a frozen part
    G, D, opt_g, opt_d = gan()
    with freezelint.watch() as w:
        for _ in range(3):
            real, z = torch.randn(6, 4), torch.randn(6, 3)
            fake = G(z)
            D.requires_grad_(False)
            opt_g.zero_grad()
            (-D(fake).mean()).backward()
            opt_g.step()
            D.requires_grad_(True)
            opt_d.zero_grad()
            (D(fake.detach()).mean() - D(real).mean()).backward()
            opt_d.step()
    assert w.report.ok and not w.replaced, w.report.render_text()


@pytest.mark.parametrize("bias", [True, False])
def test_a_grouped_finding_counts_the_names_its_first_finding_lists(bias):
    # each BatchNorm's weight and bias left out of the optimizer is one FZ503;
    # 4 alike are one finding, counting the parameters and quoting the first (two parameters; the
    # near-miss: one, the weight)
    torch.manual_seed(0)
    model = nn.Sequential()
    for i, name in enumerate("abcd"):
        model.add_module(name, nn.Sequential(nn.Conv2d(3 if i == 0 else 4, 4, 3, padding=1, bias=False),
                                             nn.BatchNorm2d(4, affine=True), nn.ReLU()))
        if not bias:
            model[i][1].bias.requires_grad_(False)
    opt = torch.optim.SGD([m.weight for m in model.modules() if isinstance(m, nn.Conv2d)], lr=0.1)
    with freezelint.watch() as w:
        for _ in range(2):
            model(torch.randn(2, 3, 8, 8)).mean().backward()
            opt.step()
            opt.zero_grad()
    (f,) = w.report.findings
    first = ("8 parameters, the same way: a.1.weight, a.1.bias, b.1.weight and 5 more — e.g. a.1.weight, a.1.bias: "
             "requires_grad=True") if bias else \
        "4 parameters, the same way: a.1.weight, b.1.weight, c.1.weight and 1 more — e.g. a.1.weight: requires_grad"
    assert f.code == "FZ503" and f.message.startswith(first), f.message


def test_the_root_above_several_models_names_them_not_a_module_class():
    # the tree's root was "(model) Module", an object the script does not have
    G, D, opt_g, opt_d = gan()
    with freezelint.watch() as w:
        gan_steps(G, D, opt_g, opt_d, 2)
    text = w.report.render_text()
    assert "\n(2 models: G, D) · trainable · train" in text and "(model)" not in text and " Module " not in text, text
    assert w.report.modules[0].name == "" and w.report.modules[0].type == "(2 models: G, D)"
    # near-miss: one model keeps its own root line
    model = net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with freezelint.watch() as w:
        loop(model, opt, 2, refreeze=False)
    assert "\n(model) Sequential · trainable" in w.report.render_text(), w.report.render_text()


def test_an_average_of_a_part_of_the_trained_model_gets_the_interval_hint_too():
    # a momentum encoder (an EMA of the model's encoder alone, updated every 10
    # steps, run in train mode): FZ502 within 2 steps, as for an EMA of the whole model, with its hint
    torch.manual_seed(0)
    model = nn.Sequential(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU()),
                          nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2)))
    encoder = model[0]
    target = copy.deepcopy(encoder).requires_grad_(False)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    with freezelint.watch(steps=2) as w:
        for i in range(4):
            x = torch.randn(8, 3, 8, 8)
            loss = model(x).pow(2).mean() + (encoder(x) - target(x)).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            if (i + 1) % 10 == 0:  # never inside the window
                with torch.no_grad():
                    for p_t, p in zip(target.parameters(), encoder.parameters()):
                        p_t.mul_(0.99).add_(p, alpha=0.01)
    (finding,) = w.report.findings
    assert finding.code == "FZ502" and finding.target == "target.1", w.report.render_text()
    assert ("if target is an average of a part of the trained model (an EMA of it, a momentum encoder) updated every "
            "few steps, none of its updates fell in these 2 steps" in finding.advice), finding.advice


def _distill(teacher_in_eval: bool) -> freezelint.Watch:
    """A student trained on a teacher's outputs, the teacher run under torch.no_grad() and left
    with requires_grad=True (the loop relies on no_grad, not on a freeze)."""
    torch.manual_seed(0)
    teacher = nn.Sequential(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))  # larger
    student = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    opt = torch.optim.SGD(student.parameters(), lr=0.1)
    if teacher_in_eval:
        teacher.eval()
    with freezelint.watch() as w:
        for _ in range(2):
            x = torch.randn(6, 4)
            with torch.no_grad():
                soft = teacher(x).softmax(-1)
            loss = -(soft * student(x).log_softmax(-1)).sum(-1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return w


def test_a_distillation_teacher_left_in_train_mode_under_no_grad_is_fz502():
    # no optimizer holds it and no backward reaches it, so it trains nothing, yet
    # its BatchNorm statistics follow every batch
    report = _distill(teacher_in_eval=False).report
    (f,) = report.findings
    assert f.code == "FZ502" and f.target == "teacher", report.render_text()
    assert "trains nothing" in f.message and "BatchNorm1d" in f.message and "eval()" in f.advice
    assert f.names == [] or all(n.startswith("teacher.") for n in f.names)
    assert "◀" not in report.render_text()  # the teacher is not in the student's tree


def test_near_miss_a_distillation_teacher_in_eval_is_only_named():
    report = _distill(teacher_in_eval=True).report
    assert report.ok, report.render_text()
    assert any("teacher (Sequential) ran with trainable parameters that no optimizer holds" in n
               for n in report.notes), report.notes


def test_naming_models_and_optimizers_from_the_loop_keeps_none_of_its_variables_alive():
    # names are read from the frames on the stack; on Python < 3.13 reading a function frame's
    # variables caches a snapshot in the frame that would hold them (here: this test's `batch`)
    import weakref as _weakref

    class Batch:
        pass

    G, D, opt_g, opt_d = gan()
    batch = Batch()
    ref = _weakref.ref(batch)
    with freezelint.watch() as w:
        gan_steps(G, D, opt_g, opt_d, 3)
    assert w.report.optimizer == "opt_d: Adam + opt_g: Adam"
    del batch
    assert ref() is None


def test_a_clean_frozen_backbone_with_batchnorm_in_eval_is_one_line_of_the_tree():
    # BatchNorm put in eval inside a frozen backbone (the right fix) made every
    # block of it a line of its own in a clean report; nothing in it moved, so it is one line
    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=3)
    model.requires_grad_(False)
    model.fc.requires_grad_(True)
    opt = torch.optim.SGD(model.fc.parameters(), lr=0.1)
    with freezelint.watch() as w:
        for _ in range(2):
            model.train()
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
            model(torch.randn(2, 3, 32, 32)).sum().backward()
            opt.step()
            opt.zero_grad()
    text = w.report.render_text()
    assert w.report.ok, text
    layer1 = [line for line in text.splitlines() if "layer1" in line]
    assert len(layer1) == 1 and "submodules, all frozen" in layer1[0], text
    assert len(text.splitlines()) <= 10, text
