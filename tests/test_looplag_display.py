"""LoopLagProbe renders itself: plot(), _repr_html_ and __str__."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402

from fapilog_notebook import LoopLagProbe  # noqa: E402


async def measured_probe() -> LoopLagProbe:
    async with LoopLagProbe(interval=0.001, threshold_ms=20) as probe:
        await asyncio.sleep(0.02)
        time.sleep(0.04)  # noqa: ASYNC251 - blocks the loop on purpose
        await asyncio.sleep(0.01)
    return probe


async def test_plot_draws_histogram_and_cdf() -> None:
    probe = await measured_probe()
    histogram = probe.plot()
    assert isinstance(histogram, Figure)
    assert histogram.axes[0].get_xscale() == "log"
    assert histogram.axes[0].get_ylabel() == "share of samples"
    cdf = probe.plot("cdf")
    line = cdf.axes[0].get_lines()[0]
    assert np.asarray(line.get_xdata()).size == len(probe.lags_ms)
    assert np.asarray(line.get_ydata())[-1] == pytest.approx(1.0)
    figure = Figure()
    axes = figure.add_subplot()
    assert probe.plot("cdf", ax=axes) is figure
    with pytest.raises(ValueError, match="kind"):
        probe.plot("pie")  # type: ignore[arg-type]


async def test_text_and_html_show_the_summary() -> None:
    probe = await measured_probe()
    text = str(probe)
    assert text.startswith("LoopLagProbe (stopped, interval 1 ms)")
    for name in ("samples", "p50", "p99", "p99.9", "max", "over 20 ms"):
        assert f"  {name} " in text
    html = probe._repr_html_()
    assert "<table>" in html
    assert "p99.9" in html
    assert f"{probe.summary()['max_ms']:.3f} ms" in html
    assert "over 20 ms" in html
    assert repr(probe).startswith("LoopLagProbe(interval=0.001")


def test_an_empty_probe_renders() -> None:
    probe = LoopLagProbe()
    assert "samples  0" in str(probe)
    assert "p99" not in str(probe)
    assert "<td style='text-align:right'>0</td>" in probe._repr_html_()
    figure = probe.plot("cdf")
    assert "no samples" in figure.axes[0].get_legend().get_texts()[0].get_text()  # type: ignore[union-attr]


def test_importing_the_probe_does_not_import_matplotlib() -> None:
    code = "import sys, fapilog_notebook.notebook._looplag; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


async def test_a_loop_blocked_for_the_whole_measurement_shows_its_stall() -> None:
    probe = LoopLagProbe(interval=0.001)
    probe.start()
    time.sleep(0.03)  # noqa: ASYNC251 - the ticker never gets to run
    await probe.stop()
    assert probe.summary()["count"] == 1
    assert probe.summary()["max_ms"] >= 25
