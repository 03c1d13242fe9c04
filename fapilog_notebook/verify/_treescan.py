"""Recompute a trail's Merkle tree from its event lines: the tree check's one pass.

:func:`scan_tree` reads the leaves (:func:`.treeformat.leaf_blocks`),
recomputes the RFC 9162 tree, compares every node with the stored tree file
as the nodes come, and keeps the root at each size asked for. That is all
the per-event work of the tree check, so it is what :mod:`._treeproc` runs in
a child interpreter: this module imports only the standard library and the
format core's :mod:`.treeformat` and :mod:`.merkle` (no pydantic, no
cryptography), and its inputs and its outcome (:class:`TreeScan`) are plain
data: paths, sizes, hashes. What the outcome means is :mod:`._tree`'s.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..merkle import EMPTY_ROOT, HASH_SIZE, MerkleTree
from ..treeformat import leaf_blocks, open_tree_file, size_for_nodes

__all__ = ["TreeScan", "child_main", "scan_tree"]


@dataclass(frozen=True)
class TreeScan:
    """What one pass over the leaves found."""

    leaves: int
    #: The root hash at each size asked for that the trail reaches.
    roots: dict[int, bytes]
    #: ``(file, line number)`` of the last leaf, if any.
    last: tuple[str, int] | None
    #: ``(file, line number, leaves before it)`` of the first leaf whose stored
    #: nodes differ from the recomputed ones, if any.
    mismatch: tuple[str, int, int] | None
    #: Why the stored tree could not be read, if it could not (None: read, or absent).
    unreadable: str | None
    #: Why the pass stopped before the trail's end (an audit file could not be read).
    stopped: str | None = None

    def to_json(self) -> str:
        """The outcome as JSON (the child's answer)."""
        return json.dumps(
            {
                "leaves": self.leaves,
                "roots": {str(k): base64.b64encode(v).decode() for k, v in self.roots.items()},
                "last": self.last,
                "mismatch": self.mismatch,
                "unreadable": self.unreadable,
                "stopped": self.stopped,
            }
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> TreeScan:
        """Read :meth:`to_json`'s output back.

        :raises ValueError: it is not such an outcome.
        """
        try:
            data = json.loads(text)
            last, diff = data["last"], data["mismatch"]
            unreadable, stopped = data["unreadable"], data["stopped"]
            return cls(
                int(data["leaves"]),
                {int(k): base64.b64decode(v, validate=True) for k, v in data["roots"].items()},
                None if last is None else (str(last[0]), int(last[1])),
                None if diff is None else (str(diff[0]), int(diff[1]), int(diff[2])),
                None if unreadable is None else str(unreadable),
                None if stopped is None else str(stopped),
            )
        except (KeyError, TypeError, IndexError, AttributeError) as exc:
            raise ValueError(f"not a tree scan: {exc!r}") from None


class _Stored:
    """Compares the recomputed nodes, as they come, with the stored tree file."""

    def __init__(self, path: Path) -> None:
        self.fd: int | None = None
        self.at = 0
        self.unreadable: str | None = None
        self.mismatch: tuple[str, int, int] | None = None
        try:
            self.fd = open_tree_file(path)
        except FileNotFoundError:
            pass  # no stored tree (a trail written before it had one): nothing to compare
        except OSError as exc:
            self.unreadable = str(exc)

    def feed(self, made: bytearray, start_size: int, file: str, first_line: int) -> None:
        """Compare ``made`` (the nodes of leaves ``start_size``...) with the file's next bytes."""
        if self.fd is None or not made:
            return
        got = os.pread(self.fd, len(made), self.at)
        if got == made:
            self.at += len(made)
            return
        stop = min(len(got), len(made))
        diff = next((i for i in range(stop) if got[i] != made[i]), stop)
        if diff < len(got):  # a stored hash differs (a shorter file is a crash: rebuilt at start)
            leaf = size_for_nodes(self.at // HASH_SIZE + diff // HASH_SIZE)  # leaves before it
            self.mismatch = (file, first_line + (leaf - start_size), leaf)
        self.close()

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def scan_tree(files: Sequence[Path], sizes: Iterable[int], tree_file: Path) -> TreeScan:
    """Recompute the tree over the leaves of ``files``, comparing it with ``tree_file``.

    An audit file that cannot be read stops the pass there (``stopped`` says why).
    """
    wanted = sorted({size for size in sizes if size >= 0})
    roots: dict[int, bytes] = {0: EMPTY_ROOT} if wanted and wanted[0] == 0 else {}
    targets = iter([size for size in wanted if size > 0])
    target = next(targets, None)
    tree = MerkleTree()
    stored = _Stored(tree_file)
    last: tuple[str, int] | None = None
    out = bytearray()
    stopped: str | None = None
    try:
        for path, first, lines in leaf_blocks(files):
            done = 0
            while done < len(lines):
                take = len(lines) - done
                if target is not None and tree.size + take >= target:
                    take = target - tree.size
                part = lines[done : done + take] if take != len(lines) else lines
                start_size = tree.size
                tree.extend_lines(part, out)
                stored.feed(out, start_size, str(path), first + done)
                out.clear()
                done += take
                last = (str(path), first + done - 1)
                if tree.size == target:
                    roots[target] = tree.root()
                    target = next(targets, None)
    except OSError as exc:
        stopped = str(exc)
    finally:
        stored.close()
    return TreeScan(tree.size, roots, last, stored.mismatch, stored.unreadable, stopped)


def child_main() -> int:
    """The child interpreter's work: the request on stdin, the :class:`TreeScan` on stdout.

    The request is JSON: ``files`` (paths, in day order), ``sizes`` and ``tree``
    (the stored tree file). Paths and numbers only: nothing secret is sent.
    """
    request = json.loads(sys.stdin.buffer.read())
    scan = scan_tree([Path(p) for p in request["files"]], request["sizes"], Path(request["tree"]))
    sys.stdout.write(scan.to_json())
    return 0
