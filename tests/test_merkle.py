"""RFC 9162 Merkle tree: test vectors, an independent implementation, proofs round trip."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fapilog_notebook.errors import MerkleProofError
from fapilog_notebook.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    consistency_path,
    inclusion_path,
    leaf_hash,
    node_hash,
    range_hash,
    root_of_leaves,
    verify_consistency_path,
    verify_inclusion_path,
)

VECTORS = json.loads(
    (Path(__file__).parent / "fixtures" / "merkle" / "transparency_dev_vectors.json").read_text()
)

# RFC 6962 / transparency-dev reference leaves and the roots of their prefixes.
LEAF_INPUTS = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def _b(text: str) -> bytes:
    return base64.b64decode(text)


def _build(lines: list[bytes]) -> tuple[MerkleTree, dict[tuple[int, int], bytes]]:
    tree = MerkleTree()
    nodes: dict[tuple[int, int], bytes] = {}
    for line in lines:
        for level, index, value in tree.append(leaf_hash(line)):
            nodes[level, index] = value
    return tree, nodes


def test_reference_roots_for_every_prefix() -> None:
    leaves = [leaf_hash(x) for x in LEAF_INPUTS]
    tree = MerkleTree()
    assert tree.root() == EMPTY_ROOT == bytes.fromhex(ROOTS[0])
    for n, leaf in enumerate(leaves, start=1):
        tree.append(leaf)
        assert tree.root().hex() == ROOTS[n]
        assert root_of_leaves(leaves[:n]).hex() == ROOTS[n]


def test_leaf_and_node_domain_separation() -> None:
    assert leaf_hash(b"").hex() == ROOTS[1]
    assert node_hash(leaf_hash(b""), leaf_hash(b"\x00")).hex() == ROOTS[2]


@pytest.mark.parametrize("case", VECTORS["inclusion"], ids=lambda c: c["file"])
def test_inclusion_vectors(case: dict[str, Any]) -> None:
    args = (
        _b(case["leafHash"]),
        case["leafIdx"],
        case["treeSize"],
        [_b(p) for p in case["proof"] or []],
        _b(case["root"]),
    )
    if case["wantErr"]:
        with pytest.raises(MerkleProofError):
            verify_inclusion_path(*args)
    else:
        verify_inclusion_path(*args)


@pytest.mark.parametrize("case", VECTORS["consistency"], ids=lambda c: c["file"])
def test_consistency_vectors(case: dict[str, Any]) -> None:
    """As the reference, except that a root which is not 32 bytes is always refused."""
    args = (
        case["size1"],
        case["size2"],
        [_b(p) for p in case["proof"] or []],
        _b(case["root1"]),
        _b(case["root2"]),
    )
    stricter = len(args[3]) != 32 or len(args[4]) != 32
    if case["wantErr"] or stricter:
        with pytest.raises(MerkleProofError):
            verify_consistency_path(*args)
    else:
        verify_consistency_path(*args)


def test_vector_happy_paths_are_what_we_generate() -> None:
    """Our proofs for the reference leaves equal the published happy-path proofs."""
    _tree, nodes = _build(LEAF_INPUTS)

    def read(level: int, index: int) -> bytes:
        return nodes[level, index]

    checked = 0
    for case in VECTORS["inclusion"]:
        if case["desc"] == "happy path" and case["treeSize"] <= 8:
            got = inclusion_path(case["leafIdx"], case["treeSize"], read)
            assert got == [_b(p) for p in case["proof"] or []]
            checked += 1
    for case in VECTORS["consistency"]:
        if case["desc"] == "happy path" and case["size1"] > 0 and case["size2"] <= 8:
            got = consistency_path(case["size1"], case["size2"], read)
            assert got == [_b(p) for p in case["proof"] or []]
            checked += 1
    assert checked >= 6


def test_against_pymerkle() -> None:
    """An independent implementation computes the same roots and audit paths."""
    pymerkle = pytest.importorskip("pymerkle")
    other = pymerkle.InmemoryTree(algorithm="sha256")
    lines = [f'{{"sequence_number":{i}}}'.encode() for i in range(1, 41)]
    for line in lines:
        other.append_entry(line)
    _tree, nodes = _build(lines)
    leaves = [leaf_hash(x) for x in lines]

    def read(level: int, index: int) -> bytes:
        return nodes[level, index]

    for n in range(1, len(lines) + 1):
        assert other.get_root(n) == root_of_leaves(leaves[:n]) == range_hash(0, n, read)
        for i in range(0, n, 3):
            theirs = other.prove_inclusion(i + 1, n).serialize()["path"]
            assert [bytes.fromhex(h) for h in theirs[1:]] == inclusion_path(i, n, read)


@given(st.integers(min_value=1, max_value=70), st.data())
def test_generated_proofs_verify_and_tampering_fails(n: int, data: st.DataObject) -> None:
    lines = [b"event %d" % i for i in range(n)]
    tree, nodes = _build(lines)

    def read(level: int, index: int) -> bytes:
        return nodes[level, index]

    root = tree.root()
    i = data.draw(st.integers(min_value=0, max_value=n - 1))
    path = inclusion_path(i, n, read)
    verify_inclusion_path(leaf_hash(lines[i]), i, n, path, root)
    with pytest.raises(MerkleProofError):
        verify_inclusion_path(leaf_hash(b"never logged"), i, n, path, root)
    if path:
        bad = list(path)
        bad[-1] = bytes(32)
        with pytest.raises(MerkleProofError):
            verify_inclusion_path(leaf_hash(lines[i]), i, n, bad, root)
        with pytest.raises(MerkleProofError):
            verify_inclusion_path(leaf_hash(lines[i]), i, n, path[:-1], root)
    m = data.draw(st.integers(min_value=1, max_value=n))
    old = MerkleTree.from_nodes(m, read).root()
    assert old == root_of_leaves([leaf_hash(x) for x in lines[:m]])
    proof = consistency_path(m, n, read)
    verify_consistency_path(m, n, proof, old, root)
    if m < n:
        with pytest.raises(MerkleProofError):
            verify_consistency_path(m, n, proof, leaf_hash(b"other"), root)
        with pytest.raises(MerkleProofError):
            verify_consistency_path(m, n, proof[:-1], old, root)


def test_incremental_state_is_logarithmic_and_restorable() -> None:
    lines = [b"%d" % i for i in range(1000)]
    tree, nodes = _build(lines)
    assert tree.peaks is not None
    assert len(tree.peaks) == bin(1000).count("1")
    again = MerkleTree.from_nodes(1000, lambda level, index: nodes[level, index])
    assert again.root() == tree.root()
    again.append(leaf_hash(b"next"))
    tree.append(leaf_hash(b"next"))
    assert again.root() == tree.root()


@pytest.mark.parametrize(
    ("index", "size", "path", "root", "why"),
    [
        (5, 5, [], bytes(32), "outside a tree"),
        (-1, 5, [], bytes(32), "negative"),
        (0, 2, [bytes(31)], bytes(32), "31 bytes"),
        (0, 1, [bytes(32)], bytes(32), "more hashes"),
        (0, 8, [bytes(32)], bytes(32), "too short"),
        (0, 1, [], b"short", "root hash is 5 bytes"),
    ],
)
def test_hostile_inclusion_parameters_get_a_sentence(
    index: int, size: int, path: list[bytes], root: bytes, why: str
) -> None:
    with pytest.raises(MerkleProofError, match=why):
        verify_inclusion_path(leaf_hash(b"x"), index, size, path, root)


def test_tree_refuses_inconsistent_state() -> None:
    with pytest.raises(ValueError, match="peaks"):
        MerkleTree(3, [bytes(32)])
    with pytest.raises(ValueError, match="outside"):
        inclusion_path(3, 3, lambda level, index: bytes(32))
    with pytest.raises(ValueError, match="no consistency proof"):
        consistency_path(4, 3, lambda level, index: bytes(32))


def test_extend_lines_is_append_in_a_loop() -> None:
    """The fast twin: the same nodes in the same order, the same peaks."""
    lines = [b"line %d" % i for i in range(77)]
    slow, fast = MerkleTree(), MerkleTree()
    nodes = bytearray()
    for line in lines[:5]:
        slow.append(leaf_hash(line))
    fast.extend_lines(lines[:5], bytearray())
    made = bytearray()
    for line in lines[5:]:
        for _level, _index, value in slow.append(leaf_hash(line)):
            nodes += value
    fast.extend_lines(lines[5:], made)
    assert made == nodes
    assert fast.size == slow.size == 77
    assert fast.peaks == slow.peaks
    assert fast.root() == slow.root()
