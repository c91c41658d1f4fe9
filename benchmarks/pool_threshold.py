"""Where the process pool starts to pay: `freezelint check --no-cache` on N files that all need
parsing, serial (-j 1) against the pool (-j CPUs), medians of alternating runs.

    python benchmarks/pool_threshold.py [--sizes 2 4 8 16 32] [--rounds 5]

The files are copies of examples/finetune_resnet.py (a typical fine-tuning script, about 50
lines): each is admitted by the text triggers and parsed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(args: list[str], cwd: Path) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "freezelint", "check", "--no-cache", "--exit-zero", "-q", *args, "."],
                   cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[2, 4, 8, 16, 32])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    src = ROOT / "examples" / "finetune_resnet.py"
    cpus = os.cpu_count() or 1
    print(f"{cpus} CPUs; median wall of {args.rounds} alternating runs")
    print(f"{'files':>6} {'serial (-j 1)':>14} {f'pool (-j {cpus})':>14} {'pool/serial':>12}")
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as d:
            for i in range(n):
                shutil.copy(src, Path(d) / f"m{i:03}.py")
            serial, pooled = [], []
            for _ in range(args.rounds):
                serial.append(run(["-j", "1"], Path(d)))
                pooled.append(run(["-j", str(cpus)], Path(d)))
            s, p = statistics.median(serial), statistics.median(pooled)
            print(f"{n:>6} {s:>13.3f}s {p:>13.3f}s {p / s:>12.2f}")


if __name__ == "__main__":
    main()
