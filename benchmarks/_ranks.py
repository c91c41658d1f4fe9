"""What the distributed audit benchmarks share: a gloo rank's set-up, and the alternating
rounds of plain steps and audits, each timed between barriers so every rank measures the same
span."""

from __future__ import annotations

import datetime
import time
from typing import Any, Callable

import torch
import torch.distributed as dist

from freezelint import audit


def start(worker: Callable[..., None], args: tuple, nprocs: int, method: str = "spawn") -> None:
    """Run `worker(rank, *args)` on `nprocs` processes. "forkserver" imports this script, torch
    and torch._dynamo once in a server and forks every rank from it (a smoke run's ranks then
    skip seconds of start-up each); "spawn", the default, starts each rank afresh."""
    if method == "forkserver":
        import multiprocessing

        multiprocessing.get_context("forkserver").set_forkserver_preload(["__main__", "torch._dynamo"])
    torch.multiprocessing.start_processes(worker, args=args, nprocs=nprocs, start_method=method)


def init_rank(rank: int, world: int, store: str, threads: int) -> None:
    torch.set_num_threads(threads)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=300))


def alternate(model: torch.nn.Module, optimizer: Any, batch: Any, rounds: int,
              plain_steps: Callable[[Any, Any, Any], None]) -> tuple[list[float], list[float], Any]:
    """Warm-up (lazy init, optimizer state, allocator), then `rounds` of two plain steps against
    `audit(steps=2)`; returns both timings and the last report."""
    plain_steps(model, optimizer, batch)
    audit(model, optimizer, batch=batch)
    plain, audited, report = [], [], None
    for _ in range(rounds):
        dist.barrier()
        t = time.perf_counter()
        plain_steps(model, optimizer, batch)
        dist.barrier()
        plain.append(time.perf_counter() - t)
        t = time.perf_counter()
        report = audit(model, optimizer, steps=2, batch=batch)
        dist.barrier()
        audited.append(time.perf_counter() - t)
    return plain, audited, report
