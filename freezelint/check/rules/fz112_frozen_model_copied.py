"""FZ112 frozen-model-copied: `student = copy.deepcopy(teacher)` after the teacher was frozen copies
its requires_grad=False, and the copy is then trained."""

from __future__ import annotations

from typing import Iterable

import libcst as cst

from freezelint.check.facts import Facts
from freezelint.check.flow import FREEZE, OPT_BUILD, REBIND, UNFREEZE, Event, flows_of
from freezelint.check.rules.base import Example, Finding, Rule, src
from freezelint.check.traverse import own_nodes

_SELF_RETURNING = frozenset({"to", "cuda", "cpu", "half", "float", "bfloat16", "train", "eval"})


class FrozenModelCopied(Rule):
    code = "FZ112"
    words = ("deepcopy",)
    triggers = (r"deepcopy\(",)
    requires = (r"requires_grad_?\s*(?:\(\s*False|=\s*False)",)
    what = ("Finds a model copied with `copy.deepcopy` after it was frozen whole, whose copy is then "
            "trained: `teacher.requires_grad_(False)`, then `student = copy.deepcopy(teacher)` and an "
            "optimizer over `student`.")
    why = (
        "`deepcopy` copies each parameter with its `requires_grad`. A copy of a frozen model is frozen "
        "too: the optimizer built over it gets frozen parameters (a filtered one gets only the layers "
        "added after the copy, a new head), backward never reaches the rest, and the student trains "
        "nothing but its head while the run looks normal."
    )
    notes = (
        "Reported where, in one function or script, the model is frozen whole (`requires_grad_(False)` "
        "or a loop over all its parameters) before the copy with no unfreeze in between, and an "
        "optimizer is built over the copy afterwards with nothing unfreezing any part of the copy. "
        "A copy made before the freeze (an EMA or teacher taken from the model, then frozen) is what "
        "most code does and is not reported. No fix: whether to unfreeze the copy or to copy first is "
        "the author's choice."
    )
    bad = [
        Example(
            """
            import copy

            import torch
            import torch.nn as nn
            import torchvision

            teacher = torchvision.models.resnet18(weights=None)
            teacher.requires_grad_(False)
            teacher.eval()
            student = copy.deepcopy(teacher)  # expect: FZ112
            student.fc = nn.Linear(512, 10)
            optimizer = torch.optim.SGD([p for p in student.parameters() if p.requires_grad], lr=0.1)
            for x, y in loader:
                optimizer.zero_grad()
                nn.functional.cross_entropy(student(x), y).backward()
                optimizer.step()
            """,
            instead="""
            import copy

            import torch
            import torch.nn as nn
            import torchvision

            teacher = torchvision.models.resnet18(weights=None)
            student = copy.deepcopy(teacher)
            teacher.requires_grad_(False)
            teacher.eval()
            student.fc = nn.Linear(512, 10)
            optimizer = torch.optim.SGD([p for p in student.parameters() if p.requires_grad], lr=0.1)
            for x, y in loader:
                optimizer.zero_grad()
                nn.functional.cross_entropy(student(x), y).backward()
                optimizer.step()
            """,
        ),
    ]
    good = [
        """
        import copy

        import torch

        # an EMA / teacher copied before its freeze: the model itself trains
        ema = copy.deepcopy(model)
        ema.requires_grad_(False)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        """,
        """
        from copy import deepcopy

        import torch

        teacher.requires_grad_(False)
        student = deepcopy(teacher)
        student.requires_grad_(True)  # unfrozen after the copy
        optimizer = torch.optim.AdamW(student.parameters(), lr=1e-4)
        """,
        """
        import copy

        import torch

        model.requires_grad_(False)
        frozen_copy = copy.deepcopy(model)  # kept frozen: no optimizer over it
        model.requires_grad_(True)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        probe = copy.deepcopy(model)  # copied after the unfreeze
        probe_opt = torch.optim.SGD(probe.parameters(), lr=0.1)
        """,
        """
        import copy

        import torch

        def fit(teacher, loader):
            teacher.backbone.requires_grad_(False)  # a part: the copy's head and the rest train
            student = copy.deepcopy(teacher)
            optimizer = torch.optim.SGD([p for p in student.parameters() if p.requires_grad], lr=0.1)
            return optimizer
        """,
    ]

    def check(self, facts: Facts, module) -> Iterable[Finding]:
        for flow in flows_of(facts).bodies:
            evs = flow.events
            for r in evs:
                source = _copied(facts, r, flow.scope)
                if source is None:
                    continue
                copy = r.target
                freezes = [f for f in evs if f.kind == FREEZE and f.target == source and f.index < r.index
                           and (f.detail.get("sub") or source) == source and not f.detail.get("broken")
                           and not f.detail.get("picked") and not f.detail.get("cut")
                           and not f.exclusive_with(r) and not f.loops]
                freezes = [f for f in freezes if not any(  # unfrozen again, or the name bound anew, before the copy
                    u.kind in (UNFREEZE, REBIND) and u.target == source and f.index < u.index < r.index for u in evs)]
                if not freezes:
                    continue
                later = [e for e in evs if e.index > r.index and e.target == copy]
                if any(e.kind in (UNFREEZE, REBIND) for e in later):
                    continue  # unfrozen again (any part of it), or the name holds another model by then
                builds = [o for o in later if o.kind == OPT_BUILD and not o.exclusive_with(r)]
                if not builds:
                    continue
                positions = flows_of(facts).positions
                freeze = freezes[-1].node
                at = f" (frozen at line {positions[freeze].start.line})" if freeze in positions else ""
                yield self.finding(
                    r.node,
                    f"`{copy} = {src(r.node)}` copies `{source}` after it was frozen{at}: deepcopy keeps each "
                    f"parameter's requires_grad=False, so every parameter of `{copy}` is frozen too and the "
                    f"optimizer over `{copy}` trains only what is added to it after the copy; call "
                    f"`{copy}.requires_grad_(True)` after the copy, or copy before freezing",
                    stmt=r.stmt, facts=facts, used=[*freezes, r, *builds],
                )


def _copied(facts: Facts, r: Event, scope) -> str | None:
    """The plain name `r` (a REBIND) copies with `copy.deepcopy(name)`, or through a function of the
    file that returns a deep copy of its argument (`make_student(teacher)`), else None."""
    if r.kind != REBIND or "." in r.target or not isinstance(r.node, cst.Call):
        return None
    call = r.node
    while isinstance(call.func, cst.Attribute) and call.func.attr.value in _SELF_RETURNING \
            and isinstance(call.func.value, cst.Call):
        call = call.func.value  # `make_student(teacher).to(device)`: the same module
    if facts.qualname(call.func, scope) == "copy.deepcopy" and len(call.args) == 1:
        arg = call.args[0].value
        return arg.value if isinstance(arg, cst.Name) else None
    fdef = facts.resolve_def(call.func, scope) if isinstance(call.func, cst.Name) else None
    pos = _returns_copy_of(facts, fdef) if fdef is not None else None
    args = [a.value for a in call.args if a.keyword is None and not a.star]
    if pos is None or pos >= len(args) or not isinstance(args[pos], cst.Name):
        return None
    return args[pos].value


def _returns_copy_of(facts: Facts, fdef: cst.FunctionDef) -> int | None:
    """The position of the parameter a function deep-copies and returns (`student =
    copy.deepcopy(teacher)` ... `return student`), where nothing in it sets requires_grad; else None."""
    if "requires_grad" in facts.module.code_for_node(fdef.body):
        return None
    params = [p.name.value for p in (*fdef.params.posonly_params, *fdef.params.params)]
    copies: dict[str, str] = {}  # local -> the parameter it holds a copy of
    returned: set[str] = set()
    for node in own_nodes(fdef.body):
        if isinstance(node, cst.Assign) and len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name):
            src_name = _deepcopy_arg(facts, node.value)
            if src_name in params:
                copies[node.targets[0].target.value] = src_name
        elif isinstance(node, cst.Return) and node.value is not None:
            src_name = _deepcopy_arg(facts, node.value)
            if src_name in params:
                return params.index(src_name)
            if isinstance(node.value, cst.Name):
                returned.add(node.value.value)
    hits = {copies[n] for n in returned if n in copies}
    return params.index(hits.pop()) if len(hits) == 1 and returned <= set(copies) else None


def _deepcopy_arg(facts: Facts, value: cst.BaseExpression) -> str | None:
    if isinstance(value, cst.Call) and len(value.args) == 1 and isinstance(value.args[0].value, cst.Name) \
            and facts.qualname(value.func, facts.module_scope) == "copy.deepcopy":
        return value.args[0].value.value
    return None

