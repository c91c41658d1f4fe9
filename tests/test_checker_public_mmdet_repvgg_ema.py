"""The checker on patterns from public mmdet, RepVGG, EMA-teacher and Lightning code."""

from __future__ import annotations

import textwrap

import pytest

from freezelint.check.engine import check_source


def _fz201(src: str):
    return [d.message for d in check_source(textwrap.dedent(src), "model.py", select=["FZ201"])]


@pytest.mark.parametrize("base, imports", [
    ("BaseModule", "from mmengine.model import BaseModule"),  # OpenMMLab's base: an nn.Module
    ("BaseModule", "from mmcv.runner import BaseModule"),
    ("nn.Module", ""),
])
def test_fz201_eval_before_the_base_call_on_openmmlab_modules(base, imports):
    src = f"""
        import torch.nn as nn
        {imports}

        class Backbone({base}):
            def train(self, mode=True):
                self.stem.eval()
                super().train(mode)
        """
    assert len(_fz201(src)) == 1


def test_fz201_reads_a_mode_handed_on_through_star_args():
    src = """
        import torch.nn as nn

        class RD4AD(nn.Module):
            def train(self, *args, **kwargs):
                self.encoder.eval()
                return super().train(*args, **kwargs)
        """
    [message] = _fz201(src)
    assert "before `super().train(*args, **kwargs)`" in message
    # the mode handed on under other names, or changed on the way: not read
    assert _fz201(src.replace("super().train(*args, **kwargs)", "super().train(*other)")) == []


def test_fz201_needs_no_batchnorm_word_in_the_class():
    """An EMA teacher handed in and put in eval(): its class names no BatchNorm, the eval() is dead all
    the same; the message says what is lost without claiming BatchNorm is there."""
    src = """
        import copy
        import torch.nn as nn

        class EMATeacher(nn.Module):
            def __init__(self, student):
                super().__init__()
                self.teacher = copy.deepcopy(student).requires_grad_(False)

            def train(self, mode=True):
                self.teacher.eval()
                return super().train(mode)
        """
    [message] = _fz201(src)
    assert "those eval() calls have no effect" in message


def test_a_frozen_copy_the_model_rewrites_itself_is_no_fz501_under_the_watch():
    """RepVGG refreshes its fused deploy-time copy with `.data =` in train(): frozen, in the optimizer
    (built before the freeze), no grad at any step, so the optimizer skipped it; the model's own code
    wrote it. The eval() its parent's train() made before the base call is FZ201."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    import freezelint

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin, self.bn, self.reparam = nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Linear(4, 4)

        def train(self, mode=True):
            if not mode:
                std = (self.bn.running_var + self.bn.eps).sqrt()
                self.reparam.weight.data = self.lin.weight * (self.bn.weight / std)[:, None]
            return super().train(mode)

        def forward(self, x):
            return self.bn(self.lin(x)) if self.training else self.reparam(x)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem, self.head = Block(), nn.Linear(4, 2)

        def train(self, mode=True):
            self.stem.eval()
            self.stem.requires_grad_(False)
            return super().train(mode)

        def forward(self, x):
            return self.head(self.stem(x))

    torch.manual_seed(0)
    model = Net()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)  # before the freeze
    with freezelint.watch() as w:
        for _ in range(3):
            model.train()
            model(torch.randn(8, 4)).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
    assert [f.code for f in w.report.findings] == ["FZ201"], w.report.render_text()


@pytest.mark.parametrize("base_train, fires", [
    ("", True),  # mmcls's BaseBackbone: an nn.Module of another file, no train() of its own
    ("    def train(self, mode=True):\n        super(BaseBackbone, self).train(mode)\n", True),  # a pass-through
    ("    def train(self, mode=True):\n        super().train(mode)\n        self._freeze_stages()\n", False),
])
def test_fz201_eval_before_the_base_call_through_a_base_of_another_file(cli, tmp_path, base_train, fires):
    """The base class sits in another project file (`import torch.nn as nn` there): the class is a
    Module through it, and the base's own train() decides (one that re-applies the freeze: silent)."""
    from conftest import write

    write(tmp_path / "pyproject.toml", "")
    write(tmp_path / "models" / "__init__.py", "")
    write(tmp_path / "models" / "base_backbone.py",
          "import torch.nn as nn\n\n\nclass BaseBackbone(nn.Module):\n" + (base_train or "    pass\n"))
    write(tmp_path / "models" / "repvgg.py", """
        import torch.nn as nn

        from .base_backbone import BaseBackbone


        class RepVGG(BaseBackbone):
            def _freeze_stages(self):
                self.stage0.eval()

            def train(self, mode=True):
                self._freeze_stages()
                return super().train(mode)
        """)
    r = cli(tmp_path, "check", "--no-cache", "--select", "FZ201", "--format", "concise", ".")
    assert ("repvgg.py:12:" in r.out) is fires, r.out



@pytest.mark.parametrize("train_body, fires", [
    ("freeze_bn(self.backbone)\nreturn super().train(mode)", True),
    ("if self.frozen:\n    freeze_bn(self)\nreturn super().train(mode)", True),
    ("super().train(mode)\nfreeze_bn(self.backbone)\nreturn self", False),  # the right order
    ("count_bn(self.backbone)\nreturn super().train(mode)", False),  # the helper puts nothing in eval
])
def test_fz201_eval_before_the_base_call_through_a_helper_of_another_file(cli, tmp_path, train_body, fires):
    """The eval() sits in a function of another project file that the override calls before its
    base call (only the class's own methods were read)."""
    from conftest import write

    write(tmp_path / "pyproject.toml", "")
    write(tmp_path / "utils.py", """
        from torch import nn


        def freeze_bn(module):
            for m in module.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()


        def count_bn(module):
            return sum(isinstance(m, nn.BatchNorm2d) for m in module.modules())
        """)
    write(tmp_path / "model.py", textwrap.dedent("""
        from torch import nn

        from utils import count_bn, freeze_bn


        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.frozen = True
                self.backbone = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))

            def train(self, mode=True):
        """) + textwrap.indent(train_body, " " * 8) + "\n")
    r = cli(tmp_path, "check", "--no-cache", "--select", "FZ201", "--format", "concise", ".")
    assert ("model.py:" in r.out and "FZ201" in r.out) is fires, r.out
    if fires:
        assert "`freeze_bn(self" in r.out, r.out


# --------------------------- FZ203: the module torch.nn.modules.batchnorm tested where its base class was meant
_NORM_EVAL = '''
import torch
from torch import nn

class Backbone(nn.Module):
    def __init__(self, norm_eval=False):
        super().__init__()
        self.norm_eval = norm_eval
        self.stem = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))

    def train(self, mode=True):
        super().train(mode)
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, nn.modules.batchnorm):
                    m.eval()
        return self
'''


def test_fz203_a_test_on_the_batchnorm_module_raises_as_said_and_the_fix_freezes():
    torch = pytest.importorskip("torch")
    from freezelint.check.engine import check_text

    [d] = check_source(_NORM_EVAL, "backbone.py", select=["FZ203"])
    assert "raises TypeError" in d.message and d.fix["applicability"] == "unsafe"
    ns: dict = {}
    exec(compile(_NORM_EVAL, "backbone.py", "exec"), ns)
    ns["Backbone"](norm_eval=False).train()  # the switch off: nothing runs the test, nothing fails
    with pytest.raises(TypeError, match="isinstance"):
        ns["Backbone"](norm_eval=True).train()
    fixed = check_text(_NORM_EVAL, "backbone.py", frozenset({"FZ203"}), fix="unsafe").new_text
    assert "nn.modules.batchnorm._BatchNorm" in fixed
    ns = {}
    exec(compile(fixed, "backbone.py", "exec"), ns)
    model = ns["Backbone"](norm_eval=True).train()
    assert model.training and not model.stem[1].training
    assert isinstance(model.stem[1], torch.nn.BatchNorm2d)
