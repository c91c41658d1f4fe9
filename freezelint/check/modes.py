"""What code provably does NOT do to a model's modes: leave its train()/eval() modes and its
requires_grad flags alone ("quiet"), or, for a train() override, re-apply eval() to nothing but
named parts. Both answers are proofs or nothing (None / False): whatever cannot be read counts
as possibly re-freezing, so a rule that trusts them only ever loses silence where it is proven
wrong (FZ201: a callable handed the model after train(), a train() override that keeps nothing).
Syntax and scopes only: the flow layer and the summaries ask it, per file.
"""

from __future__ import annotations

import builtins
import re

import libcst as cst

from freezelint.check.facts import Facts, is_batchnorm_class, is_leaf_module_class
from freezelint.check.syntax import call_arg, dotted, walk

_MAX_DEPTH = 3
# a name that may set a mode or a requires_grad flag, wherever it is called or assigned
_TOUCHES = re.compile(r"(?i)train|eval|freeze|grad|mode(?!l)|apply|norm|setattr|exec")  # `save_model` is no mode
# methods that only read a module (or a tensor, a container of them)
_READS = frozenset({
    "parameters", "named_parameters", "buffers", "named_buffers", "modules", "named_modules", "children",
    "named_children", "state_dict", "numel", "nelement", "element_size", "size", "dim", "item", "tolist",
    "cpu", "cuda", "to", "detach", "clone", "float", "half", "double", "numpy", "mean", "sum", "std", "var",
    "abs", "max", "min", "data_ptr", "keys", "values", "items", "get", "get_submodule", "get_parameter",
    "extra_repr", "count", "index", "__repr__", "__str__",
})
# methods of a logger, a writer or a plain container: they record what they are given
_RECORDS = frozenset({"info", "debug", "warning", "warn", "error", "exception", "critical", "log", "write",
                      "print", "add_scalar", "add_scalars", "add_histogram", "add_text", "append", "extend",
                      "format", "join", "flush"})
# library namespaces whose functions read or store a model, never set its modes
_INERT_LIBRARIES = ("torch.", "logging.", "os.", "json.", "pickle.", "copy.", "math.", "time.", "numpy.",
                    "warnings.", "sys.", "pathlib.", "shutil.", "datetime.", "tqdm.", "wandb.", "collections.")
_UNSAFE_TORCH = ("torch.nn.Module.", "torch.ao.", "torch.quantization.", "torch.jit.")
_UNSAFE_BUILTINS = frozenset({"setattr", "delattr", "exec", "eval", "compile", "getattr", "__import__", "vars"})


def quiet(facts: Facts, func: cst.FunctionDef, pos: int, _depth: int = 0) -> bool:
    """The function provably leaves the modes and requires_grad flags of its argument `pos`
    alone: it calls no method named like a mode change anywhere (`eval`, `train`, `apply`,
    `requires_grad_`, `freeze_bn`...), assigns no attribute, and hands the argument (or what it
    derives from it) only to builtins, to library functions that store or log it (`torch.save`,
    `logger.info`), to read-only methods (`parameters()`, `state_dict()`), or to functions of the
    file that are quiet for it in turn (bounded depth)."""
    scope = facts.func_scopes.get(id(func))
    params = [*func.params.posonly_params, *func.params.params]
    if scope is None or pos >= len(params) or _depth > _MAX_DEPTH \
            or not all(_harmless(facts, d.decorator) for d in func.decorators):
        return False  # a decorator may wrap it in anything
    walked = facts.memo.setdefault("quiet_body", {})  # the body's calls and bindings: the same for every parameter
    if id(func) not in walked:
        walked[id(func)] = _calls_and_bindings(func)
    if walked[id(func)] is None:
        return False
    calls, pairs = walked[id(func)]
    related = _derived(params[pos].name.value, pairs)
    return all(_inert_call(facts, c, scope, related, _depth) for c in calls)


def _calls_and_bindings(func: cst.FunctionDef) -> tuple[list[cst.Call], list[tuple[set[str], set[str]]]] | None:
    """The calls of a function's body and what each binding in it binds and reads, or None where
    the body calls a method named like a mode change, assigns an attribute or an item, or uses
    global, nonlocal, yield or await (`quiet`: not provably quiet for any parameter)."""
    calls: list[cst.Call] = []
    pairs: list[tuple[set[str], set[str]]] = []  # (names bound, names read): `for m in model.modules()`
    for node in walk(func.body):
        if isinstance(node, cst.Call):
            f = node.func
            name = f.attr.value if isinstance(f, cst.Attribute) else f.value if isinstance(f, cst.Name) else ""
            if _TOUCHES.search(name):
                return None  # fails fast: most functions of a big file stop here
            calls.append(node)
        elif isinstance(node, (cst.Assign, cst.AugAssign, cst.AnnAssign)):
            targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
            if any(not isinstance(n, (cst.Name, cst.Tuple, cst.List, cst.Element)) for t in targets for n in walk(t)):
                return None  # an attribute (`m.training = False`), an item: not followed
            if node.value is not None:
                pairs += [(_names(t), _names(node.value)) for t in targets]
        elif isinstance(node, (cst.Global, cst.Nonlocal, cst.Yield, cst.Await)):
            return None
        elif isinstance(node, (cst.For, cst.CompFor)):
            pairs.append((_names(node.target), _names(node.iter)))
        elif isinstance(node, cst.WithItem) and node.asname is not None:
            pairs.append((_names(node.asname.name), _names(node.item)))
        elif isinstance(node, cst.NamedExpr):
            pairs.append((_names(node.target), _names(node.value)))
    return calls, pairs


def _names(node: cst.CSTNode) -> set[str]:
    return {n.value for n in walk(node) if isinstance(n, cst.Name)}


def _derived(name: str, pairs: list[tuple[set[str], set[str]]]) -> set[str]:
    """`name` and every local bound from an expression that mentions one of them (`for m in
    model.modules()`, `sub = model.backbone`, a comprehension's target, `with ... as x`)."""
    related = {name}
    grown = True
    while grown:
        grown = False
        for bound, read in pairs:
            if read & related and not bound <= related:
                related |= bound
                grown = True
    return related


def _mentions(node: cst.CSTNode, names: set[str]) -> bool:
    return any(isinstance(n, cst.Name) and n.value in names for n in walk(node))


def _inert_call(facts: Facts, call: cst.Call, scope, related: set[str], depth: int) -> bool:
    func = call.func
    args = [a.value for a in call.args]
    handed = any(_mentions(a, related) for a in args)
    if isinstance(func, cst.Attribute):
        method = func.attr.value
        if _TOUCHES.search(method):
            return False
        q = facts.qualname(func, scope) or ""
        if q and _inert_library(q):
            return True
        if _mentions(func.value, related):
            # `model.parameters()`; `self.logger.info(...)` in a method: a logger the object holds
            logger = re.search(r"log|writer", (dotted(func.value) or "").rsplit(".", 1)[-1], re.IGNORECASE)
            return (method in _READS or logger is not None and method in _RECORDS) and not handed
        return not handed or method in _RECORDS
    if not isinstance(func, cst.Name):
        return False  # `getattr(model, name)()`, `hooks[i](model)`: not readable
    if func.value in related or _TOUCHES.search(func.value):
        return False
    if hasattr(builtins, func.value) and scope.lookup(func.value) is None:
        return func.value not in _UNSAFE_BUILTINS
    if not handed:
        return True
    q = facts.qualname(func, scope) or ""
    if q and _inert_library(q):
        return True
    callee = facts.resolve_def(func, scope)
    if callee is None or isinstance(callee.params.star_arg, cst.Param) or callee.params.star_kwarg is not None:
        return False
    names = [p.name.value for p in (*callee.params.posonly_params, *callee.params.params)]
    for i, a in enumerate(call.args):
        if not _mentions(a.value, related):
            continue
        if a.star:
            return False
        at = names.index(a.keyword.value) if a.keyword is not None and a.keyword.value in names else \
            i if a.keyword is None else None
        if at is None or not quiet(facts, callee, at, depth + 1):
            return False
    return True


def _inert_library(q: str) -> bool:
    return q.startswith(_INERT_LIBRARIES) and not q.startswith(_UNSAFE_TORCH) \
        and not _TOUCHES.search(q.rsplit(".", 1)[-1])


# ----------------------------------------------------------------------- train() overrides
def train_keeps(facts: Facts, info, _seen: frozenset[str] = frozenset()) -> list[str] | None:
    """What the train() a Module class of this file defines (itself or through its bases of the
    file) provably keeps in eval mode after putting the model in training mode: the parts it
    re-applies eval() to (`["head"]` for `self.head.eval()`), `[]` for nothing (a no-op override,
    one that only logs). None when it may keep more than those: it calls eval() in a loop, on
    every BatchNorm, on the whole model, calls a helper that is not proven quiet, does anything
    else that cannot be read, never calls its base's train(), or sits on a base class of another
    file. A class without a train() of its own answers for the base whose train() it inherits."""
    own = _own_train(info)
    bases = [b.value for b in info.node.bases if b.keyword is None]
    if own is None:
        found = [_base_keeps(facts, b, _seen) for b in bases]
        defined = [f for f in found if f != "torch"]
        return defined[0] if len(defined) == 1 else None  # none (nn.Module's own), or several: not judged
    read = _own_keeps(facts, info, own)
    if read is None:
        return None
    kept, starts = read
    runs = _runs_next(facts, info, starts)
    if runs is None:
        return None
    for b in runs:  # what `super().train(mode)` runs: the bases, or those after `super(Base, self)`
        base = _base_keeps(facts, b, _seen)
        if base is None:
            return None
        if base != "torch":
            kept.extend(base)
    return sorted(set(kept))


def _own_keeps(facts: Facts, info, own: cst.FunctionDef) -> tuple[list[str], list] | None:
    """What the class's own train() body keeps in eval mode (its bases' train() aside), and where
    each of its base calls starts looking for train() (`_OverrideBody.starts`); None where the
    body cannot be read or never calls a base train()."""
    scope = facts.func_scopes.get(id(own))
    params = [p.name.value for p in (*own.params.posonly_params, *own.params.params)]
    if scope is None or not params or own.asynchronous is not None \
            or not all(_harmless(facts, d.decorator) for d in own.decorators):
        return None
    kept: list[str] = []
    judge = _OverrideBody(facts, info, scope, params[0], params[1] if len(params) > 1 else None)
    if not judge.block(own.body.body, kept) or not judge.super_called:
        return None
    if not all(_own_part(facts, info, k) for k in kept):
        return None  # `self.encoder.eval()` of an alias, or of a part that may hold the frozen one
    return kept, judge.starts


def _runs_next(facts: Facts, info, starts: list) -> list | None:
    """The base expressions whose train() the override's base calls run next: the class's own
    bases for `super()` (`super(Net, self)`), none for `nn.Module.train(self, mode)`, and those of
    `Base` for `super(Base, self)` where the class reaches `Base` through single bases of this
    file (then nothing else sits between them in the MRO). None where they disagree or are not read."""
    if len({s if isinstance(s, str) else dotted(s) for s in starts}) != 1:
        return None
    start = starts[0]
    if start == "torch":
        return []
    target = info if start == "own" else _local(facts, start)
    line = _single_chain(facts, info)
    if target is None or target not in line:
        return None
    return [b.value for b in target.node.bases if b.keyword is None]


def _local(facts: Facts, expr: cst.BaseExpression):
    """The class of this file `expr` names, else None."""
    return facts.classes.get(facts.qualname(expr, facts.module_scope) or (expr.value if isinstance(expr, cst.Name) else ""))


def _single_chain(facts: Facts, info) -> list:
    """The class and the classes of this file it inherits from one single base at a time."""
    out = [info]
    while len(out) <= _MAX_DEPTH:
        bases = [b.value for b in out[-1].node.bases if b.keyword is None]
        nxt = _local(facts, bases[0]) if len(bases) == 1 else None
        if nxt is None or nxt in out:
            break
        out.append(nxt)
    return out


def base_call(facts: Facts, info) -> tuple[cst.Call, object, list[str] | None] | None:
    """The one base call of the train() the class defines (`super(Base, self).train(mode)`), where
    it starts looking for train() ("own", "torch" or the class expression: `_OverrideBody.starts`)
    and what the override's own body keeps in eval mode (None: not read); None without exactly one."""
    own = _own_train(info)
    scope = facts.func_scopes.get(id(own)) if own is not None else None
    params = [p.name.value for p in (*own.params.posonly_params, *own.params.params)] if own is not None else []
    if scope is None or not params:
        return None
    judge = _OverrideBody(facts, info, scope, params[0], params[1] if len(params) > 1 else None)
    calls = [n for n in walk(own.body) if isinstance(n, cst.Call) and judge.super_train(n, False)]
    if len(calls) != 1:
        return None
    read = _own_keeps(facts, info, own)
    return calls[0], judge.starts[0], read[0] if read is not None else None


def super_train_calls(facts: Facts, info, own: cst.FunctionDef) -> list[cst.Call]:
    """The base calls of a train() override the class defines (`super().train(mode)`,
    `super(Net, self).train(mode)`, `nn.Module.train(self, mode)`) that hand on its own mode."""
    scope = facts.func_scopes.get(id(own))
    params = [p.name.value for p in (*own.params.posonly_params, *own.params.params)]
    if scope is None or not params:
        return []
    judge = _OverrideBody(facts, info, scope, params[0], params[1] if len(params) > 1 else None)
    return [n for n in walk(own.body) if isinstance(n, cst.Call) and judge.super_train(n, False)]


def skipped_trains(facts: Facts, info) -> tuple[cst.Call, list] | None:
    """The base call of the train() the class defines that skips train() overrides of its bases
    of this file (`super(Base, self).train(mode)` skips `Base.train`; `nn.Module.train(self, mode)`
    skips every one), and those classes; None where it skips none or cannot be read."""
    found = base_call(facts, info)
    if found is None or found[1] == "own":
        return None
    call, start, _ = found
    if start == "torch":
        on_the_way = ancestors(facts, info)
    else:
        line = _single_chain(facts, info)
        target = _local(facts, start)
        if target is None or target not in line[1:]:
            return None
        on_the_way = line[1:line.index(target) + 1]
    skipped = [c for c in on_the_way if _own_train(c) is not None]
    return (call, skipped) if skipped else None


def _own_train(info) -> cst.FunctionDef | None:
    return next((s for s in info.node.body.body if isinstance(s, cst.FunctionDef) and s.name.value == "train"), None)


def ancestors(facts: Facts, info) -> list:
    """The base classes of this file a class inherits from, at any depth."""
    return _chain(facts, info)[1:]


def _chain(facts: Facts, info, depth: int = 0) -> list:
    """The class and its base classes of this file."""
    out = [info]
    for b in (b.value for b in info.node.bases if b.keyword is None) if depth <= _MAX_DEPTH else ():
        local = facts.classes.get(facts.qualname(b, facts.module_scope) or (b.value if isinstance(b, cst.Name) else ""))
        if local is not None and local is not info:
            out += _chain(facts, local, depth + 1)
    return out


def _mentions_attr(value: cst.CSTNode, attr: str) -> bool:
    return any(isinstance(n, cst.Attribute) and n.attr.value == attr and isinstance(n.value, cst.Name)
               and n.value.value == "self" for n in walk(value))


def _own_part(facts: Facts, info, part: str) -> bool:
    """Every assignment of the attribute `part` starts with builds a module that can hold no
    other part of the model: a torch.nn layer without children (`nn.Dropout(p)`), or a call
    that is handed neither `self` nor a parameter (`nn.Sequential(nn.Conv2d(8, 8, 3), ...)`).
    An alias (`self.encoder = self.backbone`) or a wrapper of what the model was given may be
    the frozen part itself."""
    attr = re.split(r"[.\[]", part, maxsplit=1)[0]
    values = next((c.attrs[attr] for c in _chain(facts, info) if attr in c.attrs), [])
    if any(_mentions_attr(v, attr) for c in _chain(facts, info) for vs in c.attrs.values() for v, _ in vs):
        return False  # `self.backbone = self.neck`: the frozen part may be this one
    for value, scope in values:
        if not isinstance(value, cst.Call):
            return False
        if is_leaf_module_class(facts.qualname(value.func, scope)):
            continue
        params = {n for n, bs in scope.bindings.items() if any(b.how == "param" for b in bs)}
        if any(isinstance(n, cst.Name) and (n.value == "self" or n.value in params) for a in value.args
               for n in walk(a.value)):
            return False
    return bool(values)


_HARMLESS_DECORATORS = frozenset({"torch.no_grad", "torch.inference_mode", "torch.jit.ignore", "torch.jit.unused",
                                  "typing.override", "typing_extensions.override"})


def _harmless(facts: Facts, decorator: cst.BaseExpression) -> bool:
    """`@torch.no_grad()` (timm's LeViT clears a cache in train()): it changes no mode."""
    func = decorator.func if isinstance(decorator, cst.Call) else decorator
    return facts.qualname(func, facts.module_scope) in _HARMLESS_DECORATORS


def _base_keeps(facts: Facts, base: cst.BaseExpression, seen: frozenset[str]):
    """"torch" for a torch.nn base (nn.Module's own train()), what a base class of this file's
    train() keeps, else None (another file's, a framework's: not read)."""
    q = facts.qualname(base, facts.module_scope) or (base.value if isinstance(base, cst.Name) else "")
    if q.startswith("torch.nn.") and not is_batchnorm_class(q):
        return "torch"
    local = facts.classes.get(q)
    if local is None or q in seen:
        return None
    if not any(isinstance(s, cst.FunctionDef) and s.name.value == "train" for s in local.node.body.body) \
            and all(_base_keeps(facts, b.value, seen | {q}) == "torch" for b in local.node.bases if b.keyword is None):
        return "torch"
    return train_keeps(facts, local, seen | {q})


class _OverrideBody:
    """Reads a train() override statement by statement: only forms that provably set no mode
    beyond what they name are accepted (see train_keeps)."""

    def __init__(self, facts: Facts, info, scope, me: str, mode: str | None) -> None:
        self.facts, self.info, self.scope, self.me, self.mode = facts, info, scope, me, mode
        self.super_called = False
        # where each base call starts looking for train(): "own" (`super()`, `super(Net, self)`),
        # "torch" (`nn.Module.train(self, mode)`), or the class expression of `super(Base, self)`
        self.starts: list = []

    def block(self, body, kept: list[str], top: bool = True) -> bool:
        for i, stmt in enumerate(body):
            if isinstance(stmt, cst.SimpleStatementLine):
                if not all(self.small(s, kept, top) for s in stmt.body):
                    return False
            elif isinstance(stmt, cst.If):
                if not self.simple_test(stmt.test):
                    return False
                if not self.block(stmt.body.body, kept, False):
                    return False
                orelse = stmt.orelse
                while isinstance(orelse, cst.If):
                    if not self.simple_test(orelse.test) or not self.block(orelse.body.body, kept, False):
                        return False
                    orelse = orelse.orelse
                if orelse is not None and not self.block(orelse.body.body, kept, False):
                    return False
            else:
                return False  # a loop (`for m in self.modules(): ... m.eval()`), with, try: not read
        return True

    def simple_test(self, test: cst.BaseExpression) -> bool:
        return not any(isinstance(n, cst.Call) for n in walk(test))

    def small(self, s: cst.BaseSmallStatement, kept: list[str], top: bool) -> bool:
        if isinstance(s, cst.Pass):
            return True
        if isinstance(s, cst.Return):
            v = s.value
            if v is None or isinstance(v, cst.Name) and v.value == self.me:
                return True
            return isinstance(v, cst.Call) and self.super_train(v, top)
        if isinstance(s, cst.Expr):
            v = s.value
            if isinstance(v, (cst.SimpleString, cst.ConcatenatedString)):
                return True
            if not isinstance(v, cst.Call):
                return False
            if self.super_train(v, top):
                return True
            part = self.eval_of_part(v)
            if part is not None:
                kept.append(part)
                return True
            return self.inert(v)
        if isinstance(s, cst.Assign):
            # `self.is_training = mode`: a plain value, not a mode (`training` itself is one)
            return all(isinstance(t.target, cst.Attribute) and dotted(t.target.value) == self.me
                       and not _TOUCHES.search(t.target.attr.value) for t in s.targets) \
                and not any(isinstance(n, cst.Call) for n in walk(s.value))
        return False

    def super_train(self, call: cst.Call, top: bool) -> bool:
        """`super().train(mode)` (`super(Net, self)`, `nn.Module.train(self, mode)`), with the
        override's own mode: the model's modules all go to training mode."""
        func = call.func
        if not isinstance(func, cst.Attribute) or func.attr.value != "train":
            return False
        recv = func.value
        args = [a for a in call.args]
        if isinstance(recv, cst.Call) and isinstance(recv.func, cst.Name) and recv.func.value == "super":
            rest, start = args, self._super_start(recv)
            if start is None:
                return False
        elif (self.facts.qualname(recv, self.scope) or "") == "torch.nn.Module" and args \
                and isinstance(args[0].value, cst.Name) and args[0].value.value == self.me and args[0].keyword is None:
            rest, start = args[1:], "torch"
        else:
            return False
        if rest and all(a.star for a in rest):  # `super().train(*args, **kwargs)` of `train(self, *args, **kwargs)`
            if not all(isinstance(a.value, cst.Name) and a.value.value in self._passed_on(a.star) for a in rest):
                return False
            rest = []
        if len(rest) > 1 or any(a.star for a in rest):
            return False
        mode = rest[0].value if rest else None
        if mode is not None and not (isinstance(mode, cst.Name) and mode.value in (self.mode, "True")):
            return False
        if top:
            self.super_called = True
        self.starts.append(start)
        return True

    def _passed_on(self, star: str) -> tuple[str, ...]:
        """The name of the override's own `*args` (star "*") or `**kwargs` (star "**") parameter, which
        hands the mode on unchanged: none where it has a named mode or no such parameter."""
        fn = self.scope.node if isinstance(getattr(self.scope, "node", None), cst.FunctionDef) else None
        if fn is None or self.mode is not None:
            return ()
        param = fn.params.star_arg if star == "*" else fn.params.star_kwarg
        return (param.name.value,) if isinstance(param, cst.Param) else ()

    def _super_start(self, call: cst.Call):
        """`super()` and `super(Net, self)` in Net: "own"; `super(Base, self)`: `Base`; else None."""
        if not call.args:
            return "own"
        if len(call.args) != 2 or any(a.keyword is not None or a.star for a in call.args) \
                or dotted(call.args[1].value) != self.me:
            return None
        cls = call.args[0].value
        return "own" if isinstance(cls, cst.Name) and cls.value == self.info.name else cls

    def eval_of_part(self, call: cst.Call) -> str | None:
        """`self.head.eval()` (or `.train(False)`): "head"; never `self.eval()` (every part)."""
        func = call.func
        if not isinstance(func, cst.Attribute):
            return None
        path = dotted(func.value) or ""
        if not path.startswith(self.me + "."):
            return None
        if func.attr.value == "eval" and not call.args or func.attr.value == "train" and len(call.args) == 1 \
                and isinstance(call_arg(call, 0, "mode"), cst.Name) and call_arg(call, 0, "mode").value == "False":
            return path[len(self.me) + 1:]
        return None

    def inert(self, call: cst.Call) -> bool:
        """A log line (`print`, `logger.info`), or a method of the class proven quiet for `self`."""
        func = call.func
        if isinstance(func, cst.Attribute) and dotted(func.value) == self.me and not call.args:
            m = next((s for s in self.info.node.body.body if isinstance(s, cst.FunctionDef)
                      and s.name.value == func.attr.value), None)
            return m is not None and not m.decorators and quiet(self.facts, m, 0)
        return _inert_call(self.facts, call, self.scope, {self.me}, 0)
