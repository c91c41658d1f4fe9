"""FZ301 optimizer-over-frozen-params: a stateful optimizer over unfiltered parameters of a model
that this file freezes in part."""

from __future__ import annotations

import re
from typing import Iterable

import libcst as cst

from freezelint.check.events import optimizer_shown, sets_back
from freezelint.check.facts import Facts
from freezelint.check.flow import (ACTIVITY, FREEZE, OPAQUE, OPT_BUILD, REPLACE, UNFREEZE, after, apart, flows_of,
                                   rebound)
from freezelint.check.noqa import parse_directive
from freezelint.check.param_sources import with_requires_grad_filter
from freezelint.check.syntax import dotted, walk
from freezelint.check.rules.base import (FREEZES_MEANT, LIGHTNING_CALLBACK, OPTIMIZER_CALL, OPTIMIZER_CLASS, Example, Finding,
                                         Fix, Rule, src)


def _covers(opt_path: str, whole: bool, frozen: str | None) -> bool:
    """Do the optimizer's parameters (`opt_path`) include the frozen part (`model.encoder.layer[i]`)?"""
    if not frozen:
        return False
    return frozen == opt_path or frozen.startswith((opt_path + ".", opt_path + "[")) \
        or (whole and frozen.split(".")[0].split("[")[0] == opt_path)


class OptimizerOverFrozenParams(Rule):
    code = "FZ301"
    words = ("requires_grad", "require_grad", "requiresGrad", "freeze_feature_e", "freeze_base_model")
    triggers = (OPTIMIZER_CALL, *OPTIMIZER_CLASS, LIGHTNING_CALLBACK)
    # also `p.requires_grad = "adapter" in name`: a flag by name test, False for the rest
    requires = (FREEZES_MEANT + r"|requires_grad\s*=[^=\n][^\n]*\b(?:in|startswith|endswith)\b",
                r"\.(?:named_)?parameters\(\)|" + LIGHTNING_CALLBACK)
    what = (
        "Finds an optimizer with momentum, moving averages or weight decay built over all of a "
        "model's `.parameters()` while the same file freezes some of them."
    )
    why = (
        "Frozen parameters whose `.grad` stays None are skipped by every optimizer: then the harm is "
        "waste, a place in every param group (torch's SGD, Adam and AdamW keep no state for them and do "
        "not decay them). But a frozen parameter left with a grad tensor moves: a "
        "grad from before it was frozen (a backward before the freeze, freezing in the middle of gradient "
        "accumulation), kept, or zeroed in place by `zero_grad(set_to_none=False)`, is applied through "
        "momentum, Adam's moving averages or weight decay (AdamW decays by 0.01 by default, even on zero "
        "grads). Filtering on requires_grad rules all of that out."
    )
    fix_title = "Pass only trainable parameters: `[p for p in model.parameters() if p.requires_grad]`"
    notes = (
        "A freeze run through `model.backbone.apply(fn)` counts where `fn` is a function of the file that "
        "freezes every parameter of the module it is given and does nothing else (`m.requires_grad_(False)`, "
        "or a loop over `m.parameters()` setting each `requires_grad = False`): all of `model.backbone` is "
        "frozen, as a loop over `model.backbone.parameters()` would freeze it; so does `lambda m: "
        "m.requires_grad_(False)`. One that picks modules (an `isinstance` or class-name test, EfficientDet's "
        "`for ntl in ['EfficientNet', 'BiFPN']: if ntl in classname:`), a lambda that does, or a function "
        "imported from another project file, freezes what a direct call `fn(model)` is taken to freeze, in "
        "the modules it picks: part of the model, which part not known, so an optimizer over all of the model "
        "is reported and one over a named part (`model.fc.parameters()`) is not. The same freeze written as a "
        "loop counts the same: `for m in model.modules():` (`named_modules()`, or the children none slices) "
        "changing `m` under a test on the loop's names (`if isinstance(m, nn.BatchNorm2d):`, `if "
        "name.startswith(\"backbone\"):`) freezes part of the model, and where it unfreezes, the same loop "
        "with the same test undoes that freeze (a helper's such unfreeze, of this file or another, may set "
        "back every parameter: which modules it picks is not carried to its call). A store that freezes "
        "nothing as written (`m.requires_grad = False` on the module), and a later unfreeze through `apply` "
        "of another file's function (it may set back every parameter), keep it silent. "
        "Silent for freezes that the same scope undoes later (a GAN's discriminator frozen for the "
        "generator step), when the parameters are filtered on requires_grad, when the optimizer gets a named "
        "subset (`model.fc.parameters()`) or param groups that leave the frozen part out, when the part "
        "reaches the optimizer through one arm of `A if cond else B` and the freeze sits under an `if` of "
        "its own (the conditions may exclude each other: diffusers' DreamBooth; also where a `self.` helper of "
        "the class, such as one a LightningModule's `__init__` calls, freezes the part only under an `if` of "
        "its own: sync-dreamer's `if not self.finetune_projection`, with the group added under `if "
        "self.finetune_projection`), and for "
        "plain SGD without momentum or weight decay. A param group over a part of a model frozen whole "
        "(`model.backbone.parameters()` after every parameter of `model` was frozen) is reported only where "
        "every statement in between that names the model, or a name bound from it, is one whose effect is read "
        "and leaves that part frozen (a freeze, an unfreeze or replacement of another part such as "
        "`model.classifier[4] = nn.Conv2d(...)`, a move to a device, `model.eval()`, `load_state_dict` (torch "
        "keeps the module's requires_grad), `model = torch.compile(model)`, a read: `print(model)`, a "
        "logger's `logger.info(model)`, torchinfo's or torchsummary's `summary(model, ...)`, an f-string of it, a "
        "count such as `sum(p.numel() for p in model.parameters() if p.requires_grad)`), and no layer is put into it "
        "(`model.backbone.features.insert(0, layer)`); `setattr(model, ...)`, `model.apply(fn)`, an alias, a loop "
        "over `model.modules()`, a helper given the model (or a function of the project named `summary`), a call "
        "not known, and the like may unfreeze part of it, and keep it silent. An optimizer built through a name that holds an optimizer "
        "class counts (diffusers' `optimizer_class = bnb.optim.AdamW8bit` in one arm of an `if` and "
        "`torch.optim.AdamW` in the other, `A if cond else B`, `getattr(torch.optim, cfg.name)`), and so do "
        "bitsandbytes' classes, transformers' AdamW and Adafactor and Prodigy; where the name may hold several, "
        "it is stateful only where each is with the arguments given (a choice with plain SGD in it is silent, "
        "as is a class picked by name without momentum or weight decay). Param groups built from `named_parameters()` "
        "count as every parameter where their conditions are each other's complement (the weight-decay "
        "split by `p.ndim > 1` / `p.ndim <= 1`, `X` / `not X`, through names and nanoGPT's `param_dict`); "
        "a comprehension with any other condition holds a subset the checker cannot name and says "
        "nothing. The reason named is the param group's own `weight_decay`/`momentum` where it sets one. "
        "The message names what is frozen as it stands at the optimizer: \"part of `model`\" with the "
        "parts unfrozen again or replaced since, and where `model` was wrapped again since "
        "(`model = DataParallel(model)`), the path the freeze named with its line (one `.module` longer now, "
        "for torch's wrappers); a freeze or replacement under an `if` the optimizer is not under is said to "
        "happen there only (\"when `args.freeze` is true\", or \"on some paths only\", as are freezes under "
        "different conditions; the same part frozen in both arms of an `if` is frozen on every path). "
        "A helper of this file that sets `p.requires_grad = requires_grad` from a flag parameter that "
        "defaults to False freezes where a call passes False or leaves the default "
        "(`set_trainable(model.encoder, requires_grad=False)`) and unfreezes where it passes True. "
        "A freeze done by a helper (`freeze_encoder(model)`, "
        "of this file or another) counts as the part of the model the helper freezes (all of what it is "
        "given, for a helper of another file); so does one of this file that freezes a module-level model it "
        "reads without binding it (`def freeze_model(): for p in model.layer1.parameters(): ...`), called "
        "where `model` is that same module-level name (at module level, or in a function with no `model` of "
        "its own); a helper that freezes and builds the optimizer itself is "
        "reported inside it, not at each call. The fix is offered when the freeze comes before "
        "the optimizer, where a filter can see it; it is unsafe because it changes the param groups. Where every "
        "freeze comes after the optimizer was built, a filter there would keep every parameter: the message says "
        "to build the optimizer after the freeze instead. "
        "Optimizers built by helpers of the project's other files (`build_optimizer(model)`) count, "
        "and a freeze FZ101/FZ102/FZ103/FZ104 report as broken still counts as the freeze meant. What "
        "the `__init__` of a Module class of the project (of this file or another) leaves frozen counts "
        "where an instance is built (`net = Net()`), and in a LightningModule before its "
        "`configure_optimizers`: its freezes of self, and of the constructor arguments it holds as they "
        "are (`self.text_model = text_model`), but not where the call sets off the flag the freeze sits "
        "under (`FusionModel(a, b, freeze_weights=False)`), nor where `__init__` sets them back or puts "
        "a new layer in their place. `p.requires_grad = \"adapter\" in name` in a `named_parameters()` "
        "loop freezes every parameter whose name fails the test; a loop over a slice of the parameter list "
        "(`list(model.parameters())[:-2]`, or each child of `list(model.children())[:-1]`), or over `enumerate` "
        "of them under a test of the position (`if i < 6:`), freezes part of the model. A method of a plain trainer class that holds the model it was given (`self.model = model`) "
        "acts on that model where it is called (`trainer = Trainer(model)`, then `trainer.freeze_backbone()`), "
        "as the constructor's optimizer is built at `Trainer(model)`; a subclass's inherited constructor and "
        "methods (`class FineTuner(BaseTrainer)`, the base in this file or another) act as the base's, and a "
        "method given the model (`trainer.freeze(model)`, `trainer.setup_optimizer(model)`) acts on it there, "
        "as a helper does. A freeze in a function after the optimizer was built and after the last run of "
        "the model (its forward, a backward or a step; `trainer.fit()` of a trainer method that runs one "
        "counts) is silent: nothing steps over it. An unfreeze of a subset picked by a "
        "name test of its own (`if \"bias\" in n`, loralib's `mark_only_lora_as_trainable` with "
        "`bias=\"all\"`) before the optimizer leaves the rest frozen; after it, any unfreeze is gradual "
        "unfreezing, which needs every parameter in the optimizer: so is an unfreeze after the optimizer "
        "of a part of what was frozen (one layer per pass of a loop, inline or by a method or function the "
        "checker can read), which is silent, as is a freeze after the optimizer by a method of the class "
        "that first puts new layers in place (those the optimizer was given are not what it freezes). "
        "The fix is not offered where every parameter the optimizer "
        "gets is frozen when it is built: the filtered list would be empty, and the optimizer raises; nor "
        "where the freeze is `x.requires_grad = False` on an `x` the checker can tell neither a Parameter nor "
        "an nn.Module (`model.encoder` of `model = torch.load(...)`): on a Module that sets a plain attribute, "
        "the filter keeps `x` training and hides the finding, so the message says to make sure of the freeze "
        "first (where `x` is used as a Module, FZ102 reports the store). A freeze "
        "of `pl_module` in a Callback's training hook is reported there when the LightningModule's "
        "`configure_optimizers` is visible (as for FZ303) and builds such an optimizer over it; "
        "BaseFinetuning's `freeze` stays silent. "
        "A plain class (no Module; any base a plain class of the project) that builds the model it trains "
        "itself (`self.model = build_model(cfg)` in `__init__`, assigned in no other method, and no `setattr` on "
        "self) is read as a whole: `__init__` runs before any method, and its methods run after it in any order, "
        "any number of times; a subclass in another file than the base whose constructor it runs is reported "
        "at its method's change, naming that constructor. Its `__init__`'s optimizer over that model meets the freezes of every "
        "method, silent where some method undoes them (gradual unfreezing)."
    )
    bad = [
        Example(
            """
            import torch
            import torchvision

            model = torchvision.models.resnet50(weights=None)
            for p in model.parameters():
                p.requires_grad = False
            model.fc = torch.nn.Linear(2048, 10)
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)  # expect: FZ301
            """,
            fixed="""
            import torch
            import torchvision

            model = torchvision.models.resnet50(weights=None)
            for p in model.parameters():
                p.requires_grad = False
            model.fc = torch.nn.Linear(2048, 10)
            optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)  # expect: FZ301
            """,
        ),
        Example(
            """
            import torch
            from transformers import Wav2Vec2ForCTC

            model = Wav2Vec2ForCTC.from_pretrained(checkpoint)
            model.freeze_feature_encoder()  # transformers sets requires_grad False on the encoder
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)  # expect: FZ301
            """,
            fixed="""
            import torch
            from transformers import Wav2Vec2ForCTC

            model = Wav2Vec2ForCTC.from_pretrained(checkpoint)
            model.freeze_feature_encoder()  # transformers sets requires_grad False on the encoder
            optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)  # expect: FZ301
            """,
        ),
        Example(
            """
            import pytorch_lightning as pl
            import torch
            import torch.nn as nn

            class Model(pl.LightningModule):
                def __init__(self, finetune_projection=True):
                    super().__init__()
                    self.finetune_projection = finetune_projection
                    self.body = nn.Linear(4, 4)
                    self._init_projection()

                def _init_projection(self):
                    self.proj = nn.Linear(4, 4)
                    self.proj.requires_grad_(False)  # on every run, whatever the flag

                def configure_optimizers(self):
                    groups = [{"params": self.body.parameters()}]
                    if self.finetune_projection:
                        groups.append({"params": self.proj.parameters()})
                    return torch.optim.AdamW(groups, lr=1e-4)  # expect: FZ301
            """,
            instead="""
            import pytorch_lightning as pl
            import torch
            import torch.nn as nn

            class Model(pl.LightningModule):
                def __init__(self, finetune_projection=True):
                    super().__init__()
                    self.finetune_projection = finetune_projection
                    self.body = nn.Linear(4, 4)
                    self._init_projection()

                def _init_projection(self):
                    self.proj = nn.Linear(4, 4)
                    if not self.finetune_projection:  # frozen only on the runs that leave it out
                        self.proj.requires_grad_(False)

                def configure_optimizers(self):
                    groups = [{"params": self.body.parameters()}]
                    if self.finetune_projection:
                        groups.append({"params": self.proj.parameters()})
                    return torch.optim.AdamW(groups, lr=1e-4)
            """,
        ),
        Example(
            """
            import torch
            import torchvision

            model = torchvision.models.resnet18(weights=None)
            model.requires_grad = False  # expect: FZ102
            model.fc.requires_grad_(True)
            optimizer = torch.optim.Adam(model.parameters())  # expect: FZ301
            """
        ),
        Example(
            """
            import torch
            import torchvision

            model = torchvision.models.resnet50(weights=None)
            for p in model.layer1.parameters():
                p.requires_grad_ = False  # expect: FZ101
            optimizer = torch.optim.AdamW(model.parameters())  # expect: FZ301
            """,
        ),
        Example(
            """
            import torch
            import torchvision

            model = torchvision.models.resnet50(weights=None)
            for name, p in model.named_parameters():
                if not name.startswith("fc."):
                    p.requires_grad_(False)
            optimizer = torch.optim.AdamW(model.parameters())  # expect: FZ301
            """,
        ),
        Example(
            """
            import torch
            import torchvision

            model = torchvision.models.resnet50(weights=None)
            [setattr(p, "requires_grad", False) for p in model.layer1.parameters()]
            optimizer = torch.optim.Adam(model.parameters())  # expect: FZ301
            """,
        ),
        Example(
            """
            import torch

            def freeze_encoder(model, layers=6):
                for i in range(layers):
                    for p in model.encoder.layer[i].parameters():
                        p.requires_grad = False

            def train(model, loader):
                freeze_encoder(model)
                optimizer = torch.optim.SGD(model.parameters(), lr=0.01, weight_decay=5e-5)  # expect: FZ301
            """,
        ),
        Example(
            """
            import torch
            from lightning.pytorch import Callback, LightningModule

            class Lit(LightningModule):
                def configure_optimizers(self):
                    return torch.optim.AdamW(self.parameters())

            class FreezeBackbone(Callback):  # Lightning built Lit's optimizer before this hook
                def on_train_epoch_start(self, trainer, pl_module):
                    if trainer.current_epoch == 2:
                        pl_module.backbone.requires_grad_(False)  # expect: FZ301
            """,
            fixed="""
            import torch
            from lightning.pytorch import Callback, LightningModule

            class Lit(LightningModule):
                def configure_optimizers(self):
                    return torch.optim.AdamW([p for p in self.parameters() if p.requires_grad])

            class FreezeBackbone(Callback):  # Lightning built Lit's optimizer before this hook
                def on_train_epoch_start(self, trainer, pl_module):
                    if trainer.current_epoch == 2:
                        pl_module.backbone.requires_grad_(False)  # expect: FZ301
            """,
        ),
        Example(
            """
            import lightning as L
            import torch
            import torch.nn as nn
            import torchvision

            class LitProbe(L.LightningModule):
                def __init__(self):
                    super().__init__()
                    self.backbone = torchvision.models.resnet18(weights=None)
                    self.backbone.requires_grad_(False)
                    self.head = nn.Linear(1000, 10)

                def configure_optimizers(self):
                    return torch.optim.Adam(self.parameters(), lr=1e-3)  # expect: FZ301

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.backbone = torchvision.models.resnet18(weights=None)
                    for p in self.backbone.parameters():
                        p.requires_grad = False
                    self.head = nn.Linear(1000, 10)

            net = Net()
            opt = torch.optim.AdamW(net.parameters(), lr=1e-3)  # expect: FZ301
            """
        ),
        Example(
            """
            import torch
            import torchvision

            model = torchvision.models.resnet50(weights=None)
            model.layer1.requires_grad_(False)
            # weight-decay groups split by ndim: together they hold every parameter, frozen ones too
            decay = [p for n, p in model.named_parameters() if p.ndim > 1]
            no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
            opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},  # expect: FZ301
                                     {"params": no_decay, "weight_decay": 0.0}], lr=1e-3)

            # nanoGPT's configure_optimizers
            param_dict = {pn: p for pn, p in model.named_parameters()}
            decay_params = [p for n, p in param_dict.items() if p.dim() >= 2]
            nodecay_params = [p for n, p in param_dict.items() if p.dim() < 2]
            optim_groups = [{"params": decay_params, "weight_decay": 0.1},
                            {"params": nodecay_params, "weight_decay": 0.0}]
            opt2 = torch.optim.AdamW(optim_groups, lr=1e-3)  # expect: FZ301

            # the Hugging Face split by name
            no_decay_names = ["bias", "LayerNorm.weight"]
            opt3 = torch.optim.AdamW([  # expect: FZ301
                {"params": [p for n, p in model.named_parameters() if not any(nd in n for nd in no_decay_names)]},
                {"params": [p for n, p in model.named_parameters() if any(nd in n for nd in no_decay_names)],
                 "weight_decay": 0.0},
            ])
            """,
            fixed="""
            import torch
            import torchvision

            model = torchvision.models.resnet50(weights=None)
            model.layer1.requires_grad_(False)
            # weight-decay groups split by ndim: together they hold every parameter, frozen ones too
            decay = [p for n, p in model.named_parameters() if p.requires_grad and p.ndim > 1]
            no_decay = [p for n, p in model.named_parameters() if p.requires_grad and p.ndim <= 1]
            opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},  # expect: FZ301
                                     {"params": no_decay, "weight_decay": 0.0}], lr=1e-3)

            # nanoGPT's configure_optimizers
            param_dict = {pn: p for pn, p in model.named_parameters()}
            decay_params = [p for n, p in param_dict.items() if p.requires_grad and p.dim() >= 2]
            nodecay_params = [p for n, p in param_dict.items() if p.requires_grad and p.dim() < 2]
            optim_groups = [{"params": decay_params, "weight_decay": 0.1},
                            {"params": nodecay_params, "weight_decay": 0.0}]
            opt2 = torch.optim.AdamW(optim_groups, lr=1e-3)  # expect: FZ301

            # the Hugging Face split by name
            no_decay_names = ["bias", "LayerNorm.weight"]
            opt3 = torch.optim.AdamW([  # expect: FZ301
                {"params": [p for n, p in model.named_parameters() if p.requires_grad and not any(nd in n for nd in no_decay_names)]},
                {"params": [p for n, p in model.named_parameters() if p.requires_grad and any(nd in n for nd in no_decay_names)],
                 "weight_decay": 0.0},
            ])
            """,
        ),
        Example(
            """
            import torch
            import torch.nn as nn

            class FusionModel(nn.Module):
                def __init__(self, text_model, audio_model, freeze_weights=True):
                    super().__init__()
                    if freeze_weights:  # the sub-models it is given, frozen, then held
                        for p in text_model.parameters():
                            p.requires_grad = False
                    self.text_model = text_model
                    self.audio_model = audio_model

            model = FusionModel(nn.Linear(8, 8), nn.Linear(8, 8))
            opt = torch.optim.AdamW(model.parameters(), lr=1e-5)  # expect: FZ301
            """
        ),
        Example(
            """
            import torch

            def mark_only_lora_as_trainable(model, bias="none"):  # loralib
                for n, p in model.named_parameters():
                    if "lora_" not in n:
                        p.requires_grad = False
                if bias == "none":
                    return
                for n, p in model.named_parameters():
                    if "bias" in n:  # only the biases come back: the rest stays frozen
                        p.requires_grad = True

            def mark_only_adapter_as_trainable(model):  # lit-llama: False for every other name
                for name, p in model.named_parameters():
                    p.requires_grad = "adapter_wte" in name or "gating_factor" in name

            mark_only_lora_as_trainable(model)
            opt = torch.optim.AdamW(model.parameters(), lr=3e-4)  # expect: FZ301
            mark_only_adapter_as_trainable(adapted)
            opt2 = torch.optim.AdamW(adapted.parameters(), lr=9e-3)  # expect: FZ301
            """
        ),
        Example(
            """
            import bitsandbytes as bnb
            import torch

            def main(args, unet, loader):
                unet.conv_in.requires_grad_(False)
                # diffusers' training scripts: the class chosen by a setting, then called through its name
                if args.use_8bit_adam:
                    optimizer_class = bnb.optim.AdamW8bit
                else:
                    optimizer_class = torch.optim.AdamW
                optimizer = optimizer_class(unet.parameters(), lr=args.learning_rate)  # expect: FZ301
                train(unet, optimizer, loader)
            """,
            fixed="""
            import bitsandbytes as bnb
            import torch

            def main(args, unet, loader):
                unet.conv_in.requires_grad_(False)
                # diffusers' training scripts: the class chosen by a setting, then called through its name
                if args.use_8bit_adam:
                    optimizer_class = bnb.optim.AdamW8bit
                else:
                    optimizer_class = torch.optim.AdamW
                optimizer = optimizer_class([p for p in unet.parameters() if p.requires_grad], lr=args.learning_rate)  # expect: FZ301
                train(unet, optimizer, loader)
            """,
        ),
        Example(
            """
            import bitsandbytes as bnb
            import torch

            def finetune(args, model, loader):
                opt_cls = bnb.optim.AdamW8bit if args.use_8bit_adam else torch.optim.AdamW
                model.encoder.requires_grad_(False)
                optimizer = opt_cls(model.parameters(), lr=args.learning_rate)  # expect: FZ301
                train(model, optimizer, loader)
            """,
            fixed="""
            import bitsandbytes as bnb
            import torch

            def finetune(args, model, loader):
                opt_cls = bnb.optim.AdamW8bit if args.use_8bit_adam else torch.optim.AdamW
                model.encoder.requires_grad_(False)
                optimizer = opt_cls([p for p in model.parameters() if p.requires_grad], lr=args.learning_rate)  # expect: FZ301
                train(model, optimizer, loader)
            """,
        ),
        Example(
            """
            import torch
            import torch.nn as nn

            G = nn.Sequential(nn.Linear(4, 8))
            D = nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 1))
            optG = torch.optim.Adam(G.parameters(), lr=1e-3)
            optD = torch.optim.Adam(D.parameters(), lr=1e-3)  # expect: FZ301
            for real in loader:
                D[0].requires_grad_(True)  # D.requires_grad_(True) was meant
                fake = G(torch.randn(4, 4))
                lossD = D(real).mean() - D(fake.detach()).mean()
                optD.zero_grad()
                lossD.backward()
                optD.step()
                D.requires_grad_(False)
                lossG = -D(fake).mean()
                optG.zero_grad()
                lossG.backward()
                optG.step()
            """,
            instead="""
            import torch
            import torch.nn as nn

            G = nn.Sequential(nn.Linear(4, 8))
            D = nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 1))
            optG = torch.optim.Adam(G.parameters(), lr=1e-3)
            optD = torch.optim.Adam(D.parameters(), lr=1e-3)
            for real in loader:
                D.requires_grad_(True)
                fake = G(torch.randn(4, 4))
                lossD = D(real).mean() - D(fake.detach()).mean()
                optD.zero_grad()
                lossD.backward()
                optD.step()
                D.requires_grad_(False)
                lossG = -D(fake).mean()
                optG.zero_grad()
                lossG.backward()
                optG.step()
            """,
        ),
        Example(
            """
            import torch
            import torch.nn as nn


            class Tuner(nn.Module):
                def __init__(self, backbone, head):
                    super().__init__()
                    self.backbone = backbone
                    self.head = head

                def configure_optimizers(self):
                    return torch.optim.Adam(self.parameters(), lr=1e-3)


            tuner = Tuner(backbone, head)
            tuner.backbone.requires_grad_(False)
            optimizer = tuner.configure_optimizers()  # expect: FZ301
            """,
            instead="""
            import torch
            import torch.nn as nn


            class Tuner(nn.Module):
                def __init__(self, backbone, head):
                    super().__init__()
                    self.backbone = backbone
                    self.head = head

                def configure_optimizers(self):
                    return torch.optim.Adam([p for p in self.parameters() if p.requires_grad], lr=1e-3)


            tuner = Tuner(backbone, head)
            tuner.backbone.requires_grad_(False)
            optimizer = tuner.configure_optimizers()
            """,
        ),
        Example(
            """
            import torch
            import torchvision

            model = torchvision.models.segmentation.deeplabv3_resnet50(weights=None)
            for param in model.parameters():
                param.requires_grad = False
            model.classifier[4] = torch.nn.Conv2d(256, 5, 1)  # the new layer trains
            optimizer = torch.optim.SGD(
                [  # expect: FZ301
                    {"params": model.backbone.parameters(), "lr": 0.001},  # frozen, all of it
                    {"params": model.classifier.parameters(), "lr": 0.01},
                ],
                lr=0.01, momentum=0.9, weight_decay=1e-4,
            )
            """,
            instead="""
            import torch
            import torchvision

            model = torchvision.models.segmentation.deeplabv3_resnet50(weights=None)
            for param in model.parameters():
                param.requires_grad = False
            model.classifier[4] = torch.nn.Conv2d(256, 5, 1)
            optimizer = torch.optim.SGD(
                [{"params": [p for p in model.classifier.parameters() if p.requires_grad], "lr": 0.01}],
                lr=0.01, momentum=0.9, weight_decay=1e-4,
            )
            """,
        ),
        Example(
            """
            import logging

            import torch
            import torchvision
            from torchinfo import summary

            logger = logging.getLogger(__name__)
            model = torchvision.models.resnet50(weights=None)
            for p in model.parameters():
                p.requires_grad = False
            model.fc = torch.nn.Linear(2048, 10)
            model = torch.compile(model)  # reads that leave every parameter as it was
            logger.info(model)
            summary(model, input_size=(1, 3, 224, 224))
            n = sum(p.numel() for p in model.parameters() if p.requires_grad)
            print(f"{n} trainable")
            optimizer = torch.optim.SGD(
                [{"params": model.layer4.parameters(), "lr": 1e-3}, {"params": model.fc.parameters()}],  # expect: FZ301
                lr=0.01, momentum=0.9,
            )
            """,
            instead="""
            import torch
            import torchvision

            model = torchvision.models.resnet50(weights=None)
            for p in model.parameters():
                p.requires_grad = False
            model.fc = torch.nn.Linear(2048, 10)
            model = torch.compile(model)
            optimizer = torch.optim.SGD(model.fc.parameters(), lr=0.01, momentum=0.9)
            """,
        ),
        Example(
            """
            import torch
            import torchvision

            model = torchvision.models.resnet18(weights=None)
            for child in model.children():  # every child: the whole model
                for param in child.parameters():
                    param.requires_grad = False
            model.fc = torch.nn.Linear(512, 2)
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)  # expect: FZ301
            """,
            fixed="""
            import torch
            import torchvision

            model = torchvision.models.resnet18(weights=None)
            for child in model.children():  # every child: the whole model
                for param in child.parameters():
                    param.requires_grad = False
            model.fc = torch.nn.Linear(512, 2)
            optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)  # expect: FZ301
            """,
        ),
        Example(
            """
            import torch
            from transformers import WhisperForConditionalGeneration

            def set_trainable(module, requires_grad=False):
                for param in module.parameters():
                    param.requires_grad = requires_grad

            model = WhisperForConditionalGeneration.from_pretrained(checkpoint)
            set_trainable(model.model.encoder, requires_grad=False)
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)  # expect: FZ301
            """,
            fixed="""
            import torch
            from transformers import WhisperForConditionalGeneration

            def set_trainable(module, requires_grad=False):
                for param in module.parameters():
                    param.requires_grad = requires_grad

            model = WhisperForConditionalGeneration.from_pretrained(checkpoint)
            set_trainable(model.model.encoder, requires_grad=False)
            optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)  # expect: FZ301
            """,
        ),
        Example(
            """
            import torch
            import torch.nn as nn
            import torchvision

            model = torchvision.models.resnet50(weights=None)
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):  # the BatchNorm layers only: part of the model
                    m.eval()
                    for p in m.parameters():
                        p.requires_grad = False
            optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)  # expect: FZ301
            """,
            fixed="""
            import torch
            import torch.nn as nn
            import torchvision

            model = torchvision.models.resnet50(weights=None)
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):  # the BatchNorm layers only: part of the model
                    m.eval()
                    for p in m.parameters():
                        p.requires_grad = False
            optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01, momentum=0.9, weight_decay=1e-4)  # expect: FZ301
            """,
        ),
    ]
    good = [
        """
        import torch
        import torch.nn as nn
        import torchvision

        model = torchvision.models.resnet50(weights=None)
        for name, m in model.named_modules():
            if name.startswith("layer1") or isinstance(m, nn.BatchNorm2d):
                m.requires_grad_(False)
        model.fc = nn.Linear(2048, 10)
        # the picked modules may lie anywhere but in the new head: nothing frozen that is known to be here
        optimizer = torch.optim.SGD(model.fc.parameters(), lr=0.01, momentum=0.9)
        frozen = 0
        for m in model.modules():  # a loop that only reads
            if isinstance(m, nn.BatchNorm2d):
                frozen += sum(not p.requires_grad for p in m.parameters())
        """,
        """
        import pytorch_lightning as pl
        import torch
        import torch.nn as nn

        class Model(pl.LightningModule):
            def __init__(self, finetune_projection=True):
                super().__init__()
                self.finetune_projection = finetune_projection
                self.body = nn.Linear(4, 4)
                self._init_projection()

            def _init_projection(self):
                self.proj = nn.Linear(4, 4)
                if not self.finetune_projection:
                    self.proj.requires_grad_(False)  # frozen only when not fine-tuned

            def configure_optimizers(self):
                groups = [{"params": self.body.parameters()}]
                if self.finetune_projection:  # given to AdamW only when fine-tuned
                    groups.append({"params": self.proj.parameters()})
                return torch.optim.AdamW(groups, lr=1e-4)
        """,
        """
        import torch
        from transformers import WhisperForConditionalGeneration

        def set_trainable(module, requires_grad=False):
            for param in module.parameters():
                param.requires_grad = requires_grad

        model = WhisperForConditionalGeneration.from_pretrained(checkpoint)
        set_trainable(model)
        set_trainable(model, requires_grad=True)  # the same helper trains all of it again
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        """,
        """
        import torch
        import torchvision
        from torchinfo import summary

        def unfreeze_last(m):
            m.layer4.requires_grad_(True)

        model = torchvision.models.resnet50(weights=None)
        for p in model.parameters():
            p.requires_grad = False
        model.fc = torch.nn.Linear(2048, 10)
        summary(model, input_size=(1, 3, 224, 224))
        unfreeze_last(model)  # a helper of the project that unfreezes: layer4 trains
        optimizer = torch.optim.SGD(
            [{"params": model.layer4.parameters(), "lr": 1e-3}, {"params": model.fc.parameters()}],
            lr=0.01, momentum=0.9,
        )
        """,
        """
        import torch
        import torchvision
        from mylib import prepare

        model = torchvision.models.resnet50(weights=None)
        for p in model.parameters():
            p.requires_grad = False
        model.fc = torch.nn.Linear(2048, 10)
        print(model)
        model = prepare(model)  # not known: it may unfreeze layer4
        optimizer = torch.optim.SGD(
            [{"params": model.layer4.parameters(), "lr": 1e-3}, {"params": model.fc.parameters()}],
            lr=0.01, momentum=0.9,
        )
        """,
        """
        import torch
        import torchvision

        def init_weights(m):
            m.requires_grad_(True)

        model = torchvision.models.resnet50(weights=None)
        for p in model.parameters():
            p.requires_grad = False
        model.fc = torch.nn.Linear(2048, 10)
        model.layer4.apply(init_weights)  # apply, setattr, a new layer4 or requires_grad_(True) may unfreeze it
        optimizer = torch.optim.SGD(
            [{"params": model.layer4.parameters(), "lr": 1e-3}, {"params": model.fc.parameters()}],
            lr=0.01, momentum=0.9,
        )
        """,
        """
        import torch
        import torchvision

        model = torchvision.models.segmentation.deeplabv3_resnet50(weights=None)
        for param in model.parameters():
            param.requires_grad = False
        for p in model.backbone.layer4.parameters():  # the group's last stage trains again
            p.requires_grad = True
        model.classifier[4] = torch.nn.Conv2d(256, 5, 1)
        optimizer = torch.optim.SGD(
            [
                {"params": model.backbone.parameters(), "lr": 0.001},
                {"params": model.classifier.parameters(), "lr": 0.01},
            ],
            lr=0.01, momentum=0.9, weight_decay=1e-4,
        )
        """,
        """
        import torch
        import torch.nn as nn

        # a GAN's toggle: D frozen for G's step, unfrozen again at the top of the loop for its own
        netG = nn.Sequential(nn.Linear(4, 8))
        netD = nn.Sequential(nn.Linear(8, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
        optG = torch.optim.Adam(netG.parameters(), lr=2e-4)
        optD = torch.optim.Adam(netD.parameters(), lr=2e-4)
        for real in loader:
            netD.requires_grad_(True)
            fake = netG(torch.randn(8, 4))
            lossD = netD(real).mean() - netD(fake.detach()).mean()
            optD.zero_grad()
            lossD.backward()
            optD.step()
            netD.requires_grad_(False)
            lossG = -netD(fake).mean()
            optG.zero_grad()
            lossG.backward()
            optG.step()
        """,
        """
        import torch
        import torchvision

        def main():
            model = torchvision.models.resnet18(weights=None)
            model.layer1.requires_grad_(False)  # for a first phase, then every parameter trains
            optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad])
            model.requires_grad_(True)
            optimizer = torch.optim.AdamW(model.parameters())
            return optimizer
        """,
        """
        import torch
        from transformers import Wav2Vec2ForCTC

        model = Wav2Vec2ForCTC.from_pretrained(checkpoint)
        model.freeze_feature_encoder()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        for epoch in range(10):
            if epoch == 3:  # gradual unfreezing: the encoder trains from epoch 3 on
                for p in model.wav2vec2.feature_extractor.parameters():
                    p.requires_grad = True
        """,
        """
        import torch
        import torch.nn as nn

        class Speech(nn.Module):  # a method of the project's own: what it does is read there
            def freeze_feature_encoder(self):
                self.encoder_frozen = True  # read by forward(): torch.no_grad() around the encoder

        model = Speech()
        model.freeze_feature_encoder()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        """,
        """
        import itertools

        import torch
        import torch.nn as nn

        def main(args):  # diffusers' DreamBooth: frozen only on the runs whose optimizer leaves it out
            unet, text_encoder = nn.Linear(4, 4), nn.Linear(4, 4)
            if not args.train_text_encoder:
                text_encoder.requires_grad_(False)
            params = (
                itertools.chain(unet.parameters(), text_encoder.parameters()) if args.train_text_encoder
                else unet.parameters()
            )
            return torch.optim.AdamW(params, lr=1e-4)
        """,
        """
        import lightning as L
        import torch
        import torch.nn as nn
        import torchvision

        class LitProbe(L.LightningModule):
            def __init__(self):
                super().__init__()
                self.backbone = torchvision.models.resnet18(weights=None)
                self.backbone.requires_grad_(False)
                self.head = nn.Linear(1000, 10)

            def configure_optimizers(self):
                return torch.optim.Adam([p for p in self.parameters() if p.requires_grad], lr=1e-3)

        class Net(nn.Module):
            def __init__(self, frozen=True):
                super().__init__()
                self.backbone = torchvision.models.resnet18(weights=None)
                self.head = nn.Linear(1000, 10)

            def freeze(self):
                self.backbone.requires_grad_(False)  # not in __init__: Net() freezes nothing

        net = Net()
        opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
        probe = LitProbe()
        sgd = torch.optim.SGD(probe.parameters(), lr=0.1)  # plain SGD: a zero grad moves nothing
        """,
        """
        import torch

        def set_trainable(module, flag):
            for p in module.parameters():
                p.requires_grad = flag

        def freeze(module):
            for p in module.parameters():
                p.requires_grad = False

        def unfreeze(module):
            for p in module.parameters():
                p.requires_grad = True

        freeze(model.backbone)
        opt = torch.optim.AdamW(model.head.parameters())  # the helper froze a part the optimizer never gets

        gan_opt = torch.optim.Adam(gan.parameters())
        for x in loader:
            freeze(gan.critic)  # frozen for the generator step only
            gan.generator_loss(x).backward()
            unfreeze(gan.critic)
            set_trainable(gan.generator, False)  # a flag: not known to freeze
            gan_opt.step()
            opt.step()
        """,
        """
        import torch

        for i in range(12):
            for p in model.blocks[i].parameters():
                p.requires_grad = False
        for j in range(12):  # every block unfrozen again: an index cannot tell which stay frozen
            for p in model.blocks[j].parameters():
                p.requires_grad = True
        optimizer = torch.optim.AdamW(model.parameters())
        """,
        """
        import torch

        model.backbone.requires_grad_(False)
        opt1 = torch.optim.AdamW(filter(lambda p: p.requires_grad, model.parameters()))
        opt2 = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad])
        opt3 = torch.optim.SGD(model.head.parameters(), lr=0.1, momentum=0.9)
        opt4 = torch.optim.Adam([{"params": model.head.parameters()}, {"params": model.neck.parameters()}])
        opt5 = torch.optim.SGD(model.parameters(), lr=0.1)  # stateless: frozen params never move
        """,
        """
        import torch

        for p in model.backbone.parameters():
            assert p.requires_grad == False  # a check, not a freeze
        optimizer = torch.optim.AdamW(model.parameters())
        """,
        """
        import torch
        import torchvision

        model = torchvision.models.resnet50(weights=None)
        model.layer1.requires_grad_(False)
        # a subset by name: which parameters it holds is not known, silent
        head = [p for n, p in model.named_parameters() if n.startswith("fc")]
        opt1 = torch.optim.AdamW(head, lr=1e-3)
        opt2 = torch.optim.AdamW([p for n, p in model.named_parameters() if "fc" in n], lr=1e-3)
        # groups that do not add up to every parameter (ndim 1 is in neither)
        big = [p for p in model.parameters() if p.ndim > 1]
        small = [p for p in model.parameters() if p.ndim < 1]
        opt3 = torch.optim.AdamW([{"params": big}, {"params": small}], lr=1e-3)
        # the weight-decay split with the requires_grad filter
        decay = [p for n, p in model.named_parameters() if p.requires_grad and p.ndim > 1]
        no_decay = [p for n, p in model.named_parameters() if p.requires_grad and p.ndim <= 1]
        opt4 = torch.optim.AdamW([{"params": decay}, {"params": no_decay, "weight_decay": 0.0}], lr=1e-3)
        # a name bound to something else than parameters: not followed
        device = next(model.parameters()).device
        opt5 = torch.optim.AdamW(build_param_groups(model.fc, device), lr=1e-3)
        """,
        """
        import torch
        from lightning.pytorch import LightningModule
        from lightning.pytorch.callbacks import BaseFinetuning

        class Lit(LightningModule):
            def configure_optimizers(self):
                return torch.optim.AdamW(self.parameters())

        class Gradual(BaseFinetuning):  # Lightning's own freeze helpers: left to BaseFinetuning
            def freeze_before_training(self, pl_module):
                self.freeze(pl_module.backbone)

            def finetune_function(self, pl_module, epoch, optimizer):
                if epoch == 2:
                    self.freeze(pl_module.head)
        """,
        """
        import torch
        import torch.nn as nn

        class FusionModel(nn.Module):
            def __init__(self, text_model, teacher, freeze_weights=True):
                super().__init__()
                if freeze_weights:
                    text_model.requires_grad_(False)
                teacher.requires_grad_(False)  # frozen, but kept out of the module's parameters
                self.teacher = [teacher]
                self.text_model = text_model

        model = FusionModel(nn.Linear(8, 8), nn.Linear(8, 8), freeze_weights=False)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
        """,
        """
        import torch

        for n, p in model.named_parameters():
            if not n.startswith("fc"):
                p.requires_grad = False
        opt = torch.optim.AdamW(model.parameters())
        for epoch in range(10):
            if epoch == 3:  # gradual unfreezing: the optimizer holds every parameter on purpose
                for n, p in model.named_parameters():
                    if n.startswith("layer4"):
                        p.requires_grad = True

        for n, p in other.named_parameters():
            if "lora_" not in n:
                p.requires_grad = False
        for n, p in other.named_parameters():
            if "lora_" not in n:  # the same parameters set back
                p.requires_grad = True
        for n, p in third.named_parameters():
            p.requires_grad = "adapter" in n or args.train_all  # a setting may make every flag True
        opt2 = torch.optim.AdamW(other.parameters())
        opt3 = torch.optim.AdamW(third.parameters())
        """,
        """
        import torch

        for name, p in model.named_parameters():
            p.requires_grad = name.startswith("fc")
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        stages = [model.layer4, model.layer3]
        for epoch in range(3):
            if epoch < len(stages):  # gradual unfreezing of a part picked at run time
                for p in stages[epoch].parameters():
                    p.requires_grad = True
            train_one_epoch(model, opt)

        for name, p in net.named_parameters():
            p.requires_grad = name.startswith("head")
        opt2 = torch.optim.Adam(net.parameters())
        for epoch in range(3):
            getattr(net, f"block{4 - epoch}").requires_grad_(True)
            for p in list(net.children())[-3 - epoch].parameters():
                p.requires_grad = True
        """,
        """
        import torch
        import torchvision

        def train_teachers(loader):
            teachers = []
            for arch in ["resnet18", "resnet34"]:
                model = torchvision.models.__dict__[arch]()
                optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
                for x, y in loader:
                    optimizer.zero_grad()
                    model(x).sum().backward()
                    optimizer.step()
                model.requires_grad_(False)  # trained: frozen to be handed on, no step follows
                teachers.append(model)
            return teachers
        """,
        """
        import bitsandbytes as bnb
        import torch

        def main(args, model, loader):
            optimizer_class = bnb.optim.AdamW8bit if args.use_8bit_adam else torch.optim.AdamW
            model.encoder.requires_grad_(False)
            # filtered: the frozen encoder is in no param group
            optimizer = optimizer_class([p for p in model.parameters() if p.requires_grad], lr=args.learning_rate)
            # a choice with a plain SGD (no momentum, no weight decay) in it: which one runs is not known
            sgd_or_adam = torch.optim.SGD if args.sgd else torch.optim.AdamW
            opt2 = sgd_or_adam(model.parameters(), lr=args.learning_rate)
            # a class only known by a setting's name, with no momentum or weight decay given
            opt3 = getattr(torch.optim, args.optimizer)(model.parameters(), lr=args.learning_rate)
            # a name that may hold something else than an optimizer class
            picked = bnb.optim.AdamW8bit if args.use_8bit_adam else make_optimizer
            opt4 = picked(model.parameters(), lr=args.learning_rate)
            train(model, optimizer, loader)
        """,
        """
        import torch

        class MaskExplainer(torch.nn.Module):
            def _set_masks(self, n):
                self.gates = torch.nn.ModuleList([torch.nn.Linear(4, 4) for _ in range(n)])
                for parameter in self.parameters():
                    parameter.requires_grad = False

            def _enable_layer(self, layer):
                for parameter in self.gates[layer].parameters():
                    parameter.requires_grad = True

            def fit(self, x, n):
                self._set_masks(n)
                optimizer = torch.optim.Adam(self.parameters(), lr=0.01)
                for layer in reversed(range(n)):
                    self._enable_layer(layer)  # gradual unfreezing: every parameter must be in the optimizer
                    optimizer.zero_grad()
                    self.gates[layer](x).sum().backward()
                    optimizer.step()

            def fit_inline(self, x, n):
                for parameter in self.parameters():
                    parameter.requires_grad = False
                optimizer = torch.optim.Adam(self.parameters(), lr=0.01)
                for layer in reversed(range(n)):
                    for parameter in self.gates[layer].parameters():
                        parameter.requires_grad = True
                    optimizer.zero_grad()
                    self.gates[layer](x).sum().backward()
                    optimizer.step()
        """,
        """
        import torch
        import torch.nn as nn


        class Tuner(nn.Module):
            def __init__(self, backbone, head):
                super().__init__()
                self.backbone = backbone
                self.head = head

            def head_optimizer(self):
                return torch.optim.Adam(self.head.parameters(), lr=1e-3)


        tuner = Tuner(backbone, head)
        tuner.backbone.requires_grad_(False)
        optimizer = tuner.head_optimizer()  # the method's optimizer holds only the head
        """,
    ]

    def check(self, facts: Facts, module) -> Iterable[Finding]:
        flows = flows_of(facts)
        for flow in [*flows.bodies, *flows.instances]:
            evs = flow.events
            for o in (e for e in evs if e.kind == OPT_BUILD and not e.detail["filtered"] and e.detail["stateful"]):
                freezes = [f for f in evs if f.kind == FREEZE and f.target == o.target and not f.exclusive_with(o)
                           and f.node is not o.node  # one helper freezes and builds: reported inside it
                           and (_covers(o.detail["path"], o.detail["whole"], f.detail.get("sub"))
                                or _frozen_group(flow, o, f))
                           and not _undone(f, evs, o) and not _unfrozen_after(f, evs, o)
                           and not _freezes_new_layers(flows, flow, f, o)
                           and not _rebuilt(o, f, evs) and not _both_conditional(o, f)
                           and not _helper_conditional(facts, flows, o, f)
                           and not apart(flow, f, o) and not _after_training(flow, o, f)]
                if o.detail.get("built_in"):  # a base's constructor of another file: the subclass's freeze is the finding
                    freezes = [f for f in freezes if f.detail.get("hook")]
                if not freezes:
                    continue
                if o.detail.get("built_in"):
                    f = freezes[0]
                    how = f"`{f.detail['via']}(...)` freezes parameters of `{f.detail.get('sub') or f.target}`" \
                        if f.detail.get("via") else f"`{f.detail.get('sub') or f.target}` is frozen"
                    yield self.finding(
                        f.node,
                        f"{how} in `{f.detail['hook']}`, after {o.detail['built_in']} built "
                        f"{optimizer_shown(o.detail['optimizer'])} over every parameter of `{o.detail['path']}`: "
                        f"those take optimizer slots for nothing; the optimizer skips them while their .grad is None (no state, no weight decay), but a grad left from "
                        f"before the freeze (a backward before it, or zero_grad(set_to_none=False)) is applied through "
                        f"{o.detail['stateful']}, moving \"frozen\" weights; filter on requires_grad there",
                        stmt=f.stmt, facts=facts, used=[o, *freezes],
                    )
                    continue
                where = o.detail.get("lightning")
                if where:  # the optimizer is in the LightningModule: the freeze in the Callback is the finding
                    f = freezes[0]
                    call = o.detail.get("call")  # configure_optimizers' optimizer, when in this file
                    yield self.finding(
                        f.node,
                        f"`{f.detail.get('sub') or f.target}` is frozen in `{f.detail.get('hook')}`, after Lightning "
                        f"built the optimizer ({where}: {optimizer_shown(o.detail['optimizer'])} over every "
                        f"parameter of `{o.detail['path']}`): the optimizer skips the frozen parameters while their .grad is "
                        f"None, but a grad left from before the freeze (a backward before it, or "
                        f"zero_grad(set_to_none=False)) is applied through {o.detail['stateful']}, moving \"frozen\" "
                        f"weights; filter on requires_grad in configure_optimizers",
                        fix=_filter_fix(call.args[0].value) if isinstance(call, cst.Call) and call.args else None,
                        stmt=f.stmt, facts=facts, used=[o, *freezes],
                    )
                    continue
                # the optimizer's parameters, or the call that built it (`trainer.reset_optimizer()`)
                first = o.node.args[0].value if isinstance(o.node, cst.Call) and o.node.args else o.node
                # a freeze that may change nothing (`x.requires_grad = False`, `x` perhaps a Module): a
                # filter on requires_grad would hide it, and `x` would still train
                fix = _filter_fix(first, [e for e in evs if e.kind == OPT_BUILD and e.node is o.node]) \
                    if all(f.index < o.index and not f.detail.get("unsure") for f in freezes) \
                    and not _filters_all(o, freezes, evs) else None
                frozen = freezes[0].detail.get("sub") or o.target
                via = freezes[0].detail.get("via")  # frozen by a helper (or a builder): name it
                broken = freezes[0].detail.get("broken")
                # the freeze's own finding hidden by a noqa there, or not reported by this run: explain it
                # without pointing at that code
                named = f": {broken}" if broken and not _hidden(freezes[0], broken) and facts.reports(broken) else ""
                mend = f"{broken} is fixed" if named else "that freeze works"
                library = freezes[0].detail.get("library")  # transformers' own freeze method
                how = f"`{via}()` freezes {library} (of `{o.target}`)" if library \
                    else (f"`{via}(...)` is meant to freeze parameters of `{frozen}` (`{freezes[0].detail['broken_code']}` "
                          f"in `{freezes[0].detail['broken_in']}` freezes nothing as written{named})") \
                    if via and broken and "broken_code" in freezes[0].detail \
                    else f"`{via}(...)` freezes parameters of `{frozen}`" if via \
                    else (f"`{frozen}` is meant to be frozen (`{src(freezes[0].node)}` freezes nothing as written"
                          f"{named})") if broken \
                    else f"part of `{frozen}` is frozen (`{cut}`)" if (cut := freezes[0].detail.get("cut")) \
                    else _part_frozen(facts, flow, freezes[0], o, frozen) if _within(o.detail["path"], frozen) \
                    else _frozen_as_it_stands(facts, flow, freezes[0], o, frozen)
                unsure = freezes[0].detail.get("unsure")  # the kind of what the store is on, not known
                check = (f", once the freeze is sure to work: `{src(freezes[0].node)}` freezes nothing if `{unsure}` "
                         f"is an nn.Module (call `{unsure}.requires_grad_(False)` then)") if unsure and not via else ""
                # a LightningModule's __init__ (before configure_optimizers) or a training hook (after it)
                hook = freezes[0].detail.get("hook") or freezes[0].detail.get("ran_in")
                built = o.detail.get("via")  # by a helper or a trainer's constructor: the call shown is theirs
                # a toggle in a loop that unfreezes only a part of what it froze (a GAN's `D[0]` for `D`)
                parts = [u for u in evs if u.kind == UNFREEZE and u.target == freezes[0].target and u.loops
                         and set(u.loops) & set(freezes[0].loops)
                         and _within(u.detail.get("sub"), freezes[0].detail.get("sub") or freezes[0].target)]
                whole = freezes[0].detail.get("sub") or freezes[0].target
                # a freeze on some paths only (under an `if` the optimizer is not under): said so
                # (freezes under different conditions: each one's condition alone would say too little)
                whens = {_when(facts, f, o) for f in freezes}
                when = "" if "" in whens or _both_arms(freezes, o) \
                    else f" ({whens.pop()[1:]})" if len(whens) == 1 else " (on some paths only)"
                # frozen only after the optimizer was built: a filter where it stands keeps every parameter
                mend_how = "build the optimizer after the freeze and filter on requires_grad" \
                    if not hook and not built and all(f.index > o.index for f in freezes) \
                    else "filter on requires_grad"
                if parts:  # what was meant is the whole toggle, not a filter
                    yield self.finding(
                        first,
                        f"{optimizer_shown(o.detail['optimizer'])} gets every parameter of `{o.detail['path']}`, and "
                        f"the loop freezes `{whole}` but unfreezes only `{parts[0].detail['sub']}` again: the rest "
                        f"stays frozen at this optimizer's later steps and never trains again, while any stale or "
                        f"zero grad on it is applied through {o.detail['stateful']}; unfreeze all of `{whole}` again "
                        f"before this optimizer's step (`{whole}.requires_grad_(True)`)",
                        stmt=o.stmt, facts=facts, used=[o, *freezes, *parts],
                    )
                    continue
                yield self.finding(
                    first,
                    f"{optimizer_shown(o.detail['optimizer'])}{f' (built by `{built}(...)`)' if built else ''} "
                    f"gets every parameter of `{o.detail['path']}` while "
                    f"{how} {f'in `{hook}`' if hook else 'in this scope'}{when}: "
                    f"{f'once {mend}, ' if broken else ''}those take optimizer slots for "
                    f"nothing; the optimizer skips them while their .grad is None (no state, no weight decay), but a "
                    f"grad left from before the freeze (a backward before it, or zero_grad(set_to_none=False)) is "
                    f"applied through {o.detail['stateful']}, moving \"frozen\" weights; {mend_how}{check}",
                    fix=fix,
                    stmt=o.stmt, facts=facts, used=[o, *freezes],
                )


def _both_arms(freezes, opt) -> bool:
    """Freezes in both arms of one `if` the optimizer is not under (`freeze(model)` after `if resumed:` and
    again under its `else:`): the part is frozen on every path, with no condition to name."""
    arms: dict[tuple, set[int]] = {}
    for f in freezes:
        own = [(i, arm) for i, arm in f.branches if (i, arm) not in opt.branches]
        if len(own) == 1:  # the same part, frozen the same way, in each arm
            arms.setdefault((own[0][0], f.detail.get("sub"), f.detail.get("via")), set()).add(own[0][1])
    return any(len(seen) > 1 for seen in arms.values())


def _when(facts: Facts, e, opt) -> str:
    """The `if` arms `e` sits under and `opt` does not, as a message says them: " when `args.freeze` is
    true", " when `a` is false and `b` is true"; " on some paths only" where they are more, long or not
    an `if`'s; "" where `e` happens on every path to `opt`."""
    ifs = facts.__dict__.get("_if_nodes")
    if ifs is None:
        ifs = facts.__dict__["_if_nodes"] = _ifs_in_loops(facts.module)
    # an `if` inside a loop `e` is in and `opt` is not picks what each pass freezes (`if n.startswith(...)`
    # over named_parameters()): which parts, as the message says them, not on which paths
    inner = set(e.loops) - set(opt.loops)
    arms = [(i, arm) for i, arm in e.branches
            if (i, arm) not in opt.branches and not ifs.get(i, (None, frozenset()))[1] & inner]
    if not arms:
        return ""
    said = []
    for i, arm in dict.fromkeys(arms):
        node = ifs.get(i, (None,))[0]
        if node is None or len(arms) > 2:
            return " on some paths only"
        test, holds = node.test, arm == 0
        if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            test, holds = test.expression, not holds
        code = _one_line(src(test))
        if len(code) > 40:
            return " on some paths only"
        said.append(f"`{code}` is {'true' if holds else 'false'}")
    return " when " + " and ".join(said)


def _ifs_in_loops(module: cst.Module) -> dict[int, tuple[cst.If, frozenset[int]]]:
    """Every `if` of the file, by id, with the ids of the loops around it."""
    out: dict[int, tuple[cst.If, frozenset[int]]] = {}
    stack: list[tuple[cst.CSTNode, frozenset[int]]] = [(module, frozenset())]
    while stack:  # statements and their blocks only: an `if` is a statement
        node, loops = stack.pop()
        if isinstance(node, cst.If):
            out[id(node)] = (node, loops)
        inner = loops | {id(node)} if isinstance(node, (cst.For, cst.While)) else loops
        stack.extend((c, inner) for c in node.children if isinstance(c, _BLOCKS))
    return out


_BLOCKS = (cst.BaseCompoundStatement, cst.BaseSuite, cst.Else, cst.ExceptHandler, cst.ExceptStarHandler, cst.Finally,
           cst.MatchCase)


def _one_line(code: str) -> str:
    """Code written over several lines, as one line for a message: `n.startswith(\n    tuple(...))`
    is shown `n.startswith(tuple(...))`."""
    code = re.sub(r"([(\[{])\s+", r"\1", code)
    code = re.sub(r"\s+([)\]}])", r"\1", code)
    return re.sub(r"\s+", " ", code)


def _part_frozen(facts: Facts, flow, freeze, opt, frozen: str) -> str:
    """What is frozen, for an optimizer over a part of the frozen model (`model.layer4` of `model`):
    "`model.layer4` is frozen (all of `model` is)", less the parts unfrozen or replaced since."""
    spared = _spared(facts, flow, freeze, opt, frozen)
    return f"`{opt.detail['path']}` is frozen (all of `{frozen}` is{f' but {spared}' if spared else ''})"


def _spared(facts: Facts, flow, freeze, opt, frozen: str) -> str:
    """The parts of `frozen` unfrozen again or replaced between the freeze and the optimizer (and not
    frozen again), as a message names them: "`model.fc`, replaced since, and `model.layer4`, unfrozen
    again" (a part inside another one named, not again; "replaced since when `args.new_head` is true"
    where that happens on some paths only; modules a test picks, "the modules `isinstance(m, nn.Linear)`
    picks, unfrozen again"); "" where none."""
    def picked(e) -> bool:  # `for m in model.modules(): if isinstance(m, nn.Linear): m.requires_grad_(True)`
        return e.kind == UNFREEZE and bool(e.detail.get("applied")) and _part(e) == frozen

    spared = [(part, ("unfrozen again" if e.kind == UNFREEZE else "replaced since") + _when(facts, e, opt),
               f"the modules `{e.detail['applied']}` picks" if picked(e) else f"`{part}`")
              for e in flow.events if e.kind in (UNFREEZE, REPLACE) and e.target == freeze.target
              and freeze.index < e.index < opt.index and after(freeze, e)
              and (_within(part := _part(e) if e.kind == UNFREEZE else e.detail.get("path"), frozen) or picked(e))
              and not any(f.kind == FREEZE and f.target == freeze.target and e.index < f.index < opt.index
                          and (_part(f) == part or _within(part, _part(f))) for f in flow.events)]
    first: dict[str, tuple[str, str]] = {}
    for part, why, label in spared:  # a part named once, for the first reason
        first.setdefault(label, (part, why))
    spared = [(part, why, label) for label, (part, why) in first.items()]
    spared = [(part, why, label) for part, why, label in spared
              if not any(_within(part, other) for other, _, _ in spared)]
    said = []
    for why in dict.fromkeys(why for _, why, _ in spared):
        names = list(dict.fromkeys(label for _, w, label in spared if w == why))
        said.append(", ".join(names[:2]) + (" and more" if len(names) > 2 else "") + f", {why}")
    return ", and ".join(said)


def _frozen_as_it_stands(facts: Facts, flow, freeze, opt, frozen: str) -> str:
    """What is frozen when the optimizer is built, said of the object as it stands there: "`model` is
    frozen"; "part of `model` is frozen (all but `model[-1]`, unfrozen again)" where parts of it were
    unfrozen or replaced since (and not frozen again); and, where `model` was wrapped again since (`model = DataParallel(model)`),
    the path the freeze named with the line it named it at, since it no longer leads there (where the
    wrap runs on some paths only, under an `if`, the path as named, and the wrapped one beside it)."""
    spared = _spared(facts, flow, freeze, opt, frozen)
    wrapped = _wrapped_again(facts, flow, freeze, opt) if frozen != freeze.target else None
    if wrapped is not None:
        call, always = wrapped
        line, at = facts.positions[freeze.node].start.line, facts.positions[call].start.line
        module = facts.qualname(call.func, flow.scope) in _MODULE_WRAPPERS  # one more `.module` in the path now
        now = f"{freeze.target}.module{frozen[len(freeze.target):]}"
        if not always:
            return f"`{frozen}` is frozen (`{now}` where line {at} wraps `{freeze.target}` again)" if module \
                else f"`{frozen}` is frozen (line {at} may wrap `{freeze.target}` again)"
        again = f"named `{frozen}` at line {line}, before line {at} wrapped `{freeze.target}` again"
        return f"`{now}` is frozen ({again})" if module else f"part of `{freeze.target}` is frozen ({again})"
    applied = freeze.detail.get("applied")
    if applied:  # `model.apply(fn)` of a function that picks the modules it freezes
        return f"part of `{frozen}` is frozen (in the modules `{applied}` picks)"
    picked = freeze.detail.get("picked")
    if picked:  # a loop that freezes the parameters a test on their names picks: never the whole
        code, arm = picked[0]
        test = _one_line(code)
        test = test if len(test) <= 60 else test[:57] + "..."
        # arm 1: the test's else (`if "fc" in n: ... else: freeze`, `p.requires_grad = "fc" in n`)
        chosen = f"in `{test}`" if code == freeze.detail.get("cut") else \
            f"for which `{test}` is false" if arm else f"picked by `{test}`"
        return f"part of `{frozen}` is frozen (the parameters {chosen})"
    if not spared:
        return f"`{frozen}` is frozen"
    return f"part of `{frozen}` is frozen (all but {spared})"


# Wrappers that hold the model they wrap as `.module`
_MODULE_WRAPPERS = frozenset({"torch.nn.DataParallel", "torch.nn.parallel.DataParallel",
                              "torch.nn.parallel.data_parallel.DataParallel", "torch.nn.parallel.DistributedDataParallel",
                              "torch.nn.parallel.distributed.DistributedDataParallel"})


def _wrapped_again(facts: Facts, flow, freeze, opt) -> tuple[cst.Call, bool] | None:
    """The call that wraps the freeze's model again between the freeze and the optimizer
    (`model = torch.nn.DataParallel(model)`: `model.module.backbone` now names another object), and
    whether it runs on every path to the optimizer (not under an `if` of its own), else None.
    `torch.compile(model)` is no such wrap: its module hands on its model's attributes."""
    name = freeze.target
    owner = flow.scope.lookup(name) if name.isidentifier() else None
    start, end = facts.positions[freeze.node].start.line, facts.positions[opt.node].start.line
    for b in owner.bindings.get(name, []) if owner is not None else []:
        value = b.node
        if b.how != "expr" or b.index or not isinstance(value, cst.Call) or value not in facts.positions:
            continue
        line = facts.positions[value].start.line
        if start < line <= end and any(a.keyword is None and isinstance(a.value, cst.Name) and a.value.value == name
                                       for a in value.args) and facts.qualname(value.func, flow.scope) != "torch.compile":
            return value, _beside(flow.scope.node or facts.module, value, opt.stmt)
    return None


def _beside(root: cst.CSTNode, call: cst.Call, stmt) -> bool:
    """The statement holding `call` and `stmt` are statements of one block: the call runs on the
    way to `stmt`, not under an `if`, loop or `try` of its own."""
    for node in walk(root):
        block = node.body if isinstance(node, cst.Module) else getattr(getattr(node, "body", None), "body", None)
        if isinstance(block, (list, tuple)) and any(s is stmt for s in block):
            return any(any(n is call for n in walk(s)) and isinstance(s, cst.SimpleStatementLine) for s in block)
    return False


def _hidden(freeze, code: str) -> bool:
    """A `# noqa` naming `code` (or a bare one) after the freeze's statement: its author chose to
    hide that finding, so this message should not send them to it."""
    trailing = getattr(freeze.stmt, "trailing_whitespace", None)
    comment = trailing.comment if trailing is not None else None
    directive = parse_directive(comment.value, 0, 0, own_line=False) if comment is not None else None
    return directive is not None and directive.covers(code)


def _after_training(flow, o, f) -> bool:
    """The freeze comes after the optimizer was built and after the last run of the model it
    could step (`model.requires_grad_(False)` once training is over, to hand the model on as a
    frozen teacher), and the optimizer stays in the function (a local that is not returned): no
    step can apply anything to the frozen parameters. Not at a script's top level, where the
    optimizer lives on for the code that follows (another cell, an imported function's use)."""
    name = o.detail.get("name")
    if flow.scope.kind != "function":  # a script's top level: its optimizer stays for what runs next
        return False
    if not name or "." in name or not f.index > o.index or after(f, o) and not rebound(flow, f, o):
        return False
    if any(e.kind == ACTIVITY and e.target in (o.target, "*") and after(f, e) and not rebound(flow, f, e)
           for e in flow.events):
        return False
    return not any(v is not None and any(isinstance(n, cst.Name) and n.value == name for n in walk(v))
                   for v in flow.returns)


def _filter_fix(first: cst.BaseExpression, builds=()) -> Fix | None:
    """`model.parameters()` -> `[p for p in model.parameters() if p.requires_grad]`; param groups
    whose every source is a comprehension (`if p.ndim > 1`) get `p.requires_grad and` in each."""
    if isinstance(first, cst.Call) and isinstance(first.func, cst.Attribute) and first.func.attr.value == "parameters":
        new = cst.parse_expression(f"[p for p in {src(first)} if p.requires_grad]")
        return Fix("Pass only parameters that require grad", [(first, new)], safe=False)
    comps = list({id(c): c for c in (b.detail.get("comp") for b in builds)}.values())
    if comps and all(c is not None for c in comps) and all(not b.detail["filtered"] for b in builds):
        return Fix("Keep only parameters that require grad in each param group",
                   [(c, with_requires_grad_filter(c)) for c in comps], safe=False)
    return None


def _both_conditional(opt, freeze) -> bool:
    """The optimizer gets the part in one arm of `A if cond else B` only and the freeze is under an
    `if` of its own: the two conditions may exclude each other (diffusers' DreamBooth freezes the
    text encoder `if not args.train_text_encoder` and chains it in `if args.train_text_encoder`),
    and nothing here relates them: silent."""
    return bool(opt.detail.get("conditional")) and bool(set(freeze.branches) - set(opt.branches))


def _helper_conditional(facts: Facts, flows, opt, freeze) -> bool:
    """_both_conditional read through a `self.` helper of the optimizer's class (a LightningModule's
    `__init__` calling `self._init_projection()`): every freeze of that part in the helper's body is
    under an `if` there (sync-dreamer's `if not self.finetune_projection: ...requires_grad_(False)`),
    and the optimizer gets the part in one arm only: the conditions may exclude each other, as they
    may where the freeze is written inline."""
    via, part = freeze.detail.get("via"), freeze.detail.get("sub") or freeze.target
    if not opt.detail.get("conditional") or not via or freeze.branches:
        return False
    owner = next((info for info in facts.classes.values() if any(n is opt.node for n in walk(info.node))), None)
    if owner is None:
        return False
    helpers = [m for m in owner.node.body.body if isinstance(m, cst.FunctionDef) and m.name.value == via]
    flow = next((f for f in flows.bodies if len(helpers) == 1 and f.scope.node is helpers[0]), None)
    frozen = [e for e in flow.events if e.kind == FREEZE and (e.detail.get("sub") or e.target) == part] if flow else []
    return bool(frozen) and all(e.branches for e in frozen)


def _rebuilt(opt, freeze, events) -> bool:
    """An optimizer built again after a later freeze replaces the one built before it."""
    return freeze.index > opt.index and any(
        e.kind == OPT_BUILD and e.target == opt.target and e.index > freeze.index for e in events)


def _undone(freeze, events, opt) -> bool:
    """A freeze undone later in the scope (of the same part, or of all that holds it) is temporary
    (GAN steps, alternating training). A library
    method's freeze (`freeze_feature_encoder()`) is of a part not named here: any later unfreeze of
    a part of the same model may be of it (gradual unfreezing of `model.wav2vec2.feature_extractor`)."""
    return any(u.kind == UNFREEZE and u.target == freeze.target and after(freeze, u)
               and (freeze.detail.get("library")
                    or _same_part(u.detail.get("sub") or "", freeze.detail.get("sub") or "")
                    or _within(freeze.detail.get("sub"), u.detail.get("sub")))
               and not _partly(freeze, u, opt) for u in events)


def _part(e) -> str:
    return e.detail.get("sub") or e.target


def _unfrozen_after(freeze, events, opt) -> bool:
    """Gradual unfreezing: after the optimizer is built, a part of what the freeze froze and the
    optimizer holds is unfrozen (`for p in self.gates[layer].parameters(): p.requires_grad = True`,
    or a method of the project that does it), not as a toggle in the freeze's own loop (a GAN's
    discriminator frozen and partly unfrozen each step, reported as such). That needs every
    parameter in the optimizer: filtering would leave the unfrozen part out of it."""
    whole = _part(freeze)
    return any(u.kind == UNFREEZE and after(opt, u) and after(freeze, u) and not set(u.loops) & set(freeze.loops)
               and (_part(u) == whole or _within(_part(u), whole))
               and _covers(opt.detail["path"], opt.detail["whole"], _part(u)) for u in events)


def _frozen_group(flow, opt, freeze) -> bool:
    """The optimizer gets a part of what the freeze froze whole (`model.backbone.parameters()` as a
    param group after every parameter of `model` was frozen), and nothing between the two unfreezes,
    replaces or hands on any of that part: the group holds frozen parameters only. A group a part of
    which was unfrozen or replaced since (`model.classifier[4] = nn.Conv2d(...)`), or that the body
    grows a layer in anywhere (`model.backbone.features.insert(0, Gray())`), is left alone, and so is
    a helper's freeze (`via`: of another file, which part it freezes is not known)."""
    path, whole = opt.detail["path"], _part(freeze)
    if not _within(path, whole) or not freeze.index < opt.index \
            or any(k in freeze.detail for k in ("picked", "cut", "via")):
        return False
    body = flow.scope.node if flow.scope.kind != "module" else flow.facts.module
    return not any(e.kind in (UNFREEZE, REPLACE, OPAQUE) and e.target == opt.target
                   and freeze.index < e.index < opt.index and _touches(_changed(e), path) for e in flow.events) \
        and not _grown(body, path) and _left_alone(flow, body, freeze, opt, path)


# methods of a module that change no parameter's requires_grad and put no new one in place
_KEEPS = ("to", "cuda", "cpu", "train", "eval", "float", "half", "double", "bfloat16", "zero_grad", "load_state_dict")
# attributes of a layer that hold a size, not a module (`nn.Linear(model.fc.in_features, 10)`)
_SIZES = ("in_features", "out_features", "in_channels", "out_channels", "num_features", "embedding_dim",
          "num_embeddings", "hidden_size", "shape")


def _left_alone(flow, body, freeze, opt, path: str) -> bool:
    """Every statement between the freeze and the optimizer that names the model (or a name bound
    from it) is one whose effect is read here and leaves `path` frozen: a freeze, an unfreeze or a
    replacement of another part, a move to a device. Anything else (`setattr(model, ...)`,
    `model.fc.apply(fn)`, an alias, a loop over `model.modules()`, a helper given the model or
    reading it as a global) may unfreeze or replace part of the group: not known, so not reported."""
    if body is None or freeze.node is None or opt.node is None:
        return False
    pos = flow.facts.positions
    if freeze.node not in pos or opt.node not in pos:
        return False
    lo, hi = pos[freeze.node].end.line, pos[opt.node].start.line
    root = _root(opt.target)
    names = _aliases(body, root)
    helpers = _helpers(flow.facts.module, root)
    stmts = body.body.body if isinstance(body, (cst.FunctionDef, cst.ClassDef)) else body.body
    reads = _Reads(names, lambda func: flow.facts.qualname(func, flow.scope))
    return all(_harmless(s, names, helpers, path, reads) for s in _between(stmts, pos, lo, hi))


def _between(stmts, pos, lo: int, hi: int):
    """The statements wholly after line `lo` and before line `hi`; a compound statement that
    holds either line (the freeze's loop, a loop around the optimizer) is gone into."""
    for stmt in stmts:
        r = pos.get(stmt)
        if r is None:
            continue
        if lo < r.start.line and r.end.line < hi:
            yield stmt
        elif (r.start.line <= lo <= r.end.line or r.start.line <= hi <= r.end.line) \
                and not isinstance(stmt, cst.SimpleStatementLine):
            yield from _between(_inner(stmt), pos, lo, hi)


def _inner(stmt) -> list:
    """The statements a compound statement holds (its body, else, except and finally arms)."""
    out = []
    for part in (stmt, getattr(stmt, "orelse", None), getattr(stmt, "finalbody", None), *getattr(stmt, "handlers", ())):
        if isinstance(part, cst.If) and part is not stmt:  # an elif: a statement with a test of its own
            out.append(part)
        elif isinstance(block := getattr(part, "body", None), cst.IndentedBlock):
            out.extend(block.body)
        elif isinstance(block, cst.SimpleStatementSuite):
            out.append(cst.SimpleStatementLine(block.body))
    return out


def _aliases(body, root: str) -> set[str]:
    """`root` and every name the body binds from it (`head = model.fc`, `for m in model.modules()`,
    `t = Tuner(model)`), to a fixed point; a size read (`n = model.fc.in_features`) binds no alias."""
    names, grew = {root}, True
    while grew:
        grew = False
        for n in walk(body):
            pairs = [(t.target, n.value) for t in n.targets] if isinstance(n, cst.Assign) \
                else [(n.target, n.value)] if isinstance(n, (cst.AnnAssign, cst.AugAssign, cst.NamedExpr)) \
                else [(n.target, n.iter)] if isinstance(n, (cst.For, cst.CompFor)) \
                else [(i.asname.name, i.item) for i in n.items if i.asname] if isinstance(n, cst.With) else []
            for target, value in pairs:
                if value is not None and _names(value, names, sizes=True):
                    new = {t.value for t in walk(target) if isinstance(t, cst.Name)} - names
                    names |= new
                    grew = grew or bool(new)
    return names


def _root(path: str) -> str:
    return path.split(".")[0].split("[")[0]


def _helpers(module, root: str) -> set[str]:
    """Functions of the file whose bodies name the model's name without taking it as a parameter
    (a global, or a name of an enclosing function): a call of one may change it."""
    return {d.name.value for d in walk(module) if isinstance(d, cst.FunctionDef)
            and root not in {p.name.value for p in walk(d.params) if isinstance(p, cst.Param)}
            and _names(d.body, {root})}


def _names(node, names: set[str], sizes: bool = False) -> bool:
    """`node` names one of `names`; with `sizes`, not counting size reads (`model.fc.in_features`)."""
    skip = {id(a.value) for a in walk(node) if sizes and isinstance(a, cst.Attribute) and a.attr.value in _SIZES}
    inside = set()
    for n in walk(node):
        if id(n) in skip or id(n) in inside:
            inside.update(id(c) for c in walk(n))
            continue
        if isinstance(n, cst.Name) and n.value in names:
            return True
    return False


def _path(expr) -> str | None:
    """`model.classifier[4]` for a chain of names, attributes and non-negative int indexes; an
    index of another kind (`[-1]`, `[i]`) or a private attribute (`_modules["fc"]`) stands for all
    of the container; None where the chain is not of that kind."""
    if isinstance(expr, cst.Name):
        return expr.value
    if isinstance(expr, cst.Attribute):
        base = _path(expr.value)
        return None if base is None else base if expr.attr.value.startswith("_") else f"{base}.{expr.attr.value}"
    if isinstance(expr, cst.Subscript):
        base = _path(expr.value)
        index = expr.slice[0].slice if len(expr.slice) == 1 else None
        if base is not None and isinstance(index, cst.Index) and isinstance(index.value, cst.Integer):
            return f"{base}[{index.value.value}]"
        return base
    return None


def _harmless(stmt, names: set[str], helpers: set[str], path: str, reads: "_Reads") -> bool:
    """A statement between the freeze and the optimizer that leaves every parameter under `path`
    frozen, as far as can be read."""
    if any(isinstance(n, cst.Call) and isinstance(n.func, cst.Name) and n.func.value in helpers for n in walk(stmt)):
        return False
    if not _names(stmt, names, sizes=True):
        return True
    if isinstance(stmt, cst.SimpleStatementLine):
        return all(_harmless_small(s, names, path, reads) for s in stmt.body)
    if isinstance(stmt, cst.For):
        return _param_loop(stmt, names, path)
    if isinstance(stmt, (cst.If, cst.While, cst.Try, cst.With)):
        head = [stmt.test] if isinstance(stmt, (cst.If, cst.While)) \
            else [i.item for i in stmt.items] if isinstance(stmt, cst.With) else []
        return not any(_names(h, names, sizes=True) for h in head) \
            and all(_harmless(s, names, helpers, path, reads) for s in _inner(stmt))
    return False


def _harmless_small(s, names: set[str], path: str, reads: "_Reads") -> bool:
    """`model.fc = nn.Linear(model.fc.in_features, 10)` or `model.fc.weight.requires_grad = True`
    (another part), `x.requires_grad = False`, `model.layer4.requires_grad_(True)` (another part),
    `model.requires_grad_(False)`, `model = model.to(device)`, `model.cuda()`, `print(model)`,
    `model = torch.compile(model)`, `n = sum(p.numel() for p in model.parameters() if p.requires_grad)`."""
    if isinstance(s, cst.Expr):
        return _harmless_call(s.value, names, path) or isinstance(s.value, cst.Call) and reads.only(s.value)
    if isinstance(s, cst.Assign) and len(s.targets) == 1:
        target = s.targets[0].target
        if isinstance(target, cst.Name) and target.value == _root(path):  # `model = model.to(device)`
            return isinstance(s.value, cst.Call) and (
                isinstance(s.value.func, cst.Attribute) and _path(s.value.func.value) == target.value
                and _harmless_call(s.value, names, path, moves_only=True) or reads.compiled(s.value, target.value))
        if isinstance(target, cst.Name):  # `params = [p for p in model.layer4.parameters()]`: a read
            return _param_read(s.value, path) or isinstance(s.value, cst.Call) and reads.only(s.value) \
                or isinstance(s.value, (cst.ListComp, cst.GeneratorExp)) and reads.counted(s.value)
        return not _names(s.value, names, sizes=True) and _harmless_store(target, s.value, path)
    return False


# functions that only read what they are given (a module's repr, a count of its parameters)
_READERS = frozenset({"print", "len", "str", "repr", "format", "sum", "list", "tuple", "sorted", "min", "max",
                      "any", "all", "isinstance", "type", "id", "pprint.pprint", "torchsummary.summary",
                      "torchinfo.summary", "torchinfo.torchinfo.summary"})
_LOG_METHODS = frozenset({"debug", "info", "warning", "warn", "error", "critical", "log", "exception"})
_LOGGERS = frozenset({"logging", "logger", "log", "LOGGER", "LOG", "_logger"})
# what a parameter tells without changing (`p.numel()`, `p.requires_grad`)
_PARAM_READS = frozenset({"requires_grad", "numel", "nelement", "shape", "dtype", "device", "ndim", "dim", "size",
                          "is_leaf", "data_ptr", "element_size"})


class _Reads:
    """Reads of the model that cannot unfreeze any of it: a call of a known reader (`print`, a
    logger's method, `sum`, torchinfo's `summary`) whose arguments hand on the model or its
    parts as they are, f-strings of them, and counts over its parameters that read each one's
    size or flag only. A function of the project, or one not known, may set requires_grad."""

    def __init__(self, names: set[str], qualname) -> None:
        self.names, self.qualname = names, qualname

    def only(self, call: cst.Call) -> bool:
        return self._reader(call.func) and all(self._arg(a.value) for a in call.args)

    def counted(self, comp) -> bool:
        """`trainable = [n for n, p in model.named_parameters() if p.requires_grad]`: a list of the
        parameters (or names) a flag or size picks, made without changing any."""
        return self._count(comp)

    def compiled(self, call: cst.Call, root: str) -> bool:
        """`model = torch.compile(model, ...)`: a wrapper over the same parameters."""
        return self.qualname(call.func) == "torch.compile" and bool(call.args) \
            and _path(call.args[0].value) == root and all(not _names(a.value, self.names) for a in call.args[1:])

    def _reader(self, func) -> bool:
        if isinstance(func, cst.Attribute) and func.attr.value in _LOG_METHODS \
                and (dotted(func.value) or "").rpartition(".")[2] in _LOGGERS:
            return True
        return self.qualname(func) in _READERS

    def _arg(self, e) -> bool:
        if not _names(e, self.names, sizes=True) or _path(e) is not None:
            return True
        if isinstance(e, cst.Call):
            return self.only(e)
        if isinstance(e, cst.FormattedString):
            return all(self._arg(p.expression) for p in e.parts if isinstance(p, cst.FormattedStringExpression))
        if isinstance(e, (cst.GeneratorExp, cst.ListComp)):
            return self._count(e)
        return False

    def _count(self, comp) -> bool:
        """`p.numel() for p in model.parameters() if p.requires_grad` (or over `named_parameters()`):
        the parameter is only asked for its size or flag."""
        f = comp.for_in
        it = f.iter
        if f.inner_for_in is not None or not (isinstance(it, cst.Call) and not it.args
                                              and isinstance(it.func, cst.Attribute)
                                              and it.func.attr.value in ("parameters", "named_parameters")
                                              and _path(it.func.value) is not None):
            return False
        target = f.target.elements[-1].value if isinstance(f.target, cst.Tuple) and f.target.elements else f.target
        if not isinstance(target, cst.Name):
            return False
        var = target.value  # the parameter; a name of `named_parameters()` is a str
        rest = self.names - {n.value for n in walk(f.target) if isinstance(n, cst.Name)}
        # the parameter itself as the element (`len([p for p in model.parameters() if p.requires_grad])`):
        # handed as it is to a reader, or to a name whose later uses are judged where they are
        bare = isinstance(comp.elt, cst.Name) and comp.elt.value == var
        for part in (*(() if bare else (comp.elt,)), *(i.test for i in f.ifs)):
            asked = {id(a.value) for a in walk(part) if isinstance(a, cst.Attribute) and a.attr.value in _PARAM_READS}
            if any(isinstance(n, cst.Name) and n.value == var and id(n) not in asked for n in walk(part)) \
                    or _names(part, rest, sizes=True) or not self._asks_only(part, var):
                return False
        return True

    @staticmethod
    def _asks_only(part, var: str) -> bool:
        """Every call in `part` is a parameter's own read (`p.numel()`), or a builtin reader of one."""
        return all(isinstance(c.func, cst.Attribute) and c.func.attr.value in _PARAM_READS
                   and isinstance(c.func.value, cst.Name) and c.func.value.value == var
                   or isinstance(c.func, cst.Name) and c.func.value in ("len", "int", "float", "bool")
                   for c in walk(part) if isinstance(c, cst.Call))


def _param_read(value, path: str) -> bool:
    """`model.layer4.parameters()`, a list() or tuple() of it, or a list of its items."""
    if isinstance(value, (cst.ListComp, cst.GeneratorExp)) and isinstance(value.elt, cst.Name) \
            and isinstance(value.for_in.target, cst.Name) and value.for_in.target.value == value.elt.value \
            and value.for_in.inner_for_in is None and not value.for_in.ifs:
        value = value.for_in.iter
    elif isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and value.func.value in ("list", "tuple") \
            and len(value.args) == 1:
        value = value.args[0].value
    return isinstance(value, cst.Call) and not value.args and isinstance(value.func, cst.Attribute) \
        and value.func.attr.value == "parameters" and (where := _path(value.func.value)) is not None \
        and (where == _root(path) or _within(where, _root(path)))


def _harmless_store(target, value, path: str) -> bool:
    where = _path(target)
    if where is None or not _within(where, _root(path)):  # on an alias, or the model's name itself
        return False
    if where.endswith(".requires_grad"):
        return isinstance(value, cst.Name) and value.value == "False" \
            or not _touches(where[: -len(".requires_grad")], path)
    return not _touches(where, path)


def _harmless_call(call, names: set[str], path: str, moves_only: bool = False) -> bool:
    if not isinstance(call, cst.Call) or not isinstance(call.func, cst.Attribute) \
            or any(_names(a.value, names, sizes=True) for a in call.args):
        return False
    where, method = _path(call.func.value), call.func.attr.value
    if where is None or not (where == _root(path) or _within(where, _root(path))) \
            or moves_only and method not in _KEEPS[:-2]:
        return False
    if method in _KEEPS:
        return True
    if method == "requires_grad_":
        return _false(call.args) or not _touches(where, path)
    return False


def _false(args) -> bool:
    """`requires_grad_(False)` or `requires_grad_(requires_grad=False)`."""
    return len(args) == 1 and isinstance(args[0].value, cst.Name) and args[0].value.value == "False"


def _param_loop(loop: cst.For, names: set[str], path: str) -> bool:
    """`for p in model.layer4.parameters(): p.requires_grad = True` over another part, or any such
    loop that only freezes; its body sets requires_grad of the loop's name and nothing else."""
    it = loop.iter
    if not (isinstance(it, cst.Call) and isinstance(it.func, cst.Attribute) and it.func.attr.value == "parameters"
            and not it.args and isinstance(loop.target, cst.Name)) or loop.orelse is not None:
        return False
    where, var = _path(it.func.value), loop.target.value
    if where is None or not (where == _root(path) or _within(where, _root(path))) \
            or not isinstance(loop.body, cst.IndentedBlock):
        return False
    for line in loop.body.body:
        if not isinstance(line, cst.SimpleStatementLine) or len(line.body) != 1:
            return False
        s = line.body[0]
        stored = s.targets[0].target if isinstance(s, cst.Assign) and len(s.targets) == 1 else None
        if not (isinstance(stored, cst.Attribute) and stored.attr.value == "requires_grad"
                and isinstance(stored.value, cst.Name) and stored.value.value == var):
            return False
        if not (isinstance(s.value, cst.Name) and s.value.value == "False") and _touches(where, path):
            return False
    return True


# container methods that put a new layer in a module (its parameters trainable)
_GROWS = ("insert", "append", "extend", "add_module", "register_module", "register_parameter", "update")


def _grown(body, path: str) -> bool:
    """Somewhere in `body` a container inside (or around) `path` is given a new layer (no body to
    read: it may be)."""
    return body is None or any(
        isinstance(n, cst.Call) and isinstance(n.func, cst.Attribute) and n.func.attr.value in _GROWS
        and (grown := dotted(n.func.value)) is not None and _touches(grown, path) for n in walk(body))


def _changed(e) -> str:
    """What an unfreeze, a replacement or a hand-over reaches: its part, else all of its model."""
    return e.detail.get("sub") or e.detail.get("path") or e.target


def _touches(a: str, b: str) -> bool:
    return a == b or _within(a, b) or _within(b, a)


def _freezes_new_layers(flows, flow, freeze, opt) -> bool:
    """`self._set_masks(...)` after the optimizer, a method of the same class that puts new layers in
    place (`self.gates = nn.ModuleList(...)`) before it freezes `self`: it freezes a model rebuilt
    with layers the optimizer was never given (a fallback that builds new masks), not a toggle of
    the parameters the optimizer steps."""
    via = freeze.detail.get("via")
    if not via or not after(opt, freeze) or flow.scope.cls is None:
        return False
    for body in flows.bodies:
        if body.scope.cls is flow.scope.cls and body.scope.func_name == via:
            first = next((e for e in body.events if e.kind == FREEZE), None)
            return first is not None and any(e.kind == REPLACE and e.target == "self" and e.index < first.index
                                              for e in body.events)
    return False


def _filters_all(opt, freezes, events) -> bool:
    """Every parameter the optimizer gets is frozen when it is built (`model.requires_grad_(False)`
    and then `Adam(model.parameters())`, with nothing unfrozen, replaced or done out of sight
    between): a filter on requires_grad leaves it an empty list, and the optimizer raises
    "optimizer got an empty parameter list"."""
    path = opt.detail["path"]
    return any((_part(f) == path or _within(path, _part(f))) and f.index < opt.index
               and "picked" not in f.detail and "cut" not in f.detail
               and not any(e.kind in (UNFREEZE, REPLACE, OPAQUE) and f.index < e.index < opt.index for e in events)
               for f in freezes)


def _partly(freeze, unfreeze, opt) -> bool:
    """The unfreeze sets back only some of what the freeze froze before the optimizer got them: a
    subset a name test of its own picks (`if "bias" in n` after `if "lora_" not in n`), where it
    cannot run after the optimizer is built (after it, it is gradual unfreezing, which needs every
    parameter in the optimizer); or, from one helper that does both, where the helper's summary says
    its freeze outlives its own unfreezes (loralib's `mark_only_lora_as_trainable(model, bias)`)."""
    if unfreeze.node is freeze.node:
        return bool(freeze.detail.get("kept"))
    return not sets_back(unfreeze, freeze) and not after(opt, unfreeze)


def _within(part: str | None, whole: str | None) -> bool:
    """`part` lies inside `whole` (`model.layer1` in `model`): an unfreeze of all of `whole` sets it back."""
    return bool(part and whole) and part.startswith((whole + ".", whole + "["))


def _same_part(a: str, b: str) -> bool:
    """The same part of a model; indexed parts of one container (`layer[i]`, `layer[j]`) may be
    the same, so they count as one."""
    return a == b or ("[" in a and "[" in b and a.split("[")[0] == b.split("[")[0])
