"""FZ301 for a freeze written as a loop over `model.modules()` (or `named_modules()`, or the children) that
picks the modules it freezes by a test on the loop's names: an isinstance or class-name test, a test on the
module's name. It freezes part of the model, which part not known, as `model.apply(fn)` of a function that
picks does: an optimizer over all of the model is reported, one over a named part is not. The two forms agree,
inline, through a helper of the file and through a helper of another project file. A loop that unfreezes,
an optimizer filtered on requires_grad, a picked freeze undone later, and a loop that only reads stay silent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import write
from freezelint.check.engine import check_source

SOURCE = """
import torch
import torch.nn as nn
import torchvision


def freeze_bn(m):
    if isinstance(m, nn.BatchNorm2d):
        for p in m.parameters():
            p.requires_grad = False


def main(loader):
    model = torchvision.models.resnet18()
{loop}
    optimizer = torch.optim.SGD({params}, lr=0.1, momentum=0.9)
    return optimizer
"""

BN_PARAMS = """
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            for p in m.parameters():
                p.requires_grad = False"""


def _found(loop: str, params: str = "model.parameters()") -> list:
    source = SOURCE.format(loop=loop.strip("\n"), params=params)
    compile(source, "x.py", "exec")
    return check_source(source, select=["FZ301"])


def _opt_row(loop: str) -> int:
    source = SOURCE.format(loop=loop.strip("\n"), params="")
    return source[:source.index("optimizer = ")].count("\n") + 1


@pytest.mark.parametrize("loop,picks", [
    (BN_PARAMS, "isinstance(m, nn.BatchNorm2d)"),
    ("""
    for m in model.modules():
        if 'BatchNorm' in m.__class__.__name__:
            m.weight.requires_grad = False
            m.bias.requires_grad = False""", "'BatchNorm' in m.__class__.__name__"),
    ("""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.requires_grad_(False)""", "isinstance(m, nn.BatchNorm2d)"),
    ("""
    for name, m in model.named_modules():
        if name.startswith('layer1'):
            m.requires_grad_(False)""", "name.startswith('layer1')"),
    ("""
    for name, child in model.named_children():
        if name != 'fc':
            for p in child.parameters():
                p.requires_grad = False""", "name != 'fc'"),
    ("""
    modules = model.modules()
    for m in modules:
        if type(m) == nn.BatchNorm2d:
            m.eval()
            m.requires_grad_(False)""", "type(m) == nn.BatchNorm2d"),
    # a `continue` before the freeze picks as an `if` around it does
    ("""
    for m in model.modules():
        if not isinstance(m, nn.BatchNorm2d):
            continue
        m.requires_grad_(False)""", "isinstance(m, nn.BatchNorm2d)"),
    ("""
    for name, m in model.named_modules():
        if name.startswith('fc'):
            continue
        m.requires_grad_(False)""", "not name.startswith('fc')"),
])
def test_a_loop_that_picks_the_modules_it_freezes_fires(loop, picks):
    [finding] = _found(loop)
    assert finding.row == _opt_row(loop)
    assert f"part of `model` is frozen (in the modules `{picks}` picks) in this scope" in finding.message


def test_the_loop_and_apply_forms_agree():
    [loop] = _found(BN_PARAMS)
    [applied] = _found("    model.apply(freeze_bn)")
    assert (loop.row, applied.row) == (_opt_row(BN_PARAMS), _opt_row("    model.apply(freeze_bn)"))
    assert loop.message.replace("`isinstance(m, nn.BatchNorm2d)`", "`model.apply(freeze_bn)`") == applied.message


def test_a_loop_over_a_part_of_the_model_names_that_part():
    loop = BN_PARAMS.replace("model.modules()", "model.layer4.modules()")
    [finding] = _found(loop)
    assert "part of `model.layer4` is frozen (in the modules `isinstance(m, nn.BatchNorm2d)` picks)" \
        in finding.message
    assert _found(loop, "model.fc.parameters()") == []


@pytest.mark.parametrize("loop,params", [
    (BN_PARAMS, "model.fc.parameters()"),  # picks nothing the optimizer is given, as far as is known
    (BN_PARAMS, "[p for p in model.parameters() if p.requires_grad]"),
    (BN_PARAMS.replace("False", "True"), "model.parameters()"),  # unfreezes
    (BN_PARAMS + "\n" + BN_PARAMS.replace("False", "True"), "model.parameters()"),  # undone by the same pick
    (BN_PARAMS + "\n    model.requires_grad_(True)", "model.parameters()"),  # undone whole
    ("""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            print(m.weight.requires_grad)""", "model.parameters()"),  # reads only
    ("""
    frozen = 0
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            frozen += sum(not p.requires_grad for p in m.parameters())""", "model.parameters()"),
    ("""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.requires_grad = False""", "model.parameters()"),  # FZ102's store: freezes nothing, as under apply
    ("""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.requires_grad_(False)
    for x in loader:
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.requires_grad_(True)""", "model.parameters()"),  # undone later in the scope
])
def test_near_misses_are_silent(loop, params):
    assert _found(loop, params) == []


def test_an_unfreeze_that_picks_leaves_the_rest_of_a_whole_freeze_frozen():
    [finding] = _found("""
    model.requires_grad_(False)
    for m in model.modules():
        if isinstance(m, nn.Linear):
            m.requires_grad_(True)""")
    assert "part of `model` is frozen (all but the modules `isinstance(m, nn.Linear)` picks, unfrozen again)" \
        in finding.message, finding.message


LOCAL_HELPER = """
import torch
import torch.nn as nn
import torchvision


def freeze_bns(net):
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.requires_grad_(False)


def main(loader):
    model = torchvision.models.resnet18()
    freeze_bns(model)
    optimizer = torch.optim.SGD({params}, lr=0.1, momentum=0.9)
    return optimizer
"""


def test_a_helper_of_the_file_that_loops_so_fires():
    [finding] = check_source(LOCAL_HELPER.format(params="model.parameters()"), select=["FZ301"])
    assert finding.row == 16 and "`freeze_bns(...)` freezes parameters of `model`" in finding.message
    assert check_source(LOCAL_HELPER.format(params="model.fc.parameters()"), select=["FZ301"]) == []


def test_fz202_reports_the_loop_once_as_before():
    # the BatchNorm frozen by requires_grad only: FZ202's finding stays at the loop's freeze, one of it
    source = LOCAL_HELPER.format(params="model.parameters()")
    assert [(d.code, d.row) for d in check_source(source, select=["FZ202"])] == [("FZ202", 10)]


HELPERS = """
import torch.nn as nn


def freeze_bn_loop(model):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()
            for p in m.parameters():
                p.requires_grad = False


def unfreeze_linear(model):
    for m in model.modules():
        if isinstance(m, nn.Linear):
            m.requires_grad_(True)
"""

TRAIN = """
import torch
import torchvision
from helpers import freeze_bn_loop, unfreeze_linear


def main(opt):
    model = torchvision.models.resnet50()
    {call}
    optimizer = torch.optim.AdamW({params}, opt.lr)
    return optimizer
"""


def _cli_found(cli, root: Path, call: str, params: str = "model.parameters()") -> list[tuple[str, int, str]]:
    write(root / "pyproject.toml", "")
    write(root / "helpers.py", HELPERS)
    write(root / "train.py", TRAIN.format(call=call, params=params))
    r = cli(root, "check", "--no-cache", "--format", "json", "--select", "FZ301", "train.py")
    assert r.code in (0, 1), r.err
    return [(d["code"], d["location"]["row"], d["message"]) for d in json.loads(r.out)]


def test_a_helper_of_another_file_that_loops_so_fires(cli, tmp_path):
    [(code, row, message)] = _cli_found(cli, tmp_path, "freeze_bn_loop(model)")
    assert (code, row) == ("FZ301", 9)
    assert "`freeze_bn_loop(...)` freezes parameters of `model`" in message


@pytest.mark.parametrize("call,params", [
    ("freeze_bn_loop(model)", "model.fc.parameters()"),
    ("freeze_bn_loop(model)", "filter(lambda p: p.requires_grad, model.parameters())"),
    ("unfreeze_linear(model)", "model.parameters()"),
])
def test_near_misses_through_another_file(cli, tmp_path, call, params):
    assert _cli_found(cli, tmp_path, call, params) == []


CONSTRUCTED = """
import torch
import torch.nn as nn
import torchvision


def fix_bn(m):
    if isinstance(m, nn.BatchNorm2d):
        m.eval()
        m.requires_grad_(False)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = torchvision.models.resnet18()
        self.head = nn.Linear(1000, 10)
{freeze}


def main():
    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    opt_head = torch.optim.Adam(net.head.parameters(), lr=1e-3)
    opt_backbone = torch.optim.Adam(net.backbone.parameters(), lr=1e-3)
"""


@pytest.mark.parametrize("freeze", [
    "        self.backbone.apply(fix_bn)",
    """
        for m in self.backbone.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
                m.requires_grad_(False)""",
])
def test_a_constructor_that_picks_so_freezes_part_of_what_it_walks(freeze):
    source = CONSTRUCTED.format(freeze=freeze.strip("\n"))
    lines = source.splitlines()
    found = [(d.row, d.message) for d in check_source(source, select=["FZ301"])]
    assert [row for row, _ in found] == [i + 1 for i, line in enumerate(lines) if "opt" in line and "head" not in line]
    assert all("`Net(...)` freezes parameters of `net.backbone`" in message for _, message in found)
