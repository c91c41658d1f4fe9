"""The runtime half on a real CUDA device: fingerprints computed there, audit() and watch() over CUDA
steps (plain, compiled with inductor, Lightning on the GPU, the HF Trainer on the GPU), and
`freezelint run` on a CUDA script. Every test skips without a device; benchmarks/cuda_check.sh
runs them (`pytest -m cuda`) with the timing benchmarks on a GPU host."""

from __future__ import annotations

import contextlib
import random
import textwrap
import warnings

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import freezelint  # noqa: E402
from conftest import run_subprocess  # noqa: E402

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def net(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))


@contextlib.contextmanager
def deterministic():
    """cuDNN and cuBLAS kernels that give the same bits on every run (a comparison of two runs needs them)."""
    old = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = old


def _tensors(device: str) -> list[torch.Tensor]:
    """Every dtype and layout the fingerprint reads differently, built on the CPU from one seed."""
    g = torch.Generator().manual_seed(0)
    big = torch.randn(3, 1000, 129, generator=g).to(device)  # its views are taken on the device: views of it there
    views = [big, big[1], big[:, 3:, 5], big.transpose(0, 2)]
    out = [torch.randn(7, generator=g), torch.randn(0),
           torch.tensor(-0.0), torch.tensor(float("nan")), torch.randn(5, 3, generator=g).half(),
           torch.randn(2049, generator=g).bfloat16(), torch.randn(33, generator=g).double(),
           torch.randint(-128, 127, (1001,), generator=g, dtype=torch.int8),
           torch.randint(0, 2, (77,), generator=g).bool(), torch.tensor(5),
           torch.randn(9, 2, generator=g, dtype=torch.complex64),
           torch.full((64 * 300 + 3,), -1, dtype=torch.int32)]  # every word 2**64 - 1: the sums wrap
    return views + [t.to(device) for t in out]


def test_cuda_fingerprints_equal_the_cpu_ones_bit_for_bit():
    from freezelint.runtime.fingerprint import fingerprints

    cpu, cuda = _tensors("cpu"), _tensors("cuda")
    assert fingerprints(cuda) == fingerprints(cpu)
    before = fingerprints(cuda)
    flat = cuda[0].view(-1)
    at = 1 * 1000 * 129 + 10 * 129 + 5  # big[1, 10, 5]: inside the views big[1], big[:, 3:, 5] and the transpose
    flat[at] = torch.nextafter(flat[at], torch.tensor(1.0, device="cuda"))  # one ulp
    cuda[6].neg_()  # -0.0 -> 0.0
    after = fingerprints(cuda)
    assert [i for i, (a, b) in enumerate(zip(before, after)) if a != b] == [0, 1, 2, 3, 6]



def test_cuda_recorded_passes_give_the_eager_fingerprints_and_see_every_change():
    """From a layout's third pass its reductions replay as one CUDA graph; every pass must still
    equal the CPU's fingerprints of the same values, also for a new Fingerprinter over the same
    tensors (a later window), and a tensor moved since is read afresh, not through the replay."""
    import gc

    from freezelint.runtime import fingerprint as F

    tensors = _tensors("cuda")

    def on_cpu(tensors):
        return F.fingerprints([t.cpu() for t in tensors])

    fp = F.Fingerprinter(tensors)
    group = fp.groups[0][1]
    for i in range(6):  # eager, eager, recorded at the third, then replayed
        assert fp() == on_cpu(tensors), i
        if tensors[i].numel():
            tensors[i].add_(1 if i % 2 else -1)  # the big one, its views, then small ones
    assert isinstance(group, F._DeviceGroup) and group.captured is not None
    later = F.Fingerprinter(tensors)
    assert isinstance(later.groups[0][1], F._ReplayGroup)
    tensors[0][1, 10, 5] += 1  # seen through its views too
    assert later() == fp() == on_cpu(tensors)
    tensors[4].data = tensors[4].data.clone()  # another storage: the recorded addresses are stale for it
    tensors[4].add_(1)
    assert later() == on_cpu(tensors)
    assert not isinstance(later.groups[0][1], F._ReplayGroup)
    recorded = len(F._GRAPHS)
    del tensors, fp, group, later
    gc.collect()
    assert len(F._GRAPHS) < recorded  # the graph went with the tensors it reads

def test_cuda_audit_finds_an_undone_bn_freeze_and_restores_model_optimizer_and_both_rngs():
    model = net().cuda()
    model[:2].requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)  # frozen params inside a stateful optimizer
    model(torch.randn(4, 6, device="cuda")).sum().backward()
    opt.step()  # state on the device for every trainable parameter
    opt.zero_grad()
    batch = torch.randn(8, 6, device="cuda")
    cpu_rng, cuda_rng, py_rng = torch.get_rng_state(), torch.cuda.get_rng_state_all(), random.getstate()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    report = freezelint.audit(model, opt, batch=batch, expect_frozen=["0", "1"])  # its dropout draws on the device
    assert report.device.startswith("cuda") and report.restored
    assert "FZ502" in [f.code for f in report.findings], report.render_text()  # the frozen BN's statistics moved
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert torch.equal(torch.get_rng_state(), cpu_rng) and random.getstate() == py_rng
    assert all(torch.equal(a, b) for a, b in zip(torch.cuda.get_rng_state_all(), cuda_rng))
    assert all(v.is_cuda for s in opt.state.values() for v in s.values() if torch.is_tensor(v) and v.dim())


def test_cuda_watched_resnet_steps_equal_unwatched_ones_and_an_undone_bn_freeze_is_fz201():
    torchvision = pytest.importorskip("torchvision")

    def run(watched: bool, undo: bool):
        torch.manual_seed(0)
        model = torchvision.models.resnet18(weights=None, num_classes=4).cuda()
        model.requires_grad_(False)
        model.fc.requires_grad_(True)
        model.eval()  # the frozen backbone's statistics stay as loaded
        opt = torch.optim.SGD(model.fc.parameters(), lr=0.1, momentum=0.9)
        gen = torch.Generator(device="cuda").manual_seed(1)
        ctx = freezelint.watch(steps=2) if watched else contextlib.nullcontext()
        with deterministic(), ctx:
            for _ in range(3):
                if undo:
                    model.train()  # undoes the eval() that froze BatchNorm
                else:
                    model.fc.train()
                x = torch.randn(4, 3, 32, 32, device="cuda", generator=gen)
                nn.functional.cross_entropy(model(x), torch.arange(4, device="cuda")).backward()
                opt.step()
                opt.zero_grad()
        return model, ctx

    (plain, _), (seen, w) = run(False, False), run(True, False)
    for (n, a), (_, b) in zip(plain.state_dict().items(), seen.state_dict().items()):
        assert torch.equal(a.reshape(-1).view(torch.uint8), b.reshape(-1).view(torch.uint8)), n
    assert w.report.ok and w.report.device.startswith("cuda"), w.report.render_text()
    _, bad = run(True, True)
    assert "FZ201" in [f.code for f in bad.report.findings], bad.report.render_text()


def test_cuda_inductor_compiled_model_is_audited_and_watched_under_its_own_names():
    pytest.importorskip("triton")
    inner = net().cuda()
    inner[:2].requires_grad_(False)
    inner[1].eval()
    opt = torch.optim.SGD(inner[4].parameters(), lr=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = torch.compile(inner)  # inductor: triton kernels on the device
        report = freezelint.audit(model, opt, batch=torch.randn(8, 6, device="cuda"), expect_frozen="0",
                                  expect_trainable="4")
        assert report.restored and report.device.startswith("cuda")
        assert {p.name for p in report.params} == {n for n, _ in inner.named_parameters()}
        with freezelint.watch(expect_frozen="0", expect_trainable="4") as w:
            for _ in range(2):
                model(torch.randn(8, 6, device="cuda")).pow(2).mean().backward()
                opt.step()
                opt.zero_grad()
    assert w.report.ok and w.report.device.startswith("cuda"), w.report.render_text()
    # the audit's steps were under model.train(): the BatchNorm the author froze came back in eval
    assert not inner[1].training


def test_cuda_graphs_of_the_model_and_of_the_watch_live_together():
    """A model compiled with mode="reduce-overhead" runs as CUDA graphs of its own; the watch records
    its fingerprint passes as another (from the third pass: the second window). Three windows in a
    row judge the same frozen layer every time, and the weights end equal, bit for bit, to those of
    the same steps unwatched."""
    pytest.importorskip("triton")

    def train(watched: bool):
        torch.manual_seed(0)
        inner = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3)).cuda()
        inner[0].requires_grad_(False)
        opt = torch.optim.Adam(inner[2].parameters(), lr=0.1)
        model = torch.compile(inner, mode="reduce-overhead")
        data = torch.randn(8, 6, device="cuda")
        reports = []
        for _ in range(3):
            with freezelint.watch(expect_frozen="0") if watched else contextlib.nullcontext() as w:
                for _ in range(2):
                    model(data).pow(2).mean().backward()
                    opt.step()
                    opt.zero_grad()
            if watched:
                reports.append(w.report)
        torch.cuda.synchronize()
        return [p.detach().cpu().clone() for p in inner.parameters()], reports

    from freezelint.runtime import fingerprint as F

    with warnings.catch_warnings(), deterministic():
        warnings.simplefilter("ignore")
        plain, _ = train(False)
        seen, reports = train(True)
    assert all(torch.equal(a, b) for a, b in zip(plain, seen))
    assert [r.ok for r in reports] == [True] * 3, reports[-1].render_text()
    assert not F._Captured.broken  # recorded beside the model's own graphs, not given up
    moved = [[p.name for p in r.params if p.changed] for r in reports]
    assert moved == [["2.weight", "2.bias"]] * 3

@pytest.mark.parametrize("forget", [False, True])
def test_cuda_lightning_fit_on_the_gpu_is_watched(forget):
    from test_watch_frameworks import _lightning_module

    # forget: the backbone trainable, the optimizer over the head alone
    L, module = _lightning_module(freeze_in_init=not forget, forget_in_optimizer=forget)
    torch.manual_seed(0)
    data = torch.utils.data.TensorDataset(torch.randn(24, 6), torch.randint(0, 3, (24,)))
    trainer = L.Trainer(max_steps=3, accelerator="gpu", devices=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0)
    with freezelint.watch() as w, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(module, torch.utils.data.DataLoader(data, batch_size=4))
    assert w.report.device.startswith("cuda"), w.report.render_text()
    codes = [(f.code, f.target) for f in w.report.findings]
    assert codes == ([("FZ503", "backbone")] if forget else []), w.report.render_text()


def test_cuda_hf_trainer_on_the_gpu_is_watched(tmp_path):
    transformers = pytest.importorskip("transformers")
    from transformers import Trainer, TrainingArguments

    from test_watch_frameworks import tiny_bert

    model, data = tiny_bert()
    model.bert.embeddings.requires_grad_(False)
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=3, per_device_train_batch_size=4, report_to=[],
                             save_strategy="no", logging_strategy="no", disable_tqdm=True, dataloader_num_workers=0)
    trainer = Trainer(model=model, args=args, train_dataset=data)
    transformers.logging.set_verbosity_error()
    with freezelint.watch(expect_frozen=["bert.embeddings"], expect_trainable=["classifier"]) as w:
        trainer.train()
    assert w.report.ok and w.report.device.startswith("cuda"), w.report.render_text()
    assert next(model.parameters()).is_cuda


SCRIPT = """
import sys
import torch, torch.nn as nn
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3)).cuda()
model[0].requires_grad_(False)
opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
if "--bug" in sys.argv:
    model[2] = nn.Linear(16, 3).cuda()  # replaced after the optimizer was built: never trained
for step in range(4):
    nn.functional.cross_entropy(model(torch.randn(8, 6, device="cuda")), torch.zeros(8, dtype=torch.long,
                                device="cuda")).backward()
    opt.step()
    opt.zero_grad()
"""


@pytest.mark.parametrize("bug", [False, True])
def test_cuda_freezelint_run_judges_a_cuda_script(tmp_path, bug):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(SCRIPT))
    r = run_subprocess(tmp_path, "run", "--format", "json", str(script), *(["--bug"] if bug else []))
    assert r.code == (1 if bug else 0), r.out + r.err
    assert '"device": "cuda' in r.out, r.out
    assert ('"FZ302"' in r.out) == bug, r.out


def _train_on_cuda(model, opt, steps=3, zero=None, sched=None):
    with freezelint.watch(steps=steps) as w:
        for _ in range(steps + 1):
            loss = nn.functional.cross_entropy(model(torch.randn(8, 8, device="cuda")),
                                               torch.randint(0, 2, (8,), device="cuda"))
            opt.zero_grad()
            loss.backward()
            for p in zero.parameters() if zero is not None else ():
                p.grad.zero_()  # a "freeze" by zeroing grads: AdamW's decay still moves them
            opt.step()
            if sched is not None:
                sched.step()
    return w.report


def test_cuda_lazy_layers_zeroed_grads_and_an_lr_zero_group_are_judged_on_the_device():
    # What the watch added after its first GPU run, on CUDA tensors: lazy layers made by the window's
    # first forward, an AdamW first moment read on the device, an lr=0 group a scheduler keeps at 0.
    torch.manual_seed(0)
    lazy = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.LazyLinear(2)).cuda()
    report = _train_on_cuda(lazy, torch.optim.SGD(lazy.parameters(), lr=0.1))
    assert report.ok and report.device.startswith("cuda"), report.render_text()
    assert all(r.changed for r in report.params), report.render_text()

    for zero in (True, False):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2)).cuda()
        if not zero:
            model[0].requires_grad_(False)
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2, weight_decay=0.01)
        report = _train_on_cuda(model, opt, zero=model[0] if zero else None)
        assert [(f.code, f.target) for f in report.findings] == ([("FZ505", "0")] if zero else []), \
            report.render_text()

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2)).cuda()
    opt = torch.optim.AdamW([{"params": model[0].parameters(), "lr": 1e-3},
                             {"params": model[2].parameters(), "lr": 0.0}])
    report = _train_on_cuda(model, opt, steps=2, sched=torch.optim.lr_scheduler.StepLR(opt, 5))
    assert [(f.code, f.target) for f in report.findings] == [("FZ304", "2 in param_groups[1]")], report.render_text()
