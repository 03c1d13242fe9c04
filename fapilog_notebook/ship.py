"""Ship closed days of a trail to object storage, verified on arrival, resumable.

:func:`ship_trail` copies the closed day files of a local trail directory
(with their day manifests, the empty-day records and, when it vouches for a
shipped day, the sealed head) to a destination URL (``s3://bucket/prefix/``,
``gs://``, ``az://``, ``memory://``, ``file://``). It is safe to run again and
again, e.g. from cron:

- a day is *closed* when a later day file exists (the writer never goes
  back to it); the newest day, still open, is shipped only with
  ``include_open=True`` (and again whenever its bytes have changed);
- each file is streamed up in blocks, read back from the destination and
  compared with the source (size and SHA-256), and a day file's lines are
  checked against its manifest (first and last sequence, event count, last
  checksum) *before* the day is reported shipped;
- a shipped day is recorded by a receipt object
  (``.fapilog-notebook.shipped-YYYY-MM-DD.json``, written last), so a day
  whose bytes have not changed is never uploaded again, and a day cut off
  mid-upload (no receipt) is uploaded again whole, overwriting the partial
  object: no duplicates;
- ``object_lock_days`` writes each shipped object with S3 Object Lock in
  compliance mode until that many days from now: nobody, the account's root
  included, can delete or overwrite that version before then (the bucket
  must have Object Lock enabled).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from . import storage
from .chain import check_line
from .errors import ShipError
from .objstore import ObjectPath, is_url

__all__ = ["ShipReport", "ShippedDay", "ship_trail"]

_BLOCK = 8 * 1024 * 1024  # S3 multipart parts are at least 5 MiB
RECEIPT_PREFIX = ".fapilog-notebook.shipped-"


@dataclass(frozen=True, slots=True)
class ShippedDay:
    """One day file: where it went, its size and digest, and whether it was sent now."""

    day: date
    url: str
    size: int
    sha256: str
    uploaded: bool


@dataclass(frozen=True)
class ShipReport:
    """What :func:`ship_trail` did: each day shipped or found unchanged, and the rest."""

    source: str
    destination: str
    days: tuple[ShippedDay, ...]
    records: tuple[str, ...] = ()
    seal: str = "none"
    retain_until: datetime | None = None
    skipped: tuple[str, ...] = field(default_factory=tuple)

    @property
    def uploaded(self) -> tuple[ShippedDay, ...]:
        """The days sent by this run."""
        return tuple(d for d in self.days if d.uploaded)

    @property
    def unchanged(self) -> tuple[ShippedDay, ...]:
        """The days already at the destination, byte for byte."""
        return tuple(d for d in self.days if not d.uploaded)

    def summary(self) -> str:
        """A few lines for a terminal or a log."""
        lines = [
            f"shipped {self.source} to {self.destination}: "
            f"{len(self.uploaded)} days uploaded and verified, "
            f"{len(self.unchanged)} unchanged (already there)"
        ]
        for day in self.days:
            state = "uploaded, verified" if day.uploaded else "unchanged"
            lines.append(f"  {day.url}  {day.size} bytes  sha256 {day.sha256[:16]}...  {state}")
        if self.records:
            lines.append(f"  {len(self.records)} manifests and empty-day records copied")
        lines.append(f"  seal: {self.seal}")
        if self.retain_until is not None:
            lines.append(
                "  Object Lock (compliance) until "
                f"{self.retain_until.isoformat(timespec='seconds')}"
            )
        lines.extend(f"  not shipped: {reason}" for reason in self.skipped)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _digest(path: Path) -> tuple[int, str]:
    """Size and SHA-256 of a local file, streamed."""
    hasher = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while block := handle.read(_BLOCK):
            hasher.update(block)
            size += len(block)
    return size, hasher.hexdigest()


class _Destination:
    """The destination prefix: writes (optionally Object-Locked) and reads back."""

    def __init__(self, url: str, options: Mapping[str, Any] | None, lock_days: int | None):
        self.root = ObjectPath(url, options)
        self.fs, self.path = self.root.filesystem()
        protocols = self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        self.is_s3 = any(p in ("s3", "s3a") for p in protocols)
        self.retain_until: datetime | None = None
        if lock_days is not None:
            if not self.is_s3:
                raise ValueError(
                    f"object_lock_days needs an S3 destination (S3 Object Lock); "
                    f"{self.root.url} is not one"
                )
            self.retain_until = datetime.now(UTC).replace(microsecond=0) + timedelta(days=lock_days)
        if any(p in ("file", "local") for p in protocols):
            self.fs.makedirs(self.path, exist_ok=True)

    def _write_kwargs(self, *, lock: bool) -> dict[str, Any]:
        if lock and self.retain_until is not None:
            return {
                "ObjectLockMode": "COMPLIANCE",
                "ObjectLockRetainUntilDate": self.retain_until,
            }
        return {}

    def upload(self, source: Path, name: str, *, lock: bool = True) -> tuple[int, str]:
        """Stream ``source`` up as ``name``; its size and SHA-256 as sent."""
        target = self.root / name
        hasher = hashlib.sha256()
        size = 0
        try:
            with (
                open(source, "rb") as handle,
                self.fs.open(
                    f"{self.path}/{name}", "wb", block_size=_BLOCK, **self._write_kwargs(lock=lock)
                ) as out,
            ):
                while block := handle.read(_BLOCK):
                    out.write(block)
                    hasher.update(block)
                    size += len(block)
        except OSError as exc:
            if isinstance(exc, FileNotFoundError) and not source.exists():
                raise
            raise target.error(exc, "cannot upload to") from None
        except Exception as exc:
            raise target.error(exc, "cannot upload to") from None
        return size, hasher.hexdigest()

    def put_bytes(self, name: str, data: bytes, *, lock: bool) -> None:
        target = self.root / name
        try:
            with self.fs.open(f"{self.path}/{name}", "wb", **self._write_kwargs(lock=lock)) as out:
                out.write(data)
        except Exception as exc:
            raise target.error(exc, "cannot upload to") from None

    def read_small(self, name: str) -> bytes | None:
        """A small object's bytes (receipts, records), ``None`` if it is not there."""
        target = self.root / name
        self.fs.invalidate_cache(self.path)
        return storage.read_bounded(target, storage.MANIFEST_LIMIT)

    def read_back(self, name: str) -> tuple[int, str, list[bytes]]:
        """Size and SHA-256 of what arrived, streamed in blocks, and its first line,
        last line and line count (to hold against the day's manifest)."""
        from .objstore import open_object
        from .scan import MAX_LINE_BYTES, tail_lines

        target = self.root / name
        self.fs.invalidate_cache(self.path)
        hasher = hashlib.sha256()
        size = 0
        newlines = 0
        head = b""
        ended = True
        with open_object(target) as handle:
            while block := handle.read(_BLOCK):
                hasher.update(block)
                size += len(block)
                newlines += block.count(b"\n")
                if len(head) < MAX_LINE_BYTES and b"\n" not in head:
                    head += block[: MAX_LINE_BYTES - len(head)]
                ended = block.endswith(b"\n")

            def read_at(count: int, offset: int) -> bytes:
                handle.seek(offset)
                return handle.read(count) or b""

            last = next(tail_lines(read_at, size, max_bytes=4 * MAX_LINE_BYTES), b"")
        lines = newlines + (0 if ended or size == 0 else 1)
        first = head.split(b"\n", 1)[0]
        return size, hasher.hexdigest(), [first, last, str(lines).encode()]


def _closed_days(days: list[date], include_open: bool) -> list[date]:
    """The days the writer has left for a later one (all of them with ``include_open``).

    A manifest alone does not close a day: a stopped writer records one for
    its newest day, and a writer started again that day appends to it.
    """
    if include_open or not days:
        return days
    newest = max(days)
    return [d for d in days if d < newest]


def _check_manifest(name: str, record: dict[str, Any], ends: list[bytes]) -> str | None:
    """Why the arrived day file does not match its manifest (``None`` if it does)."""
    first_line, last_line, count = ends
    first = check_line(first_line.rstrip(b"\r")) if first_line else None
    last = check_line(last_line.rstrip(b"\r")) if last_line else None
    found = (
        first.sequence_number if first else None,
        last.sequence_number if last else None,
        int(count),
        last.checksum if last else None,
    )
    expected = (
        record.get("first_sequence"),
        record.get("last_sequence"),
        record.get("events"),
        record.get("last_checksum"),
    )
    if found != expected:
        return (
            f"{name} at the destination does not match its manifest: expected sequences "
            f"{expected[0]}..{expected[1]}, {expected[2]} events, ending in checksum "
            f"{str(expected[3])[:16]}...; found {found[0]}..{found[1]}, {found[2]} lines, "
            f"ending in {str(found[3])[:16]}..."
        )
    return None


def ship_trail(
    source: str | os.PathLike[str],
    destination: str,
    *,
    object_lock_days: int | None = None,
    include_open: bool = False,
    storage_options: Mapping[str, Any] | None = None,
) -> ShipReport:
    """Copy the closed days of the trail in ``source`` to ``destination``, verified.

    ``source`` is a local trail directory; ``destination`` an fsspec URL
    (with ``storage_options``). See the module's docstring for what is
    copied, when a day is skipped as unchanged and how an interrupted run
    resumes. ``object_lock_days`` (S3 only) keeps every shipped object under
    Object Lock compliance retention for that many days.

    :raises ShipError: what arrived differs from what was sent, or from the manifest.
    :raises ValueError: bad arguments (not a trail directory, not a URL, bad lock days).
    :raises OSError: a read or an upload failed, naming the file or URL.
    """
    if isinstance(source, str) and is_url(source):
        raise ValueError(f"ship copies from a local trail directory, not from {source!r}")
    if not is_url(destination):
        raise ValueError(
            f"destination must be a URL (s3://bucket/prefix/, file:///path, ...), "
            f"not {destination!r}"
        )
    if object_lock_days is not None and (
        isinstance(object_lock_days, bool)
        or not isinstance(object_lock_days, int)
        or object_lock_days < 1
    ):
        raise ValueError(
            f"object_lock_days must be a positive number of days, not {object_lock_days!r}"
        )
    directory = Path(source)
    if not directory.is_dir():
        raise ValueError(f"source {str(directory)!r} is not a trail directory")
    files = dict(storage.list_audit_files(directory))
    if not files:
        raise ValueError(f"no audit files (audit_YYYY-MM-DD.jsonl) in {str(directory)!r}")
    names = sorted(entry.name for entry in os.scandir(directory))
    manifests: dict[date, Path] = {}
    empty_days: list[Path] = []
    for name in names:
        match = storage.MANIFEST_PATTERN.match(name)
        if match is not None:
            manifests[date.fromisoformat(match[1])] = directory / name
        elif storage.EMPTY_DAY_PATTERN.match(name):
            empty_days.append(directory / name)
    days = _closed_days(sorted(files), include_open)
    skipped = tuple(
        f"{storage.file_name(d)} is still open (the newest day; include_open ships it)"
        for d in sorted(files)
        if d not in days
    )
    dest = _Destination(destination, storage_options, object_lock_days)
    shipped: list[ShippedDay] = []
    records: list[str] = []
    for day in days:
        shipped.append(_ship_day(dest, day, files[day], manifests.get(day)))
        if day in manifests:
            records.append(str(dest.root / manifests[day].name))
    for record_path in empty_days:
        data = storage.read_bounded(record_path, storage.MANIFEST_LIMIT)
        if data is not None and dest.read_small(record_path.name) != data:
            dest.put_bytes(record_path.name, data, lock=True)
        records.append(str(dest.root / record_path.name))
    seal = _ship_seal(dest, directory, {storage.file_name(d) for d in days})
    return ShipReport(
        str(directory),
        dest.root.url,
        tuple(shipped),
        tuple(records),
        seal,
        dest.retain_until,
        skipped,
    )


def _ship_day(dest: _Destination, day: date, path: Path, manifest: Path | None) -> ShippedDay:
    """One day file (and its manifest) shipped or found unchanged."""
    name = path.name
    size, sha = _digest(path)
    manifest_bytes = (
        storage.read_bounded(manifest, storage.MANIFEST_LIMIT) if manifest is not None else None
    )
    manifest_sha = hashlib.sha256(manifest_bytes).hexdigest() if manifest_bytes else None
    receipt_name = f"{RECEIPT_PREFIX}{day.isoformat()}.json"
    url = str(dest.root / name)
    receipt_raw = dest.read_small(receipt_name)
    if receipt_raw is not None:
        try:
            receipt = json.loads(receipt_raw)
        except ValueError:
            receipt = {}
        info = (dest.root / name).info()
        if (
            isinstance(receipt, dict)
            and receipt.get("sha256") == sha
            and receipt.get("size") == size
            and receipt.get("manifest_sha256") == manifest_sha
            and info is not None
            and info.get("size") == size
        ):
            return ShippedDay(day, url, size, sha, uploaded=False)
    sent_size, sent_sha = dest.upload(path, name)
    if (sent_size, sent_sha) != (size, sha):
        raise ShipError(f"{path} changed while it was shipped; run ship again")
    arrived_size, arrived_sha, ends = dest.read_back(name)
    if (arrived_size, arrived_sha) != (size, sha):
        raise ShipError(
            f"{url} is not what was sent: expected {size} bytes with SHA-256 {sha}, "
            f"found {arrived_size} bytes with SHA-256 {arrived_sha}"
        )
    if manifest is not None and manifest_bytes is not None:
        record = json.loads(manifest_bytes)
        problem = _check_manifest(name, record, ends) if isinstance(record, dict) else None
        if problem is not None:
            raise ShipError(problem)
        dest.put_bytes(manifest.name, manifest_bytes, lock=True)
        if dest.read_small(manifest.name) != manifest_bytes:
            raise ShipError(f"{dest.root / manifest.name} is not the manifest that was sent")
    receipt = {
        "kind": "shipped",
        "file": name,
        "size": size,
        "sha256": sha,
        "manifest_sha256": manifest_sha,
        "shipped_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "retain_until": dest.retain_until.isoformat() if dest.retain_until else None,
    }
    dest.put_bytes(receipt_name, json.dumps(receipt, sort_keys=True).encode(), lock=False)
    return ShippedDay(day, url, size, sha, uploaded=True)


def _ship_seal(dest: _Destination, directory: Path, shipped: set[str]) -> str:
    """Copy the seal when the head it vouches for is in a shipped day file."""
    path = directory / storage.SEAL_NAME
    try:
        slots = storage.read_seals(path)
    except (OSError, ValueError) as exc:
        return f"not shipped: it cannot be read ({exc})"
    if not slots:
        return "none (the trail keeps no sealed head)"
    heads = [s for s in slots if isinstance(s, dict) and isinstance(s.get("sequence_number"), int)]
    if not heads:
        return "not shipped: no readable seal record"
    head = max(heads, key=lambda s: s["sequence_number"])
    if head.get("file") not in shipped:
        return (
            f"not shipped: it vouches for {head.get('file')}, which is still open "
            "(ship with include_open to send it)"
        )
    data = storage.read_bounded(path, 2 * storage.SEAL_SLOT)
    assert data is not None
    if dest.read_small(storage.SEAL_NAME) == data:
        return f"unchanged ({dest.root / storage.SEAL_NAME})"
    dest.put_bytes(storage.SEAL_NAME, data, lock=True)
    if dest.read_small(storage.SEAL_NAME) != data:
        raise ShipError(f"{dest.root / storage.SEAL_NAME} is not the seal that was sent")
    return f"uploaded ({dest.root / storage.SEAL_NAME})"
