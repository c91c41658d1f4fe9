"""`audit(model, optimizer, steps=2)`: run real training steps and prove what stayed frozen."""

from __future__ import annotations

import contextlib
import warnings
from typing import Any, Callable, Iterable

import torch
from torch import nn

from freezelint.runtime import findings as F
from freezelint.runtime.distributed import Distributed
from freezelint.runtime.fingerprint import Fingerprinter, fingerprints
from freezelint.runtime.inputs import InputError, call, default_loss, synthesize
from freezelint.runtime.report import AuditReport, BufferRecord, FreezeAuditError, ModuleRecord, ParamRecord
from freezelint.runtime.restore import Snapshot


class AuditUsageError(ValueError):
    """The audit cannot run on what it was given: one line saying what to pass instead."""


def _validate(model: Any, optimizer: Any, steps: int) -> None:
    if not isinstance(model, nn.Module):
        raise AuditUsageError(f"audit() needs an nn.Module as model, got {type(model).__name__}")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise AuditUsageError(f"audit() needs a torch.optim.Optimizer, got {type(optimizer).__name__}")
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise AuditUsageError(f"steps must be an integer >= 1, got {steps!r}")
    if next(model.parameters(), None) is None:
        raise AuditUsageError(f"{type(model).__name__} has no parameters: there is nothing to freeze or train")
    # FSDP1 wraps in FullyShardedDataParallel; fully_shard (FSDP2) swaps in a subclass of FSDPModule.
    if any(c.__name__ in ("FullyShardedDataParallel", "FSDPModule") for m in model.modules()
           for c in type(m).__mro__):
        raise AuditUsageError("FSDP-sharded models are not supported yet (each rank holds only shards): audit "
                              "the unwrapped model on one process, or wrap it in DistributedDataParallel")


def _distributed(model: nn.Module, process_group: Any) -> Distributed | None:
    """The rank's side of a distributed audit: for a DDP-wrapped model, or any model while a
    process group of more than one rank is initialised; None for a single process."""
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()):
        if process_group is not None:
            raise AuditUsageError("process_group was given but torch.distributed is not initialised: call "
                                  "torch.distributed.init_process_group(...) first")
        return None  # a DDP model cannot exist without a process group
    spread = Distributed(model, process_group)
    return spread if spread.ddp is not None or spread.world > 1 else None


def _grad_states(params: list[torch.Tensor]) -> list[str]:
    """'none', 'zero' or 'nonzero' per parameter. Only grads of frozen parameters are read
    (they explain FZ501); a trainable parameter's grad counts as 'nonzero' without a pass over it."""
    out = ["none"] * len(params)
    counts, idx = [], []
    for i, p in enumerate(params):
        if p.grad is None:
            continue
        if p.requires_grad:
            out[i] = "nonzero"
        else:
            counts.append(torch.count_nonzero(p.grad).reshape(1))
            idx.append(i)
    if counts:
        for i, c in zip(idx, torch.cat([c.cpu() for c in counts]).tolist()):
            out[i] = "nonzero" if c else "zero"
    return out


@torch.no_grad()
def _max_abs_deltas(pairs: list[tuple[torch.Tensor, torch.Tensor]]) -> list[float]:
    """max |after - before| per pair (nan when a value became non-finite), one transfer."""
    if not pairs:
        return []
    extremes: dict[torch.device, list[tuple[int, torch.Tensor]]] = {}
    for i, (before, after) in enumerate(pairs):
        if before.is_complex():
            diff = torch.sub(after.detach(), before).abs()
        else:
            if not before.is_floating_point():
                before, after = before.to(torch.float64), after.to(torch.float64)
            diff = torch.sub(after.detach(), before)
        # one pass over the difference (abs_ + amax is two; foreach_norm(inf) is slower still)
        low, high = torch.aminmax(diff)
        extremes.setdefault(diff.device, []).append((i, torch.stack([low, high]).to(torch.float64)))
    out = [0.0] * len(pairs)
    for items in extremes.values():  # one transfer per device
        for (i, _), (low, high) in zip(items, torch.stack([t for _, t in items]).cpu().tolist()):
            out[i] = max(-low, high) if low == low and high == high else float("nan")
    return out


def _train_steps(model: nn.Module, optimizer: torch.optim.Optimizer, params: list[nn.Parameter], batch: Any,
                 steps: int, loss_fn: Callable | None, set_to_none: bool, scaler: Any,
                 autocast_dtype: torch.dtype | None, device: torch.device) -> list[str]:
    """The audited steps, as a training loop runs them. Returns, per parameter, the grad it had
    at some step: 'nonzero' over 'zero' over 'none'."""
    seen = ["none"] * len(params)
    autocast = (torch.autocast(device_type=device.type, dtype=autocast_dtype)
                if autocast_dtype is not None else contextlib.nullcontext())
    for _ in range(steps):
        with autocast:
            out = call(model, batch)
            loss = loss_fn(out, batch) if loss_fn is not None else default_loss(out)
        if loss.requires_grad:
            (scaler.scale(loss) if scaler is not None else loss).backward()
        for i, s in enumerate(_grad_states(params)):
            if s == "nonzero" or (s == "zero" and seen[i] == "none"):
                seen[i] = s
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        optimizer.zero_grad(set_to_none=set_to_none)
    return seen


def audit(model: nn.Module, optimizer: torch.optim.Optimizer, steps: int = 2, *, batch: Any = None,
          loss_fn: Callable[[Any, Any], torch.Tensor] | None = None, expect_frozen: Iterable[str] = (),
          expect_trainable: Iterable[str] = (), call_train: bool = True, set_to_none: bool = True,
          scaler: Any = None, autocast_dtype: torch.dtype | None = None, exact: bool = False,
          process_group: Any = None) -> AuditReport:
    """Run `steps` real training steps, compare every parameter and buffer bit-exactly, restore
    everything, and report what changed, what stayed frozen, and what is wrong.

    Each step is model.train() (unless call_train=False), forward, backward, optimizer.step()
    and optimizer.zero_grad(set_to_none=set_to_none) — pass the setting your loop uses.

    Inside a torch.distributed job (a DistributedDataParallel model, or any model while a process
    group is initialised) every rank must call it; the steps run through the DDP wrapper, ranks
    compare what they saw over `process_group` (default: DDP's, else the default group), and every
    rank returns the same report.
    """
    _validate(model, optimizer, steps)
    spread = _distributed(model, process_group)
    wrapper, model = model, (spread.inner if spread is not None else model)
    expect_frozen, expect_trainable = list(expect_frozen), list(expect_trainable)
    named = list(model.named_parameters())
    params = [p for _, p in named]
    param_ids = {id(p) for p in params}
    group_of: dict[int, int] = {}
    foreign = 0
    for gi, group in enumerate(optimizer.param_groups):
        for p in group["params"]:
            group_of.setdefault(id(p), gi)
            foreign += id(p) not in param_ids
    total_in_opt = sum(len(g["params"]) for g in optimizer.param_groups)
    if total_in_opt and foreign == total_in_opt:
        raise AuditUsageError("the optimizer holds none of this model's parameters: was it built for another "
                              "model (or a copy of it)?")
    live = F.live_findings(model)
    if batch is None:
        try:
            batch = synthesize(model, seed=spread.rank if spread is not None and spread.ddp is not None else 0)
        except InputError as e:
            raise AuditUsageError(str(e)) from None
    named_buffers = list(model.named_buffers())
    buffers = [b for _, b in named_buffers]
    modes_before = {name: m.training for name, m in model.named_modules()}
    device = next(iter(params)).device

    snap = Snapshot(wrapper, optimizer, params, exact=exact, scaler=scaler)
    fingerprint_all = Fingerprinter(params + buffers)
    before = fingerprint_all()
    if spread is not None:
        spread.share_before(named, [n for n, _ in named_buffers], before)
    handle = optimizer.register_step_pre_hook(snap.before_step)
    grad_seen: list[str] = ["none"] * len(params)
    after: list[tuple[int, int]] = []
    deltas_p: dict[int, float | None] = {}
    deltas_b: dict[int, float | None] = {}
    state_after: set[int] = set()
    step_error: BaseException | None = None
    try:
        if call_train:
            wrapper.train()
        with spread.steps_context() if spread is not None else contextlib.nullcontext():
            grad_seen = _train_steps(wrapper, optimizer, params, batch, steps, loss_fn, set_to_none, scaler,
                                     autocast_dtype, device)
        after = fingerprint_all()
        pending: list[tuple[dict, int, torch.Tensor, torch.Tensor]] = []
        for i, p in enumerate(params):
            if after[i] != before[i]:
                prior = snap.value_before(p)
                deltas_p[i] = None
                if prior is not None:
                    pending.append((deltas_p, i, prior, p))
        for j, b in enumerate(buffers):
            if after[len(params) + j] != before[len(params) + j]:
                prior = snap.buffer_before(b)
                deltas_b[j] = None
                if prior is not None:
                    pending.append((deltas_b, j, prior, b))
        for (target, k, _, _), value in zip(pending, _max_abs_deltas([(a, b) for _, _, a, b in pending])):
            target[k] = value
        state_after = {id(p) for p in optimizer.state if optimizer.state[p]}
    except BaseException as e:  # noqa: BLE001 — restored below, then re-raised
        step_error = e
    finally:
        handle.remove()
        snap.restore()
        if spread is not None:
            spread.restore()
    # Prove the restore on the parameters it wrote and on what changed; nothing else was touched.
    # Buffers come back from copies taken before the first fingerprint; parameters from copies
    # taken at the first step, after which a forward could already have written to them.
    check = sorted(set(deltas_p) | {i for i, p in enumerate(params) if snap.value_before(p) is not None})
    everything = params + buffers
    if step_error is not None or not after:
        check = list(range(len(everything)))
    again = dict(zip(check, fingerprints([everything[k] for k in check])))
    names_all = [n for n, _ in named] + [n for n, _ in named_buffers]
    unrestored = [names_all[k] for k in check if again[k] != before[k]]
    if step_error is not None:
        if unrestored:
            warnings.warn(f"freezelint: could not restore {', '.join(unrestored)}; use exact=True", RuntimeWarning,
                          stacklevel=2)
        raise step_error

    owner = {n: n.rpartition(".")[0] for n, _ in [*named, *named_buffers]}
    precords = [
        ParamRecord(n, owner[n], tuple(p.shape), str(p.dtype).replace("torch.", ""), p.requires_grad,
                    group_of.get(id(p)), i in deltas_p, deltas_p.get(i), grad_seen[i], id(p) in state_after)
        for i, (n, p) in enumerate(named)
    ]
    brecords = [BufferRecord(n, owner[n], j in deltas_b, deltas_b.get(j)) for j, (n, _) in enumerate(named_buffers)]
    mrecords = _module_records(model, precords, brecords, modes_before)
    from_ddp = frozenset(spread.local_wrap.frozen) if spread is not None and spread.local_wrap else frozenset()
    found = live + F.step_findings(model, optimizer, precords, brecords, mrecords, modes_before, steps,
                                   set_to_none, foreign > 0, call_train, from_ddp)
    found += F.expectation_findings(precords, expect_frozen, expect_trainable)
    report = AuditReport(found, precords, brecords, mrecords, steps, str(device), type(optimizer).__name__,
                         set_to_none, restored=not unrestored, unrestored=unrestored,
                         extra_bytes=snap.extra_bytes + fingerprint_all.scratch_bytes)
    if spread is not None:
        changed = [i in deltas_p for i in range(len(params))] + [j in deltas_b for j in range(len(buffers))]
        report = spread.merge(report, after, changed)
    if unrestored:
        warnings.warn(f"freezelint: could not restore {', '.join(unrestored)}; use exact=True", RuntimeWarning,
                      stacklevel=2)
    return report


def _ancestors(name: str) -> list[str]:
    """"a.b.c" -> ["", "a", "a.b"]: the modules a parameter or buffer belongs to."""
    parts = name.split(".")[:-1]
    return [""] + [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _module_records(model: nn.Module, params: list[ParamRecord], buffers: list[BufferRecord],
                    modes: dict[str, bool]) -> list[ModuleRecord]:
    # One pass over parameters and buffers, adding each to every ancestor: linear, not modules x params.
    count = {name: [0, 0, 0, 0, 0, 0] for name, _ in model.named_modules()}  # params, changed,
    for p in params:                                                          # trainable, in opt,
        for a in _ancestors(p.name):                                          # buffers, changed
            c = count.get(a)
            if c is not None:
                c[0] += 1
                c[1] += p.changed
                c[2] += p.requires_grad
                c[3] += p.requires_grad and p.group is not None
    for b in buffers:
        for a in _ancestors(b.name):
            c = count.get(a)
            if c is not None:
                c[4] += 1
                c[5] += b.changed
    out = []
    for name, m in model.named_modules():
        total, changed, trainable, in_opt, nbuf, bchanged = count[name]
        if not total:
            status = "no params"
        elif trainable == total:
            status = "trainable"
        elif not trainable:
            status = "frozen"
        else:
            status = "partly frozen"
        optimizer = "-" if not trainable else ("all" if in_opt == trainable else "none" if not in_opt else "some")
        out.append(ModuleRecord(name, type(m).__name__, status, "train" if modes[name] else "eval",
                                total, changed, nbuf, bchanged, optimizer))
    return out


def assert_frozen(model: nn.Module, optimizer: torch.optim.Optimizer, frozen: Iterable[str] = (),
                  trainable: Iterable[str] = (), **kwargs: Any) -> AuditReport:
    """Audit and raise FreezeAuditError (an AssertionError showing the table) on any finding."""
    return audit(model, optimizer, expect_frozen=frozen, expect_trainable=trainable, **kwargs).raise_for_findings()


__all__ = ["AuditUsageError", "FreezeAuditError", "assert_frozen", "audit"]
