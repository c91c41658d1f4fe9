"""Where a file reads `x.requires_grad_` without calling it (FZ101 and FZ103 share it).

`requires_grad_` is the in-place method: read uncalled it is a bound method, true as a test. A file
that assigns `x.requires_grad_ = flag` (FZ101) and then tests `if p.requires_grad_:` reads its own
stored flag back, so FZ101's fix (calling the method) changes what those reads see, and FZ103's
rename of such a test to `requires_grad` changes what the program trains unless the assignments
become calls too: each fix is safe only in a file without the other half.
"""

from __future__ import annotations

import libcst as cst

from freezelint.check import traverse

_NAME = "requires_grad_"


class _Reads(cst.CSTVisitor):
    def __init__(self) -> None:
        super().__init__()
        self.called: set[int] = set()  # ids of `x.requires_grad_` nodes that are a call's function
        self.stored: set[int] = set()  # ... that are assigned to
        self.every: list[cst.Attribute] = []
        self.tested: list[cst.Attribute] = []  # read where Python takes a truth value

    def _test(self, expr: cst.BaseExpression | None) -> None:
        if isinstance(expr, cst.Attribute) and expr.attr.value == _NAME:
            self.tested.append(expr)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if node.attr.value == _NAME:
            self.every.append(node)

    def visit_Call(self, node: cst.Call) -> None:
        self.called.add(id(node.func))
        # `filter(lambda p: p.requires_grad_, params)`: the lambda's result is the test
        if isinstance(node.func, cst.Name) and node.func.value == "filter" and node.args \
                and isinstance(node.args[0].value, cst.Lambda):
            self._test(node.args[0].value.body)

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self.stored.add(id(node.target))

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self.stored.add(id(node.target))

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self.stored.add(id(node.target))

    def visit_If(self, node: cst.If) -> None:
        self._test(node.test)

    def visit_While(self, node: cst.While) -> None:
        self._test(node.test)

    def visit_IfExp(self, node: cst.IfExp) -> None:
        self._test(node.test)

    def visit_CompIf(self, node: cst.CompIf) -> None:
        self._test(node.test)

    def visit_Assert(self, node: cst.Assert) -> None:
        self._test(node.test)

    def visit_UnaryOperation(self, node: cst.UnaryOperation) -> None:
        if isinstance(node.operator, cst.Not):
            self._test(node.expression)

    def visit_BooleanOperation(self, node: cst.BooleanOperation) -> None:
        self._test(node.left)
        self._test(node.right)


def method_reads(module: cst.Module) -> tuple[list[cst.Attribute], list[cst.Attribute]]:
    """(every uncalled, unassigned read of `x.requires_grad_`; those read as a truth value)."""
    reads = _Reads()
    traverse.visit(module, reads)
    loose = [a for a in reads.every if id(a) not in reads.called and id(a) not in reads.stored]
    seen = {id(a) for a in loose}
    return loose, [a for a in dict.fromkeys(reads.tested) if id(a) in seen]
