"""Misspellings of `requires_grad`, shared by the checker (FZ103) and the auditor."""

from __future__ import annotations

import functools

# Compared after lower-casing and dropping underscores, so `requiresGrad`, `Requires_Grad` and
# `require_grad` all match; the exact `requires_grad` / `requires_grad_` never do.
MISSPELLINGS = frozenset(
    {
        "requiregrad", "requiresgrad", "requiresgrads", "requiregrads", "requiresgradient",
        "requiregradient", "requiresgradients", "requiregradients", "requiredgrad", "requiredgrads",
        "gradrequired", "gradsrequired", "requiresgrd", "requiresgard", "reqiresgrad", "requiersgrad",
        "requirsgrad", "requiregard",
    }
)
# Words from other frameworks; only meaningful on objects known to be Parameters or Modules.
FOREIGN = frozenset({"trainable", "is_trainable"})


@functools.cache  # the auditor asks about every attribute of every module: the same few names
def is_misspelling(attr: str) -> bool:
    if attr in ("requires_grad", "requires_grad_") or attr.startswith("_"):
        return False
    return attr.lower().replace("_", "") in MISSPELLINGS
