"""``prove --extends`` and ``check-proof --old``: consistency proofs from the command line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fapilog_notebook import AuditEventType, AuditTrail, signing_keygen
from fapilog_notebook.cli import main

from .trail_helpers import Clock

DAY1 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


async def _log(trail: AuditTrail, count: int, tag: str) -> None:
    for i in range(count):
        await trail.log_event(AuditEventType.DATA_ACCESS, f"{tag}{i}", user_id="u")


@pytest.fixture
async def recorded_then_grown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[Path, Path, Path]:
    """A signed trail whose checkpoint was recorded at 6 events, grown to 9 over two days."""
    signing, public = tmp_path / "w.signing", tmp_path / "root.pub"
    signing_keygen(signing, public, day=DAY1.date(), origin="example.org/cli")
    store = tmp_path / "logs"
    clock = Clock(DAY1)
    async with AuditTrail(storage_path=store, clock=clock, signing_key=signing) as trail:
        await _log(trail, 6, "a")
    capsys.readouterr()
    assert main(["checkpoint", str(store)]) == 0
    recorded = tmp_path / "recorded.checkpoint"
    recorded.write_text(capsys.readouterr().out)
    clock.now = DAY1 + timedelta(days=1)
    async with AuditTrail(storage_path=store, clock=clock, signing_key=signing) as trail:
        await _log(trail, 3, "b")
    return store, public, recorded


async def test_prove_extends_writes_a_proof_that_check_proof_old_accepts(
    recorded_then_grown: tuple[Path, Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store, public, recorded = recorded_then_grown
    proof = tmp_path / "since-recorded.proof"
    assert main(["prove", str(store), "--extends", str(recorded), "-o", str(proof)]) == 0
    assert "extends the checkpoint of 6 events" in capsys.readouterr().out
    assert proof.read_text().startswith("fapilog-notebook/consistency-proof@v1\n")
    code = main(["check-proof", str(proof), "--public-key", str(public), "--old", str(recorded)])
    assert code == 0
    assert capsys.readouterr().out.strip() == (
        "proved: the signed tree of 9 events extends the checkpoint of 6"
    )


async def test_a_recorded_checkpoint_the_trail_does_not_extend_is_not_proved(
    recorded_then_grown: tuple[Path, Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store, public, recorded = recorded_then_grown
    proof = tmp_path / "since-recorded.proof"
    assert main(["prove", str(store), "--extends", str(recorded), "-o", str(proof)]) == 0
    capsys.readouterr()
    # The auditor's own copy says something else than what the proof was made from.
    lines = recorded.read_text().split("\n")
    lines[2] = "A" * 43 + "="  # another root hash for the same 6 events
    other = tmp_path / "other.checkpoint"
    other.write_text("\n".join(lines))
    code = main(["check-proof", str(proof), "--public-key", str(public), "--old", str(other)])
    assert code == 1
    assert capsys.readouterr().out.startswith("not proved: ")


async def test_prove_and_check_proof_usage_errors_exit_2_with_a_sentence(
    recorded_then_grown: tuple[Path, Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store, public, recorded = recorded_then_grown
    out = str(tmp_path / "p")
    assert main(["prove", str(store), "-o", out]) == 2
    assert "not both or neither" in capsys.readouterr().err
    assert main(["prove", str(store), "3", "--extends", str(recorded), "-o", out]) == 2
    assert "not both or neither" in capsys.readouterr().err
    assert main(["prove", str(store), "--extends", str(tmp_path / "none"), "-o", out]) == 2
    assert "no such checkpoint file" in capsys.readouterr().err
    consistency = tmp_path / "c.proof"
    assert main(["prove", str(store), "--extends", str(recorded), "-o", str(consistency)]) == 0
    inclusion = tmp_path / "i.proof"
    assert main(["prove", str(store), "2", "-o", str(inclusion)]) == 0
    capsys.readouterr()
    assert main(["check-proof", str(consistency), "--public-key", str(public)]) == 2
    assert "add --old FILE" in capsys.readouterr().err
    code = main(
        ["check-proof", str(inclusion), "--public-key", str(public), "--old", str(recorded)]
    )
    assert code == 2
    assert "--old is for consistency proofs" in capsys.readouterr().err
    code = main(
        ["check-proof", str(consistency), "--public-key", str(public), "--old", out + ".none"]
    )
    assert code == 2
    assert "no such file" in capsys.readouterr().err
    # An inclusion proof still checks as before.
    assert main(["check-proof", str(inclusion), "--public-key", str(public)]) == 0


def test_a_sequence_number_that_is_not_one_is_named_as_such(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for bad in ("abc", "0"):
        with pytest.raises(SystemExit) as exit_info:
            main(["prove", str(tmp_path), bad, "-o", str(tmp_path / "p")])
        assert exit_info.value.code == 2
        assert "expected a sequence number" in capsys.readouterr().err
