"""The project a checked file belongs to: its root, imports between its files, their summaries.

A run on a few files (pre-commit passes the changed ones) still sees the project: the root is the
nearest directory with `pyproject.toml` or `.git`, an import resolves to a file under the root, a
`src/` directory or the importing file's own directory (in a tree with no marker, also the
directories above it up to the working directory), and the imported file is summarised on
demand (bounded by `limit` files a run) — from the summary cache when its content was seen before.
Every summary a file's findings used is recorded (`used`) with its digest, so a cached finding is
recomputed when one of them changes; so is every cross-file edge (`edges`), for --show-project.
"""

from __future__ import annotations

import ast
import builtins
import functools
import importlib.util
import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from freezelint.check.cache import RACY_NS, mark_cache_dir
from freezelint.check.known import is_library, is_module_class
from freezelint.check.lightning_version import KEEPS_MODES, version_signal
from freezelint.fsutil import atomic_write, read_regular

_MAX_REEXPORT = 3
# Version of the summary format (summaries.py writes it): cached summaries are read back here
# without importing libcst, which only a summary to compute needs.
SUMMARY_VERSION = 90
_MAX_CHAIN = 4  # files a function's argument is followed through (`via:` effects)
_VIA = "via:"  # events.VIA (this module loads without libcst)
_RET = "ret"  # events.RET: the position of a function's returned model
# An isinstance test names a class without making one (`elif isinstance(m, nn.BatchNorm1d)`: kinds
# told apart): FZ203's evidence of another BatchNorm kind leaves tests out (one level of nesting).
_ISINSTANCE_TEST = re.compile(r"isinstance\((?:[^()]|\([^()]*\))*\)")
_PROJECT = "<project>"  # the path part of a dependency on the whole project's files (see _tree_stamp)
_FROM_IMPORT = re.compile(r"^[ \t]*from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n]*)", re.M)
_PLAIN_IMPORT = re.compile(r"^[ \t]*import[ \t]+([\w.]+(?:[ \t]+as[ \t]+\w+)?(?:[ \t]*,[ \t]*[\w.]+(?:[ \t]+as[ \t]+\w+)?)*)",
                           re.M)
_NAMES_AS = re.compile(r"(?<![\w.])([A-Za-z_]\w*)(?![\w.])(?:[ \t]+as[ \t]+(\w+))?")
_CALLED_NAME = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\(")  # `Name(`: what a star import may have brought
# a file without any of these words does nothing a summary records: it is not parsed
_FLOW_WORDS = re.compile(r"\.train\(|\.eval\(\)|requires_grad|DistributedDataParallel|configure_optimizers|"
                         r"\b(?:SGD|Adam|AdamW|RMSprop|Adagrad|Adadelta|Adamax|NAdam|RAdam|LBFGS|Lion|LAMB|Lamb)\s*\(|"
                         # an optimizer class bound to a name, called through it (events.optimizer_alias)
                         r"optim\.[A-Z]\w*[ \t]*(?:\n|$|if\b)|getattr\(\s*(?:torch\.)?optim\s*,")
# A word each of _FLOW_WORDS's branches contains: most texts have none, and str.find over them is
# ~15x faster than the regex's scan (whose leading `\b` branch keeps sre from skipping ahead)
_FLOW_LITERALS = (".train(", ".eval()", "requires_grad", "DistributedDataParallel", "SGD", "Ada", "RMSprop",
                  "LBFGS", "Lion", "LAMB", "Lamb", "optim")


def _flow_words(text: str, pos: int = 0, endpos: int | None = None) -> bool:
    """Whether text[pos:endpos] has a word of _FLOW_WORDS."""
    end = len(text) if endpos is None else endpos
    return any(text.find(w, pos, end) != -1 for w in _FLOW_LITERALS) and \
        _FLOW_WORDS.search(text, pos, end) is not None


_MODULE_BASE_NAMES = {"Module", "LightningModule", "PreTrainedModel"}
# bases that make no class a Module (`class Scorer(ABC)`, `class Cache(Generic[T])`): plain_class
_PLAIN_BASE_QUALS = frozenset({"abc.ABC", "typing.Generic", "typing.Protocol", "builtins.object"})
# a class with bases that assigns `self.<attr>`: its summary's "attrs" may say what another file's
# `model.backbone` holds, so such a file is parsed even without a word of _FLOW_WORDS (its bases
# on the class line or on the next, `class Net(\n    BaseModel\n):`)
_CLASS_WITH_ATTRS = re.compile(r"^[ \t]*class[ \t]+\w+[ \t]*\(\s*\w", re.M)
_CLASS_NAME_BASES = re.compile(r"^[ \t]*class[ \t]+(\w+)[ \t]*\(([^)]*)\)", re.M)
_CLASS_BASES = re.compile(r"^[ \t]*class[ \t]+\w+[ \t]*\(([^)]*)\)", re.M)
# Lightning's callback classes (flow.CALLBACKS by their last part): a subclass's hooks follow the optimizer
_CALLBACK_NAMES = ("Callback", "BaseFinetuning")
_HOOK_DEF = re.compile(r"^[ \t]+def[ \t]+(?:on_\w+|finetune_function)[ \t]*\(", re.M)
# `function`'s member for what a plain class's method does to the arguments it is given (its "margs")
ARGS = "args:"
_BASE = "class:"  # calls_imported's mark of a name that a class of the file derives from
# calls_imported's mark of a project base class whose constructor may build a model and its optimizer
_OWNS = "owns:"
_SUB = "sub:"  # calls_imported's mark of the project base of a plain class the file builds
# the next top-level statement, which ends a def or class block: not a comment, nor a closing bracket
# at column 0 (black's `):` after a signature spread over lines, `def f(\n    net, strict=True\n):`)
_TOP_LEVEL = re.compile(r"^[^\s#)\]}]", re.M)
_CALLED_WITH_ARGS = re.compile(r"\b(\w+)\s*\(\s*[\w(]")
_TOP_DEF = re.compile(r"^(?:async[ \t]+)?(?:def|class)[ \t]+(\w+)", re.M)
# Comments and strings, in the order Python reads them (a quote inside a comment, a `#` inside a
# string): what `_shape` needs to find the lines a multi-line string holds.
_LEXEME = re.compile(
    r"#[^\n]*"
    r"|[rRbBuUfF]{0,2}(?:"
    r'"""(?:[^"\\]|\\.|"(?!""))*"""'
    r"|'''(?:[^'\\]|\\.|'(?!''))*'''"
    r'|"(?:[^"\\\n]|\\.)*"'
    r"|'(?:[^'\\\n]|\\.)*')",
    re.S)
_STRING_LINE_HEAD = re.compile(r"\n\S")
_SKIP_DIRS = {"__pycache__", "node_modules", "venv", "env", "build", "dist", "site-packages"}
# effects that matter to a file's flow rules when it calls the function
_FLOW_EFFECTS = {"train", "bn_freeze", "freeze", "unfreeze", "opt_build", "ddp_wrap"}


# Where installed packages live: a marker above one belongs to whatever holds the environment
# (a pyenv checkout's .git, the user's project around its .venv), not to the package
_INSTALL_DIRS = frozenset({"site-packages", "dist-packages"})


def marked_root(path: Path) -> Path | None:
    """The nearest directory at or above `path` that holds pyproject.toml or .git, or None; None
    also for a file of an installed package when no marker lies inside site-packages."""
    start = Path(os.path.realpath(path))  # Path.resolve() raises on a link loop (before Python 3.13)
    if not start.is_dir():
        start = start.parent
    for d in (start, *start.parents):
        if (d / "pyproject.toml").exists() or (d / ".git").exists():
            return d
        if d.name in _INSTALL_DIRS:
            return None
    return None


def find_root(path: Path) -> Path:
    """The nearest directory at or above `path` that holds pyproject.toml or .git; without one,
    its outermost package (`pkg/a/freeze.py` with `__init__.py` in `pkg/` and `pkg/a/`: `pkg/`,
    whose sibling modules an import of `pkg.b` reaches), or `path`'s own directory outside a
    package: the same root whichever file or folder of the package is named. Not the directory
    above the package: for an installed package that is site-packages, every other package too."""
    start = Path(os.path.realpath(path))
    return marked_root(start) or package_top(start if start.is_dir() else start.parent)


def package_top(directory: Path) -> Path:
    """The outermost package `directory` is in (itself outside a package)."""
    while (directory / "__init__.py").is_file() and (directory.parent / "__init__.py").is_file():
        directory = directory.parent
    return directory


def _under(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


@dataclass
class Edge:
    """`source` used what `name` (defined in `target`) does. With `finding` ("FZ201 train.py:18"),
    the edge carried that finding across files: its string is `<finding> <- <edge>`, which is how
    it travels with the file's cached result and how --show-project groups it (`parse_used`)."""

    source: str
    target: str
    name: str
    finding: str = ""

    def __str__(self) -> str:
        edge = f"{self.source} -> {self.target}:{self.name}"
        return f"{self.finding} <- {edge}" if self.finding else edge


def parse_used(edge: str) -> tuple[str, str] | None:
    """`FZ201 train.py:18 <- a -> b:f` -> ("FZ201 train.py:18", "a -> b:f"); None for a plain edge."""
    finding, sep, rest = edge.partition(" <- ")
    return (finding, rest) if sep else None


@dataclass(frozen=True)
class Effect:
    """One effect of a project function on an argument: its kind, the line and file where it
    happens, the optimizer it builds (OPT_BUILD), the cross-file edges that carried it, and the
    functions it went through (the one called first)."""

    kind: str
    line: int
    shown: str
    opt: dict
    edges: tuple[Edge, ...]
    via: tuple[str, ...]
    hands: tuple = ()  # "opaque": the callables it hands the argument to (its summary's "hands")
    reach: tuple = ()  # "train": the parts of the argument its train() calls reach (its summary's "reach")
    kept: bool = False  # "freeze": it outlives the function's own unfreezes (its summary's "kept")
    restores: bool = False  # "train": each train() puts back a mode saved from the argument (its summary's "restores")
    flags: tuple = ()  # the `if flag:` tests on its parameters each event of the kind sits under (its summary's "flags")


_MAX_VIA = 4  # builders passing on another file's builder's model, followed this deep (and no cycle further)
_MAX_UP = 3  # directories above an importer of an unmarked tree its absolute imports are looked for in


@dataclass
class Project:
    root: Path
    cache_dir: Path | None = None
    # Texts that stand in for files on disk (the editor's unsaved buffers), by resolved path
    overlay: dict[str, bytes] = field(default_factory=dict)
    limit: int = 200  # files whose summaries one file's check may ask for (each may cost a parse)
    # bytes over which a project file is not summarised (`max-file-size`: a multi-MB generated module
    # a small file imports would cost minutes of parse); None: no limit
    parse_limit: int | None = None
    summarised: dict[str, dict | None] = field(default_factory=dict)  # abs path -> summary
    used: dict[str, str] = field(default_factory=dict)  # abs path -> summary digest (this file's check)
    edges: list[Edge] = field(default_factory=list)
    _files: dict[str, list[Path]] = field(default_factory=dict)  # root -> its .py files
    _outlines: dict[str, dict | None] = field(default_factory=dict)
    _resolved: dict[tuple[str, str], tuple[tuple[Path, str] | None, dict[str, str]]] = field(default_factory=dict)
    _digests: dict[str, str] = field(default_factory=dict)  # dependency -> its digest now
    _stats: dict[str, str | None] = field(default_factory=dict)  # path -> "size:mtime_ns:inode" now
    _tree_stamps: dict[str, str | None] = field(default_factory=dict)  # root -> _tree_stamp
    _candidates: dict[str, list[str]] = field(default_factory=dict)  # `<project>#modes` key -> _mode_candidates
    _acting: dict[tuple[str, str], tuple] = field(default_factory=dict)  # (importer dir, name) -> (target, acts)
    _passing: dict[tuple[str, str], bool] = field(default_factory=dict)  # (file, function) -> _passes_on
    _mentions: dict[str, list[Path]] = field(default_factory=dict)  # regex -> project files matching it
    _file_roots: dict[str, Path] = field(default_factory=dict)  # directory -> the root of its project
    _up: dict[str, list[Path]] = field(default_factory=dict)  # directory -> _unmarked_bases
    _libbases: dict[tuple[str, str], tuple[dict, dict]] = field(default_factory=dict)  # class -> (answer, deps)
    _real: dict[str, Path] = field(default_factory=dict)  # a path as given -> Path.resolve() of it
    _importers: dict[str, list[tuple[Path, frozenset[str]]]] = field(default_factory=dict)  # root -> _import_tokens
    _imports_resolved: dict[str, set[Path]] = field(default_factory=dict)  # file -> _imported_files
    _partials: dict[tuple[str, str], dict | None] = field(default_factory=dict)  # (file, key) -> _partial_of
    _parsed: dict[str, dict | None] = field(default_factory=dict)  # file -> its summary, parsed for _partial_line
    _asked: set[str] = field(default_factory=set)  # the files whose summaries this file's check asked for
    _marked: bool = False  # the cache directory holds its .gitignore and CACHEDIR.TAG
    # the run's own temporary directory while it has workers (see _claim): their claims on summaries,
    # and the summaries themselves where the run has no cache directory
    run_dir: Path | None = None
    # which run's project this is: a worker keeps one project (and its caches) for all the tasks of a run
    token: str = field(default_factory=lambda: os.urandom(8).hex())

    def __reduce__(self):
        # Sent to worker processes with every task: the root and settings, not the caches (file
        # texts, summaries). A worker builds them once a run, as the run's own process does, and
        # not once per task: each task would summarise again every project file it imports (a
        # 3,000-line base class imported by 38 models: 38 parses of it, in each worker).
        return _worker_project, (self.root, self.cache_dir, self.limit, self.token, self.run_dir, self.parse_limit)

    @classmethod
    def for_paths(cls, paths: list[Path], cache_dir: Path | None = None, args: list[str] | None = None) -> "Project":
        """The run's project: the first file's. Each file's imports and scans look in its own
        project first (`_root_of`), so a run over several projects reads each in its own. A tree
        with no pyproject.toml or .git above it is rooted at the directory the run was given
        (`freezelint check proj/`, its first argument), not at the first file's own directory:
        `proj/scripts/train.py` importing `models.net` then finds `proj/models/net.py`."""
        first = paths[0] if paths else Path(".")
        root = marked_root(first)
        if root is None:
            root = find_root(first)
            # (a named link loop, left out of the run, is no directory: resolving it would raise)
            given = Path(args[0]).resolve() if args and os.path.isdir(args[0]) else None
            if given is not None and _under(root, given):
                root = given
        return cls(root, cache_dir)

    # -------------------------------------------------------------- files and modules
    def _read(self, path: Path) -> bytes:
        """A project file's bytes: its overlay text when one stands in for it. Raises OSError."""
        if self.overlay:
            text = self.overlay.get(os.path.realpath(path))
            if text is not None:
                return text
        return read_regular(path)[0]  # a FIFO named like a module is never waited on

    def _roots(self, importer: Path) -> list[Path]:
        """Where an absolute import of `importer` is looked for: the root of its own project first
        (a repository may nest projects that hold packages of the same name) and its `src/`, then
        the run's root and its `src/`, the importer's directory (a script run from there), and in a
        tree with no pyproject.toml or .git, the directories above it up to the working directory
        (`_unmarked_bases`)."""
        own = self._root_of(importer)
        roots = [own, own / "src", self.root, self.root / "src", importer.parent, *self._unmarked_bases(importer.parent)]
        return [r for i, r in enumerate(roots) if r not in roots[:i]]

    def _unmarked_bases(self, folder: Path) -> list[Path]:
        """The directories above `folder`, nearest first, up to and including the working directory,
        where no pyproject.toml or .git marks a project (a few levels at most): `proj/scripts/train.py`
        checked from proj/ imports `models.net` as `python -m scripts.train`, or a `sys.path` entry
        for proj/, finds it there. Nothing when the working directory is not above `folder` (a guess
        that far could find another tree's module of the same name: seeing less is safer)."""
        key = str(folder)
        if key not in self._up:
            here, cwd, out = folder.resolve(), Path.cwd().resolve(), []
            if cwd in here.parents and marked_root(here) is None:
                for d in here.parents:
                    if len(out) >= _MAX_UP or not _under(d, cwd):
                        break
                    out.append(d)
            self._up[key] = out
        return self._up[key]

    def _root_of(self, path: Path) -> Path:
        """The root of the project a file belongs to (its nearest pyproject.toml or .git; without
        one, the run's root when the file lies under it, else its outermost package, see
        find_root): where its imports and the scans on its behalf look."""
        key = str(path.parent)
        root = self._file_roots.get(key)
        if root is None:
            here = path.parent.resolve()
            root = marked_root(here)
            if root is None:
                root = self.root if _under(here, self.root.resolve()) else package_top(here)
            self._file_roots[key] = root
        return root

    def _module_file(self, parts: list[str], base: Path) -> Path | None:
        if not parts:
            init = base / "__init__.py"
            return init if init.is_file() else None
        stem = base.joinpath(*parts)
        for candidate in (stem.with_name(stem.name + ".py"), stem / "__init__.py"):
            if candidate.is_file():
                return candidate
        return None

    def resolve(self, importer: str, qual: str, _depth: int = 0) -> tuple[Path, str] | None:
        """The project file and top-level name a qualified name from `importer` refers to:
        `models.net.Net` -> (models/net.py, "Net"); `.net.Net`, `..utils.freeze_bn` relative to
        the importer's package. Re-exports through a package's `__init__` are followed. What the
        answer rests on beyond the file found (which the caller records when it uses it) is a
        dependency of this file's result: the names of each module read on the way, and for a
        module not found, whether it is found now (a name defined or a file added later)."""
        hit, rests_on = self._lookup(self._realpath(importer), qual, _depth)
        self.used.update(rests_on)
        return hit

    def _lookup(self, here: Path, qual: str, depth: int) -> tuple[tuple[Path, str] | None, dict[str, str]]:
        """resolve's answer from the file `here` (None where that is `here` itself), with the
        dependencies it rests on; computed once a run per directory and name."""
        if depth > _MAX_REEXPORT or not qual:
            return None, {}
        key = (str(here.parent), qual)
        if key not in self._resolved:
            self._resolved[key] = self._resolve(here, qual, depth)
        hit, rests_on = self._resolved[key]
        return (None if hit is None or self._realpath(hit[0]) == here else hit), rests_on

    def _resolution(self, dep: str) -> list[str] | None:
        """For `<project>#module ROOT\nIMPORTER\nQUAL`: what QUAL resolves to from IMPORTER now."""
        _, importer, qual = dep.partition(" ")[2].split("\n", 2)
        hit = self._lookup(self._realpath(importer), qual, 0)[0]
        return None if hit is None else [str(hit[0]), hit[1]]

    def _realpath(self, path: str | Path) -> Path:
        """Path.resolve(), remembered per path as given: the admission asks about the same few
        files tens of thousands of times in a large tree (each resolve is a walk of lstat calls)."""
        key = str(path)
        real = self._real.get(key)
        if real is None:
            real = self._real[key] = Path(os.path.realpath(path))  # Path.resolve() raises on a link loop
        return real

    def _bases(self, here: Path, qual: str) -> tuple[int, list[str], list[Path]]:
        """A dotted name's leading dots, its parts, and where it is looked for: the package the
        dots name, or the roots of an absolute import."""
        dots = len(qual) - len(qual.lstrip("."))
        parts = [p for p in qual.lstrip(".").split(".") if p]
        if not dots:
            roots = self._roots(here)
            own = self._root_of(here)
            # `import pkg.common.utils` inside the outermost package `pkg` itself: found from the directory
            # above it, for that one name only (the rest of that directory may be site-packages), wherever
            # the run was started from
            if parts and parts[0] == own.name and (own / "__init__.py").is_file() and own.parent not in roots:
                roots = [*roots, own.parent]
            return dots, parts, roots
        base = here.parent
        for _ in range(dots - 1):
            base = base.parent
        return dots, parts, [base]

    def _resolve(self, here: Path, qual: str, _depth: int) -> tuple[tuple[Path, str] | None, dict[str, str]]:
        """The answer, and the dependencies it rests on (see resolve)."""
        dots, parts, bases = self._bases(here, qual)
        for base in bases:
            for cut in range(len(parts) - 1, -1, -1):
                module, rest = parts[:cut], parts[cut:]
                if len(rest) != 1 or (not module and not dots):
                    continue
                path = self._module_file(module, base)
                if path is None:
                    continue
                rests_on = {f"{self._realpath(path)}#names _": _digest(self._names(path, "_"))}
                outline = self.outline(path)
                if outline is None:
                    return None, rests_on
                name = rest[0]
                if name in outline["defs"]:
                    return (path, name), {}
                again = outline["imports"].get(name)
                if again:  # `from .net import Net` in a package's __init__
                    hit, inner = self._lookup(self._realpath(path), again, _depth + 1)
                    return hit, {**rests_on, **inner}
                return None, rests_on
        if dots or (len(parts) > 1 and not _installed(parts[0])):  # a project module that may come to be
            return None, {f"{_PROJECT}#module {self._root_of(here)}\n{here}\n{qual}": _digest(None)}
        return None, {}

    def star_module(self, importer: str, module: str) -> None:
        """`from module import *` of a project module: the names it provides now (its top-level
        `def`/`class` names and the names it imports) are a dependency of the importer's result
        (`path#names _`), so a cached result that bound none of them is checked again once the module
        defines one (facts.bind_star_imports binds only what it finds)."""
        here = Path(importer).resolve()
        _, parts, bases = self._bases(here, module)
        for base in bases:
            path = self._module_file(parts, base)
            if path is not None:
                if path.resolve() != here:
                    self.used[f"{path.resolve()}#names _"] = _digest(self._names(path, "_"))
                return

    def _names(self, path: Path, _name: str) -> list[str]:
        outline = self.outline(path)
        return sorted(outline["defs"] | set(outline["imports"])) if outline is not None else []

    # -------------------------------------------------------------- summaries
    def outline(self, path: Path) -> dict | None:
        """What resolution needs of a file, without parsing it: its text, its top-level `def` and
        `class` names, and its `from ... import` names."""
        key = str(self._realpath(path))
        if key not in self._outlines:
            try:
                text = self._read(path).decode("utf-8")
            except (OSError, UnicodeDecodeError):
                self._outlines[key] = None
                return None
            self._outlines[key] = {"text": text, "imports": _imports_of(text),
                                   "defs": {m.group(1) for m in _TOP_DEF.finditer(text)}}
        return self._outlines[key]

    def might_act(self, path: Path, name: str, _depth: int = 0) -> bool:
        """Text test before a summary: does the top-level `def`/`class` block of `name` contain a
        word of what summaries record, or call a top-level function of its file whose block does
        (`freeze(self.backbone)` in `__init__`)? (A file's summary costs a parse; most blocks say no.)"""
        outline = self.outline(path)
        block = _outline_block(outline, name)
        if block is None:
            return False
        words = outline.setdefault("flow_words", {})  # asked again for every file importing it
        if name not in words:  # in its code: a docstring's `model.eval()` makes no event
            words[name] = _flow_words(_block(_code(outline), name) or "")
        if words[name]:
            return True
        if "acting" not in outline:  # the file's functions whose own code has such a word
            outline["acting"] = _acting_defs(_code(outline))
        if any(d != name and (_called_with_args(block, d) or _applied(block, d)) for d in outline["acting"]):
            return True
        return self._base_acts(path, name, block, _depth)

    def _base_acts(self, path: Path, name: str, block: str, _depth: int) -> bool:
        """A class whose project base class acts (`class Net(BaseModel)`, BaseModel's
        freeze_backbone() in another file): its instances have that method. Read from the class
        lines' text (`block`: the class's, as might_act found it), a few classes deep; each base
        file read is a dependency of the caller's."""
        line = _CLASS_HEAD.match(block)
        if line is None or _depth >= _MAX_REEXPORT:
            return False  # a def, or a class without bases
        outline = self.outline(path)
        inside = line.group(1)
        for b in (b.strip() for b in inside.split(",")):
            if not b.isidentifier():
                continue  # a keyword (metaclass=...), a dotted library base, a call
            if b in outline["defs"]:  # a base class of the same file
                if b != name and self.might_act(path, b, _depth + 1):
                    return True
                continue
            qual = outline["imports"].get(b)
            hit = self.resolve(str(path), qual) if qual and not is_library(qual) else None
            if hit is not None and self.might_act(*hit, _depth=_depth + 1):
                self.used[f"{hit[0].resolve()}#acts {hit[1]}"] = _digest(True)
                return True
        return False

    def summary(self, path: Path) -> dict | None:
        key = str(path.resolve())
        if key not in self._asked:  # the bound is per file checked, however many the run has summarised
            if len(self._asked) >= self.limit:
                return None
            self._asked.add(key)
        if key in self.summarised:
            return self.summarised[key]
        try:
            data = self._read(path)
        except OSError:
            self.summarised[key] = None
            return None
        result = self._cached(data)
        self.summarised[key] = result
        return result

    def _cached(self, data: bytes) -> dict | None:
        h = hashlib.blake2b(data, digest_size=20)
        h.update(f"\0summary\0{SUMMARY_VERSION}".encode())
        name = h.hexdigest()
        kept = self.cache_dir if self.cache_dir is not None else self.run_dir
        where = kept / "summaries" / name[:2] / name if kept is not None else None
        entry = _stored_summary(where)
        if entry is not None:
            return entry
        claim = self._claim(name)
        if claim == _NONE:  # another worker of the run found that these bytes have none
            return None
        if claim == _DONE and (entry := _stored_summary(where)) is not None:
            return entry  # another worker of the run summarised them while this one waited
        held = claim if isinstance(claim, Path) else None
        state = _FAILED  # an exception: the others compute it themselves
        try:
            result = self._summarised(data, where)
            state = _NONE if result is None else _DONE if where is not None and where.is_file() else _FAILED
        finally:
            if held is not None:
                _settle(held, state)
        return result

    def _claim(self, name: str) -> Path | str | None:
        """Between the workers of a run (`run_dir`): the first to need a summary claims it (the
        claim file, returned: it computes the summary, then settles the claim); another waits until
        the claim is settled and gets its state (_DONE: read the summary file; _NONE: there is none).
        None without a run directory or when the wait runs out: compute it."""
        if self.run_dir is None:
            return None
        claim = self.run_dir / "claims" / name
        try:
            os.close(os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            return claim
        except FileExistsError:
            pass
        except OSError:
            return None
        deadline = time.monotonic() + _CLAIM_WAIT_S
        while time.monotonic() < deadline:
            try:
                state = claim.read_text()
            except OSError:
                return None
            if state:
                return state
            time.sleep(0.005)
        return None

    def _summarised(self, data: bytes, where: Path | None) -> dict | None:
        """The summary of these bytes, computed, and written to `where`."""
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return None
        imports = _imports_of(text)
        # BatchNorm: a class's "bn" (the parts that hold it) needs a parse too
        # a class that trains (`.backward(`): a trainer base's "trainer" record (`_hooked_base`)
        if _flow_words(text) or "BatchNorm" in text or _handed_to(text, imports, 0, len(text)) \
                or ("self." in text and (_CLASS_WITH_ATTRS.search(text) or ".backward(" in text and "class " in text)):
            if self.parse_limit is not None and len(data) > self.parse_limit:
                return None  # over max-file-size, as `check` leaves the file itself out: what it does is not read
            from freezelint.check import summaries  # libcst: loaded only when a summary is computed

            result = summaries.summarise_text(text)
        else:  # nothing here freezes, trains or hands an argument on: only its imports matter
            result = {"version": SUMMARY_VERSION, "imports": imports, "functions": {}, "classes": {},
                      "trained": [], "evaluated": []}
        if where is not None and result is not None:
            try:
                if not self._marked and self.cache_dir is not None:
                    # a --fix run writes summaries and no results: mark the directory here too
                    mark_cache_dir(self.cache_dir)
                    self._marked = True
                where.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(where, json.dumps(result, separators=(",", ":")).encode())
            except OSError:
                pass
        return result

    def current_digest(self, dep: str) -> str:
        """`path` -> digest of its summary; `path#class Name` -> digest of that class line (what
        module-class detection read, without a summary); `path#acts name` -> whether that
        top-level name acts (what admission and a lookup that found it quiet read); `path#fresh
        name` -> whether that function returns a fresh library model (FZ303); `path#train name`
        -> whether that class defines train(), itself or through its bases (FZ201); `path#sdef name` -> the
        same for state_dict() (FZ403); `path#bn name`
        -> nothing while the file never says BatchNorm (a class without BatchNorm parts); `path#attrs
        Name` -> what the attributes of that class hold and its project bases (its summary's "attrs",
        "bases"); `path#libbases Name` -> the library classes that class derives from (library_bases);
        `path#keeps Name` -> what the train() that class runs keeps in eval mode, `path#quiet name` -> the
        parameters that function leaves in their modes (FZ201); `path#modeless name` -> whether that
        function, handed to `model.apply`, sets no BatchNorm layer's mode (FZ202); `path#frozen name` -> what that
        function or class leaves frozen (its summary's "frozen", FZ202); `path#returns name` -> the
        Module that function returns (its summary's "returns"); `path#defs Name` -> the class line and
        the methods that class defines (text: what an inherited constructor or method needs unchanged);
        `path#mayown Name`, `path#words Name` -> whether that class's text names an optimizer in a class with
        `__init__`, or a word of what summaries record (whether a subclass's file is admitted for it);
        `path#partial name` or `path#partial Name.method` -> what that file says of that function or method
        for FZ401 (_partial_of: the line of the partial load it returns, or the class's bases); `path#strict
        name` -> the load that function runs with its parameter as `strict` and drops (_strict_of, FZ401);
        `path#rannot name` -> that function's return annotation (FZ106); `path#head Name` -> that class's
        line, with or without bases (plain_class)."""
        if dep not in self._digests:  # many files share a dependency: computed once a run
            path, _, part = dep.partition("#")
            kind, _, name = part.partition(" ")
            if path == _PROJECT and kind == "near":  # `<project>#near ROOT\nwords\nFILE[\nHOPS]`: those tied to FILE
                root, words, here, *hops = name.split("\n", 3)
                near = self._near(words, Path(root), Path(here), int(hops[0]) if hops else None)
                self._digests[dep] = _digest([str(f) for f in near])
                return self._digests[dep]
            if path == _PROJECT and kind == "module":  # `<project>#module ROOT\nIMPORTER\nQUAL`
                self._digests[dep] = _digest(self._resolution(dep))
                return self._digests[dep]
            if path == _PROJECT and kind == "modes":  # `<project>#modes ROOT\nCLASS`
                self._digests[dep] = _digest(self._mode_candidates(dep))
                return self._digests[dep]
            if path == _PROJECT and kind == "importers":  # `<project>#importers ROOT\nSTEM\nNAME`
                self._digests[dep] = _digest(self._importers_of(dep))
                return self._digests[dep]
            if path == _PROJECT:  # `<project>#mentions ROOT\nwords`: which files under ROOT match now
                root, _, words = name.partition("\n")
                self._digests[dep] = _digest([str(f) for f in self._scan(words, Path(root))])
                return self._digests[dep]
            read = {"class": self._class_line, "head": self._class_head, "acts": self._acts, "fresh": self._fresh,
                    "train": self._train_override, "sdef": self._state_dict_def, "traindef": self._train_def, "bn": self._bn_words, "attrs": self._attrs,
                    "ownrg": self._keeps_requires_grad, "own": self._keeps_setting, "names": self._names, "libbases": self._library_bases, "quiet": self._quiet,
                    "modeless": self._modeless,
                    "keeps": self._keeps, "frozen": self._frozen, "returns": self._returns,
                    "defs": self._class_defs, "mayown": self._names_optimizer, "words": self._block_words,
                    "partial": self._partial_of, "strict": self._strict_of, "rannot": self._return_annotation,
                    "lightning": lambda p, package: [version_signal(p.parent, package, self.root, at)
                                                     for at in ((2,), KEEPS_MODES)]}.get(kind)
            self._digests[dep] = _digest(read(Path(path), name) if read else self.summary(Path(path)))
        return self._digests[dep]

    def _bn_words(self, path: Path, name: str) -> list[str]:
        """What `bn_attrs` read of a file that never says BatchNorm: nothing; else its summary."""
        outline = self.outline(path)
        return [] if outline is None or "BatchNorm" not in outline["text"] else [self.summary(path)]

    def _class_line(self, path: Path, name: str) -> str | None:
        """The `class` line of top-level class `name` up to its bases' closing parenthesis; None without bases."""
        return self._class_text(path, name, r"\(([^)]*)\)")

    def _class_text(self, path: Path, name: str, rest: str) -> str | None:
        """The text of the `class name` line up to what the pattern `rest` matches after the name."""
        outline = self.outline(path)
        m = re.search(rf"^class[ \t]+{re.escape(name)}[ \t]*{rest}", _shape(outline), re.M) if outline else None
        return outline["text"][m.start():m.end()] if m else None

    def _link(self, edge: Edge) -> None:
        """Note an edge of this file's check to another file (--show-project), once."""
        if not any(str(e) == str(edge) for e in self.edges):
            self.edges.append(edge)

    def deps_current(self, deps: dict[str, str] | None) -> bool:
        """Whether every summary a cached result used is unchanged. A dependency recorded with
        its file's metadata (`digest@size:mtime:inode`) is unchanged while that metadata is: a
        warm run then stats the file instead of reading it and computing the digest."""
        for dep, value in (deps or {}).items():
            digest, _, stamp = value.partition("@")
            if stamp and stamp == self._dep_stamp(dep):
                continue
            if self.current_digest(dep) != digest:
                return False
        return True

    def recorded(self) -> dict[str, str]:
        """What this file's check used (`used`), each with its file's metadata where that can be
        trusted: an mtime within RACY_NS of now could belong to a save still to come in the
        same clock tick, as the cache index reasons."""
        now = time.time_ns()
        out = {}
        for dep, digest in self.used.items():
            stamp = self._dep_stamp(dep)
            old = stamp is not None and int(stamp.split(":")[1]) + RACY_NS < now
            out[dep] = f"{digest}@{stamp}" if old else digest
        return out

    def _dep_stamp(self, dep: str) -> str | None:
        """The metadata a dependency stays unchanged while: its file's, or for one on the whole
        project's files (`<project>#kind ROOT\n...`) the tree stamp of ROOT."""
        path, _, part = dep.partition("#")
        if path != _PROJECT:
            return self._stamp(path)
        return self._tree_stamp(part.partition(" ")[2].partition("\n")[0])

    def _tree_stamp(self, root: str) -> str | None:
        """`count:newest mtime_ns:digest` of every .py file's path and metadata under `root`: a
        warm run stats the tree instead of reading every file to redo a project-wide scan. A file
        added, removed, moved or saved changes it; none while editor buffers stand in for files."""
        if self.overlay:
            return None
        if root not in self._tree_stamps:
            files = [str(f) for f in self._py_files(Path(root))]
            stats = [self._stamp(f) for f in files]
            newest = max((int(st.split(":")[1]) for st in stats if st), default=0)
            self._tree_stamps[root] = f"{len(files)}:{newest}:{_digest([f'{f}:{st}' for f, st in zip(files, stats)])}"
        return self._tree_stamps[root]

    def _stamp(self, path: str) -> str | None:
        if path not in self._stats:
            try:
                st = os.stat(path)
                self._stats[path] = f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"
            except OSError:
                self._stats[path] = None
        return self._stats[path]

    # -------------------------------------------------------------- lookups
    def _use(self, importer: str, path: Path, name: str, summary: bool = True) -> None:
        key = str(path.resolve())
        if summary:
            self.used[key] = _digest(self.summarised.get(key))
        else:
            self.used[f"{key}#class {name}"] = _digest(self._class_line(path, name))
        edge = Edge(shown_path(importer), shown_path(str(path)), name)
        self._link(edge)

    def _acting_target(self, importer: str, qual: str) -> tuple[Path, str] | None:
        """The project file and name `qual` refers to, when its text may act (itself or down a
        chain of files); a project name that cannot is still a dependency (`path#acts name`):
        the importer is checked again when it starts to."""
        hit = self.resolve(importer, qual)
        if hit is None:
            return None
        if not (self.might_act(*hit) or self._passes_on(*hit)):
            self.used[f"{hit[0].resolve()}#acts {hit[1]}"] = _digest(False)
            return None
        return hit

    def _inherited(self, importer: str, path: Path, name: str, summary: dict | None, member: str | None,
                   _depth: int) -> tuple[dict, str] | None:
        """`function` of a plain class that defines neither `__init__` nor `member` itself: its one
        project base's (`class FineTuner(BaseTrainer)`), whose constructor it runs, a few classes deep."""
        entry = summary["classes"].get(name) if summary else None
        method = member[len(ARGS):] if member is not None and member.startswith(ARGS) else member
        if entry is not None:
            if entry["module"] or len(entry["bases"]) != 1 or method in entry["methods"] \
                    or "__init__" in entry["methods"] and not (method and member.startswith(ARGS)):
                return None  # a method given its arguments needs no constructor of the base's
            base = entry["bases"][0]
        else:  # a file summarised without a parse (no word of what summaries record): its class's text
            found = self._text_bases(path, name, (method or "__init__",) + (
                () if method and member.startswith(ARGS) else ("__init__",)))
            if found is None or len(found) != 1:
                return None
            base = found[0]
        if not base or is_library(base) or base == "object" or _depth >= _MAX_REEXPORT:
            return None
        # the result holds while the class defines neither itself and keeps its base
        self.used[f"{path.resolve()}#defs {name}"] = _digest(self._class_defs(path, name))
        found = self.function(str(path), base, member, _depth + 1)
        if found is None:
            return None
        # the edges to it: to this class, then on to the one that defines it (`engine/base.py:BaseTrainer`)
        label = name if method is None else f"{name}.{method}"
        self._use(importer, path, label)
        owner = base.rsplit(".", 1)[-1]
        on = found[0].get("edges_in") or [Edge(shown_path(str(path)), found[1],
                                               owner if method is None else f"{owner}.{method}")]
        at = self.resolve(str(path), base)
        return {**found[0], "edges_in": [Edge(shown_path(importer), shown_path(str(path)), label), *on],
                "defined_path": found[0].get("defined_path") or (str(at[0]) if at else str(path))}, found[1]

    def _class_defs(self, path: Path, name: str) -> list[str]:
        """The class line and the names of the methods the block of class `name` defines (text)."""
        outline = self.outline(path)
        block = _outline_block(outline, name)
        if block is None:
            return []
        defs = re.findall(r"^[ \t]+(?:async[ \t]+)?def[ \t]+(\w+)", block, re.M)
        return [block.split("\n", 1)[0], *sorted(set(defs))]

    def _text_bases(self, path: Path, name: str, defined: tuple[str, ...] = ()) -> list[str] | None:
        """The bases of class `name` of a file summarised without a parse, from its text, as that file
        names them (an imported one by its qualified name; "" for one not known); None when it is no
        class, or its block defines one of `defined` itself."""
        outline = self.outline(path)
        block = _outline_block(outline, name)
        head = _CLASS_HEAD.match(block) if block is not None else None
        if head is None or any(re.search(rf"^[ \t]+(?:async[ \t]+)?def[ \t]+{re.escape(m)}\b", block, re.M)
                               for m in defined):
            return None
        names = [b.strip() for b in head.group(1).split(",") if b.strip()]
        return [outline["imports"].get(b) or (b if b in outline["defs"] else "") if b.isidentifier() else ""
                for b in names]

    def function(self, importer: str, qual: str, member: str | None = None,
                 _depth: int = 0) -> tuple[dict, str] | None:
        """A function of another project file: its summary entry and `file:line`-ready path. With
        `member`, that method of a plain class, as a function of the constructor's arguments the
        class holds (its summary's "acts")."""
        hit = self._acting_target(importer, qual)
        if hit is None:
            return None
        path, name = hit
        summary = self.summary(path)
        if member is not None and member.startswith(ARGS):  # what the method does to the arguments it is given
            entry = summary["classes"].get(name, {}).get("margs", {}).get(member[len(ARGS):]) if summary else None
        elif member is not None:
            entry = summary["classes"].get(name, {}).get("acts", {}).get(member) if summary else None
            if entry is None and summary and name in summary["classes"]:  # it acts on nothing it holds, for now
                self.used[str(path.resolve())] = _digest(summary)
        else:
            entry = summary["functions"].get(name) if summary else None
            if entry is None and summary:  # a plain class: its constructor, as a function of its arguments
                entry = summary["classes"].get(name, {}).get("init")
        if entry is None:  # not in the summary as it is (a file that does not parse has none): as it will be
            self.used[str(path.resolve())] = _digest(summary)
            return self._inherited(importer, path, name, summary, member, _depth)
        self._use(importer, path, name if member is None else f"{name}.{member.removeprefix(ARGS)}")
        return entry, shown_path(str(path))

    def returned_kind(self, importer: str, qual: str) -> tuple[dict, Edge] | None:
        """What a function of another project file returns, when that is a Module (its summary's
        "returns", as kinds.from_summary reads it; a class of that file named as the importer
        would name it, `model.ResNet` for `model.resnet50`), with the edge it crossed; None
        otherwise. A dependency of its own (`path#returns name`)."""
        if is_library(qual):
            return None
        hit = self.resolve(importer, qual)
        if hit is None:
            return None
        path, name = hit
        block = _outline_block(self.outline(path), name)
        if block is None or not block.lstrip().startswith(("def", "async")) or not _returns_instance(block):
            return None  # no summary (a parse) for a function that returns no class's instance by its text
        entry = self._returns(path, name)
        self.used[f"{path.resolve()}#returns {name}"] = _digest(entry)
        if not entry:
            return None
        edge = Edge(shown_path(importer), shown_path(str(path)), name)
        self._link(edge)
        if "class" in entry and "." in qual:
            entry = {**entry, "qual": f"{qual.rsplit('.', 1)[0]}.{entry['class']}"}
        return entry, edge

    def _returns(self, path: Path, name: str) -> dict | None:
        summary = self.summary(path)
        entry = summary["functions"].get(name) if summary else None
        return entry.get("returns") if entry else None

    def returns_fresh(self, importer: str, qual: str) -> bool:
        """A function of another project file returns a model a library call just built, which it
        neither freezes nor hands on (its summary's "fresh"): every parameter of it is trainable.
        Recorded as a dependency of its own (`path#fresh name`)."""
        hit = self.resolve(importer, qual)
        if hit is None:
            return False
        fresh = self._fresh(*hit)
        self.used[f"{hit[0].resolve()}#fresh {hit[1]}"] = _digest(fresh)
        edge = Edge(shown_path(importer), shown_path(str(hit[0])), hit[1])
        self._link(edge)
        return fresh

    def class_attr(self, importer: str, qual: str, attr: str) -> tuple[dict, Edge] | None:
        """What `attr` of an instance of a project class of another file holds, as its summary's
        "attrs" records it ({"kind": "module", ...} or {"kind": "param"}), with the edge it
        crossed; None when unknown. An attribute the class inherits is looked for in its project
        base classes, and one that holds an instance of a project class is a Module when that
        class is one, named so that the importer can ask for its attributes in turn (both
        through at most `_MAX_CHAIN` files, each class once). Each class read is a dependency of
        its own (`path#attrs name`): the importer is checked again when the attributes of a class
        on the chain change, not when anything else in its file does."""
        if is_library(qual):
            return None
        hit = self.resolve(importer, qual)
        found = self._inherited_attr(importer, hit, attr, set()) if hit is not None else None
        if found is None:
            return None
        edge = Edge(shown_path(importer), shown_path(str(hit[0])), f"{hit[1]}.{attr}")
        self._link(edge)
        return found, edge

    def _inherited_attr(self, importer: str, hit: tuple[Path, str], attr: str, seen: set) -> dict | None:
        """`attr` of the class `hit` or of its project base classes (see class_attr)."""
        path, name = hit
        key = (str(path.resolve()), name)
        if key in seen or len(seen) >= _MAX_CHAIN:
            return None
        seen.add(key)
        read = self._attrs(path, name)
        self.used[f"{key[0]}#attrs {name}"] = _digest(read)
        if read is None:
            return None
        if attr in read["attrs"]:  # set by this class: what its bases set is overridden
            found = read["attrs"][attr]
            return self._instance_of(importer, path, found, seen) if found else None
        for base in read["bases"]:
            below = self._class_ref(path, base)
            found = self._inherited_attr(importer, below, attr, seen) if below is not None else None
            if found is not None:
                return found
        return None

    def _instance_of(self, importer: str, path: Path, found: dict, seen: set) -> dict | None:
        """An "attrs" entry of a class of `path` as the importer knows it. One that names the project
        class it holds ("class") gets a name the importer resolves to that class (its attributes are
        then looked up in turn); an instance of a class of another file ("class" alone) is a Module
        when that class is one and does not keep `requires_grad` as its own setting."""
        ref = found.get("class")
        if ref is None:
            return found
        out = {k: v for k, v in found.items() if k != "class"}
        target = self._class_ref(path, ref)
        if target is None:
            return out or None
        if not out:
            if not self.module_class(str(path), ref):
                return None
            keeps = self._keeps_requires_grad(*target)
            self.used[f"{target[0].resolve()}#ownrg {target[1]}"] = _digest(keeps)
            if keeps:
                return None
            out["kind"] = "module"
        named = self._name_for(importer, target) if len(seen) < _MAX_CHAIN else None
        if named is not None:
            out["qual"] = named
        return out

    def _class_ref(self, path: Path, qual: str) -> tuple[Path, str] | None:
        """The class a name of `path` refers to: a top-level class of `path` itself, or of another file."""
        if "." not in qual and qual in (self.outline(path) or {}).get("defs", ()):
            return path, qual
        return None if is_library(qual) else self.resolve(str(path), qual)

    def _name_for(self, importer: str, target: tuple[Path, str]) -> str | None:
        """A dotted name the importer resolves to the class `target` (`models.backbones.Backbone`)."""
        where = target[0].resolve()
        for root in self._roots(Path(importer).resolve()):
            try:
                parts = list(where.relative_to(root.resolve()).with_suffix("").parts)
            except ValueError:
                continue
            if parts and parts[-1] == "__init__":
                parts.pop()
            qual = ".".join([*parts, target[1]])
            hit = self.resolve(importer, qual) if parts and all(p.isidentifier() for p in parts) else None
            if hit is not None and hit[0].resolve() == where and hit[1] == target[1]:
                return qual
        return None

    def frozen(self, importer: str, qual: str, pos: int | str, _depth: int = 0) -> tuple[dict, Edge] | None:
        """What a function (at `pos`: a parameter's index, "ret", or "ret@i" for the element `i` of a
        returned tuple) or a class (an instance, at
        "ret") of another project file leaves frozen, as its summary's "frozen" records it, with
        the edge it crossed; None when it records nothing there. A function that returns what a
        builder of a third file built (`"via"`) is followed there, a few files deep."""
        hit = None if is_library(qual) else self.resolve(importer, qual)
        if hit is None:
            return None
        path, name = hit
        returned = isinstance(pos, str) and (pos == _RET or pos.startswith(_RET + "@"))  # or a returned tuple's element
        entry = self._frozen(path, name, returned=returned)
        self.used[f"{path.resolve()}#frozen {name}"] = _digest(entry)
        if not entry:
            return None
        # a class's: what an instance starts with; a function's: per position
        record = (entry if pos == _RET else None) if "parts" in entry else entry.get(str(pos))
        if record and "via" in record:
            if _depth >= _MAX_VIA:
                return None
            found = self.frozen(str(path), record["via"], _RET, _depth + 1)
            if found is None or "when" in found[0]:
                return None  # frozen under tests on that builder's parameters: not read at this call
            record = found[0]
        if record and "helper" in record:
            record = self._through_helper(path, record, _depth)
        if not record:
            return None
        edge = Edge(shown_path(importer), shown_path(str(path)), name)
        self._link(edge)
        return record, edge

    def _through_helper(self, path: Path, record: dict, _depth: int) -> dict | None:
        """A builder's model frozen by the function of a third file it hands it to (`set_bn(m,
        freeze_bn)`, the record's "helper"): frozen where that function's own record says it
        freezes its argument whole, under its flags said of the builder's parameters (a literal
        the builder passes decides its test there); None where it does not, or is not read."""
        helper = record["helper"]
        if _depth >= _MAX_VIA:
            return None
        found = self.frozen(str(path), helper["fn"], helper["pos"], _depth + 1)
        if found is None or not found[0].get("whole"):
            return None
        from freezelint.check.whole_model import carried_tests  # libcst: only for such a builder

        tests = carried_tests(found[0], helper["call"], record.get("signature"))
        if tests is None:
            return None
        when = [*record.get("when", []), *(t for t in tests if t not in record.get("when", []))]
        out = {k: v for k, v in record.items() if k not in ("helper", "when")}
        return {**out, "when": when} if when else out

    def held(self, importer: str, qual: str) -> dict | None:
        """What an instance of a plain Module class of another project file holds with BatchNorm, as its
        summary's "held" records it (`{"parts": {path: [factory, sub]}, "unknown": [attr]}`); None
        where it records nothing."""
        hit = None if is_library(qual) else self.resolve(importer, qual)
        if hit is None:
            return None
        path, name = hit
        summary = self.summary(path)
        entry = summary["classes"].get(name) if summary else None
        record = entry.get("held") if entry else None
        self.used[f"{path.resolve()}#held {name}"] = _digest(record)
        return record

    def _frozen(self, path: Path, name: str, returned: bool = False) -> dict | None:
        """The summary's "frozen" of a function or class (not through `function`/`klass`: a
        class's own helper may freeze); nothing, without a summary, in a file that never says
        requires_grad (unless the model a function returns is asked for: it may pass on a
        builder's of a third file)."""
        outline = self.outline(path)
        if outline is None or ("requires_grad" not in outline["text"] and not returned):
            return None
        summary = self.summary(path)
        entry = (summary["functions"].get(name) or summary["classes"].get(name)) if summary else None
        return entry.get("frozen") if entry else None

    def _attrs(self, path: Path, name: str) -> dict | None:
        """What class_attr reads of a class: its summary's "attrs" and its project bases."""
        summary = self.summary(path)
        entry = summary["classes"].get(name) if summary else None
        if entry is None or "attrs" not in entry:
            return None
        return {"attrs": entry["attrs"], "bases": [b for b in entry["bases"] if b and not is_library(b)]}

    def _fresh(self, path: Path, name: str) -> bool:
        """The summary's "fresh" of a function; a file with no word of what summaries record is
        summarised without a parse (no functions listed), so it is parsed here for the answer."""
        summary = self.summary(path)
        entry = summary["functions"].get(name) if summary else None
        if entry is None and summary is not None and not summary["functions"] \
                and name in (self.outline(path) or {}).get("defs", ()):
            from freezelint.check import summaries  # libcst: loaded only when a summary is computed

            full = summaries.summarise_text(self.outline(path)["text"])
            entry = full["functions"].get(name) if full else None
        return bool(entry and entry.get("fresh"))

    def effects(self, importer: str, qual: str, pos: int | str, _chain: tuple = (),
                member: str | None = None) -> list["Effect"]:
        """What a function of another project file does to its argument `pos` (or, at "ret", to
        the model it returns), and what the
        project functions it hands that argument to do (`via:` effects), through at most
        `_MAX_CHAIN` files; a function already on the chain is not entered again. Every file on
        the chain is recorded as used, so a cached finding follows a change anywhere on it."""
        hit = self.resolve(importer, qual)
        if hit is None or hit in _chain or len(_chain) >= _MAX_CHAIN:
            return []
        found = self.function(importer, qual, member)
        if found is None:
            return []
        entry, shown = found
        edge = Edge(shown_path(importer), shown, hit[1] if member is None else f"{hit[1]}.{member.removeprefix(ARGS)}")
        first = tuple(entry.get("edges_in") or (edge,))  # an inherited one: through the class's file
        out: list[Effect] = []
        for kind, line in entry["effects"].get(str(pos), {}).items():
            if kind.startswith(_VIA):
                inner, _, at = kind[len(_VIA):].rpartition("#")
                to = int(at) if at.isdigit() else at if at == _RET or at.startswith(_RET + "@") else None
                here = entry.get("defined_path") or str(hit[0])  # an inherited one's names are its file's
                for e in self.effects(here, inner, to, (*_chain, hit)) if to is not None else ():
                    out.append(Effect(e.kind, e.line, e.shown, e.opt, (*first, *e.edges), (hit[1], *e.via),
                                      kept=e.kept))
            else:
                hands = tuple(entry.get("hands", {}).get(str(pos), ())) if kind == "opaque" and not _chain else ()
                reach = tuple(entry.get("reach", {}).get(str(pos), ())) if kind == "train" else ()
                flags = tuple(entry.get("flags", {}).get(str(pos), {}).get(kind, ()))
                out.append(Effect(kind, line, shown, entry.get("opt", {}).get(str(pos), {}), first, (hit[1],),
                                  hands, reach, kind == "freeze" and pos in entry.get("kept", ()),
                                  kind == "train" and pos in entry.get("restores", ()), flags))
        seen: set[str] = set()
        return [e for e in out if not (e.kind in seen or seen.add(e.kind))]  # the first of each kind

    def _passes_on(self, path: Path, name: str, _depth: int = 0) -> bool:
        """Text test before a summary: does the top-level `def` block of `name` hand an argument
        to an imported project function that acts, itself or further down (bounded)? Only then
        is the file worth parsing for a `via:` effect."""
        key = (str(path), name)
        if key in self._passing:
            return self._passing[key]
        self._passing[key] = False  # a cycle: not through here
        outline = self.outline(path)
        m = re.search(rf"^(?:async[ \t]+)?def[ \t]+{re.escape(name)}\b", _shape(outline), re.M) if outline else None
        found = False
        if m is not None and outline["imports"] and _depth < _MAX_CHAIN:
            text = _code(outline)  # a call a docstring shows hands nothing on
            end = _TOP_LEVEL.search(_shape(outline), m.end())
            for local in _handed_to(text, outline["imports"], m.end(), end.start() if end else len(text)):
                hit = self.resolve(str(path), outline["imports"][local])
                if hit is not None and (self.might_act(*hit) or self._passes_on(*hit, _depth + 1)):
                    found = True
                    break
        self._passing[key] = found
        return found

    def klass(self, importer: str, qual: str) -> tuple[dict, str, Path] | None:
        """A class of another project file that freezes or trains: its summary entry."""
        hit = self._acting_target(importer, qual)
        if hit is None:
            return None
        path, name = hit
        summary = self.summary(path)
        entry = summary["classes"].get(name) if summary else None
        if entry is None:
            return None
        self._use(importer, path, name)
        return entry, shown_path(str(path)), path

    def trainer_record(self, importer: str, qual: str) -> dict | None:
        """What the methods of a plain class of another project file (a trainer's base) do, as its
        summary's "trainer" record says (FZ201), with the file: None where it has none."""
        hit = self.klass(importer, qual)
        if hit is None:
            quiet = self._quiet_base(importer, qual)
            return self._hooked_base(importer, qual) or quiet if quiet is not None else None
        if "trainer" not in hit[0]:
            return None
        return {**hit[0]["trainer"], "file": hit[1]}

    def _hooked_base(self, importer: str, qual: str) -> dict | None:
        """A quiet base (`_quiet_base`): its summary's "trainer" record where it names the methods of
        self a method calls right before training ("then": `fit` calls `self.on_epoch_start()`, which
        a subclass may override to call train()), else None. A file whose classes train (`.backward(`)
        is summarised for it; the summary is a dependency either way (the base may start to)."""
        path, name = self.resolve(importer, qual)
        summary = self.summary(path)
        self._use(importer, path, name)
        record = (summary["classes"].get(name) or {}).get("trainer") if summary else None
        if not record or not any("then" in m for m in record["methods"].values()):
            return None
        return {**record, "file": shown_path(str(path))}

    def _quiet_base(self, importer: str, qual: str) -> dict | None:
        """A trainer's base whose text names nothing that trains, freezes or puts a mode, and hands
        nothing on (no summary: `class BaseTrainer(ABC)` whose `fit()` calls `self.train_epoch()`, a
        `pass` the subclass overrides): its methods act only through those of self they call, which
        may be the subclass's. Its record names them ("defs": a call of one is not read) and nothing
        that trains. None where it has a base that may add methods, or is no class of the project."""
        hit = self.resolve(importer, qual)
        if hit is None:
            return None
        path, name = hit
        defs, head = self._class_defs(path, name), self._class_head(path, name)
        self.used[f"{path.resolve()}#defs {name}"] = _digest(defs)  # changed: another answer
        self.used[f"{path.resolve()}#head {name}"] = _digest(head)
        outline = self.outline(path)
        if not defs or head is None or outline is None or self.might_act(path, name) or self._passes_on(path, name):
            return None
        for b in _bases_in(head):
            b = b.partition("[")[0].strip()  # `Generic[T]`
            if b != "object" and (outline["imports"].get(b.split(".")[0]) if "." not in b else b) \
                    not in _PLAIN_BASE_QUALS:
                return None
        return {"methods": {}, "defs": defs[1:], "file": shown_path(str(path))}

    def _may_own(self, importer: str, qual: str) -> bool:
        """Text test before a summary: the project class `qual` is no Module and its block names an
        optimizer and defines `__init__` (what its summary's "owns" needs). The block read is a
        dependency of the importer's."""
        hit = self.resolve(importer, qual)
        if hit is None:
            return False
        may = self._names_optimizer(*hit)
        self.used[f"{hit[0].resolve()}#mayown {hit[1]}"] = _digest(may)
        return may and not self._module_by_text(*hit)

    def _names_optimizer(self, path: Path, name: str) -> bool:
        """The block of class `name` of `path` defines `__init__` and names an optimizer (text)."""
        block = self._class_block(path, name)
        return block is not None and "optim" in block and "__init__" in block

    def _words_in_block(self, path: Path, name: str) -> bool:
        """The block of class `name` of `path` itself names a word of what summaries record (not
        through its bases: a subclass reached through a plain base is asked about that base only
        where it acts itself). Its text is a dependency of the importer's."""
        found = self._block_words(path, name)
        self.used[f"{path.resolve()}#words {name}"] = _digest(found)
        return found

    def _block_words(self, path: Path, name: str) -> bool:
        outline = self.outline(path)
        if not outline:
            return False
        known = outline.setdefault("block_words", {})
        if name not in known:
            block = self._class_block(path, name)
            known[name] = block is not None and _flow_words(block)
        return known[name]

    def _module_by_text(self, path: Path, name: str, _depth: int = 0) -> bool:
        """The class lines' text says `name` of `path` is an nn.Module: a base named so, or a base of
        its file or of another project file that is one (a few classes deep). Each line read is a
        dependency of the importer's."""
        line = self._class_line(path, name) if _depth <= _MAX_REEXPORT else None
        self.used[f"{path.resolve()}#class {name}"] = _digest(line)
        if line is None or "(" not in line:
            return False
        outline = self.outline(path)
        for b in _bases_in(line):
            if is_module_class(b) or b.rsplit(".", 1)[-1] in _MODULE_BASE_NAMES:
                return True
            if b in outline["defs"] and b != name:
                if self._module_by_text(path, b, _depth + 1):
                    return True
            elif (q := outline["imports"].get(b)) and not is_library(q):
                hit = self.resolve(str(path), q)
                if hit is not None and self._module_by_text(*hit, _depth=_depth + 1):
                    return True
        return False

    def owns(self, importer: str, qual: str) -> tuple[dict, str, Edge] | None:
        """A plain class of another project file whose constructor builds an optimizer over a model
        it builds itself: its summary's "owns", the file, and the edge to it."""
        hit = self.klass(importer, qual)
        if hit is None or "owns" not in hit[0]:
            return None
        return hit[0]["owns"], hit[1], Edge(shown_path(importer), hit[1], qual.rsplit(".", 1)[-1])

    def module_class(self, importer: str, qual: str, _depth: int = 0) -> bool:
        """A project class whose bases make it an nn.Module (bases in other project files too),
        read from the `class` line's text: no summary, no parse."""
        hit = self.resolve(importer, qual) if _depth <= _MAX_REEXPORT else None
        return hit is not None and self._module_class_at(importer, *hit, _depth)

    def _module_class_at(self, importer: str, path: Path, name: str, _depth: int) -> bool:
        outline = self.outline(path)
        line = self._class_line(path, name)
        # a dependency whatever the answer: a base made a Module later makes this class one
        self.used[f"{path.resolve()}#class {name}"] = _digest(line)
        if line is None or outline is None or _depth > _MAX_REEXPORT:
            return False
        bases = _bases_in(line)
        if any(is_module_class(b) or b.rsplit(".", 1)[-1] in _MODULE_BASE_NAMES for b in bases):
            self._use(importer, path, name, summary=False)
            return True
        for b in bases:
            local = outline["imports"].get(b.split(".")[0]) if "." not in b else None
            # a base class of the same file (`class SubAgent(Agent)` beside `class Agent(nn.Module)`)
            if (local and self.module_class(str(path), local, _depth + 1)) or \
                    (not local and b in outline["defs"] and b != name
                     and self._module_class_at(str(path), path, b, _depth + 1)):
                self._use(importer, path, name, summary=False)
                return True
        return False

    def plain_class(self, importer: str, qual: str, _depth: int = 0) -> bool:
        """A project class no base can make an nn.Module (read from the `class` lines' text: no
        summary, no parse): it names no base, or only `object`, `ABC`, `Generic[...]`, `Protocol`
        and plain classes of its own file or of other project files. A library base is unknown."""
        hit = self.resolve(importer, qual) if _depth <= _MAX_REEXPORT else None
        return hit is not None and self._plain_class_at(*hit, _depth)

    def _plain_class_at(self, path: Path, name: str, _depth: int) -> bool:
        outline = self.outline(path)
        head = self._class_head(path, name)
        self.used[f"{path.resolve()}#head {name}"] = _digest(head)  # a base made a Module later changes it
        if head is None or outline is None or _depth > _MAX_REEXPORT:
            return False
        for b in _bases_in(head):
            b = b.partition("[")[0].strip()  # `Generic[T]`
            qual = outline["imports"].get(b.split(".")[0]) if "." not in b else b
            if b == "object" or qual in _PLAIN_BASE_QUALS:
                continue
            if qual and not is_library(qual):
                if not self.plain_class(str(path), qual, _depth + 1):
                    return False
            elif qual or b not in outline["defs"] or b == name \
                    or not self._plain_class_at(path, b, _depth + 1):
                return False
        return True

    def _class_head(self, path: Path, name: str) -> str | None:
        """The `class` line of top-level class `name`, with or without bases (`class Scorer:`)."""
        return self._class_text(path, name, r"(?:\(([^)]*)\))?[ \t]*:")

    def overrides_train(self, importer: str, qual: str) -> bool:
        """A project class that defines train() itself or through a project base class, read from
        the class blocks' text (no summary: `class Sub(Net): pass` acts on nothing). Each class
        on the way is a dependency of its own (`path#train name`)."""
        hit = self.resolve(importer, qual)
        if hit is None:
            return False
        edge = Edge(shown_path(importer), shown_path(str(hit[0])), hit[1])
        self._link(edge)
        return self._train_override(*hit, record=True)

    def defines_state_dict(self, importer: str, qual: str) -> bool:
        """A project class that defines state_dict() itself or through a project base class, read
        from the class blocks' text as overrides_train reads train() (FZ403: its state_dict may hand
        back a dict the object keeps). Each class on the way is a dependency (`path#sdef name`)."""
        hit = self.resolve(importer, qual)
        if hit is None:
            return False
        return self._state_dict_def(*hit, record=True)

    def _state_dict_def(self, path: Path, name: str, record: bool = False) -> bool:
        return self._defines("state_dict", "sdef", path, name, record=record)

    def _defines(self, method: str, key: str, path: Path, name: str, _depth: int = 0, record: bool = False) -> bool:
        """Whether the top-level class `name` of `path`, or a project base class of it, defines
        `method` (read from the classes' text); with `record`, a dependency `path#key name`."""
        block = self._class_block(path, name)
        found = False
        if block is not None and _depth <= _MAX_REEXPORT:
            found = bool(re.search(rf"^[ \t]+def[ \t]+{method}[ \t]*\(", block, re.M)) or \
                any(self._defines(method, key, *hit, _depth + 1, record) for hit in self._project_bases(path, name))
        if record:
            self.used[f"{path.resolve()}#{key} {name}"] = _digest(found)
        return found

    def _class_block(self, path: Path, name: str) -> str | None:
        """The text of the top-level class `name` in `path` after its name (None: no such class)."""
        outline = self.outline(path)
        if not outline:
            return None
        # kept with the outline (rebuilt with it): a large file (transformers' modeling files) is
        # asked about the same classes thousands of times in a run
        known = outline.setdefault("class_blocks", {})
        if name not in known:
            text, shape = outline["text"], _shape(outline)
            m = re.search(rf"^class[ \t]+{re.escape(name)}\b", shape, re.M)
            end = _TOP_LEVEL.search(shape, m.end()) if m is not None else None
            known[name] = None if m is None else text[m.end():end.start() if end else len(text)]
        return known[name]

    def _project_bases(self, path: Path, name: str) -> Iterator[tuple[Path, str]]:
        """(file, class) of each base of the top-level class `name` of `path` that is a project
        class, imported or of the same file, in order; lazily, so a caller that stops early
        resolves (and depends on) no further base."""
        outline = self.outline(path)
        for b in _bases_in(self._class_line(path, name) or ""):
            head = b.split(".")[0]
            if head in outline["imports"]:
                hit = self.resolve(str(path), outline["imports"][head] + b[len(head):])
                if hit is not None:
                    yield hit
            elif b in outline["defs"] and b != name:
                yield path, b

    def _train_override(self, path: Path, name: str, record: bool = False) -> bool:
        return self._defines("train", "train", path, name, record=record)

    def train_def(self, importer: str, qual: str) -> dict | None:
        """The `def train` a project class runs (its own or a project base class's, read from the
        class blocks' text, as overrides_train reads them): {"cls": the class defining it, "text":
        that def's text, "eval": whether the class or a project base defines eval() too}; None where
        none defines train(). FZ106 tells from the text whether it is nn.Module's mode switch. A
        dependency of its own whatever the answer (`path#traindef name`)."""
        hit = self.resolve(importer, qual)
        if hit is None:
            return None
        found = self._train_def(*hit)
        self.used[f"{hit[0].resolve()}#traindef {hit[1]}"] = _digest(found)
        if found is not None:
            edge = Edge(shown_path(importer), shown_path(str(hit[0])), hit[1])
            self._link(edge)
        return found

    def _train_def(self, path: Path, name: str, _depth: int = 0) -> dict | None:
        block = self._class_block(path, name)  # None without an outline too
        if block is None or _depth > _MAX_REEXPORT:
            return None
        owner, text, has_eval = name, _method_text(block, "train"), _method_text(block, "eval") is not None
        for hit in () if text is not None and has_eval else self._project_bases(path, name):
            below = self._train_def(*hit, _depth + 1)
            if below is not None and text is None:
                owner, text = below["cls"], below["text"]
            has_eval = has_eval or bool(below and below["eval"])
            if text is not None and has_eval:
                break
        return {"cls": owner, "text": text, "eval": has_eval} if text is not None else None

    def return_annotation(self, importer: str, qual: str) -> str | None:
        """The return annotation of a top-level function of another project file as its `def`
        writes it (`Tensor | None`); None without one. FZ106 reads from it that a constructor
        stores no Module. A dependency of its own whatever the answer (`path#rannot name`)."""
        hit = None if is_library(qual) else self.resolve(importer, qual)
        if hit is None:
            return None
        found = self._return_annotation(*hit)
        self.used[f"{hit[0].resolve()}#rannot {hit[1]}"] = _digest(found)
        if found is not None:
            self._link(Edge(shown_path(importer), shown_path(str(hit[0])), hit[1]))
        return found

    def _return_annotation(self, path: Path, name: str) -> str | None:
        block = _outline_block(self.outline(path), name)
        if block is None or not block.lstrip().startswith(("def", "async")):
            return None
        end = _LINE_ENDS_BLOCK.search(block)  # the signature's last line: not a nested def's
        m = _RETURNS_ANNOTATED.search(block, 0, end.end() if end else len(block))
        return m.group(1).strip() if m else None

    def library_bases(self, importer: str, qual: str) -> dict | None:
        """The library classes a project class derives from through project classes (bases in
        other files too), read from the class lines' text, and whether a project class on the way
        defines `make_trainable` itself (a Lightning BaseFinetuning subclass of a project subclass
        then uses its own): {"bases": [...], "make_trainable": bool}. Each class on the way is a
        dependency of its own (`path#libbases name`)."""
        hit = self.resolve(importer, qual)
        if hit is None:
            return None
        edge = Edge(shown_path(importer), shown_path(str(hit[0])), hit[1])
        self._link(edge)
        return self._recorded_bases(*hit)

    def _recorded_bases(self, path: Path, name: str) -> dict:
        """`_library_bases` with every class on the way recorded, once a run per class."""
        key = (str(path.resolve()), name)
        if key not in self._libbases:
            kept, self.used = self.used, {}  # what this walk records, kept for the next file's ask
            try:
                self._libbases[key] = (self._library_bases(path, name, record=True), self.used)
            finally:
                self.used = kept
        found, deps = self._libbases[key]
        self.used.update(deps)
        return found

    def _library_bases(self, path: Path, name: str, _depth: int = 0, record: bool = False) -> dict:
        outline = self.outline(path)
        block = self._class_block(path, name)
        found: dict = {"bases": [], "make_trainable": False}
        if block is not None and _depth <= _MAX_REEXPORT:
            found["make_trainable"] = bool(re.search(r"^[ \t]+def[ \t]+make_trainable[ \t]*\(", block, re.M))
            # `import torch.nn as nn`, `import lightning.pytorch as pl` too (the outline keeps from-imports)
            plain = outline.get("plain")
            if plain is None:
                plain = outline["plain"] = _plain_imports_of(outline["text"])
            for b in _bases_in(self._class_line(path, name) or ""):
                head = b.split(".")[0]
                known = outline["imports"].get(head) or plain.get(head)
                q = known + b[len(head):] if known else None
                if q is not None and is_library(q):
                    found["bases"].append(q)
                    continue
                below = self.resolve(str(path), q) if q is not None else \
                    (path, b) if b in outline["defs"] and b != name else None
                if below is not None:
                    more = self._library_bases(*below, _depth + 1, record)
                    found["bases"] += [x for x in more["bases"] if x not in found["bases"]]
                    found["make_trainable"] = found["make_trainable"] or more["make_trainable"]
        if record:
            self.used[f"{path.resolve()}#libbases {name}"] = _digest(found)
        return found

    def train_keeps(self, importer: str, qual: str) -> list[str] | None:
        """What the train() a project class runs (its own, or a project base class's) provably
        keeps in eval mode, as the summary of the class that defines it says ("train_keeps");
        None when it may keep more, or cannot be read. A dependency of its own (`path#keeps name`)."""
        hit = self.resolve(importer, qual)
        if hit is None:
            return None
        found = self._keeps(*hit, record=True)
        return found if isinstance(found, list) else None

    def keeps_of(self, importer: str, qual: str) -> list[str] | str | None:
        """`train_keeps` with "none" kept apart: neither the class nor a project base of it defines
        train() (then a library base's runs, or nn.Module's)."""
        hit = self.resolve(importer, qual)
        return None if hit is None else self._keeps(*hit, record=True)

    def _keeps(self, path: Path, name: str, _depth: int = 0, record: bool = False) -> list[str] | str | None:
        """`train_keeps` of a class; "none" when neither it nor a project base defines train().
        Each class on the way is a dependency of its own (`path#keeps name`)."""
        found = self._keeps_of(path, name, _depth, record)
        if record:
            self.used[f"{path.resolve()}#keeps {name}"] = _digest(found)
        return found

    def _keeps_of(self, path: Path, name: str, _depth: int, record: bool) -> list[str] | str | None:
        block = self._class_block(path, name)
        if block is None or _depth > _MAX_REEXPORT:
            return None
        if re.search(r"^[ \t]+def[ \t]+train[ \t]*\(", block, re.M):
            summary = self.summary(path)
            entry = summary["classes"].get(name) if summary else None
            return entry.get("train_keeps") if entry else None
        outline = self.outline(path)
        found: list = []
        for b in _bases_in(self._class_line(path, name) or ""):
            head = b.split(".")[0]
            if head in outline["imports"]:
                hit = self.resolve(str(path), outline["imports"][head] + b[len(head):])
                found.append(self._keeps(*hit, _depth + 1, record) if hit is not None else
                             "none" if is_library(outline["imports"][head]) else None)
            elif b in outline["defs"] and b != name:
                found.append(self._keeps(path, b, _depth + 1, record))
            else:
                found.append("none" if head in ("nn", "torch") else None)
        defined = [f for f in found if f != "none"]
        return "none" if not defined else defined[0] if len(defined) == 1 else None

    def quiet(self, importer: str, qual: str, pos: int) -> bool:
        """A function of another project file provably leaves the modes of its argument `pos`
        alone (its summary's "quiet"): handed the model after train(), it re-freezes nothing. A
        dependency of its own (`path#quiet name`)."""
        found = self._function_fact(importer, qual, "quiet", self._quiet)
        return found is not None and pos in found

    def keeps_modes(self, importer: str, qual: str) -> bool:
        """A function of another project file that, handed to `model.apply`, visibly sets no
        BatchNorm layer's mode (its summary's "modeless": a weight initialiser). A dependency of its
        own (`path#modeless name`)."""
        return bool(self._function_fact(importer, qual, "modeless", self._modeless))

    def _function_fact(self, importer: str, qual: str, key: str, read):
        """`read(path, name)` of the project function `qual` names from `importer`, recorded as a
        dependency of its own (`path#key name`) with its edge; None for a library or a name not resolved."""
        if is_library(qual):
            return None
        hit = self.resolve(importer, qual)
        if hit is None:
            return None
        found = read(*hit)
        self.used[f"{hit[0].resolve()}#{key} {hit[1]}"] = _digest(found)
        self._link(Edge(shown_path(importer), shown_path(str(hit[0])), hit[1]))
        return found

    def _modeless(self, path: Path, name: str) -> bool:
        """The summary's "modeless" of a function (a file summarised without a parse is parsed here)."""
        entry = self._function_entry(path, name)
        return bool(entry and entry.get("modeless"))

    def _function_entry(self, path: Path, name: str) -> dict | None:
        """A function's entry in the file's summary; a file with no word of what summaries record is
        summarised without a parse (no functions listed), so it is parsed here for the answer."""
        summary = self.summary(path)
        entry = summary["functions"].get(name) if summary else None
        if entry is None and summary is not None and not summary["functions"] \
                and name in (self.outline(path) or {}).get("defs", ()):
            from freezelint.check import summaries  # libcst: loaded only when a summary is computed

            full = summaries.summarise_text(self.outline(path)["text"])
            entry = full["functions"].get(name) if full else None
        return entry

    def _quiet(self, path: Path, name: str) -> list[int]:
        """The summary's "quiet" of a function; a file with no word of what summaries record is
        summarised without a parse (no functions listed), so it is parsed here for the answer."""
        entry = self._function_entry(path, name)
        return list(entry.get("quiet", [])) if entry else []

    def keeps_requires_grad(self, importer: str, qual: str) -> bool:
        """A project class that keeps `requires_grad` as a setting of its own (reads
        `self.requires_grad` back, or declares it at class level), read from the class block's
        text: `model.requires_grad = False` on its instances sets that setting (FZ102 is silent, as
        it is for a class of the same file). A dependency of its own (`path#ownrg name`)."""
        hit = self.resolve(importer, qual)
        if hit is None:
            return False
        found = self._keeps_requires_grad(*hit)
        self.used[f"{hit[0].resolve()}#ownrg {hit[1]}"] = _digest(found)
        return found

    def _keeps_requires_grad(self, path: Path, name: str) -> bool:
        return self._keeps_setting(path, f"{name} requires_grad")

    def keeps_setting(self, importer: str, qual: str, attr: str) -> bool:
        """A project class that keeps `attr` as a setting of its own (reads `self.<attr>` back, or
        declares it at class level), read from the class block's text: `model.trainable = False`
        on its instances switches that setting (FZ103 is silent, as it is for a class of the same
        file). A dependency of its own (`path#own Name attr`)."""
        hit = self.resolve(importer, qual)
        if hit is None:
            return False
        found = self._keeps_setting(hit[0], f"{hit[1]} {attr}")
        self.used[f"{hit[0].resolve()}#own {hit[1]} {attr}"] = _digest(found)
        return found

    def _keeps_setting(self, path: Path, name_attr: str) -> bool:
        name, _, attr = name_attr.partition(" ")
        block = self._class_block(path, name)
        a = re.escape(attr)
        return block is not None and bool(re.search(rf"\bself\.{a}\b(?!\s*=[^=])|^[ \t]+{a}[ \t]*[:=]", block, re.M))

    def bn_attrs(self, importer: str, qual: str) -> list[str]:
        """The attributes of a project class proven to hold BatchNorm (its summary's "bn"); a class
        whose block never says BatchNorm has none, without a summary (`path#bn name`)."""
        hit = self.resolve(importer, qual)
        if hit is None:
            return []
        path, name = hit
        outline = self.outline(path)
        m = re.search(rf"^class[ \t]+{re.escape(name)}\b", _shape(outline), re.M) if outline else None
        if m is None or "BatchNorm" not in outline["text"]:
            self.used[f"{path.resolve()}#bn {name}"] = _digest([])
            return []
        summary = self.summary(path)
        entry = summary["classes"].get(name) if summary else None
        self._use(importer, path, name)
        return list(entry.get("bn", [])) if entry else []

    def constructed_bn(self, importer: str, qual: str) -> list[dict]:
        """The BatchNorm freezes `__init__` of a project class makes through a public method of
        it (its summary's "init_bn": Summaries.constructed_bn)."""
        hit = self.klass(importer, qual)
        return list(hit[0].get("init_bn", [])) if hit is not None else []

    def constructed_freezes(self, importer: str, qual: str) -> tuple[list[dict], str] | None:
        """The parts of self `__init__` of a project class leaves frozen (its summary's
        "init_freeze": Summaries.constructed_freezes), and the file it is in; None for none."""
        hit = self.klass(importer, qual)
        records = hit[0].get("init_freeze") if hit is not None else None
        return (list(records), hit[1]) if records else None

    # -------------------------------------------------------------- partial loads (FZ401)
    def partial_load(self, importer: str, qual: str, method: str | None = None) -> tuple[int, str] | str | None:
        """Where a function of another project file (with `method`: that method of a project class,
        or of the first of its project bases that defines it) returns the result of
        `load_state_dict(..., strict=False)` that nothing in it reads (its summary's "partial"): the
        load's `(line, shown path)`. ABSENT when neither the class nor its bases define the method (a
        class of the importer that derives from it looks on in its other bases); None when it is
        defined and returns anything else, or when that cannot be told (a base the project does not
        hold). Each function or class read is a dependency of its own (`path#partial key`),
        recomputed from that file alone."""
        if not qual or is_library(qual):
            return None
        hit = self.resolve(importer, qual)
        return self._partial_walk(importer, hit, method, set()) if hit is not None else None

    def _partial_walk(self, importer: str, hit: tuple[Path, str], method: str | None,
                      seen: set) -> tuple[int, str] | str | None:
        path, name = hit
        real = str(self._realpath(path))
        if (real, name) in seen or len(seen) >= _MAX_CHAIN:
            return None
        seen.add((real, name))
        key = f"{name}.{method}" if method else name
        entry = self._partial_of(path, key)
        self.used[f"{real}#partial {key}"] = _digest(entry)
        if entry is None:
            return None
        if "line" in entry:
            if not entry["line"]:
                return None
            edge = Edge(shown_path(importer), shown_path(str(path)), key)
            self._link(edge)
            return entry["line"], shown_path(str(path))
        return self._through_bases(importer, path, entry["bases"], method, seen, self._partial_walk)

    def _partial_of(self, path: Path, key: str) -> dict | None:
        """What file `path` says of a top-level function (`key` its name) or of a method of a
        top-level class (`Name.method`) for partial_load: `{"line": n}` where it is defined (the line
        of the unread `strict=False` load it returns, 0 for none; with its class's bases where not 0),
        `{"bases": [...]}` for a class that does not define the method (as the file names them, "" for
        one not known); None for no such def or class. A block that
        never says `strict=False` is not parsed."""
        cache = (str(self._realpath(path)), key)
        if cache in self._partials:
            return self._partials[cache]
        name, _, method = key.partition(".")
        outline = self.outline(path)
        block = _outline_block(outline, name)
        out: dict | None = None
        if block is not None and block.startswith("class") and method:
            head = _CLASS_HEAD.match(block)
            if re.search(rf"^[ \t]+(?:async[ \t]+)?def[ \t]+{re.escape(method)}\b", block, re.M):
                out = {"line": self._partial_line(path, name, method) if _PARTIAL_TEXT.search(block) else 0}
                if out["line"] and head:  # subclass_load reads them: where it derives from
                    out["bases"] = _named_bases(outline, head.group(1))
            else:
                out = {"bases": _named_bases(outline, head.group(1)) if head else []}
        elif block is not None and not block.startswith("class") and not method:
            out = {"line": self._partial_line(path, name, None) if _PARTIAL_TEXT.search(block) else 0}
        self._partials[cache] = out
        return out

    def subclass_load(self, importer: str, name: str, method: str) -> tuple[int, str] | None:
        """Where a direct subclass, in another project file, of the top-level class `name` of
        `importer` (which, with its bases, does not define `method`) defines `method` to return an
        unread `strict=False` load's result (LAVIS's Blip2Base.load_from_pretrained, run by
        BaseModel's `self.load_from_pretrained(...)`): the load's `(line, shown path)`, the first
        by file, then by class name. Dependencies, whatever the answer: which files name the class and
        define the method (a subclass added or removed), and each class of them read (its bases
        and its method, `path#partial Sub.method`)."""
        here = self._realpath(importer)
        root = self._root_of(here)
        words = rf"(?s)\A(?=.*?\b{re.escape(name)}\b).*?\bdef[ \t]+{re.escape(method)}\b"
        files = self._scan(words, root)
        self.used[_mentions_key(root, words)] = _digest([str(f) for f in files])
        for f in files:
            real = self._realpath(f)
            if real == here:
                continue  # the file's own subclasses: the rule reads them
            outline = self.outline(f)
            for sub in sorted(m.group(1) for m in _TOP_CLASS.finditer(_shape(outline) if outline else "")):
                key = f"{sub}.{method}"
                entry = self._partial_of(f, key)
                self.used[f"{real}#partial {key}"] = _digest(entry)
                if not entry or not entry.get("line") or not any(
                        (hit := self._class_ref(f, b)) is not None and self._realpath(hit[0]) == here
                        and hit[1] == name for b in entry.get("bases", []) if b):
                    continue
                edge = Edge(shown_path(importer), shown_path(str(f)), method)  # as the finding names it
                self._link(edge)
                return entry["line"], shown_path(str(f))
        return None

    def strict_load(self, importer: str, qual: str) -> tuple[int, str, str, int | None, bool, bool] | None:
        """Where a top-level function of another project file runs `load_state_dict(..., strict=P)`
        with P one of its parameters and drops the result, or returns it (its summary's "strict_arg"):
        the load's `(line, shown path)`, P, P's position (None: keyword-only), whether P defaults to
        False, and whether the result is returned. The function read is a dependency (`path#strict name`)."""
        if not qual or is_library(qual):
            return None
        hit = self.resolve(importer, qual)
        if hit is None:
            return None
        path, name = hit
        entry = self._strict_of(path, name)
        self.used[f"{self._realpath(path)}#strict {name}"] = _digest(entry)
        if not entry:
            return None
        edge = Edge(shown_path(importer), shown_path(str(path)), name)
        self._link(edge)
        return entry[0], shown_path(str(path)), entry[1], entry[2], entry[3], len(entry) > 4 and entry[4]

    def strict_method_load(self, importer: str, qual: str, method: str
                           ) -> tuple[int, str, str, int | None, bool, bool] | str | None:
        """strict_load for `method` of a project class of another file, or of the first of its
        project bases that defines it (a subclass's `self.load(path)` running its base's
        `def load(self, path, strict=False)`): as strict_load; ABSENT where none defines it; None where
        the one that does drops no such load, or a base is not known. Each class read is a dependency
        (`path#strict Name.method`)."""
        if not qual or is_library(qual):
            return None
        hit = self.resolve(importer, qual)
        return self._strict_walk(importer, hit, method, set()) if hit is not None else None

    def _through_bases(self, importer: str, path: Path, bases: list, method: str | None, seen: set,
                       walk: Callable) -> object:
        """What `walk` finds of `method` in the project classes `bases` name (the bases of a class
        of `path`), the first that defines it; ABSENT where none does."""
        for base in bases:
            if base and is_library(base):
                continue  # torch's, transformers' classes: no project helper of this name
            below = self._class_ref(path, base) if base else None
            found = walk(importer, below, method, seen) if below is not None else None
            if found != ABSENT:
                return found  # found, or a base not known that may define it
        return ABSENT

    def _strict_walk(self, importer: str, hit: tuple[Path, str], method: str,
                     seen: set) -> tuple[int, str, str, int | None, bool, bool] | str | None:
        path, name = hit
        real = str(self._realpath(path))
        if (real, name) in seen or len(seen) >= _MAX_CHAIN:
            return None
        seen.add((real, name))
        key = f"{name}.{method}"
        entry = self._strict_of(path, key)
        self.used[f"{real}#strict {key}"] = _digest(entry)
        if isinstance(entry, list):
            self._link(Edge(shown_path(importer), shown_path(str(path)), key))
            return entry[0], shown_path(str(path)), entry[1], entry[2], entry[3], len(entry) > 4 and entry[4]
        if entry is None:
            return None
        return self._through_bases(importer, path, entry["bases"], method, seen, self._strict_walk)

    def _strict_of(self, path: Path, name: str) -> list | dict | None:
        """The summary's "strict_arg" of a top-level function, or (`Name.method`) of a method of a
        top-level class (`[line, parameter, position, defaults to False]`, and `True` where the result is
        returned), or None; for a class that
        does not define the method, `{"bases": [...]}` as _partial_of. A block that never calls
        `load_state_dict` is not parsed."""
        cls, _, method = name.partition(".")
        outline = self.outline(path)
        block = _outline_block(outline, cls)
        if block is None or block.startswith("class") != bool(method):
            return None
        if method and not re.search(rf"^[ \t]+(?:async[ \t]+)?def[ \t]+{re.escape(method)}\b", block, re.M):
            head = _CLASS_HEAD.match(block)
            return {"bases": _named_bases(outline, head.group(1)) if head else []}
        if "load_state_dict" not in block:
            return None
        summary = self._parsed_summary(path)
        if summary is None:
            return None
        if method:
            return ((summary["classes"].get(cls) or {}).get("strict_arg") or {}).get(method)
        return (summary["functions"].get(name) or {}).get("strict_arg")

    def _parsed_summary(self, path: Path) -> dict | None:
        """The file's summary, parsed where it was summarised without a parse (no word of what
        summaries record)."""
        summary = self.summary(path)
        if summary is not None and not summary["functions"] and not summary["classes"]:
            real = str(self._realpath(path))
            if real not in self._parsed:
                from freezelint.check import summaries  # libcst: loaded only when a summary is computed

                self._parsed[real] = summaries.summarise_text(self.outline(path)["text"])
            summary = self._parsed[real]
        return summary

    def _partial_line(self, path: Path, name: str, method: str | None) -> int:
        """The summary's "partial" of a function or a class's method (0: none). A file with no word
        of what summaries record is summarised without a parse: it is parsed here for the answer."""
        summary = self._parsed_summary(path)
        if summary is None:
            return 0
        if method is None:
            return int((summary["functions"].get(name) or {}).get("partial") or 0)
        return int(((summary["classes"].get(name) or {}).get("partial") or {}).get(method) or 0)

    def admits_held(self, importer: str, text: str) -> bool:
        """Whether a file the text prefilter ruled out for FZ202 freezes and takes a part of an instance
        of an imported project class whose summary's "held" records BatchNorm (`self.f = Model().f`)."""
        if "requires_grad" not in text or "import" not in text:
            return False
        for m in _FROM_IMPORT.finditer(text):
            module = m.group(1)
            names = _NAMES_AS.findall(m.group(2)) if m.group(2).strip() != "*" else []
            for name, alias in names:
                if not re.search(rf"\b{re.escape(alias or name)}\([^()\n]*\)\.[A-Za-z_]", text):
                    continue
                if self.held(importer, f"{module}{name}" if module.endswith(".") else f"{module}.{name}"):
                    return True
        return False

    def admits_partial(self, importer: str, text: str) -> bool:
        """Whether a file the text prefilter ruled out for FZ401 drops what a project helper of
        another file returns: a statement of its own (or an assignment) calls an imported function, or a method of self
        in a class with an imported project base, that returns a `strict=False` load's result
        (partial_load), or such a method that drops a load with its `strict` parameter
        (strict_method_load). Every function and class asked about is a dependency (`path#partial
        key`, `path#strict Name.method`)."""
        calls = {*_STATEMENT_CALL.findall(text), *_ASSIGNED_CALL.findall(text)}  # dropped, or into names never read
        if not calls or "import" not in text:
            return False
        imports = _imports_of(text)
        plain = _plain_imports_of(text)
        if "strict" in text:  # `load_checkpoint(model, path, strict=False)` of another file
            for call in sorted(set(_STRICT_FALSE_CALL.findall(text))):
                head, _, rest = call.partition(".")
                qual = imports.get(head) if not rest else (f"{plain[head]}.{rest}" if head in plain else
                                                            f"{imports[head]}.{rest}" if head in imports else None)
                if qual and self.strict_load(importer, qual) is not None:
                    return True
        bases = {q for m in _CLASS_NAME_BASES.finditer(text)
                 for q in _named_bases({"imports": imports, "defs": set()}, m.group(2), plain) if q}
        for call in sorted(calls):
            head, _, rest = call.partition(".")
            if head == "self" and rest and "." not in rest:
                if any(isinstance(self.partial_load(importer, b, rest), tuple)
                       or isinstance(self.strict_method_load(importer, b, rest), tuple) for b in sorted(bases)):
                    return True  # a base's method returns the keys, or drops them with its `strict` parameter
                continue
            qual = imports.get(head) if not rest else (f"{plain[head]}.{rest}" if head in plain else
                                                        f"{imports[head]}.{rest}" if head in imports else None)
            if qual and isinstance(self.partial_load(importer, qual), tuple):
                return True
        return False

    def method(self, importer: str, qual: str, method: str) -> tuple[dict, str, list[Edge]] | None:
        """What `method` of a project class (or of a project base class) does to self, the file
        that defines it, and the edges to it: the class's file, then each base's on the way."""
        hit = self._defining(importer, qual, method)
        return (hit[0]["methods"][method], hit[1], hit[2]) if hit is not None else None

    def method_optimizer(self, importer: str, qual: str, method: str) -> dict | None:
        """The optimizer `method` builds over self, where the summary records it (the class's
        "optimizer": that of `configure_optimizers`); None when not known."""
        hit = self._defining(importer, qual, method) if method == "configure_optimizers" else None
        return hit[0].get("optimizer") if hit is not None else None

    def method_reach(self, importer: str, qual: str, method: str) -> list | None:
        """The parts of self the train() calls of `method` reach, relative to self (`[[".head",
        False]]`: the summary's "reach"); None for all of it."""
        hit = self._defining(importer, qual, method)
        return hit[0].get("reach", {}).get(method) if hit is not None else None

    def _defining(self, importer: str, qual: str, method: str,
                  _depth: int = 0) -> tuple[dict, str, list[Edge]] | None:
        """The summary entry of the project class (`qual` or a project base of it) that defines
        `method`, its file, and the edges from the importer to it."""
        hit = self.klass(importer, qual)
        if hit is None or _depth > _MAX_REEXPORT:
            return None
        entry, shown, path = hit
        edge = Edge(shown_path(importer), shown, qual.rsplit(".", 1)[-1])
        if method in entry["methods"]:
            return entry, shown, [edge]
        for b in entry["bases"]:
            found = self._defining(str(path), b, method, _depth + 1) if b else None
            if found is not None:
                return found[0], found[1], [edge, *found[2]]
        return None

    def calls_imported(self, text: str) -> list[str]:
        """Text only, no file read: the qualified names a file imports with `from ... import`
        and calls with an argument, or hands to `Module.apply` (only those can act on a model it holds)."""
        if "import" not in text:
            return []
        out = []
        for m in _FROM_IMPORT.finditer(text):
            module = m.group(1)
            # `from modeling.deeplab import *`: any name the file calls may be one of the module's
            names = _NAMES_AS.findall(m.group(2)) if m.group(2).strip() != "*" else \
                [(n, "") for n in sorted(set(_CALLED_NAME.findall(text))) if not hasattr(builtins, n)]
            for name, alias in names:
                if _called_with_args(text, alias or name) or _applied(text, alias or name):
                    out.append(f"{module}{name}" if module.endswith(".") else f"{module}.{name}")
        out += [q for q in _module_calls(text) if q not in out]
        bases = [_BASE + q for q in _imported_bases(text) if q not in out]
        # a subclass of a plain project class built here, or one that may run a trainer's constructor
        built_here, derived = _subclass_bases(text)
        built = [q for q in built_here if q not in out]
        owned = [_OWNS + q for q in derived if q not in out and q not in built]
        return out + bases + [_SUB + q for q in built] + owned

    def admits(self, importer: str, text: str) -> bool:
        """Whether a file the text prefilter ruled out imports a project function or class that
        freezes, trains or builds an optimizer: then the flow rules must see it (a `main.py` with
        `freeze_bn(model)` and `train_one_epoch(model)` names no freezing word itself). Every
        project name it asked about is recorded in `used` (`path#acts name`): the file is
        checked again when one of them starts or stops acting."""
        return self.admits_names(importer, self.calls_imported(text))

    def admits_names(self, importer: str, quals: list[str]) -> bool:
        """`admits` for names `calls_imported` already found."""
        for qual in quals:
            if qual.startswith(_SUB):  # the base of a class built here: as a call of it, unless a Module
                qual = qual[len(_SUB):]
                hit = self.resolve(importer, qual)
                if hit is None or not self._words_in_block(*hit) or self._module_by_text(*hit):
                    continue
            if qual.startswith(_OWNS):  # a base class: admitted when its constructor builds a model and optimizer
                if self._may_own(importer, qual[len(_OWNS):]) and self.owns(importer, qual[len(_OWNS):]) is not None:
                    return True
                continue
            if qual.startswith(_BASE):  # a base class: admitted when it is a Lightning callback
                if self._derives_callback(importer, qual[len(_BASE):]):
                    return True
                continue
            # files of one directory resolve an import alike: asked once per directory
            key = (os.path.dirname(importer), qual)
            if key not in self._acting:
                hit = self.resolve(importer, qual)
                self._acting[key] = (hit, self._acts(*hit) if hit is not None else False)
            hit, acts = self._acting[key]
            if hit is not None:
                self.used[f"{hit[0].resolve()}#acts {hit[1]}"] = _digest(acts)
            if acts:
                return True
        return False

    def _derives_callback(self, importer: str, qual: str) -> bool:
        """A project class of another file a class of the importer derives from is a Lightning
        Callback (BaseFinetuning) through its own bases (`class MyFt(Base)`, `class
        Base(BaseFinetuning)` in base.py): the subclass's hooks run after Lightning built the
        optimizer, as a direct subclass's do. Each class on the way is recorded (`path#libbases name`)."""
        hit = self.resolve(importer, qual)
        bases = self._recorded_bases(*hit)["bases"] if hit is not None else []
        return any(q.rsplit(".", 1)[-1] in _CALLBACK_NAMES for q in bases)

    def _acts(self, path: Path, name: str, _depth: int = 0) -> bool:
        """Does top-level `name` of project file `path` freeze, train, build an optimizer or
        wrap in DDP, itself or down a chain of files (text tests first, then its summary)?"""
        passes = self._passes_on(path, name)
        if not (self.might_act(path, name) or passes):
            return False
        self.summary(path)
        summary = self.summarised.get(str(path.resolve())) or {}
        fn = summary.get("functions", {}).get(name)
        if fn is not None:  # an argument handed down a chain of files that acts (text test) counts
            return any(set(e) & _FLOW_EFFECTS or passes and any(k.startswith(_VIA) for k in e)
                       for e in fn["effects"].values())
        cls = summary.get("classes", {}).get(name)
        if cls is None and not summary.get("functions") and _depth < _MAX_REEXPORT:
            # summarised without a parse: a class whose project base acts (text), `class FineTuner(BaseTrainer)`
            return any(self._acts(*hit, _depth=_depth + 1) for b in self._text_bases(path, name) or ()
                       if b and not is_library(b) and (hit := self.resolve(str(path), b)) is not None
                       and self._words_in_block(*hit))
        if cls is None:
            return False
        given = [e for m in cls.get("margs", {}).values() for e in m["effects"].values()]  # `trainer.freeze(model)`
        if any(set(e) & _FLOW_EFFECTS for e in (*cls["methods"].values(), *cls.get("init", {}).get("effects", {}).values(),
                                                *given)):
            return True
        if _depth >= _MAX_REEXPORT:
            return False
        for b in cls["bases"]:  # a method it inherits from a project base class
            hit = self.resolve(str(path), b) if b and not is_library(b) else None
            if hit is None and b and "." not in b and b in summary["classes"] and b != name:
                hit = (path, b)  # a base of the same file
            if hit is not None and self._acts(*hit, _depth=_depth + 1):
                return True
        return False

    def modes_of(self, path: str, class_name: str) -> tuple[bool, bool]:
        """Whether some project file puts instances of `class_name` (defined in `path`) in train()
        mode, and whether some file puts them in eval() mode. Files are found by text first (the
        class's name and `.train(`/`.eval(`), then by their summaries, within the bound.
        Dependencies, whatever the answer: which files the text finds, and each one's summary (a
        file added, or one that starts training the class, changes it)."""
        here = Path(path).resolve()
        root = self._root_of(here)
        key = _modes_key(root, class_name)
        candidates = self._mode_candidates(key)
        self.used[key] = _digest(candidates)
        trained = evaluated = False
        for name in candidates:
            f = Path(name)
            summary = self.summary(f)
            if summary is None:
                continue
            self.used[str(f.resolve())] = _digest(summary)
            for kind, names in (("trained", summary.get("trained", [])), ("evaluated", summary.get("evaluated", []))):
                for q in names:
                    hit = (f, q) if f.resolve() == here and q == class_name else self.resolve(str(f), q)
                    if hit is not None and Path(hit[0]).resolve() == here and hit[1] == class_name:
                        if f.resolve() != here:
                            edge = Edge(shown_path(path), shown_path(str(f)), f"{kind}: {class_name}")
                            self._link(edge)
                        trained = trained or kind == "trained"
                        evaluated = evaluated or kind == "evaluated"
        return trained, evaluated

    def _mode_candidates(self, key: str) -> list[str]:
        """For `<project>#modes ROOT\nCLASS`: the files under ROOT whose text names CLASS and
        calls `.train(` or `.eval(`."""
        if key not in self._candidates:
            root, _, class_name = key.partition(" ")[2].partition("\n")
            out = []
            for f in self._py_files(Path(root)):
                try:
                    text = self._read(f).decode("utf-8")
                except (OSError, UnicodeDecodeError):
                    continue
                if class_name in text and (".train(" in text or ".eval(" in text):
                    out.append(str(f))
            self._candidates[key] = out
        return self._candidates[key]

    def probed(self, path: str, name: str, pos: int, eval_seen: bool = False) -> bool:
        """Whether every call from other project files of function `name` (defined in `path`)
        leaves its argument `pos` in eval mode for good (FZ202's linear probe), as their summaries'
        `probes` say; the helpers of further files a call hands the model to afterwards are read
        from their summaries (none may train it or be unknown, and with no eval() of its own, one
        must put it in eval mode). False when no such call is found."""
        here = Path(path).resolve()
        found = False
        words = rf"\b{re.escape(name)}\b"
        root = self._root_of(here)
        files = self._scan(words, root)
        self.used[_mentions_key(root, words)] = _digest([str(f) for f in files])  # a new caller counts
        for f in files:
            if f.resolve() == here:
                continue
            summary = self.summary(f)
            self.used[str(f.resolve())] = _digest(summary)  # one that names it may come to call it
            for key, sites in (summary or {}).get("probes", {}).items():
                qual, _, at = key.rpartition("#")
                if at != str(pos) or qual.rpartition(".")[2] != name:
                    continue
                hit = self.resolve(str(f), qual)
                if hit is None or Path(hit[0]).resolve() != here or hit[1] != name:
                    continue
                edge = Edge(shown_path(path), shown_path(str(f)), f"probes: {name}")
                self._link(edge)
                if sites is None or not all(self._left_in_eval(f, seen or eval_seen, waits) for seen, waits in sites):
                    return False
                found = True
        return found

    def passed_to(self, path: str, name: str, pos: int, param: str) -> list[tuple[dict | None, Edge]] | None:
        """What each call from other project files of the top-level function `name` of `path` gives
        its parameter `param` (at position `pos`), as their summaries' "passes" record it: a Module
        entry per call (a class of the caller's file named as `path` would import it, `train.Net`,
        or left out where it cannot be), with the edge it crossed. None when some call passes
        something unknown, unpacks its arguments or leaves that one to its default, or when a file
        that names the function may call it in a way no summary records. Only files whose import
        lines name the function or its module are looked at. Dependencies: the summary of each
        caller read, and which files import (or, past that, name) the function, whatever the
        answer: a caller added or changed later can pass a Module, or something else."""
        here = self._realpath(path)
        root = self._root_of(here)
        stem = here.parent.name if here.name == "__init__.py" else here.stem
        key = _importers_key(root, stem, name)
        importers = self._importers_of(key)
        self.used[key] = _digest(importers)
        if not importers:
            return []
        words = rf"\b{re.escape(name)}\b"
        files = self._scan(words, root)
        # which files name it: one that stops naming it (its call was what made the answer unknown) counts
        self.used[_mentions_key(root, words)] = _digest([str(f) for f in files])
        out: list[tuple[dict | None, Edge]] = []
        read: dict[str, str] = {}
        for f in files:
            real = self._realpath(f)
            if real == here:
                continue
            summary = self.summary(f)
            read[str(real)] = _digest(summary)
            if summary is None:
                self.used.update(read)
                return None
            if "passes" not in summary:  # not parsed: nothing it calls with arguments is recorded
                try:
                    text = self._read(f).decode("utf-8")
                except (OSError, UnicodeDecodeError):
                    text = name + "("
                if re.search(rf"\b{re.escape(name)}\s*\(", text):
                    self.used.update(read)
                    return None
                continue
            for qual, calls in summary["passes"].items():
                if qual.rpartition(".")[2] != name:
                    continue
                hit = self.resolve(str(f), qual)
                if hit is None or self._realpath(hit[0]) != here or hit[1] != name:
                    continue
                edge = Edge(shown_path(path), shown_path(str(f)), f"passes: {name}")
                for args in calls:
                    key = str(pos) if str(pos) in args else "=" + param
                    if "*" in args or not args.get(key):
                        self.used.update(read)
                        return None  # unpacked, the default used, or not known to be a Module
                    out.append((self._seen_from(here, real, args[key]), edge))
                self._link(edge)
        self.used.update(read)
        return out

    def _importers_of(self, key: str) -> list[str]:
        """For `<project>#importers ROOT\nSTEM\nNAME`: the files under ROOT whose import lines
        name the module STEM or the function NAME."""
        root, stem, name = key.partition(" ")[2].split("\n", 2)
        return [str(f) for f, words in self._import_tokens(Path(root)) if stem in words or name in words]

    def _seen_from(self, here: Path, caller: Path, entry: dict | None) -> dict | None:
        """A "passes" entry of `caller` as `here` reads it: a class of the caller's file gets the
        qualified name `here` resolves to it (`train.Net`); without one, the class is left out."""
        if not entry or "class" not in entry:
            return entry
        rest = {k: v for k, v in entry.items() if k != "class"}
        for base in self._roots(here):
            try:
                parts = list(caller.relative_to(self._realpath(base)).with_suffix("").parts)
            except ValueError:
                continue
            if parts and parts[-1] == "__init__":
                parts.pop()
            qual = ".".join([*parts, entry["class"]])
            hit = self.resolve(str(here), qual) if parts else None
            if hit is not None and self._realpath(hit[0]) == caller and hit[1] == entry["class"]:
                return {**rest, "qual": qual}
        return rest

    def _left_in_eval(self, caller: Path, eval_seen: bool, waits: list[str]) -> bool:
        for wait in waits:
            qual, _, at = wait.rpartition("#")
            kinds = {e.kind for e in self.effects(str(caller), qual, int(at))} if at.isdigit() else set()
            if not kinds and self._acting_target(str(caller), qual) is None and self.resolve(str(caller), qual):
                continue  # a project function whose text does nothing a summary records
            if not kinds or "train" in kinds or any(k.startswith("calls:") for k in kinds):
                return False  # unknown effects, or back in train mode
            eval_seen = eval_seen or bool(kinds & {"eval", "bn_freeze"})
        return eval_seen

    def mentions(self, words: str, path: str | None = None) -> list[str]:
        """Project files whose text matches the regex `words` outside isinstance tests (what
        FZ203 asks: a BatchNorm kind made or converted to, not one tested for), as shown paths. Recorded as used
        under a key of the whole project (`<project>#mentions words`, its digest the list of
        files): a cached result is checked again when a file starts or stops matching."""
        root = self._root_of(Path(path).resolve()) if path else self.root
        hits = self._scan(words, root)
        self.used[_mentions_key(root, words)] = _digest([str(f) for f in hits])
        return [shown_path(str(f)) for f in hits]

    def mentions_near(self, words: str, path: str, hops: int | None = None) -> list[str]:
        """`mentions`, counting only files tied to `path` through the project's imports: the file
        itself, one that imports it or that it imports (transitively), or two that one file imports
        both (`train.py` converts to SyncBatchNorm and applies `utils/freeze.py`'s helper). A folder of
        unrelated scripts checked together does not lend one script another's BatchNorm kinds.
        With `hops`, only files at most that many imports from `path` count, and test files neither
        count nor tie (see `_close`)."""
        here = self._realpath(path)
        root = self._root_of(here)
        near = self._near(words, root, here, hops)
        self.used[_near_key(root, words, here, hops)] = _digest([str(f) for f in near])
        return [shown_path(str(f)) for f in near]

    def _near(self, words: str, root: Path, here: Path, hops: int | None = None) -> list[Path]:
        hits = self._scan(words, root)
        if not hits:
            return []
        if hops is not None:
            close = self._close(root, here, hops)
            return [f for f in hits if self._realpath(f) in close]
        # tied: some file imports both (directly or not), itself included: the hit is among what the
        # files that import `here` (and `here`) import, transitively
        reach = self._descendants(self._ancestors(root, here))
        return [f for f in hits if self._realpath(f) in reach]

    def _close(self, root: Path, here: Path, hops: int) -> set[Path]:
        """`here` and the project files at most `hops` imports from it: up to files that import it,
        then down to what those import (one file importing both is two imports). Through a package's
        re-export `__init__.py` in a monorepo every model is a few imports from every other (modelscope's
        `from modelscope.models import TorchModel`), though no file builds them together. A test file
        (pytest's names: test_*.py, *_test.py, conftest.py, or under tests/ or test/) neither counts nor
        ties: importing two modules to test them says nothing of one model holding both."""
        base = self._realpath(root)
        dist, level = {here: 0}, [here]  # file -> the fewest imports from `here`
        for d in range(1, hops + 1):  # up: the files that import it, and those that import them
            level = list(dict.fromkeys(f for t in level for f in self._importing(root, t)
                                       if f not in dist and not _is_test(f, base)))
            dist.update((f, d) for f in level)
        for d in range(hops):  # down from each, with the imports it has left
            for f in [f for f, at in dist.items() if at == d]:
                for g in self._imported_files(f):
                    if dist.get(g, hops + 1) > d + 1 and not _is_test(g, base):
                        dist[g] = d + 1
        return set(dist)

    def _ancestors(self, root: Path, path: Path) -> set[Path]:
        """`path` and every project file under `root` that imports it, directly or through others.
        Only files whose import lines name the module's own name are resolved (most name none)."""
        seen, todo = {path}, [path]
        while todo:
            for real in self._importing(root, todo.pop()):
                if real not in seen:
                    seen.add(real)
                    todo.append(real)
        return seen

    def _importing(self, root: Path, target: Path) -> Iterator[Path]:
        """The project files under `root` that import `target` (as resolved paths)."""
        name = target.parent.name if target.name == "__init__.py" else target.stem
        for f, words in self._import_tokens(root):
            if name in words:
                real = self._realpath(f)
                if target in self._imported_files(real):
                    yield real

    def _descendants(self, files: set[Path]) -> set[Path]:
        """`files` and every project file they import, directly or through others."""
        seen, todo = set(files), list(files)
        while todo:
            for f in self._imported_files(todo.pop()):
                if f not in seen:
                    seen.add(f)
                    todo.append(f)
        return seen

    def _import_tokens(self, root: Path) -> list[tuple[Path, frozenset[str]]]:
        """The project files under `root` with the names their import lines hold (`from a.b import
        (c, d)`: a, b, c, d): asked only where another file's words were found (FZ203's scan)."""
        index = self._importers.get(str(root))
        if index is None:
            index = self._importers[str(root)] = []
            for f in self._py_files(root):
                try:
                    text = self._read(f).decode("utf-8")
                except (OSError, UnicodeDecodeError):
                    continue
                words = frozenset(w for line in _IMPORT_LINE.findall(text) for w in _WORD.findall(line))
                if words:
                    index.append((f, words))
        return index

    def _imported_files(self, path: Path) -> set[Path]:
        """The project files `path`'s import lines name (modules, and names that are modules)."""
        key = str(path)
        if key in self._imports_resolved:
            return self._imports_resolved[key]
        try:
            text = self._read(path).decode("utf-8")
        except (OSError, UnicodeDecodeError):
            text = ""
        quals = [module for module, _ in _plain_imports(text)]
        for m in _FROM_IMPORT.finditer(text):
            module = m.group(1)
            quals.append(module)
            quals.extend(f"{module}{name}" if module.endswith(".") else f"{module}.{name}"
                         for name, _ in _NAMES_AS.findall(m.group(2)))
        out = set()
        for qual in quals:
            _, parts, bases = self._bases(path, qual)
            for base in bases:
                found = self._module_file(parts, base)
                if found is not None:
                    out.add(self._realpath(found))
                    break
        self._imports_resolved[key] = out
        return out

    def _scan(self, words: str, root: Path) -> list[Path]:
        key = f"{root}\0{words}"
        if key not in self._mentions:
            pattern = re.compile(words)
            hits = []
            for f in self._py_files(root):
                try:
                    text = self._read(f).decode("utf-8")
                except (OSError, UnicodeDecodeError):
                    continue
                if pattern.search(text) and pattern.search(without_isinstance_tests(text)):
                    hits.append(f)
            self._mentions[key] = hits
        return self._mentions[key]

    def _py_files(self, root: Path) -> list[Path]:
        """The project's .py files under `root` (bounded: 20x the summary limit)."""
        files = self._files.get(str(root))
        if files is None:
            out: list[Path] = []
            for dirpath, dirnames, filenames in os.walk(root):
                if dirpath != str(root) and _installed_here(dirnames, filenames):
                    dirnames[:] = []  # packages installed into the tree: not the project's code
                    continue
                dirnames[:] = [d for d in dirnames if not d.startswith(".") and d not in _SKIP_DIRS]
                out.extend(Path(dirpath) / n for n in filenames if n.endswith(".py"))
                if len(out) > 20 * self.limit:
                    break
            files = self._files[str(root)] = sorted(out)
        return files

    def finding_used(self, finding: str, edges) -> None:
        """Record that `finding` ("FZ201 train.py:18") came across files through `edges`."""
        for e in edges:
            used = Edge(e.source, e.target, e.name, finding)
            if not any(str(x) == str(used) for x in self.edges):
                self.edges.append(used)

    def start_file(self) -> None:
        """Forget what the previous file used (each file records its own dependencies, and asks
        for at most `limit` summaries)."""
        self.used = {}
        self.edges = []
        self._asked = set()


_WORKER: list = [None]  # a worker process's project of the run it works for: (token, Project)


def _worker_project(root: Path, cache_dir: Path | None, limit: int, token: str, run_dir: Path | None = None,
                    parse_limit: int | None = None) -> Project:
    """The project a task sent to a worker names: the one this process holds for that run, else
    a new one (the first task of a run; the one held before, of an earlier run, is dropped)."""
    held = _WORKER[0]
    if held is None or held[0] != token:
        held = _WORKER[0] = (token, Project(root, cache_dir, limit=limit, token=token, run_dir=run_dir,
                                            parse_limit=parse_limit))
    return held[1]


_CLAIM_WAIT_S = 120.0  # the longest a worker waits for another's summary before computing it itself
_DONE, _NONE, _FAILED = "done", "none", "failed"  # a settled claim: summary written, none, not written


def _stored_summary(where: Path | None) -> dict | None:
    """The summary written at `where` by this version, else None."""
    if where is None:
        return None
    try:
        entry = json.loads(where.read_bytes())
    except (OSError, ValueError):
        return None
    return entry if isinstance(entry, dict) and entry.get("version") == SUMMARY_VERSION else None


def _settle(claim: Path, state: str) -> None:
    """Tell the workers waiting on this claim what came of it (written whole: they poll it)."""
    try:
        atomic_write(claim, state.encode())
    except OSError:
        pass  # they wait out _CLAIM_WAIT_S, then compute it themselves


def _installed_here(dirnames: list[str], filenames: list[str]) -> bool:
    """A folder packages were installed into (`pip install --target pkgs`, a virtual environment
    under any name): it holds `*.dist-info` folders or a `pyvenv.cfg`."""
    return "pyvenv.cfg" in filenames or any(d.endswith(".dist-info") for d in dirnames)


def _mentions_key(root: Path, words: str) -> str:
    """The dependency on which files under `root` match the regex `words` (see current_digest)."""
    return f"{_PROJECT}#mentions {root}\n{words}"


@functools.lru_cache(maxsize=None)
def _installed(top: str) -> bool:
    """Whether a top-level module is importable here (torch, os): not a project module to be."""
    try:
        return importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return False


def _modes_key(root: Path, class_name: str) -> str:
    """The dependency on which files under `root` may put a `class_name` in train() or eval()."""
    return f"{_PROJECT}#modes {root}\n{class_name}"


def _importers_key(root: Path, stem: str, name: str) -> str:
    """The dependency on which files under `root` import the module `stem` or the name `name`."""
    return f"{_PROJECT}#importers {root}\n{stem}\n{name}"


def _near_key(root: Path, words: str, here: Path, hops: int | None = None) -> str:
    """The dependency on which files under `root` match `words` and are tied to `here` by imports
    (at most `hops` imports from it, when given)."""
    return f"{_PROJECT}#near {root}\n{words}\n{here}" + ("" if hops is None else f"\n{hops}")


_TEST_DIRS = frozenset({"tests", "test"})


def _is_test(path: Path, root: Path) -> bool:
    """A test file by pytest's conventions: test_*.py, *_test.py, conftest.py, or one under a tests/
    or test/ directory of the project (below `root`: a checkout kept under ~/test is not all tests)."""
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        parts = (path.name,)
    name = parts[-1]
    return name == "conftest.py" or name.startswith("test_") or name.endswith("_test.py") \
        or any(p in _TEST_DIRS for p in parts[:-1])


def without_isinstance_tests(text: str) -> str:
    """The text less isinstance tests and comments: what names a kind there makes none (a `#`
    inside a string cuts a line short: less text, never a word that is not there)."""
    return _COMMENT.sub("", _ISINSTANCE_TEST.sub("", text))


_COMMENT = re.compile(r"#[^\n]*")


_CALL_OPEN = re.compile(r"\s*\(\s*")
_ASSIGNED_HEAD = re.compile(r"=\s*\(?\s*$")


def _acting_defs(text: str) -> set[str]:
    """The top-level functions and classes of a file whose own block has a word of what summaries
    record, in one pass over the file."""
    out = set()
    for m in _TOP_DEF.finditer(text) if _flow_words(text) else ():
        end = _TOP_LEVEL.search(text, m.end())
        if _flow_words(text, m.start(), end.start() if end else len(text)):
            out.add(m.group(1))
    return out


# The end of a `def`'s signature that annotates what it returns: `) -> Tensor | None:`
_RETURNS_ANNOTATED = re.compile(r"\)[ \t]*->[ \t]*([^\n:]+?)[ \t]*:")
_LINE_ENDS_BLOCK = re.compile(r":[ \t]*(?:#[^\n]*)?$", re.M)


def _outline_block(outline: dict | None, name: str) -> str | None:
    """`_block` of an outline's text, kept with the outline."""
    if outline is None:
        return None
    known = outline.setdefault("blocks", {})
    if name not in known:
        known[name] = _block(outline["text"], name, _shape(outline))
    return known[name]


def _block(text: str, name: str, shape: str | None = None) -> str | None:
    """The text of the top-level `def`/`class` block of `name` (None: no such block), found in
    `shape` (`_shape`'s copy of `text`, where a multi-line string ends no block) when given."""
    shape = shape or text
    m = re.search(rf"^(?:async[ \t]+)?(?:def|class)[ \t]+{re.escape(name)}\b", shape, re.M)
    if m is None:
        return None
    end = _TOP_LEVEL.search(shape, m.end())
    return text[m.start():end.start() if end else len(text)]


def _shape(outline: dict) -> str:
    """The outline's text with the first character of each line a multi-line string holds from
    column 0 blanked (same length, same offsets): block ends and top-level defs are found by their
    column, and such a line (a help text, a template inside a function) is neither. Kept with it."""
    if "shape" not in outline:
        text = outline["text"]
        outline["shape"] = _blank_string_lines(text) if '"""' in text or "'''" in text or "\\\n" in text else text
    return outline["shape"]


def _code(outline: dict) -> str:
    """The outline's text with its comments and its triple-quoted strings other than f-strings
    blanked (same length, newlines kept), and a line another multi-line string holds from column 0
    blanked as in `_shape`: the code a summary reads, where a docstring's `model.eval()` or a
    comment's `model.train()` makes no event. Kept with it."""
    if "code" not in outline:
        text = outline["text"]
        pieces, last = [], 0
        for m in _LEXEME.finditer(text) if "#" in text or '"""' in text or "'''" in text or "\\\n" in text else ():
            lexeme = m.group()
            body = lexeme.lstrip("rRbBuUfF")
            if lexeme[0] == "#" or body[:3] in ('"""', "'''") and "f" not in lexeme[:len(lexeme) - len(body)].lower():
                pieces += [text[last:m.start()], _NOT_NEWLINE.sub(" ", lexeme)]
            elif _STRING_LINE_HEAD.search(lexeme):
                pieces += [text[last:m.start()], _STRING_LINE_HEAD.sub("\n ", lexeme)]
            else:
                continue
            last = m.end()
        outline["code"] = "".join(pieces) + text[last:] if pieces else text
    return outline["code"]


_NOT_NEWLINE = re.compile(r"[^\n]")


def _blank_string_lines(text: str) -> str:
    pieces, last = [], 0
    for m in _LEXEME.finditer(text):
        lexeme = m.group()
        if lexeme[0] != "#" and _STRING_LINE_HEAD.search(lexeme):
            pieces += [text[last:m.start()], _STRING_LINE_HEAD.sub("\n ", lexeme)]
            last = m.end()
    return "".join(pieces) + text[last:] if pieces else text


def _bases_in(line: str) -> list[str]:
    """The bases a `class` line names, keywords (`metaclass=...`) left out; none without parentheses."""
    if "(" not in line:
        return []
    return [b.strip() for b in line[line.index("(") + 1:line.rindex(")")].split(",") if b.strip() and "=" not in b]


def _method_text(block: str, name: str) -> str | None:
    """The dedented text of the method `name` a class block (after the class name) defines in its
    own body, decorators left out; None where it defines none or its text does not parse."""
    lines = block.splitlines()
    body = [ln for ln in lines[1:] if ln.strip() and not ln.lstrip().startswith("#")]
    if not body:
        return None
    indent = min(len(ln) - len(ln.lstrip()) for ln in body)
    head = re.compile(rf"^[ \t]{{{indent}}}(?:async[ \t]+)?def[ \t]+{re.escape(name)}[ \t]*\(")
    start = next((i for i, ln in enumerate(lines) if i and head.match(ln)), None)
    if start is None:
        return None
    rest = "\n".join("" if ln[:indent].strip() and ln.lstrip().startswith("#") else ln[indent:]
                     for ln in lines[start:])
    try:  # the rest of the class parses as top-level defs: the first is the method
        tree = ast.parse(rest)
    except (SyntaxError, ValueError):
        return None
    return "\n".join(rest.splitlines()[:tree.body[0].end_lineno]) if tree.body else None


_TOP_CLASS = re.compile(r"^class[ \t]+(\w+)[ \t]*\(", re.M)  # a top-level class with bases
_CLASS_HEAD = re.compile(r"class[ \t]+\w+[ \t]*\(([^)]*)\)")  # a block's first line: the bases
# a `strict=False` load, as FZ401's text trigger has it
_IMPORT_LINE = re.compile(r"^[ \t]*(?:from|import)[ \t](?:[^\n(]*\([^)]*\)|[^\n]*)", re.M)
_WORD = re.compile(r"\w+")
_PARTIAL_TEXT = re.compile(r"strict\s*=\s*False|load_state_dict\([^)\n]*,\s*False")
# a call that is a statement of its own: `helper(...)`, `self.helper(...)`, `utils.helper(...)`
_STATEMENT_CALL = re.compile(r"^[ \t]*((?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*)[ \t]*\(", re.M)
# a call whose result a plain assignment stores in names (`out = load(model, sd)`): its callee
_ASSIGNED_CALL = re.compile(r"^[ \t]*[A-Za-z_(\[][\w \t,()\[\]]*=[ \t]*((?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*)[ \t]*\(", re.M)
# a call given `strict=False` (its arguments nested one level at most): its callee
_STRICT_FALSE_CALL = re.compile(r"(?<![\w.])((?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*)[ \t]*\((?:[^()]|\([^()]*\))*?"
                                r"\bstrict\s*=\s*False")
ABSENT = "absent"  # partial_load: the class and its bases do not define the method


def _named_bases(outline: dict | None, inside: str, plain: dict[str, str] | None = None) -> list[str]:
    """The bases a class line names (`inside` its parentheses), as the file names them: an
    imported one by its qualified name (`nn.Module` through `import torch.nn as nn`), one of the
    file by its name, "" for one not known; keywords (`metaclass=`) left out."""
    if outline is None:
        return []
    if plain is None:
        plain = _plain_imports_of(outline["text"])
    out = []
    for b in (b.strip() for b in inside.split(",")):
        if not b or "=" in b:
            continue
        head, _, rest = b.partition(".")
        if not all(p.isidentifier() for p in b.split(".")):
            out.append("")
        elif not rest:
            out.append(outline["imports"].get(b) or (b if b in outline["defs"] else ""))
        else:
            module = plain.get(head) or outline["imports"].get(head)
            out.append(f"{module}.{rest}" if module else "")
    return out
_RETURNS_CALL = re.compile(r"^[ \t]+return[ \t]+(?:[\w.]*\.)?[A-Z]\w*[ \t]*\(", re.M)
_RETURNS_NAME = re.compile(r"^[ \t]+return[ \t]+(\w+)[ \t]*(?:#.*)?$", re.M)


def _returns_instance(block: str) -> bool:
    """Text test before a summary: the function returns a class's instance, built in the return
    (`return ResNet(cfg)`, `return models.Net()`) or bound to the name it returns (`model =
    ResNet(cfg) ... return model`). A factory that returns another function's result (timm's
    `return _create_resnet(...)`) is left unknown without a parse."""
    if _RETURNS_CALL.search(block):
        return True
    return any(re.search(rf"^[ \t]+{re.escape(n)}[ \t]*(?::[^=\n]*)?=[ \t]*(?:[\w.]*\.)?[A-Z]\w*[ \t]*\(", block, re.M)
               for n in set(_RETURNS_NAME.findall(block)))


def _called_with_args(text: str, name: str) -> bool:
    """`_CALLED_WITH_ARGS` for one name, by substring search (a regex scan of every call in a
    file cost more than the rest of the runner's text tests together); or called with none, or a
    literal first, and its result assigned (`model = build_model()`, `model = build_model("resnet")`:
    a builder, whose returned model may come frozen).
    One regex per occurrence: most occurrences are not calls at all."""
    i = text.find(name)
    while i != -1:
        end = i + len(name)
        if i == 0 or not (text[i - 1].isalnum() or text[i - 1] in "_."):
            m = _CALL_OPEN.match(text, end)
            if m is not None:
                nxt = text[m.end():m.end() + 1]
                if nxt.isalnum() or nxt in "_(":  # `\w` or `(`: an argument
                    return True
                if _ASSIGNED_HEAD.search(text, max(0, i - 40), i):
                    return True  # its result assigned, with no argument or a literal (`build("resnet")`)
        i = text.find(name, end)
    return False


def _applied(text: str, name: str) -> bool:
    """`model.apply(set_bn_eval)`: `name` handed to `Module.apply`, which calls it on every submodule."""
    return re.search(rf"\.apply\(\s*{re.escape(name)}\s*\)", text) is not None


def _plain_imports(text: str) -> Iterator[tuple[str, str]]:
    """(module, alias or "") of every `import a.b as c, d` line."""
    for m in _PLAIN_IMPORT.finditer(text):
        for item in m.group(1).split(","):
            module, _, alias = (w.strip() for w in item.partition(" as "))
            if module:
                yield module, alias


def _plain_imports_of(text: str) -> dict[str, str]:
    """`import a.b as c` (c -> a.b) and `import a.b` (a -> a) lines: local name -> module."""
    out: dict[str, str] = {}
    for module, alias in _plain_imports(text):
        top = module.split(".")[0]
        out.setdefault(alias or top, module if alias else top)
    return out


def _module_calls(text: str) -> list[str]:
    """`import simsiam.builder` then `simsiam.builder.SimSiam(base, dim)`: the names of modules the
    file imports whole (not a library's) that it calls with an argument, qualified."""
    out: list[str] = []
    for module, alias in _plain_imports(text):
        if is_library(module):
            continue
        local = alias or module
        if local + "." not in text:
            continue
        # the name first, its left edge tested after: a leading lookbehind keeps sre from skipping
        # to the name, and a scan of a large file then costs seconds
        for call in re.finditer(rf"{re.escape(local)}\.([A-Za-z_]\w*)\s*\(\s*[\w(]", text):
            i = call.start()
            if i and (text[i - 1].isalnum() or text[i - 1] in "_."):
                continue
            q = f"{module}.{call.group(1)}"
            if q not in out:
                out.append(q)
    return out


def _subclass_bases(text: str) -> tuple[list[str], list[str]]:
    """Qualified names of the imported project classes that a class of the file derives from (one
    base), in one pass: those the file also builds with arguments (`class Distiller(BaseTrainer):
    ...`, `Distiller(model)`: the instance runs that base's constructor and methods, as a
    `BaseTrainer(model)` would), and those of every such class, built here or not (its methods act
    on what the base's constructor built: `FileFlows.instances`)."""
    imports, built, derived, calls = None, [], [], None
    for m in _CLASS_NAME_BASES.finditer(text):
        bases = [b.strip() for b in m.group(2).split(",") if b.strip()]
        if len(bases) != 1 or not bases[0].isidentifier():
            continue
        imports = _imports_of(text) if imports is None else imports
        q = imports.get(bases[0])
        if q is None or is_library(q):
            continue
        if q not in derived:
            derived.append(q)
        calls = _CLASS_NAME_BASES.sub("", text) if calls is None else calls  # `class A(B)`: no call
        if q not in built and _called_with_args(calls, m.group(1)):
            built.append(q)
    return built, derived


def _imported_bases(text: str) -> list[str]:
    """Qualified names of the imported classes the file's classes derive from (`class MyFt(Base)`
    with `from callbacks.base import Base`), library ones left out; none in a file that defines no
    Lightning callback hook (nothing a callback base could order)."""
    if not _HOOK_DEF.search(text):
        return []
    imports, out = None, []
    for m in _CLASS_BASES.finditer(text):
        for b in (b.strip() for b in m.group(1).split(",")):
            imports = _imports_of(text) if imports is None else imports
            head = b.split(".")[0]
            q = imports[head] + b[len(head):] if b and "=" not in b and head in imports else None
            if q is not None and not is_library(q) and q not in out:
                out.append(q)
    return out


def _handed_to(text: str, imports: dict[str, str], start: int, end: int) -> list[str]:
    """Names imported from outside the well-known libraries that text[start:end] calls with
    arguments (perhaps project functions that act on what they are given)."""
    called = set(_CALLED_WITH_ARGS.findall(text, start, end))
    return [name for name, q in imports.items() if name in called and not is_library(q)]


def _digest(summary: dict | None) -> str:
    """Stable digest of a summary: findings that used it are recomputed when it changes."""
    return hashlib.blake2b(json.dumps(summary, sort_keys=True).encode(), digest_size=12).hexdigest()


def _imports_of(text: str) -> dict[str, str]:
    """`from X import a, b as c` lines of an unparsed file: local name -> qualified name."""
    out = {}
    for m in _FROM_IMPORT.finditer(text):
        module = m.group(1)
        for name, alias in _NAMES_AS.findall(m.group(2)):
            out[alias or name] = f"{module}{name}" if module.endswith(".") else f"{module}.{name}"
    return out


def shown_path(path: str) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return path
