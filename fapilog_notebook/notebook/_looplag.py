"""Measuring event-loop lag: how late the loop wakes a timer.

The Python counterpart of Node's ``monitorEventLoopDelay``. A ticker task
sleeps ``interval`` seconds again and again and records how much later than
asked it woke up. Anything that holds the loop thread (a blocking write, a
long computation) shows up as lag.
"""

from __future__ import annotations

import asyncio
import html
import math
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["LagSummary", "LoopLagProbe", "percentile"]

LagSummary = dict[str, float]


def percentile(sorted_values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of already sorted values, by linear interpolation."""
    if not sorted_values:
        return math.nan
    rank = (len(sorted_values) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


class LoopLagProbe:
    """Sample how late the running event loop wakes a timer, in milliseconds.

    It measures only while the loop runs, that is while its owner awaits:
    in a script, while ``asyncio.run`` runs; in Jupyter and terminal IPython,
    while the cell that awaits runs. Between cells nothing is sampled, so the
    figures describe the awaited work alone.

    Use as ``async with LoopLagProbe(interval=0.001) as probe: ...`` or with
    ``probe.start()`` and ``await probe.stop()``.

    Args:
        interval: seconds between timer wake-ups (default 1 ms).
        threshold_ms: lag above which a sample counts as a stall in ``summary()``.
    """

    def __init__(self, interval: float = 0.001, *, threshold_ms: float = 10.0) -> None:
        if not isinstance(interval, (int, float)) or not 0 < interval <= 1:
            raise ValueError(f"interval must be a number of seconds in (0, 1], not {interval!r}")
        if not isinstance(threshold_ms, (int, float)) or threshold_ms < 0:
            raise ValueError(f"threshold_ms must be a non-negative number, not {threshold_ms!r}")
        self.interval = float(interval)
        self.threshold_ms = float(threshold_ms)
        self._lags_ms: list[float] = []
        self._task: asyncio.Task[None] | None = None
        self._asked = 0.0  # when the pending wake-up was asked for

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"LoopLagProbe(interval={self.interval}, samples={len(self._lags_ms)}, {state})"

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start sampling on the running loop (call from a coroutine)."""
        if self.running:
            raise RuntimeError("LoopLagProbe is already running; stop() it first")
        loop = asyncio.get_running_loop()
        self._asked = time.perf_counter()
        self._task = loop.create_task(self._tick(), name="LoopLagProbe")

    async def stop(self) -> None:
        """Stop sampling; the samples stay available."""
        task, self._task = self._task, None
        if task is None:
            return
        # A wake-up still overdue now is a stall in progress (possibly one that
        # held the loop since start()): count it, or a loop blocked for the
        # whole measurement would show no lag at all.
        overdue = time.perf_counter() - self._asked - self.interval
        if overdue > 0 and not task.done():
            self._lags_ms.append(overdue * 1000.0)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            if not task.cancelled():
                raise

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _tick(self) -> None:
        interval = self.interval
        clock = time.perf_counter
        record = self._lags_ms.append
        while True:
            asked = self._asked
            await asyncio.sleep(max(0.0, asked + interval - clock()))
            woke = clock()
            record(max(0.0, (woke - asked - interval) * 1000.0))
            self._asked = woke

    @property
    def lags_ms(self) -> list[float]:
        """The raw samples, in milliseconds, in the order they were taken."""
        return list(self._lags_ms)

    @property
    def samples(self) -> Any:
        """The samples as a pandas Series of milliseconds."""
        import pandas as pd

        return pd.Series(self._lags_ms, name="lag_ms", dtype="float64")

    def summary(self) -> LagSummary:
        """Count, mean, p50, p90, p99, p99.9 and max lag in ms, and samples over the threshold."""
        values = sorted(self._lags_ms)
        count = len(values)
        return {
            "count": float(count),
            "mean_ms": sum(values) / count if count else math.nan,
            "p50_ms": percentile(values, 50),
            "p90_ms": percentile(values, 90),
            "p99_ms": percentile(values, 99),
            "p99.9_ms": percentile(values, 99.9),
            "max_ms": values[-1] if values else math.nan,
            "threshold_ms": self.threshold_ms,
            "over_threshold": float(sum(1 for v in values if v > self.threshold_ms)),
        }

    def plot(self, kind: Literal["hist", "cdf"] = "hist", ax: Axes | None = None) -> Figure:
        """Draw the lag distribution (a histogram or a CDF) and return the figure.

        Draws on ``ax`` when given (its figure is returned), else on a new
        figure. matplotlib is imported here, so importing the probe stays light.
        """
        if kind not in ("hist", "cdf"):
            raise ValueError(f"kind must be 'hist' or 'cdf', not {kind!r}")
        from ._plots import plot_lag_distributions

        return plot_lag_distributions({self._label(): self._lags_ms}, kind=kind, ax=ax, title=None)

    def _label(self) -> str:
        return f"interval {self.interval * 1000:g} ms"

    def _summary_rows(self) -> list[tuple[str, str]]:
        summary = self.summary()
        count = int(summary["count"])
        rows = [("samples", f"{count}")]
        if count:
            rows += [
                (name, f"{summary[key]:.3f} ms")
                for name, key in (
                    ("mean", "mean_ms"),
                    ("p50", "p50_ms"),
                    ("p90", "p90_ms"),
                    ("p99", "p99_ms"),
                    ("p99.9", "p99.9_ms"),
                    ("max", "max_ms"),
                )
            ]
            over = int(summary["over_threshold"])
            rows.append((f"over {self.threshold_ms:g} ms", f"{over} ({over / count:.1%})"))
        return rows

    def __str__(self) -> str:
        state = "running" if self.running else "stopped"
        head = f"LoopLagProbe ({state}, interval {self.interval * 1000:g} ms)"
        rows = self._summary_rows()
        width = max(len(name) for name, _ in rows)
        return "\n".join([head, *(f"  {name:<{width}}  {value}" for name, value in rows)])

    def _repr_html_(self) -> str:
        state = "running" if self.running else "stopped"
        cells = "".join(
            f"<tr><th style='text-align:left'>{html.escape(name)}</th>"
            f"<td style='text-align:right'>{html.escape(value)}</td></tr>"
            for name, value in self._summary_rows()
        )
        return (
            "<div class='fapilog-looplag'>"
            f"<p><b>LoopLagProbe</b> ({state}, interval {self.interval * 1000:g} ms)</p>"
            f"<table>{cells}</table></div>"
        )

    def reset(self) -> None:
        """Forget the samples taken so far."""
        self._lags_ms.clear()
