"""Order of freezing events, across calls and files, for the flow-aware rules (FZ201,
FZ202, FZ301-FZ303, FZ306, FZ307): event lists per body (`events`), with calls into other files
of the project resolved through the project index, and the ordering questions rules ask."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import libcst as cst

from freezelint.check.events import (ACTIVITY, ADD_GROUP, BN_FREEZE, DDP_WRAP, EVAL, FREEZE, OPT_BUILD, REPLACE,
                                     TRAIN, UNFREEZE, Event, Flow, Summaries)
from freezelint.check.facts import Facts

__all__ = ["ACTIVITY", "ADD_GROUP", "BN_FREEZE", "DDP_WRAP", "EVAL", "FREEZE", "OPT_BUILD", "REPLACE", "TRAIN",
           "UNFREEZE", "Event", "FileFlows", "Flow", "after", "between", "flows_of"]


@dataclass
class FileFlows:
    facts: Facts
    module: cst.Module

    @cached_property
    def summaries(self) -> Summaries:
        return Summaries(self.facts)

    @cached_property
    def bodies(self) -> list[Flow]:
        """The module body and every function body, each as its own event list."""
        out = [Flow.of_body(self.facts, self.facts.module_scope, self.module.body, self.summaries)]
        for fid, scope in self.facts.func_scopes.items():
            out.append(Flow.of_body(self.facts, scope, scope.node.body.body, self.summaries))  # type: ignore[union-attr]
        return out


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

