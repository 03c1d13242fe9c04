"""``frame.audit.<analysis>(...)``: the compliance analyses as a pandas accessor.

Registered when :mod:`fapilog_notebook.compliance` is imported; each method
calls the function of the same name with the frame (``retention`` is not
here: it reads the trail's files, not a frame).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, time, timedelta
from os import PathLike
from zoneinfo import ZoneInfo

import pandas as pd

from . import _analyses


@pd.api.extensions.register_dataframe_accessor("audit")
class AuditAccessor:
    """The compliance analyses of a frame loaded by ``read_audit_log``."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame

    def failed_logins(
        self, *, by: str = "user_id", threshold: int = 5, window: str | timedelta = "10min"
    ) -> pd.DataFrame:
        """See :func:`fapilog_notebook.compliance.failed_logins`."""
        return _analyses.failed_logins(self._frame, by=by, threshold=threshold, window=window)

    def off_hours(
        self,
        *,
        start: str | time = "08:00",
        end: str | time = "18:00",
        tz: str | ZoneInfo = "UTC",
        weekends: bool = True,
        holidays: Iterable[date | str] = (),
    ) -> pd.DataFrame:
        """See :func:`fapilog_notebook.compliance.off_hours`."""
        return _analyses.off_hours(
            self._frame, start=start, end=end, tz=tz, weekends=weekends, holidays=holidays
        )

    def sensitive_access(self, *, by: str = "user_id") -> pd.DataFrame:
        """See :func:`fapilog_notebook.compliance.sensitive_access`."""
        return _analyses.sensitive_access(self._frame, by=by)

    def bulk_access(
        self, *, by: str = "user_id", per: str | timedelta = "1h", threshold: int = 100
    ) -> pd.DataFrame:
        """See :func:`fapilog_notebook.compliance.bulk_access`."""
        return _analyses.bulk_access(self._frame, by=by, per=per, threshold=threshold)

    def first_seen(
        self,
        *,
        columns: Sequence[str] | str = ("user_id", "client_ip"),
        baseline: str | timedelta = "14D",
    ) -> pd.DataFrame:
        """See :func:`fapilog_notebook.compliance.first_seen`."""
        return _analyses.first_seen(self._frame, columns=columns, baseline=baseline)

    def privileged_actions(self) -> pd.DataFrame:
        """See :func:`fapilog_notebook.compliance.privileged_actions`."""
        return _analyses.privileged_actions(self._frame)

    def silences(self, *, min_gap: str | timedelta = "1h") -> pd.DataFrame:
        """See :func:`fapilog_notebook.compliance.silences`."""
        return _analyses.silences(self._frame, min_gap=min_gap)

    def completeness(self) -> pd.DataFrame:
        """See :func:`fapilog_notebook.compliance.completeness`."""
        return _analyses.completeness(self._frame)

    def after_termination(self, roster: pd.DataFrame | str | PathLike[str]) -> pd.DataFrame:
        """See :func:`fapilog_notebook.compliance.after_termination`."""
        return _analyses.after_termination(self._frame, roster)

    def disclosures(self, resource: str) -> pd.DataFrame:
        """See :func:`fapilog_notebook.compliance.disclosures`."""
        return _analyses.disclosures(self._frame, resource)

    def pseudonymize(
        self, *, columns: Sequence[str] | str = ("user_id", "client_ip"), key: bytes
    ) -> pd.DataFrame:
        """See :func:`fapilog_notebook.compliance.pseudonymize`."""
        return _analyses.pseudonymize(self._frame, columns=columns, key=key)
