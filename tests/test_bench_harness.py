"""The benchmarks' shared harness: rounds, the RSS probe, tables; and what benchmarks import.

Every ``benchmarks/bench_*`` module times, probes memory and renders its
tables through ``benchmarks.harness``; these tests pin the harness's rules
(interleaved rounds, best and median, the kept verdict) and that the
benchmarks reach the package through its public names, with the few
exceptions listed in ``NON_PUBLIC`` (each with its reason).
"""

from __future__ import annotations

import ast
import math
import sys
from functools import partial
from pathlib import Path

import pytest

import fapilog_notebook
from benchmarks import harness

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"

#: Imports of the package that are not ``fapilog_notebook.__all__`` names,
#: and why no public way exists.
NON_PUBLIC = {
    # The baselines and the datasets chain and write the on-disk format
    # themselves, exactly as the writer does (datasets: fast, same content in
    # every mode); the CPU floor and the slowed storage need the same.
    ("fapilog_notebook", "storage"),
    ("fapilog_notebook.chain", "encode_event"),
    ("fapilog_notebook.chain", "ChainHead"),
    ("fapilog_notebook.chain", "ALG_FORWARD_SECURE"),
    ("fapilog_notebook.chain", "ALG_STATIC"),
    ("fapilog_notebook.chain", "MAC_FIELD"),
    ("fapilog_notebook.chain", "compute_checksum"),
    ("fapilog_notebook.chain", "encode_line"),
    # The CPU floor builds each event as AuditTrail.log_event does.
    ("fapilog_notebook.writer._factory", "_plain_payload"),
    ("fapilog_notebook.writer._factory", "utc_now"),
    # The bytes read from object storage: counted by the reader only.
    ("fapilog_notebook.objstore", "bytes_fetched"),
    # The documented compliance subpackage (README, "Compliance analyses").
    ("fapilog_notebook", "compliance"),
}


def _package_imports(path: Path) -> set[tuple[str, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[tuple[str, str]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("fapilog_notebook"):
            found.update((node.module or "", alias.name) for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(
                (alias.name, "")
                for alias in node.names
                if alias.name.startswith("fapilog_notebook.")
            )
    return found


def test_benchmarks_import_public_names_or_a_listed_exception() -> None:
    public = {("fapilog_notebook", name) for name in fapilog_notebook.__all__}
    seen: set[tuple[str, str]] = set()
    for path in sorted(BENCHMARKS.glob("*.py")):
        imports = _package_imports(path)
        seen |= imports
        stray = imports - public - NON_PUBLIC
        assert not stray, f"{path.name} imports {sorted(stray)}"
    assert seen >= NON_PUBLIC, f"listed but no longer imported: {sorted(NON_PUBLIC - seen)}"


def test_no_benchmark_keeps_its_own_copy_of_the_harness() -> None:
    own = {"md_table", "CpuSteal", "cpu_steal", "_status", "_peak_rss", "_rss_now", "_Runs"}
    for path in sorted(BENCHMARKS.glob("bench_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        defined = {
            node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.ClassDef)
        }
        assert not defined & own, f"{path.name} defines {sorted(defined & own)}"
        assert "/proc/self/status" not in path.read_text(encoding="utf-8"), path.name


def test_rounds_interleave_the_rows_and_keep_the_best() -> None:
    order: list[str] = []
    seconds = {"A": iter([3.0, 1.0]), "B": iter([2.0, 2.0]), "C": iter([1.0, 4.0])}

    def measure(name: str) -> harness.Measured:
        order.append(name)
        return next(seconds[name]), True, None, {"run": len(order)}

    rows = [harness.Runs(n) for n in "ABC"]
    lines: list[str] = []
    harness.interleave(
        [(r, partial(measure, r.name)) for r in rows], 2, events=100, report=lines.append
    )
    assert order == ["A", "B", "C", "A", "B", "C"]
    assert len(lines) == 2
    assert lines[0].startswith("  round 1/2: A 33/s, B 50/s, C 100/s")
    a, _, c = rows
    assert a.best == 1.0
    assert a.extra == {"run": 4}
    result = c.result(100, 10)
    assert result.events_per_s == 100.0
    assert result.median_per_s == pytest.approx((100 + 25) / 2)
    assert result.runs_per_s == [100.0, 25.0]
    assert result.ok is True
    assert result.cpu_s >= 0


def test_a_failure_is_kept_and_a_row_that_cannot_run_says_why() -> None:
    runs = harness.Runs("x")
    runs.add(lambda: (1.0, True, None, {}))
    runs.add(lambda: (2.0, False, "broken", {}))
    runs.add(lambda: (3.0, True, None, {}))
    assert (runs.ok, runs.note) == (False, "broken")

    def unavailable() -> harness.Measured:
        raise harness.NotMeasured("not available yet")

    skipped = harness.Runs("y")
    skipped.add(unavailable)
    result = skipped.result(10, 0)
    assert math.isnan(result.events_per_s)
    assert (result.ok, result.note) == (None, "not available yet")
    assert harness.outcome(result.ok, result.note) == "not available yet"


def test_ratio_tables_and_verdicts() -> None:
    rows = [
        harness.RateResult("base", 10, 0, 1.0, 200.0),
        harness.RateResult("ours", 10, 0, 1.0, 300.0),
    ]
    base = harness.rate_of(rows, "base")
    table = harness.md_table(
        ["row", "x base", "note"],
        [[r.name, harness.times(r.events_per_s / base, 2), "-"] for r in rows],
    )
    assert table.splitlines() == [
        "| row | x base | note |",
        "| --- | ---: | --- |",
        "| base | 1.00x | - |",
        "| ours | 1.50x | - |",
    ]
    assert harness.times(math.nan) == "-"
    assert harness.num(math.nan, ".1f") == "-"
    assert harness.num(1234.5, ",.0f") == "1,234"
    assert [harness.met(True), harness.met(False), harness.met(None)] == ["met", "NOT met", "n/a"]
    assert [harness.yes_no(True), harness.yes_no(False), harness.yes_no(None)] == ["yes", "NO", ""]
    assert harness.ratio_verdict(1.01, 1.15) == "1.01x (met: <= 1.15x)"
    assert harness.ratio_verdict(1.29, 1.15) == "1.29x (NOT met: <= 1.15x)"
    assert harness.percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert math.isnan(harness.percentile([], 99))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self/status")
def test_rss_probe_reads_this_process_and_resets_its_peak() -> None:
    now, peak = harness.rss_now(), harness.own_peak_rss()
    assert 0 < now <= peak
    assert harness.status_bytes("NoSuchField") is None
    if harness.reset_peak():
        after = harness.status_bytes("VmHWM")
        assert after is not None
        assert after <= peak


def test_an_isolated_probe_reports_its_own_memory() -> None:
    probe = (
        "import json; from benchmarks import harness; "
        "print(json.dumps({'peak': harness.own_peak_rss(), 'now': harness.rss_now()}))"
    )
    out = harness.run_isolated(probe)
    # A fresh small interpreter, not this test process's size.
    assert 0 < out["now"] <= out["peak"] < 200 * 1024 * 1024
    with pytest.raises(RuntimeError, match="secret"):
        harness.run_isolated('print(\'{"s": "hunter2"}\')', secret="hunter2")
