"""FZ401 on trial 31's packages. A set difference of two names bound to key sets (the model's
expected keys minus the checkpoint's), looped over and collected, then raised on: a key check before
the load (fair-esm). A module's own `state_dict()` filled in place by a call and loaded back into the
same module: its keys by construction (torchtitan). And a loop over hyper-parameter kwargs with a
membership test, plus an unrelated raise, is no check of the loaded keys (scvi-tools): a key check
must concern the loaded dict or the receiver."""

from __future__ import annotations

import textwrap

import pytest

from freezelint.check.engine import check_source


def _rows(source: str) -> list[int]:
    return [d.row for d in check_source(textwrap.dedent(source).lstrip("\n"), "train.py", select=["FZ401"])]


def _function(source: str, name: str):
    """The function `name` defined by `source`, run for real."""
    scope: dict = {}
    exec(compile(textwrap.dedent(source).lstrip("\n"), "train.py", "exec"), scope)  # noqa: S102
    return scope[name]


# fair-esm esm/esmfold/v1/pretrained.py: the essential keys the model expects and the checkpoint lacks
ESM = """
import torch
import torch.nn as nn


def load(model_state):
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))

    expected_keys = set(model.state_dict().keys())
    found_keys = set(model_state.keys())

    missing_essential_keys = []
    for missing_key in expected_keys - found_keys:
        if not missing_key.startswith("0."):
            missing_essential_keys.append(missing_key)

    if missing_essential_keys:
        raise RuntimeError(f"Keys {missing_essential_keys} are missing.")

    model.load_state_dict(model_state, strict=False)
    return model
"""

# torchtitan experiments/rl/actors/generator.py: the module's own state_dict() filled in place, reloaded
TITAN = """
import torch.nn as nn


def refresh(model: nn.Module, fill):
    sd = model.state_dict()
    fill(sd)
    model.load_state_dict(sd, strict=False)
"""

TITAN_AWAITED = """
async def update(self, version, ts):
    model = self._get_model()
    model_sd = model.model.state_dict()
    if self.spmd:
        await self._get_spmd_state_dict(model_sd, model=model)
    else:
        await ts.get_state_dict("model_state_dict", user_state_dict=model_sd, strict=False)
    model.model.load_state_dict(model_sd, strict=False)
    self.policy_version = version
"""

# scvi-tools scvi/model/_scanvi.py: hyper-parameters compared, weights not
SCVI = """
import warnings


def from_pretrained(cls, pre_model, labels_key=None, **new_kwargs):
    for k, v in pre_model.init_kwargs.items():
        if k in new_kwargs.keys():
            warnings.warn(f"Ignoring param {k}")
    if labels_key is None:
        raise ValueError("labels_key is needed")
    model = cls(**new_kwargs)
    model.load_state_dict(pre_model.state_dict(), strict=False)
    return model
"""

SCVI_MODULE = """
import warnings
from copy import deepcopy


def from_scvi_model(cls, scvi_model, labels_key=None, **scanvi_kwargs):
    init_params = scvi_model.init_params_
    non_kwargs = init_params["non_kwargs"]
    kwargs = init_params["kwargs"]
    kwargs = {k: v for (i, j) in kwargs.items() for (k, v) in j.items()}
    for k, v in {**non_kwargs, **kwargs}.items():
        if k in scanvi_kwargs.keys():
            warnings.warn(f"Ignoring param '{k}'", UserWarning)
            del scanvi_kwargs[k]
    setup_args = deepcopy(scvi_model.registry["setup_args"])
    if labels_key is None and setup_args["labels_key"] is None:
        raise ValueError("A `labels_key` is necessary.")
    scanvi_model = cls(scvi_model.registry, **non_kwargs, **kwargs, **scanvi_kwargs)
    scvi_state_dict = scvi_model.module.state_dict()
    scanvi_model.module.load_state_dict(scvi_state_dict, strict=False)
    return scanvi_model
"""


class TestSetDifferenceOfKeyNames:
    def test_a_loop_over_expected_minus_found_then_a_raise_is_a_check(self):
        assert _rows(ESM) == []

    def test_the_plain_form_stays_silent(self):
        plain = ESM.replace(
            "    missing_essential_keys = []\n"
            "    for missing_key in expected_keys - found_keys:\n"
            "        if not missing_key.startswith(\"0.\"):\n"
            "            missing_essential_keys.append(missing_key)\n",
            "    missing_essential_keys = expected_keys - found_keys\n")
        assert plain != ESM and _rows(plain) == []

    def test_nothing_raised_on_what_was_collected_still_fires(self):
        unraised = ESM.replace("        raise RuntimeError(f\"Keys {missing_essential_keys} are missing.\")\n",
                               "        pass\n")
        assert unraised != ESM and _rows(unraised) == [19]

    def test_a_difference_of_other_sets_is_no_check_of_the_keys(self):
        other = ESM.replace("set(model.state_dict().keys())", "set(cfg.keys())") \
            .replace("set(model_state.keys())", "set(defaults.keys())") \
            .replace("def load(model_state):", "def load(model_state, cfg, defaults):")
        assert _rows(other) == [19]

    def test_on_torch_the_check_stops_a_prefixed_checkpoint(self):
        torch = pytest.importorskip("torch")
        load = _function(ESM, "load")
        saved = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 2)).state_dict()
        assert isinstance(load(saved), torch.nn.Sequential)
        with pytest.raises(RuntimeError, match="missing"):
            load({f"module.{k}": v for k, v in saved.items()})


class TestOwnStateDictFilledInPlace:
    def test_filled_by_a_call_and_loaded_back_is_silent(self):
        assert _rows(TITAN) == []

    def test_torchtitan_shape_handed_to_awaited_calls_is_silent(self):
        assert _rows(TITAN_AWAITED) == []

    def test_the_root_rebound_between_still_fires(self):
        rebound = TITAN_AWAITED.replace("    self.policy_version = version\n",
                                        "    self.policy_version = version\n    model = self._get_model()\n")
        assert rebound != TITAN_AWAITED and _rows(rebound) == [8]

    def test_another_modules_state_dict_still_fires(self):
        other = TITAN.replace("def refresh(model: nn.Module, fill):", "def refresh(model, other, fill):") \
            .replace("sd = model.state_dict()", "sd = other.state_dict()")
        assert _rows(other) == [7]

    @pytest.mark.parametrize("between", [
        "    sd = {k: v for k, v in sd.items() if 'norm' not in k}\n",  # filtered
        "    sd = strip_prefix(sd)\n",  # rebound to a renamed dict
        "    sd = torch.load(path)\n",  # rebound to another
    ])
    def test_rebound_or_filtered_in_between_still_fires(self, between):
        rebound = TITAN.replace("    fill(sd)\n", "    fill(sd)\n" + between) \
            .replace("def refresh(model: nn.Module, fill):", "def refresh(model, fill, path, torch, strip_prefix):")
        assert _rows(rebound) == [8]

    @pytest.mark.parametrize("call", ["rename_keys(sd)", "strip_prefix(sd)", "filter_keys(sd)", "del_keys(sd)"])
    def test_a_call_whose_name_says_it_renames_or_drops_keys_still_fires(self, call):
        assert _rows(TITAN.replace("fill(sd)", call)) == [7]

    def test_an_empty_dict_filled_by_a_call_still_fires(self):
        assert _rows(TITAN.replace("sd = model.state_dict()", "sd = {}")) == [7]

    def test_on_torch_the_keys_match_by_construction(self):
        torch = pytest.importorskip("torch")
        model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.BatchNorm1d(4))
        sd = model.state_dict()
        for v in sd.values():
            v.fill_(0.5)
        result = model.load_state_dict(sd, strict=False)
        assert result.missing_keys == [] and result.unexpected_keys == []
        assert torch.all(model[0].weight == 0.5)


class TestHyperParameterLoopIsNoKeyCheck:
    def test_a_kwargs_loop_and_an_unrelated_raise_do_not_excuse_the_load(self):
        assert _rows(SCVI) == [11]

    def test_scvi_module_shape_fires(self):
        assert _rows(SCVI_MODULE) == [19]

    def test_a_loop_over_the_loaded_keys_against_the_models_still_counts(self):
        checked = SCVI.replace(
            "    for k, v in pre_model.init_kwargs.items():\n        if k in new_kwargs.keys():\n",
            "    model = cls(**new_kwargs)\n"
            "    for k, v in pre_model.state_dict().items():\n        if k not in model.state_dict():\n")
        assert checked != SCVI and _rows(checked) == []

    def test_a_loop_over_a_name_bound_to_the_models_keys_still_counts(self):
        checked = SCVI.replace(
            "    for k, v in pre_model.init_kwargs.items():\n        if k in new_kwargs.keys():\n",
            "    model = cls(**new_kwargs)\n    own = model.state_dict()\n"
            "    for k in new_kwargs:\n        if k not in own:\n")
        assert checked != SCVI and _rows(checked) == []

    def test_on_torch_a_prefixed_pretrained_module_loads_nothing_silently(self):
        torch = pytest.importorskip("torch")

        class Pre:
            init_kwargs = {"n_hidden": 4}

            def __init__(self):
                self.net = torch.nn.DataParallel(torch.nn.Linear(4, 4))

            def state_dict(self):
                return self.net.state_dict()  # `module.weight`, `module.bias`

        def build(**kwargs):
            return torch.nn.Linear(4, 4)

        pre = Pre()
        from_pretrained = _function(SCVI, "from_pretrained")
        with pytest.warns(UserWarning, match="n_hidden"):
            model = from_pretrained(build, pre, labels_key="y", n_hidden=4)  # no error
        assert not torch.equal(model.weight, pre.net.module.weight)  # nothing was loaded
        result = model.load_state_dict(pre.state_dict(), strict=False)
        assert result.missing_keys == ["weight", "bias"]  # what the dropped result would have said
