"""Turn what the audit observed into findings, in the catalogue's vocabulary.

Facts behind the messages (PYTORCH_FACTS.md): a frozen parameter moves at `step()` only when
its `.grad` is a tensor and the optimizer has momentum, moving averages or weight decay (or the
stale grad is non-zero); BatchNorm statistics move in train mode whatever requires_grad says.
"""

from __future__ import annotations

import dataclasses
import math
import re
import sys
from fnmatch import fnmatchcase

from collections import Counter, defaultdict
from typing import Any, Callable, Iterable, Mapping, Sequence

import torch
from torch import nn

from freezelint.peft_heads import HEAD_ATTRS, TASK_HEAD, TASK_TYPE
from freezelint.runtime import fastai_steps
from freezelint.runtime.errors import AuditUsageError
from freezelint.runtime.names import as_written, matches, nearest
from freezelint.runtime.report import AuditFinding, BufferRecord, ModuleRecord, ParamRecord
from freezelint.runtime.tree import class_name
from freezelint.spelling import FOREIGN, is_misspelling

_SHOW = 3  # names listed before "and N more"


def listed(names: list[str], show: int = _SHOW) -> str:
    """`a, b, c and 4 more`: how reports and notes list names (`show` of them)."""
    shown = ", ".join(names[:show])
    return shown + (f" and {len(names) - show} more" if len(names) > show else "")



def _label(name: str) -> str:
    return name or "(model)"


def _common(names: list[str]) -> str:
    """A parameter's own name, or the module that holds all of them."""
    if len(names) == 1:
        return names[0]
    parts = [n.split(".")[:-1] for n in names]
    prefix = []
    for level in zip(*parts):
        if len(set(level)) != 1:
            break
        prefix.append(level[0])
    return ".".join(prefix) or "(model)"


# Attribute names seen and found to be neither a misspelling of requires_grad nor a foreign word:
# a model's modules share a few dozen (training, in_features, ...), so most modules' attributes
# are all known after the first and are passed over by one subset test. Bounded.
_ORDINARY: set[str] = set()
_ORDINARY_KEPT = 4096


def _odd(attrs: dict[str, Any]) -> list[str]:
    """The attribute names (sorted) that FZ103 reports: misspellings of requires_grad, foreign words."""
    if attrs.keys() <= _ORDINARY:  # no set built: the common case
        return []
    unknown = attrs.keys() - _ORDINARY
    odd = sorted(a for a in unknown if is_misspelling(a) or a in FOREIGN)
    if len(_ORDINARY) < _ORDINARY_KEPT:
        _ORDINARY.update(unknown.difference(odd))
    return odd


def freeze_attrs(obj: nn.Module | torch.Tensor) -> list[str]:
    """The attributes set on a module or a parameter that live_findings reports as FZ101/FZ102/FZ103
    (a parameter's `requires_grad` is torch's own, never in its __dict__); none, the common case,
    after two lookups and one subset test."""
    attrs = obj.__dict__
    if _plain(attrs):
        return []
    return [a for a in ("requires_grad_", "requires_grad") if a in attrs] + _odd(attrs)


def _plain(attrs: dict[str, Any]) -> bool:
    """No attribute live findings report: two lookups and one subset test (the two names are
    looked up apart: `_ORDINARY` learns every name `_odd` passes, these two included)."""
    return "requires_grad" not in attrs and "requires_grad_" not in attrs and attrs.keys() <= _ORDINARY


def mode_shadowed(m: nn.Module) -> list[str]:
    """`train` / `eval` overwritten on this module with a value (`model.head.train = False`, FZ113):
    `m.train()`, and a parent's train() or eval(), which calls it on every child, raise TypeError.
    A callable there is a monkeypatch, not the mistake."""
    attrs = m.__dict__
    return [a for a in ("train", "eval") if a in attrs and not callable(attrs[a])]


def _mode_said(m: nn.Module, attr: str) -> str:
    """What an overwritten `train` / `eval` does: `train` breaks every train() and eval() that reaches
    the module (a parent's too); `eval` only the module's own eval()."""
    broken = ("`.train()` and `.eval()` on it, or on a module holding it, raise TypeError" if attr == "train"
              else "`.eval()` on it raises TypeError")
    return (f"`{attr}` on this {class_name(m)} was overwritten with {vars(m)[attr]!r} instead of being called, so "
            f"its mode stayed as it was, and {broken}")


def _mode_fix(attr: str, value: Any) -> str:
    """What to write instead of `m.train = v` / `m.eval = v`."""
    call = f"`.train({value!r})`" if attr == "train" and isinstance(value, bool) else \
        "`.eval()` or `.train()`"
    return f"call {call} instead and delete the attribute (`del module.{attr}`)"


# FZ501's cause where zero_grad keeps zeroed grads: the watch's report rewords it for opacus and fastai
KEPT_BY_ZERO_GRAD = "zero_grad(set_to_none=False) keeps such grads alive"


def live_findings(modules: list[tuple[str, nn.Module]], params: list[tuple[str, nn.Parameter]]) -> list[AuditFinding]:
    """FZ101/FZ102/FZ103 and FZ113, visible on the live objects whatever the steps do (the model's
    named modules and parameters)."""
    out: list[AuditFinding] = []
    for name, m in modules:
        attrs = vars(m)
        if "train" in attrs or "eval" in attrs:  # rare; asked before _plain, whose names may include them
            out.extend(AuditFinding("FZ113", _label(name), _mode_said(m, attr), _mode_fix(attr, attrs[attr]))
                       for attr in mode_shadowed(m))
        if _plain(attrs):
            continue  # the common case
        if "requires_grad_" in attrs:
            out.append(AuditFinding("FZ101", _label(name), f"`requires_grad_` on this {class_name(m)} was "
                                    f"overwritten with {attrs['requires_grad_']!r}, so nothing was frozen",
                                    f"call `.requires_grad_({attrs['requires_grad_']!r})` instead and delete "
                                    f"the attribute (`del module.requires_grad_`)"))
        if "requires_grad" in attrs:
            out.append(AuditFinding("FZ102", _label(name), f"this {class_name(m)} has a plain `requires_grad` "
                                    f"attribute ({attrs['requires_grad']!r}) that autograd never reads",
                                    f"call `.requires_grad_({attrs['requires_grad']!r})` to set it on every "
                                    f"parameter"))
        for attr in _odd(attrs):
            out.append(AuditFinding("FZ103", _label(name), f"attribute `{attr}` was set on this "
                                    f"{class_name(m)}; it is not `requires_grad` and freezes nothing",
                                    "use `.requires_grad_(value)`"))
    out.extend(_peft_heads(modules))
    out.extend(_peft_all_frozen(modules, params))
    for name, p in params:
        attrs = getattr(p, "__dict__", {})
        if not attrs:
            continue  # the common case: nothing set on the parameter
        if "requires_grad_" in attrs:
            out.append(AuditFinding("FZ101", name, f"`requires_grad_` on this Parameter was overwritten with "
                                    f"{attrs['requires_grad_']!r}; requires_grad is still {p.requires_grad}",
                                    "call `p.requires_grad_(value)` and `del p.requires_grad_`"))
        for attr in _odd(attrs):
            out.append(AuditFinding("FZ103", name, f"attribute `{attr}` was set on this Parameter; "
                                    f"requires_grad is still {p.requires_grad}", "set `p.requires_grad`"))
    return out


def _peft_heads(modules: list[tuple[str, nn.Module]]) -> list[AuditFinding]:
    """FZ111 on the live model: a transformers task model holding PEFT's tuner layers, whose head
    is frozen whole and is no ModulesToSaveWrapper, while the adapters train: get_peft_model was
    given neither task_type nor modules_to_save, and the head keeps its initialisation. (The PEFT
    wrapper itself is not looked for: audit() folds it away as a wrapper.)"""
    out: list[AuditFinding] = []
    names: dict[int, str] = {}  # built at the first task model: most models hold none
    for _, base in modules:
        # the module's test first: a string prefix, where the pattern is a search of the class name
        if not type(base).__module__.startswith("transformers."):
            continue
        task = TASK_HEAD.search(type(base).__name__)
        if task is None:
            continue
        # get_peft_model put its tuner layers (peft.tuners...) inside the task model
        if not any(type(sub).__module__.startswith("peft.") for sub in base.modules()):
            continue
        if not any(p.requires_grad for p in base.parameters()):
            continue  # nothing trains (inference)
        names = names or {id(m): n for n, m in modules}
        for attr in HEAD_ATTRS:
            head = getattr(base, attr, None)
            if not isinstance(head, nn.Module):
                continue
            if type(head).__name__ == "ModulesToSaveWrapper":
                # PEFT trains a copy of the head (task_type or modules_to_save): unless a freeze after
                # get_peft_model caught the copy too (`requires_grad = "lora" in name`)
                copies = getattr(head, "modules_to_save", None)
                held = list(copies.parameters()) if isinstance(copies, nn.Module) else []
                if held and not any(p.requires_grad for p in held):
                    out.append(AuditFinding(
                        "FZ111", _label(names.get(id(copies), f"{attr}.modules_to_save")),
                        f"`{attr}` is the head {type(base).__name__} puts on its pretrained body; PEFT wraps it to "
                        f"train a copy (modules_to_save), but that copy is frozen while the adapters train: a freeze "
                        f"after get_peft_model caught it (a loop keeping only names with \"lora\", say), so the "
                        f"head keeps its initialisation, random unless the checkpoint had one",
                        'leave the copy trainable: test `"lora" in name or "modules_to_save" in name` (not the '
                        "head's own name, which would wake its frozen original_module too), or drop the freeze "
                        "(get_peft_model already froze everything else)"))
                continue
            if not any(True for _ in head.parameters()) or any(p.requires_grad for p in head.parameters()):
                continue
            where = names.get(id(head), attr)
            task_type = TASK_TYPE.get(task.group(1))
            out.append(AuditFinding(
                "FZ111", _label(where),
                f"`{attr}` is the head {type(base).__name__} puts on its pretrained body, and get_peft_model left "
                f"it frozen while the adapters train (the PEFT config set neither task_type nor modules_to_save): "
                f"it keeps its initialisation, random unless the checkpoint had one",
                (f'pass task_type="{task_type}" (PEFT then trains a copy of the head) or ' if task_type else "pass ")
                + f'modules_to_save=["{attr}"] in the PEFT config'))
    return out


def _peft_all_frozen(modules: list[tuple[str, nn.Module]], params: list[tuple[str, nn.Parameter]]) -> list[AuditFinding]:
    """FZ111 on the live model: a model holding PEFT's adapters in which no parameter trains, the
    adapters included, though an optimizer steps it (TRL's trainers run such a model: their input
    grads and gradient checkpointing give its loss a graph, and the Trainer's optimizer holds
    nothing)."""
    if not params or any(p.requires_grad for _, p in params):
        return []  # the common case: something trains
    layer = tuner_layer()
    tuned = [n for n, m in modules if layer is not None and isinstance(m, layer)]
    if not tuned:
        return []
    # the outermost module above the first adapter: the PEFT model as the script holds it
    top, held = next((n, m) for n, m in modules if not n or tuned[0].startswith(n + ".") or n == tuned[0])
    cause, advice = adapters_frozen_why([m for _, m in modules])
    return [AuditFinding(
        "FZ111", _label(top),
        f"{class_name(held)} holds PEFT adapters ({len(tuned)} layer{'s' * (len(tuned) != 1)}: {listed(tuned)}), "
        f"but every parameter of it is frozen, the adapters included, so the optimizer steps train nothing ({cause})",
        advice)]


def tuner_layer() -> type | None:
    """PEFT's base class of the layers holding adapters (a LoRA Linear), where peft is imported."""
    return getattr(sys.modules.get("peft.tuners.tuners_utils"), "BaseTunerLayer", None)


def loaded_for_inference(modules: list[nn.Module]) -> bool:
    """Whether one of PEFT's adapters in `modules` was loaded for inference (its config's
    inference_mode: PeftModel.from_pretrained or load_adapter without is_trainable=True)."""
    # PeftModel, its tuner and a model given add_adapter hold the configs by adapter name
    configs = [getattr(m, "peft_config", None) for m in modules]
    return any(getattr(c, "inference_mode", False) for d in configs if isinstance(d, dict) for c in d.values())


def adapters_frozen_why(modules: list[nn.Module]) -> tuple[str, str]:
    """Why PEFT's adapters in `modules` are frozen, and the fix: PeftModel.from_pretrained and
    load_adapter load an adapter frozen unless is_trainable=True (its config's inference_mode);
    otherwise a freeze after get_peft_model or add_adapter caught them."""
    if loaded_for_inference(modules):
        return ("its adapters were loaded for inference: PeftModel.from_pretrained and load_adapter load them "
                "frozen unless is_trainable=True",
                "load the adapter with `PeftModel.from_pretrained(model, path, is_trainable=True)` "
                "(`load_adapter(path, is_trainable=True)`), before the optimizer is built")
    return ("a freeze after get_peft_model or add_adapter caught the adapters too",
            "freeze the base model before get_peft_model or add_adapter (they leave only the adapters "
            "trainable), or unfreeze the adapters before the optimizer is built")


def untouched_norms(named_modules: list[tuple[str, nn.Module]], modules: list[ModuleRecord]) -> list[str]:
    """A note on norm layers kept in eval() while they still hold the statistics they were created
    with (num_batches_tracked 0), in a model whose other norm layers hold learned ones: layers added
    to a pretrained backbone and frozen by a blanket "every BatchNorm to eval()" before they ever saw
    data normalise with mean 0 and variance 1 for good. In a model whose norm layers all start fresh
    (weights=None, a test) nothing tells a mistake apart, so nothing is said while none has learned;
    once some have trained in the window (a layer unfrozen), it reads as a checkpoint without their
    statistics does, so the note opens by saying it is no finding and why it shows there."""
    from torch.nn.modules.batchnorm import _NormBase

    mode = {m.name: m.mode for m in modules}
    norms, tracked = [], []  # the counter read once per layer (a buffer goes through Module.__getattr__)
    for n, m in named_modules:
        if isinstance(m, _NormBase) and m.track_running_stats:
            t = getattr(m, "num_batches_tracked", None)
            if isinstance(t, torch.Tensor) and not t.is_meta:
                norms.append((n, m))
                tracked.append(t)
    if len(norms) < 2:
        return []
    try:  # one transfer for all of them
        counts = torch.stack([t if t.dim() == 0 else t.reshape(()) for t in tracked]).tolist()  # 0-d: no view
    except (RuntimeError, TypeError):  # sharded or otherwise unreadable here
        return []
    fresh = [(n, m) for (n, m), c in zip(norms, counts) if c == 0 and mode.get(n) == "eval"]
    if not fresh or not any(c > 0 for c in counts):
        return []
    # still at their initial values, not statistics loaded from a checkpoint without the count
    with torch.no_grad():
        flags = torch.stack([(m.running_mean.abs().sum() + (m.running_var - 1).abs().sum()) == 0
                             if m.running_mean is not None and m.running_var is not None
                             else m.num_batches_tracked.new_zeros((), dtype=torch.bool)
                             for _, m in fresh]).tolist()
    fresh = [_label(n) for (n, _), f in zip(fresh, flags) if f]
    if not fresh:
        return []
    one = len(fresh) == 1
    it, they = ("it", "it") if one else ("they", "them")
    # a model built with weights=None (the examples, a test) shows the same: said first, as no finding
    return [f"{listed(fresh)} {'is' if one else 'are'} in eval() with the statistics {it} {'was' if one else 'were'} "
            f"created with (num_batches_tracked 0: mean 0, variance 1), while the model's other norm layers hold "
            f"learned ones. Not a finding: a model built without pretrained weights (weights=None) never loaded "
            f"statistics, so this is expected there. With a real checkpoint, {it} {'was' if one else 'were'} frozen "
            f"before {it} saw any data (not in the checkpoint, or added after it) and "
            f"{'normalises' if one else 'normalise'} nothing: leave {they} in train mode until {it} "
            f"{'has' if one else 'have'} seen data, or exclude {they} from the BatchNorm freeze"]


Optimizers = torch.optim.Optimizer | Sequence[torch.optim.Optimizer] | Mapping[str, torch.optim.Optimizer]


def named_optimizers(optimizer: Any) -> list[tuple[str, torch.optim.Optimizer]]:
    """One optimizer, a list or a dict of named ones, as (name, optimizer) pairs. A single one is
    named by its type; a list's by position (`optimizers[1]`); a dict's by key. fastai's own
    Optimizer is read through its view (fastai_steps.as_torch)."""
    optimizer = fastai_steps.of(optimizer)
    if isinstance(optimizer, torch.optim.Optimizer):
        return [(type(optimizer).__name__, optimizer)]
    if isinstance(optimizer, Mapping):
        pairs = [(str(k), fastai_steps.of(v)) for k, v in optimizer.items()]
    elif isinstance(optimizer, (list, tuple)):
        pairs = [(f"optimizers[{i}]", fastai_steps.of(v)) for i, v in enumerate(optimizer)]
    else:
        raise AuditUsageError(f"audit() needs a torch.optim.Optimizer (or fastai's own), a list or a dict of "
                              f"them, got {type(optimizer).__name__}{_wrapped(optimizer)}")
    if not pairs:
        raise AuditUsageError("optimizer is empty: pass the optimizer(s) your training loop steps")
    for name, o in pairs:
        if not isinstance(o, torch.optim.Optimizer):
            raise AuditUsageError(f"optimizer {name} is a {type(o).__name__}, not a torch.optim.Optimizer"
                                  f"{_wrapped(o)}")
    if len({id(o) for _, o in pairs}) != len(pairs):
        raise AuditUsageError("the same optimizer was passed twice")
    return pairs


def _wrapped(wrapper: Any) -> str:
    """For a framework's optimizer wrapper that is no torch optimizer (fastai's and mmengine's
    OptimWrapper), the torch optimizer it holds, to pass instead; '' if it holds none."""
    held = next(((k, v) for k, v in getattr(wrapper, "__dict__", {}).items()
                 if isinstance(v, torch.optim.Optimizer)), None)
    if held is None:
        return ""
    return f"; it wraps a torch optimizer, {type(held[1]).__name__}, as .{held[0]}: pass that one instead"


def holders(optimizers: Any) -> dict[int, tuple[str, int]]:
    """Which optimizer holds which parameter: id(param) -> (optimizer name, param group index).
    A parameter is judged against the optimizer that holds it (the first, if several do)."""
    out: dict[int, tuple[str, int]] = {}
    for name, opt in named_optimizers(optimizers):
        for gi, group in enumerate(opt.param_groups):
            for p in group["params"]:
                out.setdefault(id(p), (name, gi))
    return out


def _hyper(optimizer: torch.optim.Optimizer, group: dict, name: str | None = None) -> str:
    parts = [type(optimizer).__name__ if name in (None, type(optimizer).__name__) else
             f"{name} ({type(optimizer).__name__})"]
    for key in ("lr", "momentum", "weight_decay", "betas", "nesterov"):
        if key in group and group[key] not in (0, 0.0, False, None):
            v = group[key]
            if isinstance(v, torch.Tensor):
                v = v.item()
            parts.append(f"{key}={_num(v)}")
    return " ".join(parts)


def _num(v: Any) -> str:
    """A hyperparameter as people write it: a scheduler's 0.0022500000000000003 as 0.00225."""
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, tuple):
        return "(" + ", ".join(_num(x) for x in v) + ")"
    return str(v)


def _is_stateful(optimizer: torch.optim.Optimizer, group: dict) -> bool:
    return bool(group.get("momentum") or group.get("weight_decay") or "betas" in group
                or type(optimizer).__name__ in ("Adagrad", "Adadelta", "RMSprop", "Rprop"))


def lr_is_zero(lr: Any) -> bool:
    """A learning rate of 0 (a float, or a tensor as torch accepts)."""
    try:
        return lr is not None and float(lr) == 0
    except (TypeError, ValueError, RuntimeError):
        return False


def _widened_glob(pattern: str, params: list[ParamRecord]) -> str | None:
    """For a glob that matched no whole name (`lora_*`, `blocks.[2-5]`), the nearest widening that
    does, as the message shows it: "`*lora_*` matches 4 parameters (0.lora_A.weight, ...)"."""
    if not any(c in pattern for c in "*?["):
        return None
    for wider in (f"*{pattern}", f"{pattern}.*", f"*{pattern}.*", f"*.{pattern}"):
        if wider.startswith("**") or wider == pattern:
            continue
        hit = [p.name for p in params if any(fnmatchcase(n, wider) for n in (p.name, *p.aliases))]
        if hit:
            return f"`{wider}` matches {len(hit)} parameter{'s' if len(hit) != 1 else ''} ({listed(hit)})"
    return None


# pronouns and verbs for a finding on one parameter, and on several
# "{v}": a verb's ending after "{they}" ("{they} drift{v}")
_ONE = {"they": "it", "them": "it", "their": "its", "s": "", "were": "was", "are": "is", "v": "s"}
_MANY = {"they": "they", "them": "them", "their": "their", "s": "s", "were": "were", "are": "are", "v": ""}


def worded(text: str, one: bool) -> str:
    """`text` with its `{they}`, `{them}`, `{their}`, `{s}`, `{were}`, `{are}` and `{v}` worded for one
    item or several. Plain replacement, not str.format: names already in the text may hold braces."""
    for key, word in (_ONE if one else _MANY).items():
        text = text.replace("{" + key + "}", word)
    return text


def _several(names: list[str]) -> list[str]:
    """A finding's `names`: every target, when it stands for several (JSON readers get them all)."""
    return list(names) if len(names) > 1 else []


def mark_zero_grads(records: list[ParamRecord], all_zero: Callable[[list[int]], list[bool]],
                    readable: Callable[[int], bool] = lambda i: True,
                    never_graded: Callable[[list[int]], list[bool]] | None = None) -> None:
    """Records of trainable parameters whose grad counted as "nonzero" unread get "zero" where the
    last step's grad was all zeros (`all_zero`, asked of record indices): the unchanged ones (no
    gradient reached them: FZ505), then, where any was, the changed ones in a module beside theirs
    (LoRA's lora_A beside its lora_B, behind a frozen all-zero layer, moved by weight decay or
    momentum alone). Only those are asked: a fine-tune that trains reads nothing. `never_graded`
    (asked of changed ones without a gradient hook, and only those its caller can tell for)
    says which no step gave a nonzero gradient (an all-zero grad and AdamW first moment): moved by
    weight decay alone, they get "zero" and `grad_zeroed` (a loop that zeroes their grad)."""
    def ask(pick: list[int]) -> bool:
        zero = all_zero(pick) if pick else []
        for i, z in zip(pick, zero):
            if z:
                records[i].grad = "zero"
        return any(zero)

    def candidate(i: int, r: ParamRecord) -> bool:
        return r.requires_grad and r.group is not None and r.grad == "nonzero" and readable(i)

    found = ask([i for i, r in enumerate(records) if not r.changed and candidate(i, r)])
    # a gradient hook may return zeros (a freeze by hook), which weight decay or momentum moves past
    ask([i for i, r in enumerate(records) if r.changed and r.grad_hook and candidate(i, r)])
    # a loop that zeroes the grad after backward (`p.grad.zero_()`, a "freeze"): decoupled weight
    # decay moves what no step gave a gradient; a head not picked at the closing step (its grad
    # zeroed and kept, set_to_none=False) had one earlier, which its optimizer state keeps
    pick = [i for i, r in enumerate(records) if r.changed and not r.grad_hook and candidate(i, r)]
    if never_graded is not None and pick:
        for i, z in zip(pick, never_graded(pick)):
            if z:
                records[i].grad, records[i].grad_zeroed = "zero", True
    if not found:
        return
    parents = {r.module.rpartition(".")[0] for r in records if r.grad == "zero" and not r.changed}
    ask([i for i, r in enumerate(records) if r.changed and r.module.rpartition(".")[0] in parents and candidate(i, r)])


# Frozen elements read at most to look for all-zero layers (only when nothing trained)
_ZERO_SCAN = 1 << 27


def zero_blockers(model: nn.Module, names: set[str], ran: frozenset[str] | None) -> list[str]:
    """Frozen leaf modules of `model` that ran (`ran`; None: any) whose parameters are all exactly
    zero, shown by name; only names the report knows (`names`). Read only where nothing trained."""
    found = [(n, ps) for n, m in model.named_modules()
             if n and n in names and (ran is None or n in ran) and not next(m.children(), None)
             and (ps := list(m.parameters(recurse=False))) and not any(p.requires_grad for p in ps)
             and all(p.layout == torch.strided and p.device.type != "meta" for p in ps)]
    if not found or sum(p.numel() for _, ps in found for p in ps) > _ZERO_SCAN:
        return []
    with torch.no_grad():  # a module's parameters share a device; modules may not
        return [_label(n) for n, ps in found if not int(sum(torch.count_nonzero(p) for p in ps))]


def step_findings(model: nn.Module, optimizer: Optimizers, params: list[ParamRecord],
                  buffers: list[BufferRecord], modules: list[ModuleRecord], modes_before: dict[str, bool],
                  steps: int, set_to_none: bool, optimizer_has_foreign: bool,
                  call_train: bool, grads_from_ddp: frozenset[str] = frozenset(),
                  updated_elsewhere: bool = False, kept_stats: frozenset[str] = frozenset(),
                  unfrozen: frozenset[str] | None = None,
                  undone_by: Mapping[str, str] | None = None, among: int = 1,
                  refrozen: frozenset[str] = frozenset(), frozen_before: frozenset[str] = frozenset(),
                  notes: list[str] | None = None,
                  idle: frozenset[str] = frozenset(), ran: frozenset[str] | None = None,
                  substituted: frozenset[str] = frozenset(), toggled: Mapping[str, list[str]] | None = None,
                  live: Sequence[tuple[str, nn.Module]] = (),
                  sites: Mapping[str, str] | None = None,
                  written: frozenset[str] = frozenset(),
                  lr_kept: Mapping[tuple[str, int], str] | None = None,
                  stayed_eval: Mapping[str, bool] | None = None, exact: bool = False) -> list[AuditFinding]:
    """Findings from one process's steps. `optimizer` is one optimizer, a list or a dict of them;
    each parameter is judged against the one its record names (`ParamRecord.optimizer`, see
    holders()). `grads_from_ddp` names frozen parameters DDP's reducer still all-reduces (frozen
    after the wrap): their grads come from the other ranks. `updated_elsewhere` (the watch: the
    script's own code ran): a parameter in no param group that changed was written by that code
    on purpose (an EMA teacher, a momentum encoder, SWA's AveragedModel), so it is neither FZ501
    (frozen yet changed) nor FZ503 (trainable yet never updated). `kept_stats` names the modules
    with running statistics that were put in eval() on their own, their parameters left to train
    (an eval-only BatchNorm freeze: deeplab's `freeze_bn()`, mmdet's `norm_eval`): a train() that
    undid it is FZ201 too. `unfrozen` names the parameters the watch saw unfrozen inside the
    window (None: not known, as for audit()), so that FZ503 names its cause only when it was seen.
    `undone_by` (the watch) names, by module, the part whose train() call switched it out of eval()
    (`backbone`), so FZ201 names that call; a module absent was switched by model.train().
    `among`: how many optimizers stepped in all, when the caller judges them one call each (the
    watch): with more than one, findings name the optimizer by the name `optimizer` gives it.
    `refrozen` (the watch) names the parameters trained and then frozen inside the window (a
    freeze at an epoch boundary): the optimizer state they hold from their training is no FZ504
    while no grad reaches them (torch's optimizers skip a None grad). `frozen_before` (a later
    window of the watch) names those frozen likewise between the windows: the same verdict, a note
    on the state they hold and how to free it, not FZ504. `notes` receives what was
    seen but is no finding: trainable parameters held still by a param group's lr=0. `idle` (the
    watch) names the modules whose forward never ran while watched, so FZ505 can say that of them;
    `ran` (None: not known) the modules whose own forward ran, so FZ505 on their parameters can say
    that the loss ignores their output rather than list every way a module is left out. A trainable
    parameter's `grad` of "zero" was an all-zero tensor (read for those left unchanged; under
    torch.compile for every one at every step, so a changed one's "zero" held at every step): FZ505
    of its own over two steps or more. `substituted` (the watch) names the model's parameters that
    tensors of no module stood in for (torch.func.functional_call): they took no part, no FZ503.
    `live`: the modules by the records' names, where a message needs more than a record holds (an
    Embedding's max_norm, a BatchNorm's momentum). `sites` (the watch) names, by module, where the
    train() call that switched it out of eval() was made (`in on_train_epoch_start at train.py:14`).
    `written` (the watch) names the frozen parameters whose .grad was another tensor at a later
    step: the loop assigned it (torch.func.grad), not a grad left from before the freeze. `lr_kept`
    (the watch) names, by (optimizer, group index), the param groups whose base lr is 0 under
    schedulers that only multiply it (their class names): such a group never trains, FZ304.
    `stayed_eval` (the watch) names the modules in eval() through the window that no train()
    switched out of it, each with whether its forward ran: statistics of theirs that moved were
    moved by their own forward, FZ502 saying so, not FZ201; by the script, where it did not run.
    `exact` (audit()'s): values were restored bit for bit, so FZ501 does not ask for exact=True."""
    out: list[AuditFinding] = []
    opts = dict(named_optimizers(optimizer))
    first = next(iter(opts))
    among = max(among, len(opts))

    def owner(p: ParamRecord) -> tuple[str, torch.optim.Optimizer, dict]:
        name = p.optimizer if p.optimizer in opts else first
        return name, opts[name], opts[name].param_groups[p.group]

    def hyper(p: ParamRecord) -> str:
        name, opt, group = owner(p)
        return _hyper(opt, group, name if among > 1 else None)
    by_module = {m.name: m for m in modules}
    over = f"over {steps} step{'s' if steps != 1 else ''}"

    # FZ501: frozen but moved — grouped by cause, named by their common module; an Embedding built
    # with max_norm first, by its layer: its own forward rewrote them, under the watch too
    renormed = _renormed(params, live, updated_elsewhere)
    for layer, (m, ps) in renormed.items():
        out.append(_renorm_finding(layer, m, ps, over))
    renorm_ids = {id(p) for _, ps in renormed.values() for p in ps}
    moved_frozen: dict[tuple, list[ParamRecord]] = defaultdict(list)
    for p in params:
        if id(p) in renorm_ids:
            continue
        # Under the watch, one the optimizer did not move (in no group, or with no grad at any step:
        # torch's optimizers skip a None grad) was written by the script's or the model's own code on
        # purpose (an EMA teacher; RepVGG refreshing its deploy copy in train()): no FZ501.
        if not p.requires_grad and p.changed \
                and not (updated_elsewhere and (p.group is None or p.grad == "none" and p.name not in grads_from_ddp
                                                and not _moves_gradless(owner(p)[1]))):
            kind = "ddp" if p.name in grads_from_ddp else "written" if p.name in written else p.grad
            moved_frozen[(p.optimizer, p.group, kind if p.group is not None else None)].append(p)
    for (_o, gi, grad_kind), ps in moved_frozen.items():
        names = [p.name for p in ps]
        deltas = [p.max_abs_delta for p in ps if p.max_abs_delta is not None]
        delta = sized(deltas)  # ` (up to 0.031)`; a parameter gone to inf or NaN said in words
        if gi is not None and grad_kind == "ddp":
            why = (f"{{they}} {{were}} frozen after DistributedDataParallel wrapped the model, so DDP still writes the "
                   f"gradient all-reduced from the other ranks into {{their}} .grad, and the optimizer "
                   f"({hyper(ps[0])}) applied it")
            advice = "freeze before wrapping in DDP (or wrap again), and keep frozen parameters out of the optimizer"
        elif gi is not None and grad_kind == "written":
            why = (f"the loop wrote a new .grad to {{them}} at each step (torch.func.grad and torch.autograd.grad compute "
                   f"one for every tensor they are given, whatever its requires_grad), and the optimizer "
                   f"({hyper(ps[0])}) applied it")
            advice = ("give .grad only to parameters that require grad (differentiate only those), and build the "
                      "optimizer from trainable parameters only")
        elif gi is not None and grad_kind == "none" and _moves_gradless(owner(ps[0])[1]):
            why = _LBFGS_MOVES.format(opt=hyper(ps[0]))
            advice = ("after freezing, build a new LBFGS over the trainable parameters only (`[p for p in "
                      "model.parameters() if p.requires_grad]`): that drops the history too")
        elif gi is not None and grad_kind == "none":
            why = ("{their} .grad was None at every step, so the optimizer skipped {them}: something else wrote to "
                   "{them} (the forward pass, a train() override, a hook)")
            advice = "find what writes to {them}" + _exactly(exact)
        elif gi is not None:
            grad = {"zero": "a zero tensor", "nonzero": "a stale non-zero tensor"}.get(grad_kind, "a tensor")
            why = (f"{{their}} .grad was {grad} left from before {{they}} {{were}} frozen, and the optimizer "
                   f"({hyper(ps[0])}) applied it")
            if not set_to_none:
                why += f"; {KEPT_BY_ZERO_GRAD}"
            advice = ("after freezing, clear the grads (`p.grad = None` or `zero_grad(set_to_none=True)`) and "
                      "build the optimizer from trainable parameters only")
        else:
            why = ("{they} {are} in no param group" + (" of any of the optimizers" if among > 1 else "")
                   + ", so something else wrote to {them} (the forward pass, a hook, or an optimizer the audit "
                   "was not given)")
            advice = "find what writes to {them}" + _exactly(exact)
        single = len(ps) == 1  # worded for one where there is one; grouping compares the words for several
        out.append(AuditFinding("FZ501", _common(names), worded(f"{listed(names)}: requires_grad=False, yet changed "
                                f"{over}{delta}; {why}", single), worded(advice, single), _several(names),
                                advice_many=worded(advice, False)))

    # FZ501 too: stand-ins (torch.func.functional_call's tensors) for every parameter, the frozen ones
    # included, trained beside stand-ins for trainable ones: the freeze stayed on the model's tensors.
    # A model frozen whole is a template (stand-ins for all of it are the point): no finding.
    frozen_stood = [p for p in params if p.name in substituted and not p.requires_grad]
    if frozen_stood and any(p.name in substituted and p.requires_grad for p in params):
        names = [p.name for p in frozen_stood]
        one = len(names) == 1
        out.append(AuditFinding(
            "FZ501", _common(names),
            f"{listed(names)}: requires_grad=False on the model, but tensor{'' if one else 's'} of no module shaped "
            f"as {'it' if one else 'them'}, passed in {'its' if one else 'their'} place (torch.func.functional_call "
            f"or a stateless loop) like those of the trainable parameters, got gradients and "
            f"{'is' if one else 'are'} stepped by the optimizer {over}: the freeze stayed on the model's "
            f"tensor{'' if one else 's'}, which took no part, and the {'copy' if one else 'copies'} the forward "
            f"uses train",
            "build the stand-ins with the freeze (`v.detach().clone().requires_grad_(v.requires_grad)`), or pass the "
            "model's own tensors for the frozen ones, and give the optimizer only those that require grad",
            _several(names)))

    # FZ201 / FZ502: running statistics moved in frozen modules. A frozen parameter the module's own
    # forward wrote in train mode (the watch saw it move between a forward and the next step: a VQ
    # codebook's EMA update) is statistics in a parameter: judged as a buffer, and its module's
    # freeze judged by its other parameters, so a module that holds only such is no frozen one
    in_forward = [p for p in params if p.in_forward and p.changed and not p.requires_grad]
    status_of = _status_without(modules, params, in_forward)

    def holder(name: str) -> str | None:
        """The module whose parameters decide whether `name` is frozen: itself, or the nearest one
        above it that has parameters (a BatchNorm without affine ones, spectral norm's
        parametrization, an observer); None when none has."""
        while True:
            if status_of.get(name, "no params") != "no params":
                return name
            if not name:
                return None
            name = name.rpartition(".")[0]

    def frozen(name: str) -> bool:
        top = holder(name)
        return top is not None and status_of[top] == "frozen"

    # torch.ao's observers and fake-quantize modules record the ranges of what passes through them
    # (min/max, then scale and zero_point) in train and eval mode alike: QAT's and calibration's own
    # work, switched off by disable_observer, not frozen statistics; noted where a frozen layer holds them
    fake_quant, observers = _observer_types()
    moved: dict[str, list[BufferRecord]] = defaultdict(list)
    observed: dict[str, list[BufferRecord]] = defaultdict(list)  # frozen layer -> its observers' moved buffers
    for b in buffers:
        if b.changed:
            rec = by_module.get(b.module)
            if rec is not None and (rec.type in fake_quant or rec.type in observers):
                top = holder(b.module)
                if top is not None and status_of[top] == "frozen":
                    observed[top].append(b)
                continue
            moved[b.module].append(b)
    for p in in_forward:
        moved[p.module].append(BufferRecord(p.name, p.module, True, p.max_abs_delta, p.dtype))
    forward_written = {p.name for p in in_forward}
    if observed and notes is not None:
        notes.append(_observers_note(observed, by_module, fake_quant, over))
    # a module in train mode whose frozen parameters the script's own code writes (an EMA teacher
    # run in train mode on purpose) has its statistics follow the same plan: not FZ502; an eval()
    # of it that train() undid is still FZ201. Written by the script as FZ501 reads it: in no param
    # group, or in one with a grad None at every step (the optimizer skipped them)
    by_script = {p.module for p in params if p.changed and not p.requires_grad and not p.in_forward and (
        p.group is None or p.grad == "none" and p.name not in grads_from_ddp)} if updated_elsewhere else set()
    undone, unfrozen_stats, eval_only, in_eval = [], [], [], []
    for mod, bufs in moved.items():
        if not frozen(mod):
            if call_train and mod in kept_stats and not modes_before.get(mod, True):
                eval_only.append((mod, bufs))
            continue
        if stayed_eval and mod in stayed_eval:  # no train() undid its eval(): its forward or the script moved them
            if stayed_eval[mod] and mod not in by_script and not all(_counter(b) for b in bufs) \
                    and not _torch_forward(live, mod):
                in_eval.append((mod, bufs))
        elif call_train and not modes_before.get(mod, True):
            undone.append((mod, bufs))
        elif mod not in by_script:
            unfrozen_stats.append((mod, bufs))
    # spectral norm's power iteration (its u and v vectors, rewritten by every forward in train
    # mode) is told apart from running statistics: named by its layer, worded as what it is
    layer_of = {mod: _power_iteration_layer(mod, bufs, by_module, params) for mod, bufs in undone + unfrozen_stats}
    override = _train_override(model)
    for call, mods in _by_call(undone, undone_by).items():
        stats = [(m, bs) for m, bs in mods if layer_of[m] is None]
        power = [(m, bs) for m, bs in mods if layer_of[m] is not None]
        if stats:
            names = [_label(m) for m, _ in stats]
            one = len(names) == 1
            # only the batch counter moved (momentum=0 keeps the running mean and variance): the harm
            # left is batch statistics in train mode, said as FZ502 says it
            moved = (f"only num_batches_tracked moved {over} (the running mean and variance did not), yet in "
                     f"train mode {'it normalises' if one else 'they normalise'} each batch with that batch's "
                     f"own statistics" if all(_counter(b) for _, bs in stats for b in bs)
                     else f"the statistics moved{_moved_by(stats)} {over}")
            fix = (_fix_override(override) if override and call == _MODEL_TRAIN else
                   _fix_whole(call) if _frozen_whole(call, params, by_module) else
                   f"re-apply .eval() to {'it' if one else 'these modules'} after every {call}: override train() "
                   f"in the model, or ")
            # FrozenBatchNorm2d takes 4-D input only: no stand-in for a BatchNorm1d or 3d
            kinds = {by_module[m].type for m, _ in stats if m in by_module}
            out.append(AuditFinding(
                "FZ201", names[0] if one else f"{len(names)} modules",
                f"{listed(names)} {'was' if one else 'were'} in eval() to freeze running statistics, but "
                f"{_switched(call, _site(stats, sites))} switched {'it' if one else 'them'} back and {moved}",
                (fix + "use torchvision.ops.FrozenBatchNorm2d" if kinds == {"BatchNorm2d"} else
                 fix.removesuffix("; or ").removesuffix(", or "))
                + ("" if updated_elsewhere else  # the watch saw the loop's train()
                   "; if your loop never calls model.train(), or puts these modules back in eval() after each of "
                   "its train() calls, audit with call_train=False (or watch the real loop: freezelint.watch())"),
                _several(names)))
        if power:
            names = list(dict.fromkeys(_label(layer_of[m]) for m, _ in power))
            one = len(names) == 1
            out.append(AuditFinding(
                "FZ201", names[0] if one else f"{len(names)} modules",
                f"{listed(names)} ({_spectral_kinds(names, by_module)}) {'was' if one else 'were'} in eval() "
                f"to keep {'its' if one else 'their'} spectral norm's power-iteration vectors (u, v), but "
                f"{_switched(call, _site(power, sites))} switched {'it' if one else 'them'} back and every forward rewrote them"
                f"{_moved_by(power)} {over}: {_POWER_WHY}",
                (_fix_override(override) if override and call == _MODEL_TRAIN else
                 _fix_whole(call).removesuffix("; or ") if _frozen_whole(call, params, by_module) else
                 f"re-apply .eval() to {'it' if one else 'them'} after every {call}: override train() in the model")
                + ("" if updated_elsewhere else "; if your loop already does, audit with call_train=False (or "
                   "watch the real loop: freezelint.watch())"), _several(names)))
    for call, mods in _by_call(eval_only, undone_by).items():
        out.append(_eval_only_undone(mods, over, updated_elsewhere, call, override, _site(mods, sites)))
    if in_eval:
        out.append(_moved_in_eval_finding(in_eval, by_module, status_of, over))
    stats = [(m, bs) for m, bs in unfrozen_stats if layer_of[m] is None]
    power = [(m, bs) for m, bs in unfrozen_stats if layer_of[m] is not None]
    # only the batch counter moved (momentum=0 keeps the running mean and variance): said so, with
    # the harm that is left, batch statistics in train mode
    counted = [(m, bs) for m, bs in stats if all(_counter(b) for b in bs)]
    if counted:
        out.append(_counted_finding(counted, by_module, live, over))
        stats = [(m, bs) for m, bs in stats if not all(_counter(b) for b in bs)]
    if stats:
        names = [_label(m) for m, _ in stats]
        one = len(names) == 1
        kinds = sorted({by_module[m].type for m, _ in stats if m in by_module})
        own = [status_of.get(m, "no params") != "no params" for m, _ in stats]
        frozen_how = ("has all parameters frozen" if one else "have all parameters frozen") if all(own) else \
            ("has no parameters of its own and sits in a frozen part" if one else
             "have no parameters of their own and sit in frozen parts") if not any(own) else \
            "have all parameters frozen or sit, without parameters of their own, in frozen parts"
        # eager QAT's fused conv-bn (ConvBnReLU2d) puts its BatchNorm back in train mode in its own
        # train() unless freeze_bn_stats froze it, and cannot take FrozenBatchNorm2d
        qat_convs = _subclass_names("torch.ao.nn.intrinsic.qat.modules.conv_fused", "_ConvBnNd")
        fused = sorted({by_module[up].type for m, _ in stats for up in [m.rpartition(".")[0]]
                        if m and up in by_module and by_module[up].type in qat_convs})
        advice = ("put {them} in eval(), again after every train() that reaches {them} (or override train())"
                  + (f"; for a BatchNorm fused into a QAT conv ({', '.join(fused)}), "
                     "`.apply(torch.ao.nn.intrinsic.qat.freeze_bn_stats)` on it, which its train() keeps"
                     if fused else ", or replace {them} with torchvision.ops.FrozenBatchNorm2d"
                     if kinds == ["BatchNorm2d"] else "")
                  + _norm_eval_advice([m for m, _ in stats], live))
        out.append(AuditFinding(
            "FZ502", names[0] if one else f"{len(names)} modules",
            f"{listed(names)} ({', '.join(kinds)}) {frozen_how}, but {'runs' if one else 'run'} in train mode, so "
            f"{_stats_moved(stats, forward_written, one, over)}",
            advice.format(**(_ONE if one else _MANY)), names, advice_many=advice.format(**_MANY)))
    if power:
        names = list(dict.fromkeys(_label(layer_of[m]) for m, _ in power))
        one = len(names) == 1
        out.append(AuditFinding(
            "FZ502", names[0] if one else f"{len(names)} modules",
            f"{listed(names)} ({_spectral_kinds(names, by_module)}) {'has' if one else 'have'} all parameters "
            f"frozen, but {'runs' if one else 'run'} in train mode, so every forward ran spectral norm's "
            f"power iteration and rewrote {'its' if one else 'their'} u and v vectors{_moved_by(power)} {over}: "
            f"{_POWER_WHY}; requires_grad does not stop it",
            f"put {'it' if one else 'them'} in eval() where {'it runs' if one else 'they run'}, again after every "
            f"train() that reaches {'it' if one else 'them'} (or override train()): in eval() spectral norm divides "
            f"by the singular value its stored u and v give and leaves them as they are",
            names))

    # FZ302 / FZ503: trainable but in no param group
    # `substituted`: tensors of no module stood in for these (torch.func's functional_call): they
    # took no part, they are not left out
    missing = [p for p in params if p.requires_grad and p.group is None and not (updated_elsewhere and p.changed)
               and p.name not in substituted]
    if missing:
        swaps = _swapped_in(opts, live) if optimizer_has_foreign else {}
        tops: dict[str, list[ParamRecord]] = defaultdict(list)
        for p in missing:
            top = p.module
            parent = top
            while parent:
                parent = parent.rpartition(".")[0]
                rec = by_module.get(parent)
                if rec is not None and rec.optimizer == "none" and parent != "":
                    top = parent
            tops[top].append(p)
        # PEFT's adapters left out all over the model (a UNet's down, mid and up blocks) are one mistake
        # with one fix: one finding on the model, not one per block
        scattered = [t for t, ps in tops.items() if _peft_adapters(model, [p.module for p in ps])]
        if len(scattered) > 1 and "" not in tops and not optimizer_has_foreign:
            tops[""] = [p for t in scattered for p in tops.pop(t)]
        replaced: list[tuple[str, list[ParamRecord], bool]] = []
        for top, ps in tops.items():
            names = [p.name for p in ps]
            top = _whole_part(top, names, params)
            layers = _reparametrized(names) if optimizer_has_foreign else None
            if layers:
                out.append(_reparametrized_finding(layers, names, by_module))
            elif swaps and all(n in swaps for n in names):  # the layer stayed, its Parameters are new
                out.append(_swapped_finding(top, by_module[top].type if top in by_module else "", names, swaps))
            elif optimizer_has_foreign and by_module.get(top) and by_module[top].optimizer == "none":
                replaced.append((top, ps, _replaced_whole(opts, live, ps)))
            else:
                # worded for one parameter where there is one; `advice_many` (the words for several) is what
                # grouping compares and what a group of them says
                seen = unfrozen is not None and all(n in unfrozen for n in names)
                cause = ("{they} {were} unfrozen after the optimizer was built: FZ303 in the code" if seen else
                         "the optimizer was built from only part of the model, {they} {were} unfrozen after the "
                         "optimizer was built (FZ303 in the code), or {their} layer was created later (FZ302)")
                advice = ("unfreeze {them} before the optimizer is built (a framework's trainer builds it when "
                          "training starts), add {them} to the optimizer (`optimizer.add_param_group(...)`), or freeze {them}")
                rec = by_module.get(top)
                if (rec is not None and rec.mode == "eval" and rec.params_changed == 0 and top
                        and rec.params == len(ps) and rec.optimizer == "none"):
                    # a whole part (a second model beside the trained one: a DPO reference, a
                    # distillation teacher) run in eval() and held by no optimizer: meant frozen. The watch
                    # sees them trainable in its steps, not whether they were frozen when the optimizer
                    # was built (an unfreeze after it leaves them out as well)
                    cause = (f"{_label(top)} ran in eval() and no optimizer holds any of it: it looks meant to be "
                             f"frozen (a reference or teacher model, a frozen backbone), but its parameter{{s}} "
                             f"{{are}} not: never frozen, or unfrozen after the optimizer was built")
                    advice = (f"if it is not meant to train, freeze it (`{_label(top)}.requires_grad_(False)`) and "
                              f"run it under torch.no_grad(); if it is, add it to the optimizer "
                              f"(`optimizer.add_param_group(...)`) and train it in train mode")
                graded = any(p.grad != "none" for p in ps)
                if not graded and not (rec is not None and rec.mode == "eval" and rec.optimizer == "none"):
                    # no backward reached them (run under no_grad, or not run): adding them to the
                    # optimizer would not train them; most often a part meant to stay frozen
                    cause = ("no gradient reached {them} in these steps: {their} forward ran under torch.no_grad(), "
                             "or {they} {were} not used; a part meant to stay frozen (a reference model) that never "
                             "was")
                    advice = ("if {they} {are} not meant to train, freeze {them} (`requires_grad_(False)`); if {they} "
                              "{are}, add {them} to the optimizer and make the loss reach {them}")
                if _peft_adapters(model, [p.module for p in ps]):
                    call = _adapter_call(model)
                    cause = (f"{{they}} {{are}} PEFT's adapters, which {call} adds as new parameters: an "
                             "optimizer built before it, or over the base model's parameters, leaves {them} out")
                    advice = (f"build the optimizer after {call}, over the parameters that require grad "
                              "(`[p for p in model.parameters() if p.requires_grad]`)" + _trainer_wraps(call))
                words = _ONE if len(ps) == 1 else _MANY
                out.append(AuditFinding(
                    "FZ503", names[0] if len(names) == 1 else _label(top),
                    f"{listed(names)}: requires_grad=True but in no param group"
                    f"{' of any of the ' + str(among) + ' optimizers' if among > 1 else ''}, so never "
                    + ("updated; {their} .grad accumulates unless the loop clears the model's grads "
                       "(optimizer.zero_grad() clears only its own)".format(**words) if graded else "updated")
                    + f" ({cause.format(**words)})", advice.format(**words), _several(names),
                    advice_many=advice.format(**_MANY)))
        out += _replaced_findings(replaced, by_module, optimizer_has_foreign)

    # FZ504: an optimizer all of whose parameters were frozen (at every one of its steps, for the
    # watch): it trains nothing, whatever its state (a GAN whose toggle freezes the wrong network)
    # A finding on the whole optimizer says what one per group would, so such an optimizer gets
    # no other FZ504 (two, with two fixes, on the same parameters read as two mistakes).
    whole: set[str] = set()
    for oname, opt in opts.items():
        held = [p for p in params if p.group is not None and owner(p)[0] == oname]
        every = sum(len(g["params"]) for g in opt.param_groups)  # all it holds are this model's
        if held and len(held) == every and not any(p.requires_grad for p in held):
            whole.add(oname)
            names = [p.name for p in held]
            late = [n for n in names if n in refrozen]  # trained at the window's first steps
            when = ("by its last steps (some trained before being frozen inside the window: see the note)" if late
                    else "when it stepped")
            with_state = [p.name for p in held if p.has_state] if _state_per_param(opt) else []
            state = (f"; {len(with_state)} still hold{'s' if len(with_state) == 1 else ''} optimizer state"
                     if with_state and not late else "")
            out.append(AuditFinding(
                "FZ504", oname if among > 1 else "optimizer",
                f"every parameter {hyper(held[0])} holds ({len(held)}: {listed(names)}) was frozen {when}, so it "
                f"trains nothing{state}",
                "unfreeze what it should train before its step (in a GAN, freeze the other network), or build it "
                "from the parameters that train, after the freeze (`[p for p in model.parameters() if "
                f"p.requires_grad]`; for PEFT, after {_adapter_call(model)}), or drop it", _several(names)))

    # FZ504: frozen at their own optimizer's steps by a toggle that unfroze only their neighbours
    # (the watch: frozen together between that optimizer's steps, for another optimizer's step)
    left = defaultdict(list)
    for p in params:
        if toggled and p.name in toggled and not p.requires_grad and p.group is not None \
                and owner(p)[0] not in whole:
            left[owner(p)[0]].append(p)
    for oname, ps in left.items():
        names = [p.name for p in ps]
        back = list(dict.fromkeys(b for p in ps for b in toggled[p.name]))  # type: ignore[index]
        out.append(AuditFinding(
            "FZ504", _common(names) if len(names) > 1 else names[0],
            f"{listed(names)} trained at {oname if among > 1 else 'the optimizer'}'s first step, were frozen between "
            f"its steps together with {listed(back)} (for another optimizer's step), and only those were unfrozen "
            f"again: a toggle that unfreezes part of what it froze, so they stay frozen at their own optimizer's "
            f"steps and never train again"
            + (f"; {_n_hold(sum(p.has_state for p in ps))} optimizer state" if any(p.has_state for p in ps) else ""),
            "unfreeze everything the toggle froze before this optimizer's step (`D.requires_grad_(True)` for the "
            "whole network, not a part of it)", _several(names)))
    done = {p.name for ps in left.values() for p in ps}

    # FZ504: frozen parameters the optimizer holds state for, or decays
    per_group: dict[tuple[str, int], list[ParamRecord]] = defaultdict(list)
    for p in params:
        if not p.requires_grad and p.group is not None and owner(p)[0] not in whole and p.name not in done \
                and not (p.changed and p.grad == "none" and _moves_gradless(owner(p)[1])):  # FZ501 says it
            per_group[(owner(p)[0], p.group)].append(p)
    for (oname, gi), ps in sorted(per_group.items()):
        _, opt, group = owner(ps[0])
        pooled = not _state_per_param(opt)  # LBFGS: its one state is no parameter's own
        # trained, then frozen with their grads dropped: skipped by every step since, the state
        # they hold from before costs memory only (a note), as a freeze inside the window reads
        spared = [p.name for p in ps if p.has_state and p.grad == "none" and not pooled
                  and (p.name in refrozen or p.name in frozen_before)]
        if spared and notes is not None:
            notes.append(_state_held_note(spared, oname if among > 1 else type(opt).__name__))
        with_state = [p.name for p in ps if p.has_state and p.name not in spared and not pooled]
        # frozen after the optimizer had stepped them (after a warmup, at an epoch boundary): building
        # it from a requires_grad filter cannot apply to them
        later = not pooled and _frozen_after_steps(opt, group)
        # torch's optimizers skip a parameter whose .grad is None: weight decay reaches a frozen one
        # only through a grad tensor (stale, or zeroed with set_to_none=False) seen at some step
        wd = (group.get("weight_decay") or 0) if any(p.grad != "none" for p in ps) else 0
        if not with_state and not wd and not pooled:
            continue
        one, graded = len(ps) == 1, any(p.grad != "none" for p in ps)
        # the loop gave them a new .grad at each step (torch.func.grad): no grad left from before the freeze
        wrote = graded and all(p.name in written for p in ps if p.grad != "none")
        what = [_pooled_state(opt, group)] if pooled else []
        if with_state:
            what.append(("it holds optimizer state" if one else f"{_n_hold(len(with_state))} optimizer state "
                         f"({listed(with_state)})")
                        + (" from steps before the freeze" if later and not graded else ""))
        if wd and wrote:
            what.append(f"the group's weight_decay={wd} shrinks {'it' if one else 'them'} at every step the loop "
                        f"gives {'it' if one else 'them'} a .grad")
        elif wd:
            what.append(f"the group's weight_decay={wd} shrinks {'it while its' if one else 'any of them whose'} "
                        f".grad is a zero tensor")
        names = [p.name for p in ps]
        where = _common(names)
        at = f"param_groups[{gi}]" if among == 1 else f"{oname}.param_groups[{gi}]"
        out.append(AuditFinding(
            "FZ504", at if where == "(model)" else f"{where} in {at}",  # which parameters, and where they sit
            f"{len(ps)} frozen parameter{'' if one else 's'} ({listed(names)}) {'is' if one else 'are'} in param "
            f"group {gi} of {hyper(ps[0])}: " + "; ".join(what) + " (FZ301 in the code)",
            _fz504_after_advice(one, graded, wrote) if later
            else _fz504_advice(len(opt.param_groups)), _several(names)))

    # FZ505: trainable, optimized, yet unchanged. A param group with lr=0 updates nothing by its
    # own setting (a stage a schedule has not reached, a warmup from 0, a freeze by learning rate):
    # a note, not a finding. What is left is FZ505 where no gradient reached a module's parameters;
    # a grad that is tiny or zero by construction (a conv bias before BatchNorm, a dead ReLU) is
    # the model's business, not a freezing mistake.
    still: dict[str, list[ParamRecord]] = defaultdict(list)
    held_still: dict[tuple[str, int], list[ParamRecord]] = defaultdict(list)
    rounded: list[ParamRecord] = []  # low-precision weights whose nonzero grads moved nothing
    for p in params:
        if p.requires_grad and p.group is not None and not p.changed:
            if lr_is_zero(owner(p)[2].get("lr")):
                held_still[(owner(p)[0], p.group)].append(p)
            else:
                still[p.module].append(p)
                if p.grad == "nonzero" and p.dtype in ("bfloat16", "float16"):
                    rounded.append(p)
    if rounded and notes is not None:
        kinds = sorted({p.dtype for p in rounded})
        notes.append(f"{listed([p.name for p in rounded])} ({'/'.join(kinds)}) got nonzero grads and stayed "
                     f"bit-identical over {steps} step{'s' if steps != 1 else ''}: an update smaller than half "
                     f"the {'/'.join(kinds)} spacing at a weight's magnitude rounds away (lr x grad too small for "
                     f"the dtype), so these weights do not train; keep float32 weights (autocast for the "
                     f"compute) or a larger lr")
    # A module whose unchanged parameters all had no grad (eager autograd leaves None where the loss
    # does not reach), or, over two steps or more, a module all of whose parameters are unchanged
    # with all-zero grads (a compiled backward writes zeros there; one step is not enough: LoRA's
    # lora_A gets zeros at the first step only, while lora_B is still zero). A zero grad on some
    # parameters of a module only is structural, not a module the loss ignores: a WGAN critic's
    # last bias (real and fake terms cancel), a conv bias before BatchNorm. Nor is a loss flat for
    # every parameter (a student distilled from its own copy starts at zero loss): some other part
    # of the model must have trained.
    own: dict[str, int] = defaultdict(int)
    for p in params:
        own[p.module] += 1
    trained_some = any(p.changed and p.requires_grad and p.group is not None and p.grad != "zero" for p in params)
    # Nothing trained is no flat loss where a frozen layer that ran holds only zeros: no gradient
    # passes back through it (a ControlNet's zero convolutions frozen with the rest, LoRA behind them).
    blockers = zero_blockers(model, {m.name for m in modules}, ran) \
        if steps > 1 and not trained_some and any(p.grad == "zero" and p.requires_grad and p.group is not None
                                                  for p in params) else []
    trained_some = trained_some or bool(blockers)
    unreached = [p for ps in still.values() if all(p.grad == "none" for p in ps) for p in ps]
    # A gradient reached them in a backward, and their .grad was None at every step: the loop clears
    # it between backward and step. Beside parameters that trained, a freeze by dropping gradients
    # (DINO's cancel_gradients_last_layer): a note. With nothing trained, a zero_grad() before step().
    cleared = [p for p in unreached if p.grad_dropped]
    if cleared:
        unreached = [p for p in unreached if not p.grad_dropped]
        if trained_some:
            if notes is not None:
                notes.append(worded(
                    f"{listed([p.name for p in cleared])} got gradients in backward, but {{their}} .grad was None "
                    f"at each of the {steps} steps: the script sets it to None between backward and step (as DINO's "
                    f"cancel_gradients_last_layer does to hold the last layer still), so the optimizer skipped "
                    f"{{them}}; no FZ505", len(cleared) == 1))
            cleared = []
    zeroed = [p for m, ps in still.items() if steps > 1 and trained_some and len(ps) == own[m]
              and any(p.grad == "zero" for p in ps) and all(p.grad in ("none", "zero") for p in ps) for p in ps]
    # Under torch.compile the watch counts trainable grads at every step: a module whose grads were
    # all zero at every step, moved all the same by weight decay or momentum, is the same mistake
    # (a changed parameter's grad is "zero" only from that count).
    decayed: list[ParamRecord] = []
    if steps > 1 and trained_some and any(p.changed and p.grad == "zero" for p in params):  # seldom: build lists
        mine: dict[str, list[ParamRecord]] = defaultdict(list)
        for p in params:
            mine[p.module].append(p)
        decayed = [p for ps in mine.values() if any(p.changed and p.grad == "zero" for p in ps)
                   and all(p.requires_grad and p.group is not None and p.grad in ("none", "zero")
                           and not lr_is_zero(owner(p)[2].get("lr")) for p in ps) for p in ps]
    # A module beside one that got no gradient, moved by weight decay or momentum with an all-zero
    # last grad (LoRA's lora_A beside its lora_B): one finding with it.
    beside: list[ParamRecord] = []
    if zeroed and decayed:
        near = {p.module.rpartition(".")[0] for p in zeroed}
        beside = [p for p in decayed if p.module.rpartition(".")[0] in near]
        if beside:
            order = {id(p): i for i, p in enumerate(params)}
            decayed = [p for p in decayed if p not in beside]
            zeroed = sorted(zeroed + beside, key=lambda p: order[id(p)])
    # Trainable parameters the optimizer moved and something wrote back before the next step (the
    # watch reads what was written between steps): each step's update undone, so they never learn.
    undone = [p for p in params if p.written_back and p.requires_grad and p.group is not None]
    unused = [p for p in unreached if p.module in idle]
    ignored = [p for p in unreached if p.module not in idle and ran is not None and p.module in ran]
    rest = [p for p in unreached if p.module not in idle and not (ran is not None and p.module in ran)]
    # modules that did not run while a sibling did (heads.0 and heads.2 beside heads.1): one head or
    # expert picked per step, and these not picked yet in the window
    unpicked = [p for p in rest if ran is not None and _sibling_ran(p.module, ran, by_module)]
    rest = [p for p in rest if p not in unpicked]
    for ps in (cleared, unused, ignored, rest, unpicked, zeroed, decayed, undone):
        if not ps:
            continue
        names = [p.name for p in ps]
        mods = list(dict.fromkeys(p.module for p in ps))  # in the model's order
        tops = [m for m in mods if not any(m.startswith(o + ".") for o in mods if o != m)]
        shown = listed([_label(m) for m in tops])
        one = len(tops) == 1
        pooler: tuple[str, str] | None = None
        if ps is cleared:
            why = ("a gradient reached {them} in backward, but {their} .grad was None again at every step: the loop "
                   "clears the grads between loss.backward() and optimizer.step() (zero_grad() called before step() "
                   "rather than before backward(), or `.grad = None`), so no step applies a gradient")
        elif ps is unused:
            why = (f"{{they}} received no gradient (.grad stayed None at every step): not used in the forward, "
                   f"{shown} never ran {'its' if one else 'their'} forward while watched")
        elif ps is ignored and (pooler := _hf_pooler(tops, live)):
            path, owner = pooler
            why = (f"{{they}} received no gradient (.grad stayed None at every step): {_label(path)} is {owner}'s "
                   f"pooler, which {owner}.forward runs at every call to compute pooler_output, and the loss does "
                   f"not use pooler_output (it reads last_hidden_state, as sentence-transformers' pooling and a "
                   f"head on the first token do)")
        elif ps is ignored:
            why = (f"{{they}} received no gradient (.grad stayed None at every step): {'its' if one else 'their'} "
                   f"module{'' if one else 's'} ({shown}) ran, but the loss does not depend on "
                   f"{'its' if one else 'their'} output (left out of the loss, or cut from it by torch.no_grad(), "
                   f"detach(), or torch.utils.checkpoint(..., use_reentrant=True) whose inputs none require grad, "
                   f"as after frozen layers)")
        elif ps is unpicked:
            runs = sorted({_sibling_ran(p.module, ran, by_module) or "" for p in ps})
            members = list(dict.fromkeys(_member(p.module, by_module)[1] for p in ps))  # type: ignore[index]
            alone = len(members) == 1
            why = (f"{{they}} received no gradient (.grad stayed None at every step): {listed(members)} did not run "
                   f"{'its' if alone else 'their'} forward {over}, while {listed(runs)} beside "
                   f"{'it' if alone else 'them'} did: a head or an expert picked per step (one task per batch, a "
                   f"router) not picked in these steps, or a block a later stage brings into the forward "
                   f"(progressive growing)")
        elif ps is undone:
            at = sorted({s for p in ps for s in p.written_back})
            one_p, them = len(ps) == 1, "it" if len(ps) == 1 else "them"
            when = (f"step {at[0] + 1}" if len(at) == 1 else
                    f"steps {', '.join(str(s + 1) for s in at[:-1])} and {at[-1] + 1}")
            why = (f"something wrote {them} back between optimizer.step() and the next step: at the start of "
                   f"{when} {'it was' if one_p else 'they were'} back at {'its' if one_p else 'their'} value from "
                   f"before step 1, the update{'s' * (len(at) > 1)} undone (a restore of the rows meant to stay "
                   f"frozen whose index also covers the trained ones, saved or averaged weights copied into the "
                   f"model at every step)")
        elif ps is decayed and zeroed_by_loop(ps):
            # autograd's all-zero gradient (an output multiplied by a zero mask) and a `p.grad.zero_()`
            # after backward leave the same grad and state: the finding names both
            why = (f"{{their}} gradient was all zeros at the last step and {_gradless_state(owner(ps[0])[1])}, so no "
                   f"step gave {{them}} a nonzero gradient: either the loss did not reach {{them}} in these steps "
                   f"(autograd hands an all-zero gradient to a part whose output is multiplied by zero, as an "
                   f"expert no token was routed to under a dense mask), or something zeroes {{their}} gradient after "
                   f"backward (`p.grad.zero_()`, a \"freeze\" by zeroing the gradient), which looks the same at "
                   f"the step; {_decay_of(*owner(ps[0])[1:])} moves {{them}} all the same, so the weight{{s}} drift{{v}}")
        elif ps is decayed and hooked(ps):
            why = (f"a hook on {{their}} gradient (`register_hook`) returns zeros, a freeze by hook, and "
                   f"{_decay_of(*owner(ps[0])[1:])} moves {{them}} whatever the gradient, so the \"frozen\" weight{{s}} "
                   f"drift{{v}}")
        elif ps is decayed:
            why = ("{their} gradient was all zeros at every step: the loss does not depend on {them} (a head whose "
                   "output the loss ignores, say); a compiled graph (torch.compile) hands out zeros where eager "
                   "autograd leaves None, and the optimizer's weight decay or momentum moves {them} anyway, so "
                   "{they} change{v} without learning")
        elif ps is zeroed:
            if beside:
                kept = [p.name for p in ps if p not in beside]
                why = (f"{listed(kept)} had a zero gradient at every step (no step moved "
                       f"{'it' if len(kept) == 1 else 'them'}, the last .grad all zeros), and "
                       f"{listed([p.name for p in beside])} moved only by weight decay or momentum (the last .grad "
                       f"all zeros too)")
            else:
                why = ("{their} gradient was zero at every step (no step moved {them}, and the last one's .grad was "
                       "all zeros)")
            why += (": a hook on {their} gradient (`register_hook`) returns zeros, a freeze by hook" if hooked(ps)
                    and not beside else
                    ": the loss does not depend on {them} (a head whose output the loss ignores, say); a compiled "
                    "graph (torch.compile) hands out zeros where eager autograd leaves None" if not blockers else
                    f": the frozen {listed(blockers)} ran holding only zeros, and no gradient passes back through "
                    f"an all-zero layer to what runs before it")
        else:
            why = ("{they} received no gradient (.grad stayed None at every step): not used in the forward pass, or "
                   "cut from the loss by torch.no_grad() or detach(), or run but left out of the loss (a head "
                   "whose output the loss ignores), or inside torch.utils.checkpoint(..., use_reentrant=True) "
                   "whose inputs none require grad, as after frozen layers")
        where = _common(names)
        if where == "(model)" and 1 < len(tops) <= _SHOW:  # several heads side by side: name them
            where = ", ".join(_label(m) for m in tops)
        # worded for one parameter where there is one; grouping compares the words for several
        advice = (
            (f"train {listed(blockers)} (zero-initialised layers such as a ControlNet's zero convolutions "
             f"must train for anything before them to learn), or initialise {'it' if len(blockers) == 1 else 'them'} "
             f"otherwise" if blockers and (ps is zeroed or ps is decayed) else
             "find the write after optimizer.step() that puts {them} back: restore only what must stay frozen "
             "(an index or mask that leaves the trained rows out), or copy averaged weights in only for "
             "evaluation and back out after it" if ps is undone else
             f"if that is meant, build the model without it (`add_pooling_layer=False`, as transformers' own "
             f"token-level heads do) or freeze it (`{_submodule(pooler[0])}.requires_grad_(False)`); otherwise make the loss "
             f"use pooler_output" if ps is ignored and pooler else
             "if one is picked per step, watch more steps (`freezelint run --steps N`, `watch(steps=N)`) to see "
             "{them} train; if a later stage brings {them} in, freeze {them} until then; if {they} never run{v}, "
             "leave {them} out" if ps is unpicked else
             "freeze {them} with `requires_grad_(False)` and leave {them} out of the optimizer: a hook that zeroes the "
             "gradient still computes it at every step, and weight decay or momentum moves the weight{s} past it"
             if (ps is decayed or ps is zeroed and not beside) and hooked(ps) else
             _zeroed_advice(any(_member(p.module, by_module) for p in ps))
             if ps is decayed and zeroed_by_loop(ps) else
             "call optimizer.zero_grad() before loss.backward() (or after optimizer.step()), never between them"
             if ps is cleared else
             "freeze {them} explicitly if that is intended (a part a later stage brings into the forward: freeze it "
             "until then), otherwise make the loss depend on {them}")
            + (" (a checkpointed block: use_reentrant=False, or an input that requires grad)" if ps is rest else "")
            + (_stats_moved_too(where, tops, buffers) if ps is ignored and not pooler else ""))
        single = len(ps) == 1
        out.append(AuditFinding(
            "FZ505", where,
            worded(f"{listed(names)}: requires_grad=True and in the optimizer, yet "
                   + (f"{{they}} moved {over} with a zero gradient" if ps is decayed and (hooked(ps) or zeroed_by_loop(ps))
                      else f"no gradient reached {{them}} {over}" if ps is decayed or ps is zeroed and beside
                      else "no step's update lasted" if ps is undone else f"unchanged {over}") + f"; {why}", single),
            worded(advice, single), _several(names), advice_many=worded(advice, False)))
    for (oname, gi), ps in held_still.items():
        kept = (lr_kept or {}).get((oname, gi))
        if kept is not None:
            out.append(_lr_kept_finding(oname if among > 1 else None, gi, hyper(ps[0]), kept, [p.name for p in ps]))
    if notes is not None:
        # one note per optimizer and settings: mmengine's paramwise_cfg (`lr_mult=0`) makes a group per parameter
        alike: dict[tuple[str | None, str], list[tuple[int, list[ParamRecord]]]] = {}
        for (oname, gi), ps in held_still.items():
            if (oname, gi) not in (lr_kept or {}):
                alike.setdefault((oname, hyper(ps[0])), []).append((gi, ps))
        for (_, settings), groups in alike.items():
            names = [p.name for _, ps in groups for p in ps]
            gis = [gi for gi, _ in groups]
            which = (f"param group {gis[0]}" if len(gis) == 1 else f"param groups {gis[0]}-{gis[-1]}"
                     if gis == list(range(gis[0], gis[-1] + 1)) else f"param groups {', '.join(map(str, gis))}")
            notes.append(f"{listed(names)} (requires_grad=True, {which} of {settings}) did not change {over}: "
                         f"{'the group' if len(gis) == 1 else 'each group'}'s lr is 0, so no FZ505 (a stage a "
                         f"schedule has not reached yet, or a freeze by learning rate, FZ304 in the code, which "
                         f"still computes their grads and optimizer state)")
    return out


def _stats_moved_too(where: str, tops: list[str], buffers: list[BufferRecord]) -> str:
    """For parts the loss does not reach whose running statistics moved (a feature extractor run
    under no_grad in train mode): freezing the parameters alone leaves those moving (FZ502 next)."""
    moved = [b for b in buffers if b.changed and b.dtype.startswith("float")
             and any(not t or b.module == t or b.module.startswith(t + ".") for t in tops)]
    if not moved:
        return ""
    part = "the model" if where == "(model)" else where
    return (f"; if frozen, put {part} in eval() too: running statistics "
            f"({listed(list(dict.fromkeys(b.module for b in moved)))}) moved in train mode over these steps")


def _lr_kept_finding(oname: str | None, gi: int, hyper: str, kept: str, names: list[str]) -> AuditFinding:
    """FZ304 on a param group whose base lr is 0 under schedulers that only multiply it (a per-group
    lr misspelt into a default of 0): it never trains."""
    one = len(names) == 1
    where = _common(names)
    at = f"param_groups[{gi}]" if oname is None else f"{oname}.param_groups[{gi}]"
    return AuditFinding(
        "FZ304", at if where == "(model)" else f"{where} in {at}",
        f"param group {gi} of {hyper} has a base lr of 0 (its `initial_lr`), and {kept} only "
        f"multipl{'ies' if ',' not in kept else 'y'} it, so its lr stays 0 at every step: {listed(names)} "
        f"(requires_grad=True) never train{'s' if one else ''}, while another group trains",
        f"set the group's lr (a per-group lr looked up under a wrong key falls back to 0); if "
        f"{'it is' if one else 'they are'} meant to stay frozen, freeze {'it' if one else 'them'} with "
        f"`requires_grad_(False)` and leave {'it' if one else 'them'} out of the optimizer",
        _several(names))


def _member(module: str, by_module: Mapping[str, ModuleRecord]) -> tuple[str, str] | None:
    """The ModuleList / ModuleDict that holds `module` or an ancestor of it, and its member that does:
    `("heads", "heads.0")` for `heads.0.fc`."""
    path = module.split(".") if module else []
    for i in range(len(path) - 1, 0, -1):
        container = ".".join(path[:i])
        rec = by_module.get(container)
        if rec is not None and rec.type in ("ModuleList", "ModuleDict"):
            return container, ".".join(path[:i + 1])
    return None


def _sibling_ran(module: str, ran: frozenset[str], by_module: Mapping[str, ModuleRecord]) -> str | None:
    """Another member of the ModuleList / ModuleDict that holds `module` that ran its forward
    (`heads.1` for `heads.0.fc`), else None: one head or expert picked per step. Not for a head
    beside a trunk: any module beside one that ran would be that."""
    held = _member(module, by_module)
    if held is None:
        return None
    container, mine = held
    near = sorted(n for n in ran if n.startswith(container + ".") and "." not in n[len(container) + 1:] and n != mine)
    return near[0] if near else None


def zeroed_by_loop(ps: list[ParamRecord]) -> bool:
    """Moved with a zero grad that no hook made, while the optimizer's state showed that no step gave
    them a gradient (`grad_zeroed`): the loop zeroes it, or the loss ignores them."""
    return any(p.grad_zeroed for p in ps) and not any(p.grad_hook for p in ps)


def _zeroed_advice(member: bool) -> str:
    """For weights moved by decay alone with zero gradients: where they are a member of a
    ModuleList or ModuleDict (`member`), an expert or head a router may not have picked yet, to be
    told apart by more steps; a freeze by zeroing the grad otherwise."""
    more = ("if {their} module is an expert or a head picked per step, watch more steps (`freezelint run --steps "
            "N`, `watch(steps=N)`) to see {them} get a gradient; " if member else "")
    return (f"{more}if {{they}} {{are}} meant to stay frozen, freeze {{them}} with `requires_grad_(False)` and leave "
            "{them} out of the optimizer (a gradient zeroed after backward is still computed at every step, and weight "
            "decay moves the weight{s} past it); otherwise find what zeroes {their} gradient, or make the loss depend "
            "on {them}")


def hooked(ps: list[ParamRecord]) -> bool:
    """Every one of these parameters has a hook on its gradient: zero grads are the hook's doing."""
    return all(p.grad_hook for p in ps)


def _gradless_state(opt: torch.optim.Optimizer) -> str:
    """What the optimizer's state shows of parameters that no step gave a gradient (see
    watch_report._never_graded)."""
    kind = type(opt).__name__
    if kind == "SGD":
        return "SGD's momentum buffer is a multiple of the weights, as weight decay alone builds it"
    return f"{kind}'s first moment (exp_avg) is all zeros"


def _decay_of(opt: torch.optim.Optimizer, group: Mapping) -> str:
    """What moves a parameter whose gradient is zero: `AdamW's weight_decay=0.1`, `SGD's momentum=0.9`."""
    kind = type(opt).__name__
    wd, mom = group.get("weight_decay") or 0, group.get("momentum") or 0
    return (f"{kind}'s weight_decay={wd}" if wd else f"{kind}'s momentum={mom}" if mom else
            f"{kind}'s state from earlier steps")


def _submodule(path: str) -> str:
    """How code reaches the module the report names `path`: the path itself (`bert.pooler`), as other
    advice writes it, or the model's get_submodule where a part is no identifier
    (`model.get_submodule("0.auto_model.pooler")`)."""
    if all(part.isidentifier() for part in path.split(".")):
        return path
    return f'model.get_submodule("{path}")'


def _hf_pooler(tops: list[str], live: Sequence[tuple[str, nn.Module]]) -> tuple[str, str] | None:
    """(the pooler's name, its model's class) where the one module the loss ignores is, or is inside,
    the `pooler` of a transformers model built with one it may leave out (`add_pooling_layer`):
    BERT-style models compute pooler_output at every forward, used or not."""
    if len(tops) != 1 or not live:
        return None
    parts = tops[0].split(".")
    if "pooler" not in parts:
        return None
    at = len(parts) - 1 - parts[::-1].index("pooler")
    owner_name, path = ".".join(parts[:at]), ".".join(parts[:at + 1])
    owner = dict(live).get(owner_name)
    if owner is None or not type(owner).__module__.startswith("transformers."):
        return None
    try:
        import inspect

        takes = "add_pooling_layer" in inspect.signature(type(owner).__init__).parameters
    except (TypeError, ValueError):
        return None
    return (path, type(owner).__name__) if takes else None


def _renormed(params: list[ParamRecord], live: Sequence[tuple[str, nn.Module]], watched: bool
              ) -> dict[str, tuple[nn.Module, list[ParamRecord]]]:
    """Layer name -> (layer, its frozen weights that changed), for Embedding and EmbeddingBag layers
    built with max_norm: every forward renormalises the rows it looks up in place (under no_grad),
    frozen or not. Not a weight the optimizer stepped (a stale grad: FZ501's other causes); under
    the watch (`watched`), not one in a part the script writes (an EMA or polyak target)."""
    moved = [p for p in params if not p.requires_grad and p.changed and (p.group is None or p.grad == "none")]
    if not moved or not live:
        return {}
    layers = {n: m for n, m in live if isinstance(m, (nn.Embedding, nn.EmbeddingBag)) and m.max_norm is not None}
    out: dict[str, tuple[nn.Module, list[ParamRecord]]] = {}
    for p in moved:
        m = layers.get(p.module)
        if m is not None and not (watched and _script_written(p.module, params, layers)):
            out.setdefault(p.module, (m, []))[1].append(p)
    return out


def _script_written(layer: str, params: list[ParamRecord], layers: Mapping[str, nn.Module]) -> bool:
    """Whether `layer` lies in a part no optimizer holds (its largest such ancestor) whose other
    parameters changed too: a copy the script itself writes, as an EMA teacher or a polyak target
    is. The renormalising layers' own weights are no evidence either way."""
    path = layer.split(".") if layer else []
    part: list[ParamRecord] = []
    for i in range(len(path), -1, -1):
        above = ".".join(path[:i])
        under = [q for q in params if q.module not in layers
                 and (not above or q.module == above or q.module.startswith(above + "."))]
        if any(q.group is not None for q in under):
            break
        part = under
    return any(q.changed for q in part)


def _renorm_finding(layer: str, m: nn.Module, ps: list[ParamRecord], over: str) -> AuditFinding:
    """FZ501 for a frozen Embedding/EmbeddingBag built with max_norm: named by its layer, with the
    cause (its own forward) and the fix (no max_norm; a renorm of the table once, if wanted)."""
    names = [p.name for p in ps]
    label = _label(layer)
    how = f"max_norm={_num(m.max_norm)}" + (f", norm_type={_num(m.norm_type)}" if m.norm_type != 2 else "")
    weight = f"{layer}.weight" if layer else "layer.weight"
    return AuditFinding(
        "FZ501", label,
        f"{listed(names)}: requires_grad=False, yet changed {over}{sized(p.max_abs_delta for p in ps)}; {label} "
        f"({class_name(m)}, {how}) renormalises the rows it looks up in place in every forward, frozen or not "
        f"(requires_grad does not stop it): each looked-up row whose norm exceeds {_num(m.max_norm)} is scaled "
        f"down to it, so the frozen vectors are rewritten",
        f"build it with max_norm=None; if the vectors should be bounded, renormalise the table once before "
        f"training (`with torch.no_grad(): {weight}.copy_(torch.renorm({weight}, {_num(m.norm_type)}, 0, "
        f"{_num(m.max_norm)}))`)", _several(names))


def stood_in(records: list[ParamRecord], graded: list[torch.Tensor]) -> list[ParamRecord]:
    """The model's parameters that tensors of no module, which got gradients, evidently stood in for
    (torch.func.functional_call, a stateless loop): those in no param group that got no gradient and
    did not change, where the shapes show it: each trainable one has a tensor of its shape (they
    would otherwise be FZ503), or they and the tensors match shape for shape (a frozen template).
    Empty where the shapes do not show it: a learnable temperature, a prompt, another model's part."""
    shapes = Counter(tuple(t.shape) for t in graded)
    idle = [r for r in records if r.group is None and r.grad == "none" and not r.changed]
    if idle and Counter(tuple(r.shape) for r in idle) == shapes:  # one for each, frozen ones too
        return idle
    trainable = [r for r in idle if r.requires_grad]
    if trainable and not Counter(tuple(r.shape) for r in trainable) - shapes:
        return trainable
    return []


def held_as(t: torch.Tensor, scopes: Iterable[Mapping[str, Any]]) -> str | None:
    """What the training code calls `t`: a variable of its frames (`log_alpha`), innermost first,
    else an attribute of an object's `self` there (SB3's `self.log_ent_coef`); None if neither."""
    scopes = list(scopes)
    for scope in scopes:
        for k, v in scope.items():
            if v is t and k != "self" and not k.startswith("_"):
                return k
    for scope in scopes:
        if "self" not in scope:
            continue
        try:
            attrs = object.__getattribute__(scope["self"], "__dict__")  # never the object's own __getattr__
        except Exception:  # noqa: BLE001 — no instance dictionary
            continue
        if type(attrs) is dict:
            for k, v in attrs.items():
                if v is t and not k.startswith("_"):
                    return f"self.{k}"
    return None


def outside_note(optimizer: str, graded: list[torch.Tensor], stood: list[ParamRecord], holds_model: bool,
                 name_of: Callable[[torch.Tensor], str | None] = lambda t: None) -> str:
    """The note on tensors of no module of the model that an optimizer trains and that got
    gradients: what they stood in for (`stood`, see stood_in), or, where nothing shows that, what
    they are (the script's name for each, `name_of`, and shape), unjudged beside a model judged as
    usual. `holds_model`: the optimizer trains some of the model too."""
    n = len(graded)
    one = n == 1
    tensors = f"{n} tensor{'' if one else 's'} that belong{'s' if one else ''} to no module of the model"
    if stood:
        return (f"{optimizer} trains {tensors} and got gradients, shaped as {listed([r.name for r in stood])} of the "
                f"model, which got none: torch.func.functional_call or a stateless loop passes them in place of "
                f"those parameters, which took no part in the steps and were not judged")
    named = [name_of(t) for t in graded[:_SHOW]]
    if any(named):
        what = "; ".join(f"{name}, shape {list(t.shape)}" if name else f"shape {list(t.shape)}"
                         for name, t in zip(named, graded))
    else:
        what = f"shape{'' if one else 's'} " + ", ".join(str(list(t.shape)) for t in graded[:_SHOW])
    more = f" and {n - _SHOW} more" if n > _SHOW else ""
    return (f"{optimizer} {'also ' if holds_model else ''}trains {tensors} ({what}{more}): "
            f"{'it' if one else 'they'} got gradients and {'was' if one else 'were'} not judged")


def _counter(b: BufferRecord) -> bool:
    """An integer buffer (num_batches_tracked) counts batches; it is no statistic."""
    return b.dtype.startswith(("int", "uint", "bool"))


def _counted_finding(counted: list[tuple[str, list[BufferRecord]]], by_module: Mapping[str, ModuleRecord],
                     live: Sequence[tuple[str, nn.Module]], over: str) -> AuditFinding:
    """FZ502 for frozen norm layers in train mode of which only the batch counter moved: momentum=0
    keeps running_mean and running_var, but in train mode the layer normalises with each batch's
    own statistics, not with the running ones it keeps: momentum=0 does not freeze it, eval() does."""
    names = [_label(m) for m, _ in counted]
    one = len(names) == 1
    kinds = sorted({by_module[m].type for m, _ in counted if m in by_module})
    leaves = sorted({b.name.rpartition(".")[2] for _, bs in counted for b in bs})
    wanted = {m for m, _ in counted}
    zero = [m for n, m in live if n in wanted and getattr(m, "momentum", None) == 0]
    why = "momentum=0 keeps running_mean and running_var" if len(zero) == len(counted) else \
        "the running mean and variance did not"
    it, its = ("it", "its") if one else ("them", "their")
    return AuditFinding(
        "FZ502", names[0] if one else f"{len(names)} modules",
        f"{listed(names)} ({', '.join(kinds)}) {'has' if one else 'have'} all parameters frozen and "
        f"{'runs' if one else 'run'} in train mode: only {', '.join(leaves)} moved {over} ({why}), yet in train mode "
        f"{'it normalises' if one else 'they normalise'} each batch with that batch's own mean and variance, not "
        f"{its} running statistics, so {its} output still depends on the batch; "
        + ("momentum=0 does not freeze " + it + ", nor does requires_grad" if zero else
           "requires_grad does not freeze " + it) + " (FZ202 in the code)",
        f"put {it} in eval(), again after every train() that reaches {it} (or override train()): in eval() "
        f"{'it normalises' if one else 'they normalise'} with {its} running statistics and "
        f"{'updates' if one else 'update'} nothing"
        + (f"; or replace {it} with torchvision.ops.FrozenBatchNorm2d" if kinds == ["BatchNorm2d"] else ""),
        names)


def _torch_forward(live: Sequence[tuple[str, nn.Module]], name: str) -> bool:
    """The module's forward is torch's own: none of those updates a buffer in eval() (BatchNorm's
    reads its running statistics there), so statistics of one that moved in eval() were the
    script's to write (a load_state_dict, reset_running_stats()), as a frozen parameter it writes."""
    m = next((m for n, m in live if n == name), None)
    return m is not None and getattr(type(m).forward, "__module__", "").startswith("torch.")


def _moved_in_eval_finding(moved: list[tuple[str, list[BufferRecord]]], by_module: Mapping[str, ModuleRecord],
                           status_of: Mapping[str, str], over: str) -> AuditFinding:
    """FZ502 for frozen modules whose statistics moved while they stayed in eval() (no train()
    switched them out of it): their own forward updates them whatever the mode, as a norm layer of
    the script's own calling F.batch_norm(..., training=True) does. Neither eval(), requires_grad
    nor torch.no_grad() stops such a forward: only one that reads its mode does."""
    names = [_label(m) for m, _ in moved]
    one = len(names) == 1
    kinds = sorted({by_module[m].type for m, _ in moved if m in by_module})
    leaves = list(dict.fromkeys(b.name.rpartition(".")[2] for _, bs in moved for b in bs if not _counter(b)))
    buffers = leaves[0] if len(leaves) == 1 else f"{', '.join(leaves[:-1])} and {leaves[-1]}"
    own = [status_of.get(m, "no params") != "no params" for m, _ in moved]
    frozen_how = ("has all parameters frozen" if one else "have all parameters frozen") if all(own) else \
        ("has no parameters of its own and sits in a frozen part" if one else
         "have no parameters of their own and sit in frozen parts") if not any(own) else \
        "have all parameters frozen or sit, without parameters of their own, in frozen parts"
    it, its, forward = ("it", "its", "forward") if one else ("them", "their", "forwards")
    return AuditFinding(
        "FZ502", names[0] if one else f"{len(names)} modules",
        f"{listed(names)} ({', '.join(kinds)}) {frozen_how} and stayed in eval(), yet {its} "
        f"buffer{'' if len(leaves) == 1 else 's'} {buffers} moved{_moved_by(moved)} {over}: no train() switched {it} "
        f"out of eval(), so {its} own {forward} {'updates' if one else 'update'} them whatever the mode (as one "
        f"calling F.batch_norm(..., training=True) does); eval(), requires_grad_(False) and torch.no_grad() do not "
        f"stop that",
        f"make {its} {forward} update them only in train mode (F.batch_norm(..., training=self.training), as "
        f"torch's nn.BatchNorm layers do), or replace {it} with {'such a layer' if one else 'such layers'} holding "
        f"{its} weights and statistics",
        names)


def _swapped_in(opts: Mapping[str, torch.optim.Optimizer], live: Sequence[tuple[str, nn.Module]]) -> dict[str, bool]:
    """Parameter name -> swapped by load_state_dict, for each parameter of the model that took the
    place, in the same module object, of one an optimizer holds (the watch logs such swaps: see
    swaps.py)."""
    from freezelint.runtime.swaps import swapped_out

    name_of = {id(m): n for n, m in live}
    out: dict[str, bool] = {}
    for opt in opts.values():
        for group in opt.param_groups:
            for t in group["params"]:
                hit = swapped_out(t)
                if hit is not None and id(hit[0]) in name_of:
                    module, leaf, loading = hit
                    out[f"{name_of[id(module)]}.{leaf}" if name_of[id(module)] else leaf] = loading
    return out


_OR_SWAPPED = (" (or its Parameters were swapped for new ones after it was built: by load_state_dict(..., "
               "assign=True) or `layer.weight = nn.Parameter(...)`; nothing left on the model tells the two apart)")
# whether torch.__future__.set_overwrite_module_params_on_conversion(True) is in force
_OVERWRITES = getattr(torch.__future__, "get_overwrite_module_params_on_conversion", lambda: False)


def _replaced_findings(replaced: list[tuple[str, list[ParamRecord], bool]], by_module: dict,
                       held_by: bool | str) -> list[AuditFinding]:
    """FZ302 for layers whose trainable parameters are in no param group while the optimizer holds
    tensors no longer in the model: one finding per layer, or one for all of them where the cause is
    one conversion of the whole model (torch's overwrite flag set, none known replaced whole)."""
    held = f" ({held_by})" if isinstance(held_by, str) else ""
    if len(replaced) > 1 and _OVERWRITES() and not any(whole for _, _, whole in replaced):
        tops = [top for top, _, _ in replaced]
        ps = [p for _, group, _ in replaced for p in group]
        kinds = ", ".join(dict.fromkeys(by_module[t].type for t in tops))
        return [AuditFinding(
            "FZ302", f"{len(tops)} modules", f"{listed([_label(t) for t in tops])} ({kinds}) have {len(ps)} trainable "
            f"parameters ({listed([p.name for p in ps])}) in no param group, while the optimizer holds tensors that "
            f"are no longer in the model{held}: their Parameters were swapped for new ones after the optimizer was "
            f"built ({_FLAG_SET}), so the new ones are never trained, and the old ones, out of the forward, get no "
            f"gradient and only take the optimizer's memory",
            _CONVERT_ADVICE,
            [p.name for p in ps])]
    out = []
    for top, ps, whole in replaced:
        out.append(AuditFinding(
            "FZ302", _label(top), f"{_label(top)} ({by_module[top].type}) has {len(ps)} trainable "
            f"parameter{'s' if len(ps) != 1 else ''} ({listed([p.name for p in ps])}) in no param group, while the "
            f"optimizer holds tensors that are no longer in the model{held}: the layer was replaced after "
            f"the optimizer was built{'' if whole else _or_swapped()}, so the new one is never trained, and the "
            f"old one, out of the forward, gets no gradient and only takes the optimizer's memory",
            ("build the optimizer after replacing layers" if whole else
             _CONVERT_ADVICE if _OVERWRITES() else "build the optimizer after replacing layers or loading with assign=True")
            + ", or `optimizer.add_param_group({'params': layer.parameters()})`", [p.name for p in ps]))
    return out


def _or_swapped() -> str:
    """The other cause of a layer whose Parameters are new: with torch's overwrite flag set, every
    conversion (.to(), .half(), .to(memory_format=...)) puts new Parameter objects in the layer."""
    if not _OVERWRITES():
        return _OR_SWAPPED
    return f" (or its Parameters were swapped for new ones after it was built: {_FLAG_SET})"


_CONVERT_ADVICE = ("build the optimizer after converting the model (.to(), .half()) or replacing layers, or leave "
                   "that flag at its default (False: the conversions then keep the Parameter objects)")
# why every layer's Parameters are new after a conversion, where torch's overwrite flag is set
_FLAG_SET = ("torch.__future__.set_overwrite_module_params_on_conversion(True) is set, under which a conversion, "
             ".to(), .half(), .float(), .cuda() or .to(memory_format=...), gives every layer new Parameter objects; "
             "load_state_dict(..., assign=True) and `layer.weight = nn.Parameter(...)` do too")


def _replaced_whole(opts: Mapping[str, torch.optim.Optimizer], live: Sequence[tuple[str, nn.Module]],
                    missing: list[ParamRecord]) -> bool:
    """Whether the layer was surely replaced whole, not its Parameters swapped: a watch saw a layer
    replaced that held a tensor the optimizer still holds, or the tensors no longer in the model
    are not shaped as the ones missing from every group (a swap keeps the shapes: load_state_dict
    checks them)."""
    from freezelint.runtime.swaps import replaced_out

    in_model = {id(p) for _, m in live for p in m.parameters(recurse=False)}
    stale = [t for opt in opts.values() for g in opt.param_groups for t in g["params"] if id(t) not in in_model]
    if any(replaced_out(t) for t in stale):
        return True
    return not live or bool(Counter(tuple(p.shape) for p in missing) - Counter(tuple(t.shape) for t in stale))


def _swapped_finding(top: str, kind: str, names: list[str], swaps: Mapping[str, bool]) -> AuditFinding:
    """FZ302 where the layer stayed and its Parameters were swapped for new ones after the optimizer
    was built: by load_state_dict(..., assign=True), or by assigning an nn.Parameter to it."""
    one = len(names) == 1
    loaded = all(swaps[n] for n in names)
    new, its = ("a new Parameter object", "its") if one else ("new Parameter objects", "their")
    how = (f"load_state_dict(..., assign=True) put {new}, the checkpoint's tensor{'' if one else 's'}, in {its} place"
           if loaded else f"{new} {'was' if one else 'were'} assigned in {its} place (`layer.weight = nn.Parameter(...)`)"
           if not any(swaps[n] for n in names) else
           "load_state_dict(..., assign=True) and assigned nn.Parameter objects put new ones in their place")
    advice = ("load the state dict before building the optimizer, or without assign=True (it then copies the "
              "values into the Parameters the optimizer holds)" if loaded else
              "assign the new Parameters before building the optimizer, or copy the values into the ones it holds "
              "(`with torch.no_grad(): layer.weight.copy_(new)`)")
    return AuditFinding(
        "FZ302", _label(top),
        f"{_label(top)}{f' ({kind})' if kind else ''} has {len(names)} trainable parameter{'' if one else 's'} ({listed(names)}) in no "
        f"param group: no layer was replaced, but after the optimizer was built {how}, so the optimizer still "
        f"holds the old {'one' if one else 'ones'}, which no forward uses, and the new {'one is' if one else 'ones are'} "
        f"never trained", advice, list(names))


_MODEL_TRAIN = "model.train()"


def _by_call(moved: list[tuple[str, list[BufferRecord]]], undone_by: Mapping[str, str] | None
             ) -> dict[str, list[tuple[str, list[BufferRecord]]]]:
    """The undone modules by the train() call that switched them (`backbone.train()`), in order."""
    out: dict[str, list[tuple[str, list[BufferRecord]]]] = {}
    for mod, bufs in moved:
        part = (undone_by or {}).get(mod)
        out.setdefault(f"{part}.train()" if part else _MODEL_TRAIN, []).append((mod, bufs))
    return out


def _site(mods: list[tuple[str, list[BufferRecord]]], sites: Mapping[str, str] | None) -> str | None:
    """Where the train() call that switched the first of `mods` was made, if the watch saw it."""
    return (sites or {}).get(mods[0][0]) if mods else None


def _switched(call: str, site: str | None = None) -> str:
    """The train() call as a message names it: where it was made where the watch saw that (a hook
    of the user's, a framework's loop after every batch), else as an epoch loop calls it (audit()
    calls it so itself)."""
    if site is not None:
        return f"{call}, called {site},"
    return "model.train() (as every epoch loop calls it)" if call == _MODEL_TRAIN else call


def _train_override(model: nn.Module) -> str | None:
    """`Backbone.train` where the model's class (under a DDP-style wrapper's `.module`) overrides
    nn.Module.train: its own override is what left the modules in train mode."""
    for m in (model, getattr(model, "module", None)):
        if isinstance(m, nn.Module):
            owner = next((c for c in type(m).__mro__ if "train" in vars(c)), nn.Module)
            if owner is not nn.Module and not owner.__module__.startswith(("torch.", "lightning", "pytorch_lightning",
                                                                           "transformers.")):
                return f"{owner.__name__}.train"
    return None


def _frozen_whole(call: str, params: list[ParamRecord], by_module: Mapping[str, ModuleRecord]) -> bool:
    """Whether the part whose train() call undid the freeze (`teacher.train()`) is frozen whole:
    every parameter frozen and in no param group, as a distillation teacher is."""
    if call == _MODEL_TRAIN:
        return False
    part = call.removesuffix(".train()")
    rec = by_module.get(part)
    under = [p for p in params if p.name.startswith(part + ".")]
    return bool(rec is not None and rec.status == "frozen" and under
                and all(p.group is None and not p.requires_grad for p in under))


def _fix_whole(call: str) -> str:
    """For a part frozen whole (a teacher): nothing of it trains, so its train() call has no use."""
    part = call.removesuffix(".train()")
    return (f"stop calling {call}: {part} is frozen whole (no parameter of it trains, none is in an optimizer), "
            f"so keep it in eval(); or override its train() to keep it in eval() (`def train(self, mode=True): "
            f"return super().train(False)`); or ")


def _fix_override(override: str) -> str:
    return (f"`{override}` overrides train(), yet these modules end it in train mode: in it, call "
            f"super().train(mode) first (it puts every submodule back in train mode) and the eval() calls "
            f"after it; or ")


def _eval_only_undone(moved: list[tuple[str, list[BufferRecord]]], over: str, watched: bool,
                      call: str = _MODEL_TRAIN, override: str | None = None, site: str | None = None) -> AuditFinding:
    """FZ201 for an eval-only freeze: the statistics were to be kept, the parameters to train."""
    names = [_label(m) for m, _ in moved]
    one = len(names) == 1
    return AuditFinding(
        "FZ201", names[0] if one else f"{len(names)} modules",
        f"{listed(names)} {'was' if one else 'were'} put in eval() to keep {'its' if one else 'their'} running "
        f"statistics ({'its' if one else 'their'} weight and bias left to train), but {_switched(call, site)} "
        f"switched {'it' if one else 'them'} back and the statistics moved{_moved_by(moved)} {over}",
        (_fix_override(override) + f"call the freeze again after each {call}" if override and call == _MODEL_TRAIN
         else f"put them back in eval() after every {call}: override train() in the model (call "
         "super().train(mode), then eval() on them, as mmdet's norm_eval does), or call the freeze again after "
         f"each {call}") + ("" if watched else "; if your loop already does, audit with call_train=False "
                          "(or watch the real loop: freezelint.watch())"), _several(names))


def _state_per_param(opt: torch.optim.Optimizer) -> bool:
    """Whether the optimizer keeps its state per parameter. LBFGS keeps one for all it holds, under
    its first parameter: that key says nothing of the others, nor of steps before a freeze."""
    return not isinstance(opt, torch.optim.LBFGS)


def _moves_gradless(opt: torch.optim.Optimizer) -> bool:
    """Whether the optimizer moves a parameter whose .grad is None: LBFGS steps every parameter it
    holds along one direction computed from its history over all of them (a None grad reads as
    zeros), where torch's other optimizers skip such a parameter."""
    return isinstance(opt, torch.optim.LBFGS)


# FZ501's cause for parameters LBFGS moved with no grad (torch.optim.LBFGS._add_grad)
_LBFGS_MOVES = ("{{their}} .grad was None at every step, but {opt} moves every parameter it holds along one direction "
                "computed from its history over all of them, whatever {{their}} .grad: the history kept {{their}} "
                "part from steps before the freeze, so each step still moved {{them}}")


def _pooled_state(opt: torch.optim.Optimizer, group: Mapping) -> str:
    """What frozen parameters cost an optimizer without per-parameter state (LBFGS): its history is
    flat vectors over every parameter it holds, zeros where the .grad is None."""
    size = group.get("history_size")
    return (f"{type(opt).__name__} keeps no state per parameter, but one history for all it holds "
            f"(up to {f'history_size={size}' if size else 'its history size'} past steps and gradient "
            f"differences, each a flat vector over every parameter), so these frozen ones take room there as zeros")


def _n_hold(n: int) -> str:
    return f"{n} hold{'s' if n == 1 else ''}"


def _frozen_after_steps(opt: torch.optim.Optimizer, group: dict) -> bool:
    """Whether the frozen parameters of the group that hold optimizer state got it from steps
    that updated them, before they were frozen (an optimizer makes a parameter's state at a step
    where it has a grad; a `step` count of 0 is state made at construction, Adagrad's)."""
    held = [opt.state.get(p) for p in group["params"] if not p.requires_grad]
    held = [st for st in held if st]
    return bool(held) and all(_stepped(st) for st in held)


def _stepped(state: dict) -> bool:
    step = state.get("step")
    if step is None:  # SGD's momentum_buffer, made at a step with a grad
        return True
    try:
        return float(step) > 0
    except (TypeError, ValueError):
        return True


def _fz504_after_advice(one: bool, graded: bool, wrote: bool = False) -> str:
    """For parameters frozen after the optimizer had trained them, where building it from a
    requires_grad filter cannot apply: what a .grad of None does, and how to free the state.
    `wrote`: the loop gives them a new .grad at each step, which setting it to None once undoes not."""
    it, its = ("it", "its") if one else ("them", "each one's")
    skip = ("torch's optimizers skip a parameter whose .grad is None: no update, no weight decay, no momentum")
    free = f"`optimizer.state.pop(p)` for {'it' if one else 'each'} when freezing frees the state"
    if wrote:
        return (f"leave {it} out of the grads the loop writes (differentiate only the parameters that require grad "
                f"and give .grad only to those; torch's optimizers skip one whose .grad is None), or out of the "
                f"optimizer; {free}")
    if graded:
        return (f"set {its} `.grad = None` when freezing {it} ({skip}; zero_grad(set_to_none=False) leaves a None "
                f"grad None); {free}")
    return (f"{its if one else 'their'} .grad stayed None, so the steps skip {it} ({skip}) and only the state is "
            f"held: {free}, or accept it (`--ignore FZ504`, `ignore=[\"FZ504\"]`)")


def _state_held_note(names: list[str], opt: str) -> str:
    """Parameters trained, then frozen with their grads set to None: what they still hold, that it
    costs memory only, and how to free it."""
    one = len(names) == 1
    it = "it" if one else "them"
    return (f"{listed(names)} {'holds' if one else 'hold'} {opt} state from the steps that trained {it} before "
            f"the freeze; {'its' if one else 'their'} .grad stayed None, so the steps since skip {it} and the "
            f"state only takes memory: `optimizer.state.pop(p)` for {'it' if one else 'each'} when freezing "
            f"frees it")


def _fz504_advice(groups: int) -> str:
    """One group: rebuild it from a requires_grad filter. Several (their own lr or weight decay):
    one filter over model.parameters() would merge them into one group with the defaults, so each
    group's list is filtered instead."""
    if groups == 1:
        return "build the optimizer from `[p for p in model.parameters() if p.requires_grad]`"
    return (f"keep the {groups} param groups and filter each one's list when building the optimizer "
            "(`{'params': [p for p in params if p.requires_grad], 'lr': ...}` for every group); one filter over "
            "model.parameters() would merge them and drop their own lr and weight_decay")


_NEW_PARAMETRIZED = re.compile(r"(?:(.*)\.)?parametrizations\.([^.]+)\.original\d+")


def _reparametrized(names: list[str]) -> dict[str, list[str]] | None:
    """Layer -> tensors, where every one of `names` is a Parameter torch made in place of a layer's
    tensor by splitting it: torch.nn.utils.parametrizations.weight_norm's (any register_parametrization
    whose right_inverse returns several tensors) `layer.parametrizations.weight.original0/1`, or
    torch.nn.utils.weight_norm's `layer.weight_g` and `layer.weight_v`. None when any is not. (A
    parametrization that keeps one tensor, spectral_norm's `original`, keeps the Parameter itself,
    which the optimizer holds.)"""
    layers: dict[str, list[str]] = {}
    named = set(names)
    for n in names:
        new = _NEW_PARAMETRIZED.fullmatch(n)
        if new:
            layer, tensor = new.group(1) or "", new.group(2)
        else:
            layer, _, leaf = n.rpartition(".")
            tensor = leaf[:-2]
            other = f"{tensor}_v" if leaf.endswith("_g") else f"{tensor}_g" if leaf.endswith("_v") else None
            if not tensor or other is None or (f"{layer}.{other}" if layer else other) not in named:
                return None
        if tensor not in layers.setdefault(layer, []):
            layers[layer].append(tensor)
    return layers


def _reparametrized_finding(layers: dict[str, list[str]], names: list[str],
                            by_module: Mapping[str, ModuleRecord]) -> AuditFinding:
    """FZ302 for a layer weight_norm reparametrized after the optimizer was built: torch moved its
    tensor into new Parameters the optimizer does not hold, while it holds the old one."""
    labels = [_label(n) for n in layers]
    one = len(labels) == 1
    kinds = sorted({_unparametrized(by_module[n].type) for n in layers if n in by_module})
    tensors = list(dict.fromkeys(t for ts in layers.values() for t in ts))
    what = " and ".join(f"`{t}`" for t in tensors)
    new_style = any(_NEW_PARAMETRIZED.fullmatch(n) for n in names)
    how = ("torch.nn.utils.parametrizations.weight_norm, or another register_parametrization that splits it"
           if new_style else "torch.nn.utils.weight_norm")
    # the layer's other parameters still in the optimizer (its bias) show the layer itself was kept
    kept = all(by_module[n].optimizer == "some" for n in layers if n in by_module)
    it, they = ("it", "it") if len(tensors) == 1 else ("them", "they")
    head = (f"{listed(labels)} ({', '.join(kinds)}) had {'its' if one else 'their'} {what} reparametrized after the "
            f"optimizer was built ({how})")
    if kept:
        text = (f"{head}: torch moved {it} into new Parameters ({listed(names)}) that are in no param group, while "
                f"the optimizer still holds the old {what}, no longer in the model, so the new {they} never "
                f"train{'s' if len(tensors) == 1 else ''} (the rest of {'the layer' if one else 'those layers'} does)")
    else:  # nothing else of the layer is held: it may as well have been replaced by a reparametrized one
        text = (f"{head}, or {'was' if one else 'were'} replaced after it by {'a layer' if one else 'layers'} "
                f"reparametrized so: the Parameters ({listed(names)}) are in no param group, while the optimizer "
                f"still holds tensors no longer in the model, so {what} never train{'s' if len(tensors) == 1 else ''}")
    advice = ("reparametrize before building the optimizer, or add the new Parameters: "
              + ("`optimizer.add_param_group({'params': list(layer.parametrizations.parameters())})`" if new_style
                 else f"`optimizer.add_param_group({{'params': [layer.{tensors[0]}_g, layer.{tensors[0]}_v]}})`"))
    return AuditFinding("FZ302", labels[0] if one else f"{len(labels)} modules", text, advice, list(names))


def _exactly(exact: bool) -> str:
    """What FZ501 adds for a parameter something other than the optimizer wrote: audit() restores
    such a one bit for bit only with exact=True."""
    return "" if exact else "; audit with exact=True so {they} can be restored"


def _status_without(modules: list[ModuleRecord], params: list[ParamRecord],
                    left: list[ParamRecord]) -> dict[str, str]:
    """Each module's status by name, as if the parameters `left` were buffers: a module with only
    such is "no params", one whose other parameters are all frozen is "frozen"."""
    status_of = {m.name: m.status for m in modules}
    if not left:
        return status_of
    gone = {p.name for p in left}
    for name in {up for p in left for up in _ancestors(p.module)}:
        kept = [p.requires_grad for p in params if p.name not in gone and _under(p.name, name)]
        status_of[name] = ("no params" if not kept else "trainable" if all(kept) else
                           "frozen" if not any(kept) else "partly frozen")
    return status_of


def _ancestors(module: str) -> list[str]:
    """`a.b` -> [`a.b`, `a`, ``]: the module and every one above it, the root last."""
    out = [module]
    while module:
        module = module.rpartition(".")[0]
        out.append(module)
    return out


def _under(name: str, module: str) -> bool:
    return not module or name.startswith(module + ".")


def _stats_moved(stats: list[tuple[str, list[BufferRecord]]], forward_written: set[str], one: bool,
                 over: str) -> str:
    """What FZ502 says moved in frozen modules run in train mode: running statistics, and frozen
    parameters their forwards wrote (records of those stand in `stats` as buffers)."""
    bufs = [(m, [b for b in bs if b.name not in forward_written]) for m, bs in stats]
    written = [b for _, bs in stats for b in bs if b.name in forward_written]
    if not written:
        return f"running statistics moved{_moved_by(stats)} {over}; requires_grad does not stop them (FZ202 in the code)"
    several = len(written) > 1
    rewrote = (f"{'its forward' if one else 'their forwards'} rewrote the frozen parameter{'s' * several} "
               f"{listed([b.name for b in written])}{sized(b.max_abs_delta for b in written)}")
    if not any(bs for _, bs in bufs):
        return f"{rewrote} {over}; requires_grad does not stop a forward that writes {'them' if several else 'it'}"
    return (f"running statistics moved{_moved_by([(m, bs) for m, bs in bufs if bs])} and {rewrote} {over}; "
            f"requires_grad does not stop them (FZ202 in the code)")


def _moved_by(moved: list[tuple[str, list[BufferRecord]]]) -> str:
    """` (up to 0.031)`: the largest change of a floating buffer (num_batches_tracked counts steps,
    not drift), as FZ201 and FZ502 word it; see `sized`."""
    return sized(b.max_abs_delta for _, bs in moved for b in bs if not b.dtype.startswith(("int", "uint", "bool")))


def sized(sizes: Iterable[float | None]) -> str:
    """` (up to 0.031)`: how a finding sizes the largest change among buffers that moved. A change
    from or to an infinite value (a range that starts at +/-inf) and one no number sizes (NaN
    values, a changed shape) are said in words, never printed as inf or nan; empty when none was
    sized."""
    values = [v for v in sizes if v is not None]
    finite = [v for v in values if math.isfinite(v)]
    infinite = any(math.isinf(v) for v in values)
    unsized = any(math.isnan(v) for v in values)
    parts = [f"up to {max(finite):.2g}"] if finite and (max(finite) > 0 or not (infinite or unsized)) else []
    if infinite:
        parts.append("some from or to an infinite value")
    elif unsized:
        parts.append("some by an amount no number gives: NaN values or a changed shape")
    if len(parts) == 2:
        parts[1] = parts[1].replace("some ", "others ", 1)
    return f" ({', '.join(parts)})" if parts else ""


_POWER_WHY = ("they give the largest singular value the layer divides its weight by, so the weight it computes "
              "with changes")


def _power_iteration_layer(mod: str, bufs: list[BufferRecord], by_module: Mapping[str, ModuleRecord],
                           params: list[ParamRecord]) -> str | None:
    """The layer whose spectral norm these moved buffers are the power iteration of, or None:
    torch.nn.utils.parametrizations.spectral_norm keeps `_u` and `_v` in a `_SpectralNorm` module
    at `layer.parametrizations.weight.0`; the older torch.nn.utils.spectral_norm keeps `weight_u`
    and `weight_v` on the layer itself, beside its `weight_orig` parameter."""
    leaves = {b.name.rpartition(".")[2] for b in bufs}
    rec = by_module.get(mod)
    if rec is not None and rec.type == "_SpectralNorm" and leaves <= {"_u", "_v"}:
        if mod.startswith("parametrizations."):
            return ""
        if ".parametrizations." in mod:
            return mod.rsplit(".parametrizations.", 1)[0]
        return None
    stems = {leaf[:-2] for leaf in leaves if leaf.endswith(("_u", "_v"))}
    if len(stems) == 1 and all(leaf.endswith(("_u", "_v")) for leaf in leaves):
        orig = f"{mod}.{next(iter(stems))}_orig" if mod else f"{next(iter(stems))}_orig"
        if any(p.name == orig for p in params):
            return mod
    return None


def _spectral_kinds(layers: list[str], by_module: Mapping[str, ModuleRecord]) -> str:
    """`Linear with spectral_norm`: the layers' classes, as they were before torch parametrized them."""
    kinds = sorted({_unparametrized(by_module[n if n != "(model)" else ""].type) for n in layers
                    if (n if n != "(model)" else "") in by_module})
    return f"{', '.join(kinds)} with spectral_norm" if kinds else "spectral_norm"


def _unparametrized(kind: str) -> str:
    """register_parametrization gives a layer a class of its own, `Parametrized` + its class."""
    return kind[len("Parametrized"):] if kind.startswith("Parametrized") and len(kind) > len("Parametrized") else kind


def _subclass_names(module: str, base: str) -> frozenset[str]:
    """The class names of `module.base` and its subclasses, where that module was imported (none
    of its classes exists otherwise: nothing is imported here)."""
    cls = getattr(sys.modules.get(module), base, None)
    names: set[str] = set()
    todo = [cls] if isinstance(cls, type) else []
    while todo:
        c = todo.pop()
        if c.__name__ not in names:
            names.add(c.__name__)
            todo.extend(c.__subclasses__())
    return frozenset(names)


def _observer_types() -> tuple[frozenset[str], frozenset[str]]:
    """The class names of torch.ao's fake-quantize modules and of its observers, subclasses included."""
    return (_subclass_names("torch.ao.quantization.fake_quantize", "FakeQuantizeBase"),
            _subclass_names("torch.ao.quantization.observer", "ObserverBase"))


def _observers_note(observed: Mapping[str, list[BufferRecord]], by_module: Mapping[str, ModuleRecord],
                    fake_quant: frozenset[str], over: str) -> str:
    """A frozen layer's quantization observers kept recording ranges: no finding (QAT's fake-quantize
    modules observe in train and eval mode alike, and are meant to), but a frozen layer's ranges
    may be meant to stay, and the switch is not eval()."""
    layers = [_label(n) for n in observed]
    one = len(layers) == 1
    kinds = {by_module[b.module].type for bs in observed.values() for b in bs if b.module in by_module}
    leaves = sorted({b.name.rpartition(".")[2] for bs in observed.values() for b in bs
                     if not b.dtype.startswith("bool")})
    text = (f"the quantization observers of frozen {listed(layers)} ({', '.join(sorted(kinds))}) kept recording "
            f"ranges {over} ({', '.join(leaves[:4])}{' and more' if len(leaves) > 4 else ''} moved): not judged as "
            f"frozen statistics, since observing is what they are for, and eval() does not stop it")
    if kinds & fake_quant:
        text += (f"; if the quantization ranges of {'that layer' if one else 'those layers'} are meant to stay as "
                 f"they are, switch {'its' if one else 'their'} observers off with "
                 f"`.apply(torch.ao.quantization.disable_observer)` on {'it' if one else 'them'}")
    return text


def _hit(pattern: str, p: ParamRecord) -> bool:
    """A pattern names a parameter by its name or any alias; a PEFT original_module only when the
    pattern says `original_module` (the copy under modules_to_save is what trains)."""
    if p.original and "original_module" not in pattern:
        return False
    return any(matches(pattern, n) for n in (p.name, *p.aliases))


def expectation_findings(params: list[ParamRecord], expect_frozen: list[str], expect_trainable: list[str],
                         module_names: Sequence[str] = (),
                         buffers: Sequence[BufferRecord] | None = None, among: int = 1,
                         tied: Mapping[str, Sequence[str]] | None = None,
                         in_eval: frozenset[str] = frozenset(),
                         norms: Mapping[str, str] | None = None) -> list[AuditFinding]:
    """FZ506 per pattern. Trainable means requires_grad, held by an optimizer, and changed, or
    reached by a gradient that was exactly zero at every step (LoRA's lora_A while lora_B is still
    zero at initialisation: it moves from the second step on). A pattern that names only modules
    without parameters (by name or glob: a FrozenBatchNorm2d) is frozen where `buffers` tell that
    none of theirs changed. `among`: how many optimizers stepped (FZ503's words for one in none).
    `tied`: a record's name -> the other names of its tensor as a tied weight (not PEFT's or a
    wrapper's other spellings of the same name), for the advice on one a pattern names only in part.
    `in_eval`: the modules whose forwards all ran in eval() (the watch's), where a trainable one expected
    frozen was most likely taken to be frozen by eval(). `norms`: the normalization layers' names ->
    their kinds, for a part frozen all but its norm layers (fastai's, Lightning's and
    pytorch-accelerated's freezing keeps them trainable by default)."""
    out = []

    def untrained(r: ParamRecord) -> bool:
        return not r.changed and not (r.requires_grad and r.group is not None and r.grad == "zero")

    checks = [("expect_frozen", p, lambda r: r.changed or r.requires_grad) for p in expect_frozen] + \
             [("expect_trainable", p, untrained) for p in expect_trainable]
    both = _named_both_ways(params, expect_frozen, expect_trainable, out)
    for option, pattern, wrong in checks:
        hit = [p for p in params if _hit(pattern, p)]
        if hit and all(id(p) in both for p in hit):
            continue  # said once, by the finding on both expectations
        hit = [p for p in hit if id(p) not in both]
        empty = _empty_modules(pattern, module_names, params) if not hit else []
        held = _buffers_only(pattern, empty, buffers) if empty else None
        if held is not None and option == "expect_frozen":
            moved = [b.name for b in held if b.changed]
            if moved:
                out.append(AuditFinding(
                    "FZ506", pattern, f"expected frozen, but {pattern} names modules without parameters whose "
                    f"buffers changed: {listed(moved)}", "put the module in eval mode (`.eval()`) to keep its "
                    "running statistics, or use a module that keeps none (FrozenBatchNorm2d)"))
            continue
        if not hit and (pattern in module_names or empty):
            # a dropout, an activation, a tied head's module
            out.append(AuditFinding("FZ506", pattern, f"{option} pattern names a module that holds no parameters",
                                    "name a module that holds some, or a parameter; see model.named_parameters()"))
            continue
        if not hit:
            pool = [*module_names, *(n for p in params for n in (as_written(p.name), p.name, *p.aliases))]
            widened = _widened_glob(pattern, params)
            near = [] if widened else nearest(pattern, [n for n in pool if n])
            out.append(AuditFinding("FZ506", pattern, f"{option} pattern matched no parameter"
                                    + (f"; nearest names: {', '.join(near)}" if near else "")
                                    + (f"; a glob matches whole dotted names: {widened}" if widened else "")
                                    + ("" if near or widened else _top_level(module_names)),
                                    "a module name matches its whole subtree, a glob (`*`) matches parameter "
                                    "names; see model.named_parameters()"))
            continue
        wrongs = [p for p in hit if wrong(p)]
        if not wrongs:
            continue
        bad = [f"{p.name} (also {', '.join(p.aliases)})" if p.aliases else p.name for p in wrongs]
        # tied to a name the pattern does not name (GPT-2's lm_head.weight is transformer.wte.weight):
        # freezing it freezes that one too
        others = {p.name: [n for n in (tied or {}).get(p.name, ()) if not matches(pattern, n)] for p in wrongs}
        causes, advice = _expectation_causes(option, wrongs, among, {n: o for n, o in others.items() if o}, in_eval)
        kept = _norms_kept_trainable(hit, wrongs, norms or {}) if option == "expect_frozen" else ""
        if kept:
            causes, advice = kept, _NORMS_KEPT_ADVICE
        if option == "expect_frozen":
            out.append(AuditFinding("FZ506", pattern, f"expected frozen, but {listed(bad)} "
                                    f"{'is' if len(bad) == 1 else 'are'} trainable or changed: {causes}", advice))
        else:
            out.append(AuditFinding("FZ506", pattern, f"expected to train, but {listed(bad)} did not change: "
                                    f"{causes}", advice))
    return out


def _top_level(module_names: Sequence[str]) -> str:
    """Where no real name is near an unmatched pattern: the model's top-level modules, the names a
    pattern starts from."""
    tops = [n for n in module_names if n and "." not in n]
    return f"; no name is near it; the model's top-level modules are {listed(tops, 6)}" if tops else ""


def _empty_modules(pattern: str, module_names: Sequence[str], params: list[ParamRecord]) -> list[str]:
    """The modules a pattern that names no parameter names (by name or glob: `bn*` for a
    FrozenBatchNorm2d `bn`), where none of them holds parameters; none where one does (a glob that
    names `blocks.2` matches no whole parameter name: its own message says how to widen it)."""
    named = [m for m in module_names if m and matches(pattern, m)]
    if not named:
        return []
    full = {n.rpartition(".")[0] for p in params for n in (p.name, *p.aliases)}  # the modules holding them
    return [] if any(f == m or f.startswith(m + ".") for m in named for f in full) else named


def _buffers_only(pattern: str, modules: list[str], buffers: Sequence[BufferRecord] | None
                  ) -> list[BufferRecord] | None:
    """The buffers of `modules` (named by `pattern`, holding no parameters), where they hold some;
    None otherwise, or where the buffers were not recorded."""
    if buffers is None:
        return None
    held = [b for b in buffers if any(b.module == m or b.module.startswith(m + ".") for m in modules)]
    return held or None


def _named_both_ways(params: list[ParamRecord], expect_frozen: list[str], expect_trainable: list[str],
                     out: list[AuditFinding]) -> set[int]:
    """Tied parameters that an expect_frozen pattern names by one of their names and an
    expect_trainable pattern by another (GPT-2's lm_head.weight is transformer.wte.weight): one
    finding per pair of patterns, since no change of requires_grad can meet both; ids of their
    records, judged by neither pattern. Patterns that overlap on one name (`ref` and `ref.0`)
    are judged each as written."""
    both: set[int] = set()
    for frozen in expect_frozen:
        for trainable in expect_trainable:
            shared = [p for p in params if id(p) not in both and _by_other_names(p, frozen, trainable)]
            if not shared:
                continue
            both.update(id(p) for p in shared)
            names = listed([f"{p.name} (also {', '.join(p.aliases)})" for p in shared])
            what = (f"one tensor under several names (tied weights), so it cannot be both frozen and trained (it is "
                    f"{'trainable' if shared[0].requires_grad else 'frozen'})" if len(shared) == 1 else
                    "each is one tensor under several names (tied weights), so none of them can be both frozen and "
                    "trained")
            out.append(AuditFinding(
                "FZ506", f"{frozen} / {trainable}",
                f"expect_frozen {frozen} and expect_trainable {trainable} both name {names}: {what}",
                "untie the weights (for a transformers model, tie_word_embeddings=False in its config) to freeze one "
                "name and train the other, or drop one of the two expectations"))
    return both


def _by_other_names(p: ParamRecord, one: str, other: str) -> bool:
    """Whether two patterns name this tied parameter each by names the other does not match."""
    if not p.aliases or not (_hit(one, p) and _hit(other, p)):
        return False
    names = (p.name, *p.aliases)
    first = {n for n in names if matches(one, n)}
    second = {n for n in names if matches(other, n)}
    return bool(first) and bool(second) and not first & second


def _norm_eval_advice(modules: list[str], live: Sequence[tuple[str, nn.Module]]) -> str:
    """For norm layers inside modules that take OpenMMLab's `norm_eval` (mmcv, mmdet, mmpretrain
    backbones: with it True their train() keeps their norm layers in eval()) set to False: the
    switch their users set in the config. '' where any of them has no such owner."""
    by_name = dict(live)
    owners = []
    for m in modules:
        up = m
        while getattr(by_name.get(up), "norm_eval", None) is not False:
            if not up:
                return ""
            up = up.rpartition(".")[0]
        owners.append(up)
    named = [_label(o) for o in dict.fromkeys(owners)]
    return (f"; {listed(named)} {'takes' if len(named) == 1 else 'take'} OpenMMLab's norm_eval, now False: "
            f"set `norm_eval=True` in its config to keep {{them}} in eval() through train()")


def norm_layers(named_modules: Iterable[tuple[str, nn.Module]]) -> dict[str, str]:
    """The normalization layers (BatchNorm, InstanceNorm, LayerNorm, GroupNorm) by name -> their kind:
    those a framework's freeze may keep trainable (fastai's norm_types, Lightning's BatchNorm)."""
    kinds = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)
    return {n: type(m).__name__ for n, m in named_modules if isinstance(m, kinds)}


_NORMS_KEPT_ADVICE = ("if that is meant, name in the expectation only the layers meant to stay frozen; else freeze "
                      "them too (fastai: `Learner(..., train_bn=False)`; Lightning: `BaseFinetuning.freeze(modules, "
                      "train_bn=False)`; pytorch-accelerated: `ModelFreezer(model, freeze_batch_norms=True)`), and put "
                      "their BatchNorm layers in eval() so that the running statistics stay as well")


def _norms_kept_trainable(hit: list[ParamRecord], wrongs: list[ParamRecord], norms: Mapping[str, str]) -> str:
    """Why an expect_frozen pattern failed where the part it names is frozen but for its normalization
    layers, whose parameters alone are trainable: what a framework's freeze does on purpose (fastai's
    `freeze()` with train_bn=True, Lightning's `BaseFinetuning.freeze(train_bn=True)`, pytorch-accelerated's
    ModelFreezer with freeze_batch_norms=False), so that they adapt to the new data. '' otherwise."""
    if not wrongs or not all(r.requires_grad and r.module in norms for r in wrongs):
        return ""
    if not any(not r.requires_grad and r.module not in norms for r in hit):
        return ""  # no frozen layer beside them: not a freeze that spared them
    kinds = ", ".join(sorted({norms[r.module] for r in wrongs}))
    n = len(wrongs)
    return (f"{'it is' if n == 1 else ('all ' if n > 1 else '') + f'{n} are'} trainable (requires_grad=True): "
            f"{'the weight or bias of a normalization layer' if n == 1 else 'the weights and biases of its normalization layers'} "
            f"({kinds}) in a part whose other layers are frozen, as a framework's freeze leaves them on purpose "
            f"(fastai's `Learner.freeze()` with train_bn=True, its default; Lightning's `BaseFinetuning.freeze()` "
            f"with train_bn=True; pytorch-accelerated's ModelFreezer with freeze_batch_norms=False, its default)")


def _expectation_causes(option: str, wrong: list[ParamRecord], among: int = 1,
                        tied_out: Mapping[str, list[str]] | None = None,
                        in_eval: frozenset[str] = frozenset()) -> tuple[str, str]:
    """What the records say went wrong for an expectation's parameters, counted by cause, and
    what to do about each cause present; with several optimizers (`among`), one in none is in no
    param group of any of them, as FZ503 says. `tied_out`: record name -> the names of its tied
    tensor that the pattern does not name; `in_eval`: modules that ran in eval() only."""
    which = f"any of the {among} optimizers" if among > 1 else "the optimizer"
    tied_out = tied_out or {}
    if option == "expect_frozen":
        outside = listed(list(dict.fromkeys(n for ns in tied_out.values() for n in ns)))
        kinds = [(f"trainable (requires_grad=True) as one tensor with {outside} (tied weights), which the pattern "
                  f"does not name: freezing {{them}} freezes {outside} too",
                  "untie the weights (for a transformers model, tie_word_embeddings=False in its config) to freeze "
                  "{them} alone, or freeze {them} under either name if both are to stay frozen",
                  lambda r: r.requires_grad and r.name in tied_out),
                 ("trainable (requires_grad=True), though run in eval(): eval() switches dropout and normalisation "
                  "to inference and freezes nothing", "freeze {them} with requires_grad_(False) as "
                  "well as eval()", lambda r: r.requires_grad and r.name not in tied_out and r.module in in_eval),
                 ("trainable (requires_grad=True)", "freeze {them} with requires_grad_(False)",
                  lambda r: r.requires_grad and r.name not in tied_out and r.module not in in_eval),
                 # what moved them decides the advice: the optimizer is not always it
                 ("changed though frozen: written by the forward of {their} module{s}, run in train mode",
                  "put {their} module{s} in eval(), again after every train() that reaches {them} (or override "
                  "train())", lambda r: not r.requires_grad and r.in_forward),
                 ("changed though frozen: the optimizer stepped {them} (see FZ501)", "keep {them} out of the "
                  "optimizer and clear {their} grads",
                  lambda r: not r.requires_grad and not r.in_forward and r.group is not None and r.grad != "none"),
                 ("changed though frozen: something other than the optimizer wrote {them} (the forward, a hook or "
                  "the script's own code)", "find what writes {them} and stop it, if {they} must stay as {they} "
                  "{are}", lambda r: not r.requires_grad and not r.in_forward and (r.group is None or r.grad == "none"))]
    else:
        kinds = [("frozen (requires_grad=False), in the optimizer", "unfreeze {them} with requires_grad_(True) (the "
                  "optimizer holds {them} already)", lambda r: not r.requires_grad and r.group is not None),
                 ("frozen (requires_grad=False)", "unfreeze {them} with requires_grad_(True) and give {them} to the "
                  "optimizer", lambda r: not r.requires_grad and r.group is None),
                 (f"in no param group of {which}", f"add {{them}} to {'one of them' if among > 1 else 'the optimizer'} "
                  "(add_param_group, or build it after unfreezing)", lambda r: r.requires_grad and r.group is None),
                 ("reached by no gradient", "check that the forward uses {them} and nothing detaches {them} from "
                  "the loss", lambda r: r.requires_grad and r.group is not None and r.grad == "none"),
                 ("given a gradient that did not move {them} (a zero learning rate?)", "check {their} param "
                  "group's lr", lambda r: r.requires_grad and r.group is not None and r.grad != "none")]
    counts, todo = [], []
    for what, fix, test in kinds:
        n = sum(1 for r in wrong if test(r))
        if n:
            # the words for one parameter where one has this cause
            words = _ONE if n == 1 else _MANY
            what = what.format(**words)
            counts.append(f"it is {what}" if len(wrong) == 1 else
                          f"{'all ' if n == len(wrong) else ''}{n} {'is' if n == 1 else 'are'} {what}")
            todo.append(fix.format(**words))
    return ", ".join(counts), "; ".join(todo)


def _peft_adapters(model: nn.Module, modules: list[str]) -> bool:
    """Every one of these modules (names in `model`) is, or lies inside, one of PEFT's tuner layers
    (a LoRA Linear's lora_A / lora_B, an adapter's own): parameters get_peft_model created. Only
    where peft is already imported: a model of it has imported it."""
    tuners = sys.modules.get("peft.tuners.tuners_utils")
    base = getattr(tuners, "BaseTunerLayer", None)
    if base is None or not modules:
        return False
    for name in set(modules):
        parts = name.split(".") if name else []
        try:
            chain = [model.get_submodule(".".join(parts[:i])) for i in range(len(parts), 0, -1)]
        except AttributeError:
            return False
        if not any(isinstance(m, base) for m in chain):
            return False
    return True


def _adapter_call(model: nn.Module) -> str:
    """The call that put PEFT's adapters into `model`, as advice names it: get_peft_model wraps the
    model in a tuner (PeftModel's LoraModel); add_adapter (transformers', diffusers' own: a UNet's
    `unet.add_adapter(config)`) injects them in place and leaves no tuner. get_peft_model where the
    model holds no adapter of peft's, or peft is not imported."""
    tuner, layer = getattr(sys.modules.get("peft.tuners.tuners_utils"), "BaseTuner", None), tuner_layer()
    if tuner is None or layer is None:
        return "get_peft_model"
    kinds = [m for m in model.modules() if isinstance(m, (tuner, layer))]
    return "add_adapter" if kinds and not any(isinstance(m, tuner) for m in kinds) else "get_peft_model"


def _trainer_wraps(call: str) -> str:
    """Where the HF Trainer is imported (TRL's SFT/DPO trainers are made on it), the words for a
    script that never calls get_peft_model: the trainer, given peft_config, calls it itself, after
    an optimizer passed to it (`optimizers=(opt, None)`) was built over the base model."""
    if call != "get_peft_model" or "transformers.trainer" not in sys.modules:
        return ""
    return ("; a trainer given peft_config (TRL's) calls get_peft_model itself, after an optimizer passed to it was "
            "built: wrap the model with get_peft_model before building that optimizer, or let the trainer build it")


def _whole_part(top: str, names: list[str], params: list[ParamRecord]) -> str:
    """Below `top` (the outermost module the optimizer holds nothing of), the outermost module on the
    names' common path whose parameters are all among `names`: `bert.encoder`, unfrozen alone, rather
    than `bert`, whose frozen embeddings are not in question. `top` when none is."""
    common = _common(names) if len(names) > 1 else names[0].rpartition(".")[0]
    if common == "(model)" or (top and not common.startswith(top + ".")):
        return top
    named = set(names)
    if top and all(p.name in named for p in params if p.name.startswith(top + ".")):
        return top
    path = top.split(".") if top else []
    for part in common.split(".")[len(path):]:
        path.append(part)
        where = ".".join(path) + "."
        if all(p.name in named for p in params if p.name.startswith(where)):
            return ".".join(path)
    return top


def grouped(findings: list[AuditFinding], most: int = _SHOW) -> list[AuditFinding]:
    """More than `most` findings of one code with the same advice become one, targeted at the
    module subtree they share, counted, naming the first few (every name kept in `names`).
    Expectations (FZ506) stay one per pattern."""
    def key(f: AuditFinding) -> tuple[str, str]:
        return f.code, f.target if f.code == "FZ506" else (f.advice_many or f.advice)

    buckets: dict[tuple[str, str], list[AuditFinding]] = defaultdict(list)
    for f in findings:
        buckets[key(f)].append(f)
    out: list[AuditFinding] = []
    done: set[tuple[str, str]] = set()
    for f in findings:
        alike = buckets[key(f)]
        if len(alike) <= most:
            out.append(f)
            continue
        if key(f) in done:
            continue
        done.add(key(f))
        names = [n for g in alike for n in (g.names or [g.target])]
        where = _subtree(names)
        noun = _NOUNS.get(f.code, "alike")
        out.append(AuditFinding(f.code, where, f"{len(names)} {noun}, the same way: {listed(names)} — e.g. "
                                f"{f.message}", f.advice_many or f.advice, names))
    return out


# what a grouped finding's names are, by code (FZ1xx name modules and parameters alike)
_NOUNS = {"FZ201": "modules", "FZ502": "modules", "FZ501": "parameters", "FZ503": "parameters",
          "FZ504": "parameters", "FZ505": "parameters"}


def _subtree(names: list[str]) -> str:
    """The deepest module path every name lies under, or (model)."""
    parts = [n.split(".") for n in names]
    prefix = []
    for level in zip(*parts):
        if len(set(level)) != 1:
            break
        prefix.append(level[0])
    if prefix and all(len(p) == len(prefix) for p in parts):
        prefix.pop()  # every name is the prefix itself: its parent holds them
    return ".".join(prefix) or "(model)"


_ADD_TO = re.compile(r"add (it|them) to the optimizer(?: \(`optimizer\.add_param_group\(\.\.\.\)`\))?")


def held_beside(found: list[AuditFinding], records: list[ParamRecord], onames: list[str]) -> list[AuditFinding]:
    """FZ503 with several optimizers: "add them to the optimizer" names which one. That is the one
    that holds the layer's neighbours (its module's other parameters, else the rest of the nearest
    module above it that any optimizer holds part of); where several hold them, or none does,
    the advice names those there are to choose from."""
    if len(onames) < 2:
        return found
    return [_named_holder(f, records, onames) if f.code == "FZ503" else f for f in found]


def _named_holder(f: AuditFinding, records: list[ParamRecord], onames: list[str]) -> AuditFinding:
    names = set(f.names or [f.target])
    modules = [r.module for r in records if r.name in names]
    if not modules:
        return f
    level = _shared_module(modules)
    own = len(set(modules)) == 1  # one module: its other parameters first
    while True:
        held = list(dict.fromkeys(r.optimizer for r in records if r.group is not None and r.name not in names
                                  and r.optimizer and (not level or r.module == level
                                                       or r.module.startswith(level + "."))))
        if held or not level:
            break
        level, own = level.rpartition(".")[0], False
    what = (f"{level}'s other parameters" if own and level else f"the rest of {level}" if level else "the rest of the model")
    if len(held) == 1:
        to = f"{held[0]}, the optimizer that holds {what} (`{held[0]}.add_param_group(...)`)"
    elif held:
        to = f"whichever of {_either(held)} (which hold {what}) should train {{them}} (`.add_param_group(...)`)"
    else:
        to = f"whichever of the {len(onames)} optimizers ({_either(onames)}) should train {{them}} " \
             f"(`.add_param_group(...)`)"

    def named(advice: str) -> str:
        return _ADD_TO.sub(lambda m: f"add {m[1]} to " + to.replace("{them}", m[1]), advice)
    return dataclasses.replace(f, advice=named(f.advice), advice_many=named(f.advice_many) if f.advice_many else "")


def _shared_module(modules: list[str]) -> str:
    """The deepest module every one of these lies in (itself, for one): '' for the model."""
    parts = [m.split(".") if m else [] for m in modules]
    prefix = []
    for level in zip(*parts):
        if len(set(level)) != 1:
            break
        prefix.append(level[0])
    return ".".join(prefix)


def _either(names: list[str]) -> str:
    """`a or b`, `a, b or c`: optimizers to choose one from."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
