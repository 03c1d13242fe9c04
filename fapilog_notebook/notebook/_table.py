"""The explorer's events table: one page of the matching rows, and the pager.

:class:`EventTable` draws a page of rows as an HTML table (rows with
findings marked, the event a finding points at highlighted) and keeps the
page number; the explorer tells it which rows match.
"""

from __future__ import annotations

import html
from pathlib import PurePath
from typing import Any

import ipywidgets as widgets
import numpy as np
import pandas as pd

from ._index import IntArray

__all__ = ["PAGE_SIZE", "TABLE_COLUMNS", "TABLE_CSS", "EventTable"]

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
#: The style of the explorer's tables (events, and the selection's summaries).
TABLE_CSS = (
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


class EventTable:
    """The table of matching events, :data:`PAGE_SIZE` a page, and its pager.

    Attributes: ``table`` (the HTML), ``prev_button``, ``next_button``,
    ``page_label``, ``page`` (0-based) and ``highlight`` (the row shown
    outlined, or ``None``).
    """

    def __init__(self) -> None:
        self.table = widgets.HTML()
        self.prev_button = widgets.Button(description="Previous", icon="arrow-left")
        self.next_button = widgets.Button(description="Next", icon="arrow-right")
        self.page_label = widgets.HTML()
        self.page = 0
        self.highlight: int | None = None

    def pager(self) -> Any:
        """The previous and next buttons around the page label."""
        return widgets.HBox([self.prev_button, self.page_label, self.next_button])

    @staticmethod
    def pages(matching: IntArray) -> int:
        """Number of pages of ``matching`` rows (at least 1)."""
        return max(1, -(-matching.size // PAGE_SIZE))

    def show(
        self, page: int, matching: IntArray, frame: pd.DataFrame, flagged: dict[int, str]
    ) -> None:
        """Show page ``page`` (0-based, clamped) of the ``matching`` rows of ``frame``."""
        pages = self.pages(matching)
        self.page = min(max(0, page), pages - 1)
        rows = matching[self.page * PAGE_SIZE : (self.page + 1) * PAGE_SIZE]
        self.page_label.value = f"&nbsp;page {self.page + 1} of {pages}&nbsp;"
        self.prev_button.disabled = self.page == 0
        self.next_button.disabled = self.page >= pages - 1
        self.table.value = self._html(frame, rows, flagged)

    def _html(self, frame: pd.DataFrame, rows: IntArray, flagged: dict[int, str]) -> str:
        columns = [c for c in TABLE_COLUMNS if c in frame.columns]
        if not rows.size:
            return "<p><i>No events match.</i></p>"
        marked = bool(flagged)
        part = frame.iloc[rows][columns]
        if "timestamp" in part.columns:
            part = part.assign(timestamp=pd.to_datetime(part["timestamp"], utc=True))
        if "source_file" in part.columns:
            part = part.assign(source_file=part["source_file"].map(lambda f: PurePath(f).name))
        shown = ("#", *(["integrity"] if marked else []), *columns)
        head = "".join(f"<th>{html.escape(c)}</th>" for c in shown)
        body = []
        for position, values in zip(rows.tolist(), part.itertuples(index=False), strict=True):
            kinds = flagged.get(position, "")
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
            f"{TABLE_CSS}<div style='overflow-x:auto'><table class='fapilog-events'>"
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
        )


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
