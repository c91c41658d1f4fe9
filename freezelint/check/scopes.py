"""The data one pass over a file records: scopes and their bindings, classes, candidate nodes.

`qualname` answers what a name or attribute chain is through the file's imports.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst


@dataclass(eq=False, repr=False)
class ClassInfo:
    name: str
    node: cst.ClassDef
    is_module: bool
    # self.<attr> = <value> inside the class's methods: attr -> [(value, scope)]
    attrs: dict[str, list[tuple[cst.BaseExpression, "Scope"]]] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"ClassInfo({self.name!r}, is_module={self.is_module})"


@dataclass(eq=False, repr=False)
class Binding:
    how: str  # "expr" | "iter" | "param" | "import" | "opaque"
    node: cst.CSTNode | None = None
    scope: "Scope | None" = None
    index: tuple[int, ...] = ()  # position inside a tuple target
    qualname: str | None = None
    func: "cst.FunctionDef | cst.Lambda | None" = None


@dataclass(eq=False, repr=False)
class Scope:
    kind: str  # "module" | "class" | "function" | "lambda" | "comp"
    parent: "Scope | None"
    node: cst.CSTNode | None = None
    bindings: dict[str, list[Binding]] = field(default_factory=dict)
    cls: ClassInfo | None = None  # class scope: the class; method scope: the owning class
    is_method: bool = False
    func_name: str | None = None
    # assignments to dotted paths rooted at a name of this scope: "model.fc" -> values
    paths: dict[str, list[cst.BaseExpression]] = field(default_factory=dict)

    def bind(self, name: str, b: Binding) -> None:
        self.bindings.setdefault(name, []).append(b)

    def lookup(self, name: str) -> "Scope | None":
        """The scope that binds `name` as Python resolves it (class bodies are skipped from inside)."""
        s: Scope | None = self
        first = True
        while s is not None:
            if (first or s.kind != "class") and name in s.bindings:
                return s
            first = False
            s = s.parent
        return None


@dataclass(eq=False, repr=False)
class Ctx:
    """Where a candidate node sits."""

    scope: Scope
    stmt: cst.CSTNode  # innermost statement (for noqa on the first line of a multi-line statement)
    narrow: tuple[tuple[str, str, str | None], ...] = ()  # (name, tag, class) from isinstance checks


@dataclass(eq=False, repr=False)
class AttrStore:
    """`obj.attr = value` in any of its forms."""

    obj: cst.BaseExpression
    attr: str
    attr_node: cst.CSTNode  # what to underline
    value: cst.BaseExpression | None
    form: str  # "assign" | "annassign" | "augassign" | "setattr"
    node: cst.CSTNode  # the Assign / AnnAssign / AugAssign / setattr Call
    ctx: Ctx
    target_index: int = 0  # position among chained targets
    unpacked: bool = False  # one pair of `a.x, b.y = u, v` (syntax.assigned_pairs), not the whole target


@dataclass(eq=False, repr=False)
class MethodCall:
    obj: cst.BaseExpression
    method: str
    call: cst.Call
    ctx: Ctx


@dataclass(eq=False, repr=False)
class ExprStatement:
    stmt: cst.Expr
    ctx: Ctx


def qualname(expr: cst.BaseExpression, scope: Scope) -> str | None:
    """Fully qualified name of a Name/Attribute reached through imports, or a builtin's name."""
    if isinstance(expr, cst.Name):
        owner = scope.lookup(expr.value)
        if owner is None:
            return expr.value  # builtin or undefined: taken at face value
        bindings = owner.bindings[expr.value]
        quals = {b.qualname for b in bindings if b.how == "import"}
        if len(quals) == 1 and all(b.how == "import" for b in bindings):
            return quals.pop()
        return None
    if isinstance(expr, cst.Attribute):
        base = qualname(expr.value, scope)
        return f"{base}.{expr.attr.value}" if base else None
    return None
