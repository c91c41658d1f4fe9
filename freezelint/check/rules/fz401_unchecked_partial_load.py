"""FZ401 unchecked-partial-load: the result of `load_state_dict(..., strict=False)` is discarded."""

from __future__ import annotations

from typing import Iterable

import libcst as cst

from freezelint.check.facts import Facts
from freezelint.check.rules.base import Example, Finding, Rule, src


def _strict_false(call: cst.Call) -> bool:
    for a in call.args:
        if a.keyword is not None and a.keyword.value == "strict":
            return isinstance(a.value, cst.Name) and a.value.value == "False"
    positional = [a for a in call.args if a.keyword is None and not a.star]
    return len(positional) >= 2 and isinstance(positional[1].value, cst.Name) and positional[1].value.value == "False"


class UncheckedPartialLoad(Rule):
    code = "FZ401"
    words = ("load_state_dict",)
    triggers = (r"strict\s*=\s*False", r"load_state_dict\([^)\n]*,\s*False")
    what = "Finds `load_state_dict(..., strict=False)` calls whose result is thrown away."
    why = (
        "With `strict=False`, a prefix mismatch (`module.`, `backbone.`) loads nothing at all and "
        "raises nothing: the returned `missing_keys` / `unexpected_keys` are the only evidence. "
        "Discarding them means fine-tuning may start from random weights in the layers you then "
        "freeze. Shape mismatches still raise; name mismatches do not."
    )
    bad = [
        Example(
            """
            import torch

            state = torch.load("backbone.pt")
            model.load_state_dict(state, strict=False)  # expect: FZ401
            model.backbone.load_state_dict(state, False)  # expect: FZ401
            """
        ),
    ]
    good = [
        """
        result = model.load_state_dict(state, strict=False)
        assert not result.unexpected_keys, result.unexpected_keys
        missing, unexpected = model.load_state_dict(state, strict=False)
        model.load_state_dict(state)  # strict: mismatches raise
        print(model.load_state_dict(state, strict=False))
        """,
        """
        def load(model, state):
            return model.load_state_dict(state, strict=False)
        """,
    ]

    def check(self, facts: Facts, module) -> Iterable[Finding]:
        for es in facts.expr_statements:
            call = es.stmt.value
            if (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute)
                    and call.func.attr.value == "load_state_dict" and _strict_false(call)):
                yield self.finding(
                    call,
                    f"the result of `{src(call.func.value)}.load_state_dict(..., strict=False)` is discarded: if "
                    f"no key matches (a `module.` or `backbone.` prefix), nothing is loaded and nothing says so; "
                    f"keep the result and check `missing_keys` / `unexpected_keys`",
                    es.ctx,
                )
