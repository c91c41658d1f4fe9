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
