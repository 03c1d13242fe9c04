"""``fapilog-notebook report``: exit codes, one-line errors, the files it writes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fapilog_notebook._tamper import alter_field
from fapilog_notebook.cli import main

from .compliance_month import RECORD, TZ, roster, write_month


@pytest.fixture(scope="module")
def months(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    base = tmp_path_factory.mktemp("months")
    clean = write_month(base / "clean", planted=False).directory
    planted = write_month(base / "planted", planted=True).directory
    roster_csv = base / "roster.csv"
    roster().to_csv(roster_csv, index=False)
    return clean, planted, roster_csv


def test_exit_0_when_every_control_passes(
    months: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clean, _, roster_csv = months
    html, out_json = tmp_path / "r.html", tmp_path / "r.json"
    args = ["report", str(clean), "--tz", TZ, "--roster", str(roster_csv), "--resource", RECORD]
    assert main([*args, "--html", str(html), "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("PASS: 18 controls: 18 pass")
    assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert json.loads(out_json.read_text(encoding="utf-8"))["verdict"] == "PASS"


def test_exit_1_when_a_control_has_exceptions(
    months: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, planted, roster_csv = months
    code = main(["report", str(planted), "--tz", TZ, "--roster", str(roster_csv)])
    assert code == 1
    out = capsys.readouterr().out
    assert out.startswith("EXCEPTIONS")
    assert "EXCEPTIONS    PCI DSS 10.2.1.4 (3)" in out
    assert "EXCEPTIONS    SOX ITGC terminated-user access" in out


def test_framework_selects_controls(
    months: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    clean, _, _ = months
    assert main(["report", str(clean), "--tz", TZ, "--framework", "pci-dss"]) == 0
    out = capsys.readouterr().out
    assert "PCI DSS 10.2.1.4" in out
    assert "HIPAA" not in out.split("controls:")[1]


def test_exit_1_when_the_trail_is_invalid(
    months: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clean, _, _ = months
    damaged = tmp_path / "trail"
    shutil.copytree(clean, damaged)
    alter_field(sorted(damaged.glob("audit_*.jsonl"))[2], 3, "user_id", "mallory")
    assert main(["report", str(damaged), "--tz", TZ, "--framework", "pci-dss"]) == 1
    assert capsys.readouterr().out.startswith("INVALID")


@pytest.mark.parametrize(
    "extra",
    [
        ["--business-hours", "08:00"],
        ["--tz", "Mars/Olympus"],
        ["--since", "not-a-day"],
        ["--roster", "/nonexistent/roster.csv"],
    ],
)
def test_exit_2_on_bad_input_with_one_line(
    months: tuple[Path, Path, Path], extra: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    clean, _, _ = months
    assert main(["report", str(clean), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fapilog-notebook report: error: ")
    assert err.count("\n") == 1


def test_exit_2_on_a_missing_or_unreadable_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty")]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    with pytest.raises(SystemExit) as stop:
        main(["report", str(tmp_path), "--framework", "iso"])
    assert stop.value.code == 2


def test_demo_ends_with_a_compliance_review(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "demo"
    assert main(["demo", "--dir", str(directory), "--producers", "3", "--events", "10"]) == 0
    out = capsys.readouterr().out
    review = out.split(f"Compliance review of {directory}/ (PCI DSS controls) ...")[1]
    assert review.splitlines()[1].lstrip().startswith(("PASS", "EXCEPTIONS", "INCOMPLETE"))
    assert "PCI DSS 10.2.1.4" in review
    assert "HIPAA" not in review
