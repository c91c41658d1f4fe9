"""FZ109 freeze-loop-variable-stale: `for layer in layers: param.requires_grad = True` sets an earlier loop's `param`."""

from __future__ import annotations

from typing import Iterable, Sequence

import libcst as cst

from freezelint.check import traverse
from freezelint.check.facts import Facts
from freezelint.check.rules.base import Example, Finding, Rule, src

_COMPOUND = (cst.If, cst.Else, cst.With, cst.Try, cst.TryStar, cst.ExceptHandler, cst.ExceptStarHandler,
             cst.Finally, cst.IndentedBlock)


class FreezeLoopVariableStale(Rule):
    code = "FZ109"
    words = ("requires_grad",)
    # a requires_grad store or requires_grad_() call (not `nn.Parameter(..., requires_grad=False)`,
    # common in model code), in a file with a loop
    triggers = (r"\.requires_grad(?:_\(|[ \t]*=[^=])",)
    requires = (r"for[ \t]",)
    what = ("Finds a loop that sets `requires_grad` on the variable of an EARLIER loop and never uses its own: "
            "`for layer in model.layers[-2:]: param.requires_grad = True`.")
    why = (
        "After a loop ends, its variable keeps the last item it took. A second loop that forgets to "
        "iterate the parameters of what it walks (`for layer in ...:` with `param.requires_grad = True` "
        "and no `for param in layer.parameters()`) sets that one stale parameter, again and again. "
        "Python raises nothing: the layers it was meant to unfreeze (or freeze) stay as they were, and "
        "the one stale parameter changes instead."
    )
    notes = (
        "Reported when the loop's own variable appears nowhere in its body and the name whose "
        "`requires_grad` is set (or `requires_grad_()` called) was last bound as the variable of an "
        "earlier loop of the same function. No fix: what to iterate is the author's to say "
        "(`for p in layer.parameters():`)."
    )
    bad = [
        Example(
            """
            from transformers import DistilBertConfig, DistilBertForSequenceClassification

            model = DistilBertForSequenceClassification(DistilBertConfig())
            for param in model.distilbert.parameters():
                param.requires_grad = False
            for layer in model.distilbert.transformer.layer[-1:]:
                param.requires_grad = True  # expect: FZ109
            """,
            instead="""
            from transformers import DistilBertConfig, DistilBertForSequenceClassification

            model = DistilBertForSequenceClassification(DistilBertConfig())
            for param in model.distilbert.parameters():
                param.requires_grad = False
            for layer in model.distilbert.transformer.layer[-1:]:
                for param in layer.parameters():
                    param.requires_grad = True
            """,
        ),
        Example(
            """
            def unfreeze_top(model, n):
                for p in model.parameters():
                    p.requires_grad_(False)
                for block in model.blocks[-n:]:
                    if n > 0:
                        p.requires_grad_(True)  # expect: FZ109
            """,
        ),
    ]
    good = [
        """
        for param in model.parameters():
            param.requires_grad = False
        for layer in model.layers[-2:]:
            for param in layer.parameters():
                param.requires_grad = True
        """,
        """
        for param in model.parameters():
            param.requires_grad = False
        param = model.head.weight
        for _ in range(2):
            param.requires_grad = True  # bound anew since the loop: not its variable
        """,
        """
        for name, param in model.named_parameters():
            param.requires_grad = "head" in name
        for epoch in range(10):
            if epoch == 5:
                model.requires_grad_(True)  # the whole model, not a loop variable
            train_one_epoch(model, epoch)
        """,
    ]

    def check(self, facts: Facts, module) -> Iterable[Finding]:
        found: list[tuple[cst.CSTNode, cst.CSTNode, str, str]] = []
        _scan(module.body, {}, found, None)
        for node, stmt, name, loop_var in found:
            yield self.finding(
                node,
                f"`{name}` is the variable of an earlier loop, and this loop never uses its own `{loop_var}`: it "
                f"sets the requires_grad of that loop's last item, again and again, and what `{loop_var}` walks "
                f"is never changed; iterate its parameters (`for p in {loop_var}.parameters(): ...`)",
                stmt=stmt,
            )


def _names(target: cst.BaseExpression) -> list[str]:
    return [n.value for n in traverse.walk(target) if isinstance(n, cst.Name)]


def _scan(body: Sequence[cst.CSTNode], last: dict[str, cst.For | None], out: list, stmt_of: cst.CSTNode | None) -> None:
    """Statements in order; `last`: name -> the For loop whose variable it last was (None: bound otherwise)."""
    for stmt in body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                targets = (list(small.targets) if isinstance(small, cst.Assign)
                           else [cst.AssignTarget(small.target)] if isinstance(small, (cst.AnnAssign, cst.AugAssign))
                           else [])
                for t in targets:
                    if not isinstance(t.target, (cst.Attribute, cst.Subscript)):
                        for name in _names(t.target):
                            last[name] = None
                if isinstance(small, (cst.Import, cst.ImportFrom)) and not isinstance(small.names, cst.ImportStar):
                    for alias in small.names:
                        last[src(alias.asname.name if alias.asname else alias.name).split(".")[0]] = None
        elif isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            last[stmt.name.value] = None
            inner: dict[str, cst.For | None] = {}
            _scan(stmt.body.body, inner, out, None)
        elif isinstance(stmt, cst.For):
            _check(stmt, last, out)
            for name in _names(stmt.target):
                last[name] = stmt
            _scan(stmt.body.body, last, out, None)
            if stmt.orelse is not None:
                _scan(stmt.orelse.body.body, last, out, None)
        elif isinstance(stmt, cst.While):
            _scan(stmt.body.body, last, out, None)
        elif isinstance(stmt, cst.With):
            for item in stmt.items:
                if item.asname is not None:
                    for name in _names(item.asname.name):
                        last[name] = None
            _scan(stmt.body.body, last, out, None)
        elif isinstance(stmt, _COMPOUND):
            for child in traverse.children(stmt):
                if isinstance(child, cst.BaseSuite):
                    _scan(child.body, last, out, None)
                elif isinstance(child, _COMPOUND):
                    _scan([child], last, out, None)


def _check(loop: cst.For, last: dict[str, cst.For | None], out: list) -> None:
    own = set(_names(loop.target))
    if any(isinstance(n, cst.Name) and n.value in own for n in traverse.walk(loop.body)):
        return  # the loop uses its variable
    for stmt, small in _direct(loop.body.body):
        node, name = _requires_grad_target(small)
        if name is not None and name not in own and isinstance(last.get(name), cst.For) and last[name] is not loop:
            out.append((node, stmt, name, src(loop.target)))


def _direct(body: Sequence[cst.CSTNode]):
    """(line, small statement) of a body, through if/with/try blocks, not into loops or defs."""
    for stmt in body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                yield stmt, small
        elif isinstance(stmt, (cst.If, cst.With, cst.Try, cst.TryStar)):
            stack = [stmt]
            while stack:
                node = stack.pop()
                for child in traverse.children(node):
                    if isinstance(child, cst.BaseSuite):
                        yield from _direct(child.body)
                    elif isinstance(child, (cst.If, cst.Else, cst.ExceptHandler, cst.ExceptStarHandler, cst.Finally)):
                        stack.append(child)


def _requires_grad_target(small: cst.CSTNode) -> tuple[cst.CSTNode | None, str | None]:
    """`N.requires_grad = v` or `N.requires_grad_(...)` on a plain name N."""
    if isinstance(small, cst.Assign):
        for t in small.targets:
            if isinstance(t.target, cst.Attribute) and t.target.attr.value == "requires_grad" \
                    and isinstance(t.target.value, cst.Name):
                return t.target, t.target.value.value
    if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
        f = small.value.func
        if isinstance(f, cst.Attribute) and f.attr.value == "requires_grad_" and isinstance(f.value, cst.Name):
            return f, f.value.value
    return None, None
