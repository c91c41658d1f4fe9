"""FZ301 through `model.apply(fn)`. Where `fn` is a function of the file (or a lambda) that freezes every
parameter of the module it is given (`m.requires_grad_(False)`, a loop over `m.parameters()`): `apply` runs
it on every module, so all of the receiver is frozen, as a loop over `model.backbone.parameters()` freezes it.
Where `fn` freezes what a direct call `fn(model)` would be taken to freeze, but picks the modules (a class
test, EfficientDet's class-name list, a weight of each module that has one), part of the receiver is frozen,
which part not known: an optimizer over all of the model holds it. A function that unfreezes again what it
froze, a module attribute set (`m.requires_grad = False`, FZ102's mistake: it freezes nothing), a library
initialiser, a name not known, and an optimizer filtered on requires_grad stay silent."""

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


def set_bn_eval(m):
    classname = m.__class__.__name__
    if classname.find("BatchNorm") != -1:
        m.eval()
        m.weight.requires_grad = False
        m.bias.requires_grad = False


def freeze_flagged(m):
    if FREEZE:
        m.requires_grad_(False)


def freeze_weight(m):
    if getattr(m, "weight", None) is not None:
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
    "model.apply(lambda m: m.requires_grad_(False))",
])
def test_a_whole_freeze_run_through_apply_fires(apply):
    assert _rows(apply) == [_opt_row(apply)]


@pytest.mark.parametrize("apply", [
    "model.apply(freeze_bn)",  # the BatchNorm layers it picks: some parameters of the model
    "model.apply(set_bn_eval)",  # the classic idiom, by class name, freezing their parameters too
    "model.apply(freeze_flagged)",  # a setting that is on, as a direct call reads it
    "model.apply(freeze_weight)",  # the weight of each module that has one
    "model.apply(freeze_helper)",  # through a helper of the file, as a direct call is read
    "model.apply(lambda m: m.requires_grad_(False) if isinstance(m, nn.BatchNorm2d) else None)",
    "model.apply(lambda m: [p.requires_grad_(False) for p in m.parameters()] if isinstance(m, nn.Conv2d) else None)",
    "model.apply(lambda m: isinstance(m, nn.Linear) and m.weight.requires_grad_(False))",
])
def test_a_freeze_of_the_modules_fn_picks_fires(apply):
    [finding] = check_source(HEAD + BODY.format(apply=apply, params="model.parameters()"), select=["FZ301"])
    assert finding.row == _opt_row(apply)
    assert "part of `model` is frozen (in the modules `model.apply(" in finding.message


@pytest.mark.parametrize("apply", [
    "model.apply(freeze_attr)",  # sets an attribute of the module: freezes nothing (FZ102)
    "model.apply(freeze_then_head)",  # unfreezes again
    "model.apply(torch.nn.init.zeros_)",
    "model.apply(unknown)",
    "model.apply(lambda m: m.requires_grad_(True))",
    "model.apply(lambda m: print(m.requires_grad))",
    "model.apply(lambda m: setattr(m, 'requires_grad', False))",  # FZ102's: freezes nothing
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
    # EfficientDet-style: the modules picked by their class names, some parameters of the model
    picked = source.replace("            for param in m.parameters():",
                            "            if 'BiFPN' in m.__class__.__name__:\n"
                            "                for param in m.parameters():").replace(
        "                param.requires_grad = False", "                    param.requires_grad = False")
    compile(picked, "x.py", "exec")
    [finding] = check_source(picked, select=["FZ301"])
    assert "part of `model.layer1` is frozen (in the modules `model.layer1.apply(freeze_backbone)` picks)" \
        in finding.message and "when `opt.head_only` is true" in finding.message


EFFDET = """
import torch
import torch.nn as nn
import torchvision


def freeze_backbone(m):
    classname = m.__class__.__name__
    for ntl in ["EfficientNet", "BiFPN"]:
        if ntl in classname:
            for param in m.parameters():
                param.requires_grad = False


def unfreeze_all(m):
    m.requires_grad_(True)


def main(opt):
    model = torchvision.models.efficientnet_b0()
    model.apply(freeze_backbone)
    {between}
    optimizer = torch.optim.AdamW({params}, opt.lr)
    return optimizer
"""


@pytest.mark.parametrize("between,params,fires", [
    ("pass", "model.parameters()", True),
    ("model.apply(unfreeze_all)", "model.parameters()", False),  # every parameter trainable again
    ("model.requires_grad_(True)", "model.parameters()", False),
    ("pass", "[p for p in model.parameters() if p.requires_grad]", False),
    ("pass", "model.classifier.parameters()", False),  # what the classifier holds of the picked: not known
])
def test_efficientdets_freeze_of_the_modules_its_class_names_pick(between, params, fires):
    source = EFFDET.format(between=between, params=params)
    rows = [d.row for d in check_source(source, select=["FZ301"])]
    assert rows == ([source[:source.index("optimizer = ")].count("\n") + 1] if fires else [])


def test_an_unfreeze_of_the_modules_fn_picks_leaves_the_rest_frozen():
    source = EFFDET.replace("model.apply(freeze_backbone)", "model.requires_grad_(False)").format(
        between="model.apply(lambda m: m.requires_grad_(True) if isinstance(m, nn.BatchNorm2d) else None)",
        params="model.parameters()")
    assert [d.code for d in check_source(source, select=["FZ301"])] == ["FZ301"]
