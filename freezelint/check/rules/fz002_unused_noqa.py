"""FZ002 unused-noqa: a freezelint suppression that suppresses nothing or names unknown codes.

The engine reports it after suppression (see freezelint/check/noqa.py); this module is its doc.
"""

from __future__ import annotations

from typing import Iterable

from freezelint.check.rules.base import Example, Finding, Rule


class UnusedNoqa(Rule):
    code = "FZ002"
    words = ("noqa", "NOQA", "Noqa")
    triggers = (r"(?i:noqa\s*:[^\n]*\bFZ\d)", r"(?i:freezelint\s*:\s*noqa)")
    what = (
        "Reports `# noqa: FZxxx` and `# freezelint: noqa` comments that suppress nothing, and "
        "suppressions that name codes freezelint does not have."
    )
    why = (
        "A stale suppression hides the next real mistake on that line, and a misspelled code "
        "suppresses nothing at all. Only comments that name an FZ code or say `freezelint:` are "
        "judged: a bare `# noqa` usually belongs to another linter and is left alone. A code that "
        "is not selected in this run is not reported as unused."
    )
    notes = (
        "A suppression goes on the line a finding is reported on, or on the first line of its statement. "
        "One on another line of a multi-line statement (after the closing parenthesis of a call) suppresses "
        "nothing: the message names the line the finding is reported on, where the comment belongs."
    )
    bad = [
        Example(
            """
            for p in model.parameters():
                p.requires_grad = False  # noqa: FZ101  # expect: FZ002
            model.fc.requires_grad_(True)  # freezelint: noqa  # expect: FZ002
            model.requires_grad_ = False  # noqa: FZ999,FZ101  # expect: FZ002
            """,
            instead="""
            for p in model.parameters():
                p.requires_grad = False
            model.fc.requires_grad_(True)
            model.requires_grad_(False)
            """,
        ),
    ]
    good = [
        """
        model.requires_grad_ = False  # noqa: FZ101
        model.requires_grad_ = True  # freezelint: noqa
        x = 1  # noqa
        y = 2  # noqa: E501
        """,
        """
        # freezelint: noqa: FZ101
        model.requires_grad_ = False
        """,
    ]

    def check(self, facts, module) -> Iterable[Finding]:
        return ()
