"""What happened: the trail's counters, and the warnings that say a fault was contained."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import AuditWriteWarning
from ..events import AuditEventType, CompliancePolicy
from ._commit import GroupCommit, describe
from ._head import ChainState

__all__ = ["SECURITY_TYPES", "Counters", "Faults", "statistics"]

#: Event types counted in ``security_events``.
SECURITY_TYPES = frozenset(
    {
        AuditEventType.AUTHENTICATION_FAILED,
        AuditEventType.AUTHORIZATION_FAILED,
        AuditEventType.SECURITY_VIOLATION,
    }
)


@dataclass(slots=True)
class Counters:
    """The figures ``get_statistics()`` reports, changed under the queue's lock.

    Twelve fields, over the usual dozen-attribute budget on purpose: they are
    one concern (plain tallies of what happened), read together, and no rule
    ties one to another beyond what the code that bumps them does.
    """

    logged: int = 0
    written: int = 0
    dropped: int = 0
    write_failures: int = 0
    files_replaced: int = 0
    acknowledged_unwritten: int = 0
    batches: int = 0
    error_events: int = 0
    security_events: int = 0
    seal_failures: int = 0
    failing: bool = False  # the last write failed: the next failure is not warned about
    last_error: str | None = None


class Faults:
    """Counts a contained storage fault and warns about it (the first of a streak)."""

    __slots__ = ("_counters", "_queue", "on_write_error", "storage_path")

    def __init__(
        self,
        counters: Counters,
        queue: GroupCommit[Any],
        storage_path: Path,
        on_write_error: str,
    ) -> None:
        self._counters = counters
        self._queue = queue
        self.storage_path = storage_path
        self.on_write_error = on_write_error

    def seal_failure(self, exc: OSError) -> None:
        # The events are on disk; only the seal or manifest beside them is stale.
        counters = self._counters
        with self._queue.lock:
            counters.seal_failures += 1
            counters.last_error = f"{type(exc).__name__}: {exc}"
        warnings.warn(
            f"audit seal/manifest in {self.storage_path} not updated ({exc}); "
            "the events themselves are written",
            AuditWriteWarning,
            stacklevel=2,
        )

    def failure(self, exc: BaseException) -> None:
        """Count and remember a storage fault; warn at the first of a streak."""
        counters = self._counters
        with self._queue.lock:
            counters.write_failures += 1
            counters.last_error = describe(exc)
            first = not counters.failing
            counters.failing = True
            pending = len(self._queue.pending)
            acknowledged = counters.acknowledged_unwritten
        if first:
            if not pending:
                told = "nothing is queued; the next write, drain() or stop() retries"
            else:
                told = f"{pending} events are not on disk"
                if self.on_write_error == "contain":
                    told += (
                        f" ({acknowledged} of them already acknowledged to their callers; "
                        "with on_write_error='contain' the callers waiting for the others "
                        "return now, before their events are on disk)"
                    )
                told += (
                    "; they stay queued and are retried on the next write, drain() or "
                    "stop() (see get_statistics())"
                )
            warnings.warn(
                f"audit storage at {self.storage_path} failed ({counters.last_error}); {told}",
                AuditWriteWarning,
                stacklevel=2,
            )

    def replaced(self, what: str) -> None:
        """A day file was deleted or moved while open: count it, remember it, warn."""
        counters = self._counters
        with self._queue.lock:
            counters.files_replaced += 1
            counters.last_error = what
        warnings.warn(
            f"{what}; the chain continues in the new file, and verification reports "
            "the events that went with the old one as a gap",
            AuditWriteWarning,
            stacklevel=2,
        )


def statistics(
    counters: Counters,
    chain: ChainState,
    pending: int,
    keyed: bool,
    storage_path: Path,
    policy: CompliancePolicy,
) -> dict[str, Any]:
    """``get_statistics()``'s answer (the caller holds the queue's lock)."""
    head = chain.head
    return {
        "total_events": counters.logged,
        "error_events": counters.error_events,
        "security_events": counters.security_events,
        "queue_size": pending,
        "events_logged": counters.logged,
        "events_written": counters.written,
        "events_pending": pending,
        "events_dropped": counters.dropped,
        "events_acknowledged_unwritten": counters.acknowledged_unwritten,
        "write_failures": counters.write_failures,
        "files_replaced": counters.files_replaced,
        "batches_written": counters.batches,
        "seal_failures": counters.seal_failures,
        "keyed": keyed,
        "last_error": counters.last_error,
        "last_sequence_number": head.sequence_number if head else None,
        "last_checksum": head.checksum if head else None,
        "terminated_torn_line": chain.repaired,
        "resumed_from_sequence": (
            chain.resumed_from.sequence_number if chain.resumed_from else None
        ),
        "storage_path": str(storage_path),
        "policy": {
            "compliance_level": policy.level.value,
            "enabled": policy.enabled,
            "retention_days": policy.retention_days,
            # Lines are written as plain JSON whatever the policy asks.
            "encryption_enabled": False,
        },
    }
