"""Sharded audit overhead: audit(steps=2) of an FSDP2 model against two plain FSDP2 steps.

    python benchmarks/fsdp_audit.py [--world 2] [--rounds 5] [--layers 4] [--dim 256] [--seq 64] [--batch 8]

Spawns `--world` CPU ranks on gloo. Each rank builds the same small transformer (token embedding,
`--layers` nn.TransformerEncoderLayer blocks, a 10-class head; weights=None, seeded), freezes the
base (embedding and every block but the last), shards each block and then the root with
`fully_shard`, and trains the rest with AdamW. It alternates, in the same run: two plain steps
(train(), forward, backward with reduce-scatter, step, zero_grad) and `audit(model, optimizer,
steps=2)` on the same model, optimizer and per-rank batch. Rank 0 prints the median of each,
their ratio, and per rank the memory the audit held beyond the model (copies of the trained
shards, their AdamW state and the buffers; fingerprint scratch) against the bytes of that rank's
parameter shards. The audit restores everything, so the plain steps keep training the same weights.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time

import torch
import torch.distributed as dist
from torch import nn

from _ranks import start, alternate, init_rank


class Tiny(nn.Module):
    def __init__(self, vocab: int, dim: int, layers: int, classes: int = 10) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.blocks = nn.ModuleList(nn.TransformerEncoderLayer(dim, nhead=4, dim_feedforward=4 * dim, dropout=0.0,
                                                               batch_first=True) for _ in range(layers))
        self.head = nn.Linear(dim, classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.embed(tokens)
        for block in self.blocks:
            x = block(x)
        return self.head(x.mean(dim=1))


def build(args: argparse.Namespace) -> tuple[nn.Module, torch.optim.Optimizer]:
    from torch.distributed.fsdp import fully_shard

    torch.manual_seed(0)  # the same model on every rank
    model = Tiny(args.vocab, args.dim, args.layers)
    model.embed.requires_grad_(False)
    for block in model.blocks[:-1]:  # frozen base: the last block and the head are fine-tuned
        block.requires_grad_(False)
    for block in model.blocks:
        fully_shard(block)
    fully_shard(model)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    return model, optimizer


def _local_bytes(t: torch.Tensor) -> int:
    t = t.to_local() if hasattr(t, "to_local") else t
    return t.numel() * t.element_size()


def plain_steps(model, optimizer, batch, steps=2):
    model.train()
    for _ in range(steps):
        model(batch).float().pow(2).mean().backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)


def worker(rank: int, world: int, store: str, args: argparse.Namespace) -> None:
    init_rank(rank, world, store, args.threads)
    model, optimizer = build(args)
    batch = torch.randint(0, args.vocab, (args.batch, args.seq), generator=torch.Generator().manual_seed(rank))
    plain, audited, report = alternate(model, optimizer, batch, args.rounds, plain_steps)
    shard_bytes = sum(p.to_local().numel() * p.element_size() for p in model.parameters())
    # what exact restoration cannot do without: a copy of every trained shard, of its optimizer
    # state (AdamW: two moments and a step) and of every buffer
    trained = [p for p in model.parameters() if p.requires_grad]
    floor = sum(p.to_local().numel() * p.element_size() for p in trained)
    floor += sum(_local_bytes(v) for p in trained for v in optimizer.state[p].values() if isinstance(v, torch.Tensor))
    floor += sum(b.numel() * b.element_size() for b in model.buffers())
    sizes: list = [None] * world
    dist.all_gather_object(sizes, (shard_bytes, floor))
    per_rank = [(sb, fl, eb) for (sb, fl), eb in zip(sizes, report.extra_bytes_per_rank)]
    if rank == 0:
        p, a = statistics.median(plain), statistics.median(audited)
        total = sum(q.numel() for q in model.parameters())
        trained = sum(q.numel() for q in model.parameters() if q.requires_grad)
        print(f"torch {torch.__version__}, {platform.machine()}, {world} ranks x {args.threads} threads, gloo, FSDP2; "
              f"transformer {args.layers} x {args.dim} ({total / 1e6:.2f} M params, {trained / 1e6:.2f} M trained: last "
              f"block + head, AdamW), batch {args.batch}/rank x {args.seq} tokens, median of {args.rounds} "
              f"alternating rounds")
        print(f"{'2 plain FSDP2 steps':>20} {'audit(steps=2)':>15} {'ratio':>6}  findings")
        print(f"{p * 1e3:>18.0f}ms {a * 1e3:>13.0f}ms {a / p:>6.2f}  {len(report.findings)} "
              f"({'OK' if report.ok else ', '.join(f.code for f in report.findings)})")
        print(f"{'rank':>4} {'param shard bytes':>18} {'restore floor':>14} {'audit extra bytes':>18} "
              f"{'extra / shard':>14} {'extra / floor':>14}")
        for r, (sb, fl, eb) in enumerate(per_rank):
            print(f"{r:>4} {sb:>18,} {fl:>14,} {eb:>18,} {eb / sb:>13.2%} {eb / fl:>13.2%}")
    dist.destroy_process_group()
    # The rank's work is done and said: leave without the interpreter's C++ teardown, which after
    # FSDP2 over gloo on CPU aborts now and then ("terminate called without an active exception",
    # no Python frame on the stack), turning a finished run into a failed one
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--world", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--vocab", type=int, default=1000)
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
