"""FZ402 is about a filter on key membership (`if k in model_dict`): with a prefix mismatch it keeps
nothing. A substring test on the key (`if adapter_name in k`, `if "fc" in k`) picks keys by name, is
no such filter, and is not reported (NeMo's adapter loader); the message quotes the test it judged."""

from __future__ import annotations

import textwrap

import pytest

from freezelint.check.engine import check_source


def _found(code: str, select: str = "FZ402"):
    source = textwrap.dedent(code).lstrip()
    compile(source, "x.py", "exec")
    return [(d.row, d.message) for d in check_source(source, "adapters.py", select=[select])]


SUBSTRING = """
    import torch.nn as nn


    def load_adapter(module: nn.Module, state: dict, adapter_name: str, strict: bool = True):
        sub_dict = {}
        for k, v in state.items():
            if adapter_name in k:
                k_ = k.replace(f"{adapter_name}.", "")
                sub_dict[k_] = v
        module.load_state_dict(sub_dict, strict=strict)
        head = {k: v for k, v in state.items() if "head" in k}
        module.load_state_dict(head, strict=False)
    """


def test_a_substring_test_on_the_key_is_no_membership_filter():
    assert _found(SUBSTRING) == []


@pytest.mark.parametrize("old, new, row, test", [
    ("if adapter_name in k:", "if k in module.state_dict():", 5, "k in module.state_dict()"),
    ('if "head" in k}', 'if k in own and "head" in k}', 11, "k in own"),
], ids=["loop", "comprehension"])
def test_a_membership_test_of_the_key_still_fires_and_is_quoted(old, new, row, test):
    assert old in SUBSTRING
    found = _found(SUBSTRING.replace(old, new))
    assert [r for r, _ in found] == [row]
    message = found[0][1]
    assert f"keeps only the keys that pass `{test}`" in message
    assert "already in the model" not in message


class TestTheFacts:
    """A membership filter against a prefixed checkpoint keeps nothing and the load says nothing."""

    torch = pytest.importorskip("torch")

    def test_a_membership_filter_keeps_nothing_under_a_prefix(self):
        from torch import nn
        model = nn.Linear(2, 2)
        ckpt = {"module." + k: v for k, v in nn.Linear(2, 2).state_dict().items()}
        own = model.state_dict()
        kept = {k: v for k, v in ckpt.items() if k in own}
        assert kept == {}
        result = model.load_state_dict(kept, strict=False)
        assert sorted(result.missing_keys) == ["bias", "weight"] and result.unexpected_keys == []
