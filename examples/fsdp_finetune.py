"""Gradual unfreezing under FSDP2 (`fully_shard`): a rank-dependent freeze decision, and its fix.

    torchrun --standalone --nproc-per-node 2 examples/fsdp_finetune.py          # the bug: exit 1
    torchrun --standalone --nproc-per-node 2 examples/fsdp_finetune.py --fixed  # the fix: exit 0
    torchrun --standalone --nproc-per-node 2 -m freezelint audit examples/fsdp_finetune.py:make

A small transformer (weights=None, on CPU with gloo, synthetic tokens) is fine-tuned with its
base frozen: every block is a `fully_shard` unit, then the root. Stage 1 trains the head. Stage 2
unfreezes the last block when the loss has plateaued — but each rank measures the loss on its
own batch, so the ranks decide differently. FSDP2 would then wait forever in the first backward's
reduce-scatter (until the process group's timeout, with no error naming the cause); the audit
compares requires_grad across ranks before any step, runs none, and reports FZ507. `--fixed`
takes rank 0's decision on every rank. Unfreezing after `fully_shard` is itself fine in FSDP2.
"""

from __future__ import annotations

import argparse
import os
import sys

import torch
import torch.distributed as dist
from torch import nn

import freezelint


class Tiny(nn.Module):
    def __init__(self, vocab: int = 100, dim: int = 32, layers: int = 3, classes: int = 4) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.blocks = nn.ModuleList(nn.TransformerEncoderLayer(dim, nhead=4, dim_feedforward=2 * dim, dropout=0.0,
                                                               batch_first=True) for _ in range(layers))
        self.head = nn.Linear(dim, classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.embed(tokens)
        for block in self.blocks:
            x = block(x)
        return self.head(x.mean(dim=1))


def batch_for(rank: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1000 * rank + step)  # each rank sees its own data
    return torch.randint(0, 100, (4, 16), generator=gen), torch.randint(0, 4, (4,), generator=gen)


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, rank: int, step: int) -> float:
    tokens, labels = batch_for(rank, step)
    model.train()
    loss = nn.functional.cross_entropy(model(tokens), labels)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return loss.item()


def make(fixed: bool = False) -> tuple[nn.Module, torch.optim.Optimizer]:
    """The sharded model and optimizer at the start of stage 2, on this rank. Also a factory for
    `torchrun --standalone --nproc-per-node 2 -m freezelint audit examples/fsdp_finetune.py:make`."""
    from torch.distributed.fsdp import fully_shard

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if not dist.is_initialized():
        dist.init_process_group("gloo")
    rank = dist.get_rank()
    torch.manual_seed(0)
    model = Tiny()
    model.requires_grad_(False)
    model.head.requires_grad_(True)
    for block in model.blocks:
        fully_shard(block)
    fully_shard(model)
    optimizer = torch.optim.AdamW(model.head.parameters(), lr=1e-3)
    loss = train_step(model, optimizer, rank, 0)  # stage 1: the head only

    # stage 2: unfreeze the last block once the loss is low enough
    unfreeze = loss < 1.4  # this rank's loss, on this rank's batch
    if fixed:
        decision = [unfreeze]
        dist.broadcast_object_list(decision, src=0)  # one decision for every rank
        unfreeze = decision[0]
    if unfreeze:
        model.blocks[-1].requires_grad_(True)
        optimizer.add_param_group({"params": list(model.blocks[-1].parameters())})
    return model, optimizer


def make_fixed() -> tuple[nn.Module, torch.optim.Optimizer]:
    return make(fixed=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixed", action="store_true", help="take rank 0's freeze decision on every rank")
    args = parser.parse_args(argv)
    model, optimizer = make(args.fixed)
    rank = dist.get_rank()
    tokens, labels = batch_for(rank, 1)
    report = freezelint.audit(model, optimizer, steps=2, batch=tokens,
                              loss_fn=lambda out, _: nn.functional.cross_entropy(out, labels))
    if rank == 0:
        print(report)
    if report.ok:
        train_step(model, optimizer, rank, 1)  # training goes on; the audit left no trace
    dist.destroy_process_group()
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
