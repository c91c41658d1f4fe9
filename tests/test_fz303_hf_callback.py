"""FZ303 in a transformers TrainerCallback: `Trainer.train()` builds its optimizer
(`create_optimizer`, keeping the parameters with `p.requires_grad`) before the first training event,
`on_train_begin` included, so an unfreeze in those events is never optimised. Near-misses: a callback
that only freezes, that freezes in its events too, that touches the optimizer, an unfreeze in
`on_init_end` (in Trainer.__init__, before train()), a Trainer given its own optimizer."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from freezelint.check.engine import check_source

from conftest import write

FREEZE = """
def fit(model, args, data):
    model.encoder.requires_grad_(False)
    Trainer(model=model, args=args, train_dataset=data, callbacks=[Thaw(model)]).train()
"""


def _rows(callback: str, tail: str = FREEZE, head: str = "from transformers import Trainer, TrainerCallback\n") -> list[int]:
    source = head + "\n\n" + textwrap.dedent(callback).strip("\n") + "\n\n" + textwrap.dedent(tail).strip("\n") + "\n"
    compile(source, "x.py", "exec")
    return [d.row for d in check_source(source, select=["FZ303"])]


def _thaw(event: str, body: str = "self.model.encoder.requires_grad_(True)", params: str = "**kwargs") -> str:
    return f"""
class Thaw(TrainerCallback):
    def __init__(self, model):
        self.model = model

    def {event}(self, args, state, control, {params}):
{textwrap.indent(textwrap.dedent(body).strip(chr(10)), " " * 8)}
"""


EVENTS = ["on_train_begin", "on_epoch_begin", "on_step_begin", "on_substep_end", "on_pre_optimizer_step",
          "on_optimizer_step", "on_step_end", "on_epoch_end"]


@pytest.mark.parametrize("event", EVENTS)
def test_unfreeze_in_a_training_event_fires(event):
    # on_train_begin too: transformers' _inner_training_loop builds the optimizer before calling it
    assert _rows(_thaw(event)) == [9]


UNFREEZES = {
    "loop": "for p in self.model.encoder.parameters():\n    p.requires_grad = True",
    "in_branch": "if state.global_step == 1000:\n    self.model.encoder.requires_grad_(True)",
    "model_from_kwargs": "kwargs['model'].encoder.requires_grad_(True)",
}


@pytest.mark.parametrize("body", UNFREEZES.values(), ids=UNFREEZES.keys())
def test_unfreeze_forms(body):
    assert len(_rows(_thaw("on_epoch_begin", body))) == 1


def test_model_parameter_of_the_event():
    rows = _rows(_thaw("on_step_begin", "model.encoder.requires_grad_(True)", "model=None, **kwargs"))
    assert rows == [9]


def test_module_qualified_base_and_message():
    source = ("import transformers\n\n\nclass Thaw(transformers.TrainerCallback):\n"
              "    def on_epoch_begin(self, args, state, control, model=None, **kwargs):\n"
              "        model.encoder.requires_grad_(True)\n\n\n"
              "def fit(model):\n    model.encoder.requires_grad_(False)\n")
    (d,) = check_source(source, select=["FZ303"])
    assert d.row == 6
    assert "in `on_epoch_begin`, after the transformers Trainer built its optimizer" in d.message
    assert "freeze them in the callback's `on_train_begin` instead" in d.message


SILENT = {
    # Trainer.__init__ calls on_init_end: train() has not built the optimizer yet
    "on_init_end": _thaw("on_init_end"),
    # not events of training (evaluate() and predict() call them outside train() too)
    "on_evaluate": _thaw("on_evaluate"),
    "on_log": _thaw("on_log"),
    "only_freezes": _thaw("on_epoch_begin", "self.model.encoder.requires_grad_(False)"),
    # frozen after the optimizer took every parameter: unfreezing later trains them
    "freezes_then_unfreezes": _thaw("on_train_begin", "self.model.encoder.requires_grad_(False)") + """
    def on_epoch_begin(self, args, state, control, **kwargs):
        self.model.encoder.requires_grad_(True)
""",
    "adds_the_group": _thaw("on_epoch_begin", """
        self.model.encoder.requires_grad_(True)
        kwargs["optimizer"].add_param_group({"params": list(self.model.encoder.parameters())})
        """),
    "optimizer_parameter": _thaw("on_epoch_begin", """
        self.model.encoder.requires_grad_(True)
        optimizer.add_param_group({"params": list(self.model.encoder.parameters())})
        """, "optimizer=None, **kwargs"),
    "rebuilds": _thaw("on_epoch_begin", """
        self.model.encoder.requires_grad_(True)
        self.trainer.optimizer = None
        self.trainer.create_optimizer()
        """),
    # a Lightning-like class of the project's own, not a TrainerCallback
    "not_a_trainer_callback": _thaw("on_epoch_begin").replace("(TrainerCallback)", "(object)"),
}


@pytest.mark.parametrize("callback", SILENT.values(), ids=SILENT.keys())
def test_near_misses_stay_silent(callback):
    assert _rows(callback) == []


def test_trainer_given_its_own_optimizer_stays_silent():
    own = FREEZE.replace("callbacks=[Thaw(model)])", "callbacks=[Thaw(model)], optimizers=(opt, None))")
    assert _rows(_thaw("on_epoch_begin"), own) == []
    override = FREEZE + """

class FullTrainer(Trainer):
    def create_optimizer(self, model=None):
        self.optimizer = AdamW(self.model.parameters())  # every parameter
        return self.optimizer
"""
    assert _rows(_thaw("on_epoch_begin"), override) == []
    # named in a comment only: still the Trainer's own optimizer
    commented = "# a Trainer could take optimizers=(opt, None)\n" + FREEZE
    assert _rows(_thaw("on_epoch_begin"), commented) == [9]


def test_nothing_frozen_stays_silent():
    # the optimizer took every parameter: the unfreeze changes nothing
    assert _rows(_thaw("on_epoch_begin"), "def fit(model):\n    return model\n") == []


def test_a_docstring_about_the_optimizer_is_no_use_of_it():
    callback = _thaw("on_epoch_begin", '"""Thaw the encoder; the optimizer is the Trainer\'s."""\n'
                     "self.model.encoder.requires_grad_(True)")
    assert _rows(callback) == [10]
    # a string that is a key, not a docstring: `kwargs["optimizer"]`
    assert _rows(_thaw("on_epoch_begin", "self.model.encoder.requires_grad_(True)\nopt = kwargs['optimizer']")) == []


# Project runs: whose `optimizers=` (or `create_optimizer` override) silences a callback is decided
# by the Trainer the callback is handed to, not by any file of the project.
THAW_SCRIPT = """
from transformers import Seq2SeqTrainer, TrainerCallback


def run(model, args, data):
    model.model.encoder.requires_grad_(False)

    class Thaw(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            if state.global_step == 1000:
                for p in model.model.encoder.parameters():
                    p.requires_grad = True  # expect

    Seq2SeqTrainer(model=model, args=args, train_dataset=data, callbacks=[Thaw()]).train()
"""
OWN_SCRIPT = """
import torch
from transformers import Trainer


def fit(model, args, data):
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    Trainer(model=model, args=args, train_dataset=data, optimizers=(optimizer, None)).train()
"""
OVERRIDE_SCRIPT = """
import torch
from transformers import Trainer


class FullTrainer(Trainer):
    def create_optimizer(self, model=None):
        self.optimizer = torch.optim.AdamW(self.model.parameters())
        return self.optimizer
"""


def _project_rows(cli, root) -> list[tuple[str, int]]:
    r = cli(root, "check", "--no-cache", "--format", "json", "--select", "FZ303", ".")
    assert r.code in (0, 1), r.err
    return sorted((Path(d["filename"]).as_posix(), d["location"]["row"]) for d in json.loads(r.out))


def _marked(text: str) -> int:
    return next(i for i, line in enumerate(textwrap.dedent(text).lstrip("\n").splitlines(), 1) if "# expect" in line)


@pytest.mark.parametrize("marker", [None, "pyproject.toml"])
@pytest.mark.parametrize("other", [OWN_SCRIPT, OVERRIDE_SCRIPT], ids=["optimizers", "create_optimizer"])
def test_another_scripts_own_optimizer_does_not_silence_this_trainers_callback(cli, tmp_path, marker, other):
    # two scripts in one tree, tied by no import: the other's Trainer optimizer is not this one's
    if marker:
        (tmp_path / marker).write_text("")
    write(tmp_path / "whisper_ft" / "finetune.py", THAW_SCRIPT)
    write(tmp_path / "other_repo" / "train.py", other)
    assert _project_rows(cli, tmp_path) == [("whisper_ft/finetune.py", _marked(THAW_SCRIPT))]


def test_a_script_that_hands_the_callback_of_another_file_its_own_optimizer_stays_silent(cli, tmp_path):
    (tmp_path / "pyproject.toml").write_text("")
    write(tmp_path / "callbacks.py", """
        from transformers import TrainerCallback

        class Thaw(TrainerCallback):
            def __init__(self, model):
                self.model = model

            def on_epoch_begin(self, args, state, control, **kwargs):
                self.model.encoder.requires_grad_(True)
        """)
    train = """
        import torch
        from transformers import Trainer

        from callbacks import Thaw

        def fit(model, args, data):
            model.encoder.requires_grad_(False)
            optimizer = torch.optim.AdamW(model.parameters())  # every parameter, the frozen ones too
            Trainer(model=model, args=args, train_dataset=data, callbacks=[Thaw(model)],
                    optimizers=(optimizer, None)).train()
        """
    write(tmp_path / "train.py", train)
    assert _project_rows(cli, tmp_path) == []
    # the same script giving its Trainer none: the callback's unfreeze is never optimised
    write(tmp_path / "train.py", train.replace(",\n                    optimizers=(optimizer, None))", ")"))
    assert _project_rows(cli, tmp_path) == [("callbacks.py", 8)]


def test_a_trainer_subclass_of_another_file_counts_for_the_script_that_uses_it(cli, tmp_path):
    (tmp_path / "pyproject.toml").write_text("")
    write(tmp_path / "trainers.py", OVERRIDE_SCRIPT)
    script = THAW_SCRIPT.replace("from transformers import Seq2SeqTrainer, TrainerCallback",
                                 "from transformers import TrainerCallback\n\nfrom trainers import FullTrainer")
    script = script.replace("Seq2SeqTrainer(", "FullTrainer(").replace("  # expect", "")
    write(tmp_path / "finetune.py", script)
    assert _project_rows(cli, tmp_path) == []
    # a script beside it that does not use the subclass is reported
    write(tmp_path / "finetune_plain.py", THAW_SCRIPT)
    assert _project_rows(cli, tmp_path) == [("finetune_plain.py", _marked(THAW_SCRIPT))]


def test_a_callback_whose_trainer_is_not_seen_takes_any_files_own_optimizer(cli, tmp_path):
    # registered by name and made by a config-driven builder: its Trainer may be the one given `optimizers=`
    (tmp_path / "pyproject.toml").write_text("")
    callback = """
        from transformers import TrainerCallback

        CALLBACKS = {}

        def register(cls):
            CALLBACKS[cls.__name__] = cls
            return cls

        @register
        class Thaw(TrainerCallback):
            def on_epoch_begin(self, args, state, control, model=None, **kwargs):
                model.encoder.requires_grad_(True)

        def freeze(model):
            model.encoder.requires_grad_(False)
        """
    write(tmp_path / "callbacks.py", callback)
    assert _project_rows(cli, tmp_path) == [("callbacks.py", 12)]
    write(tmp_path / "train.py", OWN_SCRIPT)
    assert _project_rows(cli, tmp_path) == []
