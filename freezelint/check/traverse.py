"""Read-only traversal of a libcst tree, in libcst's own order, without rebuilding it.

`node.visit(visitor)` rebuilds (and re-validates) every node it passes, even for a visitor that
changes nothing: on real files that cost more than parsing them. `visit` here calls the same
`visit_X`/`leave_X` methods in the same order, but reads each node's fields in place. The order
of a node class's fields is taken from libcst itself (the attributes its `_visit_and_replace_children`
announces, recorded once per class), so it holds for whichever libcst version is installed.
Whitespace, comments and punctuation are not entered unless the visitor handles one of them.
"""

from __future__ import annotations

import dataclasses
from typing import Iterator

import libcst as cst

_TRIVIA: frozenset[type] = frozenset({
    cst.SimpleWhitespace, cst.ParenthesizedWhitespace, cst.TrailingWhitespace, cst.EmptyLine,
    cst.Newline, cst.Comment, cst.Comma, cst.Dot, cst.Colon, cst.Semicolon, cst.AssignEqual,
    cst.LeftParen, cst.RightParen, cst.LeftSquareBracket, cst.RightSquareBracket, cst.LeftCurlyBrace,
    cst.RightCurlyBrace, cst.ImportStar, cst.Asynchronous, cst.ParamSlash, cst.ParamStar,
    *(c for c in vars(cst).values() if isinstance(c, type)
      and issubclass(c, (cst.BaseBinaryOp, cst.BaseBooleanOp, cst.BaseCompOp, cst.BaseUnaryOp, cst.BaseAugOp))),
})
_TRIVIA_NAMES = frozenset(c.__name__ for c in _TRIVIA)


class _FieldOrder(cst.CSTVisitor):
    """Records the attributes libcst visits on one node, without descending into them."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[str] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        return False

    def on_visit_attribute(self, node: cst.CSTNode, attribute: str) -> None:
        self.fields.append(attribute)


# node class -> (fields in visiting order, fields that order lacks). libcst skips some fields
# when they are empty (an f-string expression without a format spec): a node that has one of
# those is recorded again, under the set of them it has.
_FIELDS: dict[type, tuple[tuple[str, ...], tuple[str, ...]]] = {}
_FIELDS_WITH: dict[tuple[type, tuple[str, ...]], tuple[str, ...]] = {}


def _record(node: cst.CSTNode) -> tuple[str, ...]:
    recorder = _FieldOrder()
    node._visit_and_replace_children(recorder)  # children are not entered: one node rebuilt
    return tuple(dict.fromkeys(recorder.fields))


def _holds_nodes(value: object) -> bool:
    return isinstance(value, cst.CSTNode) or (isinstance(value, (tuple, list)) and bool(value))


def _fields(node: cst.CSTNode) -> tuple[str, ...]:
    cls = type(node)
    entry = _FIELDS.get(cls)
    if entry is None:
        order = _record(node)
        lacking = tuple(f.name for f in dataclasses.fields(node)
                        if f.name not in order and not isinstance(getattr(node, f.name), (str, int, float)))
        entry = _FIELDS[cls] = (order, lacking)
    order, lacking = entry
    if lacking:
        present = tuple(f for f in lacking if _holds_nodes(getattr(node, f)))
        if present:
            key = (cls, present)
            order = _FIELDS_WITH.get(key)  # type: ignore[assignment]
            if order is None:
                order = _FIELDS_WITH[key] = _record(node)
            return order
    return order


def children(node: cst.CSTNode, trivia: bool = False) -> Iterator[cst.CSTNode]:
    """`node.children` in order, without rebuilding `node`; whitespace and punctuation only
    with `trivia`."""
    for name in _fields(node):
        value = getattr(node, name)
        if isinstance(value, cst.CSTNode):
            if trivia or type(value) not in _TRIVIA:
                yield value
        elif isinstance(value, (tuple, list)):
            for item in value:
                if isinstance(item, cst.CSTNode) and (trivia or type(item) not in _TRIVIA):
                    yield item


def walk(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """The node and its descendants, depth first in source order, less whitespace and punctuation."""
    yield node
    for child in children(node):
        yield from walk(child)


_SCOPES = (cst.FunctionDef, cst.ClassDef, cst.Lambda)


def own_nodes(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """The node and its descendants in source order, less the functions, classes and lambdas
    nested in it (bodies of their own); without recursion (deep trees)."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed([c for c in n.children if not isinstance(c, _SCOPES)]))


# visitor class -> ({node class -> (visit method or None, leave method or None)}, enters trivia,
# overrides on_visit/on_leave itself)
_DISPATCH: dict[type, tuple[dict, bool, bool]] = {}


def _dispatch(visitor: cst.CSTVisitor) -> tuple[dict, bool, bool]:
    vcls = type(visitor)
    found = _DISPATCH.get(vcls)
    if found is None:
        # CSTVisitor defines a no-op visit_X/leave_X for every node class: only overrides count
        handled = {n.split("_", 1)[1] for n in dir(vcls) if n.startswith(("visit_", "leave_"))
                   and getattr(vcls, n) is not getattr(cst.CSTVisitor, n, None)}
        generic = vcls.on_visit is not cst.CSTVisitor.on_visit or vcls.on_leave is not cst.CSTVisitor.on_leave
        found = _DISPATCH[vcls] = ({}, bool(handled & _TRIVIA_NAMES), generic)
    return found


def _override(vcls: type, name: str):
    found = getattr(vcls, name, None)
    return None if found is None or found is getattr(cst.CSTVisitor, name, None) else found


def visit(node: cst.CSTNode, visitor: cst.CSTVisitor) -> None:
    """`node.visit(visitor)` for a visitor that changes nothing, in the same order.
    (The per-attribute hooks `visit_X_attr` are not called: no visitor here defines one.)"""
    table, trivia, generic = _dispatch(visitor)
    _visit(node, visitor, None if generic else table, trivia)


def _visit(node: cst.CSTNode, visitor: cst.CSTVisitor, table: dict | None, trivia: bool) -> None:
    if table is None:  # the visitor decides itself (its own on_visit / on_leave)
        enter = visitor.on_visit(node)
    else:
        cls = type(node)
        methods = table.get(cls)
        if methods is None:
            name = cls.__name__
            methods = table[cls] = (_override(type(visitor), f"visit_{name}"),
                                    _override(type(visitor), f"leave_{name}"))
        enter = methods[0] is None or methods[0](visitor, node) is not False
    if enter:
        for name in _fields(node):
            value = getattr(node, name)
            if isinstance(value, cst.CSTNode):
                if trivia or type(value) not in _TRIVIA:
                    _visit(value, visitor, table, trivia)
            elif isinstance(value, (tuple, list)):
                for item in value:
                    if isinstance(item, cst.CSTNode) and (trivia or type(item) not in _TRIVIA):
                        _visit(item, visitor, table, trivia)
    if table is None:
        visitor.on_leave(node)
    elif methods[1] is not None:
        methods[1](visitor, node)
