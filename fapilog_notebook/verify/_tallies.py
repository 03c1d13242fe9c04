"""What the event lines vouch for, counted as they pass: MACs, per-file counts, watched checksums.

The evidence checks (:mod:`._evidence`) compare these with the records kept
beside the audit files: the checksums seen at the sequence numbers the seal,
the manifests and the anchors name (:attr:`Tallies.seen`), each file's first
sequence number and event counts (:attr:`Tallies.files`), and which keys
MACed the events (:attr:`Tallies.mac_days`).
"""

from __future__ import annotations

from typing import Any

from ._findings import _At
from ._lines import MAC_CHECKED, MAC_NONE, MAC_UNCHECKED, LineInfo, Routine

__all__ = ["Tallies"]


class Tallies:
    """Counts kept per event (or per routine batch of events) for the evidence checks."""

    def __init__(self, watch: set[int]) -> None:
        #: Checksums seen at the sequence numbers seals, manifests and anchors name.
        self.watch = watch
        self.seen: dict[int, set[str]] = {}
        #: Per file: its first sequence number, its event count, whether it is
        #: keyed, and how many of its events are in its manifest's range.
        self.files: list[dict[str, Any]] = []
        #: Per file index: the range of sequence numbers its manifest records.
        self.bounds: dict[int, tuple[int, int]] = {}
        self.macs_checked = 0
        self.macs_unchecked = 0
        self.mac_days: dict[str, int] = {}
        #: Without a key: the runs of events whose MACs were left unchecked (where
        #: each starts, its first sequence, how many), and the events hashed bare.
        self.unchecked_runs: list[tuple[_At, int, int]] = []
        self.hashed_events = 0
        self._last_mac_state: int | None = None

    def open_file(self) -> None:
        """The next events are of the next file."""
        self.files.append({"first": None, "count": 0})

    def keyed(self) -> bool:
        """Whether any file verified holds a keyed event."""
        return any(tally.get("keyed") for tally in self.files)

    def _mac_run(self, state: int, at: _At | None, seq: int, count: int) -> None:
        """Count events hashed bare and the runs of events whose MAC went unchecked."""
        if state == MAC_NONE:
            self.hashed_events += count
        elif state == MAC_UNCHECKED:
            if self._last_mac_state == MAC_UNCHECKED and self.unchecked_runs:
                start, first, n = self.unchecked_runs[-1]
                self.unchecked_runs[-1] = (start, first, n + count)
            else:
                assert at is not None, "a routine batch continues the run its first line began"
                self.unchecked_runs.append((at, seq, count))
        self._last_mac_state = state

    def event(self, index: int, seq: int, info: LineInfo) -> None:
        """Count event ``info`` (sequence ``seq``) of file ``index``."""
        state = info.mac_state
        if state == MAC_CHECKED and info.checksum_ok:
            self.macs_checked += 1
            label = info.mac_label or "?"
            self.mac_days[label] = self.mac_days.get(label, 0) + 1
        elif state == MAC_UNCHECKED:
            self.macs_unchecked += 1
        self._mac_run(state, (index, info.number, info.event_id), seq, 1)
        tally = self.files[index]
        tally["count"] += 1
        if state != MAC_NONE:
            tally["keyed"] = True
        if tally["first"] is None:
            tally["first"] = seq
        bounds = self.bounds.get(index)
        if bounds is not None and bounds[0] <= seq <= bounds[1]:
            tally["in_range"] = tally.get("in_range", 0) + 1
        if seq in self.watch and info.checksum is not None and info.checksum_ok:
            self.seen.setdefault(seq, set()).add(info.checksum)

    def routine(self, index: int, routine: Routine) -> None:
        """Count the lines after the first of a routine batch of file ``index``, at once."""
        last, count = routine.last, routine.rest
        seq = last.seq
        assert seq is not None
        first_seq = seq - count + 1
        state = last.mac_state
        if state == MAC_CHECKED:
            self.macs_checked += count
            label = last.mac_label or "?"
            self.mac_days[label] = self.mac_days.get(label, 0) + count
        elif state == MAC_UNCHECKED:
            self.macs_unchecked += count
        self._mac_run(state, None, first_seq, count)
        tally = self.files[index]
        tally["count"] += count
        bounds = self.bounds.get(index)
        if bounds is not None:
            overlap = min(bounds[1], seq) - max(bounds[0], first_seq) + 1
            if overlap > 0:
                tally["in_range"] = tally.get("in_range", 0) + overlap
        for watched, checksum in routine.watched.items():
            self.seen.setdefault(watched, set()).add(checksum)
