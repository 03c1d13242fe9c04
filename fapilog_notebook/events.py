"""Audit events, their enums, the compliance policy and the result types built from them.

Field names, defaults and enum values match fapilog 0.3.5's ``AuditEvent`` so
that files written here are read back by fapilog, and fapilog's files by us.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AuditChainVerificationResult",
    "AuditEvent",
    "AuditEventType",
    "AuditLogLevel",
    "ComplianceLevel",
    "CompliancePolicy",
    "ErrorCategory",
    "ErrorContext",
    "ErrorSeverity",
]


class AuditEventType(StrEnum):
    """Types of audit events (fapilog's values)."""

    ERROR_OCCURRED = "error_occurred"
    ERROR_RECOVERED = "error_recovered"
    ERROR_ESCALATED = "error_escalated"
    AUTHENTICATION_FAILED = "authentication_failed"
    AUTHORIZATION_FAILED = "authorization_failed"
    SECURITY_VIOLATION = "security_violation"
    SYSTEM_STARTUP = "system_startup"
    SYSTEM_SHUTDOWN = "system_shutdown"
    COMPONENT_FAILURE = "component_failure"
    COMPONENT_RECOVERY = "component_recovery"
    DATA_ACCESS = "data_access"
    DATA_MODIFICATION = "data_modification"
    DATA_DELETION = "data_deletion"
    DATA_EXPORT = "data_export"
    CONFIG_CHANGED = "config_changed"
    PLUGIN_LOADED = "plugin_loaded"
    PLUGIN_UNLOADED = "plugin_unloaded"
    COMPLIANCE_CHECK = "compliance_check"
    AUDIT_LOG_ACCESS = "audit_log_access"
    RETENTION_POLICY_APPLIED = "retention_policy_applied"


class ComplianceLevel(StrEnum):
    """Regulatory regimes an event is recorded under (fapilog's values)."""

    NONE = "none"
    BASIC = "basic"
    SOX = "sox"
    HIPAA = "hipaa"
    GDPR = "gdpr"
    PCI_DSS = "pci_dss"
    SOC2 = "soc2"
    ISO27001 = "iso27001"


class AuditLogLevel(StrEnum):
    """Audit log levels for filtering and retention (fapilog's values)."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"
    SECURITY = "security"


class ErrorSeverity(StrEnum):
    """Severity of an error recorded by ``log_error`` (fapilog's values)."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"


class ErrorCategory(StrEnum):
    """Category of an error recorded by ``log_error`` (fapilog's values)."""

    SYSTEM = "system"
    CONTAINER = "container"
    COMPONENT = "component"
    PLUGIN_LOAD = "plugin_load"
    PLUGIN_EXEC = "plugin_exec"
    PLUGIN_CONFIG = "plugin_config"
    NETWORK = "network"
    IO = "io"
    TIMEOUT = "timeout"
    AUTH = "auth"
    AUTHZ = "authz"
    VALIDATION = "validation"
    SERIALIZATION = "serialization"
    EXTERNAL = "external"
    DATABASE = "database"
    CONFIG = "config"
    SETUP = "setup"


class ErrorRecoveryStrategy(StrEnum):
    """Recovery hint carried in an error context (fapilog's values)."""

    NONE = "none"
    RETRY = "retry"
    FALLBACK = "fallback"
    CIRCUIT_BREAKER = "circuit_breaker"
    RESTART = "restart"
    ESCALATE = "escalate"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ErrorContext(BaseModel):
    """Context of an error, shaped like fapilog's ``AsyncErrorContext``.

    Seventeen fields on purpose: they are fapilog's, written as they are.
    """

    model_config = ConfigDict(extra="allow")

    error_id: str = Field(default_factory=lambda: str(uuid4()))
    timestamp: datetime = Field(default_factory=_utcnow)
    category: ErrorCategory
    severity: ErrorSeverity = ErrorSeverity.MEDIUM
    recovery_strategy: ErrorRecoveryStrategy = ErrorRecoveryStrategy.NONE
    task_name: str | None = None
    coroutine_name: str | None = None
    call_stack: list[str] = Field(default_factory=list)
    user_id: str | None = None
    session_id: str | None = None
    request_id: str | None = None
    container_id: str | None = None
    component_name: str | None = None
    plugin_name: str | None = None
    operation_start_time: float | None = None
    operation_duration: float | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


@dataclass
class CompliancePolicy:
    """Compliance settings of a trail (fapilog's fields and defaults).

    Thirteen fields on purpose: fapilog's settings, kept so its users can switch.
    """

    level: ComplianceLevel = ComplianceLevel.BASIC
    enabled: bool = True
    retention_days: int = 365
    archive_after_days: int = 90
    encrypt_audit_logs: bool = True
    require_integrity_check: bool = True
    audit_access_roles: list[str] = field(default_factory=lambda: ["admin", "auditor"])
    gdpr_data_subject_rights: bool = False
    hipaa_minimum_necessary: bool = False
    sox_change_control: bool = False
    real_time_alerts: bool = True
    alert_on_critical_errors: bool = True
    alert_on_security_events: bool = True


class AuditEvent(BaseModel):
    """One audit event, with fapilog's fields; unknown keys are kept.

    Thirty fields on purpose: they are the on-disk format fapilog 0.3.5
    writes (and its users query), not state.
    """

    model_config = ConfigDict(extra="allow")

    event_id: str = Field(default_factory=lambda: str(uuid4()))
    timestamp: datetime = Field(default_factory=_utcnow)
    event_type: AuditEventType
    log_level: AuditLogLevel = AuditLogLevel.INFO
    sequence_number: int | None = None
    previous_hash: str | None = None
    message: str
    component: str | None = None
    operation: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    request_id: str | None = None
    client_ip: str | None = None
    user_agent: str | None = None
    container_id: str | None = None
    plugin_name: str | None = None
    hostname: str | None = None
    process_id: int | None = None
    error_context: ErrorContext | None = None
    error_category: ErrorCategory | None = None
    error_severity: ErrorSeverity | None = None
    data_classification: str | None = None
    contains_pii: bool = False
    contains_phi: bool = False
    compliance_level: ComplianceLevel = ComplianceLevel.BASIC
    regulatory_tags: list[str] = Field(default_factory=list)
    retention_category: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    checksum: str | None = None
    signature: str | None = None


@dataclass
class AuditChainVerificationResult:
    """fapilog's verification result: the first problem, if any."""

    valid: bool
    events_checked: int
    first_invalid_sequence: int | None = None
    error_message: str | None = None
    #: Keyed events whose MAC was checked with a key, and those whose MAC was
    #: not (no key for it): only their links and sequence numbers were checked.
    macs_checked: int = 0
    macs_unchecked: int = 0
