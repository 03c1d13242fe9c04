"""Storage faults are contained, counted, surfaced and retried; nothing is lost."""

from __future__ import annotations

import asyncio
import errno
import warnings
from pathlib import Path
from typing import Any

import pytest

import fapilog_notebook.writer._commit as trail_module
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


async def test_warnings_as_errors_still_fail_the_write_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Under `python -W error` the storage warning raises in the worker thread:
    # the caller must still hear that its event is not on disk.
    async with AuditTrail(storage_path=tmp_path, on_write_error="raise") as trail:
        flaky = FlakyStorage(monkeypatch, disk_full)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(AuditWriteError, match="No space left"):
                await trail.log_event(AuditEventType.DATA_ACCESS, "not written yet")
        flaky.heal()
        # What escaped the worker thread is logged (just after the caller is told).
        for _ in range(500):
            if any("audit commit" in r.getMessage() for r in caplog.records):
                break
            await asyncio.sleep(0.01)
        assert any("audit commit" in r.getMessage() for r in caplog.records)
    assert [e["message"] for e in lines_on_disk(tmp_path)] == ["not written yet"]


async def test_a_batch_that_cannot_be_prepared_leaves_the_trail_usable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with AuditTrail(storage_path=tmp_path) as trail:
        await trail.log_event(AuditEventType.DATA_ACCESS, "first")
        real = AuditTrail._seal_line
        calls = 0

        def fail_once(self: AuditTrail, last: Any) -> bytes:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise MemoryError("simulated")
            return real(self, last)

        monkeypatch.setattr(AuditTrail, "_seal_line", fail_once)
        with pytest.raises(MemoryError):
            await trail.log_event(AuditEventType.DATA_ACCESS, "second")
        await asyncio.wait_for(trail.log_event(AuditEventType.DATA_ACCESS, "third"), 10)
    assert [e["message"] for e in lines_on_disk(tmp_path)] == ["first", "second", "third"]
    assert assert_chain_intact(tmp_path) == 3


async def test_callers_sharing_a_batch_that_cannot_be_submitted_are_not_acknowledged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class ShutDown:
        def submit(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("cannot schedule new futures after interpreter shutdown")

    async with AuditTrail(storage_path=tmp_path, on_write_error="raise") as trail:
        await trail.log_event(AuditEventType.DATA_ACCESS, "first")
        with monkeypatch.context() as patch:
            patch.setattr(trail_module, "_workers", ShutDown)
            results = await asyncio.gather(
                *(trail.log_event(AuditEventType.DATA_ACCESS, f"e{i}") for i in range(3)),
                return_exceptions=True,
            )
        kinds = sorted(type(r).__name__ for r in results)
        assert kinds == ["AuditWriteError", "AuditWriteError", "RuntimeError"]
    assert [e["message"] for e in lines_on_disk(tmp_path)] == ["first", "e0", "e1", "e2"]
