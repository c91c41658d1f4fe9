"""freezelint: catch PyTorch layer-freezing mistakes, statically and at run time.

Public API only. The audit half needs torch, so it is imported on first use and
`freezelint check` never pays for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "AuditReport",
    "AuditUsageError",
    "FreezeAuditError",
    "assert_frozen",
    "assert_watched",
    "audit",
    "check_paths",
    "check_source",
    "watch",
]

if TYPE_CHECKING:  # pragma: no cover
    from freezelint.runtime.report import AuditReport, FreezeAuditError
    from freezelint.runtime.runner import AuditUsageError, assert_frozen, audit
    from freezelint.check.engine import check_source
    from freezelint.check.runner import check_paths
    from freezelint.runtime.watch import assert_watched, watch

_LAZY = {
    "audit": "freezelint.runtime.runner",
    "assert_frozen": "freezelint.runtime.runner",
    "AuditUsageError": "freezelint.runtime.runner",
    "AuditReport": "freezelint.runtime.report",
    "FreezeAuditError": "freezelint.runtime.report",
    "check_source": "freezelint.check.engine",
    "check_paths": "freezelint.check.runner",
    "watch": "freezelint.runtime.watch",
    "assert_watched": "freezelint.runtime.watch",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'freezelint' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
