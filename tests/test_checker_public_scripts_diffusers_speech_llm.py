"""The checker on patterns from public diffusers, speech, LLM and detection training scripts."""

from __future__ import annotations

import textwrap

import pytest

from freezelint.check.engine import check_source


def _found(src: str, code: str):
    return [d for d in check_source(textwrap.dedent(src), "train.py", select=[code])]


# ------------------------------------------------- FZ102: a processor called like a layer is no Module
WAV2VEC2 = """
from torch import nn
from transformers import {extractor}, Wav2Vec2Config, Wav2Vec2Model


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.processor = {built}
        self.model = Wav2Vec2Model(Wav2Vec2Config())
        self.processor.requires_grad = False
        self.model.requires_grad = False
        self.classifier = nn.Linear(32, 7)

    def forward(self, x):
        values = self.processor(x, return_tensors="pt", sampling_rate=16000).input_values[0]
        return self.classifier(self.model(values).last_hidden_state.mean(1))
"""


@pytest.mark.parametrize("extractor,built", [
    ("Wav2Vec2FeatureExtractor", "Wav2Vec2FeatureExtractor(sampling_rate=16000)"),
    ("Wav2Vec2Processor", 'Wav2Vec2Processor.from_pretrained("facebook/wav2vec2-base")'),
    ("AutoTokenizer", 'AutoTokenizer.from_pretrained("bert-base-uncased")'),
])
def test_fz102_skips_a_processor_the_forward_calls(extractor, built):
    found = _found(WAV2VEC2.format(extractor=extractor, built=built), "FZ102")
    assert [(d.row, d.message.split("`")[1]) for d in found] == [(12, "self.model")]
    assert found[0].fix["applicability"] == "safe"  # a transformers model class: a Module for sure


def test_fz102_on_an_attribute_known_only_as_called_offers_no_safe_fix():
    src = """
    from torch import nn

    class Net(nn.Module):
        def __init__(self, cfg):
            super().__init__()
            self.encoder = build_encoder(cfg)  # unknown: a Module only because forward() calls it
            self.encoder.requires_grad = False

        def forward(self, x):
            return self.encoder(x)
    """
    (d,) = _found(src, "FZ102")
    assert d.fix["applicability"] == "unsafe"


# ------------------------------------- FZ203: packages installed into the tree are not the project
MODEL = """\
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU())

    def train(self, mode=True):
        super().train(mode)
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
        return self
"""


@pytest.mark.parametrize("marker,want", [
    ("lib-1.0.dist-info/METADATA", []),  # `pip install --target pkgs lib`
    ("pyvenv.cfg", []),  # a virtual environment under any name
    (None, [12]),  # a folder of the project's own code: its SyncBatchNorm can reach the model
])
def test_fz203_does_not_read_packages_installed_into_the_tree(cli, tmp_path, marker, want):
    import json

    (tmp_path / "model.py").write_text(MODEL)
    pkgs = tmp_path / "pkgs"
    (pkgs / "lib").mkdir(parents=True)
    (pkgs / "lib" / "sync.py").write_text(
        "import torch\nfrom model import Net\n\nm = torch.nn.SyncBatchNorm.convert_sync_batchnorm(Net())\n")
    if marker:
        (pkgs / marker).parent.mkdir(parents=True, exist_ok=True)
        (pkgs / marker).write_text("")
    r = cli(tmp_path, "check", "--no-cache", "--format", "json", "--select", "FZ203", "model.py")
    assert [d["location"]["row"] for d in json.loads(r.out)] == want


# ---------------------- run: torch's "nothing to train" failures get what the watch saw about freezing
EVERYTHING_FROZEN = """\
import sys
import torch
import torch.nn as nn

model = nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 1))
model.requires_grad_(False)
if sys.argv[1] == "optimizer":
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
else:
    opt = torch.optim.AdamW(model[0].parameters(), lr=1e-3)
    if sys.argv[1] == "no_grad":
        model.requires_grad_(True)
for _ in range(2):
    if sys.argv[1] == "no_grad":
        with torch.no_grad():
            loss = model(torch.tensor([[1, 2]])).pow(2).mean()
    else:
        loss = model(torch.tensor([[1, 2]])).pow(2).mean()
    loss.backward()
    opt.step()
    opt.zero_grad()
"""


@pytest.mark.parametrize("mode,hint", [
    ("backward", "every parameter of the models that ran is frozen (Sequential: 0 of 3 parameters trainable)"),
    ("no_grad", "the models that ran hold trainable parameters (Sequential: 3 of 3 parameters trainable), "
                "so the loss was cut from them"),
    ("optimizer", "no parameter reached it: a requires_grad filter over a model frozen whole"),
])
def test_run_explains_torch_failures_that_a_freeze_of_everything_ends_in(cli, tmp_path, mode, hint):
    pytest.importorskip("torch")
    (tmp_path / "train.py").write_text(EVERYTHING_FROZEN)
    r = cli(tmp_path, "run", "train.py", mode)
    assert r.code == 2
    (line,) = r.err.strip().splitlines()
    assert line.startswith("freezelint: error: train.py raised ") and hint in line, line


# ------------------------------- FZ201 advice where the model's own train() override is the culprit
def _backbone_class(nn, super_first):
    class Backbone(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
            self.head = nn.Linear(8, 2)
            self.layers.requires_grad_(False)

        def forward(self, x):
            return self.head(self.layers(x).mean((2, 3)))

        def train(self, mode=True):
            if super_first:
                super().train(mode)
            self.layers.eval()  # mmdet's _freeze_stages
            if not super_first:
                super().train(mode)  # undoes it
            return self

    return Backbone


@pytest.mark.parametrize("super_first", [False, True])
def test_fz201_names_the_models_own_train_override_and_the_order_in_it(super_first):
    torch = pytest.importorskip("torch")
    from torch import nn

    import freezelint

    torch.manual_seed(0)
    model = _backbone_class(nn, super_first)()
    opt = torch.optim.SGD(model.head.parameters(), lr=0.1)
    with freezelint.watch() as w:
        for _ in range(2):
            model.train()
            model(torch.randn(4, 3, 8, 8)).sum().backward()
            opt.step()
            opt.zero_grad()
    if super_first:
        assert w.report.ok, w.report.render_text()
        return
    (f,) = w.report.findings
    assert f.code == "FZ201", w.report.render_text()
    assert f.advice.startswith("`Backbone.train` overrides train(), yet these modules end it in train mode: "
                               "in it, call super().train(mode) first")


# ------------------------- FZ503 on a part run in eval() that no optimizer holds: meant frozen, say so
def test_fz503_on_a_reference_model_in_eval_leads_with_freezing_it():
    torch = pytest.importorskip("torch")
    import copy

    from torch import nn

    import freezelint

    torch.manual_seed(0)
    policy = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    ref_model = copy.deepcopy(policy).eval()  # never frozen, run without no_grad
    opt = torch.optim.AdamW(policy.parameters(), lr=1e-3)
    with freezelint.watch() as w:
        for _ in range(2):
            x = torch.randn(3, 4)
            (policy(x) - ref_model(x)).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
    (f,) = w.report.findings
    assert f.code == "FZ503" and f.target == "ref_model", w.report.render_text()
    assert "ran in eval() and no optimizer holds any of it" in f.message and "FZ303" not in f.message
    assert f.advice.startswith("if it is not meant to train, freeze it (`ref_model.requires_grad_(False)`)")


def test_near_miss_fz503_on_a_part_in_train_mode_keeps_the_optimizer_cause():
    torch = pytest.importorskip("torch")
    from torch import nn

    import freezelint

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    opt = torch.optim.AdamW(model[1].parameters(), lr=1e-3)  # the first layer left out, in train mode
    with freezelint.watch() as w:
        for _ in range(2):
            model(torch.randn(3, 4)).sum().backward()
            opt.step()
            opt.zero_grad()
    (f,) = w.report.findings
    assert f.code == "FZ503" and "FZ303 in the code" in f.message, w.report.render_text()


# ------------------------------ a note on norm layers frozen in eval() before they ever saw data
def _pose_net(nn, torch, pretrained=True, loaded_without_count=False):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
            self.new_block = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
            self.head = nn.Conv2d(8, 2, 1)
            with torch.no_grad():
                if pretrained:  # the checkpoint's statistics
                    self.stem[1].running_var.uniform_(0.5, 2)
                    self.stem[1].num_batches_tracked.fill_(1000)
                if loaded_without_count:  # an old checkpoint: statistics, no count
                    self.new_block[1].running_var.uniform_(0.5, 2)

        def forward(self, x):
            return self.head(self.new_block(self.stem(x)))

        def train(self, mode=True):  # DeepLabCut's blanket BatchNorm freeze
            super().train(mode)
            for m in self.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.requires_grad_(False)
                    m.eval()
            return self

    return Net()


@pytest.mark.parametrize("pretrained,loaded_without_count,noted", [
    (True, False, True),  # the new block's BatchNorm never saw data
    (False, False, False),  # every norm layer fresh (weights=None, a test): nothing tells a mistake apart
    (True, True, False),  # statistics loaded from a checkpoint that lacks the count
])
def test_a_note_on_norm_layers_frozen_before_they_saw_data(pretrained, loaded_without_count, noted):
    torch = pytest.importorskip("torch")
    from torch import nn

    import freezelint

    torch.manual_seed(0)
    model = _pose_net(nn, torch, pretrained, loaded_without_count)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    model.train()
    with freezelint.watch() as w:
        for _ in range(2):
            model(torch.randn(2, 3, 8, 8)).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
    notes = [n for n in w.report.notes if "created with" in n]
    assert bool(notes) is noted, w.report.render_text()
    if noted:
        assert notes[0].startswith("new_block.1 is in eval() with the statistics it was created with")
        report = freezelint.audit(model, opt, batch=torch.randn(2, 3, 8, 8), loss_fn=lambda out, b: out.pow(2).mean())
        assert any("new_block.1 is in eval()" in n for n in report.notes), report.render_text()


# ------------- a module built anew after the optimizer, the old one kept alive: one FZ302, not two
@pytest.mark.parametrize("same_shape", [True, False])
def test_a_module_rebuilt_after_the_optimizer_with_the_old_one_alive_is_fz302(same_shape):
    torch = pytest.importorskip("torch")
    from torch import nn

    import freezelint

    torch.manual_seed(0)
    kept = []  # what accelerate's prepare() keeps
    backbone = nn.Linear(8, 8)
    mlp = nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 8))
    kept.append(mlp)
    opt = torch.optim.AdamW([{"params": backbone.parameters()}, {"params": mlp.parameters()}], lr=1e-3)
    # rebuilt (DoodlePix); the near-miss: a different module left out, and another one held but idle
    mlp = nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 8)) if same_shape else nn.Linear(1, 8)
    with freezelint.watch() as w:
        for _ in range(2):
            (backbone(torch.randn(4, 8)) + mlp(torch.rand(4, 1))).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
    codes = sorted(f.code for f in w.report.findings)
    if not same_shape:
        assert codes == ["FZ503", "FZ505"], w.report.render_text()
        return
    (f,) = w.report.findings
    assert f.code == "FZ302" and f.target == "mlp", w.report.render_text()
    assert "mlp was built anew after the optimizer was built" in f.message and "the same 4 shapes" in f.message


# ------------------------------------------- FZ202: cues in comments and docstrings silence nothing
STAGES = '''
{doc}
import torch
import torchvision

backbone = torchvision.models.resnet50({arg})
for name, parameter in backbone.named_parameters():
    if all(not name.startswith(layer) for layer in ["layer4"]):
        parameter.requires_grad_(False)
opt = torch.optim.SGD([p for p in backbone.parameters() if p.requires_grad], lr=0.01)
backbone.train()  {comment}
for x in loader:
    backbone(x).sum().backward()
    opt.step()
'''


@pytest.mark.parametrize("doc, arg, comment, fires", [
    ('"""Like torchvision, minus its FrozenBatchNorm2d and norm_layer."""', "", "# no EMA, no track_running_stats", True),
    ("", "", "# momentum: m.momentum = 0 was tried", True),
    ("", "norm_layer=torchvision.ops.misc.FrozenBatchNorm2d", "", False),  # in the code: handled
    ("", "", "; ema = torch.optim.swa_utils.AveragedModel(backbone)", False),
])
def test_fz202_reads_batchnorm_cues_in_code_only(doc, arg, comment, fires):
    found = _found(STAGES.format(doc=doc, arg=arg, comment=comment), "FZ202")
    assert bool(found) is fires, found


def test_code_only_blanks_comments_and_docstrings_in_place():
    from freezelint.check.whole_model import _code_only

    text = textwrap.dedent('''
        """Module docstring: FrozenBatchNorm."""
        x = f(norm_layer="keep")  # a comment: ema
        def g():
            """Docstring
            over lines: track_running_stats."""
            return "FrozenBatchNorm"
        ''')
    code = _code_only(text)
    assert len(code) == len(text) and code.count("\n") == text.count("\n")
    assert "Module docstring" not in code and "a comment" not in code and "over lines" not in code
    assert 'norm_layer="keep"' in code and 'return "FrozenBatchNorm"' in code
    assert _code_only("def f(:\n  '''x") == "def f(:\n  '''x"  # unreadable: kept whole (silence, as before)


# --------------------------- FZ505: a frozen all-zero layer blocks the gradient of what runs before it
def _branch(zero_conv_trains: bool, zero: bool = True):
    """A LoRA layer behind a zero-initialised output layer (ControlNet's zero convolution), that
    layer frozen or trained, zero or not, and AdamW (weight decay 0.01) over what trains."""
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class LoRALinear(nn.Module):
        def __init__(self, d=8, r=2):
            super().__init__()
            self.base = nn.Linear(d, d).requires_grad_(False)
            self.lora_A = nn.Linear(d, r, bias=False)
            self.lora_B = nn.Linear(r, d, bias=False)
            nn.init.zeros_(self.lora_B.weight)

        def forward(self, x):
            return self.base(x) + self.lora_B(self.lora_A(x))

    class ControlBranch(nn.Module):
        def __init__(self):
            super().__init__()
            self.block = LoRALinear()
            self.zero_conv = nn.Linear(8, 8)
            if zero:
                nn.init.zeros_(self.zero_conv.weight)
                nn.init.zeros_(self.zero_conv.bias)
            self.zero_conv.requires_grad_(zero_conv_trains)

        def forward(self, x):
            return self.zero_conv(self.block(x))

    torch.manual_seed(0)
    branch = ControlBranch()
    return branch, torch.optim.AdamW([p for p in branch.parameters() if p.requires_grad], lr=1e-3)


def _watched_branch(zero_conv_trains: bool, zero: bool = True):
    """_branch's three steps watched."""
    import torch

    import freezelint

    branch, opt = _branch(zero_conv_trains, zero)
    with freezelint.watch() as w:
        for _ in range(3):
            branch(torch.randn(4, 8)).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
    return w.report


def test_fz505_names_the_frozen_zero_layer_and_the_lora_a_that_only_decayed():
    report = _watched_branch(zero_conv_trains=False)
    [f] = report.findings
    assert f.code == "FZ505" and f.names == ["block.lora_A.weight", "block.lora_B.weight"], report.render_text()
    assert "block.lora_A.weight moved only by weight decay" in f.message
    assert "the frozen zero_conv ran holding only zeros" in f.message and "train zero_conv" in f.advice


@pytest.mark.parametrize("zero_conv_trains, zero", [(True, True), (False, False)])
def test_near_miss_fz505_zero_layer_that_trains_or_a_frozen_layer_that_is_not_zero(zero_conv_trains, zero):
    # ControlNet as meant (its zero convolution trains); a frozen layer holding weights passes gradients
    report = _watched_branch(zero_conv_trains, zero)
    assert report.ok, report.render_text()


@pytest.mark.parametrize("zero_conv_trains, zero", [(False, True), (True, True), (False, False)])
def test_audit_judges_the_zero_layer_case_as_the_watch_does(zero_conv_trains, zero):
    """audit() reads the last step's grads as the watch does at its closing step (it counted a
    trainable parameter's grad as "nonzero" unread, and said OK behind a frozen all-zero layer)."""
    import torch

    import freezelint

    watched = _watched_branch(zero_conv_trains, zero)
    branch, opt = _branch(zero_conv_trains, zero)
    audited = freezelint.audit(branch, opt, steps=2, batch=torch.randn(4, 8))  # the watch's window
    assert [(f.code, f.names, f.message) for f in audited.findings] == \
        [(f.code, f.names, f.message) for f in watched.findings], audited.render_text()
    assert [p.grad for p in audited.params] == [p.grad for p in watched.params]
    assert audited.ok == (zero_conv_trains or not zero)
    step_fn = freezelint.audit(branch, opt, steps=2, batch=torch.randn(4, 8), step_fn=lambda m, o, b: (
        m(b).pow(2).mean().backward(), o.step(), o.zero_grad()))
    assert [f.code for f in step_fn.findings] == [f.code for f in audited.findings], step_fn.render_text()
