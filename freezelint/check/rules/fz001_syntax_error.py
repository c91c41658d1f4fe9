"""FZ001 syntax-error: the file could not be decoded or parsed.

The engine reports it (the rule has no tree to look at); this module is its documentation.
"""

from __future__ import annotations

from typing import Iterable

from freezelint.check.rules.base import Example, Finding, Rule


class SyntaxErrorRule(Rule):
    code = "FZ001"
    triggers = ()
    what = "Reports a file that could not be decoded or parsed as Python."
    why = (
        "A file that does not parse cannot be checked, so none of its freezing mistakes would be "
        "found. freezelint reports it and goes on with the other files; `--fix` never rewrites it."
    )
    bad = [
        Example(
            """
            for p in model.parameters()  # expect: FZ001
                p.requires_grad = False
            """
        ),
    ]
    good = [
        """
        def freeze(model):
            model.requires_grad_(False)
        """
    ]

    def check(self, facts, module) -> Iterable[Finding]:
        return ()
