"""FZ304: an lr set to 0 through a loop over a slice of param_groups (`for g in opt.param_groups[1:]`)
is the same freeze by lr=0 as a loop over all of them; inside an LR scheduler class it is still a warmup."""

from __future__ import annotations

import textwrap

import pytest

from freezelint.check.engine import check_source


def _rows(code: str) -> list[int]:
    source = textwrap.dedent(code).lstrip()
    compile(source, "groups.py", "exec")
    return [d.row for d in check_source(source, "groups.py", select=["FZ304"])]


@pytest.mark.parametrize("groups", ["opt.param_groups[1:]", "optimizer.param_groups[:2]",
                                    "self.optimizer.param_groups[1::2]"])
def test_a_zero_lr_over_a_slice_of_the_groups_fires(groups):
    code = f"""
        def freeze_backbone(self, opt, optimizer):
            for g in {groups}:
                g["lr"] = 0
        """
    assert _rows(code) == [3]


def test_a_warmup_over_a_slice_in_a_scheduler_class_is_silent():
    code = """
        class BackboneWarmup:
            def __init__(self, optimizer, target_lr, steps):
                self.optimizer, self.target_lr, self.steps, self.n = optimizer, target_lr, steps, 0
                for group in optimizer.param_groups[1:]:
                    group["lr"] = 0.0

            def step(self):
                self.n += 1
                for group in self.optimizer.param_groups[1:]:
                    group["lr"] = self.target_lr * min(1.0, self.n / self.steps)
        """
    assert _rows(code) == []


def test_a_loop_over_one_group_is_not_a_loop_over_groups():
    assert _rows("for key in optimizer.param_groups[0]:\n    key['lr'] = 0\n") == []


def test_the_groups_of_the_slice_still_keep_optimizer_state():
    torch = pytest.importorskip("torch")
    head, body = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2))
    opt = torch.optim.SGD([{"params": [head]}, {"params": [body]}], lr=0.1, momentum=0.9)
    for g in opt.param_groups[1:]:
        g["lr"] = 0
    (head.sum() + body.sum()).backward()
    opt.step()
    assert body.grad is not None and "momentum_buffer" in opt.state[body]  # computed and stored all the same
    assert torch.equal(body.detach(), torch.ones(2))


@pytest.mark.parametrize("loop", ["for i, g in enumerate(optimizer.param_groups[1:]):",
                                  "for i, g in enumerate(optimizer.param_groups):",
                                  "groups = optimizer.param_groups[1:]\n            for g in groups:",
                                  "groups = optimizer.param_groups\n            for g in groups[2:]:"])
def test_a_zero_lr_through_enumerate_or_a_name_for_the_groups_fires(loop):
    code = f"""
        def freeze_backbone(optimizer):
            {loop}
                g["lr"] = 0.0
        """
    assert len(_rows(code)) == 1


def test_a_zero_lr_on_an_item_of_a_name_for_the_groups_fires():
    code = """
        def freeze_backbone(optimizer):
            groups = optimizer.param_groups
            groups[1]["lr"] = 0
        """
    assert _rows(code) == [3]


def test_a_loop_variable_is_a_group_only_inside_its_loop():
    code = """
        def warm(optimizer, base):
            for g in optimizer.param_groups:
                g["lr"] = base
            g = {"lr": 0.1}
            g["lr"] = 0  # a dict of its own, after the loop

        def configs(settings, optimizer):
            for g in settings:  # the same name, over something else
                g["lr"] = 0
            groups = settings
            groups[0]["lr"] = 0
        """
    assert _rows(code) == []
