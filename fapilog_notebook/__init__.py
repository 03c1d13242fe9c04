"""fapilog-notebook: a tamper-evident audit trail for asyncio, and the tools to audit it.

Write with :class:`AuditTrail` (``await trail.log_event(...)``), without
blocking the event loop; load and verify the daily files in a notebook.
"""

from .chain import Anchor
from .checkpoints import ConsistencyProof, InclusionProof
from .errors import (
    AuditKeyError,
    AuditLogWarning,
    AuditQueueFullError,
    AuditTrailError,
    AuditTrailForkedError,
    AuditTrailLockedError,
    AuditWriteError,
    AuditWriteWarning,
    ShipError,
)
from .events import (
    AuditChainVerificationResult,
    AuditEvent,
    AuditEventType,
    AuditLogLevel,
    ComplianceLevel,
    CompliancePolicy,
    ErrorCategory,
    ErrorContext,
    ErrorSeverity,
)
from .keys import VerificationKey, keygen
from .load import read_audit_log
from .notebook import LoopLagProbe, explore, load_ipython_extension
from .ship import ShippedDay, ShipReport, ship_trail
from .signing import signing_keygen
from .treelog import consistency_proof, inclusion_proof
from .verify import (
    Finding,
    FindingKind,
    ProofVerdict,
    Severity,
    VerificationReport,
    verify_audit_log,
    verify_consistency,
    verify_inclusion,
)
from .version import __version__ as __version__
from .writer import AuditTrail

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
