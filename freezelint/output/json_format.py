"""JSON in ruff's shape, so tools that read `ruff --output-format json` read this too.

A file that could not be checked is an entry with `"code": null`, as ruff reports the errors
that are no rule's finding, so a reader that counts entries never sees `[]` for a failed run."""

from __future__ import annotations

import json

from freezelint import codes


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
            "url": run.url(d.code),  # null unless a docs-url is set
            "name": d.name,
        }
        if d.cell is not None:
            item["cell"] = d.cell
        out.append(item)
    for e in run.errors:
        out.append({
            "code": None,
            "message": e.message,
            "filename": e.path,
            "location": {"row": 1, "column": 1},
            "end_location": {"row": 1, "column": 1},
            "fix": None,
            "severity": "error",
            "url": None,
            "name": "run-error",
        })
    return out


def render(run) -> str:
    return json.dumps(as_dicts(run), indent=2, ensure_ascii=False) + "\n"


def render_statistics(run) -> str:
    """`--statistics --format json`: one entry per code, in ruff's shape, most frequent first."""
    counts: dict[str, list[int]] = {}
    for d in run.diagnostics:
        entry = counts.setdefault(d.code, [0, 0])
        entry[0] += 1
        entry[1] += bool(d.fix and d.fix["applicability"] == "safe")
    rows = [{"code": code, "name": codes.get(code).name, "count": n, "fixable": fixable > 0, "fixable_count": fixable}
            for code, (n, fixable) in sorted(counts.items(), key=lambda kv: (-kv[1][0], kv[0]))]
    return json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
