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
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .. import storage
from ..checkpoints import Checkpoint, VerifierKey, open_note, parse_note
from ..errors import NoteError
from ..merkle import HASH_SIZE
from ..signing import CertifiedKey, walk_certificates
from ..treeformat import TREE_NAME
from ..treelog import CERTIFICATES_NAME, CertificateStore, audit_paths
from ._treescan import TreeScan, scan_tree

__all__ = [
    "CHECKPOINT_MISMATCH",
    "TreeCheck",
    "TreeFinding",
    "TreePlan",
    "check_trail",
    "judge",
    "plan_check",
]

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
    plan = plan_check(directory, public_key, recorded)
    return judge(plan, scan_tree(plan.files, plan.sizes, plan.tree_file))


@dataclass
class TreePlan:
    """What the recomputed tree is to be compared with, gathered before the pass over
    the lines: the trail's audit files, the checkpoints found (their signatures
    already checked), and the problems found so far."""

    directory: Path
    files: list[Path]
    claims: list[_Claim]
    findings: list[TreeFinding]
    keys: list[CertifiedKey]
    public_key: VerifierKey | None
    signatures: int

    @property
    def tree_file(self) -> Path:
        """The stored tree the recomputed one is compared with."""
        return self.directory / TREE_NAME

    @property
    def sizes(self) -> list[int]:
        """The tree sizes whose roots the checkpoints name."""
        return sorted({c.checkpoint.size for c in self.claims})


def plan_check(
    directory: Path,
    public_key: VerifierKey | None = None,
    recorded: Iterable[str | Path] = (),
) -> TreePlan:
    """Gather the checkpoints of the trail in ``directory`` and check their signatures.

    :raises FileNotFoundError: a recorded checkpoint file does not exist.
    :raises ValueError: a recorded checkpoint file is not UTF-8 text.
    """
    findings: list[TreeFinding] = []
    claims: list[_Claim] = []
    try:
        slots = storage.read_seals(directory / storage.SEAL_NAME)
    except (OSError, ValueError):
        slots = []  # an unreadable or unsafe seal is the seal check's finding
    for slot in slots:
        if isinstance(slot, dict):
            claims += _claims_of_record(slot, str(directory / storage.SEAL_NAME), findings)
    files = audit_paths(directory)
    for path in files:
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
    return TreePlan(directory, files, claims, findings, keys, public_key, signatures)


def _check_signatures(
    directory: Path,
    public_key: VerifierKey,
    claims: list[_Claim],
    findings: list[TreeFinding],
) -> tuple[list[CertifiedKey], int]:
    where_certs = str(directory / CERTIFICATES_NAME)

    def refused(why: str) -> tuple[list[CertifiedKey], int]:
        findings.append(TreeFinding(CERTIFICATE_INVALID, where_certs, None, None, why))
        return [], 0

    try:
        store = CertificateStore.load(directory)
    except ValueError as exc:
        return refused(str(exc))
    if not store.certificates:
        return refused(
            f"the trail has no day-key certificates, so no checkpoint can be checked with "
            f"the public key {public_key.name}"
        )
    try:
        keys = walk_certificates(public_key, store.certificates)
    except NoteError as exc:
        return refused(f"{exc}: a certificate was replaced, or the trail is not the public key's")
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


def judge(plan: TreePlan, scan: TreeScan) -> TreeCheck:
    """Compare the checkpoints of ``plan`` with the recomputed tree: the check's outcome."""
    findings = list(plan.findings)
    claims, roots, last = plan.claims, scan.roots, scan.last
    if scan.unreadable is not None:
        findings.append(
            TreeFinding(
                TREE_MISMATCH,
                str(plan.tree_file),
                None,
                None,
                f"the stored tree cannot be read: {scan.unreadable}",
            )
        )
    if scan.mismatch is not None:
        file, line, leaf = scan.mismatch
        findings.append(
            TreeFinding(
                TREE_MISMATCH,
                file,
                line,
                leaf + 1,
                f"the stored Merkle tree ({TREE_NAME}) does not match event line "
                f"{leaf + 1} of the trail: the line or the tree file was changed",
            )
        )
    leaves = scan.leaves
    if scan.stopped is not None:
        findings.append(
            TreeFinding(
                TREE_MISMATCH,
                None,
                None,
                None,
                f"the Merkle tree could not be recomputed past event {leaves}: "
                f"{scan.stopped}; the checkpoints beyond it were not checked",
            )
        )
    checked = 0
    for claim in claims:
        if not claim.compare or (scan.stopped is not None and claim.checkpoint.size > leaves):
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
    if plan.public_key is not None and plan.keys:
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
    return TreeCheck(findings, leaves, checked, plan.signatures)
