"""Where a notebook finding sits in the .ipynb file itself, for the formats that point into
files (GitHub annotations, SARIF, JUnit): a finding's row counts within its cell, but those
tools read the row as a line of the notebook's JSON. Each source line of a cell is a JSON string,
and a JSON string never spans lines, so the line that holds it is where the finding is.
"""

from __future__ import annotations

import bisect
import json
import json.decoder
import json.scanner
import os
from functools import lru_cache


class _At(str):
    """A JSON string value that knows the line of the file it was read from."""

    line: int


def _positioned(text: str):
    """`json.loads(text)` whose string values are `_At`s (the pure-Python scanner: only it lets
    the string parser be replaced)."""
    starts = [0]
    starts.extend(i + 1 for i, ch in enumerate(text) if ch == "\n")
    decoder = json.JSONDecoder()

    def parse_string(s: str, end: int, strict: bool = True):
        value, after = json.decoder.scanstring(s, end, strict)
        out = _At(value)
        out.line = bisect.bisect_right(starts, end)
        return out, after

    decoder.parse_string = parse_string
    decoder.scan_once = json.scanner.py_make_scanner(decoder)
    return decoder.decode(text)


def _cells(path: str) -> list | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return _cells_of(path, st.st_size, st.st_mtime_ns, st.st_ino)


@lru_cache(maxsize=32)
def _cells_of(path: str, *stamp: int) -> list | None:
    """The notebook's cells, read once per version of the file (`stamp`)."""
    try:
        with open(path, "rb") as f:
            return _cells_in(f.read())
    except OSError:
        return None


def _cells_in(data: bytes) -> list | None:
    from freezelint.check.prefilter import DecodeError, decode

    try:
        text, _ = decode(data)
        cells = _positioned(text)["cells"]
    except (DecodeError, ValueError, KeyError, TypeError):
        return None
    return cells if isinstance(cells, list) else None


def file_line(path: str, cell: int, row: int, sources: dict[str, bytes] | None = None) -> int | None:
    """The line of the .ipynb file that holds row `row` of cell `cell` (both 1-based), or None
    when the file no longer reads as that notebook. `sources`: the bytes checked for paths not
    read from disk (a notebook from stdin), as the run holds them."""
    data = (sources or {}).get(path)
    cells = _cells(path) if data is None else _cells_in(data)
    if cells is None or not 0 < cell <= len(cells) or not isinstance(cells[cell - 1], dict):
        return None
    source = cells[cell - 1].get("source")
    parts = [source] if isinstance(source, str) else source
    if not isinstance(parts, list):
        return None
    seen = 0  # source lines before this part
    for part in parts:
        if not isinstance(part, _At):
            return None
        seen += part.count("\n") + (0 if part.endswith("\n") else 1)
        if row <= seen:
            return part.line
    return None
