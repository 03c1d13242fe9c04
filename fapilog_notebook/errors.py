"""Every exception and warning the library raises, in one place.

Each one subclasses the built-in a caller would already catch (a bad key or
a malformed proof is a ``ValueError``, a refused file an ``OSError``), so
code written for fapilog's ``AuditTrail`` keeps working::

    Exception
    ├── RuntimeError
    │   ├── DirectoryLockedError     another writer holds the directory
    │   └── ShipError                a shipped copy differs from what was sent
    ├── ValueError
    │   ├── AuditKeyError            a MAC key or key file is unusable
    │   ├── SigningKeyError          a signing key file or certificate chain is unusable
    │   ├── NoteError                a signed note, verifier key or checkpoint is malformed
    │   ├── ProofFormatError         a proof file is malformed
    │   ├── MerkleProofError         a Merkle proof does not verify
    │   ├── UnsafeRecordError        a seal or manifest is not a sane regular file
    │   └── DuplicateKeyError        a JSON object names a key twice
    └── OSError
        └── UnsafeFileError          a name the writer uses is a link, FIFO or directory

The writer's and the loader's exceptions and warnings (``AuditTrailError`` and
its subclasses, ``AuditWriteWarning``, ``AuditLogWarning``) are drawn with
them once they live here too.
"""

from __future__ import annotations

__all__ = [
    "AuditKeyError",
    "DirectoryLockedError",
    "DuplicateKeyError",
    "MerkleProofError",
    "NoteError",
    "ProofFormatError",
    "ShipError",
    "SigningKeyError",
    "UnsafeFileError",
    "UnsafeRecordError",
]


class DirectoryLockedError(RuntimeError):
    """Another writer (in this process or another) holds the storage directory."""


class ShipError(RuntimeError):
    """What arrived at the destination is not what was sent (or what the manifest records)."""


class AuditKeyError(ValueError):
    """A key or key file that is missing, too short or malformed."""


class SigningKeyError(ValueError):
    """A signing key file or a certificate chain is unusable; the message says why."""


class NoteError(ValueError):
    """A signed note, key or checkpoint is malformed or does not verify."""


class ProofFormatError(ValueError):
    """A proof file is malformed; the message names the part."""


class MerkleProofError(ValueError):
    """A proof or its parameters do not verify; the message says which part failed."""


class UnsafeRecordError(ValueError):
    """A seal or manifest path that is not a regular file of sane size (or is a link)."""


class DuplicateKeyError(ValueError):
    """A JSON object with a key twice (its value names the key)."""


class UnsafeFileError(OSError):
    """A name the writer uses is not a regular file (a symbolic link, a FIFO, a directory).

    The writer refuses it rather than write through a link planted in the
    directory or block for good on a FIFO; the message names the path and
    what is there.
    """
