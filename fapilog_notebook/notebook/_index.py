"""The explorer's precomputed view of a frame: each filtered column as arrays, once.

:class:`FrameIndex` turns the columns the explorer filters on into integer
codes, day and nanosecond arrays and :class:`TextIndex` byte buffers when
the explorer is built, so each filter change afterwards is a handful of
numpy operations, even on millions of events.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["SEARCH_COLUMNS", "BoolArray", "Codes", "FrameIndex", "IntArray", "TextIndex", "lookup"]

#: Columns the free-text search looks in, when the frame has them (and the
#: metadata's values, such as ``resource``).
SEARCH_COLUMNS = (
    "message",
    "user_id",
    "client_ip",
    "component",
    "operation",
    "request_id",
    "event_id",
    "session_id",
)

IntArray = np.ndarray[Any, np.dtype[np.int64]]
BoolArray = np.ndarray[Any, np.dtype[np.bool_]]
Codes = tuple[np.ndarray[Any, Any], list[str]]


def _codes(values: pd.Series[Any]) -> tuple[np.ndarray[Any, np.dtype[np.int32]], list[str]]:
    """Integer codes (0 = missing, k = the k-th name) and the names, for fast lookups."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy()
        names = [str(c) for c in values.cat.categories]
    else:
        codes, uniques = pd.factorize(values.astype(object))
        names = [str(u) for u in uniques]
    return (np.asarray(codes, dtype=np.int32) + 1), names


class TextIndex:
    """A case-insensitive substring search over one column, done on its distinct values.

    The distinct values are lowercased and packed into one byte buffer, ``\\x00``
    between values. A query is found with vectorised byte comparisons: the
    positions of its rarest byte first, then the whole query checked eight
    bytes at a time (each 8-byte window of the buffer read as one integer);
    the values it hits are mapped back to rows.
    """

    def __init__(self, values: pd.Series[Any]) -> None:
        self.codes, names = _codes(values)
        self.size = len(names)
        encoded = "\x00".join(names).lower().encode("utf-8", "surrogatepass")
        padded = np.frombuffer(encoded + bytes(8), dtype=np.uint8)
        self.buffer = padded[: len(encoded)]
        # Every 8-byte window of the buffer as one (unaligned) integer.
        self.words: np.ndarray[Any, np.dtype[np.uint64]] = np.ndarray(
            (len(encoded) + 1,), dtype=np.uint64, buffer=padded, strides=(1,)
        )
        self.separators = np.flatnonzero(self.buffer == 0)
        self.value_starts = np.concatenate([[0], self.separators + 1]).astype(np.int64)
        ends = np.concatenate([self.separators, [self.buffer.size]])
        self.nonempty = ends > self.value_starts
        self.histogram = np.bincount(self.buffer, minlength=256)

    def _starts(self, needle: np.ndarray[Any, np.dtype[np.uint8]]) -> IntArray:
        """Buffer positions where ``needle`` begins."""
        width = needle.size
        anchor = int(np.argmin(self.histogram[needle]))
        last = self.buffer.size - width
        starts = np.flatnonzero(self.buffer[anchor : last + anchor + 1] == needle[anchor])
        for offset in range(0, width, 8):
            if not starts.size:
                break
            chunk = np.zeros(8, dtype=np.uint8)
            keep = np.zeros(8, dtype=np.uint8)
            part = needle[offset : offset + 8]
            chunk[: part.size] = part
            keep[: part.size] = 0xFF
            wanted, bits = chunk.view(np.uint64)[0], keep.view(np.uint64)[0]
            starts = starts[(self.words[starts + offset] & bits) == wanted]
        return starts

    def hits(self, query: str) -> BoolArray:
        """Which distinct values contain ``query`` (index 0 stands for missing)."""
        found = np.zeros(self.size + 1, dtype=bool)
        needle = np.frombuffer(query.lower().encode("utf-8", "surrogatepass"), dtype=np.uint8)
        if not needle.size or needle.size > self.buffer.size or 0 in needle:
            return found
        starts = self._starts(needle)
        if starts.size > self.size:
            # Many hits: mark them and reduce per value, cheaper than a search each.
            marks = np.zeros(self.buffer.size, dtype=bool)
            marks[starts] = True
            first = np.minimum(self.value_starts, self.buffer.size - 1)
            found[1:] = np.logical_or.reduceat(marks, first) & self.nonempty
        else:
            found[np.searchsorted(self.separators, starts) + 1] = True
        return found

    def mask(self, query: str) -> BoolArray:
        """Which rows contain ``query``."""
        rows: BoolArray = self.hits(query)[self.codes]
        return rows


def lookup(codes: np.ndarray[Any, Any], names: Sequence[str], chosen: Sequence[str]) -> BoolArray:
    table = np.zeros(len(names) + 1, dtype=bool)
    wanted = set(chosen)
    for index, name in enumerate(names):
        if name in wanted:
            table[index + 1] = True
    rows: BoolArray = table[codes]
    return rows


class FrameIndex:
    """The filtered columns of one frame as arrays, and the caches built on them.

    Attributes: ``day`` and ``ns`` (each row's UTC day and nanosecond, the
    smallest int64 where unknown), ``first_day`` and ``last_day``,
    ``types``, ``levels`` and ``user_codes`` (integer codes and names),
    ``users`` and ``texts`` (:class:`TextIndex` for the user filter and the
    free-text search), ``flags`` (the PHI/PII columns as booleans),
    ``text_cache`` (the last search and its rows) and ``all_per_day`` (the
    events per day, counted on first use).
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        n = len(frame)
        if n and "timestamp" in frame.columns:
            stamps: Any = pd.to_datetime(frame["timestamp"], utc=True).dt.tz_localize(None)
            days = stamps.to_numpy().astype("datetime64[D]")
            valid = ~np.isnat(days)
            self.day = np.where(valid, days.astype(np.int64), np.iinfo(np.int64).min)
            moments = stamps.to_numpy().astype("datetime64[ns]")
            self.ns = np.where(~np.isnat(moments), moments.astype(np.int64), np.iinfo(np.int64).min)
            known = self.day[valid]
            self.first_day = int(known.min()) if known.size else 0
            self.last_day = int(known.max()) if known.size else 0
        else:
            self.day = np.zeros(n, dtype=np.int64)
            self.ns = np.zeros(n, dtype=np.int64)
            self.first_day = self.last_day = 0
        self.types = _column_codes(frame, "event_type")
        self.levels = _column_codes(frame, "log_level")
        self.users = TextIndex(frame["user_id"]) if "user_id" in frame.columns else None
        self.user_codes = _column_codes(frame, "user_id")
        self.texts = [TextIndex(frame[c]) for c in SEARCH_COLUMNS if c in frame.columns]
        if "metadata" in frame.columns:
            self.texts.append(TextIndex(frame["metadata"].map(_metadata_text)))
        self.flags = {
            column: frame[column].fillna(False).to_numpy(dtype=bool)
            for column in ("contains_phi", "contains_pii")
            if column in frame.columns
        }
        self.text_cache: tuple[str, BoolArray] | None = None
        self.all_per_day: IntArray | None = None

    def text_mask(self, text: str) -> BoolArray:
        """Rows whose searched columns contain ``text``; the last search is kept."""
        cached = self.text_cache
        if cached is not None and cached[0] == text:
            return cached[1]
        found = np.zeros(len(self.day), dtype=bool)
        for index in self.texts:
            found |= index.mask(text)
        self.text_cache = (text, found)
        return found

    def per_day(self, mask: BoolArray) -> tuple[IntArray, IntArray] | None:
        """Events per day, all and those in ``mask``; ``None`` for no events or over 3660 days."""
        days = self.last_day - self.first_day + 1
        if not len(self.day) or days > 3660:
            return None
        valid = self.day >= self.first_day
        if self.all_per_day is None:
            self.all_per_day = np.bincount(self.day[valid] - self.first_day, minlength=days)
        matching = np.bincount(self.day[mask & valid] - self.first_day, minlength=days)
        return self.all_per_day, matching


def _column_codes(frame: pd.DataFrame, column: str) -> Codes:
    if column not in frame.columns:
        return np.zeros(len(frame), dtype=np.int32), []
    return _codes(frame[column])


def _metadata_text(value: object) -> str | None:
    """A metadata dict's values as one searchable string (``/patients/42`` ...)."""
    if isinstance(value, dict) and value:
        return " ".join(str(v) for v in value.values())
    return None
