"""FZ303 unfrozen-after-optimizer: params unfrozen after a filtered optimizer was built."""

from __future__ import annotations

from typing import Iterable

from freezelint.check.facts import Facts
from freezelint.check.flow import ADD_GROUP, OPT_BUILD, UNFREEZE, after, flows_of
from freezelint.check.rules.base import OPTIMIZER_CALL, UNFREEZES, Example, Finding, Rule, src


class UnfrozenAfterOptimizer(Rule):
    code = "FZ303"
    words = ("requires_grad",)
    triggers = (OPTIMIZER_CALL,)
    requires = (UNFREEZES, r"requires_grad")
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
        "Follows helpers of the project's other files and Lightning's order: `configure_optimizers` "
        "runs before every training hook (`on_train_epoch_start`, `training_step`, ...), so an "
        "unfreeze there comes after the optimizer unless the hook adds a param group; "
        "`BaseFinetuning.unfreeze_and_add_param_group` does both."
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
    ]
    good = [
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
    ]

    def check(self, facts: Facts, module) -> Iterable[Finding]:
        for flow in flows_of(facts).bodies:
            evs = flow.events
            for u in (e for e in evs if e.kind == UNFREEZE):
                builds = [o for o in evs if o.kind == OPT_BUILD and o.detail.get("filtered") and o.target == u.target
                          and o.index < u.index and not o.exclusive_with(u)]
                if not builds:
                    continue
                if any(e.kind in (ADD_GROUP, OPT_BUILD) and (after(u, e)) and e is not u for e in evs
                       if e.index > u.index or set(e.loops) & set(u.loops)):
                    continue
                yield self.finding(
                    u.node,
                    f"`{src(u.node) if len(src(u.node)) < 60 else u.detail.get('sub') or u.target}` unfreezes "
                    f"parameters after the optimizer was built from a requires_grad filter: they get grads but are "
                    f"never updated; `optimizer.add_param_group(...)` them",
                    stmt=u.stmt,
                )
