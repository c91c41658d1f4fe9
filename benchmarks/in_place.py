"""One file checked inside its project against the same file checked alone, in one run.

    python benchmarks/in_place.py --compare /tmp/base          # unsloth-zoo's mlx/trainer.py, 3 rounds
    python benchmarks/in_place.py --project DIR --file REL --compare /tmp/base --rounds 5
    python benchmarks/in_place.py --tiny                        # tests/projects/split_bad (CI smoke)

A pre-commit hook checks the changed files, and the project layer reads the other files of the
project for them (summaries of the helpers a file calls, its base classes): the file checked in
place costs more than the same file copied alone into an empty directory. This prints both
(`check --no-cache --exit-zero --jobs 1`, each a subprocess, CPU = user+sys of the child, medians
over alternating rounds), their ratio, and with `--compare TREE` (another freezelint source tree,
e.g. `git archive <base> | tar -x -C /tmp/base`) the same for that tree, run alternately with
this one's, and the ratios of this tree's figures to the base's. It says whether the findings in
place and alone are the same, and whether this tree's are the base's.

The default project is unsloth-zoo 2026.10.9 (`pip download --no-deps`, unpacked under
~/.cache/freezelint-bench/ or $FREEZELINT_BENCH_DIR): 263 files, 241k lines, its
`unsloth_zoo/mlx/trainer.py` (11k lines) calling helpers of large files of its own.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(os.environ.get("FREEZELINT_BENCH_DIR", Path.home() / ".cache" / "freezelint-bench"))
PROJECT = ("unsloth-zoo", "2026.10.9", "unsloth_zoo/mlx/trainer.py")


def tree_env(tree: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as an installed package runs (check_speed.tree_env)
    return env


def prepare_project() -> Path:
    """unsloth-zoo's wheel, unpacked once (no dependencies: only its source is read)."""
    name, version, _ = PROJECT
    dest = BENCH / f"{name}-{version}"
    if not dest.is_dir():
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp,
                            f"{name}=={version}"], check=True)
            wheel = next(Path(tmp).glob("*.whl"))
            with zipfile.ZipFile(wheel) as z:
                z.extractall(dest)
    return dest


def check(tree: Path, cwd: Path, target: str) -> tuple[float, float, str]:
    """Wall and child CPU seconds of one check, and its findings."""
    cmd = [sys.executable, "-m", "freezelint", "check", "--no-cache", "--exit-zero", "--jobs", "1",
           "--format", "concise", target]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, env=tree_env(tree), capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise SystemExit(f"check failed ({tree}): {p.stderr.strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, "\n".join(sorted(line for line in p.stdout.splitlines() if ":" in line))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--project", type=Path, help="the project's root (default: unsloth-zoo, downloaded)")
    ap.add_argument("--file", help="the file to check, relative to the project's root")
    ap.add_argument("--compare", metavar="TREE", type=Path, help="a base freezelint source tree")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tiny", action="store_true", help="tests/projects/split_bad's train.py, 1 round")
    args = ap.parse_args()

    if args.tiny:
        project, rel, rounds = ROOT / "tests" / "projects" / "split_bad", "train.py", 1
    else:
        project = args.project.resolve() if args.project else prepare_project()
        rel, rounds = args.file or PROJECT[2], max(1, args.rounds)
    alone_dir = Path(tempfile.mkdtemp(prefix="fz-alone-"))
    shutil.copy(project / rel, alone_dir / Path(rel).name)
    trees = {"": ROOT, **({"base ": args.compare.resolve()} if args.compare else {})}
    runs = {f"{label}{where}": [] for label in trees for where in ("in place", "alone")}
    found: dict[str, str] = {}
    try:
        for _ in range(rounds):
            for label, tree in trees.items():
                for where, cwd, target in (("in place", project, rel), ("alone", alone_dir, Path(rel).name)):
                    wall, cpu, findings = check(tree, cwd, target)
                    runs[f"{label}{where}"].append((wall, cpu))
                    found[f"{label}{where}"] = findings
    finally:
        shutil.rmtree(alone_dir, ignore_errors=True)

    def med(name: str, i: int) -> float:
        return statistics.median(r[i] for r in runs[name])

    print(f"project: {project}; file: {rel}; rounds: {rounds}")
    print(f"{'command':<22}{'wall (median)':>15}{'cpu (median)':>14}")
    for name in runs:
        print(f"{name:<22}{med(name, 0):>14.2f}s{med(name, 1):>13.2f}s")
    for label in trees:
        ratio = med(f"{label}in place", 1) / med(f"{label}alone", 1)
        same = "same" if found[f"{label}in place"] == found[f"{label}alone"] else "differ"
        print(f"ratio {label}in place / {label}alone (cpu): {ratio:.2f}; findings {same}")
    if args.compare:
        for where in ("in place", "alone"):
            print(f"ratio {where} / base {where} (cpu): {med(where, 1) / med(f'base {where}', 1):.2f}")
        same = all(found[w] == found[f"base {w}"] for w in ("in place", "alone"))
        print(f"findings as the base's: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
