"""FZ202 bn-frozen-without-eval: BatchNorm frozen with requires_grad only."""

from __future__ import annotations

import re
from typing import Iterable

import libcst as cst

from freezelint.check.facts import Facts, is_batchnorm_class
from freezelint.check.flow import BN_FREEZE, flows_of
from freezelint.check.rules.base import FREEZES, Example, Finding, Rule, code_of


class BnFrozenWithoutEval(Rule):
    code = "FZ202"
    words = ("BatchNorm",)
    triggers = (r"isinstance\([^)]*BatchNorm",)
    requires = (FREEZES + r"|requires_grad_\(\s*\)",)
    what = "Finds BatchNorm layers frozen with requires_grad only, never put in eval mode."
    why = (
        "`requires_grad=False` stops the BatchNorm weight and bias from training, but not its "
        "running_mean, running_var and num_batches_tracked: they keep updating on every batch in "
        "train mode — even under `torch.no_grad()` or `torch.inference_mode()`. The frozen layers "
        "drift towards the fine-tuning data. `.eval()` (re-applied after every `model.train()`) or "
        "`FrozenBatchNorm2d` freezes the statistics."
    )
    notes = "Silent when the file puts BatchNorm layers in eval mode anywhere (for example `model.apply(fix_bn)`)."
    bad = [
        Example(
            """
            import torch.nn as nn

            for m in model.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.weight.requires_grad = False  # expect: FZ202
                    m.bias.requires_grad = False
            """
        ),
        Example(
            """
            import torch.nn as nn

            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):  # expect: FZ203
                    m.weight.requires_grad = False  # expect: FZ202
                    # m.eval()  (a comment does not put the layer in eval mode)
            """
        ),
    ]
    good = [
        """
        import torch.nn as nn

        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()
                m.weight.requires_grad = False
                m.bias.requires_grad = False
        """,
        """
        import torch.nn as nn

        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.requires_grad_(True)  # test-time adaptation trains BatchNorm on purpose
        """,
        """
        import torch.nn as nn

        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):  # initialisation; the freeze below is commented out
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
                # for p in m.parameters(): p.requires_grad = False
        """,
    ]

    def check(self, facts: Facts, module) -> Iterable[Finding]:
        checks = [(node, name, classes, ctx) for node, name, classes, ctx in facts.isinstance_ifs
                  if any(is_batchnorm_class(facts.qualname(c, ctx.scope)) for c in classes)]
        if not checks:
            return
        if any(e.kind == BN_FREEZE for flow in flows_of(facts).bodies for e in flow.events):
            return
        for node, name, _classes, ctx in checks:
            body = node.body
            code = code_of(body)
            n = re.escape(name)
            freeze = re.search(rf"\b{n}(\.\w+)?\.requires_grad\s*=\s*False|\b{n}\.requires_grad_\(\s*(False)?\s*\)"
                               rf"|for \w+ in {n}\.parameters\(\)", code)
            if not freeze or re.search(rf"\b{n}\.requires_grad_\(\s*True", code):
                continue
            if re.search(rf"\b{n}\.(eval\(\)|train\(\s*False)", code):
                continue
            stmt = next(iter(body.body), node) if isinstance(body, cst.IndentedBlock) else node
            yield self.finding(
                stmt,
                f"BatchNorm layer `{name}` is frozen with requires_grad only: its running statistics still "
                f"update on every batch in train mode; also call `{name}.eval()` (after every model.train()), "
                f"or use FrozenBatchNorm2d",
                ctx,
            )
