"""FZ202 on a frozen *stage* that holds BatchNorm (P4): some BatchNorm layers of a known
model frozen with requires_grad (all of each one's parameters), the model trained in train mode,
nothing putting the frozen part back in eval()."""

import textwrap

import pytest

from freezelint.check.engine import check_source

RESNET = """
import torch
import torch.nn as nn
import torchvision

model = torchvision.models.resnet50(weights=None)
FREEZE
opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01)
for x, y in loader:
    model.train()
    AFTER
    opt.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
"""


def _fz202(code: str, after: str = "pass", freeze: str = "") -> list:
    src = textwrap.dedent(code).replace("FREEZE", freeze).replace("AFTER", after)
    return [(d.row, d.message) for d in check_source(src, "train.py", select=["FZ202", "FZ201"])
            if d.code == "FZ202"]


@pytest.mark.parametrize("freeze,parts,count", [
    # a loop over a stage's parameters, requires_grad_ on stages, a name-prefix loop
    ("for p in model.layer1.parameters():\n    p.requires_grad = False", "`model.layer1` (", "its 10 BatchNorm"),
    ("model.layer1.requires_grad_(False)", "`model.layer1` (torchvision.models.resnet50) is frozen", "its 10 BatchNorm"),
    ("model.layer1.requires_grad_(False)\nmodel.bn1.requires_grad_(False)",
     "`model.bn1` and `model.layer1` (torchvision.models.resnet50) are frozen", "their 11 BatchNorm"),
    (('for n, p in model.named_parameters():\n    if not n.startswith(("layer3", "layer4", "fc")):\n'
      '        p.requires_grad = False'),
     "`model.bn1`, `model.layer1` and `model.layer2` (torchvision.models.resnet50) are frozen", "their 24 BatchNorm"),
])
def test_a_frozen_stage_is_reported_with_its_parts_and_batchnorm_count(freeze, parts, count):
    found = _fz202(RESNET, freeze=freeze)
    assert len(found) == 1, found
    row, msg = found[0]
    assert row == (7 + freeze.count("\n") if freeze.startswith("for") else 7) and msg.startswith(parts) and count in msg
    assert "`model.train()` puts" in msg and "call `.eval()` on the frozen part" in msg


@pytest.mark.parametrize("freeze", [
    'for name in ["conv1", "bn1", "layer1"]:\n    for p in getattr(model, name).parameters():\n        p.requires_grad = False',
    'for name in ("bn1", "layer1"):\n    getattr(model, name).requires_grad_(False)',
    'getattr(model, "bn1").requires_grad_(False)\ngetattr(model, "layer1").requires_grad_(False)',
])
def test_stages_frozen_by_name_with_getattr(freeze):
    [(_, msg)] = _fz202(RESNET, freeze=freeze)
    assert msg.startswith("`model.bn1` and `model.layer1` (torchvision.models.resnet50) are frozen"), msg
    assert "their 11 BatchNorm layers" in msg


@pytest.mark.parametrize("freeze", [
    # which parts: not known
    "for name in names:\n    getattr(model, name).requires_grad_(False)",
    'for name in ["bn1", "layer1"] + extra:\n    getattr(model, name).requires_grad_(False)',
    # the same parts unfrozen again by name before training
    'for name in ["bn1", "layer1"]:\n    getattr(model, name).requires_grad_(False)\n'
    'for name in ["layer1", "bn1"]:\n    for p in getattr(model, name).parameters():\n        p.requires_grad = True',
    # parts without BatchNorm
    'for name in ["conv1", "fc"]:\n    getattr(model, name).requires_grad_(False)',
])
def test_getattr_freezes_the_checker_cannot_name_or_that_leave_no_batchnorm_frozen_are_silent(freeze):
    assert _fz202(RESNET, freeze=freeze) == []


def test_getattr_freezes_name_the_parts_that_stay_frozen_and_torch_agrees():
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    model = torchvision.models.resnet50(weights=None)
    for name in ["conv1", "bn1", "layer1"]:
        for p in getattr(model, name).parameters():
            p.requires_grad = False
    model.train()
    before = model.bn1.running_mean.clone()
    model(torch.randn(2, 3, 32, 32))
    assert not model.bn1.weight.requires_grad and not torch.equal(before, model.bn1.running_mean)


def test_frozen_stage_reproducers():
    repro_08 = """
        import torch
        import torchvision

        backbone = torchvision.models.resnet50()
        layers_to_train = ["layer4"]
        for name, parameter in backbone.named_parameters():
            if all([not name.startswith(layer) for layer in layers_to_train]):
                parameter.requires_grad_(False)
        params = [p for p in backbone.parameters() if p.requires_grad]
        opt = torch.optim.SGD(params, lr=0.01)
        backbone.train()
        for _ in range(2):
            loss = backbone(torch.randn(2, 3, 64, 64)).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
    """
    found = _fz202(repro_08)
    assert [r for r, _ in found] == [9] and "43 BatchNorm layers" in found[0][1]  # as many as the runtime's FZ502
    # the list changed in place: the name test is not read
    assert _fz202(repro_08.replace('backbone.train()', 'layers_to_train.append("layer3")\n        backbone.train()')) \
        == []
    repro_08b = """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.stem = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))
                self.head = nn.Linear(8, 2)

            def forward(self, x):
                return self.head(self.stem(x).mean((2, 3)))

        net = Net()
        for p in net.stem.parameters():
            p.requires_grad = False
        opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.01)
        net.train()
        for _ in range(2):
            loss = net(torch.randn(4, 3, 16, 16)).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    """
    found = _fz202(repro_08b)
    assert [r for r, _ in found] == [16] and found[0][1].startswith("`net.stem` (Net) is frozen")
    assert "its BatchNorm layer keeps updating its running statistics" in found[0][1]
    # a stem of a class of the project (not torch.nn layers): what it holds is not known
    assert _fz202(repro_08b.replace("nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))", "Stem()")) == []
    # a BatchNorm layer of the class frozen in __init__ is reported there; not again where Net() builds it
    in_init = repro_08b.replace("self.head = nn.Linear(8, 2)", "self.head = nn.Linear(8, 2)\n"
                                "                self.bn = nn.BatchNorm2d(8)\n"
                                "                self.bn.requires_grad_(False)")
    found = _fz202(in_init)
    assert [r for r, _ in found] == [11] and "in __init__" in found[0][1]
    # the stem frozen there too: the same, one report
    both = in_init.replace("self.bn.requires_grad_(False)", "self.bn.requires_grad_(False)\n"
                           "                self.stem.requires_grad_(False)")
    assert [r for r, _ in _fz202(both)] == [11]


@pytest.mark.parametrize("freeze,after", [
    # the stage put back in eval() after every train()
    ("model.layer1.requires_grad_(False)", "model.layer1.eval()"),
    # a part without BatchNorm in the table (fc, conv1)
    ("model.fc.requires_grad_(False)", "pass"),
    ("model.conv1.requires_grad_(False)", "pass"),
    # frozen, then unfrozen before training
    ("model.layer1.requires_grad_(False)\nmodel.layer1.requires_grad_(True)", "pass"),
    # only BatchNorm layers here and there inside trained stages (a name test that misses downsample.1):
    # not a frozen stage, and eval() is not the fix
    (('for n, p in model.named_parameters():\n    if "bn" not in n and not n.startswith("fc"):\n'
      '        p.requires_grad = False'), "pass"),
    # a name test not understood
    ("for n, p in model.named_parameters():\n    if n in frozen_names:\n        p.requires_grad = False", "pass"),
])
def test_near_misses_of_a_frozen_stage_are_silent(freeze, after):
    assert _fz202(RESNET, freeze=freeze, after=after) == []


def test_items_of_a_top_level_sequential_are_stages():
    code = """
        import torch
        import torchvision

        model = torchvision.models.efficientnet_b0(weights=None)
        model.features[0].requires_grad_(False)
        model.features[1].requires_grad_(False)
        opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01)
        for x, y in loader:
            model.train()
            opt.zero_grad()
            model(x).sum().backward()
            opt.step()
    """
    found = _fz202(code)
    assert [r for r, _ in found] == [6]
    assert found[0][1].startswith("`model.features[0]` and `model.features[1]` (torchvision.models.efficientnet_b0)")
    assert "their 3 BatchNorm layers" in found[0][1]


def test_a_stage_frozen_but_the_model_only_evaluated():
    code = """
        import torch
        import torchvision

        model = torchvision.models.resnet50(weights=None)
        model.layer1.requires_grad_(False)
        model.eval()
        with torch.no_grad():
            for x in loader:
                model(x)
    """
    assert _fz202(code) == []
    # an optimizer, but the model in eval() after the freeze and never put back in train mode
    trained_in_eval = code.replace("model.eval()", "opt = torch.optim.SGD(model.fc.parameters(), lr=0.1)\n"
                                   "        model.eval()").replace("with torch.no_grad():", "if True:")
    assert _fz202(trained_in_eval) == []


def test_frozen_batchnorm_and_detection_models_are_silent():
    frozen_bn = """
        import torch
        import torchvision
        from torchvision.ops import FrozenBatchNorm2d

        model = torchvision.models.resnet50(weights=None, norm_layer=FrozenBatchNorm2d)
        model.layer1.requires_grad_(False)
        opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01)
        model.train()
        for x, y in loader:
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    """
    assert _fz202(frozen_bn) == []
    detection = """
        import torch
        import torchvision

        model = torchvision.models.detection.fasterrcnn_resnet50_fpn(weights="DEFAULT", trainable_backbone_layers=3)
        for p in model.backbone.body.layer1.parameters():
            p.requires_grad = False
        opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01)
        model.train()
        for images, targets in loader:
            opt.zero_grad()
            sum(model(images, targets).values()).backward()
            opt.step()
    """
    assert _fz202(detection) == []


def test_a_train_override_that_puts_the_stage_in_eval_is_silent():
    code = """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.stem = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))
                self.head = nn.Linear(8, 2)

            def forward(self, x):
                return self.head(self.stem(x).mean((2, 3)))

            def train(self, mode=True):
                super().train(mode)
                self.stem.eval()
                return self

        net = Net()
        net.stem.requires_grad_(False)
        opt = torch.optim.SGD(net.head.parameters(), lr=0.01)
        for x in loader:
            net.train()
            opt.zero_grad()
            net(x).sum().backward()
            opt.step()
    """
    assert _fz202(code) == []
    without = code.replace("""
            def train(self, mode=True):
                super().train(mode)
                self.stem.eval()
                return self
""", "")
    assert without != code and len(_fz202(without)) == 1  # any train() override is trusted with the mode


def test_fz201_owns_a_stage_put_in_eval_once_that_train_undoes():
    """The stage frozen and put in eval() once, then model.train() every epoch: FZ201 reports the
    train(); FZ202 stays silent (the part was put in eval mode after the freeze), so no layer is
    reported twice."""
    code = textwrap.dedent(RESNET).replace("FREEZE", "model.layer1.requires_grad_(False)\nmodel.layer1.eval()") \
        .replace("AFTER", "pass")
    codes = [(d.row, d.code) for d in check_source(code, "train.py", select=["FZ201", "FZ202"])]
    assert codes == [(11, "FZ201")]


def test_gradual_unfreezing_and_a_trainable_head_batchnorm():
    """A public script (layer4 unfrozen later; `p` reused by both loops: the unfreeze is read from its
    own loop) and repro_03 (a class whose head holds a BatchNorm left to train)."""
    gradual = """
        import torch
        import torch.nn as nn
        import torchvision.models as models

        model = models.resnet18(weights="DEFAULT")
        for p in model.parameters():
            p.requires_grad = False
        model.fc = nn.Linear(512, 10)
        optimizer = torch.optim.AdamW([{"params": model.fc.parameters(), "lr": 1e-3}])
        for epoch in range(1, 20):
            if epoch == 5:
                for p in model.layer4.parameters():
                    p.requires_grad = True
                optimizer.add_param_group({"params": model.layer4.parameters(), "lr": 1e-4})
            model.train()
            for imgs, labels in loader:
                optimizer.zero_grad()
                nn.functional.cross_entropy(model(imgs), labels).backward()
                optimizer.step()
    """
    found = _fz202(gradual)
    assert [r for r, _ in found] == [8]
    assert found[0][1].startswith("`model.bn1`, `model.layer1`, `model.layer2` and 1 more (torchvision.models.resnet18)")
    assert "their 15 BatchNorm layers" in found[0][1]
    # layer4 to layer1 all unfrozen again: no stage stays frozen
    assert _fz202(gradual.replace("model.layer4.parameters():\n", "model.parameters():\n", 1)) == []
    head_bn = """
        import torch
        import torch.nn as nn
        from torchvision.models import resnet18

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.backbone = resnet18()
                for param in self.backbone.parameters():
                    param.requires_grad = False
                self.bn = nn.BatchNorm1d(1000)
                self.fc = nn.Linear(1000, 3)

            def forward(self, x):
                return self.fc(self.bn(self.backbone(x)))

        model = Net()
        optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
        for epoch in range(3):
            model.train()
            for x, y in loader:
                model(x).sum().backward()
                optimizer.step()
    """
    found = _fz202(head_bn)
    assert [r for r, _ in found] == [18] and found[0][1].startswith("`model.backbone` (Net: its `backbone` is ")
    assert "its 20 BatchNorm layers" in found[0][1]
