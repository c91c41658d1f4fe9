"""A small synthetic batch for a model, and the default loss over whatever it returns."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import nn

from freezelint.runtime.errors import AuditUsageError

BATCH = 2


# Kept for code that caught it: a missing input is the audit's one usage error.
InputError = AuditUsageError


def _float_dtype(model: nn.Module) -> torch.dtype:
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.get_default_dtype()


def _device(model: nn.Module) -> torch.device:
    for t in [*model.parameters(), *model.buffers()]:
        return t.device
    return torch.device("cpu")


def _image_size(model: nn.Module) -> int | None:
    """Input size a classifier insists on (torchvision ViT, timm pretrained configs)."""
    size = getattr(model, "image_size", None)
    if isinstance(size, int):
        return size
    for attr in ("pretrained_cfg", "default_cfg"):
        cfg = getattr(model, attr, None)
        if isinstance(cfg, dict) and isinstance(cfg.get("input_size"), (tuple, list)):
            return int(cfg["input_size"][-1])
    return None


def synthesize(model: nn.Module, image_size: int = 64, seed: int = 0) -> Any:
    """An input for the model's first layer, on its device and in its dtype, from its own generator
    (the global RNG is not touched). DDP ranks pass their rank: real data differs across ranks."""
    device, dtype = _device(model), _float_dtype(model)
    size = _image_size(model) or image_size
    gen = torch.Generator(device="cpu").manual_seed(seed)

    def randn(*shape):
        return torch.randn(*shape, generator=gen).to(device=device, dtype=dtype)

    for _name, m in model.named_modules():
        if isinstance(m, (nn.TransformerEncoderLayer, nn.TransformerDecoderLayer, nn.TransformerEncoder,
                          nn.Transformer)):
            layer = m.layers[0] if isinstance(m, nn.TransformerEncoder) else m
            if isinstance(layer, nn.Transformer):
                d, first = layer.d_model, layer.batch_first
                src = randn(BATCH, 8, d) if first else randn(8, BATCH, d)
                return (src, src.clone())
            d = layer.self_attn.embed_dim
            return randn(BATCH, 8, d) if layer.self_attn.batch_first else randn(8, BATCH, d)
        if isinstance(m, nn.Conv1d):
            return randn(BATCH, m.in_channels, size)
        if isinstance(m, nn.Conv2d):
            return randn(BATCH, m.in_channels, size, size)
        if isinstance(m, nn.Conv3d):
            return randn(BATCH, m.in_channels, 16, size // 4 or 16, size // 4 or 16)
        if isinstance(m, nn.Linear):
            return randn(BATCH, m.in_features)
        if isinstance(m, (nn.Embedding, nn.EmbeddingBag)):
            idx = torch.randint(0, m.num_embeddings, (BATCH, 8), generator=gen)
            return idx.to(device)
        if isinstance(m, nn.RNNBase):
            steps = 8
            return randn(BATCH, steps, m.input_size) if m.batch_first else randn(steps, BATCH, m.input_size)
    raise AuditUsageError(
        f"cannot build an input for {type(model).__name__}: no Conv, Linear, Embedding or RNN layer "
        f"to read a shape from; pass batch=... (a tensor, a tuple of positional args, or a dict of "
        f"keyword args)"
    )


def call(model: nn.Module, batch: Any) -> Any:
    if isinstance(batch, dict):
        return model(**batch)
    if isinstance(batch, (tuple, list)):
        return model(*batch)
    return model(batch)


def floating_tensors(out: Any, _depth: int = 0) -> list[torch.Tensor]:
    """Every floating tensor in a model output: tensors, tuples, lists, dicts, dataclasses."""
    if _depth > 8:
        return []
    if isinstance(out, torch.Tensor):
        return [out] if out.is_floating_point() or out.is_complex() else []
    if isinstance(out, dict):
        items = list(out.values())
    elif isinstance(out, (tuple, list)):
        items = list(out)
    elif dataclasses.is_dataclass(out) and not isinstance(out, type):
        items = [getattr(out, f.name) for f in dataclasses.fields(out)]
    elif hasattr(out, "__dict__"):
        items = list(vars(out).values())
    else:
        return []
    found: list[torch.Tensor] = []
    for item in items:
        found.extend(floating_tensors(item, _depth + 1))
    return found


def default_loss(out: Any) -> torch.Tensor:
    """Mean of squares of every floating output: a gradient reaches everything that is used."""
    tensors = [t for t in floating_tensors(out) if t.requires_grad]
    if not tensors:
        raise AuditUsageError("the model output has no floating tensor that requires grad, so no step can "
                         "train anything; pass loss_fn=... or check that some parameter is trainable")
    total = tensors[0].real.float().pow(2).mean()
    for t in tensors[1:]:
        total = total + t.real.float().pow(2).mean()
    return total
