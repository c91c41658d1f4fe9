"""FZ303 unfrozen-after-optimizer: params unfrozen after a filtered optimizer was built."""

from __future__ import annotations

from typing import Iterable

from freezelint.check.facts import Facts
from freezelint.check.known import SELF_RETURNING, is_library
from freezelint.check.project import Edge, shown_path
import re

import libcst as cst

from freezelint.check.events import RET, library_bases, unwrap_self_returning
from freezelint.check.flow import (ADD_GROUP, FREEZE, FREEZE_BY_DEFAULT, OPT_BUILD, UNFREEZE, after, dropped_on_return,
                                   flows_of, rebound)
from freezelint.check.syntax import walk
from freezelint.check.rules.base import (FREEZES, FREEZES_MEANT, LIGHTNING_CALLBACK, OPTIMIZER_CALL, OPTIMIZER_CLASS,
                                         UNFREEZES, Example, Finding, Rule, code_of, src)


# Lightning's BaseFinetuning.make_trainable: an unfreeze without the param group
_MAKE_TRAINABLE = r"|\bmake_trainable\s*\("

# transformers' Trainer (4.x and 5.x alike): train() builds the optimizer (`create_optimizer`, in
# `_inner_training_loop`'s preparation) before the first callback event of training, on_train_begin;
# only on_init_end runs earlier, in Trainer.__init__. create_optimizer keeps the parameters with
# `p.requires_grad` (both weight-decay groups) and builds nothing when it was given one (`optimizers=`).
HF_CALLBACKS = frozenset(f"transformers.{where}{name}" for where in ("", "trainer_callback.") for name in (
    "TrainerCallback", "DefaultFlowCallback", "PrinterCallback", "ProgressCallback", "EarlyStoppingCallback"))
HF_TRAINING_EVENTS = ("on_train_begin", "on_epoch_begin", "on_step_begin", "on_substep_end", "on_pre_optimizer_step",
                      "on_optimizer_step", "on_step_end", "on_epoch_end")
_HF_BEFORE_OPTIMIZER = ("__init__", "on_init_end")
# A class deriving from a `...Callback` (TrainerCallback, or a project base class that may be one).
_CALLBACK_CLASS = r"class\s+\w+\s*\([^)]*Callback\b"
# The project gives its Trainer an optimizer of its own: a `create_optimizer` override, or
# `optimizers=` (outside comments).
_OWN_OPTIMIZER = r"(?m)^[^#\n]*(?:\bdef\s+create_optimizer\w*\s*\(|\boptimizers\s*=(?!=))"


class UnfrozenAfterOptimizer(Rule):
    code = "FZ303"
    words = ("requires_grad", "make_trainable")
    triggers = (OPTIMIZER_CALL, *OPTIMIZER_CLASS, LIGHTNING_CALLBACK, _CALLBACK_CLASS)
    requires = (UNFREEZES + _MAKE_TRAINABLE, r"requires_grad" + _MAKE_TRAINABLE)
    what = (
        "Finds parameters set back to `requires_grad=True` after an optimizer was built from a "
        "requires_grad filter, with no `add_param_group` (or new optimizer) after it."
    )
    why = (
        "An optimizer built from `filter(lambda p: p.requires_grad, ...)` holds only the parameters "
        "that were trainable then. Unfreezing more later (gradual unfreezing) gives them grads, but "
        "the optimizer never updates them. `add_param_group` fixes it; a scheduler built before that "
        "then needs care (OneCycleLR raises `KeyError: 'initial_lr'`)."
    )
    notes = (
        "An optimizer built through a name that holds an optimizer class counts (`optimizer_class = "
        "bnb.optim.AdamW8bit if args.use_8bit_adam else torch.optim.AdamW`, or the two in the arms of an `if`). "
        "Follows helpers of the project's other files and Lightning's order: `configure_optimizers` "
        "runs before every training hook (`on_train_epoch_start`, `training_step`, ...), so an "
        "unfreeze there comes after the optimizer unless the hook adds a param group; "
        "`BaseFinetuning.unfreeze_and_add_param_group` does both, its `make_trainable` (in "
        "`finetune_function`) only the unfreeze. In a Callback's training hooks an "
        "unfreeze of `pl_module` is reported only when the LightningModule's `configure_optimizers` is "
        "visible and filters on requires_grad: the module the hooks' `pl_module: Net` annotation names, "
        "else the only project LightningModule the Callback's file defines or imports (from another "
        "file of the project too). When it cannot be seen, the optimizer's kind is unknown and the "
        "rule stays silent. Silent too when nothing was frozen, so the filter kept every parameter: the "
        "model is built by a library call (`resnet18(...)`, in the file or by a builder of another "
        "project file that neither freezes nor hands it on) and no freeze is seen, in the file or in a "
        "project function it calls (`freeze.freeze_backbone(model)` included). A transformers "
        "`TrainerCallback` (or a project subclass of one) that unfreezes in a training event "
        "(`on_train_begin`, `on_epoch_begin`, `on_step_begin`, `on_substep_end`, `on_pre_optimizer_step`, "
        "`on_optimizer_step`, `on_step_end`, `on_epoch_end`) is reported: `Trainer.train()` builds its "
        "optimizer (`create_optimizer`, which keeps the parameters with `p.requires_grad`) before the first "
        "of them, `on_train_begin` included; only `on_init_end` runs before it. Silent when the callback "
        "names an optimizer anywhere (`kwargs[\"optimizer\"].add_param_group(...)`, "
        "`trainer.create_optimizer()`), when it also freezes in a training event (the optimizer may "
        "then hold every parameter, the frozen ones skipped for want of a grad: the fix the message "
        "suggests, since `add_param_group` on the Trainer's optimizer breaks its default LambdaLR "
        "schedule, which raises on the extra group), when the Trainer may have an optimizer of its own: "
        "the file, or a project file tied to it by imports (one imports the other, or a file imports both, "
        "as the script that hands the callback to a Trainer subclass of another file), overrides "
        "`create_optimizer` or passes `optimizers=`; another file of the project counts only when no tied "
        "file makes the callback (its Trainer is then not seen). Silent too when nothing is frozen in the project. "
        "A plain class (no Module; any base a plain class of the project) that builds the model it trains "
        "itself (`self.model = build_model(cfg)` in `__init__`, assigned in no other method, and no `setattr` on "
        "self) is read as a whole: `__init__` runs before any method, and its methods run after it in any order, "
        "any number of times; a subclass in another file than the base whose constructor it runs is reported "
        "at its method's change, naming that constructor. A method's unfreeze is reported where `__init__` froze part of that model "
        "before building its optimizer from a requires_grad filter, and no method adds a param group or builds "
        "an optimizer again. `x.part.requires_grad = True` on an object whose kind is not known (a loaded "
        "model's part: a Parameter, or a Module where the line sets a plain attribute) is reported with both "
        "readings: the advice says to call `requires_grad_(True)` if it is a Module."
    )
    bad = [
        Example(
            """
            import torch

            model.backbone.requires_grad_(False)
            optimizer = torch.optim.Adam(filter(lambda p: p.requires_grad, model.parameters()), lr=1e-3)
            for epoch in range(10):
                if epoch == 5:
                    model.backbone.layer4.requires_grad_(True)  # expect: FZ303
                train_one_epoch(model, optimizer)
            """,
            instead="""
            import torch

            model.backbone.requires_grad_(False)
            optimizer = torch.optim.Adam(filter(lambda p: p.requires_grad, model.parameters()), lr=1e-3)
            for epoch in range(10):
                if epoch == 5:
                    model.backbone.layer4.requires_grad_(True)
                    optimizer.add_param_group({"params": model.backbone.layer4.parameters()})
                train_one_epoch(model, optimizer)
            """,
        ),
        Example(
            """
            import torch

            optimizer = torch.optim.Adam(filter(lambda p: p.requires_grad, model.parameters()), lr=1e-3)
            for epoch in range(10):
                if epoch == 5:
                    for p in model.backbone.parameters():
                        p.requires_grad_()  # expect: FZ303
                train_one_epoch(model, optimizer)
            """
        ),
        Example(
            """
            import torch
            from lightning.pytorch import LightningModule

            class Lit(LightningModule):
                def configure_optimizers(self):  # Lightning calls this before any training hook
                    return torch.optim.Adam(filter(lambda p: p.requires_grad, self.parameters()))

                def on_train_epoch_start(self):
                    if self.current_epoch == 5:
                        self.backbone.requires_grad_(True)  # expect: FZ303
            """
        ),
        Example(
            """
            import torch
            from lightning.pytorch import Callback, LightningModule

            class Lit(LightningModule):
                def configure_optimizers(self):
                    return torch.optim.Adam([p for p in self.parameters() if p.requires_grad])

            class Unfreeze(Callback):  # configure_optimizers ran before every Callback training hook
                def on_train_epoch_start(self, trainer, pl_module):
                    if trainer.current_epoch == 5:
                        pl_module.backbone.requires_grad_(True)  # expect: FZ303
            """
        ),
        Example(
            """
            import torch
            import torchvision

            def fit(loader, epochs):
                model = torchvision.models.resnet18(weights=None)
                model.requires_grad_(False)
                model.fc.requires_grad_(True)
                model.eval()  # the frozen BatchNorm statistics stay put (FZ202's otherwise)
                opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
                for epoch in range(epochs):
                    if epoch == 5:
                        # the break skips the add_param_group below
                        model.layer4.requires_grad_(True)  # expect: FZ303
                        break
                    opt.add_param_group({"params": model.layer3.parameters()})
                    for x, y in loader:
                        torch.nn.functional.cross_entropy(model(x), y).backward()
                        opt.step()
                for x, y in loader:
                    torch.nn.functional.cross_entropy(model(x), y).backward()
                    opt.step()
            """
        ),
        Example(
            """
            import torch
            from lightning.pytorch import LightningModule
            from lightning.pytorch.callbacks import BaseFinetuning

            class Lit(LightningModule):
                def configure_optimizers(self):
                    return torch.optim.AdamW(filter(lambda p: p.requires_grad, self.parameters()))

            class GradualUnfreeze(BaseFinetuning):
                def freeze_before_training(self, pl_module):
                    self.freeze(pl_module.backbone)

                def finetune_function(self, pl_module, epoch, optimizer):
                    if epoch == 1:
                        self.make_trainable(pl_module.backbone)  # expect: FZ303
                    if epoch == 2:
                        BaseFinetuning.make_trainable([pl_module.neck, pl_module.head])  # expect: FZ303
            """,
            instead="""
            import torch
            from lightning.pytorch import LightningModule
            from lightning.pytorch.callbacks import BaseFinetuning

            class Lit(LightningModule):
                def configure_optimizers(self):
                    return torch.optim.AdamW(filter(lambda p: p.requires_grad, self.parameters()))

            class GradualUnfreeze(BaseFinetuning):
                def freeze_before_training(self, pl_module):
                    self.freeze(pl_module.backbone)

                def finetune_function(self, pl_module, epoch, optimizer):
                    if epoch == 1:
                        self.unfreeze_and_add_param_group(pl_module.backbone, optimizer)
                    if epoch == 2:
                        self.unfreeze_and_add_param_group([pl_module.neck, pl_module.head], optimizer)
            """,
        ),
        Example(
            """
            import torch
            import torchvision

            def fit(loader, epochs, evaluate):
                model = torchvision.models.resnet18(weights=None)
                model.requires_grad_(False)
                model.fc.requires_grad_(True)
                opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
                for epoch in range(epochs):
                    if epoch == 5:
                        # the break, inside the with, skips the add_param_group below
                        model.layer4.requires_grad_(True)  # expect: FZ303
                        with torch.no_grad():
                            evaluate(model)
                            break
                    opt.add_param_group({"params": model.layer3.parameters()})
                    for x, y in loader:
                        torch.nn.functional.cross_entropy(model(x), y).backward()
                        opt.step()
                for x, y in loader:
                    torch.nn.functional.cross_entropy(model(x), y).backward()
                    opt.step()
            """
        ),
        Example(
            """
            import torch
            from lightning.pytorch import LightningModule
            from lightning.pytorch.callbacks import BaseFinetuning

            class Lit(LightningModule):
                def configure_optimizers(self):
                    return torch.optim.AdamW(filter(lambda p: p.requires_grad, self.parameters()))

            class BackboneFreeze(BaseFinetuning):
                def freeze_before_training(self, pl_module):
                    self.freeze(pl_module.backbone)

            class LateUnfreeze(BackboneFreeze):  # a BaseFinetuning through BackboneFreeze
                def finetune_function(self, pl_module, epoch, optimizer):
                    if epoch == 5:
                        self.make_trainable(pl_module.backbone)  # expect: FZ303
            """
        ),
        Example(
            """
            from transformers import Trainer, TrainerCallback

            class Thaw(TrainerCallback):  # Trainer.train() built its optimizer before any training event
                def __init__(self, model, step):
                    self.model, self.step = model, step

                def on_step_begin(self, args, state, control, **kwargs):
                    if state.global_step == self.step:
                        self.model.encoder.requires_grad_(True)  # expect: FZ303

            def fit(model, args, data):
                model.encoder.requires_grad_(False)
                Trainer(model=model, args=args, train_dataset=data, callbacks=[Thaw(model, 1000)]).train()
            """,
            instead="""
            from transformers import Trainer, TrainerCallback

            class Thaw(TrainerCallback):
                def __init__(self, model, step):
                    self.model, self.step = model, step

                def on_train_begin(self, args, state, control, **kwargs):
                    # after the optimizer took every parameter: frozen ones have no grad and are skipped
                    self.model.encoder.requires_grad_(False)

                def on_step_begin(self, args, state, control, **kwargs):
                    if state.global_step == self.step:
                        self.model.encoder.requires_grad_(True)

            def fit(model, args, data):
                Trainer(model=model, args=args, train_dataset=data, callbacks=[Thaw(model, 1000)]).train()
            """,
        ),
        Example(
            """
            import bitsandbytes as bnb
            import torch

            def main(args, model, loader):
                model.backbone.requires_grad_(False)
                optimizer_class = bnb.optim.AdamW8bit if args.use_8bit_adam else torch.optim.AdamW
                optimizer = optimizer_class(filter(lambda p: p.requires_grad, model.parameters()), lr=args.lr)
                for epoch in range(args.epochs):
                    if epoch == args.unfreeze_at:
                        model.backbone.requires_grad_(True)  # expect: FZ303
                    train_one_epoch(model, optimizer, loader)
            """,
            instead="""
            import bitsandbytes as bnb
            import torch

            def main(args, model, loader):
                model.backbone.requires_grad_(False)
                optimizer_class = bnb.optim.AdamW8bit if args.use_8bit_adam else torch.optim.AdamW
                optimizer = optimizer_class(filter(lambda p: p.requires_grad, model.parameters()), lr=args.lr)
                for epoch in range(args.epochs):
                    if epoch == args.unfreeze_at:
                        model.backbone.requires_grad_(True)
                        optimizer.add_param_group({"params": model.backbone.parameters()})
                    train_one_epoch(model, optimizer, loader)
            """,
        ),
    ]
    good = [
        """
        import torch

        def unfreeze(optimizer, layer):  # both halves in one helper
            layer.requires_grad_(True)
            optimizer.add_param_group({"params": list(layer.parameters())})

        model.backbone.requires_grad_(False)
        optimizer = torch.optim.Adam(filter(lambda p: p.requires_grad, model.parameters()), lr=1e-3)
        for epoch in range(10):
            if epoch == 5:
                unfreeze(optimizer, model.backbone.layer4)
            train_one_epoch(model, optimizer)
        """,
        """
        import torch

        model.backbone.requires_grad_(False)
        optimizer = torch.optim.Adam(filter(lambda p: p.requires_grad, model.parameters()), lr=1e-3)
        for epoch in range(10):
            if epoch == 5:
                model.backbone.layer4.requires_grad_(True)
                optimizer.add_param_group({"params": model.backbone.layer4.parameters(), "lr": 1e-4})
        """,
        """
        import torch

        # GAN: D frozen for the generator step and unfrozen after; its optimizer holds all of D
        opt_d = torch.optim.Adam(discriminator.parameters())
        for p in discriminator.parameters():
            p.requires_grad = False
        g_loss.backward()
        for p in discriminator.parameters():
            p.requires_grad = True
        d_loss.backward()
        opt_d.step()
        """,
        """
        import torch
        from lightning.pytorch.callbacks import BaseFinetuning

        class GradualUnfreeze(BaseFinetuning):
            def freeze_before_training(self, pl_module):
                self.freeze(pl_module.backbone)

            def finetune_function(self, pl_module, epoch, optimizer):
                if epoch == 5:
                    self.unfreeze_and_add_param_group(pl_module.backbone, optimizer)

        optimizer = torch.optim.Adam(filter(lambda p: p.requires_grad, model.parameters()))
        """,
        """
        import torch
        from lightning.pytorch import LightningModule

        class Lit(LightningModule):
            def configure_optimizers(self):
                return torch.optim.Adam(filter(lambda p: p.requires_grad, self.parameters()))

            def on_train_epoch_start(self):
                if self.current_epoch == 5:
                    self.backbone.requires_grad_(True)
                    self.trainer.optimizers[0].add_param_group({"params": self.backbone.parameters()})
        """,
        """
        import torch
        from lightning.pytorch import Callback, LightningModule

        class Lit(LightningModule):
            def configure_optimizers(self):
                return torch.optim.Adam(self.parameters())  # every parameter: an unfreeze needs nothing more

        class Unfreeze(Callback):
            def on_train_epoch_start(self, trainer, pl_module):
                if trainer.current_epoch == 5:
                    pl_module.backbone.requires_grad_(True)
        """,
        """
        import torch
        from lightning.pytorch import Callback, LightningModule
        from lightning.pytorch.callbacks import BaseFinetuning

        class Lit(LightningModule):
            def configure_optimizers(self):
                return torch.optim.AdamW(filter(lambda p: p.requires_grad, self.parameters()))

        class GradualUnfreeze(BaseFinetuning):
            def freeze_before_training(self, pl_module):
                self.make_trainable(pl_module.head)  # before Lightning builds the optimizer
                self.freeze(pl_module.backbone)

            def finetune_function(self, pl_module, epoch, optimizer):
                if epoch == 1:
                    self.make_trainable(pl_module.backbone)
                    optimizer.add_param_group({"params": pl_module.backbone.parameters()})

        class Thaw(Callback):  # not a BaseFinetuning: its make_trainable is its own, unknown
            def make_trainable(self, module):
                self.thawed = module

            def on_train_epoch_start(self, trainer, pl_module):
                self.make_trainable(pl_module.backbone)
        """,
        """
        from lightning.pytorch.callbacks import BaseFinetuning, Callback

        class Unfreeze(Callback):  # the LightningModule is not visible: whether it filters is unknown
            def on_train_epoch_start(self, trainer, pl_module):
                pl_module.backbone.requires_grad_(True)

        class Gradual(BaseFinetuning):
            def freeze_before_training(self, pl_module):
                self.freeze(pl_module.backbone)

            def finetune_function(self, pl_module, epoch, optimizer):
                if epoch == 5:
                    self.unfreeze_and_add_param_group(pl_module.backbone, optimizer)
        """,
        """
        import torch
        import torchvision

        def build(loader, full=False):
            model = torchvision.models.resnet18(weights=None)
            model.requires_grad_(False)
            model.fc.requires_grad_(True)
            opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad])
            if full:
                model.requires_grad_(True)
                return model  # this path leaves without the optimizer: the caller builds its own
            model.eval()  # a linear probe: the frozen BatchNorm layers keep their statistics (FZ202)
            for x, y in loader:
                torch.nn.functional.cross_entropy(model(x), y).backward()
                opt.step()
            return model
        """,
        """
        import torch
        import torchvision

        model = torchvision.models.resnet18(weights=None)  # nothing is ever frozen
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad])  # keeps every parameter
        for epoch in range(5):
            if epoch == 3:
                model.layer4.requires_grad_(True)  # changes nothing: all of it is in the optimizer
            train_one_epoch(model, opt)
        """,
        """
        import torch
        import torchvision

        def fit(loader, stages):
            model = torchvision.models.resnet18(weights=None)
            model.requires_grad_(False)
            model.fc.requires_grad_(True)
            model.eval()  # the frozen BatchNorm statistics stay put (FZ202's otherwise)
            for stage in stages:
                if stage.last:
                    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
                    break
                # the optimizer is built only when leaving the loop
                model.layer4.requires_grad_(True)
            for x, y in loader:
                torch.nn.functional.cross_entropy(model(x), y).backward()
                opt.step()
        """,
        """
        import torch
        import torchvision

        def fit(loader, epochs, evaluate):
            model = torchvision.models.resnet18(weights=None)
            model.requires_grad_(False)
            model.fc.requires_grad_(True)
            opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
            for epoch in range(epochs):
                if epoch == 5:
                    model.layer4.requires_grad_(True)
                    try:
                        evaluate(model)
                        break
                    except RuntimeError:
                        pass  # training goes on: the add_param_group below takes layer4
                opt.add_param_group({"params": model.layer4.parameters()})
                for x, y in loader:
                    torch.nn.functional.cross_entropy(model(x), y).backward()
                    opt.step()
        """,
        """
        import torch
        from lightning.pytorch import LightningModule
        from lightning.pytorch.callbacks import BaseFinetuning

        class Lit(LightningModule):
            def configure_optimizers(self):
                return torch.optim.AdamW(filter(lambda p: p.requires_grad, self.parameters()))

        class GroupThaw(BaseFinetuning):
            def freeze_before_training(self, pl_module):
                self.freeze(pl_module.backbone)

            def make_trainable(self, modules, optimizer=None):  # its own: adds the param group too
                self.unfreeze_and_add_param_group(modules, optimizer)

        class LateUnfreeze(GroupThaw):
            def finetune_function(self, pl_module, epoch, optimizer):
                if epoch == 5:
                    self.make_trainable(pl_module.backbone, optimizer)  # GroupThaw's make_trainable
        """,
        """
        from transformers import TrainerCallback

        class Thaw(TrainerCallback):
            def on_init_end(self, args, state, control, model=None, **kwargs):
                model.head.requires_grad_(True)  # in Trainer.__init__: before train() builds the optimizer

        class Staged(TrainerCallback):  # frozen only after the optimizer took every parameter
            def on_epoch_begin(self, args, state, control, model=None, **kwargs):
                if state.epoch < 2:
                    model.encoder.requires_grad_(False)
                else:
                    model.encoder.requires_grad_(True)

        def fit(model):
            model.encoder.requires_grad_(False)
        """,
        """
        import bitsandbytes as bnb
        import torch

        def main(args, model, loader):
            model.backbone.requires_grad_(False)
            optimizer_class = bnb.optim.AdamW8bit if args.use_8bit_adam else torch.optim.AdamW
            # every parameter, the frozen ones too: unfreezing later needs no new param group
            optimizer = optimizer_class(model.parameters(), lr=args.lr)
            for epoch in range(args.epochs):
                if epoch == args.unfreeze_at:
                    model.backbone.requires_grad_(True)
                train_one_epoch(model, optimizer, loader)
        """,
    ]

    def check(self, facts: Facts, module) -> Iterable[Finding]:
        freezes: bool | None = None  # whether anything is seen frozen: decided at the first candidate
        flows = flows_of(facts)
        for flow in [*flows.bodies, *flows.instances]:
            evs = flow.events
            for u in (e for e in evs if e.kind == UNFREEZE):
                builds = [o for o in evs if o.kind == OPT_BUILD and o.detail.get("filtered") and o.target == u.target
                          and o.index < u.index and after(o, u)
                          and not rebound(flow, o, u)]  # a new model unfrozen: not the optimizer's
                builds = [o for o in builds if not dropped_on_return(flow, u, o)]  # a path that returns first
                if flow.instance:  # a trainer's own optimizer: built in `__init__` (before any method runs) after
                    # a freeze there; one a method builds may come after the unfreeze
                    builds = [o for o in builds if not o.detail.get("hook") and any(
                        f.kind == FREEZE and f.target == o.target and f.index < o.index and not f.detail.get("hook")
                        for f in evs)] if not u.detail.get("built_in") else []  # a base's of another file: judged there
                if not builds:
                    continue
                if freezes is None:
                    freezes = _freezes_seen(facts, module)
                if not freezes and _fresh(facts, flow, u) \
                        and not any(o.detail.get("edges") or o.detail.get("via") for o in builds):
                    continue  # nothing frozen: the filter kept every parameter, the unfreeze changes nothing
                if any(e.kind in (ADD_GROUP, OPT_BUILD) and (after(u, e)) and e is not u for e in evs
                       if e.index > u.index or set(e.loops) & set(u.loops)):
                    continue
                where = builds[-1].detail.get("lightning")
                when = (f"in `{u.detail.get('hook')}`, after Lightning built the optimizer from a requires_grad "
                        f"filter ({where} runs before every training hook)" if where else
                        f"in `{u.detail['hook']}`, after "
                        f"{builds[-1].detail.get('built_in') or f'`{flow.instance}.__init__`'} built the optimizer from a "
                        f"requires_grad filter" if flow.instance and u.detail.get("hook") else
                        "after the optimizer was built from a requires_grad filter")
                if u.detail.get("finetuning") or u.detail.get("hook") == "finetune_function":
                    # a BaseFinetuning: its own unfreeze adds the param group too
                    fix = f"use `self.unfreeze_and_add_param_group({u.detail.get('sub') or u.target}, optimizer)`, " \
                          f"which also adds them to the optimizer"
                else:
                    fix = "`optimizer.add_param_group(...)` them"
                unsure = u.detail.get("unsure")  # `x.part.requires_grad = True` on an object of unknown kind
                if unsure:
                    fix += (f"; if `{unsure}` is an nn.Module, this line unfreezes nothing (a plain attribute): call "
                            f"`{unsure}.requires_grad_(True)`, then add the param group")
                yield self.finding(
                    u.node,
                    f"`{src(u.node) if len(src(u.node)) < 60 else u.detail.get('sub') or u.target}` unfreezes "
                    f"parameters {when}: they get grads but are never updated; {fix}",
                    stmt=u.stmt, facts=facts, used=[u, *builds],
                )
        yield from self._hf_callbacks(facts, module)

    def _hf_callbacks(self, facts: Facts, module) -> Iterable[Finding]:
        """Unfreezes in a transformers TrainerCallback's training events: the Trainer's optimizer,
        built at the start of train() from the parameters that required grad then, never gets them."""
        unfreezes = list(_hf_unfreezes(facts))
        if not unfreezes or not _hf_freezes_seen(facts, module):
            return
        own: dict[str, bool] = {}
        for u, hook, edges, callback in unfreezes:
            if callback not in own:
                own[callback] = _own_optimizer(facts, module, callback)
            if own[callback]:
                continue
            yield self.finding(
                u.node,
                f"`{src(u.node) if len(src(u.node)) < 60 else u.detail.get('sub') or u.target}` unfreezes "
                f"parameters in `{hook}`, after the transformers Trainer built its optimizer from the parameters "
                f"that required grad (at the start of `train()`, before any training event): they get grads "
                f"but are never updated; freeze them in the callback's `on_train_begin` instead (the optimizer "
                f"then holds every parameter and skips the frozen ones, which have no grad), or pass the Trainer "
                f"`optimizers=` built over every parameter",
                stmt=u.stmt, facts=facts, used=[u], edges=edges,
            )


def _hf_unfreezes(facts: Facts) -> Iterable[tuple]:
    """(unfreeze event, event name, the edges to project base classes, the class's name) in the training events of the file's TrainerCallbacks that
    leave the optimizer alone and freeze nothing after it was built (a callback that freezes in its
    events too may have left every parameter trainable for the optimizer: a frozen one's grad is
    None, so the optimizer skips it until it is unfrozen)."""
    flows = {id(f.scope.node): f for f in flows_of(facts).bodies if f.scope.kind == "function"}
    for info in facts.classes.values():
        if not library_bases(facts, info.node)[0] & HF_CALLBACKS or _names_optimizer(info.node):
            continue
        events = {m.name.value: flows[id(m)].events for m in info.node.body.body
                  if isinstance(m, cst.FunctionDef) and id(m) in flows}
        if any(e.kind in (FREEZE, FREEZE_BY_DEFAULT) for name, evs in events.items()
               if name not in _HF_BEFORE_OPTIMIZER for e in evs):
            continue
        edges = _base_edges(facts, info.node)
        for hook in HF_TRAINING_EVENTS:
            yield from ((u, hook, edges, info.node.name.value) for u in events.get(hook, ()) if u.kind == UNFREEZE)


def _base_edges(facts: Facts, node: cst.ClassDef) -> list[Edge]:
    """The edges to the project classes of other files the class derives from (a TrainerCallback
    through them), for --show-project."""
    if facts.project is None or not facts.path:
        return []
    out = []
    for b in (b.value for b in node.bases if b.keyword is None):
        q = facts.qualname(b, facts.module_scope)
        hit = facts.project.resolve(facts.path, q) if q and not is_library(q) else None
        if hit is not None:
            out.append(Edge(shown_path(facts.path), shown_path(str(hit[0])), hit[1]))
    return out


def _names_optimizer(node: cst.ClassDef) -> bool:
    """The class names an optimizer anywhere (`kwargs["optimizer"]`, `trainer.create_optimizer()`,
    `add_param_group`, `torch.optim`): it may extend or rebuild the Trainer's. Event names
    (`on_pre_optimizer_step`) and docstrings do not count."""
    nodes = list(walk(node))
    skip = {id(m.name) for m in nodes if isinstance(m, cst.FunctionDef)} | {
        id(m.value) for m in nodes if isinstance(m, cst.Expr)}
    return any(id(n) not in skip and (
        isinstance(n, cst.Name) and ("optim" in n.value or n.value == "add_param_group")
        or isinstance(n, cst.SimpleString) and "optim" in n.value) for n in nodes)


def _own_optimizer(facts: Facts, module, callback: str) -> bool:
    """The Trainer the callback class `callback` is handed to may have an optimizer of its own: a
    `create_optimizer` override (which may keep every parameter) or `optimizers=(...)`, in the file
    or in a project file tied to it by imports (one imports the other, or a file imports both: the
    script that hands the callback to a Trainer subclass of another file). A file that is not tied
    counts only when no tied file makes the callback (`Thaw(...)`): its Trainer is then not seen (a
    registry or a config builds it) and may be any of the project's."""
    if re.search(_OWN_OPTIMIZER, code_of(module)):
        return True
    project = facts.project
    if project is None or not facts.path:
        return False
    if project.mentions_near(_OWN_OPTIMIZER, facts.path):
        return True
    if not project.mentions(_OWN_OPTIMIZER, facts.path):
        return False
    made = rf"(?m)^(?!\s*class\s)[^#\n]*\b{re.escape(callback)}\s*\("
    return not re.search(made, code_of(module)) and not project.mentions_near(made, facts.path)


def _hf_freezes_seen(facts: Facts, module) -> bool:
    """Something is frozen before training: in the file (or by a project function it calls), or
    in another file of the project (the script that builds the model and the Trainer). Without
    it the optimizer took every parameter and an unfreeze changes nothing."""
    return _freezes_seen(facts, module) or facts.project is not None and bool(facts.path) \
        and bool(facts.project.mentions(FREEZES, facts.path))


def _freezes_seen(facts: Facts, module) -> bool:
    """Anything frozen in the file: a freeze written in it, or one a helper or builder of another
    file does to a model of it. Without one the requires_grad filter kept every parameter."""
    return bool(re.search(FREEZES_MEANT, code_of(module))) or any(
        e.kind in (FREEZE, FREEZE_BY_DEFAULT) for f in flows_of(facts).bodies for e in f.events) \
        or _project_freezes(facts, module)


def _project_freezes(facts: Facts, module) -> bool:
    """A call of the file to a function of another project file that freezes an argument or the
    model it returns, however the call names it (`freeze.freeze_backbone(model)` too, which the
    flow events, following plain names, do not see)."""
    project = facts.project
    if project is None or not facts.path:
        return False
    for node in walk(module):
        if not isinstance(node, cst.Call) or not isinstance(node.func, (cst.Name, cst.Attribute)):
            continue
        q = facts.qualname(node.func, facts.module_scope)
        if not q or is_library(q) or "." not in q and facts.module_scope.lookup(q) is None:
            continue
        for pos in (*range(len(node.args)), RET):
            if any(e.kind == FREEZE for e in project.effects(facts.path, q, pos)):
                return True
    return False


def _fresh(facts: Facts, flow, u) -> bool:
    """The unfrozen model is built here from a library (`model = torchvision.models.resnet18(...)`
    in the function, `self.backbone = ...` in the class's own methods, the class a direct
    torch/Lightning subclass): it starts with every parameter trainable, so only a freeze written
    in this file could have left one out of the optimizer. A parameter, a global or a project
    class may arrive frozen."""
    target, sub = u.target, u.detail.get("sub") or u.target
    if target == "self":
        info = flow.scope.cls
        attr = sub.split(".")[1] if sub.startswith("self.") else None
        if info is None or attr is None or not all(
                is_library(facts.qualname(b.value, facts.module_scope) or "") for b in info.node.bases):
            return False
        values = [v for v, _ in info.attrs.get(attr, [])]
        scopes = [sc for _, sc in info.attrs.get(attr, [])]
        return bool(values) and all(_library_call(facts, v, sc) for v, sc in zip(values, scopes))
    owner = flow.scope.lookup(target) if "." not in target else None
    if owner is not flow.scope or flow.scope.kind not in ("function", "module"):
        return False
    bindings = owner.bindings.get(target, [])
    return bool(bindings) and all(b.how == "expr" and (_library_call(facts, b.node, b.scope or owner)
                                                       or _fresh_from_project(facts, b.node, b.scope or owner))
                                  for b in bindings)


def _fresh_from_project(facts: Facts, value, scope) -> bool:
    """`model = build_model(cfg)`, a builder of another project file whose summary says the model
    it returns comes from a library call it neither freezes nor hands on."""
    value = unwrap_self_returning(value)
    if facts.project is None or not facts.path or not isinstance(value, cst.Call):
        return False
    q = facts.qualname(value.func, scope)
    return bool(q) and not is_library(q) and facts.project.returns_fresh(facts.path, q)


def _library_call(facts: Facts, value, scope) -> bool:
    while isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value in SELF_RETURNING:
        value = value.func.value
    return isinstance(value, cst.Call) and is_library(facts.qualname(value.func, scope) or "")
