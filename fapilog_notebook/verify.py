"""The streaming verifier: every problem in an audit trail, located to file and line.

:func:`verify_audit_log` reads a source line by line (see :mod:`.scan`),
checks each line with :func:`.chain.check_line` (the one definition of a valid
event) and reports every finding of the taxonomy, not only the first. It
keeps a constant number of events in memory: a batch of checked lines
(:data:`BATCH_LINES`), the previous event, at most one unparseable line
waiting to be judged, and for the sequence numbers a set of *runs*
(contiguous stretches seen so far) that stays one run long in a clean log and
grows only with the anomalies it reports. A batch whose lines are intact
events, each linked to the one before, in their file's day and in time order,
can raise no finding: it is checked and taken at once (:func:`routine_batch`),
without a per-line Python object; any other batch is checked line by line.

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
  only when it could be the start of an event line as the writer writes it
  (:func:`.chain.could_be_torn`) and it is where a crash leaves one: the
  unterminated last line of the source, or the only such line between two
  events that link to each other (a restart terminated it); anything else is
  ``malformed_line``.
"""

from __future__ import annotations

import bisect
import html
import io
import itertools
import json
import operator
import os
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias, cast

from . import storage
from ._access import check_access_args, record_access
from ._progress import track
from .chain import (
    ALG_FORWARD_SECURE,
    ALG_STATIC,
    Anchor,
    ChainHead,
    check_intact_lines,
    check_line_values,
    compute_checksum,
    could_be_torn,
    links_to,
    loads,
)
from .checkpoints import VerifierKey
from .keys import VerificationKey, check_key_bytes
from .proofs import load_public_key
from .scan import (
    MAX_LINE_BYTES,
    DayBound,
    Location,
    LongLine,
    Source,
    SourceLike,
    describe_os_error,
    entry_path,
    exists,
    iter_line_blocks,
    iter_lines,
    last_event,
    list_dir,
    open_regular,
)
from .scan import resolve_source as _resolve_source
from .storage import day_of, to_day
from .trail import AuditChainVerificationResult, AuditTrail
from .treecheck import TreeCheck
from .treelog import CERTIFICATES_NAME, TREE_NAME
from .treeproc import start_tree_check

if TYPE_CHECKING:
    import pandas as pd

    from .execution import Engine, Workers

__all__ = [
    "FINDING_COLUMNS",
    "Finding",
    "FindingKind",
    "Keyring",
    "LineInfo",
    "Routine",
    "RoutineBatch",
    "Severity",
    "VerificationReport",
    "check_batches",
    "check_file",
    "recheck",
    "routine_batch",
    "routine_of",
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
    SEAL_MISMATCH = "seal_mismatch"
    MANIFEST_MISMATCH = "manifest_mismatch"
    ANCHOR_MISMATCH = "anchor_mismatch"
    UNREADABLE_FILE = "unreadable_file"
    UNSEALED_EVENTS = "unsealed_events"
    UNCHECKED_MAC = "unchecked_mac"
    NON_CANONICAL_LINE = "non_canonical_line"
    TORN_LINE = "torn_line"
    CHAIN_RESTART = "chain_restart"
    OUT_OF_ORDER = "out_of_order"
    MISPLACED_EVENT = "misplaced_event"
    TIME_REGRESSION = "time_regression"
    FOREIGN_FILE = "foreign_file"
    CHECKPOINT_MISMATCH = "checkpoint_mismatch"
    TREE_MISMATCH = "tree_mismatch"
    SIGNATURE_INVALID = "signature_invalid"
    CERTIFICATE_INVALID = "certificate_invalid"
    UNSIGNED_EVENTS = "unsigned_events"

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
    FindingKind.SEAL_MISMATCH: Severity.ERROR,
    FindingKind.MANIFEST_MISMATCH: Severity.ERROR,
    FindingKind.ANCHOR_MISMATCH: Severity.ERROR,
    FindingKind.UNREADABLE_FILE: Severity.ERROR,
    FindingKind.UNSEALED_EVENTS: Severity.WARNING,
    FindingKind.UNCHECKED_MAC: Severity.WARNING,
    FindingKind.NON_CANONICAL_LINE: Severity.WARNING,
    FindingKind.TORN_LINE: Severity.WARNING,
    FindingKind.CHAIN_RESTART: Severity.WARNING,
    FindingKind.OUT_OF_ORDER: Severity.WARNING,
    FindingKind.MISPLACED_EVENT: Severity.WARNING,
    FindingKind.TIME_REGRESSION: Severity.WARNING,
    FindingKind.FOREIGN_FILE: Severity.INFO,
    FindingKind.CHECKPOINT_MISMATCH: Severity.ERROR,
    FindingKind.TREE_MISMATCH: Severity.ERROR,
    FindingKind.SIGNATURE_INVALID: Severity.ERROR,
    FindingKind.CERTIFICATE_INVALID: Severity.ERROR,
    FindingKind.UNSIGNED_EVENTS: Severity.WARNING,
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


# ----------------------------------------------------------------- per-line checks

#: How a line's MAC stood: no MAC, checked with a key, left unchecked (no key),
#: unkeyed although a key was given (a downgrade), no usable key for it, or
#: MACed with the key of a day later than the event's own (forward security:
#: a later key must not vouch for an earlier event).
MAC_NONE, MAC_CHECKED, MAC_UNCHECKED, MAC_DOWNGRADE, MAC_NO_KEY, MAC_LATER_KEY = range(6)
_ROUTINE_MAC = frozenset({MAC_NONE, MAC_CHECKED, MAC_UNCHECKED})


class Keyring:
    """The key MACs are checked with: a static key, or an auditor's verification key.

    A forward-secure event names the day whose key MACed it; the keyring
    derives that day's key from the verification key (and caches it).
    """

    def __init__(self, key: bytes | VerificationKey) -> None:
        if isinstance(key, VerificationKey):
            self.verification: VerificationKey | None = key
            self.static: bytes | None = None
        else:
            self.verification = None
            self.static = check_key_bytes(key)
        self._days: dict[str, bytes] = {}

    def __repr__(self) -> str:
        kind = "forward-secure" if self.verification else "static"
        return f"Keyring({kind}, key=<hidden>)"

    def lookup(self, mac: Any) -> bytes:
        """The key for an event's ``mac`` object; ``ValueError`` when there is none."""
        alg = mac.get("alg") if isinstance(mac, dict) else None
        if self.static is not None:
            if alg != ALG_STATIC:
                raise ValueError(f"the event is MACed with {alg}, but the key given is static")
            return self.static
        assert self.verification is not None
        if alg != ALG_FORWARD_SECURE:
            raise ValueError(
                f"the event is MACed with {alg}, but the key given is a forward-secure "
                "verification key"
            )
        day = mac.get("day")
        key = self._days.get(day) if isinstance(day, str) else None
        if key is None:
            try:
                key = self.verification.key_for(date.fromisoformat(str(day)))
            except ValueError as exc:
                raise ValueError(f"no key for mac.day {str(day)[:20]!r}: {exc}") from None
            self._days[str(day)] = key
        return key


class LineInfo(NamedTuple):
    """What one line says, reduced to what the chain checks need (small, picklable)."""

    number: int
    terminated: bool
    size: int
    problem: str | None  # why the line is not a usable event, else None
    fragment: bool  # unparseable, and could be the start of an event line cut by a crash
    event_id: str | None
    seq: int | None
    prev: str | None
    checksum: str | None
    checksum_ok: bool
    timestamp: Any
    content_hash: str | None  # what an unkeyed content hashes to, when it does not match
    mac_state: int
    mac_label: str | None  # the key a MAC was checked with: "static" or its day
    mac_note: str | None
    rewritten: bool  # not the canonical bytes, though its values re-serialised match


def check_record(
    number: int,
    raw: bytes,
    terminated: bool,
    keyring: Keyring | None,
    day_iso: str | None = None,
) -> LineInfo:
    """Check one line on its own: parse it, check its checksum or MAC.

    ``day_iso`` is the day of the line's file: a forward-secure MAC may be of
    that day's key or an earlier one, never a later (when the clock stepped
    back the writer puts an earlier-stamped event in its newest file, MACed
    with that file's day key). Without a file day the event's own timestamp
    day is the limit.
    """
    lookup = keyring.lookup if keyring is not None else None
    line = raw[:-1] if raw.endswith(b"\r") else raw
    obj, seq, prev, checksum, ok, problem, alg, day, mac_checked, note, rewritten = (
        check_line_values(line, lookup, True)
    )
    if problem is not None or obj is None:
        problem = problem or "not a JSON object"
        event_id = obj.get("event_id") if obj is not None else None
        return _make_info(
            (
                number,
                terminated,
                len(raw),
                problem,
                obj is None and problem.startswith("not valid JSON") and could_be_torn(line),
                event_id[:100] if isinstance(event_id, str) else None,
                None,
                None,
                None,
                False,
                None,
                None,
                MAC_NONE,
                None,
                None,
                False,
            )
        )
    label = None
    if alg is None:
        state = MAC_NONE
        if keyring is not None:
            state, ok = MAC_DOWNGRADE, False
    elif mac_checked:
        state = MAC_CHECKED
        label = "static" if alg == ALG_STATIC else day
        if ok and day is not None:
            stamp = obj.get("timestamp") if day_iso is None else day_iso
            if isinstance(stamp, str) and stamp[:10] < day:
                state, ok = MAC_LATER_KEY, False
    elif note is not None:
        state = MAC_NO_KEY
    else:
        state = MAC_UNCHECKED
    content_hash = None
    if not ok and state == MAC_NONE:
        # Only a bare SHA-256 is shown: a MAC the content should have is never
        # computed for a report (it would let anyone forge the event).
        try:
            content_hash = compute_checksum(loads(line))
        except (ValueError, TypeError, RecursionError):
            content_hash = "(cannot be computed)"
    event_id = obj.get("event_id")
    return _make_info(
        (
            number,
            terminated,
            len(raw),
            None,
            False,
            event_id if isinstance(event_id, str) else None,
            seq,
            prev,
            checksum,
            ok,
            obj.get("timestamp"),
            content_hash,
            state,
            label,
            note,
            rewritten,
        )
    )


#: ``LineInfo`` from a tuple of its fields, without the keyword handling of ``LineInfo(...)``.
_make_info = cast(Callable[[tuple[Any, ...]], LineInfo], partial(tuple.__new__, LineInfo))


#: Lines the verifier takes together (see :func:`routine_of`); a worker also
#: pickles its lines a batch at a time, so it never holds many small objects.
BATCH_LINES = 2048
_F = {name: position for position, name in enumerate(LineInfo._fields)}


class Routine(NamedTuple):
    """A routine batch (see :func:`routine_of`), reduced to what the verifier needs."""

    first: LineInfo
    last: LineInfo
    rest: int  # how many lines follow the first
    watched: dict[int, str]  # their checksums at the sequence numbers the verifier watches


def routine_of(
    infos: Sequence[LineInfo], day_iso: str | None, watch: Collection[int]
) -> Routine | None:
    """The batch as a :class:`Routine` when each line after the first can only extend the chain.

    That is: every line is an intact event (its checksum or MAC holds) with
    the same MAC state and key, sequence numbers count up by one, each
    ``previous_hash`` is the checksum of the line before, and every timestamp
    is of the file's day ``day_iso`` (when the file has one) and not earlier
    than the one before. Such lines raise no finding; the verifier takes them
    at once (:meth:`_Verifier.extend`) instead of one by one. The first line
    is judged on its own: it must link to whatever came before the batch.
    ``watch`` holds the sequence numbers whose checksums seals, manifests and
    anchors need. ``None`` when the batch is not routine.
    """
    if len(infos) < 2:
        return None
    first = infos[0]
    count = len(infos)
    if first.problem is not None or first.mac_state not in _ROUTINE_MAC or first.seq is None:
        return None
    columns = list(zip(*infos, strict=True))
    checksums = columns[_F["checksum"]]
    if (
        columns[_F["problem"]].count(None) != count
        or columns[_F["checksum_ok"]].count(True) != count
        or columns[_F["mac_state"]].count(first.mac_state) != count
        or columns[_F["mac_label"]].count(first.mac_label) != count
        or columns[_F["rewritten"]].count(False) != count
        or columns[_F["seq"]] != tuple(range(first.seq, first.seq + count))
        or columns[_F["prev"]][1:] != checksums[:-1]
    ):
        return None
    if not _in_day_and_order(columns[_F["timestamp"]], day_iso):
        return None
    base = first.seq
    watched = {seq: checksums[seq - base] for seq in watch if base < seq < base + count}
    return Routine(first, infos[-1], count - 1, watched)


def _in_day_and_order(stamps: Sequence[Any], day_iso: str | None) -> bool:
    """Every timestamp is of day ``day_iso`` (when given), none earlier than the one before."""
    if day_iso is not None and not (
        set(map(type, stamps)) == {str}
        and all(map(str.startswith, stamps, itertools.repeat(day_iso)))
        and all(map(str.endswith, stamps, itertools.repeat("Z")))
    ):
        return False
    if day_iso is None:
        times = list(map(_parse_time, stamps))
        if None in times:
            return False
    else:
        try:  # all "...Z": tz-aware, as _parse_time would read them
            times = list(map(datetime.fromisoformat, stamps))
        except ValueError:
            return False
    return all(map(operator.le, times, itertools.islice(times, 1, None)))  # type: ignore[arg-type]


class RoutineBatch(NamedTuple):
    """A routine batch checked at once (:func:`routine_batch`): its summary, and
    where its lines are in their file (``[start, end)`` in bytes), to check
    them again one by one in the rare case the verifier needs them."""

    routine: Routine
    span: tuple[int, int]


def recheck(
    path: str | os.PathLike[str], routine: Routine, span: tuple[int, int], keyring: Keyring | None
) -> list[LineInfo]:
    """The lines of a routine batch, read again from ``span`` of ``path`` and checked one by one.

    :raises OSError: they cannot be read, or the file no longer holds them there.
    """
    start, end = span
    with io.BufferedReader(open_regular(path)) as handle:
        handle.seek(start)
        data = handle.read(end - start)
    raws = data.split(b"\n")
    changed = OSError(0, f"its bytes {start} to {end} changed while it was verified")
    if len(data) != end - start or raws.pop() != b"" or len(raws) != routine.rest + 1:
        raise changed
    first = routine.first.number
    day = day_of(os.fspath(path))
    day_iso = day.isoformat() if day is not None else None  # the MAC day rule's limit
    infos = [check_record(first + i, raw, True, keyring, day_iso) for i, raw in enumerate(raws)]
    if infos[0] != routine.first or infos[-1] != routine.last:
        raise changed
    return infos


def routine_batch(
    number: int,
    span: tuple[int, int],
    raws: Sequence[bytes],
    keyring: Keyring | None,
    day_iso: str | None,
    watch: Collection[int],
) -> RoutineBatch | None:
    """Terminated lines ``raws`` (the first is line ``number``; ``span``: their bytes) at once.

    The batch form of :func:`check_record` followed by :func:`routine_of`,
    with the same answer: the lines are checked together
    (:func:`.chain.check_intact_lines`) and judged on columns, with no
    per-line ``LineInfo``. ``None`` when the batch is not routine; the caller
    then checks its lines one by one.
    """
    count = len(raws)
    if count < 2:
        return None
    lookup = keyring.lookup if keyring is not None else None
    intact = check_intact_lines(raws, lookup)
    if intact is None:
        return None
    objs, checksums = intact
    first = check_record(number, raws[0], True, keyring, day_iso)
    state, label = first.mac_state, first.mac_label
    if (
        first.problem is not None
        or not first.checksum_ok
        or state not in _ROUTINE_MAC
        or first.seq is None
    ):
        return None
    base = first.seq
    seqs = [obj.get("sequence_number") for obj in objs]
    if seqs != list(range(base, base + count)) or set(map(type, seqs)) != {int}:
        return None
    prevs = [obj.get("previous_hash") for obj in objs]
    if prevs[1:] != checksums[:-1]:
        return None
    stamps = [obj.get("timestamp") for obj in objs]
    if not _in_day_and_order(stamps, day_iso):
        return None
    if state == MAC_CHECKED and label != "static":
        # Forward-secure: no event older than the day of its key (see check_record);
        # the times are strings (checked above), of ``day_iso`` when it is given.
        assert label is not None
        if (day_iso or min(map(str, stamps))[:10]) < label:
            return None
    event_id = objs[-1].get("event_id")
    last = _make_info(
        (
            number + count - 1,
            True,
            len(raws[-1]),
            None,
            False,
            event_id if isinstance(event_id, str) else None,
            seqs[-1],
            prevs[-1],
            checksums[-1],
            True,
            stamps[-1],
            None,
            state,
            label,
            None,
            False,
        )
    )
    watched = {seq: checksums[seq - base] for seq in watch if base < seq < base + count}
    return RoutineBatch(Routine(first, last, count - 1, watched), span)


def _long_line_info(number: int, line: LongLine, terminated: bool) -> LineInfo:
    """A line too long to hold (see :data:`.scan.MAX_LINE_BYTES`): malformed, unread."""
    problem = (
        f"a line of {line.length}{'' if terminated else '+'} bytes, which exceeds the limit "
        f"of {MAX_LINE_BYTES} bytes a line may have; it was skipped unread"
    )
    return LineInfo(
        number=number,
        terminated=terminated,
        size=line.length,
        problem=problem,
        fragment=False,
        event_id=None,
        seq=None,
        prev=None,
        checksum=None,
        checksum_ok=False,
        timestamp=None,
        content_hash=None,
        mac_state=MAC_NONE,
        mac_label=None,
        mac_note=None,
        rewritten=False,
    )


def check_file(path: Path, keyring: Keyring | None = None) -> Iterator[LineInfo]:
    """Check every line of one file on its own (the part of verifying that parallelises).

    :raises OSError: the file cannot be read (possibly part-way through).
    """
    day = day_of(path)
    day_iso = day.isoformat() if day is not None else None
    for number, raw, terminated in iter_lines(path):
        if isinstance(raw, LongLine):
            yield _long_line_info(number, raw, terminated)
        else:
            yield check_record(number, raw, terminated, keyring, day_iso)


#: What :func:`check_batches` gives for a batch: its lines, or a routine batch.
CheckedBatch: TypeAlias = "list[LineInfo] | RoutineBatch"


def check_batches(
    path: str | os.PathLike[str],
    start: int,
    end: int | None,
    keyring: Keyring | None,
    day_iso: str | None = None,
    watch: Collection[int] = (),
) -> Iterator[CheckedBatch]:
    """The lines starting in ``[start, end)`` of a file, checked, in batches of :data:`BATCH_LINES`.

    A routine batch comes as a :class:`RoutineBatch` (see :func:`routine_batch`;
    ``day_iso`` is the file's day, ``watch`` the sequence numbers whose
    checksums the verifier keeps), any other as its lines' :class:`LineInfo`.
    Lines are numbered from 1 at ``start``. Used by the serial verifier and by
    each worker.

    :raises OSError: the file cannot be read; the lines read before are
        yielded first.
    """

    def checked(number: int, at: int, raws: list[bytes]) -> tuple[CheckedBatch, int]:
        """Lines ``raws`` (from line ``number``, byte ``at``) checked; where they end."""
        stop = at + sum(map(len, raws)) + len(raws)  # every line ends in a newline
        routine = routine_batch(number, (at, stop), raws, keyring, day_iso, watch)
        if routine is not None:
            return routine, stop
        keys, days = itertools.repeat(keyring), itertools.repeat(day_iso)
        return list(
            map(check_record, itertools.count(number), raws, itertools.repeat(True), keys, days)
        ), stop

    raws: list[bytes] = []
    number = at = 1  # the number and the byte offset of raws[0]
    try:
        for first, block, terminated, offset in iter_line_blocks(path, start, end):
            long_line = type(block[0]) is LongLine
            if not terminated or long_line:  # these come alone: the last, unterminated
                if raws:  # line of a file, and a line too long to hold
                    yield checked(number, at, raws)[0]
                    raws = []
                raw = block[0]
                if isinstance(raw, LongLine):
                    yield [_long_line_info(first, raw, terminated)]
                else:
                    yield [check_record(first, raw, False, keyring, day_iso)]
                continue
            if not raws:
                number, at = first, offset
            raws += block
            while len(raws) >= BATCH_LINES:
                batch, at = checked(number, at, raws[:BATCH_LINES])
                yield batch
                del raws[:BATCH_LINES]
                number += BATCH_LINES
    except OSError:
        if raws:
            yield checked(number, at, raws)[0]
        raise
    if raws:
        yield checked(number, at, raws)[0]


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


def _mac_day(record: dict[str, Any] | None) -> str | None:
    """The day whose key MACed a record (forward-secure), else ``None``."""
    mac = record.get("mac") if record is not None else None
    day = mac.get("day") if isinstance(mac, dict) else None
    return day if isinstance(day, str) else None


def _iso_day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text is not None else None
    except ValueError:
        return None


def _clip_name(name: str) -> str:
    """A file name from a record, clipped and quoted when it is odd."""
    return name if len(name) <= 80 and name.isprintable() else repr(name[:77]) + "..."


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

    def __init__(
        self,
        source: Source,
        keyring: Keyring | None = None,
        anchors: tuple[Anchor, ...] = (),
    ) -> None:
        self.source = source
        self.keyring = keyring
        self.anchors = anchors
        self.macs_checked = 0
        self.macs_unchecked = 0
        self.mac_days: dict[str, int] = {}
        #: Checksums seen at the sequence numbers seals, manifests and anchors name.
        self.watch: set[int] = {a.sequence_number for a in anchors}
        self.seen: dict[int, set[str]] = {}
        self.file_tallies: list[dict[str, Any]] = []
        #: Without a key: the runs of events whose MACs were left unchecked (where
        #: each starts, its first sequence, how many), and the events hashed bare.
        self.unchecked_runs: list[tuple[_At, int, int]] = []
        self.hashed_events = 0
        self._last_mac_state: int | None = None
        self.head_time: Any = None
        self.since: date | None = None
        self.until: date | None = None
        self.seal: dict[str, Any] | None = None
        self.seal_problem: str | None = None
        self.seal_present = False
        #: Where the seal and manifests are (None: not checked), and whether this
        #: package's writer left its marks there (a seal file or manifests).
        self.record_dir: Location | None = None
        self.writer_marks = False
        self.all_days: list[date] = []
        #: Checks that could not run, in sentences, for the report.
        self.notes: list[str] = []
        self.manifests: list[tuple[date, Location, dict[str, Any] | None, str | None]] = []
        self.manifest_bounds: dict[int, tuple[int, int]] = {}
        self.anchors_checked = 0
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

    def _check_unchecked_macs(self) -> None:
        """Without a key, events that carry a MAC beside events hashed bare: the
        content of those events is not checked at all, so an edited line marked
        as MACed would pass unseen. Said once per run of such events."""
        if not self.hashed_events:
            return
        for at, first, count in self.unchecked_runs:
            span = f"sequence {first}" if count == 1 else f"sequences {first}..{first + count - 1}"
            self.add(
                FindingKind.UNCHECKED_MAC,
                at,
                first,
                f"expected every event to be checked; found {count} event"
                f"{'s' if count != 1 else ''} ({span}) carrying a MAC that could not be checked "
                f"(no key given) in a trail whose other {self.hashed_events} events have bare "
                "checksums: their content is not verified (a key switched on at a restart "
                "explains it; so would an edited line marked as MACed). Verify with the key",
            )

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
        self.open_file(index)
        try:
            batches = check_batches(
                self.files[index].path, 0, None, self.keyring, self.day_iso, self.watch
            )
            for batch in batches:
                if isinstance(batch, RoutineBatch):
                    self.routine(index, batch.routine, batch.span)
                else:
                    self.lines(index, batch)
        except OSError as exc:
            self.file_failed(index, exc)
            return
        self.files_checked += 1

    def routine(self, index: int, routine: Routine, span: tuple[int, int]) -> None:
        """A routine batch of file ``index``, taken at once (line by line only when
        its first line did not leave the chain where the others extend it).

        :raises OSError: its lines had to be read again, and could not be.
        """
        self.line(index, routine.first)
        if self.extend(index, routine):
            return
        infos = recheck(self.files[index].path, routine, span, self.keyring)
        for info in infos[1:]:
            self.line(index, info)

    def lines(self, index: int, infos: Sequence[LineInfo]) -> None:
        """Consecutive lines of file ``index``, a routine batch taken at once."""
        routine = routine_of(infos, self.day_iso, self.watch)
        if routine is not None:
            self.line(index, routine.first)
            if self.extend(index, routine):
                return
            infos = infos[1:]
        for info in infos:
            self.line(index, info)

    def open_file(self, index: int) -> None:
        """Start file ``index``: its lines follow through :meth:`line` (also from workers)."""
        audit_file = self.files[index]
        self.day = audit_file.day
        self.day_iso = audit_file.day.isoformat() if audit_file.day else None
        self.file_tallies.append({"first": None, "count": 0})

    def file_failed(self, index: int, exc: OSError) -> None:
        """File ``index`` could not be read (possibly part-way): one ``unreadable_file``."""
        self.add(
            FindingKind.UNREADABLE_FILE,
            (index, None, None),
            None,
            f"the file could not be read: {describe_os_error(exc)}; "
            "its events (or the rest of them) are not verified",
        )

    def line(self, index: int, info: LineInfo) -> None:
        if info.problem is not None:
            self.add_bad(
                _Bad(
                    (index, info.number, info.event_id),
                    info.problem,
                    info.fragment,
                    info.terminated,
                    info.size,
                )
            )
            return
        seq = info.seq
        assert seq is not None
        state = info.mac_state
        if state == MAC_CHECKED and info.checksum_ok:
            self.macs_checked += 1
            label = info.mac_label or "?"
            self.mac_days[label] = self.mac_days.get(label, 0) + 1
        elif state == MAC_UNCHECKED:
            self.macs_unchecked += 1
        self._mac_run(state, (index, info.number, info.event_id), seq, 1)
        tally = self.file_tallies[index]
        tally["count"] += 1
        if state != MAC_NONE:
            tally["keyed"] = True
        if tally["first"] is None:
            tally["first"] = seq
        bounds = self.manifest_bounds.get(index)
        if bounds is not None and bounds[0] <= seq <= bounds[1]:
            tally["in_range"] = tally.get("in_range", 0) + 1
        if seq in self.watch and info.checksum is not None and info.checksum_ok:
            self.seen.setdefault(seq, set()).add(info.checksum)
        if info.rewritten and info.checksum_ok:
            self.add(
                FindingKind.NON_CANONICAL_LINE,
                (index, info.number, info.event_id),
                seq,
                "expected the canonical JSON every writer of this format writes, found the "
                "line laid out otherwise (its values re-serialised match its checksum, so "
                "its content is as hashed): reformatted after it was written?",
            )
        self.event((index, info.number, info.event_id), seq, info)

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
                + " that is the start of an event line: a write cut short by a crash; "
                "no event is missing around it",
            )
        else:
            self.add(
                FindingKind.MALFORMED_LINE,
                bad.at,
                seq,
                f"expected one audit event (a JSON object with its chain fields), "
                f"found {bad.problem}",
            )

    def event(self, at: _At, seq: int, info: LineInfo) -> None:
        prev_hash, checksum, checksum_ok = info.prev, info.checksum, info.checksum_ok
        before = self.prev
        run = self._extendable(seq, prev_hash) if checksum_ok else None
        if run is not None:  # the common case: an intact event linking to the one before
            assert before is not None
            timestamp = _parse_time(info.timestamp)
            self._check_time(at, seq, info.timestamp, timestamp, before)
            self._advance(run, 1, at, seq, checksum, info.timestamp, timestamp)
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
        self._check_time(at, seq, info.timestamp, timestamp, before)
        if self.segment.max_seq == position:
            self.head_time = info.timestamp
        self.prev = _Event(position, checksum, at, timestamp, not checksum_ok)

    def extend(self, index: int, routine: Routine) -> bool:
        """Take the lines after the first of a routine batch at once.

        The state ends exactly as :meth:`line` on each would leave it; returns
        False, having changed nothing, when the batch's first line (already
        taken) did not leave the chain where they can simply extend it.
        """
        last, count = routine.last, routine.rest
        seq = last.seq
        assert seq is not None
        first_seq = seq - count + 1
        # The second line's previous_hash is the first line's checksum.
        run = self._extendable(first_seq, routine.first.checksum)
        if run is None:
            return False
        state = last.mac_state
        if state == MAC_CHECKED:
            self.macs_checked += count
            label = last.mac_label or "?"
            self.mac_days[label] = self.mac_days.get(label, 0) + count
        elif state == MAC_UNCHECKED:
            self.macs_unchecked += count
        self._mac_run(state, None, first_seq, count)
        tally = self.file_tallies[index]
        tally["count"] += count
        bounds = self.manifest_bounds.get(index)
        if bounds is not None:
            overlap = min(bounds[1], seq) - max(bounds[0], first_seq) + 1
            if overlap > 0:
                tally["in_range"] = tally.get("in_range", 0) + overlap
        for watched, checksum in routine.watched.items():
            self.seen.setdefault(watched, set()).add(checksum)
        at: _At = (index, last.number, last.event_id)
        timestamp = _parse_time(last.timestamp)
        self._advance(run, count, at, seq, last.checksum, last.timestamp, timestamp)
        return True

    def _extendable(self, first_seq: int, linked_to: str | None) -> _Run | None:
        """The segment's last run when intact events from ``first_seq`` on, the
        first linking to ``linked_to``, can only extend it; else None (the
        general path judges). For them the general path would do exactly what
        :meth:`_advance` does, minus its searches."""
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

    def _advance(
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
        self.add(
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

    # ------------------------------------------------------------ seals, manifests

    def _record_check(self, record: dict[str, Any]) -> str | None:
        """Why a seal or manifest record cannot be trusted, or None (unchecked MACs pass)."""
        mac = record.get("mac")
        if mac is None:
            if self.keyring is not None:
                return "it carries no MAC although a key was given"
            key = None
        elif self.keyring is None:
            return None
        else:
            try:
                key = self.keyring.lookup(mac)
            except ValueError as exc:
                return str(exc)
        try:
            ok = compute_checksum(record, key) == record.get("checksum")
        except (ValueError, TypeError, RecursionError):
            ok = False
        return None if ok else "its checksum or MAC does not match its content"

    def _in_range(self, day: date | None) -> bool:
        if day is None:
            return False
        return (self.since is None or day >= self.since) and (
            self.until is None or day <= self.until
        )

    def _record_directory(self) -> Location | None:
        """Where the seal and manifests of the source are: its directory, or the one
        directory all its files are in (``None``, with a note, when they are in several)."""
        if self.source.directory is not None:
            return self.source.directory
        parents = {f.path.parent for f in self.files}
        if len(parents) == 1:
            return parents.pop()
        self.notes.append(
            "sealed head and day manifests: not checked, the files are not all in one directory"
        )
        return None

    def _read_seal(self, directory: Location) -> None:
        """Read the seal's slots and keep the best record that checks out (or why none does)."""
        path = directory / storage.SEAL_NAME
        try:
            slots = storage.read_seals(path)
        except storage.UnsafeRecordError as exc:
            self.seal_present = True
            self.seal_problem = f"{exc}; it was not read"
            return
        except OSError as exc:
            self.seal_present = True
            self.seal_problem = f"{path.name} could not be read: {describe_os_error(exc)}"
            return
        self.seal_present = bool(slots) or exists(path)
        good: list[dict[str, Any]] = []
        problems: list[str] = []
        for slot in slots:
            if isinstance(slot, str):
                continue  # a slot torn by a crash; the other slot holds the previous seal
            seq, head, name = (
                slot.get("sequence_number"),
                slot.get("head_checksum"),
                slot.get("file"),
            )
            if type(seq) is not int or not isinstance(head, str) or not isinstance(name, str):
                problems.append("a seal record lacks sequence_number, head_checksum or file")
                continue
            problem = self._record_check(slot)
            if problem is None:
                good.append(slot)
            else:
                problems.append(f"the seal of sequence {seq} cannot be trusted: {problem}")
        if good:
            best = max(good, key=lambda r: r["sequence_number"])
            name = best["file"]
            if self.source.directory is not None:
                applies = self._in_range(day_of(name)) or (
                    self.since is None and self.until is None
                )
            else:
                applies = any(f.path.name == name for f in self.files)
            if applies:
                self.seal = best
                self.watch.add(best["sequence_number"])
            else:
                self.notes.append(
                    f"sealed head: not checked, it is in {_clip_name(name)}, "
                    "outside the files verified (their tail is not vouched for)"
                )
        elif problems:
            self.seal_problem = "; ".join(problems)

    def prepare(self, since: date | None, until: date | None) -> None:
        """Read the seal and the day manifests kept beside the audit files
        (a directory's, or those beside the files given)."""
        self.since, self.until = since, until
        directory = self._record_directory()
        if directory is None:
            return
        self.record_dir = directory
        self._read_seal(directory)
        by_day = {f.day: index for index, f in enumerate(self.files) if f.day is not None}
        try:
            entries = list_dir(directory)
        except OSError:
            entries = []
        names = {entry.name for entry in entries}
        self.writer_marks = self.seal_present
        self.all_days = sorted(day for day in map(day_of, names) if day is not None)
        files_given = self.source.directory is None
        for entry in entries:
            match = storage.MANIFEST_PATTERN.match(entry.name)
            if match is None:
                continue
            self.writer_marks = True
            try:
                day = date.fromisoformat(match[1])
            except ValueError:
                continue
            if files_given and day not in by_day:
                continue  # the manifest of a file not given
            if not self._in_range(day) and (self.since or self.until):
                continue
            path = entry_path(directory, entry)
            try:
                record = storage.read_record(path)
            except OSError as exc:
                reason = f"it cannot be read: {describe_os_error(exc)}"
                self.manifests.append((day, path, None, reason))
                continue
            except ValueError as exc:
                self.manifests.append((day, path, None, f"it cannot be read: {exc}"))
                continue
            if record is None:
                continue
            problem = self._record_check(record)
            mac = record.get("mac")
            mac_day = mac.get("day") if isinstance(mac, dict) else None
            if problem is None and isinstance(mac_day, str) and mac_day > day.isoformat():
                problem = (
                    f"it is MACed with the key of {mac_day[:10]}, later than its own day: "
                    "a later key cannot vouch for an earlier day"
                )
            first, last = record.get("first_sequence"), record.get("last_sequence")
            if problem is None and (type(first) is not int or type(last) is not int):
                problem = "it lacks first_sequence or last_sequence"
            self.manifests.append((day, path, record, problem))
            if problem is None and day in by_day:
                assert isinstance(first, int)
                assert isinstance(last, int)
                self.manifest_bounds[by_day[day]] = (first, last)
                self.watch.add(last)

    def _seal_finding(self, kind: FindingKind, seq: int | None, message: str) -> None:
        """A finding about the seal, reported after every line's findings."""
        directory = self.record_dir
        seal_file = str(directory / storage.SEAL_NAME) if directory else None
        end = (len(self.files), 0, len(self.findings))
        self.findings.append(
            (end, Finding(kind, kind.severity, seal_file, None, seq, None, message))
        )

    def _check_seal(self) -> None:
        if self.seal_problem is not None:
            self._seal_finding(
                FindingKind.SEAL_MISMATCH,
                None,
                f"expected a sealed head record that checks out, found none: {self.seal_problem}",
            )
            self.notes.append("sealed head: not checked, it could not be read or trusted")
            return
        seal = self.seal
        if seal is None:
            if self.record_dir is None or any("sealed head" in note for note in self.notes):
                return
            keyed = any(tally.get("keyed") for tally in self.file_tallies)
            if (self.writer_marks or keyed) and self.events:
                why = (
                    "its events are keyed"
                    if keyed
                    else "fapilog-notebook's "
                    + ("day manifests are beside it" if self.manifests else "seal file is empty")
                )
                self._seal_finding(
                    FindingKind.SEAL_MISMATCH,
                    None,
                    f"expected a sealed head ({storage.SEAL_NAME}) beside a trail whose writer "
                    f"seals ({why}), found none: deleted? Without it the end of the trail "
                    "cannot be checked (its last events or newest file may be missing)",
                )
                self.notes.append("sealed head: not checked, it is missing")
            elif self.events:
                self.notes.append(
                    "sealed head: none (the writer does not seal, as fapilog's own); "
                    "events deleted at the end of the trail cannot be detected"
                )
            return
        seq, sealed, name = seal["sequence_number"], seal["head_checksum"], seal["file"]
        last = next((g for g in reversed(self.segments) if g.events), None)
        top = last.max_seq if last is not None and last.max_seq is not None else 0
        when = f"sealed {seal.get('time')}" if isinstance(seal.get("time"), str) else "sealed"
        if seq > top:
            missing = seq - top
            present = any(Path(str(f.path)).name == name for f in self.files)
            lost = "" if present else f"; {name} itself is missing"
            self._seal_finding(
                FindingKind.TRUNCATED_TAIL,
                seq,
                f"expected the chain to reach sequence {seq} ({when}, in {name}), "
                f"found it ending at sequence {top}: {missing} event"
                f"{'s are' if missing != 1 else ' is'} missing at the end{lost}",
            )
            return
        if seq in self.seen and sealed not in self.seen[seq]:
            found = ", ".join(sorted(self.seen[seq]))
            self._seal_finding(
                FindingKind.SEAL_MISMATCH,
                seq,
                f"expected sequence {seq} to have checksum {sealed} ({when}), "
                f"found {found}: the end of the chain was rewritten",
            )
        if top > seq:
            extra = top - seq
            span = f"sequence {top}" if extra == 1 else f"sequences {seq + 1}..{top}"
            self._seal_finding(
                FindingKind.UNSEALED_EVENTS,
                seq + 1,
                f"expected the chain to end at the sealed head, sequence {seq} ({when}, in "
                f"{name}); found {extra} more event{'s' if extra != 1 else ''} ({span}) that no "
                "seal vouches for: a crash between an append and the seal's update leaves a "
                "few, anything more was appended by something other than the writer",
            )

    def _check_manifests(self) -> None:
        by_day = {f.day: index for index, f in enumerate(self.files) if f.day is not None}
        recorded = {day for day, _, _, _ in self.manifests}
        directory = self.record_dir
        for number, audit_file in enumerate(self.files[:-1]):
            tally = self.file_tallies[number] if number < len(self.file_tallies) else {}
            day = audit_file.day
            if directory is None or day is None or day in recorded or not tally.get("keyed"):
                continue
            # A keyed writer records a manifest for every day file it leaves.
            self.findings.append(
                (
                    (number, 0, len(self.findings)),
                    Finding(
                        FindingKind.MANIFEST_MISMATCH,
                        Severity.ERROR,
                        str(storage.manifest_path(directory, day)),
                        None,
                        tally.get("first"),
                        None,
                        f"expected a day manifest for {Path(str(audit_file.path)).name}, which "
                        "a keyed writer records when it moves to a later day; found none "
                        "(deleted?)",
                    ),
                )
            )
        for day, path, record, problem in self.manifests:
            order = (by_day.get(day, len(self.files)), 0, len(self.findings))
            name = storage.file_for_day(Path("."), day).name
            if problem is not None or record is None:
                message = f"expected a day manifest for {name} that checks out: {problem}"
            else:
                first, last = record["first_sequence"], record["last_sequence"]
                events, closing = record.get("events"), record.get("last_checksum")
                what = (
                    f"the {events} events its manifest records (sequences {first}..{last}, "
                    f"closed {record.get('closed_at')})"
                )
                index = by_day.get(day)
                if index is None:
                    message = f"expected {name} to hold {what}; the file is missing (deleted)"
                else:
                    tally = self.file_tallies[index] if index < len(self.file_tallies) else {}
                    in_range = tally.get("in_range", 0)
                    intact = (
                        tally.get("first") == first
                        and in_range == events
                        and closing in self.seen.get(last, set())
                    )
                    beyond = tally.get("count", 0) - in_range
                    later = any(d > day for d in self.all_days) or index < len(self.files) - 1
                    if intact and beyond > 0 and later:
                        message = (
                            f"expected {name} to end at sequence {last}, as its manifest "
                            f"records (closed {record.get('closed_at')}); found {beyond} more "
                            f"event{'s' if beyond != 1 else ''} in it: added to a day the writer "
                            "had closed (it never goes back to a day once a later one began)"
                        )
                    elif intact:
                        continue
                    else:
                        message = (
                            f"expected {name} to hold {what}; found {in_range} events in that "
                            f"range, starting at sequence {tally.get('first')}"
                            + (
                                ""
                                if closing in self.seen.get(last, set())
                                else f", and sequence {last} is not the one recorded"
                            )
                            + ": the day file was replaced or altered"
                        )
            first_seq = record.get("first_sequence") if record is not None else None
            finding = Finding(
                FindingKind.MANIFEST_MISMATCH,
                Severity.ERROR,
                str(path),
                None,
                first_seq if type(first_seq) is int else None,
                None,
                message,
            )
            self.findings.append((order, finding))

    def _check_anchors(self) -> None:
        end = (len(self.files), 1, len(self.findings))
        ranged = self.since is not None or self.until is not None
        for anchor in self.anchors:
            seq = anchor.sequence_number
            found = self.seen.get(seq)
            if found is None and ranged:
                continue  # outside the days verified
            self.anchors_checked += 1
            if found is not None and anchor.checksum in found:
                continue
            when = f", recorded at {anchor.time}" if anchor.time else ""
            if found is None:
                detail = f"found no intact event with sequence {seq} in the trail"
            else:
                detail = (
                    f"found sequence {seq} with checksum {', '.join(sorted(found))}: history "
                    "up to the anchor was rewritten"
                )
            self.findings.append(
                (
                    end,
                    Finding(
                        FindingKind.ANCHOR_MISMATCH,
                        Severity.ERROR,
                        None,
                        None,
                        seq,
                        None,
                        f"expected the anchored event (sequence {seq}, checksum "
                        f"{anchor.checksum}{when}); {detail}",
                    ),
                )
            )

    def finish(self) -> None:
        """Judge a waiting last line, close the last segment and report the holes."""
        if self.bad is not None:
            bad = self.bad
            last_file = bad.at[0] == len(self.files) - 1
            torn = self.bad_count == 1 and last_file and bad.fragment and not bad.terminated
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
        self._check_unchecked_macs()
        self._check_seal()
        self._check_manifests()
        self._check_day_series()
        self._check_anchors()

    def _check_day_series(self) -> None:
        """Forward-secure, with a verification key whose writer records every day:
        each day from the key's start to the day before the newest key used
        must have its day manifest or an empty-day record, MACed with that
        day's own key. Someone holding today's key cannot make one for an
        earlier day, so a deleted day (its file and its manifest) shows.
        """
        keyring, directory = self.keyring, self.record_dir
        verification = keyring.verification if keyring is not None else None
        if directory is None or verification is None or not verification.promises_day_series:
            return
        ranged = self.since is not None or self.until is not None
        files_given = self.source.directory is None
        covered = {day for day, _, _, _ in self.manifests}
        # A day file with keyed events stands for its day here: without its manifest
        # it is reported by _check_manifests. A file without them (empty, planted)
        # carries nothing MACed with its day's key and covers nothing.
        covered.update(
            f.day
            for f, tally in zip(self.files, self.file_tallies, strict=False)
            if f.day is not None and tally.get("keyed")
        )
        used = [_iso_day(label) for label in self.mac_days]
        used += [
            _iso_day(_mac_day(record)) for _, _, record, problem in self.manifests if not problem
        ]
        if self.seal is not None:
            used.append(_iso_day(_mac_day(self.seal)))
        for day, path, problem in self._empty_days(directory):
            if problem is None:
                covered.add(day)
                used.append(day)
                continue
            if (ranged and not self._in_range(day)) or files_given:
                continue  # outside what was verified: it only fails to cover its day
            self.findings.append(
                (
                    (len(self.files), 0, len(self.findings)),
                    Finding(
                        FindingKind.MANIFEST_MISMATCH,
                        Severity.ERROR,
                        str(path),
                        None,
                        None,
                        None,
                        f"expected an empty-day record of {day.isoformat()} that checks out: "
                        f"{problem}",
                    ),
                )
            )
        newest = max((d for d in used if d is not None), default=None)
        if newest is None:
            return
        # From the key's first day, even for a range or files given: the chain
        # runs across the days before them, and a day deleted there (its file
        # and record) must show, as when the whole directory is verified.
        first = verification.start
        last = newest - timedelta(days=1)
        if self.until is not None:
            last = min(last, self.until)
        day = first
        while day <= last:
            if day not in covered and not self._recorded_elsewhere(directory, day):
                self.findings.append(
                    (
                        (len(self.files), 0, len(self.findings)),
                        Finding(
                            FindingKind.MANIFEST_MISMATCH,
                            Severity.ERROR,
                            str(storage.manifest_path(directory, day)),
                            None,
                            None,
                            None,
                            f"expected a record of {day.isoformat()} (its day manifest, or an "
                            "empty-day record) MACed with that day's key, as the writer of this "
                            f"verification key leaves for every day from {verification.start} "
                            f"until the newest key used ({newest.isoformat()}); found none: "
                            "the day was deleted",
                        ),
                    )
                )
            day += timedelta(days=1)

    def _recorded_elsewhere(self, directory: Location, day: date) -> bool:
        """Whether ``day``, outside the files verified, has a day manifest MACed with
        its own key (read bounded; anything else there does not cover it)."""
        partial = self.since is not None or self.until is not None
        if not partial and self.source.directory is not None:
            return False  # the whole directory was verified: its manifests are known
        try:
            record = storage.read_record(storage.manifest_path(directory, day))
        except (OSError, ValueError):
            return False
        return (
            record is not None
            and self._record_check(record) is None
            and record.get("kind") == "manifest"
            and _mac_day(record) == day.isoformat()
        )

    def _empty_days(self, directory: Location) -> Iterator[tuple[date, Location, str | None]]:
        """The empty-day records in ``directory``, each with why it cannot be
        trusted (``None`` when it checks out with its own day's key)."""
        try:
            entries = list_dir(directory)
        except OSError:
            return
        for entry in entries:
            match = storage.EMPTY_DAY_PATTERN.match(entry.name)
            if match is None:
                continue
            try:
                day = date.fromisoformat(match[1])
            except ValueError:
                continue
            path = entry_path(directory, entry)
            try:
                record = storage.read_record(path)
            except (OSError, ValueError) as exc:
                yield day, path, f"it cannot be read: {exc}"
                continue
            if record is None:
                continue
            problem = self._record_check(record)
            if problem is None and (
                record.get("kind") != "empty_day"
                or record.get("day") != day.isoformat()
                or _mac_day(record) != day.isoformat()
            ):
                problem = "it is not the empty-day record of its day, MACed with that day's key"
            yield day, path, problem

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
            time = self.head_time if isinstance(self.head_time, str) else None
            head = Anchor(last.max_seq, last.max_checksum, time)
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
            key_given=self.keyring is not None,
            macs_checked=self.macs_checked,
            macs_unchecked=self.macs_unchecked,
            mac_days=dict(sorted(self.mac_days.items())),
            sealed=self.seal is not None,
            manifests_checked=len(self.manifests),
            anchors_checked=self.anchors_checked,
            checks_skipped=tuple(self.notes),
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
        "sequence_number": _integers([f.sequence_number for f in findings]),
        "event_id": pd.Series([f.event_id for f in findings], dtype=object),
        "message": pd.Series([f.message for f in findings], dtype=object),
    }
    return pd.DataFrame(data, columns=list(FINDING_COLUMNS))


def _segments_frame(rows: tuple[dict[str, Any], ...]) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame(rows, columns=list(SEGMENT_COLUMNS))
    for column in ("first_sequence", "last_sequence", "events"):
        frame[column] = _integers(list(frame[column]))
    return frame


_INT64_MAX = 2**63 - 1


def _integers(values: list[Any]) -> Any:
    """Whole numbers as a nullable ``Int64`` array, or exact Python ints (``object``)
    when one is beyond 64 bits: a hostile file can hold any integer JSON allows,
    and its findings must still be shown."""
    import pandas as pd

    if all(v is None or v is pd.NA or -_INT64_MAX - 1 <= v <= _INT64_MAX for v in values):
        return pd.array(values, dtype="Int64")
    return pd.array([None if v is pd.NA else v for v in values], dtype=object)


# ----------------------------------------------------------------- the report


def _printable(text: str) -> str:
    """Escape control characters so hostile content cannot drive a terminal."""
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
    )


#: Cells of the findings table wrap (JupyterLab's default is one line, cut at the edge);
#: short codes stay whole, long values (paths, ids, messages) break where they must.
_CELL_STYLE = "text-align:left;vertical-align:top;white-space:normal;overflow-wrap:anywhere"
_CODE_STYLE = "text-align:left;vertical-align:top;white-space:nowrap"
_CODE_COLUMNS = frozenset({"kind", "severity", "line", "sequence_number"})


def _now_text() -> str:
    """The current UTC time to the second, as an ISO 8601 string (when a report was made)."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _tool_version() -> str:
    """This package's version, recorded in every report."""
    from . import __version__

    return __version__


@dataclass(frozen=True, eq=False)
class VerificationReport:
    """What :func:`verify_audit_log` found: the verdict, counts, segments, findings.

    ``valid`` is True when no finding has ``error`` severity. ``head`` is the
    last sequence number of the last segment and its checksum (where the next
    event links to). ``segments`` has one row per chain segment; ``findings``
    one row per problem, with :data:`FINDING_COLUMNS`. ``checks_skipped``
    says, a sentence each, which checks could not run (no seal, a seal outside
    the files verified...), so a VALID verdict is never read for more than it is.
    """

    source: str
    valid: bool
    events_checked: int
    files_checked: int
    first_sequence: int | None
    last_sequence: int | None
    head: Anchor | None
    segment_rows: tuple[dict[str, Any], ...] = ()
    finding_list: tuple[Finding, ...] = ()
    key_given: bool = False
    macs_checked: int = 0
    macs_unchecked: int = 0
    mac_days: dict[str, int] = field(default_factory=dict)
    sealed: bool = False
    manifests_checked: int = 0
    anchors_checked: int = 0
    checks_skipped: tuple[str, ...] = ()
    verified_at: str = field(default_factory=_now_text)
    tool_version: str = field(default_factory=_tool_version)
    checkpoints_checked: int = 0
    signatures_checked: int = 0

    @property
    def mac_status(self) -> str:
        """One sentence on the MACs: checked (with which keys), not checked, or none."""
        if self.macs_unchecked:
            return (
                f"{self.macs_unchecked} keyed events: MACs NOT checked (no key given); "
                "links, sequence and structure were checked"
            )
        if not self.macs_checked:
            return "no keyed events" + (" (a key was given)" if self.key_given else "")
        keys = ", ".join(
            f"{label} key ({count})" if label == "static" else f"{label} ({count})"
            for label, count in self.mac_days.items()
        )
        return f"{self.macs_checked} MACs checked with: {keys}"

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
        lines.append(f"  MACs: {self.mac_status}")
        extras = []
        if self.sealed:
            extras.append("sealed head checked")
        if self.manifests_checked:
            extras.append(f"{self.manifests_checked} day manifests checked")
        if self.anchors_checked:
            extras.append(f"{self.anchors_checked} anchors checked")
        if self.checkpoints_checked:
            extras.append(f"{self.checkpoints_checked} tree checkpoints checked")
        if self.signatures_checked:
            extras.append(f"{self.signatures_checked} checkpoint signatures checked")
        if extras:
            lines.append("  " + ", ".join(extras))
        lines.extend(f"  not checked: {note}" for note in self.checks_skipped)
        if self.head is not None:
            lines.append(
                f"  head: sequence {self.head.sequence_number}, checksum {self.head.checksum}"
                + (f", at {self.head.time}" if self.head.time else "")
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
            "verified_at": self.verified_at,
            "tool_version": self.tool_version,
            "valid": self.valid,
            "events_checked": self.events_checked,
            "files_checked": self.files_checked,
            "first_sequence": self.first_sequence,
            "last_sequence": self.last_sequence,
            "head": None if self.head is None else self.head.to_dict(),
            "macs": {
                "key_given": self.key_given,
                "checked": self.macs_checked,
                "unchecked": self.macs_unchecked,
                "keys": dict(self.mac_days),
                "status": self.mac_status,
            },
            "sealed_head_checked": self.sealed,
            "manifests_checked": self.manifests_checked,
            "anchors_checked": self.anchors_checked,
            "checks_skipped": list(self.checks_skipped),
            "checkpoints_checked": self.checkpoints_checked,
            "signatures_checked": self.signatures_checked,
            "counts": self.counts,
            "segments": [dict(row) for row in self.segment_rows],
            "findings": [f.to_dict() for f in self.finding_list],
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """:meth:`to_dict` as a JSON string."""
        return json.dumps(self.to_dict(), indent=indent)

    def to_html(
        self, path: str | os.PathLike[str] | None = None, *, title: str | None = None
    ) -> str:
        """The report as a standalone, printable HTML page; written to ``path`` when given.

        The page has inline CSS only (it opens offline), the verdict first,
        the source as given, the verification time and tool version, and
        every finding in file-and-line order with its full message.
        Returns the HTML.
        """
        from ._html import report_page

        page = report_page(self, title=title)
        if path is not None:
            Path(path).write_text(page, encoding="utf-8")
        return page

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
            f"<tr><th>MACs</th><td>{esc(self.mac_status)}</td></tr>",
            f"<tr><th>errors / warnings / info</th><td>{counts['error']} / "
            f"{counts['warning']} / {counts['info']}</td></tr>",
            *(f"<tr><th>not checked</th><td>{esc(note)}</td></tr>" for note in self.checks_skipped),
            "</table>",
        ]
        if self.finding_list:
            limit = 200
            parts.append("<table style='table-layout:auto;width:100%'><thead><tr>")
            parts.extend(
                f"<th style='text-align:left'>{esc(column)}</th>" for column in FINDING_COLUMNS
            )
            parts.append("</tr></thead><tbody>")
            for finding in self.finding_list[:limit]:
                cells = finding.to_dict()
                parts.append("<tr>")
                for column in FINDING_COLUMNS:
                    value = cells[column]
                    style = _CODE_STYLE if column in _CODE_COLUMNS else _CELL_STYLE
                    parts.append(
                        f"<td style='{style}'>{esc('' if value is None else str(value))}</td>"
                    )
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
    key: bytes | VerificationKey | None = None,
    anchors: Iterable[Anchor | dict[str, Any] | str] = (),
    progress: bool | None = None,
    workers: Workers = None,
    engine: Engine = None,
    client: Any = None,
    access_log: AuditTrail | None = None,
    user_id: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
    public_key: VerifierKey | str | Path | None = None,
    checkpoints: Iterable[str | Path] = (),
    check_tree: bool | None = None,
) -> VerificationReport:
    """Verify the hash chain of ``source`` and report every problem, located.

    ``source`` is a directory of ``audit_YYYY-MM-DD.jsonl`` files, one file or
    a list of files; ``since``/``until`` (dates, tz-aware datetimes or
    ``YYYY-MM-DD``) select days, and a range that starts mid-chain is linked to
    the last event of the file before it. Streams with constant memory.

    ``key`` (a static key, or the auditor's :class:`~fapilog_notebook.keys.VerificationKey`)
    checks every MAC; given a key, an unkeyed or wrongly keyed event is an error
    (no downgrade). Without it, a keyed trail still gets every link, sequence
    and structure check and the report says the MACs were not checked.
    The sealed head and day manifests beside the audit files (a directory's,
    or those in the directory of the files given) are checked too: a deleted
    tail is a ``truncated_tail``, a deleted or replaced day file a
    ``manifest_mismatch``, a missing seal of a sealing trail a
    ``seal_mismatch``; ``report.checks_skipped`` says which checks could not
    run. ``anchors`` (from ``report.head``, ``trail.head()`` or
    ``fapilog-notebook anchor``) must still be in the trail, unchanged.

    ``check_tree=True`` (the default for a signed trail, or with
    ``public_key``/``checkpoints``; it costs about as much again as the chain
    check) recomputes a local directory's Merkle tree (``.fapilog-notebook.tree``)
    from its event lines, and every retained checkpoint (seal, manifests, day-key
    certificates, and ``checkpoints`` the auditor recorded: signed notes,
    bare checkpoint bodies, or files holding one) is compared with it: a
    difference is a ``checkpoint_mismatch`` or ``tree_mismatch``.
    ``public_key`` (the trail's root verifier key, its text or its file)
    also checks the day-key certificates and every checkpoint's signature
    (``certificate_invalid``, ``signature_invalid``; events after the last
    signed checkpoint are ``unsigned_events``).

    ``workers=N`` checks the lines in N local processes (or pass an
    ``Executor``); ``engine="dask"`` on a ``dask.distributed`` cluster
    (``client=``, else the default client). The report is the same, finding
    for finding (see :mod:`.parallel`).

    ``access_log=`` (an :class:`~fapilog_notebook.AuditTrail`) records an
    ``audit_log_access`` event there first: who (``user_id``, default the OS
    user), what source and which days.

    ``source`` may be an fsspec URL (``s3://bucket/prefix/``, ``memory://``,
    ...) verified in place with ``storage_options``: the same checks, each
    finding located to the object's URL and line, streamed in bounded reads;
    workers and Dask workers read their byte ranges from the store.

    :raises FileNotFoundError: the source does not exist.
    :raises ValueError: no audit file to verify (see :mod:`.scan`), bad bounds,
        a public key that is not a verifier key, checkpoints or signatures asked
        of something that is not a local trail directory.
    :raises OSError: a URL cannot be listed (denied, unreachable), naming it.
    """
    check_access_args(access_log, user_id)
    keyring = None if key is None else Keyring(key)
    root_key = None if public_key is None else load_public_key(public_key)
    recorded = tuple(checkpoints)
    anchor_list = tuple(Anchor.from_value(a) for a in anchors)
    resolved = _resolve_source(source, since=since, until=until, storage_options=storage_options)
    tree_wanted = check_tree or root_key is not None or bool(recorded)
    if tree_wanted and not isinstance(resolved.directory, Path):
        raise ValueError(
            "the Merkle tree, checkpoints and signatures are checked on a local trail "
            "directory only"
        )
    record_access(
        access_log,
        action="verify_audit_log",
        source=source,
        since=since,
        until=until,
        user_id=user_id,
    )
    verifier = _Verifier(resolved, keyring, anchor_list)
    verifier.prepare(to_day(since, name="since"), to_day(until, name="until"))
    directory = resolved.directory
    if check_tree is None and not tree_wanted and isinstance(directory, Path):
        # Recomputing the tree costs about as much CPU again as the chain
        # check, so it runs when asked for, or when the trail is signed.
        tree_wanted = (directory / CERTIFICATES_NAME).exists()
    # The tree is checked beside the chain, in a child interpreter when that pays.
    tree_job = (
        start_tree_check(directory, root_key, recorded)
        if tree_wanted and isinstance(directory, Path)
        else None
    )
    try:
        verifier.seed()
        if workers is None and engine is None and client is None:
            indices: Iterator[int] = iter(range(len(resolved.files)))
            for index in track(
                indices, total=len(resolved.files), desc="verifying", progress=progress
            ):
                verifier.run_file(index)
        else:
            from .parallel import verify_files

            verify_files(verifier, workers=workers, engine=engine, client=client, progress=progress)
        verifier.finish()
        report = verifier.report()
    except BaseException:
        if tree_job is not None:
            tree_job.cancel()
        raise
    if tree_job is not None:
        return _with_tree_check(report, tree_job.result())
    if directory is not None and exists(directory / TREE_NAME):
        return _with_skipped(
            report,
            "Merkle tree: not recomputed (check_tree=True, public_key= or checkpoints= "
            "check it and the checkpoints in the seal and manifests)",
        )
    return report


def _with_skipped(report: VerificationReport, note: str) -> VerificationReport:
    """The report with one more check it could not run, or chose not to."""
    import dataclasses

    return dataclasses.replace(report, checks_skipped=(*report.checks_skipped, note))


def _with_tree_check(report: VerificationReport, check: TreeCheck) -> VerificationReport:
    """The report with the tree check's findings and counts added.

    A stored-tree difference at a line the chain check already reports as an
    error says nothing more, so it is left out.
    """
    import dataclasses

    errors_at = {
        (f.file, f.line) for f in report.finding_list if f.severity is Severity.ERROR and f.line
    }
    added = [
        Finding(
            FindingKind(f.kind),
            FindingKind(f.kind).severity,
            f.file,
            f.line,
            f.sequence_number,
            None,
            f.message,
        )
        for f in check.findings
        if not (f.kind == FindingKind.TREE_MISMATCH and (f.file, f.line) in errors_at)
    ]
    findings = report.finding_list + tuple(added)
    return dataclasses.replace(
        report,
        finding_list=findings,
        valid=not any(f.severity is Severity.ERROR for f in findings),
        checkpoints_checked=check.checkpoints_checked,
        signatures_checked=check.signatures_checked,
    )
