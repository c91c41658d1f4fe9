"""Watch overhead: two training steps watched by `freezelint.watch(steps=2)` against the same two
steps unwatched, in the same run.

    python benchmarks/watch_overhead.py [--rounds 7] [--sizes 64 224] [--batch 8] [--kinds head full]

For torchvision resnet50 (weights=None) it prints, per input size and fine-tuning setup, the
median wall time of two plain steps of a training loop (model.train(), BatchNorm of the frozen
part back to eval(), forward, backward, step, zero_grad), the median of the same two steps run
inside `with freezelint.watch(steps=2)` and judged (the report built), their ratio, and the memory
the watch held beyond the model (buffer copies, fingerprint scratch) relative to the parameter
bytes. Rounds alternate so drift hits both sides alike; both sides keep training the same model.
The watch and its report are dropped after the timed region (freeing them is not a cost of the
steps: a watch is dropped after the training, and the last round's would otherwise be freed inside
this round's timing).
The process CPU time of both sides and its ratio, and the ratio of the fastest rounds, are printed
too: on a machine shared with other work the medians mostly measure the neighbours.

The floor: every round also times two bare fingerprint passes over the model's parameters and
buffers (what a watch cannot do without: one read before the steps, one after), and "floor" is
(plain + those two passes) / plain, the ratio a watch with no other cost would have. `--own`
also prints the time spent inside the watch's own hooks (the passes, finding the model, the
report), which, unlike the ratios, a loaded machine does not drown. `--after` also times two more
steps inside the same watch once its window has closed (as `freezelint run --no-stop` trains on)
against two plain steps: the watch's cost is the window's alone, so that ratio should be 1.00.
`--first K` also starts K fresh processes, each timing two plain steps and the first watch of
the process (alternating which comes first): what `freezelint run` pays, once, with nothing
imported or cached before (the rounds above reuse what the first watch of the run left: the
judging code imported, the kernel's segment table of the same model).
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import platform
import statistics
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torchvision

from freezelint import watch
from freezelint.runtime.fingerprint import Fingerprinter


def setup(kind: str, arch: str = "resnet50", classes: int = 10):
    torch.manual_seed(0)
    model = getattr(torchvision.models, arch)(weights=None)
    if kind == "head":  # the fine-tuning case: frozen backbone with BatchNorm in eval, new head
        model.requires_grad_(False)
        model.fc = nn.Linear(model.fc.in_features, classes)
        params = model.fc.parameters()
    else:  # full fine-tune
        model.fc = nn.Linear(model.fc.in_features, classes)
        params = model.parameters()
    optimizer = torch.optim.SGD(params, lr=0.01, momentum=0.9)
    return model, optimizer


def steps(model, optimizer, batch, n: int = 2) -> None:
    for _ in range(n):
        model.train()
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and not m.weight.requires_grad:
                m.eval()
        loss = model(batch).float().pow(2).mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)


def own_time() -> list[float]:
    """Wrap the watch's hook entry points to add up the time spent in them, into the list returned."""
    from freezelint.runtime.watch import Watch

    spent, depth = [0.0], [0]

    def timed(f):
        @functools.wraps(f)
        def run(*args, **kwargs):
            depth[0] += 1
            t = time.perf_counter()
            try:
                return f(*args, **kwargs)
            finally:
                depth[0] -= 1
                if not depth[0]:  # the outermost: _finish runs inside _on_step_post
                    spent[0] += time.perf_counter() - t
        return run

    for name in ("__enter__", "__exit__", "_on_forward", "_on_step_pre", "_on_step_post"):
        setattr(Watch, name, timed(getattr(Watch, name)))
    return spent


def collections() -> list[float]:
    """Count the cyclic garbage collections, and the seconds they took, into the list returned
    ([count, seconds]): what the watch's allocations make the collector do inside the window,
    which the plain steps (no Python objects kept) never trigger."""
    seen, started = [0, 0.0], [0.0]

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            seen[0] += 1
            seen[1] += time.perf_counter() - started[0]

    gc.callbacks.append(on_gc)
    return seen


def watched(model, optimizer, batch):
    """The watch too, not only its report: what it holds is freed when the caller drops it, after
    the timed region (a watch is dropped after the training, not during it)."""
    with watch(steps=2) as w:
        steps(model, optimizer, batch)
    return w, w.report


def after_window(model, optimizer, batch, sync) -> float:
    """Seconds for two steps inside a watch whose window (2 steps) has closed."""
    with watch(steps=2) as w:
        steps(model, optimizer, batch)
        assert w.done
        sync()
        t = time.perf_counter()
        steps(model, optimizer, batch)
        sync()
        spent = time.perf_counter() - t
    return spent


def first_window(kind: str, size: int, batch_size: int, arch: str, watched_first: bool) -> None:
    """In a fresh process: two plain steps and the process's first watch, as JSON on stdout."""
    spent = own_time()
    model, optimizer = setup(kind, arch)
    optimizer = type(optimizer)([p for p in model.parameters() if p.requires_grad], lr=0.01, momentum=0.9)
    batch = torch.randn(batch_size, 3, size, size)
    steps(model, optimizer, batch)  # warm-up: allocator, kernels, optimizer state
    steps(model, optimizer, batch)
    out = {}
    for side in (["watched", "plain"] if watched_first else ["plain", "watched"]):
        t = time.perf_counter()
        if side == "plain":
            steps(model, optimizer, batch)
        else:
            kept = watched(model, optimizer, batch)
        out[side] = time.perf_counter() - t
    out["own"] = spent[0]
    assert kept[1].ok
    print(json.dumps(out))


def first_windows(args: argparse.Namespace, kind: str, size: int) -> None:
    runs = []
    for i in range(args.first):
        cmd = [sys.executable, __file__, "--child-first", kind, str(size), str(args.batch), args.arch, str(i % 2)]
        runs.append(json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout))
    p, s, o = (statistics.median(r[k] for r in runs) for k in ("plain", "watched", "own"))
    ratios = sorted(r["watched"] / r["plain"] for r in runs)
    print(f"       first watch of a process ({args.first} processes): 2 plain steps {p * 1e3:.0f}ms, watched "
          f"{s * 1e3:.0f}ms, ratio {statistics.median(ratios):.2f} (min {ratios[0]:.2f}), own hooks "
          f"{o * 1e3:.1f}ms", flush=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child-first":
        kind, size, batch_size, arch, order = sys.argv[2:7]
        first_window(kind, int(size), int(batch_size), arch, order == "1")
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 224])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--kinds", nargs="+", default=["head", "full"])
    ap.add_argument("--arch", default="resnet50", help="a torchvision resnet (resnet18 for a quick smoke run)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--own", action="store_true", help="also print the time spent in the watch's own hooks")
    ap.add_argument("--after", action="store_true", help="also time two steps after the window, the watch still open")
    ap.add_argument("--first", type=int, default=0, metavar="K",
                    help="also time the first watch of K fresh processes (CPU only)")
    args = ap.parse_args()
    spent = own_time() if args.own else [0.0]
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} threads, {args.arch} weights=None on {device}, "
          f"median of {args.rounds} alternating rounds")
    print("setup: head = frozen backbone (BatchNorm in eval) + new 10-class head (SGD momentum on the head); "
          "full = everything trainable (SGD momentum)")
    print(f"{'setup':<6} {'batch':>5} {'px':>4} {'2 plain steps':>14} {'2 watched steps':>16} {'ratio':>6} "
          f"{'cpu plain':>10} {'cpu watched':>12} {'cpu ratio':>10} {'2 passes':>9} {'floor':>6} {'min ratio':>10} "
          f"{'extra mem / param bytes':>24}")
    for kind in args.kinds:
        for size in args.sizes:
            model, optimizer = setup(kind, args.arch)
            model.to(device)
            optimizer = type(optimizer)(
                [p for p in model.parameters() if p.requires_grad], lr=0.01, momentum=0.9)
            batch = torch.randn(args.batch, 3, size, size, device=device)
            param_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
            sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
            steps(model, optimizer, batch)  # warm-up: allocator, kernels, optimizer state
            _, report = watched(model, optimizer, batch)
            assert report.ok, report.render_text()
            passes = Fingerprinter(list(model.parameters()) + list(model.buffers()))
            passes()
            plain, seen, plain_cpu, seen_cpu, bare, own, extra, later = [], [], [], [], [], [], 0, []
            collected, gc_plain, gc_seen = collections(), [0, 0.0], [0, 0.0]
            for _ in range(args.rounds):
                sync()
                before = list(collected)
                t, c = time.perf_counter(), time.process_time()
                steps(model, optimizer, batch)
                sync()
                plain.append(time.perf_counter() - t)
                plain_cpu.append(time.process_time() - c)
                gc_plain = [a + now - then for a, now, then in zip(gc_plain, collected, before)]
                kept = report = None  # the last round's watch and report are freed here, not in the timing
                before = list(collected)
                t, c = time.perf_counter(), time.process_time()
                spent[0] = 0.0
                kept, report = watched(model, optimizer, batch)
                sync()
                seen.append(time.perf_counter() - t)
                gc_seen = [a + now - then for a, now, then in zip(gc_seen, collected, before)]
                own.append(spent[0])
                seen_cpu.append(time.process_time() - c)
                extra = report.extra_bytes
                t = time.perf_counter()
                passes()
                passes()
                sync()
                bare.append(time.perf_counter() - t)
                if args.after:
                    kept = report = None
                    later.append(after_window(model, optimizer, batch, sync))
                    gc.collect()  # that watch's garbage, collected here, not inside the next round's timing
            p, s = statistics.median(plain), statistics.median(seen)
            pc, sc, b = statistics.median(plain_cpu), statistics.median(seen_cpu), statistics.median(bare)
            print(f"{kind:<6} {args.batch:>5} {size:>4} {p * 1e3:>12.0f}ms {s * 1e3:>14.0f}ms {s / p:>6.2f} "
                  f"{pc * 1e3:>8.0f}ms {sc * 1e3:>10.0f}ms {sc / pc:>10.2f} {b * 1e3:>7.1f}ms {(p + b) / p:>6.2f} "
                  f"{min(seen) / min(plain):>10.2f} {extra / param_bytes:>23.2%}", flush=True)
            if args.own:
                o = statistics.median(own)
                print(f"       the watch's own hooks: median {o * 1e3:.1f}ms (min {min(own) * 1e3:.1f}ms), "
                      f"less the two passes {(o - b) * 1e3:.1f}ms", flush=True)
                r = args.rounds
                print(f"       garbage collections per round: watched {gc_seen[0] / r:.2f} ({gc_seen[1] / r * 1e3:.2f}ms), "
                      f"plain {gc_plain[0] / r:.2f} ({gc_plain[1] / r * 1e3:.2f}ms)", flush=True)
            if args.after:
                a = statistics.median(later)
                print(f"       after the window, the watch still open: 2 steps {a * 1e3:.0f}ms, "
                      f"ratio to plain {a / p:.2f}", flush=True)
            if args.first and device.type == "cpu":
                first_windows(args, kind, size)


if __name__ == "__main__":
    main()
