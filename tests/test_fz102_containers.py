"""FZ102 through containers: items, slices and loop variables of an nn.Sequential, nn.ModuleList or
nn.ModuleDict (built in the project or a path the submodule table records as one), of
`list(model.children())` and of a list of Modules; and the near-misses that hold Parameters,
tensors, keys or anything unknown."""

from __future__ import annotations

import json
import textwrap

import libcst as cst
import pytest

from freezelint.check.engine import check_source, check_text
from freezelint.check.facts import MODULE, Facts
from freezelint.check.submodule_table import DEPTH, TABLE

from conftest import write

NET = """
import torch
import torch.nn as nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(4, 4) for _ in range(6)])
        self.seq = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
        self.heads = nn.ModuleDict({"a": nn.Linear(4, 4)})
        self.scales = nn.ParameterList([nn.Parameter(torch.ones(4))])
        self.cache = {}
        self.masks = [torch.zeros(4)]
"""


def _in_net(methods: str) -> str:
    """NET with `methods` added to its class."""
    return NET + textwrap.indent(textwrap.dedent(methods), "    ")


def _after_net(code: str) -> str:
    return NET + textwrap.dedent(code)


def _rows(code: str) -> list[int]:
    source = textwrap.dedent(code).lstrip()
    compile(source, "x.py", "exec")  # a case that does not parse would find nothing
    return [d.row for d in check_source(source, select=["FZ102"])]


def _marked(code: str) -> list[int]:
    source = textwrap.dedent(code).lstrip()
    return [i for i, line in enumerate(source.splitlines(), 1) if "# expect: FZ102" in line]


def _fixed(code: str) -> str:
    """What `--fix` makes of the code: it must parse and leave no FZ102 behind."""
    outcome = check_text(textwrap.dedent(code).lstrip(), "x.py", frozenset({"FZ102"}), fix="safe")
    assert outcome.fix_refused is None and outcome.diagnostics == []
    cst.parse_module(outcome.new_text)
    return outcome.new_text


FIRES = {
    "project ModuleList: index, negative index, slice, loop over a slice": _after_net("""
    def freeze(net, n):
        for i in range(n):
            net.layers[i].requires_grad = False  # expect: FZ102
        net.layers[-1].requires_grad = False  # expect: FZ102
        net.layers[:2].requires_grad = False  # expect: FZ102
        for layer in net.layers[:4]:
            layer.requires_grad = False  # expect: FZ102

    net = Net()
    net.layers[0].requires_grad = False  # expect: FZ102
    freeze(net, 3)
    """),
    "self.<ModuleList> and nn.Sequential through enumerate and reversed": _in_net("""
        def freeze(self):
            for blk in reversed(self.layers[2:]):
                blk.requires_grad = False  # expect: FZ102
            for i, blk2 in enumerate(self.seq):
                blk2.requires_grad = i > 0  # expect: FZ102
    """),
    "ModuleDict: items and values": _in_net("""
        def freeze(self):
            self.heads["a"].requires_grad = False  # expect: FZ102
            for name, head in self.heads.items():
                head.requires_grad = False  # expect: FZ102
            for head2 in self.heads.values():
                head2.requires_grad = False  # expect: FZ102
    """),
    "HF GPT-2 blocks from the table": """
    from transformers import GPT2LMHeadModel

    model = GPT2LMHeadModel.from_pretrained("gpt2")
    for block in model.transformer.h[:-2]:
        block.requires_grad = False  # expect: FZ102
    model.transformer.h[3].requires_grad = True  # expect: FZ102
    """,
    "Auto class, timm and torchvision containers from the table": """
    import timm
    import torchvision
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    def bert():
        model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=2)
        for layer in model.bert.encoder.layer[:8]:  # a layer stack one level below the table's depth
            layer.requires_grad = False  # expect: FZ102
        model.bert.encoder.layer.requires_grad = False  # expect: FZ102

    def llm():
        model = AutoModelForCausalLM.from_pretrained("some/checkpoint")
        for layer in model.model.layers[:10]:
            layer.requires_grad = False  # expect: FZ102

    def vit():
        model = timm.create_model("vit_base_patch16_224", pretrained=False)
        for blk in model.blocks[:-2]:
            blk.requires_grad = False  # expect: FZ102
        model.blocks[-1].requires_grad = True  # expect: FZ102

    def resnet():
        model = torchvision.models.resnet50(weights=None)
        for block in model.layer4:
            block.requires_grad = True  # expect: FZ102
        model.layer3[5].requires_grad = True  # expect: FZ102
    """,
    "children(), modules() and their lists": """
    import torchvision

    model = torchvision.models.resnet18(weights=None)

    def all_but_head():
        for child in list(model.children())[:-1]:
            child.requires_grad = False  # expect: FZ102
        list(model.children())[-1].requires_grad = True  # expect: FZ102

    def every(m0):
        for m in m0.modules():
            m.requires_grad = False  # expect: FZ102
        for name, c in model.named_children():
            c.requires_grad = False  # expect: FZ102
    """,
    "a list of Modules": """
    import torchvision

    model = torchvision.models.resnet18(weights=None)
    for part in [model.conv1, model.bn1, model.layer1]:
        part.requires_grad = False  # expect: FZ102
    """,
}


@pytest.mark.parametrize("name", FIRES)
def test_fires_on_modules_reached_through_containers(name):
    code = FIRES[name]
    assert _rows(code) == _marked(code)
    assert _fixed(code).count(".requires_grad_(") == len(_marked(code))


SILENT = {
    "parameters and named_parameters, and lists of them": """
    def freeze(model):
        for p in model.parameters():
            p.requires_grad = False
        for n, p in model.named_parameters():
            p.requires_grad = "fc" in n
        params = list(model.parameters())
        params[0].requires_grad = False
        for p in list(model.parameters())[:-2]:
            p.requires_grad = False
        list(model.named_children())[0].requires_grad = False  # a (name, module) tuple
    """,
    "unknown sequences": """
    def f(x, blocks):
        x[0].requires_grad = False
        for t in x[:3]:
            t.requires_grad = True
        blocks["encoder"].requires_grad = False
    """,
    "ParameterList, ModuleDict keys, a dict, a list of tensors": _in_net("""
        def freeze(self):
            self.scales[0].requires_grad = False
            for s in self.scales:
                s.requires_grad = False
            for key in self.heads:
                key.requires_grad = False
            self.cache["x"].requires_grad = False
            self.masks[0].requires_grad = False
            for m in self.masks:
                m.requires_grad = False
    """),
    "a container attribute also assigned something else": """
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self, blocks=None):
            super().__init__()
            self.blocks = nn.ModuleList() if blocks is None else blocks
            self.other = nn.ModuleList()

        def reset(self, weights):
            self.other = weights  # a list of tensors, for all the checker knows

        def freeze(self):
            self.blocks[0].requires_grad = False
            self.other[0].requires_grad = False
            for w in self.other:
                w.requires_grad = False
    """,
    "library parts that are no container, and a table parameter": """
    import timm
    from transformers import GPT2LMHeadModel

    gpt = GPT2LMHeadModel.from_pretrained("gpt2")
    gpt.transformer.wte[0].requires_grad = False  # an nn.Embedding: no Module items
    vit = timm.create_model("vit_base_patch16_224", pretrained=False)
    vit.cls_token[0].requires_grad = False
    vit.blocks.custom[0].requires_grad = False  # not in the table
    vit.blocks.norm.layers[0].requires_grad = False  # deeper than the table goes
    """,
    "a list mixing a Module and a Parameter": """
    import torchvision

    model = torchvision.models.resnet18(weights=None)
    for part in [model.conv1, model.fc.weight]:
        part.requires_grad = False
    for part2 in [model.conv1, *extra]:
        part2.requires_grad = False
    """,
}


@pytest.mark.parametrize("name", SILENT)
def test_silent_on_near_misses(name):
    assert _rows(SILENT[name]) == []


def _kind(code: str, target: str):
    facts = Facts.of(cst.parse_module(textwrap.dedent(code)))
    for s in facts.attr_stores:
        if cst.Module([]).code_for_node(s.obj) == target:
            return facts.kind(s.obj, s.ctx)
    raise AssertionError(target)


def test_a_literal_index_keeps_the_table_path():
    """`model.layer4[0]` is the part at `layer4.0` (what FZ202 reads BatchNorm paths under); any
    other index or slice is a Module with no path: never the whole model."""
    code = """
    import torchvision
    model = torchvision.models.resnet50(weights=None)
    model.layer4[0].x = 1
    model.layer4[-1].x = 1
    model.layer4[1:].x = 1
    """
    first = _kind(code, "model.layer4[0]")
    assert (first.tag, first.factory, first.sub) == (MODULE, "torchvision.models.resnet50", "layer4.0")
    for target in ("model.layer4[-1]", "model.layer4[1:]"):
        k = _kind(code, target)
        assert (k.tag, k.factory, k.sub) == (MODULE, None, None)


def test_parts_at_different_paths_do_not_make_the_whole_model():
    code = """
    import torchvision
    model = torchvision.models.resnet50(weights=None)
    def f(c):
        part = model.layer1
        if c:
            part = model.layer2
        part.x = 1
    """
    k = _kind(code, "part")
    assert (k.tag, k.factory, k.sub) == (MODULE, None, None)


def test_table_seqs_are_module_paths():
    for key, entry in TABLE.items():
        assert {p for p in entry["seqs"] if p.count(".") < DEPTH} <= set(entry["modules"]), key
        assert not set(entry["seqs"]) & set(entry["params"]), key
    assert "bert.encoder.layer" in TABLE["transformers.AutoModelForSequenceClassification"]["seqs"]
    assert "transformer.h" in TABLE["transformers.GPT2LMHeadModel"]["seqs"]
    assert "layer1" in TABLE["torchvision.models.resnet18"]["seqs"]
    assert "wte" not in TABLE["transformers.GPT2Model"]["seqs"]


def test_a_container_attribute_of_a_class_in_another_file(cli, tmp_path):
    write(tmp_path / "pyproject.toml", "")
    write(tmp_path / "models.py", NET)
    write(tmp_path / "train.py", """
    from models import Net

    net = Net()
    for layer in net.layers[:4]:
        layer.requires_grad = False
    net.heads["a"].requires_grad = False
    net.scales[0].requires_grad = False
    """)
    r = cli(tmp_path, "check", "--no-cache", "--format", "json", "--select", "FZ102", ".")
    found = sorted((d["filename"], d["location"]["row"]) for d in json.loads(r.out))
    assert found == [("train.py", 5), ("train.py", 6)]
