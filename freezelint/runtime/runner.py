"""`audit(model, optimizer, steps=2)`: run real training steps and prove what stayed frozen."""

from __future__ import annotations

import contextlib
import warnings
from typing import Any, Callable, Iterable

import torch
from torch import nn

from freezelint.runtime import findings as F
from freezelint.runtime.fingerprint import fingerprints
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
    fsdp = getattr(getattr(torch.distributed, "fsdp", None), "FullyShardedDataParallel", None)
    if (fsdp is not None and isinstance(model, fsdp)) or any(
            type(m).__name__ in ("FullyShardedDataParallel", "FSDPModule") for m in model.modules()):
        raise AuditUsageError("FSDP-wrapped models are not supported yet: audit the unwrapped model on one "
                              "process instead")


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
    maxima = []
    for before, after in pairs:
        if not (before.is_floating_point() or before.is_complex()):
            before, after = before.to(torch.float64), after.to(torch.float64)
        maxima.append(torch.sub(after.detach(), before).abs_().amax().to(torch.float64).reshape(1).cpu())
    return torch.cat(maxima).tolist()


def audit(model: nn.Module, optimizer: torch.optim.Optimizer, steps: int = 2, *, batch: Any = None,
          loss_fn: Callable[[Any, Any], torch.Tensor] | None = None, expect_frozen: Iterable[str] = (),
          expect_trainable: Iterable[str] = (), call_train: bool = True, set_to_none: bool = True,
          scaler: Any = None, autocast_dtype: torch.dtype | None = None, exact: bool = False) -> AuditReport:
    """Run `steps` real training steps, compare every parameter and buffer bit-exactly, restore
    everything, and report what changed, what stayed frozen, and what is wrong.

    Each step is model.train() (unless call_train=False), forward, backward, optimizer.step()
    and optimizer.zero_grad(set_to_none=set_to_none) — pass the setting your loop uses.
    """
    _validate(model, optimizer, steps)
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
            batch = synthesize(model)
        except InputError as e:
            raise AuditUsageError(str(e)) from None
    named_buffers = list(model.named_buffers())
    buffers = [b for _, b in named_buffers]
    modes_before = {name: m.training for name, m in model.named_modules()}
    device = next(iter(params)).device

    snap = Snapshot(model, optimizer, params, exact=exact, scaler=scaler)
    before = fingerprints(params + buffers)
    handle = optimizer.register_step_pre_hook(snap.before_step)
    grad_seen: list[str] = ["none"] * len(params)
    grad_last: list[str] = ["none"] * len(params)
    after: list[tuple[int, int]] = []
    deltas_p: dict[int, float | None] = {}
    deltas_b: dict[int, float | None] = {}
    state_after: set[int] = set()
    step_error: BaseException | None = None
    try:
        if call_train:
            model.train()
        autocast = (torch.autocast(device_type=device.type, dtype=autocast_dtype)
                    if autocast_dtype is not None else contextlib.nullcontext())
        for _ in range(steps):
            with autocast:
                out = call(model, batch)
                loss = loss_fn(out, batch) if loss_fn is not None else default_loss(out)
            if loss.requires_grad:
                (scaler.scale(loss) if scaler is not None else loss).backward()
            states = _grad_states(params)
            for i, s in enumerate(states):
                grad_last[i] = s
                if s == "nonzero" or (s == "zero" and grad_seen[i] == "none"):
                    grad_seen[i] = s
            if scaler is not None:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            optimizer.zero_grad(set_to_none=set_to_none)
        after = fingerprints(params + buffers)
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
    # Prove the restore on what it wrote and on what changed; nothing else was touched.
    moved = set(deltas_p) | {i for i, p in enumerate(params) if snap.value_before(p) is not None}
    check = sorted(moved) + [len(params) + j for j in range(len(buffers))]
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
    found = live + F.step_findings(model, optimizer, precords, brecords, mrecords, modes_before, steps,
                                   set_to_none, foreign > 0, call_train)
    found += F.expectation_findings(precords, expect_frozen, expect_trainable)
    report = AuditReport(found, precords, brecords, mrecords, steps, str(device), type(optimizer).__name__,
                         set_to_none, restored=not unrestored, unrestored=unrestored, extra_bytes=snap.extra_bytes)
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
