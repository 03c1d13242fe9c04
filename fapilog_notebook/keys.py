"""Keys for a keyed, forward-secure chain.

Two kinds of key:

- a *static* key (``bytes``, at least 32): every event is MACed with
  HMAC-SHA256 under it;
- a *forward-secure* key pair made by :func:`keygen`: the writer's key state
  (kept beside the trail, mode 0600) holds today's key only and evolves one
  way at every UTC day boundary, ``k(d+1) = SHA-256(label || k(d))``,
  overwriting the old key on disk. Someone who takes the writing host today
  cannot compute an earlier day's key, so cannot forge or silently rewrite
  yesterday (the Schneier-Kelsey scheme, as in journald's sealing). The
  auditor's :class:`VerificationKey` holds the first day's key and derives
  every later day's.

Key files carry a format ``version``. From version 2 (what :func:`keygen`
writes now) the writer records every day since the key's start day, an empty
day too, MACed with that day's key before the key moves on, and the verifier
given a version-2 verification key requires that unbroken series, so a
missing day is detected. Files without a version are version 1.

Keys never appear in a repr, an exception message, a report or an audit file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from .errors import AuditKeyError

__all__ = [
    "KEY_BYTES",
    "KEY_VERSION",
    "VerificationKey",
    "WriterKey",
    "derive_day_key",
    "keygen",
    "load_static_key",
]

KEY_BYTES = 32
#: The key file format :func:`keygen` writes (see the module docstring).
KEY_VERSION = 2
_EVOLVE_LABEL = b"fapilog-notebook/forward-secure/v1\x00"
_STATE_KIND = "fapilog-notebook writer key"
_VERIFY_KIND = "fapilog-notebook verification key"
#: Longest span a verification key derives forward (about 270 years).
_MAX_DAYS = 100_000


def evolve(key: bytes) -> bytes:
    """The next day's key: one way, so the previous key cannot be recovered."""
    return hashlib.sha256(_EVOLVE_LABEL + key).digest()


def derive_day_key(start: date, start_key: bytes, day: date) -> bytes:
    """The key of ``day``, derived forward from the key of ``start``."""
    steps = (day - start).days
    if steps < 0:
        raise AuditKeyError(f"no key for {day}: the key starts on {start} and only evolves forward")
    if steps > _MAX_DAYS:
        raise AuditKeyError(f"no key for {day}: more than {_MAX_DAYS} days after {start}")
    key = start_key
    for _ in range(steps):
        key = evolve(key)
    return key


def check_key_bytes(key: object, *, what: str = "key") -> bytes:
    """Accept ``bytes`` of at least 32 bytes; say clearly what is wrong otherwise."""
    if isinstance(key, (bytearray, memoryview)):
        key = bytes(key)
    if not isinstance(key, bytes):
        raise TypeError(f"{what} must be bytes (at least {KEY_BYTES}), not {type(key).__name__}")
    if len(key) < KEY_BYTES:
        raise AuditKeyError(f"{what} is too short: {len(key)} bytes, at least {KEY_BYTES} needed")
    return key


def load_static_key(text: str | bytes, *, origin: str) -> bytes:
    """Read a static key written as hex (64+ digits), as a file or variable holds it."""
    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError:
            raise AuditKeyError(f"{origin} is not a hex key (it is not ASCII text)") from None
    text = text.strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise AuditKeyError(
            f"{origin} is not a hex key (expected {2 * KEY_BYTES}+ hex digits)"
        ) from None
    return check_key_bytes(key, what=origin)


def _write_private(path: Path, data: dict[str, Any], *, replace: bool) -> None:
    """Write ``data`` as JSON to ``path`` with mode 0600, atomically and durably.

    The temporary file has a unique name and is created with ``O_EXCL |
    O_NOFOLLOW``: a link planted beside the key is never written through.
    It is removed if anything fails.
    """
    text = json.dumps(data, sort_keys=True, indent=1).encode("ascii") + b"\n"
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(8)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        try:
            view = memoryview(text)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if path exists: never overwrite a key
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


#: The most a key file is read: one is about 200 bytes.
_KEY_FILE_LIMIT = 64 * 1024


def _read_json(path: Path, kind: str) -> dict[str, Any]:
    """The key file's JSON object, read bounded and never blocking: a FIFO, a
    device or a huge file in its place is a clear error, not a hang or a
    MemoryError (the writer's key file sits beside the trail)."""
    from .errors import UnsafeRecordError
    from .storage import read_bounded

    try:
        raw = read_bounded(path, _KEY_FILE_LIMIT, follow_links=True)
    except UnsafeRecordError as exc:
        raise AuditKeyError(f"key file {str(path)!r} cannot be used: {exc}") from None
    except IsADirectoryError:
        raise AuditKeyError(f"key file {str(path)!r} is a directory, not a key file") from None
    if raw is None:
        raise FileNotFoundError(f"key file {str(path)!r} does not exist")
    try:
        data = json.loads(raw)
    except ValueError:
        raise AuditKeyError(f"key file {str(path)!r} is not a {kind} file (not JSON)") from None
    if not isinstance(data, dict) or data.get("kind") != kind:
        raise AuditKeyError(f"key file {str(path)!r} is not a {kind} file")
    return data


def _field_day(data: dict[str, Any], origin: Path | str) -> date:
    try:
        return date.fromisoformat(data["day"])
    except (KeyError, TypeError, ValueError):
        raise AuditKeyError(f"{_origin(origin)} has no valid 'day'") from None


def _field_version(data: dict[str, Any], origin: Path | str) -> int:
    value = data.get("version", 1)
    if type(value) is not int or not 1 <= value <= KEY_VERSION:
        raise AuditKeyError(
            f"{_origin(origin)} has an unknown version {str(value)[:20]!r} "
            f"(this release reads versions 1 to {KEY_VERSION})"
        )
    return value


def _origin(origin: Path | str) -> str:
    return f"key file {str(origin)!r}" if isinstance(origin, Path) else origin


def _field_key(data: dict[str, Any], origin: Path | str) -> bytes:
    value = data.get("key")
    try:
        key = bytes.fromhex(value) if isinstance(value, str) else b""
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise AuditKeyError(f"{_origin(origin)} has no valid key ({2 * KEY_BYTES} hex digits)")
    return key


@dataclass(frozen=True, repr=False)
class VerificationKey:
    """The auditor's key: the first day's key, from which every later day's derives."""

    start: date
    _key: bytes
    #: The key file's format: from 2, the verifier requires a record of every day.
    version: int = 1

    def __repr__(self) -> str:
        return (
            f"VerificationKey(start={self.start.isoformat()}, version={self.version}, key=<hidden>)"
        )

    @property
    def promises_day_series(self) -> bool:
        """True when its writer records every day (an empty one too) before its key moves on."""
        return self.version >= 2

    @classmethod
    def load(cls, path: Path | str) -> VerificationKey:
        """Read a verification key file written by :func:`keygen`."""
        path = Path(path)
        return cls.from_data(_read_json(path, _VERIFY_KIND), origin=f"key file {str(path)!r}")

    @classmethod
    def from_data(cls, data: Any, *, origin: str) -> VerificationKey:
        """A verification key from the JSON object of its file."""
        if not isinstance(data, dict) or data.get("kind") != _VERIFY_KIND:
            raise AuditKeyError(f"{origin} is not a {_VERIFY_KIND}")
        return cls(_field_day(data, origin), _field_key(data, origin), _field_version(data, origin))

    def key_for(self, day: date) -> bytes:
        """The MAC key of ``day`` (raises ``AuditKeyError`` before the start day)."""
        return derive_day_key(self.start, self._key, day)


class WriterKey:
    """The writer's forward-secure key state, kept in a 0600 file beside the trail.

    Two keys: the one the file holds (``stored_day``) and the one events are
    MACed with now (``day``), the same until :meth:`advance` moves the second
    to a later day in memory. The writer then records the days it leaves,
    each with its own key (:meth:`key_for`), and only then calls
    :meth:`persist`, which overwrites the file and drops every older key: a
    crash in between leaves the old key on disk, never a day left unrecorded
    with its key gone. All file I/O runs in the writer's worker thread.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        data = _read_json(self.path, _STATE_KIND)
        self.version = _field_version(data, self.path)
        self.stored_day = self.day = _field_day(data, self.path)
        self._stored_key: bytes | None = _field_key(data, self.path)
        self._key: bytes | None = self._stored_key

    def __repr__(self) -> str:
        return f"WriterKey(path={str(self.path)!r}, day={self.day.isoformat()}, key=<hidden>)"

    @property
    def key(self) -> bytes:
        """The key events are MACed with now (that of :attr:`day`)."""
        assert self._key is not None
        return self._key

    def key_for(self, day: date) -> bytes | None:
        """The key of ``day`` if it is still held (from the stored day to the current)."""
        if not self.stored_day <= day <= self.day or self._stored_key is None:
            return None
        return derive_day_key(self.stored_day, self._stored_key, day)

    def advance(self, day: date) -> None:
        """Evolve to ``day`` in memory if it is later (the file changes at :meth:`persist`)."""
        if day <= self.day:
            return
        self._key = derive_day_key(self.day, self.key, day)
        self.day = day

    def persist(self) -> None:
        """Overwrite the file with the current day's key; the older keys are gone for good."""
        if self.stored_day == self.day:
            return
        record: dict[str, Any] = {"kind": _STATE_KIND, "day": self.day.isoformat()}
        record["key"] = self.key.hex()
        if self.version >= 2:
            record["version"] = self.version
        _write_private(self.path, record, replace=True)
        self.stored_day, self._stored_key = self.day, self._key


def keygen(
    writer_path: Path | str, verification_path: Path | str, *, start: date
) -> tuple[Path, Path]:
    """Create a writer key state and its verification key, both mode 0600.

    Neither file may exist yet: a key is never overwritten.
    """
    writer, verifier = Path(writer_path), Path(verification_path)
    if writer.resolve() == verifier.resolve():
        raise ValueError("the writer key and the verification key must be different files")
    for path in (writer, verifier):
        if path.exists():
            raise FileExistsError(f"{str(path)!r} exists already; a key is never overwritten")
        if not path.parent.is_dir():
            raise FileNotFoundError(f"directory {str(path.parent)!r} does not exist")
    key = secrets.token_bytes(KEY_BYTES)
    day = start.isoformat()
    common = {"day": day, "key": key.hex(), "version": KEY_VERSION}
    _write_private(verifier, {"kind": _VERIFY_KIND, **common}, replace=False)
    _write_private(writer, {"kind": _STATE_KIND, **common}, replace=False)
    return writer, verifier
