"""The one public usage-error type of the run-time half."""

from __future__ import annotations


class AuditUsageError(ValueError):
    """The audit cannot run on what it was given: one line saying what to pass instead. `cli`:
    the same line as `freezelint run` and `freezelint audit` users act on it (their options, not the
    API's arguments)."""

    def __init__(self, message: str = "", cli: str | None = None) -> None:
        super().__init__(message)
        self.cli = cli


__all__ = ["AuditUsageError"]
