"""AuditTrail: ordering, durability, resuming, rotation, locking, input checks, modes."""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import os
import stat
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import fapilog_notebook.writer._factory as trail_module
from fapilog_notebook import (
    AuditEvent,
    AuditEventType,
    AuditLogLevel,
    AuditTrail,
    AuditTrailError,
    AuditTrailLockedError,
    ComplianceLevel,
    CompliancePolicy,
)
from fapilog_notebook.chain import canonical_json

from .trail_helpers import assert_chain_intact, lines_on_disk

FIXTURE = Path(__file__).parent / "fixtures" / "fapilog-0.3.5"


def fapilog_rule_checksum(line: bytes) -> str:
    """fapilog 0.3.5's verifier: re-read into its model, dump, drop checksum, hash."""
    event = AuditEvent.model_validate_json(line)
    payload = event.model_dump(mode="json", exclude_none=False)
    payload.pop("checksum", None)
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


async def test_order_on_disk_is_sequence_order_with_1000_concurrent_tasks(tmp_path: Path) -> None:
    async with AuditTrail(storage_path=tmp_path) as trail:
        ids = await asyncio.gather(
            *(trail.log_event(AuditEventType.DATA_ACCESS, f"event {i}") for i in range(1000))
        )
        stats = await trail.get_statistics()
    events = lines_on_disk(tmp_path)
    assert [e["sequence_number"] for e in events] == list(range(1, 1001))
    assert {e["event_id"] for e in events} == set(ids)
    assert assert_chain_intact(tmp_path) == 1000
    # Group commit: the 1,000 callers shared a handful of thread hops, not 1,000.
    assert stats["events_written"] == 1000
    assert stats["batches_written"] <= 5


async def test_line_is_on_disk_when_log_event_returns(tmp_path: Path) -> None:
    async with AuditTrail(storage_path=tmp_path) as trail:
        for i in range(20):
            event_id = await trail.log_event(AuditEventType.DATA_ACCESS, f"event {i}")
            on_disk = [e["event_id"] for e in lines_on_disk(tmp_path)]
            assert on_disk[-1] == event_id
            assert len(on_disk) == i + 1


async def test_fsync_true_fsyncs_each_batch_off_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    calls: list[int] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").endswith(".jsonl"):  # audit files only
            calls.append(threading.get_ident())
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    loop_thread = threading.get_ident()
    async with AuditTrail(storage_path=tmp_path, fsync=True) as trail:
        await trail.log_event(AuditEventType.DATA_ACCESS, "one")
        assert len(calls) == 1
        await asyncio.gather(*(trail.log_event(AuditEventType.DATA_ACCESS, "b") for _ in range(50)))
    assert 2 <= len(calls) <= 6
    assert loop_thread not in calls


async def test_drain_waits_for_everything_logged_before_it(tmp_path: Path) -> None:
    trail = AuditTrail(storage_path=tmp_path)
    await trail.start()
    tasks = [
        asyncio.create_task(trail.log_event(AuditEventType.DATA_ACCESS, f"e{i}")) for i in range(30)
    ]
    await asyncio.sleep(0)  # the tasks have queued their events
    await trail.drain()
    assert len(lines_on_disk(tmp_path)) == 30
    await asyncio.gather(*tasks)
    await trail.stop()


async def test_restart_resumes_the_chain_across_days(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    day1 = datetime(2026, 3, 30, 12, 0, tzinfo=UTC)
    monkeypatch.setattr(trail_module, "utc_now", lambda: day1)
    async with AuditTrail(storage_path=tmp_path) as trail:
        for i in range(3):
            await trail.log_event(AuditEventType.DATA_ACCESS, f"first life {i}")
    day2 = day1 + timedelta(days=2)
    monkeypatch.setattr(trail_module, "utc_now", lambda: day2)
    async with AuditTrail(storage_path=tmp_path) as trail:
        await trail.log_event(AuditEventType.DATA_ACCESS, "second life")
        stats = await trail.get_statistics()
    assert stats["resumed_from_sequence"] == 3
    events = lines_on_disk(tmp_path)
    assert [e["_file"] for e in events] == ["audit_2026-03-30.jsonl"] * 3 + [
        "audit_2026-04-01.jsonl"
    ]
    assert events[3]["sequence_number"] == 4
    assert events[3]["previous_hash"] == events[2]["checksum"]
    assert assert_chain_intact(tmp_path) == 4


async def test_torn_last_line_is_terminated_and_the_chain_resumes_before_it(
    tmp_path: Path,
) -> None:
    async with AuditTrail(storage_path=tmp_path) as trail:
        for i in range(3):
            await trail.log_event(AuditEventType.DATA_ACCESS, f"e{i}")
    (path,) = tmp_path.glob("audit_*.jsonl")
    intact = path.read_bytes()
    with path.open("ab") as handle:
        handle.write(b'{"checksum":"0123')  # a write cut by a crash
    async with AuditTrail(storage_path=tmp_path) as trail:
        await trail.log_event(AuditEventType.DATA_ACCESS, "after the crash")
        stats = await trail.get_statistics()
    assert stats["terminated_torn_line"] == str(path)
    data = path.read_bytes()
    lines = data.splitlines()
    assert data.startswith(intact)
    assert lines[3] == b'{"checksum":"0123'  # terminated, never glued to the next event
    resumed = json.loads(lines[4])
    assert resumed["sequence_number"] == 4
    assert resumed["previous_hash"] == json.loads(lines[2])["checksum"]


async def test_a_whole_event_cut_before_its_newline_stays_the_head(tmp_path: Path) -> None:
    async with AuditTrail(storage_path=tmp_path) as trail:
        for i in range(3):
            await trail.log_event(AuditEventType.DATA_ACCESS, f"e{i}")
    (path,) = tmp_path.glob("audit_*.jsonl")
    path.write_bytes(path.read_bytes()[:-1])  # a crash just before the last newline
    async with AuditTrail(storage_path=tmp_path) as trail:
        await trail.log_event(AuditEventType.DATA_ACCESS, "after the crash")
        stats = await trail.get_statistics()
        result = await trail.verify_chain_from_storage()
    assert stats["resumed_from_sequence"] == 3
    assert stats["terminated_torn_line"] is None  # a newline added, nothing torn
    events = lines_on_disk(tmp_path)
    assert [e["sequence_number"] for e in events] == [1, 2, 3, 4]
    assert events[3]["previous_hash"] == events[2]["checksum"]
    assert result.valid, result


async def test_a_batch_crossing_midnight_goes_into_both_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = datetime(2026, 3, 30, 23, 59, 59, 999_000, tzinfo=UTC)
    clock = iter(start + timedelta(microseconds=200 * i) for i in range(100))
    monkeypatch.setattr(trail_module, "utc_now", lambda: next(clock))
    async with AuditTrail(storage_path=tmp_path) as trail:
        await asyncio.gather(
            *(trail.log_event(AuditEventType.DATA_ACCESS, f"e{i}") for i in range(10))
        )
        stats = await trail.get_statistics()
    assert stats["batches_written"] == 1
    events = lines_on_disk(tmp_path)
    files = [e["_file"] for e in events]
    assert files == ["audit_2026-03-30.jsonl"] * 5 + ["audit_2026-03-31.jsonl"] * 5
    assert all(e["timestamp"].startswith(e["_file"][6:16]) for e in events)
    assert assert_chain_intact(tmp_path) == 10


async def test_second_trail_on_the_same_directory_fails_at_start(tmp_path: Path) -> None:
    async with AuditTrail(storage_path=tmp_path):
        other = AuditTrail(storage_path=tmp_path)
        with pytest.raises(AuditTrailLockedError, match=str(tmp_path)):
            await other.start()
    # Once the first writer stops, the directory is free again.
    async with AuditTrail(storage_path=tmp_path) as trail:
        await trail.log_event(AuditEventType.DATA_ACCESS, "free again")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"event_type": "no_such_type", "message": "m"}, ValueError, "unknown event type"),
        ({"event_type": 42, "message": "m"}, TypeError, "event type"),
        ({"event_type": "data_access", "message": 5}, TypeError, "message must be a string"),
        (
            {"event_type": "data_access", "message": "m", "payload": object()},
            TypeError,
            "not JSON-serialisable",
        ),
        (
            {"event_type": "data_access", "message": "m", "log_level": "loud"},
            ValueError,
            "unknown log level",
        ),
        ({"event_type": "data_access", "message": "m", "user_id": 7}, TypeError, "user_id"),
        (
            {"event_type": "data_access", "message": "m", "regulatory_tags": "sox"},
            TypeError,
            "regulatory_tags",
        ),
    ],
)
async def test_bad_input_raises_before_a_sequence_number_is_taken(
    tmp_path: Path, kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    async with AuditTrail(storage_path=tmp_path) as trail:
        await trail.log_event(AuditEventType.DATA_ACCESS, "before")
        with pytest.raises(error, match=match):
            await trail.log_event(**kwargs)
        await trail.log_event(AuditEventType.DATA_ACCESS, "after")
        stats = await trail.get_statistics()
    assert stats["events_logged"] == 2
    assert [e["sequence_number"] for e in lines_on_disk(tmp_path)] == [1, 2]
    assert assert_chain_intact(tmp_path) == 2


async def test_circular_metadata_is_rejected(tmp_path: Path) -> None:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    async with AuditTrail(storage_path=tmp_path) as trail:
        with pytest.raises(TypeError, match="not JSON-serialisable"):
            await trail.log_event(AuditEventType.DATA_ACCESS, "m", data=loop)
        assert (await trail.get_statistics())["events_logged"] == 0


async def test_new_directories_are_0700_and_files_0600(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    async with AuditTrail(storage_path=target) as trail:
        await trail.log_event(AuditEventType.DATA_ACCESS, "m")
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o700
    files = list(target.iterdir())
    assert files
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


async def test_lines_verify_with_fapilogs_rule_and_carry_all_its_fields(tmp_path: Path) -> None:
    async with AuditTrail(
        storage_path=tmp_path, policy=CompliancePolicy(level=ComplianceLevel.SOX)
    ) as trail:
        await trail.log_event(AuditEventType.DATA_ACCESS, "plain")
        await trail.log_security_event(
            AuditEventType.AUTHENTICATION_FAILED,
            "bad password",
            user_id="alice",
            client_ip="10.0.0.1",
            user_agent="curl",
            attempt=3,
        )
        await trail.log_data_access("/records/7", "delete", user_id="bob", contains_pii=True)
        try:
            raise FileNotFoundError("no such file: /etc/missing")
        except FileNotFoundError as exc:
            await trail.log_error(exc, operation="load", component="loader")
    (path,) = tmp_path.glob("audit_*.jsonl")
    raw_lines = path.read_bytes().splitlines()
    fields = set(AuditEvent.model_fields)
    for raw in raw_lines:
        stored = json.loads(raw)
        assert set(stored) == fields
        assert fapilog_rule_checksum(raw) == stored["checksum"]
        assert raw.decode() == canonical_json(stored)
    security, access, error = (json.loads(raw) for raw in raw_lines[1:])
    assert security["log_level"] == "security"
    assert security["client_ip"] == "10.0.0.1"
    assert security["metadata"] == {"attempt": 3}
    assert access["event_type"] == "data_deletion"
    assert access["metadata"] == {"resource": "/records/7"}
    assert access["compliance_level"] == "sox"
    assert error["event_type"] == "error_occurred"
    assert error["error_category"] == "io"
    assert error["error_severity"] == "high"
    assert error["log_level"] == "error"
    assert error["message"] == "Error occurred: no such file: /etc/missing"
    assert error["error_context"]["metadata"]["exception_type"] == "builtins.FileNotFoundError"
    assert security["timestamp"].endswith("Z")


def test_fapilog_fixture_parses_and_each_line_matches_its_checksum() -> None:
    files = sorted(FIXTURE.glob("audit_*.jsonl"))
    assert len(files) == 3
    count = 0
    for path in files:
        for raw in path.read_bytes().splitlines():
            event = AuditEvent.model_validate_json(raw)
            assert event.checksum == fapilog_rule_checksum(raw)
            count += 1
    assert count == 65


async def test_a_new_trail_continues_a_fapilog_directory(tmp_path: Path) -> None:
    for path in FIXTURE.glob("audit_*.jsonl"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    last = json.loads((tmp_path / "audit_2026-04-02.jsonl").read_bytes().splitlines()[-1])
    async with AuditTrail(storage_path=tmp_path) as trail:
        await trail.log_event(AuditEventType.DATA_ACCESS, "continued")
    new = lines_on_disk(tmp_path)[-1]
    assert new["sequence_number"] == last["sequence_number"] + 1
    assert new["previous_hash"] == last["checksum"]


async def test_get_events_filters_oldest_first_and_rejects_naive_datetimes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
    times = iter(base + timedelta(hours=i) for i in range(10))
    monkeypatch.setattr(trail_module, "utc_now", lambda: next(times))
    async with AuditTrail(storage_path=tmp_path) as trail:
        for i in range(10):
            await trail.log_event(
                AuditEventType.DATA_ACCESS if i % 2 else AuditEventType.CONFIG_CHANGED,
                f"e{i}",
                user_id=f"u{i % 3}",
                log_level=AuditLogLevel.WARNING if i == 4 else AuditLogLevel.INFO,
            )
        everything = await trail.get_events(limit=None)
        assert [e.sequence_number for e in everything] == list(range(1, 11))
        window = await trail.get_events(
            start_time=base + timedelta(hours=2), end_time=base + timedelta(hours=6)
        )
        assert [e.message for e in window] == ["e2", "e3", "e4", "e5", "e6"]
        access = await trail.get_events(event_type="data_access", limit=2)
        assert [e.message for e in access] == ["e1", "e3"]
        assert [e.message for e in await trail.get_events(user_id="u0")] == ["e0", "e3", "e6", "e9"]
        assert [e.message for e in await trail.get_events(log_level="warning")] == ["e4"]
        with pytest.raises(ValueError, match="naive"):
            await trail.get_events(start_time=datetime(2026, 5, 1))
        assert AuditTrail.verify_chain(everything).valid
        tampered = [
            e.model_copy(update={"message": "changed"}) if i == 3 else e
            for i, e in enumerate(everything)
        ]
        result = AuditTrail.verify_chain(tampered)
        assert not result.valid
        assert result.first_invalid_sequence == 4
        assert result.error_message == "checksum mismatch"


async def test_statistics_count_levels_and_security_events(tmp_path: Path) -> None:
    async with AuditTrail(storage_path=tmp_path) as trail:
        await trail.log_event(AuditEventType.AUTHENTICATION_FAILED, "x")
        await trail.log_event(AuditEventType.DATA_ACCESS, "y", log_level="critical")
        stats = await trail.get_statistics()
    assert stats["total_events"] == 2
    assert stats["security_events"] == 1
    assert stats["error_events"] == 1
    assert stats["events_pending"] == 0
    assert stats["last_sequence_number"] == 2
    assert stats["terminated_torn_line"] is None
    assert stats["policy"]["compliance_level"] == "basic"


async def test_disabled_policy_logs_nothing(tmp_path: Path) -> None:
    async with AuditTrail(storage_path=tmp_path, policy=CompliancePolicy(enabled=False)) as trail:
        assert await trail.log_event(AuditEventType.DATA_ACCESS, "ignored") == ""
    assert list(tmp_path.glob("audit_*.jsonl")) == []


async def test_a_clock_backdates_events_and_must_be_tz_aware(tmp_path: Path) -> None:
    moments = iter([datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), datetime(2026, 1, 2, 3, 4, 5)])
    async with AuditTrail(storage_path=tmp_path, clock=lambda: next(moments)) as trail:
        await trail.log_event(AuditEventType.DATA_ACCESS, "backfilled")
        with pytest.raises(ValueError, match="tz-aware"):
            await trail.log_event(AuditEventType.DATA_ACCESS, "naive")
    (event,) = lines_on_disk(tmp_path)
    assert event["_file"] == "audit_2026-01-02.jsonl"
    assert event["timestamp"] == "2026-01-02T03:04:05Z"


def test_constructor_rejects_bad_options() -> None:
    with pytest.raises(ValueError, match="on_write_error"):
        AuditTrail(on_write_error="ignore")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_pending"):
        AuditTrail(max_pending=0)
    with pytest.raises(TypeError, match="CompliancePolicy"):
        AuditTrail(policy="sox")  # type: ignore[arg-type]


def test_one_trail_serves_several_event_loops_in_turn(tmp_path: Path) -> None:
    trail = AuditTrail(storage_path=tmp_path)

    async def write(tag: str) -> str:
        return await trail.log_event(AuditEventType.DATA_ACCESS, tag)

    # Each asyncio.run is a new loop, as pytest-asyncio and notebooks give.
    first = asyncio.run(write("loop 1"))
    second = asyncio.run(write("loop 2"))
    asyncio.run(trail.stop())
    assert [e["event_id"] for e in lines_on_disk(tmp_path)] == [first, second]


def test_two_threads_with_their_own_loops_share_one_trail(tmp_path: Path) -> None:
    import threading

    trail = AuditTrail(storage_path=tmp_path)

    def worker(tag: str) -> None:
        async def burst() -> None:
            await asyncio.gather(
                *(trail.log_event(AuditEventType.DATA_ACCESS, f"{tag}{i}") for i in range(200))
            )

        asyncio.run(burst())

    threads = [threading.Thread(target=worker, args=(tag,)) for tag in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    asyncio.run(trail.stop())
    assert assert_chain_intact(tmp_path) == 400


async def test_a_cancelled_caller_leaves_the_others_and_its_event_is_still_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from .trail_helpers import SlowStorage

    SlowStorage(monkeypatch, delay=0.05)
    async with AuditTrail(storage_path=tmp_path) as trail:
        first = asyncio.create_task(trail.log_event(AuditEventType.DATA_ACCESS, "leader"))
        await asyncio.sleep(0.01)  # the leader's batch is being written
        others = [
            asyncio.create_task(trail.log_event(AuditEventType.DATA_ACCESS, f"w{i}"))
            for i in range(5)
        ]
        await asyncio.sleep(0.01)
        others[2].cancel()
        first.cancel()
        done = await asyncio.gather(*others, return_exceptions=True)
        assert isinstance(done[2], asyncio.CancelledError)
        assert all(isinstance(result, str) for i, result in enumerate(done) if i != 2)
        with pytest.raises(asyncio.CancelledError):
            await first
        await trail.drain()
    # Cancelling a caller does not take back an event it had queued.
    assert [e["message"] for e in lines_on_disk(tmp_path)] == ["leader"] + [
        f"w{i}" for i in range(5)
    ]
    assert assert_chain_intact(tmp_path) == 6


async def _log_variety(trail: AuditTrail) -> None:
    """Inputs the writer builds directly and inputs that need the pydantic model."""

    class Label(str):
        pass

    nested: dict[str, Any] = {"list": [1, "a", None], "tuple": (1, 2), "when": datetime(2026, 1, 1)}
    await trail.log_event(AuditEventType.DATA_ACCESS, "plain")
    await trail.log_event(
        "data_modification",
        "every text field",
        log_level="warning",
        component="api",
        operation="update",
        user_id="alice",
        session_id="s-1",
        request_id="r-1",
        client_ip="10.0.0.1",
        user_agent="curl/8",
        contains_pii=True,
        contains_phi=False,
        data_classification="restricted",
        regulatory_tags=["hipaa", "sox"],
        count=3,
        ratio=0.25,
        zero=-0.0,
        big=2**80,
        flag=False,
        nothing=None,
        text="ok",
    )
    await trail.log_event(AuditEventType.DATA_ACCESS, "café ☕", user_id="jürgen", note="naïve")
    await trail.log_event(AuditEventType.DATA_ACCESS, "lone \udc80 surrogate", user_id="\udcff")
    await trail.log_event(AuditEventType.DATA_ACCESS, "surrogate value", value="\udc80")
    odd_keys: dict[str, Any] = {"k\udc80": 1}
    await trail.log_event(AuditEventType.DATA_ACCESS, "surrogate key", **odd_keys)
    unicode_keys: dict[str, Any] = {"clé": "v"}
    await trail.log_event(AuditEventType.DATA_ACCESS, "unicode key", **unicode_keys)
    await trail.log_event(
        AuditEventType.DATA_ACCESS, "floats", nan=math.nan, inf=math.inf, ninf=-math.inf
    )
    await trail.log_event(AuditEventType.DATA_ACCESS, "nested", **nested)
    await trail.log_event(AuditEventType.DATA_ACCESS, "tag tuple", regulatory_tags=("gdpr",))
    await trail.log_event(AuditEventType.DATA_ACCESS, "tag subclass", regulatory_tags=[Label("x")])
    await trail.log_event(AuditEventType.DATA_ACCESS, "str subclass", user_id=Label("bob"))
    await trail.log_event(AuditEventType.DATA_ACCESS, "enum as text", user_id=AuditLogLevel.INFO)
    await trail.log_event(AuditEventType.DATA_ACCESS, "coerced flag", contains_pii=1)  # type: ignore[arg-type]
    await trail.log_security_event(
        AuditEventType.AUTHENTICATION_FAILED, "bad password", user_id="eve", client_ip="::1"
    )
    await trail.log_data_access("/records/7", "delete", user_id="bob", contains_phi=True)


async def test_events_built_without_the_model_are_byte_identical_to_the_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer skips pydantic for plain input; the lines must not change by it."""
    import uuid

    import fapilog_notebook.events as events_module

    moments = [
        datetime(2026, 3, 30, 23, 58, 7, 123456, tzinfo=UTC),
        datetime(2026, 3, 30, 23, 58, 8, tzinfo=UTC),
        datetime(2026, 3, 31, 0, 0, 0, 5, tzinfo=timezone(timedelta(hours=2))),
    ]

    async def write(directory: Path, *, model_only: bool) -> list[bytes]:
        counter = iter(range(1, 10_000))

        def fixed_ids() -> uuid.UUID:
            return uuid.UUID(int=next(counter), version=4)

        monkeypatch.setattr(trail_module, "_event_id", lambda: str(fixed_ids()))
        monkeypatch.setattr(events_module, "uuid4", fixed_ids)
        plain = [0]
        real = trail_module._plain_payload

        def spy(*args: Any) -> dict[str, Any] | None:
            payload = None if model_only else real(*args)
            plain[0] += payload is not None
            return payload

        monkeypatch.setattr(trail_module, "_plain_payload", spy)
        ticks = iter(moments * 20)
        for level in (ComplianceLevel.HIPAA, "sox"):
            policy = CompliancePolicy(level=level)  # type: ignore[arg-type]
            async with AuditTrail(
                storage_path=directory, policy=policy, clock=lambda: next(ticks)
            ) as trail:
                await _log_variety(trail)
        if not model_only:
            assert plain[0] == 7  # the direct path was taken for the plain input
        return [
            raw
            for path in sorted(directory.glob("*.jsonl"))
            for raw in path.read_bytes().splitlines()
        ]

    direct = await write(tmp_path / "direct", model_only=False)
    model = await write(tmp_path / "model", model_only=True)
    assert len(direct) == len(model) == 32
    for ours, reference in zip(direct, model, strict=True):
        assert ours == reference
        if b"\\udc" not in ours:  # fapilog's parser refuses lone surrogates
            assert fapilog_rule_checksum(ours) == json.loads(ours)["checksum"]
    assert assert_chain_intact(tmp_path / "direct") == 32


async def test_callers_woken_by_a_failed_batch_raise_and_their_events_stay_queued(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fapilog_notebook import AuditWriteError, AuditWriteWarning

    from .trail_helpers import FlakyStorage

    async with AuditTrail(storage_path=tmp_path, on_write_error="raise") as trail:
        await trail.log_event(AuditEventType.DATA_ACCESS, "first")
        flaky = FlakyStorage(monkeypatch, lambda: OSError(28, "No space left on device"))
        with pytest.warns(AuditWriteWarning, match="No space left"):
            results = await asyncio.gather(
                *(trail.log_event(AuditEventType.DATA_ACCESS, f"e{i}") for i in range(20)),
                return_exceptions=True,
            )
        assert all(isinstance(result, AuditWriteError) for result in results)
        assert (await trail.get_statistics())["events_pending"] == 20
        flaky.heal()
        await trail.drain()
    assert [e["message"] for e in lines_on_disk(tmp_path)] == ["first"] + [
        f"e{i}" for i in range(20)
    ]
    assert assert_chain_intact(tmp_path) == 21


def test_event_ids_are_version_4_uuids_as_uuid4_makes_them(monkeypatch: pytest.MonkeyPatch) -> None:
    import uuid

    samples = [bytes(16), b"\xff" * 16, bytes(range(16)), *(os.urandom(16) for _ in range(500))]
    for raw in samples:
        monkeypatch.setattr(os, "urandom", lambda n, raw=raw: raw)
        made = trail_module._event_id()
        monkeypatch.undo()
        assert made == str(uuid.UUID(bytes=raw, version=4))
    assert len({trail_module._event_id() for _ in range(1000)}) == 1000


async def test_a_stopped_trail_refuses_to_log_until_started_again(tmp_path: Path) -> None:
    trail = AuditTrail(storage_path=tmp_path)
    await trail.log_event(AuditEventType.DATA_ACCESS, "before stop")
    await trail.stop()
    with pytest.raises(AuditTrailError, match="trail was stopped; create a new AuditTrail"):
        await trail.log_event(AuditEventType.DATA_ACCESS, "after stop")
    assert len(lines_on_disk(tmp_path)) == 1
    # The directory stays free for the next writer.
    async with AuditTrail(storage_path=tmp_path) as successor:
        await successor.log_event(AuditEventType.DATA_ACCESS, "successor")
    await trail.start()
    await trail.log_event(AuditEventType.DATA_ACCESS, "restarted")
    await trail.stop()
    assert [e["message"] for e in lines_on_disk(tmp_path)] == [
        "before stop",
        "successor",
        "restarted",
    ]


async def test_statistics_do_not_claim_encryption(tmp_path: Path) -> None:
    async with AuditTrail(storage_path=tmp_path) as trail:
        stats = await trail.get_statistics()
    assert trail.policy.encrypt_audit_logs  # the policy may ask for it ...
    assert stats["policy"]["encryption_enabled"] is False  # ... but lines are plain JSON
