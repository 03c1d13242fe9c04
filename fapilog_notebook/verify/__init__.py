"""Verifying an audit trail: every problem, located to file and line.

What other packages use is exported here (see ``__all__``); the modules
inside are private:

- ``_driver``: :func:`verify_audit_log` and the verifier that wires the parts;
- ``_lines``: the per-line checks, the batch half and the per-line half side by side;
- ``_keyring``: the key MACs are checked with;
- ``_ledger``: the sequence ledger (segments, runs, links, gaps, torn lines);
- ``_tallies``: what the lines vouch for (MACs, per-file counts, watched checksums);
- ``_evidence``: the seal and manifests beside the files, and the evidence checks;
- ``_findings``: the finding taxonomy and the findings of one verification;
- ``_report``: :class:`VerificationReport` and its text, JSON and pandas forms (its
  HTML through :mod:`fapilog_notebook._html`);
- ``_parallel``: the per-line checks in worker processes or on Dask;
- ``_tree``: the Merkle tree, checkpoint and signature check;
- ``_proofs``: offline inclusion and consistency proofs.
"""

from __future__ import annotations

from ._driver import verify_audit_log
from ._findings import FINDING_COLUMNS, Finding, FindingKind, Severity
from ._keyring import Keyring
from ._lines import (
    LineInfo,
    Routine,
    RoutineBatch,
    check_batches,
    check_file,
    recheck,
    routine_batch,
    routine_of,
)
from ._proofs import ProofVerdict, load_public_key, verify_consistency, verify_inclusion
from ._report import VerificationReport
from ._tree import CHECKPOINT_MISMATCH, TreeCheck, TreeFinding, check_trail

__all__ = [
    "CHECKPOINT_MISMATCH",
    "FINDING_COLUMNS",
    "Finding",
    "FindingKind",
    "Keyring",
    "LineInfo",
    "ProofVerdict",
    "Routine",
    "RoutineBatch",
    "Severity",
    "TreeCheck",
    "TreeFinding",
    "VerificationReport",
    "check_batches",
    "check_file",
    "check_trail",
    "load_public_key",
    "recheck",
    "routine_batch",
    "routine_of",
    "verify_audit_log",
    "verify_consistency",
    "verify_inclusion",
]
