"""No class is over about 300 lines or about 12 attributes without a written reason."""

from __future__ import annotations

import ast
from pathlib import Path

import fapilog_notebook

PACKAGE = Path(fapilog_notebook.__file__).parent
MAX_LINES = 300
MAX_ATTRIBUTES = 12

#: The classes over a limit, and the words of the reason their docstring gives.
REASONED = {
    "AuditTrail": "over the usual size on purpose",
    "Journal": "a little over the dozen on purpose",
    "Ledger": "on purpose",
    "AuditExplorer": "than a dozen on purpose",
    "VerificationReport": "many fields are the report's data",
    "LineInfo": "a flat record of fields",
    "AuditEvent": "thirty fields on purpose",
    "ErrorContext": "seventeen fields on purpose",
    "CompliancePolicy": "thirteen fields on purpose",
}


def _attributes(node: ast.ClassDef) -> set[str]:
    """What instances hold: ``self.x = ...`` anywhere in the class, and annotated fields."""
    names = {
        target.attr
        for target in ast.walk(node)
        if isinstance(target, ast.Attribute)
        and isinstance(target.ctx, ast.Store)
        and isinstance(target.value, ast.Name)
        and target.value.id == "self"
    }
    names |= {
        statement.target.id
        for statement in node.body
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)
    }
    return names


def _classes() -> list[tuple[str, ast.ClassDef]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found += [
            (str(path.relative_to(PACKAGE)), node)
            for node in ast.walk(tree)
            if isinstance(node, ast.ClassDef)
        ]
    return found


def test_a_large_class_says_why_in_its_docstring() -> None:
    large = []
    for where, node in _classes():
        assert node.end_lineno is not None
        lines = node.end_lineno - node.lineno + 1
        attributes = len(_attributes(node))
        if lines <= MAX_LINES and attributes <= MAX_ATTRIBUTES:
            continue
        large.append(node.name)
        reason = REASONED.get(node.name)
        assert reason is not None, (
            f"{where}: {node.name} has {lines} lines, {attributes} attributes"
        )
        docstring = (ast.get_docstring(node) or "").lower().replace("\n", " ")
        assert reason.lower() in " ".join(docstring.split()), f"{where}: {node.name}'s docstring"
    assert set(large) <= set(REASONED)
    assert large  # the walk saw the package's classes


def test_the_counter_counts_what_instances_hold() -> None:
    tree = ast.parse(
        "class A:\n"
        "    x: int\n"
        "    def __init__(self):\n"
        "        self.y = 1\n"
        "        self.y = 2\n"
        "        self.z: int = 3\n"
        "        other.w = 4\n"
    )
    node = tree.body[0]
    assert isinstance(node, ast.ClassDef)
    assert _attributes(node) == {"x", "y", "z"}
