"""read_audit_log: dtypes, provenance, filters, malformed lines, batching exactness."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest

from fapilog_notebook import AuditLogWarning, read_audit_log
from fapilog_notebook.frame import _parse_batch

from .logbuilder import build_log

FIXTURE = Path(__file__).parent / "fixtures" / "fapilog-0.3.5"


def test_fixture_frame_dtypes() -> None:
    frame = read_audit_log(FIXTURE, progress=False)
    assert len(frame) == 65
    assert str(frame["timestamp"].dtype) in ("datetime64[us, UTC]", "datetime64[ns, UTC]")
    for column in ("event_type", "log_level", "compliance_level"):
        assert isinstance(frame[column].dtype, pd.CategoricalDtype)
    assert str(frame["sequence_number"].dtype) == "Int64"
    assert frame["contains_pii"].dtype == bool
    assert isinstance(frame["metadata"].iloc[0], dict)
    assert list(frame["sequence_number"].iloc[[0, 16, 17, 40]]) == [1, 17, 18, 1]
    assert Path(frame["source_file"].iloc[40]).name == "audit_2026-04-02.jsonl"
    assert frame["source_line"].iloc[40] == 1
    assert frame["timestamp"].iloc[0].tzinfo is not None


def test_fractional_seconds_and_z_parse(tmp_path: Path) -> None:
    log = build_log([3])
    frame = read_audit_log(log.write(tmp_path), progress=False)
    assert frame["timestamp"].iloc[1].microsecond == 1237
    assert frame["timestamp"].iloc[0].microsecond == 0


def test_extra_keys_and_missing_keys_become_columns(tmp_path: Path) -> None:
    log = build_log([3])
    log.files[0].lines[1] = (
        log.files[0].lines[1].replace(b'{"checksum"', b'{"zz_extra":7,"checksum"')
    )
    frame = read_audit_log(log.write(tmp_path), progress=False)
    assert list(frame["zz_extra"].isna()) == [True, False, True]


def test_filters_columns_and_flatten(tmp_path: Path) -> None:
    log = build_log([8])
    directory = log.write(tmp_path)
    frame = read_audit_log(
        directory,
        event_types=["data_access"],
        columns=["event_type", "metadata", "nope"],
        flatten_metadata=True,
        progress=False,
    )
    assert set(frame["event_type"]) == {"data_access"}
    assert list(frame.columns) == [
        "event_type",
        "metadata",
        "nope",
        "metadata.n",
        "metadata.resource",
        "source_file",
        "source_line",
    ]
    assert frame["nope"].isna().all()
    assert list(frame["source_line"]) == [1, 5]


def test_malformed_lines_left_out_with_one_warning(tmp_path: Path) -> None:
    log = build_log([4])
    log.files[0].lines.insert(1, b"garbage\n")
    log.files[0].lines.insert(3, b"[1]\n")
    with pytest.warns(AuditLogWarning, match="2 lines") as record:
        frame = read_audit_log(log.write(tmp_path), progress=False)
    assert len(record) == 1
    assert "verify_audit_log" in str(record[0].message)
    assert ":2" in str(record[0].message)
    assert len(frame) == 4
    assert list(frame["source_line"]) == [1, 3, 5, 6]


def test_clean_log_gives_no_warning(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_audit_log(build_log([3, 3]).write(tmp_path), progress=False)


@pytest.mark.parametrize(
    "lines",
    [
        [b'{"a":[{}', b"{}]}", b"{},{}"],
        [b'{"a":"x', b'y"}'],
        [b"{} , {}", b"{}"],
        [b"{}", b" {} "],
        [b'{"a":1}', b'{"b":"\\u00e9"}'],
    ],
)
def test_batch_parse_is_exactly_per_line(lines: list[bytes]) -> None:
    import json

    parsed = _parse_batch(lines)
    expected = []
    for raw in lines:
        try:
            expected.append(json.loads(raw))
        except ValueError:
            expected = None  # type: ignore[assignment]
            break
    if parsed is not None:
        assert expected is not None
        assert parsed == expected


def test_event_type_filter_gives_the_same_columns_however_lines_are_batched(
    tmp_path: Path,
) -> None:
    import json as _json

    from fapilog_notebook.chain import seal

    def line(seq: int, kind: str, extra: str) -> bytes:
        payload = {
            "event_id": f"e{seq}",
            "event_type": kind,
            "message": "m",
            "timestamp": "2026-03-01T00:00:00Z",
            extra: 1,
        }
        raw, _ = seal(payload, sequence_number=seq, previous_hash=None)
        return raw

    clean = tmp_path / "clean"
    dirty = tmp_path / "dirty"
    clean.mkdir()
    dirty.mkdir()
    # Day 1 holds only filtered-out events, all with the same keys (one uniform
    # batch); in the dirty copy a garbage line makes it a batch read row by row.
    filtered = line(1, "config_changed", "only_in_filtered") + line(
        2, "config_changed", "only_in_filtered"
    )
    for directory, day1 in ((clean, filtered), (dirty, filtered + b"garbage\n")):
        (directory / "audit_2026-03-01.jsonl").write_bytes(day1)
        (directory / "audit_2026-03-02.jsonl").write_bytes(line(3, "data_access", "kept"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frames = [read_audit_log(d, event_types=["data_access"]) for d in (clean, dirty)]
    assert list(frames[0].columns) == list(frames[1].columns)
    assert "only_in_filtered" not in frames[0].columns
    assert _json.dumps(frames[0]["kept"].tolist()) == "[1]"
