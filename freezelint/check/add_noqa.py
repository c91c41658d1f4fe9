"""`freezelint check --add-noqa`: a `# noqa: CODE` comment where the suppression reader looks for
each finding reported, so that a codebase can turn freezelint on today and fix its old findings
later (ruff's --add-noqa).

A finding is suppressed by a comment on its own row (the row it is reported on) or on its
statement's first line (noqa.py); the comment goes on its own row, which every finding has. Codes
of one row share one comment, sorted; a `# noqa: ...` already there gets them merged into its list
(other tools' codes and any prose after the list are kept). A row that ends inside a string or in
a backslash continuation cannot hold a comment: its findings are left as they are, and said so.
Every edit is proved before it is written: the new source parses and the suppression reader sees
each added code on its row.
"""

from __future__ import annotations

import io
import os
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

from freezelint.check import noqa
from freezelint.check.diagnostic import Diagnostic

# Lines as the tokenizer counts them: only \n, \r\n and \r end one.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
# One code of a noqa comment's list, and what may separate two of them.
_LIST_CODE = re.compile(r"[A-Za-z]+[0-9]+(?![A-Za-z0-9])")
_LIST_SEP = re.compile(r"\s*,\s*|\s+")

IN_STRING = "the line ends inside a string, where a comment cannot go: fix it, or suppress it by hand"
CONTINUED = ("the line ends in a backslash continuation, where a comment cannot go: fix it, or suppress it "
             "by hand")
BLANKET = "FZ002: its blanket `# freezelint: noqa` suppresses nothing; remove it"
FILE_LEVEL = ("FZ002: its file-level suppression names a code with no finding; remove that code "
              "(a code added there would cover the whole file)")
# ruff's --add-noqa skips its unused-noqa rule alike: a suppression of the report of a useless
# suppression keeps both
UNUSED = ("FZ002 is never suppressed: remove the suppression it reports, move it to its finding's line, "
          "or correct its code")
NOT_PROVED = "a comment there would not suppress it, or the code would not parse: fix it, or suppress it by hand"


@dataclass
class Skipped:
    row: int
    codes: list[str]
    reason: str


@dataclass
class Edited:
    """The source with its comments added (None: nothing added), how many codes were added, and
    the rows left as they were."""

    text: str | None
    added: int = 0
    skipped: list[Skipped] = field(default_factory=list)


# ----------------------------------------------------------------------------- one source
def add_to_source(text: str, wanted: dict[int, set[str]]) -> Edited:
    """`text` with `# noqa: CODES` on each row of `wanted` (row -> codes reported there)."""
    lines = _LINE.findall(text)
    comments, in_string = _comments_and_strings(text)
    supp = noqa.collect(text)
    file_level = {d.row for d in supp.file_level}
    blanket = {d.row for ds in supp.by_row.values() for d in ds if d.codes is None}
    out = Edited(None)
    edits: dict[int, tuple[str, list[str]]] = {}  # row -> (new line, codes added)
    for row in sorted(wanted):
        codes = sorted(wanted[row])
        if not 1 <= row <= len(lines):
            continue
        if "FZ002" in codes and row not in file_level and row not in blanket:  # those two say their own why
            out.skipped.append(Skipped(row, ["FZ002"], UNUSED))
            codes.remove("FZ002")
            if not codes:
                continue
        body = lines[row - 1].rstrip("\r\n")
        reason = None
        if row in in_string:
            reason = IN_STRING
        elif row not in comments and body.endswith("\\"):
            reason = CONTINUED
        elif row in file_level:
            reason = FILE_LEVEL
        elif row in blanket:
            reason = BLANKET
        if reason is not None:
            out.skipped.append(Skipped(row, codes, reason))
            continue
        edits[row] = (_with_codes(lines[row - 1], comments.get(row), codes), codes)
    new = _apply(lines, {row: line for row, (line, _) in edits.items()})
    if not _proved(new, edits):  # prove row by row: keep the edits that hold
        kept = {row: e for row, e in edits.items() if _proved(_apply(lines, {row: e[0]}), {row: e})}
        out.skipped += [Skipped(row, codes, NOT_PROVED) for row, (_, codes) in edits.items() if row not in kept]
        edits = kept
        new = _apply(lines, {row: line for row, (line, _) in edits.items()})
        if edits and not _proved(new, edits):  # each holds alone, not together: add none
            out.skipped += [Skipped(row, codes, NOT_PROVED) for row, (_, codes) in edits.items()]
            edits = {}
    out.skipped.sort(key=lambda s: s.row)
    if edits:
        out.text, out.added = new, sum(len(codes) for _, codes in edits.values())
    return out


def _comments_and_strings(text: str) -> tuple[dict[int, tuple[int, str]], set[int]]:
    """Each row's comment (column, text), and the rows whose end lies inside a token (a
    triple-quoted string or an f-string's text running on to the next line)."""
    comments: dict[int, tuple[int, str]] = {}
    in_string: set[int] = set()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text, newline=None).readline):
            if tok.type == tokenize.COMMENT:
                comments[tok.start[0]] = (tok.start[1], tok.string)
            elif tok.end[0] > tok.start[0] and tok.type not in (tokenize.NL, tokenize.NEWLINE):
                in_string.update(range(tok.start[0], tok.end[0]))
    except (tokenize.TokenError, SyntaxError):
        pass  # the proof below rejects what this missed
    return comments, in_string


def _with_codes(line: str, comment: tuple[int, str] | None, codes: list[str]) -> str:
    """The line (with its ending) carrying `codes` in a `# noqa:` comment."""
    body = line.rstrip("\r\n")
    ending = line[len(body):]
    if comment is None:
        return f"{body.rstrip()}  # noqa: {', '.join(codes)}{ending}"
    col, text = comment
    merged = _merged(text, codes)
    if merged is None:  # a comment of another kind: ours follows it
        return f"{body.rstrip()}  # noqa: {', '.join(codes)}{ending}"
    return f"{body[:col]}{merged}{body[col + len(text):]}{ending}"


def _merged(comment: str, codes: list[str]) -> str | None:
    """`comment` with `codes` merged into its `# noqa: ...` list, sorted, each once; None when it
    holds no such list."""
    m = noqa._NOQA.search(comment)
    if m is None or m.group("colon") is None:
        return None
    start = end = m.start("codes")
    listed: list[str] = []
    while (code := _LIST_CODE.match(comment, end)) is not None:
        listed.append(code.group())
        end = code.end()
        sep = _LIST_SEP.match(comment, end)
        if sep is None or _LIST_CODE.match(comment, sep.end()) is None:
            break
        end = sep.end()
    have = {c.upper() for c in listed}
    every = sorted(listed + [c for c in codes if c not in have], key=str.upper)
    head, rest = comment[:start], comment[end:]
    if not listed:  # `noqa:` with no code, or prose only (`noqa: because ...`): the codes go first
        head = head if head[-1].isspace() else head + " "
        rest = rest if not rest or rest[0].isspace() else " " + rest
    return f"{head}{', '.join(every)}{rest}".rstrip()


def _apply(lines: list[str], new_lines: dict[int, str]) -> str:
    return "".join(new_lines.get(i, line) for i, line in enumerate(lines, 1))


def _proved(text: str, edits: dict[int, tuple[str, list[str]]]) -> bool:
    """The edited source parses, and the suppression reader sees every added code on its row."""
    return noqa.holds(text, [(row, code) for row, (_, codes) in edits.items() for code in codes])


# ----------------------------------------------------------------------------- files
@dataclass
class NoqaRun:
    added: int = 0
    files: int = 0
    notes: list[str] = field(default_factory=list)  # findings left as they were, and why
    errors: list[str] = field(default_factory=list)  # files that could not be written, and why


def add_to_files(diagnostics: list[Diagnostic], trees: list[str]) -> NoqaRun:
    """Add the comments that suppress `diagnostics` (a check's findings) to their files."""
    run = NoqaRun()
    by_file: dict[str, tuple[str, list[Diagnostic]]] = {}
    for d in diagnostics:
        if d.code == "FZ001":  # the file does not parse: nothing in it can be suppressed
            run.notes.append(f"{d.location}: FZ001 {d.message}: no noqa added to a file that does not parse")
            continue
        target = os.path.realpath(os.path.abspath(d.path))  # a link and its target: one file
        by_file.setdefault(target, (d.path, []))[1].append(d)
    for target, (shown, found) in by_file.items():
        _add_to_file(run, target, shown, found, trees)
    return run


def _add_to_file(run: NoqaRun, target: str, shown: str, found: list[Diagnostic], trees: list[str]) -> None:
    from freezelint.check import prefilter
    from freezelint.check.runner import _outside, write_source

    try:
        with open(target, "rb") as f:
            data = f.read()
        text, encoding = prefilter.decode(data)
    except (OSError, prefilter.DecodeError) as e:
        run.errors.append(f"{shown}: no noqa added: {getattr(e, 'strerror', None) or e}")
        return
    if text.encode(encoding) != data:
        run.errors.append(f"{shown}: no noqa added: its bytes do not survive decoding as {encoding} and encoding back")
        return
    if target.endswith(".ipynb"):
        new_text, added = _add_to_notebook(run, text, shown, found)
    else:
        edited = add_to_source(text, _wanted(found))
        run.notes += [f"{shown}:{s.row}: {', '.join(s.codes)} left as it is: {s.reason}" for s in edited.skipped]
        new_text, added = edited.text, edited.added
    if new_text is None:
        return
    err = _outside(target, trees) or write_source(Path(target), data, new_text.encode(encoding))
    if err:
        run.errors.append(f"{shown}: {err.replace('fix not written', 'no noqa added')}")
        return
    run.added += added
    run.files += 1


def _wanted(found: list[Diagnostic], row_of=lambda d: d.row) -> dict[int, set[str]]:
    wanted: dict[int, set[str]] = {}
    for d in found:
        wanted.setdefault(row_of(d), set()).add(d.code)
    return wanted


def _add_to_notebook(run: NoqaRun, text: str, shown: str, found: list[Diagnostic]) -> tuple[str | None, int]:
    """Comments in the notebook's cells: added to its joined source (where the checker found the
    rows), then put back cell by cell."""
    from freezelint.check import notebook

    try:
        nb = notebook.load(text)
    except notebook.NotebookError as e:
        run.errors.append(f"{shown}: no noqa added: {e}")
        return None, 0
    starts = {c.number: c.start for c in nb.cells}
    edited = add_to_source(nb.source, _wanted(found, lambda d: starts.get(d.cell or 1, 1) + d.row - 1))
    for s in edited.skipped:
        cell, row = nb.locate(s.row)
        run.notes.append(f"{shown}:cell {cell}:{row}: {', '.join(s.codes)} left as it is: {s.reason}")
    if edited.text is None:
        return None, 0
    new_json = nb.with_source(edited.text)
    if new_json is None:
        run.errors.append(f"{shown}: no noqa added: the comments would change the notebook's cell layout")
        return None, 0
    return new_json, edited.added
