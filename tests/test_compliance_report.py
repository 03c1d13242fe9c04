"""compliance_report: controls mapped to analyses, renderings, evidence and sign-off."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from fapilog_notebook import AuditTrail
from fapilog_notebook._tamper import alter_field
from fapilog_notebook.chain import encode_event as seal
from fapilog_notebook.compliance import ComplianceReport, compliance_report

from .logbuilder import payload, timestamp_text
from .trail_helpers import lines_on_disk

USERS = {"alice": "10.0.0.1", "bob": "10.0.0.2", "carol": "10.0.0.3", "dave": "10.0.0.4"}
DAYS = 21
SCRIPT = "<script>alert('x')</script>"


def _start() -> date:
    # Recent days, so the retention rules (relative to today) see no file past the policy.
    return datetime.now(UTC).date() - timedelta(days=DAYS)


def _event(index: int, moment: datetime, event_type: str, **fields: Any) -> dict[str, Any]:
    body = payload(index, moment, event_type=event_type, **fields)
    body["timestamp"] = timestamp_text(moment)
    return body


def _background() -> list[dict[str, Any]]:
    """A quiet, compliant stretch: heartbeats every 20 minutes, office-hours work on weekdays."""
    events: list[dict[str, Any]] = []
    first = _start()
    for day_number in range(DAYS):
        day = first + timedelta(days=day_number)
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
        for slot in range(72):
            moment = midnight + timedelta(minutes=20 * slot, seconds=1)
            events.append(
                _event(
                    len(events),
                    moment,
                    "component_recovery",
                    user_id="system",
                    client_ip="10.0.0.250",
                    contains_pii=False,
                    metadata={"check": "health"},
                )
            )
        if day.weekday() >= 5:
            continue
        for hour in range(9, 17):
            for number, (user, ip) in enumerate(USERS.items()):
                moment = midnight + timedelta(hours=hour, minutes=7 * number + 3)
                events.append(
                    _event(
                        len(events),
                        moment,
                        "data_access",
                        user_id=user,
                        client_ip=ip,
                        contains_pii=False,
                        contains_phi=number == 0,
                        metadata={"resource": f"/patients/{hour}{number}"},
                    )
                )
    return events


def _weekday(offset: int) -> date:
    """The ``offset``-th weekday of the stretch (0 = the first)."""
    day = _start()
    seen = -1
    while True:
        if day.weekday() < 5:
            seen += 1
            if seen == offset:
                return day
        day += timedelta(days=1)


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def _planted() -> tuple[list[dict[str, Any]], pd.DataFrame]:
    """The background with known patterns planted, and the roster that makes one of them."""
    events = _background()
    n = 100_000
    burst_day, late_day, bulk_day, change_day = _weekday(2), _weekday(4), _weekday(6), _weekday(8)
    # Password guessing against alice from one IP: one cluster by user, one by IP.
    for i in range(8):
        events.append(
            _event(
                n + i,
                _at(burst_day, 10, 0) + timedelta(seconds=30 * i),
                "authentication_failed",
                user_id="alice",
                client_ip="203.0.113.9",
                contains_pii=False,
                metadata={},
            )
        )
    # PHI read at 03:00 on a weekday, with markup in its message.
    events.append(
        _event(
            n + 20,
            _at(late_day, 3, 0),
            "data_access",
            user_id="bob",
            client_ip="10.0.0.2",
            contains_pii=False,
            contains_phi=True,
            message=f"read {SCRIPT}",
            metadata={"resource": "/patients/7"},
        )
    )
    # A bulk export of 150 records in one hour.
    for i in range(150):
        events.append(
            _event(
                n + 100 + i,
                _at(bulk_day, 13, 0) + timedelta(seconds=10 * i),
                "data_export",
                user_id="dave",
                client_ip="10.0.0.4",
                contains_pii=False,
                metadata={"resource": f"/patients/{i}"},
            )
        )
    # A configuration change nobody is named for.
    events.append(
        _event(
            n + 300,
            _at(change_day, 11, 0),
            "config_changed",
            user_id=None,
            client_ip="10.0.0.9",
            contains_pii=False,
            metadata={},
        )
    )
    # Six hours of silence: the heartbeats of one night are gone.
    silent_day = _weekday(10)
    gone = (_at(silent_day, 0, 30), _at(silent_day, 7, 0))
    events = [
        e
        for e in events
        if not (
            e["event_type"] == "component_recovery"
            and gone[0] <= datetime.fromisoformat(e["timestamp"]) < gone[1]
        )
    ]
    # carol keeps working after she left.
    roster = pd.DataFrame(
        {"user_id": ["carol", "alice"], "terminated_at": [str(_weekday(12)), None]}
    )
    return events, roster


def _write(directory: Path, events: list[dict[str, Any]]) -> Path:
    """Seal ``events`` (sorted by time) into daily files."""
    directory.mkdir(parents=True, exist_ok=True)
    ordered = sorted(events, key=lambda e: e["timestamp"])
    previous: str | None = None
    files: dict[str, list[bytes]] = {}
    for number, event in enumerate(ordered, 1):
        line, previous = seal(event, sequence_number=number, previous_hash=previous)
        files.setdefault(event["timestamp"][:10], []).append(line)
    for day, lines in files.items():
        (directory / f"audit_{day}.jsonl").write_bytes(b"".join(lines))
    return directory


@pytest.fixture(scope="module")
def clean_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write(tmp_path_factory.mktemp("clean") / "trail", _background())


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    events, roster = _planted()
    return _write(tmp_path_factory.mktemp("planted") / "trail", events), roster


@pytest.fixture(scope="module")
def planted_report(planted: tuple[Path, pd.DataFrame]) -> ComplianceReport:
    directory, roster = planted
    return compliance_report(directory, roster=roster, resources=["/patients/7"])


def _status(report: ComplianceReport) -> dict[str, tuple[str, int]]:
    rows = report.controls.to_dict("records")
    return {str(r["control"]): (str(r["status"]), int(r["exceptions"])) for r in rows}


def test_a_clean_month_passes_every_control(clean_dir: Path) -> None:
    roster = pd.DataFrame({"user_id": ["zed"], "terminated_at": ["2020-01-01"]})
    report = compliance_report(clean_dir, roster=roster, resources=["/patients/90"])
    assert report.valid
    failing = report.controls[report.controls["status"] != "pass"]
    assert failing.empty, failing[["control", "status", "detail"]].to_string()
    assert report.verdict == "PASS"
    assert report.passed
    assert list(report.controls.columns)[:6] == [
        "framework",
        "control",
        "title",
        "status",
        "exceptions",
        "section",
    ]
    assert len(report.sections["disclosures"]) > 0  # the accounting is a report, not a test


def test_inputs_not_given_are_not_evaluated_with_the_reason(clean_dir: Path) -> None:
    report = compliance_report(clean_dir)
    status = report.controls.set_index("control")
    assert status.loc["SOX ITGC terminated-user access", "status"] == "not_evaluated"
    assert "no roster given" in str(status.loc["SOX ITGC terminated-user access", "detail"])
    assert status.loc["HIPAA 164.528", "status"] == "not_evaluated"
    assert "no record given" in str(status.loc["HIPAA 164.528", "detail"])
    assert report.verdict == "INCOMPLETE"
    assert "after_termination" not in report.sections


def test_the_catalogue_covers_the_required_controls(clean_dir: Path) -> None:
    report = compliance_report(clean_dir)
    controls = set(report.controls["control"])
    for required in (
        "PCI DSS 10.2.1.1",
        "PCI DSS 10.2.1.2",
        "PCI DSS 10.2.1.3",
        "PCI DSS 10.2.1.4",
        "PCI DSS 10.2.1.6",
        "PCI DSS 10.2.2",
        "PCI DSS 10.4.1/10.4.1.1",
        "PCI DSS 10.4.3",
        "PCI DSS 10.5.1",
        "HIPAA 164.312(b)",
        "HIPAA 164.308(a)(1)(ii)(D)",
        "HIPAA 164.528",
        "SOC 2 CC6.1",
        "SOC 2 CC6.6",
        "SOC 2 CC7.2",
        "SOX ITGC change control",
        "SOX ITGC terminated-user access",
        "GDPR Art. 33",
    ):
        assert required in controls
    assert (report.controls["analysis"].str.len() > 0).all()
    assert (report.controls["detail"].str.len() > 0).all()
    only = compliance_report(clean_dir, frameworks=["sox"])
    assert set(only.controls["framework"]) == {"SOX ITGC"}


def test_the_planted_month_names_each_exception(planted_report: ComplianceReport) -> None:
    status = _status(planted_report)
    assert status["PCI DSS 10.2.1.4"] == ("exceptions", 2)  # one cluster by user, one by IP
    assert status["SOC 2 CC6.6"] == ("exceptions", 2)
    assert status["PCI DSS 10.2.1.6"] == ("exceptions", 1)  # the six-hour silence
    assert status["PCI DSS 10.2.1.2"] == ("exceptions", 1)  # the change with no user
    assert status["SOX ITGC change control"] == ("exceptions", 1)
    assert status["PCI DSS 10.2.2"] == ("exceptions", 1)  # config_changed lacks user_id
    assert status["HIPAA 164.308(a)(1)(ii)(D)"] == ("exceptions", 1)  # PHI at 03:00
    assert status["GDPR Art. 33"] == ("exceptions", 1)  # the bulk export
    assert status["SOC 2 CC7.2"] == ("exceptions", 2)  # bulk hour + the 03:00 read
    terminated = planted_report.sections["after_termination"]
    assert status["SOX ITGC terminated-user access"] == ("exceptions", len(terminated))
    assert len(terminated) > 0
    assert set(terminated["user_id"]) == {"carol"}
    assert status["PCI DSS 10.2.1.1"] == ("pass", 0)
    assert status["PCI DSS 10.5.1"] == ("pass", 0)
    open_controls = sum(1 for s, _ in status.values() if s == "exceptions") - 1
    assert status["PCI DSS 10.4.3"] == ("exceptions", open_controls)
    assert planted_report.verdict == "EXCEPTIONS"
    # Rows stand for events and lead back to their line.
    late = planted_report.sections["off_hours"]
    assert {"sequence_number", "source_file", "source_line"} <= set(late.columns)
    assert planted_report.sections["disclosures"]["record"].unique().tolist() == ["/patients/7"]


def test_to_json_is_the_same_every_time(planted_report: ComplianceReport) -> None:
    first = planted_report.to_json()
    assert first == planted_report.to_json()
    data = json.loads(first)
    assert data["verdict"] == "EXCEPTIONS"
    assert data["created"] == planted_report.created.isoformat()
    assert len(data["sections"]["bulk_access"]["rows"]) == len(
        planted_report.sections["bulk_access"]
    )
    assert len(data["controls"]) == len(planted_report.controls)


async def test_sign_off_records_the_hash_of_the_json(
    planted_report: ComplianceReport, tmp_path: Path
) -> None:
    async with AuditTrail(storage_path=tmp_path) as trail:
        event_id = await planted_report.sign_off(trail, reviewer="auditor", note="reviewed")
    (event,) = lines_on_disk(tmp_path)
    assert event["event_id"] == event_id
    assert event["event_type"] == "compliance_check"
    assert event["user_id"] == "auditor"
    meta = event["metadata"]
    expected = hashlib.sha256(planted_report.to_json().encode("utf-8")).hexdigest()
    assert meta["report_sha256"] == expected
    assert meta["reviewer"] == "auditor"
    assert meta["note"] == "reviewed"
    assert meta["period_since"] == planted_report.period[0]
    assert meta["counts"]["exceptions"] == planted_report.counts["exceptions"]
    with pytest.raises(ValueError, match="reviewer"):
        await planted_report.sign_off(trail, reviewer=" ")


def test_html_is_self_contained_escaped_and_has_every_row(
    planted_report: ComplianceReport, tmp_path: Path
) -> None:
    page = planted_report.to_html(tmp_path / "report.html").read_text(encoding="utf-8")
    assert SCRIPT not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert page.count("<script>") == 1  # the report's own, inline
    assert not re.search(r"<(script|link|img)[^>]*(src|href)=", page)
    assert "http://" not in page
    assert "https://" not in page
    for name, section in planted_report.sections.items():
        table = re.search(rf'<table class="fnc-data" data-name="{name}".*?</table>', page, re.S)
        if len(section):
            assert table is not None, name
            assert table.group(0).count("<tr") == len(section) + 1, name  # + the heading
    bulk = planted_report.sections["bulk_access"]
    assert len(bulk) == 1


def test_text_shows_every_row(planted_report: ComplianceReport) -> None:
    text = str(planted_report)
    assert text.startswith("EXCEPTIONS")
    assert SCRIPT in text  # plain text is not markup
    export_rows = planted_report.sections["after_termination"]
    assert f"Section after_termination ({len(export_rows)} rows)" in text
    assert "..." not in text.split("Controls:")[1]
    html = planted_report._repr_html_()
    assert SCRIPT not in html


def test_an_invalid_trail_says_so_first_and_on_every_control(
    clean_dir: Path, tmp_path: Path
) -> None:
    damaged = tmp_path / "trail"
    shutil.copytree(clean_dir, damaged)
    target = sorted(damaged.glob("audit_*.jsonl"))[3]
    alter_field(target, 5, "message", "nothing to see here")
    report = compliance_report(damaged)
    assert not report.valid
    assert report.verdict == "INVALID"
    assert str(report).startswith("INVALID")
    assert (report.controls["caveat"].str.startswith("trail INVALID")).all()
    page = report.to_html(tmp_path / "r.html").read_text(encoding="utf-8")
    body = page.split("<body", 1)[1].split(">", 1)[1]
    assert re.sub(r"<[^>]+>", "", body).strip().startswith("INVALID")
    assert "<title>INVALID" in page
    assert report._repr_html_().index("INVALID") < report._repr_html_().index("Compliance report")


def test_excel_has_one_sheet_per_section(planted_report: ComplianceReport, tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    path = planted_report.to_excel(tmp_path / "report.xlsx")
    book = openpyxl.load_workbook(path, read_only=True)
    assert book.sheetnames[:3] == ["summary", "controls", "findings"]
    for name, section in planted_report.sections.items():
        assert name in book.sheetnames
        assert book[name].max_row == len(section) + 1, name


def test_bad_arguments_are_named(clean_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="frameworks must be some of"):
        compliance_report(clean_dir, frameworks=["iso"])
    with pytest.raises(ValueError, match="business_hours"):
        compliance_report(clean_dir, business_hours=("08:00",))  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError):
        compliance_report(tmp_path / "missing")
    with pytest.raises(ValueError, match="tz"):
        compliance_report(clean_dir, tz="Mars/Olympus")


def test_access_is_recorded_for_the_report(clean_dir: Path, tmp_path: Path) -> None:
    import asyncio

    trail = AuditTrail(storage_path=tmp_path / "access")
    compliance_report(clean_dir, access_log=trail, user_id="auditor", since=str(_weekday(1)))
    (event,) = lines_on_disk(tmp_path / "access")
    assert event["event_type"] == "audit_log_access"
    assert event["operation"] == "compliance_report"
    assert event["user_id"] == "auditor"
    assert event["metadata"]["since"] == str(_weekday(1))
    asyncio.run(trail.stop())


def test_retention_is_judged_as_of_the_given_day(clean_dir: Path) -> None:
    later = datetime.now(UTC).date() + timedelta(days=400)
    report = compliance_report(clean_dir, frameworks=["pci-dss"], as_of=later)
    status = _status(report)
    assert status["PCI DSS 10.5.1"] == ("exceptions", DAYS)  # every file is now past 365 days
    assert report.parameters["as_of"] == later.isoformat()


async def test_a_later_report_counts_earlier_sign_offs(clean_dir: Path, tmp_path: Path) -> None:
    directory = tmp_path / "trail"
    shutil.copytree(clean_dir, directory)
    first = compliance_report(directory, frameworks=["pci-dss"])
    async with AuditTrail(storage_path=directory) as trail:
        await first.sign_off(trail, reviewer="auditor")
    second = compliance_report(directory, frameworks=["pci-dss"])
    assert len(second.sections["sign_offs"]) == 1
    # The sign-off is written at the wall clock's time: whether it ends in a
    # silence (an exception) depends on when the test runs, so either wording.
    detail = str(second.controls.set_index("control").loc["PCI DSS 10.4.3", "detail"])
    assert re.search(r"\b1 (earlier )?sign-offs in the period", detail), detail


def test_no_key_material_in_any_rendering(clean_dir: Path, tmp_path: Path) -> None:
    key = bytes(range(32))
    report = compliance_report(clean_dir, frameworks=["pci-dss"], key=key)
    assert not report.valid  # unkeyed events checked with a key: no downgrade
    texts = [report.to_json(), str(report), repr(report), report._repr_html_()]
    texts.append(report.to_html(tmp_path / "r.html").read_text(encoding="utf-8"))
    for text in texts:
        assert key.hex() not in text
        assert repr(key) not in text
    assert report.parameters["key_given"] is True


def test_a_period_without_events_passes_nothing(tmp_path: Path) -> None:
    (tmp_path / "audit_2026-03-01.jsonl").write_bytes(b"")
    report = compliance_report(tmp_path, as_of="2026-03-02")
    status = _status(report)
    assert status.pop("PCI DSS 10.5.1") == ("pass", 0)
    assert set(status.values()) == {("not_evaluated", 0)}
    assert "no events in the period" in report.controls["detail"].iloc[0]
    assert report.verdict == "INCOMPLETE"
