"""FZ306 freeze-after-ddp: requires_grad changed after DistributedDataParallel wrapped the model."""

from __future__ import annotations

from typing import Iterable

from freezelint.check.facts import Facts
from freezelint.check.flow import DDP_WRAP, FREEZE, UNFREEZE, after
from freezelint.check.rules.base import FREEZES, UNFREEZES, Example, Finding, Rule


class FreezeAfterDdp(Rule):
    code = "FZ306"
    words = ("DistributedDataParallel",)
    triggers = (r"DistributedDataParallel",)
    requires = (FREEZES + "|" + UNFREEZES,)
    what = "Finds requires_grad changed on a model after `DistributedDataParallel(...)` wrapped it."
    why = (
        "DDP decides at construction which parameters it synchronises. Unfreezing afterwards makes "
        "the ranks diverge silently (the new parameters are never all-reduced); freezing afterwards "
        "gives one unsynchronised step and then `RuntimeError: Expected to have finished reduction "
        "in the prior iteration`. With `find_unused_parameters=True`, a layer frozen on one rank only "
        "still changes on that rank."
    )
    bad = [
        Example(
            """
            from torch.nn.parallel import DistributedDataParallel as DDP

            model = DDP(model, device_ids=[rank])
            model.module.backbone.requires_grad_(False)  # expect: FZ306
            """
        ),
    ]
    good = [
        """
        from torch.nn.parallel import DistributedDataParallel as DDP

        model.backbone.requires_grad_(False)
        model = DDP(model, device_ids=[rank])
        """,
    ]

    def check(self, facts: Facts, module) -> Iterable[Finding]:
        for flow in facts.flows.bodies:
            evs = flow.events
            for f in (e for e in evs if e.kind in (FREEZE, UNFREEZE)):
                if any(w.kind == DDP_WRAP and w.target == f.target and w.index < f.index and after(w, f)
                       for w in evs):
                    verb = "freezing" if f.kind == FREEZE else "unfreezing"
                    yield self.finding(
                        f.node,
                        f"{verb} `{f.detail.get('sub') or f.target}` after DistributedDataParallel wrapped it: "
                        f"DDP fixed the set of synchronised parameters at construction, so ranks diverge or "
                        f"fail a step later; change requires_grad before wrapping (or re-wrap)",
                        stmt=f.stmt,
                    )
