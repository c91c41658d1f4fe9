"""FZ402: the size of the filtered dict checked through its keys or a list of them (modelscope's
DUT_raft `assert len(pretrained_dict.keys()) > 0`) is the check the rule asks for; the size of
another dict is not."""

from __future__ import annotations

import textwrap

import pytest

from freezelint.check.engine import check_source

LOADER = """
    import torch


    def reload(model, path):
        pretrained_dict = torch.load(path)
        model_dict = model.state_dict()
        pretrained_dict = {{k: v for k, v in pretrained_dict.items() if k in model_dict}}
        {check}
        model_dict.update(pretrained_dict)
        model.load_state_dict(model_dict)
    """


def _rows(check: str) -> list[int]:
    source = textwrap.dedent(LOADER.format(check=check)).lstrip()
    compile(source, "load.py", "exec")
    return [d.row for d in check_source(source, "load.py", select=["FZ402"])]


@pytest.mark.parametrize("check", [
    "assert len(pretrained_dict.keys()) > 0",
    "assert len(list(pretrained_dict)) > 0",
    "assert len(list(pretrained_dict.keys())) > 0",
    "assert bool(pretrained_dict)",
    "if not pretrained_dict: raise ValueError('no key matched')",
    "print(f'loaded {len(pretrained_dict.items())} keys')",  # as many items as keys
    "assert len(pretrained_dict.values()) > 0",
])
def test_size_checked(check):
    assert _rows(check) == []


@pytest.mark.parametrize("check", [
    "assert len(model_dict.keys()) > 0",  # the model's own size: always full
    "assert len(model_dict.items()) > 0",
    "print(list(model_dict))",
    "pass",
])
def test_other_size_still_reported(check):
    assert _rows(check) == [7]
