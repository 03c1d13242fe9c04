"""Comparing verification reports made at different moments."""

from __future__ import annotations

from typing import Any

from fapilog_notebook import VerificationReport


def comparable(report: VerificationReport) -> dict[str, Any]:
    """``report.to_dict()`` without ``verified_at``, which differs between two runs."""
    data = report.to_dict()
    del data["verified_at"]
    return data
