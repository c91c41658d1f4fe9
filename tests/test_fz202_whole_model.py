"""FZ202's whole-model freeze: the table's BatchNorm content, the text trigger, the name tests."""

from __future__ import annotations

import re

import libcst as cst
import pytest

from freezelint.check.engine import check_source
from freezelint.check.whole_model import BN_FACTORY_CALL, BN_FACTORY_TRIGGERS, _evaluate, bn_layers
from freezelint.check.submodule_table import TABLE


def test_the_table_knows_which_factories_hold_batchnorm():
    assert len(bn_layers("torchvision.models.resnet50")) == 53
    assert bn_layers("torchvision.models.resnet50")[:2] == ["bn1", "layer1.0.bn1"]
    assert len(bn_layers("timm.create_model:efficientnet_b0")) == 49
    for no_bn in ("torchvision.models.vit_b_16", "torchvision.models.vgg16", "timm.create_model:convnext_tiny",
                  "transformers.BertModel"):
        assert bn_layers(no_bn) == []
    assert bn_layers("transformers.AutoModel") == []  # an Auto class's content is not known: no claim


def test_the_trigger_admits_every_factory_with_batchnorm():
    holders = [k for k, v in TABLE.items() if v.get("bn")]
    assert len(holders) > 20
    for key in holders:
        call = f'timm.create_model("{key.split(":")[1]}")' if key.startswith("timm") else f"{key}(weights=None)"
        assert re.search(BN_FACTORY_CALL, call), key
        assert any(re.search(t, call) for t in BN_FACTORY_TRIGGERS), key  # the rule's text gate


@pytest.mark.parametrize("test,name,want", [
    ('not n.startswith("fc")', "layer1.0.bn1.weight", True),
    ('not n.startswith("fc")', "fc.weight", False),
    ('not n.startswith(("layer4", "fc"))', "layer4.2.bn3.bias", False),
    ('"fc" not in n', "bn1.weight", True),
    ('"bn" not in n and "fc" not in n', "layer1.0.bn1.weight", False),
    ('n not in ["fc.weight", "fc.bias"]', "bn1.bias", True),
    ('n.split(".")[0] != "classifier"', "features.0.1.weight", True),
    ('not any(k in n for k in ["layer3", "layer4"])', "layer3.0.bn1.weight", False),
    ('n in trainable', "bn1.weight", None),  # a variable: not known
    ('p.ndim > 1', "bn1.weight", None),
])
def test_name_tests_are_evaluated_on_each_batchnorm_parameter_name(test, name, want):
    assert _evaluate(cst.parse_expression(test), "n", name) is want


def _messages(cli, tmp_path, text):
    import json

    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "train.py").write_text(text)
    r = cli(tmp_path, "check", "--no-cache", "--format", "json", "--select", "FZ202", ".")
    return [(d["location"]["row"], d["message"]) for d in json.loads(r.out)]


def test_the_message_names_the_model_its_batchnorm_layers_and_the_train_mode(cli, tmp_path):
    found = _messages(cli, tmp_path, (
        "import torch\nimport torchvision\n\nmodel = torchvision.models.resnet18()\n"
        "for p in model.parameters():\n    p.requires_grad = False\n"
        "model.fc = torch.nn.Linear(512, 2)\nopt = torch.optim.SGD(model.fc.parameters(), lr=0.1)\n"
        "for x, y in loader:\n    opt.zero_grad()\n    loss_fn(model(x), y).backward()\n    opt.step()\n"))
    assert len(found) == 1 and found[0][0] == 6
    msg = found[0][1]
    assert "`model` (torchvision.models.resnet18)" in msg and "its 20 BatchNorm layers" in msg
    assert "the train mode a new model starts in" in msg and "after every `model.train()`" in msg



# accelerate's cv_example, as written: timm's resnet50d frozen but its classifier, model.train() each epoch
CV_EXAMPLE = """\
import torch
from timm import create_model

model = create_model({args})
for param in model.parameters():
    param.requires_grad = False
for param in model.get_classifier().parameters():
    param.requires_grad = True
optimizer = torch.optim.Adam(params=model.parameters(), lr=3e-2 / 25)
for epoch in range(2):
    model.train()
    for x, y in loader:
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
"""


@pytest.mark.parametrize("args,want", [
    ('"resnet50d", pretrained=True, num_classes=10', 55),
    ('"tf_efficientnet_b4.ns_jft_in1k", pretrained=True', 96),  # a pretrained tag: the architecture's layers
    ('model_name="seresnext50_32x4d"', 53),
    ('"resnet50d", pretrained=True, norm_layer=torch.nn.GroupNorm', None),  # its own norm layers: not known
    ('"vit_base_patch16_224", pretrained=True', None),  # LayerNorm only
    ('"resnet50_not_in_the_table", pretrained=True', None),  # unknown: never guessed
])
def test_popular_timm_models_frozen_whole_and_trained_in_train_mode(cli, tmp_path, args, want):
    found = _messages(cli, tmp_path, CV_EXAMPLE.format(args=args))
    if want is None:
        assert found == []
    else:
        assert len(found) == 1 and found[0][0] == 6, found
        assert f"its {want} BatchNorm layers" in found[0][1]


def test_the_table_decodes_only_the_entries_read():
    from freezelint.check import submodule_table

    fresh = submodule_table._Table({"a": '{"bn": ["bn1"]}', "b": "not json: never read"})
    assert "b" in fresh and len(fresh) == 2 and fresh["a"] == {"bn": ["bn1"]}
    assert fresh.get("missing") is None

def test_a_freeze_noqa_keeps_adabn_style_adaptation(cli, tmp_path):
    text = ("import torch\nimport torchvision\n\nmodel = torchvision.models.resnet18()\n"
            "model.requires_grad_(False)\n"
            "opt = torch.optim.SGD(model.fc.parameters(), lr=0.1)\nmodel.train()\n"
            "for x, y in loader:\n    opt.zero_grad()\n    loss_fn(model(x), y).backward()\n    opt.step()\n")
    assert [row for row, _ in _messages(cli, tmp_path, text)] == [5]
    noqa = text.replace("(False)\n", "(False)  # noqa: FZ202 - AdaBN: the statistics adapt on purpose\n")
    assert _messages(cli, tmp_path, noqa) == []


PROBE = """\
import torch
import torch.nn as nn
import torchvision


class Probe(nn.Module):
    def __init__(self, classes, freeze=True):
        super().__init__()
        self.backbone = torchvision.models.resnet50(weights=None)
        FREEZE
        self.head = nn.Linear(1000, classes)

    def forward(self, x):
        return self.head(self.backbone(x))


model = Probe(10)
opt = torch.optim.SGD(model.head.parameters(), lr=0.1)
for epoch in range(10):
    model.train()
    for x, y in loader:
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
"""


def _codes(cli, tmp_path, text):
    import json

    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "train.py").write_text(text)
    r = cli(tmp_path, "check", "--no-cache", "--format", "json", ".")
    return [(d["location"]["row"], d["code"]) for d in json.loads(r.out)]


@pytest.mark.parametrize("freeze,want", [
    ("self.backbone.requires_grad_(False)", [(17, "FZ202")]),
    ("for p in self.backbone.parameters():\n            p.requires_grad = False", [(18, "FZ202")]),
    # the backbone put in eval mode where it is frozen: model.train() undoing that is FZ201's, at the class
    ("self.backbone.requires_grad_(False)\n        self.backbone.eval()", [(11, "FZ201")]),
    ("self.requires_grad_(False)", [(17, "FZ202")]),  # all of it, before its BatchNorm-free head is built
    # the caller's flag decides whether anything is frozen: not known here
    ("if freeze:\n            self.backbone.requires_grad_(False)", []),
    # a part with BatchNorm left to train (layer4, a new neck): the frozen stages' statistics move all the same
    ("self.backbone.requires_grad_(False)\n        self.backbone.layer4.requires_grad_(True)", [(18, "FZ202")]),
    ("self.requires_grad_(False)\n        self.neck = nn.Sequential(nn.Conv2d(3, 3, 1), nn.BatchNorm2d(3))",
     [(18, "FZ202")]),
])
def test_a_backbone_frozen_in_init_is_reported_where_the_model_is_built(cli, tmp_path, freeze, want):
    assert _codes(cli, tmp_path, PROBE.replace("FREEZE", freeze)) == want


def test_the_message_names_the_class_its_backbone_and_what_froze_it(cli, tmp_path):
    found = _messages(cli, tmp_path, PROBE.replace("FREEZE", "self.backbone.requires_grad_(False)"))
    assert len(found) == 1 and found[0][0] == 17
    msg = found[0][1]
    # the part frozen is named, not the model: its head trains
    assert msg.startswith("`model.backbone` (Probe: its `backbone` is torchvision.models.resnet50) is frozen")
    assert "frozen with requires_grad only by `Probe(...)`" in msg and "its 53 BatchNorm layers" in msg


LINEAR_EVAL = """\
import torch
import torch.nn as nn
import torchvision

model = torchvision.models.resnet18(weights=None)
model.requires_grad_(False)
model.fc = nn.Linear(512, 3)
optimizer = torch.optim.SGD(model.fc.parameters(), lr=0.1, momentum=0.9)
for epoch in range(2):
    model.eval()
    PART.train()
    for x, y in loader:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
"""


@pytest.mark.parametrize("part,want", [
    ("model.fc", []),  # only the new head (no BatchNorm) back in train mode: a linear probe, right
    ("model.layer4", [6]),  # a frozen part that holds BatchNorm back in train mode
    ("model", [6]),
])
def test_train_of_a_part_counts_only_when_it_reaches_frozen_batchnorm(cli, tmp_path, part, want):
    found = _messages(cli, tmp_path, LINEAR_EVAL.replace("PART", part))
    assert [row for row, _ in found] == want
    if want:
        assert f"`{part}.train()` puts it in train mode" in found[0][1]


def test_a_helper_that_trains_only_the_head_puts_no_frozen_batchnorm_in_train_mode(cli, tmp_path):
    """`train_epoch(model)` doing `model.eval(); model.fc.train()` (two public scripts): its
    train() is on the head, which holds no BatchNorm; one that trains a part with BatchNorm, or
    the whole model somewhere, is reported."""
    head = ("def train_epoch(m):\n    m.eval()\n    m.fc.train()\n    step(m)\n\n\n"
            "model = torchvision.models.resnet18(weights=None)\nmodel.requires_grad_(False)\n"
            "model.fc = torch.nn.Linear(512, 2)\nopt = torch.optim.SGD(model.fc.parameters(), lr=0.1, momentum=0.9)\n"
            "for epoch in range(3):\n    train_epoch(model)\n")
    text = "import torch\nimport torchvision\n\n\n" + head
    assert _messages(cli, tmp_path, text) == []
    assert [r for r, _ in _messages(cli, tmp_path, text.replace("m.fc.train()", "m.layer4.train()"))] == [12]
    both = text.replace("    m.fc.train()\n", "    m.fc.train()\n    if m.training:\n        m.train()\n")
    assert [r for r, _ in _messages(cli, tmp_path, both)] == [14]
    # two helpers deep: run_epoch(model) -> set_train_mode(model)
    nested = text.replace("def train_epoch(m):\n    m.eval()\n    m.fc.train()\n    step(m)\n",
                          "def set_train_mode(m):\n    m.eval()\n    m.fc.train()\n\n\n"
                          "def train_epoch(m):\n    set_train_mode(m)\n    step(m)\n")
    assert "set_train_mode" in nested and _messages(cli, tmp_path, nested) == []


PASSED_IN = """\
import torch
import torch.nn as nn
import torchvision


class Probe(nn.Module):
    def __init__(self, backbone, classes):
        super().__init__()
        self.backbone = backbone
        self.backbone.requires_grad_(False)
        self.head = nn.Linear(1000, classes)
TRAIN_OVERRIDE
    def forward(self, x):
        return self.head(self.backbone(x))


model = BUILT
opt = torch.optim.SGD(model.head.parameters(), lr=0.1, momentum=0.9)
for epoch in range(3):
    model.train()
    for x, y in loader:
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
"""


@pytest.mark.parametrize("built,override,want", [
    ("Probe(torchvision.models.resnet50(weights=None), 10)", "", [17]),
    ("Probe(classes=10, backbone=torchvision.models.resnet18(weights=None))", "", [17]),
    # the backbone is not a table model, or the class keeps it in eval mode itself: no claim
    ("Probe(make_backbone(), 10)", "", []),
    ("Probe(torchvision.models.resnet50(weights=None), 10)",
     "\n    def train(self, mode=True):\n        super().train(mode)\n        self.backbone.eval()\n        return self\n", []),
])
def test_a_table_model_passed_to_init_and_frozen_there(cli, tmp_path, built, override, want):
    text = PASSED_IN.replace("BUILT", built).replace("TRAIN_OVERRIDE", override)
    found = _messages(cli, tmp_path, text)
    assert [r for r, _ in found] == want
    if want:
        assert "its `backbone` is torchvision.models.resnet" in found[0][1]


def test_batchnorm_frozen_one_by_one_in_a_model_whose_class_of_another_file_overrides_train(cli, tmp_path):
    """FZ202 on `for m in model.modules(): if isinstance(m, BatchNorm2d): freeze` is silent when the
    model's class overrides train() (its own train() decides what stays in eval), in another file
    as in this one; without the override it fires."""
    import json

    (tmp_path / "pyproject.toml").write_text("")
    net = ("import torch.nn as nn\n\n\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
           "        self.body = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))\n\n"
           "    def train(self, mode=True):\n        super().train(mode)\n        for m in self.body.modules():\n"
           "            if isinstance(m, nn.BatchNorm2d):\n                m.eval()\n        return self\n")
    (tmp_path / "net.py").write_text(net)
    (tmp_path / "build.py").write_text(
        "import torch\nimport torch.nn as nn\n\nfrom net import Net\n\n\ndef main(loader):\n    model = Net()\n"
        "    for m in model.modules():\n        if isinstance(m, nn.BatchNorm2d):\n            for p in m.parameters():\n"
        "                p.requires_grad = False\n"
        "    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)\n"
        "    model.train()\n    for x in loader:\n        model(x).sum().backward()\n        opt.step()\n")

    def found():
        r = cli(tmp_path, "check", "--format", "json", "--select", "FZ202", ".")
        assert r.code in (0, 1), r.err
        return [(d["filename"], d["location"]["row"]) for d in json.loads(r.out)]

    assert found() == []
    (tmp_path / "net.py").write_text(net.split("    def train")[0])
    assert found() == [("build.py", 12)]


# The freeze of a function of the file under a flag of its own (the torchvision fine-tuning tutorial's
# `set_parameter_requires_grad(model, feature_extracting)`): it counts where the call switches the
# flag on, not where the flag is off or left to a setting of the run.
FLAG_HELPER = '''
import torch
from torch import nn
from torchvision import models


def set_parameter_requires_grad(model, feature_extracting):
    if feature_extracting:
        for param in model.parameters():
            param.requires_grad = False


net = models.resnet50(weights="DEFAULT")
set_parameter_requires_grad(net, {arg})
net.fc = nn.Linear(2048, 3)
opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=1e-3, momentum=0.9)
for epoch in range(5):
    net.train()
    for x, y in loader:
        opt.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
'''


@pytest.mark.parametrize("arg,rows", [
    ("True", [14]),
    ("feature_extracting=True", [14]),
    ("False", []),
    ("feature_extracting=False", []),
    ("args.feature_extract", []),
])
def test_a_freeze_under_the_flag_of_the_function_counts_when_the_call_sets_it(arg, rows):
    found = check_source(FLAG_HELPER.format(arg=arg), "train.py", select=["FZ202"])
    assert [d.row for d in found] == rows


# The same helper called by a builder of one model that hands its own parameter on
# (`initialize_model(num_classes, feature_extract)` of the same tutorial): the builder's call decides.
FLAG_BUILDER = '''
import torch
from torch import nn
from torchvision import models

FEATURE_EXTRACT = True


def set_parameter_requires_grad(model, feature_extracting):
    if feature_extracting:
        for param in model.parameters():
            param.requires_grad = False


def initialize_model(num_classes, feature_extract):
    model_ft = models.resnet18(weights="DEFAULT")
    set_parameter_requires_grad(model_ft, feature_extract)
    model_ft.fc = nn.Linear(512, num_classes)
    return model_ft


def main(loader, args):
    model_ft = initialize_model(3, {arg})
    opt = torch.optim.SGD([p for p in model_ft.parameters() if p.requires_grad], lr=1e-3, momentum=0.9)
    for epoch in range(5):
        model_ft.train()
        for x, y in loader:
            opt.zero_grad()
            nn.functional.cross_entropy(model_ft(x), y).backward()
            opt.step()
'''


@pytest.mark.parametrize("arg,rows", [
    ("True", [23]),
    ("feature_extract=True", [23]),
    ("FEATURE_EXTRACT", [23]),
    ("False", []),
    ("feature_extract=False", []),
    ("args.feature_extract", []),
])
def test_a_builder_handing_its_flag_on_to_the_freeze_counts_as_its_call_sets_it(arg, rows):
    source = FLAG_BUILDER.format(arg=arg)
    assert [d.row for d in check_source(source, select=["FZ202"])] == rows
