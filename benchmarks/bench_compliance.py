"""The compliance analyses on 1,000,000 loaded events, beside loading them.

Issue 13's target, side by side in one run: every analysis that
``compliance_report`` runs (failed log-ins by user and by IP, off hours,
sensitive and bulk access, first seen, privileged actions, silences,
completeness, after termination, disclosures, retention) takes in total no
longer than ``read_audit_log`` of the same events, and each analysis peaks
under 1.5x the frame's memory: the frame itself (its deep ``memory_usage``)
plus whatever the analysis adds above the resident size measured just before
it, its result included. The peak with every result kept at once (as the
report keeps them) is measured too and shown beside it: it is the sum of the
results, which on this dataset (events spread evenly over all hours) is
dominated by ``off_hours``' result, most of the events.

The peak is the kernel's high-water mark (``VmHWM``), reset just before the
analyses by writing ``5`` to ``/proc/self/clear_refs`` (Linux); where that is
not possible, ``tracemalloc``'s peak is used instead (it misses memory that
pyarrow allocates, so the table says which method gave the figure).
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from fapilog_notebook import compliance, read_audit_log

from .datasets import DATA_ROOT, FIRST_DAY, Dataset, dataset
from .harness import MB, Measured, Runs, interleave, reset_peak, status_bytes, yes_no

__all__ = ["ComplianceConfig", "analyses", "markdown", "run"]

#: One analysis: its name, and the call that runs it on the loaded frame.
Step = tuple[str, Callable[[pd.DataFrame], pd.DataFrame]]

TARGET_X_LOAD = 1.0
TARGET_X_FRAME = 1.5


@dataclass(frozen=True)
class ComplianceConfig:
    """Parameters of one run of the compliance benchmark."""

    events: int = 1_000_000
    days: int = 10
    repeats: int = 2
    data_root: str | None = None

    @classmethod
    def quick(cls, **changes: Any) -> ComplianceConfig:
        """A short smoke run: 20,000 events, one round."""
        base: dict[str, Any] = {"events": 20_000, "repeats": 1}
        base.update(changes)
        return cls(**base)

    @property
    def root(self) -> Path:
        return DATA_ROOT if self.data_root is None else Path(self.data_root)


def _roster(users: int = 50) -> pd.DataFrame:
    """Fifty of the dataset's users, terminated in the middle of its span."""
    middle = pd.Timestamp(FIRST_DAY.isoformat(), tz="UTC") + pd.Timedelta(days=2)
    return pd.DataFrame(
        {
            "user_id": [f"user{n * 37}@example.com" for n in range(users)],
            "terminated_at": [(middle + pd.Timedelta(hours=n)).isoformat() for n in range(users)],
        }
    )


def analyses(directory: Path) -> list[Step]:
    """Every analysis ``compliance_report`` runs, with the arguments a review passes."""
    roster = _roster()
    c = compliance
    return [
        ("failed_logins by user", lambda f: c.failed_logins(f, by="user_id")),
        ("failed_logins by IP", lambda f: c.failed_logins(f, by="client_ip")),
        (
            "off_hours",
            lambda f: c.off_hours(f, tz="America/New_York", holidays=[FIRST_DAY.isoformat()]),
        ),
        ("sensitive_access", c.sensitive_access),
        ("bulk_access", c.bulk_access),
        ("first_seen", c.first_seen),
        ("privileged_actions", c.privileged_actions),
        ("silences", c.silences),
        ("completeness", c.completeness),
        ("after_termination", lambda f: c.after_termination(f, roster)),
        ("disclosures", lambda f: c.disclosures(f, "/records/42")),
        ("retention", lambda f: c.retention(directory, now=FIRST_DAY.isoformat())),
    ]


def _time_load(data: Dataset, repeats: int) -> tuple[float, pd.DataFrame]:
    """The best of ``repeats`` loads (each after a collection), and the last frame."""
    load = Runs("read_audit_log")
    frames: list[pd.DataFrame] = []

    def measure() -> Measured:
        began = time.perf_counter()
        frames.append(read_audit_log(data.path, progress=False))
        return time.perf_counter() - began, None, None, {}

    for _ in range(repeats):
        frames.clear()  # the frame before is freed before the next load
        load.add(measure)
    return load.best, frames[-1]


def _time_analyses(
    frame: pd.DataFrame, steps: list[Step], repeats: int
) -> tuple[dict[str, float], dict[str, int]]:
    """The best seconds of each analysis over ``repeats`` interleaved rounds; result rows."""
    rows: dict[str, int] = {}

    def measure(name: str, step: Callable[[pd.DataFrame], pd.DataFrame]) -> Measured:
        began = time.perf_counter()
        result = step(frame)
        seconds = time.perf_counter() - began
        rows[name] = len(result)
        return seconds, None, None, {}

    runs = {name: Runs(name) for name, _ in steps}
    interleave(
        [(runs[name], partial(measure, name, step)) for name, step in steps],
        repeats,
        events=len(frame),
        collect=False,
    )
    return {name: r.best for name, r in runs.items()}, rows


def _peaks(frame: pd.DataFrame, steps: list[Step]) -> tuple[str, dict[str, int]]:
    """Bytes each analysis adds at its peak (its result included), run alone."""
    out: dict[str, int] = {}
    method = ""
    for name, step in steps:
        method, out[name] = _peak(frame, [(name, step)])
    return method, out


def _peak(frame: pd.DataFrame, steps: list[Step]) -> tuple[str, int]:
    """Bytes the analyses add at their peak above the resident size before them.

    Their results are kept until the peak is read.
    """
    gc.collect()
    kept: list[pd.DataFrame] = []
    if reset_peak():
        before = status_bytes("VmRSS") or 0
        for _, step in steps:
            kept.append(step(frame))
        peak = (status_bytes("VmHWM") or 0) - before
        return "VmHWM", max(peak, 0)
    tracemalloc.start()
    for _, step in steps:
        kept.append(step(frame))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return "tracemalloc", peak


def run(config: ComplianceConfig, report: Callable[[str], None] = print) -> dict[str, Any]:
    """Load, then run every analysis on the frame; return the results as JSON-ready data."""
    data = dataset(config.events, days=config.days, root=config.root, report=report)
    load_s, frame = _time_load(data, config.repeats)
    report(f"  compliance: read_audit_log of {len(frame):,} events: {load_s:.2f} s")
    steps = analyses(data.path)
    best, rows = _time_analyses(frame, steps, config.repeats)
    total = sum(best.values())
    report(f"  compliance: every analysis: {total:.2f} s ({total / load_s:.2f}x the load)")
    frame_bytes = int(frame.memory_usage(deep=True).sum())
    method, each = _peaks(frame, steps)
    largest = max(each, key=lambda name: each[name])
    ratio = (frame_bytes + each[largest]) / frame_bytes
    report(
        f"  compliance: frame {frame_bytes / MB:.0f} MB; the largest analysis peak, "
        f"{largest}, adds {each[largest] / MB:.0f} MB ({method}): {ratio:.2f}x the frame"
    )
    _, added = _peak(frame, steps)
    kept_ratio = (frame_bytes + added) / frame_bytes
    report(
        f"  compliance: with every result kept, the analyses add {added / MB:.0f} MB: "
        f"{kept_ratio:.2f}x the frame"
    )
    return {
        "config": vars(config),
        "events": len(frame),
        "load_s": load_s,
        "analyses": [
            {
                "name": name,
                "seconds": best[name],
                "rows": rows[name],
                "peak_added_mb": each[name] / MB,
            }
            for name, _ in steps
        ],
        "analyses_s": total,
        "time_x_load": total / load_s,
        "frame_mb": frame_bytes / MB,
        "largest_peak": largest,
        "largest_added_mb": each[largest] / MB,
        "memory_method": method,
        "memory_x_frame": ratio,
        "kept_added_mb": added / MB,
        "kept_x_frame": kept_ratio,
        "time_met": total / load_s <= TARGET_X_LOAD,
        "memory_met": ratio < TARGET_X_FRAME,
    }


def markdown(data: dict[str, Any]) -> str:
    """The results as markdown tables with the targets."""
    events = data["events"]
    lines = [
        f"### Compliance analyses on {events:,} loaded events, beside loading them "
        f"(best of {data['config']['repeats']})",
        "",
        "| step | seconds | result rows | peak added, MB |",
        "| --- | ---: | ---: | ---: |",
        f"| read_audit_log | {data['load_s']:.2f} | {events:,} | |",
    ]
    for row in data["analyses"]:
        lines.append(
            f"| {row['name']} | {row['seconds']:.3f} | {row['rows']:,} | "
            f"{row['peak_added_mb']:.0f} |"
        )
    lines += [
        f"| **every analysis** | **{data['analyses_s']:.2f}** | | |",
        "",
        "| target | measured | met |",
        "| --- | ---: | --- |",
        f"| every analysis <= 1.0x read_audit_log | {data['time_x_load']:.2f}x | "
        f"{yes_no(data['time_met'])} |",
        f"| each analysis peaks < 1.5x the frame ({data['frame_mb']:.0f} MB; the largest, "
        f"{data['largest_peak']}, adds {data['largest_added_mb']:.0f} MB, "
        f"{data['memory_method']}) | {data['memory_x_frame']:.2f}x | "
        f"{yes_no(data['memory_met'])} |",
        f"| (every result kept at once: the analyses add {data['kept_added_mb']:.0f} MB) | "
        f"{data['kept_x_frame']:.2f}x | (no target) |",
    ]
    return "\n".join(lines)
