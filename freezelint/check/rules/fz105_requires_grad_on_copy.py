"""FZ105 requires-grad-on-copy: requires_grad set on a tensor that is not the parameter."""

from __future__ import annotations

from typing import Iterable

import libcst as cst

from freezelint.check.facts import COPY, Facts
from freezelint.check.rules.base import ASSIGNED, Example, Finding, Rule, does_nothing, src

# A fresh leaf from detach()/clone() that is *made* trainable is a legitimate idiom
# (adversarial inputs, meta-learning); only turning it off there is a freezing mistake.
_ANY_VALUE_ORIGINS = frozenset({"state_dict()", "torch.load()", ".data"})


def _is_false(value: cst.BaseExpression | None) -> bool:
    return (isinstance(value, cst.Name) and value.value == "False") or (
        isinstance(value, cst.Integer) and value.value == "0"
    )


class RequiresGradOnCopy(Rule):
    code = "FZ105"
    words = ("requires_grad",)
    triggers = (r"\.\s*requires_grad" + ASSIGNED, r"requires_grad_\(\s*(?:False|0|requires_grad\s*=\s*False)\s*\)")
    requires = (r"state_dict|torch\.load|\.data\b|\.detach\(|\.clone\(",)
    what = "Finds requires_grad set on a copy of a parameter instead of on the parameter."
    why = (
        "`model.state_dict()` returns detached tensors (unless `keep_vars=True`), and so do the "
        "values of a loaded checkpoint; `p.data`, `p.detach()` and `p.clone()` are new tensors too. "
        "Setting `requires_grad` on any of them leaves the parameter in the model exactly as it was: "
        "nothing is frozen and nothing says so."
    )
    bad = [
        Example(
            """
            for name, value in model.state_dict().items():
                if name.startswith("backbone."):
                    value.requires_grad = False  # expect: FZ105
            """,
            instead="""
            for name, param in model.named_parameters():
                if name.startswith("backbone."):
                    param.requires_grad = False
            """,
        ),
        Example(
            """
            import torch
            checkpoint = torch.load("ckpt.pt")
            checkpoint["fc.weight"].requires_grad = False  # expect: FZ105
            for p in model.parameters():
                p.data.requires_grad = False  # expect: FZ105
                p.detach().requires_grad_(False)  # expect: FZ105
            """
        ),
    ]
    good = [
        """
        for name, p in model.named_parameters():
            p.requires_grad = not name.startswith("backbone.")
        for name, value in model.state_dict(keep_vars=True).items():
            value.requires_grad = False  # keep_vars=True gives the Parameters themselves
        """,
        """
        x_adv = images.detach().clone()
        x_adv.requires_grad = True  # a fresh leaf made trainable on purpose
        delta = noise.detach().requires_grad_()
        """,
        """
        from torch.nn.utils.rnn import pack_padded_sequence

        seq = pack_padded_sequence(inputs, lengths)
        seq.data.requires_grad_(False)  # PackedSequence.data is a field, not Tensor.data
        """,
    ]

    def check(self, facts: Facts, module) -> Iterable[Finding]:
        for store in facts.attr_stores:
            if store.attr == "requires_grad" and store.form != "augassign":
                yield from self._report(facts, store.obj, store.value, store.attr_node, store.ctx)
        for mc in facts.method_calls:
            if mc.method == "requires_grad_" and mc.call.args and _is_false(mc.call.args[0].value):
                yield from self._report(facts, mc.obj, mc.call.args[0].value, mc.call, mc.ctx)

    def _report(self, facts: Facts, obj, value, node, ctx) -> Iterable[Finding]:
        kind = facts.kind(obj, ctx)
        if kind is None or kind.tag != COPY:
            return
        if kind.origin not in _ANY_VALUE_ORIGINS and not _is_false(value):
            return
        origin = kind.origin or "a copy"
        yield self.finding(
            node,
            f"`{src(obj)}` comes from {origin}, a tensor separate from the model's parameter: setting "
            f"requires_grad on it {does_nothing(value)}; set it on the parameter (e.g. via "
            f"`model.named_parameters()`)",
            ctx,
        )
