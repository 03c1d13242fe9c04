"""The evidence beside the audit files, and the checks that compare it with what the lines said.

:class:`Records` reads, before the lines, what the writer keeps beside the
audit files: the sealed head (the *seal*: the last event's sequence number
and checksum, in ``.fapilog-notebook.seal``) and the day manifests, each
record's own checksum or MAC checked and its fields parsed by
:mod:`fapilog_notebook.records` (the format's owner). After the
lines, each evidence check is a small object that holds what it needs and
whose ``check()`` returns the findings it places in the report; the driver
runs them in a list, in this order:

- :class:`ForeignFiles`: files in the directory that are not audit files;
- :class:`UncheckedMacs`: MACed events beside bare ones with no key given;
- :class:`SealCheck`: the end of the chain against the seal (``truncated_tail``,
  ``seal_mismatch``, ``unsealed_events``);
- :class:`ManifestCheck`: each day file against its manifest (``manifest_mismatch``);
- :class:`DaySeriesCheck`: forward-secure, every day has a record MACed with
  its own key (deleted days);
- :class:`AnchorCheck`: the anchors the auditor recorded are still in the chain.

In this package "seal" is the sealed-head record only; an event's own hash
is its checksum (or MAC).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Protocol

from .. import storage
from ..chain import Anchor
from ..errors import UnsafeRecordError
from ..records import EmptyDayRecord, ManifestRecord, SealRecord
from ..records import record_problem as check_record
from ..scan import AuditFile, Location, Source, describe_os_error, entry_path, exists, list_dir
from ..storage import day_of
from ._findings import Finding, FindingKind, FindingLog, Placed, Severity
from ._keyring import Keyring
from ._tallies import Tallies

__all__ = [
    "AnchorCheck",
    "DayRange",
    "DaySeriesCheck",
    "EvidenceCheck",
    "ForeignFiles",
    "ManifestCheck",
    "Records",
    "SealCheck",
    "UncheckedMacs",
]

#: A day manifest read: its day, where it is, the record (None: unreadable) and
#: why it cannot be trusted (None: it checks out).
Manifest = tuple[date, Location, ManifestRecord | None, str | None]


def _iso_day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text is not None else None
    except ValueError:
        return None


def _clip_name(name: str) -> str:
    """A file name from a record, clipped and quoted when it is odd."""
    return name if len(name) <= 80 and name.isprintable() else repr(name[:77]) + "..."


def record_problem(record: dict[str, Any], keyring: Keyring | None) -> str | None:
    """Why a seal, manifest or empty-day record cannot be trusted under ``keyring``, or None."""
    return check_record(record, keyring.lookup if keyring is not None else None)


@dataclass(frozen=True, slots=True)
class DayRange:
    """The days asked for (``since``/``until``; None: unbounded)."""

    since: date | None
    until: date | None

    @property
    def ranged(self) -> bool:
        """Whether a bound was given."""
        return self.since is not None or self.until is not None

    def known_day_in_range(self, day: date | None) -> bool:
        """Whether ``day`` is in the range; an unknown day (``None``) never is."""
        if day is None:
            return False
        return (self.since is None or day >= self.since) and (
            self.until is None or day <= self.until
        )


class Records:
    """The seal and the day manifests beside the audit files, read before the lines."""

    def __init__(self, source: Source, keyring: Keyring | None, days: DayRange) -> None:
        self.source = source
        self.keyring = keyring
        self.days = days
        #: Where the seal and manifests are (None: not checked), and whether this
        #: package's writer left its marks there (a seal file or manifests).
        self.directory: Location | None = None
        self.writer_marks = False
        #: The best seal record that checks out, and why none does.
        self.seal: SealRecord | None = None
        self.seal_problem: str | None = None
        self.all_days: list[date] = []
        #: Checks that could not run, in sentences, for the report.
        self.notes: list[str] = []
        self.manifests: list[Manifest] = []
        #: Per file index: the range of sequence numbers its manifest records.
        self.bounds: dict[int, tuple[int, int]] = {}
        #: The sequence numbers whose checksums the seal and manifests name.
        self.watched: set[int] = set()

    def _record_directory(self) -> Location | None:
        """Where the seal and manifests of the source are: its directory, or the one
        directory all its files are in (``None``, with a note, when they are in several)."""
        if self.source.directory is not None:
            return self.source.directory
        parents = {f.path.parent for f in self.source.files}
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
        except UnsafeRecordError as exc:
            self.writer_marks = True  # a seal file is there
            self.seal_problem = f"{exc}; it was not read"
            return
        except OSError as exc:
            self.writer_marks = True
            self.seal_problem = f"{path.name} could not be read: {describe_os_error(exc)}"
            return
        self.writer_marks = bool(slots) or exists(path)
        good: list[SealRecord] = []
        problems: list[str] = []
        for slot in slots:
            if isinstance(slot, str):
                continue  # a slot torn by a crash; the other slot holds the previous seal
            parsed = SealRecord.parse(slot)
            if isinstance(parsed, str):
                problems.append(parsed)
                continue
            problem = record_problem(slot, self.keyring)
            if problem is None:
                good.append(parsed)
            else:
                problems.append(
                    f"the seal of sequence {parsed.sequence_number} cannot be trusted: {problem}"
                )
        if good:
            best = max(good, key=lambda r: r.sequence_number)
            name = best.file
            if self.source.directory is not None:
                applies = self.days.known_day_in_range(day_of(name)) or (not self.days.ranged)
            else:
                applies = any(f.path.name == name for f in self.source.files)
            if applies:
                self.seal = best
                self.watched.add(best.sequence_number)
            else:
                self.notes.append(
                    f"sealed head: not checked, it is in {_clip_name(name)}, "
                    "outside the files verified (their tail is not vouched for)"
                )
        elif problems:
            self.seal_problem = "; ".join(problems)

    def read(self) -> None:
        """Read the seal and the day manifests kept beside the audit files
        (a directory's, or those beside the files given)."""
        directory = self._record_directory()
        if directory is None:
            return
        self.directory = directory
        self._read_seal(directory)
        by_day = {f.day: index for index, f in enumerate(self.source.files) if f.day is not None}
        try:
            entries = list_dir(directory)
        except OSError:
            entries = []
        names = {entry.name for entry in entries}
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
            if not self.days.known_day_in_range(day) and (self.days.since or self.days.until):
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
            problem = record_problem(record, self.keyring)
            manifest = ManifestRecord.parse(record)
            mac_day = manifest.mac_day
            if problem is None and mac_day is not None and mac_day > day.isoformat():
                problem = (
                    f"it is MACed with the key of {mac_day[:10]}, later than its own day: "
                    "a later key cannot vouch for an earlier day"
                )
            first, last = manifest.first_sequence, manifest.last_sequence
            if problem is None:
                problem = manifest.problem
            self.manifests.append((day, path, manifest, problem))
            if problem is None and day in by_day:
                assert first is not None
                assert last is not None
                self.bounds[by_day[day]] = (first, last)
                self.watched.add(last)


# ----------------------------------------------------------------- the checks


class EvidenceCheck(Protocol):
    """One check run after the lines: it holds what it needs, and ``check()``
    gives the findings it places (in the order the report lists them)."""

    def check(self) -> list[Placed]: ...


@dataclass(slots=True)
class ForeignFiles:
    """Files beside the audit files that are not audit files: ``foreign_file`` (info)."""

    source: Source

    def check(self) -> list[Placed]:
        end = len(self.source.files)
        return [
            (
                end,
                0,
                Finding(
                    FindingKind.FOREIGN_FILE,
                    Severity.INFO,
                    str(path),
                    None,
                    None,
                    None,
                    f"{path.name!r} is {reason}; it was not read",
                ),
            )
            for path, reason in self.source.foreign
        ]


@dataclass(slots=True)
class UncheckedMacs:
    """Without a key, events that carry a MAC beside events hashed bare: the
    content of those events is not checked at all, so an edited line marked
    as MACed would pass unseen. Said once per run of such events."""

    tallies: Tallies
    log: FindingLog

    def check(self) -> list[Placed]:
        hashed = self.tallies.hashed_events
        if not hashed:
            return []
        found = []
        for at, first, count in self.tallies.unchecked_runs:
            span = f"sequence {first}" if count == 1 else f"sequences {first}..{first + count - 1}"
            found.append(
                self.log.finding(
                    FindingKind.UNCHECKED_MAC,
                    at,
                    first,
                    f"expected every event to be checked; found {count} event"
                    f"{'s' if count != 1 else ''} ({span}) carrying a MAC that could not be "
                    f"checked (no key given) in a trail whose other {hashed} events have bare "
                    "checksums: their content is not verified (a key switched on at a restart "
                    "explains it; so would an edited line marked as MACed). Verify with the key",
                )
            )
        return found


@dataclass(slots=True)
class SealCheck:
    """The end of the chain against the seal: ``truncated_tail`` when events are
    missing after the last one kept, ``seal_mismatch`` when the sealed event was
    rewritten (or the seal is missing or cannot be trusted), ``unsealed_events``
    for events no seal vouches for. Notes the checks it could not run."""

    records: Records
    tallies: Tallies
    events: int  # events the chain holds
    top: int  # the highest sequence number of the last segment with events (0: none)

    def _placed(self, kind: FindingKind, seq: int | None, message: str) -> Placed:
        """A finding about the seal, reported after every line's findings."""
        directory = self.records.directory
        seal_file = str(directory / storage.SEAL_NAME) if directory else None
        end = len(self.records.source.files)
        return (end, 0, Finding(kind, kind.severity, seal_file, None, seq, None, message))

    def check(self) -> list[Placed]:
        records = self.records
        notes = records.notes
        if records.seal_problem is not None:
            notes.append("sealed head: not checked, it could not be read or trusted")
            return [
                self._placed(
                    FindingKind.SEAL_MISMATCH,
                    None,
                    "expected a sealed head record that checks out, found none: "
                    f"{records.seal_problem}",
                )
            ]
        seal = records.seal
        if seal is None:
            if records.directory is None or any("sealed head" in note for note in notes):
                return []
            keyed = self.tallies.keyed()
            if (records.writer_marks or keyed) and self.events:
                why = (
                    "its events are keyed"
                    if keyed
                    else "fapilog-notebook's "
                    + ("day manifests are beside it" if records.manifests else "seal file is empty")
                )
                notes.append("sealed head: not checked, it is missing")
                return [
                    self._placed(
                        FindingKind.SEAL_MISMATCH,
                        None,
                        f"expected a sealed head ({storage.SEAL_NAME}) beside a trail whose "
                        f"writer seals ({why}), found none: deleted? Without it the end of the "
                        "trail cannot be checked (its last events or newest file may be missing)",
                    )
                ]
            if self.events:
                notes.append(
                    "sealed head: none (the writer does not seal, as fapilog's own); "
                    "events deleted at the end of the trail cannot be detected"
                )
            return []
        seq, sealed, name = seal.sequence_number, seal.head_checksum, seal.file
        top = self.top
        when = f"sealed {seal.time}" if seal.time is not None else "sealed"
        if seq > top:
            missing = seq - top
            present = any(Path(str(f.path)).name == name for f in records.source.files)
            lost = "" if present else f"; {name} itself is missing"
            return [
                self._placed(
                    FindingKind.TRUNCATED_TAIL,
                    seq,
                    f"expected the chain to reach sequence {seq} ({when}, in {name}), "
                    f"found it ending at sequence {top}: {missing} event"
                    f"{'s are' if missing != 1 else ' is'} missing at the end{lost}",
                )
            ]
        found: list[Placed] = []
        seen = self.tallies.seen
        if seq in seen and sealed not in seen[seq]:
            checksums = ", ".join(sorted(seen[seq]))
            found.append(
                self._placed(
                    FindingKind.SEAL_MISMATCH,
                    seq,
                    f"expected sequence {seq} to have checksum {sealed} ({when}), "
                    f"found {checksums}: the end of the chain was rewritten",
                )
            )
        if top > seq:
            extra = top - seq
            span = f"sequence {top}" if extra == 1 else f"sequences {seq + 1}..{top}"
            found.append(
                self._placed(
                    FindingKind.UNSEALED_EVENTS,
                    seq + 1,
                    f"expected the chain to end at the sealed head, sequence {seq} ({when}, in "
                    f"{name}); found {extra} more event{'s' if extra != 1 else ''} ({span}) that "
                    "no seal vouches for: a crash between an append and the seal's update leaves "
                    "a few, anything more was appended by something other than the writer",
                )
            )
        return found


@dataclass(slots=True)
class ManifestCheck:
    """Each day file against its manifest (``manifest_mismatch``): a keyed day file
    the writer left without one, a manifest whose file is missing, replaced or
    altered, and events added to a day the writer had closed."""

    records: Records
    tallies: Tallies

    def check(self) -> list[Placed]:
        files = self.records.source.files
        file_tallies = self.tallies.files
        seen = self.tallies.seen
        by_day = {f.day: index for index, f in enumerate(files) if f.day is not None}
        recorded = {day for day, _, _, _ in self.records.manifests}
        directory = self.records.directory
        found: list[Placed] = []
        for number, audit_file in enumerate(files[:-1]):
            tally = file_tallies[number] if number < len(file_tallies) else {}
            day = audit_file.day
            if directory is None or day is None or day in recorded or not tally.get("keyed"):
                continue
            # A keyed writer records a manifest for every day file it leaves.
            found.append(
                (
                    number,
                    0,
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
        for day, path, record, problem in self.records.manifests:
            place = by_day.get(day, len(files))
            name = storage.file_for_day(Path("."), day).name
            if problem is not None or record is None:
                message = f"expected a day manifest for {name} that checks out: {problem}"
            else:
                first, last = record.first_sequence, record.last_sequence
                assert last is not None
                events, closing = record.events, record.last_checksum
                what = (
                    f"the {events} events its manifest records (sequences {first}..{last}, "
                    f"closed {record.closed_at})"
                )
                index = by_day.get(day)
                if index is None:
                    message = f"expected {name} to hold {what}; the file is missing (deleted)"
                else:
                    tally = file_tallies[index] if index < len(file_tallies) else {}
                    in_range = tally.get("in_range", 0)
                    intact = (
                        tally.get("first") == first
                        and in_range == events
                        and closing in seen.get(last, set())
                    )
                    beyond = tally.get("count", 0) - in_range
                    later = any(d > day for d in self.records.all_days) or index < len(files) - 1
                    if intact and beyond > 0 and later:
                        message = (
                            f"expected {name} to end at sequence {last}, as its manifest "
                            f"records (closed {record.closed_at}); found {beyond} more "
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
                                if closing in seen.get(last, set())
                                else f", and sequence {last} is not the one recorded"
                            )
                            + ": the day file was replaced or altered"
                        )
            finding = Finding(
                FindingKind.MANIFEST_MISMATCH,
                Severity.ERROR,
                str(path),
                None,
                record.first_sequence if record is not None else None,
                None,
                message,
            )
            found.append((place, 0, finding))
        return found


@dataclass(slots=True)
class DaySeriesCheck:
    """Forward-secure, with a verification key whose writer records every day:
    each day from the key's start to the day before the newest key used
    must have its day manifest or an empty-day record, MACed with that
    day's own key. Someone holding today's key cannot make one for an
    earlier day, so a deleted day (its file and its manifest) shows.
    """

    records: Records
    tallies: Tallies

    def check(self) -> list[Placed]:
        records = self.records
        keyring, directory = records.keyring, records.directory
        verification = keyring.verification if keyring is not None else None
        if directory is None or verification is None or not verification.promises_day_series:
            return []
        days = records.days
        files = records.source.files
        end = len(files)
        files_given = records.source.directory is None
        covered = {day for day, _, _, _ in records.manifests}
        # A day file with keyed events stands for its day here: without its manifest
        # it is reported by ManifestCheck. A file without them (empty, planted)
        # carries nothing MACed with its day's key and covers nothing.
        covered.update(
            f.day
            for f, tally in zip(files, self.tallies.files, strict=False)
            if f.day is not None and tally.get("keyed")
        )
        used = [_iso_day(label) for label in self.tallies.mac_days]
        used += [
            _iso_day(record.mac_day if record is not None else None)
            for _, _, record, problem in records.manifests
            if not problem
        ]
        if records.seal is not None:
            used.append(_iso_day(records.seal.mac_day))
        found: list[Placed] = []
        for day, path, problem in self._empty_days(directory):
            if problem is None:
                covered.add(day)
                used.append(day)
                continue
            if (days.ranged and not days.known_day_in_range(day)) or files_given:
                continue  # outside what was verified: it only fails to cover its day
            found.append(
                (
                    end,
                    0,
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
            return found
        # From the key's first day, even for a range or files given: the chain
        # runs across the days before them, and a day deleted there (its file
        # and record) must show, as when the whole directory is verified.
        first = verification.start
        last = newest - timedelta(days=1)
        if days.until is not None:
            last = min(last, days.until)
        day = first
        while day <= last:
            if day not in covered and not self._recorded_elsewhere(directory, day):
                found.append(
                    (
                        end,
                        0,
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
        return found

    def _recorded_elsewhere(self, directory: Location, day: date) -> bool:
        """Whether ``day``, outside the files verified, has a day manifest MACed with
        its own key (read bounded; anything else there does not cover it)."""
        records = self.records
        if not records.days.ranged and records.source.directory is not None:
            return False  # the whole directory was verified: its manifests are known
        try:
            record = storage.read_record(storage.manifest_path(directory, day))
        except (OSError, ValueError):
            return False
        if record is None or record_problem(record, records.keyring) is not None:
            return False
        manifest = ManifestRecord.parse(record)
        return manifest.kind == "manifest" and manifest.mac_day == day.isoformat()

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
            problem = record_problem(record, self.records.keyring)
            if problem is None:
                problem = EmptyDayRecord.parse(record).problem(day)
            yield day, path, problem


@dataclass(slots=True)
class AnchorCheck:
    """The anchors the auditor recorded must still be in the chain, unchanged
    (``anchor_mismatch``); one outside the days verified is not checked."""

    anchors: Sequence[Anchor]
    tallies: Tallies
    days: DayRange
    files: Sequence[AuditFile]
    checked: int = 0  # how many anchors were checked (after ``check()``)

    def check(self) -> list[Placed]:
        end = len(self.files)
        found: list[Placed] = []
        for anchor in self.anchors:
            seq = anchor.sequence_number
            seen = self.tallies.seen.get(seq)
            if seen is None and self.days.ranged:
                continue  # outside the days verified
            self.checked += 1
            if seen is not None and anchor.checksum in seen:
                continue
            when = f", recorded at {anchor.time}" if anchor.time else ""
            if seen is None:
                detail = f"found no intact event with sequence {seq} in the trail"
            else:
                detail = (
                    f"found sequence {seq} with checksum {', '.join(sorted(seen))}: history "
                    "up to the anchor was rewritten"
                )
            found.append(
                (
                    end,
                    1,
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
        return found
