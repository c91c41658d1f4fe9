"""False alarms and a miss from trial 25 (FZ101, FZ102, FZ105, FZ106, FZ111, FZ301), each checked
on the public code's form and, where the claim is about torch, against real torch objects."""

from __future__ import annotations

import functools
import textwrap

import torch

from freezelint.check.engine import check_source
from conftest import write


def _found(src: str, code: str) -> list[int]:
    return [d.row for d in check_source(textwrap.dedent(src), "train.py", select=[code])]


# ---------------------------------------------------------------- FZ101: a callable is a monkeypatch
_FZ101_PATCH = """
import functools

def hold_requires_grad(model):
    held = [m for m in model.modules() if "requires_grad_" not in vars(m)]
    for module in held:
        module.requires_grad_ = functools.partial(lambda m, *args, **kwargs: m, module)
    def restore():
        for module in held:
            vars(module).pop("requires_grad_", None)
    return restore
"""


def test_fz101_callable_stored_over_requires_grad_is_a_monkeypatch_not_a_freeze():
    assert _found(_FZ101_PATCH, "FZ101") == []
    namespace: dict = {}
    exec(textwrap.dedent(_FZ101_PATCH), namespace)
    model = torch.nn.Sequential(torch.nn.Linear(2, 2))
    restore = namespace["hold_requires_grad"](model)
    assert model.requires_grad_(False) is model  # the patch: a no-op that works
    assert all(p.requires_grad for p in model.parameters())
    restore()
    model.requires_grad_(False)
    assert not any(p.requires_grad for p in model.parameters())
    with_partial = torch.nn.Linear(2, 2)
    try:  # what the unsafe fix used to write: the method called with the callable as its flag
        torch.nn.Module.requires_grad_(with_partial, functools.partial(lambda m: m, with_partial))
    except TypeError:
        return
    raise AssertionError("requires_grad_(<partial>) was expected to raise")


def test_fz101_flag_values_stay_reported():
    src = """
    def freeze(m, flag, off=0):
        m.requires_grad_ = False
        m.requires_grad_ = True
        m.requires_grad_ = 0
        m.requires_grad_ = flag
        m.requires_grad_ = off
    """
    assert _found(src, "FZ101") == [3, 4, 5, 6, 7]


# ---------------------------------------------------------------- FZ106: a walk written out
_FZ106_WALK = """
def switch_mode(model, training):
    ops, stack = [], [model]
    while stack:
        module = stack.pop()
        ops.append((module, "train" in module.__dict__))
        stack.extend(c for c in module._modules.values() if c is not None)
    for module, custom in ops:
        if custom:
            module.train(training)
        else:
            module.training = training
"""


def test_fz106_walk_written_out_sets_every_modules_own_flag():
    assert _found(_FZ106_WALK, "FZ106") == []
    namespace: dict = {}
    exec(textwrap.dedent(_FZ106_WALK), namespace)
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Sequential(torch.nn.BatchNorm1d(2), torch.nn.Dropout()))
    namespace["switch_mode"](model, False)
    assert not any(m.training for m in model.modules())  # the same as model.eval()


def test_fz106_walk_that_picks_some_modules_stays_reported():
    src = """
    import torch.nn as nn

    def freeze_norms(model):
        stack = [model]
        while stack:
            module = stack.pop()
            if isinstance(module, nn.Sequential):
                module.training = False
            stack.extend(module.children())
    """
    assert _found(src, "FZ106") == [9]


# ---------------------------------------------------------------- FZ111: paths that never meet
_FZ111_GUARDED = """
from peft import LoraConfig, get_peft_model

def get_model(model, lora, requires_grad=True):
    if lora:
        model = get_peft_model(model, LoraConfig(r=8, target_modules="all-linear"))
    if requires_grad and {unguard}:
        model.requires_grad_(True)
    return model
"""


def test_fz111_unfreeze_on_the_path_without_peft_is_not_reported():
    for unguard in ("not lora", "lora is False", "lora == False"):
        assert _found(_FZ111_GUARDED.format(unguard=unguard), "FZ111") == [], unguard
    in_else = _FZ111_GUARDED.replace("    if requires_grad and {unguard}:\n        model.requires_grad_(True)\n",
                                     "    if lora:\n        pass\n    else:\n        model.requires_grad_(True)\n")
    assert _found(in_else, "FZ111") == []


def test_fz111_unfreeze_on_every_path_stays_reported():
    assert _found(_FZ111_GUARDED.format(unguard="True"), "FZ111") == [8]
    # the tested name reassigned between: the tests no longer exclude each other
    rebound = _FZ111_GUARDED.format(unguard="not lora").replace("    if requires_grad", "    lora = False\n    if requires_grad")
    assert _found(rebound, "FZ111") == [9]


# ---------------------------------------------------------------- FZ105: a kept copy is its own tensor
_FZ105_EMA = """
def make_shadow(model):
    shadow_of = {}
    for name, p in model.named_parameters():
        shadow = p.detach().clone()
        shadow.requires_grad = False
        shadow_of[name] = shadow
    return shadow_of
"""


def test_fz105_kept_copy_is_a_tensor_of_its_own():
    assert _found(_FZ105_EMA, "FZ105") == []
    namespace: dict = {}
    exec(textwrap.dedent(_FZ105_EMA), namespace)
    model = torch.nn.Linear(2, 2)
    shadow = namespace["make_shadow"](model)
    assert all(p.requires_grad for p in model.parameters())  # the model was never meant to freeze
    assert not any(t.requires_grad for t in shadow.values())
    assert all(shadow[n].data_ptr() != p.data_ptr() for n, p in model.named_parameters())


def test_fz105_copy_flagged_then_dropped_stays_reported():
    dropped = _FZ105_EMA.replace("        shadow_of[name] = shadow\n", "")
    assert _found(dropped, "FZ105") == [6]
    unnamed = """
    for p in model.parameters():
        p.detach().requires_grad = False
        p.data.requires_grad = False
    """
    assert _found(unnamed, "FZ105") == [3, 4]
    weights = """
    sd = model.state_dict()
    for k in sd:
        sd[k].requires_grad = False
    model.load_state_dict(sd)
    """
    assert _found(weights, "FZ105") == [4]


# ---------------------------------------------------------------- FZ301: the harm is conditional
def test_fz301_says_frozen_weights_move_only_with_a_grad_left_from_before_the_freeze():
    src = """
    import torch
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 2))
    model[0].requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=0.1)
    """
    [d] = check_source(textwrap.dedent(src), "train.py", select=["FZ301"])
    assert "the optimizer skips them while their .grad is None (no state, no weight decay), but a grad left " \
           "from before the freeze (a backward before it, or zero_grad(set_to_none=False)) is applied" in d.message
    assert "any stale or zero grad" not in d.message

    def frozen_moves(backward_first: bool) -> bool:
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 2))
        if backward_first:
            model(torch.randn(3, 4)).sum().backward()
        model[0].requires_grad_(False)
        opt = torch.optim.AdamW(model.parameters(), lr=0.1)
        before = model[0].weight.detach().clone()
        for _ in range(3):
            opt.zero_grad(set_to_none=False)
            model(torch.randn(3, 4)).sum().backward()
            opt.step()
        return not torch.equal(before, model[0].weight) or model[0].weight in opt.state

    assert not frozen_moves(backward_first=False)  # the common case: no grad, no state, no decay
    assert frozen_moves(backward_first=True)  # a zero grad kept in place: AdamW's weight decay moves it


# ---------------------------------------------------------------- FZ102: a part of a Module built from an unseen class
_FZ102_BUILT = """
import torch
from {package} import {cls}

def pretrain(backbone, loader, num_classes):
    classifier = {cls}(backbone, num_classes).to("cpu")
    optimizer = torch.optim.SGD(classifier.parameters(), lr=0.01)
    classifier.train()
    classifier.backbone.requires_grad = False
    for inputs, labels in loader:
        loss = torch.nn.functional.cross_entropy(classifier(inputs), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
"""


class _Classifier(torch.nn.Module):  # what such a class is: a Module with a `backbone` part
    def __init__(self, backbone, num_classes):
        super().__init__()
        self.backbone, self.head = backbone, torch.nn.Linear(4, num_classes)

    def forward(self, x):
        return self.head(self.backbone(x))


def test_fz102_part_of_a_module_built_from_a_class_the_checker_cannot_read():
    src = _FZ102_BUILT.format(package="common.modules.classifier", cls="Classifier")
    [d] = check_source(textwrap.dedent(src), "train.py", select=["FZ102"])
    assert d.row == 9 and "built by `Classifier(...)`, a class of another package the checker cannot read" in d.message
    assert "as `backbone` names a part of a model" in d.message and d.fix["applicability"] == "unsafe"
    classifier = _Classifier(torch.nn.Linear(4, 4), 3)
    classifier.train()
    classifier.backbone.requires_grad = False  # what the line does: an attribute, no parameter frozen
    assert all(p.requires_grad for p in classifier.backbone.parameters())
    classifier.backbone.requires_grad_(False)  # the fix
    assert not any(p.requires_grad for p in classifier.backbone.parameters())


def test_fz102_built_by_a_factory_a_known_library_or_the_project_stays_silent(tmp_path, cli):
    assert _found(_FZ102_BUILT.format(package="common.models", cls="build_classifier"), "FZ102") == []
    assert _found(_FZ102_BUILT.format(package="torchvision.models", cls="ResNet"), "FZ102") == []
    write(tmp_path / "train.py", _FZ102_BUILT.format(package="nets", cls="Classifier"))
    write(tmp_path / "nets.py", """
    class Classifier:  # a plain class of the project: `backbone` of it is whatever it sets
        def __init__(self, backbone, num_classes):
            self.backbone = backbone
    """)
    result = cli(tmp_path, "check", "--no-cache", "--select", "FZ102", ".")
    assert "FZ102" not in result.out, result.out
    # without a mode switch (only `.parameters()` proves a Module), the name is no evidence
    no_switch = _FZ102_BUILT.format(package="common.modules.classifier", cls="Classifier")
    assert _found(no_switch.replace("    classifier.train()\n", ""), "FZ102") == []
