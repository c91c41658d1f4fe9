"""What one line of the runtime report says: a folded subtree's modes, a finding's sentences, and
what the optimizers hold of a module."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import freezelint  # noqa: E402
from freezelint.runtime.report import AuditFinding, AuditReport, ModuleRecord  # noqa: E402


def _line(text: str, start: str) -> str:
    found = [line for line in text.splitlines() if line.lstrip("│├└─ ").startswith(start)]
    assert len(found) == 1, text
    return found[0]


class Net(nn.Module):
    """A frozen backbone of conv and BatchNorm pairs, and a head."""

    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(*(m for _ in range(2) for m in (nn.Conv2d(3, 3, 1), nn.BatchNorm2d(3))))
        self.head = nn.Linear(3, 2)

    def forward(self, x):
        return self.head(self.backbone(x).mean((2, 3)))


def _watched(bn_eval: bool) -> str:
    torch.manual_seed(0)
    model = Net()
    model.backbone.requires_grad_(False)
    opt = torch.optim.SGD(model.head.parameters(), lr=0.1)
    with freezelint.watch(steps=2, model=model) as w:
        for _ in range(2):
            model.train()
            if bn_eval:
                model.backbone.apply(lambda m: m.eval() if isinstance(m, nn.BatchNorm2d) else None)
            else:
                model.backbone.eval()
            model(torch.randn(2, 3, 4, 4)).sum().backward()
            opt.step()
            opt.zero_grad()
    assert w.report.ok, str(w.report)
    return w.report.render_text()


# ---------------------------------------------------------------- a folded subtree's modes
def test_a_folded_subtree_says_which_layers_ran_in_another_mode():
    line = _line(_watched(bn_eval=True), "backbone ")
    assert " · train, BatchNorm2d eval · " in line, line


def test_a_folded_subtree_in_one_mode_says_that_mode_alone():
    line = _line(_watched(bn_eval=False), "backbone ")
    assert " · eval · " in line and "BatchNorm2d" not in line, line


def _rec(name: str, kind: str, status: str, mode: str, params: int = 1) -> ModuleRecord:
    return ModuleRecord(name, kind, status, mode, params=params)


def test_a_folded_subtree_names_the_share_of_a_class_in_another_mode():
    mods = [_rec("", "Net", "frozen", "train", 4), _rec("b", "Sequential", "frozen", "train", 4),
            *(_rec(f"b.{i}", "BatchNorm2d", "frozen", "eval" if i < 2 else "train") for i in range(4))]
    text = AuditReport([], [], [], mods, 2, "cpu", "SGD", True).render_text()
    assert " · train, BatchNorm2d 2 of 4 eval · " in _line(text, "b "), text


def test_a_by_kind_line_says_each_kind_s_mode_where_they_differ_though_nothing_moved():
    # trainable convs that did not move beside frozen BatchNorm in eval: the by-kind form, with modes
    mods = [_rec("", "Net", "partly frozen", "train", 8), _rec("b", "Sequential", "partly frozen", "train", 8),
            *(_rec(f"b.{i}", kind, status, mode) for i in range(4)
              for kind, status, mode in [("Conv2d", "trainable", "train"), ("BatchNorm2d", "frozen", "eval")])]
    for i, m in enumerate(mods[2:]):
        m.name = f"b.{i}"
    text = AuditReport([], [], [], mods, 2, "cpu", "SGD", True).render_text()
    line = _line(text, "b ")
    assert "Conv2d (4) trainable, train, unchanged" in line and "BatchNorm2d (4) frozen, eval" in line, text


# ---------------------------------------------------------------- a finding's two sentences
def _finding(advice: str) -> AuditFinding:
    return AuditFinding("FZ502", "bn", "its running statistics moved over 2 steps", advice)


@pytest.mark.parametrize("advice, said", [
    ("re-apply .eval() after every model.train()", "over 2 steps. Re-apply .eval() after every model.train()"),
    ("call `.requires_grad_(False)`", "over 2 steps. Call `.requires_grad_(False)`"),
])
def test_the_advice_after_the_message_starts_with_a_capital(advice, said):
    f = _finding(advice)
    assert said in str(f)
    text = AuditReport([f], [], [], [ModuleRecord("", "Net", "frozen", "train")], 2, "cpu", "SGD", True).render_text()
    assert said in text, text
    assert f.advice == advice  # JSON keeps the advice as written


@pytest.mark.parametrize("advice", ["`model.eval()` after every train()", "model.train() must not follow", "e.g. this",
                                    "requires_grad_(False) on it", "p.grad = None first"])
def test_code_at_the_advice_s_start_stays_as_written(advice):
    assert str(_finding(advice)).endswith(f"over 2 steps. {advice}")


def test_a_real_finding_s_advice_reads_as_a_sentence():
    model = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 2))
    model[0].requires_grad = False  # FZ102: a plain attribute autograd never reads
    report = freezelint.audit(model, torch.optim.SGD(model.parameters(), lr=0.1), batch=torch.randn(4, 3))
    f = next(f for f in report.findings if f.code == "FZ102")
    assert f"{f.message}. Call " in str(f) and f"{f.message}. Call " in report.render_text(), str(f)


# ---------------------------------------------------------------- who finds a code
def test_found_by_names_the_watch_where_it_reports_the_code(cli, tmp_path):

    rows = {r["code"]: r["found_by"] for r in json.loads(cli(tmp_path, "rules", "--json").out)}
    assert rows["FZ502"] == rows["FZ506"] == "audit+run"
    assert rows["FZ201"] == "check+audit+run"
    assert rows["FZ304"] == "check+run"  # only the training code's own loop shows its schedulers' lr
    assert rows["FZ104"] == "check"  # near-miss: a static code alone
    page = cli(tmp_path, "rule", "FZ506").out
    assert "Found by: `freezelint.audit()` and `freezelint run` / `freezelint.watch()`." in page, page
    assert "Found by: `freezelint check`." in cli(tmp_path, "rule", "FZ104").out


# ---------------------------------------------------------------- run --verbose
_RUN = """
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
model[0].requires_grad_(False)
opt = torch.optim.SGD(model[2].parameters(), lr=0.1)
for i in range(3):
    model(torch.randn(5, 4)).pow(2).mean().backward()
    opt.step()
    opt.zero_grad()
    if {fail}:
        raise ValueError("bad batch")
"""


def test_run_verbose_shows_the_full_tree_as_audit_verbose_does(cli, tmp_path):
    (tmp_path / "train.py").write_text(_RUN.replace("{fail}", "False"))
    plain = cli(tmp_path, "run", "train.py")
    assert plain.code == 0 and "1 ReLU" not in plain.out, plain.out  # near-miss: what holds nothing is left out
    verbose = cli(tmp_path, "run", "--verbose", "train.py")
    assert verbose.code == 0 and "1 ReLU" in verbose.out, verbose.out
    assert json.loads(cli(tmp_path, "run", "-v", "--format", "json", "train.py").out)["ok"]


def test_run_verbose_still_shows_the_script_s_traceback_where_it_failed(cli, tmp_path):
    (tmp_path / "train.py").write_text(_RUN.replace("{fail}", "i == 0"))
    r = cli(tmp_path, "run", "--steps", "3", "-v", "train.py")
    assert r.code == 2 and "Traceback" in r.err and "ValueError: bad batch" in r.err, r.err


# ---------------------------------------------------------------- what the optimizers hold, in the tree
def test_the_tree_counts_the_trainable_params_the_optimizer_holds():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 2))
    report = freezelint.audit(model, torch.optim.SGD([model[1].weight], lr=0.1), batch=torch.randn(4, 3))
    text = report.render_text()
    assert _line(text, "0 ").endswith("none of its 2 trainable params in the optimizer · ◀"), text
    assert _line(text, "1 ").endswith("1 of 2 trainable params in the optimizer"), text
    assert _line(text, "(model) ").endswith("1 of 4 trainable params in the optimizer"), text
    assert "optimizer: " not in text  # the words that did not say of what
    m0 = next(m for m in report.to_dict()["modules"] if m["name"] == "0")
    assert (m0["trainable"], m0["trainable_held"], m0["optimizer"]) == (2, 0, "none")


def test_the_tree_says_an_optimizer_where_there_are_several():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 2))
    opts = {"a": torch.optim.SGD(model[0].parameters(), lr=0.1), "b": torch.optim.SGD(model[1].parameters(), lr=0.1)}
    text = freezelint.audit(model, opts, batch=torch.randn(4, 3)).render_text()
    assert _line(text, "(model) ").endswith("all 4 trainable params in an optimizer"), text


# ---------------------------------------------------------------- expectations in the script's own names
_FEAT = """
import torch
import torch.nn as nn

torch.manual_seed(0)
backbone = nn.Sequential(nn.Linear(4, 8), nn.ReLU())
backbone.requires_grad_(False)
head = nn.Linear(8, 2)
model = nn.Sequential(backbone, head)
opt = torch.optim.AdamW(head.parameters(), lr=1e-3)
for _ in range(3):
    loss = model(torch.randn(2, 4)).sum()
    opt.zero_grad()
    loss.backward()
    opt.step()
"""


def test_run_judges_a_pattern_in_the_script_s_own_name_for_a_module(cli, tmp_path):
    (tmp_path / "feat.py").write_text(_FEAT)
    ok = cli(tmp_path, "run", "--expect-frozen", "backbone", "--expect-trainable", "head", "feat.py")
    assert ok.code == 0, ok.out
    assert "note: expect_frozen `backbone` was judged on `0`: `backbone` is the training code's name for the " \
           "model's module 0" in ok.out, ok.out
    wrong = cli(tmp_path, "run", "--expect-trainable", "backbone", "feat.py")  # judged there, and it is frozen
    assert wrong.code == 1 and "FZ506 expectation-failed [backbone] expected to train, but 0.0.weight" in wrong.out, wrong.out
    unknown = cli(tmp_path, "run", "--expect-frozen", "encoder", "feat.py")  # no name of the script's: FZ506 stays
    assert unknown.code == 1 and "FZ506 expectation-failed [encoder]" in unknown.out, unknown.out


# ---------------------------------------------------------------- audit's selection, as run's
_FACTORY = """
import torch
import torch.nn as nn


def make():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 2))
    return model, torch.optim.SGD(model[1].parameters(), lr=0.1), torch.randn(4, 3)
"""


def test_audit_takes_select_and_config_as_run_does(cli, tmp_path):
    (tmp_path / "f.py").write_text(_FACTORY)
    plain = cli(tmp_path, "audit", "f.py:make")
    assert plain.code == 1 and "FZ503" in plain.out, plain.out  # near-miss: no config, no selection
    selected = cli(tmp_path, "audit", "--select", "FZ501,FZ502", "f.py:make")
    assert selected.code == 0 and "(1 ignored)" in selected.out and "FZ503" in selected.out, selected.out
    (tmp_path / "other.toml").write_text('[tool.freezelint]\nignore = ["FZ503"]\n')
    assert cli(tmp_path, "audit", "--config", "other.toml", "f.py:make").code == 0
    (tmp_path / "pyproject.toml").write_text('[tool.freezelint]\nignore = ["FZ503"]\n')
    found = cli(tmp_path, "audit", "--format", "json", "f.py:make")  # the nearest config, as for run
    doc = json.loads(found.out)
    assert found.code == 0 and doc["ok"] and "FZ503" in doc["ignore"], found.out
    bad = cli(tmp_path, "audit", "--select", "FZ9", "f.py:make")
    assert bad.code == 2 and "--select" in bad.err and "FZ9" in bad.err, bad.err
