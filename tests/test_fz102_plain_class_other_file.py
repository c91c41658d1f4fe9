"""FZ102 on an object built from a class of another project file: a plain class there (no base, or
plain bases of its own file or of others) outweighs how this file uses the object, as a plain class
of this file does. AllenNLP's bias mitigator wrappers set `self.mitigator.requires_grad = mode` on
such an object, which reads that setting itself."""

from __future__ import annotations

import json
from pathlib import Path

MITIGATORS = """\
import torch


class BiasMitigator{base}:
    def __init__(self, requires_grad=False):
        self.requires_grad = requires_grad


class HardBiasMitigator(BiasMitigator):
    def __call__(self, x):
        with torch.set_grad_enabled(self.requires_grad):
            return x * 2
"""

# the same classes, with nothing that reads the flag: where they are Modules the line is a mistake
LAYERS = """\
class BiasMitigator{base}:
    pass


class HardBiasMitigator(BiasMitigator):
    def forward(self, x):
        return x * 2
"""

WRAPPER = """\
from mitigators import HardBiasMitigator


class HardWrapper:
    def __init__(self, requires_grad=True):
        self.mitigator = HardBiasMitigator(requires_grad=requires_grad)

    def __call__(self, module, module_in, module_out):
        return self.mitigator(module_out)

    def train(self, mode=True):
        self.mitigator.requires_grad = mode
"""


def _found(cli, root: Path, *args: str) -> list[tuple[str, int, str]]:
    r = cli(root, "check", "--format", "json", *args)
    assert r.code in (0, 1), r.err
    return sorted((Path(d["filename"]).as_posix(), d["location"]["row"], d["code"]) for d in json.loads(r.out))


def _project(tmp_path: Path, base: str, header: str = "", classes: str = MITIGATORS) -> Path:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "mitigators.py").write_text(header + classes.format(base=base))
    (tmp_path / "wrappers.py").write_text(WRAPPER)
    return tmp_path


def test_an_object_of_a_plain_class_of_another_file_is_no_module(cli, tmp_path):
    root = _project(tmp_path, "")
    assert _found(cli, root, "--no-cache", ".") == []


def test_plain_bases_of_other_files_and_abc_keep_it_plain(cli, tmp_path):
    (tmp_path / "base.py").write_text("from abc import ABC\n\n\nclass Setting(ABC):\n    pass\n")
    root = _project(tmp_path, "(Setting)", "from base import Setting\n")
    assert _found(cli, root, "--no-cache", ".") == []


def test_a_module_or_unknown_base_still_reports(cli, tmp_path):
    root = _project(tmp_path, "(nn.Module)", "import torch.nn as nn\n", LAYERS)
    assert _found(cli, root, "--no-cache", ".") == [("wrappers.py", 12, "FZ102")]
    root = _project(tmp_path, "(Base)", "from somelib import Base\n", LAYERS)  # a library base may be a Module
    assert _found(cli, root, "--no-cache", ".") == [("wrappers.py", 12, "FZ102")]


def test_a_cached_run_sees_the_base_become_a_module(cli, tmp_path):
    root = _project(tmp_path, "", classes=LAYERS)
    assert _found(cli, root, ".") == []
    (root / "mitigators.py").write_text("import torch.nn as nn\n" + LAYERS.format(base="(nn.Module)"))
    assert _found(cli, root, ".") == [("wrappers.py", 12, "FZ102")]
