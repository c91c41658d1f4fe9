"""A function nested in the one that holds the model and called there acts on that model through the
closure (`def train_one_epoch(): model.train(); ...` inside `main`, AnHuanAo/CIFAR-10-ResNet18's
linear_probe.py): its train(), eval() and freezes happen at the call, as the same code inline does.
Not where the caller sees another `model` (its own, or a parameter of its own), nor where the nested
function binds the name itself."""

from __future__ import annotations

import textwrap

import pytest

from freezelint.check.engine import check_text

PROBE = """
import torch
import torch.nn as nn
import torchvision.models as models


def main(loader):
    model = models.resnet18(weights=None)
    model.fc = nn.Linear(model.fc.in_features, 10)
    for p in model.parameters():
        p.requires_grad = False
    model.fc.requires_grad_(True)
    optimizer = torch.optim.SGD(model.fc.parameters(), lr=0.01)

    def train_one_epoch():
        {mode}
        for x, y in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()

    def test():
        model.eval()

    for epoch in range(10):
        {call}
        test()
"""
INLINE = PROBE.replace("        {call}\n", "        model.train()\n        for x, y in loader:\n"
                       "            optimizer.zero_grad()\n            model(x).sum().backward()\n"
                       "            optimizer.step()\n")


def _codes(src: str, select=("FZ202",)) -> list[tuple[str, int]]:
    out = check_text(textwrap.dedent(src).lstrip(), "x.py", frozenset(select), force=True)
    return [(d.code, d.row) for d in out.diagnostics]


def _row(src: str, code: str) -> int:
    return next(i for i, line in enumerate(textwrap.dedent(src).lstrip().splitlines(), 1) if line.strip() == code)


def test_the_inline_loop_fires():
    src = INLINE.format(mode="pass")
    assert _codes(src) == [("FZ202", _row(src, "p.requires_grad = False"))]


@pytest.mark.parametrize("mode,call,fires", [
    ("model.train()", "train_one_epoch()", True),  # the closure's train() on main's model
    ("model.train()", "loss = train_one_epoch()", True),
    ("model.eval()", "train_one_epoch()", False),  # trained in eval mode: a linear probe
    ("model = build()\n        model.train()", "train_one_epoch()", False),  # its own `model`: another one
    ("pass", "train_one_epoch()\n        model.eval()", False),  # only eval() after the freeze: a probe
])
def test_a_nested_function_called_in_the_loop(mode, call, fires):
    src = PROBE.format(mode=mode, call=call)
    assert _codes(src) == ([("FZ202", _row(src, "p.requires_grad = False"))] if fires else [])


def test_a_caller_with_its_own_model_is_not_the_closure_s():
    """`probe()` binds a `model` of its own and keeps it in eval mode: the nested function it calls
    trains main's, not the one `probe` froze."""
    src = """
    import torch
    import torchvision.models as models


    def main(loader):
        model = models.resnet18(weights=None)

        def train_one_epoch():
            model.train()

        def probe():
            model = models.resnet18(weights=None)
            for p in model.parameters():
                p.requires_grad = False
            model.fc.requires_grad_(True)
            model.eval()
            opt = torch.optim.SGD(model.fc.parameters(), lr=0.01)
            train_one_epoch()
            for x in loader:
                model(x).sum().backward()
                opt.step()

        probe()
    """
    assert _codes(src) == []
    assert _codes(src.replace("            train_one_epoch()\n", "            model.train()\n")) != []


def test_a_closure_s_freeze_counts_for_fz301():
    """The closure freezes main's model after the optimizer was built over all of it."""
    src = """
    import torch
    import torchvision


    def main(loader):
        model = torchvision.models.resnet18(weights=None)
        optimizer = torch.optim.AdamW(model.parameters(), lr=5e-6)

        def freeze_model():
            for p in model.layer1.parameters():
                p.requires_grad = False

        freeze_model()
        for x, y in loader:
            optimizer.zero_grad()
            ((model(x) - y) ** 2).mean().backward()
            optimizer.step()
    """
    assert ("FZ301", _row(src, "optimizer = torch.optim.AdamW(model.parameters(), lr=5e-6)")) in _codes(src, ("FZ301",))
