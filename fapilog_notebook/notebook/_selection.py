"""The explorer's selection: the rows the filters keep, their summary, and their export.

:class:`SelectionPanel` holds the matching rows (as a mask and as
positions), draws the events per user and per event type among them, and
writes them to CSV or Excel.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import numpy as np
import pandas as pd

from ._index import BoolArray, FrameIndex, IntArray
from ._table import TABLE_CSS

__all__ = ["SelectionPanel"]


class SelectionPanel:
    """The matching rows of one explorer and what is done with them.

    Attributes: ``mask`` and ``matching`` (the rows kept, as booleans and as
    positions), the widgets ``summary``, ``export_csv_button`` and
    ``export_excel_button``; ``export_dir`` (where the buttons write, default
    the working directory) and ``last_export``.
    """

    def __init__(self, rows: int) -> None:
        self.mask: BoolArray = np.ones(rows, dtype=bool)
        self.matching: IntArray = np.arange(rows, dtype=np.int64)
        self.summary = widgets.HTML()
        self.export_csv_button = widgets.Button(description="Export CSV", icon="download")
        self.export_excel_button = widgets.Button(
            description="Export Excel", icon="download", disabled=not _has_openpyxl()
        )
        if self.export_excel_button.disabled:
            self.export_excel_button.tooltip = "install openpyxl to export Excel files"
        self.export_dir: Path | None = None
        self.last_export: Path | None = None

    def box(self) -> Any:
        """The summary tables above the export buttons."""
        return widgets.VBox(
            [self.summary, widgets.HBox([self.export_csv_button, self.export_excel_button])]
        )

    def select(self, mask: BoolArray) -> None:
        """Keep the rows in ``mask``."""
        self.mask = mask
        self.matching = np.flatnonzero(mask)

    def draw_summary(self, index: FrameIndex) -> None:
        """Events per user and per event type among the matching rows (top 10 each)."""
        tables = []
        for title, (codes, names) in (("user", index.user_codes), ("event type", index.types)):
            if not names:
                continue
            counts = np.bincount(codes[self.mask], minlength=len(names) + 1)
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
            f"{TABLE_CSS}<div class='fapilog-summary' style='display:flex;flex-wrap:wrap'>"
            f"{''.join(tables)}</div>"
        )

    def export(self, frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
        """Write the matching rows of ``frame`` to ``path``: ``.csv``, or ``.xlsx`` (openpyxl).

        Timestamps are written in UTC; metadata dicts as JSON text.
        """
        target = Path(path)
        rows = _plain_frame(frame.iloc[self.matching])
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
