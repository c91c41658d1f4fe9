"""fastai's own Optimizer (`fastai.optimizer.Optimizer`, what a Learner builds by default: its
`opt_func=Adam` is fastai's Adam) is no torch.optim.Optimizer, so torch's global step hooks never
see it. While a watch is active, its `step` is wrapped at class level to run the watch's step hooks
around it, as torch runs them around its own optimizers' steps, and the hooks are handed a view of
it that reads as a torch optimizer (`as_torch`): the watch's code reads one kind of optimizer.
audit() steps the view (its step() and zero_grad() are fastai's own) and hooks it as a torch
optimizer (`register_step_pre_hook`): the wrapped step runs the view's own hooks too.

fastai is never imported here: the class is wrapped once `fastai.optimizer` is in sys.modules
(`wrap`, asked as the watch opens and at the models' forwards: the script imports fastai after
`freezelint run` opened the watch), and put back when the last active watch or audit is done."""

from __future__ import annotations

import sys
import weakref
from collections import OrderedDict
from itertools import chain
from typing import Any, Callable

import torch
from torch.optim import optimizer as _torch_optimizer

_users = 0  # active watches and audits
_wrapped: list[tuple[type, Callable, Callable]] = []  # (fastai's Optimizer, its own step, ours)
_views: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # fastai's optimizer -> its view

# fastai's per-parameter settings kept in its state (`Optimizer._keep_on_clear`: BatchNorm kept
# trainable by train_bn, weight decay off for norms and biases): no state a step made
_SETTINGS = frozenset({"force_train", "do_wd"})
# fastai's names for what a torch optimizer's state and param groups call otherwise
_STATE_NAMES = {"grad_avg": "exp_avg", "sqr_avg": "exp_avg_sq"}
_HYPER_NAMES = {"wd": "weight_decay", "mom": "momentum"}


def _torch_hypers(hp: dict) -> dict:
    """A param group's hyperparameters under torch's names as well as fastai's: `wd` is
    weight_decay; `mom` is momentum, or with `sqr_mom` (Adam's, RAdam's) the first of torch's betas."""
    out = {_HYPER_NAMES.get(k, k): v for k, v in hp.items()}
    if "sqr_mom" in hp and "mom" in hp:
        del out["momentum"]
        out["betas"] = (hp["mom"], hp["sqr_mom"])
    return out


def optimizer_class() -> type | None:
    """fastai's Optimizer where fastai is imported (and the class defined), else None."""
    cls = getattr(sys.modules.get("fastai.optimizer"), "Optimizer", None)
    return cls if isinstance(cls, type) else None


def hold() -> None:
    """A watch opened (or an audit steps): fastai's steps are hooked until every holder released them."""
    global _users
    _users += 1
    wrap()


def release() -> None:
    """A watch closed (or an audit's steps ended): the last holder puts fastai's own step back."""
    global _users
    _users = max(0, _users - 1)
    if not _users:
        while _wrapped:
            cls, own, ours = _wrapped.pop()
            if cls.__dict__.get("step") is ours:  # else another wrapper came after ours: left to it
                cls.step = own


def wrap() -> None:
    """Wrap fastai's Optimizer.step, once, while a watch or audit holds it and fastai is imported."""
    if not _users or _wrapped:
        return
    cls = optimizer_class()
    own = cls.__dict__.get("step") if cls is not None else None
    if own is None:
        return

    def step(self: Any, *args: Any, **kwargs: Any) -> Any:
        view = as_torch(self)  # the hooks run in torch's order: global ones first before, last after
        for hook in chain(_ours(_torch_optimizer._global_optimizer_pre_hooks),
                          list(view._optimizer_step_pre_hooks.values())):
            hook(view, (view, *args), kwargs)
        out = own(self, *args, **kwargs)
        for hook in chain(list(view._optimizer_step_post_hooks.values()),
                          _ours(_torch_optimizer._global_optimizer_post_hooks)):
            hook(view, (view, *args), kwargs)
        return out

    step.__name__, step.__qualname__, step.__doc__ = own.__name__, own.__qualname__, own.__doc__
    cls.step = step
    _wrapped.append((cls, own, step))


def _ours(hooks: dict) -> list[Callable]:
    """The watch's step hooks among torch's global ones (a copy: a hook may add another); another
    library's hook expects a torch optimizer, which fastai's is not."""
    return [h for h in list(hooks.values())
            if type(getattr(h, "__self__", None)).__module__ == "freezelint.runtime.watch"]


def of(opt: Any) -> Any:
    """`opt` as freezelint reads optimizers: fastai's own as its view (as_torch), any other as it is."""
    cls = optimizer_class()
    return as_torch(opt) if cls is not None and isinstance(opt, cls) else opt


def as_torch(opt: Any) -> Any:
    """The view of fastai's optimizer `opt` that the watch reads as a torch optimizer: one per
    optimizer, alive as long as it is (the watch keys what it notes by the view's id)."""
    view = _views.get(opt)
    if view is None:
        view = _views[opt] = Optimizer(opt)
    return view


def inner(view: "Optimizer") -> "Optimizer | None":
    """The view of the fastai optimizer that `view`'s wraps and steps (Lookahead's `opt`: ranger's
    RAdam), whose step is the hooked one (a wrapper's own step() is not wrapped); None if none."""
    cls, opt = optimizer_class(), view.fastai
    held = next((v for v in vars(opt).values() if isinstance(v, cls) and v is not opt), None) \
        if cls is not None and opt is not None else None
    return as_torch(held) if held is not None else None


class _State(dict):
    """fastai's per-parameter state as torch names it, without fastai's settings (`_SETTINGS`):
    a parameter no step updated holds none. Read with `get` and `[]`, as the watch reads a torch
    optimizer's (the dict itself stays empty)."""

    def __init__(self, opt: Any) -> None:
        super().__init__()
        self._opt = opt

    def get(self, p: Any, default: Any = None) -> Any:  # type: ignore[override]
        own = self._opt.state.get(p) if isinstance(self._opt.state, dict) else None
        out = {_STATE_NAMES.get(k, k): v for k, v in (own or {}).items() if k not in _SETTINGS}
        return out or default

    def __getitem__(self, p: Any) -> Any:
        return self.get(p, {})

    def __contains__(self, p: object) -> bool:
        return self.get(p) is not None

    def __iter__(self) -> Any:
        """The parameters holding state a step made, as a torch optimizer's state lists them."""
        own = self._opt.state if isinstance(self._opt.state, dict) else {}
        return iter([p for p in list(own) if self.get(p) is not None])

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def keys(self) -> Any:  # type: ignore[override]
        return list(self)


class Optimizer(torch.optim.Optimizer):
    """fastai's Optimizer seen as a torch optimizer: its param groups (`param_lists` with their
    `hypers`, weight decay and momentum under torch's names as well) and its state. torch's
    __init__ is not run: the view holds fastai's optimizer weakly, and its step() and zero_grad()
    are fastai's own (the wrapped step runs the view's step hooks)."""

    def __init__(self, opt: Any) -> None:  # noqa: D107 — no super().__init__: see the class
        self._fastai = weakref.ref(opt)
        # step hooks as torch's register_step_pre_hook/post_hook keep them (audit() registers its own)
        self._optimizer_step_pre_hooks: OrderedDict = OrderedDict()
        self._optimizer_step_post_hooks: OrderedDict = OrderedDict()

    @property
    def fastai(self) -> Any:
        return self._fastai()

    @property
    def param_groups(self) -> list[dict]:  # type: ignore[override]
        opt = self.fastai
        if opt is None:
            return []
        decoupled = any(getattr(cb, "__name__", "") == "weight_decay" for cb in getattr(opt, "cbs", ()))
        return [{"params": list(ps), **hp, **_torch_hypers(hp), "decoupled_weight_decay": decoupled}
                for ps, hp in zip(opt.param_lists, opt.hypers)]

    @property
    def state(self) -> dict:  # type: ignore[override]
        opt = self.fastai
        return _State(opt) if opt is not None else {}

    def step(self, closure: Any = None) -> Any:  # type: ignore[override]
        return self.fastai.step() if closure is None else self.fastai.step(closure)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """fastai's own zero_grad(): grads zeroed in place, whatever set_to_none says (it has none)."""
        self.fastai.zero_grad()

    def __repr__(self) -> str:
        return f"view of {self.fastai!r}"


# what reports call it (as they call torch's by class: `AdamW`): fastai's optimizer is one class
# whatever its opt_func (Adam, SGD), and `Optimizer` alone reads as torch's base class
Optimizer.__name__ = "fastai Optimizer"
