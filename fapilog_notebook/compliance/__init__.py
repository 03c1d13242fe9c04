"""Compliance analyses over a loaded audit trail (the frame of ``read_audit_log``).

Importing this package registers the ``frame.audit`` pandas accessor.
"""

from ._accessor import AuditAccessor
from ._analyses import (
    after_termination,
    bulk_access,
    completeness,
    disclosures,
    failed_logins,
    first_seen,
    off_hours,
    privileged_actions,
    pseudonymize,
    retention,
    sensitive_access,
    silences,
)

__all__ = [
    "AuditAccessor",
    "after_termination",
    "bulk_access",
    "completeness",
    "disclosures",
    "failed_logins",
    "first_seen",
    "off_hours",
    "privileged_actions",
    "pseudonymize",
    "retention",
    "sensitive_access",
    "silences",
]
