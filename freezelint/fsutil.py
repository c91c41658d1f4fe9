"""Reading only regular files, and writing files so that readers only ever see the old bytes or the new ones."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a directory"))


class NotRegularFile(OSError):
    """A path to something other than a regular file: reading a FIFO blocks until a writer comes,
    a device may never end. `strerror` says what it is, in words."""

    def __init__(self, mode: int) -> None:
        super().__init__(errno.EINVAL, f"{kind_of(mode)}, not a regular file")


def kind_of(mode: int) -> str:
    """What a file of this st_mode is, in words ("a named pipe (FIFO)")."""
    return next((kind for test, kind in _KINDS if test(mode)), "not a regular file")


def read_regular(path: str | os.PathLike, head: int = -1) -> tuple[bytes, os.stat_result]:
    """The bytes of a regular file (through symlinks; its first `head` bytes, or all) and its fstat
    taken before reading them. Raises NotRegularFile for anything else, before opening a device,
    and without blocking on a FIFO put in its place in between (opened non-blocking, checked
    again on the open descriptor)."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise NotRegularFile(st.st_mode)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile(st.st_mode)
        f = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with f:
        return f.read(head), st


def link_problem(path: str | os.PathLike) -> str | None:
    """Why a symbolic link leads to no file, in words, or None when it is no link or leads to one."""
    if not os.path.islink(path):
        return None
    try:
        os.stat(path)
    except FileNotFoundError:
        try:
            return f"a broken symbolic link (to {os.readlink(path)}, which does not exist)"
        except OSError:
            return "a broken symbolic link"
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "a symbolic link loop (a link that leads back to itself)"
        return f"a symbolic link that cannot be followed ({e.strerror or e})"
    return None


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
