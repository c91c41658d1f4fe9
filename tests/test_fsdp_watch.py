"""watch() on FSDP2 (`fully_shard`) models, on 2 CPU ranks over gloo: real training loops."""

from __future__ import annotations

import json

import distributed_scenarios
import fsdp_watch_scenarios as scenarios
import pytest
from conftest import needs_gloo

pytestmark = needs_gloo()


@pytest.fixture(scope="module")
def gloo(tmp_path_factory):
    """Every scenario on 2 gloo ranks, in one spawn; a hang fails at the deadline."""
    out = tmp_path_factory.mktemp("fsdp_watch")
    distributed_scenarios.launch(out, list(scenarios.SCENARIOS), backend="gloo", world=2, deadline_s=150,
                                 module="fsdp_watch_scenarios")

    def load(name: str) -> list[dict]:
        results = [json.loads((out / f"{name}.{rank}.json").read_text()) for rank in range(2)]
        for rank, r in enumerate(results):
            assert "error" not in r, f"rank {rank} of {name} raised:\n{r['error']}"
        return results

    return load


def codes(report: dict) -> list[str]:
    return sorted(f["code"] for f in report["findings"])


def changed(report: dict) -> set[str]:
    return {p["name"] for p in report["params"] if p["changed"]}


@pytest.mark.parametrize("name", sorted(scenarios.SCENARIOS))
def test_every_rank_gets_the_same_sharded_report(gloo, name):
    ranks = gloo(name)
    assert ranks[0]["report"] == ranks[1]["report"]
    report = ranks[0]["report"]
    assert report["world_size"] == 2 and report["sharding"] == "FSDP2" and not report["ddp"]
    assert "FZ306" not in codes(report)


@pytest.mark.parametrize("name", ["frozen_base", "stale_grad", "unfreeze_after_shard"])
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


def test_requires_grad_differing_across_ranks_stops_before_the_hang_with_fz507(gloo):
    ranks = gloo("frozen_on_one_rank")
    assert all(r.get("stopped") for r in ranks), "the watch did not stop the loop at the first forward"
    report = ranks[0]["report"]
    assert ranks[0]["raised_report"] == report  # FreezeAuditError carries the same report
    assert codes(report) == ["FZ507"] and report["steps"] == 0
    f = report["findings"][0]
    assert f["target"] == "3" and "3.weight, 3.bias" in f["message"]
    assert "frozen on rank 1 but trainable on rank 0" in f["message"]
    assert "stopped the script" in f["message"]
    assert "FZ507" in ranks[0]["text"]
