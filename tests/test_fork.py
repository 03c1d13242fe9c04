"""A process forked after a trail has written can use trails of its own."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest

from fapilog_notebook import (
    AuditEventType,
    AuditTrail,
    AuditTrailForkedError,
    AuditTrailLockedError,
)

from .trail_helpers import assert_chain_intact, lines_on_disk


async def _log_one(directory: Path) -> None:
    async with AuditTrail(storage_path=directory) as trail:
        await trail.log_event(AuditEventType.DATA_ACCESS, f"from process {os.getpid()}")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_forked_child_writes_with_threads_of_its_own(tmp_path: Path) -> None:
    asyncio.run(_log_one(tmp_path / "parent"))  # the parent's worker threads now exist
    pid = os.fork()
    if pid == 0:  # the child: exit 0 once its event is on disk
        code = 1
        try:
            asyncio.run(asyncio.wait_for(_log_one(tmp_path / "child"), timeout=20))
            code = 0
        finally:
            sys.stdout.flush()
            os._exit(code)
    deadline = time.monotonic() + 30
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the forked child never got its event written")
        time.sleep(0.05)
    assert os.waitstatus_to_exitcode(status) == 0
    assert assert_chain_intact(tmp_path / "child") == 1
    assert assert_chain_intact(tmp_path / "parent") == 1


def _wait_for_child(pid: int, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the forked child did not finish")
        time.sleep(0.05)


def _child_of_a_running_trail(trail: AuditTrail, directory: Path, go: int, report: int) -> None:
    """The forked child's checks; each failure writes a line to ``report``."""

    def fail(text: str) -> None:
        os.write(report, text.encode() + b"\n")

    async def refused() -> None:
        try:
            await trail.log_event(AuditEventType.DATA_ACCESS, "from the child")
        except AuditTrailForkedError as exc:
            if str(os.getppid()) not in str(exc) or "new AuditTrail" not in str(exc):
                fail(f"unclear error: {exc}")
        else:
            fail("the child wrote through the parent's trail")
        await trail.stop()  # what a worker's shutdown does: must not free the parent's lock
        try:
            async with AuditTrail(storage_path=directory):
                fail("a second writer started while the parent writes")
        except AuditTrailLockedError:
            pass

    async def own_trail() -> None:
        async with AuditTrail(storage_path=directory) as mine:
            await mine.log_event(AuditEventType.DATA_ACCESS, "the child's own trail")

    asyncio.run(asyncio.wait_for(refused(), timeout=20))
    os.write(report, b".")  # checked: the parent may go on
    os.read(go, 1)  # the parent has stopped its trail
    asyncio.run(asyncio.wait_for(own_trail(), timeout=20))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_child_forked_from_a_running_trail_refuses_to_write_and_keeps_the_lock(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "trail"
    trail = AuditTrail(storage_path=directory)
    asyncio.run(trail.log_event(AuditEventType.DATA_ACCESS, "before the fork"))
    go_read, go_write = os.pipe()
    report_read, report_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(go_write)
            os.close(report_read)
            _child_of_a_running_trail(trail, directory, go_read, report_write)
            code = 0
        finally:
            os._exit(code)
    os.close(go_read)
    os.close(report_write)
    checked = b""
    while not checked.endswith(b".") and (chunk := os.read(report_read, 4096)):
        checked += chunk  # the child has tried to write and stopped its copy
    # The parent still holds the directory and writes on.
    with pytest.raises(AuditTrailLockedError):
        asyncio.run(AuditTrail(storage_path=directory).start())

    async def write_on() -> None:
        await trail.log_event(AuditEventType.DATA_ACCESS, "after the fork")
        await trail.stop()

    asyncio.run(write_on())
    os.write(go_write, b"x")
    code = _wait_for_child(pid)
    problems = (checked + os.read(report_read, 65536)).decode()
    os.close(go_write)
    os.close(report_read)
    assert problems == "."
    assert code == 0
    assert assert_chain_intact(directory) == 3
    messages = [e["message"] for e in lines_on_disk(directory)]
    assert messages == ["before the fork", "after the fork", "the child's own trail"]
