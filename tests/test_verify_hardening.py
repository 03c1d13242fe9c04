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

from fapilog_notebook import AuditEventType, AuditTrail, errors, storage, verify_audit_log
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


# ------------------------------------------------------------------ 14: FIFOs, directories, links


def verify_within(seconds: float, *args: Any, **kwargs: Any) -> VerificationReport:
    """``verify_audit_log`` in a thread, failing the test if it has not returned in time."""
    import threading

    result: list[Any] = []
    thread = threading.Thread(
        target=lambda: result.append(_call(verify_audit_log, *args, **kwargs)), daemon=True
    )
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "verify_audit_log hung"
    (outcome,) = result
    if isinstance(outcome, BaseException):
        raise outcome
    assert isinstance(outcome, VerificationReport)
    return outcome


def _call(function: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return function(*args, **kwargs)
    except BaseException as exc:  # handed to the test's thread
        return exc


def plant(path: Path, what: str, target: Path | None = None) -> None:
    """Replace ``path`` with a FIFO, a directory or a symbolic link."""
    import os

    if path.exists() or path.is_symlink():
        path.unlink()
    if what == "fifo":
        os.mkfifo(path)
    elif what == "directory":
        path.mkdir()
    else:
        assert target is not None
        path.symlink_to(target)


@pytest.mark.parametrize("what", ["fifo", "directory", "link", "zero"])
async def test_a_seal_that_is_not_a_regular_file_is_a_finding_never_a_hang(
    tmp_path: Path, what: str
) -> None:
    trail = tmp_path / "trail"
    await write(trail)
    seal = trail / storage.SEAL_NAME
    saved = tmp_path / "seal-copy"
    shutil.copy(seal, saved)
    target = {"link": saved, "zero": Path("/dev/zero")}.get(what)
    plant(seal, "link" if target else what, target)
    report = verify_within(30, trail)
    assert not report.valid
    assert kinds(report) == {"seal_mismatch": "error"}
    message = report.finding_list[0].message
    assert ("symbolic link" if target else "not a regular file") in message
    assert any("sealed head: not checked" in note for note in report.checks_skipped)


@pytest.mark.parametrize("what", ["fifo", "directory", "link"])
async def test_a_manifest_that_is_not_a_regular_file_is_a_finding_never_a_hang(
    tmp_path: Path, what: str
) -> None:
    trail = tmp_path / "trail"
    await write(trail)
    day = storage.list_audit_files(trail)[0][0]
    manifest = storage.manifest_path(trail, day)
    saved = tmp_path / "manifest-copy"
    shutil.copy(manifest, saved)
    plant(manifest, what, saved)
    report = verify_within(30, trail)
    assert kinds(report) == {"manifest_mismatch": "error"}


def test_an_oversized_seal_or_manifest_is_refused_unread(tmp_path: Path) -> None:
    seal = tmp_path / storage.SEAL_NAME
    seal.write_bytes(b" " * (2 * storage.SEAL_SLOT + 1))
    with pytest.raises(errors.UnsafeRecordError, match="more than 2048 bytes"):
        storage.read_seals(seal)
    manifest = tmp_path / "m.json"
    manifest.write_bytes(b"{}" + b" " * storage.MANIFEST_LIMIT)
    with pytest.raises(ValueError, match="more than"):
        storage.read_record(manifest)


async def test_an_audit_file_that_is_a_fifo_is_unreadable_never_a_hang(tmp_path: Path) -> None:
    import os

    trail = tmp_path / "trail"
    await write(trail)
    fifo = tmp_path / "audit_2026-05-09.jsonl"
    os.mkfifo(fifo)
    report = verify_within(30, [fifo])
    assert kinds(report) == {"unreadable_file": "error"}
    assert "not a regular file" in report.finding_list[0].message
    in_directory = trail / fifo.name
    os.mkfifo(in_directory)
    report = verify_within(30, trail)
    assert kinds(report) == {"foreign_file": "info"}
    assert "not a regular file" in report.finding_list[0].message


# ------------------------------------------------------------------ 20: command-line inputs


def run_cli(*args: str, timeout: float = 60) -> Any:
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "fapilog_notebook", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.parametrize("option", ["--anchor", "--key-file"])
def test_deeply_nested_json_inputs_are_a_usage_error_in_one_line(
    tmp_path: Path, option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from fapilog_notebook.cli import main

    nested = tmp_path / "nested.json"
    nested.write_text("{" + '"a":[' * 100_000 + "]" * 100_000 + "}")
    assert main(["verify", str(FIXTURE), option, str(nested)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "nested.json" in err
    if option == "--anchor":
        assert "nested too deeply" in err


@pytest.mark.parametrize("option", ["--anchor", "--key-file"])
@pytest.mark.parametrize("what", ["fifo", "zero", "directory"])
def test_key_and_anchor_files_that_are_not_regular_files_are_usage_errors(
    tmp_path: Path, option: str, what: str
) -> None:
    import os

    path = tmp_path / "input"
    if what == "fifo":
        os.mkfifo(path)
    elif what == "directory":
        path.mkdir()
    else:
        path.symlink_to("/dev/zero")
    done = run_cli("verify", str(FIXTURE), option, str(path), timeout=60)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "not a regular file" in done.stderr


async def test_the_command_line_does_not_hang_on_a_fifo_seal(tmp_path: Path) -> None:
    import os

    await write(tmp_path)
    seal = tmp_path / storage.SEAL_NAME
    seal.unlink()
    os.mkfifo(seal)
    done = run_cli("verify", str(tmp_path), timeout=60)
    assert done.returncode == 1
    assert "seal_mismatch" in done.stdout
    assert "Traceback" not in done.stderr


# ------------------------------------------------------------------ 7: garbage is not a torn write


def with_line(log_lines: list[bytes], at: int, line: bytes) -> bytes:
    return (
        b"".join(raw + b"\n" for raw in log_lines[:at])
        + line
        + b"".join(raw + b"\n" for raw in log_lines[at:])
    )


@pytest.mark.parametrize(
    ("inserted", "expected"),
    [
        (b"this is not json {\n", "malformed_line"),
        (b"\xff\xfe garbage\n", "malformed_line"),
        (b'{"checksum":"zz\n', "malformed_line"),
        (b'{"checksum":"4f1c\n', "torn_line"),  # the start of an event line, terminated on restart
    ],
)
async def test_only_the_start_of_an_event_line_in_a_crash_s_place_is_a_torn_line(
    tmp_path: Path, inserted: bytes, expected: str
) -> None:
    from fapilog_notebook.chain import check_line

    await write(tmp_path)
    (tmp_path / storage.SEAL_NAME).unlink()  # the seal is not the point here
    path = newest(tmp_path)
    original = lines(path)
    path.write_bytes(with_line(original, 2, inserted))
    report = verify_audit_log(tmp_path)
    found = {f.kind.value for f in report.finding_list} - {"seal_mismatch"}
    assert found == {expected}, report.format_text()
    assert check_line(inserted.rstrip(b"\n")).problem is not None
    # At the very end, unterminated: the same judgement.
    path.write_bytes(with_line(original, len(original), inserted.rstrip(b"\n")))
    report = verify_audit_log(tmp_path)
    assert {f.kind.value for f in report.finding_list} - {"seal_mismatch"} == {expected}
    assert verify_audit_log(tmp_path, workers=2).finding_list == report.finding_list


# ------------------------------------------------------------------ 5: canonical lines only


def edit_line(path: Path, index: int, old: bytes, new: bytes) -> int:
    """Replace ``old`` by ``new`` once in line ``index``; return its 1-based number."""
    all_lines = lines(path)
    assert old in all_lines[index]
    all_lines[index] = all_lines[index].replace(old, new, 1)
    path.write_bytes(b"".join(raw + b"\n" for raw in all_lines))
    return index + 1


DUPLICATE = (b'"user_id":"bob"', b'"user_id":"alice","user_id":"bob"')
SPACED = (b'"message":', b'"message": ')


@pytest.mark.parametrize(
    ("edit", "expected"),
    [(DUPLICATE, "malformed_line"), (SPACED, "checksum_mismatch")],
    ids=["duplicate key", "whitespace"],
)
async def test_a_keyed_line_that_is_not_canonical_is_an_error(
    tmp_path: Path, edit: tuple[bytes, bytes], expected: str
) -> None:
    await write(tmp_path, key=KEY)
    path = newest(tmp_path)
    number = edit_line(path, 1, *edit)
    report = verify_audit_log(tmp_path, key=KEY)
    assert not report.valid
    at_line = [f for f in report.finding_list if f.line is not None]
    assert [(f.kind.value, Path(str(f.file)).name, f.line) for f in at_line] == [
        (expected, path.name, number)
    ]
    assert ("more than once" if edit is DUPLICATE else "canonical") in at_line[0].message
    # Without the line as an event, the day's manifest no longer adds up either,
    # nor do the tree checkpoints recorded beside the trail (issue 17).
    assert {f.kind.value for f in report.finding_list} <= {
        expected,
        "manifest_mismatch",
        "checkpoint_mismatch",
    }
    assert verify_audit_log(tmp_path, key=KEY, workers=2).finding_list == report.finding_list


async def test_an_unkeyed_line_reformatted_is_not_the_logged_line_a_duplicate_key_an_error(
    tmp_path: Path,
) -> None:
    await write(tmp_path)
    path = newest(tmp_path)
    number = edit_line(path, 1, *SPACED)
    # Its payload's checksum holds: a non_canonical_line warning, and by default
    # (an unsigned trail) the tree beside the trail is not recomputed.
    default = verify_audit_log(tmp_path)
    assert default.valid
    assert [(f.kind.value, f.line) for f in default.finding_list if f.line] == [
        ("non_canonical_line", number)
    ]
    assert any("Merkle tree: not recomputed" in note for note in default.checks_skipped)
    # Recomputed, the line is no longer the one the Merkle tree holds (issue 17).
    report = verify_audit_log(tmp_path, check_tree=True)
    assert not report.valid
    at_line = [(f.kind.value, f.severity.value, f.line) for f in report.finding_list if f.line]
    assert at_line == [
        ("non_canonical_line", "warning", number),
        ("tree_mismatch", "error", number),
    ]
    assert {f.kind.value for f in report.finding_list} == {
        "non_canonical_line",
        "tree_mismatch",
        "checkpoint_mismatch",
    }
    number = edit_line(path, 2, *DUPLICATE)
    report = verify_audit_log(tmp_path, check_tree=True)
    assert not report.valid
    assert ("malformed_line", number) in [(f.kind.value, f.line) for f in report.finding_list]
    assert verify_audit_log(tmp_path, workers=2, check_tree=True).finding_list == (
        report.finding_list
    )


# ------------------------------------------------------------------ 15: bounded reads


@pytest.mark.parametrize("block", [7, 64, 1 << 20])
def test_a_line_over_the_limit_comes_alone_unread_and_numbering_goes_on(
    tmp_path: Path, block: int
) -> None:
    from fapilog_notebook.scan import LongLine, iter_line_blocks

    path = tmp_path / "audit_2026-05-01.jsonl"
    path.write_bytes(b"a\n" + b"x" * 100 + b"\nb\n" + b"y" * 50 + b"\nc\n" + b"z" * 300)
    got = []
    starts = {1: 0, 2: 2, 3: 103, 4: 105, 5: 156, 6: 158}  # each line's byte offset
    for first, block_lines, terminated, offset in iter_line_blocks(
        path, 0, None, block=block, max_line=40
    ):
        assert offset == starts[first]
        for number, raw in enumerate(block_lines, first):
            length = raw.length if isinstance(raw, LongLine) else None
            got.append((number, bytes(raw)[:3], length, terminated))
            if isinstance(raw, LongLine):
                assert len(block_lines) == 1
    assert got == [
        (1, b"a", None, True),
        (2, b"xxx", 100, True),
        (3, b"b", None, True),
        (4, b"yyy", 50, True),
        (5, b"c", None, True),
        (6, b"zzz", 300, False),
    ]


def test_verifying_gigabytes_with_no_newline_stays_within_a_memory_cap(tmp_path: Path) -> None:
    import subprocess
    import sys

    from fapilog_notebook.scan import MAX_LINE_BYTES

    log = tmp_path / "trail"
    log.mkdir()
    huge = log / "audit_2026-05-01.jsonl"
    with huge.open("wb") as handle:
        handle.truncate(4 * MAX_LINE_BYTES)  # sparse: reads as zeros, no newline
    with huge.open("ab") as handle:
        handle.write(b"\nafter\n")
    script = (
        "import resource, sys\n"
        "from fapilog_notebook import verify_audit_log\n"
        "import fapilog_notebook.verify\n"
        f"cap = {3 * MAX_LINE_BYTES} + int(open('/proc/self/status').read()"
        ".split('VmSize:')[1].split()[0]) * 1024\n"
        "resource.setrlimit(resource.RLIMIT_AS, (cap, cap))\n"
        "report = verify_audit_log(sys.argv[1], progress=False)\n"
        "print(report.format_text())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(log)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "malformed_line audit_2026-05-01.jsonl:1: expected one audit event" in done.stdout
    assert f"a line of {4 * MAX_LINE_BYTES} bytes" in done.stdout
    assert "audit_2026-05-01.jsonl:2:" in done.stdout  # the next line is read and judged


def test_a_line_over_the_limit_gives_the_same_report_in_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from fapilog_notebook import scan
    from fapilog_notebook.verify import _lines as verify
    from fapilog_notebook.verify import _parallel as parallel

    from .logbuilder import build_log

    log = build_log([6])
    log.files[0].lines.insert(3, b'{"checksum":"' + b"a" * 5000 + b"\n")
    path = log.write(tmp_path)
    monkeypatch.setattr(scan, "MAX_LINE_BYTES", 2000)
    monkeypatch.setattr(verify, "MAX_LINE_BYTES", 2000)
    monkeypatch.setattr(parallel, "CHUNK_BYTES", 1500)
    serial = verify_audit_log(path, progress=False)
    assert [(f.kind.value, f.line) for f in serial.finding_list] == [("malformed_line", 4)]
    assert "a line of 5013 bytes" in serial.finding_list[0].message
    with ThreadPoolExecutor(2) as pool:
        assert verify_audit_log(path, workers=pool).finding_list == serial.finding_list


async def test_an_empty_seal_file_beside_events_is_a_missing_seal(tmp_path: Path) -> None:
    await write(tmp_path, count=2)  # one day: no manifest of a closed day
    assert len(storage.list_audit_files(tmp_path)) == 1
    (tmp_path / storage.SEAL_NAME).write_bytes(b"")
    for path in tmp_path.glob(".fapilog-notebook.manifest-*"):
        path.unlink()
    report = verify_audit_log(tmp_path)
    assert kinds(report) == {"seal_mismatch": "error"}
    (tmp_path / storage.SEAL_NAME).unlink()
    report = verify_audit_log(tmp_path)
    assert report.valid  # an unkeyed trail with no mark of a sealing writer
    assert any("sealed head: none" in note for note in report.checks_skipped)


async def test_an_unreadable_seal_is_a_finding_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import os

    await write(tmp_path)
    seal = tmp_path / storage.SEAL_NAME
    real_open = os.open

    def refuse(path: Any, flags: int, *args: Any) -> int:
        if Path(path) == seal:  # as chmod 000 does for anyone but root
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", refuse)
    report = verify_audit_log(tmp_path)
    assert kinds(report) == {"seal_mismatch": "error"}
    assert "could not be read: Permission denied" in report.finding_list[0].message


@pytest.mark.parametrize("max_line", [5, 40, 1000])
def test_tail_lines_agree_with_splitting_and_skip_what_is_too_long(
    tmp_path: Path, max_line: int
) -> None:
    import os

    from fapilog_notebook import scan

    data = b"a\n\nbb\n" + b"x" * 200_000 + b"\ncc\n" + b"y" * 30 + b"\nlast"
    path = tmp_path / "f"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    try:
        got = list(scan.tail_lines(fd, len(data), max_line=max_line))
        bounded = list(scan.tail_lines(fd, len(data), max_bytes=10))
    finally:
        os.close(fd)
    expected = [line for line in reversed(data.split(b"\n")) if 0 < len(line) <= max_line]
    assert got == expected
    assert bounded == [b"last"]


async def test_a_range_after_a_hostile_predecessor_tail_is_seeded_within_bounds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fapilog_notebook import scan

    await write(tmp_path, count=20)
    days = storage.list_audit_files(tmp_path)
    first, second = days[0][1], days[1][1]
    with first.open("ab") as handle:
        handle.write(b"z" * 1500)  # a tail too long to hold (1000), no newline
    monkeypatch.setattr(scan, "MAX_LINE_BYTES", 1000)
    report = verify_audit_log(tmp_path, since=days[1][0], until=days[1][0])
    # The tail is skipped, the last intact event before it links the range.
    assert [f.kind.value for f in report.finding_list if f.severity.value == "error"] == []
    assert report.events_checked == len(lines(second))
    with first.open("ab") as handle:
        handle.write(b"z" * 5000)  # now longer than the bytes read back (4 x 1000)
    report = verify_audit_log(tmp_path, since=days[1][0], until=days[1][0])
    assert "sequence_gap" in kinds(report)  # not seeded: the range's start is reported


async def test_the_command_line_recomputes_the_tree_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fapilog_notebook.cli import main

    await write(tmp_path)
    edit_line(newest(tmp_path), 1, *SPACED)
    assert main(["verify", str(tmp_path)]) == 0  # a warning only: the tree is not recomputed
    assert "Merkle tree: not recomputed" in capsys.readouterr().out
    assert main(["verify", str(tmp_path), "--check-tree"]) == 1
    assert "tree_mismatch" in capsys.readouterr().out
