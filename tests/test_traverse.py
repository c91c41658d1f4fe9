"""traverse.visit calls what libcst's own visit calls, in the same order, without rebuilding nodes."""

from __future__ import annotations

import gc
from pathlib import Path

import libcst as cst
import pytest

from freezelint.check import traverse
from freezelint.check.alloc import RELAXED_THRESHOLD, relaxed_gc
from freezelint.check.engine import check_source

ROOT = Path(__file__).resolve().parent.parent

# Every kind of statement and expression, and the fields libcst visits only when present
# (an f-string's conversion and format spec), in shapes that change the visiting order
# (decorators before the name, `x if c else y`).
EVERY_SHAPE = '''
import a.b as c, d
from .e import (f as g, h)
from i import *
@decorator(arg=1)
@other
async def fn(p, /, q: int = 1, *args, r=2, s: "T" = 3, **kw) -> list[int]:
    global G
    x = y = [v async for v in w if v] + {k: v for k, v in z.items()} + {*s} + (q for q in r)
    x += 1; del x[0], y.z
    if (n := len(s)) > 3 and not m or o is not None:
        await thing
    elif isinstance(m, (nn.BatchNorm2d, nn.SyncBatchNorm)):
        m.eval()
    else:
        pass
    for i, (j, *k) in enumerate(l):
        continue
    else:
        break
    while True:
        yield from gen()
    with open(p) as f, ctx():
        raise ValueError(f"{x!r:>{w}} {y=} {z:.2f} {plain}") from None
    try:
        assert x, "msg"
    except (A, B) as e:
        nonlocal_value = lambda a, *b, c=1, **d: a if b else c
    else:
        return x[1:2, ::3, ...]
    finally:
        print(-x, ~y, x @ y, x ** -y, x // y, x << 1)
    try:
        pass
    except* C:
        pass
    match command.split():
        case [Point(x=0, y=0) as p, *rest] if p:
            pass
        case {"key": value, **others} | (1 | 2):
            pass
        case _:
            pass
class K(Base, metaclass=Meta):
    """doc"""
    attr: int = 1
    def method(self):
        return super().method()
type Alias[T] = list[T]
def generic[T: int, *Ts, **P](x: T) -> T: ...
'''


def _recorder(trivia: bool) -> type[cst.CSTVisitor]:
    names = [n for n, c in vars(cst).items() if isinstance(c, type) and issubclass(c, cst.CSTNode)]
    methods = {}
    for n in names:
        if not trivia and getattr(cst, n) in traverse._TRIVIA:
            continue
        methods[f"visit_{n}"] = lambda self, node: self.log.append(("visit", id(node)))
        methods[f"leave_{n}"] = lambda self, node: self.log.append(("leave", id(node)))

    def __init__(self) -> None:
        cst.CSTVisitor.__init__(self)
        self.log = []

    methods["__init__"] = __init__
    return type(f"Recorder{trivia}", (cst.CSTVisitor,), methods)


def _sources() -> list[tuple[str, str]]:
    files = [ROOT / "freezelint" / "check" / f for f in ("extract.py", "events.py", "runner.py")]
    files += sorted((ROOT / "tests" / "projects").rglob("*.py"))
    return [("every shape", EVERY_SHAPE)] + [(str(p), p.read_text(encoding="utf-8")) for p in files]


@pytest.mark.parametrize("trivia", [False, True], ids=["code", "with-whitespace"])
def test_same_calls_in_the_same_order_as_libcst(trivia):
    recorder = _recorder(trivia)
    calls = {}
    for name, text in _sources():
        module = cst.parse_module(text)
        theirs, ours = recorder(), recorder()
        module.visit(theirs)
        traverse.visit(module, ours)
        assert ours.log == theirs.log, name
        calls[name] = len(ours.log)
    assert calls["every shape"] > 400 and sum(calls.values()) > 20_000


def test_whitespace_is_skipped_unless_the_visitor_handles_it():
    class Names(cst.CSTVisitor):
        def __init__(self) -> None:
            super().__init__()
            self.seen: list[str] = []

        def visit_Name(self, node: cst.Name) -> None:
            self.seen.append(node.value)

    module = cst.parse_module("x = f(a,  b)  # note\n")
    names = Names()
    traverse.visit(module, names)
    assert names.seen == ["x", "f", "a", "b"]
    assert [type(n).__name__ for n in traverse.walk(module.body[0])] == [
        "SimpleStatementLine", "Assign", "AssignTarget", "Name", "Call", "Name", "Arg", "Name", "Arg", "Name"]
    everything = [type(n) for n in traverse.children(module.body[0], trivia=True)]
    assert cst.TrailingWhitespace in everything


def test_false_from_visit_skips_children_but_not_leave():
    class NoCalls(cst.CSTVisitor):
        def __init__(self) -> None:
            super().__init__()
            self.names: list[str] = []
            self.left = 0

        def visit_Call(self, node: cst.Call) -> bool:
            return False

        def leave_Call(self, node: cst.Call) -> None:
            self.left += 1

        def visit_Name(self, node: cst.Name) -> None:
            self.names.append(node.value)

    v = NoCalls()
    traverse.visit(cst.parse_module("a = f(b)\nc = g(h(d))\n"), v)
    assert v.names == ["a", "c"] and v.left == 2


def test_a_visitor_with_its_own_on_visit_decides_itself():
    class StopAtSecond(cst.CSTVisitor):
        def __init__(self) -> None:
            super().__init__()
            self.names: list[str] = []

        def on_visit(self, node: cst.CSTNode) -> bool:
            if isinstance(node, cst.Name):
                self.names.append(node.value)
            return not (isinstance(node, cst.SimpleStatementLine) and "stop" in cst.Module([]).code_for_node(node))

    v = StopAtSecond()
    traverse.visit(cst.parse_module("a = 1\nstop = b\nc = 2\n"), v)
    assert v.names == ["a", "c"]


def test_the_collector_is_relaxed_while_checking_and_restored_after():
    before = gc.get_threshold()
    seen = []

    with relaxed_gc():
        seen.append(gc.get_threshold()[0])
        with relaxed_gc():  # nested: unchanged
            seen.append(gc.get_threshold()[0])
    assert seen == [RELAXED_THRESHOLD, RELAXED_THRESHOLD]
    assert gc.get_threshold() == before
    with pytest.raises(RuntimeError):
        with relaxed_gc():
            raise RuntimeError
    assert gc.get_threshold() == before
    assert [d.code for d in check_source("m.requires_grad_ = False\n")] == ["FZ101"]
    assert gc.get_threshold() == before
