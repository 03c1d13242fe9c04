"""Stream the lines of an audit source as records that say where they came from.

A *source* is a directory of daily ``audit_YYYY-MM-DD.jsonl`` files, one file,
or a list of files. :func:`resolve_source` turns it into the ordered list of
files to read (files outside ``since``/``until`` are never opened), the
entries of the directory that are not audit files, and the audit file just
before the first selected one (so a range that starts mid-chain can be linked
to its predecessor). :func:`iter_lines` reads one file in large binary chunks
and yields ``(line number, raw bytes, terminated)``; :func:`scan` chains it
over a whole source as :class:`Record` objects.

Rules a demanding auditor can rely on:

- a path that does not exist raises :class:`FileNotFoundError` naming it;
- a directory with no audit files (or none in the range) raises
  :class:`ValueError` naming it, because "valid, 0 events" for a wrong path
  would be a false assurance. The one exception is a directory this package
  has opened as a trail (it holds the package's lock file) but that holds no
  event yet: that is an empty trail, not a wrong path, and gives no files.

A source may also be an fsspec URL (``s3://bucket/prefix/``, ``memory://``,
...), with ``storage_options``: it becomes an :class:`~.objstore.ObjectPath`
and the same rules hold. The reading seam is :func:`list_dir`,
:func:`open_regular`, :func:`exists`, :func:`file_size`, :func:`last_event`
and :func:`.storage.read_bounded`: each keeps today's ``os`` code for a local
path and goes through :mod:`.objstore` for a URL.
"""

from __future__ import annotations

import errno
import io
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeAlias

from . import objstore, storage
from .chain import ChainHead, LineChecker
from .linereader import CHUNK_SIZE, MAX_LINE_BYTES, LongLine, line_blocks, open_local
from .objstore import ObjectEntry, ObjectPath, is_url, list_entries, open_object

__all__ = [
    "MAX_LINE_BYTES",
    "AuditFile",
    "Location",
    "LongLine",
    "Record",
    "Source",
    "SourceLike",
    "TailEvent",
    "UnreadableFile",
    "exists",
    "file_size",
    "iter_line_blocks",
    "iter_line_range",
    "iter_lines",
    "last_event",
    "list_dir",
    "location",
    "open_regular",
    "resolve_source",
    "scan",
    "tail_lines",
]

#: What the loaders accept as a source.
SourceLike: TypeAlias = "str | os.PathLike[str] | Sequence[str | os.PathLike[str]]"
#: A local path, or an object (or prefix) in object storage.
Location: TypeAlias = "Path | ObjectPath"
DayBound: TypeAlias = "date | datetime | str | None"


@dataclass(frozen=True, slots=True)
class AuditFile:
    """One file to read and the UTC day its name says it holds (if it says)."""

    path: Location
    day: date | None


@dataclass(frozen=True, slots=True)
class Record:
    """One line: its file, 1-based line number, bytes without the newline, and
    whether the newline was there (an unterminated last line may be torn)."""

    file: Location
    line: int
    raw: bytes
    terminated: bool


@dataclass(frozen=True, slots=True)
class UnreadableFile:
    """A file that could not be opened or read, and why."""

    path: Location
    error: str


@dataclass(frozen=True, slots=True)
class Source:
    """A resolved source: the files to read, in order, and what else was found."""

    description: str
    directory: Location | None
    files: tuple[AuditFile, ...]
    foreign: tuple[tuple[Location, str], ...]
    predecessor: Location | None

    @property
    def days(self) -> frozenset[date]:
        """The days that have a selected file."""
        return frozenset(f.day for f in self.files if f.day is not None)


@dataclass(frozen=True, slots=True)
class TailEvent:
    """The last intact event of a file, read from its end."""

    head: ChainHead
    event_id: str | None
    timestamp: str | None


def _in_range(day: date | None, since: date | None, until: date | None) -> bool:
    if day is None:
        return True
    return not ((since is not None and day < since) or (until is not None and day > until))


def _range_text(since: date | None, until: date | None) -> str:
    if since is None and until is None:
        return ""
    low = since.isoformat() if since else "the start"
    high = until.isoformat() if until else "the end"
    return f" between {low} and {high}"


def location(
    value: str | os.PathLike[str], storage_options: Mapping[str, Any] | None = None
) -> Location:
    """``value`` as a :class:`~pathlib.Path`, or an :class:`~.objstore.ObjectPath` for a URL.

    :raises TypeError: ``storage_options`` given for a local path (they would be ignored).
    """
    if isinstance(value, ObjectPath):
        return value
    if is_url(value):
        return ObjectPath(str(value), storage_options)
    if storage_options:
        raise TypeError(
            "storage_options apply to URLs (s3://, memory://, ...), "
            f"not to the local path {value!r}"
        )
    return Path(value)


def list_dir(directory: Location) -> list[os.DirEntry[str]] | list[ObjectEntry]:
    """The entries of ``directory`` sorted by name (``os.scandir``'s, or a listing's).

    :raises OSError: it cannot be listed.
    """
    if isinstance(directory, ObjectPath):
        return list_entries(directory)
    return sorted(os.scandir(directory), key=lambda e: e.name)


def entry_path(directory: Location, entry: os.DirEntry[str] | ObjectEntry) -> Location:
    """Where a listed entry is."""
    if isinstance(entry, ObjectEntry):
        return entry.path
    return Path(entry.path)


def exists(path: Location) -> bool:
    """Whether anything is at ``path`` (a link counts, followed or not)."""
    if isinstance(path, ObjectPath):
        return path.exists()
    return os.path.lexists(path)


def file_size(path: Location) -> int:
    """The size of the file or object at ``path``.

    :raises OSError: it is missing or cannot be asked.
    """
    if isinstance(path, ObjectPath):
        return path.size()
    return os.stat(path).st_size


def _predecessor(
    directory: Location, first_day: date | None, chosen: set[Location]
) -> Location | None:
    """The newest audit file in ``directory`` older than ``first_day`` and not chosen."""
    if first_day is None:
        return None
    try:
        if isinstance(directory, ObjectPath):
            older: list[tuple[date, Location]] = [
                (day, entry.path)
                for entry in list_entries(directory)
                if (day := storage.day_of(entry.name)) is not None and entry.is_file()
            ]
        else:
            older = list(storage.list_audit_files(directory, None, first_day))
    except OSError:
        return None
    for day, path in sorted(older, key=lambda item: item[0], reverse=True):
        if day < first_day and path not in chosen:
            return path
    return None


def _describe_foreign(entry: os.DirEntry[str] | ObjectEntry) -> str:
    try:
        if entry.is_dir():
            return "a directory, not an audit file"
    except OSError:
        pass
    if storage.day_of(entry.name) is not None:
        return "named like an audit file but not a regular file (a FIFO, device, socket or link)"
    if entry.name.startswith("audit_") and entry.name.endswith(".jsonl"):
        return "named like an audit file but the date is not a real day"
    return "not an audit file (audit files are named audit_YYYY-MM-DD.jsonl)"


def _resolve_directory(directory: Location, since: date | None, until: date | None) -> Source:
    files: list[AuditFile] = []
    all_days: list[date] = []
    foreign: list[tuple[Location, str]] = []
    has_lock = False
    try:
        entries = list_dir(directory)
    except PermissionError as exc:
        raise PermissionError(
            exc.errno, f"cannot list audit directory {str(directory)!r}"
        ) from None
    for entry in entries:
        if storage.is_own_file(entry.name):
            has_lock = has_lock or entry.name == storage.LOCK_NAME
            continue
        day = storage.day_of(entry.name)
        try:
            regular = entry.is_file()
        except OSError:
            regular = False
        if day is None or not regular:
            foreign.append((entry_path(directory, entry), _describe_foreign(entry)))
            continue
        all_days.append(day)
        if _in_range(day, since, until):
            files.append(AuditFile(entry_path(directory, entry), day))
    files.sort(key=lambda f: (f.day, f.path.name))
    if not files and not (has_lock and not all_days):
        if all_days:
            span = f"{min(all_days).isoformat()} to {max(all_days).isoformat()}"
            raise ValueError(
                f"no audit files{_range_text(since, until)} in {str(directory)!r} "
                f"(its audit files cover {span})"
            )
        raise ValueError(f"no audit files (audit_YYYY-MM-DD.jsonl) in directory {str(directory)!r}")
    first_day = files[0].day if files else None
    predecessor = None
    if since is not None and first_day is not None:
        older = [d for d in all_days if d < first_day]
        if older:
            predecessor = storage.file_for_day(directory, max(older))
    return Source(str(directory), directory, tuple(files), tuple(foreign), predecessor)


def _exists_or_raise(path: Location) -> None:
    if not exists(path):
        raise FileNotFoundError(errno.ENOENT, "audit source does not exist", str(path))


def _is_dir(path: Location) -> bool:
    return path.is_dir()


def _identity(path: Location) -> Location:
    """What tells two names of one file apart from two files."""
    return path if isinstance(path, ObjectPath) else path.resolve()


def resolve_source(
    source: SourceLike,
    *,
    since: DayBound = None,
    until: DayBound = None,
    storage_options: Mapping[str, Any] | None = None,
) -> Source:
    """Turn ``source`` and the day bounds into the ordered files to read.

    ``source`` may be an fsspec URL (or a list of them), read with
    ``storage_options`` (credentials, endpoint, ...).

    :raises FileNotFoundError: the source (or a listed file) does not exist.
    :raises ValueError: no audit file to read, or ``since`` after ``until``.
    :raises TypeError: ``source`` is not a path or a list of paths.
    :raises OSError: a URL cannot be listed or looked up (naming it).
    """
    low = storage.to_day(since, name="since")
    high = storage.to_day(until, name="until")
    if low is not None and high is not None and low > high:
        raise ValueError(f"since={low.isoformat()} is after until={high.isoformat()}")
    if isinstance(source, str | os.PathLike):
        path = location(source, storage_options)
        _exists_or_raise(path)
        if _is_dir(path):
            return _resolve_directory(path, low, high)
        paths: list[Location] = [path]
        description = str(path)
    elif isinstance(source, Iterable) and not isinstance(source, bytes):
        paths = []
        for item in source:
            if not isinstance(item, str | os.PathLike):
                raise TypeError(f"a source list holds paths, not {item!r}")
            paths.append(location(item, storage_options))
        if not paths:
            raise ValueError("the list of audit files is empty")
        description = f"{len(paths)} files" if len(paths) > 1 else str(paths[0])
    else:
        raise TypeError(
            f"source must be a directory, a file or a list of files, not {type(source).__name__}"
        )
    return _resolve_files(paths, description, low, high)


def _resolve_files(
    paths: list[Location], description: str, since: date | None, until: date | None
) -> Source:
    seen: set[Location] = set()
    files: list[AuditFile] = []
    for path in paths:
        _exists_or_raise(path)
        if _is_dir(path):
            raise ValueError(f"{str(path)!r} is a directory; pass it alone, not in a list")
        key = _identity(path)
        if key in seen:
            continue
        seen.add(key)
        day = storage.day_of(path.name)
        if _in_range(day, since, until):
            files.append(AuditFile(path, day))
    if not files:
        raise ValueError(f"no audit files{_range_text(since, until)} in {description}")
    if all(f.day is not None for f in files):
        files.sort(key=lambda f: (f.day, str(f.path)))
    first = files[0]
    chosen = {_identity(f.path) for f in files}
    predecessor = None
    if first.day is not None:
        parent = first.path.parent
        candidate = _predecessor(parent, first.day, set())
        if candidate is not None and _identity(candidate) not in chosen:
            predecessor = candidate
    return Source(description, None, tuple(files), (), predecessor)


def iter_lines(
    path: Location, *, chunk_size: int = CHUNK_SIZE
) -> Iterator[tuple[int, bytes, bool]]:
    """Yield ``(line number, bytes without newline, terminated)`` for each line of ``path``.

    Reads in large binary chunks (no decoding: the bytes are what is hashed).
    :raises OSError: the file cannot be opened or read.
    """
    return iter_line_range(path, 0, None, block=chunk_size)


def iter_line_range(
    path: str | os.PathLike[str], start: int, end: int | None, *, block: int = CHUNK_SIZE
) -> Iterator[tuple[int, bytes, bool]]:
    """Like :func:`iter_lines`, for the lines that start in ``[start, end)``.

    Lines are numbered from 1 within the range. A line that starts before
    ``start`` belongs to the range before; a line that starts in the range
    is read to its end, past ``end`` if need be. So consecutive ranges give
    exactly the lines of the whole file, each once.

    :raises OSError: the file cannot be opened or read.
    """
    for first, lines, terminated, _ in iter_line_blocks(path, start, end, block=block):
        for number, raw in enumerate(lines, first):
            yield number, raw, terminated


def iter_line_blocks(
    path: str | os.PathLike[str],
    start: int,
    end: int | None,
    *,
    block: int = CHUNK_SIZE,
    max_line: int | None = None,
) -> Iterator[tuple[int, list[bytes], bool, int]]:
    """:func:`iter_line_range` a read at a time:
    ``(first line number, lines, terminated, byte offset of the first line)``.

    Every line of a block ends in a newline except the file's last when it
    has none, which comes alone with ``terminated`` False. Checking a block
    with one ``map`` spares the per-line generator step. A line longer than
    ``max_line`` bytes (default :data:`MAX_LINE_BYTES`) is never held: it
    comes alone as a :class:`LongLine` (its first bytes and its length) and
    the lines after it follow as usual (:func:`.linereader.line_blocks`).

    :raises OSError: the file cannot be opened or read.
    """
    if isinstance(path, ObjectPath) and block == CHUNK_SIZE:
        block = objstore.READ_BLOCK  # fewer, larger range requests
    with open_regular(path, sequential=end is None) as handle:
        yield from line_blocks(
            handle,
            start,
            end,
            block=block,
            max_line=MAX_LINE_BYTES if max_line is None else max_line,
        )


def open_regular(path: str | os.PathLike[str], *, sequential: bool = False) -> io.RawIOBase:
    """``path`` opened for reading, unbuffered, if it is a regular file.

    An :class:`~.objstore.ObjectPath` is opened through fsspec with no
    read-ahead cache (:func:`.objstore.open_object`); ``sequential`` (it is
    read to its end) fetches each next read while the current one is used.

    Opened without blocking, so a FIFO (or a device) put where an audit file
    should be cannot hang a reader: it is refused with an ``OSError`` instead.

    :raises OSError: it cannot be opened, or it is not a regular file.
    """
    if isinstance(path, ObjectPath):
        return open_object(path, prefetch=sequential)
    return open_local(path)


def scan(
    source: SourceLike, *, since: DayBound = None, until: DayBound = None
) -> Iterator[Record | UnreadableFile]:
    """Every line of ``source`` as a :class:`Record`, in file and line order.

    A file that cannot be read yields one :class:`UnreadableFile` (after any
    lines read before the failure) and the scan goes on with the next file.
    """
    resolved = resolve_source(source, since=since, until=until)
    for audit_file in resolved.files:
        try:
            for number, raw, terminated in iter_lines(audit_file.path):
                yield Record(audit_file.path, number, raw, terminated)
        except OSError as exc:
            yield UnreadableFile(audit_file.path, describe_os_error(exc))


def describe_os_error(exc: OSError) -> str:
    """A short sentence for an I/O failure, without the path (the caller names it)."""
    reason = exc.strerror or type(exc).__name__
    return f"{reason} (errno {exc.errno})" if exc.errno else reason


_TAIL_BLOCK = 64 * 1024


def tail_lines(
    fd: int | Callable[[int, int], bytes],
    size: int,
    *,
    max_line: int | None = None,
    max_bytes: int | None = None,
) -> Iterator[bytes]:
    """The non-empty complete lines of a file, last first, read from its end.

    ``fd`` is a file descriptor, or a function ``(count, offset) -> bytes``
    that reads a range (an object in object storage).

    A line longer than ``max_line`` (default :data:`MAX_LINE_BYTES`) is
    skipped without being held, and at most ``max_bytes`` (default: all) are
    read, so a hostile tail can exhaust neither memory nor time.
    """
    if max_line is None:
        max_line = MAX_LINE_BYTES
    if isinstance(fd, int):
        descriptor = fd

        def pread(count: int, offset: int) -> bytes:
            return os.pread(descriptor, count, offset)

        read_at: Callable[[int, int], bytes] = pread
    else:
        read_at = fd
    stop = 0 if max_bytes is None else max(0, size - max_bytes)
    end = size
    pieces: list[bytes] = []  # the current line's pieces, last first
    held = 0
    skipping = False
    while end > stop:
        start = max(stop, end - _TAIL_BLOCK)
        parts = read_at(end - start, start).split(b"\n")
        end = start
        for index in range(len(parts) - 1, -1, -1):
            if not skipping:
                pieces.append(parts[index])
                held += len(parts[index])
                if held > max_line:
                    pieces, held, skipping = [], 0, True
            if index:  # a newline before this piece: the current line is whole
                if pieces and held:
                    yield b"".join(reversed(pieces))
                pieces, held, skipping = [], 0, False
    if stop == 0 and pieces and held:  # the first line of the file
        yield b"".join(reversed(pieces))


def last_event(
    path: Location, *, max_lines: int = 1000, max_bytes: int | None = None
) -> TailEvent | None:
    """The last intact event of ``path`` (checksum matches), reading only its tail.

    Looks at most ``max_lines`` lines and about ``max_bytes`` bytes back
    (default: four times :data:`MAX_LINE_BYTES`); ``None`` if none is intact
    or the file cannot be read.
    """
    budget = 4 * MAX_LINE_BYTES if max_bytes is None else max_bytes
    max_line = min(budget, MAX_LINE_BYTES)
    if isinstance(path, ObjectPath):
        try:
            with open_object(path) as handle:

                def read_at(count: int, offset: int) -> bytes:
                    handle.seek(offset)
                    return handle.read(count) or b""

                lines = tail_lines(read_at, path.size(), max_line=max_line, max_bytes=budget)
                return _last_intact(lines, max_lines)
        except OSError:
            return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        size = info.st_size
        lines = tail_lines(fd, size, max_line=max_line, max_bytes=budget)
        return _last_intact(lines, max_lines)
    except OSError:
        return None
    finally:
        os.close(fd)


def _last_intact(lines: Iterator[bytes], max_lines: int) -> TailEvent | None:
    """The first intact event among ``lines`` (read last first), looking at ``max_lines``."""
    line_check = LineChecker().check
    for index, raw in enumerate(lines):
        if index >= max_lines:
            break
        check = line_check(raw.rstrip(b"\r"))
        if check.problem is None and check.checksum_ok:
            assert check.sequence_number is not None
            assert check.checksum is not None
            obj = check.obj or {}
            event_id = obj.get("event_id")
            timestamp = obj.get("timestamp")
            return TailEvent(
                ChainHead(check.sequence_number, check.checksum),
                event_id if isinstance(event_id, str) else None,
                timestamp if isinstance(timestamp, str) else None,
            )
    return None
