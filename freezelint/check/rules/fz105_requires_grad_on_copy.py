"""FZ105 requires-grad-on-copy: requires_grad set on a tensor that is not the parameter."""

from __future__ import annotations

import re
from typing import Iterable

import libcst as cst

from freezelint.check.facts import COPY, MODULE, PARAM, Facts, Kind
from freezelint.check.rules.base import ASSIGNED, Example, Finding, Rule, does_nothing, src, value_src
from freezelint.check.syntax import walk as syntax_walk

# A fresh leaf from detach()/clone() that is *made* trainable is a legitimate idiom
# (adversarial inputs, meta-learning); only turning it off there is a freezing mistake.
_ANY_VALUE_ORIGINS = frozenset({"state_dict()", "torch.load()", ".data"})
# The model's own weights as a dict (to edit and load back): requires_grad set there is about the model.
_MODEL_WEIGHTS = frozenset({"state_dict()", "torch.load()"})
# A parameter cast to another dtype or device (`p.to(torch.float32)` after the model was cast to
# fp16): a new tensor, handed to the optimizer in the parameter's place, with either value.
_CASTS = ("to", "float", "half", "double", "bfloat16", "cuda", "cpu", "type")
_CAST_ORIGINS = frozenset(f".{m}()" for m in _CASTS)
_CAST_CALL = r"\.(?:" + "|".join(_CASTS) + r")\("


def _is_false(value: cst.BaseExpression | None) -> bool:
    return (isinstance(value, cst.Name) and value.value == "False") or (
        isinstance(value, cst.Integer) and value.value == "0"
    )


class RequiresGradOnCopy(Rule):
    code = "FZ105"
    words = ("requires_grad",)
    triggers = (r"\.\s*requires_grad" + ASSIGNED, r"requires_grad_\(\s*(?:False|0|requires_grad\s*=\s*False)\s*\)")
    requires = (r"state_dict|torch\.load|\.data\b|\.detach\(|\.clone\(|" + _CAST_CALL,)
    what = "Finds requires_grad set on a copy of a parameter instead of on the parameter."
    why = (
        "`model.state_dict()` returns detached tensors (unless `keep_vars=True`), and so do the "
        "values of a loaded checkpoint; `p.data`, `p.detach()` and `p.clone()` are new tensors too. "
        "Setting `requires_grad` on any of them leaves the parameter in the model exactly as it was: "
        "nothing is frozen and nothing says so. `param = param.to(torch.float32)` in a loop over a model "
        "cast to fp16 or bf16 is a new tensor too: made trainable and handed to the optimizer, it trains a "
        "copy the model never reads."
    )
    notes = (
        "Not reported for a copy from `.detach()`, `.clone()` or `.data` that has a name read again after "
        "the flag is set (stored, returned, passed on): a copy kept as a tensor of its own (an EMA shadow, "
        "a frozen reference model's weights) is meant to be grad-free. A copy flagged and then dropped, or "
        "one without a name (`p.detach().requires_grad = False`), is reported, and so are the values of "
        "`state_dict()` and of a loaded checkpoint, kept or not. `.data` of a parameter (one known as such, "
        "or `weight`/`bias` of a Module: `emb.weight.data`) is a new tensor each time it is read, and so is "
        "a slice of it (`emb.weight.data[:, :2]`): requires_grad set on either, unnamed, is reported; "
        "writing through `.data` (`p.data.copy_(...)`, `p.data = ...`) is no freeze and is not."
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
        Example(
            """
            import torch

            text_encoder.to(dtype=torch.float16)
            params = []
            for name, param in text_encoder.named_parameters():
                if "token_embedding" in name:
                    param = param.to(dtype=torch.float32)  # a new fp32 tensor: the model keeps its fp16 one
                    param.requires_grad = True  # expect: FZ105
                    params.append(param)
            optimizer = torch.optim.AdamW(params, lr=1e-3)
            """,
            instead="""
            import torch

            text_encoder.to(dtype=torch.float16)
            params = []
            for name, param in text_encoder.named_parameters():
                if "token_embedding" in name:
                    param.data = param.to(dtype=torch.float32)  # the parameter itself, cast in place
                    param.requires_grad = True
                    params.append(param)
            optimizer = torch.optim.AdamW(params, lr=1e-3)
            """,
        ),
        Example(
            """
            for name, param in model.named_parameters():
                if name.startswith("encoder."):
                    frozen = param.detach()  # a new tensor, dropped after the next line
                    frozen.requires_grad = False  # expect: FZ105
            """,
            instead="""
            for name, param in model.named_parameters():
                if name.startswith("encoder."):
                    param.requires_grad = False
            """,
        ),
        Example(
            """
            import torch.nn as nn

            class Detector(nn.Module):
                def __init__(self, num_queries):
                    super().__init__()
                    self.query_embedding = nn.Embedding(num_queries, 4)
                    self.query_embedding.weight.data[:, :2].requires_grad = False  # expect: FZ105
                    self.query_embedding.weight.data.requires_grad = False  # expect: FZ105
            """,
            instead="""
            import torch.nn as nn

            class Detector(nn.Module):
                def __init__(self, num_queries):
                    super().__init__()
                    self.query_embedding = nn.Embedding(num_queries, 4)
                    self.query_embedding.weight.requires_grad = False
            """,
        ),
    ]
    good = [
        """
        def step(model, transform, lr):
            for param in model.parameters():
                if param.grad is not None:
                    grad = param.grad.detach()  # a gradient, an input to the update: no parameter
                    grad.requires_grad = False
                    param.update = -lr * transform(grad)
        """,
        """
        import torch

        masters = []
        for p in model.parameters():
            master = p.float()  # fp32 master weights, a copy on purpose under its own name
            master.requires_grad = True
            masters.append(master)
        for x, y in loader:
            x = x.to(device)  # a batch, not a parameter
            x.requires_grad = True
        """,
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
        # an EMA shadow: a copy kept under its own name, meant to be grad-free; no attempt to freeze `p`
        """
        class EMA:
            def __init__(self, model):
                self.shadow = {}
                for name, p in model.named_parameters():
                    shadow = p.detach().clone()
                    shadow.requires_grad = False
                    self.shadow[name] = shadow
        """,
        """
        import torch.nn as nn

        emb = nn.Embedding(300, 4)
        emb.weight.data[:, :2].uniform_(0, 1)  # .data written in place: an initialisation, no freeze
        emb.weight.data = emb.weight.data.half()
        for p in emb.parameters():
            p.data.copy_(p.data.clamp(-1, 1))
        xy = emb.weight.data[:, :2]  # a copy with a name of its own, handed on below
        xy.requires_grad = False
        anchors = [xy]
        """,
    ]

    def check(self, facts: Facts, module) -> Iterable[Finding]:
        casts = _rebound_casts(module) if re.search(_CAST_CALL, facts.code) else {}
        for store in facts.attr_stores:
            if store.attr == "requires_grad" and store.form != "augassign":
                yield from self._report(facts, store.obj, store.value, store.attr_node, store.ctx, casts)
        for mc in facts.method_calls:
            if mc.method == "requires_grad_" and (id(mc.obj) in casts or mc.call.args and _is_false(mc.call.args[0].value)):
                value = mc.call.args[0].value if mc.call.args else cst.Name("True")
                yield from self._report(facts, mc.obj, value, mc.call, mc.ctx, casts, _named(mc.call, mc.ctx))

    def _report(self, facts: Facts, obj, value, node, ctx, casts: dict[int, tuple[str, str]],
                named: cst.Name | None = None) -> Iterable[Finding]:
        data = _of_data(facts, obj, ctx)
        if data is not None:
            yield self._data_finding(obj, data, value, node, ctx)
            return
        kind = facts.kind(obj, ctx)
        cast = casts.get(id(obj))
        if cast is not None and _loop_param(facts, cast[1], ctx):  # `param = param.to(...)` before, in the block
            kind = Kind(COPY, origin=cast[0])
        if kind is None or kind.tag != COPY:
            return
        if kind.origin in _CAST_ORIGINS:
            yield self.finding(
                node,
                f"`{src(obj)}` comes from a cast of the parameter (`{kind.origin}`), a new tensor whenever the dtype "
                f"or device changes (a model cast to fp16/bf16 and a parameter cast back to float32): setting "
                f"requires_grad on it {does_nothing(value)} on the model's parameter, and an optimizer given it "
                f"trains the copy; cast the parameter itself (`param.data = param.to(...)`) and set "
                f"requires_grad on it",
                ctx,
            )
            return
        if kind.origin not in _ANY_VALUE_ORIGINS and not _is_false(value):
            return
        if kind.origin not in _MODEL_WEIGHTS and (_kept(facts, obj, ctx) or named is not None and _kept(facts, named, ctx)):
            return  # a copy made to be a tensor of its own (an EMA shadow, a frozen reference): meant grad-free
        origin = kind.origin or "a copy"
        yield self.finding(
            node,
            f"`{src(obj)}` comes from {origin}, a tensor separate from the model's parameter: setting "
            f"requires_grad on it {does_nothing(value)}; set it on the parameter (e.g. via "
            f"`model.named_parameters()`)",
            ctx,
        )


    def _data_finding(self, obj, data: cst.Attribute, value, node, ctx) -> Finding:
        param = src(data.value)
        if obj is data:
            return self.finding(
                node,
                f"`{src(obj)}` is a new tensor each time `.data` is read, separate from the parameter "
                f"`{param}`: setting requires_grad on it {does_nothing(value)}; set it on the parameter "
                f"(`{param}.requires_grad = {value_src(value)}`)",
                ctx,
            )
        return self.finding(
            node,
            f"`{src(obj)}` is a slice of `{src(data)}`, a new tensor separate from the parameter `{param}`: "
            f"setting requires_grad on it {does_nothing(value)}, and a parameter has one flag for all its "
            f"entries; set `{param}.requires_grad` for all of it, or keep those entries fixed by zeroing "
            f"their gradient (`{param}.register_hook(...)`)",
            ctx,
        )


# Attributes by which nn layers hold their Parameters: `emb.weight` of a Module is a Parameter.
_PARAM_ATTRS = frozenset({"weight", "bias", "in_proj_weight", "in_proj_bias"})


def _of_data(facts: Facts, obj: cst.BaseExpression, ctx) -> cst.Attribute | None:
    """`p.data` itself, or a slice of it (`emb.weight.data[:, :2]`), with `p` a parameter (known
    as one, or `weight`/`bias` of a Module), without a name: the `.data` read the store is on.
    Named copies are the kinds' (`_kept`); `.data` of other objects may be a field of their own
    (a PackedSequence's)."""
    inner = obj
    while isinstance(inner, cst.Subscript):
        inner = inner.value
    if not (isinstance(inner, cst.Attribute) and inner.attr.value == "data"):
        return None
    base = inner.value
    kind = facts.kind(base, ctx)
    if kind is not None and kind.tag == PARAM:
        return inner
    if isinstance(base, cst.Attribute) and base.attr.value in _PARAM_ATTRS:
        owner = facts.kind(base.value, ctx)
        if owner is not None and owner.tag == MODULE and kind is None:
            return inner
    return None


def _named(call: cst.Call, ctx) -> cst.Name | None:
    """The name `x = <copy>.requires_grad_(False)` binds: requires_grad_ returns the tensor itself, so
    the copy is kept under that name (`spec = spec.detach().requires_grad_(False)`)."""
    stmt = ctx.stmt
    if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1:
        small = stmt.body[0]
        if isinstance(small, cst.Assign) and small.value is call and len(small.targets) == 1 \
                and isinstance(small.targets[0].target, cst.Name):
            return small.targets[0].target
    return None


def _kept(facts: Facts, obj: cst.BaseExpression, ctx) -> bool:
    """`shadow = p.detach().clone(); shadow.requires_grad = False; self.shadow[name] = shadow`: the copy
    has a name that is read after the statement (stored, returned, passed on), so it is kept as a
    tensor of its own. A copy flagged and then dropped, or one without a name, is the freezing mistake."""
    if not isinstance(obj, cst.Name):
        return False
    body = ctx.scope.node if ctx.scope.node is not None else facts.module
    flags = {id(n.value) for n in syntax_walk(body) if isinstance(n, cst.Attribute)
             and n.attr.value in ("requires_grad", "requires_grad_") and isinstance(n.value, cst.Name)}
    rebinds = {id(t.target) for n in syntax_walk(body) if isinstance(n, cst.Assign) for t in n.targets}
    rebinds |= {id(n.target) for n in syntax_walk(body) if isinstance(n, (cst.For, cst.CompFor))}
    inside = {id(n) for n in syntax_walk(ctx.stmt)}
    seen = False
    for n in syntax_walk(body):
        if n is ctx.stmt:
            seen = True
        elif seen and id(n) not in inside and isinstance(n, cst.Name) and n.value == obj.value \
                and id(n) not in flags and id(n) not in rebinds:
            return True
    return False


def _rebound_casts(module: cst.Module) -> dict[int, tuple[str, str]]:
    """`param = param.to(dtype=torch.float32)` then `param.requires_grad = True` later in the same
    block: a name's kind is that of all its bindings (a loop's parameter and the cast disagree), so
    the order is read here. Maps the id of each Name read after such an assignment in its block
    (before the name is bound again) to the cast's origin and the name cast (`check` confirms that
    it names the model's parameters)."""
    out: dict[int, tuple[str, str]] = {}
    for block in syntax_walk(module):
        if not isinstance(block, (cst.IndentedBlock, cst.Module)):
            continue
        cast: dict[str, tuple[str, str]] = {}  # name -> (origin, receiver), from its latest binding here
        for stmt in block.body:
            for node in syntax_walk(stmt):
                if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value in cast:
                    out[id(node.value)] = cast[node.value.value]
            if not isinstance(stmt, cst.SimpleStatementLine):
                cast.clear()  # a compound statement may bind anything: start again after it
                continue
            for small in stmt.body:
                if isinstance(small, cst.Assign) and len(small.targets) == 1 \
                        and isinstance(small.targets[0].target, cst.Name):
                    name, value = small.targets[0].target.value, small.value
                    cast.pop(name, None)
                    if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) \
                            and value.func.attr.value in _CASTS and isinstance(value.func.value, cst.Name) \
                            and value.func.value.value == name:  # the parameter's own name, rebound
                        cast[name] = (f".{value.func.attr.value}()", value.func.value.value)
    return out


def _loop_param(facts: Facts, name: str, ctx) -> bool:
    """`name` is bound by a loop over the model's parameters (`for n, param in model.named_parameters()`)."""
    return any(b.how == "iter" and k is not None and k.tag == PARAM
               for b, k in facts.kinds.binding_kinds(name, ctx.scope))
