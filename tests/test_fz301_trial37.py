"""FZ301 of trial 37: every parameter of the model frozen, then param groups over its submodules
(torchvision's DeepLabV3 fine-tuning): a group that holds frozen parameters only is reported as a
freeze of that submodule would be; a group something of which was unfrozen or replaced since is not."""

from __future__ import annotations

import textwrap

import pytest

from freezelint import codes
from freezelint.check.engine import check_text

ALL_STATIC = frozenset(c for c, i in codes.CATALOGUE.items() if i.static)

GROUPS = """
import torch
import torchvision

model = torchvision.models.segmentation.deeplabv3_resnet50(weights=None)
for param in model.parameters():
    param.requires_grad = False
model.classifier[4] = torch.nn.Conv2d(256, 5, 1)
{between}
optimizer = torch.optim.SGD(
    [
        {{"params": model.backbone.parameters(), "lr": 0.001}},
        {{"params": model.classifier.parameters(), "lr": 0.01}},
    ],
    lr=0.01, momentum=0.9, weight_decay=1e-4,
)
"""


def _fz301(src: str) -> list:
    return [d for d in check_text(textwrap.dedent(src), "ex.py", ALL_STATIC, force=True).diagnostics
            if d.code == "FZ301"]


@pytest.mark.parametrize("between, trains", [
    ("pass", "`model.classifier[4]`, replaced since"),
    ("model.classifier.requires_grad_(True)", "`model.classifier`, unfrozen again"),  # holds the new [4]
])
def test_a_group_inside_the_frozen_model_holds_frozen_parameters_only(between, trains):
    found = _fz301(GROUPS.format(between=between))
    assert len(found) == 1, found
    # what trains since the freeze is named: not "all of `model` is" alone
    assert "SGD gets every parameter of `model.backbone` while `model.backbone` is frozen (all of `model` is but " \
           f"{trains})" in found[0].message


@pytest.mark.parametrize("between", [
    "model.requires_grad_(True)",  # all of it trains again
    "model.backbone.requires_grad_(True)",
    "for p in model.backbone.layer4.parameters():\n    p.requires_grad = True",  # part of the group trains
    "model.backbone = torchvision.models.resnet50(weights=None)",  # a new backbone, not frozen
    # a new layer in the backbone (trial 37's DeepLab for grayscale input): the group trains in part
    "model.backbone.add_module('gray', torch.nn.Conv2d(1, 3, 1))",
])
def test_a_group_something_of_which_was_unfrozen_or_replaced_since_is_not_reported(between):
    assert _fz301(GROUPS.format(between=between)) == []


def test_a_group_given_before_the_freeze_is_not_this_case():
    src = GROUPS.format(between="pass").replace(
        "for param in model.parameters():\n    param.requires_grad = False\n", "")
    assert _fz301(src + "for param in model.parameters():\n    param.requires_grad = False\n") == []


def _messages(src: str, code: str, select=ALL_STATIC) -> list[str]:
    return [d.message for d in check_text(textwrap.dedent(src), "ex.py", select, force=True).diagnostics
            if d.code == code]


INLINE = """
import torch
import torchvision

model = torchvision.models.resnet18(weights=None)
model.layer1.requires_grad_ = False
optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
"""


def test_a_broken_freeze_is_named_by_the_code_of_the_finding_on_its_line():
    assert any(d.code == "FZ101" and d.row == 6 for d in
               check_text(textwrap.dedent(INLINE), "ex.py", ALL_STATIC, force=True).diagnostics)
    [msg] = _messages(INLINE, "FZ301")
    assert "(`model.layer1.requires_grad_ = False` freezes nothing as written: FZ101)" in msg
    assert "once FZ101 is fixed, " in msg and "FZ102" not in msg
    [msg] = _messages(INLINE, "FZ301", frozenset({"FZ301"}))  # FZ101 not selected: no code to look up
    assert "freezes nothing as written)" in msg and "once that freeze works, " in msg


CLASS = """
import torch
import torchvision
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = torchvision.models.resnet18(weights=None)
        self.head = nn.Linear(1000, 2)
        {freeze}
        self.backbone.eval()

    def forward(self, x):
        return self.head(self.backbone(x))


model = Net()
opt = torch.optim.Adam(model.parameters(), lr=1e-4)
for epoch in range(10):
    model.train()
    model(torch.randn(2, 3, 64, 64)).mean().backward()
    opt.step()
"""


@pytest.mark.parametrize("freeze,code", [("self.backbone.requires_grad_ = False", "FZ101"),
                                         ("self.backbone.requires_grad = False", "FZ102")])
def test_a_broken_freeze_in_init_gets_the_caveat_at_the_constructor_call(freeze, code):
    src = CLASS.format(freeze=freeze)
    [fz301] = _messages(src, "FZ301")
    assert f"while `Net(...)` is meant to freeze parameters of `model.backbone` (`{freeze}` in `Net.__init__` " \
        f"freezes nothing as written: {code}) in this scope: once {code} is fixed, " in fz301
    [fz201] = _messages(src, "FZ201")
    assert f"Net puts `self.backbone` in eval mode in __init__ and means to freeze its parameters (`{freeze}` " \
        f"freezes nothing as written: {code}), but does not override train()" in fz201


def test_a_working_freeze_in_init_has_no_caveat():
    src = CLASS.format(freeze="self.backbone.requires_grad_(False)")
    [fz301] = _messages(src, "FZ301")
    assert "while `Net(...)` freezes parameters of `model.backbone` in this scope: those take" in fz301
    [fz201] = _messages(src, "FZ201")
    assert "in eval mode in __init__ and freezes its parameters, but" in fz201


def test_a_broken_freeze_in_init_of_another_file_gets_the_caveat(cli, tmp_path):
    from conftest import write
    write(tmp_path / "pyproject.toml", "[tool.freezelint]\n")
    cls, main = CLASS.format(freeze="self.backbone.requires_grad_ = False").split("\n\nmodel = Net()")
    write(tmp_path / "net.py", cls)
    write(tmp_path / "main.py", "import torch\nfrom net import Net\n\nmodel = Net()" + main)
    r = cli(tmp_path, "check", "--no-cache", "--format", "concise", ".")
    assert "main.py:5:24: FZ301 Adam gets every parameter of `model` while `Net(...)` is meant to freeze parameters " \
        "of `model.backbone` (`self.backbone.requires_grad_ = False` in `Net.__init__` freezes nothing as written: " \
        "FZ101) in this scope: once FZ101 is fixed" in r.out, r.out


def test_an_optimizer_of_a_part_of_a_model_frozen_whole_gets_no_filter_fix():
    """Every parameter it gets is frozen: a filter on requires_grad would leave it an empty list,
    which the optimizer refuses."""
    src = """
    import torch
    import torchvision

    model = torchvision.models.resnet18(weights=None)
    model.requires_grad_(False)
    params = [p for p in model.layer4.parameters()]
    optimizer = torch.optim.AdamW(params)
    """
    [d] = _fz301(src)
    assert "AdamW gets every parameter of `model.layer4` while `model.layer4` is frozen (all of `model` is)" \
        in d.message and d.fix is None


RESNET = """
import torch
import torch.nn as nn
import torchvision

model = torchvision.models.resnet18(weights=None)
for p in model.parameters():
    p.requires_grad = False
{between}
optimizer = torch.optim.SGD([{{"params": model.layer4.parameters(), "lr": 1e-3}}, {{"params": model.fc.parameters()}}],
                            lr=0.01, momentum=0.9)
"""

UNFREEZE = "model.layer4.requires_grad_(True)\n"


@pytest.mark.parametrize("between", [
    UNFREEZE + 'setattr(model, "fc", nn.Linear(512, 10))',
    UNFREEZE + "def unfreeze(m):\n    for p in m.parameters(recurse=False):\n        p.requires_grad = True\n"
    "model.fc.apply(unfreeze)",
    "def unfreeze(m):\n    m.requires_grad_(True)\nmodel.apply(unfreeze)",
    UNFREEZE + "head = model.fc\nfor p in head.parameters():\n    p.requires_grad = True",
    UNFREEZE + 'head = getattr(model, "fc")\nhead.requires_grad_(True)',
    UNFREEZE + "class Tuner:\n    def __init__(self, m):\n        self.m = m\n    def unfreeze(self):\n"
    "        self.m.fc.requires_grad_(True)\nTuner(model).unfreeze()",
    UNFREEZE + "def unfreeze_head():\n    model.fc.requires_grad_(True)\nunfreeze_head()",  # the model as a global
    UNFREEZE + 'for p in model.get_submodule("fc").parameters():\n    p.requires_grad = True',
    UNFREEZE + 'for n, m in model.named_modules():\n    if n == "fc":\n        m.requires_grad_(True)',
    UNFREEZE + "for m in model.modules():\n    if isinstance(m, nn.Linear):\n        m.requires_grad_(True)",
    UNFREEZE + "for m in model.fc.modules():\n    m.requires_grad_(True)",
    UNFREEZE + "for m in [model.fc]:\n    m.requires_grad_(True)",
    UNFREEZE + 'parts = {"head": model.fc}\nparts["head"].requires_grad_(True)',
    UNFREEZE + "model.fc.weight = nn.Parameter(torch.zeros(1000, 512))\nmodel.fc.bias = nn.Parameter(torch.zeros(1000))",
    UNFREEZE + 'model._modules["fc"] = nn.Linear(512, 10)',
    'for name, child in model.named_children():\n    if name in ("layer4", "fc"):\n        child.requires_grad_(True)',
    UNFREEZE + "list(model.children())[-1].requires_grad_(True)",
    UNFREEZE + "list(map(lambda m: m.requires_grad_(True), [model.fc]))",
    # only layer4's BatchNorms train again: the layer4 group is not all frozen
    "for m in model.modules():\n    if isinstance(m, nn.BatchNorm2d):\n        m.requires_grad_(True)",
])
def test_a_group_the_code_may_have_unfrozen_or_replaced_out_of_sight_is_not_reported(between):
    assert _fz301(RESNET.format(between=between)) == []


def test_a_layer_put_in_at_a_negative_index_of_the_group_is_not_reported():
    src = """
    import torch
    import torch.nn as nn
    import torchvision

    model = torchvision.models.mobilenet_v2(weights=None)
    for p in model.parameters():
        p.requires_grad = False
    model.features.requires_grad_(True)
    model.classifier[-1] = nn.Linear(1280, 10)
    optimizer = torch.optim.SGD([{"params": model.features.parameters()}, {"params": model.classifier.parameters()}],
                                lr=0.01, momentum=0.9)
    """
    assert _fz301(src) == []


@pytest.mark.parametrize("between,part", [
    (UNFREEZE, "model.fc"),
    ("model.layer4[1] = torchvision.models.resnet.BasicBlock(512, 512)", "model.fc"),
    ("for p in model.layer4[-1].parameters():\n    p.requires_grad = True", "model.fc"),
    ("model.fc = nn.Linear(model.fc.in_features, 10)", "model.layer4"),
    ("model.fc.weight.requires_grad = True\nmodel.fc.bias.requires_grad = True", "model.layer4"),
    ("model = model.to('cpu')\nmodel.load_state_dict(torch.load('w.pt'))", "model.layer4"),
    ("if torch.cuda.is_available():\n    model.fc.requires_grad_(True)", "model.layer4"),
    ("params = [p for p in model.fc.parameters()]\nmodel.fc.requires_grad_(False)", "model.layer4"),
])
def test_a_group_that_stays_frozen_while_another_part_changes_is_reported(between, part):
    [d] = _fz301(RESNET.format(between=between))
    assert f"SGD gets every parameter of `{part}` while `{part}` is frozen (all of `model` is" in d.message
