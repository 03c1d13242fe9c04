"""The writer half of ``fapilog-notebook demo``: write a trail while measuring loop lag."""

from __future__ import annotations

import asyncio
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from . import storage
from .chain import Anchor
from .events import AuditEventType, AuditLogLevel
from .notebook import LagSummary, LoopLagProbe
from .writer import AuditTrail

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
    burst_events: int
    burst_seconds: float
    paced_events: int
    paced_rate: float
    lag: LagSummary
    last_sequence_number: int | None
    resumed_from: int | None
    files: list[Path]
    anchor: Anchor | None

    @property
    def events(self) -> int:
        return self.burst_events + self.paced_events

    @property
    def events_per_second(self) -> float:
        return self.burst_events / self.burst_seconds if self.burst_seconds else float("nan")


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


async def _paced(trail: AuditTrail, rate: float, seconds: float) -> int:
    """Log one event every ``1/rate`` s in a new task, as requests arrive at a server."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    tasks = []
    count = int(rate * seconds)
    for i in range(count):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(
            asyncio.create_task(
                trail.log_event(
                    AuditEventType.DATA_ACCESS,
                    f"request {i}",
                    user_id=f"user{i % 7}@example.com",
                    request_id=f"paced-{i}",
                )
            )
        )
    await asyncio.gather(*tasks)
    return count


async def write_demo_trail(
    directory: Path,
    *,
    producers: int = 50,
    per_producer: int = 100,
    rate: float = 1000.0,
    seconds: float = 2.0,
) -> DemoWrite:
    """Write a burst from concurrent producers, then restart and serve paced arrivals.

    The burst measures throughput; the paced part, with a 1 ms loop-lag probe,
    shows what a service feels while it logs: the loop stays responsive.
    """
    async with AuditTrail(storage_path=directory) as trail:
        started = time.perf_counter()
        await asyncio.gather(*(_produce(trail, p, per_producer) for p in range(producers)))
        burst_seconds = time.perf_counter() - started
        burst = (await trail.get_statistics())["events_written"]
    async with AuditTrail(storage_path=directory) as trail:
        stats = await trail.get_statistics()
        resumed_from = stats["resumed_from_sequence"]
        async with LoopLagProbe(interval=0.001) as probe:
            paced = await _paced(trail, rate, seconds)
        last = (await trail.get_statistics())["last_sequence_number"]
        anchor = trail.head()
    files = [path for _, path in await asyncio.to_thread(storage.list_audit_files, directory)]
    return DemoWrite(
        directory,
        producers,
        burst,
        burst_seconds,
        paced,
        rate,
        probe.summary(),
        last,
        resumed_from,
        files,
        anchor,
    )
