"""What proves that a dict filtered on the model's keys kept something (FZ401 and FZ402 share it).

Before the dict is merged or loaded, on every path to that use, a statement that raises unless a
key the code spells out survived the filter: `d.pop("fc.weight")` without a default, `del
d["fc.weight"]`, a read `d["fc.weight"]`, `assert "fc.weight" in d`, `if "fc.weight" not in d:
raise ...`, or one of these in a loop over spelled-out keys (`for k in ("fc.weight", "fc.bias"): del
d[k]`). An empty filter stops there instead of loading nothing. `d.pop(k, None)`, `d.get(k)` and
a bare `k in d` never raise; a key computed at run time (a loop's key over the dict's own keys) may
be one the dict holds by construction, so only string literals count.

A report of the keys the dict lacks (`print(set(model_dict) - set(d))`, or a name bound to
`[k for k in model_dict if k not in d]` that is then logged, raised or tested), or of the keys it
kept (`print(list(d))`), makes an empty filter visible, like the `len(d)` check the rules ask for.
"""

from __future__ import annotations

import re
from itertools import pairwise
from typing import Iterable, Sequence

import libcst as cst

from freezelint.check import traverse

# Calls that report: warnings, loggers, print, Lightning's rank-zero helpers, Megatron's `print_rank_0`,
# mmengine's `print_log`.
REPORTS = frozenset({"warn", "warning", "warning_once", "warn_once", "error", "info", "info_once", "debug",
                     "critical", "exception", "log", "print", "rank_zero_warn", "rank_zero_info",
                     "print_rank_0", "print_log"})

_SCOPES = (cst.FunctionDef, cst.ClassDef, cst.Lambda)
_COMPS = (cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)


def key_test(test: cst.BaseExpression, key: str | None = None) -> cst.Comparison | None:
    """A membership test of the key, alone or as one of the conditions an `and` joins (`k in
    model_dict and "fc" not in k`): every key it keeps passes it. A substring test on the key
    (`name in k`, `"fc" in k`: the key is the container) picks keys by name, not by membership."""
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
        return key_test(test.left, key) or key_test(test.right, key)
    if isinstance(test, cst.Comparison) and not isinstance(test.left, (cst.SimpleString, cst.ConcatenatedString)) \
            and any(isinstance(c.operator, cst.In)
                    and not (isinstance(c.comparator, cst.Name) and c.comparator.value == key)
                    for c in test.comparisons):
        return test
    return None


def loop_key(target: cst.BaseExpression) -> str | None:
    """The key a loop over `d.items()` (`k, v`) or over a dict's keys (`k`) binds."""
    if isinstance(target, cst.Tuple) and target.elements:
        target = target.elements[0].value
    return target.value if isinstance(target, cst.Name) else None


def key_filter(comp: cst.BaseExpression | None) -> cst.Comparison | None:
    """`{k: v for k, v in sd.items() if k in other}`: filtered on key membership (that test)."""
    if not isinstance(comp, cst.DictComp):
        return None
    key = loop_key(comp.for_in.target)
    return next((t for cond in comp.for_in.ifs if (t := key_test(cond.test, key)) is not None), None)


def _literal(node: cst.CSTNode, keys: set[str] | frozenset[str] = frozenset()) -> bool:
    """A string literal, or the name of a loop over string literals (`keys`)."""
    return isinstance(node, (cst.SimpleString, cst.ConcatenatedString)) or (
        isinstance(node, cst.Name) and node.value in keys)


def _spelled_keys(loop: cst.For) -> str | None:
    """`k` of `for k in ["fc.weight", "fc.bias"]:` whose body runs every statement for every key (no
    branch, no `continue`)."""
    it, target = loop.iter, loop.target
    if not (isinstance(it, (cst.List, cst.Tuple)) and it.elements and isinstance(target, cst.Name)
            and all(isinstance(e, cst.Element) and _literal(e.value) for e in it.elements)):
        return None
    body = loop.body.body
    simple = all(isinstance(s, (cst.SimpleStatementLine, cst.BaseSmallStatement)) for s in body) and not any(
        isinstance(n, (cst.Continue, cst.Break)) for s in body for n in traverse.walk(s))
    return target.value if simple else None


def _is(node: cst.CSTNode, name: str) -> bool:
    return isinstance(node, cst.Name) and node.value == name


def _keys_of(node: cst.CSTNode, name: str) -> bool:
    """`d`, `d.keys()`, `set(d)`, `set(d.keys())`: the keys of `d`."""
    if _is(node, name):
        return True
    if not isinstance(node, cst.Call):
        return False
    f = node.func
    if isinstance(f, cst.Attribute) and f.attr.value == "keys" and not node.args:
        return _is(f.value, name)
    return isinstance(f, cst.Name) and f.value in ("set", "frozenset", "list") and len(node.args) == 1 \
        and _keys_of(node.args[0].value, name)


def _has_literal_key(test: cst.BaseExpression, name: str, op: type,
                     keys: set[str] | frozenset[str] = frozenset()) -> bool:
    """`"fc.weight" in d` (op In) or `"fc.weight" not in d` (NotIn), alone or joined by `and`."""
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
        return _has_literal_key(test.left, name, op, keys) or _has_literal_key(test.right, name, op, keys)
    return isinstance(test, cst.Comparison) and len(test.comparisons) == 1 and _literal(test.left, keys) \
        and isinstance(test.comparisons[0].operator, op) and _keys_of(test.comparisons[0].comparator, name)


def _raises_unless_key(node: cst.If, name: str) -> bool:
    """`if "fc.weight" not in d: raise KeyError(...)`"""
    test = node.test
    missing = _has_literal_key(test, name, cst.NotIn) or (
        isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not)
        and _has_literal_key(test.expression, name, cst.In))
    return missing and any(isinstance(s, cst.Raise) or (
        isinstance(s, cst.SimpleStatementLine) and any(isinstance(x, cst.Raise) for x in s.body))
        for s in node.body.body)


class _KeyRead(cst.CSTVisitor):
    """A literal key read from `name` that runs whenever the statement does (not in a lambda, a
    comprehension, the branches of `a if c else b` or the right of `and`/`or`)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.found = False
        self._stores: set[int] = set()
        self._keys: set[str] = set()  # names of loops over string literals

    def _store(self, target: cst.BaseExpression) -> None:
        # `d["fc.weight"] = w` (or `d["fc.weight"], n = w, 1`) adds a key, it reads none
        self._stores.add(id(target))
        if isinstance(target, (cst.Tuple, cst.List)):
            for e in target.elements:
                self._store(e.value)
        elif isinstance(target, cst.StarredElement):
            self._store(target.value)

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._store(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._store(node.target)

    def visit_Subscript(self, node: cst.Subscript) -> None:
        if id(node) not in self._stores and _is(node.value, self.name) and len(node.slice) == 1 \
                and isinstance(node.slice[0].slice, cst.Index) and _literal(node.slice[0].slice.value, self._keys):
            self.found = True

    def visit_Call(self, node: cst.Call) -> None:
        f = node.func
        if isinstance(f, cst.Attribute) and f.attr.value == "pop" and _is(f.value, self.name) \
                and len(node.args) == 1 and node.args[0].keyword is None and not node.args[0].star \
                and _literal(node.args[0].value, self._keys):
            self.found = True  # no default: KeyError when the key is absent

    def visit_Assert(self, node: cst.Assert) -> None:
        if _has_literal_key(node.test, self.name, cst.In, self._keys):
            self.found = True

    def visit_If(self, node: cst.If) -> bool:
        if _raises_unless_key(node, self.name):
            self.found = True
        traverse.visit(node.test, self)
        return False  # its branches may not run

    def visit_IfExp(self, node: cst.IfExp) -> bool:
        traverse.visit(node.test, self)
        return False

    def visit_BooleanOperation(self, node: cst.BooleanOperation) -> bool:
        traverse.visit(node.left, self)
        return False

    def visit_For(self, node: cst.For) -> bool:
        traverse.visit(node.iter, self)
        keys = _spelled_keys(node)
        if keys is not None:  # `for k in ("fc.weight", "fc.bias"): del d[k]`: runs once per key at least
            self._keys.add(keys)
            for stmt in node.body.body:
                traverse.visit(stmt, self)
            self._keys.discard(keys)
        return False  # otherwise the body may run no time

    def visit_While(self, node: cst.While) -> bool:
        traverse.visit(node.test, self)
        return False

    def visit_With(self, node: cst.With) -> bool:
        for item in node.items:  # the body may sit under `suppress(KeyError)`
            traverse.visit(item.item, self)
        return False

    def visit_Try(self, node: cst.Try) -> bool:
        return False  # a handler may swallow the KeyError

    def visit_TryStar(self, node: cst.TryStar) -> bool:
        return False

    def visit_Match(self, node: cst.Match) -> bool:
        traverse.visit(node.subject, self)
        return False

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, (*_SCOPES, *_COMPS)):
            return False
        return super().on_visit(node)


def _path(root: cst.CSTNode, target: cst.CSTNode) -> list[cst.CSTNode] | None:
    """root, ..., target: the nodes that hold `target`."""
    if root is target:
        return [root]
    for child in traverse.children(root):
        found = _path(child, target)
        if found is not None:
            return [root, *found]
    return None


def _headers(node: cst.CSTNode) -> list[cst.CSTNode]:
    """What a compound statement evaluates before its body runs."""
    if isinstance(node, (cst.If, cst.While)):
        return [node.test]
    if isinstance(node, cst.For):
        return [node.iter]
    if isinstance(node, cst.With):
        return [item.item for item in node.items]
    if isinstance(node, cst.Match):
        return [node.subject]
    return []


def _run_before(path: list[cst.CSTNode]) -> list[cst.CSTNode]:
    """The statements (or headers) that run on every path to the last node of `path`, before it,
    in its function."""
    before: list[cst.CSTNode] = []
    for parent, child in pairwise(path):
        if isinstance(parent, _SCOPES):
            before = []  # runs when called, not after what precedes the def
        body = getattr(parent, "body", None)
        if isinstance(body, (tuple, list)) and any(s is child for s in body):
            before.extend(s for s in body[:next(i for i, s in enumerate(body) if s is child)])
        elif isinstance(parent, (cst.If, cst.While, cst.For, cst.With, cst.Match)) \
                and not isinstance(child, cst.WithItem) and not any(h is child for h in _headers(parent)):
            before.extend(_headers(parent))  # the load sits in its body, not its header
    return before


def read_before(name: str, use: cst.CSTNode, body: cst.CSTNode, since: cst.CSTNode | None = None) -> bool:
    """Before `use`, on every path to it within `body` (and after the statement that holds `since`,
    the dict's binding, when that is one of them), a statement raises unless `name` (a key-filtered
    dict) holds a literal key: an empty filter stops there."""
    path = _path(body, use)
    if path is None:
        return False
    before = _run_before(path)
    bound = next((i for i, node in enumerate(before) if since is not None and _path(node, since)), None)
    reads = _KeyRead(name)
    for node in before[bound + 1 if bound is not None else 0:]:
        traverse.visit(node, reads)
        if reads.found:
            return True
    return False


def _lacks(node: cst.CSTNode, name: str) -> bool:
    """`set(model_dict) - set(d)`, `model_dict.keys() - d.keys()`, `k not in d`: the keys `d` lacks,
    every key of the model when `d` is empty (`set(d) - ...` and `k in d` come out empty instead;
    `"fc.weight" not in d` is one key, see _MissingReported.visit_If)."""
    for n in traverse.walk(node):
        if isinstance(n, cst.BinaryOperation) and isinstance(n.operator, cst.Subtract) and _keys_of(n.right, name):
            return True
        if isinstance(n, cst.Comparison) and not _literal(n.left) and any(
                isinstance(c.operator, cst.NotIn) and _keys_of(c.comparator, name) for c in n.comparisons):
            return True
    return False


def _shown(arg: cst.BaseExpression, name: str) -> bool:
    """`print(list(d))`, `logger.info(f"kept {d.keys()}")`: the kept keys themselves, `[]` when none
    (a loop that prints each kept key prints nothing instead)."""
    if isinstance(arg, cst.FormattedString):
        return any(isinstance(p, cst.FormattedStringExpression) and _keys_of(p.expression, name) for p in arg.parts)
    return _keys_of(arg, name)


def _reports(node: cst.CSTNode) -> bool:
    return any(isinstance(n, (cst.Raise, cst.Assert)) or (isinstance(n, cst.Call) and _called(n) in REPORTS)
               for n in traverse.walk(node))


def _called(call: cst.Call) -> str:
    f = call.func
    return f.attr.value if isinstance(f, cst.Attribute) else f.value if isinstance(f, cst.Name) else ""


class _MissingReported(cst.CSTVisitor):
    def __init__(self, name: str) -> None:
        self.name = name
        self.lacking: set[str] = set()  # names bound to the keys `name` lacks
        self.found = False

    def _lacks(self, node: cst.CSTNode) -> bool:
        return _lacks(node, self.name) or any(isinstance(n, cst.Name) and n.value in self.lacking
                                              for n in traverse.walk(node))

    def visit_Assign(self, node: cst.Assign) -> None:
        if _lacks(node.value, self.name):
            self.lacking.update(t.target.value for t in node.targets if isinstance(t.target, cst.Name))

    def visit_Call(self, node: cst.Call) -> None:
        if _called(node) in REPORTS and any(self._lacks(a.value) or _shown(a.value, self.name) for a in node.args):
            self.found = True

    def visit_Raise(self, node: cst.Raise) -> None:
        if node.exc is not None and self._lacks(node.exc):
            self.found = True

    def visit_Assert(self, node: cst.Assert) -> None:
        if self._lacks(node.test):
            self.found = True

    def visit_If(self, node: cst.If) -> None:
        # `if missing: logger.warning("some keys were not loaded")`, `if "conv1.weight" not in d: print(...)`
        if (self._lacks(node.test) or _has_literal_key(node.test, self.name, cst.NotIn)) and _reports(node.body):
            self.found = True


def missing_reported(name: str, body: cst.CSTNode) -> bool:
    """In `body`, the keys of the model that `name` lacks are logged, raised, asserted on or tested
    before a report: an empty `name` shows as every key missing."""
    v = _MissingReported(name)
    traverse.visit(body, v)
    return v.found


# Calls that read a scope's names without naming them: the namespace handed out whole. Code run
# from a string (`eval`, `exec`) reads one where the string's literal text names it:
# `eval(opt.ratios)` turns a config string into a list and reads no local around it.
_NAMESPACE_READS = frozenset({"locals", "vars", "globals"})
_CODE_RUNNERS = frozenset({"eval", "exec"})


def _stored_names(target: cst.BaseExpression) -> list[str] | None:
    """The names an assignment target binds (`msg`, `missing, unexpected`, `*rest`); None where it
    stores into an object (`self.msg`, `d["msg"]`), which keeps the result."""
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, cst.StarredElement):
        return _stored_names(target.value)
    if isinstance(target, (cst.Tuple, cst.List)):
        out: list[str] = []
        for e in target.elements:
            got = _stored_names(e.value)
            if got is None:
                return None
            out.extend(got)
        return out
    return None


class _Reads(cst.CSTVisitor):
    """Every occurrence of the names but where one is only bound (an assignment's, a loop's or a
    `with`'s target, a parameter, a def's name) or is not a variable at all (`x.msg`, `f(msg=1)`).
    `del msg`, `global msg` and a read in a nested function count: they all mean the name matters."""

    def __init__(self, names: set[str]) -> None:
        self.names = names
        self.stores: set[int] = set()
        self.read = False

    def _store(self, target: cst.CSTNode | None) -> None:
        if isinstance(target, cst.Name):
            self.stores.add(id(target))
        elif isinstance(target, cst.StarredElement):
            self._store(target.value)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for e in target.elements:
                self._store(e.value)

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._store(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._store(node.target)

    def visit_For(self, node: cst.For) -> None:
        self._store(node.target)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._store(node.target)

    def visit_AsName(self, node: cst.AsName) -> None:
        self._store(node.name)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._store(node.target)

    def visit_Param(self, node: cst.Param) -> None:
        self.stores.add(id(node.name))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.stores.add(id(node.name))

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.stores.add(id(node.name))

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self.stores.add(id(node.attr))

    def visit_Arg(self, node: cst.Arg) -> None:
        if node.keyword is not None:
            self.stores.add(id(node.keyword))

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Name) and node.func.value in _NAMESPACE_READS:
            self.read = True
        elif isinstance(node.func, cst.Name) and node.func.value in _CODE_RUNNERS and node.args:
            texts = [t.value for t in traverse.walk(node.args[0]) if isinstance(t, (cst.SimpleString,
                                                                                   cst.FormattedStringText))]
            if any(re.search(rf"\b{re.escape(n)}\b", t) for t in texts for n in self.names):
                self.read = True

    def visit_Name(self, node: cst.Name) -> None:
        if node.value in self.names and id(node) not in self.stores:
            self.read = True


def results(expr: cst.BaseExpression) -> Iterable[cst.BaseExpression]:
    """The expressions whose value `expr` may be: itself, or the arms of a conditional expression and
    the operands of `and` / `or` (`model.load_state_dict(sd, strict=False) if sd else None` drops
    the load's result as a bare load does)."""
    if isinstance(expr, cst.IfExp):
        yield from results(expr.body)
        yield from results(expr.orelse)
    elif isinstance(expr, cst.BooleanOperation):
        yield from results(expr.left)
        yield from results(expr.right)
    else:
        yield expr


def unread_result(call: cst.Call, stmt: cst.CSTNode | None, body: cst.CSTNode) -> list[str]:
    """`msg = model.load_state_dict(...)` (or `missing, unexpected = ...`, `_ = ...`) in the
    statement `stmt` of `body` (a function, or the module), where `body` never reads any name the
    result went to: the names, as dropped as a bare statement's result; else []."""
    if not isinstance(stmt, cst.SimpleStatementLine):
        return []
    assign = next((s for s in stmt.body if isinstance(s, (cst.Assign, cst.AnnAssign)) and s.value is not None
                   and any(r is call for r in results(s.value))), None)
    if assign is None:
        return []
    targets = [t.target for t in assign.targets] if isinstance(assign, cst.Assign) else [assign.target]
    names: list[str] = []
    for target in targets:
        got = _stored_names(target)
        if got is None:
            return []
        names.extend(n for n in got if n not in names)
    reads = _Reads(set(names))
    traverse.visit(body, reads)
    return names if not reads.read or rebound_before_read(names, stmt, body) is not None else []


# Blocks whose end leads on to the statement after them (a loop's leads back to its head, a try's
# may lead to a handler that reads the name)
_CLIMBED = (cst.If, cst.Else, cst.With)
_JUMPS = (cst.Break, cst.Continue)


def rebound_before_read(names: list[str], stmt: cst.CSTNode, body: cst.CSTNode) -> cst.SimpleStatementLine | None:
    """The statement that binds every one of `names` again before anything reads them, on the one
    path on from `stmt` (`msg = model.load_state_dict(...); msg = f"loaded {path}"; print(msg)`:
    the print shows the second value). Read down the statements after `stmt` in its block, and on
    after an `if` or `with` that holds it; a read, a `break`/`continue` that may skip the binding,
    or the end of a loop, try or function body ends the search (None)."""
    chain = _chain(body, stmt)
    if chain is None or any(isinstance(owner, (cst.Try, cst.TryStar)) for owner, _, _ in chain):
        return None
    left = set(names)
    for owner, stmts, at in chain:
        for later in stmts[at + 1:]:
            reads = _Reads(left)
            traverse.visit(later, reads)
            if reads.read or _has_jump(later):
                return None
            if isinstance(later, cst.SimpleStatementLine):
                for small in later.body:
                    if isinstance(small, (cst.Return, cst.Raise)):
                        return None
                    targets = small.targets if isinstance(small, cst.Assign) else \
                        [small] if isinstance(small, cst.AnnAssign) and small.value is not None else []
                    for t in targets:
                        left -= set(_stored_names(t.target) or ())
                if not left:
                    return later
        if not isinstance(owner, _CLIMBED):
            return None
    return None


def _has_jump(node: cst.CSTNode) -> bool:
    found = []

    class _V(cst.CSTVisitor):
        def on_visit(self, n: cst.CSTNode) -> bool:
            if isinstance(n, _JUMPS):
                found.append(n)
            return not found and not isinstance(n, (cst.FunctionDef, cst.ClassDef, cst.Lambda))

    traverse.visit(node, _V())
    return bool(found)


def _suites(node: cst.CSTNode) -> Iterable[tuple[cst.CSTNode, Sequence[cst.BaseStatement]]]:
    """The statement lists directly inside a compound statement, each with the node that holds it
    (an `elif` is an If of its own, an `else` an Else)."""
    for child in node.children:
        if isinstance(child, cst.IndentedBlock):
            yield node, child.body
        elif isinstance(child, (cst.If, cst.Else, cst.ExceptHandler, cst.ExceptStarHandler, cst.Finally)):
            yield from _suites(child)


def _chain(body: cst.CSTNode, stmt: cst.CSTNode) -> list[tuple[cst.CSTNode, Sequence[cst.BaseStatement], int]] | None:
    """Where `stmt` sits in `body` (a function or the module): (the node holding the block, the
    block's statements, its index there), innermost first, up to `body`'s own block."""
    top = body.body if isinstance(body, cst.Module) else body.body.body if isinstance(body, cst.FunctionDef) else None
    return None if top is None else _find(body, top, stmt)


def _find(owner: cst.CSTNode, stmts: Sequence[cst.BaseStatement], stmt: cst.CSTNode) -> list | None:
    for i, s in enumerate(stmts):
        if s is stmt:
            return [(owner, stmts, i)]
        if isinstance(s, cst.BaseCompoundStatement) and not isinstance(s, (cst.FunctionDef, cst.ClassDef)):
            for inner, sub in _suites(s):
                found = _find(inner, sub, stmt)
                if found is not None:
                    return [*found, (owner, stmts, i)]
    return None


def names_read(names: set[str], body: cst.CSTNode, besides: Iterable[cst.CSTNode] = ()) -> bool:
    """Whether `body` reads one of `names` anywhere but at the nodes `besides` (as unread_result
    counts reads: `del`, a nested function's read and `locals()` count)."""
    reads = _Reads(names)
    reads.stores.update(id(n) for n in besides)
    traverse.visit(body, reads)
    return reads.read
