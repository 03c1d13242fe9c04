"""The attack table in the README, one test per cell.

Rows are attacks on a trail written by ``AuditTrail``; columns are the modes it
was written in (unkeyed, keyed, keyed and forward-secure, signed with
forward-secure Ed25519 day keys and checked with the root public key) and an
unkeyed trail checked against an anchor the auditor recorded. Each cell says
which finding kind reveals the attack, or that it is not detected (the report
is valid); the proof rows say whether ``verify_inclusion`` refuses the proof.

The attacker who rewrites history recomputes everything that needs no key:
checksums, links, manifests, the seal, the Merkle tree file and the tree
heads in the seal and manifests (and re-signs with a signing key they stole).
"""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fapilog_notebook import AuditEventType, AuditTrail, storage, verify_audit_log
from fapilog_notebook.chain import Anchor, canonical_json, compute_checksum
from fapilog_notebook.checkpoints import Checkpoint, InclusionProof, SignerKey
from fapilog_notebook.keys import VerificationKey, WriterKey, keygen
from fapilog_notebook.merkle import MerkleTree, inclusion_path, leaf_hash
from fapilog_notebook.signing import SigningKeyFile, certify, signing_keygen
from fapilog_notebook.treeformat import TREE_NAME
from fapilog_notebook.treelog import (
    CERTIFICATES_NAME,
    CertificateStore,
    inclusion_proof,
    iter_leaves,
)
from fapilog_notebook.verify import verify_inclusion

DAYS = [date(2026, 3, 29) + timedelta(days=n) for n in range(4)]
PER_DAY = 6
LATE = 3  # events written by a second writer lifetime at the end of the last day

UNKEYED, KEYED, FORWARD_SECURE, ANCHORED = "unkeyed", "keyed", "keyed+fs", "anchor"
SIGNED = "signed"
MODES = (UNKEYED, KEYED, FORWARD_SECURE, ANCHORED, SIGNED)


@dataclass
class Trail:
    """A trail written for an attack, with what the auditor and the attacker hold."""

    directory: Path
    mode: str
    verify_key: bytes | VerificationKey | None = None
    stolen_key: bytes | None = None  # what an attacker on the writing host has today
    stolen_day: date | None = None
    anchor: Anchor | None = None
    older: dict[str, bytes] = field(default_factory=dict)  # seal and manifest, earlier
    public_key: str | None = None  # the signed trail's root verifier key
    stolen_signer: SignerKey | None = None  # today's signing key, taken from the host

    def verify(self) -> Any:
        anchors = [self.anchor] if self.anchor is not None else []
        return verify_audit_log(
            self.directory, key=self.verify_key, anchors=anchors, public_key=self.public_key
        )


def _clock(start: datetime, step: timedelta) -> Callable[[], datetime]:
    moments = iter(start + step * n for n in range(1000))
    return lambda: next(moments)


async def write_trail(base: Path, mode: str) -> Trail:
    directory = base / "trail"
    trail = Trail(directory, mode)
    options: dict[str, Any] = {}
    if mode == KEYED:
        key = secrets.token_bytes(32)
        options["key"] = trail.verify_key = trail.stolen_key = key
    elif mode == FORWARD_SECURE:
        writer_key, auditor_key = keygen(base / "writer.key", base / "auditor.key", start=DAYS[0])
        options["key_file"] = writer_key
        trail.verify_key = VerificationKey.load(auditor_key)
    elif mode == SIGNED:
        signing, public = signing_keygen(
            base / "writer.signing", base / "root.pub", day=DAYS[0], origin="example.org/audit"
        )
        options["signing_key"] = signing
        trail.public_key = public.read_text().strip()
    clock = _clock(datetime(2026, 3, 29, 1, 0, tzinfo=UTC), timedelta(hours=4))
    total = PER_DAY * len(DAYS)
    async with AuditTrail(storage_path=directory, clock=clock, **options) as writer:
        for i in range(total - LATE):
            await writer.log_event(AuditEventType.DATA_ACCESS, f"event {i}", user_id=f"u{i % 3}")
    trail.older = {
        name: (directory / name).read_bytes()
        for name in (storage.SEAL_NAME, storage.manifest_path(directory, DAYS[-1]).name)
    }
    async with AuditTrail(storage_path=directory, clock=clock, **options) as writer:
        for i in range(total - LATE, total):
            await writer.log_event(AuditEventType.DATA_ACCESS, f"event {i}", user_id=f"u{i % 3}")
        head = writer.head()
    if mode == FORWARD_SECURE:
        state = WriterKey(options["key_file"])
        trail.stolen_key, trail.stolen_day = state.key, state.day
    if mode == ANCHORED:
        trail.anchor = head
    if mode == SIGNED:
        trail.stolen_signer = SigningKeyFile.load(options["signing_key"]).key
    return trail


# ------------------------------------------------------------------ file surgery


def day_file(trail: Trail, day_index: int) -> Path:
    return storage.file_for_day(trail.directory, DAYS[day_index])


def read_lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


def write_lines(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(line + b"\n" for line in lines))


def edit(line: bytes, **changes: Any) -> dict[str, Any]:
    obj: dict[str, Any] = json.loads(line)
    obj.update(changes)
    return obj


def dump(obj: dict[str, Any]) -> bytes:
    return canonical_json(obj).encode()


def recompute_from(
    trail: Trail,
    day_index: int,
    line_index: int,
    *,
    key: bytes | None,
    mac_day: date | None,
    signer: SignerKey | None = None,
) -> None:
    """Alter one event, then recompute every checksum, link, manifest and seal after it.

    ``key`` is what the attacker MACs with (None: bare SHA-256, as without a
    key); ``mac_day`` relabels forward-secure MACs with the day of that key.
    The Merkle tree file and the tree heads are recomputed too; signed
    checkpoints are re-signed with the stolen signing key, if any.
    """
    previous: str | None = None
    started = False
    tallies: dict[date, dict[str, Any]] = {}
    for index, day in enumerate(DAYS):
        path = day_file(trail, index)
        if not path.exists():
            continue
        lines = read_lines(path)
        for number, line in enumerate(lines):
            obj: dict[str, Any] = json.loads(line)
            if (index, number) == (day_index, line_index):
                obj["message"] = "rewritten history"
                started = True
            if started:
                obj["previous_hash"] = previous
                if mac_day is not None:
                    obj["mac"] = {"alg": "hmac-sha256-fs", "day": mac_day.isoformat()}
                obj.pop("checksum", None)
                obj["checksum"] = compute_checksum(obj, key)
                lines[number] = dump(obj)
            previous = obj["checksum"]
            tally = tallies.setdefault(day, {"first": obj["sequence_number"], "events": 0})
            tally.update(last=obj["sequence_number"], checksum=obj["checksum"])
            tally["events"] += 1
        write_lines(path, lines)
    heads = rebuild_tree(trail)
    for day, tally in tallies.items():
        manifest = storage.manifest_path(trail.directory, day)
        if not manifest.exists():
            continue
        record: dict[str, Any] = json.loads(manifest.read_bytes())
        record.update(
            first_sequence=tally["first"],
            last_sequence=tally["last"],
            events=tally["events"],
            last_checksum=tally["checksum"],
        )
        tree_heads(record, heads, tally["last"], signer)
        if mac_day is not None:
            record["mac"] = {"alg": "hmac-sha256-fs", "day": mac_day.isoformat()}
        record.pop("checksum")
        record["checksum"] = compute_checksum(record, key)
        manifest.write_bytes(dump(record) + b"\n")
    last_day = max(tallies)
    seal: dict[str, Any] = {
        "kind": "seal",
        "sequence_number": tallies[last_day]["last"],
        "head_checksum": tallies[last_day]["checksum"],
        "file": storage.file_for_day(trail.directory, last_day).name,
        "time": "2026-04-01T23:00:00Z",
    }
    tree_heads(seal, heads, tallies[last_day]["last"], signer)
    if key is not None:
        seal["mac"] = (
            {"alg": "hmac-sha256-fs", "day": mac_day.isoformat()}
            if mac_day is not None
            else {"alg": "hmac-sha256"}
        )
    seal["checksum"] = compute_checksum(seal, key)
    slot = (dump(seal) + b"\n").ljust(storage.SEAL_SLOT, b" ")
    (trail.directory / storage.SEAL_NAME).write_bytes(slot * 2)


def rebuild_tree(trail: Trail) -> dict[int, bytes]:
    """Rewrite the tree file from the (altered) lines; return the root at every size."""
    tree = MerkleTree()
    out = bytearray()
    roots = {}
    for _path, _number, line in iter_leaves(trail.directory):
        for _level, _index, value in tree.append(leaf_hash(line)):
            out += value
        roots[tree.size] = tree.root()
    (trail.directory / TREE_NAME).write_bytes(bytes(out))
    return roots


def tree_heads(
    record: dict[str, Any], roots: dict[int, bytes], size: int, signer: SignerKey | None
) -> None:
    """Put the recomputed tree head in a seal or manifest (signed with a stolen key, if any)."""
    import base64

    record.update(tree_size=size, tree_root=base64.b64encode(roots[size]).decode())
    if signer is not None:
        record["checkpoint"] = Checkpoint(signer.name, size, roots[size]).sign(signer)


# ------------------------------------------------------------------ the attacks


def edit_one_field(trail: Trail) -> None:
    path = day_file(trail, 1)
    lines = read_lines(path)
    lines[2] = dump(edit(lines[2], message="nothing happened"))
    write_lines(path, lines)


def edit_and_recompute_its_checksum(trail: Trail) -> None:
    path = day_file(trail, 1)
    lines = read_lines(path)
    obj = edit(lines[2], user_id="someone else")
    obj.pop("checksum")
    obj["checksum"] = compute_checksum(obj)  # a bare hash: all anyone without a key can do
    lines[2] = dump(obj)
    write_lines(path, lines)


def delete_a_middle_event(trail: Trail) -> None:
    path = day_file(trail, 1)
    lines = read_lines(path)
    del lines[2]
    write_lines(path, lines)


def delete_the_last_events(trail: Trail) -> None:
    path = day_file(trail, 3)
    write_lines(path, read_lines(path)[:-2])


def delete_the_newest_file(trail: Trail) -> None:
    day_file(trail, 3).unlink()
    storage.manifest_path(trail.directory, DAYS[3]).unlink()


def delete_a_middle_day(trail: Trail) -> None:
    day_file(trail, 1).unlink()


def duplicate_an_event(trail: Trail) -> None:
    path = day_file(trail, 1)
    lines = read_lines(path)
    lines.insert(3, lines[2])
    write_lines(path, lines)


def reorder_two_events(trail: Trail) -> None:
    path = day_file(trail, 1)
    lines = read_lines(path)
    lines[2], lines[3] = lines[3], lines[2]
    write_lines(path, lines)


def recompute_the_whole_chain(trail: Trail) -> None:
    recompute_from(trail, 1, 2, key=None, mac_day=None)


def restore_an_older_seal(trail: Trail) -> None:
    path = day_file(trail, 3)
    write_lines(path, read_lines(path)[:-LATE])
    for name, data in trail.older.items():
        (trail.directory / name).write_bytes(data)


def spoil_the_newest_seal_slot(trail: Trail) -> None:
    """No saved copy needed: the seal file keeps the previous seal in its other
    slot. Cut the events after it, spoil the newest slot as a torn write would,
    and delete the manifest the writer left for today when it stopped."""
    seal = trail.directory / storage.SEAL_NAME
    data = bytearray(seal.read_bytes())
    slots = [json.loads(data[at : at + storage.SEAL_SLOT]) for at in (0, storage.SEAL_SLOT)]
    newest = max((0, 1), key=lambda n: slots[n]["sequence_number"])
    kept = slots[1 - newest]["sequence_number"]
    path = day_file(trail, 3)
    write_lines(path, [x for x in read_lines(path) if json.loads(x)["sequence_number"] <= kept])
    at = newest * storage.SEAL_SLOT
    data[at : at + storage.SEAL_SLOT] = b'{"checksum":"0'.ljust(storage.SEAL_SLOT - 1) + b"\n"
    seal.write_bytes(bytes(data))
    storage.manifest_path(trail.directory, DAYS[3]).unlink()


def steal_todays_key_and_rewrite_yesterday(trail: Trail) -> None:
    # Today is the last day; yesterday is the day before it.
    recompute_from(
        trail, 2, 1, key=trail.stolen_key, mac_day=trail.stolen_day, signer=trail.stolen_signer
    )


def steal_todays_key_and_delete_yesterday(trail: Trail) -> None:
    """The attack done properly: yesterday's file and manifest go, and today's
    events are renumbered and re-MACed with today's key to close the gap; today's
    manifest and the seal are rewritten with it. Only a record of every day,
    each MACed with its own day's key, can show the missing day."""
    day_file(trail, 2).unlink()
    storage.manifest_path(trail.directory, DAYS[2]).unlink()
    before = json.loads(read_lines(day_file(trail, 1))[-1])
    forge_today(trail, before["sequence_number"], before["checksum"])


def forge_today(trail: Trail, last_sequence: int, last_checksum: str | None) -> None:
    """Renumber and re-MAC today's events after ``last_sequence`` with the stolen
    key, then rewrite today's manifest and the seal with it."""
    path = day_file(trail, 3)
    lines, previous, sequence = read_lines(path), last_checksum, last_sequence
    for number, line in enumerate(lines):
        sequence += 1
        obj = edit(line, sequence_number=sequence, previous_hash=previous)
        obj.pop("checksum")
        obj["checksum"] = previous = compute_checksum(obj, trail.stolen_key)
        lines[number] = dump(obj)
    write_lines(path, lines)
    heads = rebuild_tree(trail)
    manifest = storage.manifest_path(trail.directory, DAYS[3])
    record: dict[str, Any] = json.loads(manifest.read_bytes())
    record.update(
        first_sequence=last_sequence + 1,
        last_sequence=sequence,
        events=len(lines),
        last_checksum=previous,
    )
    tree_heads(record, heads, sequence, trail.stolen_signer)
    record.pop("checksum")
    record["checksum"] = compute_checksum(record, trail.stolen_key)
    manifest.write_bytes(dump(record) + b"\n")
    seal: dict[str, Any] = {
        "kind": "seal",
        "sequence_number": sequence,
        "head_checksum": previous,
        "file": path.name,
        "time": "2026-04-01T23:00:00Z",
    }
    tree_heads(seal, heads, sequence, trail.stolen_signer)
    if trail.mode in (KEYED, FORWARD_SECURE):
        seal["mac"] = json.loads(lines[-1])["mac"]
    seal["checksum"] = compute_checksum(seal, trail.stolen_key)
    slot = (dump(seal) + b"\n").ljust(storage.SEAL_SLOT, b" ")
    (trail.directory / storage.SEAL_NAME).write_bytes(slot * 2)


def delete_the_seal_and_the_last_events(trail: Trail) -> None:
    (trail.directory / storage.SEAL_NAME).unlink()
    storage.manifest_path(trail.directory, DAYS[3]).unlink()
    delete_the_last_events(trail)


def _next_event(previous: bytes, **changes: Any) -> bytes:
    """An event chained after ``previous`` with a bare SHA-256 (no key needed)."""
    obj = edit(previous, **changes)
    obj.pop("mac", None)
    obj.pop("checksum")
    obj["sequence_number"] += 1
    obj["previous_hash"] = json.loads(previous)["checksum"]
    obj["checksum"] = compute_checksum(obj)
    return dump(obj)


def append_events_after_the_seal(trail: Trail) -> None:
    path = day_file(trail, 3)
    lines = read_lines(path)
    lines.append(_next_event(lines[-1], message="appended later"))
    write_lines(path, lines)


def append_events_to_a_closed_day(trail: Trail) -> None:
    last = read_lines(day_file(trail, 3))[-1]
    path = day_file(trail, 1)
    write_lines(path, [*read_lines(path), _next_event(last, message="back-dated")])


def add_a_duplicate_key_to_an_event(trail: Trail) -> None:
    path = day_file(trail, 1)
    lines = read_lines(path)
    key = b'"user_id":"'
    lines[2] = lines[2].replace(key, key + b'nobody","user_id":"', 1)
    write_lines(path, lines)


def re_lay_out_an_event(trail: Trail) -> None:
    path = day_file(trail, 1)
    lines = read_lines(path)
    lines[2] = lines[2].replace(b'"message":', b'"message": ', 1)
    write_lines(path, lines)


def edit_one_field_and_mark_it_maced(trail: Trail) -> None:
    """Edit an event and give it a ``mac`` object, keeping its checksum: without
    a key a MAC cannot be checked, so only the verifier's warning shows it."""
    path = day_file(trail, 1)
    lines = read_lines(path)
    obj = edit(lines[2], message="forged")
    obj.setdefault("mac", {"alg": "hmac-sha256"})
    lines[2] = dump(obj)
    write_lines(path, lines)
    rewrite_tree_heads(trail)  # the tree needs no key either


def rewrite_tree_heads(trail: Trail) -> None:
    """Rebuild the tree file and put its heads in the seal and manifests, as anyone can
    without a key (a keyed seal or manifest no longer passes its MAC then)."""
    heads = rebuild_tree(trail)
    records = [storage.manifest_path(trail.directory, day) for day in DAYS]
    for path in records:
        if not path.exists():
            continue
        record: dict[str, Any] = json.loads(path.read_bytes())
        tree_heads(record, heads, record["last_sequence"], None)
        record.pop("checksum")
        record["checksum"] = compute_checksum(record)
        path.write_bytes(dump(record) + b"\n")
    seal_path = trail.directory / storage.SEAL_NAME
    data = seal_path.read_bytes()
    slots = []
    for at in (0, storage.SEAL_SLOT):
        seal: dict[str, Any] = json.loads(data[at : at + storage.SEAL_SLOT])
        tree_heads(seal, heads, seal["sequence_number"], None)
        seal.pop("checksum")
        seal["checksum"] = compute_checksum(seal)
        slots.append((dump(seal) + b"\n").ljust(storage.SEAL_SLOT, b" "))
    seal_path.write_bytes(b"".join(slots))


def insert_garbage_mid_file(trail: Trail) -> None:
    path = day_file(trail, 1)
    lines = read_lines(path)
    lines.insert(2, b"this is not json {")
    write_lines(path, lines)


def replace_a_day_certificate(trail: Trail) -> None:
    """Swap day two's certificate for one of an intruder's key, signed by that key."""
    store = CertificateStore.load(trail.directory)
    intruder = SignerKey.generate("example.org/audit")
    closing = Checkpoint("example.org/audit", PER_DAY, bytes(32))
    store.certificates[1] = certify(intruder, DAYS[1], intruder.verifier, closing)
    store.save(trail.directory, fsync=False)


# Proof attacks: each returns the proof an attacker presents to an auditor.


def forge_a_proof_for_an_event_never_logged(trail: Trail) -> InclusionProof:
    """Take a genuine proof and swap in an event line that was never logged."""
    genuine = inclusion_proof(trail.directory, 8)
    forged = json.loads(genuine.line)
    forged["message"] = "a payment that never happened"
    return InclusionProof(
        dump(forged), genuine.index, genuine.path, genuine.checkpoint, genuine.certificates
    )


def present_a_proof_from_a_different_trail(trail: Trail) -> InclusionProof:
    """A genuine proof from another trail (another root key, same origin name)."""
    return _OTHER_TRAIL_PROOF[0]


def steal_todays_key_and_prove_a_forged_event_of_yesterday(trail: Trail) -> InclusionProof:
    """Sign a tree of forged events with today's key and prove one of yesterday's events."""
    assert trail.stolen_signer is not None
    genuine = inclusion_proof(trail.directory, PER_DAY * 3 + 1)  # today's: the newest chain
    lines = [b'{"sequence_number":%d,"forged":true}' % n for n in range(1, PER_DAY * 4 + 1)]
    tree = MerkleTree()
    nodes: dict[tuple[int, int], bytes] = {}
    for line in lines:
        for level, index, value in tree.append(leaf_hash(line)):
            nodes[level, index] = value
    note = Checkpoint("example.org/audit", tree.size, tree.root()).sign(trail.stolen_signer)
    index = PER_DAY * 2 + 1  # an event of yesterday
    path = inclusion_path(index, tree.size, lambda level, i: nodes[level, i])
    return InclusionProof(lines[index], index, tuple(path), note, genuine.certificates)


_OTHER_TRAIL_PROOF: list[InclusionProof] = []


NOT = "not detected"
WARN = "warning: "
REFUSED = "proof refused"
PROOF_ATTACKS = (
    forge_a_proof_for_an_event_never_logged,
    present_a_proof_from_a_different_trail,
    steal_todays_key_and_prove_a_forged_event_of_yesterday,
)

#: attack -> {mode: the finding kind that reveals it, or NOT}
TABLE: dict[Callable[[Trail], Any], dict[str, str]] = {
    edit_one_field: dict.fromkeys(MODES, "checksum_mismatch"),
    edit_and_recompute_its_checksum: {
        UNKEYED: "broken_link",
        KEYED: "checksum_mismatch",
        FORWARD_SECURE: "checksum_mismatch",
        ANCHORED: "broken_link",
        SIGNED: "broken_link",
    },
    delete_a_middle_event: dict.fromkeys(MODES, "sequence_gap"),
    delete_the_last_events: dict.fromkeys(MODES, "truncated_tail"),
    delete_the_newest_file: dict.fromkeys(MODES, "truncated_tail"),
    delete_a_middle_day: dict.fromkeys(MODES, "manifest_mismatch"),
    duplicate_an_event: dict.fromkeys(MODES, "duplicate_sequence"),
    reorder_two_events: dict.fromkeys(MODES, WARN + "out_of_order"),
    recompute_the_whole_chain: {
        UNKEYED: NOT,
        KEYED: "checksum_mismatch",
        FORWARD_SECURE: "checksum_mismatch",
        ANCHORED: "anchor_mismatch",
        SIGNED: "checkpoint_mismatch",
    },
    restore_an_older_seal: {
        UNKEYED: NOT,
        KEYED: NOT,
        FORWARD_SECURE: NOT,
        ANCHORED: "anchor_mismatch",
        SIGNED: NOT,
    },
    spoil_the_newest_seal_slot: {
        UNKEYED: NOT,
        KEYED: NOT,
        FORWARD_SECURE: NOT,
        ANCHORED: "anchor_mismatch",
        SIGNED: NOT,
    },
    steal_todays_key_and_rewrite_yesterday: {
        UNKEYED: NOT,
        KEYED: NOT,
        FORWARD_SECURE: "checksum_mismatch",
        ANCHORED: "anchor_mismatch",
        SIGNED: "checkpoint_mismatch",
    },
    steal_todays_key_and_delete_yesterday: {
        UNKEYED: NOT,
        KEYED: NOT,
        FORWARD_SECURE: "manifest_mismatch",
        ANCHORED: "anchor_mismatch",
        SIGNED: "checkpoint_mismatch",
    },
    delete_the_seal_and_the_last_events: dict.fromkeys(MODES, "seal_mismatch"),
    append_events_after_the_seal: {
        UNKEYED: WARN + "unsealed_events",
        KEYED: "checksum_mismatch",
        FORWARD_SECURE: "checksum_mismatch",
        ANCHORED: WARN + "unsealed_events",
        SIGNED: WARN + "unsigned_events",
    },
    append_events_to_a_closed_day: dict.fromkeys(MODES, "manifest_mismatch"),
    add_a_duplicate_key_to_an_event: dict.fromkeys(MODES, "malformed_line"),
    re_lay_out_an_event: {
        UNKEYED: WARN + "non_canonical_line",
        KEYED: "checksum_mismatch",
        FORWARD_SECURE: "checksum_mismatch",
        ANCHORED: WARN + "non_canonical_line",
        SIGNED: "tree_mismatch",
    },
    insert_garbage_mid_file: dict.fromkeys(MODES, "malformed_line"),
    edit_one_field_and_mark_it_maced: {
        UNKEYED: WARN + "unchecked_mac",
        KEYED: "checksum_mismatch",
        FORWARD_SECURE: "checksum_mismatch",
        ANCHORED: WARN + "unchecked_mac",
        SIGNED: "checkpoint_mismatch",
    },
    replace_a_day_certificate: {SIGNED: "certificate_invalid"},
    forge_a_proof_for_an_event_never_logged: {SIGNED: REFUSED},
    present_a_proof_from_a_different_trail: {SIGNED: REFUSED},
    steal_todays_key_and_prove_a_forged_event_of_yesterday: {SIGNED: REFUSED},
}

CELLS = [
    pytest.param(attack, mode, expected, id=f"{attack.__name__}-{mode}")
    for attack, row in TABLE.items()
    for mode, expected in row.items()
]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Trail]:
    import asyncio

    trails = {}
    for mode in MODES:
        base = tmp_path_factory.mktemp(mode.replace("+", "_"))
        trails[mode] = asyncio.run(write_trail(base, mode))
    other = asyncio.run(write_trail(tmp_path_factory.mktemp("other"), SIGNED))
    _OTHER_TRAIL_PROOF[:] = [inclusion_proof(other.directory, 8)]
    return trails


def test_untouched_trails_are_valid_in_every_mode(pristine: dict[str, Trail]) -> None:
    for mode, trail in pristine.items():
        report = trail.verify()
        assert report.valid, (mode, report.format_text())
        assert report.finding_list == (), mode
        assert report.events_checked == PER_DAY * len(DAYS)
        assert report.sealed
        if mode in (KEYED, FORWARD_SECURE):
            assert report.macs_checked == report.events_checked
        if mode == FORWARD_SECURE:
            assert set(report.mac_days) == {day.isoformat() for day in DAYS}
        if mode == SIGNED:
            assert report.signatures_checked >= len(DAYS)
            assert (trail.directory / CERTIFICATES_NAME).exists()
            for seq in (1, PER_DAY + 1, PER_DAY * 4):
                proof = inclusion_proof(trail.directory, seq)
                assert verify_inclusion(proof, trail.public_key or "").proved, seq


@pytest.mark.parametrize(("attack", "mode", "expected"), CELLS)
def test_attack_table_cell(
    attack: Callable[[Trail], Any],
    mode: str,
    expected: str,
    pristine: dict[str, Trail],
    tmp_path: Path,
) -> None:
    original = pristine[mode]
    copy = tmp_path / "copy"
    shutil.copytree(original.directory, copy)
    trail = Trail(
        copy,
        mode,
        original.verify_key,
        original.stolen_key,
        original.stolen_day,
        original.anchor,
        original.older,
        original.public_key,
        original.stolen_signer,
    )
    if attack in PROOF_ATTACKS:
        assert expected == REFUSED
        verdict = verify_inclusion(attack(trail), trail.public_key or "")
        assert not verdict.proved
        assert verdict.message
        return
    attack(trail)
    report = trail.verify()
    kinds = {f.kind.value: f.severity.value for f in report.finding_list}
    if expected == NOT:
        assert report.valid, report.format_text()
        assert not [k for k, severity in kinds.items() if severity != "info"], kinds
    elif expected.startswith(WARN):
        kind = expected.removeprefix(WARN)
        assert kinds.get(kind) == "warning", report.format_text()
        assert report.valid
    else:
        assert not report.valid
        assert kinds.get(expected) == "error", report.format_text()


async def _trail_with_idle_days(base: Path) -> Trail:
    """Forward-secure: events on DAYS[0], none on DAYS[1] and DAYS[2] (the writer
    stopped, then restarted on DAYS[3]), events on DAYS[3]."""
    directory = base / "trail"
    writer_key, auditor_key = keygen(base / "writer.key", base / "auditor.key", start=DAYS[0])
    trail = Trail(directory, FORWARD_SECURE, VerificationKey.load(auditor_key))
    for day in (DAYS[0], DAYS[3]):
        clock = _clock(datetime.combine(day, datetime.min.time(), UTC), timedelta(hours=3))
        async with AuditTrail(storage_path=directory, clock=clock, key_file=writer_key) as writer:
            for i in range(4):
                await writer.log_event(AuditEventType.DATA_ACCESS, f"{day} {i}")
    state = WriterKey(writer_key)
    trail.stolen_key, trail.stolen_day = state.key, state.day
    return trail


async def test_idle_days_are_recorded_and_deleting_an_empty_yesterday_is_detected(
    tmp_path: Path,
) -> None:
    trail = await _trail_with_idle_days(tmp_path)
    for day in (DAYS[1], DAYS[2]):
        assert storage.empty_day_path(trail.directory, day).exists()
        assert not storage.file_for_day(trail.directory, day).exists()
    assert trail.verify().finding_list == ()
    # The attack on an empty yesterday: its record goes (today's key cannot make another).
    storage.empty_day_path(trail.directory, DAYS[2]).unlink()
    report = trail.verify()
    assert not report.valid
    missing = [f for f in report.finding_list if f.kind.value == "manifest_mismatch"]
    assert len(missing) == 1
    assert "2026-03-31" in missing[0].message
    # A record of that day made with today's key does not pass for it either.
    forged = {"kind": "empty_day", "day": DAYS[2].isoformat(), "events": 0}
    forged["mac"] = {"alg": "hmac-sha256-fs", "day": DAYS[2].isoformat()}
    forged["checksum"] = compute_checksum(forged, trail.stolen_key)
    storage.empty_day_path(trail.directory, DAYS[2]).write_bytes(dump(forged))
    assert not trail.verify().valid


async def test_only_a_versioned_key_promises_the_day_series(tmp_path: Path) -> None:
    trail = await _trail_with_idle_days(tmp_path)
    fresh = trail.verify_key
    assert isinstance(fresh, VerificationKey)
    assert fresh.version == 2
    # Every earlier day goes, and today is renumbered from 1 with today's key.
    day_file(trail, 0).unlink()
    for path in trail.directory.glob(".fapilog-notebook.[me]*"):
        if DAYS[3].isoformat() not in path.name:
            path.unlink()
    forge_today(trail, 0, None)
    report = trail.verify()
    missing = [f.message for f in report.finding_list if f.kind.value == "manifest_mismatch"]
    assert [day.isoformat() in text for day, text in zip(DAYS, missing, strict=False)] == [
        True,
        True,
        True,
    ]
    # A verification key file from before the series (no version) cannot ask for it.
    trail.verify_key = VerificationKey(fresh.start, fresh._key)
    assert trail.verify_key.version == 1
    assert trail.verify().valid
