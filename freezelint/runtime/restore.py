"""Everything the audit may touch, saved before and put back after — even when a step raises.

Before the first step it copies what the steps are meant to change: every parameter the
optimizer trains (in a param group, requires_grad) and every buffer. Those copies are the
originals bit for bit, so they also tell what changed (compare.py) without a fingerprint.
Frozen parameters are not copied: a step can only change a parameter whose `.grad` is a tensor
(every torch optimizer skips `grad is None`), so a step pre-hook copies a frozen one that has
a grad, with its optimizer state, right before `optimizer.step()`. `exact=True` copies every
parameter up front (for custom optimizers or forwards that write to frozen parameters).
fastai's own Optimizer (seen through its view, fastai_steps.as_torch) is saved as fastai keeps it
(_FastaiSnapshot): its state dicts, hypers and attributes, by identity as well as by value.
"""

from __future__ import annotations

import random
import sys
from typing import Any

import torch
from torch import nn

from freezelint.runtime import fastai_steps
from freezelint.runtime.compare import copy_back, restore_measured, scratch_bytes
from freezelint.runtime.fingerprint import sparse_parts
from freezelint.runtime.fsdp import local


def _nbytes(t: torch.Tensor) -> int:
    t = local(t)  # a sharded tensor (DTensor): this rank's shard
    if t.layout == torch.strided:
        return t.numel() * t.element_size()
    return sum(x.numel() * x.element_size() for x in sparse_parts(t))


def copies(tensors: list[torch.Tensor]) -> list[torch.Tensor]:
    """Bit-exact copies, contiguous where strided, one clone each: many small clones are faster
    than one block and its views, and a block advised for huge pages (fewer page faults when
    first written) stalled for 100+ ms in kernel compaction on a busy machine (measured)."""
    with torch.no_grad():
        tensors = [local(t) for t in tensors]  # a DTensor's shard: copied and restored on its own rank
        return [t.detach().clone(memory_format=torch.contiguous_format) if t.layout == torch.strided
                else t.detach().clone() for t in tensors]  # a sparse grad has no memory format


def _clone(v: Any) -> Any:
    """A param group's value: tensors (a tensor lr) copied, the rest kept."""
    return copies([v])[0] if isinstance(v, torch.Tensor) else v


class Snapshot:
    def __init__(self, model: nn.Module, optimizers: torch.optim.Optimizer | list[torch.optim.Optimizer],
                 params: list[nn.Parameter], exact: bool = False, scaler: Any = None,
                 modules: list[nn.Module] | None = None) -> None:
        self.optimizers = [optimizers] if isinstance(optimizers, torch.optim.Optimizer) else list(optimizers)
        self.scaler = scaler
        self.extra_bytes = 0
        # identity of every registered parameter and buffer, so replaced tensors come back too
        modules = list(model.modules()) if modules is None else modules
        self.slots = [(m, kind, name, t) for m in modules
                      for kind in ("_parameters", "_buffers")
                      for name, t in getattr(m, kind).items() if t is not None]
        buffers = list({id(t): t for _m, kind, _n, t in self.slots if kind == "_buffers"}.values())
        trained = params if exact else [p for o in self.optimizers for g in o.param_groups for p in g["params"]
                                        if p.requires_grad]
        trained = list({id(p): p for p in trained}.values())
        grads = [p.grad for p in params if p.grad is not None]
        saved = copies(buffers + trained + grads)
        self.extra_bytes = sum(_nbytes(t) for t in saved)
        self.buffers = {id(t): (t, c) for t, c in zip(buffers, saved)}
        self.values: dict[int, tuple[torch.Tensor, torch.Tensor]] = {
            id(p): (p, c) for p, c in zip(trained, saved[len(buffers):])}
        self.up_front = set(self.values)
        grad_copies = iter(saved[len(buffers) + len(trained):])
        self.grads = {id(p): (p, p.grad, next(grad_copies) if p.grad is not None else None) for p in params}
        self.flags = [(m, m.training) for m in modules]
        self.requires_grad = [(p, p.requires_grad) for p in params]  # a step_fn may toggle them
        self.parts = {id(o): (_FastaiSnapshot(o) if isinstance(o, fastai_steps.Optimizer) else _OptimizerSnapshot(o))
                      for o in self.optimizers}
        # what a fastai optimizer's attributes hold (Lookahead's slow weights) is copied up front too
        self.extra_bytes += sum(_nbytes(c) for part in self.parts.values() if isinstance(part, _FastaiSnapshot)
                                for _t, c in part.tensors)
        self.rng_cpu = torch.get_rng_state()
        self.rng_cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
        self.rng_py = random.getstate()
        np = sys.modules.get("numpy")
        self.rng_np = np.random.get_state() if np is not None else None
        self.scaler_state = scaler.state_dict() if scaler is not None else None

    def before_step(self, optimizer, args, kwargs) -> None:
        """Step pre-hook: save what this step can change that is not saved yet."""
        values: dict[int, torch.Tensor] = {}
        states = []
        part = self.parts[id(optimizer)]
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if id(p) not in self.values:
                    values[id(p)] = p
                # State created by an audited step is dropped at restore, not saved as if original.
                if p in part.state_keys and id(p) not in part.state:
                    states.append((p, part.entry(p)))
        tensors = [*values.values(), *(v for _p, e in states for v in e.values() if isinstance(v, torch.Tensor))]
        saved = iter(copies(tensors))
        self.extra_bytes += sum(_nbytes(t) for t in tensors)
        for p in values.values():
            self.values[id(p)] = (p, next(saved))
        for p, entry in states:
            part.state[id(p)] = (p, {k: (v, next(saved) if isinstance(v, torch.Tensor) else v)
                                     for k, v in entry.items()})

    def value_before(self, p: torch.Tensor) -> torch.Tensor | None:
        """The copy of p, taken before the steps or by the step pre-hook; None if none was."""
        saved = self.values.get(id(p))
        return saved[1] if saved else None

    def copied_up_front(self, p: torch.Tensor) -> bool:
        """p's copy was taken before the first step: it is the original, bit for bit."""
        return id(p) in self.up_front

    def buffer_before(self, b: torch.Tensor) -> torch.Tensor | None:
        saved = self.buffers.get(id(b))
        return saved[1] if saved else None

    @torch.no_grad()
    def restore(self, measure: bool = True) -> dict[int, float]:
        """Put everything back. With measure, also say which copied parameters and buffers had
        changed and by how much (max |change|, by id; compare.py), in the same pass."""
        for m, kind, name, t in self.slots:
            getattr(m, kind)[name] = t
        state = [(obj, copy) for part in self.parts.values() for _p, entry in part.state.values()
                 for obj, copy in entry.values() if isinstance(obj, torch.Tensor)]
        grads = [(grad, saved) for _p, grad, saved in self.grads.values() if grad is not None]
        copied = [*self.values.values(), *self.buffers.values()]
        changed: dict[int, float] = {}
        if measure:
            self.extra_bytes += scratch_bytes(copied)
            sizes = restore_measured(copied)
            changed = {id(t): d for (t, _), d in zip(copied, sizes) if d is not None}
            copy_back([*grads, *state])
        else:
            copy_back([*copied, *grads, *state])
        for p, grad, _saved in self.grads.values():
            p.grad = grad
        for m, flag in self.flags:
            if m.training is not flag:  # Module.__setattr__ is slow; most flags did not change
                m.training = flag
        for p, flag in self.requires_grad:
            if p.requires_grad is not flag:
                p.requires_grad_(flag)
        for part in self.parts.values():
            part.restore()
        torch.set_rng_state(self.rng_cpu)
        if self.rng_cuda is not None:
            torch.cuda.set_rng_state_all(self.rng_cuda)
        random.setstate(self.rng_py)
        np = sys.modules.get("numpy")
        if np is not None and self.rng_np is not None:
            np.random.set_state(self.rng_np)
        if self.scaler is not None and self.scaler_state:
            self.scaler.load_state_dict(self.scaler_state)
        return changed


class _OptimizerSnapshot:
    """One optimizer's param groups, plain attributes and state, as before the steps; the state
    of a parameter is copied by the step pre-hook, right before a step can change it."""

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer
        self.groups = [{k: (v, _clone(v)) for k, v in g.items() if k != "params"} for g in optimizer.param_groups]
        self.group_params = [list(g["params"]) for g in optimizer.param_groups]
        self.opt_attrs = {k: v for k, v in vars(optimizer).items() if isinstance(v, (int, float, bool))}
        self.state_keys = set(optimizer.state.keys())
        self.state: dict[int, tuple[Any, dict[str, tuple[Any, Any]]]] = {}

    def entry(self, p: torch.Tensor) -> dict:
        """p's state as the optimizer keeps it, for the step pre-hook to copy."""
        return self.optimizer.state[p]

    def restore(self) -> None:
        """Groups, attributes and state entries back (the state tensors were written back by
        Snapshot.restore with everything else)."""
        opt = self.optimizer
        for group, saved, params in zip(opt.param_groups, self.groups, self.group_params):
            for k in [k for k in group if k != "params" and k not in saved]:
                del group[k]
            for k, (obj, copy) in saved.items():
                if isinstance(obj, torch.Tensor):
                    obj.copy_(copy)
                group[k] = obj
            group["params"] = params
        del opt.param_groups[len(self.groups):]
        for k in [k for k, v in vars(opt).items() if isinstance(v, (int, float, bool)) and k not in self.opt_attrs]:
            delattr(opt, k)
        for k, v in self.opt_attrs.items():
            setattr(opt, k, v)
        for p in [p for p in opt.state if p not in self.state_keys]:
            del opt.state[p]
        for p, entry in self.state.values():
            opt.state[p] = {k: obj for k, (obj, _copy) in entry.items()}


class _FastaiSnapshot:
    """fastai's own Optimizer as before the steps, as _OptimizerSnapshot saves a torch one, read off
    fastai's optimizer itself (not its view): every attribute (`state`, `hypers`, `param_lists`,
    `cbs`, `frozen_idx`) by identity; each hyperparameter dict's items; each parameter's state
    dict by identity with its items (fastai's settings `force_train`, `do_wd` and a step's `step`
    count among them, copied now: a shallow copy). The state tensors a step updates in place
    (`grad_avg`, `sqr_avg`) are copied by the step pre-hook, right before a step can change them.
    fastai's state_dict() would not do: it hands out the live state dicts and hypers, which the
    next step updates, and load_state_dict() replaces the state's defaultdict with a plain dict."""

    def __init__(self, view: fastai_steps.Optimizer) -> None:
        opt = self.fastai = view.fastai
        self.attrs = dict(vars(opt))
        # tensors the attributes hold, updated in place by a step (Lookahead's slow weights): copied
        # now; not param_lists, which holds the parameters themselves (Snapshot's to save)
        held = [t for k, v in self.attrs.items() if k != "param_lists" for t in _tensors(v)]
        self.tensors = list(zip(held, copies(held)))
        self.hypers = [(h, {k: (v, _clone(v)) for k, v in h.items()}) for h in opt.hypers]
        self.param_lists = [(pl, list(pl)) for pl in opt.param_lists]
        self.entries = {id(p): (p, d, dict(d)) for p, d in opt.state.items()}
        self.state_keys = {p for p, d in opt.state.items() if d}
        self.state: dict[int, tuple[Any, dict[str, tuple[Any, Any]]]] = {}  # as _OptimizerSnapshot's

    def entry(self, p: torch.Tensor) -> dict:
        return self.fastai.state[p]

    def restore(self) -> None:
        """Attributes, hypers and state dicts back, each the same object as before (the state
        tensors were written back by Snapshot.restore with everything else)."""
        opt = self.fastai
        for k in [k for k in vars(opt) if k not in self.attrs]:
            delattr(opt, k)
        for k, v in self.attrs.items():
            if vars(opt).get(k) is not v:
                setattr(opt, k, v)
        copy_back(self.tensors)
        for h, saved in self.hypers:
            h.clear()
            for k, (obj, copy) in saved.items():
                if isinstance(obj, torch.Tensor):
                    obj.copy_(copy)
                h[k] = obj
        for pl, params in self.param_lists:
            if len(pl) != len(params) or any(a is not b for a, b in zip(pl, params)):
                pl.items[:] = params  # fastcore's L holds its list as `items`
        state = opt.state
        for p in [p for p in state if id(p) not in self.entries]:
            del state[p]
        for p, d, items in self.entries.values():
            d.clear()
            d.update(items)
            if state.get(p) is not d:
                state[p] = d


def _tensors(v: Any) -> list[torch.Tensor]:
    """The tensors v is, or holds in lists, tuples and fastcore's L (nested)."""
    if isinstance(v, torch.Tensor):
        return [v]
    if isinstance(v, (list, tuple)) or type(v).__name__ == "L":
        return [t for x in v for t in _tensors(x)]
    return []
