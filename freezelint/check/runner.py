"""Many files: discover -> cache -> (process pool) -> engine -> atomic fix writes.

The engine (and libcst, and the rule code) is imported only when some file misses the cache.
"""

from __future__ import annotations

import os
import stat
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import pathspec

from freezelint.check.cache import Cache
from freezelint.check.diagnostic import Diagnostic
from freezelint.check.discover import Discovery
from freezelint.config import Config, load
from freezelint.fsutil import atomic_write

# Below this many files to parse, starting worker processes costs more than it saves
# (measured with benchmarks/pool_threshold.py; see benchmarks/README.md).
POOL_MIN_FILES = int(os.environ.get("FREEZELINT_POOL_MIN_FILES", 8))
# Files this large are not parsed: libcst would need minutes and gigabytes.
MAX_PARSE_BYTES = 8 * 1024 * 1024


@dataclass
class FileResult:
    path: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    parsed: bool = False
    cached: bool = False
    fixed: int = 0
    error: str | None = None  # a one-line problem with this file
    original: bytes | None = None  # only when a fix changed the file
    new: bytes | None = None
    deps: dict[str, str] = field(default_factory=dict)  # project summaries the findings used
    edges: list[str] = field(default_factory=list)  # cross-file edges the analysis used


@dataclass
class RunResult:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    files: int = 0
    parsed: int = 0
    cached: int = 0
    fixed: int = 0
    errors: list[str] = field(default_factory=list)
    changes: list[tuple[str, bytes, bytes]] = field(default_factory=list)  # path, old, new
    project_root: str | None = None  # --show-project: the root, files summarised, edges used
    summarised: set[str] = field(default_factory=set)
    edges: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return self.files - self.parsed - self.cached


def display_path(p: Path) -> str:
    try:
        return os.path.relpath(p)
    except ValueError:
        return str(p)


def _one_line(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return str(e).split("\n")[0] or type(e).__name__


def process(path: str, data: bytes | None, selected: frozenset[str], fix: str | None,
            project=None) -> FileResult:
    """Check one file's bytes (read here when `data` is None). Runs in workers too."""
    from freezelint.check import engine

    result = FileResult(path)
    if data is None:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            result.error = f"cannot read: {_one_line(e)}"
            return result
    if len(data) > MAX_PARSE_BYTES:
        pattern = engine.trigger_pattern(selected)
        text = data.decode("utf-8", "replace")
        if pattern is not None and pattern.search(text):
            result.error = f"not checked: {len(data) / 2**20:.1f} MB is over the {MAX_PARSE_BYTES // 2**20} MB limit"
        return result
    try:
        text, encoding = engine.decode(data)
    except engine.DecodeError as e:
        if "FZ001" in selected:
            result.diagnostics = [engine.syntax_error(path, str(e))]
        result.parsed = True
        return result
    if path.endswith(".ipynb"):
        return _process_notebook(result, text, encoding, selected, fix)
    outcome = engine.check_text(text, path, selected, fix, project=project)
    result.diagnostics, result.parsed, result.fixed = outcome.diagnostics, outcome.parsed, outcome.fixed
    result.deps, result.edges = outcome.deps, outcome.edges
    if outcome.fix_refused:
        result.error = outcome.fix_refused
    if outcome.new_text is not None:
        try:
            result.original, result.new = data, outcome.new_text.encode(encoding)
        except UnicodeEncodeError:
            result.error, result.fixed = f"fix not written: result cannot be encoded as {encoding}", 0
    return result


def _process_notebook(result: FileResult, text: str, encoding: str, selected, fix) -> FileResult:
    from freezelint.check import engine, notebook

    try:
        nb = notebook.load(text)
    except notebook.NotebookError as e:
        result.parsed = True
        if "FZ001" in selected:
            result.diagnostics = [engine.syntax_error(result.path, str(e))]
        return result
    outcome = engine.check_text(nb.source, result.path, selected, fix)
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
            result.error = "fix not written: it would change the notebook's cell layout"
        else:
            result.fixed = outcome.fixed
            result.original, result.new = text.encode(encoding), new_json.encode(encoding)
    return result


def write_atomic(path: Path, original: bytes, new: bytes) -> str | None:
    """Replace the file's bytes; None on success, else why not. Keeps permissions."""
    try:
        with open(path, "rb") as f:
            if f.read() != original:
                return "fix not written: the file changed on disk while it was being checked"
        atomic_write(path, new, mode=stat.S_IMODE(os.stat(path).st_mode), durable=True)
    except OSError as e:
        return f"fix not written: {_one_line(e)}"
    return None


def _per_file_selected(cfg: Config, selected: frozenset[str]) -> Callable[[Path], frozenset[str]]:
    from freezelint.config import _expand

    specs = [(pathspec.GitIgnoreSpec.from_lines([pat]), {c for sel in sels for c in _expand(sel)})
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
    path, selected, fix, project = task
    return process(path, None, selected, fix, project)


def _needs_parse(data: bytes, selected: frozenset[str]) -> bool:
    """Cheap test in the main process: could any selected rule fire on this file's text?
    Undecodable and oversized files go to `process`, which reports them."""
    from freezelint.check import engine

    if len(data) > MAX_PARSE_BYTES:
        return True
    try:
        text, _ = engine.decode(data)
    except engine.DecodeError:
        return True
    pattern = engine.trigger_pattern(selected)
    return pattern is not None and pattern.search(text)


def check_paths(paths: Iterable[str] | None = None, config: Config | None = None, *,
                fix: str | None = None, write: bool = True, force_exclude: bool = False,
                use_cache: bool = True, jobs: int | None = None,
                progress: Callable[[int, int], None] | None = None) -> RunResult:
    """Check files and directories (public API). `fix` is None, "safe" or "unsafe"; with
    `write=False` fixes are computed (for --diff) but not written."""
    cfg = config or load()
    selected = cfg.selected()
    selected_for = _per_file_selected(cfg, selected)
    files = list(Discovery(cfg, force_exclude).files(list(paths) if paths is not None else ["."]))
    run = RunResult(files=len(files))
    cache = Cache(cfg.cache_dir or cfg.root / ".freezelint_cache") if use_cache and fix is None else None
    from freezelint.check.project import Project  # light: no libcst until a summary is needed

    project = Project.for_paths(files, (cfg.cache_dir or cfg.root / ".freezelint_cache") if use_cache else None)

    results: list[FileResult] = []
    # Files some rule admits, by path only: holding their bytes here would grow with the tree;
    # the worker reads them again (they are a small share, and the OS has them cached).
    heavy: list[tuple[str, frozenset[str], str | None]] = []
    keys: dict[str, str] = {}
    total, done = len(files), 0
    for p in files:
        shown = display_path(p)
        sel = selected_for(p)
        try:
            data = p.read_bytes()
        except OSError as e:
            results.append(FileResult(shown, error=f"cannot read: {_one_line(e)}"))
            continue
        if cache is not None:
            key = cache.key(data, sel, "ipynb" if p.suffix == ".ipynb" else "py")
            entry = cache.get(key)
            if entry is not None and not project.deps_current(entry.get("deps")):
                entry = None  # a summary its findings used has changed
            if entry is not None:
                try:
                    diags = [Diagnostic.from_cache(shown, d) for d in entry["diagnostics"]]
                except (TypeError, KeyError):
                    diags = None
                if diags is not None:
                    results.append(FileResult(shown, diags, cached=True, deps=entry.get("deps") or {},
                                              edges=entry.get("edges") or []))
                    continue
            keys[str(p)] = key
        if p.suffix == ".ipynb" or _needs_parse(data, sel) or _project_admits(project, p, data):
            heavy.append((str(p), sel, fix, project))  # notebooks: decided on their cells
        else:
            results.append(FileResult(str(p)))  # no selected rule could fire on this text
    done = len(results)
    if progress:
        progress(done, total)
    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    if workers > 1 and len(heavy) >= POOL_MIN_FILES:
        import multiprocessing as mp

        ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
        import freezelint.check.engine  # noqa: F401  (loaded once, shared by forked workers)

        chunk = max(1, min(8, len(heavy) // (workers * 4)))
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            for r in pool.map(_pool_worker, heavy, chunksize=chunk):
                results.append(r)
                done += 1
                if progress:
                    progress(done, total)
    else:
        for task in heavy:
            results.append(_pool_worker(task))
            done += 1
            if progress:
                progress(done, total)

    for r in results:
        abs_path = os.path.abspath(r.path)
        shown = r.path if r.cached else display_path(Path(abs_path))
        for d in r.diagnostics:
            d.path = shown
        if cache is not None and not r.cached and r.error is None and abs_path in keys:
            cache.put(keys[abs_path], {"diagnostics": [d.to_cache() for d in r.diagnostics],
                                       "parsed": r.parsed, "deps": r.deps, "edges": r.edges})
        run.summarised.update(r.deps)
        run.edges.extend(e for e in r.edges if e not in run.edges)
        run.parsed += r.parsed
        run.cached += r.cached
        if r.error:
            run.errors.append(f"{shown}: {r.error}")
        if r.new is not None and r.original is not None:
            if write:
                err = write_atomic(Path(abs_path), r.original, r.new)
                if err:
                    run.errors.append(f"{shown}: {err}")
                    unfixed = process(abs_path, r.original, selected_for(Path(abs_path)), None, project)
                    for d in unfixed.diagnostics:
                        d.path = shown
                    run.diagnostics.extend(unfixed.diagnostics)
                    continue
            run.fixed += r.fixed
            run.changes.append((shown, r.original, r.new))
        run.diagnostics.extend(r.diagnostics)
    run.diagnostics.sort(key=Diagnostic.sort_key)
    run.project_root = str(project.root)
    return run


def _project_admits(project, path: Path, data: bytes) -> bool:
    """A file the text prefilter rules out may still call project code that freezes or trains."""
    if path.suffix != ".py" or b"import" not in data or len(data) > MAX_PARSE_BYTES:
        return False
    try:
        return project.admits(str(path), data.decode("utf-8"))
    except UnicodeDecodeError:
        return False

