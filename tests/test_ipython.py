"""Top-level await in a real IPython shell, where the loop runs only during a cell."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .trail_helpers import assert_chain_intact, lines_on_disk

InteractiveShell = pytest.importorskip("IPython.core.interactiveshell").InteractiveShell


@pytest.fixture
def shell() -> Iterator[object]:
    instance = InteractiveShell.instance()
    yield instance
    instance.run_cell("trail = None")
    InteractiveShell.clear_instance()


def run(shell: object, code: str) -> object:
    result = shell.run_cell(code)  # type: ignore[attr-defined]
    result.raise_error()
    return result.result


def test_top_level_await_across_cells(shell: object, tmp_path: Path) -> None:
    run(shell, "from fapilog_notebook import AuditTrail, AuditEventType")
    run(shell, f"trail = AuditTrail(storage_path={str(tmp_path)!r})")
    for cell in range(4):
        event_id = run(shell, f"await trail.log_event(AuditEventType.DATA_ACCESS, 'cell {cell}')")
        # Between cells the loop does not run: the line must already be there.
        events = lines_on_disk(tmp_path)
        assert events[-1]["event_id"] == event_id
        assert assert_chain_intact(tmp_path) == cell + 1
    run(shell, "import asyncio")
    run(
        shell,
        "await asyncio.gather(*(trail.log_event('data_access', f'g{i}') for i in range(50)))",
    )
    assert assert_chain_intact(tmp_path) == 54
    result = run(shell, "(await trail.verify_chain_from_storage()).valid")
    assert result is True
    run(shell, "await trail.stop()")
