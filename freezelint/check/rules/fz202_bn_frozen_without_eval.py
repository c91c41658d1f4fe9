"""FZ202 bn-frozen-without-eval: BatchNorm frozen with requires_grad only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import libcst as cst

from freezelint.check.facts import Facts, is_batchnorm_class
from freezelint.check.flow import BN_FREEZE, EVAL, FREEZE, FREEZE_BY_DEFAULT, TRAIN, UNFREEZE, flows_of
from freezelint.check.override_freezes import stem_freezes
from freezelint.check.probe import left_in_eval, settled
from freezelint.check.rules.base import FREEZES, Example, Finding, Rule, src
from freezelint.check.whole_model import BN_FACTORY_TRIGGERS, HF_BN_FAMILIES, claims
from freezelint.check.syntax import dotted, walk


class BnFrozenWithoutEval(Rule):
    code = "FZ202"
    words = ("BatchNorm", "torchvision", "timm", "norm_cfg", "norm_layer", "build_norm_layer", *HF_BN_FAMILIES)
    # ... or a model factory the table knows to hold BatchNorm (tests check every one matches), or a
    # train() override in a file that builds layers with a norm setting (`ConvModule(...,
    # norm_cfg=self.norm_cfg)`: override_freezes; timm's models say norm_layer= everywhere, few override train)
    # ... or a norm layer `build_norm_layer(cfg, n)` builds (mmcv's `[1]`, mmpretrain's layer itself: kinds)
    triggers = (r"isinstance\([^)]*BatchNorm", r"BatchNorm\w*\(", *BN_FACTORY_TRIGGERS, r"\bdef train\(\s*self",
                r"\bbuild_norm_layer\(")
    # a literal False, or a flag (`requires_grad_(unfreeze)`, `unfreeze=False` by default)
    requires = (FREEZES + r"|requires_grad_?(?:\s*=|\(|['\"]\s*,)\s*[A-Za-z_]|requires_grad_\(\s*\)",)
    what = ("Finds BatchNorm layers frozen with requires_grad only, never put in eval mode: frozen one by one, "
            "with the whole model (a torchvision/timm backbone), or with a frozen stage of it (`layer1`, a stem) "
            "trained in train mode.")
    why = (
        "`requires_grad=False` stops the BatchNorm weight and bias from training, but not its "
        "running_mean, running_var and num_batches_tracked: they keep updating on every batch in "
        "train mode — even under `torch.no_grad()` or `torch.inference_mode()`. The frozen layers "
        "drift towards the fine-tuning data. `.eval()` (re-applied after every `model.train()`) or "
        "`FrozenBatchNorm2d` freezes the statistics."
    )
    notes = (
        "A freeze is any requires_grad change the checker understands, on the layer, its weight or "
        "bias, or its parameters in a loop or comprehension: `= False`, `requires_grad_(False)`, "
        "`setattr(p, \"requires_grad\", False)`, or a flag parameter whose default is False "
        "(`def freeze_norm(model, unfreeze=False)` ... `requires_grad_(unfreeze)`), unless every call "
        "of the function in the file passes the flag. "
        "Silent when the file puts BatchNorm layers in eval mode anywhere (for example "
        "`model.apply(fix_bn)`), when the block that freezes also sets the layer's `momentum = 0` or "
        "`track_running_stats = False` (its statistics no longer move), and when the model the layers "
        "come from is put in eval mode after the freeze (there, or after every call in the file of the "
        "function that freezes) and nothing can put it back in train mode: no train(), directly or "
        "through a helper, and not handed to a function whose effects are not known (a linear probe "
        "trains in eval mode). The finding is "
        "on the freeze. BatchNorm layers frozen by a parameter loop in a Module's `__init__` "
        "are reported when this file or another file of the project puts the model in train mode "
        "(found through the project's summaries) and the class never puts them in eval mode; a "
        "model used only under eval() is fine. "
        "A function that freezes BatchNorm in its parameter and is called from no place in its own file "
        "is followed to its callers in the other files of the project (their summaries record what follows "
        "each call of an imported helper): silent when every one of them leaves the model in eval mode, "
        "through helpers of further files too; reported when none is found. "
        "The whole-model freeze: a model built in the same body by a torchvision or timm factory, or a "
        "transformers class (built or `from_pretrained`), whose BatchNorm layers the generated table lists "
        "(resnets, densenet, efficientnet, mobilenet, vgg*_bn, ...; transformers' ResNet, RegNet, "
        "MobileNetV1/V2, EfficientNet, MobileViT, LeViT, CvT, SwiftFormer, HGNetV2 and UperNet classes; a "
        "ViT, a text model, ConvNext or BiT has none: LayerNorm and GroupNorm keep no running statistics), "
        "or an nn.Sequential of a literal slice of such a model's children (`nn.Sequential(*list(resnet50()"
        ".children())[:-2])`, the slice bound to a name first too, or an attribute replaced so by a later "
        "statement of the same body, `self.resnet = nn.Sequential(*list(self.resnet.children())[:-1])`: "
        "the kept children, renumbered from 0, and their BatchNorm layers; a computed slice, or a model the "
        "file changes before (a child with BatchNorm replaced, a child added, the model handed to a call), is "
        "not known), "
        "frozen with requires_grad (`requires_grad_(False)`, a `parameters()` loop, a `named_parameters` "
        "loop whose name test, startswith/endswith/in/==/not/and/or/any over literal strings, is evaluated "
        "on each BatchNorm parameter's name, a helper of the same file, given the model or freezing the "
        "module-level model it reads (`freeze_model()`), or a nested function's closure over the model; a name bound once to a literal list "
        "of strings is read as that list, `all([not name.startswith(l) for l in layers_to_train])`), "
        "trained in that body with an optimizer (one built there, or one it steps: `model, opt = build()` and "
        "then `loss.backward()` and `opt.step()`, there or in a function of the file it hands the model to, "
        "`train(model, opt)`), and then put in train mode. A frozen stage is reported too: "
        "some BatchNorm layers frozen (both parameters of each) while others train (`layer4` left "
        "trainable, `model.layer1.requires_grad_(False)`, everything but `layer3`/`layer4`/`fc`, a later "
        "unfreeze of a part, `getattr(model, name)` in a loop over a literal list of names), the message naming the frozen parts and how many BatchNorm layers they hold; "
        "train mode wanted by the trained rest does not stop the frozen layers' statistics. Only whole "
        "stages count: a child of the model or of a factory-built part of it (`bn1`, `layer1`, "
        "`backbone.layer2`); BatchNorm layers frozen here and there inside trained stages (a name test "
        "that misses `downsample.1`) are not claimed. An unfreeze of all of the model under the test of a "
        "setting, outside any loop (`if unfreeze_blocks >= 5:`, a dial's full fine-tune), is another run's: "
        "the claim is on the runs it leaves frozen, and the message says `unless ...`; unfreezes of parts "
        "under such tests count as made (the parts claimed are frozen on every such run; a test inside a "
        "loop, an epoch's, unfreezes as made too). An unfreeze of the modules a test picks (`model.apply(fn)`, a "
        "loop over `model.modules()` under a test) may train BatchNorm layers again and keeps it silent, but "
        "for a loop whose test picks only layers that hold no BatchNorm (`isinstance(m, nn.Linear)`). A local Module class's attributes built of torch.nn "
        "layers (`self.stem = nn.Sequential(nn.Conv2d(...), nn.BatchNorm2d(...))`) count as parts with "
        "their BatchNorm layers (for this claim only, not for the summaries); so does an attribute "
        "holding a part of another Module class's instance (`self.f = Model().f`; of another project file, as its "
        "summary records what an instance holds), and a table model's children "
        "gathered in a loop (`for m in resnet18().children(): if not isinstance(m, nn.Linear): self.f.append(m)`, "
        "then `self.f = nn.Sequential(*self.f)`: under a test of a leaf class, the children holding BatchNorm, "
        "none of which it drops). A torchvision model imported from its own module "
        "(`from torchvision.models.resnet import resnet18`) is the table's. Put in train mode: a `train()` "
        "after the freeze (directly or through a helper of this or another project file, a nested function "
        "reading the model from the function around it too: a validation "
        "`eval()` that the next `train()` undoes does not help), or, with no eval() of it at all, the "
        "train mode a new model starts in, its forward and a backward/step after the freeze. Silent when "
        "the frozen part or the whole model is put in eval() after the freeze with no train() after it, "
        "when train() and eval() are chosen by a setting the freeze depends on too (the test of its arm, of "
        "a builder's arm as the call names it, `args.model`, or of an unfreeze of all left out), when the file puts "
        "BatchNorm layers in eval mode anywhere, tests for BatchNorm with isinstance, names "
        "FrozenBatchNorm, `track_running_stats` or `norm_layer` (a GroupNorm backbone), sets a `.momentum`, updates parameters by a moving "
        "average (`zip(teacher.parameters(), ...)`, `lerp_`, EMA: a teacher in train mode on purpose) in its "
        "code (a comment or docstring that names them does not count), "
        "calls `model.apply(fn)` (not where `fn`, a function of the file, a lambda, or a function of another "
        "project file as its summary records it, visibly sets no BatchNorm layer's mode: a weight "
        "initialiser that never says eval, train or training and calls only library functions, builtins and "
        "methods of what it reads, or one that sets modes only under a test picking torch's leaf layers, "
        "`isinstance(m, nn.Dropout)` or a \"Dropout\" class-name test: MC dropout's `m.train()`), or hands the "
        "model to a function whose effects are unknown before a training step (thop's `profile` is known: it "
        "hands the model back in the mode it came in), and when a name test is not "
        "understood. The freeze may also come with the model: an instance of a Module class whose `__init__` "
        "freezes its factory-built parts (`self.backbone = resnet50(); self.backbone.requires_grad_(False)`; "
        "the class's other attributes must hold no BatchNorm left to train; a freeze there under `if` tests counts "
        "where the construction decides they all hold: `DenseBlock(freeze_dense_layer=True)` for `if "
        "freeze_dense_layer:`, each parameter the tests read given a literal by keyword or position, and no "
        "`*args` / `**kwargs`; not a default left, nor a flag from a variable or a config, "
        "`DenseBlock(freeze_dense_layer=args.freeze)`), or a builder's returned model "
        "(`model = build()`; timm's `reset_classifier` adds no BatchNorm; of a builder of this file that "
        "returns it in a tuple, the element the call unpacks, `model_ft, input_size = initialize_model(...)`; "
        "a freeze in a helper under a flag of its own counts where the call, or the builder's call that hands "
        "the helper its own parameter, sets the flag True by a literal or a module constant), in this file or another file of "
        "the project (a builder that binds a different model in each arm of an `if`, `if name == "
        "\"resnet\": model = resnet18() ... elif ...: model = densenet121()`, is followed arm by arm: a freeze on "
        "every path of the arm counts, an arm the call's literal arguments or the module's constants rule out "
        "is left out, and one finding on the call names every arm claimed, the first one's model told; of another "
        "file, only arms frozen whole on every path of the arm, as its summary records them), and a helper of another file that freezes its argument whole (`freeze_all(model."
        "backbone)`), as the project's summaries record them; a freeze there made only on some paths (`if "
        "freeze:`), by a name test or of the modules it picks (`model.apply(fn)` of a function that picks, a "
        "loop over `model.modules()` under a test) is not taken from another file, except a helper that freezes its argument "
        "whole under tests on its other parameters only (the tutorial's `set_parameter_requires_grad(model_ft, "
        "feature_extract)` with `if feature_extracting:`), where the call passes what makes them hold: a "
        "literal, the default left, or a name bound once to a literal where the call is (a module constant, "
        "or a local of the calling function; also for a helper of the same file), and a builder of another "
        "file whose freeze sits under tests on its own parameters, inline or in a helper of its file it hands "
        "them to (the tutorial's `initialize_model(num_classes, feature_extract)`), or in a helper of a third file "
        "it hands the whole model and a flag, a literal or its own parameter (`set_bn(m, freeze_bn)`: read "
        "through that helper's summary, a few files deep; a builder that hands the model to two such "
        "functions is not read), read so at its call; a "
        "setting of the run (`args.feature_extract`) is not known to freeze. Silent when the class overrides "
        "train() or puts a part of itself in eval mode (after a freeze in `__init__`, a train() undoing "
        "that is FZ201's; so is a stage frozen and put in eval() once, then undone by `model.train()`: "
        "FZ201 reports that train() and FZ202 stays silent, one report per mistake). A class whose "
        "`__init__` freezes a BatchNorm attribute is reported there, not again where it is built. "
        "Reported on the freeze, or on the call that builds or freezes the model; "
        "`# noqa: FZ202` for AdaBN-style adaptation on purpose. "
        "Inside a train() override (OpenMMLab's `MobileNetV2._freeze_stages`): a class whose own train() calls "
        "`super().train(mode)` and then, itself or through methods of the class (bounded depth), freezes a part "
        "`self.P` whole by requires_grad (`requires_grad_(False)`, a loop over `self.P.parameters()`) in a body "
        "that also puts another part it freezes in eval (`layer.eval()` of `layer = getattr(self, f\"layer{i}\")`, "
        "`self.layer1.eval()`): the author's own sign that frozen parts need eval, which the stem missed. `self.P` "
        "must hold BatchNorm in every value `__init__` gives it: torch.nn layers with one, or a call handed "
        "`norm_cfg=` / `norm_layer=` that is one (`dict(type='BN')`, `SyncBN`, `nn.BatchNorm2d`, a parameter or "
        "attribute whose default is such; `None`, `GN`, `LN`, a parameter without default are not). Silent when "
        "`self.P`, its BatchNorm, or the whole model is put in eval anywhere train() reaches, when a sweep of every "
        "BatchNorm (`for m in self.modules(): if isinstance(m, _BatchNorm): m.eval()`) runs by default (under no "
        "test, `if mode:`, or a switch whose default is True), and when train() reaches what cannot be read: "
        "`self.apply(...)`, a method of a base class, a function handed `self`, an eval() of a part not known. A "
        "sweep under `if mode and self.norm_eval:` with `norm_eval=False` by default does not keep the part's "
        "statistics: the message says so."
    )
    bad = [
        Example(
            """
            import torch.nn as nn

            for m in model.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.weight.requires_grad = False  # expect: FZ202
                    m.bias.requires_grad = False
            """,
            instead="""
            import torch.nn as nn

            for m in model.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()  # re-applied after every model.train()
                    m.weight.requires_grad = False
                    m.bias.requires_grad = False
            """,
        ),
        Example(
            """
            import torch
            from transformers import ResNetModel

            model = ResNetModel.from_pretrained("microsoft/resnet-50")
            model.requires_grad_(False)  # expect: FZ202
            head = torch.nn.Linear(2048, 2)
            opt = torch.optim.AdamW(head.parameters(), lr=1e-3)
            model.train()
            for x, y in loader:
                loss = torch.nn.functional.cross_entropy(head(model(x).pooler_output.flatten(1)), y)
                loss.backward()
                opt.step()
            """,
            instead="""
            import torch
            from transformers import ResNetModel

            model = ResNetModel.from_pretrained("microsoft/resnet-50")
            model.requires_grad_(False)
            head = torch.nn.Linear(2048, 2)
            opt = torch.optim.AdamW(head.parameters(), lr=1e-3)
            model.eval()  # frozen: its BatchNorm layers keep their running statistics
            for x, y in loader:
                loss = torch.nn.functional.cross_entropy(head(model(x).pooler_output.flatten(1)), y)
                loss.backward()
                opt.step()
            """,
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
            '''
            """Torchvision's trainable_layers loop, copied onto a backbone built without
            FrozenBatchNorm2d: a docstring or comment that names it fixes nothing."""
            import torch
            import torchvision

            backbone = torchvision.models.resnet50()  # norm_layer left to its default
            for name, parameter in backbone.named_parameters():
                if all(not name.startswith(layer) for layer in ["layer4"]):
                    parameter.requires_grad_(False)  # expect: FZ202
            opt = torch.optim.SGD([p for p in backbone.parameters() if p.requires_grad], lr=0.01)
            backbone.train()
            for x in loader:
                backbone(x).sum().backward()
                opt.step()
            '''
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

            def freeze_norm(model, unfreeze=False):
                for module in model.modules():
                    if isinstance(module, nn.BatchNorm2d):
                        if module.weight is not None:
                            module.weight.requires_grad_(unfreeze)  # expect: FZ202
                            # (a freeze where callers leave the flag out)
                        module.bias.requires_grad_(unfreeze)

            freeze_norm(model)
            freeze_norm(head, unfreeze=True)
            """
        ),
        Example(
            """
            import torch.nn as nn

            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    setattr(m.weight, "requires_grad", False)  # expect: FZ202
            for m in model.modules():
                if isinstance(m, nn.BatchNorm3d):
                    [p.requires_grad_(False) for p in m.parameters()]  # expect: FZ202
            for name, m in model.named_modules():
                if isinstance(m, nn.SyncBatchNorm):
                    for _, p in m.named_parameters():
                        p.requires_grad = False  # expect: FZ202
            for m in model.modules():
                if isinstance(m, nn.BatchNorm1d):
                    m.bias.requires_grad: bool = False  # expect: FZ202
            """
        ),
        Example(
            """
            import torch.nn as nn

            def freeze_bn(model):
                for m in model.modules():
                    if isinstance(m, nn.BatchNorm2d):
                        pass  # m.eval() removed
                        for p in m.parameters():
                            p.requires_grad = False  # expect: FZ202

            def probe(model, loader):
                freeze_bn(model)
                model.eval()
                for x, y in loader:
                    model.train()  # back in train mode: the statistics move
                    loss = model(x)
            """
        ),
        Example(
            """
            import torch.nn as nn
            from lightning_tools import fit

            model = build()
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.requires_grad_(False)  # expect: FZ202
            model.eval()
            fit(model, loader)  # a library's function may call train()
            """
        ),
        Example(
            """
            import torch.nn as nn

            def linear_probe(model, loader):
                for m in model.modules():
                    if isinstance(m, nn.BatchNorm2d):
                        m.requires_grad_(False)  # expect: FZ202
                model.eval()  # eval() here, but the caller trains it afterwards

            linear_probe(model, loader)
            model.train()
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
        Example(
            """
            import torch
            import torch.nn as nn
            import torchvision

            def linear_probe(loader):
                model = torchvision.models.resnet50(weights="IMAGENET1K_V2")
                model.requires_grad_(False)  # expect: FZ202
                model.fc = nn.Linear(2048, 10)
                opt = torch.optim.SGD(model.fc.parameters(), lr=0.1)
                model.train()
                for x, y in loader:
                    opt.zero_grad()
                    nn.functional.cross_entropy(model(x), y).backward()
                    opt.step()
            """,
            instead="""
            import torch
            import torch.nn as nn
            import torchvision

            def linear_probe(loader):
                model = torchvision.models.resnet50(weights="IMAGENET1K_V2")
                model.requires_grad_(False)
                model.fc = nn.Linear(2048, 10)
                opt = torch.optim.SGD(model.fc.parameters(), lr=0.1)
                model.eval()  # the frozen backbone's statistics stay put; the new head has none
                for x, y in loader:
                    opt.zero_grad()
                    nn.functional.cross_entropy(model(x), y).backward()
                    opt.step()
            """,
        ),
        Example(
            """
            import torch
            import torch.nn.functional as F
            from torchvision import models

            model = models.mobilenet_v2(weights="DEFAULT")
            for name, p in model.named_parameters():
                if not name.startswith("classifier"):
                    p.requires_grad = False  # expect: FZ202
                    # (a new model starts in train mode: no train() call is needed)
            opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
            for x, y in loader:
                opt.zero_grad()
                F.cross_entropy(model(x), y).backward()
                opt.step()
            """
        ),
        Example(
            """
            import torch
            import torch.nn as nn
            import torchvision

            def train_model(model, criterion, optimizer, num_epochs):
                for epoch in range(num_epochs):
                    for phase in ["train", "val"]:
                        if phase == "train":
                            model.train()
                        else:
                            model.eval()  # a validation pass: the next epoch's train() undoes it
                        for inputs, labels in loaders[phase]:
                            optimizer.zero_grad()
                            loss = criterion(model(inputs), labels)
                            if phase == "train":
                                loss.backward()
                                optimizer.step()
                return model

            model_conv = torchvision.models.resnet18(weights="IMAGENET1K_V1")
            for param in model_conv.parameters():
                param.requires_grad = False  # expect: FZ202
            model_conv.fc = nn.Linear(model_conv.fc.in_features, 2)
            optimizer_conv = torch.optim.SGD(model_conv.fc.parameters(), lr=0.001, momentum=0.9)
            model_conv = train_model(model_conv, nn.CrossEntropyLoss(), optimizer_conv, num_epochs=25)
            """
        ),
        Example(
            """
            import timm
            import torch

            def freeze_backbone(net):
                for p in net.parameters():
                    p.requires_grad = False

            model = timm.create_model("efficientnet_b0", pretrained=True, num_classes=5)
            freeze_backbone(model)  # expect: FZ202
            model.classifier.requires_grad_(True)  # the head holds no BatchNorm
            opt = torch.optim.SGD(model.classifier.parameters(), lr=cfg.lr, momentum=cfg.momentum)
            for epoch in range(10):
                model.train()
                for x, y in loader:
                    opt.zero_grad()
                    torch.nn.functional.cross_entropy(model(x), y).backward()
                    opt.step()
            """
        ),
        Example(
            """
            import torch
            import torch.nn.functional as F
            import torchvision

            vgg = torchvision.models.vgg16_bn(weights="DEFAULT").features  # a perceptual loss
            vgg.requires_grad_(False)  # expect: FZ202
            opt = torch.optim.Adam(generator.parameters(), lr=2e-4)
            for z, real in loader:
                fake = generator(z)
                opt.zero_grad()
                F.mse_loss(vgg(fake), vgg(real)).backward()
                opt.step()
            """
        ),
        Example(
            """
            import torch
            import torch.nn as nn
            import torchvision

            class Probe(nn.Module):
                def __init__(self, classes):
                    super().__init__()
                    self.backbone = torchvision.models.resnet50(weights="IMAGENET1K_V2")
                    self.backbone.requires_grad_(False)  # frozen whole where the model is built
                    self.backbone.fc = nn.Identity()
                    self.head = nn.Linear(2048, classes)

                def forward(self, x):
                    return self.head(self.backbone(x))

            model = Probe(10)  # expect: FZ202
            opt = torch.optim.SGD(model.head.parameters(), lr=0.1)
            for epoch in range(10):
                model.train()  # the backbone's BatchNorm layers too
                for x, y in loader:
                    opt.zero_grad()
                    nn.functional.cross_entropy(model(x), y).backward()
                    opt.step()
            """,
            instead="""
            import torch
            import torch.nn as nn
            import torchvision

            class Probe(nn.Module):
                def __init__(self, classes):
                    super().__init__()
                    self.backbone = torchvision.models.resnet50(weights="IMAGENET1K_V2")
                    self.backbone.requires_grad_(False)
                    self.backbone.fc = nn.Identity()
                    self.head = nn.Linear(2048, classes)

                def train(self, mode=True):
                    super().train(mode)
                    self.backbone.eval()  # every model.train() leaves the frozen backbone in eval mode
                    return self

                def forward(self, x):
                    return self.head(self.backbone(x))
            """,
        ),
        Example(
            """
            import timm
            import torch
            import torch.nn.functional as F

            def build(classes):
                m = timm.create_model("efficientnet_b0", pretrained=True)
                for p in m.parameters():
                    p.requires_grad = False
                m.reset_classifier(classes)  # a new Linear head: no BatchNorm
                return m

            model = build(10)  # expect: FZ202
            opt = torch.optim.AdamW(model.classifier.parameters(), lr=1e-3)
            for x, y in loader:
                opt.zero_grad()
                F.cross_entropy(model(x), y).backward()
                opt.step()
            """
        ),
        Example(
            """
            import torch
            import torch.nn as nn
            from torchvision.models import resnet18

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    backbone = resnet18(weights="DEFAULT")
                    self.backbone = nn.Sequential(*list(backbone.children())[:-2])  # keeps bn1, layer1-4
                    for p in self.backbone.parameters():
                        p.requires_grad = False
                    self.fc = nn.Linear(512, 3)

                def forward(self, x):
                    return self.fc(self.backbone(x).mean((2, 3)))

            model = Net()  # expect: FZ202
            opt = torch.optim.Adam(model.fc.parameters(), lr=1e-3)
            for epoch in range(3):
                model.train()
                for x, y in loader:
                    opt.zero_grad()
                    nn.functional.cross_entropy(model(x), y).backward()
                    opt.step()
            """,
            instead="""
            import torch
            import torch.nn as nn
            from torchvision.models import resnet18

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    backbone = resnet18(weights="DEFAULT")
                    self.backbone = nn.Sequential(*list(backbone.children())[:-2])
                    for p in self.backbone.parameters():
                        p.requires_grad = False
                    self.fc = nn.Linear(512, 3)

                def train(self, mode=True):
                    super().train(mode)
                    self.backbone.eval()  # the frozen children keep their BatchNorm statistics
                    return self

                def forward(self, x):
                    return self.fc(self.backbone(x).mean((2, 3)))
            """,
        ),
        Example(
            """
            import torch
            import torch.nn as nn
            import torchvision

            resnet = torchvision.models.resnet50(weights="DEFAULT")
            modules = list(resnet.children())[:-1]  # all but fc
            backbone = nn.Sequential(*modules)
            for name, p in backbone.named_parameters():
                if not name.startswith("9"):  # the Sequential numbers the children: no "layer4" here
                    p.requires_grad = False  # expect: FZ202
            head = nn.Linear(2048, 10)
            opt = torch.optim.SGD(head.parameters(), lr=0.1)
            for x, y in loader:
                backbone.train()
                opt.zero_grad()
                nn.functional.cross_entropy(head(backbone(x).flatten(1)), y).backward()
                opt.step()
            """
        ),
        Example(
            """
            import torch
            import torch.nn as nn
            import torchvision

            model = torchvision.models.resnet50(weights="IMAGENET1K_V2")
            for name, p in model.named_parameters():
                if not name.startswith(("layer4", "fc")):
                    p.requires_grad = False  # expect: FZ202
                    # (layer4 trains in train mode; bn1 and layer1-3 are frozen, their statistics move)
            opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01)
            model.train()
            for x, y in loader:
                opt.zero_grad()
                nn.functional.cross_entropy(model(x), y).backward()
                opt.step()
            """,
            instead="""
            import torch
            import torch.nn as nn
            import torchvision

            model = torchvision.models.resnet50(weights="IMAGENET1K_V2")
            frozen = [model.conv1, model.bn1, model.layer1, model.layer2, model.layer3]
            for part in frozen:
                part.requires_grad_(False)
            opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01)
            for x, y in loader:
                model.train()
                for part in frozen:
                    part.eval()  # the frozen stages' statistics stay put; layer4 trains in train mode
                opt.zero_grad()
                nn.functional.cross_entropy(model(x), y).backward()
                opt.step()
            """,
        ),
        Example(
            """
            import torch
            import torch.nn as nn
            import torchvision

            backbone = torchvision.models.resnet50()
            backbone.layer1.requires_grad_(False)  # expect: FZ202
            backbone.bn1.requires_grad_(False)
            opt = torch.optim.SGD([p for p in backbone.parameters() if p.requires_grad], lr=0.01)
            backbone.train()
            for x, y in loader:
                opt.zero_grad()
                nn.functional.cross_entropy(backbone(x), y).backward()
                opt.step()
            """
        ),
        Example(
            """
            import torch
            import torch.nn as nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.stem = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))
                    self.head = nn.Linear(8, 2)

                def forward(self, x):
                    return self.head(self.stem(x).mean((2, 3)))

            net = Net()
            for p in net.stem.parameters():
                p.requires_grad = False  # expect: FZ202
            opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.01)
            net.train()
            for x, y in loader:
                opt.zero_grad()
                net(x).pow(2).mean().backward()
                opt.step()
            """
        ),
        Example(
            """
            import torch
            import torchvision

            layers_to_train = ["layer4"]
            backbone = torchvision.models.resnet50()
            for name, parameter in backbone.named_parameters():
                if all([not name.startswith(layer) for layer in layers_to_train]):
                    parameter.requires_grad_(False)  # expect: FZ202
            opt = torch.optim.SGD([p for p in backbone.parameters() if p.requires_grad], lr=0.01)
            backbone.train()
            for x in loader:
                opt.zero_grad()
                backbone(x).sum().backward()
                opt.step()
            """
        ),
        Example(
            """
            import torch
            import torch.nn as nn
            import torchvision

            class Probe(nn.Module):
                def __init__(self, classes):
                    super().__init__()
                    self.backbone = torchvision.models.resnet50(weights="DEFAULT")
                    self.backbone.requires_grad_(False)
                    self.head = nn.Sequential(nn.Linear(1000, 256), nn.BatchNorm1d(256), nn.Linear(256, classes))

                def forward(self, x):
                    return self.head(self.backbone(x))

            model = Probe(10)  # expect: FZ202
            # (the head's BatchNorm trains in train mode; the frozen backbone's statistics move with it)
            opt = torch.optim.SGD(model.head.parameters(), lr=0.1)
            for epoch in range(10):
                model.train()
                for x, y in loader:
                    opt.zero_grad()
                    nn.functional.cross_entropy(model(x), y).backward()
                    opt.step()
            """
        ),
        Example(
            """
            import timm
            import torch
            import torch.nn.functional as F

            def build(classes):
                m = timm.create_model("resnet50", pretrained=True, num_classes=classes)
                for name, p in m.named_parameters():
                    if not name.startswith(("layer4", "fc")):
                        p.requires_grad = False
                return m

            model = build(10)  # expect: FZ202
            opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01)
            model.train()
            for x, y in loader:
                opt.zero_grad()
                F.cross_entropy(model(x), y).backward()
                opt.step()
            """
        ),
        Example(
            """
            import torch
            import torchvision.models as models

            def main(loader, name):
                if name == "resnet":  # a per-architecture builder: each arm builds and freezes its model
                    model = models.resnet18(weights=None)
                    for param in model.parameters(): param.requires_grad = False  # expect: FZ202
                    model.fc = torch.nn.Linear(512, 2)
                else:
                    model = models.vit_b_16(weights=None)
                    for param in model.parameters(): param.requires_grad = False
                    model.heads = torch.nn.Linear(768, 2)
                optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
                model.train()
                for x, y in loader:
                    torch.nn.functional.cross_entropy(model(x), y).backward()
                    optimizer.step()
            """
        ),
        Example(
            """
            import torch
            import torch.nn as nn
            import torchvision.models as models

            def build_vision_model(model_name, unfreeze_blocks):
                # a builder per architecture: each frozen whole, then its last blocks unfrozen by a dial
                if model_name == "resnet":
                    model = models.resnet18(weights="IMAGENET1K_V1")
                    for param in model.parameters(): param.requires_grad = False
                    if unfreeze_blocks >= 1:
                        for param in model.layer4.parameters(): param.requires_grad = True
                    if unfreeze_blocks >= 2:
                        for param in model.layer3.parameters(): param.requires_grad = True
                    if unfreeze_blocks >= 5:
                        for param in model.parameters(): param.requires_grad = True  # the full fine-tune run
                    model.fc = nn.Linear(model.fc.in_features, 2)
                elif model_name == "densenet":
                    model = models.densenet121(weights="IMAGENET1K_V1")
                    for param in model.parameters(): param.requires_grad = False
                    model.classifier = nn.Linear(model.classifier.in_features, 2)
                return model

            def main(args, loader):
                model = build_vision_model(args.model, args.unfreeze_blocks)  # expect: FZ202
                optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=args.lr)
                for epoch in range(args.epochs):
                    model.train()
                    for x, y in loader:
                        optimizer.zero_grad()
                        nn.functional.cross_entropy(model(x), y).backward()
                        optimizer.step()
            """,
            instead="""
            import torch
            import torch.nn as nn
            import torchvision.models as models

            def build_vision_model(model_name, unfreeze_blocks):
                if model_name == "resnet":
                    model = models.resnet18(weights="IMAGENET1K_V1")
                    for param in model.parameters(): param.requires_grad = False
                    if unfreeze_blocks >= 1:
                        for param in model.layer4.parameters(): param.requires_grad = True
                    model.fc = nn.Linear(model.fc.in_features, 2)
                elif model_name == "densenet":
                    model = models.densenet121(weights="IMAGENET1K_V1")
                    for param in model.parameters(): param.requires_grad = False
                    model.classifier = nn.Linear(model.classifier.in_features, 2)
                return model

            def keep_frozen_in_eval(model):
                for m in model.modules():  # a frozen BatchNorm layer keeps its statistics
                    if isinstance(m, nn.BatchNorm2d) and not m.weight.requires_grad:
                        m.eval()

            def main(args, loader):
                model = build_vision_model(args.model, args.unfreeze_blocks)
                optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=args.lr)
                for epoch in range(args.epochs):
                    model.train()
                    keep_frozen_in_eval(model)
                    for x, y in loader:
                        optimizer.zero_grad()
                        nn.functional.cross_entropy(model(x), y).backward()
                        optimizer.step()
            """,
        ),
        Example(
            """
            import torch.nn as nn
            from mmcv.cnn import ConvModule
            from mmengine.model import BaseModule
            from torch.nn.modules.batchnorm import _BatchNorm

            class MobileNetV2(BaseModule):
                def __init__(self, frozen_stages=-1, norm_cfg=dict(type='BN'), norm_eval=False):
                    super().__init__()
                    self.frozen_stages = frozen_stages
                    self.norm_eval = norm_eval
                    self.conv1 = ConvModule(3, 32, 3, stride=2, padding=1, norm_cfg=norm_cfg)  # conv + BatchNorm
                    for i in range(7):
                        self.add_module(f'layer{i + 1}', ConvModule(32, 32, 3, norm_cfg=norm_cfg))

                def _freeze_stages(self):
                    if self.frozen_stages >= 0:
                        for param in self.conv1.parameters():
                            param.requires_grad = False  # expect: FZ202
                    for i in range(1, self.frozen_stages + 1):
                        layer = getattr(self, f'layer{i}')
                        layer.eval()  # the frozen stages get eval(); the stem does not
                        for param in layer.parameters():
                            param.requires_grad = False

                def train(self, mode=True):
                    super().train(mode)
                    self._freeze_stages()
                    if mode and self.norm_eval:  # off by default
                        for m in self.modules():
                            if isinstance(m, _BatchNorm):
                                m.eval()
            """,
            instead="""
            import torch.nn as nn
            from mmcv.cnn import ConvModule
            from mmengine.model import BaseModule
            from torch.nn.modules.batchnorm import _BatchNorm

            class MobileNetV2(BaseModule):
                def __init__(self, frozen_stages=-1, norm_cfg=dict(type='BN'), norm_eval=False):
                    super().__init__()
                    self.frozen_stages = frozen_stages
                    self.norm_eval = norm_eval
                    self.conv1 = ConvModule(3, 32, 3, stride=2, padding=1, norm_cfg=norm_cfg)
                    for i in range(7):
                        self.add_module(f'layer{i + 1}', ConvModule(32, 32, 3, norm_cfg=norm_cfg))

                def _freeze_stages(self):
                    if self.frozen_stages >= 0:
                        self.conv1.eval()  # as for the stages: its BatchNorm keeps its statistics
                        for param in self.conv1.parameters():
                            param.requires_grad = False
                    for i in range(1, self.frozen_stages + 1):
                        layer = getattr(self, f'layer{i}')
                        layer.eval()
                        for param in layer.parameters():
                            param.requires_grad = False

                def train(self, mode=True):
                    super().train(mode)
                    self._freeze_stages()
                    if mode and self.norm_eval:
                        for m in self.modules():
                            if isinstance(m, _BatchNorm):
                                m.eval()
            """,
        ),
        Example(
            """
            import torch
            import torch.nn as nn

            class Stem(nn.Module):  # a detectron2-style stem: a class of the file holding BatchNorm
                def __init__(self):
                    super().__init__()
                    self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
                    self.bn1 = nn.BatchNorm2d(64)

                def forward(self, x):
                    return torch.relu(self.bn1(self.conv1(x)))

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.stem, self.head = Stem(), nn.Linear(64, 10)

                def forward(self, x):
                    return self.head(self.stem(x).mean((2, 3)))

            model = Net()
            for p in model.stem.parameters():
                p.requires_grad = False  # expect: FZ202
            optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1, momentum=0.9)
            for x, y in loader:
                model.train()
                nn.functional.cross_entropy(model(x), y).backward()
                optimizer.step()
            """
        ),
        Example(
            """
            import torch
            import torch.nn as nn

            class DenseBlock(nn.Module):
                def __init__(self, freeze_dense_layer=False):
                    super().__init__()
                    self.layers = nn.Sequential(nn.Conv2d(8, 8, 3), nn.BatchNorm2d(8), nn.ReLU())
                    self.head = nn.Conv2d(8, 8, 1)
                    if freeze_dense_layer:
                        self.layers.requires_grad_(False)

                def forward(self, x):
                    return self.head(self.layers(x))

            net = DenseBlock(freeze_dense_layer=True)  # expect: FZ202
            opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.1)
            net.train()  # the flag on: `layers` frozen, its BatchNorm still in train mode
            for x in loader:
                opt.zero_grad(); net(x).sum().backward(); opt.step()
            """
        ),
        Example(
            """
            import torch
            import torchvision

            model = torchvision.models.resnet18(weights=None)
            for child in model.children():  # every child: the whole model, BatchNorm included
                for param in child.parameters():
                    param.requires_grad = False  # expect: FZ202
            model.fc = torch.nn.Linear(512, 2)
            optimizer = torch.optim.SGD(model.fc.parameters(), lr=1e-3)
            model.train()
            for x, y in loader:
                torch.nn.functional.cross_entropy(model(x), y).backward()
                optimizer.step()
            """,
            instead="""
            import torch
            import torchvision

            model = torchvision.models.resnet18(weights=None)
            for child in model.children():
                for param in child.parameters():
                    param.requires_grad = False
            model.fc = torch.nn.Linear(512, 2)
            optimizer = torch.optim.SGD(model.fc.parameters(), lr=1e-3)
            model.train()
            for m in model.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.eval()  # re-applied after every model.train()
            for x, y in loader:
                torch.nn.functional.cross_entropy(model(x), y).backward()
                optimizer.step()
            """,
        ),
    ]
    good = [
        """
        import torch
        import torchvision

        model = torchvision.models.resnet18(weights=None)
        for name, child in model.named_children():
            if name != "layer4":  # all but one child; which BatchNorm layers, the checker does not claim
                for param in child.parameters():
                    param.requires_grad = False
        """,
        """
        import torch
        from transformers import ConvNextModel

        model = ConvNextModel.from_pretrained("facebook/convnext-tiny-224")  # LayerNorm: no running statistics
        model.requires_grad_(False)
        head = torch.nn.Linear(768, 2)
        opt = torch.optim.AdamW(head.parameters(), lr=1e-3)
        model.train()
        for x, y in loader:
            loss = torch.nn.functional.cross_entropy(head(model(x).pooler_output), y)
            loss.backward()
            opt.step()
        """,
        """
        import torch
        import torch.nn as nn

        class Stem(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
                self.bn1 = nn.BatchNorm2d(64)

            def forward(self, x):
                return torch.relu(self.bn1(self.conv1(x)))

            def train(self, mode=True):  # the stem keeps its BatchNorm in eval, whatever the model's mode
                super().train(mode)
                self.bn1.eval()
                return self

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.stem, self.head = Stem(), nn.Linear(64, 10)

            def forward(self, x):
                return self.head(self.stem(x).mean((2, 3)))

        model = Net()
        for p in model.stem.parameters():
            p.requires_grad = False
        optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1, momentum=0.9)
        for x, y in loader:
            model.train()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
        """,
        """
        import torch
        import torch.nn as nn
        import torchvision

        @torch.no_grad()
        def evaluate(model, x):
            was_training = model.training
            model.eval()
            out = model(x)
            model.train(was_training)  # back to the mode it had: eval, for this linear probe
            return out

        model = torchvision.models.resnet50(weights=None)
        model.requires_grad_(False)
        model.fc = nn.Linear(2048, 10)
        model.eval()  # a linear probe on frozen features: BatchNorm statistics stay fixed
        optimizer = torch.optim.SGD(model.fc.parameters(), lr=0.1, momentum=0.9)
        for x, y in loader:
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
            evaluate(model, x)
        """,
        """
        import torch
        import torch.nn as nn

        class D(nn.Module):
            def __init__(self):
                super().__init__()
                self.features = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.LeakyReLU(0.2))
                self.head = nn.Linear(16, 1)

            def forward(self, x):
                return self.head(self.features(x))

        # a GAN's toggle: D frozen for G's step trains at its own; its BatchNorm is not a frozen part
        netG = nn.Sequential(nn.Linear(4, 8))
        netD = D()
        optG = torch.optim.Adam(netG.parameters(), lr=2e-4)
        optD = torch.optim.Adam(netD.parameters(), lr=2e-4)
        for real in loader:
            if args.features_only:
                netD.features.requires_grad_(True)
            else:
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

        def set_norm_grad(model, trainable=False):
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.weight.requires_grad_(trainable)  # every call below passes True: nothing frozen

        def set_bn_flag(model, flag):
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.weight.requires_grad = flag  # a flag without a default: not known to freeze

        set_norm_grad(model, True)
        set_norm_grad(other, trainable=True)
        """,
        """
        import torch.nn as nn

        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                for p in m.parameters():
                    setattr(p, "requires_grad", False)
                m.train(False)  # statistics frozen too
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
        """
        import torch.nn as nn

        def bn_momentum_zero(model, loader, opt):
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.momentum = 0.0  # the running statistics no longer move
                    m.weight.requires_grad = False
                    m.bias.requires_grad = False
            model.train()
        """,
        """
        import torch
        import torch.nn as nn
        import torchvision

        def linear_probe(loader):
            model = torchvision.models.resnet50()
            for m in model.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.requires_grad_(False)
            model.eval()  # a linear probe trains in eval mode: the statistics never move
            opt = torch.optim.SGD(model.fc.parameters(), lr=0.1)
            for x, y in loader:
                opt.zero_grad()
                nn.functional.cross_entropy(model(x), y).backward()
                opt.step()
        """,
        """
        import torch
        import torchvision

        # train() and then eval() before each epoch's steps: the steps run in eval mode
        model = torchvision.models.resnet18()
        for p in model.parameters():
            p.requires_grad = False
        model.fc = torch.nn.Linear(512, 2)
        opt = torch.optim.SGD(model.fc.parameters(), lr=0.1)
        for epoch in range(3):
            model.train()
            model.eval()
            for x, y in loader:
                opt.zero_grad()
                torch.nn.functional.cross_entropy(model(x), y).backward()
                opt.step()
        """,
        """
        import torch.nn as nn
        import torchvision

        def freeze_bn_params(model):
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.requires_grad_(False)

        def put_eval(model):
            model.eval()

        def linear_probe(loader):
            model = torchvision.models.resnet50()
            freeze_bn_params(model)  # through a helper, put in eval mode by another one
            put_eval(model)
            for x, y in loader:
                step(model(x), y)
        """,
        """
        import torch
        import torch.nn as nn
        import torchvision

        def linear_probe(loader):
            model = torchvision.models.resnet50(weights="IMAGENET1K_V2")
            model.requires_grad_(False)
            model.fc = nn.Linear(2048, 10)
            opt = torch.optim.SGD(model.fc.parameters(), lr=0.1)
            model.eval()  # trained in eval mode: the statistics never move
            for x, y in loader:
                opt.zero_grad()
                nn.functional.cross_entropy(model(x), y).backward()
                opt.step()
        """,
        """
        import torch
        import torch.nn as nn
        import torchvision

        def set_bn_eval(model):
            for m in model.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()

        def fine_tune(loader):
            model = torchvision.models.resnet50(weights="IMAGENET1K_V2")
            model.requires_grad_(False)
            model.fc = nn.Linear(2048, 10)
            opt = torch.optim.SGD(model.fc.parameters(), lr=0.1)
            for epoch in range(10):
                model.train()
                set_bn_eval(model)  # the usual re-freeze after train()
                for x, y in loader:
                    opt.zero_grad()
                    nn.functional.cross_entropy(model(x), y).backward()
                    opt.step()
        """,
        """
        import torch
        import torch.nn as nn
        import torchvision

        model = torchvision.models.resnet50(weights="IMAGENET1K_V2")
        for name, p in model.named_parameters():
            if "bn" not in name and not name.startswith("fc"):
                p.requires_grad = False  # BatchNorm is what trains here (its statistics too)
        opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01)
        model.train()
        for x, y in loader:
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        """,
        """
        import torch
        import torch.nn as nn
        import torchvision

        model = torchvision.models.vit_b_16(weights="IMAGENET1K_V1")
        model.requires_grad_(False)  # a ViT: LayerNorm has no running statistics
        model.heads = nn.Linear(768, 10)
        opt = torch.optim.SGD(model.heads.parameters(), lr=0.1)
        model.train()
        for x, y in loader:
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        """,
        """
        import torch
        import torch.nn as nn
        import torchvision

        model = torchvision.models.resnet18(weights="IMAGENET1K_V1")
        for name, p in model.named_parameters():
            if name not in trainable:  # which names train is not known here
                p.requires_grad = False
        for m in range(3):
            model.train()
        opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01)
        for x, y in loader:
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        """,
        """
        import torch
        import torch.nn as nn
        import torchvision

        def main(args, loader):
            model = torchvision.models.resnet50()
            if args.weights == "freeze":
                model.requires_grad_(False)
                model.fc.requires_grad_(True)
            opt = torch.optim.SGD(model.fc.parameters(), lr=0.1)
            for epoch in range(args.epochs):
                if args.weights == "finetune":
                    model.train()
                else:
                    model.eval()  # the frozen run trains in eval mode
                for x, y in loader:
                    opt.zero_grad()
                    nn.functional.cross_entropy(model(x), y).backward()
                    opt.step()
        """,
        """
        import torch
        import torch.nn as nn
        import torchvision
        from trainer_lib import fit

        model = torchvision.models.resnet50()
        model.requires_grad_(False)
        model.fc = nn.Linear(2048, 10)
        opt = torch.optim.SGD(model.fc.parameters(), lr=0.1)
        model.train()
        fit(model, opt, loader)  # what fit does with modes is not known
        """,
        """
        import torch
        import torch.nn as nn
        import torchvision

        backbone = torchvision.models.resnet50(weights="IMAGENET1K_V2")
        backbone.requires_grad_(False)
        for m in backbone.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.track_running_stats = False  # the statistics are dealt with
        head = nn.Linear(1000, 10)
        opt = torch.optim.SGD(head.parameters(), lr=0.1)
        for x, y in loader:
            opt.zero_grad()
            nn.functional.cross_entropy(head(backbone(x)), y).backward()
            opt.step()
        """,
        """
        import torch
        import torchvision

        model = torchvision.models.resnet50(weights="IMAGENET1K_V2")
        model.requires_grad_(False)  # a feature extractor: nothing is trained here
        with torch.no_grad():
            feats = [model(x) for x in loader]
        """,
        """
        import torch
        import torch.nn as nn
        import torchvision

        def set_eval(module):
            module.eval()

        def train(arch, loader):
            if arch == "resnet50":
                model = torchvision.models.resnet50()
            else:
                model = torchvision.models.vit_b_16()  # which model is frozen is not known
            model.requires_grad_(False)
            opt = torch.optim.SGD(model.fc.parameters(), lr=0.1)
            model.train()
            for x, y in loader:
                opt.zero_grad()
                nn.functional.cross_entropy(model(x), y).backward()
                opt.step()

        def train_vgg(loader):
            model = torchvision.models.vgg16_bn()
            for p in model.features.parameters():
                p.requires_grad = False
            opt = torch.optim.SGD(model.classifier.parameters(), lr=0.1)
            for epoch in range(10):
                model.train()
                set_eval(model.features)  # the frozen part back in eval mode
                for x, y in loader:
                    opt.zero_grad()
                    nn.functional.cross_entropy(model(x), y).backward()
                    opt.step()
        """,
        """
        import torch
        import torchvision

        teacher = torchvision.models.resnet50()
        teacher.requires_grad_(False)  # a momentum teacher: in train mode on purpose, updated below
        student = torchvision.models.resnet50()
        opt = torch.optim.SGD(student.parameters(), lr=0.1)
        for x in loader:
            with torch.no_grad():
                target = teacher(x)
            opt.zero_grad()
            loss_fn(student(x), target).backward()
            opt.step()
            with torch.no_grad():
                for pt, ps in zip(teacher.parameters(), student.parameters()):
                    pt.mul_(0.99).add_(ps, alpha=0.01)
        """,
        """
        import torch
        import torch.nn as nn
        import torchvision

        class Probe(nn.Module):
            def __init__(self, classes):
                super().__init__()
                self.backbone = torchvision.models.vit_b_16(weights="DEFAULT")  # LayerNorm: no running statistics
                self.backbone.requires_grad_(False)
                self.head = nn.Linear(1000, classes)

            def forward(self, x):
                return self.head(self.backbone(x))

        model = Probe(10)
        opt = torch.optim.SGD(model.head.parameters(), lr=0.1)
        model.train()
        for x, y in loader:
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        """,
        """
        import torch
        import torch.nn as nn
        import torchvision

        class Probe(nn.Module):
            def __init__(self, classes):
                super().__init__()
                self.backbone = torchvision.models.resnet50(norm_layer=lambda c: nn.GroupNorm(32, c))
                self.backbone.requires_grad_(False)  # GroupNorm: no running statistics
                self.head = nn.Linear(1000, classes)

            def forward(self, x):
                return self.head(self.backbone(x))

        model = Probe(10)
        opt = torch.optim.SGD(model.head.parameters(), lr=0.1)
        model.train()
        for x, y in loader:
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        """,
        """
        import torch
        import torch.nn as nn
        import torchvision

        class Tuned(nn.Module):
            def __init__(self):
                super().__init__()
                self.backbone = torchvision.models.resnet18(weights="DEFAULT")
                self.backbone.requires_grad_(False)

            def train(self, mode=True):
                super().train(mode)
                self.backbone.eval()  # the frozen backbone stays in eval mode
                return self

        tuned = Tuned()
        opt = torch.optim.SGD(tuned.parameters(), lr=0.1)
        for epoch in range(10):
            tuned.train()
            for x, y in loader:
                opt.zero_grad()
                nn.functional.cross_entropy(tuned(x), y).backward()
                opt.step()
        """,
        """
        import torch
        import torch.nn as nn
        import torchvision

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                resnet = torchvision.models.resnet18(weights="DEFAULT")
                self.stem = nn.Sequential(*list(resnet.children())[:1])  # conv1 only: no BatchNorm kept
                self.stem.requires_grad_(False)
                self.fc = nn.Linear(64, 3)

            def forward(self, x):
                return self.fc(self.stem(x).mean((2, 3)))

        model = Net()
        opt = torch.optim.Adam(model.fc.parameters(), lr=1e-3)
        for epoch in range(3):
            model.train()
            for x, y in loader:
                opt.zero_grad()
                nn.functional.cross_entropy(model(x), y).backward()
                opt.step()
        """,
        """
        import torch
        import torch.nn as nn
        import torchvision

        from mylib.models import build_backbone

        backbone = nn.Sequential(*list(build_backbone().children())[:-2])  # a model not in the table
        backbone.requires_grad_(False)
        resnet = torchvision.models.resnet50(weights="DEFAULT")
        head = nn.Sequential(*list(resnet.children())[-1:])  # fc only
        head.requires_grad_(False)
        probe = nn.Linear(1000, 10)
        opt = torch.optim.SGD(probe.parameters(), lr=0.1)
        head.train()
        backbone.train()
        for x, y in loader:
            opt.zero_grad()
            nn.functional.cross_entropy(probe(head(backbone(x).mean((2, 3)))), y).backward()
            opt.step()
        """,
        """
        import torch
        import torchvision.models as models

        def main(loader, name):
            if name == "resnet":
                model = models.resnet18(weights=None)
                for param in model.parameters(): param.requires_grad = False
                model.fc = torch.nn.Linear(512, 2)
            else:
                model = models.vit_b_16(weights=None)
            optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
            model.train()
            if name == "resnet":
                model.eval()  # the frozen backbone's statistics kept, on the arm that froze it
                model.fc.train()
            for x, y in loader:
                torch.nn.functional.cross_entropy(model(x), y).backward()
                optimizer.step()
        """,
        """
        import torch
        import torch.nn as nn
        import torchvision.models as models

        def build(name, unfreeze_blocks):
            if name == "resnet":
                model = models.resnet18(weights="IMAGENET1K_V1")
                for param in model.parameters(): param.requires_grad = False
                if unfreeze_blocks >= 1:
                    for param in model.layer4.parameters(): param.requires_grad = True
                if unfreeze_blocks >= 5:
                    for param in model.parameters(): param.requires_grad = True
                model.fc = nn.Linear(512, 2)
            else:
                model = models.vit_b_16(weights="IMAGENET1K_V1")
                for param in model.parameters(): param.requires_grad = False
                model.heads = nn.Linear(768, 2)
            return model

        def main(args, loader):
            model = build("vit", args.unfreeze_blocks)  # the ViT arm: LayerNorm, no running statistics
            optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
            for epoch in range(3):
                model.train()
                for x, y in loader:
                    optimizer.zero_grad()
                    nn.functional.cross_entropy(model(x), y).backward()
                    optimizer.step()
        """,
        """
        import torch
        import torch.nn as nn
        import torchvision.models as models

        def build(name, unfreeze_blocks):
            if name == "resnet":
                model = models.resnet18(weights="IMAGENET1K_V1")
                for param in model.parameters(): param.requires_grad = False
                if unfreeze_blocks >= 1:
                    for param in model.layer4.parameters(): param.requires_grad = True
                if unfreeze_blocks >= 5:
                    for param in model.parameters(): param.requires_grad = True
                model.fc = nn.Linear(512, 2)
            else:
                model = models.vit_b_16(weights="IMAGENET1K_V1")
                for param in model.parameters(): param.requires_grad = False
                model.heads = nn.Linear(768, 2)
            return model

        def main(args, loader):
            model = build(args.model, 5)  # every block trained: nothing stays frozen
            optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
            for epoch in range(3):
                model.train()
                for x, y in loader:
                    optimizer.zero_grad()
                    nn.functional.cross_entropy(model(x), y).backward()
                    optimizer.step()
        """,
        """
        import torch
        import torch.nn as nn
        import torchvision.models as models

        def build(name, unfreeze_blocks):
            if name == "resnet":
                model = models.resnet18(weights="IMAGENET1K_V1")
                for param in model.parameters(): param.requires_grad = False
                if unfreeze_blocks >= 1:
                    for param in model.layer4.parameters(): param.requires_grad = True
                if unfreeze_blocks >= 5:
                    for param in model.parameters(): param.requires_grad = True
                model.fc = nn.Linear(512, 2)
            else:
                model = models.vit_b_16(weights="IMAGENET1K_V1")
                for param in model.parameters(): param.requires_grad = False
                model.heads = nn.Linear(768, 2)
            return model

        def main(args, loader):
            model = build(args.model, args.unfreeze_blocks)
            optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
            for epoch in range(3):
                model.train()
                if args.unfreeze_blocks < 5:
                    model.eval()  # the partly frozen runs train in eval mode, as the dial decides
                for x, y in loader:
                    optimizer.zero_grad()
                    nn.functional.cross_entropy(model(x), y).backward()
                    optimizer.step()
        """,
        """
        import torch
        import torch.nn as nn
        import torchvision.models as models

        def build(name):
            if name == "resnet":
                model = models.resnet18(weights="IMAGENET1K_V1")  # the BatchNorm model is trained whole
                model.fc = nn.Linear(512, 2)
            else:
                model = models.vit_b_16(weights="IMAGENET1K_V1")
                for param in model.parameters(): param.requires_grad = False  # LayerNorm: nothing drifts
                model.heads = nn.Linear(768, 2)
            return model

        def main(args, loader):
            model = build(args.model)
            optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
            for epoch in range(3):
                model.train()
                for x, y in loader:
                    optimizer.zero_grad()
                    nn.functional.cross_entropy(model(x), y).backward()
                    optimizer.step()
        """,
        """
        import torch
        import torch.nn as nn
        import torchvision.models as models
        from torchvision.ops import FrozenBatchNorm2d

        def build(name):
            if name == "resnet":
                model = models.resnet18(weights="IMAGENET1K_V1", norm_layer=FrozenBatchNorm2d)
                for param in model.parameters(): param.requires_grad = False
                model.fc = nn.Linear(512, 2)
            else:
                model = models.densenet121(weights="IMAGENET1K_V1")
                model.classifier = nn.Linear(1024, 2)
            return model

        def main(args, loader):
            model = build(args.model)
            optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
            for epoch in range(3):
                model.train()
                for x, y in loader:
                    optimizer.zero_grad()
                    nn.functional.cross_entropy(model(x), y).backward()
                    optimizer.step()
        """,
        """
        import torch
        import torch.nn as nn
        import torchvision.models as models

        def build(name, freeze):
            if name == "resnet":
                model = models.resnet18(weights="IMAGENET1K_V1")
            else:
                model = models.densenet121(weights="IMAGENET1K_V1")
            if freeze:  # the caller's flag decides: nothing known frozen
                for param in model.parameters(): param.requires_grad = False
            return model

        def main(args, loader):
            model = build(args.model, args.freeze)
            optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
            for epoch in range(3):
                model.train()
                for x, y in loader:
                    optimizer.zero_grad()
                    nn.functional.cross_entropy(model(x), y).backward()
                    optimizer.step()
        """,
        """
        import torch
        import torch.nn as nn

        class DenseBlock(nn.Module):
            def __init__(self, freeze_dense_layer=False):
                super().__init__()
                self.layers = nn.Sequential(nn.Conv2d(8, 8, 3), nn.BatchNorm2d(8), nn.ReLU())
                self.head = nn.Conv2d(8, 8, 1)
                if freeze_dense_layer:
                    self.layers.requires_grad_(False)

            def forward(self, x):
                return self.head(self.layers(x))

        def main(args, loader):
            net = DenseBlock(freeze_dense_layer=args.freeze)  # the run's setting decides: nothing known frozen
            opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.1)
            net.train()
            for x in loader:
                opt.zero_grad(); net(x).sum().backward(); opt.step()
        """,
        """
        import torch.nn as nn
        from mmcv.cnn import build_conv_layer, build_norm_layer
        from mmengine.model import BaseModule

        class ResNet(BaseModule):
            def __init__(self, frozen_stages=-1, norm_cfg=dict(type='BN')):
                super().__init__()
                self.frozen_stages = frozen_stages
                self.conv1 = build_conv_layer(None, 3, 64, kernel_size=7, stride=2, padding=3, bias=False)
                self.norm1_name, norm1 = build_norm_layer(norm_cfg, 64, postfix=1)
                self.add_module(self.norm1_name, norm1)

            @property
            def norm1(self):
                return getattr(self, self.norm1_name)

            def _freeze_stages(self):
                if self.frozen_stages >= 0:
                    self.norm1.eval()  # the stem's BatchNorm is put in eval with the stages
                    for m in [self.conv1, self.norm1]:
                        for param in m.parameters():
                            param.requires_grad = False
                for i in range(1, self.frozen_stages + 1):
                    m = getattr(self, f'layer{i}')
                    m.eval()
                    for param in m.parameters():
                        param.requires_grad = False

            def train(self, mode=True):
                super().train(mode)
                self._freeze_stages()
        """,
        """
        import torch.nn as nn
        from mmcv.cnn import ConvModule
        from mmengine.model import BaseModule

        class Net(BaseModule):
            def __init__(self, frozen_stages=-1, norm_cfg=None):  # no norm layer: nothing has statistics
                super().__init__()
                self.frozen_stages = frozen_stages
                self.conv1 = ConvModule(3, 32, 3, norm_cfg=norm_cfg)
                self.layer1 = nn.Sequential(nn.Conv2d(32, 32, 3), nn.BatchNorm2d(32))

            def _freeze_stages(self):
                if self.frozen_stages >= 0:
                    for param in self.conv1.parameters():
                        param.requires_grad = False
                    self.layer1.eval()
                    for param in self.layer1.parameters():
                        param.requires_grad = False

            def train(self, mode=True):
                super().train(mode)
                self._freeze_stages()
        """,
    ]

    def check(self, facts: Facts, module) -> Iterable[Finding]:
        reported: set[str] = set()
        for f in self._init_freezes(facts):
            reported.add(f.cls)
            yield f.finding
        yield from self._isinstance_freezes(facts)
        yield from self._whole_model_freezes(facts, reported)
        yield from self._train_override_freezes(facts)

    def _train_override_freezes(self, facts: Facts) -> Iterable[Finding]:
        """A part frozen whole by requires_grad in a class's own train() (or a method it calls after
        `super().train()`), next to a stage the same body freezes and puts in eval (override_freezes)."""
        for s in stem_freezes(facts, flows_of(facts).bodies):
            where = f"in `{s.method}`" if s.method else "in train()"
            when = "train() calls it after `super().train()`" if s.method else "after `super().train()`"
            off = f" ({s.sweep_off})" if s.sweep_off else ""
            yield self.finding(
                s.freeze.node,
                f"`self.{s.part}` is frozen with requires_grad only {where} while `{s.sibling}` is also put in eval "
                f"there; {when}, so the BatchNorm in `self.{s.part}` ({s.held_by}) is in train mode and its "
                f"running statistics move on every batch{off}; also call `self.{s.part}.eval()` (as for "
                f"`{s.sibling}`), or use FrozenBatchNorm",
                stmt=s.freeze.stmt, facts=facts, used=[s.freeze],
            )

    def _whole_model_freezes(self, facts: Facts, reported: set[str]) -> Iterable[Finding]:
        """A model whose BatchNorm layers the table (or the file's own nn layers) knows, frozen
        whole or in part with requires_grad and trained in train mode (check/whole_model.py)."""
        for c in claims(facts, flows_of(facts).bodies):
            if c.freeze.detail.get("via") in reported:
                continue  # its class's __init__ freezes are reported there already
            it = "them" if len(c.parts) > 1 else "it"
            via, where = (c.trained.detail.get("via"), c.trained.detail.get("where")) if c.trained else (None, None)
            mode = f"{'the model' if c.parts else 'it'} trains in the train mode a new model starts in" \
                if c.trained is None \
                else f"`{_receiver(c.trained, c.model)}.train()` puts {it} in train mode" if via is None \
                else f"`{via}(...)` puts {it} in train mode (train() at {where})" if where \
                else f"`{via}(...)` puts {it} in train mode"
            its = "their" if len(c.parts) > 1 else "its"
            layers = "BatchNorm layer keeps updating its" if c.frozen == 1 \
                else f"{c.frozen} BatchNorm layers keep updating their"
            by = c.freeze.detail.get("via")
            call = c.freeze.node
            if by and isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) \
                    and call.func.attr.value == by:  # a method of the model's class: `model.freeze_backbone()`
                by = f" by `{src(call.func)}()`"
            else:
                by = f" by `{by}(...)`" if by else ""
            if c.arm:  # a per-architecture builder: which of its models this is
                by += f" in {c.arm}"
                if c.also:
                    by += f" (and the same in {_listed(c.also)})"
            if c.unless:
                by += f" (unless `{c.unless}`, which unfreezes all of it)"
            if c.parts:
                shown = [f"`{c.model}{_indexed(p)}`" for p in c.parts[:3]]
                more = len(c.parts) - len(shown)
                named = ", ".join(shown[:-1]) + (" and " if len(shown) > 1 and not more else ", " if more else "") \
                    + shown[-1] + (f" and {more} more" if more else "")
                what = f"{named} ({c.factory}) {'are' if len(c.parts) > 1 else 'is'}"
                fix = f"call `.eval()` on the frozen part{'s' if len(c.parts) > 1 else ''} after every " \
                      f"`{c.model}.train()` (or override train())"
            else:
                what = f"`{c.model}` ({c.factory}) is"
                fix = f"call `.eval()` on the frozen part after every `{c.model}.train()` (or override train())"
            yield self.finding(
                c.freeze.node,
                f"{what} frozen with requires_grad only{by} and {mode}: {its} {layers} "
                f"running statistics on every batch although "
                f"frozen; {fix}, or use FrozenBatchNorm2d",
                stmt=c.freeze.stmt, facts=facts, used=[c.freeze, *([c.trained] if c.trained else [])],
                edges=c.edges,
            )

    def _init_freezes(self, facts: Facts) -> Iterable[_InitFinding]:
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
                yield _InitFinding(info.name, self.finding(
                    e.node,
                    f"BatchNorm layer `{e.detail['sub']}` is frozen with requires_grad only in __init__, and "
                    f"{trainer} puts {info.name} in train mode: its running statistics still update on every "
                    f"batch; also put it in eval mode after every model.train() (override train()), or use "
                    f"FrozenBatchNorm2d",
                    stmt=e.stmt, facts=facts, used=[e], edges=trained_by[:1],
                ))

    def _isinstance_freezes(self, facts: Facts) -> Iterable[Finding]:
        checks = [(node, name, classes, ctx) for node, name, classes, ctx in facts.isinstance_ifs
                  if any(is_batchnorm_class(facts.qualname(c, ctx.scope)) for c in classes)]
        if not checks:
            return
        bodies = flows_of(facts).bodies
        if any(e.kind == BN_FREEZE for flow in bodies for e in flow.events):
            return
        for node, name, _classes, ctx in checks:
            # what the `if` body does to the layer, as the flow layer recognises it (every form of
            # a requires_grad change, the layer's own parameters or the layer itself, helpers)
            inside = {id(n) for n in walk(node.body)}
            flow = next((f for f in bodies if any(id(e.node) in inside for e in f.events)), None)
            here = [e for e in (flow.events if flow else []) if id(e.node) in inside and e.target == name]
            freezes = [e for e in here if e.kind in (FREEZE, FREEZE_BY_DEFAULT)]
            if not freezes or any(e.kind == UNFREEZE and e.detail.get("sub") == name for e in here):
                continue  # nothing frozen, or the whole layer trained on purpose
            if any(e.kind == EVAL for e in here) or _stats_fixed(node.body, name):
                continue
            model = flow.origin_model(name)  # `for m in model.modules()` -> "model"
            if model is not None and settled(left_in_eval(facts, bodies, flow, freezes[0], model)):
                continue  # a linear probe: the model trains in eval mode, its statistics never move
            if model is not None and "." not in model \
                    and flow.summaries.overrides_train(cst.Name(model), flow.scope):
                continue  # its class's own train() (here or in another file) decides what stays in eval
            flag = _default_flag(freezes)
            yield self.finding(
                freezes[0].stmt or node,
                f"BatchNorm layer `{name}` is frozen with requires_grad only{flag}: its running statistics "
                f"still update on every batch in train mode; also call `{name}.eval()` (after every "
                f"model.train()), or use FrozenBatchNorm2d",
                ctx, facts=facts, used=freezes,
            )


@dataclass
class _InitFinding:
    cls: str  # the class whose __init__ freezes: its instances' claims are not reported again
    finding: Finding


def _indexed(path: str) -> str:
    """`features.0` as the code writes it: `.features[0]`."""
    return "".join(f"[{bit}]" if bit.isdigit() else f".{bit}" for bit in path.split("."))


def _stats_fixed(body: cst.CSTNode, name: str) -> bool:
    """`m.momentum = 0` or `m.track_running_stats = False`: the running statistics no longer move
    in train mode (PYTORCH_FACTS: momentum=0 fixes them)."""
    for n in walk(body):
        if isinstance(n, cst.Assign) and len(n.targets) == 1 and isinstance(t := n.targets[0].target, cst.Attribute) \
                and isinstance(t.value, cst.Name) and t.value.value == name:
            v = n.value
            if t.attr.value == "momentum" and isinstance(v, (cst.Integer, cst.Float)) and float(v.value) == 0.0:
                return True
            if t.attr.value == "track_running_stats" and isinstance(v, cst.Name) and v.value == "False":
                return True
    return False


def _default_flag(freezes) -> str:
    """` (when `unfreeze` keeps its default False)` for a layer frozen only by a flag's default."""
    if any(e.kind == FREEZE for e in freezes):
        return ""
    return f" (when `{freezes[0].detail['flag']}` keeps its default False)"


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


def _receiver(train, model: str) -> str:
    """What train() was called on: the model, or the part of it that holds frozen BatchNorm."""
    node = train.node
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        return dotted(node.func.value) or model
    return model


def _listed(items: list[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
