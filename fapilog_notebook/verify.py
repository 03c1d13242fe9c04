"""The streaming verifier: every problem in an audit trail, located to file and line.

:func:`verify_audit_log` reads a source line by line (see :mod:`.scan`),
checks each line with :func:`.chain.check_line` (the one definition of a valid
event) and reports every finding of the taxonomy, not only the first. It
keeps a constant number of events in memory: the previous event, at most one
unparseable line waiting to be judged, and for the sequence numbers a set of
*runs* (contiguous stretches seen so far) that stays one run long in a clean
log and grows only with the anomalies it reports.

How the chain is judged:

- a line whose content does not match its checksum is one ``checksum_mismatch``;
  its own chain fields are not trusted, and the next event may still link to
  its stored checksum, so one altered event gives one finding, not a cascade;
- sequence numbers are collected into runs; a hole between two runs at the
  end of a segment is one ``sequence_gap`` (how many, between which events,
  and which days have no file), a number seen twice is ``duplicate_sequence``,
  a step back in file order is ``out_of_order``; links (``previous_hash``) are
  checked whenever two neighbouring sequence numbers meet, in any order;
- sequence 1 with no ``previous_hash`` after the start is a ``chain_restart``
  (fapilog restarts its chain in every process) and opens a new segment;
- an unparseable line is ``torn_line`` (a write cut by a crash, no event lost)
  when it is the unterminated last line of the source, or the only such line
  between two events that link to each other; otherwise ``malformed_line``.
"""

from __future__ import annotations

import bisect
import html
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._progress import track
from .chain import ChainHead, check_line, compute_checksum, links_to
from .scan import DayBound, Source, SourceLike, describe_os_error, iter_lines, last_event
from .scan import resolve_source as _resolve_source
from .storage import day_of
from .trail import AuditChainVerificationResult

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FINDING_COLUMNS",
    "Finding",
    "FindingKind",
    "Severity",
    "VerificationReport",
    "verify_audit_log",
]


class Severity(StrEnum):
    """How serious a finding is; a report is valid when it has no ``error``."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class FindingKind(StrEnum):
    """What the verifier can find (see the taxonomy in the design notes)."""

    CHECKSUM_MISMATCH = "checksum_mismatch"
    BROKEN_LINK = "broken_link"
    SEQUENCE_GAP = "sequence_gap"
    DUPLICATE_SEQUENCE = "duplicate_sequence"
    MALFORMED_LINE = "malformed_line"
    TRUNCATED_TAIL = "truncated_tail"
    ANCHOR_MISMATCH = "anchor_mismatch"
    UNREADABLE_FILE = "unreadable_file"
    TORN_LINE = "torn_line"
    CHAIN_RESTART = "chain_restart"
    OUT_OF_ORDER = "out_of_order"
    MISPLACED_EVENT = "misplaced_event"
    TIME_REGRESSION = "time_regression"
    FOREIGN_FILE = "foreign_file"

    @property
    def severity(self) -> Severity:
        """The severity every finding of this kind has."""
        return _SEVERITY[self]


_SEVERITY = {
    FindingKind.CHECKSUM_MISMATCH: Severity.ERROR,
    FindingKind.BROKEN_LINK: Severity.ERROR,
    FindingKind.SEQUENCE_GAP: Severity.ERROR,
    FindingKind.DUPLICATE_SEQUENCE: Severity.ERROR,
    FindingKind.MALFORMED_LINE: Severity.ERROR,
    FindingKind.TRUNCATED_TAIL: Severity.ERROR,
    FindingKind.ANCHOR_MISMATCH: Severity.ERROR,
    FindingKind.UNREADABLE_FILE: Severity.ERROR,
    FindingKind.TORN_LINE: Severity.WARNING,
    FindingKind.CHAIN_RESTART: Severity.WARNING,
    FindingKind.OUT_OF_ORDER: Severity.WARNING,
    FindingKind.MISPLACED_EVENT: Severity.WARNING,
    FindingKind.TIME_REGRESSION: Severity.WARNING,
    FindingKind.FOREIGN_FILE: Severity.INFO,
}

#: The columns of ``VerificationReport.findings``, in order.
FINDING_COLUMNS = ("kind", "severity", "file", "line", "sequence_number", "event_id", "message")
SEGMENT_COLUMNS = ("first_sequence", "last_sequence", "events", "first_file", "last_file")


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: what, how serious, where (file, 1-based line), and a sentence."""

    kind: FindingKind
    severity: Severity
    file: str | None
    line: int | None
    sequence_number: int | None
    event_id: str | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with the finding's columns."""
        return {
            "kind": self.kind.value,
            "severity": self.severity.value,
            "file": self.file,
            "line": self.line,
            "sequence_number": self.sequence_number,
            "event_id": self.event_id,
            "message": self.message,
        }


# ----------------------------------------------------------------- the chain state

#: Where an event is: (file index, -1 for the file before the range; line; event id).
_At = tuple[int, int | None, str | None]


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
    unparseable: bool
    terminated: bool
    size: int


def _starts_run(segment: _Segment, checksum: str | None) -> bool:
    """True when the segment's lowest run begins at 2 and links to ``checksum``:
    the first event of the chain arrived late, it is not a restart."""
    first = segment.runs[0]
    return first.lo == 2 and first.lo_trusted and first.lo_prev == checksum


def _content_hash(obj: dict[str, Any]) -> str:
    try:
        return compute_checksum(obj)
    except (ValueError, TypeError, RecursionError):
        return "(cannot be computed)"


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed


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


class _Verifier:
    """The state machine behind :func:`verify_audit_log`."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.files = source.files
        self.names = [str(f.path) for f in source.files]
        self.findings: list[tuple[tuple[int, int, int], Finding]] = []
        self.segments: list[_Segment] = []
        self.segment = _Segment()
        self.seeded = False
        self.prev: _Event | None = None
        self.bad: _Bad | None = None
        self.bad_count = 0
        self.events = 0
        self.files_checked = 0
        self.first_seq: int | None = None
        self.last_seq: int | None = None
        self.day_iso: str | None = None
        self.day: date | None = None

    # ------------------------------------------------------------ findings

    def _file_name(self, index: int) -> str | None:
        if index == -1:
            return str(self.source.predecessor) if self.source.predecessor else None
        if 0 <= index < len(self.names):
            return self.names[index]
        return None

    def _where(self, at: _At) -> str:
        name = self._file_name(at[0])
        short = Path(name).name if name else "?"
        if at[0] == -1:
            return f"the end of {short}, before the range"
        return f"{short}:{at[1]}" if at[1] is not None else short

    def add(self, kind: FindingKind, at: _At, seq: int | None, message: str) -> None:
        finding = Finding(kind, kind.severity, self._file_name(at[0]), at[1], seq, at[2], message)
        order = (at[0] if at[0] >= 0 else -1, at[1] or 0, len(self.findings))
        self.findings.append((order, finding))

    # ------------------------------------------------------------ seeding

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

    def run_file(self, index: int) -> None:
        audit_file = self.files[index]
        self.day = audit_file.day
        self.day_iso = audit_file.day.isoformat() if audit_file.day else None
        try:
            for number, raw, terminated in iter_lines(audit_file.path):
                self.line(index, number, raw, terminated)
        except OSError as exc:
            self.add(
                FindingKind.UNREADABLE_FILE,
                (index, None, None),
                None,
                f"the file could not be read: {describe_os_error(exc)}; "
                "its events (or the rest of them) are not verified",
            )
            return
        self.files_checked += 1

    def line(self, index: int, number: int, raw: bytes, terminated: bool) -> None:
        check = check_line(raw[:-1] if raw.endswith(b"\r") else raw)
        obj = check.obj
        if check.problem is not None or obj is None:
            problem = check.problem or "not a JSON object"
            unparseable = obj is None and problem.startswith("not valid JSON")
            at: _At = (index, number, None)
            if obj is not None:
                event_id = obj.get("event_id")
                if isinstance(event_id, str):
                    at = (index, number, event_id[:100])
            self.add_bad(
                _Bad(
                    at,
                    problem,
                    unparseable,
                    terminated,
                    len(raw),
                )
            )
            return
        seq = check.sequence_number
        assert seq is not None
        event_id = obj.get("event_id")
        at = (index, number, event_id if isinstance(event_id, str) else None)
        self.event(at, seq, check.previous_hash, check.checksum, check.checksum_ok, obj)

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
            self.add(
                FindingKind.TORN_LINE,
                bad.at,
                None,
                f"an unparseable line of {bad.size} bytes"
                + ("" if bad.terminated else " with no newline")
                + ": a write cut short by a crash; no event is missing around it",
            )
        else:
            self.add(
                FindingKind.MALFORMED_LINE,
                bad.at,
                seq,
                f"expected one audit event (a JSON object with its chain fields), "
                f"found {bad.problem}",
            )

    def event(
        self,
        at: _At,
        seq: int,
        prev_hash: str | None,
        checksum: str | None,
        checksum_ok: bool,
        obj: dict[str, Any],
    ) -> None:
        self.events += 1
        if self.first_seq is None:
            self.first_seq = seq
        self.last_seq = seq
        before = self.prev
        pending = self.bad_count
        self.bad_count = 0

        # Judge a waiting unparseable line now that we know what follows it.
        if self.bad is not None:
            head = ChainHead(before.seq, before.checksum) if before and before.checksum else None
            torn = (
                pending == 1
                and self.bad.unparseable
                and checksum_ok
                and before is not None
                and not before.tainted
                and links_to(head, seq, prev_hash)
            )
            self._flush_bad(seq=None, torn=torn)

        timestamp = _parse_time(obj.get("timestamp"))
        if checksum_ok:
            self._place(at, seq, prev_hash, checksum, before, pending)
            position = seq
        else:
            position = self._place_tainted(at, seq, prev_hash, checksum, before, obj)
        self._check_time(at, seq, obj.get("timestamp"), timestamp, before)
        self.prev = _Event(position, checksum, at, timestamp, not checksum_ok)

    def _check_time(
        self,
        at: _At,
        seq: int,
        raw_ts: object,
        timestamp: datetime | None,
        before: _Event | None,
    ) -> None:
        if timestamp is None:
            return
        if self.day is not None:
            same_day = (
                isinstance(raw_ts, str) and raw_ts.endswith("Z") and raw_ts[:10] == self.day_iso
            )
            if not same_day:
                event_day = timestamp.astimezone(UTC).date()
                if event_day != self.day:
                    self.add(
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
                self.add(
                    FindingKind.TIME_REGRESSION,
                    at,
                    seq,
                    f"timestamp {raw_ts!s:.40} is earlier than the previous event's "
                    f"({before.timestamp.isoformat()}, sequence {before.seq} at "
                    f"{self._where(before.at)})",
                )

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
        obj: dict[str, Any],
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
        self.add(
            FindingKind.CHECKSUM_MISMATCH,
            at,
            seq,
            f"the line's content no longer matches its checksum: the stored checksum is "
            f"{checksum}, the content hashes to {_content_hash(obj)} "
            "(the event was altered after it was written)"
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
                self.add(
                    FindingKind.DUPLICATE_SEQUENCE,
                    at,
                    seq,
                    "expected each event once, found the first event of the chain "
                    "(sequence 1) again, identical",
                )
                return
            last = f"sequence {before.seq} at {self._where(before.at)}" if before else "?"
            self.add(
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
            where = f" at {self._where(run.hi_at)}" if run.hi == seq else ""
            self.add(
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
            self.add(
                FindingKind.OUT_OF_ORDER,
                at,
                seq,
                f"expected sequence numbers to rise in file order, found {seq} after "
                f"{before.seq} ({self._where(before.at)})",
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
            self.add(
                FindingKind.BROKEN_LINK,
                at,
                seq,
                f"expected previous_hash {left.hi_checksum} (the checksum of sequence "
                f"{left.hi} at {self._where(left.hi_at)}), found {prev_hash}",
            )
        if right is not None and hi_trusted and right.lo_trusted and right.lo_prev != checksum:
            self.add(
                FindingKind.BROKEN_LINK,
                right.lo_at,
                right.lo,
                f"expected previous_hash {checksum} (the checksum of sequence {seq} at "
                f"{self._where(at)}), found {right.lo_prev}",
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
            last_file = bad.at[0] == len(self.files) - 1
            torn = self.bad_count == 1 and last_file and bad.unparseable and not bad.terminated
            self._flush_bad(seq=None, torn=torn)
        self.segments.append(self.segment)
        for number, segment in enumerate(self.segments):
            self._report_holes(segment, first=number == 0)
        for path, reason in self.source.foreign:
            finding = Finding(
                FindingKind.FOREIGN_FILE,
                Severity.INFO,
                str(path),
                None,
                None,
                None,
                f"{path.name!r} is {reason}; it was not read",
            )
            self.findings.append(((len(self.files), 0, len(self.findings)), finding))

    def _report_holes(self, segment: _Segment, *, first: bool) -> None:
        runs = segment.runs
        if first and runs and not self.seeded and runs[0].lo > 1:
            lo = runs[0].lo
            self.add(
                FindingKind.SEQUENCE_GAP,
                runs[0].lo_at,
                lo,
                f"expected the chain to start at sequence 1, found it starting at {lo}: "
                f"{lo - 1} events (1..{lo - 1}) are not in {self.source.description} "
                "and there is no earlier audit file",
            )
        for left, right in itertools.pairwise(runs):
            missing = right.lo - left.hi - 1
            span = (
                f"sequence {left.hi + 1}"
                if missing == 1
                else f"sequences {left.hi + 1}..{right.lo - 1}"
            )
            self.add(
                FindingKind.SEQUENCE_GAP,
                right.lo_at,
                right.lo,
                f"{missing} event{'s are' if missing != 1 else ' is'} missing ({span}) between "
                f"sequence {left.hi} ({self._where(left.hi_at)}) and sequence {right.lo} "
                f"({self._where(right.lo_at)})" + self._missing_days(left.hi_at, right.lo_at),
            )

    def _day_of_index(self, index: int) -> date | None:
        if index == -1:
            pred = self.source.predecessor
            return day_of(pred) if pred else None
        if 0 <= index < len(self.files):
            return self.files[index].day
        return None

    def _missing_days(self, left: _At, right: _At) -> str:
        a, b = self._day_of_index(left[0]), self._day_of_index(right[0])
        if a is None or b is None or (b - a).days <= 1:
            return ""
        present = self.source.days
        days = [a + timedelta(days=n) for n in range(1, (b - a).days)]
        missing = [d for d in days if d not in present]
        if not missing:
            return ""
        return f"; no audit file for {_day_ranges(missing)}"

    def report(self) -> VerificationReport:
        findings = [f for _, f in sorted(self.findings, key=lambda item: item[0])]
        rows = []
        for segment in self.segments:
            if segment.events == 0 or segment.first_at is None or segment.max_at is None:
                continue
            rows.append(
                {
                    "first_sequence": segment.first_seq,
                    "last_sequence": segment.max_seq,
                    "events": segment.events,
                    "first_file": self._file_name(segment.first_at[0]),
                    "last_file": self._file_name(segment.max_at[0]),
                }
            )
        last = next((s for s in reversed(self.segments) if s.events), None)
        head = None
        if last is not None and last.max_seq is not None and last.max_checksum is not None:
            head = ChainHead(last.max_seq, last.max_checksum)
        return VerificationReport(
            source=self.source.description,
            valid=not any(f.severity is Severity.ERROR for f in findings),
            events_checked=self.events,
            files_checked=self.files_checked,
            first_sequence=self.first_seq,
            last_sequence=self.last_seq,
            head=head,
            segment_rows=tuple(rows),
            finding_list=tuple(findings),
        )


# ----------------------------------------------------------------- frames


def findings_frame(findings: list[Finding] | tuple[Finding, ...]) -> pd.DataFrame:
    """The findings as a DataFrame with the fixed :data:`FINDING_COLUMNS`."""
    import pandas as pd

    data: dict[str, Any] = {
        "kind": pd.Series([f.kind.value for f in findings], dtype=object),
        "severity": pd.Series([f.severity.value for f in findings], dtype=object),
        "file": pd.Series([f.file for f in findings], dtype=object),
        "line": pd.array([f.line for f in findings], dtype="Int64"),
        "sequence_number": pd.array([f.sequence_number for f in findings], dtype="Int64"),
        "event_id": pd.Series([f.event_id for f in findings], dtype=object),
        "message": pd.Series([f.message for f in findings], dtype=object),
    }
    return pd.DataFrame(data, columns=list(FINDING_COLUMNS))


def _segments_frame(rows: tuple[dict[str, Any], ...]) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame(rows, columns=list(SEGMENT_COLUMNS))
    for column in ("first_sequence", "last_sequence", "events"):
        frame[column] = frame[column].astype("Int64")
    return frame


# ----------------------------------------------------------------- the report


def _printable(text: str) -> str:
    """Escape control characters so hostile content cannot drive a terminal."""
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
    )


@dataclass(frozen=True, eq=False)
class VerificationReport:
    """What :func:`verify_audit_log` found: the verdict, counts, segments, findings.

    ``valid`` is True when no finding has ``error`` severity. ``head`` is the
    last sequence number of the last segment and its checksum (where the next
    event links to). ``segments`` has one row per chain segment; ``findings``
    one row per problem, with :data:`FINDING_COLUMNS`.
    """

    source: str
    valid: bool
    events_checked: int
    files_checked: int
    first_sequence: int | None
    last_sequence: int | None
    head: ChainHead | None
    segment_rows: tuple[dict[str, Any], ...] = ()
    finding_list: tuple[Finding, ...] = ()

    @cached_property
    def segments(self) -> pd.DataFrame:
        """One row per chain segment: first/last sequence, events, first/last file."""
        return _segments_frame(self.segment_rows)

    @cached_property
    def findings(self) -> pd.DataFrame:
        """One row per finding, with the fixed :data:`FINDING_COLUMNS`."""
        return findings_frame(self.finding_list)

    @property
    def counts(self) -> dict[str, int]:
        """Number of findings per severity (``error``, ``warning``, ``info``)."""
        counts = {s.value: 0 for s in Severity}
        for finding in self.finding_list:
            counts[finding.severity.value] += 1
        return counts

    @property
    def verdict(self) -> str:
        """``VALID`` or ``INVALID``."""
        return "VALID" if self.valid else "INVALID"

    def summary(self) -> str:
        """A short plain-text verdict: counts, sequence range, segments, head."""
        counts = self.counts
        kinds: dict[str, int] = {}
        for finding in self.finding_list:
            kinds[finding.kind.value] = kinds.get(finding.kind.value, 0) + 1
        lines = [
            f"{self.verdict}: {_printable(self.source)}",
            f"  {self.events_checked} events in {self.files_checked} "
            f"file{'s' if self.files_checked != 1 else ''}, "
            f"{len(self.segment_rows)} chain segment{'s' if len(self.segment_rows) != 1 else ''}"
            + (
                f", sequences {self.first_sequence}..{self.last_sequence}"
                if self.first_sequence is not None
                else ""
            ),
            f"  findings: {counts['error']} errors, {counts['warning']} warnings, "
            f"{counts['info']} info"
            + (
                " (" + ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())) + ")"
                if kinds
                else ""
            ),
        ]
        if self.head is not None:
            lines.append(
                f"  head: sequence {self.head.sequence_number}, checksum {self.head.checksum}"
            )
        return "\n".join(lines)

    def format_text(self, *, limit: int | None = 100) -> str:
        """The summary and the findings, one per line (at most ``limit``), as plain text."""
        text = [self.summary()]
        shown = self.finding_list if limit is None else self.finding_list[:limit]
        for finding in shown:
            where = Path(finding.file).name if finding.file else "-"
            if finding.line is not None:
                where += f":{finding.line}"
            seq = f" seq {finding.sequence_number}" if finding.sequence_number is not None else ""
            text.append(
                _printable(
                    f"  {finding.severity.value.upper():7} {finding.kind.value} {where}{seq}: "
                    f"{finding.message}"
                )
            )
        if len(self.finding_list) > len(shown):
            text.append(
                f"  ... and {len(self.finding_list) - len(shown)} more findings "
                "(see .findings or .to_json())"
            )
        return "\n".join(text)

    def __str__(self) -> str:
        return self.format_text()

    def __repr__(self) -> str:
        return (
            f"<VerificationReport {self.verdict} events={self.events_checked} "
            f"files={self.files_checked} findings={len(self.finding_list)}>"
        )

    def to_dict(self) -> dict[str, Any]:
        """The whole report as JSON-ready data."""
        return {
            "source": self.source,
            "valid": self.valid,
            "events_checked": self.events_checked,
            "files_checked": self.files_checked,
            "first_sequence": self.first_sequence,
            "last_sequence": self.last_sequence,
            "head": (
                None
                if self.head is None
                else {
                    "sequence_number": self.head.sequence_number,
                    "checksum": self.head.checksum,
                }
            ),
            "counts": self.counts,
            "segments": [dict(row) for row in self.segment_rows],
            "findings": [f.to_dict() for f in self.finding_list],
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """:meth:`to_dict` as a JSON string."""
        return json.dumps(self.to_dict(), indent=indent)

    def _repr_html_(self) -> str:
        esc = html.escape
        color = "#1a7f37" if self.valid else "#cf222e"
        counts = self.counts
        badge = (
            f'<span style="background:{color};color:white;padding:2px 10px;'
            f'border-radius:10px;font-weight:bold">{self.verdict}</span>'
        )
        head = (
            f"sequence {self.head.sequence_number}, checksum <code>{esc(self.head.checksum)}</code>"
            if self.head
            else "none"
        )
        parts = [
            '<div class="fapilog-verification-report">',
            f"<p>{badge} <code>{esc(self.source)}</code></p>",
            "<table>",
            f"<tr><th>events checked</th><td>{self.events_checked}</td></tr>",
            f"<tr><th>files checked</th><td>{self.files_checked}</td></tr>",
            f"<tr><th>segments</th><td>{len(self.segment_rows)}</td></tr>",
            f"<tr><th>sequences</th><td>{self.first_sequence}..{self.last_sequence}</td></tr>",
            f"<tr><th>head</th><td>{head}</td></tr>",
            f"<tr><th>errors / warnings / info</th><td>{counts['error']} / "
            f"{counts['warning']} / {counts['info']}</td></tr>",
            "</table>",
        ]
        if self.finding_list:
            limit = 200
            parts.append("<table><thead><tr>")
            parts.extend(f"<th>{esc(column)}</th>" for column in FINDING_COLUMNS)
            parts.append("</tr></thead><tbody>")
            for finding in self.finding_list[:limit]:
                cells = finding.to_dict()
                parts.append("<tr>")
                for column in FINDING_COLUMNS:
                    value = cells[column]
                    parts.append(f"<td>{esc('' if value is None else str(value))}</td>")
                parts.append("</tr>")
            parts.append("</tbody></table>")
            if len(self.finding_list) > limit:
                parts.append(
                    f"<p>... and {len(self.finding_list) - limit} more findings "
                    "(see <code>report.findings</code>)</p>"
                )
        else:
            parts.append("<p>No findings.</p>")
        parts.append("</div>")
        return "".join(parts)

    def compat_result(self) -> AuditChainVerificationResult:
        """fapilog's four-field result: the first error finding, if any."""
        first = next((f for f in self.finding_list if f.severity is Severity.ERROR), None)
        if first is None:
            return AuditChainVerificationResult(True, self.events_checked)
        where = Path(first.file).name if first.file else "?"
        if first.line is not None:
            where += f":{first.line}"
        return AuditChainVerificationResult(
            False,
            self.events_checked,
            first.sequence_number,
            f"{first.kind.value} at {where}: {first.message}",
        )


def verify_audit_log(
    source: SourceLike,
    *,
    since: DayBound = None,
    until: DayBound = None,
    progress: bool | None = None,
) -> VerificationReport:
    """Verify the hash chain of ``source`` and report every problem, located.

    ``source`` is a directory of ``audit_YYYY-MM-DD.jsonl`` files, one file or
    a list of files; ``since``/``until`` (dates, tz-aware datetimes or
    ``YYYY-MM-DD``) select days, and a range that starts mid-chain is linked to
    the last event of the file before it. Streams with constant memory.

    :raises FileNotFoundError: the source does not exist.
    :raises ValueError: no audit file to verify (see :mod:`.scan`), bad bounds.
    """
    resolved = _resolve_source(source, since=since, until=until)
    verifier = _Verifier(resolved)
    verifier.seed()
    indices: Iterator[int] = iter(range(len(resolved.files)))
    for index in track(indices, total=len(resolved.files), desc="verifying", progress=progress):
        verifier.run_file(index)
    verifier.finish()
    return verifier.report()
