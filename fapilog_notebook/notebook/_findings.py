"""The explorer's integrity part: the verdict badge, the Verify button and the findings.

:class:`FindingsPanel` shows a :class:`~fapilog_notebook.VerificationReport`:
the badge, one list entry per finding, the row each finding points at, and
the finding kinds per row that the events table marks.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import numpy as np
import pandas as pd

from ._index import IntArray

if TYPE_CHECKING:
    from ..verify import VerificationReport

__all__ = ["FindingsPanel"]


class FindingsPanel:
    """The verdict and the findings of one explorer.

    Attributes: the widgets ``badge``, ``verify_button``, ``findings_list``
    and ``show_finding_button``; ``report`` (shown, or ``None``),
    ``flagged`` (row -> finding kinds) and ``rows`` (the row each finding
    points at, -1 for none).
    """

    def __init__(self) -> None:
        self.badge = widgets.HTML()
        self.verify_button = widgets.Button(description="Verify", icon="check")
        self.findings_list = widgets.Select(options=[], rows=6, layout=widgets.Layout(width="100%"))
        self.show_finding_button = widgets.Button(description="Show its event", icon="search")
        self.report: VerificationReport | None = None
        self.flagged: dict[int, str] = {}
        self.rows: IntArray = np.zeros(0, dtype=np.int64)

    def box(self) -> Any:
        """The findings list and the button that shows the chosen finding's event."""
        return widgets.VBox([self.findings_list, self.show_finding_button])

    def show(self, report: VerificationReport | None, frame: pd.DataFrame) -> None:
        """Show ``report`` on ``frame``: the badge and one entry per finding.

        Setting the list's options fires its observers: callers mute them.
        """
        self.report = report
        self.flagged = _integrity_column(frame)
        if report is None:
            self.badge.value = (
                "<span style='background:#6e7781;color:white;padding:2px 10px;"
                "border-radius:10px'>not verified</span>"
            )
            self.verify_button.description = "Verify"
            self.findings_list.options = []
            self.rows = np.zeros(0, dtype=np.int64)
            return
        from ..load import locate_findings

        counts = report.counts
        color = "#1a7f37" if report.valid else "#cf222e"
        self.badge.value = (
            f"<span style='background:{color};color:white;padding:2px 10px;"
            f"border-radius:10px;font-weight:bold'>{report.verdict}</span> "
            f"{report.events_checked:,} events checked; {_plural(counts['error'], 'error')}, "
            f"{_plural(counts['warning'], 'warning')}, {counts['info']} info"
        )
        self.verify_button.description = "Verify again"
        self.rows = locate_findings(report.findings, frame)
        for row, kind in zip(self.rows.tolist(), report.findings["kind"], strict=True):
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
        self.findings_list.options = options
        self.findings_list.value = None


def _integrity_column(frame: pd.DataFrame) -> dict[int, str]:
    """Row -> finding kinds, from an ``integrity`` column (``read_audit_log(verify=True)``)."""
    if "integrity" not in frame.columns:
        return {}
    values = frame["integrity"].fillna("").astype(str).to_numpy()
    return {int(i): str(values[i]) for i in np.flatnonzero(values != "")}


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"
