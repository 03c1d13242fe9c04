"""The keys a trail MACs with: a static key, or a forward-secure writer key that evolves by day.

Events are MACed as they are chained (:mod:`._head`); seals, manifests and
empty-day records with the key of the day they describe (:mod:`._records`).
The ``mac`` object saying which key is built and parsed by
:mod:`fapilog_notebook.chain` (:func:`~fapilog_notebook.chain.mac_object`);
this module interprets it for the writer, ``verify/_keyring.py`` for the verifier.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from .. import keys
from ..chain import Hmac, mac_object

__all__ = ["MacKeys"]


class MacKeys:
    """Which key MACs what: ``static`` (a key given as bytes) or ``writer`` (a key file).

    ``writer`` is loaded when the trail opens its directory and dropped when
    it closes; the key file evolves one way at each UTC day boundary.
    """

    __slots__ = ("_day_hmac", "_writer", "key_file", "static", "static_hmac")

    def __init__(self, key: bytes | None, key_file: Path | str | None) -> None:
        if key is not None and key_file is not None:
            raise ValueError(
                "pass either key (a static key) or key_file (forward-secure), not both"
            )
        self.static = None if key is None else keys.check_key_bytes(key)
        #: ``static`` keyed once, for every event it MACs.
        self.static_hmac = None if self.static is None else Hmac(self.static)
        self.key_file = None if key_file is None else Path(key_file)
        self._writer: keys.WriterKey | None = None
        #: The writer key's current day and its key, keyed once (dropped with the writer).
        self._day_hmac: tuple[date, Hmac] | None = None

    @property
    def writer(self) -> keys.WriterKey | None:
        """The forward-secure writer key, while the trail's directory is open."""
        return self._writer

    @writer.setter
    def writer(self, value: keys.WriterKey | None) -> None:
        self._writer = value
        self._day_hmac = None

    def writer_hmac(self) -> Hmac:
        """The writer key of its current day, keyed once a day for the events it MACs."""
        writer = self._writer
        assert writer is not None
        cached = self._day_hmac
        if cached is None or cached[0] != writer.day:
            cached = self._day_hmac = (writer.day, Hmac(writer.key))
        return cached[1]

    @property
    def keyed(self) -> bool:
        """True when events are MACed (static or forward-secure key)."""
        return self.static is not None or self.key_file is not None

    def load(self) -> None:
        """Read the forward-secure key file, if there is one (worker thread)."""
        if self.key_file is not None:
            self.writer = keys.WriterKey(self.key_file)

    def record_key(self) -> tuple[dict[str, str] | None, bytes | None]:
        """The ``mac`` object and key for a seal: the key events are MACed with now."""
        if self.static is not None:
            return mac_object(), self.static
        if self.writer is None:
            return None, None
        return mac_object(self.writer.day), self.writer.key

    def day_key(self, day: date) -> tuple[dict[str, str] | None, bytes | None] | None:
        """The ``mac`` object and key for a record of ``day``.

        Forward-secure, the day's own key, or ``None`` when it is gone (the
        key file moved past the day, which is recorded before that happens).
        """
        if self.writer is None:
            return self.record_key()
        key = self.writer.key_for(day)
        if key is None:
            return None
        return mac_object(day), key
