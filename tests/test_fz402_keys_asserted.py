"""FZ402: a loop before the filter that raises unless every key of the model is in the checkpoint
proves the filter keeps them all (nnU-Net's load_pretrained_weights). A check on only some keys, or
one that runs after the load, proves nothing and the finding stays."""

from __future__ import annotations

import textwrap

import pytest

from freezelint.check.engine import check_source

LOADER = """
    import torch


    def load_pretrained_weights(mod, fname):
        pretrained_dict = torch.load(fname)["network_weights"]
        model_dict = mod.state_dict()
        for key, _ in model_dict.items():
            if all([i not in key for i in [".seg_layers."]]):
                assert key in pretrained_dict, f"Key {key} is missing in the pretrained weights"
                assert model_dict[key].shape == pretrained_dict[key].shape
        pretrained_dict = {k: v for k, v in pretrained_dict.items()
                           if k in model_dict.keys() and ".seg_layers." not in k}
        model_dict.update(pretrained_dict)
        mod.load_state_dict(model_dict)
    """
GUARD = 'if all([i not in key for i in [".seg_layers."]]):'
ASSERT = 'assert key in pretrained_dict, f"Key {key} is missing in the pretrained weights"'


def _rows(code: str) -> list[int]:
    source = textwrap.dedent(code).lstrip()
    compile(source, "load.py", "exec")
    return [d.row for d in check_source(source, "load.py", select=["FZ402"])]


@pytest.mark.parametrize("old, new", [
    ("", ""),
    (GUARD, 'if not key.startswith("head."):'),
    (GUARD, 'if ".seg_layers." not in key and "num_batches" not in key:'),
    (ASSERT, 'if key not in pretrained_dict:\n                    raise KeyError(key)'),
    ("for key, _ in model_dict.items():", "for key in model_dict.keys():"),
], ids=["nnunet", "startswith", "two-exclusions", "raise", "keys"])
def test_every_key_asserted_before_the_filter_is_a_check(old, new):
    assert old in LOADER
    assert _rows(LOADER.replace(old, new)) == []


@pytest.mark.parametrize("old, new", [
    (GUARD, 'if key.startswith("encoder."):'),  # only the keys it picks by name
    (GUARD, "if key in pretrained_dict:"),  # only the keys the checkpoint has
    (ASSERT, "pass"),
    ("for key, _ in model_dict.items():", "for key, _ in pretrained_dict.items():"),  # the checkpoint's keys
    ("assert key in pretrained_dict,", "assert key in model_dict,"),
    (ASSERT, "assert key in pretrained_dict; break"),  # the first key only
], ids=["picked-by-name", "present-only", "no-membership", "other-dict", "other-membership", "break"])
def test_a_check_on_some_keys_still_fires(old, new):
    assert old in LOADER
    assert _rows(LOADER.replace(old, new)) == [11]


def test_the_same_loop_after_the_load_still_fires():
    start, end = LOADER.index("        for key, _"), LOADER.index("        pretrained_dict = {")
    loop, load = LOADER[start:end], "        mod.load_state_dict(model_dict)\n"
    assert _rows(LOADER.replace(loop, "").replace(load, load + loop)) == [7]


def test_a_checkpoint_rebound_after_the_loop_still_fires():
    rebound = LOADER.replace("        pretrained_dict = {k", "        pretrained_dict = strip(pretrained_dict)\n"
                                                            "        pretrained_dict = {k")
    assert _rows(rebound) == [12]


class TestTheFacts:
    """What the rule trusts: once every model key passed `assert key in sd`, the filter on the model's
    keys keeps every one of them, and the load that follows really loads the checkpoint."""

    torch = pytest.importorskip("torch")

    def test_the_asserted_filter_keeps_every_model_key(self):
        from torch import nn
        torch = self.torch
        model, saved = nn.Linear(2, 2), nn.Linear(2, 2)
        sd = saved.state_dict()
        model_dict = model.state_dict()
        for key in model_dict:
            assert key in sd
        kept = {k: v for k, v in sd.items() if k in model_dict.keys()}
        assert set(kept) == set(model_dict)
        model_dict.update(kept)
        model.load_state_dict(model_dict)
        assert torch.equal(model.weight, saved.weight)

    def test_under_a_prefix_the_assert_raises_before_the_load(self):
        from torch import nn
        model = nn.Linear(2, 2)
        sd = {"module." + k: v for k, v in nn.Linear(2, 2).state_dict().items()}
        with pytest.raises(AssertionError):
            for key in model.state_dict():
                assert key in sd
