"""FZ202 where the optimizer comes from the builder beside the model (`model, opt = build()`, the
shape `freezelint audit` factories return) or training happens in a function of the file the model
is handed to (`train(model, opt)`): the body trains with an optimizer it did not build itself."""

from __future__ import annotations

import pytest

from freezelint.check.engine import check_source

BUILD = """
import torch
from torchvision.models import resnet18


def build():
    model = resnet18(weights=None, num_classes=10)
    for p in model.parameters():
        p.requires_grad = False
    model.fc.requires_grad_(True)
    opt = torch.optim.SGD(model.fc.parameters(), lr=0.1, momentum=0.9)
    return model, opt


def train(model, opt, steps=3):
    model.train()
    for _ in range(steps):
        loss = model(torch.randn(2, 3, 32, 32)).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()


def evaluate(model):
    model.train()  # a test-time statistics pass: no optimizer steps
    with torch.no_grad():
        model(torch.randn(2, 3, 32, 32))
"""


def _codes(main: str) -> list[str]:
    source = BUILD + main
    compile(source, "x.py", "exec")
    return [d.code for d in check_source(source, select=["FZ202"])]


@pytest.mark.parametrize("main", [
    # the steps in the same body
    "\n\ndef main():\n    model, opt = build()\n    model.train()\n    for _ in range(3):\n"
    "        loss = model(torch.randn(2, 3, 32, 32)).sum()\n        opt.zero_grad()\n"
    "        loss.backward()\n        opt.step()\n",
    # handed to the file's training function
    "\n\ndef main():\n    model, opt = build()\n    train(model, opt)\n",
    "\n\nif __name__ == '__main__':\n    model, opt = build()\n    train(model, opt)\n",
])
def test_a_model_trained_with_the_optimizer_its_builder_returned_fires(main):
    assert _codes(main) == ["FZ202"]


@pytest.mark.parametrize("main", [
    # a linear probe: eval() after train(), before the steps
    "\n\ndef main():\n    model, opt = build()\n    model.train()\n    model.eval()\n    for _ in range(3):\n"
    "        loss = model(torch.randn(2, 3, 32, 32)).sum()\n        loss.backward()\n        opt.step()\n",
    # no optimizer step anywhere: the model is only run
    "\n\ndef main():\n    model, opt = build()\n    evaluate(model)\n",
    "\n\ndef main():\n    model, opt = build()\n    model.train()\n    model(torch.randn(2, 3, 32, 32))\n",
])
def test_a_model_built_with_its_optimizer_but_not_stepped_in_train_mode_is_silent(main):
    assert _codes(main) == []
