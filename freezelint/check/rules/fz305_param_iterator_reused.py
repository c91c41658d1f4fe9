"""FZ305 param-iterator-reused: a one-shot iterator of parameters consumed twice."""

from __future__ import annotations

import re
from typing import Iterable

import libcst as cst

from freezelint.check import traverse
from freezelint.check.facts import Facts
from freezelint.check.frameworks import MLX_ROOTS, foreign_scope
from freezelint.check.rules.base import Example, Finding, Fix, Rule

_ITERATOR_METHODS = frozenset({"parameters", "named_parameters", "buffers", "named_buffers"})


def _param_source(expr: cst.BaseExpression | None) -> bool:
    return isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and \
        expr.func.attr.value in _ITERATOR_METHODS


def _one_shot(value: cst.BaseExpression, facts: Facts, scope) -> bool:
    """A one-shot iterator of parameters: `.parameters()`, a generator, `filter` or `iter` over one."""
    if isinstance(value, cst.GeneratorExp):
        return _param_source(value.for_in.iter)
    if _param_source(value):
        return True
    if isinstance(value, cst.Call) and facts.qualname(value.func, scope) == "filter" and len(value.args) == 2:
        return _param_source(value.args[1].value)
    return _iter_of(value, facts, scope) is not None


def _iter_of(value: cst.BaseExpression, facts: Facts, scope) -> cst.BaseExpression | None:
    """X in `iter(X)` where X is a `.parameters()` call: the builtin, with one argument."""
    if isinstance(value, cst.Call) and facts.qualname(value.func, scope) == "iter" and len(value.args) == 1 and \
            value.args[0].keyword is None and value.args[0].star == "" and _param_source(value.args[0].value):
        return value.args[0].value
    return None


class _Uses(cst.CSTVisitor):
    """Loads of a name in one body (not nested functions), with loop and branch context."""

    def __init__(self, name: str, value: cst.BaseExpression) -> None:
        self.name = name
        self.value = value
        self.bind_loops: tuple[int, ...] = ()
        self.uses: list[tuple[cst.Name, tuple[int, ...], tuple[tuple[int, int], ...]]] = []
        self.partial = False
        self._loops: list[int] = []
        self._branches: list[tuple[int, int]] = []
        self._blocks: list[int] = []  # len(_branches) where each enclosing block began
        self._targets: set[int] = set()
        self.steps: dict[int, cst.BaseExpression] = {}  # id(use) -> X in `X.step(use)`

    def visit_FunctionDef(self, node) -> bool:
        return False

    def visit_Lambda(self, node) -> bool:
        return False

    def visit_ClassDef(self, node) -> bool:
        return False

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._targets.add(id(node.target))

    def visit_Arg(self, node: cst.Arg) -> None:
        if node.keyword is not None:  # `AdamW(params=params)`: the keyword's name is not a use
            self._targets.add(id(node.keyword))

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self._targets.add(id(node.attr))  # `self.params` is another variable

    def visit_Assign(self, node: cst.Assign) -> None:
        if node.value is self.value:
            self.bind_loops = tuple(self._loops)

    def _loop(self, node, first, rest) -> bool:
        traverse.visit(first, self)
        self._loops.append(id(node))
        for part in rest:
            if part is not None:
                traverse.visit(part, self)
        self._loops.pop()
        return False

    def visit_For(self, node: cst.For) -> bool:
        self._targets.add(id(node.target))
        traverse.visit(node.target, self)
        return self._loop(node, node.iter, [node.body, node.orelse])

    def visit_While(self, node: cst.While) -> bool:
        return self._loop(node, node.test, [node.body, node.orelse])

    def visit_If(self, node: cst.If) -> bool:
        traverse.visit(node.test, self)
        self._branches.append((id(node), 0))
        traverse.visit(node.body, self)
        self._branches[-1] = (id(node), 1)
        if node.orelse is not None:
            traverse.visit(node.orelse, self)
        self._branches.pop()
        if _ends(node.body):
            # `if sam: return SAM(params)`: the rest of the block runs only where the if did not
            # take that arm, as an `else` would (dropped where the block ends)
            self._branches.append((id(node), 1))
        return False

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self._blocks.append(len(self._branches))

    def leave_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        del self._branches[self._blocks.pop():]

    def visit_SimpleStatementSuite(self, node: cst.SimpleStatementSuite) -> None:
        self._blocks.append(len(self._branches))

    def leave_SimpleStatementSuite(self, node: cst.SimpleStatementSuite) -> None:
        del self._branches[self._blocks.pop():]

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Attribute) and node.func.attr.value == "step":
            for arg in node.args:
                if isinstance(arg.value, cst.Name) and arg.value.value == self.name:
                    self.steps[id(arg.value)] = node.func.value
        # next(it): consumed bit by bit on purpose; len(x): x is a sequence, not an iterator
        if isinstance(node.func, cst.Name) and node.func.value in ("next", "len") and node.args and \
                isinstance(node.args[0].value, cst.Name) and node.args[0].value.value == self.name:
            self.partial = True

    def visit_Subscript(self, node: cst.Subscript) -> None:
        if isinstance(node.value, cst.Name) and node.value.value == self.name:
            self.partial = True  # indexed: a sequence

    def visit_Name(self, node: cst.Name) -> None:
        if node.value == self.name and id(node) not in self._targets:
            self.uses.append((node, tuple(self._loops), tuple(self._branches)))


def _ends(suite: cst.BaseSuite) -> bool:
    """The block's last statement returns or raises: nothing after its `if` runs from it."""
    body = suite.body
    last = body[-1] if body else None
    if isinstance(last, cst.SimpleStatementLine):
        last = last.body[-1] if last.body else None
    return isinstance(last, (cst.Return, cst.Raise))


def _second_use(uses: _Uses) -> cst.Name | None:
    """The first use that finds the iterator already consumed: one that can follow an earlier
    use (not in another arm of the same if), or any use in a loop the iterator was built outside of."""
    for i, (node, loops, branches) in enumerate(uses.uses):
        if set(loops) - set(uses.bind_loops):
            return node
        if any(not _exclusive(branches, b) for _, _, b in uses.uses[:i]):
            return node
    return None


_EMA_WORD = re.compile(r"(?:^|_)ema(?:_|$)|EMA|Ema|MovingAverage")


def _ema_source(receiver: cst.BaseExpression, facts: Facts, scope) -> tuple[bool, cst.BaseExpression | None]:
    """Whether `receiver` in `receiver.step(it)` is an EMA of weights (by its name or its
    class), and the parameters it was built over where that is a `.parameters()` call."""
    name = receiver.value if isinstance(receiver, cst.Name) else \
        receiver.attr.value if isinstance(receiver, cst.Attribute) else ""
    built = None
    if isinstance(receiver, cst.Name):
        owner = scope.lookup(name)
        bindings = owner.bindings.get(name, []) if owner is not None else []
        if len(bindings) == 1 and bindings[0].how == "expr" and isinstance(bindings[0].node, cst.Call):
            built = bindings[0].node
    cls = facts.qualname(built.func, scope) if built is not None else None
    if not (_EMA_WORD.search(name) or (cls and _EMA_WORD.search(cls.rsplit(".", 1)[-1]))):
        return False, None
    if built is None:
        return True, None
    arg = next((a.value for a in built.args if a.keyword is None or a.keyword.value == "parameters"), None)
    return True, (arg if _param_source(arg) and arg.func.attr.value == "parameters" else None)


def _exclusive(a, b) -> bool:
    arms = dict(a)
    return any(i in arms and arms[i] != arm for i, arm in b)


class ParamIteratorReused(Rule):
    code = "FZ305"
    words = ("parameters(", "filter(", "buffers(")
    # the line may end in a comment: a `$` right after `()` would miss `params = m.parameters()  # all`
    triggers = (r"(?m)^\s*\w+\s*=\s*(?:filter\(|iter\(|\(.*\bfor\b.*\.(?:named_)?(?:parameters|buffers)\(|"
                r"[\w.]+\.(?:named_)?(?:parameters|buffers)\(\)\s*(?:#.*)?$)",)
    what = ("Finds a stored one-shot iterator of parameters (`filter(...)`, a generator, `iter(...)`, `.parameters()`) "
            "used twice.")
    why = (
        "`model.parameters()`, `filter(...)` and generator expressions can be iterated once. The "
        "second use sees nothing, silently: a second optimizer raises `ValueError: optimizer got an "
        "empty parameter list`, but `clip_grad_norm_` returns 0.0 and clips nothing, and "
        "`add_param_group` creates an empty group."
    )
    fix_title = "Materialise it once: `list(...)`"
    bad = [
        Example(
            """
            import torch

            params = filter(lambda p: p.requires_grad, model.parameters())
            optimizer = torch.optim.AdamW(params, lr=1e-4)
            for x, y in loader:
                loss_fn(model(x), y).backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)  # expect: FZ305
                optimizer.step()
            """,
            fixed="""
            import torch

            params = list(filter(lambda p: p.requires_grad, model.parameters()))
            optimizer = torch.optim.AdamW(params, lr=1e-4)
            for x, y in loader:
                loss_fn(model(x), y).backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)  # expect: FZ305
                optimizer.step()
            """,
        ),
        Example(
            """
            import torch

            def build(model):
                params = filter(lambda p: p.requires_grad, model.parameters())
                optimizer = torch.optim.AdamW(params=params, lr=1e-4)
                scheduler_groups = list(params)  # expect: FZ305
                return optimizer, scheduler_groups
            """,
            fixed="""
            import torch

            def build(model):
                params = list(filter(lambda p: p.requires_grad, model.parameters()))
                optimizer = torch.optim.AdamW(params=params, lr=1e-4)
                scheduler_groups = list(params)  # expect: FZ305
                return optimizer, scheduler_groups
            """,
        ),
        Example(
            """
            import torch

            def make_opt(model, lr, frozen_run=False):
                params = filter(lambda p: p.requires_grad, model.parameters())
                if frozen_run:
                    return None
                optimizer = torch.optim.AdamW(params, lr=lr)
                torch.nn.utils.clip_grad_norm_(params, 1.0)  # expect: FZ305
                return optimizer
            """,
            fixed="""
            import torch

            def make_opt(model, lr, frozen_run=False):
                params = list(filter(lambda p: p.requires_grad, model.parameters()))
                if frozen_run:
                    return None
                optimizer = torch.optim.AdamW(params, lr=lr)
                torch.nn.utils.clip_grad_norm_(params, 1.0)  # expect: FZ305
                return optimizer
            """,
        ),
        Example(
            """
            import torch
            from diffusers.training_utils import EMAModel

            ema_unet = EMAModel(unet.parameters(), decay=0.999)
            trainable_params = filter(lambda p: p.requires_grad, unet.parameters())
            optimizer = torch.optim.AdamW(trainable_params, lr=1e-4)
            for batch in loader:
                loss_fn(unet(batch)).backward()
                optimizer.step()
                ema_unet.step(trainable_params)  # expect: FZ305
            """,
            fixed="""
            import torch
            from diffusers.training_utils import EMAModel

            ema_unet = EMAModel(unet.parameters(), decay=0.999)
            trainable_params = filter(lambda p: p.requires_grad, unet.parameters())
            optimizer = torch.optim.AdamW(trainable_params, lr=1e-4)
            for batch in loader:
                loss_fn(unet(batch)).backward()
                optimizer.step()
                ema_unet.step(unet.parameters())  # expect: FZ305
            """,
        ),
        Example(
            """
            import torch

            def train(model, loader, loss_fn):
                params = model.parameters()  # all of them
                optimizer = torch.optim.AdamW(params, lr=1e-4)
                for x, y in loader:
                    loss_fn(model(x), y).backward()
                    torch.nn.utils.clip_grad_norm_(params, 1.0)  # expect: FZ305
                    optimizer.step()

            def build(model):
                params = iter(model.parameters())
                optimizer = torch.optim.SGD(params, lr=0.1)
                torch.nn.utils.clip_grad_norm_(params, 1.0)  # expect: FZ305
                return optimizer
            """,
            fixed="""
            import torch

            def train(model, loader, loss_fn):
                params = list(model.parameters())  # all of them
                optimizer = torch.optim.AdamW(params, lr=1e-4)
                for x, y in loader:
                    loss_fn(model(x), y).backward()
                    torch.nn.utils.clip_grad_norm_(params, 1.0)  # expect: FZ305
                    optimizer.step()

            def build(model):
                params = list(model.parameters())
                optimizer = torch.optim.SGD(params, lr=0.1)
                torch.nn.utils.clip_grad_norm_(params, 1.0)  # expect: FZ305
                return optimizer
            """,
        ),
    ]
    good = [
        """
        import torch

        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=1e-4)
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        trainable = filter(lambda p: p.requires_grad, model.parameters())
        if use_sgd:
            optimizer = torch.optim.SGD(trainable, lr=0.1)
        else:
            optimizer = torch.optim.Adam(trainable)
        it = model.parameters()
        first = next(it)
        rest = list(it)
        bucket_params = bucket.parameters()  # GradBucket.parameters() returns a list
        if len(bucket_params) <= 0:
            raise AssertionError("Empty bucket")
        saved.append(bucket_params)
        for param in bucket_params:
            size += param.numel()
        """,
        """
        a, b, c = (i for i, layer in enumerate(backbone) if isinstance(layer, nn.MaxPool2d))
        print(a + b + c, a, b)
        """,
        """
        import deepspeed
        import torch

        def configure(model, config):
            params = filter(lambda p: p.requires_grad, model.parameters())
            optimizer = torch.optim.AdamW(params=params, lr=1e-4)  # one use: the keyword is a name
            model_parameters = filter(lambda p: p.requires_grad, model.parameters())
            return deepspeed.initialize(model=model, model_parameters=model_parameters, config=config)

        def make_opt(model, lr, use_sam=False):
            params = filter(lambda p: p.requires_grad, model.parameters())
            if use_sam:
                return torch.optim.SGD(params, lr=lr, momentum=0.9)
            return torch.optim.AdamW(params, lr=lr)  # the if returned: one use on each path

        def used_once_with_a_comment(model):
            params = model.parameters()  # noqa: E501
            return torch.optim.SGD(params, lr=0.1)

        def iter_read_bit_by_bit(model):
            it = iter(model.parameters())
            first = next(it)
            return first, list(it)

        def attribute_of_the_same_name(self, model):
            params = model.parameters()
            self.params = None
            return torch.optim.SGD(params, lr=0.1)
        """,
        """
        import mlx.core as mx
        from mlx.utils import tree_flatten, tree_map

        def keep_fp32(model):
            parameters = model.parameters()  # MLX: a dict of arrays, read as often as wanted
            if all(v.dtype == mx.float32 for _, v in tree_flatten(parameters)):
                return
            model.update(tree_map(lambda v: v.astype(mx.float32), parameters))
        """,
    ]

    def check(self, facts: Facts, module) -> Iterable[Finding]:
        for scope in [facts.module_scope, *facts.func_scopes.values()]:
            for name, bindings in scope.bindings.items():
                b = bindings[0]
                # bound whole (`y, z = (gen)` unpacks it in one go), once, to a parameter iterator
                if len(bindings) != 1 or b.how != "expr" or b.index or not _one_shot(b.node, facts, scope):
                    continue
                value = bindings[0].node
                uses = _Uses(name, value)
                body = scope.node.body if isinstance(scope.node, cst.FunctionDef) else module
                traverse.visit(body, uses)
                if uses.partial:
                    continue
                second = _second_use(uses)
                # MLX's `model.parameters()` is a dict, read twice safely: the claim and the list()
                # fix hold for torch only (JAX, tinygrad or Keras models have no such method)
                if second is None or foreign_scope(scope, MLX_ROOTS):
                    continue
                receiver = uses.steps.get(id(second))
                ema, built = _ema_source(receiver, facts, scope) if receiver is not None else (False, None)
                if ema:
                    # a list here would not do: the EMA zips its shadows (one per parameter it was
                    # built over) with what step() is given, so a filtered list pairs wrong tensors
                    ema_name = cst.Module([]).code_for_node(receiver)
                    over = cst.Module([]).code_for_node(built) if built is not None else None
                    fix = None if built is None else \
                        Fix(f"Pass `{over}`", [(second, built.deep_clone())], safe=False)
                    yield self.finding(
                        second,
                        f"`{name}` is a one-shot iterator and was already consumed: `{ema_name}.step` sees no "
                        f"parameters, so the EMA never moves; pass it what it was built over"
                        + (f" (`{over}`)" if over else "")
                        + ": its shadows are paired with the given parameters in order",
                        fix=fix,
                    )
                    continue
                inner = _iter_of(value, facts, scope)  # `iter(m.parameters())` becomes `list(m.parameters())`
                listed = cst.Call(cst.Name("list"), [cst.Arg(inner if inner is not None else value)])
                fix = Fix("Make it a list(...)" if inner is not None else "Wrap it in list(...)", [(value, listed)],
                          safe=False)
                yield self.finding(
                    second,
                    f"`{name}` is a one-shot iterator and was already consumed: this use sees no parameters "
                    f"(silently, for clip_grad_norm_ and add_param_group); make it a list where it is built",
                    fix=fix,
                )
