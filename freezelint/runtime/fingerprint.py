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
    rows = n // _COLS
    total = torch.zeros((), dtype=torch.int64, device=t.device)
    weighted = torch.zeros((), dtype=torch.int64, device=t.device)
    if rows:
        grid = flat[: rows * _COLS].view(rows, _COLS)
        row_sums = grid.sum(dim=1, dtype=torch.int64)
        col_sums = grid.sum(dim=0, dtype=torch.int64)
        total = col_sums.sum()  # the plain sum, without another pass over the data
        row_w = torch.arange(rows, dtype=torch.int64, device=t.device) * _COLS
        col_w = torch.arange(1, _COLS + 1, dtype=torch.int64, device=t.device)
        # sum_i x_i * (i + 1) with i = r * COLS + c  ==  sum_r rowsum_r * r * COLS + sum_c colsum_c * (c + 1)
        weighted = (row_sums * row_w).sum() + (col_sums * col_w).sum()
    tail = flat[rows * _COLS:]
    if tail.numel():
        tail64 = tail.to(torch.int64)
        pos = torch.arange(rows * _COLS + 1, n + 1, dtype=torch.int64, device=t.device)
        total = total + tail64.sum()
        weighted = weighted + (tail64 * pos).sum()
    return torch.stack([total, weighted])


# Tensors up to this size are fingerprinted together, a handful of ops for all of them:
# per-tensor op overhead, not bandwidth, is what small tensors (norm weights, biases,
# running statistics) cost. Their int64 copy is at most SMALL * 8 bytes each.
SMALL = 1 << 14


def _small_group(tensors: list[torch.Tensor]) -> torch.Tensor:
    """[k, 2] fingerprints of small tensors, by segment sums over one concatenation."""
    flats = [_as_ints(t).to(torch.int64) for t in tensors]
    device = flats[0].device
    lengths = torch.tensor([f.numel() for f in flats], device=device)
    data = torch.cat(flats)
    seg = torch.repeat_interleave(torch.arange(len(flats), device=device), lengths)
    starts = torch.cumsum(lengths, 0) - lengths
    pos = torch.arange(data.numel(), dtype=torch.int64, device=device) - starts[seg] + 1
    out = torch.zeros(len(flats), 2, dtype=torch.int64, device=device)
    out[:, 0].index_add_(0, seg, data)
    out[:, 1].index_add_(0, seg, data * pos)
    return out


def fingerprints(tensors: list[torch.Tensor]) -> list[tuple[int, int]]:
    """Fingerprints of many tensors, with one transfer per device."""
    out: list[tuple[int, int]] = [(0, 0)] * len(tensors)
    small: dict[torch.device, list[int]] = {}
    large: dict[torch.device, list[int]] = {}
    for i, t in enumerate(tensors):
        if t.device.type == "meta" or t.numel() == 0:
            continue
        (small if t.numel() <= SMALL else large).setdefault(t.device, []).append(i)
    for device in {*small, *large}:
        parts, idx = [], []
        if small.get(device):
            parts.append(_small_group([tensors[i] for i in small[device]]))
            idx.extend(small[device])
        if large.get(device):
            parts.append(torch.stack([fingerprint(tensors[i]) for i in large[device]]))
            idx.extend(large[device])
        for i, (a, b) in zip(idx, torch.cat(parts).cpu().tolist()):
            out[i] = (a, b)
    return out
