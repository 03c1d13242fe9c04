"""Days, keys and processes: where the writer, its restart and the verifier must agree."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from fapilog_notebook import AuditEventType, AuditTrail, storage
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
    for _ in range(3):
        began = time.perf_counter()
        lines = _reverse_lines_of(path)
        best = min(best, time.perf_counter() - began)
        assert len(lines[0]) == size
    return best


def test_reading_a_long_last_line_backwards_is_linear_in_its_length(tmp_path: Path) -> None:
    # Quadratic copying makes 8x the length cost ~64x the time; linear, ~8x.
    small = _time_last_line(tmp_path / "small", 4 * 2**20)
    large = _time_last_line(tmp_path / "large", 32 * 2**20)
    assert large < 24 * max(small, 1e-4), f"4 MiB: {small:.4f}s, 32 MiB: {large:.4f}s"


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
    from fapilog_notebook import frame as frame_module
    from fapilog_notebook import read_audit_log

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
