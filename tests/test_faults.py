"""Storage faults are contained, counted, surfaced and retried; nothing is lost."""

from __future__ import annotations

import asyncio
import errno
from pathlib import Path

import pytest

from fapilog_notebook import (
    AuditEventType,
    AuditQueueFullError,
    AuditTrail,
    AuditWriteError,
    AuditWriteWarning,
)

from .trail_helpers import FlakyStorage, assert_chain_intact, lines_on_disk


def disk_full() -> OSError:
    return OSError(errno.ENOSPC, "No space left on device")


async def test_a_fault_that_clears_loses_nothing_and_keeps_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with AuditTrail(storage_path=tmp_path) as trail:
        await trail.log_event(AuditEventType.DATA_ACCESS, "before the fault")
        flaky = FlakyStorage(monkeypatch, disk_full)
        with pytest.warns(AuditWriteWarning, match="No space left"):
            ids = [
                await trail.log_event(AuditEventType.DATA_ACCESS, f"during {i}") for i in range(5)
            ]
        stats = await trail.get_statistics()
        assert stats["events_written"] == 1
        assert stats["events_pending"] == 5
        assert stats["write_failures"] == 5  # each call retried the whole queue
        assert "No space left" in stats["last_error"]
        # The partial writes were undone: only the first event is on disk.
        assert len(lines_on_disk(tmp_path)) == 1
        flaky.heal()
        ids.append(await trail.log_event(AuditEventType.DATA_ACCESS, "after the fault"))
        stats = await trail.get_statistics()
    assert stats["events_pending"] == 0
    assert stats["events_written"] == 7
    events = lines_on_disk(tmp_path)
    assert [e["event_id"] for e in events[1:]] == ids
    assert [e["sequence_number"] for e in events] == list(range(1, 8))
    assert assert_chain_intact(tmp_path) == 7


async def test_drain_and_stop_retry_what_is_queued(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trail = AuditTrail(storage_path=tmp_path)
    await trail.start()
    flaky = FlakyStorage(monkeypatch, disk_full)
    with pytest.warns(AuditWriteWarning):
        await asyncio.gather(
            *(trail.log_event(AuditEventType.DATA_ACCESS, f"e{i}") for i in range(3))
        )
    await trail.drain()  # still failing: contained, nothing written
    assert (await trail.get_statistics())["events_pending"] == 3
    flaky.heal()
    await trail.stop()  # stop() drains: the retry succeeds
    assert [e["message"] for e in lines_on_disk(tmp_path)] == ["e0", "e1", "e2"]


async def test_an_uncreatable_directory_is_contained_then_recovered(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a directory should be")
    target = blocker / "logs"
    trail = AuditTrail(storage_path=target)
    with pytest.warns(AuditWriteWarning, match="blocker"):
        await trail.start()  # contained, as fapilog's AC4 demands
    event_id = await trail.log_event(AuditEventType.DATA_ACCESS, "queued")
    stats = await trail.get_statistics()
    assert stats["events_pending"] == 1
    assert stats["write_failures"] >= 2
    assert "NotADirectoryError" in stats["last_error"] or "FileExistsError" in stats["last_error"]
    blocker.unlink()
    await trail.drain()
    await trail.stop()
    events = lines_on_disk(target)
    assert [e["event_id"] for e in events] == [event_id]
    assert events[0]["sequence_number"] == 1


async def test_fail_closed_mode_raises_and_keeps_the_event_queued(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with AuditTrail(storage_path=tmp_path, on_write_error="raise") as trail:
        flaky = FlakyStorage(monkeypatch, disk_full)
        with pytest.raises(AuditWriteError, match="stays queued"), pytest.warns(AuditWriteWarning):
            await trail.log_event(AuditEventType.DATA_ACCESS, "must not be lost")
        flaky.heal()
        await trail.drain()
    assert [e["message"] for e in lines_on_disk(tmp_path)] == ["must not be lost"]


async def test_a_full_queue_drops_counts_and_warns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with AuditTrail(storage_path=tmp_path, max_pending=3) as trail:
        flaky = FlakyStorage(monkeypatch, disk_full)
        with pytest.warns(AuditWriteWarning) as caught:  # noqa: PT031
            for i in range(5):
                await trail.log_event(AuditEventType.DATA_ACCESS, f"e{i}")
        assert any("dropped" in str(w.message) for w in caught)
        stats = await trail.get_statistics()
        assert stats["events_dropped"] == 2
        assert stats["events_pending"] == 3
        flaky.heal()
    assert [e["message"] for e in lines_on_disk(tmp_path)] == ["e0", "e1", "e2"]
    assert assert_chain_intact(tmp_path) == 3


async def test_a_full_queue_raises_in_fail_closed_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with AuditTrail(storage_path=tmp_path, max_pending=1, on_write_error="raise") as trail:
        flaky = FlakyStorage(monkeypatch, disk_full)
        with pytest.raises(AuditWriteError), pytest.warns(AuditWriteWarning):
            await trail.log_event(AuditEventType.DATA_ACCESS, "queued")
        with pytest.raises(AuditQueueFullError, match="dropped"):
            await trail.log_event(AuditEventType.DATA_ACCESS, "no room")
        flaky.heal()


async def test_stop_with_unwritten_events_warns_and_keeps_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trail = AuditTrail(storage_path=tmp_path)
    await trail.start()
    flaky = FlakyStorage(monkeypatch, disk_full)
    with pytest.warns(AuditWriteWarning):
        await trail.log_event(AuditEventType.DATA_ACCESS, "kept")
    with pytest.warns(AuditWriteWarning, match="1 events not written"):
        await trail.stop()
    flaky.heal()
    await trail.start()
    await trail.drain()
    await trail.stop()
    assert [e["message"] for e in lines_on_disk(tmp_path)] == ["kept"]
