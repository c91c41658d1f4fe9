"""FZ402 on the loop form that copies a checkpoint into the model's own state_dict under a test
of the key's membership (stable-audio-tools' copy_state_dict): with a prefix on the checkpoint's
keys nothing is copied, and loading the model's own dict back raises nothing and misses no key."""

from __future__ import annotations

import textwrap

import pytest

from freezelint.check.engine import check_source

_COPY = textwrap.dedent("""
    import torch


    def copy_state_dict(model, state_dict):
        model_state_dict = model.state_dict()
        for key in state_dict:
            if key in model_state_dict and state_dict[key].shape == model_state_dict[key].shape:
                model_state_dict[key] = state_dict[key]
        return model.load_state_dict(model_state_dict, strict=False)
""")


def found(src: str) -> list:
    return check_source(src, "utils.py", select=["FZ402"])


def test_the_loop_form_is_reported_with_the_advice_to_count():
    [d] = found(_COPY)
    assert d.row == 8
    assert "`model_state_dict` takes only the entries whose key passes `key in model_state_dict`" in d.message
    assert "count the keys copied and check the count before loading" in d.message


def test_torch_loads_nothing_and_reports_nothing_when_a_prefix_differs():
    torch = pytest.importorskip("torch")
    ns: dict = {}
    exec(compile(_COPY, "utils.py", "exec"), ns)
    torch.manual_seed(0)
    model, trained = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    before = model.weight.clone()
    checkpoint = {f"module.{k}": v for k, v in trained.state_dict().items()}  # saved from a DDP wrapper
    result = ns["copy_state_dict"](model, checkpoint)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert torch.equal(model.weight, before) and not torch.equal(model.weight, trained.weight)


@pytest.mark.parametrize("src", [
    # the count is read after the loop
    """
    def copy_state_dict(model, state_dict):
        own = model.state_dict()
        copied = 0
        for key in state_dict:
            if key in own:
                own[key] = state_dict[key]
                copied += 1
        assert copied, "nothing copied"
        model.load_state_dict(own)
    """,
    # an else that logs every skipped key
    """
    def copy_state_dict(model, state_dict):
        own = model.state_dict()
        for key, value in state_dict.items():
            if key in own:
                own[key] = value
            else:
                print("skipped", key)
        model.load_state_dict(own)
    """,
    # a store outside the test: not a filter
    """
    def copy_state_dict(model, state_dict):
        own = model.state_dict()
        for key in state_dict:
            if key in own:
                own[key] = state_dict[key]
            own["step"] = state_dict["step"]
        model.load_state_dict(own)
    """,
    # never loaded
    """
    def merge(model, state_dict):
        own = model.state_dict()
        for key in state_dict:
            if key in own:
                own[key] = state_dict[key]
        return own
    """,
])
def test_counted_logged_unfiltered_or_unloaded_copies_are_silent(src):
    assert found(textwrap.dedent(src)) == []


def test_fz401_leaves_the_loop_form_to_fz402_whose_advice_can_reveal_it():
    # the load's missing_keys are empty whatever was copied: FZ401's advice would find nothing
    assert check_source(_COPY.replace("return model.load_state_dict", "model.load_state_dict"), "utils.py",
                        select=["FZ401"]) == []
    other = _COPY.replace("if key in model_state_dict and", "if key in allowed and") \
        .replace("def copy_state_dict(model, state_dict):", "def copy_state_dict(model, state_dict, allowed):") \
        .replace("return model.load_state_dict", "model.load_state_dict")
    [d] = check_source(other, "utils.py", select=["FZ401"])  # a test on another dict: keys may be foreign
    assert "is discarded" in d.message


_FILLED = textwrap.dedent("""
    def init_weights(model, pretrained_dict):
        model_dict = model.state_dict()
        common_dict = {}
        valid_layer_num = 0
        for k, v in pretrained_dict.items():
            if k in model_dict:
                common_dict[k] = v
                valid_layer_num += 1
        print("Common Num:{}".format(valid_layer_num))
        model_dict.update(common_dict)
        model.load_state_dict(model_dict)
""")


def test_a_filled_dict_whose_count_is_read_after_the_loop_is_silent():
    # modelscope's hrnet backbone: the number of keys kept is printed, 0 when a prefix differs
    assert found(_FILLED) == []


@pytest.mark.parametrize("change", [
    ('    print("Common Num:{}".format(valid_layer_num))\n', ""),  # counted, never read (`= 0` is no read)
    ("            valid_layer_num += 1\n", ""),  # a count of nothing the arm adds to
])
def test_a_filled_dict_with_a_count_unread_or_not_of_the_copies_stays_reported(change):
    [d] = found(_FILLED.replace(*change))
    assert "`common_dict` keeps only the keys that pass `k in model_dict`" in d.message
