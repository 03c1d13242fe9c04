"""The verifier's check of a trail's Merkle tree, checkpoints and signatures.

One pass over the trail's event lines recomputes the RFC 9162 tree, compares
every node with the stored tree file, and the root at every retained
checkpoint's size with that checkpoint: the seal's and the manifests' tree
heads, the closing checkpoints the day-key certificates carry, and any
checkpoint the auditor recorded. Given the root public key, it also walks the
certificates and checks every signed checkpoint with the key certified for
its period. Problems come back as `TreeFinding` rows (kind, file, line,
sequence number, sentence); the verifier turns them into findings.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .. import storage
from ..checkpoints import Checkpoint, VerifierKey, open_note, parse_note
from ..errors import NoteError
from ..merkle import HASH_SIZE, MerkleTree
from ..signing import CertifiedKey, walk_certificates
from ..treelog import (
    TREE_NAME,
    CertificateStore,
    iter_leaf_blocks,
    open_tree_file,
    size_for_nodes,
)

__all__ = ["CHECKPOINT_MISMATCH", "TreeCheck", "TreeFinding", "check_trail"]

CHECKPOINT_MISMATCH = "checkpoint_mismatch"
TREE_MISMATCH = "tree_mismatch"
SIGNATURE_INVALID = "signature_invalid"
CERTIFICATE_INVALID = "certificate_invalid"
UNSIGNED_EVENTS = "unsigned_events"


@dataclass(frozen=True)
class TreeFinding:
    """A problem with the tree or a checkpoint, located at an event line when possible."""

    kind: str
    file: str | None
    line: int | None
    sequence_number: int | None
    message: str


@dataclass
class TreeCheck:
    """The outcome: findings, and what was checked."""

    findings: list[TreeFinding]
    leaves: int
    checkpoints_checked: int
    signatures_checked: int


class _StoredCompare:
    """Compares the recomputed nodes, as they come, with the stored tree file."""

    def __init__(self, directory: Path, bad: list[TreeFinding]) -> None:
        self.fd: int | None = None
        self.at = 0
        path = directory / TREE_NAME
        try:
            self.fd = open_tree_file(path)
        except FileNotFoundError:
            pass  # no stored tree (a trail written before it had one): nothing to compare
        except OSError as exc:
            bad.append(
                TreeFinding(
                    TREE_MISMATCH, str(path), None, None, f"the stored tree cannot be read: {exc}"
                )
            )

    def feed(
        self, made: bytearray, start_size: int, file: str, first_line: int, bad: list[TreeFinding]
    ) -> None:
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
            bad.append(
                TreeFinding(
                    TREE_MISMATCH,
                    file,
                    first_line + (leaf - start_size),
                    leaf + 1,
                    f"the stored Merkle tree ({TREE_NAME}) does not match event line "
                    f"{leaf + 1} of the trail: the line or the tree file was changed",
                )
            )
        self.close()

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


@dataclass
class _Claim:
    """A checkpoint to check: where it was found, its size and root, its note if signed."""

    where: str
    checkpoint: Checkpoint
    note: str | None
    key: CertifiedKey | None = None  # the key that must have signed it, if known
    file: str | None = None  # the file that holds it (for the finding)
    compare: bool = True  # compared with the tree (False: another claim carries it)


def _tree_head(record: dict[str, object], origin: str) -> Checkpoint | None:
    size, root = record.get("tree_size"), record.get("tree_root")
    if not isinstance(size, int) or isinstance(size, bool) or not isinstance(root, str):
        return None
    try:
        raw = base64.b64decode(root, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    return Checkpoint(origin, size, raw)


def _claims_of_record(
    record: dict[str, object], where: str, bad: list[TreeFinding]
) -> list[_Claim]:
    claims = []
    head = _tree_head(record, "")
    if head is not None:
        claims.append(_Claim(where, head, None))
    note = record.get("checkpoint")
    if isinstance(note, str):
        try:
            checkpoint = Checkpoint.parse_body(parse_note(note).text)
        except NoteError as exc:
            bad.append(
                TreeFinding(
                    CHECKPOINT_MISMATCH,
                    where,
                    None,
                    None,
                    f"the checkpoint in {where} is malformed: {exc}",
                )
            )
        else:
            claims.append(_Claim(where, checkpoint, note))
    return claims


def _recorded(value: str | Path) -> tuple[str, str]:
    """Return (where, text) of a recorded checkpoint: its text, or a file holding it."""
    if isinstance(value, Path) or (isinstance(value, str) and "\n" not in value):
        path = Path(value)
        raw = storage.read_bounded(path, 1 << 20, follow_links=True)
        if raw is None:
            raise FileNotFoundError(f"no such checkpoint file: {path}")
        try:
            return str(path), raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"checkpoint file {path} is not UTF-8 text") from None
    return "the recorded checkpoint", value


def check_trail(
    directory: Path,
    public_key: VerifierKey | None = None,
    recorded: Iterable[str | Path] = (),
) -> TreeCheck:
    """Check the tree and checkpoints of the trail in ``directory`` (see the module doc)."""
    findings: list[TreeFinding] = []
    claims: list[_Claim] = []
    try:
        slots = storage.read_seals(directory / storage.SEAL_NAME)
    except (OSError, ValueError):
        slots = []  # an unreadable or unsafe seal is the seal check's finding
    for slot in slots:
        if isinstance(slot, dict):
            claims += _claims_of_record(slot, str(directory / storage.SEAL_NAME), findings)
    for _day, path in storage.list_audit_files(directory):
        day = storage.day_of(path)
        assert day is not None
        manifest = storage.manifest_path(directory, day)
        try:
            record = storage.read_record(manifest)
        except (OSError, ValueError):
            record = None
        if isinstance(record, dict):
            claims += _claims_of_record(record, str(manifest), findings)
    for value in recorded:
        where, text = _recorded(value)
        try:
            try:
                body = parse_note(text).text
                note: str | None = text
            except NoteError:
                body, note = text, None
            claims.append(_Claim(where, Checkpoint.parse_body(body), note))
        except NoteError as exc:
            findings.append(
                TreeFinding(
                    CHECKPOINT_MISMATCH, where, None, None, f"{where} is not a checkpoint: {exc}"
                )
            )
    signatures = 0
    keys: list[CertifiedKey] = []
    if public_key is not None:
        keys, signatures = _check_signatures(directory, public_key, claims, findings)
    return _check_tree(directory, claims, findings, keys, public_key, signatures)


def _check_signatures(
    directory: Path,
    public_key: VerifierKey,
    claims: list[_Claim],
    findings: list[TreeFinding],
) -> tuple[list[CertifiedKey], int]:
    where_certs = str(directory / ".fapilog-notebook.certificates.json")
    try:
        store = CertificateStore.load(directory)
    except ValueError as exc:
        findings.append(TreeFinding(CERTIFICATE_INVALID, where_certs, None, None, str(exc)))
        return [], 0
    if not store.certificates:
        findings.append(
            TreeFinding(
                CERTIFICATE_INVALID,
                where_certs,
                None,
                None,
                f"the trail has no day-key certificates, so no checkpoint can be checked with "
                f"the public key {public_key.name}",
            )
        )
        return [], 0
    try:
        keys = walk_certificates(public_key, store.certificates)
    except NoteError as exc:
        findings.append(
            TreeFinding(
                CERTIFICATE_INVALID,
                where_certs,
                None,
                None,
                f"{exc}: a certificate was replaced, or the trail is not the public key's",
            )
        )
        return [], 0
    for n, key in enumerate(keys):
        if key.until is not None:
            claims.append(
                _Claim(f"{where_certs} (closing of {key.day})", key.until, None, None, where_certs)
            )
            if n < len(store.closings):
                claims.append(
                    _Claim(
                        f"{where_certs} (closing note of {key.day})",
                        key.until,
                        store.closings[n],
                        key,
                        where_certs,
                        compare=False,
                    )
                )
    checked = 0
    for claim in claims:
        if claim.note is None:
            continue
        candidates = (
            [claim.key]
            if claim.key is not None
            else [
                k
                for k in keys
                if k.floor.size <= claim.checkpoint.size
                and (k.until is None or claim.checkpoint.size <= k.until.size)
            ]
        )
        try:
            opened = open_note(claim.note, [k.key for k in candidates])
            if Checkpoint.parse_body(opened.text).origin != public_key.name:
                raise NoteError(f"its origin is not {public_key.name!r}")
        except NoteError as exc:
            findings.append(
                TreeFinding(
                    SIGNATURE_INVALID,
                    claim.where,
                    None,
                    None,
                    f"the checkpoint of {claim.checkpoint.size} events in {claim.where} is not "
                    f"signed by the day key certified for that part of the trail ({exc})",
                )
            )
            claim.note = None  # not a signed claim after all
            continue
        checked += 1
    return keys, checked


def _check_tree(
    directory: Path,
    claims: list[_Claim],
    findings: list[TreeFinding],
    keys: list[CertifiedKey],
    public_key: VerifierKey | None,
    signatures: int,
) -> TreeCheck:
    sizes = sorted({c.checkpoint.size for c in claims})
    roots: dict[int, bytes] = {}
    tree = MerkleTree()
    if sizes and sizes[0] == 0:
        roots[0] = tree.root()
    stored = _StoredCompare(directory, findings)
    next_size = iter([s for s in sizes if s > 0])
    target = next(next_size, None)
    last: tuple[str, int] | None = None
    out = bytearray()
    try:
        for path, first, lines in iter_leaf_blocks(directory):
            done = 0
            while done < len(lines):
                take = len(lines) - done
                if target is not None and tree.size + take >= target:
                    take = target - tree.size
                part = lines[done : done + take] if take != len(lines) else lines
                start_size = tree.size
                tree.extend_lines(part, out)
                stored.feed(out, start_size, str(path), first + done, findings)
                out.clear()
                done += take
                last = (str(path), first + done - 1)
                if tree.size == target:
                    roots[target] = tree.root()
                    target = next(next_size, None)
    finally:
        stored.close()
    leaves = tree.size
    checked = 0
    for claim in claims:
        if not claim.compare:
            continue
        cp = claim.checkpoint
        checked += 1
        # A checkpoint names no line: the finding points at the file that holds it.
        file, line_no = claim.file or claim.where, None
        if cp.size > leaves:
            findings.append(
                TreeFinding(
                    CHECKPOINT_MISMATCH,
                    file,
                    line_no,
                    None,
                    f"the checkpoint in {claim.where} covers {cp.size} events; the trail holds "
                    f"only {leaves}: events after {leaves} were cut",
                )
            )
        elif len(cp.root_hash) != HASH_SIZE or roots.get(cp.size) != cp.root_hash:
            findings.append(
                TreeFinding(
                    CHECKPOINT_MISMATCH,
                    file,
                    line_no,
                    None,
                    f"the checkpoint in {claim.where} says the first {cp.size} events have root "
                    f"{base64.b64encode(cp.root_hash).decode()}; the trail's lines give "
                    f"{base64.b64encode(roots.get(cp.size, b'')).decode()}: an event up to "
                    f"{cp.size} was changed, removed or added",
                )
            )
    if public_key is not None and keys:
        signed = [c.checkpoint.size for c in claims if c.note is not None]
        newest = max(signed, default=0)
        if newest < leaves and last is not None:
            findings.append(
                TreeFinding(
                    UNSIGNED_EVENTS,
                    last[0],
                    last[1],
                    leaves,
                    f"events {newest + 1} to {leaves} are covered by no signed checkpoint (a "
                    "crash before the seal was written, or the seal was replaced)",
                )
            )
    return TreeCheck(findings, leaves, checked, signatures)
