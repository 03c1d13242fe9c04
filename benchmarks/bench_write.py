"""Write benchmarks: ``AuditTrail`` against the seed's *before* and *after* writers.

1. Throughput: ``producers`` concurrent tasks log ``events`` events as fast as
   they can; events/s until every event is on disk, beside the CPU floor
   (building, serialising and hashing the same events with no I/O).
2. Blocking: open-loop arrivals, one new task logging one event every
   ``period`` seconds, scheduled against a monotonic clock (a stalled loop
   shows up as a backlog, not as a lower offered rate), with a 1 ms
   :class:`~fapilog_notebook.LoopLagProbe` ticking beside it; on plain and on
   slowed storage, with and without fsync.

Slowed storage: :func:`fapilog_notebook.storage.write_all`, the one function
that writes bytes, is wrapped to sleep ``delay`` seconds per call; the
baselines write through the same function, so they are slowed the same way.
Each writer runs once per case in a fresh ``asyncio.run`` and a fresh temporary
directory, and its files are checked (line count, chain) after the clock stops.
"""

from __future__ import annotations

import asyncio
import gc
import math
import os
import socket
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol
from unittest import mock

from fapilog_notebook import AuditTrail, CompliancePolicy, LoopLagProbe, storage
from fapilog_notebook.chain import ChainHead, check_line, links_to, seal
from fapilog_notebook.events import AuditLogLevel
from fapilog_notebook.notebook import percentile
from fapilog_notebook.writer._factory import _plain_payload, utc_now

from .baselines import (
    QueueWorkerTrail,
    SyncQueueTrail,
    ThreadPerEventTrail,
    build_event,
    event_fields,
)

__all__ = [
    "AUDIT_TRAIL",
    "CPU_FLOOR",
    "BlockingResult",
    "ThroughputResult",
    "WriteConfig",
    "cpu_floor",
    "markdown",
    "run",
    "slowed_storage",
]

AUDIT_TRAIL = "AuditTrail (group commit)"
CPU_FLOOR = "CPU floor (build + dump + seal, no I/O)"
PARTS = ("throughput", "blocking")

# Targets from issue 2 for AuditTrail.
TARGET_FLOOR_RATIO = 0.6
TARGET_LAG_P99_MS = 2.0
TARGET_LAG_MAX_MS = 25.0
#: "Sustains the offered rate": at least this share of it, all events on disk.
TARGET_SUSTAINED_SHARE = 0.98


@dataclass(frozen=True)
class WriteConfig:
    """Parameters of one run of the write benchmarks."""

    events: int = 20_000
    producers: int = 100
    period: float = 0.0005
    seconds: float = 5.0
    slow_delay: float = 0.002
    max_drain: float = 60.0
    repeats: int = 3
    tmp_root: str | None = None
    parts: tuple[str, ...] = PARTS

    @classmethod
    def quick(cls, **changes: Any) -> WriteConfig:
        """A short smoke run: fewer events, 1 s of arrivals, a short drain cap."""
        base: dict[str, Any] = {"events": 2_000, "seconds": 1.0, "max_drain": 15.0, "repeats": 1}
        base.update(changes)
        return cls(**base)


@contextmanager
def slowed_storage(delay: float) -> Iterator[None]:
    """Make every ``storage.write_all`` call sleep ``delay`` seconds first."""
    if delay <= 0:
        yield
        return
    original = storage.write_all

    def slow_write_all(fd: int, data: bytes) -> None:
        time.sleep(delay)
        original(fd, data)

    with mock.patch.object(storage, "write_all", slow_write_all):
        yield


# ---------------------------------------------------------------- the writers


class Subject(Protocol):
    """One writer under test, behind a common face."""

    label: str

    async def start(self) -> None: ...

    async def log(self, producer: int, index: int) -> float | None:
        """Log one event; return when it is on disk if the writer says so, else None."""
        ...

    async def drain(self) -> None: ...

    async def stop(self) -> None: ...

    async def abandon(self) -> None: ...

    async def on_disk(self) -> int: ...

    def on_disk_times(self) -> list[float] | None: ...

    async def extra(self) -> dict[str, Any]: ...


class TrailSubject:
    """``AuditTrail``: ``log_event`` returns once the line is in its file."""

    label = AUDIT_TRAIL

    def __init__(self, directory: Path, *, fsync: bool) -> None:
        self.trail = AuditTrail(storage_path=directory, fsync=fsync)

    async def start(self) -> None:
        await self.trail.start()

    async def log(self, producer: int, index: int) -> float | None:
        kind, message, fields = event_fields(producer, index)
        await self.trail.log_event(kind, message, **fields)
        return time.perf_counter()

    async def drain(self) -> None:
        await self.trail.drain()

    async def stop(self) -> None:
        await self.trail.stop()

    async def abandon(self) -> None:
        await self.trail.stop()

    async def on_disk(self) -> int:
        written: int = (await self.trail.get_statistics())["events_written"]
        return written

    def on_disk_times(self) -> list[float] | None:
        return None

    async def extra(self) -> dict[str, Any]:
        stats = await self.trail.get_statistics()
        batches = stats["batches_written"]
        return {
            "batches": batches,
            "mean_batch": stats["events_written"] / batches if batches else math.nan,
            "write_failures": stats["write_failures"],
        }


class QueueSubject:
    """A baseline: ``log_event`` only enqueues; a worker task writes."""

    def __init__(self, writer: QueueWorkerTrail) -> None:
        self.writer = writer
        self.label = writer.name

    async def start(self) -> None:
        await self.writer.start()

    async def log(self, producer: int, index: int) -> float | None:
        kind, message, fields = event_fields(producer, index)
        await self.writer.log_event(kind, message, **fields)
        return None

    async def drain(self) -> None:
        await self.writer.drain()

    async def stop(self) -> None:
        await self.writer.stop()

    async def abandon(self) -> None:
        await self.writer.close()

    async def on_disk(self) -> int:
        return self.writer.written

    def on_disk_times(self) -> list[float] | None:
        return self.writer.written_at

    async def extra(self) -> dict[str, Any]:
        return {}


SubjectFactory = Callable[[Path, bool], Subject]

WRITERS: tuple[SubjectFactory, ...] = (
    lambda d, fsync: TrailSubject(d, fsync=fsync),
    lambda d, fsync: QueueSubject(SyncQueueTrail(d, fsync=fsync)),
    lambda d, fsync: QueueSubject(ThreadPerEventTrail(d, fsync=fsync)),
)


@dataclass
class GcWatch:
    """Garbage-collector pauses seen while it was installed, in milliseconds."""

    pauses_ms: list[float] = field(default_factory=list)
    full: int = 0
    _started: float = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        self.pauses_ms.append((time.perf_counter() - self._started) * 1000)
        if info.get("generation") == 2:
            self.full += 1

    @property
    def max_ms(self) -> float:
        return max(self.pauses_ms, default=0.0)


@contextmanager
def gc_watch() -> Iterator[GcWatch]:
    """Record every collection's pause while the block runs (the loop thread's GC stalls)."""
    watch = GcWatch()
    gc.callbacks.append(watch)
    try:
        yield watch
    finally:
        gc.callbacks.remove(watch)


class CpuSteal:
    """The share of CPU time the hypervisor took away (``steal`` in /proc/stat), in %."""

    def __init__(self) -> None:
        self.percent = math.nan
        self._before = self.read()

    @staticmethod
    def read() -> tuple[int, int] | None:
        """(steal, total) jiffies of all CPUs, or None where /proc/stat is missing."""
        try:
            with open("/proc/stat", encoding="ascii") as handle:
                fields = [int(v) for v in handle.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        return (fields[7] if len(fields) > 7 else 0), sum(fields[:8])

    def stop(self) -> None:
        after = self.read()
        if self._before is not None and after is not None and after[1] > self._before[1]:
            self.percent = 100.0 * (after[0] - self._before[0]) / (after[1] - self._before[1])


@contextmanager
def cpu_steal() -> Iterator[CpuSteal]:
    """Measure the CPU steal while the block runs (noise from other virtual machines)."""
    steal = CpuSteal()
    try:
        yield steal
    finally:
        steal.stop()


# ---------------------------------------------------------------- checking files


@dataclass(frozen=True)
class FileCheck:
    """What the files of one run hold: event lines, and whether they chain."""

    lines: int
    chain_ok: bool
    problem: str | None


def check_files(directory: Path) -> FileCheck:
    """Count the event lines and check the chain (checksums and links) across files."""
    head: ChainHead | None = None
    lines = 0
    for _, path in storage.list_audit_files(directory):
        with open(path, "rb") as handle:
            for number, raw in enumerate(handle, 1):
                lines += 1
                check = check_line(raw.rstrip(b"\n"))
                where = f"{path.name}:{number}"
                if check.problem is not None or not check.checksum_ok:
                    return FileCheck(lines, False, f"{where}: {check.problem or 'bad checksum'}")
                assert check.sequence_number is not None
                assert check.checksum is not None
                if not links_to(head, check.sequence_number, check.previous_hash):
                    return FileCheck(lines, False, f"{where}: broken link")
                head = ChainHead(check.sequence_number, check.checksum)
    return FileCheck(lines, True, None)


@contextmanager
def run_directory(tmp_root: str | None) -> Iterator[Path]:
    """A fresh temporary directory for one writer run, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="fapilog-bench-", dir=tmp_root) as name:
        yield Path(name) / "audit"


# ---------------------------------------------------------------- 1. throughput


@dataclass
class ThroughputResult:
    """Events/s of one writer (or the floor): the best of ``repeats`` runs, and each run."""

    writer: str
    events: int
    seconds: float
    events_per_s: float
    median_per_s: float = math.nan
    runs_per_s: list[float] = field(default_factory=list)
    steal_pct: float = math.nan
    on_disk: int | None = None
    chain_ok: bool | None = None
    problem: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def cpu_floor(events: int, producers: int) -> float:
    """Seconds to build, serialise and hash ``events`` events in a plain loop.

    Built the way ``AuditTrail.log_event`` builds them: its direct payload for
    plain input (these events are), the pydantic model otherwise. So the floor
    is the writer's own CPU work without the queue, the awaits and the I/O.
    """
    policy = CompliancePolicy()
    hostname, pid = socket.gethostname(), os.getpid()
    per = events // producers
    head: ChainHead | None = None
    started = time.perf_counter()
    for index in range(per):
        for producer in range(producers):
            kind, message, fields = event_fields(producer, index)
            user_id = fields.pop("user_id")
            request_id = fields.pop("request_id")
            payload = _plain_payload(
                utc_now(),
                kind,
                AuditLogLevel.INFO,
                message,
                policy.level,
                hostname,
                [],
                fields,
                (
                    ("component", None),
                    ("operation", None),
                    ("user_id", user_id),
                    ("session_id", None),
                    ("request_id", request_id),
                    ("client_ip", None),
                    ("user_agent", None),
                    ("data_classification", None),
                ),
                False,
                False,
            )
            if payload is None:
                payload = build_event(
                    kind,
                    message,
                    policy=policy,
                    hostname=hostname,
                    process_id=pid,
                    user_id=user_id,
                    request_id=request_id,
                    metadata=fields,
                ).model_dump(mode="json")
            seq = head.sequence_number + 1 if head is not None else 1
            _, checksum = seal(
                payload,
                sequence_number=seq,
                previous_hash=head.checksum if head is not None else None,
            )
            head = ChainHead(seq, checksum)
    return time.perf_counter() - started


async def _throughput_once(subject: Subject, producers: int, per_producer: int) -> float:
    async def produce(producer: int) -> None:
        for index in range(per_producer):
            await subject.log(producer, index)

    await subject.start()
    gc.collect()
    started = time.perf_counter()
    await asyncio.gather(*(produce(p) for p in range(producers)))
    await subject.drain()
    elapsed = time.perf_counter() - started
    return elapsed


@dataclass
class _WriterRuns:
    label: str
    seconds: list[float] = field(default_factory=list)
    steal: list[float] = field(default_factory=list)
    check: FileCheck | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _throughput_writer(
    factory: SubjectFactory, config: WriteConfig, per: int, runs: _WriterRuns | None
) -> _WriterRuns:
    with run_directory(config.tmp_root) as directory:
        subject = factory(directory, False)

        async def main() -> tuple[float, dict[str, Any]]:
            elapsed = await _throughput_once(subject, config.producers, per)
            extra = await subject.extra()
            await subject.stop()
            return elapsed, extra

        with cpu_steal() as steal:
            elapsed, extra = asyncio.run(main())
        check = check_files(directory)
    if runs is None:
        runs = _WriterRuns(subject.label)
    runs.seconds.append(elapsed)
    runs.steal.append(steal.percent)
    if runs.check is None or not check.chain_ok:
        runs.check = check
    if elapsed <= min(runs.seconds):
        runs.extra = extra
    return runs


def run_throughput(config: WriteConfig, report: Callable[[str], None]) -> list[ThroughputResult]:
    """Benchmark 1: the CPU floor and each writer, ``repeats`` rounds, interleaved."""
    per = config.events // config.producers
    events = per * config.producers
    cpu_floor(min(events, 1_000), min(config.producers, 10))  # warm-up
    floor = _WriterRuns(CPU_FLOOR)
    writers: list[_WriterRuns | None] = [None] * len(WRITERS)
    for round_ in range(config.repeats):
        gc.collect()
        with cpu_steal() as steal:
            floor.seconds.append(cpu_floor(events, config.producers))
        floor.steal.append(steal.percent)
        for i, factory in enumerate(WRITERS):
            writers[i] = _throughput_writer(factory, config, per, writers[i])
        done = [floor, *(w for w in writers if w is not None)]
        report(
            f"  round {round_ + 1}/{config.repeats}: "
            + ", ".join(f"{w.label.split(':')[0]} {events / w.seconds[-1]:,.0f}/s" for w in done)
        )
    results = []
    for runs in [floor, *(w for w in writers if w is not None)]:
        rates = sorted(events / s for s in runs.seconds)
        check = runs.check
        results.append(
            ThroughputResult(
                runs.label,
                events,
                min(runs.seconds),
                rates[-1],
                median_per_s=statistics.median(rates),
                runs_per_s=[events / s for s in runs.seconds],
                steal_pct=max(runs.steal),
                on_disk=None if check is None else check.lines,
                chain_ok=None if check is None else check.chain_ok and check.lines == events,
                problem=None if check is None else check.problem,
                extra=runs.extra,
            )
        )
    return results


# ---------------------------------------------------------------- 2. blocking


@dataclass
class BlockingResult:
    """One writer on one storage case of the open-loop benchmark."""

    storage: str
    fsync: bool
    writer: str
    offered: int
    offered_per_s: float
    on_disk: int
    finished: bool
    seconds: float
    sustained_per_s: float
    tail_s: float
    latency_p50_ms: float
    latency_p99_ms: float
    latency_max_ms: float
    lag_p50_ms: float
    lag_p99_ms: float
    lag_max_ms: float
    lag_samples: int
    gc_max_ms: float
    gc_full_collections: int
    steal_pct: float
    chain_ok: bool
    problem: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Run:
    started: float
    ended: float
    last_arrival: float
    finished: bool
    on_disk: int
    latencies_ms: list[float]
    lags_ms: list[float]
    gc: GcWatch
    extra: dict[str, Any]


async def _blocking_once(subject: Subject, count: int, period: float, max_drain: float) -> _Run:
    await subject.start()
    acked: dict[int, float] = {}
    tasks: set[asyncio.Task[None]] = set()

    async def arrival(k: int) -> None:
        done = await subject.log(k % 100, k)
        if done is not None:
            acked[k] = done

    async def finish() -> None:
        while tasks:
            await asyncio.gather(*list(tasks))
        await subject.drain()

    loop = asyncio.get_running_loop()
    probe = LoopLagProbe(interval=0.001)
    gc.collect()
    with gc_watch() as gcw:
        probe.start()
        await asyncio.sleep(0.05)  # let the ticker settle in
        started = time.perf_counter()
        k = 0
        while k < count:
            # Every arrival whose time has come starts now, however late the loop is.
            due = min(count, int((time.perf_counter() - started) / period) + 1)
            while k < due:
                task = loop.create_task(arrival(k))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                k += 1
            if k < count:
                await asyncio.sleep(max(0.0, started + k * period - time.perf_counter()))
        last_arrival = time.perf_counter()
        try:
            await asyncio.wait_for(finish(), timeout=max_drain)
            finished = True
        except TimeoutError:
            finished = False
        ended = time.perf_counter()
        await probe.stop()
    on_disk = await subject.on_disk()
    extra = await subject.extra()
    if finished:
        await subject.stop()
    else:
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*list(tasks), return_exceptions=True)
        await subject.abandon()

    times = subject.on_disk_times()
    if times is None:
        latencies = [(acked[j] - (started + j * period)) * 1000 for j in sorted(acked)]
    else:
        latencies = [(t - (started + j * period)) * 1000 for j, t in enumerate(times)]
    return _Run(
        started, ended, last_arrival, finished, on_disk, latencies, probe.lags_ms, gcw, extra
    )


STORAGE_CASES: tuple[tuple[str, bool, bool], ...] = (
    ("plain", False, False),
    ("plain", False, True),
    ("slowed", True, False),
    ("slowed", True, True),
)


def _storage_label(slowed: bool, delay: float) -> str:
    return f"+{delay * 1000:g} ms/write" if slowed else "plain"


def run_blocking(config: WriteConfig, report: Callable[[str], None]) -> list[BlockingResult]:
    """Benchmark 2: each storage case, each writer, once each."""
    count = round(config.seconds / config.period)
    results: list[BlockingResult] = []
    for _, slowed, fsync in STORAGE_CASES:
        label = _storage_label(slowed, config.slow_delay)
        for factory in WRITERS:
            with run_directory(config.tmp_root) as directory:
                subject = factory(directory, fsync)
                with (
                    slowed_storage(config.slow_delay if slowed else 0.0),
                    cpu_steal() as steal,
                ):
                    run = asyncio.run(
                        _blocking_once(subject, count, config.period, config.max_drain)
                    )
                check = check_files(directory)
            lags = sorted(run.lags_ms)
            lat = sorted(run.latencies_ms)
            seconds = run.ended - run.started
            result = BlockingResult(
                storage=label,
                fsync=fsync,
                writer=subject.label,
                offered=count,
                offered_per_s=1.0 / config.period,
                on_disk=run.on_disk,
                finished=run.finished,
                seconds=seconds,
                sustained_per_s=run.on_disk / seconds,
                tail_s=run.ended - run.last_arrival,
                latency_p50_ms=percentile(lat, 50),
                latency_p99_ms=percentile(lat, 99),
                latency_max_ms=lat[-1] if lat else math.nan,
                lag_p50_ms=percentile(lags, 50),
                lag_p99_ms=percentile(lags, 99),
                lag_max_ms=lags[-1] if lags else math.nan,
                lag_samples=len(lags),
                gc_max_ms=run.gc.max_ms,
                gc_full_collections=run.gc.full,
                steal_pct=steal.percent,
                chain_ok=check.chain_ok and (not run.finished or check.lines == count),
                problem=check.problem,
                extra=run.extra,
            )
            results.append(result)
            report(
                f"  {label}, fsync={fsync}, {subject.label}: "
                f"{result.sustained_per_s:,.0f} events/s, lag p99 {result.lag_p99_ms:.2f} ms, "
                f"max {result.lag_max_ms:.1f} ms" + ("" if run.finished else " (cut off)")
            )
    return results


# ---------------------------------------------------------------- targets and tables


def throughput_verdict(results: Sequence[ThroughputResult]) -> dict[str, Any]:
    """Ratio of AuditTrail to the floor and to baseline (b), and whether the target holds."""
    by_name = {r.writer: r for r in results}
    floor = by_name[CPU_FLOOR].events_per_s
    ours = by_name[AUDIT_TRAIL].events_per_s
    after = by_name[ThreadPerEventTrail.name].events_per_s
    return {
        "floor_ratio": ours / floor,
        "vs_seed_after": ours / after,
        "target": f">= {TARGET_FLOOR_RATIO}x CPU floor",
        "met": ours / floor >= TARGET_FLOOR_RATIO and by_name[AUDIT_TRAIL].chain_ok is True,
    }


def blocking_verdict(result: BlockingResult) -> tuple[bool, list[str]]:
    """Whether one AuditTrail row meets issue 2's targets, and what misses."""
    misses = []
    if not result.finished or result.on_disk != result.offered:
        misses.append("not all events on disk")
    if result.sustained_per_s < TARGET_SUSTAINED_SHARE * result.offered_per_s:
        misses.append(f"sustained < {TARGET_SUSTAINED_SHARE:.0%} of offered")
    if not result.lag_p99_ms <= TARGET_LAG_P99_MS:
        misses.append(f"lag p99 > {TARGET_LAG_P99_MS:g} ms")
    if not result.lag_max_ms <= TARGET_LAG_MAX_MS:
        misses.append(f"lag max > {TARGET_LAG_MAX_MS:g} ms")
    if not result.chain_ok:
        misses.append("chain/line check failed")
    return not misses, misses


def md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub markdown table, numbers right-aligned."""
    aligns = ["---:" if all(_numeric(r[i]) for r in rows) else "---" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(aligns) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _numeric(text: str) -> bool:
    return text.replace(",", "").replace(".", "").replace("x", "").replace("-", "").isdigit()


def _ms(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:.2f}" if value < 10 else f"{value:,.0f}"


def _pct(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.0f}"


def throughput_table(results: Sequence[ThroughputResult]) -> str:
    """Benchmark 1 as markdown."""
    floor = next(r.events_per_s for r in results if r.writer == CPU_FLOOR)
    after = next(r.events_per_s for r in results if r.writer == ThreadPerEventTrail.name)
    rows = []
    for r in results:
        on_disk = "-" if r.on_disk is None else f"{r.on_disk:,}"
        chain = "-" if r.chain_ok is None else ("ok" if r.chain_ok else "FAILED")
        rows.append(
            [
                r.writer,
                f"{r.events:,}",
                f"{r.seconds:.2f}",
                f"{r.events_per_s:,.0f}",
                f"{r.median_per_s:,.0f}",
                f"{r.events_per_s / floor:.2f}x",
                f"{r.events_per_s / after:.1f}x",
                _pct(r.steal_pct),
                on_disk,
                chain,
            ]
        )
    headers = [
        "writer",
        "events",
        "best s",
        "events/s (best)",
        "events/s (median)",
        "x floor",
        "x (b)",
        "steal %",
        "lines on disk",
        "chain",
    ]
    return md_table(headers, rows)


def blocking_table(results: Sequence[BlockingResult]) -> str:
    """Benchmark 2 as markdown."""
    rows = []
    for r in results:
        if r.writer == AUDIT_TRAIL:
            ok, misses = blocking_verdict(r)
            verdict = "yes" if ok else "NO: " + "; ".join(misses)
        else:
            verdict = ""
        sustained = f"{r.sustained_per_s:,.0f}" + ("" if r.finished else " (cut off)")
        rows.append(
            [
                r.storage,
                "yes" if r.fsync else "no",
                r.writer,
                f"{r.on_disk:,}/{r.offered:,}",
                sustained,
                f"{r.tail_s:.2f}",
                _ms(r.latency_p99_ms),
                _ms(r.lag_p50_ms),
                _ms(r.lag_p99_ms),
                _ms(r.lag_max_ms),
                _ms(r.gc_max_ms),
                _pct(r.steal_pct),
                verdict,
            ]
        )
    headers = [
        "storage",
        "fsync",
        "writer",
        "on disk",
        "sustained events/s",
        "tail s",
        "latency p99 ms",
        "lag p50 ms",
        "lag p99 ms",
        "lag max ms",
        "GC max ms",
        "steal %",
        "target met",
    ]
    return md_table(headers, rows)


def markdown(data: dict[str, Any]) -> str:
    """Both tables (whichever were run) with their headings, from ``run``'s result."""
    config = data["config"]
    parts = []
    if "throughput" in data:
        rows = [ThroughputResult(**r) for r in data["throughput"]]
        verdict = data["throughput_verdict"]
        parts.append(
            f"### 1. Throughput: {config['producers']} concurrent producers, "
            f"{rows[0].events:,} events, plain storage, no fsync, best of {config['repeats']}\n\n"
            + throughput_table(rows)
            + f"\n\nAuditTrail: {verdict['floor_ratio']:.2f}x the CPU floor "
            f"(target {verdict['target']}: {'met' if verdict['met'] else 'NOT met'}), "
            f"{verdict['vs_seed_after']:.1f}x baseline (b). The writers and the floor run "
            "in interleaved rounds; *steal* = the most CPU time the hypervisor gave to other "
            "machines during any one run of that row."
        )
    if "blocking" in data:
        rows_b = [BlockingResult(**r) for r in data["blocking"]]
        offered = 1.0 / config["period"]
        parts.append(
            f"### 2. Blocking: open loop, one new task per event every "
            f"{config['period'] * 1000:g} ms ({offered:,.0f}/s offered) for "
            f"{config['seconds']:g} s, 1 ms ticker\n\n"
            + blocking_table(rows_b)
            + "\n\n*sustained* = events on disk / time until all are on disk; *tail* = time "
            "from the last arrival until all are on disk; *latency* = scheduled arrival to "
            "on disk; *lag* = how late the 1 ms ticker woke; *GC max* = the longest "
            "garbage-collector pause in the run (it stalls the loop like any other work); "
            "*steal* = CPU time the hypervisor gave to other machines during the run. "
            "Target for AuditTrail: "
            f">= {TARGET_SUSTAINED_SHARE:.0%} of the offered rate with every event on disk, "
            f"lag p99 <= {TARGET_LAG_P99_MS:g} ms, max <= {TARGET_LAG_MAX_MS:g} ms. "
            f"A run still draining {config['max_drain']:g} s after the last arrival is cut off."
        )
    return "\n\n".join(parts)


def run(config: WriteConfig, report: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the selected parts; return a JSON-ready dict (see :func:`markdown`)."""
    data: dict[str, Any] = {"config": asdict(config)}
    if "throughput" in config.parts:
        report(f"write.throughput: {config.events:,} events, {config.producers} producers")
        results = run_throughput(config, report)
        data["throughput"] = [asdict(r) for r in results]
        data["throughput_verdict"] = throughput_verdict(results)
    if "blocking" in config.parts:
        report(f"write.blocking: {config.seconds:g} s at {1 / config.period:,.0f} events/s")
        blocking = run_blocking(config, report)
        data["blocking"] = [asdict(r) for r in blocking]
        data["blocking_verdict"] = {
            f"{r.storage}, fsync={r.fsync}": blocking_verdict(r)[1] or "met"
            for r in blocking
            if r.writer == AUDIT_TRAIL
        }
    return data
