"""`freezelint audit path/to/file.py:factory`: audit what a factory builds."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path


class AuditCliError(Exception):
    """One line for the user; exit 2."""


def load_factory(target: str):
    path_text, sep, func = target.rpartition(":")
    if not sep or not path_text or not func:
        raise AuditCliError(f"expected FILE.py:FUNCTION, got {target!r}")
    path = Path(path_text)
    if not path.is_file():
        raise AuditCliError(f"no such file: {path_text}")
    spec = importlib.util.spec_from_file_location(f"_freezelint_audit_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise AuditCliError(f"cannot import {path_text}")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent.resolve()))
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        raise AuditCliError(f"importing {path_text} failed: {type(e).__name__}: {e}") from None
    finally:
        sys.path.pop(0)
    factory = getattr(module, func, None)
    if not callable(factory):
        raise AuditCliError(f"{path_text} has no function {func!r}")
    return factory


def _rank() -> int:
    import torch.distributed as dist

    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def run_audit_cli(target: str, steps: int = 2, fmt: str = "text", set_to_none: bool = True) -> int:
    try:
        import torch  # noqa: F401
    except ImportError:
        print("freezelint: error: the audit needs torch: pip install 'freezelint[audit]'", file=sys.stderr)
        return 2
    from freezelint.runtime.runner import AuditUsageError, audit

    try:
        factory = load_factory(target)
        try:
            built = factory()
        except Exception as e:
            raise AuditCliError(f"{target} raised {type(e).__name__}: {e}") from None
        if not isinstance(built, tuple) or len(built) not in (2, 3):
            raise AuditCliError(f"{target} must return (model, optimizer) or (model, optimizer, batch), "
                                f"got {type(built).__name__}")
        model, optimizer, *rest = built
        try:
            report = audit(model, optimizer, steps=steps, batch=rest[0] if rest else None,
                           set_to_none=set_to_none)
        except (AuditCliError, AuditUsageError):
            raise
        except Exception as e:
            raise AuditCliError(f"a training step raised {type(e).__name__}: {e} (model and optimizer were "
                                f"restored)") from None
    except (AuditCliError, AuditUsageError) as e:
        print(f"freezelint: error: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2
    if report.world_size > 1 and _rank() != 0:
        return 0 if report.ok else 1  # every rank has the same report; rank 0 prints it
    if fmt == "json":
        print(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        from rich.console import Console

        Console(soft_wrap=True, highlight=False).print(report)
    return 0 if report.ok else 1
