"""FZ202 through a per-architecture builder of the same file (ct_unfreeze_blocks): the
builder binds a different table model in each arm of an `if`, freezes it whole there and unfreezes
its last blocks by a dial; the caller trains it in train mode. Each arm's model is judged, the
finding is on the call and names the arm; an unfreeze of all of it under the dial's test is another
run's."""

import json
import shutil
from pathlib import Path

import pytest

from freezelint.check.engine import check_source

BUILDER = '''
import torch
import torch.nn as nn
import torchvision.models as models


def build(name, unfreeze_blocks=1):
    if name == "resnet":
        model = models.resnet18(weights=None)
        for param in model.parameters(): param.requires_grad = False
        if unfreeze_blocks >= 1:
            for param in model.layer4.parameters(): param.requires_grad = True
        if unfreeze_blocks >= 2:
            for param in model.layer3.parameters(): param.requires_grad = True
        UNFREEZE_ALL
        model.fc = nn.Linear(512, 2)
    elif name == "densenet":
        model = models.densenet121(weights=None)  # trained whole
        model.classifier = nn.Linear(1024, 2)
    else:
        model = models.vit_b_16(weights=None)
        for param in model.parameters(): param.requires_grad = False
        model.heads = nn.Linear(768, 2)
    return model


def main(args, loader):
    model = CALL
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    for epoch in range(3):
        model.train()
        AFTER
        for x, y in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
'''
FULL = "if unfreeze_blocks >= 5:\n            for param in model.parameters(): param.requires_grad = True"


def _fz202(call: str, unfreeze_all: str = FULL, after: str = "pass", source: str = BUILDER) -> list:
    src = source.replace("UNFREEZE_ALL", unfreeze_all).replace("CALL", call).replace("AFTER", after)
    return [(d.row, d.message) for d in check_source(src, "train.py", select=["FZ202", "FZ201"])]


def _row(text: str, src: str) -> int:
    return next(i for i, line in enumerate(src.splitlines(), 1) if text in line)


def test_the_arm_is_judged_on_the_call_and_named():
    found = _fz202("build(args.model, args.unfreeze_blocks)")
    assert len(found) == 1, found
    row, msg = found[0]
    assert row == _row("model = CALL", BUILDER) + FULL.count("\n")
    # with the dial at 4 and below, bn1, layer1 and layer2 stay frozen whatever it says (layer3/4 may train)
    assert msg.startswith("`model.bn1`, `model.layer1` and `model.layer2` (torchvision.models.resnet18) are frozen "
                          "with requires_grad only by `build(...)` in its `name == \"resnet\"` arm (unless "
                          "`unfreeze_blocks >= 5`, which unfreezes all of it)"), msg
    assert "their 10 BatchNorm layers" in msg


def test_without_a_full_unfreeze_the_message_says_no_unless():
    found = _fz202("build(args.model, args.unfreeze_blocks)", unfreeze_all="pass")
    assert len(found) == 1 and "unless" not in found[0][1] and "in its `name == \"resnet\"` arm" in found[0][1]


@pytest.mark.parametrize("call,parts", [
    # the literal dial is evaluated: 0 leaves all of it frozen, 1 trains layer4
    ("build(args.model, 0)", "`model` (torchvision.models.resnet18) is frozen"),
    ("build(args.model, unfreeze_blocks=1)", "`model.bn1`, `model.layer1`, `model.layer2` and 1 more"),
    ("build(\"resnet\", args.unfreeze_blocks)", "`model.bn1`, `model.layer1` and `model.layer2`"),
    # the default (1) is read where the call leaves it out
    ("build(args.model)", "`model.bn1`, `model.layer1`, `model.layer2` and 1 more"),
])
def test_literal_arguments_are_read(call, parts):
    found = _fz202(call)
    assert len(found) == 1 and found[0][1].startswith(parts), found


@pytest.mark.parametrize("call", [
    "build(\"vit\", args.unfreeze_blocks)",  # the ViT arm: LayerNorm keeps no statistics
    "build(\"densenet\")",  # the densenet arm trains it all
    "build(args.model, 5)",  # the full fine-tune: nothing frozen
    "build(args.model, unfreeze_blocks=6)",
])
def test_a_call_that_rules_the_frozen_batchnorm_out_is_silent(call):
    assert _fz202(call) == []


@pytest.mark.parametrize("after", [
    "if args.model == \"resnet\":\n            model.eval()",  # the arm's test, as the call names it
    "if args.unfreeze_blocks < 5:\n            model.eval()",  # the dial's: the partly frozen runs
])
def test_eval_chosen_by_the_settings_the_arm_and_dial_read_is_silent(after):
    assert _fz202("build(args.model, args.unfreeze_blocks)", after=after) == []
    # a test on another setting does not choose the frozen run
    assert len(_fz202("build(args.model, args.unfreeze_blocks)", after=after.replace("args.", "args.other_"))) == 1


@pytest.mark.parametrize("unfreeze_all", [
    # a test inside a loop is an epoch's (gradual unfreezing), not another run: the unfreeze counts as made
    "for epoch in range(3):\n            if epoch > 1:\n"
    "                for param in model.parameters(): param.requires_grad = True",
    # the else arm of a test unfreezes it all: no run named to claim
    "if unfreeze_blocks < 5:\n            pass\n        else:\n"
    "            for param in model.parameters(): param.requires_grad = True",
])
def test_unfreezes_of_all_that_are_not_another_setting_still_count(unfreeze_all):
    assert _fz202("build(args.model, args.unfreeze_blocks)", unfreeze_all=unfreeze_all) == []


def test_a_name_bound_again_on_the_same_path_is_no_arm():
    rebound = BUILDER.replace("    return model\n", "    if name == \"saved\":\n        model = torch.load(\"m.pt\")\n"
                                                  "    return model\n")
    assert _fz202("build(args.model, 0)", source=rebound) == []
    assert len(_fz202("build(args.model, 0)")) == 1


def test_a_public_per_architecture_builder():
    """ct_unfreeze_blocks/phase2_train.py, its builder and loop as they are (weights, the dial up to 5,
    the first conv replaced): resnet18's bn1 is frozen on every run but the full fine-tune."""
    src = '''
import argparse
import torch
import torch.nn as nn
import torch.optim as optim
import torchvision.models as models


def build_vision_model(model_name, unfreeze_blocks, in_channels, num_classes=2):
    if model_name == 'resnet':
        model = models.resnet18(weights=models.ResNet18_Weights.IMAGENET1K_V1)
        for param in model.parameters(): param.requires_grad = False
        if unfreeze_blocks >= 1:
            for param in model.layer4.parameters(): param.requires_grad = True
        if unfreeze_blocks >= 2:
            for param in model.layer3.parameters(): param.requires_grad = True
        if unfreeze_blocks >= 3:
            for param in model.layer2.parameters(): param.requires_grad = True
        if unfreeze_blocks >= 4:
            for param in model.layer1.parameters(): param.requires_grad = True
        if unfreeze_blocks >= 5:
            for param in model.parameters(): param.requires_grad = True
        original_conv = model.conv1
        model.conv1 = nn.Conv2d(in_channels, original_conv.out_channels,
                                kernel_size=original_conv.kernel_size, stride=original_conv.stride,
                                padding=original_conv.padding, bias=False)
        model.conv1.weight.requires_grad = True
        model.fc = nn.Linear(model.fc.in_features, num_classes)
    elif model_name == 'efficientnet':
        model = models.efficientnet_b0(weights=models.EfficientNet_B0_Weights.IMAGENET1K_V1)
        for param in model.parameters(): param.requires_grad = False
        if unfreeze_blocks >= 1:
            for param in model.features[7:].parameters(): param.requires_grad = True
        model.classifier[1] = nn.Linear(model.classifier[1].in_features, num_classes)
    return model


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--model', type=str, default='resnet')
    parser.add_argument('--unfreeze_blocks', type=int, default=1)
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = build_vision_model(args.model, args.unfreeze_blocks, 7).to(device)
    criterion = nn.CrossEntropyLoss()
    trainable_params = [p for p in model.parameters() if p.requires_grad]
    optimizer = optim.Adam(trainable_params, lr=1e-3)
    for epoch in range(10):
        model.train()
        for images, labels in train_loader:
            images, labels = images.to(device), labels.to(device)
            optimizer.zero_grad()
            loss = criterion(model(images), labels)
            loss.backward()
            optimizer.step()
'''
    found = [(d.row, d.message) for d in check_source(src, "phase2_train.py", select=["FZ202"])]
    assert len(found) == 1, found
    row, msg = found[0]
    assert row == _row("model = build_vision_model(", src) and msg.startswith(
        "`model.bn1` (torchvision.models.resnet18) is frozen with requires_grad only by `build_vision_model(...)` in "
        "its `model_name == 'resnet'` arm (unless `unfreeze_blocks >= 5`, which unfreezes all of it) and "
        "`model.train()` puts it in train mode: its BatchNorm layer keeps updating"), msg


@pytest.mark.parametrize("constant,call,found", [
    ('ARCH = "vit"', "build(ARCH, args.unfreeze_blocks)", 0),  # a constant of the module picks the ViT
    ('ARCH = "resnet"', "build(ARCH, args.unfreeze_blocks)", 1),
    ("FULL = 5", "build(args.model, FULL)", 0),
])
def test_constants_of_the_module_are_read(constant, call, found):
    source = BUILDER.replace("\n\ndef build(", f"\n{constant}\n\n\ndef build(")
    assert len(_fz202(call, source=source)) == found


def test_a_full_unfreeze_under_a_constant_is_made():
    """`if FINETUNE_ALL:` with `FINETUNE_ALL = True`: no other run, the unfreeze of all is made."""
    source = BUILDER.replace("\n\ndef build(", "\nFINETUNE_ALL = True\n\n\ndef build(")
    assert _fz202("build(args.model, 0)", unfreeze_all="if FINETUNE_ALL:\n"
                  "            for param in model.parameters(): param.requires_grad = True", source=source) == []
    source = source.replace("FINETUNE_ALL = True", "FINETUNE_ALL = False")
    assert len(_fz202("build(args.model, 0)", unfreeze_all="if FINETUNE_ALL:\n"
                      "            for param in model.parameters(): param.requires_grad = True", source=source)) == 1


PROJECTS = Path(__file__).parent / "projects"


def _project(cli, tmp_path, call: str) -> list:
    """builderarms_bad (the builder in models/factory.py) with its call changed."""
    root = tmp_path / "p"
    shutil.copytree(PROJECTS / "builderarms_bad", root)
    train = root / "train.py"
    train.write_text(train.read_text().replace("build_model(args.arch)", call))
    r = cli(root, "check", "--no-cache", "--select", "FZ202", "--format", "json", ".")
    return [(Path(d["filename"]).name, d["location"]["row"], d["message"]) for d in json.loads(r.out)]


@pytest.mark.parametrize("call,arm", [
    ("build_model(args.arch)", "resnet50) is frozen with requires_grad only by `build_model(...)` in its "
                               "`arch == \"resnet\"` arm"),
    ("build_model(\"efficientnet\")", "efficientnet_b0) is frozen with requires_grad only by `build_model(...)` in "
                                      "its `arch == \"efficientnet\"` arm"),
    ("build_model(arch=\"vit\", num_classes=3)", None),  # the ViT arm: no BatchNorm
    ("build_model(\"convnext\")", None),  # the else arm: ViT as well
])
def test_a_builder_of_another_file_is_read_arm_by_arm(cli, tmp_path, call, arm):
    found = _project(cli, tmp_path, call)
    if arm is None:
        assert found == []
    else:
        assert len(found) == 1 and found[0][:2] == ("train.py", 13) and arm in found[0][2], found


def test_the_summary_records_each_arm_frozen_whole(tmp_path):
    """Only an arm whose model is frozen whole on every path of it is recorded (a dial's partial
    unfreeze is not taken from another file), with the tests of its `if`s and the signature."""
    from freezelint.check.engine import parse
    from freezelint.check.facts import Facts
    from freezelint.check.flow import flows_of
    from freezelint.check.whole_model import frozen_records

    src = (PROJECTS / "builderarms_bad" / "models" / "factory.py").read_text()
    facts = Facts.of(parse(src))
    ret = frozen_records(facts, flows_of(facts).summaries)["functions"]["build_model"]["ret"]
    assert ret["signature"] == 'arch, num_classes=2'
    assert [(a["parts"][""][0], a["when"]) for a in ret["arms"]] == [
        ("torchvision.models.resnet50", [['arch == "resnet"', 0]]),
        ("torchvision.models.efficientnet_b0", [['arch == "resnet"', 1], ['arch == "efficientnet"', 0]]),
    ]
    dial = src.replace('        model.fc = nn.Linear', '        if num_classes > 2:\n'
                       '            model.layer4.requires_grad_(True)\n        model.fc = nn.Linear')
    facts = Facts.of(parse(dial))
    ret = frozen_records(facts, flows_of(facts).summaries)["functions"]["build_model"]["ret"]
    assert [a["parts"][""][0] for a in ret["arms"]] == ["torchvision.models.efficientnet_b0"]


def test_constants_of_the_builders_file_rule_its_arms_out(cli, tmp_path):
    """`if ARCH == "resnet":` with `ARCH = "vit"` in the builder's file: the summary records no
    resnet arm; the caller's own constants are read only for the arguments it passes."""
    root = tmp_path / "p"
    shutil.copytree(PROJECTS / "builderarms_bad", root)
    factory = root / "models" / "factory.py"
    factory.write_text(factory.read_text().replace('if arch == "resnet":', 'if ARCH == "resnet":').replace(
        "\n\ndef build_model(", '\nARCH = "vit"\n\n\ndef build_model('))
    r = cli(root, "check", "--no-cache", "--select", "FZ202", "--format", "json", ".")
    found = json.loads(r.out)
    # the efficientnet arm is still there (`arch` is the caller's setting)
    assert len(found) == 1 and "efficientnet_b0" in found[0]["message"], found
    train = root / "train.py"
    train.write_text(train.read_text().replace("build_model(args.arch)", "build_model(ARCH)").replace(
        "\n\ndef main(", '\nARCH = "vit"\n\n\ndef main('))
    r = cli(root, "check", "--no-cache", "--select", "FZ202", "--format", "json", ".")
    assert json.loads(r.out) == []


def test_an_else_arm_is_named_by_its_if():
    src = '''
import torch
import torch.nn as nn
import torchvision.models as models


def build(name):
    if name == "vit":
        model = models.vit_b_16(weights=None)
    else:
        model = models.mobilenet_v2(weights=None)
        model.features.requires_grad_(False)
    return model


def main(args, loader):
    model = build(args.arch)
    optimizer = torch.optim.SGD(model.classifier.parameters(), lr=0.1)
    model.train()
    for x, y in loader:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
'''
    found = [d.message for d in check_source(src, "train.py", select=["FZ202"])]
    assert len(found) == 1 and found[0].startswith(
        "`model.features` (torchvision.models.mobilenet_v2) is frozen with requires_grad only by `build(...)` in the "
        "`else` arm of its `if name == \"vit\"`"), found


def test_a_full_unfreeze_in_the_same_body_is_another_run():
    """FZ303's near-miss before it put the probe in eval(): `if full:` unfreezes all and leaves;
    the other run trains the frozen resnet in the train mode a new model starts in."""
    src = '''
import torch
import torchvision

def build(loader, full=False):
    model = torchvision.models.resnet18(weights=None)
    model.requires_grad_(False)
    model.fc.requires_grad_(True)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad])
    if full:
        model.requires_grad_(True)
        return model
    EVAL
    for x, y in loader:
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return model
'''
    found = [(d.row, d.message) for d in check_source(src.replace("EVAL", "pass"), "train.py", select=["FZ202"])]
    assert len(found) == 1 and found[0][0] == 7 and "(unless `full`, which unfreezes all of it)" in found[0][1], found
    assert check_source(src.replace("EVAL", "model.eval()"), "train.py", select=["FZ202"]) == []


def test_every_claimed_arm_is_named_on_the_one_finding():
    frozen_densenet = BUILDER.replace(
        "model = models.densenet121(weights=None)  # trained whole",
        "model = models.densenet121(weights=None)\n        model.requires_grad_(False)")
    found = _fz202("build(args.model, args.unfreeze_blocks)", unfreeze_all="pass", source=frozen_densenet)
    assert len(found) == 1, found
    msg = found[0][1]
    assert "by `build(...)` in its `name == \"resnet\"` arm (and the same in its `name == \"densenet\"` arm)" in msg
    # a call that rules the densenet arm out names only the resnet one
    [(_, alone)] = _fz202('build("resnet", args.unfreeze_blocks)', unfreeze_all="pass", source=frozen_densenet)
    assert "and the same in" not in alone
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    model = torchvision.models.densenet121(weights=None).requires_grad_(False).train()
    bn = model.features.norm0
    before = bn.running_mean.clone()
    model(torch.randn(2, 3, 32, 32))
    assert not torch.equal(before, bn.running_mean)  # the frozen densenet's statistics moved


# A builder whose arm hands the model to a function that freezes it only under a flag
# (`def set_trainable(model, feature_extracting): if feature_extracting: ...`): the flag comes from
# the module's constant through the builder's parameter. Off, nothing is frozen; left to a setting
# of the run, nothing known is.
FLAGGED = '''
import torch
from torch import nn
from torchvision import models

FEATURE_EXTRACT = {flag}


def set_trainable(model, feature_extracting):
    if feature_extracting:
        for param in model.parameters():
            param.requires_grad = False


def build(arch, classes, feature_extract):
    net = None
    if arch == "resnet":
        net = models.resnet18(weights="DEFAULT")
        set_trainable(net, feature_extract)
        net.fc = nn.Linear(net.fc.in_features, classes)
    elif arch == "vgg":
        net = models.vgg11_bn(weights="DEFAULT")
        set_trainable(net, feature_extract)
        net.classifier[6] = nn.Linear(4096, classes)
    return net


net = build("resnet", 2, {given})
opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=1e-3, momentum=0.9)
for epoch in range(5):
    net.train()
    for x, y in loader:
        opt.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
'''


@pytest.mark.parametrize("flag,given,rows", [
    ("True", "FEATURE_EXTRACT", [28]),   # the constant switches the freeze on
    ("False", "FEATURE_EXTRACT", []),    # off: nothing is frozen
    ("True", "True", [28]),
    ("True", "False", []),
    ("True", "args.feature_extract", []),  # a setting of the run: nothing known is frozen
])
def test_a_freeze_under_a_flag_of_the_function_handed_the_model_follows_the_flag(flag, given, rows):
    found = check_source(FLAGGED.format(flag=flag, given=given), "train.py", select=["FZ202"])
    assert [d.row for d in found] == rows


def test_a_flag_given_a_literal_at_the_inner_call_is_read():
    src = FLAGGED.format(flag="True", given="True").replace("set_trainable(net, feature_extract)",
                                                            "set_trainable(net, False)")
    assert check_source(src, "train.py", select=["FZ202"]) == []
