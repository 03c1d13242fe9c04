"""Recompute a trail's Merkle tree from its event lines: the tree check's one pass.

:func:`scan_tree` reads the leaves (:func:`.treeformat.leaf_blocks`),
recomputes the RFC 9162 tree, compares every node with the stored tree file
as the nodes come, and keeps the root at each size asked for. That is all
the per-event work of the tree check, so it is what :mod:`._treeproc` runs in
a child interpreter: this module imports only the standard library's
smallest modules and the format core's :mod:`.treeformat` and :mod:`.merkle`
(no pydantic, no cryptography, not even ``json``, ``dataclasses`` or
``pathlib``, which would triple the child's start-up), and its inputs and its
outcome (:class:`TreeScan`) are plain data: paths, sizes, hashes, sent as
``marshal`` data between two runs of the same interpreter. What the outcome
means is :mod:`._tree`'s.
"""

from __future__ import annotations

import marshal
import os
import sys
from collections.abc import Iterable, Sequence

from ..merkle import EMPTY_ROOT, HASH_SIZE, MerkleTree
from ..treeformat import leaf_blocks, open_tree_file, size_for_nodes

__all__ = ["TreeScan", "child_main", "scan_tree"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    PathLike = str | os.PathLike[str]
    Fields = tuple[
        int,
        dict[int, bytes],
        tuple[str, int] | None,
        tuple[str, int, int] | None,
        str | None,
        str | None,
    ]


class TreeScan:
    """What one pass over the leaves found (a plain class: see the module doc)."""

    __slots__ = ("last", "leaves", "mismatch", "roots", "stopped", "unreadable")

    def __init__(
        self,
        leaves: int,
        roots: dict[int, bytes],
        last: tuple[str, int] | None,
        mismatch: tuple[str, int, int] | None,
        unreadable: str | None,
        stopped: str | None = None,
    ) -> None:
        #: How many leaves the trail's lines give.
        self.leaves = leaves
        #: The root hash at each size asked for that the trail reaches.
        self.roots = roots
        #: ``(file, line number)`` of the last leaf, if any.
        self.last = last
        #: ``(file, line number, leaves before it)`` of the first leaf whose
        #: stored nodes differ from the recomputed ones, if any.
        self.mismatch = mismatch
        #: Why the stored tree could not be read, if it could not (None: read, or absent).
        self.unreadable = unreadable
        #: Why the pass stopped before the trail's end (an audit file could not be read).
        self.stopped = stopped

    def _fields(
        self,
    ) -> tuple[
        int,
        dict[int, bytes],
        tuple[str, int] | None,
        tuple[str, int, int] | None,
        str | None,
        str | None,
    ]:
        return (
            self.leaves,
            self.roots,
            self.last,
            self.mismatch,
            self.unreadable,
            self.stopped,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TreeScan):
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # holds a dict: not hashable

    def __repr__(self) -> str:
        return (
            f"TreeScan(leaves={self.leaves}, roots={sorted(self.roots)}, last={self.last!r}, "
            f"mismatch={self.mismatch!r}, unreadable={self.unreadable!r}, "
            f"stopped={self.stopped!r})"
        )

    def dumps(self) -> bytes:
        """The outcome as ``marshal`` data (the child's answer)."""
        return marshal.dumps(self._fields())

    @classmethod
    def loads(cls, data: bytes) -> TreeScan:
        """Read :meth:`dumps`'s output back, checking every field's type.

        :raises ValueError: it is not such an outcome.
        """
        try:
            leaves, roots, last, diff, unreadable, stopped = marshal.loads(data)
            scan = cls(
                leaves,
                dict(roots),
                None if last is None else (last[0], last[1]),
                None if diff is None else (diff[0], diff[1], diff[2]),
                unreadable,
                stopped,
            )
        except (EOFError, ValueError, TypeError, IndexError, KeyError) as exc:
            raise ValueError(f"not a tree scan: {exc!r}") from None
        if not (
            _is_int(scan.leaves)
            and all(_is_int(k) and type(v) is bytes for k, v in scan.roots.items())
            and (scan.last is None or (type(scan.last[0]) is str and _is_int(scan.last[1])))
            and (
                scan.mismatch is None
                or (type(scan.mismatch[0]) is str and all(map(_is_int, scan.mismatch[1:])))
            )
            and all(v is None or type(v) is str for v in (scan.unreadable, scan.stopped))
        ):
            raise ValueError("not a tree scan: a field of the wrong type")
        return scan


def _is_int(value: object) -> bool:
    return type(value) is int


class _Stored:
    """Compares the recomputed nodes, as they come, with the stored tree file."""

    def __init__(self, path: PathLike) -> None:
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


def scan_tree(files: Sequence[PathLike], sizes: Iterable[int], tree_file: PathLike) -> TreeScan:
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

    The request is ``marshal`` data: the audit files (paths, in day order),
    the sizes and the stored tree file. Paths and numbers only: nothing
    secret is sent.
    """
    files, sizes, tree_file = marshal.loads(sys.stdin.buffer.read())
    sys.stdout.buffer.write(scan_tree(files, sizes, tree_file).dumps())
    return 0
