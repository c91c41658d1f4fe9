"""FZ103 requires-grad-misspelled: `x.require_grad = v` and friends are silently accepted."""

from __future__ import annotations

from typing import Iterable

import libcst as cst

from freezelint.check.declared import _TENSOR_FACTORIES as TENSOR_FACTORIES
from freezelint.check.declared import _tensor_source as tensor_source
from freezelint.check.declared import (class_declares, declared, is_config, kind_known, made_tensor, reads_back,
                                       reason_unknown, records_argument)
from freezelint.check.facts import MODULE, PARAM, AttrStore, Facts, Kind
from freezelint.check.rules._method_reads import method_reads
from freezelint.check.syntax import dotted, string_value
from freezelint.check.syntax import walk as syntax_walk
from freezelint.check.rules.base import (ASSIGNED, Example, Finding, Fix, Rule, call_fix, does_nothing, rename_fix,
                                         src, value_src)
from freezelint.spelling import FOREIGN, MISSPELLINGS, is_misspelling




def _spelled(word: str) -> str:
    """A regex for the names is_misspelling reduces to `word`: any case, underscores anywhere."""
    return "_*".join(f"[{c.upper()}{c}]" for c in word) + "_*"


# The names is_misspelling accepts, exactly (a broader `req\w*` admitted every file with a
# `.request =`, and a 50,000-line web module cost a full parse): an attribute so named assigned or
# called, or named in setattr; is_misspelling decides.
_GRADLIKE = "(?:" + "|".join(_spelled(w) for w in sorted(MISSPELLINGS)) + ")"


class RequiresGradMisspelled(Rule):
    code = "FZ103"
    words = ("req", "Req", "REQ", "required", "Required", "trainable")
    triggers = (r"\." + _GRADLIKE + ASSIGNED, r"['\"]" + _GRADLIKE + r"['\"]", r"trainable" + ASSIGNED,
                r"['\"]trainable['\"]", r"\.requires_grad_\b(?!\s*(?:\(|=(?!=)|:[^=\n]*=))",
                r"\." + _GRADLIKE + r"\s*\(")
    what = ("Finds assignments to misspellings of `requires_grad` (and `trainable` / `is_trainable`), calls of "
            "misspellings of `requires_grad_()` on Modules and Parameters, and tests of `x.requires_grad_`, "
            "the method, where the flag `x.requires_grad` was meant.")
    why = (
        "Parameters, tensors and Modules accept any new attribute: `p.require_grad = False`, "
        "`p.requires_grads = False`, `p.requiresGrad = False` or `p.trainable = False` raise nothing "
        "and freeze nothing. Only reading such an attribute back would fail. Read back as a test, "
        "`p.requires_grad_` is the in-place method, true for every parameter: "
        "`[p for p in model.parameters() if p.requires_grad_]` keeps the frozen ones too. A misspelled "
        "call (`module.requirs_grad_(False)`) is no method: it raises AttributeError the first time it runs, "
        "which is often only under a flag the tests leave off."
    )
    fix_title = "Use `requires_grad` (or `requires_grad_(v)` on a Module)"
    fix_unsafe_when = (
        "the object is not known to be a Parameter, Tensor or Module (for example `args.require_grad` "
        "of an object the checker cannot see; a name every binding of which is one of torch's tensor "
        "factories, `pe = torch.zeros(...)`, is a known Tensor): the rename would change what the program does if "
        "the name is the object's own; or the store is on `self` and the file reads the name on an "
        "object the checker cannot tell, which may be an instance reading the attribute the fix removes"
    )
    notes = (
        "`trainable` and `is_trainable` are reported only where the object is known to be a Parameter, or a Module whose "
        "class the checker can read (of the file, another project file or a library): a Module known "
        "only from a use (`model.train()`) may be of a class with a `trainable` setting of its own, and "
        "the fix of a misspelling on it needs review. An "
        "attribute that starts with `_` and `self.<name>` in a class that is not an nn.Module are "
        "treated as the author's own. A name the program declares is not reported: a class's own "
        "setting (a class-level field, or `self.<name>` read back in the class, a base or a subclass of "
        "the file, or read on an instance of it), a record of a method's argument on `self` "
        "(`self.trainable = trainable`) where the argument also acts in that method (`if trainable:`, "
        "`nn.Parameter(w, requires_grad=trainable)`), and, on objects not "
        "known to hold tensors, an argparse option (`--require-grad`), a field of a class in the "
        "file, a key of a dict-like config, a name read back as an attribute, or any attribute of "
        "parsed arguments, `EasyDict`/`SimpleNamespace`/OmegaConf configs and parameters annotated "
        "with a config class. Nor `= False` on a tensor one of torch's factories made without "
        "`requires_grad=True` (`pe = torch.zeros(...)`) where nothing in its scope sets its flag: it does "
        "not require grad, so the typo changes nothing (`= True` there is still reported)."
    )
    bad = [
        Example(
            """
            for name, param in model.named_parameters():
                if not name.startswith("fc"):
                    param.require_grad = False  # expect: FZ103
            """,
            fixed="""
            for name, param in model.named_parameters():
                if not name.startswith("fc"):
                    param.requires_grad = False  # expect: FZ103
            """,
        ),
        Example(
            """
            import torch.nn as nn

            head = nn.Linear(512, 10)
            head.trainable = True  # expect: FZ103
            for p in head.parameters():
                p.trainable = True  # expect: FZ103
            for p in head.parameters():
                p.is_trainable = False  # expect: FZ103
            """,
            fixed="""
            import torch.nn as nn

            head = nn.Linear(512, 10)
            head.requires_grad_(True)  # expect: FZ103
            for p in head.parameters():
                p.requires_grad = True  # expect: FZ103
            for p in head.parameters():
                p.requires_grad = False  # expect: FZ103
            """,
        ),
        Example(
            """
            import torch.nn as nn

            head = nn.Linear(512, 10)
            head.weight.requiresGrad = True  # expect: FZ103
            backbone.require_grad = False  # expect: FZ103
            """,
            fixed="""
            import torch.nn as nn

            head = nn.Linear(512, 10)
            head.weight.requires_grad = True  # expect: FZ103
            backbone.requires_grad = False  # expect: FZ103
            """,
            unsafe=True,  # `head.weight` and `backbone` are of unknown kind: the rename needs review
        ),
        Example(
            """
            import torch.nn as nn

            class Adapter(nn.Module):
                def __init__(self, dim):
                    super().__init__()
                    self.proj = nn.Linear(dim, dim)
                    self.requires_grads = False  # expect: FZ103
            """,
            fixed="""
            import torch.nn as nn

            class Adapter(nn.Module):
                def __init__(self, dim):
                    super().__init__()
                    self.proj = nn.Linear(dim, dim)
                    self.requires_grad_(False)  # expect: FZ103
            """,
        ),
        Example(
            """
            import torch
            import torch.nn as nn

            model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
            model[0].requires_grad_(False)
            optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad_], lr=1e-3)  # expect: FZ103
            frozen = list(filter(lambda p: not p.requires_grad_, model.parameters()))  # expect: FZ103
            """,
            fixed="""
            import torch
            import torch.nn as nn

            model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
            model[0].requires_grad_(False)
            optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)  # expect: FZ103
            frozen = list(filter(lambda p: not p.requires_grad, model.parameters()))  # expect: FZ103
            """,
        ),
        Example(
            """
            import torch

            def only_blocks(transformer):
                transformer.x_embedder.requires_grad_(True)
                for name, module in transformer.named_modules():
                    if "transformer_blocks" in name:
                        module.requires_grad_(True)
                    else:
                        module.requirs_grad_(False)  # expect: FZ103
            """,
            instead="""
            import torch

            def only_blocks(transformer):
                for name, module in transformer.named_modules():
                    if "transformer_blocks" in name:
                        module.requires_grad_(True)
                    else:
                        module.requires_grad_(False)
            """,
        ),
        Example(
            """
            import torch.nn as nn

            class Adapter(nn.Module):
                def __init__(self, dim, trainable=True):
                    super().__init__()
                    self.proj = nn.Linear(dim, dim)
                    self.trainable = trainable  # expect: FZ103
            """,
            fixed="""
            import torch.nn as nn

            class Adapter(nn.Module):
                def __init__(self, dim, trainable=True):
                    super().__init__()
                    self.proj = nn.Linear(dim, dim)
                    self.requires_grad_(trainable)  # expect: FZ103
            """,
        ),
        Example(
            """
            import torch

            pe = torch.zeros(max_len, d_model)  # a Tensor: the rename is safe
            pe.require_grad = True  # expect: FZ103
            """,
            fixed="""
            import torch

            pe = torch.zeros(max_len, d_model)  # a Tensor: the rename is safe
            pe.requires_grad = True  # expect: FZ103
            """,
        ),
    ]
    good = [
        # a fresh tensor does not require grad: `False`, misspelled or not, changes nothing
        """
        import torch

        pe = torch.zeros(max_len, d_model).float()
        pe.require_grad = False
        """,
        """
        import torch.nn as nn

        class Adapter(nn.Module):
            def require_grad(self, flag):  # the class's own method of that name
                for p in self.parameters():
                    p.requires_grad = flag

        adapter = Adapter()
        adapter.require_grad(False)

        def freeze(runner):
            runner.require_grad(False)  # an object of a class the checker cannot see
        """,
        """
        import torch.nn as nn

        model = nn.Sequential(nn.Linear(4, 4))
        freeze = model.requires_grad_  # the bound method, handed on and called
        freeze(False)
        if callable(model.requires_grad_) and model.requires_grad_(False) is model:
            pass
        """,
        """
        for p in model.parameters():
            p.requires_grad = False
        layer.trainable = False  # unknown object: maybe a Keras layer
        """,
        """
        class Options:
            def __init__(self):
                self.require_grad = True  # a setting of a plain class
                self._requires_grad = True
        """,
        """
        import torch.nn as nn

        class Adapter(nn.Module):
            def __init__(self, dim, requires_grads=True):
                super().__init__()
                self.requires_grads = requires_grads  # the class's own setting, read back below
                self.proj = nn.Linear(dim, dim)

            def forward(self, x):
                if self.requires_grads:
                    return self.proj(x)
                return x

        adapter = Adapter(8)
        adapter.requires_grads = False  # switching that setting
        """,
        """
        import argparse

        parser = argparse.ArgumentParser()
        parser.add_argument("--require-grad", action="store_true")
        parser.add_argument("--lr", type=float, dest="requiresGrad")
        args = parser.parse_args()
        args.require_grad = False  # the declared option
        args.requiresGrad = 0.1
        opts, _ = parser.parse_known_args()
        opts.require_grads = True  # parsed arguments hold no tensors
        """,
        """
        from dataclasses import dataclass

        @dataclass
        class TrainConfig:
            lr: float = 1e-3
            require_grad: bool = True

        def finetune(cfg):
            cfg.require_grad = False  # a field of the config dataclass

        def sweep(options: TrainConfig):
            options.requires_grads = True  # annotated as a config
        """,
        """
        from easydict import EasyDict
        from omegaconf import OmegaConf

        cfg = EasyDict({"model": "resnet18", "require_grad": False})
        cfg.require_grad = True  # a key of the dict-like config
        hp = OmegaConf.create({"lr": 0.1})
        hp.requiresGrad = False  # an OmegaConf config holds no tensors
        """,
        """
        import torch
        import torch.nn as nn

        class ExponentialMovingAverage(nn.Module):
            def __init__(self, n, trainable=True):
                super().__init__()
                self.trainable = trainable  # a record of the argument, which acts below
                self.weights = nn.Parameter(torch.ones(n), requires_grad=trainable)

        class Smearing(nn.Module):
            def __init__(self, n, trainable=True):
                super().__init__()
                self.trainable = trainable  # a record: the argument picks parameter or buffer
                if trainable:
                    self.register_parameter("means", nn.Parameter(torch.zeros(n)))
                else:
                    self.register_buffer("means", torch.zeros(n))
        """,
    ]

    def check(self, facts: Facts, module) -> Iterable[Finding]:
        yield from self._method_tests(facts, module)
        yield from self._misspelled_calls(facts)
        for store in facts.attr_stores:
            attr = store.attr
            if store.form == "augassign":
                continue
            foreign = attr in FOREIGN
            if not foreign and not is_misspelling(attr):
                continue
            kind = facts.kind(store.obj, store.ctx)
            tag = kind.tag if kind else None
            if foreign and (tag not in (MODULE, PARAM) or (tag == MODULE and not _class_seen(kind))):
                continue  # `trainable` is a word: on a Module of a class not seen, maybe that class's own
            if (isinstance(store.obj, cst.Name) and store.obj.value == "self" and tag != MODULE
                    and facts.enclosing_class(store.ctx) is not None):
                continue
            if _declared_setting(facts, store, kind) or records_argument(store.obj, store.value, store.ctx.scope):
                continue
            if _fresh_tensor_off(facts, store):
                continue
            obj = src(store.obj)
            value = value_src(store.value)
            if tag == MODULE:
                # a class not seen may keep the name as a setting of its own, and a record on `self` may
                # be read on an object the checker cannot tell: the rewrite needs review
                fix = call_fix(store, "requires_grad_", f"Call `{obj}.requires_grad_({value})`",
                               safe=_class_seen(kind) and not _read_unknown(facts, store, kind))
                advice = f"call `{obj}.requires_grad_({value})`"
            else:
                known = kind_known(kind) or made_tensor(facts, store.obj, store.ctx.scope)
                how = "" if known else f" ({reason_unknown(obj)})"
                fix = rename_fix(store, "requires_grad", f"Rename `{attr}` to `requires_grad`{how}", safe=known)
                advice = f"set `{obj}.requires_grad`"
            yield self.finding(
                store.attr_node,
                f"`{attr}` is not `requires_grad`: the assignment is accepted silently and "
                f"{does_nothing(store.value)}; {advice}",
                store.ctx,
                fix,
            )


    def _misspelled_calls(self, facts: Facts) -> Iterable[Finding]:
        """`module.requirs_grad_(False)` on a Module or Parameter: no such method, AttributeError.
        Only on objects known to be one (a class the program or a library defines may have a method
        of that name), and not where the file defines a function of that name itself."""
        own = None
        for mc in facts.method_calls:
            if not is_misspelling(mc.method) or len(mc.call.args) > 1:
                continue
            kind = facts.kind(mc.obj, mc.ctx)
            if kind is None or kind.tag not in (MODULE, PARAM) or (kind.tag == MODULE and kind.cls is not None
                                                                   and class_declares(kind.cls, mc.method)):
                continue
            if own is None:
                own = {n.name.value for n in syntax_walk(facts.module) if isinstance(n, cst.FunctionDef)}
            if mc.method in own:
                continue
            obj, arg = src(mc.obj), (value_src(mc.call.args[0].value) if mc.call.args else "")
            yield self.finding(
                mc.call.func.attr,
                f"`{obj}.{mc.method}({arg})` calls no method (`{mc.method}` is not `requires_grad_`): it raises "
                f"AttributeError the first time it runs, and nothing is frozen or unfrozen; call "
                f"`{obj}.requires_grad_({arg})`",
                mc.ctx,
                Fix(f"Call `{obj}.requires_grad_({arg})`",
                    [(mc.call.func.attr, mc.call.func.attr.with_changes(value="requires_grad_"))],
                    safe=kind_known(kind)),
            )

    def _method_tests(self, facts: Facts, module) -> Iterable[Finding]:
        """`if p.requires_grad_:`: the bound method, always true. Where the file assigns
        `.requires_grad_ = v` (FZ101) the test reads that stored value back: the rename is right
        once those assignments are calls, and changes what trains before: then it needs review."""
        tested = method_reads(module)[1]
        if not tested:
            return
        stored = any(s.attr == "requires_grad_" for s in facts.attr_stores)
        for attr in tested:
            obj = src(attr.value)
            message = (f"`{obj}.requires_grad_` is the in-place method, not the flag: as a test it is always true, "
                       f"so nothing is told apart by it; read `{obj}.requires_grad`")
            if stored:
                named = " (FZ101)" if facts.reports("FZ101") else ""  # a code the run does not report: unnamed
                message += (f" (the file also assigns `.requires_grad_ = ...`{named}, which stores a value in place "
                            f"of the method: until those assignments are calls this reads the stored value; fix both "
                            f"together)")
            how = " (right once the assignments to `.requires_grad_` are calls)" if stored else ""
            yield self.finding(attr.attr, message, None,
                               Fix(f"Read `{obj}.requires_grad`{how}",
                                   [(attr.attr, attr.attr.with_changes(value="requires_grad"))], safe=not stored))


def _declared_setting(facts: Facts, store: AttrStore, kind: Kind | None) -> bool:
    """The name is the program's own: a setting of a class of the file (assigned and read back, or a
    field), or, on an object not known to hold tensors, an argparse option, a config field or key."""
    if kind is not None and kind.tag == MODULE:
        if kind.cls is None and kind.qual and facts.project is not None and facts.path:
            return facts.project.keeps_setting(facts.path, kind.qual, store.attr)  # a class of another file
        return class_declares(kind.cls, store.attr) or (_on_self(store) and kind.cls is not None
                                                        and reads_back(facts, kind.cls, store.attr)[0])
    if kind_known(kind) or made_tensor(facts, store.obj, store.ctx.scope):
        return False  # Parameters and tensors declare nothing
    if is_config(facts, store.obj, store.ctx.scope):
        return True
    return declared(facts).why(store.attr) is not None


def _on_self(store: AttrStore) -> bool:
    return isinstance(store.obj, cst.Name) and store.obj.value == "self"


def _read_unknown(facts: Facts, store: AttrStore, kind: Kind) -> bool:
    """`self.trainable = v`, with `x.trainable` read where the checker cannot tell what `x` is: perhaps
    an instance reading the record the fix would remove."""
    return _on_self(store) and kind.cls is not None and reads_back(facts, kind.cls, store.attr)[1]


def _class_seen(kind: Kind) -> bool:
    """The Module's class is one the checker can read (of the file, a project file or a library),
    not only inferred from a use (`model.train()`)."""
    return kind.cls is not None or bool(kind.qual or kind.factory or kind.wraps)


def _fresh_tensor_off(facts: Facts, store: AttrStore) -> bool:
    """`pe = torch.zeros(...); pe.require_grad = False`: a tensor a factory made without
    `requires_grad=True` does not require grad, and nothing in its scope turns the flag on
    (`pe.requires_grad = ...`, `pe.requires_grad_(...)`, or the same through a name or attribute
    that holds the tensor too: `self.pos = pe`, `self.register_buffer("pos", pe)`): the misspelled
    `False` changes nothing, as the right spelling would not. `True`, and a flag set some other way,
    are still reported."""
    obj = store.obj
    if not (isinstance(store.value, cst.Name) and store.value.value == "False") \
            or not made_tensor(facts, obj, store.ctx.scope):
        return False
    owner = store.ctx.scope.lookup(obj.value)
    for b in owner.bindings.get(obj.value, []):
        made = tensor_source(b.node)
        if isinstance(made, cst.Call) and facts.qualname(made.func, owner) in TENSOR_FACTORIES and any(
                a.keyword is not None and a.keyword.value == "requires_grad"
                and not (isinstance(a.value, cst.Name) and a.value.value == "False") for a in made.args):
            return False
    root = owner.node if owner.node is not None else facts.module
    names = _aliases(obj.value, root)
    return not any(isinstance(n, cst.Attribute) and n.attr.value in ("requires_grad", "requires_grad_")
                   and dotted(n.value) in names for n in syntax_walk(root))


_REGISTERS = ("register_buffer", "register_parameter")


def _aliases(name: str, root: cst.CSTNode) -> set[str]:
    """`name` and what else holds the same tensor in `root`: a name or attribute assigned it as it is
    (`self.pos = pe`), an attribute of self it is registered under (`self.register_buffer("pos", pe)`):
    a flag turned on there is turned on for `name` too."""
    out = {name}
    for n in syntax_walk(root):
        if isinstance(n, cst.Assign) and isinstance(n.value, cst.Name) and n.value.value == name:
            out.update(d for t in n.targets if (d := dotted(t.target)))
        elif isinstance(n, cst.Call) and isinstance(n.func, cst.Attribute) and n.func.attr.value in _REGISTERS \
                and len(n.args) >= 2 and isinstance(n.args[1].value, cst.Name) and n.args[1].value.value == name \
                and (key := string_value(n.args[0].value)) and (holder := dotted(n.func.value)):
            out.add(f"{holder}.{key}")
    return out
