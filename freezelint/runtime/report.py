"""What the audit saw: findings, per-parameter/buffer/module records, and their renderings."""

from __future__ import annotations

import io
import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from freezelint import codes


def _holders(names: list[str], modules: dict[str, "ModuleRecord"]) -> set[str]:
    """The outermost modules all of whose parameters are among `names` (parameter names), else
    the deepest module that holds all of them."""
    counts: dict[str, int] = {}
    for n in names:
        mod = n
        while mod:
            mod = mod.rpartition(".")[0]
            counts[mod] = counts.get(mod, 0) + 1
    # the root holds them only where they lie in this tree (a model run beside it is not shown)
    inside = any("." not in n or n.partition(".")[0] in modules for n in names)
    full = {m for m, c in counts.items() if m in modules and 0 < modules[m].params <= c and (m or inside)}
    top = {m for m in full if not any(o != m and (not o or m.startswith(o + ".")) for o in full)}
    if top:
        return top
    common = [m for m, c in counts.items() if c == len(names) and m in modules and (m or inside)]
    return {max(common, key=len)} if common else set()


def sentence(text: str) -> str:
    """`text` begun as a sentence after a full stop: the message and the advice of a finding are
    written to be joined (`message. advice`), the advice starting in lower case. A word of code
    at its start (`model.train()`, `requires_grad_`, backticked code) stays as written."""
    word = re.match(r"[a-z][a-z-]*", text)
    if word is None or text[word.end():word.end() + 1] in (".", "(", "_", "["):
        return text
    return text[0].upper() + text[1:]


def _mode_said(mode: str, sub: list[ModuleRecord]) -> str:
    """A folded line's mode: its module's, then each class below it that ran in another
    (`train, BatchNorm2d eval`; `BatchNorm2d 2 of 4 eval` where only some did), so that a frozen
    BatchNorm kept in eval() shows on the line that stands for it."""
    total: dict[str, int] = {}
    other: dict[tuple[str, str], int] = {}
    for x in sub[1:]:
        if x.params or x.buffers:  # what holds nothing (activations, dropout) has no mode worth saying
            total[x.type] = total.get(x.type, 0) + 1
            if x.mode != mode:
                other[(x.type, x.mode)] = other.get((x.type, x.mode), 0) + 1
    said = [f"{t} {'' if n == total[t] else f'{n} of {total[t]} '}{m}" for (t, m), n in other.items()]
    return ", ".join([mode, *said])


def _held(m: ModuleRecord, several: bool = False) -> str:
    """What the optimizers hold of a module's parameters, for its tree line, counted among its
    trainable ones (`all 16 trainable params in the optimizer`, `none of its 16 trainable params
    in the optimizer`), with any frozen ones a param group holds too (`+ 2 frozen`); "" where there
    is nothing to say. `several`: the report has several optimizers (`in an optimizer`)."""
    opt = "an optimizer" if several else "the optimizer"
    n, frozen = m.trainable, m.frozen_held
    if m.optimizer == "-":
        return f"{frozen} frozen param{'s' if frozen != 1 else ''} in {opt}" if frozen else ""
    count = f"{n} " if n else ""  # a record made without its counts: the words alone
    if m.optimizer == "none":
        counted = f"its trainable param not in {opt}" if n == 1 else f"none of its {count}trainable params in {opt}"
        return f"{counted}, but {frozen} frozen" if frozen else counted
    counted = ("its trainable param" if n == 1 else f"all {count}trainable params") if m.optimizer == "all" else \
        f"{m.trainable_held} of {n} trainable params" if n else "some trainable params"
    return f"{counted}{f' + {frozen} frozen' if frozen else ''} in {opt}"


@dataclass
class AuditFinding:
    code: str
    target: str  # parameter, module, buffer, param group or pattern
    message: str  # what was observed
    advice: str  # what to do
    names: list[str] = field(default_factory=list)  # every target, when this one stands for several alike
    # the advice worded for several, where `advice` is worded for one: what grouping alike compares
    advice_many: str = field(default="", repr=False, compare=False)

    @property
    def count(self) -> int:
        return len(self.names) or 1

    @property
    def name(self) -> str:
        return codes.get(self.code).name

    @property
    def severity(self) -> str:
        return codes.get(self.code).severity

    def __str__(self) -> str:
        return f"{self.code} {self.name} [{self.target}]: {self.message}. {sentence(self.advice)}"


@dataclass
class ParamRecord:
    name: str
    module: str
    shape: tuple[int, ...]
    dtype: str
    requires_grad: bool  # before the steps, or at a step of the optimizer that holds it
    group: int | None  # index of its param group in the optimizer that holds it, None when in no group
    changed: bool = False
    max_abs_delta: float | None = None
    grad: str = "none"  # at some step: "nonzero" over "zero" over "none"
    has_state: bool = False  # optimizer state after the steps
    optimizer: str | None = None  # name of the optimizer that holds it (None: in none, or the only one)
    aliases: list[str] = field(default_factory=list)  # other names of this tensor (tied weights, PEFT copies)
    original: bool = False  # a PEFT original_module parameter: frozen by design, a copy trains instead
    # watch(): the steps whose update a write before the next step undid (the parameter back at its
    # value from the window's start), when every step's was; empty when any update lasted
    written_back: tuple[int, ...] = ()  # a tuple: no allocation per record
    grad_hook: bool = False  # a hook on its gradient (`register_hook`): one may zero it, a freeze by hook
    # watch(): moved, its grad all zeros at the closing step and its AdamW first moment all zeros: no
    # step gave it a gradient, weight decay alone moved it (a loop's `p.grad.zero_()` after backward)
    grad_zeroed: bool = False
    # watch(): frozen, its module of the script's own in train mode, and moved between a forward and
    # the step after it: the model's forward (or backward) wrote it, neither the optimizer nor the script
    in_forward: bool = False
    # watch(): trainable, no grad at any step, yet a gradient reached it in a backward in the window:
    # the script cleared its .grad between backward and step (`p.grad = None`, a zero_grad() before step())
    grad_dropped: bool = False


@dataclass
class BufferRecord:
    name: str
    module: str
    changed: bool = False
    max_abs_delta: float | None = None
    dtype: str = ""


@dataclass
class ModuleRecord:
    name: str
    type: str
    status: str  # "trainable", "frozen", "partly frozen", "no params"
    mode: str  # "train", "eval" (watch: "train+eval"): the mode the forwards ran in (audit: after train())
    params: int = 0
    params_changed: int = 0
    buffers: int = 0
    buffers_changed: int = 0
    optimizer: str = "-"  # "all", "some", "none", "-" (no trainable params)
    # its own parameters recorded under another name (tied weights, judged once): name here -> that name
    tied: dict[str, str] = field(default_factory=dict)
    frozen_held: int = 0  # its frozen parameters that an optimizer's param group holds all the same
    trainable: int = 0  # its trainable parameters (below it too, as `params`)
    trainable_held: int = 0  # of those, the ones an optimizer's param group holds


def _ties(tied: dict[str, str]) -> str:
    """A module line's ties: one item per child module shared under another name that holds several
    tensors (`features is shared as pi_features, vf_features`: each of its parameters is recorded
    once, under the first name), else one per tensor (`weight tied to transformer.wte.weight`); items
    apart by `; ` where a shared module's names are listed. JSON keeps every tensor's tie."""
    by_child: dict[tuple[str, str], list[str]] = {}  # (the module as recorded, this module's child) -> its ties
    for k, t in tied.items():
        child, _, rest = k.partition(".")
        if rest and t.endswith("." + rest):  # a child module listed under another name, this tensor in it
            by_child.setdefault((t[:-len(rest) - 1], child), []).append(k)
    shared: dict[str, list[str]] = {}
    summed: set[str] = set()
    for (there, child), keys in by_child.items():
        if len(keys) > 1:
            shared.setdefault(there, []).append(child)
            summed.update(keys)
    single = [f"{k} tied to {t}" for k, t in tied.items() if k not in summed]
    if not shared:
        return ", ".join(single)
    return "; ".join([*(f"{there} is shared as {', '.join(names)}" for there, names in shared.items()), *single])


def _own_status(records: list[ParamRecord]) -> tuple[str, int]:
    """A module's status and changed count read from its own parameters alone (not its children's)."""
    trainable = sum(r.requires_grad for r in records)
    status = "trainable" if trainable == len(records) else "frozen" if not trainable else "partly frozen"
    return status, sum(r.changed for r in records)


def key(f: AuditFinding) -> str:
    """What makes two windows' findings the same one: code, target and names (not the numbers); a
    finding on one thing whose names are just that thing (FZ502's `names` for one layer) is keyed by
    its target alone, as before its JSON named it."""
    names = [] if list(f.names) == [f.target] else f.names
    return " ".join([f.code, f.target, *names])


def repeated(report: "AuditReport", before: list["AuditReport"]) -> list[str]:
    """The keys of `report`'s findings that one of the `before` reports has too."""
    seen = {key(f) for r in before for f in r.findings}
    return [key(f) for f in report.findings if key(f) in seen]


class FreezeAuditError(AssertionError):
    """Raised by `raise_for_findings()` / `assert_frozen()`; the message is the readable report."""

    def __init__(self, report: "AuditReport") -> None:
        super().__init__(report.render_text())
        self.report = report


@dataclass
class AuditReport:
    findings: list[AuditFinding]
    params: list[ParamRecord]
    buffers: list[BufferRecord]
    modules: list[ModuleRecord]
    steps: int
    device: str
    optimizer: str
    set_to_none: bool | None  # None: not seen (the watch could not tell how the loop zeroes grads)
    restored: bool | None = True  # None: nothing to restore (a watch judges the user's own steps)
    unrestored: list[str] = field(default_factory=list)
    extra_bytes: int = 0  # bytes the audit held beyond the model: copies for restore, fingerprint scratch
    # (the largest rank's when world_size > 1; each rank's in extra_bytes_per_rank)
    world_size: int = 1  # ranks in the process group; the same report on each of them
    backend: str | None = None  # torch.distributed backend when world_size > 1
    ddp: bool = False  # steps ran through a DistributedDataParallel wrapper
    grad_sync: bool | None = None  # DDP all-reduced gradients in the steps (False: under no_sync())
    sharding: str | None = None  # "FSDP2" or "FSDP1": parameters are sharded across the ranks
    extra_bytes_per_rank: list[int] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)  # codes accepted: reported, but they do not fail
    verbose: bool = False  # render every name and every module
    notes: list[str] = field(default_factory=list)  # what was seen but not judged, and why
    # a later window's findings that an earlier window reported alike (`key()`): the text names them
    # only; they still count (the mistake is still there)
    repeated: list[str] = field(default_factory=list)

    @property
    def active(self) -> list[AuditFinding]:
        """The findings that count: those whose code is not ignored."""
        return [f for f in self.findings if f.code not in self.ignore]

    @property
    def ok(self) -> bool:
        """No finding that is not ignored (warnings included)."""
        return not self.active

    def failed(self, strict: bool = False) -> bool:
        """An error that is not ignored; with strict, any finding that is not ignored."""
        return any(strict or f.severity == codes.ERROR for f in self.active)

    def raise_for_findings(self, strict: bool = True) -> "AuditReport":
        """FreezeAuditError unless ok; with strict=False only on errors (warnings pass)."""
        __tracebackhide__ = True
        if self.failed(strict):
            raise FreezeAuditError(self)
        return self

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON data (`json.dumps(..., allow_nan=False)` takes it): a change that
        cannot be sized as a finite number (a step that diverged to NaN or inf, a tensor whose
        shape changed) has `max_abs_delta` null and says which in `delta`."""
        d = asdict(self)
        d["ok"] = self.ok
        for f, src in zip(d["findings"], self.findings):
            f["name"], f["severity"], f["url"] = src.name, src.severity, codes.get(src.code).url
            f["count"], f["ignored"] = src.count, src.code in self.ignore
            del f["advice_many"]
            f["repeated"] = key(src) in self.repeated  # a later window's, as an earlier window reported it
        for p in d["params"]:
            p["shape"], p["written_back"] = list(p["shape"]), list(p["written_back"])
        for r in [*d["params"], *d["buffers"]]:
            v = r["max_abs_delta"]
            if v is not None and not math.isfinite(v):
                r["max_abs_delta"], r["delta"] = None, str(v)  # "nan", "inf"
        return d

    # ------------------------------------------------------------------ rendering
    def __rich_console__(self, console, options):
        yield from self._renderables()

    def _renderables(self):
        from rich.text import Text

        head = Text()
        n = len(self.active)
        verdict = "OK" if self.ok else f"{n} finding{'s' if n != 1 else ''}"
        if len(self.findings) > n:
            verdict += f" ({len(self.findings) - n} ignored)"
        again = sum(key(f) in self.repeated for f in self.active)
        if again:
            verdict += f" ({'all' if again == n > 1 else again} as for an earlier window)"
        head.append(f"freeze audit: {verdict}", style="bold green" if self.ok else "bold red")
        head.append(f" — {self.steps} step{'s' if self.steps != 1 else ''} on {self.device}, {self.optimizer}"
                    + (f", zero_grad(set_to_none={self.set_to_none})" if self.set_to_none is not None else ""))
        if self.world_size > 1:
            how = ("DDP, gradients all-reduced" if self.grad_sync else "DDP under no_sync()") if self.ddp else \
                f"{self.sharding}, parameters sharded" if self.sharding else "no DDP wrapper"
            head.append(f", {self.world_size} ranks ({self.backend}, {how}); module tree from rank 0")
        yield head
        for f in self.findings:
            ignored = f.code in self.ignore
            line = Text("  ")
            line.append(f.code, style="dim" if ignored else "bold red" if f.severity == codes.ERROR else "bold yellow")
            line.append(f" {f.name} ", style="bold")
            line.append(f"[{f.target}] ", style="cyan")
            if key(f) in self.repeated:
                line.append("as reported for an earlier window: still so", style="dim")
                if ignored:
                    line.append(" (ignored)", style="dim")
                yield line
                continue
            line.append(f"{f.message}. ")
            line.append(sentence(f.advice), style="italic")
            if ignored:
                line.append(" (ignored)", style="dim")
            yield line
            if self.verbose and f.count > 1:
                yield Text(f"    all {f.count}: {', '.join(f.names)}", style="dim")
        for note in self.notes:
            yield Text(f"  note: {note}", style="dim")
        yield self.tree()
        if self.restored is False:
            yield Text(f"  could not restore: {', '.join(self.unrestored)} (use exact=True)", style="bold red")

    def tree(self):
        """The module tree. Unless verbose: a subtree whose modules all look the same is one line,
        and a run of numbered siblings that look the same is one (`layers.0-31 (x32)`)."""
        from rich.tree import Tree

        by_name = {m.name: m for m in self.modules}
        children: dict[str, list[str]] = {}
        for m in self.modules:
            if m.name:
                parent = m.name.rpartition(".")[0]
                children.setdefault(parent, []).append(m.name)
        # a group of alike findings flags the subtree they share; verbose, each of its names
        flagged = {t.split(":")[0] for f in self.findings
                   for t in (f.names if self.verbose and f.names else [f.target])}
        # a finding on something other than a module (a param group: FZ504) flags the modules that
        # hold its parameters, so the tree shows where they are (each may stay one line)
        holding: set[str] = set()
        for f in self.findings:
            if f.target not in by_name and f.names:
                holding |= _holders(f.names, by_name)

        def subtree(name: str) -> list[ModuleRecord]:
            out = [by_name[name]]
            for c in children.get(name, []):
                out.extend(subtree(c))
            return out

        # a module holding a weight tied to one outside it is never folded away: the tie says that
        # freezing or training one name does the same to the other
        ties = {m.name: m.tied for m in self.modules if m.tied}

        def tied_out(name: str) -> bool:
            return any(n.startswith(name + ".") and any(not t.startswith(name + ".") for t in tied.values())
                       for n, tied in ties.items())

        def interesting(name: str) -> bool:
            return any(n == name or n.startswith(name + ".") for n in flagged) or \
                any(n.startswith(name + ".") for n in holding) or (bool(name) and tied_out(name))

        def label(name: str, collapsed: list[ModuleRecord] | None, shown: str | None = None,
                  run: bool = False) -> str:
            """`collapsed`: the subtree folded into this line; `run`: the line stands for a run of
            numbered siblings, whose counts are each one's (the first's, as JSON lists it)."""
            m = by_name[name]
            # a module's counts already cover everything below it
            params, pch, bufs, bch = m.params, m.params_changed, m.buffers, m.buffers_changed
            each = " each" if run else ""
            status = m.status
            style = {"trainable": "green", "frozen": "blue", "partly frozen": "yellow"}.get(status, "dim")
            # a watch's root above several models has no name or class of its own: its type names them
            title = f"[bold]{m.type}[/bold]" if not (name or shown) and m.type.startswith("(") else \
                f"[bold]{shown or name or '(model)'}[/bold] {m.type}"
            parts = [title, f"[{style}]{status}[/{style}]", _mode_said(m.mode, collapsed) if collapsed else m.mode]
            if params:
                parts.append(f"params changed {pch}/{params}{each}")
            if bufs:
                parts.append(f"buffers changed {bch}/{bufs}{each}")
            held = _held(m, several)
            if held:
                parts.append(held)
            if m.tied:
                parts.append(_ties(m.tied))
            if collapsed and len(collapsed) > 1:
                # folded because every part holding parameters reads as this line does
                n = len(collapsed) - 1
                states = {x.status for x in collapsed if x.params}
                alike = f"all {states.pop()}" if len(states) == 1 and n > 1 else states.pop() if states \
                    else "no parameters"
                parts.append(f"[dim]{n} submodule{'s' if n != 1 else ''}{each}, {alike}[/dim]")
            if name in flagged or name in holding:
                parts.append("[bold red]◀[/bold red]")
            return " · ".join(parts)

        several = any(p.optimizer is not None for p in self.params)  # each record names its optimizer

        def signature(m: ModuleRecord) -> tuple:
            # what the optimizers hold, as its line words it less the counts, which differ by size
            held = None if m.optimizer == "-" and not m.frozen_held else (m.optimizer, m.frozen_held)
            return (m.status if m.status != "no params" else None, m.mode, held)

        shapes: dict[str, tuple] = {}

        def shape(name: str) -> tuple:
            """What a subtree looks like, names relative: equal for identical repeated blocks."""
            if name not in shapes:
                m = by_name[name]
                shapes[name] = (m.type, m.status, m.mode, m.optimizer, m.frozen_held, m.params, m.params_changed,
                                m.buffers,
                                m.buffers_changed, name in flagged or name in holding, tuple(m.tied),
                                tuple((c.rpartition(".")[2], shape(c)) for c in children.get(name, [])))
            return shapes[name]

        def runs(names: list[str]) -> list[list[str]]:
            """Consecutive numbered siblings of one shape, together."""
            out: list[list[str]] = []
            for c in names:
                last = out[-1] if out else None
                if (last and not self.verbose and c.rpartition(".")[2].isdigit()
                        and last[-1].rpartition(".")[2].isdigit() and shape(c) == shape(last[0])):
                    last.append(c)
                else:
                    out.append([c])
            return out

        # modules holding parameters of their own beside children that hold some: their own records
        direct: dict[str, list[ParamRecord]] = {}
        for r in self.params:
            direct.setdefault(r.module, []).append(r)
        holders = {n: rs for n, rs in direct.items() if n in by_name and any(
            by_name[c].params for c in children.get(n, []))}

        def by_kind(name: str, sub: list[ModuleRecord]) -> str | None:
            """A subtree whose layers read alike kind by kind (every BatchNorm2d frozen in eval and every
            Conv2d trained; LoRA's base layers frozen and its adapters trained): one line saying so,
            instead of every block spelled out. None where some kind is mixed or there are few layers."""
            # a layer holds parameters and no child does; a module holding its own beside children
            # that hold theirs (a hand-written LoRALinear's A and B beside its frozen base Linear)
            # is a layer too, read by its own parameters: the line accounts for every one
            layers = [x for x in sub[1:] if x.params and (x.name in holders or not any(
                by_name[c].params for c in children.get(x.name, [])))]
            if len(layers) < 4:
                return None
            # the mode is said where something moved, or where the layers ran in different modes
            moved = any(x.params_changed or x.buffers_changed for x in sub) or len({x.mode for x in layers}) > 1
            seen: dict[tuple[str, str], tuple] = {}  # (class, attribute name) -> how it reads
            groups: dict[tuple[str, str], dict[tuple, list[str]]] = {}  # (class, own) -> how it reads -> roles
            for x in layers:
                path = x.name.split(".")
                key = (x.type, path[-1])
                status, changed = _own_status(holders[x.name]) if x.name in holders else (x.status, x.params_changed)
                sig = (status, x.mode if moved else "", "unchanged" if status == "trainable" and not changed else "")
                if seen.setdefault(key, sig) != sig:
                    return None
                # a role is the attribute name; an adapter's key or an index names its holder's
                role = path[-2] if len(path) > 1 and (path[-1].isdigit() or path[-1] == "default") else path[-1]
                own = ", ".join(r.name.rpartition(".")[2] for r in holders[x.name]) if x.name in holders else ""
                groups.setdefault((x.type, own), {}).setdefault(sig, []).append(role)
            parts = []
            for (t, own), by_sig in groups.items():
                if len(by_sig) > 1 and min(len(roles) for roles in by_sig.values()) < 2:
                    return None  # a class split with a lone layer (conv1 frozen, conv2 trained): nothing repeats
                for sig, roles in by_sig.items():
                    # one class in two roles (LoRA's frozen base_layer and trained lora_A): say which
                    named = "" if len(by_sig) == 1 else ": " + ", ".join(dict.fromkeys(roles))
                    mine = f"{'; ' if named else ', '}own {own}" if own else ""
                    parts.append((f"{t} ({len(roles)}{named}{mine})", sig))
            if len(parts) > 4:
                return None
            # alike kind by kind, or, where a class reads two ways, kind and name by kind and name
            alike = "kind" if len(parts) == len(groups) else "kind and name"
            return f"{len(layers)} layers alike by {alike}: " + "; ".join(
                " ".join([what, ", ".join(x for x in sig if x)]) for what, sig in parts)

        def add(node, name: str, shown: str | None = None) -> None:
            m = by_name[name]
            if not self.verbose and not (m.params or m.buffers) and not interesting(name):
                return  # holds nothing to freeze (activations, dropout, empty adapter dicts)
            sub = subtree(name)
            # modules without parameters (FrozenBatchNorm2d's buffers) take any status: only their mode counts
            sigs = {signature(x) for x in sub if x.params}
            modes = {x.mode for x in sub if x.params or x.buffers}
            if not any(x.params_changed or x.buffers_changed for x in sub):
                # nothing in it moved (a frozen backbone, its BatchNorm in eval): which part ran in
                # which mode tells nothing more, and would spell out every block
                sigs, modes = {sig[0::2] for sig in sigs}, set()
            # within a uniform subtree, parameters changed everywhere or nowhere; buffer counts add up
            changed = {x.params_changed == x.params for x in sub if x.params} | \
                      {x.params_changed > 0 for x in sub if x.params}
            if (not self.verbose and len(sub) > 1 and len(sigs) <= 1 and len(modes) <= 1 and len(changed) <= 1
                    and not interesting(name)):
                node.add(label(name, sub, shown, run=shown is not None))
                return
            kinds = None if self.verbose or interesting(name) else by_kind(name, sub)
            if kinds:
                node.add(label(name, None, shown, run=shown is not None) + f" · [dim]{kinds}[/dim]")
                return
            branch = node.add(label(name, None, shown, run=shown is not None))
            for run in runs(children.get(name, [])):
                if len(run) == 1:
                    add(branch, run[0])
                else:
                    first, last = run[0], run[-1].rpartition(".")[2]
                    add(branch, first, f"{first}-{last} (x{len(run)})")

        root = Tree(label("", None) if "" in by_name else "(model)")
        for run in runs(children.get("", [])):
            add(root, run[0], None if len(run) == 1 else f"{run[0]}-{run[-1]} (x{len(run)})")
        return root

    def render_text(self, color: bool = False, width: int | None = None) -> str:
        """The report as text; never cut to a width unless one is given."""
        from rich.console import Console

        buf = io.StringIO()
        console = Console(file=buf, force_terminal=color, no_color=not color, width=width or 100_000,
                          highlight=False, soft_wrap=True)
        for r in self._renderables():
            console.print(r)
        return "\n".join(line.rstrip() for line in buf.getvalue().split("\n"))

    def __str__(self) -> str:
        return self.render_text()
