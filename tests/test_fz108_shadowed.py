"""FZ108: an instance attribute that takes the name of the class's own freezing method."""

from __future__ import annotations

import textwrap

import pytest

from freezelint.check.engine import check_source


def found(code: str) -> list[tuple[int, str]]:
    return [(d.row, d.code) for d in check_source(textwrap.dedent(code).lstrip("\n"), "train.py", select=["FZ108"])]


DEEPLAB = """
import torch.nn as nn

class DeepLab(nn.Module):
    def __init__(self, num_classes=21, sync_bn=True, freeze_bn=False):
        super(DeepLab, self).__init__()
        self.head = nn.Conv2d(8, num_classes, 1)
        self.freeze_bn = freeze_bn

    def freeze_bn(self):
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()

    def get_1x_lr_params(self):
        if self.freeze_bn:
            return []
        return list(self.head.parameters())
"""


def test_jfzhang95_deeplab_flag_hides_its_freeze_bn_method():
    # pytorch-deeplab-xception (modeling/deeplab.py at 26865d51): the flag read by get_1x_lr_params
    # hides freeze_bn(), so `--freeze-bn` leaves BatchNorm out of the optimizer but in train mode
    assert found(DEEPLAB) == [(7, "FZ108")]


@pytest.mark.parametrize("value", ["cfg.freeze_bn", "args.freeze_bn", "True", "not train_bn", "mode == 'frozen'",
                                   "bool(flag)", "opts['freeze_bn']"])
def test_fires_on_data_values(value):
    code = DEEPLAB.replace("self.freeze_bn = freeze_bn", f"self.freeze_bn = {value}").replace(
        "freeze_bn=False):", "freeze_bn=False, cfg=None, args=None, train_bn=True, mode='', flag=0, opts=None):")
    assert found(code) == [(7, "FZ108")]


def test_a_method_of_a_base_class_in_the_file_counts():
    code = """
    import torch.nn as nn

    class Backbone(nn.Module):
        def _freeze_stages(self):
            for p in self.stem.parameters():
                p.requires_grad = False

    class ResNet(Backbone):
        def __init__(self, frozen_stages: int = 1):
            super().__init__()
            self.stem = nn.Conv2d(3, 8, 3)
            self._freeze_stages = frozen_stages
    """
    assert found(code) == [(12, "FZ108")]


@pytest.mark.parametrize("value", [
    "freeze_fn",  # a parameter defaulting to None: an optional callback
    "impl",  # a parameter with no default: maybe the method's replacement
    "self._freeze_bn_v2",  # another method
    "lambda: None",
    "functools.partial(print)",
    "make_freezer(cfg)",  # whatever a call returns
])
def test_near_miss_callables_put_in_the_methods_place(value):
    code = """
    import functools
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self, impl, cfg, freeze_fn=None):
            super().__init__()
            self.freeze_bn = VALUE

        def freeze_bn(self):
            pass

        def _freeze_bn_v2(self):
            pass
    """.replace("VALUE", value)
    assert found(code) == []


def test_near_miss_no_method_of_that_name_a_property_or_another_class():
    code = """
    import torch.nn as nn

    class Model(nn.Module):
        def freeze_bn(self):
            pass

    class Trainer:
        def __init__(self, freeze_bn=False):
            self.freeze_bn = freeze_bn  # the trainer's own flag: Model's method is not its own

    class Frozen(nn.Module):
        @property
        def freeze(self):
            return self._freeze

        @freeze.setter
        def freeze(self, value):
            self._freeze = value

        def __init__(self, freeze=False):
            super().__init__()
            self.freeze = freeze  # the property's setter

    class Settings:
        freeze_bn = False

        def __init__(self, frozen=True):
            self.frozen = frozen  # not a freezing name
    """
    assert found(code) == []
