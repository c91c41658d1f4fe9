"""pytest plugin: a `freeze_audit` fixture over `freezelint.audit()`.

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
