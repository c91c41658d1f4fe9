"""Fix safety follows knowledge, and a name the program declares is no finding (issue 18 point 5).

The rule modules' examples cover the shapes; these tests pin the user-visible behaviour of the
reported cases end to end: what `--fix` and `--unsafe-fixes` do to the file, and the reason an
unsafe fix gives."""

from __future__ import annotations

import textwrap

from freezelint import codes
from freezelint.check.engine import check_text

ALL_STATIC = frozenset(c for c, i in codes.CATALOGUE.items() if i.static)


def run(source: str, fix: str | None = None):
    return check_text(textwrap.dedent(source).lstrip("\n"), "train.py", ALL_STATIC, fix=fix)


def test_argparse_option_is_not_renamed_even_with_unsafe_fixes():
    # The reproduction: `--require-grad` is a declared option, so `args.require_grad` is
    # the program's own setting; renaming it would change what the program does.
    source = """
        import argparse
        parser = argparse.ArgumentParser()
        parser.add_argument("--require-grad", action="store_true")
        args = parser.parse_args()
        args.require_grad = False
        """
    assert run(source).diagnostics == []
    assert run(source, fix="unsafe").new_text is None


def test_namespace_passed_to_a_function_is_still_the_declared_option():
    out = run("""
        import argparse

        def configure(args):
            args.require_grad = False  # `args` arrives as a parameter: the option is still declared

        parser = argparse.ArgumentParser()
        parser.add_argument("--lr", type=float)
        parser.add_argument("--freeze", dest="require_grad", action="store_false")
        configure(parser.parse_args())
        """)
    assert out.diagnostics == []


def test_dataclass_config_field_is_no_finding():
    out = run("""
        from dataclasses import dataclass, field

        @dataclass
        class FinetuneConfig:
            layers: list = field(default_factory=list)
            requires_grads: bool = True

        cfg = FinetuneConfig()
        cfg.requires_grads = False
        """)
    assert out.diagnostics == []


def test_dict_like_config_is_no_finding():
    out = run("""
        from easydict import EasyDict as edict
        import yaml

        cfg = edict(yaml.safe_load(open("cfg.yaml")))
        cfg.require_grad = True  # an attribute-style config holds no tensors
        opts = load_options()
        opts.requiresGrad = opts["requiresGrad"]  # read back as a key: a dict-like config
        """)
    assert out.diagnostics == []


def test_unknown_receiver_gets_an_unsafe_fix_with_the_reason():
    source = "backbone.require_grad = False\nhead.requires_grad_ = True\n"
    out = run(source)
    by_code = {d.code: d for d in out.diagnostics}
    assert set(by_code) == {"FZ101", "FZ103"}
    for d in by_code.values():
        assert d.fix["applicability"] == codes.UNSAFE
        assert "is not known to be a Parameter, Tensor or Module" in d.fix["message"]
    assert run(source, fix="safe").new_text is None
    assert run(source, fix="unsafe").new_text == "backbone.requires_grad = False\nhead.requires_grad_(True)\n"


def test_known_receivers_keep_safe_fixes():
    out = run("""
        import torch.nn as nn
        head = nn.Linear(4, 4)
        head.requires_grad_ = False
        for p in head.parameters():
            p.require_grad = False
        """, fix="safe")
    assert out.new_text is not None
    assert "head.requires_grad_(False)" in out.new_text and "p.requires_grad = False" in out.new_text


def test_misspelling_on_a_parameter_is_reported_even_when_an_option_has_that_name():
    # Parameters declare nothing: the option `--require-grad` does not excuse `p.require_grad`.
    source = """
        import argparse
        parser = argparse.ArgumentParser()
        parser.add_argument("--require-grad", action="store_true")
        for p in model.parameters():
            p.require_grad = False
        """
    assert [d.code for d in run(source).diagnostics] == ["FZ103"]
    assert "p.requires_grad = False" in run(source, fix="safe").new_text
