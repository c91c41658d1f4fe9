"""audit() on fastai's own Optimizer (`learn.opt`, what a Learner builds by default): stepped and
zeroed as fastai does it, a clean fine-tune setup audited OK, a body refrozen after training (its
grads zeroed in place, fastai's weight decay on them) and a head swapped after the optimizer was
built reported, and the model, fastai's optimizer (per-parameter state with its settings, hypers)
and the RNG restored bit for bit, also when a step raises. Real fastai, synthetic data, a tiny CNN,
CPU."""

from __future__ import annotations

import random
import warnings

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("fastai")
from torch import nn  # noqa: E402

import freezelint  # noqa: E402
from freezelint.runtime import fastai_steps  # noqa: E402
from test_watch_fastai import LEARNER, _learner, _step_is_fastai_own  # noqa: E402


def _trained(refreeze: bool = True):
    """A Learner trained a little (its optimizer holds state), its body then frozen: what a script
    holds before its next stage."""
    learn = _learner()
    with warnings.catch_warnings(), learn.no_logging():
        warnings.simplefilter("ignore")
        learn.fit(1, 1e-2)
    if refreeze:
        learn.freeze()
    return learn


def _codes(report) -> list[str]:
    return [f.code for f in report.findings]


def _state(opt) -> dict:
    """fastai's per-parameter state, by value (tensors cloned), keyed by position."""
    return {i: {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in opt.state[p].items()}
            for i, p in enumerate(p for ps in opt.param_lists for p in ps) if p in opt.state}


def _same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        x.keys() == y.keys() and all(torch.equal(x[k], y[k]) if isinstance(x[k], torch.Tensor) else x[k] == y[k]
                                     for k in x) for x, y in ((a[i], b[i]) for i in a))


class _Everything:
    """What an audit must leave as it found it: the weights and buffers, fastai's optimizer (its
    state and the objects that hold it, the hypers, frozen_idx) and the RNG."""

    def __init__(self, learn) -> None:
        opt = learn.opt
        self.learn = learn
        self.model = {k: v.clone() for k, v in learn.model.state_dict().items()}
        self.requires = [p.requires_grad for p in learn.model.parameters()]
        self.state, self.state_obj = _state(opt), opt.state
        self.dicts = {id(p): opt.state[p] for p in list(opt.state)}
        self.hypers, self.hyper_objs = [dict(h) for h in opt.hypers], (opt.hypers, [id(h) for h in opt.hypers])
        self.frozen_idx = opt.frozen_idx
        self.rng = (torch.get_rng_state(), random.getstate())

    def check(self) -> None:
        opt = self.learn.opt
        after = self.learn.model.state_dict()
        assert all(torch.equal(v, after[k]) for k, v in self.model.items())
        assert [p.requires_grad for p in self.learn.model.parameters()] == self.requires
        assert opt.state is self.state_obj and type(opt.state).__name__ == "defaultdict"
        assert {id(p): d for p, d in opt.state.items()} == self.dicts  # the same dicts, no new entries
        assert all(opt.state[p] is self.dicts[id(p)] for p in opt.state)
        assert _same_state(self.state, _state(opt))
        assert opt.hypers is self.hyper_objs[0] and [id(h) for h in opt.hypers] == self.hyper_objs[1]
        assert [dict(h) for h in opt.hypers] == self.hypers
        assert opt.frozen_idx == self.frozen_idx
        assert torch.equal(torch.get_rng_state(), self.rng[0]) and random.getstate() == self.rng[1]


def test_a_fine_tune_setup_is_audited_clean():
    """fine_tune's first stage: the optimizer built, the body frozen (its BatchNorm kept trainable)."""
    learn = _learner()
    learn.create_opt()
    learn.freeze()
    report = freezelint.audit(learn.model, learn.opt, expect_frozen="0.0", expect_trainable=["1", "0.1"])
    assert report.ok, report.findings
    assert report.optimizer == "fastai Optimizer" and report.set_to_none is False
    assert _step_is_fastai_own()  # fastai's step put back after the audit


def test_a_body_refrozen_after_training_moves_under_fastai_weight_decay():
    learn = _trained()
    report = freezelint.audit(learn.model, learn.opt)
    fz501 = [f for f in report.findings if f.code == "FZ501"]
    assert fz501 and "0.0.weight" in fz501[0].message, report.findings
    assert "fastai Optimizer" in fz501[0].message and "weight_decay=0.01" in fz501[0].message, fz501[0].message
    assert "fastai's zero_grad() zeroes grads in place" in fz501[0].message, fz501[0].message
    assert "set each frozen parameter's `.grad = None`" in fz501[0].advice, fz501[0].advice


def test_a_body_refrozen_with_its_grads_cleared_stays_still():
    """The near-miss: the same freeze, the frozen grads set to None (fastai's step skips them)."""
    learn = _trained()
    for p in learn.model[0].parameters():
        if not p.requires_grad:
            p.grad = None
    report = freezelint.audit(learn.model, learn.opt)
    assert "FZ501" not in _codes(report), report.findings
    assert not any(r.changed for r in report.params if not r.requires_grad), report.params


def test_a_torch_optimizer_beside_fastai_zeroes_as_asked():
    """fastai's optimizer zeroes its grads in place; a torch optimizer audited with it zeroes as
    set_to_none says (True: a stale grad of a part it holds, frozen since, is cleared to None, so
    AdamW's weight decay leaves that part still, as the loop's own zero_grad() would)."""
    learn = _learner()
    learn.create_opt()
    learn.freeze()
    aux = learn.model.aux = nn.Linear(2, 2)  # held by a torch optimizer of its own; frozen, a grad left over
    side = torch.optim.AdamW(aux.parameters(), lr=1e-2, weight_decay=0.1)
    aux.requires_grad_(False)
    for p in aux.parameters():
        p.grad = torch.ones_like(p)
    before = [p.clone() for p in aux.parameters()]
    report = freezelint.audit(learn.model, [learn.opt, side])
    assert not any(r.changed for r in report.params if r.name.startswith("aux.")), report.findings
    assert "FZ501" not in _codes(report), report.findings
    assert all(torch.equal(a, p) for a, p in zip(before, aux.parameters()))


def test_a_head_swapped_after_the_optimizer_was_built_is_reported():
    learn = _learner()
    learn.create_opt()
    learn.freeze()
    learn.model[1] = nn.Linear(8, 3)  # the optimizer still holds the old head's weights
    report = freezelint.audit(learn.model, learn.opt)
    assert _codes(report) == ["FZ302"], report.findings
    assert "1.weight" in report.findings[0].message


def test_fastai_own_optimizer_is_accepted_in_a_list_and_a_dict():
    learn = _learner()
    learn.create_opt()
    learn.freeze()
    assert freezelint.audit(learn.model, [learn.opt]).ok
    assert freezelint.audit(learn.model, {"learner": learn.opt}).ok


def test_everything_is_restored_bit_for_bit():
    learn = _trained()
    learn.model[0].insert(3, nn.Dropout(0.5))  # the forward draws from the RNG
    bn = learn.model[0][1].weight
    assert learn.opt.state[bn]["force_train"] is True and learn.opt.state[bn]["do_wd"] is False
    saved = _Everything(learn)
    report = freezelint.audit(learn.model, learn.opt, steps=3)
    assert report.restored and "FZ501" in _codes(report), report.findings
    saved.check()


def test_a_step_fn_stepping_fastai_itself_is_hooked_and_restored():
    """step_fn gets the optimizer as passed: fastai's own, stepped by the script's code."""
    learn = _trained()
    batch = torch.randn(4, 3, 8, 8)
    saved = _Everything(learn)

    def step(model, opt, batch):
        model(batch).pow(2).mean().backward()
        opt.step()
        opt.zero_grad()

    report = freezelint.audit(learn.model, learn.opt, batch=batch, step_fn=step)
    assert "FZ501" in _codes(report), report.findings
    saved.check()


def test_a_step_that_raises_midway_is_restored():
    """A step callback that raises at the second step, after it updated some parameters: all of
    it put back, the error raised."""
    learn = _trained()
    calls = []

    def fails(p, **kw):
        calls.append(p)
        if len(calls) > 6:  # the first step updates 6 parameters, the second fails at its first
            raise RuntimeError("boom")

    learn.opt.cbs.append(fails)
    batch = torch.randn(4, 3, 8, 8)
    saved = _Everything(learn)
    with pytest.raises(RuntimeError, match="boom"):
        freezelint.audit(learn.model, learn.opt, batch=batch, loss_fn=lambda out, b: out.sum())
    assert len(calls) == 7
    saved.check()
    assert _step_is_fastai_own() and not fastai_steps._users


def test_ranger_lookahead_and_its_slow_weights_are_restored():
    """fastai's ranger: a Lookahead (its own step, not the hooked one) around RAdam; every k=6th
    step it moves its slow weights in place and copies them into the parameters. Three steps from
    the 4th cross the 6th."""
    namespace: dict = {}
    exec("from fastai.optimizer import ranger\n" + LEARNER.replace("splitter=", "opt_func=ranger, splitter="),
         namespace)
    learn = namespace["learn"]
    with warnings.catch_warnings(), learn.no_logging():
        warnings.simplefilter("ignore")
        learn.fit(1, 1e-2)
        learn.freeze()  # clears the state (Lookahead's count and slow weights too)
        learn.fit(1, 1e-2)  # 4 batches
    opt = learn.opt
    assert type(opt).__name__ == "Lookahead" and opt.count == 4
    slow, slow_obj = [t.clone() for pg in opt.slow_weights for t in pg], opt.slow_weights
    saved = _Everything(learn)
    report = freezelint.audit(learn.model, opt, steps=3)
    assert report.restored and "FZ501" in _codes(report), report.findings
    saved.check()
    assert opt.count == 4 and opt.slow_weights is slow_obj
    assert all(torch.equal(a, b) for a, b in zip(slow, (t for pg in opt.slow_weights for t in pg)))
    # the memory the restore holds up front: the buffers, trained weights and grads copied, and the slow weights
    from freezelint.runtime.restore import Snapshot
    params = list(learn.model.parameters())
    snap = Snapshot(learn.model, [fastai_steps.as_torch(opt)], params)
    held = [*learn.model.buffers(), *(p for pg in opt.param_lists for p in pg if p.requires_grad),
            *(p.grad for p in params if p.grad is not None), *(t for pg in opt.slow_weights for t in pg)]
    assert snap.extra_bytes == sum(t.numel() * t.element_size() for t in held)
