"""The two writers ``AuditTrail`` is compared with, and the event content all of them log.

Both baselines follow the seed story (``shared/seed/story-4.28-*.md``):
``log_event`` builds the ``AuditEvent`` on the caller's loop and puts it on an
unbounded ``asyncio.Queue``; one worker task takes events off the queue (with
``asyncio.wait_for(queue.get(), timeout=0.1)``, as fapilog 0.3.5 does), and for
each one, under an ``asyncio.Lock``, assigns the sequence number and previous
hash and seals the payload exactly as our writer does
(``model_dump(mode="json")`` + :func:`fapilog_notebook.chain.seal`). Then it
appends the line to the day file with ``open(path, "a")`` + write + close:

* :class:`SyncQueueTrail` ("fapilog 0.3.5", the seed's *before*) writes on the
  loop thread;
* :class:`ThreadPerEventTrail` ("seed after") awaits one
  ``asyncio.to_thread(write)`` per event, still behind the single worker.

Every write goes through :func:`fapilog_notebook.storage.write_all`, looked up
at call time, so slowing that one function slows all three writers alike.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from fapilog_notebook import (
    AuditEvent,
    AuditEventType,
    AuditLogLevel,
    CompliancePolicy,
    storage,
)
from fapilog_notebook.chain import encode_event as seal

__all__ = [
    "KINDS",
    "QueueWorkerTrail",
    "SyncQueueTrail",
    "ThreadPerEventTrail",
    "append_line",
    "build_event",
    "event_fields",
]

KINDS = (
    AuditEventType.DATA_ACCESS,
    AuditEventType.DATA_MODIFICATION,
    AuditEventType.AUTHENTICATION_FAILED,
    AuditEventType.CONFIG_CHANGED,
)


def event_fields(producer: int, index: int) -> tuple[AuditEventType, str, dict[str, Any]]:
    """The content of event ``index`` of ``producer``: type, message and keyword arguments.

    Every writer (and the CPU floor) logs exactly this content.
    """
    kind = KINDS[(producer + index) % len(KINDS)]
    return (
        kind,
        f"producer {producer} event {index}",
        {
            "user_id": f"user{producer % 7}@example.com",
            "request_id": f"req-{producer}-{index}",
            "resource": f"/records/{(producer * 31 + index) % 500}",
        },
    )


def build_event(
    event_type: AuditEventType,
    message: str,
    *,
    policy: CompliancePolicy,
    hostname: str,
    process_id: int,
    log_level: AuditLogLevel = AuditLogLevel.INFO,
    user_id: str | None = None,
    request_id: str | None = None,
    metadata: dict[str, Any],
) -> AuditEvent:
    """Build the event with the same fields ``AuditTrail.log_event`` sets."""
    return AuditEvent(
        event_type=event_type,
        message=message,
        log_level=log_level,
        user_id=user_id,
        request_id=request_id,
        compliance_level=policy.level,
        regulatory_tags=[],
        metadata=metadata,
        timestamp=datetime.now(UTC),
        hostname=hostname,
        process_id=process_id,
    )


def append_line(path: Path, line: bytes, fsync: bool) -> None:
    """The seed's ``_write_to_file``: open for append, write the line, close.

    Opened unbuffered in binary append mode (the same open/write/close system
    calls as the seed's text-mode ``open(path, "a")``) so that the bytes go
    through ``storage.write_all``, the one place a slowed storage is injected.
    """
    with open(path, "ab", buffering=0) as handle:
        storage.write_all(handle.fileno(), line)
        if fsync:
            os.fsync(handle.fileno())


class QueueWorkerTrail:
    """A single queue worker that chains each event under a lock, then writes it.

    ``log_event`` only enqueues; :meth:`drain` waits until the queue is empty
    and every event taken from it is written. Storage errors are swallowed, as
    in the seed. ``written`` counts events on disk and ``written_at`` holds
    the ``time.perf_counter()`` at which each one got there, in order.
    """

    name: ClassVar[str] = "queue worker"

    def __init__(self, storage_path: Path, *, fsync: bool = False) -> None:
        self.storage_path = Path(storage_path)
        self.fsync = fsync
        self.policy = CompliancePolicy()
        self.storage_path.mkdir(parents=True, exist_ok=True)
        self._hostname = socket.gethostname()
        self._pid = os.getpid()
        self._queue: asyncio.Queue[AuditEvent] | None = None
        self._lock: asyncio.Lock | None = None
        self._task: asyncio.Task[None] | None = None
        self._sequence = 0
        self._last_hash: str | None = None
        self.written = 0
        self.written_at: list[float] = []

    async def start(self) -> None:
        """Create the queue and start the worker task on the running loop."""
        self._queue = asyncio.Queue()
        self._lock = asyncio.Lock()
        self._task = asyncio.get_running_loop().create_task(self._process_events())

    async def stop(self) -> None:
        """Write what is queued, then stop the worker."""
        await self.drain()
        await self.close()

    async def close(self) -> None:
        """Stop the worker now; events still queued are abandoned."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                if not task.cancelled():
                    raise

    async def drain(self) -> None:
        """Wait until every queued event has been written (or has failed)."""
        assert self._queue is not None, "start() first"
        await self._queue.join()

    async def log_event(
        self,
        event_type: AuditEventType,
        message: str,
        *,
        log_level: AuditLogLevel = AuditLogLevel.INFO,
        user_id: str | None = None,
        request_id: str | None = None,
        **metadata: Any,
    ) -> str:
        """Build the event and queue it; return its id (it is not on disk yet)."""
        assert self._queue is not None, "start() first"
        event = build_event(
            event_type,
            message,
            policy=self.policy,
            hostname=self._hostname,
            process_id=self._pid,
            log_level=log_level,
            user_id=user_id,
            request_id=request_id,
            metadata=metadata,
        )
        await self._queue.put(event)
        return event.event_id

    async def _process_events(self) -> None:
        assert self._queue is not None
        queue = self._queue
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), timeout=0.1)
            except TimeoutError:
                continue
            try:
                await self._store_event(event)
            except Exception:  # contained, as in the seed
                pass
            finally:
                queue.task_done()

    async def _store_event(self, event: AuditEvent) -> None:
        assert self._lock is not None
        async with self._lock:
            self._sequence += 1
            payload = event.model_dump(mode="json")
            line, checksum = seal(
                payload, sequence_number=self._sequence, previous_hash=self._last_hash
            )
            self._last_hash = checksum
        path = storage.file_for_day(self.storage_path, event.timestamp.astimezone(UTC).date())
        await self._write(path, line)
        self.written += 1
        self.written_at.append(time.perf_counter())

    async def _write(self, path: Path, line: bytes) -> None:
        raise NotImplementedError


class SyncQueueTrail(QueueWorkerTrail):
    """Baseline (a), fapilog 0.3.5 / the seed's *before*: the write runs on the loop thread."""

    name: ClassVar[str] = "(a) fapilog 0.3.5: sync write on loop"

    async def _write(self, path: Path, line: bytes) -> None:
        append_line(path, line, self.fsync)


class ThreadPerEventTrail(QueueWorkerTrail):
    """Baseline (b), the seed's *after*: one ``asyncio.to_thread`` hop per event."""

    name: ClassVar[str] = "(b) seed after: to_thread per event"

    async def _write(self, path: Path, line: bytes) -> None:
        await asyncio.to_thread(append_line, path, line, self.fsync)
