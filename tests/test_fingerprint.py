from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from freezelint.runtime import fingerprint as fingerprint_module  # noqa: E402
from freezelint.runtime.fingerprint import fingerprints  # noqa: E402


@pytest.fixture(autouse=True, params=["kernel", "torch"])
def path(request, monkeypatch):
    """Every test runs on both ways of computing fingerprints: the compiled one-read kernel
    (CPU) and the torch reductions (other devices, or a build without a C compiler)."""
    if request.param == "torch":
        monkeypatch.setattr(fingerprint_module, "_fold", None)
    elif fingerprint_module._fold is None:
        pytest.skip("the _fold kernel was not built (no C compiler at install)")
    else:
        monkeypatch.setattr(fingerprint_module, "BYTES_PER_THREAD", 4096)  # split even small tensors
    return request.param


def fp(t):
    return fingerprints([t])[0]


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


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.uint8, torch.int32])
@pytest.mark.parametrize("n", [1, 3, 7, 256 * 4 + 5, 20_000 + 1])
def test_word_reading_catches_every_element_at_every_length_and_offset(dtype, n):
    # Elements are read 8 bytes at a time; the leftover that does not fill a word, an unaligned
    # view into a larger storage, and each byte lane of a word must all count.
    storage = torch.randint(0, 100, (n + 1,)).to(dtype)
    for t in (storage[:n], storage[1:]):  # aligned, and offset by one element
        base = fp(t)
        assert fingerprints([storage, t, storage]) == [fp(storage), base, fp(storage)]  # grouped: the same
        for i in {0, n // 2, n - 1}:
            changed = t.clone()
            changed.view(torch.uint8 if dtype.itemsize == 1 else {2: torch.int16, 4: torch.int32}[dtype.itemsize])[i] += 1
            assert fp(changed) != base, (i, n)


def test_fingerprinter_sees_values_and_storage_swaps_after_it_was_built():
    from freezelint.runtime.fingerprint import Fingerprinter

    p = torch.nn.Parameter(torch.randn(SMALL_PLUS := 40_000))
    small = torch.randn(10)
    odd = torch.randn(7)  # a widened tail: copied again at every pass
    take = Fingerprinter([p, small, odd])
    first = take()
    assert take() == first
    with torch.no_grad():
        odd[6] += 1
    assert take()[2] != first[2]
    p.data = p.data.clone()  # new storage, same bits: same fingerprint
    assert take()[0] == first[0]
    p.data[SMALL_PLUS - 1] += 1  # a write through .data bumps no version counter
    assert take()[0] != first[0]
    p.data = torch.zeros(3)  # another shape: the fingerprint carries it
    assert take()[0] == (*fp(torch.zeros(3)), (3,))


def test_grouped_fingerprints_equal_the_definition():
    # The definition, computed directly: the words' sum and their sum weighted by position + 1,
    # modulo 2**64. Several large tensors in one group (their row sums share one buffer), tails
    # that do not fill a row, small ones, and the same tensor twice.
    from freezelint.runtime.fingerprint import SMALL, _COLS

    def reference(t):
        words = t.contiguous().view(-1).view(torch.int64)
        weights = torch.arange(1, words.numel() + 1, dtype=torch.int64)
        return words.sum().item(), (words * weights).sum().item()

    g = torch.Generator().manual_seed(0)
    sizes = [SMALL * 2 + 2, 2 * _COLS * 7, 2 * (_COLS * 300 + 5), 6, 2 * (SMALL + 1) * _COLS + 2, 40]
    ts = [torch.randint(-2**31, 2**31 - 1, (n,), generator=g, dtype=torch.int32) for n in sizes]
    ts.append(ts[1])
    assert fingerprints(ts) == [reference(t) for t in ts]
    extreme = torch.full((2 * _COLS * 50,), -1, dtype=torch.int32)  # every word 2**64 - 1: wraps
    assert fingerprints([extreme, ts[0]]) == [reference(extreme), reference(ts[0])]



def test_a_tensor_whose_storage_was_resized_away_is_refused_not_read():
    # Reading it would crash the process (in torch as in the kernel): a clear error instead.
    from freezelint.runtime.fingerprint import Fingerprinter

    p = torch.nn.Parameter(torch.randn(1000))
    take = Fingerprinter([p])
    take()
    p.untyped_storage().resize_(0)
    with pytest.raises(ValueError, match="storage holds 0 bytes"):
        take()


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")
def test_sparse_tensors_are_fingerprinted_by_their_parts():
    from freezelint.runtime.fingerprint import Fingerprinter

    for make in (lambda d: d.to_sparse(), lambda d: d.to_sparse_csr()):
        dense = torch.tensor([[0.0, 1.5, 0.0], [2.0, 0.0, -0.0]])
        t = make(dense)
        take = Fingerprinter([t])
        first = take()
        assert take() == first and fingerprints([make(dense.clone())]) == first
        with torch.no_grad():
            t.values()[0] += 1  # a value written in place
        assert take() != first
        moved = make(torch.tensor([[1.5, 0.0, 0.0], [2.0, 0.0, -0.0]]))  # same values, other places
        assert fingerprints([moved]) != first


def test_a_kept_segment_table_serves_only_tensors_laid_out_as_it_was_built_for():
    # The kernel's segment table is kept by layout (address, shape, strides, dtype, storage size)
    # and reused by a later Fingerprinter of tensors laid out the same (a model watched again):
    # it must read the bits they hold then, and a tensor given other storage, another shape or
    # dtype, or a storage resized away, must not be read through a table built for the old one.
    from freezelint.runtime.fingerprint import Fingerprinter

    big, small = torch.randn(40_000), torch.randn(10)
    odd = torch.randn(7, 9).t()  # non-contiguous: read through a copy made at every pass
    first = Fingerprinter([big, small, odd])()
    assert Fingerprinter([big, small, odd])() == first
    with torch.no_grad():
        big[123] += 1
        odd[2, 3] += 1
    again = Fingerprinter([big, small, odd])()
    assert again == [fp(big.clone()), first[1], fp(odd.contiguous())] and again[0] != first[0]
    p = torch.nn.Parameter(big.clone())
    Fingerprinter([p, small])()
    old = p.data  # kept alive: a table wrongly reused would read it, not crash
    p.data = torch.full((40_000,), 2.0)  # other storage, same shape
    assert Fingerprinter([p, small])()[0] == fp(torch.full((40_000,), 2.0)) != fp(old)
    p.data = torch.arange(40_001, dtype=torch.float32)  # other storage and shape
    assert Fingerprinter([p, small])()[0] == fp(torch.arange(40_001, dtype=torch.float32))
    as_ints = big.view(torch.int32)  # same address and shape, another dtype
    assert Fingerprinter([as_ints, small])()[0] == fp(as_ints.clone())
    p.untyped_storage().resize_(0)
    with pytest.raises(ValueError, match="storage holds 0 bytes"):
        Fingerprinter([p, small])()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int8,
                                   torch.uint8, torch.int16, torch.int32, torch.int64, torch.bool, torch.complex64,
                                   torch.float8_e4m3fn])
def test_a_tables_rows_come_from_address_and_size_as_the_views_would_give_them(dtype):
    # _table computes a contiguous tensor's rows without building its integer views: they must
    # be the rows _segments gives for those views, at every length and storage offset
    from freezelint.runtime.fingerprint import _FIELDS, _segments, _table, as_ints

    for n in (1, 2, 3, 5, 8, 9, 16, 17):
        for offset in (0, 1, 3):
            whole = torch.zeros(offset + n + 1, dtype=dtype)
            pattern = torch.arange(whole.nbytes, dtype=torch.uint8)  # every byte differs (a bool: 0 or 1)
            whole.view(torch.uint8)[:] = pattern % 2 if dtype == torch.bool else pattern
            t = whole[offset:offset + n]
            odd = whole[offset:offset + 2 * n:2] if offset + 2 * n <= whole.numel() else None
            tensors = [t, whole] + ([odd] if odd is not None and not odd.is_contiguous() else [])
            table, copied, nbytes = _table(tensors)
            rows = [x for slot, x in enumerate(tensors) for x in _segments(as_ints(x), slot)]
            assert list(table) == rows, (dtype, n, offset)
            assert len(table) % _FIELDS == 0 and nbytes == sum(x.nbytes for x in tensors)
            assert [c[0] for c in copied] == [i for i, x in enumerate(tensors) if not x.is_contiguous()]
            assert fingerprints(tensors) == [fingerprints([x.clone()])[0] for x in tensors]


def test_kept_segment_tables_hold_no_tensor_and_stay_few():
    import gc
    import weakref

    from freezelint.runtime.fingerprint import _TABLES, _TABLES_KEPT, Fingerprinter

    t = torch.randn(5000)
    gone = weakref.ref(t)
    Fingerprinter([t])()
    del t
    gc.collect()
    assert gone() is None  # nothing kept alive by the table kept for it
    keep = [torch.randn(100 + i) for i in range(_TABLES_KEPT + 5)]
    for x in keep:
        assert Fingerprinter([x])() == [fp(x.clone())]
    assert len(_TABLES) <= _TABLES_KEPT


def test_zeros_resized_to_more_zeros_are_a_change_and_back_again_are_not():
    from freezelint.runtime.fingerprint import Fingerprinter

    p = torch.nn.Parameter(torch.zeros(4), requires_grad=False)
    q = torch.nn.Parameter(torch.ones(3), requires_grad=False)
    fp = Fingerprinter([p, q])
    before = fp()
    p.data = torch.zeros(8)  # the same sums: only the shape tells
    grown = fp()
    assert grown[0] != before[0] and grown[1] == before[1]
    assert fp() == grown  # stable from then on
    p.data = torch.zeros(4)
    assert fp() == before


@pytest.mark.parametrize("path", ["kernel"], indirect=True)  # about the C kernel only
def test_the_kernel_runs_on_torchs_openmp_pool_and_on_its_own_threads_after_a_fork(path):
    # Several fold threads run on the pool torch's CPU ops use, where torch loaded libgomp (its
    # Linux wheels): threads of the kernel's own would wait for a CPU the pool's spinning workers
    # hold. A child forked after the pool existed has none of its workers: there the kernel
    # starts its own threads, and must neither hang nor give other numbers.
    import multiprocessing
    import sys
    from array import array

    kernel = fingerprint_module._fold
    if not sys.platform.startswith("linux"):
        pytest.skip("the pool is looked up on Linux only")
    with open("/proc/self/maps") as maps:
        loaded = any("libgomp" in line for line in maps)
    if not loaded:
        pytest.skip("torch did not load libgomp: the kernel starts its own threads")
    ts = [torch.randn(300_000), torch.randn(7, 9).t(), torch.arange(77, dtype=torch.int16)]
    saved = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        torch.randn(512, 512) @ torch.randn(512, 512)  # the pool exists before the fork
        expected = fingerprints(ts)
        assert kernel.on_torch_pool()
        dense = [ts[0], ts[2]]  # contiguous: the table points at them, not at copies
        pooled, own = array("q", bytes(32)), array("q", bytes(32))
        kernel.fold(fingerprint_module._table(dense)[0], pooled, 2)
        kernel.fold(fingerprint_module._table(dense)[0], own, 2, False)  # threads of its own
        assert pooled == own and list(zip(pooled[0::2], pooled[1::2])) == [expected[0], expected[2]]
        ctx = multiprocessing.get_context("fork")
        queue = ctx.Queue()
        child = ctx.Process(target=_fingerprints_in_child, args=(ts, queue))
        child.start()
        child.join(60)
        if child.is_alive():
            child.kill()
            pytest.fail("the kernel hung in a forked child")
        assert child.exitcode == 0
        assert queue.get(timeout=5) == (False, expected)
    finally:
        torch.set_num_threads(saved)


def _fingerprints_in_child(ts, queue):
    queue.put((fingerprint_module._fold.on_torch_pool(), fingerprints(ts)))


@pytest.mark.parametrize("on_thread", [True, False])
def test_a_started_pass_gives_what_a_pass_at_once_gives(monkeypatch, on_thread):
    # `start()` reads the CPU tensors on a thread of its own where background() allows; the
    # result, taken later, is the same list a pass at once gives: contiguous and copied
    # (non-contiguous) tensors, bool, complex, a sparse one, an empty one, a reshaped one.
    import threading

    from freezelint.runtime.fingerprint import Fingerprinter

    monkeypatch.setattr(fingerprint_module, "BACKGROUND", on_thread)
    readers = []  # the thread each kernel read ran on
    if fingerprint_module._fold is not None:
        kernel = fingerprint_module._fold

        class Spy:
            def fold(self, *args):
                readers.append(threading.current_thread().name)
                return kernel.fold(*args)

        monkeypatch.setattr(fingerprint_module, "_fold", Spy())
    grown = torch.zeros(6)
    tensors = [torch.randn(300, 7), torch.randn(40, 30).t(), torch.rand(33) > 0.5, torch.randn(9, dtype=torch.complex64),
               torch.randn(5, 5).to_sparse(), torch.empty(0), grown, torch.randn(1000, dtype=torch.float16)]
    f = Fingerprinter(tensors)
    first = f()
    pending = f.start()
    assert pending.result() == first
    if readers:
        assert ("freezelint-fingerprint" in readers) == on_thread, readers
    assert pending.result() is pending.result()  # taken once
    tensors[1].add_(1)  # a copied (non-contiguous) tensor written
    grown.resize_(8).zero_()  # a tensor resized: its shape joins its fingerprint
    again = f.start().result()
    assert again == f()
    assert [a == b for a, b in zip(first, again)] == [True, False, True, True, True, True, False, True]
    assert not any(t.name == "freezelint-fingerprint" for t in threading.enumerate())


def test_a_started_pass_reads_a_swapped_storage_where_it_lies_now(monkeypatch):
    from freezelint.runtime.fingerprint import Fingerprinter

    monkeypatch.setattr(fingerprint_module, "BACKGROUND", True)
    p = torch.nn.Parameter(torch.randn(64, 64))
    f = Fingerprinter([p])
    before = f.start().result()
    assert not f.moved()
    p.data = p.data.clone()  # same values, another storage
    assert f.moved()
    assert f.start().result() == before
    p.data = torch.randn(64, 64)
    assert f.start().result() != before


def test_a_started_pass_reads_on_one_thread_per_spare_cpu_and_the_waiting_callers(monkeypatch, path):
    # beside the training, a pass takes only the CPUs torch leaves idle; the window's last pass,
    # which the caller waits for after a little work, takes the caller's CPU too
    if path != "kernel":
        pytest.skip("the torch reductions read at once, on the caller's thread")
    from freezelint.runtime.fingerprint import Fingerprinter

    threads = []
    kernel = fingerprint_module._fold

    class Spy:
        def fold(self, table, out, n, *rest):
            threads.append(n)
            return kernel.fold(table, out, n, *rest)

    monkeypatch.setattr(fingerprint_module, "_fold", Spy())
    monkeypatch.setattr(fingerprint_module, "_spare", lambda: 1)
    f = Fingerprinter([torch.randn(64, 1024)])  # 256 KB: 64 pieces of 4 KB
    assert f.start().result() == f.start(waiting=True).result() == f()
    assert threads[:2] == [1, 2]
    monkeypatch.setattr(fingerprint_module, "_spare", lambda: 0)
    f.start().result()
    assert threads[2:] == [min(torch.get_num_threads(), 64)] * 2  # no CPU spare: at once, on torch's threads


def test_a_pass_is_begun_beside_a_forward_only_where_the_kernel_reads_every_tensor(path):
    from freezelint.runtime.fingerprint import Fingerprinter

    assert Fingerprinter([torch.randn(4, 4), torch.randn(3)]).beside == (path == "kernel")
    assert not Fingerprinter([torch.empty(4, device="meta")]).beside  # nothing to read
    assert not Fingerprinter([torch.randn(4).to_sparse()]).beside
