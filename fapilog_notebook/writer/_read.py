"""Reading a trail back: ``get_events``'s scan of the day files, and ``verify_chain``'s check.

Both read only what they are given (files on disk, or events); neither
touches the writer's state.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

from pydantic import ValidationError

from .. import keys, storage
from ..chain import (
    ALG_FORWARD_SECURE,
    ALG_STATIC,
    MAC_FIELD,
    ChainHead,
    Hmac,
    LineChecker,
    compute_checksum,
)
from ..errors import AuditWriteWarning
from ..events import AuditChainVerificationResult, AuditEvent, AuditEventType, AuditLogLevel

__all__ = ["check_chain", "read_events"]


def read_events(
    directory: Path,
    start: datetime | None,
    end: datetime | None,
    kind: AuditEventType | None,
    level: AuditLogLevel | None,
    user_id: str | None,
    component: str | None,
    limit: int | None,
) -> list[AuditEvent]:
    """Events in ``directory`` that match every filter, oldest first, at most ``limit``."""

    def keep(event: AuditEvent) -> bool:
        return (
            (start is None or event.timestamp >= start)
            and (end is None or event.timestamp <= end)
            and (kind is None or event.event_type == kind)
            and (level is None or event.log_level == level)
            and (user_id is None or event.user_id == user_id)
            and (component is None or event.component == component)
        )

    found: list[AuditEvent] = []
    since = start.astimezone(UTC).date() if start else None
    until = end.astimezone(UTC).date() if end else None
    for event in _events_on_disk(directory, since, until):
        if limit is not None and len(found) >= limit:
            break
        if keep(event):
            found.append(event)
    return found


def check_chain(
    events: Iterable[AuditEvent], key: bytes | keys.VerificationKey | None
) -> AuditChainVerificationResult:
    """``AuditTrail.verify_chain``'s check: links, sequence numbers, checksums or MACs.

    The first event may start anywhere; every later one must follow it. A
    keyed event with no key to check it has only its link and sequence
    number checked (counted in ``macs_unchecked``); given a key, an event
    without a MAC is an error (a downgrade).
    """
    static = keys.check_key_bytes(key) if isinstance(key, (bytes, bytearray)) else None
    verification = key if isinstance(key, keys.VerificationKey) else None
    previous: ChainHead | None = None
    checked = macs = unchecked = 0
    keyed: tuple[bytes, Hmac] | None = None  # the last key, keyed once for its run of events

    def result(
        valid: bool, seq: int | None = None, error: str | None = None
    ) -> AuditChainVerificationResult:
        return AuditChainVerificationResult(valid, checked, seq, error, macs, unchecked)

    for event in events:
        checked += 1
        seq = event.sequence_number
        if seq is None or event.checksum is None:
            return result(False, seq, "event is not chained")
        if previous is not None:
            if seq != previous.sequence_number + 1:
                return result(
                    False,
                    previous.sequence_number + 1,
                    f"sequence mismatch: expected {previous.sequence_number + 1}, found {seq}",
                )
            if event.previous_hash != previous.checksum:
                return result(False, seq, "previous hash mismatch")
        payload = event.model_dump(mode="json")
        mac = payload.get(MAC_FIELD)
        if mac is None:
            if static is not None or verification is not None:
                return result(False, seq, "event is not MACed although a key was given")
            if compute_checksum(payload) != event.checksum:
                return result(False, seq, "checksum mismatch")
        else:
            try:
                mac_key = _mac_key(mac, static, verification)
            except ValueError as exc:
                return result(False, seq, str(exc))
            if mac_key is not None and (keyed is None or keyed[0] != mac_key):
                keyed = (mac_key, Hmac(mac_key))
            if mac_key is None or keyed is None:
                unchecked += 1
            elif compute_checksum(payload, keyed[1]) != event.checksum:
                return result(False, seq, "MAC mismatch")
            else:
                macs += 1
        previous = ChainHead(seq, event.checksum)
    return result(True)


def _events_on_disk(
    directory: Path, since: date | None, until: date | None
) -> Iterator[AuditEvent]:
    """Parse the events in the day files within the bounds, in file and line order.

    Lines that are not events are skipped and counted in a warning that
    points to ``verify_audit_log`` for the details.
    """
    if not directory.is_dir():
        return
    skipped = 0
    line_check = LineChecker().check
    try:
        for _, path in storage.list_audit_files(directory, since, until):
            with open(path, "rb") as handle:
                for raw in handle:
                    check = line_check(raw.rstrip(b"\r\n"))
                    event = None
                    if check.obj is not None:
                        try:
                            event = AuditEvent.model_validate(check.obj)
                        except ValidationError:
                            event = None
                    if event is None:
                        skipped += 1
                    else:
                        yield event
    finally:
        if skipped:
            warnings.warn(
                f"{skipped} lines in {directory} are not audit events and were skipped; "
                f"run verify_audit_log({str(directory)!r}) to see where",
                AuditWriteWarning,
                stacklevel=2,
            )


def _mac_key(
    mac: object, static: bytes | None, verification: keys.VerificationKey | None
) -> bytes | None:
    """The key to check an event's ``mac`` with; ``None`` if none was given.

    :raises ValueError: a key was given but cannot check this MAC (why, in words).
    """
    alg = mac.get("alg") if isinstance(mac, dict) else None
    if static is None and verification is None:
        return None
    if static is not None:
        if alg != ALG_STATIC:
            raise ValueError(f"event is MACed with {str(alg)[:40]}, but the key given is static")
        return static
    assert verification is not None
    day = mac.get("day") if isinstance(mac, dict) and alg == ALG_FORWARD_SECURE else None
    if not isinstance(day, str):
        raise ValueError(
            f"event is MACed with {str(alg)[:40]}, but the key given is a verification key"
        )
    try:
        return verification.key_for(date.fromisoformat(day))
    except ValueError as exc:
        raise ValueError(f"no key for the event's mac day {day[:20]!r}: {exc}") from None
