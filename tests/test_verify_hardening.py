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


# ------------------------------------------------------------------ 2: unsealed events


def append_linked(path: Path, previous: dict[str, Any], count: int, **changes: Any) -> None:
    """Append ``count`` unkeyed events chained after ``previous`` (as anyone can)."""
    with path.open("ab") as handle:
        for _ in range(count):
            event = dict(previous, **changes)
            event.pop("mac", None)
            event.pop("checksum")
            event["sequence_number"] = previous["sequence_number"] + 1
            event["previous_hash"] = previous["checksum"]
            event["checksum"] = compute_checksum(event)
            handle.write(canonical_json(event).encode() + b"\n")
            previous = event


def last_event_of(directory: Path) -> dict[str, Any]:
    last: dict[str, Any] = {}
    for _, path in storage.list_audit_files(directory):
        for raw in lines(path):
            event = json.loads(raw)
            if not last or event["sequence_number"] > last["sequence_number"]:
                last = event
    return last


async def test_events_after_the_sealed_head_are_a_warning_naming_how_many(
    tmp_path: Path,
) -> None:
    await write(tmp_path)
    clean = verify_audit_log(tmp_path)
    assert clean.finding_list == ()
    append_linked(newest(tmp_path), last_event_of(tmp_path), 2)
    report = verify_audit_log(tmp_path)
    assert report.valid
    assert kinds(report) == {"unsealed_events": "warning"}
    (finding,) = report.finding_list
    assert "2 more events (sequences 7..8)" in finding.message
    assert finding.sequence_number == 7
    assert verify_audit_log(tmp_path, workers=2).finding_list == report.finding_list


async def test_events_appended_to_a_closed_day_are_an_error(tmp_path: Path) -> None:
    await write(tmp_path)
    days = storage.list_audit_files(tmp_path)
    assert len(days) >= 2
    first_day = days[0][1]
    append_linked(first_day, last_event_of(tmp_path), 1)
    report = verify_audit_log(tmp_path)
    assert not report.valid
    errors = [f for f in report.finding_list if f.severity.value == "error"]
    assert [f.kind.value for f in errors] == ["manifest_mismatch"]
    assert "1 more event in it" in errors[0].message
    assert verify_audit_log(tmp_path, workers=2).finding_list == report.finding_list


# ------------------------------------------------------------------ 3: a deleted seal


async def test_a_deleted_seal_is_an_error_and_the_report_says_what_was_not_checked(
    tmp_path: Path,
) -> None:
    await write(tmp_path, key=KEY)
    (tmp_path / storage.SEAL_NAME).unlink()
    last_day = storage.list_audit_files(tmp_path)[-1]
    storage.manifest_path(tmp_path, last_day[0]).unlink()
    path = last_day[1]
    path.write_bytes(b"".join(line + b"\n" for line in lines(path)[:-1]))
    for key in (KEY, None):
        report = verify_audit_log(tmp_path, key=key)
        assert not report.valid
        (finding,) = report.finding_list
        assert finding.kind.value == "seal_mismatch"
        assert "expected a sealed head" in finding.message
        assert "found none" in finding.message
        assert any("sealed head" in note for note in report.checks_skipped)
        assert "not checked: sealed head" in str(report)
        assert "sealed head" in json.loads(report.to_json())["checks_skipped"][0]
        assert "not checked" in report._repr_html_()


async def test_an_unkeyed_trail_with_manifests_but_no_seal_is_an_error(tmp_path: Path) -> None:
    await write(tmp_path)
    (tmp_path / storage.SEAL_NAME).unlink()
    report = verify_audit_log(tmp_path)
    assert kinds(report) == {"seal_mismatch": "error"}
    assert "day manifests" in report.finding_list[0].message


FIXTURE = Path(__file__).parent / "fixtures" / "fapilog-0.3.5"


def test_fapilogs_own_unsealed_files_stay_valid_and_say_the_tail_is_not_vouched_for() -> None:
    report = verify_audit_log(FIXTURE)
    assert report.valid
    assert "seal_mismatch" not in kinds(report)
    assert any("sealed head: none" in note for note in report.checks_skipped)


# ------------------------------------------------------------------ 6: a file on its own


@pytest.mark.parametrize("keep", [0, 1])
async def test_a_newest_file_cut_short_or_emptied_is_found_when_verified_alone(
    tmp_path: Path, keep: int
) -> None:
    await write(tmp_path)
    path = newest(tmp_path)
    path.write_bytes(b"".join(line + b"\n" for line in lines(path)[:keep]))
    for source in (path, [path], tmp_path):
        report = verify_audit_log(source)
        assert not report.valid, source
        assert "truncated_tail" in kinds(report)


async def test_a_middle_file_verified_alone_checks_its_manifest_and_says_the_seal_is_not(
    tmp_path: Path,
) -> None:
    await write(tmp_path, count=20)
    middle = storage.list_audit_files(tmp_path)[1][1]
    alone = verify_audit_log(middle)
    assert alone.valid
    assert alone.finding_list == ()
    assert any("sealed head: not checked" in note for note in alone.checks_skipped)
    assert "not checked: sealed head" in str(alone)
    middle.write_bytes(b"".join(line + b"\n" for line in lines(middle)[:-1]))
    report = verify_audit_log(middle)
    assert kinds(report) == {"manifest_mismatch": "error"}


async def test_files_in_several_directories_say_seal_and_manifests_were_not_checked(
    tmp_path: Path,
) -> None:
    await write(tmp_path / "a", count=12)
    files = [path for _, path in storage.list_audit_files(tmp_path / "a")]
    (tmp_path / "b").mkdir()
    moved = tmp_path / "b" / files[-1].name
    shutil.copy(files[-1], moved)
    report = verify_audit_log([*files[:-1], moved])
    assert report.valid
    assert any("not all in one directory" in note for note in report.checks_skipped)
