"""Read benchmarks (issue 3): verifying and loading a date-rotated audit directory.

All on one cached directory of ``events`` events over ``days`` days, one
valid chain (see :mod:`.datasets`):

1. Verify: :func:`fapilog_notebook.verify_audit_log` against fapilog 0.3.5's
   own ``AuditTrail.verify_chain_from_storage()``, run in its own virtual
   environment (``benchmarks/.peer-venv``, made on first use with
   ``python -m venv`` + ``pip install fapilog==0.3.5``) in a subprocess that
   times itself and prints JSON; beside them the SHA-256 floor: read every
   file and hash every line with :mod:`hashlib`, what any verifier that reads
   every byte must at least do.
2. Load: :func:`fapilog_notebook.read_audit_log` against
   ``pandas.concat(pandas.read_json(f, lines=True) for f in files)`` followed
   by the conversions to the same dtypes (tz-aware UTC ``timestamp``,
   categorical ``event_type``/``log_level``/``compliance_level``, nullable
   integer ``sequence_number``/``process_id``).
3. Memory, each in a fresh interpreter: the peak RSS (``ru_maxrss``) of
   verifying ``memory_events`` events, beside the RSS of an interpreter that
   only imported the package; and the peak of loading, as the RSS growth over
   the RSS just before the call (and, for information, the tracemalloc peak),
   against the frame's ``memory_usage(deep=True).sum()``.

Each timed row runs once per round, the rows interleaved, ``repeats`` rounds;
the best round counts and the CPU steal of every run is recorded.
"""

from __future__ import annotations

import gc
import hashlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fapilog_notebook import Severity, read_audit_log, verify_audit_log

from . import harness
from .datasets import DATA_ROOT, Dataset, dataset

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "OURS_LOAD",
    "OURS_VERIFY",
    "OURS_VERIFY_WORKERS",
    "PANDAS_LOAD",
    "PEER_VERIFY",
    "SHA256_FLOOR",
    "VerifyConfig",
    "ensure_peer_venv",
    "markdown",
    "memory_probe",
    "pandas_load",
    "peer_verify",
    "run",
    "sha256_floor",
    "time_load",
    "time_verify",
]

PARTS = ("chain", "load", "memory")
OURS_VERIFY = "verify_audit_log"
#: The machine's cores, as ``verify_audit_log(workers=...)`` uses them in the chain part.
WORKERS = max(os.cpu_count() or 1, 2)
OURS_VERIFY_WORKERS = f"verify_audit_log(workers={WORKERS})"
PEER_VERIFY = "fapilog 0.3.5 verify_chain_from_storage"
SHA256_FLOOR = "SHA-256 floor (read + hashlib per line)"
OURS_LOAD = "read_audit_log"
PANDAS_LOAD = "pandas.read_json(lines=True) + concat + dtypes"
PEER_VERSION = "0.3.5"
PEER_REQUIREMENT = f"fapilog=={PEER_VERSION}"
PEER_VENV = Path(__file__).resolve().parent / ".peer-venv"
REPO_ROOT = Path(__file__).resolve().parent.parent

# Targets from issue 3.
TARGET_VERIFY_X_PEER = 10.0
TARGET_LOAD_X_PANDAS = 5.0
TARGET_VERIFY_RSS_MB = 150.0
TARGET_LOAD_X_FRAME = 2.0

_CATEGORIES = ("event_type", "log_level", "compliance_level")
_INTEGERS = ("sequence_number", "process_id")

#: Run by the peer's interpreter: time fapilog's verifier over argv[1], print JSON.
PEER_SCRIPT = """
import asyncio, gc, json, sys, time
from pathlib import Path
import fapilog
from fapilog.core.audit import AuditTrail

trail = AuditTrail(storage_path=Path(sys.argv[1]))
gc.collect()
started = time.perf_counter()
result = asyncio.run(trail.verify_chain_from_storage())
seconds = time.perf_counter() - started
print(json.dumps({
    "seconds": seconds,
    "valid": result.valid,
    "events_checked": result.events_checked,
    "error_message": result.error_message,
    "version": getattr(fapilog, "__version__", None),
}))
"""


@dataclass(frozen=True)
class VerifyConfig:
    """Parameters of one run of the read benchmarks."""

    events: int = 200_000
    days: int = 5
    memory_events: int = 1_000_000
    memory_days: int = 10
    repeats: int = 3
    peer: bool = True
    data_root: str | None = None
    parts: tuple[str, ...] = PARTS

    @classmethod
    def quick(cls, **changes: Any) -> VerifyConfig:
        """A short smoke run: 20,000 events, 100,000 for memory, one round."""
        base: dict[str, Any] = {"events": 20_000, "memory_events": 100_000, "repeats": 1}
        base.update(changes)
        return cls(**base)

    @property
    def root(self) -> Path:
        return DATA_ROOT if self.data_root is None else Path(self.data_root)


# ---------------------------------------------------------------- the measured work


def time_verify(data: Dataset, **kwargs: Any) -> harness.Measured:
    """Seconds for ``verify_audit_log`` over ``data``; valid, every event checked?"""
    started = time.perf_counter()
    report = verify_audit_log(data.path, progress=False, **kwargs)
    seconds = time.perf_counter() - started
    # Info findings (such as "MACs not checked" for a keyed log read without its key) are fine.
    clean = all(f.severity is Severity.INFO for f in report.finding_list)
    ok = report.valid and report.events_checked == data.events and clean
    note = None if ok else report.summary().replace("\n", " / ")
    return seconds, ok, note, {"events_checked": report.events_checked}


def sha256_floor(data: Dataset) -> harness.Measured:
    """Seconds to read every file and SHA-256 every line: the floor of any verifier."""
    sha256 = hashlib.sha256
    lines = 0
    started = time.perf_counter()
    for path in data.file_paths():
        with open(path, "rb") as handle:
            for line in handle.read().splitlines():
                sha256(line).digest()
                lines += 1
    seconds = time.perf_counter() - started
    ok = lines == data.events
    return seconds, ok, None if ok else f"{lines} lines, expected {data.events}", {}


def time_load(data: Dataset) -> harness.Measured:
    """Seconds for ``read_audit_log`` over ``data``; the frame's size and dtypes."""
    started = time.perf_counter()
    frame = read_audit_log(data.path, progress=False)
    seconds = time.perf_counter() - started
    return (seconds, *_check_frame(frame, data.events))


def pandas_load(files: Sequence[Path]) -> pd.DataFrame:
    """The pandas way: ``read_json(lines=True)`` per file, concat, then the same dtypes."""
    import pandas as pd

    frame = pd.concat((pd.read_json(f, lines=True) for f in files), ignore_index=True)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601")
    for name in _CATEGORIES:
        frame[name] = frame[name].astype("category")
    for name in _INTEGERS:
        frame[name] = frame[name].astype("Int64")
    return frame


def time_pandas_load(data: Dataset) -> harness.Measured:
    """Seconds for :func:`pandas_load` over ``data``; the frame's size and dtypes."""
    files = data.file_paths()
    started = time.perf_counter()
    frame = pandas_load(files)
    seconds = time.perf_counter() - started
    return (seconds, *_check_frame(frame, data.events))


def _check_frame(frame: pd.DataFrame, events: int) -> tuple[bool, str | None, dict[str, Any]]:
    problems = []
    if len(frame) != events:
        problems.append(f"{len(frame)} rows, expected {events}")
    stamp = frame["timestamp"].dtype
    if str(getattr(stamp, "tz", None)) != "UTC":
        problems.append(f"timestamp is {stamp}")
    problems += [f"{c} is {frame[c].dtype}" for c in _CATEGORIES if frame[c].dtype != "category"]
    problems += [f"{c} is {frame[c].dtype}" for c in _INTEGERS if frame[c].dtype != "Int64"]
    extra = {
        "frame_bytes": int(frame.memory_usage(deep=True).sum()),
        "columns": frame.shape[1],
    }
    return not problems, "; ".join(problems) or None, extra


# ---------------------------------------------------------------- the peer


def _peer_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _peer_version(venv: Path) -> str | None:
    python = _peer_python(venv)
    if not python.exists():
        return None
    try:
        out = subprocess.run(
            [str(python), "-c", "import importlib.metadata as m; print(m.version('fapilog'))"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def ensure_peer_venv(
    venv: Path = PEER_VENV, *, create: bool = True, report: Callable[[str], None] = print
) -> tuple[Path | None, str | None]:
    """The peer's Python (fapilog 0.3.5 in its own venv), made if missing; or a reason."""
    if _peer_version(venv) == PEER_VERSION:
        return _peer_python(venv), None
    if not create:
        return None, f"no fapilog {PEER_VERSION} venv at {venv}"
    report(f"  creating {venv} with fapilog=={PEER_VERSION} from PyPI (first run only)")
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run(
            [
                str(_peer_python(venv)),
                "-m",
                "pip",
                "install",
                "--quiet",
                f"fapilog=={PEER_VERSION}",
            ],
            check=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        return None, f"could not install fapilog {PEER_VERSION}: {exc}"
    if _peer_version(venv) != PEER_VERSION:
        return None, f"fapilog {PEER_VERSION} did not install into {venv}"
    return _peer_python(venv), None


def peer_verify(python: Path, data: Dataset) -> harness.Measured:
    """Seconds for fapilog's ``verify_chain_from_storage`` over ``data``, timed in the peer."""
    out = subprocess.run(
        [str(python), "-c", PEER_SCRIPT, str(data.path)],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    ok = result["valid"] is True and result["events_checked"] == data.events
    note = None if ok else f"valid={result['valid']}: {result['error_message']}"
    return float(result["seconds"]), ok, note, {"events_checked": result["events_checked"]}


# ---------------------------------------------------------------- memory probes

_PROBES = ("baseline", "verify", "load", "load-tracemalloc", "pandas-load")


def _warm_up_loader(kind: str, path: Path) -> None:
    """Load a 3-event copy once, so the imports a loader makes are not counted as its peak."""
    import fapilog_notebook

    first = sorted(path.glob("audit_*.jsonl"))[0]
    with open(first, "rb") as handle:
        head = b"".join(handle.readline() for _ in range(3))
    with tempfile.TemporaryDirectory(prefix="fapilog-bench-") as name:
        tiny = Path(name) / first.name
        tiny.write_bytes(head)
        if kind == "pandas-load":
            pandas_load([tiny])
        else:
            fapilog_notebook.read_audit_log(tiny, progress=False)
    gc.collect()


def _probe(kind: str, path: str) -> dict[str, Any]:
    """Run in a fresh interpreter: one measurement of peak memory."""
    import fapilog_notebook

    out: dict[str, Any] = {"kind": kind, "pandas_imported_by_package": "pandas" in sys.modules}
    if kind == "baseline":
        out["peak_rss"] = harness.peak_rss()
        import pandas  # noqa: F401

        out["peak_rss_with_pandas"] = harness.peak_rss()
        return out
    if kind == "verify":
        before = harness.rss_now()
        started = time.perf_counter()
        report = fapilog_notebook.verify_audit_log(path, progress=False)
        out.update(
            seconds=time.perf_counter() - started,
            rss_before=before,
            peak_rss=harness.peak_rss(),
            events=report.events_checked,
            ok=report.valid,
        )
        return out
    import pandas as pd

    _warm_up_loader(kind, Path(path))
    if kind == "load-tracemalloc":
        import tracemalloc

        tracemalloc.start()
        frame = fapilog_notebook.read_audit_log(path, progress=False)
        out["traced_peak"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    else:
        before = harness.rss_now()
        if kind == "load":
            frame = fapilog_notebook.read_audit_log(path, progress=False)
        else:
            frame = pandas_load(sorted(Path(path).glob("audit_*.jsonl")))
        out.update(rss_before=before, peak_rss=harness.peak_rss())
    out.update(frame_bytes=int(frame.memory_usage(deep=True).sum()), events=len(frame), ok=True)
    assert isinstance(frame, pd.DataFrame)
    return out


def probe_main(argv: Sequence[str] | None = None) -> None:
    """Entry point of a probe subprocess: ``KIND PATH``; prints one JSON object."""
    kind, path = argv if argv is not None else sys.argv[1:3]
    out = _probe(kind, path)
    out["vm_hwm"] = harness.status_bytes("VmHWM")  # the kernel's own peak RSS, as a cross-check
    print(json.dumps(out))


def memory_probe(kind: str, path: Path | str) -> dict[str, Any]:
    """Run one probe (``baseline``, ``verify``, ``load``...) in a fresh interpreter."""
    if kind not in _PROBES:
        raise ValueError(f"unknown probe {kind!r}")
    return harness.run_isolated(
        "from benchmarks.bench_verify import probe_main; probe_main()", kind, str(path)
    )


@dataclass
class MemoryResult:
    """One peak-memory measurement and its target."""

    name: str
    events: int
    method: str
    peak_mb: float
    baseline_mb: float
    used_mb: float
    frame_mb: float | None
    limit_mb: float | None
    target: str
    met: bool | None


def run_memory(
    config: VerifyConfig, load_data: Dataset, report: Callable[[str], None]
) -> list[MemoryResult]:
    """Peak memory of verifying ``memory_events`` events and of loading ``load_data``."""
    big = dataset(config.memory_events, days=config.memory_days, root=config.root, report=report)
    base = memory_probe("baseline", big.path)
    base_mb = base["peak_rss"] / harness.MB
    results = [
        MemoryResult(
            "interpreter + import fapilog_notebook",
            0,
            "ru_maxrss",
            base_mb,
            base_mb,
            0.0,
            None,
            None,
            "(reference)",
            None,
        ),
        MemoryResult(
            "interpreter + import fapilog_notebook, pandas",
            0,
            "ru_maxrss",
            base["peak_rss_with_pandas"] / harness.MB,
            base_mb,
            (base["peak_rss_with_pandas"] - base["peak_rss"]) / harness.MB,
            None,
            None,
            "(reference)",
            None,
        ),
    ]
    report(f"  baseline RSS {base_mb:.1f} MB; verifying {big.events:,} events...")
    verify = memory_probe("verify", big.path)
    peak = verify["peak_rss"] / harness.MB
    results.append(
        MemoryResult(
            f"verify_audit_log, {big.files} files",
            verify["events"],
            "ru_maxrss (whole process)",
            peak,
            verify["rss_before"] / harness.MB,
            peak - verify["rss_before"] / harness.MB,
            None,
            TARGET_VERIFY_RSS_MB,
            f"peak RSS < {TARGET_VERIFY_RSS_MB:g} MB",
            peak < TARGET_VERIFY_RSS_MB and verify["ok"] and verify["events"] == big.events,
        )
    )
    report(f"  verify peak RSS {peak:.1f} MB; loading {load_data.events:,} events...")
    for kind, name in (("load", OURS_LOAD), ("pandas-load", PANDAS_LOAD)):
        probe = memory_probe(kind, load_data.path)
        used = (probe["peak_rss"] - probe["rss_before"]) / harness.MB
        frame_mb = probe["frame_bytes"] / harness.MB
        ours = kind == "load"
        results.append(
            MemoryResult(
                name,
                probe["events"],
                "ru_maxrss - RSS before the call",
                probe["peak_rss"] / harness.MB,
                probe["rss_before"] / harness.MB,
                used,
                frame_mb,
                TARGET_LOAD_X_FRAME * frame_mb if ours else None,
                f"growth < {TARGET_LOAD_X_FRAME:g}x frame" if ours else "(reference)",
                used < TARGET_LOAD_X_FRAME * frame_mb if ours else None,
            )
        )
    traced = memory_probe("load-tracemalloc", load_data.path)
    results.append(
        MemoryResult(
            OURS_LOAD,
            traced["events"],
            "tracemalloc peak (Python + numpy allocations)",
            math.nan,
            math.nan,
            traced["traced_peak"] / harness.MB,
            traced["frame_bytes"] / harness.MB,
            None,
            "(cross-check)",
            None,
        )
    )
    return results


# ---------------------------------------------------------------- running


def run_chain(
    config: VerifyConfig, data: Dataset, report: Callable[[str], None]
) -> tuple[list[harness.RateResult], str | None]:
    """Verify: ours, the peer (if it can be had) and the floor, interleaved rounds."""
    peer_python: Path | None = None
    why: str | None = "disabled (--no-peer)"
    if config.peer:
        peer_python, why = ensure_peer_venv(report=report)
        if why:
            report(f"  peer unavailable: {why}")
    ours, peer, floor = (
        harness.Runs(OURS_VERIFY),
        harness.Runs(PEER_VERIFY),
        harness.Runs(SHA256_FLOOR),
    )
    pooled = harness.Runs(OURS_VERIFY_WORKERS)

    def peer_run() -> harness.Measured:
        if peer_python is None:
            raise harness.NotMeasured(why or "unavailable")
        return peer_verify(peer_python, data)

    verify_audit_log(data.file_paths()[0], progress=False)  # warm-up: imports
    harness.interleave(
        [
            (ours, partial(time_verify, data)),
            # The pool starts and stops inside the call: its start-up counts.
            (pooled, partial(time_verify, data, workers=WORKERS)),
            (peer, peer_run),
            (floor, partial(sha256_floor, data)),
        ],
        config.repeats,
        events=data.events,
        report=report,
        label=lambda runs: runs.name.split(" (")[0],
    )
    return [r.result(data.events, data.size) for r in (ours, peer, floor, pooled)], why


def run_load(
    config: VerifyConfig, data: Dataset, report: Callable[[str], None]
) -> list[harness.RateResult]:
    """Load: ours and the pandas way, interleaved rounds."""
    ours, pandas_way = harness.Runs(OURS_LOAD), harness.Runs(PANDAS_LOAD)
    first = data.file_paths()[:1]
    read_audit_log(first, progress=False)  # warm-up: imports (pandas, pyarrow...)
    pandas_load(first)
    harness.interleave(
        [(ours, partial(time_load, data)), (pandas_way, partial(time_pandas_load, data))],
        config.repeats,
        events=data.events,
        report=report,
    )
    return [r.result(data.events, data.size) for r in (ours, pandas_way)]


def _ratio(results: Sequence[harness.RateResult], ours: str, other: str) -> float:
    return harness.rate_of(results, ours) / harness.rate_of(results, other)


def run(config: VerifyConfig, report: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the selected parts; return a JSON-ready dict (see :func:`markdown`)."""
    out: dict[str, Any] = {"config": asdict(config)}
    data = dataset(config.events, days=config.days, root=config.root, report=report)
    out["dataset"] = {
        "path": str(data.path),
        "events": data.events,
        "files": data.files,
        "bytes": data.size,
    }
    if "chain" in config.parts:
        report(f"verify.chain: {data.events:,} events in {data.files} files")
        rows, why = run_chain(config, data, report)
        out["chain"] = [asdict(r) for r in rows]
        peer_ok = not math.isnan(rows[1].events_per_s)
        x_peer = _ratio(rows, OURS_VERIFY, PEER_VERIFY) if peer_ok else math.nan
        x_pooled = _ratio(rows, OURS_VERIFY_WORKERS, PEER_VERIFY) if peer_ok else math.nan
        out["chain_verdict"] = {
            "x_peer": x_peer,
            "x_peer_workers": x_pooled,
            "workers": WORKERS,
            "floor_share": _ratio(rows, OURS_VERIFY, SHA256_FLOOR),
            "target": f">= {TARGET_VERIFY_X_PEER:g}x fapilog 0.3.5",
            "met": (x_peer >= TARGET_VERIFY_X_PEER and rows[0].ok is True) if peer_ok else None,
            "met_with_workers": (x_pooled >= TARGET_VERIFY_X_PEER and rows[3].ok is True)
            if peer_ok
            else None,
            "peer": why or f"fapilog {PEER_VERSION} in {PEER_VENV}",
        }
    if "load" in config.parts:
        report(f"verify.load: {data.events:,} events in {data.files} files")
        rows = run_load(config, data, report)
        out["load"] = [asdict(r) for r in rows]
        x_pandas = _ratio(rows, OURS_LOAD, PANDAS_LOAD)
        out["load_verdict"] = {
            "x_pandas": x_pandas,
            "target": f">= {TARGET_LOAD_X_PANDAS:g}x pandas",
            "met": x_pandas >= TARGET_LOAD_X_PANDAS and rows[0].ok is True,
        }
    if "memory" in config.parts:
        report(f"verify.memory: verify {config.memory_events:,} events, load {data.events:,}")
        out["memory"] = [asdict(r) for r in run_memory(config, data, report)]
    return out


# ---------------------------------------------------------------- tables


def chain_table(rows: Sequence[harness.RateResult]) -> str:
    """Verify rows as markdown."""
    peer = harness.rate_of(rows, PEER_VERIFY)
    floor = harness.rate_of(rows, SHA256_FLOOR)
    body = [
        [
            r.name,
            f"{r.events:,}",
            f"{r.bytes / harness.MB:,.0f}",
            harness.num(r.seconds, ".2f"),
            harness.num(r.events_per_s, ",.0f"),
            harness.num(r.median_per_s, ",.0f"),
            harness.num(r.bytes / r.seconds / harness.MB if r.seconds else math.nan, ",.0f"),
            harness.times(r.events_per_s / peer),
            harness.times(r.events_per_s / floor, 2),
            harness.num(r.steal_pct, ".0f"),
            harness.outcome(r.ok, r.note),
        ]
        for r in rows
    ]
    headers = [
        "verifier",
        "events",
        "MB",
        "best s",
        "events/s (best)",
        "events/s (median)",
        "MB/s",
        "x fapilog",
        "x floor",
        "steal %",
        "result",
    ]
    return harness.md_table(headers, body)


def load_table(rows: Sequence[harness.RateResult]) -> str:
    """Load rows as markdown."""
    pandas_rate = harness.rate_of(rows, PANDAS_LOAD)
    body = [
        [
            r.name,
            f"{r.events:,}",
            f"{r.seconds:.2f}",
            harness.num(r.events_per_s, ",.0f"),
            harness.num(r.median_per_s, ",.0f"),
            f"{r.extra.get('frame_bytes', 0) / harness.MB:,.0f}",
            str(r.extra.get("columns", "-")),
            harness.times(r.events_per_s / pandas_rate),
            harness.num(r.steal_pct, ".0f"),
            harness.outcome(r.ok, r.note),
        ]
        for r in rows
    ]
    headers = [
        "loader",
        "events",
        "best s",
        "events/s (best)",
        "events/s (median)",
        "frame MB (deep)",
        "columns",
        "x pandas",
        "steal %",
        "rows + dtypes",
    ]
    return harness.md_table(headers, body)


def memory_table(rows: Sequence[MemoryResult]) -> str:
    """Memory rows as markdown."""
    body = [
        [
            r.name,
            f"{r.events:,}" if r.events else "-",
            r.method,
            harness.num(r.peak_mb, ",.1f"),
            harness.num(r.baseline_mb, ",.1f"),
            harness.num(r.used_mb, ",.1f"),
            harness.num(r.frame_mb, ",.1f"),
            "-" if not r.frame_mb else harness.times(r.used_mb / r.frame_mb, 2),
            r.target,
            harness.yes_no(r.met),
        ]
        for r in rows
    ]
    headers = [
        "measurement",
        "events",
        "method",
        "peak RSS MB",
        "RSS before MB",
        "used MB",
        "frame MB",
        "used / frame",
        "target",
        "met",
    ]
    return harness.md_table(headers, body)


def markdown(data: dict[str, Any]) -> str:
    """The tables of whichever parts were run, with their headings."""
    config = data["config"]
    ds = data["dataset"]
    where = (
        f"{ds['events']:,} events, {ds['files']} day files, {ds['bytes'] / harness.MB:,.0f} MB, "
        f"best of {config['repeats']}"
    )
    parts = []
    if "chain" in data:
        rows = [harness.RateResult(**r) for r in data["chain"]]
        v = data["chain_verdict"]
        met_alone = harness.met(v["met"], "n/a (no peer)")
        met_workers = harness.met(v.get("met_with_workers"))
        parts.append(
            f"### Verify: one valid chain, {where}\n\n"
            + chain_table(rows)
            + f"\n\nverify_audit_log: {harness.times(v['x_peer'])} fapilog 0.3.5 in one process, "
            f"{harness.times(v.get('x_peer_workers', math.nan))} "
            f"with workers={v.get('workers', '?')} "
            f"(target {v['target']}: {met_alone} in one process, {met_workers} with workers); "
            f"{v['floor_share']:.0%} of the SHA-256 floor's events/s. The peer runs "
            f"in its own venv ({v['peer']}) and times itself in a subprocess (start-up and "
            "imports not counted); it parses every line into its pydantic model and stops at "
            "the first problem. *x floor* = events/s over the floor's; *steal* = the most CPU "
            "time the hypervisor gave to other machines during any one run of that row."
        )
    if "load" in data:
        rows = [harness.RateResult(**r) for r in data["load"]]
        v = data["load_verdict"]
        parts.append(
            f"### Load into a DataFrame: {where}\n\n"
            + load_table(rows)
            + f"\n\nread_audit_log: {harness.times(v['x_pandas'])} the pandas way "
            f"(target {v['target']}: "
            f"{harness.met(v['met'])}). Both end with a tz-aware UTC timestamp, "
            "categorical event_type/log_level/compliance_level and Int64 sequence_number/"
            "process_id; read_audit_log also adds source_file and source_line."
        )
    if "memory" in data:
        rows_m = [MemoryResult(**r) for r in data["memory"]]
        parts.append(
            "### Peak memory, each in a fresh interpreter\n\n"
            + memory_table(rows_m)
            + "\n\n*peak RSS* = ``ru_maxrss`` of the whole process; *RSS before* = VmRSS just "
            "before the call (imports done, and each loader run once on a 3-event file so its "
            "lazy imports are not counted); *used* = peak - before (the loading target is "
            "judged on this RSS growth); the tracemalloc row counts only allocations Python "
            "and numpy report, as a cross-check."
        )
    return "\n\n".join(parts)
