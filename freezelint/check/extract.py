"""Per-file extraction: one libcst pass that records scopes, bindings, classes and the
candidate nodes rules look at. Nothing here infers what a name holds (that is `kinds`)."""

from __future__ import annotations

from typing import Sequence

import libcst as cst

from freezelint.check import traverse
from freezelint.check.known import batchnorm_name_kinds, batchnorm_name_tests, is_batchnorm_class, is_module_class, tensor_guards
from freezelint.check.scopes import (AttrStore, Binding, ClassInfo, Ctx, ExprStatement, MethodCall, Scope,
                                     qualname)
from freezelint.check.syntax import assigned_pairs, call_arg, dotted, import_name, string_value

MODULE = "module"  # narrowing tags, the same strings as kinds.MODULE and kinds.PARAM
PARAM = "param"


class Extractor(cst.CSTVisitor):
    """One pass: scopes, imports, bindings, classes, and the candidate nodes rules look at."""

    def __init__(self) -> None:
        self.module_scope = Scope("module", None)
        self._scope = self.module_scope
        self._stmt: list[cst.CSTNode] = []
        self._narrow: list[tuple[str, str, str | None]] = []
        # `if isinstance(name, classes):` statements: (If node, name, class expressions, ctx)
        self.isinstance_ifs: list[tuple[cst.If, str, list[cst.BaseExpression], Ctx]] = []
        # `if type(m).__name__ == "BatchNorm2d":` statements: (If node, name, the test, classes it names, ctx)
        self.bn_name_ifs: list[tuple[cst.If, str, cst.BaseExpression, list[str], Ctx]] = []
        self.classes: dict[str, ClassInfo] = {}
        self.attr_stores: list[AttrStore] = []
        self.method_calls: list[MethodCall] = []
        self.name_calls: list[MethodCall] = []  # `name(...)`: obj is the Name, method its value
        self.expr_statements: list[ExprStatement] = []
        # `X.apply(f)` calls: function name or lambda -> receivers
        self.apply_receivers: dict[int, list[tuple[cst.BaseExpression, Scope]]] = {}
        self.apply_by_name: dict[str, list[tuple[cst.BaseExpression, Scope]]] = {}
        # per function: its return values, and the call sites `name(...)` that reach it
        self.func_scopes: dict[int, Scope] = {}
        self.comp_scopes: dict[int, Scope] = {}  # per comprehension node: the scope of its names
        self.returns: dict[int, list[cst.BaseExpression | None]] = {}
        self.calls_by_name: dict[str, list[tuple[cst.Call, Scope]]] = {}
        self.star_imports: list[str] = []  # `from X import *` at module level: X (Facts.bind_star_imports)
        # `if not <test>: continue` -> `if <test>:` around the statements after it (_note_early_exits)
        self._exits: dict[int, cst.If] = {}

    # ----------------------------------------------------------------- traversal helpers
    def _ctx(self) -> Ctx:
        return Ctx(self._scope, self._stmt[-1] if self._stmt else None, tuple(self._narrow))

    def _push(self, scope: Scope) -> None:
        self._scope = scope

    def _pop(self) -> None:
        assert self._scope.parent is not None
        self._scope = self._scope.parent

    # statements ------------------------------------------------------------------------
    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self._stmt.append(node)

    def leave_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self._stmt.pop()

    def _enter_compound(self, node: cst.CSTNode) -> None:
        self._stmt.append(node)

    def _leave_compound(self, node: cst.CSTNode) -> None:
        self._stmt.pop()

    def visit_For(self, node: cst.For) -> None:
        self._enter_compound(node)
        self._bind_target(node.target, Binding("iter", node.iter, self._scope))

    def leave_For(self, node: cst.For) -> None:
        self._leave_compound(node)

    def visit_While(self, node: cst.While) -> None:
        self._enter_compound(node)

    def leave_While(self, node: cst.While) -> None:
        self._leave_compound(node)

    def visit_With(self, node: cst.With) -> None:
        self._enter_compound(node)
        for item in node.items:
            if item.asname is not None:
                self._bind_target(item.asname.name, Binding("opaque"))

    def leave_With(self, node: cst.With) -> None:
        self._leave_compound(node)

    def visit_Try(self, node: cst.Try) -> None:
        self._enter_compound(node)

    def leave_Try(self, node: cst.Try) -> None:
        self._leave_compound(node)

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        if node.name is not None:
            self._bind_target(node.name.name, Binding("opaque"))

    def visit_Match(self, node: cst.Match) -> None:
        self._enter_compound(node)

    def leave_Match(self, node: cst.Match) -> None:
        self._leave_compound(node)

    def visit_MatchAs(self, node: cst.MatchAs) -> None:
        if node.name is not None:
            self._scope.bind(node.name.value, Binding("opaque"))

    def visit_MatchStar(self, node: cst.MatchStar) -> None:
        if node.name is not None:
            self._scope.bind(node.name.value, Binding("opaque"))

    # if / isinstance narrowing --------------------------------------------------------
    def _narrowings(self, test: cst.BaseExpression, node: cst.If | None = None) -> list[tuple[str, str, str | None]]:
        out: list[tuple[str, str, str | None]] = []
        if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
            return self._narrowings(test.left, node) + self._narrowings(test.right, node)
        if isinstance(test, cst.Call) and qualname(test.func, self._scope) == "isinstance":
            subject = call_arg(test, 0)
            classes = call_arg(test, 1)
            if isinstance(subject, cst.Name) and classes is not None:
                elts = classes.elements if isinstance(classes, cst.Tuple) else [cst.Element(classes)]
                exprs = [e.value for e in elts if isinstance(e, cst.Element)]
                if node is not None and len(exprs) == len(elts):
                    self.isinstance_ifs.append((node, subject.value, exprs, self._ctx()))
                if exprs and len(exprs) == len(elts) and all(self._is_module_class_expr(e) for e in exprs):
                    quals = [qualname(e, self._scope) for e in exprs]
                    qual = quals[0] if all(is_batchnorm_class(q) for q in quals) or len(quals) == 1 else None
                    out.append((subject.value, MODULE, qual))
            # `isinstance(x, nn.Parameter)`: a tensor, whatever else the file does with `x`
            out.extend((name, PARAM, None) for name in tensor_guards(test, lambda e: qualname(e, self._scope)))
        # `classname = m.__class__.__name__; if "BatchNorm" in classname:`: a BatchNorm layer, as under isinstance
        out.extend((name, MODULE, qual) for name, qual in batchnorm_name_tests(test, self._bound_once))
        if node is not None:
            self.bn_name_ifs.extend((node, name, test, classes, self._ctx())
                                    for name, classes in batchnorm_name_kinds(test, self._bound_once, prefixes=True))
        return out

    def _bound_once(self, name: str) -> cst.BaseExpression | None:
        """The value of the one assignment to `name` in the current scope, else None."""
        bindings = self._scope.bindings.get(name, [])
        return bindings[0].node if len(bindings) == 1 and bindings[0].how == "expr" else None

    def _is_module_class_expr(self, expr: cst.BaseExpression) -> bool:
        q = qualname(expr, self._scope)
        if is_module_class(q):
            return True
        if isinstance(expr, cst.Name):
            info = self.classes.get(expr.value)
            return info is not None and info.is_module
        return False

    def visit_Module(self, node: cst.Module) -> None:
        self._note_early_exits(node.body)

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self._note_early_exits(node.body)

    def _note_early_exits(self, stmts: Sequence[cst.BaseStatement]) -> None:
        """`if not isinstance(m, nn.BatchNorm2d): continue` (or `return`) and the statements after it:
        read as `if isinstance(m, nn.BatchNorm2d):` around them, for the tests recorded per `if`."""
        for i, st in enumerate(stmts):
            if isinstance(st, cst.If) and st.orelse is None and _only_exit(st.body) \
                    and (test := _positive(st.test)) is not None and i + 1 < len(stmts):
                self._exits[id(st)] = cst.If(test=test, body=cst.IndentedBlock(body=tuple(stmts[i + 1:])))

    def visit_If(self, node: cst.If) -> bool:
        # Children are visited by hand so that isinstance narrowing covers the body only.
        self._enter_compound(node)
        traverse.visit(node.test, self)
        rest = self._exits.pop(id(node), None)
        if rest is not None:  # the tests only: what narrows a name there is left as it was
            mark = len(self.bn_name_ifs)
            self._narrowings(rest.test, rest)
            shown = node.test.expression if isinstance(node.test, cst.UnaryOperation) else node.test
            self.bn_name_ifs[mark:] = [(n, name, shown, classes, ctx)  # reported at the test as written
                                       for n, name, _, classes, ctx in self.bn_name_ifs[mark:]]
        mark = len(self._narrow)
        self._narrow.extend(self._narrowings(node.test, node))
        traverse.visit(node.body, self)
        del self._narrow[mark:]
        if node.orelse is not None:
            traverse.visit(node.orelse, self)
        return False

    def leave_If(self, node: cst.If) -> None:
        self._leave_compound(node)

    # functions, lambdas, classes, comprehensions --------------------------------------
    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._enter_compound(node)
        is_module = False
        for base in node.bases:
            if base.keyword is not None:
                continue
            q = qualname(base.value, self._scope)
            if is_module_class(q):
                is_module = True
            elif isinstance(base.value, cst.Name):
                parent = self.classes.get(base.value.value)
                if parent is not None and parent.is_module:
                    is_module = True
        info = ClassInfo(node.name.value, node, is_module)
        self._scope.bind(node.name.value, Binding("opaque"))
        self.classes[node.name.value] = info
        self._push(Scope("class", self._scope, node, cls=info))

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        self._pop()
        self._leave_compound(node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._enter_compound(node)
        self._scope.bind(node.name.value, Binding("def", node, self._scope))
        in_class = self._scope.kind == "class"
        decorators = {dotted(d.decorator) for d in node.decorators}
        is_method = in_class and not ({"staticmethod", "classmethod"} & decorators)
        cls = self._scope.cls if in_class else (self._scope.cls if self._scope.kind == "function" else None)
        scope = Scope("function", self._scope, node, cls=cls, is_method=is_method, func_name=node.name.value)
        self._bind_params(scope, node, node.params, is_method)
        self.func_scopes[id(node)] = scope
        self._push(scope)

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._pop()
        self._leave_compound(node)

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        scope = Scope("lambda", self._scope, node, cls=self._scope.cls)
        self._bind_params(scope, node, node.params, False)
        self._push(scope)
        return True

    def leave_Lambda(self, node: cst.Lambda) -> None:
        self._pop()

    def _bind_params(self, scope: Scope, func, params: cst.Parameters, is_method: bool) -> None:
        ordered = [*params.posonly_params, *params.params]
        for i, p in enumerate(ordered):
            scope.bind(p.name.value, Binding("param", p, self._scope, index=(i,), func=func,
                                             qualname="self" if (is_method and i == 0) else None))
        for p in params.kwonly_params:
            scope.bind(p.name.value, Binding("param", p, self._scope, index=(-1,), func=func))
        for star in (params.star_arg, params.star_kwarg):
            if isinstance(star, cst.Param):
                scope.bind(star.name.value, Binding("opaque"))

    def _visit_comp(self, node, for_in: cst.CompFor) -> None:
        scope = Scope("comp", self._scope, node, cls=self._scope.cls)
        self.comp_scopes[id(node)] = scope
        f: cst.CompFor | None = for_in
        while f is not None:
            # The first iterable is evaluated in the enclosing scope; later ones inside.
            it_scope = self._scope if f is for_in else scope
            self._bind_target_in(scope, f.target, Binding("iter", f.iter, it_scope))
            f = f.inner_for_in
        self._push(scope)

    def visit_ListComp(self, node: cst.ListComp) -> None:
        self._visit_comp(node, node.for_in)

    def leave_ListComp(self, node: cst.ListComp) -> None:
        self._pop()

    def visit_SetComp(self, node: cst.SetComp) -> None:
        self._visit_comp(node, node.for_in)

    def leave_SetComp(self, node: cst.SetComp) -> None:
        self._pop()

    def visit_GeneratorExp(self, node: cst.GeneratorExp) -> None:
        self._visit_comp(node, node.for_in)

    def leave_GeneratorExp(self, node: cst.GeneratorExp) -> None:
        self._pop()

    def visit_DictComp(self, node: cst.DictComp) -> None:
        self._visit_comp(node, node.for_in)

    def leave_DictComp(self, node: cst.DictComp) -> None:
        self._pop()

    # imports -----------------------------------------------------------------------------
    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            full = import_name(alias.name)
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self._scope.bind(alias.asname.name.value, Binding("import", qualname=full))
            else:
                top = full.split(".")[0]
                self._scope.bind(top, Binding("import", qualname=top))

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        base = "." * len(node.relative) + (import_name(node.module) if node.module else "")
        if isinstance(node.names, cst.ImportStar):
            if self._scope is self.module_scope:
                self.star_imports.append(base)
            return
        for alias in node.names:
            name = import_name(alias.name)
            local = alias.asname.name.value if (alias.asname and isinstance(alias.asname.name, cst.Name)) else name
            qual = f"{base}.{name}" if base and not base.endswith(".") else f"{base}{name}"
            self._scope.bind(local, Binding("import", qualname=qual))

    def visit_Global(self, node: cst.Global) -> None:
        for n in node.names:
            self._scope.bind(n.name.value, Binding("opaque"))

    def visit_Nonlocal(self, node: cst.Nonlocal) -> None:
        for n in node.names:
            self._scope.bind(n.name.value, Binding("opaque"))

    # assignments -----------------------------------------------------------------------
    def _bind_target(self, target: cst.BaseExpression, binding: Binding) -> None:
        self._bind_target_in(self._scope, target, binding)

    def _bind_target_in(self, scope: Scope, target: cst.BaseExpression, binding: Binding,
                        index: tuple[int, ...] = ()) -> None:
        if isinstance(target, cst.Name):
            scope.bind(target.value, Binding(binding.how, binding.node, binding.scope, index))
        elif isinstance(target, (cst.Tuple, cst.List)):
            for i, el in enumerate(target.elements):
                if isinstance(el, cst.StarredElement):
                    self._bind_target_in(scope, el.value, Binding("opaque"))
                else:
                    self._bind_target_in(scope, el.value, binding, index + (i,))
        elif isinstance(target, cst.Attribute) and binding.how == "expr" and not index:
            self._record_path(target, binding.node)

    def _record_path(self, target: cst.Attribute, value) -> None:
        path = dotted(target)
        if path is None:
            return
        root = path.split(".")[0]
        cls = self._scope.cls
        if root == "self" and cls is not None and self._scope.is_method and path.count(".") == 1:
            cls.attrs.setdefault(target.attr.value, []).append((value, self._scope))
        else:
            self._scope.paths.setdefault(path, []).append(value)

    def visit_Assign(self, node: cst.Assign) -> None:
        n = len(node.targets)
        for i, t in enumerate(node.targets):
            pairs = assigned_pairs(t.target, node.value)  # `a, b = x, y`: two assignments
            for target, value in pairs:
                self._bind_target(target, Binding("expr", value, self._scope))
                # `self.backbone.requires_grad, self.head.requires_grad = False, True`: two stores;
                # a target unpacking a value that is no display of its length stores nothing known
                if isinstance(target, cst.Attribute):
                    self.attr_stores.append(AttrStore(target.value, target.attr.value, target, value, "assign",
                                                      node, self._ctx(), i, unpacked=target is not t.target))
        del n

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._bind_target(node.target, Binding("expr", node.value, self._scope))
        else:
            self._bind_target(node.target, Binding("opaque"))
        if isinstance(node.target, cst.Attribute):
            self.attr_stores.append(AttrStore(node.target.value, node.target.attr.value, node.target,
                                              node.value, "annassign", node, self._ctx()))

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._bind_target(node.target, Binding("opaque"))
        if isinstance(node.target, cst.Attribute):
            self.attr_stores.append(AttrStore(node.target.value, node.target.attr.value, node.target,
                                              node.value, "augassign", node, self._ctx()))

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        scope = self._scope
        while scope.kind == "comp" and scope.parent is not None:
            scope = scope.parent
        self._bind_target_in(scope, node.target, Binding("expr", node.value, self._scope))

    def visit_Return(self, node: cst.Return) -> None:
        s: Scope | None = self._scope
        while s is not None and s.kind not in ("function", "lambda"):
            s = s.parent
        if s is not None and s.kind == "function":
            self.returns.setdefault(id(s.node), []).append(node.value)

    def visit_Expr(self, node: cst.Expr) -> None:
        self.expr_statements.append(ExprStatement(node, self._ctx()))

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute):
            self.method_calls.append(MethodCall(func.value, func.attr.value, node, self._ctx()))
            if func.attr.value == "apply" and node.args:
                fn = node.args[0].value
                if isinstance(fn, cst.Lambda):
                    self.apply_receivers.setdefault(id(fn), []).append((func.value, self._scope))
                elif isinstance(fn, cst.Name):
                    self.apply_by_name.setdefault(fn.value, []).append((func.value, self._scope))
            elif func.attr.value in ("add_module", "register_module"):
                # `model.add_module("encoder", nn.Sequential(...))`: `model.encoder` is assigned that
                name, value = string_value(call_arg(node, 0, "name")), call_arg(node, 1, "module")
                if name is not None and name.isidentifier() and value is not None:
                    self._record_path(cst.Attribute(value=func.value, attr=cst.Name(name)), value)
        elif isinstance(func, cst.Name):
            self.calls_by_name.setdefault(func.value, []).append((node, self._scope))
            self.name_calls.append(MethodCall(func, func.value, node, self._ctx()))
        if isinstance(func, cst.Name) and func.value == "setattr" and len(node.args) >= 3:
            if qualname(func, self._scope) == "setattr":
                name = string_value(node.args[1].value)
                if name is not None:
                    self.attr_stores.append(AttrStore(node.args[0].value, name, node.args[1].value,
                                                      node.args[2].value, "setattr", node, self._ctx()))



_FLIPPED = {cst.Equal: cst.NotEqual, cst.NotEqual: cst.Equal, cst.In: cst.NotIn, cst.NotIn: cst.In,
            cst.Is: cst.IsNot, cst.IsNot: cst.Is, cst.LessThan: cst.GreaterThanEqual,
            cst.GreaterThanEqual: cst.LessThan, cst.GreaterThan: cst.LessThanEqual, cst.LessThanEqual: cst.GreaterThan}


def _positive(test: cst.BaseExpression) -> cst.BaseExpression | None:
    """The test under which the statements after `if <test>: continue` run: `not X` -> X, `not A or
    not B` -> `A and B`, `a != b` -> `a == b`; None for any other test."""
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        return test.expression
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.Or):
        left, right = _positive(test.left), _positive(test.right)
        return None if left is None or right is None else cst.BooleanOperation(left, cst.And(), right)
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1 \
            and (flip := _FLIPPED.get(type(test.comparisons[0].operator))) is not None:
        return test.with_changes(comparisons=[cst.ComparisonTarget(flip(), test.comparisons[0].comparator)])
    return None


def _only_exit(body: cst.BaseSuite) -> bool:
    """The block only leaves: `continue`, or `return` with no value."""
    lines = body.body if isinstance(body, cst.IndentedBlock) else [body]
    if len(lines) != 1 or not isinstance(lines[0], (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
        return False
    small = lines[0].body
    return len(small) == 1 and (isinstance(small[0], cst.Continue)
                                or isinstance(small[0], cst.Return) and small[0].value is None)
