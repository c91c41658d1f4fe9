"""The benchmarks run (on a tiny corpus); their numbers are for the README, not for CI."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT


def test_check_speed_runs_on_a_tiny_corpus():
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "check_speed.py"), "--tiny"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "freezelint cold" in p.stdout and "ratio freezelint cold / libcst parse floor" in p.stdout
    assert "skipped by text triggers" in p.stdout


def test_ddp_audit_benchmark_runs_two_ranks():
    import torch.distributed as dist
    import pytest

    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("torch.distributed with gloo is not available")
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "ddp_audit.py"), "--rounds", "1", "--size", "32",
                        "--batch", "2"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "2 plain DDP steps" in p.stdout and "0 (OK)" in p.stdout, p.stdout
