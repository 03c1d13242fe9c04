"""Days, keys and processes: where the writer, its restart and the verifier must agree."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from fapilog_notebook import storage


def _reverse_lines_of(path: Path) -> list[bytes]:
    fd = os.open(path, os.O_RDONLY)
    try:
        return list(storage.reverse_lines(fd, os.fstat(fd).st_size))
    finally:
        os.close(fd)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\n\n",
        b"one\ntwo\n",
        b"no newline at all",
        b"a\n" + b"x" * 200_000 + b"\nb\n" + b"y" * 70_000,
        b"z" * 65_536 + b"\n" + b"w" * 65_535 + b"\n\n" + b"q" * 131_072,
    ],
)
def test_reverse_lines_yields_the_non_empty_lines_last_first(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "f"
    path.write_bytes(data)
    assert _reverse_lines_of(path) == [line for line in reversed(data.split(b"\n")) if line]


def _time_last_line(path: Path, size: int) -> float:
    path.write_bytes(b'{"a":1}\n' + b"x" * size)
    best = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        lines = _reverse_lines_of(path)
        best = min(best, time.perf_counter() - began)
        assert len(lines[0]) == size
    return best


def test_reading_a_long_last_line_backwards_is_linear_in_its_length(tmp_path: Path) -> None:
    # Quadratic copying makes 8x the length cost ~64x the time; linear, ~8x.
    small = _time_last_line(tmp_path / "small", 4 * 2**20)
    large = _time_last_line(tmp_path / "large", 32 * 2**20)
    assert large < 24 * max(small, 1e-4), f"4 MiB: {small:.4f}s, 32 MiB: {large:.4f}s"
