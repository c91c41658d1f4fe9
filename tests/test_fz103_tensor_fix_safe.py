"""FZ103 and FZ101 on a name that torch's tensor factories make (`pe = torch.zeros(max_len, d_model)`):
a known Tensor, so the rename (FZ103) and the call (FZ101) are safe fixes, as the rule pages say.
A name that any binding leaves unknown keeps the fix unsafe."""

from __future__ import annotations

import pytest

from freezelint.check.engine import check_source


def _safety(code: str, rule: str) -> list[bool]:
    """For each finding with a fix: whether the fix is safe."""
    compile(code, "pe.py", "exec")
    return [d.fix["applicability"] == "safe" for d in check_source(code, "pe.py", select=[rule]) if d.fix]


@pytest.mark.parametrize("made", [
    "torch.zeros(10, 4)", "torch.zeros(10, 4).unsqueeze(0)", "torch.randn(3, device=device).to(device)",
    "torch.arange(0, 10).float()"])
def test_a_factory_tensor_gets_the_safe_rename(made):
    assert _safety(f"import torch\n\npe = {made}\npe.require_grad = True\n", "FZ103") == [True]


def test_a_factory_tensor_reshaped_under_its_name_stays_known():
    code = ("import torch\n\n\ndef encoding(max_len, d):\n    pe = torch.zeros(max_len, d).float()\n"
            "    pe.require_grad = True\n    pe[:, 0::2] = 1.0\n    pe = pe.unsqueeze(0)\n    return pe\n")
    assert _safety(code, "FZ103") == [True]
    assert _safety(code.replace("torch.zeros(max_len, d).float()", "make(max_len, d)"), "FZ103") == [False]


def test_a_factory_tensor_gets_the_safe_call():
    assert _safety("import torch\n\nx = torch.randn(3)\nx.requires_grad_ = True\n", "FZ101") == [True]


@pytest.mark.parametrize("code", [
    "pe = make(10, 4)\npe.require_grad = False\n",  # unknown maker
    "import torch\n\npe = torch.zeros(10, 4)\nif flag:\n    pe = make()\npe.require_grad = False\n",  # rebound
    "import torch\n\npe = torch.nn.Linear(2, 2) if flag else torch.zeros(2)\npe.require_grad = False\n",
    "from mylib import torch\n\npe = torch.zeros(10, 4)\npe.require_grad = False\n",  # not torch
])
def test_a_name_not_proven_a_tensor_keeps_the_fix_unsafe(code):
    assert _safety(code, "FZ103") == [False]


class TestTheFacts:
    """On a real tensor: the misspelled flag freezes nothing, the renamed one sets the flag."""

    torch = pytest.importorskip("torch")

    def test_the_rename_sets_the_flag_the_misspelling_misses(self):
        torch = self.torch
        pe = torch.zeros(10, 4)
        pe.requires_grad = True
        pe.require_grad = False  # accepted silently
        assert pe.requires_grad
        pe.requires_grad = False
        assert not pe.requires_grad
        x = torch.randn(3)
        x.requires_grad_ = True  # the method replaced by a value
        assert not x.requires_grad
        del x.requires_grad_
        x.requires_grad_(True)
        assert x.requires_grad


# A fresh factory tensor's misspelled `= False` changes nothing (silent on purpose), unless the same tensor had its
# flag turned on under another name it is held by: an attribute it was assigned to, or registered under
HELD = """
import torch
import torch.nn as nn


class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=512, learn=False):
        super().__init__()
        pe = torch.zeros(max_len, d_model).float()
        {hold}
        {turn_on}
        pe.require_grad = False
"""


def _rows(hold: str, turn_on: str) -> list[int]:
    code = HELD.format(hold=hold, turn_on=turn_on)
    compile(code, "pe.py", "exec")
    return [d.row for d in check_source(code, "pe.py", select=["FZ103"])]


@pytest.mark.parametrize("hold,turn_on", [
    ("self.pos = pe", "self.pos.requires_grad = True"),
    ("self.register_buffer('pos_table', pe)", "self.pos_table.requires_grad_(learn)"),
    ("table = pe", "table.requires_grad_()"),
])
def test_a_fresh_tensor_turned_on_under_another_name_is_reported(hold, turn_on):
    assert _rows(hold, turn_on) == [12]


@pytest.mark.parametrize("hold,turn_on", [
    ("self.register_buffer('pe', pe)", "pass"),  # BERT-pytorch's PositionalEmbedding: nothing turns it on
    ("self.pos = pe", "self.other.requires_grad = True"),  # another object's flag
    ("self.pos = nn.Parameter(pe)", "self.pos.requires_grad = True"),  # a Parameter is another tensor object
])
def test_a_fresh_tensor_held_elsewhere_but_never_turned_on_is_silent(hold, turn_on):
    assert _rows(hold, turn_on) == []


def test_a_registered_buffer_is_the_same_tensor_and_a_parameter_is_not():
    torch = pytest.importorskip("torch")
    m = torch.nn.Module()
    pe = torch.zeros(3)
    m.register_buffer("pos_table", pe)
    m.pos_table.requires_grad_(True)
    assert pe.requires_grad  # turned on through the buffer's name
    pe.require_grad = False
    assert pe.requires_grad  # the typo left it on
    q = torch.zeros(3)
    m.w = torch.nn.Parameter(q)
    assert m.w.requires_grad and not q.requires_grad
