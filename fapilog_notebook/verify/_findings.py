"""What the verifier reports: a finding's kind, its severity, and where it is.

:class:`FindingLog` collects the findings of one verification in the order
the report shows them (file, then line, then the order they were found):
the per-line checks, the sequence ledger and the evidence checks all add to
it. :func:`findings_frame` turns findings into a DataFrame (pandas is
imported there, not at import time).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from ..scan import Source


class Severity(StrEnum):
    """How serious a finding is; a report is valid when it has no ``error``."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class FindingKind(StrEnum):
    """What the verifier can find (see the taxonomy in the design notes)."""

    CHECKSUM_MISMATCH = "checksum_mismatch"
    BROKEN_LINK = "broken_link"
    SEQUENCE_GAP = "sequence_gap"
    DUPLICATE_SEQUENCE = "duplicate_sequence"
    MALFORMED_LINE = "malformed_line"
    TRUNCATED_TAIL = "truncated_tail"
    SEAL_MISMATCH = "seal_mismatch"
    MANIFEST_MISMATCH = "manifest_mismatch"
    ANCHOR_MISMATCH = "anchor_mismatch"
    UNREADABLE_FILE = "unreadable_file"
    UNSEALED_EVENTS = "unsealed_events"
    UNCHECKED_MAC = "unchecked_mac"
    NON_CANONICAL_LINE = "non_canonical_line"
    TORN_LINE = "torn_line"
    CHAIN_RESTART = "chain_restart"
    OUT_OF_ORDER = "out_of_order"
    MISPLACED_EVENT = "misplaced_event"
    TIME_REGRESSION = "time_regression"
    FOREIGN_FILE = "foreign_file"
    CHECKPOINT_MISMATCH = "checkpoint_mismatch"
    TREE_MISMATCH = "tree_mismatch"
    SIGNATURE_INVALID = "signature_invalid"
    CERTIFICATE_INVALID = "certificate_invalid"
    UNSIGNED_EVENTS = "unsigned_events"

    @property
    def severity(self) -> Severity:
        """The severity every finding of this kind has."""
        return _SEVERITY[self]


_SEVERITY = {
    FindingKind.CHECKSUM_MISMATCH: Severity.ERROR,
    FindingKind.BROKEN_LINK: Severity.ERROR,
    FindingKind.SEQUENCE_GAP: Severity.ERROR,
    FindingKind.DUPLICATE_SEQUENCE: Severity.ERROR,
    FindingKind.MALFORMED_LINE: Severity.ERROR,
    FindingKind.TRUNCATED_TAIL: Severity.ERROR,
    FindingKind.SEAL_MISMATCH: Severity.ERROR,
    FindingKind.MANIFEST_MISMATCH: Severity.ERROR,
    FindingKind.ANCHOR_MISMATCH: Severity.ERROR,
    FindingKind.UNREADABLE_FILE: Severity.ERROR,
    FindingKind.UNSEALED_EVENTS: Severity.WARNING,
    FindingKind.UNCHECKED_MAC: Severity.WARNING,
    FindingKind.NON_CANONICAL_LINE: Severity.WARNING,
    FindingKind.TORN_LINE: Severity.WARNING,
    FindingKind.CHAIN_RESTART: Severity.WARNING,
    FindingKind.OUT_OF_ORDER: Severity.WARNING,
    FindingKind.MISPLACED_EVENT: Severity.WARNING,
    FindingKind.TIME_REGRESSION: Severity.WARNING,
    FindingKind.FOREIGN_FILE: Severity.INFO,
    FindingKind.CHECKPOINT_MISMATCH: Severity.ERROR,
    FindingKind.TREE_MISMATCH: Severity.ERROR,
    FindingKind.SIGNATURE_INVALID: Severity.ERROR,
    FindingKind.CERTIFICATE_INVALID: Severity.ERROR,
    FindingKind.UNSIGNED_EVENTS: Severity.WARNING,
}

#: The columns of ``VerificationReport.findings``, in order.
FINDING_COLUMNS = ("kind", "severity", "file", "line", "sequence_number", "event_id", "message")
SEGMENT_COLUMNS = ("first_sequence", "last_sequence", "events", "first_file", "last_file")


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: what, how serious, where (file, 1-based line), and a sentence."""

    kind: FindingKind
    severity: Severity
    file: str | None
    line: int | None
    sequence_number: int | None
    event_id: str | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with the finding's columns."""
        return {
            "kind": self.kind.value,
            "severity": self.severity.value,
            "file": self.file,
            "line": self.line,
            "sequence_number": self.sequence_number,
            "event_id": self.event_id,
            "message": self.message,
        }


#: Where an event is: (file index, -1 for the file before the range; line; event id).
_At = tuple[int, int | None, str | None]
#: A finding and where the report puts it: (file index, line, finding); the
#: file index is the number of files for what concerns the trail as a whole.
Placed = tuple[int, int, Finding]


class FindingLog:
    """The findings of one verification, each with its place in the report.

    A finding is placed by its file (in the order verified; the file before
    the range first, the trail as a whole last), its line, and the order it
    was found in: :meth:`in_order` is the report's order.
    """

    def __init__(self, source: Source) -> None:
        self.source = source
        self.names = [str(f.path) for f in source.files]
        self.entries: list[tuple[tuple[int, int, int], Finding]] = []

    def file_name(self, index: int) -> str | None:
        """The name of file ``index`` (-1: the file before the range), or None."""
        if index == -1:
            return str(self.source.predecessor) if self.source.predecessor else None
        if 0 <= index < len(self.names):
            return self.names[index]
        return None

    def where(self, at: _At) -> str:
        """Where an event is, as a message says it (``name:line``)."""
        name = self.file_name(at[0])
        short = Path(name).name if name else "?"
        if at[0] == -1:
            return f"the end of {short}, before the range"
        return f"{short}:{at[1]}" if at[1] is not None else short

    def finding(self, kind: FindingKind, at: _At, seq: int | None, message: str) -> Placed:
        """A finding about the event (or line) at ``at``, placed there."""
        finding = Finding(kind, kind.severity, self.file_name(at[0]), at[1], seq, at[2], message)
        return (at[0] if at[0] >= 0 else -1, at[1] or 0, finding)

    def add(self, kind: FindingKind, at: _At, seq: int | None, message: str) -> None:
        """Add a finding about the event (or line) at ``at``."""
        self.put(self.finding(kind, at, seq, message))

    def put(self, placed: Placed) -> None:
        """Add a placed finding, after those found before it at the same place."""
        index, line, finding = placed
        self.entries.append(((index, line, len(self.entries)), finding))

    def extend(self, placed: Iterable[Placed]) -> None:
        """Add placed findings, in order."""
        for item in placed:
            self.put(item)

    def in_order(self) -> list[Finding]:
        """The findings in the report's order."""
        return [f for _, f in sorted(self.entries, key=lambda item: item[0])]


# ----------------------------------------------------------------- frames


def findings_frame(findings: list[Finding] | tuple[Finding, ...]) -> pd.DataFrame:
    import pandas as pd

    data: dict[str, Any] = {
        "kind": pd.Series([f.kind.value for f in findings], dtype=object),
        "severity": pd.Series([f.severity.value for f in findings], dtype=object),
        "file": pd.Series([f.file for f in findings], dtype=object),
        "line": pd.array([f.line for f in findings], dtype="Int64"),
        "sequence_number": _integers([f.sequence_number for f in findings]),
        "event_id": pd.Series([f.event_id for f in findings], dtype=object),
        "message": pd.Series([f.message for f in findings], dtype=object),
    }
    return pd.DataFrame(data, columns=list(FINDING_COLUMNS))


_INT64_MAX = 2**63 - 1


def _integers(values: list[Any]) -> Any:
    """Whole numbers as a nullable ``Int64`` array, or exact Python ints (``object``)
    when one is beyond 64 bits: a hostile file can hold any integer JSON allows,
    and its findings must still be shown."""
    import pandas as pd

    if all(v is None or v is pd.NA or -_INT64_MAX - 1 <= v <= _INT64_MAX for v in values):
        return pd.array(values, dtype="Int64")
    return pd.array([None if v is pd.NA else v for v in values], dtype=object)
