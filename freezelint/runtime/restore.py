"""Everything the audit may touch, saved before and put back after — even when a step raises.

Parameters are not copied up front: a step can only change a parameter whose `.grad` is a
tensor (every torch optimizer skips `grad is None`), so a step pre-hook copies exactly those,
with their optimizer state, right before each `optimizer.step()`. Buffers are small and are
all copied. `exact=True` copies every parameter up front as well (for custom optimizers or
forwards that write to parameters).
"""

from __future__ import annotations

import random
import sys
from typing import Any

import torch
from torch import nn


def _clone(v: Any) -> Any:
    if isinstance(v, torch.Tensor):
        return v.detach().clone()
    return v


def _nbytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


class Snapshot:
    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, params: list[nn.Parameter],
                 exact: bool = False, scaler: Any = None) -> None:
        self.model = model
        self.optimizer = optimizer
        self.params = params
        self.scaler = scaler
        self.extra_bytes = 0
        # identity of every registered parameter and buffer, so replaced tensors come back too
        self.slots = [(m, kind, name, t) for m in model.modules()
                      for kind in ("_parameters", "_buffers")
                      for name, t in getattr(m, kind).items() if t is not None]
        self.buffers: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        for _m, kind, _n, t in self.slots:
            if kind == "_buffers" and id(t) not in self.buffers:
                self.buffers[id(t)] = (t, t.detach().clone())
                self.extra_bytes += _nbytes(t)
        self.values: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        if exact:
            for p in params:
                self._save_value(p)
        self.grads = {id(p): (p, p.grad, _clone(p.grad)) for p in params}
        self.extra_bytes += sum(_nbytes(g) for _p, g, _c in self.grads.values() if g is not None)
        self.flags = [(m, m.training) for m in model.modules()]
        self.groups = [{k: (v, _clone(v)) for k, v in g.items() if k != "params"} for g in optimizer.param_groups]
        self.group_params = [list(g["params"]) for g in optimizer.param_groups]
        self.opt_attrs = {k: v for k, v in vars(optimizer).items() if isinstance(v, (int, float, bool))}
        self.state_keys = set(optimizer.state.keys())
        self.state: dict[int, tuple[Any, dict[str, tuple[Any, Any]]]] = {}
        self.rng_cpu = torch.get_rng_state()
        self.rng_cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
        self.rng_py = random.getstate()
        np = sys.modules.get("numpy")
        self.rng_np = np.random.get_state() if np is not None else None
        self.scaler_state = scaler.state_dict() if scaler is not None else None

    def _save_value(self, p: torch.Tensor) -> None:
        if id(p) not in self.values:
            self.values[id(p)] = (p, p.detach().clone())
            self.extra_bytes += _nbytes(p)

    def before_step(self, optimizer, args, kwargs) -> None:
        """Step pre-hook: save what this step can change."""
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                self._save_value(p)
                # State created by an audited step is dropped at restore, not saved as if original.
                if p in self.state_keys and id(p) not in self.state:
                    entry = optimizer.state[p]
                    self.state[id(p)] = (p, {k: (v, _clone(v)) for k, v in entry.items()})
                    self.extra_bytes += sum(_nbytes(v) for v in entry.values() if isinstance(v, torch.Tensor))

    def value_before(self, p: torch.Tensor) -> torch.Tensor | None:
        saved = self.values.get(id(p))
        return saved[1] if saved else None

    def buffer_before(self, b: torch.Tensor) -> torch.Tensor | None:
        saved = self.buffers.get(id(b))
        return saved[1] if saved else None

    @torch.no_grad()
    def restore(self) -> None:
        for m, kind, name, t in self.slots:
            getattr(m, kind)[name] = t
        for t, saved in self.values.values():
            t.copy_(saved)
        for t, saved in self.buffers.values():
            t.copy_(saved)
        for p, grad, saved in self.grads.values():
            if grad is not None:
                grad.copy_(saved)
            p.grad = grad
        for m, flag in self.flags:
            m.training = flag
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
            restored = {}
            for k, (obj, copy) in entry.items():
                if isinstance(obj, torch.Tensor):
                    obj.copy_(copy)
                restored[k] = obj
            opt.state[p] = restored
        torch.set_rng_state(self.rng_cpu)
        if self.rng_cuda is not None:
            torch.cuda.set_rng_state_all(self.rng_cuda)
        random.setstate(self.rng_py)
        np = sys.modules.get("numpy")
        if np is not None and self.rng_np is not None:
            np.random.set_state(self.rng_np)
        if self.scaler is not None and self.scaler_state:
            self.scaler.load_state_dict(self.scaler_state)
