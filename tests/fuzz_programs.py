"""Hypothesis strategies for test_robustness's generated programs.

Imported by the tests that draw from them, not at collection: hypothesis takes about a second to
import, in every xdist worker that collects test_robustness.py.
"""

from __future__ import annotations

import importlib
from typing import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

NAMES = st.sampled_from(["m", "model", "p", "self", "layer", "bn", "head", "v", "x"])
ATTRS = st.sampled_from(["requires_grad_", "requires_grad", "require_grad", "requiresGrad", "requires_grads",
                         "training", "trainable", "data", "weight", "fc", "backbone"])
VALUES = st.sampled_from(["False", "True", "0", "flag", "not frozen", "(a, b)", "x if y else z",
                          "lambda: 1", "p.requires_grad", "[1]"])
HEADERS = ["import torch\nimport torch.nn as nn\n", "from torch import nn\nimport torchvision\n",
           "import torchvision.models as models\nfrom torch.nn import BatchNorm2d as BN\n", ""]
LOOPS = ["for m in model.modules():", "for n, p in model.named_parameters():",
         "for k, v in model.state_dict().items():", "for p in filter(lambda q: q.requires_grad, ps):",
         "if isinstance(m, nn.BatchNorm2d):", "with torch.no_grad():", "while True:", "try:"]


@st.composite
def target(draw):
    chain = draw(st.lists(ATTRS, min_size=0, max_size=2))
    return ".".join([draw(NAMES), *chain, draw(ATTRS)])


@st.composite
def statement(draw):
    t, v = draw(target()), draw(VALUES)
    obj, _, attr = t.rpartition(".")
    comment = draw(st.sampled_from(["", "  # noqa", "  # noqa: FZ101", "  # freezelint: noqa",
                                    "  # noqa: FZ102,FZ999", "  # note"]))
    form = draw(st.sampled_from(["assign", "ann", "aug", "chain", "setattr", "compare", "call", "lambda",
                                 "comp", "multi"]))
    body = {
        "assign": f"{t} = {v}",
        "ann": f"{t}: bool = {v}",
        "aug": f"{t} |= {v}",
        "chain": f"{t} = {draw(target())} = {v}",
        "setattr": f"setattr({obj}, {attr!r}, {v})",
        "compare": f"{t} == ({v})",
        "call": f"{obj}.requires_grad_({v})",
        "lambda": f"model.apply(lambda {draw(NAMES)}: setattr({obj}, {attr!r}, {v}))",
        "comp": f"[setattr({obj}, {attr!r}, {v}) for {draw(NAMES)} in model.parameters()]",
        "multi": f"setattr(\n    {obj},\n    {attr!r},\n    {v},\n)",
    }[form]
    return body + comment


@st.composite
def program(draw):
    lines = [draw(st.sampled_from(HEADERS))]
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["plain", "loop", "class", "def"]))
        stmt = draw(statement())
        indented = "\n".join("    " + s for s in stmt.splitlines())
        if kind == "plain":
            lines.append(stmt + "\n")
        elif kind == "loop":
            loop = draw(st.sampled_from(LOOPS))
            tail = "\nexcept Exception:\n    pass" if loop == "try:" else ""
            lines.append(f"{loop}\n{indented}{tail}\n")
        elif kind == "class":
            base = draw(st.sampled_from(["nn.Module", "object", "models.ResNet", ""]))
            lines.append(f"class C({base}):\n    def f(self):\n" + "\n".join("    " + s for s in indented.splitlines())
                         + "\n")
        else:
            lines.append(f"def g(model, {draw(NAMES)}=None):\n{indented}\n    return model\ng(torchvision.models.resnet18())\n")
    text = "".join(lines)
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    return text


def run_programs(check: Callable[[str], None], examples: int, full: bool) -> None:
    """`check` on `examples` generated freezing programs (derandomized unless `full`)."""
    given(program())(settings(max_examples=examples, deadline=None, derandomize=not full,
                              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])(check))()


def run_grammar(check: Callable[[str, str], None], examples: int, full: bool) -> None:
    """`check(code, extra)` on programs hypothesmith draws from Python's grammar (imported at the
    first draw), each with a generated freezing statement to append."""
    drawn = given(st.deferred(lambda: importlib.import_module("hypothesmith").from_grammar()), statement())
    drawn(settings(max_examples=examples, deadline=None, derandomize=not full,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                          HealthCheck.filter_too_much])(check))()
