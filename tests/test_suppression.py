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
