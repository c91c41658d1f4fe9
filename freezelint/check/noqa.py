"""Suppression comments: `# noqa`, `# noqa: FZ101,FZ103`, `# freezelint: noqa[: codes]`.

A trailing comment suppresses findings on its line, or on a multi-line statement whose first line
carries it. `# freezelint: noqa[: codes]` on a line of its own suppresses the whole file.
Comments are found with the tokenizer, so `# noqa` inside a string never counts.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass, field

from freezelint import codes

_NOQA = re.compile(
    r"#\s*(?P<tool>freezelint\s*:\s*)?noqa(?P<colon>\s*:\s*(?P<codes>[^#]*))?", re.IGNORECASE
)
_CODE = re.compile(r"^[A-Za-z]+[0-9]+$")
# Cheap pre-check so that files without any suppression are never tokenized.
HAS_NOQA = re.compile(r"noqa", re.IGNORECASE)
# A suppression that could be reported as FZ002 (mentions our codes or our tool name).
OWN_NOQA = re.compile(r"noqa\s*:[^\n]*\bFZ\d|freezelint\s*:\s*noqa", re.IGNORECASE)


@dataclass
class Directive:
    row: int
    col: int  # 1-based column of the `#`
    end_col: int
    codes: list[str] | None  # None: every code
    own: bool  # names an FZ code or says `freezelint:`: can be reported as unused
    file_level: bool
    unknown: list[str] = field(default_factory=list)  # FZ-looking codes not in the catalogue
    used: set[str] = field(default_factory=set)

    def covers(self, code: str) -> bool:
        return self.codes is None or code in self.codes


@dataclass
class Suppressions:
    by_row: dict[int, list[Directive]]
    file_level: list[Directive]

    @classmethod
    def empty(cls) -> "Suppressions":
        return cls({}, [])

    def match(self, code: str, rows: tuple[int, ...]) -> Directive | None:
        for d in self.file_level:
            if d.covers(code):
                return d
        for row in rows:
            for d in self.by_row.get(row, ()):
                if d.covers(code):
                    return d
        return None

    def directives(self) -> list[Directive]:
        return [d for ds in self.by_row.values() for d in ds] + self.file_level


def holds(text: str, placed) -> bool:
    """The edited source parses and this reader sees every `(row, code)` placed on its row: what
    --add-noqa and the editor's suppress action prove before they write."""
    from freezelint.check.cpython_parse import parses

    if not parses(text):
        return False
    supp = collect(text)
    return all(supp.match(code, (row,)) is not None for row, code in placed)


def parse_directive(comment: str, row: int, col: int, own_line: bool) -> Directive | None:
    m = _NOQA.search(comment)
    if m is None:
        return None
    tool = m.group("tool") is not None
    raw_codes = m.group("codes")
    code_list: list[str] | None = None
    unknown: list[str] = []
    mentions_fz = False
    if m.group("colon") is not None:
        tokens = [t for t in re.split(r"[,\s]+", raw_codes or "") if t]
        code_list = []
        for tok in tokens:
            up = tok.upper().rstrip(".;:")
            if up.startswith("FZ") and up not in codes.CATALOGUE:
                mentions_fz = True
                unknown.append(up)  # `FZ1O1`, `FZ999`: a typo suppresses nothing
                continue
            if not _CODE.match(up):
                break  # prose after the codes, as in "noqa: FZ101 because ..."
            if up.startswith("FZ"):
                mentions_fz = True
                (code_list if up in codes.CATALOGUE else unknown).append(up)
            else:
                code_list.append(up)  # another tool's code: ours never match it
        if not tokens and tool:
            code_list = None  # `# freezelint: noqa:` with nothing after means all
    start = col + m.start()
    return Directive(
        row=row,
        col=start + 1,
        end_col=col + m.end() + 1,
        codes=code_list,
        own=tool or mentions_fz,
        file_level=tool and own_line,
        unknown=unknown,
    )


def collect(text: str) -> Suppressions:
    if not HAS_NOQA.search(text):
        return Suppressions.empty()
    by_row: dict[int, list[Directive]] = {}
    file_level: list[Directive] = []
    last_code_row = 0
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text, newline=None).readline):  # CR-only lines too
            if tok.type == tokenize.COMMENT:
                row, col = tok.start
                d = parse_directive(tok.string, row, col, own_line=last_code_row != row)
                if d is not None:
                    (file_level if d.file_level else by_row.setdefault(row, [])).append(d)
            elif tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
                last_code_row = tok.end[0]
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass  # keep what was read; the parser has already accepted the file
    return Suppressions(by_row, file_level)


def unused_messages(supp: Suppressions, selected: frozenset[str],
                    reported: dict[str, list[tuple[int, int, int]]] | None = None) -> list[tuple[Directive, str]]:
    """FZ002 findings: unknown codes, and own suppressions that suppressed nothing. `reported`: for
    each code, the findings left reported as (row, first and last row of their statement), so that
    a comment on another line of a finding's statement says where it belongs."""
    out: list[tuple[Directive, str]] = []
    for d in supp.directives():
        if not d.own:
            continue
        if d.unknown:
            out.append((d, f"unknown code{'s' if len(d.unknown) > 1 else ''} in suppression: "
                           f"{', '.join(d.unknown)}; see `freezelint rules`"))
        if d.file_level:  # a blanket one opts the file out; one naming codes must still suppress them
            unused = [c for c in d.codes or () if c.startswith("FZ") and c in selected and c not in d.used]
            if unused:
                out.append((d, f"unused file-level suppression for {', '.join(unused)}: no such finding in this "
                               f"file; remove it"))
            continue
        if d.codes is None:
            if not d.used:
                out.append((d, "suppression comment suppresses nothing on this line; remove it"))
            continue
        unused = [c for c in d.codes if c.startswith("FZ") and c in selected and c not in d.used]
        if unused:
            out.append((d, _unused_message(d.row, unused, reported or {})))
    return out


def _unused_message(row: int, unused: list[str], reported: dict[str, list[tuple[int, int, int]]]) -> str:
    """Remove it; or, for a code reported on another line of the statement the comment ends or sits
    in (a multi-line call, `# noqa` after its closing parenthesis), move it to that line."""
    said = f"unused suppression for {', '.join(unused)}: no such finding on this line"
    moves, rest = [], []
    for code in unused:
        at = next(((r, first) for r, first, last in reported.get(code, ()) if first <= row <= last), None)
        if at is None:
            rest.append(code)
        elif at[0] == at[1]:
            moves.append(f"{code} is reported on line {at[0]}, the first line of this statement: put the comment there")
        else:
            moves.append(f"{code} is reported on line {at[0]}: put the comment there or on the statement's "
                         f"first line ({at[1]})")
    if not moves:
        return f"{said}; remove it"
    tail = f"; remove {', '.join(rest)} from it" if rest else ""
    return f"{said}; {'; '.join(moves)}{tail}"
