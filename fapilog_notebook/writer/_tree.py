"""The trail's Merkle tree file and, with a signing key, its signed checkpoints.

Every trail keeps an RFC 9162 Merkle tree over its event lines beside them
(``.fapilog-notebook.tree``); seals and manifests record its size and root
(:meth:`TreeKeeper.fields`). With a signing key each checkpoint is signed with
the day's Ed25519 key, which is certified and destroyed at each UTC day
boundary (:meth:`TreeKeeper.evolve_signing`). Everything here runs in a
worker thread.
"""

from __future__ import annotations

import base64
import contextlib
from datetime import date
from pathlib import Path
from typing import Any

from ..checkpoints import Checkpoint
from ..signing import SigningKeyFile
from ..treelog import CertificateStore, TreeFile, sign_checkpoint
from ._stats import Faults

__all__ = ["TreeKeeper"]


class TreeKeeper:
    """The open tree file and the loaded signing key, if any.

    A fault while growing the tree is counted as a seal failure (the events
    are written) and the tree is rebuilt from the files at its next use.
    """

    __slots__ = ("_faults", "fsync", "signing", "signing_path", "storage_path", "tree")

    def __init__(
        self, storage_path: Path, fsync: bool, signing_key: Path | None, faults: Faults
    ) -> None:
        self.storage_path = storage_path
        self.fsync = fsync
        self.signing_path = signing_key
        self.signing: SigningKeyFile | None = None
        self.tree: TreeFile | None = None
        self._faults = faults

    def load_signing(self) -> None:
        """Load the signing key and adopt its certificates beside the trail."""
        if self.signing_path is not None:
            self.signing = SigningKeyFile.load(self.signing_path)
            certs = CertificateStore.load(self.storage_path)
            if certs.adopt(self.signing):
                certs.save(self.storage_path, fsync=self.fsync)

    def destroy_signing(self) -> None:
        """Destroy the loaded day key (the trail closes)."""
        if self.signing is not None:
            self.signing.key.destroy()
            self.signing = None

    def open(self, events: int) -> None:
        """Open the tree file and bring it level with ``events`` on disk."""
        if self.tree is not None:
            return
        tree = TreeFile(self.storage_path)
        try:
            tree.resync(self.storage_path, events)
        except BaseException:
            tree.close()
            raise
        self.tree = tree

    def close(self) -> None:
        if self.tree is not None:
            with contextlib.suppress(OSError):
                self.tree.close()
            self.tree = None

    def grow(self, data: bytes, events: int, count: int) -> None:
        """Add a written run's lines to the tree; a fault is counted and the tree rebuilt later."""
        try:
            if self.tree is None:
                self.open(events)  # rebuilt from the files, this run included
            else:
                self.tree.append_run(self.storage_path, data, events - count + 1, events)
        except OSError as exc:
            self.close()
            self._faults.seal_failure(exc)

    def fields(self) -> dict[str, Any]:
        """The tree's size and root (and the signed checkpoint) for a seal or manifest."""
        if self.tree is None:
            return {}
        tree = self.tree.tree
        fields: dict[str, Any] = {
            "tree_size": tree.size,
            "tree_root": base64.b64encode(tree.root()).decode("ascii"),
        }
        if self.signing is not None:
            fields["checkpoint"] = sign_checkpoint(self.signing.key, tree)
        return fields

    def evolve_signing(self, day: date, events: int) -> None:
        """Certify ``day``'s new key with the closing checkpoint; destroy the old key.

        ``events``: the events on disk (the tree is reopened at that size if
        it was closed). The key file is replaced (new key, certificate and
        closing note) before the certificates beside the trail are: a crash
        between the two is repaired at the next start, which adopts the key
        file's chain.
        """
        assert self.signing is not None
        if self.tree is None:
            self.open(events)
        assert self.tree is not None
        tree = self.tree.tree
        self.signing.evolve(day, Checkpoint(self.signing.origin, tree.size, tree.root()))
        certs = CertificateStore.load(self.storage_path)
        if certs.adopt(self.signing):
            certs.save(self.storage_path, fsync=self.fsync)
