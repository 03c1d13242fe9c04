"""The command line: verify exit codes and formats, and the demo."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fapilog_notebook.cli import main

from .logbuilder import build_log

FIXTURE = Path(__file__).parent / "fixtures" / "fapilog-0.3.5"


def test_verify_valid_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(FIXTURE)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("VALID")
    assert "chain_restart" in out


def test_verify_invalid_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = build_log([3, 3])
    del log.files[1].lines[1]
    assert main(["verify", str(log.write(tmp_path)), "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["valid"] is False
    assert data["findings"][0]["kind"] == "sequence_gap"


def test_verify_range(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = build_log([3, 3, 3])
    directory = str(log.write(tmp_path))
    assert main(["verify", directory, "--since", "2026-03-02", "--until", "2026-03-02"]) == 0
    assert "3 events in 1 file" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["verify", "/definitely/not/here"],
        ["verify", "{tmp}"],
        ["verify", "{fixture}", "--since", "March"],
    ],
)
def test_verify_usage_errors_exit_2_with_one_line(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [a.format(tmp=tmp_path, fixture=FIXTURE) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_bad_option_exits_2() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["verify", str(FIXTURE), "--format", "xml"])
    assert exc.value.code == 2


def test_python_dash_m(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "fapilog_notebook", "verify", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 2
    assert "Traceback" not in out.stderr


def test_demo_verifies_and_tampers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = tmp_path / "demo"
    assert main(["demo", "--dir", str(directory), "--producers", "3", "--events", "10"]) == 0
    out = capsys.readouterr().out
    assert f"{directory}: VALID" in out
    assert f"{directory}_tampered: INVALID" in out
    assert "checksum_mismatch" in out
    assert "sequence_gap" in out
