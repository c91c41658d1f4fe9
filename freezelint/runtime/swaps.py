"""Parameters swapped out of a layer that stays in the model.

`load_state_dict(..., assign=True)` and `layer.weight = nn.Parameter(...)` register a new Parameter
under a name the module already held one by; an optimizer built before keeps the old object, as it
keeps a replaced layer's. Afterwards nothing on the module tells the two apart, so the watch logs
the swaps it sees (torch's global parameter-registration hook) while it is open, and the layers
replaced whole (the module-registration hook), so that a report can say which of the two it was.
"""

from __future__ import annotations

import sys
import weakref
from typing import Any

from torch import nn
from torch.nn.modules.module import register_module_module_registration_hook, register_module_parameter_registration_hook

# id(old parameter) -> (old parameter, module it was swapped out of, name, by load_state_dict): weak,
# so the log keeps nothing alive; an entry is trusted only while its old parameter is that very object
_SWAPPED: dict[int, tuple[weakref.ref, weakref.ref, str, bool]] = {}
_KEPT = 4096  # entries before the dead ones are dropped
# id(parameter of a layer replaced whole) -> (that parameter, weak; the layer's class, as
# `module.QualName`; its attribute name in its parent; the parent, weak): logged the same way
_REPLACED: dict[int, tuple[weakref.ref, str, str, weakref.ref]] = {}


def _on_register(module: nn.Module, name: str, param: Any) -> None:
    old = module._parameters.get(name)
    if old is None or old is param:
        return
    if len(_SWAPPED) >= _KEPT:
        for key in [k for k, (o, m, _, _) in _SWAPPED.items() if o() is None or m() is None]:
            del _SWAPPED[key]
    try:
        _SWAPPED[id(old)] = (weakref.ref(old), weakref.ref(module), name, _loading())
    except TypeError:  # an object that takes no weak reference: not logged
        pass


def _on_module(parent: nn.Module, name: str, module: Any) -> None:
    old = parent._modules.get(name)
    if old is None or old is module or not isinstance(old, nn.Module):
        return
    if len(_REPLACED) >= _KEPT:
        for key in [k for k, (o, *_) in _REPLACED.items() if o() is None]:
            del _REPLACED[key]
    kind = f"{type(old).__module__}.{type(old).__qualname__}"
    for p in old.parameters():
        try:
            _REPLACED[id(p)] = (weakref.ref(p), kind, name, weakref.ref(parent))
        except TypeError:
            pass


def _loading() -> bool:
    """Whether the swap is load_state_dict(..., assign=True)'s (its _load_from_state_dict is a caller)."""
    f = sys._getframe(2)
    for _ in range(4):
        if f is None:
            return False
        if f.f_code.co_name == "_load_from_state_dict":
            return True
        f = f.f_back
    return False


class _Handles:
    def __init__(self, *handles: Any) -> None:
        self.handles = handles

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


def log_swaps() -> Any:
    """Start logging swaps and replaced layers; returns a handle (`.remove()` stops it)."""
    return _Handles(register_module_parameter_registration_hook(_on_register),
                    register_module_module_registration_hook(_on_module))


def swapped_out(param: Any) -> tuple[nn.Module, str, bool] | None:
    """The module (still alive) and name `param` was swapped out of while a log was on, and whether
    load_state_dict swapped it; else None."""
    entry = _SWAPPED.get(id(param))
    if entry is None:
        return None
    old, module, name, loading = entry
    m = module()
    return (m, name, loading) if old() is param and m is not None else None


def replaced_out(param: Any) -> bool:
    """Whether `param` belonged to a layer replaced whole while a log was on."""
    return replaced_from(param) is not None


def replaced_from(param: Any) -> tuple[str, str] | None:
    """The class (`module.QualName`) and attribute name of the layer replaced whole, while a log
    was on, that `param` belonged to (a LoRA layer that peft's merge_and_unload() put its base
    layer in place of: `peft.tuners.lora.layer.Linear`, `fc1`); else None."""
    entry = _REPLACED.get(id(param))
    return entry[1:3] if entry is not None and entry[0]() is param else None


def replaced_in(param: Any) -> tuple[nn.Module, str] | None:
    """The module (still alive) that held the layer replaced whole, while a log was on, that
    `param` belonged to, and the layer's attribute name in it; else None."""
    entry = _REPLACED.get(id(param))
    if entry is None or entry[0]() is not param:
        return None
    parent = entry[3]()
    return (parent, entry[2]) if parent is not None else None
