"""Plots for notebooks: loop-lag distributions and audit-trail timelines.

Every function draws with matplotlib's object API (never ``pyplot``), so it
works headless, leaves no global figure behind, and returns the
:class:`~matplotlib.figure.Figure` for the caller to show, save or alter.
A new figure renders as an image when it is a notebook cell's result, with
no ``%matplotlib inline`` first. Pass ``ax`` to draw into an existing figure
instead. matplotlib is imported
when a function is called, not when this module is.

Times are plotted in UTC, the trail's own clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from ..load import findings_table, locate_findings

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..verify import VerificationReport

__all__ = [
    "SEVERITY_COLORS",
    "events_per_day",
    "plot_events_per_day",
    "plot_events_per_hour",
    "plot_lag_distributions",
]

#: The colour each finding severity is drawn in.
SEVERITY_COLORS = {"error": "#cf222e", "warning": "#bf8700", "info": "#0969da"}
_MARKERS = "vXD^s<>Po*hd"
_MIN_LAG_MS = 1e-3  # lags are drawn on a log axis; 0 ms is drawn at 1 microsecond


def _axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """The figure and axes to draw on: ``ax`` and its figure, or a new pyplot-free figure."""
    if ax is not None:
        figure = ax.get_figure(root=True)
        if figure is None:  # pragma: no cover - an axes always has a figure
            raise ValueError("ax does not belong to a figure")
        return figure, ax
    from ._figure import NotebookFigure

    figure = NotebookFigure(figsize=figsize, layout="constrained")
    return figure, figure.add_subplot()


def _lag_values(samples: object) -> np.ndarray[Any, np.dtype[np.float64]]:
    lags = getattr(samples, "lags_ms", None)
    values = lags if isinstance(lags, list) else samples
    return np.asarray(values, dtype=np.float64)


def plot_lag_distributions(
    lags: Mapping[str, Any],
    *,
    kind: Literal["hist", "cdf"] = "cdf",
    ax: Axes | None = None,
    title: str | None = "Event-loop lag",
) -> Figure:
    """Compare loop-lag distributions, one line per label, on a log time axis.

    ``lags`` maps a label to a :class:`~fapilog_notebook.LoopLagProbe`, or to
    a sequence, array or Series of lags in milliseconds. ``kind="cdf"`` draws the share of
    samples at or below each lag (the tail shows at the top right);
    ``kind="hist"`` draws step histograms over shared log-spaced bins, as the
    share of each series' samples (so series of different lengths compare).
    """
    if kind not in ("hist", "cdf"):
        raise ValueError(f"kind must be 'hist' or 'cdf', not {kind!r}")
    series = {str(label): _lag_values(samples) for label, samples in lags.items()}
    figure, axes = _axes(ax, (7.0, 4.0))
    nonempty = [v for v in series.values() if v.size]
    if kind == "hist" and nonempty:
        high = max(float(v.max()) for v in nonempty)
        bins = np.geomspace(_MIN_LAG_MS, max(high, _MIN_LAG_MS * 10) * 1.05, 60)
    for label, values in series.items():
        clipped = np.clip(np.sort(values), _MIN_LAG_MS, None)
        text = f"{label} (n={values.size})"
        if not values.size:
            axes.plot([], [], label=f"{label} (no samples)")
        elif kind == "cdf":
            share = np.arange(1, values.size + 1) / values.size
            axes.step(clipped, share, where="post", label=text)
        else:
            weights = np.full(values.size, 1.0 / values.size).tolist()
            edges = bins.tolist()
            axes.hist(clipped, bins=edges, weights=weights, histtype="step", label=text)
    axes.set_xscale("log")
    if not nonempty:  # a log axis with no data has no range of its own and cannot be drawn
        axes.set_xlim(_MIN_LAG_MS, 1.0)
    axes.set_xlabel("lag (ms, log scale)")
    if kind == "cdf":
        axes.set_ylabel("share of samples at or below")
        axes.set_ylim(0, 1.01)
    else:
        axes.set_ylabel("share of samples")
        axes.set_yscale("log")
        if not nonempty:
            axes.set_ylim(_MIN_LAG_MS, 1.0)
    axes.grid(True, which="major", alpha=0.3)
    if series:
        axes.legend(fontsize="small")
    if title:
        axes.set_title(title)
    return figure


# ----------------------------------------------------------------- findings on a timeline


def _utc_naive(timestamps: pd.Series[Any]) -> Any:
    """Timestamps as a Series of naive UTC datetimes (what matplotlib and numpy want)."""
    values: Any = pd.to_datetime(timestamps, utc=True)
    return values.dt.tz_localize(None)


def plot_events_per_hour(
    frame: pd.DataFrame,
    *,
    findings: VerificationReport | pd.DataFrame | None = None,
    ax: Axes | None = None,
    title: str | None = "Events per hour (UTC)",
) -> Figure:
    """Events per UTC hour, with each finding marked at the event it points at.

    Hours with no event are drawn as zero, so a deleted day or a quiet spell
    shows as a gap. Findings (from a report or its ``findings`` frame) are
    vertical lines coloured by severity, with one marker shape per kind.
    """
    figure, axes = _axes(ax, (10.0, 3.8))
    times: Any = _utc_naive(frame["timestamp"]) if len(frame) else pd.Series([], dtype="M8[ns]")
    if len(times):
        hours = times.dt.floor("h")
        counts = hours.value_counts().sort_index()
        full = pd.date_range(counts.index.min(), counts.index.max(), freq="h")
        counts = counts.reindex(full, fill_value=0)
        axes.bar(counts.index, counts.to_numpy(), width=1 / 24, align="edge", color="#8c959f")
        top = float(counts.max())
    else:
        top = 1.0
    table = findings_table(findings)
    if len(table) and len(frame):
        positions = locate_findings(table, frame)
        placed = positions >= 0
        marks = times.iloc[positions[placed]].to_numpy()
        kinds = table["kind"].astype(str).to_numpy()[placed]
        severities = table["severity"].astype(str).to_numpy()[placed]
        for number, kind in enumerate(dict.fromkeys(kinds)):
            chosen = kinds == kind
            color = SEVERITY_COLORS.get(str(severities[chosen][0]), "black")
            axes.vlines(marks[chosen], 0, top, colors=color, alpha=0.5, linewidth=1)
            axes.scatter(
                marks[chosen],
                np.full(int(chosen.sum()), top * 1.05),
                marker=_MARKERS[number % len(_MARKERS)],
                color=color,
                zorder=3,
                label=f"{kind} ({int(chosen.sum())})",
            )
        axes.set_ylim(0, top * 1.15)
        axes.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    axes.set_ylabel("events")
    axes.set_xlabel("time (UTC)")
    figure.autofmt_xdate()
    if title:
        axes.set_title(title)
    return figure


def events_per_day(frame: pd.DataFrame) -> Any:
    """Events per UTC day (a Series indexed by day), with empty days as zero."""
    if not len(frame):
        return pd.Series([], dtype="int64", name="events")
    days = _utc_naive(frame["timestamp"]).dt.floor("D")
    counts = days.value_counts().sort_index()
    full = pd.date_range(counts.index.min(), counts.index.max(), freq="D")
    result: Any = counts.reindex(full, fill_value=0).astype("int64")
    result.name = "events"
    result.index.name = "day"
    return result


def plot_events_per_day(
    frame: pd.DataFrame,
    *,
    subset: pd.DataFrame | None = None,
    ax: Axes | None = None,
    title: str | None = "Events per day (UTC)",
) -> Figure:
    """Events per UTC day as bars; days with no event show as empty slots.

    With ``subset`` (e.g. the rows a filter keeps), its daily counts are drawn
    over the full counts.
    """
    figure, axes = _axes(ax, (8.0, 3.0))
    counts = events_per_day(frame)
    axes.bar(counts.index, counts.to_numpy(), width=0.8, color="#d0d7de", label="all events")
    if subset is not None:
        part = events_per_day(subset).reindex(counts.index, fill_value=0)
        axes.bar(part.index, part.to_numpy(), width=0.8, color="#0969da", label="matching")
        axes.legend(fontsize="small")
    if len(counts):  # one tick per day (or per few days), labelled by date, never by hour
        from matplotlib.dates import DateFormatter, DayLocator

        axes.xaxis.set_major_locator(DayLocator(interval=max(1, len(counts) // 10)))  # type: ignore[no-untyped-call]
        axes.xaxis.set_major_formatter(DateFormatter("%Y-%m-%d"))  # type: ignore[no-untyped-call]
    axes.set_ylabel("events")
    figure.autofmt_xdate()
    if title:
        axes.set_title(title)
    return figure
