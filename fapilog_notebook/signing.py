"""Forward-secure Ed25519 signing: a root key, day keys and the certificates linking them.

The root key pair is made once (``fapilog-notebook keygen --signing``); its
public half, a C2SP verifier key, is all an auditor needs. The root private
key certifies the first day key and is then kept offline or nowhere. At each
UTC day boundary the writer makes the next day's key pair and certifies its
public key, together with the *closing checkpoint* of the ending day, with
the ending day's private key; then it destroys that key. A certificate is a
signed note::

    fapilog-notebook/day-key@v1
    <origin>
    day 2026-03-30
    key <verifier key of the new day key>
    closing <tree size> <base64 root hash>

signed by the previous key (the root key for the first certificate, which
carries ``closing 0`` and the empty tree's root). Key periods are ordered by
day; a day with no events needs no key.

Whoever holds today's key can sign only checkpoints whose tree starts after
the closing checkpoint certified by yesterday's key: `CertifiedKey` carries
that lower bound and the verifiers enforce it.

The signing key file (0600) holds the current day key and the chain of
certificates from the root to it, as JSON; it is replaced atomically.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from .checkpoints import Checkpoint, SignerKey, VerifierKey, b64decode_strict, open_note, sign_note
from .errors import NoteError, SigningKeyError
from .merkle import EMPTY_ROOT, HASH_SIZE

__all__ = [
    "CERT_HEADER",
    "CertifiedKey",
    "DayCertificate",
    "SigningKeyFile",
    "certify",
    "root_public_text",
    "signing_keygen",
    "walk_certificates",
]

CERT_HEADER = "fapilog-notebook/day-key@v1"
_FILE_KIND = "fapilog-notebook signing key"
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class DayCertificate:
    """The parsed text of a day-key certificate (its signature checked elsewhere)."""

    origin: str
    day: date
    key: VerifierKey
    closing: Checkpoint

    def body(self) -> str:
        """Return the certificate's note text."""
        root = self.closing.body().split("\n")[2]
        return (
            f"{CERT_HEADER}\n{self.origin}\nday {self.day.isoformat()}\n"
            f"key {self.key.encode()}\nclosing {self.closing.size} {root}\n"
        )

    @classmethod
    def parse_body(cls, text: str) -> DayCertificate:
        """Parse a certificate's note text; raise `NoteError` naming what is wrong."""
        lines = text.split("\n")
        if len(lines) != 6 or lines[-1] != "" or lines[0] != CERT_HEADER:
            raise NoteError(f"a day-key certificate has five lines, the first {CERT_HEADER!r}")
        origin = lines[1]
        day_line, key_line, closing_line = lines[2], lines[3], lines[4]
        if not day_line.startswith("day ") or not _DAY.fullmatch(day_line[4:]):
            raise NoteError("the certificate's day line is not 'day YYYY-MM-DD'")
        try:
            day = date.fromisoformat(day_line[4:])
        except ValueError:
            raise NoteError("the certificate's day is not a calendar date") from None
        if not key_line.startswith("key "):
            raise NoteError("the certificate has no 'key' line")
        key = VerifierKey.parse(key_line[4:])
        if key.name != origin:
            raise NoteError("the certified key's name is not the certificate's origin")
        parts = closing_line.split(" ")
        if len(parts) != 3 or parts[0] != "closing":
            raise NoteError("the certificate's closing line is not 'closing <size> <root>'")
        closing = Checkpoint.parse_body(f"{origin}\n{parts[1]}\n{parts[2]}\n")
        return cls(origin, day, key, closing)


def certify(signer: SignerKey, day: date, new_key: VerifierKey, closing: Checkpoint) -> str:
    """Return the certificate, signed by ``signer``, of ``new_key`` for ``day``."""
    cert = DayCertificate(signer.name, day, new_key, closing)
    return sign_note(cert.body(), [signer])


@dataclass(frozen=True)
class CertifiedKey:
    """A day key whose certificate chain from the root verified.

    ``floor`` is the closing checkpoint of the previous key's period: every
    checkpoint this key signs must extend it (size at least ``floor.size``).
    ``until`` is this key's own closing checkpoint when a later certificate
    names it, else None (the key is today's).
    """

    day: date
    key: VerifierKey
    floor: Checkpoint
    until: Checkpoint | None


def walk_certificates(root: VerifierKey, certificates: Sequence[str]) -> list[CertifiedKey]:
    """Check a certificate chain from ``root``; return the certified keys in order.

    Each certificate must be signed by the previous certified key (the first
    by the root), name the root's origin, a strictly later day, and a closing
    tree no smaller than the previous one. Raises `NoteError` naming the
    first certificate that fails.
    """
    keys: list[CertifiedKey] = []
    signer = root
    for n, text in enumerate(certificates, start=1):
        try:
            note = open_note(text, [signer])
            cert = DayCertificate.parse_body(note.text)
        except NoteError as exc:
            raise NoteError(f"day-key certificate {n}: {exc}") from None
        if cert.origin != root.name:
            raise NoteError(f"day-key certificate {n} names origin {cert.origin!r}")
        if keys:
            prev = keys[-1]
            if cert.day <= prev.day:
                raise NoteError(f"day-key certificate {n} does not move to a later day")
            if cert.closing.size < prev.floor.size:
                raise NoteError(f"day-key certificate {n} closes a smaller tree than before")
            keys[-1] = CertifiedKey(prev.day, prev.key, prev.floor, cert.closing)
        elif cert.closing.size != 0 or cert.closing.root_hash != EMPTY_ROOT:
            raise NoteError("the first day-key certificate must start from the empty tree")
        keys.append(CertifiedKey(cert.day, cert.key, cert.closing, None))
        signer = cert.key
    return keys


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically with mode 0600 (temporary file, fsync, rename)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    _scrub(path)
    os.replace(tmp, path)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def _scrub(path: Path) -> None:
    """Overwrite an existing key file's bytes with zeros (the old private key), then fsync."""
    try:
        fd = os.open(path, os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return
    try:
        size = os.fstat(fd).st_size
        os.write(fd, b"\0" * size)
        os.fsync(fd)
    finally:
        os.close(fd)


class SigningKeyFile:
    """The writer's signing key file: the current day key and its certificate chain.

    Loading finishes an interrupted replacement (a complete ``.tmp`` beside
    the file wins, because it was written before the old key was scrubbed).
    Its repr names the file and the key ID, never the key.
    """

    def __init__(
        self,
        path: Path,
        key: SignerKey,
        day: date,
        certificates: Sequence[str],
        closings: Sequence[str] = (),
    ) -> None:
        """Hold ``key`` (the key for ``day``), its chain and the ended periods' closing notes.

        Use `load` or `create`.
        """
        self.path = path
        self.key = key
        self.day = day
        self.certificates = list(certificates)
        self.closings = list(closings)

    def __repr__(self) -> str:
        return f"SigningKeyFile({str(self.path)!r}, day={self.day}, key={self.key!r})"

    @property
    def origin(self) -> str:
        """The trail's origin (the root key's name)."""
        return self.key.name

    def _text(self) -> str:
        return json.dumps(
            {
                "kind": _FILE_KIND,
                "day": self.day.isoformat(),
                "key": self.key.encode(),
                "certificates": self.certificates,
                "closings": self.closings,
            },
            indent=1,
        )

    def save(self) -> None:
        """Write the file atomically (0600), scrubbing the previous key's bytes first."""
        _write_private(self.path, self._text())

    @classmethod
    def create(cls, path: Path | str, root: SignerKey, day: date) -> SigningKeyFile:
        """Make the first day key for ``day``, certify it with ``root`` and save it."""
        target = Path(path)
        if target.exists() or target.is_symlink():
            raise SigningKeyError(f"{target} already exists; refusing to overwrite a key file")
        key = SignerKey.generate(root.name)
        cert = certify(root, day, key.verifier, Checkpoint(root.name, 0, EMPTY_ROOT))
        made = cls(target, key, day, [cert])
        made.save()
        return made

    @classmethod
    def load(cls, path: Path | str) -> SigningKeyFile:
        """Read a signing key file (finishing an interrupted replacement)."""
        target = Path(path)
        tmp = target.with_name(target.name + ".tmp")
        if tmp.exists():
            try:
                made = cls._parse(tmp, tmp.read_text("utf-8"))
            except (SigningKeyError, OSError, UnicodeDecodeError):
                tmp.unlink()
            else:
                os.replace(tmp, target)
                made.path = target
                return made
        try:
            text = target.read_text("utf-8")
        except FileNotFoundError:
            raise SigningKeyError(f"signing key file {target} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SigningKeyError(f"cannot read signing key file {target}: {exc}") from None
        return cls._parse(target, text)

    @classmethod
    def _parse(cls, path: Path, text: str) -> SigningKeyFile:
        try:
            data: Any = json.loads(text)
        except ValueError:
            raise SigningKeyError(f"{path} is not a signing key file (not JSON)") from None
        if not isinstance(data, dict) or data.get("kind") != _FILE_KIND:
            raise SigningKeyError(f"{path} is not a {_FILE_KIND} file")
        certs = data.get("certificates")
        day_text = data.get("day")
        if not isinstance(certs, list) or not certs or not all(isinstance(c, str) for c in certs):
            raise SigningKeyError(f"{path} holds no certificate chain")
        if not isinstance(day_text, str) or not _DAY.fullmatch(day_text):
            raise SigningKeyError(f"{path} holds no day")
        closings = data.get("closings", [])
        if not isinstance(closings, list) or not all(isinstance(c, str) for c in closings):
            raise SigningKeyError(f"{path} holds a malformed list of closing checkpoints")
        key_text = data.get("key")
        if not isinstance(key_text, str):
            raise SigningKeyError(f"{path} holds no key")
        try:
            key = SignerKey.parse(key_text)
            day = date.fromisoformat(day_text)
        except (NoteError, ValueError):
            raise SigningKeyError(f"{path} holds a malformed key or day") from None
        return cls(path, key, day, certs, closings)

    def evolve(self, day: date, closing: Checkpoint) -> str:
        """Move to ``day``'s key: certify a new key with ``closing``, save, destroy the old key.

        The ending key also signs ``closing`` as a checkpoint note (kept in
        `closings`, to prove the ended period's events later). The new key,
        chain and notes are written (temporary file, fsync) before the old
        file's bytes are scrubbed and replaced, so a crash leaves one usable
        key. Returns the new certificate (to store beside the trail).
        """
        if day <= self.day:
            raise SigningKeyError(f"the signing key is already for {self.day}, not before {day}")
        new_key = SignerKey.generate(self.origin)
        cert = certify(self.key, day, new_key.verifier, closing)
        note = closing.sign(self.key)
        old = self.key
        self.key, self.day = new_key, day
        self.certificates.append(cert)
        self.closings.append(note)
        self.save()
        old.destroy()
        return cert


def root_public_text(root: SignerKey) -> str:
    """Return the root's verifier key as a line of text (the public key file)."""
    return root.verifier.encode() + "\n"


def parse_root_hash(text: str) -> bytes:
    """Decode a base64 root hash; raise `NoteError` if it is not 32 bytes."""
    raw = b64decode_strict(text, "the root hash")
    if len(raw) != HASH_SIZE:
        raise NoteError(f"the root hash is {len(raw)} bytes, not {HASH_SIZE}")
    return raw


MAX_ORIGIN = 128


def signing_keygen(
    signing_key: Path | str,
    public_key: Path | str,
    *,
    day: date,
    origin: str | None = None,
    root_key: Path | str | None = None,
) -> tuple[Path, Path]:
    """Make a root key pair and the writer's first day key, certified by the root.

    Writes the root's verifier key to ``public_key`` (safe to publish) and
    the day key with its certificate to ``signing_key`` (0600). The root
    private key is written only to ``root_key`` (0600) when given, else it is
    kept nowhere. ``origin`` names the trail (a schema-less URL without
    spaces or ``+``; default ``fapilog-notebook/<random>``). No file may exist.
    """
    targets = [Path(signing_key), Path(public_key)] + ([Path(root_key)] if root_key else [])
    if len({p.resolve() for p in targets}) != len(targets):
        raise ValueError("the signing key, public key and root key must be different files")
    for path in targets:
        if path.exists() or path.is_symlink():
            raise FileExistsError(f"{str(path)!r} exists already; a key is never overwritten")
        if not path.parent.is_dir():
            raise FileNotFoundError(f"directory {str(path.parent)!r} does not exist")
    name = origin if origin is not None else f"fapilog-notebook/{os.urandom(8).hex()}"
    if len(name) > MAX_ORIGIN:
        raise ValueError(f"the origin is longer than {MAX_ORIGIN} characters")
    try:
        root = SignerKey.generate(name)
    except NoteError as exc:
        raise ValueError(f"origin {name!r} is not a key name: {exc}") from None
    if root_key is not None:
        _write_new_private(Path(root_key), root.encode() + "\n")
    public = Path(public_key)
    fd = os.open(public, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        os.write(fd, root_public_text(root).encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    SigningKeyFile.create(signing_key, root, day)
    root.destroy()
    return Path(signing_key), public


def _write_new_private(path: Path, text: str) -> None:
    """Create ``path`` (which must not exist) with mode 0600 holding ``text``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
