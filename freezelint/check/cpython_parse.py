"""FZ001 from CPython's own parser: light (no libcst), so every file gets it.

libcst's native parser overflows the C stack (a segfault, not an exception) on nesting that
CPython refuses cleanly (over 200 brackets, ~3000-long operator chains), so a file goes through
CPython's parser before libcst sees it. A file no selected rule's text trigger admits is never
given to libcst, but still goes through this check: a file that does not parse is FZ001 whatever
words it holds. CPython's parser costs about a tenth of libcst's.
"""

from __future__ import annotations

import ast
import re
import sys
import warnings

from freezelint.check.alloc import relaxed_gc
from freezelint.check.diagnostic import Diagnostic


def syntax_error(path: str, message: str, row: int = 1, col: int = 1) -> Diagnostic:
    return Diagnostic("FZ001", message, path, row, col, row, col)


def cpython_error(path: str, text: str) -> Diagnostic | None:
    """FZ001 if CPython's parser rejects the text, else None."""
    try:
        with warnings.catch_warnings(), relaxed_gc():  # relaxed: the AST is freed at once, no cycles
            warnings.simplefilter("ignore")  # SyntaxWarnings (`is` with a literal, escapes) are no error
            ast.parse(text)
    except SyntaxError as se:
        if _newer_syntax(text, se.lineno):
            return None
        msg = se.msg
        if "too many nested" in msg:
            msg += " (nested too deeply)"
        magic = _magic_at(text, se.lineno)
        if magic is not None:  # a notebook exported as .py (Kaggle, Colab): say what the line is
            msg = (f"`{magic}` is an IPython magic, not Python, so nothing else in this file was checked; "
                   f"delete the magic lines (or keep the notebook as .ipynb, whose magics are skipped)")
            return syntax_error(path, msg, se.lineno or 1, 1)
        return syntax_error(path, f"SyntaxError: {msg}", se.lineno or 1, max(se.offset or 1, 1))
    except (RecursionError, MemoryError):
        return syntax_error(path, "cannot parse: expressions nested too deeply")
    except ValueError as e:  # e.g. source code string cannot contain null bytes
        return syntax_error(path, f"cannot parse: {e}".split("\n")[0])
    return None


# Python 3.12's type parameters and `type` aliases (PEP 695): `def f[T](...)`, `class C[T]:`, `type X = ...`
_PEP695 = re.compile(r"\s*(?:(?:async\s+)?def|class)\s+\w+\s*\[|\s*type\s+\w+\s*(?:\[.*\])?\s*=")


def _newer_syntax(text: str, row: int | None) -> bool:
    """CPython older than 3.12 refused a line of 3.12's syntax (torch's py312_intrinsics.py) that
    libcst's parser takes: valid Python, not an error of the file, and libcst checks it."""
    lines = text.splitlines()
    if sys.version_info >= (3, 12) or not row or row > len(lines) or not _PEP695.match(lines[row - 1]):
        return False
    import libcst  # here: only such a file pays for it

    try:
        libcst.parse_module(text)
    except Exception:  # noqa: BLE001 — libcst refuses it too: CPython's message stands
        return False
    return True


def parses(text: str) -> bool:
    """Whether CPython's parser takes the text: what a writer of source (a fix, a noqa comment, a
    notebook's masked magics) asks before it writes."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def _magic_at(text: str, row: int | None) -> str | None:
    """The IPython magic (`%matplotlib inline`, `!pip install x`) on the line CPython refused, if
    that line is one: as the notebook reader tells them."""
    if not row:
        return None
    from freezelint.check.notebook import _MAGIC

    lines = text.splitlines()
    line = lines[row - 1] if row <= len(lines) else ""
    return line.strip() if line.lstrip()[:1] in ("%", "!") and _MAGIC.match(line) else None


def quick_error(path: str, text: str) -> Diagnostic | None:
    """`cpython_error`'s verdict at about 60% of its cost, for a file libcst will not see: the
    symbol table is built from the parser's tree without making Python objects of the tree.
    The symbol table refuses a few things ast.parse accepts (`nonlocal` at module level), so a
    refusal is confirmed by `cpython_error`."""
    import symtable  # here: a run that meets no such file never imports it

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            symtable.symtable(text, path, "exec")
        return None
    except Exception:  # noqa: BLE001 — SyntaxError, ValueError (NUL bytes), RecursionError, MemoryError
        return cpython_error(path, text)
