"""The writer's exceptions and warning: what ``AuditTrail`` raises or warns, and why.

``AuditTrailError`` is the base; each subclass names one situation (its
docstring draws the tree). ``AuditWriteWarning`` says a fault was contained.
"""

from __future__ import annotations

from .. import storage

__all__ = [
    "AuditQueueFullError",
    "AuditTrailError",
    "AuditTrailForkedError",
    "AuditTrailLockedError",
    "AuditWriteError",
    "AuditWriteWarning",
]


class AuditTrailError(Exception):
    """Base class of the errors an ``AuditTrail`` raises.

    ::

        AuditTrailError
        ├── AuditTrailLockedError   another writer holds the directory (start)
        ├── AuditTrailForkedError   a trail used in a process forked from its writer
        ├── AuditWriteError         storage failed, on_write_error="raise"
        └── AuditQueueFullError     the pending queue is full, on_write_error="raise"
    """


class AuditTrailLockedError(AuditTrailError, storage.DirectoryLockedError):
    """Another ``AuditTrail`` (in this process or another) writes to the directory."""


class AuditTrailForkedError(AuditTrailError):
    """A trail started in a parent process was used in a forked child.

    The child shares the parent's directory lock and chain state; writing
    from both would fork the chain. The child makes a new ``AuditTrail``
    once the parent's has stopped.
    """


class AuditWriteError(AuditTrailError, OSError):
    """Storage failed; the event stays queued and is retried by the next write."""


class AuditQueueFullError(AuditTrailError):
    """The pending queue is full (storage has been failing); the event was not queued."""


class AuditWriteWarning(UserWarning):
    """Storage is failing or events were dropped; see ``get_statistics()``."""
