"""The verifier against an adversary: no MAC oracle, no unsealed or unchecked
ground taken for granted, no garbage taken for a crash, no hang, no unbounded read."""

from __future__ import annotations

import json
import secrets
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fapilog_notebook import AuditEventType, AuditTrail, storage, verify_audit_log
from fapilog_notebook.chain import canonical_json, compute_checksum
from fapilog_notebook.verify import VerificationReport

START = datetime(2026, 5, 1, 20, 0, tzinfo=UTC)
KEY = secrets.token_bytes(32)


async def write(directory: Path, count: int = 6, **options: Any) -> None:
    """A trail of ``count`` events, one every two hours (so it crosses days)."""
    moments = iter(START + timedelta(hours=2 * n) for n in range(1000))
    async with AuditTrail(storage_path=directory, clock=lambda: next(moments), **options) as trail:
        for i in range(count):
            await trail.log_event(AuditEventType.DATA_ACCESS, f"e{i}", user_id="bob")


def kinds(report: VerificationReport) -> dict[str, str]:
    return {f.kind.value: f.severity.value for f in report.finding_list}


def everything(report: VerificationReport) -> str:
    """Every rendering of a report a user can see or export."""
    return "\n".join(
        [
            str(report),
            repr(report),
            report.to_json(),
            report._repr_html_(),
            report.findings.to_csv(),
            report.compat_result().error_message or "",
        ]
    )


def newest(directory: Path) -> Path:
    return storage.list_audit_files(directory)[-1][1]


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


# ------------------------------------------------------------------ 1: no MAC oracle


async def test_a_fabricated_keyed_event_does_not_reveal_the_mac_it_should_have(
    tmp_path: Path,
) -> None:
    await write(tmp_path, key=KEY)
    path = newest(tmp_path)
    last = json.loads(lines(path)[-1])
    forged = dict(last, sequence_number=last["sequence_number"] + 1, message="forged")
    forged["previous_hash"] = last["checksum"]
    forged.pop("checksum")
    right_mac = compute_checksum(forged, KEY)
    forged["checksum"] = "0" * 64
    with path.open("ab") as handle:
        handle.write(canonical_json(forged).encode() + b"\n")
    # The same line, laid out with spaces (the slow path), and in a middle file.
    spaced = json.dumps(forged, sort_keys=True).encode() + b"\n"
    with path.open("ab") as handle:
        handle.write(spaced)
    report = verify_audit_log(tmp_path, key=KEY)
    assert not report.valid
    assert "checksum_mismatch" in kinds(report)
    assert right_mac not in everything(report)
    parallel = verify_audit_log(tmp_path, key=KEY, workers=2)
    assert parallel.finding_list == report.finding_list
    assert right_mac not in everything(parallel)
