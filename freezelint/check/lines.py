"""Start lines of a few nodes of a parsed file, without libcst's PositionProvider.

PositionProvider regenerates the whole file's code and records a start and an end, a line and a
column, for every node: on a training script that costs about five times the code generation
alone, and a summary needs the line of a handful of nodes (where a function freezes or trains its
argument). `start_lines` runs the same code generation once, counts newlines instead of keeping
tokens, and records only the nodes asked for, with PositionProvider's rule for where a node
starts: its syntactic start (after leading blank lines and comments) where the node records one,
else where its code begins.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Iterable

import libcst as cst
from libcst._nodes.internal import CodegenState

_NOTHING = nullcontext()  # reusable: the context of every node nobody asked about


class _Recording:
    """The syntactic-position context of a node asked about: its line when its own code begins,
    or, where libcst hoists the start from a child (an indented block's first statement), that
    child's line, asked for while the block runs."""

    __slots__ = ("state", "node", "start_node")

    def __init__(self, state: "_LineState", node: cst.CSTNode, start_node: cst.CSTNode | None) -> None:
        self.state, self.node, self.start_node = state, node, start_node

    def __enter__(self) -> None:
        state = self.state
        if self.start_node is None:
            state.found[self.node] = state.line
        else:
            state.wanted.add(self.start_node)
        state.syntactic.add(self.node)

    def __exit__(self, *exc: object) -> None:
        if self.start_node is not None and self.start_node in self.state.found:
            self.state.found[self.node] = self.state.found[self.start_node]


class _LineState(CodegenState):
    __slots__ = ("line", "wanted", "found", "syntactic")

    def __init__(self, module: cst.Module, wanted: set[cst.CSTNode]) -> None:
        super().__init__(default_indent=module.default_indent, default_newline=module.default_newline)
        self.line = 1
        self.wanted = wanted
        self.found: dict[cst.CSTNode, int] = {}
        self.syntactic: set[cst.CSTNode] = set()

    def add_indent_tokens(self) -> None:  # indentation holds no newline
        pass

    def add_token(self, value: str) -> None:  # only the line count is kept, not the code
        if "\n" in value or "\r" in value:
            self.line += value.count("\n") + value.count("\r") - value.count("\r\n")

    def before_codegen(self, node: cst.CSTNode) -> None:
        if node in self.wanted and node not in self.found:
            self.found[node] = self.line  # where its code begins; a syntactic start overrides it

    def record_syntactic_position(self, node: cst.CSTNode, *, start_node: cst.CSTNode | None = None,
                                  end_node: cst.CSTNode | None = None):  # type: ignore[override]
        if node not in self.wanted:
            return _NOTHING
        return _Recording(self, node, start_node)


def start_lines(module: cst.Module, nodes: Iterable[cst.CSTNode]) -> dict[cst.CSTNode, int]:
    """Node -> the line PositionProvider gives as its start, for each of `nodes` in `module`
    (a node not in the module is left out)."""
    asked = set(nodes)
    if not asked:
        return {}
    state = _LineState(module, set(asked))  # its own set: hoisted-from children join it
    module._codegen(state)
    return {n: state.found[n] for n in asked if n in state.found}
