"""One file through the checker: decode -> trigger -> parse -> facts -> rules -> locate ->
suppress -> (fix). Nothing here touches the file system; `runner.py` does.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable, Sequence

import libcst as cst

from freezelint import codes
from freezelint.check import noqa
from freezelint.check.alloc import relaxed_gc
from freezelint.check.cpython_parse import cpython_error, syntax_error  # noqa: F401  (syntax_error re-exported)
from freezelint.check.diagnostic import Diagnostic
from freezelint.check.facts import Facts
from freezelint.check.prefilter import DecodeError, as_lf, decode, trigger_pattern  # noqa: F401  (re-exported)
from freezelint.check.rules import ALL_RULES, ENGINE_CODES, Finding, Fix, Rule

_MAX_FIX_PASSES = 10
# Rules that follow calls into other files: they run on a file that calls project code that
# freezes or trains, even when the file's own text names nothing they look for.
FLOW_CODES = frozenset({"FZ201", "FZ202", "FZ301", "FZ302", "FZ303", "FZ306"})


@dataclass
class Outcome:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    new_text: str | None = None  # set when fixes changed the text
    fixed: int = 0
    parsed: bool = False  # False when the text triggers ruled the file out
    fix_refused: str | None = None  # why fixes were not written
    deps: dict[str, str] = field(default_factory=dict)  # project files whose summaries were used -> digest
    edges: list[str] = field(default_factory=list)  # cross-file edges the analysis used


# ------------------------------------------------------------------------------ rules
@lru_cache(maxsize=64)
def rules_for(selected: frozenset[str]) -> tuple[Rule, ...]:
    return tuple(cls() for cls in ALL_RULES if cls.code in selected and cls.code not in ENGINE_CODES)


# ------------------------------------------------------------------------------ locate
def _node_code(node: cst.CSTNode | cst.FlattenSentinel, indent: str = "", newline: str = "\n") -> str:
    empty = cst.Module(body=[])
    if isinstance(node, cst.FlattenSentinel) and all(isinstance(n, cst.SimpleStatementLine) for n in node.nodes):
        # whole lines for one line's code: the edit spans its code only (not the comments above
        # nor its own trailing comment), so each line is its statements, the next one indented
        return (newline + indent).join(empty.code_for_node(cst.SimpleStatementLine(n.body)).rstrip("\r\n")
                                    for n in node.nodes)
    if isinstance(node, cst.FlattenSentinel):
        return "; ".join(empty.code_for_node(n).rstrip("; ") for n in node.nodes)
    return empty.code_for_node(node)


def _fix_dict(fix: Fix, positions, text: str) -> dict:
    edits = []
    for old, new in fix.replacements:
        r = positions[old]
        indent, newline = "", "\n"
        if isinstance(new, cst.FlattenSentinel) and isinstance(old, cst.SimpleStatementLine):
            indent = as_lf(text).split("\n")[r.start.line - 1][:r.start.column]
            newline = "\r\n" if "\r\n" in text else "\r" if "\r" in text and "\n" not in text else "\n"
        edits.append({
            "content": _node_code(new, indent, newline),
            "location": {"row": r.start.line, "column": r.start.column + 1},
            "end_location": {"row": r.end.line, "column": r.end.column + 1},
        })
    return {"applicability": codes.SAFE if fix.safe else codes.UNSAFE, "message": fix.message, "edits": edits}


# libcst's visitors recurse a few frames per level of nesting, so valid generated code (a sum of
# 500 terms, 600 concatenated string literals) exceeds Python's default limit of 1000 frames. Such
# a file is analysed again on a thread whose C stack has room for a much higher limit.
_DEEP_LIMIT = 60_000
_DEEP_STACK = 512 << 20


def deep(fn, *args):  # type: ignore[no-untyped-def]
    """fn(*args) on a thread with a large stack, under a high recursion limit (restored after)."""
    out: list = []

    def run() -> None:
        try:
            out.append((True, fn(*args)))
        except BaseException as e:  # noqa: BLE001 — handed back to the caller's thread
            out.append((False, e))

    limit, stack = sys.getrecursionlimit(), threading.stack_size()
    try:
        threading.stack_size(_DEEP_STACK)
        sys.setrecursionlimit(max(limit, _DEEP_LIMIT))
        thread = threading.Thread(target=run, name="freezelint-deep")
        thread.start()
        thread.join()
    finally:
        threading.stack_size(stack)
        sys.setrecursionlimit(limit)
    ok, value = out[0]
    if not ok:
        raise value
    return value


def _libcst_error(path: str, e: Exception) -> Diagnostic:
    if isinstance(e, cst.ParserSyntaxError):
        msg = e.message.strip().split("\n")[0]
        return syntax_error(path, f"cannot parse: {msg}", e.raw_line, e.raw_column + 1)
    return syntax_error(path, f"cannot parse: {type(e).__name__}: {e}".split("\n")[0])


# ------------------------------------------------------------------------------- check
def parse(text: str) -> cst.Module:
    return cst.parse_module(text)


class RuleFailed(Exception):
    """A rule raised while it checked one file (a bug of freezelint's): the runner reports it for
    that file, naming the rule, and checks the other files. The rule's exception is the cause."""

    def __init__(self, code: str, error: Exception) -> None:
        super().__init__(f"{code} raised {type(error).__name__}: {error}")
        self.code, self.error = code, error


def run_rules(module: cst.Module, rules: Sequence[Rule], project=None, path: str | None = None,
              facts: Facts | None = None) -> list[Finding]:
    """Findings of the rules on one parsed file; `project` (a project.Project) lets the flow
    rules follow calls and classes into the other files of the project. `facts`: the file's, if
    the caller keeps them (their positions serve the diagnostics too)."""
    facts = Facts.of(module) if facts is None else facts
    if project is not None and path:
        facts.project, facts.path = project, path
        facts.kinds.external_module_class = lambda q: project.module_class(path, q)
        facts.kinds.external_plain_class = lambda q: project.plain_class(path, q)
        facts.kinds.external_attr_kind = lambda q, attr: project.class_attr(path, q, attr)
        facts.kinds.external_returned_kind = lambda q: project.returned_kind(path, q)
        facts.kinds.external_passed = lambda name, pos, param: project.passed_to(path, name, pos, param)
        facts.bind_star_imports(lambda q: project.resolve(path, q))
        for star in facts.extracted.star_imports:
            project.star_module(path, star)
    findings: list[Finding] = []
    seen: set[tuple[str, int]] = set()
    for rule in rules:
        for f in _checked(rule, facts, module):
            key = (f.code, id(f.node))
            if key not in seen:
                seen.add(key)
                findings.append(f)
    return findings


def _checked(rule: Rule, facts: Facts, module: cst.Module) -> list[Finding]:
    """The rule's findings; an exception of its own is RuleFailed, naming it. RecursionError
    passes as it is: the caller tries again with room to recurse."""
    try:
        return list(rule.check(facts, module))
    except RecursionError:
        raise
    except Exception as e:
        raise RuleFailed(rule.code, e) from e


def analyse(module: cst.Module, text: str, path: str, selected: frozenset[str],
            check_noqa: bool, active: frozenset[str] | None = None,
            project=None) -> tuple[list[Diagnostic], list[tuple[Finding, object]]]:
    """Diagnostics of a parsed file after suppression, plus the unsuppressed fixable findings.
    `active`: the rules to run (those whose prefilter admits the file); default all selected."""
    facts = Facts.of(module, text)
    facts.selected = selected
    findings = run_rules(module, rules_for(active if active is not None else selected), project, path, facts)
    supp = noqa.collect(text) if (findings or check_noqa) else noqa.Suppressions.empty()
    diagnostics: list[Diagnostic] = []
    fixable: list[tuple[Finding, object]] = []
    reported: dict[str, list[tuple[int, int, int]]] = {}  # code -> (row, statement's first and last row)
    if findings:
        positions = facts.positions  # computed once, for the rules' messages and these
        for f in findings:
            r = positions[f.node]
            rows = (r.start.line,)
            span = (r.start.line, r.end.line)
            if f.stmt is not None and f.stmt in positions:
                rows += (positions[f.stmt].start.line,)
                if isinstance(f.stmt, cst.SimpleStatementLine):  # a compound one spans its whole body
                    span = (min(span[0], rows[-1]), max(span[1], positions[f.stmt].end.line))
            d = supp.match(f.code, rows)
            if d is not None:
                d.used.add(f.code)
                continue
            reported.setdefault(f.code, []).append((r.start.line, *span))
            diagnostics.append(Diagnostic(
                f.code, f.message, path, r.start.line, r.start.column + 1, r.end.line, r.end.column + 1,
                _fix_dict(f.fix, positions, text) if f.fix else None,
            ))
            if f.fix is not None:
                fixable.append((f, positions))
    if "FZ002" in selected:
        for directive, message in noqa.unused_messages(supp, selected, reported):
            if supp.match("FZ002", (directive.row,)) is None or directive.codes is None:
                diagnostics.append(Diagnostic("FZ002", message, path, directive.row, directive.col,
                                              directive.row, directive.end_col))
    diagnostics.sort(key=Diagnostic.sort_key)
    return diagnostics, fixable


class _Replace(cst.CSTTransformer):
    def __init__(self, mapping: dict[int, cst.CSTNode | cst.FlattenSentinel]) -> None:
        super().__init__()
        self.mapping = mapping

    def on_leave(self, original_node, updated_node):
        return self.mapping.get(id(original_node), updated_node)


def _apply(module: cst.Module, fixable: list[tuple[Finding, object]], unsafe: bool) -> tuple[str, int]:
    """Apply non-overlapping fixes; overlapping ones wait for the next pass."""
    mapping: dict[int, cst.CSTNode | cst.FlattenSentinel] = {}
    taken: list[tuple[tuple[int, int], tuple[int, int]]] = []
    applied = 0
    done: set[int] = set()
    for f, positions in fixable:
        fix = f.fix
        assert fix is not None
        if not fix.safe and not unsafe:
            continue
        if id(fix) in done:  # one fix for several findings (FZ106's pair of flag stores)
            applied += 1
            continue
        spans = [positions[old] for old, _ in fix.replacements]
        ranges = [((s.start.line, s.start.column), (s.end.line, s.end.column)) for s in spans]
        if any(a[0] < b[1] and b[0] < a[1] for a in ranges for b in taken):
            continue
        taken.extend(ranges)
        done.add(id(fix))
        for old, new in fix.replacements:
            mapping[id(old)] = new
        applied += 1
    if not mapping:
        return module.code, 0
    return module.visit(_Replace(mapping)).code, applied


def _compiles(text: str) -> bool:
    return cpython_error("", text) is None


def check_text(text: str, path: str, selected: frozenset[str], fix: str | None = None,
               force: bool = False, parse_all: bool = False, project=None) -> Outcome:
    """Check Python source text. `fix` is None, "safe" or "unsafe". `force` runs every selected
    rule whatever the prefilter says; `parse_all` parses the text even when no rule's prefilter
    admits it (so FZ001 sees it) but still runs only the rules that admit it. With a `project`
    (project.Project), calls and classes from other files of the project are followed."""
    if project is not None:
        project.start_file()
    with relaxed_gc():
        outcome = _check_text(text, path, selected, fix, force, parse_all, project)
    if project is not None:
        outcome.deps, outcome.edges = project.recorded(), [str(e) for e in project.edges]
    return outcome


def _check_text(text: str, path: str, selected: frozenset[str], fix: str | None, force: bool,
                parse_all: bool, project) -> Outcome:
    pattern = trigger_pattern(selected)
    gated = as_lf(text)  # what the project's text scans read, as the gates do
    admitted = pattern.admitted(gated) if pattern is not None else frozenset()
    if not force and project is not None and not (selected & FLOW_CODES) <= admitted \
            and project.admits(path, gated):
        admitted = admitted | (selected & FLOW_CODES)  # it calls project code that freezes or trains
    if not force and project is not None and "FZ202" in selected and "FZ202" not in admitted \
            and project.admits_held(path, gated):
        admitted = admitted | {"FZ202"}  # it freezes a part of a project class's instance holding BatchNorm
    if not force and project is not None and "FZ401" in selected and "FZ401" not in admitted \
            and project.admits_partial(path, gated):
        admitted = admitted | {"FZ401"}  # it drops what a project helper's `strict=False` load returns
    if not force and not parse_all and not admitted:  # libcst never sees it; CPython's parser does
        rejected = cpython_error(path, text) if "FZ001" in selected else None
        return Outcome([rejected] if rejected is not None else [], parsed=False)
    # Rules run only on files their own prefilter admits (engine codes always "run").
    active = selected if force else frozenset(admitted | (selected & ENGINE_CODES))
    rejected = cpython_error(path, text)
    if rejected is not None:
        return Outcome([rejected] if "FZ001" in selected else [], parsed=True)
    try:
        module = parse(text)
    except Exception as e:  # libcst-specific refusals of code CPython accepts
        return Outcome([_libcst_error(path, e)] if "FZ001" in selected else [], parsed=True)
    check_noqa = "FZ002" in selected and bool(noqa.OWN_NOQA.search(text))
    try:
        try:
            diagnostics, fixable = analyse(module, text, path, selected, check_noqa, active, project)
        except RecursionError:  # long generated expressions: again, with room to recurse
            diagnostics, fixable = deep(analyse, module, text, path, selected, check_noqa, active, project)
    except RecursionError:
        return Outcome([syntax_error(path, "cannot analyse: expressions nested too deeply")]
                       if "FZ001" in selected else [], parsed=True)
    outcome = Outcome(diagnostics, parsed=True)
    if fix is None or not fixable:
        return outcome
    args = (outcome, module, text, path, selected, fixable, fix == "unsafe", check_noqa, active, project)
    try:
        try:
            return _fix_loop(*args)
        except RecursionError:
            return deep(_fix_loop, *args)
    except RecursionError:
        outcome.fix_refused = "fixes not applied: code nested too deeply to rewrite safely"
        return outcome


def _fix_loop(outcome: Outcome, module: cst.Module, text: str, path: str, selected: frozenset[str],
              fixable, unsafe: bool, check_noqa: bool, active: frozenset[str], project=None) -> Outcome:
    current, total = text, 0
    diagnostics = outcome.diagnostics
    for _ in range(_MAX_FIX_PASSES):
        new_text, applied = _apply(module, fixable, unsafe)
        new_text = _same_tail(current, new_text)
        if not applied or new_text == current:
            break
        if not _compiles(new_text):  # CPython first: libcst must never see what it could crash on
            outcome.fix_refused = "a fix produced code that does not parse; file left unchanged"
            return outcome
        try:
            module = parse(new_text)
        except Exception:
            outcome.fix_refused = "a fix produced code that does not parse; file left unchanged"
            return outcome
        current, total = new_text, total + applied
        diagnostics, fixable = analyse(module, new_text, path, selected, check_noqa, active, project)
        if not any(f.fix and (f.fix.safe or unsafe) for f, _ in fixable):
            break
    if total:
        outcome.diagnostics, outcome.new_text, outcome.fixed = diagnostics, current, total
    return outcome


def _same_tail(text: str, new_text: str) -> str:
    """`new_text` ending as `text` does: libcst's code of a CR-only file loses its last "\r"."""
    for end in ("\r\n", "\n", "\r"):
        if text.endswith(end):
            return new_text if new_text.endswith(end) else new_text + end
    return new_text


def check_source(source: str | bytes, filename: str = "<string>",
                 select: Iterable[str] | None = None) -> list[Diagnostic]:
    """Check one piece of Python source; returns the diagnostics (public API). `select`: codes
    or prefixes (`FZ1`, `ALL`); ValueError for one that names no rule."""
    if not isinstance(source, (str, bytes)):
        raise ValueError(f"check_source() needs source text (str or bytes), got {type(source).__name__}")
    selected = frozenset(codes.check_codes(select, "select")) if select is not None else frozenset(
        c for c, info in codes.CATALOGUE.items() if info.static)
    if isinstance(source, bytes):
        try:
            source, _ = decode(source)
        except DecodeError as e:
            return [syntax_error(filename, str(e))]
    return check_text(source, filename, selected).diagnostics
