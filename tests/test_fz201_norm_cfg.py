"""FZ201 for norm layers built by mmcv's `build_norm_layer(cfg, num_features)[1]`: a config whose
type is one of the BatchNorm kinds of mmcv's registry ('BN', 'BN2d', 'SyncBN', ...) builds a
BatchNorm, and a class that freezes it in `__init__` with no train() override is reported as the
nn.BatchNorm2d version is (mmagic's ResNet and its `_freeze_stages()`)."""

from __future__ import annotations

import textwrap

import pytest

from freezelint.check.engine import check_source

RESNET = """
import torch.nn as nn
from mmcv.cnn import build_norm_layer


class ResNet(nn.Module):
    def __init__(self, frozen_stages=1, norm_cfg={default}):
        super().__init__()
        self.frozen_stages = frozen_stages
        self.norm_cfg = norm_cfg
        self.conv1 = nn.Conv2d(3, 8, 3)
        self.norm1 = {norm1}
        self.layer1 = nn.Sequential(nn.Conv2d(8, 8, 3), build_norm_layer(self.norm_cfg, 8)[1])
        self._freeze_stages()

    def _freeze_stages(self):
        if self.frozen_stages >= 0:
            self.norm1.eval()
            for m in [self.conv1, self.norm1]:
                for param in m.parameters():
                    param.requires_grad = False
        for i in range(1, self.frozen_stages + 1):
            m = getattr(self, f'layer{{i}}')
            m.eval()
            for param in m.parameters():
                param.requires_grad = False
{train}"""

TRAIN = """
    def train(self, mode=True):
        super().train(mode)
        self._freeze_stages()
        return self
"""


def _rows(default="dict(type='BN')", norm1="build_norm_layer(norm_cfg, 8)[1]", train=""):
    code = RESNET.format(default=default, norm1=norm1, train=train).lstrip("\n")
    found = check_source(code, "resnet_norm_cfg_fz201.py", select=["FZ201"])
    return [(d.row, d.message) for d in found]


@pytest.mark.parametrize("default, norm1", [
    ("dict(type='BN')", "build_norm_layer(norm_cfg, 8)[1]"),
    ("dict(type='BN2d', requires_grad=True)", "build_norm_layer(norm_cfg, 8)[1]"),
    ("{'type': 'SyncBN'}", "build_norm_layer(self.norm_cfg, 8)[1]"),
    ("dict(type=nn.BatchNorm2d)", "build_norm_layer(cfg=norm_cfg, num_features=8)[1]"),
    ("None", "build_norm_layer(dict(type='BN'), 8)[1]"),
], ids=["bn_default", "bn2d", "syncbn_dict_self_attr", "class_type", "literal"])
def test_a_batchnorm_config_frozen_in_init_without_a_train_override_is_reported(default, norm1):
    found = _rows(default, norm1)
    assert [row for row, _ in found] == [13]
    assert found[0][1].startswith("ResNet freezes BatchNorm with .eval() in __init__ but does not override train()")


def test_the_same_class_with_nn_batchnorm2d_is_reported_at_the_same_line():
    assert [row for row, _ in _rows(norm1="nn.BatchNorm2d(8)")] == [13]


@pytest.mark.parametrize("default, norm1, train", [
    ("dict(type='BN')", "build_norm_layer(norm_cfg, 8)[1]", TRAIN),  # the freeze re-applied after train()
    ("dict(type='GN', num_groups=4)", "build_norm_layer(norm_cfg, 8)[1]", ""),  # GroupNorm: no statistics
    ("dict(type='LN')", "build_norm_layer(norm_cfg, 8)[1]", ""),
    ("None", "build_norm_layer(norm_cfg, 8)[1]", ""),  # a config only the caller gives
    ("dict(type='BN')", "build_norm_layer(norm_cfg, 8)[0]", ""),  # the layer's name, not the layer
], ids=["train_override", "gn", "ln", "no_default", "name"])
def test_near_misses_are_silent(default, norm1, train):
    assert _rows(default, norm1, train) == []


def test_a_project_function_of_the_same_name_proves_nothing():
    code = textwrap.dedent(RESNET.format(default="dict(type='BN')", norm1="build_norm_layer(norm_cfg, 8)[1]",
                                         train="")).replace("from mmcv.cnn import", "from .norm import")
    assert check_source(code, "resnet_norm_cfg_local_fz201.py", select=["FZ201"]) == []


class TestTheFacts:
    torch = pytest.importorskip("torch")

    def test_mmcv_bn_types_name_torch_batchnorm_classes_whose_eval_train_undoes(self):
        # mmcv.cnn.bricks.norm registers 'BN' and 'BN2d' as nn.BatchNorm2d, 'BN1d' / 'BN3d' as the
        # 1d / 3d ones, 'SyncBN' as nn.SyncBatchNorm: all keep running statistics
        from freezelint.check.kinds import _NORM_TYPES

        torch = self.torch
        for q in _NORM_TYPES.values():
            cls = getattr(torch.nn, q.rsplit(".", 1)[1])
            assert issubclass(cls, torch.nn.modules.batchnorm._BatchNorm)
        bn = torch.nn.BatchNorm2d(4)
        net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), bn)
        bn.eval()
        before = bn.running_mean.clone()
        net.train()(torch.randn(2, 3, 8, 8))
        assert bn.training and not torch.equal(before, bn.running_mean)
