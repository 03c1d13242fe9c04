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
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import numpy as np
import pandas as pd

from ..objstore import is_url
from ._filters import FilterPanel
from ._findings import FindingsPanel
from ._index import BoolArray, FrameIndex, IntArray
from ._selection import SelectionPanel
from ._table import PAGE_SIZE, EventTable

if TYPE_CHECKING:
    from ..verify import VerificationReport
    from ..writer import AuditTrail

__all__ = ["AuditExplorer", "explore"]

#: Filter values per source, restored when the explorer is rebuilt for it.
_SAVED: dict[str, dict[str, Any]] = {}


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


class _Part:
    """An explorer attribute that lives on one of its parts.

    ``explorer.since`` reads (and sets) ``explorer._filters.since``: the
    explorer keeps the attribute names users and tests drive, while each
    part owns its own widgets and state.
    """

    def __init__(self, part: str, name: str | None = None) -> None:
        self.part = part
        self.name = name

    def __set_name__(self, owner: type, name: str) -> None:
        if self.name is None:
            self.name = name

    def __get__(self, explorer: object, owner: type | None = None) -> Any:
        if explorer is None:
            return self
        return getattr(getattr(explorer, self.part), str(self.name))

    def __set__(self, explorer: object, value: Any) -> None:
        setattr(getattr(explorer, self.part), str(self.name), value)


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

    The explorer wires and lays out four parts, each owning its widgets and
    state: :class:`~._filters.FilterPanel` (the filters),
    :class:`~._findings.FindingsPanel` (verdict and findings),
    :class:`~._selection.SelectionPanel` (matching rows, summary, export)
    and :class:`~._table.EventTable` (the table and its pager), over a
    :class:`~._index.FrameIndex` of the frame. The attributes above are
    forwarded to the part that holds them.

    A few more attributes than a dozen on purpose: the frame, its index,
    the four parts and the layout boxes are what it wires; every filter,
    finding, selection and page value lives in the part that owns it.
    """

    since = _Part("_filters")
    until = _Part("_filters")
    since_time = _Part("_filters")
    until_time = _Part("_filters")
    event_types = _Part("_filters")
    log_levels = _Part("_filters")
    sensitive = _Part("_filters")
    user = _Part("_filters")
    search = _Part("_filters")
    reset_button = _Part("_filters")
    badge = _Part("_findings")
    verify_button = _Part("_findings")
    findings_list = _Part("_findings")
    show_finding_button = _Part("_findings")
    report = _Part("_findings")
    flagged = _Part("_findings")
    _finding_rows = _Part("_findings", "rows")
    summary = _Part("_selection")
    export_csv_button = _Part("_selection")
    export_excel_button = _Part("_selection")
    export_dir = _Part("_selection")
    last_export = _Part("_selection")
    matching = _Part("_selection")
    _mask = _Part("_selection", "mask")
    table = _Part("_pager")
    prev_button = _Part("_pager")
    next_button = _Part("_pager")
    page_label = _Part("_pager")
    page = _Part("_pager")
    highlight = _Part("_pager")
    _text_cache = _Part("_index", "text_cache")

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
        self._quiet = 0
        self._key = _source_key(source if source is not None else frame)
        self._index = FrameIndex(self.frame)
        self._filters = FilterPanel(self._index)
        self._selection = SelectionPanel(len(self.frame))
        self._findings = FindingsPanel()
        self.status = widgets.HTML()
        self.chart = widgets.HTML()
        self._pager = EventTable()
        self._wire()
        self._layout(title)
        if restore:
            self._restore()
        self.set_report(report)
        self.refresh()

    # ------------------------------------------------------------ layout

    def _wire(self) -> None:
        """Connect the controls to what they do."""
        self._filters.observe(self._on_filter)
        self.reset_button.on_click(lambda _: self.reset_filters())
        self.verify_button.on_click(lambda _: self.verify())
        self.findings_list.observe(self._on_finding, names="value")
        self.show_finding_button.on_click(lambda _: self.show_finding())
        self.prev_button.on_click(lambda _: self.go_to_page(self.page - 1))
        self.next_button.on_click(lambda _: self.go_to_page(self.page + 1))
        self.export_csv_button.on_click(lambda _: self._export_clicked("csv"))
        self.export_excel_button.on_click(lambda _: self._export_clicked("xlsx"))

    def _layout(self, title: str | None) -> None:
        heading = html.escape(title or self._describe_source())
        self.sections = widgets.Accordion(
            children=[self._filters.box(), self._findings.box(), self._selection.box()],
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
            self._pager.pager(),
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
        return {**self._filters.state(), "page": self.page}

    def _restore(self) -> None:
        saved = _SAVED.get(self._key)
        if not saved:
            return
        with self._muted():
            self._filters.restore(saved)
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
            self._filters.reset()
        self.page = 0
        self.refresh()

    # ------------------------------------------------------------ filtering

    def compute_mask(self) -> BoolArray:
        """Which rows the current filter values keep."""
        return self._filters.mask(self._index)

    def refresh(self) -> None:
        """Apply the filters and redraw the count, the chart and the table."""
        self._selection.select(self.compute_mask())
        _SAVED[self._key] = self._state()
        total = len(self.frame)
        self.status.value = f"<b>{self.matching.size:,}</b> of {total:,} events match" + (
            "" if self.matching.size else " &mdash; loosen a filter"
        )
        self._draw_chart()
        self._selection.draw_summary(self._index)
        self.go_to_page(self.page)

    # ------------------------------------------------------------ chart and table

    def _draw_chart(self) -> None:
        """Events per day as an inline SVG bar chart: all events in grey, matching in blue.

        SVG built from the day counts takes a millisecond, where a matplotlib
        redraw takes hundreds, so the chart follows every filter change.
        """
        counts = self._index.per_day(self._mask)
        if counts is None:
            self.chart.value = ""
            return
        self.chart.value = _day_chart_svg(self._index.first_day, *counts)

    @property
    def pages(self) -> int:
        """Number of pages of matching events (at least 1)."""
        return self._pager.pages(self.matching)

    def go_to_page(self, page: int) -> None:
        """Show page ``page`` (0-based, clamped) of the matching events."""
        self._pager.show(page, self.matching, self.frame, self.flagged)
        if self._key in _SAVED:
            _SAVED[self._key]["page"] = self.page

    # ------------------------------------------------------------ export

    def selected_rows(self) -> pd.DataFrame:
        """The matching rows, as a frame (what the export buttons write)."""
        return self.frame.iloc[self._selection.matching]

    def export(self, path: str | os.PathLike[str]) -> Path:
        """Write the matching rows to ``path``: ``.csv``, or ``.xlsx`` (needs openpyxl).

        Timestamps are written in UTC; metadata dicts as JSON text.
        """
        return self._selection.export(self.frame, path)

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
        with self._muted():
            self._findings.show(report, self.frame)
        if report is not None and not report.valid:
            self.sections.selected_index = 1  # open on the findings

    def verify(self) -> VerificationReport | None:
        """Verify the source now and show the result."""
        target = _verify_target(self.source, self.frame)
        if target is None:
            self.status.value = "Nothing to verify: the frame does not say which files it holds."
            return None
        from ..verify import verify_audit_log

        self.set_report(
            verify_audit_log(target, progress=False, storage_options=self._storage_options)
        )
        return self._findings.report

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
    from ..access import record_access

    record_access(access_log, action="explore", source=source, user_id=user_id)
    if isinstance(source, pd.DataFrame):
        frame = source
    else:
        from ..load import read_audit_log

        frame = read_audit_log(source, progress=None, storage_options=storage_options)
    explorer = AuditExplorer(
        frame, source=source, report=report, restore=restore, storage_options=storage_options
    )
    if auto_display:
        from IPython.display import display

        display(explorer)  # type: ignore[no-untyped-call]
    return explorer
