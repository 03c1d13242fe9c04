"""LoopLagProbe measures how late the loop wakes a timer."""

from __future__ import annotations

import asyncio
import math
import time

import pytest

from fapilog_notebook import LoopLagProbe
from fapilog_notebook.notebook import percentile


async def test_a_blocking_call_shows_as_lag() -> None:
    async with LoopLagProbe(interval=0.001, threshold_ms=20) as probe:
        await asyncio.sleep(0.02)
        time.sleep(0.05)  # noqa: ASYNC251 - blocks the loop on purpose
        await asyncio.sleep(0.02)
    summary = probe.summary()
    assert summary["max_ms"] >= 45
    assert summary["over_threshold"] >= 1
    assert summary["count"] == len(probe.lags_ms) >= 10
    assert probe.samples.dtype == "float64"
    assert not probe.running


async def test_an_idle_loop_shows_little_lag() -> None:
    probe = LoopLagProbe(interval=0.001)
    probe.start()
    with pytest.raises(RuntimeError, match="already running"):
        probe.start()
    await asyncio.sleep(0.1)
    await probe.stop()
    summary = probe.summary()
    assert summary["count"] >= 30
    assert summary["p50_ms"] < 2


def test_empty_summary_and_bad_arguments() -> None:
    probe = LoopLagProbe()
    assert probe.summary()["count"] == 0
    assert math.isnan(probe.summary()["p99_ms"])
    with pytest.raises(ValueError, match="interval"):
        LoopLagProbe(interval=0)
    with pytest.raises(ValueError, match="threshold_ms"):
        LoopLagProbe(threshold_ms=-1)


def test_percentile_interpolates() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([5.0], 99) == 5.0
    assert percentile([0.0, 10.0], 90) == 9.0
