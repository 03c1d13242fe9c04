"""The public namespace is exactly what ``__all__`` lists, sorted, and nothing drifts."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

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


def _owner(parts: list[str]) -> str:
    """The package a module belongs to: its first-level subpackage, or the root."""
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and _is_package(parts)) else ""


def _is_package(parts: list[str]) -> bool:
    return (Path(fapilog_notebook.__file__).parent.joinpath(*parts[1:]) / "__init__.py").exists()


def test_no_module_imports_another_packages_private_modules_or_names() -> None:
    root = Path(fapilog_notebook.__file__).parent
    crossings = 0
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root.parent).with_suffix("")
        parts = list(relative.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        package_parts = parts if path.name == "__init__.py" else parts[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                base = package_parts[: len(package_parts) - (node.level - 1)]
                target = base + (node.module.split(".") if node.module else [])
            elif node.module and node.module.split(".")[0] == "fapilog_notebook":
                target = node.module.split(".")
            else:
                continue
            names = [alias.name for alias in node.names]
            if not node.module:  # "from . import x": x may be a module
                continue
            if _owner(target) == _owner(parts):
                continue
            crossings += 1
            where = f"{relative} imports {'.'.join(target)}: {names}"
            assert not any(p.startswith("_") for p in target[1:]), where
            assert not any(n.startswith("_") and n != "__version__" for n in names), where
    assert crossings > 50  # the walk saw the package's imports
