"""The per-line checks, in their two halves that must agree.

- The per-line path (the slow, general half): :func:`check_record` checks one
  line on its own into a :class:`LineInfo`; :func:`check_file` does it for
  every line of a file, :func:`recheck` for the lines of a routine batch read
  again, and :func:`routine_of` judges a batch of ``LineInfo`` on its columns.
- The batch path (the fast half): :func:`routine_batch` checks a batch of
  lines at once (:func:`.chain.check_intact_lines`), with no per-line
  ``LineInfo``, into a :class:`RoutineBatch` when every line can only extend
  the chain (:class:`Routine`); :func:`check_batches` cuts a file's lines into
  batches of :data:`VERIFY_BATCH_LINES` and takes the fast half where it
  applies, the slow one elsewhere.

The fast half must give exactly what the slow half gives: a batch is routine
for :func:`routine_batch` only when :func:`routine_of` would say so of its
lines' :class:`LineInfo`, with the same first and last line. The tests that
pin them together: ``tests/test_batch_check.py``
(``test_a_batch_checked_at_once_agrees_with_line_by_line`` on crafted lines,
and the reports with both halves switched off), and in
``tests/test_parallel.py``
``test_batches_taken_at_once_report_exactly_what_line_by_line_reports`` and
``test_encoded_chunks_decode_to_the_same_line_infos``.
"""

from __future__ import annotations

import io
import itertools
import operator
import os
from collections.abc import Callable, Collection, Iterator, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple, TypeAlias, cast

from ..chain import (
    ALG_STATIC,
    LineChecker,
    check_intact_lines,
    compute_checksum,
    could_be_torn,
    loads,
)
from ..scan import MAX_LINE_BYTES, LongLine, iter_line_blocks, iter_lines, open_regular
from ..storage import day_of
from ._keyring import Keyring

__all__ = [
    "VERIFY_BATCH_LINES",
    "CheckedBatch",
    "LineInfo",
    "Routine",
    "RoutineBatch",
    "check_batches",
    "check_file",
    "check_record",
    "recheck",
    "routine_batch",
    "routine_of",
]

#: How a line's MAC stood: no MAC, checked with a key, left unchecked (no key),
#: unkeyed although a key was given (a downgrade), no usable key for it, or
#: MACed with the key of a day later than the event's own (forward security:
#: a later key must not vouch for an earlier event).
MAC_NONE, MAC_CHECKED, MAC_UNCHECKED, MAC_DOWNGRADE, MAC_NO_KEY, MAC_LATER_KEY = range(6)
_ROUTINE_MAC = frozenset({MAC_NONE, MAC_CHECKED, MAC_UNCHECKED})


class LineInfo(NamedTuple):
    """What one line says, reduced to what the chain checks need (small, picklable).

    A flat record of fields (a tuple, so workers send it cheaply), not state.
    """

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
    checker: LineChecker | None = None,
) -> LineInfo:
    """Check one line on its own: parse it, check its checksum or MAC.

    ``checker``: the :class:`~fapilog_notebook.chain.LineChecker` of the loop
    over a file's lines the line is in (a fresh one without it: same verdict).

    ``day_iso`` is the day of the line's file: a forward-secure MAC may be of
    that day's key or an earlier one, never a later (when the clock stepped
    back the writer puts an earlier-stamped event in its newest file, MACed
    with that file's day key). Without a file day the event's own timestamp
    day is the limit.
    """
    lookup = keyring.lookup if keyring is not None else None
    line = raw[:-1] if raw.endswith(b"\r") else raw
    if checker is None:
        checker = LineChecker()
    obj, seq, prev, checksum, ok, problem, alg, day, mac_checked, note, rewritten = checker.values(
        line, lookup, True
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
VERIFY_BATCH_LINES = 2048
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
    at once (:meth:`._driver._Verifier.extend`) instead of one by one. The first line
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
    checker = LineChecker()
    infos = [
        check_record(first + i, raw, True, keyring, day_iso, checker) for i, raw in enumerate(raws)
    ]
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
    checker: LineChecker | None = None,
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
    first = check_record(number, raws[0], True, keyring, day_iso, checker)
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
    checker = LineChecker()
    for number, raw, terminated in iter_lines(path):
        if isinstance(raw, LongLine):
            yield _long_line_info(number, raw, terminated)
        else:
            yield check_record(number, raw, terminated, keyring, day_iso, checker)


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
    """The lines starting in ``[start, end)`` of a file, checked, in batches.

    A batch is :data:`VERIFY_BATCH_LINES` lines (fewer at the end, and around a
    line that comes alone).

    A routine batch comes as a :class:`RoutineBatch` (see :func:`routine_batch`;
    ``day_iso`` is the file's day, ``watch`` the sequence numbers whose
    checksums the verifier keeps), any other as its lines' :class:`LineInfo`.
    Lines are numbered from 1 at ``start``. Used by the serial verifier and by
    each worker. The lines are checked with one
    :class:`~fapilog_notebook.chain.LineChecker`, made here.

    :raises OSError: the file cannot be read; the lines read before are
        yielded first.
    """
    checker = LineChecker()

    def checked(number: int, at: int, raws: list[bytes]) -> tuple[CheckedBatch, int]:
        """Lines ``raws`` (from line ``number``, byte ``at``) checked; where they end."""
        stop = at + sum(map(len, raws)) + len(raws)  # every line ends in a newline
        routine = routine_batch(number, (at, stop), raws, keyring, day_iso, watch, checker)
        if routine is not None:
            return routine, stop
        keys, days = itertools.repeat(keyring), itertools.repeat(day_iso)
        checkers = itertools.repeat(checker)
        return list(
            map(
                check_record,
                itertools.count(number),
                raws,
                itertools.repeat(True),
                keys,
                days,
                checkers,
            )
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
                    yield [check_record(first, raw, False, keyring, day_iso, checker)]
                continue
            if not raws:
                number, at = first, offset
            raws += block
            while len(raws) >= VERIFY_BATCH_LINES:
                batch, at = checked(number, at, raws[:VERIFY_BATCH_LINES])
                yield batch
                del raws[:VERIFY_BATCH_LINES]
                number += VERIFY_BATCH_LINES
    except OSError:
        if raws:
            yield checked(number, at, raws)[0]
        raise
    if raws:
        yield checked(number, at, raws)[0]


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
