"""FZ302 layer-replaced-after-optimizer: a new layer assigned after the optimizer was built."""

from __future__ import annotations

from typing import Iterable

from freezelint.check.facts import Facts
from freezelint.check.flow import ADD_GROUP, OPT_BUILD, REPLACE, after, dropped_on_return, flows_of, rebound
from freezelint.check.rules.base import LIGHTNING_CALLBACK, LIGHTNING_WORDS, OPTIMIZER_CALL, Example, Finding, Rule, src


class LayerReplacedAfterOptimizer(Rule):
    code = "FZ302"
    words = ("optim", *LIGHTNING_WORDS)
    triggers = (OPTIMIZER_CALL, LIGHTNING_CALLBACK)
    requires = (r"\.\w+\s*=\s*[\w.]*\.?[A-Z]\w*\(|\.reset_classifier\s*\(",)
    what = "Finds a submodule replaced (`model.fc = nn.Linear(...)`) after an optimizer over it was built."
    why = (
        "An optimizer holds the Parameter objects it was given. A layer assigned afterwards has new "
        "Parameters: its `.grad` is computed at every backward, but the optimizer never updates it, "
        "and keeps the old layer alive instead. The new head silently stays at its random init."
    )
    notes = (
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
        "(which may run after it)."
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
    ]
    good = [
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
    ]

    def check(self, facts: Facts, module) -> Iterable[Finding]:
        flows = flows_of(facts)
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
