"""Verify in parallel: local worker processes or a Dask cluster.

The chain is sequential, but checking a line is not: parsing its JSON and
recomputing its checksum or MAC (most of the CPU) needs no other line. So
workers check the lines of byte-range *chunks* of the files
(:func:`check_chunk`) and the parent feeds the results, in file and line
order, into the very same verifier the serial path uses, through the same
calls (``open_file``, ``lines``/``routine``, ``file_failed``/``file_done``).
The report is therefore the serial one, finding for finding, by
construction; only where the per-line work runs changes. The tasks run on
:func:`fapilog_notebook.execution.ordered` (serial, local pool or Dask).

- A chunk is the lines that *start* in a byte range of one file (at most
  :data:`CHUNK_BYTES`), so a huge file never sits whole in one worker or one
  message; its results travel column-wise (a column that is one value on
  every line is sent once), which keeps the parent's unpickling cheap.
- Tasks run through a bounded window, consumed in order: memory stays
  bounded however many files there are.
- A file that cannot be read (or fails part-way) gives the same
  ``unreadable_file`` finding as the serial verifier; later chunks of that
  file are ignored, as the serial verifier stops reading it.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Iterator, Sequence
from itertools import repeat
from operator import is_
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias

from ..execution import Engine, Workers, check_engine, dask_client, ordered
from ..gcpause import gc_paused
from ..objstore import ObjectPath
from ..progress import track
from ..scan import AuditFile, file_size
from ._keyring import Keyring
from ._lines import CheckedBatch, LineInfo, RoutineBatch, _make_info, check_batches

if TYPE_CHECKING:
    from ._driver import _Verifier

__all__ = [
    "CHUNK_BYTES",
    "check_chunk",
    "feed_chunk",
    "plan_chunks",
    "verify_files",
]

#: The most bytes of one file that one verifying task reads.
CHUNK_BYTES = 16 * 1024 * 1024


# ----------------------------------------------------------------- chunks of lines


class Chunk(NamedTuple):
    """The lines of file number ``file`` that start in ``[start, end)`` (``end`` None: to EOF)."""

    file: int
    path: str | ObjectPath  # a URL's path travels as its URL and options, never its data
    start: int
    end: int | None


def plan_chunks(files: Sequence[AuditFile], chunk_bytes: int = CHUNK_BYTES) -> list[Chunk]:
    """Split each file into byte ranges of at most ``chunk_bytes`` (every file has one).

    The last range of a file is open-ended, so lines appended since are read
    too, as the serial verifier would. A file that cannot be stat'ed is one
    range, and its worker reports why it cannot be read.
    """
    if chunk_bytes < 1:
        raise ValueError("chunk_bytes must be positive")
    chunks: list[Chunk] = []
    for index, audit_file in enumerate(files):
        path = audit_file.path if isinstance(audit_file.path, ObjectPath) else str(audit_file.path)
        try:
            size = file_size(audit_file.path)
        except OSError:
            size = 0
        starts = list(range(0, max(size, 1), chunk_bytes))
        ends: list[int | None] = [*starts[1:], None]
        chunks.extend(Chunk(index, path, s, e) for s, e in zip(starts, ends, strict=True))
    return chunks


# ----------------------------------------------------------------- per-line checks

#: ``(lines, batches, error)``: each batch is the pickled ``(lines, routine, rest)``
#: of up to :data:`~._lines.VERIFY_BATCH_LINES` lines: for a routine batch its
#: :class:`~._lines.Routine` and the bytes its lines span in the file (read
#: again only if the verifier needs them one by one), for any other ``None``
#: and the pickled :func:`_encode` of all its lines; ``error`` stopped the read.
CheckedChunk: TypeAlias = "tuple[int, list[bytes], OSError | None]"
_FOLDABLE = frozenset({type(None), bool, int, str})
_PROTOCOL = pickle.HIGHEST_PROTOCOL
_VALUES, _SAME, _LINKED = range(3)
_PREV, _CHECKSUM = LineInfo._fields.index("prev") - 1, LineInfo._fields.index("checksum") - 1


def _encode(columns: Sequence[Sequence[Any]]) -> tuple[tuple[int, Any], ...]:
    """The LineInfo fields after ``number`` (``columns``: the lines transposed),
    in as few bytes as is exact.

    Each column is ``(_SAME, value)`` when it is ``value`` (same type) on every
    line, ``(_LINKED, first)`` for ``prev`` when every line's ``prev`` is the
    previous line's ``checksum`` (an intact chain), else ``(_VALUES, values)``.
    """
    fields = columns[1:]
    out: list[tuple[int, Any]] = []
    for index, values in enumerate(fields):
        first = values[0]
        kind = type(first)
        if (
            kind in _FOLDABLE
            and values[-1] == first
            and values.count(first) == len(values)
            and all(map(is_, map(type, values), repeat(kind)))
        ):
            out.append((_SAME, first))
        elif index == _PREV and values[1:] == fields[_CHECKSUM][:-1]:
            out.append((_LINKED, first))
        else:
            out.append((_VALUES, values))
    return tuple(out)


def feed_chunk(verifier: _Verifier, index: int, batches: Iterable[bytes], offset: int) -> None:
    """Give a chunk's lines to ``verifier`` as the serial verifier would.

    A routine batch is taken at once (:meth:`._driver._Verifier.extend`) from
    its summary; its lines are read again only if the verifier asks for them.

    :raises OSError: a routine batch's lines had to be read again, and could not be.
    """
    base = offset  # a worker numbers the lines of its chunk from 1
    for batch in batches:
        lines, routine, rest = pickle.loads(batch)
        if routine is None:
            verifier.lines(index, list(_decode(lines, pickle.loads(rest), offset)))
        else:
            routine = routine._replace(
                first=_renumber(routine.first, base), last=_renumber(routine.last, base)
            )
            verifier.routine(index, routine, rest)
        offset += lines


def _renumber(info: LineInfo, offset: int) -> LineInfo:
    """``info`` numbered file-wide (workers number the lines of their chunk from 1)."""
    return info._replace(number=info.number + offset) if offset else info


def _decode(lines: int, columns: tuple[tuple[int, Any], ...], offset: int) -> Iterator[LineInfo]:
    if not lines:
        return iter(())
    its: list[Iterable[Any]] = [range(offset + 1, offset + lines + 1)]
    for how, value in columns:
        if how == _SAME:
            its.append(repeat(value, lines))
        elif how == _LINKED:
            checksums = columns[_CHECKSUM]
            if checksums[0] == _SAME:
                its.append((value, *repeat(checksums[1], lines - 1)))
            else:
                its.append((value, *checksums[1][:-1]))
        else:
            its.append(value)
    return map(_make_info, zip(*its, strict=True))


def _pack(batch: CheckedBatch) -> bytes:
    """A checked batch for the parent: ``(lines, routine or None, span or encoded lines)``."""
    if isinstance(batch, RoutineBatch):
        routine = batch.routine
        return pickle.dumps((routine.rest + 1, routine, batch.span), _PROTOCOL)
    columns = list(zip(*batch, strict=True)) if batch else []
    return pickle.dumps((len(batch), None, pickle.dumps(_encode(columns), _PROTOCOL)), _PROTOCOL)


def check_chunk(
    path: str | ObjectPath,
    start: int,
    end: int | None,
    keyring: Keyring | None = None,
    day_iso: str | None = None,
    watch: frozenset[int] = frozenset(),
) -> CheckedChunk:
    """Check each line of a chunk on its own (a worker task; the serial per-line code).

    Returns the line count, the encoded :class:`~._lines.LineInfo` batches and
    the :class:`OSError` that stopped the read (the lines before it are kept).
    ``day_iso`` (the file's day) and ``watch`` are for :func:`._lines.routine_batch`.
    """
    batches: list[bytes] = []
    lines = 0
    error: OSError | None = None
    with gc_paused():  # many live tuples, no cycles: collections would only cost
        try:
            for batch in check_batches(path, start, end, keyring, day_iso, watch):
                batches.append(_pack(batch))
                lines += batch.routine.rest + 1 if isinstance(batch, RoutineBatch) else len(batch)
        except OSError as exc:
            error = exc
    return lines, batches, error


# ----------------------------------------------------------------- verifying


def verify_files(
    verifier: _Verifier,
    *,
    workers: Workers = None,
    engine: Engine = None,
    client: Any = None,
    progress: bool | None = None,
    chunk_bytes: int | None = None,
) -> None:
    """Feed every file of ``verifier``'s source to it, the per-line checks done in workers.

    The parallel twin of calling ``verifier.run_file(i)`` for each file:
    same calls on the state machine, in the same order.
    """
    engine = check_engine(workers, engine, client)
    if engine == "dask":
        client = dask_client(client)
    files, keyring, watch = verifier.work()
    if engine is None:
        for index in track(
            range(len(files)),
            total=len(files),
            desc="verifying",
            progress=progress,
        ):
            verifier.run_file(index)
        return
    chunks = plan_chunks(files, chunk_bytes or CHUNK_BYTES)
    days = [f.day.isoformat() if f.day else None for f in files]
    tasks = [(c.path, c.start, c.end, keyring, days[c.file], watch) for c in chunks]
    results = ordered(check_chunk, tasks, workers=workers, engine=engine, client=client)
    current = -1
    offset = 0
    failed = False
    for position, (chunk, result) in enumerate(
        track(
            zip(chunks, results, strict=True),
            total=len(chunks),
            desc="verifying",
            progress=progress,
        )
    ):
        index = chunk.file
        if index != current:
            current, offset, failed = index, 0, False
            verifier.open_file(index)
        if failed:
            continue
        lines, batches, error = result
        try:
            feed_chunk(verifier, index, batches, offset)
        except OSError as exc:  # lines read again (rarely) that could not be
            verifier.file_failed(index, exc)
            failed = True
            continue
        offset += lines
        if error is not None:
            verifier.file_failed(index, error)
            failed = True
        elif position + 1 == len(chunks) or chunks[position + 1].file != index:
            verifier.file_done(index)
