"""The one harness of the benchmarks: rounds, CPU time and steal, the RSS probe, tables.

Every ``bench_*`` module measures through this module, so that a row means the
same thing in every table:

- **Rounds.** A measuring function returns :data:`Measured` (seconds it timed
  itself, whether the result was right, a note, extra figures). :class:`Runs`
  collects one row's runs: each run is preceded by a garbage collection
  (unless the benchmark times work that must not be disturbed by one) and
  recorded with the CPU steal and the CPU time (process and waited-for
  children) it took; the best run counts and the median is kept beside it.
  :func:`interleave` runs the rows being compared in rounds, A, B, C, A, B,
  C, ..., so that the machine's drift hits every row alike.
- **Memory.** :func:`rss_now` and :func:`own_peak_rss` read ``VmRSS`` and
  ``VmHWM`` from ``/proc/self/status`` (Linux); :func:`peak_rss` is
  ``ru_maxrss``; :func:`reset_peak` resets ``VmHWM`` to the current RSS.
  :func:`run_isolated` runs a probe in a fresh interpreter forked from a small
  launcher, so the peak it reports is the probe's own.
- **Tables.** :func:`md_table` renders a GitHub markdown table with numbers
  right-aligned; :func:`rate_of`, :func:`times` and :func:`num` give the
  ratio columns against a baseline row, and :func:`met`, :func:`yes_no` and
  :func:`ratio_verdict` the verdict strings.
"""

from __future__ import annotations

import gc
import json
import math
import os
import resource
import statistics
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

__all__ = [
    "LAUNCHER",
    "MB",
    "REPO_ROOT",
    "CpuSteal",
    "Measured",
    "NotMeasured",
    "RateResult",
    "Runs",
    "cpu_seconds",
    "cpu_steal",
    "interleave",
    "md_table",
    "met",
    "num",
    "outcome",
    "own_peak_rss",
    "peak_rss",
    "percentile",
    "rate_of",
    "ratio_verdict",
    "reset_peak",
    "rss_now",
    "run_isolated",
    "save_json",
    "status_bytes",
    "times",
    "yes_no",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024

#: What a measuring function returns: the seconds it timed itself, whether the
#: result was right (None: not judged), a note (why not), and extra figures.
Measured = tuple[float, bool | None, str | None, dict[str, Any]]


# ---------------------------------------------------------------- CPU steal and CPU time


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
        """Set :attr:`percent` from the jiffies since construction."""
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


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and of its waited-for children so far.

    Children count once they are waited for: a subprocess run to completion, a
    process pool's workers once the pool has shut down.
    """
    now = os.times()
    return now.user + now.system + now.children_user + now.children_system


# ---------------------------------------------------------------- rounds


class NotMeasured(Exception):
    """Raised by a measuring function that cannot run its row; the row keeps the note."""

    def __init__(self, note: str, ok: bool | None = None) -> None:
        super().__init__(note)
        self.note = note
        self.ok = ok


@dataclass
class RateResult:
    """Events/s of one row: the best of its runs, the median, and each run."""

    name: str
    events: int
    bytes: int
    seconds: float
    events_per_s: float
    median_per_s: float = math.nan
    runs_per_s: list[float] = field(default_factory=list)
    steal_pct: float = math.nan
    ok: bool | None = None
    note: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: CPU seconds (process + waited-for children) of the best run's whole call.
    cpu_s: float = math.nan


@dataclass
class Runs:
    """One row's runs: seconds, CPU steal and CPU time of each, its verdict and figures.

    ``ok``/``note`` keep the latest failure (else the first verdict); ``extra``
    keeps the figures of the best run.
    """

    name: str
    seconds: list[float] = field(default_factory=list)
    steal: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    ok: bool | None = None
    note: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def add(self, measure: Callable[[], Measured], *, collect: bool = True) -> None:
        """Run ``measure`` once (after a garbage collection unless ``collect`` is false)."""
        if collect:
            gc.collect()
        cpu = cpu_seconds()
        try:
            with cpu_steal() as steal:
                seconds, ok, note, extra = measure()
        except NotMeasured as skipped:
            self.ok, self.note = skipped.ok, skipped.note
            return
        self.cpu.append(cpu_seconds() - cpu)
        self.seconds.append(seconds)
        self.steal.append(steal.percent)
        if self.ok is None or not ok:
            self.ok, self.note = ok, note
        if seconds <= min(self.seconds):
            self.extra = extra

    @property
    def best(self) -> float:
        """The shortest run in seconds (nan before any)."""
        return min(self.seconds, default=math.nan)

    @property
    def steal_pct(self) -> float:
        """The most CPU steal of any run, in % (nan before any)."""
        return max(self.steal, default=math.nan)

    def rates(self, events: int) -> list[float]:
        """Events/s of each run, in the order run."""
        return [events / s for s in self.seconds]

    def median_rate(self, events: int) -> float:
        """The median events/s of the runs."""
        return statistics.median(self.rates(events))

    def result(self, events: int, size: int) -> RateResult:
        """The row as a :class:`RateResult` of ``events`` events and ``size`` bytes."""
        if not self.seconds:
            return RateResult(
                self.name, events, size, math.nan, math.nan, ok=self.ok, note=self.note
            )
        best = self.seconds.index(self.best)
        return RateResult(
            self.name,
            events,
            size,
            self.best,
            events / self.best,
            median_per_s=self.median_rate(events),
            runs_per_s=self.rates(events),
            steal_pct=self.steal_pct,
            ok=self.ok,
            note=self.note,
            extra=self.extra,
            cpu_s=self.cpu[best],
        )


def interleave(
    rows: Sequence[tuple[Runs, Callable[[], Measured]]],
    repeats: int,
    *,
    events: int,
    report: Callable[[str], None] | None = None,
    label: Callable[[Runs], str] = lambda runs: runs.name,
    collect: bool = True,
) -> None:
    """Run every row once per round, in order, ``repeats`` rounds; report each round."""
    for round_ in range(repeats):
        for runs, measure in rows:
            runs.add(measure, collect=collect)
        if report is not None:
            done = [runs for runs, _ in rows if runs.seconds]
            report(
                f"  round {round_ + 1}/{repeats}: "
                + ", ".join(f"{label(r)} {events / r.seconds[-1]:,.0f}/s" for r in done)
            )


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values``, linearly interpolated; nan if none."""
    if not values:
        return math.nan
    import numpy as np

    return float(np.percentile(values, q))


# ---------------------------------------------------------------- memory


def status_bytes(field_name: str) -> int | None:
    """A size from /proc/self/status (``VmRSS``, ``VmHWM``...) in bytes (Linux), else None."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def peak_rss() -> int:
    """``ru_maxrss`` in bytes (kilobytes on Linux, bytes on macOS).

    Linux carries it over ``execve`` from the image replaced: start a probe
    with :func:`run_isolated` for a peak of its own.
    """
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if sys.platform == "darwin":
        return int(peak)
    # The kernel updates ru_maxrss's high-water mark lazily; VmHWM counts the
    # current RSS too, so the peak is never below an RSS read just before.
    return max(int(peak) * 1024, status_bytes("VmHWM") or 0)


def rss_now() -> int:
    """The current resident set size in bytes (Linux), else the peak so far."""
    now = status_bytes("VmRSS")
    return peak_rss() if now is None else now


def own_peak_rss() -> int:
    """Peak RSS in bytes of the calling process's own memory since it started.

    Linux's ``VmHWM`` where there is one: ``ru_maxrss`` survives ``exec``, so a
    worker spawned from a large parent would report the parent's size.
    """
    peak = status_bytes("VmHWM")
    return peak_rss() if peak is None else peak


def reset_peak() -> bool:
    """Reset the kernel's peak RSS (``VmHWM``) of this process to its current RSS.

    Linux 4.0+ (``5`` written to ``/proc/self/clear_refs``); False where not possible.
    """
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
    except OSError:
        return False
    return status_bytes("VmHWM") is not None


#: Starts the probe from a small interpreter. Linux carries ``ru_maxrss`` over
#: ``execve`` from the image being replaced, and subprocess forks (vfork) from
#: this process, so a probe started directly would report at least this
#: process's RSS; a probe forked from the small launcher starts clean.
LAUNCHER = "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))"


def run_isolated(entry: str, *args: str, secret: str | None = None) -> dict[str, Any]:
    """Run ``entry`` (Python code) in a fresh interpreter; return the JSON it prints last.

    The interpreter is forked from :data:`LAUNCHER`, imports from the
    repository root (``benchmarks`` included) and gets ``args`` as its
    ``sys.argv[1:]``. With ``secret``, its output must not contain it.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    out = subprocess.run(
        [sys.executable, "-c", LAUNCHER, sys.executable, "-c", entry, *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
        env=env,
    )
    if secret is not None and secret in out.stdout + out.stderr:
        raise RuntimeError("the secret appeared in a probe's output")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# ---------------------------------------------------------------- results


def save_json(target: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as indented JSON to ``target`` (its folder made), and say where."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"results saved to {target}")


# ---------------------------------------------------------------- tables


class Rated(Protocol):
    """A row with a name and a rate (a :class:`RateResult`, a throughput row...)."""

    @property
    def name(self) -> str: ...

    @property
    def events_per_s(self) -> float: ...


def rate_of(rows: Iterable[Rated], name: str) -> float:
    """The events/s of the row called ``name``: the baseline of a ratio column."""
    return next(r.events_per_s for r in rows if r.name == name)


def times(value: float, digits: int = 1) -> str:
    """A ratio as ``1.5x``; ``-`` for nan."""
    return "-" if math.isnan(value) else f"{value:.{digits}f}x"


def num(value: float | None, spec: str) -> str:
    """``value`` formatted with ``spec``; ``-`` for None or nan."""
    return "-" if value is None or math.isnan(value) else format(value, spec)


def met(flag: bool | None, missing: str = "n/a") -> str:
    """A target's verdict: ``met``, ``NOT met``, or ``missing`` when it could not be judged."""
    if flag is None:
        return missing
    return "met" if flag else "NOT met"


def yes_no(flag: bool | None, missing: str = "") -> str:
    """A target's verdict in a table's column: ``yes``, ``NO``, or ``missing``."""
    if flag is None:
        return missing
    return "yes" if flag else "NO"


def outcome(ok: bool | None, note: str | None) -> str:
    """A row's result cell: ``ok``, ``FAILED: <note>``, or the note of a row not judged."""
    if ok is None:
        return note or "-"
    return "ok" if ok else f"FAILED: {note}"


def ratio_verdict(value: float, target: float) -> str:
    """A cost ratio against its ceiling: ``1.01x (met: <= 1.15x)``."""
    return f"{value:.2f}x ({met(value <= target)}: <= {target}x)"


def md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub markdown table, numbers right-aligned."""
    aligns = ["---:" if all(_numeric(r[i]) for r in rows) else "---" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(aligns) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _numeric(text: str) -> bool:
    return text.replace(",", "").replace(".", "").replace("x", "").replace("-", "").isdigit()
