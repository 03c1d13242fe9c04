"""The key an auditor verifies MACs with: a static key, or a forward-secure verification key.

The ``mac`` object a keyed line or record carries is built and parsed by
:mod:`fapilog_notebook.chain` (``mac_object``, ``check_line``); the keyring
interprets it: which key checks it (:meth:`Keyring.lookup`, a ``chain.KeyLookup``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ..chain import ALG_FORWARD_SECURE, ALG_STATIC, Hmac
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
        #: Each key keyed once (by ``mac.day``; "" for the static key), for all it checks;
        #: not pickled (a worker process keys its own).
        self._hmacs: dict[str, Hmac] = {}

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_hmacs"] = {}
        return state

    def __repr__(self) -> str:
        kind = "forward-secure" if self.verification else "static"
        return f"Keyring({kind}, key=<hidden>)"

    def lookup(self, mac: Any) -> Hmac:
        """The key for an event's ``mac`` object, keyed; ``ValueError`` when there is none."""
        alg = mac.get("alg") if isinstance(mac, dict) else None
        if self.static is not None:
            if alg != ALG_STATIC:
                raise ValueError(f"the event is MACed with {alg}, but the key given is static")
            return self._hmac("", self.static)
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
        return self._hmac(str(day), key)

    def _hmac(self, label: str, key: bytes) -> Hmac:
        """``key`` (of ``label``) keyed, once."""
        found = self._hmacs.get(label)
        if found is None:
            found = self._hmacs[label] = Hmac(key)
        return found
