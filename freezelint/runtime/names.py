"""Parameter names as the user wrote them, and expectation patterns matched against them.

A tensor can be reachable under several names: tied weights (an LM head sharing the embedding's
matrix), wrappers that add a path segment (`_orig_mod.` of `torch.compile`, `module.` of
DataParallel / DistributedDataParallel, `_module.` of opacus's GradSampleModule, `base_model.model.` of a PEFT model), and PEFT's `ModulesToSaveWrapper`, which trains a copy
of a module under `modules_to_save.<adapter>.` while the original under `original_module.` stays
frozen by design. Reports use one display name per tensor and list the others as aliases;
patterns match any of them.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Callable, Iterable

import torch
from torch import nn

if TYPE_CHECKING:  # pragma: no cover
    from freezelint.runtime.report import AuditFinding

# Wrappers whose one child is the user's module: the child's path segment is not part of the
# name the user wrote.
_WRAPPER_CHILD = {"OptimizedModule": "_orig_mod", "DataParallel": "module", "DistributedDataParallel": "module",
                  "_FabricModule": "_forward_module",  # Lightning Fabric's setup(); `_original_module` is the same model
                  # opacus's make_private(): GradSampleModule and its kinds (by their base), and its DDP
                  "AbstractGradSampleModule": "_module", "DifferentiallyPrivateDistributedDataParallel": "module"}
_PEFT_SAVE = "ModulesToSaveWrapper"


# class -> the segment its wrapper base names (None: no wrapper): each name walk asks of every
# module, and a class's bases do not change. Bounded, as tree._PLAIN.
_SEGMENT_OF: dict[type, str | None] = {}


def _wrapper_segment(cls: type) -> str | None:
    if cls not in _SEGMENT_OF:
        if len(_SEGMENT_OF) > 4096:  # classes made on the fly are not kept alive for ever
            _SEGMENT_OF.clear()
        # a subclass of a wrapper (opacus's kinds of GradSampleModule) too
        _SEGMENT_OF[cls] = next((c for c in map(_WRAPPER_CHILD.get, (k.__name__ for k in cls.__mro__)) if c), None)
    return _SEGMENT_OF[cls]


def _wrapper_child(m: nn.Module) -> str | None:
    """The path segment of the one child a wrapper module holds (the user's module), else None."""
    child = _wrapper_segment(type(m))
    return child if child is not None and isinstance(getattr(m, child, None), nn.Module) else None


def is_wrapper(m: nn.Module) -> bool:
    """A module that only wraps the user's module (compile, DataParallel, DDP, Fabric, opacus)."""
    return _wrapper_child(m) is not None


# PEFT puts the user's model two path segments down, `base_model.model.`, that its users do not
# write (`modules_to_save=["classifier"]` names `classifier`): a PeftModel's `base_model` (a tuner,
# LoraModel and the like) and the tuner's `model`. Their names are left out as a wrapper's are, in
# names only: a PeftModel may hold more than the wrapped model (a prompt encoder), so it is never
# unwrapped as compile's and DDP's wrappers are.
_PEFT_CHILD = {"PeftModel": "base_model", "BaseTuner": "model"}


def _peft_child(m: nn.Module) -> str | None:
    for cls in type(m).__mro__:
        child = _PEFT_CHILD.get(cls.__name__)
        if child is not None and cls.__module__.startswith("peft.") and isinstance(getattr(m, child, None), nn.Module):
            return child
    return None


def unwrap(model: nn.Module) -> tuple[nn.Module, list[str]]:
    """The user's module under wrappers at the root (`torch.compile(model)`, `DataParallel(model)`),
    and the path segments the wrappers added (`["_orig_mod"]`)."""
    segments = []
    while is_wrapper(model):
        segments.append(_wrapper_child(model))
        model = getattr(model, segments[-1])
    return model, segments


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


@dataclass
class Names:
    """Built from the model's raw module walk; says how each raw name reads to the user."""

    transparent: set[str] = field(default_factory=set)  # raw paths of wrapper children
    wrappers: set[str] = field(default_factory=set)  # raw paths of the wrapper modules themselves
    saved_copies: dict[str, str] = field(default_factory=dict)  # copy path -> the wrapper's path (PEFT)
    originals: set[str] = field(default_factory=set)  # PEFT original_module paths
    root: list[str] = field(default_factory=list)  # segments of wrappers around the model itself

    def pattern(self, pattern: str) -> str:
        """A pattern as the user may have written it, with the wrappers' segments: as displayed."""
        for seg in self.root:
            if pattern.startswith(seg + "."):
                pattern = pattern[len(seg) + 1:]
        return self.display(pattern)

    @classmethod
    def of(cls, named_modules: Iterable[tuple[str, nn.Module]], root: Iterable[str] = ()) -> "Names":
        out = cls(root=list(root))
        for name, m in named_modules:
            if is_wrapper(m):
                out.wrappers.add(name)
                out.transparent.add(_join(name, _wrapper_child(m)))
            elif type(m).__name__ == _PEFT_SAVE:
                copies = getattr(m, "modules_to_save", None)
                if isinstance(copies, nn.ModuleDict):
                    active = getattr(m, "active_adapters", None) or list(copies.keys())
                    for adapter in [active] if isinstance(active, str) else active:
                        if adapter in copies:
                            out.saved_copies[_join(name, f"modules_to_save.{adapter}")] = name
                out.originals.add(_join(name, "original_module"))
            elif "peft" in type(m).__module__ and (child := _peft_child(m)) is not None:
                out.wrappers.add(name)
                out.transparent.add(_join(name, child))
        return out

    def display(self, raw: str) -> str:
        """raw with wrapper segments left out: `_orig_mod.0.weight` -> `0.weight`."""
        if not self.transparent or not raw:
            return raw
        kept, path = [], ""
        for seg in raw.split("."):
            path = _join(path, seg)
            if path not in self.transparent:
                kept.append(seg)
        return ".".join(kept)

    def aliases(self, raw: str, displayed: bool = True) -> list[str]:
        """Other names a pattern may use for this tensor: the PEFT copy's parameters also answer
        to the wrapped module's own name (`classifier.weight` for
        `classifier.modules_to_save.default.weight`); `displayed=False`: with the wrappers'
        segments kept (`base_model.model.classifier.weight`)."""
        for copy, wrapper in self.saved_copies.items():
            if raw.startswith(copy + "."):
                name = _join(wrapper, raw[len(copy) + 1:])
                return [self.display(name) if displayed else name]
        return []

    def is_original(self, raw: str) -> bool:
        """A parameter of a PEFT original_module: frozen by design, a copy trains instead."""
        return any(raw.startswith(o + ".") for o in self.originals)


def as_patterns(value: str | Iterable[str], option: str) -> list[str]:
    """A str is one pattern, never its characters; anything else must be strings."""
    if isinstance(value, str):
        value = [value]
    try:
        patterns = list(value)
    except TypeError:
        raise ValueError(f"{option} must be a name pattern or a list of them, got {type(value).__name__}") from None
    bad = [p for p in patterns if not isinstance(p, str) or not p]
    if bad:
        raise ValueError(f"{option} patterns must be non-empty strings, got {bad[0]!r}")
    return patterns


# torch.nn.utils.parametrize keeps the tensor the user knows as `fc.weight` at
# `fc.parametrizations.weight.original` (`original0`, `original1`, ... where right_inverse splits it)
_PARAMETRIZED = re.compile(r"(^|\.)parametrizations\.([^.]+)\.original\d*$")


def as_written(name: str) -> str:
    """A parametrized tensor's name as the user's code reads it (`fc.weight`); any other name as it is."""
    return _PARAMETRIZED.sub(r"\1\2", name)


def matches(pattern: str, name: str) -> bool:
    """A module or parameter name matches itself and its subtree; a glob matches names. A
    parametrized tensor also matches by the name the code reads it as (`fc.weight`)."""
    written = as_written(name)
    return any(n == pattern or n.startswith(pattern + ".") or fnmatchcase(n, pattern)
               for n in ((name,) if written == name else (name, written)))


def nearest(pattern: str, names: Iterable[str], n: int = 3) -> list[str]:
    """The real names closest to a pattern that matched nothing, modules before parameters."""
    pool = list(dict.fromkeys(names))
    found = difflib.get_close_matches(pattern, pool, n=n, cutoff=0.5)
    if len(found) < n:  # a wrong prefix (`model.encoder` for `encoder`): compare the last segments
        tail = pattern.rsplit(".", 1)[-1]
        found += [x for x in pool if x.rsplit(".", 1)[-1] == tail and x not in found][: n - len(found)]
    return found


def not_materialised(named: list[tuple[str, torch.Tensor]]) -> tuple[list[str], list[str]]:
    """Names of tensors on the meta device, and of uninitialised (lazy) ones."""
    lazy = [n for n, t in named if isinstance(t, nn.parameter.UninitializedTensorMixin)]
    meta = [n for n, t in named if t.is_meta and not isinstance(t, nn.parameter.UninitializedTensorMixin)]
    return meta, lazy


def _script_modules(head: str, named_modules: list[tuple[str, nn.Module]]) -> list[str]:
    """The names in the model of the modules that the training code's variables called `head`
    hold, each once, innermost scope first. The variables read are those of the code on the stack
    outside freezelint and torch (the training loop a watch judges inside, the test that called
    `audit()`) and of the script's top level."""
    import sys

    from freezelint.runtime.watch_models import user_scopes

    where = {id(m): n for n, m in named_modules}
    found: list[str] = []
    for scope in user_scopes(sys._getframe()):
        name = where.get(id(scope.get(head)))
        if head in scope and name is not None and name not in found:
            found.append(name)
    return found


def by_script_name(f: AuditFinding, named_modules: list[tuple[str, nn.Module]], params: list[str],
                   judge: Callable[[list[str], list[str]], list[AuditFinding]]
                   ) -> tuple[list[AuditFinding], str | None]:
    """FZ506 on a pattern that matched nothing and starts with the training code's own name for one
    of the model's modules (`backbone`, where `backbone = model[0]`): the pattern is judged on that
    module (`judge(expect_frozen, expect_trainable)`: the findings of those expectations), with a
    note saying which module it judged, and the findings name the pattern as written. FZ506 stays
    where the name holds several of the model's modules, or where the pattern on that module names
    nothing either, saying so; ([f], None) where the name is none of the training code's."""
    head, _, rest = f.target.partition(".")
    names = _script_modules(head, named_modules) if head.isidentifier() else []
    if not names:
        return [f], None
    option = f.message.partition(" pattern ")[0]
    if len(names) > 1:
        held = ", ".join(f"`{n}`" if n else "the model" for n in names)
        return [replace(f, message=f"{option} pattern matched no parameter; `{head}` is the training code's name for "
                                   f"several of the model's modules ({held}): write the name of the one meant")], None
    name = names[0]
    pattern = (f"{name}.{rest}" if name and rest else name or rest) or "*"
    known = [*(n for n, _ in named_modules if n), *params]
    which = f"`{head}` is the training code's name for " + (f"the model's module {name}" if name else "the model")
    if any(matches(pattern, n) for n in known):
        frozen = option == "expect_frozen"
        judged = [replace(g, target=f.target) if g.target == pattern else g
                  for g in judge([pattern] if frozen else [], [] if frozen else [pattern])]
        return judged, f"{option} `{f.target}` was judged on `{pattern}`: {which}"
    near = nearest(pattern, known)
    return [replace(f, message=f"{option} pattern matched no parameter; {which}, and `{pattern}` names nothing either"
                               + (f"; nearest names: {', '.join(near)}" if near else ""))], None
