"""Project analysis: the flow rules follow calls and classes into the other files of the project
(multi-file fixtures under tests/projects/, each with a correct twin), summaries are cached and
findings recomputed when a summary they used changes, and a run on one file still sees the project."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest

from freezelint.check.project import Project, find_root, marked_root
from freezelint.check.summaries import summarise_text

from conftest import write

PROJECTS = Path(__file__).parent / "projects"
NAMES = sorted(p.name for p in PROJECTS.iterdir() if p.is_dir())
EXPECT = re.compile(r"#\s*expect:\s*(FZ\d{3})")


def _copy(name: str, tmp_path: Path) -> Path:
    dest = tmp_path / name
    shutil.copytree(PROJECTS / name, dest)
    return dest


def _expected(root: Path) -> list[tuple[str, int, str]]:
    out = []
    for f in sorted(root.rglob("*.py")):
        for i, line in enumerate(f.read_text().splitlines(), 1):
            for code in EXPECT.findall(line):
                out.append((f.relative_to(root).as_posix(), i, code))
    return out


def _found(cli, root: Path, *args: str) -> list[tuple[str, int, str]]:
    r = cli(root, "check", "--format", "json", *args)
    assert r.code in (0, 1), r.err
    return sorted((Path(d["filename"]).as_posix(), d["location"]["row"], d["code"]) for d in json.loads(r.out))


def test_fixture_twins_exist():
    bad = {n[:-4] for n in NAMES if n.endswith("_bad")}
    good = {n[:-5] for n in NAMES if n.endswith("_good")}
    assert bad == good and {"split", "builder", "ddp", "callback", "chain"} <= bad


@pytest.mark.parametrize("name", NAMES)
def test_project_findings_are_exactly_the_marked_lines(cli, tmp_path, name):
    root = _copy(name, tmp_path)
    want = _expected(root)
    assert bool(want) == name.endswith("_bad")
    assert _found(cli, root, "--no-cache", ".") == want


@pytest.mark.parametrize("name", [n for n in NAMES if n.endswith("_bad")])
def test_the_same_files_alone_find_nothing(cli, tmp_path, name):
    """The mistakes really cross files: each marked file checked with its project hidden is clean."""
    root = _copy(name, tmp_path)
    for rel, _, _ in _expected(root):
        alone = tmp_path / f"alone_{name}"
        alone.mkdir(exist_ok=True)
        (alone / "pyproject.toml").write_text("")
        shutil.copy(root / rel, alone / Path(rel).name)
        assert _found(cli, alone, "--no-cache", ".") == []


def test_a_run_on_one_file_finds_the_root_and_summarises_on_demand(cli, tmp_path):
    root = _copy("split_bad", tmp_path)
    assert find_root(root / "models" / "net.py") == root
    r = cli(root / "models", "check", "--no-cache", "--format", "json", "../train.py")
    assert [(d["code"], d["location"]["row"]) for d in json.loads(r.out)] == [("FZ201", 10)]
    msg = json.loads(r.out)[0]["message"]
    assert "`train_one_epoch(...)`" in msg and "engine.py:2" in msg


def test_a_tree_without_pyproject_or_git_is_rooted_at_the_directory_given(cli, tmp_path):
    """No marker above: the project is the tree the run was given, so a script in a subdirectory
    that imports the package beside it (`python -m scripts.train`) sees that package's freeze."""
    root = tmp_path / "proj"
    write(root / "models" / "net.py", """
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Linear(4, 4)
        self.head = nn.Linear(4, 2)

    def freeze_backbone(self):
        for p in self.backbone.parameters():
            p.requires_grad = False
""")
    write(root / "scripts" / "train.py", """
import torch
from models.net import Net

model = Net()
model.freeze_backbone()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
""")
    assert not any((d / m).exists() for d in (root, *root.parents) for m in ("pyproject.toml", ".git"))
    assert _found(cli, root, "--no-cache", ".") == [("scripts/train.py", 6, "FZ301")]
    # given only scripts/ (or the script), run from proj/: `python -m scripts.train` from there
    # imports proj/models, and so does the check (the directories above, up to the working one)
    assert _found(cli, root, "--no-cache", "scripts") == [("scripts/train.py", 6, "FZ301")]
    assert _found(cli, root, "--no-cache", "scripts/train.py") == [("scripts/train.py", 6, "FZ301")]
    # run from scripts/ itself, or from a directory outside the tree: nothing above the script is
    # guessed to be its import path
    assert _found(cli, root / "scripts", "--no-cache", "train.py") == []
    elsewhere = root.parent / "elsewhere"
    elsewhere.mkdir()
    assert _found(cli, elsewhere, "--no-cache", str(root / "scripts" / "train.py")) == []


def test_show_project_names_root_files_and_edges(cli, tmp_path):
    root = _copy("split_bad", tmp_path)
    r = cli(root, "check", "--no-cache", "--show-project", "train.py")
    assert r.code == 1
    assert f"project root: {root}" in r.err
    assert "\n  engine.py\n" in r.err and "\n  models/net.py\n" in r.err
    assert "train.py -> engine.py:train_one_epoch" in r.err
    assert "train.py -> models/net.py:Net" in r.err
    assert "FZ201" in r.out


def test_show_project_lists_files_apart_from_scans_of_the_whole_project(cli, tmp_path):
    """A finding that asked which project files mention another BatchNorm kind used a scan of
    every file: listed as such, not as a file named `<project>`."""
    write(tmp_path / "pyproject.toml", "[tool.freezelint]\n")
    for pkg in ("models", "engine"):
        write(tmp_path / pkg / "__init__.py", "")
    write(tmp_path / "models" / "net.py", """
import torch
import torch.nn as nn
import torchvision


class Detector(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = torchvision.models.resnet50(weights=None)
        for m in self.backbone.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
                m.weight.requires_grad_(False)
                m.bias.requires_grad_(False)
        self.head = nn.Linear(1000, 4)

    def forward(self, x):
        return self.head(self.backbone(x))


def freeze_bn(model):
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
""")
    write(tmp_path / "engine" / "loop.py", """
import torch.nn.functional as F


def train_one_epoch(model, loader, optimizer):
    model.train()
    for x, y in loader:
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
""")
    write(tmp_path / "main.py", """
import torch
import torchvision
from models.net import Detector, freeze_bn
from engine.loop import train_one_epoch


def main(loader):
    det = Detector()
    opt = torch.optim.SGD([p for p in det.parameters() if p.requires_grad], lr=0.01, momentum=0.9)
    for epoch in range(3):
        train_one_epoch(det, loader, opt)


def main2(loader):
    model = torchvision.models.resnet50(weights=None)
    freeze_bn(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    for epoch in range(3):
        train_one_epoch(model, loader, opt)
""")
    r = cli(tmp_path, "check", "--no-cache", "--show-project", ".")
    assert "FZ201" in r.out
    files = r.err.split("files summarised and used: ")[1].split("\n")
    # (not main.py: what it passes models/net.py's freeze_bn is asked only of a helper that sets requires_grad)
    assert files[:3] == ["2", "  engine/loop.py", "  models/net.py"] and "<project>" not in r.err
    scan = r.err.split("scans of every project file used: 1\n")[1].split("\n")[0]
    assert scan.startswith("  the files tied by imports to ") and " searched for /" in scan and scan.endswith("/")
    assert "(at most 2 imports away, tests left out)" in scan  # FZ203's scan


def _used_edges(err: str) -> dict[tuple[str, int, str], list[str]]:
    """--show-project's per-finding section: (file, line, code) -> the edges listed under it."""
    section = err.split("cross-file edges the findings used:", 1)[1].split("\ncross-file edges followed:", 1)[0]
    out: dict = {}
    path = key = None
    for line in section.splitlines()[1:]:
        depth = len(line) - len(line.lstrip())
        if depth == 2:
            path = line.strip()
        elif depth == 4:
            row, code = line.strip().split(": ")
            key = (path, int(row), code)
            out[key] = []
        elif depth == 6:
            out[key].append(line.strip())
    return out


@pytest.mark.parametrize("name", [n for n in NAMES if n.endswith("_bad")])
@pytest.mark.parametrize("warm", [False, True])
def test_show_project_lists_under_each_finding_the_edges_it_used(cli, tmp_path, name, warm):
    """Every finding of a fixture crosses files: --show-project names, under it, the edges that
    carried it (from the cache too); the full list of edges followed needs --verbose."""
    root = _copy(name, tmp_path)
    if warm:
        cli(root, "check", "--format", "json", ".")
    r = cli(root, "check", "--show-project", *(() if warm else ("--no-cache",)), "--format", "json", ".")
    used = _used_edges(r.err)
    findings = {(Path(d["filename"]).as_posix(), d["location"]["row"], d["code"]) for d in json.loads(r.out)}
    assert set(used) == findings and all(used.values())
    assert all(" -> " in e and e.split(" -> ")[0].endswith(".py") for edges in used.values() for e in edges)
    assert "(--verbose lists them)" in r.err
    v = cli(root, "check", "--show-project", "--verbose", "--no-cache", ".")
    followed = v.err.split("\ncross-file edges followed:", 1)[1].splitlines()[1:]
    assert {e for edges in used.values() for e in edges} <= {f.strip() for f in followed}


def test_show_project_names_the_whole_chain_under_the_finding(cli, tmp_path):
    root = _copy("chain_bad", tmp_path)
    r = cli(root, "check", "--no-cache", "--show-project", ".")
    assert _used_edges(r.err) == {("train.py", 18, "FZ201"): [
        "train.py -> engine/loop.py:run_epoch", "engine/loop.py -> engine/steps.py:train_one_epoch"]}


def test_summary_is_json_data_and_names_effects():
    text = (PROJECTS / "split_good" / "engine.py").read_text()
    s = summarise_text(text)
    assert json.loads(json.dumps(s)) == s
    assert s["functions"]["train_one_epoch"]["effects"]["0"] == {"train": 2, "calls:freeze_bn": 3, "activity": 6}
    net = summarise_text((PROJECTS / "split_good" / "models" / "net.py").read_text())
    assert net["classes"]["Net"]["module"] and not net["classes"]["Net"]["train_override"]
    assert net["classes"]["Net"]["methods"]["freeze_bn"] == {"bn_freeze": 16}
    assert net["classes"]["Net"]["bn"] == ["backbone"]


def test_a_summary_places_a_hand_over_to_a_callable_parameter_at_its_last_call():
    """`freeze(model)` of a `freeze` the helper was given may re-freeze: "opaque", where it last
    happens, so a caller orders it after the helper's train() only when it comes after it."""
    engine = summarise_text((PROJECTS / "override_good" / "engine.py").read_text())
    assert list(engine["functions"]["train_refreezing"]["effects"]["0"]) == ["train", "opaque", "activity"]
    engine = summarise_text((PROJECTS / "override_bad" / "engine.py").read_text())
    assert list(engine["functions"]["train_refreezing"]["effects"]["0"]) == ["opaque", "train", "activity"]
    twice = summarise_text("def fit(model, freeze):\n    freeze(model)\n    model.train()\n    freeze(model)\n")
    assert list(twice["functions"]["fit"]["effects"]["0"]) == ["train", "opaque", "activity"]


def test_cached_findings_follow_a_changed_dependency(cli, tmp_path):
    root = _copy("split_good", tmp_path)
    assert _found(cli, root, ".") == []
    assert _found(cli, root, ".") == []  # warm
    engine = root / "engine.py"
    # the helper stops re-applying the freeze: train.py itself is unchanged, its finding appears
    engine.write_text(engine.read_text().replace("    model.freeze_bn()  # re-applied after every train()\n", ""))
    assert _found(cli, root, ".") == [("train.py", 10, "FZ201")]
    # the summaries were cached by content
    assert list((root / ".freezelint_cache").rglob("summaries/*/*"))


def test_summaries_on_demand_are_bounded(tmp_path):
    for i in range(5):
        (tmp_path / f"m{i}.py").write_text(f"def f{i}(model):\n    model.train()\n")
    (tmp_path / "pyproject.toml").write_text("")
    project = Project(tmp_path, limit=3)
    importer = str(tmp_path / "main.py")
    hits = [project.function(importer, f"m{i}.f{i}") for i in range(5)]
    assert sum(h is not None for h in hits) == 3


def test_warm_run_hits_the_cache_for_files_that_used_project_summaries(tmp_path, monkeypatch):
    from freezelint.check.runner import check_paths
    from freezelint.config import load

    root = _copy("split_bad", tmp_path)
    monkeypatch.chdir(root)
    cold = check_paths(["."], load())
    warm = check_paths(["."], load())
    assert [d.code for d in cold.diagnostics] == [d.code for d in warm.diagnostics] == ["FZ201"]
    assert warm.cached == warm.files and warm.parsed == 0
    assert any("#class Net" in d for d in warm.summarised)  # the Net class line was a dependency
    # a change to the class line (no longer a Module) invalidates train.py's cached result
    net = root / "models" / "net.py"
    net.write_text(net.read_text().replace("class Net(nn.Module):", "class Net(object):"))
    again = check_paths(["."], load())
    assert again.parsed >= 2  # net.py itself and train.py, whose result used its class line


def test_callback_hooks_come_after_the_optimizer_of_the_module_they_name(cli, tmp_path):
    """Lightning builds the optimizers (configure_optimizers) before any Callback training hook:
    the findings in callbacks.py name the module's configure_optimizers in model.py."""
    root = _copy("callback_bad", tmp_path)
    r = cli(root, "check", "--no-cache", "--format", "json", "callbacks.py")
    found = {d["code"]: d["message"] for d in json.loads(r.out)}
    assert set(found) == {"FZ301", "FZ303"}
    assert "`Classifier.configure_optimizers` (model.py:15)" in found["FZ303"] and "on_train_epoch_start" in found["FZ303"]
    assert "`Finetuner.configure_optimizers` (model.py:27)" in found["FZ301"]
    s = summarise_text((root / "model.py").read_text())
    assert s["classes"]["Classifier"]["optimizer"]["filtered"] is True
    assert s["classes"]["Finetuner"]["optimizer"] == {
        "filtered": False, "optimizer": "torch.optim.AdamW", "whole": True,
        "stateful": "AdamW's default weight_decay=0.01", "path": "self", "line": 27}


def test_callback_without_a_visible_module_reports_only_what_holds_for_any_optimizer(cli, tmp_path):
    """Which module a Callback gets is unknown without an annotation or a single imported
    LightningModule: FZ301/FZ303 need its optimizer and stay silent; FZ302 holds for any optimizer."""
    root = _copy("callback_bad", tmp_path)
    cb = root / "callbacks.py"
    text = cb.read_text().replace(": Classifier", "").replace(': "Finetuner"', "")
    cb.write_text(text)  # two LightningModules imported, none named: unknown
    assert _found(cli, root, "--no-cache", "callbacks.py") == []
    cb.write_text(text.replace("from model import Classifier, Finetuner", "from model import Classifier"))
    assert [c for _, _, c in _found(cli, root, "--no-cache", "callbacks.py")] == ["FZ303"]  # the only one
    cb.write_text(text + "\n\nclass Head(Callback):\n    def on_fit_start(self, trainer, pl_module):\n"
                  "        pl_module.head = torch.nn.Linear(512, 10)\n")
    cb.write_text("import torch\n" + cb.read_text())
    assert [c for _, _, c in _found(cli, root, "--no-cache", "callbacks.py")] == ["FZ302"]


def test_effects_cross_a_chain_of_files_and_a_change_at_its_end_reaches_the_caller(cli, tmp_path, monkeypatch):
    """train.py -> engine/loop.py:run_epoch -> engine/steps.py:train_one_epoch (model.train()):
    the FZ201 in train.py comes from two files away; its cached result depends on both."""
    from freezelint.check.runner import check_paths
    from freezelint.config import load

    bad = _copy("chain_bad", tmp_path)
    r = cli(bad, "check", "--no-cache", "--format", "json", "train.py")
    [d] = json.loads(r.out)
    assert "`run_epoch(...)` (`train_one_epoch(...)`, it calls train() at engine/steps.py:5)" in d["message"]

    root = _copy("chain_good", tmp_path)
    monkeypatch.chdir(root)
    assert check_paths(["."], load()).diagnostics == []
    warm = check_paths(["."], load())
    assert warm.cached == warm.files and warm.diagnostics == []
    assert {Path(p).name for p in warm.summarised} >= {"loop.py", "steps.py"}
    steps = root / "engine" / "steps.py"
    steps.write_text(steps.read_text().replace("    model.apply(keep_bn_frozen)  # re-applied after every train()\n", ""))
    again = check_paths(["."], load())  # train.py and loop.py unchanged
    assert [(d.path, d.row, d.code) for d in again.diagnostics] == [("train.py", 18, "FZ201")]


def test_summaries_used_include_every_file_on_the_chain(tmp_path):
    root = _copy("chain_bad", tmp_path)
    project = Project(root)
    project.start_file()
    effects = project.effects(str(root / "train.py"), "engine.loop.run_epoch", 0)
    assert [(e.kind, e.shown.endswith("steps.py"), e.via) for e in effects][:1] == \
        [("train", True, ("run_epoch", "train_one_epoch"))]
    assert {Path(p).name for p in project.used} == {"loop.py", "steps.py"}
    assert [(e.target.endswith("loop.py"), e.name) for e in effects[0].edges] == [(True, "run_epoch"), (False, "train_one_epoch")]


def test_a_cycle_of_helpers_across_files_ends(tmp_path):
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "a.py").write_text("from b import g\n\n\ndef f(model, n):\n    model.train()\n    g(model, n - 1)\n")
    (tmp_path / "b.py").write_text("from a import f\n\n\ndef g(model, n):\n    if n:\n        f(model, n)\n")
    project = Project(tmp_path)
    effects = project.effects(str(tmp_path / "main.py"), "b.g", 0)
    assert effects[0].kind == "train" and effects[0].via == ("g", "f")  # and back into g: not entered again


def test_attributes_followed_through_a_cycle_of_base_classes_end(tmp_path):
    """`class A(B)` and `class B(A)` in two files: an attribute neither sets is unknown, each class
    read once; one B sets is found through A, with both classes as dependencies."""
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "a.py").write_text("from b import B\n\n\nclass A(B):\n    def __init__(self):\n"
                                   "        self.head = B()\n")
    (tmp_path / "b.py").write_text("import torch.nn as nn\nfrom a import A\n\n\nclass B(A):\n"
                                   "    def __init__(self):\n        self.body = nn.Linear(2, 2)\n")
    project = Project(tmp_path)
    main = str(tmp_path / "main.py")
    assert project.class_attr(main, "a.A", "tail") is None
    assert project.class_attr(main, "a.A", "body")[0] == {"kind": "module", "qual": "torch.nn.Linear",
                                                         "factory": "torch.nn.Linear"}
    assert sorted(d.rsplit("/", 1)[-1] for d in project.used if "#attrs" in d) == ["a.py#attrs A", "b.py#attrs B"]
    # `head` holds a B, not proven a Module (its bases go round): unknown
    assert project.class_attr(main, "a.A", "head") is None


@pytest.mark.parametrize("text, called", [
    ("x = build_model(cfg)", True),  # an argument: it may act on what it is given
    ("model = build_model()", True),  # assigned: a builder whose model may come back frozen
    ("model = (\n    build_model()\n)", True),
    ("build_model()", False),  # no argument, result dropped: nothing a flow rule can follow
    ("main()\nbuild_model  ()", False),
    ("self.build_model(cfg)", False),  # a method of the same name, not the imported function
    ("x = self.build_model()", False),
    ("rebuild_model(cfg)", False),
])
def test_imported_names_followed_are_those_called_with_an_argument_or_assigned(text, called):
    from freezelint.check.project import _called_with_args

    assert _called_with_args(text, "build_model") == called


def test_a_narrow_batchnorm_test_is_reported_once_another_kind_appears_in_the_project(cli, tmp_path):
    # FZ203 needs another BatchNorm kind in sight; in another file of the project counts, and a
    # cached "nothing" is checked again when a file starts (or stops) naming one.
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (tmp_path / "utils.py").write_text(
        "import torch.nn as nn\n\n\ndef freeze_bn(model):\n    for m in model.modules():\n"
        "        if isinstance(m, nn.BatchNorm2d):\n            m.eval()\n")
    train = tmp_path / "train.py"
    train.write_text("from utils import freeze_bn\n\nfreeze_bn(model)\n")
    cache = ["--cache-dir", str(tmp_path / ".cache")]
    assert _found(cli, tmp_path, *cache, ".") == []
    train.write_text("import torch.nn as nn\nfrom utils import freeze_bn\n\n"
                     "model = nn.SyncBatchNorm.convert_sync_batchnorm(model)\nfreeze_bn(model)\n")
    assert _found(cli, tmp_path, *cache, ".") == [("utils.py", 6, "FZ203")]
    train.write_text("from utils import freeze_bn\n\nfreeze_bn(model)\n")
    assert _found(cli, tmp_path, *cache, ".") == []


def test_a_freeze_by_a_helper_of_another_file_counts_for_fz301_and_a_helper_doing_both_is_reported_once(cli, tmp_path):
    """FZ301 sees a freeze done by an imported helper (as all of what the helper is given, since a
    summary says that it freezes, not which part); a helper that freezes and builds the optimizer
    itself is reported inside it, not again at its call site."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (tmp_path / "utils.py").write_text(
        "def freeze_encoder(model):\n    for p in model.encoder.parameters():\n        p.requires_grad = False\n")
    train = tmp_path / "train.py"
    train.write_text("import torch\nfrom utils import freeze_encoder\n\nfreeze_encoder(model)\n"
                     "opt = torch.optim.AdamW(model.parameters())\nhead_opt = torch.optim.AdamW(model.head.parameters())\n")
    assert _found(cli, tmp_path, "--no-cache", ".") == [("train.py", 5, "FZ301")]
    msg = json.loads(cli(tmp_path, "check", "--no-cache", "--format", "json", ".").out)[0]["message"]
    assert "`freeze_encoder(...)` freezes parameters of `model`" in msg
    (tmp_path / "engine.py").write_text(
        "import torch\n\n\ndef fit(cfg, model):\n    for p in model.encoder.parameters():\n"
        "        p.requires_grad = False\n    opt = torch.optim.AdamW(model.parameters())\n    return model\n")
    train.write_text("from engine import fit\n\nmodel = fit(cfg, model)\n")
    assert _found(cli, tmp_path, "--no-cache", ".") == [("engine.py", 7, "FZ301")]


def test_what_a_class_init_leaves_frozen_is_in_its_summary_and_a_change_there_is_seen(cli, tmp_path):
    """A Module class's `__init__` freezes (of self, or of an argument it holds)
    are recorded with the flags they sit under; a cached finding that used them follows a change."""
    root = _copy("initfreeze_bad", tmp_path)
    builder = root / "models" / "builder.py"
    classes = summarise_text(builder.read_text())["classes"]
    assert classes["SimSiam"]["init_freeze"] == [{"inner": ".encoder.fc", "flags": []}]
    assert classes["FusionModel"]["init_freeze"] == [
        {"inner": ".text_model", "flags": [[3, "freeze_weights", False]]},
        {"inner": ".audio_model", "flags": [[3, "freeze_weights", False]]}]
    cache = ["--cache-dir", str(tmp_path / ".cache")]
    assert {("train.py", 12, "FZ301"), ("train.py", 17, "FZ301")} <= set(_found(cli, root, *cache, "."))
    msg = json.loads(cli(root, "check", "--no-cache", "--format", "json", "train.py").out)[0]["message"]
    assert "`SimSiam(...)` freezes parameters of `model.encoder.fc`" in msg
    builder.write_text(builder.read_text().replace("        self.encoder.fc.bias.requires_grad = False\n", ""))
    found = set(_found(cli, root, *cache, "."))
    assert ("train.py", 12, "FZ301") not in found and ("train.py", 22, "FZ301") in found


def test_a_file_that_calls_a_class_through_its_imported_module_is_checked(cli, tmp_path):
    """`import simsiam.builder` then `simsiam.builder.SimSiam(...)` (facebookresearch/simsiam's
    main_simsiam.py): the file names no freezing word, and the class it builds freezes; the flow rules
    see it. A module attribute that is not called with arguments admits nothing."""
    root = _copy("initfreeze_bad", tmp_path)
    (root / "train.py").write_text(
        "import torch\nimport torchvision.models as tvm\n\nimport models.builder\n\n\n"
        "def main(args):\n    model = models.builder.SimSiam(tvm.resnet50, args.dim)\n"
        "    return torch.optim.SGD(model.parameters(), 0.05, momentum=0.9)\n")
    assert _found(cli, root, "--no-cache", "train.py") == [("train.py", 9, "FZ301")]
    assert Project(root).calls_imported("import models.builder as mb\nimport os\nx = mb.SimSiam(enc)\n"
                                        "y = mb.DIM\nos.path.join(a)\n") == ["models.builder.SimSiam"]


def test_simsiam_optim_params_bound_in_each_arm_of_an_if_is_judged_as_one_binding(cli, tmp_path):
    """main_simsiam.py as written: `optim_params` is the encoder and predictor groups under
    `args.fix_pred_lr`, else `model.parameters()`, of the DDP-wrapped SimSiam. The frozen bias is in
    the optimizer on every run, as in the one-binding version above: the same FZ301."""
    root = _copy("initfreeze_bad", tmp_path)
    (root / "train.py").write_text(
        "import torch\nimport torchvision.models as tvm\n\nimport models.builder\n\n\n"
        "def main_worker(gpu, args):\n    model = models.builder.SimSiam(tvm.resnet50, args.dim)\n"
        "    model = torch.nn.parallel.DistributedDataParallel(model.cuda(), device_ids=[gpu])\n"
        "    if args.fix_pred_lr:\n"
        "        optim_params = [{'params': model.module.encoder.parameters(), 'fix_lr': False},\n"
        "                        {'params': model.module.predictor.parameters(), 'fix_lr': True}]\n"
        "    else:\n        optim_params = model.parameters()\n"
        "    return torch.optim.SGD(optim_params, 0.05, momentum=0.9, weight_decay=1e-4)\n")
    assert _found(cli, root, "--no-cache", "train.py") == [("train.py", 15, "FZ301")]


def test_a_helper_of_another_file_that_unfreezes_and_adds_the_group_is_not_fz303(cli, tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    helper = ("def unfreeze(optimizer, layer):\n    layer.requires_grad_(True)\n"
              "    optimizer.add_param_group({'params': list(layer.parameters())})\n")
    (tmp_path / "schedule.py").write_text(helper)
    (tmp_path / "train.py").write_text(
        "import torch\nfrom schedule import unfreeze\n\nmodel.backbone.requires_grad_(False)\n"
        "opt = torch.optim.Adam(filter(lambda p: p.requires_grad, model.parameters()))\n"
        "for epoch in range(10):\n    if epoch == 5:\n        unfreeze(opt, model.backbone.layer4)\n"
        "    train_one_epoch(model, opt)\n")
    assert _found(cli, tmp_path, "--no-cache", ".") == []
    (tmp_path / "schedule.py").write_text(helper.rsplit("    optimizer", 1)[0])  # the half that is the mistake
    assert _found(cli, tmp_path, "--no-cache", ".") == [("train.py", 8, "FZ303")]


def test_a_helper_of_another_file_ending_in_train_is_ordered_with_the_statements_around_its_call(cli, tmp_path):
    """`evaluate(model, val); freeze_bn(model)` with evaluate (another file) ending in model.train():
    the re-freeze follows that train() as it would follow an inline one; without it, FZ201."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (tmp_path / "bn.py").write_text(
        "import torch.nn as nn\n\n\ndef freeze_bn(model):\n    for m in model.modules():\n"
        "        if isinstance(m, nn.modules.batchnorm._BatchNorm):\n            m.eval()\n")
    (tmp_path / "engine.py").write_text(
        "import torch\n\n\n@torch.no_grad()\ndef evaluate(model, loader):\n    model.eval()\n"
        "    for x, y in loader:\n        model(x)\n    model.train()\n")
    loop = ("from bn import freeze_bn\nfrom engine import evaluate\n\nfreeze_bn(model)\nfor epoch in range(10):\n"
            "    for x, y in loader:\n        criterion(model(x), y).backward()\n        optimizer.step()\n"
            "    evaluate(model, val_loader)\n")
    train = tmp_path / "train.py"
    train.write_text(loop + "    freeze_bn(model)\n")
    assert _found(cli, tmp_path, "--no-cache", ".") == []
    train.write_text(loop)
    assert _found(cli, tmp_path, "--no-cache", ".") == [("train.py", 9, "FZ201")]


TRAIN_UNFREEZE = ("import torch\n{imports}\n\nmodel = {build}\n{freeze}"
                  "opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)\n"
                  "for epoch in range(10):\n    if epoch == 5:\n        model.layer4.requires_grad_(True)\n"
                  "    train_one_epoch(model, opt)\n")


def test_fz303_sees_a_freeze_by_a_function_of_another_file_however_the_call_names_it(cli, tmp_path):
    """Nothing frozen, the requires_grad filter kept every parameter: FZ303 is silent. A freeze done
    by a helper of another file counts, called by its name or through its module."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (tmp_path / "freeze.py").write_text(
        "def freeze_backbone(model):\n    for name, p in model.named_parameters():\n"
        "        if not name.startswith('fc.'):\n            p.requires_grad = False\n\n\n"
        "def count(model):\n    return sum(p.numel() for p in model.parameters())\n")
    train = tmp_path / "train.py"
    lib = "torchvision.models.resnet18(weights=None)"
    for imports, call, found in (("from freeze import freeze_backbone", "freeze_backbone(model)", True),
                                 ("import freeze", "freeze.freeze_backbone(model)", True),
                                 ("import freeze", "freeze.count(model)", False)):
        source = TRAIN_UNFREEZE.format(imports=f"import torchvision\n{imports}", build=lib, freeze=call + "\n")
        train.write_text(source)
        want = [("train.py", 10, "FZ303")] if found else []
        assert _found(cli, tmp_path, "--no-cache", ".") == want, call


def test_fz303_reads_a_builder_of_another_file_for_a_model_that_comes_with_nothing_frozen(cli, tmp_path):
    """`model = build_model(10)` from another file: a model a library call built there, neither
    frozen nor handed on, has every parameter trainable (FZ303 silent, as for `resnet18(...)` in
    the file); one the builder freezes is reported, and a cached run follows the builder's change."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    models = tmp_path / "models.py"
    fresh = ("import torchvision\n\n\ndef build_model(classes):\n"
             "    model = torchvision.models.resnet18(weights=None)\n    model.fc = torchvision.ops.MLP(512, [classes])\n    return model\n")
    models.write_text(fresh)
    (tmp_path / "train.py").write_text(TRAIN_UNFREEZE.format(imports="from models import build_model",
                                                             build="build_model(10)", freeze=""))
    assert _found(cli, tmp_path, "--no-cache", ".") == []
    assert _found(cli, tmp_path, ".") == []  # written to the cache
    for frozen in ("    model.requires_grad_(False)\n", "    setup(model)\n"):  # frozen, or handed to unknown code
        models.write_text(fresh.replace("    return model", frozen + "    return model"))
        assert _found(cli, tmp_path, ".") == [("train.py", 8, "FZ303")], frozen
    models.write_text(fresh)
    assert _found(cli, tmp_path, ".") == []


def test_a_batchnorm_freeze_helper_follows_its_callers_in_other_files(cli, tmp_path):
    """FZ202's linear probe across files: `freeze_bn_params` (engine.py) has no caller in its own file;
    the callers in the project decide. Every caller leaving the model in eval mode (here through a
    helper of engine.py again, which train.py's summary leaves pending) is silent; a caller that puts
    it back in train mode, hands it to a function of unknown effects, or no caller at all, reports.
    A cached result follows a change of the caller."""
    root = _copy("probe_good", tmp_path)
    assert _found(cli, root, ".") == []
    train = root / "train.py"
    text = train.read_text()
    train.write_text(text.replace("put_eval(model)\n", "put_eval(model)\nmodel.train()\n"))
    assert _found(cli, root, ".") == [("engine.py", 7, "FZ202")]  # cached engine.py recomputed
    train.write_text(text.replace("put_eval(model)\n", "put_eval(model)\nfrom lib import fit\nfit(model)\n"))
    assert _found(cli, root, "--no-cache", ".") == [("engine.py", 7, "FZ202")]
    train.write_text(text.replace("put_eval(model)\n", ""))  # never in eval mode
    assert _found(cli, root, "--no-cache", ".") == [("engine.py", 7, "FZ202")]
    train.unlink()
    assert _found(cli, root, "--no-cache", ".") == [("engine.py", 7, "FZ202")]


def test_a_cached_batchnorm_freeze_helper_follows_a_file_that_names_it_and_starts_calling_it(cli, tmp_path):
    # train.py imports freeze_bn_params without calling it: no caller, FZ202 in engine.py, cached;
    # once it calls the helper and leaves the model in eval mode, the warm run drops the finding
    root = _copy("probe_good", tmp_path)
    train = root / "train.py"
    text = train.read_text()
    call = "freeze_bn_params(model)  # a linear probe: the helpers of engine.py freeze, then put it in eval mode\n"
    assert call in text
    train.write_text(text.replace(call, ""))
    old = time.time() - 3600
    for f in root.glob("*.py"):
        os.utime(f, (old, old))
    assert _found(cli, root, ".") == [("engine.py", 7, "FZ202")]
    train.write_text(text)
    os.utime(train, (old + 60, old + 60))
    assert _found(cli, root, ".") == []


def test_summaries_record_what_follows_the_calls_of_imported_helpers():
    s = summarise_text((PROJECTS / "probe_good" / "train.py").read_text())
    assert s["probes"]["engine.freeze_bn_params#0"] == [[False, ["engine.put_eval#0", "engine.train_one_epoch#0"]]]
    trained = summarise_text("from engine import freeze_bn_params\nmodel = build()\nfreeze_bn_params(model)\n"
                             "model.eval()\nmodel.train()\nmodel(x)\n")
    assert trained["probes"] == {"engine.freeze_bn_params#0": None}


def test_an_import_resolves_in_its_own_project_when_a_nested_project_holds_a_package_of_the_same_name(cli, tmp_path):
    # `check .` over a repository whose examples/old/ is a project of its own with a package named
    # as the repository's: each file's imports resolve where Python would import them from
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'proj'\n")
    step = "    for x in loader:\n        model(x).sum().backward(); opt.step(); opt.zero_grad()\n"
    for base, engine in [(tmp_path, "def train_one_epoch(model, opt, loader):\n" + step),
                         (tmp_path / "examples" / "old", "def train_one_epoch(model, opt, loader):\n"
                                                          "    model.train()\n" + step)]:
        (base / "proj").mkdir(parents=True)
        (base / "proj" / "__init__.py").write_text("")
        (base / "proj" / "engine.py").write_text(engine)
        (base / "proj" / "train.py").write_text(
            "import torch\nfrom torch import nn\nfrom proj.engine import train_one_epoch\n\n"
            "model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))\nfor m in model.modules():\n"
            "    if isinstance(m, nn.BatchNorm2d):\n        m.eval()\n        m.requires_grad_(False)\n"
            "opt = torch.optim.SGD(model[0].parameters(), lr=0.1)\n"
            "train_one_epoch(model, opt, [torch.randn(2, 3, 8, 8)] * 3)\n")
    (tmp_path / "examples" / "old" / "pyproject.toml").write_text("[project]\nname = 'proj'\n")
    # only the nested project's engine calls train()
    assert _found(cli, tmp_path, "--no-cache", ".") == [("examples/old/proj/train.py", 11, "FZ201")]
    assert _found(cli, tmp_path, "--no-cache", "proj") == []


def test_fz203_takes_other_batchnorm_kinds_only_from_files_tied_to_the_helper_by_imports(cli, tmp_path):
    # a folder of scripts checked together: one script's SyncBatchNorm never reaches another's helper
    helper = ("import torch.nn as nn\n\ndef freeze_bn(model):\n    for m in model.modules():\n"
              "        if isinstance(m, nn.BatchNorm2d):\n            m.eval()\n")
    (tmp_path / "utils").mkdir()
    (tmp_path / "utils" / "__init__.py").write_text("")
    (tmp_path / "utils" / "freeze.py").write_text(helper)
    (tmp_path / "utils" / "dist.py").write_text(
        "import torch.nn as nn\n\ndef to_sync(model):\n    return nn.SyncBatchNorm.convert_sync_batchnorm(model)\n")
    (tmp_path / "probe.py").write_text("import torchvision\nfrom utils.freeze import freeze_bn\n\n"
                                       "freeze_bn(torchvision.models.resnet18())\n")
    (tmp_path / "3d_video.py").write_text("import torch.nn as nn\n\nnet = nn.Sequential(nn.BatchNorm3d(4))\n")
    assert _found(cli, tmp_path, "--select", "FZ203", ".") == []
    # a script that applies the helper to a model it converts (through a third module): reached
    (tmp_path / "train.py").write_text("import torchvision\nfrom utils.dist import to_sync\nfrom utils import freeze\n\n"
                                       "freeze.freeze_bn(to_sync(torchvision.models.resnet18()))\n")
    assert _found(cli, tmp_path, "--select", "FZ203", ".") == [("utils/freeze.py", 5, "FZ203")]
    # and the warm run drops it again once that script no longer imports the helper
    (tmp_path / "train.py").write_text("import torchvision\nfrom utils.dist import to_sync\n\n"
                                       "to_sync(torchvision.models.resnet18())\n")
    assert _found(cli, tmp_path, "--select", "FZ203", ".") == []


_FREEZE_BN = """
import torch.nn as nn


def freeze_bn(model):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()
"""


_TIES_BOTH = "from models.head import head\nfrom utils.freeze import freeze_bn\n\nfreeze_bn(head)\n"


@pytest.mark.parametrize("test, text", [
    *(pytest.param(name, _TIES_BOTH, id=name) for name in (
        "tests/test_parts.py", "test/parts.py", "test_parts.py", "parts_test.py", "conftest.py", "tests/helpers/build.py")),
    # nor does a test that converts the model it gives the helper: its model is the test's own
    pytest.param("tests/test_sync.py", "import torch.nn as nn\nfrom utils.freeze import freeze_bn\n\n"
                 "freeze_bn(nn.SyncBatchNorm.convert_sync_batchnorm(nn.BatchNorm2d(4)))\n", id="converts"),
])
def test_fz203_takes_no_other_batchnorm_kind_through_a_test_file(cli, tmp_path, test, text):
    # a test imports the helper and a model of another kind to test each: they are not one model
    write(tmp_path / "pyproject.toml", "[project]\nname = 'p'\n")
    write(tmp_path / "utils/freeze.py", _FREEZE_BN)
    write(tmp_path / "models/head.py", "import torch.nn as nn\n\nhead = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8))\n")
    write(tmp_path / test, text)
    assert _found(cli, tmp_path, "--no-cache", "--select", "FZ203", ".") == []
    # the same imports in the training script tie them
    write(tmp_path / "train.py", _TIES_BOTH)
    assert _found(cli, tmp_path, "--no-cache", "--select", "FZ203", ".") == [("utils/freeze.py", 6, "FZ203")]


def test_fz203_reads_test_files_by_their_place_in_the_project_not_above_it(cli, tmp_path):
    # a project kept under a folder named tests (or test) is not all tests: its script still ties
    proj = tmp_path / "tests" / "proj"
    write(proj / "pyproject.toml", "[project]\nname = 'p'\n")
    write(proj / "utils/freeze.py", _FREEZE_BN)
    write(proj / "models/head.py", "import torch.nn as nn\n\nhead = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8))\n")
    write(proj / "train.py", _TIES_BOTH)
    assert _found(cli, proj, "--no-cache", "--select", "FZ203", ".") == [("utils/freeze.py", 6, "FZ203")]


def test_fz203_takes_other_batchnorm_kinds_from_files_at_most_two_imports_from_the_helper(cli, tmp_path):
    # a monorepo's registry: pkg/models/__init__.py re-exports every model, and each model imports the
    # package for its base class; the audio model's BatchNorm1d is three imports from the flow model's
    # helper (tdnn -> models/__init__ -> flow/model -> flow/raft), and the two are never built together
    cache = ["--cache-dir", str(tmp_path / ".cache")]  # each run after the first a warm one
    write(tmp_path / "pyproject.toml", "[project]\nname = 'pkg'\n")
    write(tmp_path / "pkg/__init__.py", "")
    write(tmp_path / "pkg/base.py", "import torch.nn as nn\n\n\nclass TorchModel(nn.Module):\n    pass\n")
    write(tmp_path / "pkg/models/__init__.py", "from pkg.base import TorchModel\nfrom pkg.models.flow.model import FlowModel\n"
                                               "from pkg.models.audio.tdnn import TDNN\n")
    write(tmp_path / "pkg/models/flow/__init__.py", "")
    write(tmp_path / "pkg/models/flow/raft.py", _FREEZE_BN)
    write(tmp_path / "pkg/models/flow/model.py", "from pkg.models.flow.raft import freeze_bn\n\n\nclass FlowModel:\n    pass\n")
    write(tmp_path / "pkg/models/audio/__init__.py", "")
    write(tmp_path / "pkg/models/audio/tdnn.py", "import torch.nn as nn\nfrom pkg.models import TorchModel\n\n\n"
                                                 "class TDNN(TorchModel):\n    norm = nn.BatchNorm1d(8)\n")
    assert _found(cli, tmp_path, *cache, "--select", "FZ203", ".") == []
    # two imports away: a file importing the helper's importer, or a module the helper's re-exporting
    # package brings (mmpretrain's backbones import `models.utils`, whose norm module builds SyncBN)
    write(tmp_path / "pkg/models/flow/train.py", "import torch.nn as nn\nfrom pkg.models.flow.model import FlowModel\n\n"
                                                 "model = nn.SyncBatchNorm.convert_sync_batchnorm(FlowModel())\n")
    want = [("pkg/models/flow/raft.py", 6, "FZ203")]
    assert _found(cli, tmp_path, *cache, "--select", "FZ203", ".") == want
    (tmp_path / "pkg/models/flow/train.py").unlink()
    assert _found(cli, tmp_path, *cache, "--select", "FZ203", ".") == []
    write(tmp_path / "pkg/utils/__init__.py", "from pkg.utils.norm import build_norm\nfrom pkg.utils.size import divisible\n")
    write(tmp_path / "pkg/utils/norm.py", "def build_norm(cfg):\n    return {'BN': 'BatchNorm2d', 'SyncBN': 'SyncBatchNorm'}[cfg]\n")
    write(tmp_path / "pkg/utils/size.py", "def divisible(x):\n    return x // 8 * 8\n")
    write(tmp_path / "pkg/models/flow/raft.py", "from pkg.utils import divisible\n" + _FREEZE_BN.lstrip("\n"))
    assert _found(cli, tmp_path, *cache, "--select", "FZ203", ".") == [("pkg/models/flow/raft.py", 7, "FZ203")]


def test_what_fz203_looks_for_in_other_files_is_looked_for_in_the_files_own_project(cli, tmp_path):
    # two projects checked in one run: the first file's (0_other, which makes SyncBatchNorm) is
    # not where the freeze helper of a_proj looks for another BatchNorm kind
    helper = ("import torch.nn as nn\n\ndef freeze_bn(model):\n    for m in model.modules():\n"
              "        if isinstance(m, nn.BatchNorm2d):\n            m.eval()\n")
    for name in ("0_other", "a_proj"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "pyproject.toml").write_text(f"[project]\nname = '{name}'\n")
    (tmp_path / "0_other" / "sync.py").write_text("import torch.nn as nn\n\nmodel = nn.SyncBatchNorm(4)\n")
    (tmp_path / "a_proj" / "utils.py").write_text(helper)
    assert _found(cli, tmp_path, "--no-cache", "0_other", "a_proj") == []
    (tmp_path / "a_proj" / "sync.py").write_text("import torch.nn as nn\n\nmodel = nn.SyncBatchNorm(4)\n")
    # in its own project, but tied to the helper by no import: another script's layers
    assert _found(cli, tmp_path, "--no-cache", "0_other", "a_proj") == []
    (tmp_path / "a_proj" / "sync.py").write_text(
        "import torch.nn as nn\nfrom utils import freeze_bn\n\nmodel = nn.SyncBatchNorm(4)\nfreeze_bn(model)\n")
    assert _found(cli, tmp_path, "--no-cache", "0_other", "a_proj") == [("a_proj/utils.py", 5, "FZ203")]


def test_a_train_override_inherited_from_another_file_is_a_dependency_of_the_cached_result(cli, tmp_path, monkeypatch):
    """train.py trains a `Student` (student.py: `class Student(Net): pass`) whose base `Net`
    (model.py) overrides train() to keep its BatchNorm in eval mode: no FZ201. The answer depends
    on model.py, which student.py's text does not change: removing the override brings it back."""
    from freezelint.check.runner import check_paths
    from freezelint.config import load

    root = _copy("override_good", tmp_path)
    (root / "student.py").write_text("from model import Net\n\n\nclass Student(Net):\n    pass\n")
    train = root / "train.py"
    train.write_text(train.read_text().replace("from model import Net", "from student import Student as Net"))
    monkeypatch.chdir(root)
    assert check_paths(["."], load()).diagnostics == []
    warm = check_paths(["."], load())
    assert warm.cached == warm.files and warm.diagnostics == []
    model = root / "model.py"
    model.write_text(model.read_text().replace("    def train(self, mode=True):", "    def train_(self, mode=True):"))
    again = check_paths(["."], load())
    assert [(d.path, d.row, d.code) for d in again.diagnostics] == [("train.py", 11, "FZ201")]


def test_fz102_reads_the_attributes_of_a_class_of_another_file_and_follows_their_change(cli, tmp_path):
    """`model.backbone` of an imported project Net is a Module as nets.py's summary records it
    ("attrs"); a cached result is recomputed when those attributes change (`path#attrs Net`)."""
    root = _copy("attrs_bad", tmp_path)
    want = [("train.py", 5, "FZ102"), ("train.py", 6, "FZ102")]
    assert _found(cli, root, ".") == want
    assert _found(cli, root, ".") == want  # warm
    nets = root / "models" / "nets.py"
    # backbone becomes what nets.py cannot establish: the store is no longer reported
    nets.write_text(nets.read_text().replace("self.backbone = nn.Sequential(nn.Linear(4, 4), nn.ReLU())",
                                             "self.backbone = make_backbone()"))
    assert _found(cli, root, ".") == [("train.py", 6, "FZ102")]
    summary = summarise_text(nets.read_text())
    assert summary["classes"]["Net"]["attrs"] == {
        "encoder": {"kind": "module", "factory": "torchvision.models.resnet18"},
        "head": {"kind": "module", "qual": "torch.nn.Linear", "factory": "torch.nn.Linear"},
        "scale": {"kind": "param"},
        "backbone": {}, "adapter": {}}  # unknown; adapter keeps requires_grad as its own setting


def test_fz102_is_silent_on_a_class_of_another_file_that_keeps_requires_grad_as_its_own_setting(cli, tmp_path):
    # as for a class of the same file: a Net whose forward reads self.requires_grad keeps a switch
    # of its own, and `model.requires_grad = False` sets it; a cached result follows the class
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    nets = tmp_path / "nets.py"
    switch = ("import torch.nn as nn\n\n\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.requires_grad = True\n        self.body = nn.Linear(2, 2)\n\n    def forward(self, x):\n"
              "        return self.body(x) if self.requires_grad else x\n")
    nets.write_text(switch)
    (tmp_path / "train.py").write_text("from nets import Net\n\nmodel = Net()\nmodel.requires_grad = False\n")
    cache = ["--cache-dir", str(tmp_path / ".cache")]
    assert _found(cli, tmp_path, *cache, "train.py") == []
    nets.write_text(switch.replace("self.body(x) if self.requires_grad else x", "self.body(x)"))
    assert _found(cli, tmp_path, *cache, "train.py") == [("train.py", 4, "FZ102")]


_DETECTOR = """\
import torch.nn as nn


class YOLOF(nn.Module):
    def __init__(self, trainable=False):
        super().__init__()
        self.trainable = trainable  # the detector's own switch: training outputs or decoded boxes
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(x) if self.trainable else self.head(x).sigmoid()


def build_model(trainable=False):
    return YOLOF(trainable=trainable)
"""


@pytest.mark.parametrize("train", [
    # DetLAB / PyTorch_YOLOF: a builder of another file; the class is not seen from train.py
    "from models.detector import build_model\n\nmodel = build_model(trainable=True)\nmodel.train()\n"
    "model.trainable = False\nmodel.eval()\nmodel.trainable = True\n",
    # the class imported: its block, in another file, reads self.trainable back
    "from models.detector import YOLOF\n\nmodel = YOLOF(trainable=True)\nmodel.trainable = False\n",
])
def test_fz103_is_silent_on_trainable_of_a_module_whose_class_keeps_it_as_its_own_setting(cli, tmp_path, train):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    write(tmp_path / "models" / "__init__.py", "")
    detector = write(tmp_path / "models" / "detector.py", _DETECTOR)
    write(tmp_path / "train.py", train)
    cache = ["--cache-dir", str(tmp_path / ".cache")]
    assert _found(cli, tmp_path, *cache, ".") == []
    if "YOLOF(" in train:  # the class stops reading it back: a Keras-style freeze that freezes nothing
        detector.write_text(_DETECTOR.replace("self.head(x) if self.trainable else ", ""))
        assert _found(cli, tmp_path, *cache, ".") == [("models/detector.py", 7, "FZ103"), ("train.py", 4, "FZ103")]


def test_fz103_on_a_module_of_a_class_not_seen_reports_misspellings_with_a_fix_to_review(cli, tmp_path):
    # `model.train()` proves a Module, not its class: `trainable` may be that class's own word, a
    # misspelling of requires_grad is still one, but its rewrite is not applied without review
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    write(tmp_path / "train.py", "from somewhere import build\n\nmodel = build()\nmodel.train()\n"
                                 "model.trainable = False\nmodel.require_grad = False\n")
    assert _found(cli, tmp_path, ".") == [("train.py", 6, "FZ103")]
    out = cli(tmp_path, "check", "--no-cache", "--format", "json", ".").out
    (finding,) = json.loads(out)["diagnostics"] if isinstance(json.loads(out), dict) else json.loads(out)
    assert finding["fix"] is not None and finding["fix"]["applicability"] == "unsafe"


def test_fz102_follows_attributes_through_a_third_file_and_its_change_reaches_the_cached_result(tmp_path, monkeypatch):
    """train.py's `model.backbone.stem` and `model.encoder.layer1` are known through net.py (Net's
    `backbone = Backbone(8)`, Net's base `Base`) in backbones.py: each class read is a dependency of
    train.py's cached result. A change there that leaves the attributes as they were keeps it."""
    from freezelint.check.runner import check_paths
    from freezelint.config import load

    root = _copy("attrs3_bad", tmp_path)
    monkeypatch.chdir(root)
    bad = [("train.py", 5, "FZ102"), ("train.py", 6, "FZ102"), ("train.py", 7, "FZ102"),
           ("train.py", 8, "FZ102"), ("train.py", 9, "FZ102")]
    assert [(d.path, d.row, d.code) for d in check_paths(["."], load()).diagnostics] == bad
    warm = check_paths(["."], load())
    assert warm.cached == warm.files and [(d.path, d.row, d.code) for d in warm.diagnostics] == bad
    backbones = root / "models" / "backbones.py"
    text = backbones.read_text()
    backbones.write_text(text + "\n\ndef unrelated():\n    return 1\n")
    again = check_paths(["."], load())
    assert again.cached == again.files - 1  # backbones.py itself; train.py's classes are as they were
    # Backbone's stem becomes a Parameter and Base no longer builds an encoder: train.py is checked again
    backbones.write_text(text.replace("self.stem = nn.Conv2d(3, width, 3)", "self.stem = nn.Parameter(torch.ones(width))")
                         .replace("self.encoder = torchvision.models.resnet18(weights=None)", "self.encoder = None"))
    changed = check_paths(["."], load())
    assert [(d.path, d.row, d.code) for d in changed.diagnostics] == [bad[0], bad[2], bad[4]]


def test_fz303_follows_a_basefinetuning_through_a_project_base_class_and_its_change(tmp_path, monkeypatch):
    """callbacks.py's `GradualUnfreeze(BackboneFinetuning)` names no Lightning class: base.py's
    `BackboneFinetuning(BaseFinetuning)` makes it one, and its make_trainable Lightning's. The cached
    result follows base.py: once BackboneFinetuning defines make_trainable itself, nothing is found."""
    from freezelint.check.runner import check_paths
    from freezelint.config import load

    root = _copy("finetuning3_bad", tmp_path)
    monkeypatch.chdir(root)
    bad = [("callbacks.py", 8, "FZ303"), ("callbacks.py", 14, "FZ303")]
    assert [(d.path, d.row, d.code) for d in check_paths(["."], load()).diagnostics] == bad
    warm = check_paths(["."], load())
    assert warm.cached == warm.files and [(d.path, d.row, d.code) for d in warm.diagnostics] == bad
    base = root / "base.py"
    base.write_text(base.read_text().replace(
        "        self.freeze(pl_module.backbone)\n",
        "        self.freeze(pl_module.backbone)\n\n    def make_trainable(self, modules, optimizer=None):\n"
        "        self.unfreeze_and_add_param_group(modules, optimizer)\n", 1))
    assert check_paths(["."], load()).diagnostics == []


def test_a_summary_records_what_a_train_override_keeps_and_which_functions_are_quiet():
    """FZ201's facts across files: "train_keeps" (the parts a class's train() provably keeps in
    eval mode, null when it may keep more), "quiet" (the parameters a function provably leaves
    in their modes) and "hands" (the callable parameter a helper hands its argument to)."""
    bad = summarise_text((PROJECTS / "keeps_bad" / "models.py").read_text())
    assert bad["classes"]["Net"]["train_keeps"] == [] and "train_keeps" not in bad["classes"]["Plain"]
    good = summarise_text((PROJECTS / "keeps_good" / "models.py").read_text())
    assert good["classes"]["Net"]["train_keeps"] is None
    stats = summarise_text((PROJECTS / "keeps_bad" / "stats.py").read_text())
    assert stats["functions"]["log_stats"]["quiet"] == [0] and stats["functions"]["save"]["quiet"] == [0, 1]
    freeze = summarise_text((PROJECTS / "keeps_bad" / "freeze.py").read_text())
    assert "quiet" not in freeze["functions"]["freeze_backbone"]
    engine = summarise_text((PROJECTS / "keeps_bad" / "engine.py").read_text())
    assert engine["functions"]["train_one_epoch"]["hands"] == {"0": [[3, "hook", 0, True]]}


def test_fz201_follows_a_train_override_and_a_handed_callable_of_other_files_when_they_change(cli, tmp_path):
    """The findings of keeps_bad depend on models.py (what Net.train keeps) and stats.py (what
    log_stats does), which train.py's text does not show: a warm run follows a change to either."""
    root = _copy("keeps_bad", tmp_path)
    want = [("train.py", 15, "FZ201"), ("train.py", 16, "FZ201")]
    assert _found(cli, root, ".") == want
    assert _found(cli, root, ".") == want  # warm
    models = root / "models.py"
    models.write_text(models.read_text().replace(
        "        super().train(mode)\n        return self",
        "        super().train(mode)\n        self.backbone.eval()\n        return self"))
    assert _found(cli, root, ".") == [("train.py", 16, "FZ201")]
    stats = root / "stats.py"
    stats.write_text(stats.read_text().replace("    print(sum(", "    model.backbone.eval()\n    print(sum("))
    assert _found(cli, root, ".") == []


def test_summaries_say_what_a_helper_a_builder_and_a_class_leave_frozen():
    """FZ202's whole-model freeze across files: a helper that freezes its argument whole on every path,
    a builder whose returned model has every BatchNorm layer frozen, a class whose __init__ leaves
    them frozen; a freeze the caller's flag decides with the test it sits under; nothing for a name
    test, or a class that puts its backbone in eval mode itself."""
    bad = summarise_text((PROJECTS / "wholefreeze_bad" / "models.py").read_text())
    assert bad["classes"]["Probe"]["frozen"] == {"parts": {"backbone": ["torchvision.models.resnet50", None]}}
    assert bad["functions"]["build"]["frozen"] == {"ret": {"parts": {"": ["timm.create_model:efficientnet_b0", None]}}}
    good = summarise_text((PROJECTS / "wholefreeze_good" / "models.py").read_text())
    assert "frozen" not in good["classes"]["Probe"]
    # `if freeze:` of `build(classes, freeze=False)`: frozen where the caller's argument makes it hold
    # (`build(10)` of train_build.py leaves it off)
    assert good["functions"]["build"]["frozen"]["ret"]["when"] == [["freeze", 0]]
    assert good["functions"]["build"]["frozen"]["ret"]["signature"] == "classes, freeze=False"
    fixed = summarise_text((PROJECTS / "wholefreeze_bad" / "models.py").read_text().replace(
        '(weights="IMAGENET1K_V2")', '(weights="IMAGENET1K_V2", norm_layer=torchvision.ops.FrozenBatchNorm2d)'))
    assert "frozen" not in fixed["classes"]["Probe"] and "frozen" not in fixed["functions"]["build"]
    helpers = summarise_text(
        "def freeze_all(m, cfg):\n    m.requires_grad_(False)\n\n\n"
        "def freeze_loop(opt, m):\n    for p in m.parameters():\n        p.requires_grad = False\n\n\n"
        "def freeze_named(m):\n    for n, p in m.named_parameters():\n        if 'fc' not in n:\n"
        "            p.requires_grad = False\n\n\n"
        "def freeze_if(m, freeze):\n    if freeze:\n        m.requires_grad_(False)\n\n\n"
        "def freeze_then_thaw(m):\n    m.requires_grad_(False)\n    m.fc.requires_grad_(True)\n")
    frozen = {name: f.get("frozen") for name, f in helpers["functions"].items()}
    assert frozen == {"freeze_all": {"0": {"whole": True}}, "freeze_loop": {"1": {"whole": True}},
                      "freeze_named": None, "freeze_then_thaw": None,
                      # the caller's flag decides: recorded with the test, read where the call is
                      "freeze_if": {"0": {"whole": True, "when": [["freeze", 0]], "signature": "m, freeze"}}}


def test_a_whole_model_freeze_of_another_file_is_a_dependency_of_the_cached_result(cli, tmp_path):
    """train_helper.py's finding rests on what freeze.py's summary says of `freeze_all`: a cached
    run follows it when the helper starts to leave a part trainable, and back."""
    root = _copy("wholefreeze_bad", tmp_path)
    want = _expected(root)
    assert _found(cli, root, ".") == want
    assert _found(cli, root, ".") == want  # warm
    helper = root / "freeze.py"
    text = helper.read_text()
    helper.write_text(text.replace("    for p in module.parameters():\n",
                                   "    for name, p in module.named_parameters():\n        if 'layer4' in name:\n"
                                   "            continue\n"))
    assert _found(cli, root, ".") == [w for w in want if w[0] != "train_helper.py"]
    helper.write_text(text)
    assert _found(cli, root, ".") == want


@pytest.mark.parametrize("helper,after,want", [
    ("    module.requires_grad_(False)\n", "", [("train.py", 6, "FZ202")]),
    # the helper puts what it freezes in eval mode too (its summary's effects say so): a linear probe...
    ("    module.requires_grad_(False)\n    module.eval()\n", "", []),
    # ... until the model is put back in train mode
    ("    module.requires_grad_(False)\n    module.eval()\n", "model.train()\n", [("train.py", 6, "FZ202")]),
    ("    if module.training:\n        module.requires_grad_(False)\n", "", []),  # not on every path
    ("    module.requires_grad_(False)\n    module.fc.requires_grad_(True)\n", "", []),  # not whole
])
def test_a_helper_of_another_file_that_freezes_its_argument_whole(cli, tmp_path, helper, after, want):
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "freeze.py").write_text("def freeze_all(module):\n" + helper)
    (tmp_path / "train.py").write_text(
        "import torch\nimport torchvision\nfrom freeze import freeze_all\n\n"
        "model = torchvision.models.resnet18(weights=None)\nfreeze_all(model)\n"
        "model.fc = torch.nn.Linear(512, 2)\nopt = torch.optim.SGD(model.fc.parameters(), lr=0.1)\n" + after +
        "for x, y in loader:\n    opt.zero_grad()\n    loss_fn(model(x), y).backward()\n    opt.step()\n")
    assert _found(cli, tmp_path, "--no-cache", ".") == want


def test_a_class_of_another_file_whose_init_freezes_through_a_helper_of_its_file(cli, tmp_path):
    """`freeze(self.backbone)` in `Probe.__init__`, `freeze` defined beside it: the class block names
    no freezing word itself, yet the file that trains a Probe is admitted and its summary read."""
    (tmp_path / "pyproject.toml").write_text("")
    models = ("import torch.nn as nn\nimport torchvision\n\n\ndef freeze(module):\n"
              "    for p in module.parameters():\n        p.requires_grad = False\n\n\n"
              "class Probe(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.backbone = torchvision.models.resnet50(weights=None)\n        freeze(self.backbone)\n"
              "        self.head = nn.Linear(1000, 10)\n\n    def forward(self, x):\n"
              "        return self.head(self.backbone(x))\n")
    (tmp_path / "models.py").write_text(models)
    (tmp_path / "train.py").write_text((PROJECTS / "wholefreeze_bad" / "train_probe.py").read_text()
                                       .replace("Probe(10)", "Probe()"))
    assert _found(cli, tmp_path, "--no-cache", ".") == [("train.py", 6, "FZ202")]
    (tmp_path / "models.py").write_text(models.replace("        freeze(self.backbone)\n", ""))
    assert _found(cli, tmp_path, "--no-cache", ".") == []


@pytest.mark.parametrize("factory,want", [
    ("def make_model(classes):\n    return build(classes)\n", [("train_chain.py", 6, "FZ202")]),
    ("def make_model(classes, device='cpu'):\n    m = build(classes)\n    return m.to(device)\n",
     [("train_chain.py", 6, "FZ202")]),
    # the factory thaws what the builder froze, or builds something else on one path: no claim
    ("def make_model(classes):\n    m = build(classes)\n    m.requires_grad_(True)\n    return m\n", []),
    ("def make_model(classes):\n    if classes > 10:\n        return other(classes)\n    return build(classes)\n", []),
    ("def make_model(classes):\n    m = build(classes)\n    m = wrap(m)\n    return m\n", []),
])
def test_fz202_follows_a_builder_that_passes_on_another_files_builder(cli, tmp_path, factory, want):
    """train_chain.py -> factory.py -> models.py: a factory that returns what models.build built
    (every BatchNorm layer frozen there) passes the frozen model on; a cached run follows a change
    two files away."""
    root = _copy("wholefreeze_bad", tmp_path)
    for f in root.glob("train_*.py"):
        f.unlink()
    (root / "factory.py").write_text("from models import build, other, wrap\n\n\n" + factory)
    (root / "train_chain.py").write_text(
        "import torch\nimport torch.nn.functional as F\n\nfrom factory import make_model\n\n"
        "model = make_model(10)\nopt = torch.optim.SGD(model.classifier.parameters(), lr=0.1)\n"
        "for x, y in loader:\n    opt.zero_grad()\n    F.cross_entropy(model(x), y).backward()\n    opt.step()\n")
    assert _found(cli, root, ".") == want
    if want:  # models.build stops freezing: the cached result of train_chain.py follows
        models = root / "models.py"
        text = models.read_text()
        models.write_text(text.replace("        p.requires_grad = False\n", "        pass\n"))
        assert _found(cli, root, ".") == []
        models.write_text(text)
        assert _found(cli, root, ".") == want


def test_a_chain_of_builders_that_returns_to_itself_ends(tmp_path):
    """Two factories passing each other's models on (a cycle): followed a bounded number of files
    deep, claiming nothing; a chain that ends in a freezing builder is followed to it."""
    (tmp_path / "a.py").write_text("from b import make_b\n\n\ndef make_a(n):\n    return make_b(n)\n")
    (tmp_path / "b.py").write_text("from a import make_a\n\n\ndef make_b(n):\n    return make_a(n)\n")
    project = Project(tmp_path)
    asked = []
    frozen = project.frozen
    project.frozen = lambda *a, **k: asked.append(a) or frozen(*a, **k)  # type: ignore[method-assign]
    assert project.frozen(str(tmp_path / "train.py"), "a.make_a", "ret") is None
    assert 2 <= len(asked) <= 6
    shutil.copy(PROJECTS / "wholefreeze_bad" / "models.py", tmp_path / "models.py")
    (tmp_path / "b.py").write_text("from models import build\n\n\ndef make_b(n):\n    return build(n)\n")
    project = Project(tmp_path)
    record, edge = project.frozen(str(tmp_path / "train.py"), "a.make_a", "ret")
    assert record == {"parts": {"": ["timm.create_model:efficientnet_b0", None]}} and edge.name == "make_a"
    assert {e.name for e in project.edges} == {"make_a", "make_b", "build"}


def test_a_class_of_the_checked_file_inherits_attributes_from_a_base_of_another_file(cli, tmp_path):
    """`class Net(Base)` here, Base (another file) building `self.backbone = resnet18()`: Net is a
    Module, and `self.backbone` / `net.head` are its Modules (FZ102); a cached run follows Base."""
    (tmp_path / "pyproject.toml").write_text("")
    base = tmp_path / "base.py"
    base.write_text("import torch.nn as nn\nimport torchvision\n\n\nclass Base(nn.Module):\n"
                    "    def __init__(self):\n        super().__init__()\n"
                    "        self.backbone = torchvision.models.resnet18(weights=None)\n"
                    "        self.head = nn.Linear(512, 2)\n")
    (tmp_path / "train.py").write_text("from base import Base\n\n\nclass Net(Base):\n    def freeze(self):\n"
                                       "        self.backbone.requires_grad = False\n\n\n"
                                       "net = Net()\nnet.head.requires_grad = False\nnet.scale.requires_grad = False\n")
    assert _found(cli, tmp_path, ".") == [("train.py", 6, "FZ102"), ("train.py", 10, "FZ102")]
    base.write_text(base.read_text().replace("nn.Linear(512, 2)", "torch.zeros(2)"))
    assert _found(cli, tmp_path, ".") == [("train.py", 6, "FZ102")]
    # a base that is not a Module: nothing is claimed of the class
    base.write_text("class Base:\n    def __init__(self):\n        self.backbone = make()\n")
    assert _found(cli, tmp_path, ".") == []


def test_fz203_reads_no_kind_from_a_comment_and_counts_openmmlabs_syncbn():
    from freezelint.check.engine import check_source

    helper = ("import torch.nn as nn\n\n\ndef freeze_bn(model):\n    for m in model.modules():\n"
              "        if isinstance(m, nn.BatchNorm2d):\n            m.eval()\n")
    commented = "# BatchNorm1d heads live in another repository\n" + helper
    assert check_source(commented, "train.py", select=["FZ203"]) == []
    mm = helper + "\n\nnorm_cfg = dict(type='SyncBN', requires_grad=True)\n"
    assert [d.row for d in check_source(mm, "train.py", select=["FZ203"])] == [6]


def test_a_freeze_helper_follows_what_its_callers_in_other_files_pass(cli, tmp_path):
    """FZ102 across files: `freeze_backbone(model)` in train.py makes the helper's parameter the Net
    it is given (its `backbone` an nn.Linear). A caller that passes something unknown, leaves the
    argument to its default or unpacks it makes the parameter unknown; a cached result follows the
    callers' changes."""
    root = _copy("helperarg_bad", tmp_path)
    want = [("pkg/freeze.py", 2, "FZ102"), ("pkg/freeze.py", 6, "FZ102"), ("pkg/freeze.py", 10, "FZ102")]
    assert _found(cli, root, ".") == want
    train = root / "train.py"
    text = train.read_text()
    train.write_text(text.replace("freeze_backbone(model)", "freeze_backbone(build())"))
    assert _found(cli, root, ".") == want[1:]  # cached freeze.py recomputed
    train.write_text(text.replace("freeze_all(net=model)", "freeze_all()"))
    assert _found(cli, root, ".") == [want[0], want[2]]
    train.write_text(text.replace("freeze_all(net=model)", "freeze_all(*[model])"))
    assert _found(cli, root, ".") == [want[0], want[2]]
    (root / "other.py").write_text("from pkg.freeze import freeze_backbone\n\nfreeze_backbone(make())\n")
    assert _found(cli, root, ".") == [want[2]]


def test_summaries_record_what_calls_of_imported_functions_pass():
    s = summarise_text((PROJECTS / "helperarg_bad" / "train.py").read_text())
    assert s["passes"]["pkg.freeze.freeze_backbone"] == [{"0": {"kind": "module", "class": "Net"}}]
    assert s["passes"]["pkg.freeze.freeze_all"] == [{"=net": {"kind": "module", "class": "Net"}}]
    first = s["passes"]["pkg.freeze.freeze_first"][0]["0"]
    assert first["kind"] == "module" and first["factory"] == "torchvision.models.resnet18"
    s = summarise_text("import torch\nfrom helpers import freeze\nw = torch.nn.Parameter(torch.ones(2))\n"
                       "freeze(w, cfg, *rest)\n")
    assert s["passes"] == {"helpers.freeze": [{"0": None, "1": None, "*": None}]}


def _sync_package(top: Path) -> None:
    """pkg/a/freeze.py, whose FZ203 (line 9) rests on pkg/b/sync.py's SyncBatchNorm, tied by imports."""
    for d in ("pkg", "pkg/a", "pkg/b"):
        write(top / d / "__init__.py", "")
    write(top / "pkg/a/freeze.py", """
import torch.nn as nn

from pkg.b.sync import to_sync


def freeze_bn(model):
    model = to_sync(model)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()
    return model
""")
    write(top / "pkg/b/sync.py", """
import torch.nn as nn


def to_sync(model):
    return nn.SyncBatchNorm.convert_sync_batchnorm(model)
""")


def test_a_tree_without_a_marker_is_rooted_above_its_outermost_package_whatever_is_named(cli, tmp_path):
    """pkg/a/freeze.py's FZ203 rests on pkg/b/sync.py's SyncBatchNorm (tied by imports): checking
    the folder, the package or the one file (a pre-commit hook's way) gives the same verdict, since
    a file or folder inside the package is rooted at the package (`pkg`), never above it."""
    top = tmp_path / "top"
    _sync_package(top)
    assert find_root(top / "pkg/a/freeze.py") == find_root(top / "pkg") == top / "pkg"
    want = [("pkg/a/freeze.py", 9, "FZ203")]
    assert _found(cli, top, "--no-cache", ".") == want
    assert _found(cli, top, "--no-cache", "pkg/a") == want
    assert _found(cli, top, "--no-cache", "pkg/a/freeze.py") == want



def test_an_installed_package_is_rooted_at_itself_not_at_a_marker_above_site_packages(cli, tmp_path):
    """An environment is often inside a marked tree: pyenv is a git checkout, a .venv sits in the
    user's project. A package in its site-packages is still its own project: rooted at the
    package, as without the marker (a root at the marker would make its scans read every file of
    the environment, the standard library included)."""
    env = tmp_path / "pyenv"
    (env / ".git").mkdir(parents=True)
    site = env / "versions/3.11/lib/python3.11/site-packages"
    _sync_package(site)
    assert marked_root(site / "pkg/a/freeze.py") is None
    assert find_root(site / "pkg/a/freeze.py") == find_root(site / "pkg") == site / "pkg"
    assert marked_root(env / "versions/3.11/lib/python3.11/os.py") == env  # outside site-packages: unchanged
    want = [("pkg/a/freeze.py", 9, "FZ203")]
    assert _found(cli, site, "--no-cache", "pkg/a/freeze.py") == want
    assert _found(cli, site, "--no-cache", "pkg") == want
    project = Project.for_paths([site / "pkg/a/freeze.py"])
    assert project.root == site / "pkg"
    assert project._py_files(project._root_of(site / "pkg/a/freeze.py")) == sorted(
        (site / "pkg").rglob("*.py"))

_RESTORING_EVALUATE = """
import torch


@torch.no_grad()
def evaluate(model, x):
    was_training = model.training
    model.eval()
    out = model(x)
    model.train(was_training)
    return out
"""


def test_a_helper_of_another_file_that_restores_the_saved_mode_keeps_a_linear_probe_in_eval(cli, tmp_path):
    # utils.evaluate puts back the mode it found: eval for the probe (no FZ202), train for a model
    # that was training, which undoes the BatchNorm freeze (FZ201), as in the same file
    write(tmp_path / "pyproject.toml", "")
    write(tmp_path / "utils.py", _RESTORING_EVALUATE)
    write(tmp_path / "probe.py", """
import torch
import torch.nn as nn
import torchvision

from utils import evaluate

model = torchvision.models.resnet50(weights=None)
model.requires_grad_(False)
model.fc = nn.Linear(2048, 10)
model.eval()
optimizer = torch.optim.SGD(model.fc.parameters(), lr=0.1)
for x, y in loader:
    nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()
    evaluate(model, x)
""")
    write(tmp_path / "train.py", """
import torch
import torch.nn as nn
import torchvision

from utils import evaluate


def freeze_bn(model):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()
            m.requires_grad_(False)


model = torchvision.models.resnet50(weights=None)
optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
model.train()
freeze_bn(model)
for x, y in loader:
    nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()
    evaluate(model, x)
""")
    assert _found(cli, tmp_path, "--no-cache", ".") == [("train.py", 22, "FZ201")]


def test_a_worker_summarises_a_base_its_tasks_import_once_a_run(tmp_path, monkeypatch):
    """The project index goes to the worker processes with every task, without its caches: the
    worker keeps one per run, so a base class that every model file imports is summarised once
    in each worker, not once per file (trial 29: neuralforecast's models, each parsing the same
    3,000-line base again). The findings are those of a run in one process."""
    import multiprocessing

    from freezelint.check import runner, summaries
    from freezelint.config import load

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("the count is kept by a function the forked workers inherit")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    write(tmp_path / "pkg" / "__init__.py", "")
    write(tmp_path / "pkg" / "base.py", """
        import torch.nn as nn


        class Base(nn.Module):
            def freeze_encoder(self):
                for p in self.encoder.parameters():
                    p.requires_grad = False
    """)
    for i in range(runner.POOL_MIN_FILES + 2):
        write(tmp_path / "pkg" / f"model_{i}.py", f"""
            import torch
            from .base import Base


            def fit_{i}(loader):
                model = Base()
                model.freeze_encoder()
                model.head.requires_grad_(True)
                return torch.optim.Adam(model.parameters())
        """)
    log = tmp_path / "summarised.log"
    summarise = summaries.summarise_text

    def counted(text):
        if "class Base(" in text:
            with open(log, "a") as f:
                f.write("base\n")
        return summarise(text)

    monkeypatch.setattr(summaries, "summarise_text", counted)
    monkeypatch.chdir(tmp_path)
    pooled = runner.check_paths(["."], load(), use_cache=False, jobs=2)
    assert log.read_text().count("base") <= 2  # one per worker at most
    alone = runner.check_paths(["."], load(), use_cache=False, jobs=1)
    found = sorted((d.path, d.row, d.code) for d in pooled.diagnostics)
    assert found == sorted((d.path, d.row, d.code) for d in alone.diagnostics)
    assert len([f for f in found if f[2] == "FZ301"]) == runner.POOL_MIN_FILES + 2


@pytest.mark.parametrize("cwd", ["above", "elsewhere"])
def test_a_package_imports_itself_by_its_own_name_wherever_the_run_starts(tmp_path, monkeypatch, cwd):
    """An unmarked package (an unpacked wheel: no pyproject.toml, no .git) whose modules import
    each other as `pkg.helpers`: found from the directory above the package, whether the working
    directory is above it or in another tree. Before, only a run started above it found them."""
    from freezelint.check.runner import check_paths
    from freezelint.config import load

    pkg = tmp_path / "unpacked" / "mypkg"
    write(pkg / "__init__.py", "")
    write(pkg / "loading.py", """
    def load(model, sd):
        return model.load_state_dict(sd, strict=False)
    """)
    write(pkg / "models" / "__init__.py", "")
    write(pkg / "models" / "base.py", """
    from mypkg.loading import load


    def restore(model, sd):
        load(model, sd)
    """)
    # a module of the same name beside the package is not this package's: never reached by the name
    write(tmp_path / "unpacked" / "loading.py", "def load(model, sd):\n    return None\n")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / ("unpacked" if cwd == "above" else "elsewhere"))
    found = check_paths([str(pkg / "models" / "base.py")], load()).diagnostics
    assert [(Path(d.path).name, d.row, d.code) for d in found] == [("base.py", 5, "FZ401")]
