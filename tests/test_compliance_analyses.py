"""The compliance analyses: planted ground truth in a realistic month, edges, bad input."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from fapilog_notebook import AuditKeyError, read_audit_log
from fapilog_notebook import compliance as c
from fapilog_notebook.compliance import _analyses
from tests.compliance_month import (
    STAFF,
    STUFFING_IP,
    TZ,
    Event,
    Month,
    write_events,
    write_month,
)

KEY = bytes(range(32))
#: The module, untyped: to pass what the signatures forbid.
loose: Any = c


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Month:
    return write_month(tmp_path_factory.mktemp("planted"))


@pytest.fixture(scope="module")
def frame(month: Month) -> pd.DataFrame:
    return read_audit_log(month.directory)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[Month, pd.DataFrame]:
    month = write_month(tmp_path_factory.mktemp("clean"), planted=False)
    return month, read_audit_log(month.directory)


def small(tmp_path: Path, events: list[Event]) -> pd.DataFrame:
    """The typed frame of a trail holding just ``events``."""
    write_events(tmp_path, sorted(events, key=lambda e: e.timestamp))
    return read_audit_log(tmp_path)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def access(when: str, user: str = "u1", ip: str = "10.0.0.1", **fields: Any) -> Event:
    return Event(at(when), "data_access", user, ip, fields.pop("resource", "/r/1"), **fields)


def failure(when: datetime, user: str = "u1", ip: str = "10.0.0.1") -> Event:
    return Event(when, "authentication_failed", user, ip)


def seqs(result: pd.DataFrame, column: str = "sequence_number") -> set[int]:
    return {int(v) for v in result[column]}


# ------------------------------------------------------------ planted ground truth


def test_failed_logins_by_user_finds_exactly_the_guessing_burst(
    month: Month, frame: pd.DataFrame
) -> None:
    found = c.failed_logins(frame)
    rows = set(
        zip(found.user_id, found.first_sequence, found.last_sequence, found.failures, strict=True)
    )
    assert rows == month.expected["failed_logins_by_user"]
    assert found.client_ips.tolist() == [("192.0.2.66",)]
    assert found.distinct_client_ips.tolist() == [1]
    first = next(e for e in month.events if e.sequence_number == found.first_sequence[0])
    assert found.start[0] == pd.Timestamp(first.timestamp)
    assert Path(found.source_file[0]).name == "audit_2026-03-17.jsonl"
    lines = Path(found.source_file[0]).read_text().splitlines()
    assert f'"sequence_number":{first.sequence_number},' in lines[found.source_line[0] - 1]


def test_failed_logins_by_ip_finds_guessing_and_stuffing(month: Month, frame: pd.DataFrame) -> None:
    found = c.failed_logins(frame, by="client_ip")
    rows = set(
        zip(found.client_ip, found.first_sequence, found.last_sequence, found.failures, strict=True)
    )
    assert rows == month.expected["failed_logins_by_ip"]
    stuffing = found[found.client_ip == STUFFING_IP].iloc[0]
    assert stuffing.distinct_user_ids == month.expected["stuffing_users"] == 40
    assert set(stuffing.user_ids) >= set(STAFF[:12])
    assert list(stuffing.user_ids) == sorted(stuffing.user_ids)


def test_off_hours_finds_only_the_0300_access_after_the_dst_change(
    month: Month, frame: pd.DataFrame
) -> None:
    found = c.off_hours(frame, tz=TZ)
    assert (
        dict(zip(found.sequence_number, found.reason.astype(str), strict=True))
        == month.expected["off_hours"]
    )
    # The planted event is at 07:00 UTC: 03:00 in New York on the Monday after
    # the change, so 02:00 under the winter offset and 04:00 under the summer one.
    assert found.timestamp.iloc[0] == pd.Timestamp("2026-03-09T07:00:00Z")
    # Background runs in the first and last business hour on both sides of the
    # change: a fixed offset puts some of them outside the business day.
    assert len(c.off_hours(frame, tz="Etc/GMT+5")) > 1
    assert len(c.off_hours(frame, tz="Etc/GMT+4")) > 1


def test_bulk_access_finds_exactly_the_bulk_read(month: Month, frame: pd.DataFrame) -> None:
    found = c.bulk_access(frame)
    rows = set(zip(found.user_id, found.period, found.events, found.first_sequence, strict=True))
    assert rows == month.expected["bulk_access"]
    assert found.distinct_resources[0] == found.events[0] == 300
    assert isinstance(found.period[0], pd.Timestamp)
    assert str(found.period.dtype) == ("datetime64[us, UTC]")


def test_first_seen_finds_the_new_ip_and_the_attackers_combinations(
    month: Month, frame: pd.DataFrame
) -> None:
    found = c.first_seen(frame)
    assert (
        set(zip(found.user_id, found.client_ip, found.first_sequence, strict=True))
        == (month.expected["first_seen"])
    )
    assert ("dave", "203.0.113.77") in set(zip(found.user_id, found.client_ip, strict=True))
    new_ip = found[found.client_ip == "203.0.113.77"].iloc[0]
    assert new_ip.events == 3
    assert list(found["first"]) == sorted(found["first"])


def test_silences_finds_exactly_the_six_hours(month: Month, frame: pd.DataFrame) -> None:
    found = c.silences(frame)
    assert (
        set(zip(found.before_sequence, found.after_sequence, strict=True))
        == month.expected["silences"]
    )
    assert found.duration.tolist() == [pd.Timedelta(hours=6)]
    assert found.start[0] == pd.Timestamp("2026-03-26T02:00:00Z")


def test_after_termination_finds_exactly_the_late_events(
    month: Month, frame: pd.DataFrame, tmp_path: Path
) -> None:
    found = c.after_termination(frame, month.roster)
    assert seqs(found) == month.expected["after_termination"]
    assert set(found.terminated_at) == {pd.Timestamp("2026-03-20T00:00:00Z")}
    path = tmp_path / "roster.csv"
    month.roster.to_csv(path, index=False)
    from_csv = c.after_termination(frame, path)
    pd.testing.assert_frame_equal(from_csv, found)
    assert seqs(c.after_termination(frame, str(path))) == month.expected["after_termination"]


def test_disclosures_never_match_a_mere_prefix(month: Month, frame: pd.DataFrame) -> None:
    found = c.disclosures(frame, "/patients/4")
    assert list(found.sequence_number) == month.expected["disclosures"]
    names = {m["resource"] for m in found.metadata}
    assert names == {"/patients/4", "/patients/4/notes", "/patients/4/labs"}
    others = {m.get("resource") for m in frame.metadata}
    assert {"/patients/42", "/patients/42/labs", "/patients/420"} <= others
    assert list(c.disclosures(frame, "/patients/4/").sequence_number) == list(found.sequence_number)
    assert set(c.disclosures(frame, "/patients/42").metadata.map(lambda m: m["resource"])) == {
        "/patients/42",
        "/patients/42/labs",
    }


def test_privileged_actions_are_exactly_the_admin_events(month: Month, frame: pd.DataFrame) -> None:
    found = c.privileged_actions(frame)
    assert seqs(found) == month.expected["privileged_actions"]
    assert list(found.columns) == list(frame.columns)


def test_completeness_of_the_month_has_no_gaps(frame: pd.DataFrame) -> None:
    found = c.completeness(frame)
    assert found.missing.sum() == 0
    data = found[found.event_type == "data_access"]
    assert data.field.tolist() == ["user_id", "origin", "resource"]
    assert (data.events == int((frame.event_type == "data_access").sum())).all()
    assert "resource" not in set(found[found.event_type == "compliance_check"].field)


def test_sensitive_access_counts_match_the_events_written(
    month: Month, frame: pd.DataFrame
) -> None:
    expected: dict[str, list[Any]] = defaultdict(lambda: [0, 0, 0, set(), None, None])
    for e in month.events:
        if e.contains_phi or e.contains_pii:
            row = expected[e.user_id or ""]
            row[0] += 1
            row[1] += e.contains_phi
            row[2] += e.contains_pii
            if e.resource:
                row[3].add(e.resource)
            row[4] = row[4] or e.timestamp
            row[5] = e.timestamp
    found = c.sensitive_access(frame)
    got = {
        r.user_id: [r.events, r.phi_events, r.pii_events, r.distinct_resources, r.first, r.last]
        for r in found.itertuples()
    }
    want = {
        user: [n, phi, pii, len(res), pd.Timestamp(first), pd.Timestamp(last)]
        for user, (n, phi, pii, res, first, last) in expected.items()
    }
    assert got == want
    assert list(found.events) == sorted(found.events, reverse=True)
    assert found.user_id[0] == "gina"  # the bulk reader is the most active


def test_the_clean_month_has_no_findings(clean: tuple[Month, pd.DataFrame]) -> None:
    month, frame = clean
    assert c.failed_logins(frame).empty
    assert c.failed_logins(frame, by="client_ip").empty
    assert c.off_hours(frame, tz=TZ).empty
    assert c.bulk_access(frame).empty
    assert c.first_seen(frame).empty
    assert c.silences(frame).empty
    assert c.after_termination(frame, month.roster).empty
    assert c.completeness(frame).missing.sum() == 0
    assert seqs(c.privileged_actions(frame)) == month.expected["privileged_actions"]


def test_the_accessor_gives_the_functions_results(month: Month, frame: pd.DataFrame) -> None:
    pairs = [
        (frame.audit.failed_logins(by="client_ip"), c.failed_logins(frame, by="client_ip")),
        (frame.audit.off_hours(tz=TZ), c.off_hours(frame, tz=TZ)),
        (frame.audit.sensitive_access(), c.sensitive_access(frame)),
        (frame.audit.bulk_access(threshold=50), c.bulk_access(frame, threshold=50)),
        (frame.audit.first_seen(), c.first_seen(frame)),
        (frame.audit.privileged_actions(), c.privileged_actions(frame)),
        (frame.audit.silences(), c.silences(frame)),
        (frame.audit.completeness(), c.completeness(frame)),
        (frame.audit.after_termination(month.roster), c.after_termination(frame, month.roster)),
        (frame.audit.disclosures("/patients/4"), c.disclosures(frame, "/patients/4")),
        (frame.audit.pseudonymize(key=KEY), c.pseudonymize(frame, key=KEY)),
    ]
    for got, want in pairs:
        pd.testing.assert_frame_equal(got, want)
    assert not hasattr(frame.audit, "retention")


# ------------------------------------------------------------------ failed_logins


def test_failed_logins_window_is_inclusive_and_threshold_counts(tmp_path: Path) -> None:
    t0 = at("2026-03-02T10:00:00")
    events = [failure(t0 + timedelta(minutes=10 * n)) for n in range(5)]  # 10 min apart
    events += [failure(t0 + timedelta(hours=2, minutes=10 * n, seconds=n)) for n in range(5)]
    frame = small(tmp_path, events)
    found = c.failed_logins(frame)
    assert found.failures.tolist() == [5]
    assert found.start[0] == pd.Timestamp(t0)
    assert found.end[0] == pd.Timestamp(t0 + timedelta(minutes=40))
    assert c.failed_logins(frame, threshold=6).empty
    assert c.failed_logins(frame, window="10min 1s").failures.tolist() == [5, 5]
    assert c.failed_logins(frame, window=timedelta(minutes=9)).empty


def test_failed_logins_keep_users_apart_and_skip_events_without_the_key(tmp_path: Path) -> None:
    t0 = at("2026-03-02T10:00:00")
    events = [failure(t0 + timedelta(seconds=n), user=f"u{n % 2}") for n in range(8)]
    events += [failure(t0 + timedelta(seconds=30 + n), user=None) for n in range(8)]  # type: ignore[arg-type]
    frame = small(tmp_path, events)
    assert c.failed_logins(frame).empty  # four each: under five
    assert c.failed_logins(frame, threshold=4).user_id.tolist() == ["u0", "u1"]
    by_ip = c.failed_logins(frame, by="client_ip")
    assert by_ip.failures.tolist() == [16]
    assert by_ip.user_ids[0] == ("u0", "u1")


# ------------------------------------------------------------------------ off_hours


def test_off_hours_business_day_is_half_open_with_one_reason_each(tmp_path: Path) -> None:
    events = [
        access("2026-03-02T07:59:59", resource="/before"),  # Monday
        access("2026-03-02T08:00:00", resource="/in"),
        access("2026-03-02T17:59:59", resource="/in"),
        access("2026-03-02T18:00:00", resource="/after"),
        access("2026-03-07T12:00:00", resource="/weekend"),  # Saturday
        access("2026-03-08T03:00:00", resource="/holiday"),  # Sunday and a holiday
        access("2026-03-09T12:00:00", resource="/holiday"),  # Monday, a holiday
        Event(at("2026-03-07T03:00:00"), "system_startup", None),
        Event(at("2026-03-07T03:00:01"), "compliance_check", "svc"),
        Event(at("2026-03-07T03:00:02"), "config_changed", "admin", "10.0.0.9"),
    ]
    frame = small(tmp_path, events)
    found = c.off_hours(frame, holidays=[date(2026, 3, 8), "2026-03-09"])
    reasons = [
        (m.get("resource"), r)
        for m, r in zip(found.metadata, found.reason.astype(str), strict=True)
    ]
    assert reasons == [
        ("/before", "before_hours"),
        ("/after", "after_hours"),
        (None, "weekend"),
        ("/weekend", "weekend"),
        ("/holiday", "holiday"),
        ("/holiday", "holiday"),
    ]
    assert found.event_type.astype(str).tolist()[2] == "config_changed"
    assert list(found.reason.cat.categories) == [
        "holiday",
        "weekend",
        "before_hours",
        "after_hours",
    ]
    no_weekends = c.off_hours(frame, weekends=False)
    assert "weekend" not in set(no_weekends.reason.astype(str))
    assert len(no_weekends) == 4  # 12:00 Saturday is a business hour then
    late = c.off_hours(frame, start=time(8, 0), end="18:00:01")
    assert "/after" not in {m.get("resource") for m in late.metadata}


def test_off_hours_uses_the_local_wall_clock_across_dst(tmp_path: Path) -> None:
    # Berlin: 29 March 2026 02:00 -> 03:00. 07:30 UTC is 08:30 before, 09:30 after.
    events = [
        access("2026-03-27T06:30:00", resource="/fri-0730"),  # 07:30 CET: before
        access("2026-03-27T07:30:00", resource="/fri-0830"),  # 08:30 CET: in
        access("2026-03-30T06:30:00", resource="/mon-0830"),  # 08:30 CEST: in
        access("2026-03-30T05:30:00", resource="/mon-0730"),  # 07:30 CEST: before
        access("2026-03-30T16:00:00", resource="/mon-1800"),  # 18:00 CEST: after
    ]
    found = c.off_hours(small(tmp_path, events), tz="Europe/Berlin")
    assert [m["resource"] for m in found.metadata] == ["/fri-0730", "/mon-0730", "/mon-1800"]
    assert found.reason.astype(str).tolist() == ["before_hours", "before_hours", "after_hours"]


# ----------------------------------------------------------- bulk_access, first_seen


def test_bulk_access_counts_per_utc_period_and_exports(tmp_path: Path) -> None:
    t0 = at("2026-03-02T10:00:00")
    events = [
        Event(
            t0 + timedelta(minutes=n),
            "data_export" if n % 3 == 0 else "data_access",
            "u1",
            "10.0.0.1",
            f"/r/{n % 7}",
        )
        for n in range(60)
    ]
    events.append(Event(t0 + timedelta(minutes=5), "authentication_failed", "u1", "10.0.0.1"))
    frame = small(tmp_path, events)
    found = c.bulk_access(frame, threshold=60)
    assert found.events.tolist() == [60]
    assert found.exports.tolist() == [20]
    assert found.distinct_resources.tolist() == [7]
    assert found.period.tolist() == [pd.Timestamp("2026-03-02T10:00:00Z")]
    assert c.bulk_access(frame, threshold=61).empty
    halves = c.bulk_access(frame, per="30min", threshold=30)
    assert halves.period.tolist() == [
        pd.Timestamp("2026-03-02T10:00:00Z"),
        pd.Timestamp("2026-03-02T10:30:00Z"),
    ]
    day = c.bulk_access(frame, per="1D", threshold=1)
    assert day.period.tolist() == [pd.Timestamp("2026-03-02T00:00:00Z")]


def test_first_seen_baseline_edge_and_single_column(tmp_path: Path) -> None:
    events = [
        access("2026-03-01T00:00:00", user="a", ip="1.1.1.1"),
        access("2026-03-14T23:59:59", user="b", ip="1.1.1.1"),
        access("2026-03-15T00:00:00", user="a", ip="2.2.2.2"),
        access("2026-03-16T00:00:00", user="a", ip="2.2.2.2"),
        access("2026-03-16T00:00:01", user="c", ip=None),  # type: ignore[arg-type]
    ]
    frame = small(tmp_path, events)
    found = c.first_seen(frame)
    assert list(zip(found.user_id, found.client_ip, found.events, strict=True)) == [
        ("a", "2.2.2.2", 2)
    ]
    assert found["first"][0] == pd.Timestamp("2026-03-15T00:00:00Z")
    assert c.first_seen(frame, columns="user_id").user_id.tolist() == ["c"]
    assert c.first_seen(frame, baseline="15D").empty
    assert len(c.first_seen(frame, baseline="1D", columns=["user_id"])) == 2


# ---------------------------------------------------------------------- silences


def test_silences_need_more_than_min_gap(tmp_path: Path) -> None:
    events = [
        access("2026-03-02T10:00:00"),
        access("2026-03-02T11:00:00"),  # exactly an hour: not a silence
        access("2026-03-02T12:00:01"),
    ]
    frame = small(tmp_path, events)
    found = c.silences(frame)
    assert list(zip(found.before_sequence, found.after_sequence, strict=True)) == [(2, 3)]
    assert found.duration.tolist() == [pd.Timedelta(hours=1, seconds=1)]
    assert c.silences(frame, min_gap="2h").empty
    assert len(c.silences(frame, min_gap=timedelta(minutes=30))) == 2
    shuffled = frame.sample(frac=1, random_state=1)
    pd.testing.assert_frame_equal(c.silences(shuffled), found)


# ---------------------------------------------------------------- completeness


def test_completeness_counts_each_missing_field(frame: pd.DataFrame) -> None:
    part = frame[frame.event_type.isin(["data_access", "authentication_failed"])].copy()
    accesses = part.index[(part.event_type == "data_access").to_numpy()]
    failures = part.index[(part.event_type == "authentication_failed").to_numpy()]
    part.loc[accesses[:3], "user_id"] = None
    part.loc[accesses[3:5], "user_id"] = "  "
    part.loc[failures[:4], "client_ip"] = None
    part.loc[failures[:2], "hostname"] = None  # origin is missing only where both are
    metadata: list[dict[str, Any]] = [{}, {"resource": ""}, {"resource": 7}]
    for label, value in zip(accesses[5:8], metadata, strict=True):
        part.at[label, "metadata"] = value  # type: ignore[assignment]
    found = c.completeness(part)
    missing = {(r.event_type, r.field): r.missing for r in found.itertuples()}
    assert missing == {
        ("authentication_failed", "user_id"): 0,
        ("authentication_failed", "origin"): 2,
        ("data_access", "user_id"): 5,
        ("data_access", "origin"): 0,
        ("data_access", "resource"): 3,
    }
    row = found[(found.event_type == "data_access") & (found.field == "user_id")].iloc[0]
    assert row.events == len(accesses)
    assert row.share_missing == pytest.approx(5 / len(accesses))


# --------------------------------------------------------------- after_termination


def test_roster_dates_times_and_boundaries(tmp_path: Path) -> None:
    events = [
        access("2026-03-09T23:59:59", user="a"),
        access("2026-03-10T00:00:00", user="a"),  # at termination: reported
        access("2026-03-10T11:59:59", user="b"),
        access("2026-03-10T12:00:00", user="b"),
        access("2026-03-10T12:00:00", user="c"),
        access("2026-03-10T13:00:00", user="d"),
    ]
    frame = small(tmp_path, events)
    roster = pd.DataFrame(
        {
            "user_id": ["a", "b", "c", "d"],
            "terminated_at": [
                "2026-03-10",
                "2026-03-10 12:00:00",
                "2026-03-10T14:00:00+02:00",
                None,
            ],
        }
    )
    found = c.after_termination(frame, roster)
    assert list(zip(found.user_id, found.sequence_number, strict=True)) == [
        ("a", 2),
        ("b", 4),
        ("c", 5),
    ]
    assert found.terminated_at.tolist() == [
        pd.Timestamp("2026-03-10T00:00:00Z"),
        pd.Timestamp("2026-03-10T12:00:00Z"),
        pd.Timestamp("2026-03-10T12:00:00Z"),
    ]
    typed = pd.DataFrame(
        {"user_id": ["a"], "terminated_at": [datetime(2026, 3, 10, 0, 0)]}  # naive: UTC
    )
    assert c.after_termination(frame, typed).sequence_number.tolist() == [2]
    dates = pd.DataFrame({"user_id": ["b"], "terminated_at": [date(2026, 3, 11)]})
    assert c.after_termination(frame, dates).empty


@pytest.mark.parametrize(
    ("roster", "message"),
    [
        (pd.DataFrame({"user_id": ["a"]}), "roster has no column 'terminated_at'"),
        (pd.DataFrame({"user": ["a"], "terminated_at": ["2026-03-01"]}), "no column 'user_id'"),
        (
            pd.DataFrame({"user_id": ["a"], "terminated_at": ["next tuesday"]}),
            "terminated_at 'next tuesday' of user 'a' is not a date",
        ),
        (
            pd.DataFrame({"user_id": ["a", "a"], "terminated_at": ["2026-03-01", "2026-03-02"]}),
            "lists user 'a' more than once",
        ),
    ],
)
def test_bad_rosters_are_named(frame: pd.DataFrame, roster: pd.DataFrame, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        c.after_termination(frame, roster)


def test_roster_files_that_cannot_be_read(frame: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="roster: no such file"):
        c.after_termination(frame, tmp_path / "absent.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match="is empty"):
        c.after_termination(frame, empty)
    with pytest.raises(TypeError, match="roster must be a DataFrame"):
        c.after_termination(frame, 42)  # type: ignore[arg-type]


# ------------------------------------------------------------------- disclosures


def test_disclosures_are_oldest_first_and_data_events_only(tmp_path: Path) -> None:
    events = [
        access("2026-03-02T10:00:00", resource="/patients/4/notes"),
        access("2026-03-02T09:00:00", resource="/patients/4"),
        access("2026-03-02T11:00:00", resource="/patients/42"),
        access("2026-03-02T11:30:00", resource="/patients/4x"),
        Event(at("2026-03-02T12:00:00"), "config_changed", "a", "1.1.1.1", "/patients/4"),
        Event(at("2026-03-02T13:00:00"), "data_export", "a", "1.1.1.1", "/patients/4"),
    ]
    frame = small(tmp_path, events)
    found = c.disclosures(frame.iloc[::-1], "/patients/4")
    assert [m["resource"] for m in found.metadata] == [
        "/patients/4",
        "/patients/4/notes",
        "/patients/4",
    ]
    assert found.event_type.astype(str).tolist() == ["data_access", "data_access", "data_export"]
    with pytest.raises(TypeError, match="resource must be a non-empty string"):
        c.disclosures(frame, "")


# ---------------------------------------------------------------------- retention


def touch_days(directory: Path, days: list[str]) -> None:
    for day in days:
        (directory / f"audit_{day}.jsonl").write_text("")
    (directory / ".fapilog-notebook.seal.json").write_text("{}")
    (directory / "notes.txt").write_text("")


def test_retention_rules(tmp_path: Path) -> None:
    touch_days(tmp_path, ["2025-01-01", "2025-01-02", "2025-01-05", "2026-01-01", "2026-03-30"])
    found = c.retention(tmp_path, now=date(2026, 3, 31)).set_index("rule")
    assert list(found.index) == list(_analyses.RETENTION_RULES)
    assert found.loc["oldest_day", "first"] == pd.Timestamp("2025-01-01T00:00:00Z")
    assert found.loc["newest_day", "first"] == pd.Timestamp("2026-03-30T00:00:00Z")
    missing = found.loc["missing_days"]
    assert missing.status == "exceptions"
    assert missing["count"] == (date(2026, 3, 30) - date(2025, 1, 1)).days + 1 - 5
    assert pd.Timestamp("2025-01-03T00:00:00Z") in missing.days
    old = found.loc["past_keep_days"]
    assert old.status == "exceptions"
    assert old.days == tuple(pd.Timestamp(f"2025-01-0{d}T00:00:00Z") for d in (1, 2, 5))
    assert found.loc["offline_days", "count"] == 3  # before 2025-12-31
    assert found.loc["offline_days", "status"] == "info"
    same = c.retention(tmp_path / "audit_2026-03-30.jsonl", now="2026-03-31")
    pd.testing.assert_frame_equal(same, found.reset_index())


def test_retention_of_a_complete_recent_trail_passes(month: Month) -> None:
    found = c.retention(month.directory, now=datetime(2026, 4, 1, 9, 0, tzinfo=UTC))
    status = dict(zip(found.rule, found.status, strict=True))
    assert status["missing_days"] == "pass"
    assert status["past_keep_days"] == "pass"
    assert found.set_index("rule").loc["oldest_day", "first"] == pd.Timestamp(
        "2026-03-01", tz="UTC"
    )
    keep = c.retention(month.directory, keep_days=20, online_days=10, now="2026-04-01")
    kept = keep.set_index("rule").loc["past_keep_days"]
    assert kept.status == "exceptions"
    assert kept["count"] == 11


def test_retention_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a directory of audit files"):
        c.retention(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="online_days=100 must not exceed keep_days=30"):
        c.retention(tmp_path, keep_days=30, online_days=100)
    with pytest.raises(ValueError, match="keep_days must be a positive integer"):
        c.retention(tmp_path, keep_days=0)
    with pytest.raises(ValueError, match="naive datetime"):
        c.retention(tmp_path, now=datetime(2026, 3, 1))
    empty = c.retention(tmp_path, now="2026-03-01")
    assert list(empty.columns) == ["rule", "status", "count", "first", "last", "days", "detail"]
    assert empty.set_index("rule").loc["oldest_day", "status"] == "exceptions"


# ------------------------------------------------------------------- pseudonymize


def test_pseudonymize_is_keyed_stable_and_keeps_nulls(frame: pd.DataFrame) -> None:
    part = frame.head(300).copy()
    part.loc[part.index[0], "client_ip"] = None
    one = c.pseudonymize(part, key=KEY)
    again = c.pseudonymize(part.iloc[::-1], key=KEY).iloc[::-1]
    pd.testing.assert_frame_equal(one, again)
    other = c.pseudonymize(part, key=bytes(32))
    known = part.user_id.notna()
    assert (one.user_id[known] != other.user_id[known]).all()
    assert not set(one.user_id.dropna()) & set(part.user_id.dropna())
    assert one.user_id.nunique() == part.user_id.nunique()
    assert pd.isna(one.client_ip.iloc[0])
    assert one.user_id.dropna().str.fullmatch("[0-9a-f]{32}").all()
    # Untouched columns and the input itself are unchanged.
    pd.testing.assert_series_equal(one.message, part.message)
    assert part.user_id.iloc[1] in STAFF or part.user_id.iloc[1] == "svc-monitor"
    assert KEY.hex() not in repr(one.attrs)
    assert KEY not in one.attrs.values()
    assert one.attrs["pseudonymized"] == ["user_id", "client_ip"]
    session = c.pseudonymize(part, columns="session_id", key=KEY)
    pd.testing.assert_series_equal(session.user_id, part.user_id)


def test_pseudonymize_needs_a_real_key(frame: pd.DataFrame) -> None:
    with pytest.raises(TypeError, match="needs key="):
        c.pseudonymize(frame, key=None)  # type: ignore[arg-type]
    with pytest.raises(AuditKeyError, match="too short: 8 bytes"):
        c.pseudonymize(frame, key=b"12345678")
    with pytest.raises(TypeError, match="key must be bytes"):
        c.pseudonymize(frame, key="a passphrase" * 4)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="columns='nope' is not a column"):
        c.pseudonymize(frame, columns="nope", key=KEY)


# ---------------------------------------------------------- bad input, empty frames


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda f: c.failed_logins(f, window="0min"),
            ValueError,
            "window='0min' must be a positive duration",
        ),
        (lambda f: c.failed_logins(f, window="-5min"), ValueError, "window='-5min'"),
        (
            lambda f: c.failed_logins(f, window="soon"),
            ValueError,
            "window='soon' is not a duration",
        ),
        (lambda f: c.failed_logins(f, threshold=0), ValueError, "threshold must be a positive"),
        (
            lambda f: loose.failed_logins(f, threshold=2.5),
            TypeError,
            "threshold must be a positive",
        ),
        (lambda f: c.failed_logins(f, by="nope"), ValueError, "by='nope' is not a column"),
        (lambda f: loose.failed_logins(f, by=3), TypeError, "by must be a column name"),
        (
            lambda f: c.off_hours(f, tz="Mars/Olympus"),
            ValueError,
            "tz='Mars/Olympus' is not a known",
        ),
        (lambda f: c.off_hours(f, start="8am"), ValueError, "start='8am' is not a clock time"),
        (lambda f: c.off_hours(f, end="25:00"), ValueError, "end='25:00' is not a clock time"),
        (lambda f: c.off_hours(f, start="18:00", end="08:00"), ValueError, "must be before end"),
        (lambda f: c.off_hours(f, holidays=["2026-13-01"]), ValueError, "holidays: '2026-13-01'"),
        (lambda f: loose.off_hours(f, weekends="no"), TypeError, "weekends must be True or False"),
        (lambda f: c.bulk_access(f, per="0h"), ValueError, "per='0h' must be a positive duration"),
        (lambda f: c.bulk_access(f, threshold=-1), ValueError, "threshold must be a positive"),
        (lambda f: c.first_seen(f, baseline="-1D"), ValueError, "baseline='-1D'"),
        (lambda f: c.first_seen(f, columns=()), ValueError, "columns must name at least one"),
        (
            lambda f: c.first_seen(f, columns=["user_id", "user_id"]),
            ValueError,
            "names a column twice",
        ),
        (lambda f: loose.silences(f, min_gap=0), TypeError, "min_gap must be a duration"),
        (lambda f: c.sensitive_access(f, by="nope"), ValueError, "by='nope' is not a column"),
    ],
)
def test_bad_parameters_are_named(
    frame: pd.DataFrame, call: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        call(frame)


ANALYSES: list[tuple[str, Any]] = [
    ("failed_logins", c.failed_logins),
    ("off_hours", c.off_hours),
    ("sensitive_access", c.sensitive_access),
    ("bulk_access", c.bulk_access),
    ("first_seen", c.first_seen),
    ("privileged_actions", c.privileged_actions),
    ("silences", c.silences),
    ("completeness", c.completeness),
    (
        "after_termination",
        lambda f: c.after_termination(
            f, pd.DataFrame({"user_id": ["x"], "terminated_at": ["2026-01-01"]})
        ),
    ),
    ("disclosures", lambda f: c.disclosures(f, "/patients/4")),
]


@pytest.mark.parametrize(("name", "analysis"), ANALYSES)
def test_a_frame_without_the_columns_is_named(
    frame: pd.DataFrame, name: str, analysis: Any
) -> None:
    with pytest.raises(ValueError, match=rf"{name}: frame has no column '(timestamp|event_type)'"):
        analysis(frame.drop(columns=["timestamp", "event_type"]))
    with pytest.raises(TypeError, match=f"{name}: frame must be the pandas DataFrame"):
        analysis([1, 2, 3])


def test_naive_timestamps_are_refused(frame: pd.DataFrame) -> None:
    naive = frame.assign(timestamp=frame.timestamp.dt.tz_localize(None))
    with pytest.raises(ValueError, match=r"silences: frame\['timestamp'\] must hold tz-aware"):
        c.silences(naive)


CONTRACT = {
    "failed_logins": ["user_id", "start", "end", "failures", "first_sequence", "last_sequence"],
    "sensitive_access": [
        "user_id",
        "events",
        "phi_events",
        "pii_events",
        "distinct_resources",
        "first",
        "last",
    ],
    "bulk_access": ["user_id", "period", "events", "distinct_resources", "exports"],
    "first_seen": ["user_id", "client_ip", "first", "first_sequence", "events"],
    "silences": ["start", "end", "duration", "before_sequence", "after_sequence"],
    "completeness": ["event_type", "field", "missing", "events", "share_missing"],
}


@pytest.mark.parametrize(("name", "analysis"), ANALYSES)
def test_empty_frames_give_empty_results_with_the_columns(
    month: Month, frame: pd.DataFrame, name: str, analysis: Any
) -> None:
    nothing = read_audit_log(month.directory, event_types=["plugin_unloaded"])
    assert nothing.empty
    for empty in (nothing, frame.iloc[0:0]):
        found = analysis(empty)
        assert found.empty
        assert set(CONTRACT.get(name, [])) <= set(found.columns)
        if name in ("off_hours", "after_termination"):
            assert {"reason", "terminated_at"} & set(found.columns)
    full = analysis(frame)
    if name in CONTRACT:
        assert dict(analysis(frame.iloc[0:0]).dtypes) == dict(full.dtypes) or full.empty


def test_results_keep_their_dtypes_when_empty_or_full(frame: pd.DataFrame) -> None:
    pairs = [
        (c.failed_logins(frame), c.failed_logins(frame.iloc[0:0])),
        (c.bulk_access(frame), c.bulk_access(frame.iloc[0:0])),
        (c.first_seen(frame), c.first_seen(frame.iloc[0:0])),
        (c.silences(frame), c.silences(frame.iloc[0:0])),
        (c.sensitive_access(frame), c.sensitive_access(frame.iloc[0:0])),
        (c.completeness(frame), c.completeness(frame.iloc[0:0])),
    ]
    for full, empty in pairs:
        assert not full.empty
        assert dict(full.dtypes) == dict(empty.dtypes)
        for column in full.columns:
            if isinstance(full[column].dtype, pd.DatetimeTZDtype):
                assert str(full[column].dt.tz) == "UTC"


def test_a_frame_with_repeated_index_labels_gives_the_same_findings(
    month: Month, frame: pd.DataFrame
) -> None:
    joined = pd.concat([frame.iloc[:3000], frame.iloc[3000:]])
    joined.index = pd.Index([0] * len(joined))
    assert seqs(c.after_termination(joined, month.roster)) == month.expected["after_termination"]
    assert (
        list(c.disclosures(joined, "/patients/4").sequence_number)
        == (month.expected["disclosures"])
    )
    assert seqs(c.off_hours(joined, tz=TZ)) == set(month.expected["off_hours"])
    for analysis in (c.failed_logins, c.bulk_access, c.first_seen, c.sensitive_access):
        pd.testing.assert_frame_equal(analysis(joined), analysis(frame))
    pseudonyms = c.pseudonymize(joined, key=KEY)
    assert list(pseudonyms.user_id) == list(c.pseudonymize(frame, key=KEY).user_id)


def test_sensitive_access_without_resources_or_users(tmp_path: Path) -> None:
    t0 = at("2026-03-02T10:00:00")
    events = [
        Event(t0, "authentication_failed", "u1", "10.0.0.1", contains_pii=True),
        Event(t0 + timedelta(minutes=1), "security_violation", None, "10.0.0.2", contains_phi=True),
        Event(t0 + timedelta(minutes=2), "security_violation", None, None, contains_pii=True),
        Event(t0 + timedelta(minutes=3), "authentication_failed", "u1", "10.0.0.1"),
    ]
    found = c.sensitive_access(small(tmp_path, events))
    rows = {
        (r.user_id if isinstance(r.user_id, str) else None): (r.events, r.phi_events, r.pii_events)
        for r in found.itertuples()
    }
    assert rows == {None: (2, 1, 1), "u1": (1, 0, 1)}
    assert found.distinct_resources.tolist() == [0, 0]
    assert found.user_id.isna().tolist()[0]  # two events: the most active first
    by_ip = c.sensitive_access(small(tmp_path / "again", events), by="client_ip")
    assert sorted(by_ip.events.tolist()) == [1, 1, 1]


def test_a_flattened_resource_column_is_used(month: Month) -> None:
    flat = read_audit_log(month.directory, flatten_metadata=True)
    assert "metadata.resource" in flat.columns
    found = c.disclosures(flat.drop(columns=["metadata"]), "/patients/4")
    assert list(found.sequence_number) == month.expected["disclosures"]
    rows = c.completeness(flat.drop(columns=["metadata"]))
    assert rows[rows.field == "resource"].missing.sum() == 0
