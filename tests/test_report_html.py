"""The report to hand over: to_html pages, JSON provenance, wrapped findings, --format html."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import fapilog_notebook
from fapilog_notebook import VerificationReport, verify_audit_log
from fapilog_notebook.cli import main

from .logbuilder import build_log


@pytest.fixture
def tampered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> VerificationReport:
    """A three-day trail with a gap in the last file and an edit in the first, verified by a
    relative path from inside ``tmp_path``."""
    log = build_log([5, 6, 4])
    del log.files[2].lines[1]
    log.files[0].lines[3] = log.files[0].lines[3].replace(b"event 3", b"event X")
    log.write(tmp_path / "trail")
    monkeypatch.chdir(tmp_path)
    return verify_audit_log("trail", progress=False)


def test_to_html_writes_a_standalone_page_verdict_first(
    tampered: VerificationReport, tmp_path: Path
) -> None:
    target = tmp_path / "report.html"
    page = tampered.to_html(target)
    assert target.read_text(encoding="utf-8") == page
    assert page.startswith("<!doctype html>")
    assert "<title>Audit trail verification: INVALID" in page
    # Self-contained: inline CSS with a print style, nothing fetched from elsewhere.
    assert "<style>" in page
    assert "@media print" in page
    assert "<script" not in page.lower()
    assert not re.search(r"""(src|href)\s*=\s*['"]?(https?:)?//""", page, re.I)
    # The verdict comes before everything it sums up.
    assert page.index("INVALID") < page.index("verified at") < page.index("Findings (2)")
    # The source as given, never the absolute temporary path.
    assert "<code>trail</code>" in page
    assert str(tmp_path) not in page
    assert tampered.verified_at in page
    assert f"fapilog-notebook {fapilog_notebook.__version__}" in page
    # Every finding, in file-and-line order, with its full message.
    rows = re.findall(r"<tr class='(?:error|warning|info)'>(.*?)</tr>", page, re.S)
    files = [re.findall(r"<td>(.*?)</td>", row)[2] for row in rows]
    assert files == ["audit_2026-03-01.jsonl", "audit_2026-03-03.jsonl"]
    for finding in tampered.finding_list:
        assert html.escape(finding.message) in page
    assert "<h2>Chain segments" in page


def test_a_valid_report_page_says_so(tmp_path: Path) -> None:
    page = verify_audit_log(build_log([3]).write(tmp_path), progress=False).to_html(
        title="Quarterly review"
    )
    assert "<h1>Quarterly review</h1>" in page
    assert "class='verdict valid'" in page
    assert "No findings" in page


def test_hostile_content_is_escaped_in_the_page(tmp_path: Path) -> None:
    log = build_log([3])
    del log.files[0].lines[1]
    page = verify_audit_log(log.write(tmp_path / "a<script>b"), progress=False).to_html()
    assert "<script" not in page.lower()
    assert "a&lt;script&gt;b" in page


def test_json_carries_the_verification_time_and_tool_version(
    tampered: VerificationReport,
) -> None:
    data = json.loads(tampered.to_json())
    assert data["tool_version"] == fapilog_notebook.__version__
    made = datetime.fromisoformat(data["verified_at"])
    assert made.tzinfo is not None
    assert abs(datetime.now(UTC) - made) < timedelta(minutes=5)


def test_findings_wrap_in_the_notebook_view(tampered: VerificationReport) -> None:
    view = tampered._repr_html_()
    assert view.count("white-space:normal") == len(tampered.finding_list) * 3  # file, id, message


def test_cli_verify_format_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = build_log([3, 3])
    del log.files[1].lines[1]
    assert main(["verify", str(log.write(tmp_path)), "--format", "html"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("<!doctype html>")
    assert "class='verdict invalid'" in out
    assert "sequence_gap" in out
