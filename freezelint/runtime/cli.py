"""`freezelint audit path/to/file.py:factory`: audit what a factory builds."""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import itertools
import json
import sys
from pathlib import Path
from typing import Iterator

from freezelint.runtime.errors import AuditUsageError

_loads = itertools.count()


class AuditCliError(AuditUsageError):
    """One line for the user; exit 2."""


def add_arguments(a: argparse.ArgumentParser) -> None:
    """The `audit` subcommand's options (the main parser adds the subcommand)."""
    a.add_argument("target", help="FILE.py:FUNCTION, returning (model, optimizer[, batch]); optimizer may be a "
                                  "list or a dict of optimizers")
    a.add_argument("--steps", type=int, default=2, help="training steps to run on the model (default 2)")
    a.add_argument("--format", default="text", choices=("text", "json"),
                   help="the report as text (default) or as one JSON document")
    a.add_argument("--no-set-to-none", action="store_true",
                   help="step with optimizer.zero_grad(set_to_none=False), as loops that keep zeroed grads do")
    a.add_argument("--select", action="append", metavar="CODES",
                   help="codes or prefixes to count (comma-separated, repeatable; replaces the config's), e.g. FZ5")
    a.add_argument("--ignore", action="append", default=[], metavar="CODES",
                   help="codes to accept (comma-separated, repeatable): reported, but they do not fail the audit")
    a.add_argument("--config", metavar="FILE", help="pyproject.toml to read [tool.freezelint] from")
    a.add_argument("--strict", action="store_true", help="exit 1 on warnings too (default: only on errors)")
    a.add_argument("--verbose", "-v", action="store_true",
                   help="every name of grouped findings and every module of the tree")
    a.add_argument("--output-file", "-o", help="write the report here instead of stdout")
    a.add_argument("--expect-frozen", action="append", default=[], metavar="PATTERN",
                   help="a parameter name, module name or glob that must stay frozen (repeatable)")
    a.add_argument("--expect-trainable", action="append", default=[], metavar="PATTERN",
                   help="a parameter name, module name or glob that must train (repeatable)")


@contextlib.contextmanager
def loaded(target: str) -> Iterator:
    """The factory named by FILE.py:FUNCTION. Its module is registered in sys.modules under a
    unique name while the caller uses it (dataclasses, pickling and typing.get_type_hints look
    their module up there), and removed after."""
    path_text, sep, func = target.rpartition(":")
    if not sep or not path_text or not func:
        raise AuditCliError(f"expected FILE.py:FUNCTION, got {target!r}")
    path = Path(path_text)
    if path.is_dir():
        raise AuditCliError(f"{path_text} is a directory: give the file that defines {func or 'the factory'}")
    if not path.is_file():
        raise AuditCliError(f"no such file: {path_text}")
    if path.suffix != ".py":  # a notebook's JSON is no module to import
        raise AuditCliError(f"{path_text} is not a Python file: the factory must be in a .py file")
    name = f"_freezelint_audit_{path.stem}_{next(_loads)}"
    while name in sys.modules:
        name = f"_freezelint_audit_{path.stem}_{next(_loads)}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise AuditCliError(f"cannot import {path_text}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    folder = str(path.parent.resolve())
    sys.path.insert(0, folder)
    try:
        try:
            spec.loader.exec_module(module)
        except Exception as e:
            from freezelint.check.prefilter import wide_bom

            with open(path, "rb") as f:
                wide = wide_bom(f.read(4)) if isinstance(e, SyntaxError) else None
            why = (f"the file is {wide} (it starts with a {wide} byte-order mark): save it as UTF-8" if wide
                   else f"{type(e).__name__}: {e}")  # Python's "null bytes" would hide why
            raise AuditCliError(f"importing {path_text} failed: {why}") from None
        factory = getattr(module, func, None)
        if factory is None:
            raise AuditCliError(f"{path_text} has no function {func!r}")
        if not callable(factory):
            raise AuditCliError(f"{target} is {_a(type(factory).__name__)}, not a function")
        yield factory
    finally:
        if folder in sys.path:  # the factory may have taken it out itself
            sys.path.remove(folder)
        if sys.modules.get(name) is module:
            del sys.modules[name]


def load_factory(target: str):
    """The factory alone; its module is registered only while it loads (use `loaded` to keep it)."""
    with loaded(target) as factory:
        return factory


def _rank() -> int:
    # Not imported: no process group can be up, and a refusal before torch was needed does not
    # pay for its import (nor meet its failure to load, in a working directory removed since)
    dist = sys.modules.get("torch.distributed")
    return dist.get_rank() if dist is not None and dist.is_available() and dist.is_initialized() else 0


def _codes(values: list[str], option: str = "--ignore") -> list[str]:
    from freezelint.codes import check_codes

    try:
        return check_codes([c.strip() for v in values for c in v.split(",") if c.strip()], option)
    except ValueError as e:
        raise AuditCliError(str(e)) from None


def _accepted(target: str, select: list[str] | None, ignore: list[str], config_file: str | None) -> list[str]:
    """The codes accepted: --ignore's, and those the config and --select leave out, the config
    found from the factory's folder as `run` finds it from the script's."""
    from freezelint.config import ConfigError
    from freezelint.runtime.run_cli import accepted_codes

    codes = _codes(ignore)
    chosen = None if select is None else _codes(select, "--select")
    start = Path(target.rpartition(":")[0] or ".").absolute().parent
    try:
        return sorted({*codes, *accepted_codes(chosen, codes, config_file, start)})
    except ConfigError as e:
        raise AuditCliError(str(e)) from None


def _check_built(target: str, model, optimizer) -> None:
    """What the factory returned, judged in its own terms (audit()'s own refusals name its arguments)."""
    import torch

    if not isinstance(model, torch.nn.Module):
        raise AuditCliError(f"{target} returned {_a(type(model).__name__)} as the model (the first item): "
                            f"it must be an nn.Module")
    if not isinstance(optimizer, (torch.optim.Optimizer, dict, list, tuple)):
        raise AuditCliError(f"{target} returned {_a(type(optimizer).__name__)} as the optimizer (the second item): "
                            f"it must be a torch.optim.Optimizer, a list or a dict of them")


def _a(name: str) -> str:
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def _fail(line: str, fmt: str, output_file: str | None) -> int:
    """Exit 2 with one line on stderr; with --format json, also the document `freezelint run` writes
    then (`ok` false, `error` the line, no findings), so that `jq .ok` still reads a verdict."""
    print(f"freezelint: error: {line}", file=sys.stderr)
    if fmt == "json" and _rank() == 0:
        doc = json.dumps({"ok": False, "error": line, "exit_code": 2, "findings": []}, indent=2) + "\n"
        try:
            if output_file:
                Path(output_file).write_text(doc, encoding="utf-8")
            else:
                sys.stdout.write(doc)
        except OSError:
            pass  # the line above already says what failed
    return 2


def run_audit_cli(target: str, steps: int = 2, fmt: str = "text", set_to_none: bool = True,
                  ignore: list[str] | None = None, strict: bool = False, verbose: bool = False,
                  output_file: str | None = None, expect_frozen: list[str] | None = None,
                  expect_trainable: list[str] | None = None, select: list[str] | None = None,
                  config: str | None = None) -> int:
    try:
        import torch  # noqa: F401
    except ImportError:
        print("freezelint: error: the audit needs torch: pip install 'freezelint[audit]'", file=sys.stderr)
        return 2
    from freezelint.runtime.runner import audit

    try:
        if steps < 1:  # before the factory runs, as run checks it
            raise AuditCliError(f"--steps must be at least 1, got {steps}")
        codes = _accepted(target, select, ignore or [], config)
        for option, patterns in (("--expect-frozen", expect_frozen), ("--expect-trainable", expect_trainable)):
            if "" in (patterns or []):  # a bad argument, not a training step's failure
                raise AuditCliError(f"{option} takes a name pattern, got ''")
        if output_file and not Path(output_file).absolute().parent.is_dir():
            raise AuditCliError(f"cannot write {output_file}: no such directory")
        if output_file and Path(output_file).is_dir():  # before the factory runs, as a missing one
            raise AuditCliError(f"cannot write {output_file}: it is a directory")
        with loaded(target) as factory:
            try:
                built = factory()
            except Exception as e:
                raise AuditCliError(f"{target} raised {type(e).__name__}: {e}") from None
            if not isinstance(built, tuple) or len(built) not in (2, 3):
                raise AuditCliError(f"{target} must return (model, optimizer) or (model, optimizer, batch), "
                                    f"got {type(built).__name__}")
            model, optimizer, *rest = built
            _check_built(target, model, optimizer)
            try:
                report = audit(model, optimizer, steps=steps, batch=rest[0] if rest else None,
                               set_to_none=set_to_none, ignore=codes, expect_frozen=expect_frozen or (),
                               expect_trainable=expect_trainable or ())
            except AuditUsageError:
                raise
            except Exception as e:
                raise AuditCliError(f"a training step raised {type(e).__name__}: {e} (model and optimizer were "
                                    f"restored)") from None
    except AuditUsageError as e:  # its command-line wording where it has one (no API arguments)
        return _fail((e.cli or str(e)).splitlines()[0], fmt, output_file)
    report.verbose = verbose
    code = 1 if report.failed(strict) else 0
    if report.world_size > 1 and _rank() != 0:
        return code  # every rank has the same report; rank 0 prints it
    if output_file:
        text = (json.dumps(report.to_dict(), indent=2, default=str) + "\n" if fmt == "json"
                else report.render_text())  # never cut to a width
        try:
            Path(output_file).write_text(text, encoding="utf-8")
        except OSError as e:  # a CI gate must not pass without its report
            print(f"freezelint: error: cannot write {output_file}: {e.strerror or e}", file=sys.stderr)
            return 2
    elif fmt == "json":
        print(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        from rich.console import Console

        # piped: never cut to a width (a log or a CI page wraps it itself)
        Console(soft_wrap=True, highlight=False, width=None if sys.stdout.isatty() else 100_000).print(report)
    return code
