"""Writing files so that readers only ever see the old bytes or the new ones."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write(path: Path, data: bytes, mode: int | None = None, durable: bool = False,
                 owner: tuple[int, int] | None = None) -> None:
    """Write to a temporary file beside `path`, then rename it over `path`. Raises OSError.
    `owner`: (uid, gid) to give the new file, where we may (the replaced file's, so that a fix run
    as root, in a container, does not leave the user a file of root's they cannot write)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        if owner is not None:
            try:
                os.chown(tmp, *owner)
            except OSError:
                pass  # not ours to give (not root): the file is then the writer's, as any rewrite leaves it
        if mode is not None:
            os.chmod(tmp, mode)  # after chown, which may clear setuid/setgid bits
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
