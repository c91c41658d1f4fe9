"""FZ103 requires-grad-misspelled: `x.require_grad = v` and friends are silently accepted."""

from __future__ import annotations

from typing import Iterable

import libcst as cst

from freezelint.check.facts import MODULE, PARAM, Facts
from freezelint.check.rules.base import ASSIGNED, Example, Finding, Rule, call_fix, rename_fix, src
from freezelint.spelling import FOREIGN, is_misspelling


# Every misspelling in the table starts with `req` (any case) or is `grad(s)_required`: an
# attribute of that shape assigned, or named in setattr; is_misspelling decides.
_GRADLIKE = r"(?:[Rr][Ee]?[Qq]\w*|[Gg][Rr][Aa][Dd][Ss]?_?[Rr]equired)"


class RequiresGradMisspelled(Rule):
    code = "FZ103"
    words = ("req", "Req", "REQ", "required", "Required", "trainable")
    triggers = (r"\." + _GRADLIKE + ASSIGNED, r"['\"]" + _GRADLIKE + r"['\"]", r"trainable" + ASSIGNED,
                r"['\"]trainable['\"]")
    what = "Finds assignments to misspellings of `requires_grad` (and Keras' `trainable`)."
    why = (
        "Parameters, tensors and Modules accept any new attribute: `p.require_grad = False`, "
        "`p.requires_grads = False`, `p.requiresGrad = False` or `p.trainable = False` raise nothing "
        "and freeze nothing. Only reading such an attribute back would fail."
    )
    fix_title = "Use `requires_grad` (or `requires_grad_(v)` on a Module)"
    notes = (
        "`trainable` is reported only where the object is known to be a Parameter or Module. An "
        "attribute that starts with `_` and `self.<name>` in a class that is not an nn.Module are "
        "treated as the author's own."
    )
    bad = [
        Example(
            """
            for name, param in model.named_parameters():
                if not name.startswith("fc"):
                    param.require_grad = False  # expect: FZ103
            """,
            fixed="""
            for name, param in model.named_parameters():
                if not name.startswith("fc"):
                    param.requires_grad = False  # expect: FZ103
            """,
        ),
        Example(
            """
            import torch.nn as nn

            head = nn.Linear(512, 10)
            head.weight.requiresGrad = True  # expect: FZ103
            head.trainable = True  # expect: FZ103
            for p in head.parameters():
                p.trainable = True  # expect: FZ103
            """,
            fixed="""
            import torch.nn as nn

            head = nn.Linear(512, 10)
            head.weight.requires_grad = True  # expect: FZ103
            head.requires_grad_(True)  # expect: FZ103
            for p in head.parameters():
                p.requires_grad = True  # expect: FZ103
            """,
        ),
    ]
    good = [
        """
        for p in model.parameters():
            p.requires_grad = False
        layer.trainable = False  # unknown object: maybe a Keras layer
        """,
        """
        class Options:
            def __init__(self):
                self.require_grad = True  # a setting of a plain class
                self._requires_grad = True
        """,
    ]

    def check(self, facts: Facts, module) -> Iterable[Finding]:
        for store in facts.attr_stores:
            attr = store.attr
            if store.form == "augassign":
                continue
            foreign = attr in FOREIGN
            if not foreign and not is_misspelling(attr):
                continue
            kind = facts.kind(store.obj, store.ctx)
            tag = kind.tag if kind else None
            if foreign and tag not in (MODULE, PARAM):
                continue
            if (isinstance(store.obj, cst.Name) and store.obj.value == "self" and tag != MODULE
                    and facts.enclosing_class(store.ctx) is not None):
                continue
            obj = src(store.obj)
            value = src(store.value) if store.value is not None else "v"
            if tag == MODULE:
                fix = call_fix(store, "requires_grad_", f"Call `{obj}.requires_grad_({value})`")
                advice = f"call `{obj}.requires_grad_({value})`"
            else:
                fix = rename_fix(store, "requires_grad", f"Rename `{attr}` to `requires_grad`")
                advice = f"set `{obj}.requires_grad`"
            yield self.finding(
                store.attr_node,
                f"`{attr}` is not `requires_grad`: the assignment is accepted silently and freezes "
                f"nothing; {advice}",
                store.ctx,
                fix,
            )
