"""FZ403: writing into the dict `state_dict()` returned loads nothing (MedSAM's text-prompt script
copied its pretrained prompt encoder so, then froze the layers at their random init). What the
rule reports and what it leaves alone is checked against real torch: each snippet runs on an
nn.Linear and the rule must report exactly the ones that leave its weights unchanged."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from conftest import write
from freezelint.check.engine import check_source, check_text


def _found(code: str) -> list[tuple[int, str]]:
    source = textwrap.dedent(code).lstrip()
    compile(source, "x.py", "exec")
    return [(d.row, d.message) for d in check_source(source, "load_prompt.py", select=["FZ403"])]


MEDSAM = """
    from copy import deepcopy

    import torch.nn as nn

    sam_prompt_encoder = nn.Linear(4, 4)
    text_prompt_encoder = nn.Linear(4, 4)
    medsam_prompt_encoder_state_dict = sam_prompt_encoder.state_dict()
    for keys in text_prompt_encoder.state_dict().keys():
        if keys in medsam_prompt_encoder_state_dict.keys():
            text_prompt_encoder.state_dict()[keys] = deepcopy(medsam_prompt_encoder_state_dict[keys])
        else:
            assert keys.startswith("text_encoder")
    for p in text_prompt_encoder.parameters():
        p.requires_grad = False
    """


def test_the_medsam_shape_is_reported_with_what_to_do():
    assert _found(MEDSAM) == [(10, (
        "`text_prompt_encoder.state_dict()[keys] = ...` writes into the new dict that `state_dict()` returned, "
        "not into `text_prompt_encoder`: nothing is loaded and its weights keep their values; collect the "
        "entries in a dict and load it with `text_prompt_encoder.load_state_dict(d, strict=False)` (check what "
        "it returns), or copy in place: `text_prompt_encoder.state_dict()[keys].copy_(v)`"))]


def test_the_medsam_shape_really_loads_nothing():
    """The script itself, run: the frozen encoder keeps its own random weights."""
    scope: dict = {}
    exec(compile(textwrap.dedent(MEDSAM), "medsam.py", "exec"), scope)
    src, dst = scope["sam_prompt_encoder"], scope["text_prompt_encoder"]
    assert not torch.equal(src.weight, dst.weight) and not torch.equal(src.bias, dst.bias)


# (snippet run with `m` an nn.Linear(3, 3) and `w` a dict of other weights; whether it changes m)
SNIPPETS = [
    ('m.state_dict()["weight"] = w["weight"]', False),
    ('m.state_dict()["weight"]: torch.Tensor = w["weight"]', False),
    ("m.state_dict().update(w)", False),
    ('m.state_dict().setdefault("weight", w["weight"])', False),
    ('m.state_dict().__setitem__("weight", w["weight"])', False),
    ('m.state_dict()["weight"].data = w["weight"]', False),
    ('sd = m.state_dict()\nsd["weight"] = w["weight"]', False),
    ('sd = m.state_dict()\nsd["weight"] = sd["weight"] * 0 + w["weight"]', False),
    ('sd = m.state_dict()\nsd.update(w)', False),
    ('sd = m.state_dict()\nsd["weight"].data = w["weight"]', False),
    # near-misses: these do change the module
    ('m.state_dict()["weight"].copy_(w["weight"])', True),
    ('m.state_dict()["weight"][...] = w["weight"]', True),
    ('m.state_dict()["weight"].data.copy_(w["weight"])', True),
    ('m.state_dict()["weight"] += w["weight"]', True),
    ('m.state_dict(keep_vars=True)["weight"].data = w["weight"]', True),
    ('sd = m.state_dict()\nsd["weight"] += w["weight"]', True),
    ('sd = m.state_dict()\nsd["weight"] = w["weight"]\nm.load_state_dict(sd)', True),
    ('sd = m.state_dict()\nfor k in sd:\n    sd[k] = w[k]\nm.load_state_dict(sd, strict=False)', True),
    ('sd = m.state_dict()\nsd.update(w)\nm.load_state_dict(sd)', True),
]


@pytest.mark.parametrize("snippet, changes", SNIPPETS, ids=[s.replace("\n", "; ") for s, _ in SNIPPETS])
def test_reported_exactly_where_real_torch_loads_nothing(snippet, changes):
    torch.manual_seed(0)
    m, other = nn.Linear(3, 3), nn.Linear(3, 3)
    w = {k: v.clone() for k, v in other.state_dict().items()}
    before = {k: v.clone() for k, v in m.state_dict().items()}
    exec(snippet, {"m": m, "w": w, "torch": torch})
    changed = any(not torch.equal(before[k], v) for k, v in m.state_dict().items())
    assert changed == changes, snippet
    code = f"import torch\nimport torch.nn as nn\n\n\ndef load(m: nn.Module, w):\n{textwrap.indent(snippet, '    ')}\n"
    assert bool(_found(code)) == (not changes), (snippet, _found(code))


def test_a_named_dict_is_reported_once_at_its_first_write():
    found = _found("""
        def init_from(model, pretrained):
            own = model.state_dict()
            for name in own.keys():
                if name in pretrained:
                    own[name] = pretrained[name]
            own.update({"fc.bias": pretrained["fc.bias"]})
        """)
    assert found == [(5, (
        "`own` is the new dict that `model.state_dict()` returned, and `own[name] = ...` changes only that dict: "
        "nothing loads, saves or returns `own` afterwards, so the write never reaches `model`; load it after the "
        "edits with `model.load_state_dict(own)`, or copy in place: `own[name].copy_(v)`"))]


@pytest.mark.parametrize("use", [
    "torch.save(own, path)",
    "return own",
    "yield own",
    "self.cache = own",
    "cache = [own]",
    "alias = own",
    "print(own)",
    "model.fc.weight.data = own['fc.weight']",
    "own['fc.bias'].copy_(pretrained['fc.bias'])",
    "x = locals()",
])
def test_any_other_use_of_the_named_dict_keeps_it(use):
    code = f"""
        import torch

        def init_from(self, model, pretrained, path):
            own = model.state_dict()
            own["fc.weight"] = pretrained["fc.weight"]
            {use}
        """
    assert _found(code) == []


def test_an_optimizer_state_dict_gets_advice_of_its_own():
    found = _found("""
        import torch

        def resume(model, saved):
            opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
            opt.state_dict()["param_groups"] = saved["param_groups"]
            return opt
        """)
    assert [row for row, _ in found] == [5]
    assert "not into `opt`: its state and param groups keep their values" in found[0][1]
    assert "`opt.load_state_dict(d)`" in found[0][1] and "strict" not in found[0][1]


def test_a_windows_file_is_reported_at_the_same_line():
    text = textwrap.dedent(MEDSAM).lstrip().replace("\n", "\r\n")
    found = check_text(text, "medsam.py", frozenset({"FZ403"})).diagnostics  # through the text gate
    assert [(d.row, d.code) for d in found] == [(10, "FZ403")]


def test_noqa_on_the_write_suppresses_it(cli, tmp_path):
    write(tmp_path / "direct.py", """
        def load(dst, pretrained):
            for k in pretrained:
                dst.state_dict()[k] = pretrained[k]  # noqa: FZ403
        """)
    write(tmp_path / "named.py", """
        def load(dst, pretrained):
            own = dst.state_dict()
            for k in pretrained:
                own[k] = pretrained[k]  # noqa: FZ403
        """)
    r = cli(tmp_path, "check", "--no-cache", "--select", "FZ403,FZ002", ".")
    assert r.code == 0, r.out
    (tmp_path / "named.py").write_text((tmp_path / "named.py").read_text().replace("  # noqa: FZ403", ""))
    r = cli(tmp_path, "check", "--no-cache", "--format", "json", "--select", "FZ403", ".")
    assert [(Path(d["filename"]).name, d["location"]["row"], d["code"], d["severity"])
            for d in json.loads(r.out)] == [("named.py", 4, "FZ403", "error")]


def test_sarif_lists_the_rule(cli, tmp_path):
    write(tmp_path / "load.py", "def load(dst, sd):\n    dst.state_dict().update(sd)\n")
    r = cli(tmp_path, "check", "--no-cache", "--format", "sarif", "--select", "FZ403", ".")
    run = json.loads(r.out)["runs"][0]
    assert [res["ruleId"] for res in run["results"]] == ["FZ403"]
    assert "state-dict-entry-assigned" in json.dumps(run["tool"]["driver"]["rules"])


EMA = """
    import torch.nn as nn


    class Shadow(object):
        def __init__(self, model):
            self.shadow = {k: v.clone() for k, v in model.state_dict().items()}

        def state_dict(self):
            return self.shadow


    class EMA(Shadow):
        pass
    """


@pytest.mark.parametrize("cls", ["Shadow", "EMA"])
def test_a_project_class_with_its_own_state_dict_is_left_alone(cli, tmp_path, cls):
    write(tmp_path / "utils" / "__init__.py", "")
    write(tmp_path / "utils" / "ema.py", EMA)
    write(tmp_path / "train.py", f"""
        from utils.ema import {cls}

        def reset(model):
            ema = {cls}(model)
            for k, v in model.state_dict().items():
                ema.state_dict()[k] = v.clone()
            return ema
        """)
    r = cli(tmp_path, "check", "--no-cache", "--format", "json", "--select", "FZ403", ".")
    assert json.loads(r.out) == []
    ema = tmp_path / "utils" / "ema.py"  # without its own state_dict it is nn.Module's: a new dict
    ema.write_text(ema.read_text().replace("class Shadow(object)", "class Shadow(nn.Module)")
                   .replace("def state_dict(self)", "def shadow_dict(self)"))
    r = cli(tmp_path, "check", "--format", "json", "--select", "FZ403", ".")  # a warm run sees the edit
    assert [(Path(d["filename"]).name, d["location"]["row"]) for d in json.loads(r.out)] == [("train.py", 6)]


SOFT_UPDATE = """
    import torch


    def soft_copy_param(target_link, source_link, tau):
        target_dict = target_link.state_dict()
        source_dict = source_link.state_dict()
        for k, target_value in target_dict.items():
            source_value = source_dict[k]
            if source_value.dtype in [torch.float32, torch.float64, torch.float16]:
                target_value.mul_(1 - tau)
                target_value.add_(tau * source_value)
            else:
                target_dict[k] = source_value
    """


def test_a_soft_update_that_rebinds_the_integer_buffers_is_reported():
    """pfrl's soft_copy_param: the float entries are updated in place, BatchNorm's
    num_batches_tracked is rebound in the dict only, and never reaches the target."""
    found = _found(SOFT_UPDATE)
    assert [row for row, _ in found] == [13]
    assert found[0][1].startswith("`target_dict` is the new dict that `target_link.state_dict()` returned, and "
                                  "`target_dict[k] = ...` changes only that dict")
    scope: dict = {}
    exec(textwrap.dedent(SOFT_UPDATE), scope)
    source, target = nn.BatchNorm1d(3), nn.BatchNorm1d(3)
    source(torch.randn(8, 3))
    source(torch.randn(8, 3))
    scope["soft_copy_param"](target, source, 1.0)
    assert torch.equal(target.running_mean, source.running_mean)  # the float entries: copied in place
    assert int(source.num_batches_tracked) == 2 and int(target.num_batches_tracked) == 0  # this one: never


@pytest.mark.parametrize("old, new", [
    ("        source_value = source_dict[k]\n",
     "        source_value = source_dict[k]\n        k = k.replace('module.', '')\n"),
    ("            target_dict[k] = source_value\n",
     "            target_dict[k] = source_value\n    target_link.load_state_dict(target_dict)\n"),
    ("for k, target_value in target_dict.items()", "for target_value in target_dict.values()"),
], ids=["key_rebound", "loaded_after", "values_loop"])
def test_a_loop_over_the_items_keeps_the_dict_where_it_may_read_a_write(old, new):
    code = textwrap.dedent(SOFT_UPDATE)
    assert old in code
    assert _found(code.replace(old, new)) == []


def test_each_written_form_says_what_it_wrote_and_what_to_call():
    found = dict(_found("""
        def load_backbone(model, weights):
            model.state_dict().update(weights)
            model.backbone.state_dict()["conv1.weight"].data = weights["conv1.weight"]
        """))
    assert found[2].startswith("`model.state_dict().update(...)` writes into the new dict that `state_dict()` "
                               "returned, not into `model`: nothing is loaded")
    assert found[2].endswith("load the entries with `model.load_state_dict(weights, strict=False)` "
                             "(check what it returns)")
    assert found[3] == (
        "`model.backbone.state_dict()[\"conv1.weight\"].data = ...` rebinds `.data` of a detached copy in the new "
        "dict that `state_dict()` returned: `model.backbone`'s own tensor keeps its value and nothing is loaded; "
        "copy in place: `model.backbone.state_dict()[\"conv1.weight\"].copy_(v)`")


def test_the_text_gate_admits_only_a_state_dict_written_into():
    from freezelint.check.prefilter import Prefilter

    gate = Prefilter(frozenset({"FZ403"}))
    assert gate.admitted(textwrap.dedent(MEDSAM)) == {"FZ403"}
    assert gate.admitted(textwrap.dedent(SOFT_UPDATE)) == {"FZ403"}
    assert gate.admitted("def f(m, w):\n    own = m.state_dict()\n    own[w.key].data = w.value\n") == {"FZ403"}
    assert not gate.admitted("import torch\nx = {}\nx['a'] = 1\nx.update(b=2)\n")  # no state_dict
    # bound and loaded, with an unrelated store: not parsed for FZ403
    assert not gate.admitted("sd = model.state_dict()\nmodel.load_state_dict(sd)\nbatch[0] = 1\nsdx = {}\nsdx['a'] = 1\n")
    # an entry of the call only read (timm's checkpoint filters), with a store elsewhere in the file
    assert not gate.admitted("def f(state, model):\n    for k, v in state.items():\n"
                             "        if v.shape != model.state_dict()[k].shape:\n            state[k] = v.T\n")
