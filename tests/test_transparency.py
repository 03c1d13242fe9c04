"""The writer's Merkle tree, signed checkpoints, day keys, and proofs from a trail."""

from __future__ import annotations

import asyncio
import base64
import json
import stat
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from fapilog_notebook import AuditEventType, AuditTrail
from fapilog_notebook.checkpoints import InclusionProof, SignerKey
from fapilog_notebook.merkle import leaf_hash, root_of_leaves
from fapilog_notebook.signing import SigningKeyFile, signing_keygen, walk_certificates
from fapilog_notebook.storage import SEAL_NAME, read_seals
from fapilog_notebook.treeformat import TREE_NAME
from fapilog_notebook.treelog import (
    CERTIFICATES_NAME,
    CertificateStore,
    StoredTree,
    consistency_proof,
    inclusion_proof,
    latest_signed_checkpoint,
)
from fapilog_notebook.verify import verify_consistency, verify_inclusion

from .trail_helpers import Clock, signed_two_days

DAY1 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def _lines(directory: Path) -> list[bytes]:
    out: list[bytes] = []
    for path in sorted(directory.glob("audit_*.jsonl")):
        out += path.read_bytes().split(b"\n")[:-1]
    return out


def _newest_seal(directory: Path) -> dict[str, object]:
    seals = [s for s in read_seals(directory / SEAL_NAME) if isinstance(s, dict)]
    return max(seals, key=lambda s: int(str(s["sequence_number"])))


async def _log(trail: AuditTrail, count: int, tag: str = "e") -> None:
    for i in range(count):
        await trail.log_event(AuditEventType.DATA_ACCESS, f"{tag}{i}", user_id="u")


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    signing, public = tmp_path / "writer.signing", tmp_path / "root.pub"
    signing_keygen(signing, public, day=DAY1.date(), origin="example.org/audit")
    return signing, public


async def test_unkeyed_trail_keeps_a_tree_beside_byte_identical_files(tmp_path: Path) -> None:
    store = tmp_path / "logs"
    async with AuditTrail(storage_path=store) as trail:
        await _log(trail, 25)
    lines = _lines(store)
    assert len(lines) == 25
    assert all(b"tree" not in line and b"checkpoint" not in line for line in lines)
    root = root_of_leaves([leaf_hash(line) for line in lines])
    seal = _newest_seal(store)
    assert seal["tree_size"] == 25
    assert seal["tree_root"] == base64.b64encode(root).decode()
    assert "checkpoint" not in seal
    with StoredTree(store) as tree:
        assert tree.size == 25
        assert tree.read(0, 7) == leaf_hash(lines[7])
    assert (store / TREE_NAME).stat().st_size == 32 * (2 * 25 - bin(25).count("1"))


@pytest.mark.parametrize("damage", ["delete", "truncate", "partial"])
async def test_a_tree_behind_the_files_is_rebuilt_at_start(tmp_path: Path, damage: str) -> None:
    store = tmp_path / "logs"
    async with AuditTrail(storage_path=store) as trail:
        await _log(trail, 10)
    tree_file = store / TREE_NAME
    if damage == "delete":
        tree_file.unlink()
    elif damage == "truncate":
        tree_file.write_bytes(tree_file.read_bytes()[: 32 * 5])
    else:
        tree_file.write_bytes(tree_file.read_bytes()[:-7])
    async with AuditTrail(storage_path=store) as trail:
        await _log(trail, 3, "again")
    lines = _lines(store)
    seal = _newest_seal(store)
    assert seal["tree_size"] == 13
    root = root_of_leaves([leaf_hash(line) for line in lines])
    assert seal["tree_root"] == base64.b64encode(root).decode()


async def test_signed_trail_proves_events_across_days(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    signing, public = keys
    store = tmp_path / "logs"
    clock = Clock(DAY1)
    first_key = SigningKeyFile.load(signing).key.encode()
    async with AuditTrail(storage_path=store, clock=clock, signing_key=signing) as trail:
        await _log(trail, 5, "d1-")
        clock.now = DAY1 + timedelta(days=1)
        await _log(trail, 4, "d2-")
        clock.now = DAY1 + timedelta(days=3)
        await _log(trail, 3, "d4-")
    assert stat.S_IMODE(signing.stat().st_mode) == 0o600
    assert first_key not in signing.read_text()
    for path in store.iterdir():
        assert first_key.split("+", 4)[4] not in path.read_bytes().decode("latin-1")
    certs = CertificateStore.load(store)
    root_key = public.read_text().strip()
    from fapilog_notebook.checkpoints import VerifierKey

    keys_ = walk_certificates(VerifierKey.parse(root_key), certs.certificates)
    assert [k.day for k in keys_] == [date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 4)]
    assert [k.floor.size for k in keys_] == [0, 5, 9]
    assert len(certs.closings) == 2
    for seq in (1, 5, 6, 9, 10, 12):
        proof = inclusion_proof(store, seq)
        verdict = verify_inclusion(proof.encode(), public)
        assert verdict.proved, (seq, verdict.message)
        assert json.loads(proof.line)["sequence_number"] == seq
    # Day one's events are proved against day one's closing checkpoint.
    assert inclusion_proof(store, 2).checkpoint == certs.closings[0]
    # The writer's newest checkpoint covers the whole trail.
    latest = latest_signed_checkpoint(store)
    assert latest is not None
    assert "\n12\n" in latest
    with pytest.raises(ValueError, match="no event with sequence number 13"):
        inclusion_proof(store, 13)


async def test_restart_keeps_the_day_key_and_chain(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    signing, public = keys
    store = tmp_path / "logs"
    clock = Clock(DAY1)
    async with AuditTrail(storage_path=store, clock=clock, signing_key=signing) as trail:
        await _log(trail, 3)
    recorded = latest_signed_checkpoint(store)
    assert recorded is not None
    clock.now = DAY1 + timedelta(days=1)
    async with AuditTrail(storage_path=store, clock=clock, signing_key=signing) as trail:
        await _log(trail, 4)
    proof = consistency_proof(store, recorded)
    assert verify_consistency(recorded, proof.encode(), public).proved
    assert verify_inclusion(inclusion_proof(store, 7), public).proved


async def test_a_key_file_from_another_trail_is_refused(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    signing, _public = keys
    store = tmp_path / "logs"
    async with AuditTrail(storage_path=store, clock=Clock(DAY1), signing_key=signing) as trail:
        await _log(trail, 2)
    other, other_pub = tmp_path / "other.signing", tmp_path / "other.pub"
    signing_keygen(other, other_pub, day=DAY1.date(), origin="example.org/audit")
    trail = AuditTrail(
        storage_path=store, clock=Clock(DAY1), signing_key=other, on_write_error="raise"
    )
    with pytest.raises(Exception, match="another trail"):
        await trail.start()
    await trail.stop()


def test_keygen_writes_public_key_and_keeps_no_root(tmp_path: Path) -> None:
    signing, public, root = tmp_path / "w", tmp_path / "p", tmp_path / "r"
    signing_keygen(signing, public, day=DAY1.date(), origin="example.org/x", root_key=root)
    assert stat.S_IMODE(root.stat().st_mode) == 0o600
    assert stat.S_IMODE(signing.stat().st_mode) == 0o600
    assert SignerKey.parse(root.read_text()).verifier.encode() == public.read_text().strip()
    with pytest.raises(FileExistsError):
        signing_keygen(signing, tmp_path / "p2", day=DAY1.date())
    signing_keygen(tmp_path / "w3", tmp_path / "p3", day=DAY1.date())
    assert not (tmp_path / "r3").exists()
    assert (tmp_path / "p3").read_text().startswith("fapilog-notebook/")


async def test_proof_from_a_large_trail_reads_few_hashes(
    tmp_path: Path, keys: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    signing, public = keys
    store = tmp_path / "logs"
    async with AuditTrail(storage_path=store, clock=Clock(DAY1), signing_key=signing) as trail:
        await _log(trail, 300)
    reads: list[tuple[int, int]] = []
    real: Callable[[StoredTree, int, int], bytes] = StoredTree.read

    def counting(self: StoredTree, level: int, index: int) -> bytes:
        reads.append((level, index))
        return real(self, level, index)

    monkeypatch.setattr(StoredTree, "read", counting)
    proof = inclusion_proof(store, 123)
    assert len(reads) <= 2 * 9
    assert verify_inclusion(proof, public).proved
    assert isinstance(InclusionProof.parse(proof.encode()), InclusionProof)
    assert (store / CERTIFICATES_NAME).exists()


async def test_cli_keygen_prove_check_proof_checkpoint_and_verify(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fapilog_notebook.cli import main

    signing, public, root = tmp_path / "w.signing", tmp_path / "root.pub", tmp_path / "root.key"
    assert (
        main(
            [
                "keygen",
                "--signing",
                "--signing-key",
                str(signing),
                "--public-key",
                str(public),
                "--origin",
                "example.org/cli",
                "--start",
                "2026-03-01",
            ]
        )
        == 0
    )
    assert not root.exists()
    out = capsys.readouterr().out
    assert SigningKeyFile.load(signing).key.encode().split("+", 4)[4] not in out
    assert main(["keygen", "--signing", "--signing-key", str(tmp_path / "x")]) == 2
    assert main(["keygen"]) == 2
    capsys.readouterr()
    store = tmp_path / "logs"
    clock = Clock(DAY1)
    async with AuditTrail(storage_path=store, clock=clock, signing_key=signing) as trail:
        await _log(trail, 6)
    assert main(["checkpoint", str(store)]) == 0
    recorded = capsys.readouterr().out
    assert recorded.startswith("example.org/cli\n6\n")
    (tmp_path / "recorded.txt").write_text(recorded)
    clock.now = DAY1 + timedelta(days=1)
    async with AuditTrail(storage_path=store, clock=clock, signing_key=signing) as trail:
        await _log(trail, 3)
    proof_file = tmp_path / "event4.tlog-proof"
    assert main(["prove", str(store), "4", "-o", str(proof_file)]) == 0
    assert proof_file.read_text().startswith("c2sp.org/tlog-proof@v1\n")
    assert main(["check-proof", str(proof_file), "--public-key", str(public)]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("proved: event 4")
    proof_file.write_text(proof_file.read_text().replace("index 3\n", "index 4\n"))
    assert main(["check-proof", str(proof_file), "--public-key", str(public)]) == 1
    assert "not proved" in capsys.readouterr().out
    assert main(["check-proof", str(tmp_path / "missing"), "--public-key", str(public)]) == 2
    assert main(["prove", str(store), "99", "-o", str(tmp_path / "p")]) == 2
    assert "no event with sequence number 99" in capsys.readouterr().err
    assert (
        main(
            [
                "verify",
                str(store),
                "--public-key",
                str(public),
                "--checkpoint",
                str(tmp_path / "recorded.txt"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "checkpoint signatures checked" in out
    # A recorded checkpoint the trail no longer extends is a finding.
    changed = recorded.replace("\n6\n", "\n7\n")
    (tmp_path / "other.txt").write_text(changed)
    assert main(["verify", str(store), "--checkpoint", str(tmp_path / "other.txt")]) == 1
    assert "checkpoint_mismatch" in capsys.readouterr().out


async def test_cli_checkpoint_of_an_unsigned_trail_is_a_bare_body(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fapilog_notebook.cli import main

    async with AuditTrail(storage_path=tmp_path / "logs") as trail:
        await _log(trail, 4)
    assert main(["checkpoint", str(tmp_path / "logs")]) == 0
    body = capsys.readouterr().out
    assert body.split("\n")[1] == "4"
    (tmp_path / "cp").write_text(body)
    assert main(["verify", str(tmp_path / "logs"), "--checkpoint", str(tmp_path / "cp")]) == 0
    async with AuditTrail(storage_path=tmp_path / "logs") as trail:
        await _log(trail, 2)
    assert main(["verify", str(tmp_path / "logs"), "--checkpoint", str(tmp_path / "cp")]) == 0
    lines = (tmp_path / "logs").glob("audit_*.jsonl")
    day = next(iter(lines))
    data = day.read_bytes().split(b"\n")
    data[1] = data[1].replace(b"u", b"v", 1)
    day.write_bytes(b"\n".join(data))
    assert main(["verify", str(tmp_path / "logs"), "--checkpoint", str(tmp_path / "cp")]) == 1
    assert main(["checkpoint", str(tmp_path / "nowhere")]) == 2


async def test_verifier_reports_hostile_tree_files_and_checkpoints(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    from fapilog_notebook import verify_audit_log
    from fapilog_notebook.storage import manifest_path

    signing, public = keys
    store = tmp_path / "logs"
    await signed_two_days(store, signing, DAY1, 5, 5)
    clean = verify_audit_log(store, public_key=public)
    assert clean.valid, clean.format_text()
    assert clean.signatures_checked >= 3
    assert clean.checkpoints_checked >= 3
    # A changed hash in the stored tree is located at its event line.
    tree = bytearray((store / TREE_NAME).read_bytes())
    tree[32 * 4] ^= 1  # node 4 = leaf 3 (leaves 0, 1, node(1,0), leaf 2, leaf 3, ...)
    (store / TREE_NAME).write_bytes(bytes(tree))
    report = verify_audit_log(store, public_key=public)
    found = [f for f in report.finding_list if f.kind.value == "tree_mismatch"]
    assert len(found) == 1
    assert found[0].sequence_number == 4
    assert found[0].line == 4
    tree[32 * 4] ^= 1
    (store / TREE_NAME).write_bytes(bytes(tree))
    # Garbage in the certificates file and in a manifest's checkpoint: findings, no traceback.
    (store / CERTIFICATES_NAME).write_text("{not json")
    report = verify_audit_log(store, public_key=public)
    assert "certificate_invalid" in {f.kind.value for f in report.finding_list}
    assert not report.valid
    manifest = manifest_path(store, DAY1.date())
    record = json.loads(manifest.read_text())
    record["checkpoint"] = "garbage\n"
    manifest.write_text(json.dumps(record))
    report = verify_audit_log(store)
    assert not report.valid
    assert "checkpoint_mismatch" in {f.kind.value for f in report.finding_list}
    # A public key that is not a key is a clear error.
    with pytest.raises(ValueError, match="verifier key"):
        verify_audit_log(store, public_key="not+a+key")


async def test_public_key_on_an_unsigned_trail_is_an_error_finding(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    from fapilog_notebook import verify_audit_log

    _signing, public = keys
    async with AuditTrail(storage_path=tmp_path / "logs") as trail:
        await _log(trail, 3)
    report = verify_audit_log(tmp_path / "logs", public_key=public)
    assert not report.valid
    assert [f.kind.value for f in report.finding_list] == ["certificate_invalid"]
    assert "no day-key certificates" in report.finding_list[0].message


def test_trail_repr_names_the_signing_mode_not_the_key(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    signing, _public = keys
    trail = AuditTrail(storage_path=tmp_path / "logs", signing_key=signing)
    assert "signed" in repr(trail)
    secret = SigningKeyFile.load(signing).key.encode().split("+", 4)[4]
    assert secret not in repr(trail)


async def test_an_event_out_of_file_order_is_still_proved(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    """Event 7 sits at the end of day one's file: the tree, the proofs and the verdict hold."""
    from fapilog_notebook import verify_audit_log

    signing, public = keys
    store = tmp_path / "logs"
    await signed_two_days(store, signing, DAY1, 3, 6)
    day1, day2 = sorted(store.glob("audit_*.jsonl"))
    lines2 = day2.read_bytes().split(b"\n")[:-1]
    moved = lines2.pop(3)  # event 7
    assert json.loads(moved)["sequence_number"] == 7
    day2.write_bytes(b"".join(line + b"\n" for line in lines2))
    day1.write_bytes(day1.read_bytes() + moved + b"\n")
    report = verify_audit_log(store, public_key=public)
    kinds = {f.kind.value for f in report.finding_list}
    assert "checkpoint_mismatch" not in kinds
    assert "tree_mismatch" not in kinds
    for seq in (3, 4, 7, 8, 9):
        proof = inclusion_proof(store, seq)
        assert json.loads(proof.line)["sequence_number"] == seq
        assert verify_inclusion(proof, public).proved, seq


async def test_a_fifo_planted_as_the_tree_or_certificates_does_not_hang_the_verifier(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    import os

    from fapilog_notebook import verify_audit_log

    signing, public = keys
    store = tmp_path / "logs"
    async with AuditTrail(storage_path=store, clock=Clock(DAY1), signing_key=signing) as trail:
        await _log(trail, 4)
    (store / TREE_NAME).unlink()
    os.mkfifo(store / TREE_NAME)
    (store / CERTIFICATES_NAME).unlink()
    os.mkfifo(store / CERTIFICATES_NAME)
    report = verify_audit_log(store, public_key=public)
    kinds = {f.kind.value for f in report.finding_list}
    assert {"tree_mismatch", "certificate_invalid"} <= kinds
    with pytest.raises(ValueError, match="cannot be read"):
        inclusion_proof(store, 2)


async def test_a_crash_after_the_key_file_moved_on_is_repaired_at_start(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    """The key file is replaced before the certificates beside the trail: a crash in
    between leaves the trail's copy one certificate short, and the next start adopts it."""
    from fapilog_notebook import verify_audit_log

    signing, public = keys
    store = tmp_path / "logs"
    await signed_two_days(store, signing, DAY1, 3, 2)
    full = CertificateStore.load(store)
    assert len(full.certificates) == 2
    CertificateStore(full.certificates[:1], []).save(store, fsync=False)  # the crash
    assert not verify_audit_log(store, public_key=public).valid
    clock = Clock(DAY1 + timedelta(days=1))  # the second day, as the trail left it
    async with AuditTrail(storage_path=store, clock=clock, signing_key=signing) as trail:
        await _log(trail, 1)
    assert CertificateStore.load(store) == full
    assert verify_audit_log(store, public_key=public).valid
    # A key file replaced mid-way (its temporary file complete) is finished at load.
    state = SigningKeyFile.load(signing)
    tmp = signing.with_name(signing.name + ".tmp")
    signing.rename(tmp)
    signing.write_text("scrubbed")
    assert SigningKeyFile.load(signing).key.key_id == state.key.key_id


def test_tree_file_rebuilds_and_appends_past_a_megabyte_of_nodes(tmp_path: Path) -> None:
    from fapilog_notebook.merkle import MerkleTree
    from fapilog_notebook.treelog import TreeFile

    lines = [b'{"n":"%d","sequence_number":%d}' % (i, i) for i in range(1, 20_001)]
    (tmp_path / "audit_2026-03-01.jsonl").write_bytes(b"".join(x + b"\n" for x in lines))
    expected = bytearray()
    MerkleTree().extend_lines(lines, expected)
    tree = TreeFile(tmp_path)
    tree.resync(tmp_path, 20_000)  # over 1 MiB of nodes: written in several pieces
    assert (tmp_path / TREE_NAME).read_bytes() == bytes(expected)
    tree.close()
    more = [b'{"n":"x","sequence_number":%d}' % i for i in range(20_001, 40_001)]
    tree = TreeFile(tmp_path)  # reopened: appends go to the end, not where the file opened
    tree.append(more)
    tree.close()
    whole = bytearray()
    MerkleTree().extend_lines(lines + more, whole)
    assert (tmp_path / TREE_NAME).read_bytes() == bytes(whole)
    again = TreeFile(tmp_path)
    assert again.tree.size == 40_000
    assert again.tree.root() == root_of_leaves([leaf_hash(x) for x in lines + more])
    again.close()


async def test_proofs_of_an_unsigned_trail_are_refused_with_a_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], keys: tuple[Path, Path]
) -> None:
    import os

    from fapilog_notebook.cli import main

    _signing, public = keys
    async with AuditTrail(storage_path=tmp_path / "logs") as trail:
        await _log(trail, 2)
    with pytest.raises(ValueError, match="no signed checkpoint"):
        inclusion_proof(tmp_path / "logs", 1)
    assert main(["prove", str(tmp_path / "logs"), "1", "-o", str(tmp_path / "p")]) == 2
    assert "signing_key" in capsys.readouterr().err
    os.mkfifo(tmp_path / "fifo")
    verdict = verify_inclusion(tmp_path / "fifo", public)  # a FIFO as the proof file
    assert not verdict.proved
    assert "not a regular file" in verdict.message or "FIFO" in verdict.message


async def test_a_tree_file_whose_end_a_crash_zeroed_is_rebuilt(tmp_path: Path) -> None:
    store = tmp_path / "logs"
    async with AuditTrail(storage_path=store) as trail:
        await _log(trail, 6)
    data = bytearray((store / TREE_NAME).read_bytes())
    data[-64:] = bytes(64)  # the right size, its last hashes never written
    (store / TREE_NAME).write_bytes(bytes(data))
    async with AuditTrail(storage_path=store) as trail:
        await _log(trail, 1)
    lines = _lines(store)
    expected = bytearray()
    from fapilog_notebook.merkle import MerkleTree

    MerkleTree().extend_lines(lines, expected)
    assert (store / TREE_NAME).read_bytes() == bytes(expected)


async def test_a_chain_that_restarted_below_the_tree_keeps_writer_and_verifier_agreed(
    tmp_path: Path,
) -> None:
    """fapilog restarts at 1 in each process; this writer resumes after the head on disk."""
    from fapilog_notebook import verify_audit_log
    from fapilog_notebook.chain import encode_event as seal

    store = tmp_path / "logs"
    async with AuditTrail(storage_path=store, clock=Clock(DAY1)) as trail:
        await _log(trail, 5)
    day = next(store.glob("audit_*.jsonl"))
    restarted, previous = [], None
    for n in range(1, 4):  # a second process restarts the chain at 1 (as fapilog does)
        line, previous = seal(
            {"event_id": f"r{n}", "message": "restart", "timestamp": "2026-03-01T11:00:00Z"},
            sequence_number=n,
            previous_hash=previous,
            key=None,
        )
        restarted.append(line)
    day.write_bytes(day.read_bytes() + b"".join(restarted))
    async with AuditTrail(storage_path=store, clock=Clock(DAY1)) as trail:
        # One batch, sequence 4..7: 6 and 7 extend the tree of 5.
        await asyncio.gather(
            *(trail.log_event(AuditEventType.DATA_ACCESS, f"after{i}") for i in range(4))
        )
    report = verify_audit_log(store)
    kinds = {f.kind.value for f in report.finding_list}
    assert "checkpoint_mismatch" not in kinds, report.format_text()
    assert "tree_mismatch" not in kinds, report.format_text()
    assert _newest_seal(store)["tree_size"] == 7


def test_leaf_blocks_fast_path_agrees_with_the_line_rule(tmp_path: Path) -> None:
    """A block whose numbers run in order but holds a line that is not an object: not a leaf."""
    from fapilog_notebook.treelog import iter_leaf_blocks, iter_leaves

    lines = [b'{"sequence_number":1}', b'x"sequence_number":2}', b'{"sequence_number":2}']
    (tmp_path / "audit_2026-03-01.jsonl").write_bytes(b"".join(x + b"\n" for x in lines))
    assert [line for _p, _n, line in iter_leaves(tmp_path)] == [lines[0], lines[2]]
    assert [n for _p, n, _l in iter_leaves(tmp_path)] == [1, 3]
    assert sum(len(block) for _p, _n, block in iter_leaf_blocks(tmp_path)) == 2


async def test_crlf_line_ends_keep_the_tree_and_the_proofs(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    from fapilog_notebook import verify_audit_log

    signing, public = keys
    store = tmp_path / "logs"
    async with AuditTrail(storage_path=store, clock=Clock(DAY1), signing_key=signing) as trail:
        await _log(trail, 40)
    day = next(store.glob("audit_*.jsonl"))
    day.write_bytes(day.read_bytes().replace(b"\n", b"\r\n"))
    report = verify_audit_log(store, public_key=public)
    assert report.valid, report.format_text()
    for seq in (1, 17, 40):
        proof = inclusion_proof(store, seq)
        assert not proof.line.endswith(b"\r")
        assert verify_inclusion(proof, public).proved
