"""FZ401: a report under a positive membership test (`if k in own and shape differs: logger.info(...)`,
mmaction2's inflating loaders) is reached only by keys that match; with a prefix mismatch it logs
nothing and nothing loads, so it is no check of the keys. A report a mismatching key reaches (`if k
not in own`, the `else` of `if k in own`) still is."""

from __future__ import annotations

import logging
import textwrap

import pytest

from freezelint.check.engine import check_source

LOADER = """
    import logging
    import torch

    logger = logging.getLogger(__name__)

    def load_inflated(model, path):
        state_dict = torch.load(path, map_location="cpu")
        own = model.state_dict()
        for k in state_dict.keys():
            if k in own.keys() and state_dict[k].shape != own[k].shape:
                logger.info(f"Inflate: {k}")
                state_dict[k] = state_dict[k].unsqueeze(2)
        model.load_state_dict(state_dict, strict=False)
    """


def _rows(code: str) -> list[int]:
    source = textwrap.dedent(code).lstrip()
    compile(source, "x.py", "exec")
    return [d.row for d in check_source(source, "backbone.py", select=["FZ401"])]


def test_a_report_only_matching_keys_reach_is_no_check():
    assert _rows(LOADER) == [13]


@pytest.mark.parametrize("old, new", [
    ("if k in own.keys() and state_dict[k].shape != own[k].shape:", "if k not in own.keys():"),
    ('            logger.info(f"Inflate: {k}")\n            state_dict[k] = state_dict[k].unsqueeze(2)\n',
     '            state_dict[k] = state_dict[k].unsqueeze(2)\n        else:\n            logger.warning(f"unexpected: {k}")\n'),
    ('            logger.info(f"Inflate: {k}")\n            state_dict[k] = state_dict[k].unsqueeze(2)\n',
     '            state_dict[k] = state_dict[k].unsqueeze(2)\n        logger.info(f"seen: {k}")\n'),
], ids=["not_in", "else_branch", "after_the_if"])
def test_a_report_a_mismatching_key_reaches_still_counts(old, new):
    code = textwrap.dedent(LOADER)
    assert old in code
    assert _rows(code.replace(old, new)) == []


class TestTheFacts:
    torch = pytest.importorskip("torch")

    def test_a_prefix_mismatch_logs_nothing_and_loads_nothing(self, caplog):
        from torch import nn
        model = nn.Linear(2, 2)
        state_dict = {"backbone." + k: v.unsqueeze(0) for k, v in nn.Linear(2, 2).state_dict().items()}
        own = model.state_dict()
        before = model.weight.detach().clone()
        log = logging.getLogger("fz401_matched_only")
        with caplog.at_level(logging.INFO, logger="fz401_matched_only"):
            for k in state_dict.keys():
                if k in own.keys() and state_dict[k].shape != own[k].shape:
                    log.info(f"Inflate: {k}")
        assert caplog.records == []
        result = model.load_state_dict(state_dict, strict=False)  # no error
        assert sorted(result.missing_keys) == ["bias", "weight"]
        assert self.torch.equal(model.weight, before)
