"""Read a file's lines in large blocks, bounded: the one line reader.

Every reader of audit files (the verifier, the loader, the tree check)
splits them into lines here: reads of :data:`CHUNK_SIZE` bytes, each
cut into lines at once (one ``split`` per read, not one call per line), a
line never held beyond :data:`MAX_LINE_BYTES`, a file's unterminated last
line flagged. It works on any binary handle with ``read``, ``seek`` and
``tell``; :func:`open_local` opens a local file safely. It imports nothing
but the standard library, so the tree check's child interpreter starts fast
(:mod:`.verify._treeproc`).
"""

from __future__ import annotations

import errno
import io
import os
import stat
from collections.abc import Iterator

# ``typing`` is not imported at run time: the tree check's child interpreter
# imports this module, and ``typing`` alone would add a third to its start-up.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Protocol

    class Readable(Protocol):
        """What :func:`line_blocks` reads from: a local file or an object in storage."""

        def read(self, size: int = -1, /) -> bytes | None: ...
        def seek(self, offset: int, whence: int = 0, /) -> int: ...
        def tell(self) -> int: ...


__all__ = [
    "CHUNK_SIZE",
    "LONG_LINE_HEAD",
    "MAX_LINE_BYTES",
    "TAIL_READ",
    "LongLine",
    "line_blocks",
    "open_local",
]

CHUNK_SIZE = 4 * 1024 * 1024
#: The longest line read (64 MiB): an event is at most a few MB, and a
#: legitimate one of tens of MB still fits; anything longer is reported, not held.
MAX_LINE_BYTES = 64 * 1024 * 1024
#: How many of a too-long line's first bytes are kept (to say what it was).
LONG_LINE_HEAD = 256
#: How far past a range's end a read goes to finish the range's last line.
TAIL_READ = 64 * 1024


class LongLine(bytes):
    """A line longer than the limit, never held whole: its first bytes, and in
    ``length`` how long it is (at least; a line still being written may grow)."""

    length: int

    def __new__(cls, head: bytes, length: int) -> LongLine:
        line = super().__new__(cls, head)
        line.length = length
        return line


def open_local(path: str | os.PathLike[str]) -> io.FileIO:
    """``path`` opened for reading, unbuffered, if it is a regular file.

    Opened without blocking, so a FIFO (or a device) put where an audit file
    should be cannot hang a reader: it is refused with an ``OSError`` instead.

    :raises OSError: it cannot be opened, or it is not a regular file.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "a FIFO, device or socket"
            raise OSError(errno.EINVAL, f"it is {kind}, not a regular file")
        os.set_blocking(fd, True)
        return io.FileIO(fd, "rb", closefd=True)
    except BaseException:
        os.close(fd)
        raise


def line_blocks(
    handle: Readable,
    start: int,
    end: int | None,
    *,
    block: int = CHUNK_SIZE,
    max_line: int = MAX_LINE_BYTES,
) -> Iterator[tuple[int, list[bytes], bool, int]]:
    """The lines of ``handle`` that start in ``[start, end)``, a read at a time:
    ``(first line number, lines, terminated, byte offset of the first line)``.

    Lines are numbered from 1 within the range; a line that starts in the
    range is read to its end, past ``end`` if need be. Every line of a block
    ends in a newline except the file's last when it has none, which comes
    alone with ``terminated`` False. A line longer than ``max_line`` bytes is
    never held: it comes alone as a :class:`LongLine` (its first bytes and
    its length) and the lines after it follow as usual.

    :raises OSError: the file cannot be read.
    """
    # No read holds more than ``max_line`` bytes, so only a line carried over
    # from one read to the next can be too long: the common path checks nothing.
    block = min(block, max(max_line // 2, 1))
    number = 0
    carry: list[bytes] = []
    carried = 0
    head = b""

    def read() -> bytes:
        # Whole blocks up to ``end``, then just enough to finish the last
        # line (growing with it, so a long line is not re-joined often).
        offset = handle.tell()
        size = block
        if end is not None and end - offset < block:
            size = max(end - offset, 0) + min(max(TAIL_READ, carried), block)
        return handle.read(size) or b""

    pending = b""
    line_start = start  # where the next line (the one in ``carry``) begins
    if start > 0:
        # Skip the rest of a line that began before ``start`` (none when
        # the byte before ``start`` is a newline).
        handle.seek(start - 1)
        line_start = start - 1
        while True:
            data = read()
            if not data:
                return
            cut = data.find(b"\n")
            if cut >= 0:
                line_start += cut + 1
                pending = data[cut + 1 :]
                break
            line_start += len(data)
    skipped: int | None = None  # bytes so far of a line too long to hold
    while True:
        if end is not None and line_start >= end and not carry and skipped is None:
            return
        if not pending:
            pending = read()
            if not pending:
                break
        if skipped is not None:
            # Inside a line longer than the limit: find its end without keeping it.
            cut = pending.find(b"\n")
            if cut < 0:
                skipped += len(pending)
                pending = b""
                continue
            skipped += cut
            yield number + 1, [LongLine(head, skipped)], True, line_start
            number += 1
            line_start += skipped + 1
            pending = pending[cut + 1 :]
            skipped = None
            continue
        size = carried + len(pending)
        parts = pending.split(b"\n")
        pending = b""
        if carry:
            if len(parts) > 1 and carried + len(parts[0]) > max_line:
                # A line longer than the limit that ends here: it comes alone.
                length = carried + len(parts[0])
                yield (
                    number + 1,
                    [LongLine(carry[0][:LONG_LINE_HEAD], length)],
                    True,
                    line_start,
                )
                number += 1
                line_start += length + 1
                size -= length + 1
                carry, carried = [], 0
                del parts[0]
            else:
                carry.append(parts[0])
                parts[0] = b"".join(carry)
                carry, carried = [], 0
        tail = parts.pop()
        if parts:
            consumed = size - len(tail)  # the bytes of ``parts``, newlines included
            if end is not None and line_start + consumed - len(parts[-1]) - 1 >= end:
                # The range ends in this read: keep the lines that start before it.
                at, kept = line_start, 0
                for raw in parts:
                    if line_start >= end:
                        break
                    line_start += len(raw) + 1
                    kept += 1
                if kept:
                    yield number + 1, parts[:kept], True, at
                return
            yield number + 1, parts, True, line_start
            number += len(parts)
            line_start += consumed
        if tail:
            if end is not None and line_start >= end:
                return
            carry.append(tail)
            carried += len(tail)
            if carried > max_line:
                head, skipped = carry[0][:LONG_LINE_HEAD], carried
                carry, carried = [], 0
    if skipped is not None:
        yield number + 1, [LongLine(head, skipped)], False, line_start
    elif carry:
        yield number + 1, [b"".join(carry)], False, line_start
