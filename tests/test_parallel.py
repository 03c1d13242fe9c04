"""Parallel verifying and loading give the serial results, on a local pool and on Dask.

The adversarial corpus is the damage of ``test_verify.py`` and ``test_hostile.py``
(built with ``tests.logbuilder``), plus keyed, sealed and unreadable trails. Each
log is verified serially, on a local process pool and on a real ``LocalCluster``
with two worker processes, with chunks small enough to split files mid-line, and
the reports must be equal as ``to_dict()`` (less the time they were made).
"""

from __future__ import annotations

import asyncio
import json
import pickle
import random
import shutil
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from os import PathLike
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fapilog_notebook import AuditEventType, AuditTrail, read_audit_log, verify_audit_log
from fapilog_notebook.chain import ALG_STATIC, MAC_FIELD
from fapilog_notebook.chain import encode_event as seal
from fapilog_notebook.cli import main as cli_main
from fapilog_notebook.execution import pool_context
from fapilog_notebook.keys import VerificationKey, keygen
from fapilog_notebook.load import _parallel as load_parallel
from fapilog_notebook.scan import iter_line_blocks, iter_line_range, iter_lines
from fapilog_notebook.verify import _driver as verify_driver
from fapilog_notebook.verify import _lines as verify_module
from fapilog_notebook.verify import _parallel as par
from fapilog_notebook.verify import check_file

from .logbuilder import HOSTILE_CONTENT, Log, build_log, payload
from .report_helpers import comparable

distributed = pytest.importorskip("distributed")

FIXTURE = Path(__file__).parent / "fixtures" / "fapilog-0.3.5"
KEY = bytes(range(32))

#: A case writes its trail into a directory and returns (source, verify keyword arguments).
Case = Callable[[Path], tuple[Any, dict[str, Any]]]


# ------------------------------------------------------------------ engines


@pytest.fixture(scope="module")
def pool() -> Iterator[ProcessPoolExecutor]:
    """One local pool for the module (starting one per call would dominate the time)."""
    with ProcessPoolExecutor(
        max_workers=2, mp_context=pool_context("fapilog_notebook.verify._parallel")
    ) as executor:
        yield executor


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """A real LocalCluster with two worker processes, not the default client."""
    with (
        distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            dashboard_address=":0",
            silence_logs=50,
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as dask_client,
    ):
        yield dask_client


class InlineExecutor(Executor):
    """Runs each task at once in this process (so monkeypatches reach the "workers")."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


# ------------------------------------------------------------------ the corpus


def _write(log: Log, directory: Path) -> Path:
    return log.write(directory)


def _altered(d: Path) -> tuple[Any, dict[str, Any]]:
    log = build_log([5, 6, 4])
    log.files[1].lines[2] = log.files[1].lines[2].replace(b"event 7", b"event X")
    return _write(log, d), {}


def _deleted(d: Path) -> tuple[Any, dict[str, Any]]:
    log = build_log([5, 6, 4])
    del log.files[1].lines[2]
    del log.files[2].lines[0:2]
    return _write(log, d), {}


def _missing_middle_file(d: Path) -> tuple[Any, dict[str, Any]]:
    log = build_log([3, 3, 3, 3])
    del log.files[1]
    return _write(log, d), {}


def _broken_link(d: Path) -> tuple[Any, dict[str, Any]]:
    log = build_log([5, 6, 4])
    obj = json.loads(log.files[1].lines[3])
    obj.pop("checksum")
    log.files[1].lines[3], _ = seal(obj, sequence_number=9, previous_hash="0" * 64)
    return _write(log, d), {}


def _duplicates(d: Path) -> tuple[Any, dict[str, Any]]:
    log = build_log([5, 6, 4])
    log.files[0].lines.insert(3, log.files[0].lines[2])
    log.files[1].lines.insert(1, log.files[1].lines[0])
    log.files[2].lines.insert(0, log.files[0].lines[0])
    return _write(log, d), {}


def _malformed(d: Path) -> tuple[Any, dict[str, Any]]:
    log = build_log([5, 6, 4])
    log.files[0].lines.insert(2, b"[1, 2, 3]\n")
    log.files[0].lines[4] = log.files[0].lines[4][:40] + b"\n"
    log.files[1].lines[2:2] = [b"garbage\n", b"more garbage\n"]
    log.files[2].lines.append(b"not json at all\n")
    return _write(log, d), {}


def _torn(d: Path) -> tuple[Any, dict[str, Any]]:
    log = build_log([5, 6, 4])
    log.files[1].lines.insert(2, b'{"checksum":"4f1c\n')
    log.files[-1].lines.append(b'{"checksum":"ab')
    return _write(log, d), {}


def _restart_and_swap(d: Path) -> tuple[Any, dict[str, Any]]:
    log = build_log([4, 4, 5], restart_at=frozenset({6}))
    lines = log.files[2].lines
    lines[1], lines[3] = lines[3], lines[1]
    return _write(log, d), {}


def _misplaced_and_regression(d: Path) -> tuple[Any, dict[str, Any]]:
    lines: list[bytes] = []
    previous = None
    stamps = [
        "2026-03-01T10:00:00Z",
        "2026-03-01T11:00:00Z",
        "2026-03-02T09:00:00Z",  # misplaced, yet later than the one before
        "2026-03-02T10:00:00Z",
        "2026-03-01T09:00:00Z",  # a regression
        "2026-03-01T12:00:00.500+00:00",
        "2026-03-01T13:00:00",  # naive: read as UTC
        "2026-03-01T13:00:01Z",
        "2026-03-01T13:00:02Z",
        "2026-03-01T12:59:00Z",  # a regression within the day
        "2026-03-01T14:00:00Z",
        "2026-03-01T1x:00:00Z",  # not a time: no time checks
        "2026-03-01T15:00:00Z",
    ]
    for number, stamp in enumerate(stamps, start=1):
        line, previous = seal(
            payload(number, datetime(2026, 3, 1, tzinfo=UTC), timestamp=stamp),
            sequence_number=number,
            previous_hash=previous,
        )
        lines.append(line)
    d.mkdir(parents=True)
    (d / "audit_2026-03-01.jsonl").write_bytes(b"".join(lines))
    return d, {}


def _foreign_and_empty(d: Path) -> tuple[Any, dict[str, Any]]:
    log = build_log([5, 0, 6])
    _write(log, d)
    (d / "audit_2026-03-02.jsonl").write_bytes(b"")
    (d / "notes.txt").write_text("hello")
    return d, {}


def _unreadable(d: Path) -> tuple[Any, dict[str, Any]]:
    log = build_log([3, 3, 3])
    _write(log, d)
    gone = d / log.files[1].name
    gone.unlink()
    gone.symlink_to(d / "nowhere")  # a broken link: open() fails, even as root
    return [d / f.name for f in log.files], {}


def _late_start_and_ranges(d: Path) -> tuple[Any, dict[str, Any]]:
    log = build_log([3, 3, 3, 3])
    del log.files[0].lines[-1]
    _write(log, d)
    return d, {"since": "2026-03-02", "until": date(2026, 3, 3)}


def _list_in_any_order(d: Path) -> tuple[Any, dict[str, Any]]:
    log = build_log([5, 6, 4])
    del log.files[0]
    _write(log, d)
    return [d / f.name for f in reversed(log.files)], {}


def _fixture(d: Path) -> tuple[Any, dict[str, Any]]:
    shutil.copytree(FIXTURE, d)
    return d, {}


def _fixture_range(d: Path) -> tuple[Any, dict[str, Any]]:
    shutil.copytree(FIXTURE, d)
    (d / "audit_2026-03-31.jsonl").unlink()
    return d, {"since": "2026-04-01"}


def _static_keyed(d: Path) -> tuple[Any, dict[str, Any]]:
    previous = None
    lines = []
    for index in range(12):
        body = payload(index, datetime(2026, 3, 1, 9, index, tzinfo=UTC))
        key = None
        if index != 7:  # one unkeyed event in a keyed trail: a downgrade
            body[MAC_FIELD] = {"alg": ALG_STATIC}
            key = KEY
        line, previous = seal(body, sequence_number=index + 1, previous_hash=previous, key=key)
        lines.append(line)
    lines[3] = lines[3].replace(b"event 3", b"event 9")
    d.mkdir(parents=True)
    (d / "audit_2026-03-01.jsonl").write_bytes(b"".join(lines))
    return d, {"key": KEY}


def _unkeyed_with_macs(d: Path) -> tuple[Any, dict[str, Any]]:
    """Bare checksums with runs of events claiming a MAC, verified without a key:
    runs across a file boundary and a lone one (``unchecked_mac`` warnings)."""
    previous = None
    days: dict[str, list[bytes]] = {}
    for index in range(40):
        moment = datetime(2026, 3, 1, 9, tzinfo=UTC) + timedelta(hours=index)
        body = payload(index, moment)
        key = None
        if 10 <= index < 28 or index == 33:
            body[MAC_FIELD] = {"alg": ALG_STATIC}
            key = KEY
        line, previous = seal(body, sequence_number=index + 1, previous_hash=previous, key=key)
        days.setdefault(moment.date().isoformat(), []).append(line)
    d.mkdir(parents=True)
    for day, lines in days.items():
        (d / f"audit_{day}.jsonl").write_bytes(b"".join(lines))
    return d, {}


class _Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def _sealed_forward_secure(d: Path) -> tuple[Any, dict[str, Any]]:
    """A trail from the writer: forward-secure MACs, a seal and day manifests, then damage."""
    writer, auditor = keygen(
        d.parent / f"{d.name}.w", d.parent / f"{d.name}.v", start=date(2026, 3, 30)
    )

    async def write() -> None:
        clock = _Clock(datetime(2026, 3, 30, 23, 59, 50, tzinfo=UTC))
        async with AuditTrail(storage_path=d, key_file=writer, clock=clock) as trail:
            for i in range(20):
                await trail.log_event(AuditEventType.DATA_ACCESS, f"e{i}")

    asyncio.run(write())
    last = d / "audit_2026-03-31.jsonl"
    last.write_bytes(b"".join(last.read_bytes().splitlines(keepends=True)[:-2]))  # cut the tail
    return d, {
        "key": VerificationKey.load(auditor),
        "anchors": [{"sequence_number": 3, "checksum": "0" * 64}],
    }


def _sealed_then_tampered(keyed: bool) -> Case:
    """A writer's trail over three days, then: an event after the seal, one added to
    the closed first day, a re-laid-out line, a duplicated key, garbage mid-file."""

    def build(d: Path) -> tuple[Any, dict[str, Any]]:
        async def write() -> None:
            clock = _Clock(datetime(2026, 3, 30, 23, 59, 55, tzinfo=UTC))
            options: dict[str, Any] = {"key": KEY} if keyed else {}
            async with AuditTrail(storage_path=d, clock=clock, **options) as trail:
                for i in range(12):
                    await trail.log_event(AuditEventType.DATA_ACCESS, f"e{i}", user_id="u")
                    if i % 4 == 3:
                        clock.now += timedelta(days=1)

        asyncio.run(write())
        files = sorted(d.glob("audit_*.jsonl"))
        last = json.loads(files[-1].read_bytes().splitlines()[-1])
        event = {k: v for k, v in last.items() if k not in ("checksum", "mac")}
        event.update(sequence_number=last["sequence_number"] + 1, previous_hash=last["checksum"])
        line, _ = seal(
            event, sequence_number=event["sequence_number"], previous_hash=last["checksum"]
        )
        for target in (files[-1], files[0]):
            with target.open("ab") as handle:
                handle.write(line)
        middle = files[1].read_bytes().splitlines(keepends=True)
        middle[0] = middle[0].replace(b'"message":', b'"message": ', 1)
        middle[1] = middle[1].replace(b'"user_id":"u"', b'"user_id":"x","user_id":"u"', 1)
        middle.insert(2, b"this is not json {\n")
        middle.insert(4, b'{"checksum":"ab\n')
        files[1].write_bytes(b"".join(middle))
        return d, {"key": KEY} if keyed else {}

    return build


def _fifo_seal(d: Path) -> tuple[Any, dict[str, Any]]:
    _write(build_log([3, 2]), d)
    import os

    os.mkfifo(d / ".fapilog-notebook.seal.json")
    return d, {}


def _random_damage(seed: int) -> Case:
    def build(d: Path) -> tuple[Any, dict[str, Any]]:
        rng = random.Random(seed)
        log = build_log([rng.randint(1, 6) for _ in range(rng.randint(2, 4))])
        for _ in range(rng.randint(1, 3)):
            f = rng.randrange(len(log.files))
            lines = log.files[f].lines
            if not lines:
                continue
            i = rng.randrange(len(lines))
            action = rng.choice(["flip", "delete", "duplicate", "swap", "garbage"])
            if action == "flip":
                raw = bytearray(lines[i])
                raw[rng.randrange(len(raw) - 1)] = rng.choice(b'az{}[]0 ,:"\xff')
                lines[i] = bytes(raw)
            elif action == "delete":
                del lines[i]
            elif action == "duplicate":
                lines.insert(i, lines[i])
            elif action == "swap":
                j = rng.randrange(len(lines))
                lines[i], lines[j] = lines[j], lines[i]
            else:
                lines.insert(i, bytes(rng.randrange(256) for _ in range(30)).replace(b"\n", b" "))
        return _write(log, d), {}

    return build


BAD_CONTENT = [
    *HOSTILE_CONTENT.values(),
    b"z" * 300_000,
]


def _bad_content(content: bytes) -> Case:
    def build(d: Path) -> tuple[Any, dict[str, Any]]:
        log = build_log([3, 2])
        _write(log, d)
        (d / "audit_2026-03-03.jsonl").write_bytes(content)
        return d, {}

    return build


def _long_line(d: Path) -> tuple[Any, dict[str, Any]]:
    log = build_log([3])
    log.files[0].lines.insert(1, b'{"x":"' + b"a" * 200_000 + b'"}\n')
    return _write(log, d), {}


CORPUS: dict[str, Case] = {
    "clean": lambda d: (_write(build_log([5, 6, 4]), d), {}),
    "altered": _altered,
    "deleted": _deleted,
    "missing-middle-file": _missing_middle_file,
    "broken-link": _broken_link,
    "duplicates": _duplicates,
    "malformed": _malformed,
    "torn": _torn,
    "restart-and-swap": _restart_and_swap,
    "misplaced-and-regression": _misplaced_and_regression,
    "foreign-and-empty": _foreign_and_empty,
    "unreadable": _unreadable,
    "ranges": _late_start_and_ranges,
    "list-any-order": _list_in_any_order,
    "fixture": _fixture,
    "fixture-range": _fixture_range,
    "static-key": _static_keyed,
    "unkeyed-with-macs": _unkeyed_with_macs,
    "sealed-forward-secure": _sealed_forward_secure,
    "long-line": _long_line,
    "sealed-then-tampered": _sealed_then_tampered(False),
    "sealed-then-tampered-keyed": _sealed_then_tampered(True),
    "fifo-seal": _fifo_seal,
    **{f"bad-{i}": _bad_content(c) for i, c in enumerate(BAD_CONTENT)},
    **{f"random-{seed}": _random_damage(seed) for seed in range(8)},
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Any, dict[str, Any]]]:
    root = tmp_path_factory.mktemp("corpus")
    return {name: build(root / name) for name, build in CORPUS.items()}


def test_the_corpus_covers_every_kind_of_line_finding(
    corpus: dict[str, tuple[Any, dict[str, Any]]],
) -> None:
    kinds: set[str] = set()
    for source, kwargs in corpus.values():
        report = verify_audit_log(source, progress=False, **kwargs)
        kinds.update(f.kind.value for f in report.finding_list)
    assert kinds >= {
        "checksum_mismatch",
        "broken_link",
        "sequence_gap",
        "duplicate_sequence",
        "malformed_line",
        "torn_line",
        "chain_restart",
        "out_of_order",
        "misplaced_event",
        "time_regression",
        "foreign_file",
        "unreadable_file",
        "truncated_tail",
        "anchor_mismatch",
        "unsealed_events",
        "unchecked_mac",
        "non_canonical_line",
        "seal_mismatch",
        "manifest_mismatch",
    }


def test_workers_and_dask_report_exactly_what_serial_reports(
    corpus: dict[str, tuple[Any, dict[str, Any]]],
    pool: ProcessPoolExecutor,
    client: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, (source, kwargs) in corpus.items():
        serial = comparable(verify_audit_log(source, progress=False, **kwargs))
        # One chunk per file (the default), then chunks that cut files mid-line.
        monkeypatch.setattr(par, "CHUNK_BYTES", par.CHUNK_BYTES)
        assert comparable(verify_audit_log(source, workers=pool, **kwargs)) == serial, name
        monkeypatch.setattr(par, "CHUNK_BYTES", 1500)
        assert comparable(verify_audit_log(source, workers=pool, **kwargs)) == serial, name
        monkeypatch.setattr(par, "CHUNK_BYTES", 4000)
        dask = verify_audit_log(source, engine="dask", client=client, **kwargs)
        assert comparable(dask) == serial, name


@pytest.mark.parametrize("batch", [2, 3, 5])
def test_batches_taken_at_once_report_exactly_what_line_by_line_reports(
    corpus: dict[str, tuple[Any, dict[str, Any]]], monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    real_routine_of, real_extend = verify_module.routine_of, verify_driver._Verifier.extend
    real_routine_batch = verify_module.routine_batch
    chunk_bytes = par.CHUNK_BYTES
    taken: list[int] = []

    def spy(self: Any, index: int, routine: Any) -> bool:
        done = real_extend(self, index, routine)
        taken.extend([routine.rest] if done else [])
        return done

    monkeypatch.setattr(verify_driver._Verifier, "extend", spy)
    monkeypatch.setattr(verify_module, "VERIFY_BATCH_LINES", batch)
    for name, (source, kwargs) in corpus.items():
        monkeypatch.setattr(verify_driver, "routine_of", lambda *args: None)
        monkeypatch.setattr(verify_module, "routine_batch", lambda *args: None)
        line_by_line = comparable(verify_audit_log(source, progress=False, **kwargs))
        monkeypatch.setattr(verify_driver, "routine_of", real_routine_of)
        monkeypatch.setattr(verify_module, "routine_batch", real_routine_batch)
        assert comparable(verify_audit_log(source, progress=False, **kwargs)) == line_by_line, name
        # Worker threads share this module's settings: chunks of 700 bytes, batches of ``batch``.
        monkeypatch.setattr(par, "CHUNK_BYTES", 700)
        with ThreadPoolExecutor(max_workers=2) as threads:
            report = comparable(verify_audit_log(source, workers=threads, **kwargs))
        assert report == line_by_line, name
        monkeypatch.setattr(par, "CHUNK_BYTES", chunk_bytes)
    assert sum(taken) > 20  # the corpus holds routine batches, and they were taken at once


def test_workers_as_a_number_starts_and_stops_its_own_pool(tmp_path: Path) -> None:
    log = build_log([5, 6, 4])
    del log.files[1].lines[2]
    directory = _write(log, tmp_path)
    serial = verify_audit_log(directory, progress=False)
    report = verify_audit_log(directory, workers=2, progress=False)
    assert comparable(report) == comparable(serial)
    assert not report.valid


def test_a_file_failing_part_way_is_reported_as_serial_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = build_log([6, 40, 6])
    directory = _write(log, tmp_path)
    target = log.files[1].name
    monkeypatch.setattr(par, "CHUNK_BYTES", 4000)
    chunks = [c for c in par.plan_chunks(_files(directory), 4000) if str(c.path).endswith(target)]
    assert len(chunks) > 3
    fail_after = len(list(iter_line_range(chunks[0].path, chunks[0].start, chunks[0].end))) + 1

    def failing_blocks(
        path: str | PathLike[str], start: int, end: int | None
    ) -> Iterator[tuple[int, list[bytes], bool, int]]:
        for first, lines, terminated, at in iter_line_blocks(path, start, end):
            if str(path).endswith(target) and start > 0:
                yield first, lines[:1], terminated, at  # one line read, then the disk fails
                raise OSError(5, "Input/output error")
            yield first, lines, terminated, at

    def failing_file(
        path: str | PathLike[str], start: int, end: int | None
    ) -> Iterator[tuple[int, list[bytes], bool, int]]:
        # The whole file read at once, failing where the parallel read fails.
        if not str(path).endswith(target):
            yield from iter_line_blocks(path, start, end)
            return
        lines = [raw for _, raw, _ in iter_line_range(path, start, end)]
        yield 1, lines[:fail_after], True, 0
        raise OSError(5, "Input/output error")

    monkeypatch.setattr("fapilog_notebook.verify._lines.iter_line_blocks", failing_file)
    serial = verify_audit_log(directory, progress=False)
    monkeypatch.setattr("fapilog_notebook.verify._lines.iter_line_blocks", failing_blocks)
    report = verify_audit_log(directory, workers=InlineExecutor(), progress=False)
    assert comparable(report) == comparable(serial)
    kinds = [(f.kind.value, Path(f.file or "").name) for f in report.finding_list]
    assert ("unreadable_file", target) in kinds
    assert "Input/output error" in report.to_json()


def _files(directory: Path) -> tuple[Any, ...]:
    from fapilog_notebook.scan import resolve_source

    return resolve_source(directory).files


# ------------------------------------------------------------------ chunks


@settings(max_examples=200, deadline=None)
@given(
    content=st.lists(st.sampled_from([b"", b"a", b"bb", b"{}", b"x" * 7, b"\r"]), max_size=30).map(
        lambda parts: b"\n".join(parts)
    ),
    tail=st.booleans(),
    size=st.integers(min_value=1, max_value=12),
)
def test_line_ranges_give_every_line_once(content: bytes, tail: bool, size: int) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "audit_2026-03-01.jsonl"
        path.write_bytes(content + (b"\n" if tail else b""))
        expected = list(iter_lines(path))
        got: list[tuple[int, bytes, bool]] = []
        for start in range(0, max(len(content) + 1, 1), size):
            end = start + size if start + size <= len(content) else None
            base = len(got)
            got.extend(
                (base + n, raw, term) for n, raw, term in iter_line_range(path, start, end, block=3)
            )
            if end is None:
                break
        assert got == expected


def test_encoded_chunks_decode_to_the_same_line_infos(
    corpus: dict[str, tuple[Any, dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(verify_module, "VERIFY_BATCH_LINES", 3)  # several batches per chunk
    routines = 0
    for name in ("malformed", "static-key", "bad-6", "bad-11", "torn"):
        source, _ = corpus[name]
        for path in sorted(Path(source).glob("audit_*.jsonl")):
            lines, batches, error = par.check_chunk(str(path), 0, None)
            assert error is None
            infos: list[Any] = []
            for batch in batches:
                count, routine, rest = pickle.loads(batch)
                if routine is None:
                    infos.extend(par._decode(count, pickle.loads(rest), len(infos)))
                else:
                    # Only the span is sent: the lines are read again from it.
                    assert routine.first.number == len(infos) + 1
                    decoded = verify_module.recheck(path, routine, rest, None)
                    assert len(decoded) == count
                    infos.extend(decoded)
                    routines += 1
            assert infos == list(check_file(path)), name
            assert lines == len(infos)
    assert routines > 0


# ------------------------------------------------------------------ frames


def _frame_cases(root: Path) -> dict[str, tuple[Path, dict[str, Any]]]:
    cases: dict[str, tuple[Path, dict[str, Any]]] = {}
    clean = _write(build_log([5, 6, 4]), root / "clean")
    cases["clean"] = (clean, {})
    cases["flatten"] = (clean, {"flatten_metadata": True})
    cases["types"] = (clean, {"event_types": ["data_access", "config_changed"]})
    cases["columns"] = (clean, {"columns": ["sequence_number", "nope", "event_type"]})
    mixed = build_log([4, 4, 4])
    body = payload(99, datetime(2026, 3, 2, 5, tzinfo=UTC), process_id="pid-7", extra=1)
    body["event_type"] = "something_new"
    mixed.files[1].lines[1], _ = seal(body, sequence_number=6, previous_hash=None)
    mixed.files[2].lines.insert(1, b"not an event\n")
    cases["mixed"] = (_write(mixed, root / "mixed"), {})  # serial dtypes differ per file
    novel = build_log([4, 4])
    body = payload(5, datetime(2026, 3, 2, 6, tzinfo=UTC))
    body["log_level"] = "audit-x"
    novel.files[1].lines[0], _ = seal(body, sequence_number=5, previous_hash=None)
    cases["new-category"] = (_write(novel, root / "novel"), {})
    cases["fixture"] = (FIXTURE, {})
    bad = _write(build_log([3, 3]), root / "bad")
    (bad / "audit_2026-03-03.jsonl").write_bytes(b"")
    (bad / "audit_2026-03-04.jsonl").write_bytes(b"[1, 2]\n{\n")
    cases["empty-and-bad-files"] = (bad, {})
    return cases


def _read(source: Any, **kwargs: Any) -> tuple[Any, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = read_audit_log(source, progress=False, **kwargs)
    return frame, [str(w.message) for w in caught]


def test_frames_from_workers_and_dask_equal_the_serial_frame(
    tmp_path: Path, pool: ProcessPoolExecutor, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    plans: dict[str, list[Any]] = {}
    real_plan = load_parallel._join_plan

    def spy(summaries: Any) -> Any:
        plan = real_plan(summaries)
        plans.setdefault(name, []).append(plan)
        return plan

    monkeypatch.setattr(load_parallel, "_join_plan", spy)
    for name, (source, kwargs) in _frame_cases(tmp_path).items():
        serial, serial_warnings = _read(source, **kwargs)
        local, local_warnings = _read(source, workers=pool, **kwargs)
        pd.testing.assert_frame_equal(local, serial, check_exact=True, obj=name)
        assert list(local.columns) == list(serial.columns), name
        assert local_warnings == serial_warnings, name

        lazy, dask_warnings = _read(source, engine="dask", client=client, **kwargs)
        assert dask_warnings == serial_warnings, name
        assert list(lazy.columns) == list(serial.columns), name
        assert list(lazy.dtypes) == list(serial.dtypes), name
        computed = client.compute(lazy).result()
        assert list(computed.index) == list(serial.index), name
        pd.testing.assert_frame_equal(
            computed.reset_index(drop=True), serial, check_exact=True, obj=name
        )
        with_rows = serial["source_file"].nunique()
        assert lazy.npartitions == with_rows, name
    # Mixed dtypes across files take the exact fallback; a new category is joined.
    assert plans["mixed"] == [None, None]
    assert plans["clean"][0] is not None
    assert "audit-x" in plans["new-category"][0][1]["log_level"]


def test_dask_frame_partitions_are_files(tmp_path: Path, client: Any) -> None:
    directory = _write(build_log([5, 6, 4]), tmp_path)
    lazy: Any = read_audit_log(directory, engine="dask", client=client)
    assert lazy.npartitions == 3
    for number in range(3):
        part = client.compute(lazy.get_partition(number)).result()
        assert part["source_file"].nunique() == 1
    assert lazy.known_divisions
    assert int(client.compute(lazy["sequence_number"].max()).result()) == 15
    with client.as_current():  # the default client computes it as usual
        assert len(lazy.compute()) == 15


# ------------------------------------------------------------------ arguments


def test_default_client_is_used_and_missing_one_is_a_clear_error(
    tmp_path: Path, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = _write(build_log([3, 3]), tmp_path)
    with pytest.raises(ValueError, match=r"needs a running dask\.distributed Client"):
        verify_audit_log(directory, engine="dask")
    with client.as_current():
        assert verify_audit_log(directory, engine="dask").valid
    with pytest.raises(ValueError, match="workers= sizes the local process pool"):
        verify_audit_log(directory, engine="dask", workers=2, client=client)
    with pytest.raises(ValueError, match="client= is for engine='dask'"):
        verify_audit_log(directory, client=client)
    with pytest.raises(ValueError, match="engine must be"):
        verify_audit_log(directory, engine="spark")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least 1"):
        read_audit_log(directory, workers=0)
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r"pip install 'fapilog-notebook\[dask\]'"):
        verify_audit_log(directory, engine="dask")


def test_cli_verify_with_workers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = build_log([4, 4])
    del log.files[1].lines[1]
    directory = _write(log, tmp_path)
    assert cli_main(["verify", str(directory), "--format", "json"]) == 1
    serial = json.loads(capsys.readouterr().out)
    assert cli_main(["verify", str(directory), "--format", "json", "--workers", "2"]) == 1
    parallel = json.loads(capsys.readouterr().out)
    # The same report but for the moment each was made (verified_at).
    assert serial.pop("verified_at") <= parallel.pop("verified_at")
    assert parallel == serial
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["verify", str(directory), "--workers", "0"])
    assert exit_info.value.code == 2
    assert "--workers" in capsys.readouterr().err


def test_importing_the_core_does_not_import_dask_pandas_or_process_pools() -> None:
    code = (
        "import sys, fapilog_notebook; "
        "heavy = [m for m in ('dask', 'distributed', 'pandas', 'concurrent.futures.process', "
        "'multiprocessing', 'fapilog_notebook.verify._parallel', "
        "'fapilog_notebook.load._parallel') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_parallel_benchmark_runs_and_renders(tmp_path: Path) -> None:
    from benchmarks import bench_parallel

    config = bench_parallel.ParallelConfig.quick(
        events=3000, days=3, scaling=(1000, 2000), data_root=str(tmp_path)
    )
    data = bench_parallel.run(config, report=lambda line: None)
    assert data["verify_verdict"]["identical_reports"]
    assert len(data["worker_memory"]) == 2
    assert all(m["peak_mb"] for m in data["worker_memory"])
    assert [r["events"] for r in data["scaling"]] == [1000, 2000]
    text = bench_parallel.markdown(data)
    assert "Parallel verify" in text
    assert "Scaling" in text
