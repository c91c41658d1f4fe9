"""A located finding, as every output format and the cache see it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from freezelint import codes


@dataclass
class Diagnostic:
    code: str
    message: str
    path: str
    row: int  # 1-based
    col: int  # 1-based
    end_row: int
    end_col: int
    fix: dict[str, Any] | None = None  # {"applicability", "message", "edits": [...]}
    cell: int | None = None  # notebook cell number (1-based), rows then count within the cell

    @property
    def severity(self) -> str:
        return codes.get(self.code).severity

    @property
    def name(self) -> str:
        return codes.get(self.code).name

    @property
    def url(self) -> str | None:
        return codes.get(self.code).url

    @property
    def location(self) -> str:
        where = f"cell {self.cell}:" if self.cell is not None else ""
        return f"{self.path}:{where}{self.row}:{self.col}"

    def sort_key(self) -> tuple:
        return (self.path, self.cell or 0, self.row, self.col, self.code)

    def to_cache(self) -> dict[str, Any]:
        d = asdict(self)
        del d["path"]
        return d

    @classmethod
    def from_cache(cls, path: str, d: dict[str, Any]) -> "Diagnostic":
        return cls(path=path, **d)
