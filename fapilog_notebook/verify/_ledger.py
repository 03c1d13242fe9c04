"""The sequence ledger: what the chain's sequence numbers and links say, event by event.

The ledger keeps, per chain segment (from a start or restart to the next
restart), the *runs* of sequence numbers seen (contiguous stretches), the
previous event in file order, and at most one unparseable line waiting for
the next event to judge it. It reports, into the :class:`~._findings.FindingLog`:

- a hole between two runs at the end of a segment: one ``sequence_gap`` (how
  many, between which events, and which days have no file); a number seen
  twice: ``duplicate_sequence``; a step back in file order: ``out_of_order``;
  links (``previous_hash``) are checked whenever two neighbouring sequence
  numbers meet, in any order (``broken_link``);
- a line whose content does not match its checksum: one ``checksum_mismatch``,
  its chain fields not trusted (one altered event gives one finding, not a
  cascade);
- sequence 1 with no ``previous_hash`` after the start: ``chain_restart``;
- an unparseable line: ``torn_line`` when it is where a crash leaves one,
  else ``malformed_line``;
- the time checks: ``misplaced_event`` and ``time_regression``.

Intact events that only extend the last run take a short path
(:meth:`Ledger.extendable`, :meth:`Ledger.advance`), for one event or a
routine batch of them.
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ..chain import Anchor, ChainHead, links_to
from ..scan import Source, last_event
from ..storage import day_of
from ._findings import FindingKind, FindingLog, _At
from ._lines import (
    MAC_CHECKED,
    MAC_DOWNGRADE,
    MAC_LATER_KEY,
    MAC_NO_KEY,
    LineInfo,
    _parse_time,
)

__all__ = ["Ledger"]


@dataclass(slots=True)
class _Run:
    """A contiguous stretch of sequence numbers seen in one segment."""

    lo: int
    hi: int
    lo_prev: str | None  # previous_hash claimed by the event at ``lo``
    lo_trusted: bool  # False when the event at ``lo`` failed its checksum or is unknown
    hi_checksum: str | None
    hi_trusted: bool
    lo_at: _At
    hi_at: _At


@dataclass(slots=True)
class _Segment:
    """One chain segment: from a start (or restart) to the next restart."""

    runs: list[_Run] = field(default_factory=list)
    first_checksum: str | None = None
    events: int = 0
    first_seq: int | None = None
    first_at: _At | None = None
    max_seq: int | None = None
    max_checksum: str | None = None
    max_at: _At | None = None

    def note_event(self, seq: int, checksum: str | None, at: _At) -> None:
        self.events += 1
        if self.first_seq is None:
            self.first_seq, self.first_at = seq, at
        if self.max_seq is None or seq > self.max_seq:
            self.max_seq, self.max_checksum, self.max_at = seq, checksum, at

    def find(self, seq: int) -> tuple[_Run | None, int]:
        """The run holding ``seq`` (or None) and the index where a run for it would go."""
        runs = self.runs
        if not runs:
            return None, 0
        last = runs[-1]
        if last.lo <= seq:
            return (last, len(runs) - 1) if seq <= last.hi else (None, len(runs))
        index = bisect.bisect_right(runs, seq, key=lambda r: r.lo)
        if index and runs[index - 1].hi >= seq:
            return runs[index - 1], index - 1
        return None, index


@dataclass(slots=True)
class _Event:
    """The previous event in file order, for torn lines, order and time checks."""

    seq: int
    checksum: str | None
    at: _At
    timestamp: datetime | None
    tainted: bool


@dataclass(slots=True)
class _Bad:
    """An unparseable or malformed line waiting for the next event to judge it."""

    at: _At
    problem: str
    fragment: bool
    terminated: bool
    size: int


def _starts_run(segment: _Segment, checksum: str | None) -> bool:
    """True when the segment's lowest run begins at 2 and links to ``checksum``:
    the first event of the chain arrived late, it is not a restart."""
    first = segment.runs[0]
    return first.lo == 2 and first.lo_trusted and first.lo_prev == checksum


def _mismatch_message(checksum: str | None, info: LineInfo) -> str:
    """Why an event's checksum or MAC does not hold, as a sentence."""
    state = info.mac_state
    if state == MAC_DOWNGRADE:
        return (
            "expected a MAC (a key was given), found an unkeyed event with a bare SHA-256 "
            "checksum: anyone can recompute it, so it cannot be trusted in a keyed trail"
        )
    if state == MAC_NO_KEY:
        return f"the event's MAC cannot be checked: {info.mac_note}"
    if state == MAC_LATER_KEY:
        return (
            f"expected the event (timestamped {str(info.timestamp)[:40]}) to be MACed with "
            f"the key of its file's day or an earlier one, found the key of {info.mac_label}: "
            "a later key cannot vouch for an earlier day (rewritten with a key taken later?)"
        )
    if state == MAC_CHECKED and info.rewritten:
        return (
            "expected the line exactly as the writer wrote it (canonical JSON), found it laid "
            "out otherwise: its values re-serialised match the MAC, its bytes do not (spaces "
            "or duplicated keys added?); a keyed line is checked over its bytes"
        )
    if state == MAC_CHECKED:
        return (
            f"the event's MAC does not match its content under the {info.mac_label} key "
            "(the event was altered, or MACed with another key)"
        )
    return (
        f"the line's content no longer matches its checksum: the stored checksum is "
        f"{checksum}, the content hashes to {info.content_hash} "
        "(the event was altered after it was written)"
    )


def _day_ranges(days: list[date]) -> str:
    """'2026-04-01' or '2026-04-01 to 2026-04-03', comma separated, at most 5 ranges."""
    ranges: list[tuple[date, date]] = []
    for day in days:
        if ranges and (day - ranges[-1][1]).days == 1:
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    parts = [a.isoformat() if a == b else f"{a.isoformat()} to {b.isoformat()}" for a, b in ranges]
    if len(parts) > 5:
        parts = [*parts[:5], f"and {len(parts) - 5} more ranges"]
    return ", ".join(parts)


class _TimeCheck:
    """The time checks: an event of another day than its file's (``misplaced_event``),
    and an event timestamped earlier than the one before it (``time_regression``)."""

    def __init__(self, log: FindingLog) -> None:
        self.log = log
        self.day: date | None = None
        self.day_iso: str | None = None

    def open_day(self, day: date | None) -> None:
        """The next events are of a file of ``day`` (None: a file with no day)."""
        self.day = day
        self.day_iso = day.isoformat() if day else None

    def check(
        self,
        at: _At,
        seq: int,
        raw_ts: object,
        timestamp: datetime | None,
        before: _Event | None,
    ) -> None:
        """An event's time: in its file's day, and not earlier than the event before."""
        if timestamp is None:
            return
        if self.day is not None:
            same_day = (
                isinstance(raw_ts, str) and raw_ts.endswith("Z") and raw_ts[:10] == self.day_iso
            )
            if not same_day:
                event_day = timestamp.astimezone(UTC).date()
                if event_day != self.day:
                    self.log.add(
                        FindingKind.MISPLACED_EVENT,
                        at,
                        seq,
                        f"expected an event of {self.day_iso} in this file, found one "
                        f"timestamped {raw_ts!s:.40} (UTC day {event_day.isoformat()})",
                    )
        if before is not None and before.timestamp is not None:
            try:
                earlier = timestamp < before.timestamp
            except TypeError:
                earlier = False
            if earlier:
                self.log.add(
                    FindingKind.TIME_REGRESSION,
                    at,
                    seq,
                    f"timestamp {raw_ts!s:.40} is earlier than the previous event's "
                    f"({before.timestamp.isoformat()}, sequence {before.seq} at "
                    f"{self.log.where(before.at)})",
                )


class Ledger:
    """The chain's running state, fed one event (or one run of intact events) at a time.

    Larger than the other parts (about 390 lines, 13 attributes), on purpose:
    where an event goes and which one finding it raises is one rule, decided
    together by :meth:`event`, ``_place``, ``_place_tainted``, ``_insert``,
    the waiting unparseable line (``bad``) and the short path
    (:meth:`extendable`, :meth:`advance`) over the same runs, segment and
    previous event; split over several objects, that rule would be spread
    again. The attributes are read on the per-event path, so they stay plain
    attributes of one object. The time checks (:class:`_TimeCheck`) and the
    holes (``_report_holes``) need none of it and live apart.
    """

    def __init__(self, source: Source, log: FindingLog) -> None:
        self.source = source
        self.log = log
        self.segments: list[_Segment] = []
        self.segment = _Segment()
        self.seeded = False
        self.prev: _Event | None = None
        self.bad: _Bad | None = None
        self.bad_count = 0
        self.events = 0
        self.first_seq: int | None = None
        self.last_seq: int | None = None
        self.head_time: Any = None
        self.times = _TimeCheck(log)

    def open_day(self, day: date | None) -> None:
        """The next events are of a file of ``day`` (None: a file with no day)."""
        self.times.open_day(day)

    @property
    def day_iso(self) -> str | None:
        """The day of the file whose events come next (None: a file with no day)."""
        return self.times.day_iso

    def seed(self) -> None:
        """Link the range's first event to the last event before the range."""
        predecessor = self.source.predecessor
        if predecessor is None:
            return
        tail = last_event(predecessor)
        if tail is None:
            return
        at: _At = (-1, None, tail.event_id)
        head = tail.head
        self.segment.runs.append(
            _Run(
                head.sequence_number, head.sequence_number, None, False, head.checksum, True, at, at
            )
        )
        self.seeded = True
        self.prev = _Event(
            head.sequence_number, head.checksum, at, _parse_time(tail.timestamp), False
        )

    # ------------------------------------------------------------ lines

    def bad_line(self, index: int, info: LineInfo) -> None:
        """Line ``info`` of file ``index`` is not a usable event: it waits to be judged."""
        self.add_bad(
            _Bad(
                (index, info.number, info.event_id),
                info.problem or "",
                info.fragment,
                info.terminated,
                info.size,
            )
        )

    def add_bad(self, bad: _Bad) -> None:
        self.bad_count += 1
        if self.bad is not None:
            self._flush_bad(seq=None)
        self.bad = bad

    def _flush_bad(self, *, seq: int | None, torn: bool = False) -> None:
        bad = self.bad
        if bad is None:
            return
        self.bad = None
        if torn:
            self.log.add(
                FindingKind.TORN_LINE,
                bad.at,
                None,
                f"an unparseable line of {bad.size} bytes"
                + ("" if bad.terminated else " with no newline")
                + " that is the start of an event line: a write cut short by a crash; "
                "no event is missing around it",
            )
        else:
            self.log.add(
                FindingKind.MALFORMED_LINE,
                bad.at,
                seq,
                f"expected one audit event (a JSON object with its chain fields), "
                f"found {bad.problem}",
            )

    def event(self, at: _At, seq: int, info: LineInfo) -> None:
        prev_hash, checksum, checksum_ok = info.prev, info.checksum, info.checksum_ok
        before = self.prev
        run = self.extendable(seq, prev_hash) if checksum_ok else None
        if run is not None:  # the common case: an intact event linking to the one before
            assert before is not None
            timestamp = _parse_time(info.timestamp)
            self.times.check(at, seq, info.timestamp, timestamp, before)
            self.advance(run, 1, at, seq, checksum, info.timestamp, timestamp)
            return
        self.events += 1
        if self.first_seq is None:
            self.first_seq = seq
        self.last_seq = seq
        pending = self.bad_count
        self.bad_count = 0

        # Judge a waiting unparseable line now that we know what follows it.
        if self.bad is not None:
            head = ChainHead(before.seq, before.checksum) if before and before.checksum else None
            torn = (
                pending == 1
                and self.bad.fragment
                and checksum_ok
                and before is not None
                and not before.tainted
                and links_to(head, seq, prev_hash)
            )
            self._flush_bad(seq=None, torn=torn)

        timestamp = _parse_time(info.timestamp)
        if checksum_ok:
            self._place(at, seq, prev_hash, checksum, before, pending)
            position = seq
        else:
            position = self._place_tainted(at, seq, prev_hash, checksum, before, info)
        self.times.check(at, seq, info.timestamp, timestamp, before)
        if self.segment.max_seq == position:
            self.head_time = info.timestamp
        self.prev = _Event(position, checksum, at, timestamp, not checksum_ok)

    def extendable(self, first_seq: int, linked_to: str | None) -> _Run | None:
        """The segment's last run when intact events from ``first_seq`` on, the
        first linking to ``linked_to``, can only extend it; else None (the
        general path judges). For them the general path would do exactly what
        :meth:`advance` does, minus its searches."""
        before = self.prev
        segment = self.segment
        if (
            before is None
            or before.tainted
            or self.bad is not None
            or self.bad_count
            or self.first_seq is None
            or before.seq != first_seq - 1
            or not segment.runs
        ):
            return None
        run = segment.runs[-1]
        if (
            run.hi != before.seq
            or segment.max_seq != before.seq
            or not run.hi_trusted
            or linked_to != run.hi_checksum
        ):
            return None
        return run

    def advance(
        self,
        run: _Run,
        count: int,
        at: _At,
        seq: int,
        checksum: str | None,
        raw_ts: object,
        timestamp: datetime | None,
    ) -> None:
        """Extend ``run`` by ``count`` intact events, the last at ``at``."""
        segment = self.segment
        self.events += count
        self.last_seq = seq
        segment.events += count
        segment.max_seq, segment.max_checksum, segment.max_at = seq, checksum, at
        run.hi, run.hi_checksum, run.hi_at = seq, checksum, at
        self.head_time = raw_ts
        self.prev = _Event(seq, checksum, at, timestamp, False)

    def _restart(self) -> None:
        self.segments.append(self.segment)
        self.segment = _Segment()

    def _place_tainted(
        self,
        at: _At,
        seq: int,
        prev_hash: str | None,
        checksum: str | None,
        before: _Event | None,
        info: LineInfo,
    ) -> int:
        """An event whose content does not match its checksum: one finding, no cascade.

        Its chain fields are not trusted; it takes the place after the previous
        event unless its own fields agree. Returns that place.
        """
        segment = self.segment
        plausible = before is None or seq == before.seq + 1 or (seq == 1 and prev_hash is None)
        position = seq if plausible or before is None else before.seq + 1
        if position == 1 and prev_hash is None and segment.runs:
            self._restart()
            segment = self.segment
        self.log.add(
            FindingKind.CHECKSUM_MISMATCH,
            at,
            seq,
            _mismatch_message(checksum, info)
            + ("" if plausible else f"; its sequence_number {seq} was also changed"),
        )
        run, index = segment.find(position)
        if run is None:
            segment.note_event(position, checksum, at)
            self._insert(index, position, None, False, checksum, False, at)
        return position

    def _place(
        self,
        at: _At,
        seq: int,
        prev_hash: str | None,
        checksum: str | None,
        before: _Event | None,
        pending_bad: int,
    ) -> None:
        segment = self.segment
        restart = (
            seq == 1
            and prev_hash is None
            and bool(segment.runs)
            and not _starts_run(segment, checksum)
        )
        if restart:
            if segment.first_checksum == checksum and checksum is not None:
                self.log.add(
                    FindingKind.DUPLICATE_SEQUENCE,
                    at,
                    seq,
                    "expected each event once, found the first event of the chain "
                    "(sequence 1) again, identical",
                )
                return
            last = f"sequence {before.seq} at {self.log.where(before.at)}" if before else "?"
            self.log.add(
                FindingKind.CHAIN_RESTART,
                at,
                seq,
                f"the chain starts again at sequence 1 with no previous_hash after {last} "
                "(a writer that restarts its chain, as fapilog does in every new process)",
            )
            self._restart()
            segment = self.segment

        run, index = segment.find(seq)
        if run is not None:
            where = f" at {self.log.where(run.hi_at)}" if run.hi == seq else ""
            self.log.add(
                FindingKind.DUPLICATE_SEQUENCE,
                at,
                seq,
                f"expected each sequence number once, found {seq} again (already seen{where}, "
                f"in the stretch {run.lo}..{run.hi})",
            )
            return
        if seq == 1 and prev_hash is None:
            segment.first_checksum = checksum

        if before is not None and seq < before.seq and not restart:
            self.log.add(
                FindingKind.OUT_OF_ORDER,
                at,
                seq,
                f"expected sequence numbers to rise in file order, found {seq} after "
                f"{before.seq} ({self.log.where(before.at)})",
            )

        # A hole no larger than the malformed lines just before is explained by them.
        base = before.seq if before is not None else 0
        if (
            pending_bad
            and base < seq - 1 <= base + pending_bad
            and segment.find(base + 1)[0] is None
            and segment.find(seq - 1)[0] is None
        ):
            filler: _At = before.at if before is not None else at
            for missing in range(base + 1, seq):
                _, slot = segment.find(missing)
                self._insert(slot, missing, None, False, None, False, filler)

        segment.note_event(seq, checksum, at)
        _, index = segment.find(seq)
        self._insert(index, seq, prev_hash, True, checksum, True, at)

    def _insert(
        self,
        index: int,
        seq: int,
        prev_hash: str | None,
        trusted: bool,
        checksum: str | None,
        hi_trusted: bool,
        at: _At,
    ) -> None:
        """Put ``seq`` into the runs, checking the links it completes on both sides."""
        runs = self.segment.runs
        left = runs[index - 1] if index and runs[index - 1].hi == seq - 1 else None
        right = runs[index] if index < len(runs) and runs[index].lo == seq + 1 else None
        if left is not None and trusted and left.hi_trusted and prev_hash != left.hi_checksum:
            self.log.add(
                FindingKind.BROKEN_LINK,
                at,
                seq,
                f"expected previous_hash {left.hi_checksum} (the checksum of sequence "
                f"{left.hi} at {self.log.where(left.hi_at)}), found {prev_hash}",
            )
        if right is not None and hi_trusted and right.lo_trusted and right.lo_prev != checksum:
            self.log.add(
                FindingKind.BROKEN_LINK,
                right.lo_at,
                right.lo,
                f"expected previous_hash {checksum} (the checksum of sequence {seq} at "
                f"{self.log.where(at)}), found {right.lo_prev}",
            )
        if left is not None and right is not None:
            left.hi, left.hi_checksum, left.hi_trusted, left.hi_at = (
                right.hi,
                right.hi_checksum,
                right.hi_trusted,
                right.hi_at,
            )
            del runs[index]
        elif left is not None:
            left.hi, left.hi_checksum, left.hi_trusted, left.hi_at = seq, checksum, hi_trusted, at
        elif right is not None:
            right.lo, right.lo_prev, right.lo_trusted, right.lo_at = seq, prev_hash, trusted, at
        else:
            runs.insert(index, _Run(seq, seq, prev_hash, trusted, checksum, hi_trusted, at, at))

    # ------------------------------------------------------------ the end

    def finish(self) -> None:
        """Judge a waiting last line, close the last segment and report the holes."""
        if self.bad is not None:
            bad = self.bad
            last_file = bad.at[0] == len(self.source.files) - 1
            torn = self.bad_count == 1 and last_file and bad.fragment and not bad.terminated
            self._flush_bad(seq=None, torn=torn)
        self.segments.append(self.segment)
        for number, segment in enumerate(self.segments):
            _report_holes(self.log, segment, first=number == 0, seeded=self.seeded)

    # ------------------------------------------------------------ the report

    def segment_rows(self) -> tuple[dict[str, Any], ...]:
        """One row per chain segment that has events (see ``VerificationReport.segments``)."""
        rows = []
        for segment in self.segments:
            if segment.events == 0 or segment.first_at is None or segment.max_at is None:
                continue
            rows.append(
                {
                    "first_sequence": segment.first_seq,
                    "last_sequence": segment.max_seq,
                    "events": segment.events,
                    "first_file": self.log.file_name(segment.first_at[0]),
                    "last_file": self.log.file_name(segment.max_at[0]),
                }
            )
        return tuple(rows)

    def head(self) -> Anchor | None:
        """The last event of the last segment with events, where the next event links to."""
        last = next((s for s in reversed(self.segments) if s.events), None)
        if last is None or last.max_seq is None or last.max_checksum is None:
            return None
        time = self.head_time if isinstance(self.head_time, str) else None
        return Anchor(last.max_seq, last.max_checksum, time)

    def top(self) -> int:
        """The highest sequence number of the last segment with events (0: none)."""
        last = next((g for g in reversed(self.segments) if g.events), None)
        return last.max_seq if last is not None and last.max_seq is not None else 0


def _report_holes(log: FindingLog, segment: _Segment, *, first: bool, seeded: bool) -> None:
    """The holes in a closed segment's runs: one ``sequence_gap`` each."""
    runs = segment.runs
    if first and runs and not seeded and runs[0].lo > 1:
        lo = runs[0].lo
        log.add(
            FindingKind.SEQUENCE_GAP,
            runs[0].lo_at,
            lo,
            f"expected the chain to start at sequence 1, found it starting at {lo}: "
            f"{lo - 1} events (1..{lo - 1}) are not in {log.source.description} "
            "and there is no earlier audit file",
        )
    for left, right in itertools.pairwise(runs):
        missing = right.lo - left.hi - 1
        span = (
            f"sequence {left.hi + 1}"
            if missing == 1
            else f"sequences {left.hi + 1}..{right.lo - 1}"
        )
        log.add(
            FindingKind.SEQUENCE_GAP,
            right.lo_at,
            right.lo,
            f"{missing} event{'s are' if missing != 1 else ' is'} missing ({span}) between "
            f"sequence {left.hi} ({log.where(left.hi_at)}) and sequence {right.lo} "
            f"({log.where(right.lo_at)})" + _missing_days(log.source, left.hi_at, right.lo_at),
        )


def _day_of_index(source: Source, index: int) -> date | None:
    """The day of file ``index`` (-1: the file before the range), or None."""
    if index == -1:
        pred = source.predecessor
        return day_of(pred) if pred else None
    if 0 <= index < len(source.files):
        return source.files[index].day
    return None


def _missing_days(source: Source, left: _At, right: _At) -> str:
    """The days with no audit file between two events, as a clause (or '')."""
    a, b = _day_of_index(source, left[0]), _day_of_index(source, right[0])
    if a is None or b is None or (b - a).days <= 1:
        return ""
    present = source.days
    days = [a + timedelta(days=n) for n in range(1, (b - a).days)]
    missing = [d for d in days if d not in present]
    if not missing:
        return ""
    return f"; no audit file for {_day_ranges(missing)}"
