"""Bit-exact change detection without copying the model.

A tensor's fingerprint is two int64 numbers computed on its own device from its bit pattern,
read as a sequence of int64 words (`_sequence`): their plain sum and their sum weighted by
(position + 1). Float sums miss 1-ulp changes and `0.0 -> -0.0`, and `torch.equal` calls
identical NaNs different; the integer sum catches every single-element change (NaN payloads and
signed zeros included) in any reduction order, and the weighted sum catches permutations. Sums
wrap modulo 2**64, which is associative, so the result does not depend on how the reduction is
split.

On CPU the compiled kernel `_fold` (setup.py builds it where a C compiler exists) computes both
sums in one read of each tensor. Elsewhere, or without it, torch computes the weighted sum from
the row and column sums of a (rows, 256) view of the words: two reads, and no temporary of the
tensor's size. Both give the same numbers. On CUDA those reductions are a few hundred small
kernels a pass, whose launches, not the reads, are the cost: a model's pass is recorded once as a
CUDA graph and replayed (`_Captured`).

A pass can also be started (`Fingerprinter.start`) and its result taken later: where torch's
threads leave a CPU idle (`background()`), the kernel's read of the CPU tensors runs on a thread of
its own meanwhile, beside a forward and backward that only read the tensors, or beside the
watch's own bookkeeping, instead of in their way.
"""

from __future__ import annotations

import os
import threading
import weakref
from array import array
from typing import Callable

import torch

from freezelint.runtime.fsdp import _dtensor, local

try:
    from freezelint.runtime import _fold
except ImportError:  # built without a C compiler: the torch reductions below give the same sums
    _fold = None

# 256 words a row: the row sums take 1/256 of a large tensor's bytes (with the index: 64 took 2.6%
# of resnet50's parameter bytes, 256 1.6%) and the passes are fastest there (CPU torch path, measured)
_COLS = 256

# Floating point, bool and any other non-integer dtype are read through the integer type of
# their size: their bit patterns, never their values.
_INT_OF_SIZE = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}


def sparse_parts(t: torch.Tensor) -> list[torch.Tensor]:
    """The dense tensors a sparse tensor is made of (its indices, then its values), as stored,
    not coalesced; a strided tensor is its own one part."""
    if t.layout == torch.sparse_coo:
        return [t._indices(), t._values()]
    if t.layout in (torch.sparse_csr, torch.sparse_bsr):
        return [t.crow_indices(), t.col_indices(), t.values()]
    if t.layout in (torch.sparse_csc, torch.sparse_bsc):
        return [t.ccol_indices(), t.row_indices(), t.values()]
    return [t]


def as_ints(t: torch.Tensor) -> torch.Tensor:
    """t's elements as a flat integer tensor of the same bits: a view when t is contiguous."""
    t = t.detach()
    if t.is_complex():
        t = torch.view_as_real(t)
    if not t.is_contiguous():
        t = t.contiguous()
    if t.dtype.is_floating_point or t.dtype == torch.bool:
        t = t.view(_INT_OF_SIZE[t.element_size()])
    return t.reshape(-1)


def joined(tensors: list[torch.Tensor]) -> torch.Tensor:
    """The tensors' elements, one after the other, in one new 1-d tensor (of their one dtype)."""
    if all(t.dim() == 0 for t in tensors):  # num_batches_tracked: a stack, not a reshape per scalar
        return torch.stack(tensors)
    return torch.cat([t if t.dim() == 1 else t.reshape(-1) for t in tensors])


def _sequence(t: torch.Tensor) -> tuple[list[torch.Tensor], bool]:
    """The tensor's bits as int64 numbers: its bytes read as 8-byte words (a view, no copy), then
    the elements of a leftover that does not fill a word, widened. Summing native int64 words is
    an order of magnitude faster than widening int32 elements, and still exact: a change to one
    element changes its word by d * 2**(8k) with 0 < |d| < 2**(64-8k), never 0 modulo 2**64.
    The flag says whether every part is a view of t (else a copy, to be made again per pass)."""
    per = 8 // t.element_size()
    if (per > 1 and t.is_contiguous() and t.numel() % per == 0 and t.storage_offset() % per == 0
            and not t.is_complex() and t.dtype != torch.bool and t.numel()):
        return [t.view(-1).view(torch.int64)], True  # the common case: one view, no copy
    is_view = t.is_contiguous()
    flat = as_ints(t)
    per = 8 // flat.element_size()
    if per <= 1:
        if flat.dtype == torch.int64:
            return [flat], is_view
        return [flat.to(torch.int64)], False
    whole = flat.numel() - flat.numel() % per
    parts = []
    if whole:
        head = flat[:whole]
        if flat.storage_offset() % per:  # a word view needs word-aligned storage
            head = head.clone()
            is_view = False
        parts.append(head.view(torch.int64))
    if whole < flat.numel():
        parts.append(flat[whole:].to(torch.int64))
        is_view = False
    return parts, is_view


# Tensors up to this size are summed as one concatenation, a handful of ops for all of them:
# per-tensor op overhead, not bandwidth, is what small tensors (norm weights, biases, running
# statistics) cost. Larger ones are reduced in place through a (rows, 256) view. The threshold
# keeps the concatenation and its index small (0.5% of resnet50's parameter bytes; the row sums
# of the large ones, with _COLS 256, ~0.4%), at the same speed as 16384 (measured).
SMALL = 1 << 10


def _split(t: torch.Tensor) -> tuple[torch.Tensor | None, list[torch.Tensor], bool]:
    """A large tensor's words as a (rows, _COLS) grid plus what does not fill a row; a small
    tensor's words all loose; and whether all of them are views of t."""
    parts, is_view = _sequence(t)
    if t.numel() <= SMALL:
        return None, parts, is_view
    words = parts[0]
    rows = words.numel() // _COLS
    return words[: rows * _COLS].view(rows, _COLS), [words[rows * _COLS:], *parts[1:]], is_view


def _layout(t: torch.Tensor) -> tuple:
    return t.data_ptr(), t.shape, t.stride(), t.dtype, t.untyped_storage().nbytes()


class _Group:
    """The tensors of one device, where their bits lay when the group was built, and their
    storages (held, whatever happens to the tensors: the kernel reads them without the GIL, so
    another thread may swap a tensor's storage meanwhile)."""

    def __init__(self, tensors: list[torch.Tensor]) -> None:
        self.tensors = tensors
        self.storages = storages = [t.untyped_storage() for t in tensors]
        self.layout = layout = [(t.data_ptr(), t.shape, t.stride(), t.dtype, s.nbytes())
                                for t, s in zip(tensors, storages)]
        for t, s, (ptr, *_, nbytes) in zip(tensors, storages, layout):
            # _readable, from what was just read: the bytes before t's first element, plus its own
            if ptr - s.data_ptr() + t.nbytes > nbytes and t.is_contiguous():
                raise ValueError(f"a {tuple(t.shape)} tensor's storage holds {nbytes} bytes, fewer than its "
                                 "elements need (was it resized away by sharding?)")

    def moved(self) -> bool:
        """A tensor now has other storage or another shape (`p.data = ...`): the group is stale."""
        return any(_layout(t) != layout for t, layout in zip(self.tensors, self.layout))


class _DeviceGroup(_Group):
    """Torch reductions on the tensors' device (CUDA, or CPU without the kernel). Views and index
    tensors are built once: views read whatever the tensors hold when `run()` is called.

    A large tensor costs two reductions of its (rows, COLS) grid per pass, its row sums written
    into one buffer for all tensors; its weighted sum follows from them:
    sum_i x_i * (i + 1) with i = r * COLS + c == COLS * sum_r r * S_r + sum_c (c + 1) * colsum_c,
    and sum_r r * S_r over every tensor's rows at once from two prefix sums of that buffer
    (`_row_weights`). Tails and small tensors are done by segment sums over all of them at once.
    """

    def __init__(self, tensors: list[torch.Tensor]) -> None:
        super().__init__(tensors)
        device = tensors[0].device
        self.k = len(tensors)
        self.views: list[tuple[torch.Tensor | None, list[torch.Tensor]] | None] = []
        self.owners: list[int] = []
        self.row_at = [1]  # where each grid's row sums go in self.rows (slot 0 stays 0)
        loose_len, loose_first = [], []
        for i, t in enumerate(tensors):
            grid, rest, is_view = _split(t)
            # copies (unaligned or widened parts) are made again at every pass; views are kept
            self.views.append((grid, rest) if is_view else None)
            if grid is not None:
                self.owners.append(i)
                self.row_at.append(self.row_at[-1] + grid.shape[0])
            loose_len.append(sum(x.numel() for x in rest))
            loose_first.append(grid.numel() if grid is not None else 0)
        lengths = torch.tensor(loose_len, device=device)
        self.seg = torch.repeat_interleave(torch.arange(self.k, dtype=torch.int32, device=device), lengths)
        starts = torch.cumsum(lengths, 0) - lengths - torch.tensor(loose_first, device=device)
        self.pos = torch.arange(int(lengths.sum()), dtype=torch.int64, device=device) - starts[self.seg] + 1
        self.rows = torch.zeros(self.row_at[-1], dtype=torch.int64, device=device)
        bounds = torch.tensor(self.row_at, dtype=torch.int64, device=device)
        self.row_first, self.row_end = bounds[:-1] - 1, bounds[1:] - 1  # slots before and at the end
        self.col_w = torch.arange(1, _COLS + 1, dtype=torch.int64, device=device)
        self.at = torch.tensor(self.owners, dtype=torch.int64, device=device)
        # what a pass holds besides the tensors: the index and scratch above, the concatenation
        # of the loose words and its weighted copy, the column sums
        held = [self.seg, self.pos, self.rows, self.row_first, self.row_end, self.col_w, self.at]
        self.scratch_bytes = (sum(t.numel() * t.element_size() for t in held) + 16 * self.pos.numel()
                              + 8 * (_COLS + 2) * len(self.owners))
        self.held = held
        self.captured: _Captured | None = None

    def _row_weights(self) -> torch.Tensor:
        """Per grid, sum_r r * S_r over its rows, from the row sums in self.rows (consumed).

        With G the running sum of the buffer and H the running sum of G, a grid whose n rows
        sit after slot a and end at slot b has sum_r r * S_r == n * G[b] - H[b] + H[a]
        (sum_r r * S_r == n * sum S - sum of its own running sums). Exact modulo 2**64."""
        first, end = self.row_first, self.row_end
        g_end = self.rows.cumsum_(0)[end]
        h = self.rows.cumsum_(0)
        return (end - first) * g_end - h[end] + h[first]

    def __call__(self) -> list[tuple[int, int]]:
        if self.captured is None and self.pos.device.type == "cuda" and _passed(tuple(self.layout)) >= _RECORD_AT:
            self.captured = _Captured.record(self)
        if self.captured is not None:
            return self.captured()
        return [(a, b) for a, b in self.run().cpu().tolist()]

    def run(self) -> torch.Tensor:
        """[k, 2] int64 fingerprints, on the device."""
        device = self.pos.device
        loose: list[torch.Tensor] = []
        cols = torch.empty(len(self.owners), _COLS, dtype=torch.int64, device=device)
        j = 0
        for t, views in zip(self.tensors, self.views):
            grid, rest = views if views is not None else _split(t)[:2]
            if grid is not None:
                torch.sum(grid, dim=1, out=self.rows[self.row_at[j]:self.row_at[j + 1]])
                torch.sum(grid, dim=0, out=cols[j])
                j += 1
            loose.extend(rest)
        out = torch.zeros(self.k, 2, dtype=torch.int64, device=device)
        if self.pos.numel():
            data = torch.cat(loose)
            out[:, 0].index_add_(0, self.seg, data)
            out[:, 1].index_add_(0, self.seg, data * self.pos)
        if self.owners:
            weighted = self._row_weights() * _COLS + (cols * self.col_w).sum(dim=1)
            out[:, 0].index_add_(0, self.at, cols.sum(dim=1))  # the plain sum, without another pass
            out[:, 1].index_add_(0, self.at, weighted)
        return out


class _Captured:
    """A _DeviceGroup's pass on CUDA recorded as a CUDA graph: one replay launches its few hundred
    kernels (~2.3 ms of launches for resnet50's 320 tensors, ~0.2 ms replayed). The graph reads
    the tensors by address, as the group's views did, so it serves any later group whose tensors
    lie exactly where these lay (`_GRAPHS`, by layout: the same model watched again, or audited),
    and nothing else: a tensor moved or resized is another layout. It holds the group's index and
    scratch tensors (the kernels write and read them) and none of the model's.

    Recorded without torch.cuda.graph(), whose entry synchronises and empties the allocator's
    cache (the training's next step would allocate it all again), on a side stream, in
    thread-local capture mode (a DataLoader's pinning thread may allocate meanwhile). Any failure
    to record (a platform without graphs, a stream already capturing) leaves the eager pass, for
    the rest of the process."""

    broken = False

    def __init__(self, graph: torch.cuda.CUDAGraph, out: torch.Tensor, held: list[torch.Tensor],
                 scratch_bytes: int) -> None:
        self.graph, self.out, self.held, self.scratch_bytes = graph, out, held, scratch_bytes

    def __call__(self) -> list[tuple[int, int]]:
        self.graph.replay()  # on the current stream, after the steps that wrote the tensors
        return [(a, b) for a, b in self.out.cpu().tolist()]

    @classmethod
    def record(cls, group: _DeviceGroup) -> _Captured | None:
        if cls.broken or torch.cuda.is_current_stream_capturing():
            return None
        device = group.pos.device
        main = torch.cuda.current_stream(device)
        side = None
        try:
            side = torch.cuda.Stream(device)
            side.wait_stream(main)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.stream(side):
                group.run()  # a warm-up off the graph, as recording wants
                graph.capture_begin(capture_error_mode="thread_local")
                try:
                    out = group.run()
                finally:
                    graph.capture_end()
        except Exception:  # noqa: BLE001 — recording is an optimisation: the eager pass is exact
            cls.broken = True
            return None
        finally:
            if side is not None:
                main.wait_stream(side)
        captured = cls(graph, out, group.held, group.scratch_bytes)
        key = tuple(group.layout)
        _GRAPHS.pop(key, None)
        if len(_GRAPHS) >= _GRAPHS_KEPT:
            del _GRAPHS[next(iter(_GRAPHS))]  # the least recently recorded
        _GRAPHS[key] = captured
        # kept no longer than the tensors it reads: a model dropped takes its graph's memory along
        weakref.finalize(group.tensors[0], _GRAPHS.pop, key, None)
        return captured


# Recorded passes by the layout of their tensors (see _Captured). Each holds its graph's memory
# (the pass's scratch: ~1.6% of the parameter bytes), so only a few are kept.
_GRAPHS: dict[tuple, _Captured] = {}
_GRAPHS_KEPT = 4
# Passes taken over each recent layout (numbers only). Recording costs about two eager passes, so a
# layout is recorded at its third pass: a model watched once (a window's two passes, a test's
# watch over a model of its own) never pays for it; one watched again (later windows, an audit and
# a watch, a benchmark's rounds) replays from then on.
_PASSES: dict[tuple, int] = {}
_RECORD_AT = 3


def _passed(key: tuple) -> int:
    n = _PASSES.pop(key, 0) + 1
    if len(_PASSES) >= 16:
        del _PASSES[next(iter(_PASSES))]
    _PASSES[key] = n
    return n


class _ReplayGroup(_Group):
    """CUDA tensors lying exactly where a recorded pass read: each pass is a replay of it."""

    def __init__(self, group: _Group, captured: _Captured) -> None:  # not super(): group has read the layout
        self.tensors, self.storages, self.layout = group.tensors, group.storages, group.layout
        self.captured = captured
        self.scratch_bytes = captured.scratch_bytes

    def __call__(self) -> list[tuple[int, int]]:
        return self.captured()


# Fields of a row of _fold's segment table: address, items, bytes per item, signed, position
# of the first item in its tensor's sequence, which fingerprint it adds to.
_FIELDS = 6
# Below this many bytes per thread another thread costs more than it saves (thread start-up).
BYTES_PER_THREAD = 4 << 20

# Whether started passes read on a thread of their own: None decides by `background()`'s test
# (tests set True or False to take either path on any machine).
BACKGROUND: bool | None = None


def _spare() -> int:
    """The CPUs this process may use that torch's own threads leave idle."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(0, cpus - torch.get_num_threads())


def background() -> bool:
    """A started pass reads on threads of its own: the process may use a CPU that torch's own
    threads leave idle (a pass there runs beside the training). Where torch's threads fill every
    CPU, a pass runs at once on torch's pool instead, which is faster than a thread competing with
    it."""
    if BACKGROUND is not None:
        return BACKGROUND and _fold is not None
    return _fold is not None and _spare() > 0


def _segments(ints: torch.Tensor, slot: int) -> list[int]:
    """Table rows for a flat integer tensor (as_ints): its bytes as 8-byte words, then the
    elements of a leftover that does not fill a word, widened: the sequence `_sequence` makes."""
    size = ints.element_size()
    words, rest = divmod(ints.numel() * size, 8)
    rows = [ints.data_ptr(), words, 8, 0, 0, slot] if words else []
    if rest:
        rows += [ints.data_ptr() + 8 * words, rest // size, size, int(ints.dtype.is_signed), words, slot]
    return rows


# Segment tables of recent kernel groups, by the layouts of their tensors. A table is a function of
# those layouts alone (addresses, shapes, strides, dtypes, storage sizes), so a group whose tensors
# lie where an earlier group's did (the same model watched again) reuses the table instead of
# building it (~1.4 ms for resnet50's 320 tensors). Only numbers are kept: a model changed or freed
# since keeps nothing alive here, and a changed layout is another key.
_TABLES: dict[tuple, tuple[array, list[tuple[int, int, int]], int]] = {}
_TABLES_KEPT = 8


# dtype -> (bytes per item, signed) of the integers `as_ints` reads it as
_INTS: dict[torch.dtype, tuple[int, int]] = {}


def _ints_of(dtype: torch.dtype) -> tuple[int, int]:
    known = _INTS.get(dtype)
    if known is None:
        ints = as_ints(torch.empty(0, dtype=dtype))
        known = _INTS[dtype] = (ints.element_size(), int(ints.dtype.is_signed))
    return known


def _table(tensors: list[torch.Tensor]) -> tuple[array, list[tuple[int, int, int]], int]:
    """The segment table of `tensors`, the (tensor, first row, rows) of those read through a copy
    made at every pass, and their bytes. A contiguous tensor's rows are `_segments(as_ints(t))`
    computed from its address and size alone: the views cost 4 us a tensor, most of a table's
    build (the first watch of a model, every audit())."""
    table = array("q")
    copied = []
    nbytes = 0
    for slot, t in enumerate(tensors):
        size = t.nbytes
        if t.is_contiguous():
            words, rest = divmod(size, 8)
            ptr = t.data_ptr()
            if words:
                table.extend((ptr, words, 8, 0, 0, slot))
            if rest:
                item, signed = _ints_of(t.dtype)
                table.extend((ptr + 8 * words, rest // item, item, signed, words, slot))
        else:  # read through a contiguous copy, its rows re-pointed at every pass
            rows = _segments(as_ints(t), slot)
            copied.append((slot, len(table) // _FIELDS, len(rows) // _FIELDS))
            table.extend(rows)
        nbytes += size
    return table, copied, nbytes


class _KernelGroup(_Group):
    """CPU tensors fingerprinted by the compiled kernel in one read each. The segment table is
    built once (or found in _TABLES); a non-contiguous tensor is read through a contiguous copy
    made at every pass."""

    def __init__(self, tensors: list[torch.Tensor]) -> None:
        super().__init__(tensors)
        key = tuple(self.layout)
        cached = _TABLES.pop(key, None) or _table(tensors)
        if len(_TABLES) >= _TABLES_KEPT:
            del _TABLES[next(iter(_TABLES))]  # the least recently used
        _TABLES[key] = cached
        table, self.copied, self.nbytes = cached
        self.table = array("q", table)  # its own: copied tensors' rows are rewritten at each pass
        self.scratch_bytes = self.table.itemsize * len(self.table) + 16 * len(tensors)

    def _prepared(self) -> tuple[list[torch.Tensor], array]:
        """The copies of non-contiguous tensors (alive until the kernel has read them), their
        rows re-pointed at them, and the output."""
        held = []
        for slot, row, count in self.copied:
            ints = as_ints(self.tensors[slot])
            held.append(ints)
            self.table[row * _FIELDS:(row + count) * _FIELDS] = array("q", _segments(ints, slot))
        return held, array("q", bytes(16 * len(self.tensors)))

    def __call__(self) -> list[tuple[int, int]]:
        held, out = self._prepared()
        threads = max(1, min(torch.get_num_threads(), self.nbytes // BYTES_PER_THREAD))
        _fold.fold(self.table, out, threads)
        return list(zip(out[0::2], out[1::2]))

    def start(self, readers: int) -> Callable[[], list[tuple[int, int]]]:
        """The pass on a thread of its own (the kernel reads without the GIL), which splits the
        read with up to `readers - 1` more; the function returned waits for it. The group's table
        must not change until then: one pass at a time."""
        threads = max(1, min(readers, self.nbytes // BYTES_PER_THREAD))
        held, out = self._prepared()
        failed: list[BaseException] = []

        def fold() -> None:
            try:
                _fold.fold(self.table, out, threads, False)
            except BaseException as e:  # MemoryError: raised where the result is taken
                failed.append(e)

        thread = threading.Thread(target=fold, name="freezelint-fingerprint", daemon=True)
        thread.start()

        def result() -> list[tuple[int, int]]:
            thread.join()
            held.clear()
            if failed:
                raise failed[0]
            return list(zip(out[0::2], out[1::2]))

        return result


class Fingerprinter:
    """Fingerprints of a fixed list of tensors, taken as often as needed (before and after the
    steps) with one transfer per device per pass. A sparse tensor's fingerprint is its layout,
    shape and the fingerprints of its parts, taken afresh at every pass (its parts may have been
    replaced); there are seldom more than a few. A sharded tensor (DTensor) is read through this
    rank's shard, looked up again at every pass: FSDP2 may give a parameter a new local tensor
    (at its lazy initialisation, or after a load)."""

    @torch.no_grad()
    def __init__(self, tensors: list[torch.Tensor]) -> None:
        self.sources = tensors
        if _dtensor() is None:  # nothing has imported DTensor: no tensor here is one
            shards, self.shards = tensors, []
        else:
            shards = [local(t) for t in tensors]
            self.shards = [i for i, (t, s) in enumerate(zip(tensors, shards)) if s is not t]
        self._build(shards)
        # whether a pass may be begun beside a forward (Watch._start_early): CPU tensors the kernel
        # reads (a device's pass is launched at once: nothing to gain), and not shards, which FSDP
        # swaps around the forward (FSDP2's DTensors, FSDP1's flat parameters)
        self.beside = bool(self.groups) and all(isinstance(g, _KernelGroup) for _, g in self.groups) \
            and not self.shards and not any(type(t).__name__ == "FlatParameter" for t in tensors)

    def _build(self, tensors: list[torch.Tensor]) -> None:
        self.tensors = tensors
        self.n = len(tensors)
        # Zeros resized to more zeros sum alike: a tensor whose shape differs from the first
        # build's carries its shape in its fingerprint from then on.
        if not hasattr(self, "shapes"):
            self.shapes = [t.shape for t in tensors]
            self.reshaped: set[int] = set()
        by_device: dict[torch.device, list[int]] = {}
        self.sparse = []
        strided = torch.strided
        for i, t in enumerate(tensors):
            if t.layout != strided:
                self.sparse.append((i, t))
            elif t.numel():
                device = t.device
                if device.type != "meta":
                    by_device.setdefault(device, []).append(i)
        self.groups = [(idx, _group([tensors[i] for i in idx] if len(idx) < self.n else tensors))
                       for idx in by_device.values()]

    @property
    def scratch_bytes(self) -> int:
        return sum(group.scratch_bytes for _, group in self.groups)

    def __call__(self, just_built: bool = False) -> list[tuple]:
        """One pass. `just_built`: nothing ran since this Fingerprinter was built, so the tensors
        still lie where the build found them and the check that they do (a walk of every
        tensor's layout, 0.24 ms for resnet50's 320) is skipped."""
        return self._pass(just_built, 0).result()

    def start(self, just_built: bool = False, waiting: bool = False) -> Pending:
        """One pass begun: what `__call__` returns, from the returned `Pending`'s `result()`. Where
        `background()` allows, the CPU tensors are read on threads of their own meanwhile, one per
        spare CPU (the other devices' at once, as the layouts are checked); `waiting`: the caller
        waits for the result after a little work of its own, so its CPU reads too. Until the
        result is taken, nothing may write the tensors, and this Fingerprinter takes no other pass."""
        if not background():
            return self._pass(just_built, 0)
        # the caller's own CPU reads too where it waits for the result next (the after pass)
        return self._pass(just_built, max(1, _spare() + waiting))

    def moved(self) -> bool:
        """A tensor no longer lies where this Fingerprinter's groups found it (its `.data` was
        swapped, a shard replaced): its next pass rebuilds them."""
        return any(local(self.sources[i]) is not self.tensors[i] for i in self.shards) or \
            any(group.moved() for _, group in self.groups)

    @torch.no_grad()
    def _pass(self, just_built: bool, readers: int) -> Pending:
        if any(local(self.sources[i]) is not self.tensors[i] for i in self.shards):
            self._build([local(t) for t in self.sources])
        parts = []
        for n, (idx, group) in enumerate(self.groups):
            if not just_built and group.moved():
                group = _group(group.tensors)
                self.groups[n] = (idx, group)
                self.reshaped.difference_update(idx)
                self.reshaped.update(i for i in idx if self.tensors[i].shape != self.shapes[i])
            threaded = readers and isinstance(group, _KernelGroup) and (BACKGROUND or group.nbytes >= BYTES_PER_THREAD)
            parts.append((idx, group.start(readers) if threaded else group()))
        extra = [(i, tuple(self.tensors[i].shape)) for i in self.reshaped]
        sparse = []
        for i, t in self.sparse:
            parts_of = sparse_parts(t)
            sparse.append((i, (str(t.layout), tuple(t.shape),
                               *zip((tuple(x.shape) for x in parts_of), fingerprints(parts_of)))))
        return Pending(self.n, parts, extra, sparse)


class Pending:
    """A pass begun by `Fingerprinter.start`: `result()` waits for its reads (once) and gives the
    fingerprints, in the Fingerprinter's order."""

    def __init__(self, n: int, parts: list, extra: list[tuple[int, tuple]], sparse: list[tuple[int, tuple]]) -> None:
        self.n, self._parts, self._extra, self._sparse = n, parts, extra, sparse
        self._out: list[tuple] | None = None

    def result(self) -> list[tuple]:
        if self._out is None:
            out: list[tuple] = [(0, 0)] * self.n
            for idx, got in self._parts:
                for i, pair in zip(idx, got() if callable(got) else got):
                    out[i] = pair
            for i, shape in self._extra:
                out[i] = (*out[i], shape)
            for i, sparse in self._sparse:
                out[i] = sparse
            self._out, self._parts = out, []
        return self._out


def _group(tensors: list[torch.Tensor]) -> _KernelGroup | _DeviceGroup | _ReplayGroup:
    """The kernel for CPU tensors where it was built; on CUDA, the replay of a pass recorded over
    tensors lying exactly where these lie; torch reductions on the device otherwise. Refuses
    (ValueError) a tensor whose storage no longer holds its elements."""
    device = tensors[0].device.type
    if _fold is not None and device == "cpu":
        return _KernelGroup(tensors)
    if device == "cuda" and _GRAPHS:
        group = _Group(tensors)
        captured = _GRAPHS.get(tuple(group.layout))
        if captured is not None:
            return _ReplayGroup(group, captured)
    return _DeviceGroup(tensors)


def fingerprints(tensors: list[torch.Tensor]) -> list[tuple]:
    """Fingerprints of many tensors, once."""
    return Fingerprinter(tensors)(just_built=True)
