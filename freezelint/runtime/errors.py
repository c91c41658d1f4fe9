"""The one public usage-error type of the run-time half."""

from __future__ import annotations


class AuditUsageError(ValueError):
    """The audit cannot run on what it was given: one line saying what to pass instead."""


__all__ = ["AuditUsageError"]
