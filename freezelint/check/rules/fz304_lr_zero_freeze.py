"""FZ304 lr-zero-freeze: a param group with `lr=0` used as a freeze."""

from __future__ import annotations

from typing import Iterable

import libcst as cst

from freezelint.check.facts import Facts
from freezelint.check.rules.base import Example, Finding, Rule, src


# `0`, `0.0`, `LR * 0`, `0 * LR` (never `0.01`)
_ZERO = r"(?:0(?:\.0*)?(?![\d.])|[\w.]+\s*\*\s*0(?![\d.])|0(?:\.0*)?\s*\*)"


def _is_zero(v: cst.BaseExpression) -> bool:
    if isinstance(v, cst.Integer):
        return v.evaluated_value == 0
    if isinstance(v, cst.Float):
        return v.evaluated_value == 0.0
    if isinstance(v, cst.BinaryOperation) and isinstance(v.operator, cst.Multiply):
        return _is_zero(v.left) or _is_zero(v.right)
    return False


def _lr_values(group: cst.BaseExpression) -> list[cst.BaseExpression]:
    """The `lr` given in a param-group dict literal or `dict(...)` call."""
    if isinstance(group, cst.Dict):
        return [e.value for e in group.elements if isinstance(e, cst.DictElement)
                and isinstance(e.key, cst.SimpleString) and e.key.evaluated_value == "lr"]
    if isinstance(group, cst.Call) and isinstance(group.func, cst.Name) and group.func.value == "dict":
        return [a.value for a in group.args if a.keyword is not None and a.keyword.value == "lr"]
    return []


class LrZeroFreeze(Rule):
    code = "FZ304"
    words = ("optim",)
    triggers = (r"['\"]lr['\"]\s*:\s*" + _ZERO, r"lr\s*=\s*" + _ZERO)  # no leading \b: see base.OPTIMIZER_CALL
    what = "Finds optimizer param groups given `lr=0`, a common stand-in for freezing."
    why = (
        "An `lr=0` group keeps the values unchanged, but gradients and optimizer state are still "
        "computed and stored for every parameter in it (in one 8-layer test: 2.8x the step time and "
        "8x the gradient memory of a real freeze), a single inf gradient turns the weights into NaN, "
        "and schedulers such as OneCycleLR, CyclicLR and CosineAnnealingLR/WarmRestarts with "
        "`eta_min > 0` move the lr off 0, so the layers start training."
    )
    notes = "Freeze with `requires_grad_(False)` and leave the parameters out of the optimizer instead."
    bad = [
        Example(
            """
            import torch.optim as optim

            optimizer = optim.SGD([
                {"params": base_params, "lr": 0},  # expect: FZ304
                {"params": model.fc.parameters(), "lr": LR},
            ], momentum=0.9)
            optimizer.add_param_group(dict(params=model.layer4.parameters(), lr=LR * 0))  # expect: FZ304
            """,
            instead="""
            import torch.optim as optim

            model.requires_grad_(False)
            model.fc.requires_grad_(True)
            optimizer = optim.SGD(model.fc.parameters(), lr=LR, momentum=0.9)
            model.layer4.requires_grad_(True)
            optimizer.add_param_group(dict(params=model.layer4.parameters(), lr=LR))
            """,
        ),
    ]
    good = [
        """
        import torch.optim as optim

        model.layer1.requires_grad_(False)
        optimizer = optim.SGD([
            {"params": model.layer4.parameters(), "lr": LR * 0.1},
            {"params": model.fc.parameters(), "lr": LR},
        ], momentum=0.9)
        config = {"lr": 0}  # not a param group handed to an optimizer
        """,
    ]

    def check(self, facts: Facts, module) -> Iterable[Finding]:
        for mc in facts.method_calls:
            if mc.method == "add_param_group" and mc.call.args:
                yield from self._groups([mc.call.args[0].value], mc.ctx)
        for mc in facts.method_calls + facts.name_calls:
            call = mc.call
            q = facts.qualname(call.func, mc.ctx.scope)
            if not (q and q.startswith("torch.optim.") and q.rsplit(".", 1)[1][:1].isupper()):
                continue
            if call.args and isinstance(call.args[0].value, (cst.List, cst.Tuple)) and call.args[0].keyword is None:
                groups = [e.value for e in call.args[0].value.elements if isinstance(e, cst.Element)]
                yield from self._groups(groups, mc.ctx)

    def _groups(self, groups, ctx) -> Iterable[Finding]:
        for g in groups:
            for lr in _lr_values(g):
                if _is_zero(lr):
                    yield self.finding(
                        lr,
                        f"`lr={src(lr)}` is not a freeze: gradients and optimizer state are still computed for "
                        f"this group, an inf gradient makes its weights NaN, and schedulers can move the lr off "
                        f"0; freeze with `requires_grad_(False)` and leave the group out",
                        ctx,
                    )
