"""``AuditTrail``: the non-blocking, ordered, resumable audit writer (the facade).

How a call flows: ``log_event`` validates its input and builds the event on
the caller's loop (:mod:`._factory`), then queues it (:mod:`._commit`). The
first caller that finds no write in progress becomes the *leader*: in one
worker-thread hop it seals everything queued (sequence number, link,
checksum) and appends it, one write per day file (group commit, written by
:mod:`._journal`). Everyone else waits for that hop to end, then either
finds their event on disk or leads the next batch. Nothing runs in the
background, so the trail works on any loop, including loops that only run
while a notebook cell runs, and nothing is tied to the loop it was made on.

Faults in storage are contained: the event stays queued, in order, and the
next write, ``drain()`` or ``stop()`` retries it; ``get_statistics()`` counts
what happened. ``on_write_error="raise"`` makes ``log_event`` fail closed.
"""

from __future__ import annotations

import asyncio
import functools
import os
import socket
import threading
import warnings
import weakref
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Protocol, Self

from .. import keys
from ..chain import Anchor
from ..errors import (
    AuditQueueFullError,
    AuditTrailError,
    AuditTrailForkedError,
    AuditTrailLockedError,
    AuditWriteError,
    AuditWriteWarning,
)
from ..events import (
    AuditChainVerificationResult,
    AuditEvent,
    AuditEventType,
    AuditLogLevel,
    CompliancePolicy,
    ErrorSeverity,
)
from ._commit import Batch, Claim, GroupCommit
from ._factory import EventFactory, _context_of, _enum_value, _require_aware
from ._head import DayRun, Pending, day_runs
from ._journal import Journal
from ._macs import MacKeys
from ._read import check_chain, read_events
from ._stats import Counters, Faults, statistics

__all__ = ["AuditTrail"]

WriteErrorMode = Literal["contain", "raise"]

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


#: Trails that hold their directory (or have events queued): a forked child
#: must not write through them.
_WRITERS: weakref.WeakSet[AuditTrail] = weakref.WeakSet()


def _disown_in_child() -> None:
    """In a forked child: every trail the parent writes through stops here."""
    for trail in list(_WRITERS):
        trail._disown()
    _WRITERS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_disown_in_child)


def _retrieve(task: asyncio.Task[None]) -> None:
    """Mark a shared start's error as seen (its callers each got it, if any waited)."""
    if not task.cancelled():
        task.exception()


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

    The trail is a thin facade over its parts, each in its own module: the
    event factory (``_factory``), the group-commit queue (``_commit``), and
    the journal (``_journal``: directory, files, keys, seal, chain head).
    It is over the usual size on purpose. About 550 lines: fapilog's public
    API (eighteen public and special methods with their signatures and
    documentation, about 350 lines, most of it ``log_event``'s arguments)
    plus about 120 lines of lifecycle and of glue handing each call to its
    part; no rule of the format lives here. Fourteen attributes: six are
    fapilog's public settings, three the parts, five the lifecycle
    (started, starting, stopped, forked from, the OS user for lifecycle
    events).
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
        self.record_lifecycle = bool(record_lifecycle)
        self._os_user: str | None = None
        macs = MacKeys(key, key_file)
        self._factory = EventFactory(clock, socket.gethostname())
        self._queue: GroupCommit[Pending] = GroupCommit(str(self.storage_path))
        counters = Counters()
        self._journal = Journal(
            self.storage_path,
            self.fsync,
            self._queue,
            counters,
            Faults(counters, self._queue, self.storage_path, on_write_error),
            macs,
            None if signing_key is None else Path(signing_key),
        )
        self._started = False
        self._starting: asyncio.Task[None] | None = None  # the start under way, if any
        self._stopped = False  # stop() ran and start() has not run since
        self._forked_from: int | None = None  # set in a forked child: the writer's pid

    def __repr__(self) -> str:
        macs = self._journal.macs
        mode = "forward-secure" if macs.key_file else "keyed" if macs.static else "unkeyed"
        if self._journal.tree.signing_path is not None:
            mode += ", signed"
        return (
            f"AuditTrail(storage_path={str(self.storage_path)!r}, {mode}, fsync={self.fsync}, "
            f"on_write_error={self.on_write_error!r})"
        )

    @property
    def keyed(self) -> bool:
        """True when events are MACed (static or forward-secure key)."""
        return self._journal.macs.keyed

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
                await self._exclusive(functools.partial(self._journal.open, self._held))
            except AuditTrailLockedError:
                raise
            except OSError as exc:
                self._journal.faults.failure(exc)
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
        await self._exclusive(self._journal.close)
        self._started = False
        self._stopped = True
        with self._queue.lock:
            left = len(self._queue.pending)
            acknowledged = self._journal.counters.acknowledged_unwritten
        if left:
            warnings.warn(
                f"AuditTrail stopped with {left} events not written to {self.storage_path} "
                f"({acknowledged} of them acknowledged to their callers; last error: "
                f"{self._journal.counters.last_error}); they stay queued: call start() and "
                "drain() to retry",
                AuditWriteWarning,
                stacklevel=2,
            )

    async def _log_lifecycle(self, kind: AuditEventType, message: str) -> None:
        """Record the start or stop of logging (``record_lifecycle=True``).

        The user is the OS account running the writer (looked up once, in a
        worker thread: it may read the password database).
        """
        if self._os_user is None:
            from ..access import os_user

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
        with self._queue.lock:
            batch = self._queue.open if self._queue.pending else None
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
        payload, event_id, now, kind, level = self._factory.make(
            event_type,
            message,
            self.policy.level,
            log_level=log_level,
            error=error,
            regulatory_tags=regulatory_tags,
            contains_pii=contains_pii,
            contains_phi=contains_phi,
            metadata=metadata,
            component=component,
            operation=operation,
            user_id=user_id,
            session_id=session_id,
            request_id=request_id,
            client_ip=client_ip,
            user_agent=user_agent,
            data_classification=data_classification,
        )
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

    def _acknowledge_unwritten(self, item: Pending) -> None:
        """``item``'s caller returns (contained fault) while it is only queued: count it."""
        with self._queue.lock:
            if not item.written and not item.acknowledged:
                item.acknowledged = True
                self._journal.counters.acknowledged_unwritten += 1

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

    def _enqueue(
        self,
        payload: dict[str, Any],
        timestamp: datetime,
        kind: AuditEventType,
        level: AuditLogLevel,
        loop: asyncio.AbstractEventLoop,
    ) -> tuple[Batch, Claim, Pending] | None:
        """Queue the event (sealed at once when possible) and claim its next step.

        ``timestamp`` is the event's (UTC) time: it picks the day file.
        Returns the batch it joined, what to do next (see
        :meth:`GroupCommit.claim`), decided under the same lock, and the
        queued item; ``None`` when the queue was full.
        """
        item = Pending(timestamp.date(), payload)
        admitted = self._journal.admit(item, kind, level, loop, self.max_pending)
        if isinstance(admitted, int):
            text = (
                f"audit queue full ({self.max_pending} events waiting for storage at "
                f"{self.storage_path}: {self._journal.counters.last_error}); event "
                f"{payload['event_id']} ({kind.value}) was dropped, {admitted} dropped so far"
            )
            if self.on_write_error == "raise":
                raise AuditQueueFullError(text)
            warnings.warn(text, AuditWriteWarning, stacklevel=3)
            return None
        batch, claim = admitted
        return batch, claim, item

    # ------------------------------------------------------------------ group commit

    async def _wait_for(
        self, batch: Batch, *, raise_errors: bool, claim: Claim | None = None
    ) -> None:
        """Return once ``batch`` is written (or failed), leading the commit if no one is."""
        chain = self._journal.chain
        await self._queue.wait_for(batch, self._prepare, lambda: chain.linking, claim)
        if batch.error is not None and raise_errors:
            raise AuditWriteError(
                f"audit event not written to {self.storage_path}: {batch.error}; "
                "it stays queued and is retried on the next write, drain() or stop()"
            )

    def _prepare(self, items: list[Pending], sealed: bool, taken: Batch) -> Callable[[], None]:
        """The commit of ``items`` for the worker thread, joined on the loop when all are sealed.

        Joined here while the loop is otherwise idle: the worker thread then
        only writes. (No one reseals while the queue is busy.)
        """
        runs = day_runs(items) if sealed else None
        seal_line = self._seal_line(runs[-1]) if runs else None
        return functools.partial(self._journal.commit, items, taken, runs, seal_line, self._held)

    def _seal_line(self, last: DayRun) -> bytes:
        """The seal record naming ``last``'s head (the worker adds the tree's root later)."""
        return self._journal.records.seal_line(last, tree=False)

    async def _exclusive(self, work: Callable[[], None]) -> None:
        """Run ``work`` in a worker thread once no commit or other hop is under way."""
        await self._queue.exclusive(work)

    def _held(self) -> None:
        """The trail holds its directory: a forked child must not write through it."""
        _WRITERS.add(self)

    def _refuse_if_forked(self) -> None:
        if self._forked_from is not None:
            raise AuditTrailForkedError(
                f"this AuditTrail writes to {str(self.storage_path)!r} from process "
                f"{self._forked_from}; this process ({os.getpid()}) is a fork of it and does "
                "not write through it (one writer per directory, or the chain forks). Create "
                "a new AuditTrail in this process after the parent's trail has stopped"
            )

    def _disown(self) -> None:
        """In a forked child: forget the parent's files without touching its lock (see
        :meth:`Journal.disown`); the child may start the trail anew if it held nothing."""
        self._queue.lock = threading.Lock()  # the parent's may have been held by a thread
        if not (self._journal.dir_lock.held or self._queue.pending):
            return  # stopped, nothing queued: the child may start it as its own writer
        self._forked_from = self._journal.writer_pid or os.getppid()
        self._journal.disown()
        self._started = False
        self._queue.pending.clear()  # the parent's to write, not this process's

    def _write_error(self, exc: BaseException) -> AuditWriteError:
        return AuditWriteError(f"audit storage at {self.storage_path} failed: {exc}")

    # ------------------------------------------------------------------ reading

    def head(self) -> Anchor | None:
        """The last event this trail wrote (or found on disk): an anchor to record.

        Keep it outside the system (a ticket, an email, a notebook output) and
        pass it to ``verify_audit_log(..., anchors=[...])`` later.
        """
        chain = self._journal.chain
        with self._queue.lock:
            head, time = chain.head, chain.head_time
        return None if head is None else Anchor(head.sequence_number, head.checksum, time)

    async def get_statistics(self) -> dict[str, Any]:
        """Counts of what was logged, written, pending, dropped and failed."""
        with self._queue.lock:
            return statistics(
                self._journal.counters,
                self._journal.chain,
                len(self._queue.pending),
                self.keyed,
                self.storage_path,
                self.policy,
            )

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

        return await asyncio.to_thread(
            read_events, self.storage_path, start, end, kind, level, user_id, component, limit
        )

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
            key = trail._journal.macs.static
        return check_chain(events, key)

    async def verify_chain_from_storage(self) -> AuditChainVerificationResult:
        """Verify the files on disk; the first error-severity finding is reported."""
        from ..verify import verify_audit_log

        # A static key checks every MAC; a forward-secure writer holds only
        # today's key, so the MACs are left to the auditor's verification key.
        report = await asyncio.to_thread(
            verify_audit_log, self.storage_path, key=self._journal.macs.static, progress=False
        )
        return report.compat_result()
