"""Comparing tensors with their copies while writing the copies back (compare.py), and the
copies themselves (restore.copies)."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from freezelint.runtime import compare  # noqa: E402
from freezelint.runtime.compare import restore_measured  # noqa: E402
from freezelint.runtime.restore import copies  # noqa: E402


def _bits(t):
    return t.detach().contiguous().view(-1).view(torch.uint8).clone()


def _run(pairs):
    """restore_measured over (tensor, changed value) pairs: the tensor starts as its copy's
    value and is then changed, the way a step changes it."""
    tensors = [t for t, _ in pairs]
    saved = copies(tensors)
    originals = [_bits(t) for t in tensors]
    with torch.no_grad():
        for t, new in pairs:
            if new is not None:
                t.copy_(new)
    sizes = restore_measured(list(zip(tensors, saved)))
    for t, bits in zip(tensors, originals):
        assert torch.equal(_bits(t), bits)  # every tensor holds its original bits again
    return sizes


@pytest.mark.parametrize("n", [3, 1000, compare.BATCHED + 1, 3 * compare.CHUNK + 5])
def test_size_of_change_is_the_largest_absolute_difference(n):
    t = torch.zeros(n)
    new = torch.zeros(n)
    new[n // 2] = -0.25
    new[n - 1] = 0.125
    assert _run([(t, new)]) == [0.25]


@pytest.mark.parametrize("n", [10, compare.BATCHED + 10])
def test_bits_not_values_decide(n):
    zeros = torch.zeros(n)
    flipped = torch.zeros(n)
    flipped[3] = -0.0  # equal as a value, other bits
    nan = torch.full((n,), float("nan"))
    payload = nan.clone()
    payload.view(torch.int32)[1] += 1  # another NaN
    untouched = torch.randn(n)
    sizes = _run([(zeros, flipped), (nan.clone(), nan.clone()), (nan, payload), (untouched, None)])
    assert sizes[0] == 0.0  # changed, by nothing measurable
    assert sizes[1] is None  # the same NaN is no change (torch.equal would call it one)
    assert math.isnan(sizes[2])
    assert sizes[3] is None


def test_dtypes_batched_and_alone():
    cases = [
        (torch.tensor(5), torch.tensor(7)),  # num_batches_tracked
        (torch.tensor([1, 2, 3], dtype=torch.int32), torch.tensor([1, 2, -3], dtype=torch.int32)),
        (torch.tensor([True, False]), torch.tensor([True, True])),
        (torch.ones(4, dtype=torch.float16), torch.full((4,), 1.5, dtype=torch.float16)),
        (torch.ones(4, dtype=torch.bfloat16), None),
        (torch.ones(3, dtype=torch.complex64), torch.tensor([1, 1, 1 + 2j], dtype=torch.complex64)),
        (torch.zeros(0), None),
        (torch.zeros(compare.BATCHED + 1, dtype=torch.int64), torch.arange(compare.BATCHED + 1)),
    ]
    assert _run(cases) == [2.0, 6.0, 1.0, 0.5, None, 2.0, None, float(compare.BATCHED)]


def test_non_contiguous_and_parameters():
    base = torch.randn(300, 200)
    view = base.t()  # a transposed view: no flat walk over its storage
    assert not view.is_contiguous()
    param = torch.nn.Parameter(torch.randn(compare.BATCHED + 7))
    sizes = _run([(view, view + 1), (param, param.detach() - 2)])
    assert sizes == pytest.approx([1.0, 2.0])
    assert param.requires_grad


def test_a_swapped_tensor_gets_its_copy_back_as_its_own_storage():
    p = torch.nn.Parameter(torch.randn(4, 5))
    [saved] = copies([p])
    original = p.detach().clone()
    p.data = torch.zeros(2, 3)  # `p.data = ...` in a step
    assert math.isnan(restore_measured([(p, saved)])[0])
    assert torch.equal(p.detach(), original)
    assert p.untyped_storage().data_ptr() != saved.untyped_storage().data_ptr()


def test_copies_are_exact_and_contiguous():
    ts = [torch.randn(5, 3).t(), torch.tensor([float("nan"), -0.0]), torch.arange(4), torch.tensor(3.0),
          torch.nn.Parameter(torch.randn(3))]
    for t, c in zip(ts, copies(ts)):
        assert c.shape == t.shape and c.dtype == t.dtype and c.is_contiguous() and not c.requires_grad
        assert torch.equal(_bits(t), _bits(c))
        assert c.untyped_storage().data_ptr() != t.untyped_storage().data_ptr()


def test_scratch_bound_covers_batched_differences_and_one_chunk():
    small, large = torch.zeros(100), torch.zeros(compare.CHUNK * 3)
    pairs = list(zip([small, large], copies([small, large])))
    assert compare.scratch_bytes(pairs) == 100 * 8 + compare.CHUNK * 8
    assert compare.scratch_bytes(pairs[:1]) == 800
