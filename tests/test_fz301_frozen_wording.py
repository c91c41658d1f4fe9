"""FZ301's words for what is frozen at the optimizer: a group over a part of a model frozen whole names
the parts unfrozen or replaced since, never "all of `model` is" while some of it trains; a wrap under an
`if` keeps the path as the freeze named it (the wrapped path beside it); torch.compile keeps the path."""

from __future__ import annotations

import textwrap

import pytest

from freezelint import codes
from freezelint.check.engine import check_text

ALL_STATIC = frozenset(c for c, i in codes.CATALOGUE.items() if i.static)


def _fz301(src: str) -> list[str]:
    return [d.message for d in check_text(textwrap.dedent(src), "ex.py", ALL_STATIC, force=True).diagnostics
            if d.code == "FZ301"]


GROUPS = """
import torch
import torchvision

model = torchvision.models.resnet50(weights=None)
for p in model.parameters():
    p.requires_grad = False
{between}
optimizer = torch.optim.SGD([{{"params": model.layer3.parameters()}}, {{"params": model.fc.parameters()}}],
                            lr=0.1, momentum=0.9)
"""


@pytest.mark.parametrize("between, said", [
    ("", "`model.layer3` is frozen (all of `model` is) in this scope"),
    ("model.fc = torch.nn.Linear(2048, 10)",
     "`model.layer3` is frozen (all of `model` is but `model.fc`, replaced since) in this scope"),
    ("model.fc = torch.nn.Linear(2048, 10)\nmodel.layer4.requires_grad_(True)",
     "`model.layer3` is frozen (all of `model` is but `model.fc`, replaced since, and `model.layer4`, "
     "unfrozen again) in this scope"),
])
def test_a_group_over_a_part_names_what_trains_again(between, said):
    [message] = _fz301(GROUPS.format(between=between))
    assert said in message, message


def test_the_whole_model_with_parts_unfrozen_and_replaced_pairs_each_with_its_reason():
    [message] = _fz301("""
    import torch
    import torchvision

    model = torchvision.models.resnet50(weights=None)
    model.requires_grad_(False)
    model.fc = torch.nn.Linear(2048, 10)
    model.layer4.requires_grad_(True)
    optimizer = torch.optim.Adam(model.parameters(), weight_decay=1e-4)
    """)
    assert "while part of `model` is frozen (all but `model.fc`, replaced since, and `model.layer4`, unfrozen " \
           "again) in this scope" in message, message


WRAP = """
import torch
import torchvision

model = torchvision.models.resnet50(weights=None)
model.layer1.requires_grad_(False)
{wrap}
optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, weight_decay=1e-4)
"""


@pytest.mark.parametrize("wrap, said", [
    ("if torch.cuda.device_count() > 1:\n    model = torch.nn.DataParallel(model)",
     "while `model.layer1` is frozen (`model.module.layer1` where line 8 wraps `model` again) in this scope"),
    ("if torch.cuda.device_count() > 1:\n    model = Wrapper(model)",
     "while `model.layer1` is frozen (line 8 may wrap `model` again) in this scope"),
    ("model = torch.compile(model)", "while `model.layer1` is frozen in this scope"),  # the path still leads there
    ("model = torch.nn.DataParallel(model)",
     "while `model.module.layer1` is frozen (named `model.layer1` at line 6, before line 7 wrapped `model` again)"),
])
def test_a_wrap_names_the_path_as_it_stands(wrap, said):
    [message] = _fz301(WRAP.format(wrap=wrap))
    assert said in message, message


def test_torch_compile_hands_on_its_model_attributes():
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential()
    model.add_module("layer1", torch.nn.Linear(2, 2))
    assert torch.compile(model).layer1 is model.layer1


def test_a_part_replaced_then_unfrozen_is_named_once():
    [message] = _fz301("""
    import torch
    import torchvision

    model = torchvision.models.resnet50(weights=None)
    model.requires_grad_(False)
    model.fc = torch.nn.Linear(2048, 10)
    model.fc.requires_grad_(True)
    optimizer = torch.optim.Adam(model.parameters(), weight_decay=1e-4)
    """)
    assert "while part of `model` is frozen (all but `model.fc`, replaced since) in this scope" in message, message


# a freeze or a replacement under an `if` the optimizer is not under happens on some paths only: said so
BRANCHED = """
import torch
import torchvision


def build(args):
    model = torchvision.models.resnet50(weights="DEFAULT")
    {freeze}
    {replace}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    return optimizer
"""
FREEZE = "for p in model.parameters():\n        p.requires_grad = False"
REPLACE = "model.fc = torch.nn.Linear(2048, 10)"


def _branched(freeze: str, replace: str) -> list[str]:
    return _fz301(BRANCHED.format(freeze=freeze, replace=replace))


@pytest.mark.parametrize("freeze, replace, said", [
    ("if args.freeze:\n        " + FREEZE.replace("\n", "\n    "), REPLACE,
     "part of `model` is frozen (all but `model.fc`, replaced since) in this scope (when `args.freeze` is true):"),
    ("if not args.finetune:\n        " + FREEZE.replace("\n", "\n    "), REPLACE,
     "in this scope (when `args.finetune` is false):"),
    (FREEZE, "if args.new_head:\n        " + REPLACE,
     "part of `model` is frozen (all but `model.fc`, replaced since when `args.new_head` is true) in this scope:"),
    ("if args.freeze == 'backbone' and not args.resume and args.epochs > 10:\n        model.layer1.requires_grad_(False)",
     "", "`model.layer1` is frozen in this scope (on some paths only):"),
])
def test_a_freeze_or_replacement_under_an_if_is_said_to_happen_on_some_paths(freeze, replace, said):
    (message,) = _branched(freeze, replace)
    assert said in message, message


@pytest.mark.parametrize("freeze, replace, said", [
    (FREEZE, REPLACE, "part of `model` is frozen (all but `model.fc`, replaced since) in this scope:"),
    (FREEZE, "", "`model` is frozen in this scope:"),
])
def test_a_freeze_on_every_path_says_no_condition(freeze, replace, said):
    (message,) = _branched(freeze, replace)
    assert said in message and " when " not in message and "some paths" not in message, message


def test_an_optimizer_under_the_same_if_as_the_freeze_says_no_condition():
    src = BRANCHED.format(freeze="pass", replace="pass").replace(
        "    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)\n",
        "    if args.freeze:\n        model.requires_grad_(False)\n"
        "        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)\n"
        "    else:\n        optimizer = None\n")
    (message,) = _fz301(src)
    assert "`model` is frozen in this scope:" in message, message


def test_an_if_that_picks_parameters_in_the_freeze_loop_is_no_path_condition():
    # avalanche's l2p: the name test picks what each pass freezes, said as "the parameters picked by"
    picked = ("for n, p in model.named_parameters():\n        if n.startswith(('layer1', 'layer2')):\n"
              "            p.requires_grad = False")
    (message,) = _branched(picked, REPLACE)
    assert "(the parameters picked by `n.startswith(('layer1', 'layer2'))`) in this scope:" in message, message
    # espnet's vc: the same loop under a setting's `if`: that one is a path condition
    (message,) = _branched("if args.freeze_mods:\n        " + picked.replace("\n", "\n    "), REPLACE)
    assert "in this scope (when `args.freeze_mods` is true):" in message, message


@pytest.mark.parametrize("loop, said", [
    # the flag set from a name test: frozen where it is false, not where it picks
    ("for name, p in model.named_parameters():\n    p.requires_grad = name.startswith('fc')\n",
     "(the parameters for which `name.startswith('fc')` is false)"),
    ("for name, p in model.named_parameters():\n    if 'fc' in name:\n        p.requires_grad = True\n"
     "    else:\n        p.requires_grad = False\n",
     "(the parameters for which `'fc' in name` is false)"),
    # skipped by `continue`: the rest of the pass runs where the test failed
    ("for name, p in model.named_parameters():\n    if 'fc' in name:\n        continue\n"
     "    p.requires_grad = False\n",
     "(the parameters for which `'fc' in name` is false)"),
    ("for name, p in model.named_parameters():\n    if 'fc' not in name:\n        p.requires_grad = False\n",
     "(the parameters picked by `'fc' not in name`)"),
])
def test_the_parameters_a_name_test_freezes_are_said_as_the_test_picks_them(loop, said):
    src = ("import torch\nimport torchvision\n\nmodel = torchvision.models.resnet18(weights=None)\n" + loop
           + "opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)\n")
    (message,) = _fz301(src)
    assert f"while part of `model` is frozen {said} in this scope" in message, message


UNFROZEN_LATER = """\
import torch
import torchvision

model = torchvision.models.resnet18(weights=None)
for name, p in model.named_parameters():
    p.requires_grad = name.startswith("fc")
opt = torch.optim.SGD({params}, lr=0.01, momentum=0.9)
stages = [model.layer4, model.layer3]
for epoch in range(3):
    {unfreeze}
"""


def _codes(src: str) -> list[str]:
    return [d.code for d in check_text(src, "ex.py", ALL_STATIC, force=True).diagnostics]


@pytest.mark.parametrize("unfreeze", [
    "for p in stages[epoch].parameters():\n        p.requires_grad = True",
    "stages[epoch].requires_grad_(True)",
    "for p in list(model.children())[-3 - epoch].parameters():\n        p.requires_grad = True",
    "getattr(model, f'layer{4 - epoch}').requires_grad_(True)",
])
def test_a_part_picked_at_run_time_and_unfrozen_after_the_optimizer_is_gradual_unfreezing(unfreeze):
    # FZ301 stays silent (the filter it offers would leave the part out), and where the optimizer was
    # built from a filter, FZ303 says the unfrozen part is never updated
    src = UNFROZEN_LATER.format(params="model.parameters()", unfreeze=unfreeze)
    assert _codes(src) == []
    src = UNFROZEN_LATER.format(params="[p for p in model.parameters() if p.requires_grad]", unfreeze=unfreeze)
    assert _codes(src) == ["FZ303"]


@pytest.mark.parametrize("unfreeze", [
    "x = torch.randn(3)\n    feats = [x]\n    feats[epoch].requires_grad_(True)",  # tensors, not parts
    "for p in model.layer4.parameters():\n        p.requires_grad = False",  # not an unfreeze
])
def test_an_unfreeze_of_no_part_of_the_model_keeps_fz301(unfreeze):
    src = UNFROZEN_LATER.format(params="model.parameters()", unfreeze=unfreeze)
    assert "FZ301" in _codes(src)
