"""Is a model left in eval mode after a point (a freeze, a helper's call)? FZ202's linear-probe
silence: a model put in eval() after its BatchNorm layers were frozen, and never put back in train
mode, trains with fixed statistics.

Shared by the rule and the summaries: a summary records, for each call of an imported helper that
is given a model, whether that model is left in eval mode after the call (`probes`), so the file
that defines the helper can ask its callers in other files (`Project.probed`). A file's summary is
computed without the project: the imported helpers the model is handed to afterwards are left
pending (`Left.pending`), and the project reads their summaries when the answer is asked.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from freezelint.check.events import ACTIVITY, EVAL, TRAIN, VIA, Event, Flow
from freezelint.check.facts import Facts
from freezelint.check.flow import after
from freezelint.check.syntax import call_arg, root_of

_MAX_DEPTH = 3


@dataclass(frozen=True)
class Left:
    """Left in eval mode on one path, provided each pending helper (`qualname#position`, of another
    file) neither puts the model in train mode nor has unknown effects; `eval_seen`: an eval()
    came on the path itself (else one of the pending helpers must put it in eval mode)."""

    eval_seen: bool
    pending: tuple[str, ...] = ()


def left_in_eval(facts: Facts, bodies: list[Flow], flow: Flow, ref: Event, model: str, seen_eval: bool = False,
                 depth: int = 0) -> list[Left] | None:
    """After `ref`, is `model` put in eval mode and never back in train mode (no train(), directly
    or through a helper, and not handed to a function whose effects are unknown)? One `Left` per
    path that must hold, or None. A parameter's model is followed to every call of the function
    in this file; a function called from no other place in this file is followed to its callers
    in other files of the project (`Project.probed`), when the file is checked in one."""
    if depth > _MAX_DEPTH:
        return None
    pending: list[str] = []
    for e in flow.events:
        if not (e.target == model or e.target.startswith(model + ".")) or e.node is ref.node or not after(ref, e):
            continue
        if e.kind == TRAIN:
            return None
        if e.kind == ACTIVITY:
            waits = handed_to(facts, flow, e, model)
            if waits is None:
                return None
            pending.extend(waits)
        seen_eval = seen_eval or e.kind == EVAL
    here = Left(seen_eval, tuple(dict.fromkeys(pending)))
    scope = flow.scope
    if scope.kind == "module":  # a global: a function of the file may train it
        trained = any(e.kind == TRAIN and e.target == model and f.scope.lookup(model) in (scope, None)
                      for f in bodies for e in f.events)
        return None if trained else [here]
    binding = scope.bindings.get(model, [])
    if not any(b.how == "param" for b in binding):
        return [here]  # a local of the function: nothing outside sees it
    func = scope.node
    params = [p.name.value for p in (*func.params.posonly_params, *func.params.params)] \
        if isinstance(func, cst.FunctionDef) and not scope.is_method else []
    if model not in params or len(binding) != 1:
        return None
    pos = params.index(model)
    calls = [(c, sc) for c, sc in facts.extracted.calls_by_name.get(func.name.value, [])
             if facts.resolve_def(c.func, sc) is func]
    if not calls:
        # called from other files only: their summaries say what follows each call
        project = facts.project
        if project is None or not facts.path or here.pending or scope.parent is not facts.module_scope:
            return None
        return [Left(True)] if project.probed(facts.path, func.name.value, pos, seen_eval) else None
    out: list[Left] = []
    for call, _sc in calls:
        arg = call_arg(call, pos, model)
        caller = next((f for f in bodies if any(e.node is call for e in f.events)), None)
        at = next((e for e in caller.events if e.node is call), None) if caller else None
        target = root_of(arg) if arg is not None else None
        found = left_in_eval(facts, bodies, caller, at, target, seen_eval, depth + 1) \
            if at is not None and target is not None else None
        if found is None:
            return None
        out.extend(Left(x.eval_seen, tuple(dict.fromkeys(x.pending + here.pending))) for x in found)
    return out


def settled(found: list[Left] | None) -> bool:
    """Left in eval mode for sure: every path saw an eval(), with nothing pending (the flow layer
    resolves the helpers of other files when the file is checked in its project)."""
    return found is not None and all(x.eval_seen and not x.pending for x in found)


# Library functions known to hand the model back in the mode it came in (thop's FLOPs counter: eval()
# for one forward, then `model.train(prev_training_status)`): no eval() of a part survives them
_MODE_RESTORING = frozenset({"thop.profile", "thop.profile.profile"})


def handed_to(facts: Facts, flow: Flow, e: Event, model: str) -> list[str] | None:
    """The model handed to a function (an ACTIVITY event): [] when what the function does to it
    is known (its own forward, this file's functions, a project function the index resolved), the
    pending `qualname#position` of imported functions a summary computed without the project
    cannot see into, None when the effects are unknown (a library's `fit(model)` may call train())."""
    call = e.node
    if not isinstance(call, cst.Call) or not isinstance(call.func, cst.Name) or call.func.value == model:
        return []
    if facts.resolve_def(call.func, flow.scope) is not None or facts.qualname(call.func, flow.scope) in _MODE_RESTORING:
        return []
    waits = []
    for i, a in enumerate(call.args):
        if a.keyword is None and not a.star and root_of(a.value) == model:
            kinds = [k for k, _ in flow.summaries.external(call.func, flow.scope, i)]
            if any(not k.startswith(VIA) for k in kinds):
                return []
            waits.extend(k[len(VIA):] for k in kinds)
    return waits or None


def probes(facts: Facts, bodies: list[Flow]) -> dict[str, list | None]:
    """For a summary: per imported helper and position (`qualname#position`, as this file names
    the helper) given a model, what follows each call: `[eval_seen, [pending...]]` per path that
    must hold, or None when some call leaves the model in train mode or its effects unknown."""
    out: dict[str, list | None] = {}
    for flow in bodies:
        for e in flow.events:
            if not e.kind.startswith(VIA) or not isinstance(e.node, cst.Call):
                continue
            key = e.kind[len(VIA):]
            if key.endswith("#ret") or not _module_arg(facts, flow, e):
                continue
            if key in out and out[key] is None:
                continue
            found = left_in_eval(facts, bodies, flow, e, e.target)
            if found is None:
                out[key] = None
            else:
                out.setdefault(key, [])
                out[key].extend([x.eval_seen, list(x.pending)] for x in found)  # type: ignore[union-attr]
    return out


def _module_arg(facts: Facts, flow: Flow, e: Event) -> bool:
    return any(a.keyword is None and not a.star and root_of(a.value) == e.target
               and facts.is_module(a.value, flow.scope) for a in e.node.args)  # type: ignore[union-attr]
