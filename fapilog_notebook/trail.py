"""``AuditTrail``: the non-blocking, ordered, resumable audit writer.

How a call flows: ``log_event`` validates its input and builds the event on
the caller's loop, then queues it. The first caller that finds no write in
progress becomes the *leader*: in one worker-thread hop it seals everything
queued (sequence number, link, checksum) and appends it, one write per day
file (group commit). Everyone else waits for that hop to end, then either
finds their event on disk or leads the next batch. Nothing runs in the
background, so the trail works on any loop, including loops that only run
while a notebook cell runs, and nothing is tied to the loop it was made on.

Faults in storage are contained: the event stays queued, in order, and the
next write, ``drain()`` or ``stop()`` retries it; ``get_statistics()`` counts
what happened. ``on_write_error="raise"`` makes ``log_event`` fail closed.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import functools
import logging
import math
import os
import socket
import threading
import warnings
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Protocol, Self

from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from . import keys, storage
from .chain import (
    ALG_FORWARD_SECURE,
    ALG_STATIC,
    MAC_FIELD,
    Anchor,
    ChainHead,
    canonical_json,
    check_line,
    compute_checksum,
    seal,
    seal_record,
)
from .checkpoints import Checkpoint
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
from .signing import SigningKeyFile
from .treelog import CertificateStore, TreeFile, sign_checkpoint

__all__ = [
    "AuditQueueFullError",
    "AuditTrail",
    "AuditTrailError",
    "AuditTrailForkedError",
    "AuditTrailLockedError",
    "AuditWriteError",
    "AuditWriteWarning",
]

WriteErrorMode = Literal["contain", "raise"]

_SECURITY_TYPES = frozenset(
    {
        AuditEventType.AUTHENTICATION_FAILED,
        AuditEventType.AUTHORIZATION_FAILED,
        AuditEventType.SECURITY_VIOLATION,
    }
)
_SEVERITY_TO_LEVEL = {
    ErrorSeverity.CRITICAL: AuditLogLevel.CRITICAL,
    ErrorSeverity.HIGH: AuditLogLevel.ERROR,
    ErrorSeverity.MEDIUM: AuditLogLevel.WARNING,
    ErrorSeverity.LOW: AuditLogLevel.INFO,
    ErrorSeverity.INFO: AuditLogLevel.INFO,
}
_DATA_OPERATIONS = {
    "read": AuditEventType.DATA_ACCESS,
    "write": AuditEventType.DATA_MODIFICATION,
    "update": AuditEventType.DATA_MODIFICATION,
    "delete": AuditEventType.DATA_DELETION,
    "export": AuditEventType.DATA_EXPORT,
}


class AuditTrailError(Exception):
    """Base class of the errors an ``AuditTrail`` raises.

    ::

        AuditTrailError
        ├── AuditTrailLockedError   another writer holds the directory (start)
        ├── AuditTrailForkedError   a trail used in a process forked from its writer
        ├── AuditWriteError         storage failed, on_write_error="raise"
        └── AuditQueueFullError     the pending queue is full, on_write_error="raise"
    """


class AuditTrailLockedError(AuditTrailError, storage.DirectoryLockedError):
    """Another ``AuditTrail`` (in this process or another) writes to the directory."""


class AuditTrailForkedError(AuditTrailError):
    """A trail started in a parent process was used in a forked child.

    The child shares the parent's directory lock and chain state; writing
    from both would fork the chain. The child makes a new ``AuditTrail``
    once the parent's has stopped.
    """


class AuditWriteError(AuditTrailError, OSError):
    """Storage failed; the event stays queued and is retried by the next write."""


class AuditQueueFullError(AuditTrailError):
    """The pending queue is full (storage has been failing); the event was not queued."""


class AuditWriteWarning(UserWarning):
    """Storage is failing or events were dropped; see ``get_statistics()``."""


class _VerifyChain(Protocol):
    def __call__(
        self, events: Iterable[AuditEvent], *, key: bytes | keys.VerificationKey | None = None
    ) -> AuditChainVerificationResult: ...


class _ClassOrTrailMethod:
    """``verify_chain``'s binding: on a trail it passes the trail, on the class ``None``."""

    def __init__(
        self,
        func: Callable[
            [AuditTrail | None, Iterable[AuditEvent], Any], AuditChainVerificationResult
        ],
    ) -> None:
        self.func = func
        self.__doc__ = func.__doc__

    def __get__(self, trail: AuditTrail | None, owner: type[AuditTrail]) -> _VerifyChain:
        def bound(
            events: Iterable[AuditEvent], *, key: bytes | keys.VerificationKey | None = None
        ) -> AuditChainVerificationResult:
            return self.func(trail, events, key)

        bound.__doc__ = self.func.__doc__
        return bound


_Waiter = tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]
#: What a caller does next for its batch: it is done, it leads, or it awaits a future.
_DONE, _LEAD = object(), object()
_Claim = object


class _Batch:
    """The callers waiting for one group commit, each with its own future.

    Events join the *open* batch when they are queued; the writer takes it
    whole. Its waiters are woken once: when it is written (or has failed),
    or, while it is still open, when the writer becomes free to take it.
    Each caller has its own future, so cancelling one caller leaves the
    others waiting.
    """

    __slots__ = ("done", "error", "waiters")

    def __init__(self) -> None:
        self.done = False
        self.error: str | None = None
        self.waiters: list[_Waiter] = []

    def future(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
        fut = loop.create_future()
        self.waiters.append((loop, fut))
        return fut


@dataclass(slots=True)
class _Pending:
    """A queued event: its payload and, once sealed, its chained line.

    ``written``: its line is on disk. ``acknowledged``: its ``log_event``
    returned before that (a contained storage fault).
    """

    day: date
    payload: dict[str, Any]
    line: bytes = b""
    written: bool = False
    acknowledged: bool = False


_LOG = logging.getLogger(__name__)
_WORKERS: concurrent.futures.ThreadPoolExecutor | None = None
_WORKERS_LOCK = threading.Lock()


def _workers() -> concurrent.futures.ThreadPoolExecutor:
    """The threads every trail's file I/O runs in (made on first use, shared)."""
    global _WORKERS
    with _WORKERS_LOCK:
        if _WORKERS is None:
            _WORKERS = concurrent.futures.ThreadPoolExecutor(thread_name_prefix="fapilog-notebook")
        return _WORKERS


def _forget_workers() -> None:
    """In a forked child: the parent's threads are not there, so make new ones."""
    global _WORKERS, _WORKERS_LOCK
    _WORKERS, _WORKERS_LOCK = None, threading.Lock()


#: Trails that hold their directory (or have events queued): a forked child
#: must not write through them.
_WRITERS: weakref.WeakSet[AuditTrail] = weakref.WeakSet()


def _disown_in_child() -> None:
    """In a forked child: every trail the parent writes through stops here."""
    for trail in list(_WRITERS):
        trail._disown()
    _WRITERS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_workers)
    os.register_at_fork(after_in_child=_disown_in_child)


@dataclass(slots=True)
class _Run:
    """Consecutive queued events of one day, joined for one write."""

    day: date
    data: bytes
    count: int
    head: ChainHead
    head_time: str | None


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def utc_now() -> datetime:
    """The current time in UTC; the one clock the writer stamps events with."""
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _retrieve(task: asyncio.Task[None]) -> None:
    """Mark a shared start's error as seen (its callers each got it, if any waited)."""
    if not task.cancelled():
        task.exception()


def _resolve(futs: list[asyncio.Future[None]]) -> None:
    for fut in futs:
        if not fut.done():
            fut.set_result(None)


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
    if isinstance(exc, OSError):
        return ErrorCategory.IO
    if isinstance(exc, PermissionError):
        return ErrorCategory.AUTHZ
    if isinstance(exc, (ValueError, TypeError, KeyError)):
        return ErrorCategory.VALIDATION
    return ErrorCategory.SYSTEM


class AuditTrail:
    """A tamper-evident audit trail written without blocking the event loop.

    A drop-in for fapilog's ``AuditTrail``: same methods, same files. When
    ``await log_event(...)`` returns, the event's line is in its day file
    (and fsync'd with ``fsync=True``). A new trail on a directory with
    events resumes the chain where the files end.

    Args:
        policy: compliance settings; ``policy.enabled=False`` turns logging off.
        storage_path: directory of the daily files (default ``audit_logs``).
        fsync: fsync each batch before acknowledging it, and the directory once
            for each name the trail creates in it (day file, seal, manifest).
        on_write_error: ``"contain"`` (default, as fapilog) keeps a failed
            event queued and returns before it is on disk (counted in
            ``get_statistics()["events_acknowledged_unwritten"]``); ``"raise"``
            raises ``AuditWriteError``.
        max_pending: most events held while storage fails; beyond it events
            are dropped, counted and warned about (or raise in "raise" mode).
        clock: where event timestamps come from (default: the current UTC
            time); it must return tz-aware datetimes. Useful to replay or
            backfill events, and in tests.
        key: a static key (32+ bytes): each event is MACed with HMAC-SHA256.
        key_file: a forward-secure writer key made by ``fapilog-notebook
            keygen``; it evolves one way at each UTC day boundary.
        record_lifecycle: record a ``system_startup`` event at :meth:`start`
            and a ``system_shutdown`` event at :meth:`stop` (PCI DSS 10.2.1.6,
            start and stop of logging). Off by default, as in fapilog.
        signing_key: a signing key file made by ``fapilog-notebook keygen
            --signing``: every checkpoint of the trail's Merkle tree is signed
            with the current day's Ed25519 key, which is certified and then
            destroyed at each UTC day boundary.

    Every trail keeps an RFC 9162 Merkle tree over its event lines beside
    them (``.fapilog-notebook.tree``) and records its size and root in each
    seal and manifest; with ``signing_key`` they also hold the signed
    checkpoint, and the day-key certificates are kept in
    ``.fapilog-notebook.certificates.json``.

    After every batch the trail seals its head (``.fapilog-notebook.seal.json``)
    and, when it leaves a day file, records that day's manifest; both are
    MACed when the trail is keyed.
    """

    def __init__(
        self,
        policy: CompliancePolicy | None = None,
        storage_path: Path | str | None = None,
        *,
        fsync: bool = False,
        on_write_error: WriteErrorMode = "contain",
        max_pending: int = 100_000,
        clock: Callable[[], datetime] | None = None,
        key: bytes | None = None,
        key_file: Path | str | None = None,
        record_lifecycle: bool = False,
        signing_key: Path | str | None = None,
    ) -> None:
        if on_write_error not in ("contain", "raise"):
            raise ValueError(f"on_write_error must be 'contain' or 'raise', not {on_write_error!r}")
        if type(max_pending) is not int or max_pending < 1:
            raise ValueError(f"max_pending must be a positive integer, not {max_pending!r}")
        if policy is not None and not isinstance(policy, CompliancePolicy):
            raise TypeError(f"policy must be a CompliancePolicy, not {policy!r}")
        self.policy = policy or CompliancePolicy()
        self.storage_path = Path(storage_path) if storage_path is not None else Path("audit_logs")
        self.fsync = bool(fsync)
        self.on_write_error: WriteErrorMode = on_write_error
        self.max_pending = max_pending
        if clock is not None and not callable(clock):
            raise TypeError(f"clock must be a callable returning a datetime, not {clock!r}")
        self._clock = clock
        self.record_lifecycle = bool(record_lifecycle)
        self._os_user: str | None = None
        if key is not None and key_file is not None:
            raise ValueError(
                "pass either key (a static key) or key_file (forward-secure), not both"
            )
        self._static_key = None if key is None else keys.check_key_bytes(key)
        self._key_file = None if key_file is None else Path(key_file)
        self._writer_key: keys.WriterKey | None = None
        self._tally: storage.DayTally | None = None
        #: The day file events go to: never earlier than the newest written or
        #: found (an event stamped earlier, when the clock steps back, goes here).
        self._day_floor: date | None = None
        self._signing_path = None if signing_key is None else Path(signing_key)
        self._signing: SigningKeyFile | None = None
        self._tree: TreeFile | None = None
        self._seal_file: storage.SealFile | None = None
        self._hostname = socket.gethostname()

        self._lock = threading.Lock()
        self._pending: deque[_Pending] = deque()
        self._open = _Batch()
        self._busy = False  # a worker-thread hop (commit, open, close) is under way
        self._failing = False

        self._started = False
        self._starting: asyncio.Task[None] | None = None  # the start under way, if any
        self._stopped = False  # stop() ran and start() has not run since
        self._dir_lock = storage.DirectoryLock(self.storage_path)
        self._files: storage.DayFiles | None = None
        self._sealing = False  # True while the chain head on disk is known
        # The last event sealed: its sequence number (0: none) and checksum.
        self._sealed_sequence = 0
        self._sealed_checksum: str | None = None
        self._head: ChainHead | None = None  # the last event on disk
        self._head_time: str | None = None
        self._resumed_from: ChainHead | None = None

        self._logged = 0
        self._written = 0
        self._dropped = 0
        self._write_failures = 0
        self._files_replaced = 0
        self._acknowledged_unwritten = 0
        self._batches = 0
        self._error_events = 0
        self._security_events = 0
        self._last_error: str | None = None
        self._seal_failures = 0
        self._repaired: str | None = None  # a file whose torn last line start() terminated
        self._writer_pid: int | None = None  # the process that holds the directory
        self._forked_from: int | None = None  # set in a forked child: the writer's pid

    def __repr__(self) -> str:
        mode = "forward-secure" if self._key_file else "keyed" if self._static_key else "unkeyed"
        if self._signing_path is not None:
            mode += ", signed"
        return (
            f"AuditTrail(storage_path={str(self.storage_path)!r}, {mode}, fsync={self.fsync}, "
            f"on_write_error={self.on_write_error!r})"
        )

    @property
    def keyed(self) -> bool:
        """True when events are MACed (static or forward-secure key)."""
        return self._static_key is not None or self._key_file is not None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Open the directory: create it (0700), lock it, find where the chain ends.

        :raises AuditTrailLockedError: another writer holds the directory.
        :raises AuditWriteError: the directory cannot be opened and
            ``on_write_error="raise"``; otherwise the fault is recorded and
            retried at the next write.
        """
        self._refuse_if_forked()
        if self._started:
            return
        # One start for every concurrent first caller on this loop: each of
        # them awaits the same task (and gets its error), instead of each
        # running its own hop and waking all the others when it ends.
        loop = asyncio.get_running_loop()
        starting = self._starting
        if starting is None or starting.get_loop() is not loop:
            starting = self._starting = loop.create_task(self._start_once())
            starting.add_done_callback(_retrieve)
        await asyncio.shield(starting)

    async def _start_once(self) -> None:
        """The work of :meth:`start`, run once however many callers wait for it."""
        try:
            if self._started:
                return
            try:
                await self._exclusive(self._open_storage)
            except AuditTrailLockedError:
                raise
            except OSError as exc:
                self._record_failure(exc)
                if self.on_write_error == "raise":
                    raise self._write_error(exc) from exc
            self._started = True
            self._stopped = False
            if self.record_lifecycle:
                await self._log_lifecycle(AuditEventType.SYSTEM_STARTUP, "Audit trail started")
        finally:
            if self._starting is asyncio.current_task():
                self._starting = None

    async def stop(self) -> None:
        """Write everything queued, then close the files and release the directory."""
        if not self._started:
            return
        if self.record_lifecycle:
            await self._log_lifecycle(AuditEventType.SYSTEM_SHUTDOWN, "Audit trail stopped")
        await self.drain()
        await self._exclusive(self._close_storage)
        self._started = False
        self._stopped = True
        with self._lock:
            left = len(self._pending)
            acknowledged = self._acknowledged_unwritten
        if left:
            warnings.warn(
                f"AuditTrail stopped with {left} events not written to {self.storage_path} "
                f"({acknowledged} of them acknowledged to their callers; last error: "
                f"{self._last_error}); they stay queued: call start() and drain() to retry",
                AuditWriteWarning,
                stacklevel=2,
            )

    async def _log_lifecycle(self, kind: AuditEventType, message: str) -> None:
        """Record the start or stop of logging (``record_lifecycle=True``).

        The user is the OS account running the writer (looked up once, in a
        worker thread: it may read the password database).
        """
        if self._os_user is None:
            from ._access import os_user

            self._os_user = await asyncio.to_thread(os_user)
        await self.log_event(
            kind,
            message,
            user_id=self._os_user,
            component="fapilog_notebook.AuditTrail",
            operation=kind.value,
            storage_path=str(self.storage_path),
        )

    async def drain(self) -> None:
        """Wait until every event logged before this call is on disk (or has failed)."""
        with self._lock:
            batch = self._open if self._pending else None
        if batch is not None:
            await self._wait_for(batch, raise_errors=False)

    async def cleanup(self) -> None:
        """fapilog's name for :meth:`stop`."""
        await self.stop()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # ------------------------------------------------------------------ logging

    async def log_event(
        self,
        event_type: AuditEventType | str,
        message: str,
        *,
        log_level: AuditLogLevel | str = AuditLogLevel.INFO,
        component: str | None = None,
        operation: str | None = None,
        error: BaseException | None = None,
        user_id: str | None = None,
        session_id: str | None = None,
        request_id: str | None = None,
        client_ip: str | None = None,
        user_agent: str | None = None,
        contains_pii: bool = False,
        contains_phi: bool = False,
        data_classification: str | None = None,
        regulatory_tags: Iterable[str] | None = None,
        **metadata: Any,
    ) -> str:
        """Record one event and return its id once its line is on disk.

        When storage fails with ``on_write_error="contain"`` it returns with
        the event only queued (retried later; see ``get_statistics()``).

        :raises TypeError, ValueError: bad input (unknown event type, a message
            that is not a string, metadata that is not JSON-serialisable);
            nothing is queued and no sequence number is taken.
        :raises AuditWriteError: storage failed and ``on_write_error="raise"``.
        """
        if not self.policy.enabled:
            return ""
        self._refuse_if_forked()
        kind = _enum_value(AuditEventType, event_type, "event type")
        level = _enum_value(AuditLogLevel, log_level, "log level")
        if not isinstance(message, str):
            raise TypeError(f"message must be a string, not {type(message).__name__}")
        if isinstance(regulatory_tags, str):
            raise TypeError("regulatory_tags must be a list of strings, not a string")
        tags = list(regulatory_tags or ())
        now = self._now()
        payload = None
        if error is None:
            payload = _plain_payload(
                now,
                kind,
                level,
                message,
                self.policy.level,
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
            event = self._build(
                kind,
                message,
                now,
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
            payload = self._payload(event)
            event_id = event.event_id
        else:
            event_id = payload["event_id"]
        if not self._started:
            if self._stopped:
                # Reopening silently would take the directory back from a writer
                # that started after this one stopped.
                raise AuditTrailError(
                    f"trail was stopped; create a new AuditTrail or call start() again "
                    f"to log to {self.storage_path}"
                )
            await self.start()
        queued = self._enqueue(payload, now, kind, level, asyncio.get_running_loop())
        if queued is not None:
            batch, claim, item = queued
            if isinstance(claim, asyncio.Future):
                # The common case: another caller leads; wait for its hop.
                await claim
                if batch.done and batch.error is None:
                    return event_id
                claim = None
            await self._wait_for(batch, raise_errors=self.on_write_error == "raise", claim=claim)
            if batch.error is not None:
                self._acknowledge_unwritten(item)
        return event_id

    def _acknowledge_unwritten(self, item: _Pending) -> None:
        """``item``'s caller returns (contained fault) while it is only queued: count it."""
        with self._lock:
            if not item.written and not item.acknowledged:
                item.acknowledged = True
                self._acknowledged_unwritten += 1

    async def log_error(
        self,
        error: BaseException,
        *,
        operation: str | None = None,
        component: str | None = None,
        **metadata: Any,
    ) -> str:
        """Record an exception as an ``error_occurred`` event.

        fapilog errors keep their context; any other exception gets one, with
        a category from its type and ``high`` severity.
        """
        if not isinstance(error, BaseException):
            raise TypeError(f"log_error takes an exception, not {error!r}")
        context = _context_of(error)
        message = getattr(error, "message", None)
        if not isinstance(message, str):
            message = str(error) or type(error).__name__
        return await self.log_event(
            AuditEventType.ERROR_OCCURRED,
            f"Error occurred: {message}",
            log_level=_SEVERITY_TO_LEVEL.get(context.severity, AuditLogLevel.INFO),
            operation=operation,
            component=component,
            error=error,
            user_id=context.user_id,
            session_id=context.session_id,
            request_id=context.request_id,
            **metadata,
        )

    async def log_security_event(
        self,
        event_type: AuditEventType | str,
        message: str,
        *,
        user_id: str | None = None,
        client_ip: str | None = None,
        user_agent: str | None = None,
        **metadata: Any,
    ) -> str:
        """Record a security event at log level ``security``."""
        return await self.log_event(
            event_type,
            message,
            log_level=AuditLogLevel.SECURITY,
            user_id=user_id,
            client_ip=client_ip,
            user_agent=user_agent,
            **metadata,
        )

    async def log_data_access(
        self,
        resource: str,
        operation: str,
        *,
        user_id: str | None = None,
        data_classification: str | None = None,
        contains_pii: bool = False,
        contains_phi: bool = False,
        **metadata: Any,
    ) -> str:
        """Record access to ``resource``; the operation picks the event type."""
        if not isinstance(operation, str):
            raise TypeError(f"operation must be a string, not {operation!r}")
        return await self.log_event(
            _DATA_OPERATIONS.get(operation.lower(), AuditEventType.DATA_ACCESS),
            f"Data {operation} on resource: {resource}",
            user_id=user_id,
            operation=operation,
            data_classification=data_classification,
            contains_pii=contains_pii,
            contains_phi=contains_phi,
            resource=resource,
            **metadata,
        )

    def _build(
        self,
        kind: AuditEventType,
        message: str,
        now: datetime,
        *,
        log_level: AuditLogLevel,
        error: BaseException | None,
        regulatory_tags: list[str],
        metadata: dict[str, Any],
        contains_pii: Any,
        contains_phi: Any,
        **texts: Any,
    ) -> AuditEvent:
        """The event through pydantic: any input the plain path does not take.

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
                compliance_level=self.policy.level,
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

    def _now(self) -> datetime:
        if self._clock is None:
            return utc_now()
        now = self._clock()
        if not isinstance(now, datetime) or now.utcoffset() is None:
            raise ValueError(f"clock returned {now!r}; it must return a tz-aware datetime")
        return now.astimezone(UTC)

    @staticmethod
    def _payload(event: AuditEvent) -> dict[str, Any]:
        try:
            return event.model_dump(mode="json")
        except (PydanticSerializationError, ValueError, TypeError, RecursionError) as exc:
            raise _not_serialisable(exc) from None

    def _enqueue(
        self,
        payload: dict[str, Any],
        timestamp: datetime,
        kind: AuditEventType,
        level: AuditLogLevel,
        loop: asyncio.AbstractEventLoop,
    ) -> tuple[_Batch, _Claim, _Pending] | None:
        """Queue the event (sealed at once when possible) and claim its next step.

        ``timestamp`` is the event's (UTC) time: it picks the day file.
        Returns the batch it joined, what to do next (see :meth:`_claim`),
        decided under the same lock, and the queued item; ``None`` when the
        queue was full.
        """
        item = _Pending(timestamp.date(), payload)
        with self._lock:
            full = len(self._pending) >= self.max_pending
            if full:
                self._dropped += 1
                dropped = self._dropped
            else:
                try:
                    if not (self._sealing and self._seal(item)):
                        # Sealed later, in order, by the worker thread; stop
                        # sealing on the loop until it has caught up.
                        self._sealing = False
                        canonical_json(payload)
                except (ValueError, TypeError, RecursionError) as exc:
                    raise _not_serialisable(exc) from None
                batch = self._open
                self._pending.append(item)
                claim = self._claim(batch, loop)
                self._logged += 1
                if kind is AuditEventType.ERROR_OCCURRED or level in (
                    AuditLogLevel.ERROR,
                    AuditLogLevel.CRITICAL,
                ):
                    self._error_events += 1
                if kind in _SECURITY_TYPES:
                    self._security_events += 1
        if full:
            text = (
                f"audit queue full ({self.max_pending} events waiting for storage at "
                f"{self.storage_path}: {self._last_error}); event {payload['event_id']} "
                f"({kind.value}) was dropped, {dropped} dropped so far"
            )
            if self.on_write_error == "raise":
                raise AuditQueueFullError(text)
            warnings.warn(text, AuditWriteWarning, stacklevel=3)
            return None
        return batch, claim, item

    # ------------------------------------------------------------------ group commit

    def _claim(self, batch: _Batch, loop: asyncio.AbstractEventLoop) -> _Claim:
        """Decide what a caller waiting for ``batch`` does next (caller holds the lock)."""
        if batch.done:
            return _DONE
        if not self._busy:
            self._busy = True  # others wait on the batch while we gather it
            return _LEAD
        return batch.future(loop)

    async def _wait_for(
        self, batch: _Batch, *, raise_errors: bool, claim: _Claim | None = None
    ) -> None:
        """Return once ``batch`` is written (or failed), leading the commit if no one is.

        A caller that finds the writer free first yields once, so every task
        that is ready queues its event, then takes all that is queued on the
        loop thread: one hop carries them all while the loop sits idle instead
        of competing with the worker thread for the GIL.
        """
        loop = asyncio.get_running_loop()
        while True:
            if claim is None:
                with self._lock:
                    claim = self._claim(batch, loop)
            if claim is _DONE:
                break
            if claim is _LEAD:
                try:
                    await asyncio.sleep(0)
                except BaseException:
                    self._release(None)
                    raise
                with self._lock:
                    taken, self._open = self._open, _Batch()
                    items = list(self._pending)
                    wait = taken.future(loop)
                    sealed = self._sealing  # then every item taken is sealed
                try:
                    # Joined here while the loop is otherwise idle: the worker
                    # thread then only writes. (No one reseals while we are busy.)
                    runs = _runs_of(items) if sealed else None
                    seal_line = self._seal_line(runs[-1]) if runs else None
                except BaseException as exc:
                    taken.error = _describe(exc)
                    self._release(taken)
                    raise
                self._submit(functools.partial(self._commit, items, taken, runs, seal_line), taken)
            else:
                assert isinstance(claim, asyncio.Future)
                wait = claim
            claim = None
            await wait
        if batch.error is not None and raise_errors:
            raise AuditWriteError(
                f"audit event not written to {self.storage_path}: {batch.error}; "
                "it stays queued and is retried on the next write, drain() or stop()"
            )

    async def _exclusive(self, work: Callable[[], None]) -> None:
        """Run ``work`` in a worker thread once no commit or other hop is under way."""
        loop = asyncio.get_running_loop()
        while True:
            with self._lock:
                if not self._busy:
                    self._busy = True
                    break
                wait = self._open.future(loop)
            await wait
        await asyncio.shield(asyncio.wrap_future(self._submit(work, None)))

    def _submit(
        self, work: Callable[[], None], taken: _Batch | None
    ) -> concurrent.futures.Future[None]:
        """Start ``work`` in a worker thread; the caller has made the trail busy.

        Submitted at once, not from a task: the thread runs (and frees the
        writer) even if the caller is cancelled or its loop goes away. A
        commit's callers learn of its end from :meth:`_release`, so its
        future is not wrapped for the loop (that would wake it twice).
        """
        try:
            future = _workers().submit(self._run_exclusive, work, taken)
        except BaseException as exc:
            if taken is not None:
                taken.error = _describe(exc)
            self._release(taken)
            raise
        if taken is not None:
            future.add_done_callback(self._report_unexpected)
        return future

    def _run_exclusive(self, work: Callable[[], None], taken: _Batch | None) -> None:
        try:
            work()
        except BaseException as exc:
            if taken is not None and taken.error is None:
                taken.error = _describe(exc)  # its callers must not take it as written
            raise
        finally:
            self._release(taken)

    def _report_unexpected(self, future: concurrent.futures.Future[None]) -> None:
        """Say what escaped a commit (its callers were told it failed); no one awaits it."""
        exc = None if future.cancelled() else future.exception()
        if exc is not None:
            _LOG.error("audit commit to %s failed", self.storage_path, exc_info=exc)

    def _release(self, taken: _Batch | None) -> None:
        """Free the writer and wake its waiters, once per event loop."""
        with self._lock:
            self._busy = False
            waiters = self._open.waiters
            self._open.waiters = []
            if taken is not None:
                taken.done = True
                waiters += taken.waiters
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        for loop, fut in waiters:
            by_loop.setdefault(loop, []).append(fut)
        for loop, futs in by_loop.items():
            # A loop closed (even just now) has no one left to wake; the others still do.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve, futs)

    def _refuse_if_forked(self) -> None:
        if self._forked_from is not None:
            raise AuditTrailForkedError(
                f"this AuditTrail writes to {str(self.storage_path)!r} from process "
                f"{self._forked_from}; this process ({os.getpid()}) is a fork of it and does "
                "not write through it (one writer per directory, or the chain forks). Create "
                "a new AuditTrail in this process after the parent's trail has stopped"
            )

    def _disown(self) -> None:
        """In a forked child: forget the parent's files without touching its lock.

        The inherited descriptors are closed, never unlocked: an ``flock``
        belongs to the open file shared with the parent, and unlocking it here
        would free the directory for a second writer while the parent writes.
        """
        self._lock = threading.Lock()  # the parent's may have been held by a thread
        if not (self._dir_lock.held or self._pending):
            return  # stopped, nothing queued: the child may start it as its own writer
        self._forked_from = self._writer_pid or os.getppid()
        self._dir_lock.forget()
        if self._files is not None:
            with contextlib.suppress(OSError):
                self._files.close()
            self._files = None
        if self._seal_file is not None:
            with contextlib.suppress(OSError):
                self._seal_file.close()
            self._seal_file = None
        self._writer_key = None
        self._started = False
        self._pending.clear()  # the parent's to write, not this process's
        self._sealing = False

    def _open_storage(self) -> None:
        if self._dir_lock.held:
            return
        storage.ensure_directory(self.storage_path, fsync=self.fsync)
        storage.refuse_linked_audit_files(self.storage_path)  # before the head is read
        try:
            self._dir_lock.acquire()
        except storage.DirectoryLockedError as exc:
            raise AuditTrailLockedError(str(exc)) from None
        self._writer_pid = os.getpid()
        _WRITERS.add(self)
        try:
            scan = storage.find_head(self.storage_path, repair=True)
        except BaseException:
            self._dir_lock.release()
            raise
        try:
            if self._key_file is not None:
                self._writer_key = keys.WriterKey(self._key_file)
            if self._signing_path is not None:
                self._signing = SigningKeyFile.load(self._signing_path)
                certs = CertificateStore.load(self.storage_path)
                if certs.adopt(self._signing):
                    certs.save(self.storage_path, fsync=self.fsync)
            newest = scan.newest
            self._tally = storage.tally_file(self.storage_path, newest) if newest else None
            floors = [d for d in (newest, self._writer_key and self._writer_key.day) if d]
            self._day_floor = max(floors) if floors else None
        except BaseException:
            self._dir_lock.release()
            raise
        self._files = storage.DayFiles(self.storage_path, fsync=self.fsync)
        self._open_tree(scan.head.sequence_number if scan.head else 0)
        with self._lock:
            # Nothing queued was acknowledged: chain it after what is on disk.
            self._head = self._resumed_from = scan.head
            self._sealed_sequence = scan.head.sequence_number if scan.head else 0
            self._sealed_checksum = scan.head.checksum if scan.head else None
            if scan.terminated_torn_line is not None:
                self._repaired = str(scan.terminated_torn_line)
            for item in self._pending:
                item.line = b""
        self._seal_queued()

    def _close_storage(self) -> None:
        with self._lock:
            self._sealing = False
        if self._tally is not None and self._files is not None:
            try:
                self._write_manifest(self._tally)
            except OSError as exc:
                self._record_seal_failure(exc)
        self._writer_key = None
        self._close_tree()
        if self._signing is not None:
            self._signing.key.destroy()
            self._signing = None
        if self._seal_file is not None:
            self._seal_file.close()
            self._seal_file = None
        if self._files is not None:
            self._files.close()
            self._files = None
        self._dir_lock.release()

    def _seal(self, item: _Pending) -> bool:
        """Chain ``item`` after the last sealed event (caller holds the lock).

        The item goes to the newest day file so far if it is stamped earlier
        (the clock stepped back): the writer never returns to an earlier file.
        Returns False, sealing nothing, when a forward-secure key must first
        evolve to the item's day (left to the worker thread).
        """
        if self._day_floor is not None and item.day < self._day_floor:
            item.day = self._day_floor
        key = self._static_key
        if key is not None:
            item.payload[MAC_FIELD] = {"alg": ALG_STATIC}
        elif self._writer_key is not None:
            if item.day > self._writer_key.day:
                return False
            key = self._writer_key.key
            item.payload[MAC_FIELD] = {
                "alg": ALG_FORWARD_SECURE,
                "day": self._writer_key.day.isoformat(),
            }
        sequence = self._sealed_sequence + 1
        item.line, self._sealed_checksum = seal(
            item.payload, sequence_number=sequence, previous_hash=self._sealed_checksum, key=key
        )
        self._sealed_sequence = sequence  # only once sealed: bad input takes no number
        self._day_floor = item.day
        return True

    def _seal_queued(self) -> None:
        """Seal what the loop could not, evolving the key as days pass (worker thread).

        The key evolves in memory only; its file is overwritten in
        :meth:`_commit`, once the days it leaves are recorded.
        """
        while True:
            with self._lock:
                unsealed = next((item for item in self._pending if not item.line), None)
                if unsealed is None:
                    self._sealing = True
                    return
                if self._seal(unsealed):
                    continue
                assert self._writer_key is not None
                self._writer_key.advance(unsealed.day)

    def _commit(
        self,
        batch: list[_Pending],
        taken: _Batch,
        runs: list[_Run] | None = None,
        seal_line: bytes | None = None,
    ) -> None:
        """Append ``batch``, one write per day file (runs in a worker thread).

        ``runs`` and ``seal_line`` are the batch's writes when the loop could
        prepare them (every event sealed on an open storage); else they are
        made here, after opening storage and sealing what is left.
        """
        if not batch:
            return
        try:
            if runs is None:
                self._open_storage()
                if not self._sealing:
                    self._seal_queued()
                runs = _runs_of(batch)
                seal_line = None
            assert self._files is not None
            assert runs is not None, "queued events left unsealed"
            replaced: list[str] = []
            for run in runs:
                if self._tally is not None and self._tally.day != run.day:
                    self._leave_day(self._tally)
                if self._writer_key is not None and run.day > self._writer_key.stored_day:
                    # Forward-secure: every day the key leaves is recorded with
                    # its own key first; only then is the key file overwritten.
                    self._record_empty_days(run.day)
                    self._writer_key.persist()
                if self._signing is not None and run.day > self._signing.day:
                    self._evolve_signing(run.day)
                if self._tally is None or self._tally.day != run.day:
                    # Opened (and checked to be a regular file) before it is read.
                    self._files.open_day(run.day)
                    self._tally = storage.tally_file(self.storage_path, run.day)
                note = self._files.append(run.day, run.data)
                if note is not None:
                    replaced.append(note)
                self._tally.add(run.head.sequence_number, run.head.checksum, run.count)
                with self._lock:
                    for _ in range(run.count):
                        item = self._pending.popleft()
                        item.written = True
                        if item.acknowledged:
                            self._acknowledged_unwritten -= 1
                    self._head = run.head
                    self._head_time = run.head_time
                    self._written += run.count
                self._grow_tree(run.data, run.head.sequence_number, run.count)
            with self._lock:
                self._batches += 1
                self._failing = False
            for note in replaced:  # once the batch is counted written: a warning may raise
                self._record_replaced(note)
        except Exception as exc:
            taken.error = _describe(exc)  # before warning: the warning may raise
            self._record_failure(exc)
            return
        try:
            if self._tree is not None:
                # Made again once the tree has grown: the seal names its new root.
                seal_line = self._tree_seal_line(runs[-1])
            elif seal_line is None:
                seal_line = self._seal_line(runs[-1])
            if self._seal_file is None:
                self._seal_file = storage.SealFile(self.storage_path, fsync=self.fsync)
            self._seal_file.write(seal_line)
        except OSError as exc:
            self._record_seal_failure(exc)

    def _leave_day(self, tally: storage.DayTally) -> None:
        """The writer moves to another day file: record the one it leaves.

        :raises OSError: forward-secure, the record could not be written; the
            batch then fails and is retried, as the key must not move on
            before the day it leaves is recorded. Otherwise the failure is
            counted and warned about, and the events are written.
        """
        self._files.close_day(tally.day) if self._files is not None else None
        try:
            self._write_manifest(tally)
        except OSError as exc:
            if self._writer_key is not None:
                raise
            self._record_seal_failure(exc)

    def _record_key(self) -> tuple[dict[str, str] | None, bytes | None]:
        """The ``mac`` object and key for a seal: the key events are MACed with now."""
        if self._static_key is not None:
            return {"alg": ALG_STATIC}, self._static_key
        if self._writer_key is None:
            return None, None
        mac_info = {"alg": ALG_FORWARD_SECURE, "day": self._writer_key.day.isoformat()}
        return mac_info, self._writer_key.key

    def _day_key(self, day: date) -> tuple[dict[str, str] | None, bytes | None] | None:
        """The ``mac`` object and key for a record of ``day``.

        Forward-secure, the day's own key, or ``None`` when it is gone (the
        key file moved past the day, which is recorded before that happens).
        """
        if self._writer_key is None:
            return self._record_key()
        key = self._writer_key.key_for(day)
        if key is None:
            return None
        return {"alg": ALG_FORWARD_SECURE, "day": day.isoformat()}, key

    def _write_manifest(self, tally: storage.DayTally) -> None:
        """Record what ``tally``'s day file holds, MACed with that day's key when keyed.

        A forward-secure day file with no intact event gets an empty-day
        record instead (the day series needs every day).
        """
        if tally.events == 0:
            if self._writer_key is not None:
                self._write_empty_day(tally.day)
            return
        found = self._day_key(tally.day)
        if found is None:
            return  # recorded already, before its key was destroyed
        mac_info, key = found
        record: dict[str, Any] = {
            "kind": "manifest",
            "day": tally.day.isoformat(),
            "file": storage.file_name(tally.day),
            "first_sequence": tally.first_sequence,
            "last_sequence": tally.last_sequence,
            "events": tally.events,
            "last_checksum": tally.last_checksum,
            "closed_at": _iso(datetime.now(UTC)),
        }
        record.update(self._tree_fields())
        if mac_info is not None:
            record[MAC_FIELD] = mac_info
        record["checksum"] = compute_checksum(record, key)
        storage.write_record(
            storage.manifest_path(self.storage_path, tally.day), record, fsync=self.fsync
        )

    def _record_empty_days(self, until: date) -> None:
        """Forward-secure: record each day from the key file's day to ``until`` (excluded)
        that has no day file of its own, so a deleted day cannot pass for an idle one."""
        assert self._writer_key is not None
        day = self._writer_key.stored_day
        tally_day = self._tally.day if self._tally is not None else None
        while day < until:
            # A day with a manifest (the day just left, or one closed before) is
            # recorded already; any other is recorded here, even when the writer
            # goes on in a later file found at start (its day is ``until``).
            if day != tally_day and not storage.manifest_path(self.storage_path, day).exists():
                self._write_empty_day(day)
            day += timedelta(days=1)

    def _write_empty_day(self, day: date) -> None:
        """Record that ``day`` had no events, MACed with its own key, naming the chain's head."""
        found = self._day_key(day)
        if found is None:
            return
        mac_info, key = found
        head = self._head
        record: dict[str, Any] = {
            "kind": "empty_day",
            "day": day.isoformat(),
            "events": 0,
            "last_sequence": head.sequence_number if head else 0,
            "last_checksum": head.checksum if head else None,
            "closed_at": _iso(datetime.now(UTC)),
        }
        if mac_info is not None:
            record[MAC_FIELD] = mac_info
        record["checksum"] = compute_checksum(record, key)
        storage.write_record(
            storage.empty_day_path(self.storage_path, day), record, fsync=self.fsync
        )

    def _seal_line(self, last: _Run) -> bytes:
        """The seal record naming ``last``'s head as the head on disk.

        Made on the loop when it prepares a batch; the worker makes it again
        with the tree's new size and root (`_tree_seal_line`).
        """
        return self._tree_seal_line(last, tree=False)

    def _tree_seal_line(self, last: _Run, *, tree: bool = True) -> bytes:
        """The seal record, with the tree's size, root and signed checkpoint if ``tree``."""
        mac_info, key = self._record_key()
        record: dict[str, Any] = {
            "kind": "seal",
            "sequence_number": last.head.sequence_number,
            "head_checksum": last.head.checksum,
            "file": storage.file_name(last.day),
            "time": _iso(datetime.now(UTC)),
        }
        if tree:
            record.update(self._tree_fields())
        if mac_info is not None:
            record[MAC_FIELD] = mac_info
        return seal_record(record, key)[0]

    # ------------------------------------------------------------------ tree and signing

    def _open_tree(self, events: int) -> None:
        """Open the tree file and bring it level with ``events`` on disk (worker thread)."""
        if self._tree is not None:
            return
        tree = TreeFile(self.storage_path)
        try:
            tree.resync(self.storage_path, events)
        except BaseException:
            tree.close()
            raise
        self._tree = tree

    def _close_tree(self) -> None:
        if self._tree is not None:
            with contextlib.suppress(OSError):
                self._tree.close()
            self._tree = None

    def _grow_tree(self, data: bytes, events: int, count: int) -> None:
        """Add a written run's lines to the tree; a fault is counted and the tree rebuilt later."""
        try:
            if self._tree is None:
                self._open_tree(events)  # rebuilt from the files, this run included
            else:
                self._tree.append_run(self.storage_path, data, events - count + 1, events)
        except OSError as exc:
            self._close_tree()
            self._record_seal_failure(exc)

    def _tree_fields(self) -> dict[str, Any]:
        """The tree's size and root (and the signed checkpoint) for a seal or manifest."""
        if self._tree is None:
            return {}
        tree = self._tree.tree
        fields: dict[str, Any] = {
            "tree_size": tree.size,
            "tree_root": base64.b64encode(tree.root()).decode("ascii"),
        }
        if self._signing is not None:
            fields["checkpoint"] = sign_checkpoint(self._signing.key, tree)
        return fields

    def _evolve_signing(self, day: date) -> None:
        """Certify ``day``'s new key with the closing checkpoint; destroy the old key.

        The key file is replaced (new key, certificate and closing note)
        before the certificates beside the trail are: a crash between the two
        is repaired at the next start, which adopts the key file's chain.
        """
        assert self._signing is not None
        if self._tree is None:
            self._open_tree(self._head.sequence_number if self._head else 0)
        assert self._tree is not None
        tree = self._tree.tree
        self._signing.evolve(day, Checkpoint(self._signing.origin, tree.size, tree.root()))
        certs = CertificateStore.load(self.storage_path)
        if certs.adopt(self._signing):
            certs.save(self.storage_path, fsync=self.fsync)

    def _record_seal_failure(self, exc: OSError) -> None:
        # The events are on disk; only the seal or manifest beside them is stale.
        with self._lock:
            self._seal_failures += 1
            self._last_error = f"{type(exc).__name__}: {exc}"
        warnings.warn(
            f"audit seal/manifest in {self.storage_path} not updated ({exc}); "
            "the events themselves are written",
            AuditWriteWarning,
            stacklevel=2,
        )

    def _record_failure(self, exc: BaseException) -> None:
        """Count and remember a storage fault; warn at the first of a streak."""
        with self._lock:
            self._write_failures += 1
            self._last_error = _describe(exc)
            first = not self._failing
            self._failing = True
            pending = len(self._pending)
            acknowledged = self._acknowledged_unwritten
        if first:
            if not pending:
                told = "nothing is queued; the next write, drain() or stop() retries"
            else:
                told = f"{pending} events are not on disk"
                if self.on_write_error == "contain":
                    told += (
                        f" ({acknowledged} of them already acknowledged to their callers; "
                        "with on_write_error='contain' the callers waiting for the others "
                        "return now, before their events are on disk)"
                    )
                told += (
                    "; they stay queued and are retried on the next write, drain() or "
                    "stop() (see get_statistics())"
                )
            warnings.warn(
                f"audit storage at {self.storage_path} failed ({self._last_error}); {told}",
                AuditWriteWarning,
                stacklevel=2,
            )

    def _record_replaced(self, what: str) -> None:
        """A day file was deleted or moved while open: count it, remember it, warn."""
        with self._lock:
            self._files_replaced += 1
            self._last_error = what
        warnings.warn(
            f"{what}; the chain continues in the new file, and verification reports "
            "the events that went with the old one as a gap",
            AuditWriteWarning,
            stacklevel=2,
        )

    def _write_error(self, exc: BaseException) -> AuditWriteError:
        return AuditWriteError(f"audit storage at {self.storage_path} failed: {exc}")

    # ------------------------------------------------------------------ reading

    def head(self) -> Anchor | None:
        """The last event this trail wrote (or found on disk): an anchor to record.

        Keep it outside the system (a ticket, an email, a notebook output) and
        pass it to ``verify_audit_log(..., anchors=[...])`` later.
        """
        with self._lock:
            head, time = self._head, self._head_time
        return None if head is None else Anchor(head.sequence_number, head.checksum, time)

    async def get_statistics(self) -> dict[str, Any]:
        """Counts of what was logged, written, pending, dropped and failed."""
        with self._lock:
            head = self._head
            return {
                "total_events": self._logged,
                "error_events": self._error_events,
                "security_events": self._security_events,
                "queue_size": len(self._pending),
                "events_logged": self._logged,
                "events_written": self._written,
                "events_pending": len(self._pending),
                "events_dropped": self._dropped,
                "events_acknowledged_unwritten": self._acknowledged_unwritten,
                "write_failures": self._write_failures,
                "files_replaced": self._files_replaced,
                "batches_written": self._batches,
                "seal_failures": self._seal_failures,
                "keyed": self.keyed,
                "last_error": self._last_error,
                "last_sequence_number": head.sequence_number if head else None,
                "last_checksum": head.checksum if head else None,
                "terminated_torn_line": self._repaired,
                "resumed_from_sequence": (
                    self._resumed_from.sequence_number if self._resumed_from else None
                ),
                "storage_path": str(self.storage_path),
                "policy": {
                    "compliance_level": self.policy.level.value,
                    "enabled": self.policy.enabled,
                    "retention_days": self.policy.retention_days,
                    # Lines are written as plain JSON whatever the policy asks.
                    "encryption_enabled": False,
                },
            }

    async def get_events(
        self,
        *,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        event_type: AuditEventType | str | None = None,
        log_level: AuditLogLevel | str | None = None,
        user_id: str | None = None,
        component: str | None = None,
        limit: int | None = 100,
    ) -> list[AuditEvent]:
        """Events on disk that match every filter, oldest first, at most ``limit``.

        :raises ValueError: a naive ``start_time``/``end_time``.
        """
        start = _require_aware(start_time, "start_time")
        end = _require_aware(end_time, "end_time")
        kind = None if event_type is None else _enum_value(AuditEventType, event_type, "event type")
        level = None if log_level is None else _enum_value(AuditLogLevel, log_level, "log level")
        if limit is not None and (type(limit) is not int or limit < 0):
            raise ValueError(f"limit must be a non-negative integer or None, not {limit!r}")

        def keep(event: AuditEvent) -> bool:
            return (
                (start is None or event.timestamp >= start)
                and (end is None or event.timestamp <= end)
                and (kind is None or event.event_type == kind)
                and (level is None or event.log_level == level)
                and (user_id is None or event.user_id == user_id)
                and (component is None or event.component == component)
            )

        def read() -> list[AuditEvent]:
            found: list[AuditEvent] = []
            since = start.astimezone(UTC).date() if start else None
            until = end.astimezone(UTC).date() if end else None
            for event in _events_on_disk(self.storage_path, since, until):
                if limit is not None and len(found) >= limit:
                    break
                if keep(event):
                    found.append(event)
            return found

        return await asyncio.to_thread(read)

    @_ClassOrTrailMethod
    def verify_chain(
        trail: AuditTrail | None,
        events: Iterable[AuditEvent],
        key: bytes | keys.VerificationKey | None,
    ) -> AuditChainVerificationResult:
        """Check that ``events`` link one to the next and match their checksums or MACs.

        The first event may start anywhere (a slice from ``get_events``);
        every later one must follow it. A keyed event's MAC is checked with
        ``key`` (a static key, or an auditor's ``VerificationKey`` for a
        forward-secure trail); called on a trail without ``key``, with the
        trail's static key. A keyed event with no key to check it (a
        forward-secure trail's own writer, or the class without ``key``) has
        only its link and sequence number checked: it is counted in
        ``macs_unchecked``, never reported as a checksum mismatch, and
        ``macs_checked`` counts only the MACs that were checked. Given a key,
        an event without a MAC is an error (a downgrade), as in
        ``verify_audit_log``.
        """
        if key is None and trail is not None:
            key = trail._static_key
        static = keys.check_key_bytes(key) if isinstance(key, (bytes, bytearray)) else None
        verification = key if isinstance(key, keys.VerificationKey) else None
        previous: ChainHead | None = None
        checked = macs = unchecked = 0

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
                if mac_key is None:
                    unchecked += 1
                elif compute_checksum(payload, mac_key) != event.checksum:
                    return result(False, seq, "MAC mismatch")
                else:
                    macs += 1
            previous = ChainHead(seq, event.checksum)
        return result(True)

    async def verify_chain_from_storage(self) -> AuditChainVerificationResult:
        """Verify the files on disk; the first error-severity finding is reported."""
        from .verify import verify_audit_log

        # A static key checks every MAC; a forward-secure writer holds only
        # today's key, so the MACs are left to the auditor's verification key.
        report = await asyncio.to_thread(
            verify_audit_log, self.storage_path, key=self._static_key, progress=False
        )
        return report.compat_result()


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


def _runs_of(batch: list[_Pending]) -> list[_Run] | None:
    """``batch`` split into one write per day; ``None`` if an event is not sealed yet."""
    lines = [item.line for item in batch]
    if b"" in lines:
        return None
    runs: list[_Run] = []
    start = 0
    for end in range(1, len(batch) + 1):
        if end == len(batch) or batch[end].day != batch[start].day:
            last = batch[end - 1].payload
            head_time = last.get("timestamp")
            runs.append(
                _Run(
                    batch[start].day,
                    b"".join(lines[start:end]),
                    end - start,
                    ChainHead(last["sequence_number"], last["checksum"]),
                    head_time if isinstance(head_time, str) else None,
                )
            )
            start = end
    return runs


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
    try:
        for _, path in storage.list_audit_files(directory, since, until):
            with open(path, "rb") as handle:
                for raw in handle:
                    check = check_line(raw.rstrip(b"\r\n"))
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
