"""A GAN's toggle in source: D frozen for G's step and unfrozen again for its own is no freeze
(FZ301/FZ202 silent); unfreezing only a part of D again is FZ301 with the toggle's own advice, and
torch shows the rest of D never training after the first iteration."""

from __future__ import annotations

import textwrap

import pytest

from freezelint.check.engine import check_source

LOOP = textwrap.dedent("""
    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    G = nn.Sequential(nn.Linear(4, 8))
    D = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8), nn.Linear(8, 1))
    optG = torch.optim.Adam(G.parameters(), lr=1e-2)
    optD = torch.optim.Adam(D.parameters(), lr=1e-2)
    history = []
    for _ in range(4):
        UNFREEZE
        fake = G(torch.randn(4, 4))
        lossD = D(torch.randn(4, 8)).mean() - D(fake.detach()).mean()
        optD.zero_grad()
        lossD.backward()
        optD.step()
        history.append(D[2].weight.detach().clone())
        D.requires_grad_(False)
        lossG = -D(fake).mean()
        optG.zero_grad()
        lossG.backward()
        optG.step()
""")


def test_the_whole_toggle_is_silent_and_the_partial_one_is_fz301():
    assert check_source(LOOP.replace("UNFREEZE", "D.requires_grad_(True)"), "train.py") == []
    [d] = check_source(LOOP.replace("UNFREEZE", "D[0].requires_grad_(True)"), "train.py")
    assert d.code == "FZ301" and d.row == 9 and d.fix is None
    assert d.message == ("Adam gets every parameter of `D`, and the loop freezes `D` but unfreezes only `D[0]` "
                         "again: the rest stays frozen at this optimizer's later steps and never trains again, while "
                         "any stale or zero grad on it is applied through Adam's moving averages; unfreeze all of "
                         "`D` again before this optimizer's step (`D.requires_grad_(True)`)")


def test_torch_shows_the_rest_of_d_stops_training_after_the_first_iteration():
    pytest.importorskip("torch")
    import torch

    partial: dict = {}
    exec(compile(LOOP.replace("UNFREEZE", "D[0].requires_grad_(True)"), "train.py", "exec"), partial)
    h = partial["history"]
    assert all(torch.equal(h[1], x) for x in h[2:])  # D[2] frozen at every later step of its own optimizer
    whole: dict = {}
    exec(compile(LOOP.replace("UNFREEZE", "D.requires_grad_(True)"), "train.py", "exec"), whole)
    h = whole["history"]
    assert not any(torch.equal(a, b) for a, b in zip(h, h[1:]))
