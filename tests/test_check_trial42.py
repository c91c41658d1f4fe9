"""The checker findings of trial 42: a redundant `training = False` after eval() (FZ106), a misspelled
`= False` on a tensor that never required grad (FZ103), and the freezes FZ201/FZ202/FZ301 missed."""

from __future__ import annotations

import textwrap

import pytest

from freezelint import codes
from freezelint.check.engine import check_text

ALL_STATIC = frozenset(c for c, i in codes.CATALOGUE.items() if i.static)


def _found(src: str, code: str) -> list:
    return [d for d in check_text(textwrap.dedent(src), "ex.py", ALL_STATIC, force=True).diagnostics
            if d.code == code]


# FZ106 ------------------------------------------------------------------------------------------

EVAL_THEN_FLAG = """
import torchvision

def load(frozen=True):
    model = torchvision.models.resnet18()
    {before}
    if frozen:
        {switch}
        model.training = False
    return model
"""


@pytest.mark.parametrize("switch", ["model = model.eval()", "model.eval()", "model.train(False)"])
def test_fz106_is_silent_where_an_eval_reaches_the_flag(switch):
    assert _found(EVAL_THEN_FLAG.format(before="pass", switch=switch), "FZ106") == []
    assert _found(EVAL_THEN_FLAG.format(before=switch, switch="pass"), "FZ106") == []


@pytest.mark.parametrize("before, switch", [
    ("pass", "model.train()"),  # training mode: the flag flips the root alone
    ("pass", "model.eval(); model(x)"),  # eval() then a run between: named in between, judged as before
    ("model.eval()", "model.train()"),
    ("pass", "model.train(True)"),
])
def test_fz106_still_reports_where_no_eval_reaches_it(before, switch):
    assert len(_found(EVAL_THEN_FLAG.format(before=before, switch=switch), "FZ106")) == 1


def test_fz106_does_not_follow_an_eval_across_a_loop():
    src = """
    import torchvision

    model = torchvision.models.resnet18()
    model.eval()
    for batch in loader:
        model.training = False
        step(model, batch)
    """
    assert len(_found(src, "FZ106")) == 1


@pytest.mark.parametrize("between", [
    "model.train()",  # the parent's train() turns the part's children on again
    "run(model)",
    "model = build()",  # another model: its backbone was never put in eval mode
])
def test_fz106_does_not_follow_an_eval_of_a_part_past_its_parent(between):
    src = f"""
    def step(model, build, run):
        model.backbone.eval()
        {between}
        model.backbone.training = False
    """
    assert len(_found(src, "FZ106")) == 1


@pytest.mark.parametrize("obj, between", [("model.backbone", "model.head.train()"), ("model.backbone", "pass"),
                                          ("self.backbone", "self.steps = 0")])
def test_fz106_follows_an_eval_of_a_part_past_other_parts(obj, between):
    src = f"""
    class Lit:
        def step(self, model):
            {obj}.eval()
            {between}
            {obj}.training = False
    """
    assert _found(src, "FZ106") == []


def test_fz106_does_not_follow_an_eval_past_super_train():
    src = """
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))

        def on_epoch_start(self):
            self.backbone.eval()
            super().train()
            self.backbone.training = False
    """
    assert len(_found(src, "FZ106")) == 1


def test_a_parent_train_turns_on_what_a_part_eval_turned_off():
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Sequential(torch.nn.BatchNorm1d(2)), torch.nn.Linear(2, 2))
    model[0].eval()
    model.train()
    model[0].training = False
    assert model[0][0].training  # the BatchNorm inside trains: the assignment was not redundant


def test_eval_already_clears_every_flag_the_assignment_would():
    torchvision = pytest.importorskip("torchvision")
    model = torchvision.models.resnet18().eval()
    assert not any(m.training for m in model.modules())
    model.training = False
    assert not any(m.training for m in model.modules())


# FZ103 ------------------------------------------------------------------------------------------

def test_fz103_is_silent_for_false_on_a_fresh_factory_tensor():
    src = """
    import torch, torch.nn as nn

    class PositionalEncoding(nn.Module):
        def __init__(self, d, max_len=100):
            super().__init__()
            pe = torch.zeros(max_len, d).float()
            pe.require_grad = False
            self.register_buffer("pe", pe.unsqueeze(0))
    """
    assert _found(src, "FZ103") == []


@pytest.mark.parametrize("src", [
    "import torch\npe = torch.zeros(3)\npe.require_grad = True\n",  # meant to train it: the typo loses that
    "import torch\npe = torch.zeros(3, requires_grad=True)\npe.require_grad = False\n",  # it does require grad
    "import torch\npe = torch.zeros(3)\npe.requires_grad_()\npe.require_grad = False\n",  # turned on before
    "import torch\npe = make(3)\npe.require_grad = False\n",  # not known to be fresh
    "for p in model.parameters():\n    p.require_grad = False\n",  # parameters require grad
])
def test_fz103_still_reports_a_typo_that_changes_something(src):
    assert len(_found(src, "FZ103")) == 1


def test_a_fresh_tensor_does_not_require_grad_and_true_does():
    torch = pytest.importorskip("torch")
    pe = torch.zeros(3)
    pe.require_grad = False
    assert not pe.requires_grad  # as `pe.requires_grad = False` would leave it
    q = torch.zeros(3)
    q.require_grad = True
    assert not q.requires_grad  # the typo lost the `True`


# FZ301 / FZ202: a loop over every child ------------------------------------------------------------

CHILDREN_LOOP = """
import torch, torch.nn as nn, torchvision

model = torchvision.models.resnet18()
for child in model.children():
    {inner}for param in child.parameters():
    {inner}    param.requires_grad = False
model.fc = nn.Linear(512, 2)
optimizer = torch.optim.AdamW({params}, lr=1e-3)
for x in loader:
    model.train()
    model(x).sum().backward()
    optimizer.step()
"""


def test_a_loop_over_every_child_freezes_the_whole_model():
    found = _found(CHILDREN_LOOP.format(inner="", params="model.parameters()"), "FZ301")
    assert len(found) == 1 and "every parameter of `model`" in found[0].message
    found = _found(CHILDREN_LOOP.format(inner="", params="model.fc.parameters()"), "FZ202")
    assert len(found) == 1 and "20 BatchNorm layers" in found[0].message, found


@pytest.mark.parametrize("test", ["if child is not model.layer4:", "if isinstance(child, nn.Sequential):"])
def test_a_loop_that_picks_children_is_not_the_whole_model(test):
    src = CHILDREN_LOOP.format(inner="    ", params="model.fc.parameters()").replace(
        "for child in model.children():\n", f"for child in model.children():\n    {test}\n")
    assert _found(src, "FZ202") == []


def test_every_child_s_parameters_are_every_parameter():
    torchvision = pytest.importorskip("torchvision")
    model = torchvision.models.resnet18()
    for child in model.children():
        for param in child.parameters():
            param.requires_grad = False
    assert not any(p.requires_grad for p in model.parameters())


# FZ301: a helper whose flag parameter sets requires_grad -------------------------------------------

FLAG_HELPER = """
import torch
import torch.nn as nn

def set_trainable(module, requires_grad=False):
    for param in module.parameters():
        param.requires_grad = requires_grad

model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
{calls}
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
"""


@pytest.mark.parametrize("calls", ["set_trainable(model[0], requires_grad=False)", "set_trainable(model[0], False)",
                                   "set_trainable(model[0])"])
def test_fz301_follows_a_flag_helper_called_with_false(calls):
    found = _found(FLAG_HELPER.format(calls=calls), "FZ301")
    assert len(found) == 1 and "`set_trainable(...)` freezes parameters of `model[0]`" in found[0].message, found


@pytest.mark.parametrize("calls", [
    "set_trainable(model[0], requires_grad=True)",
    "set_trainable(model[0], requires_grad=flag)",  # not known
    "set_trainable(model)\nset_trainable(model, requires_grad=True)",  # frozen, then trained again
    "set_trainable(model[0], **options)",
])
def test_fz301_is_silent_where_the_flag_helper_does_not_freeze(calls):
    assert _found(FLAG_HELPER.format(calls=calls), "FZ301") == []


def test_the_flag_helper_freezes_as_a_literal_false_would():
    nn = pytest.importorskip("torch.nn")
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))

    def set_trainable(module, requires_grad=False):
        for param in module.parameters():
            param.requires_grad = requires_grad

    set_trainable(model[0])
    assert [p.requires_grad for p in model.parameters()] == [False, False, True, True]


# FZ201: a BatchNorm freeze made in a builder, or on a local, and held by the Module ------------------

SET_BN_EVAL = """
import torch.nn as nn, pytorch_lightning as pl, torchvision

def set_bn_eval(m):
    if isinstance(m, nn.BatchNorm2d):
        m.eval()

def get_model():
    model = torchvision.models.resnet18()
    model.apply(set_bn_eval)
    {after}
    return model

class Det({base}):
    def __init__(self):
        super().__init__()
        {init}

    def make(self):
        model = torchvision.models.resnet18()
        model.apply(set_bn_eval)
        {after}
        return model
{train}
    def validation_epoch_end(self, outs):
        pass
"""
REFREEZE = """
    def train(self, mode=True):
        super().train(mode)
        self.model.apply(set_bn_eval)
        return self
"""
INITS = ["self.model = get_model()", "self.model = self.make()",
         "model = torchvision.models.resnet18()\n        model.apply(set_bn_eval)\n        self.model = model"]


@pytest.mark.parametrize("base", ["pl.LightningModule", "nn.Module"])
@pytest.mark.parametrize("init", INITS)
def test_fz201_follows_a_freeze_the_module_s_init_stores(base, init):
    found = _found(SET_BN_EVAL.format(base=base, init=init, after="pass", train=""), "FZ201")
    assert len(found) == 1, found
    assert "Det freezes BatchNorm with .eval() in __init__" in found[0].message
    if "get_model" in init:
        assert "(`get_model()` returns `self.model` with it frozen)" in found[0].message


@pytest.mark.parametrize("init", INITS)
@pytest.mark.parametrize("after, train", [("model.train()", ""), ("pass", REFREEZE)])
def test_fz201_is_silent_where_the_freeze_is_undone_or_re_applied(init, after, train):
    src = SET_BN_EVAL.format(base="pl.LightningModule", init=init, after=after, train=train)
    if "make" not in init and "get_model" not in init and after != "pass":
        src = src.replace("model.apply(set_bn_eval)\n        self.model", "model.apply(set_bn_eval)\n        "
                          "model.train()\n        self.model")
    assert _found(src, "FZ201") == []


def test_fz201_is_silent_where_a_new_model_is_stored():
    init = "model = torchvision.models.resnet18()\n        model.apply(set_bn_eval)\n        " \
        "model = torchvision.models.resnet18()\n        self.model = model"
    assert _found(SET_BN_EVAL.format(base="nn.Module", init=init, after="pass", train=""), "FZ201") == []


def test_train_undoes_a_freeze_a_builder_made():
    torchvision = pytest.importorskip("torchvision")
    nn = pytest.importorskip("torch.nn")

    def set_bn_eval(m):
        if isinstance(m, nn.BatchNorm2d):
            m.eval()

    class Det(nn.Module):
        def __init__(self):
            super().__init__()
            model = torchvision.models.resnet18()
            model.apply(set_bn_eval)
            self.model = model

    det = Det()
    assert not det.model.bn1.training
    det.train()
    assert det.model.bn1.training


# FZ301: what the message says is frozen, as it stands at the optimizer ------------------------------

def test_fz301_says_part_of_the_model_where_part_was_unfrozen_again():
    src = """
    import torch, torch.nn as nn

    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    for param in model.parameters():
        param.requires_grad = False
    for param in model[-1].parameters():
        param.requires_grad = True
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5, weight_decay=0.1)
    """
    [d] = _found(src, "FZ301")
    assert "while part of `model` is frozen (all but `model[-1]`, unfrozen again) in this scope" in d.message


def test_fz301_says_part_of_the_model_where_a_layer_was_replaced():
    [d] = _found(CHILDREN_LOOP.format(inner="", params="model.parameters()"), "FZ301")
    assert "while part of `model` is frozen (all but `model.fc`, replaced since) in this scope" in d.message


@pytest.mark.parametrize("head", ["", "model.head = nn.Linear(4, 2)\n"])
def test_fz301_says_part_of_the_model_where_a_name_test_picks_what_is_frozen(head):
    # a freeze by name is never of the whole model, nor of "all but" a head replaced after it
    src = (
        "import torch, torch.nn as nn\n"
        "model = nn.Sequential()\n"
        "model.add_module('blocks', nn.Linear(4, 4))\n"
        "model.add_module('head', nn.Linear(4, 2))\n"
        "for n, p in model.named_parameters():\n"
        "    if n.startswith(('blocks', 'norm')):\n"
        "        p.requires_grad = False\n"
        f"{head}"
        "optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)\n"
    )
    [d] = _found(src, "FZ301")
    assert "while part of `model` is frozen (the parameters picked by `n.startswith(('blocks', 'norm'))`) in this " \
           "scope" in d.message, d.message


def test_fz301_shows_a_name_test_written_over_lines_on_one_line():
    # avalanche's l2p: `n.startswith(` then the tuple on the next line
    src = (
        "import torch, torch.nn as nn\n"
        "model = nn.Sequential()\n"
        "model.add_module('blocks', nn.Linear(4, 4))\n"
        "for n, p in model.named_parameters():\n"
        "    if n.startswith(\n"
        "        tuple(['blocks', 'norm'])\n"
        "    ):\n"
        "        p.requires_grad = False\n"
        "optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)\n"
    )
    [d] = _found(src, "FZ301")
    assert "(the parameters picked by `n.startswith(tuple(['blocks', 'norm']))`) in this scope" in d.message, d.message


@pytest.mark.parametrize("wrap, said", [
    ("torch.nn.DataParallel(model)", "`model.module.module.backbone` is frozen (named `model.module.backbone` at "
                                     "line 10, before line 11 wrapped `model` again)"),
    ("Wrapper(model)", "part of `model` is frozen (named `model.module.backbone` at line 10, before line 11 "
                       "wrapped `model` again)"),
])
def test_fz301_names_a_path_as_it_stands_after_a_rewrap(wrap, said):
    src = f"""
    import torch, torch.nn as nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone, self.head = nn.Linear(4, 4), nn.Linear(4, 2)

    model = torch.nn.DataParallel(Net())
    model.module.backbone.requires_grad_(False)
    model = {wrap}
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, weight_decay=1e-4)
    """
    [d] = _found(src, "FZ301")
    assert f"while {said} in this scope" in d.message, d.message


def test_a_second_data_parallel_puts_one_more_module_in_the_path():
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone, self.head = nn.Linear(4, 4), nn.Linear(4, 2)

    model = nn.DataParallel(Net())
    model.module.backbone.requires_grad_(False)
    model = nn.DataParallel(model)
    assert not model.module.module.backbone.weight.requires_grad
    assert not hasattr(model.module, "backbone")


def test_fz301_says_the_whole_model_where_a_replaced_layer_is_frozen_again():
    src = """
    import torch, torch.nn as nn, torchvision

    model = torchvision.models.resnet18()
    model.requires_grad_(False)
    model.fc = nn.Linear(512, 2)
    model.fc.requires_grad_(False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    """
    [d] = _found(src, "FZ301")
    assert "while `model` is frozen in this scope" in d.message
