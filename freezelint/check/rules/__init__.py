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
from freezelint.check.rules.fz107_freeze_method_not_called import FreezeMethodNotCalled
from freezelint.check.rules.fz108_freeze_method_shadowed import FreezeMethodShadowed
from freezelint.check.rules.fz109_freeze_loop_variable_stale import FreezeLoopVariableStale
from freezelint.check.rules.fz110_lightning_hook_never_called import LightningHookNeverCalled
from freezelint.check.rules.fz111_peft_head_left_frozen import PeftHeadLeftFrozen
from freezelint.check.rules.fz112_frozen_model_copied import FrozenModelCopied
from freezelint.check.rules.fz113_mode_method_assigned import ModeMethodAssigned
from freezelint.check.rules.fz201_train_undoes_bn_freeze import TrainUndoesBnFreeze
from freezelint.check.rules.fz202_bn_frozen_without_eval import BnFrozenWithoutEval
from freezelint.check.rules.fz203_bn_check_too_narrow import BnCheckTooNarrow
from freezelint.check.rules.fz204_bn_attribute_after_init import BnAttributeAfterInit
from freezelint.check.rules.fz301_optimizer_over_frozen_params import OptimizerOverFrozenParams
from freezelint.check.rules.fz302_layer_replaced_after_optimizer import LayerReplacedAfterOptimizer
from freezelint.check.rules.fz303_unfrozen_after_optimizer import UnfrozenAfterOptimizer
from freezelint.check.rules.fz304_lr_zero_freeze import LrZeroFreeze
from freezelint.check.rules.fz305_param_iterator_reused import ParamIteratorReused
from freezelint.check.rules.fz306_freeze_after_ddp import FreezeAfterDdp
from freezelint.check.rules.fz307_stale_grad_after_freeze import StaleGradAfterFreeze
from freezelint.check.rules.fz401_unchecked_partial_load import UncheckedPartialLoad
from freezelint.check.rules.fz402_filtered_load_unchecked import FilteredLoadUnchecked
from freezelint.check.rules.fz403_state_dict_entry_assigned import StateDictEntryAssigned
from freezelint.check.rules.fz503_trainable_not_optimized import TrainableNotOptimized
from freezelint.check.rules.fz505_optimizer_never_stepped import OptimizerNeverStepped

ALL_RULES: tuple[type[Rule], ...] = (
    SyntaxErrorRule,
    UnusedNoqa,
    RequiresGradMethodAssigned,
    RequiresGradOnModule,
    RequiresGradMisspelled,
    RequiresGradComparedNotSet,
    RequiresGradOnCopy,
    TrainingFlagAssigned,
    FreezeMethodNotCalled,
    FreezeMethodShadowed,
    FreezeLoopVariableStale,
    LightningHookNeverCalled,
    PeftHeadLeftFrozen,
    FrozenModelCopied,
    ModeMethodAssigned,
    TrainUndoesBnFreeze,
    BnFrozenWithoutEval,
    BnCheckTooNarrow,
    BnAttributeAfterInit,
    OptimizerOverFrozenParams,
    LayerReplacedAfterOptimizer,
    UnfrozenAfterOptimizer,
    LrZeroFreeze,
    ParamIteratorReused,
    FreezeAfterDdp,
    StaleGradAfterFreeze,
    UncheckedPartialLoad,
    FilteredLoadUnchecked,
    StateDictEntryAssigned,
    TrainableNotOptimized,
    OptimizerNeverStepped,
)
BY_CODE: dict[str, type[Rule]] = {r.code: r for r in ALL_RULES}
# Codes the engine itself reports rather than a rule's check().
ENGINE_CODES = frozenset({"FZ001", "FZ002"})

__all__ = ["ALL_RULES", "BY_CODE", "ENGINE_CODES", "Example", "Finding", "Fix", "Rule"]
