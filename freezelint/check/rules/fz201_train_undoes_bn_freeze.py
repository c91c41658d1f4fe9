"""FZ201 train-undoes-bn-freeze: `.train()` after BatchNorm was put in eval mode, not re-frozen."""

from __future__ import annotations

from typing import Iterable

import libcst as cst

from freezelint.check.facts import Facts
from freezelint.check.flow import ACTIVITY, BN_FREEZE, TRAIN, after, between, flows_of
from freezelint.check.rules.base import Example, Finding, Rule, src


class TrainUndoesBnFreeze(Rule):
    code = "FZ201"
    words = (".eval(", ".train(")
    triggers = (r"\.eval\(\)|\.train\(\s*False",)
    requires = (r"BatchNorm|classname|\bbn\d*\b|\bBN\b|norm",)
    what = (
        "Finds a `model.train()` that runs after BatchNorm layers were frozen with `.eval()` and "
        "before training continues, with no re-freeze in between; and nn.Module classes that freeze "
        "their BatchNorm layers with `.eval()` without overriding `train()`."
    )
    why = (
        "`model.train()` sets every submodule to training mode, BatchNorm included: the earlier "
        "`bn.eval()` is undone, and running_mean/running_var move with every batch again. A "
        "`model.train()` at the top of each epoch undoes a freeze made before the loop and one made "
        "at the end of the previous epoch. Tools that restore a saved mode with "
        "`model.train(was_training)` do the same. `model.train()` followed by the re-freeze "
        "(`model.apply(fix_bn)`) is the working order."
    )
    notes = (
        "Follows calls into functions of the same file (a `train_one_epoch(model)` that calls "
        "`model.train()` counts), to a bounded depth. Freezes through `FrozenBatchNorm2d` are "
        "permanent and never reported."
    )
    bad = [
        Example(
            """
            import torch.nn as nn

            def fix_bn(m):
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()

            model.apply(fix_bn)
            for epoch in range(10):
                model.train()  # expect: FZ201
                for x, y in loader:
                    loss = criterion(model(x), y)
                    loss.backward()
                    optimizer.step()
            """
        ),
        Example(
            """
            import torch.nn as nn

            class Detector(nn.Module):
                def __init__(self, backbone):
                    super().__init__()
                    self.backbone = backbone
                    for m in self.backbone.modules():
                        if isinstance(m, nn.modules.batchnorm._BatchNorm):
                            m.eval()  # expect: FZ201
            """
        ),
    ]
    good = [
        """
        import torch.nn as nn

        def fix_bn(m):
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()

        for epoch in range(10):
            model.train()
            model.apply(fix_bn)  # re-frozen before any batch
            for x, y in loader:
                criterion(model(x), y).backward()
                optimizer.step()
        """,
        """
        import torch.nn as nn

        class Detector(nn.Module):
            def __init__(self, backbone):
                super().__init__()
                self.backbone = backbone
                self._freeze_bn()

            def _freeze_bn(self):
                for m in self.backbone.modules():
                    if isinstance(m, nn.modules.batchnorm._BatchNorm):
                        m.eval()

            def train(self, mode=True):
                super().train(mode)
                self._freeze_bn()  # re-applied after every train()
                return self
        """,
        """
        import torchvision
        from torchvision.ops import FrozenBatchNorm2d

        model = torchvision.models.resnet50(weights=None, norm_layer=FrozenBatchNorm2d)
        model.eval()  # FrozenBatchNorm2d holds everything as buffers: train() cannot unfreeze it
        for epoch in range(10):
            model.train()
            for x, y in loader:
                criterion(model(x), y).backward()
                optimizer.step()
        """,
        """
        # test-time adaptation (TENT) trains BatchNorm on purpose
        model.train()
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.requires_grad_(True)
                m.track_running_stats = False
        """,
    ]

    def check(self, facts: Facts, module) -> Iterable[Finding]:
        flows = flows_of(facts)
        for flow in flows.bodies:
            evs = flow.events
            for t in (e for e in evs if e.kind == TRAIN):
                freezes = [f for f in evs if f.kind == BN_FREEZE and f.target == t.target and after(f, t)]
                if not freezes:
                    continue
                acts = [a for a in evs if a.kind == ACTIVITY and a.target in (t.target, "*") and after(t, a)
                        and a is not t and a.node is not t.node]
                for a in acts:
                    span = between(flow, t, a)
                    if any(f.kind == BN_FREEZE and f.target == t.target for f in span):
                        continue
                    line = f"`{src(t.node)}`"
                    yield self.finding(
                        t.node,
                        f"{line} puts the BatchNorm layers that were frozen with .eval() back into training mode "
                        f"before training continues, so their running statistics move again; re-apply the freeze "
                        f"right after it (or override train())",
                        stmt=t.stmt,
                    )
                    break
        yield from self._classes(facts)

    def _classes(self, facts: Facts) -> Iterable[Finding]:
        for info in facts.classes.values():
            if not info.is_module:
                continue
            methods = {s.name.value for s in info.node.body.body if isinstance(s, cst.FunctionDef)}
            if "train" in methods:
                continue
            for flow in flows_of(facts).bodies:
                scope = flow.scope
                if scope.cls is not info or not scope.is_method:
                    continue
                for e in flow.events:
                    if e.kind == BN_FREEZE and (e.target == "self" or e.target.startswith("self.")):
                        yield self.finding(
                            e.node,
                            f"{info.name} freezes BatchNorm with .eval() here but does not override train(): "
                            f"the first model.train() (every epoch loop calls it) undoes this freeze; override "
                            f"train() to re-apply it",
                            stmt=e.stmt,
                        )

