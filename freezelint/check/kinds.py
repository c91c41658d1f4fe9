"""What a name holds: Module, Parameter, copy, state dict — inferred over the extracted scopes.

What a name holds is inferred flow-insensitively per scope: a name is a Module only if every
binding of it in its scope says so; one unknown binding makes it unknown. A binding that reads
the name it rebinds (`model = model.to(device)`) keeps the kind of the others. Rules that need a
fact this pass cannot establish stay silent (precision over recall).

Kinds:
    module      an nn.Module (constructed from a Module class, a model factory, `self` in an
                nn.Module subclass, items of `.modules()`/`.named_modules()`, ...)
    param       a Parameter (items of `.parameters()`/`.named_parameters()`, `nn.Parameter(...)`)
    copy        a tensor that does not share autograd identity with the parameter it came from
                (`.data`, `.detach()`, `.clone()`, values of `state_dict()` or `torch.load(...)`)
    state_dict  a mapping of copies (`model.state_dict()`, `torch.load(...)`)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import libcst as cst

from freezelint.check.known import (SELF_RETURNING, is_batchnorm_class, is_library, is_module_class, is_module_factory,
                                    is_non_module_class, module_items)
from freezelint.check.scopes import Binding, ClassInfo, Ctx, Scope, qualname
from freezelint.check.syntax import call_arg, code_of, dotted, string_value

if TYPE_CHECKING:
    from freezelint.check.extract import Extractor

MODULE = "module"
PARAM = "param"
COPY = "copy"
STATE_DICT = "state_dict"

_MAX_DEPTH = 12

# mmcv's norm layer builder (`build_norm_layer(cfg, num_features)` -> (name, layer)), and the
# BatchNorm classes its registry builds for a config's `type` (mmcv.cnn.bricks.norm)
_BUILD_NORM = frozenset({"mmcv.cnn.build_norm_layer", "mmcv.cnn.bricks.build_norm_layer",
                         "mmcv.cnn.bricks.norm.build_norm_layer"})
# mmpretrain's own builder (mmpretrain.models.utils) takes the same config and returns the layer itself.
_BUILD_NORM_ITSELF = frozenset({"mmpretrain.models.utils.build_norm_layer",
                                "mmpretrain.models.utils.norm.build_norm_layer"})
_NORM_TYPES = {"BN": "torch.nn.BatchNorm2d", "BN1d": "torch.nn.BatchNorm1d", "BN2d": "torch.nn.BatchNorm2d",
               "BN3d": "torch.nn.BatchNorm3d", "SyncBN": "torch.nn.SyncBatchNorm"}
# Questions asked per outermost question at most: parameters of functions that call one another
# (torch.onnx's exporter utilities) can otherwise make the questions grow exponentially with
# depth. Past it the answer is None (unknown): the rules stay silent.
_MAX_STEPS = 1000
_DEPTH_CUT = ("depth",)


@dataclass(frozen=True)
class Kind:
    tag: str
    cls: ClassInfo | None = None
    origin: str | None = None  # for copies: how the copy was made; "isinstance" for a guarded Module; for messages
    qual: str | None = None  # for modules built from a known class: its qualified name
    wraps: tuple | None = None  # DataParallel/DDP: (the wrapped model's expression, its scope)
    factory: str | None = None  # a model from a factory in submodule_table: its key
    sub: str | None = None  # ... and the attribute path inside it ("layer1", "features.0")



# The answer to a question already being asked: no information either way. Never leaves Kinds.
PENDING = Kind("pending")

# Methods only an nn.Module has (a use of one proves the receiver is a Module).
_MODULE_ONLY_METHODS = frozenset({"eval", "train", "parameters", "named_parameters", "modules", "named_modules",
                                  "children", "named_children", "apply"})

# Bases that make no class a Module.
_PLAIN_BASES = frozenset({"object", "abc.ABC", "typing.Generic", "typing.Protocol"})

# The methods whose call on a path (`model.encoder.eval()`) can prove it a Module.
_PATH_PROOFS = _MODULE_ONLY_METHODS | {"state_dict", "load_state_dict"}

# Wrappers whose `.module` is the model they were given.
_WRAPPERS = frozenset({"torch.nn.DataParallel", "torch.nn.parallel.DataParallel",
                       "torch.nn.parallel.data_parallel.DataParallel",
                       "torch.nn.parallel.DistributedDataParallel",
                       "torch.nn.parallel.distributed.DistributedDataParallel"})


def _factory_key(q: str, call: cst.Call) -> str:
    """The submodule table's key for a factory call: `timm.create_model:vit_base_patch16_224`."""
    if q in ("timm.create_model", "timm.models.create_model"):
        name = call_arg(call, 0, "model_name")
        if any(a.keyword is not None and a.keyword.value == "norm_layer" for a in call.args):
            return q  # another norm layer than the table's model holds: not that model
        if isinstance(name, cst.SimpleString):
            value = name.evaluated_value
            if isinstance(value, str):
                return "timm.create_model:" + value.split(".")[0]
    return _tv_public(q)


# torchvision.models' packages whose functions are not the classification models the table keys by
# `torchvision.models.NAME` (a detection model of `torchvision.models.detection` is keyed there)
_TV_OWN_PACKAGES = frozenset({"detection", "segmentation", "video", "quantization", "optical_flow"})


def _tv_public(q: str) -> str:
    """`torchvision.models.resnet.resnet18` (imported from its module) -> `torchvision.models.resnet18`,
    the same function, where the table has that key."""
    parts = q.split(".")
    if len(parts) == 4 and parts[:2] == ["torchvision", "models"] and parts[2] not in _TV_OWN_PACKAGES:
        from freezelint.check.submodule_table import TABLE
        public = f"torchvision.models.{parts[3]}"
        if public in TABLE:
            return public
    return q


# Joins the table keys of a name bound to one of several table models (`Kind.factory`): what they
# all agree on is known; a key so joined is in no table entry, so nothing else reads it as one model.
ALTERNATIVES = "|"


def _submodule(base: Kind, attr: str) -> Kind | None:
    """`attr` of a known model (or of one of its submodules), from the generated table: a Module,
    a Parameter, or None (not in the table, or deeper than it goes)."""
    from freezelint.check.submodule_table import TABLE  # loaded on first use

    entries = [TABLE.get(f) for f in (base.factory or "").split(ALTERNATIVES)]
    if not entries or any(e is None for e in entries):
        return None
    path = f"{base.sub}.{attr}" if base.sub else attr
    if all(path in e["params"] for e in entries):  # type: ignore[index]
        return Kind(PARAM)
    if all(path in e["modules"] or path in e.get("seqs", ()) for e in entries):  # type: ignore[union-attr]
        return Kind(MODULE, factory=base.factory, sub=path)  # (seqs go one attribute deeper)
    return None


def _items(base: Kind | None) -> str | None:
    """What indexing a Module of this kind gives (known.module_items): "seq" or "dict" for a torch.nn
    container built from its class, "seq" for a path the submodule table records as an
    nn.Sequential/nn.ModuleList (`model.transformer.h`); None where it is not known."""
    if base is None or base.tag != MODULE or base.wraps is not None or base.cls is not None:
        return None
    if base.sub:
        from freezelint.check.submodule_table import TABLE

        return "seq" if base.sub in TABLE.get(base.factory or "", {}).get("seqs", ()) else None
    return module_items(base.qual)


def _tuple_element(value: cst.BaseExpression | None, index: tuple[int, ...]) -> cst.BaseExpression | None:
    """The element at `index` (nested: `(a, (b, c))`) of a literal tuple or list without a starred
    element, else None."""
    for i in index:
        if not isinstance(value, (cst.Tuple, cst.List)) or i >= len(value.elements) \
                or any(isinstance(e, cst.StarredElement) for e in value.elements):
            return None
        value = value.elements[i].value
    return value


def _item(base: Kind | None, index: cst.BaseSlice | None) -> Kind | None:
    """`base[index]` of a container of Modules: an item is a Module (one the table can follow
    further where the index is a literal), a slice of an nn.Sequential/ModuleList is one of its
    own class; a ModuleDict cannot be sliced."""
    items = _items(base)
    if base is None or items is None or index is None:
        return None
    if isinstance(index, cst.Slice):
        if items == "dict":
            return None
        return base if not base.sub else Kind(MODULE)  # a slice of a table path is no path of the table
    if items == "seq" and base.sub and isinstance(index, cst.Index) and isinstance(index.value, cst.Integer):
        return Kind(MODULE, factory=base.factory, sub=f"{base.sub}.{index.value.evaluated_value}")
    return Kind(MODULE)


def _literal_int(expr: cst.BaseExpression | None) -> int | None:
    """`3` or `-2` as an int; None for anything else."""
    if isinstance(expr, cst.Integer):
        return int(expr.evaluated_value)
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus) \
            and isinstance(expr.expression, cst.Integer):
        return -int(expr.expression.evaluated_value)
    return None


def _children_paths(base: Kind) -> list[str] | None:
    """The table paths of what `base.children()` yields, in order: a whole model's top-level
    modules as the table lists them, or the items of a Sequential/ModuleList path one attribute
    deep (`features.0` ...); None where the order is not known."""
    from freezelint.check.submodule_table import TABLE

    entry = TABLE.get(base.factory or "")  # (joined alternatives are no key)
    if entry is None:
        return None
    if not base.sub:
        return list(entry["children"]) if "children" in entry else None
    if "." in base.sub or base.sub not in entry.get("seqs", ()):
        return None  # (the table lists items only one attribute below the root)
    items: list[str] = []
    while f"{base.sub}.{len(items)}" in entry["modules"]:
        items.append(f"{base.sub}.{len(items)}")
    return items or None


def from_summary(entry: dict | None) -> Kind | None:
    """The Kind a project summary's "attrs" entry records (summaries._attr_kinds writes it)."""
    if not entry:
        return None
    if entry.get("kind") == PARAM:
        return Kind(PARAM)
    if entry.get("kind") == MODULE:
        return Kind(MODULE, qual=entry.get("qual"), factory=entry.get("factory"), sub=entry.get("sub"))
    return None


class Kinds:
    """Kind inference over one file's extracted facts, memoised per (expression, scope)."""

    def __init__(self, extracted: "Extractor") -> None:
        self.f = extracted
        self._memo: dict[tuple[int, int], Kind | None] = {}
        self._busy: set[tuple[int, int]] = set()
        # Set by the engine when the file is checked in a project: is this qualified name an
        # nn.Module class defined in another project file?
        self.external_module_class = None
        # ... and is it a class of another project file that no base makes a Module?
        self.external_plain_class = None
        # ... and what a function of another project file returns: (its summary entry, the edge)
        self.external_returned_kind = None
        # ... and what attribute `attr` of an instance of such a class holds: (qualified class
        # name, attr) -> (its summary's "attrs" entry, the project edge it crossed) or None.
        self.external_attr_kind = None
        # ... and what the calls of a top-level function from other project files give it:
        # (name, position, parameter) -> [(its summary entry, the edge)] per call, or None where not known
        self.external_passed = None
        self._edges: dict[int, object] = {}  # id(attribute node) -> the edge its kind came through
        self._uses: dict[tuple, dict[str, cst.Call]] | None = None  # what each variable is used for
        self._frames: list[set] = []  # per question being answered: the cut-offs it leaned on
        self._steps = 0  # questions asked for the outermost one being answered (_MAX_STEPS)
        self._flag_setters: dict[tuple[int, str], bool] = {}  # _sets_flag_below's answers
        # per (function, position, parameter): the arguments its same-file calls pass there (syntax
        # only, asked again for every path that reaches the parameter); per (function, name,
        # scope): its isinstance guard
        self._passed_args: dict[tuple[int, int, str], tuple[list, bool]] = {}
        self._guards: dict[tuple[int, str, int], Kind | None] = {}

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
        result = self._kind(expr, scope, 0)
        if result is None or result is PENDING:
            return Kind(MODULE) if self.proven_module_by_use(expr, scope) else None
        return result

    def name_kind(self, name: str, scope: Scope) -> Kind | None:
        """What a variable named `name` holds as seen from `scope` (no expression node needed)."""
        result = self._name_kind(name, scope, 0)
        return None if result is PENDING else result

    def proven_module_by_use(self, expr: cst.BaseExpression, scope: Scope) -> bool:
        """A variable (or `self.x` of a class) on which the file calls Module-only methods —
        `.eval()`, `.train()`, `.parameters()`, `.modules()`, `.children()`, `.apply()`, both
        `.state_dict()` and `.load_state_dict()` — or that it calls like a layer. Tensors have none
        of these; a name bound by `def`, `class` or `import` never qualifies."""
        key = self._use_key(expr, scope)
        if key is None:
            return False
        if self._uses is None:
            self._uses = self._collect_uses()
        used = set(self._uses.get(key, {}))
        if not (bool(used & _MODULE_ONLY_METHODS) or "()" in used or {"state_dict", "load_state_dict"} <= used):
            return False
        return not self._bound_to_non_module(expr, scope)

    def use_proofs(self, expr: cst.BaseExpression, scope: Scope) -> list[tuple[cst.Call, ...]]:
        """The calls that make `expr` a Module by use alone, each way they do (none where its kind
        is known otherwise, or not at all): each Module-only method's first call, else
        `.state_dict()` with `.load_state_dict()`, else a call like a layer."""
        if self._kind(expr, scope, 0) not in (None, PENDING) or not self.proven_module_by_use(expr, scope):
            return []
        used = self._uses.get(self._use_key(expr, scope), {})  # type: ignore[arg-type,union-attr]
        only = [(used[m],) for m in sorted(set(used) & _MODULE_ONLY_METHODS)]
        if only:
            return only
        if "state_dict" in used and "load_state_dict" in used:
            return [(used["state_dict"], used["load_state_dict"])]
        return [(used["()"],)] if "()" in used else []

    def _bound_to_non_module(self, expr: cst.BaseExpression, scope: Scope) -> bool:
        """`self.processor = Wav2Vec2FeatureExtractor(...)`, `tok = AutoTokenizer.from_pretrained(...)`,
        `scorer = Scorer()` with `class Scorer:` in this file: some value the name or attribute is given
        is built by a class known to be no Module. Such a class outweighs how the file uses the
        object: a plain class may well have its own `eval()` or `state_dict()`."""
        for func, where in self.constructors(expr, scope):
            if is_non_module_class(qualname(func, where)) or self._plain_local_class(func, where) \
                    or self._plain_project_class(func, where):
                return True
        return False

    def _plain_project_class(self, func: cst.BaseExpression, scope: Scope) -> bool:
        """`HardBiasMitigator` imported from another project file whose class lines show it no
        Module (project.plain_class): the same as a plain class of this file."""
        q = qualname(func, scope) if self.external_plain_class is not None else None
        return bool(q) and self.local_class(func, scope) is None and not is_library(q) \
            and self.external_plain_class(q)

    def constructors(self, expr: cst.BaseExpression, scope: Scope) -> list[tuple[cst.BaseExpression, Scope]]:
        """The callees of the calls among the values a name (or `self.<attr>`) is given, with the
        scope each is read in (`Scorer` of `scorer = Scorer()`, `AutoTokenizer` of
        `AutoTokenizer.from_pretrained(...)`)."""
        values: list[tuple[cst.BaseExpression, Scope]] = []
        if isinstance(expr, cst.Name):
            owner = scope.lookup(expr.value)
            values = [(b.node, b.scope or owner) for b in (owner.bindings.get(expr.value, []) if owner else [])
                      if b.how == "expr" and isinstance(b.node, cst.BaseExpression)]
        elif isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name) and expr.value.value == "self":
            owner = scope.lookup("self")
            cls = owner.cls if owner is not None and owner.is_method else None
            values = list(cls.attrs.get(expr.attr.value, [])) if cls is not None else []
        out = []
        for value, where in values:
            if not isinstance(value, cst.Call):
                continue
            func = value.func
            if isinstance(func, cst.Attribute) and func.attr.value in ("from_pretrained", "from_dict"):
                func = func.value
            out.append((func, where))
        return out

    def local_class(self, func: cst.BaseExpression, scope: Scope) -> ClassInfo | None:
        """The class of this file a name stands for (`Scorer` bound by `class Scorer:` only)."""
        if not isinstance(func, cst.Name):
            return None
        owner = scope.lookup(func.value)
        info = self.f.classes.get(func.value)
        if info is None or owner is None or not all(b.how == "opaque" for b in owner.bindings[func.value]):
            return None
        return info

    def _plain_local_class(self, func: cst.BaseExpression, scope: Scope, depth: int = 0) -> bool:
        """A class of this file whose bases are all known and none is an nn.Module: no bases,
        `object`, `ABC`, `Generic[T]`, or plain classes of this file themselves. An imported
        base (of a library or another file) is unknown: the class may be a Module through it."""
        info = self.local_class(func, scope)
        if info is None or depth > _MAX_DEPTH or self._module_class(info):
            return False
        for arg in info.node.bases:
            if arg.keyword is not None:
                continue
            base = arg.value.value if isinstance(arg.value, cst.Subscript) else arg.value
            if qualname(base, self.f.module_scope) in _PLAIN_BASES:
                continue
            if not self._plain_local_class(base, self.f.module_scope, depth + 1):
                return False
        return True

    def module_only_called(self, expr: cst.BaseExpression, scope: Scope) -> bool:
        """Taken for a Module only because the file calls it like a layer (`self.model(x)`): any
        callable is called so, so a fix that depends on it being a Module is a guess."""
        if self._kind(expr, scope, 0) not in (None, PENDING):
            return False
        key = self._use_key(expr, scope)
        if key is None:
            return False
        if self._uses is None:
            self._uses = self._collect_uses()
        used = set(self._uses.get(key, {}))
        return "()" in used and not used & _MODULE_ONLY_METHODS and not {"state_dict", "load_state_dict"} <= used

    def _use_key(self, expr: cst.BaseExpression, scope: Scope) -> tuple | None:
        if isinstance(expr, cst.Name):
            owner = scope.lookup(expr.value)
            if owner is None or owner.kind == "class" or expr.value == "self":
                return None
            if any(b.how in ("def", "import", "opaque") for b in owner.bindings[expr.value]):
                return None
            return ("name", id(owner), expr.value)
        if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name) and expr.value.value == "self":
            owner = scope.lookup("self")
            cls = owner.cls if owner is not None and owner.is_method else None
            if cls is None or expr.attr.value not in cls.attrs:
                return None
            methods = {st.name.value for st in cls.node.body.body if isinstance(st, cst.FunctionDef)}
            if expr.attr.value in methods:
                return None
            return ("self", id(cls), expr.attr.value)
        if isinstance(expr, (cst.Attribute, cst.Subscript)):
            # a path below a name (`model.encoder`, `model.layer4[2].conv3`, `self.backbone.stem`):
            # keyed by its text under the scope (or class) that binds its root
            node: cst.BaseExpression = expr
            while isinstance(node, (cst.Attribute, cst.Subscript)):
                if isinstance(node, cst.Subscript) and not (
                        len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index)
                        and isinstance(node.slice[0].slice.value, (cst.Integer, cst.SimpleString))):
                    return None
                node = node.value
            if not isinstance(node, cst.Name):
                return None
            text = code_of(expr)
            if node.value == "self":
                owner = scope.lookup("self")
                cls = owner.cls if owner is not None and owner.is_method else None
                return ("selfpath", id(cls), text) if cls is not None and not isinstance(expr.value, cst.Name) else None
            root = self._use_key(node, scope)
            return ("path", root[1], text) if root is not None else None
        return None

    def _collect_uses(self) -> dict[tuple, dict[str, cst.Call]]:
        """What each variable is used for: method name (or "()" for a call like a layer) -> its first call."""
        uses: dict[tuple, dict[str, cst.Call]] = {}
        for mc in self.f.method_calls:
            obj = mc.obj
            if isinstance(obj, (cst.Attribute, cst.Subscript)) and mc.method not in _PATH_PROOFS \
                    and not (isinstance(obj, cst.Attribute) and isinstance(obj.value, cst.Name)
                             and obj.value.value == "self"):
                continue  # only a Module-only method proves a path: no key (its text) for the rest
            key = self._use_key(obj, mc.ctx.scope)
            if key is not None:
                uses.setdefault(key, {}).setdefault(mc.method, mc.call)
            # `self.backbone(x)`: the attribute called like a layer
            if isinstance(mc.obj, cst.Name) and mc.obj.value == "self":
                key = self._use_key(cst.Attribute(mc.obj, cst.Name(mc.method)), mc.ctx.scope)
                if key is not None:
                    uses.setdefault(key, {}).setdefault("()", mc.call)
        for nc in self.f.name_calls:
            key = self._use_key(nc.obj, nc.ctx.scope)
            if key is not None:
                uses.setdefault(key, {}).setdefault("()", nc.call)
        return uses

    def is_module(self, expr: cst.BaseExpression, ctx: "Ctx | Scope") -> bool:
        k = self.kind(expr, ctx)
        return k is not None and k.tag == MODULE

    def _kind(self, expr: cst.BaseExpression, scope: Scope, depth: int) -> Kind | None:
        """Memoised inference. A question met again while it is being answered (a rebinding that
        reads its own name) or past the depth bound gets PENDING, which `_agree` ignores; an
        answer that leaned on such a cut-off is not memoised unless the cut was its own question,
        so no answer depends on the order in which questions are asked."""
        key = (id(expr), id(scope))
        if key in self._memo:
            return self._memo[key]
        outermost = not self._frames
        if outermost:
            self._steps = 0
        self._steps += 1
        if depth > _MAX_DEPTH or self._steps > _MAX_STEPS:
            if self._frames:
                self._frames[-1].add(_DEPTH_CUT)
            return PENDING
        if key in self._busy:
            self._frames[-1].add(key)
            return PENDING
        self._busy.add(key)
        self._frames.append(set())
        try:
            result = self._infer(expr, scope, depth + 1)
        finally:
            self._busy.discard(key)
            cuts = self._frames.pop()
        cuts.discard(key)
        if cuts:
            if self._frames:
                self._frames[-1].update(cuts)
        else:
            self._memo[key] = result
        if outermost and self._steps > _MAX_STEPS:
            return None  # the question took more than the budget: unknown, not a partial answer
        return result

    def _infer(self, expr: cst.BaseExpression, scope: Scope, depth: int) -> Kind | None:
        if isinstance(expr, cst.Name):
            return self._name_kind(expr.value, scope, depth)
        if isinstance(expr, cst.Call):
            return self._call_kind(expr, scope, depth)
        if isinstance(expr, cst.Attribute):
            attr = expr.attr.value
            base = self._kind(expr.value, scope, depth)
            if attr != "module" and isinstance(expr.value, cst.Name):
                # `model = DataParallel(model)` elsewhere: the wrapper has no `model.encoder3`, so
                # such a read runs where `model` is still the model (else it raises)
                inner = self._unwrapped_name_kind(expr.value.value, scope, depth)
                if inner is not None:
                    base = inner
            if attr == "data":
                # Only Tensor.data is a copy; PackedSequence.data and friends are fields.
                return Kind(COPY, origin=".data") if base is not None and base.tag == PARAM else None
            if attr == "module":
                inner = self._wrapped(expr.value, base, scope, depth)
                if inner is not None:
                    return inner
            if base is not None and base.tag == MODULE and base.factory:
                known = _submodule(base, attr)
                if known is not None:
                    return known
            if base is not None and base.tag == MODULE and base.cls is not None:
                if base.cls.attrs.get(attr):
                    return self._class_attr(base.cls, attr, depth)
                inherited = self._inherited_attr(base.cls, attr, expr)
                if inherited is not None:
                    return inherited
            elif base is None and isinstance(expr.value, cst.Name) and expr.value.value == "self":
                # `self.model` of a plain class (a trainer): what its methods assign it
                owner = scope.lookup("self")
                cls = owner.cls if owner is not None and owner.is_method else None
                if cls is not None and cls.attrs.get(attr):
                    return self._class_attr(cls, attr, depth)
            elif base is not None and base.tag == MODULE and base.qual and base.factory is None \
                    and base.wraps is None and self.external_attr_kind is not None:
                hit = self.external_attr_kind(base.qual, attr)  # a class of another project file
                known = from_summary(hit[0]) if hit is not None else None
                if known is not None:
                    self._edges[id(expr)] = hit[1]
                    return known
            path = dotted(expr)
            if path is not None:
                owner = scope.lookup(path.split(".")[0])
                if owner is not None and path in owner.paths:
                    return self._agree([self._kind(v, owner, depth) for v in owner.paths[path]])
            return None
        if isinstance(expr, cst.Subscript):
            norm = self._built_norm(expr, scope, depth)
            if norm is not None:
                return norm
            base = self._kind(expr.value, scope, depth)
            if base is not None and base.tag == STATE_DICT:
                return Kind(COPY, origin=base.origin)
            index = expr.slice[0].slice if len(expr.slice) == 1 else None
            if isinstance(index, cst.Index) and isinstance(expr.value, cst.Call) \
                    and qualname(expr.value.func, scope) in ("list", "tuple", "sorted"):
                return self._element_kind(expr.value, scope, (), depth)  # `list(model.children())[-1]`
            if base is not None and base.factory and isinstance(index, cst.Index) \
                    and isinstance(index.value, cst.Integer):
                known = _submodule(base, index.value.value)  # `model.features[0]`
                if known is not None:
                    return known
            if base is None and isinstance(index, cst.Index) and isinstance(expr.value, cst.Name):
                return self._listed(expr.value, scope, depth)  # `stages[epoch]`, stages = [model[6], ...]
            return _item(base, index)
        return None

    def _built_norm(self, expr: cst.Subscript, scope: Scope, depth: int) -> Kind | None:
        """mmcv's `build_norm_layer(cfg, num_features)[1]` (it returns the name and the layer) where
        `cfg` is proven to build a BatchNorm class (_norm_class): a Module of that class."""
        call = expr.value
        if not (isinstance(call, cst.Call) and len(expr.slice) == 1 and qualname(call.func, scope) in _BUILD_NORM):
            return None
        index = expr.slice[0].slice
        if not (isinstance(index, cst.Index) and isinstance(index.value, cst.Integer) and index.value.value == "1"):
            return None
        cfg = call_arg(call, 0, "cfg")
        q = self._norm_class(cfg, scope, depth + 1) if cfg is not None else None
        return Kind(MODULE, qual=q, factory=q) if q is not None else None

    def _built_norm_itself(self, call: cst.Call, scope: Scope, depth: int) -> Kind | None:
        """mmpretrain's `build_norm_layer(cfg, num_features)`: a Module of the BatchNorm class `cfg` is
        proven to build (_norm_class); None for any other norm, or where it is not proven."""
        cfg = call_arg(call, 0, "cfg")
        q = self._norm_class(cfg, scope, depth + 1) if cfg is not None else None
        return Kind(MODULE, qual=q, factory=q) if q is not None else None

    def _norm_class(self, cfg: cst.BaseExpression, scope: Scope, depth: int) -> str | None:
        """The BatchNorm class a norm config builds: `dict(type='BN')`, `{'type': 'SyncBN'}`, a BatchNorm
        class as its type; through a name bound once to one (a parameter: its default, what the class
        builds unless told otherwise), or a `self.<attr>` every assignment fills with the same one
        (`self.norm_cfg = norm_cfg`). None for any other norm, or where it is not proven."""
        if depth > _MAX_DEPTH:
            return None
        kind = None
        if isinstance(cfg, cst.Call) and qualname(cfg.func, scope) == "dict":
            kind = next((a.value for a in cfg.args if a.keyword is not None and a.keyword.value == "type"), None)
        elif isinstance(cfg, cst.Dict):
            kind = next((el.value for el in cfg.elements
                         if isinstance(el, cst.DictElement) and string_value(el.key) == "type"), None)
        if kind is not None:
            q = _NORM_TYPES.get(string_value(kind) or "") or qualname(kind, scope)
            return q if is_batchnorm_class(q) else None
        if isinstance(cfg, cst.Name):
            owner = scope.lookup(cfg.value)
            bindings = owner.bindings.get(cfg.value, []) if owner is not None else []
            b = bindings[0] if len(bindings) == 1 else None
            value = None if b is None or b.node is None else b.node.default if b.how == "param" \
                and isinstance(b.node, cst.Param) else b.node if b.how == "expr" else None
            return self._norm_class(value, b.scope or owner, depth + 1) if value is not None else None
        if isinstance(cfg, cst.Attribute):
            base = self._kind(cfg.value, scope, depth)
            values = base.cls.attrs.get(cfg.attr.value, []) if base is not None and base.cls is not None else []
            found = {self._norm_class(v, s, depth + 1) for v, s in values}
            return found.pop() if len(found) == 1 else None
        return None

    def kept_children(self, expr: cst.BaseExpression, scope: Scope) -> tuple[str, list[str]] | None:
        """The children of a table model that `expr` holds (the headless-backbone idiom
        `nn.Sequential(*list(model.children())[:-2])`): `model.children()`, `list(...)`/`tuple(...)`
        of it, and a slice of that by literal indices. Returns the model's table key and the
        kept children's paths; None where the model, the order of its children or the slice is
        not known (a computed index, a wrapped or project model)."""
        read = self.children_slice(expr, scope)
        if read is None:
            return None
        return self.kept_children_of(read[0], scope, read[1], self.kind(read[0], scope))

    def children_slice(self, expr: cst.BaseExpression, scope: Scope) -> tuple[cst.BaseExpression, slice] | None:
        """`list(model.children())[:-2]` (and the forms `kept_children` reads): (`model`, the slice)."""
        cut = slice(None)
        if isinstance(expr, cst.Subscript):
            if len(expr.slice) != 1 or not isinstance(expr.slice[0].slice, cst.Slice):
                return None
            s = expr.slice[0].slice
            bounds = [_literal_int(b) if b is not None else None for b in (s.lower, s.upper, s.step)]
            if any(b is None and given is not None for b, given in zip(bounds, (s.lower, s.upper, s.step))) \
                    or bounds[2] == 0:
                return None
            cut = slice(*bounds)
            expr = expr.value
            if not (isinstance(expr, cst.Call) and qualname(expr.func, scope) in ("list", "tuple")):
                return None  # (a generator cannot be sliced)
        if isinstance(expr, cst.Call) and qualname(expr.func, scope) in ("list", "tuple"):
            if len(expr.args) != 1 or expr.args[0].star or expr.args[0].keyword is not None:
                return None
            expr = expr.args[0].value
        if not (isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute)
                and expr.func.attr.value == "children" and not expr.args):
            return None
        return expr.func.value, cut

    def kept_children_of(self, model: cst.BaseExpression, scope: Scope, cut: slice,
                         base: Kind | None) -> tuple[str, list[str]] | None:
        """`kept_children` once the model and the slice are read; `base`: what the model is."""
        if base is None or base.tag != MODULE or base.wraps is not None or base.cls is not None:
            return None
        paths = _children_paths(base)
        if paths is None or not base.factory or self._altered(model, scope, base, paths):
            return None
        return base.factory, paths[cut]

    def _altered(self, model: cst.BaseExpression, scope: Scope, base: Kind, children: list[str]) -> bool:
        """The model named `model` may no longer hold the table's children: the file stores into
        a child of it that holds BatchNorm, adds a child (`resnet.extra = ...` moves a negative
        slice), or hands it to a call (`convert_bn_to_gn(resnet)`). A store into a child without
        BatchNorm (`resnet.fc = nn.Identity()`) keeps the order and the BatchNorm. A model built in
        the expression itself (`resnet18().children()`) is as built."""
        from freezelint.check.submodule_table import TABLE

        root = model
        while isinstance(root, cst.Attribute):
            root = root.value
        if isinstance(root, cst.Call):
            return False  # `vgg16_bn().features.children()`: as built
        name = dotted(model)
        if name is None:
            return True
        if scope.lookup(name.split(".")[0]) is None:
            return True
        bn = TABLE[base.factory or ""].get("bn", [])
        at = f"{base.sub}." if base.sub else ""
        parts = name.split(".")
        for store in self.f.attr_stores:  # anywhere in the file: a store in a helper counts too
            chain = [store.attr]
            obj = store.obj
            while isinstance(obj, (cst.Attribute, cst.Subscript)):  # `resnet.layer1[0].bn1 = ...`
                if isinstance(obj, cst.Attribute):
                    chain.insert(0, obj.attr.value)
                obj = obj.value
            if not isinstance(obj, cst.Name) or [obj.value, *chain][:len(parts)] != parts or len(chain) < len(parts):
                continue
            child = at + chain[len(parts) - 1]
            if child not in children or any(p == child or p.startswith(child + ".") for p in bn):
                return True
        return any(any(dotted(a.value) == name for a in call.call.args)
                   for call in (*self.f.method_calls, *self.f.name_calls)
                   if not (isinstance(call.call.func, cst.Name) and call.call.func.value == "print"))

    def edges_behind(self, expr: cst.BaseExpression, scope: Scope) -> list:
        """The project edges the kind of `expr` was read through (for --show-project): those of
        the attributes it is made of and, for a name, of what its bindings hold (bounded)."""
        out: list = []
        todo, seen = [(expr, scope)], set()
        while todo and len(seen) < 64:
            node, sc = todo.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if id(node) in self._edges and self._edges[id(node)] not in out:
                out.append(self._edges[id(node)])
            if isinstance(node, (cst.Attribute, cst.Subscript)):
                todo.append((node.value, sc))
            elif isinstance(node, cst.Call):
                todo.extend((a.value, sc) for a in node.args[:1])  # torch.compile(model), deepcopy(model)
                if isinstance(node.func, cst.Attribute):
                    todo.append((node.func.value, sc))  # model.to(device)
            elif isinstance(node, cst.Name):
                owner = sc.lookup(node.value)
                for b in owner.bindings[node.value] if owner is not None else ():
                    if b.how == "expr" and b.node is not None:
                        todo.append((b.node, b.scope or owner))
                    elif b.how == "param" and id(b.node) in self._edges and self._edges[id(b.node)] not in out:
                        out.append(self._edges[id(b.node)])  # what callers of another file pass
        return out

    def class_attr(self, cls: ClassInfo, attr: str) -> Kind | None:
        """What `self.<attr>` holds in an instance of `cls`: the kind every assignment of it in the
        class's methods agrees on (what a project summary records of the class for other files)."""
        result = self._class_attr(cls, attr, 0)
        return None if result is PENDING else result

    def _module_class(self, cls: ClassInfo) -> bool:
        """A Module class of this file: by its bases here, or by its one base, a Module class of
        another project file (`class Net(Base)`, Base's summary says so)."""
        if cls.is_module:
            return True
        return self._project_base(cls) is not None

    def _project_base(self, cls: ClassInfo) -> str | None:
        """The qualified name of the class's one base when it is a Module class of another project file."""
        bases = [b.value for b in cls.node.bases if b.keyword is None]
        if len(bases) != 1 or self.external_module_class is None:
            return None
        q = qualname(bases[0], self.f.module_scope)
        if not q or is_library(q) or not self.external_module_class(q):
            return None
        return q

    def _inherited_attr(self, cls: ClassInfo, attr: str, expr: cst.BaseExpression) -> Kind | None:
        """An attribute a class of this file does not set, from its one base class of another project
        file, as that file's summary says (`class Net(Base)` with `Base.__init__` setting
        `self.backbone = resnet18()`)."""
        q = self._project_base(cls) if self.external_attr_kind is not None else None
        if q is None:
            return None
        hit = self.external_attr_kind(q, attr)
        known = from_summary(hit[0]) if hit is not None else None
        if known is not None:
            self._edges[id(expr)] = hit[1]
        return known

    def _class_attr(self, cls: ClassInfo, attr: str, depth: int) -> Kind | None:
        values = cls.attrs.get(attr)
        return self._agree([self._kind(v, s, depth) for v, s in values]) if values else None

    def _wrapped(self, expr: cst.BaseExpression, base: Kind | None, scope: Scope, depth: int) -> Kind | None:
        """Kind of `expr.module` when `expr` is a DataParallel/DDP wrapper (or a name one binding
        of which is one: `model = DDP(model)` makes `model.module` the model)."""
        wraps = [base.wraps] if base is not None and base.wraps is not None else []
        if not wraps and isinstance(expr, cst.Name):
            owner = scope.lookup(expr.value)
            for b in owner.bindings[expr.value] if owner is not None else ():
                if b.how == "expr" and isinstance(b.node, cst.Call):
                    k = self._call_kind(b.node, b.scope or owner, depth)
                    if k is not None and k is not PENDING and k.wraps is not None:
                        wraps.append(k.wraps)
        if not wraps:
            return None
        kinds = [(self._unwrapped_name_kind(arg.value, s, depth) if isinstance(arg, cst.Name) else None)
                 or self._kind(arg, s, depth) for arg, s in wraps]
        return self._agree(kinds) if all(k is not None and k.tag == MODULE for k in kinds) else None

    def _unwrapped_name_kind(self, name: str, scope: Scope, depth: int) -> Kind | None:
        """What `name` holds where it is not the DataParallel/DDP wrapper it is rebound to around
        itself (`model = DDP(model)`, or `DataParallel(model) if n > 1 else model`): its other
        bindings agreed; None when it has no such rebinding (or nothing else)."""
        owner = scope.lookup(name)
        if owner is None:
            return None
        bindings = owner.bindings[name]
        if len(bindings) < 2:
            return None
        def wraps_itself(k: Kind | None) -> bool:
            return k is not None and k is not PENDING and k.wraps is not None \
                and isinstance(k.wraps[0], cst.Name) and k.wraps[0].value == name

        def maybe_wrapped(b) -> bool:
            """`model = DataParallel(model) if n > 1 else model`: the wrapper or the model itself."""
            node = b.node if b.how == "expr" else None
            if not isinstance(node, cst.IfExp):
                return False
            arms = [node.body, node.orelse]
            same = [a for a in arms if isinstance(a, cst.Name) and a.value == name]
            other = [a for a in arms if a not in same]
            return len(same) == 1 and len(other) == 1 and isinstance(other[0], cst.Call) \
                and wraps_itself(self._kind(other[0], b.scope or owner, depth))

        kinds = [self._binding_kind(name, b, owner, depth) for b in bindings]
        rest = [k for b, k in zip(bindings, kinds) if not wraps_itself(k) and not maybe_wrapped(b)]
        if len(rest) == len(kinds) or not rest:
            return None
        found = self._agree(rest)
        return None if found is PENDING else found

    @staticmethod
    def _agree(kinds: Sequence[Kind | None]) -> Kind | None:
        """The common kind of all bindings; details survive only where every binding agrees.
        PENDING bindings (cut-off rebindings) say nothing; all PENDING stays PENDING."""
        if not kinds or any(k is None for k in kinds):
            return None
        known = [k for k in kinds if k is not PENDING]
        if not known:
            return PENDING
        first = known[0]
        if len(known) == 1:
            return first
        if any(k.tag != first.tag for k in known):  # type: ignore[union-attr]
            return None

        def same(attr):
            values = [getattr(k, attr) for k in known]
            return values[0] if all(v == values[0] for v in values) else None

        # a factory without its path is the whole model: parts at different paths keep neither
        sub = same("sub")
        factory = same("factory") if sub is not None or all(k.sub is None for k in known) else None
        if factory is None and all(k.factory for k in known) and (sub is not None or all(k.sub is None for k in known)):
            # `vgg = vgg13_bn() if coarse else vgg16_bn()`: one of several table models, the same path
            factory = ALTERNATIVES.join(sorted({k.factory for k in known}))  # type: ignore[misc]
        return Kind(first.tag, same("cls"), same("origin"), same("qual"), same("wraps"), factory, sub)

    def binding_kinds(self, name: str, scope: Scope) -> list[tuple[Binding, Kind | None]]:
        """Each binding of `name` as seen from `scope`, with the kind it gives on its own."""
        owner = scope.lookup(name)
        if owner is None:
            return []
        return [(b, self._binding_kind(name, b, owner, 0)) for b in owner.bindings[name]]

    def _name_kind(self, name: str, scope: Scope, depth: int) -> Kind | None:
        owner = scope.lookup(name)
        if owner is None:
            return None
        return self._agree([self._binding_kind(name, b, owner, depth) for b in owner.bindings[name]])

    def _binding_kind(self, name: str, b: Binding, owner: Scope, depth: int) -> Kind | None:
        if b.how == "expr" and b.index:
            unpacked = self._returned_element(b.node, b.scope or owner, b.index, depth)
            if unpacked is not None:
                return unpacked
        if b.how == "expr":
            return self._kind(b.node, b.scope or owner, depth)
        if b.how == "iter":
            return self._element_kind(b.node, b.scope or owner, b.index, depth)
        if b.how == "param":
            return self._param_kind(name, b, owner, depth)
        return None

    def _returned_element(self, call: cst.BaseExpression, scope: Scope, index: tuple[int, ...],
                          depth: int) -> Kind | None:
        """`name, m = load()`: the kind of one element of what a same-file function returns, where every
        return of it is a literal tuple (`return "vgg19", nn.Sequential(...)`); None otherwise."""
        if not (isinstance(call, cst.Call) and isinstance(call.func, cst.Name)):
            return None
        fdef = self.resolve_def(call.func, scope)
        returns = self.f.returns.get(id(fdef), []) if fdef is not None else []
        fscope = self.f.func_scopes.get(id(fdef)) if fdef is not None else None
        elements = [_tuple_element(r, index) for r in returns]
        if fscope is None or not elements or any(e is None for e in elements):
            return None
        return self._agree([self._kind(e, fscope, depth + 1) for e in elements])

    def _param_kind(self, name: str, b: Binding, owner: Scope, depth: int) -> Kind | None:
        param: cst.Param = b.node  # type: ignore[assignment]
        if b.qualname == "self" and owner.cls is not None and self._module_class(owner.cls):
            return Kind(MODULE, owner.cls)
        if param.annotation is not None:
            q = qualname(param.annotation.annotation, b.scope or owner)
            if is_module_class(q):
                return Kind(MODULE)
            if q in ("torch.nn.Parameter", "torch.nn.parameter.Parameter"):
                return Kind(PARAM)
            return None
        if isinstance(b.func, cst.FunctionDef):
            guarded = self._guard(b.func, name, b.scope or owner)
            if guarded is not None:
                return guarded
        # The first parameter of a function handed to `module.apply(...)` receives modules.
        if b.index == (0,):
            func = b.func
            receivers: list[tuple[cst.BaseExpression, Scope]] = []
            if isinstance(func, cst.Lambda):
                receivers = self.f.apply_receivers.get(id(func), [])
            elif isinstance(func, cst.FunctionDef):
                receivers = self.f.apply_by_name.get(func.name.value, [])
            if receivers and all(self._is_module_kind(self._kind(r, s, depth)) for r, s in receivers):
                return Kind(MODULE)
        if isinstance(b.func, cst.FunctionDef) and not owner.is_method and b.index != (-1,):
            return self._param_from_calls(b.func, param, b.index[0], depth)
        return None

    def _param_from_calls(self, func: cst.FunctionDef, param: cst.Param, pos: int, depth: int) -> Kind | None:
        """A parameter holds what every same-file call of its function passes (at least one call)."""
        passed, unknown = self._args_passed(func, param, pos)
        # the calls before an unknown one are asked all the same: what they memoise and the steps
        # they take stay as they were
        kinds: list[Kind | None] = [self._kind(arg, scope, depth) for arg, scope in passed]
        if unknown:
            return None
        if self.external_passed is not None and self._top_level(func) and self._sets_flag_below(func, param):
            calls = self.external_passed(func.name.value, pos, param.name.value)  # other project files
            if calls is None:
                return None
            for entry, edge in calls:
                kinds.append(from_summary(entry))
                self._edges[id(param)] = edge
        return self._agree(kinds)

    def _args_passed(self, func: cst.FunctionDef, param: cst.Param, pos: int) -> tuple[list, bool]:
        """(argument, scope) of the same-file calls of `func` at the parameter, in order, up to the
        first that unpacks `*args` or leaves it to its default; and whether there is such a call
        (the parameter's kind is then unknown)."""
        key = (id(func), pos, param.name.value)
        if key not in self._passed_args:
            out: list = []
            unknown = False
            for call, scope in self.f.calls_by_name.get(func.name.value, []):
                if self.resolve_def(call.func, scope) is not func:
                    continue
                arg = None if any(a.star for a in call.args) else call_arg(call, pos, param.name.value)
                if arg is None:
                    unknown = True
                    break
                out.append((arg, scope))
            self._passed_args[key] = (out, unknown)
        return self._passed_args[key]

    def _guard(self, func: cst.FunctionDef, name: str, scope: Scope) -> Kind | None:
        key = (id(func), name, id(scope))
        if key not in self._guards:
            self._guards[key] = _isinstance_guard(func, name, scope)
        return self._guards[key]

    def _sets_flag_below(self, func: cst.FunctionDef, param: cst.Param) -> bool:
        """`func` sets `requires_grad` on the parameter or a path below it (`model.backbone.requires_grad
        = False`): the one question other files' calls are asked for (FZ102's freeze helper), each
        such question scanning the project for the function's callers."""
        key = (id(func), param.name.value)
        known = self._flag_setters.get(key)
        if known is None:
            name = re.escape(param.name.value)
            known = self._flag_setters[key] = bool(re.search(
                rf"(?<![\w.]){name}(?:\.\w+|\[[^\]\n]*\])*\.requires_grad\s*=(?!=)", code_of(func.body)))
        return known

    def _top_level(self, func: cst.FunctionDef) -> bool:
        """`func` is what its name is bound to at the top of the file (another file can import it)."""
        bindings = self.f.module_scope.bindings.get(func.name.value, [])
        return len(bindings) == 1 and bindings[0].how == "def" and bindings[0].node is func

    def resolve_def(self, expr: cst.BaseExpression, scope: Scope) -> cst.FunctionDef | None:
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
        q = qualname(func, scope)
        if q is not None:
            if q in ("torch.nn.Parameter", "torch.nn.parameter.Parameter"):
                return Kind(PARAM)
            if q == "torch.load":
                return Kind(STATE_DICT, origin="torch.load()")
            if q in ("copy.deepcopy", "torch.compile"):
                # deepcopy of a Module is a Module; torch.compile(model) is a Module over model's
                # parameters (and compiles functions too: it is what its argument is).
                arg = call_arg(call, 0)
                return self._kind(arg, scope, depth) if arg is not None else None
            if q in _WRAPPERS:
                arg = call_arg(call, 0, "module")
                return Kind(MODULE, qual=q, wraps=(arg, scope) if arg is not None else None)
            if q in _BUILD_NORM_ITSELF:
                return self._built_norm_itself(call, scope, depth)
            if is_module_class(q):
                return Kind(MODULE, qual=q, factory=q)
            if is_module_factory(q):
                return Kind(MODULE, factory=_factory_key(q, call))
            if self.external_module_class is not None and self.external_module_class(q):
                return Kind(MODULE, qual=q)
            if self.external_returned_kind is not None:
                hit = self.external_returned_kind(q)  # a builder function of another project file
                known = from_summary(hit[0]) if hit is not None else None
                if known is not None:
                    self._edges[id(call)] = hit[1]
                    return known
        if isinstance(func, cst.Subscript) and isinstance(func.value, cst.Attribute) \
                and func.value.attr.value == "__dict__" \
                and (qualname(func.value.value, scope) or "").startswith("torchvision.models"):
            # `torchvision.models.__dict__[arch](...)` (PyTorch's ImageNet example, MoCo, DINO): a model
            # builder picked by name; which one is not known, so nothing of its parts is
            return Kind(MODULE)
        if isinstance(func, cst.Name):
            fdef = self.resolve_def(func, scope)
            if fdef is not None:
                returns = self.f.returns.get(id(fdef), [])
                fscope = self.f.func_scopes.get(id(fdef))
                if not returns or fscope is None or any(r is None for r in returns):
                    return None
                return self._agree([self._kind(r, fscope, depth) for r in returns])
            info = self.f.classes.get(func.value)
            owner = scope.lookup(func.value)
            if info is not None and self._module_class(info) and owner is not None and all(
                b.how == "opaque" for b in owner.bindings[func.value]
            ):
                return Kind(MODULE, info)
            return None
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            if method in ("detach", "clone"):
                if isinstance(func.value, cst.Attribute) and func.value.attr.value == "grad":
                    return None  # a copy of a gradient (an input to some update), not of a parameter
                return Kind(COPY, origin=f".{method}()")
            if method == "state_dict":
                keep = call_arg(call, 99, "keep_vars")
                if keep is not None and not (isinstance(keep, cst.Name) and keep.value == "False"):
                    return None
                return Kind(STATE_DICT, origin="state_dict()")
            if method in ("from_pretrained", "from_config"):
                owner_q = qualname(func.value, scope)
                if not owner_q or not owner_q.startswith("transformers."):
                    return None
                if method == "from_pretrained" and is_module_class(owner_q):
                    return Kind(MODULE, factory=owner_q)
                if owner_q.rpartition(".")[2].startswith("AutoModel"):  # (TF/Flax ones start otherwise)
                    # a PreTrainedModel whatever the checkpoint; its parts are those the table
                    # finds as Modules, or as Parameters, in every model class it was built from
                    return Kind(MODULE, factory=owner_q)
                return None
            if method in SELF_RETURNING or method == "apply":
                base = self._kind(func.value, scope, depth)
                if base is PENDING:
                    return PENDING
                if base is None:
                    return None
                if base.tag == MODULE and (method != "type" or call.args):
                    return base  # nn.Module's methods return the module itself
                if base.tag == PARAM and method == "requires_grad_":
                    return base  # Tensor.to()/.cuda()/.float() return new tensors: not the Parameter
        return None

    def _element_kind(self, it: cst.BaseExpression, scope: Scope, index: tuple[int, ...],
                      depth: int) -> Kind | None:
        """Kind of the item at `index` of the elements produced by iterating `it`."""
        if isinstance(it, cst.Subscript) and len(it.slice) == 1 and isinstance(it.slice[0].slice, cst.Slice):
            return self._element_kind(it.value, scope, index, depth)  # a slice holds what its sequence does
        if isinstance(it, (cst.List, cst.Tuple)):
            if index or not it.elements or any(isinstance(e, cst.StarredElement) for e in it.elements):
                return None
            return self._agree([self._kind(e.value, scope, depth) for e in it.elements])  # `[model.conv1, ...]`
        if isinstance(it, cst.Call):
            q = qualname(it.func, scope)
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
                    want = (1,) if method == "items" else ()
                    if base is not None and base.tag == STATE_DICT:
                        return Kind(COPY, origin=base.origin) if index == want else None
                    if _items(base) == "dict":
                        return Kind(MODULE) if index == want else None  # an nn.ModuleDict's values
            return None
        if isinstance(it, cst.Name) and not index:
            listed = self._listed(it, scope, depth)
            if listed is not None:
                return listed  # `for st in stages`, stages = [model.layer4, model.layer3]
        if not index and _items(self._kind(it, scope, depth)) == "seq":
            return Kind(MODULE)  # `for block in model.transformer.h`
        return None

    def _listed(self, name: cst.Name, scope: Scope, depth: int) -> Kind | None:
        """The common kind of the items of a variable bound only to list or tuple displays
        (`stages = [model[6], model[4]]`): what indexing it or iterating it gives."""
        owner = scope.lookup(name.value)
        binds = owner.bindings.get(name.value, []) if owner is not None else []
        if not binds or depth > _MAX_DEPTH or \
                any(b.how != "expr" or not isinstance(b.node, (cst.List, cst.Tuple)) for b in binds):
            return None
        return self._agree([self._element_kind(b.node, b.scope or owner, (), depth + 1) for b in binds])


def _isinstance_guard(func: cst.FunctionDef, name: str, scope: Scope) -> Kind | None:
    """`if not isinstance(target, nn.Linear): raise ValueError(...)` (or `return`) among the
    function's own statements: past it, the parameter is a Module of that class (of one of those
    classes), as sure as an annotation. A test that only logs leaves it unknown."""
    body = func.body.body if isinstance(func.body, cst.IndentedBlock) else ()
    for stmt in body:
        test = stmt.test if isinstance(stmt, cst.If) and stmt.orelse is None else None
        if not (isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not)
                and isinstance(test.expression, cst.Call) and isinstance(test.expression.func, cst.Name)
                and test.expression.func.value == "isinstance" and len(test.expression.args) == 2):
            continue
        subject, classes = (a.value for a in test.expression.args)
        last = stmt.body.body[-1] if stmt.body.body else None
        if not (isinstance(subject, cst.Name) and subject.value == name and isinstance(last, cst.SimpleStatementLine)
                and any(isinstance(small, (cst.Raise, cst.Return)) for small in last.body)):
            continue
        quals = [qualname(el.value, scope) for el in classes.elements] \
            if isinstance(classes, (cst.Tuple, cst.List)) else [qualname(classes, scope)]
        if quals and all(q and is_module_class(q) for q in quals):
            return Kind(MODULE, qual=quals[0] if len(quals) == 1 else None, origin="isinstance")
    return None
