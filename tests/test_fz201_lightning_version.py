"""FZ201 and a BatchNorm put in eval() in a LightningModule's __init__: Lightning 2.2 (#18951) is the
first whose fit keeps each submodule's mode; before it, fit calls train() on the whole LightningModule
at its start and after every validation, undoing the eval(). Silent only where nothing says the project
runs a Lightning before 2.2 (trial 36: a 1.x project's eval() was taken as kept)."""

from __future__ import annotations

from pathlib import Path

import pytest

from freezelint.check.lightning_version import decide

LIT = '''\
import pytorch_lightning as pl
import torch.nn as nn


class Det(pl.LightningModule):
    def __init__(self, backbone):
        super().__init__()
        self.model = backbone
        for m in self.model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()

    def training_step(self, batch, batch_idx):
        return self.model(batch).sum()
'''


def _project(root: Path, files: dict[str, str]) -> Path:
    (root / ".git").mkdir()
    for name, text in {"det.py": LIT, **files}.items():
        (root / name).write_text(text)
    return root


def _fz201(cli, root: Path) -> list[str]:
    out = cli(root, "check", "--no-cache", "--select", "FZ201", "--format", "concise", ".").out
    return [line for line in out.splitlines() if " FZ201 " in line]


@pytest.mark.parametrize("files,reason", [
    ({"requirements.txt": "pytorch-lightning==1.9.5\n"}, "requirements.txt requires pytorch-lightning==1.9.5"),
    ({"requirements.txt": "pytorch-lightning>=2.0,<2.2\n"}, "requirements.txt requires pytorch-lightning>=2.0,<2.2"),
    ({"pyproject.toml": '[tool.freezelint]\nlightning-version = "2.1"\n'},
     '`lightning-version = "2.1"` in pyproject.toml'),
])
def test_a_project_on_lightning_before_2_2_is_reported(cli, tmp_path, files, reason):
    [line] = _fz201(cli, _project(tmp_path, files))
    assert line.startswith("det.py:11:17: FZ201 Det freezes BatchNorm with .eval() in __init__ but does not override "
                           f"train(): Lightning before 2.2 ({reason}")
    assert "calls train() on the whole LightningModule when fit starts and after every validation, which undoes " \
           "this freeze; override train() to re-apply it" in line


def test_code_only_1x_runs_is_evidence_too(cli, tmp_path):
    hook = LIT + "\n    def training_epoch_end(self, outputs):\n        pass\n"
    [line] = _fz201(cli, _project(tmp_path, {"det.py": hook}))
    assert "(Det defines `training_epoch_end`, a hook Lightning 2.0 removed)" in line
    metrics = LIT.replace("        self.model = backbone\n",
                          "        self.model = backbone\n        self.acc = pl.metrics.Accuracy()\n")
    other = tmp_path / "metrics"
    other.mkdir()
    [line] = _fz201(cli, _project(other, {"det.py": metrics}))
    assert "(the file uses `pl.metrics" in line


@pytest.mark.parametrize("files", [
    {"requirements.txt": "pytorch-lightning>=2.2\n"},
    {"requirements.txt": "pytorch-lightning==2.2.1\n", "det.py": LIT + "\n    def training_epoch_end(self, o):\n"
                                                                      "        pass\n"},  # the requirement first
])
def test_a_project_on_lightning_2_2_or_later_is_silent(cli, tmp_path, files):
    assert _fz201(cli, _project(tmp_path, files)) == []


def test_no_evidence_keeps_the_exemption(cli, tmp_path, monkeypatch):
    """Nothing declared, no 1.x code, no Lightning installed: as before, silent."""
    from freezelint.check import lightning_version

    monkeypatch.setattr(lightning_version, "installed", lambda package: None)
    assert _fz201(cli, _project(tmp_path, {"requirements.txt": "pytorch-lightning>=1.5\n"})) == []


def test_decide_at_2_2():
    at = (2, 2)
    assert [decide(s, at) for s in (">=2.2", ">=2.2.0", "==2.3.1", "^2.2")] == [2, 2, 2, 2]
    assert [decide(s, at) for s in ("==1.9.5", "<2.2", "~=2.1.0", "==2.1", "<=2.1", "~=1.9")] == [1] * 6
    assert [decide(s, at) for s in (">=2.0", ">=1.5", "==2", ">2.1", "~=2.1")] == [None] * 5


def test_a_cached_result_follows_the_installed_lightning(cli, tmp_path, monkeypatch):
    """`>=2.0` leaves 2.0 and 2.1 open: the installed Lightning decides, and a cached result is
    re-checked when it changes (the FZ110 dependency digests both readings)."""
    from freezelint.check import lightning_version

    root = _project(tmp_path, {"requirements.txt": "pytorch-lightning>=2.0\n"})

    def run() -> list[str]:
        out = cli(root, "check", "--select", "FZ201", "--format", "concise", ".").out
        return [x for x in out.splitlines() if " FZ201 " in x]

    monkeypatch.setattr(lightning_version, "installed", lambda package: "2.3.0")
    assert run() == [] and run() == []  # the second from the cache
    monkeypatch.setattr(lightning_version, "installed", lambda package: "2.1.4")
    [line] = run()
    assert "(pytorch_lightning 2.1.4 is installed)" in line
