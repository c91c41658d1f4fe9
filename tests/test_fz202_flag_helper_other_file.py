"""FZ202 across files for a helper whose freeze sits under a flag of its own: the torchvision fine-tuning
tutorial's `set_parameter_requires_grad(model, feature_extracting)` (`if feature_extracting:` then every
parameter frozen) defined in another file. Its summary records the freeze with the test it sits under; a
call that passes a flag true at the call (a literal True, or a name bound once to True where the call is:
a module constant or a local of the calling function) freezes the model whole, as the same helper of the
same file does. A flag set off, a setting of the run (`args.feature_extract`), a name bound more than once,
or `*args` freeze nothing known: silent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import write

UTIL = """
import torch.nn as nn


def set_parameter_requires_grad(model, feature_extracting):
    if feature_extracting:
        for param in model.parameters():
            param.requires_grad = False


def freeze_unless(model, train_all=False):
    if not train_all:
        model.requires_grad_(False)


def freeze_on_both(model, a, b):
    if a:
        model.requires_grad_(False)
    if b:
        model.requires_grad_(False)
"""

TRAIN = """
import torch
import torch.nn as nn
from torchvision import models
from util import set_parameter_requires_grad, freeze_unless, freeze_on_both

FEATURE_EXTRACT = True
SCRATCH = False


def main(loader, args):
    {before}
    model_ft = models.resnet18(weights=None)
    {freeze}
    model_ft.fc = nn.Linear(512, 2)
    params = [p for p in model_ft.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=1e-3, momentum=0.9)
    for epoch in range(3):
        model_ft.train()
        for x, y in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model_ft(x), y).backward()
            optimizer.step()
"""


def _found(cli, root: Path, freeze: str, before: str = "pass") -> list[tuple[str, int]]:
    train = TRAIN.format(freeze=freeze, before=before)
    write(root / "pyproject.toml", "")
    write(root / "util.py", UTIL)
    write(root / "train.py", train)
    r = cli(root, "check", "--no-cache", "--format", "json", "--select", "FZ202", "train.py")
    assert r.code in (0, 1), r.err
    return [(d["code"], d["location"]["row"]) for d in json.loads(r.out)]


def _row(freeze: str, before: str = "pass") -> int:
    train = TRAIN.format(freeze=freeze, before=before).lstrip("\n")
    return train[:train.index(freeze)].count("\n") + 1


@pytest.mark.parametrize("freeze,before", [
    ("set_parameter_requires_grad(model_ft, True)", "pass"),
    ("set_parameter_requires_grad(model_ft, feature_extracting=True)", "pass"),
    ("set_parameter_requires_grad(model_ft, FEATURE_EXTRACT)", "pass"),  # the tutorial's module constant
    ("set_parameter_requires_grad(model_ft, feature_extract)", "feature_extract = True"),  # a local, bound once
    ("freeze_unless(model_ft)", "pass"),  # `if not train_all:` with the default left
    ("freeze_unless(model_ft, SCRATCH)", "pass"),
])
def test_a_flag_true_at_the_call_freezes_the_model_whole(cli, tmp_path, freeze, before):
    assert _found(cli, tmp_path, freeze, before) == [("FZ202", _row(freeze, before))]


@pytest.mark.parametrize("freeze,before", [
    ("set_parameter_requires_grad(model_ft, False)", "pass"),  # the tutorial's model trained from scratch
    ("set_parameter_requires_grad(model_ft, SCRATCH)", "pass"),
    ("set_parameter_requires_grad(model_ft, args.feature_extract)", "pass"),  # a setting of the run
    ("set_parameter_requires_grad(model_ft, feature_extract)", "feature_extract = args.fe"),
    ("set_parameter_requires_grad(model_ft, feature_extract)",
     "feature_extract = True\n    if args.scratch:\n        feature_extract = False"),  # bound twice
    ("set_parameter_requires_grad(model_ft, *args.flags)", "pass"),
    ("freeze_unless(model_ft, True)", "pass"),
    ("freeze_on_both(model_ft, True, 0)", "pass"),  # freezes under different tests: not recorded
])
def test_a_flag_off_or_not_known_at_the_call_freezes_nothing_known(cli, tmp_path, freeze, before):
    assert _found(cli, tmp_path, freeze, before) == []


def _same_file(before: str, flag: str) -> list[tuple[str, int]]:
    from freezelint.check.engine import check_source

    source = UTIL + TRAIN.format(before=before, freeze=f"set_parameter_requires_grad(model_ft, {flag})").replace(
        "from util import set_parameter_requires_grad, freeze_unless, freeze_on_both\n", "")
    compile(source, "x.py", "exec")
    return [(d.code, d.row) for d in check_source(source, select=["FZ202"])]


@pytest.mark.parametrize("before,flag,fires", [
    ("feature_extract = True", "feature_extract", True),  # a local of the calling function, bound once
    ("pass", "FEATURE_EXTRACT", True),
    ("feature_extract = args.fe", "feature_extract", False),
    ("feature_extract = True\n    if args.scratch:\n        feature_extract = False", "feature_extract", False),
    ("pass", "SCRATCH", False),
])
def test_the_same_helper_of_the_same_file_reads_the_flag_alike(before, flag, fires):
    assert bool(_same_file(before, flag)) is fires


BUILD = """
import torch.nn as nn
from torchvision import models


def set_parameter_requires_grad(model, feature_extracting):
    if feature_extracting:
        for param in model.parameters():
            param.requires_grad = False


def initialize_model(num_classes, feature_extract):
    model_ft = models.resnet18(weights=None)
    set_parameter_requires_grad(model_ft, feature_extract)
    model_ft.fc = nn.Linear(512, num_classes)
    return model_ft, 224


def build(freeze=False):
    model = models.resnet18(weights=None)
    if freeze:
        model.requires_grad_(False)
    model.fc = nn.Linear(512, 2)
    return model


def build_unless(train_all):
    model = models.resnet18(weights=None)
    if not train_all:
        for p in model.parameters():
            p.requires_grad = False
    return model
"""

BUILT = """
import torch
import torch.nn as nn
from build import initialize_model, build, build_unless

FEATURE_EXTRACT = True


def main(loader, args):
    {targets} = {call}
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=1e-3, momentum=0.9)
    for epoch in range(3):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
"""


@pytest.mark.parametrize("targets,call,fires", [
    ("model, size", "initialize_model(2, True)", True),  # the tutorial's builder, flag handed to its helper
    ("model, size", "initialize_model(2, feature_extract=True)", True),
    ("model, size", "initialize_model(2, FEATURE_EXTRACT)", True),
    ("model, size", "initialize_model(2, False)", False),  # trained from scratch
    ("model, size", "initialize_model(2, args.feature_extract)", False),  # a setting of the run
    ("model", "build(True)", True),  # the builder's own `if freeze:`
    ("model", "build(freeze=True)", True),
    ("model", "build()", False),  # its default: off
    ("model", "build_unless(False)", True),
    ("model", "build_unless(True)", False),
    ("model", "build_unless(*args.flags)", False),
])
def test_a_builder_of_another_file_whose_freeze_its_flag_decides(cli, tmp_path, targets, call, fires):
    train = BUILT.format(targets=targets, call=call)
    write(tmp_path / "pyproject.toml", "")
    write(tmp_path / "util.py", UTIL)
    write(tmp_path / "build.py", BUILD)
    write(tmp_path / "train.py", train)
    r = cli(tmp_path, "check", "--no-cache", "--format", "json", "--select", "FZ202", "train.py")
    assert r.code in (0, 1), r.err
    rows = [d["location"]["row"] for d in json.loads(r.out)]
    text = train.lstrip("\n")
    assert rows == ([text[:text.index(call)].count("\n") + 1] if fires else [])


BUILD_OVER_UTIL = """
import torch.nn as nn
from torchvision import models
from util import set_parameter_requires_grad, freeze_unless, freeze_on_both


def initialize_model(num_classes, feature_extract):
    model_ft = models.resnet18(weights=None)
    set_parameter_requires_grad(model_ft, feature_extract)
    model_ft.fc = nn.Linear(512, num_classes)
    return model_ft, 224


def build(freeze_bn=True):
    m = models.resnet18(weights=None)
    set_parameter_requires_grad(m, freeze_bn)
    return m


def build_frozen():
    m = models.resnet18(weights=None)
    set_parameter_requires_grad(m, True)
    return m


def build_scratch():
    m = models.resnet18(weights=None)
    set_parameter_requires_grad(m, False)
    return m


def build_unless(train_all):
    m = models.resnet18(weights=None)
    freeze_unless(m, train_all=train_all)
    return m


def build_from(cfg):
    m = models.resnet18(weights=None)
    set_parameter_requires_grad(m, cfg.freeze)
    return m


def build_both(a):
    m = models.resnet18(weights=None)
    freeze_on_both(m, a, a)
    return m


def build_twice(freeze_bn):
    m = models.resnet18(weights=None)
    set_parameter_requires_grad(m, freeze_bn)
    set_parameter_requires_grad(m, False)
    return m


def build_if(pretrained, freeze_bn):
    m = models.resnet18(weights=None)
    if pretrained:
        set_parameter_requires_grad(m, freeze_bn)
    return m
"""


@pytest.mark.parametrize("targets,call,fires", [
    ("model, size", "initialize_model(2, True)", True),  # the builder hands its flag to util.py's helper
    ("model, size", "initialize_model(2, feature_extract=True)", True),
    ("model, size", "initialize_model(2, FEATURE_EXTRACT)", True),
    ("model", "build()", True),  # the builder's default: on
    ("model", "build(True)", True),
    ("model", "build_frozen()", True),  # the builder passes a literal True
    ("model", "build_unless(False)", True),  # `if not train_all:` in the helper
    ("model", "build_if(True, True)", True),  # the builder's own test and the helper's, both on
    # near-misses: the flag off or not known at the call, or the helper's freeze not read
    ("model, size", "initialize_model(2, False)", False),
    ("model, size", "initialize_model(2, args.feature_extract)", False),
    ("model", "build(False)", False),
    ("model", "build_scratch()", False),  # the builder passes a literal False
    ("model", "build_unless(True)", False),
    ("model", "build_from(args)", False),  # the builder hands on a setting of the run
    ("model", "build_both(True)", False),  # the helper records no freeze (two tests)
    ("model", "build_twice(True)", False),  # handed to a helper of another file twice: not read
    ("model", "build_if(False, True)", False),
    ("model", "build_if(True, False)", False),
])
def test_a_builder_handing_its_flag_to_a_helper_of_a_third_file(cli, tmp_path, targets, call, fires):
    """train.py's `build(True)` of build.py, whose `set_parameter_requires_grad(m, freeze_bn)` is
    util.py's: the builder's summary records the call, the project reads util.py's record there."""
    FEATURE = "import torch\nimport torch.nn as nn\nfrom build import *\n\nFEATURE_EXTRACT = True\n"
    train = FEATURE + BUILT[BUILT.index("\n\ndef main"):].format(targets=targets, call=call)
    write(tmp_path / "pyproject.toml", "")
    write(tmp_path / "util.py", UTIL)
    write(tmp_path / "build.py", BUILD_OVER_UTIL)
    write(tmp_path / "train.py", train)
    r = cli(tmp_path, "check", "--no-cache", "--format", "json", "--select", "FZ202", "train.py")
    assert r.code in (0, 1), r.err
    rows = [d["location"]["row"] for d in json.loads(r.out)]
    text = train.lstrip("\n")
    assert rows == ([text[:text.index(call)].count("\n") + 1] if fires else [])


@pytest.mark.parametrize("after", ["model.eval()", "model.apply(set_bn_eval)"])
def test_a_third_file_freeze_with_eval_after_train_is_silent(cli, tmp_path, after):
    train = ("import torch\nimport torch.nn as nn\nfrom build import build\n\n\n"
             "def set_bn_eval(m):\n    if isinstance(m, nn.BatchNorm2d):\n        m.eval()\n"
             + BUILT[BUILT.index("\n\ndef main"):].format(targets="model", call="build(True)")
             .replace("        model.train()\n", f"        model.train()\n        {after}\n"))
    write(tmp_path / "pyproject.toml", "")
    write(tmp_path / "util.py", UTIL)
    write(tmp_path / "build.py", BUILD_OVER_UTIL)
    write(tmp_path / "train.py", train)
    r = cli(tmp_path, "check", "--no-cache", "--format", "json", "--select", "FZ202", "train.py")
    assert r.code in (0, 1), r.err
    assert json.loads(r.out) == []


def test_the_builder_summary_records_the_helper_call():
    from freezelint.check.summaries import summarise_text

    record = summarise_text(BUILD_OVER_UTIL)["functions"]["build"]["frozen"]["ret"]
    assert record == {"parts": {"": ["torchvision.models.resnet18", None]}, "signature": "freeze_bn=True",
                      "helper": {"fn": "util.set_parameter_requires_grad", "pos": 0, "call": "_(m, freeze_bn)"}}
