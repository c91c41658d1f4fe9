"""audit() under torch.distributed: 2 CPU ranks on gloo (NCCL variants need 2 GPUs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

import distributed_scenarios as scenarios
from conftest import needs_gloo

# The scenarios run on the 2 gloo ranks of conftest's one shared launch for the session (gloo_ranks).
pytestmark = needs_gloo()
RANK_SCENARIOS = "distributed_scenarios"


def _load(out: Path, name: str, world: int) -> list[dict]:
    results = [json.loads((out / f"{name}.{rank}.json").read_text()) for rank in range(world)]
    for rank, r in enumerate(results):
        assert "error" not in r, f"rank {rank} of {name} raised:\n{r['error']}"
    return results


@pytest.fixture
def gloo(gloo_ranks):
    """Every scenario's result on each of the 2 gloo ranks."""
    return lambda name: gloo_ranks(RANK_SCENARIOS, name)


def codes_of(result: dict) -> list[str]:
    return [f["code"] for f in result["report"]["findings"]]


@pytest.mark.parametrize("name", sorted(scenarios.SCENARIOS))
def test_every_rank_returns_the_same_report_and_is_restored(gloo, name):
    ranks = gloo(name)
    assert ranks[0]["report"] == ranks[1]["report"]
    assert all(r["restored"] for r in ranks), "model, grads, optimizer, modes or RNG differ after the audit"
    report = ranks[0]["report"]
    assert report["world_size"] == 2 and report["backend"] == "gloo"
    if name != "plain_model":
        # the user's next DDP step runs: the audit left the reducer between iterations
        assert all(r["next_step"] == "ok" for r in ranks), [r["next_step"] for r in ranks]


def test_correct_ddp_finetune_reports_nothing(gloo):
    report = gloo("correct")[0]["report"]
    assert report["ok"], report["findings"]
    assert report["ddp"] and report["grad_sync"]
    changed = {p["name"] for p in report["params"] if p["changed"]}
    assert changed == {"3.weight", "3.bias", "5.weight", "5.bias"}


def test_unfreeze_after_wrap_diverges_and_names_the_cause(gloo):
    result = gloo("unfreeze_after_wrap")[0]
    assert sorted(codes_of(result)) == ["FZ306", "FZ508"]
    fz306, fz508 = (next(f for f in result["report"]["findings"] if f["code"] == c) for c in ("FZ306", "FZ508"))
    assert "0.weight" in fz306["message"] and "unfrozen after" in fz306["message"]
    assert "0.weight" in fz508["message"] and "identical before the steps" in fz508["message"]
    assert result["report"]["grad_sync"]


def test_frozen_state_differing_across_ranks_is_fz507(gloo):
    result = gloo("frozen_on_one_rank")[0]
    fz507 = [f for f in result["report"]["findings"] if f["code"] == "FZ507"]
    assert len(fz507) == 1 and fz507[0]["target"] == "3"
    assert "frozen on rank 1 but trainable on rank 0" in fz507[0]["message"]
    # rank 1 froze it after the wrap, and DDP's averaged gradient still moved it there
    fz501 = next(f for f in result["report"]["findings"] if f["code"] == "FZ501")
    assert fz501["message"].startswith("on rank 1 only:") and "DistributedDataParallel" in fz501["message"]
    assert "FZ306" in codes_of(result)


def test_param_registered_after_wrap_is_fz509(gloo):
    result = gloo("registered_after_wrap")[0]
    assert sorted(codes_of(result)) == ["FZ508", "FZ509"]
    fz509 = next(f for f in result["report"]["findings"] if f["code"] == "FZ509")
    assert fz509["target"] == "6" and "registered after" in fz509["message"]


def test_weights_differing_before_the_steps_are_fz508(gloo):
    result = gloo("loaded_on_rank0")[0]
    assert codes_of(result) == ["FZ508"]
    f = result["report"]["findings"][0]
    assert f["target"] == "5.weight" and "already differed" in f["message"]


def test_freeze_after_wrap_runs_without_sync_and_leaves_the_reducer_clean(gloo):
    result = gloo("frozen_after_wrap")[0]
    assert codes_of(result) == ["FZ306"]
    assert result["report"]["grad_sync"] is False
    assert "no_sync()" in result["report"]["findings"][0]["message"]


def test_buffers_changed_on_some_ranks_only_are_fz508(gloo):
    result = gloo("bn_eval_on_one_rank")[0]
    fz508 = [f for f in result["report"]["findings"] if f["code"] == "FZ508"]
    assert len(fz508) == 1 and fz508[0]["target"] == "1" and "some ranks only" in fz508[0]["message"]
    fz502 = next(f for f in result["report"]["findings"] if f["code"] == "FZ502")
    assert fz502["message"].startswith("on rank 1 only:")


def test_per_rank_batchnorm_statistics_are_not_divergence(gloo):
    report = gloo("bn_stats_per_rank")[0]["report"]
    assert report["ok"], report["findings"]
    assert any(b["changed"] for b in report["buffers"])


def test_plain_model_under_a_process_group_compares_frozen_state(gloo):
    result = gloo("plain_model")[0]
    assert codes_of(result) == ["FZ507"]
    assert not result["report"]["ddp"]


def test_rank_zero_text_names_the_ranks(gloo):
    text = gloo("unfreeze_after_wrap")[0]["text"]
    assert "2 ranks (gloo, DDP, gradients all-reduced)" in text
    assert "FZ306 freeze-after-ddp" in text


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available() or torch.cuda.device_count() < 2
                    or not dist.is_nccl_available(), reason="needs 2 CUDA devices and NCCL")
def test_nccl_ranks_find_the_same_faults(tmp_path):
    names = ["correct", "unfreeze_after_wrap", "frozen_after_wrap"]
    scenarios.launch(tmp_path, names, backend="nccl", world=2, deadline_s=180)
    correct = _load(tmp_path, "correct", 2)
    assert correct[0]["report"]["ok"] and correct[0]["report"]["device"].startswith("cuda")
    assert sorted(codes_of(_load(tmp_path, "unfreeze_after_wrap", 2)[1])) == ["FZ306", "FZ508"]
    assert all(r["next_step"] == "ok" for r in _load(tmp_path, "frozen_after_wrap", 2))


def test_audit_refuses_a_process_group_without_init():
    from freezelint import audit
    from freezelint.runtime.runner import AuditUsageError

    model = torch.nn.Linear(2, 2)
    with pytest.raises(AuditUsageError, match="init_process_group"):
        audit(model, torch.optim.SGD(model.parameters(), lr=0.1), process_group=object())


def test_head_replaced_after_wrap_on_a_single_rank(tmp_path):
    """World size 1, in this process: the reducer still holds the old head, which never gets a
    gradient again, so the audit steps under no_sync() and the next real step still runs."""
    from torch import nn
    from torch.nn.parallel import DistributedDataParallel as DDP

    from freezelint import audit

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        model = scenarios.net()
        ddp = DDP(model)
        model[5] = nn.Linear(16, 3)  # the head replaced after the wrap
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        report = audit(ddp, opt)
        assert [f.code for f in report.findings] == ["FZ509"]
        assert report.findings[0].target == "5" and "still in DDP's reducer" in report.findings[0].message
        assert report.grad_sync is False and report.world_size == 1
        ddp(torch.randn(4, 6)).sum().backward()  # the first real step after the audit is unaffected
    finally:
        dist.destroy_process_group()


def test_wrap_facts_degrade_quietly_without_ddp_private_state():
    """DDP's parameter record and reducer are private; without them nothing is invented."""
    from types import SimpleNamespace

    from torch import nn

    from freezelint.runtime.distributed import wrap_facts

    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    named = list(model.named_parameters())
    bare = wrap_facts(SimpleNamespace(), named)
    assert not (bare.registered or bare.unfrozen or bare.frozen or bare.gone) and not bare.known
    # the wrap saw layer 0 only: layer 1 was registered afterwards
    partial = wrap_facts(SimpleNamespace(_module_parameters=list(model[0].parameters())), named)
    assert partial.registered == ["1.weight", "1.bias"] and not partial.known
    # without DDP's static-graph flag, the graph counts as not recorded: steps stay synced
    from freezelint.runtime.distributed import _static_graph_recorded

    assert not _static_graph_recorded(SimpleNamespace())
    assert _static_graph_recorded(SimpleNamespace(_static_graph_delay_allreduce_enqueued=True))


def test_static_graph_ddp_is_audited_and_keeps_training(gloo):
    # The audit's steps are DDP's first iterations here; the user's next step must still run.
    assert gloo("static_graph")[0]["report"]["ok"]
    result = gloo("static_graph_frozen_after_wrap")[0]
    assert codes_of(result) == ["FZ306"] and result["report"]["grad_sync"]
    message = result["report"]["findings"][0]["message"]
    assert "static_graph=True copes only while no iteration ran before the change" in message
    # Frozen after DDP recorded its graph: a synced step would fail, so the audit steps under
    # no_sync() and reports what the next training iteration will do.
    result = gloo("static_graph_frozen_after_iterations")[0]
    assert codes_of(result) == ["FZ306"] and result["report"]["grad_sync"] is False
    assert "Expected to have finished reduction" in result["report"]["findings"][0]["message"]
