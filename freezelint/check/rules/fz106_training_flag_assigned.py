"""FZ106 training-flag-assigned: `model.training = v` changes one module, not its children."""

from __future__ import annotations

from typing import Iterable

import libcst as cst

from freezelint.check.facts import Facts, is_leaf_module_class
from freezelint.check.rules.base import ASSIGNED, Example, Finding, Rule, call_fix, src

# Inside these methods setting the flag directly is how mode switching is implemented.
_MODE_METHODS = frozenset({"train", "eval", "training", "__init__", "__setstate__", "set_mode"})


class TrainingFlagAssigned(Rule):
    code = "FZ106"
    words = ("training",)
    triggers = (r"\.training" + ASSIGNED, r"['\"]training['\"]")
    what = "Finds `module.training = v` where `module.train(v)` was meant."
    why = (
        "`training` is a per-module flag. Assigning it flips that one module only; its children "
        "(BatchNorm, Dropout, whole backbones) keep their own flags, so BatchNorm statistics keep "
        "moving and Dropout stays active. `module.train(v)` / `module.eval()` set the whole subtree."
    )
    fix_title = "Call `module.train(v)`"
    notes = (
        "Not reported where the flag is the whole story: on a layer without children (`nn.Linear`, "
        "`nn.BatchNorm2d`, `nn.ReLU`, ...), inside `train`/`eval`/`__init__` methods or a `training` "
        "property setter (the implementation itself), and for `new.training = old.training`, the "
        "idiom of conversion utilities that mirror a module's flags one by one."
    )
    bad = [
        Example(
            """
            import torchvision

            model = torchvision.models.resnet50(weights=None)
            model.training = False  # expect: FZ106
            """,
            fixed="""
            import torchvision

            model = torchvision.models.resnet50(weights=None)
            model.train(False)  # expect: FZ106
            """,
        ),
        Example(
            """
            import torch.nn as nn

            class Finetuner(nn.Module):
                def __init__(self, backbone):
                    super().__init__()
                    self.backbone = nn.Sequential(backbone, nn.BatchNorm1d(10))

                def freeze_backbone(self):
                    self.backbone.training = False  # expect: FZ106
            """,
            fixed="""
            import torch.nn as nn

            class Finetuner(nn.Module):
                def __init__(self, backbone):
                    super().__init__()
                    self.backbone = nn.Sequential(backbone, nn.BatchNorm1d(10))

                def freeze_backbone(self):
                    self.backbone.train(False)  # expect: FZ106
            """,
        ),
    ]
    good = [
        """
        import torch.nn as nn

        class Block(nn.Module):
            def train(self, mode=True):
                self.training = mode  # implementing train() itself
                for child in self.children():
                    child.train(mode)
                return self

        model = Block()
        model.eval()
        was_training = model.training
        trainer.training = False  # not known to be a Module
        """,
        """
        import torch.nn as nn

        bn = nn.BatchNorm1d(8)
        bn.training = False  # a leaf layer: its own flag is its whole mode
        relu = nn.ReLU()
        relu.training = bn.training
        converted = nn.Sequential(nn.Linear(2, 2))
        converted.training = model.training  # mirroring flags while converting modules
        """,
        """
        import torch.nn as nn

        class Compiled(nn.Module):
            @property
            def training(self):
                return self.inner.training

            @training.setter
            def training(self, value):
                self.inner.training = value
        """,
    ]

    def check(self, facts: Facts, module) -> Iterable[Finding]:
        for store in facts.attr_stores:
            if store.attr != "training" or store.form == "augassign":
                continue
            kind = facts.kind(store.obj, store.ctx)
            if kind is None or kind.tag != "module" or is_leaf_module_class(kind.qual):
                continue
            if facts.enclosing_class(store.ctx) is not None and facts.function_name(store.ctx) in _MODE_METHODS:
                continue
            if isinstance(store.value, cst.Attribute) and store.value.attr.value == "training":
                continue
            obj = src(store.obj)
            value = src(store.value) if store.value is not None else "mode"
            yield self.finding(
                store.attr_node,
                f"`{obj}.training = {value}` flips only `{obj}`'s own flag; its submodules (BatchNorm, "
                f"Dropout) keep theirs; call `{obj}.train({value})`",
                store.ctx,
                call_fix(store, "train", f"Call `{obj}.train({value})`"),
            )
