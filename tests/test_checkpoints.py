"""Signed notes, checkpoints, day-key certificates and offline proof checks."""

from __future__ import annotations

import base64
import stat
from datetime import date
from pathlib import Path

import pytest

from fapilog_notebook.checkpoints import (
    Checkpoint,
    ConsistencyProof,
    InclusionProof,
    SignerKey,
    VerifierKey,
    open_note,
    parse_note,
    sign_note,
)
from fapilog_notebook.errors import NoteError, ProofFormatError, SigningKeyError
from fapilog_notebook.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    consistency_path,
    inclusion_path,
    leaf_hash,
)
from fapilog_notebook.signing import SigningKeyFile, certify, walk_certificates
from fapilog_notebook.verify import verify_consistency, verify_inclusion

# c2sp.org/signed-note example and golang.org/x/mod/sumdb/note test vectors.
C2SP_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
C2SP_NOTE = (
    "This is an example message.\n\n"
    "\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3"
    "mFXmRKuwHjG1Yu72IneyaQM=\n"
)
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_SIGNED = (
    GO_TEXT + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FF"
    "YC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def test_c2sp_example_note_verifies() -> None:
    key = VerifierKey.parse(C2SP_VKEY)
    assert key.encode() == C2SP_VKEY
    note = open_note(C2SP_NOTE, [key])
    assert note.text == "This is an example message.\n"
    tampered = C2SP_NOTE.replace("example message", "exemplary message")
    with pytest.raises(NoteError, match="does not verify"):
        open_note(tampered, [key])


def test_go_note_vector_signs_byte_for_byte() -> None:
    signer = SignerKey.parse(GO_SKEY)
    assert signer.encode() == GO_SKEY
    assert signer.verifier.encode() == GO_VKEY
    assert sign_note(GO_TEXT, [signer]) == GO_SIGNED
    assert open_note(GO_SIGNED, [VerifierKey.parse(GO_VKEY)]).text == GO_TEXT


def test_mangled_verifier_keys_are_refused() -> None:
    raw = bytearray(GO_VKEY.encode())
    for i in range(len(raw)):
        raw[i] += 1
        with pytest.raises(NoteError):
            VerifierKey.parse(raw.decode("latin-1"))
        raw[i] -= 1
    for cut in range(1, len(GO_VKEY)):
        with pytest.raises(NoteError):
            VerifierKey.parse(GO_VKEY[:cut])


def test_unknown_keys_are_ignored_and_none_known_is_refused() -> None:
    ours = SignerKey.generate("example.org/log")
    other = SignerKey.generate("example.org/log")  # same name, different key ID
    note = sign_note("hello\n", [other, ours])
    assert open_note(note, [ours.verifier]).text == "hello\n"
    with pytest.raises(NoteError, match="no trusted key"):
        open_note(sign_note("hello\n", [other]), [ours.verifier])


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ("no signatures\n", "blank line"),
        ("text\n\n", "no signature lines"),
        ("text\n\n- name AAAA\n", "em dash"),
        ("text\n\n\u2014 name !!!!\n", "base64"),
        ("text\n\n\u2014 name AAE=\n", "too short"),
        ("text\n\n\u2014 na+me AAAAAAA=\n", "plus sign"),
        ("te\x01xt\n\n\u2014 name AAAAAAA=\n", "control character"),
        (b"\xff\xfe\n\n", "UTF-8"),
        ("text\n\n\u2014 name AAAAAAA=", "newline"),
    ],
)
def test_hostile_notes_get_a_sentence(data: str | bytes, why: str) -> None:
    with pytest.raises(NoteError, match=why):
        parse_note(data)


def test_checkpoint_body_round_trip_and_hostile_bodies() -> None:
    cp = Checkpoint("example.com/log", 20852163, bytes(range(32)))
    assert cp.body() == (
        "example.com/log\n20852163\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
    )
    assert Checkpoint.parse_body(cp.body()) == cp
    # The tlog-checkpoint example body parses.
    example = (
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    )
    assert Checkpoint.parse_body(example).size == 20852163
    for bad, why in [
        ("o\n012\n" + base64.b64encode(bytes(32)).decode() + "\n", "leading zeros"),
        ("o\n-1\n" + base64.b64encode(bytes(32)).decode() + "\n", "decimal"),
        ("o\n1\n" + base64.b64encode(bytes(31)).decode() + "\n", "31 bytes"),
        ("o\n1\n%%%\n", "base64"),
        ("o\n1\n", "origin, a tree size"),
        ("\n1\n" + base64.b64encode(bytes(32)).decode() + "\n", "origin line is empty"),
    ]:
        with pytest.raises(NoteError, match=why):
            Checkpoint.parse_body(bad)


def test_signer_repr_and_errors_never_show_the_key() -> None:
    signer = SignerKey.parse(GO_SKEY)
    secret = GO_SKEY.split("+", 4)[4]
    assert secret not in repr(signer)
    with pytest.raises(NoteError) as info:
        SignerKey.parse(GO_SKEY.replace("c74f20a3", "c74f20a4"))
    assert secret not in str(info.value)
    signer.destroy()
    with pytest.raises(NoteError, match="destroyed"):
        signer.sign(b"x")


# --- a small signed trail, built in memory -------------------------------------------------


class _Trail:
    """Events, a tree, stored nodes and a day-key chain (what the writer keeps on disk)."""

    def __init__(self, origin: str = "example.org/audit") -> None:
        self.root = SignerKey.generate(origin)
        self.key = SignerKey.generate(origin)
        self.certs = [
            certify(
                self.root, date(2026, 3, 1), self.key.verifier, Checkpoint(origin, 0, EMPTY_ROOT)
            )
        ]
        self.day = date(2026, 3, 1)
        self.lines: list[bytes] = []
        self.tree = MerkleTree()
        self.nodes: dict[tuple[int, int], bytes] = {}
        self.notes: dict[int, tuple[str, tuple[str, ...]]] = {}

    def read(self, level: int, index: int) -> bytes:
        return self.nodes[level, index]

    def log(self, count: int) -> str:
        for _ in range(count):
            line = b'{"sequence_number":%d}' % (len(self.lines) + 1)
            self.lines.append(line)
            for level, index, value in self.tree.append(leaf_hash(line)):
                self.nodes[level, index] = value
        note = self.checkpoint().sign(self.key)
        self.notes[self.tree.size] = (note, tuple(self.certs))
        return note

    def checkpoint(self) -> Checkpoint:
        return Checkpoint(self.root.name, self.tree.size, self.tree.root())

    def next_day(self) -> SignerKey:
        old = self.key
        self.key = SignerKey.generate(self.root.name)
        self.day = date.fromordinal(self.day.toordinal() + 1)
        self.certs.append(certify(old, self.day, self.key.verifier, self.checkpoint()))
        return old

    def prove(self, index: int, size: int) -> InclusionProof:
        note, certs = self.notes[size]
        return InclusionProof(
            self.lines[index], index, tuple(inclusion_path(index, size, self.read)), note, certs
        )


def test_inclusion_proof_round_trip_and_verdicts() -> None:
    trail = _Trail()
    trail.log(10)
    proof = trail.prove(3, 10)
    text = proof.encode()
    assert text.startswith("c2sp.org/tlog-proof@v1\nextra ")
    assert InclusionProof.parse(text) == proof
    verdict = verify_inclusion(text, trail.root.verifier.encode())
    assert verdict.proved, verdict.message
    assert verdict.index == 3
    assert verdict.tree_size == 10


def _corrupt(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


def _resign_id(text: str) -> str:
    """Change the key ID (first four bytes) of the checkpoint's signature."""
    head, sig_line = text.rstrip("\n").rsplit("\n", 1)
    name, encoded = sig_line.rsplit(" ", 1)
    raw = bytearray(base64.b64decode(encoded))
    raw[0] ^= 0xFF
    return f"{head}\n{name} {base64.b64encode(bytes(raw)).decode()}\n"


def test_hostile_proofs_get_a_verdict_not_a_traceback() -> None:
    trail = _Trail()
    trail.log(9)
    good = trail.prove(4, 9)
    text = good.encode()
    public = trail.root.verifier
    path_line = base64.b64encode(good.path[0]).decode()
    cases = {
        "bad base64 hash": _corrupt(text, path_line, "!!notbase64!!"),
        "short hash": _corrupt(text, path_line, base64.b64encode(bytes(31)).decode()),
        "truncated path": _corrupt(text, path_line + "\n", ""),
        "index out of range": _corrupt(text, "index 4\n", "index 99\n"),
        "index with leading zero": _corrupt(text, "index 4\n", "index 04\n"),
        "other index": _corrupt(text, "index 4\n", "index 5\n"),
        "no header": text.split("\n", 1)[1],
        "no blank line": text.replace("\n\n", "\n"),
        "bad extra": _corrupt(text, "extra ", "extra %%%"),
        "empty": "",
        "wrong key hash in the checkpoint signature": _resign_id(text),
        "garbage": "\x00\x01\x02",
    }
    for name, bad in cases.items():
        verdict = verify_inclusion(bad, public)
        assert not verdict.proved, name
        assert verdict.message, name
    wrong_hash = public.encode().replace(f"+{public.key_id:08x}+", "+00000000+")
    verdict = verify_inclusion(text, public)
    assert verdict.proved
    assert not verify_inclusion(text, "not a key").proved
    assert not verify_inclusion(text, wrong_hash).proved


def test_forged_and_foreign_proofs_are_refused() -> None:
    trail = _Trail()
    trail.log(8)
    good = trail.prove(2, 8)
    never = InclusionProof(
        b'{"sequence_number":3,"forged":true}', 2, good.path, good.checkpoint, good.certificates
    )
    verdict = verify_inclusion(never, trail.root.verifier)
    assert not verdict.proved
    assert "root hash" in verdict.message
    other = _Trail("example.org/audit")  # same origin, different root key
    other.log(8)
    verdict = verify_inclusion(other.prove(2, 8), trail.root.verifier)
    assert not verdict.proved
    assert "certificate 1" in verdict.message


def test_a_later_day_key_cannot_prove_an_earlier_day() -> None:
    trail = _Trail()
    trail.log(5)
    trail.next_day()
    trail.log(3)
    # Today's checkpoint covers events 1..8, but events 1..5 belong to yesterday's key.
    verdict = verify_inclusion(trail.prove(1, 8), trail.root.verifier)
    assert not verdict.proved
    assert "before the signing key's period" in verdict.message
    assert verify_inclusion(trail.prove(6, 8), trail.root.verifier).proved
    assert verify_inclusion(trail.prove(1, 5), trail.root.verifier).proved
    # A thief of today's key rewrites yesterday: a new tree signed with today's key.
    thief = trail.key
    forged = MerkleTree()
    nodes: dict[tuple[int, int], bytes] = {}
    lines = [b"rewritten %d" % i for i in range(8)]
    for line in lines:
        for level, index, value in forged.append(leaf_hash(line)):
            nodes[level, index] = value
    note = Checkpoint(trail.root.name, 8, forged.root()).sign(thief)
    path = inclusion_path(1, 8, lambda a, b: nodes[a, b])
    verdict = verify_inclusion(
        InclusionProof(lines[1], 1, tuple(path), note, tuple(trail.certs)), trail.root.verifier
    )
    assert not verdict.proved


def test_replaced_certificate_breaks_the_chain() -> None:
    trail = _Trail()
    trail.log(4)
    old = trail.next_day()
    trail.log(4)
    assert len(walk_certificates(trail.root.verifier, trail.certs)) == 2
    intruder = SignerKey.generate(trail.root.name)
    fake = certify(intruder, date(2026, 3, 2), intruder.verifier, trail.checkpoint())
    with pytest.raises(NoteError, match="certificate 2"):
        walk_certificates(trail.root.verifier, [trail.certs[0], fake])
    backwards = certify(old, date(2026, 2, 1), intruder.verifier, trail.checkpoint())
    with pytest.raises(NoteError, match="later day"):
        walk_certificates(trail.root.verifier, [trail.certs[0], backwards])


def test_consistency_proofs() -> None:
    trail = _Trail()
    old_note = trail.log(5)
    trail.next_day()
    floor_size = trail.tree.size
    trail.log(6)
    new_note, certs = trail.notes[11]
    proof = ConsistencyProof(
        5,
        tuple(consistency_path(5, 11, trail.read)),
        new_note,
        certs,
        tuple(consistency_path(floor_size, 11, trail.read)),
    )
    assert ConsistencyProof.parse(proof.encode()) == proof
    assert verify_consistency(old_note, proof.encode(), trail.root.verifier).proved
    bare = Checkpoint.parse_body(parse_note(old_note).text).body()
    assert verify_consistency(bare, proof, trail.root.verifier).proved
    wrong_old = Checkpoint(trail.root.name, 5, bytes(32)).body()
    assert not verify_consistency(wrong_old, proof, trail.root.verifier).proved
    no_floor = ConsistencyProof(5, proof.path, new_note, certs, ())
    verdict = verify_consistency(old_note, no_floor, trail.root.verifier)
    assert not verdict.proved
    assert "closing checkpoint" in verdict.message
    truncated = proof.encode().replace("old 5\n", "old 4\n")
    assert not verify_consistency(old_note, truncated, trail.root.verifier).proved
    assert not verify_consistency("garbage", proof, trail.root.verifier).proved


def test_proof_parse_errors_name_the_part() -> None:
    with pytest.raises(ProofFormatError, match="no event line"):
        InclusionProof.parse("c2sp.org/tlog-proof@v1\nindex 0\n\nnote\n")
    with pytest.raises(ProofFormatError, match="'index' line"):
        InclusionProof.parse("c2sp.org/tlog-proof@v1\nextra e30=\n\nnote\n")


def test_signing_key_file_create_evolve_and_recover(tmp_path: Path) -> None:
    root = SignerKey.generate("example.org/audit")
    path = tmp_path / "writer.key"
    made = SigningKeyFile.create(path, root, date(2026, 3, 1))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(SigningKeyError, match="already exists"):
        SigningKeyFile.create(path, root, date(2026, 3, 1))
    loaded = SigningKeyFile.load(path)
    assert loaded.key.key_id == made.key.key_id
    assert made.key.encode().split("+", 4)[4] not in repr(loaded)
    old_secret = loaded.key.encode()
    old_key = loaded.key
    closing = Checkpoint(root.name, 7, bytes(32))
    cert = loaded.evolve(date(2026, 3, 2), closing)
    assert old_secret not in path.read_text()
    with pytest.raises(NoteError, match="destroyed"):
        old_key.sign(b"x")
    keys = walk_certificates(root.verifier, SigningKeyFile.load(path).certificates)
    assert [k.day for k in keys] == [date(2026, 3, 1), date(2026, 3, 2)]
    assert keys[0].until == closing
    assert keys[1].key == loaded.key.verifier
    assert cert == loaded.certificates[-1]
    with pytest.raises(SigningKeyError, match="already for"):
        loaded.evolve(date(2026, 3, 2), closing)
    # A replacement cut after its temporary file was complete is finished on load.
    loaded.path = tmp_path / "writer.key.tmp"
    loaded.day = date(2026, 3, 3)
    loaded.save()
    assert SigningKeyFile.load(path).day == date(2026, 3, 3)
    assert not (tmp_path / "writer.key.tmp").exists()
    (tmp_path / "writer.key.tmp").write_text("half a fi")
    assert SigningKeyFile.load(path).day == date(2026, 3, 3)
    path.write_text("{}")
    with pytest.raises(SigningKeyError, match="not a"):
        SigningKeyFile.load(path)
