"""Peak memory of `freezelint check --no-cache` on trees of 2,000 and 20,000 files.

    python benchmarks/memory_tree.py [--sizes 2000 20000] [--source DIR]

The trees are copies of real sources (default: the check_speed corpus, else examples/), cycled
to the wanted size. For each size it prints wall time and the peak resident memory of the
largest process of the run (the main process or a worker: RUSAGE_CHILDREN of a wrapper). Memory
that stays flat from 2,000 to 20,000 files is bounded per process.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = Path(os.environ.get("FREEZELINT_BENCH_DIR", Path.home() / ".cache" / "freezelint-bench")) / "corpus"

WRAPPER = """
import resource, subprocess, sys, time
t = time.perf_counter()
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000])
    ap.add_argument("--source", type=Path, default=DEFAULT_SOURCE if DEFAULT_SOURCE.is_dir() else ROOT / "examples")
    args = ap.parse_args()
    sources = sorted(args.source.rglob("*.py"))
    print(f"source: {args.source} ({len(sources)} files), {os.cpu_count()} CPUs")
    print(f"{'files':>7} {'wall':>8} {'peak RSS of largest process':>28}")
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as d:
            for i, src in zip(range(n), itertools.cycle(sources)):
                sub = Path(d) / f"d{i // 500:03}"
                sub.mkdir(exist_ok=True)
                shutil.copyfile(src, sub / f"m{i:05}_{src.name}")
            cmd = [sys.executable, "-m", "freezelint", "check", "--no-cache", "--exit-zero", "-q", d]
            out = subprocess.run([sys.executable, "-c", WRAPPER, *cmd], capture_output=True, text=True).stdout.split()
            wall, rss_kb = float(out[0]), int(out[1])
            print(f"{n:>7} {wall:>7.1f}s {rss_kb / 1024:>26.0f} MB")


if __name__ == "__main__":
    main()
