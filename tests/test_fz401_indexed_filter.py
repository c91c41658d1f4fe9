"""FZ401's message for a load whose dict a comprehension filtered by indexing the receiver's own
state dict with each key (`model.state_dict()[k].numel() == v.numel()`, WZMIAOMIAO's
deep-learning-for-image-processing): a key of no match raises in the filter, so "nothing loaded" cannot
happen; what goes unsaid is which of the model's weights were left out."""

from __future__ import annotations

import textwrap

import pytest

from freezelint.check.engine import check_source

LOAD = """
import torch

def main(model, path):
    pre_weights = torch.load(path, map_location="cpu")
    {own}
    pre_dict = {{k: v for k, v in pre_weights.items() if {test}}}
    {load}
"""


def _messages(src: str) -> list[str]:
    return [d.message for d in check_source(textwrap.dedent(src).lstrip("\n"), "train.py", select=["FZ401"])]


@pytest.mark.parametrize("own,test,index", [
    ("pass", "model.state_dict()[k].numel() == v.numel()", "model.state_dict()[k]"),
    ("own = model.state_dict()", "own[k].shape == v.shape", "own[k]"),
])
@pytest.mark.parametrize("load,advice", [
    ("model.load_state_dict(pre_dict, strict=False)", "keep the result and check `missing_keys`"),
    ("msg = model.load_state_dict(pre_dict, strict=False)", "check `msg.missing_keys`"),
])
def test_a_filter_indexing_the_model_s_own_keys_says_what_is_left_out(own, test, index, load, advice):
    [message] = _messages(LOAD.format(own=own, test=test, load=load))
    assert f"every key kept is one of the model's (`{index}` raises on any other)" in message
    assert "nothing is loaded" not in message and "unexpected" not in message
    assert message.endswith(advice)


@pytest.mark.parametrize("own,test", [
    ("pass", "v.ndim > 1"),  # no index of the model's keys: a prefix mismatch still loads nothing
    ("own = other.state_dict()", "own[k].shape == v.shape"),  # another model's keys
    ("own = model.state_dict()", "k in own and own[k].shape == v.shape"),  # `k in own`: exempt, a key-checked filter
    ("pass", "pre_weights[k].numel() == v.numel()"),  # the checkpoint's own keys
])
def test_the_prefix_sentence_stays_where_keys_are_not_indexed_in_the_model(own, test):
    messages = _messages(LOAD.format(own=own, test=test, load="model.load_state_dict(pre_dict, strict=False)"))
    assert all("nothing is loaded and nothing says so" in m for m in messages)
