"""Every example is a runnable script: the mistakes in them are silent, so they all run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT, needs_gloo

pytest.importorskip("torch")

RUNNER = """
import runpy, sys, pathlib, io, contextlib
ran = []
for path in sys.argv[1:]:
    p = pathlib.Path(path)
    sys.path.insert(0, str(p.parent))
    argv, sys.argv = sys.argv, [str(p)]  # as `python script.py` runs it: no arguments of its own
    with contextlib.redirect_stdout(io.StringIO()):
        runpy.run_path(str(p), run_name="__main__")
    sys.argv = argv
    sys.path.pop(0)
    ran.append(p.name)
print("ran", len(ran))
"""


LAUNCHED = {"ddp_finetune.py", "fsdp_finetune.py"}  # need a launcher: tested below


def test_all_example_scripts_run():
    scripts = sorted(str(p) for p in (ROOT / "examples").rglob("*.py")
                     if not p.name.startswith("_") and p.name not in LAUNCHED)
    p = subprocess.run([sys.executable, "-c", RUNNER, *scripts], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    assert p.stdout.strip() == f"ran {len(scripts)}"


def torchrun(*args: str) -> subprocess.CompletedProcess:
    """Two CPU ranks under torch.distributed.run, as a user would launch them."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, env={**os.environ, "OMP_NUM_THREADS": "1"})


@needs_gloo()
@pytest.mark.parametrize("fixed", [False, True], ids=["bug", "fixed"])
def test_ddp_example_under_torchrun(fixed):
    p = torchrun(str(ROOT / "examples" / "ddp_finetune.py"), *(["--fixed"] if fixed else []))
    assert p.stdout.count("freeze audit:") == 1, p.stdout + p.stderr[-2000:]  # rank 0 prints the report
    if fixed:
        assert p.returncode == 0 and "freeze audit: OK" in p.stdout, p.stdout + p.stderr[-2000:]
    else:
        assert p.returncode != 0
        assert "FZ306 freeze-after-ddp [layer4]" in p.stdout and "FZ508 rank-divergence [layer4]" in p.stdout


@needs_gloo()
def test_audit_cli_under_torchrun_prints_once_and_fails_on_every_rank():
    p = torchrun("-m", "freezelint", "audit", str(ROOT / "examples" / "ddp_finetune.py") + ":make", "--format", "json")
    report = json.loads(p.stdout)  # one JSON document: only rank 0 printed
    assert p.returncode != 0 and "exitcode  : 1" in p.stderr  # each rank exits 1 on findings
    assert report["world_size"] == 2 and sorted(f["code"] for f in report["findings"]) == ["FZ306", "FZ508"]


@needs_gloo()
def test_fsdp_example_fixed_under_torchrun_is_clean():
    p = torchrun(str(ROOT / "examples" / "fsdp_finetune.py"), "--fixed")
    assert p.returncode == 0 and p.stdout.count("freeze audit: OK") == 1, p.stdout + p.stderr[-2000:]
    assert "FSDP2, parameters sharded" in p.stdout


@needs_gloo()
def test_audit_cli_under_torchrun_finds_a_rank_dependent_freeze_without_hanging():
    # the ranks decide differently whether to unfreeze the last block: a real step would hang
    p = torchrun("-m", "freezelint", "audit", str(ROOT / "examples" / "fsdp_finetune.py") + ":make", "--format", "json")
    report = json.loads(p.stdout)
    assert p.returncode != 0 and report["steps"] == 0 and report["sharding"] == "FSDP2"
    assert [f["code"] for f in report["findings"]] == ["FZ507"]
    assert report["findings"][0]["target"] == "blocks.2"
    assert "frozen on rank 1 but trainable on rank 0" in report["findings"][0]["message"]
