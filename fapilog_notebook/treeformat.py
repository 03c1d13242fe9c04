"""What a trail's Merkle tree is made of on disk: its leaves and its node file.

- The leaves are the trail's event lines in sequence order: leaf index =
  sequence number - 1. A line is a leaf when it is a whole JSON object's line
  (:func:`is_leaf_line`) and its sequence number (:func:`sequence_of`) is the
  tree's size + 1; lines out of file order wait for their turn, a duplicate
  sequence number is not a new leaf, and a missing one ends the tree there
  (the verifier reports the gap itself). :func:`leaf_blocks` is this rule,
  for the writer's rebuild, the proofs and the verifier alike.
- The node file (:data:`TREE_NAME`) holds every perfect-subtree hash, 32 bytes
  each, in the order they complete; :func:`node_position` says where a node
  sits, :func:`nodes_for_size` how many a tree of a size stores.

It imports only the standard library and the format core's :mod:`.linereader`
and :mod:`.merkle`, so the tree check's child interpreter starts fast
(:mod:`.verify._treeproc`).
"""

from __future__ import annotations

import operator
import os
import stat
from collections.abc import Iterable, Iterator
from itertools import repeat

from .linereader import line_blocks, open_local

# Neither ``pathlib`` nor ``json`` is imported at run time here (``json`` only
# on the rare slow path): the tree check's child interpreter imports this
# module, and each would add a good part of its start-up.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TypeVar

    PathLike = str | os.PathLike[str]
    P = TypeVar("P", bound=PathLike)

__all__ = [
    "MAX_WAITING",
    "TREE_NAME",
    "in_sequence",
    "is_leaf_line",
    "leaf_blocks",
    "node_position",
    "nodes_for_size",
    "open_tree_file",
    "parsed_sequence_of",
    "sequence_of",
    "size_for_nodes",
]

TREE_NAME = ".fapilog-notebook.tree"
#: Lines held while they wait for an earlier sequence number (beyond: the tree ends).
MAX_WAITING = 100_000


def nodes_for_size(size: int) -> int:
    """The number of stored nodes of a tree of ``size`` leaves."""
    return 2 * size - size.bit_count()


def size_for_nodes(count: int) -> int:
    """The largest tree size whose nodes fit in ``count`` stored nodes."""
    lo, hi = 0, count
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if nodes_for_size(mid) <= count:
            lo = mid
        else:
            hi = mid - 1
    return lo


def node_position(level: int, index: int) -> int:
    """Where node ``(level, index)`` sits in the tree file, in hashes."""
    last = ((index + 1) << level) - 1
    return 2 * last - last.bit_count() + level


def open_tree_file(path: PathLike) -> int:
    """Open a tree file for reading: never through a link, never blocking on a FIFO.

    :raises FileNotFoundError: there is none.
    :raises OSError: it is a link, not a regular file, or cannot be opened.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{os.path.basename(path)} is not a regular file")
    except BaseException:
        os.close(fd)
        raise
    return fd


def is_leaf_line(line: bytes) -> bool:
    """True for a line that is a leaf of the tree: a whole JSON object's line."""
    return line[:1] == b"{" and line[-1:] == b"}"


_SEQ_KEY = b'"sequence_number":'
_KEY_LEN = len(_SEQ_KEY)


def sequence_of(line: bytes) -> int | None:
    """Return an event line's sequence number (None if it has no integer one).

    The key once, followed by 1 to 19 digits and ``,`` or ``}``, gives the
    number; a line with the key more than once (or not at all) is parsed.
    """
    at = line.find(_SEQ_KEY)
    if at >= 0 and line.find(_SEQ_KEY, at + 1) < 0:
        start = at + len(_SEQ_KEY)
        end = start
        while end < len(line) and 48 <= line[end] <= 57:
            end += 1
        if start < end <= start + 19 and line[end : end + 1] in (b",", b"}"):
            return int(line[start:end])
        return None
    return parsed_sequence_of(line)


def parsed_sequence_of(line: bytes) -> int | None:
    """Return the top-level integer ``sequence_number`` of a JSON line (None if none)."""
    import json  # here, not at the top: see the imports

    try:
        value = json.loads(line)
    except (ValueError, RecursionError):
        return None
    seq = value.get("sequence_number") if isinstance(value, dict) else None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None


_first_byte = operator.itemgetter(0)
_last_byte = operator.itemgetter(-1)
_OPEN, _CLOSE, _CR = ord("{"), ord("}"), ord("\r")


def in_sequence(lines: list[bytes], size: int) -> bool:
    """True when ``lines`` are the leaves ``size + 1``, ``size + 2``, ... as they come.

    That is, every line is a leaf line (:func:`is_leaf_line`) whose
    :func:`sequence_of` is the next number: the common case, checked for a
    block at once (a few C-level passes, no Python step per line). False
    says only that the lines must be taken one by one. The two halves agree:
    ``tests/test_treeformat.py`` (tricky lines, generated blocks, and whole
    files against the rule applied line by line).
    """
    count = len(lines)
    if not count or b"" in lines:
        return False
    if (
        bytes(map(_first_byte, lines)).count(_OPEN) != count
        or bytes(map(_last_byte, lines)).count(_CLOSE) != count
    ):
        return False
    # The key exactly once in each line: its first place is its last.
    at = list(map(bytes.find, lines, repeat(_SEQ_KEY)))
    if -1 in at or at != list(map(bytes.rfind, lines, repeat(_SEQ_KEY))):
        return False
    # ... followed by the expected number, then "," or "}" (so no more digits).
    digits = "\n".join(map(str, range(size + 1, size + count + 1))).encode().split(b"\n")
    starts = list(map(_KEY_LEN.__add__, at))
    if not all(map(bytes.startswith, lines, digits, starts)):
        return False
    ends = map(operator.add, starts, map(len, digits))
    return not bytes(map(operator.getitem, lines, ends)).translate(None, b",}")


def leaf_blocks(paths: Iterable[P]) -> Iterator[tuple[P, int, list[bytes]]]:
    """Yield ``(file, first line number, lines)``: the leaves of the audit files ``paths``
    (in their day order), in sequence order.

    Lines in sequence order (the writer's) pass through a block at a time;
    a line out of order waits for its turn (at most `MAX_WAITING` of them,
    beyond which the tree ends), and the numbers of a block's lines count up
    from its first only when the block is ``[line]`` alone or came straight
    from the file. A line's ``"\\r"`` before its newline is not part of it.

    :raises OSError: an audit file cannot be opened or read (the message names it).
    """
    size = 0
    waiting: dict[int, tuple[P, int, bytes]] = {}
    for path in paths:
        for first, lines, terminated in _file_blocks(path):
            if not terminated:
                continue  # a last line still being written is not an event yet
            n = len(lines) if in_sequence(lines, size) else 0
            # Lines the block check takes all end in "}": only a declined block
            # can hold CRLF ends, to cut before the rule is applied (again).
            if not n and _CR in bytes(map(_last_byte, filter(None, lines))):
                lines = [line[:-1] if line[-1:] == b"\r" else line for line in lines]
                n = len(lines) if in_sequence(lines, size) else 0
            if n:
                yield path, first, lines
                size += n
            for number, line in enumerate(lines[n:], first + n):
                if not is_leaf_line(line):
                    continue
                seq = sequence_of(line)
                if seq is None or seq <= size:
                    continue
                if seq == size + 1:
                    yield path, number, [line]
                    size += 1
                    while size + 1 in waiting:
                        size += 1
                        where, at_line, held = waiting.pop(size)
                        yield where, at_line, [held]
                elif len(waiting) < MAX_WAITING:
                    waiting.setdefault(seq, (path, number, line))
                else:
                    return


def _file_blocks(path: PathLike) -> Iterator[tuple[int, list[bytes], bool]]:
    """The line blocks of one audit file; an ``OSError`` says which file failed."""
    try:
        with open_local(path) as handle:
            for first, lines, terminated, _at in line_blocks(handle, 0, None):
                yield first, lines, terminated
    except OSError as exc:
        raise OSError(exc.errno, f"{path} cannot be read: {exc.strerror or exc}") from exc
