"""The explorer's response time: each filter change on 1,000,000 loaded events.

Issue 5's target: filtering 1,000,000 loaded events responds in under 300 ms.
Each filter is set on a fresh (reset) explorer, best of 3; every search
starts cold (the explorer remembers only its last search, so a different one
is run, untimed, after each).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from fapilog_notebook import explore

from .harness import Measured, Runs, yes_no

__all__ = ["ExploreConfig", "big_frame", "markdown", "run"]

TARGET_MS = 300.0
#: Searched (untimed) after each timed search, so that no search finds its
#: answer remembered from the run before; it matches no event.
_COLD_SEARCH = "\x00no such text"


@dataclass(frozen=True)
class ExploreConfig:
    """Parameters of one run of the explorer benchmark."""

    events: int = 1_000_000
    repeats: int = 3

    @classmethod
    def quick(cls, **overrides: Any) -> ExploreConfig:
        return cls(events=50_000, repeats=1, **overrides)


def big_frame(n: int) -> pd.DataFrame:
    """A loaded trail of ``n`` events over 60 days, shaped like ``read_audit_log``'s."""
    rng = np.random.default_rng(7)
    types = ["data_access", "data_modification", "authentication_failed", "config_changed"]
    levels = ["info", "warning", "error", "security"]
    start = pd.Timestamp("2026-01-01", tz="UTC")
    ids = np.arange(n)
    return pd.DataFrame(
        {
            "event_id": [f"{i:08x}-0000-4000-8000-{i:012x}" for i in range(n)],
            "timestamp": start + pd.to_timedelta(np.sort(rng.integers(0, 60 * 86400, n)), "s"),
            "event_type": pd.Categorical(rng.choice(types, n), categories=types),
            "log_level": pd.Categorical(rng.choice(levels, n, p=[0.85, 0.1, 0.04, 0.01])),
            "sequence_number": ids + 1,
            "message": [f"producer {i % 50} event {i}" for i in range(n)],
            "user_id": pd.Series(ids % 97).map(lambda u: f"user{u}@example.com"),
            "component": pd.Categorical(rng.choice(["api", "db", "auth"], n)),
        }
    )


FILTERS: tuple[tuple[str, str, object], ...] = (
    ("event types", "event_types", ("data_access", "config_changed")),
    ("log levels", "log_levels", ("error",)),
    ("since", "since", date(2026, 1, 20)),
    ("user", "user", "user4"),
    ("text search", "search", "event 1234"),
    ("text search, one letter", "search", "e"),
    ("search an event id", "search", "0000-4000-8000-00000001"),
)


def run(config: ExploreConfig) -> dict[str, Any]:
    """Time each filter change; return the results as JSON-ready data."""
    frame = big_frame(config.events)
    began = time.perf_counter()
    explorer = explore(frame)
    build_s = time.perf_counter() - began

    def change(widget: str, value: object) -> Measured:
        explorer.reset_filters()
        began = time.perf_counter()
        getattr(explorer, widget).value = value
        seconds = time.perf_counter() - began
        if widget == "search":
            # The explorer remembers its last search: search something else
            # (untimed) so that the next run of this one starts cold.
            explorer.search.value = _COLD_SEARCH
        return seconds, None, None, {}

    rows = []
    for label, widget, value in FILTERS:
        runs = Runs(label)
        for _ in range(config.repeats):
            runs.add(partial(change, widget, value), collect=False)
        best = runs.best * 1000
        print(f"  explorer: {label}: {best:.0f} ms")
        rows.append({"filter": label, "best_ms": best, "runs_ms": [t * 1000 for t in runs.seconds]})
    return {"config": vars(config), "build_s": build_s, "filters": rows}


def markdown(data: dict[str, Any]) -> str:
    """The results as a markdown table with the target."""
    events = data["config"]["events"]
    lines = [
        f"### Explorer: filter changes on {events:,} loaded events, best of "
        f"{data['config']['repeats']}",
        "",
        "| filter | ms | target < 300 ms |",
        "| --- | ---: | --- |",
    ]
    for row in data["filters"]:
        lines.append(
            f"| {row['filter']} | {row['best_ms']:.0f} | {yes_no(row['best_ms'] < TARGET_MS)} |"
        )
    lines.append("")
    lines.append(f"Building the explorer on the loaded frame took {data['build_s']:.1f} s.")
    return "\n".join(lines)
