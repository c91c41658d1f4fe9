"""Jupyter notebooks: code cells checked as one module, magics masked, fixes written per cell.

Cells are joined in order so that imports in an early cell resolve names in later ones. Each
IPython magic line (`%time`, `!pip`, `x = !ls`, `obj?`) becomes `pass` at the same indentation,
and a `%%` cell magic masks its whole cell, so every other line keeps its row and can be mapped
back to (cell, row). Only a line that starts a logical line can be a magic: a line continuing an
open bracket, string or backslash (`    != b)`, `    % n)`) is code. A cell that still does not
parse once its magics are masked (IPython syntax we do not know) is left out of the check, whole,
rather than reported as a syntax error of the notebook. Cells are numbered from 1 across the
whole notebook, as Jupyter shows them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from freezelint.check.cpython_parse import parses

_MAGIC = re.compile(r"^\s*(?:[%!]|\?\?|\?)|^[^#'\"]*=\s*[%!]|^\s*[\w.]+\?{1,2}\s*$")


class NotebookError(Exception):
    """Not a notebook we can read: one line for the user."""


@dataclass
class _Cell:
    index: int  # position in nb["cells"]
    number: int  # 1-based, as shown to the user
    lines: list[str]  # original lines, each ending in "\n" except maybe the last
    masked: list[bool]
    start: int  # first row of this cell in the virtual source (1-based)


@dataclass
class Notebook:
    data: dict
    raw: str
    cells: list[_Cell]
    source: str  # the virtual Python module

    def locate(self, row: int) -> tuple[int, int]:
        """Virtual row -> (cell number, row within the cell)."""
        for cell in reversed(self.cells):
            if row >= cell.start:
                return cell.number, row - cell.start + 1
        return 1, row

    def with_source(self, new_source: str) -> str | None:
        """Notebook JSON text with the changed cells replaced, or None if lines do not line up."""
        new_lines = new_source.splitlines(keepends=True)
        if len(new_lines) != sum(len(c.lines) for c in self.cells):
            return None
        changed = False
        for cell in self.cells:
            chunk = new_lines[cell.start - 1: cell.start - 1 + len(cell.lines)]
            out = []
            for orig, new, masked in zip(cell.lines, chunk, cell.masked):
                line = orig if masked else new
                if not orig.endswith("\n"):
                    line = line.rstrip("\n")
                out.append(line)
            if out != cell.lines:
                changed = True
                src = self.data["cells"][cell.index].get("source")
                self.data["cells"][cell.index]["source"] = out if isinstance(src, list) else "".join(out)
        if not changed:
            return None
        return _dump(self.data, self.raw)


def _indent_of(raw: str) -> int | None:
    m = re.search(r"\n( +)\"", raw)
    return len(m.group(1)) if m else None


def _dump(data: dict, raw: str) -> str:
    ascii_only = raw.isascii()
    text = json.dumps(data, indent=_indent_of(raw), ensure_ascii=ascii_only)
    return text + "\n" if raw.endswith("\n") else text


def _masked_line(line: str, masked: bool) -> str:
    body = line if line.endswith("\n") else line + "\n"
    if not masked:
        return body
    return f"{body[: len(body) - len(body.lstrip())]}pass\n"



def _magic_lines(lines: list[str]) -> list[bool]:
    """Which lines are IPython magics: those that start a logical line and look like one."""
    masked: list[bool] = []
    depth, triple, continued = 0, None, False
    for line in lines:
        starts = depth == 0 and triple is None and not continued
        is_magic = starts and bool(_MAGIC.match(line))
        masked.append(is_magic)
        if is_magic:
            continued = False
            continue
        depth, triple, continued = _scan(line, depth, triple)
    return masked


def _scan(line: str, depth: int, triple: str | None) -> tuple[int, str | None, bool]:
    """Bracket depth, open triple-quoted string, and backslash continuation after `line`."""
    i, n = 0, len(line)
    while i < n:
        if triple is not None:
            end = line.find(triple, i)
            while end > 0 and _escaped(line, end):
                end = line.find(triple, end + 1)
            if end < 0:
                return depth, triple, False
            i, triple = end + 3, None
            continue
        c = line[i]
        if c == "#":
            break
        if c in "\"'":
            if line.startswith(c * 3, i):
                triple, i = c * 3, i + 3
                continue
            end = line.find(c, i + 1)
            while end > 0 and _escaped(line, end):
                end = line.find(c, end + 1)
            i = n if end < 0 else end + 1
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth = max(0, depth - 1)
        i += 1
    continued = triple is None and line.rstrip("\r\n").endswith("\\") and "#" not in line
    return depth, triple, continued


def _escaped(line: str, at: int) -> bool:
    """Whether the character at `at` is escaped by an odd run of backslashes."""
    k = at - 1
    while k >= 0 and line[k] == "\\":
        k -= 1
    return (at - 1 - k) % 2 == 1


def load(text: str) -> Notebook:
    try:
        data = json.loads(text)
    except ValueError as e:
        raise NotebookError(f"invalid notebook JSON: {e}") from None
    _cell_list(data)
    cells: list[_Cell] = []
    parts: list[str] = []
    row = 1
    for i, cell in enumerate(data["cells"]):
        text_src = _cell_source(cell, i + 1)
        if cell["cell_type"] != "code":
            continue
        lines = text_src.splitlines(keepends=True)
        if not lines:
            continue
        whole_cell_magic = lines[0].lstrip().startswith("%%")
        masked = [True] * len(lines) if whole_cell_magic else _magic_lines(lines)
        bodies = [_masked_line(line, m) for line, m in zip(lines, masked)]
        if any(masked) and not whole_cell_magic and not parses("".join(bodies)):
            masked = [True] * len(lines)  # magics we could not mask: the cell is left out
            bodies = ["pass\n"] * len(lines)
        parts.extend(bodies)
        cells.append(_Cell(i, i + 1, lines, masked, row))
        row += len(lines)
    return Notebook(data, text, cells, "".join(parts))


def _cell_list(data) -> list:
    """The notebook's list of cells (nbformat 4). NotebookError, in words, for JSON of another
    shape: checking what we cannot read would pass it silently."""
    if not isinstance(data, dict):
        raise NotebookError(f"not a notebook: the JSON is {_a(data)}, not an object with a `cells` list")
    if "cells" not in data and isinstance(data.get("worksheets"), list):
        raise NotebookError("a notebook in the old nbformat 3 layout (`worksheets`), which freezelint does not "
                            "read: convert it with `jupyter nbconvert --to notebook --nbformat 4`")
    if "cells" not in data:
        raise NotebookError("not a notebook: no `cells` list")
    if not isinstance(data["cells"], list):
        raise NotebookError(f"not a notebook: `cells` is {_a(data['cells'])}, not a list")
    return data["cells"]


def _cell_source(cell, number: int) -> str:
    """A cell's source text, of any cell type; NotebookError where the cell is malformed (Jupyter
    itself refuses to open such a notebook)."""
    if not isinstance(cell, dict):
        raise NotebookError(f"cell {number} is {_a(cell)}, not an object")
    if "cell_type" not in cell:
        raise NotebookError(f"cell {number} has no `cell_type` (\"code\", \"markdown\", ...)")
    if not isinstance(cell["cell_type"], str):
        raise NotebookError(f"cell {number}: `cell_type` is {_a(cell['cell_type'])}, not a name "
                            f"(\"code\", \"markdown\", ...)")
    if "source" not in cell:
        raise NotebookError(f"cell {number} has no `source`")
    src = cell["source"]
    if isinstance(src, str):
        return src
    if isinstance(src, list) and all(isinstance(s, str) for s in src):
        return "".join(src)
    what = "a list with an item that is not a string" if isinstance(src, list) else _a(src)
    raise NotebookError(f"cell {number}: source is not text: `source` is {what}, not a string or a list of strings")


def _a(value) -> str:
    """What kind of JSON value it is, in words."""
    if value is None:
        return "null"
    for kind, words in ((bool, "a boolean"), ((int, float), "a number"), (str, "a string"), (list, "a list")):
        if isinstance(value, kind):
            return words
    return "an object"
