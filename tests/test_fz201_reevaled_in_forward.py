"""FZ201's frozen-submodule case (`self.encoder` put in eval in __init__, run without grad in
forward, no train() override) stays silent where forward puts it back in eval before it runs
(anomalib's cflow/cfm/l2bt teachers): whatever a train() did is undone at every call."""
import textwrap

from freezelint.check.engine import check_source

MODEL = """
import torch
from torch import nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Dropout(0.1)).eval()
        for p in self.encoder.parameters():
            p.requires_grad = False
        self.head = nn.Linear(8, 2)

    def features(self, x):
        REEVAL
        with torch.no_grad():
            return self.encoder(x)

    def forward(self, x):
        return self.head(self.features(x).mean((2, 3)))
"""


def codes(reeval: str, chained: bool = True) -> list[str]:
    src = MODEL.replace("REEVAL", reeval)
    if not chained:
        src = src.replace("nn.Dropout(0.1)).eval()", "nn.Dropout(0.1))\n        self.encoder.eval()")
    return [f.code for f in check_source(textwrap.dedent(src), "model.py")]


def test_a_submodule_put_back_in_eval_before_it_runs_is_no_fz201():
    for chained in (True, False):
        assert codes("self.encoder.eval()", chained) == [], chained
        assert codes("self.encoder.train(False)", chained) == [], chained


def test_without_the_re_eval_or_with_one_of_a_part_only_it_is_fz201():
    for chained in (True, False):
        assert codes("pass", chained) == ["FZ201"], chained
        assert codes("self.encoder[1].eval()", chained) == ["FZ201"], chained


BN_CLASS = """
import torch.nn as nn
import torchvision


def set_bn_eval(m):
    if isinstance(m, nn.BatchNorm2d):
        m.eval()


def get_model():
    model = torchvision.models.resnet18()
    model.apply(set_bn_eval)
    return model


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        FROZEN
        self.head = nn.Linear(1000, 2)

    def forward(self, x):
        REFREEZE
        return self.head(self.backbone(x))
"""

FROZEN = [
    "self.backbone = torchvision.models.resnet18()\n        self.backbone.apply(set_bn_eval)",
    "self.backbone = get_model()",  # a builder returns it frozen
    "backbone = torchvision.models.resnet18()\n        backbone.apply(set_bn_eval)\n        self.backbone = backbone",
]


def _bn_codes(frozen: str, refreeze: str) -> list[str]:
    src = BN_CLASS.replace("FROZEN", frozen).replace("REFREEZE", refreeze)
    return [f.code for f in check_source(textwrap.dedent(src), "model.py") if f.code == "FZ201"]


def test_a_batchnorm_freeze_forward_applies_again_is_no_fz201():
    for frozen in FROZEN:
        for refreeze in ("self.backbone.apply(set_bn_eval)", "self.backbone.eval()"):
            assert _bn_codes(frozen, refreeze) == [], (frozen, refreeze)


def test_a_batchnorm_freeze_forward_does_not_apply_again_is_fz201():
    for frozen in FROZEN:
        for refreeze in ("pass", "self.backbone.layer1.eval()", "self.head.eval()"):
            assert _bn_codes(frozen, refreeze) == ["FZ201"], (frozen, refreeze)
