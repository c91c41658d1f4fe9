"""FZ201 where the freeze sits in an outer loop and the train() that undoes it in an inner one:
a validation every few batches that ends in `model.train()` leaves BatchNorm training for the
rest of the epoch, until the epoch loop's head re-freezes (RAFT's train.py
re-freezes right after its train(), correctly silent)."""

from __future__ import annotations

import textwrap

import pytest

from freezelint import codes
from freezelint.check.engine import check_text

ALL_STATIC = frozenset(c for c, i in codes.CATALOGUE.items() if i.static)

EPOCHS = """
import torch
import torch.nn as nn
import torchvision


def set_bn_eval(m):
    if isinstance(m, nn.BatchNorm2d):
        m.eval()


@torch.no_grad()
def validate(model, loader):
    model.eval()
    for x, y in loader:
        model(x)
    model.train()


model = torchvision.models.resnet18(weights=None)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
for epoch in range(2):
    model.train()
    model.apply(set_bn_eval)
    for i, (x, y) in enumerate(loader):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        if i % 100 == 0:
            {validation}
            {refreeze}
"""
INLINE = "model.eval()\n            model(x)\n            model.train()"


def _fz201(src: str) -> list[int]:
    found = check_text(textwrap.dedent(src), "ex.py", ALL_STATIC, force=True).diagnostics
    return [d.row for d in found if d.code == "FZ201"]


@pytest.mark.parametrize("validation,shown", [(INLINE, "model.train()"), ("validate(model, val_loader)", None)])
def test_a_train_in_the_batch_loop_undoes_the_freeze_of_the_epoch_loop(validation, shown):
    src = textwrap.dedent(EPOCHS.format(validation=validation, refreeze="pass"))
    at = max(i for i, line in enumerate(src.splitlines(), 1) if line.strip() == (shown or validation))
    assert _fz201(src) == [at]


@pytest.mark.parametrize("validation", [INLINE, "validate(model, val_loader)"])
@pytest.mark.parametrize("refreeze", ["model.apply(set_bn_eval)", "model.apply(set_bn_eval)\n            pass"])
def test_re_frozen_right_after_it_is_silent(validation, refreeze):
    assert _fz201(EPOCHS.format(validation=validation, refreeze=refreeze)) == []


def test_without_the_freeze_nothing_is_undone():
    src = EPOCHS.format(validation=INLINE, refreeze="pass").replace("    model.apply(set_bn_eval)\n", "")
    assert _fz201(src) == []


_CALLEE_LOOP = """
import torch


def freeze_batch_norm(model):
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eval()


def evaluate(model, loader):
    model.eval()
    with torch.no_grad():
        for x, _ in loader:
            model(x)


def run(model, optimizer, train_loader, val_loader):
    for step, (x, y) in enumerate(train_loader, start=1):
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
        if step % 1000 == 0:
            evaluate(model, val_loader)
            model.train()
            REFREEZE


def main(model, train_loader, val_loader):
    optimizer = torch.optim.Adam(model.parameters(), lr=4e-4)
    model.train()
    freeze_batch_norm(model)
    run(model, optimizer, train_loader, val_loader)
"""


@pytest.mark.parametrize("refreeze, rows", [
    # torchvision's depth/stereo reference without its re-freeze: the training loop lives in run(), whose
    # validation ends in model.train(), and the next iteration trains with the statistics moving
    ("pass", [33]),
    ("freeze_batch_norm(model)", []),  # the reference as written: re-frozen after each validation
])
def test_a_train_at_the_end_of_a_callees_training_loop_undoes_the_callers_freeze(refreeze, rows):
    assert _fz201(_CALLEE_LOOP.replace("REFREEZE", refreeze)) == rows
