"""FZ304 lr-zero-freeze: a param group with `lr=0` used as a freeze."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import libcst as cst

from freezelint.check.facts import Facts
from freezelint.check.flow import FREEZE, OPAQUE, OPT_BUILD, REPLACE, UNFREEZE, flows_of
from freezelint.check.param_sources import param_sources
from freezelint.check.rules.base import Example, Finding, Rule, src
from freezelint.check.scopes import Scope
from freezelint.check.syntax import code_of, dotted
from freezelint.check.syntax import walk as syntax_walk
from freezelint.check.traverse import children, own_nodes


# `0`, `0.0`, `LR * 0`, `0 * LR` (never `0.01`)
_ZERO = r"(?:0(?:\.0*)?(?![\d.])|[\w.]+\s*\*\s*0(?![\d.])|0(?:\.0*)?\s*\*)"


def _is_zero(v: cst.BaseExpression) -> bool:
    if isinstance(v, cst.Integer):
        return v.evaluated_value == 0
    if isinstance(v, cst.Float):
        return v.evaluated_value == 0.0
    if isinstance(v, cst.BinaryOperation) and isinstance(v.operator, cst.Multiply):
        return _is_zero(v.left) or _is_zero(v.right)
    return False


def _lr_values(group: cst.BaseExpression) -> list[cst.BaseExpression]:
    """The `lr` given in a param-group dict literal or `dict(...)` call."""
    if isinstance(group, cst.Dict):
        return [e.value for e in group.elements if isinstance(e, cst.DictElement)
                and isinstance(e.key, cst.SimpleString) and e.key.evaluated_value == "lr"]
    if isinstance(group, cst.Call) and isinstance(group.func, cst.Name) and group.func.value == "dict":
        return [a.value for a in group.args if a.keyword is not None and a.keyword.value == "lr"]
    return []


class LrZeroFreeze(Rule):
    code = "FZ304"
    words = ("optim",)
    triggers = (r"['\"]lr['\"]\s*:\s*" + _ZERO, r"lr\s*=\s*" + _ZERO,  # no leading \b: see base.OPTIMIZER_CALL
                r"\[\s*['\"]lr['\"]\s*\]\s*=\s*" + _ZERO)
    what = ("Finds optimizer param groups given `lr=0`, a common stand-in for freezing, at construction "
            "or later (`optimizer.param_groups[1][\"lr\"] = 0.0`).")
    why = (
        "An `lr=0` group keeps the values unchanged, but gradients and optimizer state are still "
        "computed and stored for every parameter in it (in one 8-layer test: 2.8x the step time and "
        "8x the gradient memory of a real freeze), a single inf gradient turns the weights into NaN, "
        "and schedulers such as OneCycleLR, CyclicLR and CosineAnnealingLR/WarmRestarts with "
        "`eta_min > 0` move the lr off 0, so the layers start training. OneCycleLR and CyclicLR set every "
        "group's lr from their own `max_lr` (CyclicLR: `base_lr` and `max_lr`) when built and at each step(): "
        "an lr=0 given before the scheduler is built is gone by the first step, one set after lasts until its "
        "next step(), unless those arguments are one value per group with 0 for it. An lr set to 0 in a param "
        "group later on (\"stop training the text encoder\") lasts only until the next step of a scheduler "
        "that computes each group's lr from its initial one: LambdaLR (what transformers' and diffusers' "
        "`get_scheduler` return), CosineAnnealingWarmRestarts; the group trains on. Set before such a "
        "scheduler is built, the 0 is its base and stays, as it does under StepLR and the other schedulers "
        "that multiply the current lr."
    )
    notes = (
        "Freeze with `requires_grad_(False)` and leave the parameters out of the optimizer instead. An lr "
        "set to 0 inside an LR scheduler class (a subclass of one of torch's schedulers, or a class whose "
        "`get_lr()` gives the lrs or whose `step()` sets a computed one) starts a warmup and is not reported. Neither is an lr-0 group whose "
        "parameters were all frozen with requires_grad=False before the optimizer was built, on every path to it "
        "(a placeholder a later unfreeze raises): frozen parameters get no grads, and the optimizer skips them."
    )
    bad = [
        Example(
            """
            import torch.optim as optim

            optimizer = optim.SGD([
                {"params": base_params, "lr": 0},  # expect: FZ304
                {"params": model.fc.parameters(), "lr": LR},
            ], momentum=0.9)
            optimizer.add_param_group(dict(params=model.layer4.parameters(), lr=LR * 0))  # expect: FZ304
            """,
            instead="""
            import torch.optim as optim

            model.requires_grad_(False)
            model.fc.requires_grad_(True)
            optimizer = optim.SGD(model.fc.parameters(), lr=LR, momentum=0.9)
            model.layer4.requires_grad_(True)
            optimizer.add_param_group(dict(params=model.layer4.parameters(), lr=LR))
            """,
        ),
        Example(
            """
            from diffusers.optimization import get_scheduler

            lr_scheduler = get_scheduler("constant", optimizer=optimizer)
            for epoch in range(num_epochs):
                if epoch == text_encoder_epochs:
                    optimizer.param_groups[1]["lr"] = 0.0  # expect: FZ304
                for batch in loader:
                    train_step(batch)
                    optimizer.step()
                    lr_scheduler.step()
            """,
            instead="""
            from diffusers.optimization import get_scheduler

            lr_scheduler = get_scheduler("constant", optimizer=optimizer)
            for epoch in range(num_epochs):
                if epoch == text_encoder_epochs:
                    text_encoder.requires_grad_(False)  # no grads: torch's optimizers skip the group
                for batch in loader:
                    train_step(batch)
                    optimizer.step()
                    lr_scheduler.step()
            """,
        ),
        Example(
            """
            import torch
            from torch.optim.lr_scheduler import OneCycleLR

            optimizer = torch.optim.AdamW([
                {"params": model.backbone.parameters(), "lr": 0.0},  # expect: FZ304
                {"params": model.head.parameters()},
            ], lr=1e-3)
            scheduler = OneCycleLR(optimizer, max_lr=1e-3, total_steps=10_000)  # sets both groups' lr
            """,
            instead="""
            import torch
            from torch.optim.lr_scheduler import OneCycleLR

            model.backbone.requires_grad_(False)
            optimizer = torch.optim.AdamW(model.head.parameters(), lr=1e-3)
            scheduler = OneCycleLR(optimizer, max_lr=1e-3, total_steps=10_000)
            """,
        ),
        Example(
            """
            class Trainer:
                def freeze_text_encoder(self):  # a training loop's class, not a scheduler
                    self.optimizer.param_groups[1]["lr"] = 0.0  # expect: FZ304

                def step(self, batch):
                    self.loss(batch).backward()
                    self.optimizer.step()
            """
        ),
        Example(
            """
            for epoch in range(num_epochs):
                if epoch == freeze_epoch:  # keep the first group (the head) training
                    for g in optimizer.param_groups[1:]:
                        g["lr"] = 0  # expect: FZ304
                train_one_epoch(model, optimizer)
            """,
            instead="""
            for epoch in range(num_epochs):
                if epoch == freeze_epoch:
                    for g in optimizer.param_groups[1:]:
                        for p in g["params"]:
                            p.requires_grad_(False)
                            p.grad = None
                train_one_epoch(model, optimizer)
            """,
        ),
        Example(
            """
            import torch

            def fit(backbone, head, lr, iters):
                optimizer = torch.optim.Adam([{"params": backbone, "lr": 0},  # expect: FZ304
                                              {"params": head, "lr": 0}])
                for it in range(iters):
                    optimizer.param_groups[1]["lr"] = lr  # the backbone's group stays at 0
                    optimizer.step()
            """
        ),
        Example(
            """
            import torch

            def fit(backbone, head, iters):
                optimizer = torch.optim.Adam([{"params": backbone, "lr": 0},  # expect: FZ304
                                              {"params": head, "lr": 0}])  # expect: FZ304
                for it in range(iters):
                    for g in optimizer.param_groups:
                        g["lr"] = 0.0  # expect: FZ304
                    optimizer.step()
            """
        ),
        Example(
            """
            import torch
            import torchvision

            model = torchvision.models.resnet18(weights=None)
            for p in model.layer4[0].parameters():  # one block of the group: the rest still gets grads
                p.requires_grad = False
            optimizer = torch.optim.SGD([
                {"params": model.fc.parameters(), "lr": 1e-3},
                {"params": model.layer4.parameters(), "lr": 0.0},  # expect: FZ304
            ], lr=1e-3)
            """,
            instead="""
            import torch
            import torchvision

            model = torchvision.models.resnet18(weights=None)
            model.layer4.requires_grad_(False)
            optimizer = torch.optim.SGD([
                {"params": model.fc.parameters(), "lr": 1e-3},
                {"params": model.layer4.parameters(), "lr": 0.0},  # no grads until it is unfrozen
            ], lr=1e-3)
            """,
        ),
    ]
    good = [
        """
        import torch
        import torchvision

        model = torchvision.models.resnet18(weights=None)
        for p in model.layer4.parameters():  # frozen: no grads, no state, whatever the group's lr
            p.requires_grad = False
        optimizer = torch.optim.SGD([
            {"params": model.fc.parameters(), "lr": 1e-3},
            {"params": model.layer4.parameters(), "lr": 0.0},  # a placeholder for a later unfreeze
        ], lr=1e-3)
        """,
        """
        import torch

        def optimize_map(decoders, planes, poses, cfg, iters, ba):
            if ba:
                optimizer = torch.optim.Adam([{"params": decoders, "lr": 0},  # placeholders: set below
                                              {"params": planes, "lr": 0},
                                              {"params": poses, "lr": 0}])
            else:
                optimizer = torch.optim.Adam([{"params": decoders, "lr": 0}, {"params": planes, "lr": 0}])
            for it in range(iters):
                optimizer.param_groups[0]["lr"] = cfg.decoders_lr
                optimizer.param_groups[1]["lr"] = cfg.planes_lr
                if ba:
                    optimizer.param_groups[2]["lr"] = cfg.cam_lr
                optimizer.zero_grad()
                loss_fn().backward()
                optimizer.step()

        def fit(params_a, params_b, lr, loader):
            optimizer = torch.optim.SGD([{"params": params_a, "lr": 0}, {"params": params_b, "lr": 0.0}])
            for epoch in range(10):
                for g in optimizer.param_groups:
                    g["lr"] = lr * 0.1 ** (epoch // 3)
                for batch in loader:
                    optimizer.step()
        """,
        """
        for group in optimizer.param_groups:
            group["lr"] = base_lr * min(1.0, step / warmup)  # a schedule, not a literal 0
        optimizer.param_groups[0]["momentum"] = 0.0
        """,
        """
        import torch.optim as optim

        model.layer1.requires_grad_(False)
        optimizer = optim.SGD([
            {"params": model.layer4.parameters(), "lr": LR * 0.1},
            {"params": model.fc.parameters(), "lr": LR},
        ], momentum=0.9)
        config = {"lr": 0}  # not a param group handed to an optimizer
        """,
        """
        from torch.optim.lr_scheduler import _LRScheduler

        class WarmupScheduler(_LRScheduler):
            def __init__(self, optimizer, max_lr, warmup_steps, warm_from_zero=False):
                self.initial_lr, self.warmup_steps, self.warm_from_zero = max_lr, warmup_steps, warm_from_zero
                super().__init__(optimizer)
                self.init_lr()

            def init_lr(self):
                for param_group in self.optimizer.param_groups:
                    if self.warm_from_zero:
                        param_group["lr"] = 0.0  # the start of the warmup: step() raises it
                    else:
                        param_group["lr"] = self.initial_lr

        class LinearWarmup:
            def __init__(self, optimizer, target_lr, steps):
                self.optimizer, self.target_lr, self.steps, self.n = optimizer, target_lr, steps, 0
                for group in optimizer.param_groups:
                    group["lr"] = 0

            def step(self):
                self.n += 1
                for group in self.optimizer.param_groups:
                    group["lr"] = self.target_lr * min(1.0, self.n / self.steps)
        """,
        """
        class BackboneWarmup:  # warms the backbone's groups from 0; the head's keeps its lr
            def __init__(self, optimizer, target_lr, steps):
                self.optimizer, self.target_lr, self.steps, self.n = optimizer, target_lr, steps, 0
                for group in optimizer.param_groups[1:]:
                    group["lr"] = 0.0

            def step(self):
                self.n += 1
                for group in self.optimizer.param_groups[1:]:
                    group["lr"] = self.target_lr * min(1.0, self.n / self.steps)
        """,
    ]

    def check(self, facts: Facts, module) -> Iterable[Finding]:
        schedulers = _Schedulers(facts)
        for mc in facts.method_calls:
            if mc.method == "add_param_group" and mc.call.args:
                yield from self._groups([(None, mc.call.args[0].value)], mc.ctx,
                                        schedulers.over(dotted(mc.obj), _place(mc.ctx)), facts)
        for mc in facts.method_calls + facts.name_calls:
            call = mc.call
            q = facts.qualname(call.func, mc.ctx.scope)
            if not (q and q.startswith("torch.optim.") and q.rsplit(".", 1)[1][:1].isupper()):
                continue
            if call.args and isinstance(call.args[0].value, (cst.List, cst.Tuple)) and call.args[0].keyword is None:
                groups = [e.value for e in call.args[0].value.elements if isinstance(e, cst.Element)]
                zero = any(_is_zero(lr) for g in groups for lr in _lr_values(g))
                placeholders = _set_before_each_step(call, len(groups), mc.ctx, facts) if zero else frozenset()
                # a group of frozen parameters (a placeholder for a later unfreeze) gets no grads: lr 0 costs nothing
                frozen = _frozen_groups(facts, call, mc.ctx) if zero else set()
                over = schedulers.over(_built_into(mc.ctx.stmt, call), _place(mc.ctx)) if zero else []
                yield from self._groups([(i, g) for i, g in enumerate(groups) if i not in placeholders
                                         and id(g) not in frozen], mc.ctx, over, facts)

        yield from self._later(facts, module, schedulers)

    def _later(self, facts: Facts, module, schedulers: "_Schedulers") -> Iterable[Finding]:
        """`optimizer.param_groups[i]["lr"] = 0` (or through a loop over param_groups) after the build."""
        warmups: set[int] | None = None  # found on the first candidate: most files have none
        for stmt, groups, aliases, place in _statements(module):
            for small in stmt.body:
                if not (isinstance(small, cst.Assign) and _is_zero(small.value)):
                    continue
                for t in small.targets:
                    target = t.target
                    group = _group_of(target.value, groups, aliases) if isinstance(target, cst.Subscript) \
                        and _lr_key(target) else None
                    if group is not None:
                        warmups = _scheduler_statements(facts, module) if warmups is None else warmups
                        if id(stmt) in warmups:
                            continue
                        opt, index = group
                        over = schedulers.over(opt, place)
                        moved = _moved(_undone_by(over, index, (stmt, place), facts))
                        yield self.finding(
                            small.value,
                            f"`{src(target)} = {src(small.value)}` is not a freeze: gradients and optimizer state "
                            f"are still computed for the group{moved}; freeze its "
                            f"parameters with `requires_grad_(False)` and set their `.grad` to None (torch's "
                            f"optimizers skip a parameter without a grad; a zero grad still moves it through "
                            f"momentum and weight decay)",
                            None, stmt=stmt)

    def _groups(self, groups: list[tuple[int | None, cst.BaseExpression]], ctx, over: list["_Scheduler"],
                facts: Facts) -> Iterable[Finding]:
        """`groups`: (index in the optimizer's groups where known, the group's dict); `over`: the
        schedulers built over that optimizer."""
        for index, g in groups:
            for lr in _lr_values(g):
                if _is_zero(lr):
                    moved = _moved(_undone_by(over, index, None, facts))
                    yield self.finding(
                        lr,
                        f"`lr={src(lr)}` is not a freeze: gradients and optimizer state are still computed for "
                        f"this group, an inf gradient makes its weights NaN{moved}; freeze with "
                        f"`requires_grad_(False)` and leave the group out",
                        ctx,
                    )


def _frozen_groups(facts: Facts, call: cst.Call, ctx) -> set[int]:
    """The ids of the param-group dicts of the optimizer `call` whose every source of parameters was
    frozen before it is built (`for p in model.layer4.parameters(): p.requires_grad = False`, then
    `{"params": model.layer4.parameters(), "lr": 0.0}`), on every path to it, with nothing of it
    unfrozen, replaced or handed on in between. A helper's freeze (which part, not known), a freeze
    of a subset picked by name or position, and one that changes nothing as written do not count."""
    found = next(((flow, e) for flow in (*flows_of(facts).bodies, *flows_of(facts).instances)
                  for e in flow.events if e.kind == OPT_BUILD and e.node is call), None)
    if found is None:
        return set()
    flow, opt = found
    sources = param_sources(call.args[0].value, ctx.scope, facts.module)
    groups = {id(s.group): s.group for s in sources if s.group is not None}
    return {key for key, g in groups.items()
            if all(_frozen_before(s, opt, flow.events) for s in sources if s.group is g)}


def _frozen_before(source, opt, events) -> bool:
    def part(e) -> str:
        return e.detail.get("sub") or e.detail.get("path") or e.target

    def inside(a: str, b: str) -> bool:  # `a` is `b` or a part of it
        return a == b or a.startswith((b + ".", b + "["))

    return any(f.kind == FREEZE and f.target == source.root and f.index < opt.index
               and set(f.branches) <= set(opt.branches) and inside(source.path, part(f))
               and not any(k in f.detail for k in ("picked", "cut", "via", "broken", "unsure"))
               and not any(e.kind in (UNFREEZE, REPLACE, OPAQUE) and e.target == source.root
                           and f.index < e.index < opt.index
                           and (inside(part(e), source.path) or inside(source.path, part(e))) for e in events)
               for f in events)


# Schedulers whose step() computes each group's lr from its initial lr (not from its current one): an
# lr set to 0 after one was built lasts one step; one set before is its base, which stays 0
_RESTARTING = ("LambdaLR", "CosineAnnealingWarmRestarts", "get_scheduler",
               "get_linear_schedule_with_warmup", "get_cosine_schedule_with_warmup",
               "get_constant_schedule_with_warmup", "get_constant_schedule",
               "get_cosine_with_hard_restarts_schedule_with_warmup", "get_polynomial_decay_schedule_with_warmup")
# Schedulers that set every group's lr from their own arguments (by position after the optimizer),
# when built and at each step(): an lr of 0 set before or after lasts at most until then, unless
# the arguments give that group 0
_RESETTING = {"OneCycleLR": ("max_lr",), "CyclicLR": ("base_lr", "max_lr")}
# torch's schedulers whose step() multiplies each group's current lr: an lr of 0 stays 0
_MULTIPLYING = ("StepLR", "MultiStepLR", "ExponentialLR", "ConstantLR", "LinearLR", "PolynomialLR",
                "MultiplicativeLR", "ReduceLROnPlateau")


@dataclass(frozen=True, eq=False)
class _Scheduler:
    kind: str  # `OneCycleLR`, `LambdaLR from get_scheduler()`
    call: cst.Call
    place: tuple[cst.CSTNode | None, cst.CSTNode | None]  # (its function, its class), None at the top level
    scope: Scope


def _place(ctx) -> tuple[cst.CSTNode | None, cst.CSTNode | None]:
    """The function (None: the module) and class (or None) a node of `ctx` sits in."""
    scope = ctx.scope
    while scope.kind not in ("function", "module") and scope.parent is not None:
        scope = scope.parent
    return (scope.node if scope.kind == "function" else None), (scope.cls.node if scope.cls else None)


class _Schedulers:
    """The lr schedulers the file builds of the kinds above, by the optimizer they are given as
    written (`optimizer`, `self.opt`); found on the first lr=0 that asks."""

    def __init__(self, facts: Facts) -> None:
        self._facts = facts
        self._by_opt: dict[str, list[_Scheduler]] | None = None

    def over(self, opt: str | None, place: tuple) -> list[_Scheduler]:
        """Those built over `opt` where it is the same object: in the same function (or both at the top
        level), or, for `self.<attr>`, in a method of the same class. None or "": not a name."""
        if not opt:
            return []
        if self._by_opt is None:
            self._by_opt = self._find()
        return [s for s in self._by_opt.get(opt, ()) if s.place == place
                or (opt.startswith("self.") and place[1] is not None and s.place[1] is place[1])]

    def _find(self) -> dict[str, list[_Scheduler]]:
        facts, out = self._facts, {}
        for mc in (*facts.name_calls, *facts.method_calls):
            call = mc.call
            q = facts.qualname(call.func, mc.ctx.scope) or ""
            name = q.rpartition(".")[2]
            if name not in _RESTARTING and name not in _RESETTING and name not in _MULTIPLYING:
                continue
            if not (q.startswith(("torch.optim.", "transformers", "diffusers")) or q == name) \
                    or (name in _MULTIPLYING and not q.startswith("torch.optim.")):
                continue
            given = _argument(call, 1 if name == "get_scheduler" else 0, "optimizer")
            opt = dotted(given) if given is not None else None
            kind = name if name[0].isupper() else f"LambdaLR from {name}()"
            if opt:
                out.setdefault(opt, []).append(_Scheduler(kind, call, _place(mc.ctx), mc.ctx.scope))
        return out


def _argument(call: cst.Call, at: int, keyword: str) -> cst.BaseExpression | None:
    """The argument of `call` given by keyword, or at that position."""
    for a in call.args:
        if a.keyword is not None and a.keyword.value == keyword:
            return a.value
    positional = [a.value for a in call.args if a.keyword is None and not a.star]
    return positional[at] if at < len(positional) else None


def _built_into(stmt: cst.CSTNode | None, call: cst.Call) -> str | None:
    """`opt` (or `self.opt`) of `opt = <call>`: the optimizer's name where it is built."""
    for small in stmt.body if isinstance(stmt, cst.SimpleStatementLine) else ():
        if isinstance(small, cst.Assign) and small.value is call and len(small.targets) == 1:
            return dotted(small.targets[0].target)
        if isinstance(small, cst.AnnAssign) and small.value is call:
            return dotted(small.target)
    return None


_NUMBER_CALLS = ("float", "int", "min", "max", "abs", "round")  # what gives one number


def _for_group(value: cst.BaseExpression | None, index: int | None, scope: Scope) -> str:
    """What a scheduler's lr argument gives one group: `zero`, `nonzero`, `unknown` (a per-group
    list whose item for this group is not known), `one` (one value for every group)."""
    if isinstance(value, cst.Name) and (at := scope.lookup(value.value)) is not None:
        made = [b.node for b in at.bindings[value.value] if b.how == "expr" and not b.index]
        if any(_sequence(n) for n in made):
            return "unknown"  # `max_lr = [0.0, 1e-3]`: maybe 0 for this group
        if len(made) == 1 and isinstance(made[0], (cst.Integer, cst.Float)):
            value = made[0]
    if isinstance(value, (cst.List, cst.Tuple)):
        items = [e.value for e in value.elements if isinstance(e, cst.Element)]
        if len(items) != len(value.elements):  # a starred item
            return "unknown"
        if index is not None and 0 <= index < len(items):
            return "zero" if _is_zero(items[index]) else "nonzero"
        return "unknown" if any(_is_zero(v) for v in items) else "nonzero"
    if isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and value.func.value in _NUMBER_CALLS:
        return "one"
    if value is None or _sequence(value) or isinstance(value, (cst.Call, cst.Subscript)):
        return "unknown"  # `[lr] * n`, `list(...)`, `cfg["max_lr"]`: maybe one per group
    return "zero" if _is_zero(value) else "one"


def _sequence(value: cst.CSTNode | None) -> bool:
    """A list or tuple as written: a display, a comprehension, `[lr] * n`."""
    if isinstance(value, cst.BinaryOperation):
        return _sequence(value.left) or _sequence(value.right)
    return isinstance(value, (cst.List, cst.Tuple, cst.ListComp, cst.GeneratorExp))


def _line(node: cst.CSTNode, facts: Facts) -> int:
    return facts.positions[node].start.line


def _undone_by(over: list[_Scheduler], index: int | None, written: tuple | None, facts: Facts) -> str | None:
    """What the schedulers built over a group's optimizer do to its lr=0 (`index`: the group's, where
    known; `written`: the statement that writes the 0 and its place, None for an lr given when the
    optimizer is built): the one that raises it, said; "" where each keeps it at 0 (it multiplies
    the lr, or takes the 0 as its base); None where none is known."""
    for s in over:
        args = _RESETTING.get(s.kind)
        given = [_for_group(_argument(s.call, 1 + i, a), index, s.scope) for i, a in enumerate(args or ())]
        if args and not all(g in ("zero", "unknown") for g in given):  # not 0 (or maybe 0) for this group
            lists = " and ".join(f"`{a}=[...]`" for a in args)
            return (f"the {s.kind} at line {_line(s.call, facts)} resets every group's lr from its "
                    f"{' and '.join(args)}, when built and at each step(), this group's too, so it trains ({lists} "
                    f"with 0 for this group would keep it at 0)")
    kept = []
    for s in over:
        if s.kind in _RESETTING or s.kind in _MULTIPLYING:
            kept.append(s)
        elif written is None or (s.place == written[1] and _line(s.call, facts) > _line(written[0], facts)):
            # built after the 0 was written: it took 0 as the group's base (a cosine's floor moves it)
            floor = _argument(s.call, 3, "eta_min") if s.kind == "CosineAnnealingWarmRestarts" else None
            kept += [s] if floor is None or _is_zero(floor) else []
        else:
            return (f"the {s.kind} here computes each group's lr from its initial one at its next step(), so this "
                    f"group trains on after one step")
    return "" if over and len(kept) == len(over) else None


def _moved(undone: str | None) -> str:
    """The clause of a message on what the schedulers do to the lr=0 (see _undone_by)."""
    if undone is None:
        return ", and schedulers can move the lr off 0"
    return f", and {undone}" if undone else ""


def _lr_key(target: cst.Subscript) -> bool:
    sl = target.slice
    return len(sl) == 1 and isinstance(sl[0].slice, cst.Index) and isinstance(sl[0].slice.value, cst.SimpleString) \
        and sl[0].slice.value.evaluated_value == "lr"


def _param_groups(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Attribute) and node.attr.value == "param_groups"


def _groups_iter(node: cst.BaseExpression) -> bool:
    """`opt.param_groups`, or a slice of it (`opt.param_groups[1:]`): what a loop over groups runs on."""
    if isinstance(node, cst.Subscript):
        return _param_groups(node.value) and len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Slice)
    return _param_groups(node)


def _group_of(value: cst.BaseExpression, groups: dict[str, tuple[str, int | None]],
              aliases: dict[str, str]) -> tuple[str, int | None] | None:
    """For `opt.param_groups[i]` (or `groups[i]` for a name bound to them), or a name an enclosing loop
    binds to one group: the optimizer as written ("": not a name) and the group's index (None: not
    known); None for anything else."""
    if isinstance(value, cst.Subscript):
        index = _index(value)
        if _param_groups(value.value):
            return dotted(value.value.value) or "", index
        if isinstance(value.value, cst.Name) and value.value.value in aliases:
            return aliases[value.value.value], index
        return None
    return groups.get(value.value) if isinstance(value, cst.Name) else None


def _index(value: cst.Subscript) -> int | None:
    """`i` of `x[i]` for a literal i >= 0."""
    sl = value.slice
    if len(sl) == 1 and isinstance(sl[0].slice, cst.Index) and isinstance(sl[0].slice.value, cst.Integer):
        return int(sl[0].slice.value.evaluated_value)
    return None


def _groups_list(node: cst.BaseExpression, aliases: dict[str, str]) -> str | None:
    """What a loop over groups runs on: `opt.param_groups`, a slice of it, a name bound to either:
    the optimizer as written ("" where it is not a name); None for anything else."""
    if isinstance(node, cst.Subscript) and len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Slice):
        node = node.value
    if _param_groups(node):
        return dotted(node.value) or ""
    return aliases.get(node.value) if isinstance(node, cst.Name) else None


def _loop_groups(loop: cst.For, aliases: dict[str, str]) -> dict[str, tuple[str, int | None]]:
    """The name a loop binds to each group: `for g in <groups>`, `for i, g in enumerate(<groups>)`,
    with the optimizer (the group's index is not known)."""
    it, target = loop.iter, loop.target
    if isinstance(it, cst.Call) and isinstance(it.func, cst.Name) and it.func.value == "enumerate" and it.args:
        if isinstance(target, cst.Tuple) and len(target.elements) == 2:
            it, target = it.args[0].value, target.elements[1].value
    opt = _groups_list(it, aliases) if isinstance(target, cst.Name) else None
    return {target.value: (opt, None)} if opt is not None else {}


def _aliases(scope: cst.CSTNode) -> dict[str, str]:
    """Names a function (or the module) binds to its optimizer's groups (`groups = opt.param_groups`),
    with the optimizer as written."""
    out, todo = {}, list(children(scope))
    while todo:
        node = todo.pop()
        if isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue
        if isinstance(node, cst.Assign) and len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name):
            opt = _groups_list(node.value, {})
            if opt is not None:
                out[node.targets[0].target.value] = opt
        todo.extend(children(node))
    return out


def _statements(module: cst.Module):
    """Each simple statement, with the names that hold one param group there (the targets of the loops over
    groups around it), the names its function binds to the groups list, and where it is (_place's form)."""
    todo = [(module, {}, _aliases(module), (None, None))]
    while todo:
        node, groups, aliases, place = todo.pop()
        if isinstance(node, cst.SimpleStatementLine):
            yield node, groups, aliases, place
            continue
        if isinstance(node, cst.FunctionDef):
            aliases, place = _aliases(node), (node, place[1])
        elif isinstance(node, cst.ClassDef):
            place = (place[0], node)
        inner = {**groups, **_loop_groups(node, aliases)} if isinstance(node, cst.For) else groups
        todo.extend((child, inner if isinstance(node, cst.For) and child is node.body else groups, aliases, place)
                    for child in reversed(list(children(node))))


def _sets_lr(func: cst.FunctionDef) -> bool:
    """`step()` that stores a computed lr into a group (`param_group["lr"] = lr`)."""
    return any(isinstance(n, cst.Assign) and not _is_zero(n.value) and any(
        isinstance(t.target, cst.Subscript) and _lr_key(t.target) for t in n.targets) for n in syntax_walk(func))


def _is_scheduler(cls: cst.ClassDef, facts: Facts) -> bool:
    """A subclass of one of torch's schedulers (LRScheduler, _LRScheduler, LambdaLR...), or a class
    whose `get_lr()` gives the lrs, or whose `step()` sets a computed one: it raises the lr it set to 0."""
    if any((facts.qualname(b.value, facts.module_scope) or "").startswith("torch.optim.lr_scheduler.")
           for b in cls.bases):
        return True
    methods = [s for s in cls.body.body if isinstance(s, cst.FunctionDef)]
    return any(m.name.value == "get_lr" or (m.name.value == "step" and _sets_lr(m)) for m in methods)


def _scheduler_statements(facts: Facts, module: cst.Module) -> set[int]:
    """The statements of LR scheduler classes: a group's lr set to 0 there starts a warmup (espnet's
    ExponentialDecayWarmup.init_lr with warm_from_zero), which the scheduler's step raises."""
    return {id(n) for cls in syntax_walk(module) if isinstance(cls, cst.ClassDef) and _is_scheduler(cls, facts)
            for n in syntax_walk(cls) if isinstance(n, cst.SimpleStatementLine)}


def _set_before_each_step(call: cst.Call, n: int, ctx, facts: Facts) -> frozenset[int]:
    """The indices of the groups of `opt = torch.optim.X([...])` whose lr the function's training loop sets
    (to a value that is not 0) before every `opt.step()`: an `lr: 0` there is a placeholder (NeRF-SLAM's
    mapper sets each group's lr at the top of every iteration), nothing trains at lr 0."""
    func = ctx.scope.node if ctx.scope.kind == "function" else facts.module
    path = _path_to(func, call)
    name = _assigned_name(path, call)
    if name is None:
        return frozenset()
    conds = {code_of(a.test) for a, child in zip(path, path[1:]) if isinstance(a, cst.If) and child is a.body}
    steps = [c for c in own_nodes(func) if _calls(c, name, "step")]
    sets = [_set_in_loops(_path_to(func, step), name, conds, n) for step in steps]
    return frozenset.intersection(*sets) if sets else frozenset()


def _set_in_loops(path: list[cst.CSTNode], name: str, conds: set[str], n: int) -> frozenset[int]:
    """The groups a loop around a step (the last node of `path`) sets the lr of before that step."""
    out: set[int] = set()
    for loop, body, stmt in zip(path, path[1:], path[2:]):
        if isinstance(loop, (cst.For, cst.While)) and body is loop.body:
            at = next(i for i, s in enumerate(body.body) if s is stmt)
            out |= _lr_sets_before(body.body[:at], name, conds, n)
    return frozenset(out)


def _path_to(root: cst.CSTNode, target: cst.CSTNode) -> list[cst.CSTNode]:
    """The nodes from `root` down to `target` (both included), or [] where it is not under `root`."""
    todo = [(root, (root,))]
    while todo:
        node, path = todo.pop()
        if node is target:
            return list(path)
        todo.extend((c, (*path, c)) for c in children(node) if not isinstance(c, (cst.FunctionDef, cst.ClassDef)))
    return []


def _assigned_name(path: list[cst.CSTNode], call: cst.Call) -> str | None:
    """`opt` of `opt = <call>`."""
    assign = next((n for n in reversed(path) if isinstance(n, cst.Assign)), None)
    if assign is None or assign.value is not call or len(assign.targets) != 1:
        return None
    target = assign.targets[0].target
    return target.value if isinstance(target, cst.Name) else None


def _calls(node: cst.CSTNode, name: str, method: str) -> bool:
    """`name.method(...)`."""
    return isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) \
        and node.func.attr.value == method and isinstance(node.func.value, cst.Name) and node.func.value.value == name


def _lr_sets_before(statements, name: str, conds: set[str], n: int) -> set[int]:
    """The groups (of `n`) the statements set a non-zero lr for: `opt.param_groups[i]["lr"] = v`,
    `for g in opt.param_groups: g["lr"] = v`, or either under an `if` with the test the optimizer was
    built under (a group that exists only then)."""
    out: set[int] = set()
    for stmt in statements:
        if isinstance(stmt, cst.SimpleStatementLine):
            out.update(i for s in stmt.body for i in _indexed_lr_set(s, name))
        elif isinstance(stmt, cst.For) and _loops_all_groups(stmt, name):
            out.update(range(n))
        elif isinstance(stmt, cst.If) and stmt.orelse is None and code_of(stmt.test) in conds:
            out |= _lr_sets_before(stmt.body.body, name, conds, n)
    return out


def _indexed_lr_set(small: cst.BaseSmallStatement, name: str) -> list[int]:
    """[i] for `name.param_groups[i]["lr"] = <not 0>`."""
    if not (isinstance(small, cst.Assign) and not _is_zero(small.value)):
        return []
    out = []
    for t in small.targets:
        group = t.target.value if isinstance(t.target, cst.Subscript) and _lr_key(t.target) else None
        if isinstance(group, cst.Subscript) and _param_groups(group.value) and dotted(group.value.value) == name \
                and len(group.slice) == 1 and isinstance(group.slice[0].slice, cst.Index) \
                and isinstance(group.slice[0].slice.value, cst.Integer):
            out.append(int(group.slice[0].slice.value.evaluated_value))
    return out


def _loops_all_groups(loop: cst.For, name: str) -> bool:
    """`for g in name.param_groups: g["lr"] = <not 0>` (the whole list, not a slice of it)."""
    it = loop.iter
    if not (_param_groups(it) and dotted(it.value) == name and isinstance(loop.target, cst.Name)):
        return False
    g = loop.target.value
    return any(isinstance(s, cst.Assign) and not _is_zero(s.value) and any(
        isinstance(t.target, cst.Subscript) and _lr_key(t.target) and isinstance(t.target.value, cst.Name)
        and t.target.value.value == g for t in s.targets)
        for line in loop.body.body if isinstance(line, cst.SimpleStatementLine) for s in line.body)
