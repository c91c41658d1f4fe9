"""Attributes a program declares for itself, and objects that cannot hold tensors.

`args.require_grad = False` looks like a misspelling of `requires_grad`, but when the file declares
`--require-grad` as an argparse option it is the program's own setting: renaming it would change
what the program does. This module answers, for one file, "is this attribute name declared
somewhere?" and "is this object a config rather than a tensor or module?", so that FZ102/FZ103
report only what they can stand behind and rate a fix safe only where the object's kind is known.

Evidence of a declared name, anywhere in the file:
    argparse        `add_argument("--require-grad", ...)`, `dest="require_grad"`
    class fields    `require_grad: bool = False` or `require_grad = True` in a class body
                    (dataclasses, attrs, pydantic, NamedTuple, plain config classes)
    dict-like keys  `{"require_grad": ...}`, `dict(require_grad=...)`, `EasyDict(require_grad=...)`,
                    `cfg["require_grad"]`, `cfg.get("require_grad")`
    reads           `x.require_grad` read anywhere (not only assigned): reading a name that was never
                    set raises, so a read means something really has the attribute
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass, field
from typing import Iterable

import libcst as cst

from freezelint.check import traverse
from freezelint.check.facts import COPY, MODULE, PARAM, ClassInfo, Ctx, Facts, Kind, Scope
from freezelint.check.known import is_library
from freezelint.check.scopes import qualname

# Kinds whose attributes are known: a fix on them is safe.
KNOWN = frozenset({MODULE, PARAM, COPY})

# Calls that build attribute-style configs (the last dotted part of the callee).
_CONFIG_FACTORIES = frozenset({
    "EasyDict", "edict", "SimpleNamespace", "Namespace", "AttrDict", "Munch", "DotMap", "Box",
    "ConfigDict", "DictConfig", "Dict", "Config", "CfgNode", "CN", "fromfile", "parse_args",
    "parse_known_args", "parse_args_into_dataclasses", "safe_load", "load_config",
})
_OMEGACONF = frozenset({"create", "load", "merge", "structured", "to_object"})
# Annotations that name a config rather than a tensor or module.
_CONFIG_ANNOTATION = re.compile(r"(?:Config|Cfg|Args|Arguments|Options|Settings|Namespace|Hparams|HParams)$")


@dataclass
class Declared:
    options: set[str] = field(default_factory=set)
    fields: set[str] = field(default_factory=set)
    keys: set[str] = field(default_factory=set)
    reads: set[str] = field(default_factory=set)

    def why(self, attr: str) -> str | None:
        """How the file declares `attr`, or None when it does not."""
        if attr in self.options:
            return "an argparse option"
        if attr in self.fields:
            return "a field of a class"
        if attr in self.keys:
            return "a key of a dict-like config"
        if attr in self.reads:
            return "read back as an attribute"
        return None


_CACHE: weakref.WeakKeyDictionary[Facts, Declared] = weakref.WeakKeyDictionary()


def declared(facts: Facts) -> Declared:
    """The declared names of the file `facts` was gathered from (computed once per file)."""
    found = _CACHE.get(facts)
    if found is None:
        collector = _Collector()
        traverse.visit(facts.module, collector)
        found = _CACHE[facts] = collector.out
    return found


def sets_module_flag(facts: Facts, obj: cst.BaseExpression, scope: Scope, tensors: Iterable[str] = (),
                     value: cst.BaseExpression | None = None) -> bool:
    """`obj.requires_grad = v` sets an attribute autograd never reads (FZ102): `obj` is an
    nn.Module, and not one whose class keeps `requires_grad` as a setting of its own. The flow
    layer counts such a store as the freeze (unfreeze) the author meant, as FZ102 reports it.
    `tensors`: names an enclosing `if isinstance(x, nn.Parameter)` proves tensors there (a name
    the file also uses as a Module elsewhere: `x.parameters()` in the `else`). `value`: the value
    stored, for `records_argument`."""
    if isinstance(obj, cst.Name) and obj.value in tensors:
        return False
    if value is not None and records_argument(obj, value, scope):
        return False
    if not facts.is_module(obj, scope):
        return False
    cls = next((s.cls for s in _outwards(scope) if s.cls is not None), None)
    if _is_own_setting(obj, cls, facts):
        return False
    kind = facts.kind(obj, scope)
    if kind is not None and kind.cls is None and kind.qual and facts.project is not None and facts.path \
            and facts.project.keeps_requires_grad(facts.path, kind.qual):
        return False  # a class of another project file that keeps requires_grad as its own setting
    if kind is not None and kind.cls is None and kind.qual is None and _built_keeping(facts, obj, scope):
        return False
    return not (kind is not None and class_declares(kind.cls, "requires_grad"))


# Attribute names that stand for a part of a model (a submodule) and, in model code, never for a
# tensor: what `model.backbone` holds, where nothing else says what it is.
_PART_NAMES = frozenset({
    "backbone", "encoder", "decoder", "neck", "classifier", "text_encoder", "image_encoder", "vision_encoder",
    "feature_extractor", "vision_model", "text_model", "vision_tower", "language_model",
})


def named_part(facts: Facts, obj: cst.BaseExpression, where: "Ctx | Scope", tensors: Iterable[str] = ()) -> list | None:
    """`self._model.train(); self._model.backbone.requires_grad = False`: the root is a Module (by
    a Module-only method at least, not only a call like a layer) that the code is given rather than
    builds (no class to read its parts from), nothing tells what `backbone` of it holds, and the name
    is one a model gives its parts: taken for a submodule (FZ102 reports the store, and the flow
    layer counts it as the freeze meant). The root's constructors (`[]`: given), else None."""
    scope = where.scope if isinstance(where, Ctx) else where
    if not (isinstance(obj, cst.Attribute) and obj.attr.value in _PART_NAMES) or facts.kind(obj, where) is not None:
        return None
    root = obj.value
    if isinstance(root, cst.Name) and root.value in tensors:
        return None
    kind = facts.kind(root, where)
    if kind is None or kind.tag != MODULE or kind.cls is not None or kind.factory or kind.qual \
            or facts.kinds.module_only_called(root, scope):
        return None  # a class or model whose parts are known: one it does not list is unknown
    built = facts.kinds.constructors(root, scope)
    if built and not all(_unseen_class(facts, func, at) for func, at in built):
        return None  # built here from a class: what that class sets tells its parts (its file's summary), not a name
    if built and not _mode_switched(facts.kinds.use_proofs(root, scope)):
        return None  # built from a class unseen: only a mode switch (`.train()`, `.eval()`) is evidence enough
    return built


# Methods that return the Module they are called on: the object is still what the inner call built.
_KEEP_KIND = frozenset({"to", "cuda", "cpu", "float", "half", "double", "bfloat16", "train", "eval", "requires_grad_"})


def _mode_switched(proofs) -> bool:
    return any(isinstance(c.func, cst.Attribute) and c.func.attr.value in ("train", "eval") for p in proofs for c in p)


def class_of(func: cst.BaseExpression) -> cst.BaseExpression:
    while isinstance(func, cst.Attribute) and isinstance(func.value, cst.Call) and func.attr.value in _KEEP_KIND:
        func = func.value.func  # `Classifier(backbone, n).to(device)`: the class is the inner call's
    return func


def _unseen_class(facts: Facts, func: cst.BaseExpression, scope: Scope) -> bool:
    """`Classifier` of `from common.modules.classifier import Classifier`: a class (CapWords) imported
    from a package that is neither a known library nor a file of the project: nothing the checker can
    read lists its parts, so the part's name is as good evidence as for a Module the code is given."""
    func = class_of(func)
    qual = facts.qualname(func, scope)
    if not qual or "." not in qual or qual.startswith(".") or is_library(qual) \
            or facts.kinds.local_class(func, scope) is not None:
        return False
    if not qual.rpartition(".")[2][:1].isupper():
        return False  # `build_model(cfg)`: a factory, which may return anything
    return facts.project is None or not facts.path or facts.project.resolve(facts.path, qual) is None


def records_argument(obj: cst.BaseExpression, value: cst.BaseExpression, scope: Scope) -> bool:
    """`self.requires_grad = requires_grad` in a method whose argument `requires_grad` also acts
    otherwise there (`freeze=not requires_grad`, `if trainable:`, `nn.Parameter(..., requires_grad=
    trainable)`): the store keeps a record of the argument for whoever reads it, and the argument's
    effect is made elsewhere. Where the store is the argument's only use, the flag does nothing."""
    if not (isinstance(obj, cst.Name) and obj.value == "self" and isinstance(value, cst.Name)):
        return False
    func = scope.node if scope.kind == "function" else None
    if not isinstance(func, cst.FunctionDef):
        return False
    params = func.params
    names = {p.name.value for p in (*params.posonly_params, *params.params, *params.kwonly_params)}
    if value.value not in names:
        return False
    uses = _NameUses(value.value)
    traverse.visit(func.body, uses)
    return uses.count > 0


class _NameUses(cst.CSTVisitor):
    """Reads of a name other than as the whole value recorded on `self` (`self.x = name`)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0
        self._records: set[int] = set()

    def visit_Assign(self, node: cst.Assign) -> None:
        if all(isinstance(t.target, cst.Attribute) and isinstance(t.target.value, cst.Name)
               and t.target.value.value == "self" for t in node.targets):
            self._records.add(id(node.value))

    def visit_AssignTarget(self, node: cst.AssignTarget) -> bool:
        return not isinstance(node.target, cst.Name)  # a rebinding of the name is no use of it

    def visit_Name(self, node: cst.Name) -> None:
        if node.value == self.name and id(node) not in self._records:
            self.count += 1

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        traverse.visit(node.value, self)  # `x.requires_grad`: the attribute's name is no use of the argument
        return False

    def visit_Arg(self, node: cst.Arg) -> bool:
        traverse.visit(node.value, self)  # nor is a keyword's name (`requires_grad=False`)
        return False

    def visit_Param(self, node: cst.Param) -> bool:
        return False  # a nested def's own parameter of that name


def _built_keeping(facts: Facts, obj: cst.BaseExpression, scope: Scope) -> bool:
    """`self.mitigator = HardBiasMitigator(...)`, taken for a Module from use (called like a layer),
    with HardBiasMitigator a class of this or another project file that keeps `requires_grad` as
    its own setting: the store switches that setting."""
    for func, where in facts.kinds.constructors(obj, scope):
        if class_declares(facts.kinds.local_class(func, where), "requires_grad"):
            return True
        q = qualname(func, where)
        if q and facts.project is not None and facts.path and facts.project.keeps_requires_grad(facts.path, q):
            return True
    return False


def _outwards(scope: Scope | None):
    while scope is not None:
        yield scope
        scope = scope.parent


def _is_own_setting(obj: cst.BaseExpression, cls: ClassInfo | None, facts: Facts | None = None) -> bool:
    """`self.requires_grad = x` in a class that also reads `self.requires_grad` keeps a setting;
    so does one whose base or subclass of the file reads it, or whose instances have it read."""
    if cls is None or not (isinstance(obj, cst.Name) and obj.value == "self"):
        return False
    reader = _SelfAttrReads("requires_grad")
    traverse.visit(cls.node, reader)
    return reader.reads > 0 or (facts is not None and reads_back(facts, cls, "requires_grad")[0])


def _bases(c: ClassInfo) -> set[str]:
    return {b.value.value if isinstance(b.value, cst.Name) else b.value.attr.value
            for b in c.node.bases if isinstance(b.value, (cst.Name, cst.Attribute))}


def _family(facts: Facts, cls: ClassInfo) -> list[ClassInfo]:
    """`cls`, the classes of the file it derives from and those deriving from it (by base name),
    each way transitively: not its siblings, whose `self.<attr>` is their own."""
    family = [cls]
    for upwards in (True, False):
        reached, grew = [cls], True
        while grew:
            grew = False
            for c in facts.classes.values():
                if c in reached:
                    continue
                if any(c.name in _bases(f) for f in reached) if upwards else _bases(c) & {f.name for f in reached}:
                    reached.append(c)
                    grew = True
        family += [c for c in reached if c not in family]
    return family


_READS: weakref.WeakKeyDictionary[Facts, dict[tuple[int, str], tuple[bool, bool]]] = weakref.WeakKeyDictionary()


def reads_back(facts: Facts, cls: ClassInfo, attr: str) -> tuple[bool, bool]:
    """Whether `attr`, stored on `self` in `cls`, is read back as that class's setting (`self.<attr>`
    in it, a base or a subclass of the file; `x.<attr>` on an instance of one), and whether it is
    read on an object the checker cannot tell (which may be such an instance). Once per file and class."""
    known = _READS.setdefault(facts, {})
    key = (id(cls), attr)
    if key not in known:
        family = _family(facts, cls)
        if any(class_declares(c, attr) for c in family[1:]):
            known[key] = (True, False)
        else:
            reads = _AttrReads(facts, attr, {id(c) for c in family})
            traverse.visit(facts.module, reads)
            known[key] = (reads.mine, reads.unknown)
    return known[key]


class _AttrReads(cst.CSTVisitor):
    """`x.<attr>` read (not stored) where `x` is not `self`: of one of the classes, or unknown."""

    def __init__(self, facts: Facts, attr: str, classes: set[int]) -> None:
        self.facts, self.attr, self.classes = facts, attr, classes
        self.mine = self.unknown = False
        self._scopes: list[Scope] = [facts.module_scope]
        self._stores: set[int] = set()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._scopes.append(self.facts.func_scopes.get(id(node), self._scopes[-1]))

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._scopes.pop()

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._stores.add(id(node.target))

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if node.attr.value != self.attr or id(node) in self._stores \
                or isinstance(node.value, cst.Name) and node.value.value == "self":
            return
        kind = self.facts.kind(node.value, self._scopes[-1])
        if kind is None:
            self.unknown = True
        elif kind.tag == MODULE and id(kind.cls) in self.classes:
            self.mine = True


class _SelfAttrReads(cst.CSTVisitor):
    def __init__(self, attr: str) -> None:
        self.attr = attr
        self.reads = 0
        self._targets: set[int] = set()

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._targets.add(id(node.target))

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._targets.add(id(node.target))

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if (node.attr.value == self.attr and isinstance(node.value, cst.Name)
                and node.value.value == "self" and id(node) not in self._targets):
            self.reads += 1


def class_declares(cls: ClassInfo | None, attr: str) -> bool:
    """The class uses `attr` as its own setting: a class-level field, or `self.<attr>` read back."""
    if cls is None:
        return False
    collector = _Collector(self_only=True)
    traverse.visit(cls.node, collector)
    return attr in collector.out.fields or attr in collector.out.reads


def is_config(facts: Facts, expr: cst.BaseExpression, scope: Scope) -> bool:
    """`expr` is a name bound only to config objects (parsed arguments, EasyDict, OmegaConf, ...)
    or a parameter annotated with a config class: it cannot be a tensor or a module."""
    if not isinstance(expr, cst.Name):
        return False
    owner = scope.lookup(expr.value)
    if owner is None:
        return False
    bindings = owner.bindings[expr.value]
    return bool(bindings) and all(_config_binding(facts, b, owner) for b in bindings)


def _config_binding(facts: Facts, b, owner: Scope) -> bool:
    if b.how == "param":
        ann = b.node.annotation if isinstance(b.node, cst.Param) else None
        if ann is None:
            return False
        expr = ann.annotation
        if isinstance(expr, cst.Name) and expr.value in facts.classes:
            return not facts.classes[expr.value].is_module  # a plain class of the file holds no grads
        name = facts.qualname(expr, b.scope or owner) or ""
        return bool(_CONFIG_ANNOTATION.search(name))
    if b.how != "expr":
        return False
    value = b.node
    if isinstance(value, cst.Subscript):  # `args, rest = parser.parse_known_args()` binds by index
        value = value.value
    if isinstance(value, (cst.Dict, cst.DictComp)):
        return False  # a plain dict has no attributes to set
    if not isinstance(value, cst.Call):
        return False
    func = value.func
    last = func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else ""
    if last in _CONFIG_FACTORIES:
        return True
    if isinstance(func, cst.Attribute) and last in _OMEGACONF:
        owner_q = facts.qualname(func.value, b.scope or owner) or ""
        return owner_q.endswith("OmegaConf")
    return False


def reason_unknown(obj: str) -> str:
    return f"unsafe: `{obj}` is not known to be a Parameter, Tensor or Module, and may be an object of your own"


def kind_known(kind: Kind | None) -> bool:
    return kind is not None and kind.tag in KNOWN


# torch's functions that return a new plain Tensor (the kinds pass tracks no tensor kind of its own)
_TENSOR_FACTORIES = frozenset("torch." + f for f in (
    "zeros", "ones", "empty", "full", "rand", "randn", "randint", "randperm", "arange", "linspace", "logspace",
    "eye", "tensor", "as_tensor", "from_numpy", "zeros_like", "ones_like", "empty_like", "full_like", "rand_like",
    "randn_like", "randint_like", "Tensor", "FloatTensor", "LongTensor"))
_TENSOR_KEEPING = frozenset({"to", "cuda", "cpu", "float", "double", "half", "bfloat16", "long", "int", "unsqueeze",
                             "view", "reshape", "transpose", "permute", "contiguous", "clone", "detach"})


def _tensor_source(value: cst.CSTNode | None) -> cst.CSTNode | None:
    """What `x.to(device).unsqueeze(0)` is made from (`x`): those methods return a Tensor of a Tensor."""
    while isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) \
            and value.func.attr.value in _TENSOR_KEEPING:
        value = value.func.value
    return value


def made_tensor(facts: Facts, obj: cst.BaseExpression, scope: Scope) -> bool:
    """A name that its scope binds to a Tensor made by one of torch's factories (`pe =
    torch.zeros(max_len, d_model)`, `.float()` after it too), and to nothing else but that Tensor
    reshaped or moved (`pe = pe.unsqueeze(0)`): known to be a Tensor, as a Parameter is."""
    if not isinstance(obj, cst.Name):
        return False
    owner = scope.lookup(obj.value)
    bindings = owner.bindings.get(obj.value, []) if owner is not None else []
    made = kept = 0
    for b in bindings:
        source = _tensor_source(b.node) if b.how == "expr" and not b.index else None
        if isinstance(source, cst.Call) and facts.qualname(source.func, owner) in _TENSOR_FACTORIES:
            made += 1
        elif isinstance(source, cst.Name) and source.value == obj.value and source is not b.node:
            kept += 1
    return made > 0 and made + kept == len(bindings)


def _string(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.SimpleString):
        try:
            value = node.evaluated_value
        except (ValueError, SyntaxError, UnicodeError):  # malformed escapes: not a name
            return None
        return value if isinstance(value, str) else None
    return None


class _Collector(cst.CSTVisitor):
    def __init__(self, self_only: bool = False) -> None:
        self.out = Declared()
        self.self_only = self_only
        self._stores: set[int] = set()
        self._class_depth = 0
        self._func_depth = 0

    # class bodies: fields ---------------------------------------------------------------
    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        for stmt in node.body.body:
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    if isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name):
                        self.out.fields.add(small.target.value)
                    elif isinstance(small, cst.Assign):
                        for t in small.targets:
                            if isinstance(t.target, cst.Name):
                                self.out.fields.add(t.target.value)

    # stores are not reads -----------------------------------------------------------------
    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._mark_store(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._mark_store(node.target)

    def visit_Del(self, node: cst.Del) -> None:
        self._mark_store(node.target)

    def visit_For(self, node: cst.For) -> None:
        self._mark_store(node.target)

    def _mark_store(self, target: cst.BaseExpression) -> None:
        if isinstance(target, cst.Attribute):
            self._stores.add(id(target))
        elif isinstance(target, (cst.Tuple, cst.List)):
            for el in target.elements:
                self._mark_store(el.value)
        elif isinstance(target, cst.StarredElement):
            self._mark_store(target.value)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if id(node) in self._stores:
            return
        if self.self_only and not (isinstance(node.value, cst.Name) and node.value.value == "self"):
            return
        self.out.reads.add(node.attr.value)

    # argparse options, dict keys, keywords ---------------------------------------------
    def visit_Call(self, node: cst.Call) -> None:
        if self.self_only:
            return
        func = node.func
        method = func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else ""
        if method == "add_argument":
            self._argparse(node)
        elif method in ("getattr", "hasattr") and len(node.args) >= 2:
            name = _string(node.args[1].value)
            if name:
                self.out.reads.add(name)
        elif method in ("get", "pop", "setdefault") and node.args:
            name = _string(node.args[0].value)
            if name:
                self.out.keys.add(name)
        elif method in _CONFIG_FACTORIES or method == "dict":
            self.out.keys.update(a.keyword.value for a in node.args if a.keyword is not None)

    def _argparse(self, call: cst.Call) -> None:
        for a in call.args:
            if a.keyword is not None and a.keyword.value == "dest":
                name = _string(a.value)
                if name:
                    self.out.options.add(name)
                return
        flags = [s for s in (_string(a.value) for a in call.args if a.keyword is None) if s]
        longs = [f for f in flags if f.startswith("--")]
        chosen = longs[0] if longs else (flags[0] if flags else None)
        if chosen:
            self.out.options.add(chosen.lstrip("-").replace("-", "_"))

    def visit_DictElement(self, node: cst.DictElement) -> None:
        if not self.self_only:
            name = _string(node.key)
            if name:
                self.out.keys.add(name)

    def visit_Subscript(self, node: cst.Subscript) -> None:
        if self.self_only or len(node.slice) != 1:
            return
        index = node.slice[0].slice
        if isinstance(index, cst.Index):
            name = _string(index.value)
            if name:
                self.out.keys.add(name)
