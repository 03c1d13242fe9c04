"""read_audit_log: dtypes, provenance, filters, malformed lines, batching exactness."""

from __future__ import annotations

import json
import math
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fapilog_notebook import AuditLogWarning, read_audit_log
from fapilog_notebook.load import _columns as columns_module
from fapilog_notebook.load import _parse as frame_module
from fapilog_notebook.load._parse import _parse_batch

from .logbuilder import HOSTILE_CONTENT, build_log, payload

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

    from fapilog_notebook.chain import encode_event as seal

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


# ------------------------------------------------------ typed columns and the accelerator


def _same(a: Any, b: Any) -> bool:
    """Equal values of the same types, dict keys in the same order, NaN equal to NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def _assert_identical(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """The same columns, dtypes and values (objects compared by :func:`_same`)."""
    assert list(got.columns) == list(expected.columns)
    assert list(got.dtypes) == list(expected.dtypes)
    objects = [name for name in got.columns if got[name].dtype == object]
    pd.testing.assert_frame_equal(
        got.drop(columns=objects), expected.drop(columns=objects), check_exact=True
    )
    for name in objects:
        for a, b in zip(got[name].tolist(), expected[name].tolist(), strict=True):
            assert _same(a, b), (name, a, b)


def _reference(name: str, values: list[Any]) -> Any:
    """A whole column converted at once, as the loader always converted it."""
    if name == "timestamp":
        stamps = pd.Series([v if isinstance(v, str) else None for v in values], dtype=object)
        return pd.DatetimeIndex(pd.to_datetime(stamps, format="ISO8601", utc=True, errors="coerce"))
    if name in columns_module._CATEGORICAL:
        known = [member.value for member in columns_module._CATEGORICAL[name]]
        extra = sorted({v for v in values if isinstance(v, str)} - set(known))
        strings = [v if isinstance(v, str) else None for v in values]
        try:
            return pd.Categorical(strings, categories=known + extra)
        except UnicodeEncodeError:
            dtype = pd.CategoricalDtype(pd.Index(known + extra, dtype=object))
            return pd.Categorical(strings, dtype=dtype)
    if name in ("sequence_number", "process_id"):
        if all(v is None or type(v) is int for v in values):
            try:
                return pd.array(values, dtype="Int64")
            except (OverflowError, TypeError, ValueError):
                pass
        return pd.array(values, dtype=object)
    if name in ("contains_pii", "contains_phi"):
        kinds = {type(v) for v in values}
        if kinds <= {bool}:
            return pd.array(values, dtype=bool)
        if kinds <= {bool, type(None)}:
            return pd.array(values, dtype="boolean")
        return pd.array(values, dtype=object)
    if name == "metadata":
        return pd.array(values, dtype=object)
    if any(isinstance(v, str) and not _encodable(v) for v in values):
        return pd.Series(values, dtype=object)  # lone surrogates: pandas keeps objects
    return values


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=-5, max_value=5),
    st.floats(allow_nan=True),
    st.sampled_from(["data_access", "info", "basic", "zz_custom", "a", ""]),
    st.sampled_from(
        ["2026-03-01T00:00:01Z", "2026-03-01T00:00:01.5Z", "2026-03-01T00:00:01.123456789Z"]
    ),
    st.sampled_from(["9999-01-01T00:00:00Z", "garbage"]),
    st.text(max_size=3),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)


@given(
    name=st.sampled_from(
        ["timestamp", "event_type", "sequence_number", "contains_pii", "metadata", "message"]
    ),
    batches=st.lists(
        st.one_of(
            st.lists(_VALUE, max_size=6),
            st.lists(st.sampled_from([None, "x", "data_access"]), max_size=6),
            st.lists(st.one_of(st.none(), st.integers(-3, 3)), max_size=6),
            st.lists(st.one_of(st.none(), st.booleans()), max_size=6),
        ),
        max_size=5,
    ),
)
@settings(max_examples=300, deadline=None)
def test_columns_built_batch_by_batch_equal_the_whole_list_converted_at_once(
    name: str, batches: list[list[Any]]
) -> None:
    column = columns_module._Column(name)
    values: list[Any] = []
    for batch in batches:
        column.add(list(batch))
        values.extend(batch)
    other = columns_module._Column(name)
    other.absorb(column)  # the parallel loader's merge gives the same column
    got = pd.DataFrame({name: other.finish(pd)})
    expected = pd.DataFrame({name: _reference(name, values)})
    _assert_identical(got, expected)


def _event(seq: int, **changes: Any) -> dict[str, Any]:
    body = payload(seq, datetime(2026, 3, 1, 0, 1, seq % 60, (seq * 1237) % 10**6, tzinfo=UTC))
    body.update(sequence_number=seq, checksum=f"{seq:064x}", previous_hash=None)
    body.update(changes)
    return body


def _line(seq: int, **changes: Any) -> bytes:
    return (
        json.dumps(_event(seq, **changes), sort_keys=True, separators=(",", ":")) + "\n"
    ).encode()


def _metadata_line(seq: int, text: str) -> bytes:
    """A line whose metadata is written exactly as ``text``."""
    line = _line(seq)
    start = line.index(b'"metadata":') + len(b'"metadata":')
    end = line.index(b',"operation"')
    return line[:start] + text.encode() + line[end:]


def _parity_cases() -> dict[str, list[bytes]]:
    base = [_line(i) for i in range(1, 4)]
    cases: dict[str, list[bytes]] = {
        "clean": base,
        "metadata-missing-key": [*base, _line(4, metadata={"resource": "/r"})],
        "metadata-null-value": [*base, _line(4, metadata={"n": None, "resource": "/r"})],
        "metadata-reordered": [*base, _metadata_line(4, '{"resource":"/r","n":4}')],
        "metadata-float-and-int": [*base, _line(4, metadata={"n": 2.5, "resource": "/r"})],
        "metadata-integral-float": [*base, _line(4, metadata={"n": 3.0, "resource": "/r"})],
        "metadata-big-int": [*base, _line(4, metadata={"n": 2**70, "resource": "/r"})],
        "metadata-nan": [*base, _metadata_line(4, '{"n":NaN,"resource":"/r"}')],
        "metadata-nested": [*base, _line(4, metadata={"n": {"deep": [1, 2]}, "resource": "/r"})],
        "metadata-empty": [*base, _line(4, metadata={})],
        "metadata-null": [*base, _line(4, metadata=None)],
        "metadata-missing": [
            *base,
            _line(4).replace(b'"metadata":{"n":4,"resource":"/records/4"},', b""),
        ],
        "metadata-not-an-object": [*base, _line(4, metadata="text")],
        "metadata-extra-key": [*base, _line(4, metadata={"n": 4, "resource": "/r", "z": True})],
        "metadata-escapes": [*base, _line(4, metadata={"n": 4, "resource": 'a"b\\c},"n":5}'})],
        "metadata-key-twice": [*base, _line(4, regulatory_tags=["metadata"])],
        "metadata-key-in-a-value": [*base, _line(4, error_context={"metadata": 1})],
        "metadata-spaced": [
            *base,
            (json.dumps(_event(4), sort_keys=True) + "\n").encode(),
        ],
        "escaped-ascii-key": [*base, _line(4).replace(b'"metadata"', b'"m\\u0065tadata"')],
        "unicode-escaped": [*base, _line(4, message="caf\u00e9 \U0001f600")],
        "unicode-raw": [
            *base,
            (
                json.dumps(_event(4, message="caf\u00e9"), sort_keys=True, ensure_ascii=False)
                + "\n"
            ).encode(),
        ],
        "lone-surrogate": [*base, _line(4, message="\ud800")],
        "invalid-utf8": [*base, _line(4).replace(b"event 4", b"event \xff")],
        "extra-key-later": [*base, _line(4, zz_extra=1)],
        "extra-key-first": [_line(1, zz_extra="x"), *base[1:]],
        "key-order-varies": [
            *base,
            (json.dumps(dict(reversed(_event(4).items())), separators=(",", ":")) + "\n").encode(),
        ],
        "float-column": [_line(i, score=i / 2) for i in range(1, 4)],
        "date-column": [_line(i, day="2026-03-01") for i in range(1, 4)],
        "whole-second-timestamps": [_line(i, timestamp="2026-03-01T00:00:01Z") for i in (1, 2)],
        "timestamp-offset": [*base, _line(4, timestamp="2026-03-01T01:00:00.5+01:00")],
        "timestamp-nanoseconds": [*base, _line(4, timestamp="2026-03-01T00:00:01.123456789Z")],
        "timestamp-leap-second": [*base, _line(4, timestamp="2026-03-01T23:59:60Z")],
        "timestamp-30-february": [*base, _line(4, timestamp="2026-02-30T00:00:00Z")],
        "timestamp-hour-24": [*base, _line(4, timestamp="2026-03-01T24:00:00Z")],
        "timestamp-year-0": [*base, _line(4, timestamp="0000-01-01T00:00:00Z")],
        "timestamp-naive": [*base, _line(4, timestamp="2026-03-01T00:00:01")],
        "timestamp-date-only": [*base, _line(4, timestamp="2026-03-01")],
        "timestamp-space": [*base, _line(4, timestamp="2026-03-01 00:00:01Z")],
        "timestamp-null": [*base, _line(4, timestamp=None)],
        "timestamp-number": [*base, _line(4, timestamp=1772323200)],
        "timestamp-all-invalid": [_line(i, timestamp="2026-13-01T00:00:00Z") for i in (1, 2)],
        "timestamp-all-null": [_line(i, timestamp=None) for i in (1, 2)],
        "process-id-string": [*base, _line(4, process_id="pid-7")],
        "process-id-huge": [*base, _line(4, process_id=2**64)],
        "flag-null": [*base, _line(4, contains_pii=None)],
        "flag-int": [*base, _line(4, contains_pii=1)],
        "event-type-unknown": [*base, _line(4, event_type="zz_custom")],
        "event-type-int": [*base, _line(4, event_type=5)],
        "event-type-null": [*base, _line(4, event_type=None)],
        "sequence-missing": [*base, _line(4).replace(b'"sequence_number":4,', b"")],
        "sequence-null": [*base, _line(4, sequence_number=None)],
        "duplicate-key": [*base, _line(4).replace(b'{"checksum"', b'{"hostname":"h","checksum"')],
        "tags-null-item": [*base, _line(4, regulatory_tags=["a", None])],
        # pyarrow's reader drops a list's leading nulls (values shift between rows).
        "tags-leading-null": [
            *base,
            _line(4, regulatory_tags=[None, "sox", None, "gdpr"]),
            _line(5, regulatory_tags=["hipaa"]),
        ],
        "tags-leading-null-empty-string": [*base, _line(4, regulatory_tags=[None, ""])],
        "list-leading-null-ints": [*base, _line(4, zz=[None, 1])],
        "list-leading-null-bools": [_line(1, zz=[]), _line(2, zz=[None, True]), _line(3)],
        "list-leading-nulls-then-int": [*base, _line(4, zz=[None, None]), _line(5, zz=[1])],
        "list-leading-null-spaced": [
            *base,
            _line(4).replace(b'"regulatory_tags":[]', b'"regulatory_tags":[ null , "sox"]'),
        ],
        "tags-ints": [*base, _line(4, regulatory_tags=[1, 2])],
        "tags-floats": [_line(i, regulatory_tags=[1.5, 2]) for i in range(1, 4)],
        "crlf": [line.replace(b"\n", b"\r\n") for line in base],
        "unterminated": [*base, _line(4).rstrip(b"\n")],
        "one-unterminated-line": [_line(1, message="m" * 600).rstrip(b"\n")],
        "blank-line": [*base, b"\n", _line(4)],
        "two-objects": [*base, _line(4).rstrip(b"\n") + _line(5)],
        "two-objects-and-blank": [*base, _line(4).rstrip(b"\n") + _line(5), b"\n"],
        "null-then-string": [*base, _line(4, container_id="c-1")],
        "null-then-object": [*base, _line(4, error_context={"code": 7, "why": "x"})],
        "null-then-int": [*base, _line(4, container_id=7)],
        "null-then-object-elsewhere": [*base, _line(4, operation={"code": 7})],
        "int-then-float-in-object": [*base, *base, _line(4, metadata={"n": 1.5, "resource": "/r"})],
        "new-key-in-object-later": [*base, *base, _line(4, metadata={"n": 4, "a": "b"})],
    }
    for name, content in HOSTILE_CONTENT.items():
        if len(content) < 10_000:
            cases[f"hostile-{name}"] = [*base, content]
    return cases


PARITY_CASES = _parity_cases()


def _load(directory: Path, *, accelerated: bool, **kwargs: Any) -> tuple[pd.DataFrame, list[str]]:
    cache = frame_module._pyarrow_cache
    saved = list(cache)
    if not accelerated:
        cache[:] = [None]
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            frame = read_audit_log(directory, progress=False, **kwargs)
    finally:
        cache[:] = saved
    return frame, [str(w.message) for w in caught]


@pytest.mark.parametrize("case", sorted(PARITY_CASES))
@pytest.mark.parametrize("kwargs", [{}, {"flatten_metadata": True, "columns": ["metadata", "zz"]}])
def test_the_accelerated_reader_gives_exactly_the_pure_frame(
    tmp_path: Path, case: str, kwargs: dict[str, Any]
) -> None:
    pytest.importorskip("pyarrow")
    directory = tmp_path / "log"
    directory.mkdir()
    (directory / "audit_2026-03-01.jsonl").write_bytes(b"".join(PARITY_CASES[case]))
    (directory / "audit_2026-03-02.jsonl").write_bytes(b"".join(_line(i) for i in range(10, 14)))
    fast, fast_warnings = _load(directory, accelerated=True, **kwargs)
    pure, pure_warnings = _load(directory, accelerated=False, **kwargs)
    _assert_identical(fast, pure)
    assert fast_warnings == pure_warnings


def test_the_accelerator_reads_clean_files_and_declines_doubtful_ones(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    clean = tmp_path / "audit_2026-03-01.jsonl"
    clean.write_bytes(b"".join(build_log([20]).files[0].lines))
    read = frame_module._read_accelerated(clean)
    assert read is not None
    assert read[0] == 20
    kind, (times, _), rows = read[1]["timestamp"]
    assert kind == columns_module._TIME
    assert rows == 20
    assert str(times.dtype) == "datetime64[us]"
    offset = tmp_path / "offset" / "audit_2026-03-01.jsonl"
    offset.parent.mkdir()
    offset.write_bytes(b"".join(PARITY_CASES["timestamp-offset"]))
    read = frame_module._read_accelerated(offset)
    assert read is not None
    assert read[1]["timestamp"][0] == columns_module._STR
    repaired = tmp_path / "audit_2026-03-02.jsonl"
    repaired.write_bytes(b"".join(PARITY_CASES["metadata-reordered"]))
    assert frame_module._read_accelerated(repaired) is not None  # one row parsed again
    for case in ("blank-line", "two-objects", "lone-surrogate", "float-column", "sequence-null"):
        doubtful = tmp_path / f"audit_2026-03-0{3}.jsonl"
        doubtful.write_bytes(b"".join(PARITY_CASES[case]))
        assert frame_module._read_accelerated(doubtful) is None, case


def test_without_pyarrow_the_pure_reader_loads_everything(tmp_path: Path) -> None:
    directory = build_log([5, 5]).write(tmp_path / "log")
    frame, caught = _load(directory, accelerated=False)
    assert len(frame) == 10
    assert not caught
    assert str(frame["sequence_number"].dtype) == "Int64"


def test_an_error_in_the_accelerator_only_means_the_pure_reader_reads_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("pyarrow")
    directory = build_log([5, 5]).write(tmp_path / "log")
    expected, _ = _load(directory, accelerated=False)

    def broken(*args: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(frame_module, "_struct_values", broken)
    got, caught = _load(directory, accelerated=True)
    _assert_identical(got, expected)
    assert not caught


def test_verify_true_names_the_findings_of_each_affected_row(tmp_path: Path) -> None:
    log = build_log([5, 6, 4])
    log.files[1].lines[2] = log.files[1].lines[2].replace(b"event 7", b"event X")
    del log.files[2].lines[1]
    directory = log.write(tmp_path)
    plain = read_audit_log(directory, progress=False)
    assert "integrity" not in plain.columns
    frame = read_audit_log(directory, progress=False, verify=True)
    flagged = frame[frame["integrity"] != ""]
    assert flagged[["sequence_number", "integrity"]].values.tolist() == [
        [8, "checksum_mismatch"],
        [14, "sequence_gap"],  # the event after the deleted line
    ]
    assert len(frame) == len(plain)
    sound = read_audit_log(build_log([3]).write(tmp_path / "sound"), progress=False, verify=True)
    assert sound["integrity"].tolist() == ["", "", ""]
    with pytest.raises(ValueError, match="dask"):
        read_audit_log(directory, engine="dask", verify=True)  # type: ignore[call-overload]
