"""Importing the package (to write a trail or verify one) loads none of the notebook stack.

A service that only writes must not pay for pandas, numpy, IPython,
ipywidgets or matplotlib at import time: the notebook layer imports them
when a notebook name is first used. Each check runs in a fresh interpreter,
so modules imported by other tests cannot hide a regression.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("pandas", "numpy", "IPython", "ipywidgets", "matplotlib")


def _heavy_after(statement: str) -> list[str]:
    """The heavy modules in ``sys.modules`` after running ``statement`` in a new interpreter."""
    code = (
        f"{statement}\n"
        "import json, sys\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    heavy: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    return heavy


@pytest.mark.parametrize(
    "statement",
    [
        "import fapilog_notebook",
        "from fapilog_notebook import AuditTrail, verify_audit_log",
        "from fapilog_notebook import LoopLagProbe, explore, load_ipython_extension",
        "import fapilog_notebook.notebook",
    ],
)
def test_importing_loads_no_notebook_stack(statement: str) -> None:
    assert _heavy_after(statement) == []


def test_a_notebook_name_loads_its_stack_on_first_use() -> None:
    # The check above can fail: the same probe sees pandas once a plot is asked for.
    assert "pandas" in _heavy_after("from fapilog_notebook.notebook import plot_events_per_day")


def test_the_ipython_extension_is_found_on_the_package() -> None:
    # ``%load_ext fapilog_notebook`` looks up this attribute on the top-level package.
    import fapilog_notebook
    from fapilog_notebook.notebook import load_ipython_extension

    assert fapilog_notebook.load_ipython_extension is load_ipython_extension
