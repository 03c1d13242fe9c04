"""The record scanner: sources, ranges, chunked line reading, foreign files."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from fapilog_notebook import scan
from fapilog_notebook.scan import Record, UnreadableFile, iter_lines, last_event, resolve_source

from .logbuilder import build_log


def test_iter_lines_numbers_and_termination(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"a\n\nbc\r\nlast")
    assert list(iter_lines(path)) == [
        (1, b"a", True),
        (2, b"", True),
        (3, b"bc\r", True),
        (4, b"last", False),
    ]


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 1024])
def test_iter_lines_across_chunk_boundaries(tmp_path: Path, chunk: int) -> None:
    content = b"one\ntwo\n\nthree-is-longer\nx"
    path = tmp_path / "f"
    path.write_bytes(content)
    lines = list(iter_lines(path, chunk_size=chunk))
    assert [raw for _, raw, _ in lines] == content.split(b"\n")
    assert [n for n, _, _ in lines] == [1, 2, 3, 4, 5]
    assert lines[-1][2] is False


def test_empty_file_has_no_lines(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"")
    assert list(iter_lines(path)) == []


def test_directory_source_range_and_foreign(tmp_path: Path) -> None:
    log = build_log([1, 1, 1, 1])
    log.write(tmp_path)
    (tmp_path / "README").write_text("x")
    (tmp_path / ".fapilog-notebook.lock").write_text("1")
    (tmp_path / "sub").mkdir()
    source = resolve_source(tmp_path, since="2026-03-02", until=date(2026, 3, 3))
    assert [f.path.name for f in source.files] == [log.files[1].name, log.files[2].name]
    assert source.predecessor == tmp_path / log.files[0].name
    assert sorted(p.name for p, _ in source.foreign) == ["README", "sub"]
    assert all(reason for _, reason in source.foreign)


def test_since_after_until(tmp_path: Path) -> None:
    build_log([1]).write(tmp_path)
    with pytest.raises(ValueError, match="after"):
        resolve_source(tmp_path, since="2026-03-05", until="2026-03-01")


def test_single_file_gets_its_predecessor(tmp_path: Path) -> None:
    log = build_log([2, 2])
    log.write(tmp_path)
    source = resolve_source(tmp_path / log.files[1].name)
    assert source.predecessor == tmp_path / log.files[0].name
    tail = last_event(tmp_path / log.files[0].name)
    assert tail is not None
    assert tail.head.sequence_number == 2
    assert tail.head.checksum == log.checksums[1]


def test_last_event_skips_a_torn_tail(tmp_path: Path) -> None:
    log = build_log([3])
    log.files[0].lines.append(b'{"checksum":"ab')
    log.write(tmp_path)
    tail = last_event(tmp_path / log.files[0].name)
    assert tail is not None
    assert tail.head.sequence_number == 3


def test_fresh_trail_directory_has_no_files(tmp_path: Path) -> None:
    (tmp_path / ".fapilog-notebook.lock").write_text("1")
    assert resolve_source(tmp_path).files == ()


def test_scan_yields_records_and_unreadable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = build_log([2, 1])
    log.write(tmp_path)
    items = list(scan.scan(tmp_path))
    assert all(isinstance(item, Record) for item in items)
    assert [(Path(r.file).name, r.line) for r in items if isinstance(r, Record)] == [
        (log.files[0].name, 1),
        (log.files[0].name, 2),
        (log.files[1].name, 1),
    ]

    def broken(path: Path, **_: int) -> object:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(scan, "iter_lines", broken)
    items = list(scan.scan(tmp_path))
    assert len(items) == 2
    assert all(isinstance(item, UnreadableFile) for item in items)


def test_list_source_sorted_by_day_and_deduplicated(tmp_path: Path) -> None:
    log = build_log([1, 1])
    log.write(tmp_path)
    second, first = tmp_path / log.files[1].name, tmp_path / log.files[0].name
    source = resolve_source([second, first, str(first)])
    assert [f.path for f in source.files] == [first, second]
