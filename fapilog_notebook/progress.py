"""An optional progress bar over files: on in notebooks and terminals, off in CI.

tqdm is optional; without it there is simply no bar.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

__all__ = ["progress_enabled", "track"]

T = TypeVar("T")


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    try:
        ip = shell.get_ipython()
    except Exception:
        return False
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def progress_enabled(progress: bool | None) -> bool:
    """Whether to show a bar: ``progress`` if given, else only when interactive.

    Not interactive: the ``CI`` environment variable is set, or stderr is not
    a terminal outside a notebook.
    """
    if progress is not None:
        return bool(progress)
    if os.environ.get("CI"):
        return False
    if _in_notebook():
        return True
    try:
        return sys.stderr is not None and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def track(items: Iterable[T], *, total: int, desc: str, progress: bool | None) -> Iterator[T]:
    """Iterate ``items``, showing a tqdm.auto bar when :func:`progress_enabled`."""
    if total <= 1 or not progress_enabled(progress):
        yield from items
        return
    try:
        from tqdm.auto import tqdm
    except ImportError:
        yield from items
        return
    bar: Any = tqdm(items, total=total, desc=desc, unit="file", leave=False)
    try:
        yield from bar
    finally:
        bar.close()
