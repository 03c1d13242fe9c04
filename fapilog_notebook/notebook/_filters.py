"""The explorer's filters: their controls, what they keep, and their saved values.

:class:`FilterPanel` owns the filter widgets (date and time of day, event
types and log levels with their counts, PHI/PII, user, free text) and turns
their values into a row mask over a :class:`~._index.FrameIndex`. It does
not refresh anything itself: the explorer observes the controls, and mutes
them while it sets several values at once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any

import ipywidgets as widgets
import numpy as np
import pandas as pd

from ._index import BoolArray, Codes, FrameIndex, lookup

__all__ = ["SENSITIVE_CHOICES", "FilterPanel"]

#: The choices of the sensitive-data filter and the flag columns each keeps.
SENSITIVE_CHOICES = {
    "any": (),
    "PHI": ("contains_phi",),
    "PII": ("contains_pii",),
    "PHI or PII": ("contains_phi", "contains_pii"),
}


class FilterPanel:
    """The filter controls of one explorer, built from its frame's index.

    Attributes (the widgets, driven by users and tests through the explorer):
    ``since``, ``until``, ``since_time``, ``until_time``, ``event_types``,
    ``log_levels``, ``sensitive``, ``user``, ``search``, ``reset_button``;
    and ``default_range``, the first and last day of the frame.
    """

    def __init__(self, index: FrameIndex) -> None:
        first = date.fromordinal(date(1970, 1, 1).toordinal() + index.first_day)
        last = date.fromordinal(date(1970, 1, 1).toordinal() + index.last_day)
        wide = widgets.Layout(width="220px")
        narrow = widgets.Layout(width="150px")
        self.since = widgets.DatePicker(description="from", value=first, layout=wide)
        self.until = widgets.DatePicker(description="to", value=last, layout=wide)
        self.since_time = widgets.TimePicker(description="at", value=None, layout=narrow)
        self.until_time = widgets.TimePicker(description="at", value=None, layout=narrow)
        self.default_range = (first, last)
        self.event_types = widgets.SelectMultiple(
            options=_counted_options(index.types), description="event types", rows=6
        )
        self.log_levels = widgets.SelectMultiple(
            options=_counted_options(index.levels), description="log levels", rows=6
        )
        self.sensitive = widgets.Dropdown(
            options=[c for c in SENSITIVE_CHOICES if c == "any" or index.flags],
            value="any",
            description="PHI/PII",
            layout=wide,
        )
        self.user = widgets.Text(
            description="user", placeholder="part of a user id", continuous_update=False
        )
        self.search = widgets.Text(
            description="search",
            placeholder="message, user, IP, resource, ids",
            continuous_update=False,
        )
        self.reset_button = widgets.Button(description="Reset filters", icon="undo")

    def observe(self, handler: Callable[[dict[str, Any]], None]) -> None:
        """Call ``handler`` when any filter value changes."""
        for control in (
            self.since,
            self.until,
            self.since_time,
            self.until_time,
            self.event_types,
            self.log_levels,
            self.sensitive,
        ):
            control.observe(handler, names="value")
        for control in (self.user, self.search):
            control.observe(handler, names="value")

    def box(self) -> Any:
        """The controls laid out: dates, flags and text on the left, the two lists beside."""
        hint = widgets.HTML("<small>Press Enter in a text box to apply it.</small>")
        return widgets.HBox(
            [
                widgets.VBox(
                    [
                        widgets.HBox([self.since, self.since_time]),
                        widgets.HBox([self.until, self.until_time]),
                        self.sensitive,
                        self.user,
                        self.search,
                        hint,
                        self.reset_button,
                    ]
                ),
                self.event_types,
                self.log_levels,
            ]
        )

    def state(self) -> dict[str, Any]:
        """The filter values, as saved for the next explorer on the same source."""
        return {
            "since": self.since.value,
            "until": self.until.value,
            "since_time": self.since_time.value,
            "until_time": self.until_time.value,
            "sensitive": self.sensitive.value,
            "event_types": tuple(self.event_types.value),
            "log_levels": tuple(self.log_levels.value),
            "user": self.user.value,
            "search": self.search.value,
        }

    def restore(self, saved: dict[str, Any]) -> None:
        """Set the values of :meth:`state`, skipping choices this frame does not have."""
        self.since.value = saved["since"]
        self.until.value = saved["until"]
        self.since_time.value = saved["since_time"]
        self.until_time.value = saved["until_time"]
        if saved["sensitive"] in self.sensitive.options:
            self.sensitive.value = saved["sensitive"]
        for control, key in (
            (self.event_types, "event_types"),
            (self.log_levels, "log_levels"),
        ):
            present = {value for _, value in control.options}
            control.value = tuple(v for v in saved[key] if v in present)
        self.user.value = saved["user"]
        self.search.value = saved["search"]

    def reset(self) -> None:
        """Clear every filter."""
        self.since.value, self.until.value = self.default_range
        self.since_time.value = self.until_time.value = None
        self.sensitive.value = "any"
        self.event_types.value = ()
        self.log_levels.value = ()
        self.user.value = ""
        self.search.value = ""

    def mask(self, index: FrameIndex) -> BoolArray:
        """Which rows of ``index``'s frame the current values keep."""
        mask = np.ones(len(index.day), dtype=bool)
        since, until = self.since.value, self.until.value
        epoch = date(1970, 1, 1)
        since_time, until_time = self.since_time.value, self.until_time.value
        if since is not None and since_time is not None:
            mask &= index.ns >= _ns_of(since, since_time)
        elif since is not None and since != self.default_range[0]:
            mask &= index.day >= (since - epoch).days
        if until is not None and until_time is not None:
            mask &= index.ns <= _ns_of(until, until_time) + 59_999_999_999  # the whole minute
        elif until is not None and until != self.default_range[1]:
            mask &= index.day <= (until - epoch).days
        flags = SENSITIVE_CHOICES.get(self.sensitive.value, ())
        if flags:
            either = np.zeros(len(index.day), dtype=bool)
            for column in flags:
                if column in index.flags:
                    either |= index.flags[column]
            mask &= either
        if self.event_types.value:
            mask &= lookup(index.types[0], index.types[1], self.event_types.value)
        if self.log_levels.value:
            mask &= lookup(index.levels[0], index.levels[1], self.log_levels.value)
        user = self.user.value.strip()
        if user and index.users is not None:
            mask &= index.users.mask(user)
        text = self.search.value.strip()
        if text:
            mask &= index.text_mask(text)
        return mask


def _counted_options(codes: Codes) -> list[Any]:
    """(``"name (count)"``, name) for each value present, most frequent first."""
    counts = np.bincount(codes[0], minlength=len(codes[1]) + 1)[1:]
    order = sorted(range(len(codes[1])), key=lambda i: (-counts[i], codes[1][i]))
    return [(f"{codes[1][i]} ({counts[i]:,})", codes[1][i]) for i in order if counts[i]]


def _ns_of(day: date, moment: time) -> int:
    """Nanoseconds since the epoch of ``day`` at ``moment`` (UTC)."""
    return int(pd.Timestamp(datetime.combine(day, moment)).value)
