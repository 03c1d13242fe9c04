"""The tree's leaves: the block-at-once check agrees with the rule taken line by line."""

from __future__ import annotations

import random
from collections.abc import Iterable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fapilog_notebook.treeformat import (
    MAX_WAITING,
    in_sequence,
    is_leaf_line,
    leaf_blocks,
    sequence_of,
)


def _one_by_one(lines: list[bytes], size: int) -> bool:
    """The rule, line by line: every line a leaf line with the next sequence number."""
    return bool(lines) and all(
        is_leaf_line(line) and sequence_of(line) == size + 1 + i for i, line in enumerate(lines)
    )


def _event(seq: int | str, before: str = "", after: str = ',"user_id":"u"') -> bytes:
    return f'{{"checksum":"c",{before}"sequence_number":{seq}{after}}}'.encode()


# Lines that look like event 1 to a careless check, and what the rule says of each.
TRICKY = {
    "plain": (_event(1), True),
    "last key": (_event(1, after=""), True),
    "leading zero": (_event("01"), True),
    "more digits": (_event(10), False),
    "negative": (_event(-1), False),
    "a string": (_event('"1"'), False),
    "a space": (_event(" 1"), False),
    "twenty digits": (_event("1" * 20), False),
    "key twice, nested first": (_event(1, before='"m":{"sequence_number":1},'), True),
    "key twice, nested last": (_event(1, after=',"m":{"sequence_number":2}'), True),
    "nested only (the rule reads the key where it is)": (b'{"m":{"sequence_number":1}}', True),
    "no key": (b'{"checksum":"c"}', False),
    "no key, a 1 where the number would be": (b"{" + b"x" * 16 + b"1}", False),
    "escaped key": (b'{"sequence\\u005fnumber":1}', True),
    "not an object": (b'["sequence_number":1]', False),
    "no closing brace": (_event(1)[:-1], False),
    "text before": (b"x" + _event(1), False),
    "empty": (b"", False),
    "a float": (_event("1.0"), False),
    "key in a string": (b'{"m":"\\"sequence_number\\":1","sequence_number":1}', True),
}


@pytest.mark.parametrize("name", sorted(TRICKY))
def test_a_block_of_one_tricky_line_is_judged_as_the_line_rule_judges_it(name: str) -> None:
    line, leaf = TRICKY[name]
    assert _one_by_one([line], 0) is leaf
    # The block check may decline (then the lines are taken one by one), never over-accept.
    assert not in_sequence([line], 0) or leaf
    # A good block with the tricky line in the middle is judged the same way.
    block = [_event(1), line.replace(b":1", b":2", 1) if leaf else line, _event(3)]
    assert not in_sequence(block, 0) or _one_by_one(block, 0)


def test_the_block_check_accepts_the_writers_lines() -> None:
    lines = [_event(n) for n in range(41, 141)]
    assert in_sequence(lines, 40)
    assert not in_sequence(lines, 39)
    assert not in_sequence(lines[:50] + lines[51:], 40)
    swapped = list(lines)
    swapped[10], swapped[11] = swapped[11], swapped[10]
    assert not in_sequence(swapped, 40)
    assert not in_sequence([], 0)


_PIECES = st.sampled_from(
    [
        b"{",
        b"}",
        b'"sequence_number":',
        b"1",
        b"2",
        b"0",
        b",",
        b'"m":',
        b'"x"',
        b" ",
        b"\\",
        b'"',
        b"\r",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.lists(_PIECES, max_size=12).map(b"".join), min_size=1, max_size=4))
def test_the_block_check_never_accepts_what_the_line_rule_refuses(lines: list[bytes]) -> None:
    for size in (0, 1):
        if in_sequence(lines, size):
            assert _one_by_one(lines, size), lines


def _reference(files: Iterable[Path]) -> list[tuple[Path, int, bytes]]:
    """The leaves by the rule, one line at a time (the module doc's own words)."""
    size = 0
    waiting: dict[int, tuple[Path, int, bytes]] = {}
    out: list[tuple[Path, int, bytes]] = []
    for path in files:
        data = path.read_bytes()
        lines = data.split(b"\n")
        lines.pop()  # the part after the last newline is not a whole line
        for number, raw in enumerate(lines, 1):
            line = raw[:-1] if raw.endswith(b"\r") else raw
            if not is_leaf_line(line):
                continue
            seq = sequence_of(line)
            if seq is None or seq <= size:
                continue
            if seq == size + 1:
                out.append((path, number, line))
                size += 1
                while size + 1 in waiting:
                    size += 1
                    out.append(waiting.pop(size))
            elif len(waiting) < MAX_WAITING:
                waiting.setdefault(seq, (path, number, line))
    return out


def _flat(files: list[Path]) -> list[tuple[Path, int, bytes]]:
    return [
        (path, first + i, line)
        for path, first, lines in leaf_blocks(files)
        for i, line in enumerate(lines)
    ]


@pytest.mark.parametrize("seed", range(12))
def test_leaf_blocks_give_the_leaves_the_rule_gives_line_by_line(tmp_path: Path, seed: int) -> None:
    """Files of long runs in order, broken by swaps, repeats, gaps, junk and CRLF ends."""
    rng = random.Random(seed)
    files = []
    seq = 0
    for day in range(1, 4):
        lines: list[bytes] = []
        for _ in range(rng.randint(0, 3000)):
            seq += 1
            lines.append(_event(seq))
        for _ in range(rng.randint(0, 6)):
            at = rng.randrange(len(lines) + 1)
            kind = rng.choice(["swap", "repeat", "drop", "junk", "crlf", "blank", "nested", "zero"])
            if kind == "swap" and at + 1 < len(lines):
                lines[at], lines[at + 1] = lines[at + 1], lines[at]
            elif kind == "repeat" and at < len(lines):
                lines.insert(at, lines[at])
            elif kind == "drop" and at < len(lines):
                del lines[at]
            elif kind == "junk":
                lines.insert(at, b'not json "sequence_number":5,')
            elif kind == "crlf" and at < len(lines):
                lines[at] += b"\r"
            elif kind == "blank":
                lines.insert(at, b"")
            elif kind == "nested" and at < len(lines):
                lines[at] = lines[at].replace(b'{"checksum"', b'{"m":{"sequence_number":7},"c"', 1)
            elif kind == "zero" and at < len(lines):
                lines[at] = lines[at].replace(b'"sequence_number":', b'"sequence_number":0', 1)
        path = tmp_path / f"audit_2026-03-0{day}.jsonl"
        tail = b'{"sequence_number":999999' if rng.random() < 0.3 else b""
        path.write_bytes(b"".join(line + b"\n" for line in lines) + tail)
        files.append(path)
    assert _flat(files) == _reference(files)


def test_an_unreadable_audit_file_names_itself(tmp_path: Path) -> None:
    directory = tmp_path / "audit_2026-03-01.jsonl"
    directory.mkdir()
    with pytest.raises(OSError, match=r"audit_2026-03-01\.jsonl cannot be read"):
        list(leaf_blocks([directory]))
