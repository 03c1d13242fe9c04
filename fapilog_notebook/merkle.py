"""RFC 9162 (section 2.1) Merkle trees over a trail's event lines: pure functions.

A leaf is ``SHA-256(0x00 || line)``, an interior node ``SHA-256(0x01 || left ||
right)``; the tree over ``n`` leaves splits at the largest power of two below
``n``. This module owns the hashing, an incremental tree (O(log n) state and
work per leaf), inclusion and consistency proofs built from stored subtree
hashes, and their verification. It keeps no module state and touches no file:
callers hand it a function that returns a stored node.

Stored nodes are the hashes of *perfect* subtrees: ``(level, index)`` names
``MTH(D[index * 2**level : (index + 1) * 2**level])``; level 0 holds the leaf
hashes. Every hash a proof needs is one such node or the fold of O(log n) of
them, so a proof reads O(log n) stored hashes.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Callable, Sequence

from .errors import MerkleProofError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MerkleTree",
    "NodeReader",
    "consistency_path",
    "inclusion_path",
    "leaf_hash",
    "node_hash",
    "range_hash",
    "root_of_leaves",
    "verify_consistency_path",
    "verify_inclusion_path",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""The root of the empty tree: SHA-256 of nothing (RFC 9162 section 2.1.1)."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

_digest = operator.methodcaller("digest")

NodeReader = Callable[[int, int], bytes]
"""``read(level, index)``: the stored hash of a perfect subtree."""


def leaf_hash(line: bytes) -> bytes:
    """Return the RFC 9162 leaf hash of ``line`` (an event's canonical line, no newline)."""
    return hashlib.sha256(_LEAF_PREFIX + line).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 9162 interior node hash of two child hashes."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """Return the largest power of two strictly below ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of_leaves(leaves: Sequence[bytes]) -> bytes:
    """Return the Merkle tree hash of a list of leaf hashes (the reference definition)."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(root_of_leaves(leaves[:k]), root_of_leaves(leaves[k:]))


def range_hash(start: int, end: int, read: NodeReader) -> bytes:
    """Return ``MTH(D[start:end])`` for a subtree range of the tree, from stored nodes.

    ``start`` must be a multiple of the largest power of two not above
    ``end - start`` (true of every range an RFC 9162 proof names). The range
    splits into perfect subtrees, largest first; they fold from the right.
    """
    if end <= start:
        raise ValueError(f"empty range [{start}, {end})")
    parts: list[bytes] = []
    pos = start
    while pos < end:
        level = (end - pos).bit_length() - 1
        size = 1 << level
        if pos % size:
            raise ValueError(f"range [{start}, {end}) is not a subtree of the tree")
        parts.append(read(level, pos >> level))
        pos += size
    acc = parts[-1]
    for part in reversed(parts[:-1]):
        acc = node_hash(part, acc)
    return acc


def inclusion_path(index: int, size: int, read: NodeReader) -> list[bytes]:
    """Return the audit path of leaf ``index`` in the tree of ``size`` leaves (RFC 9162 2.1.3.1).

    The path runs from the leaf's sibling up to a child of the root.
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of {size} leaves")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index - start < k:
            path.append(range_hash(start + k, end, read))
            end = start + k
        else:
            path.append(range_hash(start, start + k, read))
            start += k
    path.reverse()
    return path


def consistency_path(old_size: int, new_size: int, read: NodeReader) -> list[bytes]:
    """Return the consistency proof from the tree of ``old_size`` to ``new_size`` leaves.

    RFC 9162 section 2.1.4.1; empty when the sizes are equal or the old tree is empty.
    """
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from {old_size} leaves to {new_size} leaves")
    if old_size in (0, new_size):
        return []
    path: list[bytes] = []
    start, end, whole = 0, new_size, True
    while True:
        if old_size == end:
            if not whole:
                path.append(range_hash(start, end, read))
            break
        k = _split(end - start)
        if old_size - start <= k:
            path.append(range_hash(start + k, end, read))
            end = start + k
        else:
            path.append(range_hash(start, start + k, read))
            start += k
            whole = False
    path.reverse()
    return path


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise MerkleProofError(f"{what} is {len(value)} bytes, not a {HASH_SIZE}-byte SHA-256")


def verify_inclusion_path(
    leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf`` (a leaf hash) is at ``index`` of the tree of ``size`` with ``root``.

    RFC 9162 section 2.1.3.2. Returns on success; raises `MerkleProofError`
    naming what does not hold.
    """
    _check_hash(leaf, "the leaf hash")
    _check_hash(root, "the root hash")
    for i, p in enumerate(path):
        _check_hash(p, f"path hash {i + 1}")
    if index < 0 or size < 0:
        raise MerkleProofError("a leaf index and a tree size are never negative")
    if index >= size:
        raise MerkleProofError(f"leaf index {index} is outside a tree of {size} leaves")
    fn, sn = index, size - 1
    r = leaf
    for p in path:
        if sn == 0:
            raise MerkleProofError(
                f"the audit path has more hashes than a tree of {size} leaves needs"
            )
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise MerkleProofError(f"the audit path is too short for a tree of {size} leaves")
    if r != root:
        raise MerkleProofError("the audit path does not lead to the tree's root hash")


def verify_consistency_path(
    old_size: int, new_size: int, path: Sequence[bytes], old_root: bytes, new_root: bytes
) -> None:
    """Check that the tree of ``new_size`` leaves extends the tree of ``old_size``.

    RFC 9162 section 2.1.4.2. Returns on success; raises `MerkleProofError`
    naming what does not hold.
    """
    _check_hash(old_root, "the old root hash")
    _check_hash(new_root, "the new root hash")
    for i, p in enumerate(path):
        _check_hash(p, f"proof hash {i + 1}")
    if old_size < 0 or new_size < 0:
        raise MerkleProofError("a tree size is never negative")
    if old_size > new_size:
        raise MerkleProofError(
            f"the old tree ({old_size} leaves) is larger than the new one ({new_size})"
        )
    if old_size == new_size:
        if path:
            raise MerkleProofError("trees of equal size need an empty consistency proof")
        if old_root != new_root:
            raise MerkleProofError(f"two trees of {old_size} leaves have different roots")
        return
    if old_size == 0:
        if path:
            raise MerkleProofError("the empty tree needs an empty consistency proof")
        return
    if not path:
        raise MerkleProofError("the consistency proof is empty")
    hashes = list(path)
    if old_size & (old_size - 1) == 0:
        hashes.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = hashes[0]
    for c in hashes[1:]:
        if sn == 0:
            raise MerkleProofError("the consistency proof has more hashes than the trees need")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise MerkleProofError("the consistency proof is too short for the trees' sizes")
    if fr != old_root:
        raise MerkleProofError("the consistency proof does not lead to the old root hash")
    if sr != new_root:
        raise MerkleProofError("the consistency proof does not lead to the new root hash")


class MerkleTree:
    """An incremental RFC 9162 tree: the roots of its perfect subtrees, largest first.

    ``append`` takes one leaf hash in O(log n) and returns the perfect-subtree
    nodes it completed as ``(level, index, hash)``, the leaf itself first, so
    a caller can persist every stored node as it appears. (A plain class, not
    a dataclass: the tree check's child imports this module, and
    ``dataclasses`` alone would double its start-up.)
    """

    __slots__ = ("peaks", "size")

    def __init__(self, size: int = 0, peaks: list[bytes] | None = None) -> None:
        self.size = size
        self.peaks: list[bytes] = [] if peaks is None else peaks
        if size < 0 or len(self.peaks) != size.bit_count():
            raise ValueError(
                f"a tree of {size} leaves has {size.bit_count()} peaks, not {len(self.peaks)}"
            )

    def __repr__(self) -> str:
        return f"MerkleTree(size={self.size}, peaks=[{len(self.peaks)} hashes])"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MerkleTree):
            return NotImplemented
        return (self.size, self.peaks) == (other.size, other.peaks)

    __hash__ = None  # type: ignore[assignment]  # mutable: not hashable

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add one leaf hash; return the nodes it completed (level, index, hash)."""
        peaks = self.peaks
        index = self.size
        made = [(0, index, leaf)]
        acc = leaf
        level = 0
        while index & 1:
            acc = node_hash(peaks.pop(), acc)
            index >>= 1
            level += 1
            made.append((level, index, acc))
        peaks.append(acc)
        self.size += 1
        return made

    def extend_lines(self, lines: Sequence[bytes], out: bytearray) -> None:
        """Add the leaves of event ``lines``; append every node they complete to ``out``.

        The fast twin of ``append(leaf_hash(line))`` in a loop (same nodes, same
        order; `tests/test_merkle.py` pins them together).
        """
        peaks = self.peaks
        sha = hashlib.sha256
        size = self.size
        pop, push, add = peaks.pop, peaks.append, out.extend
        leaves = map(_digest, map(sha, map(_LEAF_PREFIX.__add__, lines)))
        for acc in leaves:
            add(acc)
            index = size
            while index & 1:
                acc = sha(_NODE_PREFIX + pop() + acc).digest()
                add(acc)
                index >>= 1
            push(acc)
            size += 1
        self.size = size

    def root(self) -> bytes:
        """Return the tree's root hash (the empty tree's is SHA-256 of nothing)."""
        peaks = self.peaks
        if not peaks:
            return EMPTY_ROOT
        acc = peaks[-1]
        for peak in reversed(peaks[:-1]):
            acc = node_hash(peak, acc)
        return acc

    def copy(self) -> MerkleTree:
        """Return an independent copy (to try a batch without changing this tree)."""
        return MerkleTree(self.size, list(self.peaks))

    @classmethod
    def from_nodes(cls, size: int, read: NodeReader) -> MerkleTree:
        """Rebuild the tree of ``size`` leaves from its stored peaks (O(log n) reads)."""
        peaks: list[bytes] = []
        pos = 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                peaks.append(read(level, pos >> level))
                pos += 1 << level
        return cls(size, peaks)
