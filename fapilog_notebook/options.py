"""Reading the verification options a person points at: a key and anchor files.

The command line (``--key-file``, ``--key-env``, ``--anchor``) and the
``%audit_verify`` magic read them with these same functions, so both accept
the same files and word their errors alike. A key or anchor file is small:
it is read with a size bound, never blocking on a FIFO, and a key is never
echoed in an error.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

from .chain import Anchor
from .errors import AuditKeyError, UnsafeRecordError
from .keys import VerificationKey, load_static_key
from .storage import read_bounded

__all__ = ["INPUT_LIMIT", "load_anchors", "load_key"]

#: The most bytes read from a key or anchor file (they hold a few hundred).
INPUT_LIMIT = 1024 * 1024


def _read_input(name: str, what: str) -> str:
    """The text of a small input file (a key or anchors), as a clear ``ValueError`` if it
    is not one: never blocking on a FIFO, never reading more than :data:`INPUT_LIMIT`."""
    try:
        data = read_bounded(Path(name), INPUT_LIMIT, follow_links=True)
    except UnsafeRecordError as exc:
        raise ValueError(f"{what} {name!r}: {exc}") from None
    if data is None:
        raise FileNotFoundError(errno.ENOENT, f"{what} not found", name)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{what} {name!r} is not text") from None


def _parse_json(text: str, what: str) -> Any:
    """JSON from an input, with a one-line ``ValueError`` for anything that is not
    (including nesting too deep to parse)."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise ValueError(f"{what} is not JSON (or is nested too deeply)") from None


def _key_from_text(text: str, origin: str) -> bytes | VerificationKey:
    """A verification key file's JSON, or a static key in hex."""
    if text.lstrip().startswith("{"):
        try:
            data = _parse_json(text, origin)
        except ValueError:
            raise AuditKeyError(f"{origin} is not a key (invalid JSON)") from None
        if isinstance(data, dict) and data.get("kind") == "fapilog-notebook writer key":
            raise AuditKeyError(
                f"{origin} is the writer's key state; verify with the verification key "
                "made by keygen instead"
            )
        return VerificationKey.from_data(data, origin=origin)
    return load_static_key(text, origin=origin)


def load_key(
    *, key_file: str | os.PathLike[str] | None = None, key_env: str | None = None
) -> bytes | VerificationKey | None:
    """The verification key from ``key_file`` or else the environment variable ``key_env``.

    A file holds a verification key made by ``keygen`` (JSON) or a static
    key in hex; the variable holds the same text. ``None`` when neither is
    given. Raises :class:`~fapilog_notebook.AuditKeyError` for what is not a
    key (naming where it came from, never its content), ``OSError`` for a
    file that cannot be read.
    """
    if key_file is not None:
        path = Path(key_file)
        try:
            text = _read_input(str(path), "key file")
        except ValueError as exc:
            raise AuditKeyError(str(exc)) from None
        if not text.isascii():
            raise AuditKeyError(f"key file {str(path)!r} is not a text key")
        return _key_from_text(text, f"key file {str(path)!r}")
    if key_env is not None:
        value = os.environ.get(key_env)
        if not value:
            raise AuditKeyError(f"environment variable {key_env} is not set or empty")
        return _key_from_text(value, f"environment variable {key_env}")
    return None


def load_anchors(paths: list[str]) -> list[Anchor]:
    """The anchors in each of ``paths`` (a JSON anchor, or a list of them, per file).

    Raises ``ValueError`` naming the file for one that is not JSON or holds
    something that is not an anchor, ``OSError`` for one that cannot be read.
    """
    anchors: list[Anchor] = []
    for name in paths:
        text = _read_input(name, "anchor file")
        data: Any = _parse_json(text, f"anchor file {name!r}")
        for item in data if isinstance(data, list) else [data]:
            try:
                anchors.append(Anchor.from_value(item))
            except ValueError as exc:
                raise ValueError(f"anchor file {name!r}: {exc}") from None
    return anchors
