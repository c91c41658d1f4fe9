"""Checker speed against ruff, TorchFix, Fixit and the bare libcst parse, in one run.

    python benchmarks/check_speed.py                 # real corpus, 3 alternating rounds
    python benchmarks/check_speed.py --rounds 5
    python benchmarks/check_speed.py --packages timm torchvision   # a subset of the corpus
    python benchmarks/check_speed.py --installed --packages timm torchvision --no-others
                                                     # corpus copied from this environment's
                                                     # packages; ruff and freezelint only
    python benchmarks/check_speed.py --installed --packages timm torchvision --others torchfix
                                                     # the cold ratio against TorchFix alone
    python benchmarks/check_speed.py --tiny          # examples/ only, no other tools (CI smoke)
    python benchmarks/check_speed.py --paths /tmp/unsloth --cold-only --compare d638ce6
                                                     # cold checks of any tree, before/after a commit

Warm path targets (issue 16): freezelint's warm re-check of the corpus within 2x of ruff's warm
re-check (`ruff check --select F`, its own cache primed); a single file with no freezing
vocabulary (cold, no cache) within 3x of `python -c pass`. Both ratios are printed.

The corpus is the source of pip-installed timm, torchvision and transformers (pinned below),
installed with `pip install --no-deps --target` into ~/.cache/freezelint-bench/ (or
$FREEZELINT_BENCH_DIR; outside the repository, since Fixit skips git-ignored paths).
TorchFix pins libcst<1.6, so it and Fixit live in their own virtual environments there.
Every command runs as a subprocess; wall and CPU time (user+sys of the children) are taken
per run, tools alternate within each round, and medians are printed with the ratios.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Outside the repository: Fixit honours .gitignore and would skip a corpus inside it.
BENCH = Path(os.environ.get("FREEZELINT_BENCH_DIR", Path.home() / ".cache" / "freezelint-bench"))
CORPUS_PACKAGES = {"timm": "1.0.31", "torchvision": "0.29.1", "transformers": "5.24.0"}
TOOLS = {"torchfix": ["torchfix==0.7.0"], "fixit": ["fixit==2.2.1"]}

PARSE_FLOOR = """
import sys, libcst
from pathlib import Path
n = 0
for root in sys.argv[1:]:
    for p in sorted(Path(root).rglob("*.py")):
        try:
            libcst.parse_module(p.read_bytes())
        except Exception:
            pass
        n += 1
print(n)
"""

COUNTS = """
import sys
from freezelint.check.runner import check_paths
from freezelint.config import Config
from pathlib import Path
r = check_paths(sys.argv[1:], Config(root=Path.cwd()), use_cache=False)
print(r.files, r.parsed, r.skipped, len(r.diagnostics))
"""


def tree_env(tree: Path) -> dict[str, str]:
    """Run `python -m freezelint` from this source tree (and from it as the working directory:
    `-m` puts the working directory first on sys.path), with bytecode caching on as in an
    installed package: under PYTHONDONTWRITEBYTECODE every run would compile freezelint's
    modules from source again (tens of ms that no installed tool pays)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run(cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None,
        out: Path | None = None) -> tuple[float, float]:
    """Wall and child CPU seconds of one command (its exit status is not judged); its output
    goes to `out` where one is named."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    with open(out if out is not None else os.devnull, "wb") as sink:
        subprocess.run(cmd, cwd=cwd, env=env, stdout=sink, stderr=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def prepare_corpus(packages: list[str]) -> list[Path]:
    target = BENCH / "corpus"
    roots = [target / name for name in packages]
    if not all(r.is_dir() for r in roots):
        specs = [f"{k}=={v}" for k, v in CORPUS_PACKAGES.items()]
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                        *specs], check=True)
    return roots


def copy_installed(packages: list[str]) -> list[Path]:
    """The corpus from this environment's installed packages (no download), copied outside
    site-packages so that no tool's default exclusions apply to it."""
    import importlib.util

    target = BENCH / "corpus-installed"
    roots = []
    for name in packages:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise SystemExit(f"{name} is not installed here; drop --installed to pip-install the corpus")
        dest = target / name
        if not dest.is_dir():
            shutil.copytree(next(iter(spec.submodule_search_locations)), dest,
                            ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.pyc"))
        roots.append(dest)
    return roots


def base_tree(given: Path) -> Path:
    """The source tree to compare with: a directory, or a git revision of this repository
    exported once (with the compiled helper of this tree, which git does not hold)."""
    if given.is_dir():
        return given.resolve()
    rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", f"{given}^{{commit}}"],
                         capture_output=True, text=True)
    if rev.returncode != 0:
        raise SystemExit(f"--compare {given}: neither a directory nor a git revision")
    dest = BENCH / f"tree-{rev.stdout.strip()[:12]}"
    if not dest.is_dir():
        tmp = dest.with_name(dest.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev.stdout.strip()], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive.stdout, check=True)
        for so in (ROOT / "freezelint" / "runtime").glob("_fold*.so"):
            shutil.copy2(so, tmp / "freezelint" / "runtime")
        tmp.rename(dest)
    return dest


def prepare_tool(name: str) -> Path | None:
    venv = BENCH / f"venv-{name}"
    exe = venv / "bin" / name
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        proc = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *TOOLS[name]])
        if proc.returncode != 0:
            return None
    return exe


def corpus_size(roots: list[Path]) -> tuple[int, int]:
    files = [p for r in roots for p in r.rglob("*.py")]
    return len(files), sum(p.stat().st_size for p in files)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tiny", action="store_true", help="examples/ only, freezelint and the parse floor")
    ap.add_argument("--packages", nargs="+", default=list(CORPUS_PACKAGES), choices=list(CORPUS_PACKAGES))
    ap.add_argument("--installed", action="store_true", help="copy the corpus from the installed packages")
    ap.add_argument("--no-others", action="store_true", help="skip TorchFix and Fixit (ruff still runs)")
    ap.add_argument("--others", nargs="+", default=list(TOOLS), choices=list(TOOLS),
                    help="which of the slow tools to run (default: all)")
    ap.add_argument("--no-floor", action="store_true", help="skip the libcst parse floor (the slowest command)")
    ap.add_argument("--compare", metavar="TREE", type=Path,
                    help="another freezelint source tree, or a git revision of this repository (exported "
                         "once): its cold, warm and plain-file runs alternate with this tree's, for "
                         "before/after figures in one run")
    ap.add_argument("--paths", nargs="+", type=Path, metavar="DIR",
                    help="check these directories instead of the pinned corpus (e.g. an unpacked wheel)")
    ap.add_argument("--cold-only", action="store_true",
                    help="only the cold checks (and the base's): no warm, plain-file, ruff or other tools")
    args = ap.parse_args()

    if args.tiny:
        roots, rounds = [ROOT / "examples"], 1
        tools: dict[str, Path | None] = {}
    else:
        BENCH.mkdir(parents=True, exist_ok=True)
        if args.paths:
            roots = [p.resolve() for p in args.paths]
        else:
            roots = copy_installed(args.packages) if args.installed else prepare_corpus(args.packages)
        rounds = max(3, args.rounds)
        tools = {} if args.no_others or args.cold_only else {name: prepare_tool(name) for name in args.others}
    files, size = corpus_size(roots)
    paths = [str(r) for r in roots]
    scratch = BENCH if not args.tiny else Path(os.environ.get("TMPDIR", "/tmp"))
    cache = scratch / ("fz-cache" if not args.tiny else "fz-bench-cache")
    fz = [sys.executable, "-m", "freezelint", "check", "--exit-zero", "--quiet", "--format", "concise"]
    plain = scratch / "no_vocabulary.py"  # a file no rule's text trigger admits
    plain.write_text("import os\n\n\ndef main():\n    return sorted(os.listdir('.'))\n")
    commands: dict[str, list[str]] = {
        "freezelint cold": [*fz, "--no-cache", *paths],
        "freezelint warm": [*fz, "--cache-dir", str(cache), *paths],
        "libcst parse floor": [sys.executable, "-c", PARSE_FLOOR, *paths],
        "python -c pass": [sys.executable, "-c", "pass"],
        "freezelint 1 plain file": [*fz, "--no-cache", str(plain)],
    }
    if args.no_floor or args.cold_only:
        del commands["libcst parse floor"]
    compared = ("freezelint cold",) if args.cold_only else ("freezelint cold", "freezelint warm",
                                                            "freezelint 1 plain file")
    if args.cold_only:
        commands = {"freezelint cold": commands["freezelint cold"]}
    trees = {"": ROOT}
    if args.compare:
        trees["base "] = base_tree(args.compare)
        for name in compared:
            cmd = commands[name]
            if name == "freezelint warm":
                cmd = [*fz, "--cache-dir", str(scratch / "fz-cache-base"), *paths]
            commands["base " + name] = cmd
    ruff = shutil.which("ruff") if not args.cold_only else None
    if ruff:
        commands["ruff warm"] = [ruff, "check", "--select", "F", "--exit-zero", "--quiet",
                                 "--cache-dir", str(scratch / "ruff-cache"), *paths]
    if tools.get("torchfix"):
        commands["torchfix --select=ALL"] = [str(tools["torchfix"]), "--select=ALL", *paths]
    if tools.get("fixit"):
        commands["fixit lint"] = [str(tools["fixit"]), "lint", *paths]

    def where(name: str) -> tuple[Path | None, dict[str, str] | None]:
        if "freezelint" not in name:
            return None, None
        tree = trees["base "] if name.startswith("base ") else ROOT
        return tree, tree_env(tree)

    for primed in ("freezelint warm", "base freezelint warm", "ruff warm"):
        if primed in commands:
            subprocess.run(commands[primed], cwd=where(primed)[0], env=where(primed)[1],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in commands}
    outputs = {name: scratch / f"{name.replace(' ', '-')}.out" for name in ("freezelint cold", "base freezelint cold")
               if name in commands}
    for _ in range(rounds):
        for name, cmd in commands.items():
            times[name].append(run(cmd, *where(name), out=outputs.get(name)))
    verdict = ""
    if len(outputs) == 2:  # a speed change must not change what is found
        found = [findings(path, where(name)[0]) for name, path in outputs.items()]
        verdict = (f"findings of the cold checks: {'the same' if found[0] == found[1] else 'DIFFERENT'} in both "
                   f"trees ({len(found[0])} and {len(found[1])} lines; {', '.join(map(str, outputs.values()))})")

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    if args.cold_only:  # no second pass for counts (a cold check of a large tree takes minutes)
        print(f"paths: {' '.join(paths)}\nfiles: {files} .py, {size / 1e6:.1f} MB")
        report(times, compared if args.compare else ())
        print(verdict)
        return
    counts = subprocess.run([sys.executable, "-c", COUNTS, *paths], capture_output=True, text=True,
                            cwd=ROOT, env=tree_env(ROOT)).stdout.split()
    single = ROOT / "examples" / "finetune_resnet.py"
    one = [run([*fz, "--no-cache", str(single)], ROOT, tree_env(ROOT))[0] for _ in range(1 if args.tiny else 5)]
    imp = subprocess.run([sys.executable, "-X", "importtime", "-c", "import freezelint.cli"],
                         capture_output=True, text=True, cwd=ROOT, env=tree_env(ROOT)).stderr.splitlines()
    cli_import_us = next((int(l.split("|")[1]) for l in reversed(imp) if l.strip().endswith("freezelint.cli")), 0)

    if args.paths:
        print(f"paths: {' '.join(paths)}")
    elif not args.tiny:
        print("corpus: " + ", ".join(f"{k} {v}" for k, v in CORPUS_PACKAGES.items() if k in args.packages))
    print(f"files: {files} .py, {size / 1e6:.1f} MB; freezelint parsed {counts[1] if counts else '?'}, "
          f"skipped by text triggers {counts[2] if counts else '?'}, findings {counts[3] if counts else '?'}")
    med = report(times, compared if args.compare else ())
    if verdict:
        print(verdict)
    cold = med["freezelint cold"][0]
    for other in ("torchfix --select=ALL", "fixit lint", "libcst parse floor"):
        if other in med:
            print(f"ratio freezelint cold / {other}: {cold / med[other][0]:.3f}")
    if "ruff warm" in med:
        print(f"ratio freezelint warm / ruff warm: {med['freezelint warm'][0] / med['ruff warm'][0]:.3f} "
              f"(target <= 2)")
    print(f"ratio freezelint 1 plain file / python -c pass: "
          f"{med['freezelint 1 plain file'][0] / med['python -c pass'][0]:.3f} (target <= 3)")
    print(f"warm per 1000 files: {med['freezelint warm'][0] / max(files, 1) * 1000:.2f}s")
    print(f"single file (pre-commit), wall incl. start-up: median {statistics.median(one):.3f}s; "
          f"`import freezelint.cli`: {cli_import_us / 1000:.0f} ms cumulative")


def findings(output: Path, cwd: Path) -> list[str]:
    """The lines of a concise report, each file's path made absolute (each tree runs in its own
    directory), sorted."""
    lines = []
    for line in output.read_text(errors="replace").splitlines():
        path, sep, rest = line.partition(":")
        lines.append(os.path.normpath(cwd / path) + sep + rest if sep and (cwd / path).is_file() else line)
    return sorted(lines)


def report(times: dict[str, list[tuple[float, float]]], compared) -> dict[str, tuple[float, float]]:
    """Print the medians of wall and CPU time of each command, and this tree's ratios to the
    base's for the `compared` commands; return the medians."""
    print(f"{'command':<24} {'wall (median)':>14} {'cpu (median)':>13}  runs")
    med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in times.items()}
    for name, (w, c) in med.items():
        print(f"{name:<24} {w:>13.2f}s {c:>12.2f}s  {len(times[name])}")
    for name in compared:
        print(f"ratio {name} / base {name}: {med[name][0] / med['base ' + name][0]:.3f} "
              f"(cpu {med[name][1] / max(med['base ' + name][1], 1e-9):.3f})")
    return med


if __name__ == "__main__":
    main()
