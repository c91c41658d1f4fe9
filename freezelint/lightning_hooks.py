"""Lightning hooks that Lightning 2 no longer calls, and the hook that runs at that point now.

One table for both halves: the run-time note (runtime/watch_models.py) and FZ110 (check). It
imports nothing, so either side loads it without torch or libcst.

Lightning 1.6 deprecated these hooks and 1.7 still called them; 1.8 removed them and refused a
class that defined one with a RuntimeError at `fit`; 2.0 dropped that check, so since 2.0 such a
method is accepted and never called (lightning 2.6: no caller in lightning/pytorch). Sources:
the 1.7 upgrade table (docs/source-pytorch/upgrade/sections/1_7_advanced.rst, PR 14834) and
1.9's trainer/configuration_validator.py (`_check_on_epoch_start_end`, `_check_on_pretrain_routine`,
`_check_deprecated_callback_hooks`).
"""

from __future__ import annotations

# removed hook -> the hook to use. `on_epoch_start`/`on_epoch_end` ran around training epochs and
# validation/test epochs alike; freezing code belongs in the training one.
DEAD_HOOKS: dict[str, str] = {
    "on_epoch_start": "on_train_epoch_start",
    "on_epoch_end": "on_train_epoch_end",
    "on_batch_start": "on_train_batch_start",
    "on_batch_end": "on_train_batch_end",
    "on_pretrain_routine_start": "on_fit_start",
    "on_pretrain_routine_end": "on_fit_start",
    # Callback-only hooks of 1.x, run before the optimizers were built, as `setup` is
    "on_configure_sharded_model": "setup",
    "on_before_accelerator_backend_setup": "setup",
}

# How many positional arguments (after self) Lightning 2 passes to each hook it calls instead,
# on a LightningModule and on a Callback: a renamed method must accept them.
REPLACEMENT_ARGS: dict[str, tuple[int, int]] = {
    "on_train_epoch_start": (0, 2),
    "on_train_epoch_end": (0, 2),
    "on_train_batch_start": (2, 4),  # (batch, batch_idx); callbacks: (trainer, pl_module, batch, batch_idx)
    "on_train_batch_end": (3, 5),  # (outputs, batch, batch_idx)
    "on_fit_start": (0, 2),
    # `setup` gets `stage=` by keyword: no rename to it is offered
}

# The first Lightning release that no longer runs them (1.8 and 1.9 raised instead).
SILENT_SINCE = 2
