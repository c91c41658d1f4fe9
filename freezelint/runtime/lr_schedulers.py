"""The lr schedulers over an optimizer, found from the optimizer itself: wherever the training code
keeps them (a variable, `self.sched`, a trainer's attribute, a list) and whenever it built them."""

from __future__ import annotations

import gc
from typing import Callable

import torch


# the base of torch's lr schedulers (`_LRScheduler` before torch 2.0)
_TORCH_BASE = getattr(torch.optim.lr_scheduler, "LRScheduler", None) or getattr(torch.optim.lr_scheduler,
                                                                                 "_LRScheduler", None)


def is_torch_scheduler(kind: type) -> bool:
    """One of torch's lr schedulers (LRScheduler and its subclasses: ReduceLROnPlateau too)."""
    return isinstance(_TORCH_BASE, type) and issubclass(kind, _TORCH_BASE)


def is_timm_scheduler(kind: type) -> bool:
    """One of timm's schedulers (timm.scheduler.*: classes of their own, not torch's)."""
    return (getattr(kind, "__module__", None) or "").startswith("timm.scheduler")


def schedulers_over(opt: torch.optim.Optimizer, of_kind: Callable[[type], bool]) -> list[object]:
    """The live objects of a kind whose `optimizer` is `opt`, through the garbage collector's
    referrers of `opt`. An object whose instance dictionary was made (its state_dict() or
    load_state_dict() for a checkpoint, `vars()`) refers to `opt` through that dictionary, not
    itself: found through it. Walks every object (twice where such a dictionary is there), so it is
    looked for only where a zero lr makes it needed."""
    refs = gc.get_referrers(opt)
    found = [r for r in refs if of_kind(type(r)) and getattr(r, "optimizer", None) is opt]
    held = [r for r in refs if type(r) is dict and r.get("optimizer") is opt]
    if held:
        found += [r for r in gc.get_referrers(*held) if of_kind(type(r)) and getattr(r, "optimizer", None) is opt]
    return list({id(r): r for r in found}.values())
