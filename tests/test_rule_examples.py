"""Every rule's embedded examples are its tests: bad lines fire, good code stays silent,
and fixes produce exactly the documented output (and are a fixed point)."""

from __future__ import annotations

import re

import libcst as cst
import pytest

from freezelint import codes
from freezelint.check.engine import check_text
from freezelint.check.rules import ALL_RULES

ALL_STATIC = frozenset(c for c, i in codes.CATALOGUE.items() if i.static)
_EXPECT = re.compile(r"#\s*expect:\s*(?P<codes>FZ\d+(?:\s*,\s*FZ\d+)*)")


def expected(source: str) -> list[tuple[int, str]]:
    out = []
    for row, line in enumerate(source.splitlines(), 1):
        m = _EXPECT.search(line)
        if m:
            out.extend((row, c.strip()) for c in m.group("codes").split(","))
    return sorted(out)


BAD = [pytest.param(r, i, ex, id=f"{r.code}-bad{i}") for r in ALL_RULES for i, ex in enumerate(r.bad)]
GOOD = [pytest.param(r, i, g, id=f"{r.code}-good{i}") for r in ALL_RULES for i, g in enumerate(r.good)]


def test_every_rule_has_examples():
    for r in ALL_RULES:
        assert r.bad, f"{r.code} has no bad example"
        assert r.good, f"{r.code} has no good example"
        assert r.code in codes.CATALOGUE


@pytest.mark.parametrize("rule,i,example", BAD)
def test_bad_example_fires_at_marked_lines(rule, i, example):
    src = example.code
    want = expected(src)
    assert want, "bad example has no `# expect:` marker"
    got = sorted((d.row, d.code) for d in check_text(src, "ex.py", ALL_STATIC, force=True).diagnostics)
    assert got == want


# FZ001 has no trigger of its own: the engine reports it for files that other rules admit.
@pytest.mark.parametrize("rule,i,example", [p for p in BAD if p.values[0].triggers])
def test_rule_triggers_admit_every_bad_example(rule, i, example):
    """The text prefilter of a rule alone lets each of its bad examples through to the parser, and
    a default run (prefiltered, every rule selected) reports every marked line, as a forced one does."""
    from freezelint.check.docs import strip_markers
    from freezelint.check.engine import trigger_pattern

    text = strip_markers(example.code)
    assert trigger_pattern(frozenset({rule.code})).search(text), example.code
    assert rule.code in trigger_pattern(ALL_STATIC).admitted(text), example.code
    got = sorted((d.row, d.code) for d in check_text(text, "ex.py", ALL_STATIC).diagnostics)
    assert got == expected(example.code)
    for end in ("\r\n", "\r"):  # a Windows file, an old Mac one: the gates read their lines as LF ones
        other = text.replace("\n", end)
        assert rule.code in trigger_pattern(ALL_STATIC).admitted(other), example.code
        got = sorted((d.row, d.code) for d in check_text(other, "ex.py", ALL_STATIC).diagnostics)
        assert got == expected(example.code), repr(end)


@pytest.mark.parametrize("rule,i,source", GOOD)
def test_good_example_is_silent(rule, i, source):
    import textwrap

    src = textwrap.dedent(source).lstrip("\n")
    got = [(d.row, d.code, d.message) for d in check_text(src, "ex.py", ALL_STATIC, force=True).diagnostics]
    assert got == []


FIXES = [pytest.param(r, i, ex, id=f"{r.code}-fix{i}") for r in ALL_RULES for i, ex in enumerate(r.bad)
         if ex.fixed is not None]


@pytest.mark.parametrize("rule,i,example", FIXES)
def test_fix_produces_documented_output(rule, i, example):
    mode = "safe" if codes.get(rule.code).fix == codes.SAFE and not example.unsafe else "unsafe"
    if example.unsafe:  # marked unsafe in this example: plain --fix must leave the file alone
        assert codes.get(rule.code).fix == codes.SAFE, "an unsafe rule's examples are all unsafe"
        assert check_text(example.code, "ex.py", ALL_STATIC, fix="safe", force=True).new_text is None
    out = check_text(example.code, "ex.py", ALL_STATIC, fix=mode, force=True)
    assert out.new_text == example.fixed_code
    cst.parse_module(out.new_text)
    again = check_text(out.new_text, "ex.py", ALL_STATIC, fix=mode, force=True)
    assert again.new_text is None, "a second --fix changed the file again"
    assert not [d for d in again.diagnostics if d.code == rule.code]


def test_rules_with_a_fix_in_the_catalogue_document_one():
    for r in ALL_RULES:
        if codes.get(r.code).fix is not None:
            assert any(ex.fixed for ex in r.bad), f"{r.code} has a fix but no documented output"
            assert r.fix_title, r.code


INSTEAD = [pytest.param(r, i, ex, id=f"{r.code}-instead{i}") for r in ALL_RULES for i, ex in enumerate(r.bad)
           if ex.instead is not None]


@pytest.mark.parametrize("rule,i,example", INSTEAD)
def test_corrected_example_is_silent(rule, i, example):
    """The code a rule page recommends ("Use instead") draws no finding of any rule."""
    found = check_text(example.corrected, "ex.py", ALL_STATIC, force=True).diagnostics
    got = [(d.row, d.code, d.message) for d in found]
    assert got == []


def test_rule_page_use_instead_is_its_example_corrected():
    from freezelint.check.docs import page, strip_markers

    for r in ALL_RULES:
        ex = next((ex for ex in r.bad if ex.corrected is not None), None)
        text = page(r.code)
        assert ex is not None, f"{r.code}: no example says how it should be written"
        example, instead = text.split("## Example\n", 1)[1].split("## Use instead\n", 1)
        assert strip_markers(ex.code).rstrip() in example
        assert strip_markers(ex.corrected).rstrip() in instead.split("## Fix safety")[0]
