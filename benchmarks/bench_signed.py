"""Signed checkpoints and Merkle proofs (issue 17): what the tree and the signatures cost.

1. Write: ``producers`` concurrent tasks log ``events`` events (plain storage,
   no fsync) into ``AuditTrail`` three ways, interleaved, best of ``repeats``
   rounds: without the Merkle tree (the writer as it was before issue 17: the
   tree hooks are switched off for this row only), unkeyed (every trail keeps
   the tree), and signed (``signing_key=``: the tree plus an Ed25519-signed
   checkpoint per batch, over two UTC days so one key evolution is timed).
   Target: signed <= 1.15x unkeyed.
2. Verify: ``verify_audit_log`` over the unkeyed and the signed trail written
   above: the chain without the tree check (as before), unkeyed with the tree
   check, and signed with ``public_key=`` (tree, checkpoints, certificates,
   signatures). Target: signed <= 1.3x unkeyed.
3. Proof: a ``proof_events``-event signed trail (1,000,000 in a full run);
   ``inclusion_proof`` of random events and ``verify_inclusion`` of each,
   median and worst of ``proofs`` proofs. Targets: proof < 50 ms, check < 5 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
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
from fapilog_notebook.verify import TreeCheck
from fapilog_notebook.verify import _driver as verify_module

__all__ = ["SignedConfig", "markdown", "run"]

PARTS = ("write", "verify", "proof")
NO_TREE, UNKEYED, SIGNED = "no tree (before issue 17)", "unkeyed (tree)", "signed (tree + Ed25519)"
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


@contextlib.contextmanager
def _without_tree() -> Iterator[None]:
    """Switch the writer's tree hooks off (the writer as before issue 17)."""
    saved = (AuditTrail._open_tree, AuditTrail._grow_tree, AuditTrail._tree_fields)
    AuditTrail._open_tree = lambda self, events: None  # type: ignore[method-assign]
    AuditTrail._grow_tree = lambda self, data, events, count: None  # type: ignore[method-assign]
    AuditTrail._tree_fields = lambda self: {}  # type: ignore[method-assign]
    try:
        yield
    finally:
        AuditTrail._open_tree, AuditTrail._grow_tree, AuditTrail._tree_fields = saved  # type: ignore[method-assign]


@contextlib.contextmanager
def _without_tree_check() -> Iterator[None]:
    """Switch the verifier's tree check off (the verifier as before issue 17)."""
    saved = vars(verify_module)["check_trail"]

    def skip(directory: Path, public_key: Any = None, recorded: Any = ()) -> TreeCheck:
        return TreeCheck([], 0, 0, 0)

    setattr(verify_module, "check_trail", skip)  # noqa: B010 (not an exported name)
    try:
        yield
    finally:
        setattr(verify_module, "check_trail", saved)  # noqa: B010


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


def _write_row(mode: str, base: Path, config: SignedConfig) -> tuple[float, Path, Path | None]:
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
    if mode == NO_TREE:
        with _without_tree():
            seconds = asyncio.run(_write(directory, config.events, config.producers))
    else:
        seconds = asyncio.run(_write(directory, config.events, config.producers, **options))
    return seconds, directory, public


def _verify_time(directory: Path, public: Path | None, *, tree: bool) -> tuple[float, bool]:
    start = time.perf_counter()
    if tree:
        report = verify_audit_log(directory, public_key=public, progress=False)
    else:
        with _without_tree_check():
            report = verify_audit_log(directory, progress=False)
    return time.perf_counter() - start, report.valid


def run(config: SignedConfig) -> dict[str, Any]:
    """Run the selected parts; return the figures."""
    out: dict[str, Any] = {"config": asdict(config)}
    with tempfile.TemporaryDirectory(dir=config.tmp_root, prefix="bench-signed-") as tmp:
        base = Path(tmp)
        if "write" in config.parts or "verify" in config.parts:
            writes: dict[str, list[float]] = {NO_TREE: [], UNKEYED: [], SIGNED: []}
            verifies: dict[str, list[float]] = {NO_TREE: [], UNKEYED: [], SIGNED: []}
            valid = True
            for _round in range(config.repeats):
                dirs: dict[str, tuple[Path, Path | None]] = {}
                for mode in (NO_TREE, UNKEYED, SIGNED):
                    seconds, directory, public = _write_row(mode, base, config)
                    writes[mode].append(seconds)
                    dirs[mode] = (directory, public)
                if "verify" in config.parts:
                    unkeyed_dir, _ = dirs[UNKEYED]
                    signed_dir, public = dirs[SIGNED]
                    for mode, (directory, key, tree) in {
                        NO_TREE: (unkeyed_dir, None, False),
                        UNKEYED: (unkeyed_dir, None, True),
                        SIGNED: (signed_dir, public, True),
                    }.items():
                        seconds, ok = _verify_time(directory, key, tree=tree)
                        verifies[mode].append(seconds)
                        valid = valid and ok
            best_w = {m: min(v) for m, v in writes.items()}
            out["write"] = {
                "events": config.events,
                "seconds": best_w,
                "events_per_second": {m: config.events / s for m, s in best_w.items()},
                "signed_vs_unkeyed": best_w[SIGNED] / best_w[UNKEYED],
                "unkeyed_vs_no_tree": best_w[UNKEYED] / best_w[NO_TREE],
                "signed_vs_no_tree": best_w[SIGNED] / best_w[NO_TREE],
            }
            if "verify" in config.parts:
                best_v = {m: min(v) for m, v in verifies.items()}
                out["verify"] = {
                    "events": config.events,
                    "seconds": best_v,
                    "events_per_second": {m: config.events / s for m, s in best_v.items()},
                    "signed_vs_unkeyed": best_v[SIGNED] / best_v[UNKEYED],
                    "unkeyed_vs_no_tree": best_v[UNKEYED] / best_v[NO_TREE],
                    "signed_vs_no_tree": best_v[SIGNED] / best_v[NO_TREE],
                    "all_valid": valid,
                }
        if "proof" in config.parts:
            out["proof"] = _proof_part(base, config)
    return out


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


def _ok(value: float, target: float) -> str:
    return f"{value:.2f}x ({'met' if value <= target else 'NOT met'}: <= {target}x)"


def markdown(data: dict[str, Any]) -> str:
    """The figures as markdown tables with their ratios."""
    parts = []
    if "write" in data:
        w = data["write"]
        rows = [
            f"| {mode} | {w['events_per_second'][mode]:,.0f} | {w['seconds'][mode]:.2f} |"
            for mode in (NO_TREE, UNKEYED, SIGNED)
        ]
        parts.append(
            f"Write, {w['events']:,} events (best of rounds):\n\n"
            "| writer | events/s | seconds |\n| --- | --- | --- |\n" + "\n".join(rows) + "\n\n"
            f"signed / unkeyed: {_ok(w['signed_vs_unkeyed'], TARGET_WRITE)}; "
            f"unkeyed with tree / no tree: {w['unkeyed_vs_no_tree']:.2f}x; "
            f"signed / no tree: {w['signed_vs_no_tree']:.2f}x"
        )
    if "verify" in data:
        v = data["verify"]
        rows = [
            f"| {mode} | {v['events_per_second'][mode]:,.0f} | {v['seconds'][mode]:.2f} |"
            for mode in (NO_TREE, UNKEYED, SIGNED)
        ]
        parts.append(
            f"Verify, {v['events']:,} events (best of rounds; all valid: {v['all_valid']}):\n\n"
            "| verify | events/s | seconds |\n| --- | --- | --- |\n" + "\n".join(rows) + "\n\n"
            f"signed / unkeyed: {_ok(v['signed_vs_unkeyed'], TARGET_VERIFY)}; "
            f"unkeyed with tree check / without: {v['unkeyed_vs_no_tree']:.2f}x; "
            f"signed / without tree check: {v['signed_vs_no_tree']:.2f}x"
        )
    if "proof" in data:
        p = data["proof"]
        met_p = "met" if p["proof_ms_max"] < TARGET_PROOF_MS else "NOT met"
        met_c = "met" if p["check_ms_max"] < TARGET_CHECK_MS else "NOT met"
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
