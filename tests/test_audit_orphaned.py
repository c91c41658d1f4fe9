"""audit(): layers replaced after the optimizer was built by layers without parameters of their own
(torchvision's FrozenBatchNorm2d for a BatchNorm2d, its weight and bias kept as buffers). No trainable
parameter is left out of the optimizer, so no FZ503 says it; the optimizer still holds the old
layers' weight and bias, which no forward uses: FZ302, as `freezelint run` finds on the same setup.
Near misses: the conversion made before the optimizer, and an optimizer that also holds the
parameters of a module the audit was not given (a loss with a learnable temperature) beside
FrozenBatchNorm2d layers converted in time."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")
from torch import nn  # noqa: E402
from torchvision.ops.misc import FrozenBatchNorm2d  # noqa: E402

import freezelint  # noqa: E402


def convert(module: nn.Module) -> nn.Module:
    """Every BatchNorm2d replaced by a FrozenBatchNorm2d holding its weights and statistics."""
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            frozen = FrozenBatchNorm2d(child.num_features, eps=child.eps)
            for leaf in ("weight", "bias", "running_mean", "running_var"):
                getattr(frozen, leaf).copy_(getattr(child, leaf).detach())
            setattr(module, name, frozen)
        else:
            convert(child)
    return module


def small() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 2))


def test_a_batchnorm_replaced_by_frozen_batchnorm_after_the_optimizer_is_fz302():
    model = small()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model[1] = FrozenBatchNorm2d(8)
    report = freezelint.audit(model, opt, batch=torch.randn(4, 3, 8, 8))
    (f,) = report.findings
    assert (f.code, f.target) == ("FZ302", "(model)"), str(report)
    # worded as `freezelint run` words it (the layers' names and the shapes as that finding gives them)
    assert f.message.startswith("the optimizer holds 2 tensors that are no longer in the model ("), f.message
    assert "and got no gradient in these steps: the layer" in f.message
    assert "replaced after the optimizer was built; it steps them for nothing" in f.message
    assert "build the optimizer once the model is in its final form" in f.advice


def test_a_resnet_converted_after_the_optimizer_is_fz302_naming_its_norm_layers():
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=5)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01, momentum=0.9)
    convert(model)
    report = freezelint.audit(model, opt, batch=torch.randn(2, 3, 32, 32))
    (f,) = [f for f in report.findings if f.code == "FZ302"]
    assert "the optimizer holds 40 tensors that are no longer in the model" in f.message, f.message
    assert "replaced after the optimizer was built" in f.message and "bn1" in f.message
    assert "of what it holds only conv1.weight" in f.message


def test_near_miss_the_conversion_before_the_optimizer_is_clean():
    torch.manual_seed(0)
    model = convert(torchvision.models.resnet18(weights=None, num_classes=5))
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01, momentum=0.9)
    report = freezelint.audit(model, opt, batch=torch.randn(2, 3, 32, 32))
    assert report.ok, str(report)


def test_near_miss_a_loss_parameter_the_audit_was_not_given_beside_frozen_batchnorm_is_no_fz302():
    # the optimizer also trains a learnable temperature the loss holds, shaped as a FrozenBatchNorm2d's
    # bias would be if it had 8 channels: not a replaced layer's (it has no weight beside it)
    model = convert(small())
    temperature = nn.Parameter(torch.ones(8))
    opt = torch.optim.SGD([*model.parameters(), temperature], lr=0.1)
    report = freezelint.audit(model, opt, batch=torch.randn(4, 3, 8, 8))
    assert "FZ302" not in [f.code for f in report.findings], str(report)
