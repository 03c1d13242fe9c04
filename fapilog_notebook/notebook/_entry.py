"""Notebook entry points that load their heavy dependencies only when called.

``import fapilog_notebook`` must stay light (no IPython, ipywidgets or
matplotlib); these wrappers import them on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..verify import VerificationReport
    from ..writer import AuditTrail
    from ._widgets import AuditExplorer

__all__ = ["explore", "load_ipython_extension"]


def explore(
    source: Any,
    *,
    report: VerificationReport | None = None,
    auto_display: bool = False,
    restore: bool = True,
    access_log: AuditTrail | None = None,
    user_id: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> AuditExplorer:
    """Open the audit explorer widget on ``source`` (see :func:`._widgets.explore`).

    ``source`` is a directory, a file, a list of files or a frame from
    ``read_audit_log``; ``report`` a verification already run;
    ``access_log`` a trail that records an ``audit_log_access`` event;
    ``storage_options`` go with a URL source (``s3://bucket/prefix/``, ...).
    """
    from ._widgets import explore as _explore

    return _explore(
        source,
        report=report,
        auto_display=auto_display,
        restore=restore,
        access_log=access_log,
        user_id=user_id,
        storage_options=storage_options,
    )


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext fapilog_notebook``: register the ``%audit_*`` magics (see :mod:`._magics`)."""
    from ._magics import load_ipython_extension as _load

    _load(ipython)
