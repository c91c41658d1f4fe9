"""FZ301: a LightningModule's `__init__` calls a `self.` helper that freezes a part only under an
`if` of its own, and configure_optimizers adds that part's group only under another (sync-dreamer's
finetune_projection): the conditions may exclude each other, as where the freeze is written inline.
A helper that freezes on every run, or an optimizer over every parameter, stays reported. A helper of
the file that freezes only under `if freeze:` on a parameter of its own freezes nothing where the call
leaves that flag False."""

from __future__ import annotations

import json
import textwrap

import pytest

from freezelint import codes
from freezelint.check.engine import check_source, check_text

from conftest import write

ALL_STATIC = frozenset(c for c, i in codes.CATALOGUE.items() if i.static)

MODEL = """\
import pytorch_lightning as pl
import torch
import torch.nn as nn


class Model({base}):
    def __init__(self, finetune_projection=True):
        super().__init__()
        self.finetune_projection = finetune_projection
        self.body = nn.Linear(4, 4)
        self._init_projection()

    def _init_projection(self):
        self.proj = nn.Linear(4, 4)
{freeze}

    def configure_optimizers(self):
{optimizer}
"""
FLAGGED = """\
        if not self.finetune_projection:
            self.proj.requires_grad_(False)"""
ALWAYS = "        self.proj.requires_grad_(False)"
GROUPS = """\
        groups = [{"params": self.body.parameters()}]
        if self.finetune_projection:
            groups.append({"params": self.proj.parameters()})
        return torch.optim.AdamW(groups, lr=1e-4)"""
EVERY = "        return torch.optim.AdamW(self.parameters(), lr=1e-4)"


def _codes(base: str, freeze: str, optimizer: str) -> list[str]:
    source = MODEL.format(base=base, freeze=freeze, optimizer=optimizer)
    compile(source, "model.py", "exec")
    return [d.code for d in check_source(source, "model.py", select=["FZ301"])]


@pytest.mark.parametrize("base", ["pl.LightningModule", "nn.Module"])
def test_exclusive_flags_silent(base):
    assert _codes(base, FLAGGED, GROUPS) == []


@pytest.mark.parametrize("freeze, optimizer", [(ALWAYS, GROUPS), (FLAGGED, EVERY)])
def test_not_exclusive_reported(freeze, optimizer):
    assert _codes("pl.LightningModule", freeze, optimizer) == ["FZ301"]


BUILD = """
import torch
import torchvision


def build(freeze=False):
    model = torchvision.models.resnet18()
    if freeze:
        model.requires_grad_(False)
    return model


def freeze_encoder(model, freeze=False):
    if freeze:
        model.encoder.requires_grad_(False)


def main(cfg):
    {body}
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
"""


@pytest.mark.parametrize("body", [
    "model = build()",  # the flag left at its False default: nothing frozen
    "model = build(freeze=False)",
    "model = build()\n    freeze_encoder(model)",
    "model = build()\n    freeze_encoder(model, False)",
])
def test_a_helper_told_not_to_freeze_is_silent(body):
    src = textwrap.dedent(BUILD.format(body=body))
    assert [d for d in check_text(src, "ex.py", ALL_STATIC, force=True).diagnostics if d.code == "FZ301"] == []


@pytest.mark.parametrize("body", [
    "model = build(freeze=True)",
    "model = build(cfg.freeze)",  # a setting: may be True
    "model = build()\n    freeze_encoder(model, freeze=True)",
])
def test_a_helper_that_may_freeze_is_reported(body):
    src = textwrap.dedent(BUILD.format(body=body))
    assert len([d for d in check_text(src, "ex.py", ALL_STATIC, force=True).diagnostics if d.code == "FZ301"]) == 1


MODELS = """\
import torchvision


def build(freeze=False):
    model = torchvision.models.resnet18()
    if freeze:
        model.requires_grad_(False)
    return model


def freeze_encoder(model, freeze=False):
    if freeze:
        model.encoder.requires_grad_(False)
"""

TRAIN = """\
import torch
from pkg.models import build, freeze_encoder


def plain():
    model = build()
    return torch.optim.AdamW(model.parameters(), lr=1e-3)


def plain_arg(model):
    freeze_encoder(model, freeze=False)
    return torch.optim.AdamW(model.parameters(), lr=1e-3)


def frozen():
    model = build(freeze=True)
    return torch.optim.AdamW(model.parameters(), lr=1e-3)


def frozen_arg(model, cfg):
    freeze_encoder(model, cfg.freeze)
    return torch.optim.AdamW(model.parameters(), lr=1e-3)
"""


def test_a_helper_of_another_file_told_not_to_freeze_is_silent(cli, tmp_path):
    root = tmp_path / "p"
    write(root / "pyproject.toml", "")
    write(root / "pkg" / "__init__.py", "")
    write(root / "pkg" / "models.py", MODELS)
    write(root / "train.py", TRAIN)

    def rows(*args: str) -> list[int]:
        r = cli(root, "check", "--format", "json", "--select", "FZ301", *args, ".")
        assert r.code in (0, 1), r.err
        return sorted(d["location"]["row"] for d in json.loads(r.out))

    assert rows() == [17, 22]  # the calls that may freeze, not those that leave the flag off
    # the helpers now freeze by default: the cached result of train.py is stale
    write(root / "pkg" / "models.py", MODELS.replace("freeze=False):", "freeze=True):"))
    assert rows() == [7, 17, 22]
    assert rows("--no-cache") == [7, 17, 22]
