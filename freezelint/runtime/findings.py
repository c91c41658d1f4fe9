"""Turn what the audit observed into findings, in the catalogue's vocabulary.

Facts behind the messages (PYTORCH_FACTS.md): a frozen parameter moves at `step()` only when
its `.grad` is a tensor and the optimizer has momentum, moving averages or weight decay (or the
stale grad is non-zero); BatchNorm statistics move in train mode whatever requires_grad says.
"""

from __future__ import annotations

from collections import defaultdict
from fnmatch import fnmatchcase

import torch
from torch import nn

from freezelint.runtime.report import AuditFinding, BufferRecord, ModuleRecord, ParamRecord
from freezelint.spelling import FOREIGN, is_misspelling

_SHOW = 3  # names listed before "and N more"


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOW])
    return shown + (f" and {len(names) - _SHOW} more" if len(names) > _SHOW else "")


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


def live_findings(modules: list[tuple[str, nn.Module]], params: list[tuple[str, nn.Parameter]]) -> list[AuditFinding]:
    """FZ101/FZ102/FZ103, visible on the live objects whatever the steps do (the model's named
    modules and parameters)."""
    out: list[AuditFinding] = []
    for name, m in modules:
        attrs = vars(m)
        if "requires_grad_" in attrs:
            out.append(AuditFinding("FZ101", _label(name), f"`requires_grad_` on this {type(m).__name__} was "
                                    f"overwritten with {attrs['requires_grad_']!r}, so nothing was frozen",
                                    f"call `.requires_grad_({attrs['requires_grad_']!r})` instead and delete "
                                    f"the attribute (`del module.requires_grad_`)"))
        if "requires_grad" in attrs:
            out.append(AuditFinding("FZ102", _label(name), f"this {type(m).__name__} has a plain `requires_grad` "
                                    f"attribute ({attrs['requires_grad']!r}) that autograd never reads",
                                    f"call `.requires_grad_({attrs['requires_grad']!r})` to set it on every "
                                    f"parameter"))
        for attr in sorted(a for a in attrs if is_misspelling(a) or a in FOREIGN):
            out.append(AuditFinding("FZ103", _label(name), f"attribute `{attr}` was set on this "
                                    f"{type(m).__name__}; it is not `requires_grad` and freezes nothing",
                                    "use `.requires_grad_(value)`"))
    for name, p in params:
        attrs = getattr(p, "__dict__", {})
        if "requires_grad_" in attrs:
            out.append(AuditFinding("FZ101", name, f"`requires_grad_` on this Parameter was overwritten with "
                                    f"{attrs['requires_grad_']!r}; requires_grad is still {p.requires_grad}",
                                    "call `p.requires_grad_(value)` and `del p.requires_grad_`"))
        for attr in sorted(a for a in attrs if is_misspelling(a) or a in FOREIGN):
            out.append(AuditFinding("FZ103", name, f"attribute `{attr}` was set on this Parameter; "
                                    f"requires_grad is still {p.requires_grad}", "set `p.requires_grad`"))
    return out


def _hyper(optimizer: torch.optim.Optimizer, group: dict) -> str:
    parts = [type(optimizer).__name__]
    for key in ("lr", "momentum", "weight_decay", "betas", "nesterov"):
        if key in group and group[key] not in (0, 0.0, False, None):
            v = group[key]
            if isinstance(v, torch.Tensor):
                v = v.item()
            parts.append(f"{key}={v}")
    return " ".join(parts)


def _is_stateful(optimizer: torch.optim.Optimizer, group: dict) -> bool:
    return bool(group.get("momentum") or group.get("weight_decay") or "betas" in group
                or type(optimizer).__name__ in ("Adagrad", "Adadelta", "RMSprop", "Rprop"))


def step_findings(model: nn.Module, optimizer: torch.optim.Optimizer, params: list[ParamRecord],
                  buffers: list[BufferRecord], modules: list[ModuleRecord], modes_before: dict[str, bool],
                  steps: int, set_to_none: bool, optimizer_has_foreign: bool,
                  call_train: bool, grads_from_ddp: frozenset[str] = frozenset()) -> list[AuditFinding]:
    """Findings from one process's steps. `grads_from_ddp` names frozen parameters DDP's reducer
    still all-reduces (frozen after the wrap): their grads come from the other ranks."""
    out: list[AuditFinding] = []
    groups = optimizer.param_groups
    by_module = {m.name: m for m in modules}
    over = f"over {steps} step{'s' if steps != 1 else ''}"

    # FZ501: frozen but moved — grouped by cause, named by their common module
    moved_frozen: dict[tuple, list[ParamRecord]] = defaultdict(list)
    for p in params:
        if not p.requires_grad and p.changed:
            kind = "ddp" if p.name in grads_from_ddp else p.grad
            moved_frozen[(p.group, kind if p.group is not None else None)].append(p)
    for (gi, grad_kind), ps in moved_frozen.items():
        names = [p.name for p in ps]
        deltas = [p.max_abs_delta for p in ps if p.max_abs_delta is not None]
        delta = f"by up to {max(deltas):.2g} " if deltas else ""
        if gi is not None and grad_kind == "ddp":
            why = (f"they were frozen after DistributedDataParallel wrapped the model, so DDP still writes the "
                   f"gradient all-reduced from the other ranks into their .grad, and the optimizer "
                   f"({_hyper(optimizer, groups[gi])}) applied it")
            advice = "freeze before wrapping in DDP (or wrap again), and keep frozen parameters out of the optimizer"
        elif gi is not None:
            grad = {"zero": "a zero tensor", "nonzero": "a stale non-zero tensor"}.get(grad_kind, "a tensor")
            why = (f"their .grad was {grad} left from before they were frozen, and the optimizer "
                   f"({_hyper(optimizer, groups[gi])}) applied it")
            if not set_to_none:
                why += "; zero_grad(set_to_none=False) keeps such grads alive"
            advice = ("after freezing, clear the grads (`p.grad = None` or `zero_grad(set_to_none=True)`) and "
                      "build the optimizer from trainable parameters only")
        else:
            why = "they are in no param group, so something else wrote to them (the forward pass, a hook, or " \
                  "another optimizer)"
            advice = "find what writes to them; audit with exact=True so they can be restored"
        out.append(AuditFinding("FZ501", _common(names), f"{_names(names)}: requires_grad=False, yet changed "
                                f"{delta}{over}; {why}", advice))

    # FZ201 / FZ502: running statistics moved in frozen modules
    status_of = {m.name: m.status for m in modules}

    def frozen(name: str) -> bool:
        while True:
            st = status_of.get(name, "no params")
            if st != "no params":
                return st == "frozen"
            if not name:
                return False
            name = name.rpartition(".")[0]

    moved: dict[str, list[BufferRecord]] = defaultdict(list)
    for b in buffers:
        if b.changed:
            moved[b.module].append(b)
    undone, unfrozen_stats = [], []
    for mod, bufs in moved.items():
        if not frozen(mod):
            continue
        (undone if (call_train and not modes_before.get(mod, True)) else unfrozen_stats).append((mod, bufs))
    if undone:
        names = [_label(m) for m, _ in undone]
        largest = max((b.max_abs_delta or 0.0) for _, bs in undone for b in bs)
        out.append(AuditFinding(
            "FZ201", names[0] if len(names) == 1 else f"{len(names)} modules",
            f"{_names(names)} {'was' if len(names) == 1 else 'were'} in eval() to freeze running statistics, but "
            f"model.train() (as every epoch loop calls it) switched {'it' if len(names) == 1 else 'them'} back and "
            f"the statistics moved (up to {largest:.2g}) {over}",
            "re-apply .eval() to these modules after every model.train(): override train() in the model, or "
            "use torchvision.ops.FrozenBatchNorm2d"))
    if unfrozen_stats:
        names = [_label(m) for m, _ in unfrozen_stats]
        largest = max((b.max_abs_delta or 0.0) for _, bs in unfrozen_stats for b in bs)
        kinds = sorted({by_module[m].type for m, _ in unfrozen_stats if m in by_module})
        out.append(AuditFinding(
            "FZ502", names[0] if len(names) == 1 else f"{len(names)} modules",
            f"{_names(names)} ({', '.join(kinds)}) have all parameters frozen, but run in train mode, so running "
            f"statistics moved (up to {largest:.2g}) {over}; requires_grad does not stop them",
            "put them in eval() after every model.train() (or override train()), or replace them with "
            "FrozenBatchNorm2d"))

    # FZ302 / FZ503: trainable but in no param group
    missing = [p for p in params if p.requires_grad and p.group is None]
    if missing:
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
        for top, ps in tops.items():
            names = [p.name for p in ps]
            if optimizer_has_foreign and by_module.get(top) and by_module[top].optimizer == "none":
                out.append(AuditFinding(
                    "FZ302", _label(top), f"{_label(top)} ({by_module[top].type}) has {len(ps)} trainable "
                    f"parameter{'s' if len(ps) != 1 else ''} in no param group, while the optimizer still holds "
                    f"parameters that are no longer in the model: the layer was replaced after the optimizer was "
                    f"built and is never trained", "build the optimizer after replacing layers, or "
                    "`optimizer.add_param_group({'params': layer.parameters()})`"))
            else:
                out.append(AuditFinding(
                    "FZ503", names[0] if len(names) == 1 else _label(top),
                    f"{_names(names)}: requires_grad=True but in no param group, so never updated; their .grad "
                    f"accumulates and optimizer.zero_grad() never clears it",
                    "add them to the optimizer (`optimizer.add_param_group(...)`) or freeze them"))

    # FZ504: frozen parameters the optimizer holds state for, or decays
    per_group: dict[int, list[ParamRecord]] = defaultdict(list)
    for p in params:
        if not p.requires_grad and p.group is not None:
            per_group[p.group].append(p)
    for gi, ps in sorted(per_group.items()):
        group = groups[gi]
        with_state = [p.name for p in ps if p.has_state]
        wd = group.get("weight_decay") or 0
        if not with_state and not wd:
            continue
        what = []
        if with_state:
            what.append(f"{len(with_state)} hold optimizer state ({_names(with_state)})")
        if wd:
            what.append(f"the group's weight_decay={wd} shrinks any of them whose .grad is a zero tensor")
        out.append(AuditFinding(
            "FZ504", f"param_groups[{gi}]", f"{len(ps)} frozen parameter{'s' if len(ps) != 1 else ''} "
            f"({_names([p.name for p in ps])}) are in param group {gi} of {_hyper(optimizer, group)}: "
            + "; ".join(what),
            "build the optimizer from `[p for p in model.parameters() if p.requires_grad]`"))

    # FZ505: trainable, optimized, yet unchanged
    still: dict[str, list[ParamRecord]] = defaultdict(list)
    for p in params:
        if p.requires_grad and p.group is not None and not p.changed:
            still[p.module].append(p)
    for mod, ps in still.items():
        # Only the unambiguous causes: a grad that is tiny or zero by construction (a conv bias
        # before BatchNorm, a dead ReLU) is the model's business, not a freezing mistake.
        if all(p.grad == "none" for p in ps):
            why = "no gradient reached them: .grad stayed None (not used in the forward pass, or cut off by " \
                  "detach() / torch.no_grad())"
        elif all(groups[p.group].get("lr") == 0 for p in ps):
            why = "their param group has lr=0, a freeze that still computes grads and state (FZ304)"
        else:
            continue
        names = [p.name for p in ps]
        out.append(AuditFinding(
            "FZ505", names[0] if len(names) == 1 else _label(mod),
            f"{_names(names)}: requires_grad=True and in the optimizer, yet unchanged {over}; {why}",
            "freeze them explicitly if that is intended, otherwise make the loss depend on them"))
    return out


def _matches(pattern: str, name: str) -> bool:
    return name == pattern or name.startswith(pattern + ".") or fnmatchcase(name, pattern)


def expectation_findings(params: list[ParamRecord], expect_frozen: list[str],
                         expect_trainable: list[str]) -> list[AuditFinding]:
    out = []
    checks = [("expect_frozen", p, lambda r: r.changed or r.requires_grad) for p in expect_frozen] + \
             [("expect_trainable", p, lambda r: not r.changed) for p in expect_trainable]
    for option, pattern, wrong in checks:
        hit = [p for p in params if _matches(pattern, p.name)]
        if not hit:
            out.append(AuditFinding("FZ506", pattern, f"{option} pattern matched no parameter",
                                    "check the name against model.named_parameters()"))
            continue
        bad = [p.name for p in hit if wrong(p)]
        if not bad:
            continue
        if option == "expect_frozen":
            out.append(AuditFinding("FZ506", pattern, f"expected frozen, but {_names(bad)} "
                                    f"{'is' if len(bad) == 1 else 'are'} trainable or changed",
                                    "freeze them with requires_grad_(False) and keep them out of the optimizer"))
        else:
            out.append(AuditFinding("FZ506", pattern, f"expected to train, but {_names(bad)} did not change",
                                    "check requires_grad, the optimizer's param groups and the loss"))
    return out
