"""FZ102 requires-grad-on-module: `module.requires_grad = v` sets a plain attribute."""

from __future__ import annotations

from typing import Iterable

import libcst as cst

from freezelint.check.declared import named_part, reads_back, sets_module_flag
from freezelint.check.facts import PARAM, Facts
from freezelint.check.flow import FREEZE, UNFREEZE, flows_of, note_used
from freezelint.check.kinds import ALTERNATIVES
from freezelint.check.rules.base import ASSIGNED, Example, Finding, Rule, call_fix, module_said, part_said, src, value_src
from freezelint.check.syntax import root_of


class RequiresGradOnModule(Rule):
    code = "FZ102"
    words = ("requires_grad",)
    triggers = (r"\.\s*requires_grad" + ASSIGNED, r"['\"]requires_grad['\"]")
    # the quoted name counts only where a setattr() can use it
    requires = (r"\.\s*requires_grad" + ASSIGNED + r"|\bsetattr\s*\(",)
    what = "Finds `requires_grad` assigned on an `nn.Module` instead of on its parameters."
    why = (
        "`requires_grad` is a tensor attribute. On an nn.Module, `model.requires_grad = False` only "
        "creates an ordinary attribute in `model.__dict__`; autograd never reads it and every "
        "parameter stays trainable, silently. `model.requires_grad_(False)` sets the flag on every "
        "parameter of the module."
    )
    fix_title = "Call `module.requires_grad_(v)`"
    fix_unsafe_when = ("the object is taken for a Module only from how the file uses it (`x.eval()`, called "
                       "like a layer): another class may have those methods, and `requires_grad_` raises on it; "
                       "or the store is on `self` and the file reads `.requires_grad` on an object it cannot "
                       "tell, which may be an instance reading the attribute the fix removes")
    notes = (
        "The checker establishes that the object is a Module: constructed from an `nn` class or a "
        "model factory (`torchvision.models.*`, `timm.create_model`, `AutoModel*.from_pretrained`) "
        "reached through imports, a submodule of a torchvision, timm or transformers model by the "
        "generated table of their attribute paths (`model.layer1`, not `vit.cls_token`; for an "
        "Auto class, the paths that are a Module in some model class the table was built from and a "
        "Parameter in none, such as `model.bert`; the message names the model), an instance "
        "of an nn.Module subclass of the same file (or of another file of the project), `self` "
        "inside such a class (or `self.<attr>` assigned a Module there), a parameter of a function that "
        "raises (or returns) unless it is an instance of an nn class (`if not isinstance(target, nn.Linear): "
        "raise ValueError(...)`: the message says \"is an nn.Linear\"), a parameter of a top-level "
        "function to which every call passes a Module (calls in the same file, and calls from other "
        "project files: `freeze_backbone(model)` in train.py makes `model` in pkg/freeze.py's "
        "`def freeze_backbone(model)` that Module), items of `.modules()`, "
        "`.named_modules()`, `.named_children()`, `.children()` and `.apply(fn)`, items, slices and loop "
        "variables of an `nn.Sequential` or `nn.ModuleList` (built from its class, or a path the table "
        "records as one, such as GPT-2's `model.transformer.h` or BERT's `model.bert.encoder.layer`), "
        "items and `.values()` of an `nn.ModuleDict` (not its keys), items of `list(model.children())`, "
        "a list of Modules, an attribute of an "
        "instance of such a class that the class assigns a Module in every assignment of it (`model.backbone`, "
        "also where the class is defined in another project file), a part added by "
        "`add_module(\"encoder\", <a Module>)` (`model.encoder`), or a name proven "
        "a Module by use (`.eval()`, `.train()`, `.parameters()`, `.modules()`, `.children()`, "
        "`.apply()`, `.state_dict()` with `.load_state_dict()`, called like a layer), or a path below a "
        "name on which the scope that binds the name calls one of those methods (`model.encoder.eval()`, "
        "`model.layer4[2].conv3.parameters()`; being called proves no path a Module). Rebinding "
        "through `.to()`, `.cuda()`, `.float()`, `.eval()`, `torch.compile(...)` keeps the kind. "
        "A path one attribute below a Module the code is given, not built, and whose parts nothing else "
        "lists (a parameter proven a Module by `.train()`, not only by being called) is taken for a submodule where its name is one models "
        "give their parts (`backbone`, `encoder`, `decoder`, `neck`, `classifier`, `text_encoder`, "
        "`vision_model`, ...): `self._model.train(); self._model.backbone.requires_grad = False`; so is one "
        "below a Module built from a class (CapWords) imported from a package that is neither a known library "
        "nor a file of the project and switched to a mode (`classifier = Classifier(backbone, n)`, then "
        "`classifier.train()`). "
        "It stays silent on Parameters and on anything it cannot establish. A class that reads "
        "`self.requires_grad` back (itself, a base or a subclass of the file, or code reading it on an "
        "instance of the class) uses it as its own setting and is not reported, also where the object "
        "is taken for a Module from use and built by such a class (of this or another project file). "
        "`self.requires_grad = requires_grad` that records a method's argument which also acts in that "
        "method (`if requires_grad:`, `freeze=not requires_grad`, `nn.Parameter(w, requires_grad="
        "requires_grad)`) is a record for whoever reads it, not a freeze, and is not reported; where the "
        "record is the argument's only use the flag does nothing, and it is. "
        "An instance of a class of the same file whose bases are known and none is a Module (`class "
        "Scorer:`) is no Module however it is used: a plain class may have its own `eval()` or "
        "`state_dict()`. Where the kind comes only from use, the message says which use "
        "(\"`x` is used as an nn.Module (`x.eval()` at line 3)\") and the fix is unsafe."
    )
    bad = [
        Example(
            """
            import torchvision

            model = torchvision.models.resnet18(weights=None)
            model.requires_grad = False  # expect: FZ102
            """,
            fixed="""
            import torchvision

            model = torchvision.models.resnet18(weights=None)
            model.requires_grad_(False)  # expect: FZ102
            """,
        ),
        Example(
            """
            from torch import nn

            class Backbone(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.stem = nn.Conv2d(3, 16, 3)
                    self.stem.requires_grad = False  # expect: FZ102

                def freeze(self):
                    self.requires_grad = False  # expect: FZ102
            """,
            fixed="""
            from torch import nn

            class Backbone(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.stem = nn.Conv2d(3, 16, 3)
                    self.stem.requires_grad_(False)  # expect: FZ102

                def freeze(self):
                    self.requires_grad_(False)  # expect: FZ102
            """,
        ),
        Example(
            """
            import torch.nn as nn

            def freeze_norms(model):
                for name, child in model.named_children():
                    if "norm" in name:
                        child.requires_grad = False  # expect: FZ102
                for m in model.modules():
                    if isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.LayerNorm)):
                        setattr(m, "requires_grad", False)  # expect: FZ102, FZ202
            """,
            fixed="""
            import torch.nn as nn

            def freeze_norms(model):
                for name, child in model.named_children():
                    if "norm" in name:
                        child.requires_grad_(False)  # expect: FZ102
                for m in model.modules():
                    if isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.LayerNorm)):
                        m.requires_grad_(False)  # expect: FZ102, FZ202
            """,
        ),
        Example(
            """
            import torch
            import torchvision

            model = torchvision.models.resnet18(weights=None)
            model = model.to(device)
            model = torch.compile(model)
            model.requires_grad = False  # expect: FZ102
            """,
            fixed="""
            import torch
            import torchvision

            model = torchvision.models.resnet18(weights=None)
            model = model.to(device)
            model = torch.compile(model)
            model.requires_grad_(False)  # expect: FZ102
            """,
        ),
        Example(
            """
            def freeze_backbone(backbone, head):
                backbone.eval()  # only an nn.Module has eval(): backbone is one
                backbone.requires_grad = False  # expect: FZ102
                for p in head.parameters():
                    p.requires_grad = True
            """,
            fixed="""
            def freeze_backbone(backbone, head):
                backbone.eval()  # only an nn.Module has eval(): backbone is one
                backbone.requires_grad_(False)  # expect: FZ102
                for p in head.parameters():
                    p.requires_grad = True
            """,
            unsafe=True,  # a Module from its use only: another class may have an eval() too
        ),
        Example(
            """
            import timm
            import torchvision

            resnet = torchvision.models.resnet50(weights=None)
            resnet.layer1.requires_grad = False  # expect: FZ102
            vit = timm.create_model("vit_base_patch16_224", pretrained=False)
            vit.blocks[0].requires_grad = False  # expect: FZ102
            """,
            fixed="""
            import timm
            import torchvision

            resnet = torchvision.models.resnet50(weights=None)
            resnet.layer1.requires_grad_(False)  # expect: FZ102
            vit = timm.create_model("vit_base_patch16_224", pretrained=False)
            vit.blocks[0].requires_grad_(False)  # expect: FZ102
            """,
        ),
        Example(
            """
            from transformers import AutoModelForSequenceClassification

            model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=2)
            model.bert.requires_grad = False  # expect: FZ102
            model.classifier.requires_grad = True  # expect: FZ102
            """,
            fixed="""
            from transformers import AutoModelForSequenceClassification

            model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=2)
            model.bert.requires_grad_(False)  # expect: FZ102
            model.classifier.requires_grad_(True)  # expect: FZ102
            """,
        ),
        Example(
            """
            from torch import nn
            from transformers import GPT2LMHeadModel

            model = GPT2LMHeadModel.from_pretrained("gpt2")
            for block in model.transformer.h[:-2]:
                block.requires_grad = False  # expect: FZ102

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.layers = nn.ModuleList([nn.Linear(4, 4) for _ in range(6)])

            net = Net()
            net.layers[0].requires_grad = False  # expect: FZ102
            for layer in net.layers[:4]:
                layer.requires_grad = False  # expect: FZ102
            """,
            fixed="""
            from torch import nn
            from transformers import GPT2LMHeadModel

            model = GPT2LMHeadModel.from_pretrained("gpt2")
            for block in model.transformer.h[:-2]:
                block.requires_grad_(False)  # expect: FZ102

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.layers = nn.ModuleList([nn.Linear(4, 4) for _ in range(6)])

            net = Net()
            net.layers[0].requires_grad_(False)  # expect: FZ102
            for layer in net.layers[:4]:
                layer.requires_grad_(False)  # expect: FZ102
            """,
        ),
        Example(
            """
            import torch
            from torch import nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.encoder3 = nn.Conv2d(32, 32, 3)

            model = Net()
            model.encoder3.requires_grad = False  # expect: FZ102
            model = torch.nn.DataParallel(model)  # `model` is the wrapper from here on
            model.module.encoder3.requires_grad = False  # expect: FZ102
            """,
            fixed="""
            import torch
            from torch import nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.encoder3 = nn.Conv2d(32, 32, 3)

            model = Net()
            model.encoder3.requires_grad_(False)  # expect: FZ102
            model = torch.nn.DataParallel(model)  # `model` is the wrapper from here on
            model.module.encoder3.requires_grad_(False)  # expect: FZ102
            """,
        ),
        Example(
            """
            import torchvision.models as models

            model = models.__dict__[arch](weights=None)  # a torchvision builder picked by name
            model.requires_grad = False  # expect: FZ102
            """,
            fixed="""
            import torchvision.models as models

            model = models.__dict__[arch](weights=None)  # a torchvision builder picked by name
            model.requires_grad_(False)  # expect: FZ102
            """,
        ),
        Example(
            """
            from torch import nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.backbone = nn.Linear(4, 4)
                    self.head = nn.Linear(4, 2)

                def finetune(self):
                    self.backbone.requires_grad, self.head.requires_grad = False, True  # expect: FZ102, FZ102
            """,
            fixed="""
            from torch import nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.backbone = nn.Linear(4, 4)
                    self.head = nn.Linear(4, 2)

                def finetune(self):
                    self.backbone.requires_grad_(False); self.head.requires_grad_(True)  # expect: FZ102, FZ102
            """,
        ),
        Example(
            """
            from torch import nn

            def freeze(part):
                if isinstance(part, nn.Parameter):
                    part.requires_grad = False  # a Parameter here: correct
                else:
                    part.eval()
                    part.requires_grad = False  # expect: FZ102
            """,
            fixed="""
            from torch import nn

            def freeze(part):
                if isinstance(part, nn.Parameter):
                    part.requires_grad = False  # a Parameter here: correct
                else:
                    part.eval()
                    part.requires_grad_(False)  # expect: FZ102
            """,
            unsafe=True,  # a Module from its use only
        ),
        Example(
            """
            import torch.nn as nn

            model = nn.Sequential()
            model.add_module("encoder", nn.Sequential(nn.Linear(6, 16), nn.Tanh()))
            model.add_module("probe", nn.Linear(16, 1))
            model.encoder.requires_grad = False  # expect: FZ102
            """,
            fixed="""
            import torch.nn as nn

            model = nn.Sequential()
            model.add_module("encoder", nn.Sequential(nn.Linear(6, 16), nn.Tanh()))
            model.add_module("probe", nn.Linear(16, 1))
            model.encoder.requires_grad_(False)  # expect: FZ102
            """,
        ),
        Example(
            """
            def train_linear(model, loader, optimizer):
                model.encoder.eval()  # only an nn.Module has eval(): `model.encoder` is one
                model.encoder.requires_grad = False  # expect: FZ102
            """,
            fixed="""
            def train_linear(model, loader, optimizer):
                model.encoder.eval()  # only an nn.Module has eval(): `model.encoder` is one
                model.encoder.requires_grad_(False)  # expect: FZ102
            """,
            unsafe=True,  # a Module from its use only
        ),
        Example(
            """
            import torch
            from torchvision import models

            net = models.resnet101(weights=None)
            net.layer4[2].conv3.requires_grad = True  # expect: FZ102
            optimizer = torch.optim.Adam(net.layer4[2].conv3.parameters(), lr=1e-3)
            """,
            fixed="""
            import torch
            from torchvision import models

            net = models.resnet101(weights=None)
            net.layer4[2].conv3.requires_grad_(True)  # expect: FZ102
            optimizer = torch.optim.Adam(net.layer4[2].conv3.parameters(), lr=1e-3)
            """,
            unsafe=True,  # deeper than the generated table goes: a Module from its use only
        ),
        Example(
            """
            from torch import nn

            def freeze_backbone(model):
                model.backbone.requires_grad = False  # expect: FZ102

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.backbone = nn.Linear(4, 4)

            net = Net()
            freeze_backbone(net)  # freezes nothing: the line below repeats no real freeze
            net.backbone.requires_grad = False  # expect: FZ102
            """,
            fixed="""
            from torch import nn

            def freeze_backbone(model):
                model.backbone.requires_grad_(False)  # expect: FZ102

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.backbone = nn.Linear(4, 4)

            net = Net()
            freeze_backbone(net)  # freezes nothing: the line below repeats no real freeze
            net.backbone.requires_grad_(False)  # expect: FZ102
            """,
        ),
        Example(
            """
            class ChannelWeightCalculator:
                def __init__(self, model, data_loader):
                    self._model = model
                    self.data_loader = data_loader

                def train_classifier(self, optimizer, criterion):
                    self._model.train()
                    self._model.backbone.requires_grad = False  # expect: FZ102
                    for inputs, labels in self.data_loader:
                        outputs, _ = self._model(inputs)
                        criterion(outputs, labels).backward()
                        optimizer.step()
            """,
            fixed="""
            class ChannelWeightCalculator:
                def __init__(self, model, data_loader):
                    self._model = model
                    self.data_loader = data_loader

                def train_classifier(self, optimizer, criterion):
                    self._model.train()
                    self._model.backbone.requires_grad_(False)  # expect: FZ102
                    for inputs, labels in self.data_loader:
                        outputs, _ = self._model(inputs)
                        criterion(outputs, labels).backward()
                        optimizer.step()
            """,
            unsafe=True,  # a submodule by its name only
        ),
        Example(
            """
            from common.modules.classifier import Classifier

            def pretrain(backbone, loader, optimizer, num_classes):
                classifier = Classifier(backbone, num_classes).to("cuda")
                classifier.train()
                classifier.backbone.requires_grad = False  # expect: FZ102
                for inputs, labels in loader:
                    outputs, _ = classifier(inputs)
            """,
            fixed="""
            from common.modules.classifier import Classifier

            def pretrain(backbone, loader, optimizer, num_classes):
                classifier = Classifier(backbone, num_classes).to("cuda")
                classifier.train()
                classifier.backbone.requires_grad_(False)  # expect: FZ102
                for inputs, labels in loader:
                    outputs, _ = classifier(inputs)
            """,
            unsafe=True,  # a submodule by its name only; `Classifier` is a class the checker cannot read
        ),
        Example(
            """
            from transformers import LlamaForCausalLM, Qwen2_5_VLForConditionalGeneration, T5ForConditionalGeneration

            llm = LlamaForCausalLM.from_pretrained("meta-llama/Llama-3.2-1B")
            llm.model.requires_grad = False  # expect: FZ102
            llm.lm_head.requires_grad = True  # expect: FZ102
            t5 = T5ForConditionalGeneration.from_pretrained("t5-small")
            t5.encoder.requires_grad = False  # expect: FZ102

            def set_model(model, tune_llm):
                for p in model.model.parameters():
                    p.requires_grad = tune_llm
                model.lm_head.requires_grad = tune_llm  # expect: FZ102

            vlm = Qwen2_5_VLForConditionalGeneration.from_pretrained("Qwen/Qwen2.5-VL-3B-Instruct")
            set_model(vlm, False)
            """,
            fixed="""
            from transformers import LlamaForCausalLM, Qwen2_5_VLForConditionalGeneration, T5ForConditionalGeneration

            llm = LlamaForCausalLM.from_pretrained("meta-llama/Llama-3.2-1B")
            llm.model.requires_grad_(False)  # expect: FZ102
            llm.lm_head.requires_grad_(True)  # expect: FZ102
            t5 = T5ForConditionalGeneration.from_pretrained("t5-small")
            t5.encoder.requires_grad_(False)  # expect: FZ102

            def set_model(model, tune_llm):
                for p in model.model.parameters():
                    p.requires_grad = tune_llm
                model.lm_head.requires_grad_(tune_llm)  # expect: FZ102

            vlm = Qwen2_5_VLForConditionalGeneration.from_pretrained("Qwen/Qwen2.5-VL-3B-Instruct")
            set_model(vlm, False)
            """,
        ),
        Example(
            """
            from torch import nn
            from transformers import MBartForConditionalGeneration

            class Translator(nn.Module):
                def __init__(self, source):
                    super().__init__()
                    self.model = MBartForConditionalGeneration.from_pretrained(source)

                def share_embeddings(self):
                    self.model.lm_head.weight = self.model.model.decoder.embed_tokens.weight
                    self.model.lm_head.requires_grad = False  # expect: FZ102
                    self.model.model.decoder.embed_tokens.requires_grad = False  # expect: FZ102
            """,
            fixed="""
            from torch import nn
            from transformers import MBartForConditionalGeneration

            class Translator(nn.Module):
                def __init__(self, source):
                    super().__init__()
                    self.model = MBartForConditionalGeneration.from_pretrained(source)

                def share_embeddings(self):
                    self.model.lm_head.weight = self.model.model.decoder.embed_tokens.weight
                    self.model.lm_head.requires_grad_(False)  # expect: FZ102
                    self.model.model.decoder.embed_tokens.requires_grad_(False)  # expect: FZ102
            """,
        ),
        Example(
            """
            import torch.nn as nn

            class Frontend(nn.Module):
                def __init__(self, requires_grad=False):
                    super().__init__()
                    self.filters = nn.Linear(40, 40)
                    self.requires_grad = requires_grad  # expect: FZ102

            def trainable(part):
                return part.requires_grad  # perhaps a Frontend's record, which the fix removes
            """,
            fixed="""
            import torch.nn as nn

            class Frontend(nn.Module):
                def __init__(self, requires_grad=False):
                    super().__init__()
                    self.filters = nn.Linear(40, 40)
                    self.requires_grad_(requires_grad)  # expect: FZ102

            def trainable(part):
                return part.requires_grad  # perhaps a Frontend's record, which the fix removes
            """,
            unsafe=True,  # `.requires_grad` is read on an object the checker cannot tell
        ),
        Example(
            """
            import torch.nn as nn

            class HoulsbyLinear(nn.Module):
                def __init__(self, target_linear):
                    super().__init__()
                    if not isinstance(target_linear, nn.Linear):
                        raise ValueError("HoulsbyLinear wraps an nn.Linear")
                    self.pretrained_linear = target_linear
                    self.pretrained_linear.requires_grad = False  # expect: FZ102
                    self.adapter = nn.Linear(4, 4)
            """,
            fixed="""
            import torch.nn as nn

            class HoulsbyLinear(nn.Module):
                def __init__(self, target_linear):
                    super().__init__()
                    if not isinstance(target_linear, nn.Linear):
                        raise ValueError("HoulsbyLinear wraps an nn.Linear")
                    self.pretrained_linear = target_linear
                    self.pretrained_linear.requires_grad_(False)  # expect: FZ102
                    self.adapter = nn.Linear(4, 4)
            """,
        ),
        Example(
            """
            import torch.nn as nn

            model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2))
            stages = [model[4], model[2], model[0]]  # head first
            for stage in stages[1:]:
                stage.requires_grad_(False)
            for epoch in range(3):
                if epoch > 0:
                    stages[epoch].requires_grad = True  # expect: FZ102
            """,
            fixed="""
            import torch.nn as nn

            model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2))
            stages = [model[4], model[2], model[0]]  # head first
            for stage in stages[1:]:
                stage.requires_grad_(False)
            for epoch in range(3):
                if epoch > 0:
                    stages[epoch].requires_grad_(True)  # expect: FZ102
            """,
        ),
        Example(
            """
            import torch.nn as nn

            def load_features():
                return "vgg19", nn.Sequential(nn.Conv2d(3, 64, 3), nn.ReLU())

            name, features = load_features()  # the helper's tuple: its second element is a Module
            features.requires_grad = False  # expect: FZ102
            """,
            fixed="""
            import torch.nn as nn

            def load_features():
                return "vgg19", nn.Sequential(nn.Conv2d(3, 64, 3), nn.ReLU())

            name, features = load_features()  # the helper's tuple: its second element is a Module
            features.requires_grad_(False)  # expect: FZ102
            """,
        ),
    ]
    good = [
        """
        import torch
        import torch.nn as nn

        def load_features():
            layers = nn.Sequential(nn.Conv2d(3, 64, 3), nn.ReLU())
            return layers, torch.zeros(64)

        features, mean = load_features()
        mean.requires_grad = False  # the tensor of the tuple: its flag is the freeze
        """,
        """
        import torch.nn as nn

        model = nn.Linear(4, 4)
        weights = [model.weight, model.bias]  # Parameters: setting their flag is the freeze
        weights[0].requires_grad = False
        for w in weights:
            w.requires_grad = False
        parts = [model, build_extra()]  # an unknown item: the list holds no known kind
        parts[1].requires_grad = False
        names = ("a", "b")
        names = [model]  # rebound to a list of Modules, but once a tuple of strings: no common kind
        names[0].requires_grad = False
        """,
        """
        def evaluate(model):
            model.encoder.eval()

        def freeze(model, x):
            # another function's `model`: what evaluate() proves of its own says nothing here, and
            # being called (`model.encoder(x)`) proves no Module: methods are called so too
            model.encoder.requires_grad = False
            return model.encoder(x)
        """,
        """
        import torch.nn as nn

        model = nn.Sequential()
        model.add_module("encoder", build_encoder())  # an unknown factory: nothing is established
        model.encoder.requires_grad = False
        for name in ("a", "b"):
            model.add_module(name, nn.Linear(4, 4))  # a computed name: no attribute is known
        model.a.weight.requires_grad = False  # a Parameter: correct
        """,
        """
        from collections.abc import Sequence

        import torch
        from torch import nn

        def unlock(x):  # open_clip's pattern: a Parameter or a Module, told apart before the store
            if isinstance(x, Sequence):
                for g in x:
                    unlock(g)
            elif isinstance(x, torch.nn.Parameter):
                x.requires_grad = True
            else:
                for p in x.parameters():
                    p.requires_grad = True

        def freeze(parts):
            for part in parts.values():
                if isinstance(part, (nn.Parameter, torch.Tensor)) and part.is_leaf:
                    part.requires_grad = False
                elif isinstance(part, nn.Module):
                    part.eval()
                    for p in part.parameters():
                        p.requires_grad = False
        """,
        """
        import torch.nn as nn
        import torchvision

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.backbone = torchvision.models.resnet18(weights=None)
                self.backbone.requires_grad = False  # redundant: the loop below freezes it
                for param in self.backbone.parameters():
                    param.requires_grad = False
        """,
        """
        import torchvision

        model = torchvision.models.resnet18(weights=None)
        model.fc.weight.requires_grad = False  # a Parameter: correct
        for p in model.parameters():
            p.requires_grad = False
        for name, p in model.named_parameters():
            p.requires_grad = "fc" in name
        """,
        """
        import torch.nn as nn

        class Adapter(nn.Module):
            def __init__(self, requires_grad=True):
                super().__init__()
                self.requires_grad = requires_grad  # the class's own setting, read below
                self.proj = nn.Linear(4, 4)
                self.proj.weight.requires_grad = self.requires_grad

        adapter = Adapter()
        adapter.requires_grad = False  # switching that setting on an instance
        """,
        """
        class Config:
            def __init__(self):
                self.requires_grad = False  # not a Module

        model = build_model()  # unknown factory: stay silent
        model.requires_grad = False
        """,
        """
        def make_leaf(x):
            x = x.detach().float()  # tensors share to()/float()/detach() with modules: proves nothing
            x.requires_grad = True
            return x
        """,
        """
        class Head:
            def __init__(self, weight):
                self.weight = weight
                self.weight.requires_grad = False  # used as a tensor only: stays silent

            def score(self, x):
                return (self.weight * x).sum()
        """,
        """
        import timm

        vit = timm.create_model("vit_base_patch16_224", pretrained=False)
        vit.cls_token.requires_grad = False  # a Parameter (from the generated submodule table)
        vit.pos_embed.requires_grad = False
        """,
        """
        from pytorch_lightning.callbacks import Callback

        class FreezingCallback(Callback):
            def on_train_epoch_end(self, trainer, pl_module):
                for param in pl_module.main.feature_extractor.parameters():
                    param.requires_grad = False
                # A real bug the checker cannot prove, so it stays silent: `fc` is an nn.Linear in
                # the model's code, but pl_module's class is neither annotated nor imported here (no
                # class to follow `main.feature_extractor.main.fc` through), and no Module-only
                # method is called on `...main.fc` anywhere. The name proves nothing: a Parameter
                # (`model.pos_embed`) is unfrozen exactly this way, correctly.
                pl_module.main.feature_extractor.main.fc.requires_grad = True
        """,
        """
        from transformers import AutoModel

        # An Auto class's parts are known where no model class disagrees: Parameters here
        clip = AutoModel.from_pretrained("openai/clip-vit-base-patch32")
        clip.logit_scale.requires_grad = False
        vit = AutoModel.from_pretrained("google/vit-base-patch16-224")
        vit.embeddings.cls_token.requires_grad = False
        vit.custom_scale.requires_grad = False  # not in the table: unknown, silent
        """,
        """
        import torch
        from torch import nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.scales = nn.ParameterList([nn.Parameter(torch.ones(4)) for _ in range(3)])

        net = Net()
        net.scales[0].requires_grad = False  # a ParameterList holds Parameters: correct
        for p in list(net.parameters())[:-2]:
            p.requires_grad = False

        def unfreeze_first(batch):
            batch[0].requires_grad = True  # an unknown sequence: a tensor for all the checker knows
        """,
        """
        import torchvision

        model = torchvision.models.resnet18(weights=None)
        # each target takes an item of a value the checker cannot read: nothing known is stored
        model.layer1.requires_grad, model.layer2.requires_grad = flags
        model.fc.weight.requires_grad, *rest = False, True, True
        model.fc.weight.requires_grad, model.fc.bias.requires_grad = False, False  # Parameters: correct
        """,
        """
        import argparse

        import torch
        from torch import nn

        def freeze_backbone(model):
            for p in model.backbone.parameters():
                p.requires_grad = False

        def freeze_encoder(model):
            model.encoder.requires_grad = False  # given a config below: its own setting

        def freeze_scale(p):
            p.requires_grad = False  # given a Parameter below: correct

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.backbone = nn.Linear(4, 4)
                self.scale = nn.Parameter(torch.ones(4))

        net = Net()
        freeze_backbone(net)
        net.backbone.requires_grad = False  # redundant: the helper froze it for real
        freeze_encoder(argparse.ArgumentParser().parse_args())
        freeze_scale(net.scale)
        """,
        """
        import torch

        class Scorer:  # a plain class: its own eval() and state_dict() make it no Module
            def __init__(self):
                self.requires_grad = True
                self.weights = {}

            def eval(self):
                return self

            def state_dict(self):
                return dict(self.weights)

            def load_state_dict(self, state):
                self.weights.update(state)

            def __call__(self, x):
                with torch.set_grad_enabled(self.requires_grad):
                    return x.sum()

        scorer = Scorer()
        scorer.eval()
        scorer.load_state_dict(scorer.state_dict())
        scorer.requires_grad = False  # Scorer's own setting: requires_grad_() would raise
        """,
        """
        import torch

        class BiasMitigator:
            def __init__(self, requires_grad=False):
                self.requires_grad = requires_grad

            def __call__(self, x):
                with torch.set_grad_enabled(self.requires_grad):
                    return x * 2

        class MitigatorWrapper:
            def __init__(self, requires_grad=True):
                self.mitigator = BiasMitigator(requires_grad=requires_grad)

            def __call__(self, module, module_in, module_out):
                return self.mitigator(module_out)  # called, but built from a plain class above

            def train(self, mode=True):
                self.mitigator.requires_grad = mode
        """,
        """
        def adapt(model, loader):
            model.train()
            model.pos_embed.requires_grad = False  # not a name of a part: may be a Parameter, correct
            model.proj.requires_grad = False  # not a name of a part either
            for x in loader:
                model(x)

        def predict(model, x):
            model.encoder.requires_grad = False  # `model` is only called: any callable is
            return model(x)
        """,
        """
        from transformers import LlamaForCausalLM, Qwen2VLForConditionalGeneration, T5ForConditionalGeneration

        # Parameters of the parts a task class has: setting their flag is correct
        llm = LlamaForCausalLM.from_pretrained("meta-llama/Llama-3.2-1B")
        llm.lm_head.weight.requires_grad = False
        llm.model.embed_tokens.weight.requires_grad = False
        vlm = Qwen2VLForConditionalGeneration.from_pretrained("Qwen/Qwen2-VL-2B-Instruct")
        vlm.lm_head.weight.requires_grad = False
        t5 = T5ForConditionalGeneration.from_pretrained("t5-small")
        t5.shared.weight.requires_grad = False
        t5.encoder.embed_tokens.weight.requires_grad = False
        """,
        """
        import torch.nn as nn

        class Fbank(nn.Module):
            def __init__(self, requires_grad=False):
                super().__init__()
                self.requires_grad = requires_grad  # a record of the argument, which acts below
                self.filters = nn.Linear(40, 40).requires_grad_(requires_grad)

        class Encoder(nn.Module):
            def __init__(self, requires_grad=False):
                super().__init__()
                self.requires_grad = requires_grad  # a record: the argument freezes the frontend
                self.frontend = Frontend(freeze=not requires_grad)
        """,
        """
        import torch
        import torch.nn as nn

        class Base(nn.Module):
            def __init__(self):
                super().__init__()
                self.requires_grad = False  # a setting: a subclass reads it
                self.proj = nn.Linear(4, 4)

        class Scaled(Base):
            def forward(self, x):
                with torch.set_grad_enabled(self.requires_grad):
                    return self.proj(x)

        class Probe(nn.Module):
            def __init__(self):
                super().__init__()
                self.requires_grad = True  # a setting: read on an instance below
                self.proj = nn.Linear(4, 4)

        probe = Probe()
        if probe.requires_grad:
            probe.proj.weight.requires_grad = True
        """,
        """
        import logging

        import torch.nn as nn

        def freeze(target):
            if not isinstance(target, nn.Linear):
                logging.warning("expected an nn.Linear")  # only a warning: `target` may be anything below
            target.requires_grad = False
        """,
    ]

    def check(self, facts: Facts, module) -> Iterable[Finding]:
        for store in facts.attr_stores:
            if store.attr != "requires_grad" or store.form == "augassign":
                continue
            tensors = [name for name, tag, _ in store.ctx.narrow if tag == PARAM]
            if not sets_module_flag(facts, store.obj, store.ctx.scope, tensors, store.value):
                part = _named_part(self, facts, store, tensors)
                if part is not None:
                    yield part
                continue
            if _done_beside(facts, store):
                continue
            note_used(facts, self.code, store.attr_node, edges=facts.kinds.edges_behind(store.obj, store.ctx.scope))
            value = value_src(store.value)
            obj = src(store.obj)
            proof = facts.kinds.use_proofs(store.obj, store.ctx.scope)
            yield self.finding(
                store.attr_node,
                f"{_guarded(facts, store) or _said(facts, store, obj, proof)}: "
                f"`{obj}.requires_grad = {value}` sets an attribute autograd "
                f"never reads, and every parameter stays as it was; call `{obj}.requires_grad_({value})`",
                store.ctx,
                # taken for a Module from how it is used, not from what built it: an object of
                # another class may have the same methods, and `requires_grad_` on it raises, so
                # the fix is a guess to review there
                call_fix(store, "requires_grad_", f"Call `{obj}.requires_grad_({value})`",
                         safe=not proof and not _read_unknown(facts, store)),
            )


def _said(facts: Facts, store, obj: str, proof) -> str:
    """"`x` is an nn.Module", naming the model a part the submodule table knows is of."""
    return module_said(facts, obj, proof) + (_table_part(facts, store) if not proof else "")


def _table_part(facts: Facts, store) -> str:
    """Which known model the part belongs to where the generated table says it is a Module: the
    name `model` alone does not tell a reader it is a `LlamaForCausalLM` given to a helper."""
    kind = facts.kind(store.obj, store.ctx)
    if kind is None or not kind.factory or not kind.sub:
        return ""
    models = [_model_said(key) for key in kind.factory.split(ALTERNATIVES)]
    said = models[0] if len(models) == 1 else f"{', '.join(models[:-1])} and {models[-1]}"
    return f" (`{kind.sub}` of {said})"


def _model_said(key: str) -> str:
    """A submodule table key as code: `transformers.LlamaForCausalLM`, `torchvision.models.resnet18()`,
    `timm.create_model("vit_base_patch16_224")`; an Auto class builds one of several models."""
    if key.startswith("timm.create_model:"):
        return f'`timm.create_model("{key.partition(":")[2]}")`'
    name = key.rpartition(".")[2]
    if name.startswith("AutoModel"):
        return f"the models `{key}` builds"
    return f"`{key}`" if name[:1].isupper() else f"`{key}()`"


def _guarded(facts: Facts, store) -> str | None:
    """"`x` is an nn.Linear (the `isinstance` check ...)": a Module by a guard clause (kinds._isinstance_guard)."""
    kind = facts.kind(store.obj, store.ctx)
    if kind is None or kind.origin != "isinstance":
        return None
    q = kind.qual
    what = f"an nn.{q.rpartition('.')[2]}" if q and q.startswith("torch.nn.") else "an nn.Module"
    return f"`{src(store.obj)}` is {what} (the `isinstance` check before lets nothing else through)"


def _read_unknown(facts: Facts, store) -> bool:
    """`self.requires_grad = v`, with `x.requires_grad` read where the checker cannot tell what `x` is:
    perhaps an instance of the class reading the record that the fix would remove."""
    cls = facts.enclosing_class(store.ctx)
    return (isinstance(store.obj, cst.Name) and store.obj.value == "self" and cls is not None
            and reads_back(facts, cls, "requires_grad")[1])


def _named_part(self_rule, facts: Facts, store, tensors) -> Finding | None:
    """`self._model.train(); self._model.backbone.requires_grad = False`: taken for a submodule
    (`declared.named_part`), with an unsafe fix."""
    obj = store.obj
    built = named_part(facts, obj, store.ctx, tensors)
    if built is None:
        return None
    value, text = value_src(store.value), src(obj)
    return self_rule.finding(
        store.attr_node,
        f"{part_said(facts, obj, store.ctx, built)}; `{text}.requires_grad = {value}` sets an attribute autograd never reads, and every parameter "
        f"stays as it was; call `{text}.requires_grad_({value})`",
        store.ctx,
        call_fix(store, "requires_grad_", f"Call `{text}.requires_grad_({value})`", safe=False),
    )


def _done_beside(facts: Facts, store) -> bool:
    """The change is also made for real wherever the broken line runs (`self.backbone.requires_grad
    = False` next to, or in an `if` before, `for p in self.backbone.parameters(): p.requires_grad =
    False`): the module ends as meant, and the broken line is only redundant."""
    for flow in flows_of(facts).bodies:
        mine = next((e for e in flow.events if e.stmt is store.ctx.stmt and e.detail.get("broken") == "FZ102"
                     and e.kind in (FREEZE, UNFREEZE)), None)
        if mine is None:
            continue
        sub = mine.detail.get("sub")
        return any(e is not mine and e.kind == mine.kind and e.detail.get("sub") == sub
                   and not e.detail.get("broken") and "picked" not in e.detail
                   and set(e.branches) <= set(mine.branches) and not _broken_inside(facts, flow, e)
                   for e in flow.events)  # wherever it ran
    return False


def _broken_inside(facts: Facts, flow, e) -> bool:
    """A call of a helper of this file (`freeze_backbone(net)`) whose every freeze (unfreeze) of
    the argument is itself a broken form (`model.backbone.requires_grad = False`): the call changes
    no parameter, so it does not make a broken line beside it redundant."""
    call = e.node
    if "via" not in e.detail or not isinstance(call, cst.Call) or not isinstance(call.func, cst.Name):
        return False
    func = facts.resolve_def(call.func, flow.scope)
    if func is None:
        return False
    params = [p.name.value for p in (*func.params.posonly_params, *func.params.params)]
    positional = [a for a in call.args if a.keyword is None]
    if any(a.star for a in call.args):
        return False
    names = {params[i] for i, a in enumerate(positional) if i < len(params) and root_of(a.value) == e.target}
    names |= {a.keyword.value for a in call.args if a.keyword is not None and root_of(a.value) == e.target}
    body = flows_of(facts).summaries.body_flow(func)
    if not names or body is None:
        return False
    inner = [x for x in body.events if x.kind == e.kind
             and any(x.target == n or x.target.startswith(n + ".") for n in names)]
    return bool(inner) and all(x.detail.get("broken") for x in inner)
