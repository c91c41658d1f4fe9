"""The flow layer's REBIND: a name bound to a new object between a freeze and a later use holds
none of what was frozen, for every rule that pairs the two; a rebinding that keeps
the object (`.to(dev)`, DDP, torch.compile, accelerate, peft) keeps the freeze. And `a, b = x, y`
is followed as the two assignments it is."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from freezelint import codes
from freezelint.check.engine import check_text
from freezelint.check.facts import Facts
from freezelint.check.flow import REBIND, flows_of

ALL_STATIC = frozenset(c for c, i in codes.CATALOGUE.items() if i.static)

# a new object: what the name held before is gone
FRESH = [
    "model = nn.Sequential(nn.Linear(2, 2))",
    "model = build_model(cfg)",
    "model = torchvision.models.resnet18()",
    "model = smp.UnetPlusPlus(encoder_name='resnet34').to(dev)",  # 's real shape
    "model, tokenizer = load_pretrained(path)",
    "model: nn.Module = nn.Sequential(nn.Linear(2, 2))",
]
# the same object, under another wrapper or moved
KEPT = [
    "model = model.to(dev)",
    "model = model.cuda()",
    "model = DDP(model)",
    "model = torch.compile(model)",
    "model = nn.DataParallel(model)",
    "model = accelerator.prepare(model)",
    "model, opt0 = accelerator.prepare(model, opt0)",
    "model = get_peft_model(model, cfg)",
    "wrapped = accelerator.prepare(model)\nmodel = accelerator.unwrap_model(wrapped)",
    "ddp = DDP(model)\nmodel = ddp.module.cuda()",
    "model: nn.Module = model.to(dev)",
    "model = copy.deepcopy(model)",  # a copy keeps requires_grad
]
# the other binding forms: each pass of a `for`, a `with ... as`, a walrus. Before they were
# REBINDs, each FRESH_FORMS case drew the FZ301 and FZ201 findings of the KEPT_FORMS ones: the
# freeze of the model the name held was paired with the new object
FRESH_FORMS = [
    "for model in build_models(cfg):\n    pass",
    "for model in [torchvision.models.resnet18(), torchvision.models.resnet34()]:\n    pass",
    "for i, model in enumerate(build_models(cfg)):\n    pass",
    "for name, model in sorted(build_models(cfg).items()):\n    pass",
    "for model, x in zip(build_models(cfg), xs):\n    pass",
    "for model in tqdm(build_models(cfg)):\n    pass",
    "models = [build_model(c) for c in cfgs]\nfor model in models:\n    pass",
    "with build_model(cfg) as model:\n    pass",
    "assert (model := torchvision.models.resnet18()) is not None",
]
# the same object, or items that may be it: no REBIND, the freeze holds as before
KEPT_FORMS = [
    "for model in [model]:\n    pass",
    "for model in [model.cuda()]:\n    pass",
    "for _, model in enumerate([model]):\n    pass",
    "for x, model in zip(xs, [model]):\n    pass",
    "models = [model]\nfor model in models:\n    pass",
    "models = [torchvision.models.resnet34()]\nmodels.append(model)\nfor model in models:\n    pass",
    "for model in models:\n    pass",  # items of a name this body does not bind: may be the model
    "for model in (m.cuda() for m in [model]):\n    pass",
    "for model in tqdm(models):\n    pass",  # a progress bar over items that may be the model
    "for model in itertools.chain(build_models(cfg), [model]):\n    pass",
    "for model in map(prepare, build_models(cfg)):\n    pass",  # `prepare` may return what it is given
    "with model.to(dev) as model:\n    pass",
    "assert (model := model.to(dev)) is not None",
]
HEAD = """\
import copy
import itertools
import torch
import torch.nn as nn
import torchvision
import segmentation_models_pytorch as smp
from torch.nn.parallel import DistributedDataParallel as DDP
from peft import get_peft_model
from tqdm import tqdm
"""


def _found(src: str, code: str) -> list[int]:
    src = textwrap.dedent(src)
    return [d.row for d in check_text(src, "ex.py", ALL_STATIC, force=True).diagnostics if d.code == code]


def _row(src: str, line: str) -> int:
    return next(i for i, text in enumerate(textwrap.dedent(src).splitlines(), 1) if text.strip() == line)


def _with(template: str, rebind: str) -> str:
    return HEAD + textwrap.dedent(template).replace("{rebind}", rebind)


def _rebinds(src: str) -> list[str]:
    facts = Facts.of(cst.parse_module(textwrap.dedent(src)))
    return [e.target for f in flows_of(facts).bodies for e in f.events if e.kind == REBIND]


@pytest.mark.parametrize("rebind", FRESH + FRESH_FORMS)
def test_a_new_object_is_a_rebind_event(rebind):
    assert "model" in _rebinds(HEAD + rebind + "\n")


@pytest.mark.parametrize("rebind", KEPT + KEPT_FORMS)
def test_a_rebinding_that_keeps_the_object_is_none(rebind):
    assert "model" not in _rebinds(HEAD + "model = Net()\n" + rebind + "\n")[1:]


def test_a_trainer_attribute_and_a_part_of_self():
    src = """
    class Trainer:
        def __init__(self):
            self.model = Net()
            self.model = nn.DataParallel(self.model)
            self.model.head = nn.Linear(2, 2)
    """
    assert _rebinds(src) == ["self.model"]  # the part replaced is a REPLACE, the wrapper keeps it


FZ301 = """
model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
for p in model[0].parameters():
    p.requires_grad = False
{rebind}
opt = torch.optim.Adam(model.parameters())
"""


@pytest.mark.parametrize("rebind", FRESH + FRESH_FORMS)
def test_fz301_a_new_model_holds_none_of_the_frozen_parameters(rebind):
    assert _found(_with(FZ301, rebind), "FZ301") == []


@pytest.mark.parametrize("rebind", KEPT + KEPT_FORMS)
def test_fz301_a_rebinding_that_keeps_the_model_keeps_the_freeze(rebind):
    src = _with(FZ301, rebind)
    assert _found(src, "FZ301") == [_row(src, "opt = torch.optim.Adam(model.parameters())")]


def test_fz301_a_rebinding_in_another_arm_than_the_freeze_does_not_undo_it():
    src = _with("""
    if pretrained:
        model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
        for p in model[0].parameters():
            p.requires_grad = False
    else:
        model = nn.Sequential(nn.Linear(2, 2))
    opt = torch.optim.Adam(model.parameters())
    """, "")
    assert _found(src, "FZ301") == [_row(src, "opt = torch.optim.Adam(model.parameters())")]


def test_fz301_a_helper_that_rebinds_its_parameter_leaves_the_callers_model_alone():
    src = _with("""
    def fresh(model):
        model = nn.Sequential(nn.Linear(2, 2))
        for p in model.parameters():
            p.requires_grad = False
        return model

    net = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    other = fresh(net)
    opt = torch.optim.Adam(net.parameters())
    """, "")
    assert _found(src, "FZ301") == []
    kept = src.replace("model = nn.Sequential(nn.Linear(2, 2))", "model = model.cuda()")
    assert _found(kept, "FZ301") == [_row(kept, "opt = torch.optim.Adam(net.parameters())")]


FZ201 = """
def freeze_bn(m):
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.eval()


model = torchvision.models.resnet50()
freeze_bn(model)
{rebind}
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(3):
    model.train()
    for x in loader:
        model(x).sum().backward()
        opt.step()
"""


@pytest.mark.parametrize("rebind", FRESH[:4] + FRESH_FORMS)
def test_fz201_train_of_a_new_model_undoes_no_freeze(rebind):
    assert _found(_with(FZ201, rebind), "FZ201") == []


@pytest.mark.parametrize("rebind", KEPT[:6] + KEPT_FORMS)
def test_fz201_train_of_the_same_model_undoes_the_freeze(rebind):
    src = _with(FZ201, rebind)
    assert _found(src, "FZ201") == [_row(src, "model.train()")]


FZ303 = """
model = torchvision.models.resnet50()
model.requires_grad_(False)
model.fc.requires_grad_(True)
opt = torch.optim.SGD(filter(lambda p: p.requires_grad, model.parameters()), lr=0.1)
{rebind}
for p in model.layer4.parameters():
    p.requires_grad = True
"""


def test_fz303_unfreezing_a_new_model_is_not_the_optimizers_business():
    assert _found(_with(FZ303, FRESH[2]), "FZ303") == []
    src = _with(FZ303, KEPT[0])
    assert _found(src, "FZ303") == [_row(src, "p.requires_grad = True")]


FZ302 = """
model = torchvision.models.resnet50()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
{rebind}
model.fc = nn.Linear(2048, 10)
"""


def test_fz302_replacing_a_layer_of_a_new_model_is_not_the_optimizers_business():
    assert _found(_with(FZ302, FRESH[2]), "FZ302") == []
    src = _with(FZ302, KEPT[0])
    assert _found(src, "FZ302") == [_row(src, "model.fc = nn.Linear(2048, 10)")]


FZ306 = """
model = torchvision.models.resnet50()
model = DDP(model)
{rebind}
for p in model.layer1.parameters():
    p.requires_grad = False
"""


def test_fz306_a_new_model_was_never_wrapped():
    assert _found(_with(FZ306, FRESH[2]), "FZ306") == []
    src = _with(FZ306, KEPT[0])
    assert _found(src, "FZ306") == [_row(src, "p.requires_grad = False")]


FZ202 = """
model = torchvision.models.resnet18()
model.requires_grad_(False)
{rebind}
opt = torch.optim.SGD(model.fc.parameters(), lr=0.1)
model.train()
for x, y in loader:
    opt.zero_grad()
    loss_fn(model(x), y).backward()
    opt.step()
"""


def test_fz202_a_new_model_was_not_frozen_whole():
    assert _found(_with(FZ202, "model = torchvision.models.resnet34()"), "FZ202") == []
    src = _with(FZ202, KEPT[0])
    assert _found(src, "FZ202") == [_row(src, "model.requires_grad_(False)")]


def test_tuple_targets_of_equal_length_are_two_assignments():
    """`self.model, self.optimizer = model, optimizer`: what the trainer holds is what the two
    names hold (the extractor binds each, the flow layer follows each)."""
    facts = Facts.of(cst.parse_module(textwrap.dedent("""
    class Trainer:
        def __init__(self):
            model, optimizer = Net(), None
            self.model, self.optimizer = model, optimizer
            [self.a, (self.b, self.c)] = 1, (2, 3)
            self.d, self.e = pair
            self.f, *self.g = 1, 2
    """)))
    attrs = {k: [cst.Module([]).code_for_node(v) for v, _ in vs] for k, vs in facts.classes["Trainer"].attrs.items()}
    assert attrs == {"model": ["model"], "optimizer": ["optimizer"], "a": ["1"], "b": ["2"], "c": ["3"]}
    scope = next(iter(facts.func_scopes.values()))
    assert cst.Module([]).code_for_node(scope.bindings["model"][0].node) == "Net()"


def test_a_builder_that_binds_its_model_once_still_returns_a_fresh_one():
    """The REBIND of `model = resnet18()` (a first binding is one too) is no change to the model:
    summaries still say the builder returns every parameter trainable."""
    from freezelint.check.summaries import summarise_text

    text = "import torchvision\n\n\ndef make():\n    model = torchvision.models.resnet18()\n    return model\n"
    assert summarise_text(text)["functions"]["make"].get("fresh") is True
    frozen = text.replace("    return", "    model.requires_grad_(False)\n    return")
    assert not summarise_text(frozen)["functions"]["make"].get("fresh")


# `self.backbone.requires_grad, self.head.requires_grad = False, True` is the two stores it is, for
# every rule that reads attribute stores (FZ102, FZ106, ...); a target list unpacking a value the
# checker cannot read item by item stores nothing known
UNPACKED = """
import torch.nn as nn
import torchvision

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
        self.head = nn.Sequential(nn.Linear(2, 2), nn.Dropout())

    def freeze(self):
        {store}
"""


@pytest.mark.parametrize("store,codes_found", [
    ("self.backbone.requires_grad, self.head.requires_grad = False, True", ["FZ102", "FZ102"]),
    ("[self.backbone.requires_grad, self.head.requires_grad] = [False, True]", ["FZ102", "FZ102"]),
    ("self.n, (self.backbone.requires_grad, self.m) = 1, (False, 2)", ["FZ102"]),
    ("self.backbone.training, self.head.training = False, False", ["FZ106", "FZ106"]),
    ("self.n, self.backbone.training = 0, False", ["FZ106"]),
    # no guessing: a value that is no display of the target's length, a starred target
    ("self.backbone.requires_grad, self.head.requires_grad = flags", []),
    ("self.backbone.requires_grad, self.head.requires_grad = False, True, True", []),
    ("self.backbone.requires_grad, *self.rest = False, True", []),
    ("self.backbone.training, self.head.training = (False, False) if x else (True, True)", []),
])
def test_each_pair_of_an_unpacked_store_is_a_store(store, codes_found):
    src = UNPACKED.replace("{store}", store)
    found = [d.code for d in check_text(src, "ex.py", ALL_STATIC).diagnostics]  # prefiltered, as a run is
    assert found == codes_found
    assert [d.code for d in check_text(src, "ex.py", ALL_STATIC, force=True).diagnostics] == codes_found


def test_an_unpacked_store_is_fixed_pair_by_pair_where_that_keeps_the_meaning():
    src = UNPACKED.replace("{store}", "self.backbone.training, self.head.training = False, mode")
    out = check_text(src, "ex.py", ALL_STATIC, fix="unsafe", force=True).new_text
    assert out is not None and "self.backbone.train(False); self.head.train(mode)" in out
    # the values are read before any target is stored: a value a target rebinds keeps the statement
    swap = UNPACKED.replace("{store}", "mode, self.backbone.training = False, mode")
    assert [d.code for d in check_text(swap, "ex.py", ALL_STATIC).diagnostics] == ["FZ106"]
    assert check_text(swap, "ex.py", ALL_STATIC, fix="unsafe", force=True).new_text is None
    attr = UNPACKED.replace("{store}", "self.backbone.training, self.head.training = self.head.training, False")
    assert check_text(attr, "ex.py", ALL_STATIC, fix="unsafe", force=True).new_text is None


@pytest.mark.parametrize("rebind", [f for f in FRESH_FORMS if f.startswith(("for model in build", "with", "assert"))])
def test_fz302_fz303_fz306_a_new_model_of_another_binding_form(rebind):
    assert _found(_with(FZ303, rebind), "FZ303") == []
    assert _found(_with(FZ302, rebind), "FZ302") == []
    assert _found(_with(FZ306, rebind), "FZ306") == []


def test_each_pass_of_a_for_over_new_models_is_its_own_model():
    """A REBIND at the loop's head: a freeze of one pass and the optimizer of the next are about
    two models; the optimizer and a freeze of the same pass stay paired, in either order."""
    src = _with("""
    for model in build_models(cfg):
        opt = torch.optim.Adam(model.parameters())
        model[0].requires_grad_(False)
        train(model, opt)
    """, "")
    assert _found(src, "FZ301") == [_row(src, "opt = torch.optim.Adam(model.parameters())")]
    assert _found(src.replace("build_models(cfg)", "[model]"), "FZ301") \
        == [_row(src, "opt = torch.optim.Adam(model.parameters())")]


def test_fz301_an_optimizer_then_a_new_model_frozen():
    """FZ301 pairs a freeze anywhere in the optimizer's scope, so a REBIND between them counts in
    either order: the model frozen after `model = ...` again is not the optimizer's."""
    src = _with("""
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    opt = torch.optim.Adam(model.parameters())
    train(model, opt)
    {rebind}
    model[0].requires_grad_(False)
    """, "model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))")
    assert _found(src, "FZ301") == []
    for kept in ("model = model.to(dev)", "with model.to(dev) as model:\n    pass"):
        src = _with(textwrap.dedent("""
        model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
        opt = torch.optim.Adam(model.parameters())
        train(model, opt)
        {rebind}
        model[0].requires_grad_(False)
        """), kept)
        assert _found(src, "FZ301") == [_row(src, "opt = torch.optim.Adam(model.parameters())")]


def test_a_walrus_in_a_while_test_binds_before_every_pass():
    src = _with("""
    net = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    net[0].requires_grad_(False)
    while (net := next_model()) is not None:
        opt = torch.optim.Adam(net.parameters())
        train(net, opt)
    """, "")
    assert _found(src, "FZ301") == []
    kept = src.replace("(net := next_model())", "(net := net.to(dev))")
    assert _found(kept, "FZ301") == [_row(kept, "opt = torch.optim.Adam(net.parameters())")]
    rebinds = [e for f in flows_of(Facts.of(cst.parse_module(textwrap.dedent(src)))).bodies
               for e in f.events if e.kind == REBIND and e.target == "net"]
    assert [bool(e.loops) for e in rebinds] == [False, True]


@pytest.mark.parametrize("freeze,found", [
    ("model.fc.weight.requires_grad, model.fc.bias.requires_grad = False, False", ["FZ301"]),
    ("n, model.fc.weight.requires_grad = 1, False", ["FZ301"]),
    ("model.layer1.requires_grad, n = False, 1", ["FZ102", "FZ301"]),  # the freeze meant (FZ102's)
    ("model.fc.weight.requires_grad_, n = False, 1", ["FZ101", "FZ301"]),
    ("model.fc.weight.requires_grad, n = flags", []),  # not paired: no freeze known
    ("model.fc.weight.requires_grad, n = True, False", []),
])
def test_the_flow_layer_sees_each_requires_grad_pair_of_an_unpacked_store(freeze, found):
    """The freeze is an event for FZ301 as `x.requires_grad = False` alone is, and the text gates
    let the file through on a default (prefiltered) run."""
    src = _with("""
    model = torchvision.models.resnet18()
    {rebind}
    opt = torch.optim.Adam(model.parameters())
    """, freeze)
    assert [d.code for d in check_text(src, "ex.py", ALL_STATIC).diagnostics] == found
    assert [d.code for d in check_text(src, "ex.py", ALL_STATIC, force=True).diagnostics] == found


def test_fz102_sees_the_model_through_a_conditional_dataparallel_rebinding():
    # (seg_trainer_dp): `model = nn.DataParallel(model) if n > 1 else model` left `model`
    # unknown in the whole scope; a read of `model.fc` runs where it is the model (else it raises)
    from freezelint.check.engine import check_source

    src = textwrap.dedent("""\
        import torch.nn as nn
        import torchvision

        model = torchvision.models.resnet50()
        model.layer4.requires_grad = False
        model = nn.DataParallel(model) if NUM_GPU > 1 else model
        model.fc.requires_grad = False
        """)
    assert [d.row for d in check_source(src, "train.py", select=["FZ102"])] == [5, 7]
    # a choice between two other objects is no rebinding around itself: nothing known of `model.fc`
    other = src.replace("nn.DataParallel(model) if NUM_GPU > 1 else model", "make_a() if NUM_GPU > 1 else make_b()")
    assert [d.row for d in check_source(other, "train.py", select=["FZ102"])] == []
