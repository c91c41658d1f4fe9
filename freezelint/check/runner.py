"""Many files: discover -> cache -> prefilter -> (process pool) -> engine -> atomic fix writes.

A warm run decides each file from its metadata (the cache index) before reading it, then from its
content key. The engine (and libcst, and the rule code) is imported only when some file needs
parsing; the text prefilter works without it.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, Iterator

from freezelint.check import prefilter
from freezelint.check.alloc import relaxed_gc
from freezelint.check.cache import Cache, Meta, content_key, meta_of
from freezelint.check.cpython_parse import cpython_error, quick_error, syntax_error
from freezelint.check.diagnostic import Diagnostic
from freezelint.check.discover import Discovery, Skipped
from freezelint.config import Config, load
from freezelint.fsutil import NotRegularFile, atomic_write, link_problem, read_regular

# Below this many files to parse, starting worker processes costs more than it saves
# (measured with benchmarks/pool_threshold.py; see benchmarks/README.md).
POOL_MIN_FILES = int(os.environ.get("FREEZELINT_POOL_MIN_FILES", 8))
# The default max-file-size (`max-file-size`, --max-file-size; 0: none): a larger file is not
# checked, with a note. Checking costs 8-14 us of CPU and 0.6-0.9 kB of memory per byte of dense
# source, most of it libcst's parse (measured: torch's 1.3 MB common_methods_invocations.py 11 s,
# 780 MB; a generated 20k-line 620 kB file 8 s, 540 MB; a 6.5 MB one minutes and 4.7 GB): above
# 1 MB a pre-commit run stalls. Of the corpora's 23,600 files three are larger: that one and two
# generated 1.1 MB stubs of torch's, none with a finding.
MAX_PARSE_BYTES = 1024 * 1024
# Files only CPython's parser sees (no rule's trigger admits them) go to the workers in batches
# of about this many bytes, with their bytes: one task per batch, no second read.
SYNTAX_BATCH_BYTES = 256 * 1024


@dataclass
class FileResult:
    path: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    parsed: bool = False
    cached: bool = False
    fixed: int = 0
    error: str | None = None  # a one-line problem with this file
    skipped: str | None = None  # not checked, by choice (over the max-file-size): a note, not an error
    fix_error: bool = False  # the problem is a fix that was not written (the file was checked)
    internal: str | None = None  # the problem is a bug of freezelint's: its traceback (--verbose)
    original: bytes | None = None  # only when a fix changed the file
    new: bytes | None = None
    key: str | None = None  # content key of exactly the bytes checked (None: not cacheable)
    meta: Meta | None = None  # their file's (size, mtime_ns, inode), taken before reading them

    deps: dict[str, str] = field(default_factory=dict)  # project summaries the findings used
    edges: list[str] = field(default_factory=list)  # cross-file edges the analysis used

@dataclass(frozen=True)
class RunError:
    """A file that could not be checked (or fixed): every output format carries these."""

    path: str
    message: str
    fix: bool = False  # checked, but its fix was not written (else: the file was not checked)
    traceback: str | None = None  # an internal error (a bug of freezelint's): where it was raised

    @property
    def internal(self) -> bool:
        return self.traceback is not None

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass
class RunResult:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    files: int = 0
    parsed: int = 0
    cached: int = 0
    fixed: int = 0
    errors: list[RunError] = field(default_factory=list)
    fixing: bool = False  # fixes were to be written (--fix), not only shown
    unsafe_fixes: bool = False  # --unsafe-fixes was given: the summary's hints count unsafe fixes in
    changes: list[tuple[str, bytes, bytes]] = field(default_factory=list)  # path, old, new
    docs_url: str | None = None  # the `docs-url` setting the report's links follow
    sources: dict[str, bytes] = field(default_factory=dict)  # shown path -> bytes checked, where not on disk (stdin)
    left_out: list[Skipped] = field(default_factory=list)  # files found or named but not checked, and why
    oversized: int = 0  # of those, files over the max-file-size (the summary counts them)

    project_root: str | None = None  # --show-project: the root, the cache, files summarised, edges used
    cache_dir: str | None = None  # None: --no-cache
    summarised: set[str] = field(default_factory=set)
    edges: list[str] = field(default_factory=list)
    def url(self, code: str) -> str | None:
        from freezelint.codes import docs_url

        return docs_url(code, self.docs_url)

    @property
    def skipped(self) -> int:
        return self.files - self.parsed - self.cached


def display_path(p: Path | str) -> str:
    path, cwd = str(p), os.getcwd()
    if path.startswith(cwd) and path[len(cwd):len(cwd) + 1] == os.sep:
        return path[len(cwd) + 1:]  # the common case, without relpath's normalising
    try:
        return os.path.relpath(path)
    except ValueError:
        return path


def _one_line(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return str(e).split("\n")[0] or type(e).__name__


def _unreadable(path: str, e: OSError) -> str:
    """Why a file was not checked, in one line: a link to nothing, or a FIFO or device, is named
    as such, not as a missing file or a read that would never end."""
    if isinstance(e, NotRegularFile):
        return f"not checked: {e.strerror}"
    return f"cannot read: {link_problem(path) or _one_line(e)}"


def size_limit(setting: int | None) -> int | None:
    """The byte count over which a file is not checked, from the `max-file-size` setting (None:
    the default; 0: no limit, returned as None)."""
    limit = MAX_PARSE_BYTES if setting is None else setting
    return limit or None


def too_large(size: int, limit: int, notebook: bool = False) -> str:
    """The note for a file over the max-file-size: its size (a notebook's: its cells' source), and
    how to check it anyway."""
    from freezelint.config import size_text

    wanted = -(-size // 2**20)  # whole MB, rounded up
    what = f"its cells' {size_text(size, up=True)} of source are" if notebook else f"{size_text(size, up=True)} is"
    return (f"not checked: {what} over the max-file-size of {size_text(limit)} (parsing takes about 10 s a MB); "
            f"to check it, pass --max-file-size {wanted}MB (or 0 for no limit), or set max-file-size in "
            f"[tool.freezelint]")


def _over(size: int, limit: int | None, path: str) -> bool:
    """Whether a file of `size` bytes is left out unparsed. A notebook's bytes are mostly its
    outputs (images): its cells' source is measured once loaded (`_process_notebook`)."""
    return limit is not None and size > limit and not path.endswith(".ipynb")


def _left_out(data: bytes, limit: int | None, path: str, selected: frozenset[str], parse_all: bool) -> bool:
    """Over the max-file-size, and some selected rule's trigger is in the text (what would be
    parsed): left out with a note. A large file no rule needs (a generated protobuf module) goes,
    as any such file does, to CPython's parser alone, which takes a second where libcst takes
    minutes, and no note is said of it."""
    return _over(len(data), limit, path) and (parse_all or _needs_parse(data, selected))


def _read(path: str) -> tuple[bytes, Meta]:
    """The file's bytes and its metadata taken before reading them (a save during the read
    leaves metadata that the next run will not match). Raises OSError (NotRegularFile for a FIFO,
    socket or device: never read, never waited on)."""
    data, st = read_regular(path)
    return data, meta_of(st)


def process(path: str, data: bytes | None, selected: frozenset[str], fix: str | None,
            parse_all: bool = False, keyed: bool = False, project=None,
            ask: tuple[list[str], str | None] | None = None, max_file_size: int | None = None) -> FileResult:
    """Check one file's bytes (read here when `data` is None). Runs in workers too.
    `parse_all`: parse even a file no rule's text trigger admits (explicit FZ001 / ALL).
    `keyed`: give the result the content key of the bytes read here (for the cache).
    `ask`: (names, key): no rule's trigger admitted the file when the runner read it (bytes of
    content key `key`); the project decides, from the imported names it calls, whether it is
    checked. Bytes read here under another key are judged afresh. `max_file_size`: the setting
    (None: the default; 0: no limit); a larger file is `skipped`."""
    with relaxed_gc():
        try:
            return _process(path, data, selected, fix, parse_all, keyed, project, ask, size_limit(max_file_size))
        except Exception as e:  # noqa: BLE001 — one file's bug is reported for it; the run goes on
            return _failed(path, e)


def _failed(path: str, e: Exception) -> FileResult:
    """An exception while checking (or fixing) one file: a bug of freezelint's, reported for that
    file in one line that names the rule where one raised it. Nothing is cached or written for it."""
    import traceback

    from freezelint.check.engine import RuleFailed

    where, cause = (f" in {e.code}", e.error) if isinstance(e, RuleFailed) else ("", e)
    what = f"{type(cause).__name__}: {_one_line(cause)}" if str(cause) else type(cause).__name__
    message = (f"internal error{where}: {what} (a bug in freezelint: please report it, with this file if "
               f"you can; --verbose shows the traceback)")
    return FileResult(path, error=message, internal="".join(traceback.format_exception(e)))


def _process(path: str, data: bytes | None, selected: frozenset[str], fix: str | None, parse_all: bool,
             keyed: bool, project, ask: tuple[list[str], str | None] | None, limit: int | None) -> FileResult:
    result = FileResult(path)
    if data is None:
        try:
            data, result.meta = _read(path)
        except OSError as e:
            result.error = _unreadable(path, e)
            return result
        if keyed:
            result.key = content_key(data, selected, _kind(path), parse_all)
    if _left_out(data, limit, path, selected, parse_all):  # (the runner skips these; stdin, or one grown since)
        result.skipped, result.key = too_large(len(data), limit), None
        return result
    try:
        text, encoding = prefilter.decode(data)
    except prefilter.DecodeError as e:
        if "FZ001" in selected:
            result.diagnostics = [syntax_error(path, str(e))]
        result.parsed = True
        return result
    if path.endswith(".ipynb"):
        return _process_notebook(result, text, encoding, selected, fix, parse_all, limit)
    if ask is not None:
        same = not keyed or ask[1] == result.key  # else saved since the runner read it
        # No rule's text trigger: checked only if it calls project code that freezes or trains
        # (asked here, in the worker: the answer may cost parses of the files it imports).
        if (same or not _triggered(text, selected)) and \
                (project is None or not _project_admits(project, path, text, ask[0] if same else None, selected)):
            if project is not None:
                result.deps = project.recorded()  # re-checked when one of those starts acting
            result.diagnostics = _unparsable(path, text, selected)
            return result
    # Some rule admits the file (the engine asks the project too): libcst is imported now.
    from freezelint.check import engine

    outcome = engine.check_text(text, path, selected, fix, parse_all=parse_all, project=project)
    result.diagnostics, result.parsed, result.fixed = outcome.diagnostics, outcome.parsed, outcome.fixed
    result.deps, result.edges = outcome.deps, outcome.edges
    if outcome.fix_refused:
        result.error, result.fix_error = outcome.fix_refused, True
    if outcome.new_text is not None:
        try:
            result.original, result.new = data, outcome.new_text.encode(encoding)
        except UnicodeEncodeError:
            result.error, result.fixed = f"fix not written: result cannot be encoded as {encoding}", 0
            result.fix_error = True
    return result


def _kind(path: str) -> str:
    return "ipynb" if path.endswith(".ipynb") else "py"


def _process_notebook(result: FileResult, text: str, encoding: str, selected, fix, parse_all: bool,
                      limit: int | None) -> FileResult:
    from freezelint.check import engine, notebook

    try:
        nb = notebook.load(text)
    except notebook.NotebookError as e:
        result.parsed = True
        if "FZ001" in selected:
            result.diagnostics = [engine.syntax_error(result.path, str(e))]
        return result
    size = len(nb.source.encode("utf-8", "surrogatepass"))
    if limit is not None and size > limit:
        result.skipped, result.key = too_large(size, limit, notebook=True), None
        return result
    outcome = engine.check_text(nb.source, result.path, selected, fix, parse_all=parse_all)
    result.parsed = outcome.parsed
    for d in outcome.diagnostics:
        d.cell, d.row = nb.locate(d.row)
        d.end_row = nb.locate(d.end_row)[1]
        if d.fix:
            for edit in d.fix["edits"]:
                for loc in (edit["location"], edit["end_location"]):
                    loc["row"] = nb.locate(loc["row"])[1]
    result.diagnostics = outcome.diagnostics
    if outcome.new_text is not None:
        new_json = nb.with_source(outcome.new_text)
        if new_json is None:
            result.error, result.fix_error = "fix not written: it would change the notebook's cell layout", True
        else:
            result.fixed = outcome.fixed
            result.original, result.new = text.encode(encoding), new_json.encode(encoding)
    return result


def write_source(path: Path, original: bytes, new: bytes, notebook: bool | None = None) -> str | None:
    """Replace a checked file's bytes with `new`; None on success, else why not. `new` is checked
    once more to parse (`notebook`: as notebook JSON; None: by the path's suffix), and nothing is
    written when the file no longer holds `original`, or is read-only. An ordinary file is replaced
    atomically (a temporary file renamed over it) with its mode bits and owner; a file with other
    hard links is rewritten in place, as formatters do: the rename would give this name a new
    inode and leave every other name with the old text."""
    if not _writable_source(new, str(path).endswith(".ipynb") if notebook is None else notebook):
        return "fix not written: the fixed text does not parse (a bug in freezelint: please report it)"
    try:
        st = os.stat(path)
        mode = stat.S_IMODE(st.st_mode)
        # The rename below would replace a read-only file (the directory's permission is what it
        # needs), for root even without a write bit: read-only is a choice the fix respects.
        if not mode & 0o222 or not os.access(path, os.W_OK):
            return "fix not written: the file is read-only"
        if st.st_nlink > 1:
            return _rewrite_in_place(path, original, new)
        with open(path, "rb") as f:
            if f.read() != original:
                return _CHANGED
        atomic_write(path, new, mode=mode, durable=True, owner=(st.st_uid, st.st_gid))
    except OSError as e:
        return f"fix not written: {_one_line(e)}"
    return None


_CHANGED = "fix not written: the file changed on disk while it was being checked"


def _rewrite_in_place(path: Path, original: bytes, new: bytes) -> str | None:
    """New bytes into the same inode (every hard link sees them; mode and owner stay), compared
    with what was checked through the same open file. Raises OSError."""
    with open(path, "r+b") as f:
        if f.read() != original:
            return _CHANGED
        try:
            _overwrite(f, new)
        except OSError:  # a full disk, say: the checked bytes back (they fitted), then the error
            _overwrite(f, original)
            raise
    return None


def _overwrite(f, data: bytes) -> None:
    f.seek(0)
    f.write(data)
    f.truncate()
    f.flush()
    os.fsync(f.fileno())


def _writable_source(new: bytes, notebook: bool) -> bool:
    """Whether fixed bytes still parse: the engine refuses a fix whose code does not, and this
    last look before writing holds for every writer (fixes, noqa comments) whatever it did."""
    if notebook:
        import json

        try:
            return isinstance(json.loads(new), dict)
        except ValueError:
            return False
    try:
        text, _ = prefilter.decode(new)
    except prefilter.DecodeError:
        return False
    return cpython_error("", text) is None  # as the engine asks of a fix (newer syntax libcst takes passes)


def _per_file_selected(cfg: Config, selected: frozenset[str]) -> Callable[[Path], frozenset[str]]:
    from freezelint.config import ALWAYS_REPORTED, _expand

    if not cfg.per_file_ignores:
        return lambda p: selected
    import pathspec

    specs = [(pathspec.GitIgnoreSpec.from_lines([pat]), {c for sel in sels for c in _expand(sel)} - ALWAYS_REPORTED)
             for pat, sels in cfg.per_file_ignores.items()]

    def for_path(p: Path) -> frozenset[str]:
        if not specs:
            return selected
        try:
            rel = p.relative_to(cfg.root).as_posix()
        except ValueError:
            rel = p.as_posix()
        out = set(selected)
        for spec, ignored in specs:
            if spec.match_file(rel):
                out -= ignored
        return frozenset(out)

    return for_path


def _pool_worker(task: tuple) -> FileResult:
    path, selected, fix, parse_all, keyed, project, ask, max_file_size = task
    return process(path, None, selected, fix, parse_all, keyed, project, ask, max_file_size)


def _pool_batch(tasks: list[tuple]) -> list[FileResult]:
    return [_pool_worker(t) for t in tasks]


def _syntax_batch(items: list[tuple]) -> list[FileResult]:
    """(path, bytes, selected, key, meta) of files no rule admits: CPython's parser alone."""
    return [FileResult(path, _unparsable(path, data, sel), key=key, meta=meta)
            for path, data, sel, key, meta in items]


class _Pool:
    """Worker processes started on the first submission, fed while the runner still reads files;
    results come back in submission order."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.submitted = 0  # heavy tasks submitted one by one
        self._executor = None
        self._futures: list = []

    @property
    def started(self) -> bool:
        return self._executor is not None

    def submit(self, tasks: list[tuple], batch: bool = False) -> None:
        if self._executor is None:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            import freezelint.check.engine  # noqa: F401  (loaded once, shared by forked workers)

            ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
            self._executor = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx)
        if batch:
            self._futures.append(self._executor.submit(_pool_batch, tasks))
            return
        for task in tasks:
            self._futures.append(self._executor.submit(_pool_worker, task))
        self.submitted += len(tasks)

    def submit_syntax(self, items: list[tuple]) -> None:
        self._futures.append(self._executor.submit(_syntax_batch, items))

    def results(self) -> Iterator[FileResult]:
        for f in self._futures:
            out = f.result()
            yield from (out if isinstance(out, list) else [out])

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)


RUN_DIR_PREFIX = "freezelint-run-"
STALE_RUN_DIR_S = 3600  # a run directory this old whose run is gone is a leftover


def _run_dir() -> Path | None:
    """A temporary directory the run's workers share, removed at its end (Project.run_dir): each
    project file is summarised once a run, by the first worker that needs it, not once in every
    worker (a large generated file imports tens of others, and each summary costs a parse). None
    where none can be made: each worker then summarises on its own. It names its run (`owner`:
    host and pid) so that a later run can remove it if this one is killed before its end."""
    import tempfile

    _sweep_run_dirs(Path(tempfile.gettempdir()))
    try:
        run_dir = Path(tempfile.mkdtemp(prefix=RUN_DIR_PREFIX))
    except OSError:
        return None
    try:
        (run_dir / "claims").mkdir()
        (run_dir / "owner").write_text(f"{_host()} {os.getpid()}\n")
    except OSError:
        shutil.rmtree(run_dir, ignore_errors=True)
        return None
    return run_dir


def _sweep_run_dirs(tmp: Path) -> None:
    """Remove the run directories that runs killed by a signal (SIGKILL, SIGTERM) left behind: ours
    (same user), started on this host by a process that is gone, an hour old or more. A directory
    whose run cannot be told to be gone (no `owner`, another host, a live pid) is kept."""
    import time

    now, uid = time.time(), os.getuid() if hasattr(os, "getuid") else None
    try:
        entries = [e for e in os.scandir(tmp) if e.name.startswith(RUN_DIR_PREFIX)]
    except OSError:
        return
    for entry in entries:
        try:
            st = entry.stat(follow_symlinks=False)
            if not stat.S_ISDIR(st.st_mode) or uid is not None and st.st_uid != uid:
                continue
            owner = Path(entry.path, "owner")
            if now - owner.stat().st_mtime < STALE_RUN_DIR_S:
                continue
            host, pid = owner.read_text().split()
        except (OSError, ValueError):
            continue
        if host == _host() and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(entry.path, ignore_errors=True)


def _host() -> str:
    import socket

    return "".join(socket.gethostname().split()) or "-"


def _alive(pid: int) -> bool:
    """The process exists (another user's included); unknowable counts as alive, and so does any
    on Windows, where `os.kill` would end it."""
    if os.name == "nt":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, OverflowError):
        return True
    return True


def _needs_parse(data: bytes, selected: frozenset[str]) -> bool:
    """Cheap test in the main process: could any selected rule fire on this file's text?
    Undecodable files go to `process`, which reports them."""
    try:
        text, _ = prefilter.decode(data)
    except prefilter.DecodeError:
        return True
    return _triggered(text, selected)


def _triggered(text: str, selected: frozenset[str]) -> bool:
    pattern = prefilter.trigger_pattern(selected)
    return pattern is not None and bool(pattern.search(text))


def _unparsable(path: str, source: bytes | str, selected: frozenset[str]) -> list[Diagnostic]:
    """FZ001 for a file no rule admits (libcst never sees it), from CPython's parser."""
    if "FZ001" not in selected or path.endswith(".ipynb"):
        return []
    if isinstance(source, bytes):
        try:
            source, _ = prefilter.decode(source)
        except prefilter.DecodeError as e:  # _needs_parse sends these to `process`; kept for safety
            return [syntax_error(path, str(e))]
    rejected = quick_error(path, source)
    return [rejected] if rejected is not None else []


def _configuration(cfg: Config, selected: frozenset[str], parse_all: bool) -> str:
    """Everything besides a file's bytes that decides its result (names the cache index)."""
    pfi = sorted((k, tuple(v)) for k, v in cfg.per_file_ignores.items())
    return repr((sorted(selected), pfi, str(cfg.root), parse_all))


def check_paths(paths: Iterable[str] | None = None, config: Config | None = None, *,
                fix: str | None = None, write: bool = True, force_exclude: bool = False,
                use_cache: bool = True, jobs: int | None = None,
                progress: Callable[[int, int], None] | None = None, parse_all: bool = False) -> RunResult:
    """Check files and directories (public API). `fix` is None, "safe" or "unsafe"; with
    `write=False` fixes are computed (for --diff) but not written. `parse_all` parses every file,
    also those no rule's text trigger admits (so FZ001 sees every syntax error). ValueError for
    arguments that mean nothing (a fix mode other than those, a jobs count below 1)."""
    if fix not in (None, "safe", "unsafe"):
        raise ValueError(f"fix must be None, 'safe' or 'unsafe', got {fix!r}")
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]  # one path, not its characters
    if jobs is not None and (not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1):
        raise ValueError(f"jobs must be None or an integer >= 1, got {jobs!r}")
    cfg = config or load()
    selected = cfg.selected()
    selected_for = _per_file_selected(cfg, selected)
    paths = list(paths) if paths is not None else ["."]
    discovery = Discovery(cfg, force_exclude)
    files = list(discovery.files(paths))
    run = RunResult(files=len(files), docs_url=cfg.docs_url, fixing=fix is not None and write,
                    left_out=[replace(s, path=display_path(s.path)) for s in discovery.skipped if s.level != "error"])
    run.errors += [RunError(display_path(s.path), s.why) for s in discovery.skipped if s.level == "error"]
    cache_dir = cache_dir_for(cfg, paths) if use_cache else None
    run.cache_dir = str(cache_dir) if cache_dir is not None else None
    cache = Cache(cache_dir) if cache_dir is not None and fix is None else None
    index = cache.index(_configuration(cfg, selected, parse_all)) if cache is not None else None
    from freezelint.check.project import Project  # light: no libcst until a summary is needed

    project = Project.for_paths(files, cache_dir, [str(p) for p in paths])
    project.parse_limit = size_limit(cfg.max_file_size)

    trees = _checked_trees(paths, cfg) if fix is not None else []
    written: set[str] = set()
    results: list[FileResult] = []
    # Files some rule admits, by path only: holding their bytes here would grow with the tree.
    # The worker reads them again and keys its result by the bytes it read (a file saved in
    # between is checked, and cached, as saved).
    heavy: list[tuple] = []
    asks: list[tuple] = []  # files only project code they call could admit
    syntax: list[tuple] = []  # files only CPython's parser sees, with their bytes, for the workers
    syntax_bytes = 0
    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    # Workers start as soon as enough files need parsing, and parse while this loop reads on.
    pool = _Pool(workers) if workers > 1 and len(files) >= POOL_MIN_FILES else None
    if pool is not None:
        project.run_dir = _run_dir()
    total, done = len(files), 0
    limit = size_limit(cfg.max_file_size)
    try:
        for p in files:
            path = str(p)
            sel = selected_for(p)
            if index is not None:
                try:
                    meta = meta_of(os.stat(path))
                except OSError:
                    meta = None
                found = index.lookup(path, meta) if meta is not None else None
                deps, edges = index.deps_of(path)
                if found is not None and not project.deps_current(deps):
                    found = None  # a summary its findings used has changed
                if found is not None:
                    shown = display_path(p)
                    diags = _from_cache(shown, found)
                    if diags is not None:
                        results.append(FileResult(shown, diags, cached=True, deps=deps, edges=edges))
                        continue
            try:
                data, meta = _read(path)
            except OSError as e:
                results.append(FileResult(path, error=_unreadable(path, e)))
                continue
            if _left_out(data, limit, path, sel, parse_all):
                results.append(FileResult(path, skipped=too_large(len(data), limit)))
                continue
            key = content_key(data, sel, _kind(path), parse_all) if cache is not None else None
            if cache is not None:
                known = index.key_of(path) if index is not None else None
                entry = known[1] if known is not None and known[0] == key else None
                deps, edges = index.deps_of(path) if entry is not None else ({}, [])
                if entry is None:
                    stored = cache.get(key)
                    if stored is not None and (stored.get("deps") or stored.get("edges")) \
                            and stored.get("path") != os.path.abspath(path):
                        stored = None  # what the project said of these bytes there, not here (a copy)
                    entry = stored["diagnostics"] if stored is not None else None
                    deps, edges = (stored.get("deps") or {}, stored.get("edges") or []) if stored is not None else ({}, [])
                if entry is not None and not project.deps_current(deps):
                    entry = None  # a summary its findings used has changed
                shown = display_path(p)
                diags = _from_cache(shown, entry) if entry is not None else None
                if diags is not None:
                    if index is not None:
                        index.record(path, meta, key, entry, deps, edges)
                    results.append(FileResult(shown, diags, cached=True, deps=deps, edges=edges))
                    continue
            if p.suffix == ".ipynb" or parse_all or _needs_parse(data, sel):
                # (notebooks: by cells)
                heavy.append((path, sel, fix, parse_all, cache is not None, project, None, cfg.max_file_size))
                if pool is not None and len(heavy) >= POOL_MIN_FILES:
                    pool.submit(heavy[pool.submitted:])
            elif quals := _calls_imported(project, p, data):
                # the project decides, in the workers (the answer may parse the files it imports)
                asks.append((path, sel, fix, parse_all, cache is not None, project, (quals, key), cfg.max_file_size))
            elif pool is not None and pool.started and "FZ001" in sel:
                # no selected rule could fire on this text: only CPython's parser sees it (FZ001),
                # in the workers beside the files they parse, a few hundred kB a batch
                syntax.append((path, data, sel, key, meta))
                syntax_bytes += len(data)
                if syntax_bytes >= SYNTAX_BATCH_BYTES:
                    pool.submit_syntax(syntax)
                    syntax, syntax_bytes = [], 0
            else:  # no selected rule could fire on this text: only CPython's parser sees it (FZ001)
                results.append(FileResult(path, _unparsable(path, data, sel), key=key, meta=meta))
        if syntax:
            pool.submit_syntax(syntax)
        done = len(results)
        if progress:
            progress(done, total)
        tasks = heavy + asks  # asks last: mostly quick, they even out the workers' tails
        if pool is not None and pool.started:
            chunk = max(1, min(8, len(asks) // (workers * 4)))
            for i in range(0, len(asks), chunk):
                pool.submit(asks[i:i + chunk], batch=True)
            outcomes = pool.results()
        else:
            outcomes = (_pool_worker(task) for task in tasks)
        for r in outcomes:
            results.append(r)
            done += 1
            if progress:
                progress(done, total)
    finally:
        if pool is not None:
            pool.close()
        if project.run_dir is not None:
            shutil.rmtree(project.run_dir, ignore_errors=True)
            project.run_dir = None

    for r in results:
        abs_path = os.path.abspath(r.path)
        shown = r.path if r.cached else display_path(Path(abs_path))
        for d in r.diagnostics:
            d.path = shown
        if r.skipped is not None:
            run.left_out.append(Skipped(shown, r.skipped, "note"))
            run.oversized += 1
        if cache is not None and not r.cached and r.error is None and r.skipped is None and r.key is not None:
            stored = [d.to_cache() for d in r.diagnostics]
            cache.put(r.key, {"diagnostics": stored, "parsed": r.parsed, "deps": r.deps, "edges": r.edges,
                              "path": abs_path})
            if index is not None and r.meta is not None:
                index.record(abs_path, r.meta, r.key, stored, r.deps, r.edges)
        run.summarised.update(r.deps)
        run.edges.extend(e for e in r.edges if e not in run.edges)
        run.parsed += r.parsed
        run.cached += r.cached
        if r.error:
            run.errors.append(RunError(shown, r.error, fix=r.fix_error, traceback=r.internal))
        if r.new is not None and r.original is not None:
            # Through symlinks to the real file (the link stays a link), never outside the tree.
            target = os.path.realpath(abs_path)
            if target != abs_path:
                shown_fixed = display_path(Path(target))
            else:
                shown_fixed = shown
            if write and target in written:  # a link and its target both checked: fixed once
                run.diagnostics.extend(r.diagnostics)
                continue
            if write:
                err = _outside(target, trees) or write_source(Path(target), r.original, r.new,
                                                              notebook=abs_path.endswith(".ipynb"))
                if err:
                    run.errors.append(RunError(shown, err, fix=True))
                    unfixed = process(abs_path, r.original, selected_for(Path(abs_path)), None, parse_all,
                                      project=project, max_file_size=cfg.max_file_size)
                    for d in unfixed.diagnostics:
                        d.path = shown
                    run.diagnostics.extend(unfixed.diagnostics)
                    continue
            written.add(target)
            run.fixed += r.fixed
            run.changes.append((shown_fixed, r.original, r.new))
        run.diagnostics.extend(r.diagnostics)
    if index is not None:
        index.save()
    run.diagnostics.sort(key=Diagnostic.sort_key)
    run.project_root = str(project.root)
    return run


CACHE_NAME = ".freezelint_cache"


def cache_dir_for(cfg: Config, paths: Iterable[str]) -> Path:
    """Where a run over `paths` keeps its cache: `cache-dir` (--cache-dir); else beside the
    pyproject.toml that configures freezelint, as ruff keeps its cache beside its settings; else
    in the project root of the paths: the nearest pyproject.toml or .git above their deepest common
    directory, where the editor's server keeps it. So pre-commit's run from the repository root, a
    run from a subdirectory and the editor share one cache, and a run over several projects keeps
    one, above them. Outside any project (an installed package), the working directory (the
    config's root, which is that directory when no file configures freezelint)."""
    if cfg.cache_dir is not None:
        return cfg.cache_dir
    if cfg.source is not None:
        return cfg.root / CACHE_NAME
    from freezelint.check.project import marked_root
    from freezelint.config import search_start

    root = marked_root(search_start(list(paths)) or cfg.root)
    return (root or cfg.root) / CACHE_NAME


STDIN = "-"  # the path that names stdin, and how its findings are shown without --stdin-filename


def check_stdin(data: bytes, filename: str | None = None, config: Config | None = None, *,
                fix: str | None = None, write: bool = True, force_exclude: bool = False,
                use_cache: bool = True, parse_all: bool = False) -> tuple[RunResult, bytes]:
    """Check one file's source read from stdin, as the file `filename` (None: shown as `-`, in the
    working directory): its per-file-ignores, its exclusion under `force_exclude` and its project
    are that path's, and the project's analysis reads `data` in place of the file on disk. Returns
    the run and the source to hand back: fixed, or as it came (an editor replaces its buffer with
    it, so it is never empty for a failure)."""
    if fix not in (None, "safe", "unsafe"):
        raise ValueError(f"fix must be None, 'safe' or 'unsafe', got {fix!r}")
    cfg = config or load()
    path = os.path.abspath(filename if filename is not None else STDIN)
    shown = display_path(path) if filename is not None else STDIN
    run = RunResult(files=1, docs_url=cfg.docs_url, fixing=fix is not None and write)
    if filename is not None and force_exclude and Discovery(cfg, True).excluded_file(path):
        run.files = 0  # as a file excluded under --force-exclude: not checked, handed back as it is
        return run, data
    from freezelint.check.project import Project

    cache_dir = cache_dir_for(cfg, [filename] if filename is not None else []) if use_cache else None
    run.cache_dir = str(cache_dir) if cache_dir is not None else None
    project = Project.for_paths([Path(path)], cache_dir, [filename if filename is not None else "."])
    project.parse_limit = size_limit(cfg.max_file_size)
    project.overlay = {os.path.realpath(path): data}  # these bytes are that file for every other one
    result = process(path, data, _per_file_selected(cfg, cfg.selected())(Path(path)), fix, parse_all,
                     project=project, max_file_size=cfg.max_file_size)
    for d in result.diagnostics:
        d.path = shown
    run.diagnostics = sorted(result.diagnostics, key=Diagnostic.sort_key)
    run.parsed, run.project_root = int(result.parsed), str(project.root)
    run.summarised.update(result.deps)
    run.edges = list(result.edges)
    if result.error:
        run.errors.append(RunError(shown, result.error, fix=result.fix_error, traceback=result.internal))
    if result.skipped:
        run.left_out.append(Skipped(shown, result.skipped, "note"))
        run.oversized += 1
    # the report's source lines are these bytes, not a file of that name on disk
    run.sources[shown] = result.new if result.new is not None and write else data
    if result.new is None:
        return run, data
    run.fixed = result.fixed
    run.changes.append((shown, data, result.new))
    return run, result.new


def _checked_trees(paths: Iterable[str], cfg: Config) -> list[str]:
    """Real directories a fix may write into: the project root, each directory checked and the
    directory of each file named."""
    trees = {os.path.realpath(cfg.root)}
    for raw in paths:
        p = os.path.abspath(raw)
        trees.add(os.path.realpath(p if os.path.isdir(p) else os.path.dirname(p)))
    return sorted(trees)


def _outside(target: str, trees: list[str]) -> str | None:
    """Why a fix may not be written to `target` (a symlink's real file), or None."""
    if any(target == t or target.startswith(t.rstrip(os.sep) + os.sep) for t in trees):
        return None
    return (f"fix not written: it is a link to {target}, outside the checked tree "
            f"(check that file where it lives to fix it)")


def _from_cache(shown: str, entries: list) -> list[Diagnostic] | None:
    try:
        return [Diagnostic.from_cache(shown, d) for d in entries]
    except (TypeError, KeyError):
        return None


def _calls_imported(project, path: Path, data: bytes) -> list[str]:
    """Text only: the names a file no rule's trigger admits imports and calls. Only project code
    among them that freezes or trains can make it worth checking."""
    if path.suffix != ".py" or b"import" not in data:
        return []
    try:
        return project.calls_imported(data.decode("utf-8"))
    except UnicodeDecodeError:
        return []


def _project_admits(project, path: str, text: str, quals: list[str] | None, selected: frozenset[str]) -> bool:
    """A file the text prefilter rules out may still call project code that freezes or trains, or
    drop what a project helper's `strict=False` load returns (FZ401)."""
    if not path.endswith(".py"):
        return False
    project.start_file()
    text = prefilter.as_lf(text)  # as the engine asks it
    if project.admits(path, text) if quals is None else project.admits_names(path, quals):
        return True
    if "FZ202" in selected and project.admits_held(path, text):
        return True  # a part of a project class's instance holding BatchNorm (`Model().f`), frozen
    return "FZ401" in selected and project.admits_partial(path, text)
