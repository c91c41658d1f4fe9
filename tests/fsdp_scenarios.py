"""Sharded-model audit scenarios (FSDP2 `fully_shard`, FSDP1), run by every rank of a small job.

Launched with `distributed_scenarios.launch(..., module="fsdp_scenarios")`: each rank runs every
scenario and writes what it saw to `<out>/<scenario>.<rank>.json`, including whether every bit
of its shards, grads, optimizer state, modes and RNG came back, and whether the user's next
training step still runs.
"""

from __future__ import annotations

import torch
from torch import nn

import freezelint


def net(head_out: int = 1) -> nn.Sequential:
    """A frozen-base shape: embedding-like input layer, a norm, two hidden layers, a head. The
    head's bias has one element, so rank 1's shard of it is empty (uneven sharding)."""
    torch.manual_seed(0)  # every rank builds the same model, as seeded training scripts do
    return nn.Sequential(nn.Linear(6, 16), nn.LayerNorm(16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(),
                         nn.Linear(16, head_out))


def trainable(m: nn.Module) -> list[nn.Parameter]:
    return [p for p in m.parameters() if p.requires_grad]


def shard_units(m: nn.Module, **kw) -> nn.Module:
    """One fully_shard unit per Linear, then the root: nested units."""
    from torch.distributed.fsdp import fully_shard

    for layer in m:
        if isinstance(layer, nn.Linear):
            fully_shard(layer, **kw)
    fully_shard(m, **kw)
    return m


def _frozen_base(rank, device):
    # the fine-tune FSDP2 is for: base frozen before sharding, head trained, optimizer over the head
    m = net().to(device)
    m[:4].requires_grad_(False)
    shard_units(m)
    return m, torch.optim.AdamW(trainable(m), lr=1e-2), {}


def _after_training(rank, device):
    # AdamW state exists (DTensor moments, a step count): the audit must put it back bit for bit
    m = net().to(device)
    m[:3].requires_grad_(False)
    shard_units(m)
    opt = torch.optim.AdamW(trainable(m), lr=1e-2)
    for _ in range(2):
        m(torch.randn(4, 6, device=device)).pow(2).mean().backward()
        opt.step()
        opt.zero_grad()
    return m, opt, {}


def _bf16_compute(rank, device):
    # MixedPrecisionPolicy: bf16 all-gathered parameters for compute, fp32 shards kept and stepped
    from torch.distributed.fsdp import MixedPrecisionPolicy

    m = net().to(device)
    m[:4].requires_grad_(False)
    shard_units(m, mp_policy=MixedPrecisionPolicy(param_dtype=torch.bfloat16))
    return m, torch.optim.AdamW(trainable(m), lr=1e-2), {}


def _hsdp(rank, device):
    # a 2-D mesh (replicate x shard): HSDP, here 2 replicas of 1 shard each
    from torch.distributed.device_mesh import init_device_mesh

    mesh = init_device_mesh(device.type, (2, 1), mesh_dim_names=("replicate", "shard"))
    m = net().to(device)
    m[:4].requires_grad_(False)
    shard_units(m, mesh=mesh)
    return m, torch.optim.AdamW(trainable(m), lr=1e-2), {}


def _hsdp_loaded_on_rank0(rank, device):
    # HSDP replicas must hold the same shard: a checkpoint loaded into one replica only
    from torch.distributed.device_mesh import init_device_mesh

    mesh = init_device_mesh(device.type, (2, 1), mesh_dim_names=("replicate", "shard"))
    m = net().to(device)
    m[:4].requires_grad_(False)
    shard_units(m, mesh=mesh)
    if rank == 0:
        with torch.no_grad():
            m[3].weight.to_local().add_(0.5)
    return m, torch.optim.AdamW(trainable(m), lr=1e-2), {}


def _no_reshard_after_forward(rank, device):
    m = net().to(device)
    m[:4].requires_grad_(False)
    shard_units(m, reshard_after_forward=False)
    return m, torch.optim.AdamW(trainable(m), lr=1e-2), {}


def _mixed_unit_stale_grad(rank, device):
    # one unit holds frozen and trainable parameters; a backward ran before the freeze and
    # zero_grad(set_to_none=False) kept the frozen ones' grads as zero tensors: AdamW's weight
    # decay moves them on every rank (PYTORCH_FACTS.md)
    from torch.distributed.fsdp import fully_shard

    m = net().to(device)
    fully_shard(m)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-2)
    m(torch.randn(4, 6, device=device)).sum().backward()
    opt.zero_grad(set_to_none=False)
    m[0].requires_grad_(False)
    return m, opt, {"set_to_none": False}


def _mixed_unit_correct(rank, device):
    from torch.distributed.fsdp import fully_shard

    m = net().to(device)
    m[0].requires_grad_(False)
    fully_shard(m)
    return m, torch.optim.AdamW(trainable(m), lr=1e-2), {}


def _unfreeze_after_shard(rank, device):
    # gradual unfreezing after fully_shard: works in FSDP2 (unlike DDP), so no FZ306
    m = net().to(device)
    m[:4].requires_grad_(False)
    shard_units(m)
    opt = torch.optim.AdamW(trainable(m), lr=1e-2)
    m[3].requires_grad_(True)  # noqa: FZ306 — allowed with FSDP2, the point of the scenario
    opt.add_param_group({"params": list(m[3].parameters())})
    return m, opt, {}


def _frozen_on_one_rank(rank, device):
    # a rank-dependent freeze: the first backward would hang in the reduce-scatter
    m = net().to(device)
    m[:3].requires_grad_(False)
    if rank == 1:
        m[3].requires_grad_(False)
    shard_units(m)
    return m, torch.optim.AdamW(trainable(m), lr=1e-2), {}


def _not_optimized_and_lr_zero(rank, device):
    # FZ503: the head is trainable but in no param group; layer 3 in a group with lr=0: a note
    m = net().to(device)
    m[:3].requires_grad_(False)
    shard_units(m)
    opt = torch.optim.SGD([{"params": m[3].parameters(), "lr": 0.0}], lr=0.1)
    return m, opt, {}


def _frozen_norm_in_train_mode(rank, device):
    # FZ502: BatchNorm frozen by requires_grad only, its statistics move in train mode on every rank
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3)).to(device)
    m[:2].requires_grad_(False)
    shard_units(m)
    return m, torch.optim.AdamW(trainable(m), lr=1e-2), {}


def _norm_eval_on_one_rank(rank, device):
    # FZ508 on what FSDP replicates: only rank 0 keeps the frozen BatchNorm's statistics frozen
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3)).to(device)
    m[:2].requires_grad_(False)
    shard_units(m)
    if rank == 0:
        m[1].eval()
    return m, torch.optim.AdamW(trainable(m), lr=1e-2), {"call_train": False}


def _step_raises(rank, device):
    # the loss raises after the forward on every rank: the units are left unsharded mid-step
    m = net().to(device)
    m[:4].requires_grad_(False)
    shard_units(m, reshard_after_forward=False)

    def loss_fn(out, batch):
        raise ValueError("loss exploded")

    # a batch of the user's own: a failure on a synthetic batch is reported as a usage error instead
    batch = torch.randn(4, 6, generator=torch.Generator().manual_seed(rank), device="cpu").to(device)
    return m, torch.optim.AdamW(trainable(m), lr=1e-2), {"loss_fn": loss_fn, "batch": batch}


def _fsdp1_flat_params(rank, device):
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

    m = net().to(device)  # without use_orig_params a flat parameter needs one requires_grad for all it holds
    wrapped = FSDP(m, device_id=device)
    return wrapped, torch.optim.AdamW(wrapped.parameters(), lr=1e-2), {}


def _fsdp1_frozen_base(rank, device):
    # one FullyShardedDataParallel per Linear inside the root's: nested `_fsdp_wrapped_module` levels
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
    from torch.distributed.fsdp.wrap import ModuleWrapPolicy

    m = net().to(device)
    m[:4].requires_grad_(False)
    wrapped = FSDP(m, use_orig_params=True, device_id=device, auto_wrap_policy=ModuleWrapPolicy({nn.Linear}))
    return wrapped, torch.optim.AdamW(trainable(wrapped), lr=1e-2), {}


def _fsdp1_stale_grad(rank, device):
    # one flat parameter with frozen and trainable parameters, a grad kept from before the freeze
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

    m = net().to(device)
    wrapped = FSDP(m, use_orig_params=True, device_id=device)
    opt = torch.optim.AdamW(wrapped.parameters(), lr=1e-2)
    wrapped(torch.randn(4, 6, device=device)).sum().backward()
    opt.zero_grad(set_to_none=False)
    m[0].requires_grad_(False)
    return wrapped, opt, {"set_to_none": False}


def _fsdp1_frozen_on_one_rank(rank, device):
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

    m = net().to(device)
    m[:3].requires_grad_(False)
    if rank == 1:
        m[3].requires_grad_(False)
    wrapped = FSDP(m, use_orig_params=True, device_id=device)
    return wrapped, torch.optim.AdamW(trainable(wrapped), lr=1e-2), {}


SCENARIOS = {
    "frozen_base": _frozen_base,
    "no_reshard_after_forward": _no_reshard_after_forward,
    "after_training": _after_training,
    "bf16_compute": _bf16_compute,
    "hsdp": _hsdp,
    "hsdp_loaded_on_rank0": _hsdp_loaded_on_rank0,
    "mixed_unit_stale_grad": _mixed_unit_stale_grad,
    "mixed_unit_correct": _mixed_unit_correct,
    "unfreeze_after_shard": _unfreeze_after_shard,
    "frozen_on_one_rank": _frozen_on_one_rank,
    "not_optimized_and_lr_zero": _not_optimized_and_lr_zero,
    "frozen_norm_in_train_mode": _frozen_norm_in_train_mode,
    "norm_eval_on_one_rank": _norm_eval_on_one_rank,
    "step_raises": _step_raises,
    "fsdp1_flat_params": _fsdp1_flat_params,
    "fsdp1_frozen_base": _fsdp1_frozen_base,
    "fsdp1_stale_grad": _fsdp1_stale_grad,
    "fsdp1_frozen_on_one_rank": _fsdp1_frozen_on_one_rank,
}
# the user's next step would hang (requires_grad differs across ranks): not tried
NO_NEXT_STEP = {"frozen_on_one_rank", "fsdp1_frozen_on_one_rank"}


def _bits(t) -> list:
    t = getattr(t, "_local_tensor", t)  # a DTensor: this rank's shard
    t = t.detach().cpu().contiguous()
    return t.view(torch.int32 if t.dtype == torch.float32 else t.dtype).tolist()


def _state(model: nn.Module, opt: torch.optim.Optimizer) -> list:
    """Every bit the audit may touch on this rank, as plain data (no collective: state_dict()
    of a sharded model would gather)."""
    out: list = [(n, type(p).__name__, _bits(p), p.requires_grad, None if p.grad is None else _bits(p.grad))
                 for n, p in model.named_parameters()]
    out += [(n, _bits(b)) for n, b in model.named_buffers()]
    out += [(n, m.training, sorted(k for k, v in m._parameters.items() if v is not None))
            for n, m in model.named_modules()]
    for group in opt.param_groups:
        out.append(sorted((k, repr(v)) for k, v in group.items() if k != "params"))
        out.append([id(p) for p in group["params"]])
    out += [(k, sorted((name, _bits(v) if isinstance(v, torch.Tensor) else v) for name, v in opt.state[p].items()))
            for k, p in enumerate(p for g in opt.param_groups for p in g["params"]) if p in opt.state]
    out.append(torch.get_rng_state().tolist())
    return out


def _next_step(model: nn.Module, opt: torch.optim.Optimizer, device: torch.device) -> str:
    try:
        model.train()
        model(torch.randn(4, 6, device=device)).pow(2).mean().backward()
        opt.step()
        opt.zero_grad()
        return "ok"
    except Exception as e:  # noqa: BLE001 — reported to the test
        return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"


def run_one(name: str, rank: int, device: torch.device) -> dict:
    from freezelint.runtime import fsdp

    model, opt, kwargs = SCENARIOS[name](rank, device)
    before = _state(model, opt)
    # the cross-rank check a watcher of real steps runs before the first backward
    result: dict = {"disagreement": fsdp.requires_grad_disagreement(
        fsdp.gather_rank_flags([(fsdp.clean_name(n), p) for n, p in model.named_parameters()]))}
    try:
        report = freezelint.audit(model, opt, steps=2, **kwargs)
    except freezelint.AuditUsageError as e:
        return {**result, "usage_error": str(e), "restored": _state(model, opt) == before}
    except ValueError as e:
        result["raised"] = str(e)
    else:
        result.update(report=report.to_dict(), text=report.render_text() if rank == 0 else "")
    result["restored"] = _state(model, opt) == before
    if name not in NO_NEXT_STEP:
        result["next_step"] = _next_step(model, opt, device)
    return result
