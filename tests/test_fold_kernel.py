"""The compiled fingerprint kernel (freezelint/runtime/_fold.c) against the torch reductions."""

from __future__ import annotations

from array import array

import pytest

torch = pytest.importorskip("torch")

from freezelint.runtime import fingerprint as fingerprint_module  # noqa: E402
from freezelint.runtime.fingerprint import fingerprints  # noqa: E402

needs_kernel = pytest.mark.skipif(fingerprint_module._fold is None, reason="the _fold kernel was not built")


@needs_kernel
def test_kernel_and_torch_reductions_agree_on_every_layout(monkeypatch):
    # Odd lengths, unaligned views, non-contiguous tensors, every integer width and signedness of
    # a widened leftover, several threads each cutting tensors mid-way: the same numbers.
    g = torch.Generator().manual_seed(1)
    storage = torch.randint(-2**31, 2**31 - 1, (300_001,), generator=g, dtype=torch.int32)
    ts = [storage[1:], storage[3:20_004], storage.view(torch.float32)[5:], storage[:6_000].view(100, 60).t(),
          storage.view(torch.int16)[1:77], storage.view(torch.uint8)[3:], storage.view(torch.int8)[7:31],
          storage[:9].to(torch.uint16), storage[:11].to(torch.bool), storage[:8].view(torch.complex64),
          storage[:9].to(torch.float16), storage[:100_000].view(torch.float64), torch.tensor([-1, -1, -1])]
    with_kernel = fingerprints(ts)
    with monkeypatch.context() as m:
        m.setattr(fingerprint_module, "_fold", None)
        with_torch = fingerprints(ts)
    assert with_kernel == with_torch
    monkeypatch.setattr(fingerprint_module, "BYTES_PER_THREAD", 4096)
    saved = torch.get_num_threads()
    try:
        for threads in (1, 2, 3, 7):
            torch.set_num_threads(threads)
            assert fingerprints(ts) == with_torch, threads
    finally:
        torch.set_num_threads(saved)


@needs_kernel
def test_kernel_refuses_a_malformed_table():
    fold = fingerprint_module._fold.fold
    out = array("q", bytes(16))
    with pytest.raises(ValueError, match="malformed"):
        fold(array("q", [0, 1, 3, 0, 0, 0]), out, 1)  # 3-byte items do not exist
    with pytest.raises(ValueError, match="malformed"):
        fold(array("q", [0, 1, 8, 0, 0, 1]), out, 1)  # slot 1 of a one-slot output
    with pytest.raises(ValueError, match="malformed"):
        fold(array("q", [0, 1, 8]), out, 1)  # half a row
    fold(array("q"), out, 1)  # nothing to read: nothing added
    assert list(out) == [0, 0]


def test_the_kernel_is_built_where_a_c_compiler_is():
    import shutil
    import sysconfig

    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        pytest.skip(f"no C compiler ({compiler}): fingerprints use torch reductions")
    assert fingerprint_module._fold is not None, "setup.py did not build freezelint/runtime/_fold.c"
