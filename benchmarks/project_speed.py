"""Project analysis: what a warm re-check costs and how many files it re-analyses, in one run.

    python benchmarks/project_speed.py               # 200-file synthetic project, 3 rounds
    python benchmarks/project_speed.py --files 60 --rounds 1   # smaller (CI smoke)

A synthetic project (a copy of tests/projects/split_bad — train/engine/model split — plus N
training scripts that each import the engine and the model, and N/2 unrelated modules) is checked
cold (no cache), warm with nothing changed, and warm after one edit to `engine.py`: only it and
the scripts whose findings used its summary may be re-analysed. Each check runs as a subprocess
(`freezelint check --format json`); the printed figures are medians, with ratios to the cold run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "projects" / "split_bad"

SCRIPT = """
import torch

from engine import train_one_epoch
from models import Net

model = Net()
optimizer = torch.optim.SGD(model.head.parameters(), lr=0.1)
model.freeze_bn()
for epoch in range({i}):
    train_one_epoch(model, loader, optimizer, criterion)
"""

UNRELATED = """
import math


def schedule_{i}(step, warmup=100):
    return min(1.0, step / warmup) * 0.5 * (1 + math.cos(math.pi * step / 1000))
"""


def build(dest: Path, n: int) -> None:
    shutil.copytree(FIXTURE, dest)
    for i in range(n):
        (dest / f"run_{i}.py").write_text(SCRIPT.format(i=i + 1))
    for i in range(n // 2):
        (dest / f"util_{i}.py").write_text(UNRELATED.format(i=i))


def check(root: Path, *extra: str) -> tuple[float, list]:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "freezelint", "check", "--format", "json", "--exit-zero",
                        "--no-progress", *extra, "."], cwd=root, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"check failed: {p.stderr.strip()}")
    return wall, json.loads(p.stdout)


def analysed(root: Path) -> int:
    """Files analysed by the last run: the engine's entries written since the marker."""
    marker = root / ".marker"
    return sum(1 for f in (root / ".freezelint_cache").rglob("*")
               if f.is_file() and len(f.name) == 40 and "summaries" not in f.parts
               and f.stat().st_mtime_ns > marker.stat().st_mtime_ns)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    cold, warm, edited, counts = [], [], [], set()
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "proj"
            build(root, args.files)
            total = sum(1 for _ in root.rglob("*.py"))
            t, found = check(root)
            cold.append(t)
            t, again = check(root)
            warm.append(t)
            assert again == found
            (root / ".marker").write_text("")
            time.sleep(0.05)
            engine = root / "engine.py"
            engine.write_text(engine.read_text().replace("model.train()", "model.train()\n    model.freeze_bn()"))
            t, after = check(root)
            edited.append(t)
            counts.add(analysed(root))
            assert not [d for d in after if d["code"] == "FZ201"], "the edit re-applies the freeze"
            assert len([d for d in found if d["code"] == "FZ201"]) == args.files + 1
    c, w, e = (statistics.median(x) for x in (cold, warm, edited))
    print(f"project: {total} files ({args.files} scripts importing engine.py and models/, "
          f"{args.files // 2} unrelated), rounds: {args.rounds}")
    print(f"cold check:                         {c:7.3f} s  1.00")
    print(f"warm, nothing changed:              {w:7.3f} s  {w / c:.2f} of cold")
    print(f"warm, engine.py edited:             {e:7.3f} s  {e / c:.2f} of cold")
    print(f"files re-analysed after the edit:   {sorted(counts)} of {total} "
          f"(engine.py and the {args.files + 1} scripts whose findings used its summary)")


if __name__ == "__main__":
    main()
