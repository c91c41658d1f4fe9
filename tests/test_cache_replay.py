"""A warm run says what a cold one says after any edit: each cross-file project pair of
tests/projects is checked warm, then turned into its twin one file at a time (edited, added or
removed, with later metadata; in both orders), and after every step the cached result must equal `--no-cache`'s."""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import time
from pathlib import Path

import pytest
from conftest import ROOT

PROJECTS = ROOT / "tests" / "projects"
OLD = 10**9 * (int(time.time()) - 3600)  # old enough for metadata to be trusted
PAIRS = sorted(p.name[: -len("_bad")] for p in PROJECTS.glob("*_bad") if (PROJECTS / f"{p.name[:-4]}_good").is_dir())


def _files(d: Path) -> set[str]:
    return {str(p.relative_to(d)) for p in d.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def _codes(cli, root: Path, *args: str) -> list[tuple]:
    r = cli(root, "check", "--format", "json", *args, ".")
    assert r.code in (0, 1), r.err
    return sorted((d["filename"], d["location"]["row"], d["code"]) for d in json.loads(r.out))


@pytest.mark.parametrize("order", ["sorted", "reversed"])
@pytest.mark.parametrize("direction", ["good_to_bad", "bad_to_good"])
@pytest.mark.parametrize("pair", PAIRS)
def test_a_warm_run_says_what_a_cold_one_says_after_each_edit(cli, tmp_path, pair, direction, order):
    src, dst = (PROJECTS / f"{pair}_good", PROJECTS / f"{pair}_bad")[:: 1 if direction == "good_to_bad" else -1]
    work = tmp_path / "p"
    shutil.copytree(src, work, ignore=shutil.ignore_patterns("__pycache__"))
    for f in work.rglob("*"):
        os.utime(f, ns=(OLD, OLD))
    _codes(cli, work)
    _codes(cli, work)  # warm: every result now comes from the cache
    changed = sorted(f for f in _files(src) | _files(dst)
                     if not ((src / f).exists() and (dst / f).exists() and filecmp.cmp(src / f, dst / f, shallow=False)))
    assert changed
    if order == "reversed":
        changed.reverse()
    for i, name in enumerate(changed, 1):
        if (dst / name).exists():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(dst / name, work / name)
            os.utime(work / name, ns=(OLD + i * 10**9, OLD + i * 10**9))
        else:
            (work / name).unlink()
        assert _codes(cli, work) == _codes(cli, work, "--no-cache"), f"after {name} became {dst.name}'s"
