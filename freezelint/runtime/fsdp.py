"""Sharded models: FSDP2 (`fully_shard`) and FSDP1 (`FullyShardedDataParallel(use_orig_params=True)`).

Each rank holds a shard of every parameter: with FSDP2 a DTensor whose local tensor is this
rank's rows, with FSDP1 a flat view of this rank's part of a flat parameter (possibly empty).
The audit fingerprints, copies and restores that local shard (`local()`), never the DTensor
itself: DTensor ops such as `equal` or `count_nonzero` would run collectives, and a collective
entered on some ranks only hangs the job. Bits on a rank are that rank's business; what a
parameter did is agreed across ranks from the records of all of them (`merge_records`: it
changed if any shard changed).

What must agree *before* a step (PYTORCH_FACTS.md, "Distributed and compiled"): FSDP2
reduce-scatters the gradients of the parameters that got one, so a requires_grad that differs
across ranks makes the first backward wait in a collective until the process group's timeout.
`requires_grad_disagreement()` finds that from one gather, and the audit then runs no step.
Unfreezing after `fully_shard` is fine in FSDP2 (it trains), so FZ306 is not carried over.

Functions here are what a watcher of real training steps needs too: `local()` and
`shard_fingerprints()` per rank, `gather_rank_flags()` before the first backward judged by
`requires_grad_disagreement()` (worded by `distributed.fz507`), and `merge_records()` for
records judged per shard.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from freezelint.runtime.report import ParamRecord

_FSDP1 = "FullyShardedDataParallel"
_FSDP1_PREFIX = "_fsdp_wrapped_module"


def _dtensor() -> type | None:
    """DTensor, once something has imported it (no DTensor can exist before that)."""
    mod = sys.modules.get("torch.distributed.tensor")
    return getattr(mod, "DTensor", None) if mod is not None else None


def local(t: Any) -> Any:
    """The tensor holding t's bits on this rank: a DTensor's local shard, else t itself. The
    shard is the storage FSDP2 all-gathers from, so writing into it writes the parameter."""
    cls = _dtensor()
    if cls is not None and isinstance(t, cls):
        return t._local_tensor
    return t



def nonzero_counts(tensors: list[torch.Tensor]) -> list[int]:
    """The non-zero elements of each tensor's shard on this rank, in one read back (counting a
    DTensor's whole would be a collective)."""
    return torch.stack([torch.count_nonzero(local(t)).cpu() for t in tensors]).tolist() if tensors else []

def is_sharded(t: torch.Tensor) -> bool:
    """A DTensor sharded over its mesh (each rank holds different rows)."""
    cls = _dtensor()
    return cls is not None and isinstance(t, cls) and any(p.is_shard() for p in t.placements)


def shard_key(t: torch.Tensor) -> tuple[int, ...] | None:
    """Which shard of a sharded DTensor this rank holds: its mesh coordinates along the sharded
    dimensions. Ranks with the same key hold the same bits by design (HSDP replicas); None when
    t is not sharded."""
    if not is_sharded(t):
        return None
    coord = t.device_mesh.get_coordinate() or ()
    return tuple(c for c, placement in zip(coord, t.placements) if placement.is_shard())


_KIND: dict[type, int | None] = {}  # by class: 2 (an FSDPModule), 1 (FullyShardedDataParallel) or None


def _kind(cls: type) -> int | None:
    known = _KIND.get(cls, 0)
    if known == 0:
        if len(_KIND) > 4096:  # classes made on the fly are not kept alive for ever
            _KIND.clear()
        names = {c.__name__ for c in cls.__mro__}
        known = _KIND[cls] = 2 if "FSDPModule" in names else 1 if _FSDP1 in names else None
    return known


def version(modules: Iterable[nn.Module]) -> int | None:
    """2 for a model with `fully_shard` units, 1 for FullyShardedDataParallel, None otherwise."""
    found = None
    for m in modules:
        kind = _kind(type(m))
        if kind == 2:
            return 2
        if kind == 1:
            found = 1
    return found


def is_fsdp1_wrapper(m: nn.Module) -> bool:
    return _kind(type(m)) == 1


def unsupported(modules: list[nn.Module]) -> str | None:
    """Why the audit cannot run on this sharded model (one line), or None."""
    flat = [m for m in modules if is_fsdp1_wrapper(m) and not getattr(m, "_use_orig_params", True)]
    if flat:
        return ("FullyShardedDataParallel without use_orig_params=True is not supported: its parameters are "
                "merged into flat parameters, so requires_grad and values cannot be told apart per parameter; "
                "wrap with use_orig_params=True or use fully_shard (FSDP2)")
    return None


def clean_name(name: str) -> str:
    """A name as the unwrapped model has it: FSDP1's `_fsdp_wrapped_module` levels removed."""
    if _FSDP1_PREFIX not in name:
        return name
    return ".".join(part for part in name.split(".") if part != _FSDP1_PREFIX)


def fsdp1_shapes(model: nn.Module) -> dict[str, tuple[int, ...]]:
    """FSDP1 keeps each original parameter as a flat view of this rank's part: its real shape,
    by clean name, from the flat parameters' records (private fields; empty when missing)."""
    out: dict[str, tuple[int, ...]] = {}
    for prefix, handle in _handles(model):
        flat = getattr(handle, "flat_param", None)
        for fqn, shape in zip(getattr(flat, "_fqns", ()), getattr(flat, "_shapes", ())):
            out[clean_name(f"{prefix}.{fqn}" if prefix else fqn)] = tuple(shape)
    return out


def _handles(model: nn.Module) -> list[tuple[str, Any]]:
    """(wrapper's name, its FlatParamHandle) for every FSDP1 wrapper in the model."""
    return [(prefix, m._handle) for prefix, m in model.named_modules()
            if is_fsdp1_wrapper(m) and getattr(m, "_handle", None) is not None]


def fsdp1_sharded(model: nn.Module, named: list[tuple[str, nn.Parameter]]) -> set[str]:
    """Parameters FSDP1 shards (views of a flat parameter), by the names in `named`. Without
    FSDP1's private records every parameter counts as sharded: comparing shards across ranks
    would report a divergence that is not there."""
    handles = _handles(model)
    managed = set()
    for _, handle in handles:
        if not getattr(handle, "uses_sharded_strategy", True):  # NO_SHARD: every rank holds all of it
            continue
        params = getattr(getattr(handle, "flat_param", None), "_params", None)
        if params is None:
            return {n for n, _ in named}
        managed.update(id(p) for p in params)
    return {n for n, p in named if id(p) in managed} if handles else {n for n, _ in named}


def process_group(named: list[tuple[str, nn.Parameter]]) -> Any:
    """The group a 1-D FSDP2 mesh shards over; None (the default group) otherwise."""
    for _, p in named:
        mesh = getattr(p, "device_mesh", None)
        if mesh is not None:
            return mesh.get_group() if mesh.ndim == 1 else None
    return None


def reshard(model: nn.Module) -> None:
    """Put every FSDP2 unit back in its sharded state (a step that raised may have left some
    unsharded: all-gathered parameters registered on the modules)."""
    for m in model.modules():
        if any(c.__name__ == "FSDPModule" for c in type(m).__mro__):
            m.reshard()


def shard_fingerprints(tensors: list[torch.Tensor]) -> list[tuple]:
    """Fingerprints of this rank's shards of `tensors` (plain tensors are their own shard; a
    `fingerprint.Fingerprinter` of them takes them again and again, re-reading the shards)."""
    from freezelint.runtime.fingerprint import fingerprints

    return fingerprints(tensors)


# ---------------------------------------------------------------------- agreement across ranks
@dataclass
class RankFlags:
    """What one rank holds before a step: every parameter's name and requires_grad."""

    rank: int
    names: list[str]
    requires_grad: list[bool]


def rank_flags(rank: int, named: list[tuple[str, nn.Parameter]]) -> RankFlags:
    return RankFlags(rank, [n for n, _ in named], [p.requires_grad for _, p in named])


def gather_rank_flags(named: list[tuple[str, nn.Parameter]], group: Any = None) -> list[RankFlags]:
    """Every rank's RankFlags, by rank (one all_gather_object over `group`: every rank must call it,
    and before the backward that a disagreement would hang)."""
    import torch.distributed as dist

    out: list[Any] = [None] * dist.get_world_size(group)
    dist.all_gather_object(out, rank_flags(dist.get_rank(group), named), group=group)
    return sorted(out, key=lambda f: f.rank)


def requires_grad_disagreement(flags: list[RankFlags]) -> list[tuple[list[str], list[int], list[int]]]:
    """Parameters whose requires_grad differs across ranks, grouped by the pattern of ranks:
    (names, ranks where frozen, ranks where trainable)."""
    flags = sorted(flags, key=lambda f: f.rank)
    index = [dict(zip(f.names, f.requires_grad)) for f in flags]
    mixed: dict[tuple, list[str]] = {}
    for n in flags[0].names:
        if not all(n in ix for ix in index):
            continue
        pattern = tuple(ix[n] for ix in index)
        if len(set(pattern)) > 1:
            mixed.setdefault(pattern, []).append(n)
    ranks = [f.rank for f in flags]
    return [([*ns], [r for r, f in zip(ranks, pattern) if not f], [r for r, f in zip(ranks, pattern) if f])
            for pattern, ns in mixed.items()]


_GRADS = {"none": 0, "zero": 1, "nonzero": 2}


def merge_records(per_rank: list[list[ParamRecord]]) -> list[ParamRecord]:
    """One record per parameter from every rank's, for parameters judged per shard: it changed
    if its shard changed on any rank (by the largest change seen), its grad is the most telling
    any rank saw, it has optimizer state if any rank holds some, its update was written back if
    every changed shard's was. Every rank computes the same result from the same gathered records. (Buffers are not sharded: each rank judges its own.)"""
    pindex = [{r.name: r for r in ps} for ps in per_rank]
    merged_p = []
    for rec in per_rank[0]:
        seen = [ix[rec.name] for ix in pindex if rec.name in ix]
        deltas = [r.max_abs_delta for r in seen if r.changed and r.max_abs_delta is not None]
        merged_p.append(replace(rec, changed=any(r.changed for r in seen),
                                max_abs_delta=max(deltas) if deltas else None,
                                grad=max((r.grad for r in seen), key=_GRADS.__getitem__),
                                has_state=any(r.has_state for r in seen),
                                # written back only where every shard that changed was
                                written_back=ws[0] if (ws := [r.written_back for r in seen if r.changed])
                                and all(ws) else ()))
    return merged_p
