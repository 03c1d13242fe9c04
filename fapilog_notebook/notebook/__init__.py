"""The notebook layer: the explorer widget, plots, magics and the event-loop lag probe.

It sits above every other feature package (only the command line is
higher), so it may use ``verify``, ``load``, ``compliance`` and the core,
and nothing below imports it. The modules inside are private; the names
here are what the rest of the package and users may import.

Importing this package stays light, because ``import fapilog_notebook``
imports it: :func:`explore`, :func:`load_ipython_extension` and
:class:`LoopLagProbe` come from modules that need only the standard
library, and every name that needs pandas, numpy, ipywidgets, IPython or
matplotlib (the explorer, the plots, the magics) is imported on first
access (PEP 562), together with its dependencies.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._entry import explore, load_ipython_extension
from ._looplag import LagSummary, LoopLagProbe, percentile

if TYPE_CHECKING:
    from ._figure import NotebookFigure
    from ._index import TextIndex
    from ._magics import TAIL_LEADING, AuditMagics, tail_events
    from ._plots import (
        SEVERITY_COLORS,
        events_per_day,
        plot_events_per_day,
        plot_events_per_hour,
        plot_lag_distributions,
    )
    from ._table import PAGE_SIZE
    from ._widgets import AuditExplorer

__all__ = [
    "PAGE_SIZE",
    "SEVERITY_COLORS",
    "TAIL_LEADING",
    "AuditExplorer",
    "AuditMagics",
    "LagSummary",
    "LoopLagProbe",
    "NotebookFigure",
    "TextIndex",
    "events_per_day",
    "explore",
    "load_ipython_extension",
    "percentile",
    "plot_events_per_day",
    "plot_events_per_hour",
    "plot_lag_distributions",
    "tail_events",
]

#: The names imported on first access, and the private module each comes from.
_LAZY = {
    "PAGE_SIZE": "._table",
    "AuditExplorer": "._widgets",
    "TextIndex": "._index",
    "SEVERITY_COLORS": "._plots",
    "events_per_day": "._plots",
    "plot_events_per_day": "._plots",
    "plot_events_per_hour": "._plots",
    "plot_lag_distributions": "._plots",
    "TAIL_LEADING": "._magics",
    "AuditMagics": "._magics",
    "tail_events": "._magics",
    "NotebookFigure": "._figure",
}


def __getattr__(name: str) -> Any:
    """Import a heavy name on first access (``from fapilog_notebook.notebook import ...``)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
