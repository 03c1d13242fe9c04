"""The writer: ``AuditTrail``, which appends the hash-chained daily files without blocking the loop.

Its parts, each in a private module:

- ``_trail``: the ``AuditTrail`` facade (public methods, lifecycle, fork guard);
- ``_factory``: the event factory (input checks; the fast plain payload and
  the pydantic model, side by side);
- ``_commit``: the group-commit queue and the shared worker threads (knows
  nothing of events);
- ``_journal``: the directory lock and day files, driving ``_head`` (the
  chain head and linking each event to it), ``_macs`` (keys), ``_records`` (seal, manifests,
  empty days) and ``_tree`` (the Merkle tree and signed checkpoints);
- ``_stats``: the counters and fault warnings; ``_read``: ``get_events`` and
  ``verify_chain``. Its exceptions and warning are in :mod:`fapilog_notebook.errors`.
"""

from ._factory import utc_now
from ._trail import AuditTrail

__all__ = ["AuditTrail", "utc_now"]
