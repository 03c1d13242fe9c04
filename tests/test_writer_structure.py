"""The writer package's shape: what it exports, what it imports, and how big its parts are."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import fapilog_notebook
from fapilog_notebook import errors, writer
from fapilog_notebook.writer import _commit, _factory

PACKAGE = Path(fapilog_notebook.__file__).parent
WRITER = PACKAGE / "writer"
#: The format core the writer builds on (it may also use verify and access, lazily).
FORMAT_CORE = {
    "errors",
    "events",
    "chain",
    "records",
    "keys",
    "storage",
    "checkpoints",
    "signing",
    "treelog",
    "merkle",
}
LAZY = {"verify", "access"}


def _imports(tree: ast.Module, *, top_level_only: bool) -> Iterator[tuple[str, int, list[str]]]:
    """(module as written, relative level, names) for each import in ``tree``."""
    nodes: list[ast.AST] = list(tree.body) if top_level_only else list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            yield node.module or "", node.level, [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, 0, []


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_the_writer_exports_a_sorted_all_that_resolves() -> None:
    assert writer.__all__ == sorted(writer.__all__)
    for name in writer.__all__:
        assert getattr(writer, name) is not None
    assert fapilog_notebook.AuditTrail is writer.AuditTrail
    assert fapilog_notebook.AuditWriteWarning is errors.AuditWriteWarning


def test_the_writer_imports_only_the_format_core_at_import_time() -> None:
    for path in sorted(WRITER.glob("*.py")):
        for module, level, names in _imports(_parse(path), top_level_only=True):
            if level == 1 or (level == 0 and not module.startswith("fapilog_notebook")):
                continue  # its own package, the standard library, pydantic
            assert level == 2, f"{path.name}: absolute import of {module} inside the package"
            used = {module} if module else set(names)
            assert used <= FORMAT_CORE, f"{path.name} imports {used - FORMAT_CORE} at import time"
        for module, level, names in _imports(_parse(path), top_level_only=False):
            if level == 2:
                used = {module} if module else set(names)
                assert used <= FORMAT_CORE | LAZY, f"{path.name} imports {used}"


def test_the_commit_queue_knows_nothing_of_events() -> None:
    tree = _parse(WRITER / "_commit.py")
    assert [m for m, level, _ in _imports(tree, top_level_only=False) if level] == []


def test_no_module_outside_the_writer_uses_its_private_modules_or_names() -> None:
    for path in sorted(PACKAGE.rglob("*.py")):
        if WRITER in path.parents:
            continue
        for module, _, names in _imports(_parse(path), top_level_only=False):
            if module.split(".")[-1] == "writer" or module.endswith("fapilog_notebook.writer"):
                private = [name for name in names if name.startswith("_")]
                assert private == [], f"{path} imports {private} from the writer"
            assert "writer._" not in module, f"{path} imports {module}"


def test_the_verifier_does_not_import_the_writer_at_run_time() -> None:
    verify = PACKAGE / "verify"
    paths = sorted(verify.glob("*.py")) if verify.is_dir() else [PACKAGE / "verify.py"]
    for path in paths:
        tree = _parse(path)
        checking_only: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                checking_only.update(id(child) for child in ast.walk(node))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and id(node) not in checking_only:
                assert "writer" not in (node.module or ""), f"{path} imports {node.module}"
                assert "trail" not in (node.module or ""), f"{path} imports {node.module}"


def test_writer_classes_are_small_or_say_why() -> None:
    for path in sorted(WRITER.glob("*.py")):
        for node in ast.walk(_parse(path)):
            if not isinstance(node, ast.ClassDef):
                continue
            lines = node.end_lineno - node.lineno + 1  # type: ignore[operator]
            attributes = {
                target.attr
                for target in ast.walk(node)
                if isinstance(target, ast.Attribute)
                and isinstance(target.ctx, ast.Store)
                and isinstance(target.value, ast.Name)
                and target.value.id == "self"
            } | {
                item.target.id
                for item in node.body
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
            }
            if lines > 300 or len(attributes) > 12:
                reason = ast.get_docstring(node) or ""
                assert "on purpose" in reason, (
                    f"{path.name}:{node.name}: {lines} lines, {len(attributes)} attributes "
                    "and no reason in its docstring"
                )


def test_the_fast_and_slow_payload_halves_name_each_other_and_their_test() -> None:
    pin = "test_events_built_without_the_model_are_byte_identical_to_the_models"
    fast, slow = _factory._plain_payload.__doc__ or "", _factory.EventFactory.model_event.__doc__
    assert "model_event" in fast
    assert pin in fast
    assert "_plain_payload" in (slow or "")
    assert pin in (slow or "")
    tests = Path(__file__).with_name("test_trail.py").read_text(encoding="utf-8")
    assert f"def {pin}(" in tests


def test_every_trail_in_a_process_shares_one_worker_pool() -> None:
    first = _commit.SHARED_THREADS.executor()
    assert _commit.SHARED_THREADS.executor() is first
    assert _commit._workers() is first
    assert first._thread_name_prefix == "fapilog-notebook"


def test_a_permission_error_is_classified_as_io_as_it_always_was() -> None:
    from fapilog_notebook import ErrorCategory

    # PermissionError is an OSError: the classifier's OSError branch takes it
    # (a later PermissionError branch could never run and is gone).
    assert _factory._classify(PermissionError("denied")) is ErrorCategory.IO
    assert _factory._context_of(PermissionError("denied")).category is ErrorCategory.IO
