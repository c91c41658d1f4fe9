"""One fingerprint pass over resnet50's frozen backbone: the compiled kernel against torch.

    python benchmarks/fingerprint_pass.py [--rounds 21] [--arch resnet50]

The baseline is the torch path the auditor falls back to without the kernel (two reductions of
a (rows, 64) view per tensor). "warm" runs passes back to back (part of the 94 MB still in
cache); "after a forward" runs a forward of the model before each pass, as the audit does.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torchvision

from freezelint.runtime import fingerprint


def timed(take, before, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        before()
        t = time.perf_counter()
        take()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=21)
    ap.add_argument("--arch", default="resnet50", help="a torchvision model (resnet18 for a quick smoke run)")
    args = ap.parse_args()
    torch.manual_seed(0)
    model = getattr(torchvision.models, args.arch)(weights=None).requires_grad_(False)
    tensors = list(model.parameters())
    batch = torch.randn(8, 3, 64, 64)
    kernel = fingerprint._fold
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {args.arch} weights=None, "
          f"{len(tensors)} tensors, {sum(t.numel() * t.element_size() for t in tensors) / 1e6:.0f} MB; "
          f"median of {args.rounds}")
    if kernel is None:
        print("the _fold kernel is not built (no C compiler at install): nothing to compare")
        return
    kernel_pass = fingerprint.Fingerprinter(tensors)
    fingerprint._fold = None
    torch_pass = fingerprint.Fingerprinter(tensors)
    fingerprint._fold = kernel
    assert kernel_pass() == torch_pass()
    print(f"{'':15} {'torch (baseline)':>17} {'kernel':>8} {'kernel / torch':>15}")
    for name, before in [("warm", lambda: None), ("after a forward", lambda: model(batch))]:
        base, fast = (timed(take, before, args.rounds) for take in (torch_pass, kernel_pass))
        print(f"{name:15} {base * 1e3:>15.2f}ms {fast * 1e3:>6.2f}ms {fast / base:>15.2f}")


if __name__ == "__main__":
    with torch.no_grad():
        main()
