"""Results cached per file content, selected codes and version in `.freezelint_cache/`.

Entries are written atomically (temp file + rename), so concurrent runs sharing a directory
only ever see whole entries; an entry that fails to load is ignored and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from freezelint import __version__
from freezelint.fsutil import atomic_write

_TAG = "Signature: 8a477f597d28d172789f06886806bc55\n# freezelint cache (https://bford.info/cachedir/)\n"


class Cache:
    def __init__(self, directory: Path) -> None:
        self.dir = directory / f"v{__version__}"
        self._ready = False

    def key(self, data: bytes, selected: frozenset[str], kind: str) -> str:
        """Content, file kind, selected codes and version: anything that changes the result."""
        h = hashlib.blake2b(data, digest_size=20)
        h.update(f"\0{kind}\0{','.join(sorted(selected))}\0{__version__}".encode())
        return h.hexdigest()

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
        target = self._path(key)
        try:
            if not self._ready:
                self._init_dir()
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(target, json.dumps(entry, separators=(",", ":")).encode())
        except OSError:
            pass  # a cache we cannot write is only a slower run

    def _init_dir(self) -> None:
        root = self.dir.parent
        root.mkdir(parents=True, exist_ok=True)
        for name, text in (("CACHEDIR.TAG", _TAG), (".gitignore", "*\n")):
            p = root / name
            if not p.exists():
                try:
                    p.write_text(text)
                except OSError:
                    pass
        self._ready = True
