"""Jupyter notebooks: code cells checked as one module, magics masked, fixes written per cell.

Cells are joined in order so that imports in an early cell resolve names in later ones. Each
IPython magic line (`%time`, `!pip`, `x = !ls`, `obj?`) becomes `pass` at the same indentation,
and a `%%` cell magic masks its whole cell, so every other line keeps its row and can be mapped
back to (cell, row). Cells are numbered from 1 across the whole notebook, as Jupyter shows them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

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


def load(text: str) -> Notebook:
    try:
        data = json.loads(text)
    except ValueError as e:
        raise NotebookError(f"invalid notebook JSON: {e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise NotebookError("not a notebook: no `cells` list")
    cells: list[_Cell] = []
    parts: list[str] = []
    row = 1
    for i, cell in enumerate(data["cells"]):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        src = cell.get("source", "")
        if isinstance(src, list):
            if not all(isinstance(s, str) for s in src):
                raise NotebookError(f"cell {i + 1}: source is not text")
            text_src = "".join(src)
        elif isinstance(src, str):
            text_src = src
        else:
            raise NotebookError(f"cell {i + 1}: source is not text")
        lines = text_src.splitlines(keepends=True)
        if not lines:
            continue
        whole_cell_magic = lines[0].lstrip().startswith("%%")
        masked = [whole_cell_magic or bool(_MAGIC.match(line)) for line in lines]
        for line, m in zip(lines, masked):
            body = line if line.endswith("\n") else line + "\n"
            if m:
                indent = "" if whole_cell_magic else body[: len(body) - len(body.lstrip())]
                body = f"{indent}pass\n"
            parts.append(body)
        cells.append(_Cell(i, i + 1, lines, masked, row))
        row += len(lines)
    return Notebook(data, text, cells, "".join(parts))
