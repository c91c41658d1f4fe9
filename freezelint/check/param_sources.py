"""Which models' parameters an optimizer gets: the `X.parameters()` its first argument holds,
directly or through the names and comprehensions that build its param groups.

    AdamW(model.parameters())                                    every parameter of `model`
    AdamW([{"params": model.head.parameters()}, ...])            `model.head` (that group)
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    AdamW([{"params": decay, ...}, {"params": no_decay, ...}])   every parameter of `model`

A comprehension with a condition holds a subset nobody can name (`if "head" in n`), so it counts
only beside its complement over the same parameters (`p.ndim > 1` / `p.ndim <= 1`, `X` / `not X`):
together they hold them all, as the weight-decay split of HF, timm and nanoGPT does. A condition
on requires_grad is the filter, not a subset: it makes the source filtered. A name is followed to
its one assignment in its scope, or to its one assignment in each arm of an if/elif/else chain that
nothing else binds it in (read as `A if c else B`); anything else says nothing (precision first).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import libcst as cst

from freezelint.check.scopes import Scope
from freezelint.check.syntax import code_of, dotted, root_of, string_value, walk

_MAX_DEPTH = 4
_PARAM_METHODS = ("parameters", "named_parameters")
# calls that hand on the parameters of their arguments (a name among them is followed)
_CONCAT = frozenset({"list", "tuple", "itertools.chain", "chain", "chain.from_iterable"})
# comparison operators and their negation
_NEGATED = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "==", "in": "not in",
            "not in": "in", "is": "is not", "is not": "is"}


_UNPAIRED = ("unpaired",)  # a condition with no complement to pair it with (a conjunction, ...)


@dataclass(frozen=True)
class Source:
    """Parameters of `path` (rooted at `root`) that the optimizer gets, in param group `group`
    (its dict literal, None outside one); `filtered`: a requires_grad test on the way."""

    root: str
    path: str
    group: cst.Dict | None
    filtered: bool
    comp: cst.BaseExpression | None = None  # the comprehension that holds them, if one does
    conditional: bool = False  # in one arm of `A if cond else B` only: the optimizer gets them on some runs


@dataclass(frozen=True)
class _Comp:
    root: str
    path: str
    group: cst.Dict | None
    filtered: bool
    key: tuple  # what it iterates: the parameters of one path, with the same loop variables
    cond: tuple | None  # its one condition (normalised), None when it has none
    node: cst.BaseExpression | None = None  # the comprehension


def param_sources(source: cst.BaseExpression, scope: Scope, module: cst.Module | None = None) -> list[Source]:
    """The parameter sources of an optimizer's first argument (see the module docstring). With
    the `module`, a name bound in each arm of an if/else at module level is followed too."""
    filtered = "requires_grad" in code_of(source)
    found: list[Source] = []
    comps: list[_Comp] = []
    _collect(source, scope, None, filtered, found, comps, 0, module=module, until=source)
    for c in comps:
        # a filtered subset holds no frozen parameter whatever its other condition: it counts too
        if c.cond is None or c.filtered or any(o is not c and o.key == c.key and _complement(o.cond, c.cond)
                                               for o in comps):
            found.append(Source(c.root, c.path, c.group, c.filtered, c.node))
    return found


def _collect(expr: cst.BaseExpression, scope: Scope, group: cst.Dict | None, filtered: bool,
             found: list[Source], comps: list[_Comp], depth: int, follow: bool = True,
             module: cst.Module | None = None, until: cst.CSTNode | None = None) -> None:
    """`follow`: `expr` stands where parameters (or groups of them) go, so a name there is one of
    them and is followed to its value; inside anything else (`next(model.parameters()).device`)
    only a `.parameters()` written in place counts, as it always did. `until`: the optimizer's
    argument, before which what is appended to a list it holds counts too."""
    if depth > _MAX_DEPTH:
        return

    def collect(e, grp=group, filt=filtered, fol=True, dep=depth):
        _collect(e, scope, grp, filt, found, comps, dep, fol, module, until)
    if isinstance(expr, cst.Dict) and group is None and follow:
        for el in expr.elements:
            if isinstance(el, cst.DictElement) and string_value(el.key) == "params":
                collect(el.value, grp=expr)
        return
    if isinstance(expr, (cst.ListComp, cst.GeneratorExp, cst.SetComp)):
        comp = _comp(expr, scope, group, filtered, depth)
        if comp is not None:
            comps.append(comp)
            return  # else not over parameters, or over all of them in another shape: as any expression
    hit = _params_call(expr)
    if hit is not None:
        found.append(Source(*hit, group, filtered))
        return
    if isinstance(expr, cst.Name):
        value = _assigned(expr, scope) if follow else None
        if value is not None:
            collect(value, filt=filtered or "requires_grad" in code_of(value), dep=depth + 1)
            if isinstance(value, cst.List) and until is not None:
                # `params.append({"params": mlp.parameters(), "lr": ...})` before the optimizer
                # (diffusers' scripts): on the runs that reach it, so each is conditional
                for added in _appended(expr, scope, module, until):
                    got: list[Source] = []
                    _collect(added, scope, group, filtered or "requires_grad" in code_of(added), got, [],
                             depth + 1, True, module)
                    found.extend(replace(s, conditional=True) for s in got)
        elif follow:
            # `if c: params = A` / `else: params = B` (simsiam's `optim_params`): as `A if c else B`
            values = _arm_values(expr, scope, module)
            if values:
                _arms(values, scope, group, filtered, found, comps, depth + 1, module)
        return
    if isinstance(expr, cst.Lambda):
        return
    if follow and isinstance(expr, cst.IfExp):
        _arms([expr.body, expr.orelse], scope, group, filtered, found, comps, depth, module)
        return
    if follow and isinstance(expr, (cst.List, cst.Tuple, cst.Set)):
        inner = [e.value for e in expr.elements]
    elif follow and isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Add):
        inner = [expr.left, expr.right]
    elif follow and isinstance(expr, cst.Call) and dotted(expr.func) in _CONCAT:
        inner = [a.value for a in expr.args if a.keyword is None]
    else:
        for child in expr.children:
            kids = [child] if isinstance(child, cst.BaseExpression) else \
                [c for c in child.children if isinstance(c, cst.BaseExpression)]  # Arg, Element, ...
            for k in kids:
                collect(k, fol=False)
        return
    for e in inner:
        collect(e)


def _arms(values: list[cst.BaseExpression], scope: Scope, group: cst.Dict | None, filtered: bool,
          found: list[Source], comps: list[_Comp], depth: int, module: cst.Module | None) -> None:
    """One of `values` is what the optimizer gets, on each run: what every arm holds is held on
    every run; what only some hold, only when their conditions say (`conditional`)."""
    arms = []
    for arm in values:
        got: list[Source] = []
        _collect(arm, scope, group, filtered or "requires_grad" in code_of(arm), got, comps, depth, module=module)
        arms.append(got)
    # a part one arm filters on requires_grad and another does not is a source of each kind, on some runs
    keys = [{(s.root, s.path, s.filtered) for s in got} for got in arms]
    every = set.intersection(*keys)
    seen = set()
    for s in (s for got in arms for s in got):
        key = (s.root, s.path, s.filtered)
        if key in every and key in seen:
            continue
        seen.add(key)
        found.append(s if key in every else replace(s, conditional=True))


def _arm_values(name: cst.Name, scope: Scope, module: cst.Module | None) -> list[cst.BaseExpression]:
    """The values of `name` where each arm of one `if`/`elif`/`else` chain binds it once, as a
    statement of the arm itself, and nothing else binds it: whenever it is read after the chain,
    it holds one of them. Empty otherwise (a binding after another may replace it: not followed)."""
    owner = scope.lookup(name.value)
    bindings = owner.bindings.get(name.value, []) if owner is not None else []
    if not 2 <= len(bindings) <= 4 or any(b.how != "expr" or b.index or b.node is None for b in bindings):
        return []
    root = owner.node if owner.node is not None else module
    body = getattr(root, "body", None)
    if body is None or isinstance(root, cst.Lambda):
        return []
    nodes = {id(b.node) for b in bindings}
    for n in walk(root):
        values = _chain_values(n, name.value) if isinstance(n, cst.If) else None
        if values is not None and sorted(id(v) for v in values) == sorted(nodes):
            return values
    return []


def _chain_values(node: cst.If, name: str) -> list[cst.BaseExpression] | None:
    """The value each arm of the chain `node` starts binds `name` to, or None where an arm does
    not bind it by exactly one plain assignment among its own statements, or the chain has no `else`."""
    out = []
    while True:
        value = _arm_value(node.body, name)
        if value is None:
            return None
        out.append(value)
        if isinstance(node.orelse, cst.If):
            node = node.orelse
            continue
        last = _arm_value(node.orelse.body, name) if isinstance(node.orelse, cst.Else) else None
        return [*out, last] if last is not None else None


def _arm_value(arm: cst.BaseSuite, name: str) -> cst.BaseExpression | None:
    lines = arm.body if isinstance(arm, cst.IndentedBlock) else [arm]
    own = [small.value for st in lines if isinstance(st, (cst.SimpleStatementLine, cst.SimpleStatementSuite))
           for small in st.body if isinstance(small, cst.Assign) and len(small.targets) == 1
           and isinstance(small.targets[0].target, cst.Name) and small.targets[0].target.value == name]
    return own[0] if len(own) == 1 else None


def _params_call(expr: cst.BaseExpression) -> tuple[str, str] | None:
    """`X.parameters()` / `X.named_parameters()`: (root, path of X)."""
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) \
            and expr.func.attr.value in _PARAM_METHODS:
        path, root = dotted(expr.func.value), root_of(expr.func.value)
        if root and path:
            return root, path
    return None


def _appended(name: cst.Name, scope: Scope, module: cst.Module | None,
              until: cst.CSTNode) -> list[cst.BaseExpression]:
    """What `name.append(x)` / `name.extend(x)` statements of the body that binds `name` add
    before `until`, outside loops (a loop's items are other objects on each pass) and nested
    definitions. Nothing where `until` is not in that body."""
    owner = scope.lookup(name.value)
    root = owner.node if owner is not None and owner.node is not None else module
    if root is None or isinstance(root, cst.Lambda):
        return []
    out: list[cst.BaseExpression] = []
    stack: list[tuple[cst.CSTNode, bool]] = [(root, False)]  # preorder, without recursion (deep trees)
    while stack:
        node, in_loop = stack.pop()
        if node is until:
            return out
        if node is not root and isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue
        if isinstance(node, cst.Expr) and isinstance(node.value, cst.Call) and not in_loop:
            call = node.value
            if isinstance(call.func, cst.Attribute) and call.func.attr.value in ("append", "extend") \
                    and isinstance(call.func.value, cst.Name) and call.func.value.value == name.value \
                    and len(call.args) == 1 and call.args[0].keyword is None and not call.args[0].star:
                value = call.args[0].value
                if call.func.attr.value == "append":
                    out.append(value)
                elif isinstance(value, (cst.List, cst.Tuple)):
                    out.extend(e.value for e in value.elements if isinstance(e, cst.Element))
        inner = in_loop or isinstance(node, (cst.For, cst.While, cst.ListComp, cst.GeneratorExp, cst.SetComp,
                                             cst.DictComp))
        stack.extend((c, inner) for c in reversed(node.children))
    return []


def _assigned(name: cst.Name, scope: Scope) -> cst.BaseExpression | None:
    """The value of the one plain assignment of `name` in the scope that binds it."""
    owner = scope.lookup(name.value)
    bindings = owner.bindings.get(name.value, []) if owner is not None else []
    if len(bindings) != 1 or bindings[0].how != "expr" or bindings[0].index:
        return None
    return bindings[0].node


def _comp(comp, scope: Scope, group, filtered: bool, depth: int) -> _Comp | None:
    """A comprehension over the parameters of one path: `p for p in X.parameters()`,
    `p for n, p in X.named_parameters()` (or over a dict of them: `param_dict.items()`). None for
    any other, and for one without a condition whose items are not the bare parameters
    (`{"params": [p]} for p in ...`: every parameter still, found as a `.parameters()` inside)."""
    loop = comp.for_in
    if loop.inner_for_in is not None or loop.asynchronous is not None:
        return None
    hit = _named_iter(loop.iter, scope, depth)
    if hit is None:
        return None
    (root, path), named = hit
    conds = [c for test in loop.ifs for c in _conjuncts(test.test)]
    kept = [c for c in conds if "requires_grad" not in code_of(c)]
    filtered = filtered or len(kept) < len(conds)
    target, elt = loop.target, comp.elt
    if named:  # (name, parameter) pairs: the element is the second
        bare = isinstance(elt, cst.Name) and isinstance(target, cst.Tuple) and len(target.elements) == 2 \
            and all(isinstance(e.value, cst.Name) for e in target.elements) \
            and target.elements[1].value.value == elt.value
    else:
        bare = isinstance(elt, cst.Name) and isinstance(target, cst.Name) and target.value == elt.value
    if not bare:
        return None if not conds else _Comp(root, path, group, filtered, (), _UNPAIRED)
    cond = None if not kept else _normalised(kept[0]) if len(kept) == 1 else _UNPAIRED
    return _Comp(root, path, group, filtered, (path, code_of(target)), cond, comp)


def with_requires_grad_filter(comp) -> cst.BaseExpression:
    """The comprehension with `p.requires_grad and` before its condition (`if p.requires_grad`
    without one): the same parameters, less the frozen ones."""
    test = cst.parse_expression(f"{comp.elt.value}.requires_grad")
    loop = comp.for_in
    if loop.ifs:
        old = loop.ifs[0].test
        if isinstance(old, (cst.BooleanOperation, cst.IfExp, cst.Lambda, cst.NamedExpr)) and not old.lpar:
            old = old.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        test = cst.BooleanOperation(test, cst.And(), old)
        ifs = [loop.ifs[0].with_changes(test=test), *loop.ifs[1:]]
    else:
        ifs = [cst.CompIf(test=test)]
    return comp.with_changes(for_in=loop.with_changes(ifs=ifs))


def _named_iter(it: cst.BaseExpression, scope: Scope, depth: int) -> tuple[tuple[str, str], bool] | None:
    """What a comprehension iterates: ((root, path), whether items are (name, parameter) pairs)."""
    hit = _params_call(it)
    if hit is not None:
        return hit, it.func.attr.value == "named_parameters"
    # `param_dict.items()` / `.values()` of `param_dict = {pn: p for pn, p in X.named_parameters()}`
    # or `dict(X.named_parameters())`
    if isinstance(it, cst.Call) and not it.args and isinstance(it.func, cst.Attribute) \
            and it.func.attr.value in ("items", "values") and isinstance(it.func.value, cst.Name) \
            and depth < _MAX_DEPTH:
        value = _assigned(it.func.value, scope)
        inner = _whole_dict(value) if value is not None else None
        if inner is not None:
            return inner, it.func.attr.value == "items"
    return None


def _whole_dict(value: cst.BaseExpression) -> tuple[str, str] | None:
    """A dict of every (name, parameter) pair of one path."""
    if isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and value.func.value == "dict" \
            and len(value.args) == 1 and value.args[0].keyword is None and not value.args[0].star:
        arg = value.args[0].value
        hit = _params_call(arg)
        return hit if hit is not None and arg.func.attr.value == "named_parameters" else None
    if isinstance(value, cst.DictComp) and value.for_in.inner_for_in is None and not value.for_in.ifs:
        hit = _params_call(value.for_in.iter)
        t = value.for_in.target
        if hit is None or value.for_in.iter.func.attr.value != "named_parameters" or not (
                isinstance(t, cst.Tuple) and len(t.elements) == 2 and all(isinstance(e.value, cst.Name) for e in t.elements)):
            return None
        n, p = (e.value.value for e in t.elements)
        if isinstance(value.key, cst.Name) and value.key.value == n \
                and isinstance(value.value, cst.Name) and value.value.value == p:
            return hit
    return None


def _conjuncts(test: cst.BaseExpression) -> list[cst.BaseExpression]:
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And) and not test.lpar:
        return _conjuncts(test.left) + _conjuncts(test.right)
    return [test]


def _bare(expr: cst.BaseExpression) -> str:
    return code_of(expr.with_changes(lpar=[], rpar=[]) if getattr(expr, "lpar", None) else expr).strip()


def _normalised(test: cst.BaseExpression) -> tuple:
    """("not", text) for `not X`, ("cmp", left, op, right) for a single comparison, else ("is", text)."""
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        return ("not", _bare(test.expression))
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
        c = test.comparisons[0]
        op = " ".join(code_of(c.operator).split())
        if op in _NEGATED:
            return ("cmp", _bare(test.left), op, _bare(c.comparator))
    return ("is", _bare(test))


def _complement(a: tuple | None, b: tuple | None) -> bool:
    """Every item satisfies exactly one of two normalised conditions."""
    if a is None or b is None or _UNPAIRED in (a, b):
        return False
    if a[0] == "cmp" and b[0] == "cmp":
        return a[1] == b[1] and a[3] == b[3] and _NEGATED[a[2]] == b[2]
    if {a[0], b[0]} == {"not", "is"}:
        return a[1] == b[1]
    if {a[0], b[0]} == {"not", "cmp"}:  # `not (x > 1)` beside `x > 1`
        neg, cmp = (a, b) if a[0] == "not" else (b, a)
        return neg[1] == f"{cmp[1]} {cmp[2]} {cmp[3]}"
    return False
