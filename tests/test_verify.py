"""verify_audit_log: the fixture, every finding kind at its file and line, the report."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from fapilog_notebook import AuditChainVerificationResult, VerificationReport, verify_audit_log
from fapilog_notebook.chain import encode_event as seal
from fapilog_notebook.verify import FINDING_COLUMNS, FindingKind, Severity

from .logbuilder import Log, build_log, payload

FIXTURE = Path(__file__).parent / "fixtures" / "fapilog-0.3.5"


def kinds_at(report: VerificationReport) -> list[tuple[str, str, int | None]]:
    """(kind, file name, line) of every finding, in report order."""
    return [
        (f.kind.value, Path(f.file).name if f.file else "", f.line) for f in report.finding_list
    ]


def errors(report: VerificationReport) -> list[tuple[str, str, int | None]]:
    return [
        (f.kind.value, Path(f.file).name if f.file else "", f.line)
        for f in report.finding_list
        if f.severity is Severity.ERROR
    ]


@pytest.fixture
def log() -> Log:
    return build_log([5, 6, 4])


# ------------------------------------------------------------------ the fixture


def test_fapilog_fixture_is_valid_with_one_restart() -> None:
    report = verify_audit_log(FIXTURE, progress=False)
    assert report.valid
    assert report.events_checked == 65
    assert report.files_checked == 3
    assert len(report.segments) == 2
    assert kinds_at(report) == [("chain_restart", "audit_2026-04-02.jsonl", 1)]
    assert report.finding_list[0].severity is Severity.WARNING
    assert report.head is not None
    assert report.head.sequence_number == 25
    assert list(report.segments["first_sequence"]) == [1, 1]
    assert list(report.segments["last_sequence"]) == [40, 25]
    assert Path(report.segments["first_file"][1]).name == "audit_2026-04-02.jsonl"


def test_fixture_range_starting_mid_chain_links_to_previous_file() -> None:
    report = verify_audit_log(FIXTURE, since="2026-03-31", progress=False)
    assert report.valid
    assert report.events_checked == 48
    assert kinds_at(report) == [("chain_restart", "audit_2026-04-02.jsonl", 1)]
    one_file = verify_audit_log(FIXTURE / "audit_2026-03-31.jsonl", progress=False)
    assert one_file.valid
    assert one_file.finding_list == ()
    assert one_file.first_sequence == 18


def test_clean_generated_log_is_valid(tmp_path: Path, log: Log) -> None:
    report = verify_audit_log(log.write(tmp_path), progress=False)
    assert report.valid
    assert report.finding_list == ()
    assert report.events_checked == 15
    assert report.files_checked == 3
    assert report.head is not None
    assert report.head.checksum == log.checksums[-1]
    assert (report.first_sequence, report.last_sequence) == (1, 15)


# ------------------------------------------------------------------ each kind


def test_altered_event_is_one_checksum_mismatch(tmp_path: Path, log: Log) -> None:
    log.files[1].lines[2] = log.files[1].lines[2].replace(b"event 7", b"event X")
    report = verify_audit_log(log.write(tmp_path), progress=False)
    assert not report.valid
    assert kinds_at(report) == [("checksum_mismatch", log.files[1].name, 3)]
    finding = report.finding_list[0]
    assert finding.sequence_number == 8
    assert finding.event_id is not None
    assert "checksum" in finding.message


def test_deleted_line_is_one_gap_naming_count_and_neighbours(tmp_path: Path, log: Log) -> None:
    del log.files[1].lines[2]  # sequence 8
    report = verify_audit_log(log.write(tmp_path), progress=False)
    assert kinds_at(report) == [("sequence_gap", log.files[1].name, 3)]
    message = report.finding_list[0].message
    assert "1 event is missing (sequence 8)" in message
    assert "sequence 7" in message
    assert "sequence 9" in message


def test_deleted_lines_count(tmp_path: Path, log: Log) -> None:
    del log.files[1].lines[1:4]
    report = verify_audit_log(log.write(tmp_path), progress=False)
    assert kinds_at(report) == [("sequence_gap", log.files[1].name, 2)]
    assert "3 events are missing (sequences 7..9)" in report.finding_list[0].message


def test_missing_middle_file_names_the_missing_day(tmp_path: Path) -> None:
    log = build_log([3, 3, 3, 3])
    del log.files[1]
    report = verify_audit_log(log.write(tmp_path), progress=False)
    assert kinds_at(report) == [("sequence_gap", log.files[1].name, 1)]
    message = report.finding_list[0].message
    assert "3 events are missing" in message
    assert "no audit file for 2026-03-02" in message


def test_broken_link(tmp_path: Path, log: Log) -> None:
    # Re-seal event 9 with a wrong previous_hash: its checksum matches, its link does not.
    obj = json.loads(log.files[1].lines[3])
    obj.pop("checksum")
    line, _ = seal(obj, sequence_number=9, previous_hash="0" * 64)
    log.files[1].lines[3] = line
    # The next event linked to the old checksum of 9: that link is now broken too.
    report = verify_audit_log(log.write(tmp_path), progress=False)
    assert kinds_at(report) == [
        ("broken_link", log.files[1].name, 4),
        ("broken_link", log.files[1].name, 5),
    ]
    assert "expected previous_hash" in report.finding_list[0].message


def test_duplicate_line(tmp_path: Path, log: Log) -> None:
    log.files[0].lines.insert(3, log.files[0].lines[2])
    report = verify_audit_log(log.write(tmp_path), progress=False)
    assert kinds_at(report) == [("duplicate_sequence", log.files[0].name, 4)]


def test_duplicate_first_line_is_not_a_restart(tmp_path: Path, log: Log) -> None:
    log.files[0].lines.insert(1, log.files[0].lines[0])
    report = verify_audit_log(log.write(tmp_path), progress=False)
    assert kinds_at(report) == [("duplicate_sequence", log.files[0].name, 2)]


def test_malformed_line_json_array(tmp_path: Path, log: Log) -> None:
    log.files[0].lines.insert(2, b"[1, 2, 3]\n")
    report = verify_audit_log(log.write(tmp_path), progress=False)
    assert kinds_at(report) == [("malformed_line", log.files[0].name, 3)]
    assert "JSON list" in report.finding_list[0].message


def test_corrupted_line_is_one_malformed_line_not_a_gap(tmp_path: Path, log: Log) -> None:
    log.files[0].lines[2] = log.files[0].lines[2][:40] + b"\n"
    report = verify_audit_log(log.write(tmp_path), progress=False)
    assert kinds_at(report) == [("malformed_line", log.files[0].name, 3)]


def test_torn_last_line_unterminated(tmp_path: Path, log: Log) -> None:
    log.files[-1].lines.append(b'{"checksum":"ab')
    report = verify_audit_log(log.write(tmp_path), progress=False)
    assert report.valid
    assert kinds_at(report) == [("torn_line", log.files[-1].name, 5)]


def test_torn_line_terminated_by_restart_then_linking_event(tmp_path: Path, log: Log) -> None:
    # The writer terminates a crash fragment on restart; the next event links past it.
    log.files[1].lines.insert(2, b'{"checksum":"4f1c\n')
    report = verify_audit_log(log.write(tmp_path), progress=False)
    assert report.valid
    assert kinds_at(report) == [("torn_line", log.files[1].name, 3)]


def test_garbage_line_between_linking_events_in_older_file_is_malformed_when_two(
    tmp_path: Path, log: Log
) -> None:
    log.files[1].lines[2:2] = [b"garbage\n", b"more garbage\n"]
    report = verify_audit_log(log.write(tmp_path), progress=False)
    assert kinds_at(report) == [
        ("malformed_line", log.files[1].name, 3),
        ("malformed_line", log.files[1].name, 4),
    ]


def test_terminated_garbage_at_end_is_malformed(tmp_path: Path, log: Log) -> None:
    log.files[-1].lines.append(b"not json at all\n")
    report = verify_audit_log(log.write(tmp_path), progress=False)
    assert kinds_at(report) == [("malformed_line", log.files[-1].name, 5)]


def test_chain_restart(tmp_path: Path) -> None:
    log = build_log([4, 4], restart_at=frozenset({6}))
    report = verify_audit_log(log.write(tmp_path), progress=False)
    assert report.valid
    assert kinds_at(report) == [("chain_restart", log.files[1].name, 3)]
    assert list(report.segments["events"]) == [6, 2]


def test_swapped_lines_are_out_of_order_not_an_error(tmp_path: Path, log: Log) -> None:
    lines = log.files[1].lines
    lines[1], lines[2] = lines[2], lines[1]
    report = verify_audit_log(log.write(tmp_path), progress=False)
    assert report.valid
    found = kinds_at(report)
    assert ("out_of_order", log.files[1].name, 3) in found
    assert {k for k, _, _ in found} <= {"out_of_order", "time_regression"}


def test_misplaced_event_and_time_regression(tmp_path: Path) -> None:
    lines: list[bytes] = []
    previous = None
    stamps = ["2026-03-01T10:00:00Z", "2026-03-02T09:00:00Z", "2026-03-01T09:00:00Z"]
    for number, stamp in enumerate(stamps, start=1):
        line, previous = seal(
            payload(number, datetime(2026, 3, 1, tzinfo=UTC), timestamp=stamp),
            sequence_number=number,
            previous_hash=previous,
        )
        lines.append(line)
    (tmp_path / "audit_2026-03-01.jsonl").write_bytes(b"".join(lines))
    report = verify_audit_log(tmp_path, progress=False)
    assert report.valid
    assert kinds_at(report) == [
        ("misplaced_event", "audit_2026-03-01.jsonl", 2),
        ("time_regression", "audit_2026-03-01.jsonl", 3),
    ]


def test_foreign_file_is_info(tmp_path: Path, log: Log) -> None:
    log.write(tmp_path)
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / ".fapilog-notebook.lock").write_text("1\n")
    report = verify_audit_log(tmp_path, progress=False)
    assert report.valid
    assert kinds_at(report) == [("foreign_file", "notes.txt", None)]
    assert report.finding_list[0].severity is Severity.INFO


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path: Path, log: Log) -> None:
    log.write(tmp_path)
    target = tmp_path / log.files[1].name
    target.chmod(0)
    try:
        report = verify_audit_log(tmp_path, progress=False)
    finally:
        target.chmod(0o600)
    assert ("unreadable_file", log.files[1].name, None) in kinds_at(report)


def test_unreadable_file_as_directory_read_error(
    tmp_path: Path, log: Log, monkeypatch: pytest.MonkeyPatch
) -> None:
    log.write(tmp_path)
    from fapilog_notebook import scan

    def failing(
        path: Path, start: int, end: int | None
    ) -> Iterator[tuple[int, list[bytes], bool, int]]:
        if path.name == log.files[1].name:
            raise PermissionError(13, "Permission denied")
        return scan.iter_line_blocks(path, start, end)

    monkeypatch.setattr("fapilog_notebook.verify._lines.iter_line_blocks", failing)
    report = verify_audit_log(tmp_path, progress=False)
    assert not report.valid
    assert ("unreadable_file", log.files[1].name, None) in kinds_at(report)
    assert "Permission denied" in report.finding_list[0].message


def test_chain_not_starting_at_one_without_earlier_file(tmp_path: Path, log: Log) -> None:
    del log.files[0]
    report = verify_audit_log(log.write(tmp_path), progress=False)
    assert kinds_at(report) == [("sequence_gap", log.files[0].name, 1)]
    assert "1..5" in report.finding_list[0].message


# ------------------------------------------------------------------ ranges


def test_range_excludes_files_and_links_across_the_edge(tmp_path: Path) -> None:
    log = build_log([3, 3, 3, 3])
    directory = log.write(tmp_path)
    report = verify_audit_log(directory, since=date(2026, 3, 2), until="2026-03-03")
    assert report.valid
    assert report.finding_list == ()
    assert report.files_checked == 2
    assert (report.first_sequence, report.last_sequence) == (4, 9)
    aware = datetime(2026, 3, 3, 23, 0, tzinfo=UTC)
    assert verify_audit_log(directory, since=aware, progress=False).events_checked == 6


def test_range_with_deleted_edge_event_reports_gap(tmp_path: Path) -> None:
    log = build_log([3, 3, 3])
    del log.files[0].lines[-1]
    report = verify_audit_log(log.write(tmp_path), since="2026-03-02", progress=False)
    assert kinds_at(report) == [("sequence_gap", log.files[1].name, 1)]
    assert "before the range" in report.finding_list[0].message


def test_out_of_range_files_are_not_opened(tmp_path: Path) -> None:
    log = build_log([3, 3, 3])
    log.write(tmp_path)
    (tmp_path / log.files[2].name).write_bytes(b"\xff garbage that would be a finding\n")
    report = verify_audit_log(tmp_path, until="2026-03-02", progress=False)
    assert report.valid
    assert report.files_checked == 2


def test_naive_datetime_bound_is_rejected(tmp_path: Path, log: Log) -> None:
    with pytest.raises(ValueError, match="naive"):
        verify_audit_log(log.write(tmp_path), since=datetime(2026, 3, 2))


def test_empty_range_names_the_directory(tmp_path: Path, log: Log) -> None:
    with pytest.raises(ValueError, match=str(tmp_path)):
        verify_audit_log(log.write(tmp_path), since="2030-01-01")


def test_list_of_files_in_any_order(tmp_path: Path, log: Log) -> None:
    log.write(tmp_path)
    paths = [tmp_path / f.name for f in reversed(log.files)]
    report = verify_audit_log(paths, progress=False)
    assert report.valid
    assert report.events_checked == 15


# ------------------------------------------------------------------ the report


def test_report_outputs(tmp_path: Path, log: Log) -> None:
    log.files[1].lines[0] = log.files[1].lines[0].replace(b"event 5", b"<b>evil</b>")
    report = verify_audit_log(log.write(tmp_path), progress=False)
    assert list(report.findings.columns) == list(FINDING_COLUMNS)
    assert str(report.findings["line"].dtype) == "Int64"
    data = json.loads(report.to_json())
    assert data["valid"] is False
    assert data["findings"][0]["kind"] == "checksum_mismatch"
    assert data["counts"] == {"error": 1, "warning": 0, "info": 0}
    assert report.to_dict()["head"]["sequence_number"] == 15
    text = str(report)
    assert text.startswith("INVALID")
    assert "checksum_mismatch" in text
    assert "INVALID" in report.summary()
    rendered = report._repr_html_()
    assert "INVALID" in rendered
    assert "<b>evil" not in rendered
    result = report.compat_result()
    assert isinstance(result, AuditChainVerificationResult)
    assert result.valid is False
    assert result.first_invalid_sequence == 6
    assert result.events_checked == 15
    assert result.error_message is not None
    assert "checksum_mismatch" in result.error_message


def test_report_html_escapes_hostile_file_names(tmp_path: Path, log: Log) -> None:
    log.write(tmp_path)
    (tmp_path / "<script>alert(1)<").write_text("x")
    rendered = verify_audit_log(tmp_path, progress=False)._repr_html_()
    assert "<script>" not in rendered
    assert "&lt;script&gt;" in rendered


def test_valid_report_compat_and_html(tmp_path: Path, log: Log) -> None:
    report = verify_audit_log(log.write(tmp_path), progress=False)
    assert report.compat_result() == AuditChainVerificationResult(True, 15, None, None)
    assert "VALID" in report._repr_html_()
    assert "No findings" in report._repr_html_()
    assert report.findings.empty
    assert list(report.findings.columns) == list(FINDING_COLUMNS)


def test_every_kind_has_a_severity() -> None:
    for kind in FindingKind:
        assert isinstance(kind.severity, Severity)
    assert FindingKind.TRUNCATED_TAIL.severity is Severity.ERROR
    assert FindingKind.ANCHOR_MISMATCH.severity is Severity.ERROR


async def test_trail_verify_chain_from_storage_uses_the_report(tmp_path: Path) -> None:
    from fapilog_notebook import AuditEventType, AuditTrail

    async with AuditTrail(storage_path=tmp_path) as trail:
        for i in range(5):
            await trail.log_event(AuditEventType.DATA_ACCESS, f"e{i}")
        assert (await trail.verify_chain_from_storage()).valid
    [path] = list(tmp_path.glob("audit_*.jsonl"))
    lines = path.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b'"e2"', b'"e9"')
    path.write_bytes(b"".join(lines))
    result = await AuditTrail(storage_path=tmp_path).verify_chain_from_storage()
    assert result.valid is False
    assert result.first_invalid_sequence == 3


async def test_fresh_trail_directory_is_an_empty_valid_trail(tmp_path: Path) -> None:
    from fapilog_notebook import AuditTrail

    async with AuditTrail(storage_path=tmp_path / "trail") as trail:
        result = await trail.verify_chain_from_storage()
    assert result.valid
    assert result.events_checked == 0


def test_fixture_copy_with_deleted_middle_file(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE, tmp_path / "copy")
    (tmp_path / "copy" / "audit_2026-03-31.jsonl").unlink()
    # The last file restarts the chain, so only the end of the first day is a question
    # for a seal; the report stays valid with one restart.
    report = verify_audit_log(tmp_path / "copy", progress=False)
    assert report.valid
    assert report.events_checked == 42
