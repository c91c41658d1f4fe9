"""The report's module tree: tied weights shown under every module that holds them, and folded
subtrees worded so that a reader sees at once what the line stands for."""

from __future__ import annotations

import json

import pytest

from conftest import write

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import freezelint  # noqa: E402
from freezelint import audit  # noqa: E402


class TiedLM(nn.Module):
    """An embedding and a head that share one weight matrix (GPT-2's tying, in plain nn)."""

    def __init__(self, tie: bool = True):
        super().__init__()
        self.wte = nn.Embedding(30, 8)
        self.body = nn.Linear(8, 8)
        self.lm_head = nn.Linear(8, 30, bias=False)
        if tie:
            self.lm_head.weight = self.wte.weight
        else:  # the near-miss: the same values in a tensor of its own
            self.lm_head.weight = nn.Parameter(self.wte.weight.detach().clone())

    def forward(self, x):
        return self.lm_head(self.body(self.wte(x)))


def _frozen_embedding(model: nn.Module, emb: nn.Module) -> torch.optim.Optimizer:
    emb.requires_grad_(False)
    return torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)


def _line(text: str, start: str) -> str:
    found = [line for line in text.splitlines() if line.lstrip("│├└─ ").startswith(start)]
    assert len(found) == 1, text
    return found[0]


def tiny_gpt2():
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    return transformers.GPT2LMHeadModel(transformers.GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=50))


# ---------------------------------------------------------------- tied weights
def test_a_tied_head_says_what_its_weight_is_tied_to_in_text_and_json():
    torch.manual_seed(0)
    model = TiedLM()
    report = audit(model, _frozen_embedding(model, model.wte), batch=torch.randint(0, 30, (4, 3)))
    assert report.ok, str(report)
    text = report.render_text()
    assert _line(text, "lm_head ").endswith("lm_head Linear · frozen · train · params changed 0/1 · "
                                            "weight tied to wte.weight"), text
    assert "tied" not in _line(text, "wte ") and "tied" not in _line(text, "body "), text  # the first name is the record's
    data = json.loads(json.dumps(report.to_dict()))
    tied = {m["name"]: m["tied"] for m in data["modules"] if m["tied"]}
    assert tied == {"lm_head": {"weight": "wte.weight"}}
    assert [p["aliases"] for p in data["params"] if p["name"] == "wte.weight"] == [["lm_head.weight"]]


def test_a_head_with_a_copy_of_the_embedding_is_not_tied():
    torch.manual_seed(0)
    model = TiedLM(tie=False)
    report = audit(model, _frozen_embedding(model, model.wte), batch=torch.randint(0, 30, (4, 3)))
    assert "tied" not in report.render_text()
    assert not any(m.tied for m in report.modules)
    assert _line(report.render_text(), "lm_head ").endswith("trainable · train · params changed 1/1 · "
                                                            "its trainable param in the optimizer")


def test_gpt2_lm_head_is_tied_to_wte_in_audit_and_watch():
    model = tiny_gpt2()
    assert model.lm_head.weight is model.transformer.wte.weight
    opt = _frozen_embedding(model, model.transformer.wte)
    batch = torch.randint(0, 50, (2, 5))
    report = audit(model, opt, batch={"input_ids": batch})
    head = "lm_head Linear · frozen · train · params changed 0/1 · weight tied to transformer.wte.weight"
    assert _line(report.render_text(), "lm_head ").endswith(head), str(report)
    with freezelint.watch() as w:
        for _ in range(2):
            model(batch, labels=batch).loss.backward()
            opt.step()
            opt.zero_grad()
    assert w.report.ok, str(w.report)
    assert _line(w.report.render_text(), "lm_head ").endswith(head), str(w.report)
    assert {m.name: m.tied for m in w.report.modules if m.tied} == {"lm_head": {"weight": "transformer.wte.weight"}}


NANOGPT = """
import torch
from torch import nn

class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.transformer = nn.ModuleDict(dict(wte=nn.Embedding(50, 16), h=nn.ModuleList([nn.Linear(16, 16)] * 1)))
        self.lm_head = nn.Linear(16, 50, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # nanoGPT ties the other way round

    def forward(self, x):
        return self.lm_head(self.transformer.h[0](self.transformer.wte(x)))

torch.manual_seed(0)
model = GPT()
model.transformer.wte.requires_grad_(False)
opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
for _ in range(3):
    model(torch.randint(0, 50, (2, 5))).sum().backward()
    opt.step()
    opt.zero_grad()
"""


def test_run_report_shows_the_tie_in_text_and_json(cli, tmp_path):
    path = write(tmp_path / "train.py", NANOGPT)
    text = cli(tmp_path, "run", str(path))
    assert text.code == 0, text.out + text.err
    assert _line(text.out, "lm_head ").endswith("frozen · train · params changed 0/1 · weight tied to "
                                                "transformer.wte.weight"), text.out
    js = cli(tmp_path, "run", "--format", "json", str(path))
    data = json.loads(js.out)
    assert {m["name"]: m["tied"] for m in data["modules"] if m["tied"]} == {"lm_head": {"weight": "transformer.wte.weight"}}


def test_two_models_watched_together_that_share_an_embedding_show_the_tie():
    torch.manual_seed(0)
    query = nn.Sequential(nn.Embedding(20, 8), nn.Linear(8, 4))
    doc = nn.Sequential(nn.Embedding(20, 8), nn.Linear(8, 4))
    doc[0].weight = query[0].weight
    query[0].requires_grad_(False)
    opt = torch.optim.SGD([p for p in [*query.parameters(), *doc.parameters()] if p.requires_grad], lr=0.1)
    with freezelint.watch() as w:
        for _ in range(2):
            x = torch.randint(0, 20, (4,))
            (query(x) * doc(x)).sum().backward()
            opt.step()
            opt.zero_grad()
    report = w.report
    assert report.ok, str(report)
    assert {m.name: m.tied for m in report.modules if m.tied} == {"doc.0": {"weight": "query.0.weight"}}
    assert _line(report.render_text(), "doc.0 ").endswith("frozen · train · params changed 0/1 · "
                                                          "weight tied to query.0.weight"), str(report)


class SharedModule(nn.Module):
    """One embedding module under two names: torch lists it once, under the first."""

    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Embedding(20, 8), nn.Linear(8, 8))
        self.dec = nn.Module()
        self.dec.emb = self.enc[0]
        self.dec.out = nn.Linear(8, 2)

    def forward(self, x):
        return self.dec.out(self.dec.emb(x) + self.enc(x))


@pytest.mark.parametrize("how", ["audit", "watch"])
def test_a_module_shared_under_a_second_name_counts_in_its_second_parent_and_says_tied(how):
    torch.manual_seed(0)
    model = SharedModule()
    model.enc[0].requires_grad_(False)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    if how == "audit":
        report = audit(model, opt, batch=torch.randint(0, 20, (4,)), expect_frozen=["dec.emb"])
    else:
        with freezelint.watch(expect_frozen=["dec.emb"]) as w:
            for _ in range(2):
                model(torch.randint(0, 20, (4,))).sum().backward()
                opt.step()
                opt.zero_grad()
        report = w.report
    assert report.ok, str(report)  # the pattern names the frozen embedding by its second name
    # the frozen embedding is part of dec too: dec is partly frozen, not "trainable 2/2"
    assert _line(report.render_text(), "dec ").endswith(
        "dec Module · partly frozen · train · params changed 2/3 · all 2 trainable params in the optimizer · "
        "emb.weight tied to enc.0.weight"), str(report)
    assert {m.name: m.tied for m in report.modules if m.tied} == {"dec": {"emb.weight": "enc.0.weight"}}


class EncoderDecoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Embedding(20, 8), nn.Linear(8, 8))
        self.decoder = nn.Sequential(nn.Embedding(20, 8), nn.Linear(8, 8))
        self.decoder[0].weight = self.encoder[0].weight
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        return self.head(self.decoder(x) + self.encoder(x))


def test_a_subtree_holding_a_weight_tied_outside_it_is_not_folded_away():
    torch.manual_seed(0)
    model = EncoderDecoder()
    model.encoder.requires_grad_(False)
    model.decoder.requires_grad_(False)
    report = audit(model, torch.optim.SGD(model.head.parameters(), lr=0.1), batch=torch.randint(0, 20, (4,)))
    text = report.render_text()
    assert report.ok, text
    # the encoder folds (the tie's other end is outside it, in the decoder); the decoder shows its parts
    assert _line(text, "encoder ").endswith("encoder Sequential · frozen · train · params changed 0/3 · "
                                            "2 submodules, all frozen"), text
    assert _line(text, "decoder ").endswith("decoder Sequential · frozen · train · params changed 0/3"), text
    assert _line(text, "decoder.0 ").endswith("weight tied to encoder.0.weight"), text
    # a tie inside a subtree that folds whole tells nothing the folded line does not: it is one line
    outer = nn.Sequential(model, nn.Linear(2, 2))
    model.requires_grad_(False)
    report = audit(outer, torch.optim.SGD(outer[1].parameters(), lr=0.1), batch=torch.randint(0, 20, (4,)))
    text = report.render_text()
    assert _line(text, "0 ").endswith("0 EncoderDecoder · frozen · train · params changed 0/7 · "
                                      "7 submodules, all frozen"), text
    assert "tied" not in text and {m.name: m.tied for m in report.modules if m.tied} == {
        "0.decoder.0": {"weight": "0.encoder.0.weight"}}


# ---------------------------------------------------------------- folded subtrees
def test_a_folded_line_counts_the_modules_json_lists_under_it_and_runs_count_each():
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(transformers.BertConfig(
        num_hidden_layers=4, hidden_size=32, num_attention_heads=2, intermediate_size=64, vocab_size=100))
    model.bert.embeddings.requires_grad_(False)
    for layer in model.bert.encoder.layer[:2]:
        layer.requires_grad_(False)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    report = audit(model, opt, batch={"input_ids": torch.randint(0, 100, (2, 6)), "labels": torch.tensor([0, 1])},
                   loss_fn=lambda out, batch: out.loss)
    text = report.render_text()
    data = report.to_dict()

    def under(prefix: str) -> list[dict]:
        return [m for m in data["modules"] if m["name"].startswith(prefix + ".")]

    assert len(under("bert.embeddings")) == 5
    assert _line(text, "bert.embeddings ").endswith(
        "bert.embeddings BertEmbeddings · frozen · train · params changed 0/5 · buffers changed 0/2 · "
        "5 submodules, all frozen"), text
    # a run of numbered siblings: its counts are each one's, as JSON lists each
    layer0 = next(m for m in data["modules"] if m["name"] == "bert.encoder.layer.0")
    assert (layer0["params"], layer0["params_changed"], len(under("bert.encoder.layer.0"))) == (16, 0, 17)
    assert _line(text, "bert.encoder.layer.0-1 ").endswith(
        "bert.encoder.layer.0-1 (x2) BertLayer · frozen · train · params changed 0/16 each · "
        "17 submodules each, all frozen"), text
    assert _line(text, "bert.encoder.layer.2-3 ").endswith(
        "params changed 16/16 each · all 16 trainable params in the optimizer · 17 submodules each, all trainable"), text
    assert "alike" not in text
    # a line that stands for one module alone says nothing of submodules, nor "each"
    assert _line(text, "classifier ").endswith("classifier Linear · trainable · train · params changed 2/2 · "
                                               "all 2 trainable params in the optimizer"), text


def test_a_folded_subtree_of_buffers_only_says_it_holds_no_parameters():
    from torchvision.ops import FrozenBatchNorm2d

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.Sequential(FrozenBatchNorm2d(4), FrozenBatchNorm2d(4)))
    opt = torch.optim.SGD(model[0].parameters(), lr=0.1)
    report = audit(model, opt, batch=torch.randn(2, 4), loss_fn=lambda out, batch: out.sum(),
                   step_fn=lambda m, o, b: (m[0](b).sum().backward(), o.step(), o.zero_grad()))
    text = report.render_text()
    assert _line(text, "1 ").endswith("1 Sequential · no params · train · buffers changed 0/8 · "
                                      "2 submodules, no parameters"), text


def test_a_subtree_alike_kind_by_kind_is_one_line_and_verbose_spells_it_out():
    # every BatchNorm frozen in eval(), every conv trained (the freeze_bn pattern): 77 lines before
    torchvision = pytest.importorskip("torchvision")
    model = torchvision.models.resnet50(num_classes=4)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.requires_grad_(False)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01)
    with freezelint.watch() as w:
        for _ in range(2):
            model.train()
            for m in model.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.eval()
            model(torch.randn(2, 3, 32, 32)).sum().backward()
            opt.step()
            opt.zero_grad()
    text = w.report.render_text()
    assert w.report.ok and len(text.splitlines()) <= 10, text
    assert ("layer3 Sequential · partly frozen · train · params changed 19/57 · buffers changed 0/57 · all 19 "
            "trainable params in the optimizer · 38 layers alike by kind: Conv2d (19) trainable, train; BatchNorm2d (19) frozen, eval") in text
    w.report.verbose = True
    assert len(w.report.render_text().splitlines()) > 150


def test_near_miss_a_kind_in_two_states_is_not_folded_by_kind():
    # layer4's last block unfrozen: its Conv2d are trained there and frozen elsewhere in layer4
    torchvision = pytest.importorskip("torchvision")
    model = torchvision.models.resnet18(num_classes=4)
    model.requires_grad_(False)
    model.layer4[1].requires_grad_(True)
    model.fc.requires_grad_(True)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01)
    with freezelint.watch() as w:
        for _ in range(2):
            model(torch.randn(2, 3, 32, 32)).sum().backward()
            opt.step()
            opt.zero_grad()
    text = w.report.render_text()
    assert "layer4.0 BasicBlock · frozen" in text and "layer4.1 BasicBlock · trainable" in text, text
    assert "layer4 Sequential" in text and "alike by kind" not in text.split("layer4 Sequential")[1].splitlines()[0]


class _Stem(nn.Module):
    """conv1, bn1, conv2, bn2: the layout of a small backbone."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(4, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(4)

    def forward(self, x):
        return self.bn2(self.conv2(self.bn1(self.conv1(x))))


class _Stems(nn.Module):
    def __init__(self, blocks: int):
        super().__init__()
        self.backbone = nn.Sequential(*[_Stem() for _ in range(blocks)]) if blocks > 1 else _Stem()
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.backbone(x).mean(dim=(2, 3)))


def _watch_conv2_unfrozen(blocks: int) -> str:
    """Every conv2 trained, every conv1 and BatchNorm frozen (BatchNorm in eval)."""
    model = _Stems(blocks)
    model.backbone.requires_grad_(False)
    for m in model.modules():
        if isinstance(m, _Stem):
            m.conv2.requires_grad_(True)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    with freezelint.watch() as w:
        for _ in range(2):
            model.train()
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
            model(torch.randn(2, 4, 6, 6)).sum().backward()
            opt.step()
            opt.zero_grad()
    assert w.report.ok, w.report.render_text()
    return w.report.render_text()


def test_a_class_split_by_a_lone_layer_is_shown_layer_by_layer_not_as_alike():
    # conv1 frozen, conv2 trained, once each: a line "alike by kind" listing Conv2d twice in two
    # states would say the opposite of what it shows; the four layers are spelled out instead
    text = _watch_conv2_unfrozen(blocks=1)
    assert "alike" not in text, text
    assert "backbone.conv1 Conv2d · frozen" in _line(text, "backbone.conv1 "), text
    assert "backbone.conv2 Conv2d · trainable" in _line(text, "backbone.conv2 "), text
    assert "backbone.bn1 BatchNorm2d · frozen · eval" in _line(text, "backbone.bn1 "), text


def test_a_class_split_by_name_in_repeated_blocks_says_alike_by_kind_and_name():
    # three blocks, each with its conv2 trained: the pattern repeats by name, one line says so
    text = _watch_conv2_unfrozen(blocks=3)
    assert _line(text, "backbone ").endswith(
        "12 layers alike by kind and name: Conv2d (3: conv1) frozen, train; Conv2d (3: conv2) trainable, train; "
        "BatchNorm2d (6) frozen, eval"), text
    assert "alike by kind:" not in text, text


class _LoRALinear(nn.Module):
    """A hand-written LoRA layer: its own A and B Parameters beside a frozen base Linear."""

    def __init__(self, base: nn.Linear, r: int = 2):
        super().__init__()
        self.base = base.requires_grad_(False)
        self.A = nn.Parameter(torch.randn(r, base.in_features) * 0.1)
        self.B = nn.Parameter(torch.zeros(base.out_features, r))

    def forward(self, x):
        return self.base(x) + x @ self.A.t() @ self.B.t()


class _LoRABlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln = nn.LayerNorm(8).requires_grad_(False)
        self.q, self.v = _LoRALinear(nn.Linear(8, 8)), _LoRALinear(nn.Linear(8, 8))

    def forward(self, x):
        return x + self.q(self.ln(x)) * self.v(x)


def test_a_line_alike_by_kind_names_the_modules_that_hold_trained_parameters_directly():
    # every Linear and LayerNorm frozen, yet 8 parameters trained: the LoRALinear modules' own A
    # and B, which the line must account for (it listed only the frozen leaves)
    torch.manual_seed(0)
    model = nn.Sequential(_LoRABlock(), _LoRABlock())
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    with freezelint.watch() as w:
        for _ in range(2):
            loss = model(torch.randn(4, 8)).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    text = w.report.render_text()
    assert w.report.ok, text
    assert _line(text, "0-1 (x2) ").endswith(
        "params changed 4/10 each · all 4 trainable params in the optimizer · 5 layers alike by kind: LayerNorm (1) frozen, train; "
        "_LoRALinear (2, own A, B) trainable, train; Linear (2) frozen, train"), text
