"""Recording who read an audit trail (PCI DSS 10.2.1.3): the ``access_log=`` parameter.

``read_audit_log``, ``verify_audit_log``, ``compliance_report`` and
``explore`` are synchronous, while :class:`~fapilog_notebook.AuditTrail` is
asynchronous. :func:`record_access` bridges the two:

- with no event loop running in the calling thread (a script, the CLI), the
  event is written with ``asyncio.run`` and is on disk when it returns;
- with a loop running in the calling thread (a Jupyter cell, whose kernel
  runs one), that loop cannot be waited on from inside itself, so the event
  is written by a helper thread with its own short-lived loop while the
  caller waits for it; the trail's writes happen in its worker threads and
  do not need the caller's loop. The one case that does is a commit that
  another task of the same loop has claimed but not yet handed to the
  worker thread: then the event stays queued in the trail and is written as
  soon as the loop runs again, and an ``AuditWriteWarning`` says so after
  ``timeout`` seconds rather than blocking the notebook for ever.

Either way the event is recorded before the trail is read (an attempt is
recorded even when the read then fails), and a write error the trail raises
reaches the caller: an access is never left unrecorded without a word.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import threading
import warnings
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .errors import AuditWriteWarning
from .events import AuditEventType

if TYPE_CHECKING:
    from .writer import AuditTrail

__all__ = ["AccessLog", "describe_source", "os_user", "record_access"]


@runtime_checkable
class AccessLog(Protocol):
    """What an access log must offer: an ``AuditTrail`` does.

    Named here so that the readers that record their access (the verifier,
    the loader, the explorer) need not import the writer.
    """

    storage_path: Path

    async def log_event(self, *args: Any, **kwargs: Any) -> Any:
        """Append one event (``AuditTrail.log_event``)."""


#: Seconds a caller inside a running event loop waits for its access event.
WAIT_SECONDS = 30.0


def os_user() -> str:
    """The operating-system user running this process (``"unknown"`` if there is none)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):
        return "unknown"


def describe_source(source: Any) -> str | list[str]:
    """A JSON-friendly description of what is read: a path, paths, or a frame's files."""
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        if "source_file" in source.columns:
            files = sorted({str(name) for name in source["source_file"].dropna().unique()})
            return files or [f"a frame of {len(source)} events"]
        return f"a frame of {len(source)} events"
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    if isinstance(source, Iterable):
        return [
            os.fspath(item) if isinstance(item, (str, os.PathLike)) else str(item)
            for item in source
        ]
    return str(source)


def _bound(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def check_access_args(access_log: Any, user_id: Any) -> None:
    """Reject a non-trail ``access_log`` and a ``user_id`` given without one."""
    if access_log is not None and not isinstance(access_log, AccessLog):
        raise TypeError(f"access_log must be an AuditTrail, not {type(access_log).__name__}")
    if access_log is None and user_id is not None:
        raise ValueError(
            "user_id names who is recorded in the access event; it needs access_log= "
            "(to filter events by user, filter the frame)"
        )
    if user_id is not None and (not isinstance(user_id, str) or not user_id):
        raise ValueError(f"user_id must be a non-empty string, not {user_id!r}")


def record_access(
    access_log: AuditTrail | None,
    *,
    action: str,
    source: Any,
    since: Any = None,
    until: Any = None,
    user_id: str | None = None,
    timeout: float = WAIT_SECONDS,
    **extra: Any,
) -> str | None:
    """Write an ``audit_log_access`` event to ``access_log`` from synchronous code.

    Records who (``user_id``, default the OS user), what (``action`` and
    ``source``) and which range (``since``/``until``); returns the event id,
    ``None`` without a trail, and ``""`` when the event is still queued after
    ``timeout`` seconds (with an ``AuditWriteWarning``, see the module notes).
    """
    check_access_args(access_log, user_id)
    if access_log is None:
        return None
    who = user_id or os_user()
    what = describe_source(source)
    first, last = _bound(since), _bound(until)
    span = f"{first or 'the beginning'} to {last or 'the end'}"
    label = what if isinstance(what, str) else f"{len(what)} files"
    message = f"Audit log access by {who}: {action} of {label}, {span}"

    async def write() -> str:
        return await access_log.log_event(
            AuditEventType.AUDIT_LOG_ACCESS,
            message,
            user_id=who,
            component="fapilog_notebook",
            operation=action,
            source=what,
            since=first,
            until=last,
            **extra,
        )

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(write())
    return _write_beside_the_loop(write, access_log, timeout)


def _write_beside_the_loop(write: Any, trail: AuditTrail, timeout: float) -> str:
    """Run ``write()`` on a helper thread's own loop and wait up to ``timeout`` seconds."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["id"] = asyncio.run(write())
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="fapilog-notebook-access-log", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        warnings.warn(
            f"the audit_log_access event for {trail.storage_path} is not on disk after "
            f"{timeout:g} s: a write claimed by another task of this event loop holds the "
            "trail; the event stays queued and is written when the loop runs again",
            AuditWriteWarning,
            stacklevel=3,
        )
        return ""
    if "error" in outcome:
        raise outcome["error"]
    event_id: str = outcome["id"]
    return event_id
