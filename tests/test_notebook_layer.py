"""The notebook layer's place: only the command line and the package root import it, it never
imports the command line, and other code uses its public names only.

Read from the source with :mod:`ast`, so an import inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "fapilog_notebook"
#: Modules above the notebook layer (and the package root, which exports from it).
ABOVE = {"fapilog_notebook", "fapilog_notebook.cli", "fapilog_notebook.__main__"}
ABOVE |= {"fapilog_notebook._demo", "fapilog_notebook._tamper"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every module and ``module.name`` that ``path`` imports, as absolute dotted names."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


MODULES = {_module_name(p): _imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def _in_notebook(name: str) -> bool:
    return name == "fapilog_notebook.notebook" or name.startswith("fapilog_notebook.notebook.")


def test_the_import_reader_sees_the_layer() -> None:
    # The checks below can fail: the reader finds the imports they look for.
    assert "fapilog_notebook.notebook.LoopLagProbe" in MODULES["fapilog_notebook._demo"]
    assert "fapilog_notebook.options.load_key" in MODULES["fapilog_notebook.notebook._magics"]


def test_only_the_command_line_and_the_root_import_the_notebook_layer() -> None:
    importers = {
        module
        for module, imported in MODULES.items()
        if not _in_notebook(module) and any(_in_notebook(name) for name in imported)
    }
    assert importers <= ABOVE


def test_the_notebook_layer_never_imports_the_command_line() -> None:
    upward = {
        (module, name)
        for module, imported in MODULES.items()
        if _in_notebook(module)
        for name in imported
        if any(name == top or name.startswith(f"{top}.") for top in ABOVE - {"fapilog_notebook"})
    }
    assert upward == set()


def test_other_code_uses_the_notebook_layers_public_names_only() -> None:
    private = {
        (module, name)
        for module, imported in MODULES.items()
        if not _in_notebook(module)
        for name in imported
        if _in_notebook(name) and any(part.startswith("_") for part in name.split(".")[2:])
    }
    assert private == set()
