"""The package's import graph has no cycle (imports for type checking aside)."""

from __future__ import annotations

import grimp


def test_no_module_imports_one_that_imports_it_back() -> None:
    graph = grimp.build_graph("fapilog_notebook", exclude_type_checking_imports=True)
    cycles = sorted(
        (importer, imported)
        for importer in graph.modules
        for imported in graph.find_modules_directly_imported_by(importer)
        if imported.startswith("fapilog_notebook.")
        and importer.startswith("fapilog_notebook.")
        and imported != importer
        and graph.chain_exists(importer=imported, imported=importer)
    )
    assert cycles == []
    assert len(graph.modules) > 60  # the graph holds the package's modules
