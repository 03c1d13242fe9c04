"""``%load_ext fapilog_notebook``: %audit_verify and %audit_tail in a real IPython shell."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from fapilog_notebook import VerificationReport
from fapilog_notebook.magics import tail_events

from .notebook_helpers import delete_line, write_trail

interactiveshell = pytest.importorskip("IPython.core.interactiveshell")
UsageError = pytest.importorskip("IPython.core.error").UsageError


@pytest.fixture
def shell() -> Iterator[Any]:
    instance = interactiveshell.InteractiveShell.instance()
    run(instance, "%load_ext fapilog_notebook")
    yield instance
    instance.run_cell("trail = None")
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


def test_audit_verify_returns_and_renders_the_report(shell: Any, trail: Path) -> None:
    report = run(shell, f"%audit_verify {trail}")
    assert isinstance(report, VerificationReport)
    assert report.valid
    assert report.events_checked == 60
    bundle, _ = shell.display_formatter.format(report)
    assert bundle["text/plain"] == str(report)
    assert "VALID" in bundle["text/html"]
    run(shell, f"kept = %audit_verify {trail} --since 2026-03-02")
    assert shell.user_ns["kept"].events_checked == 40


def test_audit_verify_reports_tampering(shell: Any, trail: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in trail.glob("audit_*.jsonl"):
        (copy / path.name).write_bytes(path.read_bytes())
    delete_line(copy / "audit_2026-03-02.jsonl", 7)
    shell.user_ns["evidence"] = copy
    report = run(shell, "%audit_verify evidence")
    assert not report.valid
    assert report.findings["kind"].tolist() == ["sequence_gap"]
    assert (
        "sequence_gap audit_2026-03-02.jsonl:7"
        in shell.display_formatter.format(report)[0]["text/plain"]
    )


def test_audit_tail_returns_the_last_events(shell: Any, trail: Path) -> None:
    frame = run(shell, f"%audit_tail {trail} 5")
    assert isinstance(frame, pd.DataFrame)
    assert frame["sequence_number"].tolist() == [56, 57, 58, 59, 60]
    assert run(shell, f"%audit_tail {trail}")["sequence_number"].tolist() == list(range(51, 61))
    across = run(shell, f"%audit_tail {trail} 25")
    assert across["sequence_number"].tolist() == list(range(36, 61))
    assert across["source_file"].astype(str).str.endswith("03-02.jsonl").sum() == 5
    one_file = trail / "audit_2026-03-01.jsonl"
    assert tail_events(one_file, 2)["sequence_number"].tolist() == [19, 20]
    assert len(run(shell, f"%audit_tail {trail} 0")) == 0


@pytest.mark.parametrize(
    "line",
    ["%audit_tail", "%audit_tail a b c", "%audit_tail x many", "%audit_tail x -1", "%audit_verify"],
)
def test_usage_errors_say_how_to_call(shell: Any, line: str) -> None:
    with pytest.raises(UsageError, match=r"usage|N must"):
        run(shell, line)


def test_top_level_await_then_magics_see_each_line(shell: Any, tmp_path: Path) -> None:
    """The loop runs only during a cell, yet each awaited line is on disk after it."""
    run(shell, "from fapilog_notebook import AuditTrail")
    run(shell, f"trail = AuditTrail(storage_path={str(tmp_path)!r})")
    for cell in range(3):
        event_id = run(shell, f"await trail.log_event('data_access', 'cell {cell}', user_id='u')")
        tail = run(shell, f"%audit_tail {tmp_path} 1")
        assert tail["event_id"].tolist() == [event_id]
        report = run(shell, f"%audit_verify {tmp_path}")
        assert report.valid
        assert report.events_checked == cell + 1
    run(shell, "await trail.stop()")
