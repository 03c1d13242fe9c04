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

from . import storage
from .checkpoints import Checkpoint, NoteError, VerifierKey, open_note, parse_note
from .merkle import HASH_SIZE, MerkleTree, leaf_hash
from .signing import CertifiedKey, walk_certificates
from .treelog import TREE_NAME, CertificateStore, iter_leaves

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


@dataclass
class _Claim:
    """A checkpoint to check: where it was found, its size and root, its note if signed."""

    where: str
    checkpoint: Checkpoint
    note: str | None
    key: CertifiedKey | None = None  # the key that must have signed it, if known


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
    if isinstance(value, Path) or (isinstance(value, str) and "\n" not in value):
        path = Path(value)
        return str(path), path.read_text("utf-8")
    return "the recorded checkpoint", value


def check_trail(
    directory: Path,
    public_key: VerifierKey | None = None,
    recorded: Iterable[str | Path] = (),
) -> TreeCheck:
    """Check the tree and checkpoints of the trail in ``directory`` (see the module doc)."""
    findings: list[TreeFinding] = []
    claims: list[_Claim] = []
    for slot in storage.read_seals(directory / storage.SEAL_NAME):
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
            claims.append(_Claim(f"{where_certs} (closing of {key.day})", key.until, None))
            if n < len(store.closings):
                claims.append(
                    _Claim(
                        f"{where_certs} (closing note of {key.day})",
                        key.until,
                        store.closings[n],
                        key,
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
    sizes = {c.checkpoint.size for c in claims}
    roots: dict[int, bytes] = {}
    where: dict[int, tuple[str, int]] = {}
    tree = MerkleTree()
    if 0 in sizes:
        roots[0] = tree.root()
    stored_fd: int | None
    try:
        stored_fd = os.open(directory / TREE_NAME, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        stored_fd = None
    stored_at = 0
    stored_ok = stored_fd is not None
    buffer = b""
    last: tuple[str, int] | None = None
    try:
        for path, number, raw in iter_leaves(directory):
            made = tree.append(leaf_hash(raw))
            last = (str(path), number)
            if stored_ok and stored_fd is not None:
                want = b"".join(value for _l, _i, value in made)
                if len(buffer) < len(want):
                    buffer += os.pread(stored_fd, 1 << 20, stored_at)
                    stored_at += 1 << 20
                got, buffer = buffer[: len(want)], buffer[len(want) :]
                if len(got) < len(want):
                    stored_ok = False  # the tree file ends here (a crash; rebuilt at start)
                elif got != want:
                    stored_ok = False
                    findings.append(
                        TreeFinding(
                            TREE_MISMATCH,
                            str(path),
                            number,
                            tree.size,
                            f"the stored Merkle tree ({TREE_NAME}) does not match event line "
                            f"{tree.size} of the trail: the line or the tree file was changed",
                        )
                    )
            if tree.size in sizes:
                roots[tree.size] = tree.root()
                where[tree.size] = last
    finally:
        if stored_fd is not None:
            os.close(stored_fd)
    leaves = tree.size
    checked = 0
    for claim in claims:
        cp = claim.checkpoint
        checked += 1
        at = where.get(cp.size, last)
        file, line_no = at if at is not None else (None, None)
        if cp.size > leaves:
            findings.append(
                TreeFinding(
                    CHECKPOINT_MISMATCH,
                    file,
                    line_no,
                    leaves or None,
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
                    cp.size or None,
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
