"""FZ202 on a part of an instance of a project Module class, frozen with requires_grad and trained in
train mode (leftthomas/SimCLR's linear.py: `self.f = Model().f`, Model's `f` the children of a resnet18
but its `fc`, gathered by `self.f.append(module)` under `if not isinstance(module, nn.Linear)`). Also a
torchvision model imported from its own module (`from torchvision.models.resnet import resnet18`).
Silent where what the part holds is not known."""

from __future__ import annotations

import textwrap

import pytest
import torch
import torch.nn as nn
from torchvision.models.resnet import resnet18

from freezelint.check.engine import check_text

MODEL = """
class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.f = []
        for module in resnet18().children():
            if not isinstance(module, nn.Linear):
                self.f.append(module)
        self.f = nn.Sequential(*self.f)
        self.g = nn.Linear(512, 128)
"""
PROBE = """
import torch
import torch.nn as nn
from torchvision.models.resnet import resnet18

{model}

class Net(nn.Module):
    def __init__(self, num_class=10):
        super().__init__()
        self.f = Model().{part}
        self.fc = nn.Linear(512, num_class)

    def forward(self, x):
        return self.fc(torch.flatten(self.f(x), 1))


model = Net()
for param in model.{part}.parameters():
    param.requires_grad = False
optimizer = torch.optim.Adam(model.fc.parameters(), lr=1e-3)
for epoch in range(3):
    model.train()
    {after}
    for x, y in loader:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
"""


def _found(src: str) -> list[tuple[int, str]]:
    out = check_text(textwrap.dedent(src).lstrip(), "linear.py", frozenset({"FZ202"}), force=True)
    return [(d.row, d.message) for d in out.diagnostics]


def _row(src: str, code: str) -> int:
    return next(i for i, line in enumerate(textwrap.dedent(src).lstrip().splitlines(), 1) if line.strip() == code)


def test_simclr_s_encoder_holds_the_resnet_s_batchnorm_on_real_torch():
    """What the class builds: every child of resnet18 but `fc`, BatchNorm among them, moving in train mode."""
    scope = {"nn": nn, "resnet18": resnet18}
    exec(compile(MODEL, "model.py", "exec"), scope)
    f = scope["Model"]().f
    assert sum(isinstance(m, nn.BatchNorm2d) for m in f.modules()) == 20
    f.requires_grad_(False)
    before = f[1].running_mean.clone()
    f.train()(torch.randn(2, 3, 32, 32))
    assert not torch.equal(before, f[1].running_mean)


@pytest.mark.parametrize("model", [
    MODEL,  # SimCLR's: filtered by a leaf class
    MODEL.replace("            if not isinstance(module, nn.Linear):\n    ", ""),  # every child, by index
    MODEL.replace("nn.Linear)", "(nn.Linear, nn.AdaptiveAvgPool2d))"),
    "class Model(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
    "        self.f = nn.Sequential(*list(resnet18().children())[:-1])\n",
])
def test_a_part_of_a_class_instance_holding_batchnorm(model):
    src = PROBE.format(model=model, part="f", after="pass")
    [(row, message)] = _found(src)
    assert row == _row(src, "param.requires_grad = False")
    assert "`model.f` (Net: its `f` is children of torchvision.models.resnet18)" in message
    assert "its 20 BatchNorm layers" in message


@pytest.mark.parametrize("model,part,after", [
    (MODEL, "f", "model.f.eval()"),  # the frozen part put back in eval mode
    (MODEL, "g", "pass"),  # a Linear: no BatchNorm
    (MODEL.replace("nn.Linear)", "nn.Sequential)"), "f", "pass"),  # a container class: which children stay is not known
    (MODEL.replace("if not isinstance(module, nn.Linear):", "if keep(module):"), "f", "pass"),  # a test not read
    (MODEL.replace("        self.g = nn.Linear(512, 128)\n", "        self.f.append(extra)\n"), "f", "pass"),
    ("class Model(nn.Module):\n    def __init__(self, f):\n        super().__init__()\n        self.f = f\n",
     "f", "pass"),  # what `f` is: not known here
])
def test_silent_where_the_part_holds_no_known_batchnorm_or_is_kept_in_eval(model, part, after):
    src = PROBE.format(model=model, part=part, after=after).replace("Model().", "Model(body)." if "(self, f)" in model
                                                                   else "Model().")
    assert _found(src) == []


def test_a_torchvision_model_imported_from_its_module():
    src = """
    import torch
    from torchvision.models.resnet import resnet50

    model = resnet50()
    for p in model.layer1.parameters():
        p.requires_grad = False
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.train()
    for x in loader:
        model(x).sum().backward()
        optimizer.step()
    """
    [(row, message)] = _found(src)
    assert row == _row(src, "p.requires_grad = False") and "torchvision.models.resnet50" in message
    assert _found(src.replace("torchvision.models.resnet import", "torchvision.models.detection import")) == []


# leftthomas/SimCLR: the encoder class in model.py, the linear probe in linear.py (FLOPs counted by thop,
# trained and validated by one helper whose train()/eval() a flag picks, all under `if __name__ == ...`)
SIMCLR_MODEL = "import torch.nn as nn\nfrom torchvision.models.resnet import resnet18\n\n" + MODEL
SIMCLR_LINEAR = """\
import torch
import torch.nn as nn
from thop import profile

from model import Model


class Net(nn.Module):
    def __init__(self, num_class=10):
        super(Net, self).__init__()
        self.f = Model().{part}
        self.fc = nn.Linear(2048, num_class)

    def forward(self, x):
        return self.fc(torch.flatten(self.f(x), start_dim=1))


def train_val(net, data_loader, train_optimizer):
    is_train = train_optimizer is not None
    net.train() if is_train else net.eval()
    with (torch.enable_grad() if is_train else torch.no_grad()):
        for data, target in data_loader:
            loss = nn.functional.cross_entropy(net(data), target)
            if is_train:
                train_optimizer.zero_grad()
                loss.backward()
                train_optimizer.step()


if __name__ == '__main__':
    model = Net(num_class=10)
    for param in model.{part}.parameters():
        param.requires_grad = False
    flops, params = {counter}(model, inputs=(torch.randn(1, 3, 32, 32),))
    optimizer = torch.optim.Adam(model.fc.parameters(), lr=1e-3)
    for epoch in range(1, 3):
        train_val(model, train_loader, optimizer)
        train_val(model, val_loader, None)
"""


def _project(cli, tmp_path, model: str, part: str = "f", counter: str = "profile") -> list[tuple[str, int, str]]:
    import json
    from pathlib import Path

    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (tmp_path / "model.py").write_text(model)
    (tmp_path / "linear.py").write_text(SIMCLR_LINEAR.format(part=part, counter=counter))
    r = cli(tmp_path, "check", "--format", "json", "--select", "FZ202", ".")
    assert r.code in (0, 1), r.err
    return [(Path(d["filename"]).name, d["location"]["row"], d["message"]) for d in json.loads(r.out)]


def test_simclr_s_linear_probe(cli, tmp_path):
    [(name, row, message)] = _project(cli, tmp_path, SIMCLR_MODEL)
    assert (name, row) == ("linear.py", SIMCLR_LINEAR.splitlines().index("        param.requires_grad = False") + 1)
    assert "`model.f` (Net: its `f` is children of torchvision.models.resnet18)" in message
    assert "`train_val(...)` puts it in train mode: its 20 BatchNorm layers" in message


@pytest.mark.parametrize("model,part,counter", [
    (SIMCLR_MODEL, "g", "profile"),  # a Linear
    (SIMCLR_MODEL.replace("resnet18().children()", "backbone().children()"), "f", "profile"),  # not a table model
    (SIMCLR_MODEL, "f", "unknown_tool"),  # handed to a function whose effects are not known
    (SIMCLR_MODEL + "\n    def fix(self):\n        for m in self.modules():\n"
     "            if isinstance(m, nn.BatchNorm2d):\n                m.eval()\n", "f", "profile"),  # deals with BatchNorm
])
def test_simclr_near_misses(cli, tmp_path, model, part, counter):
    assert _project(cli, tmp_path, model, part, counter) == []


def test_the_summary_records_what_an_instance_holds():
    from freezelint.check.summaries import summarise_text

    held = summarise_text(SIMCLR_MODEL)["classes"]["Model"]["held"]
    assert held == {"parts": {f"f.{c}": ["torchvision.models.resnet18", c]
                              for c in ("bn1", "layer1", "layer2", "layer3", "layer4")}, "unknown": []}
