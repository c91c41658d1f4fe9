"""Gradual unfreezing under DistributedDataParallel: the unfreeze-after-wrap bug, and its fix.

    torchrun --standalone --nproc-per-node 2 examples/ddp_finetune.py          # the bug: exit 1
    torchrun --standalone --nproc-per-node 2 examples/ddp_finetune.py --fixed  # the fix: exit 0
    torchrun --standalone --nproc-per-node 2 -m freezelint audit examples/ddp_finetune.py:make

Stage 1 trains the head of a resnet18 (weights=None, on CPU with gloo, synthetic data; frozen
BatchNorm statistics, as detection fine-tunes use) with the backbone frozen. Stage 2 unfreezes
layer4 and adds it to the optimizer — but DDP built its reducer when it wrapped the model, from
the parameters that required grad then, so layer4's gradients are never all-reduced and every
rank trains its own copy. `--fixed` wraps the module again after changing requires_grad. Every
rank audits; rank 0 prints the report. `freezelint check` flags the same line statically (FZ306).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys

import torch
import torch.distributed as dist
import torchvision
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

import freezelint


def batch_for(rank: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1000 * rank + step)  # each rank sees its own data
    return torch.randn(4, 3, 64, 64, generator=gen), torch.randint(0, 10, (4,), generator=gen)


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, rank: int, step: int) -> None:
    images, labels = batch_for(rank, step)
    model.train()
    nn.functional.cross_entropy(model(images), labels).backward()
    optimizer.step()
    optimizer.zero_grad()


def make(fixed: bool = False) -> tuple[nn.Module, torch.optim.Optimizer]:
    """The DDP model and optimizer at the start of stage 2, on this rank. Also a factory for
    `torchrun --standalone --nproc-per-node 2 -m freezelint audit examples/ddp_finetune.py:make`."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if not dist.is_initialized():
        dist.init_process_group("gloo")
    rank = dist.get_rank()
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=10, norm_layer=torchvision.ops.FrozenBatchNorm2d)
    model.requires_grad_(False)
    model.fc.requires_grad_(True)
    ddp = DDP(model)
    optimizer = torch.optim.SGD(model.fc.parameters(), lr=0.01, momentum=0.9)
    train_step(ddp, optimizer, rank, 0)  # stage 1: the head only

    # stage 2: unfreeze the last block
    model.layer4.requires_grad_(True)
    optimizer.add_param_group({"params": list(model.layer4.parameters()), "lr": 1e-3})
    if fixed:
        del ddp
        gc.collect()  # the old wrapper's reducer lets go of its gradient hooks
        ddp = DDP(model)  # the new reducer all-reduces layer4 too
    return ddp, optimizer


def make_fixed() -> tuple[nn.Module, torch.optim.Optimizer]:
    return make(fixed=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixed", action="store_true", help="wrap again after unfreezing")
    args = parser.parse_args(argv)
    ddp, optimizer = make(args.fixed)
    rank = dist.get_rank()
    images, labels = batch_for(rank, 1)
    report = freezelint.audit(ddp, optimizer, steps=2, batch=images,
                              loss_fn=lambda out, _: nn.functional.cross_entropy(out, labels))
    if rank == 0:
        print(report)
    train_step(ddp, optimizer, rank, 1)  # training goes on; the audit left no trace
    dist.destroy_process_group()
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
