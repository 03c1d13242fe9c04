"""Load an audit source into a typed pandas DataFrame, fast, one row per event.

Lines are parsed in batches: a batch of lines is joined into one JSON array
(``[[line1],\\n[line2],...]``) and parsed by one ``json.loads`` call, which
shares key strings across events and avoids per-call overhead. A batch is
only accepted when the parse provably maps one array element to each line
(see :func:`_parse_batch`); otherwise its lines are parsed one by one, so
the result is always exactly what ``json.loads`` gives for each line.

The frame is for reading, never for verifying: pandas turns ints into floats
and None into NaN; :func:`fapilog_notebook.verify_audit_log` hashes the bytes.
"""

from __future__ import annotations

import gc
import re
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Literal, overload

from pydantic_core import from_json

from ._progress import track
from .chain import loads
from .events import AuditEventType, AuditLogLevel, ComplianceLevel
from .scan import (
    AuditFile,
    DayBound,
    Source,
    SourceLike,
    describe_os_error,
    iter_lines,
    resolve_source,
)

if TYPE_CHECKING:
    import dask.dataframe as dd
    import pandas as pd

    from .parallel import Engine, Workers

__all__ = ["AuditLogWarning", "read_audit_log"]

BATCH_LINES = 4096
_SEPARATOR = re.compile(rb"\][ \t\r\n]*,[ \t\r\n]*\[")
_CATEGORICAL: dict[str, type[Enum]] = {
    "event_type": AuditEventType,
    "log_level": AuditLogLevel,
    "compliance_level": ComplianceLevel,
}
_FLAGS = ("contains_pii", "contains_phi")
_INTEGERS = ("sequence_number", "process_id")
PROVENANCE = ("source_file", "source_line")


class AuditLogWarning(UserWarning):
    """Lines were left out of a loaded frame (run ``verify_audit_log`` for details)."""


def _parse_batch(raws: list[bytes]) -> list[Any] | None:
    """Parse ``raws`` in one call, or ``None`` when that cannot be trusted line by line.

    Each line is wrapped in brackets and the wrapped lines are joined with
    ``,\\n``. Strict JSON cannot hold a raw newline inside a string, and a
    separator ``] , [`` found only at the joins means no line holds one, so
    when the parse gives one single-item list per line, item ``i`` is exactly
    ``json.loads(raws[i])``.
    """
    joined = b"[[" + b"],\n[".join(raws) + b"]]"
    if len(_SEPARATOR.findall(joined)) != len(raws) - 1:
        return None
    try:
        parsed = from_json(joined)
    except ValueError:
        return None
    if len(parsed) != len(raws):
        return None
    out: list[Any] = []
    append = out.append
    for item in parsed:
        if len(item) != 1:
            return None
        append(item[0])
    return out


def _parse_each(raws: list[bytes]) -> list[Any]:
    out: list[Any] = []
    for raw in raws:
        try:
            out.append(loads(raw))
        except (ValueError, RecursionError):
            out.append(None)
    return out


class _Columns:
    """Column lists filled row by row; a key first seen late is padded with None."""

    def __init__(self) -> None:
        self.data: dict[str, list[Any]] = {}
        self.rows = 0
        self.files: list[int] = []
        self.lines: list[int] = []

    def add_run(self, keys: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
        """Add rows that all have exactly ``keys``, in that order."""
        data = self.data
        for key, values in zip(
            keys, zip(*(row.values() for row in rows), strict=True), strict=True
        ):
            column = data.get(key)
            if column is None:
                column = data[key] = [None] * self.rows
            column.extend(values)
        self.rows += len(rows)
        if len(keys) != len(data):
            for column in data.values():
                if len(column) < self.rows:
                    column.extend([None] * (self.rows - len(column)))


def _add_uniform(
    table: _Columns,
    parsed: list[Any],
    index: int,
    numbers: list[int],
    wanted: frozenset[str] | None,
) -> bool:
    """Add a batch whose rows are all events with the same keys, column-wise.

    Returns False (adding nothing) when the batch is not that uniform.
    """
    if not parsed or set(map(type, parsed)) != {dict}:
        return False
    keys = tuple(parsed[0])
    if len(keys) < 2 or "sequence_number" not in keys or set(map(len, parsed)) != {len(keys)}:
        return False
    try:
        rows = list(map(itemgetter(*keys), parsed))
    except KeyError:
        return False
    columns = list(zip(*rows, strict=True))
    if set(map(type, columns[keys.index("sequence_number")])) != {int}:
        return False
    if wanted is not None:
        types = columns[keys.index("event_type")] if "event_type" in keys else ()
        keep = [i for i, value in enumerate(types) if value in wanted]
        if len(keep) != len(rows):
            columns = [tuple(column[i] for i in keep) for column in columns]
            numbers = [numbers[i] for i in keep]
    count = len(numbers)
    if not count:
        return True  # every row filtered out: its keys make no columns, as row by row
    data = table.data
    for key, values in zip(keys, columns, strict=True):
        column = data.get(key)
        if column is None:
            column = data[key] = [None] * table.rows
        column.extend(values)
    table.rows += count
    if len(keys) != len(data):
        for column in data.values():
            if len(column) < table.rows:
                column.extend([None] * (table.rows - len(column)))
    table.files.extend([index] * count)
    table.lines.extend(numbers)
    return True


def _accept(obj: Any, wanted: frozenset[str] | None) -> bool | None:
    """True to keep, False to filter out, None when the line is not an event."""
    if type(obj) is not dict or type(obj.get("sequence_number")) is not int:
        return None
    return wanted is None or obj.get("event_type") in wanted


def _wanted_types(event_types: Iterable[AuditEventType | str] | None) -> frozenset[str] | None:
    if event_types is None:
        return None
    if isinstance(event_types, str | Enum):
        event_types = [event_types]
    values = set()
    for item in event_types:
        value = item.value if isinstance(item, Enum) else item
        if not isinstance(value, str):
            raise TypeError(f"event_types holds event types or their names, not {item!r}")
        values.add(value)
    return frozenset(values)


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

    :raises FileNotFoundError: the source does not exist.
    :raises ValueError: no audit file to read, or bad bounds.
    """
    resolved = resolve_source(source, since=since, until=until)
    with _gc_paused():
        if workers is None and engine is None and client is None:
            return _load(resolved, event_types, columns, flatten_metadata, progress)
        from .parallel import load_frame

        return load_frame(
            resolved,
            event_types=event_types,
            columns=columns,
            flatten_metadata=flatten_metadata,
            progress=progress,
            workers=workers,
            engine=engine,
            client=client,
        )


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building (the frame makes no cycles).

    Millions of live containers (rows, metadata dicts) make every full
    collection walk them all; pausing roughly halves the load time.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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
    filled = _fill(
        resolved.files, wanted, ((i, iter_lines(resolved.files[i].path)) for i in indices)
    )
    _warn(resolved.description, filled.skipped, filled.skipped_count, filled.unreadable)
    return _build(filled.table, resolved.files, keep_columns, flatten_metadata)


def _keep_columns(columns: Iterable[str] | None) -> list[str] | None:
    keep_columns = None if columns is None else list(dict.fromkeys(columns))
    if keep_columns is not None and not all(isinstance(c, str) for c in keep_columns):
        raise TypeError("columns must be column names (strings)")
    return keep_columns


@dataclass(slots=True)
class _Filled:
    """Lines read into a table, and what was left out (for the one warning)."""

    table: _Columns
    skipped: list[tuple[str, int]]
    skipped_count: int
    unreadable: list[str]


def _fill(
    files: Sequence[AuditFile],
    wanted: frozenset[str] | None,
    items: Iterable[tuple[int, Iterable[tuple[int, bytes, bool]]]],
) -> _Filled:
    """Read ``(file index, lines)`` pairs into one table (parallel workers call it per chunk).

    A file whose lines raise :class:`OSError` keeps the lines read before and
    is named in ``unreadable``.
    """
    table = _Columns()
    filled = _Filled(table, [], 0, [])
    skipped = filled.skipped

    def flush(index: int, raws: list[bytes], numbers: list[int]) -> None:
        parsed = _parse_batch(raws)
        if parsed is None:
            parsed = _parse_each(raws)
        if _add_uniform(table, parsed, index, numbers, wanted):
            return
        run: list[dict[str, Any]] = []
        run_keys: tuple[str, ...] = ()
        for number, obj in zip(numbers, parsed, strict=True):
            verdict = _accept(obj, wanted)
            if verdict is None:
                filled.skipped_count += 1
                if len(skipped) < 5:
                    skipped.append((files[index].path.name, number))
                continue
            if not verdict:
                continue
            keys = tuple(obj)
            if keys != run_keys:
                if run:
                    table.add_run(run_keys, run)
                run, run_keys = [], keys
            run.append(obj)
            table.files.append(index)
            table.lines.append(number)
        if run:
            table.add_run(run_keys, run)

    for index, lines in items:
        raws: list[bytes] = []
        numbers: list[int] = []
        try:
            for number, raw, _ in lines:
                raws.append(raw)
                numbers.append(number)
                if len(raws) >= BATCH_LINES:
                    flush(index, raws, numbers)
                    raws, numbers = [], []
        except OSError as exc:
            filled.unreadable.append(f"{files[index].path} ({describe_os_error(exc)})")
        if raws:
            flush(index, raws, numbers)
    return filled


def _warn(
    description: str, skipped: list[tuple[str, int]], count: int, unreadable: list[str]
) -> None:
    parts = []
    if count:
        where = ", ".join(f"{name}:{line}" for name, line in skipped)
        more = f" and {count - len(skipped)} more" if count > len(skipped) else ""
        parts.append(f"{count} lines that are not audit events were left out ({where}{more})")
    if unreadable:
        parts.append(f"{len(unreadable)} files could not be read: {'; '.join(unreadable[:3])}")
    if parts:
        warnings.warn(
            f"{'; '.join(parts)}; run verify_audit_log({description!r}) to see every problem",
            AuditLogWarning,
            stacklevel=3,
        )


def _categorical(pd: Any, values: list[Any], enum: type[Enum]) -> Any:
    known = [member.value for member in enum]
    extra = sorted({v for v in values if isinstance(v, str)} - set(known))
    strings = [v if isinstance(v, str) else None for v in values]
    return pd.Categorical(strings, categories=known + extra)


def _convert(pd: Any, name: str, values: list[Any]) -> Any:
    if name == "timestamp":
        strings = [v if isinstance(v, str) else None for v in values]
        return pd.to_datetime(strings, format="ISO8601", utc=True, errors="coerce")
    if name in _CATEGORICAL:
        return _categorical(pd, values, _CATEGORICAL[name])
    if name in _INTEGERS:
        if all(v is None or type(v) is int for v in values):
            try:
                return pd.array(values, dtype="Int64")
            except (OverflowError, TypeError, ValueError):
                pass  # beyond 64 bits: keep the exact Python ints
        return pd.array(values, dtype=object)
    if name in _FLAGS:
        kinds = {type(v) for v in values}
        if kinds <= {bool}:
            return pd.array(values, dtype=bool)
        if kinds <= {bool, type(None)}:
            return pd.array(values, dtype="boolean")
        return pd.array(values, dtype=object)
    if name == "metadata" or name == "regulatory_tags" or name == "error_context":
        return pd.array(values, dtype=object)
    return values


def _build(
    table: _Columns,
    files: Any,
    keep: list[str] | None,
    flatten_metadata: bool,
) -> pd.DataFrame:
    import pandas as pd

    data = table.data
    names = list(data) if keep is None else keep
    out: dict[str, Any] = {}
    flat: dict[str, list[Any]] = {}
    if flatten_metadata and "metadata" in data:
        metadata = data["metadata"]
        keys: dict[str, None] = {}
        for item in metadata:
            if isinstance(item, dict):
                keys.update(dict.fromkeys(item))
        for key in keys:
            flat[f"metadata.{key}"] = [
                item.get(key) if isinstance(item, dict) else None for item in metadata
            ]
    for name in names:
        # Pop each list as it is converted so the lists and arrays never all coexist.
        values = data.pop(name, None)
        if values is None:
            values = [None] * table.rows
        out[name] = _convert(pd, name, values)
        del values
    data.clear()
    out.update(flat)
    paths = [str(f.path) for f in files]
    out["source_file"] = pd.Categorical.from_codes(
        table.files, dtype=pd.CategoricalDtype(categories=paths)
    )
    out["source_line"] = pd.array(table.lines, dtype="int64")
    return pd.DataFrame(out, copy=False)
