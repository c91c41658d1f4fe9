"""FZ506's causes and advice say `it` for one parameter and `them` for several, per cause, in
audit() and watch() alike."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import freezelint  # noqa: E402
from freezelint import audit  # noqa: E402


def two_linears() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))


def fz506(report) -> list[tuple[str, str]]:
    return [(f.message, f.advice) for f in report.findings if f.code == "FZ506"]


def test_one_trainable_parameter_expected_frozen_is_it_several_are_them():
    model = two_linears()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    report = audit(model, opt, batch=torch.randn(2, 4), expect_frozen=["0.weight", "1"])
    assert fz506(report) == [
        ("expected frozen, but 0.weight is trainable or changed: it is trainable (requires_grad=True)",
         "freeze it with requires_grad_(False)"),
        ("expected frozen, but 1.weight, 1.bias are trainable or changed: all 2 are trainable "
         "(requires_grad=True)", "freeze them with requires_grad_(False)")], report.render_text()


def test_the_watch_words_each_cause_by_how_many_it_holds():
    # model[1]: its weight frozen and in no group, its bias trainable and in no group
    model = two_linears()
    model[1].weight.requires_grad_(False)
    opt = torch.optim.SGD(model[0].parameters(), lr=0.1)
    with freezelint.watch(expect_trainable=["1"]) as w:
        for _ in range(2):
            model(torch.randn(2, 4)).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
    assert fz506(w.report) == [
        ("expected to train, but 1.weight, 1.bias did not change: 1 is frozen (requires_grad=False), 1 is in no "
         "param group of the optimizer", "unfreeze it with requires_grad_(True) and give it to the optimizer; add it "
         "to the optimizer (add_param_group, or build it after unfreezing)")], w.report.render_text()


def test_two_tied_parameters_named_both_ways_are_each_one_tensor():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4), nn.Linear(4, 4))
    model[2].weight, model[2].bias = model[1].weight, model[1].bias
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    report = audit(model, opt, batch=torch.randn(2, 4), expect_frozen=["1"], expect_trainable=["2"])
    assert [m for m, _ in fz506(report)] == [
        "expect_frozen 1 and expect_trainable 2 both name 1.weight (also 2.weight), 1.bias (also 2.bias): each is one "
        "tensor under several names (tied weights), so none of them can be both frozen and trained"], report.render_text()
