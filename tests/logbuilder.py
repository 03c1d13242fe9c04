"""Build audit logs for tests quickly: sealed lines with chosen timestamps, no asyncio.

A :class:`Log` is an in-memory list of day files, each a list of lines (bytes
with their newline), so tests can damage it precisely and then write it out.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from fapilog_notebook.chain import encode_event as seal

BASE = datetime(2026, 3, 1, 8, 0, 0, tzinfo=UTC)
_TYPES = ["data_access", "data_modification", "authentication_failed", "config_changed"]


def timestamp_text(moment: datetime) -> str:
    """Render a UTC datetime the way pydantic does (``...Z``, micros only if set)."""
    text = moment.astimezone(UTC).replace(tzinfo=None).isoformat()
    return text + "Z"


def payload(index: int, moment: datetime, **extra: Any) -> dict[str, Any]:
    """A fapilog-shaped event payload (every AuditEvent field) without chain fields."""
    body: dict[str, Any] = {
        "client_ip": None,
        "compliance_level": "basic",
        "component": "api" if index % 2 else None,
        "container_id": None,
        "contains_phi": False,
        "contains_pii": index % 3 == 0,
        "data_classification": None,
        "error_category": None,
        "error_context": None,
        "error_severity": None,
        "event_id": str(uuid.UUID(int=index + 1)),
        "event_type": _TYPES[index % len(_TYPES)],
        "hostname": "host",
        "log_level": "security" if index % 4 == 2 else "info",
        "message": f"event {index}",
        "metadata": {"resource": f"/records/{index % 7}", "n": index},
        "operation": None,
        "plugin_name": None,
        "process_id": 4242,
        "regulatory_tags": ["sox"] if index % 5 == 0 else [],
        "request_id": f"req-{index}",
        "retention_category": None,
        "session_id": None,
        "signature": None,
        "timestamp": timestamp_text(moment),
        "user_agent": None,
        "user_id": f"user{index % 3}@example.com",
    }
    body.update(extra)
    return body


@dataclass
class DayFile:
    """One day's file: its day and its lines (each with its newline)."""

    day: date
    lines: list[bytes] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"audit_{self.day.isoformat()}.jsonl"


@dataclass
class Log:
    """A log in memory: day files in order, and the checksum of every event."""

    files: list[DayFile]
    checksums: list[str]

    @property
    def events(self) -> int:
        return len(self.checksums)

    def write(self, directory: Path) -> Path:
        """Write the files into ``directory`` (created) and return it."""
        directory.mkdir(parents=True, exist_ok=True)
        for day_file in self.files:
            (directory / day_file.name).write_bytes(b"".join(day_file.lines))
        return directory

    def locate(self, index: int) -> tuple[int, int]:
        """(file index, 0-based line index) of the ``index``-th line over all files."""
        for number, day_file in enumerate(self.files):
            if index < len(day_file.lines):
                return number, index
            index -= len(day_file.lines)
        raise IndexError(index)


def build_log(
    per_day: list[int],
    *,
    start: datetime = BASE,
    step: timedelta = timedelta(minutes=7),
    restart_at: frozenset[int] = frozenset(),
    skip_days: frozenset[int] = frozenset(),
) -> Log:
    """A valid log: ``per_day[i]`` events on day ``i`` (days in ``skip_days`` have no file).

    ``restart_at`` holds 0-based event indices where the chain restarts at 1
    with no previous_hash (as fapilog does in a new process).
    """
    files: list[DayFile] = []
    checksums: list[str] = []
    seq = 0
    previous: str | None = None
    index = 0
    for day_number, count in enumerate(per_day):
        day = (start + timedelta(days=day_number)).date()
        day_file = DayFile(day)
        moment = datetime(day.year, day.month, day.day, 0, 1, tzinfo=UTC)
        for _ in range(count):
            if index in restart_at:
                seq, previous = 0, None
            seq += 1
            moment = moment + step
            if moment.date() != day:
                moment = moment - step
            line, checksum = seal(
                payload(index, moment.replace(microsecond=(index * 1237) % 1_000_000)),
                sequence_number=seq,
                previous_hash=previous,
            )
            previous = checksum
            checksums.append(checksum)
            day_file.lines.append(line)
            index += 1
        if day_number not in skip_days:
            files.append(day_file)
    return Log(files, checksums)


#: Files no audit writer produces: each must give findings, never a traceback.
HOSTILE_CONTENT: dict[str, bytes] = {
    "empty": b"",
    "blank-lines": b"\n\n\n",
    "all-bytes": bytes(range(256)) * 40,
    "binary": b"\x00\x01\x02\xff\xfe" * 1000 + b"\n",
    "utf16": b'\xff\xfe{\x00"\x00a\x00"\x00}\x00\n',
    "invalid-utf8": b'{"checksum": "\xff\xff"}\n',
    "json-non-objects": b'[1, 2, 3]\n42\n"text"\nnull\ntrue\n',
    "deep-nesting": b"[" * 100_000 + b"\n",
    "wrong-types": b'{"sequence_number": "1", "checksum": 5, "previous_hash": []}\n',
    "float-seq": b'{"sequence_number": 1.0, "checksum": null}\n',
    "bool-seq": b'{"sequence_number": true, "checksum": "' + b"a" * 64 + b'"}\n',
    "huge-seq": b'{"sequence_number": 99999999999999999999999999999, "checksum": "'
    + b"a" * 64
    + b'"}\n',
    "nan": b'{"a": NaN}\n{"b": Infinity}\n',
    "mac-alg-a-list": b'{"sequence_number": 1, "checksum": "'
    + b"a" * 64
    + b'", "mac": {"alg": [1]}}\n',
    "mac-alg-an-object": b'{"sequence_number": 2, "checksum": "'
    + b"b" * 64
    + b'", "mac": {"alg": {"x": 1}, "day": []}}\n',
    "mac-day-a-list": b'{"sequence_number": 1, "checksum": "'
    + b"c" * 64
    + b'", "mac": {"alg": "hmac-sha256-fs", "day": ["2026-03-01"]}}\n',
}
