"""The group-commit queue: callers queue items, one leader commits them all in one worker hop.

The queue knows nothing of events. It holds opaque items in order, the
*open* batch of callers waiting for them, and whether a worker-thread hop is
under way (``busy``). The first caller that finds no hop under way leads:
it takes everything queued, has the owner prepare the work on the loop
(``prepare``), and runs it in one of the shared worker threads; everyone
else waits for that hop to end. Nothing runs in the background.

The owner (``AuditTrail``) shares :attr:`GroupCommit.lock`: it guards the
items, the batch and the owner's own state changed with them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["DONE", "LEAD", "SHARED_THREADS", "Batch", "Claim", "GroupCommit", "describe"]

#: The name the writer has always logged under (its module was ``trail``):
#: kept, so logging configured for it goes on working.
_LOG = logging.getLogger("fapilog_notebook.trail")

T = TypeVar("T")


class SharedThreads:
    """The worker threads every trail's file I/O runs in: one pool per process.

    Shared on purpose: an application with many trails (one per tenant, say)
    gets one small pool, not a set of threads per trail. Made on first use.
    A forked child does not have its parent's threads, so it starts afresh
    (:meth:`forget`, run after every fork).
    """

    __slots__ = ("_lock", "_pool")

    def __init__(self) -> None:
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def executor(self) -> concurrent.futures.ThreadPoolExecutor:
        """The pool (made now if this process has none yet)."""
        with self._lock:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(
                    thread_name_prefix="fapilog-notebook"
                )
            return self._pool

    def forget(self) -> None:
        """In a forked child: the parent's threads (and its lock's holder) are not here."""
        self._pool, self._lock = None, threading.Lock()


SHARED_THREADS = SharedThreads()

if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=SHARED_THREADS.forget)


def _workers() -> concurrent.futures.ThreadPoolExecutor:
    """The shared pool, looked up at each submit (tests replace this to simulate a shutdown)."""
    return SHARED_THREADS.executor()


def describe(exc: BaseException) -> str:
    """An exception in one line: its type and text."""
    return f"{type(exc).__name__}: {exc}"


_Waiter = tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]
#: What a caller does next for its batch: it is done, it leads, or it awaits a future.
DONE, LEAD = object(), object()
Claim = object


class Batch:
    """The callers waiting for one group commit, each with its own future.

    Items join the *open* batch when they are queued; the leader takes it
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


def _resolve(futs: list[asyncio.Future[None]]) -> None:
    for fut in futs:
        if not fut.done():
            fut.set_result(None)


class GroupCommit(Generic[T]):
    """Queued items, the open batch and the one hop at a time (see the module docstring).

    ``label`` names the queue in the log (the trail's directory).
    """

    __slots__ = ("busy", "label", "lock", "open", "pending")

    def __init__(self, label: str) -> None:
        self.label = label
        self.lock = threading.Lock()
        self.pending: deque[T] = deque()
        self.open = Batch()
        self.busy = False  # a worker-thread hop (commit, open, close) is under way

    def claim(self, batch: Batch, loop: asyncio.AbstractEventLoop) -> Claim:
        """Decide what a caller waiting for ``batch`` does next (caller holds the lock)."""
        if batch.done:
            return DONE
        if not self.busy:
            self.busy = True  # others wait on the batch while we gather it
            return LEAD
        return batch.future(loop)

    async def wait_for(
        self,
        batch: Batch,
        prepare: Callable[[list[T], bool, Batch], Callable[[], None]],
        ready: Callable[[], bool],
        claim: Claim | None = None,
    ) -> None:
        """Return once ``batch`` is committed (or failed), leading the commit if no one is.

        A leader takes every queued item and, under the same lock, asks
        ``ready()`` whether the loop may prepare them; ``prepare(items, ready,
        taken)`` then returns the work for the worker thread (it runs on the
        loop; what it raises fails the batch and reaches the leader).

        A caller that finds the writer free first yields once, so every task
        that is ready queues its item, then takes all that is queued on the
        loop thread: one hop carries them all while the loop sits idle instead
        of competing with the worker thread for the GIL.
        """
        loop = asyncio.get_running_loop()
        while True:
            if claim is None:
                with self.lock:
                    claim = self.claim(batch, loop)
            if claim is DONE:
                break
            if claim is LEAD:
                try:
                    await asyncio.sleep(0)
                except BaseException:
                    self.release(None)
                    raise
                with self.lock:
                    taken, self.open = self.open, Batch()
                    items = list(self.pending)
                    wait = taken.future(loop)
                    prepared = ready()
                try:
                    work = prepare(items, prepared, taken)
                except BaseException as exc:
                    taken.error = describe(exc)
                    self.release(taken)
                    raise
                self.submit(work, taken)
            else:
                assert isinstance(claim, asyncio.Future)
                wait = claim
            claim = None
            await wait

    async def exclusive(self, work: Callable[[], None]) -> None:
        """Run ``work`` in a worker thread once no commit or other hop is under way."""
        loop = asyncio.get_running_loop()
        while True:
            with self.lock:
                if not self.busy:
                    self.busy = True
                    break
                wait = self.open.future(loop)
            await wait
        await asyncio.shield(asyncio.wrap_future(self.submit(work, None)))

    def submit(
        self, work: Callable[[], None], taken: Batch | None
    ) -> concurrent.futures.Future[None]:
        """Start ``work`` in a worker thread; the caller has made the queue busy.

        Submitted at once, not from a task: the thread runs (and frees the
        writer) even if the caller is cancelled or its loop goes away. A
        commit's callers learn of its end from :meth:`release`, so its
        future is not wrapped for the loop (that would wake it twice).
        """
        try:
            future = _workers().submit(self._run_exclusive, work, taken)
        except BaseException as exc:
            if taken is not None:
                taken.error = describe(exc)
            self.release(taken)
            raise
        if taken is not None:
            future.add_done_callback(self._report_unexpected)
        return future

    def _run_exclusive(self, work: Callable[[], None], taken: Batch | None) -> None:
        try:
            work()
        except BaseException as exc:
            if taken is not None and taken.error is None:
                taken.error = describe(exc)  # its callers must not take it as written
            raise
        finally:
            self.release(taken)

    def _report_unexpected(self, future: concurrent.futures.Future[None]) -> None:
        """Say what escaped a commit (its callers were told it failed); no one awaits it."""
        exc = None if future.cancelled() else future.exception()
        if exc is not None:
            _LOG.error("audit commit to %s failed", self.label, exc_info=exc)

    def release(self, taken: Batch | None) -> None:
        """Free the writer and wake its waiters, once per event loop."""
        with self.lock:
            self.busy = False
            waiters = self.open.waiters
            self.open.waiters = []
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
