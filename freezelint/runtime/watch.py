"""`freezelint.watch()`: judge the user's own training steps, observed through torch's global hooks.

`audit()` runs synthetic steps and restores; this observes real ones and restores nothing, so it
must not change what training computes: it draws no random numbers, flips no modes and runs no
forward of its own. It reads, at three kinds of moment:

- a module's forward (`register_module_forward_pre_hook`): the outermost module whose forward
  runs is a candidate model; its buffers are copied and its modules' modes noted there, at the
  start of an iteration (until the window starts, again at each such forward, so nothing the
  script does before training counts);
- an optimizer step (`register_optimizer_step_pre_hook` / `_post_hook`): the first step opens the
  window, and the parameters of the models found so far are fingerprinted before it changes any
  (once, however many forwards came first; where a CPU is spare, that read is begun at the root's
  forward and runs beside the forward and backward, `_start_early`); each completed step records which of the optimizer's parameters required grad (a GAN
  that turns `requires_grad` off for one network during the other's step trains both) and what
  their grads were; a step that a GradScaler skipped inside a fused optimizer does not count;
- `nn.Module.train` (wrapped for the duration, only to record): a `train()` that switches a module
  from eval() back to train mode, the FZ201 mistake.

On a model sharded with FSDP2 (`fully_shard`) every rank watches its own shards (fingerprints of
local tensors only: a DTensor op would start a collective some ranks never enter). At each root
forward with grad enabled, until the window closes, the ranks gather their requires_grad flags:
one that differs would hang the next backward in a reduce-scatter, so the watch judges FZ507
there, on every rank alike, and raises out of the forward (WindowComplete for `freezelint run`,
FreezeAuditError with the report otherwise) instead of stepping into the hang.

The window closes when every optimizer seen in it has completed `steps` steps (one that a new
optimizer holding all its parameters took over, gradual unfreezing's rebuild at an epoch boundary,
no longer counts once the new one has stepped twice: its steps go on in the new one's); then
parameters are
fingerprinted again, buffers compared with their copies, and `watch_report.judge` builds the same
`AuditReport` as `audit()`.
"""

from __future__ import annotations

import inspect
import sys
import warnings
import weakref
from operator import attrgetter
from typing import Any, Callable, Iterable

import torch
from torch import nn
from torch.nn.modules.batchnorm import _NormBase
from torch.nn.parameter import UninitializedTensorMixin
from torch.nn.modules.module import register_module_forward_pre_hook
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

from freezelint.codes import check_codes
from freezelint.runtime import fastai_steps, fsdp
from freezelint.runtime.distributed import roll_call
from freezelint.runtime.findings import freeze_attrs, listed, lr_is_zero
from freezelint.runtime.fingerprint import Fingerprinter, Pending, background, joined
from freezelint.runtime.lr_schedulers import is_torch_scheduler, schedulers_over
from freezelint.runtime.report import AuditReport, FreezeAuditError, repeated
from freezelint.runtime.runner import AuditUsageError, compiled_graphs
from freezelint.runtime.names import as_patterns
from freezelint.runtime.swaps import log_swaps
from freezelint.runtime.tree import Tree, class_name, unmade, walk
from freezelint.runtime.watch_models import (call_site, outside, dead_lightning_hooks, held_params, idle_optimizers,
                                               remember_names)
from freezelint.runtime.watch_report import halted, judge, stats_moved_while_frozen


# A hook called inside a region torch.compile traces (an optimizer step under @torch.compile) runs
# eagerly: traced, the watch's own code would give Dynamo warnings and graph breaks that name
# freezelint. torch.compiler.disable is torch 2.1's; a torch without it compiles nothing to hide from.
_untraced: Callable[[Callable], Callable] = getattr(getattr(torch, "compiler", None), "disable", None) or (lambda f: f)


def _guarded(hook: Callable) -> Callable:
    """A hook that fails closes the watch and keeps the error for `report`: the user's training
    goes on as if unwatched, except under `stop_on_error` (`freezelint run`, whose verdict is then
    that error): the script is stopped there, not left to train on unwatched to its end."""

    def run(self: "Watch", *args: Any) -> None:
        try:
            return hook(self, *args)
        except WindowComplete:
            raise
        except FreezeAuditError:  # the watch's own stop before a hang (see _agree_before_backward)
            raise
        except AuditUsageError as e:  # a model the watch refuses: its one line, as audit() says it
            self.error = e
            self.done = True
            self._remove_hooks()
        except Exception as e:  # noqa: BLE001 — reported through Watch.report, never into the loop
            self.error = AuditUsageError(f"watching failed: {type(e).__name__}: {e}")
            self.error.__cause__ = e
            self.done = True
            self._remove_hooks()
        if self.stop_on_error:
            raise WindowComplete("watching failed")

    run.__name__ = hook.__name__
    run.__doc__ = hook.__doc__
    return run


class WindowComplete(BaseException):
    """Raised from the step hook to stop a script once its window is judged (`freezelint run`).
    A BaseException, so the script's own `except Exception` does not swallow it. Its text says
    so, for a framework that logs what stopped its loop (ignite's "terminating due to exception")."""

    def __init__(self, why: str = "the watch window is complete") -> None:
        super().__init__(f"freezelint: {why}; the script was stopped on purpose")


_requires_grad = attrgetter("requires_grad")
_COMPILE_WARNING = r"Using `torch\.compile\(module\)` when there are global hooks on modules"
# the innermost torch.func transform running (None outside one)
_peek_transform = getattr(getattr(torch._C, "_functorch", None), "peek_interpreter_stack", lambda: None)


# how long the window waits for an optimizer that holds a forwarded model and has not stepped: until
# the others have stepped this many times its `steps` (a WGAN's critic: 5 per generator step)
_WAIT_FOR = 50
# After the window, the module tree is walked (for a swapped module) at every step of a small
# model, and at every (modules / _WALK_PER_STEP)-th of a larger one; requires_grad is read every step
_WALK_PER_STEP = 16
_MAX_LATER = 20  # later windows a watch opens at most


def _inside(outer: torch.optim.Optimizer | None, opt: torch.optim.Optimizer) -> bool:
    """Whether `opt` steps inside the step of `outer`, still in progress: a wrapper optimizer whose
    step calls the optimizer it wraps over the same parameters (ZeroRedundancyOptimizer and its
    `.optim`, SAM-style wrappers around a base optimizer). The two are one step, in the window and
    after it. An `outer` that shares no parameter with `opt` is a step that raised before its end."""
    if outer is None or outer is opt:
        return False
    ids = {id(p) for p in held_params(outer)}
    return any(id(p) in ids for p in held_params(opt))


def _same_tensors(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return len(a) == len(b) and all(x is y for x, y in zip(a, b))


def _weakly(objs: dict[int, Any]) -> "weakref.WeakValueDictionary[int, Any]":
    """`objs` held through weak references (a class without a weakref slot, rare, is dropped)."""
    out: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
    for k, v in objs.items():
        try:
            out[k] = v
        except TypeError:
            pass
    return out


def _transformed() -> bool:
    """A forward inside a torch.func transform (grad, vmap, jvp): functional_call has put the
    transform's wrappers in the module's place, whose storage cannot be read. The module's own
    tensors are taken at another forward, or at the step from the optimizer."""
    return _peek_transform() is not None


# lr schedulers that write their own lr into every param group when built (max_lr / base_lr)
_LR_SETTING = tuple(c for c in (getattr(torch.optim.lr_scheduler, n, None) for n in ("OneCycleLR", "CyclicLR"))
                    if isinstance(c, type) and "__init__" in c.__dict__)


def _one_for_all(sched: Any, groups: list[dict]) -> bool:
    """Whether OneCycleLR (its max_lr) or CyclicLR (its base_lr and max_lr) gave every param group the
    same values: one number, not one per group. Values chosen per group, a nonzero one for a group
    that had lr=0 (a placeholder), say that group is meant to train."""
    if isinstance(sched, torch.optim.lr_scheduler.OneCycleLR):
        per = [g.get("max_lr") for g in groups]
    else:
        per = list(zip(getattr(sched, "base_lrs", ()), getattr(sched, "max_lrs", ())))
    return len(per) == len(groups) and all(v == per[0] for v in per)


def _zeroed_after_scheduler(opt: torch.optim.Optimizer) -> dict[int, tuple[str, Any]]:
    """The param groups of `opt` whose lr is 0 though every lr scheduler over it last set a nonzero
    one: the script wrote lr=0 after building the scheduler, whose next step() sets the lr again
    from the base it took (a warm-up that starts a group at 0 set that 0 itself: not here).
    -> group index -> (the scheduler's class, the lr it set). Looked for only where such a group
    may be (an lr of 0 over a nonzero `initial_lr`): finding the schedulers walks the referrers."""
    groups = opt.param_groups
    maybe = [gi for gi, g in enumerate(groups) if lr_is_zero(g.get("lr"))
             and g.get("initial_lr") is not None and not lr_is_zero(g.get("initial_lr"))]
    if not maybe:
        return {}
    scheds = [o for o in schedulers_over(opt, is_torch_scheduler) if len(getattr(o, "_last_lr", ())) == len(groups)]
    return {gi: (type(scheds[0]).__name__, scheds[0]._last_lr[gi]) for gi in maybe
            if scheds and not any(lr_is_zero(s._last_lr[gi]) for s in scheds)}


def _trained_before(opt: torch.optim.Optimizer, params: list[torch.Tensor]) -> bool:
    """Whether these parameters show that they trained before the window: the optimizer keeps
    state for one (Adam's moments, a momentum buffer, loaded from a checkpoint alike), or one has a
    grad, which a backward gave it while it required grad. Plain SGD whose loop zeroes grads to
    None after its step leaves neither."""
    state = getattr(opt, "state", None)
    state = state if isinstance(state, dict) else {}  # torch's defaultdict; `.get` adds no entry
    return any(p.grad is not None or state.get(p) for p in params)


def _weak(obj: Any) -> Any:
    """A weak reference to `obj` (None stays None; a class without a weakref slot, rare, is kept)."""
    if obj is None:
        return None
    try:
        return weakref.ref(obj)
    except TypeError:
        return obj


def _live(held: Any) -> Any:
    """What `_weak` made of an object: the object, or None once it is freed."""
    return held() if isinstance(held, weakref.ReferenceType) else held


def _optimizers(optimizer: Any) -> list[torch.optim.Optimizer]:
    """The optimizers given to watch, fastai's own as their views (`learn.opt`)."""
    if optimizer is None:
        return []
    items = list(optimizer.values()) if isinstance(optimizer, dict) else optimizer
    items = [items] if not isinstance(items, (list, tuple)) else items
    items = [fastai_steps.of(o) for o in items]
    if not items or not all(isinstance(o, torch.optim.Optimizer) for o in items):
        raise AuditUsageError(f"optimizer must be a torch.optim.Optimizer (or fastai's own), a list or a dict "
                              f"of them, got {type(optimizer).__name__}")
    return list(items)


def _own_forward(m: nn.Module) -> bool:
    """The module's forward is the script's own Python: not torch's, nor TorchScript's (whose class
    attribute `forward` raises)."""
    forward = getattr(type(m), "forward", None)
    return not (getattr(forward, "__module__", None) or "torch.").startswith("torch.")


def _same(before: tuple, now: tuple) -> bool:
    """Two shapes (Watch._shape) alike as far as a later window goes: an attribute FZ101-FZ103
    report deleted since is no change (the fix, made while training)."""
    return before[:3] == now[:3] and now[3] <= before[3]


def _new_marks(before: frozenset, now: frozenset) -> dict[tuple[str, str], int]:
    """(attribute name, `module` or `parameter`) -> how many of those were newly given it."""
    out: dict[tuple[str, str], int] = {}
    for _, attr, kind in sorted(now - before):
        out[attr, kind] = out.get((attr, kind), 0) + 1
    return out


class Watch:
    """Observe `steps` optimizer steps of whatever trains while it is active; `report` afterwards.

    Use `freezelint.watch()`; `stop=True` (for `freezelint run`) raises WindowComplete from the
    step that closes the window; `on_report` is called with the report as soon as it exists;
    `find_model` (`freezelint run --model NAME`) gives the model at the first step, which is then
    watched as a `model` given here is; when it raises AuditUsageError, that is the watch's error
    and the step raises WindowComplete."""

    def __init__(self, steps: int = 2, model: nn.Module | None = None, optimizer: Any = None, *,
                 expect_frozen: Iterable[str] | str = (), expect_trainable: Iterable[str] | str = (),
                 stop: bool = False, on_report: Callable[[AuditReport], None] | None = None,
                 find_model: Callable[[], nn.Module] | None = None, rewatch: bool = True,
                 ignore: Iterable[str] | str = (), stop_on_error: bool = False,
                 on_stall: Callable[["Watch"], str] | None = None) -> None:
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
            raise AuditUsageError(f"steps must be an integer >= 1, got {steps!r}")
        if model is not None and not isinstance(model, nn.Module):
            raise AuditUsageError(f"model must be an nn.Module, got {type(model).__name__}")
        self.steps = steps
        self.stop = stop
        self.stop_on_error = stop_on_error  # a hook that fails raises WindowComplete (see _guarded)
        self.on_report = on_report
        # asked, at a few of the models' forwards before any step, why no step comes (`freezelint
        # run`: another library's optimizer trains the model): a reason stops the script with it
        self.on_stall = on_stall
        self.stalled = ""  # that reason, once given
        self.runs_before_step = 0  # forwards of a known model before the first step
        try:
            self.expect_frozen = as_patterns(expect_frozen, "expect_frozen")
            self.expect_trainable = as_patterns(expect_trainable, "expect_trainable")
        except ValueError as e:
            raise AuditUsageError(str(e)) from None
        self.ignore = check_codes(ignore, "ignore")  # accepted codes: in the report, marked, not failing it
        # the model and optimizers given (or the model `find_model` names), weakly once judged
        self._given_model: Any = model
        self.find_model = find_model
        self._given_opts: list[Any] = _optimizers(optimizer)
        self._report: AuditReport | None = None
        self.error: BaseException | None = None  # raised while judging (the window's step still ran)
        self._handles: list[Any] = []
        self._swaps: Any = None  # the log of swapped parameters and replaced layers (swaps.log_swaps)
        self._post_handle: Any = None
        self._after_pre_handle: Any = None  # after the window (rewatch): which step is in progress
        self._fastai_held = False  # fastai_steps.hold() called, release() not yet
        self._train_orig: Callable | None = None
        self._train_wrapper: Callable | None = None
        self._filter: tuple | None = None  # the warnings filter __enter__ added
        self._in_train = False
        self._evals: list[nn.Module] = []  # modules in eval() that the current train() call reached
        self._active = False
        self.started = False  # the first optimizer step has begun
        self.done = False  # the window is closed
        # candidate models: outermost forwarded modules (or the given model), by id
        self.roots: dict[int, nn.Module] = {}
        # roots whose own forward ran once the window had begun; and, at judging, those dropped for
        # running only before it (a module run once to size a head, as fastai's vision_learner runs
        # its body in eval(): no model of the window, and its eval() froze nothing that trains)
        self._ran_in_window: set[int] = set()
        self.probes: set[int] = set()
        self.probe_roots: dict[int, nn.Module] = {}  # those, for expectations that name one (`ref`)
        self._covered: dict[int, int] = {}  # id(submodule) -> id(its root)
        # submodules whose own forward ran (FZ505: ran, but the loss ignores it): in train mode, in
        # eval(), from the first step on (the tree shows the modes the forwards ran in), and the
        # others (before it, or inside a root run in eval(): a validation pass)
        self.ran: set[int] = set()
        self.ran_eval: set[int] = set()
        self.ran_other: set[int] = set()
        self._in_eval_root = [False]  # the latest root forward was in eval() (read by the forward hook)
        self._given_sub = ({id(m) for m in model.modules()} if model is not None else None)
        # at the window's start, by id of the tensor: fingerprints of parameters and buffers, and
        # where each buffer's copy lies in one block per root and dtype (block, offset, shape):
        # `saved()` makes the view, only for the few buffers whose change is sized
        self.before: dict[int, tuple[torch.Tensor, tuple]] = {}
        self.buffer_copy: dict[int, tuple[torch.Tensor, int, torch.Size]] = {}
        # by id of the root: (block, the buffers copied into it in order, their shapes then)
        self._blocks: dict[int, list[tuple[torch.Tensor, list[torch.Tensor], list[torch.Size]]]] = {}
        self.modes_before: dict[int, bool] = {}  # id(module) -> training, at the window's start
        self._fingerprinters: dict[int, tuple[list[torch.Tensor], Fingerprinter]] = {}
        # roots forwarded before the window, by id: their tensors to fingerprint at the first step
        self._pending: dict[int, tuple[nn.Module, list[torch.Tensor]]] = {}
        # by id of such a root: its parameters' pass begun at its latest forward, on a spare CPU,
        # with their versions then (`_start_early`)
        self._early: dict[int, tuple[list[torch.Tensor], list[int], Pending]] = {}
        # lazy modules still uninitialised, by id: (the hook that takes them once made, the module
        # weakly, its name in its root); those left at judging are named in a note
        self._lazy: dict[int, tuple[Any, weakref.ref, str]] = {}
        # the optimizers that stepped in the window and the class of each, by id (weakly once judged)
        self.optimizers: dict[int, torch.optim.Optimizer] = {}
        self.kinds: dict[int, str] = {}
        # pairs of optimizers (ids) that stepped from one backward: no forward from the start of the
        # one's step to the end of the other's (one model's backbone and head, each with its own
        # lr; a closure's forward parts them); `_last_step`: (id, forwards) at the latest step's start
        self.together: set[tuple[int, int]] = set()
        self._last_step: tuple[int, int] | None = None
        self._step_forwards = 0  # forwards at the start of the step in progress
        self.counts: dict[int, int] = {}  # completed steps per optimizer, in the window
        # optimizers a new one took over (it holds all their parameters), dropped from `optimizers`:
        # id -> (a weak reference to it: its state is not kept alive, its completed steps, its class)
        self.replaced: dict[int, tuple[weakref.ref, int, str]] = {}
        self._taking: dict[int, tuple[list[int], int]] = {}  # new id -> (ids it may replace, their steps)
        # norm layers frozen at the window's start, in train mode, whose statistics had moved when
        # an optimizer step first trained their parameters: id -> (module, that step, max |change|)
        self.drifted: dict[int, tuple[nn.Module, int, float | None]] = {}
        self.trained: set[int] = set()  # params that required grad at a step of an optimizer holding them
        # params frozen inside the window after such a step: id -> (their entry in `before` from the
        # window's start, the step of their optimizer from which they were frozen); judged from then on
        self.refrozen: dict[int, tuple[tuple[torch.Tensor, tuple], int]] = {}
        # a toggle that unfreezes only part of what it froze (a GAN's D frozen for G's step, then
        # `D[0].requires_grad_(True)` where `D.requires_grad_(True)` was meant): per optimizer, its
        # trained parameters seen frozen at another optimizer's step; per parameter left frozen at
        # its own optimizer's next step, those of that optimizer that came back
        self._frozen_between: dict[int, set[int]] = {}
        self.part_toggled: dict[int, list[int]] = {}
        self.wanted: set[int] = set()  # params of the models that required grad at any step
        # params of the models frozen at the first step that saw their root: those trainable later
        # were unfrozen inside the window (FZ503 names that cause only when it was seen)
        self.frozen_at_start: set[int] = set()
        self._start_noted: set[int] = set()  # ids of the roots whose params are in frozen_at_start
        self._root_params: dict[int, list[torch.Tensor]] = {}
        self.grad_seen: dict[int, str] = {}  # "none" < "zero" < "nonzero", at the steps' ends
        # trainable parameters with no grad at a step's end get a hook that notes a gradient arriving
        # in the next backward; `dropped`: those whose gradient arrived and whose .grad was None again
        # at the step (the script cleared it between backward and step: DINO's cancel_gradients_last_layer,
        # or a zero_grad() before step()). Only such parameters, from the window's second step on.
        self._arrivals: dict[int, tuple[torch.Tensor, Any, bool]] = {}  # id -> (parameter, hook handle, had none)
        self._arrived: set[int] = set()
        self.dropped: set[int] = set()
        # a frozen parameter's grad at its optimizer's last step end (weakly); `grad_written`: those
        # whose grad was another tensor at a later step, so the loop wrote it (torch.func.grad's
        # grads assigned to .grad; a backward leaves a frozen one's alone): not stale from before
        self._frozen_grad: dict[int, weakref.ref] = {}
        self.grad_written: set[int] = set()
        # how the loop zeroes grads, seen on one trained parameter per optimizer: its grad tensor
        # at a step's end, then at the next step: the same tensor ("kept": zero_grad(set_to_none=
        # False), or accumulation) or another ("renewed": set_to_none=True, torch's default)
        self._grad_probe: dict[int, tuple[nn.Parameter, weakref.ref]] = {}
        self.zeroing: set[str] = set()  # and "noised": a differential-privacy optimizer wrote the grad
        # Trainable parameters' version counters at their optimizer's latest step end, by id: one
        # that differs at the next step's start was written in between (outside the optimizer), and
        # is read then. `written_back`: id -> the steps whose update such a write undid, the
        # parameter back at its value from the window's start (an off-by-one restore of "frozen"
        # rows, a reset every step); `lasted`: ids whose update outlived a step at least once. A
        # write through `.data` keeps the counter, and is not seen.
        self._versions: dict[int, int] = {}
        # by id of the optimizer: ids of the trainable parameters its step in progress can move (a
        # grad, a nonzero lr); only those are read after it: a step that moved nothing (a warmup's
        # lr=0, no grad) has no update to undo, and a write that leaves such a parameter as it was
        # undoes nothing
        self._moving: dict[int, set[int]] = {}
        self.written_back: dict[int, list[int]] = {}
        self.lasted: set[int] = set()
        # `rewritten`: id -> how many times such a write left it elsewhere than at its start value
        # (an EMA teacher that is also in the optimizer: blended with its student after every
        # step); `kept_between`: ids found as their step left them at a read at least once
        self.rewritten: dict[int, int] = {}
        self.kept_between: set[int] = set()
        # Frozen parameters that a module of the script's own holds, in train mode, read at the
        # first root forward after a step and again as the next step starts (`_forward_read`):
        # one that differs was written by the forward or backward (a VQ codebook's EMA update in
        # forward), not by the optimizer nor by the script between steps (a Polyak target update).
        # torch's own layers never write their parameters in forward (max_norm is judged apart).
        self._forward_read: tuple[list[torch.Tensor], list[tuple]] | None = None
        self._forward_fp: tuple[list[torch.Tensor], Fingerprinter] | None = None
        self._own_modules: tuple[tuple[int, ...], list[nn.Module]] = ((), [])  # by the roots' ids
        self.moved_in_forward: set[int] = set()  # ids of those parameters
        self.undone: dict[int, nn.Module] = {}  # modules an observed train() switched out of eval()
        self.trained_in_window: set[int] = set()  # of those, switched after the window opened
        self.undone_by: dict[int, set[int]] = {}  # id(module) -> ids of the modules those train() calls were on
        self.undone_call: dict[int, nn.Module] = {}  # id(module) -> the module the latest such train() was on
        self.undone_site: dict[int, str] = {}  # id(module) -> where that train() was called (`in f at x.py:3`)
        self.eval_targets: dict[int, set[int]] = {}  # id(module) -> ids of the modules eval() was called on
        self._eval_target: int | None = None  # the outermost eval() call in progress
        self._forwards = 0  # forwards of outermost modules so far
        self._eval_at: dict[int, int] = {}  # id(module eval() was called on) -> _forwards then
        # id(module eval() was called on by a context manager) -> its frame, ids of the modules then
        # training, and their entries in undone and trained_in_window then
        self._eval_in: dict[int, tuple[Any, set[int], dict[int, nn.Module], set[int]]] = {}
        self.pre_eval: set[int] = set()  # ids of modules already in eval() when first seen
        # norm layers put in eval() on their own while their parameters trained (an eval-only
        # freeze of their statistics: deeplab's `freeze_bn()`, mmdet's norm_eval), seen or, done
        # before the watch, found in eval() under a parent in train mode
        self.stats_kept: set[int] = set()
        self._kept_looked: set[int] = set()  # ids of the modules _note_kept_before has looked under
        self._stepping: torch.optim.Optimizer | None = None
        self._closure_step = False  # the step in progress was given a closure
        self._given_grads: dict[int, int] = {}  # id -> non-zero count of a frozen grad the step in progress was given
        # (id(root), its class) -> FSDP version (2, 1) or None; fully_shard changes the class
        self._sharding: dict[tuple[int, type], int | None] = {}
        # models that train nothing (no optimizer holds them, no backward reached them) whose norm
        # layers' statistics moved in train mode, found when judging: (label, [(name, layer, change)])
        self.idle_drift: list[tuple[str, list[tuple[str, nn.Module, float]]]] = []
        self.names_seen: dict[int, str] = {}  # id(optimizer or model) -> its name in the code, at its first step
        # optimizers not yet stepped that hold a forwarded model's parameters, which the window
        # waits for (weak references; None: not decided yet), and those it stopped waiting for
        self._waiting: list[weakref.ref] | None = None
        # a later window's: ids of the parameters seen newly frozen at a step after the first window
        # (by the watch that opened it); and in any window, the optimizers not waited for because
        # they hold only frozen parameters that the script retired (`_is_retired`), with their ids
        self.frozen_after: set[int] = set()
        self.retired: list[str] = []
        self.retired_params: set[int] = set()
        self._wait_until = 0
        self.waited_out: list[str] = []
        self.waited_for: list[str] = []
        self.halted = False  # requires_grad differed across the ranks of a sharded model: stopped
        # params that required grad at a step but were in no param group then: id -> those steps; the
        # ones an optimizer holds by the window's end were added late (a note: the steps before missed them)
        self.unheld_at: dict[int, list[tuple[int, int]]] = {}  # id -> [(step of all, step of the one stepping)]
        self._posts = 0  # completed steps of every optimizer, in the window
        self._first_post: dict[int, int] = {}  # id(optimizer) -> _posts at its first completed step
        self._rolled = False  # every rank answered the roll call before the first gather
        self.judged_at_exit = False  # closed by the end of the block, some optimizer short of `steps`
        # After the window, training that goes on (`--no-stop`, a whole `fit()` in the block) may
        # change what trains: gradual unfreezing at an epoch boundary, a head swapped, a new
        # optimizer. `rewatch` opens another window of `steps` steps at the first step that sees
        # such a change, judged as the first was (`later`, in order; `reports` holds them all).
        self.rewatch = rewatch
        self.later: list[Watch] = []
        self._next: Watch | None = None  # the later window open now
        # per optimizer (id): what trains as its step ended last (see _shape), from the window's end
        self._shapes: dict[int, tuple] = {}
        # the models' parameters as the latest walk of their module trees found them, and the
        # steps after the window until the next walk
        self._flat: list[torch.Tensor] = []
        self._flat_ids: tuple[int, ...] = ()
        # and the attributes FZ101/FZ102/FZ103 report that were set on their modules then, as
        # (id(module), name): `model[0].requires_grad = True` at an epoch boundary unfreezes nothing
        # and so changes nothing else that trains
        self._marks: frozenset[tuple[int, str, str]] = frozenset()  # (id, attribute, `module`/`parameter`)
        # how many attributes each module, then each parameter, had then, in walk order
        self._sizes: tuple[int, ...] = ()
        self._walk_in = 0
        self.steps_after = 0  # steps of the watched optimizers since the window closed
        self._after_steps: dict[int, int] = {}  # the same, per optimizer (by id)
        # the labels a judged window gave models and the names it gave optimizers, where it judged
        # several (by id: a weak reference to each, its name), and those of the windows before a
        # later one (`inherited`): a later window that judges one of them alone names it so too
        self.named: dict[int, tuple[weakref.ref, str]] = {}
        self.inherited: dict[int, tuple[weakref.ref, str]] = {}
        self.opened: str = ""  # for a later window: after which step, and what had changed
        self.earlier: list[AuditReport] = []  # for a later window: the reports of the windows before it
        # for a later window: ids of the parameters added to a watched optimizer since the window
        # before (add_param_group), and when (`before step 5`): frozen at every step here, FZ504
        self.added: set[int] = set()
        self.added_when: str = ""
        self.cut_short = False  # a later window judged over the steps seen: training ended inside it
        # An lr=0 "freeze": a param group with lr 0 at its optimizer's first step here, trainable
        # parameters and an `initial_lr` of 0 (a scheduler took 0 as its base) while another group
        # trains, or an lr=0 written over what a scheduler had set (`lr_overwritten`);
        # (id(optimizer), group index) -> that step. `lr_lifted`: such a group whose lr
        # was not 0 at a later step (a cosine schedule's eta_min floor): -> (then, that step, its lr)
        self._lr_zero: dict[tuple[int, int], int] = {}
        self.lr_lifted: dict[tuple[int, int], tuple[int, int, Any]] = {}
        self._lr_read: set[int] = set()
        # such a group whose lr=0 was written after a scheduler over it set its lr, which its next
        # step() sets again from its base: -> (the scheduler's class, the lr it had set)
        self.lr_overwritten: dict[tuple[int, int], tuple[str, Any]] = {}
        # such a group (lr=0 while another trained) whose lr OneCycleLR or CyclicLR, built while
        # watching, set from its own max_lr / base_lr at construction: -> that scheduler's class
        self.lr_built: dict[tuple[int, int], str] = {}
        # the same as they are built, by optimizer (weakly) -> group index -> class: taken into
        # `lr_built` at the optimizer's first step in a window. Shared with the later windows, for
        # which builds between windows are noted too (a second stage's new optimizer and scheduler)
        self.lr_set_when_built: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._sched_inits: dict[type, Callable] = {}  # the classes wrapped -> their own __init__
        # such a group whose base lr (`initial_lr`) is 0, another's not, and whose lr was not 0 at its
        # optimizer's first step here: a scheduler raised it from its base (timm's warmup from
        # warmup_lr_init applies to every group), judged where such a scheduler is found
        self.lr_off_base: set[tuple[int, int]] = set()
        self.unfinished: str = ""  # why a later window was not judged (training ended inside it, too many)
        # what the shapes are taken of after the window: weakly, the watch outlives the training
        self._tracked_roots: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
        self._tracked_opts: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
        # by optimizer (weakly): ids of the parameters it held when a window was last judged
        self._known_held: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    # ------------------------------------------------------------------ public
    @property
    def given_model(self) -> nn.Module | None:
        """The model given to watch, or named by `find_model`; None when none was, or once the
        script has dropped it after the window."""
        return _live(self._given_model)

    @given_model.setter
    def given_model(self, model: nn.Module) -> None:
        self._given_model = model

    @property
    def given_opts(self) -> list[torch.optim.Optimizer]:
        """The optimizers given to watch that are alive."""
        return [o for o in map(_live, self._given_opts) if o is not None]

    @property
    def report(self) -> AuditReport:
        __tracebackhide__ = True
        if self._report is not None:
            return self._report
        if self.error is not None:
            raise self.error
        if not self.started:
            raise AuditUsageError("no optimizer step was observed while watching: run the training inside "
                                  "`with freezelint.watch():`")
        raise AuditUsageError(f"the window is not complete: {self._progress()} of {self.steps} optimizer steps "
                              f"were observed; lower `steps` or train longer")

    @property
    def reports(self) -> list[AuditReport]:
        """The window's report, then those of the later windows that closed (see `rewatch`)."""
        __tracebackhide__ = True
        return [self.report, *(w.report for w in self.later if w.error is None and w.done)]

    @property
    def steps_seen(self) -> int:
        """Completed steps of the optimizer that has done fewest (all of them count alike)."""
        return min(self.counts.values(), default=0)

    def _progress(self) -> str:
        return str(self.steps_seen)

    def progress(self) -> str:
        """Completed steps per optimizer: `SGD 7, Adam 6`, or by name where several are named
        (`opt_d 7, opt_g 6`; `SGD 2, replaced` for one taken over)."""
        gone = [f"{kind} {n}, replaced" for _, n, kind in self.replaced.values()]
        named = self.names_seen if len(self.counts) > 1 or self._waiting else {}  # several: as the loop names them
        return ", ".join(gone + [f"{named.get(k) or self.kinds.get(k, 'optimizer')} {n}"
                                 for k, n in self.counts.items()])

    def __enter__(self) -> "Watch":
        return self._open(post_hook=True)

    def _open(self, post_hook: bool, step_hooks: bool = True) -> "Watch":
        """Install the hooks. A later window opens inside the earlier one's step pre-hook, while
        torch iterates over those hooks: it adds no step hook, the earlier window's pass its steps on."""
        if self._active:
            raise AuditUsageError("this watch is already active")
        self._active = True
        covered, slow, ran, ran_eval, ran_other = self._covered, self._on_forward, self.ran, self.ran_eval, self.ran_other
        in_eval_root = self._in_eval_root

        def on_forward(module: nn.Module, args: Any) -> None:
            # Every module's forward comes here; a submodule of a known root (nearly all of them)
            # needs nothing but to be noted as run, in the mode it runs in (inside a root run in
            # eval(), a validation pass: in none), so it costs a lookup and a set add, not a call
            # through _guarded.
            root = covered.get(id(module))
            if root is None or root == id(module):
                slow(module, args)
            else:
                (ran_other if in_eval_root[0] else ran if module.training else ran_eval).add(id(module))

        # torch.compile warns that global hooks (ours) fire once more for its wrapper: the watch
        # counts on that (an outermost forward is its root's), and the user did not add them
        warnings.filterwarnings("ignore", message=_COMPILE_WARNING, category=UserWarning)
        self._filter = warnings.filters[0]
        self._handles = [register_module_forward_pre_hook(on_forward)]
        # a layer's parameters swapped, or the layer replaced, after the optimizer was built: FZ302
        # says which; kept until close(), so a later window knows of a replacement between windows
        # (peft's merge_and_unload() after the first)
        self._swaps = log_swaps()
        if step_hooks:
            self._handles.append(register_optimizer_step_pre_hook(self._on_step_pre))
            fastai_steps.hold()  # fastai's own Optimizer steps through these hooks too
            self._fastai_held = True
        if post_hook:
            self._post_handle = register_optimizer_step_post_hook(self._on_step_post)
        self._wrap_train()
        self._wrap_schedulers()
        return self

    def __exit__(self, kind, exc, tb) -> None:
        self.close()
        # An optimizer that joined late (or stepped once, elsewhere) may keep the window open:
        # once the first one has completed its steps, what was seen is judged.
        if not self.done and exc is None and max(self.counts.values(), default=0) >= self.steps:
            # only waiting for an optimizer that never stepped: the window is complete without it
            self.judged_at_exit = not all(c >= self.steps for c in self.counts.values())
            if not self.judged_at_exit:
                self.waited_out = [self.names_seen.get(id(o)) or type(o).__name__ for r in self._waiting or ()
                                   if (o := r()) is not None and id(o) not in self.counts]
            self._finish()

    def close(self) -> None:
        """Remove every hook (idempotent). A later window still open is judged on what it saw when
        every optimizer completed its steps, else dropped (`unfinished` says so)."""
        if self._next is not None:
            later, self._next = self._next, None
            later.__exit__(None, None, None)
            if not later.done and later.started and later.steps_seen >= 1:
                # Training ended inside it: what its steps showed is judged (a parameter trainable
                # and in no optimizer at one step is FZ503 whatever follows), with a note.
                later.cut_short = True
                later._finish()
            if later.done:
                self.later.append(later)
            else:
                self.unfinished = (f"{later.opened}; training ended after {later.steps_seen} of its {later.steps} "
                                   f"steps, so it was not judged")
        self._flat, self._flat_ids, self._shapes = [], (), {}  # the parameters, not held past the training
        self._drop_early()  # no pass reads on after the watch
        self._remove_hooks()
        self._unwrap_schedulers()
        if self._filter is not None:
            try:
                warnings.filters.remove(self._filter)
                warnings._filters_mutated()  # type: ignore[attr-defined]  # as filterwarnings does
            except (ValueError, AttributeError):
                pass
            self._filter = None
        if self._post_handle is not None:
            self._post_handle.remove()
            self._post_handle = None
        if self._swaps is not None:
            self._swaps.remove()
            self._swaps = None
        if self._after_pre_handle is not None:
            self._after_pre_handle.remove()
            self._after_pre_handle = None
        if self._fastai_held:
            self._fastai_held = False
            fastai_steps.release()
        self._active = False

    # ------------------------------------------------------------------ hooks
    def _remove_hooks(self) -> None:
        # The step post-hook stays until close(): torch is iterating over those hooks when the
        # window closes inside one of them.
        for h in self._handles:
            h.remove()
        self._handles = []
        if not (self.done and self.rewatch):  # else kept until close(): builds between windows are noted
            self._unwrap_schedulers()
        for p, h, had_none in self._arrivals.values():
            h.remove()
            if had_none and not p._post_accumulate_grad_hooks:  # as before ours: None, not an empty dict
                p._post_accumulate_grad_hooks = None
        self._arrivals = {}
        for hook, _, _ in self._lazy.values():
            hook.remove()
        if self._train_orig is not None:
            # Put back what was there unless another wrapper came after ours (a nested watch that
            # is still open): ours then passes every call through, and that watch, when it puts
            # back what was under it, skips the wrappers of watches that have finished.
            orig, self._train_orig = self._train_orig, None
            if nn.Module.train is self._train_wrapper:
                while getattr(orig, "_freezelint_watch", None) is not None and orig._freezelint_watch._train_orig is None:
                    orig = orig._freezelint_orig
                nn.Module.train = orig  # type: ignore[method-assign]
            # the wrapper's closure holds this watch: without it, a dropped watch is freed at once,
            # by its reference count, not left (buffer copies and all) to a cyclic collection
            self._train_wrapper = None

    def _wrap_train(self) -> None:
        orig = nn.Module.train
        watch = self

        def train(module: nn.Module, mode: bool = True) -> nn.Module:
            if watch.done or not watch._active:
                return orig(module, mode)
            # Module.train recurses through this function, once per module; the outermost call
            # is the one the script made (its target).
            if not mode:
                # eval(): which calls put each module in eval, so that a train() undoing only the
                # script's own eval() of the same module (a validation pass) is told from one
                # undoing an eval() that froze a part (FZ201)
                outer = watch._eval_target is None
                if outer:
                    watch._eval_target = id(module)
                    watch._eval_at[id(module)] = watch._forwards
                    # a context manager's eval() (composer's `model_eval_mode`), which its own exit
                    # may undo: the modules it found training (told from those a freeze had put in
                    # eval()), and which of them a train() had switched out of an eval(), as they were
                    caller = outside(sys._getframe(1))
                    if caller is not None and caller.f_code.co_flags & inspect.CO_GENERATOR:
                        training = {id(m) for m in module.modules() if m.training}
                        watch._eval_in[id(module)] = (caller, training, {i: watch.undone[i] for i in training & watch.undone.keys()},
                                                      training & watch.trained_in_window)
                    else:
                        watch._eval_in.pop(id(module), None)
                    if isinstance(module, _NormBase):
                        watch._note_kept(module)
                targets = watch.eval_targets.get(id(module))
                if targets is None:
                    if not module.training:  # in eval() already: put there before the watch began
                        watch.pre_eval.add(id(module))
                    watch.eval_targets[id(module)] = {watch._eval_target}
                else:
                    targets.add(watch._eval_target)
                if watch.undone:  # back in eval: no longer switched out of it
                    watch.undone.pop(id(module), None)
                    watch.trained_in_window.discard(id(module))
                try:
                    return orig(module, mode)
                finally:
                    if outer:
                        watch._eval_target = None
            # train(): each call notes whether its module is in eval() now; the outermost keeps
            # those that train() left training (a train() override may put some back into eval()).
            if watch._in_train:
                if not module.training:
                    watch._evals.append(module)
                return orig(module, mode)
            watch._in_train = True
            if not watch.started:  # an eval-only freeze done before the watch, about to be undone
                watch._note_kept_before(module)
            evals = watch._evals = [module] if not module.training else []
            try:
                out = orig(module, mode)
                # the model ran since its own eval(): a validation pass (else that eval() froze it)
                ran = watch._forwards > watch._eval_at.get(id(module), watch._forwards)
                # a context manager's exit restoring what its eval() switched (composer's `model_eval_mode`
                # around metrics on the step's own outputs, no forward): those it found training were
                # never frozen, nothing undone
                held = watch._eval_in.pop(id(module), None)
                restored = held[1] if held is not None and held[0] is outside(sys._getframe(1)) else ()
                if restored:  # as they were before the block
                    watch.undone.update(held[2])
                    watch.trained_in_window.update(held[3])
                site = None
                for m in evals:
                    if m.training and id(m) not in restored:
                        watch.undone[id(m)] = m
                        watch.undone_call[id(m)] = module
                        if site is None:  # only a train() that undoes an eval() looks up its caller
                            site = call_site(sys._getframe(1)) or ""
                        if site:
                            watch.undone_site[id(m)] = site
                        if watch.started:
                            watch.trained_in_window.add(id(m))
                        if ran:
                            watch.undone_by.setdefault(id(m), set()).add(id(module))
                return out
            finally:
                watch._in_train = False
                watch._evals = []

        train.__doc__ = orig.__doc__
        train._freezelint_watch, train._freezelint_orig = self, orig  # type: ignore[attr-defined]
        self._train_orig = orig
        self._train_wrapper = train
        nn.Module.train = train  # type: ignore[method-assign]

    def _notes_builds(self) -> bool:
        """Whether schedulers built now are noted: while the window is open, and after it while a
        later window may open (rewatch), until close()."""
        return self._active and (not self.done or self.rewatch)

    def _wrap_schedulers(self) -> None:
        """OneCycleLR and CyclicLR write their own lr into every param group when built: an lr=0
        group (a freeze by learning rate) trains from the first step, and nothing on the optimizer
        or the scheduler keeps the 0. Their __init__ notes such groups (`lr_set_when_built`) while
        the window is open, and between windows (see _notes_builds)."""
        watch = self
        for cls in _LR_SETTING:
            orig = cls.__dict__["__init__"]
            if getattr(getattr(orig, "_freezelint_watch", None), "lr_set_when_built", None) is self.lr_set_when_built:
                continue  # a later window: the first one's __init__, kept between windows, notes builds for it

            def init(sched: Any, optimizer: Any, *args: Any, _orig: Callable = orig, **kwargs: Any) -> None:
                if not watch._notes_builds() or not isinstance(optimizer, torch.optim.Optimizer):
                    return _orig(sched, optimizer, *args, **kwargs)
                groups = optimizer.param_groups
                zero = [gi for gi, g in enumerate(groups) if lr_is_zero(g.get("lr"))
                        and any(p.requires_grad for p in g["params"])]
                others = len(zero) < len(groups) and any(not lr_is_zero(g.get("lr")) for g in groups)
                _orig(sched, optimizer, *args, **kwargs)
                raised = {gi: type(sched).__name__ for gi in (zero if others and _one_for_all(sched, groups) else ())
                          if not lr_is_zero(groups[gi].get("lr"))}
                try:
                    if raised:
                        watch.lr_set_when_built.setdefault(optimizer, {}).update(raised)
                except TypeError:  # an optimizer that takes no weak reference: not noted
                    pass

            init.__doc__, init.__wrapped__ = orig.__doc__, orig  # type: ignore[attr-defined]
            init._freezelint_watch = self  # type: ignore[attr-defined]
            self._sched_inits[cls] = orig
            cls.__init__ = init  # type: ignore[method-assign]

    def _unwrap_schedulers(self) -> None:
        """Put back each class's __init__ where ours is still the one there (a nested watch that
        wrapped after it restores its own, which passes through to ours once this one is done)."""
        for cls, orig in self._sched_inits.items():
            now = cls.__dict__.get("__init__")
            if getattr(now, "_freezelint_watch", None) is self:
                # past the wrappers of watches that have put theirs back (or would have: ours was above)
                while getattr(orig, "_freezelint_watch", None) is not None and not orig._freezelint_watch._sched_inits:
                    orig = orig.__wrapped__
                cls.__init__ = orig  # type: ignore[method-assign]
        self._sched_inits = {}

    def toggled(self, module: nn.Module) -> bool:
        """An observed train() switched the module out of eval(), and every eval() that had put it
        there was a call on one of the modules those train() calls were made on, which ran in
        between (the script's own eval()/train() pair around a validation pass), not on a part of
        them, and it was not in eval() before the watch began: its BatchNorm was never frozen, it
        ran in train mode (FZ502, not FZ201)."""
        targets = self.eval_targets.get(id(module))
        return bool(targets) and id(module) not in self.pre_eval and \
            targets - self.probes <= self.undone_by.get(id(module), set())

    @torch.no_grad()
    def _baseline_root(self, root: nn.Module, tree: Tree | None = None) -> None:
        """Copy the root's buffers and note its modules' modes, as they are now, and fingerprint
        its parameters: inside the window at once, before it at the first step (`_take_pending`).
        Before the window, each forward of a root copies its buffers again (the forward about to
        run may be the first step's, and moves BatchNorm statistics); its parameters change only
        at a step, so a script that evaluates before it trains pays for one pass, not one per
        batch. Inside the window, what is taken stays. `tree`: walk(root), when the caller has
        just taken it."""
        if tree is None:
            tree = walk(root)
        params, buffers = [p for _, p in tree.params], [b for _, b in tree.buffers]
        if tree.lazy:  # left out of the walk: they hold no data until their module's forward makes them
            self._await_lazy(root, tree.lazy)
        self._root_params[id(root)] = params
        overwrite = not self.started
        # buffers are compared with their copies (below) at the end, not fingerprinted; sparse
        # ones, which get no copy, are
        tensors = params + [b for b in buffers if b.layout != torch.strided]
        if self.started:
            self._fingerprint(root, tensors)
        else:
            self._pending[id(root)] = (root, tensors)
            if background():
                self._start_early(root, tensors)
        self._copy_buffers(root, buffers, overwrite)
        if overwrite:
            self.modes_before.update((id(m), m.training) for _, m in tree.modules)
        else:
            for _, m in tree.modules:
                self.modes_before.setdefault(id(m), m.training)

    def _await_lazy(self, root: nn.Module, lazy: tuple[tuple[str, nn.Module], ...]) -> None:
        """Each lazy module of the root still uninitialised gets a forward pre-hook of its own, run
        after the one torch makes its tensors in, that takes them there, before that forward moves
        its buffers (`_on_materialized`)."""
        for name, m in lazy:
            if id(m) not in self._lazy:
                hook = m.register_forward_pre_hook(lambda m, args, root=root: self._on_materialized(root, m))
                self._lazy[id(m)] = (hook, weakref.ref(m), name)

    @_untraced
    @_guarded
    @torch.no_grad()
    def _on_materialized(self, root: nn.Module, module: nn.Module) -> None:
        """A lazy module's forward, its tensors just made by torch's own hook: its buffers are copied
        now, before this forward moves them; its parameters join the root's, to be fingerprinted at
        the first step, or now inside the window (a branch first run after the window began)."""
        if self.done or unmade(module):
            return
        self._lazy.pop(id(module))[0].remove()
        tensors = [t for t in module._parameters.values() if t is not None]
        self._copy_buffers(root, [b for b in module._buffers.values() if b is not None], overwrite=False)
        if id(root) in self._root_params:
            self._root_params[id(root)] = self._root_params[id(root)] + tensors
        if self.started:
            for t, f in zip(tensors, Fingerprinter(tensors)(just_built=True)):
                self.before.setdefault(id(t), (t, f))
        elif id(root) in self._pending:
            self._pending[id(root)] = (root, self._pending[id(root)][1] + tensors)

    def _start_early(self, root: nn.Module, tensors: list[torch.Tensor]) -> None:
        """At a root's forward before the window, where a CPU is spare: its parameters' pass for
        the first step, begun now on a thread of its own, so that it reads beside the forward and
        backward (which read parameters, never write them) instead of inside the step. The step
        takes it if nothing wrote them since (`_early_taken`); a pass begun at an earlier forward
        that still holds is kept (an evaluation of many batches before training begins one).
        Not where the watch reads shards (FSDP): their tensors are swapped around the forward."""
        early = self._early.get(id(root))
        if early is not None:
            if _same_tensors(early[0], tensors) and early[1] == [t._version for t in tensors]:
                return
            self._drop_early(id(root))
        cached = self._fingerprinters.get(id(root))
        built = cached is None or not _same_tensors(cached[0], tensors)
        if built:
            cached = self._fingerprinters[id(root)] = (tensors, Fingerprinter(tensors))
        if cached[1].beside:
            self._early[id(root)] = (tensors, [t._version for t in tensors], cached[1].start(just_built=built))

    def _early_taken(self, root: nn.Module, tensors: list[torch.Tensor]) -> bool:
        """The pass begun at the root's forward, taken as the window's start if it still holds:
        the same tensors, none written since in place (`_version`: the forward's own hooks, a load),
        none moved (`.data` swapped)."""
        early = self._early.pop(id(root), None)
        if early is None:
            return False
        taken = early[2].result()
        if not _same_tensors(early[0], tensors) or early[1] != [t._version for t in tensors] or \
                self._fingerprinters[id(root)][1].moved():
            return False
        self.before.update(zip(map(id, tensors), zip(tensors, taken)))
        return True

    def _drop_early(self, rid: int | None = None) -> None:
        """Wait for begun passes (a pass reads the tensors until then) and forget them: one root's,
        or all."""
        for r in list(self._early) if rid is None else [rid]:
            early = self._early.pop(r, None)
            if early is not None:
                early[2].result()

    def _take_pending(self) -> None:
        """At the first step, before it changes anything: the parameters of the roots forwarded
        before it, fingerprinted once (or as read beside the forward, `_early_taken`)."""
        for root, tensors in self._pending.values():
            if not self._early_taken(root, tensors):
                self._fingerprint(root, tensors, overwrite=True)
        self._pending.clear()
        self._drop_early()

    def _fingerprint(self, root: nn.Module, tensors: list[torch.Tensor], overwrite: bool = False) -> None:
        cached = self._fingerprinters.get(id(root))
        if cached is None or len(cached[0]) != len(tensors) or any(a is not b for a, b in zip(cached[0], tensors)):
            built = Fingerprinter(tensors)
            taken = built(just_built=True)  # read at once: the layouts just taken still hold
            self._fingerprinters[id(root)] = (tensors, built)
        else:
            taken = cached[1]()
        if overwrite:
            self.before.update(zip(map(id, tensors), zip(tensors, taken)))
        else:
            for t, f in zip(tensors, taken):
                self.before.setdefault(id(t), (t, f))

    def _copy_buffers(self, root: nn.Module, buffers: list[torch.Tensor], overwrite: bool) -> None:
        todo = [b for b in buffers if overwrite or id(b) not in self.buffer_copy]
        by_kind: dict[tuple, list[torch.Tensor]] = {}
        for b in todo:
            if b.layout == torch.strided:
                by_kind.setdefault((b.dtype, b.device), []).append(b)
        blocks = []
        for group in by_kind.values():  # one copy per dtype: a cat, not a clone per buffer
            block = joined(group)  # no_grad: no graph
            shapes = [b.shape for b in group]
            blocks.append((block, group, shapes))
            at = 0
            for b, shape in zip(group, shapes):
                self.buffer_copy[id(b)] = (block, at, shape)
                at += b.numel()
        self._blocks[id(root)] = blocks + (self._blocks.get(id(root), []) if not overwrite else [])

    def saved(self, buffer: torch.Tensor) -> torch.Tensor | None:
        """The buffer's copy from the window's start, or None when none was taken."""
        where = self.buffer_copy.get(id(buffer))
        if where is None:
            return None
        block, at, shape = where
        return block[at:at + shape.numel()].view(shape)

    @_guarded
    def _on_forward(self, module: nn.Module, args: Any) -> None:
        if self.done or _transformed():
            return
        self._forwards += 1
        mid = id(module)
        root_id = self._covered.get(mid)
        if root_id is not None:
            if root_id == mid:
                fastai_steps.wrap()  # fastai imported since the watch opened (`freezelint run`)
                self._in_eval_root[0] = not module.training
                if not self.started:
                    self._baseline_root(module)  # a new iteration before the window: take it again
                    if self.on_stall is not None:
                        self._ask_stall()
                else:
                    self._ran_in_window.add(mid)
                    self._read_before_forward()
                self._agree_before_backward(module)
            return
        if self._given_sub is not None:
            if mid not in self._given_sub:
                return
            module = self.given_model  # type: ignore[assignment]
            mid = id(module)
        fastai_steps.wrap()
        self._in_eval_root[0] = not module.training
        self._add_root(module)
        if not self.started and self.on_stall is not None:
            self._ask_stall()
        if self.started:
            self._ran_in_window.add(mid)
            self._read_before_forward()
        self._agree_before_backward(module)

    def _ask_stall(self) -> None:
        """At the models' 4th, 8th, 16th, 32nd and 64th forward with no step yet: `on_stall`'s reason
        why none will come stops the script now, not after it has trained to its end unwatched."""
        self.runs_before_step += 1
        n = self.runs_before_step
        if 4 <= n <= 64 and not n & (n - 1):
            why = self.on_stall(self)  # type: ignore[misc]
            if why:
                self.stalled = why
                raise WindowComplete("no torch optimizer step will come")

    def _read_before_forward(self) -> None:
        """At a root's forward inside the window, the first since a step ended: read the frozen
        parameters of the script's own modules in train mode (see `moved_in_forward`). Not inside a
        step (a closure's forward): what the step and the script do after it would count."""
        if self._forward_read is not None or self._stepping is not None:
            return
        key = tuple(self.roots)
        if self._own_modules[0] != key:  # walked again only when the roots change
            self._own_modules = (key, [m for root in self.roots.values() for m in root.modules()
                                       if m._parameters and _own_forward(m)])
        tensors = [p for m in self._own_modules[1] if m.training
                   for p in m._parameters.values() if p is not None and not p.requires_grad]
        if not tensors:
            return
        cached = self._forward_fp
        if cached is None or not _same_tensors(cached[0], tensors):
            cached = self._forward_fp = (tensors, Fingerprinter(tensors))
            taken = cached[1](just_built=True)
        else:
            taken = cached[1]()
        self._forward_read = (tensors, taken)

    def _read_after_forward(self) -> None:
        """As a step starts: the parameters read before the forward that differ now moved in it."""
        read, self._forward_read = self._forward_read, None
        if read is None or self._forward_fp is None or self._forward_fp[1].moved():
            return
        for t, was, now in zip(read[0], read[1], self._forward_fp[1]()):
            if was != now:
                self.moved_in_forward.add(id(t))

    def _add_root(self, module: nn.Module) -> None:
        mid = id(module)
        self.roots[mid] = module
        tree = walk(module)  # one walk for the three uses below
        for _, m in tree.modules:
            self._covered.setdefault(id(m), mid)
            if not m.training and id(m) not in self.eval_targets:
                self.pre_eval.add(id(m))  # put in eval() before the watch began
        self._covered[mid] = mid
        self._note_kept_before(module)
        refused = fsdp.unsupported([m for _, m in tree.modules])
        if refused:
            raise AuditUsageError(refused)
        self._baseline_root(module, tree)

    def _adopt(self) -> None:
        """At the first step, after `_take_pending`: the model `find_model` names becomes the one
        watched, as a `model` given from the start would be. What the forwards of its parts took
        before this step stays (their buffers were copied before the forward that moved them);
        roots outside it are dropped; the rest of it is taken now."""
        try:
            model = self.find_model()  # type: ignore[misc]
        except AuditUsageError as e:  # a usage error: stop at once rather than train on unwatched
            self.error = e
            self.done = True
            self._remove_hooks()
            raise WindowComplete("the model to watch was not found") from None
        inside = {id(m) for m in model.modules()}
        for rid in [r for r in self.roots if r not in inside]:
            del self.roots[rid]
            self._pending.pop(rid, None)
            for block, group, _ in self._blocks.pop(rid, []):
                for b in group:  # a buffer the model shares is copied again, into its own block
                    if self.buffer_copy.get(id(b), (None,))[0] is block:
                        del self.buffer_copy[id(b)]
        self.given_model, self._given_sub = model, inside
        self.roots.clear()
        self._covered.clear()
        self._root_params.clear()
        self._add_root(model)

    def _agree_before_backward(self, root: nn.Module) -> None:
        """For an FSDP2 root forward that will be followed by a backward: gather every rank's
        requires_grad (every rank runs this forward, so every rank enters the gather) and, when
        they differ, judge FZ507 and stop here, before the backward that would hang."""
        if not torch.is_grad_enabled():
            return
        key = (id(root), type(root))
        version = self._sharding.get(key, -1)
        if version == -1:
            dist = torch.distributed
            spread = dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
            version = self._sharding[key] = fsdp.version(root.modules()) if spread else None
        if version != 2:
            return
        named = list(root.named_parameters())
        group = fsdp.process_group(named)
        if not self._rolled:
            roll_call(group)  # an unwatched rank never gathers: say so, do not hang
            self._rolled = True
        flags = fsdp.gather_rank_flags(named, group)
        mixed = fsdp.requires_grad_disagreement(flags)
        if not mixed:
            return
        self._report = halted(self, root, flags, mixed)
        self.halted = self.done = True
        self._remove_hooks()
        if self.on_report is not None:
            self.on_report(self._report)
        if self.stop:
            raise WindowComplete("requires_grad differs across the ranks, and a backward would hang")
        raise FreezeAuditError(self._report)

    def _watched(self, opt: torch.optim.Optimizer) -> bool:
        return not self._given_opts or any(opt is _live(o) for o in self._given_opts)

    @_untraced
    @_guarded
    @torch.no_grad()
    def _on_step_pre(self, opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if self.done or not self._watched(opt):
            return
        if _inside(self._stepping, opt):
            return  # a wrapper's step calling the optimizer it wraps: one step
        # (another optimizer's step in progress that shares nothing raised before its end: this is a new step)
        if self._forward_read is not None:
            self._read_after_forward()
        self._stepping = opt
        self._step_forwards = self._forwards
        # torch passes step()'s own args, the optimizer first: a closure is the one after it
        closure = args[1] if len(args) > 1 else kwargs.get("closure")
        self._closure_step = closure is not None
        if not self._closure_step:  # a closure zeroes grads inside the step: read at its end
            self._read_probe(opt)
        if not self.started:
            self.started = True
            self.ran_other |= self.ran | self.ran_eval  # the same sets: the forward hook holds them
            self.ran.clear()
            self.ran_eval.clear()
            if closure is not None:
                # Lightning and LBFGS run forward and backward inside the step: take everything
                # at that forward, not at one from before (a validation pass, say).
                self.roots.clear()
                self._root_params.clear()
                self._covered.clear()
                self.before.clear()
                self.buffer_copy.clear()
                self._blocks.clear()
                self.modes_before.clear()
                self._pending.clear()
                self._drop_early()
            self._take_pending()
            if self.find_model is not None:
                self._adopt()
        # an unfreeze is seen at a step of an optimizer that went on from the window's start (its
        # own, or the one it took over), not at a new one's first (a GAN's D, frozen during G's step)
        went_on = True
        if id(opt) not in self.optimizers:
            self.counts[id(opt)], went_on = self._take_over(opt)
            self.optimizers[id(opt)] = opt
            self.kinds[id(opt)] = type(opt).__name__  # kept: after the window, optimizers are held weakly
            # the names the loop gives the optimizers and models, while its frames are there (a
            # report names them only where there are several)
            if len(self.optimizers) > 1 or len(self.roots) > 1:
                remember_names([*self.optimizers.values(), *self.roots.values()], self.names_seen)
        elif self._taking:
            self._settle(opt)
        if self._lr_zero or id(opt) not in self._lr_read:
            self._note_lrs(opt)
        if self._versions:
            self._note_written(opt)
        self._moving[id(opt)] = {id(p) for g in opt.param_groups if not lr_is_zero(g.get("lr")) for p in g["params"]
                                 if p.grad is not None and p.requires_grad}
        held = [p for p in held_params(opt) if id(p) not in self.before and not isinstance(p, UninitializedTensorMixin)]
        if held:  # parameters no forwarded module holds yet (a wrapper's own, or none forwarded)
            for p, f in zip(held, Fingerprinter(held)(just_built=True)):
                self.before[id(p)] = (p, f)
        trained, refrozen, frozen_now, unfrozen_now = self.trained, self.refrozen, [], []
        if len(self.optimizers) > 1:
            for oid, other in self.optimizers.items():
                if oid != id(opt):
                    self._frozen_between.setdefault(oid, set()).update(
                        id(p) for p in held_params(other) if not p.requires_grad and id(p) in trained)
        away = self._frozen_between.pop(id(opt), None)
        for p in held_params(opt):
            if p.requires_grad:
                if went_on and id(p) not in trained and id(p) in self.frozen_at_start:
                    unfrozen_now.append(p)
                trained.add(id(p))
                if refrozen and id(p) in refrozen:  # trained again: judged over the whole window
                    self.before[id(p)] = refrozen.pop(id(p))[0]
            elif id(p) in trained:
                frozen_now.append(p)
        if frozen_now:
            back = [id(p) for p in held_params(opt) if away and id(p) in away and p.requires_grad]
            if back:
                for p in frozen_now:
                    self.part_toggled[id(p)] = back
            self._refreeze(opt, frozen_now)
        if unfrozen_now:
            for m, moved in stats_moved_while_frozen(self, unfrozen_now):
                self.drifted.setdefault(id(m), (m, self.counts[id(opt)] + 1, moved))
        self._note_start()
        self._note_wanted()
        self._given_grads = {} if self._closure_step else self._frozen_grads_given(opt)

    def _frozen_grads_given(self, opt: torch.optim.Optimizer) -> dict[int, int]:
        """The non-zero count of each frozen parameter's grad as its step starts: what the step is
        given (AdamWScheduleFree writes into p.grad during its step, so a zero grad ends it
        non-zero); counted in grad_seen once the step ends. A step given a closure makes its grads
        inside: those are read at its end."""
        read = [p for p in held_params(opt) if not p.requires_grad and p.grad is not None]
        return dict(zip(map(id, read), fsdp.nonzero_counts([p.grad for p in read])))

    def _note_lrs(self, opt: torch.optim.Optimizer) -> None:
        """At the optimizer's first step: its groups frozen by lr=0 (see `_lr_zero`). At a later
        one: those whose lr is no longer 0. A warmup from 0 has a nonzero `initial_lr`, and sets
        every group to 0 alike, or one group by its own lambda: no freeze."""
        step, groups = self.counts[id(opt)] + 1, opt.param_groups
        if id(opt) not in self._lr_read:
            self._lr_read.add(id(opt))
            self._take_built(opt)
            others_train = any(not lr_is_zero(g.get("lr")) for g in groups)
            overwritten = _zeroed_after_scheduler(opt)
            based = any(not lr_is_zero(g["initial_lr"]) for g in groups if g.get("initial_lr") is not None)
            for gi, g in enumerate(groups):  # an lr=0 that a scheduler replaced before the first step
                if (id(opt), gi) in self.lr_built:
                    self.lr_lifted[(id(opt), gi)] = (0, step, g.get("lr"))
                elif (based and lr_is_zero(g.get("initial_lr")) and not lr_is_zero(g.get("lr"))
                      and any(p.requires_grad for p in g["params"])):
                    self.lr_lifted[(id(opt), gi)] = (0, step, g.get("lr"))
                    self.lr_off_base.add((id(opt), gi))
            for gi, g in enumerate(groups):
                if not lr_is_zero(g.get("lr")) or not any(p.requires_grad for p in g["params"]):
                    continue
                if gi in overwritten:
                    self.lr_overwritten[(id(opt), gi)] = overwritten[gi]
                elif not (others_train and lr_is_zero(g.get("initial_lr"))):
                    continue
                self._lr_zero[(id(opt), gi)] = step
            return
        for key, then in list(self._lr_zero.items()):
            if key[0] == id(opt) and key[1] < len(groups) and not lr_is_zero(lr := groups[key[1]].get("lr")):
                self.lr_lifted[key] = (then, step, lr)
                del self._lr_zero[key]

    def _take_built(self, opt: torch.optim.Optimizer) -> None:
        """At the optimizer's first step in the window: the lr=0 groups that a scheduler built over
        it since the last window took one (see _wrap_schedulers) set to a nonzero lr, each noted once."""
        try:
            raised = self.lr_set_when_built.pop(opt, None)
        except TypeError:  # an optimizer that takes no weak reference: none was noted
            return
        for gi, kind in (raised or {}).items():
            if gi < len(opt.param_groups) and not lr_is_zero(opt.param_groups[gi].get("lr")):
                self.lr_built.setdefault((id(opt), gi), kind)

    def _read_probe(self, opt: torch.optim.Optimizer) -> None:
        """How the loop zeroes grads, from the grad tensor probed at this optimizer's previous step
        end: read at a step's start, after the loop's zero_grad() and backward; for a step given a
        closure (LBFGS), at its end, since the closure zeroes and runs the backward inside the step
        (at its start the grad is the previous step's last closure's, whatever zero_grad() does)."""
        probe = self._grad_probe.pop(id(opt), None)
        if probe is not None and probe[0].grad is not None:
            if probe[1]() is probe[0].grad:
                self.zeroing.add("kept")
            elif getattr(probe[0], "summed_grad", None) is None:
                self.zeroing.add("renewed")
            else:
                # opacus's DPOptimizer assigns each trained parameter a new .grad (its `summed_grad`
                # plus noise) before the optimizer it wraps steps: a new tensor says nothing there
                self.zeroing.add("noised")

    def _note_written(self, opt: torch.optim.Optimizer) -> None:
        """At a step of `opt` after one in the window: its trainable parameters written since its
        last step ended are read (one fingerprint each, only of what was written); those back at
        their value from the window's start had that step's update undone."""
        versions, before, lasted = self._versions, self.before, self.lasted
        written = []
        for p in held_params(opt):
            v = versions.pop(id(p), None)  # read once a step
            if v is None or not p.requires_grad or id(p) not in before:
                continue
            if v != p._version:
                written.append(p)
            else:
                lasted.add(id(p))
                self.kept_between.add(id(p))
        if not written:
            return
        step = self.counts[id(opt)]
        for p, now in zip(written, Fingerprinter(written)(just_built=True)):
            if now == before[id(p)][1]:
                self.written_back.setdefault(id(p), []).append(step)
            else:
                lasted.add(id(p))
                self.rewritten[id(p)] = self.rewritten.get(id(p), 0) + 1

    def _take_over(self, opt: torch.optim.Optimizer) -> tuple[int, bool]:
        """At a new optimizer's first step: those seen that it holds every parameter of (gradual
        unfreezing builds a new one over the old one's and more at an epoch boundary) may have been
        dropped; their steps count as the new one's, so that the window is `steps` steps of
        training in all, and `_settle` drops them once the new one steps again. One dropped that
        steps again comes back with its count. Returns the new one's count, and whether it may
        have taken one over (or came back)."""
        back = self.replaced.get(id(opt))
        if back is not None and back[0]() is opt:
            del self.replaced[id(opt)]
            return back[1], True
        mine = {id(p) for p in held_params(opt)}
        olds = [oid for oid, old in self.optimizers.items()
                if (theirs := held_params(old)) and all(id(p) in mine for p in theirs)]
        if not olds:
            return 0, False
        inherited = max(self.counts[oid] for oid in olds)
        self._taking[id(opt)] = (olds, inherited)
        return inherited, True

    def _settle(self, opt: torch.optim.Optimizer) -> None:
        """A take-over is sure when the new optimizer steps again and the old ones have not stepped
        since: those no longer hold the window open. Until then they do (two optimizers over nested
        parameters, both stepping each iteration, are no rebuild): one of them stepping undoes it."""
        taken = self._taking.pop(id(opt), None)
        if taken is not None:
            for oid in taken[0]:
                old = self.optimizers.pop(oid)
                self.replaced[oid] = (weakref.ref(old), self.counts.pop(oid), type(old).__name__)
        for new, (olds, inherited) in list(self._taking.items()):
            if id(opt) in olds:
                del self._taking[new]
                self.counts[new] -= inherited

    def _refreeze(self, opt: torch.optim.Optimizer, params: list[torch.Tensor]) -> None:
        """Parameters this optimizer stepped while they required grad, frozen since: from this step
        on they must stay put, so they are fingerprinted again now and judged as frozen from here
        (a freeze at an epoch boundary inside the window, with momentum or zero grads still moving
        them: FZ501)."""
        step = self.counts[id(opt)] + 1
        for p, f in zip(params, Fingerprinter(params)(just_built=True)):
            self.refrozen[id(p)] = (self.before[id(p)], step)
            self.before[id(p)] = (p, f)
            self.trained.discard(id(p))
            self.grad_seen.pop(id(p), None)  # the grads that count are those after the freeze

    def _note_start(self) -> None:
        """Each root's frozen parameters, once, at the first step that sees it."""
        for rid, params in self._root_params.items():
            if rid not in self._start_noted:
                self._start_noted.add(rid)
                self.frozen_at_start.update(id(p) for p in params if not p.requires_grad)

    def _note_kept(self, norm: nn.Module) -> None:
        """An eval() called on a norm layer itself: a freeze of its statistics alone while its
        parameters train; with them frozen it is a whole freeze, which an unfreeze may undo on
        purpose (gradual unfreezing puts the layer back in train mode)."""
        if all(p.requires_grad for p in norm._parameters.values() if p is not None):  # parameters(recurse=False)
            self.stats_kept.add(id(norm))
        else:
            self.stats_kept.discard(id(norm))

    def _note_kept_before(self, root: nn.Module) -> None:
        """Norm layers in eval() under a parent in train mode, not seen put there: an eval-only
        freeze done before the watch began (as audit() judges it). Once per module: every eval()
        after the first look is one the watch sees (its first train() and its first forward would
        otherwise each walk the model)."""
        if id(root) in self._kept_looked:
            return
        self._kept_looked.add(id(root))
        stack, seen = [root], set()
        while stack:  # through the module dicts: 3x modules() and children() for a resnet50
            parent = stack.pop()
            if id(parent) in seen:
                continue
            seen.add(id(parent))
            kids = [c for c in parent._modules.values() if c is not None]
            stack.extend(kids)
            if parent.training:
                for child in kids:
                    if not child.training and isinstance(child, _NormBase) and id(child) not in self.eval_targets:
                        self._note_kept(child)

    def _note_wanted(self) -> None:
        for params in self._root_params.values():
            self.wanted.update(map(id, filter(_requires_grad, params)))  # C loops: 4x a for loop

    @_untraced
    @_guarded
    @torch.no_grad()
    def _on_step_post(self, opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if self.done:
            if self.rewatch and self.error is None and self._watched(opt):
                self._after(opt, args, kwargs)
            return
        if opt is not self._stepping:
            return
        self._stepping = None
        last, self._last_step = self._last_step, (id(opt), self._step_forwards)
        if last is not None and last[0] != id(opt) and last[1] == self._forwards:
            self.together.add((last[0], id(opt)))
        if self.done:
            return
        found_inf = getattr(opt, "found_inf", None)  # set by GradScaler for optimizers that skip themselves
        if isinstance(found_inf, torch.Tensor) and bool(found_inf.any()):
            return
        self.counts[id(opt)] += 1
        self._note_wanted()
        self._posts += 1
        self._first_post.setdefault(id(opt), self._posts)
        unheld = self.wanted.difference(self._held_ids())
        for pid in unheld:  # trainable, in no optimizer seen so far (FZ503 if still so at the end)
            self.unheld_at.setdefault(pid, []).append((self._posts, self.counts[id(opt)]))
        held = held_params(opt)
        given, self._given_grads = self._given_grads, {}
        read = []  # grads to count: a frozen parameter's, and under torch.compile a trainable one's
        compiled = compiled_graphs()
        versions, moving = self._versions, self._moving.pop(id(opt), ())
        if self._closure_step:
            self._read_probe(opt)
        sample = next((p for p in held if p.requires_grad and p.grad is not None), None)
        if sample is not None:
            self._grad_probe[id(opt)] = (sample, weakref.ref(sample.grad))
        arrived = self._arrived  # since this optimizer's last step (the hooks hold this set: never replaced)
        for p in held:
            if p.requires_grad:
                self.trained.add(id(p))
                if id(p) in moving:
                    versions[id(p)] = p._version
                if p.grad is None and not self._closure_step:
                    self._note_arrivals(p, arrived)
                elif p.grad is not None:
                    # A compiled backward hands a parameter the loss ignores an all-zero grad, not
                    # None, and weight decay or momentum then moves it anyway: only counting proves
                    # that no gradient reached it. Once nonzero, a grad is not read again.
                    if compiled and self.grad_seen.get(id(p)) != "nonzero" and p.grad.layout == torch.strided:
                        read.append(p)
                    else:
                        self.grad_seen[id(p)] = "nonzero"
            elif p.grad is not None:
                if id(p) not in given:
                    read.append(p)
                self._note_frozen_grad(p)
        if arrived:
            arrived.difference_update(map(id, held))
        # the grads read now and the frozen ones read as the step began (`given`): disjoint
        for pid, c in [*zip(map(id, read), fsdp.nonzero_counts([p.grad for p in read])), *given.items()]:
            if c:
                self.grad_seen[pid] = "nonzero"
            elif self.grad_seen.get(pid) != "nonzero":
                self.grad_seen[pid] = "zero"
        if all(c >= self.steps for c in self.counts.values()) and not self._still_waiting():
            self._finish()
            if self.stop:
                raise WindowComplete()
            if self.rewatch and self.error is None:
                self._track(self)
                self._shapes[id(opt)] = self._shape()
                self._after_pre_handle = register_optimizer_step_pre_hook(self._after_pre)

    def _note_arrivals(self, p: torch.Tensor, arrived: set[int]) -> None:
        """A trainable parameter with no grad at its step's end: dropped where a gradient arrived in
        the backward before the step, else watched for one in the next backward."""
        if id(p) in arrived:
            self.dropped.add(id(p))
        elif id(p) not in self._arrivals and type(p) is nn.Parameter and p.grad_fn is None:
            mark = self._arrived.add  # the set, not the watch: the hook holds nothing else
            had_none = p._post_accumulate_grad_hooks is None
            self._arrivals[id(p)] = (p, p.register_post_accumulate_grad_hook(lambda t: mark(id(t))), had_none)

    def _note_frozen_grad(self, p: torch.Tensor) -> None:
        last = self._frozen_grad.get(id(p))
        if last is not None and last() is not p.grad:
            self.grad_written.add(id(p))
        self._frozen_grad[id(p)] = weakref.ref(p.grad)

    def _held_ids(self) -> set[int]:
        return {id(p) for o in self.optimizers.values() for p in held_params(o)}

    def _added_late(self) -> str:
        """A note on parameters that were trainable but in no param group at some steps of the
        window and are in one at its end (an add_param_group after the unfreeze, a staged schedule):
        clean at the end, yet the steps before did not train them."""
        if not self.unheld_at:
            return ""
        holder = {id(p): id(o) for o in self.optimizers.values() for p in held_params(o)}
        # only the steps the optimizer holding it at the end had already taken without it: one that
        # had not stepped yet (a WGAN's generator) was not seen to leave it out
        late = {pid: [mine for at, mine in steps if at >= self._first_post.get(holder[pid], at + 1)]
                for pid, steps in self.unheld_at.items() if pid in holder}
        late = {pid: steps for pid, steps in late.items() if steps}
        if not late:
            return ""
        names = {id(p): n for root in self.roots.values() for n, p in root.named_parameters()}
        found = [names[pid] for pid in late if pid in names]
        if not found:
            return ""
        steps = sorted({s for ss in late.values() for s in ss})
        when = (f"step {steps[0]}" if len(steps) == 1 else f"steps {steps[0]}-{steps[-1]}"
                if steps == list(range(steps[0], steps[-1] + 1)) else "steps " + ", ".join(map(str, steps)))
        return (f"{listed(found)} {'was' if len(found) == 1 else 'were'} trainable but in no param group at "
                f"{when} of the window, then added to the optimizer: those steps did not train "
                f"{'it' if len(found) == 1 else 'them'} (FZ503 had the window ended there)")

    # ------------------------------------------------------------------ later windows
    def _shape(self, walk: bool = True) -> tuple:
        """What trains: the models' parameters (by identity: a swapped head is a change), their
        requires_grad, and how many parameters each optimizer holds (add_param_group). Reading
        requires_grad costs ~5us for a resnet50; walking the module tree for the parameters ~100us
        (through its dicts: named_parameters() builds every name, 5x slower), so a large model's
        tree is walked every few steps only (a head swapped after the window is seen a few steps
        late; an unfreeze at the step it is made). The walk also counts each module's attributes,
        and each parameter's (`p.require_grad = True`; ~8us more for resnet50's 161): where a count
        changed, which hold a plain `requires_grad` attribute or a misspelling of it (FZ101-FZ103)
        is read again (a subset test each, 6x the count), seen a few steps late too."""
        if walk or not self._flat_ids:
            flat: list[torch.Tensor] = []
            modules: list[nn.Module] = []
            stack: list[Any] = list(self._tracked_roots.values())
            seen: set[int] = set()
            while stack:
                m = stack.pop()
                if m is None or id(m) in seen:
                    continue
                seen.add(id(m))
                modules.append(m)
                flat.extend([p for p in m._parameters.values() if p is not None])
                stack.extend(m._modules.values())
            self._flat, self._flat_ids = flat, tuple(map(id, flat))
            sizes = (*(len(m.__dict__) for m in modules), *(len(p.__dict__) for p in flat))
            if sizes != self._sizes:
                self._sizes = sizes
                self._marks = frozenset([*((id(m), a, "module") for m in modules for a in freeze_attrs(m)),
                                         *((id(p), a, "parameter") for p in flat for a in freeze_attrs(p))])
            self._walk_in = max(1, len(seen) // _WALK_PER_STEP)
        return (self._flat_ids, tuple(map(_requires_grad, self._flat)),
                tuple((k, sum(len(g["params"]) for g in o.param_groups)) for k, o in self._tracked_opts.items()),
                self._marks)

    def _track(self, window: "Watch") -> None:
        self._tracked_roots.update(window.roots)
        self._tracked_opts.update(window.optimizers)
        for opt in self._tracked_opts.values():
            try:
                self._known_held[opt] = {id(p) for p in held_params(opt)}
            except TypeError:  # an optimizer that takes no weak reference: its additions are not told
                pass

    def _added_since(self) -> set[int]:
        """Ids of the parameters the tracked optimizers hold now and did not when a window was
        last judged (add_param_group)."""
        out: set[int] = set()
        for opt in self._tracked_opts.values():
            known = self._known_held.get(opt)
            if known is not None:
                out.update(id(p) for p in held_params(opt) if id(p) not in known)
        return out

    @_untraced
    @_guarded
    def _after_pre(self, opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        """A step's start after the window: the step in progress, as `_on_step_pre` keeps it, so
        that the step of an optimizer a wrapper's step calls is not taken for a step of its own
        (a new optimizer, a later window) when it ends. What trains is compared here, before the
        step: the step that first trains with a change (an unfreeze made before it) opens the later
        window and is its first step. The later window's own step hooks are not installed (torch is
        iterating over these hooks now): its step starts are passed on from here."""
        if not self._watched(opt):
            return
        if not _inside(self._stepping, opt):
            self._stepping = opt
            if self._next is None and self.rewatch:
                self._compare(opt)
        if self._next is not None:
            self._next._on_step_pre(opt, args, kwargs)

    def _after(self, opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        """A step's end after the window: passed to the later window open now, which is judged
        when it completes its steps. The step of an optimizer that a wrapper's step calls is the
        wrapper's: not a step here."""
        if self._stepping is not None:
            if self._stepping is not opt:
                return  # inside the wrapper's step, which ends after it
            self._stepping = None
        self.steps_after += 1
        self._after_steps[id(opt)] = self._after_steps.get(id(opt), 0) + 1
        later = self._next
        if later is not None:
            later._on_step_post(opt, args, kwargs)
            if later.done:
                self._next = None
                later.close()
                self.later.append(later)
                self._track(later)  # a rebuilt optimizer, a new model: compared from now on
                self._shapes = {id(opt): self._shape()}
                if len(self.later) >= _MAX_LATER:  # what trains changes at every turn: enough said
                    self.rewatch = False
                    self.unfinished = (f"what trains kept changing: no window opens after the {_MAX_LATER} "
                                       f"later ones")

    def _compare(self, opt: torch.optim.Optimizer) -> None:
        """At a step's start: compare what trains with what trained at this optimizer's previous
        step, and open a later window on a change. Compared per optimizer: a GAN freezes D for G's
        step and unfreezes it for D's, the same at every step."""
        known = id(opt) in self._tracked_opts
        self._walk_in -= 1
        shape, before = self._shape(walk=self._walk_in <= 0), self._shapes.get(id(opt))
        self._shapes[id(opt)] = shape
        if known and (before is None or _same(before, shape)):
            return  # the first step seen of this optimizer after the window, or nothing changed
        if self._given_model is not None and self.given_model is None:
            return  # the model given was dropped by the script: nothing of it is left to watch
        self._next = later = Watch(self.steps, self.given_model, self.given_opts or None,
                                   expect_frozen=self.expect_frozen, expect_trainable=self.expect_trainable,
                                   on_report=self.on_report, rewatch=False, ignore=self.ignore,
                                   stop_on_error=self.stop_on_error)  # `run` stops there, as in the first
        if known and before is not None:
            self._note_frozen(before, shape)
        later.frozen_after = set(self.frozen_after)
        later.inherited = self._names_so_far()
        later.earlier = self.reports
        at = self.counts.get(id(opt), 0) + self._after_steps.get(id(opt), 0) + 1  # the step about to run
        several = len(self.counts.keys() | self._after_steps.keys() | {id(opt)}) > 1
        if several:  # whose steps: the one that saw the change
            remember_names([opt], self.names_seen)
        name = self.names_seen.get(id(opt)) or type(opt).__name__
        if not known:
            later.opened = f"a later window, from the first step of a new optimizer ({name})"
        else:
            step = f"{name}'s step {at}" if several else f"step {at}"
            later.opened = f"a later window, from {step}: before it, {self._change(before, shape)}"
            later.added_when = f"before {step}"
        later.added = self._added_since()
        later.lr_set_when_built = self.lr_set_when_built  # the lr=0 groups schedulers built since set
        later._open(post_hook=False, step_hooks=False)
        # the models of the windows before (their forward for this step has run): taken before this
        # step changes them, as the first window takes the roots forwarded before its first step
        for root in ([later.given_model] if later.given_model is not None else list(self._tracked_roots.values())):
            if id(root) not in later._covered:
                later._add_root(root)

    def _names_so_far(self) -> dict[int, tuple[weakref.ref, str]]:
        """The names this watch's windows gave models and optimizers (`a`, `oa` where several were
        judged), for a later window to give them again where it judges one alone."""
        out: dict[int, tuple[weakref.ref, str]] = {}
        for w in (self, *self.later):
            out.update(w.inherited)
            out.update(w.named)
        return out

    def _note_frozen(self, before: tuple, now: tuple) -> None:
        """Keep the parameters that were trainable at this optimizer's previous step and are frozen
        at this one (`frozen_after`), and forget those trainable again."""
        was = dict(zip(before[0], before[1]))
        for k, g in zip(now[0], now[1]):
            if g:
                self.frozen_after.discard(k)
            elif was.get(k) is True:
                self.frozen_after.add(k)

    def _change(self, before: tuple, now: tuple) -> str:
        """What differs between two shapes, in a few words: `12 parameters were newly trainable`."""
        was, now_params = dict(zip(before[0], before[1])), dict(zip(now[0], now[1]))
        unfrozen = sum(1 for k, g in now_params.items() if g and was.get(k) is False)
        frozen = sum(1 for k, g in now_params.items() if not g and was.get(k) is True)
        swapped = sum(1 for k in now_params if k not in was)
        # parameters out of the model (peft's merge_and_unload(): the adapters), unless the model is gone
        gone = sum(1 for k in was if k not in now_params) if now_params else 0
        # parameters each optimizer holds, by id: one the script dropped (freed) holds none fewer
        counts_then, counts_now = dict(before[2]), dict(now[2])
        held = sum(n - counts_then[k] for k, n in counts_now.items() if k in counts_then)
        dropped = sum(1 for k in counts_then if k not in counts_now)
        words = [f"{n} parameter{'s' * (n != 1)} {'was' if n == 1 else 'were'} {what}" for n, what in
                 ((unfrozen, "newly trainable"), (frozen, "newly frozen"), (swapped, "new in the model"),
                  (gone, "no longer in the model")) if n]
        if held:
            whose = "the optimizer holds" if len(counts_now) == 1 else "the optimizers hold"
            words.append(f"{whose} {abs(held)} {'more' if held > 0 else 'fewer'}")
        if dropped:
            words.append(f"{dropped} optimizer{'s were' if dropped != 1 else ' was'} dropped by the script")
        if was and not now_params:  # the roots are held weakly: the script let go of the model
            words.append("the model was dropped by the script (a name rebound to another model, as "
                         "`model = model.merge_and_unload()` does)")
        for (attr, kind), n in _new_marks(before[3], now[3]).items():
            words.append(f"`{attr}` was set on {n} {kind}{'s' * (n != 1)}, which freezes and unfreezes nothing")
        return ", ".join(words) or "what trains had changed"

    def _still_waiting(self) -> bool:
        """Whether to hold the window open for an optimizer that has not stepped yet but holds
        the parameters of a model that ran in it (a WGAN's generator, stepped once per 5 critic
        steps): decided once, when the others first complete their steps, and held until it has
        stepped `steps` times too, or until the others have stepped `_WAIT_FOR` times as often.
        One the script retired (`_is_retired`) is not waited for."""
        if self._waiting is None:
            idle = idle_optimizers(self)
            retired = [o for o in idle if self._is_retired(o)]
            if retired:
                remember_names(retired, self.names_seen)
                # once each: a wrapper (accelerate's AcceleratedOptimizer) and the optimizer it wraps are one
                self.retired = list(dict.fromkeys(self.names_seen.get(id(o)) or type(o).__name__ for o in retired))
                self.retired_params = {id(p) for o in retired for p in held_params(o)}
            self._waiting = [weakref.ref(o) for o in idle if not any(o is r for r in retired)]
            self._wait_until = self.steps * _WAIT_FOR
            if self._waiting:
                remember_names([o for r in self._waiting if (o := r()) is not None], self.names_seen)
                self.waited_for = [self.names_seen.get(id(o)) or type(o).__name__
                                   for r in self._waiting if (o := r()) is not None]
        if not self._waiting:
            return False
        waiting = [o for r in self._waiting if (o := r()) is not None and self.counts.get(id(o), 0) < self.steps]
        if not waiting:
            return False
        if max(self.counts.values()) >= self._wait_until:
            self.waited_out = [self.names_seen.get(id(o)) or type(o).__name__ for o in waiting]
            return False
        return True

    def _is_retired(self, opt: torch.optim.Optimizer) -> bool:
        """An optimizer not stepped in this window that the script retired: every parameter it
        holds is frozen now. In a later window, each was seen frozen after its last step, at a step
        of another optimizer that had seen it trainable (what opened this window, or an earlier one):
        not one frozen only while the others step (a GAN's G during D's steps: frozen at each of D's
        steps alike, never newly so), which will step again. In the first window, with no steps
        before it to go by, each was frozen at every step of the window, and the optimizer had
        trained them before it (`_trained_before`): a generator frozen during the critic's steps
        whose optimizer has not stepped yet (no state, no grads) is waited for."""
        params = held_params(opt)
        if not params or any(p.requires_grad for p in params):
            return False
        if self.opened:
            return all(id(p) in self.frozen_after for p in params)
        return not any(id(p) in self.wanted for p in params) and _trained_before(opt, params)

    def _drop_probes(self) -> None:
        """Roots whose forward ran only before the window, where others ran in it: a throw-away
        module run once before training (a head sized by running the body in eval()). They are no
        model of the window, and an eval() called on one is no freeze (`toggled`). A window whose
        steps saw no forward (one step, outside a closure) cannot tell them from the models."""
        if not self._ran_in_window or self.given_model is not None:
            return
        for rid in [r for r in self.roots if r not in self._ran_in_window]:
            self.probes.add(rid)
            self.probe_roots[rid] = self.roots.pop(rid)

    def _finish(self) -> None:
        self.done = True
        self._remove_hooks()
        try:
            self._drop_probes()
            self._report = judge(self)
            self._report.ignore = list(self.ignore)
            if self.opened:
                self._report.notes.insert(0, self.opened)
            self._report.repeated = repeated(self._report, self.earlier)
            late = self._added_late()
            if late:
                self._report.notes.append(late)
            self._report.notes.extend(dead_lightning_hooks(list(self.roots.values())))
            self._report.notes.extend(self._unmade_note())
        except AuditUsageError as e:
            self.error = e
            return
        except Exception as e:  # noqa: BLE001 — the training goes on; report says what failed
            self.error = AuditUsageError(f"judging the watched steps failed: {type(e).__name__}: {e}")
            self.error.__cause__ = e
            return
        finally:
            self._release()
        if self.on_report is not None:
            self.on_report(self._report)

    def _unmade_note(self) -> list[str]:
        """One note naming the lazy modules the window ran without making: nothing to judge in them."""
        left = [f"{name or '(model)'} ({class_name(m)})" for _, ref, name in self._lazy.values()
                if (m := ref()) is not None and unmade(m)]
        if not left:
            return []
        one = len(left) == 1
        return [f"{listed(left)} never ran, so {'its' if one else 'their'} lazy parameters were never initialised "
                f"(they hold no values): not judged"]

    def _release(self) -> None:
        """Drop what only judging needed once it is done: the buffer copies, the fingerprint
        tables, the per-tensor maps. Training may go on for hours after the window (`--no-stop`,
        a watch kept in a test's scope); what the report holds is records, not tensors."""
        for held in (self.before, self.buffer_copy, self._blocks, self._fingerprinters, self._pending,
                     self._root_params, self.refrozen, self._covered, self.modes_before, self.drifted, self.ran,
                     self.ran_eval, self.ran_other,
                     self._versions, self._moving, self._grad_probe, self._frozen_between, self.part_toggled,
                     self._lr_zero, self.probe_roots, self._frozen_grad,
                     self.undone, self.undone_call, self.undone_site, self.idle_drift):
            held.clear()
        self._forward_read = self._forward_fp = None
        self._own_modules = ((), [])
        # the models and optimizers judged, those given included, weakly from now on: one the script
        # drops (an optimizer retired with its state, a model replaced) is freed as it would be unwatched
        self.roots, self.optimizers = _weakly(self.roots), _weakly(self.optimizers)
        self._given_model, self._given_opts = _weak(self._given_model), [_weak(o) for o in self._given_opts]


def watch(steps: int = 2, model: nn.Module | None = None, optimizer: Any = None, *,
          expect_frozen: Iterable[str] | str = (), expect_trainable: Iterable[str] | str = (),
          rewatch: bool = True, ignore: Iterable[str] | str = ()) -> Watch:
    """Watch the next `steps` optimizer steps of the real training loop and judge them.

        with freezelint.watch(expect_frozen=["backbone"]) as w:
            trainer.fit(model)
        w.report.raise_for_findings()

    Models and optimizers are found by themselves (the outermost modules whose forward runs and
    whose parameters a stepping optimizer holds; for a loop that calls a method of the model, such
    as `model.loss(batch)`, the module the code holds above the parts that method runs); pass
    `model=` / `optimizer=` (one, a list or a dict) to watch only those. Every optimizer that steps in the window counts: it closes when
    each has completed `steps` steps (one replaced by a new optimizer over all its parameters,
    gradual unfreezing's rebuild, stops counting once the new one has stepped twice: its steps
    are the new one's). Nothing is restored and nothing is computed in the
    training's place: the weights after the watched steps are those of an unwatched run, bit
    for bit.

    Training that goes on inside the block after the window is watched for a change of what
    trains (parameters unfrozen or frozen, a module swapped, an optimizer's groups grown, a new
    optimizer): the first step that sees one opens another window of `steps` steps, judged
    alike (`w.reports`: the first window's report, then the later ones'; `rewatch=False`: the
    first window only). Between windows a step costs a comparison of requires_grad flags.

    `ignore`: codes (or prefixes) accepted as `audit(ignore=...)` accepts them: their findings stay
    in every window's report, marked ignored, and do not make it fail (`report.ok`,
    `assert_watched`). The `[tool.freezelint]` table of a pyproject.toml is not read here (nor by
    audit() and its fixture): pass what a test accepts in the call."""
    return Watch(steps, model, optimizer, expect_frozen=expect_frozen, expect_trainable=expect_trainable,
                 rewatch=rewatch, ignore=ignore)


class _AssertWatched:
    """The context manager `assert_watched` returns: a class, not a generator, so that a failure
    at the block's end shows the test's line and the report, without contextlib's frames (pytest
    hides frames that set `__tracebackhide__`)."""

    def __init__(self, w: Watch) -> None:
        self.watch = w

    def __enter__(self) -> Watch:
        return self.watch.__enter__()

    def __exit__(self, kind, exc, tb) -> None:
        __tracebackhide__ = True
        self.watch.__exit__(kind, exc, tb)
        if kind is None:
            for report in self.watch.reports:  # the first window's, then the later ones'
                report.raise_for_findings()


def assert_watched(steps: int = 2, frozen: Iterable[str] | str = (), trainable: Iterable[str] | str = (),
                   **kwargs: Any) -> _AssertWatched:
    """`watch()` that raises FreezeAuditError (the report) on findings when the block ends.

        with freezelint.assert_watched(frozen=["backbone"], trainable=["head"], ignore=["FZ505"]):
            train(model, loader)

    `ignore=` (and the other keywords) as for watch().
    """
    return _AssertWatched(watch(steps, expect_frozen=frozen, expect_trainable=trainable, **kwargs))


__all__ = ["Watch", "WindowComplete", "assert_watched", "watch"]
