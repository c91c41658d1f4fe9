"""The flow layer's event lists: optimizer builds know the name they are assigned to, and
continue/break arms of a loop body are ordered as the loop runs them."""
from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from freezelint.check.facts import Facts
from freezelint.check.flow import OPT_BUILD, after, between, flows_of


def _flow(source: str, func: str):
    facts = Facts.of(cst.parse_module(textwrap.dedent(source)))
    return next(f for f in flows_of(facts).bodies if f.scope.kind == "function" and f.scope.func_name == func)


def _event(flow, code: str):
    return next(e for e in flow.events if cst.Module(body=[]).code_for_node(e.node).startswith(code))


def test_an_optimizer_build_knows_its_name_direct_or_through_a_helper():
    flow = _flow("""
        import torch

        def make(model):
            return torch.optim.SGD(model.parameters(), lr=0.1)

        def fit(model, head):
            opt = torch.optim.AdamW(model.parameters())
            other = make(head)
            opt, sched = torch.optim.SGD(model.parameters(), lr=1), None  # two assignments
            opt2, sched = make_both(model)  # a pair from a call: which is the optimizer is not known
        """, "fit")
    assert [e.detail.get("name") for e in flow.events if e.kind == OPT_BUILD] == ["opt", "other", "opt"]


LOOP = """
    def fit(model, loader, epochs, freeze_bn, step):
        for epoch in range(epochs):
            step(model)
            if epoch < 3:
                model.train()
                continue
            freeze_bn(model)
            if epoch > 8:
                model.eval()
                break
            model.head.requires_grad_(False)
        model.requires_grad_(True)
    """


def test_continue_and_break_arms_in_the_order_the_loop_runs_them():
    flow = _flow(LOOP, "fit")
    train, run, frozen_bn = _event(flow, "model.train"), _event(flow, "step(model)"), _event(flow, "freeze_bn")
    evaluate, head, whole = _event(flow, "model.eval"), _event(flow, "model.head"), _event(flow, "model.requires_grad_")
    # continue: the rest of the body is skipped in this iteration, not in the next one
    assert after(train, frozen_bn) and after(train, run)
    assert frozen_bn not in between(flow, train, run)  # straight back to the loop's head
    # break: nothing of the loop runs after it; what follows the loop does, skipping the rest of the body
    assert not after(evaluate, head) and not after(evaluate, run) and after(evaluate, whole)
    assert head not in between(flow, evaluate, whole)
    assert after(head, evaluate) and after(run, train)  # an arm still follows the iteration before it


def test_a_continue_in_a_nested_loop_or_a_loop_else_is_its_own_loop():
    flow = _flow("""
        def fit(model, loader, epochs, step):
            for epoch in range(epochs):
                for x in loader:
                    if x is None:
                        model.eval()
                        break
                    step(model)
                model.train()
        """, "fit")
    evaluate, run, train = _event(flow, "model.eval"), _event(flow, "step(model)"), _event(flow, "model.train")
    assert after(evaluate, train) and after(evaluate, run)  # the outer loop comes back to the inner one
    assert not any(e is run for e in between(flow, evaluate, train))


def _codes(source: str) -> list[tuple[int, str]]:
    from freezelint.check.engine import check_text
    from tests.test_rule_examples import ALL_STATIC

    return sorted((d.row, d.code) for d in check_text(textwrap.dedent(source), "ex.py", ALL_STATIC, force=True).diagnostics)


JUMP_IN_BLOCK = """
    import contextlib
    import torch

    def fit(model, loader, epochs, step, log):
        for epoch in range(epochs):
            step(model)
            if epoch < 3:
                model.train()
                {block}
            model.head.requires_grad_(False)
        model.requires_grad_(True)
    """


@pytest.mark.parametrize("block,jumps", [
    ("with torch.no_grad():\n    log(model)\n    continue", "continue"),
    ("with torch.no_grad(), open(log) as f:\n    with torch.autocast('cuda'):\n        break", "break"),
    ("try:\n    log(model)\n    continue\nfinally:\n    log.close()", "continue"),
    ("try:\n    log(model)\n    continue\nexcept OSError:\n    raise\nexcept ValueError:\n    continue", "continue"),
    ("try:\n    log(model)\nfinally:\n    break", "break"),
    # the path may go on to what follows the `if`: as if nothing jumped
    ("try:\n    log(model)\n    continue\nexcept OSError:\n    pass", None),
    ("try:\n    log(model)\n    continue\nexcept OSError:\n    break", None),
    ("try:\n    log(model)\n    continue\nfinally:\n    if log.failed:\n        break", None),
    ("with contextlib.suppress(OSError):\n    log(model)\n    continue", None),
    ("with torch.no_grad():\n    if log:\n        continue", None),
])
def test_a_continue_or_break_that_ends_a_with_or_try_ends_the_arm(block, jumps):
    body = textwrap.indent(textwrap.dedent(block), " " * 16).lstrip()
    flow = _flow(JUMP_IN_BLOCK.replace("{block}", body), "fit")
    train, head, run = _event(flow, "model.train"), _event(flow, "model.head"), _event(flow, "step(model)")
    assert [j.kind for j in train.jumps] == ([jumps] if jumps else [])
    if jumps is None:  # the rest of the iteration follows the arm
        assert after(train, head) and head in between(flow, train, run)
    elif jumps == "continue":  # straight back to the loop's head; the rest comes in the next iteration
        assert after(train, head) and head not in between(flow, train, run)
    else:  # out of the loop: none of it follows
        assert not after(train, head) and not after(train, run)


FZ201_CONTINUE_IN_WITH = """
    import torch.nn as nn

    def freeze_bn(model):
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()

    def fit(model, loader, opt, epochs, k, log):
        freeze_bn(model)
        for epoch in range(epochs):
            for x, y in loader:
                nn.functional.cross_entropy(model(x), y).backward()
                opt.step()
            if epoch < k:
                model.train()
                {block}
            freeze_bn(model)
    """


@pytest.mark.parametrize("block,fires", [
    # the continue skips the re-freeze below: the next epoch trains BatchNorm
    ("with open(log, 'a') as f:\n    f.write(str(epoch))\n    continue", True),
    ("try:\n    log.write(str(epoch))\n    continue\nfinally:\n    log.flush()", True),
    # an OSError is caught and the re-freeze below runs: as a plain `if` arm that goes on
    ("try:\n    log.write(str(epoch))\n    continue\nexcept OSError:\n    pass", False),
])
def test_fz201_sees_a_continue_inside_a_with_or_try(block, fires):
    body = textwrap.indent(textwrap.dedent(block), " " * 16).lstrip()
    assert _codes(FZ201_CONTINUE_IN_WITH.replace("{block}", body)) == ([(16, "FZ201")] if fires else [])


FZ303_BREAK_IN_BLOCK = """
    import contextlib
    import torch
    import torchvision

    def fit(loader, epochs, evaluate):
        model = torchvision.models.resnet18(weights=None)
        model.requires_grad_(False)
        model.fc.requires_grad_(True)
        opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
        for epoch in range(epochs):
            if epoch == 5:
                model.layer4.requires_grad_(True)
                {block}
            opt.add_param_group({"params": model.layer4.parameters()})
            for x, y in loader:
                torch.nn.functional.cross_entropy(model(x), y).backward()
                opt.step()
        for x, y in loader:
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    """


@pytest.mark.parametrize("block,fires", [
    ("try:\n    evaluate(model)\n    break\nfinally:\n    print(epoch)", True),
    ("with torch.no_grad():\n    evaluate(model)\n    break", True),
    # an error of evaluate() is swallowed and the add_param_group below runs
    ("with contextlib.suppress(RuntimeError):\n    evaluate(model)\n    break", False),
])
def test_fz303_sees_a_break_inside_a_with_or_try(block, fires):
    body = textwrap.indent(textwrap.dedent(block), " " * 16).lstrip()
    assert _codes(FZ303_BREAK_IN_BLOCK.replace("{block}", body)) == ([(13, "FZ303")] if fires else [])


_TERNARY = """
import itertools

import torch
import torch.nn as nn

def main(args):
    unet, text_encoder = nn.Linear(4, 4), nn.Linear(4, 4)
    {freeze}
    params = itertools.chain(unet.parameters(), text_encoder.parameters()) if args.train_text_encoder \\
        else unet.parameters()
    return torch.optim.AdamW(params, lr=1e-4)
"""


@pytest.mark.parametrize("freeze,found", [
    ("text_encoder.requires_grad_(False)", [(12, "FZ301")]),  # on every run: also when chained in
    ("if not args.train_text_encoder: text_encoder.requires_grad_(False)", []),  # diffusers' DreamBooth
    ("if args.other: text_encoder.requires_grad_(False)", []),  # conditions not related: silent
])
def test_fz301_a_part_one_arm_of_a_conditional_expression_gives_the_optimizer(freeze, found):
    """A part only one arm of `A if cond else B` hands the optimizer counts on every run when the
    freeze is unconditional; a freeze under an `if` of its own may be on the other runs only."""
    assert [f for f in _codes(_TERNARY.format(freeze=freeze)) if f[1] == "FZ301"] == found


_ARMS = """
import itertools

import torch
import torch.nn as nn

def main(args):
    unet, text_encoder = nn.Linear(4, 4), nn.Linear(4, 4)
    {freeze}
    if args.train_text_encoder:
        params = itertools.chain(unet.parameters(), text_encoder.parameters())
    else:
        params = unet.parameters()
    return torch.optim.AdamW(params, lr=1e-4)
"""


@pytest.mark.parametrize("freeze,found", [
    ("text_encoder.requires_grad_(False)", [(14, "FZ301")]),
    ("if not args.train_text_encoder: text_encoder.requires_grad_(False)", []),
    ("if args.other: text_encoder.requires_grad_(False)", []),
])
def test_fz301_a_name_each_arm_of_an_if_binds_is_read_as_the_conditional_expression(freeze, found):
    """`if c: params = A` / `else: params = B` is `params = A if c else B` to FZ301."""
    assert [f for f in _codes(_ARMS.format(freeze=freeze)) if f[1] == "FZ301"] == found


_SIMSIAM = """
import torch
import torchvision

def main_worker(args):
    model = torchvision.models.resnet50()
    {freeze}
    if args.fix_pred_lr:
        optim_params = [{{'params': model.layer1.parameters(), 'fix_lr': False}},
                        {{'params': model.fc.parameters(), 'fix_lr': True}}]
    {elif_}else:
        optim_params = model.parameters()
    optimizer = torch.optim.SGD(optim_params, 0.1, momentum=0.9, weight_decay=1e-4)
"""


@pytest.mark.parametrize("freeze,elif_,found", [
    # simsiam's main_simsiam.py freezes nothing: silent, as before
    ("pass", "", []),
    # the frozen part is in the optimizer in every arm
    ("model.layer1.requires_grad_(False)", "", [(13, "FZ301")]),
    ("model.layer1.requires_grad_(False)", "elif args.rest:\n        optim_params = model.layer1.parameters()\n    ",
     [(15, "FZ301")]),
    # an arm filters it: on the other runs the optimizer holds it all the same
    ("model.layer1.requires_grad_(False)", ("elif args.rest:\n        optim_params = filter(lambda p: p.requires_grad, "
                                            "model.parameters())\n    "), [(15, "FZ301")]),
])
def test_fz301_simsiam_optim_params_bound_in_each_arm(freeze, elif_, found):
    src = _SIMSIAM.format(freeze=freeze, elif_=elif_)
    assert [f for f in _codes(src) if f[1] == "FZ301"] == found


@pytest.mark.parametrize("binds", [
    # the first binding is replaced on every run: which one the optimizer gets is not followed
    "optim_params = model.parameters()\n    optim_params = model.fc.parameters()",
    # no `else`: an arm that binds nothing may keep an earlier binding
    "optim_params = model.parameters()\n    if args.fix:\n        optim_params = model.fc.parameters()",
    # an arm binding twice
    ("if args.fix:\n        optim_params = model.parameters()\n        optim_params = model.fc.parameters()\n"
     "    else:\n        optim_params = model.fc.parameters()"),
])
def test_fz301_names_bound_other_than_once_per_arm_are_not_followed(binds):
    src = textwrap.dedent("""
    import torch
    import torchvision

    def main_worker(args):
        model = torchvision.models.resnet50()
        model.layer1.requires_grad_(False)
        {binds}
        optimizer = torch.optim.SGD(optim_params, 0.1, momentum=0.9)
    """).replace("{binds}", binds)
    assert [f for f in _codes(src) if f[1] == "FZ301"] == []


_RESET_LOOP = """
import torch
import torch.nn as nn
import torchvision

def train(epochs, loader):
    model = torchvision.models.resnet18()
    freeze = [f"layer{{x}}." for x in range(1, 3)]
    for k, v in model.named_parameters():
        {reset}
        if any(x in k for x in freeze):
            v.requires_grad = False
    {after}
"""
_BN_EVAL_TRAIN = """for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()
    for epoch in range(epochs):
        model.train()
        for x, y in loader:
            model(x).sum().backward()"""
_SGD = "opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)"


@pytest.mark.parametrize("reset,after,found", [
    # YOLOv5's train.py: a reset ahead of the partial freeze is no unfreeze
    ("v.requires_grad = True  # train all layers", _BN_EVAL_TRAIN, [(17, "FZ201")]),
    ("v.requires_grad = True  # train all layers", _SGD, [(13, "FZ301")]),
    ("v.requires_grad_(True)", _SGD, [(13, "FZ301")]),
    ("pass", _BN_EVAL_TRAIN, [(17, "FZ201")]),  # the same without the reset
    ("pass", _SGD, [(13, "FZ301")]),
])
def test_a_reset_before_a_partial_freeze_in_one_loop_body_is_no_unfreeze(reset, after, found):
    src = _RESET_LOOP.format(reset=reset, after=after)
    assert [f for f in _codes(src) if f[1] in ("FZ201", "FZ301")] == found


@pytest.mark.parametrize("body,unfreezes", [
    ("p.requires_grad = True\n    if cond(k):\n        p.requires_grad = False", 0),  # a reset
    ("p.requires_grad = True\n    if cond(k):\n        q.requires_grad = False", 1),  # another tensor frozen
    ("if cond(k):\n        p.requires_grad = False\n    p.requires_grad = True", 1),  # the unfreeze comes last
    ("if other(k):\n        p.requires_grad = True\n    if cond(k):\n        p.requires_grad = False", 1),
    ("p.requires_grad = True\n    if cond(k):\n        p.requires_grad = True", 2),
])
def test_only_a_reset_followed_by_a_freeze_of_the_same_tensor_is_no_unfreeze(body, unfreezes):
    src = "def f(model, cond, other, q):\n    for k, p in model.named_parameters():\n        "
    flow = _flow(src + body.replace("\n", "\n    ") + "\n", "f")
    assert sum(e.kind == "unfreeze" for e in flow.events) == unfreezes


@pytest.mark.parametrize("unfreeze,found", [
    ("for p in model.layer1.parameters():\n                p.requires_grad = True", []),
    ("pass", [(19, "FZ201")]),  # no unfreeze: layer1's BatchNorm was frozen and train() undoes it
])
def test_gradual_unfreezing_after_a_reset_loop_stays_an_unfreeze(unfreeze, found):
    """`if epoch == 5: ... p.requires_grad = True` is a real unfreeze: layer1 trains from then on,
    its BatchNorm with it, so the train() after it is the point."""
    after = _BN_EVAL_TRAIN.replace("model.train()", f"if epoch == 5:\n            {unfreeze}\n        model.layer1.train()")
    assert [f for f in _codes(_RESET_LOOP.format(reset="v.requires_grad = True", after=after))
            if f[1] == "FZ201"] == found


def test_wrapping_around_the_innermost_loop_that_holds_both():
    flow = _flow("""
        def fit(model, loader, epochs, freeze_bn, step):
            for epoch in range(epochs):
                freeze_bn(model)
                for x in loader:
                    step(model, x)
                    model.eval()
                    model.train()
            model.head.requires_grad_(False)
        """, "fit")
    train, run, frozen_bn = _event(flow, "model.train"), _event(flow, "step(model"), _event(flow, "freeze_bn")
    # the batch loop's next pass runs before the epoch loop's head: no freeze on the way
    assert after(train, run) and frozen_bn not in between(flow, train, run)
    assert after(frozen_bn, run)


def test_a_loop_variable_two_loops_reuse_is_each_loops_own():
    """`for param in model.parameters(): ... = False` then `for param in model.lm_head.parameters():
    ... = True`: the second loop unfreezes the head, not the model, so FZ301 reports
    the optimizer over every parameter; and a counting loop over the head before a freeze of the
    backbone with the same name does not move the freeze onto the head."""
    from freezelint.check.engine import check_source

    src = ("import torch\n\n\ndef main(model):\n    for param in model.parameters():\n"
           "        param.requires_grad = False\n    for param in model.lm_head.parameters():\n"
           "        param.requires_grad = True\n"
           "    return torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.1)\n")
    assert [(d.row, d.code) for d in check_source(src, "x.py", select=["FZ301"])] == [(9, "FZ301")]
    counting = ("import torch\n\n\ndef setup(model):\n    n = 0\n    for p in model.head.parameters():\n"
                "        n += p.numel()\n    for p in model.backbone.parameters():\n        p.requires_grad = False\n"
                "    return torch.optim.AdamW(model.head.parameters(), lr=1e-3, weight_decay=0.1)\n")
    assert check_source(counting, "x.py", select=["FZ301"]) == []


def test_match_cases_are_exclusive_arms():
    """A freeze in one `case` does not reach another case's optimizer (a segmentation
    CLI whose `match args.model:` arms each build a model); in the same case it does."""
    from freezelint.check.engine import check_source

    src = ("import torch\n\n\ndef make_optimizer(model, kind):\n    match kind:\n        case 'probe':\n"
           "            for p in model.encoder.parameters():\n                p.requires_grad = False\n"
           "            return torch.optim.AdamW(p for p in model.parameters() if p.requires_grad)\n"
           "        case 'full':\n            return torch.optim.Adam(model.parameters())\n")
    assert check_source(src, "x.py", select=["FZ301"]) == []
    same = src.replace("AdamW(p for p in model.parameters() if p.requires_grad)", "AdamW(model.parameters())")
    assert [(d.row, d.code) for d in check_source(same, "x.py", select=["FZ301"])] == [(9, "FZ301")]


def test_a_name_bound_to_a_new_model_between_the_freeze_and_the_optimizer():
    """`model = nn.Sequential(...)` again after the freeze: the optimizer's parameters
    are the new model's, none frozen; a freeze after the rebinding, or none in between, still counts."""
    from freezelint.check.engine import check_source

    src = ("import torch\nimport torch.nn as nn\n\nmodel = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))\n"
           "for p in model[0].parameters():\n    p.requires_grad = False\nmodel = nn.Sequential(nn.Linear(2, 2))\n"
           "opt = torch.optim.Adam(model.parameters())\n")
    assert check_source(src, "x.py", select=["FZ301"]) == []
    kept = src.replace("model = nn.Sequential(nn.Linear(2, 2))\n", "")
    assert [(d.row, d.code) for d in check_source(kept, "x.py", select=["FZ301"])] == [(7, "FZ301")]
    in_function = "def main():\n" + "".join("    " + line + "\n" for line in src.splitlines()[3:])
    assert check_source("import torch\nimport torch.nn as nn\n\n" + in_function, "x.py", select=["FZ301"]) == []


_PARTIAL = """
import torch

def main(model, args):
    for n, p in model.named_parameters():
        if "lora_" not in n:
            p.requires_grad = False
    {unfreeze}
    return torch.optim.AdamW(model.parameters(), lr=3e-4)
"""


@pytest.mark.parametrize("unfreeze,found", [
    # a subset picked by a name test of its own comes back: the rest stays frozen
    ("for n, p in model.named_parameters():\n        if 'bias' in n:\n            p.requires_grad = True", [11]),
    (("if args.bias:\n        for n, p in model.named_parameters():\n            if 'bias' in n:\n"
      "                p.requires_grad = True"), [12]),
    ("pass", [9]),
    # all of it set back, or the same parameters: nothing stays frozen
    ("for p in model.parameters():\n        p.requires_grad = True", []),
    ('for n, p in model.named_parameters():\n        if "lora_" not in n:\n            p.requires_grad = True', []),
    ("model.requires_grad_(True)", []),
])
def test_fz301_an_unfreeze_of_a_subset_by_name_leaves_the_freeze(unfreeze, found):
    src = _PARTIAL.format(unfreeze=unfreeze)
    assert [row for row, code in _codes(src) if code == "FZ301"] == found


@pytest.mark.parametrize("value,kind", [
    ('"adapter_wte" in name or "gating_factor" in name', "freeze"),  # lit-llama
    ('name.startswith("fc")', "freeze"),
    ('not any(k in name for k in keys)', "freeze"),
    ('"adapter" in name or args.train_all', None),  # a setting may make every flag True
    ('flag', None),
    ('name in trainable', "freeze"),
    ('lookup(name)', None),
])
def test_requires_grad_set_to_a_test_of_the_parameter_name_is_a_partial_freeze(value, kind):
    flow = _flow(f"def f(model, keys, args, flag, trainable, lookup):\n"
                 f"    for name, param in model.named_parameters():\n        param.requires_grad = {value}\n", "f")
    events = [e for e in flow.events if e.kind in ("freeze", "unfreeze")]
    assert [e.kind for e in events] == ([kind] if kind else [])
    if kind:
        assert events[0].target == "model" and events[0].detail["picked"][-1] == (value, 1)


def test_a_helper_whose_unfreezes_pick_a_subset_by_name_keeps_its_freeze_in_its_summary():
    from freezelint.check.summaries import summarise_text

    helper = textwrap.dedent("""
        def mark_only_lora_as_trainable(model, bias="none"):
            for n, p in model.named_parameters():
                if "lora_" not in n:
                    p.requires_grad = False
            if bias == "none":
                return
            elif bias == "all":
                for n, p in model.named_parameters():
                    if "bias" in n:
                        p.requires_grad = True

        def toggle(model, train_all=False):
            for n, p in model.named_parameters():
                if "lora_" not in n:
                    p.requires_grad = False
            if train_all:
                model.requires_grad_(True)
        """)
    functions = summarise_text(helper)["functions"]
    assert functions["mark_only_lora_as_trainable"]["kept"] == [0]
    assert set(functions["mark_only_lora_as_trainable"]["effects"]["0"]) == {"freeze", "unfreeze"}
    assert "kept" not in functions["toggle"]
