"""FZ304: an lr set to 0 inside an LR scheduler class is the start of a warmup, which the scheduler's
step raises (espnet's ExponentialDecayWarmup.init_lr with warm_from_zero), not a freeze. The same
assignment in a training script or a trainer class is still a freeze by lr=0."""

from __future__ import annotations

import textwrap

import pytest

from freezelint.check.engine import check_source

SCHEDULER = """
    from torch.optim.lr_scheduler import _LRScheduler


    class WarmupScheduler(_LRScheduler):
        def __init__(self, optimizer, max_lr, warmup_steps, warm_from_zero=False):
            self.initial_lr = max_lr
            self.warmup_steps = warmup_steps
            self.warm_from_zero = warm_from_zero
            super().__init__(optimizer)
            self.init_lr()

        def init_lr(self):
            for param_group in self.optimizer.param_groups:
                if self.warm_from_zero:
                    param_group["lr"] = 0.0
                else:
                    param_group["lr"] = self.initial_lr
    """
SCHEDULER = textwrap.dedent(SCHEDULER).lstrip()
BASE = "class WarmupScheduler(_LRScheduler):"
STEP = """
        def step(self):
            self.n = getattr(self, "n", 0) + 1
            for param_group in self.optimizer.param_groups:
                param_group["lr"] = self.initial_lr * min(1.0, self.n / self.warmup_steps)
    """
STEP = textwrap.indent(textwrap.dedent(STEP), "    ")
GET_LR = """
        def get_lr(self):
            return [self.initial_lr * min(1.0, (self.last_epoch + 1) / self.warmup_steps) for _ in self.base_lrs]
    """
GET_LR = textwrap.indent(textwrap.dedent(GET_LR), "    ")


def _rows(code: str) -> list[int]:
    source = textwrap.dedent(code).lstrip()
    compile(source, "sched.py", "exec")
    return [d.row for d in check_source(source, "sched.py", select=["FZ304"])]


@pytest.mark.parametrize("base, extra", [
    (BASE, ""),
    ("class WarmupScheduler(torch.optim.lr_scheduler.LRScheduler):", ""),
    ("class WarmupScheduler(LambdaLR):", ""),
    ("class WarmupScheduler:", STEP),
    ("class WarmupScheduler(AbsBatchStepScheduler):", GET_LR),
], ids=["_LRScheduler", "LRScheduler", "LambdaLR", "own-step", "own-get_lr"])
def test_a_zero_lr_in_a_scheduler_class_is_a_warmup(base, extra):
    code = SCHEDULER.replace(BASE, base).replace(
        "from torch.optim.lr_scheduler import _LRScheduler",
        "import torch\nfrom torch.optim.lr_scheduler import _LRScheduler, LambdaLR")
    assert _rows(code + extra) == []


@pytest.mark.parametrize("extra", ["", "\n    def step(self):\n        self.optimizer.step()\n"],
                         ids=["no-step", "step-without-lr"])
def test_a_zero_lr_in_a_class_that_never_raises_it_still_fires(extra):
    assert _rows(SCHEDULER.replace(BASE, "class Trainer:") + extra) == [15]


def test_a_zero_lr_in_a_training_script_still_fires():
    script = """
        import torch

        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        for epoch in range(10):
            if epoch == 3:
                for group in optimizer.param_groups:
                    group["lr"] = 0.0
            train_one_epoch(model, optimizer)
        """
    assert _rows(script) == [7]


class TestTheFacts:
    """A scheduler's step raises the lr it set to 0: the group trains after the first step."""

    torch = pytest.importorskip("torch")

    def test_the_warmup_from_zero_trains_after_one_step(self):
        torch = self.torch
        from torch.optim.lr_scheduler import LambdaLR

        weight = torch.nn.Parameter(torch.ones(2))
        optimizer = torch.optim.SGD([weight], lr=0.1)
        scheduler = LambdaLR(optimizer, lambda step: min(1.0, step / 2))
        assert optimizer.param_groups[0]["lr"] == 0.0  # the warmup's start
        weight.sum().backward()
        optimizer.step()
        scheduler.step()
        assert optimizer.param_groups[0]["lr"] > 0.0
        optimizer.step()
        assert not torch.equal(weight.detach(), torch.ones(2))
