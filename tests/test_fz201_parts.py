"""FZ201 for a freeze written as `.eval()` on a part of a model (`model.layer1.eval()` with its
parameters frozen), undone by the epoch loop's `model.train()`: reported only where the part is
proven to hold BatchNorm (the submodule table's "bn" paths of a factory model, a project class's
attribute built with a BatchNorm layer, in this file or another), never from a name."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from freezelint import codes
from freezelint.check.engine import check_text
from freezelint.check.submodule_table import TABLE
from freezelint.check.summaries import summarise_text

ALL_STATIC = frozenset(c for c, i in codes.CATALOGUE.items() if i.static)

TORCHVISION = """
import torch, torchvision

model = torchvision.models.resnet18(weights=None, num_classes=4)
model.{part}.requires_grad_(False)
model.{part}.eval()
opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
for epoch in range(2):
    model.train()
    for x, y in loader:
        model(x).sum().backward(); opt.step(); opt.zero_grad()
"""


def _fz201(src: str) -> list[tuple[int, str]]:
    found = check_text(textwrap.dedent(src), "ex.py", ALL_STATIC, force=True).diagnostics
    return [(d.row, d.message) for d in found if d.code == "FZ201"]


@pytest.fixture
def resnet18_bn(monkeypatch):
    """The table's "bn" paths of resnet18 (what scripts/gen_submodule_table.py records per factory)."""
    entry = {**TABLE["torchvision.models.resnet18"],
             "bn": ["bn1", "layer1.0.bn1", "layer1.0.bn2", "layer1.1.bn1", "layer1.1.bn2"]}
    monkeypatch.setitem(TABLE, "torchvision.models.resnet18", entry)


def test_a_factory_part_the_table_says_holds_batchnorm(resnet18_bn):
    [(row, msg)] = _fz201(TORCHVISION.format(part="layer1"))
    assert row == 9 and "`model.layer1`" in msg


def test_a_factory_part_without_batchnorm_is_silent(resnet18_bn):
    assert _fz201(TORCHVISION.format(part="fc")) == []


def test_without_the_tables_batchnorm_paths_a_part_is_not_guessed(monkeypatch):
    entry = {k: v for k, v in TABLE["torchvision.models.resnet18"].items() if k != "bn"}
    monkeypatch.setitem(TABLE, "torchvision.models.resnet18", entry)
    assert _fz201(TORCHVISION.format(part="layer1")) == []


CLASS = """
import torch
from collections import OrderedDict
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        layers = [nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8)]
        self.backbone = nn.Sequential(*layers)
        self.neck = nn.Sequential(OrderedDict([("conv", nn.Conv2d(8, 8, 1)), ("bn", nn.BatchNorm2d(8))]))
        self.fc = nn.Sequential(nn.Linear(8, 8), nn.ReLU())
        self.head = nn.Linear(8, 2)

def fit(model, loader, opt):
    {freeze}
    for epoch in range(2):
        model.train()
        {refreeze}
        for x, y in loader:
            model(x).sum().backward(); opt.step()

fit(Net(), loader, opt)
"""


@pytest.mark.parametrize("freeze,fires", [
    ("model.backbone.requires_grad_(False); model.backbone.eval()", True),
    ("model.neck.requires_grad_(False); model.neck.eval()", True),
    ("model.requires_grad_(False); model.neck.eval()", True),  # all of it frozen, the part in eval()
    ("model.fc.requires_grad_(False); model.fc.eval()", False),  # no BatchNorm in it
    ("model.backbone.eval()", False),  # its parameters train: not a freeze
    ("model.head.requires_grad_(False); model.backbone.eval()", False),  # another part frozen
])
def test_a_class_part_built_with_batchnorm(freeze, fires):
    found = _fz201(CLASS.format(freeze=freeze, refreeze="pass"))
    assert [row for row, _ in found] == ([18] if fires else [])
    # re-applied after every train(): silent
    assert _fz201(CLASS.format(freeze=freeze, refreeze=freeze.split("; ")[-1])) == []


def test_the_class_summary_lists_the_parts_that_hold_batchnorm():
    summary = summarise_text(textwrap.dedent(CLASS.format(freeze="pass", refreeze="pass")))
    assert summary["classes"]["Net"]["bn"] == ["backbone", "neck"]


def _project(root: Path, norm: str) -> None:
    (root / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (root / "model.py").write_text(
        "from torch import nn\n\n\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        f"        self.backbone = nn.Sequential(nn.Conv2d(3, 8, 3), {norm})\n"
        "        self.head = nn.Linear(8, 2)\n")
    (root / "train.py").write_text(
        "import torch\nfrom model import Net\n\nmodel = Net()\nmodel.backbone.requires_grad_(False)\n"
        "model.backbone.eval()\ncompiled = torch.compile(model)\nfor epoch in range(2):\n    compiled.train()\n"
        "    for x, y in loader:\n        compiled(x).sum().backward(); opt.step()\n")


def test_a_class_of_another_file_through_torch_compile_and_its_summary_as_a_dependency(cli, tmp_path):
    _project(tmp_path, "nn.BatchNorm2d(8)")

    def found() -> list[tuple[str, int, str]]:
        r = cli(tmp_path, "check", "--format", "json", ".")
        assert r.code in (0, 1), r.err
        return [(Path(d["filename"]).name, d["location"]["row"], d["code"]) for d in json.loads(r.out)]

    assert found() == [("train.py", 9, "FZ201")]
    model = tmp_path / "model.py"
    model.write_text(model.read_text().replace("nn.BatchNorm2d(8)", "nn.GroupNorm(2, 8)"))
    assert found() == []  # the cached result followed model.py: no running statistics now
    model.write_text(model.read_text().replace("nn.GroupNorm(2, 8)", "nn.BatchNorm2d(8)"))
    assert found() == [("train.py", 9, "FZ201")]


BASE_OF_ANOTHER_FILE = """\
import torch.nn as nn
import torchvision


class Base(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = torchvision.models.resnet18()
        self.bn_frozen()

    def bn_frozen(self):
        for m in self.backbone.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()

    def train(self, mode=True):
        super().train(mode)
        self.bn_frozen()
        return self
"""


@pytest.mark.parametrize("call,fires", [
    ("super(Base, self).train(mode)", True),  # nn.Module's train(): Base's re-freeze skipped
    ("nn.Module.train(self, mode)", True),
    ("super(Child, self).train(mode)", False),
    ("super().train(mode)", False),
    ("Base.train(self, mode)", False),
    ("super(Base, self).train(mode)\n        self.bn_frozen()", False),  # re-freezes itself
])
def test_an_override_that_skips_the_re_freeze_of_a_base_of_another_file(cli, tmp_path, call, fires):
    (tmp_path / "base.py").write_text(BASE_OF_ANOTHER_FILE)
    (tmp_path / "child.py").write_text("import torch.nn as nn\n\nfrom base import Base\n\n\nclass Child(Base):\n"
                                       f"    def train(self, mode=True):\n        {call}\n        return self\n")

    def found() -> list[tuple[str, int, str]]:
        r = cli(tmp_path, "check", "--format", "json", ".")
        assert r.code in (0, 1), r.err
        return [(Path(d["filename"]).name, d["location"]["row"], d["message"]) for d in json.loads(r.out)]

    if not fires:
        assert found() == []
        return
    [(name, row, message)] = found()
    assert (name, row) == ("child.py", 8) and "skips `Base.train()`" in message and "Base.__init__ froze" in message
    base = tmp_path / "base.py"
    base.write_text(BASE_OF_ANOTHER_FILE.replace("        super().train(mode)\n        self.bn_frozen()\n",
                                                 "        super().train(mode)\n"))
    assert found() == []  # the cached result followed base.py: its train() re-freezes nothing now


REACH = """
import torch
from torch import nn

class Backbone(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))
        self.body = nn.Sequential(nn.Conv2d(8, 8, 3), nn.BatchNorm2d(8))
        self.pool = nn.AdaptiveAvgPool2d(1)

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = Backbone()
        self.neck = nn.Sequential(nn.Conv2d(8, 8, 1), nn.BatchNorm2d(8))
        self.head = nn.Linear(8, 2)

    def head_mode(self):
        self.head.train()

    def neck_mode(self):
        self.neck.train()

def train_head(model):
    model.head.train()

def train_all(model):
    model.head.train()
    model.train()

def set_train(m):
    m.train()

def fn_bn(m):
    if isinstance(m, nn.BatchNorm2d):
        m.eval()

def fit(model, loader, opt):
    model.backbone.requires_grad_(False)
    {freeze}
    for epoch in range(2):
        {train}
        for x, y in loader:
            model(x).sum().backward(); opt.step()

fit(Net(), loader, opt)
"""


@pytest.mark.parametrize("freeze,train,fires", [
    # train() reaches the part it is called on: a sibling's freeze stays
    ("model.backbone.eval()", "model.head.train()", False),
    ("model.backbone.eval()", "model.head.train(True)", False),
    ("model.backbone.eval()", "model.module.head.train()", False),
    ("model.backbone.eval()", "train_head(model)", False),  # a helper that trains a part of its parameter
    ("model.backbone.eval()", "set_train(model.head)", False),  # a helper handed the part
    ("model.backbone.eval()", "model.head_mode()", False),  # a method that trains a part of self
    ("model.backbone.stem.eval()", "model.backbone.body.train()", False),
    ("model.apply(fn_bn)", "model.backbone.pool.train()", False),  # inside what was frozen, but no BatchNorm
    ("model.apply(fn_bn)", "model.head.train()", False),  # every BatchNorm, but the head holds none
    ("model.backbone.apply(fn_bn)", "model.neck.train()", False),
    # ... and the frozen part itself, a part of it that holds BatchNorm, or a module that holds it
    ("model.backbone.eval()", "model.train()", True),
    ("model.backbone.eval()", "model.module.train()", True),
    ("model.backbone.eval()", "model.backbone.train()", True),
    ("model.backbone.eval()", "model.backbone.body.train()", True),
    ("model.backbone.stem.eval()", "model.backbone.train()", True),
    ("model.backbone.apply(fn_bn)", "model.backbone.train()", True),
    ("model.apply(fn_bn)", "model.backbone.train()", True),
    ("model.apply(fn_bn)", "model.neck_mode()", True),
    ("model.backbone.eval()", "train_all(model)", True),  # one of its train() calls reaches all of it
    ("model.backbone.eval()", "set_train(model.backbone)", True),
    ("model.backbone.eval()", "set_train(model)", True),
    ("model.backbone.eval()", "model.head.train(); model.train()", True),
])
def test_a_train_of_a_part_undoes_only_what_it_reaches(freeze, train, fires):
    found = _fz201(REACH.format(freeze=freeze, train=train))
    assert bool(found) == fires, found


HELPERS_OF_ANOTHER_FILE = """\
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))
        self.head = nn.Linear(8, 2)

    def head_mode(self):
        self.head.train()


def train_head(model):
    model.head.train()
"""


@pytest.mark.parametrize("train,fires", [
    ("train_head(model)", False),
    ("model.head_mode()", False),
    ("model.train()", True),
])
def test_a_helper_of_another_file_that_trains_a_part(cli, tmp_path, train, fires):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (tmp_path / "net.py").write_text(HELPERS_OF_ANOTHER_FILE)
    (tmp_path / "train.py").write_text(
        "from net import Net, train_head\n\nmodel = Net()\nmodel.backbone.requires_grad_(False)\n"
        f"model.backbone.eval()\nfor epoch in range(2):\n    {train}\n"
        "    for x, y in loader:\n        model(x).sum().backward(); opt.step()\n")
    r = cli(tmp_path, "check", "--format", "json", ".")
    assert r.code in (0, 1), r.err
    found = [(Path(d["filename"]).name, d["location"]["row"], d["code"]) for d in json.loads(r.out)]
    assert found == ([("train.py", 7, "FZ201")] if fires else [])
    summary = summarise_text(HELPERS_OF_ANOTHER_FILE)
    assert summary["functions"]["train_head"]["reach"] == {"0": [[".head", False]]}
    assert summary["classes"]["Net"]["reach"] == {"head_mode": [[".head", False]]}
