"""The verification report and its presentations: text, HTML, JSON and pandas frames.

:class:`VerificationReport` holds the verdict, counts, segments and findings
as plain data; its presentations are built from it on demand: the text
summary (:meth:`~VerificationReport.format_text`), JSON, the ``segments``
and ``findings`` DataFrames, built lazily (pandas is imported then, not
before), and the HTML, the notebook's (``_repr_html_``) and a standalone page
(:meth:`~VerificationReport.to_html`), both built by :mod:`fapilog_notebook._html`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..chain import Anchor
from ..events import AuditChainVerificationResult
from ._findings import Finding, Severity, _integers, findings_frame

if TYPE_CHECKING:
    import pandas as pd


__all__ = ["SEGMENT_COLUMNS", "VerificationReport"]

#: The columns of ``VerificationReport.segments``, in order.
SEGMENT_COLUMNS = ("first_sequence", "last_sequence", "events", "first_file", "last_file")


def _segments_frame(rows: tuple[dict[str, Any], ...]) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame(rows, columns=list(SEGMENT_COLUMNS))
    for column in ("first_sequence", "last_sequence", "events"):
        frame[column] = _integers(list(frame[column]))
    return frame


def _printable(text: str) -> str:
    """Escape control characters so hostile content cannot drive a terminal."""
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
    )


def _now_text() -> str:
    """The current UTC time to the second, as an ISO 8601 string (when a report was made)."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _tool_version() -> str:
    """This package's version, recorded in every report."""
    from ..version import __version__

    return __version__


@dataclass(frozen=True, eq=False)
class VerificationReport:
    """What :func:`verify_audit_log` found: the verdict, counts, segments, findings.

    ``valid`` is True when no finding has ``error`` severity. ``head`` is the
    last sequence number of the last segment and its checksum (where the next
    event links to). ``segments`` has one row per chain segment; ``findings``
    one row per problem, with :data:`FINDING_COLUMNS`. ``checks_skipped``
    says, a sentence each, which checks could not run (no seal, a seal outside
    the files verified...), so a VALID verdict is never read for more than it is.

    Its many fields are the report's data (public, frozen, what ``to_dict``
    gives); it holds no verifier state, and its presentations only read them.
    """

    source: str
    valid: bool
    events_checked: int
    files_checked: int
    first_sequence: int | None
    last_sequence: int | None
    head: Anchor | None
    segment_rows: tuple[dict[str, Any], ...] = ()
    finding_list: tuple[Finding, ...] = ()
    key_given: bool = False
    macs_checked: int = 0
    macs_unchecked: int = 0
    mac_days: dict[str, int] = field(default_factory=dict)
    sealed: bool = False
    manifests_checked: int = 0
    anchors_checked: int = 0
    checks_skipped: tuple[str, ...] = ()
    verified_at: str = field(default_factory=_now_text)
    tool_version: str = field(default_factory=_tool_version)
    checkpoints_checked: int = 0
    signatures_checked: int = 0

    @property
    def mac_status(self) -> str:
        """One sentence on the MACs: checked (with which keys), not checked, or none."""
        if self.macs_unchecked:
            return (
                f"{self.macs_unchecked} keyed events: MACs NOT checked (no key given); "
                "links, sequence and structure were checked"
            )
        if not self.macs_checked:
            return "no keyed events" + (" (a key was given)" if self.key_given else "")
        keys = ", ".join(
            f"{label} key ({count})" if label == "static" else f"{label} ({count})"
            for label, count in self.mac_days.items()
        )
        return f"{self.macs_checked} MACs checked with: {keys}"

    @cached_property
    def segments(self) -> pd.DataFrame:
        """One row per chain segment: first/last sequence, events, first/last file."""
        return _segments_frame(self.segment_rows)

    @cached_property
    def findings(self) -> pd.DataFrame:
        """One row per finding, with the fixed :data:`FINDING_COLUMNS`."""
        return findings_frame(self.finding_list)

    @property
    def counts(self) -> dict[str, int]:
        """Number of findings per severity (``error``, ``warning``, ``info``)."""
        counts = {s.value: 0 for s in Severity}
        for finding in self.finding_list:
            counts[finding.severity.value] += 1
        return counts

    @property
    def verdict(self) -> str:
        """``VALID`` or ``INVALID``."""
        return "VALID" if self.valid else "INVALID"

    def summary(self) -> str:
        """A short plain-text verdict: counts, sequence range, segments, head."""
        counts = self.counts
        kinds: dict[str, int] = {}
        for finding in self.finding_list:
            kinds[finding.kind.value] = kinds.get(finding.kind.value, 0) + 1
        lines = [
            f"{self.verdict}: {_printable(self.source)}",
            f"  {self.events_checked} events in {self.files_checked} "
            f"file{'s' if self.files_checked != 1 else ''}, "
            f"{len(self.segment_rows)} chain segment{'s' if len(self.segment_rows) != 1 else ''}"
            + (
                f", sequences {self.first_sequence}..{self.last_sequence}"
                if self.first_sequence is not None
                else ""
            ),
            f"  findings: {counts['error']} errors, {counts['warning']} warnings, "
            f"{counts['info']} info"
            + (
                " (" + ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())) + ")"
                if kinds
                else ""
            ),
        ]
        lines.append(f"  MACs: {self.mac_status}")
        extras = []
        if self.sealed:
            extras.append("sealed head checked")
        if self.manifests_checked:
            extras.append(f"{self.manifests_checked} day manifests checked")
        if self.anchors_checked:
            extras.append(f"{self.anchors_checked} anchors checked")
        if self.checkpoints_checked:
            extras.append(f"{self.checkpoints_checked} tree checkpoints checked")
        if self.signatures_checked:
            extras.append(f"{self.signatures_checked} checkpoint signatures checked")
        if extras:
            lines.append("  " + ", ".join(extras))
        lines.extend(f"  not checked: {note}" for note in self.checks_skipped)
        if self.head is not None:
            lines.append(
                f"  head: sequence {self.head.sequence_number}, checksum {self.head.checksum}"
                + (f", at {self.head.time}" if self.head.time else "")
            )
        return "\n".join(lines)

    def format_text(self, *, limit: int | None = 100) -> str:
        """The summary and the findings, one per line (at most ``limit``), as plain text."""
        text = [self.summary()]
        shown = self.finding_list if limit is None else self.finding_list[:limit]
        for finding in shown:
            where = Path(finding.file).name if finding.file else "-"
            if finding.line is not None:
                where += f":{finding.line}"
            seq = f" seq {finding.sequence_number}" if finding.sequence_number is not None else ""
            text.append(
                _printable(
                    f"  {finding.severity.value.upper():7} {finding.kind.value} {where}{seq}: "
                    f"{finding.message}"
                )
            )
        if len(self.finding_list) > len(shown):
            text.append(
                f"  ... and {len(self.finding_list) - len(shown)} more findings "
                "(see .findings or .to_json())"
            )
        return "\n".join(text)

    def __str__(self) -> str:
        return self.format_text()

    def __repr__(self) -> str:
        return (
            f"<VerificationReport {self.verdict} events={self.events_checked} "
            f"files={self.files_checked} findings={len(self.finding_list)}>"
        )

    def to_dict(self) -> dict[str, Any]:
        """The whole report as JSON-ready data."""
        return {
            "source": self.source,
            "verified_at": self.verified_at,
            "tool_version": self.tool_version,
            "valid": self.valid,
            "events_checked": self.events_checked,
            "files_checked": self.files_checked,
            "first_sequence": self.first_sequence,
            "last_sequence": self.last_sequence,
            "head": None if self.head is None else self.head.to_dict(),
            "macs": {
                "key_given": self.key_given,
                "checked": self.macs_checked,
                "unchecked": self.macs_unchecked,
                "keys": dict(self.mac_days),
                "status": self.mac_status,
            },
            "sealed_head_checked": self.sealed,
            "manifests_checked": self.manifests_checked,
            "anchors_checked": self.anchors_checked,
            "checks_skipped": list(self.checks_skipped),
            "checkpoints_checked": self.checkpoints_checked,
            "signatures_checked": self.signatures_checked,
            "counts": self.counts,
            "segments": [dict(row) for row in self.segment_rows],
            "findings": [f.to_dict() for f in self.finding_list],
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """:meth:`to_dict` as a JSON string."""
        return json.dumps(self.to_dict(), indent=indent)

    def to_html(
        self, path: str | os.PathLike[str] | None = None, *, title: str | None = None
    ) -> str:
        """The report as a standalone, printable HTML page; written to ``path`` when given.

        The page has inline CSS only (it opens offline), the verdict first,
        the source as given, the verification time and tool version, and
        every finding in file-and-line order with its full message.
        Returns the HTML.
        """
        from ._html import report_page

        page = report_page(self, title=title)
        if path is not None:
            Path(path).write_text(page, encoding="utf-8")
        return page

    def _repr_html_(self) -> str:
        """The report as a notebook shows it (:func:`fapilog_notebook._html.report_fragment`)."""
        from ._html import report_fragment

        return report_fragment(self)

    def compat_result(self) -> AuditChainVerificationResult:
        """fapilog's four-field result: the first error finding, if any."""
        first = next((f for f in self.finding_list if f.severity is Severity.ERROR), None)
        if first is None:
            return AuditChainVerificationResult(True, self.events_checked)
        where = Path(first.file).name if first.file else "?"
        if first.line is not None:
            where += f":{first.line}"
        return AuditChainVerificationResult(
            False,
            self.events_checked,
            first.sequence_number,
            f"{first.kind.value} at {where}: {first.message}",
        )
