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
from fapilog_notebook.widgets import _SAVED, PAGE_SIZE, AuditExplorer, TextIndex

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
