from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from freezelint.cli import main

ROOT = Path(__file__).resolve().parent.parent
pytest_plugins = ["pytester"]

# Under pytest-xdist each worker is one of several processes sharing the cores: one intra-op
# thread each (and in the processes the tests start), so torch's pools do not oversubscribe them.
if os.environ.get("PYTEST_XDIST_WORKER") and "OMP_NUM_THREADS" not in os.environ:
    os.environ["OMP_NUM_THREADS"] = "1"
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run the CLI in-process: cli(tmp_path, "check", ".")."""

    def run(cwd: Path, *args: str) -> Result:
        monkeypatch.chdir(cwd)
        monkeypatch.setenv("NO_COLOR", "1")
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def needs_gloo() -> pytest.MarkDecorator:
    """Skip marker for tests that start CPU ranks; imports torch only when a module asks for it."""
    try:
        import torch.distributed as dist
    except ImportError:
        available = False
    else:
        available = dist.is_available() and dist.is_gloo_available()
    return pytest.mark.skipif(not available, reason="torch.distributed with gloo is not available")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    # the tests of a shared launch (gloo_ranks and torchrun_ranks, one_process_runs) run on one
    # xdist worker with --dist loadgroup, so it is launched once; before xdist's hook, which reads
    # the group
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "gloo_ranks" in names or "torchrun_ranks" in names:
            item.add_marker(pytest.mark.xdist_group("ranks"))
        elif "one_process_runs" in names:
            item.add_marker(pytest.mark.xdist_group("one_process"))


@dataclass
class Ranks:
    """One scenario's run on each rank of the shared torchrun launch (torchrun_ranks)."""
    codes: list[int]  # each rank's exit status
    outs: list[str]
    errs: list[str]

    @property
    def out(self) -> str:
        """Every rank's stdout, as the terminal of `torchrun` shows them (rank 0's first)."""
        return "".join(self.outs)

    @property
    def err(self) -> str:
        return "".join(self.errs)


def _modules_asking(request, fixture: str, attribute: str) -> dict[str, object]:
    """module name -> its `attribute`, for every collected module with a test that uses `fixture`."""
    return {m.__name__: getattr(m, attribute) for item in request.session.items
            if fixture in getattr(item, "fixturenames", ())
            and (m := getattr(item, "module", None)) is not None and hasattr(m, attribute)}


@pytest.fixture(scope="session")
def _ranks_launch(request, tmp_path_factory):
    """ONE `torchrun --standalone --nproc-per-node 2` for gloo_ranks and torchrun_ranks: its ranks
    run every scenario one after another (tests/torchrun_scenarios.py). A launch costs the agent's
    and each rank's torch start-up, and the torch._dynamo import of a rank's first optimizer:
    more than most scenarios."""
    root = tmp_path_factory.mktemp("ranks")
    jobs = []
    for scenarios in sorted(set(_modules_asking(request, "gloo_ranks", "RANK_SCENARIOS").values())):
        (root / scenarios).mkdir()
        jobs += [(scenarios, name, str(root / scenarios)) for name in importlib.import_module(scenarios).SCENARIOS]
    spec: list[dict] = [{"rank_jobs": jobs}] if jobs else []
    for module, scenarios in sorted(_modules_asking(request, "torchrun_ranks", "TORCHRUN_SCENARIOS").items()):
        for name, (files, argv) in scenarios.items():
            cwd = root / module / name
            cwd.mkdir(parents=True)
            for file, text in files.items():
                write(cwd / file, text)
            spec.append({"cwd": str(cwd), "argv": [str(a) for a in argv]})
    (root / "spec.json").write_text(json.dumps(spec))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NO_COLOR": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    p = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                        str(ROOT / "tests" / "torchrun_scenarios.py"), str(root / "spec.json")],
                       capture_output=True, text=True, timeout=300, env=env)
    (root / "torchrun.out").write_text(p.stdout)  # the agent's and each rank's own lines: a C++ abort's
    (root / "torchrun.err").write_text(p.stderr)  # message, faulthandler's stacks
    assert p.returncode == 0, f"the shared torchrun launch failed:\n{p.stdout[-2000:]}{p.stderr[-5000:]}"
    return root


@pytest.fixture(scope="session")
def gloo_ranks(_ranks_launch):
    """The rank scenarios of every collected module that asks for them (its RANK_SCENARIOS names
    a scenarios module) on the 2 gloo ranks of the shared launch, in one process group. Returns
    load(module, name): each rank's result."""

    def load(module: str, name: str) -> list[dict]:
        results = [json.loads((_ranks_launch / module / f"{name}.{rank}.json").read_text()) for rank in range(2)]
        for rank, r in enumerate(results):
            assert "error" not in r, f"rank {rank} of {module}.{name} raised:\n{r['error']}"
        return results

    return load


@pytest.fixture(scope="session")
def torchrun_ranks(_ranks_launch):
    """The torchrun scenarios of every collected module that asks for them (its TORCHRUN_SCENARIOS:
    name -> (files to write into the scenario's folder, the argv after `torchrun ... `)), each
    run by both ranks of the shared launch as `torchrun` would run it. Returns load(module, name)."""

    def load(module: str, name: str) -> Ranks:
        cwd = _ranks_launch / module / name
        results = [json.loads((cwd / f"rank{r}.json").read_text()) for r in range(2)]
        outs = [(cwd / f"rank{r}.out").read_text() for r in range(2)]
        errs = [(cwd / f"rank{r}.err").read_text() for r in range(2)]
        for rank, r in enumerate(results):
            assert "error" not in r, f"rank {rank} of {module}.{name} raised:\n{r['error']}"
        return Ranks([r["code"] for r in results], outs, errs)

    return load


@pytest.fixture(scope="session")
def one_process_runs(request, tmp_path_factory):
    """The runs of every collected module that asks for them (its ONE_PROCESS_RUNS: name -> the
    argv after `python`), one after another in ONE fresh interpreter (tests/one_process.py), each
    in its own empty folder: for tests of what a script prints and exits with, whose interpreter's
    start-up (torch, torchvision: seconds of CPU) is not what they test. Returns load(module, name)."""
    modules = _modules_asking(request, "one_process_runs", "ONE_PROCESS_RUNS")
    root = tmp_path_factory.mktemp("one_process")
    spec = []
    for module, runs in sorted(modules.items()):
        for name, argv in runs.items():
            (root / module / name).mkdir(parents=True)
            spec.append({"cwd": str(root / module / name), "argv": [str(a) for a in argv]})
    (root / "spec.json").write_text(json.dumps(spec))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    p = subprocess.run([sys.executable, str(ROOT / "tests" / "one_process.py"), str(root / "spec.json")],
                       capture_output=True, text=True, timeout=600, env=env)

    def load(module: str, name: str) -> Result:
        assert p.returncode == 0, f"the shared process failed:\n{p.stdout[-2000:]}{p.stderr[-3000:]}"
        cwd = root / module / name
        result = json.loads((cwd / "run.json").read_text())
        assert "error" not in result, f"{module}.{name} raised:\n{result['error']}"
        return Result(result["code"], (cwd / "run.out").read_text(), (cwd / "run.err").read_text())

    return load


def run_subprocess(cwd: Path, *args: str, stdin: str | None = None) -> Result:
    env = {**os.environ, "NO_COLOR": "1"}
    p = subprocess.run([sys.executable, "-m", "freezelint", *args], cwd=cwd, capture_output=True,
                       text=True, env=env, input=stdin, timeout=120)
    return Result(p.returncode, p.stdout, p.stderr)


def write(path: Path, text: str, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), **kw)
    return path


BAD_MODULE = """
import torch.nn as nn
layer = nn.Linear(2, 2)
layer.requires_grad = False
"""
