"""`[tool.freezelint]` from the nearest pyproject.toml, merged with command-line flags."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from freezelint import codes
from freezelint.fsutil import read_regular

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_EXCLUDE = (
    ".bzr", ".direnv", ".eggs", ".git", ".git-rewrite", ".hg", ".ipynb_checkpoints", ".mypy_cache",
    ".nox", ".pants.d", ".pyenv", ".pytest_cache", ".pytype", ".ruff_cache", ".svn", ".tox",
    ".venv", ".vscode", "__pypackages__", "__pycache__", "_build", "buck-out", "build", "dist",
    "node_modules", "site-packages", "venv", ".freezelint_cache",
)
KNOWN_KEYS = frozenset({
    "select", "ignore", "extend-select", "exclude", "extend-exclude", "per-file-ignores",
    "respect-gitignore", "cache-dir", "docs-url", "lightning-version", "max-file-size",
})


class ConfigError(Exception):
    """Bad configuration or flags: one line for the user, exit 2."""


@dataclass
class Config:
    root: Path  # patterns are relative to it
    source: Path | None = None  # the pyproject.toml read, if any
    select: list[str] | None = None
    ignore: list[str] = field(default_factory=list)
    extend_select: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=lambda: list(DEFAULT_EXCLUDE))
    extend_exclude: list[str] = field(default_factory=list)
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)
    respect_gitignore: bool = True
    cache_dir: Path | None = None
    # files larger than this many bytes are not checked (None: the default; 0: no limit)
    max_file_size: int | None = None
    docs_url: str | None = None  # where finding links point (`{code}` replaced); none by default
    # the Lightning the project runs ("2", "1.9"): FZ110 reads it from the pyproject.toml itself
    lightning_version: str | None = None
    # Command-line selection is a second layer over the file's, as in ruff: a CLI --select
    # starts afresh (the file's select and ignore no longer apply); CLI --ignore and
    # --extend-select adjust whatever the layer below chose.
    cli_select: list[str] | None = None
    cli_ignore: list[str] = field(default_factory=list)
    cli_extend_select: list[str] = field(default_factory=list)

    def chosen(self) -> frozenset[str]:
        """Every code the selection reports, static or runtime (`freezelint run` judges by it)."""
        if self.cli_select is not None:
            chosen = _apply(set(), self.cli_select, [])
        else:
            chosen = _apply(set(), self.select if self.select is not None else ["ALL"], self.ignore,
                            self.extend_select)
        return frozenset(_apply(chosen, self.cli_extend_select, self.cli_ignore))

    def selected(self) -> frozenset[str]:
        """The static codes this run reports: FZ001 always, as ruff always reports syntax errors
        (a file that does not parse was not checked, whatever the selection asked of it)."""
        return frozenset(c for c in self.chosen() if codes.get(c).static) | ALWAYS_REPORTED

    def named_always_reported(self) -> list[str]:
        """Where an ignore names FZ001 outright, which does nothing (for a warning)."""
        ignores = [*self.cli_ignore, *self.ignore, *(c for v in self.per_file_ignores.values() for c in v)]
        return sorted({c.upper() for c in ignores} & ALWAYS_REPORTED)

    def validate(self) -> None:
        for sel in [*(self.cli_select or []), *self.cli_ignore, *self.cli_extend_select]:
            _expand(sel)
        for sel in [*(self.select or []), *self.ignore, *self.extend_select,
                    *(c for v in self.per_file_ignores.values() for c in v)]:
            try:
                _expand(sel)
            except ConfigError as e:  # say which file holds it
                raise ConfigError(f"{self.source}: {e}" if self.source else str(e)) from None

    def all_excludes(self) -> list[str]:
        return [*self.exclude, *self.extend_exclude]


# Never left out by select, ignore or per-file-ignores, and no noqa comment drops it: a file that
# does not parse has no statement a comment could be on (ruff does the same with syntax errors).
ALWAYS_REPORTED = frozenset({"FZ001"})


def _apply(chosen: set[str], add: list[str], remove: list[str], extra: list[str] = ()) -> set[str]:
    for sel in [*add, *extra]:
        chosen.update(_expand(sel))
    for sel in remove:
        chosen.difference_update(_expand(sel))
    return chosen


def _expand(selector: str) -> list[str]:
    try:
        return codes.expand_selector(selector)
    except ValueError as e:
        raise ConfigError(str(e)) from None


def search_start(paths: list[str]) -> Path | None:
    """Where to look for the config of these checked paths: their deepest common directory (so
    `freezelint check proj/` from above uses proj's pyproject.toml, as from inside it)."""
    dirs = []
    for p in paths:
        if p == "-":  # stdin: no place of its own
            continue
        q = Path(p).absolute()
        dirs.append(q if q.is_dir() else q.parent)
    return Path(os.path.commonpath(dirs)) if dirs else None


def find_pyproject(start: Path) -> Path | None:
    """Nearest pyproject.toml with a [tool.freezelint] table, searching upward from `start`."""
    for d in [start, *start.parents]:
        candidate = d / "pyproject.toml"
        if candidate.is_file():
            try:
                text = candidate.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue  # an unreadable unrelated pyproject.toml is not ours to report
            try:
                data = tomllib.loads(text)
            except tomllib.TOMLDecodeError as e:
                if "tool.freezelint" in text:  # ours, broken: never run on without it
                    raise ConfigError(f"{candidate}: invalid TOML: {e}") from None
                continue  # a broken unrelated pyproject.toml is not ours to report
            if "freezelint" in data.get("tool", {}):
                return candidate
    return None


def _str_list(key: str, value: Any, where: Path) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: [tool.freezelint] {key} must be a list of strings")
    return list(value)


def load(config_file: Path | None = None, cwd: Path | None = None, start: Path | None = None) -> Config:
    """The config: `config_file`, else the nearest pyproject.toml with [tool.freezelint] above
    `start` (where the checked files are; default `cwd`); without one, defaults rooted at `cwd`."""
    cwd = cwd or Path.cwd()
    path = config_file or find_pyproject(start or cwd)
    if path is None:
        return Config(root=cwd)
    try:
        data = tomllib.loads(read_regular(path)[0].decode("utf-8"))  # `--config` a FIFO: refused, not waited on
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read config {path}: {getattr(e, 'strerror', None) or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None
    tool = data.get("tool", {})
    if config_file is not None and not (isinstance(tool, dict) and "freezelint" in tool):
        # named on purpose, it would configure nothing: settings written at the top (as ruff.toml
        # takes them) or under a misspelt table would be silently left out
        raise ConfigError(f"{path}: no [tool.freezelint] table: the settings go under it")
    table = tool.get("freezelint", {}) if isinstance(tool, dict) else {}
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.freezelint] must be a table")
    unknown = sorted(set(table) - KNOWN_KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown key{'s' if len(unknown) > 1 else ''} in [tool.freezelint]: "
                          f"{', '.join(unknown)} (known: {', '.join(sorted(KNOWN_KEYS))})")
    cfg = Config(root=path.parent.resolve(), source=path)
    if "select" in table:
        cfg.select = _str_list("select", table["select"], path)
    for key, attr in (("ignore", "ignore"), ("extend-select", "extend_select"),
                      ("exclude", "exclude"), ("extend-exclude", "extend_exclude")):
        if key in table:
            setattr(cfg, attr, _str_list(key, table[key], path))
    if "per-file-ignores" in table:
        pfi = table["per-file-ignores"]
        if not isinstance(pfi, dict):
            raise ConfigError(f"{path}: [tool.freezelint] per-file-ignores must be a table of pattern = [codes]")
        cfg.per_file_ignores = {k: _str_list(f"per-file-ignores.{k}", v, path) for k, v in pfi.items()}
    if "respect-gitignore" in table:
        if not isinstance(table["respect-gitignore"], bool):
            raise ConfigError(f"{path}: [tool.freezelint] respect-gitignore must be true or false")
        cfg.respect_gitignore = table["respect-gitignore"]
    if "cache-dir" in table:
        if not isinstance(table["cache-dir"], str):
            raise ConfigError(f"{path}: [tool.freezelint] cache-dir must be a string")
        cfg.cache_dir = (cfg.root / table["cache-dir"]).resolve()
    if "max-file-size" in table:
        try:
            cfg.max_file_size = parse_size(table["max-file-size"])
        except ValueError as e:
            raise ConfigError(f"{path}: [tool.freezelint] max-file-size {e}") from None
    if "docs-url" in table:
        if not isinstance(table["docs-url"], str):
            raise ConfigError(f"{path}: [tool.freezelint] docs-url must be a string")
        cfg.docs_url = table["docs-url"]
    if "lightning-version" in table:
        from freezelint.check.lightning_version import decide

        value = table["lightning-version"]
        if not isinstance(value, (str, int)) or isinstance(value, bool) or decide(str(value)) is None:
            raise ConfigError(f"{path}: [tool.freezelint] lightning-version must be a version such as \"2\" or "
                              f"\"1.9\", got {value!r}")
        cfg.lightning_version = str(value)
    cfg.validate()
    return cfg


def merge_cli(cfg: Config, *, select=None, ignore=None, extend_select=None, exclude=None,
              extend_exclude=None, per_file_ignores=None, cache_dir=None, max_file_size=None) -> Config:
    """Flags override the file (see Config for how selection layers)."""
    cfg.cli_select = select
    cfg.cli_ignore = list(ignore or [])
    cfg.cli_extend_select = list(extend_select or [])
    if exclude is not None:
        cfg.exclude = exclude
    if extend_exclude:
        cfg.extend_exclude = [*cfg.extend_exclude, *extend_exclude]
    for item in per_file_ignores or []:
        pattern, sep, code_list = item.partition(":")
        if not sep or not pattern:
            raise ConfigError(f"--per-file-ignores expects PATTERN:CODE[,CODE], got {item!r}")
        cfg.per_file_ignores.setdefault(pattern, []).extend(c for c in code_list.split(",") if c)
    if cache_dir is not None:
        cfg.cache_dir = Path(os.path.abspath(cache_dir))
    if max_file_size is not None:
        try:
            cfg.max_file_size = parse_size(max_file_size)
        except ValueError as e:
            raise ConfigError(f"--max-file-size {e}") from None
    cfg.validate()
    return cfg


_SIZE_UNITS = {"": 1, "b": 1, "k": 2**10, "kb": 2**10, "kib": 2**10, "m": 2**20, "mb": 2**20, "mib": 2**20,
               "g": 2**30, "gb": 2**30, "gib": 2**30}


def parse_size(value: Any) -> int:
    """`max-file-size`: bytes, as an integer or a number with a unit ("2MB", "512 kB": kB and MB
    count 1024 and 1024**2 bytes, as the messages do); 0 is no limit. ValueError says what it takes."""
    import re

    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*", value.lower()) if isinstance(value, str) else None
    if match is None or match.group(2) not in _SIZE_UNITS:
        raise ValueError(f"must be a size such as 2MB, 512kB or 1048576 (bytes; 0: no limit), got {value!r}")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2)])


def size_text(n: float, up: bool = False) -> str:
    """A byte count for a message: `6.3 MB`, `1 MB`, `512 kB`, `100 bytes` (MB: 1024**2 bytes).
    `up`: rounded up, so that a size just over a limit never reads as the limit itself."""
    import math

    for unit, scale in (("MB", 2**20), ("kB", 2**10)):
        if n >= scale:
            value = math.ceil(n / scale * 10) / 10 if up else n / scale
            return f"{value:.1f}".removesuffix(".0") + f" {unit}"
    return f"{int(n)} bytes"
