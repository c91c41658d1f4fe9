"""Which files to check: `*.py`, `*.pyi`, `*.ipynb` under the paths, ruff-style exclusion.

Directories are walked without following symlinks (no loops); `.gitignore` files are honoured
at every level; `exclude` patterns are gitignore-style and match paths relative to the project
root (or to the walked path when it lies outside the project). Files named explicitly are
checked even when excluded, unless `force_exclude` is set (pre-commit passes files explicitly).

A walk checks regular files only: a `*.py` that is a broken symbolic link, a link loop, a FIFO, a
socket or a device is skipped and listed in `skipped` (a FIFO would block the read for ever).
A file named explicitly is read as Python whatever its suffix (a script without one is Python),
unless its suffix or name is of a known other kind (README.md, pyproject.toml, Makefile), its
`#!` line names another interpreter, or its bytes are binary (a NUL byte in the first 8 kB):
`freezelint check *` in a project root checks the Python files only, and lists the others in
`skipped`.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:  # pragma: no cover
    import pathspec

from freezelint.check.prefilter import wide_bom
from freezelint.config import Config
from freezelint.fsutil import kind_of, link_problem, read_regular

SUFFIXES = (".py", ".pyi", ".ipynb")

# Files named explicitly that are not read as Python: documentation, configuration and data,
# other languages, binaries. A suffix not listed (or none) is read as Python, as ruff does.
NOT_PYTHON_SUFFIXES = frozenset({
    ".md", ".markdown", ".rst", ".txt", ".adoc", ".org", ".tex", ".html", ".htm", ".css", ".xml",
    ".svg", ".pdf", ".toml", ".cfg", ".ini", ".conf", ".json", ".jsonl", ".yaml", ".yml", ".lock",
    ".csv", ".tsv", ".env", ".in", ".mk", ".cmake", ".dockerfile", ".sh", ".bash", ".zsh", ".fish",
    ".bat", ".cmd", ".ps1", ".c", ".h", ".cc", ".cpp", ".cxx", ".hpp", ".cu", ".cuh", ".rs", ".go",
    ".js", ".ts", ".java", ".sql", ".r", ".lua", ".pyx", ".pxd", ".pxi", ".pyc", ".pyo", ".so", ".dll",
    ".dylib", ".whl", ".egg", ".zip", ".gz", ".tgz", ".tar", ".bz2", ".xz", ".7z", ".pt", ".pth",
    ".ckpt", ".bin", ".safetensors", ".onnx", ".npy", ".npz", ".pkl", ".pickle", ".h5", ".hdf5",
    ".parquet", ".arrow", ".db", ".sqlite", ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".ico", ".webp",
    ".mp3", ".mp4", ".wav", ".log", ".patch", ".diff",
})
NOT_PYTHON_NAMES = frozenset({
    "license", "licence", "copying", "notice", "authors", "contributors", "changelog", "changes",
    "readme", "makefile", "gnumakefile", "dockerfile", "containerfile", "jenkinsfile", "procfile",
    "gemfile", "vagrantfile", "codeowners", "manifest",
})
# How much of a file named explicitly, without a Python suffix, is read to tell what it is (git's 8000).
SNIFF_BYTES = 8192
# Interpreters a `#!` line may name that do not run Python (any other is taken for Python's).
OTHER_INTERPRETERS = frozenset({
    "sh", "bash", "zsh", "dash", "ksh", "fish", "csh", "tcsh", "node", "deno", "bun", "perl", "ruby",
    "php", "lua", "awk", "make", "Rscript",
})


class MissingPath(Exception):
    pass


@dataclass(frozen=True)
class Skipped:
    """A file not checked, and why in words. `level`: "note" for a file of another kind named on
    the command line; "warning" for a link to nothing or a FIFO met in a directory walk; "error"
    for one named on the command line (the run reports it as a file it could not check)."""

    path: str
    why: str
    level: str


def not_python(p: Path) -> str | None:
    """Why a file named explicitly is not read as Python, or None to read it."""
    name = p.name.lower()
    if name.endswith(SUFFIXES):
        return None
    suffix = os.path.splitext(name)[1]
    if suffix in NOT_PYTHON_SUFFIXES:
        return f"{suffix} files are not Python"
    if name in NOT_PYTHON_NAMES:
        return f"{p.name} is not Python"
    try:
        head = read_regular(p, SNIFF_BYTES)[0]
    except OSError:
        return None  # the run says why it cannot be read
    # as git tells binary from text: no source holds one (a `.py` that does gets FZ001, as does
    # UTF-16 text, whose FZ001 says to save it as UTF-8)
    if b"\0" in head and not wide_bom(head):
        return "a binary file (a NUL byte in its first 8 kB), not Python"
    interpreter = _interpreter(head)
    if interpreter in OTHER_INTERPRETERS:
        return f"a {interpreter} script (its #! line), not Python"
    return None


def _interpreter(head: bytes) -> str | None:
    """The program a `#!` first line runs (`env`'s argument), or None."""
    if not head.startswith(b"#!"):
        return None
    words = head[2:].split(b"\n")[0].decode("utf-8", "replace").split()
    if words and os.path.basename(words[0]) == "env":
        words = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
    return os.path.basename(words[0]) if words else None


def _unreadable(p: Path) -> str | None:
    """Why a file named explicitly cannot be checked (a link to nothing, a FIFO, a device), or None.
    Decided here, before any part of the run resolves its path (a link loop raises there)."""
    mode = _mode(p)
    if isinstance(mode, str):
        return f"cannot read: {mode}"
    return None if stat.S_ISREG(mode) else f"not checked: {kind_of(mode)}, not a regular file"


def _mode(p: Path) -> int | str:
    """The file mode of what `p` leads to, or why there is none (a link to nothing, a link loop)."""
    problem = link_problem(p)
    if problem is not None:
        return problem
    try:
        return os.stat(p).st_mode
    except OSError as e:
        return e.strerror or str(e)


def _not_a_file(path: Path) -> str | None:
    """Why a `*.py` met in a walk that is no regular file is skipped, or None for a link to a
    directory (links are not followed in a walk: that is the rule, not a problem)."""
    mode = _mode(path)
    if isinstance(mode, str):
        return mode
    return None if stat.S_ISDIR(mode) else f"{kind_of(mode)}, not a regular file"


def _links_in(p: Path) -> int:
    """How many of the path's components are symbolic links (asked only of a file met twice)."""
    return sum(os.path.islink(q) for q in (p, *p.parents))


def _unlistable(d: Path) -> str | None:
    """Why a directory named on the command line cannot be listed, or None."""
    try:
        with os.scandir(d):
            return None
    except OSError as e:
        return _directory_error(e)


def _directory_error(e: OSError) -> str:
    if isinstance(e, PermissionError):
        return "permission denied (a directory that cannot be listed)"
    if isinstance(e, FileNotFoundError):
        return "the directory no longer exists (removed during the run)"
    return f"a directory that cannot be listed ({e.strerror or e})"


@dataclass
class _Ignore:
    base: Path
    spec: pathspec.PathSpec

    def matches(self, path: Path, is_dir: bool) -> bool:
        rel = _relative(str(path), str(self.base))
        if rel is None:
            return False
        return self.spec.match_file(rel + "/" if is_dir else rel)


def _relative(path: str, base: str) -> str | None:
    """`Path(path).relative_to(base).as_posix()` for normalised absolute paths, or None when
    `path` is not under `base`: string work, as this runs for every file of the tree."""
    if path == base:
        return "."
    prefix = base if base.endswith(os.sep) else base + os.sep
    if not path.startswith(prefix):
        return None
    rel = path[len(prefix):]
    return rel.replace(os.sep, "/") if os.sep != "/" else rel


def _read_gitignore(directory: Path) -> _Ignore | None:
    gi = directory / ".gitignore"
    try:
        lines = read_regular(gi)[0].decode("utf-8", errors="replace").splitlines()
    except OSError:
        return None
    import pathspec

    return _Ignore(directory, pathspec.GitIgnoreSpec.from_lines(lines)) if lines else None


def _git_root(start: Path) -> Path | None:
    for d in [start, *start.parents]:
        if (d / ".git").exists():
            return d
    return None


class Discovery:
    def __init__(self, config: Config, force_exclude: bool = False) -> None:
        self.config = config
        self.force_exclude = force_exclude
        self._root = str(config.root)
        self._gitignore_cache: dict[Path, _Ignore | None] = {}
        self.skipped: list[Skipped] = []  # filled as files() is consumed

    @cached_property
    def exclude(self) -> pathspec.GitIgnoreSpec:
        """Compiled on first use: a run on named files (pre-commit without --force-exclude)
        never needs it, nor the pathspec import."""
        import pathspec

        return pathspec.GitIgnoreSpec.from_lines(self.config.all_excludes())

    @cached_property
    def _names(self) -> frozenset[str] | None:
        """The exclude patterns when all are bare names (the default list): a bare name matches a
        file or directory of that name at any depth, and everything under such a directory, so
        a path's parts decide without pathspec (its import and a regex per file)."""
        patterns = self.config.all_excludes()
        if all(p and p.strip() == p and not any(c in p for c in "/*?[]!\\#") for p in patterns):
            return frozenset(patterns)
        return None

    def _match(self, text: str) -> bool:
        """`text`: a path relative to the root, `/`-separated, `/`-terminated for a directory."""
        if self._names is not None:
            return any(part in self._names for part in text.split("/"))
        return self.exclude.match_file(text)

    def _gitignore(self, d: Path) -> _Ignore | None:
        if d not in self._gitignore_cache:
            self._gitignore_cache[d] = _read_gitignore(d) if self.config.respect_gitignore else None
        return self._gitignore_cache[d]

    def _ancestor_ignores(self, start: Path) -> list[_Ignore]:
        """`.gitignore` files from the repository root down to `start` (exclusive)."""
        if not self.config.respect_gitignore:
            return []
        root = _git_root(start)
        if root is None:
            return []
        chain = [start, *start.parents]
        dirs = chain[1: chain.index(root) + 1] if root in chain else []
        return [g for d in reversed(dirs) if (g := self._gitignore(d)) is not None]

    def _excluded(self, path: Path, is_dir: bool, walk_root: Path) -> bool:
        text = _relative(str(path), self._root)
        if text is None:
            text = _relative(str(path), str(walk_root.parent))
        if text is None:
            text = path.name
        return self._match(text + "/" if is_dir else text)

    def files(self, paths: list[str]) -> Iterator[Path]:
        """Files to check, sorted within each directory, each once: a file reached under several
        names (a link to a directory that `check *` names beside its target, a link to a file, two
        overlapping paths) is checked once, under the name with the fewest symbolic links in it
        (the link-free one), or of those the one met first, as ruff reports it once."""
        found: dict[str, int] = {}  # real path -> its place in `out`
        out: list[Path] = []
        for p, real in self._found(paths):
            at = found.get(real)
            if at is None:
                found[real] = len(out)
                out.append(p)
            elif p != out[at] and _links_in(p) < _links_in(out[at]):
                out[at] = p
        yield from out

    def _found(self, paths: list[str]) -> Iterator[tuple[Path, str]]:
        """Every file the paths name or hold, with its real path; a file reached twice as often."""
        for raw in paths:
            p = Path(os.path.abspath(raw))
            if not os.path.lexists(p):
                raise MissingPath(raw)
            if p.is_dir():
                ignores = self._ancestor_ignores(p)
                if self._is_excluded_explicit(p, True, ignores):
                    if self.force_exclude:
                        continue
                    # Named explicitly though ignored (a package inside an ignored virtualenv,
                    # say): check it, honouring only the .gitignore files inside it.
                    ignores = []
                if (why := _unlistable(p)) is not None:
                    self.skipped.append(Skipped(str(p), f"cannot read: {why}", "error"))
                    continue
                yield from self._walk(p, p, ignores, os.path.realpath(p))
            else:
                if self.force_exclude and self.excluded_file(raw):
                    continue
                problem = _unreadable(p)
                if problem is not None:
                    self.skipped.append(Skipped(str(p), problem, "error"))
                    continue
                why = not_python(p)
                if why is not None:
                    self.skipped.append(Skipped(str(p), f"not checked: {why}", "note"))
                    continue
                yield p, os.path.realpath(p)

    def excluded_file(self, raw: str) -> bool:
        """Whether a file named explicitly is left out under `--force-exclude`, decided from its
        path alone: it need not exist (an editor's new, unsaved file)."""
        p = Path(os.path.abspath(raw))
        return self._is_excluded_explicit(p, False, self._ancestor_ignores(p))

    def _is_excluded_explicit(self, p: Path, is_dir: bool, ignores: list[_Ignore]) -> bool:
        if self._excluded(p, is_dir, p):
            return True
        # Any excluded ancestor inside the project excludes the path too (`build/x.py`).
        try:
            rel_parts = p.relative_to(self.config.root).parts
        except ValueError:
            rel_parts = ()
        for i in range(1, len(rel_parts)):
            if self._match("/".join(rel_parts[:i]) + "/"):
                return True
        return any(g.matches(p, is_dir) for g in ignores)

    def _walk(self, d: Path, walk_root: Path, ignores: list[_Ignore], real_d: str) -> Iterator[tuple[Path, str]]:
        """The files under `d` with their real paths (`real_d` is d's: a walk follows no link to a
        directory, so only a link to a file needs resolving)."""
        own = self._gitignore(d)
        active = [*ignores, own] if own is not None else ignores
        try:
            with os.scandir(d) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:  # unreadable, or gone since its parent was listed: said, the run goes on
            if d != walk_root:
                self.skipped.append(Skipped(str(d), f"skipped: {_directory_error(e)}", "warning"))
            return
        for entry in entries:
            path = d / entry.name
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
                is_file = entry.is_file(follow_symlinks=True) and not is_dir
            except OSError:  # a link loop
                is_dir = is_file = False
            if is_dir:
                if self._excluded(path, True, walk_root) or any(g.matches(path, True) for g in active):
                    continue
                yield from self._walk(path, walk_root, active, os.path.join(real_d, entry.name))
            elif entry.name.endswith(SUFFIXES):
                if self._excluded(path, False, walk_root) or any(g.matches(path, False) for g in active):
                    continue
                if is_file:
                    yield path, (os.path.realpath(path) if entry.is_symlink()
                                 else os.path.join(real_d, entry.name))
                elif (why := _not_a_file(path)) is not None:
                    self.skipped.append(Skipped(str(path), f"skipped: {why}", "warning"))
