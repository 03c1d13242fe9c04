"""The audit explorer: filter, page through and check an audit trail in a notebook.

:func:`explore` loads a source (or takes a loaded frame) and returns an
:class:`AuditExplorer`, an ipywidgets box that opens with the integrity
verdict in view (verified on demand when no report is given), then filters
(date and time of day, event types with their counts, log levels, PHI/PII,
user, free text over message, user, client IP, resource and ids), the
events per day, per-user and per-type summaries of the selection, export of
the selected rows (CSV, and Excel with openpyxl), and a table of the
matching events, 50 a page, with rows that have findings marked. Choosing a
finding shows its event.

Filtering stays fast on millions of events: the explorer turns each column
it filters on into integer codes or a lowercase byte buffer once, and each
filter change is a handful of numpy operations. Widget values survive a
re-run of the cell (they are restored for the same source), and observers
are guarded so that changes the explorer makes itself trigger no refresh.
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import numpy as np
import pandas as pd

from .objstore import is_url

if TYPE_CHECKING:
    from .verify import VerificationReport
    from .writer import AuditTrail

__all__ = ["PAGE_SIZE", "AuditExplorer", "TextIndex", "explore"]

#: Rows per page of the events table.
PAGE_SIZE = 50
#: Columns the table shows, when the frame has them.
TABLE_COLUMNS = (
    "timestamp",
    "sequence_number",
    "event_type",
    "log_level",
    "user_id",
    "component",
    "message",
    "source_file",
    "source_line",
)
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
#: The choices of the sensitive-data filter and the flag columns each keeps.
SENSITIVE_CHOICES = {
    "any": (),
    "PHI": ("contains_phi",),
    "PII": ("contains_pii",),
    "PHI or PII": ("contains_phi", "contains_pii"),
}
_TABLE_CSS = (
    "<style>"
    ".fapilog-events{font-size:12px;border-collapse:collapse}"
    ".fapilog-events th,.fapilog-events td{padding:3px 10px 3px 4px;text-align:left;"
    "vertical-align:top;border-bottom:1px solid #d0d7de;white-space:nowrap}"
    ".fapilog-events td.message{white-space:normal;min-width:16em}"
    ".fapilog-events tr.flagged{background:#ffebe9}"
    ".fapilog-events tr.flagged td.integrity{color:#cf222e;font-weight:bold}"
    ".fapilog-events tr.highlight{background:#fff8c5;outline:2px solid #bf8700}"
    "</style>"
)
_SEVERITY_COLORS = {"error": "#cf222e", "warning": "#bf8700", "info": "#0969da"}
#: Filter values per source, restored when the explorer is rebuilt for it.
_SAVED: dict[str, dict[str, Any]] = {}

IntArray = np.ndarray[Any, np.dtype[np.int64]]
BoolArray = np.ndarray[Any, np.dtype[np.bool_]]


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


def _lookup(codes: np.ndarray[Any, Any], names: Sequence[str], chosen: Sequence[str]) -> BoolArray:
    table = np.zeros(len(names) + 1, dtype=bool)
    wanted = set(chosen)
    for index, name in enumerate(names):
        if name in wanted:
            table[index + 1] = True
    rows: BoolArray = table[codes]
    return rows


def _source_key(source: object) -> str:
    if isinstance(source, pd.DataFrame):
        first = str(source["event_id"].iloc[0]) if len(source) and "event_id" in source else ""
        return f"frame:{len(source)}:{first}"
    if is_url(source):
        return str(source)
    if isinstance(source, (str, os.PathLike)):
        return os.path.abspath(os.fspath(source))
    return repr(source)


def _verify_target(source: object, frame: pd.DataFrame) -> Any:
    """What to hand the verifier: the source itself, or the files a frame came from."""
    if not isinstance(source, pd.DataFrame):
        return source
    if "source_file" not in frame.columns:
        return None
    files = sorted({str(f) for f in frame["source_file"].dropna().unique()})
    return [f if is_url(f) else Path(f) for f in files] or None


def _cell(value: object) -> str:
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float) and np.isnan(value):
        return ""
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M:%S" + (".%f" if value.microsecond else ""))
    if isinstance(value, str) and len(value) > 160:
        value = value[:157] + "..."
    return html.escape(str(value))


def _day_chart_svg(first_day: int, everything: IntArray, matching: IntArray) -> str:
    """An SVG bar chart of events per day, matching events drawn over all events."""
    width, height, left, bottom, right = 720, 150, 48, 22, 64
    days = everything.size
    top = max(int(everything.max()), 1)
    step = (width - left - right) / days
    bar = max(step * 0.8, 1.0)
    scale = (height - bottom - 8) / top
    epoch = date(1970, 1, 1)
    parts = [
        f"<svg class='fapilog-per-day' xmlns='http://www.w3.org/2000/svg' width='{width}' "
        f"height='{height}' font-size='10' font-family='sans-serif'>",
        f"<text x='2' y='12'>{top:,}</text><text x='2' y='{height - bottom}'>0</text>",
    ]
    for index in range(days):
        x = left + index * step
        day = (epoch + timedelta(days=first_day + index)).isoformat()
        for count, color in (
            (int(everything[index]), "#d0d7de"),
            (int(matching[index]), "#0969da"),
        ):
            if count:
                h = max(count * scale, 2.0)  # a small count stays visible beside a large one
                parts.append(
                    f"<rect x='{x:.1f}' y='{height - bottom - h:.1f}' width='{bar:.1f}' "
                    f"height='{h:.1f}' fill='{color}'><title>{day}: {count:,}</title></rect>"
                )
    labels = max(1, days // 8)
    for index in range(0, days, labels):
        day = (epoch + timedelta(days=first_day + index)).isoformat()
        parts.append(f"<text x='{left + index * step:.1f}' y='{height - 6}'>{day}</text>")
    # The right margin leaves room for the last label (about 60 px at this size).
    parts.append("</svg>")
    return "".join(parts)


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _metadata_text(value: object) -> str | None:
    """A metadata dict's values as one searchable string (``/patients/42`` ...)."""
    if isinstance(value, dict) and value:
        return " ".join(str(v) for v in value.values())
    return None


def _ns_of(day: date, moment: time) -> int:
    """Nanoseconds since the epoch of ``day`` at ``moment`` (UTC)."""
    return int(pd.Timestamp(datetime.combine(day, moment)).value)


def _has_openpyxl() -> bool:
    """Whether Excel export is possible (openpyxl is optional)."""
    import importlib.util

    return importlib.util.find_spec("openpyxl") is not None


def _plain_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as spreadsheets take it: naive UTC times, dicts and lists as JSON text."""
    import json

    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            out[column] = values.dt.tz_convert("UTC").dt.tz_localize(None)
        elif values.dtype == object:
            out[column] = values.map(
                lambda v: json.dumps(v, default=str) if isinstance(v, (dict, list)) else v
            )
    return out


class AuditExplorer(widgets.VBox):  # type: ignore[misc]
    """The explorer widget; build it with :func:`explore`.

    Attributes other code (and tests) can drive: ``since``, ``until``,
    ``since_time``, ``until_time``, ``event_types``, ``log_levels``,
    ``sensitive``, ``user``, ``search``, ``reset_button``, ``verify_button``,
    ``findings_list``, ``show_finding_button``, ``prev_button``,
    ``next_button``, ``export_csv_button``, ``export_excel_button``; and read:
    ``badge``, ``status``, ``summary``, ``table``, ``chart``, ``page``,
    ``matching`` (positions of the matching rows in ``frame``), ``flagged``
    (row -> finding kinds), ``report``, ``last_export``.
    """

    def __init__(
        self,
        frame: pd.DataFrame,
        *,
        source: object = None,
        report: VerificationReport | None = None,
        title: str | None = None,
        restore: bool = True,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(layout=widgets.Layout(width="100%"))
        self.frame = frame.reset_index(drop=True)
        self.source = source
        self._storage_options = dict(storage_options) if storage_options else None
        self.report: VerificationReport | None = None
        self.page = 0
        self.highlight: int | None = None
        self._quiet = 0
        self._key = _source_key(source if source is not None else frame)
        self._text_cache: tuple[str, BoolArray] | None = None
        self._finding_rows: IntArray = np.zeros(0, dtype=np.int64)
        self._all_per_day: IntArray | None = None
        self.flagged: dict[int, str] = {}
        self.last_export: Path | None = None
        self.export_dir: Path | None = None
        self._index_frame()
        self.matching: IntArray = np.arange(len(self.frame), dtype=np.int64)
        self._mask: BoolArray = np.ones(len(self.frame), dtype=bool)
        self._build(title)
        if restore:
            self._restore()
        self.set_report(report)
        self.refresh()

    # ------------------------------------------------------------ precomputation

    def _index_frame(self) -> None:
        """Turn the filtered columns into arrays once, so each filter is numpy work."""
        frame = self.frame
        n = len(frame)
        if n and "timestamp" in frame.columns:
            stamps: Any = pd.to_datetime(frame["timestamp"], utc=True).dt.tz_localize(None)
            days = stamps.to_numpy().astype("datetime64[D]")
            valid = ~np.isnat(days)
            self._day = np.where(valid, days.astype(np.int64), np.iinfo(np.int64).min)
            moments = stamps.to_numpy().astype("datetime64[ns]")
            self._ns = np.where(
                ~np.isnat(moments), moments.astype(np.int64), np.iinfo(np.int64).min
            )
            known = self._day[valid]
            self._first_day = int(known.min()) if known.size else 0
            self._last_day = int(known.max()) if known.size else 0
        else:
            self._day = np.zeros(n, dtype=np.int64)
            self._ns = np.zeros(n, dtype=np.int64)
            self._first_day = self._last_day = 0
        self._types = self._column_codes("event_type")
        self._levels = self._column_codes("log_level")
        self._users = TextIndex(frame["user_id"]) if "user_id" in frame.columns else None
        self._user_codes = self._column_codes("user_id")
        self._texts = [TextIndex(frame[c]) for c in SEARCH_COLUMNS if c in frame.columns]
        if "metadata" in frame.columns:
            self._texts.append(TextIndex(frame["metadata"].map(_metadata_text)))
        self._flags = {
            column: frame[column].fillna(False).to_numpy(dtype=bool)
            for column in ("contains_phi", "contains_pii")
            if column in frame.columns
        }

    def _column_codes(self, column: str) -> tuple[np.ndarray[Any, Any], list[str]]:
        if column not in self.frame.columns:
            return np.zeros(len(self.frame), dtype=np.int32), []
        return _codes(self.frame[column])

    # ------------------------------------------------------------ layout

    def _counted_options(self, codes: tuple[np.ndarray[Any, Any], list[str]]) -> list[Any]:
        """(``"name (count)"``, name) for each value present, most frequent first."""
        counts = np.bincount(codes[0], minlength=len(codes[1]) + 1)[1:]
        order = sorted(range(len(codes[1])), key=lambda i: (-counts[i], codes[1][i]))
        return [(f"{codes[1][i]} ({counts[i]:,})", codes[1][i]) for i in order if counts[i]]

    def _build(self, title: str | None) -> None:
        first = date.fromordinal(date(1970, 1, 1).toordinal() + self._first_day)
        last = date.fromordinal(date(1970, 1, 1).toordinal() + self._last_day)
        wide = widgets.Layout(width="220px")
        narrow = widgets.Layout(width="150px")
        self.since = widgets.DatePicker(description="from", value=first, layout=wide)
        self.until = widgets.DatePicker(description="to", value=last, layout=wide)
        self.since_time = widgets.TimePicker(description="at", value=None, layout=narrow)
        self.until_time = widgets.TimePicker(description="at", value=None, layout=narrow)
        self._default_range = (first, last)
        self.event_types = widgets.SelectMultiple(
            options=self._counted_options(self._types), description="event types", rows=6
        )
        self.log_levels = widgets.SelectMultiple(
            options=self._counted_options(self._levels), description="log levels", rows=6
        )
        self.sensitive = widgets.Dropdown(
            options=[c for c in SENSITIVE_CHOICES if c == "any" or self._flags],
            value="any",
            description="PHI/PII",
            layout=wide,
        )
        self.user = widgets.Text(
            description="user", placeholder="part of a user id", continuous_update=False
        )
        self.search = widgets.Text(
            description="search",
            placeholder="message, user, IP, resource, ids",
            continuous_update=False,
        )
        hint = widgets.HTML("<small>Press Enter in a text box to apply it.</small>")
        self.reset_button = widgets.Button(description="Reset filters", icon="undo")
        self.summary = widgets.HTML()
        self.export_csv_button = widgets.Button(description="Export CSV", icon="download")
        self.export_excel_button = widgets.Button(
            description="Export Excel", icon="download", disabled=not _has_openpyxl()
        )
        if self.export_excel_button.disabled:
            self.export_excel_button.tooltip = "install openpyxl to export Excel files"
        self.badge = widgets.HTML()
        self.verify_button = widgets.Button(description="Verify", icon="check")
        self.findings_list = widgets.Select(options=[], rows=6, layout=widgets.Layout(width="100%"))
        self.show_finding_button = widgets.Button(description="Show its event", icon="search")
        self.status = widgets.HTML()
        self.chart = widgets.HTML()
        self.table = widgets.HTML()
        self.prev_button = widgets.Button(description="Previous", icon="arrow-left")
        self.next_button = widgets.Button(description="Next", icon="arrow-right")
        self.page_label = widgets.HTML()

        for control in (
            self.since,
            self.until,
            self.since_time,
            self.until_time,
            self.event_types,
            self.log_levels,
            self.sensitive,
        ):
            control.observe(self._on_filter, names="value")
        for control in (self.user, self.search):
            control.observe(self._on_filter, names="value")
        self.reset_button.on_click(lambda _: self.reset_filters())
        self.verify_button.on_click(lambda _: self.verify())
        self.findings_list.observe(self._on_finding, names="value")
        self.show_finding_button.on_click(lambda _: self.show_finding())
        self.prev_button.on_click(lambda _: self.go_to_page(self.page - 1))
        self.next_button.on_click(lambda _: self.go_to_page(self.page + 1))
        self.export_csv_button.on_click(lambda _: self._export_clicked("csv"))
        self.export_excel_button.on_click(lambda _: self._export_clicked("xlsx"))

        heading = html.escape(title or self._describe_source())
        filters = widgets.HBox(
            [
                widgets.VBox(
                    [
                        widgets.HBox([self.since, self.since_time]),
                        widgets.HBox([self.until, self.until_time]),
                        self.sensitive,
                        self.user,
                        self.search,
                        hint,
                        self.reset_button,
                    ]
                ),
                self.event_types,
                self.log_levels,
            ]
        )
        findings = widgets.VBox([self.findings_list, self.show_finding_button])
        selection = widgets.VBox(
            [self.summary, widgets.HBox([self.export_csv_button, self.export_excel_button])]
        )
        pager = widgets.HBox([self.prev_button, self.page_label, self.next_button])
        self.sections = widgets.Accordion(
            children=[filters, findings, selection],
            titles=("Filters", "Findings", "Selection: summary and export"),
            selected_index=0,
        )
        self.children = [
            widgets.HTML(f"<h3>Audit trail: {heading}</h3>"),
            # The verdict is never folded away in a collapsed section.
            widgets.HBox([self.badge, self.verify_button]),
            self.sections,
            self.status,
            self.chart,
            pager,
            self.table,
        ]

    def __repr__(self) -> str:
        verdict = "not verified" if self.report is None else self.report.verdict
        return (
            f"<AuditExplorer {self._describe_source()!r}: {self.matching.size:,} of "
            f"{len(self.frame):,} events match; {verdict}>"
        )

    def _describe_source(self) -> str:
        if isinstance(self.source, (str, os.PathLike)):
            return os.fspath(self.source)
        return f"{len(self.frame):,} events"

    # ------------------------------------------------------------ state

    @contextmanager
    def _muted(self) -> Iterator[None]:
        """Changes made inside do not trigger the filter observers."""
        self._quiet += 1
        try:
            yield
        finally:
            self._quiet -= 1

    def _state(self) -> dict[str, Any]:
        return {
            "since": self.since.value,
            "until": self.until.value,
            "since_time": self.since_time.value,
            "until_time": self.until_time.value,
            "sensitive": self.sensitive.value,
            "event_types": tuple(self.event_types.value),
            "log_levels": tuple(self.log_levels.value),
            "user": self.user.value,
            "search": self.search.value,
            "page": self.page,
        }

    def _restore(self) -> None:
        saved = _SAVED.get(self._key)
        if not saved:
            return
        with self._muted():
            self.since.value = saved["since"]
            self.until.value = saved["until"]
            self.since_time.value = saved["since_time"]
            self.until_time.value = saved["until_time"]
            if saved["sensitive"] in self.sensitive.options:
                self.sensitive.value = saved["sensitive"]
            for control, key in (
                (self.event_types, "event_types"),
                (self.log_levels, "log_levels"),
            ):
                present = {value for _, value in control.options}
                control.value = tuple(v for v in saved[key] if v in present)
            self.user.value = saved["user"]
            self.search.value = saved["search"]
        self.page = int(saved.get("page", 0))

    def _on_filter(self, change: dict[str, Any]) -> None:
        if self._quiet:
            return
        self.page = 0
        self.highlight = None
        self.refresh()

    def reset_filters(self) -> None:
        """Clear every filter (one refresh, not one per widget)."""
        with self._muted():
            self.since.value, self.until.value = self._default_range
            self.since_time.value = self.until_time.value = None
            self.sensitive.value = "any"
            self.event_types.value = ()
            self.log_levels.value = ()
            self.user.value = ""
            self.search.value = ""
        self.page = 0
        self.refresh()

    # ------------------------------------------------------------ filtering

    def compute_mask(self) -> BoolArray:
        """Which rows the current filter values keep."""
        mask = np.ones(len(self.frame), dtype=bool)
        since, until = self.since.value, self.until.value
        epoch = date(1970, 1, 1)
        since_time, until_time = self.since_time.value, self.until_time.value
        if since is not None and since_time is not None:
            mask &= self._ns >= _ns_of(since, since_time)
        elif since is not None and since != self._default_range[0]:
            mask &= self._day >= (since - epoch).days
        if until is not None and until_time is not None:
            mask &= self._ns <= _ns_of(until, until_time) + 59_999_999_999  # the whole minute
        elif until is not None and until != self._default_range[1]:
            mask &= self._day <= (until - epoch).days
        flags = SENSITIVE_CHOICES.get(self.sensitive.value, ())
        if flags:
            either = np.zeros(len(self.frame), dtype=bool)
            for column in flags:
                if column in self._flags:
                    either |= self._flags[column]
            mask &= either
        if self.event_types.value:
            mask &= _lookup(self._types[0], self._types[1], self.event_types.value)
        if self.log_levels.value:
            mask &= _lookup(self._levels[0], self._levels[1], self.log_levels.value)
        user = self.user.value.strip()
        if user and self._users is not None:
            mask &= self._users.mask(user)
        text = self.search.value.strip()
        if text:
            mask &= self._text_mask(text)
        return mask

    def _text_mask(self, text: str) -> BoolArray:
        cached = self._text_cache
        if cached is not None and cached[0] == text:
            return cached[1]
        found = np.zeros(len(self.frame), dtype=bool)
        for index in self._texts:
            found |= index.mask(text)
        self._text_cache = (text, found)
        return found

    def refresh(self) -> None:
        """Apply the filters and redraw the count, the chart and the table."""
        self._mask = self.compute_mask()
        self.matching = np.flatnonzero(self._mask)
        _SAVED[self._key] = self._state()
        total = len(self.frame)
        self.status.value = f"<b>{self.matching.size:,}</b> of {total:,} events match" + (
            "" if self.matching.size else " &mdash; loosen a filter"
        )
        self._draw_chart()
        self._draw_summary()
        self.go_to_page(self.page)

    def _draw_summary(self) -> None:
        """Events per user and per event type among the matching rows (top 10 each)."""
        tables = []
        for title, (codes, names) in (("user", self._user_codes), ("event type", self._types)):
            if not names:
                continue
            counts = np.bincount(codes[self._mask], minlength=len(names) + 1)
            order = [i for i in np.argsort(-counts[1:], kind="stable")[:10] if counts[i + 1]]
            rows = "".join(
                f"<tr><td>{html.escape(names[i])}</td><td style='text-align:right'>"
                f"{counts[i + 1]:,}</td></tr>"
                for i in order
            )
            if counts[0]:
                rows += (
                    f"<tr><td><i>none</i></td><td style='text-align:right'>{counts[0]:,}</td></tr>"
                )
            tables.append(
                "<table class='fapilog-events' style='margin-right:24px'>"
                f"<thead><tr><th>{title}</th><th>events</th></tr></thead><tbody>{rows}</tbody>"
                "</table>"
            )
        self.summary.value = (
            f"{_TABLE_CSS}<div class='fapilog-summary' style='display:flex;flex-wrap:wrap'>"
            f"{''.join(tables)}</div>"
        )

    # ------------------------------------------------------------ chart and table

    def _draw_chart(self) -> None:
        """Events per day as an inline SVG bar chart: all events in grey, matching in blue.

        SVG built from the day counts takes a millisecond, where a matplotlib
        redraw takes hundreds, so the chart follows every filter change.
        """
        days = self._last_day - self._first_day + 1
        if not len(self.frame) or days > 3660:
            self.chart.value = ""
            return
        valid = self._day >= self._first_day
        if self._all_per_day is None:
            self._all_per_day = np.bincount(self._day[valid] - self._first_day, minlength=days)
        matching = np.bincount(self._day[self._mask & valid] - self._first_day, minlength=days)
        self.chart.value = _day_chart_svg(self._first_day, self._all_per_day, matching)

    @property
    def pages(self) -> int:
        """Number of pages of matching events (at least 1)."""
        return max(1, -(-self.matching.size // PAGE_SIZE))

    def go_to_page(self, page: int) -> None:
        """Show page ``page`` (0-based, clamped) of the matching events."""
        self.page = min(max(0, page), self.pages - 1)
        if self._key in _SAVED:
            _SAVED[self._key]["page"] = self.page
        rows = self.matching[self.page * PAGE_SIZE : (self.page + 1) * PAGE_SIZE]
        self.page_label.value = f"&nbsp;page {self.page + 1} of {self.pages}&nbsp;"
        self.prev_button.disabled = self.page == 0
        self.next_button.disabled = self.page >= self.pages - 1
        self.table.value = self._table_html(rows)

    def _table_html(self, rows: IntArray) -> str:
        columns = [c for c in TABLE_COLUMNS if c in self.frame.columns]
        if not rows.size:
            return "<p><i>No events match.</i></p>"
        marked = bool(self.flagged)
        part = self.frame.iloc[rows][columns]
        if "timestamp" in part.columns:
            part = part.assign(timestamp=pd.to_datetime(part["timestamp"], utc=True))
        if "source_file" in part.columns:
            part = part.assign(source_file=part["source_file"].map(lambda f: PurePath(f).name))
        shown = ("#", *(["integrity"] if marked else []), *columns)
        head = "".join(f"<th>{html.escape(c)}</th>" for c in shown)
        body = []
        for position, values in zip(rows.tolist(), part.itertuples(index=False), strict=True):
            kinds = self.flagged.get(position, "")
            # Inline styles as well as classes: a front end may drop the <style> block.
            style = ""
            if position == self.highlight:
                style = " style='background:#fff8c5;outline:2px solid #bf8700'"
            elif kinds:
                style = " style='background:#ffebe9'"
            classes = ["flagged"] if kinds else []
            if position == self.highlight:
                classes.append("highlight")
            klass = f" class='{' '.join(classes)}'" if classes else ""
            cells = "".join(
                f"<td class='{c}'>{_cell(v)}</td>" for c, v in zip(columns, values, strict=True)
            )
            flag = f"<td class='integrity'>{html.escape(kinds)}</td>" if marked else ""
            body.append(
                f"<tr data-row='{position}'{style}{klass}><td>{position}</td>{flag}{cells}</tr>"
            )
        return (
            f"{_TABLE_CSS}<div style='overflow-x:auto'><table class='fapilog-events'>"
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
        )

    # ------------------------------------------------------------ export

    def selected_rows(self) -> pd.DataFrame:
        """The matching rows, as a frame (what the export buttons write)."""
        return self.frame.iloc[self.matching]

    def export(self, path: str | os.PathLike[str]) -> Path:
        """Write the matching rows to ``path``: ``.csv``, or ``.xlsx`` (needs openpyxl).

        Timestamps are written in UTC; metadata dicts as JSON text.
        """
        target = Path(path)
        rows = _plain_frame(self.selected_rows())
        suffix = target.suffix.lower()
        if suffix == ".csv":
            rows.to_csv(target, index=False)
        elif suffix == ".xlsx":
            if not _has_openpyxl():
                raise ImportError("exporting to Excel needs openpyxl: pip install openpyxl")
            rows.to_excel(target, index=False, sheet_name="audit events")
        else:
            raise ValueError(f"export to a .csv or .xlsx file, not {target.name!r}")
        self.last_export = target
        return target

    def _export_clicked(self, suffix: str) -> None:
        folder = self.export_dir or Path.cwd()
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        try:
            target = self.export(folder / f"audit-selection-{stamp}.{suffix}")
        except (OSError, ImportError, ValueError) as exc:
            self.status.value = f"Export failed: {html.escape(str(exc))}"
            return
        self.status.value = (
            f"Exported {self.matching.size:,} events to <code>{html.escape(str(target))}</code>"
        )

    # ------------------------------------------------------------ integrity

    def set_report(self, report: VerificationReport | None) -> None:
        """Show ``report``: the badge and one entry per finding."""
        self.report = report
        self.flagged = self._integrity_column()
        if report is None:
            self.badge.value = (
                "<span style='background:#6e7781;color:white;padding:2px 10px;"
                "border-radius:10px'>not verified</span>"
            )
            self.verify_button.description = "Verify"
            with self._muted():
                self.findings_list.options = []
            self._finding_rows = np.zeros(0, dtype=np.int64)
            return
        from .frame import locate_findings

        counts = report.counts
        color = "#1a7f37" if report.valid else "#cf222e"
        self.badge.value = (
            f"<span style='background:{color};color:white;padding:2px 10px;"
            f"border-radius:10px;font-weight:bold'>{report.verdict}</span> "
            f"{report.events_checked:,} events checked; {_plural(counts['error'], 'error')}, "
            f"{_plural(counts['warning'], 'warning')}, {counts['info']} info"
        )
        self.verify_button.description = "Verify again"
        self._finding_rows = locate_findings(report.findings, self.frame)
        for row, kind in zip(self._finding_rows.tolist(), report.findings["kind"], strict=True):
            if row >= 0:
                known = set(filter(None, self.flagged.get(row, "").split(", ")))
                self.flagged[row] = ", ".join(sorted(known | {str(kind)}))
        options: list[tuple[str, int]] = []
        for number, finding in enumerate(report.finding_list):
            where = PurePath(finding.file).name if finding.file else "-"
            if finding.line is not None:
                where += f":{finding.line}"
            label = f"{finding.severity.value.upper()} {finding.kind.value} {where}: "
            options.append(((label + finding.message)[:200], number))
        with self._muted():
            self.findings_list.options = options
            self.findings_list.value = None
        if not report.valid:
            self.sections.selected_index = 1  # open on the findings

    def _integrity_column(self) -> dict[int, str]:
        """Row -> finding kinds, from an ``integrity`` column (``read_audit_log(verify=True)``)."""
        if "integrity" not in self.frame.columns:
            return {}
        values = self.frame["integrity"].fillna("").astype(str).to_numpy()
        return {int(i): str(values[i]) for i in np.flatnonzero(values != "")}

    def verify(self) -> VerificationReport | None:
        """Verify the source now and show the result."""
        target = _verify_target(self.source, self.frame)
        if target is None:
            self.status.value = "Nothing to verify: the frame does not say which files it holds."
            return None
        from .verify import verify_audit_log

        self.set_report(
            verify_audit_log(target, progress=False, storage_options=self._storage_options)
        )
        return self.report

    def _on_finding(self, change: dict[str, Any]) -> None:
        if self._quiet or change["new"] is None:
            return
        self.show_finding(int(change["new"]))

    def show_finding(self, number: int | None = None) -> int | None:
        """Show the page of the event finding ``number`` points at; return its row.

        Defaults to the finding selected in the list. When the filters hide
        that event they are cleared first.
        """
        if number is None:
            number = self.findings_list.value
        if number is None or not 0 <= number < self._finding_rows.size:
            return None
        row = int(self._finding_rows[number])
        if row < 0:
            self.status.value = "This finding points at no loaded event (e.g. a whole file)."
            return None
        if not self._mask[row]:
            self.reset_filters()
        self.highlight = row
        rank = int(np.searchsorted(self.matching, row))
        self.go_to_page(rank // PAGE_SIZE)
        return row


def explore(
    source: Any,
    *,
    report: VerificationReport | None = None,
    auto_display: bool = False,
    restore: bool = True,
    access_log: AuditTrail | None = None,
    user_id: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> AuditExplorer:
    """Open the explorer on ``source``: a directory, a file, a list of files or a frame.

    ``source`` may be an fsspec URL (``s3://bucket/prefix/``, ...) read in
    place with ``storage_options``; the *Verify* button reads it there too.

    A frame must come from :func:`fapilog_notebook.read_audit_log` (or have
    its columns). Give ``report`` to show a verification you already ran;
    otherwise the *Verify* button runs one. The widget displays itself when
    it is the cell's result, or now with ``auto_display=True``. Filter values
    are restored when the explorer is rebuilt for the same source
    (``restore=False`` starts clean). ``access_log`` (an ``AuditTrail``)
    records an ``audit_log_access`` event: who (``user_id``, default the OS
    user) explored what.
    """
    from ._access import record_access

    record_access(access_log, action="explore", source=source, user_id=user_id)
    if isinstance(source, pd.DataFrame):
        frame = source
    else:
        from .frame import read_audit_log

        frame = read_audit_log(source, progress=None, storage_options=storage_options)
    explorer = AuditExplorer(
        frame, source=source, report=report, restore=restore, storage_options=storage_options
    )
    if auto_display:
        from IPython.display import display

        display(explorer)  # type: ignore[no-untyped-call]
    return explorer
