"""The public namespace is exactly what ``__all__`` lists, sorted, and nothing drifts."""

from __future__ import annotations

import subprocess
import sys

import fapilog_notebook

EXPECTED = {
    "Anchor",
    "AuditKeyError",
    "VerificationKey",
    "keygen",
    "AuditChainVerificationResult",
    "AuditEvent",
    "AuditEventType",
    "AuditLogLevel",
    "AuditQueueFullError",
    "AuditTrail",
    "AuditTrailError",
    "AuditTrailForkedError",
    "AuditTrailLockedError",
    "AuditWriteError",
    "AuditWriteWarning",
    "ComplianceLevel",
    "CompliancePolicy",
    "ErrorCategory",
    "ErrorContext",
    "ErrorSeverity",
    "LoopLagProbe",
    "explore",
    "load_ipython_extension",
    "ShipError",
    "ShipReport",
    "ShippedDay",
    "ship_trail",
    "ConsistencyProof",
    "InclusionProof",
    "ProofVerdict",
    "consistency_proof",
    "inclusion_proof",
    "signing_keygen",
    "verify_consistency",
    "verify_inclusion",
}


def test_all_is_sorted_and_complete() -> None:
    names = fapilog_notebook.__all__
    assert names == sorted(names)
    assert set(names) >= EXPECTED
    for name in names:
        assert getattr(fapilog_notebook, name) is not None


def test_every_public_name_is_in_all() -> None:
    public = {
        name
        for name, value in vars(fapilog_notebook).items()
        if not name.startswith("_") and not isinstance(value, type(sys))
    }
    assert public == set(fapilog_notebook.__all__)


def test_importing_the_core_stays_light() -> None:
    code = (
        "import sys, fapilog_notebook; "
        "heavy = [m for m in ('ipywidgets', 'matplotlib', 'IPython', 'tqdm') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
