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
    words = ("requires_grad", "modules(", "children(", "parameters(")
    # a requires_grad store or requires_grad_() call (not `nn.Parameter(..., requires_grad=False)`,
    # common in model code), or a loop over a module's submodules or parameters followed by a
    # statistics freeze (a weight-init loop over modules(), in most model files, is no candidate)
    triggers = (r"\.requires_grad(?:_\(|[ \t]*=[^=])",
                r"for[ \t][^\n]*\bin[ \t]+[\w.]+\.(?:named_)?(?:modules|children|parameters)\("
                r"(?=[\s\S]*?(?:\.(?:track_running_stats|momentum)[ \t]*=[^=]|\.eval\(\)|\.train\([ \t]*False))")
    requires = (r"for[ \t]",)
    what = ("Finds a loop that sets `requires_grad` on the variable of an EARLIER loop and never uses its own: "
            "`for layer in model.layers[-2:]: param.requires_grad = True`; and a loop over a module's "
            "submodules or parameters that freezes that module instead of its own variable: "
            "`for m in module.modules(): if isinstance(m, nn.BatchNorm2d): module.track_running_stats = False`.")
    why = (
        "After a loop ends, its variable keeps the last item it took. A second loop that forgets to "
        "iterate the parameters of what it walks (`for layer in ...:` with `param.requires_grad = True` "
        "and no `for param in layer.parameters()`) sets that one stale parameter, again and again. "
        "Python raises nothing: the layers it was meant to unfreeze (or freeze) stay as they were, and "
        "the one stale parameter changes instead. In the same way, a loop that picks BatchNorm layers out "
        "of `module.modules()` and then sets `module.track_running_stats` (or `module.momentum`, or "
        "`module.weight.requires_grad`) sets it on the container, where nothing reads it: the layers it "
        "picked keep updating their statistics. `module.eval()` there puts all of `module` in eval mode "
        "(dropout too), and a later `module.train()` undoes it."
    )
    notes = (
        "Reported when the loop's own variable appears nowhere in its body and the name whose "
        "`requires_grad` is set (or `requires_grad_()` called) was last bound as the variable of an "
        "earlier loop of the same function. No fix: what to iterate is the author's to say "
        "(`for p in layer.parameters():`). Also reported: in a loop `for m in X.modules()` (or "
        "`children()`, `named_modules()`, `named_children()`, `parameters()`, `named_parameters()`), a "
        "statement that does not use the loop's variable and sets `track_running_stats`, `momentum` or "
        "`requires_grad` on `X` (or on `X.weight` / `X.bias`), or calls `X.eval()`, `X.train(False)` or "
        "`X.requires_grad_(...)`. Not where the loop body has a `break` or `return`, or sets a flag "
        "(`found = True`): the owner is acted on once, on purpose. No fix: the author says which it is."
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
        Example(
            """
            import torch.nn as nn

            def freeze_model(module, freeze_bn=True):
                for param in module.parameters():
                    param.requires_grad = False
                for m in module.modules():
                    if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.SyncBatchNorm)):
                        module.track_running_stats = not freeze_bn  # expect: FZ109
                return module

            def freeze_bn(model):
                for m in model.modules():
                    if isinstance(m, nn.BatchNorm2d):
                        model.eval()  # expect: FZ109
                        model.weight.requires_grad = False  # expect: FZ109
            """,
            instead="""
            import torch.nn as nn

            def freeze_model(module, freeze_bn=True):
                for param in module.parameters():
                    param.requires_grad = False
                for m in module.modules():
                    if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.SyncBatchNorm)):
                        m.track_running_stats = not freeze_bn
                return module
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
        """
        import torch.nn as nn

        def freeze_bn(module):
            for m in module.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()  # the loop's own variable
                    m.weight.requires_grad = False

        def eval_if_has_bn(model):
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    model.eval()  # once, on purpose: the loop stops here
                    break

        def freeze_if_has_bn(model):
            has_bn = False
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    has_bn = True  # a flag: the owner is what is meant
                    model.eval()
            return has_bn
        """,
    ]

    def check(self, facts: Facts, module) -> Iterable[Finding]:
        found: list[tuple[cst.CSTNode, cst.CSTNode, str]] = []
        _scan(module.body, {}, found, None)
        for node, stmt, message in found:
            yield self.finding(node, message, stmt=stmt)


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
            _check_owner(stmt, out)
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
            loop_var = src(loop.target)
            out.append((node, stmt,
                        f"`{name}` is the variable of an earlier loop, and this loop never uses its own `{loop_var}`: "
                        f"it sets the requires_grad of that loop's last item, again and again, and what `{loop_var}` "
                        f"walks is never changed; iterate its parameters (`for p in {loop_var}.parameters(): ...`)"))


# `for m in X.modules():` and the like: what the loop walks belongs to X
_WALKS = frozenset({"modules", "children", "named_modules", "named_children", "parameters", "named_parameters"})
# attributes that freeze a module (or a parameter) when set on it
_FREEZE_ATTRS = frozenset({"track_running_stats", "momentum", "requires_grad"})


def _check_owner(loop: cst.For, out: list) -> None:
    """`for m in X.modules(): if isinstance(m, BN): X.track_running_stats = False`: a statement of the
    body that acts on X, the owner of what the loop walks, instead of the loop's variable."""
    it = loop.iter
    if not (isinstance(it, cst.Call) and isinstance(it.func, cst.Attribute) and it.func.attr.value in _WALKS):
        return
    owner = src(it.func.value)
    own = set(_names(loop.target))
    if not own or _acts_once(loop.body.body):
        return
    own_var = src(loop.target)
    if isinstance(loop.target, cst.Tuple) and len(loop.target.elements) == 2:
        own_var = src(loop.target.elements[1].value)  # `for name, m in X.named_modules()`
    walk = it.func.attr.value
    for stmt, small in _direct(loop.body.body):
        if any(isinstance(n, cst.Name) and n.value in own for n in traverse.walk(small)):
            continue  # the statement uses the loop's variable
        node = _owner_freeze(small, owner)
        if node is None:
            continue
        fixed = _on(node, owner, own_var)
        if isinstance(node, cst.Attribute):
            what = (f"this sets `{node.attr.value}` on `{src(node.value)}`, not on the loop's `{own_var}`: the loop walks "
                    f"`{owner}.{walk}()`, and the items it picks are left as they were; "
                    f"set `{fixed}`")
        else:
            effect = "puts all of `%s` in eval mode (dropout too)" % owner if node.func.attr.value in ("eval", "train") \
                else f"changes every parameter of `{src(node.func.value)}`"
            what = (f"`{src(node)}` {effect}, once per item, not only the loop's `{own_var}`: the loop walks "
                    f"`{owner}.{walk}()`; call `{fixed}`")
        out.append((node, stmt, what))


def _owner_freeze(small: cst.CSTNode, owner: str) -> cst.Attribute | cst.Call | None:
    """`owner.track_running_stats = v` (or momentum, requires_grad; also on `owner.weight` / `owner.bias`):
    the target; `owner.eval()`, `owner.train(False)`, `owner.requires_grad_(...)`: the call."""
    if isinstance(small, cst.Assign):
        for t in small.targets:
            target = t.target
            if isinstance(target, cst.Attribute) and target.attr.value in _FREEZE_ATTRS \
                    and _on_owner(target.value, owner, target.attr.value == "requires_grad"):
                return target
    if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call) \
            and isinstance(small.value.func, cst.Attribute):
        call, name = small.value, small.value.func.attr.value
        if name == "requires_grad_" and _on_owner(call.func.value, owner, True):
            return call
        if _on_owner(call.func.value, owner, False) and (name == "eval" and not call.args or name == "train" and (
                len(call.args) == 1 and isinstance(call.args[0].value, cst.Name)
                and call.args[0].value.value == "False")):
            return call
    return None


def _on_owner(expr: cst.BaseExpression, owner: str, parameter: bool) -> bool:
    """Whether expr is the owner itself, or (for requires_grad) its `.weight` / `.bias`."""
    if src(expr) == owner:
        return True
    return parameter and isinstance(expr, cst.Attribute) and expr.attr.value in ("weight", "bias") \
        and src(expr.value) == owner


def _on(node: cst.CSTNode, owner: str, var: str) -> str:
    """The node's text with the owner replaced by the loop's variable (`m.track_running_stats`)."""
    text = src(node)
    return var + text[len(owner):] if text.startswith(owner) else text


def _acts_once(body: Sequence[cst.CSTNode]) -> bool:
    """A body that stops the loop (`break`, `return`) or sets a flag (`found = True`), outside
    nested loops and defs: the owner is acted on once, on purpose."""
    for stmt, small in _direct(body):
        if isinstance(small, (cst.Break, cst.Return)):
            return True
        if isinstance(small, cst.Assign) and all(isinstance(t.target, cst.Name) for t in small.targets) \
                and isinstance(small.value, cst.Name) and small.value.value in ("True", "False"):
            return True
    return False


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
