"""One fingerprint pass over resnet50's frozen backbone: the compiled kernel against torch.

    python benchmarks/fingerprint_pass.py [--rounds 21] [--arch resnet50]

The baseline is the torch path the auditor falls back to without the kernel (two reductions of
a (rows, 64) view per tensor). "warm" runs passes back to back (part of the 94 MB still in
cache); "after a forward" runs a forward of the model before each pass, as the audit does;
"after a step" a forward, backward and SGD step of a new head, as a watch's last pass follows.
The kernel is timed on one thread, on torch's thread count with threads of its own, and on
torch's OpenMP pool (what it uses where torch loaded libgomp): the variants alternate in each
round, and the fastest round is printed next to the median.
"""

from __future__ import annotations

import argparse
import statistics
import time
from array import array

import torch
import torchvision

from freezelint.runtime import fingerprint


def timed(takes: list, before, rounds: int) -> list[list[float]]:
    """Each round runs `before` and then one take, for every take in turn (reversed every other
    round): the seconds of each take's rounds."""
    times: list[list[float]] = [[] for _ in takes]
    for r in range(rounds):
        order = list(enumerate(takes))
        for i, take in order if r % 2 else order[::-1]:
            before()
            t = time.perf_counter()
            take()
            times[i].append(time.perf_counter() - t)
    return times


def kernel_threads(kernel, tensors, threads: int, use_pool: bool):
    """One kernel pass on `threads` threads, on torch's pool or on threads of its own."""
    table = fingerprint._table(tensors)[0]  # every tensor is contiguous: no per-pass copies
    out = array("q", bytes(16 * len(tensors)))
    return lambda: kernel.fold(table, out, threads, use_pool)


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
    n = torch.get_num_threads()
    pool = "yes" if kernel.on_torch_pool() else "no: threads of its own"
    print(f"torch's OpenMP pool found: {pool}")
    takes = [torch_pass, kernel_threads(kernel, tensors, 1, False), kernel_threads(kernel, tensors, n, False),
             kernel_threads(kernel, tensors, n, True)]
    print(f"{'(median / min)':15} {'torch (baseline)':>17} {'kernel 1 thread':>16} {f'kernel {n} own':>16} "
          f"{f'kernel {n} pool':>16} {'best kernel / torch':>20}")
    head = torch.nn.Linear(model.fc.in_features, 10)
    model.fc = head
    opt = torch.optim.SGD(head.parameters(), lr=0.01, momentum=0.9)

    def step():
        with torch.enable_grad():
            model(batch).pow(2).mean().backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for name, before in [("warm", lambda: None), ("after a forward", lambda: model(batch)), ("after a step", step)]:
        times = timed(takes, before, args.rounds)
        med = [statistics.median(t) for t in times]
        cells = " ".join(f"{m * 1e3:>7.2f}/{min(t) * 1e3:<5.2f}ms" for m, t in zip(med, times))
        print(f"{name:15} {cells} {min(med[1:]) / med[0]:>14.2f}")


if __name__ == "__main__":
    with torch.no_grad():
        main()
