"""Plots: lag distributions, events per hour with findings, events per day (Agg backend)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402

from fapilog_notebook import (  # noqa: E402
    AuditLogWarning,
    LoopLagProbe,
    read_audit_log,
    verify_audit_log,
)
from fapilog_notebook.load import locate_findings  # noqa: E402
from fapilog_notebook.notebook import (  # noqa: E402
    events_per_day,
    plot_events_per_day,
    plot_events_per_hour,
    plot_lag_distributions,
)

from .notebook_helpers import delete_line, edit_line, write_trail  # noqa: E402


@pytest.fixture(scope="module")
def trail(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("trail")
    write_trail(directory, days=4, per_day=24)
    return directory


@pytest.fixture
def tampered(trail: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(trail, copy)
    edit_line(copy / "audit_2026-03-01.jsonl", 3, b'"message":"event 2', b'"message":"event 7')
    delete_line(copy / "audit_2026-03-02.jsonl", 4)
    (copy / "audit_2026-03-03.jsonl").unlink()
    with (copy / "audit_2026-03-04.jsonl").open("ab") as handle:
        handle.write(b"not json at all\n")
    return copy


def legend_of(axes: Any) -> Any:
    legend = axes.get_legend()
    assert legend is not None
    return legend


def load_tampered(directory: Path) -> pd.DataFrame:
    with pytest.warns(AuditLogWarning, match="left out"):
        return read_audit_log(directory)


def test_lag_distributions_take_probes_lists_and_series() -> None:
    probe = LoopLagProbe()
    probe._lags_ms.extend([0.0, 0.1, 0.2, 5.0])
    lags = {"probe": probe, "list": [1.0, 2.0], "series": pd.Series([0.5, 50.0]), "none": []}
    kinds: tuple[Literal["cdf", "hist"], ...] = ("cdf", "hist")
    for kind in kinds:
        figure = plot_lag_distributions(lags, kind=kind)
        assert isinstance(figure, Figure)
        axes = figure.axes[0]
        assert axes.get_xscale() == "log"
        labels = [text.get_text() for text in legend_of(axes).get_texts()]
        assert labels == ["probe (n=4)", "list (n=2)", "series (n=2)", "none (no samples)"]
    with pytest.raises(ValueError, match="kind"):
        plot_lag_distributions(lags, kind="pie")  # type: ignore[arg-type]


def test_drawing_into_given_axes_returns_their_figure() -> None:
    figure = Figure()
    left, right = figure.subplots(1, 2)
    assert plot_lag_distributions({"a": [1.0]}, ax=left) is figure
    assert plot_events_per_day(pd.DataFrame({"timestamp": []}), ax=right) is figure


def test_events_per_day_counts_empty_days_as_zero(tampered: Path) -> None:
    frame = load_tampered(tampered)
    counts = events_per_day(frame)
    assert [str(day.date()) for day in counts.index] == [
        "2026-03-01",
        "2026-03-02",
        "2026-03-03",
        "2026-03-04",
    ]
    assert counts.tolist() == [24, 23, 0, 24]
    figure = plot_events_per_day(frame, subset=frame[frame["event_type"] == "data_access"])
    assert len(figure.axes[0].patches) == 8


def test_findings_are_located_at_their_events(tampered: Path) -> None:
    frame = load_tampered(tampered)
    report = verify_audit_log(tampered)
    kinds = report.findings["kind"].tolist()
    positions = locate_findings(report, frame)
    assert len(positions) == len(kinds)
    placed = dict(zip(kinds, positions.tolist(), strict=False))
    edited = frame.iloc[[placed["checksum_mismatch"]]]
    assert Path(str(edited["source_file"].iloc[0])).name == "audit_2026-03-01.jsonl"
    assert edited["source_line"].iloc[0] == 3
    malformed = report.findings.index[report.findings["kind"] == "malformed_line"]
    assert len(malformed) == 1
    # The malformed last line holds no event: it is placed at the file's last event.
    assert frame["source_line"].iloc[positions[malformed[0]]] == 24
    # Every finding about a line is placed; a manifest of a deleted day has no event.
    about_lines = report.findings["line"].notna().to_numpy()
    assert (positions[about_lines] >= 0).all()
    assert "manifest_mismatch" in kinds
    assert locate_findings(report, frame.iloc[0:0]).tolist() == [-1] * len(kinds)


def test_events_per_hour_marks_each_finding_kind(tampered: Path) -> None:
    frame = load_tampered(tampered)
    report = verify_audit_log(tampered)
    figure = plot_events_per_hour(frame, findings=report)
    axes = figure.axes[0]
    labels = sorted(text.get_text() for text in legend_of(axes).get_texts())
    # Each finding that points at an event is marked; one with no event is not.
    located = locate_findings(report, frame) >= 0
    expected = report.findings["kind"][located].value_counts()
    assert labels == sorted(f"{kind} ({count})" for kind, count in expected.items())
    # One bar per hour from the first to the last event, empty hours included.
    span = frame["timestamp"].max().floor("h") - frame["timestamp"].min().floor("h")
    assert len(axes.patches) == span / pd.Timedelta(hours=1) + 1
    clean = plot_events_per_hour(frame)
    assert clean.axes[0].get_legend() is None


def test_a_returned_figure_renders_as_an_image_without_the_inline_backend(trail: Path) -> None:
    shell_module = pytest.importorskip("IPython.core.interactiveshell")
    shell = shell_module.InteractiveShell.instance()
    try:
        formatter = shell.display_formatter
        for figure in (
            plot_events_per_day(read_audit_log(trail, progress=False)),
            plot_lag_distributions({"a": [0.1, 0.2]}),
            LoopLagProbe().plot(),
        ):
            data, _ = formatter.format(figure)
            assert data["image/png"].startswith(b"\x89PNG"), data.keys()
            assert isinstance(figure, Figure)
    finally:
        shell_module.InteractiveShell.clear_instance()


def test_a_plot_cell_in_a_fresh_kernel_shows_an_image(trail: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    root = Path(__file__).resolve().parent.parent
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "from fapilog_notebook import read_audit_log\n"
            "from fapilog_notebook.notebook import plot_events_per_day\n"
            f"plot_events_per_day(read_audit_log({str(trail)!r}, progress=False))"
        )
    ]
    client = nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(root)}}
    )
    client.execute()
    outputs = notebook.cells[0].outputs
    assert [o["output_type"] for o in outputs] == ["execute_result"], outputs
    assert "image/png" in outputs[0]["data"], outputs[0]["data"].keys()


def test_events_per_day_ticks_are_days(trail: Path) -> None:
    figure = plot_events_per_day(read_audit_log(trail, progress=False))
    figure.canvas.draw()
    labels = [t.get_text() for t in figure.axes[0].get_xticklabels()]
    assert labels == ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04"]
