"""A part frozen by requires_grad only inside a Module's own train() override (or a method it
calls, `_freeze_stages`), while the same body puts another part it freezes in eval mode: the
OpenMMLab `MobileNetV2._freeze_stages` form. train() calls `super().train(mode)` first, so every
BatchNorm is back in train mode; the stages get their eval() again, the stem (`self.conv1`, a
ConvModule with `norm_cfg=dict(type='BN')`) does not, and its running statistics move although
it is "frozen" (FZ202).

Proofs or nothing: any eval() whose receiver cannot be read, any call that may set modes
(`self.apply(...)`, a method of a base class, a function handed `self`), or an attribute whose
BatchNorm is not shown leaves the class alone."""

from __future__ import annotations

import re
from dataclasses import dataclass

import libcst as cst

from freezelint.check.events import FREEZE, requires_grad_sets
from freezelint.check.facts import Facts, is_batchnorm_class
from freezelint.check.flow import Event, Flow
from freezelint.check.modes import super_train_calls
from freezelint.check.syntax import call_arg, code_of, dotted, string_value
from freezelint.check.traverse import children

ALL = "*"  # an eval() of the whole model, or of every module it holds (a sweep)
_MAX_DEPTH = 3
# methods of nn.Module a train() override may call on `self` that set no mode
_READS = frozenset({"modules", "named_modules", "children", "named_children", "parameters", "named_parameters",
                    "buffers", "named_buffers", "requires_grad_", "state_dict", "add_module", "register_module",
                    "register_buffer", "register_parameter", "zero_grad"})
# builtins that may be handed `self` and set no mode
_READING_BUILTINS = frozenset({"getattr", "hasattr", "isinstance", "len", "print", "id", "type", "super", "repr", "str"})
_SWEEPS = frozenset({"modules", "named_modules", "children", "named_children"})
_PARAM_LOOPS = frozenset({"parameters", "named_parameters"})
# mmcv/mmengine norm layer types with running statistics (`dict(type='BN')`)
_BN_TYPE = re.compile(r"^(?:BN[123]?d?|SyncBN|MMSyncBN|NaiveSyncBN|BatchNorm\w*|SyncBatchNorm)$")
_NORM_KEYWORDS = ("norm_cfg", "norm_layer")


@dataclass
class StemFreeze:
    """One finding: `self.<part>` frozen whole by requires_grad in `method` (None: train() itself),
    the sibling `sibling` put in eval there, and the BatchNorm sweep that does not run by default."""

    freeze: Event
    part: str
    method: str | None
    sibling: str
    held_by: str  # how the part holds BatchNorm: "built with `norm_cfg=dict(type='BN')`"
    sweep_off: str | None  # why the class's BatchNorm sweep leaves the part out by default


def stem_freezes(facts: Facts, bodies: list[Flow]) -> list[StemFreeze]:
    by_func = {id(f.scope.node): f for f in bodies if f.scope.kind == "function"}
    out: list[StemFreeze] = []
    for info in facts.classes.values():
        train = next((s for s in info.node.body.body if isinstance(s, cst.FunctionDef) and s.name.value == "train"),
                     None)
        if train is None or id(train) not in by_func:
            continue
        calls = super_train_calls(facts, info, train)
        if len(calls) != 1:
            continue
        out.extend(_of_class(facts, info, train, calls[0], by_func))
    return out


@dataclass
class _Reached:
    fn: cst.FunctionDef
    tests: list  # the `if` tests (expression, arm taken) around the calls that reach it, from train()


def _of_class(facts: Facts, info, train: cst.FunctionDef, base: cst.Call, by_func) -> list[StemFreeze]:
    me = _self_name(train)
    mode = _param_names(train)[1:2]
    methods = {s.name.value: s for s in info.node.body.body if isinstance(s, cst.FunctionDef)}
    reached = _reach(train, base, methods, me)
    if reached is None:
        return []  # a call that may set modes is not read: nothing is claimed
    evals: list[tuple[_Reached, cst.Call, set | None, list]] = []
    for r in reached:
        for call, tests in _mode_calls(r.fn):
            if isinstance(call, str):
                return []  # `self.apply(...)`: not read
            names = _names_of(call.func.value, r.fn, _self_name(r.fn), 0)  # type: ignore[union-attr]
            evals.append((r, call, names, r.tests + tests))
    if any(names is None for _, _, names, _ in evals):
        return []  # an eval() on something that may be any part
    out = []
    for r in reached:
        flow = by_func.get(id(r.fn))
        if flow is None:
            continue
        own_me = _self_name(r.fn)
        for e in flow.events:
            if e.kind != FREEZE or not e.target.startswith(own_me + "."):
                continue
            part = e.target[len(own_me) + 1:]
            if "." in part or e.detail.get("sub") != e.target or not _whole(r.fn, flow, e, e.target):
                continue
            if r.fn is train and not _after(train, base, e.node):
                continue  # frozen before super().train(): the freeze itself stands, its mode is another matter
            held = _holds_bn(facts, info, part)
            if held is None:
                continue
            off = None
            covered = False
            for _, call, names, tests in evals:
                if not _covers(names, part):
                    continue
                if ALL not in names:
                    covered = True  # `self.conv1.eval()`: its statistics are kept
                    break
                runs = _runs_by_default(facts, info, tests, mode)
                if runs is False:
                    off = off or _shown_tests(facts, info, tests, mode)
                    continue
                covered = True  # `self.eval()`, or a sweep of every BatchNorm that runs
                break
            if covered:
                continue
            sibling = _sibling(r.fn, flow, evals, part)
            if sibling is None:
                continue
            out.append(StemFreeze(e, part, None if r.fn is train else r.fn.name.value, sibling, held, off))
    return out


def _self_name(fn: cst.FunctionDef) -> str:
    names = _param_names(fn)
    return names[0] if names else "self"


def _param_names(fn: cst.FunctionDef) -> list[str]:
    return [p.name.value for p in (*fn.params.posonly_params, *fn.params.params)]


def _walk_body(node: cst.CSTNode, tests: list):
    """Each node under `node` in order with the `if` tests around it ((test, arm) pairs), nested
    functions, classes and lambdas left out."""
    if isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
        return
    yield node, tests
    if isinstance(node, cst.If):
        yield from _walk_body(node.test, tests)
        yield from _walk_body(node.body, [*tests, (node.test, True)])
        if node.orelse is not None:
            yield from _walk_body(node.orelse, [*tests, (node.test, False)])
        return
    for child in children(node):
        yield from _walk_body(child, tests)


def _body(fn: cst.FunctionDef):
    for stmt in fn.body.body if isinstance(fn.body, cst.IndentedBlock) else (fn.body,):
        yield from _walk_body(stmt, [])


def _reach(train: cst.FunctionDef, base: cst.Call, methods: dict, me: str) -> list[_Reached] | None:
    """train() and the methods of the class it calls on `self` after its base train() (bounded
    depth); None where a call may set modes unseen: a method the class does not define, `super()`'s
    other methods, a function handed `self`."""
    out = [_Reached(train, [])]
    seen = {id(train)}
    todo = [(train, [], 0)]
    while todo:
        fn, outer, depth = todo.pop()
        own_me = _self_name(fn)
        started = fn is not train
        for node, tests in _body(fn):
            if node is base:
                started = True
            if not isinstance(node, cst.Call):
                continue
            if node is base:
                continue
            if any(isinstance(a.value, cst.Name) and a.value.value == own_me for a in node.args) \
                    and not (isinstance(node.func, cst.Name) and node.func.value in _READING_BUILTINS):
                return None  # `set_bn_eval(self)`: not read
            func = node.func
            if not isinstance(func, cst.Attribute):
                continue
            recv = func.value
            if isinstance(recv, cst.Call) and isinstance(recv.func, cst.Name) and recv.func.value == "super":
                return None  # `super()._freeze_stages()`: a base class's method, not read
            if not (isinstance(recv, cst.Name) and recv.value == own_me):
                continue
            name = func.attr.value
            if name in _READS or name in ("eval", "train", "apply"):
                continue  # eval()/train()/apply() on self are read by _mode_calls
            m = methods.get(name)
            if m is None:
                return None  # a method of a base class: what it does is not known here
            if not started or id(m) in seen:
                continue
            if depth >= _MAX_DEPTH:
                return None
            seen.add(id(m))
            out.append(_Reached(m, outer + tests))
            todo.append((m, outer + tests, depth + 1))
    return out


def _mode_calls(fn: cst.FunctionDef) -> list[tuple[cst.Call | str, list]]:
    """The eval() calls of a body (`x.eval()`, `x.train(False)`) with the `if` tests around them;
    "apply" for a `self.apply(...)` (what it applies is not read)."""
    me = _self_name(fn)
    out: list = []
    for node, tests in _body(fn):
        if not isinstance(node, cst.Call) or not isinstance(node.func, cst.Attribute):
            continue
        attr = node.func.attr.value
        if attr == "apply" and dotted(node.func.value) == me:
            out.append(("apply", tests))
        elif attr == "eval" and not node.args:
            out.append((node, tests))
        elif attr == "train" and isinstance(mode := call_arg(node, 0, "mode"), cst.Name) and mode.value == "False":
            out.append((node, tests))
    return out


def _names_of(expr: cst.BaseExpression, fn: cst.FunctionDef, me: str, depth: int) -> set | None:
    """The attributes of `self` an expression may be (or be inside): {"conv1"} for `self.conv1`,
    `self.conv1[1]` or `getattr(self, "conv1")`, a compiled pattern for `getattr(self, f"layer{i}")`,
    ALL for `self` itself or a module a loop over `self.modules()` gives; None when not known."""
    if depth > _MAX_DEPTH:
        return None
    path = _root_attr(expr, me)
    if path is not None:
        return {path}
    if isinstance(expr, cst.Name):
        if expr.value == me:
            return {ALL}
        return _bound_names(expr.value, fn, me, depth)
    return None


def _root_attr(expr: cst.BaseExpression, me: str):
    """`self.stages[i - 1]` -> "stages"; `getattr(self, f"layer{i}")` -> a pattern; else None."""
    while True:
        if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name) and expr.value.value == me:
            return expr.attr.value
        if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name) and expr.func.value == "getattr" \
                and len(expr.args) >= 2 and dotted(expr.args[0].value) == me:
            return _attr_pattern(expr.args[1].value)
        if isinstance(expr, cst.Attribute):
            expr = expr.value
        elif isinstance(expr, cst.Subscript):
            expr = expr.value
        else:
            return None


def _attr_pattern(name: cst.BaseExpression):
    text = string_value(name)
    if text is not None:
        return text
    if isinstance(name, cst.FormattedString):
        parts = [re.escape(p.value) if isinstance(p, cst.FormattedStringText) else ".*" for p in name.parts]
        return re.compile("".join(parts))
    return None


def _bound_names(name: str, fn: cst.FunctionDef, me: str, depth: int) -> set | None:
    """What a local of the body may be, from its assignments and the loops that bind it."""
    if name in _param_names(fn):
        return None
    found: set = set()
    bound = False
    for node, _ in _body(fn):
        if isinstance(node, cst.Assign):
            if any(isinstance(t.target, cst.Name) and t.target.value == name for t in node.targets):
                bound = True
                got = _names_of(node.value, fn, me, depth + 1)
                if got is None:
                    return None
                found |= got
            elif any(name in _target_names(t.target) for t in node.targets):
                return None  # unpacked from something: not read
        elif isinstance(node, (cst.For, cst.CompFor)) and name in _target_names(node.target):
            bound = True
            got = _loop_names(node.target, node.iter, name, fn, me, depth)
            if got is None:
                return None
            found |= got
        elif isinstance(node, (cst.AugAssign, cst.AnnAssign, cst.NamedExpr, cst.WithItem)) \
                and name in _target_names(getattr(node, "target", None) or getattr(node, "asname", None)):
            return None
    return found if bound else None


def _target_names(target) -> set[str]:
    if target is None:
        return set()
    if isinstance(target, cst.AsName):
        target = target.name
    return {n.value for n in _names_in(target)}


def _names_in(node: cst.CSTNode):
    if isinstance(node, cst.Name):
        yield node
    elif isinstance(node, (cst.Tuple, cst.List)):
        for el in node.elements:
            yield from _names_in(el.value)


def _loop_names(target, it: cst.BaseExpression, name: str, fn, me: str, depth: int) -> set | None:
    """`for m in [self.conv1, self.norm1]`, `for m in self.modules()` (ALL), `for _, m in
    self.named_modules()`, `for i, m in enumerate(...)`: what the loop's `name` may be."""
    if isinstance(it, cst.Call) and isinstance(it.func, cst.Name) and it.func.value == "enumerate" and it.args:
        if not (isinstance(target, cst.Tuple) and len(target.elements) == 2):
            return None
        if isinstance(first := target.elements[0].value, cst.Name) and first.value == name:
            return set()  # the index
        return _loop_names(target.elements[1].value, it.args[0].value, name, fn, me, depth)
    if isinstance(it, cst.Call) and isinstance(it.func, cst.Attribute) and it.func.attr.value in _SWEEPS:
        if isinstance(target, cst.Tuple):  # `for n, m in self.named_modules()`: the name is a string
            if len(target.elements) != 2:
                return None
            if isinstance(first := target.elements[0].value, cst.Name) and first.value == name:
                return set()
        whole = _names_of(it.func.value, fn, me, depth + 1)
        return None if whole is None else {ALL} if ALL in whole else whole
    if not isinstance(target, cst.Name):
        return None
    if isinstance(it, (cst.List, cst.Tuple)):
        found: set = set()
        for el in it.elements:
            if isinstance(el, cst.StarredElement):
                return None
            got = _names_of(el.value, fn, me, depth + 1)
            if got is None:
                return None
            found |= got
        return found
    return None  # `for layer in self.layers`, `for m in range(...)` and the like: not read


def _covers(names: set, part: str) -> bool:
    return any(n == ALL or n == part or isinstance(n, re.Pattern) and n.fullmatch(part) for n in names)


def _whole(fn: cst.FunctionDef, flow: Flow, e: Event, target: str) -> bool:
    """The freeze covers all of `target`: `target.requires_grad_(False)`, or a parameter of a loop
    over `target.parameters()` (`for param in self.conv1.parameters(): param.requires_grad = False`)."""
    sets = requires_grad_sets(e.node, flow.scope)
    if len(sets) != 1:
        return False
    obj, value, called = sets[0]
    if not (isinstance(value, cst.Name) and value.value == "False"):
        return False
    if called and dotted(obj) == target:
        return True
    if not isinstance(obj, cst.Name) or called:
        return False
    loops = [n for n, _ in _body(fn) if isinstance(n, cst.For) and obj.value in _target_names(n.target)
             and _inside(n, e.node)]
    if not loops:
        return False
    loop = loops[-1]  # the innermost loop around the freeze that binds the name
    it = loop.iter
    if not (isinstance(it, cst.Call) and isinstance(it.func, cst.Attribute) and it.func.attr.value in _PARAM_LOOPS
            and dotted(it.func.value) == target and not it.args):
        return False
    if it.func.attr.value == "named_parameters":
        t = loop.target
        return isinstance(t, cst.Tuple) and len(t.elements) == 2 and isinstance(t.elements[1].value, cst.Name) \
            and t.elements[1].value.value == obj.value
    return isinstance(loop.target, cst.Name)


def _inside(loop: cst.For, node: cst.CSTNode) -> bool:
    return any(n is node for n, _ in _walk_body(loop.body, []))


def _after(train: cst.FunctionDef, base: cst.Call, node: cst.CSTNode) -> bool:
    seen_base = False
    for n, _ in _body(train):
        if n is base:
            seen_base = True
        if n is node:
            return seen_base
    return False


def _holds_bn(facts: Facts, info, attr: str) -> str | None:
    """How every value the class gives `self.<attr>` holds BatchNorm, as the message shows it:
    built of torch.nn layers with one (`nn.Sequential(nn.Conv2d(...), nn.BatchNorm2d(...))`:
    "an `nn.BatchNorm2d(8)`"), or by a call handed `norm_cfg=` / `norm_layer=` that is a BatchNorm
    (`dict(type='BN')`, `nn.BatchNorm2d`, `partial(nn.BatchNorm2d, ...)`, a parameter or attribute
    whose default is one: "built with `norm_cfg=dict(type='BN')`"); None when not shown for every value."""
    from freezelint.check.whole_model import literal_bn

    values = info.attrs.get(attr, [])
    if not values:
        return None
    shown = None
    for value, scope in values:
        if isinstance(value, cst.Call) and literal_bn(facts, value, scope):
            bn = next((n for n, _ in _walk_body(value, []) if isinstance(n, cst.Call)
                       and is_batchnorm_class(facts.qualname(n.func, scope))), value)
            shown = shown or f"an `{code_of(bn)}`"
            continue
        arg = next((a for a in value.args if a.keyword is not None and a.keyword.value in _NORM_KEYWORDS), None) \
            if isinstance(value, cst.Call) else None
        setting = _bn_setting(facts, info, arg.value, scope, 0) if arg is not None else None
        if setting is None:
            return None
        shown = shown or f"built with `{arg.keyword.value}={code_of(setting)}`"  # type: ignore[union-attr]
    return shown


def _bn_setting(facts: Facts, info, expr: cst.BaseExpression, scope, depth: int) -> cst.BaseExpression | None:
    """`dict(type='BN')`, `{'type': 'SyncBN'}`, `nn.BatchNorm2d`, `partial(nn.BatchNorm2d, ...)`, or a
    parameter / attribute of the class whose default (every value) is one of those: that value."""
    if depth > _MAX_DEPTH:
        return None
    if isinstance(expr, cst.Call):
        q = facts.qualname(expr.func, scope) or ""
        if q == "dict":
            kind = call_arg(expr, 99, "type")
            return expr if kind is not None and _BN_TYPE.match(string_value(kind) or "") else None
        if q in ("functools.partial", "partial") and expr.args and expr.args[0].keyword is None:
            return expr if is_batchnorm_class(facts.qualname(expr.args[0].value, scope)) else None
        return None
    if isinstance(expr, cst.Dict):
        kind = next((el.value for el in expr.elements if isinstance(el, cst.DictElement)
                     and string_value(el.key) == "type"), None)
        return expr if kind is not None and _BN_TYPE.match(string_value(kind) or "") else None
    if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name) and expr.value.value == "self":
        values = info.attrs.get(expr.attr.value, [])
        found = [_bn_setting(facts, info, v, s, depth + 1) for v, s in values]
        return found[0] if found and all(f is not None for f in found) else None
    if isinstance(expr, cst.Name):
        default = _default_of(scope, expr.value)
        if default is not None:
            return _bn_setting(facts, info, default, scope, depth + 1)
    if isinstance(expr, (cst.Name, cst.Attribute)):
        return expr if is_batchnorm_class(facts.qualname(expr, scope)) else None
    return None


def _default_of(scope, name: str) -> cst.BaseExpression | None:
    """The default of a parameter `name` of the function the scope is, if that is what `name` is
    (bound nowhere else in it)."""
    fn = getattr(scope, "node", None)
    if not isinstance(fn, cst.FunctionDef):
        return None
    params = [p for p in (*fn.params.posonly_params, *fn.params.params, *fn.params.kwonly_params)
              if p.name.value == name]
    if len(params) != 1 or params[0].default is None:
        return None
    if any(b.how != "param" for b in scope.bindings.get(name, [])):
        return None  # rebound in the body: the default is not what it holds
    return params[0].default


def _runs_by_default(facts: Facts, info, tests: list, mode: list[str]) -> bool | None:
    """Whether the `if` tests around a sweep hold when train() runs with its defaults: `mode`
    (train(True)) and `self.training` hold, a flag attribute holds as its parameter's default
    (`self.norm_eval = norm_eval`, `norm_eval=False`); tests on the loop's module (isinstance)
    are the sweep's own and left out. None when one is not known."""
    result: bool | None = True
    for test, arm in tests:
        v = _truth(facts, info, test, mode)
        if v is None:
            if _on_loop_var(test):
                continue
            return None
        v = v if arm else not v
        if not v:
            result = False
    return result


def _on_loop_var(test: cst.BaseExpression) -> bool:
    """`isinstance(m, _BatchNorm)`: a test that picks the modules of the sweep."""
    return any(isinstance(n, cst.Call) and isinstance(n.func, cst.Name) and n.func.value == "isinstance"
               for n, _ in _walk_body(test, []))


def _truth(facts: Facts, info, test: cst.BaseExpression, mode: list[str]) -> bool | None:
    if isinstance(test, cst.Name):
        if test.value in mode or test.value == "True":
            return True
        return False if test.value == "False" else None
    if isinstance(test, cst.Attribute) and isinstance(test.value, cst.Name) and test.value.value == "self":
        if test.attr.value == "training":
            return True
        values = info.attrs.get(test.attr.value, [])
        got = {_flag_default(v, s) for v, s in values}
        return got.pop() if len(got) == 1 else None
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        v = _truth(facts, info, test.expression, mode)
        return None if v is None else not v
    if isinstance(test, cst.BooleanOperation):
        a, b = _truth(facts, info, test.left, mode), _truth(facts, info, test.right, mode)
        if isinstance(test.operator, cst.And):
            return False if a is False or b is False else None if a is None or b is None else True
        return True if a is True or b is True else None if a is None or b is None else False
    return None


def _flag_default(value: cst.BaseExpression, scope) -> bool | None:
    if isinstance(value, cst.Name) and value.value in ("True", "False"):
        return value.value == "True"
    if isinstance(value, cst.Name):
        default = _default_of(scope, value.value)
        if isinstance(default, cst.Name) and default.value in ("True", "False"):
            return default.value == "True"
    return None


def _shown_tests(facts: Facts, info, tests: list, mode: list[str]) -> str:
    """`if mode and self.norm_eval:` runs only when `norm_eval` is set (it defaults to False)."""
    kept = [(t, arm) for t, arm in tests if not _on_loop_var(t)]
    shown = " and ".join(("" if arm else "not ") + code_of(t) for t, arm in kept)
    off = [n.attr.value for t, _ in kept for n, _ in _walk_body(t, []) if isinstance(n, cst.Attribute)
           and isinstance(n.value, cst.Name) and n.value.value == "self" and _truth(facts, info, n, mode) is False]
    if not off:
        return f"the BatchNorm sweep under `if {shown}:` does not run by default"
    return f"the BatchNorm sweep under `if {shown}:` runs only when `{off[0]}` is set, and it defaults to False"


def _sibling(fn: cst.FunctionDef, flow: Flow, evals: list, part: str) -> str | None:
    """Another part the same body freezes and puts in eval mode (`layer.eval()` and a loop over
    `layer.parameters()`): the author's own sign that frozen parts need eval()."""
    frozen = {e.target for e in flow.events if e.kind == FREEZE} | \
        {e.detail.get("sub") for e in flow.events if e.kind == FREEZE}
    for r, call, names, _ in evals:
        if r.fn is not fn or ALL in names or _covers(names, part):
            continue
        recv = dotted(call.func.value)
        if recv is not None and recv in frozen:
            return recv
    return None
