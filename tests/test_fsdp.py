"""audit() on sharded models: FSDP2 (`fully_shard`) and FSDP1 on 2 CPU ranks over gloo."""

from __future__ import annotations

import json
from pathlib import Path

import distributed_scenarios
import fsdp_scenarios as scenarios
import pytest
import torch
import torch.distributed as dist
from conftest import needs_gloo

# The scenarios run on the 2 gloo ranks of conftest's one shared launch for the session (gloo_ranks).
pytestmark = needs_gloo()
RANK_SCENARIOS = "fsdp_scenarios"


def _load(out: Path, name: str, world: int) -> list[dict]:
    results = [json.loads((out / f"{name}.{rank}.json").read_text()) for rank in range(world)]
    for rank, r in enumerate(results):
        assert "error" not in r, f"rank {rank} of {name} raised:\n{r['error']}"
    return results


@pytest.fixture
def gloo(gloo_ranks):
    """Every sharded scenario's result on each of the 2 gloo ranks."""
    return lambda name: gloo_ranks(RANK_SCENARIOS, name)


def codes_of(result: dict) -> list[str]:
    return sorted(f["code"] for f in result["report"]["findings"])


def changed(result: dict) -> set[str]:
    return {p["name"] for p in result["report"]["params"] if p["changed"]}


AUDITED = sorted(set(scenarios.SCENARIOS) - {"step_raises", "fsdp1_flat_params"})


@pytest.mark.parametrize("name", AUDITED)
def test_every_rank_returns_the_same_report_and_its_shards_are_restored(gloo, name):
    ranks = gloo(name)
    assert ranks[0]["report"] == ranks[1]["report"]
    assert all(r["restored"] for r in ranks), "shards, grads, optimizer state, modes or RNG differ after the audit"
    report = ranks[0]["report"]
    assert report["world_size"] == 2 and not report["ddp"]
    assert report["sharding"] == ("FSDP1" if name.startswith("fsdp1") else "FSDP2")
    if name not in scenarios.NO_NEXT_STEP:
        assert all(r["next_step"] == "ok" for r in ranks), [r["next_step"] for r in ranks]


@pytest.mark.parametrize("name", ["frozen_base", "no_reshard_after_forward", "mixed_unit_correct"])
def test_correct_sharded_finetunes_report_nothing(gloo, name):
    result = gloo(name)[0]
    report = result["report"]
    assert report["ok"], report["findings"]
    # full parameter names and shapes, not the shards'
    shapes = {p["name"]: p["shape"] for p in report["params"]}
    assert shapes["0.weight"] == [16, 6] and shapes["5.bias"] == [1]
    trained = {"5.weight", "5.bias"} | ({"1.weight", "1.bias", "3.weight", "3.bias"}
                                        if name == "mixed_unit_correct" else set())
    # 5.bias has one element: rank 1's shard is empty, and it still counts as changed
    assert changed(result) == trained
    assert "FSDP2, parameters sharded" in result["text"]


def test_existing_adamw_state_of_shards_comes_back_bit_for_bit(gloo):
    # two real steps ran before the audit: DTensor moments and step counts exist and are restored
    # (the parametrized test compares every bit of them on both ranks)
    ranks = gloo("after_training")
    assert ranks[0]["report"]["ok"] and all(r["restored"] for r in ranks)
    assert changed(ranks[0]) == {"3.weight", "3.bias", "5.weight", "5.bias"}


def test_bf16_compute_policy_audits_the_fp32_shards(gloo):
    result = gloo("bf16_compute")[0]
    assert result["report"]["ok"], result["report"]["findings"]
    assert {p["dtype"] for p in result["report"]["params"]} == {"float32"}
    assert changed(result) == {"5.weight", "5.bias"}


def test_stale_grad_moves_a_frozen_param_in_a_mixed_unit(gloo):
    result = gloo("mixed_unit_stale_grad")[0]
    assert codes_of(result) == ["FZ501", "FZ504"]
    fz501 = next(f for f in result["report"]["findings"] if f["code"] == "FZ501")
    assert fz501["target"] == "0" and "0.weight, 0.bias" in fz501["message"]
    assert "zero tensor" in fz501["message"] and "AdamW" in fz501["message"]
    assert not fz501["message"].startswith("on rank")  # agreed across ranks, not per rank


def test_requires_grad_differing_across_ranks_is_fz507_and_no_step_runs(gloo):
    ranks = gloo("frozen_on_one_rank")
    report = ranks[0]["report"]
    assert codes_of(ranks[0]) == ["FZ507"] and report["steps"] == 0
    f = report["findings"][0]
    assert f["target"] == "3" and "3.weight, 3.bias" in f["message"]
    assert "frozen on rank 1 but trainable on rank 0" in f["message"] and "ran no step" in f["message"]
    assert not changed(ranks[0]) and all(r["restored"] for r in ranks)


def test_unfreezing_after_fully_shard_trains_and_is_no_fz306(gloo):
    result = gloo("unfreeze_after_shard")[0]
    assert result["report"]["ok"], result["report"]["findings"]
    assert changed(result) == {"3.weight", "3.bias", "5.weight", "5.bias"}


def test_trainable_outside_the_optimizer_and_lr_zero_are_judged_across_shards(gloo):
    result = gloo("not_optimized_and_lr_zero")[0]
    assert codes_of(result) == ["FZ503"]  # layer 3's lr=0 is a note, not FZ505
    targets = {f["code"]: f["target"] for f in result["report"]["findings"]}
    assert targets == {"FZ503": "5"}
    assert [n.split(" (")[0] for n in result["report"]["notes"] if "lr is 0" in n] == ["3.weight, 3.bias"]


def test_frozen_batchnorm_statistics_in_train_mode_are_fz502(gloo):
    result = gloo("frozen_norm_in_train_mode")[0]
    assert codes_of(result) == ["FZ502"] and result["report"]["findings"][0]["target"] == "1"


def test_replicated_buffers_still_compared_across_ranks_but_shards_are_not(gloo):
    # every other scenario has shards that differ across ranks and no FZ508: shards are not compared
    result = gloo("norm_eval_on_one_rank")[0]
    fz508 = [f for f in result["report"]["findings"] if f["code"] == "FZ508"]
    assert len(fz508) == 1 and fz508[0]["target"] == "1" and "some ranks only" in fz508[0]["message"]
    # buffers are not sharded: each rank judges its own, and a finding of some ranks says which
    fz502 = next(f for f in result["report"]["findings"] if f["code"] == "FZ502")
    assert fz502["message"].startswith("on rank 1 only:")


def test_hsdp_replicas_of_a_shard_are_compared(gloo):
    # a 2-D mesh with 2 replicas of one shard: the replicas must agree, and only where they do not
    # is FZ508 reported (a checkpoint loaded into rank 0's replica only)
    assert gloo("hsdp")[0]["report"]["ok"]
    result = gloo("hsdp_loaded_on_rank0")[0]
    assert codes_of(result) == ["FZ508"]
    f = result["report"]["findings"][0]
    assert f["target"] == "3.weight" and "differ across ranks" in f["message"]


def test_a_step_that_raises_leaves_shards_restored_and_units_resharded(gloo):
    for rank in gloo("step_raises"):
        assert rank["raised"] == "loss exploded"
        assert rank["restored"] and rank["next_step"] == "ok"


def test_fsdp1_flat_parameters_are_refused_with_one_clear_line(gloo):
    for rank in gloo("fsdp1_flat_params"):
        assert "use_orig_params=True" in rank["usage_error"] and "\n" not in rank["usage_error"]
        assert rank["restored"]


def test_fsdp1_with_orig_params_reports_unwrapped_names_and_real_shapes(gloo):
    result = gloo("fsdp1_frozen_base")[0]
    report = result["report"]
    assert report["ok"], report["findings"]
    shapes = {p["name"]: p["shape"] for p in report["params"]}
    assert shapes == {"0.weight": [16, 6], "0.bias": [16], "1.weight": [16], "1.bias": [16], "3.weight": [16, 16],
                      "3.bias": [16], "5.weight": [1, 16], "5.bias": [1]}
    assert "_fsdp_wrapped_module" not in result["text"] and "FSDP1, parameters sharded" in result["text"]
    assert [m["name"] for m in report["modules"]] == ["", "0", "1", "2", "3", "4", "5"]
    assert changed(result) == {"5.weight", "5.bias"}


def test_fsdp1_mixed_flat_parameter_with_stale_grads(gloo):
    # Measured here: FSDP1 (use_orig_params=True) leaves a frozen parameter's .grad None after its
    # backward, so the zero grad kept by zero_grad(set_to_none=False) is gone and it does not move;
    # what remains is the frozen parameters' place in a weight-decaying optimizer, which skips them
    # (their grad is None at every step): no finding.
    result = gloo("fsdp1_stale_grad")[0]
    assert codes_of(result) == []
    frozen = {p["name"]: p for p in result["report"]["params"] if not p["requires_grad"]}
    assert set(frozen) == {"0.weight", "0.bias"} and not any(p["changed"] for p in frozen.values())
    assert all(p["grad"] == "none" for p in frozen.values())


def test_fsdp1_requires_grad_differing_across_ranks_is_fz507(gloo):
    # FSDP1 does not hang on it (measured: its reduce-scatter covers the whole flat parameter, and
    # only rank 0's shard of 3.weight moves); the audit names it without stepping either
    ranks = gloo("fsdp1_frozen_on_one_rank")
    report = ranks[0]["report"]
    assert codes_of(ranks[0]) == ["FZ507"] and report["steps"] == 0
    f = report["findings"][0]
    assert f["target"] == "3" and "frozen on rank 1 but trainable on rank 0" in f["message"]
    assert "partly trained" in f["message"]
    assert all(r["restored"] for r in ranks)


@pytest.mark.parametrize("name", sorted(scenarios.SCENARIOS))
def test_rank_flags_gathered_before_a_step_find_exactly_the_divergent_freeze(gloo, name):
    found = [r["disagreement"] for r in gloo(name)]
    assert found[0] == found[1]
    expected = [[["3.weight", "3.bias"], [1], [0]]] if name in scenarios.NO_NEXT_STEP else []
    assert found[0] == expected


def test_shard_helpers_leave_plain_tensors_alone():
    from freezelint.runtime import fsdp

    t = torch.ones(3)
    assert fsdp.local(t) is t and not fsdp.is_sharded(t)
    assert fsdp.version(torch.nn.Sequential(torch.nn.Linear(2, 2)).modules()) is None
    assert fsdp.clean_name("_fsdp_wrapped_module.0._fsdp_wrapped_module.weight") == "0.weight"
    from freezelint.runtime.fingerprint import fingerprints

    assert fsdp.shard_fingerprints([t]) == fingerprints([t])
    # without FSDP1's private records nothing is compared across ranks (no false FZ508)
    model = torch.nn.Linear(2, 2)
    assert fsdp.fsdp1_sharded(model, list(model.named_parameters())) == {"weight", "bias"}
    flags = [fsdp.RankFlags(1, ["a", "b"], [True, False]), fsdp.RankFlags(0, ["a", "b"], [True, True])]
    assert fsdp.requires_grad_disagreement(flags) == [(["b"], [1], [0])]
    from freezelint.runtime.distributed import fz507

    f = fz507(["b.weight", "b.bias"], [1], [0], 2, "the audit ran no step")
    assert f.target == "b" and "frozen on rank 1 but trainable on rank 0" in f.message
    assert "reduce-scatter" in f.message and f.message.endswith("the audit ran no step")
    assert "replicas no longer agree" in fz507(["b"], [1], [0]).message


def test_fingerprints_of_a_dtensor_follow_a_new_local_shard(tmp_path):
    """FSDP2 may give a parameter a new local tensor (its lazy init, a load): a Fingerprinter
    made before reads the new one, never DTensor ops (world size 1, in this process)."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import Shard, distribute_tensor

    from freezelint.runtime.fingerprint import Fingerprinter, fingerprints

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        mesh = init_device_mesh("cpu", (1,))
        dt = distribute_tensor(torch.arange(6.0).reshape(3, 2), mesh, [Shard(0)])
        fp = Fingerprinter([dt])
        first = fp()
        assert first == fingerprints([dt.to_local()])
        dt._local_tensor = dt._local_tensor.clone().add_(1)  # what FSDP2's reset_sharded_param does
        second = fp()
        assert second != first and second == fingerprints([dt._local_tensor])
    finally:
        dist.destroy_process_group()


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available() or torch.cuda.device_count() < 2
                    or not dist.is_nccl_available(), reason="needs 2 CUDA devices and NCCL")
def test_nccl_ranks_audit_sharded_models(tmp_path):
    names = ["frozen_base", "mixed_unit_stale_grad", "frozen_on_one_rank"]
    distributed_scenarios.launch(tmp_path, names, backend="nccl", world=2, deadline_s=180, module="fsdp_scenarios")
    base = _load(tmp_path, "frozen_base", 2)
    assert base[0]["report"]["ok"] and base[0]["report"]["device"].startswith("cuda")
    assert all(r["restored"] and r["next_step"] == "ok" for r in base)
    assert codes_of(_load(tmp_path, "mixed_unit_stale_grad", 2)[1]) == ["FZ501", "FZ504"]
    assert codes_of(_load(tmp_path, "frozen_on_one_rank", 2)[0]) == ["FZ507"]
