"""The journal: the directory a trail writes, and every file-system step it takes.

It holds the directory lock, the day files and their tallies, and drives
the parts beside them: the chain head (:mod:`._head`), the keys
(:mod:`._macs`), the seal and manifests (:mod:`._records`) and the Merkle
tree (:mod:`._tree`). Everything here runs in a worker thread (the loop
never touches the file system), except :meth:`Journal.admit`, which queues
an event on the loop; state shared with the loop is changed under the
queue's lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from pathlib import Path

from .. import storage
from ..chain import canonical_json
from ..errors import AuditTrailLockedError, DirectoryLockedError
from ..events import AuditEventType, AuditLogLevel
from ._commit import Batch, Claim, GroupCommit, describe
from ._factory import _not_serialisable
from ._head import ChainState, DayRun, Pending, day_runs
from ._macs import MacKeys
from ._records import SealRecords
from ._stats import SECURITY_TYPES, Counters, Faults
from ._tree import TreeKeeper

__all__ = ["Journal"]


class Journal:
    """Opens, writes and closes one trail's directory (worker thread); admits events (loop).

    Thirteen attributes, a little over the dozen on purpose: seven are the
    parts it drives (queue, counters, faults, keys, chain head, records,
    tree), each owning its own state; its own are the directory, its lock,
    the open day files and the tally of the current one.
    """

    __slots__ = (
        "_queue",
        "chain",
        "counters",
        "dir_lock",
        "faults",
        "files",
        "fsync",
        "macs",
        "records",
        "storage_path",
        "tally",
        "tree",
        "writer_pid",
    )

    def __init__(
        self,
        storage_path: Path,
        fsync: bool,
        queue: GroupCommit[Pending],
        counters: Counters,
        faults: Faults,
        macs: MacKeys,
        signing_key: Path | None,
    ) -> None:
        self.storage_path = storage_path
        self.fsync = fsync
        self._queue = queue
        self.counters = counters
        self.faults = faults
        self.macs = macs
        self.chain = ChainState(macs)
        self.tree = TreeKeeper(storage_path, fsync, signing_key, faults)
        self.records = SealRecords(storage_path, fsync, macs, self.tree, self.chain)
        self.dir_lock = storage.DirectoryLock(storage_path)
        self.files: storage.DayFiles | None = None
        self.tally: storage.DayTally | None = None
        self.writer_pid: int | None = None  # the process that holds the directory

    def admit(
        self,
        item: Pending,
        kind: AuditEventType,
        level: AuditLogLevel,
        loop: asyncio.AbstractEventLoop,
        max_pending: int,
    ) -> tuple[Batch, Claim] | int:
        """Queue ``item``, sealed at once when the head is known, and claim its next step.

        Runs on the loop and touches no file. Returns the batch it joined and
        what its caller does next (see :meth:`GroupCommit.claim`), decided
        under the same lock; or, when ``max_pending`` events are queued
        already, the number of events dropped so far (this one included).

        :raises TypeError: the payload is not JSON-serialisable (nothing queued).
        """
        queue, chain, counters = self._queue, self.chain, self.counters
        with queue.lock:
            if len(queue.pending) >= max_pending:
                counters.dropped += 1
                return counters.dropped
            try:
                if not (chain.linking and chain.link(item)):
                    # Sealed later, in order, by the worker thread; stop
                    # linking on the loop until it has caught up.
                    chain.linking = False
                    canonical_json(item.payload)
            except (ValueError, TypeError, RecursionError) as exc:
                raise _not_serialisable(exc) from None
            batch = queue.open
            queue.pending.append(item)
            claim = queue.claim(batch, loop)
            counters.logged += 1
            if kind is AuditEventType.ERROR_OCCURRED or level in (
                AuditLogLevel.ERROR,
                AuditLogLevel.CRITICAL,
            ):
                counters.error_events += 1
            if kind in SECURITY_TYPES:
                counters.security_events += 1
        return batch, claim

    def open(self, on_acquired: Callable[[], None]) -> None:
        """Create (0700) and lock the directory, find where the chain ends, seal what is queued.

        ``on_acquired`` runs once the lock is taken (the trail registers for
        the fork guard). Does nothing when the directory is held already.

        :raises AuditTrailLockedError: another writer holds the directory.
        """
        if self.dir_lock.held:
            return
        storage.ensure_directory(self.storage_path, fsync=self.fsync)
        storage.refuse_linked_audit_files(self.storage_path)  # before the head is read
        try:
            self.dir_lock.acquire()
        except DirectoryLockedError as exc:
            raise AuditTrailLockedError(str(exc)) from None
        self.writer_pid = os.getpid()
        on_acquired()
        try:
            scan = storage.find_head(self.storage_path, repair=True)
        except BaseException:
            self.dir_lock.release()
            raise
        chain = self.chain
        try:
            self.macs.load()
            self.tree.load_signing()
            newest = scan.newest
            self.tally = storage.tally_file(self.storage_path, newest) if newest else None
            writer = self.macs.writer
            floors = [d for d in (newest, writer and writer.day) if d]
            chain.day_floor = max(floors) if floors else None
        except BaseException:
            self.dir_lock.release()
            raise
        self.files = storage.DayFiles(self.storage_path, fsync=self.fsync)
        self.tree.open(scan.head.sequence_number if scan.head else 0)
        with self._queue.lock:
            # Nothing queued was acknowledged: chain it after what is on disk.
            chain.head = chain.resumed_from = scan.head
            chain.sequence = scan.head.sequence_number if scan.head else 0
            chain.checksum = scan.head.checksum if scan.head else None
            if scan.terminated_torn_line is not None:
                chain.repaired = str(scan.terminated_torn_line)
            for item in self._queue.pending:
                item.line = b""
        self.link_queued()

    def close(self) -> None:
        """Record the current day's manifest, close every file, release the directory."""
        with self._queue.lock:
            self.chain.linking = False
        if self.tally is not None and self.files is not None:
            try:
                self.records.write_manifest(self.tally)
            except OSError as exc:
                self.faults.seal_failure(exc)
        self.macs.writer = None
        self.tree.close()
        self.tree.destroy_signing()
        self.records.close()
        if self.files is not None:
            self.files.close()
            self.files = None
        self.dir_lock.release()

    def disown(self) -> None:
        """In a forked child: forget the parent's files without touching its lock.

        The inherited descriptors are closed, never unlocked: an ``flock``
        belongs to the open file shared with the parent, and unlocking it here
        would free the directory for a second writer while the parent writes.
        """
        self.dir_lock.forget()
        if self.files is not None:
            with contextlib.suppress(OSError):
                self.files.close()
            self.files = None
        self.records.close(quietly=True)
        self.macs.writer = None
        self.chain.linking = False

    def link_queued(self) -> None:
        """Seal what the loop could not, evolving the key as days pass.

        The key evolves in memory only; its file is overwritten in
        :meth:`commit`, once the days it leaves are recorded.
        """
        queue, chain = self._queue, self.chain
        while True:
            with queue.lock:
                unlinked = next((item for item in queue.pending if not item.line), None)
                if unlinked is None:
                    chain.linking = True
                    return
                if chain.link(unlinked):
                    continue
                assert self.macs.writer is not None
                self.macs.writer.advance(unlinked.day)

    def commit(
        self,
        batch: list[Pending],
        taken: Batch,
        runs: list[DayRun] | None,
        seal_line: bytes | None,
        on_acquired: Callable[[], None],
    ) -> None:
        """Append ``batch``, one write per day file, then seal the head.

        ``runs`` and ``seal_line`` are the batch's writes when the loop could
        prepare them (every event sealed on an open storage); else they are
        made here, after opening storage and linking what is left. A fault
        fails ``taken`` (its events stay queued) and is counted.
        """
        if not batch:
            return
        queue, chain, counters, macs, tree = (
            self._queue,
            self.chain,
            self.counters,
            self.macs,
            self.tree,
        )
        try:
            if runs is None:
                self.open(on_acquired)
                if not chain.linking:
                    self.link_queued()
                runs = day_runs(batch)
                seal_line = None
            assert self.files is not None
            assert runs is not None, "queued events left unlinked"
            replaced: list[str] = []
            for run in runs:
                if self.tally is not None and self.tally.day != run.day:
                    self._leave_day(self.tally)
                if macs.writer is not None and run.day > macs.writer.stored_day:
                    # Forward-secure: every day the key leaves is recorded with
                    # its own key first; only then is the key file overwritten.
                    self.records.record_empty_days(
                        run.day, self.tally.day if self.tally is not None else None
                    )
                    macs.writer.persist()
                if tree.signing is not None and run.day > tree.signing.day:
                    tree.evolve_signing(run.day, chain.head.sequence_number if chain.head else 0)
                if self.tally is None or self.tally.day != run.day:
                    # Opened (and checked to be a regular file) before it is read.
                    self.files.open_day(run.day)
                    self.tally = storage.tally_file(self.storage_path, run.day)
                note = self.files.append(run.day, run.data)
                if note is not None:
                    replaced.append(note)
                self.tally.add(run.head.sequence_number, run.head.checksum, run.count)
                with queue.lock:
                    for _ in range(run.count):
                        item = queue.pending.popleft()
                        item.written = True
                        if item.acknowledged:
                            counters.acknowledged_unwritten -= 1
                    chain.head = run.head
                    chain.head_time = run.head_time
                    counters.written += run.count
                tree.grow(run.data, run.head.sequence_number, run.count)
            with queue.lock:
                counters.batches += 1
                counters.failing = False
            for note in replaced:  # once the batch is counted written: a warning may raise
                self.faults.replaced(note)
        except Exception as exc:
            taken.error = describe(exc)  # before warning: the warning may raise
            self.faults.failure(exc)
            return
        try:
            if tree.tree is not None:
                # Made again once the tree has grown: the seal names its new root.
                seal_line = self.records.seal_line(runs[-1])
            elif seal_line is None:
                seal_line = self.records.seal_line(runs[-1], tree=False)
            self.records.write_seal(seal_line)
        except OSError as exc:
            self.faults.seal_failure(exc)

    def _leave_day(self, tally: storage.DayTally) -> None:
        """The writer moves to another day file: record the one it leaves.

        :raises OSError: forward-secure, the record could not be written; the
            batch then fails and is retried, as the key must not move on
            before the day it leaves is recorded. Otherwise the failure is
            counted and warned about, and the events are written.
        """
        self.files.close_day(tally.day) if self.files is not None else None
        try:
            self.records.write_manifest(tally)
        except OSError as exc:
            if self.macs.writer is not None:
                raise
            self.faults.seal_failure(exc)
