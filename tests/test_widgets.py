"""The explorer widget, driven without a browser: set values, click, read the outputs."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.bench_explore import big_frame

pytest.importorskip("ipywidgets")

from fapilog_notebook import explore, read_audit_log, verify_audit_log
from fapilog_notebook.notebook import PAGE_SIZE, AuditExplorer, TextIndex
from fapilog_notebook.notebook._widgets import _SAVED

from .notebook_helpers import delete_line, edit_line, write_trail


@pytest.fixture(autouse=True)
def _forget_saved_values() -> Iterator[None]:
    _SAVED.clear()
    yield
    _SAVED.clear()


@pytest.fixture(scope="module")
def trail(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("trail")
    write_trail(directory, days=4, per_day=40)
    return directory


@pytest.fixture
def tampered(trail: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(trail, copy)
    edit_line(copy / "audit_2026-03-02.jsonl", 5, b'"message":"event 44', b'"message":"event 99')
    delete_line(copy / "audit_2026-03-03.jsonl", 10)
    return copy


def rows_shown(explorer: AuditExplorer) -> list[int]:
    return [int(n) for n in re.findall(r"data-row='(\d+)'", explorer.table.value)]


def test_opens_unverified_and_verifies_on_demand(trail: Path) -> None:
    explorer = explore(trail)
    assert isinstance(explorer, AuditExplorer)
    assert "not verified" in explorer.badge.value
    assert "160 of 160 events match" in explorer.status.value.replace("<b>", "").replace("</b>", "")
    assert rows_shown(explorer) == list(range(PAGE_SIZE))
    assert "<svg" in explorer.chart.value
    assert "2026-03-01" in explorer.chart.value
    explorer.verify_button.click()
    assert explorer.report is not None
    assert explorer.report.valid
    assert "VALID" in explorer.badge.value
    assert explorer.findings_list.options == ()


def test_filters_match_pandas(trail: Path) -> None:
    frame = read_audit_log(trail)
    explorer = explore(frame)
    explorer.event_types.value = ("data_access", "config_changed")
    expected = frame.index[frame["event_type"].isin(["data_access", "config_changed"])]
    assert explorer.matching.tolist() == expected.tolist()

    explorer.log_levels.value = ("info",)
    explorer.user.value = "USER1"
    explorer.since.value = date(2026, 3, 2)
    explorer.until.value = date(2026, 3, 3)
    keep = (
        frame["event_type"].isin(["data_access", "config_changed"])
        & (frame["log_level"] == "info")
        & frame["user_id"].str.contains("user1")
        & (frame["timestamp"].dt.date >= date(2026, 3, 2))
        & (frame["timestamp"].dt.date <= date(2026, 3, 3))
    )
    assert explorer.matching.tolist() == frame.index[keep].tolist()
    assert set(rows_shown(explorer)) == set(frame.index[keep])

    explorer.reset_button.click()
    explorer.search.value = "/records/3"
    assert (
        explorer.matching.tolist()
        == frame.index[frame["message"].str.contains("/records/3")].tolist()
    )
    explorer.search.value = "no such text anywhere"
    assert explorer.matching.size == 0
    assert "No events match" in explorer.table.value


def test_pages_of_fifty(trail: Path) -> None:
    explorer = explore(trail)
    assert explorer.pages == 4
    assert explorer.prev_button.disabled
    explorer.next_button.click()
    assert rows_shown(explorer) == list(range(50, 100))
    explorer.go_to_page(99)
    assert explorer.page == 3
    assert rows_shown(explorer) == list(range(150, 160))
    assert explorer.next_button.disabled
    assert "page 4 of 4" in explorer.page_label.value


def test_findings_link_to_their_events(tampered: Path) -> None:
    report = verify_audit_log(tampered)
    assert not report.valid
    explorer = explore(tampered, report=report)
    assert "INVALID" in explorer.badge.value
    labels = [label for label, _ in explorer.findings_list.options]
    kinds = report.findings["kind"].tolist()
    assert "checksum_mismatch" in kinds
    assert "sequence_gap" in kinds
    assert len(labels) == len(kinds)

    checksum = kinds.index("checksum_mismatch")
    # Hide the event with a filter: following the link clears the filters.
    explorer.search.value = "event 0 "
    explorer.findings_list.value = checksum
    row = explorer.highlight
    assert row is not None
    assert explorer.frame.loc[row, "source_line"] == 5
    assert str(explorer.frame.loc[row, "source_file"]).endswith("audit_2026-03-02.jsonl")
    assert explorer.search.value == ""
    assert row in rows_shown(explorer)
    assert f"data-row='{row}' style=" in explorer.table.value
    assert explorer.page == row // PAGE_SIZE

    gap = kinds.index("sequence_gap")
    row = explorer.show_finding(gap)
    assert row is not None
    # The deleted line's successor now sits on line 10 of its file.
    assert explorer.frame.loc[row, "source_line"] == 10
    assert explorer.page == row // PAGE_SIZE


def test_values_are_restored_when_rebuilt(trail: Path) -> None:
    first = explore(trail)
    first.event_types.value = ("config_changed",)
    first.search.value = "records"
    first.next_button.click()
    again = explore(trail)
    assert again.event_types.value == ("config_changed",)
    assert again.search.value == "records"
    assert again.matching.tolist() == first.matching.tolist()
    clean = explore(trail, restore=False)
    assert clean.event_types.value == ()
    assert clean.matching.size == 160


def test_own_changes_refresh_once(trail: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    explorer = explore(trail)
    explorer.event_types.value = ("data_access",)
    explorer.user.value = "user2"
    calls: list[int] = []
    real = explorer.refresh

    def counted() -> None:
        calls.append(1)
        real()

    monkeypatch.setattr(explorer, "refresh", counted)
    explorer.reset_button.click()
    assert len(calls) == 1
    assert explorer.matching.size == 160


def test_a_frame_is_verified_from_its_files(tampered: Path) -> None:
    explorer = explore(read_audit_log(tampered))
    report = explorer.verify()
    assert report is not None
    assert not report.valid
    assert len(explorer.findings_list.options) == len(report.findings)
    empty = explore(read_audit_log(tampered).drop(columns=["source_file"]))
    assert empty.verify() is None
    assert "Nothing to verify" in empty.status.value


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(
        st.one_of(st.none(), st.text(alphabet="abAB é\x1f-0", max_size=8)), max_size=30
    ),
    query=st.text(alphabet="abAB é-0", min_size=1, max_size=10),
)
def test_text_index_agrees_with_pandas(values: list[str | None], query: str) -> None:
    series = pd.Series(values, dtype=object)
    expected = series.fillna("").str.lower().str.contains(query.lower(), regex=False)
    assert TextIndex(series).mask(query).tolist() == expected.tolist()


def test_filters_on_a_large_frame_match_pandas() -> None:
    # The response time on 1,000,000 events is measured in benchmarks/bench_explore.py.
    frame = big_frame(20_000)
    explorer = explore(frame)
    explorer.event_types.value = ("data_access", "config_changed")
    explorer.user.value = "user4"
    expected = frame[
        frame["event_type"].isin(["data_access", "config_changed"])
        & frame["user_id"].str.contains("user4", regex=False)
    ]
    assert frame.index[explorer.matching].tolist() == expected.index.tolist()


# ------------------------------------------------------------ what an auditor asks first


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two days of a clinic's trail: users, client IPs, resources in metadata, PHI and PII."""
    import asyncio
    from datetime import UTC, datetime, timedelta

    from fapilog_notebook import AuditTrail

    directory = tmp_path_factory.mktemp("clinic")
    start = datetime(2026, 5, 4, 0, 0, tzinfo=UTC)
    moments = iter(start + timedelta(minutes=37 * n) for n in range(200))

    async def write() -> None:
        async with AuditTrail(storage_path=directory, clock=lambda: next(moments)) as trail:
            for n in range(60):
                await trail.log_event(
                    "data_export" if n % 20 == 0 else "data_access",
                    f"read record {n}",
                    user_id=f"dr{n % 4}@clinic.example",
                    client_ip=f"10.0.0.{n % 6}",
                    contains_phi=n % 3 == 0,
                    contains_pii=n % 5 == 0,
                    resource=f"/patients/{n % 7}",
                )

    asyncio.run(write())
    return directory


def test_search_finds_users_client_ips_and_resources(clinic: Path) -> None:
    explorer = explore(clinic)
    frame = explorer.frame
    explorer.search.value = "/patients/4"
    resources = frame["metadata"].map(lambda m: m["resource"])
    assert explorer.matching.tolist() == frame.index[resources == "/patients/4"].tolist()
    explorer.search.value = "10.0.0.5"
    assert explorer.matching.tolist() == frame.index[frame["client_ip"] == "10.0.0.5"].tolist()
    explorer.search.value = "DR3@clinic"
    assert (
        explorer.matching.tolist() == frame.index[frame["user_id"] == "dr3@clinic.example"].tolist()
    )


def test_phi_pii_filter(clinic: Path) -> None:
    explorer = explore(clinic)
    frame = explorer.frame
    assert list(explorer.sensitive.options) == ["any", "PHI", "PII", "PHI or PII"]
    for choice, keep in (
        ("PHI", frame["contains_phi"]),
        ("PII", frame["contains_pii"]),
        ("PHI or PII", frame["contains_phi"] | frame["contains_pii"]),
    ):
        explorer.sensitive.value = choice
        assert explorer.matching.tolist() == frame.index[keep].tolist(), choice
    explorer.reset_button.click()
    assert explorer.sensitive.value == "any"
    assert explorer.matching.size == 60


def test_event_types_are_listed_with_their_counts_only_when_present(clinic: Path) -> None:
    explorer = explore(clinic)
    assert explorer.event_types.options == (
        ("data_access (57)", "data_access"),
        ("data_export (3)", "data_export"),
    )
    explorer.event_types.value = ("data_export",)
    assert explorer.matching.size == 3


def test_summaries_follow_the_selection(clinic: Path) -> None:
    explorer = explore(clinic)
    explorer.sensitive.value = "PHI"
    selected = explorer.frame.iloc[explorer.matching]
    for user, count in selected["user_id"].value_counts().items():
        assert (
            f"<td>{user}</td><td style='text-align:right'>{count:,}</td>" in explorer.summary.value
        )
    exports = int((selected["event_type"] == "data_export").sum())
    assert (
        f"<td>data_export</td><td style='text-align:right'>{exports}</td>" in explorer.summary.value
    )


def test_export_writes_the_selected_rows(clinic: Path, tmp_path: Path) -> None:
    explorer = explore(clinic)
    explorer.search.value = "10.0.0.2"
    wanted = explorer.frame["event_id"].iloc[explorer.matching].tolist()
    csv = pd.read_csv(explorer.export(tmp_path / "picked.csv"))
    assert csv["event_id"].tolist() == wanted
    assert csv["metadata"].iloc[0].startswith('{"resource": "/patients/')
    pytest.importorskip("openpyxl")
    sheet = pd.read_excel(explorer.export(tmp_path / "picked.xlsx"))
    assert sheet["event_id"].tolist() == wanted
    explorer.export_dir = tmp_path / "clicked"
    explorer.export_dir.mkdir()
    explorer.export_csv_button.click()
    assert explorer.last_export is not None
    assert explorer.last_export.parent == explorer.export_dir
    assert f"Exported {len(wanted)} events" in explorer.status.value
    with pytest.raises(ValueError, match=r"\.csv or \.xlsx"):
        explorer.export(tmp_path / "picked.txt")


def test_time_of_day_narrows_the_date_range(clinic: Path) -> None:
    from datetime import time

    explorer = explore(clinic)
    stamps = explorer.frame["timestamp"]
    explorer.since.value = date(2026, 5, 4)
    explorer.since_time.value = time(9, 0)
    explorer.until.value = date(2026, 5, 4)
    explorer.until_time.value = time(17, 30)
    low = pd.Timestamp("2026-05-04 09:00", tz="UTC")
    high = pd.Timestamp("2026-05-04 17:31", tz="UTC")
    expected = explorer.frame.index[(stamps >= low) & (stamps < high)].tolist()
    assert explorer.matching.tolist() == expected
    assert 0 < len(expected) < 60


def test_rows_with_findings_are_marked_and_the_verdict_is_in_view(tampered: Path) -> None:
    report = verify_audit_log(tampered, progress=False)
    explorer = explore(tampered, report=report)
    assert explorer.badge in explorer.children[1].children  # not inside the accordion
    assert explorer.sections.selected_index == 1  # an INVALID trail opens on its findings
    edited = int(explorer._finding_rows[0])
    assert explorer.flagged[edited] == "checksum_mismatch"
    explorer.go_to_page(edited // PAGE_SIZE)
    assert re.search(
        rf"<tr data-row='{edited}' style='background:#ffebe9' class='flagged'><td>{edited}</td>"
        r"<td class='integrity'>checksum_mismatch</td>",
        explorer.table.value,
    )
    # A frame loaded with verify=True is marked without a report.
    loaded = read_audit_log(tampered, progress=False, verify=True)
    from_column = explore(loaded)
    expected = {n: kinds for n, kinds in enumerate(loaded["integrity"].tolist()) if kinds}
    assert from_column.flagged == expected
    assert "not verified" in from_column.badge.value


def test_table_and_chart_polish(trail: Path) -> None:
    explorer = explore(trail)
    assert ".000000" not in explorer.table.value
    assert re.search(r"<td class='timestamp'>2026-03-01 06:00:00</td>", explorer.table.value)
    assert "padding:3px 10px" in explorer.table.value
    labels = [
        float(x) for x in re.findall(r"<text x='([\d.]+)' y='\d+'>\d{4}-", explorer.chart.value)
    ]
    assert max(labels) + 60 <= 720  # the last date label fits inside the chart
    import numpy as np

    from fapilog_notebook.notebook._widgets import _day_chart_svg

    svg = _day_chart_svg(20_000, np.array([1000, 400]), np.array([1, 0]))
    bars = re.findall(r"height='([\d.]+)' fill='#0969da'", svg)
    assert [float(h) for h in bars] == [2.0]  # one event beside 1,000 is still drawn


def test_repr_is_one_line(tampered: Path) -> None:
    explorer = explore(tampered, report=verify_audit_log(tampered, progress=False))
    assert repr(explorer) == f"<AuditExplorer {str(tampered)!r}: 159 of 159 events match; INVALID>"
