"""The storage directory: file names, listing, appending, the head, the lock.

Every function here touches the file system and is synchronous on purpose:
the writer calls them from a worker thread, never from the event loop.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import mmap
import os
import re
import secrets
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from .chain import ChainHead, LineChecker
from .errors import DirectoryLockedError, UnsafeFileError, UnsafeRecordError
from .objstore import ObjectPath
from .objstore import read_bounded as read_object

__all__ = [
    "AUDIT_FILE_PATTERN",
    "DIR_MODE",
    "FILE_MODE",
    "LOCK_NAME",
    "SEAL_NAME",
    "DayTally",
    "DirectoryLock",
    "SealFile",
    "day_of",
    "empty_day_path",
    "file_for_day",
    "find_head",
    "fsync_directory",
    "is_own_file",
    "list_audit_files",
    "manifest_path",
    "open_regular",
    "read_bounded",
    "read_record",
    "read_seals",
    "refuse_linked_audit_files",
    "reverse_lines",
    "tally_file",
    "to_day",
    "write_record",
]

AUDIT_FILE_PATTERN = re.compile(r"^audit_(\d{4})-(\d{2})-(\d{2})\.jsonl$")
LOCK_NAME = ".fapilog-notebook.lock"
SEAL_NAME = ".fapilog-notebook.seal.json"
MANIFEST_PATTERN = re.compile(r"^\.fapilog-notebook\.manifest-(\d{4}-\d{2}-\d{2})\.json$")
#: Files this package keeps beside the audit files (never audit files themselves).
OWN_FILE_PREFIX = ".fapilog-notebook"
DIR_MODE = 0o700
FILE_MODE = 0o600
_TAIL_BLOCK = 64 * 1024
#: A local directory or a prefix in object storage.
_Where = TypeVar("_Where", bound="Path | ObjectPath")


def file_name(day: date) -> str:
    """The name of the audit file that holds the events of UTC ``day``."""
    return f"audit_{day.isoformat()}.jsonl"


def file_for_day(directory: _Where, day: date) -> _Where:
    """The audit file that holds the events of UTC ``day``."""
    return cast(_Where, directory / file_name(day))


def day_of(path: Path | ObjectPath | str) -> date | None:
    """The UTC day an audit file holds, or ``None`` if the name is not an audit file's."""
    match = AUDIT_FILE_PATTERN.match(Path(path).name)
    if match is None:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def manifest_path(directory: _Where, day: date) -> _Where:
    """Where the manifest of ``day``'s file is kept."""
    return cast(_Where, directory / f".fapilog-notebook.manifest-{day.isoformat()}.json")


EMPTY_DAY_PATTERN = re.compile(r"^\.fapilog-notebook\.empty-day-(\d{4}-\d{2}-\d{2})\.json$")


def empty_day_path(directory: _Where, day: date) -> _Where:
    """Where a forward-secure writer records that ``day`` had no events."""
    return cast(_Where, directory / f".fapilog-notebook.empty-day-{day.isoformat()}.json")


def is_own_file(name: str) -> bool:
    """True for the lock, seal and manifest files this package keeps."""
    return name.startswith(OWN_FILE_PREFIX)


def to_day(value: date | datetime | str | None, *, name: str) -> date | None:
    """Turn a ``since``/``until`` bound into a UTC date; reject naive datetimes."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"{name}={value!r} is a naive datetime; pass a tz-aware one "
                "(e.g. datetime(..., tzinfo=timezone.utc)) or a date"
            )
        return value.astimezone(UTC).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{name}={value!r} is not a date in YYYY-MM-DD form") from None
    raise TypeError(f"{name} must be a date, a tz-aware datetime or 'YYYY-MM-DD', not {value!r}")


def list_audit_files(
    directory: Path, since: date | None = None, until: date | None = None
) -> list[tuple[date, Path]]:
    """The audit files in ``directory`` whose day is within the bounds, oldest first."""
    found: list[tuple[date, Path]] = []
    with os.scandir(directory) as entries:
        for entry in entries:
            day = day_of(entry.name)
            if day is None or not entry.is_file():
                continue
            if (since is not None and day < since) or (until is not None and day > until):
                continue
            found.append((day, Path(entry.path)))
    found.sort()
    return found


def reverse_lines(fd: int, size: int) -> Iterator[bytes]:
    """Yield the complete lines of a file, last first, reading from the end.

    Linear in the file's size however long a line is: the blocks of a line
    not yet ended are kept as a list and joined once, when its start is found
    (joining them block by block would copy a long line once per block).
    """
    end = size
    pieces: list[bytes] = []  # the line being read, its last block first
    while end > 0:
        start = max(0, end - _TAIL_BLOCK)
        block = os.pread(fd, end - start, start)
        end = start
        parts = block.split(b"\n")
        if len(parts) == 1:
            pieces.append(block)
            continue
        pieces.append(parts[-1])
        line = b"".join(reversed(pieces))
        if line:
            yield line
        for part in reversed(parts[1:-1]):
            if part:
                yield part
        pieces = [parts[0]]
    carry = b"".join(reversed(pieces))
    if carry:
        yield carry


@dataclass(frozen=True, slots=True)
class HeadScan:
    """Where the chain on disk ends, and what was mended to get there.

    ``head`` is the intact event with the highest sequence number at the end
    of any file, ``file`` the file holding it; ``newest`` is the day of the
    newest audit file (the writer never writes to an earlier one).
    """

    head: ChainHead | None
    file: Path | None
    terminated_torn_line: Path | None
    newest: date | None = None


def find_head(directory: Path, *, repair: bool) -> HeadScan:
    """Find where the chain on disk ends: the newest file's last intact event,
    or a later event of the same chain that ends an earlier file.

    A writer of an earlier release went back to an earlier day's file when the
    clock stepped back, so the chain may continue in an older file: an older
    file whose last event has a higher sequence number and that holds the
    successor of the head found so far (an event whose ``previous_hash`` is
    the head's checksum) moves the head there. A higher number without that
    link is another chain (fapilog restarts at 1 in every process) and is
    left alone.

    With ``repair``, a newest file that ends in a torn line (no newline, as a
    crash mid-write leaves it) gets a newline so the fragment can never glue
    itself to the next event. A crash can also stop a write just before an
    event's newline: that last line is then a whole, intact event, and it is
    the head (skipping it would give its sequence number to the next event).
    """
    files = list_audit_files(directory)
    torn: Path | None = None
    ends: list[tuple[ChainHead, Path]] = []  # each file's last intact event, newest first
    for index, (_, path) in enumerate(reversed(files)):
        # Never through a link or blocking on a FIFO, even one swapped in since
        # the directory was listed: the newest file may be written to (below).
        fd, _ = open_regular(
            path, os.O_RDWR if repair and index == 0 else os.O_RDONLY, create=False
        )
        try:
            size = os.fstat(fd).st_size
            if size == 0:
                continue
            ends_clean = os.pread(fd, 1, size - 1) == b"\n"
            repaired = False
            if not ends_clean and repair and index == 0:
                os.lseek(fd, 0, os.SEEK_END)
                os.write(fd, b"\n")
                repaired = True
            line_check = LineChecker().check
            for position, raw in enumerate(reverse_lines(fd, size)):
                check = line_check(raw.rstrip(b"\r"))
                intact = check.problem is None and check.checksum_ok
                if repaired and position == 0 and not intact:
                    torn = path  # a fragment, now terminated (a whole event is not torn)
                if intact:
                    assert check.sequence_number is not None
                    assert check.checksum is not None
                    ends.append((ChainHead(check.sequence_number, check.checksum), path))
                    break
        finally:
            os.close(fd)
    newest = files[-1][0] if files else None
    if not ends:
        return HeadScan(None, None, torn, newest)
    head, where = ends[0]
    moved = True
    while moved:
        moved = False
        for end, path in ends[1:]:
            if end.sequence_number > head.sequence_number and _holds_successor(path, head):
                head, where, moved = end, path, True
    return HeadScan(head, where, torn, newest)


def _holds_successor(path: Path, head: ChainHead) -> bool:
    """True when ``path`` holds an intact event linked to ``head`` (its ``previous_hash``)."""
    needle = b'"previous_hash":"' + head.checksum.encode("ascii", "replace") + b'"'
    fd, _ = open_regular(path, os.O_RDONLY, create=False)
    with (
        os.fdopen(fd, "rb") as handle,
        mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data,
    ):
        return _links_in(data, needle, head)


def _links_in(data: mmap.mmap, needle: bytes, head: ChainHead) -> bool:
    start = data.find(needle)
    line_check = LineChecker().check
    while start != -1:
        begin = data.rfind(b"\n", 0, start) + 1
        end = data.find(b"\n", start)
        check = line_check(data[begin : end if end != -1 else len(data)].rstrip(b"\r"))
        if (
            check.problem is None
            and check.checksum_ok
            and check.sequence_number == head.sequence_number + 1
            and check.previous_hash == head.checksum
        ):
            return True
        start = data.find(needle, start + 1)
    return False


@dataclass
class DayTally:
    """What one day file holds: first and last sequence, event count, last checksum."""

    day: date
    first_sequence: int | None = None
    last_sequence: int | None = None
    events: int = 0
    last_checksum: str | None = None

    def add(self, sequence_number: int, checksum: str, count: int = 1) -> None:
        if self.first_sequence is None:
            self.first_sequence = sequence_number - count + 1
        self.last_sequence = sequence_number
        self.last_checksum = checksum
        self.events += count


def tally_file(directory: Path, day: date) -> DayTally:
    """Count the events of an existing day file (read once, when a writer opens it)."""
    tally = DayTally(day)
    path = file_for_day(directory, day)
    try:
        fd, _ = open_regular(path, os.O_RDONLY, create=False)
    except FileNotFoundError:
        return tally
    handle = os.fdopen(fd, "rb")
    line_check = LineChecker().check
    with handle:
        for raw in handle:
            check = line_check(raw.rstrip(b"\r\n"))
            if check.problem is None and check.checksum is not None:
                assert check.sequence_number is not None
                if tally.first_sequence is None:
                    tally.first_sequence = check.sequence_number
                tally.last_sequence = check.sequence_number
                tally.last_checksum = check.checksum
                tally.events += 1
    return tally


#: Flags every file the writer opens gets: never follow a link, never block
#: opening (a FIFO), not inherited by child processes.
_SAFE_FLAGS = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def _kind_of(mode: int) -> str:
    """What a file mode says is there, as a phrase ("a FIFO")."""
    kinds = (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    )
    return next((text for test, text in kinds if test(mode)), "not a regular file")


def _refuse(path: Path, kind: str) -> UnsafeFileError:
    return UnsafeFileError(
        f"{str(path)!r} is {kind}, not a regular file; the audit writer refuses to "
        "write through it (remove it to let the writer create the file)"
    )


def open_regular(path: Path, flags: int, *, create: bool = True) -> tuple[int, bool]:
    """Open ``path`` for the writer: a regular file, never through a link, never blocking.

    With ``create`` a missing file is created (mode 0600) with ``O_EXCL``, so
    the caller learns that it made a new name (and can fsync the directory).
    Returns the descriptor and whether the file was created.

    :raises UnsafeFileError: ``path`` is a symbolic link, FIFO, socket,
        device or directory.
    """
    try:
        for _ in range(3):
            if create:
                try:
                    fd = os.open(path, flags | os.O_CREAT | os.O_EXCL | _SAFE_FLAGS, FILE_MODE)
                except FileExistsError:
                    pass  # a link, a FIFO, or a file: open what is there (below)
                else:
                    return _checked(path, fd), True
            try:
                return _checked(path, os.open(path, flags | _SAFE_FLAGS)), False
            except FileNotFoundError:
                if not create:
                    raise
                # Removed between the two opens: create it after all.
    except OSError as exc:
        # ELOOP: a link (O_NOFOLLOW); EISDIR: a directory; ENXIO: a FIFO
        # without reader or a socket (O_NONBLOCK).
        if exc.errno in (errno.ELOOP, errno.EISDIR, errno.ENXIO, errno.ENODEV):
            try:
                kind = _kind_of(os.stat(path, follow_symlinks=False).st_mode)
            except OSError:
                kind = "not a regular file"
            raise _refuse(path, kind) from None
        raise
    raise OSError(errno.ESTALE, f"{str(path)!r} keeps disappearing while it is opened")


def _checked(path: Path, fd: int) -> int:
    """``fd`` if it is a regular file; else close it and refuse ``path``."""
    try:
        mode = os.fstat(fd).st_mode
    except BaseException:
        os.close(fd)
        raise
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise _refuse(path, _kind_of(mode))
    return fd


def refuse_linked_audit_files(directory: Path) -> None:
    """Refuse to write to ``directory`` while an audit file's name in it is a symbolic link.

    Reading the head (and terminating a torn last line) at start opens the
    newest audit file by name; a link planted there would make that repair
    write to the link's target.

    :raises UnsafeFileError: naming the first such link.
    """
    with os.scandir(directory) as entries:
        for entry in entries:
            if AUDIT_FILE_PATTERN.match(entry.name) and entry.is_symlink():
                raise _refuse(Path(entry.path), "a symbolic link")


def fsync_directory(directory: Path) -> None:
    """Make the names created or replaced in ``directory`` durable (fsync it)."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_record(path: Path, record: dict[str, Any], *, fsync: bool) -> None:
    """Atomically replace ``path`` with ``record`` as JSON (mode 0600).

    The record is written to a new temporary file with a unique name
    (``O_EXCL | O_NOFOLLOW``: a link planted there is never written through),
    then renamed over ``path`` (a rename replaces a link at ``path`` itself,
    never its target). With ``fsync`` the file and then the directory are
    fsync'd, so the new name survives a power cut.
    """
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    fd = os.open(
        tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE
    )
    try:
        try:
            write_all(
                fd, json.dumps(record, sort_keys=True, separators=(",", ":")).encode() + b"\n"
            )
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if fsync:
        fsync_directory(path.parent)


SEAL_SLOT = 1024


class SealFile:
    """The sealed head record, kept in two fixed-size slots written in turn.

    Each batch overwrites the older slot in place with one ``pwrite``: no
    rename per batch, and a write torn by a crash spoils one slot only, so
    the other still holds the previous seal. Readers take the valid slot with
    the higher sequence number (:func:`read_seals`).
    """

    def __init__(self, directory: Path, *, fsync: bool) -> None:
        self.path = directory / SEAL_NAME
        self.fsync = fsync
        self._fd, created = open_regular(self.path, os.O_RDWR)
        try:
            if created and fsync:
                fsync_directory(directory)
        except BaseException:
            os.close(self._fd)
            raise
        self._next = 0

    def write(self, data: bytes) -> None:
        """Write one sealed record (a JSON line, as :func:`records.seal_record` makes)."""
        if len(data) > SEAL_SLOT:
            raise ValueError(
                f"seal record of {len(data)} bytes does not fit a {SEAL_SLOT}-byte slot"
            )
        os.pwrite(self._fd, data.ljust(SEAL_SLOT, b" "), self._next * SEAL_SLOT)
        if self.fsync:
            os.fsync(self._fd)
        self._next ^= 1

    def close(self) -> None:
        os.close(self._fd)


#: The most bytes a manifest record may have (the writer's are a few hundred).
MANIFEST_LIMIT = 64 * 1024


def _file_kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISLNK, "a symbolic link"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def read_bounded(
    path: Path | ObjectPath, limit: int, *, follow_links: bool = False
) -> bytes | None:
    """The bytes of the regular file ``path`` (at most ``limit``), or ``None`` if it is missing.

    Opened without following a symbolic link (unless ``follow_links``: for
    a path a user names) and without blocking (a FIFO planted there must not
    hang a reader), checked to be a regular file, and never read past
    ``limit`` bytes (a link to ``/dev/zero`` or a huge file must not exhaust
    memory).

    :raises UnsafeRecordError: a symbolic link, not a regular file, or larger than ``limit``.
    :raises OSError: it cannot be opened or read (e.g. permission denied).
    """
    if isinstance(path, ObjectPath):
        try:
            return read_object(path, limit)
        except ValueError as exc:
            raise UnsafeRecordError(str(exc)) from None
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow_links else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafeRecordError(
                f"{path.name} is a symbolic link; it is not followed (the writer never makes one)"
            ) from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeRecordError(
                f"{path.name} is {_file_kind(info.st_mode)}, not a regular file"
            )
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise UnsafeRecordError(
                f"{path.name} holds more than {limit} bytes, far more than it should hold"
            )
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_seals(path: Path | ObjectPath) -> list[dict[str, Any] | str]:
    """The seal file's slots: each a record, or a sentence saying why it is unusable.

    Returns an empty list when there is no seal file. Reads at most its two
    :data:`SEAL_SLOT`-byte slots (see :func:`read_bounded`).

    :raises UnsafeRecordError: the seal is a link, not a regular file, or too large.
    :raises OSError: it cannot be read.
    """
    data = read_bounded(path, 2 * SEAL_SLOT)
    if data is None:
        return []
    slots: list[dict[str, Any] | str] = []
    for index in range(0, max(len(data), 1), SEAL_SLOT):
        chunk = data[index : index + SEAL_SLOT].strip()
        if not chunk:
            continue
        try:
            record = json.loads(chunk)
        except (ValueError, RecursionError):
            slots.append(f"slot {index // SEAL_SLOT + 1} is not valid JSON")
            continue
        if isinstance(record, dict):
            slots.append(record)
        else:
            slots.append(f"slot {index // SEAL_SLOT + 1} is not a JSON object")
    return slots


def read_record(path: Path | ObjectPath) -> dict[str, Any] | None:
    """A manifest (or other small) record, or ``None`` if the file is missing.

    Reads at most :data:`MANIFEST_LIMIT` bytes (see :func:`read_bounded`).

    :raises ValueError: the file is not a JSON object, or is unsafe
        (:class:`UnsafeRecordError`).
    :raises OSError: it cannot be read.
    """
    raw = read_bounded(path, MANIFEST_LIMIT)
    if raw is None:
        return None
    try:
        record = json.loads(raw)
    except (ValueError, RecursionError):
        raise ValueError(f"{path.name} is not valid JSON") from None
    if not isinstance(record, dict):
        raise ValueError(f"{path.name} is not a JSON object")
    return record


class DirectoryLock:
    """An exclusive ``flock`` on the directory's lock file, one writer per directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock; refuse a lock file that is a link, FIFO or directory.

        :raises DirectoryLockedError: another writer holds it.
        :raises UnsafeFileError: the lock file's name is not a regular file.
        """
        path = self.directory / LOCK_NAME
        fd, _ = open_regular(path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _read_holder(fd)  # from the file checked above, not the path again
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise DirectoryLockedError(
                    f"audit directory {str(self.directory)!r} is already in use by another "
                    f"AuditTrail{holder}; one writer per directory keeps the chain whole. "
                    "Stop the other writer or choose another storage_path."
                ) from None
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def forget(self) -> None:
        """In a forked child: close the inherited descriptor without unlocking.

        The ``flock`` belongs to the open file the parent shares; ``LOCK_UN``
        here would release the parent's lock, closing only drops the child's
        reference to it.
        """
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


def _read_holder(fd: int) -> str:
    """The lock holder as `` (process N)`` from the open lock file, or ``""``."""
    try:
        pid = os.pread(fd, 32, 0).decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return f" (process {pid})" if pid.isdigit() else ""


def ensure_directory(directory: Path, *, fsync: bool = False) -> None:
    """Create ``directory`` and any missing parents, each with mode 0700.

    With ``fsync`` each parent that got a new directory is fsync'd, so the
    new names survive a power cut.
    """
    missing = []
    current = directory
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=DIR_MODE)
        except FileExistsError:
            if not path.is_dir():
                raise
            continue
        if fsync:
            fsync_directory(path.parent)


class DayFiles:
    """Append-only handles on daily files, kept open between batches.

    Every file is opened with :func:`open_regular` (no link is followed, a
    FIFO or directory is refused). Before and after each append the path is
    checked to still name the open file: a day file deleted or moved while
    open is detected, the file is reopened at its path and the batch is
    written there, so no batch is acknowledged while its bytes sit only in
    a detached file. :meth:`append` says when that happened.

    Used by one thread at a time (the writer serialises its batches).
    """

    def __init__(self, directory: Path, *, fsync: bool) -> None:
        self.directory = directory
        self.fsync = fsync
        self._open: dict[date, int] = {}
        #: ``(st_dev, st_ino)`` of each open file: what its path must still name.
        self._identity: dict[date, tuple[int, int]] = {}
        #: Size of each open file after this writer's last whole append (so it
        #: ends in a newline): the next append needs no seek and no read.
        self._ends: dict[date, int] = {}

    def append(self, day: date, data: bytes) -> str | None:
        """Append the lines of one day (joined) in one write; undo a partial write on failure.

        Returns ``None``, or a sentence saying that the day file had been
        deleted or replaced while open and was reopened (the batch is then
        in the new file; what the detached file held is gone from the path).

        :raises OSError: the write failed (the batch is not on disk), or the
            path kept changing under the writer.
        """
        replaced = None
        if day in self._open and not self._still_named(day):
            replaced = self._detached(day)
        for _ in range(3):
            fd = self._fd_for(day)
            self._write(day, fd, data)
            if self._still_named(day):
                return replaced
            # The path was changed while we wrote: the bytes are in a file
            # that no longer has the name. Write them again at the path.
            replaced = self._detached(day)
        path = file_for_day(self.directory, day)
        raise OSError(errno.ESTALE, f"{str(path)!r} keeps being replaced while it is written")

    def open_day(self, day: date) -> None:
        """Open (or create) ``day``'s file now, refusing anything but a regular file.

        A file already open stays open: :meth:`append` checks its name.
        """
        self._fd_for(day)

    def _write(self, day: date, fd: int, data: bytes) -> None:
        start = self._ends.pop(day, None)
        try:
            if start is None:
                start = os.lseek(fd, 0, os.SEEK_END)
                if start > 0 and os.pread(fd, 1, start - 1) != b"\n":
                    # A fragment left by an earlier failed write: terminate it.
                    data = b"\n" + data
            write_all(fd, data)
            if self.fsync:
                os.fsync(fd)
        except OSError:
            if start is not None:
                self._undo(day, fd, start)
            raise
        self._ends[day] = start + len(data)

    def _still_named(self, day: date) -> bool:
        """True if ``day``'s path still names the file this writer has open."""
        try:
            found = os.stat(file_for_day(self.directory, day), follow_symlinks=False)
        except FileNotFoundError:
            return False
        return (found.st_dev, found.st_ino) == self._identity.get(day)

    def _detached(self, day: date) -> str:
        path = file_for_day(self.directory, day)
        self.close_day(day)
        return (
            f"audit file {str(path)!r} was deleted or replaced while open; "
            "reopened it at its path (events written to the old file are not there)"
        )

    def _undo(self, day: date, fd: int, size: int) -> None:
        try:
            os.ftruncate(fd, size)
        except OSError:
            # The fragment stays; the next append terminates it (see above).
            self.close_day(day)

    def _fd_for(self, day: date) -> int:
        fd = self._open.get(day)
        if fd is None:
            for old in [d for d in self._open if d != day]:
                self.close_day(old)
            fd, created = open_regular(file_for_day(self.directory, day), os.O_RDWR | os.O_APPEND)
            try:
                found = os.fstat(fd)
                if created and self.fsync:
                    fsync_directory(self.directory)
            except BaseException:
                os.close(fd)
                raise
            self._open[day] = fd
            self._identity[day] = (found.st_dev, found.st_ino)
        return fd

    def close_day(self, day: date) -> None:
        self._ends.pop(day, None)
        self._identity.pop(day, None)
        fd = self._open.pop(day, None)
        if fd is not None:
            os.close(fd)

    def close(self) -> None:
        for day in list(self._open):
            self.close_day(day)


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd`` (``os.write`` may write less than asked)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
