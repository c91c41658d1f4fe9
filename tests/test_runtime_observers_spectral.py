"""The runtime's FZ502/FZ201 on quantization observers and spectral norm, and FZ302 on a layer
weight_norm reparametrized after the optimizer was built: what torch does, then what the report says."""

from __future__ import annotations

import math
import re
import warnings

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import freezelint  # noqa: E402
from freezelint.runtime import findings as F  # noqa: E402


def codes(report) -> list[str]:
    return sorted(f.code for f in report.findings)


def no_number_words(text: str) -> None:
    """A size printed as a number never reads `inf` or `nan`."""
    assert not re.search(r"\b(-?inf|nan)\b", text), text


# ---------------------------------------------------------------- quantization observers
def tq():
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*reduce_range.*")
    import torch.ao.quantization as quant
    return quant


def qat_linear() -> nn.Sequential:
    """Eager QAT of a small MLP whose first layer is frozen (its fake-quantize modules have no parameters)."""
    quant = tq()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2)).train()
    model.qconfig = quant.get_default_qat_qconfig("x86")
    model = quant.prepare_qat(model)
    model[0].requires_grad_(False)
    return model


class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        quant = tq()
        self.quant = quant.QuantStub()
        self.conv = nn.Conv2d(3, 8, 3)
        self.bn = nn.BatchNorm2d(8)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(8, 3)
        self.dequant = quant.DeQuantStub()

    def forward(self, x):
        x = self.relu(self.bn(self.conv(self.quant(x))))
        return self.dequant(self.fc(x.mean((2, 3))))


def qat_convbn(freeze_bn: bool) -> nn.Module:
    """fuse_modules_qat + prepare_qat, the fused conv-bn frozen; its BatchNorm statistics frozen too or not."""
    quant = tq()
    torch.manual_seed(0)
    model = quant.fuse_modules_qat(ConvNet().train(), [["conv", "bn", "relu"]])
    model.qconfig = quant.get_default_qat_qconfig("x86")
    model = quant.prepare_qat(model)
    model.conv.requires_grad_(False)
    if freeze_bn:
        import torch.ao.nn.intrinsic.qat as nniqat
        model.conv.apply(nniqat.freeze_bn_stats)
    return model


def watched(model: nn.Module, x_shape: tuple[int, ...], *, refreeze=None, iters: int = 4):
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.05)
    gen = torch.Generator().manual_seed(1)
    with freezelint.watch() as w:
        for _ in range(iters):
            model.train()
            if refreeze is not None:
                refreeze(model)
            model(torch.randn(*x_shape, generator=gen)).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
    return w.report


def test_torch_fake_quantize_observes_in_eval_and_disable_observer_stops_it():
    quant = tq()
    model = qat_linear()
    fq = model[0].activation_post_process
    model[0].eval()
    scale = fq.scale.clone()
    model(torch.randn(4, 8))
    assert not fq.training and not torch.equal(scale, fq.scale)  # eval() does not stop observing
    model[0].apply(quant.disable_observer)
    scale, low = fq.scale.clone(), fq.activation_post_process.min_val.clone()
    model.train()
    model(torch.randn(4, 8) * 5)
    assert torch.equal(scale, fq.scale) and torch.equal(low, fq.activation_post_process.min_val)
    fresh = qat_linear()[0].activation_post_process.activation_post_process
    assert not list(fq.parameters()) and math.isinf(fresh.min_val)  # the range starts at +/-inf


def test_observers_of_a_frozen_qat_layer_are_no_fz502_and_the_note_names_disable_observer():
    report = watched(qat_linear(), (8, 8))
    assert report.ok, report.render_text()
    (note,) = [n for n in report.notes if "observers" in n]
    assert note.startswith("the quantization observers of frozen 0 ") and "disable_observer" in note
    assert "eval() does not stop it" in note
    no_number_words(note)


def test_a_qat_layer_put_in_eval_as_the_old_advice_said_is_no_fz201():
    def refreeze(model):
        model[0].eval()  # the observers still move: it was never a fix, and is no undone freeze either

    report = watched(qat_linear(), (8, 8), refreeze=refreeze)
    assert report.ok, report.render_text()
    assert any("disable_observer" in n for n in report.notes)


def test_observers_of_trained_layers_are_not_noted():
    model = qat_linear()
    model[0].requires_grad_(True)
    report = watched(model, (8, 8))
    assert report.ok and not any("observers" in n for n in report.notes), report.render_text()


def test_torch_freeze_bn_stats_survives_train_while_eval_does_not():
    import torch.ao.nn.intrinsic.qat as nniqat
    model = qat_convbn(freeze_bn=False)
    model.conv.bn.eval()
    model.train()
    assert model.conv.bn.training  # ConvBnReLU2d.train() puts its BatchNorm back in train mode
    model.conv.apply(nniqat.freeze_bn_stats)
    model.train()
    mean = model.conv.bn.running_mean.clone()
    model(torch.randn(4, 3, 12, 12))
    assert not model.conv.bn.training and torch.equal(mean, model.conv.bn.running_mean)


def test_qat_convbn_with_frozen_bn_stats_is_ok_under_watch_and_audit():
    report = watched(qat_convbn(freeze_bn=True), (8, 3, 12, 12))
    assert report.ok, report.render_text()
    assert any(n.startswith("the quantization observers of frozen conv ") for n in report.notes)
    model = qat_convbn(freeze_bn=True)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.05)
    report = freezelint.audit(model, opt, batch=torch.randn(4, 3, 12, 12))
    assert report.ok, report.render_text()


def test_qat_convbn_bn_drift_is_fz502_on_the_batchnorm_alone_with_freeze_bn_stats_advice():
    report = watched(qat_convbn(freeze_bn=False), (8, 3, 12, 12))
    (f,) = report.findings
    assert (f.code, f.target) == ("FZ502", "conv.bn"), report.render_text()
    assert f.message.startswith("conv.bn (BatchNorm2d) has all parameters frozen, but runs in train mode")
    assert "Observer" not in f.message and "FakeQuantize" not in f.message
    assert "freeze_bn_stats" in f.advice and "ConvBnReLU2d" in f.advice and "FrozenBatchNorm2d" not in f.advice
    no_number_words(f.message)


# ---------------------------------------------------------------- sizes that are no number
def test_sized_words_infinite_and_unsized_changes():
    assert F.sized([0.5, None]) == " (up to 0.5)"
    assert F.sized([math.inf]) == " (some from or to an infinite value)"
    assert F.sized([0.25, math.inf]) == " (up to 0.25, others from or to an infinite value)"
    assert F.sized([math.nan]) == " (some by an amount no number gives: NaN values or a changed shape)"
    assert F.sized([]) == ""


class Peak(nn.Module):
    """A frozen layer that tracks the largest activation it saw in train mode, starting from -inf."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)
        self.register_buffer("peak", torch.full((), -math.inf))

    def forward(self, x):
        y = self.lin(x)
        if self.training:
            self.peak.copy_(torch.maximum(self.peak, y.detach().max()))
        return y


def test_fz502_sizes_a_buffer_leaving_minus_inf_in_words():
    torch.manual_seed(0)
    model = nn.Sequential(Peak(), nn.Linear(4, 2))
    model[0].requires_grad_(False)
    report = watched(model, (6, 4))
    (f,) = report.findings
    assert (f.code, f.target) == ("FZ502", "0"), report.render_text()
    assert "running statistics moved (some from or to an infinite value) over 2 steps" in f.message, f.message
    no_number_words(f.message)


# ---------------------------------------------------------------- spectral norm
def make_critic(old_style: bool = False) -> nn.Sequential:
    if old_style:
        from torch.nn.utils import spectral_norm
    else:
        from torch.nn.utils.parametrizations import spectral_norm
    torch.manual_seed(0)
    return nn.Sequential(spectral_norm(nn.Linear(16, 32)), nn.LeakyReLU(0.2), nn.Linear(32, 1)).requires_grad_(False)


def test_torch_a_frozen_spectral_norm_layer_in_train_mode_computes_something_else_each_forward():
    for old_style in (False, True):
        c = make_critic(old_style)
        x = torch.randn(4, 16)
        with torch.no_grad():
            y = c(x)
            for _ in range(3):
                c(torch.randn(8, 16))
            assert not torch.allclose(c(x), y, rtol=0, atol=1e-7)  # the power iteration moved u, v and sigma
            c.eval()
            y = c(x)
            for _ in range(3):
                c(torch.randn(8, 16))
            assert torch.equal(c(x), y)  # in eval(): the stored u and v, left as they are


def gan(critic: nn.Sequential, *, inside: bool = False, evaluate: bool = False):
    torch.manual_seed(1)
    gen = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16))
    if evaluate:
        critic.eval()
    model = nn.Sequential(gen, critic) if inside else gen
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    with freezelint.watch() as w:
        for _ in range(4):
            z = torch.randn(8, 8)
            loss = model(z).mean() if inside else critic(gen(z)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return w.report


@pytest.mark.parametrize("old_style", [False, True])
def test_a_frozen_spectral_norm_critic_beside_the_generator_is_judged(old_style):
    report = gan(make_critic(old_style))
    (f,) = report.findings
    assert (f.code, f.target) == ("FZ502", "critic.0"), report.render_text()
    assert f.message.startswith("critic.0 (Linear with spectral_norm) has all parameters frozen, but runs in train")
    assert "power iteration" in f.message and "running statistics" not in f.message
    assert "put it in eval()" in f.advice and "FrozenBatchNorm2d" not in f.advice


def test_the_same_frozen_spectral_norm_layer_inside_the_model_is_named_by_its_layer():
    report = gan(make_critic(), inside=True)
    (f,) = report.findings
    assert (f.code, f.target) == ("FZ502", "1.0"), report.render_text()
    assert "parametrizations" not in f.message and "_SpectralNorm" not in f.message


@pytest.mark.parametrize("inside", [False, True])
def test_a_frozen_spectral_norm_critic_in_eval_is_ok(inside):
    report = gan(make_critic(), inside=inside, evaluate=True)
    assert report.ok, report.render_text()


def test_a_frozen_side_model_without_such_buffers_is_still_not_judged():
    torch.manual_seed(0)
    plain = nn.Sequential(nn.Linear(16, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1)).requires_grad_(False)
    report = gan(plain)
    assert report.ok and not any(m.name.startswith("critic") for m in report.modules), report.render_text()


def test_audit_names_a_spectral_norm_eval_undone_by_train_as_fz201():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), make_critic())
    model[2].eval()
    opt = torch.optim.SGD(model[0].parameters(), lr=0.1)
    report = freezelint.audit(model, opt, batch=torch.randn(6, 8))
    (f,) = report.findings
    assert (f.code, f.target) == ("FZ201", "2.0"), report.render_text()
    assert "power-iteration vectors (u, v)" in f.message and "model.train()" in f.message
    assert "FrozenBatchNorm2d" not in f.advice


# ---------------------------------------------------------------- FZ302 on weight_norm
def test_torch_weight_norm_makes_new_parameters_and_spectral_norm_keeps_its_own():
    from torch.nn.utils.parametrizations import spectral_norm, weight_norm
    lin = nn.Linear(4, 4)
    old = lin.weight
    weight_norm(lin)
    assert [n for n, _ in lin.named_parameters()] == ["bias", "parametrizations.weight.original0",
                                                     "parametrizations.weight.original1"]
    assert not any(p is old for p in lin.parameters())
    lin = nn.Linear(4, 4)
    old = lin.weight
    spectral_norm(lin)
    assert lin.parametrizations.weight.original is old
    lin = nn.Linear(4, 4)
    old = lin.weight
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # the older weight_norm, still in use
        nn.utils.weight_norm(lin)
    assert {n for n, _ in lin.named_parameters()} == {"bias", "weight_g", "weight_v"}
    assert not any(p is old for p in lin.parameters())


def reparametrized(how: str):
    from torch.nn.utils import parametrizations
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    if how == "weight_norm":
        parametrizations.weight_norm(model[0])
    elif how == "old weight_norm":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            nn.utils.weight_norm(model[0])
    elif how == "spectral_norm":
        parametrizations.spectral_norm(model[0])
    elif how == "replaced":
        model[0] = nn.Linear(8, 16)
    with freezelint.watch() as w:
        for _ in range(4):
            loss = model(torch.randn(8, 8)).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return w.report


@pytest.mark.parametrize("how,new", [("weight_norm", "0.parametrizations.weight.original0"),
                                     ("old weight_norm", "0.weight_g")])
def test_weight_norm_after_the_optimizer_is_fz302_on_the_layer_saying_so(how, new):
    report = reparametrized(how)
    (f,) = report.findings
    assert (f.code, f.target) == ("FZ302", "0"), report.render_text()
    assert f.message.startswith("0 (Linear) had its `weight` reparametrized after the optimizer was built"), f.message
    assert new in f.message and "the optimizer still holds the old `weight`" in f.message
    assert "ModuleDict" not in f.message and "replaced" not in f.message
    assert "the rest of the layer does" in f.message


def test_spectral_norm_after_the_optimizer_keeps_the_held_parameter_so_no_fz302():
    report = reparametrized("spectral_norm")
    assert "FZ302" not in codes(report) and "FZ503" not in codes(report), report.render_text()


def test_a_replaced_layer_is_still_worded_as_replaced():
    report = reparametrized("replaced")
    (f,) = report.findings
    assert f.code == "FZ302" and "the layer was replaced after the optimizer was built" in f.message
