"""The event factory: ``log_event``'s arguments checked and made into the event's JSON payload.

Runs on the caller's loop, before anything is queued: bad input raises here
and takes no sequence number. The payload is built one of two ways, a pair
that must agree byte for byte:

- the fast half, :func:`_plain_payload`: plain input (plain strings, JSON
  scalars in the metadata, a UTC time) written straight into a copy of the
  model's defaults, without pydantic;
- the slow half, :meth:`EventFactory.model_event` then :meth:`EventFactory.dump`:
  pydantic's ``AuditEvent``, which coerces or refuses anything else and says why.

``tests/test_trail.py::test_events_built_without_the_model_are_byte_identical_to_the_models``
writes the same events through both halves and compares the lines.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from ..events import (
    AuditEvent,
    AuditEventType,
    AuditLogLevel,
    ComplianceLevel,
    ErrorCategory,
    ErrorContext,
    ErrorSeverity,
)

__all__ = ["EventFactory", "utc_now"]


def utc_now() -> datetime:
    """The current time in UTC; the one clock the writer stamps events with."""
    return datetime.now(UTC)


def _enum_value(enum: type[Any], value: object, name: str) -> Any:
    if isinstance(value, enum):
        return value
    if isinstance(value, str):
        try:
            return enum(value)
        except ValueError:
            allowed = ", ".join(member.value for member in enum)
            raise ValueError(f"unknown {name} {value!r}; expected one of: {allowed}") from None
    raise TypeError(f"{name} must be an {enum.__name__} or its string value, not {value!r}")


def _not_serialisable(exc: BaseException) -> TypeError:
    return TypeError(f"audit event metadata is not JSON-serialisable: {str(exc)[:200]}")


#: Every field of an ``AuditEvent`` as ``model_dump(mode="json")`` writes its default.
_TEMPLATE: dict[str, Any] = AuditEvent(
    event_type=AuditEventType.SYSTEM_STARTUP, message=""
).model_dump(mode="json")


def _event_id() -> str:
    """A random (version 4) UUID as text: ``str(uuid.uuid4())`` at half the cost."""
    h = os.urandom(16).hex()
    # Version nibble 4; variant bits 10 (RFC 4122), as uuid.UUID(version=4) sets them.
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def _plain_text(value: object) -> bool:
    """A ``str`` that pydantic takes and writes back unchanged (no lone surrogates)."""
    if type(value) is not str:
        return False
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _plain_value(value: object) -> bool:
    """A metadata value that ``model_dump(mode="json")`` leaves as it is."""
    kind = type(value)
    if kind is str:
        return _plain_text(value)
    if kind is float and isinstance(value, float):
        return math.isfinite(value)  # nan and infinities are written as null
    return value is None or kind is int or kind is bool


def _plain_payload(
    now: datetime,
    kind: AuditEventType,
    level: AuditLogLevel,
    message: str,
    compliance: object,
    hostname: str,
    tags: list[str],
    metadata: dict[str, Any],
    texts: tuple[tuple[str, object], ...],
    contains_pii: object,
    contains_phi: object,
) -> dict[str, Any] | None:
    """The event's JSON payload built directly, or ``None`` if pydantic must build it.

    Only for input that pydantic would accept and write back unchanged
    (plain strings, booleans, JSON scalars in the metadata, a UTC datetime):
    the result is then equal to ``AuditEvent(...).model_dump(mode="json")``.
    Anything else (subclasses, coercions, nested metadata, errors) returns
    ``None`` and goes through the model, which validates it or says why not.

    The fast half of a pair: the slow half is :meth:`EventFactory.model_event`;
    ``test_events_built_without_the_model_are_byte_identical_to_the_models``
    (tests/test_trail.py) pins the two together.
    """
    if (
        type(now) is not datetime
        or type(contains_pii) is not bool
        or type(contains_phi) is not bool
        or not isinstance(compliance, ComplianceLevel)
        or not _plain_text(message)
        or not _plain_text(hostname)
    ):
        return None
    for tag in tags:
        if not _plain_text(tag):
            return None
    for key, value in metadata.items():
        if not (_plain_value(value) and _plain_text(key)):
            return None
    payload = _TEMPLATE.copy()
    for name, value in texts:
        if value is not None:
            if not _plain_text(value):
                return None
            payload[name] = value
    stamp = now.isoformat()
    if not stamp.endswith("+00:00"):
        return None
    payload["event_id"] = _event_id()
    payload["timestamp"] = stamp[:-6] + "Z"
    payload["event_type"] = kind.value
    payload["log_level"] = level.value
    payload["message"] = message
    payload["hostname"] = hostname
    payload["process_id"] = os.getpid()
    payload["contains_pii"] = contains_pii
    payload["contains_phi"] = contains_phi
    payload["compliance_level"] = compliance.value
    payload["regulatory_tags"] = tags
    payload["metadata"] = metadata
    return payload


def _require_aware(value: datetime | None, name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, not {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{name}={value!r} is naive; pass a tz-aware datetime, "
            "e.g. datetime(2026, 3, 30, tzinfo=timezone.utc)"
        )
    return value


def _error_from_validation(exc: ValidationError) -> TypeError | ValueError:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "event"
    text = f"invalid audit event: {where}: {first['msg']} (got {first.get('input')!r})"
    return TypeError(text) if first["type"].endswith("_type") else ValueError(text)


def _classify(exc: BaseException) -> ErrorCategory:
    if isinstance(exc, TimeoutError):
        return ErrorCategory.TIMEOUT
    if isinstance(exc, ConnectionError):
        return ErrorCategory.NETWORK
    if isinstance(exc, OSError):  # PermissionError too: it is an OSError
        return ErrorCategory.IO
    if isinstance(exc, (ValueError, TypeError, KeyError)):
        return ErrorCategory.VALIDATION
    return ErrorCategory.SYSTEM


def _context_of(error: BaseException) -> ErrorContext:
    """The error's own fapilog-style context if it has a usable one, else a new one."""
    context = getattr(error, "context", None)
    if isinstance(context, ErrorContext):
        return context
    dump = getattr(context, "model_dump", None)
    invalid = None
    if callable(dump):
        try:
            return ErrorContext.model_validate(dump())
        except ValidationError as exc:
            invalid = f"{exc.error_count()} invalid fields in the error's context"
    metadata: dict[str, Any] = {
        "exception_type": f"{type(error).__module__}.{type(error).__qualname__}"
    }
    if invalid is not None:
        metadata["context_unusable"] = invalid
    return ErrorContext(category=_classify(error), severity=ErrorSeverity.HIGH, metadata=metadata)


class EventFactory:
    """Builds each event's payload from ``log_event``'s arguments (see the module docstring).

    Holds what every event is stamped with besides its arguments: the host
    name and the clock.
    """

    __slots__ = ("_clock", "_hostname")

    def __init__(self, clock: Callable[[], datetime] | None, hostname: str) -> None:
        self._clock = clock
        self._hostname = hostname

    def now(self) -> datetime:
        """The event time: the clock's, in UTC (``utc_now`` without a clock)."""
        if self._clock is None:
            return utc_now()
        now = self._clock()
        if not isinstance(now, datetime) or now.utcoffset() is None:
            raise ValueError(f"clock returned {now!r}; it must return a tz-aware datetime")
        return now.astimezone(UTC)

    def make(
        self,
        event_type: AuditEventType | str,
        message: str,
        compliance: ComplianceLevel,
        *,
        log_level: AuditLogLevel | str,
        error: BaseException | None,
        regulatory_tags: Iterable[str] | None,
        contains_pii: bool,
        contains_phi: bool,
        metadata: dict[str, Any],
        component: str | None,
        operation: str | None,
        user_id: str | None,
        session_id: str | None,
        request_id: str | None,
        client_ip: str | None,
        user_agent: str | None,
        data_classification: str | None,
    ) -> tuple[dict[str, Any], str, datetime, AuditEventType, AuditLogLevel]:
        """The event's payload, id, time, type and level; the fast half when it can.

        :raises TypeError, ValueError: bad input, in words.
        """
        kind = _enum_value(AuditEventType, event_type, "event type")
        level = _enum_value(AuditLogLevel, log_level, "log level")
        if not isinstance(message, str):
            raise TypeError(f"message must be a string, not {type(message).__name__}")
        if isinstance(regulatory_tags, str):
            raise TypeError("regulatory_tags must be a list of strings, not a string")
        tags = list(regulatory_tags or ())
        now = self.now()
        payload = None
        if error is None:
            payload = _plain_payload(
                now,
                kind,
                level,
                message,
                compliance,
                self._hostname,
                tags,
                metadata,
                (
                    ("component", component),
                    ("operation", operation),
                    ("user_id", user_id),
                    ("session_id", session_id),
                    ("request_id", request_id),
                    ("client_ip", client_ip),
                    ("user_agent", user_agent),
                    ("data_classification", data_classification),
                ),
                contains_pii,
                contains_phi,
            )
        if payload is None:
            event = self.model_event(
                kind,
                message,
                now,
                compliance,
                log_level=level,
                component=component,
                operation=operation,
                error=error,
                user_id=user_id,
                session_id=session_id,
                request_id=request_id,
                client_ip=client_ip,
                user_agent=user_agent,
                contains_pii=contains_pii,
                contains_phi=contains_phi,
                data_classification=data_classification,
                regulatory_tags=tags,
                metadata=metadata,
            )
            return self.dump(event), event.event_id, now, kind, level
        return payload, payload["event_id"], now, kind, level

    def model_event(
        self,
        kind: AuditEventType,
        message: str,
        now: datetime,
        compliance: ComplianceLevel,
        *,
        log_level: AuditLogLevel,
        error: BaseException | None,
        regulatory_tags: list[str],
        metadata: dict[str, Any],
        contains_pii: Any,
        contains_phi: Any,
        **texts: Any,
    ) -> AuditEvent:
        """The slow half: the event through pydantic, for any input the fast half does not take.

        Its other half is :func:`_plain_payload`; both must write the same
        line (``test_events_built_without_the_model_are_byte_identical_to_the_models``).

        ``texts`` are the optional text fields; those left unset keep their
        default (None) without being passed through validation.
        """
        extra: dict[str, Any] = {}
        if error is not None:
            context = _context_of(error)
            extra = {
                "error_context": context,
                "error_category": context.category,
                "error_severity": context.severity,
            }
        try:
            return AuditEvent(
                event_type=kind,
                message=message,
                log_level=log_level,
                compliance_level=compliance,
                regulatory_tags=regulatory_tags,
                metadata=metadata,
                timestamp=now,
                hostname=self._hostname,
                process_id=os.getpid(),
                contains_pii=contains_pii,
                contains_phi=contains_phi,
                **{name: value for name, value in texts.items() if value is not None},
                **extra,
            )
        except ValidationError as exc:
            raise _error_from_validation(exc) from None

    @staticmethod
    def dump(event: AuditEvent) -> dict[str, Any]:
        """The slow half's payload: ``model_dump(mode="json")``, its errors in words."""
        try:
            return event.model_dump(mode="json")
        except (PydanticSerializationError, ValueError, TypeError, RecursionError) as exc:
            raise _not_serialisable(exc) from None
