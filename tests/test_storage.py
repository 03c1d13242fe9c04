"""DayFiles: one write per batch, partial writes undone or terminated."""

from __future__ import annotations

import errno
import os
from datetime import date
from pathlib import Path

import pytest

from fapilog_notebook import storage

DAY = date(2026, 3, 1)


def test_appends_follow_each_other_and_an_outside_fragment_is_terminated(
    tmp_path: Path,
) -> None:
    path = storage.file_for_day(tmp_path, DAY)
    path.write_bytes(b'{"a":1}\n{"torn')  # left by a crash before this writer
    files = storage.DayFiles(tmp_path, fsync=False)
    try:
        files.append(DAY, b'{"b":2}\n{"c":3}\n')
        files.append(DAY, b'{"d":4}\n')
    finally:
        files.close()
    assert path.read_bytes() == b'{"a":1}\n{"torn\n{"b":2}\n{"c":3}\n{"d":4}\n'


def test_a_partial_write_that_cannot_be_undone_is_terminated_by_the_next_append(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = storage.DayFiles(tmp_path, fsync=False)
    files.append(DAY, b'{"a":1}\n')

    def half_then_fail(fd: int, data: bytes) -> None:
        os.write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    def no_truncate(fd: int, size: int) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(storage, "write_all", half_then_fail)
    monkeypatch.setattr(os, "ftruncate", no_truncate)
    with pytest.raises(OSError, match="No space left"):
        files.append(DAY, b'{"b":2}\n')
    monkeypatch.undo()
    try:
        files.append(DAY, b'{"c":3}\n')
    finally:
        files.close()
    lines = storage.file_for_day(tmp_path, DAY).read_bytes().split(b"\n")
    assert lines == [b'{"a":1}', b'{"b"', b'{"c":3}', b""]
