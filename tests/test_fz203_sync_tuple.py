"""FZ203 and a test that has SyncBatchNorm: the name is torch's class whoever re-exports it (mmengine's
and mmcv's parrots_wrapper), so `(nn.BatchNorm2d, SyncBatchNorm)` covers what convert_sync_batchnorm
makes and the message never calls SyncBatchNorm missed (mmagic's IndexNet encoder). The tuple still
misses a BatchNorm1d or BatchNorm3d in sight, which the freeze loop walks past: that is reported."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from freezelint.check.engine import check_source

ENCODER = """
    import torch.nn as nn
    from mmengine.utils.dl_utils.parrots_wrapper import SyncBatchNorm


    class Encoder(nn.Module):
        def __init__(self, freeze_bn=True):
            super().__init__()
            self.freeze_bn = freeze_bn
            self.body = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))

        def train(self, mode=True):
            super().train(mode)
            if mode and self.freeze_bn:
                for m in self.modules():
                    if isinstance(m, (nn.BatchNorm2d, SyncBatchNorm)):
                        m.eval()
    """
IMPORT = "from mmengine.utils.dl_utils.parrots_wrapper import SyncBatchNorm"
BODY = "self.body = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))"
BN1D = BODY + "\n            self.proj = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8))"


def _found(code: str):
    source = textwrap.dedent(code).lstrip()
    compile(source, "encoder.py", "exec")
    return [(d.row, d.message) for d in check_source(source, "encoder.py", select=["FZ203"])]


@pytest.mark.parametrize("module", [
    "mmengine.utils.dl_utils.parrots_wrapper", "mmcv.utils.parrots_wrapper", "torch.nn", "torch.nn.modules"])
def test_a_tuple_with_syncbatchnorm_from_any_module_is_silent(module):
    assert _found(ENCODER.replace(IMPORT, f"from {module} import SyncBatchNorm")) == []


@pytest.mark.parametrize("module", ["mmengine.utils.dl_utils.parrots_wrapper", "torch.nn"])
def test_a_kind_the_tuple_lacks_in_sight_is_reported_without_calling_syncbatchnorm_missed(module):
    found = _found(ENCODER.replace(IMPORT, f"from {module} import SyncBatchNorm").replace(BODY, BN1D))
    assert [row for row, _ in found] == [16]
    message = found[0][1]
    assert "misses the other BatchNorm layers (BatchNorm1d, BatchNorm3d):" in message
    assert "SyncBatchNorm after" not in message


def test_a_re_exported_base_class_covers_every_kind():
    code = ENCODER.replace(IMPORT, "from mmcv.utils.parrots_wrapper import _BatchNorm").replace(BODY, BN1D)
    assert _found(code.replace("(nn.BatchNorm2d, SyncBatchNorm)", "(nn.BatchNorm2d, _BatchNorm)")) == []


def test_without_syncbatchnorm_the_converted_copies_are_still_named():
    code = ENCODER.replace("(nn.BatchNorm2d, SyncBatchNorm)", "nn.BatchNorm2d")
    found = _found(code)  # the import names SyncBatchNorm: a converted copy is in sight
    assert [row for row, _ in found] == [15]
    assert "(BatchNorm1d, BatchNorm3d, SyncBatchNorm from convert_sync_batchnorm or a `SyncBN` config)" in found[0][1]


class TestTheFacts:
    """The BatchNorm1d the tuple lacks is walked by self.modules() and stays in train mode."""

    torch = pytest.importorskip("torch")

    def test_the_tuple_freezes_syncbatchnorm_and_skips_batchnorm1d(self):
        from torch import nn

        class Encoder(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))
                self.proj = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8))

            def train(self, mode=True):
                super().train(mode)
                for m in self.modules():
                    if isinstance(m, (nn.BatchNorm2d, nn.SyncBatchNorm)):
                        m.eval()
                return self

        model = Encoder().train()
        assert not model.body[1].training and model.proj[1].training
        converted = nn.SyncBatchNorm.convert_sync_batchnorm(Encoder()).train()
        assert isinstance(converted.proj[1], nn.SyncBatchNorm)  # converted too: then the tuple freezes it
        assert not converted.body[1].training and not converted.proj[1].training


@pytest.mark.parametrize("test, found", [
    ("(nn.BatchNorm2d, SyncBatchNorm)", []),  # lists the model's kinds on purpose
    ("nn.BatchNorm2d", [("encoder.py", 9, "FZ203")]),  # one class: another file's kind counts
])
def test_a_tuple_with_syncbatchnorm_wants_the_other_kind_in_its_own_file(cli, tmp_path, test, found):
    """mmagic's encoder imports a package of archs, one of which builds a BatchNorm1d of its own:
    not a layer of this encoder."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (tmp_path / "archs.py").write_text("import torch.nn as nn\n\nhead = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8))\n")
    (tmp_path / "encoder.py").write_text(
        "import torch.nn as nn\nfrom torch.nn import SyncBatchNorm\n\nfrom archs import head\n\n\n"
        f"def freeze_bn(model):\n    for m in model.modules():\n        if isinstance(m, {test}):\n"
        "            m.eval()\n")
    r = cli(tmp_path, "check", "--no-cache", "--format", "json", "--select", "FZ203", ".")
    assert r.code in (0, 1), r.err
    got = sorted((Path(d["filename"]).as_posix(), d["location"]["row"], d["code"]) for d in json.loads(r.out))
    assert got == found


# The message says SyncBatchNorm as the file makes it: built directly, or by convert_sync_batchnorm
SYNC_SOURCES = """
import torch.nn as nn
from mmcv.cnn import build_norm_layer


class Head(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3)
        {build}


def freeze_bn(model):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()
"""


@pytest.mark.parametrize("build, said", [
    ("self.bn = nn.SyncBatchNorm(c)", "(BatchNorm1d, BatchNorm3d, SyncBatchNorm)"),
    ("self.bn = build_norm_layer(dict(type='SyncBN'), c)[1]", "(BatchNorm1d, BatchNorm3d, SyncBatchNorm)"),
    ("self.bn = nn.SyncBatchNorm.convert_sync_batchnorm(nn.BatchNorm2d(c))",
     "(BatchNorm1d, BatchNorm3d, SyncBatchNorm after convert_sync_batchnorm)"),
    ("self.bn = nn.SyncBatchNorm(c)\n        self.all = nn.SyncBatchNorm.convert_sync_batchnorm(self.conv)",
     "(BatchNorm1d, BatchNorm3d, SyncBatchNorm (built here, and after convert_sync_batchnorm))"),
    ("self.bn = nn.BatchNorm1d(c)",  # the file makes none: made elsewhere, either way
     "(BatchNorm1d, BatchNorm3d, SyncBatchNorm from convert_sync_batchnorm or a `SyncBN` config)"),
])
def test_the_message_names_syncbatchnorm_as_the_file_makes_it(build, said):
    (found,) = check_source(SYNC_SOURCES.format(build=build), "head.py", select=["FZ203"])
    assert f"misses the other BatchNorm layers {said}:" in found.message, found.message
