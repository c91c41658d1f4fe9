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
