"""Documentation of the codes the auditor reports, kept free of torch so docs build anywhere."""

from __future__ import annotations

# Runtime-only codes: what the audit observes, why it matters, what to do.
RUNTIME_DOCS: dict[str, dict[str, str]] = {}

# Static codes the audit also reports from live objects: how it sees them.
ALSO_AT_RUNTIME: dict[str, str] = {}
