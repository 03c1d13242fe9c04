"""``%audit_report`` in a real IPython shell."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fapilog_notebook.compliance import ComplianceReport

from .notebook_helpers import write_trail

interactiveshell = pytest.importorskip("IPython.core.interactiveshell")
UsageError = pytest.importorskip("IPython.core.error").UsageError


@pytest.fixture
def shell() -> Iterator[Any]:
    instance = interactiveshell.InteractiveShell.instance()
    instance.run_cell("%load_ext fapilog_notebook").raise_error()
    yield instance
    interactiveshell.InteractiveShell.clear_instance()


@pytest.fixture(scope="module")
def trail(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("trail")
    write_trail(directory, days=3, per_day=20)
    return directory


def run(shell: Any, code: str) -> Any:
    result = shell.run_cell(code)
    result.raise_error()
    return result.result


def test_audit_report_returns_and_renders_the_report(
    shell: Any, trail: Path, tmp_path: Path
) -> None:
    html, out = tmp_path / "r.html", tmp_path / "r.json"
    report = run(
        shell,
        f"%audit_report {trail} --framework pci-dss,sox --tz Europe/Berlin "
        f"--html {html} --json {out}",
    )
    assert isinstance(report, ComplianceReport)
    assert set(report.controls["framework"]) == {"PCI DSS v4.0", "SOX ITGC"}
    assert report.parameters["tz"] == "Europe/Berlin"
    assert json.loads(out.read_text(encoding="utf-8"))["verdict"] == report.verdict
    assert "Compliance report" in html.read_text(encoding="utf-8")
    bundle, _ = shell.display_formatter.format(report)
    assert bundle["text/plain"] == str(report)
    assert "fnc-data" in bundle["text/html"]


def test_audit_report_takes_a_variable(shell: Any, trail: Path) -> None:
    shell.user_ns["where"] = str(trail)
    report = run(shell, "%audit_report where --since 2026-03-02")
    assert report.period[0] == "2026-03-02"


@pytest.mark.parametrize(
    "line", ["", "a b", "{trail} --bogus 1", "{trail} --framework iso", "{trail} --tz Nowhere/X"]
)
def test_audit_report_usage_errors(shell: Any, trail: Path, line: str) -> None:
    result = shell.run_cell(f"%audit_report {line.format(trail=trail)}")
    assert isinstance(result.error_in_exec, UsageError)
