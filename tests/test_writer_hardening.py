"""The writer's file handling under a hostile or changing directory.

A day file deleted or moved while open, names planted as links or FIFOs,
power-cut durability of new names, and many first calls at once.
"""

from __future__ import annotations

import asyncio
import errno
import os
import secrets
import stat
import warnings
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from fapilog_notebook import (
    AuditEventType,
    AuditTrail,
    AuditTrailLockedError,
    AuditWriteError,
    AuditWriteWarning,
    errors,
    keys,
    storage,
)
from fapilog_notebook.chain import check_line
from fapilog_notebook.verify import verify_audit_log

from .trail_helpers import FlakyStorage, assert_chain_intact, lines_on_disk

DAY = date(2026, 3, 1)
NOON = datetime(2026, 3, 1, 12, tzinfo=UTC)
TIMEOUT = 20  # seconds: a regression must fail the test, not hang the suite


def fixed_clock() -> datetime:
    return NOON


def today_file(directory: Path) -> Path:
    return storage.file_for_day(directory, DAY)


async def log(trail: AuditTrail, message: str) -> str:
    return await asyncio.wait_for(trail.log_event(AuditEventType.DATA_ACCESS, message), TIMEOUT)


def precious(tmp_path: Path) -> Path:
    """A file outside the storage directory that a planted link points to."""
    target = tmp_path / "precious.txt"
    target.write_bytes(b"must stay exactly as it is\n")
    return target


def untouched(target: Path) -> bool:
    return target.read_bytes() == b"must stay exactly as it is\n"


# ---------------------------------------------------------------- item 8: detached day file


def _unlink(path: Path) -> None:
    path.unlink()


def _rename(path: Path) -> None:
    path.rename(path.with_name("moved-away.jsonl"))


@pytest.mark.parametrize("fsync", [False, True])
@pytest.mark.parametrize("change", [_unlink, _rename], ids=["unlink", "rename"])
async def test_a_day_file_deleted_or_moved_between_events_is_reopened(
    tmp_path: Path, fsync: bool, change: Callable[[Path], None]
) -> None:
    directory = tmp_path / "logs"
    async with AuditTrail(storage_path=directory, fsync=fsync, clock=fixed_clock) as trail:
        await log(trail, "first")
        first = lines_on_disk(directory)[0]
        change(today_file(directory))
        with pytest.warns(AuditWriteWarning, match="deleted or replaced while open"):
            second_id = await log(trail, "second")
        # The acknowledged event is at the path, not in a detached file.
        on_disk = lines_on_disk(directory)
        assert [e["event_id"] for e in on_disk] == [second_id]
        await log(trail, "third")
        stats = await trail.get_statistics()
    assert stats["files_replaced"] == 1
    assert "deleted or replaced" in stats["last_error"]
    assert stats["events_written"] == 3
    events = lines_on_disk(directory)
    assert [e["message"] for e in events] == ["second", "third"]
    # The chain continues: the new file's first line links to the last event written.
    assert events[0]["sequence_number"] == 2
    assert events[0]["previous_hash"] == first["checksum"]
    if change is _rename:
        moved = directory / "moved-away.jsonl"
        assert [check_line(raw).sequence_number for raw in moved.read_bytes().splitlines()] == [1]


async def test_a_day_file_replaced_during_the_write_is_written_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The path is checked before the write, and again after it: a file
    # unlinked in between must not hold the only copy of an acknowledged batch.
    async with AuditTrail(storage_path=tmp_path, clock=fixed_clock) as trail:
        await log(trail, "first")
        real = storage.write_all
        calls = 0

        def unlink_then_write(fd: int, data: bytes) -> None:
            nonlocal calls
            calls += 1
            if calls == 1:
                today_file(tmp_path).unlink()
            real(fd, data)

        monkeypatch.setattr(storage, "write_all", unlink_then_write)
        with pytest.warns(AuditWriteWarning, match="deleted or replaced"):
            second_id = await log(trail, "second")
        assert [e["event_id"] for e in lines_on_disk(tmp_path)] == [second_id]
        stats = await trail.get_statistics()
    assert stats["files_replaced"] == 1


def test_day_files_say_when_the_open_file_lost_its_name(tmp_path: Path) -> None:
    files = storage.DayFiles(tmp_path, fsync=False)
    try:
        assert files.append(DAY, b'{"a":1}\n') is None
        path = today_file(tmp_path)
        path.rename(tmp_path / "elsewhere")
        path.write_bytes(b'{"x":0}\n')  # another file now has the name
        note = files.append(DAY, b'{"b":2}\n')
        assert note is not None
        assert str(path) in note
        assert files.append(DAY, b'{"c":3}\n') is None
    finally:
        files.close()
    assert path.read_bytes() == b'{"x":0}\n{"b":2}\n{"c":3}\n'
    assert (tmp_path / "elsewhere").read_bytes() == b'{"a":1}\n'


# ---------------------------------------------------------------- item 12: directory fsync


class DirectoryFsyncs:
    """Records the directories ``os.fsync`` is called on."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.directories: list[str] = []
        real = os.fsync

        def fsync(fd: int) -> None:
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                self.directories.append(os.readlink(f"/proc/self/fd/{fd}"))
            real(fd)

        monkeypatch.setattr(os, "fsync", fsync)


@pytest.mark.parametrize("fsync", [False, True])
def test_a_new_day_file_fsyncs_its_directory_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fsync: bool
) -> None:
    recorded = DirectoryFsyncs(monkeypatch)
    files = storage.DayFiles(tmp_path, fsync=fsync)
    try:
        files.append(DAY, b'{"a":1}\n')
        files.append(DAY, b'{"b":2}\n')  # not a new name: no directory fsync
        files.append(date(2026, 3, 2), b'{"c":3}\n')
    finally:
        files.close()
    assert recorded.directories == ([str(tmp_path)] * 2 if fsync else [])


@pytest.mark.parametrize("fsync", [False, True])
def test_a_new_seal_file_fsyncs_its_directory_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fsync: bool
) -> None:
    recorded = DirectoryFsyncs(monkeypatch)
    seal = storage.SealFile(tmp_path, fsync=fsync)
    seal.write(b'{"a":1}\n')
    seal.write(b'{"a":2}\n')
    seal.close()
    storage.SealFile(tmp_path, fsync=fsync).close()  # exists now: no new name
    assert recorded.directories == ([str(tmp_path)] if fsync else [])


@pytest.mark.parametrize("fsync", [False, True])
def test_a_record_renamed_into_place_fsyncs_its_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fsync: bool
) -> None:
    recorded = DirectoryFsyncs(monkeypatch)
    path = storage.manifest_path(tmp_path, DAY)
    storage.write_record(path, {"kind": "manifest"}, fsync=fsync)
    storage.write_record(path, {"kind": "manifest", "again": True}, fsync=fsync)
    assert recorded.directories == ([str(tmp_path)] * 2 if fsync else [])
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temporary left


async def test_a_trail_fsyncs_each_new_name_once_not_each_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded = DirectoryFsyncs(monkeypatch)
    directory = tmp_path / "logs"
    async with AuditTrail(storage_path=directory, fsync=True, clock=fixed_clock) as trail:
        for i in range(5):
            await log(trail, f"e{i}")
        during = list(recorded.directories)
    # The new storage directory (in its parent), the day file and the seal,
    # then the manifest renamed into place at stop().
    assert during == [str(tmp_path), str(directory), str(directory)]
    assert recorded.directories == [*during, str(directory)]


# ---------------------------------------------------------------- item 13: planted links


async def test_a_link_as_the_lock_file_is_refused(tmp_path: Path) -> None:
    target = precious(tmp_path)
    directory = tmp_path / "logs"
    directory.mkdir()
    link = directory / storage.LOCK_NAME
    link.symlink_to(target)
    with (
        pytest.raises(AuditWriteError, match="symbolic link"),
        pytest.warns(AuditWriteWarning, match="symbolic link"),
    ):
        await AuditTrail(storage_path=directory, on_write_error="raise").start()
    trail = AuditTrail(storage_path=directory)
    with pytest.warns(AuditWriteWarning, match="symbolic link"):
        await asyncio.wait_for(trail.start(), TIMEOUT)
    stats = await trail.get_statistics()
    assert stats["write_failures"] == 1
    assert str(link) in stats["last_error"]
    assert untouched(target)


@pytest.mark.parametrize("mode", ["contain", "raise"])
async def test_a_link_as_todays_audit_file_is_refused(tmp_path: Path, mode: Any) -> None:
    target = precious(tmp_path)
    directory = tmp_path / "logs"
    trail = AuditTrail(storage_path=directory, clock=fixed_clock, on_write_error=mode)
    await trail.start()
    today_file(directory).symlink_to(target)  # planted while the trail runs
    if mode == "raise":
        with (
            pytest.warns(AuditWriteWarning, match="symbolic link"),
            pytest.raises(AuditWriteError, match="symbolic link"),
        ):
            await log(trail, "refused")
    else:
        with pytest.warns(AuditWriteWarning, match="symbolic link"):
            await log(trail, "queued")
    stats = await trail.get_statistics()
    assert stats["events_pending"] == 1
    assert stats["write_failures"] == 1
    assert str(today_file(directory)) in stats["last_error"]
    with pytest.warns(AuditWriteWarning):
        await asyncio.wait_for(trail.stop(), TIMEOUT)
    assert untouched(target)


@pytest.mark.parametrize("day", [DAY, date(2026, 2, 28)], ids=["today", "earlier"])
async def test_a_linked_audit_file_is_refused_before_the_head_is_read(
    tmp_path: Path, day: date
) -> None:
    # Reading the head at start terminates a torn last line of the newest
    # file: through a link, that would append to the link's target.
    target = tmp_path / "precious.txt"
    target.write_bytes(b"no newline at the end")
    directory = tmp_path / "logs"
    directory.mkdir()
    storage.file_for_day(directory, day).symlink_to(target)
    trail = AuditTrail(storage_path=directory, clock=fixed_clock)
    with pytest.warns(AuditWriteWarning, match="symbolic link"):
        await asyncio.wait_for(trail.start(), TIMEOUT)
    await log(trail, "queued")
    stats = await trail.get_statistics()
    assert stats["events_pending"] == 1
    assert str(storage.file_for_day(directory, day)) in stats["last_error"]
    with pytest.warns(AuditWriteWarning):
        await asyncio.wait_for(trail.stop(), TIMEOUT)
    assert target.read_bytes() == b"no newline at the end"


async def test_a_link_as_the_seal_is_refused_and_the_events_still_written(
    tmp_path: Path,
) -> None:
    target = precious(tmp_path)
    directory = tmp_path / "logs"
    directory.mkdir()
    (directory / storage.SEAL_NAME).symlink_to(target)
    async with AuditTrail(storage_path=directory, clock=fixed_clock) as trail:
        with pytest.warns(AuditWriteWarning, match="symbolic link"):
            await log(trail, "written")
        stats = await trail.get_statistics()
    assert stats["seal_failures"] >= 1
    assert stats["events_written"] == 1
    assert "symbolic link" in stats["last_error"]
    assert [e["message"] for e in lines_on_disk(directory)] == ["written"]
    assert untouched(target)


def test_a_link_planted_as_a_manifest_temporary_is_never_written_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = precious(tmp_path)
    path = storage.manifest_path(tmp_path, DAY)
    # The fixed name earlier versions used: now never opened.
    path.with_name(f"{path.name}.tmp").symlink_to(target)
    storage.write_record(path, {"kind": "manifest"}, fsync=False)
    assert untouched(target)
    assert not path.is_symlink()
    assert storage.read_record(path) == {"kind": "manifest"}
    # A name guessed in advance: refused, the target and the record untouched.
    monkeypatch.setattr(secrets, "token_hex", lambda n: "guessed")
    guessed = path.with_name(f"{path.name}.tmp-{os.getpid()}-guessed")
    guessed.symlink_to(target)
    with pytest.raises(FileExistsError):
        storage.write_record(path, {"kind": "manifest", "second": True}, fsync=False)
    assert untouched(target)
    assert storage.read_record(path) == {"kind": "manifest"}


async def test_a_link_as_a_manifest_temporary_is_contained_by_the_trail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = precious(tmp_path)
    directory = tmp_path / "logs"
    monkeypatch.setattr(secrets, "token_hex", lambda n: "guessed")
    async with AuditTrail(storage_path=directory, clock=fixed_clock) as trail:
        await log(trail, "written")
        manifest = storage.manifest_path(directory, DAY)
        manifest.with_name(f"{manifest.name}.tmp").symlink_to(target)
        manifest.with_name(f"{manifest.name}.tmp-{os.getpid()}-guessed").symlink_to(target)
        with pytest.warns(AuditWriteWarning, match="seal/manifest"):
            await trail.stop()
        stats = await trail.get_statistics()
    assert stats["seal_failures"] == 1
    assert untouched(target)
    assert [e["message"] for e in lines_on_disk(directory)] == ["written"]


def test_a_link_planted_as_the_key_temporary_is_never_written_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = precious(tmp_path)
    writer, _ = keys.keygen(tmp_path / "w.key", tmp_path / "v.key", start=DAY)
    before = writer.read_bytes()
    # The fixed name earlier versions used: now never opened.
    (tmp_path / f".{writer.name}.tmp-{os.getpid()}").symlink_to(target)
    state = keys.WriterKey(writer)
    state.advance(date(2026, 3, 2))
    state.persist()  # the file is overwritten here, once the days left are recorded
    assert untouched(target)
    assert writer.read_bytes() != before
    # A name guessed in advance: refused, the target untouched, the key unchanged.
    monkeypatch.setattr(secrets, "token_hex", lambda n: "guessed")
    (tmp_path / f".{writer.name}.tmp-{os.getpid()}-guessed").symlink_to(target)
    after = writer.read_bytes()
    state = keys.WriterKey(writer)
    state.advance(date(2026, 3, 3))
    with pytest.raises(FileExistsError):
        state.persist()
    assert untouched(target)
    assert writer.read_bytes() == after
    assert not writer.is_symlink()


async def test_the_storage_directory_itself_may_be_a_link(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    async with AuditTrail(storage_path=link, fsync=True, clock=fixed_clock) as trail:
        await log(trail, "a")
        await log(trail, "b")
        stats = await trail.get_statistics()
    assert stats["write_failures"] == stats["seal_failures"] == stats["files_replaced"] == 0
    assert [e["message"] for e in lines_on_disk(real)] == ["a", "b"]


# ---------------------------------------------------------------- item 14: FIFOs, directories


@pytest.mark.parametrize("mode", ["contain", "raise"])
async def test_a_fifo_as_todays_audit_file_is_a_contained_fault(tmp_path: Path, mode: Any) -> None:
    directory = tmp_path / "logs"
    directory.mkdir()
    os.mkfifo(today_file(directory))
    trail = AuditTrail(storage_path=directory, clock=fixed_clock, on_write_error=mode)
    await asyncio.wait_for(trail.start(), TIMEOUT)
    if mode == "raise":
        with (
            pytest.warns(AuditWriteWarning, match="FIFO"),
            pytest.raises(AuditWriteError, match="is a FIFO"),
        ):
            await log(trail, "refused")
    else:
        with pytest.warns(AuditWriteWarning, match="FIFO"):
            await log(trail, "queued")
    stats = await trail.get_statistics()
    assert stats["write_failures"] == 1
    assert str(today_file(directory)) in stats["last_error"]
    with pytest.warns(AuditWriteWarning, match="1 events not written"):
        await asyncio.wait_for(trail.stop(), TIMEOUT)
    # Once the FIFO is gone, the queued event is written.
    today_file(directory).unlink()
    async with AuditTrail(storage_path=directory, clock=fixed_clock) as again:
        await log(again, "after")
    if mode == "contain":
        await asyncio.wait_for(trail.start(), TIMEOUT)
        await asyncio.wait_for(trail.stop(), TIMEOUT)
        assert [e["message"] for e in lines_on_disk(directory)] == ["after", "queued"]
        assert assert_chain_intact(directory) == 2


async def test_a_directory_as_todays_audit_file_is_named_not_raw(tmp_path: Path) -> None:
    directory = tmp_path / "logs"
    directory.mkdir()
    today_file(directory).mkdir()
    trail = AuditTrail(storage_path=directory, clock=fixed_clock)
    await trail.start()
    with pytest.warns(AuditWriteWarning, match="is a directory, not a regular file"):
        await log(trail, "queued")
    stats = await trail.get_statistics()
    assert stats["last_error"].startswith("UnsafeFileError")
    with pytest.warns(AuditWriteWarning):
        await asyncio.wait_for(trail.stop(), TIMEOUT)


@pytest.mark.parametrize("name", [storage.LOCK_NAME, storage.SEAL_NAME])
def test_a_fifo_as_the_lock_or_seal_is_refused(tmp_path: Path, name: str) -> None:
    os.mkfifo(tmp_path / name)
    opener: Callable[[], object] = (
        storage.DirectoryLock(tmp_path).acquire
        if name == storage.LOCK_NAME
        else lambda: storage.SealFile(tmp_path, fsync=False)
    )
    with pytest.raises(errors.UnsafeFileError, match="is a FIFO"):
        opener()


def test_open_regular_names_each_kind(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "link").symlink_to(tmp_path / "missing")
    for name, kind in [("dir", "a directory"), ("fifo", "a FIFO"), ("link", "a symbolic link")]:
        with pytest.raises(errors.UnsafeFileError, match=kind) as caught:
            storage.open_regular(tmp_path / name, os.O_WRONLY)
        assert str(tmp_path / name) in str(caught.value)
    fd, created = storage.open_regular(tmp_path / "new", os.O_WRONLY)
    os.close(fd)
    assert created
    fd, created = storage.open_regular(tmp_path / "new", os.O_WRONLY)
    os.close(fd)
    assert not created
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == storage.FILE_MODE


# ---------------------------------------------------------------- item 17: one shared start


async def test_concurrent_first_calls_share_one_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hops = 0
    real = AuditTrail._exclusive

    async def counted(self: AuditTrail, work: Callable[[], None]) -> None:
        nonlocal hops
        hops += 1
        await real(self, work)

    monkeypatch.setattr(AuditTrail, "_exclusive", counted)
    trail = AuditTrail(storage_path=tmp_path)
    await asyncio.wait_for(
        asyncio.gather(*(trail.log_event(AuditEventType.DATA_ACCESS, f"e{i}") for i in range(300))),
        TIMEOUT,
    )
    assert hops == 1
    await trail.stop()
    assert assert_chain_intact(tmp_path) == 300


async def test_an_error_from_the_shared_start_reaches_every_first_caller(
    tmp_path: Path,
) -> None:
    async with AuditTrail(storage_path=tmp_path):
        second = AuditTrail(storage_path=tmp_path)
        results = await asyncio.wait_for(
            asyncio.gather(
                *(second.log_event(AuditEventType.DATA_ACCESS, f"e{i}") for i in range(20)),
                return_exceptions=True,
            ),
            TIMEOUT,
        )
    assert all(isinstance(r, AuditTrailLockedError) for r in results), results
    # The failed start is not remembered: a later call starts again.
    await log(second, "now free")
    await second.stop()
    assert [e["message"] for e in lines_on_disk(tmp_path)] == ["now free"]


# ---------------------------------------------------------------- item 21: acknowledged, unwritten


def disk_full() -> OSError:
    return OSError(errno.ENOSPC, "No space left on device")


async def test_contained_faults_count_acknowledged_events_not_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with AuditTrail(storage_path=tmp_path) as trail:
        await log(trail, "written")
        flaky = FlakyStorage(monkeypatch, disk_full)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for i in range(3):
                await log(trail, f"acknowledged {i}")
            await log(trail, "one more")
        first = str(caught[0].message)
        assert "1 events are not on disk (0 of them already acknowledged" in first
        stats = await trail.get_statistics()
        assert stats["events_acknowledged_unwritten"] == 4
        assert stats["events_pending"] == 4
        flaky.heal()
        await log(trail, "healed")
        stats = await trail.get_statistics()
    assert stats["events_acknowledged_unwritten"] == 0
    assert stats["events_written"] == 6


async def test_fail_closed_callers_are_not_counted_as_acknowledged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with AuditTrail(storage_path=tmp_path, on_write_error="raise") as trail:
        flaky = FlakyStorage(monkeypatch, disk_full)
        with pytest.raises(AuditWriteError), pytest.warns(AuditWriteWarning) as caught:
            await log(trail, "refused")
        assert "acknowledged to their callers" not in str(caught[0].message)
        stats = await trail.get_statistics()
        assert stats["events_acknowledged_unwritten"] == 0
        flaky.heal()


async def test_stop_says_how_many_acknowledged_events_are_not_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trail = AuditTrail(storage_path=tmp_path)
    await trail.start()
    flaky = FlakyStorage(monkeypatch, disk_full)
    with pytest.warns(AuditWriteWarning):
        await log(trail, "a")
    await log(trail, "b")  # the same failure streak: no second warning
    with pytest.warns(AuditWriteWarning, match=r"2 events not written .*\(2 of them acknowledged"):
        await trail.stop()
    flaky.heal()
    await trail.start()
    await trail.stop()
    assert [e["message"] for e in lines_on_disk(tmp_path)] == ["a", "b"]


async def test_the_verifier_reports_the_events_lost_with_a_moved_file_as_a_gap(
    tmp_path: Path,
) -> None:
    moments = iter(
        [NOON, NOON, datetime(2026, 3, 2, 12, tzinfo=UTC), datetime(2026, 3, 2, 13, tzinfo=UTC)]
    )
    async with AuditTrail(storage_path=tmp_path, clock=lambda: next(moments)) as trail:
        await log(trail, "day one, 1")
        await log(trail, "day one, 2")
        await log(trail, "day two, 3")
        storage.file_for_day(tmp_path, date(2026, 3, 2)).rename(tmp_path / "moved-away.jsonl")
        with pytest.warns(AuditWriteWarning, match="deleted or replaced"):
            await log(trail, "day two, 4")
    report = verify_audit_log(tmp_path, progress=False)
    gaps = [f for f in report.finding_list if f.kind == "sequence_gap"]
    assert not report.valid
    assert len(gaps) == 1
    assert gaps[0].sequence_number == 4
