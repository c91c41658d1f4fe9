"""Builders of ANOTHER project file that return the model in a tuple (`return model_ft, input_size`, the
torchvision fine-tuning tutorial's `initialize_model`): the caller's `model_ft, input_size =
initialize_model(...)` is judged from what the builder did to that element, as a same-file builder's is,
through the summary's element positions ("ret@0"). FZ201 (a BatchNorm freeze undone by train()), FZ202 (a
model frozen whole with requires_grad only, trained in train mode) and FZ301 (an optimizer over every
parameter of a model the builder froze); a flag the call switches off, and the other element of the tuple,
freeze nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import write

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


def build_frozen(num_classes):
    model_ft = models.resnet18(weights=None)
    for param in model_ft.parameters():
        param.requires_grad = False
    model_ft.fc = nn.Linear(512, num_classes)
    return model_ft, 224


def build_size_first(num_classes):
    model_ft = models.resnet18(weights=None)
    for param in model_ft.parameters():
        param.requires_grad = False
    model_ft.fc = nn.Linear(512, num_classes)
    return 224, model_ft


def build_open(num_classes):
    model_ft = models.resnet18(weights=None)
    model_ft.fc = nn.Linear(512, num_classes)
    return model_ft, 224
"""

BN = """
import torch.nn as nn
import torchvision


def get_model(freeze_bn=False):
    model = torchvision.models.resnet18()
    if freeze_bn:
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
    return model, 224
"""

TRAINED = """
import torch
import torch.nn as nn
from models.{module} import {name}


def main(loader):
    {targets} = {name}({args})
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=1e-3, momentum=0.9)
    for epoch in range(3):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
"""

OVER_ALL = """
import torch
from models.build import {name}


def run():
    {targets} = {name}({args})
    return torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
"""


def _found(cli, root: Path, code: str, train: str) -> list[tuple[str, int]]:
    write(root / "pyproject.toml", "")
    write(root / "models" / "__init__.py", "")
    write(root / "models" / "build.py", BUILD)
    write(root / "models" / "bn.py", BN)
    write(root / "train.py", train)
    r = cli(root, "check", "--no-cache", "--format", "json", "--select", code, "train.py")
    assert r.code in (0, 1), r.err
    return [(d["code"], d["location"]["row"]) for d in json.loads(r.out)]


def _row(source: str, text: str) -> int:
    source = source.lstrip("\n")  # as `write` writes it
    return source[:source.index(text)].count("\n") + 1


@pytest.mark.parametrize("targets", ["model, size", "(model, size)", "[model, _]"])
def test_fz202_on_the_model_unpacked_from_another_files_builder_that_froze_it(cli, tmp_path, targets):
    train = TRAINED.format(module="build", name="build_frozen", targets=targets, args="2")
    assert _found(cli, tmp_path, "FZ202", train) == [("FZ202", _row(train, "build_frozen(2)"))]


@pytest.mark.parametrize("name,targets", [
    ("build_open", "model, size"),  # nothing frozen
    ("build_size_first", "model, size"),  # the frozen model is the other element
])
def test_fz202_near_misses_of_another_files_tuple_builder(cli, tmp_path, name, targets):
    train = TRAINED.format(module="build", name=name, targets=targets, args="2")
    assert _found(cli, tmp_path, "FZ202", train) == []


def test_fz202_reads_the_element_the_call_unpacks(cli, tmp_path):
    train = TRAINED.format(module="build", name="build_size_first", targets="size, model", args="2")
    assert _found(cli, tmp_path, "FZ202", train) == [("FZ202", _row(train, "build_size_first(2)"))]


@pytest.mark.parametrize("args,fires", [
    ("True", True), ("freeze_bn=True", True), ("freeze_bn=cfg", True),  # a setting that may be on, as in one file
    ("False", False), ("", False)])
def test_fz201_on_the_model_unpacked_from_another_files_builder_that_froze_its_batchnorm(cli, tmp_path, args, fires):
    train = TRAINED.format(module="bn", name="get_model", targets="model, size", args=args)
    train = train.replace("def main(loader)", "def main(loader, cfg)")
    expected = [("FZ201", _row(train, "model.train()"))] if fires else []
    assert _found(cli, tmp_path, "FZ201", train) == expected


@pytest.mark.parametrize("name,args,fires", [
    ("initialize_model", "2, True", True),
    ("initialize_model", "2, feature_extract=True", True),
    ("build_frozen", "2", True),
    ("initialize_model", "2, feature_extract=False", False),  # the tutorial's model trained from scratch
    ("initialize_model", "2, flag", True),  # a setting that may be on, as in one file
    ("build_open", "2", False),
    ("build_size_first", "2", False),  # `model` is the size here
])
def test_fz301_over_every_parameter_of_the_model_unpacked_from_another_files_builder(cli, tmp_path, name, args,
                                                                                      fires):
    train = OVER_ALL.format(name=name, targets="model, _", args=args).replace("def run()", "def run(flag)")
    expected = [("FZ301", _row(train, "torch.optim.SGD"))] if fires else []
    assert [(c, r) for c, r in _found(cli, tmp_path, "FZ301", train)] == expected
