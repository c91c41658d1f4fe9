"""The watch on lazy modules (LazyLinear made by a dry run or by the window's first forward), a
hook that fails under `freezelint run` (the script stops there), peft's merge_and_unload()/unload()
mid-training (the optimizer left holding adapters that are out of the model), and FZ302's words
when torch's overwrite-on-conversion flag made new Parameters."""

from __future__ import annotations

import pytest

from conftest import write

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import freezelint  # noqa: E402

DRY_RUN = """
import torch, torch.nn as nn
torch.manual_seed(0)
model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(16), nn.ReLU(), nn.LazyLinear(4))
model(torch.randn(1, 3, 10, 10))            # dry run: makes the lazy layers
model[0].requires_grad_(False)
opt = torch.optim.SGD({params}, lr=0.1)
for step in range(4):
    loss = nn.functional.cross_entropy(model(torch.randn(4, 3, 10, 10)), torch.randint(0, 4, (4,)))
    opt.zero_grad(); loss.backward(); opt.step()
    print("step", step)
"""


def test_run_judges_a_script_whose_lazy_layers_a_dry_run_made(cli, tmp_path):
    good = write(tmp_path / "good.py", DRY_RUN.format(params="[p for p in model.parameters() if p.requires_grad]"))
    res = cli(tmp_path, "run", str(good))
    assert res.code == 0, res.out + res.err
    assert "freeze audit: OK — 2 steps" in res.out and "params changed 4/6" in res.out, res.out
    # the same loop with the last lazy layer left out of the optimizer: judged as for any model
    bad = write(tmp_path / "bad.py", DRY_RUN.format(params="model[3].parameters()"))
    res = cli(tmp_path, "run", str(bad))
    assert res.code == 1 and "FZ503 trainable-not-optimized [5]" in res.out, res.out + res.err


def _lazy_mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.LazyLinear(8), nn.ReLU(), nn.Linear(8, 2))


def _train(model, opt, steps=3, x=None):
    for _ in range(steps):
        loss = model(torch.randn(4, 4) if x is None else x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


def test_a_lazy_layer_made_by_the_windows_first_forward_is_judged_from_then():
    model = _lazy_mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)  # over the uninitialised ones: torch makes them in place
    model[3].bias.requires_grad_(False)  # a frozen tensor that must stay put (a lazy one cannot be frozen yet)
    with freezelint.watch(steps=2) as w:
        _train(model, opt)
    report = w.report
    assert report.ok, report.render_text()
    changed = {r.name: r.changed for r in report.params}
    assert changed == {"1.weight": True, "1.bias": True, "3.weight": True, "3.bias": False}, changed


def test_a_lazy_branch_first_run_inside_the_window_is_fingerprinted_when_made():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body, self.extra = nn.Linear(4, 4), nn.LazyLinear(4)
            self.calls = 0

        def forward(self, x):
            self.calls += 1
            h = self.body(x)
            return self.extra(h) if self.calls > 1 else h  # the lazy branch joins at the second step

    torch.manual_seed(0)
    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with freezelint.watch(steps=3) as w:
        _train(model, opt)
    report = w.report
    assert report.ok, report.render_text()  # extra trained at steps 2-3: no FZ505 for "unchanged"
    assert all(r.changed for r in report.params), report.render_text()


def test_a_lazy_module_that_never_runs_is_named_in_one_note():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body, self.aux, self.head = nn.Linear(4, 8), nn.LazyLinear(3), nn.Linear(8, 2)

        def forward(self, x):
            return self.head(self.body(x))

    torch.manual_seed(0)
    model = Net()
    opt = torch.optim.SGD([*model.body.parameters(), *model.head.parameters()], lr=0.1)
    with freezelint.watch(steps=2) as w:
        _train(model, opt)
    assert w.report.ok, w.report.render_text()
    assert w.report.notes == ["aux (LazyLinear) never ran, so its lazy parameters were never initialised (they hold "
                              "no values): not judged"], w.report.notes


def test_audit_refuses_an_uninitialised_lazy_model_and_says_the_optimizer_may_stay(cli, tmp_path):
    write(tmp_path / "lazy.py", "import torch, torch.nn as nn\n"
          "def make():\n"
          "    m = nn.Sequential(nn.Flatten(), nn.LazyLinear(8), nn.ReLU(), nn.Linear(8, 2))\n"
          "    return m, torch.optim.SGD(m.parameters(), lr=0.1), torch.randn(4, 4)\n"
          "def made():\n"
          "    m, opt, batch = make()\n"
          "    m(batch)\n"
          "    return m, opt, batch\n")
    res = cli(tmp_path, "audit", "lazy.py:make")
    assert res.code == 2 and "run one forward pass with a real batch (model(batch)) to materialise them, then " \
        "audit (an optimizer built before that pass needs no rebuilding" in res.err, res.err
    res = cli(tmp_path, "audit", "lazy.py:made")  # the optimizer built before the dry run: fine
    assert res.code == 0 and res.out.startswith("freeze audit: OK"), res.out + res.err


FREED = """
import torch, torch.nn as nn
model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
model.spare = nn.Parameter(torch.zeros(16), requires_grad=False)
model.spare.untyped_storage().resize_(0)     # freed as sharding frees a parameter; unused by the forward
opt = torch.optim.SGD(model[0].parameters(), lr=0.1)
for step in range(3):
    loss = model(torch.randn(4, 4)).pow(2).mean()
    opt.zero_grad(); loss.backward(); opt.step()
    print("step", step)
"""


@pytest.mark.parametrize("no_stop", [False, True])
def test_run_stops_the_script_at_the_hook_where_watching_failed(cli, tmp_path, no_stop):
    path = write(tmp_path / "train.py", FREED)
    res = cli(tmp_path, "run", *(["--no-stop"] if no_stop else []), str(path))
    assert res.code == 2, res.out + res.err
    assert res.err.strip().splitlines() == ["freezelint: error: watching failed: ValueError: a (16,) tensor's "
                                            "storage holds 0 bytes, fewer than its elements need (was it resized "
                                            "away by sharding?)"], res.err
    assert "step" not in res.out  # stopped at the first forward: no step trained unwatched


MERGE = """
import sys
import torch, torch.nn as nn
from peft import LoraConfig, get_peft_model
torch.manual_seed(0)
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.head = nn.Linear(16, 32), nn.Linear(32, 32), nn.Linear(32, 4)
    def forward(self, x):
        return self.head(torch.relu(self.fc2(torch.relu(self.fc1(x)))))
model = get_peft_model(Net(), LoraConfig(r=4, target_modules=["fc1", "fc2"], modules_to_save=["head"]))
opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
for step in range(6):
    if step == 2 and sys.argv[1] != "after":
        model = getattr(model, sys.argv[1])()      # mid-training: the optimizer keeps the adapters
    loss = nn.functional.cross_entropy(model(torch.randn(8, 16)), torch.randint(0, 4, (8,)))
    opt.zero_grad(); loss.backward(); opt.step()
if sys.argv[1] == "after":
    model = model.merge_and_unload()               # once training is over
"""


@pytest.fixture
def merge_script(tmp_path):
    pytest.importorskip("peft")
    return write(tmp_path / "train.py", MERGE)


def _fz302(out: str) -> str:
    [line] = [ln for ln in out.splitlines() if "FZ302" in ln]
    return line


def test_merge_and_unload_inside_the_window_is_fz302_naming_the_merge(cli, tmp_path, merge_script):
    res = cli(tmp_path, "run", "--steps", "4", str(merge_script), "merge_and_unload")
    assert res.code == 1, res.out + res.err
    line = _fz302(res.out)
    assert "the optimizer holds 4 tensors that are no longer in the model (1 of shape [4, 16], 2 of shape [32, 4], " \
        "1 of shape [4, 32]) and got no gradient in these steps: peft's merge_and_unload() replaced the LoRA layers " \
        "base_model.model.fc1, base_model.model.fc2 by their base layers, so the adapters are out of the model and " \
        "LoRA training stopped" in line, line
    # the frozen weights the merge wrote are said to be the merge's doing, not a step's (no FZ501)
    assert "the merge wrote the adapters' update into base_model.model.fc1.weight, base_model.model.fc2.weight " \
        "(frozen): that is why they changed in the window, not a step" in line, line
    assert "only base_model.model.head.weight, base_model.model.head.bias are in the model" in line, line
    assert "Merge once training is over" in line and "FZ501" not in res.out, res.out


def test_unload_is_fz302_too_and_merging_after_training_is_clean(cli, tmp_path, merge_script):
    res = cli(tmp_path, "run", "--steps", "4", str(merge_script), "unload")
    assert res.code == 1, res.out + res.err
    assert "peft's merge_and_unload() or unload() replaced the LoRA layers base_model.model.fc1, " \
        "base_model.model.fc2" in _fz302(res.out), res.out
    res = cli(tmp_path, "run", "--steps", "4", str(merge_script), "after")
    assert res.code == 0, res.out + res.err


def test_a_merge_after_the_first_window_is_fz302_in_a_later_one(cli, tmp_path, merge_script):
    res = cli(tmp_path, "run", "--no-stop", str(merge_script), "merge_and_unload")
    assert res.code == 1, res.out + res.err
    first, later = res.out.split("freeze audit:")[1:]
    assert first.startswith(" OK") and "peft's merge_and_unload() or unload() replaced the LoRA layers fc1, fc2 by " \
        "their base layers" in _fz302(later), res.out
    assert "note: a later window, from step 3: before it, the model was dropped by the script (a name rebound to " \
        "another model, as `model = model.merge_and_unload()` does)" in later, later


def test_a_merge_that_leaves_nothing_trainable_is_named_where_the_backward_fails(cli, tmp_path):
    pytest.importorskip("peft")
    path = write(tmp_path / "train.py", MERGE.replace(', modules_to_save=["head"]', ""))
    res = cli(tmp_path, "run", "--steps", "4", str(path), "merge_and_unload")
    assert res.code == 2, res.out + res.err
    assert "after 2 of 4 optimizer steps; peft's merge_and_unload() or unload() replaced the LoRA layers " \
        "base_model.model.fc1, base_model.model.fc2 by " \
        "their frozen base layers (PeftModel: 0 of 6 parameters trainable), so the loss has nothing to train and the " \
        "optimizer holds adapters no longer in the model: merge once training is over" in res.err, res.err


def test_fz302_names_the_overwrite_on_conversion_flag_where_it_is_set():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))
    net[0].requires_grad_(False)
    opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.1)
    torch.__future__.set_overwrite_module_params_on_conversion(True)
    try:
        net = net.to(torch.float64)  # new Parameter objects under the flag; the optimizer keeps the old
        with freezelint.watch(steps=2) as w:
            _train(net, opt, x=torch.randn(4, 3, 8, 8, dtype=torch.float64))
        [f] = w.report.findings
    finally:
        torch.__future__.set_overwrite_module_params_on_conversion(False)
    assert f.code == "FZ302" and "torch.__future__.set_overwrite_module_params_on_conversion(True) is set, under " \
        "which a conversion, .to(), .half(), .float(), .cuda() or .to(memory_format=...), gives every layer new " \
        "Parameter objects" in f.message, f.message
    assert f.advice.startswith("build the optimizer after converting the model (.to(), .half()) or replacing "
                               "layers, or leave that flag at its default"), f.advice


def test_one_conversion_of_the_whole_model_is_one_fz302_for_every_layer_it_swapped():
    """Under the overwrite flag one `.to()` gives every layer new Parameters: one finding names them all
    (trial 35: three copies of the same long message, one per layer)."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.ReLU(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))
    net[0].requires_grad_(False)
    opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.1)
    torch.__future__.set_overwrite_module_params_on_conversion(True)
    try:
        net = net.to(torch.float64)
        with freezelint.watch(steps=2) as w:
            _train(net, opt, x=torch.randn(4, 3, 8, 8, dtype=torch.float64))
        [f] = w.report.findings
    finally:
        torch.__future__.set_overwrite_module_params_on_conversion(False)
    assert f.code == "FZ302" and f.target == "3 modules", f
    assert f.message.startswith("1, 3, 7 (BatchNorm2d, Conv2d, Linear) have 6 trainable parameters"), f.message
    assert "set_overwrite_module_params_on_conversion(True) is set" in f.message, f.message
    assert sorted(f.names) == ["1.bias", "1.weight", "3.bias", "3.weight", "7.bias", "7.weight"], f.names


def test_a_merge_of_many_layers_names_six_by_full_name_where_the_backward_fails(cli, tmp_path):
    pytest.importorskip("peft")
    script = MERGE.replace(', modules_to_save=["head"]', "").replace(
        'self.fc1, self.fc2, self.head = nn.Linear(16, 32), nn.Linear(32, 32), nn.Linear(32, 4)',
        'self.fc1, self.fc2, self.head = nn.Linear(16, 32), nn.Sequential(*[nn.Linear(32, 32) for _ in range(8)]), '
        'nn.Linear(32, 4)').replace('target_modules=["fc1", "fc2"]', r'target_modules=r"fc2\.\d"')
    res = cli(tmp_path, "run", "--steps", "4", str(write(tmp_path / "train.py", script)), "merge_and_unload")
    assert res.code == 2, res.out + res.err
    assert "peft's merge_and_unload() or unload() replaced the LoRA layers base_model.model.fc2.0, " \
        "base_model.model.fc2.1, base_model.model.fc2.2, base_model.model.fc2.3, base_model.model.fc2.4, " \
        "base_model.model.fc2.5 and 2 more by their frozen base layers" in res.err, res.err
