"""An optimizer built through a name that holds one of several optimizer classes (diffusers'
`optimizer_class = bnb.optim.AdamW8bit` / `torch.optim.AdamW` in the arms of an `if`, the same as a
conditional expression, `getattr(torch.optim, name)`): an optimizer build for FZ301-FZ303, through
the text gates too, and stateful only where every class it may be is."""

from __future__ import annotations

import textwrap

import pytest
from conftest import write

from freezelint import codes
from freezelint.check.engine import check_text

ALL_STATIC = frozenset(c for c, i in codes.CATALOGUE.items() if i.static)

IF_ARMS = """
    if args.use_8bit_adam:
        import bitsandbytes as bnb

        optimizer_class = bnb.optim.AdamW8bit
    else:
        optimizer_class = torch.optim.AdamW
"""
IF_EXP = "    optimizer_class = bnb.optim.AdamW8bit if args.use_8bit_adam else torch.optim.AdamW\n"

FREEZE_AFTER = """
import bitsandbytes as bnb
import torch


def main(args, unet, loader):
{choice}    optimizer = optimizer_class(unet.parameters(), lr=args.lr{kw})
    unet.conv_in.requires_grad_(False)
    train(unet, optimizer, loader)
"""


def _found(src: str, code: str) -> list[tuple[int, str]]:
    """The rule's findings, the file prefiltered as a run does: the same as with every rule forced."""
    src = textwrap.dedent(src)
    got = [(d.row, d.message) for d in check_text(src, "train.py", ALL_STATIC).diagnostics if d.code == code]
    forced = check_text(src, "train.py", ALL_STATIC, force=True).diagnostics
    assert got == [(d.row, d.message) for d in forced if d.code == code]
    return got


def _row(src: str, text: str) -> int:
    return next(i for i, line in enumerate(textwrap.dedent(src).splitlines(), 1) if text in line)


@pytest.mark.parametrize("choice", [IF_ARMS, IF_EXP], ids=["if arms", "if expression"])
def test_fz301_a_freeze_after_a_chosen_class_took_every_parameter(choice):
    src = FREEZE_AFTER.format(choice=choice, kw="")
    got = _found(src, "FZ301")
    assert [r for r, _ in got] == [_row(src, "optimizer = optimizer_class(")]
    # both classes named, and the default both share
    assert got[0][1].startswith("AdamW8bit or AdamW gets every parameter of `unet`")
    assert "AdamW8bit's and AdamW's default weight_decay=0.01" in got[0][1]


def test_fz301_the_call_s_weight_decay_is_the_reason_for_either_class():
    src = FREEZE_AFTER.format(choice=IF_ARMS, kw=", weight_decay=args.adam_weight_decay")
    (_, msg), = _found(src, "FZ301")
    assert "applied through weight_decay=args.adam_weight_decay," in msg


@pytest.mark.parametrize("choice, kw", [
    # one class may be a plain SGD: which one runs is not known
    ("    optimizer_class = torch.optim.SGD if args.sgd else torch.optim.AdamW\n", ""),
    ("    if args.sgd:\n        optimizer_class = torch.optim.SGD\n    else:\n        optimizer_class = torch.optim.Adam\n", ""),
    # a torch.optim class by a setting's name, without momentum or weight decay
    ("    optimizer_class = getattr(torch.optim, args.optimizer)\n", ""),
    # something else than an optimizer class in one arm, or bound to the name elsewhere
    ("    optimizer_class = bnb.optim.AdamW8bit if args.use_8bit_adam else make_optimizer\n", ""),
    (IF_EXP + "    if args.custom:\n        optimizer_class = CustomOptimizer\n", ""),
    # torch.optim's scheduler module is no optimizer
    ("    optimizer_class = torch.optim.lr_scheduler.LambdaLR\n", ""),
])
def test_fz301_silent_where_the_class_may_be_stateless_or_unknown(choice, kw):
    assert _found(FREEZE_AFTER.format(choice=choice, kw=kw), "FZ301") == []


def test_fz301_a_class_picked_by_name_with_weight_decay():
    src = FREEZE_AFTER.format(choice="    optimizer_class = getattr(torch.optim, args.optimizer)\n",
                              kw=", weight_decay=args.wd")
    (row, msg), = _found(src, "FZ301")
    assert msg.startswith("a torch.optim class picked by name gets every parameter of `unet`")
    direct = src.replace("optimizer_class(unet", "getattr(torch.optim, args.optimizer)(unet")
    assert [r for r, _ in _found(direct, "FZ301")] == [row]


def test_fz301_filtered_parameters_are_silent():
    src = FREEZE_AFTER.format(choice=IF_EXP, kw="").replace(
        "optimizer_class(unet.parameters()", "optimizer_class([p for p in unet.parameters() if p.requires_grad]")
    src = src.replace("    unet.conv_in.requires_grad_(False)\n", "").replace(
        "def main(args, unet, loader):\n", "def main(args, unet, loader):\n    unet.conv_in.requires_grad_(False)\n")
    assert "unet.conv_in.requires_grad_(False)\n    optimizer_class =" in src
    assert _found(src, "FZ301") == []


def test_bitsandbytes_called_directly_is_an_optimizer_with_its_defaults():
    src = """
    import bitsandbytes as bnb

    model.encoder.requires_grad_(False)
    opt = bnb.optim.PagedAdamW8bit(model.parameters(), lr=1e-4)
    opt2 = bnb.optim.Adam8bit(model.parameters(), lr=1e-4)
    """
    got = _found(src, "FZ301")
    assert [r for r, _ in got] == [_row(src, "opt = "), _row(src, "opt2 = ")]
    assert "PagedAdamW8bit's default weight_decay=0.01" in got[0][1]
    assert "Adam8bit's moving averages" in got[1][1]


def test_fz303_an_unfreeze_after_a_filtered_build_through_a_chosen_class():
    src = """
    import bitsandbytes as bnb
    import torch

    def main(args, model, loader):
        model.backbone.requires_grad_(False)
        if args.use_8bit_adam:
            optimizer_class = bnb.optim.AdamW8bit
        else:
            optimizer_class = torch.optim.AdamW
        optimizer = optimizer_class(filter(lambda p: p.requires_grad, model.parameters()), lr=args.lr)
        for epoch in range(args.epochs):
            if epoch == args.unfreeze_at:
                model.backbone.requires_grad_(True)
            train_one_epoch(model, optimizer, loader)
    """
    assert [r for r, _ in _found(src, "FZ303")] == [_row(src, "model.backbone.requires_grad_(True)")]
    grouped = src.replace("model.backbone.requires_grad_(True)\n",
                          "model.backbone.requires_grad_(True)\n"
                          "            optimizer.add_param_group({'params': model.backbone.parameters()})\n")
    assert _found(grouped, "FZ303") == []


def test_fz302_a_layer_replaced_after_a_build_through_a_chosen_class():
    src = """
    import bitsandbytes as bnb
    import torch
    import torch.nn as nn

    def main(args, model, loader):
        optimizer_class = bnb.optim.AdamW8bit if args.use_8bit_adam else torch.optim.AdamW
        optimizer = optimizer_class(model.parameters(), lr=args.lr)
        model.head = nn.Linear(768, args.num_classes)
        train(model, optimizer, loader)
    """
    assert [r for r, _ in _found(src, "FZ302")] == [_row(src, "model.head = ")]


def test_a_helper_of_another_file_builds_through_a_chosen_class(tmp_path, cli):
    """The builder's file holds no optimizer call and no freeze: its summary still records the build."""
    write(tmp_path / "builder.py", """
        import torch


        def build_optimizer(model, args):
            if args.use_8bit_adam:
                import bitsandbytes as bnb

                optimizer_class = bnb.optim.AdamW8bit
            else:
                optimizer_class = torch.optim.AdamW
            return optimizer_class(model.parameters(), lr=args.lr)
        """)
    write(tmp_path / "train.py", """
        from builder import build_optimizer


        def main(args, model):
            model.encoder.requires_grad_(False)
            optimizer = build_optimizer(model, args)
        """)
    r = cli(tmp_path, "check", "--no-cache", "--select", "FZ301", "--format", "concise", ".")
    assert "train.py:6:" in r.out and "AdamW8bit or AdamW (built by `build_optimizer(...)`)" in r.out


def test_transformers_optimizers_keep_their_own_defaults():
    src = """
    from transformers import Adafactor, AdamW

    model.encoder.requires_grad_(False)
    opt = AdamW(model.parameters(), lr=1e-4)  # weight_decay 0.0 by default, but moving averages
    opt2 = Adafactor(model.parameters(), lr=1e-3, relative_step=False)  # no first moment, no decay
    opt3 = Adafactor(model.parameters(), lr=1e-3, relative_step=False, weight_decay=0.01)
    """
    got = _found(src, "FZ301")
    assert [r for r, _ in got] == [_row(src, "opt = "), _row(src, "opt3 = ")]
    assert "through AdamW's moving averages," in got[0][1]
    assert "through weight_decay=0.01," in got[1][1]


BARE = {
    "bare names": "from bitsandbytes.optim import AdamW8bit\nfrom torch.optim import AdamW\n\n\n"
                  "def main(args, unet, loader):\n"
                  "    optimizer_class = AdamW8bit if args.use_8bit_adam else AdamW\n"
                  "    optimizer = optimizer_class(unet.parameters(), lr=args.lr)\n",
    "prodigy": "from prodigyopt import Prodigy\n\n\ndef main(args, unet, loader):\n"
               "    optimizer = Prodigy(unet.parameters(), lr=1.0)\n",
}


@pytest.mark.parametrize("build", BARE.values(), ids=BARE.keys())
def test_fz301_a_class_imported_by_its_bare_name_passes_the_gate(build):
    """The text gate admits a file whose optimizer classes are imported by bare name (the flow layer
    reads them through the imports): the finding is the one a forced run makes."""
    src = build + "    unet.conv_in.requires_grad_(False)\n    train(unet, optimizer, loader)\n"
    got = _found(src, "FZ301")
    assert [r for r, _ in got] == [_row(src, "optimizer = ")], got
