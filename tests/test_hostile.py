"""Hostile input never escapes as a traceback; damage is found at the right file and line.

Property tests generate valid logs over several days with ``tests.logbuilder``,
damage them one way, and check the kind, file and line of what is reported.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fapilog_notebook import AuditLogWarning, read_audit_log, verify_audit_log
from fapilog_notebook.chain import (
    ALG_STATIC,
    CHAIN_FIELDS,
    MAC_FIELD,
    check_line,
    could_be_torn,
)
from fapilog_notebook.chain import encode_event as seal
from fapilog_notebook.verify import Severity, VerificationReport

from .logbuilder import HOSTILE_CONTENT, Log, build_log, payload

SETTINGS = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def where(
    report: VerificationReport, severity: Severity | None = None
) -> set[tuple[str, str, int | None]]:
    return {
        (f.kind.value, Path(f.file).name if f.file else "", f.line)
        for f in report.finding_list
        if severity is None or f.severity is severity
    }


def verify_log(log: Log) -> VerificationReport:
    with tempfile.TemporaryDirectory() as tmp:
        return verify_audit_log(log.write(Path(tmp) / "trail"), progress=False)


logs = st.lists(st.integers(min_value=1, max_value=5), min_size=2, max_size=4).map(build_log)


def line_index(data: st.DataObject, log: Log) -> tuple[int, int]:
    total = sum(len(f.lines) for f in log.files)
    return log.locate(data.draw(st.integers(min_value=0, max_value=total - 1), label="line"))


# ------------------------------------------------------------------ properties


@SETTINGS
@given(log=logs)
def test_untouched_log_is_always_valid(log: Log) -> None:
    report = verify_log(log)
    assert report.valid
    assert report.finding_list == ()
    assert report.events_checked == log.events


@SETTINGS
@given(log=logs, data=st.data())
def test_changing_any_byte_is_found_on_that_line_only(log: Log, data: st.DataObject) -> None:
    file_index, line = line_index(data, log)
    raw = bytearray(log.files[file_index].lines[line])
    position = data.draw(st.integers(min_value=0, max_value=len(raw) - 2), label="byte")
    new = data.draw(
        st.integers(min_value=0, max_value=255).filter(lambda b: b not in (raw[position], 10)),
        label="value",
    )
    raw[position] = new
    log.files[file_index].lines[line] = bytes(raw)
    report = verify_log(log)
    name = log.files[file_index].name
    assert not report.valid
    errors = where(report, Severity.ERROR)
    assert {(n, ln) for _, n, ln in errors} == {(name, line + 1)}
    assert errors & {
        ("checksum_mismatch", name, line + 1),
        ("malformed_line", name, line + 1),
    }


@SETTINGS
@given(log=logs, data=st.data())
def test_deleting_a_line(log: Log, data: st.DataObject) -> None:
    file_index, line = line_index(data, log)
    flat_index = sum(len(f.lines) for f in log.files[:file_index]) + line
    del log.files[file_index].lines[line]
    log.files = [f for f in log.files if f.lines]
    remaining = [(f.name, n) for f in log.files for n in range(1, len(f.lines) + 1)]
    report = verify_log(log)
    if flat_index >= len(remaining):
        # The newest event is gone: without a seal nothing shows (truncated_tail, later).
        assert report.valid
        return
    name, number = remaining[flat_index]
    assert where(report, Severity.ERROR) == {("sequence_gap", name, number)}


@SETTINGS
@given(log=logs, data=st.data())
def test_duplicating_a_line(log: Log, data: st.DataObject) -> None:
    file_index, line = line_index(data, log)
    lines = log.files[file_index].lines
    lines.insert(line + 1, lines[line])
    report = verify_log(log)
    name = log.files[file_index].name
    assert where(report, Severity.ERROR) == {("duplicate_sequence", name, line + 2)}


@SETTINGS
@given(log=logs, data=st.data())
def test_swapping_two_lines(log: Log, data: st.DataObject) -> None:
    total = sum(len(f.lines) for f in log.files)
    first = data.draw(st.integers(min_value=0, max_value=total - 2), label="first")
    second = data.draw(st.integers(min_value=first + 1, max_value=total - 1), label="second")
    (fa, la), (fb, lb) = log.locate(first), log.locate(second)
    log.files[fa].lines[la], log.files[fb].lines[lb] = (
        log.files[fb].lines[lb],
        log.files[fa].lines[la],
    )
    report = verify_log(log)
    assert report.valid
    assert ("out_of_order", log.files[fb].name, lb + 1) in where(report)
    assert report.events_checked == log.events


@SETTINGS
@given(log=st.lists(st.integers(min_value=1, max_value=4), min_size=3, max_size=5).map(build_log))
def test_deleting_a_middle_file(log: Log) -> None:
    gone = log.files.pop(1)
    report = verify_log(log)
    gap = [f for f in report.finding_list if f.severity is Severity.ERROR]
    assert [(f.kind.value, Path(f.file or "").name, f.line) for f in gap] == [
        ("sequence_gap", log.files[1].name, 1)
    ]
    assert gone.day.isoformat() in gap[0].message


@SETTINGS
@given(log=logs)
def test_deleting_the_newest_file(log: Log) -> None:
    log.files.pop()
    report = verify_log(log)
    # Undetectable without a seal of the head (truncated_tail); the head shows where it ends.
    assert report.valid
    assert report.head is not None
    assert report.head.checksum == log.checksums[sum(len(f.lines) for f in log.files) - 1]


@SETTINGS
@given(log=logs, garbage=st.binary(min_size=1, max_size=200), newline=st.booleans())
def test_appending_garbage(log: Log, garbage: bytes, newline: bool) -> None:
    garbage = garbage.replace(b"\n", b" ")
    last = log.files[-1]
    last.lines.append(garbage + (b"\n" if newline else b""))
    report = verify_log(log)
    line = len(last.lines)
    found = where(report)
    stripped = garbage.strip()
    if stripped.startswith(b"{") and stripped.endswith(b"}"):
        try:
            json.loads(garbage)
            return  # by chance a JSON object: reported as malformed or as an event
        except ValueError:
            pass
    assert found & {
        ("torn_line", last.name, line),
        ("malformed_line", last.name, line),
    }
    assert {(n, ln) for _, n, ln in found} == {(last.name, line)}
    if not newline:
        try:
            json.loads(garbage)
        except ValueError:
            # Only the start of an event line is what a crash leaves; anything else is not.
            kind = "torn_line" if could_be_torn(garbage) else "malformed_line"
            assert found == {(kind, last.name, line)}


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("content", list(HOSTILE_CONTENT.values()), ids=list(HOSTILE_CONTENT))
def test_bad_content_gives_findings_not_tracebacks(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "audit_2026-03-01.jsonl"
    path.write_bytes(content)
    report = verify_audit_log(tmp_path, progress=False)
    assert isinstance(report.to_json(), str)
    assert isinstance(report._repr_html_(), str)
    if content.strip():
        assert not report.valid or report.finding_list
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AuditLogWarning)
        frame = read_audit_log(tmp_path, progress=False)
    assert len(frame) <= 1


def test_ten_megabyte_line(tmp_path: Path) -> None:
    log = build_log([3])
    log.files[0].lines.insert(1, b'{"x":"' + b"a" * 10_000_000 + b'"}\n')
    report = verify_audit_log(log.write(tmp_path), progress=False)
    assert where(report, Severity.ERROR) == {("malformed_line", log.files[0].name, 2)}
    big = tmp_path / "audit_2026-03-02.jsonl"
    big.write_bytes(b"z" * 10_000_000)
    report = verify_audit_log(tmp_path, progress=False)
    assert ("malformed_line", big.name, 1) in where(report)
    big.write_bytes(b'{"checksum":"' + b"a" * 64 + b'","message":"' + b"z" * 10_000_000)
    report = verify_audit_log(tmp_path, progress=False)
    assert ("torn_line", big.name, 1) in where(report)


def test_hostile_values_are_escaped_in_text(tmp_path: Path) -> None:
    line, _ = seal(
        payload(0, __import__("datetime").datetime(2026, 3, 1, tzinfo=__import__("datetime").UTC)),
        sequence_number=1,
        previous_hash=None,
    )
    hostile = line.replace(b'"event_id":"', b'"event_id":"\\u001b[31m<script>')
    (tmp_path / "audit_2026-03-01.jsonl").write_bytes(hostile)
    report = verify_audit_log(tmp_path, progress=False)
    assert not report.valid
    assert "\x1b" not in str(report)
    assert "<script>" not in report._repr_html_()


def test_nonexistent_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(FileNotFoundError, match="nope"):
        verify_audit_log(missing)
    with pytest.raises(FileNotFoundError, match="nope"):
        read_audit_log(missing)
    with pytest.raises(FileNotFoundError, match="nope"):
        verify_audit_log([missing])


def test_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=str(tmp_path)):
        verify_audit_log(tmp_path)
    with pytest.raises(ValueError, match=str(tmp_path)):
        read_audit_log(tmp_path)


def test_directory_without_audit_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "audit_2026-02-30.jsonl").write_text("x")
    with pytest.raises(ValueError, match="no audit files"):
        verify_audit_log(tmp_path)


def test_empty_list_and_wrong_types(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="empty"):
        verify_audit_log([])
    with pytest.raises(TypeError):
        verify_audit_log(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        verify_audit_log([tmp_path, 3])  # type: ignore[list-item]


def test_empty_audit_file_alone_is_an_empty_report(tmp_path: Path) -> None:
    (tmp_path / "audit_2026-03-01.jsonl").write_bytes(b"")
    report = verify_audit_log(tmp_path, progress=False)
    assert report.events_checked == 0
    assert report.files_checked == 1
    assert report.head is None


# ------------------------------------------------------------------ one line, two decoders


def _sealed_lines() -> list[bytes]:
    log = build_log([3, 2])
    lines = [line.rstrip(b"\n") for day in log.files for line in day.lines]
    keyed = payload(9, datetime(2026, 3, 1, tzinfo=UTC), extra={"sequence_number": 4})
    keyed[MAC_FIELD] = {"alg": ALG_STATIC}
    line, _ = seal(keyed, sequence_number=9, previous_hash=None, key=b"k" * 32)
    return [*lines, line.rstrip(b"\n")]


def lookup(mac: object) -> bytes | None:
    """The test key for a static-key MAC."""
    return b"k" * 32 if isinstance(mac, dict) and mac.get("alg") == ALG_STATIC else None


_EDITS = st.one_of(
    st.tuples(st.just("replace"), st.integers(0, 2000), st.binary(min_size=1, max_size=3)),
    st.tuples(
        st.just("insert"),
        st.integers(0, 2000),
        st.sampled_from(
            [
                b'"sequence_number":7,',
                b'"checksum":"x",',
                b'"mac":{},',
                b"{",
                b"}",
                b",",
                b" ",
                b"\\",
            ]
        ),
    ),
    st.tuples(st.just("cut"), st.integers(0, 2000), st.integers(1, 40)),
)


@settings(max_examples=400, deadline=None)
@given(
    index=st.integers(0, 5),
    edits=st.lists(_EDITS, max_size=3),
    content=st.sampled_from(sorted(HOSTILE_CONTENT)),
    hostile=st.booleans(),
)
def test_reading_only_the_chain_fields_gives_the_full_verdict(
    index: int, edits: list[tuple[str, int, object]], content: str, hostile: bool
) -> None:
    """The verifier's fast decoder (``fields_only``) agrees with the full parse on any line."""
    raws = HOSTILE_CONTENT[content].split(b"\n") if hostile else [_sealed_lines()[index]]
    for raw in raws:
        for how, at, what in edits:
            at %= len(raw) + 1
            if how == "replace":
                assert isinstance(what, bytes)
                raw = raw[:at] + what + raw[at + len(what) :]
            elif how == "insert":
                assert isinstance(what, bytes)
                raw = raw[:at] + what + raw[at:]
            else:
                assert isinstance(what, int)
                raw = raw[:at] + raw[at + what :]
        for key_for in (None, lookup):
            full = check_line(raw, key_for)
            fast = check_line(raw, key_for, fields_only=True)
            assert fast[1:] == full[1:], raw[:200]
            if full.obj is None:
                assert fast.obj is None
            else:
                assert fast.obj == {k: v for k, v in full.obj.items() if k in CHAIN_FIELDS}


@pytest.mark.parametrize("change", [str.upper, lambda text: text + " ", lambda text: text[:-1]])
def test_previous_hash_that_only_resembles_the_last_checksum_is_malformed(
    change: Any,
) -> None:
    """A previous_hash is 64 lowercase hex digits, even right after the line it names."""
    first, checksum = seal(
        payload(1, datetime(2026, 3, 1, tzinfo=UTC)), sequence_number=1, previous_hash=None
    )
    second, _ = seal(
        payload(2, datetime(2026, 3, 1, 1, tzinfo=UTC)),
        sequence_number=2,
        previous_hash=change(checksum),
    )
    assert check_line(first.rstrip(b"\n")).checksum_ok
    for fields_only in (False, True):
        check = check_line(second.rstrip(b"\n"), fields_only=fields_only)
        assert check.problem is not None
        assert "previous_hash is" in check.problem
        assert not check.checksum_ok
    linked, _ = seal(
        payload(2, datetime(2026, 3, 1, 1, tzinfo=UTC)), sequence_number=2, previous_hash=checksum
    )
    assert check_line(linked.rstrip(b"\n"), fields_only=True).problem is None
