"""FZ113 mode-method-assigned: `model.train = False` / `model.eval = True` overwrites the mode method."""

from __future__ import annotations

from typing import Iterable

import libcst as cst

from freezelint.check.declared import named_part
from freezelint.check.facts import Facts
from freezelint.check.rules.base import ASSIGNED, Example, Finding, Rule, call_fix, module_said, part_said, src, value_src
from freezelint.check.rules.fz101_requires_grad_method_assigned import stores_callable
from freezelint.check.rules.fz106_training_flag_assigned import train_overridden

_MODE_METHODS = ("train", "eval")


class ModeMethodAssigned(Rule):
    code = "FZ113"
    words = (".train", ".eval", "setattr", " train", " eval", "\ttrain", "\teval")
    triggers = (r"\.\s*(?:train|eval)" + ASSIGNED, r"setattr\s*\([^,\n]*,\s*['\"](?:train|eval)['\"]",
                r"(?m)^[ \t]+(?:train|eval)" + ASSIGNED)  # in a class body
    what = ("Finds `model.train = v` and `model.eval = v` on an nn.Module, and `train = v` in the body of an "
            "nn.Module subclass: a value stored over the mode method.")
    why = (
        "`train` and `eval` are nn.Module's methods. `model.train = False` stores a bool over `train()` on "
        "that one module: its mode never changes (BatchNorm statistics keep moving, Dropout stays on), no "
        "error or warning is raised there, and every later `model.train()` or `model.eval()` (which calls "
        "`self.train(False)`), also the one a parent module runs on each of its children, raises "
        "`TypeError: 'bool' object is not callable`. `model.eval = True` breaks a later `model.eval()` the "
        "same way."
    )
    fix_title = "Call the method: `x.train(v)`"
    fix_unsafe_when = (
        "the object is taken for a Module only from how the file uses it (`x.parameters()`, called like a "
        "layer): another class may have those methods, and `.train(v)` may not exist on it or mean something "
        "else. Only a bool literal (`x.train = False`) is fixed: another value may be a setting kept under the "
        "method's name (`self.train = train`), which needs a name of its own, and `x.eval = v` has no fix (which "
        "mode was meant is a guess)"
    )
    notes = (
        "Reported only where the object is known to be an nn.Module, decided as FZ102 decides it (constructed "
        "from an nn class or a model factory, `self` in an nn.Module subclass, a part of such a model, or "
        "proven by use): `self.train = train` in a torchvision-style dataset and `args.train = True` on an "
        "argparse namespace are not Modules and are not reported, nor is anything of a kind the checker cannot "
        "tell. `self.train = flag` in an nn.Module subclass is reported: it hides `train()` on every instance, "
        "and the first `model.train()` (or a parent's) raises. So does `train = False` (or `eval = True`, any "
        "literal) in the body of a class that subclasses nn.Module, directly or through a class of the file, "
        "unless the body defines the method again below it; the same line in a dataclass, a config or any "
        "other class, or in a class whose base the file does not show to be a Module, is not reported. A callable stored on purpose (a lambda, a "
        "function, a method, `functools.partial(...)`, `types.MethodType(...)`, an imported name that is not a "
        "CONSTANT: MiniGPT-4's `Qformer.train = disabled_train` keeps a frozen part in eval()) is a monkeypatch "
        "and is not reported. Where the object's class overrides `train()` with another meaning (ultralytics' `YOLO`, a "
        "`train(self, loader)` training loop) the message says `torch.nn.Module.train(obj, v)` and there is no "
        "fix. At run time, `audit()` and the watch report a module whose `__dict__` holds a `train` or `eval` "
        "that is not callable; `audit()` refuses to run its steps on such a model (its `model.train()` would "
        "raise) with a one-line error naming FZ113, unless `call_train=False`."
    )
    bad = [
        Example(
            """
            import torchvision

            model = torchvision.models.resnet18(weights=None)
            model.train = True  # expect: FZ113
            for x, y in loader:
                loss = criterion(model(x), y)
            """,
            fixed="""
            import torchvision

            model = torchvision.models.resnet18(weights=None)
            model.train(True)  # expect: FZ113
            for x, y in loader:
                loss = criterion(model(x), y)
            """,
        ),
        Example(
            """
            import torch.nn as nn

            model = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))
            model[1].train = False  # expect: FZ113
            model.train()  # raises TypeError: 'bool' object is not callable
            """,
            fixed="""
            import torch.nn as nn

            model = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))
            model[1].train(False)  # expect: FZ113
            model.train()  # raises TypeError: 'bool' object is not callable
            """,
        ),
        Example(
            """
            import torch.nn as nn

            class Classifier(nn.Module):
                def __init__(self, train=True):
                    super().__init__()
                    self.fc = nn.Linear(8, 2)
                    self.train = train  # expect: FZ113

                def forward(self, x):
                    return self.fc(x)
            """,
            instead="""
            import torch.nn as nn

            class Classifier(nn.Module):
                def __init__(self, train=True):
                    super().__init__()
                    self.fc = nn.Linear(8, 2)
                    self.train_mode = train  # a name of its own: train() stays callable

                def forward(self, x):
                    return self.fc(x)
            """,
        ),
        Example(
            """
            import torch.nn as nn

            class FrozenEncoder(nn.Module):
                train = False  # expect: FZ113

                def __init__(self):
                    super().__init__()
                    self.body = nn.Linear(8, 8)
            """,
            instead="""
            import torch.nn as nn

            class FrozenEncoder(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.body = nn.Linear(8, 8)
                    self.requires_grad_(False)
                    self.eval()  # the model's own model.train() switches it back: see FZ201
            """,
        ),
        Example(
            """
            import torch.nn as nn

            class Base(nn.Module):
                pass

            class Head(Base):
                eval: bool = True  # expect: FZ113
            """,
            instead="""
            import torch.nn as nn

            class Base(nn.Module):
                pass

            class Head(Base):
                eval_only: bool = True  # a name of its own: eval() stays callable
            """,
        ),
        Example(
            """
            import torch.nn as nn

            encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(64, 4), 2)
            setattr(encoder, "train", False)  # expect: FZ113
            """,
            fixed="""
            import torch.nn as nn

            encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(64, 4), 2)
            encoder.train(False)  # expect: FZ113
            """,
        ),
        Example(
            """
            import torch.nn as nn

            encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(64, 4), 2)
            encoder.eval = True  # expect: FZ113
            """,
            instead="""
            import torch.nn as nn

            encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(64, 4), 2)
            encoder.eval()
            """,
        ),
        Example(
            """
            def freeze_encoder(model):
                for p in model.encoder.parameters():
                    p.requires_grad = False
                model.encoder.train = False  # expect: FZ113
            """,
            fixed="""
            def freeze_encoder(model):
                for p in model.encoder.parameters():
                    p.requires_grad = False
                model.encoder.train(False)  # expect: FZ113
            """,
            unsafe=True,  # a Module only because `.parameters()` is called on it
        ),
        Example(
            """
            class Probe:
                def __init__(self, model):
                    self._model = model

                def fit(self, loader):
                    self._model.train()
                    self._model.backbone.train = False  # expect: FZ113
            """,
            fixed="""
            class Probe:
                def __init__(self, model):
                    self._model = model

                def fit(self, loader):
                    self._model.train()
                    self._model.backbone.train(False)  # expect: FZ113
            """,
            unsafe=True,  # `backbone` taken for a submodule by its name, as FZ102 takes it
        ),
    ]
    good = [
        """
        import torch.nn as nn

        def infer(model, x):
            model.encoder.train = False  # `model` only called: any callable is
            return model(x)

        def tune(model):
            model.train()
            model.settings.train = False  # not a name models give their parts

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.encoder = nn.Linear(2, 2)

        net = Net()
        net.eval()
        net.decoder.eval = True  # Net's parts are known: no decoder among them
        """,
        """
        class CIFAR10:  # a torchvision-style dataset: `train` selects the split
            def __init__(self, root, train=True):
                self.root = root
                self.train = train
        """,
        """
        import argparse

        parser = argparse.ArgumentParser()
        args = parser.parse_args()
        args.train = True
        cfg.model.eval = False  # an unknown object: a config for all the checker knows
        """,
        """
        import functools
        import types

        import torch.nn as nn

        def keep_eval(self, mode=True):
            return nn.Module.train(self, False)

        model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
        model[1].train = types.MethodType(keep_eval, model[1])  # a callable on purpose: a monkeypatch
        model[0].train = functools.partial(nn.Module.train, model[0])
        model.eval = lambda: model
        model.train(False)
        """,
        """
        import torch.nn as nn

        model = nn.Linear(4, 4)
        model.training = False  # FZ106's, not this rule's
        is_training = model.train  # reading the bound method is fine
        """,
        """
        from dataclasses import dataclass

        from mylib import Backbone

        @dataclass
        class RunConfig:  # a config: `train` is a setting
            train: bool = True
            eval: bool = False

        class Split:
            train = "train"

        class Wrapped(Backbone):  # a base the file does not show to be a Module
            train = False
        """,
        """
        import torch.nn as nn

        def disabled_train(self, mode=True):
            return self

        class Frozen(nn.Module):
            train = disabled_train  # a function: a method, on purpose

        class Redefined(nn.Module):
            train = False

            def train(self, mode=True):  # defined again below: the method wins
                return super().train(mode)
        """,
    ]

    def check(self, facts: Facts, module) -> Iterable[Finding]:
        for info in facts.classes.values():
            if info.is_module:
                yield from self._class_body(info)
        for store in facts.attr_stores:
            if store.attr not in _MODE_METHODS or store.form == "augassign":
                continue
            # `self._model.backbone.train = False`: a part of a given model, taken for a submodule by its
            # name as FZ102 takes it (declared.named_part)
            part = None if facts.is_module(store.obj, store.ctx) else named_part(facts, store.obj, store.ctx)
            if part is None and not facts.is_module(store.obj, store.ctx):
                continue
            if stores_callable(store.value, store.ctx.scope, facts, _MODE_METHODS):
                continue
            yield self._report(facts, store, part)

    def _class_body(self, info) -> Iterable[Finding]:
        """`train = False` in the body of a Module subclass: the class attribute hides the method on
        every instance. Only a literal, and only where it is the body's last binding of the name."""
        last: dict[str, tuple[cst.CSTNode, cst.BaseExpression | None, cst.CSTNode]] = {}
        for st in info.node.body.body:
            if isinstance(st, cst.FunctionDef) and st.name.value in _MODE_METHODS:
                last[st.name.value] = (st, None, st)
            for small in st.body if isinstance(st, cst.SimpleStatementLine) else ():
                targets = ([t.target for t in small.targets] if isinstance(small, cst.Assign)
                           else [small.target] if isinstance(small, cst.AnnAssign) and small.value is not None else [])
                for t in targets:
                    if isinstance(t, cst.Name) and t.value in _MODE_METHODS:
                        last[t.value] = (t, small.value, st)
        for attr, (node, value, stmt) in sorted(last.items()):
            if value is None or not _literal(value):
                continue
            calls = "`.train()` or `.eval()` on one, also its parent module's," if attr == "train" else "`.eval()` on one"
            yield self.finding(
                node,
                f"`{attr} = {value_src(value)}` in the body of {info.name}, an nn.Module subclass, replaces nn.Module's "
                f"`{attr}()` with a value on every instance: the mode never changes, and every {calls} raises "
                f"TypeError; keep the setting under a name of its own",
                stmt=stmt,
            )

    def _report(self, facts: Facts, store, part: list | None = None) -> Finding:
        """`part`: the constructors of the root of a part taken for a submodule by its name (None: the
        object is known to be a Module)."""
        obj, value = src(store.obj), value_src(store.value)
        proof = facts.kinds.use_proofs(store.obj, store.ctx.scope)
        said = f"{part_said(facts, store.obj, store.ctx, part)}: " if part is not None else \
            f"{module_said(facts, obj, proof)}: " if proof else ""
        guessed = bool(proof) or part is not None  # a fix on a guess is unsafe
        if store.attr == "eval":
            meant = {"True": f"`{obj}.eval()`", "False": f"`{obj}.train()`"}.get(value, f"`{obj}.eval()` or `{obj}.train()`")
            return self.finding(
                store.attr_node,
                f"{said}`{obj}.eval = {value}` replaces nn.Module's `eval()` with a value: the mode does not change, "
                f"and a later `{obj}.eval()` raises TypeError; call {meant}",
                store.ctx,
            )
        head = (f"{said}`{obj}.train = {value}` replaces nn.Module's `train()` with a value: the mode does not "
                f"change, and every later `{obj}.train()` or `{obj}.eval()`, also a parent module's, raises TypeError")
        kind = facts.kind(store.obj, store.ctx)  # none for a part taken by its name: nothing known to override
        other = train_overridden(facts, store.obj, store.ctx.scope, kind) if kind is not None else None
        if other is not None:
            return self.finding(store.attr_node, f"{head}; call `torch.nn.Module.train({obj}, {value})` ({other[0]})",
                                store.ctx)
        if not (isinstance(store.value, cst.Name) and store.value.value in ("True", "False")):
            return self.finding(store.attr_node, f"{head}; call `{obj}.train({value})` to switch the mode, or keep "
                                f"the setting under a name of its own", store.ctx)
        return self.finding(store.attr_node, f"{head}; call `{obj}.train({value})`", store.ctx,
                            call_fix(store, "train", f"Call `{obj}.train({value})`", safe=not guessed))


def _literal(value: cst.BaseExpression) -> bool:
    """A value that is certainly no callable: a bool, None, a number or a string."""
    if isinstance(value, cst.UnaryOperation):
        value = value.expression
    return (isinstance(value, (cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString, cst.ConcatenatedString,
                               cst.FormattedString))
            or isinstance(value, cst.Name) and value.value in ("True", "False", "None"))
