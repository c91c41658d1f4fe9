"""FZ307 stale-grad-after-freeze: params frozen after a backward, grads kept as zero tensors."""

from __future__ import annotations

import re
from typing import Iterable

import libcst as cst

from freezelint.check.facts import Facts
from freezelint.check.flow import ACTIVITY, FREEZE, OPT_BUILD, after, flows_of
from freezelint.check.rules.base import FREEZES, Example, Finding, Rule, code_of


class StaleGradAfterFreeze(Rule):
    code = "FZ307"
    words = ("set_to_none",)
    triggers = (r"set_to_none\s*=\s*False",)
    requires = (FREEZES, r"\.backward\(")
    what = (
        "Finds parameters frozen after a `backward()` in code that zeroes grads with "
        "`zero_grad(set_to_none=False)`, without clearing the frozen parameters' `.grad`."
    )
    why = (
        "`requires_grad_(False)` does not clear `.grad`. With `zero_grad(set_to_none=False)` the "
        "grad stays a (zero) tensor, so optimizers with momentum, moving averages or weight decay "
        "keep moving the frozen weights at every step (SGD with momentum, Adam, AdamW, RMSprop with "
        "momentum, NAdam, RAdam, Adamax: up to 2e-2 in three steps). Freezing in the middle of "
        "gradient accumulation leaves a non-zero stale grad that the next step applies."
    )
    notes = "Silent when the scope sets `.grad = None` or calls `zero_grad()` with set_to_none left True."
    bad = [
        Example(
            """
            for step, (x, y) in enumerate(loader):
                loss_fn(model(x), y).backward()
                if step == warmup_steps:
                    model.backbone.requires_grad_(False)  # expect: FZ307
                optimizer.step()
                optimizer.zero_grad(set_to_none=False)
            """,
            instead="""
            for step, (x, y) in enumerate(loader):
                loss_fn(model(x), y).backward()
                if step == warmup_steps:
                    model.backbone.requires_grad_(False)
                optimizer.step()
                optimizer.zero_grad()  # set_to_none=True (the default): a frozen parameter keeps no grad
            """,
        ),
    ]
    good = [
        """
        import torch
        import torch.nn as nn
        import torchvision

        def train(loader):
            model = torchvision.models.resnet18(weights=None)
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
            for step, (x, y) in enumerate(loader):
                nn.functional.cross_entropy(model(x), y).backward()
                optimizer.step()
                optimizer.zero_grad(set_to_none=False)
                if step == 100:  # progressive freezing: a new optimizer over what still trains
                    model.layer1.requires_grad_(False)
                    model.layer1.eval()
                    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
        """,
        """
        for step, (x, y) in enumerate(loader):
            loss_fn(model(x), y).backward()
            if step == warmup_steps:
                model.backbone.requires_grad_(False)
                for p in model.backbone.parameters():
                    p.grad = None  # the stale grads go with the freeze
            optimizer.step()
            optimizer.zero_grad(set_to_none=False)
        """,
        """
        for step, (x, y) in enumerate(loader):
            loss_fn(model(x), y).backward()
            if step == warmup_steps:
                model.backbone.requires_grad_(False)
            optimizer.step()
            optimizer.zero_grad()  # was: optimizer.zero_grad(set_to_none=False)
        """,
    ]

    def check(self, facts: Facts, module) -> Iterable[Finding]:
        for flow in flows_of(facts).bodies:
            evs = flow.events
            backwards = [e for e in evs if e.kind == ACTIVITY and isinstance(e.node, cst.Call)
                         and isinstance(e.node.func, cst.Attribute) and e.node.func.attr.value == "backward"]
            if not backwards:
                continue
            body = code_of(flow.scope.node if flow.scope.node is not None else module)
            if not re.search(r"set_to_none\s*=\s*False", body) or re.search(r"\.grad\s*=\s*None", body):
                continue
            for f in (e for e in evs if e.kind == FREEZE):
                rebuilt = any(o.kind == OPT_BUILD and o.target == f.target and o.detail.get("filtered") and after(f, o)
                              for o in evs)  # a new optimizer over the trainable ones: the frozen .grad moves nothing
                if any(after(b, f) for b in backwards) and not rebuilt:
                    yield self.finding(
                        f.node,
                        f"`{f.detail.get('sub') or f.target}` is frozen after a backward(), and grads are zeroed "
                        f"with set_to_none=False: its .grad stays a tensor, so momentum, Adam's moving averages "
                        f"or weight decay keep moving the \"frozen\" weights; set their .grad to None when freezing",
                        stmt=f.stmt,
                    )
