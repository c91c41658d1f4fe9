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
    notes = (
        "It is always reported, as ruff always reports syntax errors: `--select`, `--ignore`, "
        "`extend-select`, `per-file-ignores` and `# noqa` do not reach it (`--select FZ1` on a file "
        "that does not parse still says so; an ignore that names FZ001 warns that it does nothing). "
        "A file whose text holds none of the words any selected rule needs (`requires_grad`, "
        "`.train(`, an optimizer, `BatchNorm`, `load_state_dict`, ...) is never given to libcst: it "
        "has no freezing code to check. CPython's own parser still reads it (a tenth of libcst's "
        "cost), so its syntax errors are reported all the same. The rare code CPython accepts and "
        "libcst refuses is reported only where libcst parses; name the code explicitly, "
        "`freezelint check --select FZ001` (or `--select ALL`, or `--extend-select FZ001`), and "
        "every file is parsed with libcst too. Python 3.12's type parameters and `type` aliases "
        "(`def f[T](...)`, `class C[T]:`, `type X = ...`) are valid wherever freezelint runs: a CPython "
        "older than 3.12 refuses them, and the file is then checked with libcst's parser, which takes them."
    )
    bad = [
        Example(
            """
            for p in model.parameters()  # expect: FZ001
                p.requires_grad = False
            """,
            instead="""
            for p in model.parameters():
                p.requires_grad = False
            """,
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
