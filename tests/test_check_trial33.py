"""Trial 33's checker findings: a copy flagged through a chained requires_grad_ and kept under a name
is no FZ105 (an activation passed on), as the two-statement form is not."""

from __future__ import annotations

import textwrap

from freezelint.check.engine import check_source


def _codes(code: str, select: str) -> list[tuple[int, str]]:
    source = textwrap.dedent(code).lstrip()
    return [(d.row, d.code) for d in check_source(source, "m.py", select=[select])]


def test_a_chained_copy_kept_under_a_name_is_no_fz105():
    code = """
        import torch

        class Vocoder(torch.nn.Module):
            def forward(self, mel_spec):
                spec = self.inv_mel(mel_spec)
                spec = spec.detach().requires_grad_(False)  # an activation, passed on
                return self.griffin_lim(spec)
        """
    assert _codes(code, "FZ105") == []


def test_a_chained_copy_dropped_or_never_read_is_fz105():
    code = """
        import torch

        def freeze(model, x):
            w = model.fc.weight.detach().requires_grad_(False)  # never read again
            model.fc.bias.detach().requires_grad_(False)
            return x
        """
    assert _codes(code, "FZ105") == [(4, "FZ105"), (5, "FZ105")]


def test_one_fz201_for_a_freeze_in_a_helper_init_calls():
    """The helper's BatchNorm freeze is reported where __init__ calls it; its eval() call inside is
    that same freeze, not a second finding (as with an mmengine BaseModule base)."""
    code = """
        import torch.nn as nn

        class Backbone(nn.Module):
            def __init__(self, frozen_stages=1):
                super().__init__()
                self.stem = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU())
                self.layer1 = nn.Sequential(nn.Conv2d(8, 8, 3), nn.BatchNorm2d(8))
                self.frozen_stages = frozen_stages
                self._freeze_stages()

            def _freeze_stages(self):
                if self.frozen_stages >= 0:
                    self.stem.eval()
                    for p in self.stem.parameters():
                        p.requires_grad = False

            def forward(self, x):
                return self.layer1(self.stem(x))
        """
    assert _codes(code, "FZ201") == [(9, "FZ201")]


_NET = """
    import torch
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten())
            self.head = nn.LazyLinear(10)

        def forward(self, x):
            return self.head(self.body(x))

        def freeze_backbone(self):
            for name, param in self.body.named_parameters():
                param.requires_grad = False

        def freeze_head(self):
            self.head.requires_grad_(False)
{extra}
    model = Net()
    model.{method}()
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    model.train()
    for x, y in loader:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    """


def test_fz202_follows_a_freeze_made_by_a_method_of_the_models_class():
    """`model.freeze_backbone()` freezes the BatchNorm of `model.body` as the same loop written at the
    call would (trial 33: it was silent)."""
    found = check_source(textwrap.dedent(_NET.format(extra="", method="freeze_backbone")).lstrip(), "m.py",
                         select=["FZ202"])
    assert [(d.row, d.code) for d in found] == [(21, "FZ202")]
    assert "is frozen with requires_grad only by `model.freeze_backbone()`" in found[0].message, found[0].message


def test_near_miss_a_method_freezing_no_batchnorm_or_a_train_override_keeping_eval():
    assert _codes(_NET.format(extra="", method="freeze_head"), "FZ202") == []
    keeps = """
        def train(self, mode=True):
            super().train(mode)
            self.body.eval()
            return self
    """
    assert _codes(_NET.format(extra=textwrap.indent(textwrap.dedent(keeps), " " * 8), method="freeze_backbone"),
                  "FZ202") == []
