"""Per-file facts that every rule shares, gathered in one light pass over the tree.

What a name holds is inferred flow-insensitively per scope: a name is a Module only if every
binding of it in its scope says so; one unknown binding makes it unknown. Rules that need a fact
this pass cannot establish stay silent (precision over recall).

Kinds:
    module      an nn.Module (constructed from a Module class, a model factory, `self` in an
                nn.Module subclass, items of `.modules()`/`.named_modules()`, ...)
    param       a Parameter (items of `.parameters()`/`.named_parameters()`, `nn.Parameter(...)`)
    copy        a tensor that does not share autograd identity with the parameter it came from
                (`.data`, `.detach()`, `.clone()`, values of `state_dict()` or `torch.load(...)`)
    state_dict  a mapping of copies (`model.state_dict()`, `torch.load(...)`)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import libcst as cst

MODULE = "module"
PARAM = "param"
COPY = "copy"
STATE_DICT = "state_dict"

_MAX_DEPTH = 12

# Methods of nn.Module that return the module itself.
_SELF_RETURNING = frozenset(
    {"to", "cuda", "cpu", "train", "eval", "requires_grad_", "float", "half", "double",
     "bfloat16", "type", "to_empty", "share_memory", "xpu", "ipu", "mtia"}
)
_NON_MODULE_NN = frozenset({"Parameter", "UninitializedParameter", "UninitializedBuffer", "Buffer"})
_NN_NON_MODULE_PACKAGES = frozenset(
    {"utils", "functional", "init", "parameter", "grad", "common_types", "attention", "modules.utils"}
)
_TV_NON_FACTORIES = frozenset({"get_weight", "list_models", "get_model_weights", "get_model_builder"})
_MODULE_BASES = frozenset(
    {"lightning.pytorch.LightningModule", "pytorch_lightning.LightningModule",
     "lightning.LightningModule", "transformers.PreTrainedModel",
     "transformers.modeling_utils.PreTrainedModel"}
)
_MODULE_FACTORIES = frozenset(
    {"timm.create_model", "timm.models.create_model", "torch.compile", "copy.deepcopy",
     "torchvision.models.get_model",
     "torchvision.models.feature_extraction.create_feature_extractor"}
)


def is_module_class(qualname: str | None) -> bool:
    """True when `qualname` names a class whose instances are nn.Modules."""
    if not qualname:
        return False
    if qualname in _MODULE_BASES:
        return True
    parts = qualname.split(".")
    last = parts[-1]
    if not last[:1].isupper():
        return False
    if qualname.startswith("torch.nn.") or qualname.startswith("torch.ao.nn."):
        inner = parts[2:-1]
        return last not in _NON_MODULE_NN and not any(p in _NN_NON_MODULE_PACKAGES for p in inner)
    if qualname.startswith(("torchvision.models.", "torchvision.ops.", "timm.models.", "timm.layers.")):
        return not last.endswith("Weights") and "utils" not in parts
    if qualname.startswith("transformers.") and len(parts) == 2:
        return last.endswith("Model") or "For" in last
    return False


# torch.nn classes whose instances hold submodules; every other torch.nn class is a leaf.
_NN_CONTAINERS = frozenset({
    "Module", "Sequential", "ModuleList", "ModuleDict", "Transformer", "TransformerEncoder",
    "TransformerDecoder", "TransformerEncoderLayer", "TransformerDecoderLayer",
    "MultiheadAttention", "DataParallel", "DistributedDataParallel",
})


def is_leaf_module_class(qualname: str | None) -> bool:
    """A torch.nn layer without child modules (Linear, BatchNorm2d, ReLU, ...)."""
    if not qualname or not qualname.startswith("torch.nn.") or not is_module_class(qualname):
        return False
    return qualname.rsplit(".", 1)[1] not in _NN_CONTAINERS and ".parallel." not in qualname


_BATCHNORM = frozenset({"BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm", "LazyBatchNorm1d",
                        "LazyBatchNorm2d", "LazyBatchNorm3d", "_BatchNorm"})


def is_batchnorm_class(qualname: str | None) -> bool:
    """A class of the BatchNorm family (running statistics, `affine`), reached through torch.nn."""
    return bool(qualname) and qualname.startswith("torch.nn.") and qualname.rsplit(".", 1)[1] in _BATCHNORM


def is_module_factory(qualname: str | None) -> bool:
    """True when calling `qualname` returns a Module (functions, not classes)."""
    if not qualname:
        return False
    if qualname in _MODULE_FACTORIES:
        return True
    parts = qualname.split(".")
    last = parts[-1]
    if qualname.startswith("torchvision.models.") and last[:1].islower():
        return last not in _TV_NON_FACTORIES and "utils" not in parts and not last.startswith("_")
    return False


@dataclass(eq=False, repr=False)
class ClassInfo:
    name: str
    node: cst.ClassDef
    is_module: bool
    # self.<attr> = <value> inside the class's methods: attr -> [(value, scope)]
    attrs: dict[str, list[tuple[cst.BaseExpression, "Scope"]]] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"ClassInfo({self.name!r}, is_module={self.is_module})"


@dataclass(frozen=True)
class Kind:
    tag: str
    cls: ClassInfo | None = None
    origin: str | None = None  # for copies: how the copy was made, for messages
    qual: str | None = None  # for modules built from a known class: its qualified name


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


def _dotted(expr: cst.BaseExpression) -> str | None:
    if isinstance(expr, cst.Name):
        return expr.value
    if isinstance(expr, cst.Attribute):
        base = _dotted(expr.value)
        return f"{base}.{expr.attr.value}" if base else None
    return None


def _import_name(node: cst.BaseExpression) -> str:
    return _dotted(node) or ""


def _string_value(expr: cst.BaseExpression) -> str | None:
    if isinstance(expr, cst.SimpleString):
        try:
            value = expr.evaluated_value
        except Exception:  # malformed escapes: not a name we know
            return None
        return value if isinstance(value, str) else None
    return None


def _call_arg(call: cst.Call, pos: int, keyword: str | None = None) -> cst.BaseExpression | None:
    positional = [a for a in call.args if a.keyword is None and not a.star]
    if pos < len(positional):
        return positional[pos].value
    if keyword is not None:
        for a in call.args:
            if a.keyword is not None and a.keyword.value == keyword:
                return a.value
    return None


class Facts(cst.CSTVisitor):
    """One pass: scopes, imports, bindings, classes, and the candidate nodes rules look at."""

    def __init__(self) -> None:
        self.module_scope = Scope("module", None)
        self._scope = self.module_scope
        self._stmt: list[cst.CSTNode] = []
        self._narrow: list[tuple[str, str, str | None]] = []
        # `if isinstance(name, classes):` statements: (If node, name, class expressions, ctx)
        self.isinstance_ifs: list[tuple[cst.If, str, list[cst.BaseExpression], Ctx]] = []
        self.classes: dict[str, ClassInfo] = {}
        self.attr_stores: list[AttrStore] = []
        self.method_calls: list[MethodCall] = []
        self.name_calls: list[MethodCall] = []  # `name(...)`: obj is the Name, method its value
        self.expr_statements: list[ExprStatement] = []
        # `X.apply(f)` calls: function name or lambda -> receivers
        self._apply_receivers: dict[int, list[tuple[cst.BaseExpression, Scope]]] = {}
        self._apply_by_name: dict[str, list[tuple[cst.BaseExpression, Scope]]] = {}
        # per function: its return values, and the call sites `name(...)` that reach it
        self._func_scopes: dict[int, Scope] = {}
        self._returns: dict[int, list[cst.BaseExpression | None]] = {}
        self._calls_by_name: dict[str, list[tuple[cst.Call, Scope]]] = {}
        self._memo: dict[tuple[int, int], Kind | None] = {}
        self._busy: set[tuple[int, int]] = set()

    @classmethod
    def of(cls, module: cst.Module) -> "Facts":
        facts = cls()
        module.visit(facts)
        facts.module = module
        return facts

    @property
    def flows(self):
        """Ordered events per body, built on first use (only flow-aware rules need them)."""
        if getattr(self, "_flows", None) is None:
            from freezelint.check.flow import FileFlows

            self._flows = FileFlows(self, self.module)
        return self._flows

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
        if isinstance(test, cst.Call) and self.qualname(test.func, self._scope) == "isinstance":
            subject = _call_arg(test, 0)
            classes = _call_arg(test, 1)
            if isinstance(subject, cst.Name) and classes is not None:
                elts = classes.elements if isinstance(classes, cst.Tuple) else [cst.Element(classes)]
                exprs = [e.value for e in elts if isinstance(e, cst.Element)]
                if node is not None and len(exprs) == len(elts):
                    self.isinstance_ifs.append((node, subject.value, exprs, self._ctx()))
                if exprs and len(exprs) == len(elts) and all(self._is_module_class_expr(e) for e in exprs):
                    quals = [self.qualname(e, self._scope) for e in exprs]
                    qual = quals[0] if all(is_batchnorm_class(q) for q in quals) or len(quals) == 1 else None
                    out.append((subject.value, MODULE, qual))
        return out

    def _is_module_class_expr(self, expr: cst.BaseExpression) -> bool:
        q = self.qualname(expr, self._scope)
        if is_module_class(q):
            return True
        if isinstance(expr, cst.Name):
            info = self.classes.get(expr.value)
            return info is not None and info.is_module
        return False

    def visit_If(self, node: cst.If) -> bool:
        # Children are visited by hand so that isinstance narrowing covers the body only.
        self._enter_compound(node)
        node.test.visit(self)
        mark = len(self._narrow)
        self._narrow.extend(self._narrowings(node.test, node))
        node.body.visit(self)
        del self._narrow[mark:]
        if node.orelse is not None:
            node.orelse.visit(self)
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
            q = self.qualname(base.value, self._scope)
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
        decorators = {_dotted(d.decorator) for d in node.decorators}
        is_method = in_class and not ({"staticmethod", "classmethod"} & decorators)
        cls = self._scope.cls if in_class else (self._scope.cls if self._scope.kind == "function" else None)
        scope = Scope("function", self._scope, node, cls=cls, is_method=is_method, func_name=node.name.value)
        self._bind_params(scope, node, node.params, is_method)
        self._func_scopes[id(node)] = scope
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
            full = _import_name(alias.name)
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self._scope.bind(alias.asname.name.value, Binding("import", qualname=full))
            else:
                top = full.split(".")[0]
                self._scope.bind(top, Binding("import", qualname=top))

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if isinstance(node.names, cst.ImportStar):
            return
        base = "." * len(node.relative) + (_import_name(node.module) if node.module else "")
        for alias in node.names:
            name = _import_name(alias.name)
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
        path = _dotted(target)
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
            self._bind_target(t.target, Binding("expr", node.value, self._scope))
            if isinstance(t.target, cst.Attribute):
                self.attr_stores.append(AttrStore(t.target.value, t.target.attr.value, t.target,
                                                  node.value, "assign", node, self._ctx(), i))
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
            self._returns.setdefault(id(s.node), []).append(node.value)

    def visit_Expr(self, node: cst.Expr) -> None:
        self.expr_statements.append(ExprStatement(node, self._ctx()))

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute):
            self.method_calls.append(MethodCall(func.value, func.attr.value, node, self._ctx()))
            if func.attr.value == "apply" and node.args:
                fn = node.args[0].value
                if isinstance(fn, cst.Lambda):
                    self._apply_receivers.setdefault(id(fn), []).append((func.value, self._scope))
                elif isinstance(fn, cst.Name):
                    self._apply_by_name.setdefault(fn.value, []).append((func.value, self._scope))
        elif isinstance(func, cst.Name):
            self._calls_by_name.setdefault(func.value, []).append((node, self._scope))
            self.name_calls.append(MethodCall(func, func.value, node, self._ctx()))
        if isinstance(func, cst.Name) and func.value == "setattr" and len(node.args) >= 3:
            if self.qualname(func, self._scope) == "setattr":
                name = _string_value(node.args[1].value)
                if name is not None:
                    self.attr_stores.append(AttrStore(node.args[0].value, name, node.args[1].value,
                                                      node.args[2].value, "setattr", node, self._ctx()))

    # ============================================================== queries (after the pass)
    def qualname(self, expr: cst.BaseExpression, scope: Scope) -> str | None:
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
            base = self.qualname(expr.value, scope)
            return f"{base}.{expr.attr.value}" if base else None
        return None

    def kind(self, expr: cst.BaseExpression, ctx_or_scope: "Ctx | Scope") -> Kind | None:
        """What `expr` holds, or None when it cannot be established."""
        if isinstance(ctx_or_scope, Ctx):
            scope = ctx_or_scope.scope
            narrow = {name: (tag, qual) for name, tag, qual in ctx_or_scope.narrow}
        else:
            scope, narrow = ctx_or_scope, {}
        if isinstance(expr, cst.Name) and expr.value in narrow:
            tag, qual = narrow[expr.value]
            return Kind(tag, qual=qual)
        return self._kind(expr, scope, 0)

    def is_module(self, expr: cst.BaseExpression, ctx: "Ctx | Scope") -> bool:
        k = self.kind(expr, ctx)
        return k is not None and k.tag == MODULE

    def _kind(self, expr: cst.BaseExpression, scope: Scope, depth: int) -> Kind | None:
        if depth > _MAX_DEPTH:
            return None
        key = (id(expr), id(scope))
        if key in self._memo:
            return self._memo[key]
        if key in self._busy:
            return None
        self._busy.add(key)
        try:
            result = self._infer(expr, scope, depth + 1)
        finally:
            self._busy.discard(key)
        self._memo[key] = result
        return result

    def _infer(self, expr: cst.BaseExpression, scope: Scope, depth: int) -> Kind | None:
        if isinstance(expr, cst.Name):
            return self._name_kind(expr.value, scope, depth)
        if isinstance(expr, cst.Call):
            return self._call_kind(expr, scope, depth)
        if isinstance(expr, cst.Attribute):
            attr = expr.attr.value
            base = self._kind(expr.value, scope, depth)
            if attr == "data":
                # Only Tensor.data is a copy; PackedSequence.data and friends are fields.
                return Kind(COPY, origin=".data") if base is not None and base.tag == PARAM else None
            if base is not None and base.tag == MODULE and base.cls is not None:
                values = base.cls.attrs.get(attr)
                if values:
                    return self._agree([self._kind(v, s, depth) for v, s in values])
            path = _dotted(expr)
            if path is not None:
                owner = scope.lookup(path.split(".")[0])
                if owner is not None and path in owner.paths:
                    return self._agree([self._kind(v, owner, depth) for v in owner.paths[path]])
            return None
        if isinstance(expr, cst.Subscript):
            base = self._kind(expr.value, scope, depth)
            if base is not None and base.tag == STATE_DICT:
                return Kind(COPY, origin=base.origin)
            return None
        return None

    @staticmethod
    def _agree(kinds: Sequence[Kind | None]) -> Kind | None:
        """The common kind of all bindings; details survive only where every binding agrees."""
        if not kinds or any(k is None for k in kinds):
            return None
        first = kinds[0]
        if len(kinds) == 1:
            return first
        if any(k.tag != first.tag for k in kinds):  # type: ignore[union-attr]
            return None

        def same(attr):
            values = [getattr(k, attr) for k in kinds]
            return values[0] if all(v is values[0] for v in values) else None

        return Kind(first.tag, same("cls"), same("origin"), same("qual"))

    def _name_kind(self, name: str, scope: Scope, depth: int) -> Kind | None:
        owner = scope.lookup(name)
        if owner is None:
            return None
        return self._agree([self._binding_kind(name, b, owner, depth) for b in owner.bindings[name]])

    def _binding_kind(self, name: str, b: Binding, owner: Scope, depth: int) -> Kind | None:
        if b.how == "expr":
            return self._kind(b.node, b.scope or owner, depth)
        if b.how == "iter":
            return self._element_kind(b.node, b.scope or owner, b.index, depth)
        if b.how == "param":
            return self._param_kind(name, b, owner, depth)
        return None

    def _param_kind(self, name: str, b: Binding, owner: Scope, depth: int) -> Kind | None:
        param: cst.Param = b.node  # type: ignore[assignment]
        if b.qualname == "self" and owner.cls is not None and owner.cls.is_module:
            return Kind(MODULE, owner.cls)
        if param.annotation is not None:
            q = self.qualname(param.annotation.annotation, b.scope or owner)
            if is_module_class(q):
                return Kind(MODULE)
            if q in ("torch.nn.Parameter", "torch.nn.parameter.Parameter"):
                return Kind(PARAM)
            return None
        # The first parameter of a function handed to `module.apply(...)` receives modules.
        if b.index == (0,):
            func = b.func
            receivers: list[tuple[cst.BaseExpression, Scope]] = []
            if isinstance(func, cst.Lambda):
                receivers = self._apply_receivers.get(id(func), [])
            elif isinstance(func, cst.FunctionDef):
                receivers = self._apply_by_name.get(func.name.value, [])
            if receivers and all(self._is_module_kind(self._kind(r, s, depth)) for r, s in receivers):
                return Kind(MODULE)
        if isinstance(b.func, cst.FunctionDef) and not owner.is_method and b.index != (-1,):
            return self._param_from_calls(b.func, param, b.index[0], depth)
        return None

    def _param_from_calls(self, func: cst.FunctionDef, param: cst.Param, pos: int, depth: int) -> Kind | None:
        """A parameter holds what every same-file call of its function passes (at least one call)."""
        kinds: list[Kind | None] = []
        for call, scope in self._calls_by_name.get(func.name.value, []):
            if self._resolve_def(call.func, scope) is not func:
                continue
            if any(a.star for a in call.args):
                return None
            arg = _call_arg(call, pos, param.name.value)
            if arg is None:
                return None  # default value used somewhere: unknown
            kinds.append(self._kind(arg, scope, depth))
        return self._agree(kinds)

    def _resolve_def(self, expr: cst.BaseExpression, scope: Scope) -> cst.FunctionDef | None:
        if not isinstance(expr, cst.Name):
            return None
        owner = scope.lookup(expr.value)
        if owner is None:
            return None
        defs = owner.bindings[expr.value]
        if len(defs) == 1 and defs[0].how == "def":
            return defs[0].node  # type: ignore[return-value]
        return None

    @staticmethod
    def _is_module_kind(k: Kind | None) -> bool:
        return k is not None and k.tag == MODULE

    def _call_kind(self, call: cst.Call, scope: Scope, depth: int) -> Kind | None:
        func = call.func
        q = self.qualname(func, scope)
        if q is not None:
            if q in ("torch.nn.Parameter", "torch.nn.parameter.Parameter"):
                return Kind(PARAM)
            if q == "torch.load":
                return Kind(STATE_DICT, origin="torch.load()")
            if q in ("copy.deepcopy", "torch.compile"):
                arg = _call_arg(call, 0)
                return self._kind(arg, scope, depth) if arg is not None else None
            if is_module_class(q):
                return Kind(MODULE, qual=q)
            if is_module_factory(q):
                return Kind(MODULE)
        if isinstance(func, cst.Name):
            fdef = self._resolve_def(func, scope)
            if fdef is not None:
                returns = self._returns.get(id(fdef), [])
                fscope = self._func_scopes.get(id(fdef))
                if not returns or fscope is None or any(r is None for r in returns):
                    return None
                return self._agree([self._kind(r, fscope, depth) for r in returns])
            info = self.classes.get(func.value)
            owner = scope.lookup(func.value)
            if info is not None and info.is_module and owner is not None and all(
                b.how == "opaque" for b in owner.bindings[func.value]
            ):
                return Kind(MODULE, info)
            return None
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            if method in ("detach", "clone"):
                return Kind(COPY, origin=f".{method}()")
            if method == "state_dict":
                keep = _call_arg(call, 99, "keep_vars")
                if keep is not None and not (isinstance(keep, cst.Name) and keep.value == "False"):
                    return None
                return Kind(STATE_DICT, origin="state_dict()")
            if method == "from_pretrained":
                owner_q = self.qualname(func.value, scope)
                if owner_q and owner_q.startswith("transformers.") and is_module_class(owner_q):
                    return Kind(MODULE)
                return None
            if method in _SELF_RETURNING:
                base = self._kind(func.value, scope, depth)
                if base is not None and base.tag in (MODULE, PARAM) and method != "type":
                    return base
        return None

    def _element_kind(self, it: cst.BaseExpression, scope: Scope, index: tuple[int, ...],
                      depth: int) -> Kind | None:
        """Kind of the item at `index` of the elements produced by iterating `it`."""
        if isinstance(it, cst.Call):
            q = self.qualname(it.func, scope)
            if q in ("enumerate", "list", "tuple", "reversed", "sorted") and it.args:
                inner = it.args[0].value
                if q == "enumerate":
                    if not index or index[0] != 1:
                        return None
                    return self._element_kind(inner, scope, index[1:], depth)
                return self._element_kind(inner, scope, index, depth)
            if isinstance(it.func, cst.Attribute):
                method = it.func.attr.value
                recv = it.func.value
                if method in ("modules", "children"):
                    if method == "children" and not self._is_module_kind(self._kind(recv, scope, depth)):
                        return None
                    return Kind(MODULE) if not index else None
                if method in ("named_modules", "named_children"):
                    return Kind(MODULE) if index == (1,) else None
                if method == "parameters":
                    return Kind(PARAM) if not index else None
                if method == "named_parameters":
                    return Kind(PARAM) if index == (1,) else None
                if method in ("items", "values"):
                    base = self._kind(recv, scope, depth)
                    if base is not None and base.tag == STATE_DICT:
                        want = (1,) if method == "items" else ()
                        return Kind(COPY, origin=base.origin) if index == want else None
        return None

    # ------------------------------------------------------------------- misc helpers
    def enclosing_class(self, ctx: Ctx) -> ClassInfo | None:
        s: Scope | None = ctx.scope
        while s is not None:
            if s.cls is not None:
                return s.cls
            s = s.parent
        return None

    def function_name(self, ctx: Ctx) -> str | None:
        s: Scope | None = ctx.scope
        while s is not None:
            if s.kind == "function":
                return s.func_name
            s = s.parent
        return None

