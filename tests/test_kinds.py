"""Kind inference: names keep their kind through rebinding, and answers never depend on the
order in which they are asked."""

from __future__ import annotations

import itertools
import textwrap

import libcst as cst
import pytest

from freezelint.check.engine import check_source
from freezelint.check.facts import MODULE, PARAM, Facts

REBINDS = ["to('cpu')", "cuda()", "cpu()", "float()", "half()", "bfloat16()", "double()", "type(torch.float64)",
           "train(False)", "eval()", "requires_grad_(True)", "apply(init_fn)", "to_empty(device='cpu')",
           "share_memory()"]


def _facts(code: str) -> Facts:
    return Facts.of(cst.parse_module(textwrap.dedent(code)))


def _store_kinds(facts: Facts) -> list[str | None]:
    """The kind tag of every `obj.attr = ...` receiver, in source order."""
    out = []
    for s in facts.attr_stores:
        k = facts.kind(s.obj, s.ctx)
        out.append(None if k is None else k.tag)
    return out


@pytest.mark.parametrize("rebind", REBINDS)
def test_rebinding_keeps_module_kind(rebind):
    code = f"""
    import torch, torchvision
    model = torchvision.models.resnet18()
    model = model.{rebind}
    model.requires_grad = False
    torch.optim.Adam(model.parameters())
    """
    diags = check_source(textwrap.dedent(code).lstrip(), select=["FZ102"])
    assert [(d.code, d.row) for d in diags] == [("FZ102", 4)]


def test_rebinding_from_unknown_stays_unknown():
    code = """
    import torchvision
    model = torchvision.models.resnet18()
    model = wrap(model)  # an unknown call: the name is no longer proven a Module
    model.requires_grad = False
    """
    assert check_source(textwrap.dedent(code), select=["FZ102"]) == []


def test_tensor_methods_do_not_keep_parameter_kind():
    facts = _facts("""
    import torch.nn as nn
    w = nn.Parameter(x)
    v = w.cuda()
    w2 = w.requires_grad_(False)
    v.a = 1
    w2.a = 1
    """)
    assert _store_kinds(facts) == [None, PARAM]


def test_compile_and_wrappers():
    facts = _facts("""
    import torch, torchvision
    from torch.nn.parallel import DistributedDataParallel as DDP
    model = torchvision.models.resnet18()
    model = model.to(rank)
    compiled = torch.compile(model)
    dp = torch.nn.DataParallel(model)
    ddp = DDP(model.cuda(), device_ids=[rank])
    model = DDP(model)
    compiled.x = 1
    dp.module.x = 1
    ddp.module.x = 1
    model.module.x = 1
    dp.x = 1
    """)
    assert _store_kinds(facts) == [MODULE] * 5


ORDER_CASES = [
    """
    import torch, torchvision
    model = torchvision.models.resnet18()
    model = model.to("cpu")
    model = torch.compile(model)
    other = model
    model.a = 1
    other.a = 1
    model.fc.a = 1
    """,
    """
    import torchvision
    a = torchvision.models.resnet18()
    b = a.cuda()
    a = b.float()
    b = a.eval()
    a.x = 1
    b.x = 1
    """,
    """
    import torchvision
    from torch.nn.parallel import DistributedDataParallel as DDP
    net = torchvision.models.resnet18()
    net = net.to(rank)
    net = DDP(net)
    net.module.x = 1
    net.x = 1
    """,
]


@pytest.mark.parametrize("code", ORDER_CASES)
def test_answers_do_not_depend_on_the_order_asked(code):
    module = cst.parse_module(textwrap.dedent(code))
    probe = Facts.of(module)
    n = len(probe.attr_stores)
    # every sub-expression of every receiver is a question that could be asked first
    questions = []
    for i, s in enumerate(probe.attr_stores):
        e = s.obj
        while True:
            questions.append((i, e))
            if not isinstance(e, cst.Attribute):
                break
            e = e.value
    reference = None
    for order in itertools.permutations(range(len(questions)), min(len(questions), 5)):
        facts = Facts.of(module)
        stores = facts.attr_stores
        flat = []
        for i in range(n):
            e = stores[i].obj
            while True:
                flat.append((i, e))
                if not isinstance(e, cst.Attribute):
                    break
                e = e.value
        answers = {}
        for q in list(order) + [q for q in range(len(flat)) if q not in order]:
            i, e = flat[q]
            k = facts.kind(e, stores[i].ctx)
            answers[q] = None if k is None else (k.tag, k.qual)
        if reference is None:
            reference = answers
            assert any(v is not None and v[0] == MODULE for v in answers.values())
        assert answers == reference, order


def test_submodule_table_without_importing_torch():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from freezelint.check.engine import check_source\n"
        "src = 'import torchvision\\nm = torchvision.models.resnet18()\\nm.layer4.requires_grad = False\\n"
        "m.fc.weight.requires_grad = False\\n'\n"
        "print([(d.code, d.row) for d in check_source(src)], 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[('FZ102', 3)] False"


def test_self_attribute_proven_module_by_use_in_its_class():
    code = """
    class Trainer:
        def __init__(self, net, scale):
            self.net = net
            self.scale = scale

        def fit(self, x):
            self.net.train()
            self.scale.requires_grad = False  # never used as a Module: silent
            self.net.requires_grad = False
            return self.net(x) * self.scale
    """
    diags = check_source(textwrap.dedent(code).lstrip(), select=["FZ102"])
    assert [(d.code, d.row) for d in diags] == [("FZ102", 9)]


def test_a_name_bound_to_one_of_several_table_models_knows_what_they_agree_on():
    """`vgg = vgg13_bn() ... else: vgg = vgg16_bn()`: `vgg.features` is a Module in both, so it is
    one (FZ102 on `backbone.requires_grad = False`); a path only one of them has is not known."""
    from freezelint.check.engine import check_source

    src = ("import torchvision\n\n\ndef backbone(coarse):\n    if coarse:\n"
           "        vgg = torchvision.models.vgg13_bn(weights=None)\n    else:\n"
           "        vgg = torchvision.models.vgg16_bn(weights=None)\n"
           "    b = vgg.features\n    b.requires_grad = False\n"
           "    vgg.features[40].requires_grad = False\n    return b\n")
    found = [(d.row, d.code) for d in check_source(src, "x.py", select=["FZ102"])]
    # features[40] is a layer of vgg16_bn only (vgg13_bn's features end at 33): not claimed
    assert found == [(10, "FZ102")]
    mixed = src.replace("torchvision.models.vgg16_bn(weights=None)", "make_vgg()")
    assert check_source(mixed, "x.py", select=["FZ102"]) == []
