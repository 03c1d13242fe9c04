"""The package's version: one place, read by the package root and by every report."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
