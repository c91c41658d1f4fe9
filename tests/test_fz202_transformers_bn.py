"""FZ202 on transformers vision classes that hold BatchNorm (ResNet, RegNet, MobileNetV1/V2,
EfficientNet, ...): frozen by requires_grad only and trained in train mode, their running
statistics move, as torchvision's resnet's do. The generated table says which classes hold it;
ConvNext and BiT (LayerNorm, GroupNorm) do not."""

from __future__ import annotations

import re
import textwrap

import pytest

from freezelint.check.engine import check_source
from freezelint.check.submodule_table import TABLE
from freezelint.check.whole_model import BN_FACTORY_CALL, BN_FACTORY_TRIGGERS, HF_BN_FAMILIES, bn_layers

_SRC = """
import torch
from transformers import {cls}

model = {cls}.from_pretrained("org/checkpoint")
head = torch.nn.Linear(512, 2)
model.requires_grad_(False)
opt = torch.optim.AdamW(head.parameters(), lr=1e-3)
model.{mode}()
for x, y in loader:
    feats = model(x).pooler_output.flatten(1)
    loss = torch.nn.functional.cross_entropy(head(feats), y)
    loss.backward()
    opt.step()
"""


def found(cls: str, mode: str = "train") -> list:
    return check_source(textwrap.dedent(_SRC.format(cls=cls, mode=mode)), "train.py", select=["FZ202"])


def test_the_table_lists_the_batchnorm_of_transformers_vision_classes():
    assert len(bn_layers("transformers.ResNetModel")) == 53
    assert len(bn_layers("transformers.MobileNetV2ForImageClassification")) == 52
    for none in ("transformers.ConvNextModel", "transformers.BitModel", "transformers.ViTModel"):
        assert bn_layers(none) == []


@pytest.mark.parametrize("cls,count", [("ResNetModel", 53), ("RegNetForImageClassification", 71),
                                       ("MobileNetV1Model", 27), ("EfficientNetModel", 163)])
def test_a_frozen_class_with_batchnorm_in_train_mode_is_reported(cls, count):
    [d] = found(cls)
    assert d.row == 7 and f"`model` (transformers.{cls}) is frozen with requires_grad only" in d.message
    assert f"its {count} BatchNorm layers keep updating their running statistics" in d.message


@pytest.mark.parametrize("cls,mode", [("ConvNextModel", "train"), ("BitModel", "train"), ("ResNetModel", "eval")])
def test_no_batchnorm_or_eval_mode_is_silent(cls, mode):
    assert found(cls, mode) == []


def test_every_transformers_class_with_batchnorm_passes_the_text_gate():
    holders = [k.split(".", 1)[1] for k, v in TABLE.items() if k.startswith("transformers.") and v.get("bn")]
    assert len(holders) >= 20
    for cls in holders:
        call = f'{cls}.from_pretrained("x")'
        assert re.search(BN_FACTORY_CALL, call) and any(re.search(t, call) for t in BN_FACTORY_TRIGGERS), cls
        assert any(cls.startswith(f) for f in HF_BN_FAMILIES), cls


def test_torch_shows_the_frozen_hf_resnets_statistics_move_in_train_mode():
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1])
    model = transformers.ResNetModel(config)
    model.requires_grad_(False)
    bn = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    before = bn.running_mean.clone()
    model.train()
    model(torch.randn(2, 3, 32, 32))
    assert not torch.equal(bn.running_mean, before)  # frozen, yet its statistics moved
    model.eval()
    after = bn.running_mean.clone()
    model(torch.randn(2, 3, 32, 32))
    assert torch.equal(bn.running_mean, after)
