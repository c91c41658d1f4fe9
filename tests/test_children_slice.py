"""The headless-backbone idiom `nn.Sequential(*list(resnet18().children())[:-2])`: which children of a
table model a literal slice keeps, whether they hold BatchNorm, and FZ202 on a frozen one."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from freezelint.check.engine import check_source
from freezelint.check.facts import Facts
from freezelint.check.submodule_table import TABLE


def _kept(expr: str, prelude: str = "import torchvision\nresnet = torchvision.models.resnet18()\n"):
    """Kinds.kept_children of the last line's expression."""
    module = cst.parse_module(prelude + f"x = {expr}\n")
    facts = Facts.of(module)
    value = module.body[-1].body[0].value
    return facts.kinds.kept_children(value, facts.module_scope)


def test_the_table_lists_children_in_model_order():
    assert TABLE["torchvision.models.resnet18"]["children"] == [
        "conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc"]
    assert TABLE["torchvision.models.vgg16_bn"]["children"] == ["features", "avgpool", "classifier"]
    assert "children" not in TABLE["transformers.AutoModel"]  # what an Auto class builds is not known
    # built without the AuxLogits child a default call inserts mid-list: the order is not the user's
    assert "children" not in TABLE["torchvision.models.inception_v3"]
    assert _kept("list(torchvision.models.inception_v3().children())[:-3]") is None


@pytest.mark.parametrize("expr,kept", [
    ("list(resnet.children())[:-2]", ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"]),
    ("list(resnet.children())[:1]", ["conv1"]),
    ("(list(resnet.children())[-1:])", ["fc"]),
    ("tuple(resnet.children())[4:8:2]", ["layer1", "layer3"]),
    ("resnet.children()", ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool",
                           "fc"]),
    # the items of a Sequential part, in index order
    ("list(torchvision.models.vgg16_bn().features.children())[:3]", ["features.0", "features.1", "features.2"]),
])
def test_a_literal_slice_keeps_the_named_children(expr, kept):
    assert _kept(expr) == ("torchvision.models.resnet18" if "vgg" not in expr else "torchvision.models.vgg16_bn", kept)


@pytest.mark.parametrize("expr", [
    "list(resnet.children())[:cut]",  # computed
    "list(resnet.children())[::0]",
    "list(resnet.children())[1]",  # one child, no slice
    "list(resnet.modules())[:-2]",  # modules(), not children()
    "list(build().children())[:-2]",  # a model not in the table
    "list(resnet.layer1[0].children())[:2]",  # a block: the table does not order its children
    "list(torch.nn.DataParallel(resnet).children())[:-1]",
])
def test_an_unknown_slice_or_model_keeps_nothing_known(expr):
    assert _kept(expr, "import torch, torchvision\nresnet = torchvision.models.resnet18()\ncut = 3\n") is None


@pytest.mark.parametrize("change,known", [
    ("resnet.fc = torch.nn.Identity()", True),  # a child without BatchNorm replaced: order and BatchNorm kept
    ("resnet.avgpool.output_size = 1", True),
    ("resnet.bn1 = torch.nn.Identity()", False),  # a child with BatchNorm replaced
    ("resnet.layer1[0].bn1 = torch.nn.Identity()", False),
    ("resnet.extra = torch.nn.Conv2d(3, 3, 1)", False),  # a new child moves a negative slice
    ("convert_bn_to_gn(resnet)", False),  # handed to a call: anything may have changed
])
def test_a_model_changed_before_the_slice_is_not_known(change, known):
    prelude = f"import torch, torchvision\nresnet = torchvision.models.resnet18()\n{change}\n"
    assert (_kept("list(resnet.children())[:-2]", prelude) is not None) is known


NET = """
import torch
import torch.nn as nn
from torchvision.models import resnet18


class Net(nn.Module):
    def __init__(self, cut=6):
        super().__init__()
        backbone = resnet18()
        self.backbone = nn.Sequential(*{kept})
        for param in self.backbone.parameters():
            param.requires_grad = False
        self.fc = nn.Linear(512, 3)

    def forward(self, x):
        return self.fc(self.backbone(x).mean((2, 3)))


model = Net()
optimizer = torch.optim.Adam(model.fc.parameters(), lr=1e-3)
for epoch in range(3):
    model.train()
    for x, y in loader:
        model(x).sum().backward()
        optimizer.step()
"""


def _fz202(kept: str) -> list[str]:
    return [d.message for d in check_source(NET.format(kept=kept), "train.py", select=["FZ202"])]


@pytest.mark.parametrize("kept,layers", [
    ("list(backbone.children())[:-2]", "20 BatchNorm layers"),
    ("(list(backbone.children())[:-1])", "20 BatchNorm layers"),
    ("list(backbone.children())[:8]", "20 BatchNorm layers"),
    ("list(backbone.children())[:5]", "5 BatchNorm layers"),  # bn1 and layer1's four
    ("list(backbone.children())[:4]", "BatchNorm layer keeps"),  # bn1 alone: the child that is BatchNorm itself
    ("backbone.children()", "20 BatchNorm layers"),
    ("list(backbone.children())[:-2], nn.Conv2d(512, 512, 1), nn.Flatten()", "20 BatchNorm layers"),
    ("list(backbone.children())[:-2]).to('cuda'", "20 BatchNorm layers"),
])
def test_a_frozen_sequential_of_children_with_batchnorm_is_reported(kept, layers):
    found = _fz202(kept)
    assert len(found) == 1 and "`backbone` is children of torchvision.models.resnet18" in found[0]
    assert layers in found[0]


@pytest.mark.parametrize("kept", [
    "list(backbone.children())[:1]",  # conv1 only
    "list(backbone.children())[-2:]",  # avgpool and fc
    "list(backbone.children())[:cut]",  # a computed cut
    "list(backbone.modules())[:-2]",
    "list(backbone.children())[:1], make_head()",  # conv1 and a layer of unknown content
])
def test_a_slice_that_keeps_no_batchnorm_or_is_not_known_is_silent(kept):
    assert _fz202(kept) == []


def test_the_slice_bound_to_a_name_first_and_the_renumbered_names():
    code = textwrap.dedent("""
        import torch
        import torch.nn as nn
        import torchvision

        resnet = torchvision.models.resnet50()
        modules = list(resnet.children())[:-1]
        backbone = nn.Sequential(*modules)
        for name, p in backbone.named_parameters():
            if {test}:
                p.requires_grad = False
        head = nn.Linear(2048, 10)
        opt = torch.optim.SGD(head.parameters(), lr=0.1)
        for x, y in loader:
            backbone.train()
            head(backbone(x).flatten(1)).sum().backward()
            opt.step()
    """)
    found = check_source(code.format(test='not name.startswith("layer4")'), "train.py", select=["FZ202"])
    # in the Sequential `layer4` is `7`: the test keeps nothing trainable, every BatchNorm layer is frozen
    assert len(found) == 1 and "53 BatchNorm layers" in found[0].message
    # `7.` is layer4 there: it trains, and the frozen stages before it (bn1, layer1-3: children 1, 4, 5, 6)
    # keep their statistics moving in train mode
    found = check_source(code.format(test='not name.startswith("7.")'), "train.py", select=["FZ202"])
    assert len(found) == 1 and "43 BatchNorm layers" in found[0].message
    assert found[0].message.startswith("`backbone[1]`, `backbone[4]`, `backbone[5]` and 1 more (children of ")


def test_a_part_of_a_sequential_part_vgg_features():
    code = textwrap.dedent("""
        import torch
        import torch.nn as nn
        import torchvision

        vgg = torchvision.models.vgg16_bn()
        features = nn.Sequential(*list(vgg.features.children())[:{stop}])
        features.requires_grad_(False)
        head = nn.Linear(512, 10)
        opt = torch.optim.SGD(head.parameters(), lr=0.1)
        features.train()
        for x, y in loader:
            head(features(x).mean((2, 3))).sum().backward()
            opt.step()
    """)
    found = check_source(code.format(stop=7), "train.py", select=["FZ202"])  # conv, bn, relu, conv, bn, relu, pool
    assert len(found) == 1 and "2 BatchNorm layers" in found[0].message
    assert check_source(code.format(stop=1), "train.py", select=["FZ202"]) == []  # the first conv alone


@pytest.mark.parametrize("kept,fires", [("[:-2]", True), ("[:1]", False), ("[:cut]", False)])
def test_fz201_an_eval_of_such_a_part_is_a_batchnorm_freeze_only_where_it_keeps_batchnorm(kept, fires):
    code = textwrap.dedent(f"""
        import torch
        import torch.nn as nn
        import torchvision

        class Net(nn.Module):
            def __init__(self, cut=3):
                super().__init__()
                resnet = torchvision.models.resnet50()
                self.backbone = nn.Sequential(*list(resnet.children()){kept})
                self.head = nn.Linear(2048, 10)

        model = Net()
        model.backbone.requires_grad_(False)
        model.backbone.eval()
        opt = torch.optim.SGD(model.head.parameters(), lr=0.1)
        for epoch in range(3):
            model.train()
            for x, y in loader:
                model(x).sum().backward()
                opt.step()
    """)
    found = check_source(code, "train.py", select=["FZ201"])
    assert len(found) == (1 if fires else 0)


@pytest.mark.parametrize("build", ["torchvision.models.resnet50()", "torchvision.models.mobilenet_v2()",
                                   "torchvision.models.vgg16_bn().features"])
@pytest.mark.parametrize("cut", ["[:-2]", "[:-1]", "[:4]", "[1:5]", "[::2]", "[-3:]"])
def test_the_batchnorm_paths_are_those_torch_gives_the_sequential(build, cut):
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    from torch.nn.modules.batchnorm import _NormBase

    from freezelint.check.whole_model import _children_parts, _layers

    module = cst.parse_module(f"import torch, torchvision\nx = torch.nn.Sequential(*list({build}.children()){cut})\n")
    facts = Facts.of(module)
    parts = _children_parts(facts, module.body[-1].body[0].value, facts.module_scope, "")
    with torch.device("meta"):
        model = eval(build, {"torchvision": torchvision})
        real = torch.nn.Sequential(*eval(f"list(model.children()){cut}"))
    assert sorted(_layers(parts)) == sorted(n for n, m in real.named_modules() if isinstance(m, _NormBase))


REBUILT = """
import torch
import torch.nn as nn
import torchvision


class Encoder(nn.Module):
    def __init__(self, headless=True):
        super().__init__()
        self.resnet = torchvision.models.resnet152(weights="DEFAULT")
{rebuild}
        for p in self.resnet.parameters():
            p.requires_grad = False
        self.fc = nn.Linear(2048, 256)

    def forward(self, x):
        return self.fc(self.resnet(x).flatten(1))


model = Encoder()
opt = torch.optim.Adam(model.fc.parameters())
for epoch in range(3):
    model.train()
    for x, y in loader:
        model(x).sum().backward()
        opt.step()
"""


@pytest.mark.parametrize("rebuild,fires", [
    ("        self.resnet = nn.Sequential(*list(self.resnet.children())[:-1])", True),
    ("        self.resnet = nn.Sequential(*list(self.resnet.children())[-1:])", False),  # fc only
    ("        if headless:\n            self.resnet = nn.Sequential(*list(self.resnet.children())[:-1])", False),
    ("        self.resnet = nn.Sequential(*list(self.resnet.children())[:headless])", False),
])
def test_a_model_replaced_by_its_own_children_in_a_later_statement(rebuild, fires):
    found = check_source(REBUILT.format(rebuild=rebuild), "train.py", select=["FZ202"])
    assert len(found) == int(fires)
    if fires:
        assert "`resnet` is children of torchvision.models.resnet152" in found[0].message
