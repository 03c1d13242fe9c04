"""Verifying keyed trails: MACs checked or not, downgrades, anchors, and the command line."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fapilog_notebook import AuditEventType, AuditTrail, storage, verify_audit_log
from fapilog_notebook.chain import Anchor
from fapilog_notebook.cli import main
from fapilog_notebook.keys import VerificationKey, keygen

START = datetime(2026, 5, 1, 22, 0, tzinfo=UTC)


async def write(directory: Path, count: int = 6, **options: Any) -> AuditTrail:
    moments = iter(START + timedelta(hours=n) for n in range(100))
    async with AuditTrail(storage_path=directory, clock=lambda: next(moments), **options) as trail:
        for i in range(count):
            await trail.log_event(AuditEventType.DATA_ACCESS, f"e{i}")
    return trail


async def test_a_keyed_trail_without_the_key_is_checked_but_its_macs_are_not(
    tmp_path: Path,
) -> None:
    key = secrets.token_bytes(32)
    await write(tmp_path, key=key)
    report = verify_audit_log(tmp_path)
    assert report.valid
    assert report.macs_unchecked == 6
    assert "NOT checked" in report.mac_status
    assert "NOT checked" in report.summary()
    with_key = verify_audit_log(tmp_path, key=key)
    assert with_key.valid
    assert with_key.macs_checked == 6
    assert with_key.mac_days == {"static": 6}
    assert key.hex() not in with_key.to_json() + str(with_key) + with_key._repr_html_()


async def test_a_wrong_key_or_an_unkeyed_trail_is_an_error_when_a_key_is_given(
    tmp_path: Path,
) -> None:
    keyed, plain = tmp_path / "keyed", tmp_path / "plain"
    await write(keyed, key=secrets.token_bytes(32))
    await write(plain)
    wrong = verify_audit_log(keyed, key=secrets.token_bytes(32))
    assert not wrong.valid
    assert {f.kind.value for f in wrong.finding_list} >= {"checksum_mismatch", "seal_mismatch"}
    downgrade = verify_audit_log(plain, key=secrets.token_bytes(32))
    assert not downgrade.valid
    messages = [f.message for f in downgrade.finding_list if f.kind.value == "checksum_mismatch"]
    assert len(messages) == 6
    assert all("expected a MAC" in message for message in messages)


async def test_forward_secure_report_names_each_days_key(tmp_path: Path) -> None:
    writer, auditor = keygen(tmp_path / "w.key", tmp_path / "a.key", start=date(2026, 5, 1))
    trail_dir = tmp_path / "trail"
    await write(trail_dir, key_file=writer)
    report = verify_audit_log(trail_dir, key=VerificationKey.load(auditor))
    assert report.valid, report.format_text()
    assert report.mac_days == {"2026-05-01": 2, "2026-05-02": 4}
    assert "2026-05-01 (2)" in report.mac_status
    # A static key is the wrong kind of key for a forward-secure trail.
    assert not verify_audit_log(trail_dir, key=secrets.token_bytes(32)).valid


async def test_anchors_from_the_trail_and_the_report_agree(tmp_path: Path) -> None:
    trail = await write(tmp_path)
    anchor = trail.head()
    assert anchor is not None
    report = verify_audit_log(tmp_path, anchors=[anchor])
    assert report.head == anchor
    assert report.anchors_checked == 1
    forged = Anchor(anchor.sequence_number, "0" * 64, anchor.time)
    bad = verify_audit_log(tmp_path, anchors=[forged.to_dict()])
    assert [f.kind.value for f in bad.finding_list] == ["anchor_mismatch"]
    missing = verify_audit_log(tmp_path, anchors=[Anchor(99, anchor.checksum).to_json()])
    assert "found no intact event with sequence 99" in missing.finding_list[0].message
    with pytest.raises(ValueError, match="not an anchor"):
        verify_audit_log(tmp_path, anchors=[{"sequence_number": "x"}])


async def test_command_line_keys_anchors_and_keygen(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = secrets.token_bytes(32)
    trail_dir = tmp_path / "trail"
    await write(trail_dir, key=key)
    key_file = tmp_path / "key.hex"
    key_file.write_text(key.hex() + "\n")

    assert main(["anchor", str(trail_dir), "--key-file", str(key_file)]) == 0
    anchor_text = capsys.readouterr().out
    anchor = Anchor.from_value(anchor_text)
    assert anchor.sequence_number == 6
    anchor_file = tmp_path / "anchor.json"
    anchor_file.write_text(anchor_text)

    code = main(
        ["verify", str(trail_dir), "--key-file", str(key_file), "--anchor", str(anchor_file)]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "6 MACs checked with: static key (6)" in out
    assert "1 anchors checked" in out
    assert key.hex() not in out

    monkeypatch.setenv("AUDIT_KEY", secrets.token_bytes(32).hex())
    assert main(["verify", str(trail_dir), "--key-env", "AUDIT_KEY"]) == 1
    capsys.readouterr()
    monkeypatch.setenv("SHORT_KEY", "abcd")
    assert main(["verify", str(trail_dir), "--key-env", "SHORT_KEY"]) == 2
    err = capsys.readouterr().err
    assert "too short" in err
    assert "abcd" not in err
    assert main(["verify", str(trail_dir), "--key-env", "NO_SUCH_VARIABLE"]) == 2
    assert "not set" in capsys.readouterr().err

    writer, auditor = tmp_path / "writer.key", tmp_path / "auditor.key"
    args = ["keygen", "--writer-key", str(writer), "--verification-key", str(auditor)]
    assert main([*args, "--start", "2026-05-01"]) == 0
    printed = capsys.readouterr().out
    assert json.loads(auditor.read_text())["key"] not in printed
    assert main(args) == 2  # never overwrites a key
    assert "never overwritten" in capsys.readouterr().err
    assert main(["verify", str(trail_dir), "--key-file", str(writer)]) == 2
    assert "writer's key state" in capsys.readouterr().err


async def test_keyed_reports_keep_the_seal_and_manifests_in_view(tmp_path: Path) -> None:
    key = secrets.token_bytes(32)
    await write(tmp_path, key=key)
    report = verify_audit_log(tmp_path, key=key)
    assert report.sealed
    assert report.manifests_checked == 2
    manifest = storage.manifest_path(tmp_path, date(2026, 5, 1))
    manifest.unlink()
    gone = verify_audit_log(tmp_path, key=key)
    assert [f.kind.value for f in gone.finding_list] == ["manifest_mismatch"]
    assert "found none" in gone.finding_list[0].message
