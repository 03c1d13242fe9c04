"""The records beside the day files: the head seal, day manifests and empty-day records.

This module owns their format. The writer (:mod:`fapilog_notebook.writer`)
builds them with :func:`seal_record`, :func:`manifest_record` and
:func:`empty_day_record`; the verifier (:mod:`fapilog_notebook.verify`) checks
each record's own checksum or MAC with :func:`record_problem` and reads its
fields through :class:`SealRecord`, :class:`ManifestRecord` and
:class:`EmptyDayRecord`. :mod:`fapilog_notebook.storage` keeps the file I/O
(``SealFile``, ``write_record``, ``read_seals``, ``read_record``).

- the *seal* (``.fapilog-notebook.seal.json``), rewritten after every batch:
  the head on disk (``sequence_number``, ``head_checksum``, ``file``,
  ``time``), the tree's size and root;
- a *manifest* per day file, written when the writer leaves the day: its
  ``first_sequence``, ``last_sequence``, ``events``, ``last_checksum`` and
  ``closed_at``;
- forward-secure, an *empty-day record* for each day without events.

Each carries a ``checksum`` of its canonical JSON, a MAC with the key of the
day it describes (and a ``mac`` object saying so, see :mod:`.chain`) when the
trail is keyed. In this package "seal" means this head record only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from .chain import CHECKSUM_KEY, MAC_FIELD, KeyLookup, compute_checksum, encode_line

__all__ = [
    "EmptyDayRecord",
    "ManifestRecord",
    "SealRecord",
    "empty_day_record",
    "iso_time",
    "manifest_record",
    "record_problem",
    "seal_record",
]


def iso_time(moment: datetime) -> str:
    """``moment`` in UTC as the records write it: ISO 8601 ending in ``Z``."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# ------------------------------------------------------------------ building


def seal_record(
    *,
    sequence_number: int,
    head_checksum: str,
    file: str,
    time: datetime,
    tree: Mapping[str, Any],
    mac: dict[str, str] | None,
    key: bytes | None,
) -> bytes:
    """The seal line (canonical JSON with its checksum or MAC, ending in ``\\n``)
    naming the head ``sequence_number``/``head_checksum`` in ``file``, with the
    tree's fields (empty without a tree) and the ``mac`` object when keyed."""
    record: dict[str, Any] = {
        "kind": "seal",
        "sequence_number": sequence_number,
        "head_checksum": head_checksum,
        "file": file,
        "time": iso_time(time),
    }
    record.update(tree)
    if mac is not None:
        record[MAC_FIELD] = mac
    return encode_line(record, key)[0]


def manifest_record(
    *,
    day: date,
    file: str,
    first_sequence: int | None,
    last_sequence: int | None,
    events: int,
    last_checksum: str | None,
    closed_at: datetime,
    tree: Mapping[str, Any],
    mac: dict[str, str] | None,
    key: bytes | None,
) -> dict[str, Any]:
    """The manifest of ``day``'s file, with its checksum (or MAC under ``key``)."""
    record: dict[str, Any] = {
        "kind": "manifest",
        "day": day.isoformat(),
        "file": file,
        "first_sequence": first_sequence,
        "last_sequence": last_sequence,
        "events": events,
        "last_checksum": last_checksum,
        "closed_at": iso_time(closed_at),
    }
    record.update(tree)
    if mac is not None:
        record[MAC_FIELD] = mac
    record[CHECKSUM_KEY] = compute_checksum(record, key)
    return record


def empty_day_record(
    *,
    day: date,
    last_sequence: int,
    last_checksum: str | None,
    closed_at: datetime,
    mac: dict[str, str] | None,
    key: bytes | None,
) -> dict[str, Any]:
    """The record that ``day`` had no events, naming the chain's head, with its checksum."""
    record: dict[str, Any] = {
        "kind": "empty_day",
        "day": day.isoformat(),
        "events": 0,
        "last_sequence": last_sequence,
        "last_checksum": last_checksum,
        "closed_at": iso_time(closed_at),
    }
    if mac is not None:
        record[MAC_FIELD] = mac
    record[CHECKSUM_KEY] = compute_checksum(record, key)
    return record


# ------------------------------------------------------------------- reading


def record_problem(record: Mapping[str, Any], key_for: KeyLookup | None) -> str | None:
    """Why a seal, manifest or empty-day record cannot be trusted, or None.

    ``key_for`` (the verifier's keyring lookup; ``None``: no key given) maps
    the record's ``mac`` object to its key and raises ``ValueError`` when it
    has none. Without a key, a MACed record passes unchecked.
    """
    mac = record.get(MAC_FIELD)
    if mac is None:
        if key_for is not None:
            return "it carries no MAC although a key was given"
        key = None
    elif key_for is None:
        return None
    else:
        try:
            key = key_for(mac)
        except ValueError as exc:
            return str(exc)
    try:
        ok = compute_checksum(record, key) == record.get(CHECKSUM_KEY)
    except (ValueError, TypeError, RecursionError):
        ok = False
    return None if ok else "its checksum or MAC does not match its content"


def _mac_day(record: Mapping[str, Any]) -> str | None:
    """The day whose key MACed a record (forward-secure), else ``None``."""
    mac = record.get(MAC_FIELD)
    day = mac.get("day") if isinstance(mac, dict) else None
    return day if isinstance(day, str) else None


def _int(value: object) -> int | None:
    return value if type(value) is int else None


@dataclass(frozen=True, slots=True)
class SealRecord:
    """A seal record's fields, read from one slot of the seal file."""

    sequence_number: int
    head_checksum: str
    file: str
    time: str | None  # None when absent or not a string
    mac_day: str | None

    @classmethod
    def parse(cls, obj: Mapping[str, Any]) -> SealRecord | str:
        """The record's fields, or a sentence saying which are missing."""
        seq, head, name = obj.get("sequence_number"), obj.get("head_checksum"), obj.get("file")
        if type(seq) is not int or not isinstance(head, str) or not isinstance(name, str):
            return "a seal record lacks sequence_number, head_checksum or file"
        time = obj.get("time")
        return cls(seq, head, name, time if isinstance(time, str) else None, _mac_day(obj))


@dataclass(frozen=True, slots=True)
class ManifestRecord:
    """A day manifest's fields as found (hostile values kept, for the findings to quote).

    ``first_sequence`` and ``last_sequence`` are ``None`` unless integers:
    :attr:`problem` then says so.
    """

    kind: object
    day: object
    first_sequence: int | None
    last_sequence: int | None
    events: object
    last_checksum: object
    closed_at: object
    mac_day: str | None

    @classmethod
    def parse(cls, obj: Mapping[str, Any]) -> ManifestRecord:
        """The record's fields as found; :attr:`problem` says if it is unusable."""
        return cls(
            obj.get("kind"),
            obj.get("day"),
            _int(obj.get("first_sequence")),
            _int(obj.get("last_sequence")),
            obj.get("events"),
            obj.get("last_checksum"),
            obj.get("closed_at"),
            _mac_day(obj),
        )

    @property
    def problem(self) -> str | None:
        """Why the manifest cannot be compared with its file, or None."""
        if self.first_sequence is None or self.last_sequence is None:
            return "it lacks first_sequence or last_sequence"
        return None


@dataclass(frozen=True, slots=True)
class EmptyDayRecord:
    """An empty-day record's fields as found."""

    kind: object
    day: object
    mac_day: str | None

    @classmethod
    def parse(cls, obj: Mapping[str, Any]) -> EmptyDayRecord:
        """The record's fields as found."""
        return cls(obj.get("kind"), obj.get("day"), _mac_day(obj))

    def problem(self, day: date) -> str | None:
        """Why this is not the empty-day record of ``day`` MACed with that day's key, or None."""
        label = day.isoformat()
        if self.kind != "empty_day" or self.day != label or self.mac_day != label:
            return "it is not the empty-day record of its day, MACed with that day's key"
        return None
