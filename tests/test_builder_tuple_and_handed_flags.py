"""Builders as the torchvision fine-tuning tutorial writes them: `initialize_model(model_name, num_classes,
feature_extract)` returns `model_ft, input_size`, picks the architecture per `if model_name == ...` arm, and
freezes through `set_parameter_requires_grad(model_ft, feature_extract)`, a helper whose freeze sits under
its own `if feature_extracting:`. The model is the tuple's element its call site unpacks; the freeze happens
only where the builder's call switches the flag on; the arm is the one the call's module constant picks,
even where the builder's parameter has the constant's name."""

from __future__ import annotations

import pytest

from freezelint.check.engine import check_source

HELPER = """
import torch
import torch.nn as nn
from torchvision import models


def set_parameter_requires_grad(model, feature_extracting):
    if feature_extracting:
        for param in model.parameters():
            param.requires_grad = False
"""

ONE_MODEL = HELPER + """

def initialize_model(num_classes, feature_extract):
    model_ft = models.resnet18(weights=None)
    set_parameter_requires_grad(model_ft, feature_extract)
    model_ft.fc = nn.Linear(512, num_classes)
    return model_ft, 224
"""

TRAIN = """

def main(loader):
    {targets} = initialize_model({args})
    params = [p for p in model_ft.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=1e-3, momentum=0.9)
    for epoch in range(3):
        model_ft.train()
        for x, y in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model_ft(x), y).backward()
            optimizer.step()
"""


def _codes(source: str, select: list[str]) -> list[tuple[str, int]]:
    compile(source, "x.py", "exec")
    return sorted((d.code, d.row) for d in check_source(source, select=select))


def _row(source: str, text: str) -> int:
    return source[:source.index(text)].count("\n") + 1


@pytest.mark.parametrize("targets", ["model_ft, input_size", "(model_ft, input_size)", "[model_ft, _]"])
@pytest.mark.parametrize("args,fires", [
    ("2, True", True),
    ("2, feature_extract=True", True),
    ("2, False", False),
    ("2, feature_extract=False", False),
    ("2, args.feature_extract", False),  # a setting of the run: not known to freeze
])
def test_the_model_unpacked_from_a_builders_tuple_is_judged_as_the_model_it_returns(targets, args, fires):
    source = ONE_MODEL + TRAIN.format(targets=targets, args=args).replace("def main(loader)", "def main(loader, args)")
    expected = [("FZ202", _row(source, "initialize_model(" + args))] if fires else []
    assert _codes(source, ["FZ202"]) == expected


def test_the_other_element_of_the_tuple_is_not_the_model():
    source = ONE_MODEL.replace("return model_ft, 224", "return 224, model_ft") + TRAIN.format(
        targets="model_ft, input_size", args="2, True")
    assert _codes(source, ["FZ202"]) == []


def test_a_flag_the_builder_hands_on_switched_off_freezes_nothing_for_fz301():
    # the tutorial's model trained from scratch: every parameter trains, so an optimizer over all is right
    for targets, tail in (("scratch, _", ""), ("scratch", "")):
        builder = ONE_MODEL if "," in targets else ONE_MODEL.replace("return model_ft, 224", "return model_ft")
        source = builder + f"""

def scratch_run(loader):
    {targets} = initialize_model(2, feature_extract=False){tail}
    optimizer = torch.optim.SGD(scratch.parameters(), lr=1e-3, momentum=0.9)
    return optimizer
"""
        assert _codes(source, ["FZ301"]) == [], targets
    on = ONE_MODEL + """

def frozen_run(loader):
    model, _ = initialize_model(2, feature_extract=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    return optimizer
"""
    assert [c for c, _ in _codes(on, ["FZ301"])] == ["FZ301"]


ARMS = HELPER + """
model_name = "{name}"
feature_extract = True


def initialize_model(model_name, num_classes, feature_extract, use_pretrained=True):
    model_ft = None
    input_size = 0
    if model_name == "resnet":
        model_ft = models.resnet18(weights=None)
        set_parameter_requires_grad(model_ft, feature_extract)
        model_ft.fc = nn.Linear(512, num_classes)
        input_size = 224
    elif model_name == "squeezenet":
        model_ft = models.squeezenet1_0(weights=None)
        set_parameter_requires_grad(model_ft, feature_extract)
        model_ft.classifier[1] = nn.Conv2d(512, num_classes, kernel_size=(1, 1), stride=(1, 1))
        input_size = 224
    return model_ft, input_size


model_ft, input_size = initialize_model(model_name, 2, feature_extract, use_pretrained=True)
params_to_update = [p for p in model_ft.parameters() if p.requires_grad]
optimizer_ft = torch.optim.SGD(params_to_update, lr=0.001, momentum=0.9)
for epoch in range(3):
    model_ft.train()
    for x, y in loader:
        optimizer_ft.zero_grad()
        nn.functional.cross_entropy(model_ft(x), y).backward()
        optimizer_ft.step()
"""


def test_the_arm_the_module_constant_picks_is_judged_though_the_parameter_has_its_name():
    resnet = ARMS.format(name="resnet")
    [(code, row)] = _codes(resnet, ["FZ202"])
    assert (code, row) == ("FZ202", _row(resnet, "model_ft, input_size = initialize_model("))
    [finding] = check_source(resnet, select=["FZ202"])
    assert "(torchvision.models.resnet18)" in finding.message and '`model_name == "resnet"` arm' in finding.message
    # squeezenet has no BatchNorm: nothing to keep in eval
    assert _codes(ARMS.format(name="squeezenet"), ["FZ202"]) == []


def test_the_tutorials_pattern_trains_batchnorm_statistics_of_the_frozen_resnet():
    # what FZ202 says, in torch: the frozen backbone's running statistics move under model.train()
    torch = pytest.importorskip("torch")
    models = pytest.importorskip("torchvision").models
    model = models.resnet18(weights=None)
    for p in model.parameters():
        p.requires_grad = False
    model.fc = torch.nn.Linear(512, 2)
    before = model.bn1.running_mean.clone()
    model.train()
    model(torch.randn(2, 3, 32, 32))
    assert not torch.equal(before, model.bn1.running_mean)


BN_BUILDER = """
import torch
import torch.nn as nn
import torchvision


def get_model(freeze_bn):
    model = torchvision.models.resnet18()
    if freeze_bn:
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
    return model, 224


def main(loader):
    model, size = get_model({arg})
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for epoch in range(3):
        model.train()
        for x, y in loader:
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
"""


@pytest.mark.parametrize("arg,fires", [("True", True), ("freeze_bn=True", True), ("False", False)])
def test_fz201_on_the_model_unpacked_from_a_builder_that_froze_its_batchnorm(arg, fires):
    source = BN_BUILDER.format(arg=arg)
    assert _codes(source, ["FZ201"]) == ([("FZ201", _row(source, "model.train()"))] if fires else [])
