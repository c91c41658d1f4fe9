"""Every example is a runnable script: the mistakes in them are silent, so they all run."""

from __future__ import annotations

import json

import pytest

from conftest import ROOT, needs_gloo

pytest.importorskip("torch")

LAUNCHED = {"ddp_finetune.py", "fsdp_finetune.py"}  # need a launcher: tested below
# every other example as `python examples/X.py` runs it (no arguments of its own), in conftest's
# one shared process
EXAMPLES = sorted(p for p in (ROOT / "examples").rglob("*.py") if not p.name.startswith("_") and p.name not in LAUNCHED)
ONE_PROCESS_RUNS = {str(p.relative_to(ROOT / "examples")): [p] for p in EXAMPLES}


def test_all_example_scripts_run(one_process_runs):
    assert len(EXAMPLES) > 10
    for name in ONE_PROCESS_RUNS:
        run = one_process_runs(__name__, name)  # asserts it let no exception out
        assert run.code == 0, f"{name} exited {run.code}:\n{run.err[-3000:]}"


DDP, FSDP = ROOT / "examples" / "ddp_finetune.py", ROOT / "examples" / "fsdp_finetune.py"
# `torchrun --standalone --nproc-per-node 2 ARGV...`, every one in conftest's one shared launch
TORCHRUN_SCENARIOS = {
    "ddp_bug": ({}, [DDP]),
    "ddp_fixed": ({}, [DDP, "--fixed"]),
    "audit_ddp": ({}, ["-m", "freezelint", "audit", f"{DDP}:make", "--format", "json"]),
    "fsdp_fixed": ({}, [FSDP, "--fixed"]),
    "audit_fsdp": ({}, ["-m", "freezelint", "audit", f"{FSDP}:make", "--format", "json"]),
}


@pytest.fixture
def torchrun(torchrun_ranks):
    return lambda name: torchrun_ranks(__name__, name)


@needs_gloo()
@pytest.mark.parametrize("fixed", [False, True], ids=["bug", "fixed"])
def test_ddp_example_under_torchrun(torchrun, fixed):
    p = torchrun("ddp_fixed" if fixed else "ddp_bug")
    assert p.out.count("freeze audit:") == 1 and p.outs[1] == "", p.out + p.err[-2000:]  # rank 0 prints the report
    if fixed:
        assert p.codes == [0, 0] and "freeze audit: OK" in p.out, p.out + p.err[-2000:]
    else:
        assert p.codes == [1, 1]  # each rank exits 1
        assert "FZ306 freeze-after-ddp [layer4]" in p.out and "FZ508 rank-divergence [layer4]" in p.out


@needs_gloo()
def test_audit_cli_under_torchrun_prints_once_and_fails_on_every_rank(torchrun):
    p = torchrun("audit_ddp")
    report = json.loads(p.outs[0])  # one JSON document: only rank 0 printed
    assert p.outs[1] == "" and p.codes == [1, 1]  # each rank exits 1 on findings
    assert report["world_size"] == 2 and sorted(f["code"] for f in report["findings"]) == ["FZ306", "FZ508"]


@needs_gloo()
def test_fsdp_example_fixed_under_torchrun_is_clean(torchrun):
    p = torchrun("fsdp_fixed")
    assert p.codes == [0, 0] and p.out.count("freeze audit: OK") == 1, p.out + p.err[-2000:]
    assert "FSDP2, parameters sharded" in p.out


@needs_gloo()
def test_audit_cli_under_torchrun_finds_a_rank_dependent_freeze_without_hanging(torchrun):
    # the ranks decide differently whether to unfreeze the last block: a real step would hang
    p = torchrun("audit_fsdp")
    report = json.loads(p.outs[0])
    assert p.outs[1] == "" and p.codes == [1, 1]
    assert report["steps"] == 0 and report["sharding"] == "FSDP2"
    assert [f["code"] for f in report["findings"]] == ["FZ507"]
    assert report["findings"][0]["target"] == "blocks.2"
    assert "frozen on rank 1 but trainable on rank 0" in report["findings"][0]["message"]
