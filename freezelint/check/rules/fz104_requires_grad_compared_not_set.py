"""FZ104 requires-grad-compared-not-set: `x.requires_grad == v` as a statement."""

from __future__ import annotations

from typing import Iterable

import libcst as cst

from freezelint.check.declared import kind_known, made_tensor, reason_unknown
from freezelint.check.facts import MODULE, Facts
from freezelint.check.rules.base import Example, Finding, Fix, Rule, call_with, does_nothing, src, value_src


class RequiresGradComparedNotSet(Rule):
    code = "FZ104"
    words = ("requires_grad",)
    triggers = (r"requires_grad\s*(?:==|is\s)",)
    what = "Finds `x.requires_grad == v` (or `is v`) written as a statement, where `=` was meant."
    why = (
        "A comparison on its own line is evaluated and thrown away: no parameter is frozen, and "
        "Python gives no warning, not even with `-W always`."
    )
    fix_title = "Assign: `x.requires_grad = v` on a Parameter or tensor, else call `x.requires_grad_(v)`"
    fix_unsafe_when = (
        "the object is not known to be a Parameter, Tensor or Module (a name bound only to what one of torch's "
        "tensor factories, `torch.zeros(...)`, made is a known Tensor): `x.requires_grad_(v)`, right for a "
        "Module and a leaf tensor alike, raises on an object of another kind"
    )
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
            for p in stem.parameters():
                p.requires_grad is False  # expect: FZ104
            stem.requires_grad == False  # expect: FZ104
            """,
            fixed="""
            import torch.nn as nn
            stem = nn.Conv2d(3, 8, 3)
            for p in stem.parameters():
                p.requires_grad = False  # expect: FZ104
            stem.requires_grad_(False)  # expect: FZ104
            """,
        ),
        Example(
            """
            def freeze(encoder):
                encoder.requires_grad == False  # expect: FZ104
            """,
            fixed="""
            def freeze(encoder):
                encoder.requires_grad_(False)  # expect: FZ104
            """,
            unsafe=True,  # `encoder` may be a Module, where `= False` would be FZ102's no-op
        ),
        Example(
            """
            import torch.nn as nn
            head = nn.Linear(8, 2)
            head.requires_grad == (  # expect: FZ104
                True
            )
            """,
            fixed="""
            import torch.nn as nn
            head = nn.Linear(8, 2)
            head.requires_grad_(  # expect: FZ104
                True
            )
            """,
        ),
        Example(
            """
            import torch

            def positional_encoding(max_len, d_model):
                pe = torch.zeros(max_len, d_model).float()
                pe.requires_grad == False  # expect: FZ104
                pe = pe.unsqueeze(0)
                return pe
            """,
            fixed="""
            import torch

            def positional_encoding(max_len, d_model):
                pe = torch.zeros(max_len, d_model).float()
                pe.requires_grad = False  # expect: FZ104
                pe = pe.unsqueeze(0)
                return pe
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
            kind = facts.kind(obj, es.ctx)
            made = not kind_known(kind) and made_tensor(facts, obj, es.ctx.scope)  # `pe = torch.zeros(...)`
            known = kind_known(kind) or made
            bare = target.with_changes(lpar=[], rpar=[])
            shown = value_src(value)
            if made or (known and kind.tag != MODULE):  # a Parameter or tensor: the assignment meant
                new: cst.BaseSmallStatement = cst.Assign([cst.AssignTarget(bare)], value)
                advice = f"`{src(bare)} = {shown}`"
            else:  # right for a Module and a leaf tensor alike (on a Module, `=` is FZ102's no-op)
                new = cst.Expr(call_with(cst.Attribute(obj, cst.Name("requires_grad_")), value))
                advice = f"`{src(obj)}.requires_grad_({shown})`"
            how = "" if known else f" ({reason_unknown(src(obj))})"
            yield self.finding(
                cmp,
                f"`{src(cmp)}` compares and discards the result: it {does_nothing(value)}. Did you mean {advice}?",
                es.ctx,
                Fix(f"Replace with {advice}{how}", [(es.stmt, new.with_changes(semicolon=es.stmt.semicolon))],
                    safe=known),
            )
