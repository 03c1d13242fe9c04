"""The shape of the ``fapilog_notebook.verify`` package: what it imports, and how big its parts are.

These are import contracts and size limits, checked on the source (and, for
what importing it loads, in a fresh interpreter): the verifier stays below
the notebook and loading layers, uses other packages through their public
names only, and no part of it grows back into one large class unnoticed.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import fapilog_notebook.verify as verify_package

PACKAGE = Path(verify_package.__file__).parent
MODULES = sorted(PACKAGE.glob("*.py"))

#: What the verifier may import from the rest of ``fapilog_notebook``: the
#: format core and the execution engine, plus, until the writer's result type
#: and the HTML page move below it, ``trail`` (``AuditChainVerificationResult``,
#: and ``AuditTrail`` for ``access_log=``) and ``_html`` (``to_html``, imported
#: when called); ``""`` is the package root, for ``__version__``.
ALLOWED = {
    "",
    "access",
    "gcpause",
    "errors",
    "progress",
    "chain",
    "checkpoints",
    "events",
    "execution",
    "keys",
    "merkle",
    "objstore",
    "records",
    "scan",
    "signing",
    "storage",
    "treeformat",
    "treelog",
    "version",
}

#: Classes over about 300 lines or 12 attributes, each with the reason its docstring gives.
LARGE = {
    "Ledger": "the placing rules over one set of runs stay in one class",
    "VerificationReport": "the report's public data fields",
    "LineInfo": "a flat record of a line's fields",
}


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(relative level, module, names) of every ``from ... import`` in ``path``.

    The writer named under ``if TYPE_CHECKING:`` (``AuditTrail``, for the
    ``access_log=`` annotation) is left out: it is never imported at run time.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If)
        and isinstance(node.test, ast.Name)
        and node.test.id == "TYPE_CHECKING"
        for inner in ast.walk(node)
        if isinstance(inner, ast.ImportFrom) and inner.module == "writer"
    }
    return [
        (node.level, node.module or "", [alias.name for alias in node.names])
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and id(node) not in type_only
    ]


def test_the_verifier_imports_only_the_core_below_it_and_public_names() -> None:
    outside: set[str] = set()
    for path in MODULES:
        for level, module, names in _imports(path):
            if level == 0:
                assert not module.startswith("fapilog_notebook"), (path.name, module)
                continue
            if level == 1:
                continue  # within the package: its private modules are its own
            assert level == 2, (path.name, module)
            top = module.split(".")[0]
            outside.add(top)
            assert top in ALLOWED, f"{path.name} imports fapilog_notebook.{module}"
            private = [name for name in names if name.startswith("_") and name != "__version__"]
            if module:
                assert not private, f"{path.name} imports private {private} from {module}"
    assert {"chain", "scan", "storage", "execution"} <= outside


def test_the_parallel_feeder_uses_the_verifier_through_its_methods() -> None:
    tree = ast.parse((PACKAGE / "_parallel.py").read_text(encoding="utf-8"))
    called = {
        id(node.func)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    uses = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "verifier"
    ]
    assert uses
    assert [node.attr for node in uses if id(node) not in called] == []


def test_no_class_grows_large_without_a_reason() -> None:
    for path in MODULES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            assert node.end_lineno is not None
            lines = node.end_lineno - node.lineno + 1
            attributes = {
                target.attr
                for target in ast.walk(node)
                if isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Name)
                and target.value.id == "self"
                and isinstance(target.ctx, ast.Store)
            } | {
                item.target.id
                for item in node.body
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
            }
            if lines > 300 or len(attributes) > 12:
                assert node.name in LARGE, (path.name, node.name, lines, len(attributes))
                assert lines <= 450, (node.name, lines)
                assert ast.get_docstring(node), node.name


def test_importing_the_verifier_loads_no_pandas_notebook_or_pool_modules() -> None:
    code = (
        "import sys, fapilog_notebook.verify; "
        "heavy = [m for m in ('pandas', 'IPython', 'ipywidgets', 'matplotlib', 'dask', "
        "'concurrent.futures.process', 'fapilog_notebook.verify._parallel') "
        "if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
