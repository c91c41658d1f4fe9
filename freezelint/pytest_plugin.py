"""pytest plugin: `freeze_audit` over `freezelint.audit()`, `freeze_watch` over `freezelint.watch()`.

Registered through the `pytest11` entry point, so it loads in every pytest run of an
environment with freezelint installed: it imports nothing heavy until a test asks for it.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def freeze_audit():
    """`freeze_audit(model, optimizer, frozen=[...], trainable=[...], ignore=[...], strict=True,
    **audit_kwargs)`.

    Runs the audit and fails the test with the audit's table when there are findings whose code
    is not ignored (with strict=False: errors only); returns the AuditReport otherwise.
    """
    from freezelint.runtime.runner import assert_frozen

    return assert_frozen


@pytest.fixture
def freeze_watch():
    """`with freeze_watch(frozen=[...], trainable=[...], steps=2, ignore=[...], **watch_kwargs): <train>`.

    Watches the real training steps run inside the block (any loop, Lightning, the HF Trainer)
    and fails the test with the report when there are findings whose code is not ignored. As
    with freeze_audit, the `[tool.freezelint]` table is not read: a test says what it accepts.
    """
    from freezelint.runtime.watch import assert_watched

    return assert_watched
