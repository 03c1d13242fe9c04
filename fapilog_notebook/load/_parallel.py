"""Load a source in parallel: one frame per file in local worker processes or on Dask.

:func:`load_frame` builds one DataFrame per file in the workers
(:func:`load_file`, with the serial code) and concatenates them. The serial
frame's dtypes depend on all values of a column (a column with one stray
string becomes ``object``), so the per-file frames are concatenated only when
they agree (:func:`_join_plan`: same columns in the same order, same dtypes;
categoricals get the union of categories, enum values first, as the serial
loader makes them). Otherwise the workers send their tables (columns before
their final dtype is chosen) and the parent builds the frame with the serial
code: slower, rare (hostile or mixed logs), always exact.

Tasks run through :func:`fapilog_notebook.execution.ordered` (a local pool,
an executor, or Dask). On Dask the per-file frames stay on the cluster as
the partitions of a ``dask.dataframe.DataFrame``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from ..execution import Engine, Workers, check_engine, dask_client, ordered
from ..gcpause import gc_paused
from ..progress import track
from ..scan import AuditFile, Source
from ._columns import _CATEGORICAL, PROVENANCE, _build_frame, _keep_columns, _Table
from ._parse import _fill, _wanted_types, _warn

if TYPE_CHECKING:
    import dask.dataframe as dd
    import pandas as pd

    from ..events import AuditEventType

__all__ = ["FramePart", "empty_like", "finish_part", "load_file", "load_frame", "summarize"]


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
    with gc_paused():
        filled = _fill(files, wanted, [index])
        frame = None if raw else _build_frame(filled.table, files, keep, flatten_metadata)
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
        with gc_paused():
            return _build_frame(
                _merge_tables(t for t in tables if t), files, keep, flatten_metadata
            )
    import pandas as pd

    chosen, categories = plan
    frames = []
    row = 0
    for i in chosen:
        frames.append(finish_part(parts[i], categories, row))
        row += summaries[i].rows
    del parts
    with gc_paused():
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
        frame = _build_frame(_merge_tables(t for t in tables if t), files, keep, flatten_metadata)
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
