"""Every example is a runnable script: the mistakes in them are silent, so they all run."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import ROOT

pytest.importorskip("torch")

RUNNER = """
import runpy, sys, pathlib, io, contextlib
ran = []
for path in sys.argv[1:]:
    p = pathlib.Path(path)
    sys.path.insert(0, str(p.parent))
    with contextlib.redirect_stdout(io.StringIO()):
        runpy.run_path(str(p), run_name="__main__")
    sys.path.pop(0)
    ran.append(p.name)
print("ran", len(ran))
"""


def test_all_example_scripts_run():
    scripts = sorted(str(p) for p in (ROOT / "examples").rglob("*.py") if not p.name.startswith("_"))
    p = subprocess.run([sys.executable, "-c", RUNNER, *scripts], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    assert p.stdout.strip() == f"ran {len(scripts)}"
