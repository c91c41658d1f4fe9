from __future__ import annotations

import textwrap

from freezelint import codes
from freezelint.check.engine import check_text

ALL = frozenset(c for c, i in codes.CATALOGUE.items() if i.static)


def found(src: str, selected=ALL):
    src = textwrap.dedent(src).lstrip("\n")
    return [(d.row, d.code) for d in check_text(src, "x.py", selected, force=True).diagnostics]


def test_line_level_forms():
    assert found("""
        m.requires_grad_ = False  # noqa
        m.requires_grad_ = False  # noqa: FZ101
        m.requires_grad_ = False  # NOQA:FZ101,E501
        m.requires_grad_ = False  # freezelint: noqa
        m.requires_grad_ = False  # type: ignore  # noqa: FZ101 the method, see docs
    """) == []


def test_other_codes_do_not_suppress():
    assert found("m.requires_grad_ = False  # noqa: E501\n") == [(1, "FZ101")]
    assert found("m.requires_grad_ = False  # noqa: FZ102\n") == [(1, "FZ101"), (1, "FZ002")]


def test_first_line_of_multiline_statement():
    assert found("""
        setattr(  # noqa: FZ101
            m,
            "requires_grad_",
            False,
        )
    """) == []
    assert found("""
        setattr(
            m,
            "requires_grad_",  # noqa: FZ101
            False,
        )
    """) == []


def test_a_noqa_on_another_line_of_the_statement_says_where_it_belongs():
    """README: a noqa goes on the finding's line or the first line of its statement. One after the
    closing parenthesis of a multi-line call suppresses nothing; FZ002 says which line to move it to."""
    def messages(src: str) -> list[tuple[int, str, str]]:
        src = textwrap.dedent(src).lstrip("\n")
        return [(d.row, d.code, d.message) for d in check_text(src, "x.py", ALL, force=True).diagnostics]

    said = "unused suppression for FZ401: no such finding on this line; "
    got = messages("""
        import torch.nn as nn
        model = nn.Linear(2, 2)
        model.load_state_dict(state,
                              strict=False)  # noqa: FZ401
    """)
    assert [(row, code) for row, code, _ in got] == [(3, "FZ401"), (4, "FZ002")]
    assert got[1][2] == said + "FZ401 is reported on line 3, the first line of this statement: put the comment there"
    got = messages("""
        import torch.nn as nn
        model = nn.Linear(2, 2)
        (
            model.load_state_dict(state, strict=False)
        )  # noqa: FZ401, FZ101
        x = 1  # noqa: FZ401
    """)
    assert [(row, code) for row, code, _ in got] == [(4, "FZ401"), (5, "FZ002"), (6, "FZ002")]
    assert got[1][2] == ("unused suppression for FZ401, FZ101: no such finding on this line; FZ401 is reported on "
                         "line 4: put the comment there or on the statement's first line (3); remove FZ101 from it")
    assert got[2][2] == said + "remove it"  # another statement: nothing to move
    moved = messages("""
        import torch.nn as nn
        model = nn.Linear(2, 2)
        model.load_state_dict(state,  # noqa: FZ401
                              strict=False)
    """)
    assert moved == []


def test_noqa_in_string_does_not_count():
    assert found('m.requires_grad_ = "# noqa"\n') == [(1, "FZ101")]


def test_file_level():
    assert found("""
        # freezelint: noqa
        m.requires_grad_ = False
        p.requires_grad == False
    """) == []
    assert found("""
        # freezelint: noqa: FZ101
        m.requires_grad_ = False
        p.requires_grad == False
    """) == [(3, "FZ104")]
    # one that names a code with no finding in the file is unused (FZ002); a blanket one never is
    assert found("""
        # freezelint: noqa: FZ101, FZ304
        m.requires_grad_ = False
    """) == [(1, "FZ002")]
    assert found("""
        # freezelint: noqa
        x = 1
    """) == []
    assert found("# freezelint: noqa: FZ304\nx = 1\n", ALL - {"FZ304"}) == []  # not selected: not judged


def test_unused_and_unknown_reported_as_fz002():
    assert found("""
        x = 1  # noqa: FZ101
        y = 2  # freezelint: noqa
        z = 3  # noqa: FZ1O1
        w = 4  # noqa
    """) == [(1, "FZ002"), (2, "FZ002"), (3, "FZ002")]


def test_unused_not_reported_for_unselected_code():
    assert found("x = 1  # noqa: FZ101\n", ALL - {"FZ101"}) == []


def test_fz002_can_be_ignored_and_suppressed():
    assert found("x = 1  # noqa: FZ101\n", ALL - {"FZ002"}) == []
    assert found("x = 1  # noqa: FZ101, FZ002\n") == []


def test_old_mac_line_ends_suppress_and_report_on_their_own_lines():
    # Python reads a lone "\r" as a line end; so must the directives' rows
    src = ("import torch\rm = torch.nn.Linear(2, 2)\rm.requires_grad = False  # noqa: FZ102\r"
           "x = 1  # noqa: FZ101\rn = torch.nn.Linear(2, 2)\rn.requires_grad = False\r")
    got = [(d.row, d.col, d.code) for d in check_text(src, "x.py", ALL, force=True).diagnostics]
    assert got == [(4, 8, "FZ002"), (6, 1, "FZ102")]
