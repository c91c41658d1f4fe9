"""`freezelint check | audit | run | rule | rules | server`; `freezelint PATH ...` means `freezelint check PATH ...`.

Exit codes: 0 clean, 1 findings (or files that could not be checked), 2 usage or internal error
(an internal error while checking one file is reported for that file, and the others are checked).
A run that checks nothing (no Python file under the paths, or every one excluded; a selection
that leaves no rule) warns on stderr and exits 0, as ruff does; `--select ""` is a usage error.
Errors are one line; `--verbose` adds the traceback.

Each subcommand is one `_add_<name>` (its parser) and one `cmd_<name>` (its work), registered
in COMMANDS: adding a subcommand touches no other block.
"""

from __future__ import annotations

import argparse
import difflib
import glob
import os
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
    p = sub.add_parser("check", help="check files and directories for freezing mistakes",
                       epilog="Exit status: 0 no findings, 1 findings (or a file that could not be checked), "
                              "2 a usage error or a bug in freezelint. Config: [tool.freezelint] in the nearest "
                              "pyproject.toml; a rule's page: `freezelint rule FZ102`.")
    p.add_argument("paths", nargs="*",
                   help="files or directories (default: .); `-` reads one file's source from stdin")
    fix = p.add_argument_group("fixing")
    fix.add_argument("--fix", action="store_true",
                     help="apply safe fixes in place (with `-`: print the fixed source to stdout, the report "
                          "to stderr)")
    fix.add_argument("--unsafe-fixes", action="store_true", help="with --fix or --diff, also apply unsafe fixes")
    fix.add_argument("--diff", action="store_true", help="print the fixes as a diff instead of writing them")
    fix.add_argument("--show-fixes", action="store_true", help="list the files that --fix changed")
    fix.add_argument("--add-noqa", action="store_true",
                     help="add `# noqa: CODE` where each finding reported is read, so that the next run is "
                          "clean (to adopt freezelint in an existing codebase, then fix the old findings "
                          "later); exit 0, or 1 when a file could not be read or written; not with --fix, "
                          "--diff or `-`")
    sel = p.add_argument_group("rule selection")
    sel.add_argument("--select", type=_codes, action="extend", metavar="CODES",
                     help="codes or prefixes to report, comma-separated (replaces the config's)")
    sel.add_argument("--ignore", type=_codes, action="extend", metavar="CODES", help="codes or prefixes to leave out")
    sel.add_argument("--extend-select", type=_codes, action="extend", metavar="CODES", help="codes or prefixes to add")
    sel.add_argument("--per-file-ignores", action="append", metavar="PATTERN:CODES",
                     help="ignore codes in matching files, e.g. 'tests/*:FZ102'")
    files = p.add_argument_group("file selection")
    files.add_argument("--exclude", type=_codes, action="extend", metavar="PATTERNS",
                       help="patterns to exclude (replaces the defaults: .venv, build, site-packages, ...)")
    files.add_argument("--extend-exclude", type=_codes, action="extend", metavar="PATTERNS",
                       help="patterns to exclude besides the defaults")
    files.add_argument("--force-exclude", action="store_true",
                       help="apply exclusions to files passed explicitly too (for pre-commit)")
    files.add_argument("--max-file-size", metavar="SIZE",
                       help="leave out files larger than this, with a note (e.g. 2MB, 512kB; 0: no limit; "
                            "default: 1MB, which libcst takes 10-15 s to parse)")
    files.add_argument("--stdin-filename", metavar="PATH",
                       help="the path of the source read from stdin (`-`), for messages, config, "
                            "per-file-ignores, --force-exclude and the analysis of the rest of its project, "
                            "which reads that source in place of the file on disk")
    out = p.add_argument_group("output")
    out.add_argument("--format", "--output-format", dest="format", default="text",
                     choices=("text", "concise", "json", "github", "sarif", "junit"),
                     help="how findings are written (default: text, with the source lines)")
    out.add_argument("--output-file", "-o", metavar="FILE", help="write the report here instead of stdout")
    out.add_argument("--statistics", action="store_true",
                     help="count findings per code (text, concise or json)")
    out.add_argument("--exit-zero", action="store_true", help="exit 0 even when there are findings")
    out.add_argument("--quiet", "-q", action="store_true", help="print findings only, no summary")
    out.add_argument("--no-progress", action="store_true", help="no progress bar")
    out.add_argument("--docs-url", metavar="TEMPLATE",
                     help="where finding links point, `{code}` replaced (e.g. a mirror of the rules/ pages); "
                          "none by default")
    run = p.add_argument_group("run")
    run.add_argument("--config", metavar="FILE", help="pyproject.toml to read [tool.freezelint] from")
    run.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    run.add_argument("--cache-dir", metavar="DIR",
                     help="cache directory (default: .freezelint_cache beside the pyproject.toml that configures "
                          "freezelint, else in the project root: the nearest pyproject.toml or .git above the "
                          "paths; else the working directory; --show-project prints it)")
    run.add_argument("--jobs", "-j", type=int, metavar="N", help="worker processes (default: one per CPU)")
    run.add_argument("--verbose", "-v", action="store_true", help="tracebacks on internal errors")
    run.add_argument("--show-project", action="store_true",
                     help="print (to stderr) the project root, the files whose summaries were used and, under "
                          "each finding, the cross-file edges it used (with --verbose: every edge followed)")


def _add_rule(sub) -> None:
    r = sub.add_parser("rule", help="explain a rule")
    r.add_argument("code", help="a code (FZ102) or a rule's name (requires-grad-on-module)")


def _add_rules(sub) -> None:
    rs = sub.add_parser("rules", help="list the rules")
    rs.add_argument("--json", action="store_true", help="as JSON")
    rs.add_argument("--markdown", metavar="DIR", help="write one Markdown page per code into DIR")


def _add_audit(sub) -> None:
    a = sub.add_parser("audit", help="run the runtime audit on a model factory: path/to/file.py:factory",
                       epilog="Codes follow the select/ignore/extend-select of [tool.freezelint] in the nearest "
                              "pyproject.toml above the factory's file and --select/--ignore, as for run; codes left "
                              "out are listed as ignored and do not count. "
                              "Under torchrun, a factory that returns a DistributedDataParallel model is audited on "
                              "every rank; rank 0 prints the shared report and every rank exits with the same code.")
    from freezelint.runtime.cli import add_arguments

    add_arguments(a)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="freezelint", description="Catch PyTorch layer-freezing mistakes.",
                     epilog="`freezelint PATH ...` is short for `freezelint check PATH ...`.")
    parser.add_argument("--version", action="version", version=f"freezelint {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    for add, _handler in COMMANDS.values():
        add(sub)
    return parser


_GLOB_CHARS = frozenset("*?[")


_SOURCE_SUFFIXES = (".py", ".pyi", ".ipynb")


def _is_path_or_glob(arg: str) -> bool:
    """A path (one that does not exist too, when it reads as one: `trian.py`, `src/`), or a glob:
    check then says what is missing, where the subcommand parser would list its commands."""
    return (os.path.lexists(arg) or bool(_GLOB_CHARS & set(arg)) or arg.endswith(_SOURCE_SUFFIXES)
            or "/" in arg or os.sep in arg)


def _implied_check(argv: list[str]) -> list[str]:
    """`freezelint PATH ...` is `freezelint check PATH ...`: when the first argument is no
    subcommand and is an existing path or a glob, or is a check option followed somewhere by one
    (`freezelint --force-exclude a.py`, as a pre-commit entry passes it)."""
    if not argv or argv[0] in COMMANDS or argv[0] in ("-h", "--help", "--version"):
        return argv
    if argv[0].startswith("-"):
        implied = any(not a.startswith("-") and _is_path_or_glob(a) for a in argv[1:])
    else:
        implied = _is_path_or_glob(argv[0])
    return ["check", *argv] if implied else argv


# what users of other linters type for these (ruff's old `--explain`, pylint's `--help-msg`)
_COMMAND_ALIASES = {"explain": "rule", "help-msg": "rule", "list": "rules", "lint": "check", "fix": "check --fix",
                    "help": "--help"}


def _unknown_command(argv: list[str]) -> None:
    """`freezelint explain FZ102`, `freezelint chek .`: one line naming the command meant, where
    argparse would list every choice and the short form `freezelint PATH` would not apply."""
    if not argv or argv[0].startswith("-") or argv[0] in COMMANDS:
        return
    word = argv[0]
    meant = _COMMAND_ALIASES.get(word) or next(iter(difflib.get_close_matches(word, list(COMMANDS), 1, 0.6)), None)
    hint = f": did you mean `freezelint {meant}`?" if meant else ""
    raise UsageError(f"unknown command {word!r}{hint} (commands: {', '.join(COMMANDS)}; "
                     f"`freezelint PATH` checks a file or directory that exists)")


def _check_option_first(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """`freezelint --fix` with no path: argparse would say "unrecognized arguments: --fix"; say
    whose option it is instead (the short form needs a path to tell it from a typo)."""
    if not argv or not argv[0].startswith("-") or argv[0] in ("-h", "--help", "--version"):
        return
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if argv[0].split("=")[0] in sub.choices["check"]._option_string_actions:
        raise UsageError(f"{argv[0]} is an option of check: give the files (`freezelint {argv[0]} PATH ...`), "
                         f"or `freezelint check {argv[0]}` for the working directory")


def _expand_globs(paths: list[str]) -> list[str]:
    """Patterns the shell left unexpanded (quoted, or on Windows) are expanded here; a path that
    exists is taken as it is, even when its name holds glob characters."""
    out: list[str] = []
    for raw in paths:
        if os.path.lexists(raw) or not (_GLOB_CHARS & set(raw)):
            out.append(raw)
            continue
        matches = sorted(_glob(raw))
        if not matches:
            raise UsageError(f"no file or directory matches {raw!r}")
        out.extend(matches)
    return out


def _glob(pattern: str) -> list[str]:
    """`glob.glob(pattern, recursive=True)`, except that `**` does not follow symbolic links to
    directories: glob's does, and a link loop (`ln -s .. sub/up`) makes it run for ever."""
    parts = pattern.replace(os.sep, "/").split("/")
    if "**" not in parts:
        return glob.glob(pattern)
    fixed = next(i for i, part in enumerate(parts) if _GLOB_CHARS & set(part))
    root = "/".join(parts[:fixed]) or ("/" if pattern.startswith(("/", os.sep)) else "")
    wanted = parts[fixed:]
    out = []
    for here, dirs, files in os.walk(root or ".", followlinks=False):
        rel = os.path.relpath(here, root or ".")
        rel_parts = [] if rel == "." else rel.replace(os.sep, "/").split("/")
        # as glob: a wildcard matches no hidden name, so a hidden directory is entered only where
        # the pattern names it (`**/.hidden/*.py` goes into `.hidden`, not into `.venv` or `.git`)
        dirs[:] = [d for d in dirs if not d.startswith(".") or _glob_match([*rel_parts, d], wanted, prefix=True)]
        for name in sorted(dirs + files):
            if _glob_match([*rel_parts, name], wanted):
                out.append(os.path.join(root, *rel_parts, name) if root else os.path.join(*rel_parts, name))
    return out


def _glob_match(names: list[str], patterns: list[str], prefix: bool = False) -> bool:
    """Whether path components match pattern components, `**` standing for any number of them
    that are not hidden (as glob's own `**`); with `prefix`, whether they could begin a match."""
    import fnmatch

    if not names:
        return prefix or not patterns or patterns == ["**"]
    if not patterns:
        return False
    if patterns[0] == "**":
        return (_glob_match(names, patterns[1:], prefix)
                or (not names[0].startswith(".") and _glob_match(names[1:], patterns, prefix)))
    return (not (names[0].startswith(".") and not patterns[0].startswith("."))
            and fnmatch.fnmatch(names[0], patterns[0]) and _glob_match(names[1:], patterns[1:], prefix))


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
    from freezelint.output import STATISTICS_FORMATS, render

    stdin = _reads_stdin(args)
    where = [args.stdin_filename] if stdin and args.stdin_filename is not None else args.paths
    cfg = config_mod.load(Path(args.config) if args.config else None, start=config_mod.search_start(where))
    cfg = config_mod.merge_cli(cfg, select=args.select, ignore=args.ignore, extend_select=args.extend_select,
                               exclude=args.exclude, extend_exclude=args.extend_exclude,
                               per_file_ignores=args.per_file_ignores, cache_dir=args.cache_dir,
                               max_file_size=args.max_file_size)
    if args.docs_url is not None:
        cfg.docs_url = args.docs_url or None
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if args.output_file and not Path(args.output_file).absolute().parent.is_dir():
        # before any work: --fix would otherwise write the fixes and lose the report of them
        raise UsageError(f"cannot write {args.output_file}: no such directory (nothing was checked or fixed)")
    if args.output_file and os.path.isdir(args.output_file):
        raise UsageError(f"cannot write {args.output_file}: it is a directory (nothing was checked or fixed)")
    if not args.no_cache and cfg.cache_dir is not None and cfg.cache_dir.exists() and not cfg.cache_dir.is_dir():
        # a cache that cannot be written is only a slower run, but one named as a file is a mistake
        from freezelint.check.runner import display_path

        raise UsageError(f"the cache directory {display_path(cfg.cache_dir)} is a file: name a directory "
                         f"(--cache-dir, cache-dir), or pass --no-cache")
    if args.statistics and args.format not in STATISTICS_FORMATS and not args.diff:
        raise UsageError(f"--statistics cannot be written as {args.format}: use --format "
                         f"{', '.join(STATISTICS_FORMATS[:-1])} or {STATISTICS_FORMATS[-1]}")
    if args.select is not None and not args.select:  # `--select ""`, e.g. from an unset variable
        raise UsageError("--select names no code: give codes or prefixes (e.g. FZ1, FZ102, ALL)")
    if cfg.named_always_reported() and not args.quiet:  # as ruff says of its syntax errors
        print("freezelint: warning: FZ001 is always reported (a file that does not parse was not checked): "
              "ignoring it does nothing", file=_stderr())
    if args.add_noqa:
        return _add_noqa(args, cfg)
    fix = None
    if args.fix or args.diff:
        fix = "unsafe" if args.unsafe_fixes else "safe"
    source = None  # with `-`: the source to hand back (fixed, or as it came)
    if stdin:
        run, source = _check_stdin(args, cfg, fix)
    else:
        paths = _expand_globs(args.paths) if args.paths else ["."]
        run = _check_files(args, cfg, paths, fix)
    run.unsafe_fixes = bool(args.unsafe_fixes)
    if not args.quiet:
        _print_skipped(run)
    _print_errors(run, args.verbose)
    if not args.quiet:
        named_files = bool(args.force_exclude and args.paths and all(os.path.isfile(p) for p in args.paths))
        _warn_if_nothing_checked(run, cfg, stdin, named_files)
    unchecked = [d for d in run.diagnostics if d.code == "FZ001"]
    if getattr(args, "show_project", False):
        _show_project(run, every=args.verbose)
    if args.diff:
        for d in unchecked:  # --diff prints no findings, but a file it could not read must show
            print(f"freezelint: {d.location}: {d.code} {d.message}", file=_stderr())
        report = _diff(run)  # bytes: each file's lines in its own encoding, as git applies them
    else:
        report = render(args.format, run, show_fixes=args.show_fixes, statistics=args.statistics,
                        color=False if args.output_file else None, quiet=args.quiet)
    if source is not None and args.fix and not args.diff:
        # as ruff does: the fixed source is the output (an editor's new buffer), the report goes aside
        _write_report(report, args.output_file, stream=None if args.output_file else _stderr())
        _write_report(source, None)
    else:
        _write_report(report, args.output_file)
    if any(e.internal for e in run.errors):  # a bug of freezelint's, as when it ends a run
        return EXIT_ERROR
    if args.exit_zero:
        return EXIT_CLEAN
    if args.diff:  # a file it could not check is not a clean diff
        return EXIT_FINDINGS if (run.changes or run.errors or unchecked) else EXIT_CLEAN
    return EXIT_FINDINGS if (run.diagnostics or run.errors) else EXIT_CLEAN


def _reads_stdin(args) -> bool:
    """`check -`, or `--stdin-filename` with no path (as ruff reads it); `-` is the only path then."""
    if "-" in args.paths and len(args.paths) > 1:
        raise UsageError("`-` (stdin) is checked alone: give it as the only path")
    stdin = args.paths == ["-"] or (not args.paths and args.stdin_filename is not None)
    if args.stdin_filename is not None and not stdin:
        raise UsageError("--stdin-filename names the source read from stdin: give `-` as the only path")
    if args.stdin_filename == "":
        raise UsageError("--stdin-filename takes a path, got ''")
    if stdin and args.add_noqa:
        raise UsageError("--add-noqa edits files in place: it cannot read stdin (`-`)")
    if args.add_noqa and (args.fix or args.diff):
        flag = "--fix" if args.fix else "--diff"
        raise UsageError(f"--add-noqa cannot be combined with {flag}: run {flag} first, then --add-noqa")
    return stdin


def _check_files(args, cfg, paths: list[str], fix: str | None):
    from freezelint.check.discover import MissingPath
    from freezelint.check.runner import check_paths

    bar, update = _progress(not args.no_progress and not args.quiet and sys.stderr.isatty())
    try:
        return check_paths(paths, cfg, fix=fix, write=not args.diff, force_exclude=args.force_exclude,
                           use_cache=not args.no_cache, jobs=args.jobs, progress=update,
                           parse_all=_parse_all(args, cfg))
    except MissingPath as e:
        raise UsageError(f"no such file or directory: {e}") from None
    finally:
        if bar is not None:
            bar.stop()


def _check_stdin(args, cfg, fix: str | None):
    from freezelint.check.runner import check_stdin

    if sys.stdin is None:
        raise UsageError("`-` reads the source from stdin, and there is none")
    data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode("utf-8")
    return check_stdin(data, args.stdin_filename, cfg, fix=fix, write=not args.diff,
                       force_exclude=args.force_exclude, use_cache=not args.no_cache,
                       parse_all=_parse_all(args, cfg))


def _print_errors(run, verbose: bool) -> None:
    for err in run.errors:
        print(f"freezelint: {err}", file=_stderr())
        if err.internal and verbose:
            print(err.traceback, end="", file=_stderr())


def _print_skipped(run) -> None:
    """Files not checked: of another kind though named (a note: `check *` names README.md), or not
    regular files met in a walk (a warning: a link to nothing, a FIFO). Neither fails the run."""
    for s in run.left_out:
        print(f"freezelint: {s.level}: {s.path}: {s.why}", file=_stderr())


def _add_noqa(args, cfg) -> int:
    """`--add-noqa`: check, then suppress every finding reported where the checker reads it."""
    from freezelint.check.add_noqa import add_to_files
    from freezelint.check.runner import _checked_trees

    paths = _expand_globs(args.paths) if args.paths else ["."]
    run = _check_files(args, cfg, paths, None)
    if not args.quiet:
        _print_skipped(run)
    _print_errors(run, args.verbose)
    if not args.quiet:
        _warn_if_nothing_checked(run, cfg)
    added = add_to_files(run.diagnostics, _checked_trees(paths, cfg))
    for line in added.notes + added.errors:
        print(f"freezelint: {line}", file=_stderr())
    if not args.quiet:
        print(f"Added {added.added} noqa directive{'s' if added.added != 1 else ''} to {added.files} "
              f"file{'s' if added.files != 1 else ''}.")
    if any(e.internal for e in run.errors):
        return EXIT_ERROR
    return EXIT_FINDINGS if (run.errors or added.errors) else EXIT_CLEAN


def _stderr() -> "_EpipeSafe":
    """stderr for the check command's notes: once its reader has gone (`2>&1 >out | head -1`),
    the rest goes to /dev/null; a closed stderr must not cost the report on stdout or the exit status."""
    return _EpipeSafe(sys.stderr)


class _EpipeSafe:

    def __init__(self, stream) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except BrokenPipeError:
            sys.stderr = self.stream = open(os.devnull, "w")  # noqa: SIM115
            return len(text)

    def flush(self) -> None:
        try:
            self.stream.flush()
        except BrokenPipeError:
            sys.stderr = self.stream = open(os.devnull, "w")  # noqa: SIM115


def _warn_if_nothing_checked(run, cfg, stdin: bool = False, named_files: bool = False) -> None:
    """As ruff does: a run that checked nothing says so on stderr and still exits 0 (a pre-commit
    hook whose files are all excluded is not a failure)."""
    from freezelint.config import ALWAYS_REPORTED

    if not run.files and stdin:
        print("freezelint: warning: --stdin-filename names an excluded file (--force-exclude): nothing was checked",
              file=_stderr())
    elif not run.files and named_files:  # pre-commit's list of files, every one excluded
        print("freezelint: warning: every file named is excluded (--force-exclude): nothing was checked",
              file=_stderr())
    elif not run.files and not run.errors:  # else those say why nothing was checked
        print("freezelint: warning: no Python files found under the given paths: nothing was checked",
              file=_stderr())
    elif not cfg.selected() - ALWAYS_REPORTED:
        where = f" ({cfg.source})" if cfg.source is not None and cfg.cli_select is None else ""
        print(f"freezelint: warning: the selection{where} leaves no rule to run: only syntax errors (FZ001) "
              "were checked", file=_stderr())


def _write_report(report: str | bytes, output_file: str | None, stream=None) -> None:
    """Text as UTF-8; a diff (bytes) as it is, in the encodings of the files it patches. To
    `output_file`, else to `stream` (text only), else to stdout."""
    if stream is not None and not output_file:
        stream.write(report if isinstance(report, str) else report.decode("utf-8", "replace"))
        stream.flush()
        return
    if output_file:
        try:
            data = report if isinstance(report, bytes) else report.encode("utf-8")
            Path(output_file).write_bytes(data)
        except OSError as e:
            raise UsageError(f"cannot write {output_file}: {e.strerror or e}") from None
    elif isinstance(report, str):
        sys.stdout.write(report)
    elif hasattr(sys.stdout, "buffer"):
        sys.stdout.flush()
        sys.stdout.buffer.write(report)
        sys.stdout.buffer.flush()
    else:  # a text-only stream (a caller's StringIO)
        sys.stdout.write(report.decode("utf-8", "surrogateescape"))


def _parse_all(args, cfg) -> bool:
    """`--select FZ001` or `--select ALL` (or --extend-select) asks for every syntax error, so every
    file is parsed; by default files without freezing vocabulary are skipped unparsed."""
    named = {c.upper() for c in [*(args.select or []), *(args.extend_select or [])]}
    return bool(named & {"FZ001", "ALL"}) and "FZ001" in cfg.selected()


def _scan_shown(scan: str, display_path) -> str:
    """`mentions ROOT\nWORDS` / `near ROOT\nWORDS\nFILE[\nHOPS]` (project.py's keys) in words: which
    files were searched for what (a rule's text pattern, shown as it is)."""
    kind, _, rest = scan.partition(" ")
    parts = rest.split("\n")
    if kind == "mentions" and len(parts) == 2:
        return f"every file under {parts[0]} searched for /{parts[1]}/"
    if kind == "near" and len(parts) == 3:
        return f"the files tied by imports to {display_path(Path(parts[2]))} searched for /{parts[1]}/"
    if kind == "near" and len(parts) == 4:
        return (f"the files tied by imports to {display_path(Path(parts[2]))} (at most {parts[3]} imports away, "
                f"tests left out) searched for /{parts[1]}/")
    return scan.replace("\n", " ")


def _show_project(run, every: bool = False) -> None:
    from freezelint.check.project import _PROJECT, parse_used
    from freezelint.check.runner import display_path

    # "path#class", "path#acts name": a file read in part; "<project>#mentions words": a scan of
    # every project file, no file of its own
    used = sorted({p.partition("#")[0] for p in run.summarised} - {_PROJECT})
    scans = sorted(p.partition("#")[2] for p in run.summarised if p.partition("#")[0] == _PROJECT)
    cache = display_path(run.cache_dir) if run.cache_dir is not None else "none (--no-cache)"
    lines = [f"project root: {run.project_root}", f"cache: {cache}", f"files summarised and used: {len(used)}"]
    lines += [f"  {display_path(Path(p))}" for p in used]
    if scans:
        lines.append(f"scans of every project file used: {len(scans)}")
        lines += [f"  {_scan_shown(scan, display_path)}" for scan in scans]
    by_file: dict[str, dict[tuple[int, str], list[str]]] = {}
    followed = []
    for e in run.edges:
        hit = parse_used(e)
        if hit is None:
            followed.append(e)
            continue
        code, _, where = hit[0].partition(" ")
        path, _, line = where.rpartition(":")
        by_file.setdefault(path, {}).setdefault((int(line) if line.isdigit() else 0, code), []).append(hit[1])
    lines.append(f"cross-file edges the findings used: {sum(len(v) for f in by_file.values() for v in f.values())}")
    for path in sorted(by_file):
        lines.append(f"  {path}")
        for (line, code), edges in sorted(by_file[path].items()):
            lines.append(f"    {line}: {code}")
            lines += [f"      {e}" for e in edges]
    lines.append(f"cross-file edges followed: {len(followed)}" + ("" if every else " (--verbose lists them)"))
    if every:
        lines += [f"  {e}" for e in followed]
    print("\n".join(lines), file=_stderr())


def _diff(run) -> bytes:
    """The fixes as a unified diff that `git apply` and `patch` accept: made from the files' bytes
    (a latin-1 file's context is its own bytes, not U+FFFD), lines split at "\\n" only as git
    splits them, and a last line without a newline marked as git marks it."""
    out: list[bytes] = []
    for path, old, new in run.changes:
        name = os.fsencode(path)
        for line in difflib.diff_bytes(difflib.unified_diff, _git_lines(old), _git_lines(new),
                                       b"a/" + name, b"b/" + name):
            out.append(line if line.endswith(b"\n") else line + b"\n\\ No newline at end of file\n")
    if run.changes:
        out.append(f"\nWould fix {run.fixed} finding{'s' if run.fixed != 1 else ''} "
                   f"in {len(run.changes)} file{'s' if len(run.changes) != 1 else ''}.\n".encode())
    return b"".join(out)


def _git_lines(data: bytes) -> list[bytes]:
    """Lines as git sees them: ended by b"\\n" alone (a CR stays in its line), the last one
    possibly without."""
    lines = data.split(b"\n")
    out = [line + b"\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def cmd_rule(args) -> int:
    from freezelint import codes
    from freezelint.check.docs import documented_codes, page

    code = args.code.upper()
    by_name = {c.name: k for k, c in codes.CATALOGUE.items()}  # `freezelint rules` lists both
    code = by_name.get(args.code.lower(), code)
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
        if os.path.lexists(args.markdown) and not os.path.isdir(args.markdown):
            raise UsageError(f"--markdown takes a directory, and {args.markdown} is a file")
        try:
            written = write_pages(Path(args.markdown))
        except OSError as e:  # a file in the way, a read-only place: the user's to fix, not a bug
            raise UsageError(f"cannot write the pages to {args.markdown}: {e.strerror or e}") from None
        print(f"wrote {len(written)} pages to {args.markdown}")
        from freezelint.check.prefilter import GATES_FILE, refresh_table

        try:  # the prefilter's table is generated from the same rule modules
            if refresh_table():
                print(f"wrote {GATES_FILE}")
        except OSError:
            pass  # an installed package we may not write: the table only saves time
        return EXIT_CLEAN
    from freezelint import config as config_mod

    template = config_mod.load().docs_url
    rows = [{"code": c.code, "name": c.name, "summary": c.summary, "severity": c.severity,
             "fix": c.fix, "found_by": where(c.code), "url": codes.docs_url(c.code, template)}
            for c in codes.CATALOGUE.values()]
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
    from freezelint.runtime.cli import _fail, run_audit_cli

    if (gone := _cwd_gone()) is not None:
        return _fail(gone, args.format, args.output_file)
    return run_audit_cli(args.target, steps=args.steps, fmt=args.format, set_to_none=not args.no_set_to_none,
                         ignore=args.ignore, strict=args.strict, verbose=args.verbose, output_file=args.output_file,
                         expect_frozen=args.expect_frozen, expect_trainable=args.expect_trainable,
                         select=args.select, config=args.config)


def _add_server(sub) -> None:
    s = sub.add_parser("server", help="run the language server (LSP over stdio) for editors",
                       description="Speak the Language Server Protocol on stdin/stdout: diagnostics as you "
                                   "type, fixes and `# noqa` as code actions, rule pages on hover. "
                                   "Needs the `server` extra (pygls).")
    s.add_argument("--stdio", action="store_true", help="use stdin/stdout (the default and only transport)")


def cmd_server(args) -> int:
    from freezelint.server import missing_dependency, serve

    problem = missing_dependency()
    if problem is not None:
        raise UsageError(problem)
    return serve()


def _add_run(sub) -> None:
    r = sub.add_parser("run", help="run a training script and judge its first optimizer steps",
                       usage="freezelint run [options] SCRIPT.py [args ...] | -m MODULE [args ...]",
                       description="Runs the script in this process as __main__ with its own arguments, watches its "
                                   "first --steps optimizer steps through torch's global hooks, prints the report and "
                                   "stops it. Exit 0 clean, 1 findings (warnings too, as the pytest fixtures and "
                                   "raise_for_findings() fail on them; accept a code with --ignore), 2 when the "
                                   "script ended or failed first. "
                                   "With --no-stop: 2 when the script ended or failed before the window closed; "
                                   "after it, 1 on findings, else the script's own exit status (sys.exit(N): "
                                   "N; an exception or sys.exit('message'): 1), as python would exit.",
                       epilog="Codes follow the select/ignore/extend-select of [tool.freezelint] in the nearest "
                              "pyproject.toml above the script (above the cwd for -m) and --select/--ignore; codes "
                              "left out are listed as ignored and do not count; per-file-ignores apply to `check` "
                              "only. With --format json and no -o, the script's stdout goes to stderr while it runs, "
                              "so stdout holds the JSON alone; on exit 2 it holds {\"ok\": false, \"error\": ...} (the line stderr "
                              "gets). Under torchrun (`torchrun ... -m freezelint run "
                              "train.py`) every rank watches, ranks are compared, rank 0 prints.")
    r.add_argument("--steps", type=int, default=2, help="optimizer steps to watch (default 2)")
    r.add_argument("--no-stop", action="store_true",
                   help="let training run on after the window; a clean window exits with the script's status. "
                        "A later change of what trains (an unfreeze at an epoch boundary, a new optimizer) "
                        "opens another window, judged alike")
    r.add_argument("--once", action="store_true",
                   help="with --no-stop: judge the first window only, however what trains changes later")
    r.add_argument("--format", default="text", choices=("text", "json"),
                   help="json to stdout sends the script's own stdout to stderr")
    r.add_argument("--output-file", "-o", help="write the report here instead of stdout")
    r.add_argument("--select", type=_codes, action="extend", metavar="CODES",
                   help="codes or prefixes to count (replaces the config's), e.g. FZ5")
    r.add_argument("--ignore", type=_codes, action="extend", metavar="CODES",
                   help="codes or prefixes to list as ignored, e.g. FZ505")
    r.add_argument("--config", help="pyproject.toml to read [tool.freezelint] from")
    r.add_argument("--expect-frozen", action="append", default=[], metavar="PATTERN",
                   help="a parameter name, module name or glob that must stay frozen (repeatable)")
    r.add_argument("--expect-trainable", action="append", default=[], metavar="PATTERN",
                   help="a parameter name, module name or glob that must train (repeatable)")
    r.add_argument("--model", metavar="NAME",
                   help="the script's variable that holds the model (dotted attributes allowed: trainer.model), "
                        "looked up at the first optimizer step in the script's own frames, then its top level; "
                        "as watch(model=...), when the loop calls a method of the model rather than its forward "
                        "and the model is not found by itself")
    r.add_argument("-m", dest="module", metavar="MODULE", help="run a module, as `python -m MODULE`")
    r.add_argument("--verbose", "-v", action="store_true",
                   help="show more: every module of the tree and every name of grouped findings (as audit "
                        "--verbose), and the script's traceback where it fails")
    r.add_argument("script", nargs="?", metavar="SCRIPT.py", help="the training script; what follows is its own")


_RUN_VALUED = {"--steps", "--format", "--output-file", "-o", "--expect-frozen", "--expect-trainable", "--select",
               "--ignore", "--config", "--model"}


def _split_run(args: list[str]) -> tuple[list[str], list[str]]:
    """`run`'s own options and target, and the script's arguments: everything after SCRIPT.py or
    `-m MODULE` belongs to the script, options included (argparse alone would take them)."""
    i = 0
    while i < len(args):
        a = args[i]
        if a == "-m":
            return args[:i + 2], args[i + 2:]
        if a in _RUN_VALUED:
            i += 2
        elif a.startswith("-"):
            i += 1
        else:
            return args[:i + 1], args[i + 1:]
    return args, []


def cmd_run(args) -> int:
    from freezelint.runtime.run_cli import RunOptions, _fail, run_script

    rest = list(getattr(args, "script_args", []))
    target = args.script if args.module is None else args.module
    opts = RunOptions(target or "", rest, module=args.module is not None, steps=args.steps,
                      stop=not args.no_stop, fmt=args.format, output_file=args.output_file,
                      expect_frozen=args.expect_frozen, expect_trainable=args.expect_trainable,
                      verbose=args.verbose, select=args.select, ignore=args.ignore or [],
                      config=args.config, model=args.model, rewatch=not args.once)
    bad = _bad_run_argument(args)
    if bad:  # as any other refusal of run's: with --format json, its document too
        return _fail(opts, bad)
    return run_script(opts)


def _bad_run_argument(args) -> str | None:
    if (gone := _cwd_gone()) is not None:
        return gone
    if args.module is None and not args.script:
        return "run needs a script (`freezelint run train.py`) or -m MODULE"
    if args.steps < 1:
        return f"--steps must be at least 1, got {args.steps}"
    for option, patterns in (("--expect-frozen", args.expect_frozen), ("--expect-trainable", args.expect_trainable)):
        if "" in patterns:
            return f"{option} takes a name pattern, got ''"
    if args.model is not None and not all(part.isidentifier() for part in args.model.split(".")):
        return f"--model takes a variable name or a dotted path (trainer.model), got {args.model!r}"
    return None


# name -> (add its parser, run it). Order is the order `--help` lists them in.
COMMANDS: dict[str, tuple] = {
    "check": (_add_check, cmd_check),
    "rule": (_add_rule, cmd_rule),
    "rules": (_add_rules, cmd_rules),
    "audit": (_add_audit, cmd_audit),
    "run": (_add_run, cmd_run),
    "server": (_add_server, cmd_server),
}


def _cwd_gone() -> str | None:
    """Why the working directory cannot be used, or None: a shell left in a directory removed since.
    Python cannot tell where it is then, and every relative path, config search and display name
    would fail further in, as a bug of ours (or, for run and audit, as torch's import)."""
    try:
        os.getcwd()
    except OSError as e:
        return ("the working directory no longer exists (removed or moved since the shell entered it): "
                f"cd to an existing directory ({e.strerror or e})")
    return None


def main(argv: list[str] | None = None) -> int:
    from freezelint.config import ConfigError

    parser = build_parser()
    verbose = False
    try:
        argv = _implied_check(list(sys.argv[1:] if argv is None else argv))
        _check_option_first(parser, argv)
        _unknown_command(argv)
        script_args: list[str] = []
        if argv[:1] == ["run"]:
            ours, script_args = _split_run(argv[1:])
            argv = ["run", *ours]
        args, extra = parser.parse_known_args(argv)
        if extra:  # argparse would send the user to the top-level --help, which lists no option of check's
            where = f"freezelint {args.command}" if args.command else "freezelint"
            raise UsageError(f"unrecognized arguments: {' '.join(extra)} (see `{where} --help`)")
        args.script_args = script_args
        verbose = getattr(args, "verbose", False)
        if args.command is None:
            parser.print_help()
            return EXIT_ERROR
        if args.command == "check" and (gone := _cwd_gone()) is not None:
            raise UsageError(gone)
        return COMMANDS[args.command][1](args)
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
