"""FZ301 over param groups of a model frozen whole: a statement between the freeze and the optimizer
that only reads the model (prints, logs, counts or summarises it, wraps it in torch.compile) leaves
every group frozen and keeps the finding; one that may unfreeze or replace part of it keeps it silent."""

from __future__ import annotations

import textwrap

import pytest
import torch
import torchvision

from freezelint import codes
from freezelint.check.engine import check_text

ALL_STATIC = frozenset(c for c, i in codes.CATALOGUE.items() if i.static)

GROUPS = """
import logging

import torch
import torchvision
from torchinfo import summary

logger = logging.getLogger(__name__)
device = "cuda" if torch.cuda.is_available() else "cpu"
{defs}
model = torchvision.models.resnet50(weights=None)
head = torch.nn.Linear(1000, 10)
for p in model.parameters():
    p.requires_grad = False
{between}
optimizer = torch.optim.SGD([{{"params": model.layer4.parameters()}}, {{"params": head.parameters()}}],
                            lr=0.1, momentum=0.9)
"""


def _fz301(between: str, defs: str = "") -> list:
    src = GROUPS.format(between=textwrap.dedent(between), defs=textwrap.dedent(defs))
    return [d for d in check_text(src, "ex.py", ALL_STATIC, force=True).diagnostics if d.code == "FZ301"]


@pytest.mark.parametrize("between", [
    "print(model)",
    "logger.info(model)",
    "logging.info(f'model: {model}')",
    "print(f'{sum(p.numel() for p in model.parameters() if p.requires_grad)} trainable')",
    "model = torch.compile(model)",
    "summary(model, input_size=(1, 3, 224, 224))",
    "n = sum(p.numel() for p in model.parameters() if p.requires_grad)",
    "n = sum(p.numel() for n_, p in model.named_parameters() if p.requires_grad and 'fc' not in n_)",
    "model.to(device)",
    "model = model.to(device)",
    "model.cuda()",
    "model.eval()",
    "n = len([p for p in model.parameters() if p.requires_grad])",
    "print(len([p for p in model.parameters() if p.requires_grad]))",
    "logger.info('%d trainable tensors', len([p for p in model.parameters() if p.requires_grad]))",
    "trainable = [n for n, p in model.named_parameters() if p.requires_grad]",
    "trainable = [p for p in model.parameters() if p.requires_grad]",
])
def test_a_read_between_leaves_the_groups_frozen(between):
    found = _fz301(between)
    assert len(found) == 1, found
    assert "SGD gets every parameter of `model.layer4` while `model.layer4` is frozen (all of `model` is)" \
        in found[0].message


def test_each_read_at_once_keeps_the_finding():
    found = _fz301("print(model)\nlogger.info(model)\nmodel = torch.compile(model)\n"
                   "summary(model, input_size=(1, 3, 224, 224))\n"
                   "n = sum(p.numel() for p in model.parameters() if p.requires_grad)\nlogger.info(f'{n} trainable')\n")
    assert len(found) == 1, found


@pytest.mark.parametrize("between, defs", [
    ("unfreeze_last(model)", "def unfreeze_last(m):\n    m.layer4.requires_grad_(True)\n"),
    ("print(unfreeze_last(model))", "def unfreeze_last(m):\n    return m.layer4.requires_grad_(True)\n"),
    ("summary(model)", "def summary(m):\n    m.layer4.requires_grad_(True)\n"),  # the project's own summary
    ("model.apply(init_weights)", "def init_weights(m):\n    m.requires_grad_(True)\n"),
    ("setattr(model, 'layer4', torch.nn.Linear(2, 2))", ""),
    ("model.layer4 = torch.nn.Sequential(torch.nn.Conv2d(1024, 2048, 1))", ""),
    ("model.layer4.requires_grad_(True)", ""),
    ("logger.info(model.layer4.requires_grad_(True))", ""),
    ("model = prepare(model)", "from mylib import prepare\n"),
    ("prepare(model)", "from mylib import prepare\n"),
    ("n = count(model)", "from mylib import count\n"),
    ("n = sum(p.requires_grad_(True).numel() for p in model.parameters())", ""),
    ("model = torch.compile(wrap(model))", "from mylib import wrap\n"),
    ("n = len([p for p in model.parameters() if p.requires_grad_(True)])", ""),
    ("n = len([p for p in model.parameters() if unfreeze(p)])", "from mylib import unfreeze\n"),
    ("trainable = [p for p in model.parameters()]\nfor p in trainable:\n    p.requires_grad = True\n", ""),
])
def test_a_call_that_may_unfreeze_keeps_it_silent(between, defs):
    assert _fz301(between, defs) == []


def test_load_state_dict_keeps_requires_grad_as_the_module_had_it():
    """Why `model.load_state_dict(...)` between the two is read as leaving the groups frozen: torch keeps
    each parameter's requires_grad of the module, `assign=True` included."""
    for assign in (False, True):
        model = torchvision.models.resnet18(weights=None)
        state = {k: v.clone() for k, v in torchvision.models.resnet18(weights=None).state_dict().items()}
        model.requires_grad_(False)
        model.load_state_dict(state, assign=assign)
        assert not any(p.requires_grad for p in model.parameters())
        assert isinstance(model.layer4[0].conv1.weight, torch.nn.Parameter)
    assert len(_fz301("model.load_state_dict(torch.load('ckpt.pt'))")) == 1
