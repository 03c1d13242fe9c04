"""Attacks found by reviewing the README's promises against the code.

Each test plays someone who can write the trail's files (and, where it says
so, holds today's forward-secure writer key) but not the auditor's key, and
checks that what the README promises is what the verifier and writer do.
"""

from __future__ import annotations

import json
from pathlib import Path

from fapilog_notebook import storage
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
