"""Helpers for the writer's tests: write trails, read what is on disk, slow or break storage."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fapilog_notebook import AuditEventType, AuditTrail, storage
from fapilog_notebook.chain import ChainHead, check_line, links_to


class Clock:
    """A settable clock for a trail (``AuditTrail(clock=...)``)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def signed_two_days(
    store: Path, signing: Path, start: datetime, first: int, second: int
) -> None:
    """Write a signed trail in ``store``: ``first`` events on ``start``'s UTC day, then
    ``second`` on the next, by one writer (so one day-key evolution happens)."""
    clock = Clock(start)
    async with AuditTrail(storage_path=store, clock=clock, signing_key=signing) as trail:
        for i in range(first):
            await trail.log_event(AuditEventType.DATA_ACCESS, f"e{i}", user_id="u")
        clock.now = start + timedelta(days=1)
        for i in range(second):
            await trail.log_event(AuditEventType.DATA_ACCESS, f"e{i}", user_id="u")


def lines_on_disk(directory: Path) -> list[dict[str, Any]]:
    """Every event on disk, in file order, as dicts (with a ``_file`` key)."""
    events: list[dict[str, Any]] = []
    for _, path in storage.list_audit_files(directory):
        for raw in path.read_bytes().splitlines():
            obj = json.loads(raw)
            obj["_file"] = path.name
            events.append(obj)
    return events


def assert_chain_intact(directory: Path) -> int:
    """Check every line's checksum and link with the chain rule; return the count."""
    previous: ChainHead | None = None
    count = 0
    for _, path in storage.list_audit_files(directory):
        data = path.read_bytes()
        assert data.endswith(b"\n"), f"{path.name} does not end with a newline"
        for number, raw in enumerate(data.splitlines(), 1):
            check = check_line(raw)
            assert check.problem is None, f"{path.name}:{number}: {check.problem}"
            assert check.checksum_ok, f"{path.name}:{number}: checksum mismatch"
            assert check.sequence_number is not None
            assert check.checksum is not None
            assert links_to(previous, check.sequence_number, check.previous_hash), (
                f"{path.name}:{number}: seq {check.sequence_number} does not follow {previous}"
            )
            previous = ChainHead(check.sequence_number, check.checksum)
            count += 1
    return count


class SlowStorage:
    """Wraps ``storage.write_all`` to take ``delay`` seconds per write, and records threads."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, delay: float) -> None:
        self.delay = delay
        self.threads: list[int] = []
        real = storage.write_all

        def slow(fd: int, data: bytes) -> None:
            self.threads.append(threading.get_ident())
            time.sleep(self.delay)
            real(fd, data)

        monkeypatch.setattr(storage, "write_all", slow)


class FlakyStorage:
    """Makes ``storage.write_all`` fail with ``error`` until ``heal()`` is called."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, error: Callable[[], OSError]) -> None:
        self.failing = True
        self.failures = 0
        real = storage.write_all

        def flaky(fd: int, data: bytes) -> None:
            if self.failing:
                self.failures += 1
                # Write part of the data first, as a full disk does.
                real(fd, data[: len(data) // 2])
                raise error()
            real(fd, data)

        monkeypatch.setattr(storage, "write_all", flaky)

    def heal(self) -> None:
        self.failing = False
