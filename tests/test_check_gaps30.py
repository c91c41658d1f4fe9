"""Four checker gaps found in public code (session 30):

1. mmpretrain's own `build_norm_layer(cfg, num_features)` returns the layer itself (mmcv's returns
   `(name, layer)`): a 'BN' config builds a BatchNorm for FZ201 and FZ202 as nn.BatchNorm2d does.
2. timm < 0.9's `load_checkpoint(model, path, use_ema, strict)`: a literal False 4th is `strict=False`.
3. A freeze under `if flag:` in __init__, where the file builds the class with that flag a literal True.
4. FZ401: a dict a class stored from a sibling's `state_dict()` (both built by one factory of the
   object) in one method, loaded into another module of that factory in another method.
"""

from __future__ import annotations

import textwrap

import pytest

from freezelint.check.engine import check_source


def _rows(code: str, select: str, name: str = "gaps30.py") -> list[tuple[int, str]]:
    found = check_source(textwrap.dedent(code).lstrip("\n"), name, select=[select])
    return [(d.row, d.message) for d in found]


# ------------------------------------------------------------------ 1. mmpretrain's build_norm_layer

MMPRETRAIN_FZ201 = """
import torch.nn as nn
from {home} import build_norm_layer


class Stem(nn.Module):
    def __init__(self, norm_cfg=dict(type={kind!r})):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.norm = build_norm_layer({args})
        self._freeze()

    def _freeze(self):
        self.norm.eval()
        for p in self.parameters():
            p.requires_grad = False

    def forward(self, x):
        return self.norm(self.conv(x))


model = Stem()
model.train()
"""

MMPRETRAIN_FZ202 = """
import torch
import torch.nn as nn
from {home} import build_norm_layer


class Stem(nn.Module):
    def __init__(self, norm_cfg=dict(type={kind!r})):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.norm = build_norm_layer({args})
        self.norm.requires_grad_(False)

    def forward(self, x):
        return self.norm(self.conv(x))


model = Stem()
opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
model.train()
for x in loader:
    opt.zero_grad(); model(x).sum().backward(); opt.step()
"""

HOMES = ["mmpretrain.models.utils", "mmpretrain.models.utils.norm"]


@pytest.mark.parametrize("home", HOMES)
@pytest.mark.parametrize("kind", ["BN", "BN1d", "BN2d", "BN3d", "SyncBN"])
def test_mmpretrain_batchnorm_frozen_in_init_is_fz201_as_nn_batchnorm2d_is(home, kind):
    found = _rows(MMPRETRAIN_FZ201.format(home=home, kind=kind, args="norm_cfg, 8"), "FZ201")
    plain = _rows(MMPRETRAIN_FZ201.format(home=home, kind=kind, args="norm_cfg, 8")
                  .replace("build_norm_layer(norm_cfg, 8)", "nn.BatchNorm2d(8)"), "FZ201")
    assert [row for row, _ in found] == [row for row, _ in plain] == [10]
    assert found[0][1].startswith("Stem freezes BatchNorm with .eval() in __init__ but does not override train()")


@pytest.mark.parametrize("home", HOMES)
@pytest.mark.parametrize("args", ["norm_cfg, 8", "dict(type='BN'), 8", "cfg=norm_cfg, num_features=8"])
def test_mmpretrain_batchnorm_frozen_by_requires_grad_only_is_fz202(home, args):
    found = _rows(MMPRETRAIN_FZ202.format(home=home, kind="BN", args=args), "FZ202")
    assert [row for row, _ in found] == [11]
    assert found[0][1].startswith("BatchNorm layer `self.norm` is frozen with requires_grad only in __init__")


@pytest.mark.parametrize("kind", ["LN", "GN", "IN"])
@pytest.mark.parametrize("template, rule", [(MMPRETRAIN_FZ201, "FZ201"), (MMPRETRAIN_FZ202, "FZ202")])
def test_mmpretrain_norms_other_than_batchnorm_are_silent(kind, template, rule):
    assert _rows(template.format(home=HOMES[0], kind=kind, args="norm_cfg, 8"), rule) == []


def test_mmcv_build_norm_layer_without_its_index_is_no_layer():
    # mmcv's returns (name, layer): the tuple itself is no BatchNorm
    code = MMPRETRAIN_FZ201.format(home="mmcv.cnn", kind="BN", args="norm_cfg, 8")
    assert _rows(code, "FZ201") == []


# ------------------------------------------------------------------ 2. timm < 0.9's positional strict

TIMM = """
import timm
from timm.models import load_checkpoint

model = timm.create_model("resnet50", pretrained=False, num_classes=10)
{call}
"""


@pytest.mark.parametrize("call", [
    'load_checkpoint(model, "pretrained.pth", False, False)',
    'load_checkpoint(model, "pretrained.pth", True, False)',
    'load_checkpoint(model, "pretrained.pth", strict=False)',
    'load_checkpoint(model, "pretrained.pth", False, "cpu", False)',  # timm >= 0.9: strict is the 5th
])
def test_timm_load_checkpoint_given_strict_false_by_place_or_keyword_is_reported(call):
    found = _rows(TIMM.format(call=call), "FZ401")
    assert [row for row, _ in found] == [5]
    assert found[0][1].startswith("timm's `load_checkpoint(...)` loads non-strictly (`strict=False`)")


@pytest.mark.parametrize("call", [
    'load_checkpoint(model, "pretrained.pth", False, "cuda")',  # timm >= 0.9: the 4th is `device`
    'load_checkpoint(model, "pretrained.pth", False, device)',
    'load_checkpoint(model, "pretrained.pth", False, strict)',
    'load_checkpoint(model, "pretrained.pth", False)',  # use_ema only: strict by default
    'load_checkpoint(model, "pretrained.pth", False, True)',
    'load_checkpoint(model, "pretrained.pth", False, False, strict=True)',  # the keyword decides
    'missing = load_checkpoint(model, "pretrained.pth", False, False)\nprint(missing)',  # the keys are read
])
def test_timm_load_checkpoint_near_misses_are_silent(call):
    assert _rows(TIMM.format(call=call), "FZ401") == []


# ------------------------------------------------------------------ 3. `if flag:` in __init__, built with the flag True

DENSE = """
import torch
import torch.nn as nn


class DenseBlock(nn.Module):
    def __init__(self, channels=8, freeze_dense_layer={default}):
        super().__init__()
        self.layers = nn.Sequential(nn.Conv2d(channels, 8, 3), nn.BatchNorm2d(8), nn.ReLU())
        self.head = nn.Conv2d(8, 8, 1)
        {test}
            self.layers.requires_grad_(False)

    def forward(self, x):
        return self.head(self.layers(x))


def main(args, loader):
    net = DenseBlock({args})
    opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.1)
    net.train()
    for x in loader:
        opt.zero_grad(); net(x).sum().backward(); opt.step()
"""


IF = "if freeze_dense_layer:"


def _dense(args, default="False", test=IF):
    return _rows(DENSE.format(args=args, default=default, test=test), "FZ202")


@pytest.mark.parametrize("args, default, test", [
    ("freeze_dense_layer=True", "False", IF),
    ("8, True", "False", IF),  # by position (`self` is not the caller's)
    ("freeze_dense_layer=False", "False", "if not freeze_dense_layer:"),
    ("8, freeze_dense_layer=True", "False", "if freeze_dense_layer and channels == 8:"),
], ids=["keyword", "positional", "not_false", "and"])
def test_a_freeze_under_a_flag_the_construction_turns_on_is_reported_as_without_the_if(args, default, test):
    found = _dense(args, default, test)
    unconditional = DENSE.replace("        {test}\n            self.layers", "        self.layers")
    plain = _rows(unconditional.format(args=args, default=default), "FZ202")  # the `if` taken away
    assert [row for row, _ in found] == [18] and [row for row, _ in plain] == [17]
    assert found[0][1] == plain[0][1]
    assert found[0][1].startswith("`net.layers` (DenseBlock) is frozen with requires_grad only by `DenseBlock(...)`")


@pytest.mark.parametrize("args, default, test", [
    ("freeze_dense_layer=args.freeze", "False", IF),  # the run's setting decides
    ("freeze_dense_layer=flag", "False", IF),
    ("", "False", IF),  # the default off, no caller turns it on
    ("", "True", IF),  # the default on: the class's own choice (test_fz202_whole_model's Probe), not decided here
    ("freeze_dense_layer=True", "False", "if freeze_dense_layer and channels == 8:"),  # `channels` left
    ("freeze_dense_layer=False", "False", IF),
    ("8, False", "True", IF),
    ("**args.block", "True", IF),  # a mapping may give any parameter
    ("*args.block", "True", IF),
], ids=["config", "name", "default_false", "default_true", "default_read", "keyword_false", "positional_false",
        "kwargs", "star_args"])
def test_a_freeze_under_a_flag_the_construction_does_not_turn_on_is_silent(args, default, test):
    assert _dense(args, default, test) == []


# ------------------------------------------------------------------ 4. FZ401: a sibling's dict stored in another method

CREATOR = """
class EnvCreator:
    def __init__(self, create_env_fn, other_fn):
        self.create_env_fn = create_env_fn
        self.other_fn = other_fn{init}

    def init_(self):
        shadow_env = {shadow}{between}
        self._transform_state_dict = {stored}
        return self

    def __call__(self):
        env = {built}
        env.load_state_dict(self._transform_state_dict, strict=False){after}
        return env
"""


def _creator(shadow="self.create_env_fn()", stored="shadow_env.state_dict()", built="self.create_env_fn()",
             init="", between="", after=""):
    code = CREATOR.format(shadow=shadow, stored=stored, built=built, init=init, between=between, after=after)
    return _rows(code, "FZ401")


def test_a_dict_a_class_took_from_a_sibling_of_the_same_factory_in_another_method_is_not_reported():
    assert _creator() == []
    kept = dict(between="\n        shadow_env.eval()", after="\n        assert self._transform_state_dict is not None")
    assert _creator(**kept) == []
    assert _creator(shadow="make_env()", built="make_env()") == []  # a factory of the module: shared


@pytest.mark.parametrize("kwargs", [
    dict(stored="torch.load('transforms.pt')"),  # from anything else than a sibling's state_dict()
    dict(stored="dict(shadow_env.state_dict())"),
    dict(init="\n        self._transform_state_dict = None"),  # assigned twice in the class
    dict(built="self.other_fn()"),  # another factory
    # a name one method binds: not the same object in both
    dict(shadow="make_env()", built="make_env()", between="\n        make_env = self.other_fn"),
    dict(between="\n        shadow_env = wrap(shadow_env)"),  # ... but rewrapped: keys may change
    dict(after="\n        self._transform_state_dict.pop('obs_norm.loc')"),  # the stored dict changed
], ids=["torch_load", "dict_copy", "assigned_twice", "other_factory", "rebound", "mutated", "popped"])
def test_a_stored_dict_not_proven_a_siblings_keys_is_still_reported(kwargs):
    found = _creator(**kwargs)
    added = kwargs.get("init", "").count("\n") + kwargs.get("between", "").count("\n")
    assert [row for row, _ in found] == [13 + added]
    assert found[0][1].startswith("the result of `env.load_state_dict(..., strict=False)` is discarded")
