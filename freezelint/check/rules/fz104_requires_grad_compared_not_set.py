"""FZ104 requires-grad-compared-not-set: `x.requires_grad == v` as a statement."""

from __future__ import annotations

from typing import Iterable

import libcst as cst

from freezelint.check.facts import Facts
from freezelint.check.rules.base import Example, Finding, Fix, Rule, src


class RequiresGradComparedNotSet(Rule):
    code = "FZ104"
    words = ("requires_grad",)
    triggers = (r"requires_grad\s*(?:==|is\s)",)
    what = "Finds `x.requires_grad == v` (or `is v`) written as a statement, where `=` was meant."
    why = (
        "A comparison on its own line is evaluated and thrown away: no parameter is frozen, and "
        "Python gives no warning, not even with `-W always`."
    )
    fix_title = "Assign: `x.requires_grad = v` (`x.requires_grad_(v)` on a Module)"
    bad = [
        Example(
            """
            for p in backbone.parameters():
                p.requires_grad == False  # expect: FZ104
            """,
            fixed="""
            for p in backbone.parameters():
                p.requires_grad = False  # expect: FZ104
            """,
        ),
        Example(
            """
            import torch.nn as nn
            stem = nn.Conv2d(3, 8, 3)
            stem.weight.requires_grad is False  # expect: FZ104
            stem.requires_grad == False  # expect: FZ104
            """,
            fixed="""
            import torch.nn as nn
            stem = nn.Conv2d(3, 8, 3)
            stem.weight.requires_grad = False  # expect: FZ104
            stem.requires_grad_(False)  # expect: FZ104
            """,
        ),
    ]
    good = [
        """
        assert p.requires_grad == False
        frozen = p.requires_grad == False
        if p.requires_grad == False:
            pass
        print(p.requires_grad == False)
        """,
    ]

    def check(self, facts: Facts, module) -> Iterable[Finding]:
        for es in facts.expr_statements:
            cmp = es.stmt.value
            if not (isinstance(cmp, cst.Comparison) and len(cmp.comparisons) == 1):
                continue
            target = cmp.left
            op = cmp.comparisons[0].operator
            value = cmp.comparisons[0].comparator
            if not (isinstance(target, cst.Attribute) and target.attr.value == "requires_grad"):
                continue
            if not isinstance(op, (cst.Equal, cst.Is)):
                continue
            obj = target.value
            is_module = facts.is_module(obj, es.ctx)
            bare = target.with_changes(lpar=[], rpar=[])
            if is_module:
                new: cst.BaseSmallStatement = cst.Expr(
                    cst.Call(cst.Attribute(obj, cst.Name("requires_grad_")), [cst.Arg(value)])
                )
                advice = f"`{src(obj)}.requires_grad_({src(value)})`"
            else:
                new = cst.Assign([cst.AssignTarget(bare)], value)
                advice = f"`{src(bare)} = {src(value)}`"
            yield self.finding(
                cmp,
                f"`{src(cmp)}` compares and discards the result; nothing is frozen. Did you mean {advice}?",
                es.ctx,
                Fix(f"Replace with {advice}", [(es.stmt, new.with_changes(semicolon=es.stmt.semicolon))]),
            )
