"""The format core keeps no module state: callers own the objects that remember.

``chain`` once kept the last HMAC, the last ``mac`` object's key and the last
hashed checksum in module globals; they are now a :class:`~fapilog_notebook.chain.Hmac`
held by the key's holder and a :class:`~fapilog_notebook.chain.LineChecker`
per loop. These tests pin that shape.
"""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import fapilog_notebook
from fapilog_notebook.chain import Hmac, LineChecker, check_line, digest, encode_event, mac_object
from fapilog_notebook.verify._keyring import Keyring

PACKAGE = Path(fapilog_notebook.__file__).parent
KEY = b"k" * 32


def test_the_format_core_writes_no_module_global() -> None:
    for name in ("chain.py", "records.py"):
        tree = ast.parse((PACKAGE / name).read_text(encoding="utf-8"))
        assert not [node for node in ast.walk(tree) if isinstance(node, ast.Global)], name


def test_an_hmac_object_macs_as_its_key_does() -> None:
    assert digest(b"{}", Hmac(KEY)) == digest(b"{}", KEY) != digest(b"{}")


def test_a_line_checker_gives_check_lines_verdicts() -> None:
    previous = None
    lines = []
    for sequence in range(1, 4):
        payload = {"event_id": str(sequence), "mac": mac_object()}
        line, previous = encode_event(
            payload, sequence_number=sequence, previous_hash=previous, key=KEY
        )
        lines.append(line.rstrip(b"\n"))
    lines.append(lines[1].replace(b'"event_id":"2"', b'"event_id":"x"'))
    checker = LineChecker()
    for raw in lines:
        for key_for in (None, lambda mac: KEY, lambda mac: Hmac(KEY)):
            assert checker.check(raw, key_for) == check_line(raw, key_for)
    assert [check_line(raw, lambda mac: KEY).checksum_ok for raw in lines] == [
        True,
        True,
        True,
        False,
    ]


def test_a_keyring_that_looked_keys_up_still_pickles_for_worker_processes() -> None:
    keyring = Keyring(KEY)
    keyed = keyring.lookup(mac_object())
    copy = pickle.loads(pickle.dumps(keyring))
    assert digest(b"{}", copy.lookup(mac_object())) == digest(b"{}", keyed)
