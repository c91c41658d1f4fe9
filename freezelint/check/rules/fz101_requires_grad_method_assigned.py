"""FZ101 requires-grad-method-assigned: `x.requires_grad_ = v` overwrites the method."""

from __future__ import annotations

from typing import Iterable

import libcst as cst

from freezelint.check.declared import kind_known, made_tensor, reason_unknown
from freezelint.check.rules._method_reads import method_reads
from freezelint.check.rules.base import ASSIGNED, Example, Finding, Rule, call_fix, does_nothing, src, value_src


class RequiresGradMethodAssigned(Rule):
    code = "FZ101"
    words = ("requires_grad_",)
    triggers = (r"requires_grad_" + ASSIGNED, r"['\"]requires_grad_['\"]")
    what = "Finds assignments to `requires_grad_`, the in-place method, instead of calling it."
    why = (
        "`requires_grad_` is a method. `m.requires_grad_ = False` stores a bool over it on that one "
        "object (a Module, Parameter or tensor): nothing is frozen, no error or warning is raised, and "
        "a later `m.requires_grad_(False)` on the same object fails with "
        "`TypeError: 'bool' object is not callable`."
    )
    fix_title = "Call the method: `x.requires_grad_(v)`"
    fix_unsafe_when = (
        "the object is not known to be a Parameter, Tensor or Module (a name every binding of which is one "
        "of torch's tensor factories, `torch.zeros(...)`, is a known Tensor): on an object of another kind "
        "the call raises where the assignment did not; or the file reads `.requires_grad_` back as a "
        "value (`if p.requires_grad_:`, FZ103): those reads see the stored flag, which the call removes"
    )
    bad = [
        Example(
            """
            import torch.nn as nn

            model = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8))
            for m in model.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
                    m.requires_grad_ = False  # expect: FZ101
            """,
            fixed="""
            import torch.nn as nn

            model = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8))
            for m in model.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
                    m.requires_grad_(False)  # expect: FZ101
            """,
        ),
        Example(
            """
            import torch.nn as nn

            class Encoder(nn.Module):
                def freeze(self):
                    self.requires_grad_ = False  # expect: FZ101
            """,
            fixed="""
            import torch.nn as nn

            class Encoder(nn.Module):
                def freeze(self):
                    self.requires_grad_(False)  # expect: FZ101
            """,
        ),
        Example(
            """
            layers = [encoder, decoder]
            list(map(lambda m: setattr(m, "requires_grad_", False), layers))  # expect: FZ101
            """,
            fixed="""
            layers = [encoder, decoder]
            list(map(lambda m: m.requires_grad_(False), layers))  # expect: FZ101
            """,
            unsafe=True,  # `m` is of unknown kind
        ),
        Example(
            """
            encoder.requires_grad_ = decoder.requires_grad_ = False  # expect: FZ101, FZ101
            head.requires_grad_: bool = True  # expect: FZ101
            """,
            fixed="""
            encoder.requires_grad_(False); decoder.requires_grad_(False)  # expect: FZ101, FZ101
            head.requires_grad_(True)  # expect: FZ101
            """,
            unsafe=True,  # `encoder`, `decoder` and `head` are of unknown kind
        ),
        Example(
            """
            import torch.nn as nn

            model = nn.Sequential(nn.Linear(784, 512), nn.Linear(512, 10))
            for name, param in model.named_parameters():
                param.requires_grad_ = name.startswith("1.")  # expect: FZ101
            trainable = [p for p in model.parameters() if p.requires_grad_]  # expect: FZ103
            """,
            fixed="""
            import torch.nn as nn

            model = nn.Sequential(nn.Linear(784, 512), nn.Linear(512, 10))
            for name, param in model.named_parameters():
                param.requires_grad_(name.startswith("1."))  # expect: FZ101
            trainable = [p for p in model.parameters() if p.requires_grad]  # expect: FZ103
            """,
            unsafe=True,  # the filter reads the stored flag back: the call alone would let every one through
        ),
        Example(
            """
            import torch

            noise = torch.randn(batch, dim).to(device)  # a Tensor: the call is safe
            noise.requires_grad_ = True  # expect: FZ101
            """,
            fixed="""
            import torch

            noise = torch.randn(batch, dim).to(device)  # a Tensor: the call is safe
            noise.requires_grad_(True)  # expect: FZ101
            """,
        ),
    ]
    good = [
        """
        model.requires_grad_(False)
        model.fc.requires_grad_(True)
        """,
        """
        import torch.nn as nn
        nn.Module.requires_grad_(model, False)
        flag = model.requires_grad_  # reading the bound method is fine
        note = "m.requires_grad_ = False"  # m.requires_grad_ = False in a comment
        """,
        # a callable stored over the method on purpose (a no-op for a while, restored by popping it
        # from the instance dict): a monkeypatch, not a freeze; calling it with the callable would raise
        """
        import functools
        import types

        def hold(model):
            held = [m for m in model.modules() if "requires_grad_" not in vars(m)]
            for module in held:
                module.requires_grad_ = functools.partial(lambda m, *args, **kwargs: m, module)
            return lambda: [vars(m).pop("requires_grad_", None) for m in held]

        def keep_frozen(self, requires_grad=True):
            return self

        def pin(model):
            model.requires_grad_ = types.MethodType(keep_frozen, model)
            model.head.requires_grad_ = keep_frozen
            model.body.requires_grad_ = lambda *args: model.body
        """,
    ]

    def check(self, facts, module) -> Iterable[Finding]:
        read_back = None
        for store in facts.attr_stores:
            if store.attr != "requires_grad_" or stores_callable(store.value, store.ctx.scope, facts):
                continue
            if read_back is None:
                read_back = bool(method_reads(module)[0])
            value = value_src(store.value)
            obj = src(store.obj)
            known = kind_known(facts.kind(store.obj, store.ctx)) or made_tensor(facts, store.obj, store.ctx.scope)
            how = "" if known else f" ({reason_unknown(obj)})"
            if read_back:
                named = ", FZ103" if facts.reports("FZ103") else ""  # a code the run does not report: unnamed
                how = f" (the file reads `.requires_grad_` back as a value: fix those reads with it{named})"
                known = False
            yield self.finding(
                store.attr_node,
                f"`{obj}.requires_grad_ = {value}` replaces the method with a value and "
                f"{does_nothing(store.value)}; call `{obj}.requires_grad_({value})`",
                store.ctx,
                call_fix(store, "requires_grad_", f"Call `{obj}.requires_grad_({value})`{how}", safe=known),
            )


# Calls that make a callable: a value built by one replaces the method on purpose (a monkeypatch).
_CALLABLE_MAKERS = frozenset({"functools.partial", "functools.partialmethod", "types.MethodType"})


def stores_callable(value: cst.BaseExpression | None, scope, facts, methods: tuple[str, ...] = ("requires_grad_",),
                    depth: int = 0) -> bool:
    """The value stored over one of `methods` is a function (a lambda, a `def`'s name, a method,
    `functools.partial(...)`, `types.MethodType(...)`, an imported name that is not a CONSTANT), or a
    name bound once to one: a monkeypatch,
    not the method overwritten by mistake (FZ101, FZ113)."""
    if isinstance(value, cst.Lambda):
        return True
    if isinstance(value, cst.Call):
        return facts.qualname(value.func, scope) in _CALLABLE_MAKERS
    if isinstance(value, cst.Attribute):  # `self._noop`, `nn.Module.requires_grad_` (the original back)
        return value.attr.value in methods or value.attr.value in _method_names(facts)
    if not isinstance(value, cst.Name) or depth > 2:
        return False
    owner = scope.lookup(value.value)
    bindings = owner.bindings[value.value] if owner is not None else []
    if bindings and all(b.how == "def" for b in bindings):
        return True
    if bindings and all(b.how == "import" for b in bindings) and not value.value.isupper():
        return True  # a function of another module (`from .base_model import disabled_train`); not a CONSTANT
    if len(bindings) != 1 or bindings[0].how != "expr" or bindings[0].index:
        return False
    bound = bindings[0].node
    return isinstance(bound, cst.BaseExpression) and stores_callable(bound, owner, facts, methods, depth + 1)


def _method_names(facts) -> set[str]:
    return {stmt.name.value for info in facts.classes.values()
            for stmt in info.node.body.body if isinstance(stmt, cst.FunctionDef)}
