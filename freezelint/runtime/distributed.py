"""`audit()` inside a torch.distributed job (DistributedDataParallel, gloo or NCCL).

Each rank audits its own replica as the single-process audit does, with its steps run through
the DDP wrapper so gradients are all-reduced as in training. Two `all_gather_object` calls on
the process group, one before and one after the steps, share what every rank saw; from the
same gathered data every rank builds the same report.

What DDP fixes at construction (PYTORCH_FACTS.md, "Distributed and compiled"): its reducer
all-reduces the gradients of the parameters that required grad *then*. A parameter unfrozen
after the wrap is never all-reduced, so ranks diverge silently; a parameter frozen after the
wrap (or a replaced layer's old one) is still awaited, and without `find_unused_parameters=True`
the second iteration raises. The audit reads the reducer's parameter set and, when a step would
leave the reducer waiting, runs its steps under `no_sync()` on every rank instead, so the
reducer is left between iterations as it was found.

Sharded models (FSDP2 `fully_shard`, FSDP1 with use_orig_params=True) go through the same two
gathers plus a third of the per-rank records, merged so that a parameter is judged once from all
its shards (fsdp.py). Their shards legitimately differ across ranks, so FZ508 compares only what
is replicated; a requires_grad that differs across ranks is found before any step, and then no
step runs (the first one would hang in a collective).
"""

from __future__ import annotations

import contextlib
import datetime
import itertools
import os
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import nn

from freezelint.runtime import fsdp
from freezelint.runtime.findings import _common, listed
from freezelint.runtime.errors import AuditUsageError
from freezelint.runtime.report import AuditFinding, AuditReport, BufferRecord, ParamRecord

# How long a rank waits at a roll call for the others (FREEZELINT_RANK_TIMEOUT, seconds): ranks that
# train in step reach it within a step of each other; one that never does is not running freezelint.
_ROLL_TIMEOUT_S = 120.0
_roll_calls = itertools.count()  # the same sequence on every rank: they call in the same order


def roll_call(group: Any = None) -> None:
    """Before freezelint's first collective on `group`: check through the job's store that every rank
    of it is here, and raise AuditUsageError naming the absent ones after a timeout, instead of
    waiting in the collective forever. A launcher that starts the other ranks itself, with
    `python script.py` (Lightning's strategy="ddp" on one machine), runs them unwatched."""
    import torch.distributed as dist

    ranks = list(dist.get_process_group_ranks(group)) if group is not None else list(range(dist.get_world_size()))
    store = dist.distributed_c10d._get_default_store()
    prefix = f"freezelint/roll/{next(_roll_calls)}/"
    store.set(prefix + str(dist.get_rank()), b"1")
    timeout = float(os.environ.get("FREEZELINT_RANK_TIMEOUT") or _ROLL_TIMEOUT_S)
    try:
        store.wait([prefix + str(r) for r in ranks], datetime.timedelta(seconds=timeout))
    except Exception:  # noqa: BLE001 — the store's timeout error (DistStoreError, RuntimeError by version)
        absent = [r for r in ranks if not store.check([prefix + str(r)])]
        if not absent:
            return  # they came as the wait gave up
        which = f"{_ranks(absent)} of {len(ranks)}"
        raise AuditUsageError(
            f"{which} did not reach freezelint's comparison of the ranks within {timeout:g} s: a rank not "
            f"started by freezelint is not watched (a launcher that starts the other ranks itself with `python "
            f"script.py`, as Lightning's strategy=\"ddp\" does, runs them unwatched); start every rank under "
            f"freezelint (`torchrun --nproc-per-node N -m freezelint run script.py`) or call freezelint.watch() "
            f"inside the script (else the ranks' training differs: a freeze made on some ranks only)") from None


def _ranks(ranks: list[int]) -> str:
    return f"rank{'s' if len(ranks) != 1 else ''} {', '.join(map(str, ranks))}"


def ddp_class() -> type | None:
    if not torch.distributed.is_available():
        return None
    return torch.nn.parallel.DistributedDataParallel


@dataclass
class WrapFacts:
    """How the live model differs from what DDP recorded when it wrapped it (one rank)."""

    unfrozen: list[str] = field(default_factory=list)  # trainable now, not in the reducer
    frozen: list[str] = field(default_factory=list)  # in the reducer, frozen now
    registered: list[str] = field(default_factory=list)  # trainable, unknown to DDP
    gone: int = 0  # reducer parameters no longer in the model (a replaced layer's old ones)
    known: bool = True  # False when the reducer's parameters could not be read

    @property
    def awaited_in_vain(self) -> bool:
        """Parameters the reducer waits for that can get no gradient."""
        return bool(self.frozen or self.gone)


def _reducer_params(ddp: nn.Module) -> set[int] | None:
    reducer = getattr(ddp, "reducer", None)
    if reducer is None:
        return None
    try:
        # GradBucket.parameters() is the reducer's own list; the zero buffers are freed at once.
        return {id(p) for bucket in reducer._get_zeros_like_grad_buckets() for p in bucket.parameters()}
    except (AttributeError, RuntimeError):
        return None


def _static_graph_recorded(ddp: Any) -> bool:
    """A static_graph DDP has run its first synced backward, which records the graph (private flag;
    without it, assume not: a synced step then fails with DDP's own error, not an internal one)."""
    return bool(getattr(ddp, "_static_graph_delay_allreduce_enqueued", False))


def wrap_facts(ddp: nn.Module, named: list[tuple[str, nn.Parameter]]) -> WrapFacts:
    ignored = set(getattr(ddp, "parameters_to_ignore", ()) or ())
    # DDP's record of the module's parameters at the wrap (private, hence the fallbacks: without
    # it a late parameter reads as unfrozen-after-wrap, without the reducer's set as nothing)
    module_params = getattr(ddp, "_module_parameters", None)
    known = {id(p) for p in module_params} if module_params is not None else None
    in_reducer = _reducer_params(ddp)
    facts = WrapFacts(known=in_reducer is not None)
    current = set()
    for name, p in named:
        current.add(id(p))
        if name in ignored:
            continue
        if known is not None and id(p) not in known:
            if p.requires_grad:
                facts.registered.append(name)
        elif in_reducer is not None:
            if p.requires_grad and id(p) not in in_reducer:
                facts.unfrozen.append(name)
            elif not p.requires_grad and id(p) in in_reducer:
                facts.frozen.append(name)
    if in_reducer is not None:
        facts.gone = len(in_reducer - current)
    return facts


@dataclass
class Before:
    """What one rank sends before the steps."""

    rank: int
    params: list[str]
    requires_grad: list[bool]
    buffers: list[str]
    fingerprints: list[tuple[int, int]]  # params, then buffers
    wrap: WrapFacts | None
    shards: list[tuple[int, ...] | None] | None = None  # per param, which shard this rank holds (FSDP2)


@dataclass
class After:
    """What one rank sends after the steps and its own report."""

    rank: int
    fingerprints: list[tuple[int, int]]
    changed: list[bool]  # params, then buffers, changed on this rank
    report: AuditReport


class Distributed:
    """One rank's side of a distributed audit."""

    def __init__(self, model: nn.Module, process_group: Any = None) -> None:
        import torch.distributed as dist

        cls = ddp_class()
        self.ddp = model if cls is not None and isinstance(model, cls) else None
        self.inner: nn.Module = self.ddp.module if self.ddp is not None else model
        self.fsdp = fsdp.version(model.modules()) if self.ddp is None else None  # 2, 1 or None
        if process_group is None and self.fsdp == 2:
            process_group = fsdp.process_group(list(model.named_parameters()))
        self.group = process_group if process_group is not None else getattr(self.ddp, "process_group", None)
        self.dist = dist
        self.rank = dist.get_rank(self.group)
        self.world = dist.get_world_size(self.group)
        self.backend = str(dist.get_backend(self.group))
        self.grad_sync = self.ddp is not None or self.fsdp is not None
        self.sharded: set[str] = set()  # parameters whose shards differ across ranks by design
        self.halted = False  # no step may run: requires_grad differs across ranks of a sharded model
        self.broadcast_buffers = bool(self.ddp is not None and getattr(self.ddp, "broadcast_buffers", False))
        self.ignored = set(getattr(self.ddp, "parameters_to_ignore", ()) or ()) if self.ddp is not None else set()
        self.before: list[Before] = []
        self.local_wrap: WrapFacts | None = None
        self._sync_flags: tuple[bool, bool] | None = None
        self._rolled = False  # roll_call done: every rank is here

    @property
    def data_parallel(self) -> bool:
        """Each rank trains on its own batch (DDP or FSDP)."""
        return self.ddp is not None or self.fsdp is not None

    @property
    def sharding(self) -> str | None:
        return f"FSDP{self.fsdp}" if self.fsdp else None

    def _gather(self, obj: Any) -> list[Any]:
        if not self._rolled:
            roll_call(self.group)
            self._rolled = True
        out: list[Any] = [None] * self.world
        self.dist.all_gather_object(out, obj, group=self.group)
        return out

    # ------------------------------------------------------------------ before the steps
    def share_before(self, named: list[tuple[str, nn.Parameter]], buffer_names: list[str],
                     fingerprints: list[tuple[int, int]]) -> None:
        wrap = self.local_wrap = wrap_facts(self.ddp, named) if self.ddp is not None else None
        mine = Before(self.rank, [n for n, _ in named], [p.requires_grad for _, p in named], buffer_names,
                      fingerprints, wrap, [fsdp.shard_key(p) for _, p in named] if self.fsdp == 2 else None)
        self.before = sorted(self._gather(mine), key=lambda b: b.rank)
        if self.fsdp is not None:
            self.sharded = ({n for n, p in named if fsdp.is_sharded(p)} if self.fsdp == 2
                            else fsdp.fsdp1_sharded(self.inner, named))
            # FSDP2 reduce-scatters the gradients each rank has: a requires_grad that differs hangs the
            # first backward (measured). FSDP1 reduce-scatters whole flat parameters and does not hang,
            # but its steps would only blur the finding (a parameter trained on some shards): no step.
            self.halted = bool(requires_grad_disagreement(self.before))
        # Every rank decides from the same data, so all of them step the same way (no hang). With
        # static_graph=True DDP copes until its first iteration has recorded the graph (measured: a
        # synced step after that fails; no_sync() before it trips an internal assert in the reducer).
        ddp = self.ddp
        stalls = (ddp is not None and not ddp.find_unused_parameters
                  and (not ddp.static_graph or _static_graph_recorded(ddp))
                  and any(b.wrap is not None and b.wrap.awaited_in_vain for b in self.before))
        if stalls:
            self.grad_sync = False

    def steps_context(self) -> contextlib.AbstractContextManager:
        if self.ddp is not None:
            self._sync_flags = (self.ddp.require_forward_param_sync, self.ddp.require_backward_grad_sync)
            if not self.grad_sync:
                return self.ddp.no_sync()
        return contextlib.nullcontext()

    def restore(self) -> None:
        """DDP's own flags a step flips (buffer sync at the next forward); the reducer itself is
        left between iterations by every completed step. FSDP2 units a failed step left
        unsharded are resharded (a completed step reshards them itself)."""
        if self.ddp is not None and self._sync_flags is not None:
            self.ddp.require_forward_param_sync, self.ddp.require_backward_grad_sync = self._sync_flags
        if self.fsdp == 2:
            fsdp.reshard(self.inner)

    def clean_names(self, modules: list[tuple[str, nn.Module]], params: list[tuple[str, nn.Parameter]],
                    buffers: list[tuple[str, torch.Tensor]]) -> tuple[list, list, list]:
        """FSDP1 puts a FullyShardedDataParallel around each wrapped module (as
        `_fsdp_wrapped_module`): names as the unwrapped model has them, the wrappers left out."""
        if self.fsdp != 1:
            return modules, params, buffers
        modules = [(fsdp.clean_name(n), m) for n, m in modules if not fsdp.is_fsdp1_wrapper(m)]
        return (modules, [(fsdp.clean_name(n), p) for n, p in params],
                [(fsdp.clean_name(n), b) for n, b in buffers])

    def agree(self, params: list[ParamRecord], buffers: list[BufferRecord]
              ) -> tuple[list[ParamRecord], list[BufferRecord]]:
        """For a sharded model, every rank's parameter records merged into one (a parameter is
        judged from all its shards, and FSDP1's flat views get their parameters' real shapes);
        buffers, replicated, stay this rank's (per-rank findings are marked with their ranks)."""
        if self.fsdp is None:
            return params, buffers
        gathered = sorted(self._gather((self.rank, params)), key=lambda g: g[0])
        params = fsdp.merge_records([ps for _, ps in gathered])
        if self.fsdp == 1:
            shapes = fsdp.fsdp1_shapes(self.inner)
            params = [replace(p, shape=shapes.get(p.name, p.shape)) for p in params]
        return params, buffers

    # ------------------------------------------------------------------ after the steps
    def merge(self, report: AuditReport, fingerprints: list[tuple[int, int]], changed: list[bool]) -> AuditReport:
        gathered: list[After] = sorted(self._gather(After(self.rank, fingerprints, changed, report)),
                                       key=lambda a: a.rank)
        first = gathered[0].report
        found = _merge_local([(a.rank, a.report) for a in gathered])
        found += self._findings(gathered)
        unrestored = [f"{n} (rank {a.rank})" for a in gathered for n in a.report.unrestored]
        merged = replace(first, findings=found, restored=None if first.restored is None else not unrestored,
                         unrestored=unrestored,
                         extra_bytes=max(a.report.extra_bytes for a in gathered),
                         extra_bytes_per_rank=[a.report.extra_bytes for a in gathered], world_size=self.world,
                         backend=self.backend, ddp=self.ddp is not None, grad_sync=self.grad_sync)
        if self.fsdp is not None:
            merged = replace(merged, sharding=self.sharding, steps=0 if self.halted else merged.steps)
        return merged

    def _findings(self, after: list[After]) -> list[AuditFinding]:
        before = self.before
        out: list[AuditFinding] = []
        index = [{n: i for i, n in enumerate(b.params)} for b in before]
        shared = [n for n in before[0].params if all(n in ix for ix in index)]

        # FZ507: requires_grad differs across ranks
        for ns, frozen_on, trainable_on in requires_grad_disagreement(before):
            out.append(fz507(ns, frozen_on, trainable_on, self.fsdp, "the audit ran no step" if self.halted else ""))

        # FZ306 / FZ509: what changed since DDP wrapped the model
        if self.ddp is not None:
            out += self._wrap_findings()

        # FZ508: parameters or buffers that differ across ranks
        out += self._divergence(after, shared, index)
        return out

    def _wrap_findings(self) -> list[AuditFinding]:
        out = []
        per_kind: dict[str, dict[str, list[int]]] = {"unfrozen": {}, "frozen": {}, "registered": {}}
        gone = [b.rank for b in self.before if b.wrap and b.wrap.gone]
        for b in self.before:
            if b.wrap is None:
                continue
            for kind in per_kind:
                for n in getattr(b.wrap, kind):
                    per_kind[kind].setdefault(n, []).append(b.rank)
        everywhere = [b.rank for b in self.before]

        def where(rs: list[int]) -> str:
            return "" if rs == everywhere else f" (on {_ranks(rs)})"

        def grouped(kind: str) -> list[tuple[list[str], list[int]]]:
            by_ranks: dict[tuple, list[str]] = {}
            for n, rs in per_kind[kind].items():
                by_ranks.setdefault(tuple(rs), []).append(n)
            return [(ns, list(rs)) for rs, ns in by_ranks.items()]

        for ns, rs in grouped("unfrozen"):
            out.append(AuditFinding(
                "FZ306", _common(ns), f"{listed(ns)}: unfrozen after DistributedDataParallel wrapped the model"
                f"{where(rs)}; DDP's reducer never all-reduces their gradients, so every rank trains its own "
                f"copy and the replicas diverge silently",
                "set requires_grad before wrapping, or wrap again (`DDP(model.module, ...)`) after changing it"))
        if not self.grad_sync:
            stall_note = ("the next iteration raises \"Expected to have finished reduction\", so the audit ran "
                          "its steps under no_sync() (gradients not all-reduced)")
        elif self.ddp is not None and self.ddp.static_graph:
            stall_note = ("static_graph=True copes only while no iteration ran before the change: DDP's first "
                          "iteration records which parameters get gradients, and after a change made later the "
                          "next iteration fails with \"Expected to have finished reduction\"")
        else:
            stall_note = ("find_unused_parameters=True keeps DDP from failing, at the cost of a search of the graph "
                          "every step")
        for ns, rs in grouped("frozen"):
            out.append(AuditFinding(
                "FZ306", _common(ns), f"{listed(ns)}: frozen after DistributedDataParallel wrapped the model"
                f"{where(rs)}; DDP's reducer still waits for their gradients: {stall_note}",
                "freeze before wrapping, or wrap again (`DDP(model.module, ...)`) after changing requires_grad"))
        for ns, rs in grouped("registered"):
            extra = (f"; the parameters they replaced are still in DDP's reducer, which waits for them in vain "
                     f"({stall_note})") if gone else ""
            out.append(AuditFinding(
                "FZ509", _common(ns), f"{listed(ns)}: trainable but registered after DistributedDataParallel "
                f"wrapped the model{where(rs)}, so DDP neither broadcast their initial values nor all-reduces "
                f"their gradients{extra}",
                "replace or add layers before wrapping, or wrap again (`DDP(model.module, ...)`) afterwards"))
        if gone and not per_kind["registered"]:
            out.append(AuditFinding(
                "FZ509", "(model)", f"DDP's reducer holds parameters that are no longer in the model "
                f"(on {_ranks(gone)}): a layer was replaced after the wrap; {stall_note}",
                "replace layers before wrapping, or wrap again afterwards"))
        return out

    def _holding_alike(self, name: str, at: list[int]) -> list[list[int]]:
        """Groups of (positions of) ranks that hold the same bits of parameter `name` by design:
        all ranks for a replicated parameter; for a sharded one, the ranks holding the same shard
        (HSDP replicas), none when that is unknown."""
        if name not in self.sharded:
            return [list(range(len(self.before)))]
        if any(b.shards is None for b in self.before):
            return []
        groups: dict[Any, list[int]] = {}
        for r, (b, i) in enumerate(zip(self.before, at)):
            groups.setdefault(b.shards[i], []).append(r)
        return [rs for key, rs in groups.items() if key is not None and len(rs) > 1]

    def _divergence(self, after: list[After], shared: list[str], index: list[dict[str, int]]) -> list[AuditFinding]:
        before = self.before
        nparams = [len(b.params) for b in before]
        causes: dict[str, list[str]] = {}
        for n in shared:
            if n in self.ignored:
                continue
            at = [ix[n] for ix in index]
            for ranks in self._holding_alike(n, at):
                was = {before[r].fingerprints[at[r]] for r in ranks}
                now = {after[r].fingerprints[at[r]] for r in ranks}
                if len(was) > 1:
                    causes.setdefault("param-before", []).append(n)
                    break
                if len(now) > 1 and self.grad_sync:
                    causes.setdefault("param-during", []).append(n)
                    break
        bindex = [{n: np_ + i for i, n in enumerate(b.buffers)} for b, np_ in zip(before, nparams)]
        bshared = [n for n in before[0].buffers if all(n in ix for ix in bindex)]
        if not self.broadcast_buffers:  # DDP overwrites broadcast buffers with rank 0's at every forward
            for n in bshared:
                if n in self.ignored:
                    continue
                at = [ix[n] for ix in bindex]
                now = {a.fingerprints[i] for a, i in zip(after, at)}
                moved = [a.changed[i] for a, i in zip(after, at)]
                # Running statistics every rank updated from its own batch differ by design.
                if len(now) > 1 and not all(moved):
                    causes.setdefault("buffer-some" if any(moved) else "buffer-before", []).append(n)
        out = []
        texts = {
            "param-before": ("already differed across ranks before the audit's steps: the replicas hold "
                             "different weights (a checkpoint loaded or weights changed on some ranks after the "
                             "DDP wrap broadcast rank 0's)" if self.ddp is not None else
                             "differ across ranks: the replicas were not initialised or loaded alike",
                             "load checkpoints and change weights before wrapping in DDP (the wrap broadcasts "
                             "rank 0's values), or on every rank alike"),
            "param-during": ("were identical before the steps and differ across ranks after them: their "
                             "gradients are not all-reduced",
                             "set requires_grad and replace layers before wrapping in DDP, or wrap again"),
            "buffer-some": ("buffers changed on some ranks only and now differ: those modules run in train mode "
                            "on some ranks and in eval mode on others",
                            "put frozen BatchNorm layers in eval() on every rank"),
            "buffer-before": ("buffers differ across ranks although no rank changed them during the steps",
                              "broadcast buffers from rank 0 (`broadcast_buffers=True`) or load them on every "
                              "rank"),
        }
        for cause, ns in causes.items():
            what, advice = texts[cause]
            out.append(AuditFinding("FZ508", _common(ns), f"{listed(ns)}: {what}", advice))
        return out


def fz507(names: list[str], frozen_on: list[int], trainable_on: list[int], fsdp_version: int | None = None,
          outcome: str = "") -> AuditFinding:
    """FZ507 for parameters frozen on some ranks and trainable on others (what
    `requires_grad_disagreement` returns), worded for DDP or a plain model, FSDP2 or FSDP1;
    `outcome` says what the caller did about it ("the audit ran no step")."""
    where = f"{listed(names)}: frozen on {_ranks(frozen_on)} but trainable on {_ranks(trainable_on)}; "
    if fsdp_version is None:
        return AuditFinding(
            "FZ507", _common(names), where + "each rank trains a different set of weights, so the replicas no "
            "longer agree on what the model is",
            "make the freeze decision identical on every rank (no rank-dependent conditions), before wrapping the "
            "model in DDP")
    why = ("FSDP2 reduce-scatters the gradients each rank has, so the first backward would wait in a collective "
           "until the process group's timeout" if fsdp_version == 2 else
           "FSDP1 still reduce-scatters the whole flat parameter, but only ranks where they are trainable step "
           "their shards, so each of these parameters ends up partly trained")
    return AuditFinding("FZ507", _common(names), where + why + (f"; {outcome}" if outcome else ""),
                        "make the freeze decision identical on every rank (no rank-dependent conditions)")


def requires_grad_disagreement(before: list[Before]) -> list[tuple[list[str], list[int], list[int]]]:
    """(names, ranks where frozen, ranks where trainable) for parameters whose requires_grad
    differs across ranks, from what every rank sent before the steps."""
    return fsdp.requires_grad_disagreement([fsdp.RankFlags(b.rank, b.params, b.requires_grad) for b in before])


def _merge_local(reports: list[tuple[int, AuditReport]]) -> list[AuditFinding]:
    """Each rank's own findings: once when every rank has it, else marked with the ranks."""
    seen: dict[tuple[str, str], tuple[AuditFinding, list[int]]] = {}
    for rank, rep in reports:
        for f in rep.findings:
            key = (f.code, f.target)
            if key in seen:
                seen[key][1].append(rank)
            else:
                seen[key] = (f, [rank])
    out = []
    for f, ranks in seen.values():
        if len(ranks) == len(reports):
            out.append(f)
        else:
            out.append(AuditFinding(f.code, f.target, f"on {_ranks(ranks)} only: {f.message}", f.advice))
    return out
