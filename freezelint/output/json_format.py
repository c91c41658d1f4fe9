"""JSON in ruff's shape, so tools that read `ruff --output-format json` read this too."""

from __future__ import annotations

import json


def as_dicts(run) -> list[dict]:
    out = []
    for d in run.diagnostics:
        item = {
            "code": d.code,
            "message": d.message,
            "filename": d.path,
            "location": {"row": d.row, "column": d.col},
            "end_location": {"row": d.end_row, "column": d.end_col},
            "fix": d.fix,
            "severity": d.severity,
            "url": d.url,
            "name": d.name,
        }
        if d.cell is not None:
            item["cell"] = d.cell
        out.append(item)
    return out


def render(run) -> str:
    return json.dumps(as_dicts(run), indent=2, ensure_ascii=False) + "\n"
