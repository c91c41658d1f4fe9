"""FZ201 train-undoes-bn-freeze: `.train()` after BatchNorm was put in eval mode, not re-frozen."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterable

import libcst as cst

from freezelint.check.facts import Facts, is_batchnorm_class
from freezelint.check.known import is_library, is_module_class, is_parameter_free
from freezelint.check.lightning_version import KEEPS_MODES, declared_signal, version_signal
from freezelint.check.modes import _base_keeps, _own_train, _runs_next, ancestors, base_call, skipped_trains, train_keeps
from dataclasses import replace

from freezelint.check.events import CALLS, VIA, Flow, library_bases, lineage, whole_of
from freezelint.check.flow import (ACTIVITY, BN_FREEZE, EVAL, FREEZE, LIGHTNING_MODULES, OPAQUE, REBIND, TRAIN,
                                   UNFREEZE, after, between, flows_of, rebound)
from freezelint.check.rules.base import Example, Finding, Rule, code_of, src
from freezelint.check.syntax import dotted, walk


_SKIPS = r"super\(\s*\w+\s*,\s*self\s*\)\s*\.\s*train\(|Module\.train\(\s*self\b"


class TrainUndoesBnFreeze(Rule):
    code = "FZ201"
    words = (".eval(", ".train(")
    # or a train() override that skips its base's (whose re-freeze may be in another file)
    triggers = (r"\.eval\(\)|\.train\(\s*False|" + _SKIPS,)
    # (or an override's base call: eval() calls before it have no effect, whatever they put in eval)
    requires = (r"BatchNorm|classname|\bbn\d*\b|\bBN\b|norm|requires_grad|no_grad|inference_mode|"
                r"super\(\)\s*\.\s*train\(|" + _SKIPS,)
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
        "a `return model` whose BatchNorm was frozen; in a Module's `__init__`, `self.model = get_model()` "
        "or `self.model = self.get_model()` of a builder of the same file, and `model.apply(set_bn_eval)` "
        "on a local then stored as `self.model = model`, are that Module's own freeze): a `train_one_epoch(model)` "
        "that calls `model.train()` and then trains is reported at its call site, naming the line of "
        "its train(); a `model.freeze_bn()` re-applied after every train() is the working idiom and "
        "needs no train() override. A model whose class (or a base class of the project, in any file) "
        "overrides train() runs that override instead, where a re-freeze belongs: reported only where the "
        "override provably leaves the frozen BatchNorm in training mode (it calls `super().train(mode)` and "
        "re-applies no eval(), only logs, or re-applies eval() to other parts than the frozen one); silent "
        "where it loops over modules (mmdet's `norm_eval`), calls a helper that may re-freeze, or does anything "
        "that cannot be read. An override whose base call skips a base class's train() that re-freezes "
        "(`super(Base, self).train(mode)` or `nn.Module.train(self, mode)` runs nn.Module's train(), not Base's) "
        "in a class whose inherited `__init__` froze BatchNorm is reported at that call (base classes of the "
        "file, or the one base class of another project file, as its summary records it). An override that "
        "puts parts in eval mode and only then calls its base's train() (`self._freeze_stages()`, the "
        "norm_eval loop, then `super().train(mode)`, mmdet-style) is reported at that call: it puts every "
        "submodule back in train mode (the eval() calls read through the class's methods and through "
        "functions of the file or of other project files it hands `self` or a part to, "
        "`set_bn_eval(self.backbone)`); silent where the base call is not a statement of the body itself "
        "(not on every path) or something after it may re-apply an eval() (an eval(), a call on `self` or "
        "handing it on). "
        "After train() a helper may hand the model to a callable it was given "
        "(`hook(model)`), which may re-apply the freeze: silent, unless the call site passes a function of the "
        "project proven to leave modes alone (it reads, prints, saves a checkpoint) or passes none to a `None` "
        "default. A freeze may be `.eval()` on a part of the model whose parameters "
        "the same body freezes (`model.layer1.requires_grad_(False); model.layer1.eval()`), taken as a BatchNorm "
        "freeze only where the part is proven to hold BatchNorm (the submodule table's BatchNorm paths of a "
        "factory model, an attribute a project class builds with a BatchNorm layer or as an nn.Sequential of a "
        "literal slice of a factory model's children that keeps one: `nn.Sequential(*list(resnet50().children())"
        "[:-2])`), never from its name; "
        "`compiled.train()` of `compiled = torch.compile(model)` is a train() of `model`. A train() called on a part "
        "(`net.head.train()`, directly or in a helper) reaches that part only: it undoes a freeze of the same part, of "
        "a module that holds it, or of all the model where the part is proven to hold BatchNorm, never a sibling's "
        "(`net.backbone.eval(); net.head.train()` is the frozen-backbone idiom). A class is reported at its definition only when the BN freeze is "
        "in `__init__` (no caller can re-apply a constructor) and no other method of it (forward) freezes that "
        "BatchNorm again or puts what holds it in eval mode, and not through a public method callers can "
        "call again after train() (`self.freeze_bn()`: judged where they train: `model = DeepLab()` (a class of this file or "
        "another) arrives with its BatchNorm frozen, unless the call provably sets the flag off, `DeepLab(freeze_bn=False)`; so does a "
        "trainer's `self.model = DeepLab()`, judged in the trainer's methods that call nothing named like a "
        "re-freeze, themselves or through the methods of the trainer they call (read a few deep; one that "
        "calls eval(), `train(mode)`, sets `.training` or hands the trainer on keeps it silent); one mistake "
        "is one finding, at the train() the freeze is re-applied after: a method that calls train() and then "
        "trains (`self.train_epoch()`) is reported at its own train(), not again where another method calls it, "
        "and a train() followed by a method or helper that calls train() again is reported once, naming it; the "
        "methods a trainer inherits from its project base classes, a few deep, are read as it runs them, its "
        "overrides first (`class MyTrainer(BaseTrainer)` whose `__init__` froze it, BaseTrainer's `fit()` calling "
        "`self.train_one_epoch()`): a base of the same file is reported at that train(), one of another file at "
        "the freeze, naming the method (silent there where the subclass overrides a method the base's calls); "
        "an override is what runs: one of a step the base leaves to its subclasses (`def train_epoch(self): pass`, "
        "an abstractmethod, one that trains without train()) that calls train() and then trains is reported at "
        "its train(), whichever file the base is in (a base whose text names nothing that trains is read by its "
        "method names only: a call of one may re-freeze); a "
        "library base, several bases, or the base's `__init__` run after the freeze keeps it silent; `ABC` and "
        "`Generic[T]` add no methods and are looked through). Freezes "
        "through `FrozenBatchNorm2d` are "
        "permanent and never reported. A norm layer mmcv's `build_norm_layer(cfg, n)[1]` builds is BatchNorm where "
        "`cfg` is proven one of the BatchNorm types of mmcv's registry (`dict(type='BN')`, 'BN1d', 'BN2d', 'BN3d', "
        "'SyncBN', or a BatchNorm class as its type): literally, through a name, a parameter's default (what the "
        "class builds unless told otherwise) or `self.norm_cfg`; so is one mmpretrain's own `build_norm_layer(cfg, n)` "
        "(`mmpretrain.models.utils`, which returns the layer itself) builds from such a `cfg`. A whole submodule put in eval mode in `__init__` (`self.encoder.eval()`, or chained onto "
        "its assignment: `self.encoder = build().eval()`) is reported only when the class treats it as a frozen feature extractor and evidently trains: `forward` "
        "runs it under `torch.no_grad()`, or the class freezes its parameters and holds a layer of its own to "
        "train (a perceptual loss's frozen VGG is left alone); the message then names dropout and BatchNorm only as what "
        "the submodule may hold. Silent for a LightningModule (Lightning 2.2 and later keep submodules that are "
        "in eval mode at the start of fit in eval mode), for a `self.encoder.train = ...` override, where another "
        "method (forward, or one it calls) puts the submodule back in eval before it runs, and when a "
        "base class other than torch's may override train(). A BatchNorm freeze in a LightningModule's "
        "`__init__` is reported where the project runs a Lightning before 2.2, whose fit calls train() on the "
        "whole LightningModule at its start and after every validation: as `lightning-version` in "
        "`[tool.freezelint]` or the project's requirement says, else a hook 2.0 removed "
        "(`training_epoch_end`, `validation_epoch_end`, `test_epoch_end`) or `pl.metrics` in the file, else "
        "the installed Lightning; with nothing to say which, it stays silent."
    )
    bad = [
        Example(
            """
            import torchvision

            def set_bn_eval(m):  # "Norm" is in every BatchNorm's class name: they go to eval() too
                classname = m.__class__.__name__
                if "Norm" in classname:
                    m.eval()

            def fit(loader):
                model = torchvision.models.resnet18()
                model.apply(set_bn_eval)
                for epoch in range(10):
                    model.train()  # expect: FZ201
                    for x in loader:
                        model(x).sum().backward()
            """
        ),
        Example(
            """
            import torch
            import torch.nn as nn

            model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 3))
            freeze = ["0.", "1."]
            for k, v in model.named_parameters():
                v.requires_grad = True  # train all layers (YOLOv5): a reset before the partial freeze, no unfreeze
                if any(x in k for x in freeze):
                    v.requires_grad = False
            for m in model[:2].modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
            for epoch in range(3):
                model.train()  # expect: FZ201
                model(torch.randn(2, 3, 32, 32)).mean().backward()
            """
        ),
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
            """,
            instead="""
            import torch.nn as nn

            def fix_bn(m):
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()

            for epoch in range(10):
                model.train()
                model.apply(fix_bn)  # after every train(): BatchNorm stays in eval mode
                for x, y in loader:
                    loss = criterion(model(x), y)
                    loss.backward()
                    optimizer.step()
            """,
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
        Example(
            """
            import torch
            import torch.nn as nn

            class LinearProbe(nn.Module):
                def __init__(self, encoder, dim, num_classes):
                    super().__init__()
                    self.encoder = encoder
                    self.encoder.eval()  # expect: FZ201
                    self.head = nn.Linear(dim, num_classes)

                def features(self, x):
                    return self.encoder(x).flatten(1)

                def forward(self, x):
                    with torch.no_grad():
                        x = self.features(x)
                    return self.head(x)
            """
        ),
        Example(
            """
            import torch.nn as nn
            from transformers import AutoModel

            class Classifier(nn.Module):
                def __init__(self, name, num_classes):
                    super().__init__()
                    self.bert = AutoModel.from_pretrained(name)
                    self.bert.requires_grad_(False)
                    self.bert.eval()  # expect: FZ201
                    self.head = nn.Linear(768, num_classes)
            """
        ),
        Example(
            """
            import torch
            import torch.nn as nn

            def freeze_bn(model):
                for m in model.modules():
                    if isinstance(m, nn.modules.batchnorm._BatchNorm):
                        m.eval()

            @torch.no_grad()
            def evaluate(model, loader):
                model.eval()
                for x, y in loader:
                    model(x)
                model.train()

            freeze_bn(model)
            for epoch in range(10):
                for x, y in loader:
                    criterion(model(x), y).backward()
                    optimizer.step()
                evaluate(model, val_loader)  # expect: FZ201
            """
        ),
        Example(
            """
            import torch.nn as nn

            def freeze_bn(model):
                for m in model.modules():
                    if isinstance(m, nn.modules.batchnorm._BatchNorm):
                        m.eval()

            def fit(model, loader, opt, finetune_bn):
                freeze_bn(model)
                if finetune_bn:
                    model.train()  # expect: FZ201
                    for x, y in loader:
                        nn.functional.cross_entropy(model(x), y).backward()
                    return model
                for x, y in loader:
                    nn.functional.cross_entropy(model(x), y).backward()
                    opt.step()
            """
        ),
        Example(
            """
            import torch.nn as nn

            def freeze_bn(model):
                for m in model.modules():
                    if isinstance(m, nn.modules.batchnorm._BatchNorm):
                        m.eval()

            def fit(model, loader, opt, epochs, k):
                freeze_bn(model)
                for epoch in range(epochs):
                    for x, y in loader:
                        nn.functional.cross_entropy(model(x), y).backward()
                        opt.step()
                    if epoch < k:
                        # the continue skips the re-freeze; the next epoch trains BN
                        model.train()  # expect: FZ201
                        continue
                    freeze_bn(model)
            """
        ),
        Example(
            """
            import torch.nn as nn

            def freeze_bn(model):
                for m in model.modules():
                    if isinstance(m, nn.modules.batchnorm._BatchNorm):
                        m.eval()

            def fit(model, loader, opt, epochs, stop):
                for epoch in range(epochs):
                    freeze_bn(model)
                    if stop(epoch):
                        # the break skips the re-freeze below; the final pass trains BN
                        model.train()  # expect: FZ201
                        break
                    freeze_bn(model)
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
            import torch.nn as nn

            def freeze_bn(model):
                for m in model.modules():
                    if isinstance(m, nn.modules.batchnorm._BatchNorm):
                        m.eval()

            def train_one_epoch(model, loader, optimizer, refreeze):
                refreeze(model)
                model.train()  # undoes what refreeze(model) just did
                for x, y in loader:
                    criterion(model(x), y).backward()
                    optimizer.step()

            freeze_bn(model)
            for epoch in range(10):
                train_one_epoch(model, loader, optimizer, freeze_bn)  # expect: FZ201
            """
        ),
        Example(
            """
            import torch
            import torch.nn as nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.backbone = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU())
                    self.head = nn.Linear(8, 10)

            model = Net()
            model.backbone.requires_grad_(False)
            model.backbone.eval()  # frozen, its BatchNorm statistics too
            compiled = torch.compile(model)
            for epoch in range(10):
                compiled.train()  # expect: FZ201
                for x, y in loader:
                    criterion(compiled(x), y).backward()
                    optimizer.step()
            """,
            instead="""
            import torch
            import torch.nn as nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.backbone = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU())
                    self.head = nn.Linear(8, 10)

            model = Net()
            model.backbone.requires_grad_(False)
            compiled = torch.compile(model)
            for epoch in range(10):
                compiled.train()
                model.backbone.eval()  # after every train()
                for x, y in loader:
                    criterion(compiled(x), y).backward()
                    optimizer.step()
            """,
        ),
        Example(
            """
            import torch
            import torchvision

            model = torchvision.models.resnet18(num_classes=4)
            model.layer1.requires_grad_(False)
            model.layer1.eval()  # layer1 frozen, its BatchNorm statistics too (the table knows it holds BatchNorm)
            opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
            for epoch in range(2):
                model.train()  # expect: FZ201
                for x, y in loader:
                    criterion(model(x), y).backward()
                    opt.step()
            """,
            instead="""
            import torch
            import torchvision

            model = torchvision.models.resnet18(num_classes=4)
            model.layer1.requires_grad_(False)
            opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
            for epoch in range(2):
                model.train()
                model.layer1.eval()  # after every train()
                for x, y in loader:
                    criterion(model(x), y).backward()
                    opt.step()
            """,
        ),
        Example(
            """
            import logging
            import torch.nn as nn

            logger = logging.getLogger(__name__)

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.backbone = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))
                    self.head = nn.Linear(8, 4)

                def train(self, mode=True):  # an override that only logs: every BatchNorm trains again
                    logger.info("train(%s)", mode)
                    super().train(mode)
                    return self

            def freeze_bn(model):
                for m in model.modules():
                    if isinstance(m, nn.modules.batchnorm._BatchNorm):
                        m.eval()

            model = Net()
            freeze_bn(model)
            for epoch in range(10):
                model.train()  # expect: FZ201
                for x, y in loader:
                    criterion(model(x), y).backward()
                    optimizer.step()
            """,
            instead="""
            import logging
            import torch.nn as nn

            logger = logging.getLogger(__name__)

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.backbone = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))
                    self.head = nn.Linear(8, 4)

                def train(self, mode=True):
                    logger.info("train(%s)", mode)
                    super().train(mode)
                    for m in self.modules():  # re-applied after every train()
                        if isinstance(m, nn.modules.batchnorm._BatchNorm):
                            m.eval()
                    return self
            """,
        ),
        Example(
            """
            import torch.nn as nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.backbone = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))
                    self.neck = nn.Sequential(nn.Conv2d(8, 8, 3), nn.BatchNorm2d(8))
                    self.head = nn.Linear(8, 4)

                def train(self, mode=True):
                    super().train(mode)
                    self.neck.eval()  # the neck: not the part that is frozen below
                    return self

            model = Net()
            model.backbone.requires_grad_(False)
            model.backbone.eval()
            for epoch in range(10):
                model.train()  # expect: FZ201
                for x, y in loader:
                    criterion(model(x), y).backward()
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

                def train(self, mode=True):  # overridden, but re-applies nothing
                    return super().train(mode)
            """
        ),
        Example(
            """
            import torch.nn as nn
            from transformers import AutoModel

            class Classifier(nn.Module):
                def __init__(self, name, num_classes):
                    super().__init__()
                    self.bert = AutoModel.from_pretrained(name)
                    self.bert.requires_grad_(False)
                    self.bert.eval()  # expect: FZ201
                    self.dropout = nn.Dropout(0.1)
                    self.head = nn.Linear(768, num_classes)

                def train(self, mode=True):
                    super().train(mode)
                    self.dropout.eval()  # another part: the frozen encoder trains again
                    return self
            """
        ),
        Example(
            """
            import torch
            import torch.nn as nn

            def freeze_bn(model):
                for m in model.modules():
                    if isinstance(m, nn.modules.batchnorm._BatchNorm):
                        m.eval()

            def log_stats(model):  # reads and prints: it re-freezes nothing
                print(sum(p.numel() for p in model.parameters() if p.requires_grad))

            def train_one_epoch(model, loader, optimizer, hook=None):
                model.train()
                if hook is not None:
                    hook(model)
                for x, y in loader:
                    criterion(model(x), y).backward()
                    optimizer.step()

            freeze_bn(model)
            for epoch in range(10):
                train_one_epoch(model, loader, optimizer, log_stats)  # expect: FZ201
            """
        ),
        Example(
            """
            import torch.nn as nn
            import torchvision

            class Base(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.backbone = torchvision.models.resnet18()
                    self.freeze_bn()

                def freeze_bn(self):
                    for m in self.backbone.modules():
                        if isinstance(m, nn.modules.batchnorm._BatchNorm):
                            m.eval()

                def train(self, mode=True):
                    super().train(mode)
                    self.freeze_bn()  # the re-freeze
                    return self

            class Child(Base):
                def train(self, mode=True):
                    # runs nn.Module's train(), not Base's: the re-freeze is skipped
                    super(Base, self).train(mode)  # expect: FZ201
                    return self
            """
        ),
        Example(
            """
            import torch
            import torch.nn as nn
            import torchvision

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    resnet = torchvision.models.resnet50(weights="DEFAULT")
                    self.backbone = nn.Sequential(*list(resnet.children())[:-2])  # keeps bn1, layer1-4
                    self.head = nn.Linear(2048, 10)

                def forward(self, x):
                    return self.head(self.backbone(x).mean((2, 3)))

            model = Net()
            model.backbone.requires_grad_(False)
            model.backbone.eval()
            opt = torch.optim.SGD(model.head.parameters(), lr=0.1)
            for epoch in range(3):
                model.train()  # expect: FZ201
                for x, y in loader:
                    opt.zero_grad()
                    nn.functional.cross_entropy(model(x), y).backward()
                    opt.step()
            """,
            instead="""
            import torch
            import torch.nn as nn
            import torchvision

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    resnet = torchvision.models.resnet50(weights="DEFAULT")
                    self.backbone = nn.Sequential(*list(resnet.children())[:-2])
                    self.head = nn.Linear(2048, 10)

                def forward(self, x):
                    return self.head(self.backbone(x).mean((2, 3)))

            model = Net()
            model.backbone.requires_grad_(False)
            opt = torch.optim.SGD(model.head.parameters(), lr=0.1)
            for epoch in range(3):
                model.train()
                model.backbone.eval()  # after every train()
                for x, y in loader:
                    opt.zero_grad()
                    nn.functional.cross_entropy(model(x), y).backward()
                    opt.step()
            """,
        ),
        Example(
            """
            import torch.nn as nn

            class Backbone(nn.Module):
                def __init__(self, frozen_stages=1):
                    super().__init__()
                    self.frozen_stages = frozen_stages
                    self.layers = nn.ModuleList([nn.Sequential(nn.Conv2d(8, 8, 3), nn.BatchNorm2d(8)) for _ in range(3)])

                def _freeze_stages(self):
                    for i in range(self.frozen_stages):
                        self.layers[i].eval()
                        for p in self.layers[i].parameters():
                            p.requires_grad = False

                def train(self, mode=True):
                    self._freeze_stages()
                    super().train(mode)  # expect: FZ201
                    return self
            """,
            instead="""
            import torch.nn as nn

            class Backbone(nn.Module):
                def __init__(self, frozen_stages=1):
                    super().__init__()
                    self.frozen_stages = frozen_stages
                    self.layers = nn.ModuleList([nn.Sequential(nn.Conv2d(8, 8, 3), nn.BatchNorm2d(8)) for _ in range(3)])

                def _freeze_stages(self):
                    for i in range(self.frozen_stages):
                        self.layers[i].eval()
                        for p in self.layers[i].parameters():
                            p.requires_grad = False

                def train(self, mode=True):
                    super().train(mode)  # first: it sets every submodule's mode
                    self._freeze_stages()
                    return self
            """,
        ),
        Example(
            """
            import torch.nn as nn
            from torch.nn.modules.batchnorm import _BatchNorm

            class Encoder(nn.Module):
                def train(self, mode=True):
                    if mode and self.norm_eval:
                        for m in self.modules():
                            if isinstance(m, _BatchNorm):
                                m.eval()
                    return super().train(mode)  # expect: FZ201
            """
        ),
        Example(
            """
            import copy
            import torch.nn as nn
            from mmengine.model import BaseModule

            class EMATeacher(BaseModule):  # an OpenMMLab module: an nn.Module
                def __init__(self, student):
                    super().__init__()
                    self.teacher = copy.deepcopy(student).requires_grad_(False)

                def train(self, *args, **kwargs):
                    self.teacher.eval()  # its statistics come from the moving average
                    return super().train(*args, **kwargs)  # expect: FZ201
            """
        ),
        Example(
            """
            import torch.nn as nn

            def set_bn_eval(module):
                for m in module.modules():
                    if isinstance(m, nn.modules.batchnorm._BatchNorm):
                        m.eval()

            class Detector(nn.Module):
                def __init__(self, backbone):
                    super().__init__()
                    self.backbone = backbone

                def train(self, mode=True):
                    set_bn_eval(self.backbone)  # a helper function (of this file or another)
                    return super().train(mode)  # expect: FZ201
            """,
            instead="""
            import torch.nn as nn

            def set_bn_eval(module):
                for m in module.modules():
                    if isinstance(m, nn.modules.batchnorm._BatchNorm):
                        m.eval()

            class Detector(nn.Module):
                def __init__(self, backbone):
                    super().__init__()
                    self.backbone = backbone

                def train(self, mode=True):
                    super().train(mode)
                    set_bn_eval(self.backbone)
                    return self
            """,
        ),
        Example(
            """
            import torch
            import torch.nn as nn
            import torchvision

            @torch.no_grad()
            def evaluate(model, x):
                was_training = model.training
                model.eval()
                out = model(x)
                model.train(was_training)  # the model was training: every BatchNorm back in train mode
                return out

            def freeze_bn(model):
                for m in model.modules():
                    if isinstance(m, nn.BatchNorm2d):
                        m.eval()
                        m.requires_grad_(False)

            model = torchvision.models.resnet50(weights=None)
            optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
            model.train()
            freeze_bn(model)
            for x, y in loader:
                nn.functional.cross_entropy(model(x), y).backward()
                optimizer.step()
                evaluate(model, x)  # expect: FZ201
            """
        ),
        Example(
            """
            import torch.nn as nn
            from mmcv.cnn import build_norm_layer

            class ResNet(nn.Module):
                def __init__(self, frozen_stages=1, norm_cfg=dict(type='BN')):
                    super().__init__()
                    self.frozen_stages = frozen_stages
                    self.conv1 = nn.Conv2d(3, 8, 3)
                    self.norm1 = build_norm_layer(norm_cfg, 8)[1]  # BatchNorm2d: 'BN' in mmcv's registry
                    self._freeze_stages()  # expect: FZ201

                def _freeze_stages(self):
                    if self.frozen_stages >= 0:
                        self.norm1.eval()
                        for m in [self.conv1, self.norm1]:
                            for param in m.parameters():
                                param.requires_grad = False
            """,
            instead="""
            import torch.nn as nn
            from mmcv.cnn import build_norm_layer

            class ResNet(nn.Module):
                def __init__(self, frozen_stages=1, norm_cfg=dict(type='BN')):
                    super().__init__()
                    self.frozen_stages = frozen_stages
                    self.conv1 = nn.Conv2d(3, 8, 3)
                    self.norm1 = build_norm_layer(norm_cfg, 8)[1]
                    self._freeze_stages()

                def _freeze_stages(self):
                    if self.frozen_stages >= 0:
                        self.norm1.eval()
                        for m in [self.conv1, self.norm1]:
                            for param in m.parameters():
                                param.requires_grad = False

                def train(self, mode=True):
                    super().train(mode)
                    self._freeze_stages()  # after every train(): the frozen stages stay in eval mode
                    return self
            """,
        ),
        Example(
            """
            import torch.nn as nn
            from mmpretrain.models.utils import build_norm_layer

            class Stem(nn.Module):
                def __init__(self, norm_cfg=dict(type='BN')):
                    super().__init__()
                    self.norm = build_norm_layer(norm_cfg, 8)  # mmpretrain's returns the layer: a BatchNorm2d
                    self.norm.eval()  # expect: FZ201
            """
        ),
        Example(
            """
            import pytorch_lightning as pl
            import torch.nn as nn

            class Detector(pl.LightningModule):  # Lightning 1.x: fit calls train() on all of it
                def __init__(self, backbone):
                    super().__init__()
                    self.model = backbone
                    for m in self.model.modules():
                        if isinstance(m, nn.BatchNorm2d):
                            m.eval()  # expect: FZ201

                def training_step(self, batch, batch_idx):
                    return self.model(batch).sum()

                def validation_epoch_end(self, outputs):  # a hook Lightning 2.0 removed
                    pass
            """
        ),
        Example(
            """
            import torch.nn as nn

            def freeze_bn(model):
                mods = model.modules()  # the loop below walks this: a BatchNorm freeze of `model`
                for m in mods:
                    if isinstance(m, nn.modules.batchnorm._BatchNorm):
                        m.eval()

            def fit(model, loader, opt):
                freeze_bn(model)
                for epoch in range(3):
                    model.train()  # expect: FZ201
                    for x in loader:
                        model(x).sum().backward()
                        opt.step()
            """
        ),
        Example(
            """
            import torch.nn as nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.head = nn.Conv2d(4, 4, 3)
                    self.encoder = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)).eval()  # expect: FZ201
                    for p in self.encoder.parameters():
                        p.requires_grad = False

                def forward(self, x):
                    return self.head(self.encoder(x))
            """
        ),
        Example(
            """
            import torch.nn as nn
            import pytorch_lightning as pl
            import torchvision

            def set_bn_eval(m):
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()

            def get_model():
                model = torchvision.models.resnet18()
                model.apply(set_bn_eval)
                return model

            class Detector(pl.LightningModule):
                def __init__(self):
                    super().__init__()
                    self.model = get_model()  # expect: FZ201

                def validation_epoch_end(self, outputs):  # Lightning before 2.0
                    pass
            """
        ),
        Example(
            """
            import torch.nn as nn
            import torchvision

            def set_bn_eval(m):
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()

            class Detector(nn.Module):
                def __init__(self):
                    super().__init__()
                    model = torchvision.models.resnet18()
                    model.apply(set_bn_eval)  # expect: FZ201
                    self.model = model
            """
        ),
    ]
    good = [
        # the builder trains the model again after its freeze: it arrives with BatchNorm in train mode
        """
        import torch.nn as nn
        import torchvision

        def set_bn_eval(m):
            if isinstance(m, nn.BatchNorm2d):
                m.eval()

        class Detector(nn.Module):
            def __init__(self):
                super().__init__()
                self.model = self.get_model()

            def get_model(self):
                model = torchvision.models.resnet18()
                model.apply(set_bn_eval)
                model.train()
                return model
        """,
        # the freeze a builder made is re-applied by the class's own train()
        """
        import torch.nn as nn
        import torchvision

        def set_bn_eval(m):
            if isinstance(m, nn.BatchNorm2d):
                m.eval()

        class Detector(nn.Module):
            def __init__(self):
                super().__init__()
                self.model = self.get_model()

            def get_model(self):
                model = torchvision.models.resnet18()
                model.apply(set_bn_eval)
                return model

            def train(self, mode=True):
                super().train(mode)
                self.model.apply(set_bn_eval)
                return self
        """,
        """
        import torch.nn as nn

        def disabled_train(self, mode=True):
            return self

        class Net(nn.Module):  # latent-diffusion: the frozen stage's train() does nothing
            def __init__(self):
                super().__init__()
                self.head = nn.Conv2d(4, 4, 3)
                self.first_stage_model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)).eval()
                self.first_stage_model.train = disabled_train
                for p in self.first_stage_model.parameters():
                    p.requires_grad = False

            def forward(self, x):
                return self.head(self.first_stage_model(x))
        """,
        """
        import torch.nn as nn

        def freeze_vision_bn(model):  # Chinese-CLIP: the loop walks `mods = model.modules()`
            mods = model.modules()
            for m in mods:
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()

        def train(model, loader, opt):
            model.train()
            freeze_vision_bn(model)  # the re-freeze, right after train()
            for x in loader:
                model(x).sum().backward()
                opt.step()

        def fit(model, loader, opt):
            for m in model.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
            for epoch in range(3):
                train(model, loader, opt)
        """,
        """
        import pytorch_lightning as pl
        import torch.nn as nn

        class Detector(pl.LightningModule):  # nothing says which Lightning: 2.2+ keeps it in eval mode
            def __init__(self, backbone):
                super().__init__()
                self.model = backbone
                for m in self.model.modules():
                    if isinstance(m, nn.BatchNorm2d):
                        m.eval()

            def training_step(self, batch, batch_idx):
                return self.model(batch).sum()

            def on_validation_epoch_end(self):  # the 2.x hook
                pass
        """,
        """
        def set_norm_eval(m):  # "Norm" is in every BatchNorm's class name: they are frozen too
            classname = m.__class__.__name__
            if 'BatchNorm' not in classname:
                return
            m.eval()

        def fit(model, loader):
            model.apply(set_norm_eval)
            for batch in loader:  # no train() after the freeze
                model(batch).sum().backward()
        """,
        """
        def set_conv_eval(m):  # picks the convolutions by their class's name, not the BatchNorm layers
            classname = m.__class__.__name__
            if classname.find("Conv") != -1:
                m.eval()

        def fit(model, loader, epochs):
            model.apply(set_conv_eval)
            for epoch in range(epochs):
                model.train()
                for batch in loader:
                    model(batch).sum().backward()
        """,
        """
        import torch
        import torchvision

        model = torchvision.models.resnet18(num_classes=4)
        model.fc.requires_grad_(False)
        model.fc.eval()  # a Linear: no running statistics to freeze
        opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
        for epoch in range(2):
            model.train()
            for x, y in loader:
                criterion(model(x), y).backward()
                opt.step()
        """,
        """
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self, bn=True):
                super().__init__()
                self.backbone = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU())
                self.stem = nn.Sequential(nn.Conv2d(3, 3, 1), nn.BatchNorm2d(3) if bn else nn.Identity())
                self.fc = nn.Sequential(nn.Linear(8, 8), nn.ReLU())
                self.head = nn.Linear(8, 10)

        model = Net()
        model.fc.requires_grad_(False)
        model.fc.eval()  # no BatchNorm in it: dropout-free, nothing to undo
        model.stem.requires_grad_(False)
        model.stem.eval()  # BatchNorm in one arm only: not known to hold one
        model.backbone.requires_grad_(False)
        model.backbone.eval()
        other = Net()
        other.backbone.eval()  # its parameters train: not a freeze
        for epoch in range(10):
            model.train()
            model.backbone.eval()  # re-frozen after every train()
            other.train()
            for x, y in loader:
                criterion(model(x), y).backward()
                criterion(other(x), y).backward()
                optimizer.step()
        """,
        """
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.backbone = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))
                self.head = nn.Linear(8, 4)

            def train(self, mode=True):
                super().train(mode)
                for m in self.backbone.modules():
                    if isinstance(m, nn.modules.batchnorm._BatchNorm):
                        m.eval()
                return self

        class Student(Net):  # inherits the override
            pass

        def freeze_backbone(model):
            for m in model.backbone.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()

        def train_one_epoch(model, loader, optimizer):
            model.train()  # Net.train(): the backbone's BatchNorm stays in eval mode
            for x, y in loader:
                criterion(model(x), y).backward()
                optimizer.step()

        model = Net()
        freeze_backbone(model)
        student = Student()
        freeze_backbone(student)
        for epoch in range(10):
            train_one_epoch(model, loader, optimizer)
            student.train()
            for x, y in loader:
                criterion(student(x), y).backward()
        """,
        """
        import torch.nn as nn

        def freeze_bn(model):
            for m in model.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()

        def train_one_epoch(model, loader, optimizer, refreeze=None):
            model.train()
            if refreeze:
                refreeze(model)  # what the caller hands in runs after train(): it may re-freeze
            for x, y in loader:
                criterion(model(x), y).backward()
                optimizer.step()

        freeze_bn(model)
        for epoch in range(10):
            train_one_epoch(model, loader, optimizer, freeze_bn)
        """,
        """
        import torch
        import torch.nn as nn
        from lightning.pytorch import LightningModule

        class Probe(nn.Module):
            def __init__(self, encoder, dim):
                super().__init__()
                self.encoder = encoder
                self.encoder.eval()  # nothing says it stays frozen: forward fine-tunes it
                self.head = nn.Linear(dim, 10)

            def forward(self, x):
                return self.head(self.encoder(x))

        class LitProbe(LightningModule):
            def __init__(self, encoder):
                super().__init__()
                self.encoder = encoder
                self.encoder.requires_grad_(False)
                self.encoder.eval()  # Lightning keeps it in eval mode through fit
                self.head = nn.Linear(512, 10)

        def disabled_train(self, mode=True):
            return self

        class Diffusion(nn.Module):
            def __init__(self, autoencoder):
                super().__init__()
                self.first_stage = autoencoder
                self.first_stage.eval()
                self.first_stage.train = disabled_train  # its train() can no longer undo the eval()
                for p in self.first_stage.parameters():
                    p.requires_grad = False
                self.unet = nn.Conv2d(4, 4, 3)

        class Wrapper(nn.Module):
            def __init__(self, net):
                super().__init__()
                self.net = net
                self.net.requires_grad_(False)
                self.head = nn.Linear(512, 10)
                self.eval()  # the whole model: a caller that trains it means to

        class Teacher(nn.Module):
            def __init__(self, net):
                super().__init__()
                self.net = net
                self.net.eval()
                self.net.requires_grad_(False)
                self.head = nn.Linear(512, 10)

            def train(self, mode=True):
                super().train(mode)
                self.net.eval()  # re-applied after every train()
                return self
        """,
        """
        import torch.nn as nn
        from .base import BaseModel

        class Student(BaseModel):  # BaseModel (another file) may override train()
            def __init__(self, teacher):
                super().__init__()
                self.teacher = teacher
                self.teacher.eval()
                self.teacher.requires_grad_(False)
                self.head = nn.Linear(512, 10)
        """,
        """
        import torch.nn as nn
        import torch.nn.functional as F
        import torchvision

        class PerceptualLoss(nn.Module):  # trains nothing itself: a criterion train() may never reach
            def __init__(self):
                super().__init__()
                self.vgg = torchvision.models.vgg16(weights=None).features[:16]
                self.vgg.eval()
                for p in self.vgg.parameters():
                    p.requires_grad = False
                self.l1 = nn.L1Loss()

            def forward(self, pred, target):
                return F.mse_loss(self.vgg(pred), self.vgg(target)) + self.l1(pred, target)
        """,
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
        import torch
        import torch.nn as nn
        import torch.nn.functional as F

        class FeatureMatch(nn.Module):  # a criterion: it trains nothing of its own
            def __init__(self, net):
                super().__init__()
                self.net = net
                self.net.eval()

            def forward(self, pred, target):
                with torch.no_grad():
                    t = self.net(target)
                return F.mse_loss(self.net(pred), t)
        """,
        """
        import torch.nn as nn
        from lightning.pytorch import LightningModule

        class Base(LightningModule):
            pass

        class Lit(Base):  # Lightning keeps what is in eval() at the start of fit in eval()
            def __init__(self, backbone):
                super().__init__()
                self.backbone = backbone
                for m in self.backbone.modules():
                    if isinstance(m, nn.BatchNorm2d):
                        m.eval()
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

        def freeze_bn(model):  # the frozen part's BatchNorm only
            for m in model.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm) and not m.weight.requires_grad:
                    m.eval()

        for epoch in range(10):
            model.train()
            freeze_bn(model)
            if epoch == 5:  # gradual unfreezing: layer4 trains from here, its BatchNorm with it
                model.layer4.requires_grad_(True)
                optimizer.add_param_group({"params": model.layer4.parameters()})
                model.layer4.train()
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
        """
        import torch
        import torch.nn as nn

        def freeze_bn(model):
            for m in model.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()

        def set_train(model):
            model.train()

        @torch.no_grad()
        def evaluate(model, loader):
            model.eval()
            for x, y in loader:
                model(x)
            model.train()  # the helper's last word: its caller re-freezes right after the call

        freeze_bn(model)
        set_train(model)
        freeze_bn(model)
        for epoch in range(10):
            for x, y in loader:
                criterion(model(x), y).backward()
                optimizer.step()
            evaluate(model, val_loader)
            freeze_bn(model)
        """,
        """
        import torch.nn as nn

        def freeze_bn(model):
            for m in model.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()

        def fit(model, loader, opt, finetune_bn):
            freeze_bn(model)
            if finetune_bn:
                model.train()
                return model  # no training follows the train() on this path
            for x, y in loader:
                nn.functional.cross_entropy(model(x), y).backward()
                opt.step()
            return model
        """,
        """
        import torch.nn as nn

        def freeze_bn(model):
            for m in model.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()

        def fit(model, loader, opt, epochs, patience):
            freeze_bn(model)
            for epoch in range(epochs):
                for x, y in loader:
                    nn.functional.cross_entropy(model(x), y).backward()
                    opt.step()
                if patience(epoch):
                    # the loop ends here, nothing trains after
                    model.train()
                    break
            return model
        """,
        """
        import torch.nn as nn

        def freeze_bn(model):
            for m in model.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()

        def fit(model, loader, opt, epochs, k):
            for epoch in range(epochs):
                model.train()
                freeze_bn(model)
                if epoch % 10:
                    continue
                for x, y in loader:
                    nn.functional.cross_entropy(model(x), y).backward()
                    opt.step()
        """,
        """
        import torch.nn as nn
        from mmcv.utils import freeze_norm  # not read: it may re-freeze
        from torch.nn.modules.batchnorm import _BatchNorm

        class ResNet(nn.Module):  # mmdet's norm_eval
            def __init__(self, norm_eval=True):
                super().__init__()
                self.norm_eval = norm_eval
                self.stem = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))

            def train(self, mode=True):
                super().train(mode)
                if mode and self.norm_eval:
                    for m in self.modules():
                        if isinstance(m, _BatchNorm):
                            m.eval()

        class Partial(nn.Module):
            def __init__(self):
                super().__init__()
                self.backbone = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))
                self.head = nn.Linear(8, 4)

            def train(self, mode=True):
                super().train(mode)
                self.backbone.eval()  # the part frozen below
                return self

        class Helped(nn.Module):
            def __init__(self):
                super().__init__()
                self.backbone = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))

            def train(self, mode=True):
                super().train(mode)
                freeze_norm(self)
                return self

        def freeze_bn(model):
            for m in model.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()

        resnet = ResNet()
        partial = Partial()
        helped = Helped()
        freeze_bn(resnet)
        partial.backbone.requires_grad_(False)
        partial.backbone.eval()
        freeze_bn(helped)
        for epoch in range(10):
            resnet.train()
            partial.train()
            helped.train()
            for x, y in loader:
                criterion(resnet(x) + partial(x) + helped(x), y).backward()
                optimizer.step()
        """,
        """
        import torch.nn as nn
        from somewhere import report

        def freeze_bn(model):
            for m in model.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()

        def refreeze_and_log(model):
            print("refreezing")
            freeze_bn(model)

        def log_with(model):
            report(model)  # an unknown function handed the model: it may re-freeze

        def train_one_epoch(model, loader, optimizer, hook=None):
            model.train()
            if hook is not None:
                hook(model)
            for x, y in loader:
                criterion(model(x), y).backward()
                optimizer.step()

        freeze_bn(model)
        for epoch in range(10):
            train_one_epoch(model, loader, optimizer, refreeze_and_log)
            train_one_epoch(model, loader, optimizer, hook=log_with)
            train_one_epoch(model, loader, optimizer, report)
        """,
        """
        import torch
        import torch.nn as nn
        import torchvision

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                resnet = torchvision.models.resnet50(weights="DEFAULT")
                self.stem = nn.Sequential(*list(resnet.children())[:1])  # conv1 only: no running statistics
                self.head = nn.Linear(64, 10)

            def forward(self, x):
                return self.head(self.stem(x).mean((2, 3)))

        model = Net()
        model.stem.requires_grad_(False)
        model.stem.eval()
        opt = torch.optim.SGD(model.head.parameters(), lr=0.1)
        for epoch in range(3):
            model.train()
            for x, y in loader:
                opt.zero_grad()
                nn.functional.cross_entropy(model(x), y).backward()
                opt.step()
        """,
        """
        import torch.nn as nn
        from torch.nn.modules.batchnorm import _BatchNorm

        class Encoder(nn.Module):
            def train(self, mode=True):
                self.norm_eval = mode  # nothing put in eval before the base call
                super().train(mode)
                if mode and self.norm_eval:
                    for m in self.modules():
                        if isinstance(m, _BatchNorm):
                            m.eval()
                return self
        """,
        """
        import torch.nn as nn

        class Encoder(nn.Module):
            def train(self, mode=True):
                self.bn.eval()
                super().train(mode)
                self._freeze_stages()  # re-applied after the base call
                return self
        """,
        """
        import torch.nn as nn

        class Encoder(nn.Module):
            def train(self, mode=True):
                self.bn.eval()
                if mode:
                    super().train(mode)  # not on every path: not judged
                return self
        """,
        """
        from transformers import Trainer

        class DistillTrainer(Trainer):  # no Module: its base's train() is the training loop
            def train(self, *args, **kwargs):
                self.teacher_bn.eval()
                return super().train(*args, **kwargs)
        """,
        """
        import torch.nn as nn

        class RD4AD(nn.Module):
            def train(self, *args, **kwargs):
                super().train(*args, **kwargs)  # first, then the pretrained encoder back in eval
                self.encoder.eval()
                return self
        """,
        """
        import torch.nn as nn

        class Base(nn.Module):
            def train(self, mode=True):
                super().train(mode)
                self._freeze_stages()  # the base's train() re-applies the freeze after its own base call

        class Child(Base):
            def train(self, mode=True):
                self._freeze_stages()
                super().train(mode)
        """,
        """
        import torch.nn as nn
        from mmcv.cnn import build_norm_layer
        from torch.nn.modules.batchnorm import _BatchNorm

        class ResNet(nn.Module):
            def __init__(self, frozen_stages=1, norm_cfg=dict(type='SyncBN'), norm_eval=True):
                super().__init__()
                self.frozen_stages = frozen_stages
                self.norm_eval = norm_eval
                self.norm1 = build_norm_layer(norm_cfg, 8)[1]
                self._freeze_stages()

            def _freeze_stages(self):
                if self.frozen_stages >= 0:
                    self.norm1.eval()

            def train(self, mode=True):
                super().train(mode)
                self._freeze_stages()  # mmcv-style: re-applied after every train()
                if mode and self.norm_eval:
                    for m in self.modules():
                        if isinstance(m, _BatchNorm):
                            m.eval()

        class GNBackbone(nn.Module):
            def __init__(self, norm_cfg=dict(type='GN', num_groups=4)):
                super().__init__()
                self.norm1 = build_norm_layer(norm_cfg, 8)[1]  # GroupNorm: no running statistics
                self.norm1.eval()
        """,
        """
        import torch.nn as nn
        from mmpretrain.models.utils import build_norm_layer

        class Stem(nn.Module):
            def __init__(self, norm_cfg=dict(type='LN')):
                super().__init__()
                self.norm = build_norm_layer(norm_cfg, 8)  # mmpretrain's: the layer itself, a LayerNorm
                self.norm.eval()
        """,
    ]

    def check(self, facts: Facts, module) -> Iterable[Finding]:
        flows = flows_of(facts)
        reported: set[int] = set()  # `cmodel.train()` is a train() of cmodel and of the model it compiled
        found = []  # (TRAIN event, finding, the method's train() after it): filtered below
        trainers = list(_trainers(facts, flows.bodies))
        for flow in [*flows.bodies, *_held_bodies(facts, flows.bodies, trainers)]:
            evs = flow.events
            # a class's own train() (`Net.train` re-freezing its BatchNorm) runs instead: judged
            # only where it is proven to keep no part, or other parts, in eval ("keeps")
            for t in (e for e in evs if e.kind == TRAIN and (not e.detail.get("override") or "keeps" in e.detail)):
                freezes = [f for f in evs if f.kind == BN_FREEZE and f.target == t.target and after(f, t)
                           and _undoes(t, f) and not rebound(flow, f, t)]  # a new model trains: not frozen
                if not freezes or _unfrozen_first(evs, t) or id(t.node) in reported:
                    continue
                frozen = freezes[-1].detail
                lost = _not_kept(t.detail, frozen.get("part") or frozen.get("within"), t.target) \
                    if t.detail.get("override") else None
                if t.detail.get("override") and lost is None:
                    continue
                # a helper that calls train() and then trains counts as both, in that order
                acts = [a for a in evs if a.kind == ACTIVITY and a.target in (t.target, "*") and after(t, a)
                        and a is not t and (a.node is not t.node or (t.detail.get("via") and a.index > t.index))]
                for a in acts:
                    span = between(flow, t, a)
                    # re-frozen, or handed to a callable that cannot be resolved and may re-freeze
                    if any(f.kind in (BN_FREEZE, OPAQUE) and f.target == t.target for f in span):
                        continue
                    line = _shown(t, flow.facts)
                    # a helper or a method of the class called before the training that calls train()
                    # again (`self.model.train(); self.helper()`): one mistake, reported here, naming it
                    again = next((e for e in reversed(span) if e.kind == TRAIN and e.target == t.target
                                  and e.detail.get("via")), None) if lost is None else None
                    frozen_by = freezes[-1].detail.get("via")  # a helper, or the builder that returned the model
                    how = f"that `{frozen_by}(...)` froze" if frozen_by else "that were frozen"
                    if getattr(flow, "heir", None):  # a base's method, run by the subclass that froze them
                        how = f"{how} in `{flow.heir}.__init__`"
                    # `DeepLab(freeze_bn=args.freeze_bn)`: frozen on the runs that set the flag only
                    when = freezes[-1].detail.get("when")
                    when = f" (when {when})" if when else ""
                    # `model.layer1.eval()`: a part holding BatchNorm; a loop over `model.backbone.modules()`
                    part = freezes[-1].detail.get("part") or freezes[-1].detail.get("within")
                    how = f"of `{part}` {how}" if part else how
                    reported.add(id(t.node))
                    if lost is not None:
                        cls = t.detail["override"]
                        message = (f"{line} runs `{cls}.train()`, which does not keep the BatchNorm layers {how} "
                                   f"with .eval(){when} in eval mode ({lost}): training continues with their running "
                                   f"statistics moving again; re-apply the freeze in `{cls}.train()`")
                    else:
                        # a helper that trains: its train() and its steps are both inside, after the call is too late
                        after_it = f"inside `{t.detail['via']}`, right after its train()" if t.detail.get("via") \
                            else "right after it"
                        if again is not None:
                            where = _where(again, flow.facts)
                            line = f"{line} (and `{again.detail['via']}(...)` after it, which calls train() again" \
                                f"{f' at {where}' if where else ''})"
                            after_it = f"inside `{again.detail['via']}`, right after its train()" \
                                if a.node is again.node else f"after `{again.detail['via']}(...)`"
                        message = (f"{line} puts the BatchNorm layers {how} with .eval(){when} back into training mode "
                                   f"before training continues, so their running statistics move again; re-apply "
                                   f"the freeze {after_it} (or override train())")
                    found.append((t, self.finding(_span(t.node), message, stmt=t.stmt, facts=facts,
                                                  used=[*freezes, t, a]), again))
                    break
        # one mistake, one finding, at the train() the freeze has to be re-applied after: a method's
        # call (`self.train_epoch()`) whose own `self.model.train()` is reported (it trains after it)
        # is dropped, and so is a train() such a method repeats; a call a train() before it names too
        named = {id(again.node) for _, _, again in found if again is not None}

        def inside(e) -> bool:
            return e is not None and e.detail.get("origin_node") is not None \
                and id(e.detail["origin_node"]) in reported
        yield from (f for t, f, again in found if not inside(t) and not inside(again) and id(t.node) not in named)
        yield from self._inherited_elsewhere(facts, trainers)
        yield from self._hooks_elsewhere(facts, trainers)
        yield from self._classes(facts)

    def _inherited_elsewhere(self, facts: Facts, trainers: list) -> Iterable[Finding]:
        """A trainer whose `__init__` froze BatchNorm of a model it holds and that inherits, from a
        base class of another project file, a method that calls train() on it and then trains (its
        summary's "trainer" record): reported at the freeze, the one line of this file the mistake
        runs through, naming the method and the line of its train()."""
        by_def = {id(f.scope.node): f for f in flows_of(facts).bodies if f.scope.is_method}
        for info, init, frozen, line, outside in trainers:
            if outside is None:
                continue
            for e in frozen:
                # a method calling one this file overrides: read as the summary did where the overrides
                # leave the model alone (a hook that only logs) and the train() is the method's own
                runs = [(name, entry["trains"][e.target]) for name, entry in outside["methods"].items()
                        if name not in line and e.target in entry.get("trains", {})
                        and (not _outside_reads_local(name, line, outside)
                             or entry["trains"][e.target][1]
                             and _overrides_keep(name, e.target, line, outside, by_def))]
                if not runs:
                    continue
                # the method that calls train() itself, where the freeze is re-applied after it
                name, (at, _) = min(runs, key=lambda r: (not r[1][1], r[1][0], r[0]))
                cls = outside["methods"][name]["cls"]
                via = e.detail.get("via")
                how = f" (`{via}(...)` returns it frozen)" if via and e.detail.get("returned") else ""
                yield self.finding(
                    e.node,
                    f"{info.name} freezes BatchNorm of `{e.target}` with .eval() in __init__{how}, but the "
                    f"`{name}` it inherits from `{cls}` ({outside['file']}) calls `{e.target}.train()` at line {at} "
                    f"before training, which puts those layers back into training mode, so their running "
                    f"statistics move again; re-apply the freeze right after that train() (override `{name}` "
                    f"in {info.name} to do so)",
                    stmt=e.stmt, facts=facts, used=[e])
                break  # one finding per trainer

    def _hooks_elsewhere(self, facts: Facts, trainers: list) -> Iterable[Finding]:
        """A trainer whose `__init__` froze BatchNorm of a model it holds and that overrides a hook
        which a method it inherits from a base class of another project file calls right before
        training that model (the summary's "then": `fit` calls `self.on_epoch_start()`, then trains),
        with an override that calls train() on the model and nothing after it that may re-freeze:
        reported at that train(), a line of this file, naming the base's method that runs it."""
        by_def = {id(f.scope.node): f for f in flows_of(facts).bodies if f.scope.is_method}
        for info, init, frozen, line, outside in trainers:
            if outside is None:
                continue
            methods = {name: func for name, (_, func) in line.items()}
            targets = {e.target for e in frozen}
            runs = sorted((at, name, hook, attrs) for name, entry in outside["methods"].items() if name not in line
                          for hook, (at, attrs) in entry.get("then", {}).items() if hook in line)
            for at, name, hook, attrs in runs:  # `name` overridden here runs instead of the base's
                func = methods[hook]
                t = _hook_train(by_def.get(id(func)), targets & set(attrs))
                if t is None or _calls_self(func, methods, targets, outside=outside):
                    continue
                cls = outside["methods"][name]["cls"]
                yield self.finding(
                    t.node,
                    f"`{src(t.node)}` in {info.name}.{hook}() puts the BatchNorm layers of `{t.target}` that "
                    f"{info.name}.__init__ froze with .eval() back into training mode, and the `{name}` it "
                    f"inherits from `{cls}` ({outside['file']}) calls `self.{hook}()` at line {at} and then trains "
                    f"`{t.target}`, so their running statistics move again; re-apply the freeze in "
                    f"`{hook}` right after that train()",
                    stmt=t.stmt, facts=facts, used=[*(e for e in frozen if e.target == t.target), t])
                break  # one finding per trainer

    def _classes(self, facts: Facts) -> Iterable[Finding]:
        """A BN freeze in `__init__` of a class without a train() override: no caller can re-apply
        a constructor. Freezes in other methods are judged where they are called (above)."""
        for info in facts.classes.values():
            methods = {s.name.value for s in info.node.body.body if isinstance(s, cst.FunctionDef)}
            # its own train() runs instead: judged only where it provably keeps nothing, or other parts
            keeps = train_keeps(facts, info) if "train" in methods and info.is_module else None
            fit = None  # what says a LightningModule runs under a Lightning whose fit undoes eval()
            if _lightning(facts, info):
                fit = _fit_calls_train(facts, info) if _init_freezes_bn(facts, info) else None
                if fit is None:
                    continue  # Lightning 2.2+ keeps submodules in eval() at the start of fit in eval() (PYTORCH_FACTS)
            if "train" in methods:  # a Module through a base of another file too (its summary says)
                yield from self._skipped_refreeze(facts, info, keeps)
                if info.is_module or any(is_module_class(q) for q in library_bases(facts, info.node)[0]):
                    yield from self._evals_before_base(facts, info)  # a Module through another file's base too
            if not info.is_module or "train" in methods and keeps is None:
                continue
            reported = set()
            for flow in flows_of(facts).bodies:
                scope = flow.scope
                if scope.cls is not info or not scope.is_method or scope.func_name != "__init__":
                    continue
                for e in flow.events:
                    if e.detail.get("via") in methods and not e.detail["via"].startswith("_") \
                            and not e.detail.get("returned"):
                        continue  # through a public method: callers re-apply it after train() (judged there)
                    if e.kind == BN_FREEZE and (e.target == "self" or e.target.startswith("self.")) \
                            and not e.detail.get("part"):  # `self.encoder.eval()`: _frozen_submodules
                        if _refrozen_again(facts, info, flow, e.target):
                            continue  # forward (or another method) re-applies it before the model runs
                        lost = _not_kept({"keeps": keeps}, e.target, "self") if keeps is not None else None
                        if keeps is not None and lost is None:
                            continue
                        reported.add(id(e.node))
                        if e.detail.get("via"):  # `self._freeze_stages()`: its eval() calls are this finding's
                            reported.add(e.detail["via"])
                        how = f"overrides train() with one that does not keep it in eval mode ({lost})" \
                            if lost else "does not override train()"
                        undoes = f"Lightning before 2.2 ({fit}) calls train() on the whole LightningModule when " \
                            f"fit starts and after every validation, which" if fit else \
                            "the first model.train() (every epoch loop calls it)"
                        built = f" (`{e.detail['via']}()` returns `{e.target}` with it frozen)" \
                            if e.detail.get("returned") and e.detail.get("via") else ""
                        yield self.finding(
                            e.node,
                            f"{info.name} freezes BatchNorm with .eval() in __init__{built} but {how}: {undoes} undoes "
                            f"this freeze; {'re-apply it in train()' if lost else 'override train() to re-apply it'}",
                            stmt=e.stmt,
                        )
            yield from self._frozen_submodules(facts, info, reported, keeps)

    def _evals_before_base(self, facts: Facts, info) -> Iterable[Finding]:
        """A train() override that puts parts in eval mode and only then calls its base's train
        (mmdet-style `self._freeze_stages()`, the norm_eval loop, then `super().train(mode)`): the base
        call puts every submodule back in train mode, so the eval() calls never hold. Only where the
        base call is a statement of the body itself (it runs on every path), some eval() comes before
        it, directly or in a method of the class it calls, and nothing after it could re-apply one
        (no eval(), no call on or handing on `self`)."""
        found, own = base_call(facts, info), _own_train(info)
        if found is None or own is None:
            return
        runs = _runs_next(facts, info, [found[1]])  # a base's own train() may re-apply them: then not judged
        if runs is None or not all(_plain_train(facts, b) for b in runs):
            return
        call, body = found[0], own.body.body
        at = next((i for i, stmt in enumerate(body) if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1
                   and isinstance(stmt.body[0], (cst.Expr, cst.Return)) and stmt.body[0].value is call), None)
        if at is None:
            return
        methods = {m.name.value: m for m in info.node.body.body if isinstance(m, cst.FunctionDef)}
        before = [site for stmt in body[:at] for site in _eval_sites(stmt, methods)]
        before += _helper_evals(facts, own, body[:at])
        if not before or any(_may_refreeze(stmt, methods) for stmt in body[at + 1:]):
            return
        shown = ", ".join(dict.fromkeys(before[:2])) + (" and more" if len(dict.fromkeys(before)) > 2 else "")
        base = src(call)
        yield self.finding(
            call,
            f"`{info.name}.train()` puts parts in eval mode ({shown}) before `{base}`, which puts every "
            f"submodule back in train mode: those eval() calls have no effect (BatchNorm layers there update "
            f"their running statistics on every batch, dropout stays on); call `{base}` first, then the eval() "
            f"calls",
            stmt=body[at], facts=facts,
        )

    def _skipped_refreeze(self, facts: Facts, info, keeps: list[str] | None) -> Iterable[Finding]:
        """A train() override whose base call skips the train() of a base class that re-freezes
        BatchNorm (`super(Base, self).train(mode)` runs nn.Module's train(), not Base's), in a class
        whose inherited `__init__` froze it: reported at that call. Base classes of this file, or
        the one base of another project file, as its summary records it."""
        found = self._skipped_here(facts, info, keeps) if keeps is not None else None
        found = found or self._skipped_elsewhere(facts, info)
        if found is None:
            return
        call, refreezer, owner, lost = found
        base = code_of(call.func.value) if isinstance(call.func, cst.Attribute) else "nn.Module"
        yield self.finding(
            call,
            f"`{base}.train(...)` in {info.name}.train() skips `{refreezer}.train()` and the BatchNorm "
            f"re-freeze in it ({info.name}.train() {lost.removeprefix('it ')}): the BatchNorm layers that "
            f"{owner}.__init__ froze with .eval() go back to training mode at every model.train(), so their "
            f"running statistics move; call `super().train(mode)`, or re-apply the freeze in {info.name}.train()",
        )

    def _skipped_here(self, facts: Facts, info, keeps: list[str]) -> tuple | None:
        skip = skipped_trains(facts, info)
        if skip is None:
            return None
        call, skipped = skip
        bodies = flows_of(facts).bodies

        def bn_freezes(classes: list, method: str) -> list:
            return [e for f in bodies if f.scope.cls in classes and f.scope.is_method and f.scope.func_name == method
                    for e in f.events if e.kind == BN_FREEZE and (e.target == "self" or e.target.startswith("self."))]

        refreezer = next((c for c in skipped if bn_freezes([c], "train")), None)
        frozen = bn_freezes(ancestors(facts, info), "__init__")
        if refreezer is None or not frozen:
            return None
        lost = _not_kept({"keeps": keeps}, frozen[0].detail.get("part") or frozen[0].detail.get("within"), "self")
        owner = next(f.scope.cls.name for f in bodies if any(e is frozen[0] for e in f.events))
        return (call, refreezer.name, owner, lost) if lost is not None else None

    def _skipped_elsewhere(self, facts: Facts, info) -> tuple | None:
        """The class's one base is a class of another project file whose summary says both its
        `__init__` and its train() freeze BatchNorm (on `self`), and the override's base call skips
        that train(): `super(Base, self)` where Base's own bases are torch.nn's (nn.Module's train()
        runs next), or `nn.Module.train(self, mode)`."""
        bases = [b.value for b in info.node.bases if b.keyword is None]
        found = base_call(facts, info) if len(bases) == 1 and facts.project is not None and facts.path else None
        if found is None or found[1] == "own" or found[2] is None:
            return None
        call, start, kept = found
        q = facts.qualname(bases[0], facts.module_scope)
        if not q or is_library(q) or q in facts.classes \
                or start != "torch" and dotted(start) != dotted(bases[0]):
            return None
        hit = facts.project.klass(facts.path, q)
        entry = hit[0] if hit is not None else {}
        methods = entry.get("methods", {})
        if not entry.get("module") or any(BN_FREEZE not in methods.get(m, {}) for m in ("train", "__init__")):
            return None
        if start != "torch" and not all(b.startswith("torch.nn.") and not is_batchnorm_class(b)
                                        for b in entry.get("bases", [""])):
            return None  # what runs after Base may be another override
        lost = _not_kept({"keeps": kept}, None, "self")
        name = q.rsplit(".", 1)[-1]
        return (call, name, name, lost) if lost is not None else None

    def _frozen_submodules(self, facts: Facts, info, reported: set[int | str],
                           keeps: list[str] | None = None) -> Iterable[Finding]:
        """`self.encoder.eval()` in `__init__` (or a private helper it calls) of a frozen feature
        extractor in a class that is evidently trained: `forward` runs the submodule without grad
        (its output feeds what is trained), or the class freezes the submodule's parameters and
        holds a layer of its own to train (a perceptual loss's frozen VGG, in a class that trains
        nothing, is left alone: train() may never reach it). What the submodule holds is not
        known, so no BatchNorm is claimed. Silent where the
        eval can survive train(): a LightningModule (Lightning keeps submodules that are in eval
        mode at the start of fit in eval mode), a `.train = ...` override of the submodule's
        train(), a base class that is not torch's and may override train()."""
        own = [f for f in flows_of(facts).bodies if f.scope.cls is info and f.scope.is_method]
        silent: bool | None = None  # decided once a candidate turns up: code_of re-renders the class (slow)
        init = next((f for f in own if f.scope.func_name == "__init__"), None)
        if init is None:
            return
        helpers = {e.detail["via"] for e in init.events if str(e.detail.get("via", "")).startswith("_")}
        freezes = [e for f in own for e in f.events if e.kind == FREEZE]
        frozen = [e.detail.get("sub") for e in freezes]
        for flow in (f for f in own if f.scope.func_name == "__init__"
                     or f.scope.func_name in helpers and f.scope.func_name not in reported):
            for e in flow.events:
                if e.kind != EVAL or e.detail.get("via") or id(e.node) in reported \
                        or not isinstance(e.node, cst.Call) or not isinstance(e.node.func, cst.Attribute):
                    continue
                # `self.vae = build().eval()`: the eval() of what the assignment stores
                path = e.target if e.detail.get("chained") else dotted(e.node.func.value)
                if not path or not path.startswith("self."):
                    continue  # `self.eval()`: the whole model, which its caller then trains on purpose
                if not _trains_a_layer(facts, info, path, frozen):
                    continue  # a criterion (a perceptual loss's VGG) trains nothing: train() may never reach it
                if _evals_again(own, path, helpers):
                    continue  # forward (or another method) puts it back in eval before it runs: anomalib's teachers
                if _run_without_grad(facts, info, path):
                    how = "runs it without grad in forward"
                elif any(_overlaps(path, sub) for sub in frozen):
                    how = _how_frozen(facts, [f for f in freezes if _overlaps(path, f.detail.get("sub"))])
                else:
                    continue
                lost = _not_kept({"keeps": keeps}, path, "self") if keeps is not None else None
                if keeps is not None and lost is None:
                    continue
                if silent is None:  # an override of its own is judged by what it keeps (`lost`)
                    silent = keeps is None and _bases_may_override_train(facts, info) or \
                        bool(re.search(r"\.train\s*=(?!=)", code_of(info.node)))
                if silent:
                    return
                reported.add(id(e.node))
                override = f"its train() does not keep it in eval mode ({lost})" if lost else \
                    "does not override train()"
                yield self.finding(
                    e.node,
                    f"{info.name} puts `{path}` in eval mode in __init__ and {how}, but {override}: the first "
                    f"model.train() (every epoch loop calls it) puts `{path}` back in training "
                    f"mode, so any dropout in it is active again and any BatchNorm statistics in it move; "
                    f"{'re-apply' if lost else 'override train() to re-apply'} `{path}.eval()`"
                    f"{' in train()' if lost else ''}",
                    stmt=e.stmt,
                )



def _refrozen_again(facts: Facts, info, init, path: str) -> bool:
    """A method of the class other than `__init__`, train() and the private helpers `__init__` calls
    freezes the BatchNorm of `path` again, or puts it (or what holds it) in eval mode
    (`self.backbone.apply(set_bn_eval)` at the top of forward): whatever a train() did is undone at
    every call, as _evals_again reads a frozen submodule's eval()."""
    own = [f for f in flows_of(facts).bodies if f.scope.cls is info and f.scope.is_method]
    helpers = {e.detail["via"] for e in init.events if str(e.detail.get("via", "")).startswith("_")}
    again = any(e.kind == BN_FREEZE and e.target and (path == e.target or path.startswith(e.target + "."))
                and not e.detail.get("part") and not e.detail.get("returned")
                for f in own if f.scope.func_name not in ("__init__", "train") and f.scope.func_name not in helpers
                for e in f.events)
    return again or _evals_again([f for f in own if f.scope.func_name != "train"], path, helpers)


def _evals_again(own: list, path: str, helpers: set) -> bool:
    """A method other than `__init__` and the helpers it calls puts `path` (or what holds it) in
    eval mode again: `self.encoder.eval()` at the top of forward, before the frozen encoder runs,
    undoes whatever a train() did."""
    return any(e.kind == EVAL and not e.detail.get("via") and isinstance(e.node, cst.Call)
               and isinstance(e.node.func, cst.Attribute)
               and (lambda t: t is not None and (path == t or path.startswith(t + ".")))(
                   e.target if e.detail.get("chained") else dotted(e.node.func.value))
               for f in own if f.scope.func_name != "__init__" and f.scope.func_name not in helpers
               for e in f.events)

def _how_frozen(facts: Facts, freezes: list) -> str:
    """How the class freezes a submodule's parameters, for the message: as meant only, where every
    freeze of it is a form that changes nothing (`self.backbone.requires_grad = False`, FZ102), named
    as the finding on that line (when this run reports it)."""
    broken = [f for f in freezes if f.detail.get("broken")]
    if not broken or len(broken) < len(freezes):
        return "freezes its parameters"
    code = broken[0].detail["broken"]
    named = f": {code}" if facts.reports(code) else ""
    return f"means to freeze its parameters (`{src(broken[0].node)}` freezes nothing as written{named})"


def _held_bodies(facts: Facts, bodies: list, trainers: list) -> list:
    """A trainer (a class that is no Module) holding a model its `__init__` froze BatchNorm of
    (`self.model = DeepLab()`, `self.model.freeze_bn()`): each method that trains it, after those
    freezes (a constructor runs before any method), its own or one it inherits from a base class of
    this file (`_trainer_line`). Only methods that call no other method of the class that may
    re-freeze (read in the class, `_calls_self`) and hand `self` to nothing: what runs between their
    train() and their training then leaves the freeze undone."""
    out = []
    by_def = {id(f.scope.node): f for f in bodies if f.scope.is_method}
    for info, init, frozen, line, outside in trainers:
        targets = {f.target for f in frozen}
        methods = {name: func for name, (_, func) in line.items()}
        for name, (k, func) in line.items():
            flow = by_def.get(id(func))
            if flow is None or flow is init or name == "__init__":
                continue
            if k:  # a base's method, read as the subclass runs it: its calls of methods of self reach
                # the subclass's overrides, and the attributes are those the subclass's line assigns
                flow = Flow.of_body(facts, replace(flow.scope, cls=info), func.body.body, flow.summaries)
            if not any(e.kind == TRAIN and e.target in targets for e in flow.events) \
                    or _reads_overridden(None, func, line) or _calls_self(func, methods, targets, outside=outside):
                continue
            combined = Flow(flow.facts, flow.scope, flow.summaries)
            combined.events = [replace(e, loops=(), branches=(), jumps=()) for e in frozen] + \
                [replace(e) for e in flow.events]
            for i, e in enumerate(combined.events):
                e.index = i
            if k:  # a base's method: its train() is reported for the class that inherits it
                combined.heir = info.name
            out.append(combined)
    return out


_MAX_LINE = 4  # classes whose methods a trainer is read with: itself and its project bases, one each
_MAX_METHODS = 60  # methods of such a line, all together


def _trainers(facts: Facts, bodies: list) -> Iterable[tuple]:
    """Each trainer of the file whose own `__init__` freezes BatchNorm of a model it holds: the class,
    that `__init__`'s flow, its freezes, the methods an instance runs (`_trainer_line`) and what the
    summary says of those a base of another project file defines (`trainer_record`; None where the
    line ends in this file)."""
    inits = {id(f.scope.cls): f for f in bodies if f.scope.is_method and f.scope.func_name == "__init__"
             and isinstance(f.scope.node, cst.FunctionDef) and f.scope.node.name.value == "__init__"}
    for info in facts.classes.values():
        init = inits.get(id(info))
        if init is None or info.is_module or _lightning(facts, info):
            continue
        frozen = [e for e in init.events if e.kind == BN_FREEZE and e.target.startswith("self.")
                  and not (e.detail.get("via") and init.summaries.named_override(e.detail["via"]))
                  and not any(r.kind == REBIND and r.target == e.target and after(e, r) for r in init.events)
                  ]  # a model `__init__` then replaced with a new one holds no freeze
        found = _trainer_line(facts, info) if frozen else None  # (another file's summary: only then)
        if found is None:
            continue  # a library base (or several bases): what its methods do is not read
        line, outside = found
        based = outside is not None or any(k for k, _ in line.values())
        if not (based and _base_init_after(init.scope.node, frozen, facts)):
            yield info, init, frozen, line, outside


def _trainer_line(facts: Facts, info) -> tuple[dict, dict | None] | None:
    """The methods an instance of the plain class `info` runs, by name, with the index in its line of
    the class that defines each (`{name: (index, def)}`, the first in lookup order: an override
    wins), through its bases of this file; and the summary record of the base of another project file
    the line goes on to (`{"file", "methods"}`, `trainer_record`), whose methods come after.
    None where a base is no project class (a library's methods are not read), where that other
    file's base has no record, or where the line is longer than a few classes or methods."""
    found = lineage(facts, info)
    if found is None or len(found[0]) + (found[1] is not None) > _MAX_LINE:
        return None
    chain, elsewhere = found
    line = _line_methods(chain)
    outside = None
    if elsewhere is not None:
        if facts.project is None or not facts.path:
            return None
        outside = facts.project.trainer_record(facts.path, elsewhere)
        if outside is None:
            return None
    return (line, outside) if len(line) + len(outside["methods"] if outside else ()) <= _MAX_METHODS else None


def _line_methods(chain: list) -> dict:
    """The methods of a line of classes (the class first, then its bases in lookup order), by name,
    each with the index of the class that defines it: `{name: (index, def)}`, an override first."""
    line: dict = {}
    for k, c in enumerate(chain):
        for m in c.node.body.body:
            if isinstance(m, cst.FunctionDef) and m.name.value not in line:
                line[m.name.value] = (k, m)
    return line


def _base_init_after(init: cst.FunctionDef, frozen: list, facts: Facts) -> bool:
    """`super().__init__(...)` (or `Base.__init__(self, ...)`) runs after a freeze `__init__` makes:
    the base's constructor may replace what was frozen."""
    positions = facts.positions
    first = min((positions[e.node].start.line for e in frozen if e.node in positions), default=0)
    for n in walk(init.body):
        if isinstance(n, cst.Call) and isinstance(n.func, cst.Attribute) and n.func.attr.value == "__init__" \
                and n in positions and positions[n].start.line > first:
            return True
    return False


def _reads_overridden(k: int | None, func: cst.FunctionDef, line: dict, depth: int = 0) -> bool:
    """A method of the class of index `k` in the line calls one that a class before it overrides,
    itself or through the methods it calls (`BaseTrainer.fit` calling `self.train_one_epoch()` a
    subclass defines): its events were read through its own class's methods, not those that run.
    `k` None: the method's own calls were read as the class of the line runs them (the methods they
    call were not)."""
    for n in walk(func.body):
        if isinstance(n, cst.Call) and isinstance(n.func, cst.Attribute) and isinstance(n.func.value, cst.Name) \
                and n.func.value.value == "self" and n.func.attr.value in line:
            j, callee = line[n.func.attr.value]
            if k is not None and j < k or (callee is not func and depth < _MAX_SELF_CALLS
                                           and _reads_overridden(j, callee, line, depth + 1)):
                return True
    return False


def _plain_train(facts: Facts, base: cst.BaseExpression) -> bool:
    """The train() a base call reaches through `base` puts modules in train mode and keeps nothing in
    eval: nn.Module's (torch.nn bases, library Module classes that define none, a project base of any
    file that defines none), or an override of this file proven to keep nothing."""
    kept = _base_keeps(facts, base, frozenset())
    if kept is not None:
        return kept == "torch" or kept == []
    q = facts.qualname(base, facts.module_scope)
    if not q:
        return False
    if is_module_class(q) or is_library(q):  # a library Module class: one that defines no train() of its own
        return is_module_class(q)
    if facts.project is None or not facts.path:
        return False
    kept = facts.project.keeps_of(facts.path, q)
    if kept != "none":
        return kept == []  # its train() (or a project base's) re-applies no eval(): mmcls's BaseBackbone
    hit = facts.project.library_bases(facts.path, q)
    return hit is not None and bool(hit["bases"]) and all(is_module_class(b) for b in hit["bases"])


def _is_eval(call: cst.Call) -> bool:
    """`x.eval()`, `x.train(False)`, `x.train(mode=False)`."""
    f = call.func
    if not isinstance(f, cst.Attribute):
        return False
    if f.attr.value == "eval":
        return not call.args
    if f.attr.value != "train" or len(call.args) != 1:
        return False
    arg = call.args[0]
    return isinstance(arg.value, cst.Name) and arg.value.value == "False" \
        and (arg.keyword is None or arg.keyword.value == "mode")


def _self_method(call: cst.Call, methods: dict) -> cst.FunctionDef | None:
    f = call.func
    if isinstance(f, cst.Attribute) and isinstance(f.value, cst.Name) and f.value.value == "self" \
            and f.attr.value in methods and f.attr.value != "train":
        return methods[f.attr.value]
    return None


def _eval_sites(node: cst.CSTNode, methods: dict, depth: int = 0) -> list[str]:
    """The eval() calls a statement of a train() override makes, shown: `m.eval()`, or the method
    of the class that makes them, `self._freeze_stages()` (two levels of such methods)."""
    out = []
    for n in walk(node):
        if not isinstance(n, cst.Call):
            continue
        if _is_eval(n):
            out.append(f"`{src(n)}`")
        elif depth < 2 and (m := _self_method(n, methods)) is not None and _eval_sites(m.body, methods, depth + 1):
            out.append(f"`{src(n)}`")
    return out


def _helper_evals(facts: Facts, own: cst.FunctionDef, stmts: list[cst.BaseStatement]) -> list[str]:
    """The calls among `stmts` (of a train() override) of functions, of this file or of another
    project file, that put `self` or a part of it in eval mode (`freeze_bn(self.backbone)`), as the
    flow layer resolves them, shown."""
    flow = next((f for f in flows_of(facts).bodies if f.scope.node is own), None)
    if flow is None:
        return []
    calls = {id(n) for stmt in stmts for n in walk(stmt) if isinstance(n, cst.Call)}  # under an `if` too
    return [f"`{src(e.node)}`" for e in flow.events
            if e.kind in (EVAL, BN_FREEZE) and e.detail.get("via") and id(e.node) in calls
            and (e.target == "self" or e.target.startswith("self."))
            and not (dotted(e.node.func) or "").startswith("self.")]  # the class's own methods: _eval_sites


def _may_refreeze(node: cst.CSTNode, methods: dict) -> bool:
    """A statement after the base call that may put a part in eval mode again: an eval(), a call of a
    method of `self` or of a part of it, or one that hands `self` on."""
    for n in walk(node):
        if isinstance(n, cst.Call):
            if _is_eval(n) or (dotted(n.func) or "").startswith("self.") \
                    or any(isinstance(a.value, cst.Name) and a.value.value == "self" for a in n.args):
                return True
    return False


_MAY_REFREEZE = re.compile(r"(?i)eval|freeze|apply|norm|bn")
_MAX_SELF_CALLS = 3  # methods of the class followed from a trainer's method, one inside another


def _calls_self(func: cst.FunctionDef, methods: dict[str, cst.FunctionDef], held: set[str],
                _seen: frozenset = frozenset(), outside: dict | None = None) -> bool:
    """The method hands `self` on, hands a model it holds to an object it holds
    (`self.callbacks.on_train_start(self.model)`), or calls anything named like a re-freeze
    (`self.model.module.freeze_bn()`: a model held by a trainer is not always known well enough for
    its methods to be read), itself or through the other methods of its class it calls
    (`self.log_lr()`, read in turn, a few deep; a method calling back into one on the way counts). In
    those, whose events the method's own flow does not hold, a `train(mode)` or a `.training` set
    counts too. `outside`: what the summary says of the methods a base of another file defines (a
    base without a summary names them only, "defs": a call of one counts)."""
    for n in walk(func.body):
        if _seen and isinstance(n, (cst.Assign, cst.AugAssign, cst.AnnAssign)) and any(
                isinstance(t, cst.Attribute) and t.attr.value == "training"
                for target in ([t.target for t in n.targets] if isinstance(n, cst.Assign) else [n.target])
                for t in walk(target)):
            return True
        if isinstance(n, cst.Call):
            f = n.func
            name = f.attr.value if isinstance(f, cst.Attribute) else f.value if isinstance(f, cst.Name) else ""
            if _MAY_REFREEZE.search(name) or _seen and name == "train" and n.args:
                return True
            if isinstance(f, cst.Attribute) and isinstance(f.value, cst.Name) and f.value.value == "self" \
                    and f.attr.value in methods:
                callee = methods[f.attr.value]
                if callee is func or callee.name.value in _seen or len(_seen) >= _MAX_SELF_CALLS \
                        or _calls_self(callee, methods, held, _seen | {func.name.value}, outside):
                    return True
            elif isinstance(f, cst.Attribute) and isinstance(f.value, cst.Name) and f.value.value == "self" \
                    and outside is not None and f.attr.value in outside.get("defs", ()):
                return True  # a method of a base without a summary: what the methods of self it calls do is not read
            elif isinstance(f, cst.Attribute) and isinstance(f.value, cst.Name) and f.value.value == "self" \
                    and outside is not None and f.attr.value in outside["methods"]:
                if f.attr.value in _seen or len(_seen) >= _MAX_SELF_CALLS \
                        or _outside_refreezes(f.attr.value, methods, held, _seen | {func.name.value}, outside):
                    return True
            if any(isinstance(a.value, cst.Name) and a.value.value == "self" for a in n.args):
                return True
            if isinstance(f, cst.Attribute) and (dotted(f.value) or "").startswith("self.") \
                    and any(dotted(a.value) in held for a in n.args):
                return True
    return False


def _outside_refreezes(name: str, methods: dict, held: set[str], seen: frozenset, outside: dict) -> bool:
    """`_calls_self` of a method a base of another file defines, from its summary record: it may
    re-freeze itself, or through a method it calls (an override of this file's first)."""
    entry = outside["methods"][name]
    if entry.get("refreeze"):
        return True
    for called in entry.get("calls", ()):
        if called in seen or len(seen) >= _MAX_SELF_CALLS:
            return True
        if called in methods:
            if _calls_self(methods[called], methods, held, seen | {name}, outside):
                return True
        elif called in outside["methods"] and _outside_refreezes(called, methods, held, seen | {name}, outside):
            return True
    return False


def _outside_reads_local(name: str, line: dict, outside: dict, seen: frozenset = frozenset()) -> bool:
    """A method of a base of another file calls one this file's classes override (itself or through
    the methods it calls): the summary read it through the base's own."""
    for called in outside["methods"].get(name, {}).get("calls", ()):
        if called in line or (called not in seen and len(seen) < _MAX_SELF_CALLS
                              and _outside_reads_local(called, line, outside, seen | {name})):
            return True
    return False


def _overrides_keep(name: str, target: str, line: dict, outside: dict, by_def: dict) -> bool:
    """The methods of self that `name`, a method of a base of another file, calls and this file's
    classes override leave `target` as they found it: none may re-freeze (`_calls_self`, read as
    called from `name`: a `train(mode)` counts), puts it in a mode, hands it on or binds a new one,
    and none is reached through another method of the base. The summary read the base's own (a `pass`
    hook); what it found of `name` then holds with the overrides too."""
    methods = {n: func for n, (_, func) in line.items()}
    for called in outside["methods"][name].get("calls", ()):
        if called not in line:
            if _outside_reads_local(called, line, outside, frozenset({name})):
                return False
            continue
        func = methods[called]
        flow = by_def.get(id(func))
        if flow is None or _calls_self(func, methods, {target}, frozenset({name}), outside) \
                or any(e.target == target and (e.kind in (BN_FREEZE, EVAL, OPAQUE, REBIND, TRAIN)
                                               or e.kind.startswith(VIA)) for e in flow.events):
            return False
    return True


class _AnySelfAttr:
    """Every `self.x`: held by a trainer whose subclass, in another file, may freeze it."""

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.startswith("self.")


def trainer_record(facts: Facts, info, body_flow) -> dict | None:
    """What a trainer subclass of another file needs of the methods an instance of the plain class
    `info` runs (its line of this file), for the summary ("trainer"): per method, the class that
    defines it, the methods of self it calls, whether it may re-freeze itself (`_calls_self` as for a
    method called from another), and the attributes of self it calls train() on and then trains with
    nothing between that may re-freeze, with the line of that train() and whether it makes the call
    itself (`{"self.model": [13, true]}`), and the methods of self it calls that such training
    follows ("then", `_trains_after_hooks`). None for a Module, a line that leaves the file, and one
    with no such train(). `body_flow`: a method's events as the summary reads them (this file only)."""
    found = lineage(facts, info) if not info.is_module else None
    if found is None or found[1] is not None or len(found[0]) > _MAX_LINE:
        return None
    line = _line_methods(found[0])
    if len(line) > _MAX_METHODS:
        return None
    flows = {id(m): body_flow(m) for _, m in line.values()}  # read for the summary's functions anyway
    events = [e for f in flows.values() if f for e in f.events]
    trains = any(e.kind == TRAIN and e.target.startswith("self.") for e in events)
    # a base whose methods train without train(), or leave a step for a subclass to define
    # (`def train_epoch(self): pass`): a subclass's override may call train() there
    if not trains and not any(e.kind == ACTIVITY for e in events) and not _stubs_called(line):
        return None  # most classes
    methods = {name: func for name, (_, func) in line.items()}
    held, out = _AnySelfAttr(), {}
    for name, (k, func) in line.items():
        if name.startswith("__"):
            continue  # a constructor, an operator: not what a subclass's instance is trained by
        entry: dict = {"cls": found[0][k].name}
        calls = sorted({n.func.attr.value for n in walk(func.body) if isinstance(n, cst.Call)
                        and isinstance(n.func, cst.Attribute) and isinstance(n.func.value, cst.Name)
                        and n.func.value.value == "self" and n.func.attr.value in line})
        if calls:
            entry["calls"] = calls
        if _calls_self(func, {}, held, frozenset({name})):
            entry["refreeze"] = True
        flow = flows.get(id(func))
        if flow is not None and not _reads_overridden(k, func, line) and not _calls_self(func, methods, held):
            lasting = _trains_after_train(flow)
            if lasting:
                entry["trains"] = lasting
            then = _trains_after_hooks(_HookMarks.of_body(facts, flow.scope, func.body.body, flow.summaries,
                                                          flow.depth), line) if calls else None
            if then:  # a subclass's override of such a hook that calls train() undoes a freeze
                entry["then"] = then
        out[name] = entry
    if trains and not any("trains" in e or "then" in e for e in out.values()):
        return None  # its train() calls are followed by a re-freeze: nothing an override changes
    return {"methods": {name: e for name, e in out.items() if len(e) > 1}}  # the rest do nothing to read


def _stubs_called(line: dict) -> bool:
    """A method of the line calls one of self whose body does nothing (`pass`, `...`, a docstring,
    `raise NotImplementedError`): a step left for a subclass to define."""
    stubs = {name for name, (_, func) in line.items() if _is_stub(func)}
    return bool(stubs) and any(isinstance(n, cst.Call) and isinstance(n.func, cst.Attribute)
                               and isinstance(n.func.value, cst.Name) and n.func.value.value == "self"
                               and n.func.attr.value in stubs for _, func in line.values() for n in walk(func.body))


def _is_stub(func: cst.FunctionDef) -> bool:
    body = func.body.body if isinstance(func.body, cst.IndentedBlock) else [func.body]
    for stmt in body:
        small = stmt.body if isinstance(stmt, cst.SimpleStatementLine) else stmt.body if isinstance(
            stmt, cst.SimpleStatementSuite) else None
        if small is None:
            return False
        for s in small:
            if isinstance(s, cst.Pass) or isinstance(s, cst.Expr) and isinstance(
                    s.value, (cst.Ellipsis, cst.SimpleString, cst.ConcatenatedString)):
                continue
            if isinstance(s, cst.Raise) and s.exc is not None and "NotImplementedError" in (
                    dotted(s.exc.func if isinstance(s.exc, cst.Call) else s.exc) or ""):
                continue
            return False
    return True


def _trains_after_train(flow) -> dict:
    """The attributes of self a method's flow calls train() on (the whole of each, not a part) and
    then trains, with no freeze, eval(), opaque call or call of another file's function (not read
    here) on it between nor a new object bound to it first: `{"self.model": [line of that train(),
    whether the method calls it itself]}`."""
    positions, out = flow.facts.positions, {}
    for t in flow.events:
        if t.kind != TRAIN or not t.target.startswith("self.") or t.target in out or t.detail.get("override") \
                or t.detail.get("reach") or t.detail.get("part") \
                or any(r.kind == REBIND and r.target == t.target and r.index < t.index for r in flow.events):
            continue
        for a in flow.events:
            if a.kind == ACTIVITY and a.target in (t.target, "*") and after(t, a) and a is not t \
                    and (a.node is not t.node or (t.detail.get("via") and a.index > t.index)) \
                    and not any((f.kind in (BN_FREEZE, OPAQUE, EVAL, REBIND) or f.kind.startswith(VIA))
                                and f.target == t.target for f in between(flow, t, a)):  # via: another file's
                node = t.detail.get("origin_node") if t.detail.get("via") else t.node
                if node in positions:
                    out[t.target] = [positions[node].start.line, not t.detail.get("via")]
                break
    return out


def _hook_train(flow, attrs: set[str]):
    """The first `self.model.train()` (no mode, or True) of a hook override's flow on one of `attrs`,
    the whole of it, with nothing after it on it that may re-freeze (a freeze, eval(), opaque call or
    call of another file's function): None where there is none."""
    if flow is None:
        return None
    for t in flow.events:
        if t.kind != TRAIN or t.target not in attrs or t.detail.get("via") or t.detail.get("override") \
                or t.detail.get("reach") or t.detail.get("part") or not isinstance(t.node, cst.Call) \
                or not (not t.node.args or len(t.node.args) == 1 and isinstance(t.node.args[0].value, cst.Name)
                        and t.node.args[0].value.value == "True"):
            continue
        if not any((f.kind in (BN_FREEZE, OPAQUE, EVAL, REBIND) or f.kind.startswith(VIA)) and f.target == t.target
                   for f in flow.events if after(t, f) and f is not t):
            return t
    return None


_HOOK = "hook"  # a mark in a base's method (`_HookMarks`): a call of a method of self


class _HookMarks(Flow):
    """A method's events with a mark right after each call of a method of self (`self.on_epoch_start()`),
    after the events of the base's own version, which a subclass's override replaces: what follows the
    mark is what runs after the override (`_trains_after_hooks`)."""

    def visit_Call(self, node: cst.Call):
        out = super().visit_Call(node)
        f = node.func
        if isinstance(f, cst.Attribute) and isinstance(f.value, cst.Name) and f.value.value == "self":
            self._emit(_HOOK, f.attr.value, node)
        return out


def _trains_after_hooks(flow, line: dict) -> dict:
    """The methods of self (of the line: a subclass may override them) a method's flow calls and,
    later in its order, trains an attribute of self after, with no freeze, eval(), opaque call, call
    of another file's function nor other call of a method of self between: `{"on_epoch_start": [line
    of that call, ["self.model"]]}`. A call after training in a loop (an epoch-end hook) is not one."""
    positions, out = flow.facts.positions, {}
    for m in flow.events:
        if m.kind != _HOOK or m.target not in line or m.target in out or m.node not in positions:
            continue
        attrs = set()
        for a in flow.events:
            if a.kind != ACTIVITY or a.index <= m.index or not after(m, a):
                continue
            gap = between(flow, m, a)
            if any(f.kind == _HOOK and f.target in line for f in gap):
                continue  # another method of self first: a subclass's override of it may re-freeze
            # what trains: the attribute itself, or (a base that does not know its model) the attributes
            # of self it calls on the way (`self.model(x)`)
            names = {a.target} if a.target.startswith("self.") else {
                f"self.{f.kind[len(CALLS):]}" for f in gap if a.target == "*" and f.kind.startswith(CALLS)
                and f.target == "self" and f.kind[len(CALLS):] not in line}
            attrs |= {n for n in names if not any((f.kind in (BN_FREEZE, OPAQUE, EVAL, REBIND)
                                                   or f.kind.startswith(VIA)) and f.target == n for f in gap)}
        if attrs:
            out[m.target] = [positions[m.node].start.line, sorted(attrs)]
    return out


def _not_kept(detail: dict, part: str | None, target: str) -> str | None:
    """Why the train() override a TRAIN event runs does not keep the frozen BatchNorm in eval
    mode, from what it provably keeps (`detail["keeps"]`, modes.train_keeps): nothing at all, or
    only parts other than the frozen `part` (`model.layer1`; the BatchNorm of `model.backbone` a
    loop over its modules froze, in this body or a helper of this file). None when it may keep it."""
    keeps = detail.get("keeps")
    if keeps is None:
        return None
    if not keeps:
        return "it re-applies no eval()"
    rel = part[len(target) + 1:] if part and part.startswith(target + ".") else None
    if rel is None or any(_overlaps(rel, k) for k in keeps):
        return None
    return "it re-applies eval() to " + ", ".join(f"`self.{k}`" for k in keeps) + f" only, not to `self.{rel}`"


def _undoes(t, f) -> bool:
    """train() sets the modes of the modules it reaches only: the train() event `t` undoes the
    BatchNorm freeze `f` when it reaches all of the model, the frozen part itself, or a module
    that holds it; a part inside what was frozen only where that part is proven to hold
    BatchNorm (`model.head.train()` after `freeze_bn(model)` leaves a Linear head's BatchNorm-free
    modules in training mode and nothing else). A sibling (`net.head` after `net.backbone.eval()`)
    is not reached."""
    reach = t.detail.get("reach")
    if not reach:
        return True
    frozen = f.detail.get("part") or f.detail.get("within")
    frozen = whole_of(frozen, f.target) if frozen else None
    for path, bn in reach:
        if path == frozen or frozen is not None and _inside(frozen, path):
            return True
        if (frozen is None or _inside(path, frozen)) and bn:
            return True
    return False


def _inside(path: str, part: str) -> bool:
    return path.startswith((part + ".", part + "["))


def _unfrozen_first(evs: list, t) -> bool:
    """`X.train()` on a part the code unfroze before it (gradual unfreezing: `layer4` trains now,
    its BatchNorm with it): switching it to train mode is the point, not a freeze undone."""
    node = t.node
    if not isinstance(node, cst.Call) or not isinstance(node.func, cst.Attribute):
        return False
    path = dotted(node.func.value)
    return bool(path) and any(u.kind == UNFREEZE and u.target == t.target and u.index < t.index
                              and _overlaps(path, u.detail.get("sub") or u.target) for u in evs)


def _overlaps(path: str, sub: str | None) -> bool:
    """A freeze of `sub` reaches the submodule `path` (all of the model, the submodule, or a part of it)."""
    return bool(sub) and (sub == "self" or sub == path or path.startswith(sub + ".")
                          or sub.startswith((path + ".", path + "[")))


def _trains_a_layer(facts: Facts, info, path: str, frozen: list) -> bool:
    """The class assigns a torch.nn layer with parameters (`self.head = nn.Linear(...)`) outside
    `path` and outside every freeze: it has something to train."""
    for attr, values in info.attrs.items():
        own = f"self.{attr}"
        if own == path or any(_overlaps(own, sub) for sub in frozen):
            continue
        for value, scope in values:
            q = facts.qualname(value.func, scope) if isinstance(value, cst.Call) else None
            if q and q.startswith("torch.nn.") and is_module_class(q) and not is_parameter_free(q):
                return True
    return False


_NO_GRAD = ("torch.no_grad", "torch.inference_mode", "torch.autograd.no_grad", "torch.autograd.grad_mode.no_grad")


def _run_without_grad(facts: Facts, info, path: str) -> bool:
    """`forward` runs `path` under `with torch.no_grad():` (directly or through a method of the
    class it calls there), or through a method decorated with `@torch.no_grad()`."""
    methods = {m.name.value: m for m in info.node.body.body if isinstance(m, cst.FunctionDef)}
    forward = methods.get("forward")
    if forward is None:
        return False
    named = re.compile(re.escape(path) + r"\b")

    def runs(node: cst.CSTNode, through_decorated: bool = False) -> bool:
        code = code_of(node)
        if not through_decorated and named.search(code):
            return True
        for name in re.findall(r"\bself\.(\w+)\s*\(", code):
            m = methods.get(name)
            if m is not None and named.search(code_of(m.body)) \
                    and (not through_decorated or any(_no_grad(facts, d.decorator) for d in m.decorators)):
                return True
        return False

    withs = [n for n in walk(forward.body) if isinstance(n, cst.With)
             and any(_no_grad(facts, item.item) for item in n.items)]
    return any(runs(w.body) for w in withs) or runs(forward.body, through_decorated=True)


def _no_grad(facts: Facts, expr: cst.BaseExpression) -> bool:
    func = expr.func if isinstance(expr, cst.Call) else expr
    return facts.qualname(func, facts.module_scope) in _NO_GRAD


def _lightning(facts: Facts, info, seen: frozenset[str] = frozenset()) -> bool:
    """A LightningModule, directly or through classes of this file."""
    for base in (b.value for b in info.node.bases if b.keyword is None):
        q = facts.qualname(base, facts.module_scope) or (base.value if isinstance(base, cst.Name) else "")
        local = facts.classes.get(q)
        if q in LIGHTNING_MODULES or (local is not None and q not in seen and _lightning(facts, local, seen | {q})):
            return True
    return False


# What 1.x code has and 2.0 removed: the epoch-end hooks (2.0 raises where one is defined), pl.metrics
_HOOKS_GONE_IN_2 = frozenset({"training_epoch_end", "validation_epoch_end", "test_epoch_end"})


def _fit_calls_train(facts: Facts, info) -> str | None:
    """What says that the LightningModule runs under a Lightning before 2.2, in order: the project's
    `lightning-version` setting or its requirement; code of the file that only 1.x runs; the installed
    Lightning. None where nothing does, or where it is 2.2 or later."""
    package = _lightning_package(facts, info)
    here = Path(facts.path).resolve().parent if facts.path and facts.project is not None else None
    if here is not None:
        key = f"{here}{os.sep}<lightning>#lightning {package}"  # re-checked when the version changes (FZ110's)
        facts.project.used[key] = facts.project.current_digest(key)
        declared = declared_signal(here, package, facts.project.root, KEEPS_MODES)
        if declared is not None:
            return declared[1] if declared[0] == 1 else None
    old = _runs_on_1x(facts)
    if old is not None:
        return old
    installed = version_signal(None, package, at=KEEPS_MODES)
    return installed[1] if installed is not None and installed[0] == 1 else None


def _init_freezes_bn(facts: Facts, info) -> bool:
    """The class's `__init__` puts BatchNorm of `self` in eval mode."""
    return any(e.kind == BN_FREEZE and (e.target == "self" or e.target.startswith("self."))
               for f in flows_of(facts).bodies if f.scope.cls is info and f.scope.func_name == "__init__"
               for e in f.events)


def _lightning_package(facts: Facts, info, seen: frozenset[str] = frozenset()) -> str:
    """"lightning" or "pytorch_lightning": where the LightningModule the class derives from comes from."""
    for base in (b.value for b in info.node.bases if b.keyword is None):
        q = facts.qualname(base, facts.module_scope) or (base.value if isinstance(base, cst.Name) else "")
        if q in LIGHTNING_MODULES:
            return q.split(".", 1)[0]
        local = facts.classes.get(q)
        if local is not None and q not in seen:
            return _lightning_package(facts, local, seen | {q})
    return "pytorch_lightning"


def _runs_on_1x(facts: Facts) -> str | None:
    """Code of the file that only Lightning 1.x runs: an epoch-end hook 2.0 removed, `pl.metrics`."""
    for info in facts.classes.values():
        for s in info.node.body.body:
            if isinstance(s, cst.FunctionDef) and s.name.value in _HOOKS_GONE_IN_2 and _lightning(facts, info):
                return f"{info.name} defines `{s.name.value}`, a hook Lightning 2.0 removed"
    for node in walk(facts.module):
        q = facts.qualname(node, facts.module_scope) if isinstance(node, (cst.Name, cst.Attribute)) else None
        if q and (q == "pytorch_lightning.metrics" or q.startswith("pytorch_lightning.metrics.")):
            return f"the file uses `{src(node)}`, which Lightning 1.5 moved to torchmetrics and 2.0 removed"
    return None


def _bases_may_override_train(facts: Facts, info, seen: frozenset[str] = frozenset()) -> bool:
    """A base class other than torch's may override train(): one of this file is looked into, a
    LightningModule keeps eval modes through fit, anything else is not known."""
    for base in (b.value for b in info.node.bases if b.keyword is None):
        q = facts.qualname(base, facts.module_scope) or (base.value if isinstance(base, cst.Name) else "")
        if q in LIGHTNING_MODULES:
            return True
        if q.startswith("torch.nn."):
            continue
        local = facts.classes.get(q)
        if local is None or q in seen:
            return True
        if any(isinstance(s, cst.FunctionDef) and s.name.value == "train" for s in local.node.body.body) \
                or _bases_may_override_train(facts, local, seen | {q}):
            return True
    return False


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
    where = _where(t, facts)
    through = "".join(f"`{f}(...)`, " for f in t.detail.get("through", ()))  # helpers of other files on the way
    return f"`{via}(...)` ({through}it calls train() at {where})" if where else f"`{via}(...)` (it calls train())"


def _where(t, facts: Facts) -> str | None:
    """Where the helper a TRAIN event goes through calls train(): `line 24`, or another file's place."""
    where = t.detail.get("where")
    if where is None and t.detail.get("origin_node") is not None:
        origin = t.detail["origin_node"]
        if origin in facts.positions:
            where = f"line {facts.positions[origin].start.line}"
    return where
