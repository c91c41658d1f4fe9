"""FZ203 bn-check-too-narrow: a freeze helper that tests for one BatchNorm class only."""

from __future__ import annotations

import re
from typing import Iterable

import libcst as cst

from freezelint.check.facts import Facts
from freezelint.check.rules.base import Example, Finding, Fix, Rule, code_of, src

# torch.nn re-exports the classes of torch.nn.modules, which re-exports those of its batchnorm module
_PACKAGES = ("torch.nn.", "torch.nn.modules.", "torch.nn.modules.batchnorm.")
_NARROW = frozenset(p + c for p in _PACKAGES for c in ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d"))
_BASE = frozenset({"torch.nn.modules.batchnorm._BatchNorm", *(p + "SyncBatchNorm" for p in _PACKAGES)})


class BnCheckTooNarrow(Rule):
    code = "FZ203"
    words = ("BatchNorm",)
    triggers = (r"isinstance\([^)]*BatchNorm[123]d",)
    requires = (r"\.eval\(\)|\.train\(\s*False|requires_grad",)
    what = "Finds BatchNorm-freezing code that recognises BatchNorm layers with one class only."
    why = (
        "`isinstance(m, nn.BatchNorm2d)` is false for BatchNorm1d/3d, for LazyBatchNorm and for "
        "SyncBatchNorm — which is what `nn.SyncBatchNorm.convert_sync_batchnorm` turns every "
        "BatchNorm2d into for multi-GPU training. The freeze then silently stops applying, and the "
        "running statistics move again. `nn.modules.batchnorm._BatchNorm` is the common base of the "
        "whole family."
    )
    fix_title = "Test for `nn.modules.batchnorm._BatchNorm`"
    notes = "Reported only where the checked branch freezes: calls `.eval()` on the layer or sets requires_grad."
    bad = [
        Example(
            """
            import torch.nn as nn

            def freeze_bn(model):
                for m in model.modules():
                    if isinstance(m, nn.BatchNorm2d):  # expect: FZ203
                        m.eval()
                        m.weight.requires_grad = False
            """,
            fixed="""
            import torch.nn as nn

            def freeze_bn(model):
                for m in model.modules():
                    if isinstance(m, nn.modules.batchnorm._BatchNorm):  # expect: FZ203
                        m.eval()
                        m.weight.requires_grad = False
            """,
        ),
        Example(
            """
            import torch

            def freeze_bn(model):
                for m in model.modules():
                    if isinstance(m, torch.nn.modules.BatchNorm2d):  # expect: FZ203
                        m.eval()
            """,
            fixed="""
            import torch

            def freeze_bn(model):
                for m in model.modules():
                    if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):  # expect: FZ203
                        m.eval()
            """,
        ),
    ]
    good = [
        """
        import torch.nn as nn

        def freeze_bn(model):
            for m in model.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
                if isinstance(m, nn.BatchNorm2d):
                    nn.init.ones_(m.weight)  # initialisation, not a freeze
        """,
        """
        import torch.nn as nn

        def init_weights(model):
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):  # m.eval() would freeze it
                    nn.init.constant_(m.weight, 1)
                    # for p in m.parameters(): p.requires_grad = False
        """,
        """
        import torch.nn as nn

        def freeze_bn(model):
            for m in model.modules():
                if isinstance(m, (nn.modules.BatchNorm2d, nn.modules.SyncBatchNorm)):  # converted copies too
                    m.eval()
        """,
    ]

    def check(self, facts: Facts, module) -> Iterable[Finding]:
        for node, name, classes, ctx in facts.isinstance_ifs:
            quals = [facts.qualname(c, ctx.scope) for c in classes]
            if any(q in _BASE for q in quals) or not any(q in _NARROW for q in quals):
                continue
            body = code_of(node.body)
            freezes = re.search(rf"\b{re.escape(name)}\.(eval\(\)|train\(\s*False\s*\)|requires_grad)", body) or (
                re.search(r"requires_grad", body) and re.search(rf"\b{re.escape(name)}\b", body))
            if not freezes:
                continue
            narrow = [c for c, q in zip(classes, quals) if q in _NARROW]
            fix = None
            if len(classes) == 1 and isinstance(classes[0], cst.Attribute):
                # the `nn` (`torch.nn`, `nn.modules`, `nn.modules.batchnorm`) the code already uses
                base, q = src(classes[0].value), quals[0] or ""
                rest = ("_BatchNorm" if q.startswith("torch.nn.modules.batchnorm.") else
                        "batchnorm._BatchNorm" if q.startswith("torch.nn.modules.") else "modules.batchnorm._BatchNorm")
                new = cst.parse_expression(f"{base}.{rest}")
                fix = Fix(f"Test for `{base}.{rest}`", [(classes[0], new)], safe=False)
            yield self.finding(
                narrow[0],
                f"`isinstance({name}, {', '.join(src(c) for c in narrow)})` misses the other BatchNorm layers "
                f"(BatchNorm1d/3d, SyncBatchNorm after convert_sync_batchnorm): the freeze silently skips them; "
                f"test for `nn.modules.batchnorm._BatchNorm`",
                ctx,
                fix,
            )
