"""tree.walk lists what torch's named_modules/named_parameters/named_buffers list, and the
module records added up the tree equal those united from sets of ids."""

from __future__ import annotations

import random

import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")
from torch import nn  # noqa: E402

from freezelint.runtime import runner  # noqa: E402
from freezelint.runtime.report import BufferRecord, ParamRecord  # noqa: E402
from freezelint.runtime.tree import _tied, walk  # noqa: E402


def _torch_lists(m: nn.Module):
    return list(m.named_modules()), list(m.named_parameters()), list(m.named_buffers())


def _same(got, want) -> None:
    for g, w in zip(got[:3], want):
        assert [n for n, _ in g] == [n for n, _ in w]
        assert all(a is b for (_, a), (_, b) in zip(g, w))
    assert [len(g) for g in got[:3]] == [len(w) for w in want]


def test_walk_names_every_name_of_a_tied_parameter():
    m = nn.Sequential(Tied(), nn.Linear(2, 2))
    tree = walk(m)
    block = m[0].block  # also reachable as `again`: its parameters have both names
    assert tree.tied == {id(m[0].emb.weight): ["0.emb.weight", "0.head.weight"],
                         id(block[0].weight): ["0.block.0.weight", "0.again.0.weight"],
                         id(block[0].bias): ["0.block.0.bias", "0.again.0.bias"],
                         id(block[1].weight): ["0.block.1.weight", "0.again.1.weight"],
                         id(block[1].bias): ["0.block.1.bias", "0.again.1.bias"]}
    assert tree.tied == _tied(m)  # as torch's own listing gives them (the fallback path)
    lm = nn.Sequential(nn.Embedding(5, 2), nn.Linear(2, 5))
    lm[1].weight = lm[0].weight
    listed_by_torch = nn.Sequential(Renamed(), lm)  # the fallback path: torch's own listing
    assert walk(listed_by_torch).tied == {id(lm[0].weight): ["1.0.weight", "1.1.weight"]}
    assert not walk(torchvision.models.resnet18(weights=None)).tied


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 4)
        self.head = nn.Linear(4, 10, bias=False)
        self.head.weight = self.emb.weight  # one tensor, two names: listed once
        self.block = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
        self.again = self.block  # one module under two names: walked once
        self.register_buffer("gone", None)  # None entries are skipped
        self.register_parameter("absent", None)
        self.register_buffer("scratch", torch.zeros(2), persistent=False)
        self.add_module("empty", None)


class Renamed(nn.Module):
    """Lists its parameters under names of its own: walked by torch itself."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 2)

    def named_parameters(self, *args, **kwargs):
        for n, p in super().named_parameters(*args, **kwargs):
            yield "renamed." + n, p


@pytest.mark.parametrize("build", [
    lambda: torchvision.models.resnet18(weights=None),
    lambda: torchvision.models.mobilenet_v3_small(weights=None),
    lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), 2, enable_nested_tensor=False),
    Tied,
    lambda: nn.Sequential(Tied(), nn.ModuleDict({"a": nn.Linear(2, 2), "b": nn.ModuleList([nn.ReLU()])})),
], ids=["resnet18", "mobilenet", "transformer", "tied", "nested"])
def test_walk_lists_what_torch_lists(build):
    m = build()
    _same(walk(m), _torch_lists(m))


def test_a_class_that_lists_its_members_its_own_way_is_listed_by_torch():
    m = nn.Sequential(Renamed(), nn.Linear(2, 2))
    tree = walk(m)
    _same(tree, _torch_lists(m))
    outer = Renamed()
    assert [n for n, _ in walk(outer).params] == ["renamed.lin.weight", "renamed.lin.bias"]


def _records(model: nn.Module, seed: int):
    rng = random.Random(seed)
    named = list(model.named_parameters())
    params = {id(p): ParamRecord(n, n.rpartition(".")[0], tuple(p.shape), "float32", rng.random() < 0.5,
                                 rng.choice([0, None]), rng.random() < 0.5) for n, p in named}
    buffers = [BufferRecord(n, n.rpartition(".")[0], rng.random() < 0.5) for n, _ in model.named_buffers()]
    modules = list(model.named_modules())
    modes = {n: rng.random() < 0.5 for n, _ in modules}
    return modules, params, buffers, modes


def _by_sets(modules, params, buffers, modes, monkeypatch):
    with monkeypatch.context() as mp:
        mp.setattr(runner, "_counted_records", lambda *a: None)
        return runner._module_records(modules, params, buffers, modes)


@pytest.mark.parametrize("seed", range(3))
def test_module_records_added_up_equal_those_from_sets(seed, monkeypatch):
    model = torchvision.models.resnet18(weights=None)
    args = _records(model, seed)
    counted = runner._counted_records(*args)
    assert counted is not None
    assert counted == _by_sets(*args, monkeypatch)
    assert counted[0].params == len(args[1]) and counted[0].buffers == len(args[2])


def test_tied_parameters_are_counted_once_per_module_by_the_sets(monkeypatch):
    model = nn.Sequential(Tied())
    args = _records(model, 0)
    assert runner._counted_records(*args) is None  # a tensor two modules hold: not added up
    records = {r.name: r for r in runner._module_records(*args)}
    assert records[""].params == len(args[1])  # the tied weight once at the top
    assert records == {r.name: r for r in _by_sets(*args, monkeypatch)}
