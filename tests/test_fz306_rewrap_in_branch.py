"""FZ306 where an unfreeze and the new DDP(...) wrap that follows it share an `if` arm, the
unfreeze being a loop over the parameters (mace's run_train.py): the rule's own remedy, re-wrap,
was reported because the change sat in a loop the wrap was not in."""

from __future__ import annotations

import textwrap

from freezelint.check.engine import check_source

_REWRAP = """
from torch.nn.parallel import DistributedDataParallel as DDP


def main(args, model, local_rank, evaluate):
    ddp = DDP(model, device_ids=[local_rank])
    if args.distributed:
        for param in model.parameters():
            param.requires_grad = True
{step}        ddp = DDP(model, device_ids=[local_rank])
    evaluate(ddp)
"""


def found(step: str = "") -> list:
    return check_source(textwrap.dedent(_REWRAP.format(step=step)), "run_train.py", select=["FZ306"])


def test_a_rewrap_in_the_same_arm_after_the_unfreeze_loop_is_silent():
    assert found() == []


def test_a_step_in_the_unfreeze_loop_before_the_rewrap_is_still_reported():
    [d] = found("            ddp(args.batch).sum().backward()  # a step with the old reducer\n")
    assert d.row == 9 and "unfreezing `model` after DistributedDataParallel wrapped it" in d.message


def test_a_rewrap_only_after_a_loop_that_trains_between_unfreezes_is_reported():
    src = textwrap.dedent("""
        from torch.nn.parallel import DistributedDataParallel as DDP

        def main(args, model, rank, loader):
            ddp = DDP(model, device_ids=[rank])
            if args.warmup:
                for step, batch in enumerate(loader):
                    ddp(batch).sum().backward()
                    if step == 100:
                        model.head.requires_grad_(True)
                ddp = DDP(model, device_ids=[rank])
    """)
    [d] = check_source(src, "train.py", select=["FZ306"])
    assert d.row == 10
