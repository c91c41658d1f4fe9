"""pytest plugin: a `freeze_audit` fixture over `freezelint.audit()`.

Registered through the `pytest11` entry point, so it loads in every pytest run of an
environment with freezelint installed: it imports nothing heavy until a test asks for it.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def freeze_audit():
    """`freeze_audit(model, optimizer, frozen=[...], trainable=[...], **audit_kwargs)`.

    Runs the audit and fails the test with the audit's table when there are findings;
    returns the AuditReport otherwise.
    """
    from freezelint.runtime.runner import assert_frozen

    return assert_frozen
