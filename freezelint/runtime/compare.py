"""What changed, read from the copies the audit keeps anyway, while they are written back.

A tensor the audit may have to restore (a trainable parameter in the optimizer, every buffer,
a frozen parameter a step was about to change) is copied before it can change, so it needs no
fingerprint: one pass over the tensor and its copy says whether the bits differ, how large the
change is, and puts the copy back — chunk by chunk, so the write-back reads what the comparison
just brought into cache, and a tensor whose bits did not change is not written at all.

Bits are compared as integers, so a signed zero or a NaN payload counts as a change and an
unchanged NaN does not; the size is the largest absolute difference of the values.
"""

from __future__ import annotations

import torch

from freezelint.runtime.fingerprint import as_ints, sparse_parts
from freezelint.runtime.fsdp import local

# Tensors up to this many elements are handled together, a handful of ops per batch of them:
# BatchNorm statistics and biases cost per-op overhead, not bandwidth. Larger ones one by one,
# in chunks, so no temporary grows with the tensor.
BATCHED = 1 << 15
BATCH_LIMIT = 1024  # tensors per foreach call
CHUNK = 1 << 18


def _diff(x: torch.Tensor, y: torch.Tensor, scratch: torch.Tensor | None) -> torch.Tensor:
    if scratch is not None:
        return torch.sub(x, y, out=scratch[: x.numel()])
    if x.is_complex():
        return torch.sub(x, y).abs()
    return torch.sub(x.to(torch.float64), y.to(torch.float64))


def _swapped(t: torch.Tensor, saved: torch.Tensor) -> bool:
    """`p.data = ...` gave t another shape, dtype or device: its copy goes back as its data."""
    return (t.shape, t.dtype, t.device, t.layout) != (saved.shape, saved.dtype, saved.device, saved.layout)


def _put_back_swapped(t: torch.Tensor, saved: torch.Tensor) -> None:
    t.data = saved.clone()  # not a view of a block of copies: that would keep the block alive


@torch.no_grad()
def copy_back(pairs: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
    """Write each copy back into its tensor, in one foreach call for all that kept their layout."""
    pairs = [(local(t), saved) for t, saved in pairs]  # copies of DTensors are of their shards
    same = [(t, saved) for t, saved in pairs if not _swapped(t, saved) and t.layout == torch.strided]
    if same:
        torch._foreach_copy_([t for t, _ in same], [saved for _, saved in same])
    for t, saved in pairs:
        if _swapped(t, saved):
            _put_back_swapped(t, saved)
        elif t.layout != torch.strided:  # a sparse grad: no foreach copy for it
            t.copy_(saved)


def scratch_bytes(pairs: list[tuple[torch.Tensor, torch.Tensor]]) -> int:
    """An upper bound on what restore_measured allocates besides its result: the differences of
    the batched tensors, and one chunk of the largest other one."""
    pairs = [(local(t), saved) for t, saved in pairs]
    pairs = [(t, saved) for t, saved in pairs if t.layout == torch.strided]  # sparse: no scratch
    batched = [t for t, _ in pairs if t.numel() <= BATCHED and not t.is_complex()]
    large = [t for t, _ in pairs if t.numel() > BATCHED or t.is_complex()]
    chunk = max((min(CHUNK, t.numel()) * 8 for t in large), default=0)  # float64 at most
    return sum(t.numel() * 8 for t in batched) + chunk


@torch.no_grad()
def restore_measured(pairs: list[tuple[torch.Tensor, torch.Tensor]]) -> list[float | None]:
    """Put each copy back into its tensor and say, per (tensor, copy) pair, what the tensor held
    before that: None when its bits were the copy's, else max |tensor - copy| (nan where a value
    is or became NaN, or the shape or dtype was swapped)."""
    pairs = [(local(t), saved) for t, saved in pairs]  # copies of DTensors are of their shards
    out: list[float | None] = [None] * len(pairs)
    batches: dict[tuple, list[int]] = {}
    large: dict[torch.device, list[tuple[int, torch.Tensor]]] = {}
    for i, (t, saved) in enumerate(pairs):
        if _swapped(t, saved):
            out[i] = float("nan")
            _put_back_swapped(t, saved)
        elif t.layout != torch.strided:
            out[i] = _restore_sparse(t, saved)
        elif t.numel() <= BATCHED and not t.is_complex():
            if t.numel():
                batches.setdefault((t.device, t.dtype), []).append(i)
        elif not torch.equal(as_ints(t), as_ints(saved)):
            large.setdefault(t.device, []).append((i, _restore_large(t.detach(), saved)))
    for items in large.values():  # one transfer per device
        for (i, _), size in zip(items, torch.stack([s for _, s in items]).cpu().tolist()):
            out[i] = size
    for members in batches.values():
        for start in range(0, len(members), BATCH_LIMIT):
            chunk = members[start:start + BATCH_LIMIT]
            for i, size in zip(chunk, _restore_batch([pairs[i] for i in chunk])):
                out[i] = size
    return out


def _restore_sparse(t: torch.Tensor, saved: torch.Tensor) -> float | None:
    """A sparse tensor (rare): compared part by part; sized by its values where its indices kept
    their bits, else nan; put back with copy_ on the tensor itself (a sparse detach() would take
    the new parts alone)."""
    now, then = sparse_parts(t), sparse_parts(saved)
    same = [x.shape == y.shape and x.dtype == y.dtype and torch.equal(as_ints(x), as_ints(y))
            for x, y in zip(now, then)]
    if len(now) == len(then) and all(same):
        return None
    values, old = now[-1], then[-1]
    if all(same[:-1]) and values.shape == old.shape and values.numel():
        size = _diff(values, old, None).abs().max().to(torch.float64).item()
    else:
        size = float("nan")
    t.copy_(saved)
    return size


def _restore_large(t: torch.Tensor, saved: torch.Tensor) -> torch.Tensor:
    """max |t - saved| (float64, on the device, nan if any difference is), then t = saved,
    chunk by chunk."""
    if not t.is_contiguous():  # rare: no flat view of its storage to walk in chunks
        size = _diff(t, saved, None).abs().max().to(torch.float64)
        t.copy_(saved)
        return size
    a, b = t.view(-1), saved.reshape(-1)
    scratch = torch.empty(min(CHUNK, a.numel()), dtype=t.dtype, device=t.device) if t.is_floating_point() else None
    parts = []
    for s in range(0, a.numel(), CHUNK):
        x, y = a[s:s + CHUNK], b[s:s + CHUNK]
        parts.append(torch.stack(torch.aminmax(_diff(x, y, scratch))))  # one pass, no abs
        x.copy_(y)
    ends = torch.stack(parts).to(torch.float64)
    return torch.maximum(-ends[:, 0].min(), ends[:, 1].max())  # maximum keeps a nan


def _restore_batch(pairs: list[tuple[torch.Tensor, torch.Tensor]]) -> list[float | None]:
    """Small tensors of one device and dtype: their sizes of change in a few foreach calls and
    one transfer, the bits checked only where the size cannot tell (0: a signed zero may have
    flipped; nan: a NaN may be unchanged); then every copy goes back in one call."""
    tensors = [t.detach() for t, _ in pairs]
    saved = [s for _, s in pairs]
    # int64: counters (num_batches_tracked), far from wrapping. max(abs) is faster than norm(inf).
    if tensors[0].is_floating_point() or tensors[0].dtype == torch.int64:
        diffs = torch._foreach_sub(tensors, saved)
        torch._foreach_abs_(diffs)
        found = torch._foreach_max(diffs)
    else:
        found = [_diff(t, s, None).abs().max() for t, s in zip(tensors, saved)]
    sizes: list[float | None] = list(torch.stack(found).to(torch.float64).cpu().tolist())
    unclear = [j for j, size in enumerate(sizes) if not size > 0]
    # the usual case, every one of them unchanged, takes one comparison for all
    same_bits = bool(unclear) and torch.equal(torch.cat([as_ints(tensors[j]) for j in unclear]),
                                              torch.cat([as_ints(saved[j]) for j in unclear]))
    for j in unclear:
        if same_bits or torch.equal(as_ints(tensors[j]), as_ints(saved[j])):
            sizes[j] = None
    torch._foreach_copy_(tensors, saved)
    return sizes
