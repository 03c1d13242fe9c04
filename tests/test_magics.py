"""``%load_ext fapilog_notebook``: %audit_verify and %audit_tail in a real IPython shell."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from fapilog_notebook import VerificationReport
from fapilog_notebook.notebook import tail_events

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


def test_audit_tail_leads_with_when_what_who_and_message(shell: Any, trail: Path) -> None:
    frame = run(shell, f"%audit_tail {trail} 3")
    assert list(frame.columns[:5]) == ["timestamp", "event_type", "log_level", "user_id", "message"]
    assert {"checksum", "client_ip", "sequence_number"} <= set(frame.columns[5:])
    # What a notebook shows when the frame is wider than the screen: the lead survives.
    with pd.option_context("display.max_columns", 10, "display.width", 400):
        shown = shell.display_formatter.format(frame)[0]["text/plain"]
    assert "message" in shown
    assert "checksum" not in shown


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    import asyncio
    import secrets

    from fapilog_notebook import AuditTrail

    directory = tmp_path_factory.mktemp("keyed")
    key = secrets.token_bytes(32)

    async def write() -> None:
        async with AuditTrail(storage_path=directory, key=key) as keyed_trail:
            for n in range(4):
                await keyed_trail.log_event("data_access", f"keyed {n}")

    asyncio.run(write())
    return directory, key


def test_audit_verify_takes_key_and_anchor_options_like_the_cli(
    shell: Any, keyed: tuple[Path, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory, key = keyed
    assert run(shell, f"%audit_verify {directory}").macs_unchecked == 4
    key_file = tmp_path / "key.hex"
    key_file.write_text(key.hex(), encoding="ascii")
    with_file = run(shell, f"%audit_verify {directory} --key-file {key_file}")
    assert with_file.valid
    assert with_file.macs_checked == 4
    monkeypatch.setenv("AUDIT_KEY_FOR_TEST", key.hex())
    assert run(shell, f"%audit_verify {directory} --key-env AUDIT_KEY_FOR_TEST").macs_checked == 4
    anchor = tmp_path / "anchor.json"
    anchor.write_text(json.dumps(with_file.head.to_dict()), encoding="utf-8")
    anchored = run(
        shell,
        f"%audit_verify {directory} --key-file {key_file} --anchor {anchor} --until 2999-12-31",
    )
    assert anchored.valid
    assert anchored.anchors_checked == 1
    forged = {**with_file.head.to_dict(), "checksum": "0" * 64}
    anchor.write_text(json.dumps(forged), encoding="utf-8")
    assert not run(shell, f"%audit_verify {directory} --anchor {anchor}").valid


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("--key x", "unknown option --key"),
        ("--key-file a --key-env B", "not both"),
        ("--since 2026-03-01 --since 2026-03-02", "--since given twice"),
        ("--key-file /definitely/not/here", "key file not found"),
        ("--key-env FAPILOG_UNSET_FOR_TEST", "not set or empty"),
    ],
)
def test_audit_verify_option_errors_are_usage_errors(
    shell: Any, trail: Path, options: str, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        run(shell, f"%audit_verify {trail} {options}")
