"""watch() and `freezelint run` with the real frameworks: Lightning, the HF Trainer, torchrun DDP."""

from __future__ import annotations

import gc
import warnings

import pytest

from conftest import needs_gloo

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import freezelint  # noqa: E402


# ---------------------------------------------------------------- Lightning
def _lightning_module(freeze_in_init: bool, forget_in_optimizer: bool):
    L = pytest.importorskip("lightning.pytorch")

    class Classifier(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.backbone = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU())
            self.head = nn.Linear(16, 3)
            if freeze_in_init:
                self.backbone.requires_grad_(False)
                self.backbone.eval()  # Lightning keeps modules in eval at fit start (PYTORCH_FACTS)

        def forward(self, x):
            return self.head(self.backbone(x))

        def training_step(self, batch, _):
            x, y = batch
            return nn.functional.cross_entropy(self(x), y)

        def configure_optimizers(self):
            params = self.head.parameters() if forget_in_optimizer else \
                [p for p in self.parameters() if p.requires_grad]
            return torch.optim.Adam(params, lr=1e-2)

    return L, Classifier()


def _fit(L, module, steps: int = 3):
    data = torch.utils.data.TensorDataset(torch.randn(24, 6), torch.randint(0, 3, (24,)))
    loader = torch.utils.data.DataLoader(data, batch_size=4)
    trainer = L.Trainer(max_steps=steps, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(module, loader)


def _fit_epochs(L, module, callback, epochs: int) -> None:
    """`epochs` epochs of 2 steps each (8 samples, batches of 4) with one callback, on the CPU."""
    data = torch.utils.data.TensorDataset(torch.randn(8, 6), torch.randint(0, 3, (8,)))
    trainer = L.Trainer(max_epochs=epochs, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                        callbacks=[callback])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(module, torch.utils.data.DataLoader(data, batch_size=4))


def tiny_bert():
    """A config-only one-layer BERT classifier (no download) and 12 samples for the HF Trainer."""
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=16, num_labels=2)
    data = [{"input_ids": torch.randint(1, 50, (8,)), "attention_mask": torch.ones(8, dtype=torch.long),
             "labels": torch.tensor(i % 2)} for i in range(12)]
    return BertForSequenceClassification(config), data


def test_lightning_fit_with_closures_is_judged_and_clean():
    torch.manual_seed(0)
    L, module = _lightning_module(freeze_in_init=True, forget_in_optimizer=False)
    with freezelint.watch(expect_frozen=["backbone"], expect_trainable=["head"]) as w:
        _fit(L, module)
    report = w.report
    assert report.ok, report.render_text()
    assert {p.name for p in report.params if p.changed} == {"head.weight", "head.bias"}
    assert report.optimizer == "Adam"


def test_lightning_fit_trainable_layer_left_out_of_the_optimizer_is_fz503():
    torch.manual_seed(0)
    L, module = _lightning_module(freeze_in_init=False, forget_in_optimizer=True)
    with freezelint.watch() as w:
        _fit(L, module)
    fz503 = [f for f in w.report.findings if f.code == "FZ503"]
    assert [f.target for f in fz503] == ["backbone"], w.report.render_text()


def test_lightning_base_finetuning_make_trainable_is_fz503_with_lightnings_own_fix():
    # BaseFinetuning.make_trainable unfreezes without adding to the optimizer: the
    # finding names unfreeze_and_add_param_group
    L = pytest.importorskip("lightning.pytorch")
    from lightning.pytorch.callbacks import BaseFinetuning

    class Unfreeze(BaseFinetuning):
        def freeze_before_training(self, pl_module):
            self.freeze(pl_module.backbone)

        def finetune_function(self, pl_module, epoch, optimizer):
            if epoch == 1:
                self.make_trainable(pl_module.backbone)

    torch.manual_seed(0)
    _, module = _lightning_module(freeze_in_init=False, forget_in_optimizer=False)
    with freezelint.watch(steps=4) as w:
        _fit_epochs(L, module, Unfreeze(), epochs=2)
    fz503 = [f for f in w.report.findings if f.code == "FZ503"]
    assert fz503 and "unfreeze_and_add_param_group" in fz503[0].advice and "Unfreeze" in fz503[0].advice, \
        w.report.render_text()
    # without such a callback alive the advice stays the plain one
    del module, w
    gc.collect()
    torch.manual_seed(0)
    L, plain = _lightning_module(freeze_in_init=False, forget_in_optimizer=True)
    with freezelint.watch() as w:
        _fit(L, plain)
    assert all("unfreeze_and_add_param_group" not in f.advice for f in w.report.findings)


@pytest.mark.parametrize("train_bn", [False, True])
def test_lightning_unfreeze_and_add_param_group_with_train_bn_false_is_fz503_naming_that_cause(train_bn):
    # unfreeze_and_add_param_group(train_bn=False) unfreezes BatchNorm too
    # (make_trainable) but adds only the rest to the optimizer; the advice named the call itself
    L = pytest.importorskip("lightning.pytorch")
    from lightning.pytorch.callbacks import BaseFinetuning

    class Unfreezer(BaseFinetuning):
        def freeze_before_training(self, pl_module):
            self.freeze(pl_module.backbone, train_bn=False)

        def finetune_function(self, pl_module, epoch, optimizer):
            if epoch == 1:
                self.unfreeze_and_add_param_group(pl_module.backbone, optimizer, train_bn=train_bn)

    torch.manual_seed(0)
    _, module = _lightning_module(freeze_in_init=False, forget_in_optimizer=False)
    with freezelint.watch(steps=4) as w:  # 2 steps an epoch: across the unfreeze
        _fit_epochs(L, module, Unfreezer(), epochs=2)
    if train_bn:  # the near-miss: BatchNorm added with the rest
        assert w.report.ok, w.report.render_text()
        return
    (f,) = w.report.findings
    assert f.code == "FZ503" and f.target == "backbone.1", w.report.render_text()
    assert "`unfreeze_and_add_param_group(..., train_bn=False)` did this" in f.advice and "Unfreezer" in f.advice
    assert "pass train_bn=True" in f.advice and "unfreeze with `self.unfreeze_and_add_param_group" not in f.advice


@pytest.mark.parametrize("add", [False, True])
def test_lightning_unfreeze_at_a_later_epoch_is_judged_in_a_later_window(add):
    # the default window (2 steps) closes in epoch 0; the unfreeze at epoch 2 opens another
    L = pytest.importorskip("lightning.pytorch")
    from lightning.pytorch.callbacks import BaseFinetuning

    class Unfreeze(BaseFinetuning):
        def freeze_before_training(self, pl_module):
            self.freeze(pl_module.backbone)

        def finetune_function(self, pl_module, epoch, optimizer):
            if epoch == 2:
                if add:
                    self.unfreeze_and_add_param_group(pl_module.backbone, optimizer)
                else:
                    self.make_trainable(pl_module.backbone)  # the optimizer never hears of it

    torch.manual_seed(0)
    _, module = _lightning_module(freeze_in_init=False, forget_in_optimizer=False)
    with freezelint.watch() as w:
        _fit_epochs(L, module, Unfreeze(), epochs=4)
    first, *later = w.reports
    assert first.ok and len(later) == 1, [r.render_text() for r in w.reports]
    assert later[0].notes[0].startswith("a later window, from step 5: before it,"), later[0].notes
    assert [f.code for f in later[0].findings] == ([] if add else ["FZ503"]), later[0].render_text()


def test_hf_trainer_unfreeze_in_a_callback_at_epoch_1_is_judged_in_a_later_window(tmp_path):
    transformers = pytest.importorskip("transformers")
    from transformers import Trainer, TrainerCallback, TrainingArguments

    class Thaw(TrainerCallback):  # gradual unfreezing: the optimizer was built without the encoder
        def on_epoch_begin(self, args, state, control, model=None, **kwargs):
            if state.epoch and state.epoch >= 1:
                model.bert.encoder.requires_grad_(True)

    model, data = tiny_bert()
    model.bert.requires_grad_(False)
    args = TrainingArguments(output_dir=str(tmp_path), num_train_epochs=2, per_device_train_batch_size=4,
                             report_to=[], save_strategy="no", use_cpu=True, logging_strategy="no",
                             disable_tqdm=True, dataloader_num_workers=0)
    trainer = Trainer(model=model, args=args, train_dataset=data, callbacks=[Thaw()])
    transformers.logging.set_verbosity_error()
    with freezelint.watch() as w:
        trainer.train()
    first, *later = w.reports
    assert first.ok and len(later) == 1, [r.render_text() for r in w.reports]
    (f,) = later[0].findings
    # named at `bert`, the outermost module all of whose trainable parameters it is
    assert f.code == "FZ503" and len(f.names) == 16 and all(n.startswith("bert.encoder.") for n in f.names), \
        later[0].render_text()


@pytest.mark.parametrize("where", ["module", "callback", "near_miss"])
def test_freezing_code_in_a_hook_lightning_2_never_calls_gets_a_note(where):
    # a public script unfroze its encoder in on_epoch_start, which Lightning 2 dropped
    L = pytest.importorskip("lightning.pytorch")
    hook = "on_train_epoch_start" if where == "near_miss" else "on_epoch_start"

    def unfreeze(self, *args):
        module = args[-1] if args else self
        if module.current_epoch == 1:
            module.backbone.requires_grad_(True)

    _, base = _lightning_module(freeze_in_init=True, forget_in_optimizer=False)
    module = type("Classifier", (type(base),), {hook: unfreeze} if where != "callback" else {})()
    callback = type("Unfreeze", (L.Callback,), {hook: unfreeze})() if where == "callback" else L.Callback()
    torch.manual_seed(0)
    with freezelint.watch() as w:
        _fit_epochs(L, module, callback, epochs=1)
    dead = [n for n in w.report.notes if "never calls" in n]
    if where == "near_miss":
        assert dead == [], w.report.notes
        return
    owner = "Unfreeze" if where == "callback" else "Classifier"
    assert len(dead) == 1 and dead[0].startswith(f"`{owner}.on_epoch_start` changes what trains, but Lightning "), dead
    assert "(skipped without a word since 2.0): that code does not run; rename it `on_train_epoch_start`" in dead[0]


def _wrapping_module(L, hook: str | None, freeze_words: bool = True):
    """A LightningModule holding its network as `self.model`, whose `training_step` calls
    `self.model(x)`: the judged model is then the inner network, not the LightningModule."""

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = nn.Sequential(nn.Linear(6, 16), nn.ReLU())
            self.head = nn.Linear(16, 3)

        def forward(self, x):
            return self.head(self.backbone(x))

    def unfreeze(self, *args):
        module = args[-1] if args else self
        module.model.backbone.requires_grad_(True)

    def count(self, *args):  # a dead hook that changes nothing about training
        self.epochs_begun = getattr(self, "epochs_begun", 0) + 1

    class Wrapper(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.model = Net()
            self.model.backbone.requires_grad_(False)

        def training_step(self, batch, _):
            x, y = batch
            return nn.functional.cross_entropy(self.model(x), y)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    return type("Wrapper", (Wrapper,), {hook: unfreeze if freeze_words else count} if hook else {})()


@pytest.mark.parametrize("where", ["module", "callback", "near_miss", "no_freeze_words"])
def test_a_dead_hook_note_also_comes_when_training_step_calls_self_model(where):
    # `self.model(x)` in training_step: the watch judges the inner Net; the note is read off the
    # LightningModule the Trainer fitted around it, and off that trainer's callbacks
    L = pytest.importorskip("lightning.pytorch")
    hook = "on_train_epoch_start" if where == "near_miss" else "on_epoch_start"
    module = _wrapping_module(L, hook if where != "callback" else None, freeze_words=where != "no_freeze_words")
    callback = L.Callback()
    if where == "callback":
        callback = type("Thaw", (L.Callback,), {hook: lambda self, trainer, pl_module:
                                                pl_module.model.backbone.requires_grad_(True)})()
    torch.manual_seed(0)
    with freezelint.watch() as w:
        _fit_epochs(L, module, callback, epochs=1)
    assert {p.name for p in w.report.params} == {"backbone.0.weight", "backbone.0.bias", "head.weight", "head.bias"}
    dead = [n for n in w.report.notes if "never calls" in n]
    if where in ("near_miss", "no_freeze_words"):
        assert dead == [], w.report.notes
        return
    # Lightning 2 really skips the hook: the backbone stayed frozen through the epoch
    assert not any(p.requires_grad for p in module.model.backbone.parameters())
    owner = "Thaw" if where == "callback" else "Wrapper"
    assert dead == [f"`{owner}.on_epoch_start` changes what trains, but Lightning {L.__version__} never calls "
                    "`on_epoch_start` (skipped without a word since 2.0): that code does not run; rename it "
                    "`on_train_epoch_start`"], dead


def test_near_miss_a_lightning_module_no_trainer_runs_gives_no_dead_hook_note():
    # the network inside a LightningModule trained by a plain loop: no Trainer, no hooks to skip
    L = pytest.importorskip("lightning.pytorch")
    module = _wrapping_module(L, "on_epoch_start")
    net = module.model
    opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.1)
    with freezelint.watch() as w:
        for _ in range(2):
            nn.functional.cross_entropy(net(torch.randn(4, 6)), torch.randint(0, 3, (4,))).backward()
            opt.step()
            opt.zero_grad()
    assert w.report.ok and not [n for n in w.report.notes if "never calls" in n], w.report.render_text()


def test_lightning_step_calling_the_parts_judges_the_module_under_its_own_names():
    # training_step calls self.backbone and self.head, never self(x): the LightningModule above
    # them (Lightning's frames hold it) is the one model, so expectations name its parts
    L = pytest.importorskip("lightning.pytorch")

    class Parts(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.backbone = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU())
            self.head = nn.Linear(16, 3)
            self.backbone.requires_grad_(False)

        def training_step(self, batch, _):
            x, y = batch
            return nn.functional.cross_entropy(self.head(self.backbone(x)), y)

        def configure_optimizers(self):
            return torch.optim.Adam(self.head.parameters(), lr=1e-2)

    torch.manual_seed(0)
    with freezelint.watch(expect_frozen=["backbone"], expect_trainable=["head"]) as w:
        _fit(L, Parts())
    report = w.report
    assert {p.name for p in report.params} == {"backbone.0.weight", "backbone.0.bias", "backbone.1.weight",
                                               "backbone.1.bias", "head.weight", "head.bias"}
    # the frozen backbone's BatchNorm in train mode: found under the module's own name
    assert [(f.code, f.target) for f in report.findings] == [("FZ502", "backbone.1")], report.render_text()


def test_near_miss_lightning_step_running_its_model_and_a_loss_module_keeps_the_models_names():
    # a loss module has no parameters: it is no part, so `self.model` stays the model, named as before
    L = pytest.importorskip("lightning.pytorch")

    class Wrapped(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
            self.criterion = nn.CrossEntropyLoss()
            self.model[0].requires_grad_(False)

        def training_step(self, batch, _):
            x, y = batch
            return self.criterion(self.model(x), y)

        def configure_optimizers(self):
            return torch.optim.SGD(self.model[2].parameters(), lr=0.1)

    torch.manual_seed(0)
    with freezelint.watch(expect_frozen="0", expect_trainable="2") as w:
        _fit(L, Wrapped())
    assert w.report.ok, w.report.render_text()
    assert {p.name for p in w.report.params} == {"0.weight", "0.bias", "2.weight", "2.bias"}



def test_lightning_manual_optimization_with_an_optimizer_per_part_is_one_model():
    # one manual_backward, then the backbone's AdamW and the head's SGD step: one model whose
    # parts have their own optimizer, judged under its own names: nothing is FZ503 (the frozen
    # layer the AdamW holds keeps a None grad, which AdamW skips: no FZ504 either)
    L = pytest.importorskip("lightning.pytorch")

    class Split(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.automatic_optimization = False
            self.backbone = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU())
            self.head = nn.Linear(16, 3)
            self.backbone[0].requires_grad_(False)

        def training_step(self, batch, _):
            x, y = batch
            opts = self.optimizers()
            self.manual_backward(nn.functional.cross_entropy(self.head(self.backbone(x)), y))
            for o in opts:
                o.step()
                o.zero_grad()

        def configure_optimizers(self):
            return [torch.optim.AdamW(self.backbone.parameters(), lr=1e-3),
                    torch.optim.SGD(self.head.parameters(), lr=1e-2)]

    torch.manual_seed(0)
    with freezelint.watch() as w:
        _fit(L, Split())
    report = w.report
    assert report.findings == [], report.render_text()
    assert {p.name for p in report.params} == {"backbone.0.weight", "backbone.0.bias", "backbone.1.weight",
                                               "backbone.1.bias", "head.weight", "head.bias"}
    assert {p.name for p in report.params if p.changed} == {"backbone.1.weight", "backbone.1.bias", "head.weight",
                                                            "head.bias"}

# ---------------------------------------------------------------- HF Trainer
def test_hf_trainer_with_an_accelerate_wrapped_optimizer(tmp_path):
    transformers = pytest.importorskip("transformers")
    from transformers import Trainer, TrainingArguments

    model, data = tiny_bert()
    model.bert.embeddings.requires_grad_(False)
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=3, per_device_train_batch_size=4, report_to=[],
                             save_strategy="no", use_cpu=True, logging_strategy="no", disable_tqdm=True,
                             dataloader_num_workers=0)
    trainer = Trainer(model=model, args=args, train_dataset=data)
    transformers.logging.set_verbosity_error()
    with freezelint.watch(expect_frozen=["bert.embeddings"], expect_trainable=["classifier"]) as w:
        trainer.train()
    report = w.report
    assert type(trainer.optimizer).__name__ == "AcceleratedOptimizer"  # the wrapper steps the real one once
    assert w.counts == {id(trainer.optimizer.optimizer): 2}
    # AdamW's weight decay never touches the frozen embeddings: HF leaves them out of the optimizer
    assert report.ok, report.render_text()
    assert not any(p.changed for p in report.params if p.name.startswith("bert.embeddings."))


# ---------------------------------------------------------------- torchrun DDP
DDP_SCRIPT = """
import os, sys
import torch, torch.nn as nn, torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

dist.init_process_group("gloo")
rank = dist.get_rank()
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
model[0].requires_grad_(False)
ddp = DDP(model)
if "--bug" in sys.argv:
    model[0].requires_grad_(True)  # unfrozen after the wrap: never all-reduced, ranks diverge
opt = torch.optim.SGD([p for p in ddp.parameters() if p.requires_grad], lr=0.1, momentum=0.9)
torch.manual_seed(rank)
for step in range(5):
    ddp(torch.randn(6, 4)).pow(2).mean().backward()
    opt.step()
    opt.zero_grad()
print("rank", rank, "finished")
dist.destroy_process_group()
"""


DDP_TEACHER_SCRIPT = """
import sys
import torch, torch.nn as nn, torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

dist.init_process_group("gloo")
torch.manual_seed(0)
teacher = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 2)).requires_grad_(False)
if "--bug" not in sys.argv:
    teacher.eval()  # else its BatchNorm drifts on every rank
student = DDP(nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2)))
opt = torch.optim.SGD(student.parameters(), lr=0.1)
torch.manual_seed(dist.get_rank())
for step in range(5):
    x = torch.randn(6, 4)
    with torch.no_grad():
        soft = teacher(x)
    (student(x) - soft).pow(2).mean().backward()
    opt.step()
    opt.zero_grad()
dist.destroy_process_group()
"""


# `torchrun --standalone --nproc-per-node 2 -m freezelint run train_ddp.py`, in conftest's shared launch
TORCHRUN_SCENARIOS = {name: ({"train_ddp.py": script}, ["-m", "freezelint", "run", "train_ddp.py", *args])
                      for name, script, args in (("ddp_ok", DDP_SCRIPT, []), ("ddp_bug", DDP_SCRIPT, ["--bug"]),
                                                 ("teacher_ok", DDP_TEACHER_SCRIPT, []),
                                                 ("teacher_bug", DDP_TEACHER_SCRIPT, ["--bug"]))}


@needs_gloo()
@pytest.mark.parametrize("bug", [False, True], ids=["ok", "bug"])
def test_torchrun_ddp_every_rank_watches_rank_0_prints(torchrun_ranks, bug):
    p = torchrun_ranks(__name__, "ddp_bug" if bug else "ddp_ok")
    assert p.outs[1] == "", p.outs[1]  # rank 0 prints
    if not bug:
        assert p.codes == [0, 0], p.out + p.err[-3000:]
        assert p.out.count("freeze audit: OK") == 1 and "2 ranks (gloo, DDP" in p.out
        assert "finished" not in p.out  # stopped after the window on every rank
        return
    assert p.codes == [1, 1], p.out + p.err[-3000:]
    assert p.out.count("freeze audit:") == 1, p.out + p.err[-3000:]
    assert "FZ306 freeze-after-ddp [0]" in p.out and "FZ508 rank-divergence [0]" in p.out, p.out


@needs_gloo()
@pytest.mark.parametrize("bug", [False, True], ids=["ok", "bug"])
def test_torchrun_a_frozen_teacher_beside_the_ddp_student_is_judged_on_every_rank(torchrun_ranks, bug):
    p = torchrun_ranks(__name__, "teacher_bug" if bug else "teacher_ok")
    assert p.outs[1] == "", p.outs[1]  # rank 0 prints
    assert p.codes == ([1, 1] if bug else [0, 0]), p.out + p.err[-3000:]
    assert p.out.count("freeze audit:") == 1 and "note: teacher ran beside the trained model: judged on every rank" in p.out
    if bug:  # on both ranks alike: one line, no "on rank ... only"
        assert "FZ502 frozen-stats-changed [teacher.1] teacher.1 (BatchNorm1d) has all parameters frozen" in p.out, p.out
        assert "only" not in p.out.split("FZ502")[1].splitlines()[0]


# ---------------------------------------------------------------- a launcher that starts unwatched ranks
LIGHTNING_DDP_SCRIPT = """
import torch, torch.nn as nn
import lightning.pytorch as L


class Classifier(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(6, 16), nn.ReLU())
        self.head = nn.Linear(16, 3)
        self.backbone.requires_grad_(False)

    def training_step(self, batch, _):
        x, y = batch
        return nn.functional.cross_entropy(self.head(self.backbone(x)), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.head.parameters(), lr=0.1)


if __name__ == "__main__":
    torch.manual_seed(0)
    data = torch.utils.data.TensorDataset(torch.randn(64, 6), torch.randint(0, 3, (64,)))
    trainer = L.Trainer(max_steps=6, accelerator="cpu", devices=2, strategy="ddp", logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(Classifier(), torch.utils.data.DataLoader(data, batch_size=4))
"""


@needs_gloo()
def test_lightning_ddp_launcher_starting_unwatched_ranks_is_one_line_and_exit_2_not_a_hang(tmp_path):
    # Lightning's strategy="ddp" starts rank 1 itself as `python script.py`: unwatched, it never
    # joins the comparison of the ranks, which would wait for it forever
    import os
    import subprocess
    import sys

    pytest.importorskip("lightning.pytorch")
    (tmp_path / "train.py").write_text(LIGHTNING_DDP_SCRIPT)
    env = {**os.environ, "FREEZELINT_RANK_TIMEOUT": "10", "NO_COLOR": "1", "PYTHONWARNINGS": "ignore"}
    for key in ("MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE", "LOCAL_RANK"):
        env.pop(key, None)
    p = subprocess.run([sys.executable, "-m", "freezelint", "run", "train.py"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=300)
    errors = [line for line in p.stderr.splitlines() if line.startswith("freezelint: error:")]
    assert p.returncode == 2, p.stdout + p.stderr
    assert len(errors) == 1 and "rank 1 of 2 did not reach freezelint's comparison of the ranks within 10 s" \
        in errors[0] and "torchrun --nproc-per-node N -m freezelint run script.py" in errors[0], p.stderr
