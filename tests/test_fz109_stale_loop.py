"""FZ109: a loop that sets requires_grad on an earlier loop's variable and never uses its own."""

from __future__ import annotations

import textwrap

import pytest

from freezelint.check.engine import check_source


def found(code: str) -> list[int]:
    return [d.row for d in check_source(textwrap.dedent(code).lstrip("\n"), "train.py", select=["FZ109"])]


def test_the_public_hf_script_unfreezes_one_stale_parameter_not_the_last_layer():
    # from a public "NLP classification" train_model(): the last layer is meant to train again
    code = """
    def train_model(model):
        for param in model.distilbert.parameters():
            param.requires_grad = False
        for layer in model.distilbert.transformer.layer[-1:]:
            param.requires_grad = True
        for param in model.classifier.parameters():
            param.requires_grad = True
    """
    assert found(code) == [5]


@pytest.mark.parametrize("body", [
    "if True:\n        p.requires_grad_(True)",
    "with ctx():\n        p.requires_grad = True",
    "try:\n        p.requires_grad = True\n    except Exception:\n        pass",
])
def test_fires_through_if_with_and_try_blocks(body):
    code = "for p in model.parameters():\n    p.requires_grad = False\nfor blk in model.blocks[-2:]:\n    " + body + "\n"
    assert found(code) == [5]


def test_fires_for_a_loop_variable_of_an_enclosing_loop_that_already_ended_and_in_while_bodies():
    code = """
    for n, p in model.named_parameters():
        p.requires_grad = n.startswith("head")
    while training:
        for stage in stages:
            p.requires_grad = True
    """
    assert found(code) == [5]


@pytest.mark.parametrize("code", [
    # the loop uses its own variable (the right way, and a body that only tests it)
    "for p in m.parameters():\n    p.requires_grad = False\nfor layer in m.layers:\n    for p in layer.parameters():\n"
    "        p.requires_grad = True\n",
    "for p in m.parameters():\n    p.requires_grad = False\nfor i in range(3):\n    if i == 2:\n        p.requires_grad = True\n",
    # the name bound anew since the loop
    "for p in m.parameters():\n    p.requires_grad = False\np = m.head.weight\nfor _ in range(2):\n    p.requires_grad = True\n",
    # a loop of another function: its own scope
    "def a(m):\n    for p in m.parameters():\n        p.requires_grad = False\n\n\ndef b(m):\n    for layer in m.layers:\n"
    "        p.requires_grad = True\n",
    # not a loop variable at all; an attribute chain; the loop's own variable
    "model = build()\nfor layer in layers:\n    model.requires_grad_(True)\n",
    "for p in m.parameters():\n    p.requires_grad = False\nfor layer in m.layers:\n    m.head.weight.requires_grad = True\n",
    "for p in m.parameters():\n    p.requires_grad = False\n",
])
def test_near_misses(code):
    assert found(code) == []


# pytorch_toolbelt's freeze_model: the loop picks the BatchNorm layers and sets the flag on `module`
FREEZE_OWNER = """
import torch.nn as nn


def freeze_model(module, freeze_bn=True):
    for param in module.parameters():
        param.requires_grad = False
    for m in module.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.SyncBatchNorm)):
            module.track_running_stats = not freeze_bn
    return module
"""


def test_a_loop_over_modules_that_sets_the_flag_on_its_owner_is_reported():
    found_ = check_source(FREEZE_OWNER.lstrip("\n"), "functional_fz109_owner.py", select=["FZ109"])
    assert [d.row for d in found_] == [9]
    assert found_[0].message.startswith("this sets `track_running_stats` on `module`, not on the loop's `m`")
    assert found_[0].message.endswith("set `m.track_running_stats`")


@pytest.mark.parametrize("stmt, row", [
    ("model.eval()", 4),
    ("model.train(False)", 4),
    ("model.momentum = 0", 4),
    ("model.weight.requires_grad = False", 4),
    ("model.requires_grad_(False)", 4),
    ("model.bias.requires_grad_(False)", 4),
], ids=["eval", "train_false", "momentum", "weight", "requires_grad_", "bias"])
def test_every_freeze_of_the_owner_is_reported(stmt, row):
    code = f"for name, m in model.named_modules():\n    if isinstance(m, nn.BatchNorm2d):\n        x = 1\n        {stmt}\n"
    assert found(code) == [row]


@pytest.mark.parametrize("body", [
    "m.track_running_stats = False",  # the loop's own variable
    "m.eval()\n        model.weight.requires_grad = m.affine",  # uses it
    "model.eval()\n        break",  # once, on purpose
    "model.eval()\n        return model",
    "found = True\n        model.eval()",  # a flag: the owner is meant
    "model.train()",  # not a freeze
    "model.head.weight.requires_grad = False",  # not the owner's own parameter
    "other.eval()",  # not the owner
], ids=["own_var", "uses_var", "break", "return", "flag", "train", "head", "other"])
def test_owner_near_misses(body):
    code = "def f(model, other):\n    for m in model.modules():\n        if isinstance(m, nn.BatchNorm2d):\n            " \
        + body.replace("\n        ", "\n            ") + "\n"
    assert found(code) == []


def test_the_loop_over_a_plain_list_is_not_the_owner():
    assert found("for m in layers:\n    if m:\n        layers.eval()\n") == []


class TestTheFacts:
    torch = pytest.importorskip("torch")

    def test_the_owner_flag_leaves_the_batchnorm_updating_its_statistics(self):
        torch = self.torch
        namespace: dict = {}
        exec(compile(FREEZE_OWNER, "functional_fz109_owner_facts.py", "exec"), namespace)
        net = namespace["freeze_model"](torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)))
        assert net.track_running_stats is False  # set on the container, where nothing reads it
        before = net[1].running_mean.clone()
        net.train()(torch.randn(2, 3, 8, 8))
        assert net[1].track_running_stats is True
        assert not torch.equal(before, net[1].running_mean)  # the statistics still move


def test_the_text_gate_admits_a_loop_over_modules_only_with_a_statistics_freeze_after_it():
    # most model files walk self.modules() to initialise weights: parsing each for FZ109 cost ~60% of a
    # cold check of timm and torchvision
    from freezelint.check.prefilter import Prefilter

    gate = Prefilter(frozenset({"FZ109"}))
    init = ("import torch.nn as nn\n\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
            "        for m in self.modules():\n            if isinstance(m, nn.Conv2d):\n"
            "                nn.init.kaiming_normal_(m.weight)\n")
    assert not gate.admitted(init)
    for freeze in ("module.track_running_stats = False", "module.momentum = 0.0", "module.eval()",
                   "module.train(False)"):
        text = ("def freeze(module):\n    for m in module.modules():\n"
                f"        if isinstance(m, nn.BatchNorm2d):\n            {freeze}\n")
        assert gate.admitted(text) == {"FZ109"}, freeze
        assert gate.admitted(text.replace("\n", "\r\n")) == {"FZ109"}, freeze
    # the statistics freeze before the loop is no candidate of this kind
    assert not gate.admitted("bn.eval()\nfor m in model.modules():\n    count += 1\n")
