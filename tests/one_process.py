"""Several `python ARGV...` runs in one process, for tests whose subject is what a script or the
CLI prints and exits with, not its start-up: every fresh interpreter that imports torch (and
torchvision) costs seconds of CPU before it does anything.

`python tests/one_process.py SPEC` runs SPEC's JSON list of {"cwd", "argv"} one after another;
each writes `<cwd>/<prefix>.out` / `.err` (fd-level, so the C++ side's writes and the processes a
script starts land there too) and `<prefix>.json`: {"code": its exit status, "error": the traceback
of an exception it let out}. tests/torchrun_scenarios.py runs the same on every torchrun rank.
"""

from __future__ import annotations

import contextlib
import faulthandler
import json
import os
import runpy
import sys
import traceback
from pathlib import Path


@contextlib.contextmanager
def redirected(out: Path, err: Path):
    """fds 1 and 2 into files, for Python's and C++'s writes alike."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(out, "wb") as o, open(err, "wb") as e:
        os.dup2(o.fileno(), 1)
        os.dup2(e.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def _exit_code(e: SystemExit) -> int:
    if e.code is None:
        return 0
    return e.code if isinstance(e.code, int) else 1  # sys.exit("message") prints it and exits 1


def _as_python(argv: list[str]) -> int:
    """What `python ARGV...` would exit with (a script, or `-m freezelint`), in this process."""
    saved_argv, saved_path = sys.argv[:], sys.path[:]
    try:
        if argv[:2] == ["-m", "freezelint"]:
            from freezelint.cli import main

            sys.argv = ["freezelint", *argv[2:]]
            sys.path.insert(0, os.getcwd())  # as `python -m` does
            return main(argv[2:])
        script = os.path.abspath(argv[0])
        sys.argv = list(argv)
        sys.path.insert(0, os.path.dirname(script))  # as `python SCRIPT` does
        runpy.run_path(script, run_name="__main__")
        return 0
    except SystemExit as e:
        return _exit_code(e)
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path


def run(argv: list[str], cwd: Path, prefix: str) -> dict:
    """One run in `cwd`, its output in `cwd/<prefix>.out|err|json`; returns the json's content."""
    result: dict = {}
    home = os.getcwd()
    os.chdir(cwd)
    try:
        with redirected(cwd / f"{prefix}.out", cwd / f"{prefix}.err"):
            try:
                result["code"] = _as_python(argv)
            except BaseException:  # noqa: BLE001 — as Python would: print it, exit 1
                result["code"], result["error"] = 1, traceback.format_exc()
                print(result["error"], file=sys.stderr)
    finally:
        os.chdir(home)
    (cwd / f"{prefix}.json").write_text(json.dumps(result))
    return result


def main(spec_path: str) -> None:
    faulthandler.enable()
    for job in json.loads(Path(spec_path).read_text()):
        run(job["argv"], Path(job["cwd"]), "run")


if __name__ == "__main__":
    main(sys.argv[1])
