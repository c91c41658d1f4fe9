from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from freezelint.runtime.fingerprint import fingerprint, fingerprints  # noqa: E402


def fp(t):
    return tuple(fingerprint(t).tolist())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_single_element_changes_are_caught(dtype):
    t = torch.randn(1000, dtype=torch.float32).to(dtype)
    base = fp(t)
    assert fp(t.clone()) == base
    one_ulp = t.clone()
    one_ulp.view({4: torch.int32, 8: torch.int64, 2: torch.int16}[t.element_size()])[517] += 1
    assert fp(one_ulp) != base
    neg_zero = torch.zeros(300, dtype=dtype)
    flipped = neg_zero.clone()
    flipped[7] = -0.0
    assert fp(flipped) != fp(neg_zero)


def test_nan_payloads_equal_when_identical_and_different_otherwise():
    t = torch.full((10,), float("nan"))
    assert fp(t) == fp(t.clone())  # torch.equal would say these differ
    other = t.clone()
    other.view(torch.int32)[3] += 1  # another NaN payload
    assert fp(other) != fp(t)


def test_permutations_and_cancelling_changes_are_caught():
    t = torch.arange(600, dtype=torch.float32)
    swapped = t.clone()
    swapped[[10, 400]] = swapped[[400, 10]]  # same multiset: plain sum unchanged
    assert fp(swapped)[0] == fp(t)[0] and fp(swapped) != fp(t)
    tail = t.clone()
    tail[[598, 599]] = tail[[599, 598]]  # inside the tail that does not fill a row
    assert fp(tail) != fp(t)


def test_other_dtypes_shapes_and_layouts():
    for t in (torch.tensor([1, 2, 3]), torch.tensor([True, False]), torch.zeros(0), torch.randn(3, 5).t(),
              torch.randn(4, dtype=torch.complex64)):
        assert fp(t) == fp(t.clone())
    a = torch.randn(7, 9)
    assert fp(a.t()) == fp(a.t().contiguous())
    b = torch.tensor([5, 6, 7], dtype=torch.int64)
    assert fp(b) != fp(b + 1)


def test_batched_small_tensors_match_the_per_tensor_definition():
    from freezelint.runtime.fingerprint import SMALL

    ts = [torch.randn(5), torch.randn(300), torch.tensor([1, 2]), torch.randn(SMALL + 3), torch.zeros(0),
          torch.tensor([True, False, True]), torch.randn(7, dtype=torch.float16), torch.randn(3, 4).t(),
          torch.tensor([2**62, 2**62, 2**62])]  # wraps modulo 2**64 the same way both paths
    assert fingerprints(ts) == [fp(t) if t.numel() else (0, 0) for t in ts]
