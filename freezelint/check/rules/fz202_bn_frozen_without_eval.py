"""FZ202 bn-frozen-without-eval: BatchNorm frozen with requires_grad only."""

from __future__ import annotations

import re
from typing import Iterable

import libcst as cst

from freezelint.check.facts import Facts, is_batchnorm_class
from freezelint.check.flow import BN_FREEZE, EVAL, FREEZE, TRAIN, flows_of
from freezelint.check.rules.base import FREEZES, Example, Finding, Rule, code_of


class BnFrozenWithoutEval(Rule):
    code = "FZ202"
    words = ("BatchNorm",)
    triggers = (r"isinstance\([^)]*BatchNorm", r"BatchNorm\w*\(")
    requires = (FREEZES + r"|requires_grad_\(\s*\)",)
    what = "Finds BatchNorm layers frozen with requires_grad only, never put in eval mode."
    why = (
        "`requires_grad=False` stops the BatchNorm weight and bias from training, but not its "
        "running_mean, running_var and num_batches_tracked: they keep updating on every batch in "
        "train mode — even under `torch.no_grad()` or `torch.inference_mode()`. The frozen layers "
        "drift towards the fine-tuning data. `.eval()` (re-applied after every `model.train()`) or "
        "`FrozenBatchNorm2d` freezes the statistics."
    )
    notes = (
        "Silent when the file puts BatchNorm layers in eval mode anywhere (for example "
        "`model.apply(fix_bn)`). BatchNorm layers frozen by a parameter loop in a Module's `__init__` "
        "are reported when this file or another file of the project puts the model in train mode "
        "(found through the project's summaries) and the class never puts them in eval mode; a "
        "model used only under eval() is fine."
    )
    bad = [
        Example(
            """
            import torch.nn as nn

            for m in model.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.weight.requires_grad = False  # expect: FZ202
                    m.bias.requires_grad = False
            """
        ),
        Example(
            """
            import torch.nn as nn

            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.weight.requires_grad = False  # expect: FZ202
                    # m.eval()  (a comment does not put the layer in eval mode)
            """
        ),
        Example(
            """
            import torch.nn as nn

            def freeze_norm(model):
                for module in model.modules():
                    if isinstance(module, nn.modules.batchnorm._BatchNorm):
                        module.weight.requires_grad_(False)  # expect: FZ202
                        module.bias.requires_grad_(False)
            """
        ),
        Example(
            """
            import torch.nn as nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.conv = nn.Conv2d(3, 8, 3)
                    self.bn1 = nn.BatchNorm2d(8)
                    for p in self.bn1.parameters():
                        p.requires_grad = False  # expect: FZ202

            model = Net()
            for epoch in range(10):
                model.train()
                train_one_epoch(model)
            """
        ),
    ]
    good = [
        """
        import torch.nn as nn

        def unfreeze_norm(model):
            for module in model.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.weight.requires_grad_()  # requires_grad_() is requires_grad_(True)
                    module.bias.requires_grad_()
        """,
        """
        import torch.nn as nn

        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()
                m.weight.requires_grad = False
                m.bias.requires_grad = False
        """,
        """
        import torch.nn as nn

        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.requires_grad_(True)  # test-time adaptation trains BatchNorm on purpose
        """,
        """
        import torch.nn as nn

        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):  # initialisation; the freeze below is commented out
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
                # for p in m.parameters(): p.requires_grad = False
        """,
        """
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(3, 8, 3)
                self.bn1 = nn.BatchNorm2d(8)
                for p in self.bn1.parameters():
                    p.requires_grad = False

        model = Net()
        model.eval()  # an evaluation script: never in train mode
        evaluate(model)
        """,
    ]

    def check(self, facts: Facts, module) -> Iterable[Finding]:
        yield from self._init_freezes(facts)
        yield from self._isinstance_freezes(facts)

    def _init_freezes(self, facts: Facts) -> Iterable[Finding]:
        """BN layers frozen by requires_grad in a Module's `__init__`, in a project that puts the
        model in train() mode and never BN-freezes it (a model used only under eval() is fine)."""
        bodies = flows_of(facts).bodies
        for info in facts.classes.values():
            if not info.is_module:
                continue
            own = [f for f in bodies if f.scope.cls is info and f.scope.is_method]
            if any(e.kind in (BN_FREEZE, EVAL) and (e.target == "self" or e.target.startswith("self."))
                   for f in own for e in f.events):
                continue  # the class puts its BatchNorm layers in eval mode itself
            init = next((f for f in own if f.scope.func_name == "__init__"), None)
            freezes = [e for e in (init.events if init else []) if e.kind == FREEZE
                       and _is_bn_attr(facts, info, e.detail.get("sub"))]
            if not freezes:
                continue
            trainer = _trained_where(facts, info, bodies)
            if trainer is None:
                continue
            trained_by = [e for e in facts.project.edges if e.name == f"trained: {info.name}" and not e.finding] \
                if facts.project is not None else []
            for e in freezes:
                yield self.finding(
                    e.node,
                    f"BatchNorm layer `{e.detail['sub']}` is frozen with requires_grad only in __init__, and "
                    f"{trainer} puts {info.name} in train mode: its running statistics still update on every "
                    f"batch; also put it in eval mode after every model.train() (override train()), or use "
                    f"FrozenBatchNorm2d",
                    stmt=e.stmt, facts=facts, used=[e], edges=trained_by[:1],
                )

    def _isinstance_freezes(self, facts: Facts) -> Iterable[Finding]:
        checks = [(node, name, classes, ctx) for node, name, classes, ctx in facts.isinstance_ifs
                  if any(is_batchnorm_class(facts.qualname(c, ctx.scope)) for c in classes)]
        if not checks:
            return
        if any(e.kind == BN_FREEZE for flow in flows_of(facts).bodies for e in flow.events):
            return
        for node, name, _classes, ctx in checks:
            body = node.body
            code = code_of(body)
            n = re.escape(name)
            freeze = re.search(rf"\b{n}(\.\w+)?\.requires_grad\s*=\s*False"
                               rf"|\b{n}(\.\w+)?\.requires_grad_\(\s*(requires_grad\s*=\s*)?False\s*\)"
                               rf"|for \w+ in {n}\.parameters\(\)", code)
            if not freeze or re.search(rf"\b{n}\.requires_grad_\(\s*True", code):
                continue
            if re.search(rf"\b{n}\.(eval\(\)|train\(\s*False)", code):
                continue
            stmt = next(iter(body.body), node) if isinstance(body, cst.IndentedBlock) else node
            yield self.finding(
                stmt,
                f"BatchNorm layer `{name}` is frozen with requires_grad only: its running statistics still "
                f"update on every batch in train mode; also call `{name}.eval()` (after every model.train()), "
                f"or use FrozenBatchNorm2d",
                ctx,
            )


def _is_bn_attr(facts: Facts, info, sub: str | None) -> bool:
    """`self.bn1` (or `self.bn1.weight`) where every value the class gives `bn1` is a BatchNorm."""
    if not sub or not sub.startswith("self."):
        return False
    attr = sub.split(".")[1]
    values = info.attrs.get(attr, [])
    return bool(values) and all(
        (k := facts.kind(v, s)) is not None and is_batchnorm_class(k.qual) for v, s in values)


def _trained_where(facts: Facts, info, bodies) -> str | None:
    """Where an instance of the class is put in train mode: this file, or a project file."""
    for flow in bodies:
        for e in flow.events:
            if e.kind == TRAIN and "." not in e.target:
                k = facts.kinds.name_kind(e.target, flow.scope)
                if k is not None and k.cls is info:
                    return "this file"
    if facts.project is not None and facts.path:
        trained, _ = facts.project.modes_of(facts.path, info.name)
        if trained:
            edges = [e for e in facts.project.edges if e.name == f"trained: {info.name}" and not e.finding]
            return f"`{edges[0].target}`" if edges else "the project"
    return None
