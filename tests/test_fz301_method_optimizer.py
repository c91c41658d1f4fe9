"""FZ301 and an optimizer a method builds over self (`opt = model.configure_optimizers()`): the call
site's event says what the method's optimizer holds, placed under the receiver; a method of another
file's class whose optimizer the summary does not record is an optimizer "not known", never a crash
(trial 29: KeyError 'filtered' ended a run over pykale with no findings at all)."""

from __future__ import annotations

import json
from pathlib import Path

from freezelint.check.engine import check_source

from conftest import write

TRAINER = """
import torch


class Trainer(torch.nn.Module):
    def __init__(self, net, optimizer="SGD"):
        super().__init__()
        self.model = net
        self.optimizer = optimizer

    def configure_optimizers(self):
        return getattr(torch.optim, self.optimizer)(self.model.parameters(), lr=1e-3)


class AdamTrainer(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.model = net

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)

    def make_optimizer(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)
"""


def _found(cli, root: Path) -> list[tuple[str, int, str]]:
    r = cli(root, "check", "--no-cache", "--format", "json", ".")
    assert r.code in (0, 1), r.err
    return sorted((Path(d["filename"]).as_posix(), d["location"]["row"], d["code"]) for d in json.loads(r.out))


def _project(tmp_path: Path, test: str) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    write(tmp_path / "trainers_fz301m" / "__init__.py", "")
    write(tmp_path / "trainers_fz301m" / "trainer.py", TRAINER)
    write(tmp_path / "tests" / "test_fit.py", test)
    return tmp_path


def test_a_method_of_another_files_class_building_an_optimizer_is_checked_without_a_crash(cli, tmp_path):
    """The trial's files, reduced: the method's optimizer class is not known (getattr)."""
    root = _project(tmp_path, """
        import torch
        from trainers_fz301m.trainer import Trainer


        def test_fit(net):
            model = Trainer(net)
            assert isinstance(model.configure_optimizers(), torch.optim.Optimizer)
    """)
    r = cli(root, "check", "--no-cache", ".")
    assert r.code == 0 and "internal error" not in r.err, r.err


def test_configure_optimizers_of_another_file_over_a_frozen_part_is_reported(cli, tmp_path):
    """What the summary records of `configure_optimizers` (the class's "optimizer") reaches the call
    site; another method's optimizer is not recorded there: not known, so no finding."""
    root = _project(tmp_path, """
        from trainers_fz301m.trainer import AdamTrainer


        def test_fit(net, x):
            model = AdamTrainer(net)
            model.model.requires_grad_(False)
            opt = model.configure_optimizers()
            model(x).sum().backward()
            opt.step()


        def test_other_method(net, x):
            model = AdamTrainer(net)
            model.model.requires_grad_(False)
            opt = model.make_optimizer()
            model(x).sum().backward()
            opt.step()
    """)
    assert _found(cli, root) == [("tests/test_fit.py", 7, "FZ301")]


SAME_FILE = """
import torch


class Tuner(torch.nn.Module):
    def __init__(self, net, head):
        super().__init__()
        self.model = net
        self.head = head

    def configure_optimizers(self):
        return torch.optim.Adam(self.model.parameters(), lr=1e-3)

    def head_optimizer(self):
        return torch.optim.Adam(self.head.parameters(), lr=1e-3)


def fit(net, head, x):
    tuner = Tuner(net, head)
    tuner.model.requires_grad_(False)
    opt = tuner.configure_optimizers()
    tuner(x).sum().backward()
    opt.step()


def fit_head(net, head, x):
    tuner = Tuner(net, head)
    tuner.model.requires_grad_(False)
    opt = tuner.head_optimizer()
    tuner(x).sum().backward()
    opt.step()
"""


def test_a_same_file_methods_optimizer_is_placed_on_the_part_of_the_receiver_it_holds():
    """`self.model.parameters()` in the method is `tuner.model` at the call: reported where the
    frozen part is in it, silent where the method's optimizer holds only `tuner.head`."""
    found = [f for f in check_source(SAME_FILE, "tuner_fz301m.py") if f.code == "FZ301"]
    assert [f.row for f in found] == [21]
    assert "every parameter of `tuner.model` while `tuner.model` is frozen" in found[0].message


PART_TRAINER = """
import torch


class PartTrainer(torch.nn.Module):
    def __init__(self, net, head):
        super().__init__()
        self.model = net
        self.head = head

    def configure_optimizers(self):
        return torch.optim.Adam(self.model.parameters(), lr=1e-3)
"""


def test_configure_optimizers_of_another_file_over_a_part_is_placed_on_that_part(cli, tmp_path):
    """Across files as in one: the summary records the optimizer over `self.model`, and the call
    site places it on `model.model`; a freeze of another part (`model.head`) is not in it."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    write(tmp_path / "parts_fz301m" / "__init__.py", "")
    write(tmp_path / "parts_fz301m" / "trainer.py", PART_TRAINER)
    write(tmp_path / "tests" / "test_fit.py", """
        from parts_fz301m.trainer import PartTrainer


        def test_fit(net, head, x):
            model = PartTrainer(net, head)
            model.model.requires_grad_(False)
            opt = model.configure_optimizers()
            model(x).sum().backward()
            opt.step()


        def test_head_frozen(net, head, x):
            model = PartTrainer(net, head)
            model.head.requires_grad_(False)
            opt = model.configure_optimizers()
            model(x).sum().backward()
            opt.step()
    """)
    assert _found(cli, tmp_path) == [("tests/test_fit.py", 7, "FZ301")]
    r = cli(tmp_path, "check", "--no-cache", "--format", "json", ".")
    assert "every parameter of `model.model` while `model.model` is frozen" in json.loads(r.out)[0]["message"]
