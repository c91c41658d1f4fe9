"""What a summary costs: no second code generation of the text it parsed, and each function's syntax read
once however many questions reach it (trial 39: a file checked in its project paid for the summaries
of the large files its helpers live in)."""

from __future__ import annotations

import json

import libcst as cst

from freezelint.check import kinds, summaries
from freezelint.check.facts import Facts


def test_a_summary_generates_no_code_for_the_text_it_parsed(monkeypatch):
    """`module.code` regenerates the whole file (seconds for a large one); the summary has the
    text it parsed, and the same summary comes out."""
    text = "import torch.nn as nn\n\n\ndef build():\n    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))\n"
    expected = summaries.summarise_text(text)
    generated = []
    code = cst.Module.code

    monkeypatch.setattr(cst.Module, "code", property(lambda self: generated.append(1) or code.fget(self)))
    assert summaries.summarise_text(text) == expected
    assert generated == []
    assert Facts.of(cst.parse_module(text)).code == text  # without the text: generated, once
    assert len(generated) == 1


def test_kinds_reads_the_arguments_of_a_parameter_once(monkeypatch):
    """A parameter's kind is what every same-file call passes; under a recursive helper the
    question is asked again for every path that reaches it (an answer cut short by the cycle is
    not kept): the calls and the isinstance guard are read once per function, and the summary
    is the same."""
    text = """
import torch.nn as nn


def visit(module, depth):
    if depth:
        for child in module.children():
            visit(child, depth - 1)
    freeze(module)


def freeze(module):
    for p in module.parameters():
        p.requires_grad = False


def run(model):
    visit(model, 3)
    visit(model.encoder, 2)
    freeze(model.head)
"""
    expected = json.dumps(summaries.summarise_text(text), sort_keys=True)
    guards = []
    guard = kinds._isinstance_guard

    def counted(func, name, scope):
        guards.append((id(func), name))
        return guard(func, name, scope)

    monkeypatch.setattr(kinds, "_isinstance_guard", counted)
    assert json.dumps(summaries.summarise_text(text), sort_keys=True) == expected
    assert guards and len(guards) == len(set(guards))


def test_a_quiet_helper_body_is_walked_once_for_all_its_parameters(monkeypatch):
    """modes.quiet asks of each parameter whether the function leaves it alone; what the body
    calls and binds is the same for each: walked once (a 5-parameter helper of a 19,000-line file
    was walked 5 times). Each parameter still gets its own answer."""
    from freezelint.check import modes

    text = """
import logging

logger = logging.getLogger(__name__)


def report(model, step, tag, out):
    logger.info("%s %s", tag, step)
    print(sum(p.numel() for p in model.parameters()), file=out)
"""
    expected = summaries.summarise_text(text)
    bodies = []
    walk = modes.walk

    def counted(node):
        if isinstance(node, cst.IndentedBlock):
            bodies.append(id(node))
        return walk(node)

    monkeypatch.setattr(modes, "walk", counted)
    assert summaries.summarise_text(text) == expected
    assert expected["functions"]["report"]["quiet"] == [0, 1, 2, 3]
    assert bodies and len(bodies) == len(set(bodies))


def test_a_helper_s_if_tests_are_read_once_however_many_calls_ask_for_its_flags(monkeypatch):
    """Each call of a helper asks under which `if flag:` of its parameters its freeze sits (a call
    that sets the flag off freezes nothing): the helper's body is walked for its tests once, not
    once per call, argument and kind (a 300 kB generated file paid a walk of a body per call)."""
    from freezelint.check import events

    calls = "".join(f"    prepare(model.block{i}, freeze={i % 2 == 0})\n" for i in range(8))
    text = f"""
def prepare(model, freeze=False):
    if freeze:
        for p in model.parameters():
            p.requires_grad = False
    return model


def build(model):
{calls}    return model
"""
    expected = summaries.summarise_text(text)
    bodies = []
    walk = events.walk

    def counted(node):
        if isinstance(node, cst.IndentedBlock):
            bodies.append(id(node))
        return walk(node)

    monkeypatch.setattr(events, "walk", counted)
    assert summaries.summarise_text(text) == expected
    assert expected["functions"]["prepare"]["flags"] == {"0": {"freeze": [[[1, "freeze", True]]]}}
    assert bodies and len(bodies) == len(set(bodies))
