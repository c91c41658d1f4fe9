"""Which models a watch judges: the trained ones (the outermost forwarded modules that hold what
a watched optimizer steps, or the module the running code holds above several of them when the
loop calls a method rather than forward), the ones run beside them (a distillation teacher, a
frozen encoder, a value head left out of the optimizer), and the names the report gives each
(the training code's own, else the class).
"""

from __future__ import annotations

import gc
import inspect
import os
import re
import sys
import types
from inspect import CO_OPTIMIZED
from itertools import combinations
from typing import TYPE_CHECKING, Callable, Iterator

import torch
from torch import nn
from torch.nn.modules.batchnorm import _NormBase
from torch.nn.utils.spectral_norm import SpectralNorm

try:  # torch.nn.utils.parametrizations.spectral_norm's parametrization (a private class)
    from torch.nn.utils.parametrizations import _SpectralNorm
except ImportError:  # pragma: no cover
    _SpectralNorm = None

from freezelint.lightning_hooks import DEAD_HOOKS as _DEAD_HOOKS  # hooks Lightning 2 never calls (FZ110's too)
from freezelint.lightning_hooks import REPLACEMENT_ARGS
from freezelint.runtime import fastai_steps
from freezelint.runtime.findings import held_as, listed
from freezelint.runtime.fingerprint import Fingerprinter
from freezelint.runtime.names import matches
from freezelint.runtime.runner import AuditUsageError
from freezelint.runtime.tree import Tree, class_name, walk

if TYPE_CHECKING:  # pragma: no cover
    from freezelint.runtime.watch import Watch


def _outermost(modules: list[nn.Module]) -> list[nn.Module]:
    inner = {id(c) for m in modules for c in m.modules() if c is not m}
    out: dict[int, nn.Module] = {}
    for m in modules:
        if id(m) not in inner:
            out.setdefault(id(m), m)
    return list(out.values())


def _tops(modules: list[nn.Module], orphans: set[int]) -> list[nn.Module]:
    """The outermost modules above `modules` and above the modules that hold the parameters in
    `orphans` (ids), found once through the garbage collector's list of live objects: a Lightning
    `training_step` may call only submodules, so no forward names the model that holds them."""
    parent: dict[int, nn.Module] = {}
    owners: list[nn.Module] = []
    for obj in gc.get_objects():
        if not issubclass(type(obj), nn.Module):
            continue
        for child in obj._modules.values():
            if child is not None:
                parent.setdefault(id(child), obj)
        if orphans and any(p is not None and id(p) in orphans for p in obj._parameters.values()):
            owners.append(obj)
    tops = []
    for m in [*modules, *owners]:
        seen = set()
        while id(m) in parent and id(m) not in seen:
            seen.add(id(m))
            m = parent[id(m)]
        tops.append(m)
    return _outermost(tops)


def held_params(opt: torch.optim.Optimizer) -> list[torch.Tensor]:
    return [p for g in opt.param_groups for p in g["params"]]


def held_ids(w: "Watch") -> set[int]:
    """Ids of every parameter the optimizers that stepped in the window hold."""
    return {id(p) for o in w.optimizers.values() for p in held_params(o)}


def find_models(w: "Watch", trees: dict[int, Tree] | None = None) -> list[nn.Module]:
    """The given model, or the outermost forwarded modules holding parameters a watched
    optimizer holds (climbing to their owners when the optimizer holds more than they do).
    `trees`: walks taken here, by id of the module, for the caller to reuse."""
    if w.given_model is not None:
        return [w.given_model]
    held = held_ids(w)
    roots = list(w.roots.values())
    if len(roots) > 1:
        whole = _enclosing(w, _outermost(roots), held)
        if whole is not None:
            return [whole]
    chosen, covered = [], set()
    for r in roots if len(roots) == 1 else _outermost(roots):
        tree = walk(r)
        if trees is not None:
            trees[id(r)] = tree
        ids = {id(p) for _, p in tree.params}
        if not ids.isdisjoint(held):
            chosen.append(r)
            covered |= ids
    orphans = held - covered
    if orphans or not chosen:
        chosen = _tops(chosen, orphans)
        chosen = [m for m in chosen if any(id(p) in held for p in m.parameters())]
    if not chosen and roots:
        # No module holds what the optimizer steps: a layer replaced after the optimizer was built
        # (FZ302, judged on the model that ran), or tensors of no module (an optimized input).
        chosen = _outermost(roots)
    if not chosen:
        what = ("no module holding the stepped optimizer's parameters was found (no module's forward ran "
                "between its steps: the tensors it steps may belong to no nn.Module, with nothing to judge)")
        raise AuditUsageError(f"{what}: pass model= to watch()", cli=f"{what}: pass --model NAME")
    return chosen


_LIBRARY = (os.path.dirname(os.path.dirname(os.path.abspath(__file__))), os.path.dirname(os.path.abspath(torch.__file__)))


def _enclosing(w: "Watch", outer: list[nn.Module], held: set[int]) -> nn.Module | None:
    """The one model above several forwarded roots, when the loop calls a method of it rather
    than its forward (mmdet's `model.loss(batch)`, a VAE's `model.elbo(x)`, a LightningModule
    whose step calls its parts): the smallest module the running code holds above two roots with
    parameters or more that holds every parameter the optimizers hold (a LightningModule whose
    step runs `self.model` and a loss module without parameters keeps `self.model` as the model).
    None, so the roots are judged as they are, when it is not plainly one: optimizers that each
    train roots of their own after their own backward (a GAN's two models), the smallest such module not inside every
    other one, or a part in it left trainable that nothing trains (`_idle`)."""
    outer = [r for r in outer if next(r.parameters(), None) is not None]  # a loss module is no part
    if not held or len(outer) < 2 or _apart(w, outer):
        return None
    found = _above(outer, lambda m, _: held <= {id(p) for p in m.parameters()})
    if not found:
        return None
    smallest, mods = found[0]
    if not all(id(smallest) in others for _, others in found[1:]):
        return None
    if any(_idle(w, r, held) for r in outer if id(r) in mods):
        return None  # judged beside the model, that part is a note; inside it, it would be FZ503
    return smallest


def _idle(w: "Watch", part: nn.Module, held: set[int]) -> bool:
    """A part that trains nothing the optimizers hold, with trainable parameters that no backward
    reached: a teacher run under torch.no_grad() without requires_grad_(False)."""
    params = list(part.parameters())
    return not any(id(p) in held for p in params) and any(p.requires_grad or id(p) in w.wanted for p in params) \
        and all(p.grad is None for p in params)


def _lifted(roots: list[nn.Module], inside: set[int], held: set[int]) -> list[nn.Module]:
    """The models run beside the trained ones as the script holds them: the parts a method of one
    forwards one by one (a mean teacher's `teacher.predict(x)` runs its backbone, then its head)
    become the smallest module the running code holds above two of them or more, with none of
    the trained models' modules (`inside`) and none of the parameters an optimizer holds. A part
    stays as it ran where that is not plain (the smallest module above it not inside every other)."""
    if len(roots) < 2:
        return roots
    found = _above(roots, lambda m, mods: mods.isdisjoint(inside) and not any(id(p) in held for p in m.parameters()))
    if not found:
        return roots
    out = []
    for r in roots:
        over = [(m, mods) for m, mods in found if id(r) in mods]
        plain = over and all(id(over[0][0]) in mods for _, mods in over[1:])
        out.append(over[0][0] if plain else r)
    return _outermost(out)


def _above(roots: list[nn.Module], fits: Callable[[nn.Module, set[int]], bool]) -> list[tuple[nn.Module, set[int]]]:
    """The modules the running code holds (`_named_modules`) above two of `roots` or more that
    `fits(module, ids of its modules)` accepts, smallest first, each with the ids of its modules."""
    found = []
    for m in _named_modules():
        mods = {id(x) for x in m.modules()}
        if sum(id(r) in mods for r in roots) > 1 and fits(m, mods):
            found.append((m, mods))
    return sorted(found, key=lambda f: len(f[1]))


def _apart(w: "Watch", outer: list[nn.Module]) -> bool:
    """Several optimizers, none of them holding parameters of a root another one holds: models
    trained apart (a GAN's generator and discriminator, each stepped after its own backward),
    however the code keeps them. Optimizers that stepped from one backward count as one: they
    train one model whose parts each have their own (its backbone's lr, its head's)."""
    owned = [{id(p) for o in group for p in held_params(o)} for group in _stepped_together(w)]
    if len(owned) < 2:
        return False
    trains = [{id(r) for r in outer if any(id(p) in ids for p in r.parameters())} for ids in owned]
    return all(a.isdisjoint(b) for a, b in combinations(trains, 2))


def _stepped_together(w: "Watch") -> list[list[torch.optim.Optimizer]]:
    """The optimizers that stepped in the window, joined where two stepped from one backward."""
    group = {k: [o] for k, o in w.optimizers.items()}
    for a, b in w.together:
        if a in group and b in group and group[a] is not group[b]:
            group[a].extend(group[b])
            for o in group[b]:
                group[id(o)] = group[a]
    return list({id(g): g for g in group.values()}.values())


# torch's own containers are not a model: a ModuleDict of a student and its teacher holds both
_CONTAINERS = (nn.ModuleDict, nn.ModuleList, nn.ParameterDict, nn.ParameterList)


def frame_variables(frame) -> dict:
    """A frame's variables, read without keeping them: on Python before 3.13, `frame.f_locals`
    of a function's frame is a snapshot dict cached in the frame, which holds every value it
    read (a trainer the script has since dropped, a batch) until the frame refreshes it; the
    copy returned is ours and that snapshot is emptied (the frame's own variables are not
    touched: the snapshot is only a copy of them). A module's frame gives its globals, and a
    3.13 frame a live view: both as they are."""
    found = frame.f_locals
    if type(found) is dict and frame.f_code.co_flags & CO_OPTIMIZED and found is not frame.f_globals:
        copied = dict(found)
        found.clear()
        return copied
    return found


def outside(frame):
    """The innermost frame from `frame` outward that is not freezelint's or torch's, or None."""
    while frame is not None and frame.f_code.co_filename.startswith(_LIBRARY):
        frame = frame.f_back
    return frame


def call_site(frame) -> str | None:
    """Where the code outside freezelint and torch that is running made its call, as messages say
    it: `in on_train_epoch_start at train.py:14`, `in model_eval_mode at composer/utils/misc.py:85`,
    or `at train.py:14` at a script's top level."""
    frame = outside(frame)
    if frame is None:
        return None
    path = frame.f_code.co_filename
    cwd = os.getcwd() + os.sep
    shown = path[len(cwd):] if path.startswith(cwd) else \
        path.rsplit("site-packages" + os.sep, 1)[1] if "site-packages" + os.sep in path else os.path.basename(path)
    where = f"at {shown}:{frame.f_lineno}"
    name = frame.f_code.co_name
    return where if name.startswith("<") else f"in {name} {where}"


def user_scopes(frame) -> list[dict]:
    """The variables of the frames from `frame` outward that are not freezelint's or torch's
    (the training code on the stack, innermost first), then those of the running script's top
    level."""
    scopes = []
    while frame is not None:
        if not frame.f_code.co_filename.startswith(_LIBRARY):
            scopes.append(frame_variables(frame))
        frame = frame.f_back
    main = sys.modules.get("__main__")
    if main is not None:
        scopes.append(vars(main))
    return scopes


def _named_modules() -> Iterator[nn.Module]:
    """Each module the running code holds in a variable, once: the variables of the frames on the
    stack outside freezelint and torch (the judging runs inside the loop's optimizer step), and
    the attributes of those that are not modules (`trainer.model`, `self.model`), then the
    running script's top level."""
    seen: set[int] = set()

    def found(values) -> Iterator[nn.Module]:
        for v in values:
            kind = type(v)
            if issubclass(kind, nn.Module):  # isinstance would wake deprecated objects
                if id(v) not in seen and not issubclass(kind, _CONTAINERS):
                    seen.add(id(v))
                    yield v
            elif not issubclass(kind, (type, types.ModuleType, types.FunctionType)):
                try:
                    attrs = object.__getattribute__(v, "__dict__")  # never a class's own __getattr__
                except Exception:  # noqa: BLE001 — no instance dictionary
                    continue
                if type(attrs) is dict:
                    for a in list(attrs.values()):
                        if issubclass(type(a), nn.Module) and id(a) not in seen \
                                and not issubclass(type(a), _CONTAINERS):
                            seen.add(id(a))
                            yield a

    for scope in user_scopes(sys._getframe(1)):
        yield from found(list(scope.values()))


def _script_name(obj: object) -> str | None:
    """The name the training code gives `obj` (`teacher`, `G`): a variable of the innermost
    frame of the user's code that holds it (the judging runs inside its optimizer step, so its
    loop is on the stack), else of the running script's top level."""
    for scope in user_scopes(sys._getframe(1)):
        for k, v in list(scope.items()):
            if v is obj and k != "self" and not k.startswith("_"):
                return k
    return None


def _held_name(obj: object) -> str | None:
    """_script_name, else the attribute of the training code's `self` that holds `obj` (a trainer
    object's `self.ref_model` -> `ref_model`): how a model beside the trained one is named."""
    name = held_as(obj, user_scopes(sys._getframe(1)))
    return name[len("self."):] if name and name.startswith("self.") else name


def model_name(model: nn.Module, inner: nn.Module, seen: dict[int, str] | None = None) -> str | None:
    """The name the running script gives a model (or the module it wraps), as model_labels reads it."""
    seen = seen or {}
    return _script_name(model) or _script_name(inner) or seen.get(id(model)) or seen.get(id(inner))


# where an object holds an optimizer, and what to add to its name to name the optimizer: a
# framework's wrapper is named as the optimizer (Lightning's LightningOptimizer holds it as
# `_optimizer`, accelerate's AcceleratedOptimizer as `optimizer`); fastai's Learner, which holds
# its optimizer as `opt` but is none, names it `learn.opt`
_HELD_AS = (("_optimizer", ""), ("optimizer", ""), ("opt", ".opt"))


def _holding(v: object) -> list[tuple[object, str]]:
    """What a variable holding v may name, with what to add to the variable's name: v itself (''),
    and what v holds as an attribute of _HELD_AS."""
    out: list[tuple[object, str]] = [(v, "")]
    try:
        attrs = object.__getattribute__(v, "__dict__")  # never a wrapper's own __getattr__
    except Exception:  # noqa: BLE001 — no instance dictionary
        return out
    if type(attrs) is dict:
        out += [(attrs[k], suffix) for k, suffix in _HELD_AS if attrs.get(k) is not None]
    return out


def _wraps(v: object, opt: torch.optim.Optimizer) -> bool:
    """v is the optimizer, or a framework's wrapper around it (_HELD_AS: named as it)."""
    return any(held is opt for held, suffix in _holding(v) if not suffix)


def _held(obj: object) -> object:
    """What the script holds for `obj`: fastai's own optimizer for its view, else obj itself."""
    return obj.fastai if isinstance(obj, fastai_steps.Optimizer) else obj


def _name_in(k: str, v: object, obj: object) -> str | None:
    """The name the variable `k`, holding v, gives obj (_holding), or None."""
    want = _held(obj)
    return next((k + suffix for held, suffix in _holding(v) if held is want), None)


def optimizer_names(opts: list[torch.optim.Optimizer]) -> list[str | None]:
    """Names for several optimizers, as findings show them: the variables (or attributes of
    `self`) the training code holds them in, `opt_g` and `opt_d`, from the innermost frame of the
    user's code that holds every one of them under a name of its own (the judging runs inside a
    step, so the loop is on the stack), else the script's top level. None for each where no such
    frame exists: the caller names them by class. A loop variable (`for o in opts`) holds only
    one of them at a time, so it never names a full set."""
    for scope in user_scopes(sys._getframe(1)):
        holders = [(k, v) for k, v in scope.items() if k != "self" and not k.startswith("_")]
        me = scope.get("self")
        if me is not None:
            try:
                attrs = object.__getattribute__(me, "__dict__")
            except Exception:  # noqa: BLE001 — no instance dictionary
                attrs = {}
            if type(attrs) is dict:
                holders += [(k, v) for k, v in attrs.items() if not k.startswith("_")]
        names = [next((n for k, v in holders if (n := _name_in(k, v, opt))), None) for opt in opts]
        if all(names) and len(set(names)) == len(names):
            return names
    return [None] * len(opts)


def remember_names(objs: list[object], into: dict[int, str]) -> None:
    """Note in `into` (by id) the names the running code gives these objects now, as
    optimizer_names and _script_name would find them: a watch judged after the script ended
    (some optimizer short of its steps) has no frames left to ask."""
    todo = {id(_held(o)): o for o in objs if id(o) not in into}  # by what the script holds
    if not todo:
        return
    for scope in user_scopes(sys._getframe(1)):
        for k, v in list(scope.items()):
            if k == "self" or k.startswith("_"):
                continue
            for held, suffix in _holding(v):
                o = todo.get(id(held))
                if o is not None and _held(o) is held:
                    into[id(o)] = k + suffix
                    del todo[id(held)]
                    break
            if not todo:
                return


def optimizer_labels(opts: list[torch.optim.Optimizer], seen: dict[int, str] | None = None) -> list[str]:
    """What a report calls each of several optimizers: its name in the code (optimizer_names; or,
    the frames gone, as noted while the script ran: `seen`), else its class, numbered where two
    share one (`SGD 1`, `SGD 2`)."""
    names = optimizer_names(opts) if len(opts) > 1 else [None] * len(opts)
    if len(opts) > 1 and not all(names) and seen:
        kept = [seen.get(id(o)) for o in opts]
        if all(kept) and len(set(kept)) == len(kept):
            names = kept
    kinds = [type(o).__name__ for o in opts]
    return [name or (kind if kinds.count(kind) == 1 else f"{kind} {kinds[:i + 1].count(kind)}")
            for i, (name, kind) in enumerate(zip(names, kinds))]


def _with_subclasses(bases: list[type]) -> list[type]:
    out, todo = [], list(bases)
    while todo:
        cls = todo.pop()
        out.append(cls)
        todo.extend(cls.__subclasses__())
    return out


def _optimizer_classes() -> list[type]:
    fastai = fastai_steps.optimizer_class()
    return _with_subclasses([torch.optim.Optimizer, *([fastai] if fastai is not None else [])])


def _live_optimizers() -> list[torch.optim.Optimizer]:
    """The live optimizers, each once: torch's, and fastai's own as the watch sees them (their
    views, fastai_steps.as_torch). Found as the objects that refer to an optimizer class (an
    instance of a class defined in Python refers to it), in one scan the collector does in C:
    2-3x faster than a Python loop over every live object (62 against 150 ms on 640k objects)."""
    fastai = fastai_steps.optimizer_class()
    out = []
    for o in gc.get_referrers(*_optimizer_classes()):
        kind = type(o)  # issubclass: isinstance would wake deprecated objects
        if fastai is not None and issubclass(kind, fastai):
            out.append(fastai_steps.as_torch(o))
        elif issubclass(kind, torch.optim.Optimizer) and not issubclass(kind, fastai_steps.Optimizer):
            out.append(o)
    return out


def idle_optimizers(w: "Watch") -> list[torch.optim.Optimizer]:
    """Live optimizers that have not stepped in the window (nor were taken over) and hold
    parameters of a model that ran in it of which no optimizer that stepped holds any: a GAN's
    generator stepped less often than its critic. Found by the scan `_optimizers_holding` makes,
    only where such a model ran."""
    held = held_ids(w)
    idle: set[int] = set()
    for r in w.roots.values():  # models none of whose parameters a stepped optimizer holds
        ids = {id(p) for p in r.parameters()}
        if ids and ids.isdisjoint(held):
            idle |= ids
    if not idle:
        return []  # the usual case (one model, its frozen part in no optimizer): no scan
    gone = {id(ref()) for ref, _, _ in w.replaced.values() if ref() is not None}
    return [o for o in _live_optimizers() if id(o) not in w.counts and id(o) not in gone
            and any(id(p) in idle for g in o.param_groups for p in g["params"])]


def unstepped_holders(w: "Watch", pids: set[int]) -> dict[int, torch.optim.Optimizer]:
    """id of each of these parameters -> a live optimizer that holds it and did not step in the
    window: one built and never stepped (a stage's new optimizer while the loop steps the old one).
    Not one the window's optimizers took over or a wrapper of one that stepped (accelerate's,
    Lightning's: they share its param groups or hold it). Scanned only where asked (FZ503)."""
    stepped = list(w.optimizers.values())
    gone = {id(ref()) for ref, _, _ in w.replaced.values() if ref() is not None}
    out: dict[int, torch.optim.Optimizer] = {}
    for o in _live_optimizers():
        if (id(o) in w.counts or id(o) in gone
                or any(o is s or _wraps(o, s) or _wraps(s, o) or o.param_groups is s.param_groups for s in stepped)):
            continue
        for p in held_params(o):
            if id(p) in pids:
                out.setdefault(id(p), o)
    return out


def _optimizers_holding() -> dict[int, str]:
    """id of each parameter a live optimizer holds -> that optimizer's class: an optimizer that
    never stepped is not known otherwise (`_live_optimizers`)."""
    out: dict[int, str] = {}
    for obj in _live_optimizers():
        name = type(obj).__name__
        for g in obj.param_groups:
            for p in g["params"]:
                out.setdefault(id(p), name)
    return out


def finetuning_callbacks() -> list[str]:
    """Classes of the live Lightning `BaseFinetuning` callbacks (none when Lightning is not
    imported): their `make_trainable` unfreezes without adding to the optimizer, the FZ503
    mistake that `unfreeze_and_add_param_group` avoids."""
    bases = [getattr(sys.modules.get(f"{pkg}.callbacks.finetuning"), "BaseFinetuning", None)
             for pkg in ("lightning.pytorch", "pytorch_lightning")]
    classes = _with_subclasses([b for b in bases if isinstance(b, type)])
    if not classes:
        return []
    return sorted({type(o).__name__ for o in gc.get_referrers(*classes) if isinstance(type(o), type)
                   and any(issubclass(type(o), b) for b in classes)})


_FREEZE_WORDS = re.compile(r"requires_grad|freeze|\.train\(|\.eval\(|add_param_group")


def _lightning_modules(models: list[nn.Module], module_cls: type) -> list[nn.Module]:
    """The LightningModules behind the judged models: those judged themselves, and the live ones
    a Trainer runs that hold a judged model (`training_step` calling `self.model(x)` judges the
    inner module, not the LightningModule around it). The live ones are found, only when needed,
    through the garbage collector's referrers of their classes."""
    out = {id(m): m for m in models if isinstance(m, module_cls)}
    rest = {id(m) for m in models if id(m) not in out}
    if rest:
        classes = set(_with_subclasses([module_cls]))
        for obj in gc.get_referrers(*classes):
            if (type(obj) in classes and id(obj) not in out and getattr(obj, "_trainer", None) is not None
                    and any(id(x) in rest for x in obj.modules())):
                out[id(obj)] = obj
    return list(out.values())


def dead_lightning_hooks(models: list[nn.Module]) -> list[str]:
    """Notes on freezing code in a hook the running Lightning (2.0 or later) never calls, defined
    by a watched LightningModule (or the one holding a watched model) or one of its trainer's
    callbacks (`on_epoch_start` unfreezing the backbone: the backbone never unfreezes). Read off
    the live objects: the Lightning that runs is the one that decides, so a project still on
    Lightning 1.x is never told this."""
    notes: list[str] = []
    for pkg in ("lightning.pytorch", "pytorch_lightning"):
        mod = sys.modules.get(pkg)
        module_cls = getattr(mod, "LightningModule", None)
        version = getattr(mod, "__version__", None) or getattr(sys.modules.get(pkg.split(".")[0]), "__version__", "")
        major = int(str(version).split(".")[0]) if str(version)[:1].isdigit() else 0
        if not isinstance(module_cls, type) or not 2 <= major < 2000:  # 2022.x: the 1.x-era calendar releases
            continue
        for model in _lightning_modules(models, module_cls):
            trainer = getattr(model, "_trainer", None)
            for obj in [model, *(getattr(trainer, "callbacks", None) or [])]:
                for hook, now in _DEAD_HOOKS.items():
                    owner = next((c for c in type(obj).__mro__ if hook in vars(c)), None)
                    if owner is None or owner.__module__.split(".")[0] in ("lightning", "pytorch_lightning"):
                        continue
                    try:
                        source = inspect.getsource(vars(owner)[hook])
                    except (OSError, TypeError):
                        continue
                    if _FREEZE_WORDS.search(source):
                        fix = f"rename it `{now}`" if now in REPLACEMENT_ARGS else f"move it into `{now}`"
                        notes.append(f"`{owner.__name__}.{hook}` changes what trains, but Lightning {version} never "
                                     f"calls `{hook}` (skipped without a word since 2.0): that code does not run; "
                                     f"{fix}")
    return list(dict.fromkeys(notes))


def bystanders(w: "Watch", models: list[nn.Module],
               trees: dict[int, Tree]) -> tuple[list[nn.Module], list[str], dict[int, str]]:
    """The other models the script forwarded while watched, beside the trained ones. Those with
    every parameter frozen, held by no optimizer, and with running statistics are judged with
    them (a distillation teacher, a frozen encoder, a perceptual-loss network: their BatchNorm
    must not drift either), and so are those with trainable parameters that the backward reached
    but no optimizer holds (a value head left out: FZ503). Those an optimizer holds that did not
    step in the window (a GAN's generator, stepped once per 5 critic steps and frozen during them)
    and those with trainable parameters nothing reached are named in a note, not judged, unless
    the script itself updated them (an EMA copy: silent). Also
    the ids of the judged ones shaped as a trained model or a part of one (an EMA copy, a
    momentum encoder, that no update reached in the window looks frozen: its findings say so),
    each with what it is shaped as."""
    trained = {id(m) for m in models}
    if w.given_model is not None or all(i in trained for i in w.roots):
        return [], [], {}
    inside: set[int] = set()
    for m in models:
        inside.update(id(x) for _, x in (trees.get(id(m)) or walk(m)).modules)
    held = held_ids(w)
    candidates = []
    for r in _lifted(_outermost([r for r in w.roots.values() if id(r) not in inside]), inside, held):
        tree = trees.get(id(r)) or walk(r)
        if not tree.params or any(id(m) in trained for _, m in tree.modules):
            continue  # nothing to train (a loss), or it holds a trained model (climbed to from below)
        if not any(id(p) in held for _, p in tree.params):
            candidates.append((r, tree))
    if not candidates:
        return [], [], {}
    holders = _optimizers_holding()
    shapes = {tuple(p.shape for _, p in (trees.get(id(m)) or walk(m)).params) for m in models}

    def copies(tree: Tree) -> bool:
        """The same parameters as a trained model, shape for shape: its EMA copy or reference."""
        return tuple(p.shape for _, p in tree.params) in shapes

    parts: set[tuple] = set()

    def copies_part(tree: Tree) -> bool:
        """The same parameters as a part of a trained model: a momentum encoder, an EMA of the backbone."""
        if not parts:
            for m in models:
                parts.update(tuple(p.shape for p in sub.parameters()) for _, sub in (trees.get(id(m)) or walk(m)).modules)
            parts.discard(())
        return tuple(p.shape for _, p in tree.params) in parts

    frozen: list[nn.Module] = []
    copied: dict[int, str] = {}
    idle: dict[str, list[str]] = {}
    unheld: list[str] = []
    for r, tree in candidates:
        name = _held_name(r) or w.names_seen.get(id(r))
        what = f"{name} ({class_name(r)})" if name else class_name(r)
        # an optimizer retired with every parameter it holds frozen (`Watch._is_retired`) holds
        # them no more than none does: the model is judged as one frozen from the start
        opt = next((holders[id(p)] for _, p in tree.params if id(p) in holders and id(p) not in w.retired_params),
                   None)
        if opt is not None:
            idle.setdefault(opt, []).append(what)
        elif any(p.requires_grad or id(p) in w.wanted for _, p in tree.params):
            if any(p.grad is not None for _, p in tree.params):
                # the backward reached it and nothing applies that: FZ503, judged with the others
                frozen.append(r)
                trees[id(r)] = tree
            elif not copies(tree) and not _written(w, [p for _, p in tree.params]):
                # neither a copy of a trained model (an EMA, a reference) nor updated: it trains
                # nothing; its statistics moving in train mode is the distillation teacher's
                # forgotten eval() (FZ502), else it is only named
                moved = _stats_moved(w, tree)
                if moved:
                    w.idle_drift.append((what, moved))
                else:
                    unheld.append(what)
        elif any(rewrites_in_train(m) for _, m in tree.modules) or _statistics_moved(w, tree):
            # judged only where something can go wrong unseen: buffers its forward rewrites in
            # train mode, or floating buffers that moved in the window whatever its layers' class
            # (a norm of the script's own calling F.batch_norm); a frozen model's parameters
            # change only through code the script runs on purpose
            frozen.append(r)
            trees[id(r)] = tree
            if copies(tree):
                copied[id(r)] = "the trained model (an EMA)"
            elif copies_part(tree):
                copied[id(r)] = "a part of the trained model (an EMA of it, a momentum encoder)"
    notes = [f"{listed(names)} ran, not judged: the {opt} that holds {'its' if len(names) == 1 else 'their'} "
             f"parameters did not step in the window (raise the number of steps to take it in)"
             for opt, names in idle.items()]
    if unheld:
        notes.append(f"{listed(unheld)} ran with trainable parameters that no optimizer holds, not judged (freeze "
                     f"{'it' if len(unheld) == 1 else 'them'} with requires_grad_(False) if "
                     f"{'it does' if len(unheld) == 1 else 'they do'} not train, or give "
                     f"{'it' if len(unheld) == 1 else 'them'} an optimizer)")
    return frozen, notes, copied


def ran_beside(w: "Watch", models: list[nn.Module], trees: dict[int, Tree]) -> list[tuple[str, nn.Module]]:
    """The models that ran beside the judged ones and are not judged themselves (a frozen DPO or KL
    reference without norm layers, a model only named in a note), with the names the script gives
    them (a variable, or an attribute of the training code's `self`): an expectation that names one
    (`--expect-frozen ref`) is judged on it. Those without such a name are left out: no pattern
    can mean them."""
    inside: set[int] = set()
    for m in models:
        inside.update(id(x) for _, x in (trees.get(id(m)) or walk(m)).modules)
    out = []
    # with those that ran only before the window (reference log-probs computed once before training)
    roots = [*w.roots.values(), *w.probe_roots.values()]
    for r in _lifted(_outermost([r for r in roots if id(r) not in inside]), inside, held_ids(w)):
        name = _held_name(r) or w.names_seen.get(id(r))
        if name and next(r.parameters(), None) is not None:
            out.append((name, r))
    return out


def rewrites_in_train(m: nn.Module) -> bool:
    """Whether a forward of `m` in train mode rewrites its buffers, so that a frozen model left in
    train mode computes something else from one forward to the next: a norm layer's running
    statistics, spectral norm's power-iteration vectors u and v (torch.nn.utils.parametrizations'
    `_SpectralNorm`, or the `SpectralNorm` pre-hook of the older torch.nn.utils.spectral_norm)."""
    if isinstance(m, _NormBase):
        return m.track_running_stats
    if _SpectralNorm is not None and isinstance(m, _SpectralNorm):
        return True
    return bool(m._forward_pre_hooks) and any(isinstance(h, SpectralNorm) for h in m._forward_pre_hooks.values())


def _stats_moved(w: "Watch", tree: Tree) -> list[tuple[str, nn.Module, float]]:
    """The norm layers of a model that trains nothing that ran in train mode and whose running
    statistics moved from their copies at the window's start: (name, layer, largest change)."""
    out = []
    for name, m in tree.modules:
        if not isinstance(m, _NormBase) or not m.track_running_stats or not w.modes_before.get(id(m), m.training):
            continue
        pairs = [(b, w.saved(b)) for b in (m.running_mean, m.running_var) if b is not None]
        deltas = [float((b.double() - was.double()).abs().max()) for b, was in pairs
                  if was is not None and was.shape == b.shape and b.numel() and b.device.type != "meta"
                  and not torch.equal(b, was)]
        if deltas:
            out.append((name, m, max(deltas)))
    return out


_STATISTIC = re.compile(r"running|moving|mean|var|std|avg|average|stat", re.I)


def _statistics_moved(w: "Watch", tree: Tree) -> bool:
    """Any floating-point buffer of the model moved from its copy at the window's start: running
    statistics kept by a module torch does not know as a norm layer. An integer one (a step
    counter, position ids) is no statistic, as FZ502 reads buffers (`findings._counter`); nor is a
    float one named as none is (a rotary cache, a temperature annealed in place, a frozen
    reference model's `inv_freq` rewritten for a longer sequence): a norm's statistics are named
    for what they hold (running_mean, moving_variance, ema_std, ...)."""
    for name, b in tree.buffers:
        if not _STATISTIC.search(name.rpartition(".")[2]):
            continue
        if not b.is_floating_point() or not b.numel() or b.device.type == "meta":
            continue
        was = w.saved(b)
        if was is not None and was.shape == b.shape and not torch.equal(b, was):
            return True
    return False


def _written(w: "Watch", params: list[torch.Tensor]) -> bool:
    """Any of these parameters changed in the window (they are fingerprinted again here)."""
    then = [w.before.get(id(p)) for p in params]
    return any(b is None or a != b[1] for a, b in zip(Fingerprinter(params)(just_built=True), then))


def in_part(w: "Watch", model: nn.Module, patterns: list[str]) -> list[str]:
    """Expectations on a model found above its forwarded parts (`_enclosing`) when one of those
    parts holds every parameter the optimizers hold (a student beside its teacher in the
    LightningModule that holds both): a pattern that names nothing in the model, but does in
    that part, is read as the part's author wrote it (`layer1` -> `student.layer1`)."""
    if not patterns or id(model) in w.roots:
        return patterns
    held = held_ids(w)
    tree = walk(model)
    where = {id(m): n for n, m in tree.modules}
    parts = [where[id(r)] for r in w.roots.values() if where.get(id(r)) and held <= {id(p) for p in r.parameters()}]
    if len(parts) != 1:
        return patterns
    names = [n for n, _ in tree.modules] + [n for n, _ in tree.params]

    def named(pattern: str) -> bool:
        return any(matches(pattern, n) for n in names)

    return [p if named(p) or not named(join_name(parts[0], p)) else join_name(parts[0], p) for p in patterns]


def within(pattern: str, label: str, labels: list[str]) -> str:
    """An expectation as the report names it when it labels each model: the trained model's
    names as its author knows them (`backbone` -> `ResNet0.backbone`); a pattern that starts
    with a label already says which model it means."""
    if any(pattern == x or pattern.startswith(x + ".") for x in labels if x):
        return pattern
    return join_name(label, pattern)


def unwrapped(model: nn.Module, ddp: type | None) -> nn.Module:
    """The model as its author named its parts: inside DDP's `.module`, torch.compile's `_orig_mod`,
    Fabric's `_forward_module` and opacus's `_module` (names without their prefixes; the same tensors)."""
    while True:
        if ddp is not None and isinstance(model, ddp):
            model = model.module
        elif type(model).__name__ == "OptimizedModule" and isinstance(model._modules.get("_orig_mod"), nn.Module):
            model = model._modules["_orig_mod"]
        elif type(model).__name__ == "_FabricModule" and isinstance(model._modules.get("_forward_module"), nn.Module):
            model = model._modules["_forward_module"]  # Lightning Fabric's setup(): `_original_module` is the same
        elif any(c.__name__ == "AbstractGradSampleModule" for c in type(model).__mro__) \
                and isinstance(model._modules.get("_module"), nn.Module):
            model = model._modules["_module"]  # opacus's make_private(): GradSampleModule and its kinds
        elif (inner := _loss_around(model)) is not None:
            model = inner
        else:
            return model


def _loss_around(model: nn.Module) -> nn.Module | None:
    """A loss module that holds the model and calls it (sentence-transformers' losses, `fit()`
    calls the loss): the one child that holds every parameter, where the loss holds none of its own."""
    if not (type(model).__name__.endswith("Loss") or isinstance(model, nn.modules.loss._Loss)) \
            or model._parameters or model._buffers:
        return None
    holding = [c for c in model.children() if next(c.parameters(), None) is not None]
    return holding[0] if len(holding) == 1 else None


def _held_modules() -> Iterator[tuple[str, nn.Module]]:
    """Each module the running code holds, with the name it holds it by (`nets`, `trainer.model`):
    the variables of the frames on the stack outside freezelint and torch, the attributes of those
    that are not modules, then the running script's top level, torch's containers included."""
    seen: set[int] = set()
    for scope in user_scopes(sys._getframe(1)):
        for k, v in list(scope.items()):
            if k == "self" or k.startswith("_") or issubclass(type(v), (type, types.ModuleType, types.FunctionType)):
                continue
            if issubclass(type(v), nn.Module):
                found = [(k, v)]
            else:
                try:
                    attrs = object.__getattribute__(v, "__dict__")  # never a class's own __getattr__
                except Exception:  # noqa: BLE001 — no instance dictionary
                    continue
                found = [(f"{k}.{a}", x) for a, x in list(attrs.items()) if type(attrs) is dict
                         and not a.startswith("_") and issubclass(type(x), nn.Module)]
            for name, m in found:
                if id(m) not in seen:
                    seen.add(id(m))
                    yield name, m


def held_by(models: list[nn.Module]) -> tuple[str, dict[int, str]] | None:
    """The smallest module the running code holds above every one of several models judged apart (the
    parts of an `nn.ModuleDict` each trained as a model of its own, a GAN's G and D in one module):
    its name in the code and each model's name inside it (`body`, `aux`, `head`), by id. None when
    no module the code holds has them all, or when two of the smallest size do."""
    if len(models) < 2:
        return None
    ids = {id(m) for m in models}
    found = []
    for name, holder in _held_modules():
        if id(holder) in ids:
            continue
        names = list(holder.named_modules())
        inside = {id(m): n for n, m in names if id(m) in ids and n}
        if len(inside) == len(ids):
            found.append((len(names), name, inside))
    smallest = [f for f in found if f[0] == min(f[0] for f in found)]
    if len(smallest) != 1:  # none, or two alike neither inside the other: which names them is not plain
        return None
    _, name, inside = smallest[0]
    return name, inside


def model_labels(models: list[nn.Module], inners: list[nn.Module], seen: dict[int, str] | None = None,
                 holder: tuple[str, dict[int, str]] | None = None) -> list[str]:
    """Name prefixes: none for one model; for several, the names the running script gives them
    (`teacher`, `G`; or, the frames gone, as noted while it ran: `seen`), else their names in the
    module that holds them all (`holder`, from held_by: `aux` of `nets["aux"]`), else the attributes
    of the training code's `self` that hold them (setfit's SetFitModel, no module, runs its own loop
    over `self.model_body` and `self.model_head`), else their classes as their authors wrote them
    (inside DDP or torch.compile), numbered when repeated."""
    if len(models) == 1:
        return [""]
    seen = seen or {}
    inside = holder[1] if holder is not None else {}
    named = [_script_name(m) or _script_name(i) or seen.get(id(m)) or seen.get(id(i)) or inside.get(id(m))
             or inside.get(id(i)) or _held_name(m) or _held_name(i) for m, i in zip(models, inners)]
    kinds = [n or class_name(i) for n, i in zip(named, inners)]
    return [k if kinds.count(k) == 1 else f"{k}{kinds[:i].count(k)}" for i, k in enumerate(kinds)]


def join_name(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix and name else (prefix or name)
