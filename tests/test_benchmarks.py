"""The benchmarks run on small inputs (a tiny corpus, small models, one round): a smoke run proves
a script runs and prints its ratios; their numbers are for the README, not for CI."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import ROOT, needs_gloo


def test_check_speed_runs_on_a_tiny_corpus():
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "check_speed.py"), "--tiny"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "freezelint cold" in p.stdout and "ratio freezelint cold / libcst parse floor" in p.stdout
    assert "skipped by text triggers" in p.stdout


def test_gate_cost_compares_two_trees_on_the_same_files():
    # this tree against itself: the same files admitted, a ratio printed
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gate_cost.py"), "--packages", "timm/layers",
                        "--rounds", "1", "--compare", str(ROOT)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    admitted = [line.split("admitted ")[1].split()[0] for line in p.stdout.splitlines() if "admitted" in line]
    assert len(admitted) == 2 and admitted[0] == admitted[1]
    assert "ratio this tree / compare" in p.stdout


# The torch benchmarks run one after another in conftest's one shared process: the script's own
# start-up (torch and torchvision imports, seconds of CPU each time) is not what they test. The
# ranks the distributed ones spawn are their own processes, as they are for a user. ddp_audit's
# come from a fork server (imports once: seconds of CPU less); one server per process, and it
# keeps the files it was started with as its output, so fsdp_audit's ranks are spawned.
ONE_PROCESS_RUNS = {name: [ROOT / "benchmarks" / script, *args] for name, (script, *args) in {
    "ddp_audit": ["ddp_audit.py", "--rounds", "1", "--size", "32", "--batch", "2", "--model", "squeezenet1_1",
                  "--start-method", "forkserver"],
    "fsdp_audit": ["fsdp_audit.py", "--rounds", "1", "--layers", "2", "--dim", "32", "--seq", "8", "--batch", "2"],
    "fingerprint_pass": ["fingerprint_pass.py", "--rounds", "1", "--arch", "resnet18"],
    "watch_overhead": ["watch_overhead.py", "--arch", "resnet18", "--sizes", "32", "--batch", "2", "--rounds", "1",
                       "--own", "--after"],
}.items()}


@pytest.fixture
def bench_runs(one_process_runs):
    return lambda name: one_process_runs(__name__, name)


@needs_gloo()
def test_ddp_audit_benchmark_runs_two_ranks(bench_runs):
    p = bench_runs("ddp_audit")
    assert p.code == 0, p.err[-3000:]
    assert "2 plain DDP steps" in p.out and "0 (OK)" in p.out, p.out


def test_fsdp_audit_benchmark_runs_two_ranks(bench_runs):
    p = bench_runs("fsdp_audit")
    assert p.code == 0, p.err[-3000:]
    assert "2 plain FSDP2 steps" in p.out and "0 (OK)" in p.out, p.out
    assert p.out.count("%") == 4, p.out  # extra memory of each of the two ranks, two ratios each


def test_fingerprint_pass_benchmark_runs(bench_runs):
    p = bench_runs("fingerprint_pass")
    assert p.code == 0, p.err[-3000:]
    assert "kernel / torch" in p.out or "not built" in p.out, p.out


def test_watch_overhead_benchmark_runs(bench_runs):
    p = bench_runs("watch_overhead")
    assert p.code == 0, p.err[-3000:]
    lines = [line.split() for line in p.out.splitlines() if line.startswith(("head", "full"))]
    assert [line[0] for line in lines] == ["head", "full"], p.out
    assert all(float(line[5]) > 0 and float(line[-2]) > 0 and line[-1].endswith("%") for line in lines), p.out
    assert p.out.count("the watch's own hooks: median") == 2 and p.out.count("after the window, the watch") == 2


def test_project_speed_benchmark_counts_reanalysed_files():
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "project_speed.py"), "--files", "4", "--rounds", "1"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "files re-analysed after the edit:   [6] of 10" in p.stdout


def test_in_place_benchmark_prints_the_ratio_to_the_file_alone():
    # this tree against itself on a tiny project: both ratios printed, the same findings
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "in_place.py"), "--tiny", "--compare", str(ROOT)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "ratio in place / alone (cpu)" in p.stdout and "ratio base in place / base alone (cpu)" in p.stdout
    assert "findings as the base's: yes" in p.stdout
