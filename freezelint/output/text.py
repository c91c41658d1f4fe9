"""Human output: the source line with a caret under the finding, the code, message and fix.

Colours only on a terminal (and never with NO_COLOR); plain text when piped. Written as plain
strings with ANSI codes where colour is on: rich's import alone took a quarter of a warm
re-check's time (65 of 270 ms on timm + torchvision), and this output needs none of its layout.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from functools import lru_cache

# ANSI codes of the styles used here, as rich writes them on a standard terminal
_CODES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "blue": "34", "cyan": "36"}


def _painter(color: bool):
    """paint(text, style): text in that style (space-separated names of _CODES) when colour is on."""
    if not color:
        return lambda text, style: text
    return lambda text, style: f"\x1b[{';'.join(_CODES[w] for w in style.split())}m{text}\x1b[0m"


@lru_cache(maxsize=256)
def _lines(path: str, cell: int | None) -> tuple[str, ...]:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return ()
    return _split(data, cell)


def _split(data: bytes, cell: int | None) -> tuple[str, ...]:
    """The lines of a file's bytes (of one cell, for a notebook)."""
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


def _style(d) -> str:
    return "bold red" if d.severity == "error" else "bold yellow"


def _snippet(d, paint, sources: dict[str, bytes]) -> list[str]:
    """The finding's source line between gutters, a caret under its span. `sources`: the bytes
    checked for paths that are not read from disk (stdin shown under --stdin-filename's name)."""
    data = sources.get(d.path)
    lines = _lines(d.path, d.cell) if data is None else _split(data, d.cell)
    if not (0 < d.row <= len(lines)):
        return []
    line = lines[d.row - 1].expandtabs(1)
    gutter = len(str(d.row))
    start = d.col - 1
    end = d.end_col - 1 if d.end_row == d.row and d.end_col > d.col else len(line.rstrip())
    width = max(1, end - start)
    bar = paint(f"{' ' * gutter} |", "blue")
    return [bar,
            paint(f"{d.row} | ", "blue") + line,
            paint(f"{' ' * gutter} | ", "blue") + paint(" " * start + "^" * width + f" {d.code}", _style(d)),
            bar]


def render(run, *, concise: bool = False, show_fixes: bool = False, color: bool | None = None,
           statistics: bool = False, quiet: bool = False) -> str:
    color = use_color() if color is None else color
    paint = _painter(color)
    if statistics:  # the table of what is left, then the summary as ruff writes it (the total, the fixes)
        summary = _summary(run, show_fixes, paint, passed=False) if not quiet else []
        return "".join(f"{line}\n" for line in _statistics(run) + summary)
    if not run.diagnostics and not (show_fixes and run.changes):
        return "" if quiet else "".join(f"{line}\n" for line in _summary(run, show_fixes, paint))
    out: list[str] = []
    for d in run.diagnostics:
        out.append(f"{paint(d.location, 'bold')}: {paint(d.code, _style(d))}{_mark(d)} {d.message}")
        if concise:
            continue
        out += _snippet(d, paint, getattr(run, "sources", {}))
        if d.fix:
            label = "fix" if d.fix["applicability"] == "safe" else "unsafe fix (--unsafe-fixes)"
            out.append(f"  = {paint(label, 'cyan')}: {d.fix['message']}")
        url = run.url(d.code)
        where = f"{url}  (freezelint rule {d.code})" if url else f"freezelint rule {d.code}"
        out.append(f"  = {paint('docs: ' + where, 'dim')}")
        out.append("")
    if not quiet:
        out += _summary(run, show_fixes, paint)
    return "".join(f"{line}\n" for line in out)


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


def _too_large(run) -> list[str]:
    """Files left out by choice, over the max-file-size: said, so that no run reads as all passed."""
    n = getattr(run, "oversized", 0)
    return [f"{n} file{'s' if n != 1 else ''} over the max-file-size {'were' if n != 1 else 'was'} not checked "
            f"(see the note above)."] if n else []


def _summary(run, show_fixes: bool, paint, passed: bool = True) -> list[str]:
    """The lines under the findings. `passed`: say "All checks passed!" when all did (not under
    --statistics, whose empty table says it, as ruff's does)."""
    n = len(run.diagnostics)
    out = []
    if show_fixes and run.changes:
        out.append(f"Fixed {run.fixed} finding{'s' if run.fixed != 1 else ''} in:")
        out += [f"  {path}" for path, _old, _new in run.changes]
    elif run.fixed:
        out.append(f"Fixed {run.fixed} finding{'s' if run.fixed != 1 else ''}.")
    not_checked = _not_checked(run)
    if n == 0:
        if not_checked:
            out += [paint(line, "bold red") for line in not_checked.split("\n")]
        out += [paint(line, "yellow") for line in _too_large(run)]
        if not (not_checked or run.fixed or _too_large(run)) and passed:
            out.append(paint("All checks passed!", "green"))
        return out
    safe = sum(1 for d in run.diagnostics if d.fix and d.fix["applicability"] == "safe")
    unsafe = sum(1 for d in run.diagnostics if d.fix and d.fix["applicability"] == "unsafe")
    files = len({d.path for d in run.diagnostics})
    out.append(f"Found {n} finding{'s' if n != 1 else ''} in {files} file{'s' if files != 1 else ''}.")
    # the option, not a command line: `freezelint check --fix` alone would fix the whole working
    # directory where one file was checked (ruff's hint names the option alike)
    command = "--fix"
    if getattr(run, "unsafe_fixes", False):  # given already: the unsafe ones are fixable as the safe are
        safe, unsafe, command = safe + unsafe, 0, "--fix --unsafe-fixes"
    if safe and getattr(run, "fixing", False):  # --fix ran: these are the fixes it could not write
        out.append(f"[*] {safe} fixable, not fixed.")
    elif safe:
        out.append(f"[*] {safe} fixable with the `{command}` option.")
    if unsafe:
        out.append(f"{unsafe} more fixable with `--unsafe-fixes`.")
    if not_checked:
        out += not_checked.split("\n")
    return out + _too_large(run)


def _statistics(run) -> list[str]:
    counts = Counter(d.code for d in run.diagnostics)
    fixable = Counter(d.code for d in run.diagnostics if d.fix and d.fix["applicability"] == "safe")
    names = {d.code: d.name for d in run.diagnostics}
    width = max((len(str(c)) for c in counts.values()), default=1)
    return [f"{count:>{width}}  {code}  {'[*]' if fixable[code] else '   '} {names[code]}"
            for code, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
