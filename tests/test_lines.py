"""lines.start_lines gives every node the start line libcst's PositionProvider gives it, on LF,
CRLF and CR-only text, for real files (the package's own, which use every statement form it
has) and for forms where libcst hoists a start from a child or skips leading comments."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from freezelint.check.lines import start_lines

PACKAGE = Path(__file__).resolve().parent.parent / "freezelint"

_FORMS = '''\
# a comment before everything

@decorator(  # a comment
    1,
)
class A(
    Base,
):
    """Doc."""

    # leading comment of a method

    def f(self, x=(
            1, 2)):
        if (x and
                y):
            return [i for i in
                    range(3)]
        elif z: pass
        else:
            with open(p) as f, \\
                    open(q) as g:
                s = """multi
line""" + f"{x!r:>{w}}"
        try:
            pass
        except (A, B) as e:
            raise
        finally:
            del x
        match x:
            case [1, *rest] if rest:
                pass
        async def g(): await h()
        lambda: (yield)
'''


def _same(text: str) -> None:
    module = cst.parse_module(text)
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    got = start_lines(module, positions.keys())
    wrong = [(type(n).__name__, got.get(n), positions[n].start.line) for n in positions
             if got.get(n) != positions[n].start.line]
    assert not wrong, wrong[:5]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
def test_start_lines_agree_with_position_provider_on_every_form(newline):
    _same(_FORMS.replace("\n", newline))


@pytest.mark.parametrize("name", ["check/project.py", "check/events.py", "runtime/watch.py", "cli.py"])
def test_start_lines_agree_with_position_provider_on_real_files(name):
    _same((PACKAGE / name).read_text(encoding="utf-8"))


def test_only_the_nodes_asked_for_and_in_the_module_are_given():
    module = cst.parse_module("x = 1\n\n\ndef f():\n    return 2\n")
    fn = module.body[1]
    ret = fn.body.body[0]
    stray = cst.Name("elsewhere")
    assert start_lines(module, [fn, ret, stray]) == {fn: 4, ret: 5}
    assert start_lines(module, []) == {}
