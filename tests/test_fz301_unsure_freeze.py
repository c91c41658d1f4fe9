"""FZ301 and a freeze by `x.requires_grad = False` where the checker cannot tell what `x` is (trial 34:
`model = torch.load(...)`, `model.encoder.requires_grad = False`). On a Parameter that store is the
freeze; on a Module it sets a plain attribute and freezes nothing. FZ301's unsafe fix, a filter on
requires_grad, then changes nothing either (the encoder still trains) and hides the finding: the
fix is not offered there, and the message says what to check. Where `model.encoder` is used as a
Module in the same scope, FZ102 reports the store and FZ301 counts it as the freeze meant."""

from __future__ import annotations

import textwrap

import torch
import torch.nn as nn

from freezelint.check.engine import check_text

LOADED = """
import torch

model = torch.load("m.pth")
model.encoder.requires_grad = False
{use}
optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
for x, y in loader:
    optimizer.zero_grad()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()
"""


class _Run:
    """The findings on `source`, and its text after `--fix --unsafe-fixes` (None: nothing fixed)."""

    def __init__(self, source: str, codes=("FZ102", "FZ301")) -> None:
        text = textwrap.dedent(source).lstrip()
        self.diagnostics = check_text(text, "x.py", frozenset(codes)).diagnostics
        self.new_text = check_text(text, "x.py", frozenset(codes), fix="unsafe").new_text


_run = _Run


def test_a_filter_after_a_store_on_a_module_leaves_it_training():
    """Why no fix: what the filter would build, on real torch objects."""
    model = nn.Sequential()
    model.add_module("encoder", nn.Linear(4, 4))
    model.add_module("head", nn.Linear(4, 2))
    model.encoder.requires_grad = False  # the store of the trial's file: a plain attribute
    kept = [p for p in model.parameters() if p.requires_grad]
    assert len(kept) == 4 and model.encoder.weight.requires_grad  # the encoder is still in it, training


def test_no_fix_on_a_freeze_of_a_part_of_unknown_kind():
    out = _run(LOADED.format(use=""))
    assert [(d.code, d.row) for d in out.diagnostics] == [("FZ301", 6)]
    d = out.diagnostics[0]
    assert d.fix is None and out.new_text is None
    assert d.message.endswith(
        "filter on requires_grad, once the freeze is sure to work: `model.encoder.requires_grad = False` freezes "
        "nothing if `model.encoder` is an nn.Module (call `model.encoder.requires_grad_(False)` then)")


def test_no_fix_on_a_parameter_of_unknown_kind_either():
    """`model.cls_token` of a loaded model is a Parameter, and the store a real freeze; but nothing in
    the file says so: a filter built on it is a guess."""
    out = _run(LOADED.replace("model.encoder.requires_grad", "model.cls_token.requires_grad").format(use=""))
    assert [(d.code, d.row) for d in out.diagnostics] == [("FZ301", 6)] and out.diagnostics[0].fix is None
    assert out.new_text is None


def test_a_part_used_as_a_module_is_fz102_and_the_freeze_meant():
    out = _run(LOADED.format(use="n_enc = sum(p.numel() for p in model.encoder.parameters())"))
    assert [(d.code, d.row) for d in out.diagnostics] == [("FZ102", 4), ("FZ301", 6)]
    assert "`model.encoder` is used as an nn.Module (`model.encoder.parameters()` at line 5)" \
        in out.diagnostics[0].message
    assert "freezes nothing as written: FZ102" in out.diagnostics[1].message
    assert "once the freeze is sure to work" not in out.diagnostics[1].message


def test_a_known_parameter_keeps_its_fix():
    """`model.fc.weight` of a torchvision model is a Parameter by the submodule table: the store is the
    freeze, and the filter is offered as before."""
    out = _run("""
    import torch
    import torchvision

    model = torchvision.models.resnet18(weights=None)
    model.fc.weight.requires_grad = False
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    """)
    assert [(d.code, d.row) for d in out.diagnostics] == [("FZ301", 6)]
    assert "once the freeze is sure to work" not in out.diagnostics[0].message
    assert "[p for p in model.parameters() if p.requires_grad]" in out.new_text


def test_a_parameter_of_a_class_of_the_file_keeps_its_fix():
    out = _run("""
    import torch
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.cls_token = nn.Parameter(torch.zeros(1, 4))
            self.head = nn.Linear(4, 2)

    model = Net()
    model.cls_token.requires_grad = False
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    """)
    assert [(d.code, d.row) for d in out.diagnostics] == [("FZ301", 12)]
    assert "[p for p in model.parameters() if p.requires_grad]" in out.new_text
    net = nn.Module()
    net.cls_token = nn.Parameter(torch.zeros(1, 4))
    net.cls_token.requires_grad = False  # on a Parameter the store is the freeze the filter sees
    assert [p for p in net.parameters() if p.requires_grad] == []


def test_a_part_fz102_takes_by_its_name_is_the_freeze_meant():
    """FZ102's other claim (`model.backbone` of a Module the function is given and trains): FZ301
    reads the same fact, says the freeze does nothing as written, and its filter comes with FZ102's
    `requires_grad_` fix, not alone."""
    out = _run("""
    import torch

    def finetune(model, loader):
        model.train()
        model.backbone.requires_grad = False
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
        for x, y in loader:
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
    """)
    assert [(d.code, d.row) for d in out.diagnostics] == [("FZ102", 5), ("FZ301", 6)]
    assert "`model.backbone` is meant to be frozen (`model.backbone.requires_grad = False` freezes nothing as " \
        "written: FZ102)" in out.diagnostics[1].message
    assert "model.backbone.requires_grad_(False)" in out.new_text
