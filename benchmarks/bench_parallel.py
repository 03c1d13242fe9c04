"""Parallel benchmarks (issue 6): verifying on a local process pool and on Dask.

On a cached directory of ``events`` events over ``days`` daily files (see
:mod:`.datasets`):

1. ``parallel.verify``: :func:`fapilog_notebook.verify_audit_log` serial,
   with ``workers=N`` (the pool is started and stopped inside the call, so its
   start-up counts) and with ``engine="dask"`` on a ``LocalCluster`` of N
   worker processes with one thread each (started once, outside the timing,
   as a cluster is a long-lived resource). The pool's rounds run first, beside
   serial rounds, with no cluster alive (an idle cluster's processes take a
   share of the cores); then Dask's rounds, beside serial rounds run while
   the cluster is up. Each engine's ratio is to the serial runs beside it.
   Events/s, the ratio to serial, and whether the reports are identical.
   Then the peak RSS of each worker: pool workers report their peak RSS after
   a verify on a pool we keep;
   Dask workers are asked with ``client.run`` before and after the work.
2. ``parallel.scaling``: serial and ``workers=N`` seconds on 100,000,
   1,000,000 and (with ``--big``, standalone) 3,000,000 events over the same
   number of days: time per event should stay flat (linear growth).

Each timed row runs once per round, rows interleaved, ``repeats`` rounds;
the best round counts, and the CPU steal of every run is recorded. The
machine's other load matters on a 2-core box: the load average before the
run is recorded too.

Standalone: ``python -m benchmarks.bench_parallel [--quick] [--big]``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fapilog_notebook import verify_audit_log

from . import harness
from .datasets import DATA_ROOT, Dataset, dataset

__all__ = ["PARTS", "ParallelConfig", "main", "markdown", "run"]

PARTS = ("verify", "scaling")
SERIAL = "serial"
SERIAL_BESIDE_DASK = "serial, beside the Dask cluster"
TARGET_WORKERS_X = 1.7
TARGET_DASK_X = 1.5


@dataclass(frozen=True)
class ParallelConfig:
    """Parameters of one run of the parallel benchmarks."""

    events: int = 1_000_000
    days: int = 30
    workers: int = 2
    scaling: tuple[int, ...] = (100_000, 1_000_000)
    repeats: int = 3
    scaling_repeats: int = 2
    data_root: str | None = None
    parts: tuple[str, ...] = PARTS

    @classmethod
    def quick(cls, **changes: Any) -> ParallelConfig:
        """A short smoke run: 20,000 events over 5 days, scaling 10,000 to 20,000, one round."""
        base: dict[str, Any] = {
            "events": 20_000,
            "days": 5,
            "scaling": (10_000, 20_000),
            "repeats": 1,
            "scaling_repeats": 1,
        }
        base.update(changes)
        return cls(**base)

    @property
    def root(self) -> Path:
        return DATA_ROOT if self.data_root is None else Path(self.data_root)

    @property
    def labels(self) -> tuple[str, str]:
        return f"workers={self.workers}", f"dask LocalCluster({self.workers} workers)"


# ---------------------------------------------------------------- the measured work


def _verify(
    data: Dataset, reports: dict[str, Any], name: str, **kwargs: Any
) -> Callable[[], harness.Measured]:
    def measure() -> harness.Measured:
        started = time.perf_counter()
        report = verify_audit_log(data.path, progress=False, **kwargs)
        seconds = time.perf_counter() - started
        ok = report.valid and report.events_checked == data.events
        result = report.to_dict()
        del result["verified_at"]  # the time the report was made differs between runs
        reference = reports.setdefault(SERIAL, result) if name == SERIAL else reports.get(SERIAL)
        same = reference is None or result == reference
        note = None
        if not ok:
            note = report.summary().replace("\n", " / ")
        elif not same:
            note = "the report differs from the serial report"
        return seconds, ok and same, note, {"events_checked": report.events_checked}

    return measure


def _pool_context() -> Any:
    """The start method of the pool ``verify_audit_log(workers=N)`` starts.

    A fork server where there is one (Linux; its workers fork from a server
    that has the package imported), else spawn. The pool rounds before start
    that server, so a kept pool's workers fork from the same one.
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context("spawn")


def _rusage_peak() -> tuple[int, int]:
    """(pid, peak RSS in bytes) of the calling process: run in a worker."""
    time.sleep(0.3)  # keep this worker busy so the other one takes the other task
    return os.getpid(), harness.own_peak_rss()


def pool_worker_peaks(data: Dataset, workers: int) -> dict[str, Any]:
    """The peak RSS of each pool worker after verifying ``data`` on a pool we keep."""
    with ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context()) as pool:
        idle: dict[int, int] = {}
        for _ in range(5):
            idle.update(f.result() for f in [pool.submit(_rusage_peak) for _ in range(workers)])
            if len(idle) >= workers:
                break
        verify_audit_log(data.path, progress=False, workers=pool)
        peaks: dict[int, int] = {}
        for _ in range(5):
            peaks.update(f.result() for f in [pool.submit(_rusage_peak) for _ in range(workers)])
            if len(peaks) >= workers:
                break
    return {
        "idle_mb": [idle[pid] / harness.MB for pid in sorted(idle)],
        "peak_mb": [peaks[pid] / harness.MB for pid in sorted(peaks)],
    }


def _dask_peak() -> int:
    return harness.own_peak_rss()


@contextmanager
def local_cluster(workers: int) -> Iterator[Any]:
    """A LocalCluster of ``workers`` processes with one thread each, and its client."""
    import logging

    import distributed

    with (
        distributed.LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=workers,
            processes=True,
            threads_per_worker=1,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        ) as cluster,
        distributed.Client(  # type: ignore[no-untyped-call]
            cluster, set_as_default=False
        ) as client,
    ):
        yield client


@dataclass
class WorkerMemory:
    """Peak RSS of each worker process, idle (after start-up) and after the work."""

    engine: str
    idle_mb: list[float]
    peak_mb: list[float]
    note: str


@dataclass
class ScalingRow:
    """Seconds to verify ``events`` events, serial and on workers."""

    events: int
    files: int
    bytes: int
    serial_s: float
    workers_s: float
    serial_us_per_event: float
    workers_us_per_event: float
    x_serial: float
    runs_serial_s: list[float] = field(default_factory=list)
    runs_workers_s: list[float] = field(default_factory=list)


def run_verify(
    config: ParallelConfig, data: Dataset, report: Callable[[str], None]
) -> tuple[list[harness.RateResult], list[WorkerMemory]]:
    """Serial, pool and Dask, interleaved rounds; then each worker's peak memory."""
    workers_label, dask_label = config.labels
    reports: dict[str, Any] = {}
    serial, pool = harness.Runs(SERIAL), harness.Runs(workers_label)
    beside, dask = harness.Runs(SERIAL_BESIDE_DASK), harness.Runs(dask_label)
    verify_audit_log(data.file_paths()[0], progress=False)  # warm-up: imports
    memory: list[WorkerMemory] = []
    # The pool beside serial, with no Dask cluster alive: an idle cluster's
    # processes would take a share of the two cores from the pool's workers.
    harness.interleave(
        [
            (serial, _verify(data, reports, SERIAL)),
            (pool, _verify(data, reports, workers_label, workers=config.workers)),
        ],
        config.repeats,
        events=data.events,
        report=report,
    )
    # Dask beside serial, on one warm cluster (a long-lived resource, started
    # outside the timing), serial runs sharing the machine with it.
    with local_cluster(config.workers) as client:
        dask_idle = client.run(_dask_peak)
        verify_audit_log(data.file_paths()[0], engine="dask", client=client)  # warm-up
        harness.interleave(
            [
                (beside, _verify(data, reports, SERIAL)),
                (dask, _verify(data, reports, dask_label, engine="dask", client=client)),
            ],
            config.repeats,
            events=data.events,
            report=report,
        )
        dask_peak = client.run(_dask_peak)
    memory.append(
        WorkerMemory(
            dask_label,
            [v / harness.MB for _, v in sorted(dask_idle.items())],
            [v / harness.MB for _, v in sorted(dask_peak.items())],
            "peak RSS (VmHWM) of each Dask worker process (client.run), after every round",
        )
    )
    peaks = pool_worker_peaks(data, config.workers)
    memory.insert(
        0,
        WorkerMemory(
            workers_label,
            peaks["idle_mb"],
            peaks["peak_mb"],
            "peak RSS (VmHWM) of each pool worker after one verify on a kept pool",
        ),
    )
    rows = [r.result(data.events, data.size) for r in (serial, pool, beside, dask)]
    return rows, memory


def run_scaling(config: ParallelConfig, report: Callable[[str], None]) -> list[ScalingRow]:
    """Serial and pool seconds at each size of ``config.scaling`` (same number of days)."""
    rows = []
    for events in config.scaling:
        data = dataset(events, days=config.days, root=config.root, report=report)
        reports: dict[str, Any] = {}
        serial, pool = harness.Runs(SERIAL), harness.Runs("workers")
        harness.interleave(
            [
                (serial, _verify(data, reports, SERIAL)),
                (pool, _verify(data, reports, "workers", workers=config.workers)),
            ],
            config.scaling_repeats,
            events=events,
        )
        s, w = serial.best, pool.best
        row = ScalingRow(
            events,
            data.files,
            data.size,
            s,
            w,
            s / events * 1e6,
            w / events * 1e6,
            s / w,
            serial.seconds,
            pool.seconds,
        )
        report(
            f"  {events:,} events: serial {s:.2f} s ({row.serial_us_per_event:.1f} us/event), "
            f"workers={config.workers} {w:.2f} s ({row.workers_us_per_event:.1f} us/event)"
        )
        rows.append(row)
    return rows


def run(config: ParallelConfig, report: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the selected parts; return a JSON-ready dict (see :func:`markdown`)."""
    out: dict[str, Any] = {"config": asdict(config), "load_average_before": os.getloadavg()}
    if "verify" in config.parts:
        data = dataset(config.events, days=config.days, root=config.root, report=report)
        out["dataset"] = {
            "path": str(data.path),
            "events": data.events,
            "files": data.files,
            "bytes": data.size,
        }
        report(f"parallel.verify: {data.events:,} events in {data.files} files")
        rows, memory = run_verify(config, data, report)
        out["verify"] = [asdict(r) for r in rows]
        out["worker_memory"] = [asdict(m) for m in memory]
        x_workers = rows[1].events_per_s / rows[0].events_per_s
        x_dask = rows[3].events_per_s / rows[2].events_per_s
        out["verify_verdict"] = {
            "x_workers": x_workers,
            "x_dask": x_dask,
            "target": f"workers >= {TARGET_WORKERS_X:g}x serial, dask >= {TARGET_DASK_X:g}x",
            "met": x_workers >= TARGET_WORKERS_X
            and x_dask >= TARGET_DASK_X
            and all(r.ok for r in rows),
            "identical_reports": all(r.ok for r in rows),
        }
    if "scaling" in config.parts:
        report(f"parallel.scaling: {', '.join(f'{n:,}' for n in config.scaling)} events")
        rows_s = run_scaling(config, report)
        out["scaling"] = [asdict(r) for r in rows_s]
        base = rows_s[0]
        out["scaling_verdict"] = {
            "serial_per_event_vs_smallest": [
                r.serial_us_per_event / base.serial_us_per_event for r in rows_s
            ],
            "workers_per_event_vs_smallest": [
                r.workers_us_per_event / base.workers_us_per_event for r in rows_s
            ],
        }
    return out


# ---------------------------------------------------------------- tables


def markdown(data: dict[str, Any]) -> str:
    """The results as markdown tables."""
    parts: list[str] = []
    if "verify" in data:
        info = data["dataset"]
        rows = [harness.RateResult(**r) for r in data["verify"]]
        # Each engine against the serial runs beside it (see run_verify).
        baseline = {r.name: rows[0].events_per_s for r in rows}
        if len(rows) == 4:
            baseline[rows[2].name] = baseline[rows[3].name] = rows[2].events_per_s
        parts.append(
            f"### Parallel verify: {info['events']:,} events, {info['files']} files, "
            f"{info['bytes'] / harness.MB:,.0f} MB\n"
        )
        parts.append(
            harness.md_table(
                [
                    "engine",
                    "best s",
                    "events/s (best)",
                    "events/s (median)",
                    "x serial",
                    "steal %",
                    "report",
                ],
                [
                    [
                        r.name,
                        f"{r.seconds:.2f}",
                        f"{r.events_per_s:,.0f}",
                        f"{r.median_per_s:,.0f}",
                        harness.times(r.events_per_s / baseline[r.name], 2),
                        harness.num(r.steal_pct, ".1f"),
                        "identical to serial" if r.ok else harness.outcome(False, r.note),
                    ]
                    for r in rows
                ],
            )
        )
        verdict = data["verify_verdict"]
        parts.append(
            f"\nTarget: {verdict['target']}: workers {verdict['x_workers']:.2f}x, "
            f"dask {verdict['x_dask']:.2f}x: **{harness.met(verdict['met'])}**.\n"
        )
        parts.append(
            harness.md_table(
                ["workers", "idle RSS MB (each)", "peak RSS MB (each)", "how"],
                [
                    [
                        m["engine"],
                        ", ".join(f"{v:.0f}" for v in m["idle_mb"]),
                        ", ".join(f"{v:.0f}" for v in m["peak_mb"]),
                        m["note"],
                    ]
                    for m in data["worker_memory"]
                ],
            )
        )
    if "scaling" in data:
        parts.append("\n### Scaling (same number of days; time per event should stay flat)\n")
        parts.append(
            harness.md_table(
                ["events", "files", "MB", "serial s", "us/event", "workers s", "us/event", "x"],
                [
                    [
                        f"{r['events']:,}",
                        str(r["files"]),
                        f"{r['bytes'] / harness.MB:,.0f}",
                        f"{r['serial_s']:.2f}",
                        f"{r['serial_us_per_event']:.1f}",
                        f"{r['workers_s']:.2f}",
                        f"{r['workers_us_per_event']:.1f}",
                        harness.times(r["x_serial"], 2),
                    ]
                    for r in data["scaling"]
                ],
            )
        )
    return "\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone: ``python -m benchmarks.bench_parallel [--quick] [--big] [--json FILE]``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_parallel")
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--big", action="store_true", help="add 3,000,000 events to the scaling")
    parser.add_argument("--only", choices=PARTS, action="append", help="run only these parts")
    parser.add_argument("--json", type=Path, help="save the results here")
    args = parser.parse_args(argv)
    make = ParallelConfig.quick if args.quick else ParallelConfig
    changes: dict[str, Any] = {}
    if args.only:
        changes["parts"] = tuple(args.only)
    if args.big:
        changes["scaling"] = (100_000, 1_000_000, 3_000_000)
    config = make(**changes)
    data = run(config)
    print()
    print(markdown(data))
    if args.json is not None:
        harness.save_json(args.json, data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
