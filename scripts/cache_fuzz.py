"""Random edits to the cross-file test projects: after each one, a warm (cached) check must say
what a cold one (`--no-cache`) says.

    python scripts/cache_fuzz.py                 # seeds 0-9, 6 edits per project
    python scripts/cache_fuzz.py --seeds 30 60   # seeds 30..59
    python scripts/cache_fuzz.py --steps 10

Each project of tests/projects is copied with old metadata, checked twice (the second run warm),
then edited step by step (a line deleted, duplicated, or taken from another of its files and
inserted; a file added as a copy of another; a file removed), each edit with later metadata.
A mismatch prints the seed, project, step and both results, keeps the tree under
$TMPDIR/cache_fuzz/ and ends that project's run. tests/test_cache_replay.py runs the
deterministic part of this (each pair turned into its twin, file by file) in the suite; this
script is for looking further, in the manner of a fuzzer. Runs in-process (about 10 s a seed).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from freezelint.cli import main  # noqa: E402

PROJECTS = ROOT / "tests" / "projects"
OLD = 10**9 * (int(time.time()) - 3600)  # old enough for metadata to be trusted


def _codes(root: Path, *args: str) -> list[tuple]:
    out = io.StringIO()
    cwd = os.getcwd()
    os.chdir(root)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            main(["check", "--format", "json", *args, "."])
    finally:
        os.chdir(cwd)
    return sorted((d["filename"], d["location"]["row"], d["code"]) for d in json.loads(out.getvalue()))


def _edit(rng: random.Random, tree: Path, pool: list[str], step: int) -> str:
    files = sorted(tree.rglob("*.py"))
    f = rng.choice(files)
    ops = ["delete", "duplicate", "insert", "copy"] + (["remove"] if len(files) > 1 else [])
    op = rng.choice(ops)
    if op == "remove":
        f.unlink()
        return f"remove {f.relative_to(tree)}"
    lines = f.read_text().splitlines()
    if op == "delete" and lines:
        del lines[rng.randrange(len(lines))]
    elif op == "duplicate" and lines:
        i = rng.randrange(len(lines))
        lines.insert(i, lines[i])
    elif op == "insert":
        lines.insert(rng.randrange(len(lines) + 1), rng.choice(pool))
    elif op == "copy":
        f = tree / f"extra{step}.py"
    f.write_text("\n".join(lines) + "\n")
    t = OLD + (step + 1) * 10**9
    os.utime(f, ns=(t, t))
    return f"{op} {f.relative_to(tree)}"


def fuzz(seed: int, steps: int) -> int:
    rng = random.Random(seed)
    mismatches = 0
    for project in sorted(d for d in PROJECTS.iterdir() if d.is_dir()):
        tree = Path(tempfile.mkdtemp()) / "p"
        shutil.copytree(project, tree, ignore=shutil.ignore_patterns("__pycache__"))
        for f in tree.rglob("*"):
            os.utime(f, ns=(OLD, OLD))
        _codes(tree)
        _codes(tree)
        pool = [line for f in project.rglob("*.py") for line in f.read_text().splitlines() if line.strip()]
        for step in range(steps):
            what = _edit(rng, tree, pool, step)
            warm, cold = _codes(tree), _codes(tree, "--no-cache")
            if warm != cold:
                mismatches += 1
                kept = Path(tempfile.gettempdir()) / "cache_fuzz" / f"{seed}_{project.name}_{step}"
                shutil.copytree(tree, kept, dirs_exist_ok=True)
                print(f"MISMATCH seed {seed} {project.name} step {step} ({what}): kept in {kept}\n"
                      f"  warm {warm}\n  cold {cold}", flush=True)
                break
        shutil.rmtree(tree.parent)
    return mismatches


def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs=2, default=[0, 10], metavar=("FIRST", "END"))
    parser.add_argument("--steps", type=int, default=6)
    args = parser.parse_args(argv)
    total = 0
    for seed in range(*args.seeds):
        found = fuzz(seed, args.steps)
        print(f"seed {seed}: {found} mismatch{'es' if found != 1 else ''}", flush=True)
        total += found
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(run())
