"""The Merkle tree and signed checkpoints kept beside a trail's audit files.

Files (all with the package's ``.fapilog-notebook`` prefix, never audit files):

- ``.fapilog-notebook.tree``: every perfect-subtree hash of the RFC 9162 tree
  over the trail's event lines, 32 bytes each, in the order they complete
  (leaf 0; leaf 1, node (1, 0); leaf 2; leaf 3, node (1, 1), node (2, 0);
  ...). Node ``(level, index)`` completes with leaf ``m - 1``,
  ``m = (index + 1) * 2**level``, so it sits at position
  ``2(m-1) - popcount(m-1) + level``: one ``pread`` reads it, and a proof
  reads O(log n) of them. Append-only, one write per committed batch; a
  file behind the audit files (a crash) is rebuilt from them at start.
- ``.fapilog-notebook.certificates.json``: the day-key certificates from the
  root key on, and each ended key period's closing checkpoint signed by that
  period's key.

The leaves and the tree file's layout are :mod:`.treeformat`'s.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import storage
from .checkpoints import Checkpoint, ConsistencyProof, InclusionProof, SignerKey, parse_note
from .errors import NoteError
from .merkle import (
    HASH_SIZE,
    MerkleTree,
    consistency_path,
    inclusion_path,
    leaf_hash,
)
from .scan import iter_lines
from .signing import CertifiedKey, DayCertificate, SigningKeyFile
from .treeformat import (
    TREE_NAME,
    is_leaf_line,
    leaf_blocks,
    node_position,
    nodes_for_size,
    open_tree_file,
    parsed_sequence_of,
    sequence_of,
    size_for_nodes,
)

__all__ = [
    "CERTIFICATES_NAME",
    "CertificateStore",
    "StoredTree",
    "TreeFile",
    "audit_paths",
    "checkpoint_of",
    "consistency_proof",
    "find_event_line",
    "inclusion_proof",
    "iter_leaf_blocks",
    "iter_leaves",
    "latest_checkpoint",
    "latest_signed_checkpoint",
    "sign_checkpoint",
]

CERTIFICATES_NAME = ".fapilog-notebook.certificates.json"


def audit_paths(directory: Path) -> list[Path]:
    """The audit files of the trail in ``directory``, in day order."""
    return [path for _day, path in storage.list_audit_files(directory)]


def iter_leaf_blocks(directory: Path) -> Iterator[tuple[Path, int, list[bytes]]]:
    """Yield ``(file, first line number, lines)``: the trail's leaves, in sequence order
    (:func:`.treeformat.leaf_blocks` over its audit files)."""
    return leaf_blocks(audit_paths(directory))


def iter_leaves(directory: Path) -> Iterator[tuple[Path, int, bytes]]:
    """Yield ``(file, line number, line)`` for each leaf of the trail, in sequence order."""
    for path, first, lines in iter_leaf_blocks(directory):
        for number, line in enumerate(lines, first):
            yield path, number, line


class TreeFile:
    """The writer's side of the tree file (worker thread only).

    Opened at the writer's start: a partial last hash is cut, the tree is
    rebuilt from its O(log n) peaks, and when its size is not the number of
    events on disk (``events``), it is rebuilt from the audit files.
    """

    def __init__(self, directory: Path) -> None:
        """Open (or create) the tree file of the trail in ``directory``."""
        self.path = directory / TREE_NAME
        self._fd, _created = storage.open_regular(self.path, os.O_RDWR)
        try:
            count = os.fstat(self._fd).st_size // HASH_SIZE
            size = size_for_nodes(count)
            self._truncate(nodes_for_size(size))
            self.tree = MerkleTree.from_nodes(size, self._read)
            self.stalled = False
        except BaseException:
            os.close(self._fd)
            raise

    def _truncate(self, count: int) -> None:
        if os.fstat(self._fd).st_size != count * HASH_SIZE:
            os.ftruncate(self._fd, count * HASH_SIZE)

    def _read(self, level: int, index: int) -> bytes:
        at = node_position(level, index) * HASH_SIZE
        return os.pread(self._fd, HASH_SIZE, at)

    def resync(self, directory: Path, events: int) -> None:
        """Rebuild the tree from the audit files unless it holds ``events`` leaves, the last
        of them the last event's line (a crash can leave the file's end unwritten)."""
        if self.tree.size == events and self._last_leaf_matches(directory):
            return
        self._truncate(0)
        self.tree = MerkleTree()
        out = bytearray()
        for _path, _first, lines in iter_leaf_blocks(directory):
            self.tree.extend_lines(lines, out)
            if len(out) >= 1 << 20:
                self._write_end(out)
                out.clear()
        if out:
            self._write_end(out)

    def _last_leaf_matches(self, directory: Path) -> bool:
        size = self.tree.size
        if size == 0:
            return True
        try:
            line = find_event_line(directory, size)
        except (OSError, ValueError):
            return False
        return self._read(0, size - 1) == leaf_hash(line)

    def append(self, lines: Sequence[bytes]) -> None:
        """Add event lines (no newline) as leaves; their new nodes go to the file's end."""
        out = bytearray()
        step = 4096
        for start in range(0, len(lines), step):
            self.tree.extend_lines(lines[start : start + step], out)
            if len(out) >= 1 << 20:
                self._write_end(out)
                out.clear()
        if out:
            self._write_end(out)

    def _write_end(self, data: bytearray) -> None:
        """Write ``data`` at the end of the stored nodes (positioned writes, never short)."""
        at = nodes_for_size(self.tree.size) * HASH_SIZE - len(data)
        view = memoryview(data)
        while view:
            done = os.pwrite(self._fd, view, at)
            view, at = view[done:], at + done

    def append_run(self, directory: Path, data: bytes, first: int, last: int) -> None:
        """Add a written run (events ``first``..``last``, newline-terminated lines).

        A run that does not follow the tree (a chain that restarted) leaves
        the tree as it is, or rebuilds it from the files when it lags behind.
        """
        if first <= self.tree.size + 1 <= last:
            # Events the tree holds already (a chain that restarted at a lower number) are
            # not leaves again; the rest follow the tree.
            self.append(data.split(b"\n")[self.tree.size + 1 - first : last - first + 1])
        elif first > self.tree.size + 1 and not self.stalled:
            self.resync(directory, last)
            # Still behind: the files miss an event, and the tree cannot pass the gap.
            self.stalled = self.tree.size < last

    def close(self) -> None:
        """Close the file."""
        os.close(self._fd)


class StoredTree:
    """A reader of a trail's tree file: node hashes by ``(level, index)``."""

    def __init__(self, directory: Path) -> None:
        """Open the tree file of ``directory`` for reading."""
        self.path = directory / TREE_NAME
        try:
            self._fd = open_tree_file(self.path)
        except FileNotFoundError:
            raise ValueError(f"{directory} has no Merkle tree file ({TREE_NAME})") from None
        except OSError as exc:
            raise ValueError(f"the Merkle tree file of {directory} cannot be read: {exc}") from None
        self.size = size_for_nodes(os.fstat(self._fd).st_size // HASH_SIZE)

    def read(self, level: int, index: int) -> bytes:
        """Return the stored hash of node ``(level, index)``."""
        if ((index + 1) << level) > self.size:
            raise ValueError(f"node ({level}, {index}) is beyond the stored tree")
        value = os.pread(self._fd, HASH_SIZE, node_position(level, index) * HASH_SIZE)
        if len(value) != HASH_SIZE:
            raise ValueError(f"the tree file {self.path} is shorter than its size says")
        return value

    def close(self) -> None:
        """Close the file."""
        os.close(self._fd)

    def __enter__(self) -> StoredTree:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class CertificateStore:
    """The day-key certificates and closing checkpoints kept beside a trail."""

    certificates: list[str] = field(default_factory=list)
    closings: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, directory: Path) -> CertificateStore:
        """Read the store (empty when there is none); raise ValueError when malformed."""
        path = directory / CERTIFICATES_NAME
        try:
            raw = storage.read_bounded(path, 64 << 20)
            if raw is None:
                return cls()
            data: Any = json.loads(raw)
        except (OSError, ValueError, RecursionError) as exc:
            raise ValueError(f"{path} cannot be read as certificates: {exc}") from None
        certs = data.get("certificates") if isinstance(data, dict) else None
        closings = data.get("closings") if isinstance(data, dict) else None
        if not isinstance(certs, list) or not all(isinstance(c, str) for c in certs):
            raise ValueError(f"{path} holds no list of certificates")
        if not isinstance(closings, list) or not all(isinstance(c, str) for c in closings):
            raise ValueError(f"{path} holds no list of closing checkpoints")
        return cls(certs, closings)

    def save(self, directory: Path, *, fsync: bool) -> None:
        """Replace the store atomically."""
        storage.write_record(
            directory / CERTIFICATES_NAME,
            {"certificates": self.certificates, "closings": self.closings},
            fsync=fsync,
        )

    def adopt(self, key_file: SigningKeyFile) -> bool:
        """Take the key file's chain when it extends this store's; return whether it changed."""
        chain, closings = key_file.certificates, key_file.closings
        if self.certificates == chain and self.closings == closings:
            return False
        if (
            chain[: len(self.certificates)] != self.certificates
            or closings[: len(self.closings)] != self.closings
        ):
            raise ValueError(
                "the signing key file's certificates do not extend the trail's: it belongs "
                "to another trail, or the trail's certificates were replaced"
            )
        self.certificates, self.closings = list(chain), list(closings)
        return True


def sign_checkpoint(signer: SignerKey, tree: MerkleTree) -> str:
    """Return the signed checkpoint note of ``tree`` (origin = the signer's name)."""
    return Checkpoint(signer.name, tree.size, tree.root()).sign(signer)


def checkpoint_of(note_or_body: str) -> Checkpoint:
    """Return the checkpoint in a signed note, or in a bare checkpoint body."""
    text = note_or_body
    with contextlib.suppress(NoteError):
        text = parse_note(note_or_body).text
    return Checkpoint.parse_body(text)


def latest_signed_checkpoint(directory: Path) -> str | None:
    """Return the newest signed checkpoint note in the trail's seal, or None."""
    best: tuple[int, str] | None = None
    for record in storage.read_seals(directory / storage.SEAL_NAME):
        if not isinstance(record, dict):
            continue
        note = record.get("checkpoint")
        seq = record.get("sequence_number")
        if isinstance(note, str) and isinstance(seq, int) and (best is None or seq > best[0]):
            best = (seq, note)
    return None if best is None else best[1]


def latest_checkpoint(directory: Path) -> str:
    """Return the trail's newest checkpoint: its signed note, or its bare body if unsigned.

    :raises ValueError: the trail has no tree head in its seal yet.
    """
    note = latest_signed_checkpoint(directory)
    if note is not None:
        return note
    best: tuple[int, Checkpoint] | None = None
    for record in storage.read_seals(directory / storage.SEAL_NAME):
        if not isinstance(record, dict):
            continue
        size, root, seq = (
            record.get("tree_size"),
            record.get("tree_root"),
            record.get("sequence_number"),
        )
        if isinstance(size, int) and isinstance(root, str) and isinstance(seq, int):
            try:
                raw = base64.b64decode(root, validate=True)
            except ValueError:
                continue
            if best is None or seq > best[0]:
                best = (seq, Checkpoint(f"fapilog-notebook/unsigned/{directory.name}", size, raw))
    if best is None:
        raise ValueError(f"{directory} has no tree checkpoint in its seal yet")
    return best[1].body()


def _first_leaf(path: Path) -> tuple[int, bytes] | None:
    """Return the sequence number and line of a file's first event line."""
    for _number, line, terminated in iter_lines(path, chunk_size=64 * 1024):
        raw = line[:-1] if line[-1:] == b"\r" else line  # a CRLF line end
        if terminated and is_leaf_line(raw):
            seq = parsed_sequence_of(raw)
            if seq is not None:
                return seq, raw
    return None


def _line_at(fd: int, offset: int, size: int) -> tuple[int, bytes] | None:
    """Return (start, line) of the first whole line starting at or after ``offset``."""
    pos = offset
    if pos > 0:
        chunk = b""
        while pos < size:
            chunk = os.pread(fd, 4096, pos - 1)
            cut = chunk.find(b"\n")
            if cut >= 0:
                pos = pos - 1 + cut + 1
                break
            pos += len(chunk) - 1
        else:
            return None
    if pos >= size:
        return None
    buf = b""
    while True:
        chunk = os.pread(fd, 65536, pos + len(buf))
        if not chunk:
            return None
        buf += chunk
        cut = buf.find(b"\n")
        if cut >= 0:
            line = buf[:cut]
            return pos, line[:-1] if line[-1:] == b"\r" else line


def find_event_line(directory: Path, sequence_number: int) -> bytes:
    """Return the line of the event with ``sequence_number`` (binary search, O(log n) reads)."""
    files = storage.list_audit_files(directory)
    chosen: Path | None = None
    for _day, path in files:
        first = _first_leaf(path)
        if first is None:
            continue
        if first[0] > sequence_number:
            break
        chosen = path
    if chosen is None:
        raise ValueError(f"{directory} holds no event with sequence number {sequence_number}")
    fd = open_tree_file(chosen)  # the same safe open: a regular file, no link, no FIFO
    try:
        size = os.fstat(fd).st_size
        lo, hi = 0, size
        while hi - lo > 4096:
            mid = (lo + hi) // 2
            found = _line_at(fd, mid, size)
            seq = parsed_sequence_of(found[1]) if found else None
            if found is None or seq is None or seq > sequence_number:
                hi = mid
            else:
                lo = found[0] if seq < sequence_number else mid
                if seq == sequence_number:
                    return found[1]
        pos = lo
        while pos < size:
            found = _line_at(fd, pos, size)
            if found is None:
                break
            seq = parsed_sequence_of(found[1])
            if seq == sequence_number:
                return found[1]
            if seq is not None and seq > sequence_number:
                break
            pos = found[0] + len(found[1]) + 1
    finally:
        os.close(fd)
    # Not where the files' order puts it (an event out of file order): look at every leaf.
    for _path, _number, line in iter_leaves(directory):
        seq = sequence_of(line)
        if seq == sequence_number:
            return line
        if seq is not None and seq > sequence_number:
            break
    raise ValueError(f"{directory} holds no event with sequence number {sequence_number}")


def _period_of(keys: list[CertifiedKey], index: int) -> int:
    """Return the key period (position in ``keys``) in which leaf ``index`` was logged."""
    for n, key in enumerate(keys):
        if key.until is None or index < key.until.size:
            return n
    return len(keys) - 1


def inclusion_proof(source: Path | str, sequence_number: int) -> InclusionProof:
    """Return a self-contained proof that event ``sequence_number`` is in the signed tree.

    The checkpoint is the one signed by the key of the period the event was
    logged in: that period's closing checkpoint when the period has ended,
    else the newest signed checkpoint in the trail's seal.

    :raises ValueError: the trail is not signed, has no such event, or its
        tree does not reach it.
    """
    directory = Path(source)
    if type(sequence_number) is not int or sequence_number < 1:
        raise ValueError(f"a sequence number is a positive integer, not {sequence_number!r}")
    store = CertificateStore.load(directory)
    latest = latest_signed_checkpoint(directory)
    if not store.certificates or latest is None:
        raise ValueError(
            f"the trail at {directory} has no signed checkpoint (start it with signing_key=...)"
        )
    index = sequence_number - 1
    line = find_event_line(directory, sequence_number)
    root_name = parse_note(store.certificates[0]).signatures[0].name
    keys = _chain_keys(store)
    period = _period_of(keys, index)
    note = store.closings[period] if period < len(store.closings) else latest
    checkpoint = checkpoint_of(note)
    if checkpoint.origin != root_name or index >= checkpoint.size:
        raise ValueError(f"no signed checkpoint of {directory} covers event {sequence_number} yet")
    with StoredTree(directory) as tree:
        if tree.size < checkpoint.size:
            raise ValueError(f"the tree file of {directory} is behind its checkpoint")
        path = inclusion_path(index, checkpoint.size, tree.read)
    return InclusionProof(line, index, tuple(path), note, tuple(store.certificates[: period + 1]))


def _chain_keys(store: CertificateStore) -> list[CertifiedKey]:
    """The key periods named by the store's chain (read for their sizes, not trusted here)."""
    keys: list[CertifiedKey] = []
    for cert_text in store.certificates:
        cert = DayCertificate.parse_body(parse_note(cert_text).text)
        if keys:
            prev = keys[-1]
            keys[-1] = CertifiedKey(prev.day, prev.key, prev.floor, cert.closing)
        keys.append(CertifiedKey(cert.day, cert.key, cert.closing, None))
    return keys


def consistency_proof(source: Path | str, old_checkpoint: str | Path) -> ConsistencyProof:
    """Return a proof that the trail's newest signed tree extends ``old_checkpoint``.

    ``old_checkpoint`` is a checkpoint (signed note or bare body) or a file
    holding one.

    :raises ValueError: the trail is not signed, or the old checkpoint is
        larger than its newest signed tree.
    """
    directory = Path(source)
    text = old_checkpoint.read_text("utf-8") if isinstance(old_checkpoint, Path) else old_checkpoint
    old = checkpoint_of(text)
    store = CertificateStore.load(directory)
    latest = latest_signed_checkpoint(directory)
    if not store.certificates or latest is None:
        raise ValueError(
            f"the trail at {directory} has no signed checkpoint (start it with signing_key=...)"
        )
    new = checkpoint_of(latest)
    if old.size > new.size:
        raise ValueError(
            f"the old checkpoint ({old.size} events) is larger than the trail's newest signed "
            f"tree ({new.size} events)"
        )
    keys = _chain_keys(store)
    floor = keys[-1].floor.size
    with StoredTree(directory) as tree:
        if tree.size < new.size:
            raise ValueError(f"the tree file of {directory} is behind its checkpoint")
        path = consistency_path(old.size, new.size, tree.read)
        floor_path = consistency_path(floor, new.size, tree.read) if floor <= new.size else []
    return ConsistencyProof(
        old.size, tuple(path), latest, tuple(store.certificates), tuple(floor_path)
    )
