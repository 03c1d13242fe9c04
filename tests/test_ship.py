"""Shipping closed days to object storage: verified on arrival, resumable, Object-Locked."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fapilog_notebook import (
    AuditEventType,
    AuditTrail,
    ShipError,
    ship_trail,
    verify_audit_log,
)
from fapilog_notebook.compliance import retention

from .logbuilder import build_log
from .objstore_helpers import SECRET, S3Server, s3

__all__ = ["s3"]  # the fixture used here

KEY = bytes(range(32))


class _Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def _writer_trail(directory: Path, days: int = 3, per_day: int = 4) -> Path:
    """A keyed writer's trail over ``days`` days: seal, manifests of the closed days."""

    async def write() -> None:
        clock = _Clock(datetime(2026, 3, 30, 8, 0, 0, tzinfo=UTC))
        async with AuditTrail(storage_path=directory, clock=clock, key=KEY) as trail:
            for day in range(days):
                for i in range(per_day):
                    await trail.log_event(AuditEventType.DATA_ACCESS, f"d{day} e{i}", user_id="u")
                if day < days - 1:
                    clock.now += timedelta(days=1)

    asyncio.run(write())
    return directory


def _keys(s3: S3Server, bucket: str, prefix: str) -> list[str]:
    listed = s3.client.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"][len(prefix) :] for item in listed.get("Contents", []))


def test_ship_copies_closed_days_verified_and_never_twice(s3: S3Server, tmp_path: Path) -> None:
    trail = _writer_trail(tmp_path / "trail")
    url = s3.bucket("ship-basic") + "/host-a/"
    first = ship_trail(trail, url, storage_options=s3.options)
    assert [d.day.isoformat() for d in first.uploaded] == ["2026-03-30", "2026-03-31"]
    assert first.skipped == (
        "audit_2026-04-01.jsonl is still open (the newest day; include_open ships it)",
    )
    assert first.seal.startswith("not shipped: it vouches for audit_2026-04-01.jsonl")
    assert _keys(s3, "ship-basic", "host-a/") == [
        ".fapilog-notebook.manifest-2026-03-30.json",
        ".fapilog-notebook.manifest-2026-03-31.json",
        ".fapilog-notebook.shipped-2026-03-30.json",
        ".fapilog-notebook.shipped-2026-03-31.json",
        "audit_2026-03-30.jsonl",
        "audit_2026-03-31.jsonl",
    ]
    for day in first.days:
        local = (trail / Path(day.url).name).read_bytes()
        body = s3.client.get_object(Bucket="ship-basic", Key=f"host-a/{Path(day.url).name}")
        assert body["Body"].read() == local

    again = ship_trail(trail, url, storage_options=s3.options)
    assert again.uploaded == ()
    assert [d.day.isoformat() for d in again.unchanged] == ["2026-03-30", "2026-03-31"]

    final = ship_trail(trail, url, storage_options=s3.options, include_open=True)
    assert [d.day.isoformat() for d in final.uploaded] == ["2026-04-01"]
    assert final.seal == f"uploaded ({url.rstrip('/')}/.fapilog-notebook.seal.json)"
    shipped = verify_audit_log(url, storage_options=s3.options, key=KEY, progress=False)
    at_home = verify_audit_log(trail, key=KEY, progress=False)
    assert shipped.valid
    assert shipped.events_checked == at_home.events_checked == 12
    assert [f.kind for f in shipped.finding_list] == [f.kind for f in at_home.finding_list]
    assert SECRET not in final.summary()


def test_a_day_that_does_not_match_its_manifest_is_not_reported_shipped(
    s3: S3Server, tmp_path: Path
) -> None:
    trail = _writer_trail(tmp_path / "trail")
    first = trail / "audit_2026-03-30.jsonl"
    lines = first.read_bytes().splitlines(keepends=True)
    first.write_bytes(b"".join(lines[:-1]))  # the closed day lost its last event
    url = s3.bucket("ship-mismatch") + "/t"
    with pytest.raises(ShipError, match="does not match its manifest"):
        ship_trail(trail, url, storage_options=s3.options)
    assert ".fapilog-notebook.shipped-2026-03-30.json" not in _keys(s3, "ship-mismatch", "t/")


_SHIP_SCRIPT = """
import sys
from fapilog_notebook import ship_trail
options = {"key": sys.argv[3], "secret": sys.argv[4], "endpoint_url": sys.argv[5]}
ship_trail(sys.argv[1], sys.argv[2], storage_options=options)
"""


def test_ship_killed_mid_upload_then_shipped_again(s3: S3Server, tmp_path: Path) -> None:
    trail = tmp_path / "big"
    build_log([9000, 9000, 9000, 9000, 10]).write(trail)  # about 6 MB a day: multipart uploads
    s3.bucket("ship-killed")
    url = "s3://ship-killed/t"
    options = s3.options
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _SHIP_SCRIPT,
            str(trail),
            url,
            options["key"],
            options["secret"],
            options["endpoint_url"],
        ],
        cwd=Path(__file__).parent.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if ".fapilog-notebook.shipped-2026-03-01.json" in _keys(s3, "ship-killed", "t/"):
            break
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL  # killed before it finished
    before = _keys(s3, "ship-killed", "t/")
    assert ".fapilog-notebook.shipped-2026-03-04.json" not in before

    resumed = ship_trail(trail, url, storage_options=options)
    assert [d.day.isoformat() for d in resumed.days] == [
        "2026-03-01",
        "2026-03-02",
        "2026-03-03",
        "2026-03-04",
    ]
    assert resumed.unchanged[0].day.isoformat() == "2026-03-01"
    assert resumed.uploaded  # what the killed run had not finished
    after = _keys(s3, "ship-killed", "t/")
    audit = [k for k in after if k.startswith("audit_")]
    assert audit == [f"audit_2026-03-0{n}.jsonl" for n in (1, 2, 3, 4)]  # each once
    for name in audit:
        body = s3.client.get_object(Bucket="ship-killed", Key=f"t/{name}")["Body"].read()
        assert body == (trail / name).read_bytes()
    assert ship_trail(trail, url, storage_options=options).uploaded == ()


def test_object_lock_keeps_a_shipped_day_from_deletion(s3: S3Server, tmp_path: Path) -> None:
    trail = _writer_trail(tmp_path / "trail")
    url = s3.bucket("ship-locked", lock=True) + "/t"
    report = ship_trail(trail, url, storage_options=s3.options, object_lock_days=30)
    assert report.retain_until is not None
    head = s3.client.head_object(Bucket="ship-locked", Key="t/audit_2026-03-30.jsonl")
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] >= datetime.now(UTC) + timedelta(days=29)
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="AccessDenied"):
        s3.client.delete_object(
            Bucket="ship-locked", Key="t/audit_2026-03-30.jsonl", VersionId=head["VersionId"]
        )
    kept = s3.client.get_object(
        Bucket="ship-locked", Key="t/audit_2026-03-30.jsonl", VersionId=head["VersionId"]
    )
    assert kept["Body"].read() == (trail / "audit_2026-03-30.jsonl").read_bytes()

    rows = retention(
        url, storage_options=s3.options, now="2026-04-02", keep_days=365, online_days=90
    ).set_index("rule")
    assert rows.loc["object_lock", "status"] == "pass"
    assert rows.loc["object_lock", "count"] == 2
    assert "COMPLIANCE" in str(rows.loc["object_lock", "detail"])
    assert rows.loc["oldest_day", "count"] == 1


def test_retention_of_an_unlocked_bucket_lists_the_unlocked_days(
    s3: S3Server, tmp_path: Path
) -> None:
    trail = _writer_trail(tmp_path / "trail")
    url = s3.bucket("ship-unlocked") + "/t"
    ship_trail(trail, url, storage_options=s3.options)
    rows = retention(url, storage_options=s3.options, now="2026-04-02").set_index("rule")
    assert rows.loc["object_lock", "status"] == "exceptions"
    assert rows.loc["object_lock", "count"] == 2


def test_ship_refuses_bad_arguments(tmp_path: Path) -> None:
    trail = _writer_trail(tmp_path / "trail")
    with pytest.raises(ValueError, match="destination must be a URL"):
        ship_trail(trail, str(tmp_path / "elsewhere"))
    with pytest.raises(ValueError, match="needs an S3 destination"):
        ship_trail(trail, "memory://ship-tests/x", object_lock_days=3)
    with pytest.raises(ValueError, match="positive number of days"):
        ship_trail(trail, "memory://ship-tests/x", object_lock_days=0)
    with pytest.raises(ValueError, match="not a trail directory"):
        ship_trail(tmp_path / "none", "memory://ship-tests/x")


def test_ship_to_memory_and_file_urls(tmp_path: Path) -> None:
    trail = _writer_trail(tmp_path / "trail")
    for url in ("memory://ship-tests/m", f"file://{tmp_path}/copy"):
        report = ship_trail(trail, url, include_open=True)
        assert len(report.uploaded) == 3
        shipped = verify_audit_log(url, key=KEY, progress=False)
        assert shipped.valid
        assert ship_trail(trail, url, include_open=True).uploaded == ()

    async def one_more() -> None:  # the writer starts again and the open day grows
        clock = _Clock(datetime(2026, 4, 1, 10, 0, 0, tzinfo=UTC))
        async with AuditTrail(storage_path=trail, clock=clock, key=KEY) as again:
            await again.log_event(AuditEventType.DATA_ACCESS, "later", user_id="u")

    asyncio.run(one_more())
    grown = ship_trail(trail, f"file://{tmp_path}/copy", include_open=True)
    assert [d.day.isoformat() for d in grown.uploaded] == ["2026-04-01"]
    receipt = tmp_path / "copy" / ".fapilog-notebook.shipped-2026-03-30.json"
    assert json.loads(receipt.read_text())["file"] == "audit_2026-03-30.jsonl"
