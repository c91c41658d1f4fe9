"""Order of freezing events, across calls and files, for the flow-aware rules (FZ201,
FZ202, FZ301-FZ303, FZ306, FZ307): event lists per body (`events`), with calls into other files
of the project resolved through the project index (through chains of files), the order Lightning
imposes on a LightningModule's and a Callback's hooks, and the ordering questions rules ask."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import libcst as cst

from freezelint.check.events import (ACTIVITY, ADD_GROUP, BN_FREEZE, CALLS, DDP_WRAP, EVAL, FREEZE, FREEZE_BY_DEFAULT,
                                     OPAQUE, OPT_BUILD, REBIND, REPLACE, TRAIN, UNFREEZE, Event, Flow, Jump,
                                     Summaries)
from freezelint.check.events import (RUNS, UNKNOWN_OPT, defines, init_events, init_only_attrs, library_bases, lineage,
                                     opt_detail, own_method, _switched_off)
from freezelint.check.facts import Facts, Scope
from freezelint.check.known import is_library
from freezelint.check.project import ARGS, Edge, shown_path
from freezelint.check.syntax import dotted
from freezelint.check.traverse import walk

__all__ = ["ACTIVITY", "ADD_GROUP", "BN_FREEZE", "DDP_WRAP", "EVAL", "FREEZE", "FREEZE_BY_DEFAULT", "OPAQUE",
           "OPT_BUILD", "REBIND", "REPLACE", "TRAIN", "UNFREEZE", "Event", "FileFlows", "Flow", "after", "apart",
           "between", "dropped_on_return", "flows_of", "note_used", "rebound"]


class ProjectSummaries(Summaries):
    """Same-file callees as in `events`, and callees in other project files through their
    summaries: a call site takes over what the callee does to the arguments it is given."""

    def __init__(self, facts: Facts, project) -> None:
        super().__init__(facts)
        self.project = project

    def external(self, func: cst.Name, scope: Scope, pos: int, call: cst.Call | None = None) -> list[tuple[str, dict]]:
        q = self.facts.qualname(func, scope)
        if not q or q == func.value and scope.lookup(func.value) is None:
            return []  # a builtin or an undefined name
        return [(e.kind, _effect_detail(func.value, e)) for e in self.project.effects(self.facts.path, q, pos)
                if (e.kind in self.APPLIED or e.kind.startswith(CALLS))
                and not (call is not None and e.flags and all(_switched_off(f, call) for f in e.flags))]

    def external_owns(self, class_qual: str) -> tuple[dict, str, Edge] | None:
        return self.project.owns(self.facts.path, class_qual)

    def external_method_args(self, class_qual: str, method: str, pos: int) -> list[tuple[str, dict]]:
        return [(e.kind, _effect_detail(f"{class_qual.rsplit('.', 1)[-1]}.{method}", e))
                for e in self.project.effects(self.facts.path, class_qual, pos, member=ARGS + method)
                if e.kind in self.APPLIED or e.kind.startswith(CALLS)]

    def external_init(self, class_qual: str, pos: int, name: str) -> list[tuple[str, dict]]:
        return [(e.kind, _effect_detail(name, e)) for e in self.project.effects(self.facts.path, class_qual, pos)
                if e.kind in self.APPLIED or e.kind.startswith(CALLS)]

    def external_held_method(self, class_qual: str, method: str) -> list[tuple[int, str, str, dict]]:
        hit = self.project.function(self.facts.path, class_qual, method)
        if hit is None:
            return []
        params = hit[0]["params"]
        via = f"{class_qual.rsplit('.', 1)[-1]}.{method}"
        return [(int(pos), params[int(pos)], e.kind, _effect_detail(via, e)) for pos in hit[0]["effects"]
                if pos.isdigit() and int(pos) < len(params)
                for e in self.project.effects(self.facts.path, class_qual, int(pos), member=method)
                if e.kind in self.APPLIED or e.kind.startswith(CALLS)] + \
            [(-1, "self", ADD_GROUP, {"via": via})] * ("add_group" in hit[0]["effects"].get("self", {})) + \
            [(-2, RUNS, ACTIVITY, {"via": via})] * ("activity" in hit[0]["effects"].get(RUNS, {}))

    def external_method(self, class_qual: str, method: str) -> list[tuple[str, dict]]:
        hit = self.project.method(self.facts.path, class_qual, method)
        if hit is None:
            return []
        effects, shown, edges = hit
        name = class_qual.rsplit(".", 1)[-1]
        reach = self.project.method_reach(self.facts.path, class_qual, method) if TRAIN in effects else None
        opt = self._method_optimizer(class_qual, method) if OPT_BUILD in effects else {}
        return [(k, {**_detail(f"{name}.{method}", k, shown, line), "edges": list(edges),
                     **({"reach_inner": reach} if reach and k == TRAIN else {}), **(opt if k == OPT_BUILD else {})})
                for k, line in effects.items() if k in self.APPLIED]

    def _method_optimizer(self, class_qual: str, method: str) -> dict:
        """What the summary says of the optimizer a method of another file's class builds over
        self: only `configure_optimizers`'s is recorded (the class's "optimizer"), its part of self
        as "inner"; nothing for another method (the call site's event then says "not known")."""
        opt = self.project.method_optimizer(self.facts.path, class_qual, method)
        if not opt:
            return {}
        path = opt.get("path") or "self"
        return {**{k: opt.get(k) for k in UNKNOWN_OPT}, **({"inner": path[len("self"):]} if path.startswith("self") else {})}


    def external_constructed_bn(self, class_qual: str) -> list[dict]:
        return self.project.constructed_bn(self.facts.path, class_qual)

    def external_constructed_freezes(self, class_qual: str) -> list[dict]:
        hit = self.project.constructed_freezes(self.facts.path, class_qual)
        if hit is None:
            return []
        records, shown = hit
        edge = Edge(shown_path(self.facts.path), shown, class_qual.rsplit(".", 1)[-1])
        return [{**r, "edges": [edge]} for r in records]

    def external_bn_attrs(self, class_qual: str) -> list[str]:
        return self.project.bn_attrs(self.facts.path, class_qual)

    def external_override(self, class_qual: str) -> str | None:
        return class_qual.rsplit(".", 1)[-1] if self.project.overrides_train(self.facts.path, class_qual) else None

    def external_override_keeps(self, class_qual: str) -> list[str] | None:
        return self.project.train_keeps(self.facts.path, class_qual)

    def external_quiet(self, func: cst.Name, scope: Scope, pos: int) -> bool:
        q = self.facts.qualname(func, scope)
        return bool(q) and self.project.quiet(self.facts.path, q, pos)


def _effect_detail(via: str, e) -> dict:
    """What a call site's event says of an effect of another file's function (project.Effect)."""
    detail = _detail(via, e.kind, e.shown, e.line)
    if e.kind == OPT_BUILD:
        detail.update(e.opt)
    if len(e.via) > 1:
        detail["through"] = list(e.via[1:])
    if e.kind == OPAQUE:  # the callables it hands the argument to (None: not known)
        detail["hands"] = list(e.hands) or [None]
    if e.reach:  # its train() calls reach only these parts of the argument
        detail["reach_inner"] = [list(r) for r in e.reach]
    if e.kept:  # its freeze outlives its own unfreezes (FZ301)
        detail["kept"] = True
    if e.restores:  # its train() puts back the mode the argument had (FZ202)
        detail["restores"] = True
    return {**detail, "edges": list(e.edges)}


def _detail(via: str, kind: str, shown: str, line: int) -> dict:
    return {"via": via, "where": f"{shown}:{line}"} if kind == TRAIN else {"via": via}


@dataclass
class FileFlows:
    facts: Facts
    module: cst.Module

    @cached_property
    def positions(self):
        """Positions of the file's nodes (messages and --show-project's per-finding edges need them)."""
        return self.facts.positions

    @cached_property
    def summaries(self) -> Summaries:
        if self.facts.project is not None and self.facts.path:
            return ProjectSummaries(self.facts, self.facts.project)
        return Summaries(self.facts)

    @cached_property
    def bodies(self) -> list[Flow]:
        """The module body and every function body, each as its own event list; and per
        LightningModule, the order Lightning imposes: configure_optimizers, then training hooks."""
        out = [Flow.of_body(self.facts, self.facts.module_scope, self.module.body, self.summaries)]
        by_func: dict[int, Flow] = {}
        for fid, scope in self.facts.func_scopes.items():
            flow = Flow.of_body(self.facts, scope, scope.node.body.body, self.summaries)  # type: ignore[union-attr]
            by_func[fid] = flow
            out.append(flow)
        for info in self.facts.classes.values():
            bases = self._bases(info.node)
            if bases & LIGHTNING_MODULES:
                framework = _framework_order(info.node, by_func)
                if framework is not None:
                    out.append(framework)
            elif bases & CALLBACKS or _has_hooks(info.node) and any(not is_library(b) for b in bases) \
                    and library_bases(self.facts, info.node)[0] & CALLBACKS:  # through project classes
                order = self._callback_order(info.node, by_func)
                if order is not None:
                    out.append(order)
        return out

    @cached_property
    def instances(self) -> list[Flow]:
        """Per plain class (no Module; its bases plain classes of this file: events.lineage) with an
        `__init__` of its own or inherited: one event list of what happens to the attributes only
        constructors assign (`self.model = build_model(cfg)`,
        `self.optimizer = AdamW(self.model.parameters())`), `__init__`'s events first, then every
        other method's, all inside one loop: methods run after the constructor, in any order, any
        number of times. Attributes holding a constructor argument as it is (`self.model = model`)
        are left to the call sites (`Summaries.held_method`), which know what the caller passed."""
        by_func = {id(f.scope.node): f for f in self.bodies if f.scope.kind == "function"}
        out = []
        for info in self.facts.classes.values():
            if info.is_module:
                continue
            flow = _instance_order(info, by_func, self.summaries)
            if flow is not None:
                out.append(flow)
        return out

    def _bases(self, node: cst.ClassDef) -> set[str]:
        return {self.facts.qualname(b.value, self.facts.module_scope) or "" for b in node.bases if b.keyword is None}

    def _callback_order(self, node: cst.ClassDef, by_func: dict[int, Flow]) -> Flow | None:
        """One event list for a Callback: the optimizer Lightning built over `pl_module`, then
        each training hook's events, targets on the hook's `pl_module` parameter joined."""
        methods = {m.name.value: m for m in node.body.body if isinstance(m, cst.FunctionDef)}
        hooks = []
        for name, pos in CALLBACK_HOOKS:
            m = methods.get(name)
            params = [*m.params.posonly_params, *m.params.params] if m is not None else []
            if len(params) > pos and id(m) in by_func:
                hooks.append((m, params[pos]))
        if not hooks:
            return None
        first = by_func[id(hooks[0][0])]
        combined = Flow(first.facts, first.scope, first.summaries)
        build = self._lightning_optimizer([p for _, p in hooks])
        combined.events.append(Event(OPT_BUILD, PL_MODULE, hooks[0][0], None, detail=build))
        for m, param in hooks:
            name = param.name.value
            for e in by_func[id(m)].events:
                if e.kind == REPLACE and _is_copy(e.node):
                    continue  # an EMA or teacher copy is kept out of the optimizer on purpose
                if e.kind == REBIND and e.target != name:
                    continue  # `pl_module.head = nn.Linear(...)`: a part replaced, not the module rebound
                target = PL_MODULE if e.target == name or e.target.startswith(name + ".") else e.target
                combined.events.append(replace(e, target=target, detail={**e.detail, "hook": m.name.value}))
        for i, e in enumerate(combined.events):
            e.index = i
        return combined

    def _lightning_optimizer(self, params: list[cst.Param]) -> dict:
        """What the optimizer Lightning built before a Callback's hooks holds. The LightningModule
        is the one the hooks' `pl_module` annotation names, else the only project LightningModule
        the file defines or imports; its `configure_optimizers` says whether the optimizer filters
        on requires_grad and keeps state. Unknown (None) when it cannot be seen: then only FZ302,
        which holds for any optimizer over the module, can fire."""
        unknown = {"filtered": None, "stateful": None, "whole": True, "path": PL_MODULE, "optimizer": None,
                   "lightning": "`configure_optimizers`"}
        names = {q for q in (self._annotated(p) for p in params) if q}
        if not names:
            names = {f"{info.name}" for info in self.facts.classes.values()
                     if self._bases(info.node) & LIGHTNING_MODULES}
            names |= {n for n, b in self.facts.module_scope.bindings.items()
                      if len(b) == 1 and b[0].how == "import" and n[:1].isupper()}
        found = [c for c in (self._configured(n) for n in sorted(names)) if c is not None]
        if len(found) != 1:
            return unknown
        detail, where, edges = found[0]
        path = detail.get("path") or "self"
        return {**unknown, **{k: detail.get(k) for k in ("filtered", "stateful", "whole", "optimizer", "call")},
                "path": PL_MODULE + path[len("self"):], "lightning": where, "edges": edges}

    def _annotated(self, param: cst.Param) -> str | None:
        """The class a `pl_module: Net` (or `"Net"`) annotation names, unless it is LightningModule."""
        ann = param.annotation.annotation if param.annotation is not None else None
        if isinstance(ann, cst.SimpleString):
            text = ann.evaluated_value if isinstance(ann.evaluated_value, str) else ""
            ann = cst.parse_expression(text) if text.replace(".", "").replace("_", "").isalnum() else None
        if not isinstance(ann, (cst.Name, cst.Attribute)):
            return None
        local = ann.value if isinstance(ann, cst.Name) else None
        q = self.facts.qualname(ann, self.facts.module_scope)
        if q in LIGHTNING_MODULES:
            return None
        return local if local and (local in self.facts.classes or self.facts.module_scope.lookup(local)) else None

    def _configured(self, name: str) -> tuple[dict, str, list] | None:
        """`configure_optimizers` of a LightningModule of this file, or of a project file it is
        imported from: the first optimizer it builds over `self`, and where."""
        info = self.facts.classes.get(name)
        if info is not None:
            if not self._bases(info.node) & LIGHTNING_MODULES:
                return None
            for m in info.node.body.body:
                if isinstance(m, cst.FunctionDef) and m.name.value == "configure_optimizers":
                    flow = self.summaries.body_flow(m)
                    for e in flow.events if flow is not None else ():
                        if e.kind == OPT_BUILD and e.target == "self":
                            # the call itself too: a rule's fix can edit it (same file)
                            return ({**opt_detail(e), "path": e.detail.get("path"), "call": e.node},
                                    f"`{name}.configure_optimizers`", [])
            return None
        project = self.facts.project
        q = self.facts.qualname(cst.Name(name), self.facts.module_scope)
        if project is None or not self.facts.path or not q:
            return None
        hit = project.klass(self.facts.path, q)
        opt = hit[0].get("optimizer") if hit is not None else None
        if not opt or (opt.get("path") or "self") != "self":  # over a part of self: not known here, as in this file
            return None
        return (opt, f"`{name}.configure_optimizers` ({hit[1]}:{opt.get('line', 0)})",
                [Edge(shown_path(self.facts.path), hit[1], name)])


def _has_hooks(node: cst.ClassDef) -> bool:
    """The class defines a Callback hook (what `_callback_order` orders)."""
    return any(isinstance(m, cst.FunctionDef) and m.name.value in _HOOK_NAMES for m in node.body.body)


def _is_copy(node: cst.CSTNode) -> bool:
    value = node.value if isinstance(node, cst.Assign) else None
    return isinstance(value, cst.Call) and (dotted(value.func) or "").rsplit(".", 1)[-1] == "deepcopy"


# Lightning's order (lightning 2.6, trainer/trainer.py `Trainer._run`): the `setup` hooks
# (callbacks', then the module's) and `configure_model` run first; then `strategy.setup(trainer)`
# builds the optimizers (`setup_optimizers` -> `configure_optimizers`); only then `on_fit_start`
# (callbacks', then the module's) and the fit loop's hooks. So a freeze in `setup`
# (`BaseFinetuning.freeze_before_training`) comes before the optimizer, and every hook below after it.
LIGHTNING_MODULES = frozenset({"lightning.pytorch.LightningModule", "pytorch_lightning.LightningModule",
                               "lightning.LightningModule", "lightning.pytorch.core.LightningModule",
                               "pytorch_lightning.core.LightningModule"})
CALLBACKS = frozenset({"lightning.pytorch.Callback", "lightning.pytorch.callbacks.Callback", "lightning.Callback",
                       "pytorch_lightning.Callback", "pytorch_lightning.callbacks.Callback",
                       "lightning.pytorch.callbacks.callback.Callback", "pytorch_lightning.callbacks.callback.Callback",
                       "lightning.pytorch.callbacks.BaseFinetuning", "pytorch_lightning.callbacks.BaseFinetuning",
                       "lightning.pytorch.callbacks.finetuning.BaseFinetuning",
                       "pytorch_lightning.callbacks.finetuning.BaseFinetuning"})
TRAINING_HOOKS = ("on_fit_start", "on_train_start", "on_train_epoch_start", "on_train_batch_start",
                  "training_step", "on_before_backward", "on_after_backward", "on_before_optimizer_step",
                  "on_before_zero_grad", "on_train_batch_end", "on_train_epoch_end", "on_validation_epoch_end")
# A Callback's hooks, with the position of their `pl_module` parameter: `(self, trainer, pl_module,
# ...)`; BaseFinetuning's `finetune_function(self, pl_module, epoch, optimizer)` runs in
# on_train_epoch_start.
CALLBACK_HOOKS = tuple((h, 2) for h in TRAINING_HOOKS if h != "training_step") + (("finetune_function", 1),)
PL_MODULE = "pl_module"
_HOOK_NAMES = frozenset(h for h, _ in CALLBACK_HOOKS)


def _framework_order(node: cst.ClassDef, by_func: dict[int, Flow]) -> Flow | None:
    """One event list: the freezes of `__init__`, configure_optimizers' events, then each training
    hook's, targets on `self` joined (`self.backbone` is part of the module whose parameters the optimizer got)."""
    methods = {m.name.value: m for m in node.body.body if isinstance(m, cst.FunctionDef)}
    conf = methods.get("configure_optimizers")
    hooks = [methods[h] for h in TRAINING_HOOKS if h in methods]
    init = methods.get("__init__")
    if conf is None or not (hooks or init) or id(conf) not in by_func:
        return None
    first = by_func[id(conf)]
    combined = Flow(first.facts, first.scope, first.summaries)
    for m in [init, conf, *hooks]:
        for e in by_func[id(m)].events if m is not None and id(m) in by_func else ():
            if m is init and e.kind not in (FREEZE, UNFREEZE):
                continue  # the parameters __init__ froze, before configure_optimizers ran
            if e.kind == REBIND and e.target != "self":
                continue  # `self.head = nn.Linear(...)` is a part of `self` replaced (REPLACE), not `self` rebound
            target = "self" if e.target == "self" or e.target.startswith("self.") else e.target
            # where it runs, for the messages ("hook": __init__, before configure_optimizers, which
            # rules read; "ran_in": a training hook, after it, which they only name)
            detail = {**e.detail, "hook": "__init__"} if m is init else \
                dict(e.detail) if m is conf else {**e.detail, "ran_in": m.name.value}
            combined.events.append(replace(e, target=target, detail=detail))
    for i, e in enumerate(combined.events):
        e.index = i
    return combined


def _inherited_init(info, chain: list, base: str, summaries: Summaries) -> tuple[list, set[str]]:
    """The constructor events of `class FineTuner(BaseTrainer)` whose `__init__` is that of a base of
    another file (no class of the line here defines one), as that file's summary records them
    ("owns"), each on the subclass's `class` line with where it happens ("built_in"), and the
    attributes only that constructor assigns, less those a class here stores to. Nothing where a
    class here calls setattr."""
    got = summaries.external_owns(base) if not any(defines(c, "__init__") for c in chain) else None
    if got is None:
        return [], set()
    owns, shown, edge = got
    if any(isinstance(n, cst.Call) and isinstance(n.func, cst.Name) and n.func.value in ("setattr", "delattr")
           for c in chain for n in walk(c.node)):
        return [], set()
    stable = set(owns["attrs"]) - {a for c in chain for a in c.attrs}
    where = f"`{base.rsplit('.', 1)[-1]}.__init__`"
    events = []
    for r in owns["events"]:
        detail = {k: v for k, v in r.items() if k not in ("kind", "target", "line", "sub")}
        if r.get("sub"):
            detail.update(sub=r["sub"], path=r["sub"])
        detail.update(built_in=f"{where} ({shown}:{r['line']})", edges=[edge])
        events.append((Event(r["kind"], r["target"], info.node, None, detail=detail), None))
    return events, stable


def _instance_order(info, by_func: dict[int, Flow], summaries: Summaries) -> Flow | None:
    """`FileFlows.instances` of one class, its methods and constructor those of its line of plain
    classes of this file (`lineage`): None where the line leaves the file, its constructor is not
    read, or no attribute is left that only constructors assign."""
    line = lineage(summaries.facts, info)
    if line is None:
        return None
    chain = line[0]
    if line[1] is None and not any(e.kind == OPT_BUILD and e.target.startswith("self.")
                                   for c in chain for m in c.node.body.body if id(m) in by_func
                                   for e in by_func[id(m)].events):
        return None  # no optimizer over anything of self: nothing to follow (most classes; cheap)
    if line[1] is not None:  # the constructor of a base of another file: what its summary says it leaves
        init, stable = _inherited_init(info, chain, line[1], summaries)
        scope = summaries.facts.module_scope
    else:
        init = init_events(chain, lambda f: by_func.get(id(f)))
        stable = init_only_attrs(chain) - {a[len("self."):] for a in summaries.holds(info)}
        scope = init[0][1].scope if init else None
    if not init or not stable:
        return None
    roots = {f"self.{a}" for a in stable}
    combined = Flow(summaries.facts, scope, summaries)
    combined.instance = info.name
    loop = id(info.node)  # the methods' calls, after the constructor, in any order and number
    entries: dict[str, tuple] = {}  # name -> (the class that defines it, the method)
    for c in chain:
        for m in c.node.body.body:
            if isinstance(m, cst.FunctionDef) and m.name.value not in entries and m.name.value != "__init__":
                entries[m.name.value] = (c, m)
    entries = {n: cm for n, cm in entries.items() if not n.startswith("__") and own_method(cm[0], n) is not None}
    calls = [(e, None) for e, _ in init] + [(e, f"{c.name}.{n}") for n, (c, m) in entries.items()
                                              for e in (by_func[id(m)].events if id(m) in by_func else ())]
    for e, hook in calls:
        if e.target not in roots and e.kind != ADD_GROUP:
            continue
        called = dotted(e.node.func) if isinstance(e.node, cst.Call) else None
        if called and called.startswith("self.") and called[len("self."):] in entries and not e.detail.get("argument"):
            continue  # `self.unfreeze()` in fit: that method's own events are in the list already (not
            # those on what fit hands it: `self._freeze(self.model)`)
        if hook is None:
            combined.events.append(replace(e, detail=dict(e.detail)))
        else:
            combined.events.append(replace(e, loops=(loop, *e.loops), detail={**e.detail, "hook": hook}))
    if not any(e.kind == OPT_BUILD for e in combined.events):
        return None
    for i, e in enumerate(combined.events):
        e.index = i
    return combined


def note_used(facts: Facts, code: str, node: cst.CSTNode, events=(), edges=()) -> None:
    """For --show-project: the cross-file edges that carried the events behind a finding (each
    event knows the edges of the project lookups it came from), recorded under the finding."""
    found = [*edges, *(e for ev in events for e in ev.detail.get("edges", ()))]
    if facts.project is None or not found or not facts.path:
        return
    flows = flows_of(facts)
    line = flows.positions[node].start.line if node in flows.positions else 0
    facts.project.finding_used(f"{code} {shown_path(facts.path)}:{line}", found)


def flows_of(facts: Facts) -> FileFlows:
    """The event lists of a file's bodies, built once per file on first use."""
    if facts.flow_cache is None:
        facts.flow_cache = FileFlows(facts, facts.module)
    return facts.flow_cache


def after(a: Event, b: Event) -> bool:
    """Can `b` run after `a`? Later in order, or earlier inside a loop that holds both. From an
    arm that ends in `break`, nothing else of that loop runs after it but through an outer loop."""
    if a.exclusive_with(b):
        return False
    jump = _jumps_from(a, b)
    if jump is not None and jump.kind == "break" and jump.loop in b.loops:
        return bool(set(a.loops[:a.loops.index(jump.loop)]) & set(b.loops))
    if b.index > a.index:
        return True
    shared = set(a.loops) & set(b.loops)
    return bool(shared) and b.index < a.index


def dropped_on_return(flow: Flow, change: Event, build: Event) -> bool:
    """`change` is in an `if` arm that ends in return/raise, and the optimizer `build` made (a
    local of the function) is named nowhere on that path: not in the arm, not before the `if`
    but where it is assigned. The function leaves with the optimizer unused: whether the change
    comes "after the optimizer" for training cannot be established."""
    name, func = build.detail.get("name"), flow.scope.node
    if not name or flow.scope.kind != "function" or name not in flow.scope.bindings \
            or not isinstance(func, cst.FunctionDef):
        return False
    escaping = {i: arm for i, arm in flow.escapes}
    arm_of = next(((i, a) for i, a in change.branches if i in escaping and escaping[i] != a), None)
    if arm_of is None:
        return False
    nodes = list(walk(func.body))
    at = next((k for k, n in enumerate(nodes) if id(n) == arm_of[0]), None)
    if at is None:
        return False
    node = nodes[at]
    kept = node.orelse if arm_of[1] == 0 else node.body  # the arm that goes on: named there is fine
    inside = {id(n) for n in walk(node)}
    past = at + len(inside)  # preorder: the if's subtree, then what follows it
    skip = {id(n) for n in walk(kept)} if kept is not None else set()
    own = {id(n) for n in walk(build.stmt)} if build.stmt is not None else set()
    return not any(isinstance(n, cst.Name) and n.value == name and id(n) not in skip and id(n) not in own
                   for n in nodes[:past])


def _jumps_from(a: Event, b: Event) -> Jump | None:
    """The continue/break `a` goes on to on its way to `b` (`b` is not later in `a`'s own arm)."""
    return next((j for j in a.jumps if not ((j.if_id, j.arm) in b.branches and b.index > a.index)), None)


def between(flow: Flow, a: Event, b: Event) -> list[Event]:
    """Events that run after `a` and before `b` when `b` follows `a` (wrapping around a loop). From
    an arm that ends in continue/break: the rest of the arm, then the loop's head (continue: the
    loop body up to `b`), or what follows the loop (break, or a continue whose loop ends there)."""
    evs = flow.events
    jump = _jumps_from(a, b)
    inside = jump is not None and jump.loop in b.loops
    if jump is not None and (jump.kind == "continue" and inside or not inside and b.index > a.index
                             and (jump.kind == "break" or jump.exits)):
        rest = [e for e in evs if e.index > a.index and (jump.if_id, jump.arm) in e.branches]
        if inside:  # continue: the loop's body again, from its start up to `b`
            path = [e for e in evs if jump.loop in e.loops and e.index < b.index]
        else:  # out of the loop at once, to `b` after it
            path = [e for e in evs if a.index < e.index < b.index and jump.loop not in e.loops]
        seen = {id(e) for e in rest} | {id(a), id(b)}
        span = rest + [e for e in path if id(e) not in seen]
        return [e for e in span if not e.exclusive_with(a) and not e.exclusive_with(b)]
    if b.index > a.index:
        span = evs[a.index + 1:b.index]
    else:
        # around the innermost loop that holds both: its next pass reaches `b` before an outer
        # loop's head runs again (a freeze at the top of each epoch waits for the epoch's end)
        loop = next((lp for lp in reversed(a.loops) if lp in b.loops), None)
        span = [e for e in evs[a.index + 1:] + evs[:b.index] if loop in e.loops]
    return [e for e in span if not e.exclusive_with(a) and not e.exclusive_with(b)]


def rebound(flow: Flow, a: Event, b: Event) -> bool:
    """The name `a` is on is bound to a new object after `a` and before `b` (events.REBIND): `b`,
    on that name, is about another object than `a` was (`model = nn.Sequential(...)` again between
    a freeze and the optimizer). One that keeps the object (`model = DDP(model)`) is no REBIND."""
    return any(e.kind == REBIND and e.target == a.target for e in between(flow, a, b))


def apart(flow: Flow, a: Event, b: Event) -> bool:
    """`a` and `b`, paired whatever their order (FZ301: a freeze anywhere in the optimizer's scope),
    never meet on one object: each order they can run in crosses a REBIND of `a`'s name (`opt =
    Adam(model.parameters())`, then `model = Net()` and its freeze; a `for model in build_models()`
    pass freezing its model after the optimizer of the pass before)."""
    orders = [(x, y) for x, y in ((a, b), (b, a)) if after(x, y)]
    return bool(orders) and all(any(e.kind == REBIND and e.target == a.target for e in between(flow, x, y))
                                for x, y in orders)

