"""Freezing events of one body (the module, a function), in source order, for one file.

Each body becomes an ordered list of events. An event knows the loops around it and its branch
path, so two events in different arms of one `if` never order each other. Calls into functions of
the same file apply what the callee does to its parameters (`Callees`, to a depth bound); calls
into other files of the project go through the `external` hooks, which the flow layer fills from
the project index (this module knows nothing about other files).
"""
from __future__ import annotations

import builtins
import re
from dataclasses import dataclass, field

import libcst as cst

from freezelint.check import traverse
from freezelint.check.declared import named_part, sets_module_flag
from freezelint.check.facts import Binding, Facts, Scope, is_batchnorm_class
from freezelint.check.known import (MODULE_METHODS, batchnorm_name_tests, tensor_guards, SELF_RETURNING, TIMM_FACTORIES, is_base_finetuning, is_library,
                                    is_optimizer_class, is_parameter_free)
from freezelint.check.modes import quiet, train_keeps
from freezelint.check.param_sources import param_sources
from freezelint.spelling import is_misspelling
from freezelint.check.scopes import qualname
from freezelint.check.syntax import assigned_pairs, call_arg, code_of, dotted, root_of, string_value, walk

TRAIN, EVAL, BN_FREEZE, ACTIVITY = "train", "eval", "bn_freeze", "activity"
# the model handed to a callable the body cannot resolve, a parameter of the function (`freeze(model)`
# in a helper given `freeze=freeze_backbone`): it may re-apply a freeze, so a train() before it is
# not known to stay unfixed
OPAQUE = "opaque"
CALLS = "calls:"  # prefix: a method called on a receiver whose class is not known here
# prefix: the argument is handed to a function of another file, `via:<qualname>#<position>`
# (recorded in summaries; the project index follows it to that file's summary)
VIA = "via:"
OPT_BUILD, ADD_GROUP, REPLACE, FREEZE, UNFREEZE, DDP_WRAP = (
    "opt_build", "add_group", "replace", "freeze", "unfreeze", "ddp_wrap")
# What an OPT_BUILD event says when a route knows only that an optimizer is built (a method of
# another file's class): every rule may read these keys; None is "not known", which no rule
# takes for a finding (FZ301 needs a stateful optimizer, FZ303 a filtered one). "path": the target.
UNKNOWN_OPT = {"filtered": None, "optimizer": None, "whole": True, "stateful": None}
# a name (or `self.x`) bound to a new object (`model = nn.Sequential(...)`, `model = build(cfg)`):
# what was done to the object it held before is not done to this one (Flow._rebind). Rules ask
# `flow.rebound(flow, a, b)` before they pair an event on the old object with one on the name.
REBIND = "rebind"
# requires_grad set from a parameter of the function whose default is False (`def freeze_norm(model,
# unfreeze=False): ...requires_grad_(unfreeze)`): a freeze wherever a caller leaves it out. Only a
# rule that asks about the body itself reads it; a call site takes over nothing from it, since its
# own argument may say True.
FREEZE_BY_DEFAULT = "freeze_by_default"
# PEFT puts adapters on a model (`get_peft_model(model, cfg)`, `model.add_adapter(cfg)`,
# `inject_adapter_in_model(cfg, model)`): on a model that holds no adapter yet it sets requires_grad
# False on every parameter but the adapters' (and modules_to_save's copies). Kept apart from FREEZE:
# only the rules that ask about PEFT read it, and no summary carries it.
PEFT = "peft"
# `model = Probe()` of a Module class of another project file: where the instance comes into being
# (FZ202 reads what the class's summary says `__init__` left frozen; no other rule reads it)
BUILT = "built"
_MAX_DEPTH = 3
# Summaries position of the value a function returns (`model = build(cfg)` takes over what
# `build` did to the model it returns), and the event kinds a call site takes over from it: the
# state the returned model is in, not what was done with it inside.
RET = "ret"
# Summaries position of the runs a function makes that name no model of its own (`loss.backward()`,
# `self.optimizer.step()`, ACTIVITY on "*"): a trainer method that runs a step runs it at its call
RUNS = "*"
# A summary position prefix: a name of an outer scope (the module, or an enclosing function for a closure)
# the function acts on without binding it (`"global:model"`)
GLOBAL = "global:"
RUNS_AT = cst.Name("__runs__")  # the "argument" such a run is on, at a call site: "*"
_BN_NAME = re.compile(r"BatchNorm|BN\b|bn\b|_BatchNorm|FrozenBatchNorm")
# a method that freezes a model's BatchNorm by its name (`freeze_bn`, `fix_bn`, `freeze_batchnorm`,
# `freeze_bn_stats`): what it does where the class is not known
_BN_FREEZER = re.compile(r"(?i)(freeze|fix)_?(bn|batch_?norms?)(_stats|_eval)?$")


@dataclass(frozen=True)
class Jump:
    """An `if` arm of a loop body that ends in `continue` or `break` (the other arm goes on):
    what follows the `if` in the loop body is not on that arm's path in the same iteration."""
    if_id: int
    arm: int
    loop: int  # id of the loop it continues or leaves
    kind: str  # "continue" or "break"
    exits: bool  # the loop can end at its head (a `for`, a `while` not on a constant true)


@dataclass(eq=False)
class Event:
    kind: str
    target: str  # root path of the model (or optimizer) concerned: "model", "self.backbone"
    node: cst.CSTNode
    stmt: cst.CSTNode | None
    index: int = 0
    loops: tuple[int, ...] = ()  # ids of enclosing loops, outermost first
    branches: tuple[tuple[int, int], ...] = ()  # (if id, arm)
    detail: dict = field(default_factory=dict)
    jumps: tuple[Jump, ...] = ()  # the continue/break arms it is in, innermost first

    def exclusive_with(self, other: "Event") -> bool:
        arms = dict(self.branches)
        return any(i in arms and arms[i] != arm for i, arm in other.branches)


def _mode_arg(call: cst.Call, default: bool | None) -> bool | None:
    """`train(mode)`: the mode when it is a literal (or left out), else None."""
    arg = call_arg(call, 0, "mode")
    if arg is None:
        return default
    if isinstance(arg, cst.Name) and arg.value in ("True", "False"):
        return arg.value == "True"
    return None  # a variable: unknown


_TRUE = cst.Name("True")


def requires_grad_sets(node: cst.CSTNode, scope: Scope) -> list[tuple[cst.BaseExpression, cst.BaseExpression, bool]]:
    """Every `requires_grad` change a node makes, in each form the checker understands (the one
    place they are recognised): `x.requires_grad = v` (annotated or not, and the spellings
    FZ101/FZ103 report), `setattr(x, "requires_grad", v)`, `x.requires_grad == v` as a statement
    (FZ104, meant as the assignment) and `x.requires_grad_(v)` (`requires_grad_()` is True). Each
    is (x, v, whether the method was called: on a module it sets every parameter's flag)."""
    if isinstance(node, cst.Assign):  # `a.requires_grad, b.requires_grad = False, True` as two (assigned_pairs)
        return [(target.value, value, False) for t in node.targets for target, value in assigned_pairs(t.target, node.value)
                if isinstance(target, cst.Attribute) and _meant_requires_grad(target.attr.value)]
    if isinstance(node, cst.AnnAssign):  # `p.requires_grad: bool = False`
        t = node.target
        return [(t.value, node.value, False)] if node.value is not None and isinstance(t, cst.Attribute) \
            and _meant_requires_grad(t.attr.value) else []
    if isinstance(node, cst.Expr):
        cmp = node.value
        if isinstance(cmp, cst.Comparison) and len(cmp.comparisons) == 1 \
                and isinstance(cmp.comparisons[0].operator, cst.Equal) \
                and isinstance(cmp.left, cst.Attribute) and _meant_requires_grad(cmp.left.attr.value):
            return [(cmp.left.value, cmp.comparisons[0].comparator, False)]
        return []
    if not isinstance(node, cst.Call):
        return []
    func = node.func
    if isinstance(func, cst.Attribute) and func.attr.value == "requires_grad_":
        return [(func.value, call_arg(node, 0, "requires_grad") or _TRUE, True)]
    if isinstance(func, cst.Name) and func.value == "setattr" and len(node.args) == 3 \
            and all(a.keyword is None and not a.star for a in node.args) and qualname(func, scope) == "setattr":
        name = string_value(node.args[1].value)
        if name is not None and _meant_requires_grad(name):
            return [(node.args[0].value, node.args[2].value, False)]
    return []


class Flow(cst.CSTVisitor):
    """Events of one body, in order. Nested functions and classes are bodies of their own."""

    def __init__(self, facts: Facts, scope: Scope, summaries: "Summaries", depth: int = 0) -> None:
        self.facts = facts
        self.scope = scope
        self.summaries = summaries
        self.depth = depth
        self.events: list[Event] = []
        self._loops: list[int] = []
        self._branches: list[tuple[int, int]] = []
        # (if id, arm) that every later event of the body is in: the other arm ends in return/raise
        self.escapes: list[tuple[int, int]] = []
        self._body_loops: list[cst.CSTNode | None] = []  # loops whose body is being visited (None: an else)
        self._stmt: cst.CSTNode | None = None
        self._bn_guard: list[str] = []  # names proven BatchNorm by an enclosing check
        self._tensor_guard: list[str] = []  # names proven tensors by an enclosing isinstance check
        self._tests: list[list] = []  # the enclosing `if` tests, innermost last, each [test, arm]
        # `if "fc" in n: continue` earlier in a loop body: (loop id, test, the arm that goes on)
        self._skips: list[tuple[int, cst.BaseExpression, int]] = []
        self._comps: list[Scope] = []  # comprehensions entered, innermost last
        self._heads: list[cst.While | None] = []  # the loop whose head (`while` test) is being visited
        self.returns: list[cst.BaseExpression | None] = []  # values of this body's `return`s
        # the class whose instance this list follows (flow.FileFlows.instances): its methods' events
        # come after `__init__`'s, in one loop
        self.instance: str | None = None

    @classmethod
    def of_body(cls, facts: Facts, scope: Scope, body, summaries: "Summaries", depth: int = 0) -> "Flow":
        flow = cls(facts, scope, summaries, depth)
        for stmt in body:
            traverse.visit(stmt, flow)
        flow.events = [e for e in flow.events if not e.detail.get("part") or _part_frozen(flow.events, e)]
        for i, e in enumerate(flow.events):
            e.index = i
        return flow

    def _emit(self, kind: str, target: str | None, node: cst.CSTNode, on: cst.BaseExpression | None = None,
              **detail) -> None:
        """An event on `target`; `on` is the expression a train() reaches (`model`, `model.module`):
        when its class overrides train(), the event says which class (`override`)."""
        if kind == TRAIN and on is not None:
            cls = self.summaries.overrides_train(on, self.scope)
            if cls:
                detail["override"] = cls
                keeps = self.summaries.override_keeps(on, self.scope)
                if keeps is not None:  # what the override provably keeps in eval (modes.train_keeps)
                    detail["keeps"] = keeps
            reach = self._reach(on, target, detail.pop("reach_inner", None))
            if reach:
                detail["reach"] = reach
        if kind == OPT_BUILD:  # every route into here must give the rules the same keys
            detail = {**UNKNOWN_OPT, "path": target, **detail}
        if target:
            self.events.append(Event(kind, target, node, self._stmt, 0, tuple(self._loops),
                                     (*self._branches, *self.escapes), detail))
        compiled = self._compiled_from(target) if kind == TRAIN and target else None
        if compiled:  # `cmodel.train()` of `cmodel = torch.compile(model)` sets the modes of model's modules
            self.events.append(Event(kind, compiled, node, self._stmt, 0, tuple(self._loops),
                                     (*self._branches, *self.escapes), dict(detail)))

    def _reach(self, on: cst.BaseExpression, target: str | None, inners: list | None) -> list | None:
        """The parts of `target` a train() reaches, as `[path, holds BatchNorm]` pairs, when it
        does not reach all of it: `net.head.train()` -> `[["net.head", False]]`; a helper that
        trains only a part of its parameter (`inners`, relative to it: `[[".head", False]]`)
        placed under the argument. None for all of it (`model.train()`, `model.module.train()`)."""
        base = part_path(unwrap_self_returning(on))
        if not base or not target:
            return None
        base = whole_of(base, target)
        paths = [[base + inner, bn] for inner, bn in inners] if inners else [[base, None]]
        if any(p == target or not p.startswith((target + ".", target + "[")) for p, _ in paths):
            return None  # all of the model, or not known which part
        return [[p, bn if bn is not None else self.summaries.holds_batchnorm(on, self.scope, part=True)]
                for p, bn in paths]

    def _compiled_from(self, name: str) -> str | None:
        """`cmodel = torch.compile(model)` (its only binding): "model", else None."""
        owner = self.scope.lookup(name) if "." not in name else None
        bindings = owner.bindings.get(name, []) if owner is not None else []
        call = bindings[0].node if len(bindings) == 1 and bindings[0].how == "expr" else None
        if not isinstance(call, cst.Call) or not call.args \
                or self.facts.qualname(call.func, bindings[0].scope or owner) != "torch.compile":
            return None
        inner = root_of(unwrap_self_returning(call.args[0].value))
        return inner if inner != name else None

    # structure ---------------------------------------------------------------------
    def visit_FunctionDef(self, node) -> bool:
        return False  # a body of its own

    def visit_ClassDef(self, node) -> bool:
        return False

    def visit_Lambda(self, node) -> bool:
        return False

    def visit_SimpleStatementLine(self, node) -> None:
        self._stmt = node

    def visit_Return(self, node: cst.Return) -> None:
        self.returns.append(node.value)

    def _loop(self, node, parts) -> bool:
        self._stmt = node
        self._heads.append(node if isinstance(node, cst.While) else None)
        for part in parts[:1]:
            traverse.visit(part, self)
        self._heads.pop()
        self._loops.append(id(node))
        if isinstance(node, cst.For):  # the target is bound at the head of every pass
            for name in self._fresh_items(node.target, node.iter, 0):
                self._emit(REBIND, name, node.iter, items=True)
        for part, own in zip(parts[1:], (node, None)):  # a continue in the loop's `else` is another loop's
            if part is not None:
                self._body_loops.append(own)
                traverse.visit(part, self)
                self._body_loops.pop()
        self._skips = [k for k in self._skips if k[0] != id(node)]
        self._loops.pop()
        return False

    def visit_For(self, node: cst.For) -> bool:
        return self._loop(node, [node.iter, node.body, node.orelse])

    def visit_While(self, node: cst.While) -> bool:
        return self._loop(node, [node.test, node.body, node.orelse])

    def visit_With(self, node: cst.With) -> None:
        self._stmt = node

    def leave_WithItem(self, node: cst.WithItem) -> None:
        # `with build() as model:` binds what the new object's __enter__ gives, that object
        # itself for a Module or any usual context manager: a REBIND where `model = build()` is one
        if node.asname is not None:
            self._rebind(node.asname.name, node.item)

    def leave_NamedExpr(self, node: cst.NamedExpr) -> None:
        # `(model := build())`, bound where the expression is evaluated; a walrus in a `while` test
        # binds again before every pass: the REBIND is in the loop, as a `for` target's is
        head = self._heads[-1] if self._heads else None
        if head is not None:
            self._loops.append(id(head))
        self._rebind(node.target, node.value)
        if head is not None:
            self._loops.pop()

    def visit_If(self, node: cst.If) -> bool:
        self._stmt = node
        traverse.visit(node.test, self)
        guards = self._bn_names(node.test)
        self._branches.append((id(node), 0))
        self._tests.append([node.test, 0])
        self._bn_guard.extend(guards)
        tensors = tensor_guards(node.test, lambda e: self.facts.qualname(e, self.scope))
        self._tensor_guard.extend(tensors)
        start = len(self.events)
        traverse.visit(node.body, self)
        del self._bn_guard[len(self._bn_guard) - len(guards):]
        del self._tensor_guard[len(self._tensor_guard) - len(tensors):]
        self._branches[-1] = (id(node), 1)
        self._tests[-1][1] = 1
        if node.orelse is not None:
            traverse.visit(node.orelse, self)
        self._branches.pop()
        self._tests.pop()
        ends = [_ends_body(node.body), isinstance(node.orelse, cst.Else) and _ends_body(node.orelse.body)]
        if ends[0] != ends[1]:  # what follows the if runs only after the arm that goes on
            self.escapes.append((id(node), 1 if ends[0] else 0))
        else:
            self._jump(node, start)
        return False

    def visit_Match(self, node: cst.Match) -> bool:
        """`match`/`case`: each case an arm of its own, exclusive of the others as if/elif arms are
        (what follows the statement is taken to run after any of them)."""
        self._stmt = node
        traverse.visit(node.subject, self)
        for i, case in enumerate(node.cases):
            self._branches.append((id(node), i))
            if case.guard is not None:
                traverse.visit(case.guard, self)
            traverse.visit(case.body, self)
            self._branches.pop()
        return False

    def _jump(self, node: cst.If, start: int) -> None:
        """One arm ends in continue/break, the other goes on: mark the arm's events with the jump."""
        loop = self._body_loops[-1] if self._body_loops else None
        if loop is None:
            return
        kinds = [_jump_kind(node.body), _jump_kind(node.orelse.body) if isinstance(node.orelse, cst.Else) else None]
        if (kinds[0] is None) == (kinds[1] is None):
            return  # neither arm jumps, or both do (nothing after the if runs)
        arm = 0 if kinds[0] else 1
        if kinds[arm] == "continue":  # what follows in this pass runs under the other arm's test
            self._skips.append((id(loop), node.test, 1 - arm))
        test = loop.test if isinstance(loop, cst.While) else None
        exits = not (isinstance(test, cst.Name) and test.value == "True"
                     or isinstance(test, cst.Integer) and test.value != "0")
        jump = Jump(id(node), arm, id(loop), kinds[arm], exits)
        for e in self.events[start:]:
            if (id(node), arm) in e.branches:
                e.jumps = (*e.jumps, jump)

    def _bn_names(self, test: cst.BaseExpression) -> list[str]:
        """Names an `if` proves to be BatchNorm layers: isinstance or class-name checks."""
        out = []
        for node in walk(test):
            if isinstance(node, cst.Call) and self.facts.qualname(node.func, self.scope) == "isinstance":
                subject, classes = call_arg(node, 0), call_arg(node, 1)
                if isinstance(subject, cst.Name) and classes is not None:
                    exprs = [e.value for e in classes.elements] if isinstance(classes, cst.Tuple) else [classes]
                    if any(is_batchnorm_class(self.facts.qualname(e, self.scope)) for e in exprs):
                        out.append(subject.value)
        out.extend(name for name, _cls in batchnorm_name_tests(test, self._bound_once, covering=True))
        return out

    def _bound_once(self, name: str) -> cst.BaseExpression | None:
        """The value of the one assignment to `name` in this scope (`classname = m.__class__.__name__`)."""
        bindings = self.scope.bindings.get(name, [])
        return bindings[0].node if len(bindings) == 1 and bindings[0].how == "expr" else None

    # events ------------------------------------------------------------------------
    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        facts, scope = self.facts, self.scope
        q = facts.qualname(func, scope)
        if isinstance(func, cst.Attribute):
            method, recv = func.attr.value, func.value
            target = root_of(recv)
            if method == "train":
                mode = _mode_arg(node, True)
                if mode is False:
                    self._emit(EVAL, target, node)
                    self._maybe_bn_freeze(recv, node)
                elif mode is None and self._saved_mode(node, recv):
                    # `model.train(was_training)`: back to the mode it had, a train() only for a model
                    # that was training (which undoes its parts' eval(), FZ201), none for one in eval
                    self._emit(TRAIN, target, node, on=recv, restores=True)
                else:
                    self._emit(TRAIN, target, node, on=recv)
            elif method == "eval":
                self._emit(EVAL, target, node)
                self._maybe_bn_freeze(recv, node)
            elif method == "apply" and node.args:
                fn = node.args[0].value
                if self.summaries.bn_freezer(fn, scope):
                    path = part_path(recv)  # `model.backbone.apply(fix_bn)`: within the backbone
                    self._emit(BN_FREEZE, target, node,
                               **({"within": path} if path and target and path.startswith(target + ".") else {}))
                if target is not None and (path := part_path(recv)) and self.summaries.whole_freezer(fn, scope):
                    # `model.backbone.apply(freeze)`: every module's parameters, so all of the backbone's
                    self._emit(FREEZE, target, node, sub=path)
                elif target is not None and path:
                    # `model.apply(freeze_backbone)` of a function that picks the modules it freezes
                    # (an isinstance or class-name test): some parameters of the model, which not known
                    shown = " ".join(code_of(node).split())
                    shown = shown if len(shown) <= 60 else f"{dotted(recv) or target}.apply({code_of(fn)[:40]}...)"
                    for kind, picks in self.summaries.applied(fn, scope, node, self.depth):
                        self._emit(kind, target, node, sub=path, applied=shown,
                                   **({"picked": ((shown, 0),)} if picks else {}))
            elif method == "requires_grad_":
                pass  # below, with the other forms of a requires_grad change
            elif method in _GIVES_OPTIMIZER:
                self._emit(ADD_GROUP, target, node)
            elif method == "reset_classifier" and self._timm_model(recv) and not _zero_classes(node):
                # timm builds a new classifier layer (`num_classes=0`: an nn.Identity, no parameters)
                self._emit(REPLACE, target, node, path=dotted(recv), classifier=True)
            elif method == "make_trainable" and node.args and self._base_finetuning(recv):
                # BaseFinetuning's unfreeze, without the add_param_group of unfreeze_and_add_param_group
                arg = node.args[0].value
                for m in ([e.value for e in arg.elements] if isinstance(arg, (cst.List, cst.Tuple)) else [arg]):
                    self._emit(UNFREEZE, root_of(m), node, sub=part_path(m), finetuning=True)
            elif method in ("backward", "step"):
                self._emit(ACTIVITY, "*", node)
            elif target is not None:
                # a method of a Module class of the project: what it does to `self` happens here
                effects = self.summaries.method(recv, method, scope, self.depth)
                for kind, detail in effects:
                    self._emit(kind, target, node, on=recv, **_placed(kind, detail, part_path(recv)))
                on_self = bool(effects)  # a method of a Module class of the project
                if not effects:  # `trainer.freeze_backbone()`: on what a plain class holds, given to it
                    effects = self._held_method(recv, method, node)
                if not on_self and node.args:
                    # `trainer.freeze(model)`: on what it is given, as a helper's call
                    effects = self._method_args(recv, method, node) or effects
                if not effects and method in LIBRARY_FREEZES and self._not_project_class(recv, scope):
                    # transformers' own freeze of a part of the model (which part, its class says)
                    # the part is not known here: named by the call, inside the receiver
                    where = dotted(recv) or target
                    self._emit(FREEZE, target, node, via=f"{where}.{method}", sub=f"{where}.{method}()",
                               library=LIBRARY_FREEZES[method])
                elif not effects and _BN_FREEZER.match(method) and self._held_unknown(recv):
                    # `self.model.freeze_bn()` in a trainer's __init__, the model's class not known
                    # here (a star import, a factory): a BatchNorm freeze by its name
                    self._emit(BN_FREEZE, target, node, via=f"{dotted(recv)}.{method}")
                elif not effects and isinstance(recv, cst.Name) and not method.startswith("_") \
                        and method not in MODULE_METHODS:
                    # on a receiver of unknown class (a helper's parameter): a caller that knows
                    # the class applies the method (`model.freeze_bn()` inside train_one_epoch)
                    self._emit(CALLS + method, target, node)
        for obj, value, called in requires_grad_sets(node, scope):
            self._requires_grad(obj, value, called, node)
        classes = optimizer_classes(func, scope)
        if classes and node.args:
            self._opt_build(node, classes)
        if q in _DDP and node.args:
            self._emit(DDP_WRAP, root_of(unwrap_self_returning(node.args[0].value)), node)
        wrapped = peft_wrap(facts, node, q, scope)
        if wrapped is not None:
            model = unwrap_self_returning(wrapped[0])
            # `get_peft_model(AutoModel.from_pretrained(...), cfg)`: the model given has no name, only
            # the PeftModel returned (named where it is assigned); a target no name can equal
            self._emit(PEFT, root_of(model) or "<call>", node, sub=part_path(model), config=wrapped[1])
        if q in KBIT_PREPARE and (given := call_arg(node, 0, "model")) is not None:
            # peft's preparation of a quantized model sets requires_grad=False on every parameter
            given = unwrap_self_returning(given)
            self._emit(FREEZE, root_of(given), node, sub=part_path(given))
        # calls that hand a model to a helper (of this file, or imported), or run its forward
        if isinstance(func, cst.Name):
            callee = facts.resolve_def(func, scope)
            # `Trainer(model)`: a plain class of this file whose __init__ acts on what it is given
            # (builds the optimizer over it) acts at the call, its arguments one position on
            shift, built = 0, None
            if callee is None and (built := self._constructor(func, scope)) is not None:
                callee, shift = built, 1
            inherited = self._inherited_init(func, scope) if callee is None else None
            for i, arg in enumerate(a for a in node.args if a.keyword is None and not a.star):
                target = root_of(arg.value)
                if target is None:
                    continue
                if callee is not None:
                    effects = [(k, self.summaries.detail(callee, i + shift, k))
                               for k in self.summaries.of(callee, i + shift, self.depth)
                               if built is not None or not self.summaries.switched_off(callee, i, k, node, False)]
                    if built is not None:
                        effects = [(k, {**d, "via": func.value} if "via" in d else d) for k, d in effects]
                    else:
                        effects += self._flag_freeze(callee, i, node, effects)
                elif inherited is not None:  # `FineTuner(model)` runs the __init__ of a base of another file
                    effects = self.summaries.external_init(inherited, i, func.value)
                else:
                    effects = self.summaries.external(func, scope, i, node)
                for kind, detail in effects:
                    if kind.startswith(CALLS):  # the helper calls a method of what it was given
                        for k2, d2 in self.summaries.method(arg.value, kind[len(CALLS):], scope, self.depth):
                            edges = [*detail.get("edges", ()), *d2.get("edges", ())]  # both files, if any
                            d2 = _placed(k2, d2, part_path(arg.value))
                            self._emit(k2, target, node, on=arg.value,
                                       **{**d2, **({"edges": edges} if edges else {})})
                    else:
                        if kind == OPT_BUILD:
                            detail = {**detail, "path": dotted(arg.value) or target}
                        if kind == OPAQUE:  # the callable it hands the model to may be known here
                            detail = self._handed(node, detail)
                            if detail is None:
                                continue
                        self._emit(kind, target, node, on=arg.value, **_placed(kind, detail, part_path(arg.value)))
                if callee is None and not effects and self._is_param(func):
                    self._emit(OPAQUE, target, node, via=func.value, hands=[self._hand(func.value, i)])
                # handed to a function that may run it; one whose effects are known runs it only
                # where its own ACTIVITY (placed among them in body order) says
                known = [k for k, _ in effects if not k.startswith(VIA)]
                if any(k.startswith(CALLS) for k in known) \
                        or (not known and self.facts.is_module(arg.value, scope) and not _builtin(func, scope)):
                    self._emit(ACTIVITY, target, node)
            if callee is not None and built is None:
                self._globals_acted_on(callee, node)
            owner = scope.lookup(func.value)
            if owner is not None and facts.is_module(func, scope):
                self._emit(ACTIVITY, func.value, node)

    def _flag_freeze(self, callee: cst.FunctionDef, pos: int, call: cst.Call, effects: list) -> list[tuple[str, dict]]:
        """`set_trainable(encoder, requires_grad=False)` of a helper that sets `p.requires_grad =
        requires_grad` over its argument's parameters, the flag defaulting to False (FREEZE_BY_DEFAULT
        there): a freeze, as a helper with a literal False is, where the call passes False or leaves
        the flag to its default; an unfreeze where it passes True; nothing where it passes anything
        else or `*args` / `**kwargs`."""
        e = self.summaries.first_event(callee, pos, FREEZE_BY_DEFAULT)
        if e is None or any(k == FREEZE for k, _ in effects) or any(a.star for a in call.args):
            return []
        params = [*callee.params.posonly_params, *callee.params.params]
        at = next((j for j, p in enumerate(params) if p.name.value == e.detail.get("flag")), None)
        if at is None:
            return []
        passed = call_arg(call, at, params[at].name.value)
        flag = "False" if passed is None else passed.value if isinstance(passed, cst.Name) else None
        if flag not in ("False", "True") or any(k == UNFREEZE for k, _ in effects):
            return []
        kind = FREEZE if flag == "False" else UNFREEZE  # `requires_grad=True`: the same helper unfreezes
        return [(kind, {"via": callee.name.value, **self.summaries._inner(callee, pos, FREEZE_BY_DEFAULT)})]

    def _globals_acted_on(self, callee: cst.FunctionDef, node: cst.Call) -> None:
        """A function of this file that acts on a module-level name it only reads (`def freeze_model():
        for p in model.layer1.parameters(): ...`, trial 34): its events on that name happen at the call,
        where the call sees the same binding (at module level, or in a function that binds no `model`). So
        do a nested function's on a name of the function around it, called where that name is seen."""
        for name in self.summaries.globals_read(callee, self.depth):
            if self.scope.lookup(name) is not self.summaries.read_from(callee, name):
                continue  # the caller's own `model`: not what the helper acts on
            on = cst.Name(name)
            for kind in self.summaries.of(callee, GLOBAL + name, self.depth):
                detail = self.summaries.detail(callee, GLOBAL + name, kind)
                if kind.startswith(CALLS):  # the helper calls a method of the global
                    for k2, d2 in self.summaries.method(on, kind[len(CALLS):], self.scope, self.depth):
                        self._emit(k2, name, node, on=on, **_placed(k2, d2, name))
                    continue
                if kind == OPT_BUILD:
                    detail = {**detail, "path": name}
                if kind == OPAQUE and (detail := self._handed(node, detail)) is None:
                    continue
                self._emit(kind, name, node, on=on, **_placed(kind, detail, name))

    def _held_method(self, recv: cst.BaseExpression, method: str, node: cst.Call) -> list:
        """A method of a plain project class called on an instance built in this body (`trainer =
        Trainer(model)`, then `trainer.freeze_backbone()`): its events on the attributes that hold
        the constructor's arguments happen here, on those arguments (`model`), as a helper's
        events on its parameters happen at a call of it."""
        effects = self.summaries.held_method(recv, method, self.scope, self.depth)
        via = f"{dotted(recv)}.{method}"
        for arg, kind, detail in effects:
            target = RUNS if arg is RUNS_AT else root_of(arg)
            if target is None:
                continue
            detail = {**detail, "via": via} if "via" in detail else detail
            if kind.startswith(CALLS):  # the method calls a method of what it holds
                for k2, d2 in self.summaries.method(arg, kind[len(CALLS):], self.scope, self.depth):
                    self._emit(k2, target, node, on=arg, **_placed(k2, d2, part_path(arg)))
                continue
            if kind == OPT_BUILD:
                detail = {**detail, "path": dotted(arg) or target}
            elif kind == OPAQUE:  # the callables it hands the model to are the method's business
                detail = {**detail, "hands": [None]}
            self._emit(kind, target, node, on=arg, **_placed(kind, detail, part_path(arg)))
        return effects

    def _method_args(self, recv: cst.BaseExpression, method: str, node: cst.Call) -> list:
        """A method of a plain project class given a model (`trainer.freeze(model)`, `self._freeze(
        self.model)`): its events on the parameter happen here, on the argument, as a helper's."""
        out = []
        for i, arg in enumerate(a for a in node.args if a.keyword is None and not a.star):
            target = root_of(arg.value)
            if target is None:
                continue
            if any(a.star for a in node.args):
                break  # `*args` before it: which parameter it is is not known
            for kind, detail in self.summaries.method_args(recv, method, self.scope, i, self.depth):
                out.append(kind)
                if kind.startswith(CALLS):  # the method calls a method of what it was given
                    for k2, d2 in self.summaries.method(arg.value, kind[len(CALLS):], self.scope, self.depth):
                        self._emit(k2, target, node, on=arg.value, **_placed(k2, d2, part_path(arg.value)))
                    continue
                if kind.startswith(VIA):
                    continue
                if kind == OPT_BUILD:
                    detail = {**detail, "path": dotted(arg.value) or target}
                elif kind == OPAQUE:  # the callables it hands the model to are the method's business
                    detail = {**detail, "hands": [None]}
                self._emit(kind, target, node, on=arg.value, argument=True,
                           **_placed(kind, detail, part_path(arg.value)))
        return out

    def _hand(self, name: str, at: int) -> list | None:
        """`[index, name, at, none_default]` of the callable parameter `name` this body's function
        hands a model to, at position `at` of that call: a call site that passes a known
        callable there can tell what it does."""
        func = self.scope.node
        if not isinstance(func, cst.FunctionDef):
            return None
        params = [*func.params.posonly_params, *func.params.params]
        i = next((k for k, p in enumerate(params) if p.name.value == name), None)
        if i is None:
            return None
        default = params[i].default
        return [i, name, at, isinstance(default, cst.Name) and default.value == "None"]

    def _handed(self, call: cst.Call, detail: dict) -> dict | None:
        """A callee's OPAQUE (it hands the model to a callable it was given) at a call site: None
        when every callable this call hands in is proven to leave modes alone (`log_stats`, a
        project function that only reads: modes.quiet) or is not passed (a `None` default);
        re-pointed at this body's own parameter when the call passes one on; else kept."""
        hands = detail.get("hands")
        if not hands or any(h is None for h in hands) or any(a.star for a in call.args):
            return {**detail, "hands": [None]}  # `**cfg` may pass the callable: not known
        mine = []
        for index, name, at, none_default in hands:
            arg = call_arg(call, index, name)
            if arg is None and none_default or isinstance(arg, cst.Name) and arg.value == "None":
                continue  # never called: the helper's default is None
            if isinstance(arg, cst.Name):
                if self._is_param(arg):
                    mine.append(self._hand(arg.value, at))
                    continue
                fn = self.facts.resolve_def(arg, self.scope)
                if fn is not None and self.summaries.quiet(fn, at) or fn is None and self.summaries.external_quiet(
                        arg, self.scope, at):
                    continue
            return {**detail, "hands": [None]}
        return {**detail, "hands": mine} if mine else None

    def _constructor(self, func: cst.Name, scope) -> cst.FunctionDef | None:
        """The `__init__` of the plain (not nn.Module) class of this file `func` names, when it
        takes arguments besides self: a trainer or engine built over the model."""
        owner = scope.lookup(func.value)
        info = self.facts.classes.get(func.value)
        if owner is not self.facts.module_scope or info is None or info.is_module \
                or len(owner.bindings[func.value]) != 1 or info.node not in self.facts.module.body:
            return None  # rebound, nested, or a Module: its arguments are parts, not what it trains
        line = lineage(self.facts, info)
        found = chain_init(line[0] if line is not None else [info])
        init = found[1] if found is not None else None
        return init if init is not None and len(init.params.params) > 1 else None

    def _inherited_init(self, func: cst.Name, scope) -> str | None:
        """The project class of another file whose `__init__` a plain class of this file runs, for
        want of one of its own or of a base of this file (`class FineTuner(BaseTrainer): ...`)."""
        owner = scope.lookup(func.value)
        info = self.facts.classes.get(func.value)
        if owner is not self.facts.module_scope or info is None or info.is_module \
                or len(owner.bindings[func.value]) != 1 or info.node not in self.facts.module.body:
            return None
        line = lineage(self.facts, info)
        if line is None or line[1] is None or any(defines(c, "__init__") for c in line[0]):
            return None
        return line[1]

    def _is_param(self, func: cst.Name) -> bool:
        """`func` is a parameter of the function whose body this is (a callable handed in)."""
        owner = self.scope.lookup(func.value)
        return owner is self.scope and self.scope.kind == "function" \
            and all(b.how == "param" for b in owner.bindings.get(func.value, []))

    def _maybe_bn_freeze(self, recv: cst.BaseExpression, node: cst.Call) -> None:
        """`m.eval()` where m is known BatchNorm freezes BN statistics of the model it came from."""
        if isinstance(recv, cst.Name) and recv.value in self._bn_guard:
            origin = self.origin_model(recv.value)
            if origin is not None:
                self._emit(BN_FREEZE, origin, node, **self._within(recv.value, origin))
            else:
                self._emit(BN_FREEZE, recv.value, node)  # a parameter: what summaries look for
        kind = self.facts.kind(recv, self.scope)
        if kind is not None and is_batchnorm_class(kind.qual):
            root = root_of(recv)
            if root and "." in (dotted(recv) or ""):
                path = part_path(recv)  # `model.backbone.bn1.eval()`: the BatchNorm frozen is that one
                self._emit(BN_FREEZE, root, node, **({"within": path} if path and path.startswith(root + ".") else {}))
        elif self.summaries.holds_batchnorm(recv, self.scope, part=True):
            # a part proven to hold BatchNorm (`model.layer1.eval()`): a freeze of its statistics
            # where the body also freezes its parameters (`of_body` keeps only those)
            self._emit(BN_FREEZE, root_of(recv), node, part=part_path(recv))

    def _within(self, name: str, origin: str) -> dict:
        """`for m in model.backbone.modules()`: the BatchNorm frozen is within `model.backbone`
        (FZ201 tells it from a part a train() override re-evals); nothing for all of the model."""
        owner = self.scope.lookup(name)
        for b in owner.bindings.get(name, []) if owner is not None else ():
            walked = _walked(b, owner) if b.how == "iter" else None
            if walked is not None:
                path = part_path(walked.func.value)
                return {"within": path} if path and path.startswith(origin + ".") else {}
        return {}

    def origin_model(self, name: str) -> str | None:
        """`for m in model.modules()` -> "model"."""
        owner = self.scope.lookup(name)
        if owner is None:
            return None
        for b in owner.bindings.get(name, []):
            walked = _walked(b, owner) if b.how == "iter" else None
            if walked is not None and walked.func.attr.value in ("modules", "named_modules", "children",
                                                                 "named_children"):
                return root_of(walked.func.value)
        return None

    def _opt_build(self, node: cst.Call, classes: list[str]) -> None:
        """An optimizer built over the first argument's parameters, by one of `classes` (several
        where a name may hold either: `bnb.optim.AdamW8bit if args.use_8bit_adam else torch.optim.AdamW`);
        stateful only where every class is, with the call's arguments."""
        sources = param_sources(node.args[0].value, self.scope, self.facts.module)
        whole = any(s.path == s.root for s in sources)
        for s in sources:
            why = [_stateful(node, q, s.group) for q in classes]
            stateful = None if None in why else _reasons(why)  # type: ignore[arg-type]
            self._emit(OPT_BUILD, s.root, node, filtered=s.filtered, optimizer=" or ".join(classes), path=s.path,
                       whole=whole, stateful=stateful, comp=s.comp, conditional=s.conditional)

    def _not_project_class(self, recv: cst.BaseExpression, scope: Scope) -> bool:
        """`recv` is not an instance of a class of this file or of the project's (whose method of
        that name, if any, the summaries answer), and not `self`."""
        if isinstance(recv, cst.Name) and recv.value == "self":
            return False
        k = self.facts.kind(recv, scope)
        return k is None or (k.cls is None and (k.qual is None or is_library(k.qual)))

    def _held_unknown(self, recv: cst.BaseExpression) -> bool:
        """`recv` is `self.x` in the `__init__` of a trainer (a class that is no Module) and its
        class is not one of the project's (whose methods the summaries answer)."""
        owner = self.scope.cls
        return _self_attr(recv) is not None and owner is not None and not owner.is_module \
            and self.scope.func_name == "__init__" and self._not_project_class(recv, self.scope)

    def _timm_model(self, recv: cst.BaseExpression) -> bool:
        """`recv` is a model `timm.create_model(...)` built (not a submodule of one)."""
        k = self.facts.kind(recv, self.scope)
        return k is not None and k.sub is None and (k.factory or "").split(":")[0] in TIMM_FACTORIES

    def _base_finetuning(self, recv: cst.BaseExpression) -> bool:
        """`recv.make_trainable` is Lightning's BaseFinetuning's own: `BaseFinetuning.m(...)`, or
        `self.m(...)` in a subclass (through project classes too) none of which defines it itself."""
        if is_base_finetuning(self.facts.qualname(recv, self.scope)):
            return True
        s = self.scope
        while s is not None and s.cls is None:
            s = s.parent
        if not (isinstance(recv, cst.Name) and recv.value == "self" and s is not None and s.is_method):
            return False
        bases, own = library_bases(self.facts, s.cls.node)
        return not own and any(is_base_finetuning(q) for q in bases)

    def _requires_grad(self, obj: cst.BaseExpression, value: cst.BaseExpression, called: bool,
                       node: cst.CSTNode) -> None:
        """A requires_grad change (any form `requires_grad_sets` knows), as an event on the model
        whose parameters it changes. Forms FZ101-FZ104 flag as broken count as the freeze
        the author meant, so FZ301-FZ303 report now instead of after the fix."""
        kind = self._flag_kind(value)
        picked = self._picked(obj)
        if kind is None and picked is not None and self._name_test(obj, value):
            # `p.requires_grad = "adapter" in name`: False for every parameter whose name fails the test
            kind, picked = FREEZE, (*picked, (code_of(value), 1))
        if kind is None or kind == UNFREEZE and self._reset(obj):
            return
        target, sub = self._param_owner(obj), self._param_path(obj)
        extra = {"flag": code_of(value)} if kind == FREEZE_BY_DEFAULT else {}
        walked = self._param_walk(obj.value) if isinstance(obj, cst.Name) else None
        # `for p in list(model.parameters())[:-2]`, `for child in list(model.children())[:-1]`: a
        # slice of them, by position (some are left out): a subset, as one picked by a name test
        cuts = [walked[1] if walked is not None else None,
                self._through_children(walked[0].func.value if walked is not None else obj)[2]]
        for cut in cuts:
            if cut is not None:
                picked = (*(picked or ()), (cut, 1))
                extra["cut"] = cut
        if picked:  # a subset of the loop's parameters, picked by their names
            extra["picked"] = picked
        # FZ102's two claims: a Module, or a part of one by its name (`self._model.backbone`)
        module_flag = not called and (sets_module_flag(self.facts, obj, self.scope, self._tensor_guard, value)
                                      or named_part(self.facts, obj, self.scope, self._tensor_guard) is not None)
        named = self._getattr_parts(walked[0].func.value if walked is not None else obj) \
            if target is None else None
        if named is not None:  # `getattr(model, name)` of `for name in ["conv1", "layer1"]`: each part
            for sub in named[1]:
                self._emit(kind, named[0], node, sub=sub, **extra)
            return
        unnamed = self._unnamed_parts(walked[0].func.value if walked is not None else obj) \
            if kind == UNFREEZE and (walked is not None or called) else None
        if unnamed is not None:  # gradual unfreezing of a part picked at run time (`stages[epoch]`)
            root, subs, cut = unnamed
            for sub in subs:
                self._emit(kind, root, node, sub=sub, **extra, **({"cut": cut} if cut else {}))
            return
        if target is None and (called or module_flag):
            # `model.requires_grad_(False)`, or FZ102's `model.requires_grad = False`: the object names itself
            # (a child of a children loop: a part of the model walked)
            sub, target, _ = self._through_children(obj)
        if module_flag:  # FZ102's `model.layer1.requires_grad = False` too: a part, frozen only as meant
            extra["broken"] = "FZ102"
        elif not called and walked is None and self._kind_unknown(obj):
            # `model.encoder.requires_grad = False` of a loaded model: a Parameter's flag (a freeze) or a
            # Module's plain attribute (nothing): which one, not known
            extra["unsure"] = code_of(obj)
        # the form's own code first (`x.requires_grad_ = False` on a Module is FZ101's): the finding on that line
        broken = _broken_form(node) or extra.get("broken")
        if broken:  # the freeze meant, which as written changes nothing: messages say so
            extra["broken"] = broken
        self._emit(kind, target, node, sub=sub, **extra)
        picks = self._modules_picked(target) if kind in (FREEZE, UNFREEZE) and not broken else None
        if picks is not None:  # as `model.apply(fn)` of a function that picks: part of the model walked
            walked, tests = picks
            shown = " and ".join(code if arm == 0 else _negated(code) for code, arm in tests)
            shown = " ".join(shown.split())
            self._emit(kind, root_of(walked.func.value), node, sub=part_path(walked.func.value), picked=tests,
                       applied=shown if len(shown) <= 60 else shown[:57] + "...", item=target)

    def _modules_picked(self, target: str | None) -> tuple[cst.Call, tuple] | None:
        """`m` of a `for m in model.modules()` loop being visited (`named_modules()`, or a walk of
        the children none slices), changed under `if` tests on the names the loop binds
        (`isinstance(m, nn.BatchNorm2d)`, `name.startswith("backbone")`, or a `continue` under one
        before the change): the call walked, and those tests as (code, arm). What the loop changes is then part of the model, which part not known,
        as for `model.apply(fn)` of a function that picks. None for anything else."""
        owner = self._binder(target) if target is not None and target.isidentifier() else None
        bound = owner.bindings.get(target, []) if owner is not None else []
        loop = next((lp for lp in reversed(self._body_loops) if isinstance(lp, cst.For)
                     and any(b.how == "iter" and b.node is lp.iter for b in bound)), None)
        walked = _walked(next(b for b in bound if b.node is loop.iter), owner) if loop is not None else None
        if walked is None or walked.args or walked.func.attr.value not in _MODULE_WALKS \
                or root_of(walked.func.value) is None or part_path(walked.func.value) is None:
            return None
        names = {n.value for n in walk(loop.target) if isinstance(n, cst.Name)}
        # an `if not isinstance(m, nn.BatchNorm2d): continue` before the change picks as an `if` around it
        skips = [(t, arm) for lp, t, arm in self._skips if lp == id(loop)]
        tests = tuple((code_of(t), arm) for t, arm in (*skips, *self._tests)
                      if any(isinstance(n, cst.Name) and n.value in names for n in walk(t)))
        return (walked, tests) if tests else None

    def _unnamed_parts(self, expr: cst.BaseExpression) -> tuple[str, list[str], str | None] | None:
        """A part of a model that the code picks at run time, as gradual unfreezing does: the model,
        the parts it may be, and the code of the pick where that leaves the part unnamed.
        `stages[epoch]` of `stages = [model.layer4, model.layer3]` (one name bound once): each of
        them, as over the epochs each is; `list(model.children())[-3 - epoch]` or
        `getattr(model, f"layer{4 - epoch}")`: some part of `model`, which not known (the pick as
        "cut": a subset, never all of it). None where `expr` names its part as a path does
        (`model.layer4`, `model.blocks[i]`) or is no part of a model known here."""
        if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name) and expr.func.value == "getattr" \
                and len(expr.args) == 2 and not any(a.star or a.keyword for a in expr.args) \
                and string_value(expr.args[1].value) is None:
            root = root_of(expr.args[0].value)
            return (root, [part_path(expr.args[0].value) or root], code_of(expr)) if root is not None else None
        if not (isinstance(expr, cst.Subscript) and len(expr.slice) == 1
                and isinstance(expr.slice[0].slice, cst.Index)):
            return None
        index, base = expr.slice[0].slice.value, expr.value
        if isinstance(base, cst.Name):  # `stages[epoch]`: a list display of parts, bound once
            owner = self._binder(base.value)
            bound = owner.bindings.get(base.value, []) if owner is not None else []
            node = bound[0].node if len(bound) == 1 and bound[0].how == "expr" and not bound[0].index else None
            if not isinstance(node, (cst.List, cst.Tuple)) or not node.elements \
                    or any(isinstance(el, cst.StarredElement) for el in node.elements):
                return None
            paths = [part_path(el.value) for el in node.elements]
            roots = {root_of(el.value) for el in node.elements}
            if None in paths or len(roots) != 1 or None in roots or "." not in "".join(paths):
                return None
            root = roots.pop()
            at = int(index.value) if isinstance(index, cst.Integer) else None
            return root, [paths[at]] if at is not None and at < len(paths) else paths, None
        if part_path(expr) is not None or isinstance(index, (cst.Integer, cst.SimpleString)) \
                or isinstance(index, cst.UnaryOperation) and isinstance(index.expression, cst.Integer):
            return None  # `model.blocks[i]`, `list(model.children())[-1]`: named as written
        inner = base.args[0].value if isinstance(base, cst.Call) and isinstance(base.func, cst.Name) \
            and base.func.value == "list" and len(base.args) == 1 else base
        container = inner.func.value if isinstance(inner, cst.Call) and isinstance(inner.func, cst.Attribute) \
            and inner.func.attr.value == "children" and not inner.args else inner
        root, path = root_of(container), part_path(container)
        if root is None or path is None or container is base and path == root:
            return None  # `x[i]` of a plain name: a tensor or a list, not known to be a model's part
        return root, [path], code_of(expr)

    def _kind_unknown(self, obj: cst.BaseExpression) -> bool:
        """Neither a Module (FZ102's `sets_module_flag` said no) nor a tensor can be established
        for `obj`: its `requires_grad = v` may change nothing."""
        if isinstance(obj, cst.Name) and obj.value in self._tensor_guard:
            return False
        if isinstance(obj, cst.Attribute) and obj.attr.value in ("weight", "bias"):
            return False  # a layer's Parameter by torch's own naming: no Module is called that
        return self.facts.kind(obj, self.scope) is None

    def _getattr_parts(self, expr: cst.BaseExpression) -> tuple[str, list[str]] | None:
        """`getattr(model, "layer1")`, or `getattr(model, name)` where `name` walks a literal list
        of strings (`for name in ["conv1", "bn1", "layer1"]`): the model and the parts named."""
        if not (isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name) and expr.func.value == "getattr"
                and len(expr.args) == 2 and not any(a.star or a.keyword for a in expr.args)):
            return None
        base, key = part_path(expr.args[0].value), expr.args[1].value
        root = root_of(expr.args[0].value)
        if base is None or root is None or self._binder(root.split(".")[0]) is None:
            return None
        names = [string_value(key)]
        if isinstance(key, cst.Name):
            owner = self._binder(key.value)
            bound = owner.bindings.get(key.value, []) if owner is not None else []
            its = {id(getattr(lp, "iter", None)) for lp in self._body_loops}
            mine = [b for b in bound if b.how == "iter" and id(b.node) in its]  # the loop being visited
            if len(mine) != 1 or mine[0].index or not isinstance(mine[0].node, (cst.List, cst.Tuple)):
                return None
            names = [string_value(el.value) for el in mine[0].node.elements]
        if not names or any(n is None or not n.isidentifier() for n in names):
            return None
        return root, [f"{base}.{n}" for n in names]

    def _name_var(self, obj: cst.BaseExpression) -> str | None:
        """The name variable of the `for name, p in X.named_parameters()` loop being visited that
        binds `obj` (`p`), else None."""
        b = self._param_loop(obj.value) if isinstance(obj, cst.Name) else None
        loop = next((lp for lp in self._body_loops if b is not None and getattr(lp, "iter", None) is b.node), None)
        target = loop.target if isinstance(loop, cst.For) else None
        if not isinstance(target, cst.Tuple) or len(target.elements) != 2 \
                or not isinstance(target.elements[0].value, cst.Name):
            return None
        return target.elements[0].value.value

    def _picked(self, obj: cst.BaseExpression) -> tuple | None:
        """The tests on the parameter's name that a requires_grad change of `obj` (`p` of a
        `named_parameters()` loop) sits under, each as (code, arm): which subset of the loop's
        parameters it changes (`()`: all of them), an `if "fc" in n: continue` before it in the
        loop's body included. None where `obj` is no such loop's parameter."""
        var = self._name_var(obj)
        if var is None:
            return None
        loops = {id(lp) for lp in self._body_loops if lp is not None}
        tests = [*((t, arm) for loop, t, arm in self._skips if loop in loops), *self._tests]
        return tuple((code_of(t), arm) for t, arm in tests
                     if any(isinstance(n, cst.Name) and n.value == var for n in walk(t)))

    def _name_test(self, obj: cst.BaseExpression, value: cst.BaseExpression) -> bool:
        """`value` is a test on the loop's parameter name (`"adapter" in name or "gate" in name`,
        `name.startswith("fc")`, `not ...`): the flag it sets differs between the loop's parameters."""
        var = self._name_var(obj)
        return var is not None and _name_test(value, var)

    def _reset(self, obj: cst.BaseExpression) -> bool:
        """`v.requires_grad = True` as a statement of a loop body that a later statement of the
        same body freezes again, under a condition (YOLOv5: `v.requires_grad = True  # train all
        layers`, then `if any(x in k for x in freeze): v.requires_grad = False`): a reset before a
        partial freeze, not an unfreeze. Which parameters end up trainable is the freeze's to say."""
        loop = self._body_loops[-1] if self._body_loops else None
        body = loop.body.body if loop is not None and isinstance(loop.body, cst.IndentedBlock) else ()
        at = next((i for i, st in enumerate(body) if st is self._stmt), None)
        # the loop walks what is reset (`for k, v in model.named_parameters()`): a training loop's
        # `netD.requires_grad_(True)` before `netD.requires_grad_(False)` for G's step is a toggle
        walked = {n.value for n in walk(loop.target) if isinstance(n, cst.Name)} if isinstance(loop, cst.For) else set()
        if at is None or root_of(obj) not in walked:
            return False
        return any(isinstance(v, cst.Name) and v.value == "False" and o.deep_equals(obj)
                   for st in body[at + 1:] if isinstance(st, cst.If)
                   for n in walk(st) for o, v, _ in requires_grad_sets(n, self.scope))

    def _flag_kind(self, value: cst.BaseExpression) -> str | None:
        if isinstance(value, cst.Name):
            if value.value in ("True", "False"):
                return UNFREEZE if value.value == "True" else FREEZE
            owner = self.scope.lookup(value.value)
            if owner is self.scope and self.scope.kind == "function":
                b = owner.bindings[value.value]
                default = b[0].node.default if len(b) == 1 and isinstance(b[0].node, cst.Param) else None
                if isinstance(default, cst.Name) and default.value == "False" and not self._always_passed(b[0]):
                    return FREEZE_BY_DEFAULT
        return None

    def _always_passed(self, param: Binding) -> bool:
        """Every call of the function in this file passes the parameter, none as a literal False
        (`set_bn_grad(model, True)` only): then its default freezes nothing here."""
        func = param.func
        if not isinstance(func, cst.FunctionDef) or not param.index:
            return False
        calls = [c for c, sc in self.facts.extracted.calls_by_name.get(func.name.value, [])
                 if self.facts.resolve_def(c.func, sc) is func]
        pos, name = param.index[0], param.node.name.value  # type: ignore[union-attr]
        passed = [call_arg(c, pos, name) if pos >= 0 else  # -1: keyword-only
                  next((a.value for a in c.args if a.keyword is not None and a.keyword.value == name), None)
                  for c in calls]
        return bool(calls) and all(v is not None and not (isinstance(v, cst.Name) and v.value == "False")
                                   for v in passed)

    def visit_Assign(self, node: cst.Assign) -> None:
        for obj, value, called in requires_grad_sets(node, self.scope):
            self._requires_grad(obj, value, called, node)
        for t in node.targets:
            target = t.target
            if isinstance(target, cst.Attribute):
                if not _meant_requires_grad(target.attr.value) and self.facts.is_module(node.value, self.scope) \
                        and isinstance(node.value, cst.Call) \
                        and not is_parameter_free(self.facts.qualname(node.value.func, self.scope)) \
                        and not self._same_module(node.value, target):
                    self._emit(REPLACE, root_of(target.value), node, path=dotted(target))
            elif isinstance(target, cst.Subscript) and len(target.slice) == 1 \
                    and isinstance(target.slice[0].slice, cst.Index) \
                    and isinstance(target.slice[0].slice.value, (cst.Integer, cst.SimpleString)) \
                    and isinstance(node.value, cst.Call) and self.facts.is_module(node.value, self.scope) \
                    and (self.facts.is_module(target.value, self.scope)
                         or isinstance(target.value, cst.Attribute) and self._module_root(target.value)) \
                    and not is_parameter_free(self.facts.qualname(node.value.func, self.scope)):
                # `model[4] = nn.Linear(8, 3)`, `model.classifier[-1] = ...`: an item of a container replaced
                path = part_path(target)
                if path is not None:
                    self._emit(REPLACE, root_of(target.value), node, path=path)

    def _saved_mode(self, call: cst.Call, recv: cst.BaseExpression) -> bool:
        """`train(was_training)` where every binding of `was_training` in this scope is
        `<the same receiver>.training`: the mode saved before an eval() is restored, not set."""
        arg = call_arg(call, 0, "mode")
        if not isinstance(arg, cst.Name) or dotted(recv) is None:
            return False
        owner = self.scope.lookup(arg.value)
        bindings = owner.bindings.get(arg.value, []) if owner is self.scope else []
        return bool(bindings) and all(
            b.how == "expr" and isinstance(b.node, cst.Attribute) and not b.index
            and b.node.attr.value == "training" and dotted(b.node.value) == dotted(recv)
            for b in bindings)

    def _same_module(self, value: cst.BaseExpression, target: cst.Attribute) -> bool:
        """`model.fc = model.fc.to(device)`, `model.layer4 = torch.compile(model.layer4)`: the part
        itself moved, cast or wrapped, with the very Parameters the optimizer holds, not a new layer."""
        while True:
            value = unwrap_self_returning(value)
            if not (isinstance(value, cst.Call) and value.args and value.args[0].keyword is None
                    and self.facts.qualname(value.func, self.scope) in _SAME_PARAMS_WRAPPERS):
                break
            value = value.args[0].value
        return dotted(value) is not None and dotted(value) == dotted(target)

    def _module_root(self, expr: cst.Attribute) -> bool:
        """`model.classifier`: an attribute of a name known to hold a Module (its part)."""
        while isinstance(expr, (cst.Attribute, cst.Subscript)):
            expr = expr.value
        return isinstance(expr, cst.Name) and self.facts.is_module(expr, self.scope)

    def leave_Assign(self, node: cst.Assign) -> None:
        # the events of the value exist only once it was visited: each binding is made on the way
        # out, `a, b = x, y` as two (syntax.assigned_pairs)
        for t in node.targets:
            for target, value in assigned_pairs(t.target, node.value):
                self._assigned(target, value, len(node.targets) == 1)

    def leave_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._rebind(node.target, node.value)

    def _assigned(self, target: cst.BaseExpression, value: cst.BaseExpression, single: bool) -> None:
        # `opt = torch.optim.SGD(...)` (or `opt = make_optimizer(model)`): the optimizer's name
        if single and isinstance(target, cst.Name):
            for e in self.events:
                if e.kind == OPT_BUILD and e.node is value:
                    e.detail["name"] = target.value
                elif e.kind == PEFT and e.node is unwrap_self_returning(value):
                    e.detail["name"] = target.value  # `peft_model = get_peft_model(model, cfg)`: the wrapper
        self._rebind(target, value)
        if single:
            self._returned(target, value)
        self._carried(target, value)
        # `ddp = DDP(model)`: a change through `ddp.module...` is a change to the wrapped model;
        # so is one through `model` of `model = DDP(build_model(...))` (no name of its own before).
        if isinstance(value, cst.Call) and value.args and self.facts.qualname(value.func, self.scope) in _DDP:
            wrapped = {e.target for e in self.events if e.kind == DDP_WRAP and e.node is value}
            if isinstance(target, cst.Name) and target.value not in wrapped:
                self._emit(DDP_WRAP, target.value, value)

    def _rebind(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        """REBIND: a name (or `self.x`) bound to a new object (`model = nn.Sequential(...)`,
        `model = build_model(cfg)`): what was done to the object it held before is not done to this
        one. A value that names the old object (`model.to(dev)`, `DDP(model)`, `torch.compile(model)`,
        `accelerator.prepare(model, opt)`, `get_peft_model(model, cfg)`), directly or through a name
        of this body bound from it (`accelerator.unwrap_model(ddp)`), may be that object: no event."""
        for name in _bound_names(target):
            if self._fresh(value, name):
                self._emit(REBIND, name, value)
                evaled = _chained_eval(value)
                if evaled is not None:  # `self.vae = build().eval()`: the eval() of what `name` now holds
                    self._emit(EVAL, name, evaled, chained=True)

    def _fresh(self, value: cst.BaseExpression, name: str) -> bool:
        """`name = value` binds a new object: a call that does not read the name (`_rebind`)."""
        call = unwrap_self_returning(value)
        return isinstance(call, cst.Call) and "unwrap" not in (dotted(call.func) or "") \
            and not self._names(value, name, 1)

    def _fresh_items(self, target: cst.BaseExpression, it: cst.BaseExpression, depth: int) -> list[str]:
        """The names of a `for` target that each pass binds to a new object, by `_fresh`'s test of
        where the items come from: `for model in build_models(cfg)`, `for model in [resnet18(),
        resnet50()]`, through `enumerate`/`zip`/`sorted`/`.items()`/`.values()` and a name of this
        body bound once to such a value (`models = build_models(cfg)`) that nothing adds to. Items
        of a name otherwise (`for model in models`, a parameter) may be the object the name held
        (`for model in [model]`, `models.append(model)`): none."""
        if depth > 3:
            return []
        if isinstance(it, cst.Call):
            q, args = self.facts.qualname(it.func, self.scope), [a for a in it.args if a.keyword is None]
            pos = [a.value for a in args if not a.star]
            if q in ("enumerate", "zip", "reversed", "sorted", "list", "tuple", "iter", "filter") and len(pos) != len(args):
                return []  # `zip(*groups)`
            if q == "enumerate" and pos:
                return self._fresh_items(_pair(target)[1], pos[0], depth + 1) if _pair(target) else []
            if q == "zip":
                els = target.elements if isinstance(target, (cst.Tuple, cst.List)) else ()
                if len(els) != len(pos) or any(isinstance(el, cst.StarredElement) for el in els):
                    return []
                return [n for el, arg in zip(els, pos) for n in self._fresh_items(el.value, arg, depth + 1)]
            if q in ("reversed", "sorted", "list", "tuple", "iter", "filter", "itertools.islice", "itertools.cycle") \
                    and pos or (q or "").split(".")[0] == "tqdm" and pos:  # the items of what it is given
                return self._fresh_items(target, pos[-1] if q == "filter" else pos[0], depth + 1)
            if q == "itertools.chain":
                each = [set(self._fresh_items(target, arg, depth + 1)) for arg in pos]
                return sorted(set.intersection(*each)) if each else []
            if q == "map" or (q or "").startswith("itertools."):
                return []  # what `f` makes of each item, or items of what it is given: not known
            method = it.func.attr.value if isinstance(it.func, cst.Attribute) and not it.args else None
            if method == "values":
                return self._fresh_items(target, it.func.value, depth + 1)
            if method == "items":
                return self._fresh_items(_pair(target)[1], it.func.value, depth + 1) if _pair(target) else []
            return [n for n in _bound_names(target) if self._fresh(it, n)]
        if isinstance(it, (cst.List, cst.Tuple, cst.Set, cst.Dict)):
            values = [el.value for el in it.elements if isinstance(el, (cst.Element, cst.DictElement))]
            if not values or len(values) != len(it.elements):
                return []  # `[*models, net]`, `{**a}`
            return [n for n in _bound_names(target) if all(self._fresh(v, n) for v in values)]
        if isinstance(it, (cst.ListComp, cst.GeneratorExp, cst.SetComp, cst.DictComp)):
            elt = it.value if isinstance(it, cst.DictComp) else it.elt
            return [n for n in _bound_names(target) if self._fresh(elt, n) and not self._names(it, n, 1)]
        if isinstance(it, cst.Name):
            bindings = self.scope.bindings.get(it.value, []) if self.scope.lookup(it.value) is self.scope else []
            if len(bindings) != 1 or bindings[0].how != "expr" or bindings[0].node is None or bindings[0].index:
                return []
            names = self._fresh_items(target, bindings[0].node, depth + 1)
            return names if names and not self._added_to(it.value) else []  # the walk only where it decides
        return []

    def _added_to(self, container: str) -> bool:
        """Something of this body may put an object into the list or dict `container` names:
        `models.append(m)`, `models[k] = m`, `models += [m]`, or it is handed on (`fill(models)`)."""
        root = self.scope.node if self.scope.node is not None else self.facts.module
        for n in walk(root):
            if isinstance(n, cst.Call):
                if isinstance(n.func, cst.Attribute) and isinstance(n.func.value, cst.Name) \
                        and n.func.value.value == container and n.func.attr.value not in ("items", "values", "keys"):
                    return True
                if any(isinstance(a.value, cst.Name) and a.value.value == container for a in n.args) \
                        and self.facts.qualname(n.func, self.scope) not in _ITERATING:
                    return True
            elif isinstance(n, (cst.AugAssign, cst.Assign)):
                targets = [n.target] if isinstance(n, cst.AugAssign) else [t.target for t in n.targets]
                if any(isinstance(t, cst.Subscript) and isinstance(t.value, cst.Name) and t.value.value == container
                       or isinstance(n, cst.AugAssign) and isinstance(t, cst.Name) and t.value == container
                       for t in targets):
                    return True
        return False

    def _names(self, expr: cst.BaseExpression, name: str, depth: int) -> bool:
        """`expr` reads `name` (a name, or `self.x`), or reads a name of this body whose value does
        (to `depth` such steps)."""
        nodes = list(walk(expr))
        skip = {id(n.attr) for n in nodes if isinstance(n, cst.Attribute)} | \
            {id(n.keyword) for n in nodes if isinstance(n, cst.Arg) and n.keyword is not None}
        for n in nodes:
            if isinstance(n, cst.Attribute) and dotted(n) == name:
                return True
            if not isinstance(n, cst.Name) or id(n) in skip or n.value == "self":
                continue
            if n.value == name:
                return True
            owner = self.scope.lookup(n.value) if depth > 0 else None
            if owner is self.scope and any(b.how == "expr" and b.node is not None and b.node is not expr
                                           and self._names(_item_of(b), name, depth - 1)
                                           for b in owner.bindings[n.value]):
                return True
        return False

    def _carried(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        """`self.model = model` in a trainer (a class that is no Module), or in a Module's `__init__`:
        the BatchNorm freezes made on the local `model` (since it was last bound) hold for what the
        trainer holds, as they do for `self.model = DeepLab(...)` (FZ201 follows them into the
        trainer's methods), and for the Module's part (FZ201: its train() undoes them)."""
        held, local = _self_attr(target), unwrap_self_returning(value)
        owner = self.scope.cls
        if held is None or owner is None or owner.is_module and self.scope.func_name != "__init__" \
                or not isinstance(local, cst.Name) or local.value == "self":
            return
        frozen: list[Event] = []
        for e in list(self.events):
            if e.target == local.value and e.kind in (REBIND, TRAIN):  # a new model, or the freeze undone
                frozen = []
            elif e.target == local.value and e.kind == BN_FREEZE:
                frozen.append(e)
        for e in frozen:
            within = e.detail.get("within")
            detail = {**e.detail, **({"within": held + within[len(local.value):]} if within else {})}
            self._emit(BN_FREEZE, held, e.node, **detail)

    def _returned(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        """`model = build(cfg)` (or `build(cfg).to(device)`): the model arrives in the state
        `build` left the model it returns in (BatchNorm frozen, parameters frozen, eval())."""
        call = unwrap_self_returning(value)
        if isinstance(target, (cst.Tuple, cst.List)):
            self._returned_elements(target, call)
            return
        if self._built_into_module(target, call):
            return
        if isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and isinstance(target, cst.Name):
            kind = self.facts.kind(call, self.scope)  # `simsiam.builder.SimSiam(...)`: a class of another file
            if kind is not None and kind.tag == "module" and kind.cls is None and kind.qual and not is_library(kind.qual):
                self._constructed_freezes(self.summaries.external_constructed_freezes(kind.qual), target.value, call,
                                          kind.qual.rsplit(".", 1)[-1])
            return
        if not isinstance(call, cst.Call) or not isinstance(call.func, cst.Name):
            return
        held = _self_attr(target)  # `self.model = Net()`: what a trainer (not a Module: its parts) holds
        owner = self.scope.cls
        held = held if owner is not None and not owner.is_module else None
        if not isinstance(target, cst.Name) and held is None:
            return
        callee = self.facts.resolve_def(call.func, self.scope)
        kind = self.facts.kind(call, self.scope) if callee is None else None
        if kind is not None and kind.tag == "module" and kind.cls is not None:
            # `net = Net()`: a Module class of the file; the parameters its __init__ froze are frozen
            if held is None:
                self._constructed_freezes(self.summaries.constructed_freezes(kind.cls), target.value, call,
                                          kind.cls.name)
            self._constructed_bn_freezes(self.summaries.constructed_bn(kind.cls), held or target.value, call,
                                         kind.cls.name)
            return
        project_class = kind is not None and kind.tag == "module" and kind.qual and not is_library(kind.qual)
        if project_class:  # a Module class of another project file: its summary says
            self._constructed_bn_freezes(self.summaries.external_constructed_bn(kind.qual), held or target.value,
                                         call, kind.qual.rsplit(".", 1)[-1])
        if held is not None:
            return
        if project_class:
            self._emit(BUILT, target.value, call, via=kind.qual.rsplit(".", 1)[-1])
            self._constructed_freezes(self.summaries.external_constructed_freezes(kind.qual), target.value, call,
                                      kind.qual.rsplit(".", 1)[-1])
        if callee is not None:
            effects = self._effects_at(callee, RET, call)
        else:
            effects = self.summaries.external(call.func, self.scope, RET, call if isinstance(call, cst.Call) else None)
        for kind, detail in effects:
            if kind.startswith(CALLS):  # the builder called a method of the model it returns
                for k2, d2 in self.summaries.method(target, kind[len(CALLS):], self.scope, self.depth):
                    if k2 in Summaries.RETURNED:
                        self._emit(k2, target.value, call, **_placed(k2, d2, target.value))
            elif kind in Summaries.RETURNED or kind.startswith(VIA):
                self._emit(kind, target.value, call, **_placed(kind, detail, target.value))

    def _returned_elements(self, target: cst.Tuple | cst.List, call: cst.BaseExpression) -> None:
        """`model_ft, input_size = initialize_model(...)` with a builder of this file that returns the
        model in a tuple (`return model_ft, input_size`): each name arrives as `_returned` has a model
        arrive, from what the builder did to its element. A builder of another file: its summary's
        element positions say."""
        if not isinstance(call, cst.Call) or not isinstance(call.func, cst.Name) \
                or any(isinstance(el, cst.StarredElement) for el in target.elements):
            return
        callee = self.facts.resolve_def(call.func, self.scope)
        for index, el in enumerate(target.elements):
            if not isinstance(el.value, cst.Name):
                continue
            at = element_position(index)
            effects = self._effects_at(callee, at, call) if callee is not None \
                else self.summaries.external(call.func, self.scope, at, call)
            for kind, detail in effects:
                if kind in Summaries.RETURNED or kind.startswith(VIA):
                    self._emit(kind, el.value.value, call, element=index, **_placed(kind, detail, el.value.value))

    def _effects_at(self, callee: cst.FunctionDef, pos: object, call: cst.BaseExpression) -> list[tuple[str, dict]]:
        """What a function of this file does to its returned model (or tuple element) `pos`, with
        each kind's detail, less what the call's flags switch off."""
        return [(k, self.summaries.detail(callee, pos, k)) for k in self.summaries.of(callee, pos, self.depth)
                if not (isinstance(call, cst.Call) and self.summaries.switched_off(callee, pos, k, call, False))]

    def _built_into_module(self, target: cst.BaseExpression, call: cst.BaseExpression) -> bool:
        """`self.model = get_model()` (a function of this file) or `self.model = self.get_model()` in a
        Module's `__init__`: the model arrives with the BatchNorm its builder froze with .eval() still
        frozen (none where the builder trains it again after the freeze), held by the Module, whose
        train() undoes it (FZ201). Marked `returned`: no method a caller may call again re-applies it.
        The same in a trainer's `__init__` (a class that is no Module): its methods that train the
        model it holds undo the freeze with their own `self.model.train()`."""
        held, owner = _self_attr(target), self.scope.cls
        if held is None or owner is None or self.scope.func_name != "__init__" or not isinstance(call, cst.Call):
            return False
        func, callee = call.func, None
        if isinstance(func, cst.Name):
            callee = self.facts.resolve_def(func, self.scope)
        elif isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == "self":
            callee = next((st for st in owner.node.body.body
                           if isinstance(st, cst.FunctionDef) and st.name.value == func.attr.value), None)
        if callee is not None:
            kinds = list(self.summaries.of(callee, RET, self.depth))
            if BN_FREEZE in kinds and self.summaries.switched_off(callee, RET, BN_FREEZE, call,
                                                                  isinstance(func, cst.Attribute)):
                kinds = []
        elif isinstance(func, cst.Name):  # a builder of another file: its summary, less what the call's flags set off
            found = dict(self.summaries.external(func, self.scope, RET, call))
            kinds = list(found)
        else:
            kinds = []
        if BN_FREEZE not in kinds or TRAIN in kinds[kinds.index(BN_FREEZE):]:
            return False
        detail = self.summaries.detail(callee, RET, BN_FREEZE) if callee is not None else found[BN_FREEZE]
        self._emit(BN_FREEZE, held, call, returned=True, **_placed(BN_FREEZE, detail, held))
        return True

    def _constructed_freezes(self, records: list, name: str, call: cst.Call, cls: str) -> None:
        """`model = Net()` whose `__init__` left parts of self frozen (Summaries.constructed_freezes):
        the model arrives with them frozen, but where the call provably sets off the flag a freeze
        sits under (`FusionModel(a, b, freeze_weights=False)`)."""
        for r in records:
            if not _switched_off(r["flags"], call):
                broken = {"broken": r["broken"][0], "broken_code": r["broken"][1], "broken_in": f"{cls}.__init__"} \
                    if r.get("broken") else {}
                self._emit(FREEZE, name, call, via=cls, sub=name + r["inner"], **broken,
                           **({"edges": r["edges"]} if "edges" in r else {}))  # a class of another file

    def _constructed_bn_freezes(self, records: list, name: str, call: cst.Call, cls: str) -> None:
        """`model = DeepLab()` whose `__init__` froze BatchNorm through a public method of the class
        (`self.freeze_bn()`, maybe under a flag: Summaries.constructed_bn): the model arrives with
        it frozen, and a train() that follows must re-apply it (FZ201 reports a freeze made in
        `__init__` itself at the class). Not where the call provably sets the flag off."""
        for r in records:
            if not _switched_off(r["flags"], call):
                when = _flags_passed(r["flags"], call)
                self._emit(BN_FREEZE, name, call, via=cls, **({"within": name + r["inner"]} if r["inner"] else {}),
                           **({"when": when} if when else {}))
                return

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        for obj, value, called in requires_grad_sets(node, self.scope):
            self._requires_grad(obj, value, called, node)

    def visit_Expr(self, node: cst.Expr) -> None:
        for obj, value, called in requires_grad_sets(node, self.scope):  # `p.requires_grad == False`
            self._requires_grad(obj, value, called, node)

    # a comprehension's names (`[p.requires_grad_(False) for p in m.parameters()]`) live in its own scope
    def _enter_comp(self, node: cst.CSTNode) -> None:
        scope = self.facts.extracted.comp_scopes.get(id(node))
        if scope is not None:
            self._comps.append(scope)

    def _leave_comp(self, node: cst.CSTNode) -> None:
        if self._comps and self._comps[-1].node is node:
            self._comps.pop()

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _enter_comp  # type: ignore[assignment]
    leave_ListComp = leave_SetComp = leave_GeneratorExp = leave_DictComp = _leave_comp  # type: ignore[assignment]

    def _binder(self, name: str) -> Scope | None:
        return (self._comps[-1] if self._comps else self.scope).lookup(name)

    def _param_path(self, expr: cst.BaseExpression) -> str | None:
        """What a requires_grad assignment freezes: `model.layer1` for `p` from
        `model.layer1.parameters()`, `model.fc` for `model.fc.weight`."""
        if isinstance(expr, cst.Name):
            walked = self._param_walk(expr.value)
            return self._through_children(walked[0].func.value)[0] if walked is not None else None
        path = part_path(expr)
        return path.rsplit(".", 1)[0] if path and path.endswith((".weight", ".bias")) else path

    def _param_owner(self, expr: cst.BaseExpression) -> str | None:
        """`p` from `for p in model.layer4.parameters()` -> "model"; `model.fc.weight` -> "model"."""
        if isinstance(expr, cst.Name):
            walked = self._param_walk(expr.value)
            return self._through_children(walked[0].func.value)[1] if walked is not None else None
        return root_of(expr)

    def _through_children(self, expr: cst.BaseExpression) -> tuple[str | None, str | None, str | None]:
        """The part of the model `expr` is (`part_path`), the model (`root_of`), and the slice that
        picks the part: a child of a `for child in list(model.children())[:-1]` loop is a part of
        `model` (which one, not known: `model`, with the slice "[:-1]"). A child of an unsliced walk
        is left as it is named (a test in the loop may pick which children: not all of the model)."""
        walked = None
        if isinstance(expr, cst.Name):
            owner = self._binder(expr.value)
            bound = owner.bindings.get(expr.value, []) if owner is not None else []
            if bound and all(b.how == "iter" and b.node is not None for b in bound):
                # the loop being visited that binds it (a name several loops reuse is each one's own)
                its = {id(getattr(lp, "iter", None)) for lp in self._body_loops}
                mine = [b for b in bound if id(b.node) in its] if len(bound) > 1 else bound
                found = loop_walk(mine[-1], owner, ("children",)) if mine else None
                if found is not None:  # `if idx < 7:` in `for idx, child in enumerate(...)`: those positions
                    walked = found[0], found[1] or (self._position_test(mine[-1]) if found[2] else None)
                if found is not None and walked[1] is None and self._every_child(mine[-1]):
                    return part_path(found[0].func.value), root_of(found[0].func.value), None
        if walked is None or walked[1] is None:  # all the children, each maybe picked by a test: as written
            return part_path(expr), root_of(expr), None
        return part_path(walked[0].func.value), root_of(walked[0].func.value), walked[1]

    def _every_child(self, b: Binding) -> bool:
        """The children loop being visited that binds `b` has no test, `continue`, `break`, `return`
        or `raise` in its body: what it does to a child it does to every child, so to the whole model
        (`for child in model.children(): for p in child.parameters(): p.requires_grad = False`)."""
        loop = next((lp for lp in self._body_loops if getattr(lp, "iter", None) is b.node), None)
        return isinstance(loop, cst.For) and loop.orelse is None and not any(
            isinstance(n, (cst.If, cst.IfExp, cst.Continue, cst.Break, cst.Return, cst.Raise, cst.Try, cst.While))
            for n in walk(loop.body))

    def _param_walk(self, name: str) -> tuple[cst.Call, str | None] | None:
        """`param_walk` of the loop that binds `name` (`_param_loop`): the call, and the code of
        the subset of it the change reaches by position (a slice, or `enumerate` under a test of the
        position: `if i < 6`), else None."""
        b = self._param_loop(name)
        walked = loop_walk(b, self._binder(name)) if b is not None else None
        if walked is None:
            return None
        return walked[0], walked[1] or (self._position_test(b) if walked[2] else None)

    def _position_test(self, b: Binding) -> str | None:
        """`for i, x in enumerate(...)` being visited, the change under a test of `i`: the code of
        those tests (which positions it reaches: a subset), else None (all of them)."""
        loop = next((lp for lp in self._body_loops if getattr(lp, "iter", None) is b.node), None)
        target = loop.target if isinstance(loop, cst.For) else None
        if not isinstance(target, cst.Tuple) or len(target.elements) != 2 \
                or not isinstance(target.elements[0].value, cst.Name):
            return None
        var = target.elements[0].value.value
        tests = [code_of(t) if arm == 0 else f"not ({code_of(t)})" for t, arm in self._tests
                 if any(isinstance(n, cst.Name) and n.value == var for n in walk(t))]
        return f"{code_of(b.node)} if {' and '.join(tests)}" if tests else None

    def _param_loop(self, name: str) -> Binding | None:
        """The `for name in X.parameters()` binding a use of `name` is in: the innermost loop being
        visited that binds it (a name two loops of a function reuse, `for p in model.parameters(): ...
        for p in model.head.parameters(): ...`, is each loop's own), else the first such binding."""
        owner = self._binder(name)
        found = [b for b in (owner.bindings.get(name, []) if owner is not None else [])
                 if b.how == "iter" and b.node is not None and loop_walk(b, owner) is not None]
        if len(found) > 1:
            for loop in reversed(self._body_loops):
                it = getattr(loop, "iter", None)
                mine = next((b for b in found if b.node is it), None)
                if mine is not None:
                    return mine
        return found[0] if found else None


# builtins that read the items of what they are given, and keep none of it
_ITERATING = frozenset({"enumerate", "zip", "reversed", "sorted", "list", "tuple", "iter", "filter", "len", "print",
                        "map", "any", "all", "sum", "min", "max", "isinstance"})


_PARAM_METHODS = ("parameters", "named_parameters")
# walks of a model's modules whose items a test in the loop may pick (`Flow._modules_picked`)
_MODULE_WALKS = ("modules", "named_modules", "children", "named_children")


def param_walk(it: cst.BaseExpression, scope: Scope | None = None,
               methods: tuple[str, ...] = _PARAM_METHODS) -> tuple[cst.Call, str | None] | None:
    """What a loop over `it` walks, when that is a module's parameters (or, with `methods`, its
    children): the `X.parameters()` (or `named_parameters()`) call, with the code of the slice where
    only a slice of them is walked (`list(model.parameters())[:-2]`; `[:]` walks them all: None). Through `list()`/
    `tuple()`, and through a name of `scope` bound once to such a list (`params = list(...)`,
    then `params[:k]`). None for anything else."""
    cut = None
    if isinstance(it, cst.Subscript) and len(it.slice) == 1 and isinstance(it.slice[0].slice, cst.Slice):
        sl = it.slice[0].slice
        every = all(part is None or isinstance(part, cst.Name) and part.value == "None"
                    for part in (sl.lower, sl.upper, sl.step)) \
            or isinstance(sl.lower, cst.Integer) and sl.lower.value == "0" and sl.upper is None and sl.step is None
        cut = None if every else code_of(it)
        it = it.value
        if isinstance(it, cst.Name) and scope is not None:  # `params[:k]` of `params = list(model.parameters())`
            owner = scope.lookup(it.value)
            bound = owner.bindings.get(it.value, []) if owner is not None else []
            if len(bound) != 1 or bound[0].how != "expr" or bound[0].index or not isinstance(bound[0].node, cst.Call):
                return None
            it = bound[0].node
            if not (isinstance(it.func, cst.Name) and it.func.value in ("list", "tuple")):
                return None  # a one-shot iterator is not subscripted
    if isinstance(it, cst.Call) and isinstance(it.func, cst.Name) and it.func.value in ("list", "tuple") \
            and len(it.args) == 1 and not it.args[0].star and it.args[0].keyword is None:
        it = it.args[0].value
    elif cut is not None:
        return None  # a slice of what is no list
    if isinstance(it, cst.Call) and isinstance(it.func, cst.Attribute) and it.func.attr.value in methods \
            and not it.args:
        return it, cut
    return None


def loop_walk(b: Binding, scope: Scope | None,
              methods: tuple[str, ...] = _PARAM_METHODS) -> tuple[cst.Call, str | None, bool] | None:
    """`param_walk` of what an `iter` binding's loop walks, and whether the name is the item of
    `for i, p in enumerate(X)` (the parameters or children of X, each with its position `i`; not
    `named_parameters()` items there, whose names are not read). None for anything else."""
    node = b.node
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "enumerate" \
            and node.args and node.args[0].keyword is None and not node.args[0].star \
            and all(a.keyword is not None and a.keyword.value == "start" for a in node.args[1:]):
        walked = param_walk(node.args[0].value, scope, methods) if b.index == (1,) else None
        if walked is None or walked[0].func.attr.value == "named_parameters":
            return None
        return walked[0], walked[1], True
    walked = param_walk(node, scope, methods) if node is not None else None
    return (walked[0], walked[1], False) if walked is not None else None


def _walked(b: Binding, scope: Scope) -> cst.Call | None:
    """The `X.method()` call a loop binding walks: `for m in model.modules()`, or `for m in mods`
    where `mods = model.modules()` is the one binding of `mods`; of `A if c else B` where both arms
    call it on the same part, one through a wrapper (Chinese-CLIP's freeze_vision_bn: `model.module.
    visual.modules() if isinstance(model, DDP) else model.visual.modules()`), the arm without it."""
    node = b.node
    if isinstance(node, cst.Name):
        owner = scope.lookup(node.value)
        bound = owner.bindings.get(node.value, []) if owner is not None else []
        node = bound[0].node if len(bound) == 1 and bound[0].how == "expr" and not bound[0].index else None
    if isinstance(node, cst.IfExp):
        arms = [node.body, node.orelse]
        if not all(isinstance(a, cst.Call) and isinstance(a.func, cst.Attribute) and not a.args for a in arms):
            return None
        roots = {root_of(a.func.value) for a in arms}  # type: ignore[union-attr]
        paths = [part_path(a.func.value) for a in arms]  # type: ignore[union-attr]
        root = roots.pop() if len(roots) == 1 else None
        if root is None or None in paths or len({a.func.attr.value for a in arms}) != 1 \
                or len({whole_of(p, root) for p in paths}) != 1:
            return None
        node = next((a for a, p in zip(arms, paths) if whole_of(p, root) == p), None)
    return node if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) else None


def _item_of(b: Binding) -> cst.BaseExpression:
    """What a binding's name holds, as narrow as it is known: item i of `unet, mlp, opt =
    accelerator.prepare(unet, mlp, opt)` is the prepared argument i (accelerate returns them in
    order), so `unet` there holds nothing of `mlp`; any other value as a whole."""
    call = b.node
    if len(b.index) == 1 and isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) \
            and call.func.attr.value == "prepare" and b.index[0] < len(call.args) \
            and all(a.keyword is None and not a.star for a in call.args):
        return call.args[b.index[0]].value
    return call  # type: ignore[return-value]


def _bound_names(target: cst.BaseExpression) -> list[str]:
    """The names (or `self.x`) an assignment target binds whole: `model`, `model, tok`, not
    `model.fc` (a part replaced: REPLACE) or `models[0]`."""
    out = []
    for t in target.elements if isinstance(target, (cst.Tuple, cst.List)) else [target]:
        t = t.value if isinstance(t, (cst.Element, cst.StarredElement)) else t
        name = t.value if isinstance(t, cst.Name) else _self_attr(t)
        if name:
            out.append(name)
    return out


def _pair(target: cst.BaseExpression) -> tuple[cst.BaseExpression, cst.BaseExpression] | None:
    """`i, model` of `for i, model in enumerate(...)` (or `.items()`), else None."""
    if isinstance(target, (cst.Tuple, cst.List)) and len(target.elements) == 2 \
            and not any(isinstance(el, cst.StarredElement) for el in target.elements):
        return target.elements[0].value, target.elements[1].value
    return None


_CONTAINERS = frozenset({"torch.nn.Sequential", "torch.nn.ModuleList", "torch.nn.ModuleDict",
                         "torch.nn.modules.container.Sequential", "torch.nn.modules.container.ModuleList",
                         "torch.nn.modules.container.ModuleDict"})
# Calls that hand parameters to an optimizer already built: `add_param_group`, Lightning's
# `BaseFinetuning.unfreeze_and_add_param_group`, and `trainer.strategy.setup_optimizers(trainer)`,
# which calls configure_optimizers again.
# peft's preparation of a quantized model for training: it freezes every parameter first (then
# casts norms to float32 and turns on gradient checkpointing); the int8 name is the older one.
KBIT_PREPARE = frozenset(f"peft.{where}prepare_model_for_{bits}_training" for where in ("", "utils.", "utils.other.")
                         for bits in ("kbit", "int8"))
GET_PEFT_MODEL = frozenset({"peft.get_peft_model", "peft.mapping.get_peft_model", "peft.mapping_func.get_peft_model"})
_INJECT_ADAPTER = frozenset({"peft.inject_adapter_in_model", "peft.mapping.inject_adapter_in_model"})


def peft_wrap(facts: Facts, call: cst.Call, q: str | None, scope: Scope) -> tuple[cst.BaseExpression, cst.BaseExpression] | None:
    """(the model, the config) of a call that puts PEFT adapters on a model: peft's
    `get_peft_model(model, config)` and `inject_adapter_in_model(config, model)`, and the
    `model.add_adapter(config)` of transformers' and diffusers' models (both go through
    inject_adapter_in_model), recognised by a config built from a peft `...Config` class (in place,
    or every binding of the name): AdapterHub's `add_adapter("name")` is another API."""
    if q in GET_PEFT_MODEL:
        model, config = call_arg(call, 0, "model"), call_arg(call, 1, "peft_config")
    elif q in _INJECT_ADAPTER:
        config, model = call_arg(call, 0, "peft_config"), call_arg(call, 1, "model")
    elif isinstance(call.func, cst.Attribute) and call.func.attr.value == "add_adapter":
        model, config = call.func.value, call_arg(call, 0, "adapter_config")
        if config is None or not peft_configs(facts, config, scope):
            return None
    else:
        return None
    return (model, config) if model is not None and config is not None else None


def peft_configs(facts: Facts, expr: cst.BaseExpression, scope: Scope) -> list[cst.Call]:
    """The peft `...Config(...)` calls `expr` is: itself, or every binding of the name in the body
    that binds it (each one such a call); [] where any is something else."""
    def is_config(v, at: Scope) -> bool:
        if not isinstance(v, cst.Call):
            return False
        name = (facts.qualname(v.func, at) or "").rpartition(".")
        return name[0].split(".")[0] == "peft" and name[2].endswith("Config") and name[2] != "PeftConfig"
    if isinstance(expr, cst.Call):
        return [expr] if is_config(expr, scope) else []
    if not isinstance(expr, cst.Name):
        return []
    owner = scope.lookup(expr.value)
    bound = owner.bindings.get(expr.value, []) if owner is not None else []
    if not bound or any(b.how != "expr" or b.index for b in bound):
        return []
    return [b.node for b in bound] if all(is_config(b.node, b.scope or owner) for b in bound) else []


_GIVES_OPTIMIZER = frozenset({"add_param_group", "unfreeze_and_add_param_group", "setup_optimizers"})
_DDP = ("torch.nn.parallel.DistributedDataParallel", "torch.nn.parallel.distributed.DistributedDataParallel")
# Wrappers over a module that train its own Parameters (compile, data parallelism)
_SAME_PARAMS_WRAPPERS = frozenset({*_DDP, "torch.compile", "torch.nn.DataParallel", "torch.nn.parallel.DataParallel",
                                   "torch.nn.parallel.data_parallel.DataParallel"})


def library_bases(facts: Facts, node: cst.ClassDef, _depth: int = 0) -> tuple[frozenset[str], bool]:
    """The library classes a class of this file derives from, through the project's classes (of
    this file, and of other files through the project index), and whether one of those project
    classes (itself included) defines `make_trainable`: `class MyFt(Base)` with `class
    Base(BaseFinetuning)` elsewhere is a BaseFinetuning whose make_trainable is Lightning's."""
    own = any(isinstance(m, cst.FunctionDef) and m.name.value == "make_trainable" for m in node.body.body)
    found: set[str] = set()
    for b in (b.value for b in node.bases if b.keyword is None):
        local = facts.classes.get(b.value) if isinstance(b, cst.Name) else None
        q = facts.qualname(b, facts.module_scope)
        if local is not None and local.node is not node:
            if _depth < _MAX_DEPTH:
                more, by = library_bases(facts, local.node, _depth + 1)
                found |= more
                own = own or by
        elif q and is_library(q):
            found.add(q)
        elif q and facts.project is not None and facts.path:
            hit = facts.project.library_bases(facts.path, q)
            if hit is not None:
                found |= set(hit["bases"])
                own = own or hit["make_trainable"]
    return frozenset(found), own


def _all_broken(events: list[Event]) -> bool:
    return bool(events) and all(e.detail.get("broken") for e in events)


def _lambda_changes(fn: cst.Lambda, scope: Scope) -> list[str]:
    """The requires_grad changes a one-parameter lambda makes to the module it is given, its
    parameters (`m.weight`) or those a comprehension walks (`[p.requires_grad_(False) for p in
    m.parameters()]`), as FREEZE / UNFREEZE for a literal flag."""
    params = [*fn.params.posonly_params, *fn.params.params]
    if len(params) != 1:
        return []
    name = params[0].name.value
    walked = {t.value for c in walk(fn.body) if isinstance(c, cst.CompFor) and isinstance(t := c.target, cst.Name)
              and isinstance(c.iter, cst.Call) and isinstance(c.iter.func, cst.Attribute)
              and root_of(c.iter.func.value) == name}
    out = []
    for node in walk(fn.body):
        for obj, value, called in requires_grad_sets(node, scope):
            if isinstance(obj, cst.Name) and obj.value == name and not called:
                continue  # `setattr(m, "requires_grad", False)` on the module: FZ102's, it freezes nothing
            if (root_of(obj) == name or isinstance(obj, cst.Name) and obj.value in walked) \
                    and isinstance(value, cst.Name) and value.value in ("True", "False"):
                out.append(UNFREEZE if value.value == "True" else FREEZE)
    return list(dict.fromkeys(out))


def _docstring(st: cst.BaseStatement) -> bool:
    return isinstance(st, cst.SimpleStatementLine) and len(st.body) == 1 and isinstance(st.body[0], cst.Expr) \
        and isinstance(st.body[0].value, (cst.SimpleString, cst.ConcatenatedString))


def _freezes_whole(st: cst.BaseStatement, name: str, param: bool = False, flag: str = "False") -> bool:
    """`name.requires_grad_(False)`, or `for p in name.parameters(): p.requires_grad = False` (the
    loop's one statement; `p.requires_grad_(False)` too): every parameter of `name` frozen. (`param`:
    `name` is a parameter, not a module, so `name.requires_grad = False` freezes it; `flag` "True":
    every parameter unfrozen instead.)"""
    if isinstance(st, cst.For) and not st.orelse and isinstance(st.target, cst.Name) \
            and isinstance(st.iter, cst.Call) and isinstance(st.iter.func, cst.Attribute) \
            and st.iter.func.attr.value == "parameters" and isinstance(st.iter.func.value, cst.Name) \
            and st.iter.func.value.value == name and isinstance(st.body, cst.IndentedBlock) \
            and len(st.body.body) == 1:
        return _freezes_whole(st.body.body[0], st.target.value, param=True, flag=flag)
    if not isinstance(st, cst.SimpleStatementLine) or len(st.body) != 1:
        return False
    small = st.body[0]
    if isinstance(small, cst.Expr) and isinstance(call := small.value, cst.Call) \
            and isinstance(call.func, cst.Attribute) and call.func.attr.value == "requires_grad_":
        given = call_arg(call, 0, "requires_grad") or _TRUE
        return isinstance(call.func.value, cst.Name) and call.func.value.value == name \
            and isinstance(given, cst.Name) and given.value == flag
    if param and isinstance(small, cst.Assign) and len(small.targets) == 1:
        t = small.targets[0].target
        return isinstance(t, cst.Attribute) and t.attr.value == "requires_grad" and isinstance(t.value, cst.Name) \
            and t.value.value == name and isinstance(small.value, cst.Name) and small.value.value == flag
    return False


def returned_local(flow: "Flow", scope: Scope, params: list[str]) -> str | None:
    """The local name every `return` of the function (whose body `flow` is) returns (`return
    model`, `return model.to(device)`), when it is one name bound in the function and not a
    parameter (what the function does to a parameter its callers see already); None otherwise."""
    return _one_local({dotted(unwrap_self_returning(v)) if v is not None else None for v in flow.returns},
                      scope, params)


def returned_element(flow: "Flow", scope: Scope, params: list[str], index: int) -> str | None:
    """The local name every `return` of the function returns at position `index` of a tuple
    (`return model_ft, input_size`: `model_ft` at 0), on the terms of `returned_local`; None otherwise."""
    names = set()
    for v in flow.returns:
        if not isinstance(v, (cst.Tuple, cst.List)) or index >= len(v.elements) \
                or any(isinstance(el, cst.StarredElement) for el in v.elements):
            return None
        names.add(dotted(unwrap_self_returning(v.elements[index].value)))
    return _one_local(names, scope, params)


def returned_elements(flow: "Flow | None", scope: Scope | None, params: list[str]) -> list[str]:
    """The summary positions of the elements of a returned tuple that are each one local name
    (`returned_element`): `["ret@0"]` for `return model_ft, input_size`."""
    first = flow.returns[0] if flow is not None and scope is not None and flow.returns else None
    if not isinstance(first, (cst.Tuple, cst.List)):
        return []
    return [element_position(i) for i in range(len(first.elements))
            if returned_element(flow, scope, params, i) is not None]


def _one_local(names: set[str | None], scope: Scope, params: list[str]) -> str | None:
    """The one name of `names` where it is a local of the function, not one of its parameters."""
    if len(names) != 1:
        return None
    name = names.pop()
    if name is None or "." in name or name in params or name not in scope.bindings:
        return None
    return name


def element_position(index: int) -> str:
    """The summary position of a function's returned tuple's element `index` (`a, b = build()`)."""
    return f"{RET}@{index}"


def is_returned(pos: object) -> bool:
    """Whether a summary position is the function's return value, or an element of it."""
    return pos == RET or isinstance(pos, str) and pos.startswith(RET + "@")


def _part_frozen(events: list[Event], e: Event) -> bool:
    """The body freezes the parameters of the part `e` put in eval mode (of all the model, the
    part, or a part of it): `.eval()` on a part then says that it is frozen, not that it is run."""
    part = e.detail["part"]
    return any(f.kind == FREEZE and f.target == e.target and not f.exclusive_with(e) and (sub := f.detail.get("sub"))
               and (sub == f.target or sub == part or sub.startswith((part + ".", part + "["))
                    or part.startswith(sub + "."))
               for f in events)


_OFF = ("False", "None", "0")


def _flags(init: cst.FunctionDef, e: Event) -> list:
    """The `if flag:` tests on `__init__` parameters the event sits under: `[index after self,
    name, off by default]` each."""
    params = [*init.params.posonly_params, *init.params.params][1:]
    tests = {id(n): n.test for n in walk(init.body) if isinstance(n, cst.If)}
    out = []
    for if_id, arm in e.branches:
        test = tests.get(if_id)
        at = next((i for i, p in enumerate(params) if isinstance(test, cst.Name) and p.name.value == test.value), None)
        if arm == 0 and at is not None:
            default = params[at].default
            out.append([at, params[at].name.value, isinstance(default, (cst.Name, cst.Integer)) and default.value in _OFF])
    return out


_NAME_OPS = (cst.In, cst.NotIn, cst.Equal, cst.NotEqual)


def _name_test(value: cst.BaseExpression, var: str) -> bool:
    """`value` tests the name `var` only: `"x" in var`, `var == "x"`, `var.startswith(...)`,
    `any(k in var for k in keys)`, and `not`/`and`/`or` of such tests (an operand that is no test
    of the name, a setting, may make every flag True: not one)."""
    def reads(n: cst.CSTNode) -> bool:
        return any(isinstance(x, cst.Name) and x.value == var for x in walk(n))

    if isinstance(value, cst.Comparison):
        return reads(value) and all(isinstance(c.operator, _NAME_OPS) for c in value.comparisons)
    if isinstance(value, cst.Call):
        func = value.func
        return (isinstance(func, cst.Attribute) and func.attr.value in ("startswith", "endswith")
                and reads(func.value)) or (isinstance(func, cst.Name) and func.value in ("any", "all") and reads(value))
    if isinstance(value, cst.BooleanOperation):
        return _name_test(value.left, var) and _name_test(value.right, var)
    if isinstance(value, cst.UnaryOperation) and isinstance(value.operator, cst.Not):
        return _name_test(value.expression, var)
    return False


def _held_arguments(init: cst.FunctionDef, params: list[str], flow: Flow) -> dict[str, str]:
    """The constructor arguments `__init__` stores on self as they are (`self.text_model =
    text_model`, a statement of its own body, the name never bound to another object): argument ->
    `self.text_model`."""
    out: dict[str, str] = {}
    rebound = {e.target for e in flow.events if e.kind == REBIND}
    for st in init.body.body:
        for small in st.body if isinstance(st, cst.SimpleStatementLine) else ():
            if not isinstance(small, cst.Assign) or len(small.targets) != 1:
                continue
            value, at = unwrap_self_returning(small.value), dotted(small.targets[0].target)
            if isinstance(value, cst.Name) and value.value in params[1:] and value.value not in rebound and at \
                    and at.startswith(params[0] + ".") and at.count(".") == 1:
                out.setdefault(value.value, at)
    return out


def _held_path(e: Event, me: str, held: dict[str, str]) -> str | None:
    """Where in self (`me`) an event of `__init__` happens: `self.encoder.fc`; `self.text_model.x`
    for a change of a constructor argument it stores there. None for anything else."""
    path = e.detail.get("path") if e.kind == REPLACE else e.detail.get("sub")
    root = e.target if e.target in held else me if e.target == me or e.target.startswith(me + ".") else None
    if root is None:
        return None
    path = whole_of(path, root) if path and (path == root or path.startswith((root + ".", root + "["))) else root
    return held[root] + path[len(root):] if root in held else path


def _sets_back_part(later: Event, at: str | None, freeze: Event, path: str) -> bool:
    """A later event of `__init__` (at `at`) undoes its freeze of `path`: an unfreeze of it or of a
    part above it (not of a subset a name test picks), or a new object assigned there or above
    that does not name the frozen one (`self.fc = nn.Sequential(..., self.fc)` keeps it)."""
    if at is None or not _part_of(path, at):
        return False
    if later.kind == UNFREEZE:
        return sets_back(later, freeze)
    if later.kind == REPLACE and isinstance(later.node, cst.Assign):
        return not any(dotted(n) == path for n in walk(later.node.value) if isinstance(n, (cst.Attribute, cst.Name)))
    return False


def _switched_off(flags: list, call: cst.Call) -> bool:
    """The constructor call sets off one of the `__init__` flags a freeze sits under
    (`[index, name, off by default]`, Summaries.constructed_bn): passes False/None/0, or leaves it
    out where that is the default (`DeepLab(freeze_bn=False)`). A flag the call passes on
    (`freeze_bn=args.freeze_bn`) may be on."""
    for at, name, off_by_default in flags:
        value = call_arg(call, at, name)
        if value is None and not any(a.star for a in call.args):
            if off_by_default:
                return True
        elif isinstance(value, (cst.Name, cst.Integer)) and value.value in _OFF:
            return True
    return False


def _flags_passed(flags: list, call: cst.Call) -> str:
    """The `__init__` flags a freeze sits under as the constructor call passes them, for a message:
    "`args.freeze_bn` is true" (`DeepLab(freeze_bn=args.freeze_bn)`); "" where each is passed as a
    constant that is on, or not seen at the call (left out, `**cfg`)."""
    said = []
    for at, name, _ in flags:
        value = call_arg(call, at, name)
        if value is None or isinstance(value, (cst.Integer, cst.SimpleString)) or \
                isinstance(value, cst.Name) and value.value == "True":
            continue  # `freeze_bn=True`, `freeze_bn=1`: on, with no condition to name
        code = code_of(value)
        if len(code) > 40 or "\n" in code:
            return ""
        said.append(f"`{code}` is true")
    return " and ".join(said) if len(said) < 3 else ""


def _self_attr(expr: cst.BaseExpression) -> str | None:
    """`self.model` -> "self.model" (an attribute of self, one level), else None."""
    path = dotted(expr) if isinstance(expr, cst.Attribute) else None
    return path if path and path.startswith("self.") and path.count(".") == 1 else None


def _zero_classes(call: cst.Call) -> bool:
    arg = call_arg(call, 0, "num_classes")
    return isinstance(arg, cst.Integer) and arg.value == "0"


def _negated(code: str) -> str:
    """The test said false: `not (a or b)`; `not x` said false is `x` (`if not isinstance(m, BN):
    continue` picks the modules `isinstance(m, BN)` holds for)."""
    try:
        expr = cst.parse_expression(code)
    except cst.ParserSyntaxError:
        return f"not ({code})"
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Not):
        return code_of(expr.expression)
    return f"not {code}" if isinstance(expr, (cst.Call, cst.Name, cst.Attribute)) else f"not ({code})"


def part_path(expr: cst.BaseExpression) -> str | None:
    """`model.encoder.layer[i]`: a dotted path that may index containers (the part of a model a
    freeze names), else None."""
    if isinstance(expr, cst.Subscript):
        base = part_path(expr.value)
        return f"{base}[{cst.Module(body=[]).code_for_node(expr.slice[0].slice)}]" \
            if base and len(expr.slice) == 1 and isinstance(expr.slice[0].slice, cst.Index) else None
    if isinstance(expr, cst.Attribute):
        base = part_path(expr.value)
        return f"{base}.{expr.attr.value}" if base else None
    return dotted(expr)


_WRAPPERS = (".module", "._orig_mod")  # DDP/DataParallel's and torch.compile's model: the same modules


def whole_of(path: str, target: str) -> str:
    """`model.module.backbone` -> `model.backbone`: a wrapper's inner model is the model."""
    while path.startswith(target) and path[len(target):].startswith(_WRAPPERS):
        rest = path[len(target):]
        cut = next(w for w in _WRAPPERS if rest.startswith(w))
        if rest[len(cut):][:1] not in ("", ".", "["):
            break  # `model.modules_x`: another attribute
        path = target + rest[len(cut):]
    return path


def sets_back(unfreeze: Event, freeze: Event) -> bool:
    """An unfreeze after a freeze of the same part sets back all it froze, unless a test on the
    parameters' names of its own picks a subset (`if "bias" in n` after `if "lora_" not in n`):
    then some parameters stay frozen."""
    picked = unfreeze.detail.get("picked")
    return not picked or picked == freeze.detail.get("picked")


def _part_of(part: str | None, whole: str | None) -> bool:
    """`part` is `whole` or inside it (a part not known may be anywhere)."""
    return not part or not whole or part == whole or part.startswith((whole + ".", whole + "["))


def _placed(kind: str, detail: dict, at: str | None) -> dict:
    """A freeze or unfreeze taken over from a callee, placed on the caller's argument `at`: the
    callee's part of its parameter (`"inner"`, same file) under `at`, else `at` as a whole (a
    callee of another file: its summary says that it freezes, not which part). An optimizer a
    method builds over a part of self (`"inner"`) is built over that part of `at`."""
    if kind == OPT_BUILD and "inner" in detail:
        out = {k: v for k, v in detail.items() if k != "inner"}
        return {**out, "path": at + detail["inner"]} if at else out
    if kind == BN_FREEZE and "inner" in detail:  # the BatchNorm frozen within a part of `at`
        out = {k: v for k, v in detail.items() if k != "inner"}
        return {**out, "within": at + detail["inner"]} if at else out
    if kind not in (FREEZE, UNFREEZE):
        return detail
    out = {k: v for k, v in detail.items() if k != "inner"}
    out["sub"] = at + detail.get("inner", "") if at else None
    return out


def _ends_body(block: cst.BaseSuite) -> bool:
    """The block always ends in a `return` or `raise`: nothing after its `if` runs on that path."""
    return _ending(block) in ("return", "raise")


def _jump_kind(block: cst.BaseSuite) -> str | None:
    """"continue" or "break" when the block always ends in one, else None."""
    kind = _ending(block)
    return kind if kind in ("continue", "break") else None


_ENDINGS = {cst.Return: "return", cst.Raise: "raise", cst.Continue: "continue", cst.Break: "break"}
# Context managers whose exit swallows an exception (the block's end is then not sure to be reached,
# and what follows the `with` runs): `with suppress(E): step(); continue` may fall through.
_SWALLOWING = frozenset({"suppress", "raises", "assertRaises", "assertRaisesRegex"})


def _ending(block: cst.BaseSuite | None) -> str | None:
    """How a block always ends: "return", "raise", "continue" or "break" when its last statement is
    one, or a `with` (no exception-swallowing manager) or `try` that always ends so. A `try` counts
    when its `finally` ends so, or when its body ends so, every `except` ends so too (or raises:
    nothing after it runs) and its `finally` jumps nowhere. Else None: the path may go on."""
    last = block.body[-1] if isinstance(block, cst.IndentedBlock) and block.body else \
        block if isinstance(block, cst.SimpleStatementSuite) else None
    if isinstance(last, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
        return _ENDINGS.get(type(last.body[-1])) if last.body else None
    if isinstance(last, cst.With):
        swallows = any((dotted(i.item.func if isinstance(i.item, cst.Call) else i.item) or "").rsplit(".", 1)[-1]
                       in _SWALLOWING for i in last.items)
        return None if swallows else _ending(last.body)
    if isinstance(last, cst.Try):
        final = _ending(last.finalbody.body) if last.finalbody is not None else None
        if final is not None:
            return final  # run on every way out of the try, and its own jump replaces any other
        kind = _ending(last.body)
        if kind is None or last.finalbody is not None and _jumps_anywhere(last.finalbody.body):
            return None
        if any(_ending(h.body) not in (kind, "raise") for h in last.handlers):
            return None  # an `except` that goes on, or ends another way
        return kind
    return None


def _jumps_anywhere(block: cst.BaseSuite) -> bool:
    """A return/raise/continue/break anywhere in the block (in a nested loop or function too: unsure)."""
    return any(isinstance(n, tuple(_ENDINGS)) for n in walk(block))


def _builtin(func: cst.Name, scope: Scope) -> bool:
    """A builtin no binding shadows (`isinstance(model, DDP)`, `print(model)`): it never runs a model."""
    return hasattr(builtins, func.value) and scope.lookup(func.value) is None


def unwrap_self_returning(expr: cst.BaseExpression) -> cst.BaseExpression:
    """`model.to(rank).cuda()` -> `model`: nn.Module methods that return the module keep the alias."""
    while isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and expr.func.attr.value in SELF_RETURNING:
        expr = expr.func.value
    return expr


def _chained_eval(value: cst.BaseExpression) -> cst.Call | None:
    """The eval() (or `train(False)`) call that leaves a new object in eval mode, chained onto it in
    an assignment (`nn.Sequential(...).eval()`, `.requires_grad_(False).eval()`); None where a later
    train() of the chain undoes it, or where there is none."""
    while isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) \
            and value.func.attr.value in SELF_RETURNING:
        mode = _mode_arg(value, True) if value.func.attr.value == "train" else None
        if value.func.attr.value == "eval" or mode is False:
            return value
        if value.func.attr.value == "train":
            return None  # the last mode set is train's
        value = value.func.value
    return None


def _meant_requires_grad(attr: str) -> bool:
    return attr in ("requires_grad", "requires_grad_") or is_misspelling(attr)


def opt_detail(e: Event) -> dict:
    """What FZ301 needs of an optimizer build, as plain data (it crosses files in summaries)."""
    return {k: e.detail.get(k) for k in ("filtered", "optimizer", "whole", "stateful")}


_STATEFUL_BY_DEFAULT = ("Adam", "AdamW", "NAdam", "RAdam", "Adamax", "Adagrad", "Adadelta", "RMSprop", "Rprop",
                        "SparseAdam", "LBFGS", "Adafactor", "Prodigy", "LAMB", "AdEMAMix")


def optimizer_classes(func: cst.BaseExpression, scope: Scope) -> list[str] | None:
    """The optimizer classes a call of `func` builds: one (`torch.optim.AdamW(...)`), those a name
    bound to optimizer classes may hold (`optimizer_class(...)`, `optimizer_alias`), or a class looked
    up by name (`getattr(torch.optim, name)(...)`); None for any other call."""
    q = qualname(func, scope)
    if is_optimizer_class(q):
        return [q]  # type: ignore[list-item]
    if q is None and isinstance(func, cst.Name):
        return optimizer_alias(func, scope)
    return _classes_of(func, scope) if isinstance(func, cst.Call) else None


def optimizer_alias(func: cst.Name, scope: Scope) -> list[str] | None:
    """`optimizer_cls = torch.optim.AdamW` (diffusers' training scripts), then
    `optimizer_cls(params, ...)`: the optimizer classes the bindings of the name give, where each
    gives one (`bnb.optim.AdamW8bit` in one arm of an if and `torch.optim.AdamW` in the other)
    or a choice of them (`bnb.optim.AdamW8bit if args.use_8bit_adam else torch.optim.AdamW`)."""
    owner = scope.lookup(func.value)
    bindings = owner.bindings.get(func.value, []) if owner is not None else []
    found: list[str] = []
    for b in bindings:
        quals = _classes_of(b.node, b.scope or owner) if b.how == "expr" and not b.index else None
        if not quals:
            return None
        found += [q for q in quals if q not in found]
    return found or None


def _classes_of(value: cst.CSTNode | None, scope: Scope) -> list[str] | None:
    """The optimizer classes an expression names: one (`torch.optim.AdamW`), or each arm's of a
    conditional expression; None where any part is something else."""
    if isinstance(value, cst.IfExp):
        body, orelse = _classes_of(value.body, scope), _classes_of(value.orelse, scope)
        return [*body, *(q for q in orelse if q not in body)] if body and orelse else None
    if isinstance(value, (cst.Name, cst.Attribute)):
        q = qualname(value, scope)
        return [q] if q is not None and is_optimizer_class(q) else None
    if isinstance(value, cst.Call) and qualname(value.func, scope) == "getattr" and len(value.args) == 2 \
            and qualname(value.args[0].value, scope) == "torch.optim":
        return [BY_NAME]  # a torch.optim class picked by a setting: stateful only by its arguments
    return None


# The `optimizer` of a build whose torch.optim class is looked up by name (`getattr(torch.optim, cfg.name)`)
BY_NAME = "torch.optim.*"


def optimizer_shown(optimizer: str) -> str:
    """An OPT_BUILD's `optimizer` as a message names it: the class, or the classes a name may hold
    (`AdamW8bit or AdamW`)."""
    return " or ".join("a torch.optim class picked by name" if q == BY_NAME else q.rsplit(".", 1)[-1]
                       for q in optimizer.split(" or "))


def _reasons(why: list[str]) -> str:
    """One reason for several classes: `AdamW8bit's and AdamW's default weight_decay=0.01`."""
    why = list(dict.fromkeys(why))
    parts = [w.split("'s ", 1) for w in why]
    if len(why) > 1 and all(len(p) == 2 and p[1] == parts[0][1] for p in parts):
        owners = " and ".join(f"{p[0]}'s" for p in parts)
        return f"{owners} {parts[0][1]}"
    return " or ".join(why)


# bitsandbytes' variants of a class (`PagedAdamW8bit`) keep its defaults
_BNB_VARIANT = re.compile(r"^Paged|(?:8|32)bit$")


def _stateful(call: cst.Call, q: str, group: cst.Dict | None = None) -> str | None:
    """Why the optimizer moves parameters whose grad is a zero tensor, or None. A param group's
    own `momentum`/`weight_decay` overrides the optimizer's (torch.optim's rule), so the reason
    given is that group's value where it writes one."""
    shown = q.rsplit(".", 1)[1]
    name = _BNB_VARIANT.sub("", shown) if q.startswith(("bitsandbytes.", "bnb.")) else shown
    kw = {a.keyword.value: a.value for a in call.args if a.keyword is not None}
    for el in group.elements if group is not None else ():
        key = string_value(el.key) if isinstance(el, cst.DictElement) else None
        if key in ("momentum", "weight_decay"):
            kw[key] = el.value
    for key in ("momentum", "weight_decay"):
        v = kw.get(key)
        if v is not None and not (isinstance(v, (cst.Integer, cst.Float)) and float(v.value) == 0.0):
            own = group is not None and any(isinstance(el, cst.DictElement) and el.value is v for el in group.elements)
            prefix = "its param group's " if own else ""
            return f"{prefix}{key}={code_of(v)}"
    if q.startswith("transformers."):  # their AdamW's weight_decay is 0.0; their Adafactor keeps no first moment
        return f"{shown}'s moving averages" if name == "AdamW" else None
    if name == "AdamW" and "weight_decay" not in kw:
        return f"{shown}'s default weight_decay=0.01"
    if name in _STATEFUL_BY_DEFAULT:
        return f"{shown}'s moving averages"
    if name == "Lion":
        return f"{shown}'s momentum"
    return None


# Methods of transformers' models that set requires_grad False on a part of the model: the speech
# models' feature encoder (Wav2Vec2, HuBERT, WavLM, Data2VecAudio, UniSpeech, SEW...), the whole
# base model under a head (`freeze_base_model`).
LIBRARY_FREEZES = {"freeze_feature_encoder": "its feature encoder", "freeze_feature_extractor": "its feature encoder",
                   "freeze_base_model": "its base model"}


def _broken_form(node: cst.CSTNode) -> str | None:
    """The code of a requires_grad change written in a form that changes nothing: `x.requires_grad_
    = v` (FZ101), a misspelled name (FZ103), `x.requires_grad == v` (FZ104)."""
    if isinstance(node, cst.Expr) and isinstance(node.value, cst.Comparison):
        return "FZ104"
    targets = ([t.target for t in node.targets] if isinstance(node, cst.Assign)
               else [node.target] if isinstance(node, (cst.AnnAssign, cst.AugAssign)) else [])
    for t in targets:
        if isinstance(t, cst.Attribute) and t.attr.value != "requires_grad":
            return "FZ101" if t.attr.value == "requires_grad_" else "FZ103"
    return None


def _held_on_self(func: cst.FunctionDef, names: list[str]) -> dict[str, str]:
    """Parameters a method stores on self as they are, in a statement of its own body's top
    level (`self.model = model`, or `model.to(device)`, in a trainer's __init__): name -> `self.model`. A name stored
    twice, or an attribute stored twice, is left out."""
    found: dict[str, list[str]] = {}
    for stmt in func.body.body:
        if not isinstance(stmt, cst.SimpleStatementLine):
            continue
        for small in stmt.body:
            if isinstance(small, cst.Assign) and len(small.targets) == 1:
                target, value = small.targets[0].target, small.value
            elif isinstance(small, cst.AnnAssign) and small.value is not None:
                target, value = small.target, small.value
            else:
                continue
            value = unwrap_self_returning(value)  # `self.model = model.to(device)`: the same module
            if isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name) \
                    and target.value.value == "self" and isinstance(value, cst.Name) and value.value in names[1:]:
                found.setdefault(value.value, []).append(f"self.{target.attr.value}")
    attrs = [a for v in found.values() for a in v]
    return {n: v[0] for n, v in found.items() if len(v) == 1 and attrs.count(v[0]) == 1}


def own_method(info, method: str) -> cst.FunctionDef | None:
    """The method `method` a class defines itself, taking self (no dunder: a call of one is no
    method call a script writes)."""
    if method.startswith("__"):
        return None
    for m in info.node.body.body:
        if isinstance(m, cst.FunctionDef) and m.name.value == method:
            params = [*m.params.posonly_params, *m.params.params]
            deco = [dotted(d.decorator) for d in m.decorators]
            return m if params and params[0].name.value == "self" and not any(
                d in ("staticmethod", "classmethod") for d in deco) else None
    return None


# Bases that give an instance no method a line is read for: `ABC` (its abstractmethods are the
# subclass's to define) and `Generic[T]` (a type parameter), like `object` and a metaclass
_INERT_BASES = frozenset({"abc.ABC", "typing.Generic", "typing_extensions.Generic"})


def _inert_base(facts: Facts, base: cst.BaseExpression) -> bool:
    """`object`, `ABC`, `abc.ABC`, `Generic[T]`: looked through to the project bases beside them."""
    if isinstance(base, cst.Subscript):
        base = base.value
    if isinstance(base, cst.Name) and base.value == "object":
        return True
    return isinstance(base, (cst.Name, cst.Attribute)) and facts.qualname(base, facts.module_scope) in _INERT_BASES


def lineage(facts: Facts, info) -> tuple[list, str | None] | None:
    """The plain classes of this file an instance of `info` takes its methods from, in lookup order
    (the class, its base, that one's base: one base each), with the qualified name of the project
    class of another file the line goes on to (None where it ends at `object`). Bases that add no
    methods (`ABC`, `Generic[T]`, a metaclass) are looked through. None for a Module, a library
    base, more than one base or a cycle: what a method call runs is then not read."""
    chain: list = []
    while True:
        if info.is_module or any(c is info for c in chain) or any(b.keyword is not None for b in info.node.bases):
            return None
        chain.append(info)
        bases = [b.value for b in info.node.bases if not _inert_base(facts, b.value)]
        if not bases:
            return chain, None
        if len(bases) > 1 or not isinstance(bases[0], (cst.Name, cst.Attribute)):
            return None
        local = facts.classes.get(bases[0].value) if isinstance(bases[0], cst.Name) else None
        if local is not None and local.node in facts.module.body \
                and len(facts.module_scope.bindings.get(bases[0].value, [])) == 1:
            info = local
            continue
        q = facts.qualname(bases[0], facts.module_scope)
        binding = facts.module_scope.bindings.get(bases[0].value, []) if isinstance(bases[0], cst.Name) else []
        if q and not is_library(q) and len(binding) == 1 and binding[0].how == "import":
            return chain, q
        return None


def defines(info, name: str) -> bool:
    """The class's own body defines `name` as a method."""
    return any(isinstance(m, cst.FunctionDef) and m.name.value == name for m in info.node.body.body)


def chain_init(chain: list) -> tuple[object, cst.FunctionDef] | None:
    """The `__init__` an instance runs: the first class of the line that defines one (with it)."""
    owner = next((c for c in chain if defines(c, "__init__")), None)
    return (owner, next(m for m in owner.node.body.body if isinstance(m, cst.FunctionDef)
                        and m.name.value == "__init__")) if owner is not None else None


def init_events(chain: list, flow_of, _at: int = 0) -> list[tuple[Event, Flow]] | None:
    """The events of the constructor an instance runs (`flow_of(func)`: a function's event list),
    with the flow each comes from: the first
    `__init__` of the line, with its base's in place of a `super().__init__(...)` statement of its
    body's top level. None where one is not read: a `super()` call elsewhere in it, an `__init__`
    whose body was not made an event list."""
    owner = next((k for k in range(_at, len(chain)) if defines(chain[k], "__init__")), None)
    if owner is None:
        return []
    init = next(m for m in chain[owner].node.body.body if isinstance(m, cst.FunctionDef) and m.name.value == "__init__")
    flow = flow_of(init)
    if flow is None:
        return None
    supers = [n for n in walk(init.body) if isinstance(n, cst.Call) and isinstance(n.func, cst.Attribute)
              and isinstance(n.func.value, cst.Call) and dotted(n.func.value.func) == "super"]
    if not supers:
        return [(e, flow) for e in flow.events]
    top = [k for k, st in enumerate(init.body.body) if isinstance(st, cst.SimpleStatementLine) and len(st.body) == 1
           and isinstance(st.body[0], cst.Expr) and st.body[0].value is supers[0]]
    if len(supers) != 1 or not top or supers[0].func.attr.value != "__init__":
        return None
    base = init_events(chain, flow_of, owner + 1)
    if base is None:
        return None
    before = {id(n) for st in init.body.body[:top[0]] for n in walk(st)}
    return [(e, flow) for e in flow.events if id(e.node) in before] + base + \
        [(e, flow) for e in flow.events if id(e.node) not in before]


def init_only_attrs(chain: list) -> set[str]:
    """Attributes of self the classes of the line assign in their `__init__` and in no other method:
    the object they hold is the one every method sees. Any `setattr`, or a `self.x` stored to outside
    `__init__` (an assignment of any form, `del`), takes `x` out; a setattr on self anywhere takes all."""
    attrs = {a for c in chain for a in c.attrs}
    for c in chain:
        for m in c.node.body.body:
            if not isinstance(m, cst.FunctionDef):
                continue
            for n in walk(m):
                if isinstance(n, cst.Call) and isinstance(n.func, cst.Name) and n.func.value in ("setattr", "delattr"):
                    return set()
                if m.name.value == "__init__":
                    continue
                for t in _stored(n):
                    if isinstance(t, cst.Attribute) and isinstance(t.value, cst.Name) and t.value.value == "self":
                        attrs.discard(t.attr.value)
    return attrs


def _stored(n: cst.CSTNode) -> list[cst.BaseExpression]:
    """The expressions a node stores to (or deletes), tuple and list targets unpacked."""
    if isinstance(n, (cst.AssignTarget, cst.AnnAssign, cst.AugAssign, cst.For, cst.CompFor, cst.NamedExpr, cst.Del)):
        targets = [n.target]
    elif isinstance(n, cst.AsName):
        targets = [n.name]
    else:
        return []
    out = []
    while targets:
        t = targets.pop()
        if isinstance(t, (cst.Tuple, cst.List)):
            targets.extend(el.value for el in t.elements)
        elif isinstance(t, cst.StarredElement):
            targets.append(t.value)
        else:
            out.append(t)
    return out


class Summaries:
    """What same-file functions do to their positional parameters (bounded depth). Calls that
    leave the file go to `external`/`external_method`, which say nothing here; the flow layer
    answers them from the project index."""

    # what a call site takes over from its callee: from what it does to an argument, and from
    # what it did to the model it returns
    APPLIED = (TRAIN, BN_FREEZE, EVAL, ACTIVITY, FREEZE, UNFREEZE, OPT_BUILD, ADD_GROUP, DDP_WRAP, OPAQUE)
    RETURNED = (TRAIN, BN_FREEZE, EVAL, FREEZE, UNFREEZE)

    def __init__(self, facts: Facts) -> None:
        self.facts = facts
        self._cache: dict[tuple[int, int], tuple[str, ...]] = {}
        self._all: dict[tuple[int, int], dict[str, cst.CSTNode]] = {}
        self._first: dict[tuple[int, int], dict[str, Event]] = {}
        self._every: dict[tuple[int, int], dict[str, list[Event]]] = {}  # each event of a kind, in order
        self._names: dict[tuple[int, int | str], str] = {}  # the callee's name for a position
        self._flows: dict[int, Flow] = {}
        self._tests: dict[int, dict[int, cst.BaseExpression]] = {}  # function -> its `if` tests by id
        self._quiet: dict[tuple[int, int], bool] = {}
        self._busy: set[int] = set()
        self._classes_busy: set[int] = set()  # classes whose BatchNorm parts are being looked for

    def effects(self, func: cst.FunctionDef, pos: int, depth: int = 0) -> dict[str, cst.CSTNode]:
        """Every event kind the function causes on its parameter `pos`, with the first node of each."""
        self.of(func, pos, depth)
        return self._all.get((id(func), pos), {})

    def of(self, func: cst.FunctionDef, pos: int, depth: int) -> tuple[str, ...]:
        key = (id(func), pos)
        if key in self._cache:
            return self._cache[key]
        if depth >= _MAX_DEPTH or id(func) in self._busy:
            return ()
        scope = self.facts.func_scopes.get(id(func))
        params = [*func.params.posonly_params, *func.params.params]
        if scope is None or isinstance(pos, int) and pos >= len(params):
            return ()
        flow = self.body_flow(func, depth)
        if flow is None:
            return ()
        names = [p.name.value for p in params]
        targets: list[tuple[int | str, str | None]] = [*enumerate(names), (RET, returned_local(flow, scope, names))]
        if isinstance(pos, str) and pos.startswith("self."):
            # an attribute of self a plain class holds (`self.model`): what a method does to it
            targets = [(pos, pos)] if names and names[0] == "self" else []
        elif pos == RUNS:  # a backward() or optimizer step of the body's, whatever its model
            targets = [(pos, pos)]
        elif isinstance(pos, str) and pos.startswith(GLOBAL):  # a module-level name it reads (globals_read)
            targets = [(pos, pos[len(GLOBAL):])]
        elif is_returned(pos) and pos != RET:  # an element of a returned tuple (`a, b = build()`)
            targets = [(pos, returned_element(flow, scope, names, int(pos.partition("@")[2])))]
        held = _held_on_self(func, names) if names and names[0] == "self" else {}
        for i, name in targets:  # one pass over the body answers every parameter, and the return
            first: dict[str, cst.CSTNode] = {}
            events: dict[str, Event] = {}
            every: dict[str, list[Event]] = {}
            loops_of: dict[str, set[int]] = {ACTIVITY: set(), TRAIN: set()}
            alias = held.get(name) if isinstance(i, int) else None  # `self.model = model`: the optimizer over self.model
            for e in flow.events if name is not None else ():
                if e.kind == REBIND and e.target == name and not e.branches and not e.loops:
                    if not is_returned(i):
                        break  # the parameter now names a new object: the caller's is left alone from here
                    first, events, every = {}, {}, {}  # what was done before belongs to another object than the one returned
                    continue
                if e.target == name or e.target.startswith(name + ".") or \
                        alias is not None and e.kind == OPT_BUILD and (e.target == alias or e.target.startswith(alias + ".")):
                    node = e.detail.get("origin_node", e.node)
                    if e.kind in (ACTIVITY, OPAQUE):
                        # its last run (or last hand-over to an unknown callable, which may
                        # re-freeze), moved to the end: the kinds stay in body order, so a call
                        # site orders a helper's train() and its runs as the inline code would
                        first.pop(e.kind, None)
                        first[e.kind] = node
                    first.setdefault(e.kind, node)
                    events.setdefault(e.kind, e)
                    every.setdefault(e.kind, []).append(e)
                    if e.kind in loops_of:
                        loops_of[e.kind].update(e.loops)
            if loops_of[ACTIVITY] & loops_of[TRAIN] and list(first).index(ACTIVITY) < list(first).index(TRAIN):
                # a training loop whose train() comes after its runs (validation, then `model.train()`,
                # at the end of an iteration): the next iteration runs after that train()
                first[ACTIVITY] = first.pop(ACTIVITY)
            k = (id(func), i)
            if name is not None:
                self._names[k] = name
            self._all[k] = first
            self._first[k] = events
            self._every[k] = every
            applied = self.RETURNED if is_returned(i) else self.APPLIED
            self._cache[k] = tuple(x for x in first if x in applied or x.startswith((CALLS, VIA)))
        return self._cache[key]

    def globals_read(self, func: cst.FunctionDef, depth: int) -> list[str]:
        """The names of an outer scope the function has events on and never binds (no parameter, local
        or `global` statement of that name): a module-level variable, or a variable or parameter of an
        enclosing function (a closure: `def train_one_epoch(): model.train()` nested in `main`), each
        a position `GLOBAL + name`."""
        scope, flow = self.facts.func_scopes.get(id(func)), self.body_flow(func, depth)
        module = self.facts.module_scope
        names: list[str] = []
        for e in flow.events if scope is not None and flow is not None else ():
            name = e.target.split(".")[0]
            owner = scope.lookup(name) if name not in names and name.isidentifier() else None
            if owner is None or owner is scope or owner.kind not in ("module", "function"):
                continue
            # a variable, not a def, class or import
            if all(b.how == "expr" or b.how == "param" and owner is not module for b in owner.bindings[name]):
                names.append(name)
        return names

    def read_from(self, func: cst.FunctionDef, name: str) -> "Scope | None":
        """The outer scope whose `name` the function reads (globals_read)."""
        scope = self.facts.func_scopes.get(id(func))
        return scope.lookup(name) if scope is not None else None

    def body_flow(self, func: cst.FunctionDef, depth: int = 0) -> "Flow | None":
        """The events of a function's body, built once."""
        if id(func) in self._flows:
            return self._flows[id(func)]
        scope = self.facts.func_scopes.get(id(func))
        if scope is None or id(func) in self._busy:
            return None
        self._busy.add(id(func))
        try:
            flow = Flow.of_body(self.facts, scope, func.body.body, self, depth + 1)
        finally:
            self._busy.discard(id(func))
        self._flows[id(func)] = flow
        return flow

    def switched_off(self, func: cst.FunctionDef, pos: int, kind: str, call: cst.Call, bound: bool) -> bool:
        """Every `kind` event `func` causes at `pos` sits under an `if flag:` on a parameter of `func`
        that `call` sets off (`get_model()` of `def get_model(freeze_bn=False)`, whose BatchNorm freeze
        is under `if freeze_bn:`; `build(freeze=False)`): at that call the function does not do it.
        `bound`: the call passes no receiver (`self.get_model(...)`), the first parameter is it."""
        flags = self.flags_of(func, pos, kind, bound)
        return flags is not None and all(_switched_off(f, call) for f in flags)

    def flags_of(self, func: cst.FunctionDef, pos: int, kind: str, bound: bool = False) -> list[list] | None:
        """The `if flag:` tests on parameters of `func` each `kind` event at `pos` sits under
        (`[[index as a caller passes it, name, off by default], ...]` per event, as _switched_off reads
        them), or None where some event sits under none, or there is none."""
        events = self._every.get((id(func), pos), {}).get(kind, [])
        params = [*func.params.posonly_params, *func.params.params][1 if bound else 0:]
        tests = self._tests.get(id(func))
        if tests is None:  # asked at every call of the function, for each argument and kind: walked once
            tests = self._tests[id(func)] = {id(n): n.test for n in walk(func.body) if isinstance(n, cst.If)}
        out = []
        for e in events:
            flags = []
            for if_id, arm in e.branches:
                test = tests.get(if_id)
                at = next((i for i, p in enumerate(params)
                           if arm == 0 and isinstance(test, cst.Name) and p.name.value == test.value), None)
                if at is not None:
                    default = params[at].default
                    flags.append([at, params[at].name.value,
                                  isinstance(default, (cst.Name, cst.Integer)) and default.value in _OFF])
            flags += self._handed_flags(func, e, kind, params)
            if not flags:
                return None
            out.append(flags)
        return out or None

    def _handed_flags(self, func: cst.FunctionDef, e: Event, kind: str, params: list[cst.Param]) -> list[list]:
        """The flags of a helper of the file the event came through (`set_parameter_requires_grad(model,
        feature_extract)`, whose freeze sits under `if feature_extracting:`) that the call hands one of
        the function's own parameters: flags of the function then, as if its `if` were its own. Only
        where every such event of the helper sits under the same flags; [] otherwise."""
        call = e.node
        if not e.detail.get("via") or not isinstance(call, cst.Call) or not isinstance(call.func, cst.Name) \
                or any(a.star for a in call.args):
            return []
        scope = self.facts.func_scopes.get(id(func))
        helper = self.facts.resolve_def(call.func, scope) if scope is not None else None
        if helper is None or helper is func:
            return []
        hparams = [*helper.params.posonly_params, *helper.params.params]
        root = e.target.split(".")[0]
        at = next((i for i, a in enumerate(call.args) if a.keyword is None and i < len(hparams)
                   and root_of(a.value) == root), None)
        if at is None:
            return []
        hflags = self.flags_of(helper, at, kind)
        if hflags is None or any(f != hflags[0] for f in hflags):
            return []
        names = [p.name.value for p in params]
        out = []
        for hat, hname, _ in hflags[0]:
            value = call_arg(call, hat, hname)
            if isinstance(value, cst.Name) and value.value in names:
                i = names.index(value.value)
                default = params[i].default
                out.append([i, value.value, isinstance(default, (cst.Name, cst.Integer)) and default.value in _OFF])
        return out

    def first_event(self, func: cst.FunctionDef, pos: int, kind: str) -> Event | None:
        return self._first.get((id(func), pos), {}).get(kind)

    def detail(self, func: cst.FunctionDef, pos: int, kind: str) -> dict:
        """What a call site's event says about where it comes from (for messages)."""
        if kind == OPT_BUILD:
            e = self.first_event(func, pos, kind)
            return {**opt_detail(e), "via": func.name.value} if e is not None else {}
        if kind in (FREEZE, UNFREEZE):
            kept = kind == FREEZE and UNFREEZE in self._all.get((id(func), pos), {}) and self.kept(func, pos)
            return {"via": func.name.value, **self._inner(func, pos, kind), **({"kept": True} if kept else {})}
        if kind == OPAQUE:
            return {"via": func.name.value, "hands": self.hands(func, pos)}
        if kind == BN_FREEZE:  # where in its parameter (`model.backbone`), relative to it
            e, name = self.first_event(func, pos, kind), self._names.get((id(func), pos))
            within = e.detail.get("within") if e is not None else None
            inner = {"inner": within[len(name):]} if within and name and within.startswith(name + ".") else {}
            return {"via": func.name.value, **inner}
        if kind != TRAIN:
            return {"via": func.name.value}
        return {"via": func.name.value, "origin_node": self._all.get((id(func), pos), {}).get(kind),
                **self._reached(func, pos), **({"restores": True} if self.restores(func, pos) else {})}

    def restores(self, func: cst.FunctionDef, pos: int) -> bool:
        """Every train() of its parameter `pos` puts back a mode saved from it (`model.train(was_training)`)."""
        flow, name = self._flows.get(id(func)), self._names.get((id(func), pos))
        if flow is None or name is None:
            return False
        trains = [e for e in flow.events if e.kind == TRAIN and (e.target == name or e.target.startswith(name + "."))]
        return bool(trains) and all(e.detail.get("restores") for e in trains)

    def kept(self, func: cst.FunctionDef, pos: int) -> bool:
        """Some freeze of its parameter `pos` outlives the function's own later unfreezes: each sets
        back only a subset that a name test of its own picks (loralib's `mark_only_lora_as_trainable`
        freezes every non-LoRA parameter, then re-enables the biases for `bias="all"`)."""
        flow, name = self._flows.get(id(func)), self._names.get((id(func), pos))
        if flow is None or name is None:
            return False
        mine = [e for e in flow.events if e.target == name or e.target.startswith(name + ".")]
        return any(f.kind == FREEZE and not any(u.kind == UNFREEZE and u.index > f.index and _part_of(
            f.detail.get("sub"), u.detail.get("sub")) and sets_back(u, f) for u in mine) for f in mine)

    def reach_inner(self, func: cst.FunctionDef, pos: int) -> list | None:
        """The parts of its parameter `pos` the function's train() calls reach, relative to it
        (`[[".head", False]]`, see Flow._reach); None when one reaches all of it."""
        flow, name = self._flows.get(id(func)), self._names.get((id(func), pos))
        if flow is None or name is None:
            return None
        out = []
        for e in flow.events:
            if e.kind != TRAIN or not (e.target == name or e.target.startswith(name + ".")):
                continue
            for path, bn in e.detail.get("reach") or [[e.target, self._part_bn(e, flow.scope)]]:
                path = whole_of(path, name)
                if not path.startswith((name + ".", name + "[")):
                    return None
                out.append([path[len(name):], bn])
        return out or None

    def constructed_bn(self, info) -> list[dict]:
        """The BatchNorm freezes `__init__` of a Module class of this file makes through a public
        method of the class (`self.freeze_bn()`: callers may call it again, so FZ201 judges them
        where the model trains), each as `{"inner": ".backbone" (or "" for all of self), "flags":
        [[index, name, off by default]]}`: the `if flag:` tests on its parameters it sits under."""
        init = next((s for s in info.node.body.body if isinstance(s, cst.FunctionDef) and s.name.value == "__init__"),
                    None)
        flow = self.body_flow(init) if init is not None else None
        public = {s.name.value for s in info.node.body.body if isinstance(s, cst.FunctionDef)
                  and not s.name.value.startswith("_")}
        out = []
        for e in flow.events if flow is not None else ():
            if e.kind != BN_FREEZE or e.detail.get("via") not in public or e.detail.get("returned") \
                    or not (e.target == "self" or e.target.startswith("self.")):
                continue
            within = e.detail.get("within") or e.target
            inner = within[len("self"):] if within.startswith("self.") else ""
            out.append({"inner": inner, "flags": _flags(init, e)})
        return out

    def external_constructed_bn(self, class_qual: str) -> list[dict]:
        """The same of a class of another file: not known here."""
        return []

    def constructed_freezes(self, info) -> list[dict]:
        """The parts of self a Module class's `__init__` leaves frozen, each as `{"inner":
        ".encoder.fc" (or "" for all of self), "flags": [[index, name, off by default]]}`: the `if
        flag:` tests on its parameters the freeze sits under. A freeze of a constructor argument
        counts where `__init__` stores it on self (`self.text_model = text_model`); one that a later
        unfreeze there sets back, or a later assignment of the part (or of one above it) that does not
        name it replaces, does not."""
        init = next((s for s in info.node.body.body if isinstance(s, cst.FunctionDef) and s.name.value == "__init__"),
                    None)
        params = [p.name.value for p in (*init.params.posonly_params, *init.params.params)] if init else []
        flow = self.body_flow(init) if params else None
        if flow is None:
            return []
        held = _held_arguments(init, params, flow)
        paths = [_held_path(e, params[0], held) if e.kind in (FREEZE, UNFREEZE, REPLACE) else None
                 for e in flow.events]
        out: list[dict] = []
        for e, path in zip(flow.events, paths):
            if e.kind != FREEZE or path is None or any(
                    _sets_back_part(later, at, e, path) for later, at in zip(flow.events[e.index + 1:],
                                                                             paths[e.index + 1:])):
                continue
            record = {"inner": path[len(params[0]):], "flags": _flags(init, e)}
            if e.detail.get("broken"):  # a freeze only as meant (`self.backbone.requires_grad = False`): messages say so
                record["broken"] = [e.detail["broken"], code_of(e.node)]
            if record not in out:
                out.append(record)
        return out

    def external_constructed_freezes(self, class_qual: str) -> list[dict]:
        """The same of a class of another file (with the "edges" that reached it): not known here."""
        return []

    def _part_bn(self, e: Event, scope: Scope) -> bool:
        """`self.head.train()` in a method: the part it reaches is proven to hold BatchNorm."""
        func = e.node.func if isinstance(e.node, cst.Call) else None
        return isinstance(func, cst.Attribute) \
            and self.holds_batchnorm(unwrap_self_returning(func.value), scope, part=True)

    def _reached(self, func: cst.FunctionDef, pos: int) -> dict:
        inners = self.reach_inner(func, pos)
        return {"reach_inner": inners} if inners else {}

    def hands(self, func: cst.FunctionDef, pos: int) -> list:
        """The callables the function hands its parameter `pos` to (`Flow._hand`; None: one not known)."""
        flow, name = self._flows.get(id(func)), self._names.get((id(func), pos))
        if flow is None or name is None:
            return [None]
        return [h for e in flow.events if e.kind == OPAQUE and (e.target == name or e.target.startswith(name + "."))
                for h in e.detail.get("hands") or [None]]

    def quiet(self, func: cst.FunctionDef, pos: int) -> bool:
        """The function provably leaves the modes of its parameter `pos` alone (modes.quiet)."""
        key = (id(func), pos)
        if key not in self._quiet:
            self._quiet[key] = quiet(self.facts, func, pos)
        return self._quiet[key]

    def external_quiet(self, func: cst.Name, scope: Scope, pos: int) -> bool:
        """The same of a function of another file: not known here."""
        return False

    def _inner(self, func: cst.FunctionDef, pos: int, kind: str) -> dict:
        """The part of its parameter the callee's first freeze (unfreeze) names, relative to the
        parameter (`".encoder.layer[i]"`, `""` for all of it); nothing when the part is not known."""
        e, name = self.first_event(func, pos, kind), self._names.get((id(func), pos))
        sub = e.detail.get("sub") if e is not None else None
        if not sub or not name or not (sub == name or sub.startswith((name + ".", name + "["))):
            return {}
        return {"inner": sub[len(name):]}

    def method(self, recv: cst.BaseExpression, method: str, scope: Scope, depth: int) -> list[tuple[str, dict]]:
        """`recv.method(...)` on an instance of a Module class: what the method does to `self`."""
        kind = self.facts.kind(recv, scope)
        if kind is None or kind.tag != "module":
            return []
        if kind.cls is not None:
            for st in kind.cls.node.body.body:
                if isinstance(st, cst.FunctionDef) and st.name.value == method:
                    return [(k, self._method_detail(st, k)) for k in self.of(st, 0, depth)]
            return []
        if kind.qual is not None:
            return self.external_method(kind.qual, method)
        return []

    def _method_detail(self, func: cst.FunctionDef, kind: str) -> dict:
        """`detail` of a method's event on self; an optimizer's also says which part of self it is
        built over (`self.model.parameters()`: "inner" ".model"), which the call site places under
        its receiver."""
        detail = self.detail(func, 0, kind)
        e = self.first_event(func, 0, kind) if kind == OPT_BUILD else None
        path, name = (e.detail.get("path"), self._names.get((id(func), 0))) if e is not None else (None, None)
        if path and name and (path == name or path.startswith((name + ".", name + "["))):
            detail["inner"] = path[len(name):]
        return detail

    def holds(self, info) -> dict[str, tuple[int, str]]:
        """The constructor arguments a plain class (no Module) of this file keeps as they are
        (`self.model = model` in `__init__`, the attribute assigned nowhere else in the class):
        "self.model" -> (its index after self, "model"). Its methods act on what the caller gave."""
        if info is None or info.is_module:
            return {}
        line = lineage(self.facts, info)
        chain = line[0] if line is not None else [info]  # a class with other bases: its own __init__
        found = chain_init(chain)
        init = found[1] if found is not None else None
        if init is None or init.params.posonly_params:
            return {}
        names = [p.name.value for p in init.params.params]
        return {attr: (names.index(name) - 1, name) for name, attr in _held_on_self(init, names).items()
                if sum(len(c.attrs.get(attr[len("self."):], [])) for c in chain) == 1}

    def held_effects(self, info, method: str, depth: int) -> list[tuple[int, str, str, dict]]:
        """What a method of a plain class of this file does to the constructor arguments the class
        holds (`holds`): `(index, name, kind, detail)` each, the method's first event of each kind
        on that attribute (`def freeze_backbone(self): self.model.backbone.requires_grad_(False)`)."""
        line = lineage(self.facts, info)
        chain, base = line if line is not None else ([info], None)
        owner = next((c for c in chain if defines(c, method)), None)
        if owner is None and base is not None and not any(defines(c, "__init__") for c in chain):
            # `class FineTuner(BaseTrainer)` of a base of another file, constructor and method its
            return self.external_held_method(base, method)
        func = own_method(owner, method) if owner is not None else None
        if func is None:
            return []
        held = self.holds(info)
        out = [(i, name, k, self.detail(func, attr, k)) for attr, (i, name) in held.items()
               for k in self.of(func, attr, depth)]
        # the instance's own optimizer given a param group (`self.optimizer.add_param_group(...)`):
        # at position -1, the instance itself (FZ303 asks whether anything did)
        attrs = sorted({a for c in chain for a in c.attrs})
        own = [k for attr in attrs if f"self.{attr}" not in held
               for k in self.of(func, f"self.{attr}", depth) if k == ADD_GROUP]
        # a step it runs (`trainer.fit()`): at position -2, on "*"
        runs = [(-2, RUNS, ACTIVITY, d) for _, _, d in self._runs(func, depth)] if held else []
        return out + ([(-1, "self", ADD_GROUP, {"via": func.name.value})] if own else []) + runs

    def external_held_method(self, class_qual: str, method: str) -> list[tuple[int, str, str, dict]]:
        """`held_effects` of a class of another file: not known here."""
        return []

    def external_owns(self, class_qual: str) -> tuple[dict, str, object] | None:
        """What the constructor of a plain class of another file leaves in the attributes it alone
        assigns (a summary's "owns"), with its file and the edge to it: not known here."""
        return None

    def external_init(self, class_qual: str, pos: int, name: str) -> list[tuple[str, dict]]:
        """What the `__init__` of a plain class of another file does to its argument `pos`, run by
        `name(...)`, a class of this file that inherits it: not known here."""
        return []

    def instance_call(self, recv: cst.BaseExpression, scope: Scope) -> tuple[cst.Call, object] | None:
        """`trainer` bound once in this body, to `Trainer(model, ...)` of a plain class (no Module):
        that call, with the class of this file (its ClassInfo), or the qualified name of the project
        class it imports. A call with `*args` maps no argument to a position: None."""
        bindings = scope.bindings.get(recv.value, []) if isinstance(recv, cst.Name) else []
        call = bindings[0].node if len(bindings) == 1 and bindings[0].how == "expr" and not bindings[0].index \
            else None
        if not isinstance(call, cst.Call) or not isinstance(call.func, cst.Name) or any(a.star for a in call.args):
            return None
        name = call.func.value
        owner = scope.lookup(name)
        made = owner.bindings.get(name, []) if owner is not None else []
        if len(made) != 1:
            return None
        local = self.facts.classes.get(name)
        if owner is self.facts.module_scope and local is not None and local.node in self.facts.module.body:
            return None if local.is_module else (call, local)
        if made[0].how == "import" and made[0].qualname and not is_library(made[0].qualname):
            return call, made[0].qualname
        return None

    def instance_method(self, recv: cst.BaseExpression, method: str, scope: Scope) -> cst.FunctionDef | str | None:
        """The method `recv.method(...)` runs where `recv` is an instance of a plain project class
        (`self` in a method of one, or built in this body: `instance_call`): its definition in this
        file (through the class's bases of this file), or `Class.method` of a class of another file
        (as this file names it); None where not known."""
        if isinstance(recv, cst.Name) and recv.value == "self" and scope.is_method and scope.cls is not None \
                and not scope.cls.is_module and recv.value in scope.bindings:
            info, base = scope.cls, None
        else:
            found = self.instance_call(recv, scope)
            if found is None:
                return None
            if isinstance(found[1], str):
                return f"{found[1]}.{method}"
            info = found[1]
        line = lineage(self.facts, info)
        chain, base = line if line is not None else ([info], None)
        owner = next((c for c in chain if defines(c, method)), None)
        if owner is None:
            return f"{base}.{method}" if base is not None else None
        func = own_method(owner, method)
        return func if func is not None and func is not scope.node else None

    def method_args(self, recv: cst.BaseExpression, method: str, scope: Scope, pos: int,
                    depth: int) -> list[tuple[str, dict]]:
        """`trainer.freeze(model)`: what the method of a plain project class does to its argument
        `pos` (after self), as a helper's call does to its arguments."""
        func = self.instance_method(recv, method, scope)
        if isinstance(func, str):
            cls, _, name = func.rpartition(".")
            return [(k, {**d, "via": f"{dotted(recv)}.{method}"} if "via" in d else d)
                    for k, d in self.external_method_args(cls, name, pos)]
        if func is None:
            return []
        return [(k, {**self.detail(func, pos + 1, k), "via": f"{dotted(recv)}.{method}"})
                for k in self.of(func, pos + 1, depth)]

    def external_method_args(self, class_qual: str, method: str, pos: int) -> list[tuple[str, dict]]:
        """`method_args` of a class of another file: not known here."""
        return []

    def held_method(self, recv: cst.BaseExpression, method: str, scope: Scope,
                    depth: int) -> list[tuple[cst.BaseExpression, str, dict]]:
        """`trainer.freeze_backbone()` on an instance of a plain project class built in this body
        (`trainer = Trainer(model)`): what the method does to the constructor arguments the class
        holds, as `(argument at the construction, kind, detail)`."""
        if isinstance(recv, cst.Name) and recv.value == "self" and scope.is_method and scope.cls is not None \
                and not scope.cls.is_module and recv.value in scope.bindings:
            # `self.freeze_backbone()` in another method of a plain class: what it does to self's
            # attributes (`trainer.fit()` then acts through the methods fit calls)
            line = lineage(self.facts, scope.cls)
            chain = line[0] if line is not None else [scope.cls]  # a method a base of this file defines too
            owner = next((c for c in chain if defines(c, method)), None)
            func = own_method(owner, method) if owner is not None else None
            attrs = sorted({a for c in chain for a in c.attrs})
            if func is None or func is scope.node:
                return []
            return [(cst.Attribute(cst.Name("self"), cst.Name(attr)), k, self.detail(func, f"self.{attr}", k))
                    for attr in attrs for k in self.of(func, f"self.{attr}", depth)] + self._runs(func, depth)
        found = self.instance_call(recv, scope)
        if found is None:
            return []
        call, cls = found
        effects = self.external_held_method(cls, method) if isinstance(cls, str) else \
            self.held_effects(cls, method, depth)
        return [(arg, k, d) for i, name, k, d in effects
                if (arg := recv if i == -1 else RUNS_AT if i == -2 else call_arg(call, i, name)) is not None]

    def _runs(self, func: cst.FunctionDef, depth: int) -> list[tuple[cst.BaseExpression, str, dict]]:
        """A backward() or step the method runs (`loss.backward()` in `trainer.fit()`): one at the
        call, on "*", as the method's own does in its body."""
        return [(RUNS_AT, ACTIVITY, {"via": func.name.value})] if ACTIVITY in self.of(func, RUNS, depth) else []

    def holds_batchnorm(self, expr: cst.BaseExpression, scope: Scope, part: bool = False, depth: int = 0) -> bool:
        """`expr` is proven to hold a layer with running statistics (BatchNorm): a BatchNorm
        layer, a torch.nn container built with one, a model from the submodule table whose part
        holds one, a Module class of the project whose attribute holds one. With `part`, only a
        part of a model (`model.layer1`, `self.backbone`): never the whole model. A name alone proves
        nothing; a part built in arms (`bn if x else nn.Identity()`) is not proven."""
        if depth > _MAX_DEPTH or (part and not isinstance(expr, cst.Attribute)):
            return False
        expr = unwrap_self_returning(expr)
        kind = self.facts.kind(expr, scope)
        if kind is not None and kind.tag == "module":
            if is_batchnorm_class(kind.qual):
                return True
            if kind.factory:
                from freezelint.check.submodule_table import TABLE  # loaded on first use

                bn = TABLE.get(kind.factory, {}).get("bn")
                if bn is not None:
                    return any(p == kind.sub or p.startswith(f"{kind.sub}.") for p in bn) if kind.sub else bool(bn)
        if isinstance(expr, cst.Attribute):
            base = self.facts.kind(expr.value, scope)
            if base is None or base.tag != "module":
                return False
            if base.cls is not None:
                values = base.cls.attrs.get(expr.attr.value, [])
                return bool(values) and all(self.holds_batchnorm(v, s, depth=depth + 1) for v, s in values)
            if base.qual and not base.qual.startswith("torch.") and base.wraps is None:
                return expr.attr.value in self.external_bn_attrs(base.qual)
            return False
        if isinstance(expr, cst.Name):
            owner = scope.lookup(expr.value)
            bindings = owner.bindings.get(expr.value, []) if owner is not None else []
            return len(bindings) == 1 and bindings[0].how == "expr" and bindings[0].node is not None \
                and self.holds_batchnorm(bindings[0].node, bindings[0].scope or owner, depth=depth + 1)
        if not isinstance(expr, cst.Call):
            return False
        q = self.facts.qualname(expr.func, scope) or ""
        if q in _CONTAINERS:
            return any(self._built_with_bn(a.value, scope, depth + 1) for a in expr.args)
        info = self.facts.classes.get(expr.func.value) if isinstance(expr.func, cst.Name) else None
        if info is not None and info.is_module and kind is not None and kind.cls is info:
            return bool(self.bn_attrs(info, depth + 1))
        if kind is not None and kind.tag == "module" and kind.qual and not kind.qual.startswith("torch."):
            return bool(self.external_bn_attrs(kind.qual))
        return False

    def _built_with_bn(self, expr: cst.BaseExpression, scope: Scope, depth: int) -> bool:
        """An argument of a torch.nn container (`nn.Sequential(conv, nn.BatchNorm2d(8))`, a list
        of layers, an OrderedDict of them, `*layers`) that holds BatchNorm."""
        if isinstance(expr, (cst.List, cst.Tuple)):
            return any(self._built_with_bn(el.value, scope, depth) for el in expr.elements)
        if isinstance(expr, cst.Dict):
            return any(self._built_with_bn(el.value, scope, depth) for el in expr.elements
                       if isinstance(el, cst.DictElement))
        if isinstance(expr, cst.Call) and (self.facts.qualname(expr.func, scope) or "") in (
                "collections.OrderedDict", "dict", "list", "tuple"):
            return any(self._built_with_bn(a.value, scope, depth) for a in expr.args)
        if isinstance(expr, cst.Name):  # `layers = [conv, bn]; nn.Sequential(*layers)`
            owner = scope.lookup(expr.value)
            bindings = owner.bindings.get(expr.value, []) if owner is not None else []
            if len(bindings) == 1 and bindings[0].how == "expr" and isinstance(bindings[0].node, (cst.List, cst.Tuple)):
                return self._built_with_bn(bindings[0].node, bindings[0].scope or owner, depth + 1)
            if len(bindings) == 1 and bindings[0].how == "expr" and isinstance(bindings[0].node, (cst.Subscript, cst.Call)) \
                    and self._children_with_bn(bindings[0].node, bindings[0].scope or owner):
                return True  # `modules = list(resnet.children())[:-1]; nn.Sequential(*modules)`
        if self._children_with_bn(expr, scope):  # `*list(resnet18().children())[:-2]`
            return True
        return self.holds_batchnorm(expr, scope, depth=depth)

    def _children_with_bn(self, expr: cst.BaseExpression, scope: Scope) -> bool:
        """`expr` holds children of a table model (Kinds.kept_children) and one of those kept
        holds BatchNorm (the table's "bn" paths at or below it)."""
        kept = self.facts.kinds.kept_children(expr, scope)
        if kept is None:
            return False
        from freezelint.check.submodule_table import TABLE

        bn = TABLE.get(kept[0], {}).get("bn") or []
        return any(p == c or p.startswith(f"{c}.") for c in kept[1] for p in bn)

    def bn_attrs(self, info, depth: int = 0) -> list[str]:
        """Attributes of a Module class of this file that every assignment fills with a part
        holding BatchNorm (`self.backbone = nn.Sequential(..., nn.BatchNorm2d(8))`)."""
        if id(info) in self._classes_busy:
            return []
        self._classes_busy.add(id(info))
        try:
            return sorted(a for a, values in info.attrs.items()
                          if values and all(self.holds_batchnorm(v, s, depth=depth) for v, s in values))
        finally:
            self._classes_busy.discard(id(info))

    def external_bn_attrs(self, class_qual: str) -> list[str]:
        """`bn_attrs` of a class of another file: none known here."""
        return []

    def overrides_train(self, expr: cst.BaseExpression, scope: Scope) -> str | None:
        """`expr` is a Module of a class that defines train() itself, or whose base class of the
        project does (through a DataParallel/DDP wrapper: the wrapped model's class): that class's
        name, else None. Its train() is what `expr.train()` runs, whatever it re-applies."""
        return self._override_of(self.facts.kind(expr, scope), 0)

    def _override_of(self, kind, depth: int) -> str | None:
        if kind is None or kind.tag != "module" or depth > _MAX_DEPTH:
            return None
        if kind.wraps is not None:
            return self._override_of(self.facts.kind(*kind.wraps), depth + 1)
        if kind.cls is not None:
            return self._class_override(kind.cls, frozenset())
        if kind.qual is not None and not kind.qual.startswith("torch."):
            return self.external_override(kind.qual)
        return None

    def _class_override(self, info, seen: frozenset[str]) -> str | None:
        if any(isinstance(st, cst.FunctionDef) and st.name.value == "train" for st in info.node.body.body):
            return info.name
        for base in (b.value for b in info.node.bases if b.keyword is None):
            q = self.facts.qualname(base, self.facts.module_scope) or (base.value if isinstance(base, cst.Name) else "")
            local = self.facts.classes.get(q)
            if local is not None and q not in seen:
                found = self._class_override(local, seen | {q})
            elif local is None and q and not q.startswith("torch."):
                found = self.external_override(q)
            else:
                found = None
            if found:
                return found
        return None

    def named_override(self, name: str) -> str | None:
        """`_override_of` for a class this file names (`DeepLab` of `self.model = DeepLab()`): a
        class of this file, through its bases, or one it imports from another file."""
        info = self.facts.classes.get(name)
        if info is not None:
            return self._class_override(info, frozenset({name}))
        binding = self.facts.module_scope.bindings.get(name, [])
        q = binding[0].qualname if len(binding) == 1 and binding[0].how == "import" else None
        return self.external_override(q) if q and not q.startswith("torch.") else None

    def external_override(self, class_qual: str) -> str | None:
        """The class of another file (or a base of it) that defines train(): none known here."""
        return None

    def override_keeps(self, expr: cst.BaseExpression, scope: Scope) -> list[str] | None:
        """What the train() override `expr.train()` runs provably keeps in eval mode (the parts it
        re-applies eval() to; `[]`: none), or None when it may keep more (modes.train_keeps)."""
        kind, depth = self.facts.kind(expr, scope), 0
        while kind is not None and kind.tag == "module" and kind.wraps is not None and depth <= _MAX_DEPTH:
            kind, depth = self.facts.kind(*kind.wraps), depth + 1
        if kind is None or kind.tag != "module" or kind.wraps is not None:
            return None
        if kind.cls is not None:
            return self._class_keeps(kind.cls, frozenset())
        if kind.qual is not None and not kind.qual.startswith("torch."):
            return self.external_override_keeps(kind.qual)
        return None

    def _class_keeps(self, info, seen: frozenset[str]) -> list[str] | None:
        """`override_keeps` of a class of this file: its own train(), else the base whose
        train() `_class_override` finds (of this file, or of another)."""
        if any(isinstance(st, cst.FunctionDef) and st.name.value == "train" for st in info.node.body.body):
            return train_keeps(self.facts, info)
        for base in (b.value for b in info.node.bases if b.keyword is None):
            q = self.facts.qualname(base, self.facts.module_scope) or (base.value if isinstance(base, cst.Name) else "")
            local = self.facts.classes.get(q)
            if local is not None and q not in seen:
                if self._class_override(local, seen | {q}):
                    return self._class_keeps(local, seen | {q})
            elif local is None and q and not q.startswith("torch.") and self.external_override(q):
                return self.external_override_keeps(q)
        return None

    def external_override_keeps(self, class_qual: str) -> list[str] | None:
        """`override_keeps` of a class of another file: not known here."""
        return None

    def external(self, func: cst.Name, scope: Scope, pos: int, call: cst.Call | None = None) -> list[tuple[str, dict]]:
        """What a function defined in another file does to its parameter `pos`: not known to one
        file, only that the argument is handed on (`via:<qualname>#<pos>`), which a summary keeps
        so that a caller two files away still sees what that function does. (`call`: the call
        site, whose flags may switch an effect off where the project is known.)"""
        owner = scope.lookup(func.value)
        bindings = owner.bindings.get(func.value, []) if owner is not None else []
        if len(bindings) != 1 or bindings[0].how != "import" or not bindings[0].qualname:
            return []
        q = self.facts.qualname(func, scope)
        if not q or is_library(q):
            return []
        return [(f"{VIA}{q}#{pos}", {})]

    def external_method(self, class_qual: str, method: str) -> list[tuple[str, dict]]:
        """What a method of a class defined in another file does to `self` (none known here)."""
        return []

    def whole_freezer(self, fn: cst.BaseExpression, scope: Scope, flag: str = "False") -> bool:
        """A function of the file that, given a module, freezes every parameter of it and does
        nothing else that may pick (no `if`, jump or other exit, no unfreeze, no helper): each
        statement `m.requires_grad_(False)`, or a loop over `m.parameters()` whose body sets the
        loop's parameter `requires_grad = False` (or `requires_grad_(False)`). What `model.apply(fn)`
        then freezes is all of the model. So does `lambda m: m.requires_grad_(False)`. (`flag`
        "True": one that unfreezes every parameter so.)"""
        if isinstance(fn, cst.Lambda):
            params = [*fn.params.posonly_params, *fn.params.params]
            return len(params) == 1 and _freezes_whole(cst.SimpleStatementLine([cst.Expr(fn.body)]),
                                                       params[0].name.value, flag=flag)
        func = self.facts.resolve_def(fn, scope) if isinstance(fn, cst.Name) else None
        params = [*func.params.posonly_params, *func.params.params] if func is not None else []
        if len(params) != 1 or isinstance(func.params.star_arg, cst.Param) \
                or not isinstance(func.body, cst.IndentedBlock):
            return False
        name = params[0].name.value
        body = [st for st in func.body.body if not _docstring(st)]
        return bool(body) and all(_freezes_whole(st, name, flag=flag) for st in body)

    def applied(self, fn: cst.BaseExpression, scope: Scope, call: cst.Call, depth: int) -> list[tuple[str, bool]]:
        """What `model.apply(fn)` does to requires_grad, as a direct call `fn(model)` would take it
        over (a function of the file, or of another file through its summary), or as a lambda's
        requires_grad changes on its parameter say: FREEZE and UNFREEZE, each with whether it reaches
        only the modules `fn` picks (not known which). An unfreeze whose reach is not read (another
        file's) may set back every parameter: it picks none."""
        def picks(k: str) -> bool:  # not every parameter of what it is given: only some modules'
            return not self.whole_freezer(fn, scope, "True" if k == UNFREEZE else "False")

        if isinstance(fn, cst.Lambda):
            return [(k, picks(k)) for k in _lambda_changes(fn, scope)]
        if not isinstance(fn, cst.Name):
            return []
        func = self.facts.resolve_def(fn, scope)
        if func is not None:
            params = [*func.params.posonly_params, *func.params.params]
            if len(params) != 1 or isinstance(func.params.star_arg, cst.Param) or func.params.kwonly_params:
                return []  # `apply` hands one module: a second parameter is a flag at its default, not read
            # a store that freezes nothing as written (FZ102's `m.requires_grad = False` on the module) is left out
            return [(k, picks(k)) for k in self.of(func, 0, depth) if k in (FREEZE, UNFREEZE)
                    and not _all_broken(self._every.get((id(func), 0), {}).get(k, []))]
        # of another file: its effects on what `fn(module)` is given, its flags left at their defaults
        alone = cst.Call(func=fn, args=[cst.Arg(value=call.func.value)]) \
            if isinstance(call.func, cst.Attribute) else call
        kinds = dict.fromkeys(k for k, _ in self.external(fn, scope, 0, alone) if k in (FREEZE, UNFREEZE))
        return [(k, k == FREEZE) for k in kinds]

    def bn_freezer(self, fn: cst.BaseExpression, scope: Scope) -> bool:
        """A function (or lambda) that, given a module, puts it in eval mode if it is BatchNorm."""
        if isinstance(fn, cst.Lambda):
            code = cst.Module(body=[]).code_for_node(fn)
            return bool(_BN_NAME.search(code)) and ".eval()" in code
        func = self.facts.resolve_def(fn, scope) if isinstance(fn, cst.Name) else None
        if func is None:
            return False
        return BN_FREEZE in self.of(func, 0, 0)


