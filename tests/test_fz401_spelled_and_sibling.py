"""FZ401 stays silent on three loads of diffusers' scripts, and only there:
a copy between two unwrapped models the function built with one class (LCM distillation's
`unet.load_state_dict(teacher_unet.state_dict(), strict=False)`), a one-key dict whose key comes from a
literal mapping the load loops over, and a dict filled by literal-key stores. Each near-miss that
reopens the prefix hazard (a wrapper, an in-place rewrite, a computed key) still fires; the torch
tests show the facts the exemption rests on."""

from __future__ import annotations

import textwrap

import pytest

from freezelint.check.engine import check_source

HEAD = """\
import torch
import torch.nn as nn
from peft import get_peft_model
from torch.nn.parallel import DistributedDataParallel as DDP


def f(build, accelerator, cfg, sd, args, model):
"""


def _rows(body: str) -> list[int]:
    source = HEAD + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n"
    compile(source, "x.py", "exec")
    return [d.row for d in check_source(source, "train.py", select=["FZ401"])]


SILENT = {
    "sibling": """
        teacher = build()
        teacher.requires_grad_(False)
        student = build(extra=teacher.config.dim)
        student.load_state_dict(teacher.state_dict(), strict=False)
        """,
    "sibling_from_classmethods": """
        teacher = UNet.from_pretrained(args.teacher, subfolder="unet")
        student = UNet.from_config(teacher.config, time_cond_proj_dim=256)
        student.load_state_dict(teacher.state_dict(), strict=False)
        student = accelerator.prepare(student)  # after the load
        """,
    "sibling_same_factory_argument": """
        teacher = get_model(args)
        student = get_model(args, args.time_cond_proj_dim)
        student.load_state_dict(teacher.state_dict(), strict=False)
        """,
    "sibling_moved": """
        teacher = build().to("cuda").eval()
        teacher = teacher.to(torch.float16)
        student = build(extra=True)
        student.load_state_dict(teacher.state_dict(), strict=False)
        """,
    "mapping_values": """
        mapping = {"old.weight": "new.weight", "old.bias": "new.bias"}
        for src_key, dst_key in mapping.items():
            if src_key in sd:
                model.load_state_dict({dst_key: sd[src_key]}, strict=False, assign=True)
        """,
    "mapping_keys": """
        mapping = {"old.weight": "new.weight"}
        for key in mapping:
            model.load_state_dict({key: sd[key]}, strict=False)
        """,
    "literal_loop": """
        for key in ("fc.weight", "fc.bias"):
            model.load_state_dict({key: sd[key]}, strict=False)
        """,
    "mapping_assigned_first": """
        mapping = {"old.weight": "new.weight"}
        for src_key, dst_key in mapping.items():
            part = {dst_key: sd[src_key]}
            model.load_state_dict(part, strict=False)
        """,
    "stores": """
        zero = {}
        zero["linear_1.weight"] = torch.zeros(2, 2)
        width = 2
        zero["linear_1.bias"] = torch.zeros(width)
        model.load_state_dict(zero, strict=False)
        """,
    "stores_after_a_literal": """
        zero = {"linear_1.weight": torch.zeros(2, 2)}
        zero["linear_1.bias"] = torch.zeros(2)
        model.load_state_dict(zero, strict=False)
        """,
}

FIRES = {
    "source_wrapped": """
        teacher = build()
        teacher = DDP(teacher)
        student = build(extra=True)
        student.load_state_dict(teacher.state_dict(), strict=False)
        """,
    "receiver_prepared": """
        teacher = build()
        student = build(extra=True)
        student = accelerator.prepare(student)
        student.load_state_dict(teacher.state_dict(), strict=False)
        """,
    "prepared_in_a_tuple": """
        teacher = build()
        student = build(extra=True)
        student, optimizer = accelerator.prepare(student, optimizer)
        student.load_state_dict(teacher.state_dict(), strict=False)
        """,
    "compiled": """
        teacher = torch.compile(build())
        student = build(extra=True)
        student.load_state_dict(teacher.state_dict(), strict=False)
        """,
    "compiled_in_a_branch": """
        teacher = build()
        if args.compile:
            teacher = torch.compile(teacher)
        student = build(extra=True)
        student.load_state_dict(teacher.state_dict(), strict=False)
        """,
    "peft_rewrites_in_place": """
        teacher = build()
        student = build(extra=True)
        peft_student = get_peft_model(student, cfg)
        student.load_state_dict(teacher.state_dict(), strict=False)
        """,
    "adapter_added": """
        teacher = build()
        student = build(extra=True)
        student.add_adapter(cfg)
        student.load_state_dict(teacher.state_dict(), strict=False)
        """,
    "submodule_replaced": """
        teacher = build()
        student = build(extra=True)
        student.fc = nn.Linear(2, 2)
        student.load_state_dict(teacher.state_dict(), strict=False)
        """,
    "passed_to_a_call": """
        teacher = build()
        student = build(extra=True)
        convert_layers(student)
        student.load_state_dict(teacher.state_dict(), strict=False)
        """,
    "dot_module_source": """
        teacher = DDP(build())
        student = build(extra=True)
        student.load_state_dict(teacher.module.state_dict(), strict=False)
        """,
    "different_classes": """
        teacher = ResNet50()
        student = ResNet18()
        student.load_state_dict(teacher.state_dict(), strict=False)
        """,
    "different_architectures": """
        teacher = timm.create_model("vit_base_patch16_224")
        student = timm.create_model("resnet50")
        student.load_state_dict(teacher.state_dict(), strict=False)
        """,
    "different_files": """
        teacher = torch.load(args.teacher)
        student = torch.load(args.student)
        student.load_state_dict(teacher.state_dict(), strict=False)
        """,
    "source_a_parameter": """
        student = build(extra=True)
        student.load_state_dict(model.state_dict(), strict=False)
        """,
    "in_a_loop": """
        teacher = build()
        student = build(extra=True)
        for _ in range(3):
            student.load_state_dict(teacher.state_dict(), strict=False)
        """,
    "mapping_value_computed": """
        mapping = {"old.weight": args.prefix + "new.weight"}
        for src_key, dst_key in mapping.items():
            model.load_state_dict({dst_key: sd[src_key]}, strict=False)
        """,
    "mapping_updated": """
        mapping = {"old.weight": "new.weight"}
        mapping.update(args.extra)
        for src_key, dst_key in mapping.items():
            model.load_state_dict({dst_key: sd[src_key]}, strict=False)
        """,
    "mapping_not_a_literal": """
        for src_key, dst_key in args.mapping.items():
            model.load_state_dict({dst_key: sd[src_key]}, strict=False)
        """,
    "loop_over_the_loaded_keys": """
        for key in sd:
            model.load_state_dict({key: sd[key]}, strict=False)
        """,
    "loop_key_rebound": """
        mapping = {"old.weight": "new.weight"}
        for src_key, dst_key in mapping.items():
            dst_key = "module." + dst_key
            model.load_state_dict({dst_key: sd[src_key]}, strict=False)
        """,
    "store_with_a_computed_key": """
        zero = {}
        zero["linear_1.weight"] = torch.zeros(2, 2)
        zero[args.name] = torch.zeros(2)
        model.load_state_dict(zero, strict=False)
        """,
    "stores_then_update": """
        zero = {}
        zero["linear_1.weight"] = torch.zeros(2, 2)
        zero.update(sd)
        model.load_state_dict(zero, strict=False)
        """,
    "stores_in_a_loop_over_keys": """
        zero = {}
        for key in sd:
            zero[key] = sd[key]
        model.load_state_dict(zero, strict=False)
        """,
    "empty": """
        zero = {}
        model.load_state_dict(zero, strict=False)
        """,
}


@pytest.mark.parametrize("body", SILENT.values(), ids=SILENT.keys())
def test_spelled_out_or_sibling_load_is_silent(body):
    assert _rows(body) == []


@pytest.mark.parametrize("body", FIRES.values(), ids=FIRES.keys())
def test_near_miss_still_fires(body):
    assert len(_rows(body)) == 1


def test_diffusers_repros_are_silent_with_their_near_misses_reported():
    lcm = textwrap.dedent("""\
        from torch import nn


        def build(extra=False):
            m = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4))
            if extra:
                m.add_module("time_proj", nn.Linear(4, 4))
            return m


        teacher = build()
        teacher.requires_grad_(False)
        student = build(extra=True)
        student.load_state_dict(teacher.state_dict(), strict=False)
        """)
    assert check_source(lcm, "train.py", select=["FZ401"]) == []
    compiled = lcm.replace("teacher.requires_grad_(False)", "teacher = torch.compile(teacher)")
    assert [d.row for d in check_source("import torch\n" + compiled, "train.py", select=["FZ401"])] == [15]


class TestTheFacts:
    """What the sibling exemption rests on, on torch itself."""

    torch = pytest.importorskip("torch")

    @staticmethod
    def _build(extra=False):
        from torch import nn
        m = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4))
        if extra:
            m.add_module("time_proj", nn.Linear(4, 4))
        return m

    def test_a_sibling_loads_every_shared_key(self):
        teacher, student = self._build(), self._build(extra=True)
        result = student.load_state_dict(teacher.state_dict(), strict=False)
        assert result.missing_keys == ["time_proj.weight", "time_proj.bias"]
        assert result.unexpected_keys == []
        assert self.torch.equal(student[0].weight, teacher[0].weight)

    def test_a_wrapped_source_loads_nothing(self):
        torch = self.torch
        teacher, student = torch.compile(self._build()), self._build(extra=True)
        before = student[0].weight.detach().clone()
        result = student.load_state_dict(teacher.state_dict(), strict=False)  # no error
        assert all(k.startswith("_orig_mod.") for k in result.unexpected_keys) and result.unexpected_keys
        assert len(result.missing_keys) == len(student.state_dict())
        assert torch.equal(student[0].weight, before)
