"""Signed checkpoints and Merkle proofs (issue 17): what the tree and the signatures cost.

1. Write: ``producers`` concurrent tasks log ``events`` events (plain storage,
   no fsync) into ``AuditTrail`` two ways, interleaved, best of ``repeats``
   rounds: unkeyed (every trail keeps the tree), and signed (``signing_key=``:
   the tree plus an Ed25519-signed checkpoint per batch, over two UTC days so
   one key evolution is timed). Target: signed <= 1.15x unkeyed (the ratio of
   the bests, and the median of the ratios within a round beside it).
2. Verify: ``verify_audit_log`` over the unkeyed and the signed trail written
   above, ``verify_repeats`` times a round (interleaved; best of all runs, and
   the median of the ratios within a round): the unkeyed chain alone
   (``check_tree=False``, the verifier as before the tree), unkeyed with the
   tree recomputed (``check_tree=True``), and signed with ``public_key=``
   (tree, checkpoints, certificates, signatures). Target: signed <= 1.3x the
   unkeyed chain alone. Each row's CPU seconds (this process and the tree
   check's child interpreter) are shown beside its wall time.
3. Proof: a ``proof_events``-event signed trail (1,000,000 in a full run);
   ``inclusion_proof`` of random events and ``verify_inclusion`` of each,
   median and worst of ``proofs`` proofs. Targets: proof < 50 ms, check < 5 ms.
"""

from __future__ import annotations

import asyncio
import math
import random
import shutil
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from fapilog_notebook import (
    AuditEventType,
    AuditTrail,
    inclusion_proof,
    signing_keygen,
    verify_audit_log,
    verify_inclusion,
)

from .harness import Measured, Runs, met, ratio_verdict

__all__ = ["SignedConfig", "markdown", "run"]

PARTS = ("write", "verify", "proof")
UNKEYED, SIGNED = "unkeyed (tree)", "signed (tree + Ed25519)"
WRITE_ROWS = (UNKEYED, SIGNED)
CHAIN_ONLY = "unkeyed, chain only (check_tree=False)"
UNKEYED_TREE = "unkeyed, tree recomputed (check_tree=True)"
SIGNED_VERIFY = "signed (public_key=: tree, checkpoints, signatures)"
VERIFY_ROWS = (CHAIN_ONLY, UNKEYED_TREE, SIGNED_VERIFY)
TARGET_WRITE = 1.15
TARGET_VERIFY = 1.3
TARGET_PROOF_MS = 50.0
TARGET_CHECK_MS = 5.0
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class SignedConfig:
    """Parameters of one run."""

    events: int = 100_000
    producers: int = 100
    repeats: int = 5
    verify_repeats: int = 3
    proof_events: int = 1_000_000
    proofs: int = 50
    tmp_root: str | None = None
    parts: tuple[str, ...] = PARTS

    @classmethod
    def quick(cls, tmp_root: str | None = None, parts: tuple[str, ...] = PARTS) -> SignedConfig:
        """A short smoke run."""
        return cls(
            events=5_000,
            producers=20,
            repeats=1,
            verify_repeats=1,
            proof_events=20_000,
            proofs=10,
            tmp_root=tmp_root,
            parts=parts,
        )


class _Clock:
    """Event times: the first half of the events on one day, the rest on the next."""

    def __init__(self, events: int) -> None:
        self.count = 0
        self.half = events // 2

    def __call__(self) -> datetime:
        self.count += 1
        return START + (timedelta(days=1) if self.count > self.half else timedelta())


async def _write(directory: Path, events: int, producers: int, **options: Any) -> float:
    per = events // producers
    async with AuditTrail(
        storage_path=directory, clock=_Clock(per * producers), **options
    ) as trail:

        async def produce(n: int) -> None:
            for i in range(per):
                await trail.log_event(AuditEventType.DATA_ACCESS, f"p{n} e{i}", user_id=f"u{n}")

        start = time.perf_counter()
        await asyncio.gather(*(produce(n) for n in range(producers)))
        return time.perf_counter() - start


def _write_row(
    mode: str, base: Path, config: SignedConfig, dirs: dict[str, tuple[Path, Path | None]]
) -> Measured:
    """One write of ``mode``'s trail; its directory (and public key) go into ``dirs``."""
    directory = base / mode.split()[0]
    shutil.rmtree(directory, ignore_errors=True)
    public: Path | None = None
    options: dict[str, Any] = {}
    if mode == SIGNED:
        keys = base / "keys"
        shutil.rmtree(keys, ignore_errors=True)
        keys.mkdir()
        signing, public = signing_keygen(
            keys / "w.signing", keys / "root.pub", day=START.date(), origin="bench.example/audit"
        )
        options["signing_key"] = signing
    seconds = asyncio.run(_write(directory, config.events, config.producers, **options))
    dirs[mode] = (directory, public)
    return seconds, None, None, {}


def _verify_time(directory: Path, public: Path | None, *, tree: bool) -> Measured:
    """One verify: the chain alone, or with the tree (and signatures, given ``public``)."""
    start = time.perf_counter()
    if public is not None:
        report = verify_audit_log(directory, public_key=public, progress=False)
    else:
        report = verify_audit_log(directory, check_tree=tree, progress=False)
    return time.perf_counter() - start, report.valid, None, {}


def run(config: SignedConfig) -> dict[str, Any]:
    """Run the selected parts; return the figures."""
    out: dict[str, Any] = {"config": asdict(config)}
    with tempfile.TemporaryDirectory(dir=config.tmp_root, prefix="bench-signed-") as tmp:
        base = Path(tmp)
        if "write" in config.parts or "verify" in config.parts:
            writes = {mode: Runs(mode) for mode in WRITE_ROWS}
            verifies = {mode: Runs(mode) for mode in VERIFY_ROWS}
            for _round in range(config.repeats):
                dirs: dict[str, tuple[Path, Path | None]] = {}
                for mode in WRITE_ROWS:
                    writes[mode].add(partial(_write_row, mode, base, config, dirs))
                if "verify" in config.parts:
                    unkeyed_dir, _ = dirs[UNKEYED]
                    signed_dir, public = dirs[SIGNED]
                    rows = {
                        CHAIN_ONLY: (unkeyed_dir, None, False),
                        UNKEYED_TREE: (unkeyed_dir, None, True),
                        SIGNED_VERIFY: (signed_dir, public, True),
                    }
                    for _again in range(config.verify_repeats):  # verifying is cheap: more samples
                        for mode, (directory, key, tree) in rows.items():
                            verifies[mode].add(partial(_verify_time, directory, key, tree=tree))
            best_w = {m: r.best for m, r in writes.items()}
            out["write"] = {
                "events": config.events,
                "seconds": best_w,
                "events_per_second": {m: config.events / s for m, s in best_w.items()},
                "signed_vs_unkeyed": best_w[SIGNED] / best_w[UNKEYED],
                "signed_vs_unkeyed_paired": _paired(writes[UNKEYED], writes[SIGNED]),
            }
            if "verify" in config.parts:
                best_v = {m: r.best for m, r in verifies.items()}
                # CPU seconds (this process and the tree check's child) of each best run.
                cpu_v = {m: r.cpu[r.seconds.index(r.best)] for m, r in verifies.items()}
                out["verify"] = {
                    "events": config.events,
                    "seconds": best_v,
                    "cpu_seconds": cpu_v,
                    "events_per_second": {m: config.events / s for m, s in best_v.items()},
                    "signed_vs_chain": best_v[SIGNED_VERIFY] / best_v[CHAIN_ONLY],
                    "signed_vs_chain_paired": _paired(
                        verifies[CHAIN_ONLY], verifies[SIGNED_VERIFY]
                    ),
                    "tree_vs_chain": best_v[UNKEYED_TREE] / best_v[CHAIN_ONLY],
                    "signed_vs_tree": best_v[SIGNED_VERIFY] / best_v[UNKEYED_TREE],
                    "cpu_signed_vs_chain": (
                        cpu_v[SIGNED_VERIFY] / cpu_v[CHAIN_ONLY] if cpu_v[CHAIN_ONLY] else math.nan
                    ),
                    "all_valid": all(r.ok is True for r in verifies.values()),
                }
        if "proof" in config.parts:
            out["proof"] = _proof_part(base, config)
    return out


def _paired(base: Runs, other: Runs) -> float:
    """The median over rounds of ``other``'s time over ``base``'s in the same round.

    Rounds are interleaved, so a ratio within a round sees the machine at one
    speed; the ratio of two bests can pair a fast moment with a slow one.
    """
    ratios = [b / a for a, b in zip(base.seconds, other.seconds, strict=False) if a > 0]
    return statistics.median(ratios) if ratios else math.nan


def _proof_part(base: Path, config: SignedConfig) -> dict[str, Any]:
    keys = base / "proof-keys"
    keys.mkdir()
    signing, public = signing_keygen(
        keys / "w.signing", keys / "root.pub", day=START.date(), origin="bench.example/proofs"
    )
    directory = base / "proof-trail"
    written = asyncio.run(
        _write(directory, config.proof_events, config.producers, signing_key=signing)
    )
    events = (config.proof_events // config.producers) * config.producers
    rng = random.Random(17)
    make: list[float] = []
    check: list[float] = []
    proved = 0
    for _ in range(config.proofs):
        seq = rng.randint(1, events)
        start = time.perf_counter()
        proof = inclusion_proof(directory, seq)
        make.append((time.perf_counter() - start) * 1000)
        text = proof.encode()
        start = time.perf_counter()
        verdict = verify_inclusion(text, public)
        check.append((time.perf_counter() - start) * 1000)
        proved += verdict.proved
    return {
        "events": events,
        "write_seconds": written,
        "proofs": config.proofs,
        "proved": proved,
        "proof_ms_median": statistics.median(make),
        "proof_ms_max": max(make),
        "check_ms_median": statistics.median(check),
        "check_ms_max": max(check),
        "path_hashes": len(proof.path),
        "proof_bytes": len(text),
    }


def markdown(data: dict[str, Any]) -> str:
    """The figures as markdown tables with their ratios."""
    parts = []
    if "write" in data:
        w = data["write"]
        rows = [
            f"| {mode} | {w['events_per_second'][mode]:,.0f} | {w['seconds'][mode]:.2f} |"
            for mode in WRITE_ROWS
        ]
        parts.append(
            f"Write, {w['events']:,} events (best of rounds):\n\n"
            "| writer | events/s | seconds |\n| --- | --- | --- |\n" + "\n".join(rows) + "\n\n"
            f"signed / unkeyed: {ratio_verdict(w['signed_vs_unkeyed'], TARGET_WRITE)}; "
            f"median of the per-round ratios: {w['signed_vs_unkeyed_paired']:.2f}x"
        )
    if "verify" in data:
        v = data["verify"]
        rows = [
            f"| {mode} | {v['events_per_second'][mode]:,.0f} | {v['seconds'][mode]:.2f} | "
            f"{v['cpu_seconds'][mode]:.2f} |"
            for mode in VERIFY_ROWS
        ]
        parts.append(
            f"Verify, {v['events']:,} events (best of rounds; all valid: {v['all_valid']}):\n\n"
            "| verify | events/s | seconds | CPU seconds |\n| --- | --- | --- | --- |\n"
            + "\n".join(rows)
            + "\n\n"
            f"signed / chain only: {ratio_verdict(v['signed_vs_chain'], TARGET_VERIFY)} "
            f"(median of the per-round ratios: {v['signed_vs_chain_paired']:.2f}x); "
            f"tree recomputed / chain only: {v['tree_vs_chain']:.2f}x; "
            f"signed / tree recomputed: {v['signed_vs_tree']:.2f}x; "
            f"CPU time, signed / chain only: {v['cpu_signed_vs_chain']:.2f}x (the tree is "
            "recomputed beside the chain, in a child interpreter, when a second CPU is free)"
        )
    if "proof" in data:
        p = data["proof"]
        met_p = met(p["proof_ms_max"] < TARGET_PROOF_MS)
        met_c = met(p["check_ms_max"] < TARGET_CHECK_MS)
        parts.append(
            f"Proofs from a {p['events']:,}-event signed trail ({p['proved']}/{p['proofs']} "
            f"proved; {p['path_hashes']} path hashes, {p['proof_bytes']} bytes):\n\n"
            "| | median ms | worst ms | target |\n| --- | --- | --- | --- |\n"
            f"| inclusion_proof | {p['proof_ms_median']:.2f} | {p['proof_ms_max']:.2f} | "
            f"< {TARGET_PROOF_MS:.0f} ms ({met_p}) |\n"
            f"| verify_inclusion | {p['check_ms_median']:.2f} | {p['check_ms_max']:.2f} | "
            f"< {TARGET_CHECK_MS:.0f} ms ({met_c}) |"
        )
    return "\n\n".join(parts)
