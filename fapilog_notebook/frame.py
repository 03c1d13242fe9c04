"""Load an audit source into a typed pandas DataFrame, fast, one row per event.

Lines are parsed in batches: a batch of lines is joined into one JSON array
(``[[line1],\\n[line2],...]``) and parsed by one ``json.loads`` call, which
shares key strings across events and avoids per-call overhead. A batch is
only accepted when the parse provably maps one array element to each line
(see :func:`_parse_batch`); otherwise its lines are parsed one by one, so
the result is always exactly what ``json.loads`` gives for each line.

Each batch is converted to its columns' final forms at once (see
:class:`_Column`), so the parsed objects of one batch are released before the
next is parsed: loading needs little more memory than the frame itself.

When pyarrow is importable, a file may instead be parsed by its JSON reader;
its result is used only where it provably equals the pure reader's (see
:func:`_read_accelerated`), otherwise the file is read by the pure reader.

The frame is for reading, never for verifying: pandas turns ints into floats
and None into NaN; :func:`fapilog_notebook.verify_audit_log` hashes the bytes.
"""

from __future__ import annotations

import gc
import os
import re
import stat
import warnings
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from itertools import repeat
from operator import itemgetter
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, cast, overload

from pydantic_core import from_json

from ._access import check_access_args, record_access
from ._progress import track
from .chain import loads
from .events import AuditEventType, AuditLogLevel, ComplianceLevel
from .objstore import ObjectPath
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
    import numpy as np
    import pandas as pd

    from .execution import Engine, Workers
    from .verify import VerificationReport
    from .writer import AuditTrail

__all__ = ["AuditLogWarning", "findings_table", "locate_findings", "read_audit_log"]

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
    ``storage_options`` (see :mod:`.objstore`); the workers and Dask workers
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
    with _gc_paused():
        if workers is None and engine is None and client is None:
            frame = _load(resolved, event_types, columns, flatten_metadata, progress)
            if verify:
                return _with_integrity(frame, source, since, until, progress, storage_options)
            return frame
        from .parallel import load_frame

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

    from .verify import verify_audit_log

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
    filled = _fill(resolved.files, wanted, indices)
    _warn(resolved.description, filled.skipped, filled.skipped_count, filled.unreadable)
    return _build(filled.table, resolved.files, keep_columns, flatten_metadata)


def _keep_columns(columns: Iterable[str] | None) -> list[str] | None:
    keep_columns = None if columns is None else list(dict.fromkeys(columns))
    if keep_columns is not None and not all(isinstance(c, str) for c in keep_columns):
        raise TypeError("columns must be column names (strings)")
    return keep_columns


class _Table:
    """The columns of the events read so far, each in its compact form, and where rows came from."""

    __slots__ = ("columns", "files", "lines", "rows")

    def __init__(self) -> None:
        self.columns: dict[str, _Column] = {}
        self.rows = 0
        self.files: list[Any] = []  # numpy arrays of file indices
        self.lines: list[Any] = []  # numpy arrays of line numbers

    def _column(self, name: str) -> _Column:
        column = self.columns.get(name)
        if column is None:
            column = self.columns[name] = _Column(name)
            column.pad(self.rows)
        return column

    def _close(self, rows: int, index: int, lines: Any) -> None:
        import numpy as np

        self.rows += rows
        for column in self.columns.values():
            column.pad(self.rows - column.rows)
        self.files.append(np.full(rows, index, dtype=np.int32))
        self.lines.append(np.asarray(lines, dtype=np.int64))

    def add_batch(self, batch: _Columns, index: int) -> None:
        """Add a batch's rows (all from file ``index``); its lists can be dropped after."""
        if not batch.rows:
            return  # no events kept: its keys make no columns
        for name, values in batch.data.items():
            self._column(name).add(values)
        self._close(batch.rows, index, batch.lines)

    def add_runs(self, rows: int, runs: dict[str, Piece | list[Any]], index: int) -> None:
        """Add a whole file read by the accelerated reader (``runs`` in column order)."""
        import numpy as np

        if not rows:
            return
        for name, run in runs.items():
            column = self._column(name)
            if isinstance(run, list):
                column.add(run)
            else:
                column.put(run)
        self._close(rows, index, np.arange(1, rows + 1, dtype=np.int64))

    def extend(self, other: _Table) -> None:
        """Append another table's rows, as if they had been read after these."""
        if not other.rows:
            return
        for name, column in other.columns.items():
            self._column(name).absorb(column)
        self.rows += other.rows
        for column in self.columns.values():
            column.pad(self.rows - column.rows)
        self.files.extend(other.files)
        self.lines.extend(other.lines)


@dataclass(slots=True)
class _Filled:
    """Lines read into a table, and what was left out (for the one warning)."""

    table: _Table
    skipped: list[tuple[str, int]]
    skipped_count: int
    unreadable: list[str]


def _fill(
    files: Sequence[AuditFile],
    wanted: frozenset[str] | None,
    indices: Iterable[int],
) -> _Filled:
    """Read files ``indices`` (in that order) into one table (parallel workers call it per file).

    A file whose lines raise :class:`OSError` keeps the lines read before and
    is named in ``unreadable``.
    """
    table = _Table()
    filled = _Filled(table, [], 0, [])
    skipped = filled.skipped

    def flush(index: int, raws: list[bytes], numbers: list[int]) -> None:
        batch = _Columns()
        parsed = _parse_batch(raws)
        if parsed is None:
            parsed = _parse_each(raws)
        if _add_uniform(batch, parsed, index, numbers, wanted):
            del parsed
            table.add_batch(batch, index)
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
                    batch.add_run(run_keys, run)
                run, run_keys = [], keys
            run.append(obj)
            batch.files.append(index)
            batch.lines.append(number)
        if run:
            batch.add_run(run_keys, run)
        del parsed, run
        table.add_batch(batch, index)

    for index, read in _accelerated(files, indices, enabled=wanted is None):
        path = files[index].path
        if read is not None:
            table.add_runs(read[0], read[1], index)
            del read
            continue
        raws: list[bytes] = []
        numbers: list[int] = []
        try:
            for number, raw, _ in iter_lines(path):
                raws.append(raw)
                numbers.append(number)
                if len(raws) >= BATCH_LINES:
                    flush(index, raws, numbers)
                    raws, numbers = [], []
        except OSError as exc:
            filled.unreadable.append(f"{path} ({describe_os_error(exc)})")
        if raws:
            flush(index, raws, numbers)
    return filled


def _accelerated(
    files: Sequence[AuditFile], indices: Iterable[int], *, enabled: bool
) -> Iterator[tuple[int, tuple[int, dict[str, Piece | list[Any]]] | None]]:
    """``(index, accelerated read or None)`` for each file, in order.

    pyarrow parses with the GIL released, so the next file is read in a second
    thread while this one's values are converted (at most two files at once).
    """
    if not enabled or _pyarrow_json() is None:
        for index in indices:
            yield index, None
        return
    from concurrent.futures import ThreadPoolExecutor

    _string_dtype()  # cached before the threads start
    pending: deque[tuple[int, Any]] = deque()
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="read_audit_log") as pool:
        try:
            for index in indices:
                pending.append((index, pool.submit(_read_or_decline, files[index].path)))
                if len(pending) > 1:
                    ahead, future = pending.popleft()
                    yield ahead, future.result()
            while pending:
                ahead, future = pending.popleft()
                yield ahead, future.result()
        finally:
            for _, future in pending:
                future.cancel()


def _read_or_decline(path: Any) -> tuple[int, dict[str, Piece | list[Any]]] | None:
    """:func:`_read_accelerated`, declining (to the pure reader) on any error.

    The pure reader defines the frame, so this can only cost time, never
    change the result, whatever a hostile file does to pyarrow.
    """
    try:
        return _read_accelerated(path)
    except Exception:
        return None


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


# ----------------------------------------------------------------- typed columns
#
# Each batch of parsed events is turned into its column's final representation
# at once (strings into pandas' string arrays, enum values into category codes,
# integers and flags into numpy arrays with a mask), so the parsed objects of a
# batch are released before the next is parsed. A column whose values do not
# fit its compact form keeps the exact Python values, and the frame is then
# built from them exactly as before: every column gets the dtype (and values)
# that converting the whole list at once gives.

_NONE, _STR, _OBJ, _INT, _BOOL, _CAT, _DICT, _TIME = range(8)
_TIMESTAMP, _CATEGORY, _INTEGER, _FLAG, _OBJECT, _GENERIC = range(6)
_OBJECTS = frozenset({"metadata", "regulatory_tags", "error_context"})
_NoneType = type(None)
_STR_KINDS = frozenset({str, _NoneType})
_FLAG_KINDS = frozenset({bool, _NoneType})

#: One run of a column: ``(kind, payload, rows)``.
Piece: TypeAlias = tuple[int, Any, int]


def _role(name: str) -> int:
    if name == "timestamp":
        return _TIMESTAMP
    if name in _CATEGORICAL:
        return _CATEGORY
    if name in _INTEGERS:
        return _INTEGER
    if name in _FLAGS:
        return _FLAG
    if name in _OBJECTS:
        return _OBJECT
    return _GENERIC


_string_dtype_cache: list[Any] = []


def _string_dtype() -> Any:
    """The dtype pandas gives a list of strings (and None), or None when that is ``object``."""
    if not _string_dtype_cache:
        import pandas as pd

        dtype = pd.Series(["x", None]).dtype
        _string_dtype_cache.append(dtype if isinstance(dtype, pd.StringDtype) else None)
    return _string_dtype_cache[0]


def _strings(values: list[Any]) -> Piece:
    """A run of strings and None, compact when pandas has a string dtype."""
    dtype = _string_dtype()
    if dtype is None:
        return (_OBJ, values, len(values))
    import pandas as pd

    try:
        return (_STR, pd.array(values, dtype=dtype), len(values))
    except UnicodeEncodeError:
        return (_OBJ, values, len(values))  # a lone surrogate: only Python can hold it


def _materialize(piece: Piece) -> list[Any]:
    """The exact Python values of a run."""
    kind, payload, rows = piece
    if kind == _NONE:
        return [None] * rows
    if kind == _OBJ:
        return list(payload)
    if kind in (_STR, _TIME):
        strings = payload if kind == _STR else payload[1]
        return list(strings.to_numpy(dtype=object, na_value=None))
    values, mask = payload
    out: list[Any] = values.tolist()
    if mask is not None:
        for i in mask.nonzero()[0].tolist():
            out[i] = None
    return out


class _Column:
    """One column's runs, each already in its compact form where one exists."""

    __slots__ = ("codes", "known", "pieces", "role", "rows")

    def __init__(self, name: str) -> None:
        self.role = _role(name)
        self.pieces: list[Piece] = []
        self.rows = 0
        self.codes: dict[str, int] = {}
        if self.role == _CATEGORY:
            self.codes = {member.value: i for i, member in enumerate(_CATEGORICAL[name])}
        self.known = len(self.codes)

    def pad(self, rows: int) -> None:
        if rows <= 0:
            return
        self.rows += rows
        if self.pieces and self.pieces[-1][0] == _NONE:
            self.pieces[-1] = (_NONE, None, self.pieces[-1][2] + rows)
        else:
            self.pieces.append((_NONE, None, rows))

    def put(self, piece: Piece) -> None:
        if piece[0] == _NONE:
            self.pad(piece[2])
            return
        if piece[0] == _DICT:
            strings, indices = piece[1]
            piece = self._encoded(strings, indices, piece[2])
        self.pieces.append(piece)
        self.rows += piece[2]

    def add(self, values: list[Any]) -> None:
        """Add a run of parsed values (exactly as ``json.loads`` gives them)."""
        rows = len(values)
        if not rows:
            return
        role = self.role
        if role == _OBJECT:
            self.put((_OBJ, values, rows))
            return
        kinds = set(map(type, values))
        if kinds == {_NoneType}:
            self.pad(rows)
        elif role == _TIMESTAMP:
            self.put(_strings([v if type(v) is str else None for v in values]))
        elif role == _CATEGORY:
            self.put(self._category(values, kinds))
        elif role == _INTEGER:
            self.put(_integers(values, kinds))
        elif role == _FLAG:
            self.put(_flags(values, kinds))
        elif kinds <= _STR_KINDS:
            self.put(_strings(values))
        else:
            self.put((_OBJ, values, rows))

    def _category(self, values: list[Any], kinds: set[type]) -> Piece:
        import numpy as np

        codes = self.codes
        rows = len(values)
        if kinds <= _STR_KINDS:  # strings and None (the usual case): all hashable
            for value in set(values):
                if value is not None and value not in codes:
                    codes[value] = len(codes)
            array = np.fromiter(map(codes.get, values, repeat(-1)), dtype=np.int32, count=rows)
            return (_CAT, array, rows)
        for value in {v for v in values if type(v) is str}:
            if value not in codes:
                codes[value] = len(codes)
        get = codes.get
        array = np.array([get(v) if type(v) is str else -1 for v in values], dtype=np.int32)
        return (_CAT, array, rows)

    def _encoded(self, strings: list[str], indices: Any, rows: int) -> Piece:
        """Category codes from dictionary-encoded strings (index -1: missing)."""
        import numpy as np

        codes = self.codes
        for value in strings:
            if value not in codes:
                codes[value] = len(codes)
        table = np.array([codes[v] for v in strings] + [-1], dtype=np.int32)
        return (_CAT, table[indices], rows)

    def absorb(self, other: _Column) -> None:
        """Append ``other``'s runs (a column of the same name from another table)."""
        if self.role != _CATEGORY:
            for piece in other.pieces:
                self.put(piece)
            return
        import numpy as np

        for value in other.codes:
            if value not in self.codes:
                self.codes[value] = len(self.codes)
        table = np.array([self.codes[v] for v in other.codes] + [-1], dtype=np.int32)
        for kind, payload, rows in other.pieces:
            self.put((kind, None if kind == _NONE else table[payload], rows))

    def finish(self, pd: Any) -> Any:
        """The column's final values: what converting all its values at once gives."""
        import numpy as np

        role, pieces, rows = self.role, self.pieces, self.rows
        kinds = {piece[0] for piece in pieces}
        if role == _CATEGORY:
            names = list(self.codes)
            known = names[: self.known]
            extra = sorted(names[len(known) :])
            order = {value: i for i, value in enumerate(known + extra)}
            table = np.array([order[v] for v in names] + [-1], dtype=np.int32)
            parts = [
                np.full(n, -1, dtype=np.int32) if kind == _NONE else payload
                for kind, payload, n in pieces
            ]
            codes = table[np.concatenate(parts)] if parts else np.empty(0, dtype=np.int32)
            try:
                dtype = pd.CategoricalDtype(known + extra)
            except UnicodeEncodeError:  # a lone surrogate: keep the categories as objects
                dtype = pd.CategoricalDtype(pd.Index(known + extra, dtype=object))
            return pd.Categorical.from_codes(codes, dtype=dtype)
        if role == _TIMESTAMP:
            if _TIME in kinds and kinds <= {_NONE, _TIME}:
                # Every value a "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" already parsed
                # (in the reader's thread): what ``to_datetime`` makes of them.
                times = np.concatenate(
                    [
                        np.full(n, "NaT", dtype="datetime64[us]") if kind == _NONE else payload[0]
                        for kind, payload, n in pieces
                    ]
                )
                pieces.clear()
                return pd.DatetimeIndex(times).tz_localize("UTC")
            # The strings (None for any other value) as the object array that
            # ``to_datetime`` makes of a list: the same conversion, without the
            # list. A parsed piece converts its strings with the others.
            unparsed = [(_STR, p[1], n) if k == _TIME else (k, p, n) for k, p, n in pieces]
            strings = [
                np.full(n, None, dtype=object)
                if kind == _NONE
                else payload.to_numpy(dtype=object, na_value=None)
                if kind == _STR
                else np.array(payload, dtype=object)
                for kind, payload, n in unparsed
            ]
            pieces.clear()
            return pd.to_datetime(
                np.concatenate(strings) if strings else np.empty(0, dtype=object),
                format="ISO8601",
                utc=True,
                errors="coerce",
            )
        if role == _INTEGER and kinds <= {_NONE, _INT}:
            values, mask = _numbers(pieces, np.int64)
            return pd.arrays.IntegerArray(values, mask)
        if role == _FLAG and kinds <= {_NONE, _BOOL}:
            values, mask = _numbers(pieces, np.bool_)
            if mask.any():
                return pd.arrays.BooleanArray(values, mask)
            return values
        if role == _OBJECT:
            out = np.empty(rows, dtype=object)
            at = 0
            for kind, payload, n in pieces:
                if kind == _NONE:
                    out[at : at + n] = None
                else:
                    out[at : at + n] = _materialize((kind, payload, n)) if kind != _OBJ else payload
                at += n
            return pd.array(out, dtype=object)
        if role == _GENERIC and kinds == {_NONE}:
            # What the frame makes of a list of None (an object column), built faster.
            return np.full(rows, None, dtype=object)
        if role == _GENERIC and kinds <= {_NONE, _STR} and _STR in kinds:
            dtype = _string_dtype()
            arrays = [
                pd.array([None] * n, dtype=dtype) if kind == _NONE else payload
                for kind, payload, n in pieces
            ]
            return type(arrays[0])._concat_same_type(arrays) if len(arrays) > 1 else arrays[0]
        exact: list[Any] = []
        for piece in pieces:
            exact.extend(_materialize(piece))
        pieces.clear()
        return _convert(pd, role, exact)


def _numbers(pieces: list[Piece], dtype: Any) -> tuple[Any, Any]:
    import numpy as np

    values = [np.zeros(n, dtype=dtype) if k == _NONE else p[0] for k, p, n in pieces]
    masks = [
        np.ones(n, dtype=bool)
        if k == _NONE
        else (np.zeros(n, dtype=bool) if p[1] is None else p[1])
        for k, p, n in pieces
    ]
    if not values:
        return np.empty(0, dtype=dtype), np.empty(0, dtype=bool)
    return np.concatenate(values), np.concatenate(masks)


def _integers(values: list[Any], kinds: set[type]) -> Piece:
    import numpy as np

    rows = len(values)
    if kinds <= {int, _NoneType}:
        try:
            if _NoneType in kinds:
                array = np.array([0 if v is None else v for v in values], dtype=np.int64)
                mask = np.array([v is None for v in values], dtype=bool)
            else:
                array, mask = np.array(values, dtype=np.int64), None
            return (_INT, (array, mask), rows)
        except (OverflowError, TypeError, ValueError):
            pass  # beyond 64 bits: keep the exact Python ints
    return (_OBJ, values, rows)


def _flags(values: list[Any], kinds: set[type]) -> Piece:
    import numpy as np

    rows = len(values)
    if kinds <= _FLAG_KINDS:
        array = np.array([v is True for v in values], dtype=bool)
        mask = np.array([v is None for v in values], dtype=bool) if _NoneType in kinds else None
        return (_BOOL, (array, mask), rows)
    return (_OBJ, values, rows)


# ----------------------------------------------------------------- the optional accelerator
#
# When pyarrow is importable, a whole file is parsed by its JSON reader, and
# the result is used only where it provably equals what the pure reader
# gives; a file where anything cannot be shown equal is read by the pure
# reader instead (so the accelerator can change the speed, never the frame):
#
# - every line starts with ``{`` and the reader gives one row per line (it
#   rejects invalid JSON, invalid UTF-8, lone surrogates and duplicate keys,
#   all of which the pure reader leaves out or reads differently), and every
#   row has an integer ``sequence_number``: every line is an event;
# - the columns are exactly the first line's keys, in its order (so the pure
#   reader's first-seen key order is that order);
# - strings, integers, booleans, nulls and lists of those convert to exactly
#   the values ``json.loads`` gives; a top-level float column (where a JSON
#   ``2`` and ``2.0`` would both read as ``2.0``) or a date-like string column
#   (read as timestamps) sends the file to the pure reader;
# - an object column (``metadata``) is a struct whose per-row values lose the
#   key order, key presence and the int/float spelling. Every accepted column
#   holds scalars, lists of scalars or objects of scalars, so in an accepted
#   line the bytes ``"metadata":{`` can only be the top-level member (a quote
#   inside a string is escaped, and no nested object has an object member). A
#   row's value is used only when a pattern anchored there proves the object is
#   exactly the struct's keys, in order, with values of the struct's types
#   (floats spelled as floats); any other row is parsed again by ``json.loads``.

_pyarrow_cache: list[Any] = []
#: The most opening brackets a line handed to pyarrow may hold (see
#: :func:`_read_accelerated`); an event has a handful.
_MAX_OPENINGS = 256
#: A JSON list whose first item is null (maybe inside a string: then the file
#: is merely read by the pure reader).
_LEADING_NULL = r"\[[ \t\r\n]*null"

#: A UTC time as pydantic writes it, with hours, minutes and seconds in range.
_UTC_TIME = (
    r"^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?Z$"
)

_JSON_STRING = rb'"(?:[^"\\]|\\.)*"'
_JSON_VALUE = {
    "string": _JSON_STRING,
    "int64": rb"-?(?:0|[1-9][0-9]*)",
    "bool": rb"true|false",
    "null": rb"null",
    "double": rb"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+(?:[eE][-+]?[0-9]+)?|[eE][-+]?[0-9]+)"
    rb"|NaN|-?Infinity",
}
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_.\-]+")
_SCALAR_LISTS = frozenset({"string", "int64", "bool", "null"})


def _pyarrow_json() -> Any:
    """``pyarrow.json``, or None when pyarrow cannot be imported."""
    if not _pyarrow_cache:
        try:
            import pyarrow.json as pyarrow_json  # type: ignore[import-untyped,unused-ignore]
        except ImportError:
            pyarrow_json = None
        _pyarrow_cache.append(pyarrow_json)
    return _pyarrow_cache[0]


def _read_accelerated(path: Any) -> tuple[int, dict[str, Piece | list[Any]]] | None:
    """A whole file's columns read by pyarrow, or None to read it with the pure reader."""
    pyarrow_json = _pyarrow_json()
    if pyarrow_json is None or isinstance(path, ObjectPath):
        return None  # an object is streamed in bounded reads, never held whole
    try:
        # Non-blocking and regular only: a FIFO named as an audit file must not
        # hang the loader (the pure reader says what it is).
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                return None
            data = handle.read()
    except OSError:
        return None  # the pure reader says what went wrong
    if data[:1] != b"{":
        return None
    import numpy as np
    import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
    import pyarrow.compute as pc  # type: ignore[import-untyped,unused-ignore]

    # Checks over the whole file run outside the GIL (numpy, RE2), so the
    # other file's reader and the main thread go on meanwhile.
    view = np.frombuffer(data, dtype=np.uint8)
    if view.max() >= 0x80 and not _is_utf8(data):
        return None

    newlines = _newlines(data)
    if data.endswith(b"\n"):
        starts = np.concatenate(([0], newlines[:-1] + 1))
    else:
        starts = np.concatenate(([0], newlines + 1))
    rows = len(starts)
    if not (view[starts] == ord("{")).all():
        return None  # a blank line, or one that is not an object
    # pyarrow's parser recurses once per nesting level and crashes the process
    # (a stack overflow, not an exception) on a line nested some thousands deep.
    # A line's depth is at most its count of opening brackets (in strings too),
    # and an accepted file nests two deep, so a line with many is left to the
    # pure reader, which reports it as an exception it handles.
    openings = (view == ord("[")) | (view == ord("{"))
    if np.add.reduceat(openings, starts, dtype=np.int64).max() > _MAX_OPENINGS:
        return None
    del openings
    del view  # it holds ``data``, which is let go of below
    whole = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(),
        1,
        [None, pa.py_buffer(np.array([0, len(data)], dtype=np.int64)), pa.py_buffer(data)],
    )
    leading_null = pc.any(pc.match_substring_regex(whole, _LEADING_NULL)).as_py()
    del whole  # it holds ``data`` too
    if leading_null:
        # pyarrow's JSON reader drops the leading nulls of a list and shifts
        # later values between rows (apache/arrow#51305): not for these files.
        return None
    table = _arrow_table(pyarrow_json, pa, data)
    pa.default_memory_pool().release_unused()  # the parser's scratch memory
    if table is None or table.num_rows != rows:
        return None
    try:
        table.validate(full=True)  # offsets, lengths and values consistent
    except (pa.ArrowException, ValueError):
        return None
    try:
        first = loads(data[: newlines[0] if len(newlines) else len(data)])
    except (ValueError, RecursionError):
        return None
    if type(first) is not dict or set(first) != set(table.column_names):
        return None
    # No key is new after the first line, so the pure reader's columns are in its order.
    table = table.select(list(first))
    sequence = table.column("sequence_number") if "sequence_number" in first else None
    if sequence is None or not pa.types.is_int64(sequence.type) or sequence.null_count:
        return None
    kinds = {name: table.column(name).type for name in table.column_names}
    runs: dict[str, Piece | list[Any]] = {}
    for name, kind in kinds.items():
        if pa.types.is_struct(kind):
            values = _struct_values(name, table.column(name), data, newlines, starts)
            if values is None:
                return None
            runs[name] = values
    del data
    columns = {name: table.column(name) for name in table.column_names}
    del table
    for name, kind in kinds.items():
        column = columns.pop(name)
        role = _role(name)
        if name in runs:
            pass
        elif pa.types.is_null(kind) or column.null_count == rows:
            runs[name] = (_NONE, None, rows)  # every value None, whatever the type
        elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
            dtype = _string_dtype()
            if role in (_GENERIC, _TIMESTAMP) and dtype is not None:
                import pandas as pd

                # pandas stores strings as large_string: the same array it would build.
                strings = pd.array(column.cast(pa.large_string()), dtype=dtype)
                times = _utc_times(column) if role == _TIMESTAMP else None
                if times is None:
                    runs[name] = (_STR, strings, rows)
                else:
                    runs[name] = (_TIME, (times, strings), rows)
            elif role == _CATEGORY:
                encoded = column.combine_chunks().dictionary_encode()
                indices = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
                runs[name] = (_DICT, (encoded.dictionary.to_pylist(), indices), rows)
            else:
                runs[name] = column.to_pylist()
        elif pa.types.is_int64(kind) and role == _INTEGER:
            runs[name] = (_INT, _with_mask(column, 0), rows)
        elif pa.types.is_boolean(kind) and role == _FLAG:
            runs[name] = (_BOOL, _with_mask(column, False), rows)
        elif (
            pa.types.is_int64(kind)
            or pa.types.is_boolean(kind)
            or (pa.types.is_list(kind) and str(kind.value_type) in _SCALAR_LISTS)
        ):
            runs[name] = column.to_pylist()
        else:
            return None  # floats, timestamps, nested lists: the pure reader decides
        del column
    pa.default_memory_pool().release_unused()
    return rows, {name: runs[name] for name in kinds}


def _utc_times(column: Any) -> Any:
    """The times of a string column (NaT for null), parsed here, in the reader's thread.

    Only when every string is ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` and a real
    time (pyarrow refuses 30 February): then pyarrow and ``to_datetime`` read
    the same microseconds. Otherwise None, and the strings are converted with
    the rest of the column.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if not pc.all(pc.match_substring_regex(column, _UTC_TIME)).as_py():
        return None
    try:
        times = pc.cast(column, pa.timestamp("us", "UTC"))
    except (pa.ArrowException, ValueError):
        return None
    return times.to_numpy(zero_copy_only=False).astype("datetime64[us]", copy=False)


def _arrow_table(pyarrow_json: Any, pa: Any, data: bytes) -> Any:
    """``data`` parsed by pyarrow (every type inferred), or None when it cannot be.

    The types only decide how the values are held: the checks that follow
    decide whether the file is read this way at all.
    """
    try:
        return pyarrow_json.read_json(pa.BufferReader(data))
    except (pa.ArrowException, ValueError):
        return None


def _is_utf8(data: bytes) -> bool:
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    step = 1 << 20
    try:
        for at in range(0, len(data), step):
            decoder.decode(data[at : at + step])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _newlines(data: bytes) -> Any:
    """The position of every newline in ``data`` (numpy, a few megabytes at a time)."""
    import numpy as np

    view = np.frombuffer(data, dtype=np.uint8)
    step = 1 << 22
    parts = [np.flatnonzero(view[at : at + step] == 10) + at for at in range(0, len(view), step)]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


def _with_mask(column: Any, fill: Any) -> tuple[Any, Any]:
    import numpy as np

    if not column.null_count:
        return column.to_numpy(), None
    mask = np.asarray(column.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    return column.fill_null(fill).to_numpy(), mask


def _struct_values(
    name: str, column: Any, data: bytes, newlines: Any, starts: Any
) -> list[Any] | None:
    """The exact values of a top-level object column, or None when they cannot be had.

    Valid only in a file whose every column holds scalars, lists of scalars or
    objects of scalars (any other file is declined): then ``"name":{`` in a
    line is its top-level member, and a row's struct value is kept when the
    object there matches a pattern of exactly the struct's keys, in order, with
    values of the struct's types (floats spelled as floats). Any other row that
    has a value is parsed again by ``json.loads``.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc  # type: ignore[import-untyped,unused-ignore]

    fields = [(field.name, str(field.type)) for field in column.type]
    if not _PLAIN_KEY.fullmatch(name) or not all(
        _PLAIN_KEY.fullmatch(f) and t in _JSON_VALUE for f, t in fields
    ):
        return None
    member = b'"' + name.encode() + b'":{'
    body = b",".join(b'"' + f.encode() + b'":(?:' + _JSON_VALUE[t] + b"|null)" for f, t in fields)
    pattern = re.escape(member) + body + rb"\}"
    values: list[Any] = column.to_pylist()
    present = np.asarray(column.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    # One element per line (with its newline): RE2 searches each for the pattern.
    offsets = np.concatenate((starts, [len(data)]))
    lines = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), len(starts), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )
    matched = pc.match_substring_regex(lines, pattern.decode("ascii"))
    proven = np.asarray(matched.to_numpy(zero_copy_only=False), dtype=bool)
    for row in np.flatnonzero(present & ~proven).tolist():
        start = int(newlines[row - 1]) + 1 if row else 0
        stop = int(newlines[row]) if row < len(newlines) else len(data)
        try:
            obj = loads(data[start:stop])
        except (ValueError, RecursionError):
            return None
        if type(obj) is not dict:
            return None
        values[row] = obj.get(name)
    return values


def _convert(pd: Any, role: int, values: list[Any]) -> Any:
    """A whole column from its exact values (the general case of :meth:`_Column.finish`)."""
    if role == _TIMESTAMP:
        strings = [v if isinstance(v, str) else None for v in values]
        return pd.to_datetime(strings, format="ISO8601", utc=True, errors="coerce")
    if role == _INTEGER:
        if all(v is None or type(v) is int for v in values):
            try:
                return pd.array(values, dtype="Int64")
            except (OverflowError, TypeError, ValueError):
                pass  # beyond 64 bits: keep the exact Python ints
        return pd.array(values, dtype=object)
    if role == _FLAG:
        kinds = {type(v) for v in values}
        if kinds <= {bool}:
            return pd.array(values, dtype=bool)
        if kinds <= {bool, type(None)}:
            return pd.array(values, dtype="boolean")
        return pd.array(values, dtype=object)
    if role == _OBJECT:
        return pd.array(values, dtype=object)
    return values


_EXACT_FLOAT = 2**53


def _flat_column(pd: Any, values: list[Any]) -> Any:
    """A flattened metadata column whose integers stay exact.

    Left to pandas, a column of ints with a missing value (an event without
    the key) becomes float64 and rounds every int beyond 2**53. Ints with a
    gap become nullable ``Int64`` (``object`` beyond 64 bits), and ints mixed
    with floats stay ``object`` once one of them is too large for a float.
    Any other column is left to pandas, as before.
    """
    kinds = {type(v) for v in values}
    if int not in kinds or not kinds <= {int, float, type(None)}:
        return values
    if float in kinds:
        big = any(type(v) is int and abs(v) > _EXACT_FLOAT for v in values)
        return pd.array(values, dtype=object) if big else values
    if type(None) not in kinds:
        return values  # int64 (or uint64, or object beyond): exact already
    try:
        return pd.array(values, dtype="Int64")
    except (OverflowError, TypeError, ValueError):
        return pd.array(values, dtype=object)


def _build(
    table: _Table,
    files: Any,
    keep: list[str] | None,
    flatten_metadata: bool,
) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    columns = table.columns
    rows = table.rows
    names = list(columns) if keep is None else keep
    out: dict[str, Any] = {}
    flat: dict[str, list[Any]] = {}
    finished: dict[str, Any] = {}
    if flatten_metadata and "metadata" in columns:
        metadata = finished["metadata"] = columns.pop("metadata").finish(pd)
        keys: dict[str, None] = {}
        for item in metadata:
            if isinstance(item, dict):
                keys.update(dict.fromkeys(item))
        for key in keys:
            flat[f"metadata.{key}"] = _flat_column(
                pd, [item.get(key) if isinstance(item, dict) else None for item in metadata]
            )
    for name in names:
        # Pop each column as it is finished so its runs and its array never all coexist.
        if name in finished:
            out[name] = finished.pop(name)
            continue
        column = columns.pop(name, None)
        if column is None:
            column = _Column(name)
            column.pad(rows)
        out[name] = column.finish(pd)
        del column
    columns.clear()
    finished.clear()
    out.update(flat)
    paths = [str(f.path) for f in files]
    codes = np.concatenate(table.files) if table.files else np.empty(0, dtype=np.int32)
    lines = np.concatenate(table.lines) if table.lines else np.empty(0, dtype=np.int64)
    out["source_file"] = pd.Categorical.from_codes(
        codes, dtype=pd.CategoricalDtype(categories=paths)
    )
    out["source_line"] = pd.array(lines, dtype="int64")
    try:
        return pd.DataFrame(out, copy=False)
    except UnicodeEncodeError:
        # A string with a lone surrogate (valid JSON) cannot be stored as a
        # pandas string: keep the columns that would be inferred as objects.
        for name, values in out.items():
            if isinstance(values, list) or str(getattr(values, "dtype", "")) == "object":
                out[name] = pd.Series(values, dtype=object)
        return pd.DataFrame(out, copy=False)


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
