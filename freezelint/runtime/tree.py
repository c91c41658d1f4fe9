"""One walk of a module tree: its named modules, parameters and buffers, as torch lists them
(less a lazy module's uninitialised ones, which hold nothing to read).

`named_modules()`, `named_parameters()` and `named_buffers()` each walk the whole tree through
nested generators (resnet50: 0.6 ms for the three, and more right after a forward pass has
evicted the modules from the cache); the watch needs all three at the window's start and again
at its end. `walk` reads the same dictionaries once, in the same order with the same
de-duplication. A tree with a module whose class redefines how torch lists its members (FSDP1
cleans its names, for one) is listed by torch itself.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn
from torch.nn.modules.lazy import LazyModuleMixin
from torch.nn.parameter import UninitializedTensorMixin

# The methods through which torch lists a tree's members; a class that overrides one may list
# something other than its dictionaries.
_LISTING = ("named_modules", "named_parameters", "named_buffers", "_named_members", "modules", "parameters",
            "buffers", "named_children", "children")
_PLAIN: dict[type, int] = {}
_LAZY = 2  # a plain class that may hold uninitialised (lazy) tensors


def _plain(cls: type) -> int:
    """0: a class that lists its members its own way; 1: a plain one; _LAZY: a plain lazy one."""
    known = _PLAIN.get(cls)
    if known is None:
        if len(_PLAIN) > 4096:  # classes made on the fly are not kept alive for ever
            _PLAIN.clear()
        plain = all(getattr(cls, n, None) is getattr(nn.Module, n) for n in _LISTING) \
            and cls.__hash__ is nn.Module.__hash__
        known = _PLAIN[cls] = _LAZY if plain and issubclass(cls, LazyModuleMixin) else int(plain)
    return known


def class_name(m: nn.Module) -> str:
    """A module's class name as its script wrote it, wherever a report shows one: a TorchScript
    module's `original_name` (BatchNorm1d), not the RecursiveScriptModule every scripted layer is."""
    if isinstance(m, torch.jit.ScriptModule):
        name = getattr(m, "original_name", None)
        if isinstance(name, str) and name:
            return name
    return type(m).__name__


def _made(named: list[tuple[str, torch.Tensor]]) -> list[tuple[str, torch.Tensor]]:
    """Without the uninitialised (lazy) tensors: they hold no data to read until a forward makes them."""
    return [(n, t) for n, t in named if not isinstance(t, UninitializedTensorMixin)]


def unmade(m: nn.Module) -> bool:
    return any(isinstance(t, UninitializedTensorMixin) for t in (*m._parameters.values(), *m._buffers.values()))


class Tree(NamedTuple):
    modules: list[tuple[str, nn.Module]]
    params: list[tuple[str, nn.Parameter]]
    buffers: list[tuple[str, torch.Tensor]]
    tied: dict[int, list[str]]  # id of a parameter reachable under several names -> all of them, first first
    lazy: tuple[tuple[str, nn.Module], ...] = ()  # lazy modules with tensors still uninitialised (left out above)


def _tied(root: nn.Module) -> dict[int, list[str]]:
    names: dict[int, list[str]] = {}
    try:
        every = root.named_parameters(remove_duplicate=False)
    except TypeError:  # an override without the keyword
        return {}
    for n, p in every:
        known = names.setdefault(id(p), [])
        if n not in known:
            known.append(n)
    return {k: v for k, v in names.items() if len(v) > 1}


def walk(root: nn.Module) -> Tree:
    """`(list(root.named_modules()), list(root.named_parameters()), list(root.named_buffers()))`,
    read in one pass, and the names of tied parameters."""
    modules: list[tuple[str, nn.Module]] = []
    params: list[tuple[str, nn.Parameter]] = []
    buffers: list[tuple[str, torch.Tensor]] = []
    seen_m: set[int] = set()
    seen_p: set[int] = set()
    seen_b: set[int] = set()
    tied: dict[int, list[str]] = {}
    lazy: list[tuple[str, nn.Module]] = []
    stack = [("", root)]  # children pushed in reverse: popped in the order torch's recursion visits them
    while stack:
        name, m = stack.pop()
        if id(m) in seen_m:  # a shared module: its parameters answer to these names too
            if m._parameters or m._modules:
                for n, p in m.named_parameters(prefix=name):
                    tied.setdefault(id(p), []).append(n)
            continue
        kind = _plain(type(m))
        if not kind:
            named = list(root.named_modules())
            return Tree(named, _made(list(root.named_parameters())), _made(list(root.named_buffers())),
                        _tied(root), tuple((n, x) for n, x in named if isinstance(x, LazyModuleMixin) and unmade(x)))
        seen_m.add(id(m))
        modules.append((name, m))
        if kind == _LAZY and unmade(m):
            lazy.append((name, m))
        dot = name + "." if name else ""
        for k, p in m._parameters.items():
            if p is not None and (kind != _LAZY or not isinstance(p, UninitializedTensorMixin)):
                if id(p) not in seen_p:
                    seen_p.add(id(p))
                    params.append((dot + k, p))
                else:  # tied: its first name is in params, found once a second one turns up
                    tied.setdefault(id(p), []).append(dot + k)
        for k, b in m._buffers.items():
            if b is not None and id(b) not in seen_b and (kind != _LAZY or not isinstance(b, UninitializedTensorMixin)):
                seen_b.add(id(b))
                buffers.append((dot + k, b))
        children = m._modules
        if children:
            stack.extend((dot + k, c) for k, c in reversed(children.items()) if c is not None)
    if tied:
        first = {id(p): n for n, p in params if id(p) in tied}
        tied = {k: [first[k], *(n for n in dict.fromkeys(v) if n != first[k])] for k, v in tied.items()}
    return Tree(modules, params, buffers, tied, tuple(lazy))


__all__ = ["Tree", "unmade", "walk"]
