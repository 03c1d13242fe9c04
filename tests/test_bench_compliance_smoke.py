"""Smoke test of the compliance benchmark: one run on a tiny log, and its table.

It catches breakage of ``python -m benchmarks --only compliance`` (an API
change, a wrong table) without timing anything worth reading.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks import __main__ as bench_main
from benchmarks import bench_compliance


def test_compliance_benchmark_runs_every_analysis_and_prints_the_targets(tmp_path: Path) -> None:
    config = bench_compliance.ComplianceConfig(
        events=400, days=3, repeats=1, data_root=str(tmp_path)
    )
    lines: list[str] = []
    data = bench_compliance.run(config, report=lines.append)
    assert data["events"] == 400
    names = [row["name"] for row in data["analyses"]]
    assert names == [name for name, _ in bench_compliance.analyses(tmp_path)]
    assert {"failed_logins by user", "failed_logins by IP", "retention"} <= set(names)
    assert data["analyses_s"] == sum(row["seconds"] for row in data["analyses"]) > 0
    assert data["load_s"] > 0
    assert data["time_x_load"] == data["analyses_s"] / data["load_s"]
    assert data["memory_x_frame"] >= 1.0
    assert data["memory_method"] in ("VmHWM", "tracemalloc")
    retention = next(row for row in data["analyses"] if row["name"] == "retention")
    assert retention["rows"] == 5
    table = bench_compliance.markdown(data)
    assert "| read_audit_log |" in table
    assert "every analysis <= 1.0x read_audit_log" in table
    assert "each analysis peaks < 1.5x the frame" in table
    assert data["kept_x_frame"] >= 1.0
    assert all(row["peak_added_mb"] >= 0 for row in data["analyses"])
    assert any("read_audit_log of 400 events" in line for line in lines)


def test_compliance_is_a_benchmark_group() -> None:
    assert "compliance.analyses" in bench_main.BENCHMARKS
    assert "compliance" in bench_main.GROUPS
    assert bench_main._selected(["compliance"]) == ("compliance.analyses",)
