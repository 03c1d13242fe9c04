"""Days, keys and processes: where the writer, its restart and the verifier must agree."""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fapilog_notebook import AuditEventType, AuditTrail, storage, verify_audit_log
from fapilog_notebook.keys import VerificationKey, keygen

DAY0 = date(2026, 3, 29)


def stepping_clock(start: datetime, step: timedelta) -> Callable[[], datetime]:
    """A clock that moves ``step`` forward at each call."""
    moments: Iterator[datetime] = (start + step * n for n in range(100_000))
    return lambda: next(moments)


def _reverse_lines_of(path: Path) -> list[bytes]:
    fd = os.open(path, os.O_RDONLY)
    try:
        return list(storage.reverse_lines(fd, os.fstat(fd).st_size))
    finally:
        os.close(fd)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\n\n",
        b"one\ntwo\n",
        b"no newline at all",
        b"a\n" + b"x" * 200_000 + b"\nb\n" + b"y" * 70_000,
        b"z" * 65_536 + b"\n" + b"w" * 65_535 + b"\n\n" + b"q" * 131_072,
    ],
)
def test_reverse_lines_yields_the_non_empty_lines_last_first(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "f"
    path.write_bytes(data)
    assert _reverse_lines_of(path) == [line for line in reversed(data.split(b"\n")) if line]


def _time_last_line(path: Path, size: int) -> float:
    path.write_bytes(b'{"a":1}\n' + b"x" * size)
    best = float("inf")
    for _ in range(5):
        began = time.process_time()  # this process's CPU: other processes' load adds nothing
        lines = _reverse_lines_of(path)
        best = min(best, time.process_time() - began)
        assert len(lines[0]) == size
    return best


def test_reading_a_long_last_line_backwards_is_linear_in_its_length(tmp_path: Path) -> None:
    # Quadratic copying makes 8x the length cost ~64x the time; linear, ~8x
    # (about 16x measured: the longer line no longer fits the caches).
    small = _time_last_line(tmp_path / "small", 4 * 2**20)
    large = _time_last_line(tmp_path / "large", 32 * 2**20)
    assert large < 32 * max(small, 1e-3), f"4 MiB: {small:.4f}s, 32 MiB: {large:.4f}s"


async def test_verify_chain_checks_a_keyed_trails_macs_with_its_key(tmp_path: Path) -> None:
    key = secrets.token_bytes(32)
    async with AuditTrail(storage_path=tmp_path, key=key) as trail:
        for i in range(5):
            await trail.log_event(AuditEventType.DATA_ACCESS, f"e{i}")
        events = await trail.get_events(limit=None)
        result = trail.verify_chain(events)
        assert (result.valid, result.events_checked, result.macs_checked) == (True, 5, 5)
        assert result.macs_unchecked == 0
        forged = events[2].model_copy(update={"message": "changed"})
        bad = trail.verify_chain([*events[:2], forged, *events[3:]])
        assert (bad.valid, bad.first_invalid_sequence, bad.error_message) == (
            False,
            3,
            "MAC mismatch",
        )
        other = trail.verify_chain(events, key=secrets.token_bytes(32))
        assert (other.valid, other.first_invalid_sequence) == (False, 1)
    # On the class, without a key: links and numbers only, and it says so.
    plain = AuditTrail.verify_chain(events)
    assert (plain.valid, plain.macs_checked, plain.macs_unchecked) == (True, 0, 5)
    assert AuditTrail.verify_chain(events, key=key).macs_checked == 5
    relinked = events[3].model_copy(update={"previous_hash": "0" * 64})
    assert not AuditTrail.verify_chain([*events[:3], relinked]).valid


async def test_verify_chain_on_a_forward_secure_trail(tmp_path: Path) -> None:
    writer_key, auditor_key = keygen(tmp_path / "w.key", tmp_path / "a.key", start=DAY0)
    clock = stepping_clock(datetime(2026, 3, 29, 20, tzinfo=UTC), timedelta(hours=3))
    directory = tmp_path / "trail"
    async with AuditTrail(storage_path=directory, key_file=writer_key, clock=clock) as trail:
        for i in range(4):
            await trail.log_event(AuditEventType.DATA_ACCESS, f"e{i}")
        events = await trail.get_events(limit=None)
        own = trail.verify_chain(events)
        assert (own.valid, own.macs_checked, own.macs_unchecked) == (True, 0, 4)
    audited = AuditTrail.verify_chain(events, key=VerificationKey.load(auditor_key))
    assert (audited.valid, audited.macs_checked) == (True, 4)
    unkeyed = [e.model_copy(update={"mac": None}) for e in events]
    assert AuditTrail.verify_chain(unkeyed, key=VerificationKey.load(auditor_key)).valid is False


@pytest.mark.parametrize("accelerated", [False, True])
async def test_flattened_metadata_keeps_large_integers_exact(
    tmp_path: Path, accelerated: bool
) -> None:
    from fapilog_notebook import read_audit_log
    from fapilog_notebook.load import _parse as frame_module

    if accelerated:
        pytest.importorskip("pyarrow")
    big, huge = 2**53 + 1, 2**64 + 3
    async with AuditTrail(storage_path=tmp_path) as trail:
        await trail.log_event(AuditEventType.DATA_ACCESS, "a", amount=big, ref=huge, ratio=big)
        await trail.log_event(AuditEventType.DATA_ACCESS, "b", ratio=0.5)
        await trail.log_event(AuditEventType.DATA_ACCESS, "c", amount=-7, ref=1)
    cache = frame_module._pyarrow_cache
    saved = list(cache)
    if not accelerated:
        cache[:] = [None]
    try:
        frame = read_audit_log(tmp_path, flatten_metadata=True, progress=False)
    finally:
        cache[:] = saved
    amount = frame["metadata.amount"]
    assert str(amount.dtype) == "Int64"
    assert amount.iloc[0] == big
    assert amount.isna().iloc[1]
    assert amount.iloc[2] == -7
    assert frame["metadata.ref"].dtype == object
    assert list(frame["metadata.ref"]) == [huge, None, 1]
    assert frame["metadata.ratio"].iloc[0] == big
    assert type(frame["metadata.ratio"].iloc[0]) is int


# ------------------------------------------------------------------ the clock steps back


def _clock_of(moments: list[datetime]) -> Callable[[], datetime]:
    it = iter(moments)
    return lambda: next(it)


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


async def _log(trail: AuditTrail, count: int, label: str) -> None:
    for i in range(count):
        await trail.log_event(AuditEventType.DATA_ACCESS, f"{label} {i}")


@pytest.mark.parametrize("mode", ["unkeyed", "keyed", "forward-secure"])
async def test_when_the_clock_steps_back_across_midnight_the_trail_stays_valid(
    tmp_path: Path, mode: str
) -> None:
    from .trail_helpers import lines_on_disk

    day1, day2 = DAY0, DAY0 + timedelta(days=1)
    directory = tmp_path / "trail"
    options: dict[str, Any] = {}
    verify_key: bytes | VerificationKey | None = None
    if mode == "keyed":
        options["key"] = verify_key = secrets.token_bytes(32)
    elif mode == "forward-secure":
        writer_key, auditor_key = keygen(tmp_path / "w.key", tmp_path / "a.key", start=day1)
        options["key_file"] = writer_key
        verify_key = VerificationKey.load(auditor_key)
    # 23:59 on day 1, past midnight, then an NTP step back to 23:58 on day 1.
    moments = [_at(day1, 23, 59), _at(day2, 0, 1), _at(day1, 23, 58), _at(day1, 23, 59)]
    async with AuditTrail(storage_path=directory, clock=_clock_of(moments), **options) as trail:
        await _log(trail, 4, "first")
    events = lines_on_disk(directory)
    assert [e["_file"][6:16] for e in events] == ["2026-03-29"] + ["2026-03-30"] * 3
    report = verify_audit_log(directory, key=verify_key, progress=False)
    assert report.valid, report.format_text()
    assert {f.kind.value for f in report.finding_list} == {"misplaced_event", "time_regression"}
    # A restart while the clock is still behind: no sequence number is reused.
    later = [_at(day1, 23, 59) + timedelta(seconds=30), _at(day2, 0, 2)]
    async with AuditTrail(storage_path=directory, clock=_clock_of(later), **options) as trail:
        await _log(trail, 2, "second")
    events = lines_on_disk(directory)
    assert [e["sequence_number"] for e in events] == list(range(1, 7))
    assert {e["_file"] for e in events[1:]} == {"audit_2026-03-30.jsonl"}
    report = verify_audit_log(directory, key=verify_key, progress=False)
    assert report.valid, report.format_text()
    assert {f.kind.value for f in report.finding_list} <= {"misplaced_event", "time_regression"}


async def test_a_restart_resumes_after_a_chain_that_went_back_to_an_older_file(
    tmp_path: Path,
) -> None:
    """An earlier release wrote an event stamped earlier into the earlier day's file."""
    from fapilog_notebook.chain import encode_event as seal

    from .trail_helpers import lines_on_disk

    day1, day2 = DAY0, DAY0 + timedelta(days=1)
    clock = stepping_clock(_at(day2, 1), timedelta(minutes=1))
    async with AuditTrail(storage_path=tmp_path, clock=clock) as trail:
        await _log(trail, 3, "day two")
    last = lines_on_disk(tmp_path)[-1]
    payload = {k: v for k, v in last.items() if k not in ("_file", "checksum")}
    payload["timestamp"] = "2026-03-29T23:59:00Z"
    line, _ = seal(payload, sequence_number=4, previous_hash=last["checksum"])
    storage.file_for_day(tmp_path, day1).write_bytes(line)
    async with AuditTrail(storage_path=tmp_path, clock=clock) as trail:
        await _log(trail, 1, "resumed")
        head = trail.head()
    assert head is not None
    assert head.sequence_number == 5
    assert lines_on_disk(tmp_path)[-1]["previous_hash"] == json.loads(line)["checksum"]


# ------------------------------------------------------------------ a crash at a day boundary

DAY2 = DAY0 + timedelta(days=2)
#: Where the writer is killed when it first reaches day 2 (the day after an idle day).
CRASH_POINTS = ["manifest", "empty-day", "key-file", "events", "seal"]


def _install_crash(point: str) -> None:
    """In a forked child: exit at once (no cleanup at all) when ``point`` is reached."""
    from fapilog_notebook import keys

    new_day = DAY2.isoformat().encode()
    write_record, write_all, seal_write = (
        storage.write_record,
        storage.write_all,
        storage.SealFile.write,
    )

    def record(path: Path, data: dict[str, object], *, fsync: bool) -> None:
        if point in ("manifest", "empty-day") and f".{point}-" in path.name:
            os._exit(0)
        write_record(path, data, fsync=fsync)

    def append(fd: int, data: bytes) -> None:
        if point == "events" and new_day in data:
            os._exit(0)
        write_all(fd, data)

    def seal(self: storage.SealFile, data: bytes) -> None:
        if point == "seal" and new_day in data:
            os._exit(0)
        seal_write(self, data)

    def key_file(*args: object, **kwargs: object) -> None:
        os._exit(0)

    storage.write_record = record  # type: ignore[assignment]
    storage.write_all = append
    storage.SealFile.write = seal  # type: ignore[method-assign]
    if point == "key-file":
        keys._write_private = key_file


def _crash_at(point: str, directory: Path, writer_key: Path) -> None:
    moments = [_at(DAY0, 10 + i) for i in range(3)] + [_at(DAY2, 10 + i) for i in range(3)]
    pid = os.fork()
    if pid == 0:  # the child writes until it dies at the crash point
        try:
            import asyncio

            _install_crash(point)

            async def write() -> None:
                trail = AuditTrail(
                    storage_path=directory, key_file=writer_key, clock=_clock_of(moments)
                )
                await trail.start()
                await _log(trail, 6, "child")

            asyncio.run(asyncio.wait_for(write(), timeout=20))
        finally:
            os._exit(3)  # the crash point was never reached
    deadline = time.monotonic() + 30
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the child neither crashed nor finished")
        time.sleep(0.02)
    assert os.waitstatus_to_exitcode(status) == 0, f"no crash at {point}"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("point", CRASH_POINTS)
async def test_a_crash_at_any_step_of_a_forward_secure_day_boundary_leaves_a_valid_trail(
    tmp_path: Path, point: str
) -> None:
    from fapilog_notebook.keys import WriterKey

    directory = tmp_path / "trail"
    writer_key, auditor_key = keygen(tmp_path / "w.key", tmp_path / "a.key", start=DAY0)
    auditor = VerificationKey.load(auditor_key)
    _crash_at(point, directory, writer_key)
    destroyed = point in ("events", "seal")  # the key file moved on before the crash
    assert WriterKey(writer_key).day == (DAY2 if destroyed else DAY0)
    crashed = verify_audit_log(directory, key=auditor, progress=False)
    assert crashed.valid, crashed.format_text()
    clock = stepping_clock(_at(DAY2, 18), timedelta(minutes=1))
    async with AuditTrail(storage_path=directory, key_file=writer_key, clock=clock) as trail:
        await _log(trail, 3, "after the crash")
    report = verify_audit_log(directory, key=auditor, progress=False)
    assert report.valid, report.format_text()
    assert report.finding_list == ()
    assert report.macs_checked == report.events_checked
    assert storage.manifest_path(directory, DAY0).exists()
    assert storage.empty_day_path(directory, DAY0 + timedelta(days=1)).exists()
