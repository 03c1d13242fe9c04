"""fapilog-notebook: a tamper-evident audit trail for asyncio, and the tools to audit it.

Write with :class:`AuditTrail` (``await trail.log_event(...)``), without
blocking the event loop; load and verify the daily files in a notebook.
"""

from ._notebook import explore, load_ipython_extension
from .chain import Anchor
from .events import (
    AuditEvent,
    AuditEventType,
    AuditLogLevel,
    ComplianceLevel,
    CompliancePolicy,
    ErrorCategory,
    ErrorContext,
    ErrorSeverity,
)
from .frame import AuditLogWarning, read_audit_log
from .keys import AuditKeyError, VerificationKey, keygen
from .looplag import LoopLagProbe
from .ship import ShipError, ShippedDay, ShipReport, ship_trail
from .trail import (
    AuditChainVerificationResult,
    AuditQueueFullError,
    AuditTrail,
    AuditTrailError,
    AuditTrailForkedError,
    AuditTrailLockedError,
    AuditWriteError,
    AuditWriteWarning,
)
from .verify import Finding, FindingKind, Severity, VerificationReport, verify_audit_log

__version__ = "0.1.0"

__all__ = [
    "Anchor",
    "AuditChainVerificationResult",
    "AuditEvent",
    "AuditEventType",
    "AuditKeyError",
    "AuditLogLevel",
    "AuditLogWarning",
    "AuditQueueFullError",
    "AuditTrail",
    "AuditTrailError",
    "AuditTrailForkedError",
    "AuditTrailLockedError",
    "AuditWriteError",
    "AuditWriteWarning",
    "ComplianceLevel",
    "CompliancePolicy",
    "ErrorCategory",
    "ErrorContext",
    "ErrorSeverity",
    "Finding",
    "FindingKind",
    "LoopLagProbe",
    "Severity",
    "ShipError",
    "ShipReport",
    "ShippedDay",
    "VerificationKey",
    "VerificationReport",
    "explore",
    "keygen",
    "load_ipython_extension",
    "read_audit_log",
    "ship_trail",
    "verify_audit_log",
]
