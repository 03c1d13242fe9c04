"""The key an auditor verifies MACs with: a static key, or a forward-secure verification key.

The ``mac`` object a keyed line or record carries is built and parsed by
:mod:`fapilog_notebook.chain` (``mac_object``, ``check_line``); the keyring
interprets it: which key checks it (:meth:`Keyring.lookup`, a ``chain.KeyLookup``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ..chain import ALG_FORWARD_SECURE, ALG_STATIC
from ..keys import VerificationKey, check_key_bytes

__all__ = ["Keyring"]


class Keyring:
    """The key MACs are checked with: a static key, or an auditor's verification key.

    A forward-secure event names the day whose key MACed it; the keyring
    derives that day's key from the verification key (and caches it).
    """

    def __init__(self, key: bytes | VerificationKey) -> None:
        if isinstance(key, VerificationKey):
            self.verification: VerificationKey | None = key
            self.static: bytes | None = None
        else:
            self.verification = None
            self.static = check_key_bytes(key)
        self._days: dict[str, bytes] = {}

    def __repr__(self) -> str:
        kind = "forward-secure" if self.verification else "static"
        return f"Keyring({kind}, key=<hidden>)"

    def lookup(self, mac: Any) -> bytes:
        """The key for an event's ``mac`` object; ``ValueError`` when there is none."""
        alg = mac.get("alg") if isinstance(mac, dict) else None
        if self.static is not None:
            if alg != ALG_STATIC:
                raise ValueError(f"the event is MACed with {alg}, but the key given is static")
            return self.static
        assert self.verification is not None
        if alg != ALG_FORWARD_SECURE:
            raise ValueError(
                f"the event is MACed with {alg}, but the key given is a forward-secure "
                "verification key"
            )
        day = mac.get("day")
        key = self._days.get(day) if isinstance(day, str) else None
        if key is None:
            try:
                key = self.verification.key_for(date.fromisoformat(str(day)))
            except ValueError as exc:
                raise ValueError(f"no key for mac.day {str(day)[:20]!r}: {exc}") from None
            self._days[str(day)] = key
        return key
