"""A matplotlib figure that shows itself as an image in any notebook front end.

IPython draws a bare :class:`~matplotlib.figure.Figure` as an image only
after ``%matplotlib inline`` registered a formatter for it; in a fresh kernel
it prints ``<Figure size 800x300 with 1 Axes>``. :class:`NotebookFigure`
carries its own ``_repr_png_``, so a returned plot renders in JupyterLab, VS
Code and nbval with no magic first. When the inline backend is active its
formatter wins (IPython looks up registered types before ``_repr_*_``
methods), so the figure is never shown twice.
"""

from __future__ import annotations

import io

from matplotlib.figure import Figure

__all__ = ["NotebookFigure"]


class NotebookFigure(Figure):
    """A :class:`~matplotlib.figure.Figure` with a PNG rich display of its own."""

    def _repr_png_(self) -> bytes:
        """The figure as PNG bytes, cropped to what is drawn (as the inline backend does)."""
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", bbox_inches="tight", facecolor="white")
        return buffer.getvalue()
