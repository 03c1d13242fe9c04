"""Import contracts of the ``fapilog_notebook.load`` package (and the collector pause it uses).

- ``load`` uses the format core, the execution engine and ``verify`` only
  (``writer``'s ``AuditTrail`` as a type annotation), through public names;
- inside ``load`` the private modules import downwards only:
  ``_columns`` <- ``_parse`` <- ``_parallel`` <- ``_frame`` (no cycle);
- no module outside ``load`` imports ``load``'s private modules or names;
- importing ``load`` imports no pandas, pyarrow or Dask;
- no class in ``load`` is over about 300 lines or 12 attributes.
"""

from __future__ import annotations

import ast
import gc
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import fapilog_notebook
from fapilog_notebook import errors
from fapilog_notebook.gcpause import gc_paused

PACKAGE = Path(fapilog_notebook.__file__).parent
LOAD = PACKAGE / "load"

#: What ``load`` may import at run time: the format core, execution, verify.
BELOW_LOAD = {
    "access",
    "gcpause",
    "progress",
    "chain",
    "checkpoints",
    "errors",
    "events",
    "execution",
    "keys",
    "merkle",
    "objstore",
    "records",
    "scan",
    "signing",
    "storage",
    "treelog",
    "verify",
}
#: The format core's private modules, used package-wide.
CORE_PRIVATE = {"access", "gcpause", "progress"}
#: Within ``load``: the private modules each may import (the order they stack in).
INSIDE_LOAD = {
    "_columns": set(),
    "_parse": {"_columns"},
    "_parallel": {"_columns", "_parse"},
    "_frame": {"_columns", "_parse", "_parallel"},
    "__init__": {"_columns", "_parse", "_frame"},
}


@dataclass(frozen=True)
class Imported:
    """One ``from module import names`` (or ``import module``) of a package module."""

    module: str  # absolute, e.g. "fapilog_notebook.load._columns"
    names: tuple[str, ...]
    type_only: bool  # under ``if TYPE_CHECKING:``


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[Imported]:
    """Every import in ``path`` (function-level ones too), made absolute."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = _module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    type_only_nodes: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING",):
            for child in node.body:
                type_only_nodes.update(id(n) for n in ast.walk(child))
    found: list[Imported] = []
    for node in ast.walk(tree):
        type_only = id(node) in type_only_nodes
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.append(Imported(module, tuple(a.name for a in node.names), type_only))
        elif isinstance(node, ast.Import):
            found.extend(Imported(a.name, (), type_only) for a in node.names)
    return found


def _package_modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_the_import_reader_resolves_relative_imports() -> None:
    imports = _imports(LOAD / "_parse.py")
    assert any(i.module == "fapilog_notebook.load._columns" for i in imports)
    assert any(i.module == "fapilog_notebook.scan" for i in imports)
    frame_imports = _imports(LOAD / "_frame.py")
    assert any(i.module == "fapilog_notebook.writer" and i.type_only for i in frame_imports)
    assert any(i.module == "fapilog_notebook.verify" and not i.type_only for i in frame_imports)


@pytest.mark.parametrize("path", sorted(LOAD.glob("*.py")), ids=lambda p: p.name)
def test_load_imports_only_downwards_and_only_public_names(path: Path) -> None:
    for imported in _imports(path):
        parts = imported.module.split(".")
        if parts[0] != "fapilog_notebook":
            continue
        if parts[:2] == ["fapilog_notebook", "load"]:
            inner = parts[2] if len(parts) > 2 else "__init__"
            assert inner in INSIDE_LOAD[path.stem], (path.name, imported)
            continue
        top = parts[1] if len(parts) > 1 else ""
        where = f"{path.name} imports {imported.module} {imported.names}"
        if imported.type_only and top == "writer":
            pass  # AuditTrail, for the access_log= annotation only
        else:
            assert top in BELOW_LOAD, where
        assert not top.startswith("_") or top in CORE_PRIVATE, where
        assert not any(p.startswith("_") for p in parts[2:]), where
        assert not any(n.startswith("_") for n in imported.names), where


def test_nothing_outside_load_imports_its_private_modules_or_names() -> None:
    for path in _package_modules():
        if path.is_relative_to(LOAD):
            continue
        for imported in _imports(path):
            parts = imported.module.split(".")
            if parts[:2] != ["fapilog_notebook", "load"]:
                continue
            where = f"{path.relative_to(PACKAGE)} imports {imported.module} {imported.names}"
            assert len(parts) == 2, where
            assert not any(n.startswith("_") for n in imported.names), where
            assert set(imported.names) <= set(fapilog_notebook.load.__all__), where


def test_the_old_loader_modules_are_gone() -> None:
    assert not (PACKAGE / "frame.py").exists()
    for path in _package_modules():
        for imported in _imports(path):
            assert imported.module != "fapilog_notebook.frame", path
            if imported.module == "fapilog_notebook.parallel":
                assert "load_frame" not in imported.names, path


def test_load_exports_what_other_packages_use() -> None:
    from fapilog_notebook import load

    assert load.__all__ == sorted(load.__all__)
    assert set(load.__all__) == {
        "findings_table",
        "locate_findings",
        "read_audit_log",
        "string_dtype",
    }
    assert load.read_audit_log is fapilog_notebook.read_audit_log
    assert errors.AuditLogWarning is fapilog_notebook.AuditLogWarning


def test_importing_load_imports_no_pandas_pyarrow_or_dask() -> None:
    code = (
        "import sys, fapilog_notebook.load; "
        "heavy = [m for m in ('pandas', 'numpy', 'pyarrow', 'dask', 'multiprocessing') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("path", sorted(LOAD.glob("*.py")), ids=lambda p: p.name)
def test_no_class_in_load_is_over_300_lines_or_12_attributes(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef):
            continue
        assert node.end_lineno is not None
        assert node.end_lineno - node.lineno + 1 <= 300, node.name
        attributes: set[str] = set()
        for child in ast.walk(node):
            if isinstance(child, ast.Attribute) and isinstance(child.ctx, ast.Store):
                if isinstance(child.value, ast.Name) and child.value.id == "self":
                    attributes.add(child.attr)
            elif isinstance(child, ast.AnnAssign) and isinstance(child.target, ast.Name):
                attributes.add(child.target.id)  # a dataclass or NamedTuple field
        assert len(attributes) <= 12, (node.name, sorted(attributes))


def test_gc_paused_restores_the_previous_state_even_on_error() -> None:
    was = gc.isenabled()
    try:
        gc.enable()
        seen: list[bool] = []

        def fail_inside() -> None:
            with gc_paused():
                seen.append(gc.isenabled())
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError):
            fail_inside()
        assert seen == [False]
        assert gc.isenabled()
        gc.disable()
        with gc_paused():  # already paused (nested, or by the caller): stays paused
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        if was:
            gc.enable()
        else:
            gc.disable()
