"""FZ110: freezing code in a hook Lightning 2 never calls, and the version signal that gates it."""

from __future__ import annotations

import textwrap

import pytest

from conftest import write
from freezelint.check import lightning_version
from freezelint.check.engine import check_source
from freezelint.check.lightning_version import decide
from freezelint.lightning_hooks import DEAD_HOOKS

CALLBACK = """
from pytorch_lightning import Callback

class Unfreeze(Callback):
    def on_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == 2:
            pl_module.backbone.requires_grad_(True)
"""


@pytest.fixture
def nothing_installed(monkeypatch):
    """The installed Lightning says nothing: only the project's own files decide."""
    monkeypatch.setattr(lightning_version, "installed", lambda package: None)


def found(code: str) -> list:
    return [d for d in check_source(textwrap.dedent(code).lstrip("\n"), "train.py", select=["FZ110"])]


def check(cli, root, *args):
    r = cli(root, "check", "--no-cache", "--select", "FZ110", "--format", "concise", *args, ".")
    return [line for line in r.out.splitlines() if "FZ110" in line]


def test_the_runtime_note_reads_the_same_table():
    pytest.importorskip("torch")
    from freezelint.runtime import watch_models

    assert watch_models._DEAD_HOOKS is DEAD_HOOKS
    assert DEAD_HOOKS["on_epoch_start"] == "on_train_epoch_start" and DEAD_HOOKS["on_pretrain_routine_end"] == "on_fit_start"


@pytest.mark.parametrize("spec,major", [
    (">=2", 2), (">=2.1", 2), ("==2.1.0", 2), ("~=2.0", 2), ("==2.*", 2), (">=2.0,<3", 2), ("^2.1", 2),
    ("==1.9.5", 1), ("<2", 1), ("<2.0.0", 1), ("<=1.9.5", 1), ("~=1.9", 1), ("==1.*", 1), ("^1.9", 1),
    ("=1.6", 1), (">=1.5,<1.8", 1), ("1.9.*", 1), ("==2022.8.2", 1),  # the `lightning` package's 2022 releases
    ("", None), (">=1.5", None), (">1.9", None), ("<2.1", None), ("<=2.0", None), ("!=1.9.0", None), ("*", None),
])
def test_a_specifier_decides_only_when_every_version_it_allows_agrees(spec, major):
    assert decide(spec) == major


def test_a_project_requiring_lightning_2_is_told_and_the_message_names_the_requirement(cli, tmp_path, nothing_installed):
    write(tmp_path / "pyproject.toml", '[project]\nname = "x"\ndependencies = ["torch", "lightning>=2.1"]\n')
    write(tmp_path / "train.py", CALLBACK)
    [line] = check(cli, tmp_path)
    assert "train.py:4:" in line and "`Unfreeze.on_epoch_start` unfreezes" in line
    assert "rename the method `on_train_epoch_start` (pyproject.toml requires lightning>=2.1)" in line


@pytest.mark.parametrize("name,text", [
    ("requirements.txt", "torch>=2\npytorch-lightning==2.1.0  # pinned\n"),
    ("requirements/base.txt", "pytorch_lightning>=2.0\n"),
    ("setup.py", "from setuptools import setup\nsetup(name='x', install_requires=['pytorch-lightning>=2.0,<3'])\n"),
    ("setup.cfg", "[options]\ninstall_requires =\n    torch\n    lightning[extra]~=2.2\n"),
    ("environment.yml", "dependencies:\n  - python=3.11\n  - pip:\n    - lightning==2.3.0\n"),
    ("pyproject.toml", '[tool.poetry.dependencies]\npython = "^3.10"\npytorch-lightning = "^2.0"\n'),
])
def test_each_place_a_requirement_is_declared_is_read(cli, tmp_path, nothing_installed, name, text):
    write(tmp_path / name, text)
    write(tmp_path / "train.py", CALLBACK)
    assert len(check(cli, tmp_path)) == 1


@pytest.mark.parametrize("name,text", [
    ("requirements.txt", "pytorch-lightning==1.9.5\n"),
    ("environment.yml", "dependencies:\n  - pytorch-lightning=1.6\n"),
    ("pyproject.toml", '[project]\nname = "x"\ndependencies = ["pytorch_lightning<2"]\n'),
])
def test_a_project_pinned_to_lightning_1_is_never_told_whatever_is_installed(cli, tmp_path, name, text):
    # Lightning 1.7 and earlier called these hooks; the declaration outranks the 2.6 installed here
    write(tmp_path / name, text)
    write(tmp_path / "train.py", CALLBACK.replace("from pytorch_lightning import", "from lightning.pytorch import"))
    assert check(cli, tmp_path) == []


def test_the_config_key_outranks_the_requirements(cli, tmp_path, nothing_installed):
    write(tmp_path / "requirements.txt", "pytorch-lightning==1.9.5\n")
    write(tmp_path / "pyproject.toml", '[tool.freezelint]\nlightning-version = "2"\n')
    write(tmp_path / "train.py", CALLBACK)
    [line] = check(cli, tmp_path)
    assert '(`lightning-version = "2"` in pyproject.toml\'s [tool.freezelint])' in line
    write(tmp_path / "pyproject.toml", '[tool.freezelint]\nlightning-version = "1.7"\n')
    assert check(cli, tmp_path) == []


def test_a_config_key_that_is_no_version_is_refused(cli, tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.freezelint]\nlightning-version = "latest"\n')
    write(tmp_path / "train.py", CALLBACK)
    r = cli(tmp_path, "check", ".")
    assert r.code == 2 and "lightning-version must be a version" in r.err


def test_without_a_declaration_the_installed_version_decides_and_without_one_nothing_is_said(cli, tmp_path,
                                                                                             monkeypatch):
    write(tmp_path / "train.py", CALLBACK)
    (tmp_path / ".git").mkdir()
    for version, expected in (("2.1.0", 1), ("1.7.7", 0), ("2022.9.8", 0), (None, 0)):
        monkeypatch.setattr(lightning_version, "installed", lambda package, v=version: v)
        lines = check(cli, tmp_path)
        assert len(lines) == expected, (version, lines)
    monkeypatch.setattr(lightning_version, "installed", lambda package: "2.1.0")
    assert "(pytorch_lightning 2.1.0 is installed)" in check(cli, tmp_path)[0]


def test_the_lightning_package_itself_says_the_hook_never_runs(nothing_installed):
    [d] = found(CALLBACK.replace("from pytorch_lightning import", "from lightning.pytorch import"))
    assert "(the class comes from the `lightning` package: its 1.8 and 1.9 refuse the hook" in d.message
    assert found(CALLBACK) == []  # pytorch_lightning with nothing said: it may be 1.7


def test_requirements_of_a_subproject_below_the_repository_root_are_read(cli, tmp_path, nothing_installed):
    (tmp_path / ".git").mkdir()
    write(tmp_path / "exp" / "requirements.txt", "lightning>=2.0\n")
    write(tmp_path / "exp" / "train.py", CALLBACK)
    write(tmp_path / "old" / "requirements.txt", "pytorch-lightning==1.5.10\n")
    write(tmp_path / "old" / "train.py", CALLBACK)
    lines = check(cli, tmp_path)
    assert len(lines) == 1 and "exp/train.py" in lines[0] and "(requirements.txt requires lightning>=2.0)" in lines[0]


def test_a_cached_finding_is_dropped_when_the_project_moves_to_lightning_1(cli, tmp_path, nothing_installed):
    write(tmp_path / "requirements.txt", "lightning>=2.0\n")
    write(tmp_path / "train.py", CALLBACK)
    (tmp_path / ".git").mkdir()
    run = lambda: [x for x in cli(tmp_path, "check", "--select", "FZ110", "--format", "concise", ".").out.splitlines()
                   if "FZ110" in x]
    assert len(run()) == 1
    assert len(run()) == 1  # from the cache
    write(tmp_path / "requirements.txt", "pytorch-lightning==1.6.5\n")
    assert run() == []


def test_a_class_derived_through_a_project_base_of_another_file(cli, tmp_path, nothing_installed):
    write(tmp_path / "requirements.txt", "lightning>=2.0\n")
    write(tmp_path / "models" / "__init__.py", "")
    write(tmp_path / "models" / "base.py", """
        import lightning.pytorch as pl

        class Base(pl.LightningModule):
            pass
    """)
    write(tmp_path / "train.py", """
        from models.base import Base

        class Net(Base):
            def on_epoch_start(self):
                self.backbone.requires_grad_(self.current_epoch > 2)
    """)
    [line] = check(cli, tmp_path)
    assert "`Net.on_epoch_start` sets requires_grad" in line and "requires_grad never changes there" in line


def test_a_comment_after_the_plain_import_of_the_base_file_changes_nothing(cli, tmp_path, nothing_installed):
    write(tmp_path / "requirements.txt", "lightning>=2.0\n")
    write(tmp_path / "models" / "__init__.py", "")
    write(tmp_path / "models" / "base.py", """
        import lightning.pytorch as pl  # the 2.x package

        class Base(pl.LightningModule):
            pass
    """)
    write(tmp_path / "train.py", """
        from models.base import Base

        class Net(Base):
            def on_epoch_start(self):
                self.backbone.requires_grad_(self.current_epoch > 2)
    """)
    [line] = check(cli, tmp_path)
    assert "`Net.on_epoch_start` sets requires_grad" in line


def test_a_project_base_that_calls_the_hook_itself_keeps_it_alive(cli, tmp_path, nothing_installed):
    write(tmp_path / "requirements.txt", "lightning>=2.0\n")
    write(tmp_path / "base.py", """
        import lightning.pytorch as pl

        class Base(pl.LightningModule):
            def on_train_epoch_start(self):
                self.on_epoch_start()  # the project's own dispatch: subclasses' on_epoch_start runs

            def on_epoch_start(self):
                pass
    """)
    write(tmp_path / "train.py", """
        from base import Base

        class Net(Base):
            def on_epoch_start(self):
                self.backbone.requires_grad_(True)
    """)
    assert check(cli, tmp_path) == []


def test_no_rename_where_the_new_name_would_replace_base_finetunings_own_or_the_arguments_differ(nothing_installed):
    src = """
        from lightning.pytorch.callbacks import BaseFinetuning, Callback

        class Finetune(BaseFinetuning):
            def freeze_before_training(self, pl_module):
                self.freeze(pl_module.backbone)

            def on_epoch_start(self, trainer, pl_module):
                if trainer.current_epoch == 10:
                    self.unfreeze_and_add_param_group(pl_module.backbone, trainer.optimizers[0])

        class EveryBatch(Callback):
            def on_batch_start(self, trainer, pl_module):
                pl_module.backbone.eval()

        class Both(Callback):
            def on_epoch_end(self, trainer, pl_module):
                pl_module.head.requires_grad_(False)

            def on_train_epoch_end(self, trainer, pl_module):
                pass
    """
    got = found(src)
    assert [(d.row, d.fix) for d in got] == [(7, None), (12, None), (16, None)]
    assert "rename the method `on_train_batch_start`" in got[1].message  # named, not applied: it takes batch, batch_idx


def test_silent_where_the_file_reaches_the_hook_itself_or_nothing_changes_what_trains(nothing_installed):
    src = """
        import lightning.pytorch as pl

        class A(pl.Callback):
            def on_epoch_end(self, trainer, pl_module):
                pl_module.backbone.requires_grad_(True)

        class B(pl.Callback):
            def on_train_epoch_end(self, trainer, pl_module):
                getattr(self, "on_epoch_end")(trainer, pl_module)

        class C(pl.Callback):
            def on_batch_end(self, trainer, pl_module):
                trainer.logger.log_metrics({"frozen": sum(not p.requires_grad for p in pl_module.parameters())})

        class E(pl.LightningModule):
            def on_pretrain_routine_start(self):
                self.cfg.freeze()  # a detectron2 CfgNode made read-only, not a module

        class D(pl.Callback):
            def on_epoch_start(self, trainer, pl_module):
                super().on_epoch_start(trainer, pl_module)  # an override's own super call keeps nothing alive
                pl_module.model.train()
    """
    assert [(d.row, d.message.split(" ", 2)[1]) for d in found(src)] == [(20, "changes")]


def test_a_class_from_a_module_lightning_2_lacks_runs_on_1x_only(monkeypatch):
    # pytorch_lightning.callbacks.base and core.lightning (deprecated in 1.7) are gone from 2.x:
    # whatever is installed where the check runs, such a file runs its hooks on a 1.x Lightning
    monkeypatch.setattr(lightning_version, "installed", lambda package: "2.1.0")
    legacy = CALLBACK.replace("from pytorch_lightning import Callback",
                              "from pytorch_lightning.callbacks.base import Callback")
    assert found(legacy) == [] and len(found(CALLBACK)) == 1


def test_a_freeze_helper_told_not_to_freeze_unfreezes(nothing_installed):
    [d] = found("""
        import lightning.pytorch as pl

        class GradualUnfreeze(pl.Callback):
            def on_epoch_start(self, trainer, pl_module):
                pl_module.model.freeze_block(range(2), freeze=False)
    """)
    assert "`GradualUnfreeze.on_epoch_start` unfreezes" in d.message and "what it unfreezes stays frozen" in d.message


def test_every_class_statement_is_read_even_when_a_name_is_reused(nothing_installed):
    src = """
        import lightning.pytorch as pl

        def test_one():
            class Freeze(pl.Callback):
                def on_epoch_start(self, trainer, pl_module):
                    pl_module.backbone.requires_grad_(False)

        def test_two():
            class Freeze(pl.Callback):
                def on_batch_end(self, trainer, pl_module):
                    pl_module.backbone.eval()
    """
    assert [(d.row, d.message.split("`")[1]) for d in found(src)] == [(5, "Freeze.on_epoch_start"),
                                                                      (10, "Freeze.on_batch_end")]


def test_a_callback_hook_of_the_setup_stage_is_named_and_no_rename_is_offered(nothing_installed):
    # Lightning passes `stage=` to setup by keyword: a method renamed from on_before_accelerator_backend_setup
    # (trainer, pl_module) would raise TypeError
    [d] = found("""
        from lightning.pytorch.callbacks import Callback

        class FreezeEarly(Callback):
            def on_before_accelerator_backend_setup(self, trainer, pl_module):
                pl_module.encoder.requires_grad_(False)
    """)
    assert d.fix is None and "rename the method `setup`" in d.message and "what it freezes keeps training" in d.message
