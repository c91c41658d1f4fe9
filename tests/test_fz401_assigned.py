"""FZ401 on a result assigned and never read (MiniGPT-4's `msg = model.load_state_dict(...,
strict=False)` with `msg` unused): as dropped as a bare statement's result. Every near-miss where the
code names the result again (read, passed on, stored, deleted) stays silent."""

from __future__ import annotations

import json
import textwrap

import pytest

from freezelint.check.engine import check_source


def _rows(body: str) -> list[int]:
    source = "import torch\n\n\ndef load(self, model, sd, logger, verbose):\n" + textwrap.indent(
        textwrap.dedent(body).strip("\n"), "    ") + "\n"
    compile(source, "x.py", "exec")
    return sorted(d.row for d in check_source(source, select=["FZ401"]))


LOAD = "msg = model.load_state_dict(sd, strict=False)\n"

DROPPED = {
    "never_read": LOAD + "return model\n",
    # in a branch, the function returns the model
    "in_branch": "if sd:\n    " + LOAD + "return model\n",
    "annotated": "msg: object = model.load_state_dict(sd, strict=False)\n",
    "tuple": "missing, unexpected = model.load_state_dict(sd, strict=False)\n",
    "underscore": "_ = model.load_state_dict(sd, strict=False)\n",  # an explicit discard looks at no key
    "underscore_tuple": "_, _ = model.load_state_dict(sd, strict=False)\n",
    "underscore_name": "_msg = model.load_state_dict(sd, strict=False)\n",
    # the same word as an attribute or a keyword is another thing
    "attr_and_keyword": LOAD + "self.msg = 1\nlogger.info('done', msg=2)\nmodel.msg\n",
    # in a loop; then a loop that only rebinds the name (a store, not a read)
    "in_loop": "for part in sd:\n    " + LOAD.replace("sd,", "part,"),
    "rebound_by_loop": LOAD + "for msg in range(3):\n    pass\n",
    # code run from a string that does not name it (EfficientDet's `eval(opt.ratios)` config parse)
    "eval_of_a_config_string": "ratios = eval(self.ratios)\n" + LOAD,
    "exec_of_a_literal_naming_another": LOAD + "exec('print(sd)')\n",
}


@pytest.mark.parametrize("body", DROPPED.values(), ids=DROPPED.keys())
def test_result_assigned_and_never_read_fires(body):
    assert len(_rows(body)) == 1


KEPT = {
    "printed": LOAD + "print(msg)\n",
    "logged": LOAD + "logger.info('Missing keys {}'.format(msg.missing_keys))\n",
    "asserted": LOAD + "assert not msg.unexpected_keys\n",
    "returned": LOAD + "return msg\n",
    "passed": LOAD + "check(msg)\n",
    "stored_on_self": LOAD + "self.load_msg = msg\n",
    "f_string": LOAD + "logger.info(f'{msg}')\n",
    "tuple_first_read": "missing, unexpected = model.load_state_dict(sd, strict=False)\nassert not missing\n",
    "tuple_second_read": "missing, unexpected = model.load_state_dict(sd, strict=False)\nprint(unexpected)\n",
    "nested_function": LOAD + "def show():\n    print(msg)\nreturn show\n",
    "lambda": LOAD + "return lambda: msg\n",
    "deleted": LOAD + "del msg\n",
    "read_in_a_branch": LOAD + "if verbose:\n    print(msg)\n",
    "read_in_a_comprehension": LOAD + "keys = [k for k in msg.missing_keys]\nreturn keys\n",
    "augmented": "msgs = []\nmsgs += model.load_state_dict(sd, strict=False)\n",
    "locals": LOAD + "return locals()\n",
    "eval_of_a_literal_naming_it": LOAD + "eval('print(msg.missing_keys)')\n",
    "exec_of_an_f_string_naming_it": LOAD + "exec(f\"print({'msg'}, {sd})\")\n",
    "attribute_target": "self.msg = model.load_state_dict(sd, strict=False)\n",
    "subscript_target": "out = {}\nout['msg'] = model.load_state_dict(sd, strict=False)\nreturn out\n",
    "walrus": "if (msg := model.load_state_dict(sd, strict=False)).missing_keys:\n    pass\n",
    "global": "global msg\n" + LOAD,
    "strict": "msg = model.load_state_dict(sd)\n",
    "checked_first": "assert set(sd) - set(model.state_dict()) == set(), 'keys differ'\n" + LOAD,
}


@pytest.mark.parametrize("body", KEPT.values(), ids=KEPT.keys())
def test_result_named_again_is_kept(body):
    assert _rows(body) == []


def test_module_level_and_class_body():
    fires = "import torch\nsd = torch.load('x.pt')\nmsg = model.load_state_dict(sd, strict=False)\n"
    assert [d.row for d in check_source(fires, select=["FZ401"])] == [3]
    read = fires + "print(msg.missing_keys)\n"
    assert check_source(read, select=["FZ401"]) == []
    read_in_function = fires + "def report():\n    return msg\n"
    assert check_source(read_in_function, select=["FZ401"]) == []
    class_attr = "import torch\nclass Net:\n    msg = model.load_state_dict(sd, strict=False)\n"
    assert check_source(class_attr, select=["FZ401"]) == []


def test_message_names_what_to_check():
    (one,) = check_source("import torch\n" + LOAD, select=["FZ401"])
    assert "is assigned to `msg` and never read" in one.message
    assert "check `msg.missing_keys` / `msg.unexpected_keys`" in one.message
    (two,) = check_source("import torch\nmissing, unexpected = m.load_state_dict(sd, strict=False)\n",
                          select=["FZ401"])
    assert "check `missing` / `unexpected`" in two.message
    (dropped,) = check_source("import torch\n_ = m.load_state_dict(sd, strict=False)\n", select=["FZ401"])
    assert "is assigned to `_` and never read" in dropped.message
    assert "keep the result and check `missing_keys` / `unexpected_keys`" in dropped.message


REBOUND = {
    # the name bound again before any read: the read shows the second value
    "string_then_print": LOAD + "msg = f'loaded {sd}'\nprint(msg)\n",
    "second_load_read": LOAD + "msg = model.load_state_dict(sd, strict=False)\nprint(msg)\n",
    "statements_between": LOAD + "model.eval()\nlogger.info('done')\nmsg = 'ok'\nprint(msg)\n",
    "under_an_if": "if verbose:\n    " + LOAD + "    model.eval()\nmsg = 'ok'\nprint(msg)\n",
    "tuple_rebound": "missing, unexpected = model.load_state_dict(sd, strict=False)\n"
                     "missing, unexpected = [], []\nprint(missing, unexpected)\n",
}


@pytest.mark.parametrize("body", REBOUND.values(), ids=REBOUND.keys())
def test_result_bound_again_before_any_read_fires(body):
    assert _rows(body) == [6 if body.startswith("if") else 5]


NOT_REBOUND = {
    "read_then_rebound": LOAD + "print(msg)\nmsg = 'ok'\nprint(msg)\n",
    "rebinding_reads_it": LOAD + "msg = str(msg)\nprint(msg)\n",
    "rebound_on_one_branch": LOAD + "if verbose:\n    msg = 'ok'\nprint(msg)\n",
    "one_name_of_two_rebound": "missing, unexpected = model.load_state_dict(sd, strict=False)\n"
                               "missing = []\nprint(missing, unexpected)\n",
    "loop_skips_the_binding": "for part in sd:\n    print(msg)\n    msg = model.load_state_dict(part, strict=False)\n"
                              "    if verbose:\n        continue\n    msg = 'ok'\n",
    "returns_first": LOAD + "if verbose:\n    return msg\nmsg = 'ok'\nprint(msg)\n",
    "handler_reads_it": "try:\n    " + LOAD + "    model.eval()\n    msg = 'ok'\nexcept RuntimeError:\n"
                        "    print(msg)\n",
    "loop_reads_at_its_head": "for part in sd:\n    print(msg)\n    if part:\n"
                              "        msg = model.load_state_dict(part, strict=False)\nmsg = 'ok'\nprint(msg)\n",
}


@pytest.mark.parametrize("body", NOT_REBOUND.values(), ids=NOT_REBOUND.keys())
def test_result_that_may_reach_a_read_is_kept(body):
    assert _rows(body) == []


def test_two_loads_into_one_name_read_once_report_the_first():
    # the first result is bound again by the second load before the print reads the name
    body = LOAD + LOAD + "print(msg)\n"
    assert _rows(body) == [5]
    (one,) = check_source("import torch\n" + body, select=["FZ401"])
    assert "is assigned to `msg`, which line 3 assigns again before anything reads it" in one.message


def test_a_log_line_before_any_key_comparison_is_no_report_of_it():
    # LAVIS' timesformer helper: keys renamed with membership tests, an unrelated log line first
    body = textwrap.dedent("""
        import logging

        import torch


        def load_pretrained(model, path):
            state_dict = torch.load(path, map_location="cpu")
            logging.info("Resizing spatial position embedding")
            new_state_dict = state_dict.copy()
            for key in state_dict:
                new_key = key.replace("attn", "temporal_attn")
                if not new_key in state_dict:
                    new_state_dict[new_key] = state_dict[key]
            model.load_state_dict(new_state_dict, strict=False)
    """)
    assert [d.row for d in check_source(body, select=["FZ401"])] == [15]
    # the same comparison, then a report of what it found: a check
    assert "\n    model.load_state_dict" in body
    checked = body.replace("\n    model.load_state_dict", "\n    logging.warning('renamed keys')\n"
                           "    model.load_state_dict")
    assert check_source(checked, select=["FZ401"]) == []


@pytest.mark.parametrize("helper,fires", [
    ("interpolate_pos_embed", True),  # resizes pos_embed, reads no key (LAVIS' eva_vit and clip_vit)
    ("check_keys", False),
    ("_find_mismatched_keys", False),
])
def test_a_call_given_the_model_and_the_dict_checks_keys_only_where_its_name_says_so(helper, fires):
    body = textwrap.dedent(f"""
        import torch


        def create_vit(model, path):
            state_dict = torch.load(path, map_location="cpu")
            {helper}(model, state_dict)
            incompatible_keys = model.load_state_dict(state_dict, strict=False)
            return model
    """)
    assert bool(check_source(body, select=["FZ401"])) is fires


def test_a_loader_or_helper_result_bound_again_before_any_read_names_the_line():
    # a library loader and a helper whose `strict` is left False say where the result is rebound, as a
    # direct load does, not "never read" (it is read, after a statement that replaced it)
    source = (
        "import torch\n"
        "from timm.models import load_checkpoint\n"
        "\n"
        "\n"
        "def restore(model, path):\n"
        "    res = load_checkpoint(model, path, strict=False)\n"
        "    res = 'restored'\n"
        "    print(res)\n"
        "\n"
        "\n"
        "def load(model, sd, strict=False):\n"
        "    return model.load_state_dict(sd, strict=strict)\n"
        "\n"
        "\n"
        "def main(model, sd):\n"
        "    out = load(model, sd)\n"
        "    out = None\n"
        "    print(out)\n"
    )
    found = {d.row: d.message for d in check_source(source, select=["FZ401"])}
    assert sorted(found) == [6, 16], found
    assert "its result goes to `res`, which line 7 assigns again before anything reads it" in found[6]
    assert "its result goes to `out`, which line 17 assigns again before anything reads it" in found[16]
    # never read at all: the words stay
    never = source.replace("    res = 'restored'\n    print(res)\n", "")
    assert "its result goes to `res`, never read" in {d.row: d.message for d in
                                                      check_source(never, select=["FZ401"])}[6]


LITERAL_HELPER = (
    "import torch\n"
    "\n"
    "\n"
    "def load(model, sd):\n"
    "    return model.load_state_dict(sd, strict=False)\n"
    "\n"
    "\n"
    "def main(model, sd):\n"
    "{body}"
)

HELPER_RESULT = {
    # dropped: the caller never looks at what the helper hands back
    "never_read": ("    out = load(model, sd)\n    return model\n", "its result goes to `out`, never read"),
    "underscore": ("    _ = load(model, sd)\n", "its result goes to `_`, never read"),
    "tuple": ("    missing, unexpected = load(model, sd)\n", "its result goes to `missing, unexpected`, never read"),
    "rebound": ("    out = load(model, sd)\n    out = None\n    print(out)\n",
                "its result goes to `out`, which line 10 assigns again before anything reads it"),
    "statement": ("    load(model, sd)\n", "this call drops them"),
    # kept: read, handed on
    "read": ("    out = load(model, sd)\n    assert not out.unexpected_keys\n", None),
    "returned": ("    out = load(model, sd)\n    return out\n", None),
    "one_read": ("    missing, unexpected = load(model, sd)\n    print(unexpected)\n", None),
}


@pytest.mark.parametrize("body,said", HELPER_RESULT.values(), ids=HELPER_RESULT.keys())
def test_a_helper_returning_a_literal_non_strict_load_is_dropped_by_a_name_never_read(body, said):
    source = LITERAL_HELPER.format(body=body)
    found = [(d.row, d.message) for d in check_source(source, select=["FZ401"])]
    if said is None:
        assert found == []
        return
    [(row, message)] = found
    assert row == 9 and said in message and "`load(...)` returns `load_state_dict(..., strict=False)`" in message


def test_a_literal_helper_of_another_file_dropped_by_a_name_never_read(cli, tmp_path):
    from conftest import write

    write(tmp_path / "pyproject.toml", "")
    write(tmp_path / "utils.py", "def load(model, sd):\n    return model.load_state_dict(sd, strict=False)\n")
    write(tmp_path / "train.py", "from utils import load\n\n\ndef main(model, sd):\n    out = load(model, sd)\n"
                                 "    return model\n\n\ndef kept(model, sd):\n    out = load(model, sd)\n    return out\n")
    r = cli(tmp_path, "check", "--no-cache", "--format", "json", "--select", "FZ401", "train.py")
    found = [(d["location"]["row"], d["message"]) for d in json.loads(r.out)]
    assert [row for row, _ in found] == [5]
    assert "(utils.py:2)" in found[0][1] and "its result goes to `out`, never read" in found[0][1]
