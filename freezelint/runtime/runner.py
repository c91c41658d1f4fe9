"""`audit(model, optimizer, steps=2)`: run real training steps and prove what stayed frozen."""

from __future__ import annotations

import contextlib
import warnings
from typing import Any, Callable, Iterable

import torch
from torch import nn

from freezelint.runtime import findings as F
from freezelint.runtime import fsdp
from freezelint.runtime.distributed import Distributed
from freezelint.runtime.fingerprint import Fingerprinter, fingerprints
from freezelint.runtime.inputs import InputError, call, default_loss, synthesize
from freezelint.runtime.report import AuditReport, BufferRecord, FreezeAuditError, ModuleRecord, ParamRecord
from freezelint.runtime.restore import Snapshot


class AuditUsageError(ValueError):
    """The audit cannot run on what it was given: one line saying what to pass instead."""


def _validate(model: Any, optimizer: Any, steps: int) -> list[tuple[str, nn.Module]]:
    """Refuse what the audit cannot run on; return model.named_modules()."""
    if not isinstance(model, nn.Module):
        raise AuditUsageError(f"audit() needs an nn.Module as model, got {type(model).__name__}")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise AuditUsageError(f"audit() needs a torch.optim.Optimizer, got {type(optimizer).__name__}")
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise AuditUsageError(f"steps must be an integer >= 1, got {steps!r}")
    if next(model.parameters(), None) is None:
        raise AuditUsageError(f"{type(model).__name__} has no parameters: there is nothing to freeze or train")
    walk = list(model.named_modules())
    refused = fsdp.unsupported([m for _, m in walk])
    if refused:
        raise AuditUsageError(refused)
    return walk


def _named_tensors(model: nn.Module, named_modules: list[tuple[str, nn.Module]],
                   kind: str) -> list[tuple[str, torch.Tensor]]:
    """model.named_parameters() (kind "_parameters") or named_buffers() ("_buffers"): each
    tensor once, under its first name, read off the module walk the audit already has (every
    walk of a resnet50 costs ~0.5 ms). A model that overrides the method is asked instead."""
    method = "named_parameters" if kind == "_parameters" else "named_buffers"
    if getattr(type(model), method) is not getattr(nn.Module, method):
        return list(getattr(model, method)())
    out, seen = [], set()
    for prefix, m in named_modules:
        for name, t in getattr(m, kind).items():
            if t is not None and id(t) not in seen:
                seen.add(id(t))
                out.append((f"{prefix}.{name}" if prefix else name, t))
    return out


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
    return spread if spread.data_parallel or spread.world > 1 else None


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
        else:  # a shard's own elements: a DTensor's count would be a collective
            counts.append(torch.count_nonzero(fsdp.local(p.grad)).reshape(1))
            idx.append(i)
    if counts:
        for i, c in zip(idx, torch.cat([c.cpu() for c in counts]).tolist()):
            out[i] = "nonzero" if c else "zero"
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
    named_modules = _validate(model, optimizer, steps)
    spread = _distributed(model, process_group)
    wrapper, model = model, (spread.inner if spread is not None else model)
    if model is not wrapper:
        named_modules = list(model.named_modules())
    expect_frozen, expect_trainable = list(expect_frozen), list(expect_trainable)
    named = _named_tensors(model, named_modules, "_parameters")
    named_buffers = _named_tensors(model, named_modules, "_buffers")
    every_module = [m for _, m in named_modules]
    if spread is not None:  # FSDP1: names as the unwrapped model has them, its wrappers left out
        named_modules, named, named_buffers = spread.clean_names(named_modules, named, named_buffers)
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
    live = F.live_findings(named_modules, named)
    if batch is None:
        try:
            batch = synthesize(model, seed=spread.rank if spread is not None and spread.data_parallel else 0)
        except InputError as e:
            raise AuditUsageError(str(e)) from None
    buffers = [b for _, b in named_buffers]
    modes_before = {name: m.training for name, m in named_modules}
    device = next(iter(params)).device

    snap = Snapshot(wrapper, optimizer, params, exact=exact, scaler=scaler,
                    modules=every_module if wrapper is model else None)
    everything: list[torch.Tensor] = params + buffers
    nparams = len(params)
    # What was copied before the steps is compared with its copy; the rest (frozen parameters)
    # is fingerprinted. Ranks compare fingerprints of everything with each other.
    copies = [snap.value_before(p) if snap.copied_up_front(p) else None for p in params]
    copies += [snap.buffer_before(b) for b in buffers]
    watched = (list(range(len(everything))) if spread is not None
               else [k for k, c in enumerate(copies) if c is None])
    fingerprint_watched = Fingerprinter([everything[k] for k in watched])
    before = dict(zip(watched, fingerprint_watched()))
    if spread is not None:
        spread.share_before(named, [n for n, _ in named_buffers], [before[k] for k in range(len(everything))])
    stepping = spread is None or not spread.halted  # a step that would hang is not run
    handle = optimizer.register_step_pre_hook(snap.before_step)
    grad_seen: list[str] = ["none"] * len(params)
    after: dict[int, tuple] = {}  # fingerprints: (sum, weighted sum), more for a sparse tensor
    delta: dict[int, float | None] = {}  # what changed (params, then buffers): max |change|, None if unknown
    state_after: set[int] = set()
    step_error: BaseException | None = None
    finished = False
    try:
        if call_train:
            wrapper.train()
        with spread.steps_context() if spread is not None else contextlib.nullcontext():
            if stepping:
                grad_seen = _train_steps(wrapper, optimizer, params, batch, steps, loss_fn, set_to_none, scaler,
                                         autocast_dtype, device)
        after = dict(zip(watched, fingerprint_watched()))
        state_after = {id(p) for p in optimizer.state if optimizer.state[p]}
        finished = True
    except BaseException as e:  # noqa: BLE001 — restored below, then re-raised
        step_error = e
    finally:
        handle.remove()
        measured = snap.restore(measure=finished)
        if spread is not None:
            spread.restore()
    if finished:
        # Copied before the steps: compared with the copy as it went back. Fingerprinted: moved or
        # not; a frozen parameter the step pre-hook copied also gets a size (none if the first
        # forward changed it before the copy was taken).
        delta.update((k, measured[id(t)]) for k, t in enumerate(everything)
                     if copies[k] is not None and id(t) in measured)
        delta.update((k, measured.get(id(everything[k]))) for k in watched
                     if copies[k] is None and after[k] != before[k])
    # Prove the restore where it rests on a copy taken by the step pre-hook (a forward could have
    # written to the parameter before it); copies taken before the steps are the originals. A
    # change with no copy at all cannot be undone. After a failed step, check everything watched.
    if not finished:
        check = [k for k in watched if copies[k] is None]
        gone: list[int] = []
    else:
        check = [k for k in range(nparams) if copies[k] is None and snap.value_before(params[k]) is not None]
        hooked = set(check)
        gone = [k for k in delta if copies[k] is None and k not in hooked]  # buffers always have copies
    again = dict(zip(check, fingerprints([everything[k] for k in check])))
    names_all = [n for n, _ in named] + [n for n, _ in named_buffers]
    unrestored = [names_all[k] for k in sorted({k for k in check if again[k] != before[k]} | set(gone))]
    if step_error is not None:
        if unrestored:
            warnings.warn(f"freezelint: could not restore {', '.join(unrestored)}; use exact=True", RuntimeWarning,
                          stacklevel=2)
        raise step_error
    deltas_p = {k: d for k, d in delta.items() if k < nparams}
    deltas_b = {k - nparams: d for k, d in delta.items() if k >= nparams}

    owner = {n: n.rpartition(".")[0] for n, _ in [*named, *named_buffers]}
    precords = [
        ParamRecord(n, owner[n], tuple(p.shape), str(p.dtype).replace("torch.", ""), p.requires_grad,
                    group_of.get(id(p)), i in deltas_p, deltas_p.get(i), grad_seen[i], id(p) in state_after)
        for i, (n, p) in enumerate(named)
    ]
    brecords = [BufferRecord(n, owner[n], j in deltas_b, deltas_b.get(j)) for j, (n, _) in enumerate(named_buffers)]
    if spread is not None:  # a sharded parameter is judged from all its shards
        precords, brecords = spread.agree(precords, brecords)
    mrecords = _module_records(named_modules, precords, brecords, modes_before)
    from_ddp = frozenset(spread.local_wrap.frozen) if spread is not None and spread.local_wrap else frozenset()
    found = list(live)
    if stepping:
        found += F.step_findings(model, optimizer, precords, brecords, mrecords, modes_before, steps,
                                 set_to_none, foreign > 0, call_train, from_ddp)
        found += F.expectation_findings(precords, expect_frozen, expect_trainable)
    report = AuditReport(found, precords, brecords, mrecords, steps, str(device), type(optimizer).__name__,
                         set_to_none, restored=not unrestored, unrestored=unrestored,
                         extra_bytes=snap.extra_bytes + fingerprint_watched.scratch_bytes)
    if spread is not None:
        changed = [k in delta for k in range(len(everything))]
        report = spread.merge(report, [after[k] for k in range(len(everything))], changed)
    if unrestored:
        warnings.warn(f"freezelint: could not restore {', '.join(unrestored)}; use exact=True", RuntimeWarning,
                      stacklevel=2)
    return report


def _module_records(modules: list[tuple[str, nn.Module]], params: list[ParamRecord], buffers: list[BufferRecord],
                    modes: dict[str, bool]) -> list[ModuleRecord]:
    # Per module: params, changed, trainable, in the optimizer, buffers, buffers changed. Each
    # tensor counts for its owner; owners then add into their parents, children first.
    count = {name: [0, 0, 0, 0, 0, 0] for name, _ in modules}
    for p in params:
        c = count.get(p.module)
        if c is not None:
            c[0] += 1
            c[1] += p.changed
            c[2] += p.requires_grad
            c[3] += p.requires_grad and p.group is not None
    for b in buffers:
        c = count.get(b.module)
        if c is not None:
            c[4] += 1
            c[5] += b.changed
    for name, _ in reversed(modules):
        parent = count.get(name.rpartition(".")[0]) if name else None
        if parent is not None:
            for k, v in enumerate(count[name]):
                parent[k] += v
    out = []
    for name, m in modules:
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
