"""Renderers for `freezelint check` results: one module per format."""

from __future__ import annotations

FORMATS = ("text", "concise", "json", "github", "sarif", "junit")
STATISTICS_FORMATS = ("text", "concise", "json")  # --statistics with the others is a usage error, as in ruff


def render(fmt: str, run, *, show_fixes: bool = False, color: bool | None = None,
           statistics: bool = False, quiet: bool = False) -> str:
    """The report for `run` (a RunResult) in format `fmt`, as text."""
    if fmt == "json":
        from freezelint.output import json_format
        return json_format.render_statistics(run) if statistics else json_format.render(run)
    if fmt == "sarif":
        from freezelint.output import sarif
        return sarif.render(run)
    if fmt == "junit":
        from freezelint.output import junit
        return junit.render(run)
    if fmt == "github":
        from freezelint.output import github
        return github.render(run)
    from freezelint.output import text
    return text.render(run, concise=fmt == "concise", show_fixes=show_fixes, color=color,
                       statistics=statistics, quiet=quiet)
