"""watch()/`freezelint run` API: ignore=, expectations on side models, --no-stop's JSON verdict,
container-held models' labels, a shared module's names."""

from __future__ import annotations

import copy
import importlib.metadata
import json

import pytest

from conftest import write

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import freezelint  # noqa: E402


def _unused_part_loop(model: nn.ModuleDict, opt, iters: int = 3) -> None:
    """`unused` runs, but nothing uses its output: FZ505 on it, a warning."""
    torch.manual_seed(0)
    for _ in range(iters):
        x = torch.randn(4, 8)
        model["unused"](x)
        loss = F.cross_entropy(model["head"](model["body"](x)), torch.randint(0, 2, (4,)))
        opt.zero_grad()
        loss.backward()
        opt.step()


def _unused_part_model() -> tuple[nn.ModuleDict, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = nn.ModuleDict({"body": nn.Linear(8, 8), "unused": nn.Linear(8, 8), "head": nn.Linear(8, 2)})
    return model, torch.optim.Adam(model.parameters(), lr=1e-3)


# ------------------------------------------------------------------ ignore=


def test_watch_ignore_keeps_the_finding_marked_and_the_report_ok():
    model, opt = _unused_part_model()
    with freezelint.watch(ignore=["FZ505"]) as w:
        _unused_part_loop(model, opt)
    report = w.report
    assert [f.code for f in report.findings] == ["FZ505"] and report.ok, report.render_text()
    assert report.to_dict()["findings"][0]["ignored"] is True
    assert "(ignored)" in report.render_text()
    with freezelint.watch() as plain:  # the same loop, nothing accepted: it fails
        _unused_part_loop(*_unused_part_model())
    assert not plain.report.ok


def test_watch_ignore_reaches_later_windows_and_rejects_unknown_codes():
    model, opt = _unused_part_model()
    model["head"].requires_grad_(False)

    def loop(iters: int) -> None:
        for i in range(iters):
            if i == 3:
                model["head"].requires_grad_(True)  # a later window opens here
            _unused_part_loop(model, opt, 1)

    with freezelint.watch(ignore="FZ5") as w:  # a prefix, as audit() takes it
        loop(6)
    assert len(w.reports) == 2 and all(r.ok and r.findings for r in w.reports), [r.render_text() for r in w.reports]
    with pytest.raises(ValueError, match="ignore: unknown rule selector 'FZ999'"):
        freezelint.watch(ignore=["FZ999"])


def test_freeze_watch_fixture_takes_ignore_and_does_not_read_the_pyproject_table(pytester):
    # as freeze_audit: the test says what it accepts; [tool.freezelint] is `check`'s and `run`'s
    pytester.makefile(".toml", pyproject='[tool.freezelint]\nignore = ["FZ505"]\n')
    pytester.makepyfile("""
        import torch, torch.nn as nn, torch.nn.functional as F, freezelint

        def train(ignore):
            torch.manual_seed(0)
            model = nn.ModuleDict({"body": nn.Linear(8, 8), "unused": nn.Linear(8, 8), "head": nn.Linear(8, 2)})
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            for _ in range(3):
                x = torch.randn(4, 8); model["unused"](x)
                loss = F.cross_entropy(model["head"](model["body"](x)), torch.randint(0, 2, (4,)))
                opt.zero_grad(); loss.backward(); opt.step()

        def test_accepted(freeze_watch):
            with freeze_watch(ignore=["FZ505"]):
                train(True)

        def test_assert_watched_accepted():
            with freezelint.assert_watched(ignore="FZ505"):
                train(True)

        def test_table_not_read(freeze_watch):
            with freeze_watch():
                train(False)
    """)
    # in a process of its own: an in-process run drops the modules it imported (torch's among them),
    # and a later import in this worker registers torch's operator libraries a second time
    others = [e.name for e in importlib.metadata.entry_points(group="pytest11") if e.name != "freezelint"]
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *(f"-pno:{name}" for name in others))
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*FAILED*test_table_not_read*"])


# ------------------------------------------------------------------ run --no-stop --format json

UNFROZEN_LATER = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
model[0].requires_grad_(False)
opt = torch.optim.SGD(model[2].parameters(), lr=0.1)
for epoch in range(2):
    if epoch == 1:
        model[0].requires_grad_(True)          # unfrozen, never added to the optimizer
    for _ in range(3):
        loss = F.cross_entropy(model(torch.randn(4, 8)), torch.randint(0, 2, (4,)))
        opt.zero_grad(); loss.backward(); opt.step()
"""


def test_run_no_stop_json_top_level_agrees_with_the_exit_code(cli, tmp_path):
    write(tmp_path / "train.py", UNFROZEN_LATER)
    r = cli(tmp_path, "run", "--no-stop", "--format", "json", "train.py")
    doc = json.loads(r.out)
    assert r.code == 1 and doc["ok"] is False, r.err
    assert doc["findings"] == [] and doc["later_windows"][0]["ok"] is False  # each window's own, as before
    assert [(f["code"], f["target"], f["window"]) for f in doc["all_findings"]] == [("FZ503", "0", 1)]
    ignored = cli(tmp_path, "run", "--no-stop", "--format", "json", "--ignore", "FZ503", "train.py")
    doc = json.loads(ignored.out)
    assert ignored.code == 0 and doc["ok"] is True, ignored.err
    assert [(f["code"], f["ignored"]) for f in doc["all_findings"]] == [("FZ503", True)]
    stopped = json.loads(cli(tmp_path, "run", "--format", "json", "train.py").out)  # the first window only
    assert stopped["ok"] is True and stopped["all_findings"] == [] and "later_windows" not in stopped


# ------------------------------------------------------------------ expectations on a model run beside


def _policy_and_ref(ref_frozen: bool = True):
    torch.manual_seed(0)
    policy = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 1))
    ref = copy.deepcopy(policy).eval()  # a DPO / KL reference: no norm layer, so not judged itself
    if ref_frozen:
        ref.requires_grad_(False)
    return policy, ref, torch.optim.SGD(policy.parameters(), lr=0.1)


def _reference_loop(policy, ref, opt, iters: int = 3, update_ref: bool = False) -> None:
    for _ in range(iters):
        x = torch.randn(8, 4)
        with torch.no_grad():
            r = ref(x)
        loss = (policy(x) - r - 1).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if update_ref:  # the script moves it: an EMA, or a reference it should not touch
            with torch.no_grad():
                for a, b in zip(ref.parameters(), policy.parameters()):
                    a.lerp_(b, 0.5)


def test_expect_frozen_names_a_frozen_reference_that_ran_and_did_not_move():
    policy, ref, opt = _policy_and_ref()
    with freezelint.watch(expect_frozen=["ref", "ref.2.weight"], expect_trainable=["0", "2"]) as w:
        _reference_loop(policy, ref, opt)
    assert w.report.ok, w.report.render_text()
    assert all(not p.name.startswith("ref") for p in w.report.params)  # the report is the trained model's


def test_expectations_on_a_reference_that_moved_or_is_trainable_fail_as_on_the_trained_model():
    policy, ref, opt = _policy_and_ref()
    with freezelint.watch(expect_frozen="ref") as moved:
        _reference_loop(policy, ref, opt, update_ref=True)
    [f] = moved.report.findings
    assert (f.code, f.target) == ("FZ506", "ref") and "changed though frozen" in f.message, f.message
    assert "ref.0.weight" in f.message

    policy, ref, opt = _policy_and_ref(ref_frozen=False)  # run under no_grad, never frozen
    with freezelint.watch(expect_frozen="ref", expect_trainable="ref.0") as trainable:
        _reference_loop(policy, ref, opt)
    found = {f.target: f.message for f in trainable.report.findings if f.code == "FZ506"}
    assert "trainable (requires_grad=True)" in found["ref"], found
    assert "expected to train, but ref.0.weight, ref.0.bias did not change" in found["ref.0"], found
    assert not any("matched no parameter" in m for m in found.values()), found


class _Trainer:
    """A trainer object holding the policy and its reference as attributes: no variable of the
    training code names the reference, its `self.ref_model` does."""

    def __init__(self, ref_frozen: bool) -> None:
        self.policy, self.ref_model, self.opt = _policy_and_ref(ref_frozen)

    def fit(self) -> None:
        for _ in range(3):
            x = torch.randn(8, 4)
            with torch.no_grad():
                r = self.ref_model(x)
            loss = (self.policy(x) - r - 1).pow(2).mean()
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()


def test_expectations_name_a_reference_held_only_by_the_trainers_attribute():
    with freezelint.watch(expect_frozen="ref_model") as w:
        _Trainer(ref_frozen=True).fit()
    assert w.report.ok, w.report.render_text()
    with freezelint.watch(expect_frozen="ref_model") as w:
        _Trainer(ref_frozen=False).fit()
    [f] = w.report.findings
    assert (f.code, f.target) == ("FZ506", "ref_model") and "trainable (requires_grad=True)" in f.message, f.message
    assert "ref_model.0.weight" in f.message


def test_run_expect_frozen_reference_exits_0(cli, tmp_path):
    write(tmp_path / "train.py", """
import copy, torch, torch.nn as nn
torch.manual_seed(0)
policy = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 1))
ref = copy.deepcopy(policy).requires_grad_(False).eval()
opt = torch.optim.SGD(policy.parameters(), lr=0.1)
for _ in range(3):
    x = torch.randn(8, 4)
    with torch.no_grad():
        r = ref(x)
    loss = (policy(x) - r - 1).pow(2).mean()
    opt.zero_grad(); loss.backward(); opt.step()
""")
    r = cli(tmp_path, "run", "--expect-frozen", "ref", "train.py")
    assert r.code == 0 and r.out.startswith("freeze audit: OK"), r.out + r.err
    r = cli(tmp_path, "run", "--expect-trainable", "ref", "train.py")
    assert r.code == 1 and "[ref] expected to train, but ref.0.weight" in r.out, r.out + r.err


# ------------------------------------------------------------------ models held by one container


def _parts_loop(nets, opt, iters: int = 3) -> None:
    """Three parts of one ModuleDict, each forwarded on its own: `aux` runs, its output unused."""
    torch.manual_seed(0)
    for _ in range(iters):
        x = torch.randn(4, 8)
        nets["aux"](x)
        loss = F.cross_entropy(nets["head"](nets["body"](x)), torch.randint(0, 2, (4,)))
        opt.zero_grad()
        loss.backward()
        opt.step()


def test_parts_of_a_module_dict_are_labelled_by_their_keys_and_expectations_name_them():
    torch.manual_seed(0)
    nets = nn.ModuleDict({"body": nn.Linear(8, 8), "aux": nn.Linear(8, 8), "head": nn.Linear(8, 2)})
    opt = torch.optim.Adam(nets.parameters(), lr=1e-3)
    with freezelint.watch(expect_trainable=["body", "nets.head", "aux"], expect_frozen="nets.aux.bias") as w:
        _parts_loop(nets, opt)
    report = w.report
    assert report.modules[0].type == "(3 models: aux, body, head)", report.render_text()
    by_code = {(f.code, f.target): f.message for f in report.findings}
    assert set(by_code) == {("FZ505", "aux"), ("FZ506", "aux"), ("FZ506", "nets.aux.bias")}, report.render_text()
    assert "aux.weight, aux.bias" in by_code["FZ505", "aux"]
    assert "expected frozen, but aux.bias is trainable" in by_code["FZ506", "nets.aux.bias"]


def test_parts_of_a_module_list_held_by_an_attribute_are_labelled_by_their_index():
    class Holder:
        pass

    torch.manual_seed(0)
    box = Holder()
    box.nets = nn.ModuleList([nn.Linear(8, 8), nn.Linear(8, 2)])
    opt = torch.optim.SGD(box.nets.parameters(), lr=0.1)
    with freezelint.watch(expect_trainable=["box.nets.1", "0"]) as w:
        for _ in range(3):
            x = torch.randn(4, 8)
            box.nets[0](x)  # its output unused
            loss = box.nets[1](x).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    report = w.report
    assert report.modules[0].type == "(2 models: 0, 1)", report.render_text()
    assert sorted((f.code, f.target) for f in report.findings) == [("FZ505", "0"), ("FZ506", "0")], \
        report.render_text()


# ------------------------------------------------------------------ a module shared under several names


class _SharedFeatures(nn.Module):
    """SB3's ActorCriticPolicy: features_extractor is also pi_ and vf_features_extractor."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(8, 8), nn.LayerNorm(8), nn.Linear(8, 8))
        self.pi_features = self.vf_features = self.features
        self.pi, self.vf = nn.Linear(8, 2), nn.Linear(8, 1)
        self.emb = nn.Embedding(5, 8)
        self.out = nn.Linear(8, 5, bias=False)
        self.out.weight = self.emb.weight  # a tied tensor, not a shared module

    def forward(self, x):
        return self.pi(self.pi_features(x)), self.vf(self.vf_features(x)), self.out(self.emb(torch.tensor([1])))


def test_a_module_shared_under_three_names_is_one_item_of_the_tree_line_and_every_tie_in_json():
    torch.manual_seed(0)
    model = _SharedFeatures()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    with freezelint.watch() as w:
        for _ in range(3):
            logits, v, tok = model(torch.randn(4, 8))
            loss = F.cross_entropy(logits, torch.randint(0, 2, (4,))) + v.pow(2).mean() + tok.pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    report = w.report
    root = report.render_text().splitlines()[1]
    assert root.endswith("features is shared as pi_features, vf_features"), root
    assert "out Linear" in report.render_text() and "weight tied to emb.weight" in report.render_text()
    tied = report.to_dict()["modules"][0]["tied"]
    assert len(tied) == 12 and tied["vf_features.2.bias"] == "features.2.bias", tied
