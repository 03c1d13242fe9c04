"""Offline checks of inclusion and consistency proofs against a root public key.

A proof is checked with nothing but the proof and the root verifier key:
the certificate chain it carries leads from the root key to the day key that
signed its checkpoint; the checkpoint must be signed by that key and lie in
that key's period; the Merkle path must lead from the event line (or the old
tree) to the checkpoint's root. Every failure, hostile input included, is a
`ProofVerdict` with ``proved=False`` and a sentence, never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import storage
from ..checkpoints import Checkpoint, ConsistencyProof, InclusionProof, VerifierKey, open_note
from ..errors import MerkleProofError, NoteError, ProofFormatError
from ..merkle import leaf_hash, verify_consistency_path, verify_inclusion_path
from ..signing import CertifiedKey, walk_certificates

__all__ = ["ProofVerdict", "load_public_key", "verify_consistency", "verify_inclusion"]


@dataclass(frozen=True)
class ProofVerdict:
    """The outcome of checking a proof: whether it proved, and a sentence saying why."""

    proved: bool
    message: str
    index: int | None = None
    tree_size: int | None = None
    origin: str | None = None

    def __bool__(self) -> bool:
        return self.proved

    def __str__(self) -> str:
        return ("proved: " if self.proved else "not proved: ") + self.message


def load_public_key(public_key: VerifierKey | str | Path) -> VerifierKey:
    """Return a verifier key from a key, its text, or a file holding its text.

    Raises `NoteError` (a ValueError) when it is none of these.
    """
    if isinstance(public_key, VerifierKey):
        return public_key
    if isinstance(public_key, Path) or (
        isinstance(public_key, str) and "+" not in public_key and public_key.strip()
    ):
        path = Path(public_key)
        try:
            raw = storage.read_bounded(path, 64 * 1024, follow_links=True)
            if raw is None:
                raise FileNotFoundError(f"no such file: {path}")
            text = raw.decode("utf-8")
        except (OSError, ValueError) as exc:
            raise NoteError(f"cannot read public key file {path}: {exc}") from None
        return VerifierKey.parse(text)
    if isinstance(public_key, str):
        return VerifierKey.parse(public_key)
    raise NoteError(f"a public key is a verifier key or its text, not {type(public_key).__name__}")


def _read_text(value: str | Path, what: str) -> str:
    if isinstance(value, Path):
        try:
            raw = storage.read_bounded(value, 64 << 20, follow_links=True)
            if raw is None:
                raise FileNotFoundError(f"no such file: {value}")
            return raw.decode("utf-8")
        except (OSError, ValueError) as exc:
            raise ProofFormatError(f"cannot read {what} {value}: {exc}") from None
    return value


def _signed_checkpoint(
    note: str, certificates: tuple[str, ...], root: VerifierKey
) -> tuple[Checkpoint, CertifiedKey]:
    """Check the chain and the checkpoint's signature; return the checkpoint and its key."""
    keys = walk_certificates(root, certificates)
    if not keys:
        raise NoteError("the proof carries no day-key certificate from the root key")
    last = keys[-1]
    opened = open_note(note, [last.key])
    checkpoint = Checkpoint.parse_body(opened.text)
    if checkpoint.origin != root.name:
        raise NoteError(f"the checkpoint's origin {checkpoint.origin!r} is not {root.name!r}")
    if checkpoint.size < last.floor.size:
        raise NoteError(
            f"the checkpoint ({checkpoint.size} events) is older than its key's period, which "
            f"starts after event {last.floor.size}"
        )
    return checkpoint, last


def verify_inclusion(
    proof: InclusionProof | str | Path, public_key: VerifierKey | str | Path
) -> ProofVerdict:
    """Check an inclusion proof offline: the event line is in a tree the trail signed.

    ``proof`` is a parsed proof, its text or a path to its file; ``public_key``
    the trail's root verifier key (or its text or file). The event must have
    been logged during the signing key's period (its index at or after the
    period's first event), so a key taken later cannot prove an older event.
    """
    try:
        root = load_public_key(public_key)
        parsed = (
            proof
            if isinstance(proof, InclusionProof)
            else InclusionProof.parse(_read_text(proof, "proof file"))
        )
        checkpoint, key = _signed_checkpoint(parsed.checkpoint, parsed.certificates, root)
        if parsed.index < key.floor.size:
            raise NoteError(
                f"event {parsed.index + 1} was logged before the signing key's period (which "
                f"starts after event {key.floor.size}); prove it with its own day's checkpoint"
            )
        verify_inclusion_path(
            leaf_hash(parsed.line), parsed.index, checkpoint.size, parsed.path, checkpoint.root_hash
        )
    except (NoteError, ProofFormatError, MerkleProofError) as exc:
        return ProofVerdict(False, str(exc))
    return ProofVerdict(
        True,
        f"event {parsed.index + 1} is in the tree of {checkpoint.size} events signed for "
        f"{checkpoint.origin} with the day key of {key.day}",
        parsed.index,
        checkpoint.size,
        checkpoint.origin,
    )


def verify_consistency(
    old_checkpoint: str | Path,
    proof: ConsistencyProof | str | Path,
    public_key: VerifierKey | str | Path,
) -> ProofVerdict:
    """Check offline that the proof's signed tree extends ``old_checkpoint``.

    ``old_checkpoint`` is a checkpoint recorded earlier (a signed note, or a
    bare checkpoint body when it was recorded out of band); its signature is
    not needed, only its size and root.
    """
    try:
        root = load_public_key(public_key)
        old_text = _read_text(old_checkpoint, "checkpoint file")
        try:
            old = Checkpoint.parse_body(_note_text(old_text))
        except NoteError as exc:
            raise NoteError(f"the old checkpoint: {exc}") from None
        parsed = (
            proof
            if isinstance(proof, ConsistencyProof)
            else ConsistencyProof.parse(_read_text(proof, "proof file"))
        )
        if parsed.old_size != old.size:
            raise NoteError(
                f"the proof starts from {parsed.old_size} events, the old checkpoint has {old.size}"
            )
        if old.origin != root.name:
            raise NoteError(f"the old checkpoint's origin {old.origin!r} is not {root.name!r}")
        checkpoint, key = _signed_checkpoint(parsed.checkpoint, parsed.certificates, root)
        verify_consistency_path(
            old.size, checkpoint.size, parsed.path, old.root_hash, checkpoint.root_hash
        )
        try:
            verify_consistency_path(
                key.floor.size,
                checkpoint.size,
                parsed.floor_path,
                key.floor.root_hash,
                checkpoint.root_hash,
            )
        except MerkleProofError as exc:
            raise MerkleProofError(
                f"the signed tree does not extend the closing checkpoint its key was certified "
                f"with ({key.floor.size} events): {exc}"
            ) from None
    except (NoteError, ProofFormatError, MerkleProofError) as exc:
        return ProofVerdict(False, str(exc))
    return ProofVerdict(
        True,
        f"the signed tree of {checkpoint.size} events extends the checkpoint of {old.size}",
        None,
        checkpoint.size,
        checkpoint.origin,
    )


def _note_text(text: str) -> str:
    """Return a note's text part (before its signatures), or the text itself if unsigned."""
    cut = text.rfind("\n\n")
    return text[: cut + 1] if cut >= 0 else text
