"""The chain head: queued events linked in order (sequence number, link, MAC), and the head on disk.

An event is *linked* when it gets its sequence number, its link to the one
before and its checksum or MAC: its line is then final. (A *seal* is only
the head record beside the files.) The loop links each event as it is
queued while the head on disk is known (``linking``); else the worker
thread links what is queued once the directory is open. Runs of linked
events of one day are joined into one write (:func:`day_runs`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from ..chain import MAC_FIELD, ChainHead, encode_event, mac_object
from ._macs import MacKeys

__all__ = ["ChainState", "DayRun", "Pending", "day_runs"]


@dataclass(slots=True)
class Pending:
    """A queued event: its payload and, once linked, its chained line.

    ``written``: its line is on disk. ``acknowledged``: its ``log_event``
    returned before that (a contained storage fault).
    """

    day: date
    payload: dict[str, Any]
    line: bytes = b""
    written: bool = False
    acknowledged: bool = False


@dataclass(slots=True)
class DayRun:
    """Consecutive linked events of one day, joined for one write."""

    day: date
    data: bytes
    count: int
    head: ChainHead
    head_time: str | None


def day_runs(batch: list[Pending]) -> list[DayRun] | None:
    """``batch`` split into one write per day; ``None`` if an event is not linked yet."""
    lines = [item.line for item in batch]
    if b"" in lines:
        return None
    runs: list[DayRun] = []
    start = 0
    for end in range(1, len(batch) + 1):
        if end == len(batch) or batch[end].day != batch[start].day:
            last = batch[end - 1].payload
            head_time = last.get("timestamp")
            runs.append(
                DayRun(
                    batch[start].day,
                    b"".join(lines[start:end]),
                    end - start,
                    ChainHead(last["sequence_number"], last["checksum"]),
                    head_time if isinstance(head_time, str) else None,
                )
            )
            start = end
    return runs


class ChainState:
    """The last event linked, the last on disk, and the day file events go to.

    Changed under the queue's lock: by the loop as it links, by the worker
    thread as it opens the directory, links what is left and writes.
    """

    __slots__ = (
        "_keys",
        "checksum",
        "day_floor",
        "head",
        "head_time",
        "linking",
        "repaired",
        "resumed_from",
        "sequence",
    )

    def __init__(self, macs: MacKeys) -> None:
        self._keys = macs
        self.linking = False  # True while the chain head on disk is known
        # The last event linked: its sequence number (0: none) and checksum.
        self.sequence = 0
        self.checksum: str | None = None
        #: The day file events go to: never earlier than the newest written or
        #: found (an event stamped earlier, when the clock steps back, goes here).
        self.day_floor: date | None = None
        self.head: ChainHead | None = None  # the last event on disk
        self.head_time: str | None = None
        self.resumed_from: ChainHead | None = None
        self.repaired: str | None = None  # a file whose torn last line start() terminated

    def link(self, item: Pending) -> bool:
        """Chain ``item`` after the last linked event (caller holds the lock).

        The item goes to the newest day file so far if it is stamped earlier
        (the clock stepped back): the writer never returns to an earlier file.
        Returns False, linking nothing, when a forward-secure key must first
        evolve to the item's day (left to the worker thread).
        """
        if self.day_floor is not None and item.day < self.day_floor:
            item.day = self.day_floor
        macs = self._keys
        key = macs.static_hmac
        if key is not None:
            item.payload[MAC_FIELD] = mac_object()
        elif macs.writer is not None:
            writer = macs.writer
            if item.day > writer.day:
                return False
            key = macs.writer_hmac()
            item.payload[MAC_FIELD] = mac_object(writer.day)
        sequence = self.sequence + 1
        item.line, self.checksum = encode_event(
            item.payload, sequence_number=sequence, previous_hash=self.checksum, key=key
        )
        self.sequence = sequence  # only once linked: bad input takes no number
        self.day_floor = item.day
        return True
