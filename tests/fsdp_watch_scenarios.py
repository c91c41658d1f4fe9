"""`watch()` on sharded models (FSDP2 `fully_shard`): real training loops on every rank of a small job.

Launched with `distributed_scenarios.launch(..., module="fsdp_watch_scenarios")`: each rank runs
every scenario's loop inside `freezelint.watch()` and writes the report it got to
`<out>/<scenario>.<rank>.json`, with the rank's shards after the loop and those of the same loop
run unwatched (watching must not change what training computes).
"""

from __future__ import annotations

import torch
from fsdp_scenarios import net, shard_units, trainable
from torch import nn

import freezelint


def _frozen_base(rank, device):
    # the fine-tune FSDP2 is for: base frozen before sharding, head trained, optimizer over the head
    m = net().to(device)
    m[:4].requires_grad_(False)
    shard_units(m)
    return m, torch.optim.AdamW(trainable(m), lr=1e-2), True


def _stale_grad(rank, device):
    # a backward before the freeze and zero_grad(set_to_none=False): AdamW's weight decay moves
    # the frozen layer's shards through their zero grads, on every rank
    from torch.distributed.fsdp import fully_shard

    m = net().to(device)
    fully_shard(m)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-2)
    m(torch.randn(4, 6, device=device)).sum().backward()
    opt.zero_grad(set_to_none=False)
    m[0].requires_grad_(False)
    return m, opt, False


def _unfreeze_after_shard(rank, device):
    # gradual unfreezing after fully_shard trains in FSDP2: no FZ306
    m = net().to(device)
    m[:4].requires_grad_(False)
    shard_units(m)
    opt = torch.optim.AdamW(trainable(m), lr=1e-2)
    m[3].requires_grad_(True)  # noqa: FZ306 — allowed with FSDP2, the point of the scenario
    opt.add_param_group({"params": list(m[3].parameters())})
    return m, opt, True


def _frozen_on_one_rank(rank, device):
    # a rank-dependent freeze: the first backward would wait in the reduce-scatter until timeout
    m = net().to(device)
    m[:3].requires_grad_(False)
    if rank == 1:
        m[3].requires_grad_(False)
    shard_units(m)
    return m, torch.optim.AdamW(trainable(m), lr=1e-2), True


def _sharded_inside_the_watch(rank, device):
    # a check forward of the plain model runs inside the watch, then the script freezes (rank-
    # dependently) and shards: the watch must still see the root is now FSDP2 and stop in time
    m = net().to(device)
    m[:3].requires_grad_(False)

    def prepare():
        m(torch.randn(2, 6, device=device)).sum()  # a forward with grad enabled, before fully_shard
        if rank == 1:
            m[3].requires_grad_(False)
        shard_units(m)
        return torch.optim.AdamW(trainable(m), lr=1e-2)

    return m, prepare, True


def _fsdp1_frozen_base(rank, device):
    # FSDP1 with use_orig_params=True: the same fine-tune, each parameter a view of a flat shard
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

    m = net().to(device)
    m[:4].requires_grad_(False)
    wrapped = FSDP(m, use_orig_params=True, device_id=device)
    return wrapped, torch.optim.AdamW(trainable(wrapped), lr=1e-2), True


def _fsdp1_stale_grad(rank, device):
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

    m = net().to(device)
    wrapped = FSDP(m, use_orig_params=True, device_id=device)
    opt = torch.optim.AdamW(wrapped.parameters(), lr=1e-2)
    wrapped(torch.randn(4, 6, device=device)).sum().backward()
    opt.zero_grad(set_to_none=False)
    m[0].requires_grad_(False)
    return wrapped, opt, False


def _fsdp1_flat_params(rank, device):
    # without use_orig_params: audit()'s one-line refusal, and training goes on unwatched
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

    m = net().to(device)  # a flat parameter needs one requires_grad for all it holds
    wrapped = FSDP(m, use_orig_params=False, device_id=device)
    return wrapped, torch.optim.AdamW(wrapped.parameters(), lr=1e-2), True


def _fsdp1_frozen_on_one_rank(rank, device):
    # FSDP1 does not hang on it (its reduce-scatter covers the whole flat parameter): the steps
    # run and the watch reports FZ507 after the window
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

    m = net().to(device)
    m[:3].requires_grad_(False)
    if rank == 1:
        m[3].requires_grad_(False)
    wrapped = FSDP(m, use_orig_params=True, device_id=device)
    return wrapped, torch.optim.AdamW(trainable(wrapped), lr=1e-2), True


SCENARIOS = {
    "frozen_base": _frozen_base,
    "stale_grad": _stale_grad,
    "unfreeze_after_shard": _unfreeze_after_shard,
    "frozen_on_one_rank": _frozen_on_one_rank,
    "sharded_inside_the_watch": _sharded_inside_the_watch,
    "fsdp1_frozen_base": _fsdp1_frozen_base,
    "fsdp1_stale_grad": _fsdp1_stale_grad,
    "fsdp1_flat_params": _fsdp1_flat_params,
    "fsdp1_frozen_on_one_rank": _fsdp1_frozen_on_one_rank,
}
STEPS = 3  # the loop's steps; the watch judges the first 2


def _loop(m: nn.Module, opt: torch.optim.Optimizer, rank: int, set_to_none: bool, device: torch.device) -> None:
    gen = torch.Generator().manual_seed(100 + rank)  # each rank trains on its own batches
    for _ in range(STEPS):
        m(torch.randn(4, 6, generator=gen).to(device)).pow(2).mean().backward()
        opt.step()
        opt.zero_grad(set_to_none=set_to_none)


def _shards(m: nn.Module) -> list:
    from freezelint.runtime.fsdp import local

    return [local(p).detach().clone().view(torch.int32).tolist() for p in m.parameters()]


def run_one(name: str, rank: int, device: torch.device) -> dict:
    model, opt, set_to_none = SCENARIOS[name](rank, device)
    result: dict = {}
    try:
        with freezelint.watch(steps=2) as w:
            if callable(opt):  # the scenario builds its optimizer (and shards) inside the watch
                opt = opt()
            _loop(model, opt, rank, set_to_none, device)
    except freezelint.FreezeAuditError as e:
        result["stopped"] = True
        result["raised_report"] = e.report.to_dict()
    try:
        report = w.report
    except freezelint.AuditUsageError as e:
        result["usage_error"] = str(e)
    else:
        result.update(report=report.to_dict(), text=report.render_text() if rank == 0 else "")
    if not result.get("stopped"):
        result["shards"] = _shards(model)
        unwatched, opt2, _ = SCENARIOS[name](rank, device)
        _loop(unwatched, opt2, rank, set_to_none, device)
        result["unwatched_shards"] = _shards(unwatched)
    return result
