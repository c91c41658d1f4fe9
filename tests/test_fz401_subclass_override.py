"""FZ401: `self.load_from_pretrained(...)` as a statement in a class that defines no such method
(nor do its bases) runs a subclass's; where a subclass of the file returns an unread `strict=False`
load from it (LAVIS's BaseModel / Blip2Base), the call drops the keys and is reported."""

from __future__ import annotations

import textwrap

import pytest

from freezelint.check.engine import check_source

CODE = """
    import torch
    import torch.nn as nn


    class BaseModel(nn.Module):
        def load_checkpoint_from_config(self, cfg):
            self.load_from_pretrained(url_or_filename=cfg["pretrained"])


    class Blip2Base(BaseModel):
        pass


    class Blip2Qformer(Blip2Base):
        def load_from_pretrained(self, url_or_filename):
            state_dict = torch.load(url_or_filename, map_location="cpu")["model"]
            msg = self.load_state_dict(state_dict, strict=False)
            return msg
    """


def _found(code: str):
    source = textwrap.dedent(code).lstrip()
    compile(source, "x.py", "exec")
    return [(d.row, d.message) for d in check_source(source, "base_model.py", select=["FZ401"])]


def test_a_method_only_a_subclass_defines_is_followed():
    found = _found(CODE)
    assert [row for row, _ in found] == [7]
    assert "`self.load_from_pretrained(...)` returns `load_state_dict(..., strict=False)`" in found[0][1]
    assert "(line 17)" in found[0][1]


@pytest.mark.parametrize("old, new", [
    # the override looks at the keys itself
    ("        return msg\n", "        print(msg.missing_keys)\n        return msg\n"),
    # strict: a mismatch raises
    ("state_dict, strict=False)", "state_dict)"),
    # the caller keeps what it returns
    ('        self.load_from_pretrained(url_or_filename=cfg["pretrained"])\n',
     '        return self.load_from_pretrained(url_or_filename=cfg["pretrained"])\n'),
    # the class defines it itself (a no-op): that one runs for it
    ("    def load_checkpoint_from_config(self, cfg):",
     "    def load_from_pretrained(self, url_or_filename):\n        return None\n\n"
     "    def load_checkpoint_from_config(self, cfg):"),
], ids=["override_reports", "strict", "kept", "defined_by_the_class"])
def test_near_misses_are_silent(old, new):
    code = textwrap.dedent(CODE)
    assert old in code
    assert _found(code.replace(old, new)) == []


class TestTheFacts:
    torch = pytest.importorskip("torch")

    def test_the_subclass_override_runs_and_its_keys_are_dropped(self, tmp_path):
        from torch import nn
        torch = self.torch

        class BaseModel(nn.Module):
            def load_checkpoint_from_config(self, cfg):
                self.load_from_pretrained(cfg["pretrained"])

        class Child(BaseModel):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(2, 2)
                self.seen = None

            def load_from_pretrained(self, path):
                msg = self.load_state_dict(torch.load(path)["model"], strict=False)
                self.seen = msg
                return msg

        path = tmp_path / "ckpt.pt"
        torch.save({"model": {"module." + k: v for k, v in nn.Linear(2, 2).state_dict().items()}}, path)
        model = Child()
        before = model.fc.weight.detach().clone()
        assert model.load_checkpoint_from_config({"pretrained": str(path)}) is None  # the keys: gone
        assert sorted(model.seen.missing_keys) == ["fc.bias", "fc.weight"]
        assert torch.equal(model.fc.weight, before)
