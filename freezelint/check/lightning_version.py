"""Which Lightning a checked file runs under, as far as the project says (FZ110).

Read without libcst or an import of Lightning, in order: `lightning-version` in the nearest
`[tool.freezelint]`; the project's declared requirement (pyproject.toml's [project] dependencies,
optional dependencies and dependency groups, Poetry's dependencies, requirements*.txt and
requirements/*.txt, setup.py, setup.cfg, environment.yml), from the file's directory up to its
project's root; the installed distribution's version (metadata only); and, for a class derived
from the `lightning` package rather than `pytorch_lightning`, that package itself (it exists from
1.8 on, and none of its releases runs a removed hook). Anything else says nothing: silence.
"""

from __future__ import annotations

import os
import re
import sys
from functools import lru_cache
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

Signal = tuple[int, str]  # (major version, what says so: for the message)

_NAMES = ("lightning", "pytorch-lightning")
# a requirement naming Lightning: name, extras, then the version part up to a marker or URL
_REQ = re.compile(r"^\s*(?P<name>(?:pytorch[-_.])?lightning)(?![\w.-])\s*(?:\[[^\]]*\])?\s*"
                  r"(?P<spec>\([^)]*\)|[^;@#\s\"'][^;@#\"']*)?", re.I)
_CLAUSE = re.compile(r"^\s*(===|==|~=|!=|<=|>=|<|>|\^|~|=)?\s*v?(\d+(?:\.(?:\d+|\*))*)")
_SETUP_PY = re.compile(r"[\"']\s*((?:pytorch[-_])?lightning(?![\w.-])[^\"']*)[\"']", re.I)
_LINE = re.compile(r"^[ \t]*(?:-[ \t]+)?((?:pytorch[-_])?lightning(?![\w.-])[^\n#]*)", re.I | re.M)
_CONFIG_KEY = "lightning-version"
# Lightning 2.2 (#18951) is the first whose fit keeps the mode of each submodule: before it, fit calls
# train() on the whole LightningModule at its start and after every validation (FZ201)
KEEPS_MODES = (2, 2)


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _release(text: str) -> tuple[int, ...] | None:
    parts = []
    for p in text.split("."):
        if p == "*":
            break
        parts.append(int(p))
    if parts and parts[0] >= 1000:
        # the `lightning` package's calendar releases of 2022 (2022.8.2, ...), before its 1.8.0:
        # whatever PyTorch Lightning they held was a 1.x
        parts = [1]
    return tuple(parts) or None


def decide(spec: str, at: tuple[int, ...] = (2,)) -> int | None:
    """2 when every version the specifier allows is `at` (2.0) or later, 1 when every one is before
    it, else None (no bound, or one that allows both): `>=2.1` -> 2, `==1.9.5`, `<2`, `~=1.9`,
    `^1.9` (Poetry), `=1.9` (conda) -> 1; `>=1.5` -> None. With `at=(2, 2)`: `>=2.0` -> None."""
    low: tuple[int, ...] | None = None  # the lowest version allowed
    high: tuple[int, ...] | None = None  # every version allowed is below this one
    spec = spec.strip().strip("()")
    for clause in spec.split(","):
        m = _CLAUSE.match(clause)
        if m is None:
            continue
        op, version = m.group(1) or "==", m.group(2)
        rel = _release(version)
        if rel is None:
            continue
        top = None
        if op in ("==", "===", "=", "~") or op == "~=" and len(rel) >= 2:
            # `==1.9` (or 1.9.*), conda's `=1.9`, Poetry's `~1.9`: that release's line; `~=1.9`: 1.x from 1.9
            low = _max(low, rel)
            top = _bump(rel[:-1]) if op == "~=" else _bump(rel)
        elif op == "^":  # Poetry's caret: up to the next major
            low, top = _max(low, rel), (rel[0] + 1,)
        elif op in (">=", ">"):
            low = _max(low, rel)
        elif op == "<":
            top = rel
        elif op == "<=":
            top = _bump(rel)
        if top is not None:
            high = top if high is None or _cmp(top, high) < 0 else high
    if low is not None and _cmp(low, at) >= 0:
        return 2
    if high is not None and _cmp(high, at) <= 0:
        return 1
    return None


def _cmp(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    """-1, 0, 1 as release `a` is before, the same as, after `b` (`2` is `2.0.0`)."""
    n = max(len(a), len(b))
    a, b = a + (0,) * (n - len(a)), b + (0,) * (n - len(b))
    return (a > b) - (a < b)


def _max(a: tuple[int, ...] | None, b: tuple[int, ...]) -> tuple[int, ...]:
    return b if a is None or _cmp(b, a) > 0 else a


def _bump(rel: tuple[int, ...]) -> tuple[int, ...]:
    """The first release after every one that `rel` is a prefix of: 1.9 -> 1.10, 1 -> 2."""
    return (*rel[:-1], rel[-1] + 1) if rel else (10**9,)


def _requirements(directory: Path) -> list[tuple[str, str, str]]:
    """(normalized name, version specifier, file) of every Lightning requirement the directory
    declares."""
    found: list[tuple[str, str, str]] = []

    def add(text: str, where: str) -> None:
        m = _REQ.match(text)
        if m is not None:
            found.append((_normal(m.group("name")), (m.group("spec") or "").strip(), where))

    pyproject = directory / "pyproject.toml"
    data = _toml(pyproject)
    if data:
        project = data.get("project") if isinstance(data.get("project"), dict) else {}
        lists = [project.get("dependencies")]
        optional = project.get("optional-dependencies")
        lists += list(optional.values()) if isinstance(optional, dict) else []
        groups = data.get("dependency-groups")
        lists += list(groups.values()) if isinstance(groups, dict) else []
        for items in lists:
            for item in items if isinstance(items, list) else ():
                if isinstance(item, str):
                    add(item, "pyproject.toml")
        poetry = data.get("tool", {}).get("poetry", {}) if isinstance(data.get("tool"), dict) else {}
        tables = [poetry.get("dependencies"), poetry.get("dev-dependencies")]
        group = poetry.get("group")
        tables += [g.get("dependencies") for g in group.values() if isinstance(g, dict)] if isinstance(group, dict) else []
        for table in tables:
            for name, value in table.items() if isinstance(table, dict) else ():
                if _normal(name) in _NAMES:
                    version = value.get("version") if isinstance(value, dict) else value
                    if isinstance(version, str):
                        found.append((_normal(name), version.strip(), "pyproject.toml"))
    texts = []
    for sub in (directory, directory / "requirements"):
        try:
            names = sorted(os.listdir(sub))
        except OSError:
            continue
        for name in names:
            if name.endswith((".txt", ".in")) and (sub != directory or name.startswith("requirements")):
                texts.append((sub / name, "lines"))
    texts += [(directory / "setup.py", "setup.py"), (directory / "setup.cfg", "lines"),
              (directory / "environment.yml", "lines"), (directory / "environment.yaml", "lines")]
    for path, how in texts:
        text = _text(path)
        if not text or "lightning" not in text.lower():
            continue
        shown = os.path.relpath(path, directory)
        if how == "setup.py":
            for m in _SETUP_PY.finditer(text):
                add(m.group(1), shown)
        else:
            for m in _LINE.finditer(text):
                add(m.group(1), shown)
    return found


def _text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _toml(path: Path) -> dict | None:
    text = _text(path)
    if text is None:
        return None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None


def _stamp(directory: Path) -> tuple:
    """What the answer for a directory rests on: the candidate files' metadata."""
    out = []
    for sub in (directory, directory / "requirements"):
        try:
            with os.scandir(sub) as it:
                for e in it:
                    n = e.name
                    if n in ("pyproject.toml", "setup.py", "setup.cfg", "environment.yml", "environment.yaml") or \
                            n.endswith((".txt", ".in")) and (sub != directory or n.startswith("requirements")):
                        st = e.stat()
                        out.append((str(sub), n, st.st_mtime_ns, st.st_size))
        except OSError:
            continue
    return tuple(sorted(out))


_BY_DIR: dict[str, tuple[tuple, Signal | None, Signal | None]] = {}  # dir, package, at -> (stamp, config, declared)


def _declared_here(directory: Path, package: str, at: tuple[int, ...]) -> tuple[Signal | None, Signal | None]:
    """(the `lightning-version` setting, the declared requirement) of one directory, as `decide` tells
    them apart at `at`, cached while its candidate files are unchanged."""
    key = f"{directory}\0{package}\0{at}"
    stamp = _stamp(directory)
    hit = _BY_DIR.get(key)
    if hit is not None and hit[0] == stamp:
        return hit[1], hit[2]
    config = declared = None
    data = _toml(directory / "pyproject.toml") if stamp else None
    table = data.get("tool", {}).get("freezelint") if data and isinstance(data.get("tool"), dict) else None
    value = table.get(_CONFIG_KEY) if isinstance(table, dict) else None
    if isinstance(value, (str, int)):
        major = decide(str(value), at)
        if major is not None:
            config = (major, f"`{_CONFIG_KEY} = \"{value}\"` in pyproject.toml's [tool.freezelint]")
    reqs = _requirements(directory) if stamp else []
    own = _normal(package)
    decided = [(decide(spec, at), name, spec, where) for name, spec, where in reqs if spec]
    decided = [d for d in decided if d[0] is not None]
    # the requirement of the package the class comes from first; either, the versions move together
    ranked = sorted(decided, key=lambda d: (d[1] != own, d[0]))  # a 1.x pin first: precision
    if ranked:
        major, name, spec, where = ranked[0]
        gap = " " if spec[:1] in "^~*0123456789" and not spec.startswith("~=") else ""  # Poetry's, conda's forms
        declared = (major, f"{where} requires {name}{gap}{spec}")
    _BY_DIR[key] = (stamp, config, declared)
    return config, declared


def _upward(start: Path, fallback_root: Path | None) -> list[Path]:
    """The directories from `start` up to its project's root: the nearest with pyproject.toml or
    .git; without one, the run's root when `start` lies under it, else `start` alone."""
    dirs = [start]
    for d in start.parents:
        if (dirs[-1] / "pyproject.toml").exists() or (dirs[-1] / ".git").exists():
            return dirs
        dirs.append(d)
    if fallback_root is not None and (start == fallback_root or fallback_root in start.parents):
        return [d for d in [start, *start.parents] if d == fallback_root or fallback_root in d.parents]
    return [start]


def declared_signal(directory: Path, package: str, fallback_root: Path | None = None,
                    at: tuple[int, ...] = (2,)) -> Signal | None:
    """`version_signal` from what the project says only: the nearest `lightning-version` setting, else
    the nearest requirement that decides (the installed Lightning is not asked)."""
    dirs = _upward(directory.resolve(), fallback_root.resolve() if fallback_root else None)
    found = [_declared_here(d, package, at) for d in dirs]
    for config, _ in found:
        if config is not None:
            return config
    for _, declared in found:
        if declared is not None:
            return declared
    return None


@lru_cache(maxsize=4)
def installed(package: str) -> str | None:
    """The installed distribution's version, from its metadata (Lightning is never imported)."""
    from importlib import metadata

    for dist in (package, package.replace("_", "-")):
        try:
            return metadata.version(dist)
        except (metadata.PackageNotFoundError, ValueError):
            continue
    return None


def version_signal(directory: Path | None, package: str, fallback_root: Path | None = None,
                   at: tuple[int, ...] = (2,)) -> Signal | None:
    """The major version of Lightning a file in `directory` (None: a text of no place) runs
    under, for a class derived from `package` ("lightning" or "pytorch_lightning"), and what
    says so; None when nothing does. With `at` (a release after 2.0): 2 for `at` or later, 1 for
    before it."""
    declared = declared_signal(directory, package, fallback_root, at) if directory else None
    if declared is not None:
        return declared
    version = installed(package)
    if version:
        rel = _release(m.group()) if (m := re.match(r"\d+(?:\.\d+)*", version)) else None
        if rel is not None:
            major = rel[0] if at == (2,) else 2 if _cmp(rel, at) >= 0 else 1
            return major, f"{package} {version} is installed"
    if package == "lightning" and at == (2,):
        return 2, "the class comes from the `lightning` package: its 1.8 and 1.9 refuse the hook, later ones skip it"
    return None
