"""A batch of lines checked at once says exactly what checking them one by one says.

The verifier checks a batch of routine lines together (``chain.check_intact_lines``,
``verify.routine_batch``); these crafted lines carry valid checksums but differ from
a routine line in one way each, so the batch check must hand them to the per-line
check, and the report must not change.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from fapilog_notebook import verify_audit_log
from fapilog_notebook.chain import canonical_json, check_intact_lines
from fapilog_notebook.verify import (
    Keyring,
    LineInfo,
    RoutineBatch,
    check_batches,
    check_file,
    recheck,
)
from fapilog_notebook.verify import _driver as verify_driver
from fapilog_notebook.verify import _lines as verify_module
from fapilog_notebook.verify import _parallel as par

from .logbuilder import BASE, payload
from .report_helpers import comparable

KEY = b"k" * 32
Mutation = Callable[[str], str]

MUTATIONS: dict[str, Mutation] = {
    "untouched": lambda body: body,
    "carriage return": lambda body: body + "\r",
    "trailing space": lambda body: body + " ",
    "float sequence": lambda body: body.replace('"sequence_number":4,', '"sequence_number":4.0,'),
    "duplicate sequence key": lambda body: body.replace(
        '"sequence_number":4,', '"sequence_number":9,"sequence_number":4,'
    ),
    "integer event id": lambda body: _set(body, "event_id", 12345),
    "timestamp of the next day": lambda body: body.replace("2026-03-01T", "2026-03-02T"),
    "timestamp with offset": lambda body: body.replace('Z"', '+00:00"'),
    "timestamp a number": lambda body: _set(body, "timestamp", 1772352000),
    "earlier timestamp": lambda body: body.replace("T08:", "T07:"),
    "key sorting before checksum": lambda body: _set(body, "aaa", 1),
    "a mac on one line": lambda body: _set(body, "mac", {"alg": "hmac-sha256"}),
    "a forward-secure mac": lambda body: _set(body, "mac", {"alg": "hmac-sha256-fs", "day": "x"}),
    "mac twice, then not an object": lambda body: body.replace(
        '"mac":{"alg":"hmac-sha256"},', '"mac":{"alg":"hmac-sha256"},"mac":"x",'
    ),
    "mac twice, first not an object": lambda body: body.replace(
        '"mac":{"alg":"hmac-sha256"},', '"mac":"x","mac":{"alg":"hmac-sha256"},'
    ),
    "mac with another key": lambda body: body.replace(
        '"mac":{"alg":"hmac-sha256"},', '"mac":{"alg":"hmac-sha256","day":"2026-03-01"},'
    ),
    "mac without alg": lambda body: body.replace('"mac":{"alg":"hmac-sha256"},', '"mac":{},'),
    "mac alg in a list": lambda body: body.replace(
        '"mac":{"alg":"hmac-sha256"},', '"mac":[{"alg":"hmac-sha256"}],'
    ),
    "spaces in the json": lambda body: body.replace(",", ", "),
    "not an object": lambda body: "[" + body + "]",
    "null previous hash": lambda body: _set(body, "previous_hash", None),
}


def _set(body: str, name: str, value: object) -> str:
    record = json.loads(body)
    record[name] = value
    return canonical_json(record)


def _line(body: str, key: bytes | None) -> bytes:
    """A line whose checksum (first, as a canonical line has it) is the hash of ``body``."""
    data = body.encode()
    checksum = (
        hashlib.sha256(data).hexdigest()
        if key is None
        else hmac.new(key, data, hashlib.sha256).hexdigest()
    )
    if not body.startswith("{"):
        return json.dumps({"checksum": checksum}).encode() + b"\n"
    return b'{"checksum":"' + checksum.encode() + b'",' + data[1:] + b"\n"


def _write(directory: Path, mutate: Mutation, *, key: bytes | None, events: int = 9) -> Path:
    """One day file of ``events`` chained events; the 4th has its body changed by ``mutate``."""
    lines, previous = [], None
    for index in range(events):
        record = payload(index, BASE + timedelta(minutes=3 * index))
        record.update(sequence_number=index + 1, previous_hash=previous)
        if key is not None:
            record["mac"] = {"alg": "hmac-sha256"}
        body = canonical_json(record)
        if index == 3:
            body = mutate(body)
        line = _line(body, key)
        lines.append(line)
        previous = json.loads(line)["checksum"] if line.startswith(b'{"checksum"') else None
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "audit_2026-03-01.jsonl"
    path.write_bytes(b"".join(lines))
    return path


def _expand(path: Path, keyring: Keyring | None) -> Iterator[LineInfo]:
    for batch in check_batches(path, 0, None, keyring, "2026-03-01", {2, 5}):
        if isinstance(batch, RoutineBatch):
            yield from recheck(path, batch.routine, batch.span, keyring)
        else:
            yield from batch


@pytest.mark.parametrize(
    ("written", "checked"),
    [(None, None), (KEY, KEY), (KEY, None)],
    ids=["unkeyed", "static key", "keyed, checked without the key"],
)
@pytest.mark.parametrize("name", list(MUTATIONS))
def test_a_batch_checked_at_once_agrees_with_line_by_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    written: bytes | None,
    checked: bytes | None,
) -> None:
    key = checked
    path = _write(tmp_path / "log", MUTATIONS[name], key=written)
    keyring = Keyring(key) if key else None
    for batch in (2, 3, 4, 2048):
        monkeypatch.setattr(verify_module, "VERIFY_BATCH_LINES", batch)
        assert list(_expand(path, keyring)) == list(check_file(path, keyring)), (name, batch)
        at_once = comparable(verify_audit_log(path.parent, key=key, progress=False))
        with monkeypatch.context() as patched:
            patched.setattr(verify_module, "routine_batch", lambda *args: None)
            patched.setattr(verify_driver, "routine_of", lambda *args: None)
            line_by_line = comparable(verify_audit_log(path.parent, key=key, progress=False))
        assert at_once == line_by_line, (name, batch)
    if name == "untouched":
        # A keyed trail's writer seals it: these lines have no seal beside them.
        errors = [f["kind"] for f in at_once["findings"] if f["severity"] == "error"]
        assert errors == (["seal_mismatch"] if written else [])


def test_the_batch_check_takes_only_intact_canonical_lines(tmp_path: Path) -> None:
    path = _write(tmp_path / "plain", MUTATIONS["untouched"], key=None)
    lines = path.read_bytes().splitlines()
    fields, checksums = check_intact_lines(lines) or ([], [])
    assert [f["sequence_number"] for f in fields] == list(range(1, 10))
    assert checksums == [f["checksum"] for f in fields]
    altered = [*lines[:3], lines[3].replace(b"event 3", b"event 4"), *lines[4:]]
    assert check_intact_lines(altered) is None
    assert check_intact_lines([*lines[:3], lines[3] + b"\r", *lines[4:]]) is None
    keyed = _write(tmp_path / "keyed", MUTATIONS["untouched"], key=KEY).read_bytes().splitlines()
    assert check_intact_lines(keyed, lambda mac: b"x" * 32) is None  # the wrong key
    assert check_intact_lines(keyed, lambda mac: KEY) is not None
    assert check_intact_lines([]) == ([], [])
    # Without a key the MACs cannot be checked: well-formed checksums are all it takes.
    unchecked = check_intact_lines(keyed)
    assert unchecked is not None
    assert unchecked[1] == [json.loads(line)["checksum"] for line in keyed]
    bad_hex = keyed[4][:13] + b"Z" + keyed[4][14:]  # same layout, not hex
    assert check_intact_lines([*keyed[:4], bad_hex, *keyed[5:]]) is None


def test_routine_batches_are_taken_at_once_on_a_clean_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path / "log", MUTATIONS["untouched"], key=None, events=49)
    monkeypatch.setattr(verify_module, "VERIFY_BATCH_LINES", 16)
    batches = list(check_batches(path, 0, None, None, "2026-03-01", ()))
    kinds = [type(batch).__name__ for batch in batches]
    assert kinds == ["RoutineBatch"] * 3 + ["list"]  # 16 + 16 + 16 at once, then one line
    assert list(_expand(path, None)) == list(check_file(path))


def _replayed(directory: Path) -> Path:
    """One day file of 14 events, then events 3 to 10 again (a replayed stretch)."""
    path = _write(directory, MUTATIONS["untouched"], key=None, events=14)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join([*lines, *lines[2:10]]))
    return path


@pytest.mark.parametrize("batch", [2, 3, 4])
def test_a_routine_batch_the_chain_cannot_take_at_once_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    path = _replayed(tmp_path / "log")
    with monkeypatch.context() as patched:
        patched.setattr(verify_module, "routine_batch", lambda *args: None)
        patched.setattr(verify_driver, "routine_of", lambda *args: None)
        line_by_line = comparable(verify_audit_log(path.parent, progress=False))
    assert "duplicate_sequence" in [f["kind"] for f in line_by_line["findings"]]
    calls: list[tuple[int, int]] = []
    real_recheck = verify_module.recheck

    def spy(*args: Any) -> list[LineInfo]:
        calls.append(args[2])
        return real_recheck(*args)

    monkeypatch.setattr(verify_driver, "recheck", spy)
    monkeypatch.setattr(verify_module, "VERIFY_BATCH_LINES", batch)
    assert comparable(verify_audit_log(path.parent, progress=False)) == line_by_line
    assert calls  # the replayed stretch came as routine batches, read again line by line
    for chunk_bytes in (par.CHUNK_BYTES, 3000):  # one chunk, then several
        monkeypatch.setattr(par, "CHUNK_BYTES", chunk_bytes)
        calls.clear()
        with ThreadPoolExecutor(max_workers=2) as threads:
            parallel = verify_audit_log(path.parent, workers=threads, progress=False)
        assert comparable(parallel) == line_by_line, chunk_bytes
        assert calls


def test_lines_that_changed_before_they_were_read_again_make_the_file_unreadable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _replayed(tmp_path / "log")
    monkeypatch.setattr(verify_module, "VERIFY_BATCH_LINES", 4)
    real_recheck = verify_module.recheck

    def rewritten(file: Path, routine: Any, span: tuple[int, int], keyring: Any) -> Any:
        data = path.read_bytes()
        path.write_bytes(data[: span[0]] + data[span[0] : span[1]].replace(b"event", b"EVENT"))
        return real_recheck(file, routine, span, keyring)

    monkeypatch.setattr(verify_driver, "recheck", rewritten)
    report = verify_audit_log(path.parent, progress=False)
    kinds = [f.kind.value for f in report.finding_list]
    assert "unreadable_file" in kinds
    assert "changed while it was verified" in report.to_json()
