"""Robustness: the checker survives anything a repository holds, and --fix never loses data.

CI runs a bounded budget: 100 generated programs; the examples and 4 sources each of torchvision
and timm, every one with every kind of damage and one whole-file variant in turn. FREEZELINT_FUZZ=full mutates every file of the installed torchvision
and timm sources in every way (with 40,000-item long lines) and raises the hypothesis budget
(FREEZELINT_FUZZ_EXAMPLES overrides it).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import io
import json
import math
import os
import random
import re
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

from conftest import ROOT
from freezelint import codes
from freezelint.check.engine import check_text

FULL = os.environ.get("FREEZELINT_FUZZ") == "full"
# CI: 100 generated programs draw every statement form, comment and block kind (a derandomized
# run of the same strategy drew all of them by 80; at 60 no `with` block yet)
EXAMPLES = int(os.environ.get("FREEZELINT_FUZZ_EXAMPLES", 2000 if FULL else 100))
ALL = frozenset(c for c, i in codes.CATALOGUE.items() if i.static)


def source_lines(text: str, keepends: bool = False) -> list[str]:
    """Lines as Python counts them: only \n, \r\n and \r end a line (str.splitlines also
    splits on form feeds and other separators that are whitespace to the tokenizer)."""
    parts = re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$", text)
    return parts if keepends else [p.rstrip("\r\n") for p in parts]


def assert_locations_inside(text: str, diagnostics) -> None:
    lines = source_lines(text) or [""]
    for d in diagnostics:
        assert 1 <= d.row <= len(lines) + 1, d
        assert 1 <= d.end_row <= len(lines) + 1 and (d.end_row, d.end_col) >= (d.row, d.col), d
        line = lines[d.row - 1] if d.row <= len(lines) else ""
        assert 1 <= d.col <= len(line) + 2, (d, line)


def fix_spans(diagnostics) -> list[tuple[int, int]]:
    """1-based row ranges that fixes may rewrite."""
    spans = []
    for d in diagnostics:
        for e in (d["fix"]["edits"] if isinstance(d, dict) else d.fix["edits"]) if (
                d["fix"] if isinstance(d, dict) else d.fix) else []:
            spans.append((e["location"]["row"], e["end_location"]["row"]))
    return spans


def assert_only_spans_changed(before: list, after: list, spans: list[tuple[int, int]], name: str = "") -> None:
    """Every changed run of lines lies inside a fix's span; everything else is byte-identical."""
    import difflib

    for tag, i1, i2, _j1, _j2 in difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        covered = [any(a <= row <= b for a, b in spans) for row in range(i1 + 1, i2 + 1)]
        if i1 == i2:  # pure insertion between rows i1 and i1 + 1
            covered = [any(a <= row <= b for a, b in spans for row in (i1, i1 + 1))]
        assert all(covered), (name, tag, before[i1:i2], after[_j1:_j2], spans)


def assert_fix_is_safe(text: str) -> None:
    """--fix output parses, is a fixed point, and changes only what fixable findings cover."""
    out = check_text(text, "f.py", ALL, fix="unsafe", force=True)
    if out.new_text is None:
        return
    ast.parse(out.new_text)
    spans = fix_spans(check_text(text, "f.py", ALL, force=True).diagnostics)
    assert_only_spans_changed(source_lines(text, True), source_lines(out.new_text, True), spans)
    again = check_text(out.new_text, "f.py", ALL, fix="unsafe", force=True)
    assert again.new_text is None, "a second --fix changed the file again"


# ----------------------------------------------------------------- generated programs
def test_generated_freezing_programs():
    import fuzz_programs

    def check(text: str) -> None:
        ast.parse(text)  # the generator makes valid Python
        out = check_text(text, "f.py", ALL, force=True)
        assert not [d for d in out.diagnostics if d.code == "FZ001"], out.diagnostics
        assert_locations_inside(text, out.diagnostics)
        assert_fix_is_safe(text)

    fuzz_programs.run_programs(check, EXAMPLES, FULL)


# a module-level importorskip would also skip every test below when it is missing
HYPOTHESMITH = importlib.util.find_spec("hypothesmith") is not None


@pytest.mark.skipif(not HYPOTHESMITH, reason="hypothesmith is not installed")
def test_grammar_programs_never_crash():
    import fuzz_programs

    def check(code: str, extra: str) -> None:
        for text in (code, code + "\n" + extra + "\n"):
            out = check_text(text, "g.py", ALL, force=True)  # must not raise, whatever the input
            assert_locations_inside(text, out.diagnostics)
            if not [d for d in out.diagnostics if d.code == "FZ001"]:
                assert_fix_is_safe(text)

    fuzz_programs.run_grammar(check, max(30, EXAMPLES // 5), FULL)


# ------------------------------------------------------------------ mutations of real code
def _package_files(name: str) -> list[Path]:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return []
    return sorted(p for loc in spec.submodule_search_locations for p in Path(loc).rglob("*.py"))


def _corpus() -> list[Path]:
    files = [*sorted((ROOT / "examples").rglob("*.py"))]
    rng = random.Random(0)
    for pkg in ("torchvision", "timm"):
        found = _package_files(pkg)
        # CI: 4 of each, 31 sources in all; every whole-file variant (one in turn) still meets
        # files of both packages, from 4 KB to 39 KB
        files += found if FULL else rng.sample(found, min(4, len(found)))
    return files


MISTAKE = b"\nmodel.requires_grad_ = False  # injected\nfor p in model.parameters():\n    p.require_grad = False\n"
# Byte-level variants of a source that still parses: each costs a full parse and fix.
WHOLE = ("clean", "crlf", "bom", "latin1", "mixed", "tabs")
# Damage that the parser mostly rejects early; cheap, so every source gets all of it.
DAMAGE = ("truncated", "flipped", "nul")


def _long_line(full: bool) -> bytes:
    """A 120 KB line. The deep budget makes it of 40,000 list items (libcst visits each one,
    seconds per file); the CI budget of 3,500 wide items, the same length at a tenth of the nodes."""
    items = b"1, " * 40000 if full else b"0x1234567890abcdef1234567890abcd, " * 3500
    return b"x = [" + items + b"]\n"


def _mutations(data: bytes, rng: random.Random, kinds: tuple[str, ...] | None = None) -> dict[str, bytes]:
    """The mutated copies of one source: all kinds, or only `kinds` (the rng advances the same
    either way, so a copy's bytes do not depend on which other kinds were made)."""
    cut = rng.randrange(len(data) + 1)
    flipped = bytearray(data + MISTAKE)
    for _ in range(3):
        i = rng.randrange(len(flipped))
        flipped[i] ^= 1 << rng.randrange(8)
    text = (data + MISTAKE).decode("utf-8", "replace")
    lines = text.splitlines(keepends=True)
    make = {
        "truncated": lambda: (data + MISTAKE)[:cut],
        "flipped": lambda: bytes(flipped),
        "nul": lambda: data[: cut] + b"\x00" + data[cut:] + MISTAKE,
        "bom": lambda: b"\xef\xbb\xbf" + data + MISTAKE,
        "latin1": lambda: b"# -*- coding: latin-1 -*-\n# caf\xe9\n" + data.decode("utf-8", "replace")
        .encode("latin-1", "replace") + MISTAKE,
        "crlf": lambda: (data + MISTAKE).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"),
        "mixed": lambda: "".join(l.rstrip("\r\n") + ("\r\n" if i % 2 else "\n") if l.endswith("\n") else l
                                 for i, l in enumerate(lines)).encode(),
        "tabs": lambda: (data + MISTAKE).replace(b"    ", b"\t"),
        "clean": lambda: data + MISTAKE,
        "long-line": lambda: data + MISTAKE + _long_line(FULL),
    }
    return {kind: build() for kind, build in make.items() if kinds is None or kind in kinds}


def _kinds_for(i: int) -> tuple[str, ...] | None:
    """Which mutations source `i` gets. The deep budget: all of them. The CI budget: all the
    damage, one whole-file variant in turn (so every variant meets sources of every size and
    every source is parsed and fixed once), and a long line for the first source."""
    if FULL:
        return None
    return (*DAMAGE, WHOLE[i % len(WHOLE)], *(("long-line",) if i < 1 else ()))


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "freezelint", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "NO_COLOR": "1"}, timeout=900)


def _clean_stderr(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    for line in stderr.splitlines():
        assert line.startswith("freezelint: "), line


def test_mutated_real_sources(tmp_path, capsys):
    rng = random.Random(1)
    originals: dict[str, bytes] = {}
    counts: dict[str, int] = {}
    for i, src in enumerate(_corpus()):
        for kind, data in _mutations(src.read_bytes(), rng, _kinds_for(i)).items():
            name = f"{kind}/{i:04}_{src.stem}.py"
            (tmp_path / kind).mkdir(exist_ok=True)
            (tmp_path / name).write_bytes(data)
            originals[name] = data
            counts[kind] = counts.get(kind, 0) + 1
    with capsys.disabled():
        print(f"\nmutated inputs: {sum(counts.values())} ({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))})")
    r = _run(tmp_path, "check", "--no-cache", "--format", "json", ".")
    assert r.returncode in (0, 1), r.stderr
    _clean_stderr(r.stderr)
    found = json.loads(r.stdout)
    by_file: dict[str, list] = {}
    for d in found:
        by_file.setdefault(d["filename"], []).append(d)
    for name, data in originals.items():
        text = data.decode("utf-8", "replace")
        lines = text.splitlines() or [""]
        for d in by_file.get(name, []):
            assert 1 <= d["location"]["row"] <= len(lines) + 1, (name, d)
    # every clean copy with the injected mistakes is found
    for name in originals:
        if name.startswith(("clean/", "crlf/", "bom/")):
            assert {"FZ101", "FZ103"} <= {d["code"] for d in by_file.get(name, [])}, name

    r = _run(tmp_path, "check", "--no-cache", "--fix", "--unsafe-fixes", "--format", "json", ".")
    assert r.returncode in (0, 1), r.stderr
    _clean_stderr(r.stderr)
    changed = 0
    for name, data in originals.items():
        new = (tmp_path / name).read_bytes()
        if new == data:
            continue
        changed += 1
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        assert tokenize.detect_encoding(io.BytesIO(new).readline)[0] == encoding, name
        assert new.startswith(b"\xef\xbb\xbf") == data.startswith(b"\xef\xbb\xbf"), name
        ast.parse(new.decode(encoding))
        assert_only_spans_changed(data.splitlines(keepends=True), new.splitlines(keepends=True),
                                  fix_spans(by_file.get(name, [])), name)
    assert changed >= len([n for n in originals if n.startswith("clean/")])


def test_hostile_files_and_directories(tmp_path):
    (tmp_path / "empty.py").write_bytes(b"")
    (tmp_path / "only_bom.py").write_bytes(b"\xef\xbb\xbf")
    (tmp_path / "nul.py").write_bytes(b"model.requires_grad_ = False\x00\n")
    (tmp_path / "bad_cookie.py").write_bytes(b"# -*- coding: klingon -*-\nmodel.requires_grad_ = False\n")
    (tmp_path / "deep.py").write_text("model.requires_grad_ = False\nx = " + "(" * 5000 + "1" + ")" * 5000 + "\n")
    (tmp_path / "deep_chain.py").write_text("model.requires_grad_ = False\nx = " + " if a else ".join(["b"] * 8000) + "\n")
    (tmp_path / "deep_valid.py").write_text("model.requires_grad_ = False\nx = " + "+".join(["a"] * 2900) + "\n")
    (tmp_path / "strings.py").write_text("model.requires_grad_ = False\nx = (" + " ".join(['"s"'] * 600) + ")\n")
    with open(tmp_path / "huge.py", "wb") as f:  # 1.1 MB, over the max-file-size
        f.write(b"model.requires_grad_ = False\n")
        f.write((b"x = 1  # padding padding padding padding padding padding padding padding\n") * 16_000)
    (tmp_path / "dir.py").mkdir()
    (tmp_path / "dir.py" / "inside.py").write_text("model.requires_grad_ = False\n")
    os.symlink(tmp_path, tmp_path / "loop")
    os.symlink(tmp_path / "nowhere", tmp_path / "dangling.py")
    nb = {"cells": [{"cell_type": "code", "source": ["%%time\n", "x = 1\n"]},
                    {"cell_type": "markdown", "source": "model.requires_grad_ = False"},
                    {"cell_type": "code", "source": 42},
                    {"cell_type": "code"}], "metadata": {}}
    (tmp_path / "weird.ipynb").write_text(json.dumps(nb))
    (tmp_path / "badjson.ipynb").write_text('{"cells": [')
    (tmp_path / "nocells.ipynb").write_text('{"nbformat": 4}')
    (tmp_path / "list.ipynb").write_text("[1, 2]")
    r = _run(tmp_path, "check", "--no-cache", "--format", "concise", ".")
    assert r.returncode == 1
    _clean_stderr(r.stderr)
    out = r.stdout
    size = (tmp_path / "huge.py").stat().st_size / 2**20
    assert size > 1 and f"note: huge.py: not checked: {math.ceil(size * 10) / 10} MB is over the max-file-size of 1 MB" in r.stderr
    for needle in ("nul.py:1:1: FZ001", "bad_cookie.py:1:1: FZ001", "deep.py:2:", "nested too deeply",
                   "deep_chain.py:1:1: FZ001", "dir.py/inside.py:1:1: FZ101", "badjson.ipynb:1:1: FZ001",
                   "nocells.ipynb:1:1: FZ001", "list.ipynb:1:1: FZ001", "weird.ipynb:1:1: FZ001 cell 3"):
        assert needle in out, (needle, out)
    assert "empty.py" not in out and "only_bom.py" not in out
    # valid code nested past Python's recursion limit (generated code): analysed all the same
    assert "deep_valid.py:1:1: FZ101" in out and "deep_valid.py:1:1: FZ001" not in out
    assert "strings.py:1:1: FZ101" in out and "strings.py:1:1: FZ001" not in out


def test_two_runs_sharing_a_cache_at_once(tmp_path):
    work = tmp_path / "src"
    for i in range(120):
        (work / f"pkg{i % 4}").mkdir(parents=True, exist_ok=True)
        body = "model.requires_grad_ = False\n" if i % 3 == 0 else "x = 1\n"
        (work / f"pkg{i % 4}" / f"m{i:03}.py").write_text("import torch\n" + body * (1 + i % 5))
    expected = _run(work, "check", "--no-cache", "--format", "json", "-j", "1", ".").stdout
    cache = tmp_path / "cache"
    cmd = [sys.executable, "-m", "freezelint", "check", "--cache-dir", str(cache), "--format", "json", "."]
    procs = [subprocess.Popen(cmd, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    for out, err in outs:
        assert json.loads(out) == json.loads(expected) and "Traceback" not in err
    assert json.loads(_run(work, "check", "--cache-dir", str(cache), "--format", "json", ".").stdout) == \
        json.loads(expected)
    entries = [p for p in cache.rglob("*") if p.is_file() and len(p.name) == 40]
    assert len(entries) >= 2 and all(json.loads(p.read_text()) for p in entries)
    for p in entries[:10]:  # a truncated entry is ignored and rebuilt
        p.write_text(p.read_text()[:5])
    assert json.loads(_run(work, "check", "--cache-dir", str(cache), "--format", "json", ".").stdout) == \
        json.loads(expected)


def test_form_feed_lines_are_counted_as_python_counts_them():
    # found by hypothesmith: `#\x0c` (a form feed) is not a line break to the tokenizer
    for text in ("#\x0c\nm.requires_grad_ = False\n", "#\x0c\nm.requires_grad_ = m.requires_grad_ = False\n"):
        out = check_text(text, "f.py", ALL, force=True)
        assert [d.row for d in out.diagnostics if d.code == "FZ101"][0] == 2
        assert_locations_inside(text, out.diagnostics)
        assert_fix_is_safe(text)
