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
        "Follows calls into functions and Module-class methods of the same file and of the other "
        "files of the project (through their summaries), to a bounded depth, and a model returned "
        "by a builder arrives in the state the builder left it in (`model = build_model(cfg)` after "
        "a `return model` whose BatchNorm was frozen): a `train_one_epoch(model)` "
        "that calls `model.train()` and then trains is reported at its call site, naming the line of "
        "its train(); a `model.freeze_bn()` re-applied after every train() is the working idiom and "
        "needs no train() override. A class is reported at its definition only when the BN freeze is "
        "in `__init__` (no caller can re-apply a constructor), and not through a public method callers can "
        "call again after train() (`self.freeze_bn()`: judged where they train). Freezes through `FrozenBatchNorm2d` are "
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
        Example(
            """
            import torch.nn as nn

            def freeze_bn(model):
                for m in model.modules():
                    if isinstance(m, nn.modules.batchnorm._BatchNorm):
                        m.eval()

            def train_one_epoch(model, loader, optimizer):
                model.train()
                for x, y in loader:
                    criterion(model(x), y).backward()
                    optimizer.step()

            freeze_bn(model)
            for epoch in range(10):
                train_one_epoch(model, loader, optimizer)  # expect: FZ201
            """
        ),
        Example(
            """
            import torch.nn as nn

            class Net(nn.Module):
                def freeze_bn(self):
                    for m in self.modules():
                        if isinstance(m, nn.modules.batchnorm._BatchNorm):
                            m.eval()

            model = Net()
            model.freeze_bn()
            for epoch in range(10):
                model.train()  # expect: FZ201
                for x, y in loader:
                    criterion(model(x), y).backward()
            """
        ),
        Example(
            """
            import torch.nn as nn
            import torchvision

            def build_model(num_classes):
                model = torchvision.models.resnet50(weights=None)
                model.fc = nn.Linear(model.fc.in_features, num_classes)
                for m in model.modules():
                    if isinstance(m, nn.modules.batchnorm._BatchNorm):
                        m.eval()
                return model.cuda()

            def main(loader, optimizer):
                model = build_model(10)  # returned with BatchNorm frozen
                for epoch in range(10):
                    model.train()  # expect: FZ201
                    for x, y in loader:
                        criterion(model(x), y).backward()
                        optimizer.step()
            """
        ),
    ]
    good = [
        """
        import torch.nn as nn

        def freeze_batch_norm(model):
            for m in model.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()

        for epoch in range(10):
            model.train()
            if isinstance(model, nn.parallel.DistributedDataParallel):  # a test, not a run of the model
                freeze_batch_norm(model.module)
            else:
                freeze_batch_norm(model)
            for x, y in loader:
                criterion(model(x), y).backward()
                optimizer.step()
        """,
        """
        import torch.nn as nn
        import torchvision

        def fix_bn(m):
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()

        def build(pretrained_teacher):
            teacher = torchvision.models.resnet50(weights=None)
            teacher.apply(fix_bn)  # the teacher's BatchNorm, frozen; the student it returns is not
            student = torchvision.models.resnet18(weights=None)
            return student

        def build_either(small):
            a = torchvision.models.resnet18(weights=None)
            a.apply(fix_bn)
            b = torchvision.models.resnet50(weights=None)
            if small:
                return a
            return b  # two models returned: which one a caller holds is not known

        model = build(None)
        other = build_either(False)
        for epoch in range(10):
            model.train()
            other.train()
            for x, y in loader:
                criterion(model(x) + other(x), y).backward()
                optimizer.step()
        """,
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

        class ResNet(nn.Module):
            def __init__(self, layers):
                super().__init__()
                self.layers = layers
                self.freeze_bn()  # a public method: the training loop calls it again after train()

            def freeze_bn(self):
                for layer in self.modules():
                    if isinstance(layer, nn.modules.batchnorm._BatchNorm):
                        layer.eval()

        model = ResNet(layers)
        for epoch in range(10):
            model.train()
            model.freeze_bn()
            for x, y in loader:
                criterion(model(x), y).backward()
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
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.requires_grad_(True)
                m.track_running_stats = False
        """,
        """
        import torch.nn as nn

        class Net(nn.Module):
            def freeze_bn(self):  # no train() override: fine, every caller re-applies it
                for m in self.modules():
                    if isinstance(m, nn.modules.batchnorm._BatchNorm):
                        m.eval()

        model = Net()
        for epoch in range(10):
            model.train()
            model.freeze_bn()
            for x, y in loader:
                criterion(model(x), y).backward()
        """,
        """
        import torch.nn as nn

        def freeze_bn(model):
            for m in model.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()

        def train_one_epoch(model, loader, optimizer):
            model.train()
            freeze_bn(model)  # re-applied inside the helper, after its train()
            for x, y in loader:
                criterion(model(x), y).backward()
                optimizer.step()

        freeze_bn(model)
        for epoch in range(10):
            train_one_epoch(model, loader, optimizer)
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
                # a helper that calls train() and then trains counts as both, in that order
                acts = [a for a in evs if a.kind == ACTIVITY and a.target in (t.target, "*") and after(t, a)
                        and a is not t and (a.node is not t.node or (t.detail.get("via") and a.index > t.index))]
                for a in acts:
                    span = between(flow, t, a)
                    if any(f.kind == BN_FREEZE and f.target == t.target for f in span):
                        continue
                    line = _shown(t, flow.facts)
                    frozen_by = freezes[-1].detail.get("via")  # a helper, or the builder that returned the model
                    how = f"that `{frozen_by}(...)` froze" if frozen_by else "that were frozen"
                    yield self.finding(
                        _span(t.node),
                        f"{line} puts the BatchNorm layers {how} with .eval() back into training mode "
                        f"before training continues, so their running statistics move again; re-apply the freeze "
                        f"right after it (or override train())",
                        stmt=t.stmt, facts=facts, used=[*freezes, t, a],
                    )
                    break
        yield from self._classes(facts)

    def _classes(self, facts: Facts) -> Iterable[Finding]:
        """A BN freeze in `__init__` of a class without a train() override: no caller can re-apply
        a constructor. Freezes in other methods are judged where they are called (above)."""
        for info in facts.classes.values():
            if not info.is_module:
                continue
            methods = {s.name.value for s in info.node.body.body if isinstance(s, cst.FunctionDef)}
            if "train" in methods:
                continue
            for flow in flows_of(facts).bodies:
                scope = flow.scope
                if scope.cls is not info or not scope.is_method or scope.func_name != "__init__":
                    continue
                for e in flow.events:
                    if e.detail.get("via") in methods and not e.detail["via"].startswith("_"):
                        continue  # through a public method: callers re-apply it after train() (judged there)
                    if e.kind == BN_FREEZE and (e.target == "self" or e.target.startswith("self.")):
                        yield self.finding(
                            e.node,
                            f"{info.name} freezes BatchNorm with .eval() in __init__ but does not override "
                            f"train(): the first model.train() (every epoch loop calls it) undoes this freeze; "
                            f"override train() to re-apply it",
                            stmt=e.stmt,
                        )


def _span(node: cst.CSTNode) -> cst.CSTNode:
    """A call through a helper is underlined at the helper's name, not the whole call."""
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Name):
        return node.func
    return node


def _shown(t, facts: Facts) -> str:
    """`model.train()`, or `helper(...)` and where the helper calls train()."""
    via = t.detail.get("via")
    if not via:
        return f"`{src(t.node)}`"
    where = t.detail.get("where")
    if where is None and t.detail.get("origin_node") is not None:
        from libcst.metadata import MetadataWrapper, PositionProvider

        positions = MetadataWrapper(facts.module, unsafe_skip_copy=True).resolve(PositionProvider)
        origin = t.detail["origin_node"]
        if origin in positions:
            where = f"line {positions[origin].start.line}"
    through = "".join(f"`{f}(...)`, " for f in t.detail.get("through", ()))  # helpers of other files on the way
    return f"`{via}(...)` ({through}it calls train() at {where})" if where else f"`{via}(...)` (it calls train())"
