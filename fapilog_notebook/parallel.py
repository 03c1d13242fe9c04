"""Verify and load audit sources in parallel: local worker processes or a Dask cluster.

The chain is sequential, but checking a line is not: parsing its JSON and
recomputing its checksum or MAC (most of the CPU) needs no other line. So
workers check the lines of byte-range *chunks* of the files
(:func:`check_chunk`) and the parent feeds the results, in file and line
order, into the very same state machine the serial verifier uses
(``verify._Verifier``). The report is therefore the serial one, finding for
finding, by construction; only where the per-line work runs changes.

- A chunk is the lines that *start* in a byte range of one file (at most
  :data:`CHUNK_BYTES`), so a huge file never sits whole in one worker or one
  message; its results travel column-wise (a column that is one value on
  every line is sent once), which keeps the parent's unpickling cheap.
- Tasks run through a bounded window, consumed in order: memory stays
  bounded however many files there are.
- A file that cannot be read (or fails part-way) gives the same
  ``unreadable_file`` finding as the serial verifier; later chunks of that
  file are ignored, as the serial verifier stops reading it.

Loading (:func:`load_frame`) builds one DataFrame per file in the workers,
with the serial code, and concatenates them. The serial frame's dtypes
depend on all values of a column (a column with one stray string becomes
``object``), so the per-file frames are concatenated only when they agree
(same columns in the same order, same dtypes; categoricals get the union of
categories, enum values first, as the serial loader makes them). Otherwise
the workers send their tables (columns before their final dtype is chosen)
and the parent builds the frame with the serial code: slower, rare (hostile
or mixed logs), always exact.

The local pool uses the ``forkserver`` start method (``spawn`` where there is
none), never ``fork``: the callers are asyncio apps and notebooks with
threads. As with any process pool, a script must guard its entry point with
``if __name__ == "__main__":``. Dask is optional: ``pip install
'fapilog-notebook[dask]'``; its workers need this package installed too.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Iterator, Sequence
from itertools import repeat
from operator import is_
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias

from ._progress import track
from .execution import Engine, Workers, check_engine, dask_client, ordered
from .frame import (
    _CATEGORICAL,
    PROVENANCE,
    _build,
    _fill,
    _gc_paused,
    _keep_columns,
    _Table,
    _wanted_types,
    _warn,
)
from .objstore import ObjectPath
from .scan import AuditFile, Source, file_size
from .verify import (
    CheckedBatch,
    Keyring,
    LineInfo,
    RoutineBatch,
    _make_info,
    _Verifier,
    check_batches,
)

if TYPE_CHECKING:
    import dask.dataframe as dd
    import pandas as pd

    from .events import AuditEventType

__all__ = [
    "CHUNK_BYTES",
    "check_chunk",
    "feed_chunk",
    "load_frame",
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
#: of up to :data:`~.verify.BATCH_LINES` lines: for a routine batch its
#: :class:`~.verify.Routine` and the bytes its lines span in the file (read
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

    A routine batch is taken at once (:meth:`.verify._Verifier.extend`) from
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

    Returns the line count, the encoded :class:`~.verify.LineInfo` batches and
    the :class:`OSError` that stopped the read (the lines before it are kept).
    ``day_iso`` (the file's day) and ``watch`` are for :func:`.verify.routine_batch`.
    """
    batches: list[bytes] = []
    lines = 0
    error: OSError | None = None
    with _gc_paused():  # many live tuples, no cycles: collections would only cost
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
    if engine is None:
        for index in track(
            range(len(verifier.files)),
            total=len(verifier.files),
            desc="verifying",
            progress=progress,
        ):
            verifier.run_file(index)
        return
    chunks = plan_chunks(verifier.files, chunk_bytes or CHUNK_BYTES)
    days = [f.day.isoformat() if f.day else None for f in verifier.files]
    watch = frozenset(verifier.watch)
    tasks = [(c.path, c.start, c.end, verifier.keyring, days[c.file], watch) for c in chunks]
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
            verifier.files_checked += 1


# ----------------------------------------------------------------- loading


class FramePart(NamedTuple):
    """What one worker loaded from one file: a frame (or the raw table), and what it left out."""

    frame: pd.DataFrame | None
    table: _Table | None
    skipped: list[tuple[str, int]]
    skipped_count: int
    unreadable: list[str]


def load_file(
    files: tuple[AuditFile, ...],
    index: int,
    wanted: frozenset[str] | None,
    keep: list[str] | None,
    flatten_metadata: bool,
    raw: bool,
) -> FramePart:
    """Load file ``index`` with the serial code: its frame, or (``raw``) its columns."""
    with _gc_paused():
        filled = _fill(files, wanted, [index])
        frame = None if raw else _build(filled.table, files, keep, flatten_metadata)
    return FramePart(
        frame,
        filled.table if raw else None,
        filled.skipped,
        filled.skipped_count,
        filled.unreadable,
    )


class _Summary(NamedTuple):
    rows: int
    columns: tuple[str, ...]
    dtypes: tuple[Any, ...]
    categories: dict[str, tuple[Any, ...]]
    skipped: list[tuple[str, int]]
    skipped_count: int
    unreadable: list[str]


def summarize(part: FramePart) -> _Summary:
    """The small facts about a part the parent needs to decide how to join the parts."""
    import pandas as pd

    frame = part.frame
    assert frame is not None
    dtypes = tuple("category" if isinstance(t, pd.CategoricalDtype) else t for t in frame.dtypes)
    categories = {
        name: tuple(frame[name].cat.categories) for name in _CATEGORICAL if name in frame.columns
    }
    return _Summary(
        len(frame),
        tuple(frame.columns),
        dtypes,
        categories,
        part.skipped,
        part.skipped_count,
        part.unreadable,
    )


def _join_plan(summaries: Sequence[_Summary]) -> tuple[list[int], dict[str, list[Any]]] | None:
    """Which parts to concatenate and the categories to give them, or None when the
    parts disagree (concatenating them would not give the serial frame)."""
    keep = [i for i, s in enumerate(summaries) if s.rows]
    if not keep:
        return None
    columns = summaries[keep[0]].columns
    dtypes = summaries[keep[0]].dtypes
    for summary in summaries:
        if summary.rows:
            if summary.columns != columns or summary.dtypes != dtypes:
                return None
        elif summary.columns not in (columns, PROVENANCE):
            return None  # its (eventless) keys would be columns of the serial frame
    categories: dict[str, list[Any]] = {}
    for name, enum in _CATEGORICAL.items():
        if name not in columns:
            continue
        known = [member.value for member in enum]
        extra: set[Any] = set()
        for i in keep:
            extra.update(summaries[i].categories[name][len(known) :])
        categories[name] = known + sorted(extra)
    return keep, categories


def finish_part(part: FramePart, categories: dict[str, list[Any]], first_row: int) -> pd.DataFrame:
    """The part's frame with the joined categories, indexed from ``first_row``."""
    import pandas as pd

    frame = part.frame
    assert frame is not None
    for name, values in categories.items():
        if list(frame[name].cat.categories) != values:
            frame[name] = frame[name].cat.set_categories(values)
    frame.index = pd.RangeIndex(first_row, first_row + len(frame))
    return frame


def empty_like(frame: pd.DataFrame) -> pd.DataFrame:
    """The zero-row frame with ``frame``'s columns and dtypes (Dask's ``meta``)."""
    return frame.iloc[:0]


def _merge_tables(tables: Iterable[_Table]) -> _Table:
    """One table from per-file tables, as the serial loader would have filled it."""
    merged = _Table()
    for table in tables:
        merged.extend(table)
    return merged


def _left_out(
    parts: Iterable[_Summary | FramePart],
) -> tuple[list[tuple[str, int]], int, list[str]]:
    skipped: list[tuple[str, int]] = []
    count = 0
    unreadable: list[str] = []
    for part in parts:
        skipped.extend(part.skipped[: 5 - len(skipped)])
        count += part.skipped_count
        unreadable.extend(part.unreadable)
    return skipped, count, unreadable


def load_frame(
    resolved: Source,
    *,
    event_types: Iterable[AuditEventType | str] | None,
    columns: Iterable[str] | None,
    flatten_metadata: bool,
    progress: bool | None,
    workers: Workers,
    engine: Engine,
    client: Any,
) -> pd.DataFrame | dd.DataFrame:
    """The frame of ``resolved`` built per file in workers (a Dask DataFrame on Dask).

    Same columns, order, dtypes and values as the serial ``read_audit_log``.
    """
    engine = check_engine(workers, engine, client)
    wanted = _wanted_types(event_types)
    keep = _keep_columns(columns)
    files = resolved.files
    if engine == "dask":
        return _load_dask(resolved, wanted, keep, flatten_metadata, dask_client(client))
    tasks = [(files, i, wanted, keep, flatten_metadata, False) for i in range(len(files))]
    parts = list(
        track(
            ordered(load_file, tasks, workers=workers, engine=engine, client=client),
            total=len(tasks),
            desc="loading",
            progress=progress,
        )
    )
    summaries = [summarize(p) for p in parts]
    plan = _join_plan(summaries)
    _warn(resolved.description, *_left_out(summaries))
    if plan is None:
        del parts
        raw = [(files, i, wanted, keep, flatten_metadata, True) for i in range(len(files))]
        tables = (
            p.table for p in ordered(load_file, raw, workers=workers, engine=engine, client=client)
        )
        with _gc_paused():
            return _build(_merge_tables(t for t in tables if t), files, keep, flatten_metadata)
    import pandas as pd

    chosen, categories = plan
    frames = []
    row = 0
    for i in chosen:
        frames.append(finish_part(parts[i], categories, row))
        row += summaries[i].rows
    del parts
    with _gc_paused():
        return pd.concat(frames, ignore_index=True)


def _load_dask(
    resolved: Source,
    wanted: frozenset[str] | None,
    keep: list[str] | None,
    flatten_metadata: bool,
    client: Any,
) -> dd.DataFrame:
    """Per-file partitions built and held on the cluster (their dtypes depend on the data)."""

    files = resolved.files
    parts = [
        client.submit(load_file, files, i, wanted, keep, flatten_metadata, False, pure=False)
        for i in range(len(files))
    ]
    summaries: list[_Summary] = client.gather([client.submit(summarize, p) for p in parts])
    _warn(resolved.description, *_left_out(summaries))
    plan = _join_plan(summaries)
    if plan is None:
        for part in parts:
            part.release()
        raw = [
            client.submit(load_file, files, i, wanted, keep, flatten_metadata, True, pure=False)
            for i in range(len(files))
        ]
        tables = (p.table for p in client.gather(raw))
        frame = _build(_merge_tables(t for t in tables if t), files, keep, flatten_metadata)
        return _partition_by_file(frame, len(files), client)
    chosen, categories = plan
    finals = []
    bounds = [0]
    for i in chosen:
        finals.append(client.submit(finish_part, parts[i], categories, bounds[-1], pure=False))
        bounds.append(bounds[-1] + summaries[i].rows)
    meta = client.submit(empty_like, finals[0]).result()
    divisions = (*bounds[:-1], bounds[-1] - 1)
    return _from_futures(finals, meta, divisions)


def _partition_by_file(frame: pd.DataFrame, count: int, client: Any) -> dd.DataFrame:
    """A Dask DataFrame of ``frame`` with one partition per file that has rows."""

    codes: list[int] = frame["source_file"].cat.codes.tolist()
    pieces = []
    bounds = [0]
    start = 0
    for index in range(count):
        stop = start
        while stop < len(codes) and codes[stop] == index:
            stop += 1
        if stop > start:
            pieces.append(frame.iloc[start:stop])
            bounds.append(stop)
        start = stop
    if not pieces:
        pieces, bounds = [frame], [0, 0]
    futures = client.scatter(pieces)
    divisions = (*bounds[:-1], max(bounds[-1] - 1, 0))
    return _from_futures(futures, frame.iloc[:0], divisions)


def _from_futures(
    futures: list[Any], meta: pd.DataFrame, divisions: tuple[int, ...]
) -> dd.DataFrame:
    """A Dask DataFrame over partitions held on the cluster, with exactly ``meta``'s dtypes.

    Dask turns object and ``str`` columns into pyarrow strings by default
    (``dataframe.convert-string``); the serial frame's dtypes must hold.
    """
    import dask
    import dask.dataframe as dd

    with dask.config.set({"dataframe.convert-string": False}):
        result: dd.DataFrame = dd.from_delayed(futures, meta=meta, divisions=divisions)
    return result
