"""Keyed and forward-secure writing: MACs, key evolution, seals and day manifests."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import stat
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from fapilog_notebook import AuditEventType, AuditTrail, storage
from fapilog_notebook.chain import check_intact_lines, check_line, compute_checksum, digest
from fapilog_notebook.errors import AuditKeyError
from fapilog_notebook.keys import (
    VerificationKey,
    WriterKey,
    derive_day_key,
    keygen,
    load_static_key,
)

from .trail_helpers import assert_chain_intact, lines_on_disk

DAY1 = date(2026, 3, 30)


class Clock:
    """A settable clock for the writer."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def all_bytes(directory: Path) -> bytes:
    return b"".join(path.read_bytes() for path in directory.iterdir() if path.is_file())


async def test_a_static_key_macs_every_event_and_never_leaks(tmp_path: Path) -> None:
    key = secrets.token_bytes(32)
    trail = AuditTrail(storage_path=tmp_path, key=key)
    assert key.hex() not in repr(trail)
    async with trail:
        for i in range(5):
            await trail.log_event(AuditEventType.DATA_ACCESS, f"e{i}")
    raws = next(tmp_path.glob("audit_*.jsonl")).read_bytes().splitlines()
    for raw in raws:
        assert json.loads(raw)["mac"] == {"alg": "hmac-sha256"}
        checked = check_line(raw, lambda mac: key)
        assert checked.checksum_ok
        assert checked.mac_checked
        unchecked = check_line(raw)
        assert unchecked.checksum_ok
        assert not unchecked.mac_checked
        assert not check_line(raw, lambda mac: secrets.token_bytes(32)).checksum_ok
    assert assert_chain_intact(tmp_path) == 5
    blob = all_bytes(tmp_path)
    assert key not in blob
    assert key.hex().encode() not in blob


def test_bad_keys_get_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(AuditKeyError, match="too short: 8 bytes"):
        AuditTrail(storage_path=tmp_path, key=b"12345678")
    with pytest.raises(TypeError, match="key must be bytes"):
        AuditTrail(storage_path=tmp_path, key="secret")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not both"):
        AuditTrail(storage_path=tmp_path, key=bytes(32), key_file=tmp_path / "k")
    with pytest.raises(AuditKeyError, match="not a hex key"):
        load_static_key("zz" * 40, origin="--key-env AUDIT_KEY")
    secret = "ab" * 10
    with pytest.raises(AuditKeyError) as caught:
        load_static_key(secret, origin="key file k.hex")
    assert secret not in str(caught.value)


def test_keygen_writes_two_private_files_and_never_overwrites(tmp_path: Path) -> None:
    writer, verifier = keygen(tmp_path / "writer.key", tmp_path / "auditor.key", start=DAY1)
    for path in (writer, verifier):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(FileExistsError, match="never overwritten"):
        keygen(tmp_path / "writer.key", tmp_path / "other.key", start=DAY1)
    assert not (tmp_path / "other.key").exists()
    state, auditor = WriterKey(writer), VerificationKey.load(verifier)
    assert state.key == auditor.key_for(DAY1)
    assert "key=<hidden>" in repr(state)
    assert state.key.hex() not in repr(auditor)
    with pytest.raises(AuditKeyError, match="only evolves forward"):
        auditor.key_for(DAY1 - timedelta(days=1))
    (tmp_path / "junk.key").write_text("{}")
    with pytest.raises(AuditKeyError, match="is not a fapilog-notebook writer key file"):
        WriterKey(tmp_path / "junk.key")


async def test_the_forward_secure_key_evolves_at_each_utc_day(tmp_path: Path) -> None:
    trail_dir = tmp_path / "trail"
    writer_key, auditor_key = keygen(tmp_path / "writer.key", tmp_path / "auditor.key", start=DAY1)
    auditor = VerificationKey.load(auditor_key)
    day1_key = auditor.key_for(DAY1)
    clock = Clock(datetime(2026, 3, 30, 23, 59, 50, tzinfo=UTC))
    async with AuditTrail(storage_path=trail_dir, key_file=writer_key, clock=clock) as trail:
        for i in range(20):  # crosses midnight after 9 events
            await trail.log_event(AuditEventType.DATA_ACCESS, f"e{i}")
    # The writer's state now holds the second day's key only.
    state = WriterKey(writer_key)
    assert state.day == DAY1 + timedelta(days=1)
    assert state.key == derive_day_key(DAY1, day1_key, state.day)
    assert day1_key.hex() not in writer_key.read_text()
    events = lines_on_disk(trail_dir)
    days = {e["_file"]: e["mac"]["day"] for e in events}
    assert days == {"audit_2026-03-30.jsonl": "2026-03-30", "audit_2026-03-31.jsonl": "2026-03-31"}
    for path in sorted(trail_dir.glob("audit_*.jsonl")):
        for raw in path.read_bytes().splitlines():
            check = check_line(raw, lambda mac: auditor.key_for(date.fromisoformat(mac["day"])))
            assert check.checksum_ok
            assert check.mac_checked
    # Today's key cannot check yesterday's events: they need the older key.
    first = next(trail_dir.glob("audit_2026-03-30.jsonl")).read_bytes().splitlines()[0]
    assert not check_line(first, lambda mac: state.key).checksum_ok


async def test_seal_follows_every_batch_and_manifests_record_closed_days(tmp_path: Path) -> None:
    key = secrets.token_bytes(32)
    clock = Clock(datetime(2026, 3, 30, 23, 59, 55, tzinfo=UTC))
    async with AuditTrail(storage_path=tmp_path, key=key, clock=clock) as trail:
        for i in range(3):
            await trail.log_event(AuditEventType.DATA_ACCESS, f"e{i}")
            best = max(
                (
                    s
                    for s in storage.read_seals(tmp_path / storage.SEAL_NAME)
                    if isinstance(s, dict)
                ),
                key=lambda s: s["sequence_number"],
            )
            assert best["sequence_number"] == i + 1
            assert compute_checksum(best, key) == best["checksum"]
            assert best["kind"] == "seal"
        for i in range(3, 10):
            await trail.log_event(AuditEventType.DATA_ACCESS, f"e{i}")
    events = lines_on_disk(tmp_path)
    manifests = {
        day: storage.read_record(storage.manifest_path(tmp_path, day))
        for day in (date(2026, 3, 30), date(2026, 3, 31))
    }
    for day, manifest in manifests.items():
        assert manifest is not None
        mine = [e for e in events if e["_file"] == f"audit_{day.isoformat()}.jsonl"]
        assert manifest["events"] == len(mine)
        assert manifest["first_sequence"] == mine[0]["sequence_number"]
        assert manifest["last_sequence"] == mine[-1]["sequence_number"]
        assert manifest["last_checksum"] == mine[-1]["checksum"]
        assert compute_checksum(manifest, key) == manifest["checksum"]
    assert stat.S_IMODE((tmp_path / storage.SEAL_NAME).stat().st_mode) == 0o600


async def test_a_torn_seal_slot_leaves_the_previous_seal(tmp_path: Path) -> None:
    async with AuditTrail(storage_path=tmp_path) as trail:
        for i in range(4):
            await trail.log_event(AuditEventType.DATA_ACCESS, f"e{i}")
    path = tmp_path / storage.SEAL_NAME
    data = bytearray(path.read_bytes())
    data[storage.SEAL_SLOT : storage.SEAL_SLOT + 40] = b"\x00" * 40  # a crash mid-write
    path.write_bytes(bytes(data))
    slots = storage.read_seals(path)
    records = [s for s in slots if isinstance(s, dict)]
    assert len(records) == 1
    assert records[0]["sequence_number"] in (3, 4)
    assert any(isinstance(s, str) and "not valid JSON" in s for s in slots)


@pytest.mark.parametrize("size", [1, 32, 63, 64, 65, 200])
def test_the_mac_is_standard_hmac_sha256_for_any_key_length(size: int) -> None:
    key = secrets.token_bytes(size)
    for body in (b"", b"{}", b'{"a":1}' * 50, secrets.token_bytes(1000)):
        assert digest(body, key) == hmac.new(key, body, hashlib.sha256).hexdigest()


def test_a_batch_of_macs_is_checked_with_the_standard_hmac() -> None:
    key = secrets.token_bytes(32)
    lines = []
    for n in range(1, 4):
        body = json.dumps(
            {"mac": {"alg": "hmac-sha256"}, "previous_hash": None, "sequence_number": n},
            sort_keys=True,
            separators=(",", ":"),
        ).encode()
        mac = hmac.new(key, body, hashlib.sha256).hexdigest()
        lines.append(b'{"checksum":"' + mac.encode() + b'",' + body[1:])
    checked = check_intact_lines(lines, lambda mac: key)
    assert checked is not None
    assert checked[1] == [json.loads(line)["checksum"] for line in lines]


def test_key_files_carry_a_format_version(tmp_path: Path) -> None:
    writer, verifier = keygen(tmp_path / "writer.key", tmp_path / "auditor.key", start=DAY1)
    assert json.loads(writer.read_text())["version"] == 2
    assert json.loads(verifier.read_text())["version"] == 2
    auditor = VerificationKey.load(verifier)
    assert auditor.version == 2
    assert auditor.promises_day_series
    assert "version=2" in repr(auditor)
    state = WriterKey(writer)
    state.advance(DAY1 + timedelta(days=3))
    assert json.loads(writer.read_text())["day"] == DAY1.isoformat()  # in memory only
    assert state.key_for(DAY1 + timedelta(days=1)) == auditor.key_for(DAY1 + timedelta(days=1))
    state.persist()
    saved = json.loads(writer.read_text())
    assert (saved["day"], saved["version"]) == ((DAY1 + timedelta(days=3)).isoformat(), 2)
    assert state.key_for(DAY1) is None  # gone for good
    old = {k: v for k, v in json.loads(verifier.read_text()).items() if k != "version"}
    unversioned = VerificationKey.from_data(old, origin="an old key")
    assert (unversioned.version, unversioned.promises_day_series) == (1, False)
    with pytest.raises(AuditKeyError, match="unknown version"):
        VerificationKey.from_data({**old, "version": 99}, origin="a future key")


async def test_a_forward_secure_key_waits_for_the_day_it_leaves_to_be_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer_key, auditor_key = keygen(tmp_path / "w.key", tmp_path / "a.key", start=DAY1)
    trail_dir = tmp_path / "trail"
    clock = Clock(datetime(2026, 3, 30, 23, 59, 57, tzinfo=UTC))
    real = storage.write_record
    failing = [True]

    def flaky(path: Path, record: dict[str, object], *, fsync: bool) -> None:
        if failing[0] and ".manifest-" in path.name:
            raise OSError(28, "No space left on device")
        real(path, record, fsync=fsync)

    monkeypatch.setattr(storage, "write_record", flaky)
    async with AuditTrail(storage_path=trail_dir, key_file=writer_key, clock=clock) as trail:
        for i in range(2):
            await trail.log_event(AuditEventType.DATA_ACCESS, f"e{i}")
        with pytest.warns(UserWarning, match="failed"):  # stamped after midnight
            await trail.log_event(AuditEventType.DATA_ACCESS, "e2")
        await trail.log_event(AuditEventType.DATA_ACCESS, "e3")
        stats = await trail.get_statistics()
        assert (stats["events_written"], stats["events_pending"]) == (2, 2)
        assert WriterKey(writer_key).day == DAY1  # not before its day is recorded
        failing[0] = False
        await trail.drain()
        assert WriterKey(writer_key).day == DAY1 + timedelta(days=1)
    from fapilog_notebook import verify_audit_log

    report = verify_audit_log(trail_dir, key=VerificationKey.load(auditor_key), progress=False)
    assert report.valid, report.format_text()
    assert report.finding_list == ()
    assert report.events_checked == 4
