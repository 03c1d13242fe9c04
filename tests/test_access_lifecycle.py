"""Recording who read the trail (``access_log=``) and when logging started and stopped."""

from __future__ import annotations

import asyncio
import getpass
import shutil
from pathlib import Path
from typing import Any

import pytest

from fapilog_notebook import (
    AuditTrail,
    AuditWriteError,
    AuditWriteWarning,
    read_audit_log,
    verify_audit_log,
)
from fapilog_notebook.access import record_access

from .trail_helpers import assert_chain_intact, lines_on_disk

FIXTURE = Path(__file__).parent / "fixtures" / "fapilog-0.3.5"


def _copy_fixture(tmp_path: Path) -> Path:
    target = tmp_path / "trail"
    shutil.copytree(FIXTURE, target)
    return target


def _access_events(directory: Path) -> list[dict[str, Any]]:
    return [e for e in lines_on_disk(directory) if e["event_type"] == "audit_log_access"]


async def test_record_lifecycle_writes_startup_and_shutdown(tmp_path: Path) -> None:
    trail = AuditTrail(storage_path=tmp_path, record_lifecycle=True)
    await trail.start()
    await trail.log_event("data_access", "read", user_id="alice")
    await trail.stop()
    types = [e["event_type"] for e in lines_on_disk(tmp_path)]
    assert types == ["system_startup", "data_access", "system_shutdown"]
    assert assert_chain_intact(tmp_path) == 3
    # A second run on the same directory records its own start and stop.
    async with AuditTrail(storage_path=tmp_path, record_lifecycle=True):
        pass
    types = [e["event_type"] for e in lines_on_disk(tmp_path)]
    assert types[3:] == ["system_startup", "system_shutdown"]
    first = lines_on_disk(tmp_path)[0]
    assert first["metadata"]["storage_path"] == str(tmp_path)
    assert first["user_id"] == getpass.getuser()  # PCI DSS 10.2.2: who started logging


async def test_lifecycle_is_off_by_default(tmp_path: Path) -> None:
    async with AuditTrail(storage_path=tmp_path) as trail:
        await trail.log_event("data_access", "read")
    assert [e["event_type"] for e in lines_on_disk(tmp_path)] == ["data_access"]


async def test_startup_is_recorded_when_the_first_event_starts_the_trail(tmp_path: Path) -> None:
    trail = AuditTrail(storage_path=tmp_path, record_lifecycle=True)
    await trail.log_event("config_changed", "x")
    await trail.stop()
    types = [e["event_type"] for e in lines_on_disk(tmp_path)]
    assert types == ["system_startup", "config_changed", "system_shutdown"]


def test_read_audit_log_records_who_read_what_from_sync_code(tmp_path: Path) -> None:
    source = _copy_fixture(tmp_path)
    access_dir = tmp_path / "access"
    trail = AuditTrail(storage_path=access_dir)
    frame = read_audit_log(
        source, since="2026-03-31", until="2026-04-02", access_log=trail, user_id="auditor-1"
    )
    assert len(frame) > 0
    verify_audit_log(source, access_log=trail, progress=False)
    events = _access_events(access_dir)
    assert [e["operation"] for e in events] == ["read_audit_log", "verify_audit_log"]
    first, second = events
    assert first["user_id"] == "auditor-1"
    assert first["metadata"] == {
        "source": str(source),
        "since": "2026-03-31",
        "until": "2026-04-02",
    }
    assert second["user_id"] == getpass.getuser()
    assert second["metadata"]["since"] is None
    assert assert_chain_intact(access_dir) == 2
    asyncio.run(trail.stop())


async def test_access_is_recorded_from_inside_a_running_loop(tmp_path: Path) -> None:
    # As in a notebook cell: a loop runs in this thread and cannot be waited on.
    source = _copy_fixture(tmp_path)
    trail = AuditTrail(storage_path=tmp_path / "access")
    await trail.start()
    await trail.log_event("data_access", "before")
    frame = read_audit_log(source, access_log=trail, user_id="bob")
    assert len(frame) > 0
    # On disk when the call returned, before anything else ran on this loop.
    events = _access_events(tmp_path / "access")
    assert len(events) == 1
    assert events[0]["user_id"] == "bob"
    await trail.log_event("data_access", "after")
    await trail.stop()
    assert assert_chain_intact(tmp_path / "access") == 3


async def test_an_unstarted_trail_is_started_by_the_access_record(tmp_path: Path) -> None:
    trail = AuditTrail(storage_path=tmp_path / "access")
    event_id = record_access(trail, action="explore", source=["a", "b"], user_id="carol")
    assert event_id
    assert _access_events(tmp_path / "access")[0]["event_id"] == event_id
    await trail.stop()


def test_access_log_arguments_are_checked(tmp_path: Path) -> None:
    source = _copy_fixture(tmp_path)
    with pytest.raises(TypeError, match="access_log must be an AuditTrail"):
        read_audit_log(source, access_log=str(tmp_path))  # type: ignore[call-overload]
    with pytest.raises(ValueError, match=r"user_id .* needs access_log"):
        verify_audit_log(source, user_id="alice")
    with pytest.raises(ValueError, match="user_id must be a non-empty string"):
        read_audit_log(source, access_log=AuditTrail(storage_path=tmp_path / "a"), user_id="")


@pytest.mark.filterwarnings("ignore::fapilog_notebook.AuditWriteWarning")
def test_a_failing_access_log_raises_instead_of_reading(tmp_path: Path) -> None:
    source = _copy_fixture(tmp_path)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    trail = AuditTrail(storage_path=blocker, on_write_error="raise")
    with pytest.raises(AuditWriteError, match="not-a-directory"):
        read_audit_log(source, access_log=trail)


async def test_an_access_blocked_by_this_loop_warns_and_is_written_later(tmp_path: Path) -> None:
    # A task of this loop has claimed the next commit and yielded before handing it to
    # the worker thread: a synchronous caller on this loop cannot wait for it.
    trail = AuditTrail(storage_path=tmp_path)
    await trail.start()
    leader = asyncio.ensure_future(trail.log_event("data_access", "claimed first"))
    await asyncio.sleep(0)
    with pytest.warns(AuditWriteWarning, match="stays queued"):
        event_id = record_access(trail, action="explore", source="x", timeout=0.5)
    assert event_id == ""
    await leader
    await trail.drain()
    for _ in range(100):  # the helper thread's own loop learns of the commit
        if len(lines_on_disk(tmp_path)) == 2:
            break
        await asyncio.sleep(0.05)
    assert [e["event_type"] for e in lines_on_disk(tmp_path)] == [
        "data_access",
        "audit_log_access",
    ]
    await trail.stop()


def test_explore_records_the_access(tmp_path: Path) -> None:
    pytest.importorskip("ipywidgets")
    from fapilog_notebook import explore

    source = _copy_fixture(tmp_path)
    trail = AuditTrail(storage_path=tmp_path / "access")
    explore(source, access_log=trail, user_id="dana")
    explore(read_audit_log(source), access_log=trail)
    first, second = _access_events(tmp_path / "access")
    assert (first["operation"], first["user_id"]) == ("explore", "dana")
    assert first["metadata"]["source"] == str(source)
    assert second["metadata"]["source"] == sorted(
        str(path) for path in source.glob("audit_*.jsonl")
    )
    asyncio.run(trail.stop())
