"""watch() on what training frameworks do to a model and its optimizer when they freeze layers,
reproduced in plain torch: opacus's DPOptimizer writing each trained parameter a new noised .grad
before the torch optimizer it wraps steps (and its zero_grad() defaulting to set_to_none=False),
fastai's and pytorch-accelerated's freezing that keeps BatchNorm layers trainable in a frozen part."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import freezelint  # noqa: E402


def _noised_step(opt: torch.optim.Optimizer, params: list[nn.Parameter]) -> None:
    """What opacus's DPOptimizer.step() does before stepping the optimizer it wraps: each trainable
    parameter's clipped per-sample grads summed (`summed_grad`) and a new `.grad` of that sum plus
    noise assigned to it; frozen ones are left out."""
    for p in params:
        if p.requires_grad and p.grad is not None:
            p.summed_grad = p.grad.detach().clone()
            p.grad = (p.summed_grad + 0.01 * torch.randn_like(p)).view_as(p)
    opt.step()


def _dp_step(net: nn.Module, opt: torch.optim.Optimizer, set_to_none: bool) -> None:
    params = list(net.parameters())
    opt.zero_grad(set_to_none=set_to_none)  # DPOptimizer.zero_grad()'s default: False
    for p in params:
        p.summed_grad = None  # opacus clears it in zero_grad()
    net(torch.randn(4, 4)).sum().backward()
    _noised_step(opt, params)


def _dp_loop(net: nn.Module, opt: torch.optim.Optimizer, steps: int, trained_then_frozen: bool = False,
             set_to_none: bool = False):
    if trained_then_frozen:
        for _ in range(2):
            _dp_step(net, opt, set_to_none)
        net[0].requires_grad_(False)  # frozen after training it, its grads left as they are
    with freezelint.watch(steps=steps) as w:
        for _ in range(steps):
            _dp_step(net, opt, set_to_none)
    return w


def test_a_grad_a_wrapper_wrote_before_the_step_says_nothing_of_zero_grad():
    net = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    net[0].requires_grad_(False)
    opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.1, momentum=0.9)
    w = _dp_loop(net, opt, steps=3)
    assert w.report.ok, w.report.render_text()
    head = w.report.render_text().splitlines()[0]
    assert "zero_grad" not in head and head.endswith("on cpu, SGD"), head


def test_near_miss_a_loop_that_writes_no_grad_of_its_own_still_states_set_to_none():
    net = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    with freezelint.watch(steps=3) as w:
        for _ in range(3):
            opt.zero_grad()
            net(torch.randn(4, 4)).sum().backward()
            opt.step()
    assert w.report.render_text().splitlines()[0].endswith("SGD, zero_grad(set_to_none=True)")


def test_frozen_grads_kept_alive_are_stated_as_set_to_none_false_in_the_header_too():
    """A layer frozen after training under the wrapper, its zeroed grad kept by zero_grad(set_to_none=
    False) and stepped by momentum: FZ501 says set_to_none=False keeps such grads; the header
    must not say set_to_none=True from the trained grads the wrapper renewed."""
    net = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    w = _dp_loop(net, opt, steps=2, trained_then_frozen=True)
    text = w.report.render_text()
    assert "FZ501" in [f.code for f in w.report.findings], text
    assert "zero_grad(set_to_none=True)" not in text.splitlines()[0], text
    [f] = [f for f in w.report.findings if f.code == "FZ501"]
    assert "keeps such grads alive (opacus's DPOptimizer.zero_grad() defaults to set_to_none=False)" in f.message


def test_near_miss_a_plain_optimizer_keeping_frozen_grads_names_no_dp_default():
    net = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    for _ in range(2):
        opt.zero_grad(set_to_none=False)
        net(torch.randn(4, 4)).sum().backward()
        opt.step()
    net[0].requires_grad_(False)
    with freezelint.watch(steps=2) as w:
        for _ in range(2):
            opt.zero_grad(set_to_none=False)
            net(torch.randn(4, 4)).sum().backward()
            opt.step()
    [f] = [f for f in w.report.findings if f.code == "FZ501"]
    assert "keeps such grads alive" in f.message and "opacus" not in f.message, f.message


def _block(i: int, o: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU())


def _frozen_but_norms(model: nn.Module) -> None:
    """What fastai's `Learner.freeze()` (train_bn=True) and pytorch-accelerated's ModelFreezer
    (freeze_batch_norms=False) do to a body: every parameter frozen but the BatchNorm layers'."""
    for m in model.modules():
        if not isinstance(m, nn.BatchNorm2d):
            for p in m.parameters(recurse=False):
                p.requires_grad_(False)


def _cnn() -> nn.Sequential:
    return nn.Sequential(nn.Sequential(_block(3, 8), _block(8, 8)), nn.Sequential(nn.AdaptiveAvgPool2d(1),
                                                                                 nn.Flatten(), nn.Linear(8, 2)))


def _watched(model: nn.Module, **expect) -> freezelint.AuditReport:
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)  # fastai's optimizer holds every group
    with freezelint.watch(steps=2, **expect) as w:
        for _ in range(2):
            opt.zero_grad()
            model(torch.randn(4, 3, 8, 8)).sum().backward()
            opt.step()
    return w.report


def test_expect_frozen_on_a_body_frozen_but_its_batchnorm_says_a_frameworks_freeze_kept_them_trainable():
    model = _cnn()
    _frozen_but_norms(model[0])
    report = _watched(model, expect_frozen=["0"])
    [f] = [f for f in report.findings if f.code == "FZ506"]
    assert "all 4 are trainable (requires_grad=True): the weights and biases of its normalization layers " \
           "(BatchNorm2d) in a part whose other layers are frozen" in f.message, f.message
    assert "fastai's `Learner.freeze()` with train_bn=True" in f.message, f.message
    assert f.advice.startswith("if that is meant, name in the expectation only the layers meant to stay frozen"), \
        f.advice
    assert "`Learner(..., train_bn=False)`" in f.advice and "freeze_batch_norms=True" in f.advice, f.advice
    assert _watched(model, expect_frozen=["0.*.0.weight"]).ok  # the convolutions alone: frozen


@pytest.mark.parametrize("how", ["all trainable", "a conv trainable too"])
def test_near_miss_a_part_not_frozen_around_its_norms_keeps_the_plain_cause(how):
    model = _cnn()
    if how == "a conv trainable too":
        _frozen_but_norms(model[0])
        model[0][1][0].weight.requires_grad_(True)
    report = _watched(model, expect_frozen=["0"])
    [f] = [f for f in report.findings if f.code == "FZ506"]
    assert "normalization" not in f.message and f.advice == "freeze them with requires_grad_(False)", f


def test_audit_says_the_same_of_a_body_frozen_but_its_batchnorm():
    model = _cnn()
    _frozen_but_norms(model[0])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    report = freezelint.audit(model, opt, steps=2, batch=torch.randn(4, 3, 8, 8), expect_frozen=["0"])
    [f] = [f for f in report.findings if f.code == "FZ506"]
    assert "in a part whose other layers are frozen" in f.message, f.message


@pytest.mark.parametrize("noised", [True, False])
def test_frozen_batchnorm_statistics_under_noised_grads_are_said_to_leave_the_privacy_guarantee(noised):
    """opacus checks only trainable modules for BatchNorm: a frozen one in train mode still records
    the private batches' statistics, noised by nothing. Without a DP optimizer: the plain FZ502."""
    net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    net[:2].requires_grad_(False)
    opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.1)
    params = list(net.parameters())
    with freezelint.watch(steps=3) as w:
        for _ in range(3):
            opt.zero_grad(set_to_none=False)
            for p in params:
                p.summed_grad = None
            net(torch.randn(8, 4)).sum().backward()
            if noised:
                _noised_step(opt, params)
            else:
                opt.step()
    [f] = [f for f in w.report.findings if f.code == "FZ502"]
    assert ("outside the privacy guarantee" in f.message) is noised, f.message


@pytest.mark.parametrize("noised", [True, False])
def test_a_layer_unfrozen_after_a_dp_optimizer_was_built_is_fz503_saying_how_to_rewrap(noised):
    """opacus hooks the layers trainable at make_private for per-sample grads: one unfrozen later and
    only added to the optimizer makes the next step raise, so FZ503's add_param_group is not enough."""
    net = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    net[0].requires_grad_(False)
    opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.1)
    net[0].requires_grad_(True)
    params = list(net.parameters())
    with freezelint.watch(steps=2) as w:
        for _ in range(2):
            opt.zero_grad(set_to_none=False)
            for p in params:
                p.summed_grad = None
            net(torch.randn(4, 4)).sum().backward()
            if noised:
                _noised_step(opt, params)
            else:
                opt.step()
    [f] = [f for f in w.report.findings if f.code == "FZ503"]
    assert ("call the wrapped model's remove_hooks() and make_private again" in f.advice) is noised, f.advice


class _TwoPartClassifier:
    """What setfit's SetFitModel is to the watch: no module, it holds a body and a head as attributes and
    runs its own loop (`fit`) over both, the body frozen (end_to_end=False), one optimizer over both."""

    def __init__(self):
        self.model_body = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8))
        self.model_head = nn.Linear(8, 2)

    def fit(self, steps: int, end_to_end: bool) -> None:
        if not end_to_end:
            self.model_body.requires_grad_(False)
        opt = torch.optim.AdamW([{"params": self.model_body.parameters()}, {"params": self.model_head.parameters()}])
        for _ in range(steps):
            opt.zero_grad()
            self.model_head(self.model_body(torch.randn(4, 4))).sum().backward()
            opt.step()


def test_models_a_non_module_holds_and_trains_are_labelled_by_its_attributes():
    clf = _TwoPartClassifier()
    with freezelint.watch(steps=2, expect_trainable=["model_body"]) as w:
        clf.fit(2, end_to_end=False)
    text = w.report.render_text()
    assert "(2 models: model_body, model_head)" in text, text
    [f] = [f for f in w.report.findings if f.code == "FZ506"]
    assert f.target == "model_body" and "expected to train, but model_body.0.weight" in f.message, f.message
    with freezelint.watch(steps=2, expect_frozen=["model_body"]) as w:
        _TwoPartClassifier().fit(2, end_to_end=False)
    assert w.report.ok, w.report.render_text()


def test_near_miss_models_the_script_names_keep_the_scripts_names():
    clf = _TwoPartClassifier()
    body = clf.model_body  # noqa: F841 — the script's own name for it wins
    with freezelint.watch(steps=2) as w:
        clf.fit(2, end_to_end=False)
    assert "(2 models: body, model_head)" in w.report.render_text(), w.report.render_text()


class _OpenMMBackbone(nn.Module):
    """As mmcv, mmdet and mmpretrain backbones take it: with norm_eval=True their train() keeps
    their BatchNorm layers in eval()."""

    def __init__(self, norm_eval: bool | None):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU())
        if norm_eval is not None:
            self.norm_eval = norm_eval

    def train(self, mode: bool = True):
        super().train(mode)
        if mode and getattr(self, "norm_eval", False):
            for m in self.modules():
                if isinstance(m, nn.BatchNorm1d):
                    m.eval()
        return self

    def forward(self, x):
        return self.layers(x)


def _openmmlab_fz502(norm_eval: bool | None) -> list:
    torch.manual_seed(0)
    model = nn.Sequential()
    model.backbone, model.head = _OpenMMBackbone(norm_eval), nn.Linear(8, 2)
    model.backbone.requires_grad_(False)  # frozen_stages
    opt = torch.optim.SGD(model.head.parameters(), lr=0.1)
    with freezelint.watch() as w:
        for _ in range(3):
            model.train()
            model(torch.randn(6, 4)).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
    return [f for f in w.report.findings if f.code == "FZ502"]


def test_fz502_in_a_backbone_whose_norm_eval_is_false_names_openmmlabs_switch():
    (found,) = _openmmlab_fz502(False)
    assert found.target == "backbone.layers.1"
    assert found.advice.endswith("; backbone takes OpenMMLab's norm_eval, now False: set `norm_eval=True` in its "
                              "config to keep it in eval() through train()"), found.advice


def test_near_miss_fz502_in_a_backbone_without_norm_eval_names_no_config():
    (found,) = _openmmlab_fz502(None)
    assert "norm_eval" not in found.advice, found.advice


def test_near_miss_norm_eval_true_keeps_the_frozen_statistics():
    assert _openmmlab_fz502(True) == []
