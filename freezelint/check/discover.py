"""Which files to check: `*.py`, `*.pyi`, `*.ipynb` under the paths, ruff-style exclusion.

Directories are walked without following symlinks (no loops); `.gitignore` files are honoured
at every level; `exclude` patterns are gitignore-style and match paths relative to the project
root (or to the walked path when it lies outside the project). Files named explicitly are
checked even when excluded, unless `force_exclude` is set (pre-commit passes files explicitly).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:  # pragma: no cover
    import pathspec

from freezelint.config import Config

SUFFIXES = (".py", ".pyi", ".ipynb")


class MissingPath(Exception):
    pass


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
        lines = gi.read_text(encoding="utf-8", errors="replace").splitlines()
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
        """Files to check, sorted within each directory, each once."""
        seen: set[Path] = set()
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
                for f in self._walk(p, p, ignores):
                    if f not in seen:
                        seen.add(f)
                        yield f
            else:
                if self.force_exclude and self.excluded_file(raw):
                    continue
                if p not in seen:
                    seen.add(p)
                    yield p

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

    def _walk(self, d: Path, walk_root: Path, ignores: list[_Ignore]) -> Iterator[Path]:
        own = self._gitignore(d)
        active = [*ignores, own] if own is not None else ignores
        try:
            with os.scandir(d) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            return  # unreadable directory: nothing we can list
        for entry in entries:
            path = d / entry.name
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
                is_file = entry.is_file(follow_symlinks=True) and not is_dir
            except OSError:
                continue
            if is_dir:
                if self._excluded(path, True, walk_root) or any(g.matches(path, True) for g in active):
                    continue
                yield from self._walk(path, walk_root, active)
            elif is_file and entry.name.endswith(SUFFIXES):
                if self._excluded(path, False, walk_root) or any(g.matches(path, False) for g in active):
                    continue
                yield path
