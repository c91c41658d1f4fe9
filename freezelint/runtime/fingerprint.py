"""Bit-exact change detection without copying the model.

A tensor's fingerprint is two int64 numbers computed on its own device from its bit pattern:
the plain sum of the elements read as integers, and a sum weighted by (position + 1). Float sums
miss 1-ulp changes and `0.0 -> -0.0`, and `torch.equal` calls identical NaNs different; the
integer sum catches every single-element change (NaN payloads and signed zeros included) in any
reduction order, and the weighted sum catches permutations. Sums wrap modulo 2**64, which is
associative, so the result does not depend on how the reduction is split.

The weighted sum is computed as row and column sums of a (rows, 256) view, so no temporary of
the tensor's size is ever made: `sum` of an int32 view accumulates in int64 by itself.
"""

from __future__ import annotations

import torch

_COLS = 256

_INT_VIEW = {
    torch.float32: torch.int32,
    torch.float64: torch.int64,
    torch.float16: torch.int16,
    torch.bfloat16: torch.int16,
    torch.complex64: torch.int32,
    torch.complex128: torch.int64,
    torch.bool: torch.uint8,
}
for _name in ("float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz"):
    if hasattr(torch, _name):
        _INT_VIEW[getattr(torch, _name)] = torch.uint8


def _as_ints(t: torch.Tensor) -> torch.Tensor:
    t = t.detach()
    if t.is_complex():
        t = torch.view_as_real(t)
    if not t.is_contiguous():
        t = t.contiguous()
    target = _INT_VIEW.get(t.dtype)
    if target is not None:
        t = t.view(target)
    return t.reshape(-1)


def fingerprint(t: torch.Tensor) -> torch.Tensor:
    """int64 tensor [sum, weighted sum] on t's device; no device synchronisation."""
    flat = _as_ints(t)
    n = flat.numel()
    if n == 0:
        return torch.zeros(2, dtype=torch.int64, device=t.device)
    total = flat.sum(dtype=torch.int64)
    rows = n // _COLS
    weighted = torch.zeros((), dtype=torch.int64, device=t.device)
    if rows:
        grid = flat[: rows * _COLS].view(rows, _COLS)
        row_sums = grid.sum(dim=1, dtype=torch.int64)
        col_sums = grid.sum(dim=0, dtype=torch.int64)
        row_w = torch.arange(rows, dtype=torch.int64, device=t.device) * _COLS
        col_w = torch.arange(1, _COLS + 1, dtype=torch.int64, device=t.device)
        # sum_i x_i * (i + 1) with i = r * COLS + c  ==  sum_r rowsum_r * r * COLS + sum_c colsum_c * (c + 1)
        weighted = (row_sums * row_w).sum() + (col_sums * col_w).sum()
    tail = flat[rows * _COLS:]
    if tail.numel():
        pos = torch.arange(rows * _COLS + 1, n + 1, dtype=torch.int64, device=t.device)
        weighted = weighted + (tail.to(torch.int64) * pos).sum()
    return torch.stack([total, weighted])


def fingerprints(tensors: list[torch.Tensor]) -> list[tuple[int, int]]:
    """Fingerprints of many tensors, with one transfer per device."""
    by_device: dict[torch.device, list[int]] = {}
    prints: list[torch.Tensor | None] = []
    for i, t in enumerate(tensors):
        if t.device.type == "meta":
            prints.append(None)
            continue
        prints.append(fingerprint(t))
        by_device.setdefault(t.device, []).append(i)
    out: list[tuple[int, int]] = [(0, 0)] * len(tensors)
    for _device, idx in by_device.items():
        values = torch.stack([prints[i] for i in idx]).cpu().tolist()  # type: ignore[misc]
        for i, (a, b) in zip(idx, values):
            out[i] = (a, b)
    return out
