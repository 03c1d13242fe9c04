"""``read_audit_log`` (a source into a typed DataFrame) and placing findings on its rows.

The frame is for reading, never for verifying: pandas turns ints into floats
and None into NaN; :func:`fapilog_notebook.verify_audit_log` hashes the bytes.
``verify=True`` adds the verifier's findings as an ``integrity`` column,
placed by :func:`locate_findings`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, Literal, cast, overload

from ..access import check_access_args, record_access
from ..events import AuditEventType
from ..gcpause import gc_paused
from ..progress import track
from ..scan import DayBound, Source, SourceLike, resolve_source
from ._columns import _build_frame, _keep_columns
from ._parse import _fill, _wanted_types, _warn

if TYPE_CHECKING:
    import dask.dataframe as dd
    import numpy as np
    import pandas as pd

    from ..execution import Engine, Workers
    from ..verify import VerificationReport
    from ..writer import AuditTrail

__all__ = ["findings_table", "locate_findings", "read_audit_log"]


@overload
def read_audit_log(
    source: SourceLike,
    *,
    since: DayBound = ...,
    until: DayBound = ...,
    event_types: Iterable[AuditEventType | str] | None = ...,
    columns: Iterable[str] | None = ...,
    flatten_metadata: bool = ...,
    progress: bool | None = ...,
    workers: Workers = ...,
    engine: Literal["processes"] | None = ...,
    verify: bool = ...,
    access_log: AuditTrail | None = ...,
    user_id: str | None = ...,
    storage_options: Mapping[str, Any] | None = ...,
) -> pd.DataFrame: ...


@overload
def read_audit_log(
    source: SourceLike,
    *,
    since: DayBound = ...,
    until: DayBound = ...,
    event_types: Iterable[AuditEventType | str] | None = ...,
    columns: Iterable[str] | None = ...,
    flatten_metadata: bool = ...,
    progress: bool | None = ...,
    engine: Literal["dask"],
    client: Any = ...,
    verify: Literal[False] = ...,
    access_log: AuditTrail | None = ...,
    user_id: str | None = ...,
    storage_options: Mapping[str, Any] | None = ...,
) -> dd.DataFrame: ...


def read_audit_log(
    source: SourceLike,
    *,
    since: DayBound = None,
    until: DayBound = None,
    event_types: Iterable[AuditEventType | str] | None = None,
    columns: Iterable[str] | None = None,
    flatten_metadata: bool = False,
    progress: bool | None = None,
    workers: Workers = None,
    engine: Engine = None,
    client: Any = None,
    verify: bool = False,
    access_log: AuditTrail | None = None,
    user_id: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> pd.DataFrame | dd.DataFrame:
    """Load the events of ``source`` as a DataFrame, one row per event, in chain order.

    Every key found becomes a column. ``timestamp`` is tz-aware UTC;
    ``event_type``, ``log_level`` and ``compliance_level`` are categoricals;
    ``sequence_number`` and ``process_id`` are nullable integers; the flags
    are booleans; ``metadata`` stays a dict column, and ``flatten_metadata``
    adds one ``metadata.<key>`` column per key. ``source_file`` and
    ``source_line`` (1-based) say where each row came from.

    ``columns`` keeps only those columns (plus the provenance columns); a
    requested column no event has is all missing. Lines that are not events
    are left out with one :class:`AuditLogWarning`; so are unreadable files.

    ``workers=N`` builds each file's frame in N local processes (or pass an
    ``Executor``) and joins them: the same frame. ``engine="dask"`` builds them
    on a ``dask.distributed`` cluster (``client=``, else the default client) and
    returns a ``dask.dataframe.DataFrame`` with the same columns and dtypes,
    one partition per file, held on the cluster.

    ``verify=True`` also verifies the same files and days and adds an
    ``integrity`` column: the finding kinds (comma-separated, sorted) placed
    at each row, empty for a sound row. A finding about a line that holds no
    event (deleted, malformed) marks the next event of its file, as
    :func:`locate_findings` places it.
    ``access_log=`` (an :class:`~fapilog_notebook.AuditTrail`) records an
    ``audit_log_access`` event there first: who (``user_id``, default the OS
    user), what source and which days.

    ``source`` may be an fsspec URL (``s3://bucket/prefix/``, ``gs://``,
    ``az://``, ``memory://``, ``file://``) read in place with
    ``storage_options`` (see :mod:`fapilog_notebook.objstore`); the workers and Dask workers
    then read their files from the store themselves.

    :raises FileNotFoundError: the source does not exist.
    :raises ValueError: no audit file to read, or bad bounds.
    """
    if verify and engine == "dask":
        raise ValueError("verify=True needs an in-memory frame; it cannot be used with dask")
    check_access_args(access_log, user_id)
    resolved = resolve_source(source, since=since, until=until, storage_options=storage_options)
    record_access(
        access_log,
        action="read_audit_log",
        source=source,
        since=since,
        until=until,
        user_id=user_id,
    )
    with gc_paused():
        if workers is None and engine is None and client is None:
            frame = _load(resolved, event_types, columns, flatten_metadata, progress)
            if verify:
                return _with_integrity(frame, source, since, until, progress, storage_options)
            return frame
        from ._parallel import load_frame

        loaded = load_frame(
            resolved,
            event_types=event_types,
            columns=columns,
            flatten_metadata=flatten_metadata,
            progress=progress,
            workers=workers,
            engine=engine,
            client=client,
        )
        if verify:  # not dask (refused above): a pandas frame
            return _with_integrity(
                cast("pd.DataFrame", loaded), source, since, until, progress, storage_options
            )
        return loaded


def _with_integrity(
    frame: pd.DataFrame,
    source: SourceLike,
    since: DayBound,
    until: DayBound,
    progress: bool | None,
    storage_options: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """``frame`` with an ``integrity`` column naming the finding kinds placed at each row."""
    import pandas as pd

    from ..verify import verify_audit_log

    report = verify_audit_log(
        source, since=since, until=until, progress=progress, storage_options=storage_options
    )
    kinds: list[set[str]] = [set() for _ in range(len(frame))]
    positions = locate_findings(report.findings, frame)
    for position, kind in zip(positions.tolist(), report.findings["kind"].tolist(), strict=True):
        if position >= 0:
            kinds[position].add(str(kind))
    frame["integrity"] = pd.Series(
        [", ".join(sorted(k)) for k in kinds], index=frame.index, dtype=object
    )
    return frame


def _load(
    resolved: Source,
    event_types: Iterable[AuditEventType | str] | None,
    columns: Iterable[str] | None,
    flatten_metadata: bool,
    progress: bool | None,
) -> pd.DataFrame:

    wanted = _wanted_types(event_types)
    keep_columns = _keep_columns(columns)
    indices = track(
        range(len(resolved.files)), total=len(resolved.files), desc="loading", progress=progress
    )
    filled = _fill(resolved.files, wanted, indices)
    _warn(resolved.description, filled.skipped, filled.skipped_count, filled.unreadable)
    return _build_frame(filled.table, resolved.files, keep_columns, flatten_metadata)


# ----------------------------------------------------------------- findings to rows


def findings_table(findings: VerificationReport | pd.DataFrame | None) -> pd.DataFrame:
    """A report's findings as a DataFrame (a DataFrame passes through; ``None``: no rows)."""
    import pandas as pd

    if findings is None:
        return pd.DataFrame(
            columns=["kind", "severity", "file", "line", "sequence_number", "event_id"]
        )
    frame = getattr(findings, "findings", findings)
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"findings must be a VerificationReport or a DataFrame, not {findings!r}")
    return frame


def _name(value: object) -> str | None:
    import numpy as np
    import pandas as pd

    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    return PurePath(str(value)).name


def _int_or_none(value: object) -> int | None:
    import numpy as np

    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and not np.isnan(value):
        return int(value)
    return None


def locate_findings(
    findings: VerificationReport | pd.DataFrame, frame: pd.DataFrame
) -> np.ndarray[Any, np.dtype[np.int64]]:
    """For each finding, the position (``iloc``) of the event it points at in ``frame``.

    A finding is placed by its file and line (``source_file``/``source_line``
    columns, matched by file name), else by ``event_id``, else by
    ``sequence_number``. A line that holds no loaded event (a malformed or
    deleted line) is placed at the next event of the same file, or the last
    one when none follows. ``-1`` means the finding points at no event.
    """
    import numpy as np
    import pandas as pd

    table = findings_table(findings)
    positions = np.full(len(table), -1, dtype=np.int64)
    if not len(table) or not len(frame):
        return positions
    by_file: dict[str, tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]] = {}
    if "source_file" in frame.columns and "source_line" in frame.columns:
        codes, uniques = pd.factorize(frame["source_file"].astype(object).map(_name))
        lines = pd.to_numeric(frame["source_line"], errors="coerce").fillna(-1).to_numpy(np.int64)
        order = np.lexsort((lines, codes))
        sorted_codes = codes[order]
        for code, file_name in enumerate(uniques):
            lo, hi = np.searchsorted(sorted_codes, [code, code + 1])
            rows = order[lo:hi]
            by_file[str(file_name)] = (lines[rows], rows)
    event_ids = frame["event_id"].astype(object) if "event_id" in frame.columns else None
    sequences = frame["sequence_number"] if "sequence_number" in frame.columns else None
    for index, finding in enumerate(table.itertuples(index=False)):
        file_name = _name(getattr(finding, "file", None))
        line = _int_or_none(getattr(finding, "line", None))
        event_id = getattr(finding, "event_id", None)
        sequence = _int_or_none(getattr(finding, "sequence_number", None))
        placed = by_file.get(file_name) if file_name else None
        if placed is not None and line is not None:
            file_lines, rows = placed
            at = int(np.searchsorted(file_lines, line))
            if at < len(rows) and file_lines[at] == line:
                positions[index] = rows[at]
                continue
        if isinstance(event_id, str) and event_ids is not None:
            hits = np.flatnonzero((event_ids == event_id).to_numpy())
            if hits.size:
                positions[index] = hits[0]
                continue
        if placed is not None:
            file_lines, rows = placed
            at = int(np.searchsorted(file_lines, line)) if line is not None else 0
            positions[index] = rows[min(at, len(rows) - 1)]
            continue
        if sequence is not None and sequences is not None:
            hits = np.flatnonzero((sequences == sequence).fillna(False).to_numpy(bool))
            if hits.size:
                positions[index] = hits[0]
    return positions
