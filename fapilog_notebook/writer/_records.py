"""Writing the records beside the day files: the head seal, each day's manifest, empty-day records.

Their format is :mod:`fapilog_notebook.records`'s; this module decides when
each is written, with which key, and hands it to :mod:`fapilog_notebook.storage`.

- the *seal* (``.fapilog-notebook.seal.json``), rewritten after every batch:
  the head on disk, the tree's size and root;
- a *manifest* per day file, written when the writer leaves the day: its
  first and last sequence numbers, event count and last checksum;
- forward-secure, an *empty-day record* for each day without events, so a
  deleted day cannot pass for an idle one.

Each is MACed with the key of the day it describes when the trail is keyed.
Everything here runs in a worker thread, except :meth:`SealRecords.seal_line`
without the tree, which the loop makes as it prepares a batch.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from .. import records, storage
from ._head import ChainState, DayRun
from ._macs import MacKeys
from ._tree import TreeKeeper

__all__ = ["SealRecords"]


class SealRecords:
    """Builds and writes the seal, manifests and empty-day records of one trail."""

    __slots__ = ("_chain", "_macs", "_tree", "fsync", "seal_file", "storage_path")

    def __init__(
        self,
        storage_path: Path,
        fsync: bool,
        macs: MacKeys,
        tree: TreeKeeper,
        chain: ChainState,
    ) -> None:
        self.storage_path = storage_path
        self.fsync = fsync
        self._macs = macs
        self._tree = tree
        self._chain = chain
        self.seal_file: storage.SealFile | None = None

    def seal_line(self, last: DayRun, *, tree: bool = True) -> bytes:
        """The seal record naming ``last``'s head; with the tree's root and checkpoint if ``tree``.

        Made on the loop without the tree when it prepares a batch; the worker
        makes it again with the tree's new size and root once the tree grew.
        """
        mac_info, key = self._macs.record_key()
        return records.seal_record(
            sequence_number=last.head.sequence_number,
            head_checksum=last.head.checksum,
            file=storage.file_name(last.day),
            time=datetime.now(UTC),
            tree=self._tree.fields() if tree else {},
            mac=mac_info,
            key=key,
        )

    def write_seal(self, line: bytes) -> None:
        """Replace the seal file's content with ``line`` (opened on first use)."""
        if self.seal_file is None:
            self.seal_file = storage.SealFile(self.storage_path, fsync=self.fsync)
        self.seal_file.write(line)

    def close(self, *, quietly: bool = False) -> None:
        """Close the seal file; ``quietly`` (a forked child) ignores a failure to."""
        if self.seal_file is not None:
            if quietly:
                with contextlib.suppress(OSError):
                    self.seal_file.close()
            else:
                self.seal_file.close()
            self.seal_file = None

    def write_manifest(self, tally: storage.DayTally) -> None:
        """Record what ``tally``'s day file holds, MACed with that day's key when keyed.

        A forward-secure day file with no intact event gets an empty-day
        record instead (the day series needs every day).
        """
        if tally.events == 0:
            if self._macs.writer is not None:
                self.write_empty_day(tally.day)
            return
        found = self._macs.day_key(tally.day)
        if found is None:
            return  # recorded already, before its key was destroyed
        mac_info, key = found
        record = records.manifest_record(
            day=tally.day,
            file=storage.file_name(tally.day),
            first_sequence=tally.first_sequence,
            last_sequence=tally.last_sequence,
            events=tally.events,
            last_checksum=tally.last_checksum,
            closed_at=datetime.now(UTC),
            tree=self._tree.fields(),
            mac=mac_info,
            key=key,
        )
        storage.write_record(
            storage.manifest_path(self.storage_path, tally.day), record, fsync=self.fsync
        )

    def record_empty_days(self, until: date, tally_day: date | None) -> None:
        """Forward-secure: record each day from the key file's day to ``until`` (excluded)
        that has no day file of its own, so a deleted day cannot pass for an idle one.

        ``tally_day``: the day file the writer is in, if any (recorded by its manifest).
        """
        assert self._macs.writer is not None
        day = self._macs.writer.stored_day
        while day < until:
            # A day with a manifest (the day just left, or one closed before) is
            # recorded already; any other is recorded here, even when the writer
            # goes on in a later file found at start (its day is ``until``).
            if day != tally_day and not storage.manifest_path(self.storage_path, day).exists():
                self.write_empty_day(day)
            day += timedelta(days=1)

    def write_empty_day(self, day: date) -> None:
        """Record that ``day`` had no events, MACed with its own key, naming the chain's head."""
        found = self._macs.day_key(day)
        if found is None:
            return
        mac_info, key = found
        head = self._chain.head
        record = records.empty_day_record(
            day=day,
            last_sequence=head.sequence_number if head else 0,
            last_checksum=head.checksum if head else None,
            closed_at=datetime.now(UTC),
            mac=mac_info,
            key=key,
        )
        storage.write_record(
            storage.empty_day_path(self.storage_path, day), record, fsync=self.fsync
        )
