"""Audit overhead: audit(steps=2) against two plain training steps, in the same run.

    python benchmarks/audit_overhead.py [--rounds 5] [--sizes 64 224] [--batches 8 16 32]

For torchvision resnet50 (weights=None) it prints, per input size and fine-tuning setup, the
median wall time of two plain steps (train(), forward, backward, step, zero_grad), the median
of audit(steps=2) on the same model, optimizer and batch, their ratio, and the memory the audit
held beyond the model (copies it keeps to restore, and the fingerprints' index and scratch)
relative to the model's parameter bytes. Runs alternate so drift hits both sides alike.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch
import torch.nn as nn
import torchvision

from freezelint import audit


def setup(kind: str, classes: int = 10):
    torch.manual_seed(0)
    model = torchvision.models.resnet50(weights=None)
    if kind == "head":  # the fine-tuning case: frozen backbone (BN in eval), new head
        model.requires_grad_(False)
        model.fc = nn.Linear(model.fc.in_features, classes)
        params = model.fc.parameters()
    else:  # full fine-tune
        model.fc = nn.Linear(model.fc.in_features, classes)
        params = model.parameters()
    optimizer = torch.optim.SGD(params, lr=0.01, momentum=0.9)
    return model, optimizer


def plain_steps(model, optimizer, batch, steps=2):
    model.train()
    for _ in range(steps):
        loss = model(batch).float().pow(2).mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 224])
    ap.add_argument("--batches", type=int, nargs="+", default=[8, 16, 32])
    ap.add_argument("--kinds", nargs="+", default=["head", "full"])
    ap.add_argument("--device", default="cpu", help="cuda to time the audit on a GPU")
    args = ap.parse_args()
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} threads, resnet50 weights=None on {device}, "
          f"median of {args.rounds} alternating rounds")
    print("setup: head = frozen backbone + new 10-class head (SGD momentum on the head); "
          "full = everything trainable (SGD momentum)")
    print(f"{'setup':<6} {'batch':>5} {'px':>4} {'2 plain steps':>14} {'audit(steps=2)':>15} {'ratio':>6} "
          f"{'extra mem / param bytes':>24}")
    for kind, bsz, size in [(k, b, s) for k in args.kinds for b in args.batches for s in args.sizes]:
            model, optimizer = setup(kind)
            model.to(device)  # the same Parameter objects: the optimizer still holds them
            batch = torch.randn(bsz, 3, size, size, device=device)
            param_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
            plain_steps(model, optimizer, batch)  # warm-up: allocator, kernels, optimizer state
            audit(model, optimizer, batch=batch, call_train=True)
            plain, audited, extra = [], [], 0
            for _ in range(args.rounds):
                # The audit restores the model, so plain steps keep training a copy of the same
                # weights; both sides see the same shapes and optimizer state sizes.
                sync()
                t = time.perf_counter()
                plain_steps(model, optimizer, batch)
                sync()
                plain.append(time.perf_counter() - t)
                t = time.perf_counter()
                report = audit(model, optimizer, steps=2, batch=batch)
                sync()
                audited.append(time.perf_counter() - t)
                extra = report.extra_bytes
            p, a = statistics.median(plain), statistics.median(audited)
            print(f"{kind:<6} {bsz:>5} {size:>4} {p * 1e3:>12.0f}ms {a * 1e3:>13.0f}ms {a / p:>6.2f} "
                  f"{extra / param_bytes:>23.2%}")


if __name__ == "__main__":
    main()
