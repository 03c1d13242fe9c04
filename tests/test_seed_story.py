"""The seed story's acceptance tests AC2 to AC4, as written there (import changed)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from fapilog_notebook import AuditEventType, AuditTrail


@pytest.fixture(autouse=True)
def _in_tmp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # AuditTrail() writes to ./audit_logs, as fapilog's does.
    monkeypatch.chdir(tmp_path)


async def test_audit_does_not_block_loop() -> None:
    trail = AuditTrail()
    await trail.start()

    # Measure time for concurrent operations
    async def other_work() -> bool:
        await asyncio.sleep(0.001)
        return True

    async def audit_burst() -> None:
        for i in range(100):
            await trail.log_event(AuditEventType.DATA_ACCESS, f"event {i}")

    # Both should complete without one blocking the other
    results = await asyncio.gather(audit_burst(), other_work())
    assert results[1] is True  # other_work completed
    await trail.stop()


async def test_chain_integrity_after_async_writes() -> None:
    trail = AuditTrail()
    await trail.start()

    for i in range(10):
        await trail.log_event(AuditEventType.DATA_ACCESS, f"event {i}")

    await trail.drain()
    result = await trail.verify_chain_from_storage()
    assert result.valid is True
    assert result.events_checked == 10
    await trail.stop()


@pytest.fixture
def _remove_nonexistent_path() -> Iterator[None]:
    # As root, /nonexistent/path can be created; leave the machine as found.
    existed = Path("/nonexistent").exists()
    yield
    if not existed:
        shutil.rmtree("/nonexistent", ignore_errors=True)


@pytest.mark.usefixtures("_remove_nonexistent_path")
async def test_write_error_contained() -> None:
    trail = AuditTrail(storage_path=Path("/nonexistent/path"))
    await trail.start()

    # Should not raise, error is contained
    await trail.log_event(AuditEventType.DATA_ACCESS, "test")
    await trail.drain()
    await trail.stop()
