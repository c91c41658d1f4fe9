"""FZ202 where the file calls `model.apply(fn)`: silent where `fn` may put BatchNorm layers in eval mode
out of sight, but not where `fn` (a function of the file, a lambda, or a function of another project file
through its summary) visibly sets no BatchNorm layer's mode (a weight initialiser: it never says eval,
train or training, and calls only library functions, builtins, methods of what it reads from the module,
and `reset_parameters()`; or one that sets modes only under a test that picks torch's leaf layers, as
`isinstance(m, nn.Dropout)` or a "Dropout" class-name test does). The frozen backbone's BatchNorm
statistics still move under `model.train()` then."""

from __future__ import annotations

import pytest

from freezelint.check.engine import check_source

DEFS = {
    "init_weights": """
def init_weights(m):
    \"\"\"Initialise the new head.\"\"\"
    classname = m.__class__.__name__
    if classname.find("Linear") != -1:
        nn.init.xavier_uniform_(m.weight)
        m.bias.data.fill_(0.0)
""",
    "reset": """
def reset(m):
    if hasattr(m, "reset_parameters"):
        m.reset_parameters()
""",
    "fix_norm": """
def fix_norm(m):
    if type(m).__name__.startswith("Batch"):
        m.eval()
""",
    "set_mode": """
def set_mode(m):
    m.training = False
""",
    "through_helper": """
def through_helper(m):
    set_norm(m)
""",
    "through_method": """
def through_method(m):
    m.freeze_stats()
""",
    "enable_dropout": """
def enable_dropout(m):
    if isinstance(m, (nn.Dropout, nn.Dropout2d)):
        m.train()
""",
    "enable_by_name": """
def enable_by_name(m):
    if m.__class__.__name__.startswith("Dropout"):
        m.train()
""",
    "conv_eval": """
def conv_eval(m):
    if m.__class__.__name__.find("Conv") != -1:
        m.eval()
""",
    "dropout_then_all": """
def dropout_then_all(m):
    if isinstance(m, nn.Dropout):
        m.train()
    m.eval()
""",
    "nested": """
def nested(m):
    def inner(x):
        x.freeze_stats()
    inner(m)
""",
}

SOURCE = """
import torch
import torch.nn as nn
import torchvision

from helpers import set_norm

{defs}

def main(loader):
    model = torchvision.models.resnet50()
    for p in model.parameters():
        p.requires_grad = False
    model.fc = nn.Linear(2048, 10)
    {apply}
    opt = torch.optim.SGD(model.fc.parameters(), lr=0.1, momentum=0.9)
    for epoch in range(3):
        model.train()
        for x, y in loader:
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
"""


def _source(apply: str) -> str:
    name = apply[apply.index("(") + 1:apply.index(")")]
    return SOURCE.format(defs=DEFS.get(name, ""), apply=apply)


def _rows(apply: str) -> list[int]:
    source = _source(apply)
    compile(source, "x.py", "exec")
    return sorted(d.row for d in check_source(source, select=["FZ202"]))


def _freeze_row(apply: str) -> int:
    source = _source(apply)
    return source[:source.index("p.requires_grad = False")].count("\n") + 1


@pytest.mark.parametrize("apply", [
    "model.fc.apply(init_weights)", "model.apply(reset)",
    "model.apply(lambda m: nn.init.zeros_(m.bias) if isinstance(m, nn.Linear) else None)",
    # modes set only where the test picks torch's leaf layers: no BatchNorm among them
    "model.apply(lambda m: m.eval() if isinstance(m, nn.Dropout) else None)",
    "model.apply(lambda m: m.train() if type(m) == nn.Dropout else None)",
    "model.apply(enable_dropout)", "model.apply(enable_by_name)",
])
def test_an_initialiser_run_through_apply_does_not_hide_the_frozen_batchnorm(apply):
    assert _rows(apply) == [_freeze_row(apply)]


@pytest.mark.parametrize("apply", [
    "model.apply(fix_norm)",  # puts BatchNorm layers in eval mode, by a class-name test not read
    "model.apply(set_mode)",  # sets the flag (FZ106's mistake, but it means eval)
    "model.apply(through_helper)",  # a function of the project: not known
    "model.apply(through_method)",  # a method of the module's class: not known
    "model.apply(nested)",
    "model.apply(set_norm)",  # imported
    "model.apply(lambda m: m.freeze_stats())",
    "model.apply(lambda m: m.eval() if isinstance(m, nn.BatchNorm2d) else None)",
    "model.apply(lambda m: m.eval() if isinstance(m, nn.Sequential) else None)",  # may hold BatchNorm
    "model.apply(lambda m: m.eval())",
    "model.apply(conv_eval)",  # a class name with "Conv" in it may hold BatchNorm (ConvBNReLU)
    "model.apply(dropout_then_all)",
])
def test_an_apply_that_may_set_modes_keeps_fz202_silent(apply):
    assert _rows(apply) == []


INIT = """
import torch.nn as nn


def init_weights(m):
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        nn.init.normal_(m.weight.data, 0.0, 0.02)


def set_bn_eval(m):
    classname = m.__class__.__name__
    if classname.find("BatchNorm") != -1:
        m.eval()


def through(m):
    set_bn_eval(m)


def enable_dropout(m):
    if type(m) == nn.Dropout:
        m.train()


def all_eval(m):
    if isinstance(m, nn.Dropout):
        m.train()
    else:
        m.eval()
"""


@pytest.mark.parametrize("fn,fires", [
    ("init_weights", True),  # a weight initialiser of another file
    ("set_bn_eval", False),  # puts BatchNorm layers in eval mode
    ("through", False),  # a function of the project that may
    ("enable_dropout", True),  # modes of the Dropout layers it picks only
    ("all_eval", False),  # the rest in eval mode
])
def test_a_function_of_another_file_run_through_apply(cli, tmp_path, fn, fires):
    import json

    from conftest import write

    source = SOURCE.format(defs="", apply=f"model.apply({fn})").replace(
        "from helpers import set_norm", f"from init import {fn}")
    write(tmp_path / "pyproject.toml", "")
    write(tmp_path / "init.py", INIT)
    write(tmp_path / "train.py", source)
    r = cli(tmp_path, "check", "--no-cache", "--format", "json", "--select", "FZ202", "train.py")
    assert r.code in (0, 1), r.err
    rows = [d["location"]["row"] for d in json.loads(r.out)]
    freeze = source.lstrip("\n")
    assert rows == ([freeze[:freeze.index("p.requires_grad = False")].count("\n") + 1] if fires else [])
