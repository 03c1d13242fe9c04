"""A process forked after a trail has written can use trails of its own."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest

from fapilog_notebook import AuditEventType, AuditTrail

from .trail_helpers import assert_chain_intact


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
