"""The hash chain: canonical JSON, checksums and the link rule.

This is the one place that defines what a valid event line is. The writer
(:mod:`fapilog_notebook.writer`) chains lines with :func:`encode_event`; the verifier
and the storage head finder check them with :func:`check_line` (and the
verifier a batch of intact lines at once with :func:`check_intact_lines`). Both follow
fapilog's format: ``checksum`` is the hex SHA-256 of the canonical JSON of the
payload without its ``checksum`` key; ``previous_hash`` is the predecessor's
checksum (``None`` at the start of a chain); sequence numbers count 1, 2, 3...

A keyed chain replaces the bare hash with HMAC-SHA256 and says so inside the
hashed payload, in a ``mac`` object: ``{"alg": "hmac-sha256"}`` for a static
key, ``{"alg": "hmac-sha256-fs", "day": "YYYY-MM-DD"}`` for a forward-secure
key (the day whose key made the MAC). Unkeyed events have no ``mac`` field and
stay byte-compatible with fapilog. The verifier can thus tell keyed from
unkeyed events, and refuse an unkeyed one when it was given a key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Any, NamedTuple, TypeAlias, cast

from pydantic_core import SchemaValidator, from_json
from pydantic_core import core_schema as cs

from .errors import DuplicateKeyError

__all__ = [
    "ALG_FORWARD_SECURE",
    "ALG_STATIC",
    "CHAIN_FIELDS",
    "CHECKSUM_KEY",
    "MAC_FIELD",
    "Anchor",
    "ChainHead",
    "Hmac",
    "LineCheck",
    "LineChecker",
    "canonical_json",
    "check_intact_lines",
    "check_line",
    "compute_checksum",
    "could_be_torn",
    "digest",
    "encode_event",
    "encode_line",
    "links_to",
    "loads",
    "mac_object",
]

CHECKSUM_KEY = "checksum"
MAC_FIELD = "mac"
ALG_STATIC = "hmac-sha256"
ALG_FORWARD_SECURE = "hmac-sha256-fs"
KNOWN_ALGS = frozenset({ALG_STATIC, ALG_FORWARD_SECURE})
#: Given a keyed event's ``mac`` object, the key to check it with (or None):
#: its bytes, or an :class:`Hmac` keyed with it (what a keyring keeps per key).
KeyLookup = Callable[[Mapping[str, Any]], "bytes | Hmac | None"]
_CHECKSUM_PREFIX = b'{"checksum":"'
_HEX_LEN = 64
_BODY_AT = len(_CHECKSUM_PREFIX) + _HEX_LEN + 2  # where a canonical line's body starts
_HEX_DIGITS = b"0123456789abcdef"
#: What a canonical line holds at its start, where its checksum ends, and at its end.
_CANONICAL_MARK = _CHECKSUM_PREFIX + b'",}'
_sha256 = hashlib.sha256
#: The top-level fields :func:`check_line` reads with ``fields_only=True``.
CHAIN_FIELDS = (
    "sequence_number",
    "previous_hash",
    CHECKSUM_KEY,
    MAC_FIELD,
    "event_id",
    "timestamp",
)
# Parses a whole JSON document but builds Python objects only for CHAIN_FIELDS
# (same parser as ``from_json``: same duplicate-key, number and string rules).
_FIELDS = SchemaValidator(
    cs.typed_dict_schema(
        {name: cs.typed_dict_field(cs.any_schema(), required=False) for name in CHAIN_FIELDS},
        extra_behavior="ignore",
    )
)


def _member_of_mac(name: str) -> list[list[str | int]]:
    return [[MAC_FIELD, name]]


# The same for keyed lines, with ``mac.alg`` and ``mac.day`` instead of the
# ``mac`` object (building an object costs more than parsing the whole line).
_KEYED_FIELDS = SchemaValidator(
    cs.typed_dict_schema(
        {
            **{
                name: cs.typed_dict_field(cs.any_schema(), required=False)
                for name in CHAIN_FIELDS
                if name != MAC_FIELD
            },
            **{
                f"{MAC_FIELD}.{part}": cs.typed_dict_field(
                    cs.any_schema(), required=False, validation_alias=_member_of_mac(part)
                )
                for part in ("alg", "day")
            },
        },
        extra_behavior="ignore",
    )
)


def loads(raw: bytes | str) -> Any:
    """Parse JSON like ``json.loads``, with pydantic-core's faster parser first.

    Anything pydantic-core refuses (a lone surrogate escape, extreme nesting)
    is parsed again by the standard library, so the result never depends on
    which parser read it. Raises ``ValueError`` or ``RecursionError``.
    """
    try:
        return from_json(raw)
    except ValueError:
        return json.loads(raw)


def canonical_json(payload: Mapping[str, Any]) -> str:
    """Serialise ``payload`` the way fapilog does: sorted keys, no spaces, ASCII."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"))


def digest(body: bytes, key: bytes | Hmac | None = None) -> str:
    """Hex SHA-256 of ``body``, or its HMAC-SHA256 under ``key``.

    A key given as bytes is keyed for this one message; callers that MAC
    many keep an :class:`Hmac` per key and pass it instead.
    """
    if key is None:
        return hashlib.sha256(body).hexdigest()
    return _as_hmac(key).hexdigest(body)


class Hmac:
    """HMAC-SHA256 (RFC 2104) as two SHA-256 states keyed once.

    Each message copies the two states; that is much cheaper than copying an
    ``hmac`` object (an OpenSSL MAC context), and the MAC is the same. Its
    holder keeps it as long as the key: the writer's ``MacKeys`` for the key
    it MACs with, the verifier's ``Keyring`` per key, a :class:`LineChecker`
    for the key of the ``mac`` object it saw last. Nothing else keeps one.
    """

    __slots__ = ("inner", "outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > _SHA256_BLOCK:
            key = hashlib.sha256(key).digest()
        block = key.ljust(_SHA256_BLOCK, b"\0")
        self.inner = hashlib.sha256(block.translate(_IPAD))
        self.outer = hashlib.sha256(block.translate(_OPAD))

    def hexdigest(self, body: bytes) -> str:
        inner = self.inner.copy()
        inner.update(body)
        outer = self.outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


_SHA256_BLOCK = 64
_IPAD = bytes(byte ^ 0x36 for byte in range(256))
_OPAD = bytes(byte ^ 0x5C for byte in range(256))


def _as_hmac(key: bytes | Hmac) -> Hmac:
    """``key`` keyed, unless it already is."""
    return key if type(key) is Hmac else Hmac(cast(bytes, key))


def compute_checksum(payload: Mapping[str, Any], key: bytes | Hmac | None = None) -> str:
    """Return the checksum (or MAC) of ``payload``, ignoring any ``checksum`` key in it."""
    if CHECKSUM_KEY in payload:
        payload = {k: v for k, v in payload.items() if k != CHECKSUM_KEY}
    return digest(canonical_json(payload).encode("ascii"), key)


# ---------------------------------------------------------- the mac object
# Built and parsed here, side by side. Which key a ``mac`` object names is
# interpreted by its holders: the writer's ``MacKeys`` (writer/_macs.py) picks
# the key it MACs with, the verifier's ``Keyring.lookup`` (verify/_keyring.py)
# the key it checks with, through :data:`KeyLookup`.


def mac_object(day: date | None = None) -> dict[str, str]:
    """The ``mac`` object of a keyed event or record: ``{"alg": "hmac-sha256"}`` for a
    static key, with ``day`` the forward-secure one naming the day whose key made the MAC."""
    if day is None:
        return {"alg": ALG_STATIC}
    return {"alg": ALG_FORWARD_SECURE, "day": day.isoformat()}


def _mac_fields(value: object) -> tuple[str | None, str | None, str | None]:
    """``(alg, day, problem)`` of a ``mac`` object."""
    if not isinstance(value, dict):
        return None, None, f"mac is {_clip(value)}, expected an object"
    alg, day = value.get("alg"), value.get("day")
    if type(alg) is not str or alg not in KNOWN_ALGS:
        return None, None, f"mac.alg is {_clip(alg)}, expected one of {sorted(KNOWN_ALGS)}"
    assert isinstance(alg, str)
    if alg == ALG_FORWARD_SECURE:
        if not isinstance(day, str) or len(day) != 10:
            return alg, None, f"mac.day is {_clip(day)}, expected a YYYY-MM-DD date"
        return alg, day, None
    return alg, None, None


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The last event of a chain: where the next event links to."""

    sequence_number: int
    checksum: str


def encode_event(
    payload: dict[str, Any],
    *,
    sequence_number: int,
    previous_hash: str | None,
    key: bytes | Hmac | None = None,
) -> tuple[bytes, str]:
    """Chain ``payload`` after its predecessor and return ``(line, checksum)``.

    ``payload`` is a JSON-ready dict (as ``model_dump(mode="json")`` gives)
    without a ``checksum``; it is updated in place with the chain fields.
    With ``key``, the caller has put the ``mac`` object in ``payload``.
    The line ends with ``\\n`` and is the canonical JSON of the chained payload.
    """
    payload.pop(CHECKSUM_KEY, None)
    payload["sequence_number"] = sequence_number
    payload["previous_hash"] = previous_hash
    return encode_line(payload, key)


def encode_line(record: dict[str, Any], key: bytes | Hmac | None = None) -> tuple[bytes, str]:
    """Add the checksum (or MAC) of ``record`` to it; return its line and the checksum.

    The line is the canonical JSON of the record with its checksum, ending
    in ``\\n``: what :func:`compute_checksum` checks. Used for event lines
    (by :func:`encode_event`) and for the seal record (:mod:`.records`).
    """
    record.pop(CHECKSUM_KEY, None)
    body = canonical_json(record)
    checksum = digest(body.encode("ascii"), key)
    if body != "{}" and min(record) > CHECKSUM_KEY:
        # "checksum" sorts first: splice it in instead of serialising again.
        line = '{"checksum":"' + checksum + '",' + body[1:] + "\n"
    else:
        record[CHECKSUM_KEY] = checksum
        line = canonical_json(record) + "\n"
        del record[CHECKSUM_KEY]
    record[CHECKSUM_KEY] = checksum
    return line.encode("ascii"), checksum


@dataclass(frozen=True, slots=True)
class Anchor:
    """A point of the chain an auditor records outside the system.

    ``sequence_number`` and ``checksum`` identify the event; ``time`` is its
    timestamp, for people. History up to an anchor cannot be rewritten
    unnoticed, even by someone who recomputes every checksum and seal.
    """

    sequence_number: int
    checksum: str
    time: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "sequence_number": self.sequence_number,
            "checksum": self.checksum,
            "time": self.time,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_value(cls, value: Any) -> Anchor:
        """An anchor from an ``Anchor``, a ``ChainHead``, a dict or its JSON text.

        :raises ValueError: the value does not hold a sequence number and a checksum.
        """
        if isinstance(value, Anchor):
            return value
        if isinstance(value, ChainHead):
            return cls(value.sequence_number, value.checksum)
        if isinstance(value, (str, bytes)):
            try:
                value = json.loads(value)
            except ValueError:
                raise ValueError(
                    "an anchor must be JSON with sequence_number and checksum"
                ) from None
        if isinstance(value, dict):
            seq, checksum, time = (
                value.get("sequence_number"),
                value.get("checksum"),
                value.get("time"),
            )
            if type(seq) is int and seq >= 1 and _valid_hex(checksum):
                assert isinstance(checksum, str)
                return cls(seq, checksum, time if isinstance(time, str) else None)
        raise ValueError(
            f"not an anchor: {_clip(value)}; expected sequence_number (a positive integer) "
            "and checksum (64 hex digits)"
        )


class LineCheck(NamedTuple):
    """What one line says about the chain, read from its bytes.

    ``obj`` is the decoded JSON object, or ``None`` when the line is not one;
    ``problem`` says why the line cannot take part in the chain (not JSON, not
    an object, chain fields missing or mistyped), else ``None``.
    ``checksum_ok`` tells whether the stored checksum matches the content;
    for a keyed event checked without its key it is ``True`` and
    ``mac_checked`` is ``False`` (links and sequence can still be checked).
    ``mac_alg`` and ``mac_day`` say how a keyed event was MACed; ``mac_note``
    says why its key could not be had. ``rewritten`` is True when the line
    is not byte for byte the canonical JSON the writer writes, yet its values
    re-serialised match the checksum or MAC (spaces added, keys reordered):
    ``checksum_ok`` is then True for an unkeyed line (anyone can recompute a
    bare hash, so the layout proves nothing) and False for a keyed one (a MAC
    is checked over the bytes the writer wrote).
    """

    obj: dict[str, Any] | None
    sequence_number: int | None
    previous_hash: str | None
    checksum: str | None
    checksum_ok: bool
    problem: str | None
    mac_alg: str | None = None
    mac_day: str | None = None
    mac_checked: bool = True
    mac_note: str | None = None
    rewritten: bool = False


def _valid_hex(value: object) -> bool:
    """64 lowercase hex digits (deleting them all leaves nothing)."""
    return (
        isinstance(value, str)
        and len(value) == _HEX_LEN
        and value.isascii()
        and not value.encode("ascii").translate(None, _HEX_DIGITS)
    )


def _all_hex(values: list[Any]) -> bool:
    """:func:`_valid_hex` of every value, in a few passes over all of them."""
    if set(map(type, values)) != {str} or set(map(len, values)) != {_HEX_LEN}:
        return False
    try:
        joined = "".join(values).encode("ascii")
    except UnicodeEncodeError:
        return False
    return not joined.translate(None, _HEX_DIGITS)


def check_line(
    raw: bytes, key_for: KeyLookup | None = None, *, fields_only: bool = False
) -> LineCheck:
    """Decode one line (without its newline) and check its own checksum or MAC.

    ``key_for`` maps a keyed event's ``mac`` object to its key; without it (or
    when it returns ``None``) a keyed event's MAC is left unchecked. Never
    raises on hostile input: every failure becomes ``problem``.

    With ``fields_only``, ``obj`` of a JSON object holds only its
    :data:`CHAIN_FIELDS` (the verifier needs no more, and skipping the rest
    makes a line about three times cheaper to decode); every verdict is the
    same as without it. A loop over many lines uses a :class:`LineChecker`
    (same verdicts, with its shortcuts).
    """
    return LineChecker().check(raw, key_for, fields_only=fields_only)


_line_check = cast(Callable[[tuple[Any, ...]], LineCheck], partial(tuple.__new__, LineCheck))

#: :func:`check_line`'s answer as a plain tuple, in :class:`LineCheck`'s field order.
LineValues: TypeAlias = tuple[
    dict[str, Any] | None,
    int | None,
    str | None,
    str | None,
    bool,
    str | None,
    str | None,
    str | None,
    bool,
    str | None,
    bool,
]


class LineChecker:
    """Checks lines as :func:`check_line` does, remembering what the last lines gave.

    A loop over consecutive lines (the verifier's per-line path, the tail
    readers) makes one and checks every line with it; the verdicts are those
    of :func:`check_line`, which makes a fresh one per line. It keeps:

    - ``mac_memo``: the last ``mac`` object seen (all its values strings, so
      equal means the same text), the key lookup it was seen with, and what
      they gave (``alg``, ``day``, problem, the keyed :class:`Hmac`, note): a
      day's events all carry the same ``mac``, so its key is looked up once a run;
    - ``hashed``: the checksum of the last line whose hash matched (64 hex
      digits, always): in an intact chain the next ``previous_hash``.
    """

    __slots__ = ("hashed", "mac_memo")

    def __init__(self) -> None:
        self.mac_memo: tuple[tuple[tuple[str, Any], ...], object, tuple[Any, ...]] | None = None
        self.hashed: object = "0" * _HEX_LEN

    def check(
        self, raw: bytes, key_for: KeyLookup | None = None, *, fields_only: bool = False
    ) -> LineCheck:
        """:func:`check_line` of ``raw``, with this loop's memory."""
        return _line_check(self.values(raw, key_for, fields_only))

    def values(self, raw: bytes, key_for: KeyLookup | None, fields_only: bool) -> LineValues:
        """:meth:`check` without the named tuple: for the verifier's per-line loop."""
        obj: Any = None
        if fields_only:
            try:
                obj = _FIELDS.validate_json(raw)
            except ValueError:
                obj = None  # not an object, or not JSON: the full parse says which
        if obj is None:
            try:
                obj = loads(raw)
            except (ValueError, RecursionError) as exc:
                problem = f"not valid JSON ({_short(exc)})"
                return None, None, None, None, False, problem, *_NO_MAC, False
            fields_only = False
        if not isinstance(obj, dict):
            problem = f"a JSON {type(obj).__name__}, not an object"
            return None, None, None, None, False, problem, *_NO_MAC, False
        seq = obj.get("sequence_number")
        prev = obj.get("previous_hash")
        checksum = obj.get(CHECKSUM_KEY)
        mac_info = obj.get(MAC_FIELD)
        alg = day = mac_problem = None
        key: Hmac | None = None
        note: str | None = None
        if mac_info is not None:
            memo = self.mac_memo
            if (
                memo is not None
                and memo[1] == key_for
                and isinstance(mac_info, dict)
                and memo[0] == tuple(mac_info.items())
            ):
                alg, day, mac_problem, key, note = memo[2]
            else:
                alg, day, mac_problem = _mac_fields(mac_info)
                if alg is not None and mac_problem is None and key_for is not None:
                    try:
                        found = key_for(mac_info)
                    except ValueError as exc:
                        note = str(exc)
                    else:
                        key = None if found is None else _as_hmac(found)
                if isinstance(mac_info, dict) and all(type(v) is str for v in mac_info.values()):
                    self.mac_memo = (
                        tuple(mac_info.items()),
                        key_for,
                        (alg, day, mac_problem, key, note),
                    )
        # A canonical line whose hash (or MAC) matches has a well-formed checksum.
        hashed = (mac_info is None or key is not None) and _canonical_hash_matches(
            raw, checksum, key
        )
        # In an intact chain the previous_hash is the checksum just hashed: known good.
        prev_ok = prev is None or prev == self.hashed or _valid_hex(prev)
        if hashed:
            self.hashed = checksum
        if (
            type(seq) is not int
            or seq < 1
            or not prev_ok
            or (not hashed and not _valid_hex(checksum))
            or mac_problem
        ):
            return (
                obj,
                seq if type(seq) is int else None,
                prev if isinstance(prev, str) else None,
                checksum if isinstance(checksum, str) else None,
                False,
                _field_problems(seq, prev, checksum, hashed, mac_problem),
                alg,
                day,
                False,
                None,
                False,
            )
        assert isinstance(checksum, str)
        if key is None and alg is not None:
            return obj, seq, prev, checksum, note is None, None, alg, day, False, note, False
        if hashed:
            return obj, seq, prev, checksum, True, None, alg, day, True, None, False
        # The slow twin of the hashed bytes: the values re-serialised (duplicate keys refused).
        verdict, duplicate = _reserialised(raw, checksum, key)
        if duplicate is not None:
            problem = (
                f"an object with the key {_clip(duplicate)} more than once "
                "(readers disagree on which value counts)"
            )
            return obj, seq, prev, checksum, False, problem, alg, day, True, None, False
        rewritten = verdict == _MATCH_REWRITTEN
        ok = verdict == _MATCH_CANONICAL or (rewritten and alg is None)
        return obj, seq, prev, checksum, ok, None, alg, day, True, None, rewritten


def check_intact_lines(
    lines: Sequence[bytes], key_for: KeyLookup | None = None
) -> tuple[list[dict[str, Any]], list[str]] | None:
    """Check a batch of lines at once, for the verifier's common case.

    When every line is a JSON object laid out canonically (as :func:`encode_event`
    writes it) whose hash matches its checksum, or, for keyed lines (every
    line's ``mac`` of the first line's algorithm and day), whose MAC matches under
    the key ``key_for`` gives for it (without ``key_for`` the MACs cannot be
    checked and each checksum need only be 64 hex digits), returns each
    line's :data:`CHAIN_FIELDS` (for keyed lines ``mac.alg`` and ``mac.day``
    instead of ``mac``) and checksum. Otherwise ``None``: the caller
    checks the lines one by one with :func:`check_line`, which agrees with
    this on every line it accepts (sequence numbers and links are the
    caller's to check). A batch costs one parse and one hash per line and no
    per-line Python call.
    """
    count = len(lines)
    if not count:
        return [], []
    start, end = len(_CHECKSUM_PREFIX), _BODY_AT - 2
    marks = [line[:start] + line[end:_BODY_AT] + line[-1:] for line in lines]
    if marks.count(_CANONICAL_MARK) != count:
        return None
    try:
        mac = _FIELDS.validate_json(lines[0]).get(MAC_FIELD)
        if mac is None:
            objs = list(map(_FIELDS.validate_json, lines))
        else:
            alg, day, problem = _mac_fields(mac)
            if problem is not None:
                return None
            objs = list(map(_KEYED_FIELDS.validate_json, lines))
    except ValueError:
        return None
    if mac is None:
        # No line may carry a ``mac`` (an object or not): it would be judged apart.
        if [obj.get(MAC_FIELD) for obj in objs].count(None) != count:
            return None
        digests = [_sha256(b"{" + line[_BODY_AT:]).hexdigest() for line in lines]
    else:
        # A line whose ``mac.alg`` is the first line's has a ``mac`` object, so
        # it is keyed as the first (a forward-secure one for the same day).
        if [obj.get("mac.alg") for obj in objs].count(alg) != count or (
            day is not None and [obj.get("mac.day") for obj in objs].count(day) != count
        ):
            return None
        if key_for is None:
            checksums = [obj.get(CHECKSUM_KEY) for obj in objs]
            return (objs, checksums) if _all_hex(checksums) else None
        try:
            key = key_for(mac)
        except ValueError:
            return None
        if key is None:
            return None
        keyed = _as_hmac(key)
        inner_state, outer_state = keyed.inner.copy, keyed.outer.copy
        digests = []
        for line in lines:  # Hmac.hexdigest, inline
            inner = inner_state()
            inner.update(b"{" + line[_BODY_AT:])
            outer = outer_state()
            outer.update(inner.digest())
            digests.append(outer.hexdigest())
    if [obj.get(CHECKSUM_KEY) for obj in objs] != digests:
        return None
    return objs, digests


#: The MAC fields of a line with no ``mac`` (``LineCheck``'s defaults).
_NO_MAC: tuple[None, None, bool, None] = (None, None, True, None)


def _field_problems(
    seq: object, prev: object, checksum: object, hashed: bool, mac_problem: str | None
) -> str:
    """Why the chain fields of a line are unusable, in one sentence per field."""
    problems = []
    if type(seq) is not int or seq < 1:
        problems.append(f"sequence_number is {seq!r}, expected a positive integer")
    if prev is not None and not _valid_hex(prev):
        problems.append(f"previous_hash is {_clip(prev)}, expected null or 64 hex digits")
    if not hashed and not _valid_hex(checksum):
        problems.append(f"checksum is {_clip(checksum)}, expected 64 hex digits")
    if mac_problem:
        problems.append(mac_problem)
    return "; ".join(problems)


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise DuplicateKeyError(name)
            seen.add(name)
    return obj


#: What :func:`_reserialised` finds: no match, a match by a canonical line, a
#: match only once the values are re-serialised (the line was laid out otherwise).
_NO_MATCH, _MATCH_CANONICAL, _MATCH_REWRITTEN = range(3)


def _reserialised(raw: bytes, checksum: str, key: Hmac | None) -> tuple[int, str | None]:
    """The slow twin of :func:`_canonical_hash_matches` (pinned together by
    ``tests/test_batch_check.py`` and ``tests/test_verify_hardening.py``).

    For a line that does not start with its checksum, or whose bytes do not
    hash to it: parse every value (refusing a duplicate key, whose meaning
    depends on the reader), re-serialise them canonically and compare the
    checksum or MAC. Returns the verdict and the duplicated key, if any.
    """
    try:
        obj = json.loads(raw, object_pairs_hook=_refuse_duplicates)
    except DuplicateKeyError as exc:
        return _NO_MATCH, str(exc)
    except (ValueError, RecursionError):
        return _NO_MATCH, None
    if not isinstance(obj, dict):
        return _NO_MATCH, None
    try:
        if not hmac.compare_digest(compute_checksum(obj, key), checksum):
            return _NO_MATCH, None
        canonical = canonical_json(obj).encode("ascii") == raw
    except (ValueError, TypeError, RecursionError):
        return _NO_MATCH, None
    return (_MATCH_CANONICAL if canonical else _MATCH_REWRITTEN), None


def _canonical_hash_matches(raw: bytes, checksum: object, key: Hmac | None) -> bool:
    """The fast path: a canonical line starts with its checksum and the rest is
    the canonical body, so the body's bytes are hashed as they are."""
    if not raw.startswith(_CHECKSUM_PREFIX) or raw[_BODY_AT - 2 : _BODY_AT] != b'",':
        return False
    if not isinstance(checksum, str) or not checksum.isascii():
        return False
    body = b"{" + raw[_BODY_AT:]
    return hmac.compare_digest(
        _sha256(body).hexdigest() if key is None else key.hexdigest(body), checksum
    )


#: The bytes a canonical line can hold after its checksum: printable ASCII
#: (canonical JSON escapes everything else).
_PRINTABLE = bytes(range(0x20, 0x7F))


def could_be_torn(raw: bytes) -> bool:
    """True when ``raw`` could be the start of an event line as :func:`encode_event` writes it.

    That is what a crash mid-write leaves: ``{"checksum":"``, up to 64 hex
    digits, ``",`` and printable ASCII after (any of it cut short). Anything
    else in an audit file was not put there by the writer.
    """
    if not raw:
        return False
    prefix = len(_CHECKSUM_PREFIX)
    if not _CHECKSUM_PREFIX.startswith(raw[:prefix]):
        return False
    digits = raw[prefix : prefix + _HEX_LEN]
    if digits.translate(None, _HEX_DIGITS):
        return False
    rest = raw[prefix + _HEX_LEN :]
    if not b'",'.startswith(rest[:2]):
        return False
    return not rest[2:].translate(None, _PRINTABLE)


def links_to(previous: ChainHead | None, sequence_number: int, previous_hash: str | None) -> bool:
    """The link rule: does an event with these fields follow ``previous``?"""
    if previous is None:
        return sequence_number == 1 and previous_hash is None
    return sequence_number == previous.sequence_number + 1 and previous_hash == previous.checksum


def _short(exc: BaseException) -> str:
    return str(exc).split("\n", 1)[0][:120]


def _clip(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
