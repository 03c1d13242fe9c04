"""Small trails for the notebook-tool tests, written with the real writer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fapilog_notebook import AuditTrail

START = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
TYPES = ("data_access", "data_modification", "authentication_failed", "config_changed")


def backdated_clock(start: datetime, step: timedelta) -> Callable[[], datetime]:
    """A clock that returns ``start``, then ``start + step``, and so on."""
    moments = iter(start + step * n for n in range(10**9))
    return lambda: next(moments)


async def write_trail_async(directory: Path, *, days: int = 3, per_day: int = 24) -> int:
    """Write ``days * per_day`` events spread evenly over ``days`` UTC days."""
    step = timedelta(hours=18) / per_day
    total = days * per_day
    moments = [START + timedelta(days=n // per_day) + step * (n % per_day) for n in range(total)]
    clock_values = iter(moments)
    async with AuditTrail(storage_path=directory, clock=lambda: next(clock_values)) as trail:
        for n in range(total):
            await trail.log_event(
                TYPES[n % len(TYPES)],
                f"event {n} on /records/{n % 5}",
                log_level="security"
                if TYPES[n % len(TYPES)] == "authentication_failed"
                else "info",
                user_id=f"user{n % 3}@example.com",
                component="api" if n % 2 else "db",
            )
    return total


def write_trail(directory: Path, *, days: int = 3, per_day: int = 24) -> int:
    """Synchronous :func:`write_trail_async` for tests without a running loop."""
    return asyncio.run(write_trail_async(directory, days=days, per_day=per_day))


def delete_line(path: Path, number: int) -> None:
    """Remove line ``number`` (1-based) from ``path``."""
    lines = path.read_bytes().splitlines(keepends=True)
    del lines[number - 1]
    path.write_bytes(b"".join(lines))


def edit_line(path: Path, number: int, old: bytes, new: bytes) -> None:
    """Replace ``old`` with ``new`` in line ``number`` (1-based) of ``path``."""
    lines = path.read_bytes().splitlines(keepends=True)
    assert old in lines[number - 1]
    lines[number - 1] = lines[number - 1].replace(old, new, 1)
    path.write_bytes(b"".join(lines))
