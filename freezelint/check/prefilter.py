"""Which files need parsing, decided from their text alone, without importing libcst.

Each rule declares plain `words`, regex `triggers` and `requires` (see rules/base.py). The rule
modules import libcst (about 0.3 s), so the runner reads those three fields from `gates.py`, a
table generated from the rule modules and stamped with a digest of their source. When the stamp
does not match the installed rule sources (an edited install), the rules are imported instead:
a stale table can cost time, never a finding. Regenerate it with the rule pages,

    python3 -m freezelint rules --markdown rules/      (or: python3 -m freezelint.check.prefilter --write)

(a test fails when the table is stale).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import sys
import tokenize
from functools import lru_cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent
RULES_DIR = PACKAGE / "check" / "rules"
GATES_FILE = Path(__file__).resolve().parent / "gates.py"
# Parts of the package whose code never changes a checker result: left out of the cache digest.
_NOT_CHECKER = ("runtime", "output", "server", "__pycache__")


class DecodeError(Exception):
    """The bytes are not text in the encoding the file declares."""


def decode(data: bytes) -> tuple[str, str]:
    """Text and encoding (PEP 263 cookie or BOM, default utf-8)."""
    wide = wide_bom(data)
    if wide:  # no coding comment makes such a file readable: the advice below would not help
        raise DecodeError(f"the file is {wide} (it starts with a {wide} byte-order mark), which no coding "
                          f"comment makes readable: save it as UTF-8")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as e:  # unknown codec in a coding cookie, BOM + other cookie, bad bytes
        if "invalid or missing encoding declaration" in str(e):
            encoding = "utf-8"  # let the decode below say which byte is wrong
        else:
            raise DecodeError(str(e).split("\n")[0]) from None
    try:
        return data.decode(encoding), encoding
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise DecodeError(f"cannot decode as {encoding}: byte 0x{data[e.start]:02x} at line {line} "
                          f"({e.reason}); declare the file's encoding with a coding comment") from None
    except LookupError as e:
        raise DecodeError(f"unknown encoding: {e}") from None


def wide_bom(data: bytes) -> str | None:
    """UTF-32 or UTF-16 where the bytes start with its byte-order mark (UTF-32 LE's starts with UTF-16 LE's)."""
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return "UTF-32"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "UTF-16"
    return None


# ------------------------------------------------------------------------ source digests
# Modules outside rules/ that a rule's text gate is built from: the generated gate table is stale
# when they change too.
_TRIGGER_SOURCES = frozenset({"check/whole_model.py",  # FZ202's BN_FACTORY_CALL
                              "lightning_hooks.py"})  # FZ110's hook names


@lru_cache(maxsize=1)
def _digests() -> tuple[str, str]:
    """(checker digest, rules digest): blake2b over the package's checker sources, read once per
    process (about 50 small files). An unreadable install digests to its version alone."""
    from freezelint import __version__

    everything = hashlib.blake2b(__version__.encode(), digest_size=16)
    rules = hashlib.blake2b(digest_size=16)
    try:
        for rel, path in _checker_sources():
            with open(path, "rb") as f:
                data = f.read()
            everything.update(rel.encode() + b"\0" + data + b"\0")
            if (rel.startswith("check/rules/") and rel.count("/") == 2) or rel in _TRIGGER_SOURCES:
                rules.update(rel.encode() + b"\0" + data + b"\0")
    except OSError:
        return everything.hexdigest(), ""
    return everything.hexdigest(), rules.hexdigest()


def _checker_sources() -> list[tuple[str, str]]:
    """(package-relative posix name, path) of every checker source file, sorted."""
    root = str(PACKAGE)
    gates = str(GATES_FILE)
    out = []
    for d, dirs, names in os.walk(root):
        dirs[:] = [x for x in dirs if x not in _NOT_CHECKER]
        for n in names:
            if n.endswith(".py"):
                path = os.path.join(d, n)
                if path != gates:
                    out.append((os.path.relpath(path, root).replace(os.sep, "/"), path))
    return sorted(out)


def source_digest() -> str:
    """Digest of freezelint's own checker code: part of every cache key, so an upgraded or
    edited install never replays findings its code would no longer produce."""
    return _digests()[0]


def rules_digest() -> str:
    return _digests()[1]


# ------------------------------------------------------------------------------- gates
Gate = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]  # words, triggers, requires


def _gates_from_rules() -> dict[str, Gate]:
    from freezelint.check.rules import ALL_RULES

    return {r.code: (tuple(r.words), tuple(r.triggers), tuple(r.requires)) for r in ALL_RULES if r.triggers}


@lru_cache(maxsize=1)
def gates() -> dict[str, Gate]:
    """Every rule's text gate, from the generated table when it matches the rule sources."""
    try:
        from freezelint.check import gates as table
    except ImportError:
        return _gates_from_rules()
    if table.RULES_DIGEST != rules_digest() or not rules_digest():
        return _gates_from_rules()
    return table.GATES


class _Gate:
    """Whether one rule could fire on a text: a plain word, then a trigger, then every requirement."""

    def __init__(self, code: str, gate: Gate) -> None:
        words, triggers, requires = gate
        self.code = code
        self.words = words
        # one pattern each, not one alternation: re scans quickly for a pattern's literal start,
        # and tries an alternation of differently starting patterns at every position (the gates
        # of timm + torchvision: 1.41 s as alternations, 1.12 s apart)
        self.triggers = [re.compile(x) for x in triggers]
        self.requires = [re.compile(x) for x in requires]

    def admits(self, text: str) -> bool:
        if self.words and not any(w in text for w in self.words):
            return False
        return any(x.search(text) for x in self.triggers) and all(x.search(text) for x in self.requires)


class Prefilter:
    """Which selected rules admit a text; a file none admits is never parsed."""

    def __init__(self, selected: frozenset[str]) -> None:
        table = gates()
        self.gates = [_Gate(c, table[c]) for c in sorted(selected) if c in table]

    def admitted(self, text: str) -> frozenset[str]:
        text = as_lf(text)
        return frozenset(g.code for g in self.gates if g.admits(text))

    def search(self, text: str) -> bool:
        text = as_lf(text)
        return any(g.admits(text) for g in self.gates)


def as_lf(text: str) -> str:
    """The text with CRLF and CR line ends read as LF: the gates' patterns end a line at "\n"
    (`$` under `(?m)`, `[^\n]*`), which a CRLF file's "\r" would otherwise keep from matching."""
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


@lru_cache(maxsize=64)
def trigger_pattern(selected: frozenset[str]) -> Prefilter | None:
    """What decides whether a file is parsed for the selected rules (None: no rule has a trigger)."""
    pre = Prefilter(selected)
    return pre if pre.gates else None


def render_table() -> str:
    lines = ['"""Generated by `python3 -m freezelint.check.prefilter --write` from the rule modules\' `words`,',
             '`triggers` and `requires`: do not edit. Used only while RULES_DIGEST matches their source."""',
             "", "from __future__ import annotations", "",
             f"RULES_DIGEST = {rules_digest()!r}", "", "GATES = {"]
    for code, (words, triggers, requires) in sorted(_gates_from_rules().items()):
        lines.append(f"    {code!r}: (")
        for part in (words, triggers, requires):
            lines.append(f"        {part!r},")
        lines.append("    ),")
    lines.append("}")
    return "\n".join(lines) + "\n"


def refresh_table() -> bool:
    """Rewrite gates.py when it no longer matches the rule sources; True when it was rewritten.
    `freezelint rules --markdown` calls this, so regenerating the rule pages regenerates it too."""
    text = render_table()
    try:
        if GATES_FILE.read_text(encoding="utf-8") == text:
            return False
    except OSError:
        pass
    GATES_FILE.write_text(text, encoding="utf-8")
    return True


if __name__ == "__main__":  # pragma: no cover
    if "--write" in sys.argv:
        refresh_table()
        print(f"wrote {GATES_FILE}")
    else:
        sys.stdout.write(render_table())
