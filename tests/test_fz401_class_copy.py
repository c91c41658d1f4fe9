"""FZ401 on a copy of the model built from its own class and loaded from its own state_dict
(mace's extract_model: `model.__class__(**config)`, `type(model)(**config)`): the keys match by
construction, so the dropped result hides nothing. Another object's class, an unknown builder, a
wrapper or a rebinding between keep the finding."""

from __future__ import annotations

import textwrap

import pytest

from freezelint.check.engine import check_source

_COPY = textwrap.dedent("""
    import copy
    import torch
    import torch.nn as nn


    class Net(nn.Module):
        def __init__(self, hidden=4):
            super().__init__()
            self.body = nn.Linear(3, hidden)
            self.head = nn.Linear(hidden, 2)


    def extract_model(model, config):
        model_copy = model.__class__(**config)
        model_copy.load_state_dict(model.state_dict(), strict=False)
        return model_copy


    def extract_model2(model, config):
        model_copy = type(model)(**config).to("cpu")
        model_copy.load_state_dict(model.state_dict(), strict=False)
        return model_copy


    def twin(model):
        other = copy.deepcopy(model)
        other.load_state_dict(model.state_dict(), strict=False)
        return other
""")


def found(src: str) -> list:
    return check_source(src, "scripts_utils.py", select=["FZ401"])


def test_a_copy_of_the_models_own_class_is_silent():
    assert found(_COPY) == []


def test_torch_shows_the_keys_match_by_construction():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    ns: dict = {}
    exec(compile(_COPY, "scripts_utils.py", "exec"), ns)
    model = ns["Net"](hidden=4)
    for build in (lambda m: m.__class__(hidden=4), lambda m: type(m)(hidden=4)):
        result = build(model).load_state_dict(model.state_dict(), strict=False)
        assert result.missing_keys == [] and result.unexpected_keys == []
    copied = ns["extract_model"](model, {"hidden": 4})
    assert torch.equal(copied.head.weight, model.head.weight)


@pytest.mark.parametrize("body", [
    # another object's class: nothing ties the keys
    """
    def extract(model, other, config):
        model_copy = other.__class__(**config)
        model_copy.load_state_dict(model.state_dict(), strict=False)
    """,
    # an unknown builder
    """
    def extract(model, config):
        model_copy = build(config)
        model_copy.load_state_dict(model.state_dict(), strict=False)
    """,
    # wrapped between: `module.` prefixes
    """
    from torch.nn.parallel import DistributedDataParallel as DDP

    def extract(model, config):
        model_copy = model.__class__(**config)
        model = DDP(model)
        model_copy.load_state_dict(model.state_dict(), strict=False)
    """,
    # the copy handed to a call before the load
    """
    def extract(model, config, wrap):
        model_copy = type(model)(**config)
        model_copy = wrap(model_copy)
        model_copy.load_state_dict(model.state_dict(), strict=False)
    """,
    # the source rebound between
    """
    def extract(model, config):
        model_copy = model.__class__(**config)
        model = model.backbone
        model_copy.load_state_dict(model.state_dict(), strict=False)
    """,
])
def test_other_classes_wrappers_and_rebinding_stay_reported(body):
    [d] = found(textwrap.dedent(body))
    assert "the result of `model_copy.load_state_dict(..., strict=False)` is discarded" in d.message
