"""Judge what `watch()` observed: the same records, codes and `AuditReport` as `audit()`.

Which optimizer holds which parameter is an input here, not an assumption: each parameter is
judged against the optimizer that holds it (and its param group there), and "requires grad"
means it did at a step of that optimizer, so a network whose `requires_grad` is off during
another network's step is still trained by its own optimizer.

A sharded model (FSDP2, FSDP1 with use_orig_params=True) is judged as `audit()` judges it: each
rank's records of its own shards, merged across ranks (`Distributed.agree`: a parameter changed
if any rank's shard did), and the same report on every rank. `halted` is the report of a watch
that stopped before a backward that would hang (requires_grad differing across FSDP2 ranks).
"""

from __future__ import annotations

import weakref
from collections import Counter
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm, _NormBase

from freezelint.runtime import findings as F
from freezelint.runtime import fastai_steps, fsdp
from freezelint.runtime.distributed import Distributed, ddp_class, fz507
from freezelint.runtime.fingerprint import Fingerprinter, as_ints, joined
from freezelint.runtime.lr_schedulers import is_timm_scheduler, is_torch_scheduler, schedulers_over
from freezelint.runtime.names import Names, by_script_name, matches
from freezelint.runtime.report import AuditReport, BufferRecord, ParamRecord
from freezelint.runtime.runner import _module_records
from freezelint.runtime.tree import Tree, class_name, walk
from freezelint.runtime.watch_models import (bystanders, find_models, finetuning_callbacks, held_params, in_part,
                                               held_by, join_name, model_labels, model_name, optimizer_labels,
                                               ran_beside, remember_names, unstepped_holders, unwrapped, within)

if TYPE_CHECKING:  # pragma: no cover
    from freezelint.runtime.watch import Watch


_DTYPE_NAMES: dict[torch.dtype, str] = {}


def _dtype_name(dtype: torch.dtype) -> str:
    name = _DTYPE_NAMES.get(dtype)
    if name is None:
        name = _DTYPE_NAMES[dtype] = str(dtype).replace("torch.", "")
    return name


def _flat(t: torch.Tensor) -> torch.Tensor:
    return t if t.dim() == 1 else t.reshape(-1)  # reshape costs a microsecond even when it is a no-op


@torch.no_grad()
def _buffer_changes(w: "Watch", buffers: list[torch.Tensor]) -> list[tuple[bool, float | None]]:
    """For each buffer with a copy: whether it differs from its copy at the window's start (in its
    bits, NaN payloads and signed zeros included, as a fingerprint tells; or in shape, dtype or
    device) and, when it does, by how much (`_sizes`). The copy proves what a fingerprint would,
    so buffers are not fingerprinted: each block of copies is compared with its buffers joined
    again, in one op, and per buffer only where something differs (a frozen model's statistics:
    never)."""
    found: dict[int, tuple[bool, float | None]] = {}
    for blocks in w._blocks.values():
        for block, group, shapes in blocks:
            # a buffer copied again since (a root that shares it, forwarded later) is judged by its
            # latest copy, in the other block
            mine = [w.buffer_copy[id(b)][0] is block for b in group]
            if not any(mine):
                continue
            dtype, device, strided = block.dtype, block.device, torch.strided
            on_cpu = device.type == "cpu"  # `is_cpu` reads a flag; `device` builds an object
            if any(b.shape != shape or b.dtype is not dtype or b.layout is not strided
                   or (not b.is_cpu if on_cpu else b.device != device) for b, shape in zip(group, shapes)):
                for b, m in zip(group, mine):  # one of them changed shape or kind: one by one
                    if m:
                        was = w.saved(b)
                        moved = (b.layout != torch.strided or (b.shape, b.dtype, b.device)
                                 != (was.shape, was.dtype, was.device)
                                 or (b.device.type != "meta" and not torch.equal(as_ints(b), as_ints(was))))
                        found[id(b)] = (moved, _sizes([b], [was])[0] if moved else None)
                continue
            if device.type == "meta" or not block.numel():  # no bits: unchanged, as its fingerprint
                continue
            # Few and small temporaries: on a virtual machine fresh pages cost more than the ops
            # (resnet50's BatchNorm, all moved: 2.3 ms with float64 copies, index_add and
            # scatter_reduce; a third of it so).
            now = joined(group)
            if torch.equal(as_ints(now), as_ints(block)):
                continue
            lengths = torch.tensor([b.numel() for b in group], device=device)
            ends = torch.cumsum(lengths, 0).tolist()
            if dtype == torch.bool or dtype.is_complex:
                largest: list[float | None] = [None] * len(group)  # complex ones are sized one by one below
            else:  # as _sizes: max |change| (float32 and float64 in their own type), a nan stays nan
                wide = dtype in (torch.float32, torch.float64)
                diff = now.sub_(block).abs_() if wide else (now.to(torch.float64) - block.to(torch.float64)).abs_()
                largest = torch.segment_reduce(diff, "max", lengths=lengths).tolist()
                now = None
            unsure = []  # equal values (0.0 and -0.0, another NaN payload) or none to compare: the bits tell
            for i, (b, m, v) in enumerate(zip(group, mine, largest)):
                if m:
                    if v is not None and v > 0:  # values differ, so bits do
                        found[id(b)] = (True, v)
                    else:
                        unsure.append(i)
            if not unsure:
                continue
            differs = as_ints(joined(group)) != as_ints(block)
            if len(unsure) > 8:  # one segment reduction rather than a slice per buffer
                hit = torch.segment_reduce(differs.to(torch.float32), "max", lengths=lengths).tolist()
            else:
                hit = {i: bool(differs[ends[i] - group[i].numel():ends[i]].any()) for i in unsure}
            for i in unsure:
                if hit[i]:
                    b = group[i]
                    found[id(b)] = (True, _sizes([b], [w.saved(b)])[0] if dtype.is_complex else largest[i])
    return [found.get(id(b), (False, None)) for b in buffers]


@torch.no_grad()
def _sizes(buffers: list[torch.Tensor], saved: list[torch.Tensor | None]) -> list[float | None]:
    """max |change| of each buffer that moved, from its copy (nan when its shape or dtype changed;
    None when it cannot be sized). Buffers of one dtype and device are sized together, one float64
    difference and one segment max (resnet50's 159 BatchNorm buffers: 0.8 ms rather than 1.5)."""
    out: list[float | None] = [None] * len(buffers)
    kinds: dict[tuple, list[int]] = {}
    for i, (b, was) in enumerate(zip(buffers, saved)):
        if was is None or b.dtype == torch.bool or not b.numel() or b.layout != torch.strided:
            continue
        if (b.shape, b.dtype, b.device) != (was.shape, was.dtype, was.device):
            out[i] = float("nan")
        else:
            kinds.setdefault((b.dtype, b.device), []).append(i)
    for (_, device), at in kinds.items():
        now = torch.cat([_flat(buffers[i]) for i in at]).to(torch.float64)
        diff = (now - torch.cat([_flat(saved[i]) for i in at]).to(torch.float64)).abs()  # type: ignore[arg-type]
        lengths = torch.tensor([buffers[i].numel() for i in at], device=device)
        seg = torch.repeat_interleave(torch.arange(len(at), device=device), lengths)
        largest = torch.zeros(len(at), dtype=torch.float64, device=device)
        largest.scatter_reduce_(0, seg, diff, "amax", include_self=False)  # a nan anywhere stays nan
        for i, v in zip(at, largest.tolist()):
            out[i] = v
    return out


@torch.no_grad()
def _read_zero_grads(records: list[ParamRecord], params: list[torch.Tensor],
                     place: Callable[[torch.Tensor], tuple[torch.optim.Optimizer, dict] | None]) -> None:
    """The watch counts a trainable parameter's grad as "nonzero" once it is a tensor, without
    reading it. Where such a parameter did not change over the window, its grad is read now, at
    the closing step, before the loop's zero_grad: all zeros is what a compiled backward
    (AOTAutograd) hands a parameter the loss does not reach, where eager autograd leaves None
    (FZ505). Only the unchanged ones are read: a fine-tune that trains reads nothing, but where a
    decoupled weight decay moves a parameter whatever its gradient (AdamW): there a moved one's grad
    is looked at too, and read with its first moment where it looks zero (`place`: the optimizer and
    param group that hold a parameter)."""
    moments: dict[int, torch.Tensor] = {}
    buffers: dict[int, torch.Tensor] = {}  # SGD's momentum buffers, where weight decay feeds them
    for i, (r, p) in enumerate(zip(records, params)):
        at = place(p) if r.changed and r.requires_grad and r.group is not None and not r.grad_hook else None
        if at is None:
            continue
        m = _first_moment(at[0], at[1], p)
        b = _decayed_momentum(at[0], at[1], p) if m is None else None
        if m is not None:
            moments[i] = m
        elif b is not None:
            buffers[i] = b
    never_graded = _never_graded(params, moments, buffers) if moments or buffers else None

    def all_zero(picked: list[int]) -> list[bool]:
        pick = [params[i] for i in picked]
        if not pick:
            return []
        return [not c for c in fsdp.nonzero_counts([p.grad for p in pick])]

    F.mark_zero_grads(records, all_zero, lambda i: params[i].grad is not None
                      and params[i].grad.layout == torch.strided, never_graded)


def _first_moment(opt: torch.optim.Optimizer, group: dict, p: torch.Tensor) -> torch.Tensor | None:
    """The first moment (`exp_avg`) of a parameter whose weight decay is decoupled from its gradient
    (AdamW; Adam, NAdam, RAdam with decoupled_weight_decay=True) and not 0: weight decay moves it
    whatever its gradient, and the moment is all zeros while no step has given it a nonzero one.
    None elsewhere (SGD's momentum takes the weight decay in; no state tells)."""
    if not (group.get("weight_decay") or 0) or not (type(opt).__name__ == "AdamW"
                                                    or group.get("decoupled_weight_decay")):
        return None
    state = getattr(opt, "state", None)
    m = state.get(p, {}).get("exp_avg") if isinstance(state, dict) else None  # .get: torch's defaultdict adds none
    return m if isinstance(m, torch.Tensor) and m.layout == torch.strided else None


def _decayed_momentum(opt: torch.optim.Optimizer, group: dict, p: torch.Tensor) -> torch.Tensor | None:
    """SGD's momentum buffer of a parameter under momentum and weight decay: where no step gave it
    a nonzero gradient, every step fed the buffer the decay term alone (weight_decay * p), so the
    buffer is a multiple of the weights, and they move. float32 and float64 only: half precision's
    rounding leaves that test unsure. None elsewhere."""
    if type(opt).__name__ != "SGD" or not (group.get("weight_decay") or 0) or not (group.get("momentum") or 0):
        return None
    state = getattr(opt, "state", None)
    b = state.get(p, {}).get("momentum_buffer") if isinstance(state, dict) else None
    ok = isinstance(b, torch.Tensor) and b.layout == torch.strided and b.dtype in (torch.float32, torch.float64)
    return b if ok and b.shape == p.shape and b.numel() else None


_MULTIPLE_TOL = 1e-4  # of the buffer's largest element: float32 rounding over a window stays far below it


def _multiples(buffers: list[torch.Tensor], weights: list[torch.Tensor]) -> list[bool]:
    """Whether each buffer is c * its weights for one scalar c (up to rounding) and not all zeros:
    what SGD's weight decay alone builds in the momentum from zero gradients. A gradient at any step
    of the buffer's memory adds a part that no multiple of the weights holds. c is read at the
    weights' largest element; one temporary of each buffer's size and dtype, no float64 copy."""
    out = []
    for b, w in zip(buffers, weights):
        w = w.detach()
        at = int(torch.argmax(w.abs().reshape(-1))) if b.numel() else 0
        top, big = (float(b.reshape(-1)[at]), float(w.reshape(-1)[at])) if b.numel() else (0.0, 0.0)
        if not big or not top:
            out.append(False)
            continue
        off = torch.linalg.vector_norm(torch.sub(b, w, alpha=top / big), float("inf"))
        scale = torch.linalg.vector_norm(b, float("inf"))
        out.append(bool(scale > 0 and off <= _MULTIPLE_TOL * scale))
    return out


def _all_zero(tensors: list[torch.Tensor]) -> list[bool]:
    """Whether each tensor is all zeros: one fused max-abs per device and dtype, one read back each."""
    out: list[bool] = [False] * len(tensors)
    by_kind: dict[tuple, list[int]] = {}
    for i, t in enumerate(tensors):
        by_kind.setdefault((t.device, t.dtype), []).append(i)
    for idx in by_kind.values():
        norms = torch._foreach_norm([tensors[i] for i in idx], ord=float("inf"))
        for i, n in zip(idx, torch.stack(norms).tolist()):
            out[i] = n == 0
    return out


def _never_graded(params: list[torch.Tensor], moments: dict[int, torch.Tensor],
                  buffers: dict[int, torch.Tensor]) -> Callable[[list[int]], list[bool]]:
    """For mark_zero_grads: which of the moved parameters picked (record indices; only those with a
    first moment in `moments` or an SGD momentum buffer in `buffers` are read) had an all-zero grad
    at the closing step and an all-zero first moment, or a momentum buffer that is a multiple of the
    weights, so that no step gave them a gradient and weight decay alone moved them (a loop's
    `p.grad.zero_()` after backward). A first look at each grad's first elements (a real gradient
    is seldom zero there) leaves the full reads to the few that pass it."""
    def ask(picked: list[int]) -> list[bool]:
        out = [False] * len(picked)
        known = [k for k, i in enumerate(picked) if i in moments or i in buffers]
        if not known:
            return out
        grads = [fsdp.local(params[picked[k]].grad) for k in known]
        heads = [g.view(-1)[:16] if g.is_contiguous() else g for g in grads]
        maybe = [k for k, z in zip(known, _all_zero(heads)) if z]
        adam = [k for k in maybe if picked[k] in moments]
        full = _all_zero([fsdp.local(params[picked[k]].grad) for k in maybe]
                         + [fsdp.local(moments[picked[k]]) for k in adam])
        zero = dict(zip(maybe, full))
        for k, z in zip(adam, full[len(maybe):]):
            out[k] = zero[k] and z
        sgd = [k for k in maybe if picked[k] in buffers and zero[k]]
        bufs = [fsdp.local(buffers[picked[k]]) for k in sgd]
        weights = [fsdp.local(params[picked[k]]) for k in sgd]
        # the first elements first, as for the grads: a gradient in the buffer shows there too. Where
        # the weights' first elements are all zeros (an embedding's padding row), they tell nothing:
        # those are read in full
        wheads = [w.view(-1)[:16] if w.is_contiguous() else w for w in weights]
        heads = _multiples([b.view(-1)[:16] if b.is_contiguous() else b for b in bufs], wheads)
        keep = [n for n, (h, blank) in enumerate(zip(heads, _all_zero(wheads))) if h or blank]
        for n, z in zip(keep, _multiples([bufs[n] for n in keep], [weights[n] for n in keep])):
            out[sgd[n]] = z
        return out
    return ask


def _rebuilt(found: list[F.AuditFinding], precords: list[ParamRecord]) -> list[F.AuditFinding]:
    """FZ503 on a module that ran and FZ505 on one no forward ran, with the same parameter shapes
    in the same order: the module was built again after the optimizer took the first one's
    parameters (`mlp = MLP()` once more before the loop) and something keeps the old one alive
    (accelerate's `prepare` does). One FZ302 says so, instead of two findings that read unrelated."""
    shape = {r.name: r.shape for r in precords}

    def names(f: F.AuditFinding) -> list[str]:
        return f.names or [f.target]

    out = list(found)
    for new in [f for f in found if f.code == "FZ503"]:
        shapes = [shape.get(n) for n in names(new)]
        if None in shapes:
            continue
        old = next((f for f in out if f.code == "FZ505" and "never ran" in f.message
                    and [shape.get(n) for n in names(f)] == shapes), None)
        if old is None:
            continue
        out.remove(new)
        out.remove(old)
        k = len(shapes)
        out.append(F.AuditFinding(
            "FZ302", new.target,
            f"{new.target} was built anew after the optimizer was built: the optimizer holds the parameters of the "
            f"module it replaced ({old.target}: the same {k} shape{'s' if k != 1 else ''}, and no forward ran it), "
            f"while the new one's ({F.listed(names(new))}) are in no param group and never train",
            f"build the optimizer after the module's last construction, or `optimizer.add_param_group("
            f"{{'params': {new.target}.parameters()}})` and drop the old module's group", names(new)))
    return out


def _hint_averages(found: list[F.AuditFinding], labels: dict[str, str], steps: int) -> None:
    """FZ502 on a frozen model shaped as the trained one, or a part of it (`labels`: label -> which):
    an EMA updated every few steps is indistinguishable from a forgotten frozen copy when no update
    fell in the window."""
    for f in found:
        if f.code != "FZ502":
            continue
        owners = {next((x for x in labels if n == x or n.startswith(x + ".")), None) for n in f.names or [f.target]}
        if len(owners) == 1 and None not in owners:
            label = owners.pop()
            f.advice += (f"; if {label} is an average of {labels[label]} updated every few steps, none of "
                         f"its updates fell in these {steps} steps: watch more steps to see one")


def _frozen_copies(trained: list[nn.Module], inners: list[nn.Module], labels: list[str],
                   trees: dict[int, Tree]) -> dict[int, str]:
    """Ids of the models an optimizer holds with every parameter frozen and shaped, shape for
    shape, as another one it trains, each with that one's label: an EMA teacher whose frozen
    parameters were also given to the optimizer (harmless while their grads stay None) is still
    the average of its student, as `bystanders` recognises one held by no optimizer."""
    params = [[p for _, p in (trees.get(id(m)) or walk(m)).params] for m in inners]
    shapes = [tuple(p.shape for p in ps) for ps in params]
    out = {}
    for i, m in enumerate(trained):
        if not params[i] or any(p.requires_grad for p in params[i]):
            continue
        twin = next((j for j in range(len(trained)) if j != i and shapes[j] == shapes[i]
                     and any(p.requires_grad for p in params[j])), None)
        if twin is not None:
            out[id(m)] = labels[twin]
    return out


def _trained_and_averaged(w: "Watch", inners: list[nn.Module], labels: list[str], trees: dict[int, Tree],
                          notes: list[str]) -> list[F.AuditFinding]:
    """FZ505 for a model the optimizer trains with gradients whose every parameter was written
    again, outside the optimizer, between every two of its steps (two at least), beside a model
    shaped as it parameter for parameter that the optimizer trains and nothing else writes: an
    EMA teacher left trainable and in the optimizer, so the loss trains it too and it is no longer
    an average of its student. Copies in no optimizer (an EMA, SWA's AveragedModel) are never read
    between steps; models written alike (weights clipped or pruned after each step) have no
    unwritten twin. Seen between two steps only (watch()'s default 2 steps), it is a note: a write
    every few steps (a target network's hard update) may fall there by chance."""
    params = [[p for _, p in (trees.get(id(m)) or walk(m)).params] for m in inners]
    shapes = [tuple(p.shape for p in ps) for ps in params]
    rewritten, kept = w.rewritten, w.kept_between
    kinds = {id(p): type(o).__name__ for o in w.optimizers.values() for p in held_params(o)}
    out = []
    for i, ps in enumerate(params):
        if not ps or not all(id(p) in rewritten and id(p) not in kept and id(p) in w.trained for p in ps):
            continue
        twin = next((j for j, qs in enumerate(params) if j != i and shapes[j] == shapes[i]
                     and any(id(q) in w.trained for q in qs) and not any(id(q) in rewritten for q in qs)), None)
        if twin is None:
            continue
        me, other, kind = labels[i], labels[twin], kinds.get(id(ps[0]), "the optimizer")
        seen = (f"{kind} stepped all {len(ps)} of its parameters with gradients from the loss, and between "
                f"{{}} something outside the optimizer wrote them all again, as an EMA update from {other} does "
                f"({other} has the same parameter shapes, and nothing but {kind} wrote it)")
        if min(rewritten[id(p)] for p in ps) < 2:
            notes.append(f"{me}: {seen.format('two of its steps')}; if that happens after every step, {me} is "
                         f"both trained by {kind} and overwritten by an average of {other} (an EMA teacher the "
                         f"loss reaches: FZ505): watch 3 steps or more (--steps 3) to tell")
            continue
        out.append(F.AuditFinding(
            "FZ505", me,
            f"{me} is both trained by {kind} and overwritten after every step: {seen.format('every two steps')}; "
            f"an EMA teacher the loss trains too (no stop-gradient) is no longer an average of its student",
            f"if {me} is the average of {other} (an EMA teacher), freeze it (`{me}.requires_grad_(False)`), leave "
            f"it out of the optimizer and run it under torch.no_grad(); if it is meant to train, stop writing it "
            f"after each step"))
    return out


@torch.no_grad()
def stats_moved_while_frozen(w: "Watch", params: list[torch.Tensor]) -> list[tuple[nn.Module, float | None]]:
    """At the step that first trains these parameters, frozen at the window's start (gradual
    unfreezing inside the window): the norm layers whose own parameters they all are, in train
    mode at the window's start and now, whose running statistics had moved from their copies,
    each with the largest change. Those statistics drifted while the layer was frozen: FZ502 of
    the steps before the unfreeze, which the report, judging the layer trainable, would not see."""
    ids = {id(p) for p in params}
    out = []
    for root in list(w.roots.values()):
        for m in root.modules():
            if not isinstance(m, _NormBase) or not m.training or not w.modes_before.get(id(m)) \
                    or id(m) in w.stats_kept or not m.track_running_stats:
                continue
            own = list(m.parameters(recurse=False))
            if not own or not all(id(p) in ids for p in own):
                continue
            # this rank's bits (a collective here would hang), none of a meta tensor
            pairs = [(fsdp.local(b), w.saved(b)) for b in (m.running_mean, m.running_var) if b is not None]
            pairs = [(b, was) for b, was in pairs if was is not None and was.shape == b.shape
                     and b.device == was.device and b.device.type != "meta"]
            if any(not torch.equal(b, was) for b, was in pairs):
                out.append((m, max((v for v in _sizes([b for b, _ in pairs], [was for _, was in pairs])
                                    if v is not None), default=None)))
    return out


def _idle_drift_finding(what: str, moved: list[tuple[str, nn.Module, float]], steps: int) -> F.AuditFinding:
    """FZ502 for a model that trains nothing yet ran in train mode (a distillation teacher under
    torch.no_grad() whose eval() was forgotten): its statistics drift from what it was trained with."""
    label = what.split(" ", 1)[0]
    kinds = sorted({class_name(m) for _, m, _ in moved})
    names = [f"{label}.{n}" if n else label for n, _, _ in moved]
    return F.AuditFinding(
        "FZ502", label,
        f"{what} trains nothing (no optimizer holds its parameters and no backward reached them), yet ran in train "
        f"mode: the running statistics of {len(moved)} {', '.join(kinds)} layer{'s' if len(moved) != 1 else ''} "
        f"moved{F.sized(c for _, _, c in moved)} over {steps} step{'s' if steps != 1 else ''}, so what it "
        f"computes drifts from what it was trained to compute; torch.no_grad() does not stop them",
        f"put {label} in eval() where it runs (again after every train() that reaches it), and freeze it with "
        f"{label}.requires_grad_(False)", names)


_DRIFTED_ADVICE = ("put {them} in eval() for as long as {they} {are} frozen (again after every train() that reaches "
                   "{them}), and back in train mode when you unfreeze {them}")


def _drifted_findings(w: "Watch", named_modules: list[tuple[str, nn.Module]]) -> list[F.AuditFinding]:
    """FZ502 for the norm layers `stats_moved_while_frozen` caught, one finding per unfreeze step."""
    by_step: dict[int, list[tuple[str, nn.Module, float | None]]] = {}
    for name, m in named_modules:
        entry = w.drifted.get(id(m))
        if entry is not None:
            by_step.setdefault(entry[1], []).append((name, m, entry[2]))
    out = []
    for step, mods in sorted(by_step.items()):
        names = [n for n, _, _ in mods]
        kinds = sorted({class_name(m) for _, m, _ in mods})
        out.append(F.AuditFinding(
            "FZ502", names[0] if len(names) == 1 else f"{len(names)} modules",
            f"{F.listed(names)} ({', '.join(kinds)}) had all parameters frozen until step {step} of {w.steps}, when "
            f"an optimizer first trained them, but ran in train mode before it, so running statistics moved"
            f"{F.sized(v for _, _, v in mods)} while frozen; requires_grad does not stop them "
            f"(FZ202 in the code)",
            F.worded(_DRIFTED_ADVICE, len(names) == 1), names, advice_many=F.worded(_DRIFTED_ADVICE, False)))
    return out


def _replaced_notes(w: "Watch") -> list[str]:
    """Optimizers a new one took over inside the window (gradual unfreezing's rebuild)."""
    return [f"{kind} stepped {n} time{'s' if n != 1 else ''}, then a new optimizer holding all its parameters "
            f"took over: its steps count toward the {w.steps}, its parameters are judged against the new one"
            for _, n, kind in w.replaced.values()]


def _advise_finetuning(found: list[F.AuditFinding], callbacks: str, named_modules: list[tuple[str, nn.Module]],
                       named: list[tuple[str, nn.Parameter]], unfrozen: frozenset[str]) -> None:
    """FZ503 beside a Lightning BaseFinetuning callback. Its `freeze(modules, train_bn=True)`
    (BackboneFinetuning's `freeze_before_training` always calls it so, whatever train_bn the
    callback was given) freezes every parameter but those of `_BatchNorm` layers: BatchNorm
    parameters left trainable under a part whose other parameters were all frozen at the window's
    start, and left out of an optimizer built over the rest (the head alone), are that. Its
    `unfreeze_and_add_param_group` calls `make_trainable(modules)`, which unfreezes every
    parameter of them, then adds to the optimizer only `filter_params(modules, train_bn=train_bn)`,
    which skips `_BatchNorm` layers when train_bn is False: BatchNorm parameters seen unfrozen in
    the window, alone left out, are that. Anything else is `make_trainable` alone, which adds
    nothing (the call that does is Lightning's own fix)."""
    norms = {n for n, m in named_modules if isinstance(m, _BatchNorm)}
    by_name = dict(named_modules)
    name_of = {id(p): n for n, p in named}
    kept: dict[str, bool] = {}

    def frozen_but_norms(part: str) -> bool:
        """Whether every parameter of `part` outside its BatchNorm layers (one at least) was frozen at
        the window's start (frozen still, or unfrozen inside it): what freeze(train_bn=True) leaves."""
        if part not in kept:
            m = by_name.get(part)
            inside = {id(p) for sub in m.modules() if isinstance(sub, _BatchNorm)
                      for p in sub.parameters(recurse=False)} if m is not None else set()
            rest = [p for p in m.parameters() if id(p) not in inside] if m is not None else []
            kept[part] = bool(rest) and all(not p.requires_grad or name_of.get(id(p)) in unfrozen for p in rest)
        return kept[part]

    def left_by_freeze(name: str) -> str | None:
        """The outermost part above a BatchNorm parameter that freeze(train_bn=True) could have left so."""
        path = name.split(".")[:-2]  # the parts above its BatchNorm layer
        for i in range(1, len(path) + 1):
            part = ".".join(path[:i])
            if frozen_but_norms(part):
                return part
        return None

    for f in found:
        if f.code != "FZ503":
            continue
        names = f.names or [f.target]
        on_norms = all(n.rpartition(".")[0] in norms for n in names)
        if on_norms and all(n in unfrozen for n in names):
            f.advice += (f"; in the Lightning BaseFinetuning callback ({callbacks}), "
                         f"`unfreeze_and_add_param_group(..., train_bn=False)` did this: its `make_trainable` unfreezes "
                         f"every parameter of the modules, BatchNorm layers' included, but it gives the optimizer only "
                         f"those outside BatchNorm layers; pass train_bn=True to train them, or freeze them again "
                         f"after the call (`BaseFinetuning.freeze_module` on each BatchNorm layer)")
            continue
        parts = [left_by_freeze(n) for n in names] if on_norms and not any(n in unfrozen for n in names) else [None]
        if None not in parts:
            frozen = F.listed(list(dict.fromkeys(parts)))  # type: ignore[arg-type]
            f.advice = (f"the Lightning BaseFinetuning callback ({callbacks}) froze {frozen} with "
                        f"`BaseFinetuning.freeze(..., train_bn=True)` (BackboneFinetuning's freeze_before_training "
                        f"always does, whatever its train_bn), which leaves BatchNorm layers trainable, so an "
                        f"optimizer over the other parts leaves them out: build configure_optimizers from "
                        f"`filter(lambda p: p.requires_grad, self.parameters())`, as Lightning's docs do, so they "
                        f"train; or keep them frozen with `self.freeze(modules, train_bn=False)` in "
                        f"freeze_before_training (overridden, for BackboneFinetuning)")
        else:
            f.advice += (f"; in a Lightning BaseFinetuning callback ({callbacks}), unfreeze with "
                         f"`self.unfreeze_and_add_param_group(modules, optimizer)`: `make_trainable` does not give "
                         f"them to the optimizer")


def _private_stats(f: F.AuditFinding) -> F.AuditFinding:
    """FZ502 where the optimizer's grads were noised for differential privacy (opacus's DPOptimizer):
    statistics a training forward records are computed from the private batches and never noised, so
    they leave the privacy guarantee; opacus's ModuleValidator refuses trainable BatchNorm for that,
    but checks only trainable modules, and passes a frozen one."""
    return replace(f, message=f.message + "; and with the grads noised for differential privacy (opacus), those "
                   "statistics are computed from the private batches without noise, outside the privacy guarantee "
                   "(opacus's ModuleValidator refuses a trainable BatchNorm for that reason, but does not check a "
                   "frozen one)")


def _dp_zero_grad(f: F.AuditFinding) -> F.AuditFinding:
    """FZ501 blaming zero_grad(set_to_none=False) under opacus, whose DPOptimizer.zero_grad() defaults
    to it: the loop's plain `optimizer.zero_grad()` is that call."""
    kept = F.KEPT_BY_ZERO_GRAD
    return replace(f, message=f.message.replace(kept, f"{kept} (opacus's DPOptimizer.zero_grad() defaults to "
                                                      f"set_to_none=False)")) if kept in f.message else f


def _fastai_zero_grad(f: F.AuditFinding) -> F.AuditFinding:
    """FZ501 on a zero grad kept under fastai's own Optimizer, whose zero_grad() always zeroes in
    place (it has no set_to_none) and whose step applies weight decay to every parameter with a
    grad: the fixes are fastai's, not a torch optimizer's."""
    kept = F.KEPT_BY_ZERO_GRAD
    if kept not in f.message:
        return f
    advice = ("after `learn.freeze()` (or any freeze after training), set each frozen parameter's `.grad = None`: "
              "fastai's step and zero_grad() skip a None grad; or pass opt_func=partial(OptimWrapper, "
              "opt=torch.optim.AdamW) to the Learner, whose zero_grad() sets grads to None")
    return replace(f, message=f.message.replace(kept, "fastai's zero_grad() zeroes grads in place, which keeps such "
                                                      "grads alive"), advice=advice, advice_many=advice)


def _dp_unhooked(f: F.AuditFinding) -> F.AuditFinding:
    """FZ503 under opacus: its make_private hooks only the layers trainable when it wraps the model,
    so a layer unfrozen later and added to its optimizer makes the next step raise ("Per sample
    gradient is not initialized"): the layer has to be trainable when the model is wrapped."""
    return replace(f, advice=f.advice + "; under opacus, add_param_group alone makes its next step raise (\"Per "
                   "sample gradient is not initialized\"): make_private hooked only the layers trainable when it "
                   "wrapped the model, so unfreeze them before make_private, or call the wrapped model's "
                   "remove_hooks() and make_private again with an optimizer that holds them")


def _refrozen_notes(w: "Watch", named: list[tuple[str, nn.Parameter]]) -> list[str]:
    """Which parameters were frozen inside the window, after steps that trained them: their
    records (and any FZ501) are about the steps from the freeze on."""
    by_step: dict[int, list[str]] = {}
    for n, p in named:
        entry = w.refrozen.get(id(p))
        if entry is not None:
            by_step.setdefault(entry[1], []).append(n)
    out = []
    for step, names in sorted(by_step.items()):
        what = F._common(names) if len(names) > 1 else names[0]
        out.append(f"{what}{' (' + str(len(names)) + ' parameters)' if len(names) > 1 else ''} trained, then frozen "
                   f"from step {step} of {w.steps} on: judged as frozen over the steps from there")
    return out


def _forward_modes(w: "Watch", named_modules: list[tuple[str, nn.Module]]) -> dict[str, bool | None]:
    """Module name -> the mode its own forwards ran in over the window (True: train, False: eval,
    None: both), for the submodules whose forward ran in it: those seen from the first step on
    (outside a validation pass, a root run in eval()), and the mode each was in at the start of
    the first step's forward, which ran before it. No set per module: this runs at the closing
    step, and a resnet50 has 161 modules."""
    ran, ran_eval, at_start = w.ran, w.ran_eval, w.modes_before
    out: dict[str, bool | None] = {}
    for n, m in named_modules:
        k = id(m)
        in_train, in_eval = k in ran, k in ran_eval
        if not (in_train or in_eval):
            continue
        at = at_start.get(k, m.training)
        in_train, in_eval = in_train or at, in_eval or not at
        out[n] = None if in_train and in_eval else in_train
    return out


def _stayed_in_eval(w: "Watch", named_modules: list[tuple[str, nn.Module]],
                    ran_in: dict[str, bool | None]) -> dict[str, bool]:
    """The modules in eval() at the window's start and now, that no train() the watch saw switched
    out of it and whose own forwards, where seen, all ran in eval, each with whether its forward
    ran while watched: what moved their statistics was their forward itself (or the script, where
    it never ran), not a train() undoing an eval()."""
    at_start, undone = w.modes_before, w.undone
    ran = (w.ran_eval, w.ran_other, w.roots)
    return {n: any(id(m) in r for r in ran) for n, m in named_modules if not m.training
            and not at_start.get(id(m), True) and id(m) not in undone and ran_in.get(n, False) is False}


def _undone_by(w: "Watch", named_modules: list[tuple[str, nn.Module]]) -> dict[str, str]:
    """Module name -> the name of the module whose train() call switched it out of eval(), as the
    report names it (`model.backbone.train()`: `backbone`; `teacher.train()` beside a student:
    `teacher`). A train() on the one model judged, or on a module outside the models (a DDP
    wrapper), is left out: model.train() says it."""
    name_of = {id(m): n for n, m in named_modules}
    out = {}
    for n, m in named_modules:
        call = w.undone_call.get(id(m)) if id(m) in w.undone else None
        if call is not None and name_of.get(id(call)):
            out[n] = name_of[id(call)]
    return out


def judge(w: "Watch") -> AuditReport:
    trees: dict[int, Tree] = {}
    trained = find_models(w, trees)
    dist = torch.distributed
    spread = None
    if len(trained) == 1 and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        spread = Distributed(trained[0])
    frozen, notes, averages = bystanders(w, trained, trees)
    models = trained + frozen
    ddp = ddp_class()
    inners = [spread.inner if spread is not None else unwrapped(m, ddp) for m in trained]
    inners += [unwrapped(m, ddp) for m in frozen]
    holder = held_by(inners) if len(models) > 1 and w.given_model is None else None
    labels = model_labels(models, inners, w.names_seen, holder)
    if w.inherited and spread is None:
        labels = _labels_as_before(w, models, inners, labels)
    if labels != [""]:
        _keep_names(w.named, models, labels)
    if len(trained) > 1:
        averages = {**averages, **_frozen_copies(trained, inners, labels, trees)}
    side = ran_beside(w, models, trees) if w.expect_frozen or w.expect_trainable else []
    if spread is None or not frozen:
        return _judged(w, models, inners, labels, trees, spread, trained, notes, averages, side=side,
                       container=holder[0] if holder is not None else None)
    # The ranks compare the trained model, by its own names; the models beside it are judged on
    # each rank, and their findings merged across the ranks with the trained model's.
    beside = _judged(w, frozen, inners[1:], labels[1:], trees, None, trained, [], averages)
    notes = notes + [f"{F.listed(labels[1:])} ran beside the trained model: judged on every rank, not shown in the "
                     f"tree (the ranks compare the trained model only)"]
    return _judged(w, trained, inners[:1], [""], trees, spread, trained, notes, {}, beside.findings, side=side)


def _added_frozen(w: "Watch", named: list[tuple[str, nn.Parameter]], opts: list[torch.optim.Optimizer],
                  onames: list[str], found: list[F.AuditFinding]) -> list[F.AuditFinding]:
    """FZ504 on parameters added to an optimizer after the window before (add_param_group at an
    epoch boundary) that were frozen at every step of this one: the unfreeze that should go with
    the addition was left out, so they never train. One added frozen and unfrozen inside this
    window trained at a step (`w.trained`): silent; so are groups given frozen at construction."""
    # those another FZ504 names already (one parameter: its name is the target's first word)
    taken = {n for f in found if f.code == "FZ504" for n in (f.names or [f.target.split(" in ")[0]])}
    place: dict[int, tuple[int, int]] = {}
    for oi, opt in enumerate(opts):
        for gi, g in enumerate(opt.param_groups):
            for q in g["params"]:
                place.setdefault(id(q), (oi, gi))
    groups: dict[tuple[int, int], list[str]] = {}
    for n, p in named:
        if id(p) not in w.added or id(p) in w.trained or p.requires_grad or n in taken:
            continue
        at = place.get(id(p))
        if at is not None:
            groups.setdefault(at, []).append(n)
    out = []
    for (oi, gi), names in sorted(groups.items()):
        one = len(names) == 1
        where = F._common(names)
        at = f"param_groups[{gi}]" if len(opts) == 1 else f"{onames[oi]}.param_groups[{gi}]"
        whose = "the optimizer" if len(opts) == 1 else onames[oi]
        out.append(F.AuditFinding(
            "FZ504", at if where == "(model)" else f"{where} in {at}",
            f"{len(names)} parameter{'' if one else 's'} ({F.listed(names)}), added to {whose} {w.added_when} "
            f"(add_param_group, param group {gi}), {'was' if one else 'were'} frozen at every step of this window, "
            f"so {'it never trains' if one else 'they never train'}",
            f"unfreeze {'it' if one else 'them'} (`requires_grad_(True)`) where {'it is' if one else 'they are'} "
            f"added to the optimizer, or do not add {'it' if one else 'them'}", names if not one else []))
    return out


def _scheduler_of(opt: torch.optim.Optimizer) -> object | None:
    """The lr scheduler the training code holds over `opt`: in a variable of a frame on the stack,
    or of the script's top level, else wherever it is held (`self.sched`), found from the optimizer;
    or None. For a group whose lr was raised from 0 only."""
    import sys

    from freezelint.runtime.watch_models import user_scopes

    kinds = tuple(k for k in (getattr(torch.optim.lr_scheduler, n, None) for n in ("LRScheduler", "_LRScheduler"))
                  if isinstance(k, type))
    for scope in user_scopes(sys._getframe()):
        for v in list(scope.values()):
            if isinstance(v, kinds) and getattr(v, "optimizer", None) is opt:
                return v
    return next(iter(schedulers_over(opt, is_torch_scheduler)), None)


# torch's schedulers whose lr for a group is its base lr, or its lr at the step before, times a factor:
# a base lr of 0 stays 0 (the cosine ones only with eta_min=0; ReduceLROnPlateau only lowers an lr).
# OneCycleLR and CyclicLR set the lr from their own max_lr / base_lr, and a subclass may do anything.
_MULTIPLYING = ("LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR", "ExponentialLR",
                "PolynomialLR", "ReduceLROnPlateau", "CosineAnnealingLR", "CosineAnnealingWarmRestarts")


def _multiplies(sched: object) -> bool:
    """Whether an lr scheduler (SequentialLR and ChainedScheduler: every one they hold) only
    multiplies a group's lr, so that a base lr of 0 stays 0."""
    kind = type(sched).__name__
    if kind in ("SequentialLR", "ChainedScheduler") and type(sched) is getattr(torch.optim.lr_scheduler, kind, None):
        inner = getattr(sched, "_schedulers", None)
        return isinstance(inner, (list, tuple)) and bool(inner) and all(_multiplies(s) for s in inner)
    if kind not in _MULTIPLYING or type(sched) is not getattr(torch.optim.lr_scheduler, kind, None):
        return False
    floor = getattr(sched, "eta_min", 0)
    return not kind.startswith("CosineAnnealing") or (isinstance(floor, (int, float)) and floor == 0)


_HELD_IN = 64  # a list, tuple or dict longer than this holds data, not the loop's schedulers
_MODULE_OWN = frozenset(nn.Module().__dict__)  # what every module holds (its parameters, children, hooks)


def _own(obj: object, name: str) -> object:
    """`obj.name` from the instance's own __dict__ (no property, no __getattr__ runs), or None."""
    try:
        attrs = object.__getattribute__(obj, "__dict__")
    except Exception:  # noqa: BLE001 — no instance dictionary
        return None
    return attrs.get(name) if type(attrs) is dict else None


def _lightning_kinds() -> tuple[list[type], list[type]]:
    """Lightning's Trainer and Strategy classes, where the running code has imported Lightning
    (never imported here)."""
    import sys

    trainers, strategies = [], []
    for pkg in ("lightning.pytorch", "pytorch_lightning"):
        trainer = getattr(sys.modules.get(f"{pkg}.trainer.trainer"), "Trainer", None)
        strategy = getattr(sys.modules.get(f"{pkg}.strategies.strategy"), "Strategy", None)
        trainers += [trainer] if isinstance(trainer, type) else []
        strategies += [strategy] if isinstance(strategy, type) else []
    return trainers, strategies


def _lightning_schedulers(v: object, mro: tuple[type, ...], kinds: tuple[list[type], list[type]]) -> list[object]:
    """The schedulers of Lightning's own configs (configure_optimizers' "lr_scheduler") where `v` is
    a Trainer (`trainer.lr_scheduler_configs`, a property, reads `trainer.strategy`'s) or a
    Strategy; read from the instances' own attributes."""
    trainers, strategies = kinds
    if any(t in mro for t in trainers):
        v = _own(_own(v, "_accelerator_connector"), "strategy")
        mro = type(v).__mro__
    if not any(s in mro for s in strategies):
        return []
    configs = _own(v, "lr_scheduler_configs")
    return [_own(c, "scheduler") for c in configs] if type(configs) is list and len(configs) <= _HELD_IN else []


def _schedulers_over(opt: torch.optim.Optimizer) -> list[object]:
    """The lr schedulers over `opt` that the training code holds: in a variable of a frame on the
    stack or of the script's top level, or an attribute of one, or of one of those (`self.lr_scheduler`
    of the HF Trainer, accelerate's wrapper's `.scheduler`, a LightningModule's `self.sched`), or an
    item of a short list, tuple or dict among them, or in the configs of a Lightning Trainer or
    Strategy found there; each once. Nothing of the user's objects runs: types are read with type(),
    attributes from the instance's own __dict__. Run only where a group has lr=0 (see _kept_at_zero)."""
    import sys
    import types

    from freezelint.runtime.watch_models import user_scopes

    kinds = tuple(k for k in (getattr(torch.optim.lr_scheduler, n, None) for n in ("LRScheduler", "_LRScheduler"))
                  if isinstance(k, type))
    lightning = _lightning_kinds()
    found: dict[int, object] = {}
    seen: set[int] = set()

    def look(values: list, depth: int) -> None:
        for v in values:
            kind = type(v)
            if id(v) in seen or issubclass(kind, (type, types.ModuleType, types.FunctionType, torch.Tensor)):
                continue
            seen.add(id(v))
            if issubclass(kind, kinds):  # isinstance reads `__class__`: a dead weakref.proxy raises, a lazy proxy wakes
                if getattr(v, "optimizer", None) is opt:
                    found[id(v)] = v
            elif kind in (list, tuple, dict) and depth and len(v) <= _HELD_IN:  # `scheds = [LinearLR(...), ...]`
                look(list(v.values() if kind is dict else v), depth - 1)
            elif any(lightning) and (held := _lightning_schedulers(v, kind.__mro__, lightning)):
                look(held, 0)
            elif depth:
                try:
                    attrs = object.__getattribute__(v, "__dict__")  # never a class's own __getattr__
                except Exception:  # noqa: BLE001 — no instance dictionary
                    continue
                if type(attrs) is not dict:
                    continue
                # a module's own attributes (`self.sched` of a LightningModule), not its parameters and children
                items = list(attrs.items())  # one copy: the loop's threads may write to it
                look([a for k, a in items if k not in _MODULE_OWN] if issubclass(kind, nn.Module)
                     else [a for _, a in items], depth - 1)

    for scope in user_scopes(sys._getframe()):
        look(list(scope.values()), 2)
    return list(found.values())


def _kept_at_zero(opt: torch.optim.Optimizer) -> dict[int, str]:
    """The param groups of `opt` whose base lr is 0 (`initial_lr`: the lr a scheduler took) while
    another group trains, under schedulers that only multiply it, so that it stays 0 at every step:
    -> group index -> those schedulers' class names. None where a scheduler over it may raise it, or
    where none is found (an lr the loop sets by hand)."""
    groups = opt.param_groups
    zero = [gi for gi, g in enumerate(groups) if F.lr_is_zero(g.get("lr")) and "initial_lr" in g
            and F.lr_is_zero(g["initial_lr"]) and any(p.requires_grad for p in g["params"])]
    if not zero or all(F.lr_is_zero(g.get("lr")) for g in groups):
        return {}
    scheds = _schedulers_over(opt)
    if not scheds or not all(_multiplies(s) for s in scheds):
        return {}
    kinds = ", ".join(dict.fromkeys(type(s).__name__ for s in scheds))
    return {gi: kinds for gi in zero}


def _lifted_by(opt: torch.optim.Optimizer, overwritten: tuple[str, Any] | None = None) -> str:
    """What raised an lr=0 group's lr, as far as the scheduler the code holds tells. `overwritten`:
    the lr=0 was written over what a scheduler had set (its class, that lr)."""
    if overwritten is not None:
        kind, lr = overwritten
        lr = lr.item() if isinstance(lr, torch.Tensor) else lr
        return (f"the lr=0 was written after {kind} set lr={F._num(float(lr))} for this group, and its step() "
                f"sets the group's lr again from its schedule")
    sched = _scheduler_of(opt)
    if sched is None:
        return "a scheduler (or the script) sets every group's lr"
    kind = type(sched).__name__
    floor = getattr(sched, "eta_min", None)
    if isinstance(floor, (int, float)) and floor > 0:
        return (f"{kind}'s eta_min={F._num(float(floor))} applies to every group: it raises this one's lr from 0 "
                f"toward {F._num(float(floor))}")
    return f"{kind} sets every group's lr from its schedule, this one's too"


def _timm_warmup(opt: torch.optim.Optimizer) -> tuple[str, float, int] | None:
    """timm's scheduler over `opt`, found from the optimizer wherever the training code holds it (a
    variable, `self.sched`), where it warms up from a nonzero warmup_lr_init (every group, from that
    lr toward its own base): its class, that lr and warmup_t. Read from the instance's own
    attributes. Looked for only for a group whose base lr is 0 (`lr_off_base`)."""
    for v in schedulers_over(opt, is_timm_scheduler):
        start, length = _own(v, "warmup_lr_init"), _own(v, "warmup_t")
        if isinstance(start, (int, float)) and start > 0 and isinstance(length, int) and length > 0:
            return type(v).__name__, float(start), length
    return None


def _own_lrs(kind: str) -> tuple[str, ...]:
    """The arguments from which OneCycleLR or CyclicLR sets each group's lr."""
    return ("max_lr",) if kind == "OneCycleLR" else ("base_lr", "max_lr")


def _lr_lifted(w: "Watch", named: list[tuple[str, nn.Parameter]], precords: list[ParamRecord],
               opts: list[torch.optim.Optimizer], onames: list[str]) -> list[F.AuditFinding]:
    """FZ304 on a param group frozen by lr=0 whose lr a scheduler raised inside the window, and
    whose parameters then changed: the freeze by learning rate did not hold."""
    changed = {id(p) for (_, p), r in zip(named, precords) if r.changed}
    names = {id(p): n for n, p in named}
    out = []
    for oi, opt in enumerate(opts):
        for gi, group in enumerate(opt.param_groups):
            lifted = w.lr_lifted.get((id(opt), gi))
            moved = [names[id(p)] for p in group["params"] if id(p) in changed and id(p) in names]
            if lifted is None or not moved:
                continue
            then, step, lr = lifted
            lr = lr.item() if isinstance(lr, torch.Tensor) else lr
            where = F._common(moved)
            at = f"param_groups[{gi}]" if len(opts) == 1 else f"{onames[oi]}.param_groups[{gi}]"
            one = len(moved) == 1
            built = w.lr_built.get((id(opt), gi))
            warmup = _timm_warmup(opt) if (id(opt), gi) in w.lr_off_base else None
            if (id(opt), gi) in w.lr_off_base and warmup is None:
                continue  # raised from a base of 0 by no scheduler known to do so: the script's own lr
            if warmup is not None:
                kind, start, length = warmup
                had = (f"has a base lr of 0 (its `initial_lr`) but had lr={F._num(lr)} at step {step}")
                why = (f"timm's {kind} warms every param group up from warmup_lr_init={F._num(start)} over "
                       f"warmup_t={length}, this one's too, reaching its base of 0 only at the warmup's end")
                fix = ", or set warmup_lr_init=0 (each group then warms up from 0 to its own base)"
            elif built is not None:  # the scheduler replaced the 0 when built, before any step
                args = _own_lrs(built)
                had = f"had lr=0 until {built} was built over the optimizer (lr={F._num(lr)} at step {step})"
                why = (f"{built} writes its own lr into every param group when built ({' and '.join(args)} given as "
                       f"one number {'applies' if len(args) == 1 else 'apply'} to every group), this one's too")
                fix = (f", or give {built} one value per group, 0 for this one "
                       f"({', '.join(f'`{a}=[...]`' for a in args)})")
            else:
                had = f"had lr=0 at step {then} and lr={F._num(lr)} at step {step}"
                why, fix = _lifted_by(opt, w.lr_overwritten.get((id(opt), gi))), ""
            out.append(F.AuditFinding(
                "FZ304", at if where == "(model)" else f"{where} in {at}",
                f"param group {gi}{'' if len(opts) == 1 else ' of ' + onames[oi]} {had}, and its "
                f"parameter{'' if one else 's'} ({F.listed(moved)}) changed: {why}, so the lr=0 that froze "
                f"{'it' if one else 'them'} does not hold",
                f"freeze {'it' if one else 'them'} with `requires_grad_(False)` and leave {'it' if one else 'them'} "
                f"out of the optimizer, instead of lr=0{fix}",
                moved if not one else []))
    return out


def _inherited(w: "Watch", *objs: object) -> str | None:
    """The name an earlier window of the watch gave one of `objs` (a model and the module it wraps)."""
    for o in objs:
        kept = w.inherited.get(id(o))
        if kept is not None and kept[0]() is o:
            return kept[1]
    return None


def _labels_as_before(w: "Watch", models: list[nn.Module], inners: list[nn.Module], labels: list[str]) -> list[str]:
    """A later window's labels as the first window gave them (`a` rather than none where `a` is
    now judged alone, `actor` rather than a class name): its report names what the first's did."""
    before = [_inherited(w, m, i) for m, i in zip(models, inners)]
    if len(models) == 1:
        return [before[0]] if before[0] else labels
    out = [b or label for b, label in zip(before, labels)]
    return out if len(set(out)) == len(out) else labels


def _keep_names(into: dict, objs: list[object], names: list[str]) -> None:
    """Note the names given to `objs` (by id, with a weak reference that tells the same object)."""
    for o, n in zip(objs, names):
        if n:
            try:
                into[id(o)] = (weakref.ref(o), n)
            except TypeError:  # no weakref slot
                pass


def _side_patterns(patterns: list[str], side: list[tuple[str, nn.Module]], judged_names: list[str]) -> dict[str, str]:
    """pattern -> the name of the model beside the judged ones it names (`ref`, `ref.0`): one that
    starts with that model's name and names nothing in the judged models."""
    out = {}
    for p in patterns:
        label = next((name for name, _ in side if p == name or p.startswith(name + ".")), None)
        if label is not None and not any(matches(p, n) for n in judged_names):
            out[p] = label
    return out


def _side_records(w: "Watch", label: str, model: nn.Module) -> tuple[list[ParamRecord], list[str]]:
    """Records of a model that ran beside the judged ones, under its name, for the expectations that
    name it: whether each parameter required grad at a step (or does now), and whether it changed
    from its fingerprint at the window's start (every forwarded model's parameters have one)."""
    tree = walk(model)
    params = [p for _, p in tree.params]
    now = Fingerprinter(params)(just_built=True) if params else []
    held = {id(p): gi for o in w.optimizers.values() for gi, g in enumerate(o.param_groups) for p in g["params"]}
    records = []
    for (n, p), f in zip(tree.params, now):
        was = w.before.get(id(p))
        name = join_name(label, n)
        records.append(ParamRecord(name, name.rpartition(".")[0], tuple(p.shape), _dtype_name(p.dtype),
                                   p.requires_grad or id(p) in w.wanted, held.get(id(p)),
                                   was is not None and was[1] != f, None, w.grad_seen.get(id(p), "none")))
    return records, [join_name(label, n) for n, _ in tree.modules]


def _side_expectations(w: "Watch", side: list[tuple[str, nn.Module]], mine: dict[str, str], expect_frozen: list[str],
                       expect_trainable: list[str]) -> list[F.AuditFinding]:
    """FZ506 for the expectations (`mine`: pattern -> the name of the model it names) that name a
    model run beside the judged ones: judged on it as on the trained model (a frozen reference that
    ran and did not move holds `expect_frozen`)."""
    found = []
    for label, model in side:
        frozen = [p for p in expect_frozen if mine.get(p) == label]
        trainable = [p for p in expect_trainable if mine.get(p) == label]
        if frozen or trainable:
            records, module_names = _side_records(w, label, model)
            found += F.expectation_findings(records, frozen, trainable, module_names)
    return found


def _judged(w: "Watch", models: list[nn.Module], inners: list[nn.Module], labels: list[str], trees: dict[int, Tree],
            spread: Distributed | None, trained: list[nn.Module], notes: list[str], averages: dict[int, str],
            beside: list[F.AuditFinding] = (),  # type: ignore[assignment]
            side: list[tuple[str, nn.Module]] = (),  # type: ignore[assignment]
            container: str | None = None) -> AuditReport:
    """The report on `models` (the trained ones and those run beside them, or only the latter:
    `models` not starting with `trained`), each named under its label. `spread`: the ranks
    compare these models; `beside`: findings on the models beside, judged apart, to merge;
    `side`: named models that ran beside and are not judged, for the expectations that name them;
    `container`: the code's name for the module that holds the labelled models (`nets`), which
    expectations may start with (`nets.aux` is `aux`)."""
    only_beside = models[0] is not trained[0]
    named_modules: list[tuple[str, nn.Module]] = []
    named: list[tuple[str, nn.Parameter]] = []
    named_buffers: list[tuple[str, torch.Tensor]] = []
    seen: set[int] = set()
    tied: dict[int, list[str]] = {}  # every name of a tied parameter: patterns may use any of them
    first: dict[int, str] = {}  # id of a parameter -> the name it is recorded under
    for label, inner in zip(labels, inners):
        tree = trees.get(id(inner)) or walk(inner)
        for pid, names in tree.tied.items():
            tied.setdefault(pid, []).extend(join_name(label, n) for n in names)
        if labels == [""] and not {id(p) for _, p in tree.params} & {id(b) for _, b in tree.buffers}:
            named_modules, named, named_buffers = tree.modules, tree.params, tree.buffers  # nothing to rename
            break
        named_modules += [(join_name(label, n), m) for n, m in tree.modules]
        for n, p in tree.params:
            if id(p) not in seen:
                seen.add(id(p))
                named.append((join_name(label, n), p))
                first[id(p)] = named[-1][0]
            elif id(p) in first:  # shared by models watched together (one embedding, two models): tied too
                every = tied.setdefault(id(p), [first[id(p)]])
                if join_name(label, n) not in every:
                    every.append(join_name(label, n))
        for n, b in tree.buffers:
            if id(b) not in seen:
                seen.add(id(b))
                named_buffers.append((join_name(label, n), b))
    if spread is not None:  # FSDP1: names as the unwrapped model has them, its wrappers left out
        named_modules, named, named_buffers = spread.clean_names(named_modules, named, named_buffers)
    if labels != [""]:  # one root above the labelled models, so the module tree has a top
        named_modules.insert(0, ("", nn.Module()))
    params = [p for _, p in named]

    # Parameters: fingerprints at the window's start and now (the root's own fingerprinter when the
    # model is one forwarded root: its index is built already). Buffers: compared with their copies
    # (those with none, sparse ones, by fingerprint); one that moved is sized from its copy.
    buffers = [b for _, b in named_buffers]
    copied = [id(b) in w.buffer_copy for b in buffers]
    tensors = params + [b for b, c in zip(buffers, copied) if not c]
    # (the pass is begun first: where a CPU is spare, it reads while the buffers are compared here)
    cached = w._fingerprinters.get(id(models[0])) if len(models) == 1 else None
    reuse = cached is not None and len(cached[0]) == len(tensors) and all(a is b for a, b in zip(cached[0], tensors))
    pending = (cached[1].start(waiting=True) if reuse else Fingerprinter(tensors).start(just_built=True, waiting=True)) \
        if tensors else None
    by_copy = iter(_buffer_changes(w, [b for b, c in zip(buffers, copied) if c]))
    names = Names.of(named_modules)  # as audit() names them: PEFT's trained copies, wrappers inside the model
    # The tree shows the mode the module's forwards ran in over the window ("train+eval" where
    # both), and for one whose own forward did not run, the mode the steps ran in: the mode at the
    # window's start, or train for a module an observed train() switched out of eval() inside the
    # window (a train() between backward and step() changes neither). The findings are told
    # whether an undone eval() froze a part (FZ201) or was the script's own eval()/train() pair
    # around a validation pass (FZ502: those statistics were never frozen).
    at_start, undone, later = w.modes_before, w.undone, w.trained_in_window
    if undone:
        modes = {n: id(m) in later or at_start.get(id(m), m.training) for n, m in named_modules}
        judged_modes = {n: w.toggled(m) if id(m) in undone else at_start.get(id(m), m.training)
                        for n, m in named_modules}
    else:
        modes = judged_modes = {n: at_start.get(id(m), m.training) for n, m in named_modules}
    ran_in = _forward_modes(w, named_modules)
    if ran_in:
        modes = {n: mode if ran_in.get(n, None) is None else ran_in[n] for n, mode in modes.items()}
    found = F.live_findings(named_modules, named)
    stayed = _stayed_in_eval(w, named_modules, ran_in)
    # (a walk only where a set it reads has members: an empty one makes an empty result)
    kept = frozenset(n for n, m in named_modules if id(m) in undone and id(m) in w.stats_kept) \
        if undone and w.stats_kept else frozenset()
    by_call = _undone_by(w, named_modules) if undone else {}
    sites = {n: w.undone_site[id(m)] for n, m in named_modules if id(m) in w.undone_site} if undone else {}
    unfrozen = frozenset(n for n, p in named if id(p) in w.frozen_at_start) if w.frozen_at_start else frozenset()
    refrozen = frozenset(n for n, p in named if id(p) in w.refrozen) if w.refrozen else frozenset()
    # a later window's: frozen between the windows, after steps that trained them
    frozen_before = frozenset(n for n, p in named if id(p) in w.frozen_after) if w.frozen_after else frozenset()
    if w.part_toggled:  # left frozen at their optimizer's steps by a toggle that unfroze only their neighbours
        by_id = {id(p): n for n, p in named}
        toggled = {by_id[i]: [by_id[b] for b in back if b in by_id] for i, back in w.part_toggled.items() if i in by_id}
    else:
        toggled = {}
    model_ids = {id(p) for p in params}
    # modules no forward of a watched model reached (a model only an optimizer holds): never ran
    idle = frozenset(n for n, m in named_modules if id(m) not in w._covered and (n or labels == [""]))
    ran = frozenset(n for n, m in named_modules if id(m) in w.ran or id(m) in w.ran_eval or id(m) in w.ran_other)
    # nn.MultiheadAttention's forward reads its out_proj's weights itself (F.multi_head_attention_forward),
    # never calling it: the child ran where its parent did
    ran = ran | frozenset(f"{n}.{c}" if n else c for n, m in named_modules
                          if isinstance(m, nn.MultiheadAttention) and n in ran for c, _ in m.named_children())
    after = pending.result() if pending is not None else []
    before = [w.before[id(t)][1] if id(t) in w.before else a for t, a in zip(tensors, after)]
    changed = [a != b for a, b in zip(after, before)]
    nparams = len(params)
    changed_p = changed[:nparams]
    by_print = iter(changed[nparams:])  # those buffers have no copy: they cannot be sized
    bchanges = [next(by_copy) if c else (next(by_print), None) for c in copied]
    bmoved = [moved for moved, _ in bchanges]
    if spread is not None:  # the ranks compare buffers by fingerprint: the copies' are those at the start
        after_b, before_b = iter(after[nparams:]), iter(before[nparams:])
        now = Fingerprinter(buffers)(just_built=True) if buffers else []
        saved = [w.saved(b) for b, c in zip(buffers, copied) if c]
        then = iter(Fingerprinter(saved)(just_built=True) if saved else [])  # type: ignore[arg-type]
        after = after[:nparams] + [f if c else next(after_b) for c, f in zip(copied, now)]
        before = before[:nparams] + [next(then) if c else next(before_b) for c in copied]
        changed = changed_p + bmoved

    opts = list(w.optimizers.values())
    onames = optimizer_labels(opts, w.names_seen)  # several: named as the code names them, in findings and records
    if len(opts) == 1 and w.inherited:  # one, in a later window: as the first window named it among several
        onames = [_inherited(w, opts[0]) or onames[0]]
    elif len(opts) > 1:
        _keep_names(w.named, opts, onames)
    holder: dict[int, tuple[int, int]] = {}
    for oi, opt in enumerate(opts):
        for gi, group in enumerate(opt.param_groups):
            for p in group["params"]:
                holder.setdefault(id(p), (oi, gi))
    precords = []
    trained_ids, wanted, grad_seen = w.trained, w.wanted, w.grad_seen
    written_back, lasted, in_forward, dropped = w.written_back, w.lasted, w.moved_in_forward, w.dropped
    for (n, p), moved in zip(named, changed_p):  # each record made whole: one pass, no attribute set after
        held = holder.get(id(p))
        seen = grad_seen.get(id(p), "none")
        if held is not None:
            state = opts[held[0]].state.get(p)
            trainable, group, grad, has_state = id(p) in trained_ids, held[1], seen, bool(state)
        else:  # in no optimizer: whether a backward reached it is read off its grad now (none clears it)
            trainable, group, has_state = p.requires_grad or id(p) in wanted, None, False
            grad = "nonzero" if seen == "none" and p.grad is not None else seen
        back = tuple(written_back[id(p)]) if id(p) in written_back and id(p) not in lasted else ()
        precords.append(ParamRecord(n, n.rpartition(".")[0], tuple(p.shape), _dtype_name(p.dtype), trainable, group,
                                    moved, None, grad, has_state,
                                    onames[held[0]] if held is not None and len(opts) > 1 else None,
                                    written_back=back, grad_hook=bool(getattr(p, "_backward_hooks", None)),
                                    in_forward=id(p) in in_forward, grad_dropped=id(p) in dropped and grad == "none"))
    if w.steps > 1 and not w.judged_at_exit and not w.cut_short:
        _read_zero_grads(precords, params, lambda p: (opts[holder[id(p)][0]], opts[holder[id(p)][0]].param_groups[
            holder[id(p)][1]]) if id(p) in holder else None)
    if tied:
        for r, p in zip(precords, params):
            if id(p) in tied:
                r.aliases = [n for n in tied[id(p)] if n != r.name]
    if names.saved_copies or names.transparent:
        for r in precords:
            shown = names.display(r.name)
            every = [*names.aliases(r.name, displayed=False), *names.aliases(r.name), shown]  # raw names stay
            r.aliases += [a for a in dict.fromkeys(every) if a != r.name and a not in r.aliases]
            r.original = names.is_original(r.name)
    brecords = [BufferRecord(n, n.rpartition(".")[0], moved, delta, _dtype_name(b.dtype))
                for (n, b), (moved, delta) in zip(named_buffers, bchanges)]
    if spread is not None:  # a sharded parameter is judged from all its shards
        precords, brecords = spread.agree(precords, brecords)
    mrecords = _module_records(named_modules, {id(p): r for p, r in zip(params, precords)}, brecords, modes)
    both = {n for n, mode in ran_in.items() if mode is None}
    if both:
        mrecords = [replace(r, mode="train+eval") if r.name in both else r for r in mrecords]
    if labels != [""]:  # the root above the labelled models is none of the script's: it names them
        mrecords[0] = replace(mrecords[0], type=f"({len(labels)} model{'s' * (len(labels) != 1)}: {', '.join(labels)})")
    # how the loop zeroes grads: seen where the watch could tell (a grad tensor kept or renewed
    # from one step to the next), else a guess from frozen parameters holding zeroed grads, which
    # the findings' advice may use but the report's header does not state (nor contradict: one that
    # says set_to_none=False keeps a frozen parameter's grad alive is not headed set_to_none=True)
    seen_zeroing = w.zeroing
    set_to_none = "kept" not in seen_zeroing and not any(r.grad == "zero" and not r.requires_grad for r in precords)
    shown_zeroing = (True if seen_zeroing == {"renewed"} and set_to_none else False if seen_zeroing == {"kept"}
                     else None)

    from_ddp: frozenset[str] = frozenset()
    if spread is not None:
        spread.share_before(named, [n for n, _ in named_buffers], before)
        spread.halted = False  # the watched steps ran: what they did is judged, not withheld
        from_ddp = frozenset(spread.local_wrap.frozen) if spread.local_wrap else frozenset()

    held_still: list[str] = []  # trainable parameters an lr=0 kept still: noted, not judged
    if len(labels) > 1:  # a model beside the trained one that shares its parameters changes with it
        held_still += _shared_notes(precords, labels)
    # tensors in no module that got gradients are in the forward, not the old layer of a replaced one
    # (FZ302): noted; said to stand in for the model's own parameters (torch.func.functional_call, a
    # stateless loop) only where the shapes show it, else the model's parameters are judged as usual.
    # A grad all zeros is no gradient got: zero_grad(set_to_none=False) (fastai's zero_grad) keeps
    # the zeroed grads of a replaced layer's tensors that no backward reaches.
    outside = [[p for p in held_params(opt) if id(p) not in model_ids] if not only_beside else [] for opt in opts]
    graded = [_nonzero_grads(ps) for ps in outside]
    stood = [F.stood_in(precords, ps) if ps else [] for ps in graded]
    substituted = frozenset(r.name for rs in stood for r in rs)
    written = frozenset(n for n, p in named if id(p) in w.grad_written) if w.grad_written else frozenset()
    for oi, opt in enumerate(opts):
        mine = [r for p, r in zip(params, precords) if holder.get(id(p), (None,))[0] == oi
                or (oi == 0 and id(p) not in holder)]
        foreign = bool(outside[oi])
        if graded[oi]:
            import sys

            from freezelint.runtime.watch_models import user_scopes

            scopes = user_scopes(sys._getframe())  # the training code's, on the stack of the step judged
            held_still.append(F.outside_note(onames[oi], graded[oi], stood[oi], any(r.group is not None for r in mine),
                                             lambda t: F.held_as(t, scopes)))
            foreign = False
        found += F.step_findings(trained[0], {onames[oi]: opt}, mine, brecords if oi == 0 else [], mrecords,
                                 judged_modes, w.steps, set_to_none, foreign, True, from_ddp, updated_elsewhere=True,
                                 written=written, lr_kept={(onames[oi], gi): k for gi, k in _kept_at_zero(opt).items()},
                                 kept_stats=kept, unfrozen=unfrozen, undone_by=by_call, among=len(opts),
                                 refrozen=refrozen, frozen_before=frozen_before, notes=held_still, idle=idle,
                                 ran=ran, substituted=substituted, toggled=toggled, live=named_modules, sites=sites,
                                 stayed_eval=stayed)
    found = F.held_beside(found, precords, onames)  # several optimizers: FZ503 says which to add to
    if "noised" in w.zeroing:
        found = [_private_stats(f) if f.code == "FZ502" else _dp_zero_grad(f) if f.code == "FZ501" else
                 _dp_unhooked(f) if f.code == "FZ503" else f for f in found]
    if any(isinstance(o, fastai_steps.Optimizer) for o in opts):
        found = [_fastai_zero_grad(f) if f.code == "FZ501" else f for f in found]
    if not only_beside and any(f.code == "FZ503" for f in found):
        found = _held_unstepped(w, found, named, opts)
    if any(graded) and not only_beside:
        found = _copied_back(found, precords, onames, graded, stood, w.steps)
    if not only_beside and any(outside) and not any(f.code == "FZ302" for f in found):
        found += _left_behind(opts, onames, outside, graded, model_ids, precords, named_modules)
    if w.rewritten and len(models) > 1 and not only_beside:
        found += _trained_and_averaged(w, inners, labels, trees, held_still)
    if w.lr_lifted and not only_beside:
        found += _lr_lifted(w, named, precords, opts, onames)
    if w.added and not only_beside:
        found += _added_frozen(w, named, opts, onames, found)
    given = {p: _in_holder(p, container, labels) for p in [*w.expect_frozen, *w.expect_trainable]}
    expect_frozen, expect_trainable = ([given[p] for p in ps] for ps in (w.expect_frozen, w.expect_trainable))
    theirs = _side_patterns([*expect_frozen, *expect_trainable], side,
                            [*(n for n, _ in named_modules), *(n for n, _ in named)]) if side else {}
    if theirs:  # judged on the model they name, not as patterns that match nothing here
        as_written = {g: p for p, g in given.items()}
        found += [replace(f, target=as_written.get(f.target, f.target))
                  for f in _side_expectations(w, side, theirs, expect_frozen, expect_trainable)]
        expect_frozen, expect_trainable = ([p for p in ps if p not in theirs] for ps in (expect_frozen, expect_trainable))
    if len(trained) == 1 and w.given_model is None and not only_beside:  # names of the part that trains
        expect_frozen, expect_trainable = (in_part(w, trained[0], ps) for ps in (expect_frozen, expect_trainable))
    if len(models) > len(trained) == 1:  # the trained model's names as the user knows them, without its label
        expect_frozen, expect_trainable = ([within(p, labels[0], labels) for p in ps]
                                           for ps in (expect_frozen, expect_trainable))
    if not only_beside:  # expectations name the trained model
        mnames = [n for n, _ in named_modules]
        # one model judged, named without a label: a pattern that starts with the script's name for
        # it (`controlnet`, `controlnet.down_blocks`) names it, as it does where models are labelled
        own = model_name(models[0], inners[0], w.names_seen) if len(models) == 1 else None
        written = {**{_as_named(_without_wrappers(given[p], mnames), own, mnames): p for p in w.expect_frozen},
                   **{_as_named(_without_wrappers(given[p], mnames), own, mnames): p for p in w.expect_trainable}}
        expect_frozen, expect_trainable = ([_as_named(_without_wrappers(p, mnames), own, mnames) for p in ps]
                                           for ps in (expect_frozen, expect_trainable))
        as_named = {id(p): n for n, p in named if id(p) in tied}
        ties = {n: [a for a in tied[pid] if a != n] for pid, n in as_named.items()}
        def expectations(frozen: list[str], trainable: list[str]) -> list[F.AuditFinding]:
            return F.expectation_findings(precords, frozen, trainable, mnames, brecords, among=len(opts), tied=ties,
                                          in_eval=frozenset(r.name for r in mrecords if r.mode == "eval"),
                                          norms=F.norm_layers(named_modules))

        for f in expectations(expect_frozen, expect_trainable):
            # the finding names the pattern as the user wrote it (`ctrl.1`, `_orig_mod.head`)
            f = replace(f, target=written.get(f.target, f.target)) if f.target in written else f
            if "pattern matched no parameter" not in f.message:
                found.append(f)
                continue
            judged, note = by_script_name(f, named_modules, [r.name for r in precords], expectations)
            found += judged
            notes = notes + ([note] if note else [])
    if w.drifted and not only_beside:
        found += _drifted_findings(w, named_modules)
    if w.idle_drift and not only_beside:
        found += [_idle_drift_finding(what, moved, w.steps) for what, moved in w.idle_drift]
    found = _rebuilt(found, precords)
    found = F.grouped(found)  # alike findings one line per subtree, as audit() reports them
    if any(f.code == "FZ503" for f in found):
        callbacks = finetuning_callbacks()
        if callbacks:
            _advise_finetuning(found, ", ".join(callbacks), named_modules, named, unfrozen)
    if averages:
        _hint_averages(found, {label: averages[id(m)] for label, m in zip(labels, models) if id(m) in averages},
                       w.steps)
    found += beside
    if held_still and not only_beside:
        notes = notes + held_still
    if w.refrozen:
        notes = notes + _refrozen_notes(w, named)
    if w.replaced and not only_beside:
        notes = notes + _replaced_notes(w)
    if w.waited_for and not w.waited_out and not w.judged_at_exit and not only_beside:
        notes = notes + [f"the window waited for {F.listed(w.waited_for)}, which had not stepped when the others had "
                         f"completed {w.steps} steps, to complete {w.steps} too ({w.progress()})"]
    if w.retired and not only_beside:
        one = len(w.retired) == 1
        # a later window saw the freeze after the last step; the first saw no steps before it
        when = (f"frozen after {'its' if one else 'their'} last step" if w.opened else
                f"which {'it' if one else 'they'} had trained before the window (their optimizer state or grads remain)")
        notes = notes + [f"{F.listed(w.retired)} did not step in the window and hold{'s' if one else ''} only frozen "
                         f"parameters, {when}: the window did not wait for {'it' if one else 'them'}"]
    if w.waited_out and not only_beside:
        notes = notes + [f"the window waited for {F.listed(w.waited_out)}, which hold{'s' if len(w.waited_out) == 1 else ''} "
                         f"the parameters of a model that ran, to step {w.steps} times, and stopped waiting "
                         f"({w.progress()}): raise the number of steps, or train longer, to judge "
                         f"{'it' if len(w.waited_out) == 1 else 'them'} too"]
    if w.cut_short and not only_beside:
        n = w.steps_seen
        notes = notes + [f"training ended after {n} of this window's {w.steps} steps: judged over the "
                         f"step{'s' * (n != 1)} seen"]
    if w.judged_at_exit and not only_beside:
        notes = notes + [(f"the watch ended before every optimizer had completed {w.steps} steps ({w.progress()}): "
                          f"judged over the steps seen")]
    notes = notes + F.untouched_norms(named_modules, mrecords)
    extra = sum(b.numel() * b.element_size() for blocks in w._blocks.values() for b, _, _ in blocks)
    extra += sum(f.scratch_bytes for _, f in w._fingerprinters.values())
    device = str(params[0].device) if params else "cpu"
    report = AuditReport(found, precords, brecords, mrecords, w.steps, device,
                         " + ".join(n if n == type(o).__name__ or " " in n else f"{n}: {type(o).__name__}"
                                    for n, o in zip(onames, opts)), shown_zeroing, restored=None, extra_bytes=extra,
                         notes=notes)
    if spread is not None:
        report = spread.merge(report, after, changed)
    return report


def _held_unstepped(w: "Watch", found: list[F.AuditFinding], named: list[tuple[str, nn.Parameter]],
                    opts: list[torch.optim.Optimizer]) -> list[F.AuditFinding]:
    """FZ503 on parameters that an optimizer which did not step holds: they are in its param
    groups, not in none, and what leaves them out is that nothing steps it (stage 2's optimizer
    built while the loop still steps stage 1's)."""
    ids = {n: id(p) for n, p in named}
    wanted = {ids[n] for f in found if f.code == "FZ503" for n in (f.names or [f.target]) if n in ids}
    holders = unstepped_holders(w, wanted) if wanted else {}
    if not holders:
        return found
    idle = list({id(o): o for o in holders.values()}.values())
    remember_names(idle, w.names_seen)  # as the code names them (several of one class: numbered)
    every = [*opts, *idle]
    label = dict(zip(map(id, every), optimizer_labels(every, w.names_seen)))
    steppers = F.listed([f"`{label[id(o)]}`" for o in opts])
    out = []
    for f in found:
        names = f.names or [f.target]
        mine = [holders.get(ids.get(n, -1)) for n in names]
        if f.code != "FZ503" or not all(mine):
            out.append(f)
            continue
        held = list({id(o): o for o in mine}.values())
        which = F.listed([f"`{label[id(o)]}`" + ("" if label[id(o)].startswith(type(o).__name__) else
                                                 f" ({type(o).__name__})") for o in held])
        words = F._ONE if len(names) == 1 else F._MANY
        grad = ("; {their} .grad accumulates unless the loop clears the model's grads (optimizer.zero_grad() "
                "clears only its own)".format(**words)) if "accumulates" in f.message else ""
        message = (f"{F.listed(names)}: requires_grad=True and in a param group of {which}, which did not step "
                   f"in the window while {steppers} did, so never updated{grad} (an optimizer the loop does "
                   f"not step: a later stage's new one while the loop still steps the old one, or a step() left out)")
        advice = (f"step {F.listed([f'`{label[id(o)]}`' for o in held])} in the loop (where it replaces "
                  f"{steppers}, assign it to the name the loop steps: `{label[id(opts[0])]} = ...`), add {{them}} to "
                  f"{steppers} (`.add_param_group(...)`), or freeze {{them}}")
        out.append(replace(f, message=message, advice=advice.format(**words),
                           advice_many=advice.format(**F._MANY)))
    return out


def _nonzero_grads(params: list[torch.Tensor]) -> list[torch.Tensor]:
    """Those of `params` whose .grad holds a non-zero element (one count read back for all; a
    sparse grad counts as one)."""
    had = [p for p in params if p.grad is not None]
    dense = [p for p in had if p.grad.layout == torch.strided]
    counts = dict(zip(map(id, dense), fsdp.nonzero_counts([p.grad for p in dense])))
    return [p for p in had if counts.get(id(p), 1)]


def _left_behind(opts: list[torch.optim.Optimizer], onames: list[str], outside: list[list[torch.Tensor]],
                 graded: list[list[torch.Tensor]], model_ids: set[int], precords: list[ParamRecord],
                 live: list[tuple[str, nn.Module]] = (),
                 layer_of: Callable[[torch.Tensor], tuple[str, str] | None] | None = None) -> list[F.AuditFinding]:
    """FZ302 where no trainable parameter is left out of the optimizer, but it holds tensors that
    are no longer in the model and got no gradient: layers replaced whole while watched (peft's
    merge_and_unload() or unload() mid-training: the LoRA layers give way to their base layers,
    the adapters are gone), or a model rebuilt, so that nothing the optimizer holds is in it. The
    optimizer steps tensors no forward uses: that training stopped, silently. `layer_of`: the class
    and full name of the layer a tensor belonged to, in place of the watch's log (audit() reads them
    off the layers that took their place)."""
    from freezelint.runtime.swaps import replaced_from

    replaced_from = layer_of or replaced_from
    out = []
    for oi, opt in enumerate(opts):
        stale = outside[oi]
        if not stale or graded[oi]:  # tensors in no module that got grads: in the forward (a note says so)
            continue
        layers = [r for t in stale if (r := replaced_from(t)) is not None]
        kept = [r.name for r in precords if r.group is not None and (r.optimizer is None or r.optimizer == onames[oi])]
        if not layers and (kept or not all(isinstance(t, nn.Parameter) for t in stale)):
            continue  # neither seen replaced nor a model's all gone: tensors of no module it may mean to hold
        n = len(stale)
        whose = "the optimizer" if len(opts) == 1 else onames[oi]
        peft = any(kind.startswith("peft.") for kind, _ in layers)
        names = list(dict.fromkeys(name for _, name in layers)) if layer_of else _replaced_names(stale, live)
        if peft:
            # a merge inside the window moved the frozen base weights: merge_and_unload(), not unload()
            merged = [r.name for r in precords if r.changed and not r.requires_grad and r.group is None]
            one = len(names) == 1
            how = (f"peft's {'merge_and_unload()' if merged else 'merge_and_unload() or unload()'} replaced the LoRA "
                   f"layer{'' if one else 's'} {F.listed(names, _NAMED)} by {'its base layer' if one else 'their base layers'}, "
                   f"so the adapters are out of the model and LoRA training stopped")
            if merged:
                how += (f"; the merge wrote the adapters' update into {F.listed(merged)} (frozen): that is why "
                        f"{'it' if len(merged) == 1 else 'they'} changed in the window, not a step")
            advice = ("merge once training is over (`model = model.merge_and_unload()` after the loop), or, to go on "
                      "training the merged model, build a new optimizer over its trainable parameters")
        else:
            how = (f"the layer{'' if len(names) == 1 else 's'} {F.listed(names, _NAMED)} "
                   f"{'was' if len(names) == 1 else 'were'} replaced after the optimizer was built" if names else
                   "the model was rebuilt, or its layers replaced, after the optimizer was built")
            advice = ("build the optimizer once the model is in its final form, or build a new one over the new "
                      "model's trainable parameters")
        still = (f"of what it holds only {F.listed(kept)} {'is' if len(kept) == 1 else 'are'} in the model" if kept
                 else "nothing it holds is in the model any more, so it trains nothing")
        out.append(F.AuditFinding(
            "FZ302", "(model)",
            f"{whose} holds {n} tensor{'' if n == 1 else 's'} that {'is' if n == 1 else 'are'} no longer in the model "
            f"({_shapes(stale)}) and got no gradient in these steps: {how}; it steps {'it' if n == 1 else 'them'} "
            f"for nothing, and {still}", advice))
    return out


def _copied_back(found: list[F.AuditFinding], precords: list[ParamRecord], onames: list[str],
                 graded: list[list[torch.Tensor]], stood: list[list[ParamRecord]], steps: int) -> list[F.AuditFinding]:
    """FZ503 as it reads where the optimizer's tensors stand in for the model's: it holds none of
    the model's parameters and trains tensors of no module shaped as its trainable ones (fp32
    master copies of a bf16 model, copied back after each step). A parameter that did not change
    is one the copy-back skips, not one to add to the optimizer (that would train the model's
    weight beside its copy)."""
    trainable = [r for r in precords if r.requires_grad]
    if not trainable or any(r.group is not None for r in precords):
        return found
    shapes = Counter(tuple(r.shape) for r in trainable)
    oi = next((i for i, ts in enumerate(graded) if ts and not stood[i]
               and not shapes - Counter(tuple(t.shape) for t in ts)), None)
    if oi is None:
        return found
    still = {r.name for r in trainable if not r.changed}
    changed = [r.name for r in trainable if r.changed]
    skipped = [f for f in found if f.code == "FZ503" and set(f.names or [f.target]) <= still]
    if not skipped:
        return found
    if not changed:  # nothing written back: one finding on the whole model, not one per layer
        names = [n for f in skipped for n in (f.names or [f.target])]
        whole = replace(skipped[0], target="(model)", names=names if len(names) > 1 else [])
        found = [whole if f is skipped[0] else f for f in found if not any(f is x for x in skipped[1:])]
        skipped = [whole]
    return [_copy_skipped(f, changed, onames[oi], graded[oi], trainable[0].dtype, steps)
            if any(f is x for x in skipped) else f for f in found]


def _copy_skipped(f: F.AuditFinding, changed: list[str], oname: str, copies: list[torch.Tensor], dtype: str,
                  steps: int) -> F.AuditFinding:
    """FZ503 on parameters a copy-back from the optimizer's copies left unchanged (see _copied_back)."""
    names = f.names or [f.target]
    one = len(names) == 1
    n = len(copies)
    theirs = _dtype_name(copies[0].dtype)
    kind = f" (in {theirs}; the model's are {dtype})" if theirs != dtype else ""
    still = (f"{'it' if one else 'they'} did not change in {steps} steps, while {F.listed(changed)} did" if changed
             else f"no parameter of the model changed in {steps} steps")
    written = (f"but not into {'this one' if one else 'these'}" if changed else "but none was written back")
    return replace(f, message=(
        f"{F.listed(names)}: requires_grad=True, but {still}; "
        f"{oname} holds none of the model's parameters and trains {n} tensor{'' if n == 1 else 's'} of no module "
        f"shaped as them{kind}: copies (master weights) that the loop writes back into the model after each step, "
        f"{written}"),
        advice=(f"check that the copy-back after each step covers {'it' if one else 'them'} (`p.copy_(master)` for "
                f"every parameter and its copy); adding {'it' if one else 'them'} to the optimizer would train the "
                f"model's {dtype} weight{'' if one else 's'} beside {'its copy' if one else 'their copies'}"),
        advice_many="")


_NAMED = 6  # replaced layers named before "and N more": a reader looks each one up


def _replaced_names(stale: list[torch.Tensor], live: list[tuple[str, nn.Module]]) -> list[str]:
    """The full names (`layer1.0.bn1`) of the layers replaced whole that held these tensors, once
    each: a layer is found by the module that held it, under its attribute name there (the bare
    attribute name where that module is no longer in the model)."""
    from freezelint.runtime.swaps import replaced_from, replaced_in

    where = {id(m): n for n, m in live}
    names = []
    for t in stale:
        held = replaced_in(t)
        if held is not None and id(held[0]) in where:
            names.append(join_name(where[id(held[0])], held[1]))
        elif (r := replaced_from(t)) is not None:
            names.append(r[1])
    return list(dict.fromkeys(names))


def _shapes(tensors: list[torch.Tensor]) -> str:
    """`2 of shape [2, 8], 1 of shape [8]`: the shapes of tensors no longer named by any module, with counts."""
    counts: dict[str, int] = {}
    for t in tensors:
        key = str(list(t.shape))
        counts[key] = counts.get(key, 0) + 1
    shown = [f"{c} of shape {k}" for k, c in counts.items()]
    return F.listed(shown, _NAMED) + (" shapes" if len(shown) > _NAMED else "")


def halted(w: "Watch", root: nn.Module, flags: list[fsdp.RankFlags],
           mixed: list[tuple[list[str], list[int], list[int]]]) -> AuditReport:
    """The report of a watch stopped at an FSDP2 root forward because requires_grad differs
    across ranks: FZ507, no step judged. Built from the gathered flags (rank 0's requires_grad in
    the records), so every rank holds the same report."""
    import torch.distributed as dist

    named = list(root.named_parameters())
    group = fsdp.process_group(named)
    rank0 = dict(zip(flags[0].names, flags[0].requires_grad))
    owner = {n: n.rpartition(".")[0] for n, _ in named}
    known = {id(o): o for o in [*w.given_opts, *w.optimizers.values()]}  # none before a first step
    group_of: dict[int, int] = {}
    for opt in known.values():
        for gi, group in enumerate(opt.param_groups):
            for p in group["params"]:
                group_of.setdefault(id(p), gi)
    precords = [ParamRecord(n, owner[n], tuple(p.shape), str(p.dtype).replace("torch.", ""), rank0.get(n, False),
                            group_of.get(id(p))) for n, p in named]
    named_modules = list(root.named_modules())
    modes = {n: m.training for n, m in named_modules}
    mrecords = _module_records(named_modules, {id(p): r for (_, p), r in zip(named, precords)}, [], modes)
    if not known:  # which parameters an optimizer holds is unknown: claim nothing
        mrecords = [replace(m, optimizer="-", frozen_held=0, trainable_held=0) for m in mrecords]
    outcome = "the watch stopped the script at the forward before that backward"
    found = [fz507(ns, frozen_on, trainable_on, 2, outcome) for ns, frozen_on, trainable_on in mixed]
    device = str(named[0][1].device) if named else "cpu"
    opts = " + ".join(type(o).__name__ for o in known.values()) or "stopped before the first backward"
    return AuditReport(found, precords, [], mrecords, 0, device, opts, True, restored=None,
                       world_size=dist.get_world_size(group), backend=str(dist.get_backend(group)), sharding="FSDP2")


_WRAPPER_SEGMENTS = ("_orig_mod", "module", "_forward_module")  # compile's, DataParallel's/DDP's, Fabric's child


def _without_wrappers(pattern: str, module_names: list[str]) -> str:
    """`_orig_mod.backbone` -> `backbone`: the watch judges the module a wrapper holds (the one the
    optimizer's parameters are in), so a pattern written with the wrapper's segment, as audit()
    accepts it, names the same part. Kept where the model has a child of that name itself."""
    while True:
        seg = next((w for w in _WRAPPER_SEGMENTS if pattern.startswith(w + ".") and w not in module_names), None)
        if seg is None:
            return pattern
        pattern = pattern[len(seg) + 1:]


def _as_named(pattern: str, own: str | None, module_names: list[str]) -> str:
    """`controlnet.down_blocks` -> `down_blocks`, `controlnet` -> every parameter, where the one
    model judged is the script's `controlnet` and holds no part of that name itself."""
    if not own or own in module_names:
        return pattern
    if pattern == own:
        return "*"
    return pattern[len(own) + 1:] if pattern.startswith(own + ".") else pattern


def _in_holder(pattern: str, holder: str | None, labels: list[str]) -> str:
    """`nets.aux` -> `aux`, `nets` -> every parameter, where the models are labelled by their names
    in the module the code holds as `nets` (and none of them is called so)."""
    if not holder or holder in labels:
        return pattern
    if pattern == holder:
        return "*"
    return pattern[len(holder) + 1:] if pattern.startswith(holder + ".") else pattern


def _shared_notes(precords: list[ParamRecord], labels: list[str]) -> list[str]:
    """Parameters a trained model shares with a model watched beside it, that changed: the other
    model (a DPO reference, a teacher built around the student's embedding) moves with every step.
    A model trains where an optimizer holds parameters of its own (not shared)."""
    def label(name: str) -> str | None:
        return next((x for x in labels if x and (name == x or name.startswith(x + "."))), None)

    trained = {label(r.name) for r in precords if r.group is not None and not r.aliases}
    pairs: dict[tuple[str, str], list[str]] = {}
    for r in precords:
        if not r.changed or not r.aliases:
            continue
        names = [r.name, *r.aliases]
        mine = next((n for n in names if label(n) in trained), None)  # as the trained model names it
        if mine is None:
            continue
        for other in dict.fromkeys(label(n) for n in names if label(n) and label(n) not in trained):
            pairs.setdefault((label(mine) or "", other), []).append(mine)  # type: ignore[arg-type]
    return [f"{other} shares {F.listed(names)} with {mine}, and {'it' if len(names) == 1 else 'they'} changed: "
            f"{other} changes with every step that trains {mine} (a reference or teacher model built around "
            f"the trained model's modules is not frozen by being run under torch.no_grad())"
            for (mine, other), names in pairs.items()]
