"""The writer half of ``fapilog-notebook demo``: write a trail while measuring loop lag."""

from __future__ import annotations

import asyncio
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from . import storage
from .events import AuditEventType, AuditLogLevel
from .looplag import LagSummary, LoopLagProbe
from .trail import AuditTrail

_KINDS = [
    AuditEventType.DATA_ACCESS,
    AuditEventType.DATA_MODIFICATION,
    AuditEventType.AUTHENTICATION_FAILED,
    AuditEventType.CONFIG_CHANGED,
]


@dataclass(frozen=True)
class DemoWrite:
    """What the demo writer did and measured."""

    directory: Path
    producers: int
    events: int
    seconds: float
    lag: LagSummary
    last_sequence_number: int | None
    resumed_from: int | None
    files: list[Path]

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else float("nan")


def clear_trail(directory: Path) -> None:
    """Remove a previous demo trail: its audit files and the package's own files only."""
    if not directory.is_dir():
        return
    for entry in directory.iterdir():
        if storage.day_of(entry) is not None or storage.is_own_file(entry.name):
            entry.unlink()
    if not any(directory.iterdir()):
        shutil.rmtree(directory)


async def _produce(trail: AuditTrail, producer: int, count: int) -> None:
    for i in range(count):
        kind = _KINDS[(producer + i) % len(_KINDS)]
        level = AuditLogLevel.SECURITY if kind is AuditEventType.AUTHENTICATION_FAILED else None
        await trail.log_event(
            kind,
            f"producer {producer} event {i}",
            log_level=level or AuditLogLevel.INFO,
            user_id=f"user{producer % 7}@example.com",
            request_id=f"req-{producer}-{i}",
            resource=f"/records/{(producer * 31 + i) % 500}",
        )


async def write_demo_trail(
    directory: Path, *, producers: int = 50, per_producer: int = 100, lifetimes: int = 2
) -> DemoWrite:
    """Write ``producers * per_producer`` events over ``lifetimes`` writer restarts."""
    resumed_from: int | None = None
    last: int | None = None
    total = 0
    async with LoopLagProbe(interval=0.001) as probe:
        started = time.perf_counter()
        for lifetime in range(lifetimes):
            async with AuditTrail(storage_path=directory) as trail:
                await asyncio.gather(*(_produce(trail, p, per_producer) for p in range(producers)))
                stats = await trail.get_statistics()
                if lifetime == lifetimes - 1:
                    resumed_from = stats["resumed_from_sequence"]
                last = stats["last_sequence_number"]
                total += stats["events_written"]
        seconds = time.perf_counter() - started
    files = [path for _, path in await asyncio.to_thread(storage.list_audit_files, directory)]
    return DemoWrite(
        directory, producers, total, seconds, probe.summary(), last, resumed_from, files
    )
