"""The catalogue: every code freezelint reports, static or runtime, in one table.

A code means the same mistake wherever it is reported. Rule modules (static) and the auditor
(runtime) take name, severity and fix safety from here; messages and rationale live with the
code that detects the mistake.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

ERROR = "error"
WARNING = "warning"

SAFE = "safe"
UNSAFE = "unsafe"

# No documentation site is assumed: a finding links somewhere only when a `docs-url` is set
# (config key or --docs-url), e.g. a project's mirror of the generated rules/ pages. Otherwise
# users are pointed at `freezelint rule FZxxx` and the rules/ pages in the repository.


def docs_url(code: str, template: str | None) -> str | None:
    """The rule's page under a `docs-url` setting: `{code}` in it is replaced by the code, else
    `/FZxxx` is appended. None without a setting."""
    if not template:
        return None
    if "{code}" in template:
        return template.replace("{code}", code)
    return f"{template.rstrip('/')}/{code}"


@dataclass(frozen=True)
class Code:
    code: str
    name: str
    summary: str
    severity: str
    fix: str | None  # SAFE, UNSAFE or None
    static: bool  # found by `freezelint check`
    runtime: bool  # found by `audit()` or the watch (`freezelint run`, `watch()`): freezelint.runtime.docs

    @property
    def url(self) -> str | None:
        """No invented address: None (see `docs_url` for a configured one)."""
        return None


def _c(code, name, summary, severity, fix=None, static=True, runtime=False) -> Code:
    return Code(code, name, summary, severity, fix, static, runtime)


CATALOGUE: dict[str, Code] = {
    c.code: c
    for c in [
        _c("FZ001", "syntax-error", "file could not be parsed or decoded; other files are still checked", ERROR),
        _c("FZ002", "unused-noqa", "a freezelint suppression comment that suppresses nothing or names unknown codes", WARNING),
        _c("FZ101", "requires-grad-method-assigned", "`x.requires_grad_ = v` overwrites the method and freezes nothing", ERROR, SAFE, runtime=True),
        _c("FZ102", "requires-grad-on-module", "`module.requires_grad = v` on an nn.Module: autograd never reads it", ERROR, SAFE, runtime=True),
        _c("FZ103", "requires-grad-misspelled", "a misspelling of `requires_grad` is assigned: it is silently accepted and does nothing", ERROR, SAFE, runtime=True),
        _c("FZ104", "requires-grad-compared-not-set", "`x.requires_grad == v` as a statement compares and discards", ERROR, SAFE),
        _c("FZ105", "requires-grad-on-copy", "requires_grad set on a detached copy (`state_dict()` values, `.data`, `.detach()`, `.clone()`, a parameter rebound to its own cast)", ERROR),
        _c("FZ106", "training-flag-assigned", "`model.training = v` changes one module, not its children", ERROR, SAFE),
        _c("FZ107", "freeze-method-not-called", "`model.eval` or `model.freeze_encoder` named without `()`: nothing is called", ERROR, UNSAFE),
        _c("FZ108", "freeze-method-shadowed", "`self.freeze_bn = flag` hides the class's own `freeze_bn()`: it can never run", ERROR),
        _c("FZ109", "freeze-loop-variable-stale", "`for layer in ...: param.requires_grad = v` sets an earlier loop's last item, not the layers", ERROR),
        _c("FZ110", "lightning-hook-never-called", "freezing code in a hook Lightning 2 never calls (`on_epoch_start`, `on_batch_start`, ...): it never runs", ERROR, UNSAFE),
        _c("FZ111", "peft-head-left-frozen", "PEFT's freeze against what should train: a task model's new head left frozen, a part unfrozen before the PEFT call, the whole model unfrozen after it", WARNING, runtime=True),
        _c("FZ112", "frozen-model-copied", "`copy.deepcopy` of a model frozen whole, then trained: the copy is frozen too", ERROR),
        _c("FZ113", "mode-method-assigned", "`model.train = False` / `model.eval = True` overwrites the mode method: the mode never changes and a later `train()` raises", ERROR, SAFE, runtime=True),
        _c("FZ201", "train-undoes-bn-freeze", "`.train()` reached after BatchNorm was put in eval mode, with no re-freeze after it", ERROR, runtime=True),
        _c("FZ202", "bn-frozen-without-eval", "BatchNorm params frozen with requires_grad only: running stats still move", ERROR),
        _c("FZ203", "bn-check-too-narrow", "a freeze helper tests `isinstance(m, nn.BatchNorm2d)` and misses other BatchNorm kinds", WARNING, UNSAFE),
        _c("FZ204", "bn-attribute-after-init", "`bn.affine = False` after construction does nothing", ERROR),
        _c("FZ301", "optimizer-over-frozen-params", "stateful optimizer over unfiltered parameters in code that freezes some of them", WARNING, UNSAFE),
        _c("FZ302", "layer-replaced-after-optimizer", "a layer replaced (or a module rebuilt, or PEFT adapters added) after the optimizer was built is never trained", ERROR, runtime=True),
        _c("FZ303", "unfrozen-after-optimizer", "params unfrozen after an optimizer built from a requires_grad filter, with no add_param_group", ERROR),
        _c("FZ304", "lr-zero-freeze", "a param group with `lr=0` used as a freeze", WARNING, runtime=True),
        _c("FZ305", "param-iterator-reused", "a filter/generator of params consumed twice (second use is empty)", ERROR, UNSAFE),
        _c("FZ306", "freeze-after-ddp", "requires_grad changed after DistributedDataParallel wrapped the model", ERROR, runtime=True),
        _c("FZ307", "stale-grad-after-freeze", "params frozen after backward without clearing `.grad`", WARNING),
        _c("FZ401", "unchecked-partial-load", "result of `load_state_dict(..., strict=False)` discarded", WARNING),
        _c("FZ402", "filtered-load-unchecked", "a key-filtered state dict loaded without checking it kept anything", WARNING),
        _c("FZ403", "state-dict-entry-assigned", "an entry written into the new dict `state_dict()` returned (`m.state_dict()[k] = v`, `.update(d)`, a named copy edited and dropped): nothing is loaded", ERROR),
        _c("FZ501", "frozen-param-changed", "requires_grad is False but the value changed", ERROR, static=False, runtime=True),
        _c("FZ502", "frozen-stats-changed", "buffers moved in a module whose parameters are all frozen", ERROR, static=False, runtime=True),
        _c("FZ503", "trainable-not-optimized", "requires_grad is True but the param is in no param group (statically: a model in the training forward, neither frozen nor in any optimizer)", ERROR, runtime=True),
        _c("FZ504", "frozen-in-optimizer", "frozen param holds optimizer state or gets weight decay", WARNING, static=False, runtime=True),
        _c("FZ505", "trainable-unchanged", "in the optimizer and requires_grad True, yet unchanged (no grad reached it, or the optimizer is never stepped)", WARNING, runtime=True),
        _c("FZ506", "expectation-failed", "a pattern in expect_frozen changed, or one in expect_trainable did not", ERROR, static=False, runtime=True),
        _c("FZ507", "rank-frozen-mismatch", "requires_grad differs across the ranks of a distributed job", ERROR, static=False, runtime=True),
        _c("FZ508", "rank-divergence", "parameters or buffers differ across ranks that DDP should keep identical", ERROR, static=False, runtime=True),
        _c("FZ509", "param-not-synchronised", "a trainable parameter registered after DistributedDataParallel wrapped the model", ERROR, static=False, runtime=True),
    ]
}


def get(code: str) -> Code:
    return CATALOGUE[code]


def expand_selector(selector: str) -> list[str]:
    """Codes matched by a selector: an exact code, a prefix (`FZ1`, `FZ10`) or `ALL`.

    Raises ValueError for a selector that matches nothing, so typos fail loudly.
    """
    sel = selector.strip().upper()
    if sel == "ALL":
        return sorted(CATALOGUE)
    matched = sorted(c for c in CATALOGUE if c.startswith(sel))
    if not sel.startswith("FZ") or not matched:
        raise ValueError(f"unknown rule selector {selector!r} (expected a code like FZ101, a prefix like FZ1, or ALL)")
    return matched


def check_codes(values: Iterable[str] | str, option: str) -> list[str]:
    """Codes (or selectors: `FZ5`, `ALL`) given to a public function, expanded; a str is one
    selector. ValueError naming the option for anything else."""
    if isinstance(values, str):
        values = [values]
    try:
        items = list(values)
    except TypeError:
        raise ValueError(f"{option} must be a list of codes like FZ504, got {type(values).__name__}") from None
    out: list[str] = []
    for v in items:
        if not isinstance(v, str):
            raise ValueError(f"{option} must hold codes like FZ504, got {v!r}")
        try:
            out.extend(c for c in expand_selector(v) if c not in out)
        except ValueError as e:
            raise ValueError(f"{option}: {e}") from None
    return out
