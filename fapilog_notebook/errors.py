"""Every exception and warning the library raises, in one place.

Each one subclasses the built-in a caller would already catch (a bad key or
a malformed proof is a ``ValueError``, a refused file an ``OSError``), and
the writer's keep fapilog's ``AuditTrail`` names, so code written for it
keeps working::

    Exception
    ├── AuditTrailError                  what an AuditTrail raises
    │   ├── AuditTrailLockedError        another writer holds the directory (a DirectoryLockedError)
    │   ├── AuditTrailForkedError        a trail used in a process forked from its writer
    │   ├── AuditWriteError              storage failed, on_write_error="raise" (also OSError)
    │   └── AuditQueueFullError          the pending queue is full, on_write_error="raise"
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
    UserWarning
    ├── AuditWriteWarning            storage is failing or events were dropped
    └── AuditLogWarning              lines were left out of a loaded frame
"""

from __future__ import annotations

__all__ = [
    "AuditKeyError",
    "AuditLogWarning",
    "AuditQueueFullError",
    "AuditTrailError",
    "AuditTrailForkedError",
    "AuditTrailLockedError",
    "AuditWriteError",
    "AuditWriteWarning",
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


class AuditTrailError(Exception):
    """Base class of the errors an ``AuditTrail`` raises.

    ::

        AuditTrailError
        ├── AuditTrailLockedError   another writer holds the directory (start)
        ├── AuditTrailForkedError   a trail used in a process forked from its writer
        ├── AuditWriteError         storage failed, on_write_error="raise"
        └── AuditQueueFullError     the pending queue is full, on_write_error="raise"
    """


class AuditTrailLockedError(AuditTrailError, DirectoryLockedError):
    """Another ``AuditTrail`` (in this process or another) writes to the directory."""


class AuditTrailForkedError(AuditTrailError):
    """A trail started in a parent process was used in a forked child.

    The child shares the parent's directory lock and chain state; writing
    from both would fork the chain. The child makes a new ``AuditTrail``
    once the parent's has stopped.
    """


class AuditWriteError(AuditTrailError, OSError):
    """Storage failed; the event stays queued and is retried by the next write."""


class AuditQueueFullError(AuditTrailError):
    """The pending queue is full (storage has been failing); the event was not queued."""


class AuditWriteWarning(UserWarning):
    """Storage is failing or events were dropped; see ``get_statistics()``."""


class AuditLogWarning(UserWarning):
    """Lines were left out of a loaded frame (run ``verify_audit_log`` for details)."""
