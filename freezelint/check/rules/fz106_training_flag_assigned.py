"""FZ106 training-flag-assigned: `model.training = v` changes one module, not its children."""

from __future__ import annotations

from typing import Iterable

import libcst as cst

from freezelint.check import traverse
from freezelint.check.facts import Ctx, Facts, is_leaf_module_class
from freezelint.check.flow import note_used
from freezelint.check.rules.base import ASSIGNED, Example, Finding, Rule, call_fix, src, value_src

# Inside these methods setting the flag directly is how mode switching is implemented.
_MODE_METHODS = frozenset({"train", "eval", "training", "__init__", "__setstate__", "set_mode"})


class TrainingFlagAssigned(Rule):
    code = "FZ106"
    words = ("training",)
    triggers = (r"\.training" + ASSIGNED, r"['\"]training['\"]")
    # the quoted name counts only where a setattr() can use it
    requires = (r"\.training" + ASSIGNED + r"|\bsetattr\s*\(",)
    what = "Finds `module.training = v` where `module.train(v)` was meant."
    why = (
        "`training` is a per-module flag. Assigning it flips that one module only; its children "
        "(BatchNorm, Dropout, whole backbones) keep their own flags, so BatchNorm statistics keep "
        "moving and Dropout stays active. `module.train(v)` / `module.eval()` set the whole subtree."
    )
    fix_title = "Call `module.train(v)`"
    fix_unsafe_when = ("the object is taken for a Module only because it is called like one (`self.model(x)`): "
                       "any callable is, and `.train(v)` may not exist on it or mean something else")
    notes = (
        "Not reported where the flag is the whole story: on a layer without children (`nn.Linear`, "
        "`nn.BatchNorm2d`, `nn.ReLU`, ...), inside `train`/`eval`/`__init__` methods or a `training` "
        "property setter (the implementation itself), and for `new.training = old.training`, the "
        "idiom of conversion utilities that mirror a module's flags one by one, nor for the loop variable "
        "of `.modules()` / `.named_modules()` (every module's own flag is set: a full restore, as "
        "Lightning does), unless an isinstance test picks some of those modules out."
    )
    bad = [
        Example(
            """
            import torch.nn as nn

            class Wrapper(nn.Module):
                def __init__(self, encoder, norm):
                    super().__init__()
                    self.encoder = encoder
                    self.norm = norm

                def freeze(self):
                    for p in self.encoder.parameters():
                        p.requires_grad = False
                    print(self.norm.running_var)  # another module's statistics
                    self.encoder.training = False  # expect: FZ106
            """
        ),
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
        Example(
            """
            import torch.nn as nn

            def freeze_blocks(model: nn.Module):
                for m in model.modules():
                    if isinstance(m, nn.Sequential):
                        m.training = False  # expect: FZ106
            """,
            fixed="""
            import torch.nn as nn

            def freeze_blocks(model: nn.Module):
                for m in model.modules():
                    if isinstance(m, nn.Sequential):
                        m.train(False)  # expect: FZ106
            """,
        ),
        Example(
            """
            import torch.nn as nn

            model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
            model.training = False  # expect: FZ106
            validate(model(x))  # the model runs with its BatchNorm still training
            model.train()
            """
        ),
        Example(
            """
            import torchvision

            net = torchvision.models.resnet18(weights=None)
            net.layer1.training = False  # expect: FZ106
            """,
            fixed="""
            import torchvision

            net = torchvision.models.resnet18(weights=None)
            net.layer1.train(False)  # expect: FZ106
            """,
        ),
        Example(
            """
            class Evaluator:
                def __init__(self, model):
                    self.model = model

                def predict(self, x):
                    self.model.training = False  # expect: FZ106
                    return self.model(x)
            """,
            fixed="""
            class Evaluator:
                def __init__(self, model):
                    self.model = model

                def predict(self, x):
                    self.model.train(False)  # expect: FZ106
                    return self.model(x)
            """,
            unsafe=True,  # a Module only because it is called like one: any callable is
        ),
    ]
    good = [
        """
        import torch.nn as nn

        model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
        model.training = True  # redundant: train() below sets every module's flag before the model runs
        scheduler = make_scheduler()
        model.train()
        model.freeze_bn()
        for x in data:
            model(x)
        """,
        """
        import torch.nn as nn

        _BN = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d}

        class ConvBn(nn.Module):  # torch.ao's fused QAT modules: self.bn is a BatchNorm layer
            def __init__(self, dim):
                super().__init__()
                self.bn = _BN[dim](8)

            def reset_bn(self):
                self.bn.reset_running_stats()

            def freeze_bn_stats(self):
                self.bn.training = False
                return self
        """,
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

        from torch import nn

        class Restorer:
            def __init__(self, module: nn.Module):
                self.module = module
                self.saved = {name: m.training for name, m in module.named_modules()}

            def restore(self):
                for name, mod in self.module.named_modules():
                    mod.training = self.saved[name]  # every module's own flag: a full restore
                for m in self.module.modules():
                    m.training = False
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
        """
        import torchvision

        net = torchvision.models.resnet18(weights=None)
        net.bn1.training = False  # a BatchNorm2d without children: the same as net.bn1.eval()
        """,
    ]

    def check(self, facts: Facts, module) -> Iterable[Finding]:
        for store in facts.attr_stores:
            if store.attr != "training" or store.form == "augassign":
                continue
            kind = facts.kind(store.obj, store.ctx)
            if kind is None or kind.tag != "module" or is_leaf_module_class(kind.qual):
                continue
            if kind.qual is None and (_batchnorm_by_use(module, store.obj) or _table_leaf(kind)):
                continue
            if facts.enclosing_class(store.ctx) is not None and facts.function_name(store.ctx) in _MODE_METHODS:
                continue
            if isinstance(store.value, cst.Attribute) and store.value.attr.value == "training":
                continue
            if _each_module_of_a_walk(facts, store.obj, store.ctx):
                continue
            if _mode_called_after(store, module):
                continue
            note_used(facts, self.code, store.attr_node, edges=facts.kinds.edges_behind(store.obj, store.ctx.scope))
            obj = src(store.obj)
            value = value_src(store.value, "mode")
            yield self.finding(
                store.attr_node,
                f"`{obj}.training = {value}` flips only `{obj}`'s own flag; its submodules (BatchNorm, "
                f"Dropout) keep theirs; call `{obj}.train({value})`",
                store.ctx,
                call_fix(store, "train", f"Call `{obj}.train({value})`",
                         safe=not facts.kinds.module_only_called(store.obj, store.ctx.scope)),
            )


def _table_leaf(kind) -> bool:
    """A part of a known model (`resnet18(...).bn1`) the generated table shows without children:
    it has none (the table lists every module to its depth), so its own flag is the whole story."""
    from freezelint.check.submodule_table import DEPTH, TABLE

    entry = TABLE.get(kind.factory or "")
    if entry is None or not kind.sub or kind.sub.count(".") + 1 >= DEPTH:
        return False  # its children, if any, would be deeper than the table goes
    return kind.sub in entry["modules"] and not any(m.startswith(kind.sub + ".") for m in entry["modules"])


# Attributes only BatchNorm layers have.
_BN_ONLY = frozenset({"running_mean", "running_var", "num_batches_tracked", "reset_running_stats",
                      "track_running_stats"})


def _batchnorm_by_use(module: cst.Module, obj: cst.BaseExpression) -> bool:
    """A module of unknown class (`self.bn = _BN_CLASS_MAP[dim](...)`) whose BatchNorm-only
    attributes the file uses is a BatchNorm layer: it has no children, the flag is the whole story."""
    target = src(obj)
    return any(isinstance(n, cst.Attribute) and n.attr.value in _BN_ONLY and src(n.value) == target
               for n in traverse.walk(module))


def _mode_called_after(store, module: cst.Module) -> bool:
    """`model.training = True` then, later in the same block and before `model` runs,
    `model.train()` or `model.eval()`: the call sets every module's flag, the assignment changes
    nothing (seen in real training scripts)."""
    if store.form not in ("assign", "annassign"):
        return False
    obj = src(store.obj)
    root = store.ctx.scope.node if store.ctx.scope.node is not None else module
    for node in traverse.walk(root):
        body = getattr(node, "body", None)
        if not isinstance(body, (list, tuple)) or not any(stmt is store.ctx.stmt for stmt in body):
            continue
        after = list(body)[[id(b) for b in body].index(id(store.ctx.stmt)) + 1:]
        for later in after:
            for n in traverse.walk(later):
                if not isinstance(n, cst.Call):
                    continue
                if isinstance(n.func, cst.Attribute) and n.func.attr.value in ("train", "eval") \
                        and src(n.func.value) == obj:
                    return True
                if src(n.func) == obj:  # the model runs first: the flag mattered
                    return False
        return False
    return False


# Iterating these visits every module of a tree, so setting each one's own flag sets them all.
_WALKS = {"modules": (), "named_modules": (1,)}


def _each_module_of_a_walk(facts: Facts, obj: cst.BaseExpression, ctx: Ctx) -> bool:
    """`for name, m in model.named_modules(): m.training = saved[name]` restores every module's
    own flag (Lightning does this): not a flip of one module. Not when an isinstance test picked
    some of them out, since the picked modules' children are then left as they were."""
    if not isinstance(obj, cst.Name) or any(name == obj.value for name, _, _ in ctx.narrow):
        return False
    owner = ctx.scope.lookup(obj.value)
    if owner is None:
        return False
    for b in owner.bindings[obj.value]:
        it = b.node
        if not (b.how == "iter" and isinstance(it, cst.Call) and isinstance(it.func, cst.Attribute)
                and _WALKS.get(it.func.attr.value, None) == b.index):
            return False
    return True
