"""FZ202 on a part frozen by requires_grad only inside a Module's own train() override, while the
same body puts another part it freezes in eval (OpenMMLab `MobileNetV2._freeze_stages`: the stem
`self.conv1`, a ConvModule with BatchNorm, is frozen by requires_grad; the stages get eval())."""

import textwrap

import pytest

from freezelint.check.engine import check_source

REPRODUCER = """
import torch.nn as nn


class Backbone(nn.Module):
    def __init__(self, frozen_stages=1):
        super().__init__()
        self.frozen_stages = frozen_stages
        self.conv1 = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU())
        self.layer1 = nn.Sequential(nn.Conv2d(8, 8, 3), nn.BatchNorm2d(8), nn.ReLU())
        self.layer2 = nn.Sequential(nn.Conv2d(8, 8, 3), nn.BatchNorm2d(8), nn.ReLU())

    def _freeze_stages(self):
        if self.frozen_stages >= 0:
            for param in self.conv1.parameters():
                param.requires_grad = False
        for i in range(1, self.frozen_stages + 1):
            layer = getattr(self, f'layer{i}')
            layer.eval()
            for param in layer.parameters():
                param.requires_grad = False

    def train(self, mode=True):
        super().train(mode)
        self._freeze_stages()
        return self

    def forward(self, x):
        return self.layer2(self.layer1(self.conv1(x)))
"""

# the pure torch.nn form of the mistake, with holes for near-misses
PURE = """
import torch.nn as nn


class Backbone(nn.Module):
    def __init__(self, frozen_stages=1):
        super().__init__()
        self.frozen_stages = frozen_stages
        self.conv1 = STEM
        self.layer1 = nn.Sequential(nn.Conv2d(8, 8, 3), nn.BatchNorm2d(8), nn.ReLU())
        self.layer2 = nn.Sequential(nn.Conv2d(8, 8, 3), nn.BatchNorm2d(8), nn.ReLU())

    def _freeze_stages(self):
        if self.frozen_stages >= 0:
            for param in self.conv1.parameters():
                param.requires_grad = False
            EXTRA
        for i in range(1, self.frozen_stages + 1):
            layer = getattr(self, f'layer{i}')
            SIBLING
            for param in layer.parameters():
                param.requires_grad = False

    def train(self, mode=True):
        super().train(mode)
        self._freeze_stages()
        AFTER
        return self

    def forward(self, x):
        return self.layer2(self.layer1(self.conv1(x)))
"""
PURE_STEM = "nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU())"

# the OpenMMLab form, reduced: a ConvModule built with the class's norm_cfg (BatchNorm by default)
MM = """
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch.nn.modules.batchnorm import _BatchNorm


class MobileNetV2(BaseModule):
    def __init__(self, frozen_stages=-1, norm_cfg=NORM, norm_eval=NORM_EVAL):
        super(MobileNetV2, self).__init__()
        self.frozen_stages = frozen_stages
        self.norm_cfg = norm_cfg
        self.norm_eval = norm_eval
        self.conv1 = ConvModule(3, 32, 3, stride=2, padding=1, norm_cfg=self.norm_cfg)
        for i in range(7):
            self.add_module(f'layer{i + 1}', nn.Sequential(ConvModule(32, 32, 3, norm_cfg=self.norm_cfg)))

    def _freeze_stages(self):
        if self.frozen_stages >= 0:
            for param in self.conv1.parameters():
                param.requires_grad = False
        for i in range(1, self.frozen_stages + 1):
            layer = getattr(self, f'layer{i}')
            layer.eval()
            for param in layer.parameters():
                param.requires_grad = False

    def train(self, mode=True):
        super(MobileNetV2, self).train(mode)
        self._freeze_stages()
        if SWEEP_TEST:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
"""


def _pure(stem: str = PURE_STEM, extra: str = "pass", sibling: str = "layer.eval()", after: str = "pass") -> str:
    return textwrap.dedent(PURE).replace("STEM", stem).replace("EXTRA", extra).replace("SIBLING", sibling) \
        .replace("AFTER", after)


def _mm(norm: str = "dict(type='BN')", norm_eval: str = "False", test: str = "mode and self.norm_eval") -> str:
    return textwrap.dedent(MM).replace("NORM_EVAL", norm_eval).replace("NORM", norm).replace("SWEEP_TEST", test)


def _fz202(src: str) -> list:
    return [(d.row, d.message) for d in check_source(src, "backbone.py", select=["FZ202", "FZ201"])
            if d.code == "FZ202"]


def test_the_pure_torch_form_fires_on_the_stem_freeze():
    src = _pure()
    [(row, msg)] = _fz202(src)
    assert src.splitlines()[row - 1].strip() == "param.requires_grad = False"
    assert src.splitlines()[row - 2].strip() == "for param in self.conv1.parameters():"
    assert msg.startswith("`self.conv1` is frozen with requires_grad only in `_freeze_stages` while `layer` is "
                          "also put in eval there; train() calls it after `super().train()`"), msg
    assert "(an `nn.BatchNorm2d(8)`)" in msg and "also call `self.conv1.eval()` (as for `layer`)" in msg


def test_the_reproducer_fires_on_the_stem_freeze():
    found = _fz202(REPRODUCER)
    assert len(found) == 1, found
    row, _ = found[0]
    assert REPRODUCER.splitlines()[row - 1].strip() == "param.requires_grad = False"
    assert "for param in self.conv1.parameters():" in REPRODUCER.splitlines()[row - 2]


def test_the_openmmlab_form_fires_and_says_the_norm_eval_sweep_is_off_by_default():
    src = _mm()
    [(row, msg)] = _fz202(src)
    assert src.splitlines()[row - 2].strip() == "for param in self.conv1.parameters():"
    assert "(built with `norm_cfg=dict(type='BN')`)" in msg
    assert "(the BatchNorm sweep under `if mode and self.norm_eval:` runs only when `norm_eval` is set, " \
           "and it defaults to False)" in msg, msg


@pytest.mark.parametrize("norm", ["dict(type='SyncBN', requires_grad=True)", "{'type': 'BN'}"])
def test_other_batchnorm_configs_fire(norm):
    assert len(_fz202(_mm(norm=norm))) == 1


@pytest.mark.parametrize("norm,norm_eval,test", [
    ("None", "False", "mode and self.norm_eval"),  # no norm layer at all
    ("dict(type='GN', num_groups=8)", "False", "mode and self.norm_eval"),  # GroupNorm: no running statistics
    ("dict(type='LN')", "False", "mode and self.norm_eval"),
    ("dict(type='BN')", "True", "mode and self.norm_eval"),  # the sweep runs by default
    ("dict(type='BN')", "False", "mode"),  # an unconditional sweep (in training mode)
    ("dict(type='BN')", "False", "self.unknown_flag"),  # a switch whose default is not known
])
def test_openmmlab_near_misses(norm, norm_eval, test):
    assert _fz202(_mm(norm=norm, norm_eval=norm_eval, test=test)) == []


def test_a_norm_cfg_parameter_without_a_default_is_not_claimed():
    src = _mm().replace("norm_cfg=dict(type='BN'), ", "norm_cfg, ")
    assert "def __init__(self, frozen_stages=-1, norm_cfg, " in src
    src = src.replace("frozen_stages=-1, norm_cfg,", "norm_cfg, frozen_stages=-1,")
    assert _fz202(src) == []


@pytest.mark.parametrize("kw", {
    "stem": dict(stem="nn.Conv2d(3, 8, 3)"),  # a stem without BatchNorm
    "stem put in eval": dict(extra="self.conv1.eval()"),  # ResNet's form (`self.norm1.eval()`)
    "stem's BatchNorm in eval": dict(extra="self.conv1[1].eval()"),
    "stem in eval after": dict(after="self.conv1.eval()"),
    "no sibling in eval": dict(sibling="pass"),  # no evidence that frozen parts need eval here
    "unconditional sweep": dict(after="for m in self.modules():\n            if isinstance(m, nn.BatchNorm2d):\n"
                                      "                m.eval()"),
    "whole model in eval": dict(after="self.eval()"),
    "apply": dict(after="self.apply(set_bn_eval)"),
    "helper handed self": dict(after="set_bn_eval(self)"),
    "eval of a part not known": dict(after="getattr(self, self.stem_name).eval()"),
    "loop over a list naming the stem": dict(after="for m in [self.conv1, self.layer1]:\n            m.eval()"),
}.values(), ids=lambda kw: next(iter(kw.values()))[:30])
def test_pure_near_misses(kw):
    assert _fz202(_pure(**kw)) == []


def test_a_base_class_method_called_from_train_is_not_read():
    src = _pure(after="self.freeze_norms()")
    assert _fz202(src) == []


def test_a_freeze_before_super_train_is_not_this_claim():
    src = _pure().replace("super().train(mode)\n        self._freeze_stages()",
                          "self._freeze_stages()\n        super().train(mode)")
    assert _fz202(src) == []


def test_the_resnet_form_stays_silent():
    src = textwrap.dedent("""
        import torch.nn as nn
        from mmcv.cnn import build_conv_layer, build_norm_layer
        from mmengine.model import BaseModule
        from torch.nn.modules.batchnorm import _BatchNorm


        class ResNet(BaseModule):
            def __init__(self, frozen_stages=-1, conv_cfg=None, norm_cfg=dict(type='BN'), norm_eval=False):
                super().__init__()
                self.frozen_stages = frozen_stages
                self.norm_eval = norm_eval
                self.conv1 = build_conv_layer(conv_cfg, 3, 64, kernel_size=7, stride=2, padding=3, bias=False)
                self.norm1_name, norm1 = build_norm_layer(norm_cfg, 64, postfix=1)
                self.add_module(self.norm1_name, norm1)

            @property
            def norm1(self):
                return getattr(self, self.norm1_name)

            def _freeze_stages(self):
                if self.frozen_stages >= 0:
                    self.norm1.eval()
                    for m in [self.conv1, self.norm1]:
                        for param in m.parameters():
                            param.requires_grad = False
                for i in range(1, self.frozen_stages + 1):
                    m = getattr(self, f'layer{i}')
                    m.eval()
                    for param in m.parameters():
                        param.requires_grad = False

            def train(self, mode=True):
                super(ResNet, self).train(mode)
                self._freeze_stages()
                if mode and self.norm_eval:
                    for m in self.modules():
                        if isinstance(m, _BatchNorm):
                            m.eval()
    """)
    assert _fz202(src) == []


def test_torch_moves_the_stems_statistics_and_keeps_the_stages():
    """What the message claims: after `model.train()` the stem's BatchNorm is in train mode and its
    running_mean moves on a forward pass; the frozen stage, put in eval(), keeps its statistics."""
    torch = pytest.importorskip("torch")
    namespace: dict = {}
    exec(compile(_pure(), "backbone.py", "exec"), namespace)
    torch.manual_seed(0)
    model = namespace["Backbone"](frozen_stages=1)
    model.train()
    stem_bn, stage_bn = model.conv1[1], model.layer1[1]
    assert not any(p.requires_grad for p in model.conv1.parameters())  # "frozen"
    assert stem_bn.training and not stage_bn.training
    stem_before, stage_before = stem_bn.running_mean.clone(), stage_bn.running_mean.clone()
    with torch.no_grad():  # no gradient at all: the statistics move all the same
        model(torch.randn(4, 3, 16, 16) * 3 + 1)
    assert not torch.equal(stem_bn.running_mean, stem_before)
    assert torch.equal(stage_bn.running_mean, stage_before)
    # the fix the message offers: self.conv1.eval() in the same place
    fixed: dict = {}
    exec(compile(_pure(extra="self.conv1.eval()"), "backbone.py", "exec"), fixed)
    model = fixed["Backbone"](frozen_stages=1)
    model.train()
    before = model.conv1[1].running_mean.clone()
    with torch.no_grad():
        model(torch.randn(4, 3, 16, 16) * 3 + 1)
    assert torch.equal(model.conv1[1].running_mean, before)
