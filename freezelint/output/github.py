"""GitHub Actions workflow commands: findings appear as annotations on the pull request."""

from __future__ import annotations

from freezelint.output.notebook_lines import file_line


def _escape(value: str, prop: bool = False) -> str:
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return value.replace(":", "%3A").replace(",", "%2C") if prop else value


def render(run) -> str:
    lines = []
    for d in run.diagnostics:
        level = "error" if d.severity == "error" else "warning"
        props = f"title={_escape(f'freezelint ({d.code})', True)},file={_escape(d.path, True)}"
        if d.cell is None:
            props += f",line={d.row},col={d.col},endLine={d.end_row},endColumn={d.end_col}"
        elif (line := file_line(d.path, d.cell, d.row, getattr(run, "sources", None))) is not None:
            props += f",line={line}"  # the .ipynb line holding the cell's line (the location has both)
        lines.append(f"::{level} {props}::{_escape(f'{d.location}: {d.code} {d.message}')}")
    for e in run.errors:
        props = f"title={_escape('freezelint (not checked)', True)},file={_escape(e.path, True)}"
        lines.append(f"::error {props}::{_escape(str(e))}")
    return "\n".join(lines) + ("\n" if lines else "")
