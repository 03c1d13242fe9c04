"""Real second processes: the directory lock, and a writer killed with SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from fapilog_notebook import AuditEventType, AuditTrail, AuditTrailLockedError

from .trail_helpers import lines_on_disk

HOLDER = textwrap.dedent(
    """
    import asyncio, sys
    from fapilog_notebook import AuditTrail, AuditEventType

    async def main():
        async with AuditTrail(storage_path=sys.argv[1]) as trail:
            await trail.log_event(AuditEventType.SYSTEM_STARTUP, "holder")
            print("ready", flush=True)
            await asyncio.to_thread(sys.stdin.readline)

    asyncio.run(main())
    """
)

WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from fapilog_notebook import AuditTrail, AuditEventType

    async def producer(trail, n):
        i = 0
        while True:
            event_id = await trail.log_event(
                AuditEventType.DATA_ACCESS, f"p{n} e{i}", pad="x" * 400
            )
            print(event_id, flush=True)  # acknowledged: on disk
            i += 1

    async def main():
        async with AuditTrail(storage_path=sys.argv[1]) as trail:
            await asyncio.gather(*(producer(trail, n) for n in range(20)))

    asyncio.run(main())
    """
)


def _spawn(script: str, directory: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, str(directory)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


async def test_a_writer_in_another_process_holds_the_directory(tmp_path: Path) -> None:
    holder = _spawn(HOLDER, tmp_path)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ready"
        trail = AuditTrail(storage_path=tmp_path)
        with pytest.raises(AuditTrailLockedError, match=str(tmp_path)) as caught:
            await trail.start()
        assert f"process {holder.pid}" in str(caught.value)
    finally:
        holder.communicate("\n", timeout=30)
    assert holder.returncode == 0
    async with AuditTrail(storage_path=tmp_path) as trail:  # released on exit
        await trail.log_event(AuditEventType.DATA_ACCESS, "after the holder")
    assert [e["message"] for e in lines_on_disk(tmp_path)] == ["holder", "after the holder"]


@pytest.mark.parametrize("round_", range(3))
async def test_sigkill_mid_burst_then_restart_keeps_every_acknowledged_event(
    tmp_path: Path, round_: int
) -> None:
    writer = _spawn(WRITER, tmp_path)
    assert writer.stdout is not None
    acknowledged: list[str] = []
    deadline = time.monotonic() + 30
    target = 300 + 150 * round_
    while len(acknowledged) < target and time.monotonic() < deadline:
        acknowledged.append(writer.stdout.readline().strip())
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(timeout=30)
    # Whatever was printed after our last read was acknowledged too.
    acknowledged += [line.strip() for line in writer.stdout.read().splitlines() if line.strip()]
    writer.stdout.close()
    assert len(acknowledged) >= target

    async with AuditTrail(storage_path=tmp_path) as trail:
        await trail.log_event(AuditEventType.SYSTEM_STARTUP, "restarted")
        result = await trail.verify_chain_from_storage()
    on_disk: list[str] = []
    for _, raw in _all_lines(tmp_path):
        try:
            on_disk.append(json.loads(raw)["event_id"])
        except ValueError:
            continue  # a fragment cut by the kill, terminated at restart
    assert set(acknowledged) <= set(on_disk)
    assert result.valid, result


def _all_lines(directory: Path) -> list[tuple[Path, bytes]]:
    return [
        (path, raw)
        for path in sorted(directory.glob("audit_*.jsonl"))
        for raw in path.read_bytes().splitlines()
    ]
