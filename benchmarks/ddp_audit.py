"""Distributed audit overhead: audit(steps=2) of a DDP model against two plain DDP steps.

    python benchmarks/ddp_audit.py [--world 2] [--rounds 5] [--size 64] [--batch 8] [--model resnet18]

Spawns `--world` CPU ranks on gloo. Each rank wraps a torchvision model (weights=None) in
DistributedDataParallel with everything trainable and SGD momentum, then alternates, in the same
run: two plain DDP steps (train(), forward, backward with all-reduce, step, zero_grad) and
`audit(ddp, optimizer, steps=2)` on the same model, optimizer and per-rank batch. Rank 0 prints
the median of each and their ratio. Runs alternate so drift hits both sides alike; the audit
restores the model, so the plain steps keep training the same weights.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time

import torch
import torch.distributed as dist
import torchvision
from torch.nn.parallel import DistributedDataParallel as DDP

from _ranks import start, alternate, init_rank


def plain_steps(model, optimizer, batch, steps=2):
    model.train()
    for _ in range(steps):
        model(batch).float().pow(2).mean().backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)


def worker(rank: int, world: int, store: str, args: argparse.Namespace) -> None:
    init_rank(rank, world, store, args.threads)
    torch.manual_seed(0)
    model = getattr(torchvision.models, args.model)(weights=None, num_classes=10)
    ddp = DDP(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    batch = torch.randn(args.batch, 3, args.size, args.size, generator=torch.Generator().manual_seed(rank))
    plain, audited, report = alternate(ddp, optimizer, batch, args.rounds, plain_steps)
    if rank == 0:
        p, a = statistics.median(plain), statistics.median(audited)
        n = sum(q.numel() for q in model.parameters())
        print(f"torch {torch.__version__}, {platform.machine()}, {world} ranks x {args.threads} threads, gloo, "
              f"{args.model} weights=None ({n / 1e6:.1f} M params, all trainable), batch {args.batch}/rank, "
              f"{args.size} px, median of {args.rounds} alternating rounds")
        print(f"{'2 plain DDP steps':>18} {'audit(steps=2)':>15} {'ratio':>6}  findings")
        print(f"{p * 1e3:>16.0f}ms {a * 1e3:>13.0f}ms {a / p:>6.2f}  {len(report.findings)} "
              f"({'OK' if report.ok else ', '.join(f.code for f in report.findings)})")
    dist.destroy_process_group()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--world", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 2) // 2))
    ap.add_argument("--start-method", choices=["spawn", "forkserver"], default="spawn",
                    help="how ranks start (forkserver: imports once, for smoke runs)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        start(worker, (args.world, os.path.join(tmp, "store"), args), args.world, args.start_method)
        print(f"wall time of the whole run, spawn included: {time.perf_counter() - t:.1f} s")


if __name__ == "__main__":
    main()
