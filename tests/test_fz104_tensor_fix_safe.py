"""FZ104 on a name that torch's tensor factories make (`pe = torch.zeros(max_len, d_model)`): a known
Tensor, as for FZ101/FZ103, so `pe.requires_grad == False` gets the safe fix `pe.requires_grad = False`.
A name that any binding leaves unknown keeps the unsafe `requires_grad_(...)` call."""

from __future__ import annotations

import pytest

from freezelint.check.engine import check_source


def _fixes(code: str) -> list[tuple[str, bool]]:
    """For each FZ104 finding with a fix: its title and whether it is safe."""
    compile(code, "pe.py", "exec")
    return [(d.fix["message"], d.fix["applicability"] == "safe")
            for d in check_source(code, "pe.py", select=["FZ104"]) if d.fix]


@pytest.mark.parametrize("made", [
    "torch.zeros(10, 4)", "torch.zeros(10, 4).unsqueeze(0)", "torch.arange(0, 10).float()"])
def test_a_factory_tensor_gets_the_safe_assignment(made):
    assert _fixes(f"import torch\n\npe = {made}\npe.requires_grad == False\n") == [
        ("Replace with `pe.requires_grad = False`", True)]


def test_a_factory_tensor_reshaped_under_its_name_stays_known():
    code = ("import torch\n\n\ndef encoding(max_len, d):\n    pe = torch.zeros(max_len, d).float()\n"
            "    pe.requires_grad is False\n    pe = pe.unsqueeze(0)\n    return pe\n")
    assert _fixes(code) == [("Replace with `pe.requires_grad = False`", True)]


@pytest.mark.parametrize("code", [
    "pe = make(10, 4)\npe.requires_grad == False\n",  # unknown maker
    "import torch\n\npe = torch.zeros(10, 4)\nif flag:\n    pe = make()\npe.requires_grad == False\n",  # rebound
    "from mylib import torch\n\npe = torch.zeros(10, 4)\npe.requires_grad == False\n",  # not torch
])
def test_a_name_not_proven_a_tensor_keeps_the_unsafe_call(code):
    [(title, safe)] = _fixes(code)
    assert title.startswith("Replace with `pe.requires_grad_(False)` (unsafe:") and not safe


def test_the_assignment_sets_the_flag_the_comparison_misses():
    torch = pytest.importorskip("torch")
    pe = torch.zeros(10, 4).float()
    pe.requires_grad = True
    pe.requires_grad == False  # noqa: E712 (evaluated and discarded)
    assert pe.requires_grad
    pe.requires_grad = False
    assert not pe.requires_grad
