"""The rule registry: one module per code, listed here in catalogue order."""

from __future__ import annotations

from freezelint.check.rules.base import Example, Finding, Fix, Rule
from freezelint.check.rules.fz001_syntax_error import SyntaxErrorRule
from freezelint.check.rules.fz002_unused_noqa import UnusedNoqa
from freezelint.check.rules.fz101_requires_grad_method_assigned import RequiresGradMethodAssigned
from freezelint.check.rules.fz102_requires_grad_on_module import RequiresGradOnModule
from freezelint.check.rules.fz103_requires_grad_misspelled import RequiresGradMisspelled
from freezelint.check.rules.fz104_requires_grad_compared_not_set import RequiresGradComparedNotSet
from freezelint.check.rules.fz105_requires_grad_on_copy import RequiresGradOnCopy
from freezelint.check.rules.fz106_training_flag_assigned import TrainingFlagAssigned
from freezelint.check.rules.fz203_bn_check_too_narrow import BnCheckTooNarrow
from freezelint.check.rules.fz204_bn_attribute_after_init import BnAttributeAfterInit
from freezelint.check.rules.fz304_lr_zero_freeze import LrZeroFreeze
from freezelint.check.rules.fz401_unchecked_partial_load import UncheckedPartialLoad

ALL_RULES: tuple[type[Rule], ...] = (
    SyntaxErrorRule,
    UnusedNoqa,
    RequiresGradMethodAssigned,
    RequiresGradOnModule,
    RequiresGradMisspelled,
    RequiresGradComparedNotSet,
    RequiresGradOnCopy,
    TrainingFlagAssigned,
    BnCheckTooNarrow,
    BnAttributeAfterInit,
    LrZeroFreeze,
    UncheckedPartialLoad,
)
BY_CODE: dict[str, type[Rule]] = {r.code: r for r in ALL_RULES}
# Codes the engine itself reports rather than a rule's check().
ENGINE_CODES = frozenset({"FZ001", "FZ002"})

__all__ = ["ALL_RULES", "BY_CODE", "ENGINE_CODES", "Example", "Finding", "Fix", "Rule"]
