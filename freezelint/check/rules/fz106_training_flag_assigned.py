"""FZ106 training-flag-assigned: `model.training = v` changes one module, not its children."""

from __future__ import annotations

import builtins
import re
from dataclasses import dataclass
from typing import Iterable

import libcst as cst

from freezelint.check import traverse
from freezelint.check.facts import AttrStore, Ctx, Facts, is_leaf_module_class
from freezelint.check.flow import note_used
from freezelint.check.frameworks import KERAS_MODEL_TORCH_ROOTS, KERAS_ROOTS, foreign_file
from freezelint.check.known import is_library
from freezelint.check.rules.base import (ASSIGNED, Example, Finding, Fix, Rule, call_fix, call_with, module_said, src,
                                         value_src)
from freezelint.check.scopes import qualname
from freezelint.check.syntax import call_arg, dotted

# Inside these methods setting the flag directly is how mode switching is implemented; so in
# `set_training_mode` (stable-baselines3's policies), `set_train`, `eval_mode` and the like.
_MODE_METHODS = frozenset({"train", "eval", "training", "__init__", "__setstate__", "set_mode"})
_MODE_METHOD_NAME = re.compile(r"(?:set_)?(?:train|training|eval)(?:_mode)?")


def _mode_method(name: str | None) -> bool:
    return name is not None and (name in _MODE_METHODS or bool(_MODE_METHOD_NAME.fullmatch(name)))


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
    fix_unsafe_when = ("the object is taken for a Module only from how the file uses it (called like one, "
                       "`self.model(x)`, or given `.eval()` / `.parameters()`): another object may be used so, and "
                       "`.train(v)` may not exist on it or mean something else; and where its class overrides "
                       "`train()` with another meaning (ultralytics' `YOLO`), where the fix is `.eval()` for "
                       "`False` and there is none for other values; and for a flag switched and switched back in one "
                       "block (below), fixed together: the restore `m.train(was_training)` gives every submodule "
                       "`m`'s saved flag, so one kept in eval() on purpose inside a training model (a frozen "
                       "BatchNorm) would train again, which the code as written never did")
    notes = (
        "Not reported where the flag is the whole story: on a layer without children (`nn.Linear`, "
        "`nn.BatchNorm2d`, `nn.ReLU`, ...) or on `self` in a class that visibly makes none (botorch's "
        "outcome transforms: buffers only): its bases torch's `Module`, plain classes or classes of the file "
        "that make none either, each `__init__` storing on `self` only numbers, strings, containers, tensors "
        "(torch's functions, or a method of such a value), parameters annotated so (`m: int`, `x: Tensor | None`; "
        "not `Sequence[...]`, which may be an nn.ModuleList) or calls of a function of the file or the project "
        "annotated to return such (not `torch.load` or `torch.hub.load`, which may give a model, nor an element of "
        "a container such as `cfg[\"encoder\"]`), no other method storing a Module, a name it is given or a call's "
        "result that may be one (`def attach(self, encoder): self.encoder = encoder`; a parameter the method "
        "uses as a number, `scale / 2` or `scale > 0`, or that every call of it in the file passes a literal or a "
        "tensor, `std.set_scale(0.5)`, is none), none calling `add_module` "
        "or `setattr`; a "
        "base of another file or a library's (`nn.ModuleDict`), an unannotated parameter or a call of "
        "anything else may make one and is still reported; inside `train`/`eval`/`__init__` methods or a `training` "
        "property setter (the implementation itself), and for `new.training = old.training`, the "
        "idiom of conversion utilities that mirror a module's flags one by one, nor for the loop variable "
        "of `.modules()` / `.named_modules()` (every module's own flag is set: a full restore, as "
        "Lightning does; also through `enumerate()`, `list()`, `tuple()` or `reversed()`), or of a walk written out (a `while` loop that pops a module "
        "off a stack and pushes its `._modules` / `.children()`, or a list such a walk fills), unless an "
        "isinstance test picks some of those modules out. Nor in a file that imports Keras (TensorFlow) "
        "and nothing of PyTorch: its models have `training` but no `.train()`. Where the object's class "
        "overrides `train()` with another meaning (ultralytics' `YOLO.train(trainer=None, **kwargs)` "
        "starts a training run, also for a class of the file derived from `YOLO`; a class whose "
        "`train(self, loader)` is its training loop, in this file or another file of the project, or "
        "inherited from one; a `train(self, verbose=False)` whose "
        "body switches no mode), the message suggests `.eval()` for `False` where the class's own "
        "eval() switches the mode, else `torch.nn.Module.train(obj, v)`, and the fix is never safe. "
        "An override `train(self, mode=True)` that calls `super().train(mode)` (or sets a mode) is "
        "nn.Module's method: the fix stays `.train(v)`. Where the kind comes only from use, the "
        "message says which use (\"`x` is used as an nn.Module (`x.eval()` at line 3)\"). "
        "Where a function switches the flag and later switches it back (`m.training = False`, `m(x)`, "
        "`m.training = True`), the two are fixed together: `was_training = m.training` and `m.eval()` for "
        "the first, `m.train(was_training)` for the second (`m.train(True)` would put every submodule in "
        "training even when the whole model runs in eval(), leaving Dropout on at inference). That fix is "
        "offered where the two are the only stores of the flag in the function, each alone on its line, in one "
        "block, however the kind is known (the answer must not change with the files checked beside it), and "
        "never as safe: `m.train(was_training)` gives every submodule `m`'s saved flag, so one kept in eval() "
        "on purpose inside a training model (a frozen BatchNorm) is switched back to training, as "
        "`model.train()` would; apply it with `--unsafe-fixes` where `m` holds none. Otherwise neither store "
        "gets a fix and the message says what to write. Nor `m.training = False` that an `m.eval()` "
        "(`m = m.eval()`, `m.train(False)`) reaches with no statement naming `m` in between, nor one that "
        "runs a method of a module above it or hands that on (`model.train()` between `model.backbone.eval()` "
        "and `model.backbone.training = False`, `super().train()` for `self.backbone`), in its block "
        "or a block that holds it (not across a loop): eval() has set every flag, the assignment is "
        "redundant."
    )
    bad = [
        Example(
            """
            import torch
            from torch.nn import Module

            class Standardize(Module):
                def __init__(self, encoder, m: int = 1):
                    super().__init__()
                    self.register_buffer("means", torch.zeros(m))
                    self.encoder = encoder  # may be a Module: a child with a flag of its own

                def forward(self, y):
                    training = self.training
                    self.training = False  # expect: FZ106
                    out = self.encoder(y) - self.means
                    self.training = training  # expect: FZ106
                    return out
            """
        ),
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
        Example(
            """
            from ultralytics import YOLO

            detector = YOLO("yolov8n.pt")
            detector.training = False  # expect: FZ106
            results = detector("bus.jpg")
            """,
            fixed="""
            from ultralytics import YOLO

            detector = YOLO("yolov8n.pt")
            detector.eval()  # expect: FZ106
            results = detector("bus.jpg")
            """,
            unsafe=True,  # YOLO's train() starts a training run: its eval() is the mode switch
        ),
        Example(
            """
            import torch.nn as nn

            class Agent(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.policy = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.1))

                def train(self, env, steps=1000):  # the agent's training loop, not a mode switch
                    for _ in range(steps):
                        env.step(self.policy(env.observe()))

            agent = Agent()
            agent.training = False  # expect: FZ106
            """,
            instead="""
            import torch.nn as nn

            class Agent(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.policy = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.1))

                def train(self, env, steps=1000):  # the agent's training loop, not a mode switch
                    for _ in range(steps):
                        env.step(self.policy(env.observe()))

            agent = Agent()
            nn.Module.train(agent, False)  # eval() would call Agent.train() too
            """,
        ),
        Example(
            """
            def freeze_encoder(encoder):
                for p in encoder.parameters():
                    p.requires_grad = False
                encoder.training = False  # expect: FZ106
            """,
            fixed="""
            def freeze_encoder(encoder):
                for p in encoder.parameters():
                    p.requires_grad = False
                encoder.train(False)  # expect: FZ106
            """,
            unsafe=True,  # a Module only because `.parameters()` is called on it
        ),
        Example(
            """
            import torch.nn as nn

            class Classifier(nn.Module):
                def __init__(self, loader):
                    super().__init__()
                    self.net = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.1))
                    self.loader = loader

                def train(self, verbose=False):  # fits the model: a bool parameter, but no mode switch
                    for x, y in self.loader:
                        self.step(x, y, verbose)

            clf = Classifier(loader)
            clf.training = False  # expect: FZ106
            """,
            instead="""
            import torch.nn as nn

            class Classifier(nn.Module):
                def __init__(self, loader):
                    super().__init__()
                    self.net = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.1))
                    self.loader = loader

                def train(self, verbose=False):  # fits the model: a bool parameter, but no mode switch
                    for x, y in self.loader:
                        self.step(x, y, verbose)

            clf = Classifier(loader)
            nn.Module.train(clf, False)
            """,
        ),
        Example(
            """
            import torch.nn as nn

            class Detector(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.backbone = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))

                def train(self, mode=True):  # nn.Module's mode switch, BatchNorm statistics kept frozen
                    super().train(mode)
                    self.backbone.eval()
                    return self

            detector = Detector()
            detector.training = False  # expect: FZ106
            """,
            fixed="""
            import torch.nn as nn

            class Detector(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.backbone = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))

                def train(self, mode=True):  # nn.Module's mode switch, BatchNorm statistics kept frozen
                    super().train(mode)
                    self.backbone.eval()
                    return self

            detector = Detector()
            detector.train(False)  # expect: FZ106
            """,
        ),
        Example(
            """
            from ultralytics import YOLO

            class Detector(YOLO):
                def describe(self):
                    return self.model.yaml

            detector = Detector("yolov8n.pt")
            detector.training = False  # expect: FZ106
            results = detector("bus.jpg")
            """,
            fixed="""
            from ultralytics import YOLO

            class Detector(YOLO):
                def describe(self):
                    return self.model.yaml

            detector = Detector("yolov8n.pt")
            detector.eval()  # expect: FZ106
            results = detector("bus.jpg")
            """,
            unsafe=True,  # train() inherited from YOLO starts a training run
        ),
        Example(
            """
            import torch.nn as nn

            class Denoiser(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.encoder = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.5))

                def forward(self, x):
                    noisy = self.encoder(x)
                    self.encoder.training = False  # expect: FZ106
                    clean = self.encoder(x)
                    self.encoder.training = True  # expect: FZ106
                    return noisy, clean
            """,
            fixed="""
            import torch.nn as nn

            class Denoiser(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.encoder = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.5))

                def forward(self, x):
                    noisy = self.encoder(x)
                    was_training = self.encoder.training
                    self.encoder.eval()  # expect: FZ106
                    clean = self.encoder(x)
                    self.encoder.train(was_training)  # expect: FZ106
                    return noisy, clean
            """,
            unsafe=True,  # train(was_training) gives every submodule the saved flag (a frozen BatchNorm's too)
        ),
    ]
    good = [
        """
        import torch
        from torch.nn import Module

        class Standardize(Module):
            def __init__(self, m: int = 1):
                super().__init__()
                self.register_buffer("means", torch.zeros(m))  # buffers only: no submodules
                self._m = m

            def forward(self, y):
                if self.training:
                    self.means = y.mean(0)
                return y - self.means

        class Stratified(Standardize):
            def forward(self, y):
                training = self.training
                self.training = False  # all eval() would set: `self` has no children
                out = super().forward(y)
                self.training = training
                return out
        """,
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
        """
        from contextlib import contextmanager

        @contextmanager
        def train_mode(model, mode=True):
            modes = [module.training for module in model.modules()]
            try:
                yield model.train(mode)
            finally:
                for i, module in enumerate(model.modules()):
                    module.training = modes[i]  # every module's own flag, restored one by one

        def set_all(model, flag):
            for m in list(model.modules()):
                m.training = flag
        """,
        """
        import tensorflow as tf

        export_model = tf.keras.Sequential([tf.keras.layers.Dense(4)])
        export_model.compile(optimizer="adam", loss="mse")
        export_model.training = False  # a Keras model: it has no .train()
        outputs = export_model(tf.zeros([1, 4]))
        """,
        """
        import torch.nn as nn

        class Policy(nn.Module):
            def __init__(self):
                super().__init__()
                self.q_net = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.1))

            def set_training_mode(self, mode):
                self.q_net.train(mode)
                self.training = mode  # implementing the mode switch: its parts are set above
        """,
        # eval() reached the assignment: every submodule's flag is off already, `training = False` is redundant
        """
        import torchvision

        def load(frozen=True):
            model = torchvision.models.resnet18()
            if frozen:
                model = model.eval()
                model.training = False
            return model
        """,
        # a walk written out visits every module, as .modules() does: each flag set is that module's own
        """
        def switch_mode(model, training):
            ops, stack = [], [model]
            while stack:
                module = stack.pop()
                ops.append((module, "train" in module.__dict__))
                stack.extend(c for c in module._modules.values() if c is not None)
            for module, custom in ops:
                if custom:
                    module.train(training)
                else:
                    module.training = training

        def set_every_flag(model, training):
            stack = [model]
            while stack:
                module = stack.pop()
                module.train(training) if "train" in vars(module) else setattr(module, "training", training)
                stack.extend(module.children())
        """,
    ]

    def check(self, facts: Facts, module) -> Iterable[Finding]:
        reported = list(self._candidates(facts, module))
        toggles = _toggles(facts, module, [store for store, _ in reported])
        for store, kind in reported:
            yield from self._report(facts, store, kind, toggles.get(id(store)))

    def _candidates(self, facts: Facts, module) -> Iterable[tuple]:
        """The stores to report, with the kind of their object."""
        for store in facts.attr_stores:
            if store.attr != "training" or store.form == "augassign":
                continue
            kind = facts.kind(store.obj, store.ctx)
            if kind is None or kind.tag != "module" or is_leaf_module_class(kind.qual) or _childless_self(facts, store):
                continue
            if kind.qual is None and (_batchnorm_by_use(module, store.obj) or _table_leaf(kind)):
                continue
            if facts.enclosing_class(store.ctx) is not None and _mode_method(facts.function_name(store.ctx)):
                continue
            if isinstance(store.value, cst.Attribute) and store.value.attr.value == "training":
                continue
            if _each_module_of_a_walk(facts, store.obj, store.ctx) or _each_module_of_a_hand_walk(store.obj, store.ctx):
                continue
            if _mode_called_after(store, module) or _eval_reaches(store, module):
                continue
            if _keras_file(module):
                continue
            yield store, kind

    def _report(self, facts: Facts, store, kind, toggle: _Toggle | None) -> Iterable[Finding]:
        note_used(facts, self.code, store.attr_node, edges=facts.kinds.edges_behind(store.obj, store.ctx.scope))
        obj = src(store.obj)
        value = value_src(store.value, "mode")
        said = f"`{obj}.training = {value}` flips only `{obj}`'s own flag; its submodules (BatchNorm, Dropout) keep theirs"
        # taken for a Module from how it is used, not from what built it: say which use, and the
        # fix is a guess to review (`.train(v)` may not exist on the object, or mean something else)
        proof = facts.kinds.use_proofs(store.obj, store.ctx.scope)
        if proof:
            said = f"{module_said(facts, obj, proof)}: {said}"
        other = train_overridden(facts, store.obj, store.ctx.scope, kind)
        if other is None and toggle is not None:
            yield self.finding(store.attr_node, f"{said}; {toggle.advice(store)}", store.ctx, toggle.fix)
            return
        if other is None:
            yield self.finding(store.attr_node, f"{said}; call `{obj}.train({value})`", store.ctx,
                               call_fix(store, "train", f"Call `{obj}.train({value})`", safe=not proof))
            return
        why, own_eval = other
        if own_eval and isinstance(store.value, cst.Name) and store.value.value == "False":
            # never safe: which class the object is, and so which train() it has, is a guess
            yield self.finding(store.attr_node, f"{said}; call `{obj}.eval()` ({why})", store.ctx,
                               call_fix(store, "eval", f"Call `{obj}.eval()`", safe=False, pass_value=False))
        else:  # no fix: nn.Module's eval() calls the overriding train() too
            yield self.finding(store.attr_node, f"{said}; call `torch.nn.Module.train({obj}, {value})` ({why})",
                               store.ctx)


@dataclass(eq=False)
class _Toggle:
    """`m.training = False`, then later in the same function `m.training = True`: a mode switched
    for a while and switched back. `train(True)` for the second would put every submodule in
    training even where the whole model runs in eval(), so the pair is fixed together, saving the
    mode first: `was_training = m.training; m.eval(); ...; m.train(was_training)`."""

    first: AttrStore
    restore: AttrStore
    saved: str  # the name the mode is saved in
    lines: tuple[int, int]
    fix: Fix | None = None

    def advice(self, store: AttrStore) -> str:
        obj, on = src(self.first.obj), _constant_flag(self.first)
        switch = f"`{obj}.eval()`" if on is False else f"`{obj}.train()`"
        here, there = ("here", f"at line {self.lines[1]}") if store is self.first else (f"at line {self.lines[0]}", "here")
        pair = f"`{self.saved} = {obj}.training` and {switch} {here}, `{obj}.train({self.saved})` {there}"
        if store is self.first:
            return f"line {self.lines[1]} sets it back: save the mode and restore it, {pair}"
        return (f"it sets back the flag set at line {self.lines[0]}: save the mode and restore it, {pair}; "
                f"`{obj}.train({not on})` would put every submodule in {'training' if on is False else 'eval'} "
                f"mode even when the model runs in {'eval' if on is False else 'training'} mode")


def _constant_flag(store: AttrStore) -> bool | None:
    value = store.value
    return {"True": True, "False": False}.get(value.value) if isinstance(value, cst.Name) else None


def _toggles(facts: Facts, module: cst.Module, stores: list[AttrStore]) -> dict[int, _Toggle]:
    """The reported stores that switch an object's flag to a constant and back within one function
    (by id), each with its pair. The pair has a fix only where it is unambiguous: the only two
    stores of that object's flag in the function, each a statement of its own line, in one block."""
    groups: dict[tuple[int, str], list[AttrStore]] = {}
    for store in stores:
        groups.setdefault((id(store.ctx.scope), src(store.obj)), []).append(store)
    found: dict[int, _Toggle] = {}
    for group in groups.values():
        flags = [(s, _constant_flag(s)) for s in group]
        flags = [(s, f) for s, f in flags if f is not None]
        if len(flags) < 2:
            continue
        line = {id(s): facts.positions[s.attr_node].start.line for s, _ in flags}
        flags.sort(key=lambda sf: line[id(sf[0])])
        pairs, open_ = [], None
        for s, flag in flags:  # each switch pairs with the next store that sets the other value
            if open_ is not None and flag is not _constant_flag(open_):
                pairs.append((open_, s))
                open_ = None
            else:
                open_ = s
        for first, restore in pairs:
            toggle = _Toggle(first, restore, _saved_name(module, first), (line[id(first)], line[id(restore)]))
            if len(group) == 2:
                toggle.fix = _pair_fix(toggle, module)
            found[id(first)] = found[id(restore)] = toggle
    return found


def _saved_name(module: cst.Module, store: AttrStore) -> str:
    """`was_training`, or `encoder_was_training` for `self.encoder` where the function (the file at
    module level) already uses that name."""
    root = store.ctx.scope.node if store.ctx.scope.node is not None else module
    used = {n.value for n in traverse.walk(root) if isinstance(n, cst.Name)}
    obj = store.obj
    last = obj.attr.value if isinstance(obj, cst.Attribute) else obj.value if isinstance(obj, cst.Name) else "module"
    for name in ("was_training", f"{last}_was_training", f"{last}_mode_before"):
        if name not in used:
            return name
    return f"{last}_was_training_"


def _pair_fix(toggle: _Toggle, module: cst.Module) -> Fix | None:
    """Both stores rewritten at once: the first line becomes two, saving the mode then switching it;
    the restore becomes `train(saved)`. None where the two are not plain one-line statements of one block."""
    first, restore = toggle.first, toggle.restore
    if not all(s.form == "assign" and not s.unpacked and len(s.node.targets) == 1
               and isinstance(s.ctx.stmt, cst.SimpleStatementLine) and len(s.ctx.stmt.body) == 1
               for s in (first, restore)):
        return None
    root = first.ctx.scope.node if first.ctx.scope.node is not None else module
    if not _same_block(root, first.ctx.stmt, restore.ctx.stmt):
        return None
    obj, saved = first.obj, toggle.saved
    save = cst.Assign([cst.AssignTarget(cst.Name(saved))], cst.Attribute(obj.deep_clone(), cst.Name("training")))
    switch = cst.Call(cst.Attribute(obj.deep_clone(), cst.Name("eval" if _constant_flag(first) is False else "train")))
    line = first.ctx.stmt
    two = cst.FlattenSentinel([line.with_changes(body=[save], trailing_whitespace=cst.TrailingWhitespace()),
                               line.with_changes(body=[cst.Expr(switch)], leading_lines=[])])
    back = cst.Expr(call_with(cst.Attribute(restore.obj.deep_clone(), cst.Name("train")), cst.Name(saved)))
    text = src(obj)
    return Fix(f"Save `{text}`'s mode in `{saved}`, switch it with `{src(switch)}`, restore it with "
               f"`{text}.train({saved})`", [(line, two), (restore.node, back)],
               safe=False)  # train(saved) gives every submodule the saved flag: see fix_unsafe_when


def _same_block(root: cst.CSTNode, a: cst.CSTNode, b: cst.CSTNode) -> bool:
    """Two statements of one block of `root` (one statement list, neither nested in an if/for/with/try
    that the other is outside of)."""
    for node in traverse.walk(root):
        body = getattr(node, "body", None)
        if isinstance(body, (list, tuple)) and any(st is a for st in body):
            return any(st is b for st in body)
    return False


# Library classes whose train() is no mode switch (and whose eval() is one): ultralytics' models
# (`YOLO`, `RTDETR`, ... on engine.model.Model) start a training run with `train(trainer=None, **kwargs)`.
_TRAIN_RUNS = frozenset({"YOLO", "YOLOWorld", "YOLOE", "RTDETR", "SAM", "FastSAM", "NAS", "Model"})


def train_overridden(facts: Facts, obj: cst.BaseExpression, scope, kind) -> tuple[str, bool] | None:
    """The object's class overrides `train()` with another meaning: (what its train() is, whether
    the class's own eval() switches the mode), or None where `.train(v)` is nn.Module's (or
    nothing says otherwise). The class may be of this file or of another file of the project."""
    classes = [kind.cls] if kind.cls is not None else []
    quals = [kind.qual] if kind.cls is None and kind.qual and not is_library(kind.qual) else []
    for func, where in facts.kinds.constructors(obj, scope):
        q = qualname(func, where) or ""
        local = facts.kinds.local_class(func, where)
        if local is not None:
            classes.append(local)
        elif q and not is_library(q) and q not in quals:
            quals.append(q)
        run = _training_run(q) or (_ultralytics_base(facts, local) if local is not None else None)
        if run is not None:
            return f"{run}'s `train()` starts a training run, not a mode switch", True
    found = [_local_train(facts, cls) for cls in classes] + [_project_train(facts, q) for q in quals]
    for owner, train, own_eval in (f for f in found if f is not None):
        if not _mode_switch(train):
            sig = src(train.params).strip()
            return f"`{owner}.train({sig})` is not nn.Module's `train(mode)`", own_eval
    return None


def _training_run(q: str) -> str | None:
    """The ultralytics model class `q` names (`YOLO`), whose train() starts a training run; else None."""
    name = q.rsplit(".", 1)[-1]
    return name if q.startswith("ultralytics.") and not q.startswith("ultralytics.nn.") and name in _TRAIN_RUNS else None


def _ultralytics_base(facts: Facts, cls, depth: int = 0) -> str | None:
    """The ultralytics model class a class of this file derives from (`class Detector(YOLO)`), where
    no class on the way defines train() itself."""
    if depth >= 8 or any(isinstance(st, cst.FunctionDef) and st.name.value == "train" for st in cls.node.body.body):
        return None
    for arg in (a for a in cls.node.bases if a.keyword is None):
        base = facts.kinds.local_class(arg.value, facts.kinds.f.module_scope)
        run = _ultralytics_base(facts, base, depth + 1) if base is not None else \
            _training_run(qualname(arg.value, facts.kinds.f.module_scope) or "")
        if run is not None:
            return run
    return None


def _local_train(facts: Facts, cls, depth: int = 0) -> tuple[str, cst.FunctionDef, bool] | None:
    """The `def train` a class of this file runs, its own or a base class's (of this file, or of
    another project file), with the class that defines it and whether the class or a base defines
    eval(); None where none of them defines train()."""
    train = own_eval = None
    for st in cls.node.body.body:
        if isinstance(st, cst.FunctionDef) and st.name.value in ("train", "eval"):
            train, own_eval = (st, own_eval) if st.name.value == "train" else (train, True)
    owner = cls.name
    for arg in cls.node.bases if depth < 8 else ():
        if train is not None and own_eval:
            break
        base = facts.kinds.local_class(arg.value, facts.kinds.f.module_scope) if arg.keyword is None else None
        q = qualname(arg.value, facts.kinds.f.module_scope) if base is None and arg.keyword is None else None
        below = _local_train(facts, base, depth + 1) if base is not None else \
            _project_train(facts, q) if q and not is_library(q) else None
        if below is not None and train is None:
            owner, train = below[0], below[1]
        own_eval = own_eval or bool(below and below[2])
    return (owner, train, bool(own_eval)) if train is not None else None


def _project_train(facts: Facts, qual: str) -> tuple[str, cst.FunctionDef, bool] | None:
    """`_local_train` of a class of another project file, read from its text by the project index
    (which records the dependency whatever the answer)."""
    if facts.project is None or not facts.path:
        return None
    found = facts.project.train_def(facts.path, qual)
    if found is None:
        return None
    try:
        func = cst.parse_module(found["text"]).body[0]
    except cst.ParserSyntaxError:
        return None
    return (found["cls"], func, found["eval"]) if isinstance(func, cst.FunctionDef) else None


# In a train() override's body: what switches a mode (`super().train(mode)`, `self.training = mode`,
# `child.train(mode)`, `self.eval()`); a body with none of it does something else under that name.
_SWITCHES = re.compile(r"\btrain\s*\(|\btraining\b|\beval\s*\(")


def _mode_switch(func: cst.FunctionDef) -> bool:
    """`def train(self, mode=True)` and the like: the first parameter after self defaults to a bool
    (or is `mode`), any further ones have defaults, and the body switches a mode: `.train(False)`
    still switches the mode there. Not `train(self, trainer=None, **kwargs)` nor `train(self,
    loader, epochs=1)`, nor `train(self, verbose=False)` whose body runs a training loop."""
    params = list(func.params.posonly_params) + list(func.params.params)
    if len(params) < 2:
        return False
    first = params[1]
    default = first.default
    if not (isinstance(default, cst.Name) and default.value in ("True", "False")) \
            and not (default is None and first.name.value == "mode"):
        return False
    return all(p.default is not None for p in params[2:]) and bool(_SWITCHES.search(src(func.body)))


# Bases a Module class may have and still hold only what its own code stores.
_CHILDLESS_BASES = frozenset({"torch.nn.Module", "torch.nn.modules.module.Module", "object", "abc.ABC",
                              "typing.Generic", "typing.Protocol"})
# Calls that register a submodule without an assignment.
_REGISTERS = re.compile(r"\b(?:add_module|register_module|setattr|__setattr__|__dict__)\b")
# Types that are no Module: numbers, strings, tensors, and Python's concrete containers (a list or dict
# of modules stored on a module registers none; an abstract `Sequence` may be an nn.ModuleList).
_PLAIN_TYPES = frozenset({"int", "float", "bool", "str", "bytes", "complex", "None", "Tensor", "LongTensor",
                          "FloatTensor", "BoolTensor", "Size", "dtype", "device", "ndarray", "Parameter",
                          "list", "tuple", "dict", "set", "frozenset", "List", "Tuple", "Dict", "Set", "FrozenSet"})
_UNIONS = frozenset({"Optional", "Union"})
_PLAIN_BUILTINS = frozenset({"int", "float", "bool", "str", "bytes", "complex", "len", "list", "tuple", "dict",
                             "set", "frozenset", "range", "min", "max", "sum", "abs", "round", "sorted"})
# torch calls that build a Module or hand one back: not tensors
_TORCH_MODULE_CALLS = ("torch.nn.", "torch.jit.", "torch.fx.", "torch.ao.", "torch.quantization.", "torch.export.",
                       "torch.compile", "torch.load", "torch.hub.", "torch.package.")  # a pickled or hub model too
# Annotations of containers: an element of one may be a Module (`cfg: dict`, `cfg["encoder"]`)
_CONTAINER_TYPES = frozenset({"list", "tuple", "dict", "set", "frozenset", "List", "Tuple", "Dict", "Set",
                              "FrozenSet"})
_MAX_PLAIN = 6


def _childless_self(facts: Facts, store: AttrStore) -> bool:
    """`self.training = v` in a class that visibly makes no submodule (botorch's StratifiedStandardize,
    buffers only, flipping its own flag around `super().forward(...)`): setting the flag is all
    eval() would do. Its bases are torch's Module, plain classes, or classes of this file that make
    none either; its `__init__` (and theirs) stores on `self` only values that are no Module (numbers,
    tensors, torch's tensor functions, parameters annotated so, functions of the file or the project
    annotated to return such; not an element of a container, which may be a Module); no method stores a
    Module, or a name or a call's result that may be one; none calls `add_module`, `setattr`. A base of
    another file or a library stops it: it may make submodules."""
    if not (isinstance(store.obj, cst.Name) and store.obj.value == "self"):
        return False
    cls = facts.enclosing_class(store.ctx)
    return cls is not None and _makes_no_children(facts, cls, 0)


def _makes_no_children(facts: Facts, cls, depth: int) -> bool:
    if depth > 8 or _REGISTERS.search(src(cls.node.body)):
        return False
    scope = facts.module_scope
    for arg in (a for a in cls.node.bases if a.keyword is None):
        base = facts.kinds.local_class(arg.value, scope)
        if base is None and (qualname(arg.value, scope) or "") not in _CHILDLESS_BASES \
                or base is not None and not _makes_no_children(facts, base, depth + 1):
            return False
    for stores in cls.attrs.values():  # every method: a Module stored anywhere is a child
        if any(facts.kinds.is_module(value, where) for value, where in stores):
            return False
    methods = [m for m in cls.node.body.body if isinstance(m, cst.FunctionDef)]
    return all(_stores_plain(facts, m, every=m.name.value == "__init__") for m in methods)


def _stores_plain(facts: Facts, init: cst.FunctionDef, every: bool = True) -> bool:
    """Every store on `self` in `init` is visibly no Module. In another method (`every` False) only the
    stores that may bring one in from outside are read: a name (`self.encoder = encoder` in an
    `attach(self, encoder)`) or a call of something not local (`self.model = build_model()`); a
    method of a local value (`self.means = y.mean(0)` in forward) stays plain."""
    scope = facts.func_scopes.get(id(init))
    if scope is None:
        return False
    for node in traverse.walk(init.body):
        if isinstance(node, cst.Assign):
            pairs = [(t.target, node.value) for t in node.targets]
        elif isinstance(node, (cst.AnnAssign, cst.AugAssign)) and node.value is not None:
            pairs = [(node.target, node.value)]
        else:
            continue
        for target, value in pairs:
            if isinstance(target, (cst.Tuple, cst.List)) and any(_on_self(e.value) for e in target.elements) \
                    or _on_self(target) and (every or _from_outside(value, scope)) \
                    and not _plain(facts, value, scope, init, set()) \
                    and (every or not _given_plain(facts, init, value, scope)):
                return False
    return True


# operators no Module takes (nn.Sequential and nn.ModuleList take `+`, Sequential `*`)
_NUMBER_OPS = (cst.Subtract, cst.Divide, cst.FloorDivide, cst.Modulo, cst.Power)
_ORDER_OPS = (cst.LessThan, cst.LessThanEqual, cst.GreaterThan, cst.GreaterThanEqual)


def _given_plain(facts: Facts, method: cst.FunctionDef, value: cst.BaseExpression, scope) -> bool:
    """A parameter without annotation a method (not `__init__`) stores on self, which is no Module by
    what the file shows: the method's own code uses it as a number (`num_rays / 2`, `if scale > 0`,
    `int(n)`), or every call of the method in the file (one at least) passes a plain value there
    (`ds.update_num_rays(4096)`, `self.set_scale(0.5)`). Neither shown, it may be a Module
    (`set_decoder(self, decoder)`, transformers' `set_input_embeddings`): a child."""
    if not isinstance(value, cst.Name) or scope.lookup(value.value) is not scope \
            or any(b.how != "param" for b in scope.bindings.get(value.value, [])):
        return False
    name = value.value
    for n in traverse.walk(method.body):
        if isinstance(n, cst.BinaryOperation) and isinstance(n.operator, _NUMBER_OPS) \
                or isinstance(n, cst.Comparison) and any(isinstance(c.operator, _ORDER_OPS) for c in n.comparisons):
            operands = (n.left, n.right) if isinstance(n, cst.BinaryOperation) \
                else (n.left, *(c.comparator for c in n.comparisons))
            if any(isinstance(o, cst.Name) and o.value == name for o in operands):
                return True
        if isinstance(n, cst.Call) and isinstance(n.func, cst.Name) and n.func.value in ("int", "float", "round") \
                and any(isinstance(a.value, cst.Name) and a.value.value == name for a in n.args):
            return True
    params = [p.name.value for p in (*method.params.posonly_params, *method.params.params)][1:]
    at = params.index(name) if name in params else None
    calls = [mc for mc in facts.method_calls if mc.method == method.name.value]
    if not calls or at is None:
        return False
    for mc in calls:
        arg = call_arg(mc.call, at, name)
        if arg is None or any(a.star for a in mc.call.args) or not _literal(facts, arg, mc.ctx.scope):
            return False
    return True


def _literal(facts: Facts, value: cst.BaseExpression, scope) -> bool:
    """A number, string, bool or None, arithmetic on such, or a tensor of torch's, as a call passes it."""
    if isinstance(value, (cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString, cst.ConcatenatedString,
                          cst.FormattedString)):
        return True
    if isinstance(value, cst.Name):
        return value.value in ("None", "True", "False")
    if isinstance(value, cst.UnaryOperation):
        return _literal(facts, value.expression, scope)
    if isinstance(value, cst.BinaryOperation):
        return _literal(facts, value.left, scope) and _literal(facts, value.right, scope)
    if isinstance(value, (cst.Tuple, cst.List)):
        return all(_literal(facts, e.value, scope) for e in value.elements)
    if isinstance(value, cst.Call):
        q = facts.qualname(value.func, scope) or ""
        return q.startswith("torch.") and not q.startswith(_TORCH_MODULE_CALLS)
    return False


def _from_outside(value: cst.BaseExpression, scope, depth: int = 0) -> bool:
    """A parameter or a global name, a local bound to one of those, or a call whose callee is no
    local of the method (`build_model()`, `torch.load(path)`); a local bound to a method of a local
    value (`means = y.mean(0)`, then `self.means = means`: botorch's Standardize) is not."""
    if isinstance(value, cst.Name):
        if scope.lookup(value.value) is not scope or depth > 4:
            return True
        return any(b.how != "expr" or not isinstance(b.node, cst.BaseExpression)
                   or _from_outside(b.node, scope, depth + 1) for b in scope.bindings.get(value.value, []))
    root = value.func if isinstance(value, cst.Call) else None
    while isinstance(root, cst.Attribute):
        root = root.value
    return isinstance(root, cst.Name) and scope.lookup(root.value) is not scope


def _on_self(target: cst.BaseExpression) -> bool:
    return isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name) and target.value.value == "self"


def _plain(facts: Facts, value: cst.BaseExpression, scope, init: cst.FunctionDef, seen: set[str]) -> bool:
    """`value` is visibly no Module: a literal, a container, arithmetic, a tensor of torch's, a parameter
    annotated so (`m: int`, `x: Tensor | None`), a local bound only to such, a method of one
    (`values.unique()`), or a function of the file or the project annotated to return one."""
    if len(seen) > _MAX_PLAIN:
        return False
    if isinstance(value, (cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString, cst.ConcatenatedString,
                          cst.FormattedString, cst.Tuple, cst.List, cst.Set, cst.Dict, cst.ListComp, cst.SetComp,
                          cst.DictComp, cst.GeneratorExp, cst.BinaryOperation, cst.UnaryOperation, cst.Comparison)):
        return True
    if isinstance(value, cst.BooleanOperation):
        return _plain(facts, value.left, scope, init, seen) and _plain(facts, value.right, scope, init, seen)
    if isinstance(value, cst.IfExp):
        return _plain(facts, value.body, scope, init, seen) and _plain(facts, value.orelse, scope, init, seen)
    if isinstance(value, cst.Subscript):  # an element: of a tensor no Module, of a container perhaps one
        base = value.value
        return not _may_contain(base, scope, init) and _plain(facts, base, scope, init, seen)
    if isinstance(value, cst.Attribute):
        base = value.value
        return isinstance(base, cst.Name) and base.value == "self" or _plain(facts, base, scope, init, seen)
    if isinstance(value, cst.Name):
        return _plain_name(facts, value.value, scope, init, seen)
    if isinstance(value, cst.Call):
        return _plain_call(facts, value, scope, init, seen)
    return False


def _may_contain(base: cst.BaseExpression, scope, init: cst.FunctionDef) -> bool:
    """`base` may be a container whose elements are Modules: an attribute (`self.layers`), a parameter
    annotated as a container or left without annotation, a local bound to a container literal."""
    if isinstance(base, (cst.Attribute, cst.Subscript)):
        return True
    if not isinstance(base, cst.Name) or scope.lookup(base.value) is not scope:
        return False
    params = {p.name.value: p for p in (*init.params.posonly_params, *init.params.params, *init.params.kwonly_params)}
    for b in scope.bindings.get(base.value, []):
        p = params.get(base.value) if b.how == "param" else None
        ann = p.annotation.annotation if p is not None and p.annotation is not None else None
        if b.how == "param" and (ann is None or _container_type(ann)) \
                or isinstance(b.node, (cst.Tuple, cst.List, cst.Set, cst.Dict, cst.ListComp, cst.SetComp, cst.DictComp)):
            return True
    return False


def _unquoted(ann: cst.BaseExpression) -> cst.BaseExpression | None:
    """A string annotation's expression (`"Tensor | None"`), None where it does not parse; any
    other annotation as it is."""
    if not isinstance(ann, cst.SimpleString):
        return ann
    try:
        return cst.parse_expression(ann.evaluated_value)  # type: ignore[arg-type]
    except (cst.ParserSyntaxError, TypeError):
        return None


def _container_type(ann: cst.BaseExpression) -> bool:
    """`dict`, `list[nn.Module]`, `Optional[Dict[str, Any]]`, `dict | None`."""
    ann = _unquoted(ann)
    if ann is None:
        return True
    if isinstance(ann, cst.BinaryOperation) and isinstance(ann.operator, cst.BitOr):
        return _container_type(ann.left) or _container_type(ann.right)
    head = ann.value if isinstance(ann, cst.Subscript) else ann
    name = (dotted(head) or "").rsplit(".", 1)[-1]
    if isinstance(ann, cst.Subscript) and name in _UNIONS:
        return any(isinstance(e.slice, cst.Index) and _container_type(e.slice.value) for e in ann.slice)
    return name in _CONTAINER_TYPES


def _plain_name(facts: Facts, name: str, scope, init: cst.FunctionDef, seen: set[str]) -> bool:
    if name in ("None", "True", "False") or name in seen:
        return True  # a name met again: its other bindings decide
    bound = scope.bindings.get(name) if scope.lookup(name) is scope else None
    if not bound:
        return False
    params = {p.name.value: p for p in (*init.params.posonly_params, *init.params.params, *init.params.kwonly_params)}
    seen = seen | {name}
    for b in bound:
        if b.how == "param":
            p = params.get(name)
            if p is None or not (p.annotation is not None and _plain_type(p.annotation.annotation)
                                 or p.annotation is None and p.default is not None
                                 and not (isinstance(p.default, cst.Name) and p.default.value == "None")
                                 and _plain(facts, p.default, scope, init, seen)):
                return False
        elif b.how != "expr" or not isinstance(b.node, cst.BaseExpression) \
                or (not _plain_element(b.node, b.index, scope) if b.index else not _plain(facts, b.node, scope, init, seen)):
            return False
    return True


def _plain_element(value: cst.BaseExpression, index: tuple, scope) -> bool:
    """An element unpacked from a call of a method of the class (`means, stdvs = self._stats(y)`)
    whose return annotation makes that element no Module (`-> tuple[Tensor, Tensor]`)."""
    if len(index) != 1 or not isinstance(value, cst.Call) or not isinstance(value.func, cst.Attribute) \
            or not (isinstance(value.func.value, cst.Name) and value.func.value.value == "self"):
        return False
    s = scope
    while s is not None and s.cls is None:
        s = s.parent
    if s is None:
        return False
    name = value.func.attr.value
    defs = [m for m in s.cls.node.body.body if isinstance(m, cst.FunctionDef) and m.name.value == name]
    ann = _unquoted(defs[-1].returns.annotation) if defs and defs[-1].returns is not None else None
    if not isinstance(ann, cst.Subscript) or (dotted(ann.value) or "").rsplit(".", 1)[-1] not in ("tuple", "Tuple"):
        return False
    items = [e.slice.value for e in ann.slice if isinstance(e.slice, cst.Index)]
    return index[0] < len(items) and _plain_type(items[index[0]])


def _plain_call(facts: Facts, call: cst.Call, scope, init: cst.FunctionDef, seen: set[str]) -> bool:
    q = facts.qualname(call.func, scope) or ""
    if q in _PLAIN_BUILTINS and hasattr(builtins, q) or q in ("torch.nn.Parameter", "torch.nn.parameter.Parameter") \
            or q.startswith("torch.") and not q.startswith(_TORCH_MODULE_CALLS):
        return True
    if isinstance(call.func, cst.Attribute) and not q.startswith("torch."):  # a method of a tensor or number
        return _plain(facts, call.func.value, scope, init, seen)
    local = facts.resolve_def(call.func, scope)
    if local is not None:
        return local.returns is not None and _plain_type(local.returns.annotation)
    if q and not is_library(q) and facts.project is not None and facts.path:
        text = facts.project.return_annotation(facts.path, q)
        try:
            return text is not None and _plain_type(cst.parse_expression(text))
        except cst.ParserSyntaxError:
            return False
    return False


def _plain_type(ann: cst.BaseExpression) -> bool:
    """An annotation of no Module: `int`, `torch.Tensor`, `list[nn.Module]` (a list registers
    nothing), `Tensor | None`, `Optional[torch.Size]`."""
    ann = _unquoted(ann)
    if ann is None:
        return False
    if isinstance(ann, cst.BinaryOperation) and isinstance(ann.operator, cst.BitOr):
        return _plain_type(ann.left) and _plain_type(ann.right)
    if isinstance(ann, cst.Subscript):
        head = (dotted(ann.value) or "").rsplit(".", 1)[-1]
        if head in _UNIONS:
            return all(isinstance(e.slice, cst.Index) and _plain_type(e.slice.value) for e in ann.slice)
        return head in _PLAIN_TYPES
    return (dotted(ann) or "").rsplit(".", 1)[-1] in _PLAIN_TYPES


def _keras_file(module: cst.Module) -> bool:
    """A file that imports Keras (TensorFlow) and nothing of PyTorch: what it calls `model` is a
    Keras model, taken for a Module from use only. Keras has no `.train()`: the suggested call
    would raise, and `model.training = False` is no FZ106 case there."""
    return foreign_file(module, KERAS_ROOTS, KERAS_MODEL_TORCH_ROOTS)  # walked only for a store about to be reported: rare


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


def _eval_reaches(store, module: cst.Module) -> bool:
    """`model = model.eval()` (or `model.eval()`, `model.train(False)`) before `model.training = False`,
    with no statement in between that names `model`, or runs a method of a module above it
    (`model.train()` for `model.backbone`): eval() set every submodule's flag already, the
    assignment is redundant, not wrong. Followed back through the block and the blocks of the `if`,
    `with` and `try` statements that hold it, never into a loop (an earlier iteration may train it)."""
    if store.form not in ("assign", "annassign") or not (isinstance(store.value, cst.Name)
                                                        and store.value.value == "False"):
        return False
    obj = src(store.obj)
    names = re.compile(r"(?<![\w.])" + re.escape(obj) + r"(?!\w)")
    above = _above(obj)
    stmt, parents = store.ctx.stmt, _parents(store.ctx.scope.node or module)
    while stmt is not None:
        block, holder = parents.get(id(stmt), (None, None))
        if block is None:
            return False
        for before in reversed(block[:[id(b) for b in block].index(id(stmt))]):
            if _evals(before, obj):
                return True
            if names.search(src(before)) or above is not None and above.search(src(before)):
                return False  # run, handed on, trained or rebound: the flag may matter again
        if isinstance(holder, (cst.For, cst.While, cst.FunctionDef, cst.ClassDef)) or holder is None:
            return False
        stmt = holder
    return False


def _above(obj: str) -> re.Pattern | None:
    """What names a module above `obj` in a way that may set its flags: a method called on it or the
    name handed on or bound bare (`model.train()`, `run(model)`, `model = other` for `model.backbone`; `self.train()`,
    `super().train(mode)` for `self.backbone`), where a path through it to another part
    (`model.head.train()`) leaves `obj` alone. None for a plain name."""
    parts = obj.split(".")
    prefixes = [re.escape(".".join(parts[:i])) for i in range(1, len(parts))]
    if parts[0] == "self" and len(parts) > 1:
        prefixes.append(r"super\(\)")
    if not prefixes:
        return None
    return re.compile(r"(?<![\w.])(?:" + "|".join(prefixes) + r")(?:\s*\.\s*\w+\s*\(|(?!\w)(?!\s*\.))")


def _parents(root: cst.CSTNode) -> dict[int, tuple[list, cst.CSTNode | None]]:
    """Each statement of `root` (by id) in a module's or a compound statement's first block: that
    block and the compound statement (None at the top of a module). `else:`, `except:` and `finally:`
    blocks are left out: what ran before them is not the block before."""
    out: dict[int, tuple[list, cst.CSTNode | None]] = {}
    for node in traverse.walk(root):
        if not isinstance(node, (cst.BaseCompoundStatement, cst.Module)):
            continue
        holder = node if isinstance(node, cst.BaseCompoundStatement) else None
        block = node.body if isinstance(node, cst.Module) else getattr(node.body, "body", ())
        for st in block:
            out[id(st)] = (list(block), holder)
    return out


def _evals(stmt: cst.CSTNode, obj: str) -> bool:
    """A statement that is `obj.eval()`, `obj.train(False)` or `obj = <that call>` alone."""
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return False
    small = stmt.body[0]
    if isinstance(small, cst.Assign) and len(small.targets) == 1 and src(small.targets[0].target) == obj:
        call = small.value
    elif isinstance(small, cst.Expr):
        call = small.value
    else:
        return False
    if not (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and src(call.func.value) == obj):
        return False
    args = [a.value for a in call.args]
    if call.func.attr.value == "eval":
        return not args
    return call.func.attr.value == "train" and len(args) == 1 and isinstance(args[0], cst.Name) \
        and args[0].value == "False"


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
        if b.how != "iter":
            return False
        it, index = _unwrapped(b.node, b.index, b.scope or owner)
        if not (isinstance(it, cst.Call) and isinstance(it.func, cst.Attribute)
                and _WALKS.get(it.func.attr.value, None) == index):
            return False
    return True


def _each_module_of_a_hand_walk(obj: cst.BaseExpression, ctx: Ctx) -> bool:
    """A walk written out, `while stack: module = stack.pop(); ...; stack.extend(module._modules.values())`,
    visits every module as `.modules()` does: the flag set on the popped module, or on each module of a
    list that walk filled (`for module, custom in ops: module.training = mode`), is each one's own."""
    if not isinstance(obj, cst.Name) or any(name == obj.value for name, _, _ in ctx.narrow):
        return False
    owner = ctx.scope.lookup(obj.value)
    bindings = owner.bindings[obj.value] if owner is not None else []
    return bool(bindings) and all(_walked(b, owner) for b in bindings)


def _walked(b, owner) -> bool:
    """The binding takes a module off a walk's stack (`stack.pop()`), or iterates (as itself or as the
    first item of each tuple) a list that a walk appends to."""
    if b.how == "expr" and isinstance(b.node, cst.Call) and isinstance(b.node.func, cst.Attribute):
        stack = b.node.func.value
        if b.node.func.attr.value in ("pop", "popleft") and isinstance(stack, cst.Name) and b.index in ((), (0,)):
            return _walk_fills(owner, stack.value, b.node)
    if b.how == "iter" and isinstance(b.node, cst.Name) and b.index in ((), (0,)):
        lister = (b.scope or owner).lookup(b.node.value)
        return lister is not None and _walk_fills(lister, b.node.value, None)
    return False


def _walk_fills(scope, name: str, pop: cst.Call | None) -> bool:
    """A `while` loop of `scope`'s function that reads a module's children (`._modules`,
    `.children()`, `.named_children()`) and appends to `name` (and, given, holds the `pop`)."""
    if scope.kind != "function" or scope.node is None:
        return False
    for loop in traverse.walk(scope.node):
        if not isinstance(loop, cst.While):
            continue
        nodes = list(traverse.walk(loop.body))
        fills = any(isinstance(n, cst.Call) and isinstance(n.func, cst.Attribute)
                    and n.func.attr.value in ("append", "extend", "appendleft", "extendleft")
                    and isinstance(n.func.value, cst.Name) and n.func.value.value == name for n in nodes)
        reads_children = any(isinstance(n, cst.Attribute) and n.attr.value in ("_modules", "children", "named_children")
                             for n in nodes)
        if fills and reads_children and (pop is None or any(n is pop for n in nodes)):
            return True
    return False


def _unwrapped(it, index: tuple[int, ...], scope) -> tuple[object, tuple[int, ...] | None]:
    """What a loop over `enumerate(x)`, `list(x)`, `tuple(x)` or `reversed(x)` walks: `x`, and the
    position of the loop variable among x's items (`for i, m in enumerate(model.modules())` takes
    each module as `model.modules()`'s item ()). None where the variable is not one of x's items."""
    while isinstance(it, cst.Call) and it.args and it.args[0].keyword is None and not it.args[0].star:
        q = qualname(it.func, scope)
        if q == "enumerate":
            if not index or index[0] != 1:
                return it, None
            index = index[1:]
        elif q not in ("list", "tuple", "reversed"):
            break
        it = it.args[0].value
    return it, index
