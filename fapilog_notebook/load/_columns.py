"""The column model of a loaded frame: typed columns filled batch by batch, then the frame.

Each batch of parsed events is turned into its column's final representation
at once (strings into pandas' string arrays, enum values into category codes,
integers and flags into numpy arrays with a mask), so the parsed objects of a
batch are released before the next is parsed: loading needs little more
memory than the frame itself. A column whose values do not fit its compact
form keeps the exact Python values, and the frame is then built from them
exactly as before: every column gets the dtype (and values) that converting
the whole list at once gives (pinned by
``tests/test_frame.py::test_columns_built_batch_by_batch_equal_the_whole_list_converted_at_once``).

- :class:`_BatchColumns`: one batch's rows as plain lists (the pure reader's staging);
- :class:`_Column`: one column's runs (:data:`Piece`), each in its compact form;
- :class:`_Table`: the columns of everything read so far, and where each row came from;
- :func:`_build_frame`: the DataFrame from a table (dtypes, categories, column order).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from itertools import repeat
from typing import TYPE_CHECKING, Any, TypeAlias

from ..events import AuditEventType, AuditLogLevel, ComplianceLevel

if TYPE_CHECKING:
    import pandas as pd

_CATEGORICAL: dict[str, type[Enum]] = {
    "event_type": AuditEventType,
    "log_level": AuditLogLevel,
    "compliance_level": ComplianceLevel,
}
_FLAGS = ("contains_pii", "contains_phi")
_INTEGERS = ("sequence_number", "process_id")
PROVENANCE = ("source_file", "source_line")


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


#: The public name of :func:`_string_dtype`, for the packages above (``compliance``).
string_dtype = _string_dtype


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


def _keep_columns(columns: Iterable[str] | None) -> list[str] | None:
    keep_columns = None if columns is None else list(dict.fromkeys(columns))
    if keep_columns is not None and not all(isinstance(c, str) for c in keep_columns):
        raise TypeError("columns must be column names (strings)")
    return keep_columns


class _BatchColumns:
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

    def add_batch(self, batch: _BatchColumns, index: int) -> None:
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


def _build_frame(
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
