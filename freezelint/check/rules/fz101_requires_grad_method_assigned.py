"""FZ101 requires-grad-method-assigned: `x.requires_grad_ = v` overwrites the method."""

from __future__ import annotations

from typing import Iterable

from freezelint.check.declared import kind_known, reason_unknown
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
        "the object is not known to be a Parameter, Tensor or Module: on an object of another kind "
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
    ]

    def check(self, facts, module) -> Iterable[Finding]:
        read_back = None
        for store in facts.attr_stores:
            if store.attr != "requires_grad_":
                continue
            if read_back is None:
                read_back = bool(method_reads(module)[0])
            value = value_src(store.value)
            obj = src(store.obj)
            known = kind_known(facts.kind(store.obj, store.ctx))
            how = "" if known else f" ({reason_unknown(obj)})"
            if read_back:
                how = " (the file reads `.requires_grad_` back as a value: fix those reads with it, FZ103)"
                known = False
            yield self.finding(
                store.attr_node,
                f"`{obj}.requires_grad_ = {value}` replaces the method with a value and "
                f"{does_nothing(store.value)}; call `{obj}.requires_grad_({value})`",
                store.ctx,
                call_fix(store, "requires_grad_", f"Call `{obj}.requires_grad_({value})`{how}", safe=known),
            )
