"""FZ204 bn-attribute-after-init: `bn.affine = False` after construction does nothing."""

from __future__ import annotations

from typing import Iterable

import libcst as cst

from freezelint.check.facts import Facts, is_batchnorm_class
from freezelint.check.rules.base import ASSIGNED, Example, Finding, Rule, src


class BnAttributeAfterInit(Rule):
    code = "FZ204"
    words = ("affine",)
    triggers = (r"\.affine" + ASSIGNED, r"['\"]affine['\"]")
    # the quoted name counts only where a setattr() can use it
    requires = (r"\.affine" + ASSIGNED + r"|\bsetattr\s*\(",)
    what = "Finds `affine` assigned on an existing BatchNorm layer."
    why = (
        "`affine` is read only in `__init__`, where it decides whether `weight` and `bias` exist. "
        "Setting `bn.affine = False` later changes nothing: forward still scales and shifts with "
        "`weight` and `bias`, and they stay trainable."
    )
    bad = [
        Example(
            """
            import torch.nn as nn

            bn = nn.BatchNorm2d(64)
            bn.affine = False  # expect: FZ204
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.affine = False  # expect: FZ204
            """,
            instead="""
            from functools import partial

            import torch.nn as nn
            import torchvision

            bn = nn.BatchNorm2d(64, affine=False)  # affine is a constructor argument
            model = torchvision.models.resnet18(norm_layer=partial(nn.BatchNorm2d, affine=False))
            """,
        ),
        Example(
            """
            def set_bn_eval(m):  # the layer picked by its class's name, as under isinstance
                classname = m.__class__.__name__
                if "BatchNorm2d" in classname:
                    m.affine = False  # expect: FZ204
                    m.eval()

            for m in model.modules():
                if type(m).__name__.startswith("BatchNorm"):
                    m.affine = False  # expect: FZ204
            """
        ),
    ]
    good = [
        """
        import torch.nn as nn

        bn = nn.BatchNorm2d(64, affine=False)
        bn.weight.requires_grad_(False)
        conv = nn.Conv2d(3, 8, 3)
        conv.affine = False  # not a BatchNorm layer (and not our concern here)
        cfg.affine = False
        """,
        """
        import torch.nn as nn

        def disable_affine(model):
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.affine = False
                    m.weight = None  # the parameters go: forward gets weight=None, bias=None
                    m.bias = None
        """,
        """
        import torch.nn as nn

        def freeze_batch_norm(model):
            for module in model.modules():
                if isinstance(module, nn.BatchNorm2d):
                    module.eval()
                    module.affine = True  # a no-op on a layer built affine: nothing it means to freeze
        """,
        """
        def set_norm(m):
            classname = m.__class__.__name__
            if classname.find("FilterResponseNorm") != -1:  # the project's own norm reads its flag in forward
                m.affine = False
            elif classname.find("BatchNorm") == -1:
                m.affine = True
        """,
    ]

    def check(self, facts: Facts, module) -> Iterable[Finding]:
        # `m.weight = None` and `m.bias = None` beside it: the affine parameters are removed, which
        # is how affine is turned off after construction (the flag then only keeps repr honest)
        dropped: dict[tuple[int, str], set[str]] = {}
        for store in facts.attr_stores:
            if store.attr in ("weight", "bias") and isinstance(store.value, cst.Name) and store.value.value == "None":
                dropped.setdefault((id(store.ctx.scope), src(store.obj)), set()).add(store.attr)
        for store in facts.attr_stores:
            if store.attr != "affine" or store.form == "augassign":
                continue
            if isinstance(store.value, cst.Name) and store.value.value == "True":
                continue  # turns nothing off: a no-op on a layer built affine (the default), no freeze meant
            if dropped.get((id(store.ctx.scope), src(store.obj))) == {"weight", "bias"}:
                continue
            kind = facts.kind(store.obj, store.ctx)
            if kind is None or kind.tag != "module" or not is_batchnorm_class(kind.qual):
                continue
            obj = src(store.obj)
            yield self.finding(
                store.attr_node,
                f"`{obj}.affine` is only read when the layer is built: `weight` and `bias` stay and are still "
                f"applied; pass `affine=False` to the constructor, or freeze them with "
                f"`{obj}.requires_grad_(False)`",
                store.ctx,
            )
