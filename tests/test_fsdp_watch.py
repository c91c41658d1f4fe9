"""watch() on FSDP2 (`fully_shard`) models, on 2 CPU ranks over gloo: real training loops."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import distributed_scenarios
import fsdp_watch_scenarios as scenarios
import pytest
import torch
import torch.distributed as dist
from conftest import ROOT, needs_gloo, write

# The scenarios run on the 2 gloo ranks of conftest's one shared launch for the session (gloo_ranks).
pytestmark = needs_gloo()
RANK_SCENARIOS = "fsdp_watch_scenarios"


@pytest.fixture
def gloo(gloo_ranks):
    """Every watched scenario's result on each of the 2 gloo ranks."""
    return lambda name: gloo_ranks(RANK_SCENARIOS, name)


def codes(report: dict) -> list[str]:
    return sorted(f["code"] for f in report["findings"])


def changed(report: dict) -> set[str]:
    return {p["name"] for p in report["params"] if p["changed"]}


WATCHED = sorted(set(scenarios.SCENARIOS) - {"fsdp1_flat_params"})


@pytest.mark.parametrize("name", WATCHED)
def test_every_rank_gets_the_same_sharded_report(gloo, name):
    ranks = gloo(name)
    assert ranks[0]["report"] == ranks[1]["report"]
    report = ranks[0]["report"]
    assert report["world_size"] == 2 and not report["ddp"]
    assert report["sharding"] == ("FSDP1" if name.startswith("fsdp1") else "FSDP2")
    assert "FZ306" not in codes(report)


@pytest.mark.parametrize("name", sorted(set(WATCHED) - {"frozen_on_one_rank", "sharded_inside_the_watch"}))
def test_watching_changes_no_bit_of_any_shard(gloo, name):
    for r in gloo(name):
        assert r["shards"] == r["unwatched_shards"]


def test_clean_frozen_base_finetune_reports_nothing(gloo):
    report = gloo("frozen_base")[0]["report"]
    assert report["ok"], report["findings"]
    assert report["steps"] == 2
    # full names and shapes, not the shards'; 5.bias has one element, so rank 1's shard is empty
    # and it still counts as changed (from rank 0's shard)
    assert {p["name"]: p["shape"] for p in report["params"]}["0.weight"] == [16, 6]
    assert changed(report) == {"5.weight", "5.bias"}


def test_stale_grad_under_adamw_moves_a_frozen_layer_fz501(gloo):
    report = gloo("stale_grad")[0]["report"]
    assert "FZ501" in codes(report), report["findings"]
    fz501 = next(f for f in report["findings"] if f["code"] == "FZ501")
    assert fz501["target"] == "0" and "0.weight, 0.bias" in fz501["message"]
    assert "zero tensor" in fz501["message"] and "AdamW" in fz501["message"]
    assert not fz501["message"].startswith("on rank")  # agreed across ranks


def test_unfreezing_after_fully_shard_is_no_finding(gloo):
    report = gloo("unfreeze_after_shard")[0]["report"]
    assert report["ok"], report["findings"]
    assert changed(report) == {"3.weight", "3.bias", "5.weight", "5.bias"}


@pytest.mark.parametrize("name", ["frozen_on_one_rank", "sharded_inside_the_watch"])
def test_requires_grad_differing_across_ranks_stops_before_the_hang_with_fz507(gloo, name):
    ranks = gloo(name)
    assert all(r.get("stopped") for r in ranks), "the watch did not stop the loop at the first forward"
    report = ranks[0]["report"]
    assert ranks[0]["raised_report"] == report  # FreezeAuditError carries the same report
    assert codes(report) == ["FZ507"] and report["steps"] == 0
    f = report["findings"][0]
    assert f["target"] == "3" and "3.weight, 3.bias" in f["message"]
    assert "frozen on rank 1 but trainable on rank 0" in f["message"]
    assert "stopped the script" in f["message"]
    assert "FZ507" in ranks[0]["text"]


def test_fsdp1_with_orig_params_is_watched_under_the_unwrapped_names(gloo):
    result = gloo("fsdp1_frozen_base")[0]
    report = result["report"]
    assert report["ok"], report["findings"]
    assert {p["name"]: p["shape"] for p in report["params"]}["3.weight"] == [16, 16]  # real shapes, not flat views
    assert "_fsdp_wrapped_module" not in result["text"]
    assert changed(report) == {"5.weight", "5.bias"}


def test_fsdp1_stale_grad_is_judged_as_audit_judges_it(gloo):
    # FSDP1 (use_orig_params=True) drops a frozen parameter's grad at its backward (measured in
    # tests/test_fsdp.py), so nothing moves: its place in a weight-decaying group is skipped too
    report = gloo("fsdp1_stale_grad")[0]["report"]
    assert codes(report) == [], report["findings"]
    assert not {"0.weight", "0.bias"} & changed(report)


def test_fsdp1_requires_grad_differing_across_ranks_is_fz507_after_the_window(gloo):
    report = gloo("fsdp1_frozen_on_one_rank")[0]["report"]
    assert "FZ507" in codes(report) and report["steps"] == 2
    f = next(f for f in report["findings"] if f["code"] == "FZ507")
    assert "frozen on rank 1 but trainable on rank 0" in f["message"] and "partly trained" in f["message"]
    assert "ran no step" not in f["message"]


def test_fsdp1_flat_parameters_get_audits_one_line_refusal_and_train_on(gloo):
    for r in gloo("fsdp1_flat_params"):
        assert "use_orig_params=True" in r["usage_error"] and "\n" not in r["usage_error"]
        assert r["shards"] == r["unwatched_shards"]


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available() or torch.cuda.device_count() < 2
                    or not dist.is_nccl_available(), reason="needs 2 CUDA devices and NCCL")
def test_nccl_ranks_watch_sharded_models(tmp_path):
    names = ["frozen_base", "stale_grad", "frozen_on_one_rank"]
    distributed_scenarios.launch(tmp_path, names, backend="nccl", world=2, deadline_s=180,
                                 module="fsdp_watch_scenarios")
    results = {n: [json.loads((tmp_path / f"{n}.{r}.json").read_text()) for r in range(2)] for n in names}
    for n, ranks in results.items():
        assert all("error" not in r for r in ranks), ranks
        assert ranks[0]["report"] == ranks[1]["report"]
    assert results["frozen_base"][0]["report"]["ok"]
    assert results["frozen_base"][0]["report"]["device"].startswith("cuda")
    assert "FZ501" in codes(results["stale_grad"][0]["report"])
    assert codes(results["frozen_on_one_rank"][0]["report"]) == ["FZ507"]


# ---------------------------------------------------------------- freezelint run under torchrun
FSDP_SCRIPT = """
import sys
import torch, torch.nn as nn, torch.distributed as dist
from torch.distributed.fsdp import fully_shard

dist.init_process_group("gloo")
rank = dist.get_rank()
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
model[:2].requires_grad_(False)
if "--bug" in sys.argv and rank == 1:
    model[2].requires_grad_(False)  # a rank-dependent freeze: the first backward would hang
for layer in (model[0], model[2], model[4]):
    fully_shard(layer)
fully_shard(model)
opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
torch.manual_seed(rank)
for step in range(5):
    model(torch.randn(6, 4)).pow(2).mean().backward()
    opt.step()
    opt.zero_grad()
print("rank", rank, "finished")
dist.destroy_process_group()
"""


def _torchrun(tmp_path, options: tuple[str, ...] = (), script_args: tuple[str, ...] = ()
              ) -> subprocess.CompletedProcess:
    write(tmp_path / "train_fsdp.py", FSDP_SCRIPT)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "freezelint", "run", *options, "train_fsdp.py", *script_args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NO_COLOR": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    # the process group's timeout is 10 min: a hang fails here long before it
    return subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)


# in conftest's shared torchrun launch; the two launches below stay on their own: a rank stopped
# before the hang and the exit status of `torchrun` itself are their point
TORCHRUN_SCENARIOS = {"fsdp_ok": ({"train_fsdp.py": FSDP_SCRIPT}, ["-m", "freezelint", "run", "train_fsdp.py"])}


def test_freezelint_run_under_torchrun_on_fsdp2_rank_0_prints_once(torchrun_ranks):
    ok = torchrun_ranks(__name__, "fsdp_ok")
    assert ok.codes == [0, 0], ok.out + ok.err[-3000:]
    assert ok.out.count("freeze audit: OK") == 1 and ok.outs[1] == "" and "FSDP2" in ok.out, ok.out
    assert "finished" not in ok.out  # stopped after the window on every rank


@pytest.mark.parametrize("options", [(), ("--no-stop",), ("--ignore", "FZ507")], ids=["stop", "no-stop", "ignored"])
def test_freezelint_run_stops_a_divergent_freeze_before_the_hang(tmp_path, options):
    bug = _torchrun(tmp_path, options, ("--bug",))  # ignored or not, the script was stopped: exit 1
    assert bug.returncode == 1, bug.stdout + bug.stderr[-3000:]
    assert bug.stdout.count("freeze audit:") == 1, bug.stdout + bug.stderr[-3000:]
    assert "FZ507" in bug.stdout and "2.weight, 2.bias" in bug.stdout, bug.stdout
    assert "finished" not in bug.stdout
