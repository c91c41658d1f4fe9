"""Messages say only what the checker knows: a frozen submodule of unknown content is not said to
hold BatchNorm, and a freeze done by a helper names the helper and the part it freezes."""

from __future__ import annotations

import textwrap

import pytest

from freezelint.check.engine import check_source


def _messages(code: str, rule: str, *also: str) -> list[tuple[int, str]]:
    """`rule`'s findings, with `also` selected beside it."""
    return [(d.row, d.message) for d in check_source(textwrap.dedent(code).lstrip(), select=[rule, *also])
            if d.code == rule]


def test_fz201_frozen_submodule_claims_no_batchnorm_it_cannot_know():
    found = _messages("""
        import torch.nn as nn
        from transformers import AutoModel

        class Classifier(nn.Module):
            def __init__(self, name):
                super().__init__()
                self.bert = AutoModel.from_pretrained(name)
                self.bert.requires_grad_(False)
                self.bert.eval()
                self.head = nn.Linear(768, 2)
        """, "FZ201")
    assert [row for row, _ in found] == [9]
    msg = found[0][1]
    assert "`self.bert` back in training mode" in msg and "freezes its parameters" in msg
    assert "any dropout in it" in msg and "any BatchNorm statistics in it" in msg
    assert "freezes BatchNorm" not in msg


def test_fz201_frozen_submodule_needs_a_sign_that_it_stays_frozen():
    code = """
        import torch
        import torch.nn as nn

        class Probe(nn.Module):
            def __init__(self, encoder):
                super().__init__()
                self.encoder = encoder
                self.encoder.eval()
                self.head = nn.Linear(8, 2)

            def forward(self, x):
                return self.head(self.encoder(x))
        """
    assert _messages(code, "FZ201") == []
    no_grad = code.replace("return self.head(self.encoder(x))",
                           "with torch.no_grad():\n                    x = self.encoder(x)\n"
                           "                return self.head(x)")
    found = _messages(no_grad, "FZ201")
    assert [row for row, _ in found] == [8] and "runs it without grad in forward" in found[0][1]


def test_fz301_names_the_helper_and_the_part_it_freezes():
    found = _messages("""
        import torch

        def freeze_encoder(model, layers=6):
            for i in range(layers):
                for p in model.encoder.layer[i].parameters():
                    p.requires_grad = False

        freeze_encoder(net.backbone)
        optimizer = torch.optim.AdamW(net.parameters())
        head_only = torch.optim.AdamW(net.head.parameters())
        """, "FZ301")
    assert [row for row, _ in found] == [9]
    assert "`freeze_encoder(...)` freezes parameters of `net.backbone.encoder.layer[i]`" in found[0][1]


def test_a_broken_unfreeze_is_said_to_unfreeze_nothing():
    code = """
        import torch.nn as nn

        model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
        for p in model.parameters():
            p.requires_grad_ = True
            p.require_grad = True
            p.requires_grad == True
            p.requires_grad == flag
            p.requires_grad_ = False
        """
    found = dict(_messages(code, "FZ101") + _messages(code, "FZ103") + _messages(code, "FZ104"))
    assert "unfreezes nothing" in found[5] and "unfreezes nothing" in found[6] and "unfreezes nothing" in found[7]
    assert "freezes or unfreezes nothing" in found[8]
    assert "freezes nothing" in found[9] and "unfreezes" not in found[9]


def test_a_multi_line_statement_is_quoted_on_one_line():
    code = """
        import torch.nn as nn

        model = nn.Linear(2, 2)
        model.requires_grad = (
            False  # the head too
        )
        model.requires_grad == (
            False
        )
        """
    found = _messages(code, "FZ102") + _messages(code, "FZ104")
    assert [row for row, _ in found] == [4, 7]
    for _, msg in found:
        assert "\n" not in msg and "#" not in msg and "((" not in msg, msg
    assert "`model.requires_grad = False`" in found[0][1] and "`model.requires_grad_(False)`" in found[0][1]
    assert "`model.requires_grad == (False)` compares" in found[1][1] and "`model.requires_grad_(False)`" in found[1][1]


def test_fz104_on_an_object_of_unknown_kind_calls_requires_grad_as_an_unsafe_fix():
    from freezelint.check.engine import check_source as check

    found = check("def freeze(encoder):\n    encoder.requires_grad == False\n", select=["FZ104"])
    assert len(found) == 1 and "`encoder.requires_grad_(False)`" in found[0].message
    assert found[0].fix["applicability"] == "unsafe" and "not known to be" in found[0].fix["message"]


def test_fz301_names_the_weight_decay_of_the_param_group_that_holds_the_frozen_part():
    found = _messages("""
        import torch

        model.backbone.requires_grad_(False)
        opt = torch.optim.AdamW([{"params": model.parameters(), "weight_decay": 0.1}], lr=1e-3)
        opt = torch.optim.SGD([{"params": model.parameters(), "momentum": 0.0}], lr=0.1, momentum=0.9)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
        opt = torch.optim.AdamW([{"params": model.backbone.parameters()},
                                 {"params": model.head.parameters(), "weight_decay": 0.5}], weight_decay=0.2)
        """, "FZ301")
    reasons = {row: msg.split("applied through ")[1].split(", moving")[0] for row, msg in found}
    assert reasons == {
        4: "its param group's weight_decay=0.1",  # not AdamW's default 0.01
        # 5: the group turns momentum off: plain SGD, a zero grad moves nothing
        6: "AdamW's moving averages",  # weight_decay=0 written: no default decay
        7: "weight_decay=0.2",  # the frozen backbone's group takes the optimizer's value
    }


def _fz107(source: str) -> list[tuple[int, str, bool]]:
    found = check_source(textwrap.dedent(source).lstrip("\n"), "ex.py", select=["FZ107"])
    return [(d.row, d.message, d.fix is not None) for d in found]


def test_fz107_requires_grad_method_named_gets_advice_not_a_fix():
    # `x.requires_grad_()` would turn requires_grad on: the freeze is `(False)`, said, not written
    got = _fz107("""
        import torch.nn as nn
        head = nn.Linear(2, 2)
        head.requires_grad_
        head.weight.requires_grad_
    """)
    assert [(r, fix) for r, _, fix in got] == [(3, False), (4, False)]
    assert "Call `head.requires_grad_(False)` to freeze" in got[0][1]


def test_fz107_helper_that_needs_arguments_is_not_called_with_none():
    got = _fz107("""
        def freeze_bn(model, momentum=None):
            model.eval()

        def unfreeze(*, model):
            model.requires_grad_(True)

        freeze_bn
        unfreeze
    """)
    assert [(r, fix) for r, _, fix in got] == [(7, False), (8, False)]
    assert got[0][1].endswith("Call it with its arguments: `freeze_bn(...)`.")
    assert "nothing is unfrozen" in got[1][1]


def test_fz107_names_that_are_data_or_unknown_are_left_alone():
    assert _fz107("""
        import torch.nn as nn

        class Net(nn.Module):
            freeze = True  # a class-level flag

            def go(self):
                self.freeze
                self.freeze_at

        net = Net()
        net.freeze_at = 3
        opt.train
        hparams.freeze_encoder
        freeze_encoder
        model.frozen
        model.freezer
        model.evaluate
    """) == []


def test_fz107_claims_batchnorm_and_dropout_only_for_a_known_module():
    """A NumPy framework's `model.eval` is dead code too, but nothing says it has BatchNorm."""
    got = _fz107("""
        import numpy as np
        import torchvision

        def evaluate(net):
            net.eval
        model = torchvision.models.resnet18()
        model.eval
    """)
    assert [r for r, _, _ in got] == [5, 7]
    assert got[0][1].endswith("nothing is put in eval mode. Call it: `net.eval()`.")
    assert "BatchNorm statistics keep moving and Dropout stays on" in got[1][1]


@pytest.mark.parametrize("freeze,code", [
    ("for p in model.parameters():\n    p.requires_grad_ = False\n", "FZ101"),
    ("model.requires_grad = False\n", "FZ102"),
    ("for p in model.parameters():\n    p.require_grad = False\n", "FZ103"),
    ("for p in model.parameters():\n    p.requires_grad == False\n", "FZ104"),
])
def test_fz301_says_a_broken_freeze_is_meant_not_done(freeze, code):
    """FZ301 counts the freeze the author meant; beside FZ101-FZ104 saying it freezes nothing, its
    message must not say the model is frozen."""
    found = _messages("import torchvision, torch\nmodel = torchvision.models.resnet18()\n" + freeze +
                      "opt = torch.optim.AdamW(model.parameters())\n", "FZ301", code)
    assert len(found) == 1
    assert "`model` is meant to be frozen (`" in found[0][1] and f"freezes nothing as written: {code})" in found[0][1]
    assert f"once {code} is fixed, those take optimizer slots for nothing" in found[0][1]  # as written, they train
    alone = _messages("import torchvision, torch\nmodel = torchvision.models.resnet18()\n" + freeze +
                      "opt = torch.optim.AdamW(model.parameters())\n", "FZ301")  # the run does not report `code`
    assert len(alone) == 1 and code not in alone[0][1]
    assert "freezes nothing as written) in this scope: once that freeze works, those take optimizer slots" \
        in alone[0][1]
    fine = _messages("import torchvision, torch\nmodel = torchvision.models.resnet18()\n"
                     "model.requires_grad_(False)\nopt = torch.optim.AdamW(model.parameters())\n", "FZ301")
    assert "while `model` is frozen in this scope: those take optimizer slots" in fine[0][1]


@pytest.mark.parametrize("freeze,code", [
    ("for p in model.parameters():\n    p.requires_grad_ = False  # noqa: {code}\n", "FZ101"),
    ("model.requires_grad = False  # noqa: {code} -- kept on purpose\n", "FZ102"),
    ("for p in model.parameters():\n    p.require_grad = False  # noqa\n", "FZ103"),
])
def test_fz301_does_not_point_at_a_freeze_finding_its_noqa_hides(freeze, code):
    """With the broken freeze's own finding suppressed, FZ301 stays (the optimizer still trains
    those parameters) and keeps its explanation, but names no code the author chose to hide."""
    found = _messages("import torchvision, torch\nmodel = torchvision.models.resnet18()\n" + freeze.format(code=code) +
                      "opt = torch.optim.AdamW(model.parameters())\n", "FZ301", code)
    assert len(found) == 1 and code not in found[0][1]
    assert "freezes nothing as written) in this scope: once that freeze works, those take optimizer slots" \
        in found[0][1]
    other = _messages("import torchvision, torch\nmodel = torchvision.models.resnet18()\n" +
                      freeze.format(code="FZ304").replace("# noqa\n", "# noqa: FZ304\n") +
                      "opt = torch.optim.AdamW(model.parameters())\n", "FZ301", code)
    assert f"freezes nothing as written: {code})" in other[0][1]  # another code's noqa hides nothing of it


def test_fz301_names_the_lightning_hook_that_freezes_not_this_scope():
    src = """
        import lightning as L
        import torch
        import torchvision

        class Lit(L.LightningModule):
            def __init__(self):
                super().__init__()
                self.model = torchvision.models.resnet18()

            def on_train_epoch_start(self):
                self.model.layer1.requires_grad_(False)

            def configure_optimizers(self):
                return torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)
        """
    found = _messages(src, "FZ301")
    assert len(found) == 1 and "`self.model.layer1` is frozen in `on_train_epoch_start`:" in found[0][1]
    init = _messages(src.replace("def on_train_epoch_start(self):", "def __init__x(self):")
                     .replace("super().__init__()\n                self.model = torchvision.models.resnet18()",
                              "super().__init__()\n                self.model = torchvision.models.resnet18()\n"
                              "                self.model.layer1.requires_grad_(False)"), "FZ301")
    assert len(init) == 1 and "is frozen in `__init__`:" in init[0][1]


def test_fz201_through_a_training_helper_says_to_re_freeze_inside_it():
    found = _messages("""
        import torch
        import torchvision

        def train_one_epoch(model, optimizer, loader):
            model.train()
            for x, y in loader:
                optimizer.zero_grad()
                torch.nn.functional.cross_entropy(model(x), y).backward()
                optimizer.step()

        def freeze_bn(model):
            for m in model.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.eval()

        model = torchvision.models.resnet18()
        optimizer = torch.optim.SGD(model.fc.parameters(), lr=0.1)
        for epoch in range(3):
            freeze_bn(model)
            train_one_epoch(model, optimizer, [])
        """, "FZ201")
    assert len(found) == 1
    assert found[0][1].endswith("re-apply the freeze inside `train_one_epoch`, right after its train() (or override train())")
