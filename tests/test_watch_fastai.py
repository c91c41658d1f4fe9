"""watch() and `freezelint run` on fastai's own Optimizer (what a Learner builds by default): its
steps are watched as a torch optimizer's, a correct `fine_tune` is clean, a body frozen after it
trained (fastai's weight decay on grads it zeroes in place) is FZ501, and watching changes nothing
that training computes. Real fastai, synthetic data, a tiny CNN, CPU."""

from __future__ import annotations

import random
import warnings

import pytest

from conftest import write

torch = pytest.importorskip("torch")
pytest.importorskip("fastai")
from torch import nn  # noqa: E402

import freezelint  # noqa: E402

# the script both halves run: a Learner with fastai's default opt_func (its own Adam) over a
# body (conv + BatchNorm) and a head, split in two param groups, as vision_learner splits them
LEARNER = """
import random, warnings
import torch, torch.nn as nn
from fastai.data.core import DataLoaders
from fastai.learner import Learner
from fastai.callback.schedule import *  # fine_tune, fit_one_cycle
from fastai.callback.progress import ProgressCallback
warnings.filterwarnings("ignore")
random.seed(0)
torch.manual_seed(0)
ds = [(torch.randn(3, 8, 8), int(torch.randint(0, 2, ()))) for _ in range(40)]
dls = DataLoaders.from_dsets(ds[:32], ds[32:], bs=8, device="cpu")
body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
model = nn.Sequential(body, nn.Linear(8, 2))
learn = Learner(dls, model, loss_func=nn.CrossEntropyLoss(), splitter=lambda m: [list(m[0].parameters()),
                                                                                 list(m[1].parameters())])
learn.remove_cb(ProgressCallback)
"""


def _learner():
    namespace: dict = {}
    exec(LEARNER, namespace)
    return namespace["learn"]


def _step_is_fastai_own() -> bool:
    from fastai.optimizer import Optimizer

    return Optimizer.__dict__["step"].__module__ == "fastai.optimizer"


def _fine_tune(learn) -> None:
    with warnings.catch_warnings(), learn.no_logging():
        warnings.simplefilter("ignore")
        learn.fine_tune(1, freeze_epochs=1)


def _refreeze(learn) -> None:
    """Train it all, then freeze the body for the next stage: its grads stay zero tensors (fastai's
    zero_grad zeroes them in place) and its weight decay shrinks the frozen weights."""
    with warnings.catch_warnings(), learn.no_logging():
        warnings.simplefilter("ignore")
        learn.fit(1, 1e-2)
        learn.freeze()
        learn.fit(1, 1e-2)


def _codes(reports) -> list[str]:
    return [f.code for r in reports for f in r.findings]


def test_fine_tune_as_written_is_watched_and_clean():
    learn = _learner()
    with freezelint.watch() as w:
        _fine_tune(learn)
    assert _step_is_fastai_own()  # put back as the watch closed
    assert w.report.optimizer == "fastai Optimizer", w.report.optimizer
    assert w.report.set_to_none is False  # fastai's zero_grad zeroes in place
    assert _codes(w.reports) == [], [r.findings for r in w.reports]
    # the first window saw the frozen stage: the body's conv frozen, its BatchNorm trainable (train_bn)
    frozen = {p.name for p in w.report.params if not p.requires_grad}
    assert frozen == {"0.0.weight", "0.0.bias"}, frozen
    # the unfreeze at fine_tune's second stage opened a later window, judged clean too
    assert len(w.reports) == 2 and all(p.requires_grad for p in w.reports[1].params)


def test_a_body_frozen_after_it_trained_moves_under_fastai_weight_decay():
    learn = _learner()
    with freezelint.watch() as w:
        _refreeze(learn)
    reports = w.reports
    assert _codes(reports[:1]) == []  # the first window trains it all
    later = reports[-1]
    fz501 = [f for f in later.findings if f.code == "FZ501"]
    assert fz501 and "0.0.weight" in fz501[0].message, later.findings
    assert "fastai Optimizer" in fz501[0].message and "weight_decay=0.01" in fz501[0].message, fz501[0].message
    assert "fastai's zero_grad() zeroes grads in place" in fz501[0].message, fz501[0].message
    assert "set_to_none" not in fz501[0].message + fz501[0].advice, fz501[0]
    assert "set each frozen parameter's `.grad = None`" in fz501[0].advice, fz501[0].advice
    assert "FZ504" in _codes([later])
    # BatchNorm kept trainable by learn.freeze() (train_bn=True) and the bias, which fastai's
    # weight decay skips (wd_bn_bias=False), are no finding
    assert not any(n in f.message for f in later.findings for n in ("0.1.weight", "0.1.bias")), later.findings


def test_a_body_frozen_after_it_trained_keeps_still_when_its_grads_are_cleared():
    """The near-miss: the same freeze with the frozen grads set to None, which fastai's step and
    zero_grad skip."""
    learn = _learner()
    with freezelint.watch() as w, warnings.catch_warnings(), learn.no_logging():
        warnings.simplefilter("ignore")
        learn.fit(1, 1e-2)
        learn.freeze()
        for p in learn.model[0].parameters():
            if not p.requires_grad:
                p.grad = None
        learn.fit(1, 1e-2)
    assert _codes(w.reports) == [] and len(w.reports) == 2, [r.findings for r in w.reports]


def test_a_head_swapped_after_the_optimizer_was_built_is_in_no_optimizer():
    learn = _learner()
    with freezelint.watch() as w, warnings.catch_warnings(), learn.no_logging():
        warnings.simplefilter("ignore")
        learn.freeze()
        learn.fit(1, 1e-3)  # the optimizer is built here
        learn.model[1] = nn.Linear(8, 3)  # a new head: the optimizer still holds the old one's
        learn.fit(1, 1e-3)
    codes = _codes(w.reports)
    # the old head keeps zero grads (fastai zeroes in place): the layer replaced, not a forward's tensors
    assert "FZ302" in codes, [r.findings for r in w.reports]


def test_a_freeze_with_train_bn_off_leaves_batchnorm_statistics_moving():
    """train_bn=False freezes the body's BatchNorm too, but fastai leaves it in train mode: its
    running statistics move (FZ502); with train_bn=True (fine_tune above) it trains, no finding."""
    learn = _learner()
    learn.train_bn = False  # as Learner(..., train_bn=False): read when the optimizer is built
    with freezelint.watch() as w, warnings.catch_warnings(), learn.no_logging():
        warnings.simplefilter("ignore")
        learn.freeze()
        learn.fit(1, 1e-3)
    assert _codes([w.report]) == ["FZ502"], w.report.findings
    assert w.report.findings[0].target == "0.1", w.report.findings


def test_a_body_frozen_by_a_plain_attribute_is_reported():
    learn = _learner()
    learn.model[0].requires_grad = False  # meant: freeze the body; autograd never reads it
    with freezelint.watch() as w, warnings.catch_warnings(), learn.no_logging():
        warnings.simplefilter("ignore")
        learn.fit(1, 1e-3)
    assert _codes([w.report]) == ["FZ102"], w.report.findings


def test_watched_fastai_steps_compute_what_unwatched_ones_compute_bit_for_bit():
    def trained(watched: bool):
        random.seed(0)
        torch.manual_seed(0)
        learn = _learner()
        if watched:
            with freezelint.watch():
                _refreeze(learn)
        else:
            _refreeze(learn)
        return learn, torch.get_rng_state()

    (a, rng_a), (b, rng_b) = trained(False), trained(True)
    sa, sb = a.model.state_dict(), b.model.state_dict()
    for n in sa:
        assert torch.equal(sa[n].view(-1).view(torch.uint8), sb[n].view(-1).view(torch.uint8)), n
    assert torch.equal(rng_a, rng_b)
    for pa, pb in zip(a.opt.all_params(), b.opt.all_params()):
        assert pa[2].keys() == pb[2].keys()
        for k, v in pa[2].items():
            assert torch.equal(v, pb[2][k]) if isinstance(v, torch.Tensor) else v == pb[2][k], k


def test_fastai_step_is_put_back_when_the_block_raises_and_after_nested_watches():
    learn = _learner()
    with pytest.raises(ValueError):
        with freezelint.watch():
            with warnings.catch_warnings(), learn.no_logging():
                warnings.simplefilter("ignore")
                learn.fit(1, 1e-3)
            raise ValueError("the script's own error")
    assert _step_is_fastai_own()
    with freezelint.watch(steps=1) as outer:
        with freezelint.watch(steps=1) as inner, warnings.catch_warnings(), learn.no_logging():
            warnings.simplefilter("ignore")
            learn.fit(1, 1e-3)
        assert not _step_is_fastai_own()  # the outer watch is still open
        with warnings.catch_warnings(), learn.no_logging():
            warnings.simplefilter("ignore")
            learn.fit(1, 1e-3)
    assert _step_is_fastai_own()
    assert inner.report.optimizer == outer.report.optimizer == "fastai Optimizer"


def test_freezelint_run_watches_fine_tune_and_reports_a_refreeze(cli, tmp_path):
    write(tmp_path / "train.py", LEARNER + "learn.fine_tune(1, freeze_epochs=1)\n")
    r = cli(tmp_path, "run", "train.py")
    assert r.code == 0, r.out + r.err
    assert "2 steps on cpu, fastai Optimizer, zero_grad(set_to_none=False)" in r.out + r.err, r.out + r.err
    assert "OptimWrapper" not in r.out + r.err
    assert _step_is_fastai_own()
    write(tmp_path / "train.py", LEARNER + "learn.fit(1, 1e-2)\nlearn.freeze()\nlearn.fit(1, 1e-2)\n")
    r = cli(tmp_path, "run", "--no-stop", "train.py")
    assert r.code == 1, r.out + r.err
    assert "FZ501" in r.out + r.err and "0.0.weight" in r.out + r.err, r.out + r.err


def test_learn_opt_given_to_watch_is_the_optimizer_watched():
    learn = _learner()
    with warnings.catch_warnings(), learn.no_logging():
        warnings.simplefilter("ignore")
        learn.create_opt()
        with freezelint.watch(optimizer=learn.opt) as w:
            learn.fit(1, 1e-3)
    assert w.report.optimizer == "fastai Optimizer" and w.report.ok, w.report.findings
    with pytest.raises(freezelint.AuditUsageError, match="fastai's own"):
        freezelint.watch(optimizer=learn)


def test_vision_learner_fine_tune_as_a_new_user_writes_it_is_clean(cli, tmp_path):
    """vision_learner's resnet18 body (BatchNorm kept trainable by its freeze) and new head."""
    pytest.importorskip("torchvision")
    write(tmp_path / "train.py", """
        import random, warnings, torch
        from torchvision.models import resnet18
        from fastai.vision.all import DataLoaders, vision_learner, CrossEntropyLossFlat
        from fastai.callback.progress import ProgressCallback
        warnings.filterwarnings("ignore")
        random.seed(0)
        torch.manual_seed(0)
        ds = [(torch.randn(3, 32, 32), int(torch.randint(0, 2, ()))) for _ in range(24)]
        dls = DataLoaders.from_dsets(ds[:16], ds[16:], bs=8, device="cpu")
        learn = vision_learner(dls, resnet18, pretrained=False, n_out=2, loss_func=CrossEntropyLossFlat(),
                               normalize=False)
        learn.remove_cb(ProgressCallback)
        learn.fine_tune(1, freeze_epochs=1)
    """)
    r = cli(tmp_path, "run", "train.py")
    assert r.code == 0, r.out + r.err
    assert "freeze audit: OK — 2 steps on cpu, fastai Optimizer" in r.out + r.err, r.out + r.err
    assert "BatchNorm2d (20) trainable" in r.out + r.err, r.out + r.err


def _beside_another():
    """A Learner's optimizer and a torch one, stepped by turns; the watch returned, its frames gone."""
    learn = _learner()
    learn.create_opt()
    other = nn.Linear(4, 1)
    opt_t = torch.optim.SGD(other.parameters(), lr=0.1)
    with freezelint.watch() as w:
        for _ in range(3):
            learn.model(torch.randn(4, 3, 8, 8)).pow(2).mean().backward()
            learn.opt.step()
            learn.opt.zero_grad()
            other(torch.randn(2, 4)).sum().backward()
            opt_t.step()
            opt_t.zero_grad()
    return w


def test_a_learners_optimizer_beside_another_is_named_as_the_script_holds_it():
    """Several optimizers are named as the code holds them (noted while its frames were there):
    fastai's own as `learn.opt`."""
    w = _beside_another()
    assert w.report.optimizer == "learn.opt: fastai Optimizer + opt_t: SGD", w.report.optimizer
    held_by = {p.name: p.optimizer for p in w.report.params}
    assert {o for n, o in held_by.items() if n.startswith("Sequential.")} == {"learn.opt"}, held_by
    assert {o for n, o in held_by.items() if not n.startswith("Sequential.")} == {"opt_t"}, held_by


def test_a_learners_optimizer_is_noted_as_learn_opt_for_a_report_judged_after_the_script():
    """The names noted while the code's frames are there (a report judged after the script ended
    has none to ask): fastai's own optimizer, which the watch reads through its view, as `learn.opt`."""
    from freezelint.runtime import fastai_steps
    from freezelint.runtime.watch_models import remember_names

    learn = _learner()
    learn.create_opt()
    view = fastai_steps.as_torch(learn.opt)
    seen: dict = {}
    remember_names([view], seen)
    assert seen == {id(view): "learn.opt"}, seen
