"""FZ302 layer-replaced-after-optimizer: a new layer assigned after the optimizer was built."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Iterable

import libcst as cst

from freezelint.check.events import unwrap_self_returning
from freezelint.check.facts import Facts
from freezelint.check.events import PEFT
from freezelint.check.flow import (ACTIVITY, ADD_GROUP, DDP_WRAP, FREEZE, OPT_BUILD, REBIND, REPLACE, Event, Flow, after,
                                   between, dropped_on_return, flows_of, rebound)
from freezelint.check.known import is_parameter_free
from freezelint.check.syntax import call_arg, dotted, walk
from freezelint.check.rules.base import (LIGHTNING_CALLBACK, LIGHTNING_WORDS, OPTIMIZER_CALL, OPTIMIZER_CLASS, Example,
                                         Finding, Rule, src)


class LayerReplacedAfterOptimizer(Rule):
    code = "FZ302"
    words = ("optim", *LIGHTNING_WORDS)
    triggers = (OPTIMIZER_CALL, *OPTIMIZER_CLASS, LIGHTNING_CALLBACK)
    # a layer stored on a module or in its container (`model[4] = ...`), timm's reset_classifier, or a
    # plain name bound to a call after a
    # `.parameters()` (the module rebuilt under its name; lazy, it scans on from the first one only)
    requires = ((r"(?:\.\w+|\w\[[^\]\n]+\])\s*=\s*[\w.]*\.?[A-Z]\w*\(|\.reset_classifier\s*\("
                 r"|\.parameters\(\)[\s\S]*?\n[ \t]*\w+[ \t]*(?::[^=\n]*)?=[ \t]*[\w.]+\("
                 r"|\b(?:get_peft_model|add_adapter|inject_adapter_in_model)\s*\("),)
    what = ("Finds a submodule replaced (`model.fc = nn.Linear(...)`, `model.classifier[6] = ...`), a module rebuilt under its name "
            "(`mlp = MLP()` again), or PEFT adapters put on a model (`get_peft_model`, `add_adapter`), after an "
            "optimizer over it was built.")
    why = (
        "An optimizer holds the Parameter objects it was given. A layer assigned afterwards has new "
        "Parameters: its `.grad` is computed at every backward, but the optimizer never updates it, "
        "and keeps the old layer alive instead. The new head silently stays at its random init."
    )
    notes = (
        "An optimizer built through a name that holds an optimizer class counts (`optimizer_class = "
        "bnb.optim.AdamW8bit if args.use_8bit_adam else torch.optim.AdamW`, or the two in the arms of an `if`). "
        "Follows helpers of the project's other files (an optimizer built by `build_optimizer(model)` "
        "in a builder module) and Lightning's order: `configure_optimizers` runs before every "
        "training hook, so a layer replaced in `on_train_epoch_start` comes after the optimizer. In a "
        "Callback's training hooks (`on_fit_start` ... `on_train_epoch_end`, BaseFinetuning's "
        "`finetune_function`) a layer replaced on `pl_module` is reported whatever the optimizer, even "
        "when the LightningModule is not visible: Lightning built it over the module before the hook. "
        "timm's `model.reset_classifier(n)` replaces the classifier too: reported where `model` is known "
        "to come from `timm.create_model` (never by the method's name alone) and the optimizer holds every "
        "parameter of it; `reset_classifier(0)` (an nn.Identity) is silent. "
        "Silent for layers without parameters (`nn.Identity()`, activations, pooling, losses), "
        "in `setup` (before the optimizer), for `copy.deepcopy` (EMA and teacher copies stay out "
        "of the optimizer on purpose) and when the hook adds a param group or calls "
        "`trainer.strategy.setup_optimizers`. "
        "A plain class (no Module; any base a plain class of the project) that builds the model it trains "
        "itself (`self.model = build_model(cfg)` in `__init__`, assigned in no other method, and no `setattr` on "
        "self) is read as a whole: `__init__` runs before any method, and its methods run after it in any order, "
        "any number of times; a subclass in another file than the base whose constructor it runs is reported "
        "at its method's change, naming that constructor. A method that replaces a layer of that model after `__init__` built the "
        "optimizer is reported, unless any method builds an optimizer over the model again or adds a param group "
        "(which may run after it). "
        "A plain name bound to a new module with parameters (`mlp = MLP(...)`, `nn.Linear(...)`, in an "
        "assignment) after an optimizer bound to a name took the parameters of the module it held is reported "
        "where, later in the same body, a training step runs the name: its forward (`mlp(x)`) with a step of that "
        "optimizer after it (`optimizer.step()`, `scaler.step(optimizer)`), or a function given both "
        "(`train_one_epoch(mlp, optimizer, loader)`). Silent for a value that takes the old module "
        "(`mlp.to(device)`, `accelerator.prepare(mlp)`, `DDP(mlp)`, `torch.compile(mlp)`, `get_peft_model(mlp, "
        "cfg)`), a deep copy, a parameter-free layer, a new module frozen whole or built in `eval()`, one whose "
        "name later loads a state dict with `assign=True` (the state's tensors become its parameters: they may be "
        "those the optimizer holds), when the optimizer is built again over it, gets a param group "
        "or is rebound, for a `for` target (each fold's own optimizer), a rebinding in an arm that returns, and "
        "one in another function than the steps. A plain `load_state_dict` (a checkpoint resumed into a rebuilt "
        "module) copies values into the new module's own Parameters: reported where the steps train it, silent "
        "where it is only evaluated."
    )
    bad = [
        Example(
            """
            import torch.nn as nn
            import torch.optim as optim
            import torchvision

            model = torchvision.models.resnet18(weights=None)
            optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
            model.fc = nn.Linear(512, 10)  # expect: FZ302
            """,
            instead="""
            import torch.nn as nn
            import torch.optim as optim
            import torchvision

            model = torchvision.models.resnet18(weights=None)
            model.fc = nn.Linear(512, 10)  # replace layers before the optimizer is built
            optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
            """,
        ),
        Example(
            """
            import torch.nn as nn
            from lightning.pytorch.callbacks import Callback

            class NewHead(Callback):  # Lightning built the optimizer before any of these hooks
                def on_fit_start(self, trainer, pl_module):
                    pl_module.head = nn.Linear(512, 10)  # expect: FZ302
            """
        ),
        Example(
            """
            import torch
            import torch.nn as nn
            import torchvision

            def build(new_classes=None):
                model = torchvision.models.resnet18(weights=None)
                opt = torch.optim.SGD(model.parameters(), lr=0.1)
                if new_classes is not None:
                    model.fc = nn.Linear(512, new_classes)  # expect: FZ302
                    return model, opt  # the caller trains with this optimizer
                return model, opt
            """
        ),
        Example(
            """
            import torch
            import torch.nn as nn
            import torchvision

            def fit(loader, epochs, new_classes):
                model = torchvision.models.resnet18(weights=None)
                opt = torch.optim.SGD(model.parameters(), lr=0.1)
                for epoch in range(epochs):
                    if epoch == 3:
                        # the break skips the rebuild below
                        model.fc = nn.Linear(512, new_classes)  # expect: FZ302
                        break
                    opt = torch.optim.SGD(model.parameters(), lr=0.1)
                    for x, y in loader:
                        nn.functional.cross_entropy(model(x), y).backward()
                        opt.step()
                for x, y in loader:
                    nn.functional.cross_entropy(model(x), y).backward()
                    opt.step()
            """
        ),
        Example(
            """
            import timm
            import torch

            model = timm.create_model("resnet18", pretrained=True)
            opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
            model.reset_classifier(4)  # expect: FZ302
            """,
            instead="""
            import timm
            import torch

            model = timm.create_model("resnet18", pretrained=True)
            model.reset_classifier(4)  # a new head first
            opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
            """,
        ),
        Example(
            """
            import torch
            import torch.nn as nn
            import torchvision

            def fit(loader, epochs, new_classes, evaluate):
                model = torchvision.models.resnet18(weights=None)
                opt = torch.optim.SGD(model.parameters(), lr=0.1)
                for epoch in range(epochs):
                    if epoch == 3:
                        # the break, inside the with, skips the rebuild below
                        model.fc = nn.Linear(512, new_classes)  # expect: FZ302
                        with torch.no_grad():
                            evaluate(model)
                            break
                    opt = torch.optim.SGD(model.parameters(), lr=0.1)
                    for x, y in loader:
                        nn.functional.cross_entropy(model(x), y).backward()
                        opt.step()
                for x, y in loader:
                    nn.functional.cross_entropy(model(x), y).backward()
                    opt.step()
            """
        ),
        Example(
            """
            import torch
            import torch.nn as nn

            backbone = nn.Linear(8, 8)
            mlp = nn.Linear(1, 8)
            optimizer = torch.optim.AdamW([{"params": backbone.parameters()}, {"params": mlp.parameters()}], lr=1e-3)
            mlp = nn.Linear(1, 8)  # expect: FZ302
            for x, f in loader:
                loss = (backbone(x) + mlp(f)).pow(2).mean()
                loss.backward()
                optimizer.step()
                optimizer.zero_grad()
            """,
            instead="""
            import torch
            import torch.nn as nn

            backbone = nn.Linear(8, 8)
            mlp = nn.Linear(1, 8)  # built once, before the optimizer takes its parameters
            optimizer = torch.optim.AdamW([{"params": backbone.parameters()}, {"params": mlp.parameters()}], lr=1e-3)
            for x, f in loader:
                loss = (backbone(x) + mlp(f)).pow(2).mean()
                loss.backward()
                optimizer.step()
                optimizer.zero_grad()
            """,
        ),
        Example(
            """
            import torch
            from accelerate import Accelerator

            def main(args):
                accelerator = Accelerator()
                unet = load_unet(args)
                fidelity_mlp = FidelityMLP(args.dim)
                params = [{"params": unet.parameters()}, {"params": fidelity_mlp.parameters(), "lr": 1e-4}]
                optimizer = torch.optim.AdamW(params, lr=args.lr)
                unet, optimizer, loader = accelerator.prepare(unet, optimizer, args.loader)
                fidelity_mlp = FidelityMLP(args.dim)  # expect: FZ302
                fidelity_mlp = accelerator.prepare(fidelity_mlp)  # the same new module: no help
                for epoch in range(args.epochs):
                    for batch in loader:
                        emb = fidelity_mlp(batch["fidelity"])
                        accelerator.backward(unet(batch["x"], emb).mean())
                        optimizer.step()
                        optimizer.zero_grad()

            class FidelityMLP(torch.nn.Module):
                def __init__(self, dim):
                    super().__init__()
                    self.proj = torch.nn.Linear(1, dim)

                def forward(self, f):
                    return self.proj(f)
            """
        ),
        Example(
            """
            import bitsandbytes as bnb
            import torch
            import torch.nn as nn

            def main(args, model, loader):
                optimizer_class = bnb.optim.AdamW8bit if args.use_8bit_adam else torch.optim.AdamW
                optimizer = optimizer_class(model.parameters(), lr=args.lr)
                model.head = nn.Linear(768, args.num_classes)  # expect: FZ302
                train(model, optimizer, loader)
            """,
            instead="""
            import bitsandbytes as bnb
            import torch
            import torch.nn as nn

            def main(args, model, loader):
                model.head = nn.Linear(768, args.num_classes)  # the new head first
                optimizer_class = bnb.optim.AdamW8bit if args.use_8bit_adam else torch.optim.AdamW
                optimizer = optimizer_class(model.parameters(), lr=args.lr)
                train(model, optimizer, loader)
            """,
        ),
        Example(
            """
            import torch
            import torch.nn as nn

            def fit(loader, resume=None):
                mlp = nn.Linear(1, 8)
                optimizer = torch.optim.AdamW(mlp.parameters(), lr=1e-3)
                if resume is not None:
                    mlp = nn.Linear(1, 8)  # expect: FZ302
                    mlp.load_state_dict(torch.load(resume))  # values copied into the new module's own Parameters
                for x, f in loader:
                    mlp(f).sum().backward()
                    optimizer.step()
            """,
            instead="""
            import torch
            import torch.nn as nn

            def fit(loader, resume=None):
                mlp = nn.Linear(1, 8)
                optimizer = torch.optim.AdamW(mlp.parameters(), lr=1e-3)
                if resume is not None:
                    mlp.load_state_dict(torch.load(resume))  # into the module the optimizer holds
                for x, f in loader:
                    mlp(f).sum().backward()
                    optimizer.step()
            """,
        ),
        Example(
            """
            import torch
            from peft import LoraConfig, get_peft_model

            model = load_model()
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
            model = get_peft_model(model, LoraConfig(r=8, target_modules=["q_proj", "v_proj"]))  # expect: FZ302
            for batch in loader:
                model(**batch).loss.backward()
                optimizer.step()
                optimizer.zero_grad()
            """,
            instead="""
            import torch
            from peft import LoraConfig, get_peft_model

            model = load_model()
            model = get_peft_model(model, LoraConfig(r=8, target_modules=["q_proj", "v_proj"]))
            optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
            for batch in loader:
                model(**batch).loss.backward()
                optimizer.step()
                optimizer.zero_grad()
            """,
        ),
    ]
    good = [
        """
        import torch
        import torch.nn as nn
        import torchvision

        def main(loader):
            model = torchvision.models.resnet18(weights=None)
            optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
            # each part itself moved, cast or compiled: the same Parameters the optimizer holds
            model.fc = model.fc.to("cpu")
            model.layer3 = model.layer3.float()
            model.layer4 = torch.compile(model.layer4)
            for epoch in range(2):
                for x, y in loader:
                    loss = nn.functional.cross_entropy(model(x), y)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
            return model, optimizer
        """,
        """
        import torch
        from peft import LoraConfig, get_peft_model

        model = load_model()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)  # a first try, built again below
        peft_model = get_peft_model(model, LoraConfig(r=8, target_modules=["q_proj"]))
        optimizer = torch.optim.AdamW(peft_model.parameters(), lr=1e-4)
        head_opt = torch.optim.SGD(head.parameters(), lr=0.1)  # another model's optimizer
        head(warmup_batch).loss.backward()
        head_opt.step()  # its steps end before the adapters come
        head.add_adapter(LoraConfig(r=4))
        for batch in loader:
            peft_model(**batch).loss.backward()
            optimizer.step()
        """,
        """
        import timm
        import torch

        model = timm.create_model("resnet18", pretrained=True)
        opt = torch.optim.AdamW(model.layer4.parameters(), lr=1e-3)  # the head is not trained by this one
        model.reset_classifier(4)
        features = timm.create_model("resnet50", pretrained=True)
        opt2 = torch.optim.AdamW(features.parameters(), lr=1e-3)
        features.reset_classifier(0)  # an nn.Identity: no parameters
        net = build_model()  # not known to be a timm model: its reset_classifier may be anything
        opt3 = torch.optim.AdamW(net.parameters(), lr=1e-3)
        net.reset_classifier(4)
        """,
        """
        import torch.nn as nn
        import torch.optim as optim
        import torchvision

        model = torchvision.models.resnet18(weights=None)
        model.fc = nn.Linear(512, 10)
        optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        """,
        """
        import torch.nn as nn
        import torch.optim as optim

        optimizer = optim.SGD(model.parameters(), lr=0.01)
        model.fc = nn.Linear(512, 10)
        optimizer.add_param_group({"params": model.fc.parameters()})
        """,
        """
        import torch.nn as nn
        import torch.optim as optim

        optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        model.fc = nn.Identity()  # features only: no new parameters the optimizer could miss
        model.criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
        """,
        """
        import copy
        import torch.nn as nn
        from lightning.pytorch.callbacks import Callback

        class NewHead(Callback):
            def setup(self, trainer, pl_module, stage):  # runs before configure_optimizers
                pl_module.head = nn.Linear(512, 10)

            def on_fit_start(self, trainer, pl_module):
                pl_module.ema = copy.deepcopy(pl_module.net)  # an EMA copy: kept out of the optimizer
                pl_module.criterion = nn.CrossEntropyLoss(weight=trainer.datamodule.class_weights)  # no parameters

            def on_train_epoch_start(self, trainer, pl_module):
                pl_module.head = nn.Linear(512, 10)
                trainer.strategy.setup_optimizers(trainer)  # configure_optimizers again
        """,
        """
        import torch
        import torch.nn as nn
        import torchvision

        def build(loader, new_classes=None):
            model = torchvision.models.resnet18(weights=None)
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            if new_classes is not None:
                model.fc = nn.Linear(512, new_classes)
                return model  # this path leaves without the optimizer: nothing trains with it
            for x, y in loader:
                nn.functional.cross_entropy(model(x), y).backward()
                opt.step()
            return model
        """,
        """
        import torch
        import torch.nn as nn
        import torchvision

        def fit(loader, stages):
            model = torchvision.models.resnet18(weights=None)
            for stage in stages:
                if stage.final:
                    opt = torch.optim.SGD(model.parameters(), lr=0.1)
                    break
                # the optimizer is built only when leaving the loop
                model.fc = nn.Linear(512, stage.classes)
            for x, y in loader:
                nn.functional.cross_entropy(model(x), y).backward()
                opt.step()
        """,
        """
        import torch
        import torch.nn as nn
        import torchvision

        def build(loader, new_classes=None):
            model = torchvision.models.resnet18(weights=None)
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            if new_classes is not None:
                model.fc = nn.Linear(512, new_classes)
                with torch.no_grad():
                    model.fc.bias.zero_()
                    return model  # this path leaves without the optimizer: nothing trains with it
            for x, y in loader:
                nn.functional.cross_entropy(model(x), y).backward()
                opt.step()
            return model
        """,
        """
        import copy
        import torch
        import torch.nn as nn
        from torch.nn.parallel import DistributedDataParallel as DDP

        mlp = nn.Linear(1, 8)
        optimizer = torch.optim.AdamW(mlp.parameters(), lr=1e-3)
        # the same module (and parameters) under a wrapper, or moved
        mlp = mlp.to(device)
        mlp = mlp.cuda()
        mlp = accelerator.prepare(mlp)
        mlp = torch.compile(mlp)
        mlp = DDP(mlp)
        mlp = nn.DataParallel(mlp)
        ema = copy.deepcopy(mlp)  # a copy under a new name, kept out of the optimizer on purpose
        for x, f in loader:
            mlp(f).sum().backward()
            optimizer.step()
        """,
        """
        import torch
        import torch.nn as nn

        mlp = nn.Linear(1, 8)
        optimizer = torch.optim.AdamW(mlp.parameters(), lr=1e-3)
        mlp = nn.Linear(1, 16)
        optimizer = torch.optim.AdamW(mlp.parameters(), lr=1e-3)  # built again over the new one
        head = nn.Linear(8, 2)
        opt2 = torch.optim.SGD(head.parameters(), lr=0.1)
        head = nn.Linear(8, 4)
        opt2.add_param_group({"params": head.parameters()})  # the new one's parameters added
        for x, f in loader:
            (head(mlp(f)).sum()).backward()
            optimizer.step()
            opt2.step()
        """,
        """
        import torch
        import torch.nn as nn

        def fit(loader, only_eval):
            mlp = nn.Linear(1, 8)
            optimizer = torch.optim.AdamW(mlp.parameters(), lr=1e-3)
            if only_eval:
                mlp = nn.Linear(1, 8)
                return evaluate(mlp)  # this path leaves: nothing trains the new one
            for x, f in loader:
                mlp(f).sum().backward()
                optimizer.step()
            torch.save(mlp.state_dict(), "best.pt")
            mlp = nn.Linear(1, 8)
            mlp.load_state_dict(torch.load("best.pt"))  # the saved weights in a new module, evaluated only
            with torch.no_grad():
                return [mlp(f) for x, f in loader]

        def keep(loader):
            mlp = nn.Linear(1, 8)
            optimizer = torch.optim.AdamW(mlp.parameters(), lr=1e-3)
            state = mlp.state_dict(keep_vars=True)
            mlp = nn.Linear(1, 8)
            mlp.load_state_dict(state, assign=True)  # the Parameter objects themselves: those the optimizer holds
            for x, f in loader:
                mlp(f).sum().backward()
                optimizer.step()

        def reset():
            mlp = nn.Linear(1, 8)  # another function's local
            return mlp
        """,
        """
        import torch
        import torch.nn as nn

        for fold in range(5):
            mlp = nn.Linear(1, 8)  # each fold builds its module and its own optimizer
            optimizer = torch.optim.AdamW(mlp.parameters(), lr=1e-3)
            for x, f in loader:
                mlp(f).sum().backward()
                optimizer.step()
        for net in [nn.Linear(1, 8), nn.Linear(1, 16)]:
            opt = torch.optim.SGD(net.parameters(), lr=0.1)
            for x, f in loader:
                net(f).sum().backward()
                opt.step()
        for x, f in loader:
            mlp(f).sum().backward()
            optimizer.step()
        mlp = nn.Linear(1, 8)  # built again for a check that trains nothing
        with torch.no_grad():
            for x, f in loader:
                print(mlp(f))
        """,
        """
        import bitsandbytes as bnb
        import torch
        import torch.nn as nn

        def main(args, model, loader):
            optimizer_class = bnb.optim.AdamW8bit if args.use_8bit_adam else torch.optim.AdamW
            optimizer = optimizer_class(model.backbone.parameters(), lr=args.lr)  # the backbone only
            model.head = nn.Linear(768, args.num_classes)
            head_opt = optimizer_class(model.head.parameters(), lr=args.lr)  # the new head's own
            train(model, [optimizer, head_opt], loader)
        """,
    ]

    def check(self, facts: Facts, module) -> Iterable[Finding]:
        flows = flows_of(facts)
        yield from self._rebuilt(facts)
        yield from self._adapted(facts)
        for flow in [*flows.bodies, *flows.instances]:
            evs = flow.events
            for r in (e for e in evs if e.kind == REPLACE):
                path = r.detail.get("path") or ""
                head = r.detail.get("classifier")  # timm's reset_classifier: which attribute is unknown
                builds = [o for o in evs if o.kind == OPT_BUILD and o.target == r.target and o.index < r.index
                          and after(o, r) and not rebound(flow, o, r)  # a layer of a new model replaced
                          and (o.detail["whole"] or not head and path.startswith(o.detail["path"] + "."))]
                builds = [o for o in builds if not dropped_on_return(flow, r, o)]  # a path that returns first
                if flow.instance:  # a trainer's own optimizer: one a method builds may be built after the replacement
                    # (one of a base's constructor of another file is judged in that file)
                    builds = [o for o in builds if not o.detail.get("hook")] if not r.detail.get("built_in") else []
                if not builds:
                    continue
                later = [e for e in evs if e.kind in (OPT_BUILD, ADD_GROUP) and after(r, e) and e is not r]
                if later:
                    continue
                where = builds[-1].detail.get("lightning")
                built_by = builds[-1].detail.get("built_in") or f"`{flow.instance}.__init__`"  # a trainer's own
                when, fix = ((f"in `{r.detail.get('hook')}`, after Lightning built the optimizer ({where} runs "
                              f"before every training hook)", "replace it in `setup`, which runs before")
                             if where else
                             (f"in `{r.detail['hook']}`, after {built_by} built the optimizer over "
                              f"`{builds[-1].detail['path']}`", "build the optimizer after replacing layers")
                             if flow.instance and r.detail.get("hook") else
                             (f"after the optimizer was built over `{builds[-1].detail['path']}`",
                              "build the optimizer after replacing layers"))
                what = f"`{src(r.node)}` replaces the classifier of `{path}`" if head else f"`{path}` is replaced"
                yield self.finding(
                    r.node,
                    f"{what} {when}: the new layer's parameters are in no param group and never "
                    f"train; {fix}, or `add_param_group` the new layer",
                    stmt=r.stmt, facts=facts, used=[r, *builds],
                )

    def _rebuilt(self, facts: Facts) -> Iterable[Finding]:
        """`mlp = FidelityMLP(...)` again after `AdamW(mlp.parameters())`, with the training steps
        that follow running `mlp` and that optimizer: the run-time FZ302 of a module in no param group."""
        if not _bound_twice(facts):
            return  # cheap: no name of any body bound twice to a call (most files)
        flows = flows_of(facts)
        seen: set[int] = set()
        for flow in flows.bodies:
            if flow.scope.kind not in ("module", "function"):
                continue
            evs = flow.events
            for r in evs:
                if r.kind != REBIND or "." in r.target or r.detail.get("items") or id(r.node) in seen:
                    continue
                builds = [o for o in evs if o.kind == OPT_BUILD and o.target == r.target and o.index < r.index
                          and o.detail.get("name") and after(o, r) and not rebound(flow, o, r)
                          and not dropped_on_return(flow, r, o)
                          and not any(e.kind == REBIND and e.target == o.detail["name"] and e.node is not o.node
                                      for e in between(flow, o, r))]  # the name holds another optimizer by then
                if not builds or not _new_module(facts, flow, r):
                    continue
                o = builds[-1]
                use = _trained_after(flow, r, o.detail["name"])
                if use is None:
                    continue
                seen.add(id(r.node))
                line = flows.positions  # only where a finding is made: the metadata pass costs
                name, opt = r.target, o.detail["name"]
                call = unwrap_self_returning(r.node)
                built = f"{src(call.func)}({'...' if call.args else ''})" if isinstance(call, cst.Call) else src(r.node)
                loads = [n for n in _loads(facts, flow, r) or () if n in line]
                loaded = (f" (the state loaded into it, line {_line(line, loads[0])}, is copied into its own "
                          f"Parameters, not into those `{opt}` holds)") if loads else ""
                yield self.finding(
                    r.node,
                    f"`{name}` is bound to a new module (`{built}`, line {_line(line, r.stmt)}) after `{opt}` took the "
                    f"parameters of the one it held (line {_line(line, o.node)}), and the training steps run the new one "
                    f"(line {_line(line, use.node)}): its parameters are in no param group and never train{loaded}, "
                    f"while `{opt}` updates the old module, out of the forward; build the optimizer after the last "
                    f"construction, or `add_param_group` the new module's parameters",
                    stmt=r.stmt, facts=facts, used=[r, o, use],
                )


    def _adapted(self, facts: Facts) -> Iterable[Finding]:
        """`get_peft_model(model, cfg)` / `model.add_adapter(cfg)` after `AdamW(model.parameters())`,
        and training steps with that optimizer through the model after it: PEFT freezes every
        parameter the optimizer holds and adds adapters no param group holds. Not where any optimizer
        is built or a param group added after the PEFT call, nor where the model is rebound between."""
        flows = flows_of(facts)
        for flow in flows.bodies:
            if flow.scope.kind not in ("module", "function"):
                continue
            evs = flow.events
            for p in (e for e in evs if e.kind == PEFT and e.detail.get("sub") in (None, "", e.target)):
                builds = [o for o in evs if o.kind == OPT_BUILD and o.target == p.target and o.index < p.index
                          and o.detail.get("name") and o.detail.get("whole") and after(o, p)
                          and not rebound(flow, o, p) and not dropped_on_return(flow, p, o)]
                if not builds or any(e.kind in (OPT_BUILD, ADD_GROUP) and after(p, e) for e in evs if e is not p):
                    continue
                o = builds[-1]
                opt = o.detail["name"]
                names = [p.target, *_bound_to(p)]  # `model = get_peft_model(model, cfg)` or a new name
                use = next((u for n in dict.fromkeys(names)
                            if (u := _trained_after(flow, replace(p, target=n), opt)) is not None), None)
                if use is None:
                    continue
                line = flows.positions
                shown = f"{src(p.node.func)}(...)" if isinstance(p.node, cst.Call) else src(p.node)
                yield self.finding(
                    p.node,
                    f"`{shown}` comes after `{opt}` was built over the parameters of `{p.target}` (line "
                    f"{_line(line, o.node)}): PEFT freezes every parameter `{opt}` holds and adds adapters that no "
                    f"param group holds, so the training steps (line {_line(line, use.node)}) train nothing; build "
                    f"the optimizer after the adapters are added, over the parameters that require grad",
                    stmt=p.stmt, facts=facts, used=[p, o, use],
                )


def _bound_to(e: Event) -> list[str]:
    """The plain names an assignment statement binds the event's call to (`peft_model = get_peft_model(...)`)."""
    stmt = e.stmt
    if not isinstance(stmt, cst.SimpleStatementLine):
        return []
    return [t.target.value for s in stmt.body if isinstance(s, cst.Assign) and s.value is e.node
            for t in s.targets if isinstance(t.target, cst.Name)]


def _line(positions, node: cst.CSTNode) -> int:
    return positions[node].start.line if node in positions else 0


def _bound_twice(facts: Facts) -> bool:
    """Some body binds a plain name twice, a later binding a call: what a rebuilt module needs."""
    for scope in (facts.module_scope, *facts.func_scopes.values()):
        for bs in scope.bindings.values():
            if len(bs) > 1 and any(b.how == "expr" and isinstance(b.node, cst.Call) for b in bs[1:]):
                return True
    return False


def _new_module(facts: Facts, flow: Flow, r: Event) -> bool:
    """The REBIND is `name = <module with parameters>` in an assignment statement: not a `for`
    target, a `with ... as`, a walrus; not a parameter-free layer, a deep copy (an EMA or teacher
    copy, or the best weights restored), a module frozen where it is built, and no module whose
    state is loaded afterwards in the body with `assign=True` (the state's own tensors become its
    parameters: they may be the Parameter objects the optimizer holds, `state_dict(keep_vars=True)`).
    A plain load copies values into the new module's own Parameters: whether it trains through the
    old optimizer is `_trained_after`'s question."""
    stmt = r.stmt
    if not isinstance(stmt, cst.SimpleStatementLine) or not any(
            isinstance(s, (cst.Assign, cst.AnnAssign)) and s.value is not None
            and (s.value is r.node or any(n is r.node for n in walk(s.value))) for s in stmt.body):
        return False
    call = unwrap_self_returning(r.node)
    if not isinstance(call, cst.Call) or not facts.is_module(r.node, flow.scope):
        return False
    q = facts.qualname(call.func, flow.scope) or dotted(call.func) or ""
    if is_parameter_free(q) or q.rsplit(".", 1)[-1] in ("deepcopy", "copy"):
        return False
    # a module given another one (`ddp = DDP(model)` again, `Wrapper(backbone)`): its parameters may be
    # those the optimizer holds; a module named by an optimizer or a DDP wrap here, or known as one
    held = {e.target for e in flow.events if e.kind in (OPT_BUILD, DDP_WRAP)}
    for arg in call.args:
        for chain, root in _chains(arg.value):
            if (root.value in held or facts.is_module(root, flow.scope)) and not _plain_value(chain):
                return False
    chain = r.node
    while chain is not call:  # `Net().requires_grad_(False)`, `Net().eval()`: built frozen or for inference
        if not isinstance(chain, cst.Call) or not isinstance(chain.func, cst.Attribute):
            break
        method, flag = chain.func.attr.value, call_arg(chain, 0, "requires_grad")
        if method == "eval" or method == "requires_grad_" and isinstance(flag, cst.Name) and flag.value == "False":
            return False
        chain = chain.func.value
    loads = _loads(facts, flow, r)
    return loads is not None and not any(_assigns(load) for load in loads)


def _loads(facts: Facts, flow: Flow, r: Event) -> list[cst.Call] | None:
    """The `name.load_state_dict(...)` calls of the body from the rebinding statement on (None
    where the statement is not found in the body)."""
    body = flow.scope.node if flow.scope.node is not None else facts.module
    nodes = list(walk(body))
    at = next((k for k, n in enumerate(nodes) if n is r.stmt), None)
    if at is None:
        return None
    return [n for n in nodes[at:] if isinstance(n, cst.Call) and isinstance(n.func, cst.Attribute)
            and n.func.attr.value == "load_state_dict" and isinstance(n.func.value, cst.Name)
            and n.func.value.value == r.target]


def _assigns(load: cst.Call) -> bool:
    """`load_state_dict(state, assign=...)` other than `assign=False`, or `**kwargs` that may pass it:
    the state's tensors are put in place."""
    flag = call_arg(load, 2, "assign")
    return flag is not None and not (isinstance(flag, cst.Name) and flag.value == "False") \
        or any(a.star == "**" for a in load.args)


def _chains(expr: cst.BaseExpression) -> list[tuple[str, cst.Name]]:
    """The names and attribute chains `expr` reads (`unet.config.dim`, `backbone`), outermost
    only, each with its root name."""
    out: list[tuple[str, cst.Name]] = []
    inner: set[int] = set()
    for n in walk(expr):
        if id(n) in inner or not isinstance(n, (cst.Name, cst.Attribute)):
            continue
        chain = dotted(n)
        if chain is None:  # `f(x).y`: the call's own arguments are read on
            continue
        root = n
        while isinstance(root, cst.Attribute):
            root = root.value
        out.append((chain, root))  # type: ignore[arg-type]
        inner.update(id(m) for m in walk(n))
    return out


# parts of a chain that make it a value, not a module: `unet.config.cross_attention_dim`, `x.shape[1]`
_VALUE_PARTS = frozenset({"config", "cfg", "hparams", "args", "shape", "dtype", "device"})
_VALUE_END = re.compile(r"(?:dim|size|features|channels|classes|len|length)s?$|^(?:n|num)_")


def _plain_value(chain: str) -> bool:
    parts = chain.split(".")[1:]
    return bool(parts) and (bool(_VALUE_PARTS.intersection(parts)) or bool(_VALUE_END.search(parts[-1])))


def _trained_after(flow: Flow, r: Event, opt: str) -> Event | None:
    """The run of `r.target` a training step with the optimizer `opt` goes through after `r`: a
    forward (`mlp(x)`) with an `opt` step after it, or a helper given both (`train(mlp, opt, loader)`).
    None where the optimizer is built again, gets a param group, or is rebound, where the new module
    is frozen whole, or where no such step follows."""
    evs = flow.events
    later = [e for e in evs if after(r, e) and e is not r]
    if any(e.kind == ADD_GROUP or e.kind == OPT_BUILD and e.target == r.target
           or e.kind == REBIND and e.target == opt
           or e.kind == FREEZE and e.target == r.target and e.detail.get("sub") == r.target for e in later):
        return None
    steps = [e for e in later if e.kind == ACTIVITY and _names(e.node, opt)]
    for e in later:
        if e.kind != ACTIVITY or e.target != r.target or not isinstance(e.node, cst.Call):
            continue
        func = e.node.func
        if isinstance(func, cst.Name) and func.value == r.target:  # the forward, a step after it
            if any(after(e, s) for s in steps):
                return e
        elif isinstance(func, cst.Name) and e in steps:  # a helper of the loop given both
            return e
    return None


def _names(node: cst.CSTNode, name: str) -> bool:
    """A step call that reads the optimizer's name: `opt.step()`, `scaler.step(opt)`, `train(m, opt)`."""
    if not isinstance(node, cst.Call):
        return False
    parts = [node.func.value] if isinstance(node.func, cst.Attribute) else []
    parts += [a.value for a in node.args]
    return any(isinstance(p, cst.Name) and p.value == name for p in parts)
