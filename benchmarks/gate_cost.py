"""What the text gates cost: every selected rule's words, triggers and requirements run over the
text of each file of a corpus, as `freezelint check` does before it parses anything (a file that no
gate admits is never parsed). On a tree where few files mention freezing this is most of a cold
run's serial work.

    python benchmarks/gate_cost.py [--packages timm torchvision] [--rounds 5] [--compare TREE]

The corpus is the installed packages' .py files, read once into memory (no disk in the timing).
Each round times `Prefilter(all rules).search` over every text in a fresh process per tree, this
tree's and `--compare TREE`'s (another freezelint source tree, e.g. `git worktree add --detach
/tmp/base <rev>`) alternating, and prints the minimum, the median, how many files each admits
(the same number, or the gates changed what is parsed) and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHILD = r"""
import glob, importlib.util, json, os, sys, time
def where(p):  # `timm/layers`: found where python imports timm from (a venv's system site too)
    spec = importlib.util.find_spec(p.split("/")[0])
    return os.path.join(os.path.dirname(spec.submodule_search_locations[0]), p)
files = sorted(f for p in sys.argv[1:] for f in glob.glob(os.path.join(where(p), "**", "*.py"), recursive=True))
texts = [open(f, encoding="utf-8", errors="replace").read() for f in files]
from freezelint.check.prefilter import Prefilter
from freezelint.check.rules import ALL_RULES
pre = Prefilter(frozenset(r.code for r in ALL_RULES))
pre.search(texts[0])  # compiled before the timing
t = time.perf_counter()
admitted = sum(1 for x in texts if pre.search(x))
print(json.dumps({"seconds": time.perf_counter() - t, "admitted": admitted, "files": len(texts),
                  "megabytes": sum(map(len, texts)) / 1e6}))
"""


def run(tree: str, packages: list[str]) -> dict:
    env = {**os.environ, "PYTHONPATH": tree}
    out = subprocess.run([sys.executable, "-c", CHILD, *packages], env=env, capture_output=True, text=True,
                         check=True, cwd="/")
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--packages", nargs="+", default=["timm", "torchvision"])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--compare", metavar="TREE", help="another freezelint source tree to time alternately")
    args = ap.parse_args()
    trees = {"this tree": HERE, **({"compare": os.path.abspath(args.compare)} if args.compare else {})}
    times: dict[str, list[float]] = {k: [] for k in trees}
    last: dict[str, dict] = {}
    for _ in range(args.rounds):
        for label, tree in trees.items():
            last[label] = r = run(tree, args.packages)
            times[label].append(r["seconds"])
    first = next(iter(last.values()))
    print(f"corpus: {' + '.join(args.packages)} (installed), {first['files']} files, {first['megabytes']:.1f} MB; "
          f"{args.rounds} rounds")
    for label, tree in trees.items():
        ts = times[label]
        print(f"{label:<10} min {min(ts):.2f}s  median {statistics.median(ts):.2f}s  admitted {last[label]['admitted']}"
              f"  ({tree})")
    if args.compare:
        print(f"ratio this tree / compare: min {min(times['this tree']) / min(times['compare']):.2f}, "
              f"median {statistics.median(times['this tree']) / statistics.median(times['compare']):.2f}")


if __name__ == "__main__":
    main()
