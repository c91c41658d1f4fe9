"""Distributed audit scenarios, run by every rank of a small torch.distributed job.

`launch()` spawns the ranks with a hard deadline (a hang fails the test instead of blocking CI);
each rank runs every scenario and writes what it saw to `<out>/<scenario>.<rank>.json`.
`launch_jobs()` runs the scenarios of several modules in one spawn; conftest's `gloo_ranks`
runs them with `run_jobs()` in the ranks of its shared torchrun launch (tests/torchrun_scenarios.py).
"""

from __future__ import annotations

import datetime
import json
import os
import time
import traceback
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

import freezelint


def net() -> nn.Sequential:
    torch.manual_seed(0)  # every rank builds the same model, as seeded training scripts do
    return nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(),
                         nn.Linear(16, 3))


def trainable(m: nn.Module) -> list[nn.Parameter]:
    return [p for p in m.parameters() if p.requires_grad]


def _correct(rank, device):
    m = net().to(device)
    m[0].requires_grad_(False)
    m[1].requires_grad_(False)
    m[1].eval()
    ddp = DDP(m)
    return ddp, torch.optim.AdamW(trainable(m), lr=1e-2), {"call_train": False}


def _unfreeze_after_wrap(rank, device):
    m = net().to(device)
    m[0].requires_grad_(False)
    ddp = DDP(m)
    opt = torch.optim.SGD(trainable(m), lr=0.1)
    m[0].requires_grad_(True)  # noqa: FZ306 — stage 2 of a gradual unfreeze, after the wrap
    opt.add_param_group({"params": list(m[0].parameters())})
    return ddp, opt, {}


def _frozen_on_one_rank(rank, device):
    m = net().to(device)
    ddp = DDP(m, find_unused_parameters=True)
    if rank == 1:  # a rank-dependent freeze decision
        m[3].requires_grad_(False)  # noqa: FZ306 — the fault under test
    return ddp, torch.optim.SGD(m.parameters(), lr=0.1), {}


def _registered_after_wrap(rank, device):
    m = net().to(device)
    ddp = DDP(m)
    m.append(nn.Linear(3, 3).to(device))  # a layer added after the wrap
    return ddp, torch.optim.SGD(m.parameters(), lr=0.1), {}


def _loaded_on_rank0(rank, device):
    m = net().to(device)
    ddp = DDP(m)
    if rank == 0:  # a checkpoint loaded on rank 0 only, after the wrap broadcast the weights
        with torch.no_grad():
            m[5].weight.add_(0.5)
    return ddp, torch.optim.SGD(m.parameters(), lr=0.1), {}


def _frozen_after_wrap(rank, device):
    m = net().to(device)
    ddp = DDP(m)
    m[0].requires_grad_(False)  # noqa: FZ306 — the fault under test
    return ddp, torch.optim.SGD(trainable(m), lr=0.1), {}


def _plain_model(rank, device):
    m = net().to(device)
    if rank == 1:
        m[0].requires_grad_(False)
    return m, torch.optim.SGD(trainable(m), lr=0.1), {}


def _bn_eval_on_one_rank(rank, device):
    m = net().to(device)
    m[1].requires_grad_(False)
    ddp = DDP(m, broadcast_buffers=False)
    if rank == 0:  # only rank 0 keeps the frozen BatchNorm's statistics frozen
        m[1].eval()
    return ddp, torch.optim.SGD(trainable(m), lr=0.1), {"call_train": False}


def _bn_stats_per_rank(rank, device):
    # near-miss: trainable BatchNorm without buffer broadcast keeps per-rank statistics by design
    m = net().to(device)
    return DDP(m, broadcast_buffers=False), torch.optim.SGD(m.parameters(), lr=0.1), {}


def _static_graph(rank, device):
    # static_graph=True: DDP records which parameters get gradients on the first iterations (the
    # audit's), then relies on it; the user's next step must still run.
    m = net().to(device)
    m[0].requires_grad_(False)
    return DDP(m, static_graph=True), torch.optim.SGD(trainable(m), lr=0.1), {}


def _static_graph_frozen_after_wrap(rank, device):
    m = net().to(device)
    ddp = DDP(m, static_graph=True)
    m[0].requires_grad_(False)  # noqa: FZ306 — the fault under test
    return ddp, torch.optim.SGD(trainable(m), lr=0.1), {}


def _static_graph_frozen_after_iterations(rank, device):
    m = net().to(device)
    ddp = DDP(m, static_graph=True)
    opt = torch.optim.SGD(trainable(m), lr=0.1)
    for _ in range(2):  # training ran: DDP recorded its static graph
        ddp(torch.randn(4, 6, device=device)).pow(2).mean().backward()
        opt.step()
        opt.zero_grad()
    m[0].requires_grad_(False)  # noqa: FZ306 — the fault under test
    return ddp, opt, {}


SCENARIOS = {
    "correct": _correct,
    "unfreeze_after_wrap": _unfreeze_after_wrap,
    "frozen_on_one_rank": _frozen_on_one_rank,
    "registered_after_wrap": _registered_after_wrap,
    "loaded_on_rank0": _loaded_on_rank0,
    "frozen_after_wrap": _frozen_after_wrap,
    "plain_model": _plain_model,
    "bn_eval_on_one_rank": _bn_eval_on_one_rank,
    "bn_stats_per_rank": _bn_stats_per_rank,
    "static_graph": _static_graph,
    "static_graph_frozen_after_wrap": _static_graph_frozen_after_wrap,
    "static_graph_frozen_after_iterations": _static_graph_frozen_after_iterations,
}


def _state(model: nn.Module, opt: torch.optim.Optimizer) -> list:
    """Every bit the audit may touch, as plain data."""
    def bits(t):
        t = t.detach().cpu().contiguous()
        return t.view(torch.int32 if t.dtype == torch.float32 else t.dtype).tolist()

    out = [(n, bits(t)) for n, t in model.state_dict(keep_vars=True).items()]
    out += [(n, p.requires_grad, None if p.grad is None else bits(p.grad)) for n, p in model.named_parameters()]
    out += [(n, m.training) for n, m in model.named_modules()]
    out += [repr(opt.state_dict()), torch.get_rng_state().tolist()]
    return out


def run_one(name: str, rank: int, device: torch.device) -> dict:
    model, opt, kwargs = SCENARIOS[name](rank, device)
    before = _state(model, opt)
    try:
        report = freezelint.audit(model, opt, steps=2, **kwargs)
    except freezelint.AuditUsageError as e:
        return {"usage_error": str(e), "restored": _state(model, opt) == before}
    result = {"report": report.to_dict(), "restored": _state(model, opt) == before,
              "text": report.render_text() if rank == 0 else ""}
    if isinstance(model, DDP):
        # The user's next step must behave as if no audit ran: the reducer is between iterations.
        try:
            x = torch.randn(4, 6, device=device)
            model(x).pow(2).mean().backward()
            result["next_step"] = "ok"
        except RuntimeError as e:
            result["next_step"] = str(e).splitlines()[0]
    return result


def run_jobs(rank: int, device: torch.device, jobs: list[tuple[str, str, str]]) -> None:
    """Runs each job (scenarios module, scenario name, results folder) with that module's `run_one`,
    in the initialized process group."""
    import importlib

    for module, name, out in jobs:
        try:
            result = importlib.import_module(module).run_one(name, rank, device)
        except Exception:
            result = {"error": traceback.format_exc()}
        Path(out, f"{name}.{rank}.json").write_text(json.dumps(result, default=str))
        dist.barrier()


def worker(rank: int, world: int, store: str, backend: str, jobs: list[tuple[str, str, str]]) -> None:
    """A spawned rank: its process group on a file store, then `run_jobs`."""
    import faulthandler

    faulthandler.enable()  # a rank killed by a signal (an abort in C++) prints where each thread was

    dist.init_process_group(backend, init_method=f"file://{store}", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=60))
    device = torch.device("cpu")
    if backend == "nccl":
        torch.cuda.set_device(rank)
        device = torch.device("cuda", rank)
    try:
        run_jobs(rank, device, jobs)
    finally:
        dist.destroy_process_group()


def launch(out: Path, names: list[str], backend: str = "gloo", world: int = 2, deadline_s: float = 100,
           module: str = __name__) -> float:
    """Run the scenarios of `module` on `world` spawned ranks, results in `out`; returns the wall time."""
    return launch_jobs(out / "store", [(module, name, str(out)) for name in names], backend, world, deadline_s)


def launch_jobs(store: Path, jobs: list[tuple[str, str, str]], backend: str = "gloo", world: int = 2,
                deadline_s: float = 100) -> float:
    """Run (module, scenario, results folder) jobs on `world` spawned ranks, in one process group;
    returns the wall time. Kills the ranks at the deadline."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    start = time.perf_counter()
    ctx = mp.start_processes(worker, args=(world, str(store), backend, jobs), nprocs=world, join=False,
                             start_method="spawn")
    while not ctx.join(timeout=1):
        if time.perf_counter() - start > deadline_s:
            for p in ctx.processes:
                p.kill()
            raise TimeoutError(f"distributed scenarios did not finish in {deadline_s:.0f} s")
    return time.perf_counter() - start
