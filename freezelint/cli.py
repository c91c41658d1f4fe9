"""`freezelint check | audit | rule | rules`.

Exit codes: 0 clean, 1 findings (or files that could not be checked), 2 usage or internal error.
Errors are one line; `--verbose` adds the traceback.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from freezelint import __version__

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
PROGRESS_MIN_FILES = 200


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not the whole usage block
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _codes(value: str) -> list[str]:
    return [c.strip() for c in value.split(",") if c.strip()]


def _add_check(sub) -> None:
    p = sub.add_parser("check", help="check files and directories for freezing mistakes")
    p.add_argument("paths", nargs="*", help="files or directories (default: .)")
    fix = p.add_argument_group("fixing")
    fix.add_argument("--fix", action="store_true", help="apply safe fixes in place")
    fix.add_argument("--unsafe-fixes", action="store_true", help="with --fix or --diff, also apply unsafe fixes")
    fix.add_argument("--diff", action="store_true", help="print the fixes as a diff instead of writing them")
    fix.add_argument("--show-fixes", action="store_true", help="list the files that --fix changed")
    sel = p.add_argument_group("rule selection")
    sel.add_argument("--select", type=_codes, help="codes or prefixes to report (replaces the config's)")
    sel.add_argument("--ignore", type=_codes, help="codes or prefixes to leave out")
    sel.add_argument("--extend-select", type=_codes, help="codes or prefixes to add")
    sel.add_argument("--per-file-ignores", action="append", metavar="PATTERN:CODES",
                     help="ignore codes in matching files, e.g. 'tests/*:FZ102'")
    files = p.add_argument_group("file selection")
    files.add_argument("--exclude", type=_codes, help="patterns to exclude (replaces the defaults)")
    files.add_argument("--extend-exclude", type=_codes, help="patterns to exclude besides the defaults")
    files.add_argument("--force-exclude", action="store_true",
                       help="apply exclusions to files passed explicitly too (for pre-commit)")
    out = p.add_argument_group("output")
    out.add_argument("--format", "--output-format", dest="format", default="text",
                     choices=("text", "concise", "json", "github", "sarif", "junit"))
    out.add_argument("--output-file", "-o", help="write the report here instead of stdout")
    out.add_argument("--statistics", action="store_true", help="count findings per code")
    out.add_argument("--exit-zero", action="store_true", help="exit 0 even when there are findings")
    out.add_argument("--quiet", "-q", action="store_true", help="print findings only, no summary")
    out.add_argument("--no-progress", action="store_true", help="no progress bar")
    run = p.add_argument_group("run")
    run.add_argument("--config", help="pyproject.toml to read [tool.freezelint] from")
    run.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    run.add_argument("--cache-dir", help="cache directory (default: .freezelint_cache in the project root)")
    run.add_argument("--jobs", "-j", type=int, help="worker processes (default: one per CPU)")
    run.add_argument("--verbose", "-v", action="store_true", help="tracebacks on internal errors")
    run.add_argument("--show-project", action="store_true",
                     help="print (to stderr) the project root, the files whose summaries were used and the "
                          "cross-file edges the analysis followed")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="freezelint", description="Catch PyTorch layer-freezing mistakes.")
    parser.add_argument("--version", action="version", version=f"freezelint {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    _add_check(sub)
    r = sub.add_parser("rule", help="explain a rule")
    r.add_argument("code")
    rs = sub.add_parser("rules", help="list the rules")
    rs.add_argument("--json", action="store_true", help="as JSON")
    rs.add_argument("--markdown", metavar="DIR", help="write one Markdown page per code into DIR")
    a = sub.add_parser("audit", help="run the runtime audit on a model factory: path/to/file.py:factory",
                       epilog="Under torchrun, a factory that returns a DistributedDataParallel model is audited on "
                              "every rank; rank 0 prints the shared report and every rank exits 1 on findings.")
    a.add_argument("target", help="FILE.py:FUNCTION, returning (model, optimizer[, batch])")
    a.add_argument("--steps", type=int, default=2)
    a.add_argument("--format", default="text", choices=("text", "json"))
    a.add_argument("--no-set-to-none", action="store_true",
                   help="step with optimizer.zero_grad(set_to_none=False), as loops that keep zeroed grads do")
    a.add_argument("--verbose", "-v", action="store_true")
    return parser


def _progress(enabled: bool):
    """A rich progress bar on stderr, or None."""
    if not enabled:
        return None, None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from rich.console import Console

    bar = Progress("checking", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=Console(stderr=True), transient=True)
    state = {"task": None}

    def update(done: int, total: int) -> None:
        if total < PROGRESS_MIN_FILES:
            return
        if state["task"] is None:
            bar.start()
            state["task"] = bar.add_task("check", total=total)
        bar.update(state["task"], completed=done)

    return bar, update


def cmd_check(args) -> int:
    from freezelint import config as config_mod
    from freezelint.check.discover import MissingPath
    from freezelint.check.runner import check_paths
    from freezelint.output import render

    cfg = config_mod.load(Path(args.config) if args.config else None)
    cfg = config_mod.merge_cli(cfg, select=args.select, ignore=args.ignore, extend_select=args.extend_select,
                               exclude=args.exclude, extend_exclude=args.extend_exclude,
                               per_file_ignores=args.per_file_ignores, cache_dir=args.cache_dir)
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    fix = None
    if args.fix or args.diff:
        fix = "unsafe" if args.unsafe_fixes else "safe"
    paths = args.paths if args.paths else ["."]
    bar, update = _progress(not args.no_progress and not args.quiet and sys.stderr.isatty())
    try:
        run = check_paths(paths, cfg, fix=fix, write=not args.diff, force_exclude=args.force_exclude,
                          use_cache=not args.no_cache, jobs=args.jobs, progress=update)
    except MissingPath as e:
        raise UsageError(f"no such file or directory: {e}") from None
    finally:
        if bar is not None:
            bar.stop()
    for err in run.errors:
        print(f"freezelint: {err}", file=sys.stderr)
    if getattr(args, "show_project", False):
        _show_project(run)
    if args.diff:
        text = _diff(run)
    else:
        text = render(args.format, run, show_fixes=args.show_fixes, statistics=args.statistics,
                      color=False if args.output_file else None, quiet=args.quiet)
    if args.output_file:
        try:
            Path(args.output_file).write_text(text, encoding="utf-8")
        except OSError as e:
            raise UsageError(f"cannot write {args.output_file}: {e.strerror or e}") from None
    else:
        sys.stdout.write(text)
    if args.exit_zero:
        return EXIT_CLEAN
    if args.diff:
        return EXIT_FINDINGS if run.changes else EXIT_CLEAN
    return EXIT_FINDINGS if (run.diagnostics or run.errors) else EXIT_CLEAN


def _show_project(run) -> None:
    from freezelint.check.runner import display_path

    used = sorted({p.partition("#class ")[0] for p in run.summarised})  # "#class": read its class line only
    lines = [f"project root: {run.project_root}", f"files summarised and used: {len(used)}"]
    lines += [f"  {display_path(Path(p))}" for p in used]
    lines.append(f"cross-file edges followed: {len(run.edges)}")
    lines += [f"  {e}" for e in run.edges]
    print("\n".join(lines), file=sys.stderr)


def _diff(run) -> str:
    out = []
    for path, old, new in run.changes:
        a = old.decode("utf-8", "replace").splitlines(keepends=True)
        b = new.decode("utf-8", "replace").splitlines(keepends=True)
        out.extend(difflib.unified_diff(a, b, f"a/{path}", f"b/{path}"))
    if run.changes:
        out.append(f"\nWould fix {run.fixed} finding{'s' if run.fixed != 1 else ''} "
                   f"in {len(run.changes)} file{'s' if len(run.changes) != 1 else ''}.\n")
    return "".join(out)


def cmd_rule(args) -> int:
    from freezelint import codes
    from freezelint.check.docs import documented_codes, page

    code = args.code.upper()
    if code not in codes.CATALOGUE:
        raise UsageError(f"unknown rule {args.code!r}; `freezelint rules` lists them")
    if code not in documented_codes():
        info = codes.get(code)
        sys.stdout.write(f"# {code} {info.name}\n\n{info.summary}.\n\nNot implemented yet in this version.\n")
        return EXIT_CLEAN
    text = page(code)
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.markdown import Markdown

        Console().print(Markdown(text))
    else:
        sys.stdout.write(text)
    return EXIT_CLEAN


def cmd_rules(args) -> int:
    from freezelint import codes
    from freezelint.check.docs import where, write_pages

    if args.markdown:
        written = write_pages(Path(args.markdown))
        print(f"wrote {len(written)} pages to {args.markdown}")
        return EXIT_CLEAN
    rows = [{"code": c.code, "name": c.name, "summary": c.summary, "severity": c.severity,
             "fix": c.fix, "found_by": where(c.code), "url": c.url} for c in codes.CATALOGUE.values()]
    if args.json:
        import json

        print(json.dumps(rows, indent=2))
        return EXIT_CLEAN
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for col in ("code", "name", "severity", "fix", "found by"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["code"], r["name"], r["severity"], r["fix"] or "-", r["found_by"])
    Console(width=200 if not sys.stdout.isatty() else None).print(table)
    return EXIT_CLEAN


def cmd_audit(args) -> int:
    from freezelint.runtime.cli import run_audit_cli

    return run_audit_cli(args.target, steps=args.steps, fmt=args.format, set_to_none=not args.no_set_to_none)


def main(argv: list[str] | None = None) -> int:
    from freezelint.config import ConfigError

    parser = build_parser()
    verbose = False
    try:
        args = parser.parse_args(argv)
        verbose = getattr(args, "verbose", False)
        if args.command is None:
            parser.print_help()
            return EXIT_ERROR
        handler = {"check": cmd_check, "rule": cmd_rule, "rules": cmd_rules, "audit": cmd_audit}[args.command]
        return handler(args)
    except (UsageError, ConfigError) as e:
        print(f"freezelint: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("freezelint: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_CLEAN
    except SystemExit as e:  # --help / --version
        return int(e.code or 0) if isinstance(e.code, int) else EXIT_CLEAN
    except Exception as e:  # noqa: BLE001 — the user gets one line, not a traceback
        if verbose:
            import traceback

            traceback.print_exc()
        print(f"freezelint: internal error: {type(e).__name__}: {e} (run with --verbose for the traceback)",
              file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
