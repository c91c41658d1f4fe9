"""Results cached in `.freezelint_cache/`: per file content, and an index by file metadata.

Two layers. Entries keyed by content (`content_key`: the bytes, file kind, selected codes, whether
every file is parsed, and a digest of freezelint's own checker code) survive moves and copies, where
the file alone decided them: one that other files of the project decided (it has dependencies)
serves only its own path, since a copy elsewhere is another file to them.
The index (one file per configuration) maps a path's (size, mtime_ns, inode) to the content key
and findings seen for those bytes, so a warm re-check of unchanged files stats them and reads
nothing else; a file whose metadata changed falls back to its content key. Metadata recorded
within `RACY_NS` of the run that recorded it is not trusted (a save in the same clock tick could
keep size and mtime), as git treats its "racily clean" entries.

Everything is written atomically (temp file + rename), so concurrent runs sharing a directory
only ever see whole files; a file that fails to load is ignored and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from freezelint import __version__
from freezelint.check.prefilter import source_digest
from freezelint.fsutil import atomic_write

_TAG = "Signature: 8a477f597d28d172789f06886806bc55\n# freezelint cache (https://bford.info/cachedir/)\n"
RACY_NS = 2_000_000_000  # coarser than any file system's mtime tick (FAT: 2 s)

Meta = tuple[int, int, int]  # size, mtime_ns, inode


def content_key(data: bytes, selected: frozenset[str], kind: str, parse_all: bool = False) -> str:
    """Everything that decides a file's result: its bytes, kind, the selected codes, whether
    files without freezing vocabulary are parsed, and freezelint's own code."""
    h = hashlib.blake2b(data, digest_size=20)
    h.update(f"\0{kind}\0{','.join(sorted(selected))}\0{int(parse_all)}\0{__version__}\0{source_digest()}".encode())
    return h.hexdigest()


def meta_of(st: os.stat_result) -> Meta:
    return st.st_size, st.st_mtime_ns, st.st_ino


def mark_cache_dir(root: Path) -> None:
    """Create the cache directory with a `.gitignore` of `*` (git status stays clean, as ruff's
    cache keeps it) and a CACHEDIR.TAG (backup tools skip it). Raises OSError where it cannot be made."""
    root.mkdir(parents=True, exist_ok=True)
    for name, text in (("CACHEDIR.TAG", _TAG), (".gitignore", "*\n")):
        p = root / name
        if not p.exists():
            try:
                p.write_text(text)
            except OSError:
                pass


class Cache:
    def __init__(self, directory: Path) -> None:
        self.dir = directory / f"v{__version__}"
        self._ready = False

    def key(self, data: bytes, selected: frozenset[str], kind: str, parse_all: bool = False) -> str:
        return content_key(data, selected, kind, parse_all)

    def _path(self, key: str) -> Path:
        return self.dir / key[:2] / key

    def get(self, key: str) -> dict | None:
        try:
            with open(self._path(key), "rb") as f:
                entry = json.loads(f.read())
        except (OSError, ValueError):
            return None
        if not isinstance(entry, dict) or not isinstance(entry.get("diagnostics"), list):
            return None
        return entry

    def put(self, key: str, entry: dict) -> None:
        self._write(self._path(key), json.dumps(entry, separators=(",", ":")).encode())

    def _write(self, target: Path, data: bytes) -> None:
        try:
            if not self._ready:
                self._init_dir()
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(target, data)
        except OSError:
            pass  # a cache we cannot write is only a slower run

    def _init_dir(self) -> None:
        mark_cache_dir(self.dir.parent)
        self._ready = True

    def index(self, configuration: str) -> Index:
        """The metadata index for one configuration (a string naming everything besides a
        file's bytes that decides its result)."""
        name = hashlib.blake2b(f"{configuration}\0{source_digest()}".encode(), digest_size=12).hexdigest()
        return Index(self, self.dir / f"index-{name}.json")


class Index:
    """path -> [size, mtime_ns, inode, content key, trusted, diagnostics, project deps, edges] (see
    the module doc)."""

    def __init__(self, cache: Cache, path: Path) -> None:
        self.cache, self.path = cache, path
        self.started = time.time_ns()  # before any file of this run is stat'ed
        self.changed = False
        try:
            with open(path, "rb") as f:
                data = json.loads(f.read())
            self.entries: dict[str, list] = data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            self.entries = {}

    def lookup(self, path: str, meta: Meta) -> list[dict] | None:
        """Cached diagnostics when the file's metadata is the trusted one recorded, else None."""
        e = self.entries.get(path)
        if (isinstance(e, list) and len(e) >= 6 and e[4] is True and e[0] == meta[0] and e[1] == meta[1]
                and e[2] == meta[2] and isinstance(e[5], list)):
            return e[5]
        return None

    def key_of(self, path: str) -> tuple[str, list[dict]] | None:
        """The content key and diagnostics recorded for this path, whatever its metadata."""
        e = self.entries.get(path)
        if isinstance(e, list) and len(e) >= 6 and isinstance(e[3], str) and isinstance(e[5], list):
            return e[3], e[5]
        return None

    def deps_of(self, path: str) -> tuple[dict, list]:
        """The project summaries (path -> digest) and cross-file edges the recorded findings used:
        the findings stand only while those summaries do."""
        e = self.entries.get(path)
        if isinstance(e, list) and len(e) == 8 and isinstance(e[6], dict) and isinstance(e[7], list):
            return e[6], e[7]
        return {}, []

    def record(self, path: str, meta: Meta, key: str, diagnostics: list[dict], deps: dict | None = None,
               edges: list | None = None) -> None:
        trusted = meta[1] + RACY_NS < self.started
        entry = [meta[0], meta[1], meta[2], key, trusted, diagnostics, deps or {}, edges or []]
        if self.entries.get(path) != entry:
            self.entries[path] = entry
            self.changed = True

    def save(self) -> None:
        if self.changed:
            self.cache._write(self.path, json.dumps(self.entries, separators=(",", ":")).encode())
            self.changed = False
