"""`freezelint run [options] SCRIPT.py [args...]` / `freezelint run [options] -m MODULE [args...]`.

Runs the user's training script in this process as `__main__`, with its own arguments (as
`coverage run` does), watches its first `--steps` optimizer steps, prints the report and stops
it: exit 0 clean, 1 findings (warnings too, as the pytest fixtures and `raise_for_findings()`
fail on them; `freezelint audit` alone passes warnings unless --strict), 2 when the script ended
or failed before the window closed, or on bad usage (one line). Under torchrun every rank watches, ranks are compared as `audit()` compares
them, and rank 0 prints. On an FSDP2 model whose requires_grad differs across ranks the script is
stopped before the backward that would hang, with `--no-stop` too: the report (FZ507) is printed
and the exit code is 1.

`--no-stop` lets training run on; the report is printed when the window closes and the exit code
is decided when the script ends: findings -> 1 (the report is the gate); a clean window -> the
script's own status, as `python SCRIPT.py` would exit (`sys.exit(N)` -> N, `sys.exit("msg")` ->
the message and 1, an exception -> 1, the end or `sys.exit(0)`/`sys.exit(None)` -> 0), with a
one-line note on stderr when it is not 0. A script that ends or fails before the window is 2.
Training after the window is watched for a change of what trains; a change opens a later window,
judged alike, whose findings make the exit code 1 too (`--once`: the first window only). Text
reports are printed as each window closes; JSON is one document written at the end, the later
windows' reports in `later_windows`, its top-level `ok` false when any window has findings that
count, and `all_findings` holding every window's findings.

The codes reported follow `[tool.freezelint]` select/ignore/extend-select (the nearest
pyproject.toml above the script, or above the cwd for -m; `--config` names one) and `--select` /
`--ignore`, layered as for `check`. Codes left out stay in the report, marked ignored, and do not
count, as `audit(ignore=...)` marks them. per-file-ignores are `check`'s alone.

With `--format json` to stdout, the script's own stdout (sys.stdout and file descriptor 1, which
its child processes inherit) goes to stderr while it runs, so stdout carries the JSON alone.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import runpy
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TextIO


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
    model: str | None = None  # --model NAME: the variable (dotted attributes allowed) that holds the model
    verbose: bool = False  # the full tree and every name of grouped findings; the script's traceback where it fails
    select: list[str] | None = None  # --select: replaces the config's selection
    ignore: list[str] = field(default_factory=list)  # --ignore
    config: str | None = None  # --config: the pyproject.toml to read instead of the nearest
    unwritten: bool = False  # set when the report could not be written to output_file: exit 2
    rewatch: bool = True  # --no-stop: a later change of what trains opens another window (not --once)
    written: int = 0  # reports written so far (later windows' text follows the first in output_file)


def _rank() -> int:
    # Not imported: no process group can be up, and a refusal before torch was needed does not
    # pay for its import (nor meet its failure to load, in a working directory removed since)
    dist = sys.modules.get("torch.distributed")
    return dist.get_rank() if dist is not None and dist.is_available() and dist.is_initialized() else 0


def _accept(reports: list[Any], accepted: list[str]) -> None:
    """Codes the selection leaves out become each report's `ignore`, so that the exit code follows
    what is printed."""
    for r in reports:
        r.ignore = sorted({*r.ignore, *accepted})


def _emit(report: Any, opts: RunOptions, accepted: list[str], out: TextIO | None = None,
          later: list[Any] | None = None, exit_code: int | None = None, error: str | None = None) -> None:
    """Rank 0 prints (every rank holds the same report when ranks were compared), to `out` (the
    real stdout while the script's goes to stderr) or sys.stdout. `later`: the later windows'
    reports, which --no-stop's JSON document holds as `later_windows`; `exit_code`: the status the
    process exits with, which the JSON document holds (text reports streamed by --no-stop go out
    before it is known, and do not say it); `error`: why a later window failed (the document is
    then not ok, as the exit code 2 says)."""
    _accept([report, *(later or ())], accepted)
    for r in [report, *(later or ())]:
        r.verbose = opts.verbose  # every module of the tree and every name, as `audit --verbose` shows them
    if _rank() != 0:
        return
    if opts.fmt == "json":
        doc = {**_document(report, later), "exit_code": exit_code}
        if error is not None:
            doc.update(ok=False, error=error)
        text = json.dumps(doc, indent=2, default=str) + "\n"
    else:
        text = report.render_text()  # never cut: a terminal, a log or a CI page wraps it itself
    opts.written += 1
    if opts.output_file:
        try:
            with open(opts.output_file, "w" if opts.written == 1 else "a", encoding="utf-8") as f:
                f.write(text)
        except OSError as e:
            print(f"freezelint: error: cannot write {opts.output_file}: {e.strerror or e}", file=sys.stderr)
            opts.unwritten = True  # a CI gate must not pass without its report
    else:
        out = _writable(out or sys.stdout)
        out.write(text)
        out.flush()


def _fail(opts: RunOptions, text: str) -> int:
    """Exit 2 with one line on stderr; with --format json, also a document a CI step can read
    (`ok` false, `error` the line, no findings) where the report would have gone."""
    print(f"freezelint: error: {text}", file=sys.stderr)
    if opts.fmt == "json" and _rank() == 0:
        doc = json.dumps({"ok": False, "error": text, "exit_code": 2, "findings": [], "all_findings": []},
                         indent=2) + "\n"
        try:
            if opts.output_file:
                Path(opts.output_file).write_text(doc, encoding="utf-8")
            else:
                out = _writable(sys.stdout)
                out.write(doc)
                out.flush()
        except OSError:
            pass  # the line above already says what failed
    return 2


def _document(report: Any, later: list[Any] | None) -> dict[str, Any]:
    """The JSON document: the first window's report, with `later_windows` (--no-stop) and two
    verdicts over every window, so that a reader of the top level sees what the exit code says: `ok`
    (no finding that counts in any window) and `all_findings` (every window's findings in order,
    each with `window`: 0 for the first, n for later_windows[n - 1])."""
    doc = report.to_dict()
    windows = [doc]
    if later is not None:
        doc["later_windows"] = [r.to_dict() for r in later]
        windows += doc["later_windows"]
    doc["ok"] = all(d["ok"] for d in windows)
    doc["all_findings"] = [{**f, "window": i} for i, d in enumerate(windows) for f in d["findings"]]
    return doc


def _accepted(opts: RunOptions, script: str | None) -> list[str]:
    """The runtime codes that the config and --select/--ignore leave out, the config found from
    the script's folder (from the cwd for -m)."""
    start = Path(script).parent if script and not opts.module else Path.cwd()
    return accepted_codes(opts.select, opts.ignore, opts.config, start)


def accepted_codes(select: list[str] | None, ignore: list[str], config_file: str | None, start: Path) -> list[str]:
    """The runtime codes that the config and --select/--ignore leave out, for `run` and `audit`
    alike (ConfigError on a bad config or an unknown code). The config is `config_file`, else found
    as `check` finds it, from `start`."""
    from freezelint import codes, config

    cfg = config.load(Path(config_file) if config_file else None, cwd=start)
    cfg = config.merge_cli(cfg, select=select, ignore=ignore)
    chosen = cfg.chosen()
    # A config's selection written for `check` names static codes only; it does not switch off
    # what only a run can find (FZ5xx) unless its select or extend-select names one of those codes,
    # or they are ignored. A --select given to `run` means what it says.
    only_runtime = {c for c, info in codes.CATALOGUE.items() if info.runtime and not info.static}
    if cfg.cli_select is None and cfg.select is not None:
        named = {c for s in [*cfg.select, *cfg.extend_select] for c in codes.expand_selector(s)}
        if not only_runtime & named:
            ignored = {c for s in [*cfg.ignore, *cfg.cli_ignore] for c in codes.expand_selector(s)}
            chosen = chosen | (only_runtime - ignored)
    return [c for c, info in codes.CATALOGUE.items() if info.runtime and c not in chosen]


@contextlib.contextmanager
def _spawns_seen() -> Iterator[list[int]]:
    """Count the process groups torch.multiprocessing starts while the script runs (mp.spawn,
    Lightning's ddp_spawn): steps taken there are not this process's to see."""
    import torch.multiprocessing as mp

    seen: list[int] = []
    spawn_module = sys.modules.get("torch.multiprocessing.spawn")  # the package's `spawn` is the function
    original = getattr(spawn_module, "start_processes", None)
    if original is None:  # another torch: nothing to count
        yield seen
        return

    def start_processes(*args: Any, **kwargs: Any) -> Any:
        seen.append(1)
        return original(*args, **kwargs)

    patched = [(m, "start_processes") for m in (mp, spawn_module) if getattr(m, "start_processes", None) is original]
    for m, attr in patched:
        setattr(m, attr, start_processes)
    try:
        yield seen
    finally:
        for m, attr in patched:
            if getattr(m, attr) is start_processes:
                setattr(m, attr, original)


class _Unclosable:
    """A stream that writes to another and ignores close(): the script's sys.stdout while its
    output goes to stderr (a script that closes its stdout must not close stderr)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def close(self) -> None:
        self._stream.flush()

    @property
    def closed(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _writable(stream: TextIO) -> TextIO:
    """`stream`, or a new one on descriptor 1 when the script closed it (the standard streams
    leave their descriptor open)."""
    if not getattr(stream, "closed", False):
        return stream
    return open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[TextIO]:
    """While the script runs, what it writes to stdout goes to stderr; yields the real stdout, for
    the report alone. sys.stdout is swapped (so the script's prints keep their order among its
    stderr lines) and, when stdout is a real file, descriptor 1 itself is pointed at stderr for
    child processes and C code; both are restored on the way out."""
    real = sys.stdout
    real.flush()
    try:
        fd, err_fd = real.fileno(), sys.stderr.fileno()
        sys.stderr.flush()
        saved = os.dup(fd)
    except (AttributeError, OSError, ValueError):  # a captured stream (pytest, a notebook): no descriptor
        saved = None
    out = real
    if saved is not None:
        os.dup2(err_fd, fd)
        # closed below, before fd 1 is given back; closefd=False: the descriptor is closed there
        out = open(saved, "w", encoding=getattr(real, "encoding", None) or "utf-8", closefd=False)  # noqa: SIM115
    sys.stdout = _Unclosable(sys.stderr)  # type: ignore[assignment]
    try:
        yield out
    finally:
        sys.stdout = real
        with contextlib.suppress(Exception):
            sys.stderr.flush()
            real.flush()  # the script may have written to the object it held (fd 1: stderr for now)
        if saved is not None:
            out.close()
            os.dup2(saved, fd)
            os.close(saved)


def _where(exc: BaseException, script: str | None) -> str:
    """`file:line` of the innermost frame of the user's script (or of the last frame), and of the
    innermost frame of the user's other code below it (a module the script imports), where the
    error was raised there: not of a library's (site-packages) or Python's own."""
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames if script is not None and os.path.abspath(f.filename) == script]
    frame = (mine or frames or [None])[-1]
    if frame is None:
        return ""
    out = f" at {os.path.basename(frame.filename)}:{frame.lineno}"
    below = frames[frames.index(frame) + 1:] if mine else []
    own = [f for f in below if os.path.isfile(f.filename) and not _library(f.filename)]
    if own:
        inner = own[-1]
        shown = os.path.relpath(inner.filename) if not os.path.relpath(inner.filename).startswith("..") \
            else inner.filename
        out += f", in {shown}:{inner.lineno}"
    return out


def _library(filename: str) -> bool:
    """A file of an installed package, of Python itself, or of freezelint or torch (the watch's own
    notion of library code: its hooks run inside the script's calls)."""
    import sysconfig

    from freezelint.runtime.watch_models import _LIBRARY

    path = os.path.abspath(filename)
    if path.startswith(_LIBRARY):
        return True
    roots = {sysconfig.get_paths().get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    return "site-packages" in path.split(os.sep) or "dist-packages" in path.split(os.sep) \
        or any(r and path.startswith(os.path.abspath(r) + os.sep) for r in roots)


# torch's own words for the two failures a freeze that caught everything ends in
_LOSS_WITHOUT_GRAD = "does not require grad and does not have a grad_fn"
_EMPTY_OPTIMIZER = "optimizer got an empty parameter list"
_RECOMPUTED = "torch.utils.checkpoint: Recomputed values"  # torch's CheckpointError
_SET_ADAPTER = ("peft's set_adapter makes the adapter it sets trainable (TRL's DPO sets its reference adapter for its "
                "reference pass, then the policy's again)")


def _frozen_hint(failure: BaseException, watch) -> str:
    """What the watch saw that explains a failure torch words without freezing: a loss with no
    grad_fn (the modules that ran hold no trainable parameter, or their outputs were cut from the
    loss) or an optimizer given no parameters (a requires_grad filter over a model frozen whole); and
    for any failure, models frozen whole with PEFT's adapters (loaded for inference, say)."""
    text = str(failure)
    if _LOSS_WITHOUT_GRAD in text:
        from freezelint.runtime.tree import class_name

        counts = [(class_name(m), sum(p.requires_grad for p in m.parameters()), sum(1 for _ in m.parameters()))
                  for m in list(watch.roots.values())]
        shown = ", ".join(f"{n}: {t} of {k} parameter{'s' * (k != 1)} trainable" for n, t, k in counts)
        merged = _merged_away(watch)
        if counts and not any(t for _, t, _ in counts) and merged:
            return (f"; peft's merge_and_unload() or unload() replaced the LoRA layers {merged} by their frozen base "
                    f"layers ({shown}), so the loss has nothing to train and the optimizer holds adapters no longer "
                    f"in the model: merge once training is over")
        if counts and not any(t for _, t, _ in counts) and (why := _adapters_frozen(watch)):
            return (f"; every parameter of the models that ran is frozen ({shown}), PEFT's adapters included, so "
                    f"the loss has nothing to train: {why[0]}; {why[1]}")
        if counts and not any(t for _, t, _ in counts):
            return (f"; every parameter of the models that ran is frozen ({shown}): the loss has nothing to "
                    f"train, so a freeze caught the part meant to train")
        if counts and (why := _adapters_frozen(watch, loaded=True)):
            # peft's set_adapter makes the adapter it sets trainable: TRL's DPO step sets its reference
            # adapter and back, so what is trainable now says nothing of the adapter at the forward
            return (f"; the models that ran hold trainable parameters ({shown}), but the loss reached none: "
                    f"{why[0]}, and {_SET_ADAPTER}, so the adapter the loss ran through may have been frozen at "
                    f"its forward, whatever is trainable now (or the loss was computed under torch.no_grad(), or "
                    f"from detach()ed outputs); {why[1]}")
        if counts:
            return (f"; the models that ran hold trainable parameters ({shown}), so the loss was cut from "
                    f"them: computed under torch.no_grad(), or from detach()ed outputs")
        return "; the loss depends on no trainable parameter: every parameter is frozen, or it ran under torch.no_grad()"
    if _EMPTY_OPTIMIZER in text:
        # the adapters' two orders: the filter taken before they were added (all frozen then), or a
        # freeze of the whole model after they were (it freezes them too)
        return ("; no parameter reached it: a requires_grad filter over a model frozen whole (taken before "
                "get_peft_model or add_adapter added the adapters, or after a freeze that caught them too), or a "
                "name filter that matched nothing")
    if _RECOMPUTED in text and (why := _adapters_frozen(watch, loaded=True)):
        # the adapter frozen at the forward is trainable at the recompute (set_adapter back to it), so
        # the recompute saves other tensors: TRL's DPO under its default gradient checkpointing
        return (f"; {why[0]}, and {_SET_ADAPTER}: an adapter frozen at the forward was made trainable before "
                f"the checkpoint's recompute, which then differs; {why[1]}")
    # any other failure of models frozen whole, PEFT's adapters included: what the watch saw, not a
    # guess at torch's words
    roots = list(watch.roots.values())
    if roots and not any(p.requires_grad for r in roots for p in r.parameters()) and (why := _adapters_frozen(watch)):
        return (f"; every parameter of the models that ran is frozen, PEFT's adapters included, so nothing would "
                f"train: {why[0]}; {why[1]}")
    return ""


def _adapters_frozen(watch: Any, loaded: bool = False) -> tuple[str, str] | None:
    """Why PEFT's adapters in the models that ran are frozen (loaded for inference, or caught by a
    freeze after get_peft_model) and what to do; None where they hold none, or, with `loaded`,
    where none was loaded for inference."""
    from freezelint.runtime import findings as F

    layer = F.tuner_layer()
    modules = [m for r in list(watch.roots.values()) for m in r.modules()]
    if layer is None or not any(isinstance(m, layer) for m in modules):
        return None
    if loaded and not F.loaded_for_inference(modules):
        return None
    return F.adapters_frozen_why(modules)


def _merged_away(watch: Any) -> str:
    """The names of the peft LoRA layers, replaced while watched, whose tensors a watched optimizer
    still holds (merge_and_unload() mid-training); '' where there are none."""
    from freezelint.runtime import findings as F
    from freezelint.runtime.swaps import replaced_from
    from freezelint.runtime.watch_report import _NAMED, _replaced_names

    stale = [p for o in list(watch.optimizers.values()) for g in o.param_groups for p in g["params"]
             if (r := replaced_from(p)) is not None and r[0].startswith("peft.")]
    # by full name (`base_model.model.fc1`), as FZ302 names replaced layers
    live = [named for root in list(watch.roots.values()) for named in root.named_modules()]
    return F.listed(_replaced_names(stale, live), _NAMED) if stale else ""


def _no_torch_step(watch: Any, others: list[type] | None = None) -> str:
    """Why no step was seen though the script trained (its models ran forward and hold grads):
    the watch sees torch.optim.Optimizer steps (and fastai's own Optimizer's) only. Names the framework
    whose optimizer-like object is alive (keras's fit() steps an optimizer of its own) and says
    what to use instead; a general line where none is found. '' where nothing trained. `others`:
    those optimizers' classes where the caller has found them already."""
    roots = [m for m in watch.roots.values() if m is not None]
    if not roots:
        return ""
    params = [p for m in roots for p in m.parameters()]
    backward = any(p.grad is not None for p in params)
    others = _other_optimizers(params) if others is None else others
    if not backward and not others:
        return ""
    ran = "forward and backward passes ran" if backward else "forward passes ran"
    head = f"{ran}, but no torch.optim.Optimizer stepped (only their steps are watched)"
    if not others:
        return (f"{head}: the weights were updated some other way (an optimizer that is not a torch.optim.Optimizer, "
                f"or updates written by hand); step a torch.optim optimizer to gate this script")
    kind = others[0]
    package = kind.__module__.partition(".")[0]
    advice = _OWN_OPTIMIZER.get(package, "use a torch.optim optimizer in its place to gate this script")
    if package == "__main__":
        return f"{head}: the script's {kind.__name__} is not one; {advice}"
    return f"{head}: {package}'s {kind.__name__} ({kind.__module__}.{kind.__qualname__}) is not one; {advice}"


def _stall_probe() -> Callable[[Any], str]:
    """`Watch(on_stall=...)`: asked at a few forwards of the models before any torch step, it gives
    `_no_torch_step`'s reason once the models' trainable parameters have changed since it was last
    asked while another library's optimizer holds them and no torch.optim optimizer does: that
    optimizer is training them (a script's hand-made one, keras's), and the torch
    step the window waits for will not come. The script is then stopped there, not left to train
    to its end first. Not on a change alone (an initialisation that rescales weights between
    forwards, before the optimizer is built), nor where a torch optimizer holds them (its step
    may come after many forwards: gradient accumulation, an evaluation first)."""
    last: list[Any] = [None]

    def ask(watch: Any) -> str:
        from freezelint.runtime.fingerprint import fingerprints
        from freezelint.runtime.watch_models import _optimizers_holding

        params = [p for m in list(watch.roots.values()) if m is not None for p in m.parameters() if p.requires_grad]
        if not params:
            return ""
        held = _optimizers_holding()
        if any(id(p) in held for p in params):
            return ""
        now = (params, fingerprints(params))
        before, last[0] = last[0], now
        if before is None or len(before[0]) != len(params) or any(a is not b for a, b in zip(before[0], params)) \
                or before[1] == now[1]:
            return ""
        others = _other_optimizers(params)  # one scan of every live object, handed on
        return _no_torch_step(watch, others) if others else ""

    return ask


# what to do where a framework trains with an optimizer of its own
_OWN_OPTIMIZER = {
    "keras": "model.fit() cannot be watched with it; train the keras model in a PyTorch loop with a torch.optim "
             "optimizer (keras's guide \"Writing a training loop from scratch in PyTorch\") to gate it",
}


def _other_optimizers(params: list[Any]) -> list[type]:
    """Classes of live objects that are optimizers of another library and hold the model's
    parameters (a class named *Optimizer in their bases, none of them torch's, with a step() or
    keras's apply_gradients(), reaching one of `params` through a few references), most common
    first: what stepped in place of torch's."""
    import gc
    from collections import Counter

    import torch

    verdict: dict[type, bool] = {}
    found: Counter[type] = Counter()
    held = {id(p) for p in params}
    for obj in gc.get_objects():
        kind = type(obj)
        like = verdict.get(kind)
        if like is None:
            module = getattr(kind, "__module__", None)
            like = verdict[kind] = (isinstance(module, str) and not module.startswith("torch")
                                    and not issubclass(kind, (torch.optim.Optimizer, type))
                                    and any("Optimizer" in c.__name__ for c in kind.__mro__)
                                    and any(callable(getattr(kind, m, None)) for m in ("step", "apply_gradients")))
        if like and _reaches(obj, held):
            found[kind] += 1
    return [k for k, _ in found.most_common()]


def _reaches(obj: Any, ids: set[int], depth: int = 6, budget: int = 20_000) -> bool:
    """Whether one of the objects in `ids` is reachable from obj within `depth` references
    (an optimizer may hold its parameters in lists of lists; keras's in its variables)."""
    import gc

    level, seen = [obj], {id(obj)}
    for _ in range(depth):
        nxt = []
        for o in gc.get_referents(*level):
            if id(o) in ids:
                return True
            if id(o) not in seen and not isinstance(o, (str, bytes, int, float, type)):
                seen.add(id(o))
                nxt.append(o)
        if not nxt or len(seen) > budget:
            return False
        level = nxt
    return False


def _resolve(opts: RunOptions) -> tuple[str, str | None]:
    """argv[0] for the script and its absolute path (None for a module that is not a file)."""
    if opts.module:
        try:
            spec = importlib.util.find_spec(opts.target)
        except (ImportError, ValueError) as e:
            raise RunError(f"cannot find module {opts.target!r}: {e}") from None
        if spec is None:
            raise RunError(f"no module named {opts.target!r}")
        if spec.submodule_search_locations is not None and not _has_main(spec.submodule_search_locations):
            # else runpy's ImportError, told as the script's own failure "after 0 optimizer steps"
            raise RunError(f"{opts.target} is a package with no __main__.py: name the module that trains "
                           f"(-m {opts.target}.train)")
        origin = spec.origin if spec.origin not in (None, "built-in", "frozen") else None
        return origin or opts.target, os.path.abspath(origin) if origin else None
    path = Path(opts.target)
    if path.is_dir() and not _has_main([path]):  # one with a __main__ runs as `python DIR` runs it
        raise RunError(f"{opts.target} is a directory with no __main__.py: give the script (train.py), or "
                       f"`-m PACKAGE` for a package with a __main__.py")
    if not path.exists():
        raise RunError(f"no such file: {opts.target}")
    if not path.is_file() and not path.is_dir():  # a pipe or a device: reading it could block
        raise RunError(f"{opts.target} is not a regular file")
    if path.suffix == ".ipynb":  # its JSON may even run as Python, and watch nothing
        raise RunError(f"{opts.target} is a notebook: export it as a script (jupyter nbconvert --to script), or "
                       f"call freezelint.watch() in it")
    return str(path), os.path.abspath(path)  # `__file__` as python gives it: absolute, links kept


def _importer(script: str) -> bool:
    """Whether SCRIPT is a directory or zip with a __main__, which python runs from sys.path[0] = SCRIPT."""
    import pkgutil

    return os.path.isdir(script) or pkgutil.get_importer(script) is not None


def _runs_by_runpy(script: str) -> bool:
    """Whether SCRIPT is no plain source file: one an importer runs, or bytecode (a .pyc)."""
    if _importer(script):
        return True
    with io.open_code(script) as f:
        return f.read(4) == importlib.util.MAGIC_NUMBER


@contextlib.contextmanager
def _argv0_as_typed(argv0: str) -> Iterator[None]:
    """runpy.run_path makes argv[0] the path it runs (absolute here, for `__file__` and sys.path[0]
    as python gives them); python leaves argv[0] as typed. Its private setter of argv[0] is told
    the typed path where this Python has it (else argv[0] stays absolute)."""
    modified = getattr(runpy, "_ModifiedArgv0", None)
    if modified is None:
        yield
        return

    class Typed(modified):  # type: ignore[misc, valid-type]
        def __init__(self, value: Any) -> None:
            super().__init__(argv0)

    runpy._ModifiedArgv0 = Typed  # type: ignore[attr-defined]
    try:
        yield
    finally:
        runpy._ModifiedArgv0 = modified  # type: ignore[attr-defined]


def _run_script(script: str, argv0: str) -> dict:
    """Run SCRIPT (its absolute path) as __main__ as `python SCRIPT` does: `__file__` and sys.path[0]
    absolute, sys.argv[0] left as the caller set it, the path as typed (ARGV0). What is no plain
    source file (a directory or zip with a __main__, a .pyc) runs through runpy.run_path."""
    import types

    if _runs_by_runpy(script):
        with _argv0_as_typed(argv0):
            return runpy.run_path(script, run_name="__main__")
    with io.open_code(script) as f:
        source = f.read()
    code = compile(source, script, "exec", dont_inherit=True)  # not this module's __future__ flags
    module = types.ModuleType("__main__")
    module.__dict__.update(__file__=script, __cached__=None, __loader__=None, __package__="", __spec__=None)
    saved = sys.modules.get("__main__")  # put back after, as runpy's temporary module is
    sys.modules["__main__"] = module
    try:
        exec(code, module.__dict__)
    finally:
        if saved is None:
            sys.modules.pop("__main__", None)
        else:
            sys.modules["__main__"] = saved
    return module.__dict__.copy()


def _has_main(locations) -> bool:
    """Whether a package's folders hold a __main__ (looked for on disk: importing the package here
    would run its __init__ before the watch starts)."""
    return any(os.path.exists(os.path.join(d, name)) for d in locations for name in ("__main__.py", "__main__.pyc"))


def _model_named(name: str, script: str | None, shown: str) -> Any:
    """`--model NAME`, looked up at the first optimizer step as the script's code sees it there:
    the variables of the script's own frames on the stack, innermost first (a `def main():`),
    then its top level; then the dotted attributes (`trainer.model`). AuditUsageError (one line)
    when it is missing or not an nn.Module."""
    from torch import nn

    from freezelint.runtime.runner import AuditUsageError
    from freezelint.runtime.watch_models import frame_variables

    def find() -> nn.Module:
        first, *attrs = name.split(".")
        scopes = []
        frame = sys._getframe(1)
        while frame is not None:
            if script is not None and os.path.abspath(frame.f_code.co_filename) == script:
                scopes.append(frame_variables(frame))  # a copy: the frame keeps no snapshot of them
            frame = frame.f_back
        main = sys.modules.get("__main__")
        scopes.append(vars(main) if main is not None else {})
        scope = next((s for s in scopes if first in s), None)
        if scope is None:
            raise AuditUsageError(f"--model {name}: {shown} has no variable {first!r} at its first optimizer step")
        obj = scope[first]
        for i, attr in enumerate(attrs):
            try:
                obj = getattr(obj, attr)
            except AttributeError:
                held = ".".join([first, *attrs[:i]])
                raise AuditUsageError(f"--model {name}: {held} ({type(obj).__name__}) has no attribute {attr!r}") \
                    from None
        if not isinstance(obj, nn.Module):
            raise AuditUsageError(f"--model {name}: not an nn.Module but {type(obj).__name__}")
        return obj

    return find


def _later_failure(watch: Any, verbose: bool) -> str:
    """Where watching failed in a later window (--no-stop; its hooks stop the script there, as the
    first window's do): one error line on stderr, which says which window, and the line; else ""."""
    w = next((w for w in watch.later if w.error is not None), None)
    if w is None:
        return ""
    if verbose:
        traceback.print_exception(w.error)
    said = f"{w.opened}: {(getattr(w.error, 'cli', None) or str(w.error)).splitlines()[0]}"
    print(f"freezelint: error: {said}", file=sys.stderr)
    return said


def _exit_status(code: Any) -> int:
    """What `python SCRIPT.py` exits with after `sys.exit(code)` (the message it prints aside)."""
    if code is None:
        return 0
    return int(code) if isinstance(code, int) else 1  # sys.exit(True) is 1


def _after_window(name: str, ok: bool, failure: BaseException | None, exit_code: Any, script: str | None,
                  verbose: bool) -> int:
    """--no-stop, the window judged, the script has ended: findings are 1, else the script's own
    status (as `coverage run` passes it on), with one line on stderr when it is not 0."""
    if failure is not None:
        if verbose:
            traceback.print_exception(failure)
        text = str(failure).splitlines()[0] if str(failure) else ""
        what, status = f"raised {type(failure).__name__}{': ' + text if text else ''}{_where(failure, script)}", 1
    else:
        status = _exit_status(exit_code)
        if status == 0:
            return 0 if ok else 1
        if not isinstance(exit_code, int):
            print(exit_code, file=sys.stderr)  # as python prints sys.exit("message")
        what = f"exited with status {status}"
    if ok:
        print(f"freezelint: note: {name} {what} after a clean window; its status is the exit code", file=sys.stderr)
        return status
    print(f"freezelint: note: {name} {what} after the window; the exit code is 1 for the findings", file=sys.stderr)
    return 1


def run_script(opts: RunOptions) -> int:
    try:
        import torch  # noqa: F401
    except ImportError:
        print("freezelint: error: `freezelint run` needs torch: pip install 'freezelint[audit]'", file=sys.stderr)
        return 2
    from freezelint.config import ConfigError
    from freezelint.runtime.runner import AuditUsageError
    from freezelint.runtime.watch import Watch, WindowComplete

    json_to_stdout = opts.fmt == "json" and not opts.output_file
    report_out: list[TextIO | None] = [None]  # where --no-stop's report goes while the script runs

    saved_argv, saved_path = sys.argv[:], sys.path[:]
    # the report goes where stdout pointed before the script ran, whatever it does to sys.stdout
    saved_out, saved_err = sys.stdout, sys.stderr
    try:
        if opts.module:
            sys.path.insert(0, os.getcwd())  # as `python -m` does, before the module is looked up
        argv0, script = _resolve(opts)
        accepted = _accepted(opts, script)
        if opts.output_file and not Path(opts.output_file).absolute().parent.is_dir():
            raise RunError(f"cannot write {opts.output_file}: no such directory (checked before running the script)")
        if opts.output_file and os.path.isdir(opts.output_file):
            raise RunError(f"cannot write {opts.output_file}: it is a directory (checked before running the script)")
        name = opts.target if opts.module else os.path.basename(argv0)  # as the user ran it: `-m pkg.train`'s name
        find = None if opts.model is None else _model_named(opts.model, script, name)
        # --no-stop prints each window's text report as the window closes; JSON is one document,
        # written when the script has ended: the first window's report, the later ones in it
        streamed = not opts.stop and opts.fmt == "text"
        watch = Watch(opts.steps, expect_frozen=opts.expect_frozen, expect_trainable=opts.expect_trainable,
                      stop=opts.stop, stop_on_error=True, find_model=find, rewatch=opts.rewatch and not opts.stop,
                      on_stall=_stall_probe() if opts.stop else None,
                      on_report=(lambda r: _emit(r, opts, accepted, report_out[0])) if streamed else None)
    except (RunError, AuditUsageError, ConfigError) as e:
        sys.path[:] = saved_path
        return _fail(opts, str(e))
    sys.argv = [argv0, *opts.args]
    if not opts.module and script and not _importer(script):
        # as `python SCRIPT.py` puts the script's folder first, links resolved (runpy puts a zip or directory)
        sys.path.insert(0, os.path.dirname(os.path.realpath(script)))
    failure: BaseException | None = None
    spawned: list[int] = []
    exit_code: Any = 0
    stopped = False
    untorched = ""  # why no step was seen, where the script trained (see _no_torch_step)
    try:
        with _stdout_to_stderr() if json_to_stdout else contextlib.nullcontext(saved_out) as out, \
                _spawns_seen() as spawned, watch:
            report_out[0] = out
            # where the script ended without a step, what it built is still alive here (its globals,
            # or its frames under sys.exit(0)) to say why; not where it failed: its error says why
            try:
                if opts.module:
                    ran = runpy.run_module(opts.target, run_name="__main__", alter_sys=True)
                else:
                    ran = _run_script(script, argv0)
            except SystemExit as e:
                if e.code in (0, None) and not watch.started and not spawned:
                    untorched = _no_torch_step(watch)
                raise
            if not watch.started and not spawned:
                untorched = _no_torch_step(watch)
            del ran  # freed here, as runpy's own copy was, inside the redirect
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
        sys.stdout, sys.stderr = saved_out, saved_err
        watch.close()

    if watch.error is not None:
        if opts.verbose:
            if failure is not None:
                traceback.print_exception(failure)
            traceback.print_exception(watch.error)
        said = getattr(watch.error, "cli", None) or str(watch.error)
        return _fail(opts, said.splitlines()[0])
    if watch.stalled:  # stopped at a forward: another optimizer was seen training the model
        return _fail(opts, f"{name} was stopped at its model's {watch.runs_before_step}th forward pass, before any "
                           f"optimizer step: {watch.stalled}")
    if not watch.done:
        if failure is not None and opts.verbose:
            traceback.print_exception(failure)
        seen = watch.steps_seen
        # the script (or code of the user's it imports) does not compile: where, not "after 0 steps"; no
        # file name where the script itself could not be read as source (null bytes)
        source = failure.filename or script if isinstance(failure, SyntaxError) and seen == 0 else None
        if source and os.path.isfile(source):
            where = os.path.basename(source) + "".join(f":{n}" for n in (failure.lineno, failure.offset) if n)
            why = f"{type(failure).__name__}: {failure.msg}"
            with contextlib.suppress(OSError), open(source, "rb") as f:
                from freezelint.check.prefilter import wide_bom

                if wide := wide_bom(f.read(4)):  # Python says "null bytes", which hides why
                    why = f"the file is {wide} (it starts with a {wide} byte-order mark): save it as UTF-8"
            return _fail(opts, f"{where}: {why} ({name} did not run)")
        if failure is not None:
            cause = f"raised {type(failure).__name__}: {str(failure).splitlines()[0] if str(failure) else ''}"
            cause = cause.rstrip(": ") + _where(failure, script)
        elif exit_code not in (0, None):
            cause = f"exited with status {exit_code}"
        else:
            cause = "ended"
        why = ""
        if not watch.started:
            why = " (no optimizer step was observed"
            if untorched:
                why = f": {untorched}"
            elif spawned:  # the steps ran in the children: this process never saw them
                why += (": the training ran in processes that torch.multiprocessing started, as Lightning's "
                        "strategy=\"ddp_spawn\" does, and those are not watched; launch with torchrun, or call "
                        "freezelint.watch() in the code each process runs")
            why += "" if untorched else ")"
        hint = _frozen_hint(failure, watch) if failure is not None else ""
        if failure is None and exit_code in (0, None) and 0 < seen < opts.steps:
            hint += f"; run it for more steps, or watch fewer (--steps {seen})"
        return _fail(opts, f"{name} {cause} after {seen} of {opts.steps} optimizer steps{why}{hint}")
    report = watch.report
    # ended short of the window: findings are still 1, but a clean report is no verdict on N steps
    short = watch.judged_at_exit and report.ok
    if watch.judged_at_exit:
        print(f"freezelint: note: {name} ended before every optimizer had completed {opts.steps} steps "
              f"({watch.progress()}); the report is of the steps seen"
              + ("; exit 2: lower --steps or train longer" if short else ""), file=sys.stderr)
    elif opts.stop and not stopped and not watch.halted:
        print(f"freezelint: note: {name} caught the stop raised after the window (a bare `except:`?) and ran "
              f"on; the report is of the {opts.steps} watched steps", file=sys.stderr)
    later = watch.reports[1:]
    broken = _later_failure(watch, opts.verbose)
    if watch.unfinished:
        print(f"freezelint: note: {watch.unfinished}", file=sys.stderr)
    _accept([report, *later], accepted)  # before the status is read from them
    if opts.stop or watch.halted:
        # halted: the script was stopped before a backward that would hang, whatever is ignored
        status = 2 if short else 1 if watch.halted or not report.ok else 0
    elif broken:  # as where the first window's watching fails: exit 2, whatever the script did
        status = 2
    else:
        status = _after_window(name, report.ok and all(r.ok for r in later), failure, exit_code, script,
                               opts.verbose)
        status = 2 if short else status
    if opts.stop:
        _emit(report, opts, accepted, exit_code=status)
    elif opts.fmt == "json":  # text: on_report printed each window as it closed
        _emit(report, opts, accepted, later=later, exit_code=status, error=broken or None)
    if opts.stop or watch.halted:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            # every rank holds the report here: wait for rank 0's print, or torchrun, seeing a rank
            # exit 1 first, kills rank 0 before it has printed
            dist.barrier()
            dist.destroy_process_group()  # the script was stopped before it could
    return 2 if opts.unwritten else status

