"""fapilog-notebook: a tamper-evident audit trail for asyncio, and the tools to audit it.

Write with :class:`AuditTrail` (``await trail.log_event(...)``), without
blocking the event loop; load and verify the daily files in a notebook.
"""

from ._notebook import explore, load_ipython_extension
from .chain import Anchor
from .checkpoints import ConsistencyProof, InclusionProof
from .errors import AuditKeyError, ShipError
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
from .keys import VerificationKey, keygen
from .looplag import LoopLagProbe
from .proofs import ProofVerdict, verify_consistency, verify_inclusion
from .ship import ShippedDay, ShipReport, ship_trail
from .signing import signing_keygen
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
from .treelog import consistency_proof, inclusion_proof
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
    "ConsistencyProof",
    "ErrorCategory",
    "ErrorContext",
    "ErrorSeverity",
    "Finding",
    "FindingKind",
    "InclusionProof",
    "LoopLagProbe",
    "ProofVerdict",
    "Severity",
    "ShipError",
    "ShipReport",
    "ShippedDay",
    "VerificationKey",
    "VerificationReport",
    "consistency_proof",
    "explore",
    "inclusion_proof",
    "keygen",
    "load_ipython_extension",
    "read_audit_log",
    "ship_trail",
    "signing_keygen",
    "verify_audit_log",
    "verify_consistency",
    "verify_inclusion",
]
