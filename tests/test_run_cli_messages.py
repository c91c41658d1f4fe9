"""`freezelint run`'s lines where the watch saw no torch step, where it stops a script on
purpose, and where the user ran a module; FZ506 on two expectations that name one tied tensor."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

from conftest import write

torch = pytest.importorskip("torch")
nn = torch.nn

HAND_WRITTEN = """
import torch, torch.nn as nn

class OptimizerSettings:  # named like an optimizer, with a step(), but holds no parameter: not one
    def step(self):
        pass

settings = OptimizerSettings()
model = nn.Linear(4, 2)
for _ in range(3):
    model(torch.randn(5, 4)).pow(2).mean().backward()
    with torch.no_grad():
        for p in model.parameters():
            p -= 0.1 * p.grad
            p.grad.zero_()
"""

OWN_OPTIMIZER = """
import torch, torch.nn as nn

class SignOptimizer:  # steps the parameters itself: no torch.optim.Optimizer
    def __init__(self, params, lr):
        self.params, self.lr = list(params), lr

    @torch.no_grad()
    def step(self):
        for p in self.params:
            p -= self.lr * p.grad.sign()
            p.grad = None

model = nn.Linear(4, 2)
opt = SignOptimizer(model.parameters(), 0.1)
for _ in range(3):
    model(torch.randn(5, 4)).pow(2).mean().backward()
    opt.step()
"""


def test_hand_written_updates_say_no_torch_optimizer_stepped(cli, tmp_path):
    write(tmp_path / "train.py", HAND_WRITTEN)
    r = cli(tmp_path, "run", "train.py")
    assert r.code == 2, r.out + r.err
    assert ("freezelint: error: train.py ended after 0 of 2 optimizer steps: forward and backward passes ran, but "
            "no torch.optim.Optimizer stepped (only their steps are watched): the weights were updated some other "
            "way") in r.err, r.err
    assert "no optimizer step was observed" not in r.err


def test_an_optimizer_of_the_scripts_own_is_named(cli, tmp_path):
    write(tmp_path / "train.py", OWN_OPTIMIZER)  # its step() leaves no grad: the optimizer is the evidence
    r = cli(tmp_path, "run", "train.py")
    assert r.code == 2, r.out + r.err
    assert ("forward passes ran, but no torch.optim.Optimizer stepped (only their steps are watched): the script's "
            "SignOptimizer is not one; use a torch.optim optimizer in its place") in r.err, r.err


LONG_OWN = OWN_OPTIMIZER.replace("range(3)", "range(500)") + "print('trained to the end')\n"


def test_a_model_another_optimizer_trains_is_stopped_early_not_trained_to_the_end(cli, tmp_path):
    # the torch step the window waits for never comes: stopped once the weights are seen to move
    write(tmp_path / "train.py", LONG_OWN)
    r = cli(tmp_path, "run", "train.py")
    assert r.code == 2, r.out + r.err
    assert "trained to the end" not in r.out + r.err
    assert ("freezelint: error: train.py was stopped at its model's 8th forward pass, before any optimizer step: "
            "forward passes ran, but no torch.optim.Optimizer stepped (only their steps are watched): the script's "
            "SignOptimizer is not one") in r.err, r.err


# near-misses: many forwards before the first torch step, the weights moving or another optimizer-like
# object alive, but a torch optimizer that will step
NOT_STALLED = {
    # an initialisation that rescales weights between forwards (LSUV), then a torch optimizer
    "rescaled_before_the_optimizer": """
import torch, torch.nn as nn
model = nn.Linear(4, 2)
for _ in range(20):
    with torch.no_grad():
        model.weight /= model(torch.randn(5, 4)).std()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for _ in range(3):
    model(torch.randn(5, 4)).pow(2).mean().backward(); opt.step(); opt.zero_grad()
""",
    # gradient accumulation over 16 batches, an EMA-like helper named as an optimizer beside it
    "accumulation_beside_another_optimizer": """
import torch, torch.nn as nn
class AveragingOptimizer:
    def __init__(self, params):
        self.params = list(params)
    def step(self):
        pass
model = nn.Linear(4, 2)
avg = AveragingOptimizer(model.parameters())
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for _ in range(3):
    for _ in range(16):
        model(torch.randn(5, 4)).pow(2).mean().backward()
    opt.step(); opt.zero_grad(); avg.step()
""",
    # an evaluation pass over 40 batches before training, a hand-made optimizer alive but not stepping
    "evaluation_first": OWN_OPTIMIZER.replace("for _ in range(3):", "for _ in range(0):") + """
with torch.no_grad():
    for _ in range(40):
        model(torch.randn(5, 4))
torch_opt = torch.optim.SGD(model.parameters(), lr=0.1)
for _ in range(3):
    model(torch.randn(5, 4)).pow(2).mean().backward(); torch_opt.step(); torch_opt.zero_grad()
""",
}


@pytest.mark.parametrize("script", NOT_STALLED.values(), ids=NOT_STALLED.keys())
def test_a_torch_step_that_comes_after_many_forwards_is_waited_for(cli, tmp_path, script):
    write(tmp_path / "train.py", script)
    r = cli(tmp_path, "run", "train.py")
    assert r.code == 0, r.out + r.err


def test_a_script_that_fails_is_told_its_error_not_guessed_at(cli, tmp_path):
    write(tmp_path / "train.py", OWN_OPTIMIZER + "raise ValueError('bad batch')\n")
    r = cli(tmp_path, "run", "train.py")
    assert r.code == 2, r.out + r.err
    assert "train.py raised ValueError: bad batch at train.py:" in r.err, r.err
    assert "(no optimizer step was observed)" in r.err and "SignOptimizer" not in r.err, r.err
    write(tmp_path / "train.py", OWN_OPTIMIZER + "import sys\nsys.exit(0)\n")  # sys.exit(0) is an end
    r = cli(tmp_path, "run", "train.py")
    assert r.code == 2 and "the script's SignOptimizer is not one" in r.err, r.err


def test_an_optimizer_filtered_before_the_adapters_were_added_is_told_both_orders(cli, tmp_path):
    """The requires_grad filter taken while the base was frozen and before the LoRA layers were added
    (diffusers' LoRA script with the two lines swapped): torch refuses the empty optimizer, and the hint
    names that order as well as a freeze after the adapters."""
    pytest.importorskip("peft")
    write(tmp_path / "train.py", """
import torch, torch.nn as nn
from peft import LoraConfig, inject_adapter_in_model

model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
model.requires_grad_(False)
opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=0.1)
model = inject_adapter_in_model(LoraConfig(r=2, target_modules=["0"]), model)
""")
    r = cli(tmp_path, "run", "train.py")
    assert r.code == 2, r.out + r.err
    assert ("a requires_grad filter over a model frozen whole (taken before get_peft_model or add_adapter added "
            "the adapters, or after a freeze that caught them too)") in r.err, r.err


PEFT_LOADED = """
import sys, torch, torch.nn as nn
from peft import LoraConfig, PeftModel, get_peft_model

def base():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))

torch.manual_seed(0)
get_peft_model(base(), LoraConfig(r=2, target_modules=["0"])).save_pretrained(sys.argv[1])
model = PeftModel.from_pretrained(base(), sys.argv[1])  # is_trainable=False: the adapter frozen, for inference
opt = torch.optim.AdamW([{"params": [p for p in model.parameters() if p.requires_grad]}, {"params": []}])
x = torch.randn(5, 4, requires_grad=INPUT_GRAD)  # TRL's input grads give the loss a graph
model(x).pow(2).mean().backward()
THEN
"""


@pytest.mark.parametrize("then", ["", "raise RuntimeError('Recomputed values differ')"])
def test_a_failure_of_a_peft_model_loaded_for_inference_names_is_trainable(cli, tmp_path, then):
    """The adapter loaded with PeftModel.from_pretrained (is_trainable=False) and trained: a loss with no
    grad_fn, or another failure of the frozen model (TRL's DPO step raises CheckpointError), is told
    that every parameter is frozen, the adapters included, and to load it with is_trainable=True."""
    pytest.importorskip("peft")
    write(tmp_path / "train.py", PEFT_LOADED.replace("INPUT_GRAD", str(bool(then))).replace("THEN", then))
    r = cli(tmp_path, "run", "train.py", str(tmp_path / "adapter"))
    assert r.code == 2, r.out + r.err
    assert "PEFT's adapters included, so" in r.err, r.err
    assert ("its adapters were loaded for inference: PeftModel.from_pretrained and load_adapter load them frozen "
            "unless is_trainable=True; load the adapter with `PeftModel.from_pretrained(model, path, "
            "is_trainable=True)`") in r.err, r.err


def test_a_loss_without_graph_beside_a_second_trainable_adapter_names_the_one_loaded_for_inference(cli, tmp_path):
    """TRL's DPO on an adapter loaded for inference: its reference pass sets a second adapter and
    peft's set_adapter makes that one trainable, while the loss ran through the frozen one. Not "the
    loss was cut from them" alone: the adapter loaded for inference, and is_trainable=True."""
    pytest.importorskip("peft")
    # the policy's forward through the frozen default adapter, then the reference pass under the
    # "ref" adapter (set_adapter makes it trainable), then the backward
    script = PEFT_LOADED.replace("INPUT_GRAD", "False").replace("model(x).pow(2).mean().backward()\nTHEN", """
model.add_adapter("ref", model.peft_config["default"])
policy = model(x)
model.set_adapter("ref")
with torch.no_grad():
    reference = model(x)
(policy - reference).pow(2).mean().backward()""")
    write(tmp_path / "train.py", script)
    r = cli(tmp_path, "run", "train.py", str(tmp_path / "adapter"))
    assert r.code == 2, r.out + r.err
    assert "the models that ran hold trainable parameters (PeftModel: 2 of 8 parameters trainable), but the loss " \
           "reached none: its adapters were loaded for inference" in r.err, r.err
    assert r.err.rstrip().endswith("load the adapter with `PeftModel.from_pretrained(model, path, is_trainable=True)` "
                                   "(`load_adapter(path, is_trainable=True)`), before the optimizer is built"), r.err


def test_a_checkpoint_recompute_after_set_adapter_woke_an_adapter_loaded_for_inference_names_it(cli, tmp_path):
    """TRL's DPO under its default gradient checkpointing: the policy's forward through the adapter
    loaded frozen, then set_adapter back to it (peft makes it trainable), so torch's recompute saves
    other tensors and raises CheckpointError. The hint names the adapter loaded for inference."""
    pytest.importorskip("peft")
    write(tmp_path / "train.py", PEFT_LOADED.replace("INPUT_GRAD", "True").replace(
        "model(x).pow(2).mean().backward()\nTHEN", """
from torch.utils.checkpoint import checkpoint
out = checkpoint(model, x, use_reentrant=False)
model.set_adapter("default")
out.pow(2).mean().backward()"""))
    r = cli(tmp_path, "run", "train.py", str(tmp_path / "adapter"))
    assert r.code == 2 and "raised CheckpointError" in r.err, r.out + r.err
    assert ("; its adapters were loaded for inference: PeftModel.from_pretrained and load_adapter load them frozen "
            "unless is_trainable=True, and peft's set_adapter makes the adapter it sets trainable") in r.err, r.err
    assert "an adapter frozen at the forward was made trainable before the checkpoint's recompute" in r.err, r.err


def test_fastai_learner_with_its_own_optimizer_is_watched_not_told_to_wrap_a_torch_one(cli, tmp_path):
    pytest.importorskip("fastai")
    write(tmp_path / "train.py", """
        import torch, torch.nn as nn
        from fastai.data.core import DataLoaders
        from fastai.learner import Learner
        from fastai.callback.progress import ProgressCallback
        ds = [(torch.randn(4), torch.randn(2)) for _ in range(32)]
        dls = DataLoaders.from_dsets(ds[:24], ds[24:], bs=8, device="cpu")
        learn = Learner(dls, nn.Linear(4, 2), loss_func=nn.MSELoss())  # fastai's default opt_func: its own Adam
        learn.remove_cb(ProgressCallback)
        with learn.no_logging():
            learn.fit(1, 1e-2)
    """)
    r = cli(tmp_path, "run", "train.py")
    assert r.code == 0, r.out + r.err
    assert "freeze audit: OK — 2 steps on cpu, fastai Optimizer" in r.out + r.err, r.out + r.err
    assert "no torch.optim.Optimizer stepped" not in r.err and "OptimWrapper" not in r.err, r.err


@pytest.mark.skipif(importlib.util.find_spec("keras") is None, reason="keras is not installed")
def test_keras_fit_on_the_torch_backend_says_its_optimizer_is_keras_own(tmp_path):
    write(tmp_path / "train.py", """
        import numpy as np, keras
        model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4), keras.layers.Dense(2)])
        model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
        model.fit(np.random.randn(32, 8).astype("float32"), np.random.randn(32, 2).astype("float32"),
                  batch_size=8, epochs=1, verbose=0)
    """)
    env = {**os.environ, "KERAS_BACKEND": "torch", "NO_COLOR": "1"}  # read when keras is imported: a process of its own
    p = subprocess.run([sys.executable, "-m", "freezelint", "run", "train.py"], cwd=tmp_path, capture_output=True,
                       text=True, env=env, timeout=300)
    if "No module named" in p.stderr:
        pytest.skip("keras's torch backend is not importable here")
    assert p.returncode == 2, p.stdout + p.stderr
    assert "no torch.optim.Optimizer stepped (only their steps are watched): keras's Adam (keras." in p.stderr
    assert "model.fit() cannot be watched with it" in p.stderr, p.stderr


def test_the_stop_says_what_it_is_to_a_loop_that_logs_it(cli, tmp_path):
    write(tmp_path / "train.py", """
        import torch, torch.nn as nn
        model = nn.Linear(4, 2)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        try:
            for _ in range(5):
                opt.zero_grad(); model(torch.randn(3, 4)).sum().backward(); opt.step()
        except BaseException as e:  # as ignite's Engine does: log what ended the run, then re-raise
            print(f"terminating due to exception: {e}")
            raise
    """)
    r = cli(tmp_path, "run", "train.py")
    assert r.code == 0, r.out + r.err
    assert ("terminating due to exception: freezelint: the watch window is complete; the script was stopped on "
            "purpose") in r.out


def test_a_module_run_with_m_is_named_as_run(cli, tmp_path):
    # a package name of its own: runs are in-process, and a `pkg` imported by another test stays in sys.modules
    write(tmp_path / "named_pkg" / "__init__.py", "")
    write(tmp_path / "named_pkg" / "train.py", """
        import torch, torch.nn as nn
        model = nn.Linear(4, 2)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for _ in range(3):
            opt.zero_grad(); model(torch.randn(3, 4)).sum().backward(); opt.step()
    """)
    r = cli(tmp_path, "run", "--steps", "9", "-m", "named_pkg.train")
    assert r.code == 2, r.out + r.err
    assert "freezelint: error: named_pkg.train ended after 3 of 9 optimizer steps" in r.err, r.err
    r = cli(tmp_path, "run", "--model", "net", "-m", "named_pkg.train")
    assert r.code == 2 and "--model net: named_pkg.train has no variable 'net'" in r.err, r.err
    # the package itself, with no __main__.py: said so, not runpy's ImportError "after 0 of 2 optimizer steps"
    r = cli(tmp_path, "run", "-m", "named_pkg")
    assert (r.code, r.err) == (2, "freezelint: error: named_pkg is a package with no __main__.py: name the module "
                                  "that trains (-m named_pkg.train)\n")


class TiedLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(16, 8)
        self.mix = nn.Linear(8, 8)
        self.head = nn.Linear(8, 16, bias=False)
        self.head.weight = self.embed.weight  # tied, as GPT-2's lm_head is its wte

    def forward(self, ids):
        return self.head(self.mix(self.embed(ids)))


def test_two_expectations_on_one_tied_tensor_say_so_and_give_no_advice_against_the_other():
    from freezelint import audit

    torch.manual_seed(0)
    model = TiedLM()
    model.head.requires_grad_(False)  # freezes the embedding too
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    report = audit(model, opt, batch=torch.randint(0, 16, (4, 5)), expect_frozen="head", expect_trainable="embed")
    fz506 = [f for f in report.findings if f.code == "FZ506"]
    assert len(fz506) == 1, report
    text = f"{fz506[0].message} {fz506[0].advice}"
    assert ("expect_frozen head and expect_trainable embed both name embed.weight (also head.weight): one tensor "
            "under several names (tied weights), so it cannot be both frozen and trained (it is frozen)") in text
    assert "tie_word_embeddings=False" in text and "drop one of the two expectations" in text
    assert "requires_grad_(True)" not in text  # the advice that would break the other expectation


# --- exit 2 with --format json: a document a CI step can read, not an empty stdout ---------------

ENDS_EARLY = """
import torch, torch.nn as nn
model = nn.Linear(4, 2)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
model(torch.randn(3, 4)).sum().backward()
opt.step()
print("finished after 1 step")
"""


def test_json_on_exit_2_is_a_document_with_the_error(cli, tmp_path):
    import json

    write(tmp_path / "train.py", ENDS_EARLY)
    r = cli(tmp_path, "run", "--format", "json", "train.py")
    doc = json.loads(r.out)
    line = "train.py ended after 1 of 2 optimizer steps; run it for more steps, or watch fewer (--steps 1)"
    assert r.code == 2 and doc == {"ok": False, "error": line, "exit_code": 2, "findings": [], "all_findings": []}
    assert f"freezelint: error: {line}" in r.err and "finished after 1 step" in r.err  # the script's print too
    out = tmp_path / "report.json"
    r = cli(tmp_path, "run", "--format", "json", "-o", str(out), "missing.py")
    assert r.code == 2 and r.out == "" and json.loads(out.read_text())["error"].startswith("no such file")
    text = cli(tmp_path, "run", "train.py")  # text: the line on stderr only
    assert text.code == 2 and text.out == "finished after 1 step\n" and line in text.err


def test_a_script_that_does_not_compile_is_one_line_with_its_place(cli, tmp_path):
    write(tmp_path / "train.py", "import torch\ndef f(:\n    pass\n")
    r = cli(tmp_path, "run", "train.py")
    assert r.code == 2 and r.err.strip() == "freezelint: error: train.py:2:7: SyntaxError: invalid syntax (train.py " \
                                           "did not run)", r.err
    write(tmp_path / "main.py", "import helper\n")
    write(tmp_path / "helper.py", "x = (\n")
    r = cli(tmp_path, "run", "main.py")
    assert r.code == 2 and "helper.py:1:5: SyntaxError: '(' was never closed (main.py did not run)" in r.err, r.err
    (tmp_path / "nul.py").write_bytes(b"x = 1\x00\n")
    r = cli(tmp_path, "run", "nul.py")
    assert r.code == 2 and r.err.startswith("freezelint: error: nul.py: SyntaxError: ") and "after 0" not in r.err
    (tmp_path / "wide.py").write_bytes("import torch\n".encode("utf-16"))  # "null bytes" would hide why
    r = cli(tmp_path, "run", "wide.py")
    assert (r.code, r.err) == (2, "freezelint: error: wide.py: the file is UTF-16 (it starts with a UTF-16 "
                                  "byte-order mark): save it as UTF-8 (wide.py did not run)\n")
    r = cli(tmp_path, "audit", "wide.py:make")
    assert (r.code, r.err) == (2, "freezelint: error: importing wide.py failed: the file is UTF-16 (it starts with "
                                  "a UTF-16 byte-order mark): save it as UTF-8\n")


def test_a_directory_is_not_a_script(cli, tmp_path):
    (tmp_path / "proj").mkdir()
    r = cli(tmp_path, "run", "proj")
    assert r.code == 2 and r.err.strip() == ("freezelint: error: proj is a directory with no __main__.py: give the "
                                             "script (train.py), or `-m PACKAGE` for a package with a __main__.py"), r.err


def test_an_empty_expectation_pattern_is_a_usage_error(cli, tmp_path):
    write(tmp_path / "train.py", ENDS_EARLY)
    r = cli(tmp_path, "run", "--expect-frozen", "", "train.py")
    assert r.code == 2 and r.err.strip() == "freezelint: error: --expect-frozen takes a name pattern, got ''", r.err
    r = cli(tmp_path, "audit", "train.py:make", "--expect-trainable", "")
    assert r.code == 2 and r.err.strip() == "freezelint: error: --expect-trainable takes a name pattern, got ''", r.err
    import freezelint
    from freezelint.runtime.runner import AuditUsageError

    with pytest.raises(AuditUsageError, match="expect_trainable patterns must be non-empty strings"):
        freezelint.watch(expect_trainable="")
    with pytest.raises(ValueError, match="expect_frozen patterns must be non-empty strings"):
        freezelint.audit(nn.Linear(2, 2), torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1), expect_frozen="")


def test_a_bad_argument_writes_the_json_document_as_every_other_refusal_does(cli, tmp_path):
    import json

    write(tmp_path / "train.py", ENDS_EARLY)
    for args, line in [(("--steps", "0", "train.py"), "--steps must be at least 1, got 0"),
                       (("--expect-frozen", "", "train.py"), "--expect-frozen takes a name pattern, got ''"),
                       (("--model", "1x", "train.py"), "--model takes a variable name or a dotted path "
                                                       "(trainer.model), got '1x'"),
                       ((), "run needs a script (`freezelint run train.py`) or -m MODULE")]:
        r = cli(tmp_path, "run", "--format", "json", *args)
        assert (r.code, r.err) == (2, f"freezelint: error: {line}\n"), r.err
        assert json.loads(r.out) == {"ok": False, "error": line, "exit_code": 2, "findings": [], "all_findings": []}
        r = cli(tmp_path, "run", *args)
        assert (r.code, r.out, r.err) == (2, "", f"freezelint: error: {line}\n")


def test_a_notebook_is_not_run_as_a_script_nor_imported_as_a_factory(cli, tmp_path):
    # its JSON is even a Python expression: run as a script, it would end "after 0 optimizer steps"
    write(tmp_path / "train.ipynb", '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}\n')
    r = cli(tmp_path, "run", "train.ipynb")
    assert (r.code, r.out) == (2, "") and r.err == (
        "freezelint: error: train.ipynb is a notebook: export it as a script (jupyter nbconvert --to script), or "
        "call freezelint.watch() in it\n")
    r = cli(tmp_path, "audit", "train.ipynb:make")
    assert (r.code, r.err) == (2, "freezelint: error: train.ipynb is not a Python file: the factory must be in a "
                                  ".py file\n")
    r = cli(tmp_path, "audit", ".:make")
    assert (r.code, r.err) == (2, "freezelint: error: . is a directory: give the file that defines make\n")
    write(tmp_path / "f.py", "raise SystemExit('the factory module ran')\n")
    r = cli(tmp_path, "audit", "--steps", "0", "f.py:make")  # refused before the file is imported, as run refuses
    assert (r.code, r.err) == (2, "freezelint: error: --steps must be at least 1, got 0\n")


def test_a_report_file_that_is_a_directory_is_refused_before_the_script_or_factory_runs(cli, tmp_path):
    write(tmp_path / "train.py", "raise SystemExit('the script ran')\n")
    (tmp_path / "reports").mkdir()
    r = cli(tmp_path, "run", "-o", "reports", "train.py")
    assert (r.code, r.err) == (2, "freezelint: error: cannot write reports: it is a directory (checked before "
                                  "running the script)\n")
    r = cli(tmp_path, "audit", "-o", "reports", "train.py:make")
    assert (r.code, r.err) == (2, "freezelint: error: cannot write reports: it is a directory\n")
