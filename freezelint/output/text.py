"""Human output: the source line with a caret under the finding, the code, message and fix.

Colours only on a terminal (and never with NO_COLOR); plain text when piped. rich is imported
only when there is a finding to draw: a clean run prints its one line without it.
"""

from __future__ import annotations

import io
import os
import sys
from collections import Counter
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

_ANSI = {"green": "32", "bold red": "1;31"}  # what rich writes for these styles on a standard terminal


@lru_cache(maxsize=256)
def _lines(path: str, cell: int | None) -> tuple[str, ...]:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return ()
    from freezelint.check.prefilter import DecodeError, decode

    try:
        text, _ = decode(data)
    except DecodeError:
        return ()
    if cell is not None:
        import json

        try:
            src = json.loads(text)["cells"][cell - 1].get("source", "")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            return ()
        text = "".join(src) if isinstance(src, list) else str(src)
    return tuple(text.splitlines())


def use_color(stream=None) -> bool:
    stream = stream or sys.stdout
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return hasattr(stream, "isatty") and stream.isatty()


def _snippet(console: Console, d) -> None:
    from rich.text import Text

    lines = _lines(d.path, d.cell)
    if not (0 < d.row <= len(lines)):
        return
    line = lines[d.row - 1].expandtabs(1)
    gutter = len(str(d.row))
    start = d.col - 1
    end = d.end_col - 1 if d.end_row == d.row and d.end_col > d.col else len(line.rstrip())
    width = max(1, end - start)
    console.print(Text(f"{' ' * gutter} |", style="blue"))
    out = Text(f"{d.row} | ", style="blue")
    out.append(line)
    console.print(out)
    caret = Text(f"{' ' * gutter} | ", style="blue")
    caret.append(" " * start + "^" * width + f" {d.code}", style="bold red" if d.severity == "error" else "bold yellow")
    console.print(caret)
    console.print(Text(f"{' ' * gutter} |", style="blue"))


def render(run, *, concise: bool = False, show_fixes: bool = False, color: bool | None = None,
           statistics: bool = False, quiet: bool = False) -> str:
    color = use_color() if color is None else color
    if not run.diagnostics and not (show_fixes and run.changes):
        return "" if (quiet or statistics) else _plain_summary(run, color)
    if concise and quiet and not color and not statistics:  # plain lines: no need for rich
        return "".join(f"{d.location}: {d.code}{_mark(d)} {d.message}\n" for d in run.diagnostics)
    from rich.console import Console
    from rich.markup import escape

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=color, no_color=not color, color_system="standard" if color else None,
                      width=10_000, highlight=False, soft_wrap=True)
    if statistics:
        _statistics(console, run)
        return buf.getvalue()
    for d in run.diagnostics:
        mark = _mark(d)
        style = "bold red" if d.severity == "error" else "bold yellow"
        console.print(f"[bold]{escape(d.location)}[/bold]: [{style}]{d.code}[/{style}]{escape(mark)} {escape(d.message)}")
        if concise:
            continue
        _snippet(console, d)
        if d.fix:
            label = "fix" if d.fix["applicability"] == "safe" else "unsafe fix (--unsafe-fixes)"
            console.print(f"  = [cyan]{label}[/cyan]: {escape(d.fix['message'])}")
        url = run.url(d.code)
        where = f"{url}  (freezelint rule {d.code})" if url else f"freezelint rule {d.code}"
        console.print(f"  = [dim]docs: {escape(where)}[/dim]")
        console.print()
    if not quiet:
        _summary(console, run, show_fixes)
    return buf.getvalue()


def _mark(d) -> str:
    return " [*]" if d.fix and d.fix["applicability"] == "safe" else ""


def _not_checked(run) -> str:
    """What went wrong besides the findings: files not checked, fixes not written (each error
    is on stderr, printed before the report)."""
    lines = []
    errors = sum(1 for e in run.errors if not e.fix)
    if errors:
        lines.append(f"{errors} file{'s' if errors != 1 else ''} could not be checked (see the errors above).")
    unwritten = [e for e in run.errors if e.fix]
    if len(unwritten) == 1:
        e = unwritten[0]
        lines.append(f"Checked, but not fixed: {e.path}: {e.message.removeprefix('fix not written: ')}.")
    elif unwritten:
        lines.append(f"Checked, but not fixed: {len(unwritten)} files (their errors are above).")
    return "\n".join(lines)


def _plain_summary(run, color: bool) -> str:
    """The summary of a run without findings, as rich would print it, without rich."""
    lines: list[tuple[str, str | None]] = []
    if run.fixed:
        lines.append((f"Fixed {run.fixed} finding{'s' if run.fixed != 1 else ''}.", None))
    if _not_checked(run):
        lines.append((_not_checked(run), "bold red"))
    elif not run.fixed:
        lines.append(("All checks passed!", "green"))
    return "".join(f"\x1b[{_ANSI[style]}m{text}\x1b[0m\n" if color and style else f"{text}\n"
                   for text, style in lines)


def _summary(console: Console, run, show_fixes: bool) -> None:
    from rich.markup import escape

    n = len(run.diagnostics)
    if show_fixes and run.changes:
        console.print(f"Fixed {run.fixed} finding{'s' if run.fixed != 1 else ''} in:")
        for path, _old, _new in run.changes:
            console.print(f"  {escape(path)}")
    elif run.fixed:
        console.print(f"Fixed {run.fixed} finding{'s' if run.fixed != 1 else ''}.")
    not_checked = _not_checked(run)
    if n == 0:
        if not_checked:
            console.print(f"[bold red]{escape(not_checked)}[/bold red]")
        elif not run.fixed:
            console.print("[green]All checks passed![/green]")
        return
    safe = sum(1 for d in run.diagnostics if d.fix and d.fix["applicability"] == "safe")
    unsafe = sum(1 for d in run.diagnostics if d.fix and d.fix["applicability"] == "unsafe")
    files = len({d.path for d in run.diagnostics})
    line = f"Found {n} finding{'s' if n != 1 else ''} in {files} file{'s' if files != 1 else ''}."
    if safe and getattr(run, "fixing", False):  # --fix ran: these are the fixes it could not write
        line += f"\n[*] {safe} fixable, not fixed."
    elif safe:
        line += f"\n[*] {safe} fixable with `freezelint check --fix`."
    if unsafe:
        line += f"\n{unsafe} more fixable with `--unsafe-fixes`."
    if not_checked:
        line += f"\n{not_checked}"
    console.print(escape(line))


def _statistics(console: Console, run) -> None:
    from rich.markup import escape

    counts = Counter(d.code for d in run.diagnostics)
    fixable = Counter(d.code for d in run.diagnostics if d.fix and d.fix["applicability"] == "safe")
    names = {d.code: d.name for d in run.diagnostics}
    width = max((len(str(c)) for c in counts.values()), default=1)
    for code, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        mark = "[*]" if fixable[code] else "   "
        console.print(escape(f"{count:>{width}}  {code}  {mark} {names[code]}"))
