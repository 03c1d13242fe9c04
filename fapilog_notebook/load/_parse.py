"""The two readers of audit lines into a :class:`._columns._Table`, side by side.

Both halves must give exactly the same table; the pure reader defines it.

- The pure reader (:func:`_fill`'s batches): lines are parsed in batches of
  :data:`LOAD_BATCH_LINES`; a batch is joined into one JSON array
  (``[[line1],\\n[line2],...]``) and parsed by one ``from_json`` call, which
  shares key strings across events and avoids per-call overhead. A batch is
  only accepted when the parse provably maps one array element to each line
  (see :func:`_parse_batch`); otherwise its lines are parsed one by one
  (:func:`_parse_each`), so the result is always exactly what ``json.loads``
  gives for each line.
- The accelerated reader (:func:`_read_accelerated`): when pyarrow is
  importable, a whole file may instead be parsed by its JSON reader; its
  result is used only where it provably equals the pure reader's, otherwise
  (and on any error in it) the file is read by the pure reader.

The tests that pin the two halves together, in ``tests/``:
``test_frame.py::test_the_accelerated_reader_gives_exactly_the_pure_frame``
(every parity case, hostile content included),
``test_frame.py::test_the_accelerator_reads_clean_files_and_declines_doubtful_ones``,
``test_frame.py::test_an_error_in_the_accelerator_only_means_the_pure_reader_reads_the_file``,
``test_frame.py::test_without_pyarrow_the_pure_reader_loads_everything``,
``test_time_and_keys.py::test_flattened_metadata_keeps_large_integers_exact``
(both readers), ``test_review_attacks.py::test_a_line_nested_very_deep_does_not_crash_the_loader``
and ``test_review_attacks.py::test_a_fifo_named_as_an_audit_file_does_not_hang_the_loader``.
``test_frame.py::test_batch_parse_is_exactly_per_line`` pins :func:`_parse_batch`
to ``json.loads`` line by line.
"""

from __future__ import annotations

import os
import re
import stat
import warnings
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from operator import itemgetter
from typing import Any

from pydantic_core import from_json

from ..chain import loads
from ..errors import AuditLogWarning
from ..events import AuditEventType
from ..objstore import ObjectPath
from ..scan import AuditFile, describe_os_error, iter_lines
from ._columns import (
    _BOOL,
    _CATEGORY,
    _DICT,
    _FLAG,
    _GENERIC,
    _INT,
    _INTEGER,
    _NONE,
    _STR,
    _TIME,
    _TIMESTAMP,
    Piece,
    _BatchColumns,
    _role,
    _string_dtype,
    _Table,
)

#: Lines parsed together by one ``from_json`` call in the pure reader.
LOAD_BATCH_LINES = 4096
_SEPARATOR = re.compile(rb"\][ \t\r\n]*,[ \t\r\n]*\[")


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


def _add_uniform(
    table: _BatchColumns,
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
        batch = _BatchColumns()
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
                if len(raws) >= LOAD_BATCH_LINES:
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
