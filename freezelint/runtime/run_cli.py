"""`freezelint run [options] SCRIPT.py [args...]` / `freezelint run [options] -m MODULE [args...]`.

Runs the user's training script in this process as `__main__`, with its own arguments (as
`coverage run` does), watches its first `--steps` optimizer steps, prints the report and stops
it: exit 0 clean, 1 findings, 2 when the script ended or failed before the window closed, or on
bad usage (one line). `--no-stop` lets training run on; the report is printed when the window
closes and the exit code is decided when the script ends. Under torchrun every rank watches,
ranks are compared as `audit()` compares them, and rank 0 prints. On an FSDP2 model whose
requires_grad differs across ranks the script is stopped before the backward that would hang,
with `--no-stop` too: the report (FZ507) is printed and the exit code is 1.
"""

from __future__ import annotations

import importlib.util
import json
import os
import runpy
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class RunError(Exception):
    """One line for the user; exit 2."""


@dataclass
class RunOptions:
    target: str  # a script path, or a module name with module=True
    args: list[str] = field(default_factory=list)
    module: bool = False
    steps: int = 2
    stop: bool = True
    fmt: str = "text"
    output_file: str | None = None
    expect_frozen: list[str] = field(default_factory=list)
    expect_trainable: list[str] = field(default_factory=list)
    verbose: bool = False  # the script's traceback too, when it fails
    unwritten: bool = False  # set when the report could not be written to output_file: exit 2


def _rank() -> int:
    import torch.distributed as dist

    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def _emit(report: Any, opts: RunOptions) -> None:
    """Rank 0 prints (every rank holds the same report when ranks were compared)."""
    if _rank() != 0:
        return
    if opts.fmt == "json":
        text = json.dumps(report.to_dict(), indent=2, default=str) + "\n"
    else:
        text = report.render_text(width=160)
    if opts.output_file:
        try:
            Path(opts.output_file).write_text(text, encoding="utf-8")
        except OSError as e:
            print(f"freezelint: error: cannot write {opts.output_file}: {e.strerror or e}", file=sys.stderr)
            opts.unwritten = True  # a CI gate must not pass without its report
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def _where(exc: BaseException, script: str | None) -> str:
    """`file:line` of the innermost frame of the user's script (or of the last frame)."""
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames if script is not None and os.path.abspath(f.filename) == script]
    frame = (mine or frames or [None])[-1]
    return f" at {os.path.basename(frame.filename)}:{frame.lineno}" if frame is not None else ""


def _resolve(opts: RunOptions) -> tuple[str, str | None]:
    """argv[0] for the script and its absolute path (None for a module that is not a file)."""
    if opts.module:
        try:
            spec = importlib.util.find_spec(opts.target)
        except (ImportError, ValueError) as e:
            raise RunError(f"cannot find module {opts.target!r}: {e}") from None
        if spec is None:
            raise RunError(f"no module named {opts.target!r}")
        origin = spec.origin if spec.origin not in (None, "built-in", "frozen") else None
        return origin or opts.target, os.path.abspath(origin) if origin else None
    path = Path(opts.target)
    if not path.is_file():
        raise RunError(f"no such file: {opts.target}")
    return str(path), str(path.resolve())


def run_script(opts: RunOptions) -> int:
    try:
        import torch  # noqa: F401
    except ImportError:
        print("freezelint: error: `freezelint run` needs torch: pip install 'freezelint[audit]'", file=sys.stderr)
        return 2
    from freezelint.runtime.runner import AuditUsageError
    from freezelint.runtime.watch import Watch, WindowComplete

    saved_argv, saved_path = sys.argv[:], sys.path[:]
    try:
        if opts.module:
            sys.path.insert(0, os.getcwd())  # as `python -m` does, before the module is looked up
        argv0, script = _resolve(opts)
        if opts.output_file and not Path(opts.output_file).absolute().parent.is_dir():
            raise RunError(f"cannot write {opts.output_file}: no such directory (checked before running the script)")
        watch = Watch(opts.steps, expect_frozen=opts.expect_frozen, expect_trainable=opts.expect_trainable,
                      stop=opts.stop, on_report=None if opts.stop else (lambda r: _emit(r, opts)))
    except (RunError, AuditUsageError) as e:
        sys.path[:] = saved_path
        print(f"freezelint: error: {e}", file=sys.stderr)
        return 2
    sys.argv = [argv0, *opts.args]
    if not opts.module:
        sys.path.insert(0, os.path.dirname(script or ""))  # as `python SCRIPT.py` puts the script's folder first
    failure: BaseException | None = None
    exit_code: Any = 0
    stopped = False
    try:
        with watch:
            if opts.module:
                runpy.run_module(opts.target, run_name="__main__", alter_sys=True)
            else:
                runpy.run_path(script, run_name="__main__")
    except WindowComplete:
        stopped = True
    except SystemExit as e:
        exit_code = e.code
    except KeyboardInterrupt:
        print("freezelint: interrupted", file=sys.stderr)
        return 130
    except BaseException as e:  # noqa: BLE001 — the user's script failed; one line says where
        failure = None if watch.halted else e  # halted: the watch's own FreezeAuditError (--no-stop)
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
        watch.close()

    name = os.path.basename(argv0)
    if failure is not None and opts.verbose:
        traceback.print_exception(failure)
    if watch.error is not None and opts.verbose:
        traceback.print_exception(watch.error)
    if watch.error is not None:
        print(f"freezelint: error: {str(watch.error).splitlines()[0]}", file=sys.stderr)
        return 2
    if not watch.done:
        seen = watch.steps_seen
        if failure is not None:
            cause = f"raised {type(failure).__name__}: {str(failure).splitlines()[0] if str(failure) else ''}"
            cause = cause.rstrip(": ") + _where(failure, script)
        elif exit_code not in (0, None):
            cause = f"exited with status {exit_code}"
        else:
            cause = "ended"
        print(f"freezelint: error: {name} {cause} after {seen} of {opts.steps} optimizer steps"
              + ("" if watch.started else " (no optimizer step was observed)"), file=sys.stderr)
        return 2
    report = watch.report
    if opts.stop and not stopped and not watch.halted:
        print(f"freezelint: note: {name} caught the stop raised after the window (a bare `except:`?) and ran "
              f"on; the report is of the {opts.steps} watched steps", file=sys.stderr)
    if opts.stop or watch.halted:
        if opts.stop:
            _emit(report, opts)  # else on_report printed it
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            # every rank holds the report here: wait for rank 0's print, or torchrun, seeing a rank
            # exit 1 first, kills rank 0 before it has printed
            dist.barrier()
            dist.destroy_process_group()  # the script was stopped before it could
    elif failure is not None or exit_code not in (0, None):
        what = (f"raised {type(failure).__name__}{_where(failure, script)}" if failure is not None
                else f"exited with status {exit_code}")
        print(f"freezelint: error: {name} {what} after the watched window", file=sys.stderr)
        return 2
    if opts.unwritten:
        return 2
    return 0 if report.ok else 1
