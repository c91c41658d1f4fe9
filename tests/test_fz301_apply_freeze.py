"""FZ301 through `model.apply(fn)` where `fn` is a function of the file that freezes every parameter of the
module it is given (`m.requires_grad_(False)`, a loop over `m.parameters()`): `apply` runs it on every
module, so all of the receiver is frozen, as a loop over `model.backbone.parameters()` freezes it. A function
that picks modules (a class test), or may not freeze (a flag it reads, a helper, an unfreeze), a lambda, a
module attribute set (`m.requires_grad = False`, FZ102's mistake: it freezes nothing), one weight, and an
optimizer filtered on requires_grad stay silent."""

from __future__ import annotations

import pytest

from freezelint.check.engine import check_source

HEAD = """
import torch
import torch.nn as nn
import torchvision

FREEZE = True


def freeze_loop(m):
    for p in m.parameters():
        p.requires_grad = False


def freeze_method(m):
    \"\"\"Freeze the module given.\"\"\"
    m.requires_grad_(False)


def freeze_loop_method(module):
    for param in module.parameters():
        param.requires_grad_(False)


def freeze_bn(m):
    if isinstance(m, nn.BatchNorm2d):
        m.requires_grad_(False)


def freeze_flagged(m):
    if FREEZE:
        m.requires_grad_(False)


def freeze_weight(m):
    m.weight.requires_grad = False


def freeze_attr(m):
    m.requires_grad = False


def freeze_then_head(m):
    m.requires_grad_(False)
    m.fc.requires_grad_(True)


def freeze_helper(m):
    freeze_loop(m)
"""

BODY = """

def main(loader):
    model = torchvision.models.resnet18()
    {apply}
    optimizer = torch.optim.SGD({params}, lr=0.1, momentum=0.9)
    return optimizer
"""


def _rows(apply: str, params: str = "model.parameters()") -> list[int]:
    source = HEAD + BODY.format(apply=apply, params=params)
    compile(source, "x.py", "exec")
    return sorted(d.row for d in check_source(source, select=["FZ301"]))


def _opt_row(apply: str) -> int:
    source = HEAD + BODY.format(apply=apply, params="")
    return source[:source.index("optimizer = ")].count("\n") + 1


@pytest.mark.parametrize("apply", [
    "model.layer1.apply(freeze_loop)",
    "model.layer1.apply(freeze_method)",
    "model.features.apply(freeze_loop_method)",
    "model.apply(freeze_method)",
])
def test_a_whole_freeze_run_through_apply_fires(apply):
    assert _rows(apply) == [_opt_row(apply)]


@pytest.mark.parametrize("apply", [
    "model.apply(freeze_bn)",  # which modules it picks: what the model holds of them
    "model.apply(freeze_flagged)",  # a setting it reads
    "model.apply(freeze_weight)",  # one weight of each (and fails where there is none)
    "model.apply(freeze_attr)",  # sets an attribute of the module: freezes nothing (FZ102)
    "model.apply(freeze_then_head)",  # unfreezes again
    "model.apply(freeze_helper)",  # through a helper: not read
    "model.apply(lambda m: m.requires_grad_(False))",
    "model.apply(torch.nn.init.zeros_)",
    "model.apply(unknown)",
])
def test_an_apply_whose_freeze_is_not_certain_is_silent(apply):
    assert _rows(apply) == []


def test_an_optimizer_filtered_on_requires_grad_is_silent():
    assert _rows("model.layer1.apply(freeze_loop)", "[p for p in model.parameters() if p.requires_grad]") == []


def test_a_nested_function_run_through_apply_under_a_setting_fires():
    source = """
import torch
import torchvision


def main(opt):
    model = torchvision.models.resnet18()
    if opt.head_only:
        def freeze_backbone(m):
            for param in m.parameters():
                param.requires_grad = False

        model.layer1.apply(freeze_backbone)
    optimizer = torch.optim.SGD(model.parameters(), opt.lr, momentum=0.9, nesterov=True)
    return optimizer
"""
    [finding] = check_source(source, select=["FZ301"])
    assert finding.row == 14 and "`model.layer1` is frozen" in finding.message
    # YOLO-style: the modules picked by their class names, what the model holds of them not known
    picked = source.replace("            for param in m.parameters():",
                            "            if 'BiFPN' in m.__class__.__name__:\n"
                            "                for param in m.parameters():").replace(
        "                param.requires_grad = False", "                    param.requires_grad = False")
    compile(picked, "x.py", "exec")
    assert check_source(picked, select=["FZ301"]) == []
