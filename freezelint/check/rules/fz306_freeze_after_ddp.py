"""FZ306 freeze-after-ddp: requires_grad changed after DistributedDataParallel wrapped the model."""

from __future__ import annotations

from typing import Iterable

from freezelint.check.facts import Facts
from freezelint.check.flow import ACTIVITY, DDP_WRAP, FREEZE, UNFREEZE, after, between, flows_of, rebound
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
    notes = (
        "Module methods that return the module keep the alias (`DDP(model.to(rank))`, "
        "`model = model.cuda()`), a change through `ddp.module` is a change to the wrapped model, and "
        "freezing helpers of the project's other files (`freeze_backbone(model.module)`) count."
    )
    bad = [
        Example(
            """
            from torch.nn.parallel import DistributedDataParallel as DDP

            model = DDP(model, device_ids=[rank])
            model.module.backbone.requires_grad_(False)  # expect: FZ306
            """,
            instead="""
            from torch.nn.parallel import DistributedDataParallel as DDP

            model.backbone.requires_grad_(False)  # before wrapping: DDP registers the parameters it syncs
            model = DDP(model, device_ids=[rank])
            """,
        ),
        Example(
            """
            from torch.nn.parallel import DistributedDataParallel as DDP

            model = DDP(model)
            model.module.layer4.requires_grad_(True)  # expect: FZ306
            if rewrap:  # only on one path
                model = DDP(model.module)
            """
        ),
        Example(
            """
            from torch.nn.parallel import DistributedDataParallel as DDP

            ddp = DDP(model)
            for epoch in range(10):
                if epoch == 5:
                    model.layer4.requires_grad_(True)  # expect: FZ306
                ddp(batch).sum().backward()  # epochs 5-9 train with the old reducer
            ddp = DDP(model)
            """
        ),
        Example(
            """
            from torch.nn.parallel import DistributedDataParallel as DDP

            ddp = DDP(model)
            model.layer4.requires_grad_(True)  # expect: FZ306
            ddp(batch).sum().backward()  # one step with the old reducer
            ddp = DDP(model)
            """
        ),
        Example(
            """
            from torch.nn.parallel import DistributedDataParallel as DDP

            def unfreeze_and_step(ddp, model, batch):
                model.layer4.requires_grad_(True)
                ddp(batch).sum().backward()  # one step with the old reducer

            ddp = DDP(model)
            unfreeze_and_step(ddp, model, batch)  # expect: FZ306
            ddp = DDP(model)
            """
        ),
        Example(
            """
            from torch.nn.parallel import DistributedDataParallel as DDP

            model = model.to(device)
            ddp = DDP(model.to(rank), device_ids=[rank])
            for p in ddp.module.backbone.parameters():
                p.requires_grad = False  # expect: FZ306
            """
        ),
        Example(
            """
            from torch.nn.parallel import DistributedDataParallel as DDP

            model = DDP(model, device_ids=[rank])
            for name, p in model.module.named_parameters():
                if name.startswith("backbone."):
                    p.requires_grad_(False)  # expect: FZ306
            """
        ),
        Example(
            """
            import torchvision
            from torch.nn.parallel import DistributedDataParallel as DDP

            def setup(rank):
                model = DDP(torchvision.models.resnet18(weights=None).to(rank), device_ids=[rank])
                model.module.layer1.requires_grad_(False)  # expect: FZ306
                return model
            """
        ),
        Example(
            """
            import torch
            from torch.nn.parallel import DistributedDataParallel as DDP

            def fit(model, loader, rank, epochs):
                ddp = DDP(model.to(rank), device_ids=[rank])
                opt = torch.optim.SGD(ddp.parameters(), lr=0.1)
                for epoch in range(epochs):
                    if epoch == 5:
                        # the break skips the re-wrap below
                        model.backbone.requires_grad_(True)  # expect: FZ306
                        break
                    ddp = DDP(model, device_ids=[rank])
                    for x, y in loader:
                        ddp(x).sum().backward()
                        opt.step()
                for x, y in loader:
                    ddp(x).sum().backward()
                    opt.step()
            """
        ),
        Example(
            """
            import torch
            from torch.nn.parallel import DistributedDataParallel as DDP

            def fit(model, loader, rank, epochs, stop, log):
                ddp = DDP(model.to(rank), device_ids=[rank])
                opt = torch.optim.SGD(ddp.parameters(), lr=0.1)
                for epoch in range(epochs):
                    if stop(epoch):
                        # the break in the try (its finally jumps nowhere) skips the re-wrap below
                        model.backbone.requires_grad_(True)  # expect: FZ306
                        try:
                            log.write(f"stopped at {epoch}")
                            break
                        finally:
                            log.close()
                    ddp = DDP(model, device_ids=[rank])
                    for x, y in loader:
                        ddp(x).sum().backward()
                        opt.step()
                for x, y in loader:
                    ddp(x).sum().backward()
                    opt.step()
            """
        ),
        Example(
            """
            from torch.nn.parallel import DistributedDataParallel as DDP

            model.backbone.requires_grad_(False)
            model = DDP(model)  # the reducer syncs the head only
            model.requires_grad_(True)  # expect: FZ306
            """
        ),
        Example(
            """
            from torch.nn.parallel import DistributedDataParallel as DDP

            def main(args, model, rank, loader):
                ddp = DDP(model, device_ids=[rank])
                if args.warmup:
                    for step, batch in enumerate(loader):
                        ddp(batch).sum().backward()  # the passes after step 100 train with the old reducer
                        if step == 100:
                            model.head.requires_grad_(True)  # expect: FZ306
                    ddp = DDP(model, device_ids=[rank])  # re-wrapped only after the loop
            """
        ),
    ]
    good = [
        """
        import torch
        import torch.nn as nn
        from torch.nn.parallel import DistributedDataParallel as DDP

        teacher = DDP(nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8)))  # kept in DDP for SyncBatchNorm
        for p in teacher.parameters():
            p.requires_grad = False  # the whole model: no reducer hook ever waits
        netD = DDP(nn.Sequential(nn.Linear(4, 16), nn.Linear(16, 1)))
        for real in loader:
            netD.requires_grad_(True)  # the whole discriminator, back to what the wrap saw
            netD(real).mean().backward()
            netD.requires_grad_(False)  # and off for the generator's step
        """,
        """
        import torchvision
        from torch.nn.parallel import DistributedDataParallel as DDP

        def build():
            net = torchvision.models.resnet18(weights=None)
            net.layer1.requires_grad_(False)  # frozen before the wrap
            return net

        def setup(rank):
            model = DDP(build().to(rank), device_ids=[rank])
            return model
        """,
        """
        from torch.nn.parallel import DistributedDataParallel as DDP

        model.backbone.requires_grad_(False)
        model = DDP(model, device_ids=[rank])
        """,
        """
        from torch.nn.parallel import DistributedDataParallel as DDP

        ddp = DDP(model)
        model.layer4.requires_grad_(True)
        ddp = DDP(model)  # wrapped again: the new reducer sees layer4
        """,
        """
        from torch.nn.parallel import DistributedDataParallel as DDP

        model = model.to(device)
        for p in model.backbone.parameters():
            p.requires_grad = False
        ddp = DDP(model.cuda(), device_ids=[rank])
        """,
        """
        from torch.nn.parallel import DistributedDataParallel as DDP

        def freeze(m):
            m.requires_grad_(False)

        ddp = DDP(model)
        freeze(model.layer1)  # through a helper that only freezes
        ddp = DDP(model)  # wrapped again before any step
        """,
        """
        import torch
        from torch.nn.parallel import DistributedDataParallel as DDP

        def fit(model, loader, rank, epochs):
            ddp = DDP(model.to(rank), device_ids=[rank])
            opt = torch.optim.SGD(ddp.parameters(), lr=0.1)
            for epoch in range(epochs):
                if epoch == 5:
                    model.backbone.requires_grad_(True)
                    ddp = DDP(model, device_ids=[rank])  # re-wrapped before any training
                    continue
                for x, y in loader:
                    ddp(x).sum().backward()
                    opt.step()
        """,
        """
        from torch.nn.parallel import DistributedDataParallel as DDP

        def main(args, model, rank, evaluate):
            ddp = DDP(model, device_ids=[rank])
            if args.unfreeze_all:
                for param in model.parameters():
                    param.requires_grad = True
                ddp = DDP(model, device_ids=[rank])  # re-wrapped in the same arm, before any step
            evaluate(ddp)
        """,
    ]

    def check(self, facts: Facts, module) -> Iterable[Finding]:
        for flow in flows_of(facts).bodies:
            evs = flow.events
            for f in (e for e in evs if e.kind in (FREEZE, UNFREEZE)):
                # a wrap of the object the name held before a new one was bound to it: not this one's
                wraps = [w for w in evs if w.kind == DDP_WRAP and w.target == f.target
                         and not (w.index < f.index and rebound(flow, w, f))]
                if any(w.index < f.index and after(w, f) for w in wraps) and not any(
                        _rewraps(flow, f, w) or _whole_toggle(flow, f, w) for w in wraps):
                    verb = "freezing" if f.kind == FREEZE else "unfreezing"
                    what = f"`{f.detail.get('sub') or f.target}`"
                    if f.detail.get("applied") or f.detail.get("cut"):  # modules a test or position picks
                        what = f"part of {what}"
                    yield self.finding(
                        f.node,
                        f"{verb} {what} after DistributedDataParallel wrapped it: "
                        f"DDP fixed the set of synchronised parameters at construction, so ranks diverge or "
                        f"fail a step later; change requires_grad before wrapping (or re-wrap)",
                        stmt=f.stmt, facts=facts, used=[f, *wraps],
                    )


def _whole_toggle(flow, change, wrap) -> bool:
    """Every parameter of the wrapped model, not a part or a pick (`ddp.requires_grad_(False)`, a
    loop over `ddp.module.parameters()`), changed where the wrap's own branches hold: a whole
    freeze leaves no hook for the reducer to wait on (a DINO teacher, a GAN's discriminator during
    the generator's step), and a whole unfreeze puts back what the wrap saw when nothing froze the
    model before it. Partial changes still fail a step later or diverge."""
    target = change.target
    whole = (change.detail.get("sub") in (target, f"{target}.module") and "picked" not in change.detail
             and "via" not in change.detail)  # a helper's change of its argument may be of a part
    if not whole or wrap.index > change.index or not set(change.branches) <= set(wrap.branches):
        return False
    if change.kind == FREEZE:
        return True
    return not any(e.kind == FREEZE and e.target == target and e.index < wrap.index for e in flow.events)


def _rewraps(flow, change, wrap) -> bool:
    """A wrap that runs whenever `change` ran, after it and before any training: DDP is rebuilt
    from the new requires_grad before a step could use the old one. A helper that changes it and
    runs something (on any argument) may run it after the change: its events are not ordered
    across arguments. A change in an arm that breaks out of the loop never reaches a wrap after the arm.
    The change may sit in loops the wrap is after (`for p in model.parameters(): p.requires_grad =
    True`, then the wrap) where nothing in them trains: their other passes change only."""
    inner = change.loops[len(wrap.loops):]
    return (wrap.index > change.index and after(change, wrap)
            and set(wrap.branches) - set(flow.escapes) <= set(change.branches)
            and change.loops[:len(wrap.loops)] == wrap.loops
            and not any(e.kind == ACTIVITY for e in between(flow, change, wrap))
            and not any(e.kind == ACTIVITY and (e.node is change.node or set(inner) & set(e.loops))
                        for e in flow.events))
