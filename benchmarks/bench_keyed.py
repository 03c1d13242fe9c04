"""Keyed benchmarks (issue 4): what a key costs when writing and when verifying.

1. Write: the throughput scenario of :mod:`.bench_write` (``producers``
   concurrent tasks, ``events`` events, plain storage, no fsync) with
   ``AuditTrail`` unkeyed, with a static key (``key=secrets.token_bytes(32)``)
   and forward-secure (``key_file=`` made by :func:`fapilog_notebook.keys.keygen`
   for today). Each run's files are checked afterwards: every line's MAC under
   its key, and the links.
2. Verify: :func:`fapilog_notebook.verify_audit_log` over the same
   ``events``-event directory written three ways (see :mod:`.datasets`):
   unkeyed without a key, static-keyed with its key, forward-secure with the
   auditor's verification key; and, for information, the keyed directories
   without a key (links and structure only). If ``verify_audit_log`` has no
   ``key`` parameter yet, the keyed rows say so instead of failing.

Target: a key costs no more than 1.3x the unkeyed time of the same run (so
keyed events/s >= unkeyed events/s / 1.3). Rows run interleaved, ``repeats``
rounds, best round counts.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import secrets
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any

from fapilog_notebook import AuditTrail, keys, storage, verify_audit_log
from fapilog_notebook.chain import (
    ALG_FORWARD_SECURE,
    ALG_STATIC,
    ChainHead,
    KeyLookup,
    check_line,
    links_to,
)

from .bench_verify import RateResult, _Runs, time_verify
from .bench_write import (
    FileCheck,
    TrailSubject,
    _throughput_once,
    md_table,
    run_directory,
)
from .datasets import DATA_ROOT, Dataset, dataset

__all__ = [
    "FORWARD",
    "STATIC",
    "UNKEYED",
    "KeyedConfig",
    "check_keyed_files",
    "markdown",
    "run",
    "verify_key_supported",
    "write_once",
]

PARTS = ("write", "verify")
UNKEYED = "unkeyed"
STATIC = "static key (HMAC-SHA256)"
FORWARD = "forward-secure key_file"
WRITE_MODES = (UNKEYED, STATIC, FORWARD)
NOT_AVAILABLE = "verify with key: not available yet"

# Target from issue 4.
TARGET_COST = 1.3


@dataclass(frozen=True)
class KeyedConfig:
    """Parameters of one run of the keyed benchmarks."""

    events: int = 20_000
    producers: int = 100
    verify_events: int = 200_000
    days: int = 5
    repeats: int = 3
    tmp_root: str | None = None
    data_root: str | None = None
    parts: tuple[str, ...] = PARTS

    @classmethod
    def quick(cls, **changes: Any) -> KeyedConfig:
        """A short smoke run: 2,000 events written, 20,000 verified, one round."""
        base: dict[str, Any] = {"events": 2_000, "verify_events": 20_000, "repeats": 1}
        base.update(changes)
        return cls(**base)

    @property
    def root(self) -> Path:
        return DATA_ROOT if self.data_root is None else Path(self.data_root)


# ---------------------------------------------------------------- 1. writing


class KeyedTrailSubject(TrailSubject):
    """``AuditTrail`` with a static key, a forward-secure key file, or neither."""

    def __init__(self, directory: Path, mode: str) -> None:
        self.label = mode
        self.key_for: KeyLookup | None = None
        self.expected_alg: str | None = None
        if mode == STATIC:
            key = secrets.token_bytes(keys.KEY_BYTES)
            self.trail = AuditTrail(storage_path=directory, key=key)
            self.key_for = lambda _mac: key
            self.expected_alg = ALG_STATIC
        elif mode == FORWARD:
            today = datetime.now(UTC).date()
            _, verification = keys.keygen(
                directory.parent / "writer-key.json",
                directory.parent / "verification-key.json",
                start=today,
            )
            auditor = keys.VerificationKey.load(verification)
            self.trail = AuditTrail(
                storage_path=directory, key_file=directory.parent / "writer-key.json"
            )
            self.key_for = lambda mac: auditor.key_for(date.fromisoformat(mac["day"]))
            self.expected_alg = ALG_FORWARD_SECURE
        else:
            self.trail = AuditTrail(storage_path=directory)


def check_keyed_files(
    directory: Path,
    key_for: KeyLookup | None,
    expected_alg: str | None,
) -> FileCheck:
    """Count the event lines and check every MAC (or checksum) and link across files."""
    head: ChainHead | None = None
    lines = 0
    for _, path in storage.list_audit_files(directory):
        with open(path, "rb") as handle:
            for number, raw in enumerate(handle, 1):
                lines += 1
                check = check_line(raw.rstrip(b"\n"), key_for)
                where = f"{path.name}:{number}"
                if check.problem is not None or not check.checksum_ok:
                    return FileCheck(lines, False, f"{where}: {check.problem or 'bad MAC'}")
                if check.mac_alg != expected_alg or (expected_alg and not check.mac_checked):
                    return FileCheck(lines, False, f"{where}: MAC {check.mac_alg}, not checked")
                assert check.sequence_number is not None
                assert check.checksum is not None
                if not links_to(head, check.sequence_number, check.previous_hash):
                    return FileCheck(lines, False, f"{where}: broken link")
                head = ChainHead(check.sequence_number, check.checksum)
    return FileCheck(lines, True, None)


def write_once(
    mode: str, events: int, producers: int, tmp_root: str | None = None
) -> tuple[float, bool, str | None, dict[str, Any]]:
    """One throughput run of ``AuditTrail`` in ``mode``; seconds, and the files' check."""
    per = events // producers
    with run_directory(tmp_root) as directory:
        subject = KeyedTrailSubject(directory, mode)

        async def main() -> tuple[float, dict[str, Any]]:
            elapsed = await _throughput_once(subject, producers, per)
            extra = await subject.extra()
            await subject.stop()
            return elapsed, extra

        elapsed, extra = asyncio.run(main())
        check = check_keyed_files(directory, subject.key_for, subject.expected_alg)
    ok = check.chain_ok and check.lines == per * producers
    note = None if ok else check.problem or f"{check.lines} lines on disk"
    return elapsed, ok, note, extra


def run_write(config: KeyedConfig, report: Callable[[str], None]) -> list[RateResult]:
    """Writing in each mode, interleaved rounds."""
    per = config.events // config.producers
    events = per * config.producers
    write_once(UNKEYED, min(events, 1_000), min(config.producers, 10), config.tmp_root)
    runs = [_Runs(mode) for mode in WRITE_MODES]
    for round_ in range(config.repeats):
        for mode, runs_ in zip(WRITE_MODES, runs, strict=True):
            runs_.add(partial(write_once, mode, events, config.producers, config.tmp_root))
        report(
            f"  round {round_ + 1}/{config.repeats}: "
            + ", ".join(f"{r.name} {events / r.seconds[-1]:,.0f}/s" for r in runs)
        )
    return [r.result(events, 0) for r in runs]


# ---------------------------------------------------------------- 2. verifying


def verify_key_supported() -> bool:
    """Does ``verify_audit_log`` take a ``key`` yet? (Checked when run, not at import.)"""
    return "key" in inspect.signature(verify_audit_log).parameters


@dataclass(frozen=True)
class _VerifyRow:
    name: str
    data: Dataset
    key: Any
    keyed: bool  # needs verify_audit_log(key=...)


def _verify_rows(config: KeyedConfig, report: Callable[[str], None]) -> list[_VerifyRow]:
    plain = dataset(config.verify_events, days=config.days, root=config.root, report=report)
    static = dataset(
        config.verify_events, days=config.days, mode="static", root=config.root, report=report
    )
    forward = dataset(
        config.verify_events, days=config.days, mode="forward", root=config.root, report=report
    )
    assert forward.verification_key is not None
    auditor = keys.VerificationKey.load(forward.verification_key)
    return [
        _VerifyRow(UNKEYED, plain, None, False),
        _VerifyRow(STATIC, static, static.key, True),
        _VerifyRow("forward-secure (verification key)", forward, auditor, True),
        _VerifyRow("static-keyed log, no key (MACs unchecked)", static, None, False),
        _VerifyRow("forward-secure log, no key (MACs unchecked)", forward, None, False),
    ]


def _verify_keyed(row: _VerifyRow) -> tuple[float, bool, str | None, dict[str, Any]]:
    if not row.keyed:
        return time_verify(row.data)
    return time_verify(row.data, key=row.key)


def run_verify(config: KeyedConfig, report: Callable[[str], None]) -> tuple[list[RateResult], bool]:
    """Verifying the three directories with and without keys, interleaved rounds."""
    rows = _verify_rows(config, report)
    supported = verify_key_supported()
    if not supported:
        report(f"  {NOT_AVAILABLE} (verify_audit_log has no key parameter)")
    runs = [_Runs(row.name) for row in rows]
    events = rows[0].data.events
    verify_audit_log(rows[0].data.file_paths()[0], progress=False)  # warm-up: imports
    for round_ in range(config.repeats):
        for row, runs_ in zip(rows, runs, strict=True):
            if row.keyed and not supported:
                runs_.note = NOT_AVAILABLE
                continue
            try:
                runs_.add(partial(_verify_keyed, row))
            except TypeError as exc:  # a key of a kind it does not take
                runs_.ok, runs_.note = False, f"verify_audit_log(key=...) raised {exc}"
        report(
            f"  round {round_ + 1}/{config.repeats}: "
            + ", ".join(f"{r.name} {events / r.seconds[-1]:,.0f}/s" for r in runs if r.seconds)
        )
    return [
        runs_.result(row.data.events, row.data.size) for row, runs_ in zip(rows, runs, strict=True)
    ], supported


# ---------------------------------------------------------------- verdicts and tables


def cost_verdict(rows: Sequence[RateResult]) -> dict[str, Any]:
    """Cost of each keyed row against the unkeyed one (unkeyed events/s / keyed events/s)."""
    unkeyed = next(r for r in rows if r.name == UNKEYED).events_per_s
    out: dict[str, Any] = {}
    for r in rows:
        if r.name == UNKEYED:
            continue
        cost = unkeyed / r.events_per_s if r.events_per_s else math.nan
        out[r.name] = {
            "cost": cost,
            "met": None if math.isnan(cost) else bool(cost <= TARGET_COST and r.ok is True),
        }
    return out


def _cost_table(rows: Sequence[RateResult], verdict: dict[str, Any], *, targeted: set[str]) -> str:
    body = []
    for r in rows:
        v = verdict.get(r.name)
        cost = "1.00x" if r.name == UNKEYED else "-"
        met = ""
        if v is not None and not math.isnan(v["cost"]):
            cost = f"{v['cost']:.2f}x"
            if r.name in targeted:
                met = "yes" if v["met"] else "NO"
        elif r.name in targeted:
            met = "n/a"
        result = (r.note or "-") if r.ok is None else ("ok" if r.ok else f"FAILED: {r.note}")
        body.append(
            [
                r.name,
                f"{r.events:,}",
                "-" if math.isnan(r.seconds) else f"{r.seconds:.2f}",
                "-" if math.isnan(r.events_per_s) else f"{r.events_per_s:,.0f}",
                "-" if math.isnan(r.median_per_s) else f"{r.median_per_s:,.0f}",
                cost,
                f"<= {TARGET_COST:g}x" if r.name in targeted else "",
                met,
                "-" if math.isnan(r.steal_pct) else f"{r.steal_pct:.0f}",
                result,
            ]
        )
    headers = [
        "mode",
        "events",
        "best s",
        "events/s (best)",
        "events/s (median)",
        "cost x unkeyed",
        "target",
        "met",
        "steal %",
        "result",
    ]
    return md_table(headers, body)


def run(config: KeyedConfig, report: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the selected parts; return a JSON-ready dict (see :func:`markdown`)."""
    out: dict[str, Any] = {"config": asdict(config)}
    if "write" in config.parts:
        report(f"keyed.write: {config.events:,} events, {config.producers} producers")
        rows = run_write(config, report)
        out["write"] = [asdict(r) for r in rows]
        out["write_verdict"] = cost_verdict(rows)
    if "verify" in config.parts:
        report(f"keyed.verify: {config.verify_events:,} events")
        rows, supported = run_verify(config, report)
        out["verify"] = [asdict(r) for r in rows]
        out["verify_verdict"] = cost_verdict(rows)
        out["verify_key_supported"] = supported
    return out


def markdown(data: dict[str, Any]) -> str:
    """The tables of whichever parts were run, with their headings."""
    config = data["config"]
    parts = []
    if "write" in data:
        rows = [RateResult(**r) for r in data["write"]]
        parts.append(
            f"### Keyed writing: {config['producers']} concurrent producers, "
            f"{rows[0].events:,} events, plain storage, no fsync, best of {config['repeats']}\n\n"
            + _cost_table(rows, data["write_verdict"], targeted={STATIC, FORWARD})
            + "\n\n*cost* = unkeyed events/s / this row's events/s (target from issue 4: "
            f"<= {TARGET_COST:g}x). *result*: every line on disk, its MAC checked under its key "
            "(the day's key for forward-secure) and its link."
        )
    if "verify" in data:
        rows = [RateResult(**r) for r in data["verify"]]
        note = "" if data["verify_key_supported"] else f"\n\n**{NOT_AVAILABLE}.**"
        parts.append(
            f"### Keyed verifying: {rows[0].events:,} events over {config['days']} days, "
            f"best of {config['repeats']}\n\n"
            + _cost_table(
                rows, data["verify_verdict"], targeted={STATIC, "forward-secure (verification key)"}
            )
            + note
            + "\n\nThe same events in each directory; the rows without a key check links, "
            "sequences and structure only and are shown for information."
        )
    return "\n\n".join(parts)
