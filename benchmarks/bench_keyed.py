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

import inspect
import math
import secrets
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from fapilog_notebook import AuditTrail, VerificationKey, keygen, verify_audit_log

from . import harness
from .bench_verify import time_verify
from .bench_write import TrailSubject, throughput_run
from .datasets import DATA_ROOT, KEY_BYTES, Dataset, dataset

__all__ = [
    "FORWARD",
    "STATIC",
    "UNKEYED",
    "KeyedConfig",
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
    """``AuditTrail`` with a static key, a forward-secure key file, or neither.

    ``check_key`` is what the files are checked with afterwards: the static
    key, or the auditor's verification key (each day's MAC under that day's key).
    """

    def __init__(self, directory: Path, mode: str) -> None:
        self.label = mode
        self.check_key: Any = None
        if mode == STATIC:
            key = secrets.token_bytes(KEY_BYTES)
            self.trail = AuditTrail(storage_path=directory, key=key)
            self.check_key = key
        elif mode == FORWARD:
            today = datetime.now(UTC).date()
            _, verification = keygen(
                directory.parent / "writer-key.json",
                directory.parent / "verification-key.json",
                start=today,
            )
            self.trail = AuditTrail(
                storage_path=directory, key_file=directory.parent / "writer-key.json"
            )
            self.check_key = VerificationKey.load(verification)
        else:
            self.trail = AuditTrail(storage_path=directory)


def write_once(
    mode: str, events: int, producers: int, tmp_root: str | None = None
) -> harness.Measured:
    """One throughput run of ``AuditTrail`` in ``mode``; seconds, and the files' check."""
    per = events // producers
    elapsed, extra, check = throughput_run(
        lambda directory: KeyedTrailSubject(directory, mode), producers, per, tmp_root
    )
    ok = check.chain_ok and check.lines == per * producers
    note = None if ok else check.problem or f"{check.lines} lines on disk"
    return elapsed, ok, note, extra


def run_write(config: KeyedConfig, report: Callable[[str], None]) -> list[harness.RateResult]:
    """Writing in each mode, interleaved rounds."""
    per = config.events // config.producers
    events = per * config.producers
    write_once(UNKEYED, min(events, 1_000), min(config.producers, 10), config.tmp_root)
    runs = [harness.Runs(mode) for mode in WRITE_MODES]
    harness.interleave(
        [
            (runs_, partial(write_once, mode, events, config.producers, config.tmp_root))
            for mode, runs_ in zip(WRITE_MODES, runs, strict=True)
        ],
        config.repeats,
        events=events,
        report=report,
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
    auditor = VerificationKey.load(forward.verification_key)
    return [
        _VerifyRow(UNKEYED, plain, None, False),
        _VerifyRow(STATIC, static, static.key, True),
        _VerifyRow("forward-secure (verification key)", forward, auditor, True),
        _VerifyRow("static-keyed log, no key (MACs unchecked)", static, None, False),
        _VerifyRow("forward-secure log, no key (MACs unchecked)", forward, None, False),
    ]


def _verify_keyed(row: _VerifyRow, supported: bool) -> harness.Measured:
    if not row.keyed:
        return time_verify(row.data)
    if not supported:
        raise harness.NotMeasured(NOT_AVAILABLE)
    try:
        return time_verify(row.data, key=row.key)
    except TypeError as exc:  # a key of a kind it does not take
        raise harness.NotMeasured(f"verify_audit_log(key=...) raised {exc}", ok=False) from exc


def run_verify(
    config: KeyedConfig, report: Callable[[str], None]
) -> tuple[list[harness.RateResult], bool]:
    """Verifying the three directories with and without keys, interleaved rounds."""
    rows = _verify_rows(config, report)
    supported = verify_key_supported()
    if not supported:
        report(f"  {NOT_AVAILABLE} (verify_audit_log has no key parameter)")
    runs = [harness.Runs(row.name) for row in rows]
    verify_audit_log(rows[0].data.file_paths()[0], progress=False)  # warm-up: imports
    harness.interleave(
        [
            (runs_, partial(_verify_keyed, row, supported))
            for row, runs_ in zip(rows, runs, strict=True)
        ],
        config.repeats,
        events=rows[0].data.events,
        report=report,
    )
    return [
        runs_.result(row.data.events, row.data.size) for row, runs_ in zip(rows, runs, strict=True)
    ], supported


# ---------------------------------------------------------------- verdicts and tables


def cost_verdict(rows: Sequence[harness.RateResult]) -> dict[str, Any]:
    """Cost of each keyed row against the unkeyed one (unkeyed events/s / keyed events/s)."""
    unkeyed = harness.rate_of(rows, UNKEYED)
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


def _cost_table(
    rows: Sequence[harness.RateResult], verdict: dict[str, Any], *, targeted: set[str]
) -> str:
    body = []
    for r in rows:
        v = verdict.get(r.name)
        cost = "1.00x" if r.name == UNKEYED else "-"
        verdict_cell = ""
        if v is not None and not math.isnan(v["cost"]):
            cost = harness.times(v["cost"], 2)
            if r.name in targeted:
                verdict_cell = harness.yes_no(v["met"])
        elif r.name in targeted:
            verdict_cell = "n/a"
        body.append(
            [
                r.name,
                f"{r.events:,}",
                harness.num(r.seconds, ".2f"),
                harness.num(r.events_per_s, ",.0f"),
                harness.num(r.median_per_s, ",.0f"),
                cost,
                f"<= {TARGET_COST:g}x" if r.name in targeted else "",
                verdict_cell,
                harness.num(r.steal_pct, ".0f"),
                harness.outcome(r.ok, r.note),
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
    return harness.md_table(headers, body)


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
        rows = [harness.RateResult(**r) for r in data["write"]]
        parts.append(
            f"### Keyed writing: {config['producers']} concurrent producers, "
            f"{rows[0].events:,} events, plain storage, no fsync, best of {config['repeats']}\n\n"
            + _cost_table(rows, data["write_verdict"], targeted={STATIC, FORWARD})
            + "\n\n*cost* = unkeyed events/s / this row's events/s (target from issue 4: "
            f"<= {TARGET_COST:g}x). *result*: every line on disk, its MAC checked under its key "
            "(the day's key for forward-secure) and its link."
        )
    if "verify" in data:
        rows = [harness.RateResult(**r) for r in data["verify"]]
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
