"""Audit directories to verify and load: one valid chain over several days, cached.

:func:`dataset` writes ``events`` realistic events (each one an
``AuditEvent(...).model_dump(mode="json")`` with varied types, levels,
compliance regimes, users, sessions and metadata) spread evenly over ``days``
UTC days into ``audit_YYYY-MM-DD.jsonl`` files, chained with
:func:`fapilog_notebook.chain.seal` directly (no writer, so it is fast). The
sequence runs 1..events across the files as one chain, so fapilog 0.3.5's
verifier, which stops at the first problem, checks it all. Beside the files
it leaves what ``AuditTrail`` leaves while still running on the last day: a
manifest of every earlier day and the sealed head record, in the writer's
format and under the same key (fapilog's verifier reads ``audit_*.jsonl``
only, so they do not concern it).

Three modes share the same content (same seed, same event ids and times):

- ``plain``: unkeyed SHA-256, byte-compatible with fapilog;
- ``static``: HMAC-SHA256 under one key (``mac: {"alg": "hmac-sha256"}``);
- ``forward``: forward-secure HMAC, each day under that day's key derived from
  a :func:`fapilog_notebook.keygen` pair (``mac: {"alg": "hmac-sha256-fs",
  "day": ...}``), as ``AuditTrail(key_file=...)`` writes.

A finished directory is recorded in ``<name>.json`` beside it (with the static
key, or the paths of the key files); a directory without its record is
incomplete and is written again. The default root, ``benchmarks/.data/``, is
git-ignored.
"""

from __future__ import annotations

import json
import random
import secrets
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from fapilog_notebook import (
    AuditEvent,
    AuditEventType,
    AuditLogLevel,
    ComplianceLevel,
    ErrorCategory,
    ErrorSeverity,
    VerificationKey,
    keygen,
    storage,
)
from fapilog_notebook.chain import (
    ALG_FORWARD_SECURE,
    ALG_STATIC,
    MAC_FIELD,
    compute_checksum,
)
from fapilog_notebook.chain import encode_event as seal
from fapilog_notebook.chain import encode_line as seal_record

__all__ = ["DATA_ROOT", "FIRST_DAY", "KEY_BYTES", "Dataset", "Mode", "dataset", "event_payload"]

DATA_ROOT = Path(__file__).resolve().parent / ".data"
FIRST_DAY = date(2026, 3, 2)
#: Bump when the content changes, so stale caches are not reused.
FORMAT_VERSION = 2
Mode = Literal["plain", "static", "forward"]
#: The size of a static key: ``AuditTrail(key=...)`` takes 32 or more random bytes.
KEY_BYTES = 32

_TYPES = (
    (AuditEventType.DATA_ACCESS, 40),
    (AuditEventType.DATA_MODIFICATION, 15),
    (AuditEventType.DATA_DELETION, 5),
    (AuditEventType.AUDIT_LOG_ACCESS, 5),
    (AuditEventType.COMPLIANCE_CHECK, 8),
    (AuditEventType.AUTHENTICATION_FAILED, 4),
    (AuditEventType.AUTHORIZATION_FAILED, 3),
    (AuditEventType.CONFIG_CHANGED, 2),
    (AuditEventType.DATA_EXPORT, 2),
    (AuditEventType.ERROR_OCCURRED, 3),
    (AuditEventType.SECURITY_VIOLATION, 1),
)
_COMPLIANCE = (
    ComplianceLevel.BASIC,
    ComplianceLevel.SOX,
    ComplianceLevel.HIPAA,
    ComplianceLevel.GDPR,
)
_COMPONENTS = ("api", "billing", "records", "auth", "reports", "scheduler")
_AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0",
    "python-httpx/0.27.0",
    "curl/8.5.0",
)


@dataclass(frozen=True)
class Dataset:
    """A generated directory and what it holds."""

    path: Path
    mode: Mode
    events: int
    days: int
    files: int
    size: int
    #: The static key (mode ``static``), else None.
    key: bytes | None = None
    #: The auditor's verification key file (mode ``forward``), else None.
    verification_key: Path | None = None

    def file_paths(self) -> list[Path]:
        """The day files, oldest first."""
        return [path for _, path in storage.list_audit_files(self.path)]


def event_payload(rng: random.Random, index: int, moment: datetime) -> dict[str, Any]:
    """Event ``index`` at ``moment``: a JSON-ready payload as ``AuditTrail`` logs it."""
    kinds, weights = zip(*_TYPES, strict=True)
    kind = rng.choices(kinds, weights)[0]
    user = rng.randrange(2_000)
    fields: dict[str, Any] = {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "timestamp": moment,
        "event_type": kind,
        "message": f"{kind.value.replace('_', ' ')} by user {user} (request {index})",
        "component": rng.choice(_COMPONENTS),
        "operation": rng.choice(("read", "write", "list", "delete")),
        "user_id": f"user{user}@example.com",
        "session_id": f"sess-{user:04d}-{index // 50:06d}",
        "request_id": f"req-{index:08d}",
        "client_ip": f"10.{user % 256}.{index % 256}.{rng.randrange(1, 255)}",
        "user_agent": rng.choice(_AGENTS),
        "hostname": f"app-{index % 4}",
        "process_id": 4000 + index % 4,
        "compliance_level": rng.choice(_COMPLIANCE),
        "metadata": {
            "resource": f"/records/{rng.randrange(50_000)}",
            "rows": rng.randrange(1_000),
            "duration_ms": round(rng.random() * 250, 3),
        },
    }
    if kind in (AuditEventType.AUTHENTICATION_FAILED, AuditEventType.AUTHORIZATION_FAILED):
        fields["log_level"] = AuditLogLevel.WARNING
    elif kind in (AuditEventType.ERROR_OCCURRED, AuditEventType.SECURITY_VIOLATION):
        fields["log_level"] = AuditLogLevel.ERROR
        fields["error_category"] = rng.choice((ErrorCategory.IO, ErrorCategory.NETWORK))
        fields["error_severity"] = rng.choice((ErrorSeverity.HIGH, ErrorSeverity.MEDIUM))
    if fields["compliance_level"] in (ComplianceLevel.HIPAA, ComplianceLevel.GDPR):
        fields["contains_pii"] = True
        fields["data_classification"] = "confidential"
        fields["regulatory_tags"] = [fields["compliance_level"].value]
    return AuditEvent(**fields).model_dump(mode="json")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _name(mode: Mode, events: int, days: int) -> str:
    return f"v{FORMAT_VERSION}-{mode}-{events}ev-{days}d"


def _load_record(record: Path, directory: Path) -> Dataset | None:
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not directory.is_dir():
        return None
    return Dataset(
        path=directory,
        mode=data["mode"],
        events=data["events"],
        days=data["days"],
        files=data["files"],
        size=data["bytes"],
        key=bytes.fromhex(data["key"]) if data.get("key") else None,
        verification_key=Path(data["verification_key"]) if data.get("verification_key") else None,
    )


def dataset(
    events: int,
    *,
    days: int = 5,
    mode: Mode = "plain",
    root: Path | None = None,
    report: Any = None,
) -> Dataset:
    """The cached directory of ``events`` events over ``days`` days (written if missing)."""
    if events < 1 or days < 1:
        raise ValueError("events and days must be positive")
    root = DATA_ROOT if root is None else root
    name = _name(mode, events, days)
    directory, info = root / name, root / f"{name}.json"
    found = _load_record(info, directory)
    if found is not None:
        return found
    if report is not None:
        report(f"  writing the {events:,}-event {mode} directory {directory} (cached after)")
    for stale in (directory, root / f"{name}-keys"):
        if stale.exists():
            shutil.rmtree(stale)
    directory.mkdir(parents=True)
    static_key: bytes | None = None
    verification: Path | None = None
    day_key: dict[date, bytes] = {}
    if mode == "static":
        static_key = secrets.token_bytes(KEY_BYTES)
    elif mode == "forward":
        key_dir = root / f"{name}-keys"
        key_dir.mkdir()
        _, verification = keygen(
            key_dir / "writer-key.json", key_dir / "verification-key.json", start=FIRST_DAY
        )
        auditor = VerificationKey.load(verification)
        day_key = {
            FIRST_DAY + timedelta(d): auditor.key_for(FIRST_DAY + timedelta(d)) for d in range(days)
        }

    rng = random.Random(f"{events}-{days}")  # the same content in every mode
    start = datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, tzinfo=UTC)
    step = days * 86_400 / events
    previous: str | None = None
    chunks: list[bytes] = []
    current: date | None = None
    size = files = 0

    first_of_day = 1

    def mac_for(day: date) -> tuple[dict[str, str] | None, bytes | None]:
        if static_key is not None:
            return {"alg": ALG_STATIC}, static_key
        if day_key:
            return {"alg": ALG_FORWARD_SECURE, "day": day.isoformat()}, day_key[day]
        return None, None

    def signed(day: date, fields: dict[str, Any]) -> dict[str, Any]:
        mac_info, key = mac_for(day)
        if mac_info is not None:
            fields[MAC_FIELD] = mac_info
        fields["checksum"] = compute_checksum(fields, key)
        return fields

    def flush(last: int, closed_at: datetime | None) -> None:
        """Write the day file; a day the writer has left gets its manifest."""
        nonlocal size, files
        if current is None or not chunks:
            return
        data = b"".join(chunks)
        storage.file_for_day(directory, current).write_bytes(data)
        size += len(data)
        files += 1
        chunks.clear()
        if closed_at is not None:
            manifest = {
                "kind": "manifest",
                "day": current.isoformat(),
                "file": storage.file_for_day(directory, current).name,
                "first_sequence": first_of_day,
                "last_sequence": last,
                "events": last - first_of_day + 1,
                "last_checksum": previous,
                "closed_at": _iso(closed_at),
            }
            storage.write_record(
                storage.manifest_path(directory, current), signed(current, manifest), fsync=False
            )

    moment = start
    for index in range(events):
        moment = start + timedelta(seconds=index * step + rng.random() * step * 0.9)
        day = moment.date()
        if day != current:
            flush(index, moment)
            current, first_of_day = day, index + 1
        payload = event_payload(rng, index, moment)
        mac_info, key = mac_for(day)
        if mac_info is not None:
            payload[MAC_FIELD] = mac_info
        line, previous = seal(payload, sequence_number=index + 1, previous_hash=previous, key=key)
        chunks.append(line)
    flush(events, None)
    assert current is not None
    assert previous is not None
    head = {
        "kind": "seal",
        "sequence_number": events,
        "head_checksum": previous,
        "file": storage.file_for_day(directory, current).name,
        "time": _iso(moment),
    }
    mac_info, key = mac_for(current)
    if mac_info is not None:
        head[MAC_FIELD] = mac_info
    seal_file = storage.SealFile(directory, fsync=False)
    try:
        seal_file.write(seal_record(head, key)[0])
    finally:
        seal_file.close()
    result = Dataset(directory, mode, events, days, files, size, static_key, verification)
    info.write_text(
        json.dumps(
            {
                "mode": mode,
                "events": events,
                "days": days,
                "files": files,
                "bytes": size,
                "key": static_key.hex() if static_key else None,
                "verification_key": str(verification) if verification else None,
            },
            indent=1,
        )
        + "\n",
        encoding="utf-8",
    )
    return result
