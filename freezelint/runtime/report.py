"""What the audit saw: findings, per-parameter/buffer/module records, and their renderings."""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass, field
from typing import Any

from freezelint import codes


@dataclass
class AuditFinding:
    code: str
    target: str  # parameter, module, buffer, param group or pattern
    message: str  # what was observed
    advice: str  # what to do

    @property
    def name(self) -> str:
        return codes.get(self.code).name

    @property
    def severity(self) -> str:
        return codes.get(self.code).severity

    def __str__(self) -> str:
        return f"{self.code} {self.name} [{self.target}]: {self.message}. {self.advice}"


@dataclass
class ParamRecord:
    name: str
    module: str
    shape: tuple[int, ...]
    dtype: str
    requires_grad: bool
    group: int | None  # index of its param group, None when in no group
    changed: bool = False
    max_abs_delta: float | None = None
    grad: str = "none"  # at the last step: "none", "zero" or "nonzero"
    has_state: bool = False  # optimizer state after the steps


@dataclass
class BufferRecord:
    name: str
    module: str
    changed: bool = False
    max_abs_delta: float | None = None


@dataclass
class ModuleRecord:
    name: str
    type: str
    status: str  # "trainable", "frozen", "partly frozen", "no params"
    mode: str  # "train" or "eval", before the audit
    params: int = 0
    params_changed: int = 0
    buffers: int = 0
    buffers_changed: int = 0
    optimizer: str = "-"  # "all", "some", "none", "-" (no trainable params)


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
    set_to_none: bool
    restored: bool = True
    unrestored: list[str] = field(default_factory=list)
    extra_bytes: int = 0  # bytes the audit held beyond the model: copies for restore, fingerprint scratch
    # (the largest rank's when world_size > 1; each rank's in extra_bytes_per_rank)
    world_size: int = 1  # ranks in the process group; the same report on each of them
    backend: str | None = None  # torch.distributed backend when world_size > 1
    ddp: bool = False  # steps ran through a DistributedDataParallel wrapper
    grad_sync: bool | None = None  # DDP all-reduced gradients in the steps (False: under no_sync())
    sharding: str | None = None  # "FSDP2" or "FSDP1": parameters are sharded across the ranks
    extra_bytes_per_rank: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def raise_for_findings(self) -> "AuditReport":
        if self.findings:
            raise FreezeAuditError(self)
        return self

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ok"] = self.ok
        for f, src in zip(d["findings"], self.findings):
            f["name"], f["severity"], f["url"] = src.name, src.severity, codes.get(src.code).url
        for p in d["params"]:
            p["shape"] = list(p["shape"])
        return d

    # ------------------------------------------------------------------ rendering
    def __rich_console__(self, console, options):
        yield from self._renderables()

    def _renderables(self):
        from rich.text import Text

        head = Text()
        verdict = ("OK" if self.ok else f"{len(self.findings)} finding{'s' if len(self.findings) != 1 else ''}")
        head.append(f"freeze audit: {verdict}", style="bold green" if self.ok else "bold red")
        head.append(f" — {self.steps} step{'s' if self.steps != 1 else ''} on {self.device}, "
                    f"{self.optimizer}, zero_grad(set_to_none={self.set_to_none})")
        if self.world_size > 1:
            how = ("DDP, gradients all-reduced" if self.grad_sync else "DDP under no_sync()") if self.ddp else \
                f"{self.sharding}, parameters sharded" if self.sharding else "no DDP wrapper"
            head.append(f", {self.world_size} ranks ({self.backend}, {how}); module tree from rank 0")
        yield head
        for f in self.findings:
            line = Text("  ")
            line.append(f.code, style="bold red" if f.severity == codes.ERROR else "bold yellow")
            line.append(f" {f.name} ", style="bold")
            line.append(f"[{f.target}] ", style="cyan")
            line.append(f"{f.message}. ")
            line.append(f.advice, style="italic")
            yield line
        yield self.tree()
        if not self.restored:
            yield Text(f"  could not restore: {', '.join(self.unrestored)} (use exact=True)", style="bold red")

    def tree(self):
        """The module tree; subtrees whose modules all look the same are collapsed to one line."""
        from rich.tree import Tree

        by_name = {m.name: m for m in self.modules}
        children: dict[str, list[str]] = {}
        for m in self.modules:
            if m.name:
                parent = m.name.rpartition(".")[0]
                children.setdefault(parent, []).append(m.name)
        flagged = {f.target.split(":")[0] for f in self.findings}

        def subtree(name: str) -> list[ModuleRecord]:
            out = [by_name[name]]
            for c in children.get(name, []):
                out.extend(subtree(c))
            return out

        def interesting(name: str) -> bool:
            return any(n == name or n.startswith(name + ".") for n in flagged)

        def label(name: str, collapsed: list[ModuleRecord] | None) -> str:
            m = by_name[name]
            # a module's counts already cover everything below it
            params, pch, bufs, bch = m.params, m.params_changed, m.buffers, m.buffers_changed
            status = m.status
            style = {"trainable": "green", "frozen": "blue", "partly frozen": "yellow"}.get(status, "dim")
            parts = [f"[bold]{name or '(model)'}[/bold] {m.type}", f"[{style}]{status}[/{style}]", m.mode]
            if params:
                parts.append(f"params changed {pch}/{params}")
            if bufs:
                parts.append(f"buffers changed {bch}/{bufs}")
            if m.optimizer != "-":
                parts.append(f"optimizer: {m.optimizer}")
            if collapsed and len(collapsed) > 1:
                parts.append(f"[dim]({len(collapsed) - 1} submodules alike)[/dim]")
            if name in flagged:
                parts.append("[bold red]◀[/bold red]")
            return " · ".join(parts)

        def signature(m: ModuleRecord) -> tuple:
            return (m.status if m.status != "no params" else None, m.mode, m.optimizer if m.optimizer != "-" else None)

        def add(node, name: str) -> None:
            sub = subtree(name)
            sigs = {signature(x) for x in sub if x.params or x.buffers}
            # within a uniform subtree, parameters changed everywhere or nowhere; buffer counts add up
            changed = {x.params_changed == x.params for x in sub if x.params} | \
                      {x.params_changed > 0 for x in sub if x.params}
            if len(sub) > 1 and len(sigs) <= 1 and len(changed) <= 1 and not interesting(name):
                node.add(label(name, sub))
                return
            branch = node.add(label(name, None))
            for c in children.get(name, []):
                add(branch, c)

        root = Tree(label("", None) if "" in by_name else "(model)")
        for c in children.get("", []):
            add(root, c)
        return root

    def render_text(self, color: bool = False, width: int = 160) -> str:
        from rich.console import Console

        buf = io.StringIO()
        console = Console(file=buf, force_terminal=color, no_color=not color, width=width, highlight=False,
                          soft_wrap=True)
        for r in self._renderables():
            console.print(r)
        return buf.getvalue()

    def __str__(self) -> str:
        return self.render_text()
