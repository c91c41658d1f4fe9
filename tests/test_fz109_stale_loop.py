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
