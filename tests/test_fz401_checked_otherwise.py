"""FZ401: a partial load whose keys the code checks by other means than its result (trial 40): the
keys the receiver lacks computed and reported (modelscope's ops/utils.py load_state_dict, funasr's
head loader), or a `self.check_keys(sd)` helper that asserts the overlap (modelscope retinaface), or a
strict load tried first whose `except` reports (LAVIS's runner), or a comment at the load that says it
is non-strict on purpose (Lightning's launcher, peft), or a dict kept to the receiver's own keys and
loaded only when not empty (funasr's `compatible_state`). A print of the checkpoint alone, a helper that
only prints, one run on one path only, a silent fallback or a comment that restates the call stays
reported."""

from __future__ import annotations

import textwrap

import pytest

from freezelint.check.engine import check_source

SILENT = {
    "manual_report": """
        def load_state_dict(module, state_dict, drop_prefix=""):
            src, dst = state_dict, module.state_dict()
            missing = [k for k in dst if k not in src]
            unexpected = [k for k in src if k not in dst]
            src = type(src)([(k, v) for k, v in src.items() if k not in set(unexpected)])
            module.load_state_dict(src, strict=False)
            if len(missing) != 0:
                print("  Missing: " + ", ".join(missing), flush=True)
        """,
    "checked_after": """
        def load_head(head, state_dict):
            expected = head.state_dict()
            sub = {k[5:]: v for k, v in state_dict.items() if k.startswith("head.") and k[5:] in expected}
            if sub:
                head.load_state_dict(sub, strict=False)
            missing = sorted(set(expected).difference(sub))
            if missing:
                raise RuntimeError(f"head checkpoint incomplete: {missing}")
        """,
    "overlap_asserted": """
        class Detector:
            def __init__(self, net):
                self.net = net

            def check_keys(self, pretrained_state_dict):
                ckpt_keys = set(pretrained_state_dict.keys())
                model_keys = set(self.net.state_dict().keys())
                used_pretrained_keys = model_keys & ckpt_keys
                assert len(used_pretrained_keys) > 0, "load NONE from pretrained checkpoint"
                return True

            def load_model(self, pretrained_dict):
                self.check_keys(pretrained_dict)
                self.net.load_state_dict(pretrained_dict, strict=False)
        """,
    "overlap_raised_by_function": """
        def verify_overlap(net, sd):
            if not set(net.state_dict()) & set(sd):
                raise ValueError("no key of the checkpoint is a key of the model")

        def load(model, sd):
            verify_overlap(model.backbone, sd)
            model.backbone.load_state_dict(sd, strict=False)
        """,
    "skipped_keys_printed_by_rank_zero": """
        from megatron import print_rank_0

        def load(model, load_model):
            model_dict = model.module.model.state_dict()
            for key in load_model:
                if key not in model_dict.keys():
                    print_rank_0("Skip key: " + key)
            model.module.model.load_state_dict(load_model, strict=False)
        """,
    "own_keys_kept_and_some_left": """
        def load(model, sd):
            own = model.state_dict()
            kept = {k: v for k, v in sd.items() if k in own}
            if kept:
                model.load_state_dict(kept, strict=False)
        """,
    "own_keys_kept_by_a_nested_helper": """
        class Model:
            def load_ctc(self, state_dict):
                def compatible_state(module, prefix):
                    expected = module.state_dict()
                    return {key[len(prefix):]: value for key, value in state_dict.items()
                            if key.startswith(prefix) and key[len(prefix):] in expected}

                ctc_state = compatible_state(self.ctc, "ctc.")
                if len(ctc_state) > 0:
                    self.ctc.load_state_dict(ctc_state, strict=False)
        """,
    "strict_tried_first": """
        import logging

        def load(model, checkpoint):
            try:
                model.load_state_dict(checkpoint["model"])
            except RuntimeError:
                logging.warning("Key mismatch when loading the checkpoint; trying strict=False")
                model.load_state_dict(checkpoint["model"], strict=False)
            return model
        """,
    "comment_says_non_strict": """
        def recover(trainer, ckpt):
            # non-strict loading on purpose, because the model's composition
            # could have changed in the worker process (layers added or removed)
            trainer.lightning_module.load_state_dict(ckpt, strict=False)
        """,
    "comment_after_says_only_update": """
        def init(model, new_state_dict):
            model.load_state_dict(
                new_state_dict, strict=False
            )  # only update the new layers (seqTransf)
        """,
}

REPORTED = {
    "own_keys_kept_unguarded": """
        def load(model, sd):
            own = model.state_dict()
            kept = {k: v for k, v in sd.items() if k in own}
            model.load_state_dict(kept, strict=False)
        """,
    "another_modules_keys_kept": """
        def load(model, other, sd):
            own = other.state_dict()
            kept = {k: v for k, v in sd.items() if k in own}
            if kept:
                model.load_state_dict(kept, strict=False)
        """,
    "own_keys_kept_then_renamed": """
        def load(model, sd):
            own = model.state_dict()
            kept = {"encoder." + k: v for k, v in sd.items() if k in own}
            if kept:
                model.load_state_dict(kept, strict=False)
        """,
    "helper_handed_another_module": """
        class Model:
            def load_ctc(self, state_dict):
                def compatible_state(module, prefix):
                    expected = module.state_dict()
                    return {key[len(prefix):]: value for key, value in state_dict.items()
                            if key[len(prefix):] in expected}

                ctc_state = compatible_state(self.decoder, "ctc.")
                if ctc_state:
                    self.ctc.load_state_dict(ctc_state, strict=False)
        """,
    "fallback_handler_silent": """
        def load(model, sd):
            try:
                model.load_state_dict(sd)
            except RuntimeError:
                model.load_state_dict(sd, strict=False)
        """,
    "fallback_after_another_dict": """
        def load(model, sd, other):
            try:
                model.load_state_dict(other)
            except RuntimeError as e:
                print(e)
                model.load_state_dict(sd, strict=False)
        """,
    "comment_restates_call": """
        def load(model, sd):
            # load with strict=False
            model.load_state_dict(sd, strict=False)
        """,
    "comment_apart": """
        def load(model, sd):
            # not strict because the head is new

            model.load_state_dict(sd, strict=False)
        """,
    "checkpoint_printed": """
        def load(module, state_dict):
            print("loading", list(state_dict.keys()))
            module.load_state_dict(state_dict, strict=False)
        """,
    "missing_unreported": """
        def load(module, state_dict):
            missing = [k for k in module.state_dict() if k not in state_dict]
            module.load_state_dict(state_dict, strict=False)
            return len(missing)
        """,
    "other_keys_missing": """
        def load(module, state_dict, other):
            missing = [k for k in other if k not in state_dict]
            module.load_state_dict(state_dict, strict=False)
            if missing:
                print(missing)
        """,
    "helper_prints": """
        class Detector:
            def check_keys(self, pretrained):
                print(len(set(self.net.state_dict()) & set(pretrained)))

            def load_model(self, pretrained):
                self.check_keys(pretrained)
                self.net.load_state_dict(pretrained, strict=False)
        """,
    "helper_on_one_path": """
        class Detector:
            def check_keys(self, pretrained):
                assert set(self.net.state_dict()) & set(pretrained)

            def load_model(self, pretrained, flag):
                if flag:
                    self.check_keys(pretrained)
                self.net.load_state_dict(pretrained, strict=False)
        """,
    "rebound_after_helper": """
        class Detector:
            def check_keys(self, pretrained):
                assert set(self.net.state_dict()) & set(pretrained)

            def load_model(self, pretrained):
                self.check_keys(pretrained)
                pretrained = {"x." + k: v for k, v in pretrained.items()}
                self.net.load_state_dict(pretrained, strict=False)
        """,
    "helper_checks_another_model": """
        class Detector:
            def check_keys(self, pretrained):
                assert set(self.net.state_dict()) & set(pretrained)

            def load_other(self, other, pretrained):
                self.check_keys(pretrained)
                other.load_state_dict(pretrained, strict=False)
        """,
}


def _codes(code: str) -> list[str]:
    source = textwrap.dedent(code).lstrip()
    compile(source, "load.py", "exec")
    return [d.code for d in check_source(source, "load.py", select=["FZ401"])]


@pytest.mark.parametrize("name", sorted(SILENT))
def test_checked_otherwise_is_silent(name):
    assert _codes(SILENT[name]) == []


@pytest.mark.parametrize("name", sorted(REPORTED))
def test_unchecked_still_reported(name):
    assert _codes(REPORTED[name]) == ["FZ401"]
