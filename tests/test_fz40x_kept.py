"""FZ402 (and FZ401 on a key-filtered dict): what proves the filtered dict kept something before it is
merged or loaded. A read of a spelled-out key that raises KeyError when the filter kept nothing
(`pop(k)` without a default, `del d[k]`, `d[k]`, `assert k in d`, `if k not in d: raise`) on every
path to the merge, or a report of the keys the dict lacks; and the near-misses that prove nothing."""

from __future__ import annotations

import textwrap

import pytest

from freezelint.check.engine import check_source

HEAD = """
import logging
import warnings

import torch

logger = logging.getLogger(__name__)


def load(model, path, drop_head=False):
    ckpt = torch.load(path)
    model_dict = model.state_dict()
    new = {k: v for k, v in ckpt.items() if k in model_dict}  # the filter
"""
TAIL = """
    model_dict.update(new)
    model.load_state_dict(model_dict)
"""


def _codes(code: str, select=("FZ401", "FZ402")) -> list[tuple[str, int]]:
    source = textwrap.dedent(code).lstrip()
    compile(source, "x.py", "exec")  # a case that does not parse would find nothing
    return sorted((d.code, d.row) for d in check_source(source, select=list(select)))


def _between(middle: str, tail: str = TAIL) -> str:
    """The filter, then `middle` (indented into the function), then the merge and the load."""
    return HEAD + textwrap.indent(textwrap.dedent(middle), "    ") + tail


FILTER_ROW = 12  # the row of the filter in HEAD, where FZ402 reports


PROVEN = {
    # (Miracle-QCC/Utils): the head dropped with no default
    "pop": """
        new.pop("classifier.weight")
        new.pop("classifier.bias")
        """,
    "del": 'del new["fc.weight"], new["fc.bias"]\n',
    "read": 'head = new["fc.weight"]\n',
    "read_in_call": 'print(new["conv1.weight"].shape)\n',
    "read_in_test": """
        if new["fc.weight"].shape[0] != 10:
            new = {k: v for k, v in new.items() if not k.startswith("fc.")}
        """,
    "assert_key": 'assert "conv1.weight" in new, "the backbone did not load"\n',
    "assert_keys": 'assert "conv1.weight" in new.keys() and len(model_dict) > 0\n',
    "raise_unless_key": """
        if "conv1.weight" not in new:
            raise KeyError("conv1.weight")
        """,
    "raise_unless_key_not": 'if not "conv1.weight" in new: raise KeyError("conv1.weight")\n',
    "loop_over_spelled_keys": """
        for key in ("fc.weight", "fc.bias"):
            del new[key]
        """,
    "loop_over_spelled_keys_asserted": """
        for key in ["conv1.weight"]: assert key in new
        """,
    "if_not_raise": """
        if not new:
            raise RuntimeError("no key of the checkpoint is a key of the model")
        """,
    "log_missing": 'print("not loaded:", set(model_dict) - set(new))\n',
    "log_missing_keys": 'logger.warning("missing %s", model_dict.keys() - new.keys())\n',
    "log_missing_named": """
        missing = [k for k in model_dict if k not in new]
        logger.info(f"missing keys: {missing}")
        """,
    "test_missing_named": """
        missing = set(model_dict) - set(new)
        if missing:
            warnings.warn("some layers keep their random init")
        """,
    "log_kept": 'print("kept:", list(new))\n',
    "log_kept_keys": 'logger.info(f"loading {new.keys()}")\n',
    "warn_unless_key": """
        if "conv1.weight" not in new:
            print("conv1 not loaded")
        """,
    "raise_missing_named": """
        missing = [k for k in model_dict if k not in new]
        if len(missing) > 2:
            raise RuntimeError(missing)
        """,
}


@pytest.mark.parametrize("middle", PROVEN.values(), ids=PROVEN.keys())
def test_a_check_of_what_the_filter_kept_silences_fz402(middle):
    assert _codes(_between(middle)) == []


def test_read_then_load_in_the_same_branch():
    code = _between("""
        if drop_head:
            new.pop("fc.weight")
            model_dict.update(new)
            model.load_state_dict(model_dict)
        """, tail="")
    assert _codes(code) == []


def test_every_merge_preceded_by_a_read():
    code = _between("""
        if drop_head:
            new.pop("fc.weight")
            model_dict.update(new)
        else:
            assert "fc.weight" in new
            model_dict.update(new)
        model.load_state_dict(model_dict)
        """, tail="")
    assert _codes(code) == []


def test_read_in_a_try_whose_body_holds_the_load():
    code = _between("""
        try:
            new.pop("fc.weight")
            model_dict.update(new)
            model.load_state_dict(model_dict)
        except KeyError:
            print("no head in the checkpoint")
        """, tail="")
    assert _codes(code) == []


UNPROVEN = {
    "pop_with_default": 'new.pop("fc.weight", None)\n',
    "pop_with_keyword_default": 'new.pop("fc.weight", default=None)\n',
    "get": 'head = new.get("fc.weight")\n',
    "bare_membership": 'has_head = "fc.weight" in new\n',
    "pop_under_membership": """
        if "fc.weight" in new:
            new.pop("fc.weight")
        """,
    "another_dict": """
        ckpt.pop("fc.weight")
        del model_dict["fc.bias"]
        """,
    # decided: a read in one branch of an `if` the load does not sit in proves nothing on the
    # other branch, where an empty filter still loads silently
    "read_in_one_branch": """
        if drop_head:
            new.pop("fc.weight")
        """,
    "read_in_the_else_branch": """
        if drop_head:
            pass
        else:
            del new["fc.weight"]
        """,
    # MoCo's loop over the dict's own keys: a computed key the dict holds by construction
    "pop_own_keys": """
        for k in list(new.keys()):
            if k.startswith("fc."):
                new.pop(k)
        """,
    "del_own_keys_no_branch": """
        for k in list(new):
            del new[k]
        """,
    "loop_over_spelled_keys_with_continue": """
        for key in ("fc.weight", "fc.bias"):
            if drop_head:
                continue
            del new[key]
        """,
    "loop_over_no_key": """
        for key in ():
            del new[key]
        """,
    "read_swallowed": """
        try:
            new.pop("fc.weight")
        except KeyError:
            pass
        """,
    "read_under_suppress": """
        import contextlib
        with contextlib.suppress(KeyError):
            del new["fc.weight"]
        """,
    "read_in_a_lambda": 'head = lambda: new["fc.weight"]\n',
    "read_in_a_comprehension": 'heads = [new["fc.weight"] for _ in range(len(model_dict) and 0)]\n',
    "read_in_a_branch_of_ifexp": 'head = None if drop_head else new["fc.weight"]\n',
    "read_right_of_and": 'head = drop_head and new["fc.weight"]\n',
    "store": 'new["fc.weight"] = torch.zeros(10, 512)\n',
    "store_in_a_tuple": 'new["fc.weight"], n = torch.zeros(10, 512), 1\n',
    "store_annotated": 'new["fc.weight"]: torch.Tensor = torch.zeros(10, 512)\n',
    "read_in_a_nested_def": """
        def head():
            return new["fc.weight"]
        """,
    "assert_key_absent": 'assert "fc.weight" not in new\n',
    "raise_if_key_present": """
        if "fc.weight" in new:
            raise KeyError("fc.weight")
        """,
    # the keys of the filtered dict the model lacks: empty by construction, whatever was kept
    "log_extra": 'print("unexpected:", set(new) - set(model_dict))\n',
    "log_extra_named": """
        extra = [k for k in new if k not in model_dict]
        print(extra)
        """,
    "log_kept_one_by_one": """
        for k in new:
            print("model load =>", k)
        """,
    "log_a_kept_value": 'print(new.get("fc.weight"))\n',
}


@pytest.mark.parametrize("middle", UNPROVEN.values(), ids=UNPROVEN.keys())
def test_what_proves_nothing_still_fires(middle):
    assert _codes(_between(middle)) == [("FZ402", FILTER_ROW)]


def test_read_after_the_load_still_fires():
    code = _between("", tail="""
    model_dict.update(new)
    model.load_state_dict(model_dict)
    new.pop("fc.weight")
    assert "conv1.weight" in new
""")
    assert _codes(code) == [("FZ402", FILTER_ROW)]


def test_read_before_one_merge_of_two_still_fires():
    code = _between("""
        if drop_head:
            new.pop("fc.weight")
            model_dict.update(new)
        else:
            model_dict.update(new)
        model.load_state_dict(model_dict)
        """, tail="")
    assert _codes(code) == [("FZ402", FILTER_ROW)]


def test_loop_filled_dict_with_a_key_read():
    base = """
    def load(model, pretrained):
        state_dict = model.state_dict()
        kept = {}
        for k, v in pretrained.items():
            if k in state_dict:
                kept[k] = v
        %s
        state_dict.update(kept)
        model.load_state_dict(state_dict)
    """
    assert _codes(base % 'kept.pop("fc.weight")') == []
    assert _codes(base % 'kept.pop("fc.weight", None)') == [("FZ402", 3)]


LENIENT = """
import torch

def load(model, path):
    ckpt = torch.load(path)
    kept = %s
    %s
    model.load_state_dict(kept, strict=False)
"""


def test_fz401_on_a_filtered_dict_read_by_key():
    filtered = "{k: v for k, v in ckpt.items() if k in model.state_dict()}"
    assert _codes(LENIENT % (filtered, 'kept.pop("fc.weight")')) == []
    assert _codes(LENIENT % (filtered, 'kept.pop("fc.weight", None)')) == [("FZ401", 7), ("FZ402", 5)]
    assert _codes(LENIENT % (filtered, 'ckpt.pop("fc.weight")')) == [("FZ401", 7), ("FZ402", 5)]


def test_fz401_read_on_an_unfiltered_dict_proves_no_match():
    # the checkpoint has an un-prefixed `fc.weight`; the model may still be `module.`-prefixed
    assert _codes(LENIENT % ("dict(ckpt)", 'kept.pop("fc.weight")')) == [("FZ401", 7)]
    assert _codes(LENIENT % ("ckpt['state_dict']", 'del kept["fc.weight"]')) == [("FZ401", 7)]


def test_read_of_an_earlier_binding_of_the_name_proves_nothing():
    code = """
    def load(model, ckpt, other):
        model_dict = model.state_dict()
        new = {k: v for k, v in ckpt.items() if k in model_dict}
        new.pop("fc.weight")
        new = {k: v for k, v in other.items() if k in model_dict}
        model_dict.update(new)
        model.load_state_dict(model_dict)
    """
    assert _codes(code) == [("FZ402", 5)]


def test_read_in_the_header_of_the_statement_holding_the_load():
    code = _between("""
        if new["fc.weight"].shape[0] == 10:
            model_dict.update(new)
        else:
            model_dict.update(new)
        model.load_state_dict(model_dict)
        """, tail="")
    assert _codes(code) == []
