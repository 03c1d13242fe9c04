"""Damage a copy of a trail on purpose, as an attacker with a text editor would.

Used by ``fapilog-notebook demo`` to show what the verifier reports. Lines are
edited in place and never re-sealed: the point is that the chain notices.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from . import storage
from .chain import canonical_json

__all__ = ["alter_field", "copy_trail", "delete_line"]


def copy_trail(source: Path, target: Path) -> list[Path]:
    """Copy the audit files of ``source``, with their seal and manifests, into a fresh
    ``target``; return the copies of the audit files."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    copies = []
    for _, path in storage.list_audit_files(source):
        copy = target / path.name
        shutil.copyfile(path, copy)
        copies.append(copy)
    for path in source.iterdir():
        if storage.is_own_file(path.name) and path.name != storage.LOCK_NAME:
            shutil.copyfile(path, target / path.name)
    return copies


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def alter_field(path: Path, line: int, key: str, value: Any) -> tuple[Any, Any]:
    """Set ``key`` of the event on 1-based ``line`` to ``value``, keeping its checksum.

    Returns ``(old value, new value)``.
    """
    lines = _lines(path)
    event = json.loads(lines[line - 1])
    old = event.get(key)
    event[key] = value
    lines[line - 1] = canonical_json(event).encode("ascii") + b"\n"
    path.write_bytes(b"".join(lines))
    return old, value


def delete_line(path: Path, line: int) -> bytes:
    """Remove 1-based ``line`` from ``path``; return the removed bytes."""
    lines = _lines(path)
    removed = lines.pop(line - 1)
    path.write_bytes(b"".join(lines))
    return removed
