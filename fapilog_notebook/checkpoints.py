"""Signed notes, tree checkpoints and proof files (C2SP formats, Ed25519 signatures).

- Signed notes (c2sp.org/signed-note): a text ending in a newline, a blank
  line, then one ``— <key name> base64(key ID || signature)`` line per
  signature. Key IDs are ``SHA-256(name || 0x0A || 0x01 || public key)[:4]``.
- Verifier keys: ``<name>+<hex key ID>+base64(0x01 || public key)``; signer
  keys: ``PRIVATE+KEY+<name>+<hex key ID>+base64(0x01 || seed)``.
- Checkpoints (c2sp.org/tlog-checkpoint): origin, tree size, base64 root hash.
- Inclusion proofs (c2sp.org/tlog-proof, whose ``extra`` line carries the
  event line and the day-key certificates) and consistency proofs (the same
  shape, with the old tree size in place of the leaf index).

Everything here is pure: text in, values out. Parsing a hostile note or proof
raises `NoteError` or `ProofFormatError` with a sentence naming what is wrong,
never another exception. No private key appears in a repr or an error.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import NoteError, ProofFormatError
from .merkle import HASH_SIZE

__all__ = [
    "ALG_ED25519",
    "CONSISTENCY_HEADER",
    "MAX_SIGNATURES",
    "PROOF_HEADER",
    "Checkpoint",
    "ConsistencyProof",
    "InclusionProof",
    "NoteSignature",
    "SignedNote",
    "SignerKey",
    "VerifierKey",
    "b64decode_strict",
    "key_id",
    "open_note",
    "parse_note",
    "sign_note",
]

ALG_ED25519 = 0x01
MAX_SIGNATURES = 64
PROOF_HEADER = "c2sp.org/tlog-proof@v1"
CONSISTENCY_HEADER = "fapilog-notebook/consistency-proof@v1"
_SIG_PREFIX = "\u2014 "
_MAX_NOTE_BYTES = 1 << 20
_BAD_NAME = re.compile(r"[\s+]")
_DECIMAL = re.compile(r"^(0|[1-9][0-9]{0,19})$")


def b64decode_strict(text: str, what: str) -> bytes:
    """Decode standard base64 (RFC 4648 section 4), rejecting anything else with a `NoteError`."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise NoteError(f"{what} is not valid base64") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise NoteError(f"{what} is not canonical base64")
    return raw


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name:
        raise NoteError("a key name must be a non-empty string")
    if _BAD_NAME.search(name) or any(ord(c) < 0x20 for c in name):
        raise NoteError(f"key name {name!r} contains a space, a plus sign or a control character")


def key_id(name: str, public: bytes) -> int:
    """Return the C2SP key ID of an Ed25519 public key named ``name``."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([ALG_ED25519]) + public).digest()
    return int.from_bytes(digest[:4], "big")


@dataclass(frozen=True)
class VerifierKey:
    """A named Ed25519 public key (safe to publish): it checks signatures."""

    name: str
    key_id: int
    public: bytes

    @classmethod
    def from_public(cls, name: str, public: bytes) -> VerifierKey:
        """Make the verifier key for a raw 32-byte Ed25519 public key."""
        _check_name(name)
        if len(public) != 32:
            raise NoteError(f"an Ed25519 public key is 32 bytes, not {len(public)}")
        return cls(name, key_id(name, public), bytes(public))

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        """Parse ``name+hexid+base64(0x01 || key)``; raise `NoteError` when it is not one."""
        if not isinstance(text, str):
            raise NoteError("a verifier key must be text")
        text = text.strip()
        parts = text.split("+", 2)
        if len(parts) != 3:
            raise NoteError("a verifier key has three parts: name+key ID+base64 key")
        name, hex_id, encoded = parts
        _check_name(name)
        if not re.fullmatch(r"[0-9a-f]{8}", hex_id):
            raise NoteError("a verifier key's ID is 8 lowercase hexadecimal digits")
        raw = b64decode_strict(encoded, "the verifier key")
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise NoteError("the verifier key is not an Ed25519 key (type 0x01, 32 bytes)")
        key = cls.from_public(name, raw[1:])
        if key.key_id != int(hex_id, 16):
            raise NoteError("the verifier key's ID does not match its name and key")
        return key

    def encode(self) -> str:
        """Return the key as ``name+hexid+base64`` text."""
        return f"{self.name}+{self.key_id:08x}+{_b64(bytes([ALG_ED25519]) + self.public)}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Return whether ``signature`` is this key's Ed25519 signature of ``message``."""
        if len(signature) != 64:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


class SignerKey:
    """A named Ed25519 private key. Its repr names the key, never the secret."""

    __slots__ = ("_private", "name", "verifier")

    def __init__(self, name: str, private: Ed25519PrivateKey) -> None:
        """Wrap ``private`` under ``name`` (a C2SP key name)."""
        _check_name(name)
        self.name = name
        self._private: Ed25519PrivateKey | None = private
        public = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.verifier = VerifierKey.from_public(name, public)

    def __repr__(self) -> str:
        state = "destroyed" if self._private is None else "private"
        return f"SignerKey({self.verifier.name}+{self.verifier.key_id:08x}, {state})"

    @property
    def key_id(self) -> int:
        """The key's C2SP ID."""
        return self.verifier.key_id

    @classmethod
    def generate(cls, name: str) -> SignerKey:
        """Make a fresh key pair named ``name``."""
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def parse(cls, text: str) -> SignerKey:
        """Parse ``PRIVATE+KEY+name+hexid+base64(0x01 || seed)``; errors never echo the text."""
        if not isinstance(text, str):
            raise NoteError("a signer key must be text")
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
            raise NoteError("a signer key has the form PRIVATE+KEY+name+key ID+base64 key")
        name, hex_id, encoded = parts[2:]
        _check_name(name)
        if not re.fullmatch(r"[0-9a-f]{8}", hex_id):
            raise NoteError("a signer key's ID is 8 lowercase hexadecimal digits")
        raw = b64decode_strict(encoded, "the signer key")
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise NoteError("the signer key is not an Ed25519 key (type 0x01, 32 bytes)")
        key = cls(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if key.key_id != int(hex_id, 16):
            raise NoteError("the signer key's ID does not match its name and key")
        return key

    def encode(self) -> str:
        """Return the private key as text (for its 0600 key file only)."""
        seed = self._key().private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return f"PRIVATE+KEY+{self.name}+{self.key_id:08x}+{_b64(bytes([ALG_ED25519]) + seed)}"

    def sign(self, message: bytes) -> bytes:
        """Return the Ed25519 signature of ``message``."""
        return self._key().sign(message)

    def destroy(self) -> None:
        """Drop the private key from this object (it can no longer sign)."""
        self._private = None

    def _key(self) -> Ed25519PrivateKey:
        if self._private is None:
            raise NoteError(f"signer key {self.name}+{self.key_id:08x} was destroyed")
        return self._private


@dataclass(frozen=True)
class NoteSignature:
    """One signature line of a note: key name, key ID and raw signature bytes."""

    name: str
    key_id: int
    signature: bytes

    def encode(self) -> str:
        """Return the signature line, newline included."""
        payload = self.key_id.to_bytes(4, "big") + self.signature
        return f"{_SIG_PREFIX}{self.name} {_b64(payload)}\n"


@dataclass(frozen=True)
class SignedNote:
    """A note's text (final newline included) and its signatures."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def encode(self) -> str:
        """Return the note as text: the text, a blank line, the signature lines."""
        return self.text + "\n" + "".join(s.encode() for s in self.signatures)


def _check_text(text: str, what: str) -> None:
    if not text.endswith("\n"):
        raise NoteError(f"{what} must end with a newline")
    for ch in text:
        if ord(ch) < 0x20 and ch != "\n":
            raise NoteError(f"{what} contains a control character (U+{ord(ch):04X})")


def sign_note(text: str, signers: Iterable[SignerKey]) -> str:
    """Sign ``text`` (ending in a newline) with each signer; return the encoded note."""
    _check_text(text, "a note's text")
    message = text.encode("utf-8")
    sigs = tuple(NoteSignature(s.name, s.key_id, s.sign(message)) for s in signers)
    if not sigs:
        raise NoteError("a note needs at least one signature")
    return SignedNote(text, sigs).encode()


def parse_note(data: str | bytes) -> SignedNote:
    """Split a signed note into text and signatures; raise `NoteError` when malformed."""
    if isinstance(data, bytes):
        if len(data) > _MAX_NOTE_BYTES:
            raise NoteError("the note is larger than 1 MiB")
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise NoteError("the note is not valid UTF-8") from None
    if not isinstance(data, str):
        raise NoteError("a note must be text")
    if len(data) > _MAX_NOTE_BYTES:
        raise NoteError("the note is larger than 1 MiB")
    _check_text(data, "the note")
    cut = data.rfind("\n\n")
    if cut < 0:
        raise NoteError("the note has no blank line before its signatures")
    text, block = data[: cut + 1], data[cut + 2 :]
    lines = block.split("\n")[:-1]
    if not lines:
        raise NoteError("the note has no signature lines")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"the note has more than {MAX_SIGNATURES} signatures")
    sigs = []
    for n, line in enumerate(lines, start=1):
        if not line.startswith(_SIG_PREFIX):
            raise NoteError(f"signature line {n} does not start with an em dash and a space")
        fields = line[len(_SIG_PREFIX) :].split(" ")
        if len(fields) != 2:
            raise NoteError(f"signature line {n} is not '— <key name> <base64 signature>'")
        name, encoded = fields
        _check_name(name)
        raw = b64decode_strict(encoded, f"signature {n}")
        if len(raw) < 5:
            raise NoteError(f"signature {n} is too short to hold a key ID and a signature")
        sigs.append(NoteSignature(name, int.from_bytes(raw[:4], "big"), raw[4:]))
    return SignedNote(text, tuple(sigs))


def open_note(data: str | bytes, verifiers: Sequence[VerifierKey]) -> SignedNote:
    """Parse a note and check it against ``verifiers``.

    Signatures by unknown keys are ignored; a signature by a known key (same
    name and ID) that fails rejects the note; at least one known signature
    must verify. Returns the note; raises `NoteError`.
    """
    note = parse_note(data)
    known = {(v.name, v.key_id): v for v in verifiers}
    message = note.text.encode("utf-8")
    verified = 0
    for sig in note.signatures:
        key = known.get((sig.name, sig.key_id))
        if key is None:
            continue
        if not key.verify(message, sig.signature):
            raise NoteError(f"the signature by {sig.name}+{sig.key_id:08x} does not verify")
        verified += 1
    if not verified:
        names = ", ".join(f"{s.name}+{s.key_id:08x}" for s in note.signatures)
        raise NoteError(f"the note is signed by no trusted key (signed by {names})")
    return note


def _decimal(text: str, what: str) -> int:
    if not _DECIMAL.fullmatch(text):
        raise NoteError(f"{what} {text!r} is not a decimal number without leading zeros")
    return int(text)


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: the log's origin, its size in leaves and its root hash."""

    origin: str
    size: int
    root_hash: bytes

    def body(self) -> str:
        """Return the checkpoint's note text (c2sp.org/tlog-checkpoint)."""
        return f"{self.origin}\n{self.size}\n{_b64(self.root_hash)}\n"

    @classmethod
    def parse_body(cls, text: str) -> Checkpoint:
        """Parse a checkpoint's note text; raise `NoteError` when it is not one."""
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise NoteError("a checkpoint has an origin, a tree size and a root hash line")
        origin, size_text, root_text = lines[0], lines[1], lines[2]
        if not origin:
            raise NoteError("the checkpoint's origin line is empty")
        if any(not line for line in lines[3:-1]):
            raise NoteError("the checkpoint has an empty extension line")
        size = _decimal(size_text, "the checkpoint's tree size")
        root = b64decode_strict(root_text, "the checkpoint's root hash")
        if len(root) != HASH_SIZE:
            raise NoteError(f"the checkpoint's root hash is {len(root)} bytes, not {HASH_SIZE}")
        return cls(origin, size, root)

    def sign(self, signer: SignerKey) -> str:
        """Return this checkpoint as a note signed by ``signer``."""
        return sign_note(self.body(), [signer])


def _extra_json(extra: dict[str, object]) -> str:
    raw = json.dumps(extra, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return _b64(raw)


def _parse_extra(text: str) -> dict[str, object]:
    try:
        raw = b64decode_strict(text, "the proof's extra data")
    except NoteError as exc:
        raise ProofFormatError(str(exc)) from None
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ProofFormatError("the proof's extra data is not a JSON object") from None
    if not isinstance(value, dict):
        raise ProofFormatError("the proof's extra data is not a JSON object")
    return value


def _certificates(extra: dict[str, object]) -> tuple[str, ...]:
    certs = extra.get("certificates", [])
    if not isinstance(certs, list) or not all(isinstance(c, str) for c in certs):
        raise ProofFormatError("the proof's certificates are not a list of notes")
    return tuple(certs)


def _split_proof(text: str, header: str, number_word: str) -> tuple[str, int, list[bytes], str]:
    """Return (extra, number, hashes, checkpoint note) of a tlog-proof shaped file."""
    if not isinstance(text, str):
        raise ProofFormatError("a proof must be text")
    if len(text) > _MAX_NOTE_BYTES * 8:
        raise ProofFormatError("the proof is larger than 8 MiB")
    cut = text.find("\n\n")
    if cut < 0:
        raise ProofFormatError("the proof has no blank line before its checkpoint")
    head, note = text[:cut].split("\n"), text[cut + 2 :]
    if head[0] != header:
        raise ProofFormatError(f"the proof does not start with {header!r}")
    pos = 1
    extra = ""
    if pos < len(head) and head[pos].startswith("extra "):
        extra = head[pos][len("extra ") :]
        pos += 1
    if pos >= len(head) or not head[pos].startswith(number_word + " "):
        raise ProofFormatError(f"the proof has no {number_word!r} line")
    try:
        number = _decimal(head[pos][len(number_word) + 1 :], f"the proof's {number_word}")
    except NoteError as exc:
        raise ProofFormatError(str(exc)) from None
    hashes = []
    for n, line in enumerate(head[pos + 1 :], start=1):
        try:
            value = b64decode_strict(line, f"proof hash {n}")
        except NoteError as exc:
            raise ProofFormatError(str(exc)) from None
        if len(value) != HASH_SIZE:
            raise ProofFormatError(f"proof hash {n} is {len(value)} bytes, not {HASH_SIZE}")
        hashes.append(value)
    return extra, number, hashes, note


@dataclass(frozen=True)
class InclusionProof:
    """A self-contained proof that one event line is in a signed tree.

    ``line`` is the event's canonical line (no newline), ``index`` its leaf
    index (sequence number - 1), ``path`` the audit path, ``checkpoint`` the
    signed checkpoint note and ``certificates`` the day-key certificates from
    the root key to the key that signed it.
    """

    line: bytes
    index: int
    path: tuple[bytes, ...]
    checkpoint: str
    certificates: tuple[str, ...] = ()

    def encode(self) -> str:
        """Return the proof as c2sp.org/tlog-proof text."""
        extra = _extra_json(
            {"event": self.line.decode("utf-8"), "certificates": list(self.certificates)}
        )
        hashes = "".join(_b64(h) + "\n" for h in self.path)
        return f"{PROOF_HEADER}\nextra {extra}\nindex {self.index}\n{hashes}\n{self.checkpoint}"

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the proof to one file (its text)."""
        with open(path, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(self.encode())

    @classmethod
    def parse(cls, text: str) -> InclusionProof:
        """Parse a proof file's text; raise `ProofFormatError` naming what is wrong."""
        extra_text, index, hashes, note = _split_proof(text, PROOF_HEADER, "index")
        if not extra_text:
            raise ProofFormatError("the proof carries no event line (its 'extra' line)")
        extra = _parse_extra(extra_text)
        event = extra.get("event")
        if not isinstance(event, str):
            raise ProofFormatError("the proof's extra data holds no event line")
        return cls(event.encode("utf-8"), index, tuple(hashes), note, _certificates(extra))


@dataclass(frozen=True)
class ConsistencyProof:
    """A proof that a signed tree extends the tree of ``old_size`` leaves.

    ``floor_path`` proves that the same signed tree also extends the closing
    checkpoint certified by the previous day key (the start of the signing
    key's period), so a key taken later cannot rewrite what came before it.
    """

    old_size: int
    path: tuple[bytes, ...]
    checkpoint: str
    certificates: tuple[str, ...] = ()
    floor_path: tuple[bytes, ...] = ()

    def encode(self) -> str:
        """Return the proof as text, shaped like a tlog-proof."""
        extra = _extra_json(
            {
                "certificates": list(self.certificates),
                "floor_path": [_b64(h) for h in self.floor_path],
            }
        )
        hashes = "".join(_b64(h) + "\n" for h in self.path)
        return (
            f"{CONSISTENCY_HEADER}\nextra {extra}\nold {self.old_size}\n{hashes}\n{self.checkpoint}"
        )

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the proof to one file (its text)."""
        with open(path, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(self.encode())

    @classmethod
    def parse(cls, text: str) -> ConsistencyProof:
        """Parse a consistency proof's text; raise `ProofFormatError` naming what is wrong."""
        extra_text, old, hashes, note = _split_proof(text, CONSISTENCY_HEADER, "old")
        extra = _parse_extra(extra_text) if extra_text else {}
        floor = extra.get("floor_path", [])
        if not isinstance(floor, list) or not all(isinstance(h, str) for h in floor):
            raise ProofFormatError("the proof's floor path is not a list of base64 hashes")
        floor_path = []
        for n, item in enumerate(floor, start=1):
            try:
                value = b64decode_strict(item, f"floor path hash {n}")
            except NoteError as exc:
                raise ProofFormatError(str(exc)) from None
            if len(value) != HASH_SIZE:
                raise ProofFormatError(
                    f"floor path hash {n} is {len(value)} bytes, not {HASH_SIZE}"
                )
            floor_path.append(value)
        return cls(old, tuple(hashes), note, _certificates(extra), tuple(floor_path))
