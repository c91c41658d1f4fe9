"""FZ301's advice and its "when ..." for an optimizer built before the freeze: a filter on requires_grad
where the optimizer stands would keep every parameter, so the message says to build it after the freeze;
the same part frozen in both arms of an `if` (a fresh run and a resumed one) is frozen on every path, and
freezes under different conditions are not named by one of them."""

from __future__ import annotations

import textwrap

import pytest

from freezelint import codes
from freezelint.check.engine import check_text

ALL_STATIC = frozenset(c for c, i in codes.CATALOGUE.items() if i.static)


def _fz301(src: str) -> list:
    return [d for d in check_text(textwrap.dedent(src), "ex.py", ALL_STATIC, force=True).diagnostics
            if d.code == "FZ301"]


# a segmentation fine-tune: the optimizer first, then the encoder frozen on either path of a resume
RESUMED = """
import os
import torch


def freeze_layers(model, names):
    for n, p in model.named_parameters():
        if any(k in n for k in names):
            p.requires_grad = False


def continue_training(model, loader, ckpt, names):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, amsgrad=True)
    if not os.path.exists(ckpt):
        start = 1
        {first}
    else:
        state = torch.load(ckpt)
        optimizer.load_state_dict(state["optim"])
        start = state["epoch"] + 1
        {second}
    for epoch in range(start, 10):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            model(x).sum().backward()
            optimizer.step()
"""


@pytest.mark.parametrize("first, second, said", [
    # the same freeze in both arms: on every path
    ("freeze_layers(model, names)", "freeze_layers(model, names)", " in this scope: "),
    # in one arm only: that arm's condition
    ("freeze_layers(model, names)", "pass", " in this scope (when `os.path.exists(ckpt)` is false): "),
    ("pass", "freeze_layers(model, names)", " in this scope (when `os.path.exists(ckpt)` is true): "),
])
def test_a_freeze_in_both_arms_of_an_if_happens_on_every_path(first, second, said):
    found = _fz301(RESUMED.format(first=first, second=second))
    assert len(found) == 1 and said in found[0].message


def test_a_freeze_after_the_optimizer_asks_for_the_optimizer_after_it():
    found = _fz301(RESUMED.format(first="freeze_layers(model, names)", second="freeze_layers(model, names)"))
    assert found[0].message.endswith("build the optimizer after the freeze and filter on requires_grad")
    assert found[0].fix is None  # a filter where the optimizer stands would keep every parameter


def test_a_freeze_before_the_optimizer_keeps_the_filter_advice():
    src = """
    import torch
    import torchvision

    model = torchvision.models.resnet18()
    for p in model.layer1.parameters():
        p.requires_grad = False
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    """
    found = _fz301(src)
    assert len(found) == 1 and found[0].message.endswith("moving \"frozen\" weights; filter on requires_grad")
    assert found[0].fix is not None


# AnimeGAN's layout: the optimizers first, then the first layers frozen when one of two resume modes asks
ANIME = """
import torch


def main(args, G):
    optimizer_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    if args.resume == "GD":
        {gd}
    elif args.resume == "G":
        {g}
    for img in args.loader:
        optimizer_g.zero_grad()
        G(img).mean().backward()
        optimizer_g.step()
"""
FREEZE = "for p in G.head.parameters():\n            p.requires_grad = False"


@pytest.mark.parametrize("gd, g, said", [
    (FREEZE, FREEZE, "(on some paths only)"),  # two conditions, neither says when alone
    (FREEZE, "pass", "(when `args.resume == \"GD\"` is true)"),
])
def test_freezes_under_different_conditions_are_on_some_paths_only(gd, g, said):
    found = _fz301(ANIME.format(gd=gd, g=g))
    assert len(found) == 1 and said in found[0].message
