"""FZ302 for a module rebuilt under its name after the optimizer took its parameters (DoodlePix's
`fidelity_mlp = FidelityMLP(...)` again before the epoch loop): the static twin of the run-time
FZ302 (a trainable module in no param group). Each near-miss keeps the parameters the optimizer
holds, gives it the new ones, or never trains the new module with it."""

from __future__ import annotations

import textwrap

import pytest

from freezelint import codes
from freezelint.check.engine import check_text

ALL_STATIC = frozenset(c for c, i in codes.CATALOGUE.items() if i.static)

HEAD = """
import copy
import torch
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP


class MLP(nn.Module):
    def __init__(self, dim=8):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(1, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, f):
        return self.net(f)

"""

LOOP = """
for x, f in loader:
    loss = (backbone(x) + mlp(f)).pow(2).mean()
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
"""


def _module_level(middle: str, loop: str = LOOP) -> str:
    return HEAD + textwrap.dedent("""
    backbone = nn.Linear(8, 8)
    mlp = MLP()
    optimizer = torch.optim.AdamW([{"params": backbone.parameters()}, {"params": mlp.parameters()}], lr=1e-3)
    """) + textwrap.dedent(middle) + textwrap.dedent(loop)


def _found(src: str) -> list[tuple[int, str]]:
    diags = check_text(src, "train.py", ALL_STATIC).diagnostics  # prefiltered, as a run is
    forced = check_text(src, "train.py", ALL_STATIC, force=True).diagnostics
    got = [(d.row, d.message) for d in diags if d.code == "FZ302"]
    assert got == [(d.row, d.message) for d in forced if d.code == "FZ302"]
    return got


def _row(src: str, text: str) -> int:
    """The last line holding `text` (a rebinding repeats the first binding's text)."""
    return [i for i, line in enumerate(src.splitlines(), 1) if text in line][-1]


FIRES = {
    "plain": "mlp = MLP()\n",
    "moved": "mlp = MLP(16).to('cuda')\n",
    "prepared after": "mlp = MLP()\nmlp = accelerator.prepare(mlp)\n",
    "ddp after": "mlp = MLP()\nmlp = DDP(mlp)\n",
    "a library layer": "mlp = nn.Linear(1, 8)\n",
    "optimizer prepared": "mlp = MLP()\nmlp, optimizer = accelerator.prepare(mlp, optimizer)\n",
    "between other code": "mlp = MLP()\nloader = build_loader(cfg)\nlog('start')\n",
    # a state loaded into the new module is copied into its own Parameters
    "state loaded": "mlp = MLP()\nmlp.load_state_dict(saved_state)\n",
    "checkpoint resumed": "mlp = MLP()\nmlp.load_state_dict(torch.load(path), strict=False)\n",
    "assign=False": "mlp = MLP()\nmlp.load_state_dict(torch.load(path), assign=False)\n",
}


@pytest.mark.parametrize("middle", FIRES.values(), ids=FIRES.keys())
def test_a_module_rebuilt_after_the_optimizer_fires(middle):
    src = _module_level(middle)
    got = _found(src)
    assert [r for r, _ in got] == [_row(src, middle.splitlines()[0])]
    msg = got[0][1]
    # the variable, the line the optimizer took its parameters, the rebinding line, the step
    assert "`mlp` is bound to a new module" in msg
    assert f"(line {_row(src, 'optimizer = torch.optim.AdamW')})" in msg
    assert f"line {_row(src, middle.splitlines()[0])})" in msg
    assert f"(line {_row(src, 'mlp(f)')})" in msg


def _rows(src: str, text: str) -> list[int]:
    return [i for i, line in enumerate(src.splitlines(), 1) if text in line]


def test_the_doodlepix_shape_inside_main():
    src = HEAD + textwrap.dedent("""
    def main(args):
        accelerator = Accelerator()
        unet = load_unet(args)
        fidelity_mlp = MLP(args.dim)
        params = [{"params": unet.parameters()}, {"params": fidelity_mlp.parameters(), "lr": 1e-4}]
        optimizer = torch.optim.AdamW(params, lr=args.lr)
        unet, optimizer, loader = accelerator.prepare(unet, optimizer, args.loader)
        fidelity_mlp = MLP(args.dim)
        fidelity_mlp = accelerator.prepare(fidelity_mlp)
        for epoch in range(args.epochs):
            unet.train()
            for batch in loader:
                with accelerator.accumulate(unet):
                    emb = fidelity_mlp(batch["fidelity"])
                    loss = unet(batch["x"], emb).mean()
                    accelerator.backward(loss)
                    optimizer.step()
                    optimizer.zero_grad()
    """)
    got = _found(src)
    assert [r for r, _ in got] == _rows(src, "fidelity_mlp = MLP(args.dim)")[1:]
    assert "`fidelity_mlp`" in got[0][1] and "`optimizer`" in got[0][1]


def test_a_helper_given_the_new_module_and_the_optimizer_trains_it():
    src = _module_level("mlp = MLP()\n", loop="for epoch in range(3):\n    train_one_epoch(mlp, optimizer, loader)\n")
    assert [r for r, _ in _found(src)] == [_row(src, "mlp = MLP()")]


# the same parameters come back, the optimizer gets the new ones, or the new module is not trained
SILENT = {
    "optimizer rebuilt": "mlp = MLP()\noptimizer = torch.optim.AdamW(mlp.parameters(), lr=1e-3)\n",
    "optimizer rebuilt by a helper": "mlp = MLP()\noptimizer = make_optimizer(backbone, mlp)\n",
    "param group added": "mlp = MLP()\noptimizer.add_param_group({'params': mlp.parameters()})\n",
    "moved": "mlp = mlp.to(device)\n",
    "cuda": "mlp = mlp.cuda()\n",
    "prepared": "mlp = accelerator.prepare(mlp)\n",
    "compiled": "mlp = torch.compile(mlp)\n",
    "ddp": "mlp = DDP(mlp)\n",
    "data parallel": "mlp = nn.DataParallel(mlp)\n",
    "peft": "mlp = get_peft_model(mlp, cfg)\n",
    "copied": "mlp = copy.deepcopy(mlp)\n",
    "ema under a new name": "ema = copy.deepcopy(mlp)\n",
    "best weights restored": "best = copy.deepcopy(mlp)\nmlp = copy.deepcopy(best)\n",
    # the state's own tensors become its parameters: they may be the Parameters the optimizer holds
    "state assigned": "state = mlp.state_dict(keep_vars=True)\nmlp = MLP()\nmlp.load_state_dict(state, assign=True)\n",
    "assign positionally": "state = mlp.state_dict(keep_vars=True)\nmlp = MLP()\nmlp.load_state_dict(state, True, True)\n",
    "assign maybe passed": "mlp = MLP()\nmlp.load_state_dict(state, **load_kwargs)\n",
    "frozen": "mlp = MLP()\nmlp.requires_grad_(False)\n",
    "frozen where built": "mlp = MLP().requires_grad_(False)\n",
    "built for inference": "mlp = MLP().eval()\n",
    "no parameters": "mlp = nn.Identity()\n",
    # a module given one the optimizer holds: the parameters may be those it has
    "wraps a module in the optimizer": "mlp = Wrapper(backbone)\n",
}


@pytest.mark.parametrize("middle", SILENT.values(), ids=SILENT.keys())
def test_a_near_miss_is_silent(middle):
    assert _found(_module_level(middle)) == []


NEAR_MISSES = {
    "a branch that returns": """
    def fit(loader, only_eval):
        mlp = MLP()
        optimizer = torch.optim.AdamW(mlp.parameters(), lr=1e-3)
        if only_eval:
            mlp = MLP()
            return evaluate(mlp)
        for x, f in loader:
            mlp(f).sum().backward()
            optimizer.step()
    """,
    "another function": """
    mlp = MLP()
    optimizer = torch.optim.AdamW(mlp.parameters(), lr=1e-3)

    def fresh():
        mlp = MLP()
        return mlp

    for x, f in loader:
        mlp(f).sum().backward()
        optimizer.step()
    """,
    "k-fold": """
    for fold in range(5):
        mlp = MLP()
        optimizer = torch.optim.AdamW(mlp.parameters(), lr=1e-3)
        for x, f in loader:
            mlp(f).sum().backward()
            optimizer.step()
    """,
    "a loop over new modules": """
    for mlp in [MLP(4), MLP(8)]:
        optimizer = torch.optim.AdamW(mlp.parameters(), lr=1e-3)
        for x, f in loader:
            mlp(f).sum().backward()
            optimizer.step()
    """,
    "evaluated only": """
    mlp = MLP()
    optimizer = torch.optim.AdamW(mlp.parameters(), lr=1e-3)
    for x, f in loader:
        mlp(f).sum().backward()
        optimizer.step()
    mlp = MLP()
    with torch.no_grad():
        for x, f in loader:
            print(mlp(f))
    """,
    "a second optimizer for the new one": """
    mlp = MLP()
    optimizer = torch.optim.AdamW(mlp.parameters(), lr=1e-3)
    mlp = MLP()
    probe = torch.optim.SGD(mlp.parameters(), lr=0.1)
    for x, f in loader:
        mlp(f).sum().backward()
        probe.step()
    """,
    "the old optimizer never steps again": """
    mlp = MLP()
    optimizer = torch.optim.AdamW(mlp.parameters(), lr=1e-3)
    mlp = MLP()
    other = create_optimizer(mlp)
    for x, f in loader:
        mlp(f).sum().backward()
        other.step()
    """,
    "a DDP wrap of the same model again": """
    def fit(model, loader, rank):
        ddp = DDP(model.to(rank), device_ids=[rank])
        opt = torch.optim.SGD(ddp.parameters(), lr=0.1)
        ddp = DDP(model, device_ids=[rank])
        for x, y in loader:
            ddp(x).sum().backward()
            opt.step()
    """,
    "the optimizer's name holds another one by then": """
    mlp = MLP()
    optimizer = torch.optim.AdamW(mlp.parameters(), lr=1e-3)
    optimizer = torch.optim.SGD(head.parameters(), lr=0.1)
    mlp = MLP()
    for x, f in loader:
        head(mlp(f)).sum().backward()
        optimizer.step()
    """,
    "the best weights loaded and evaluated": """
    mlp = MLP()
    optimizer = torch.optim.AdamW(mlp.parameters(), lr=1e-3)
    for epoch in range(3):
        for x, f in loader:
            mlp(f).sum().backward()
            optimizer.step()
        torch.save(mlp.state_dict(), "best.pt")
    mlp = MLP()
    mlp.load_state_dict(torch.load("best.pt"))
    mlp.eval()
    with torch.no_grad():
        for x, f in loader:
            print(mlp(f))
    """,
    "early stopping restores the best weights and leaves the loop": """
    mlp = MLP()
    optimizer = torch.optim.AdamW(mlp.parameters(), lr=1e-3)
    for epoch in range(100):
        for x, f in loader:
            mlp(f).sum().backward()
            optimizer.step()
        if stop(epoch):
            mlp = MLP()
            mlp.load_state_dict(torch.load("best.pt"))
            break
    test(mlp)
    """,
    "loaded and given a new optimizer": """
    mlp = MLP()
    optimizer = torch.optim.AdamW(mlp.parameters(), lr=1e-3)
    mlp = MLP()
    mlp.load_state_dict(torch.load(path))
    optimizer = torch.optim.AdamW(mlp.parameters(), lr=1e-3)
    optimizer.load_state_dict(torch.load(opt_path))
    for x, f in loader:
        mlp(f).sum().backward()
        optimizer.step()
    """,
    "exclusive arms": """
    if small:
        mlp = MLP(4)
        optimizer = torch.optim.AdamW(mlp.parameters(), lr=1e-3)
    else:
        mlp = MLP(8)
        optimizer = torch.optim.SGD(mlp.parameters(), lr=0.1)
    for x, f in loader:
        mlp(f).sum().backward()
        optimizer.step()
    """,
}


@pytest.mark.parametrize("body", NEAR_MISSES.values(), ids=NEAR_MISSES.keys())
def test_a_structural_near_miss_is_silent(body):
    assert _found(HEAD + textwrap.dedent(body)) == []


def test_a_rebuild_in_a_branch_that_goes_on_fires():
    src = HEAD + textwrap.dedent("""
    def fit(loader, reinit):
        mlp = MLP()
        optimizer = torch.optim.AdamW(mlp.parameters(), lr=1e-3)
        if reinit:
            mlp = MLP()
        for x, f in loader:
            mlp(f).sum().backward()
            optimizer.step()
    """)
    assert [r for r, _ in _found(src)] == [_row(src, "mlp = MLP()")]


def test_a_checkpoint_resumed_into_a_rebuilt_module_names_the_load():
    """The resume branch builds the module again and loads its state: the old optimizer still holds
    the first module's Parameters, and the message says why the load does not help."""
    src = HEAD + textwrap.dedent("""
    def fit(loader, resume=None):
        mlp = MLP()
        optimizer = torch.optim.AdamW(mlp.parameters(), lr=1e-3)
        if resume is not None:
            ckpt = torch.load(resume)
            mlp = MLP()
            mlp.load_state_dict(ckpt["model"])
            optimizer.load_state_dict(ckpt["optimizer"])
        for epoch in range(3):
            for x, f in loader:
                mlp(f).sum().backward()
                optimizer.step()
    """)
    (row, msg), = _found(src)
    assert row == _row(src, "mlp = MLP()")
    assert f"(the state loaded into it, line {_row(src, 'mlp.load_state_dict')}, is copied into its own " \
           "Parameters, not into those `optimizer` holds)" in msg
    # a checkpoint evaluated in the loop's place, the loop going on with the old optimizer
    looped = HEAD + textwrap.dedent("""
    mlp = MLP()
    optimizer = torch.optim.AdamW(mlp.parameters(), lr=1e-3)
    for epoch in range(10):
        for x, f in loader:
            mlp(f).sum().backward()
            optimizer.step()
        if epoch % 5 == 4:
            mlp = MLP()
            mlp.load_state_dict(torch.load("best.pt"))
            evaluate(mlp)
    """)
    assert [r for r, _ in _found(looped)] == [_row(looped, "mlp = MLP()")]


def test_a_module_rebuilt_from_the_config_of_another_prepared_one():
    """`unet, fidelity_mlp, optimizer = accelerator.prepare(unet, fidelity_mlp, optimizer)`: `unet`
    there is the prepared unet alone, so a module built from `unet.config` is a new one."""
    src = HEAD + textwrap.dedent("""
    def main(args, accelerator, unet, loader):
        fidelity_mlp = MLP(args.dim)
        params = [{"params": unet.parameters()}, {"params": fidelity_mlp.parameters()}]
        optimizer = torch.optim.AdamW(params, lr=args.lr)
        unet, fidelity_mlp, optimizer, loader = accelerator.prepare(unet, fidelity_mlp, optimizer, loader)
        fidelity_mlp = MLP(unet.config.cross_attention_dim)
        fidelity_mlp.to(accelerator.device)
        fidelity_mlp = accelerator.prepare(fidelity_mlp)
        for batch in loader:
            emb = fidelity_mlp(batch["fidelity"])
            accelerator.backward(unet(batch["x"], emb).mean())
            optimizer.step()
    """)
    assert [r for r, _ in _found(src)] == [_row(src, "fidelity_mlp = MLP(unet.config")]
    # the prepared item that is the module itself still reads it: no new module
    kept = src.replace("fidelity_mlp = MLP(unet.config.cross_attention_dim)",
                       "fidelity_mlp = Adapter(fidelity_mlp)")
    assert _found(kept) == []


DIFFUSERS = """
def main(args, accelerator, unet, loader):
    unet_params = list(filter(lambda p: p.requires_grad, unet.parameters()))
    params_to_optimize = [{"params": unet_params, "lr": args.lr}]
    fidelity_mlp = None
    if args.fidelity:
        fidelity_mlp = MLP(args.dim)
        params_to_optimize.append({"params": fidelity_mlp.parameters(), "lr": args.mlp_lr})
    optimizer_cls = torch.optim.AdamW
    optimizer = optimizer_cls(params_to_optimize, weight_decay=args.wd)
    if args.fidelity:
        fidelity_mlp = MLP(unet.config.cross_attention_dim)
        fidelity_mlp = accelerator.prepare(fidelity_mlp)
    for batch in loader:
        emb = fidelity_mlp(batch["fidelity"]) if fidelity_mlp is not None else None
        accelerator.backward(unet(batch["x"], emb).mean())
        optimizer.step()
"""


def test_the_diffusers_shape_a_class_alias_and_an_appended_group():
    """DoodlePix's train_ip2p_lora: the optimizer class bound to a name (`optimizer_cls =
    torch.optim.AdamW`), the module's group appended to the list it is given."""
    src = HEAD + textwrap.dedent(DIFFUSERS)
    assert [r for r, _ in _found(src)] == [_row(src, "fidelity_mlp = MLP(unet.config")]


@pytest.mark.parametrize("alias", [
    "optimizer_cls = bnb.optim.AdamW8bit",
    "optimizer_cls = bnb.optim.AdamW8bit if args.use_8bit_adam else torch.optim.AdamW",
    "optimizer_cls = getattr(torch.optim, args.optimizer)",
    # diffusers' form: the class chosen in the arms of an if statement
    ("if args.use_8bit_adam:\n        import bitsandbytes as bnb\n\n        optimizer_cls = bnb.optim.AdamW8bit\n"
     "    else:\n        optimizer_cls = torch.optim.AdamW"),
])
def test_the_diffusers_shape_through_a_chosen_class(alias):
    """The class the name holds is one optimizer's or another's: the optimizer is built over the
    groups either way."""
    src = HEAD + textwrap.dedent(DIFFUSERS).replace("optimizer_cls = torch.optim.AdamW", alias)
    assert alias in src
    assert [r for r, _ in _found(src)] == [_row(src, "fidelity_mlp = MLP(unet.config")]


@pytest.mark.parametrize("change", [
    # the group appended after the optimizer was built, or by a loop (other objects each pass)
    ("    optimizer_cls = torch.optim.AdamW\n    optimizer = optimizer_cls(params_to_optimize, weight_decay=args.wd)\n",
     ""),
    ("        params_to_optimize.append(", "        for _ in range(1):\n            params_to_optimize.append("),
    # a class the name holds is not known to be an optimizer's
    ("optimizer_cls = torch.optim.AdamW", "optimizer_cls = pick_optimizer(args)"),
    ("optimizer_cls = torch.optim.AdamW", "optimizer_cls = bnb.optim.AdamW8bit if args.use_8bit_adam else pick(args)"),
])
def test_the_diffusers_shape_near_misses(change):
    old, new = change
    src = HEAD + textwrap.dedent(DIFFUSERS)
    if not new:  # move the optimizer before the append
        src = src.replace(old, "").replace("    fidelity_mlp = None\n", "    fidelity_mlp = None\n" + old)
    else:
        assert old in src
        src = src.replace(old, new)
    assert _found(src) == []


APPENDED = """
import torch
import torchvision

model = torchvision.models.resnet18()
model.layer1.requires_grad_(False)
params = [{"params": model.fc.parameters()}]
{before}
opt = torch.optim.AdamW(params, lr=0.1)
{after}
"""


def test_a_group_appended_before_the_optimizer_is_one_it_gets():
    """The param sources of every rule: FZ301 reads an appended group as it reads one written in
    the list; one appended after the optimizer was built is not in it."""
    append = 'params.append({"params": model.layer1.parameters(), "lr": 1e-5})'

    def fz301(src):
        return [d.row for d in check_text(src, "train.py", ALL_STATIC).diagnostics if d.code == "FZ301"]

    src = APPENDED.replace("{before}", append).replace("{after}", "")
    assert fz301(src) == [_row(src, "opt = torch.optim.AdamW")]
    assert fz301(APPENDED.replace("{before}", "").replace("{after}", append)) == []


def test_an_item_of_a_container_replaced_after_the_optimizer_is_fz302_and_torch_agrees():
    import textwrap

    from freezelint.check.engine import check_source

    src = textwrap.dedent("""
        import torch
        import torch.nn as nn

        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 10))
        model.requires_grad_(False)
        model[2].requires_grad_(True)
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
        model[4] = nn.Linear(8, 3)
        for _ in range(3):
            loss = model(torch.randn(2, 4)).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
    """)
    [d] = check_source(src, "train.py", select=["FZ302"])
    assert d.row == 9 and d.message.startswith("`model[4]` is replaced after the optimizer was built over `model`")
    # before the optimizer, a dict of heads, a plain list: silent
    moved = src.replace("model[4] = nn.Linear(8, 3)\n", "").replace(
        "model[2].requires_grad_(True)\n", "model[2].requires_grad_(True)\nmodel[4] = nn.Linear(8, 3)\n")
    assert check_source(moved, "train.py", select=["FZ302"]) == []
    others = src.replace("model[4] = nn.Linear(8, 3)", "heads = {}\nheads['a'] = nn.Linear(8, 3)\n"
                         "layers = [nn.Linear(2, 2)]\nlayers[0] = nn.Linear(2, 2)")
    assert check_source(others, "train.py", select=["FZ302"]) == []
    torch = pytest.importorskip("torch")
    ns: dict = {}
    exec(compile(src, "train.py", "exec"), ns)
    held = {id(p) for g in ns["opt"].param_groups for p in g["params"]}
    head = ns["model"][4]
    assert head.weight.requires_grad and id(head.weight) not in held  # the new head is in no group
    assert head.weight.grad is not None and torch.count_nonzero(head.weight.grad) > 0  # grads, never applied
