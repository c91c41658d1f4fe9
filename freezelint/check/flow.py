"""Order of freezing events, across calls and files, for the flow-aware rules (FZ201,
FZ202, FZ301-FZ303, FZ306, FZ307): event lists per body (`events`), with calls into other files
of the project resolved through the project index, and the ordering questions rules ask."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import libcst as cst

from freezelint.check.events import (ACTIVITY, ADD_GROUP, BN_FREEZE, CALLS, DDP_WRAP, EVAL, FREEZE, OPT_BUILD, REPLACE,
                                     TRAIN, UNFREEZE, Event, Flow, Summaries)
from freezelint.check.facts import Facts, Scope

__all__ = ["ACTIVITY", "ADD_GROUP", "BN_FREEZE", "DDP_WRAP", "EVAL", "FREEZE", "OPT_BUILD", "REPLACE", "TRAIN",
           "UNFREEZE", "Event", "FileFlows", "Flow", "after", "between", "flows_of"]


class ProjectSummaries(Summaries):
    """Same-file callees as in `events`, and callees in other project files through their
    summaries: a call site takes over what the callee does to the arguments it is given."""

    def __init__(self, facts: Facts, project) -> None:
        super().__init__(facts)
        self.project = project

    def external(self, func: cst.Name, scope: Scope, pos: int) -> list[tuple[str, dict]]:
        q = self.facts.qualname(func, scope)
        if not q or q == func.value and scope.lookup(func.value) is None:
            return []  # a builtin or an undefined name
        hit = self.project.function(self.facts.path, q)
        if hit is None:
            return []
        entry, shown = hit
        effects = entry["effects"].get(str(pos), {})
        out = []
        for k, line in effects.items():
            if k in self.APPLIED or k.startswith(CALLS):
                detail = _detail(func.value, k, shown, line)
                if k == OPT_BUILD:
                    detail.update(entry.get("opt", {}).get(str(pos), {}))
                out.append((k, detail))
        return out

    def external_method(self, class_qual: str, method: str) -> list[tuple[str, dict]]:
        hit = self.project.method(self.facts.path, class_qual, method)
        if hit is None:
            return []
        effects, shown = hit
        return [(k, _detail(f"{class_qual.rsplit('.', 1)[-1]}.{method}", k, shown, line))
                for k, line in effects.items() if k in self.APPLIED]


def _detail(via: str, kind: str, shown: str, line: int) -> dict:
    return {"via": via, "where": f"{shown}:{line}"} if kind == TRAIN else {"via": via}


@dataclass
class FileFlows:
    facts: Facts
    module: cst.Module

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
            if self._is_lightning(info.node):
                framework = _framework_order(info.node, by_func)
                if framework is not None:
                    out.append(framework)
        return out

    def _is_lightning(self, node: cst.ClassDef) -> bool:
        return any(self.facts.qualname(b.value, self.facts.module_scope) in LIGHTNING_MODULES
                   for b in node.bases if b.keyword is None)


# Lightning calls configure_optimizers (during setup) before any of these hooks of the module.
LIGHTNING_MODULES = frozenset({"lightning.pytorch.LightningModule", "pytorch_lightning.LightningModule",
                               "lightning.LightningModule", "lightning.pytorch.core.LightningModule",
                               "pytorch_lightning.core.LightningModule"})
TRAINING_HOOKS = ("on_fit_start", "on_train_start", "on_train_epoch_start", "on_train_batch_start",
                  "training_step", "on_train_batch_end", "on_train_epoch_end", "on_validation_epoch_end")


def _framework_order(node: cst.ClassDef, by_func: dict[int, Flow]) -> Flow | None:
    """One event list: configure_optimizers' events, then each training hook's, targets on
    `self` joined (`self.backbone` is part of the module whose parameters the optimizer got)."""
    methods = {m.name.value: m for m in node.body.body if isinstance(m, cst.FunctionDef)}
    conf = methods.get("configure_optimizers")
    hooks = [methods[h] for h in TRAINING_HOOKS if h in methods]
    if conf is None or not hooks or id(conf) not in by_func:
        return None
    first = by_func[id(conf)]
    combined = Flow(first.facts, first.scope, first.summaries)
    for m in [conf, *hooks]:
        for e in by_func[id(m)].events if id(m) in by_func else ():
            target = "self" if e.target == "self" or e.target.startswith("self.") else e.target
            combined.events.append(Event(e.kind, target, e.node, e.stmt, 0, e.loops, e.branches, dict(e.detail)))
    for i, e in enumerate(combined.events):
        e.index = i
    return combined


def flows_of(facts: Facts) -> FileFlows:
    """The event lists of a file's bodies, built once per file on first use."""
    if facts.flow_cache is None:
        facts.flow_cache = FileFlows(facts, facts.module)
    return facts.flow_cache


def after(a: Event, b: Event) -> bool:
    """Can `b` run after `a`? Later in order, or earlier inside a loop that holds both."""
    if a.exclusive_with(b):
        return False
    if b.index > a.index:
        return True
    shared = set(a.loops) & set(b.loops)
    return bool(shared) and b.index < a.index


def between(flow: Flow, a: Event, b: Event) -> list[Event]:
    """Events that run after `a` and before `b` when `b` follows `a` (wrapping around a loop)."""
    evs = flow.events
    if b.index > a.index:
        span = evs[a.index + 1:b.index]
    else:
        loop = next(iter(set(a.loops) & set(b.loops)), None)
        span = [e for e in evs[a.index + 1:] + evs[:b.index] if loop in e.loops]
    return [e for e in span if not e.exclusive_with(a) and not e.exclusive_with(b)]

