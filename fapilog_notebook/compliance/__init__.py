"""Compliance analyses over a loaded audit trail (the frame of ``read_audit_log``).

Importing this package registers the ``frame.audit`` pandas accessor.
:func:`compliance_report` runs them all and maps them to the controls of
PCI DSS, HIPAA, SOC 2, SOX and GDPR.
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
from ._report import ComplianceReport, compliance_report

__all__ = [
    "AuditAccessor",
    "ComplianceReport",
    "after_termination",
    "bulk_access",
    "completeness",
    "compliance_report",
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
