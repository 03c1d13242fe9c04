"""The analyses an auditor runs over a loaded trail (the frame of ``read_audit_log``).

Each function takes the typed frame and returns a DataFrame; they are
vectorised (pandas and numpy over whole columns, Python only per group or per
distinct value), so a month of events is analysed in a fraction of the time it
takes to load it.

Conventions shared by every analysis:

- the resource of an event is ``metadata["resource"]`` (what
  ``AuditTrail.log_data_access`` writes); data events are ``data_access``,
  ``data_modification``, ``data_deletion`` and ``data_export``;
- times in results are tz-aware UTC timestamps, durations ``Timedelta``;
- a row that stands for events keeps ``sequence_number``, ``source_file`` and
  ``source_line`` (a row that stands for several events names the first), so a
  finding leads back to its line;
- bad input raises ``ValueError``/``TypeError`` naming the parameter; an empty
  frame gives an empty result with the documented columns.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from itertools import repeat
from os import PathLike
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from ..keys import check_key_bytes
from ..load import string_dtype as _string_dtype
from ..objstore import ObjectPath, is_url, list_entries
from ..storage import day_of, list_audit_files, to_day

__all__ = [
    "DATA_EVENTS",
    "OFF_HOURS_EXEMPT",
    "PRIVILEGED_EVENTS",
    "after_termination",
    "bulk_access",
    "completeness",
    "disclosures",
    "failed_logins",
    "first_seen",
    "off_hours",
    "privileged_actions",
    "pseudonymize",
    "retention",
    "sensitive_access",
    "silences",
]

#: Event types that read or change records: their resource is ``metadata["resource"]``.
DATA_EVENTS = ("data_access", "data_modification", "data_deletion", "data_export")
#: Event types reported by :func:`privileged_actions`.
PRIVILEGED_EVENTS = (
    "config_changed",
    "data_deletion",
    "retention_policy_applied",
    "plugin_loaded",
    "plugin_unloaded",
    "audit_log_access",
)
#: The system's reports about itself: not activity, so never off hours.
OFF_HOURS_EXEMPT = (
    "system_startup",
    "system_shutdown",
    "component_failure",
    "component_recovery",
    "error_occurred",
    "error_recovered",
    "error_escalated",
    "compliance_check",
)
OFF_HOURS_REASONS = ("holiday", "weekend", "before_hours", "after_hours")
RETENTION_RULES = ("oldest_day", "newest_day", "missing_days", "past_keep_days", "offline_days")
PROVENANCE = ("sequence_number", "source_file", "source_line")
_UTC_DTYPE = pd.DatetimeTZDtype("us", "UTC")
#: Text columns of results: the dtype pandas gives a list of strings (as the frame's).
_TEXT: Any = _string_dtype() or "object"
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_PSEUDONYM_HEX = 32


# ---------------------------------------------------------------- shared helpers


def _check_frame(frame: object, needed: Iterable[str], what: str) -> pd.DataFrame:
    """``frame`` as a DataFrame holding ``needed`` columns, or a clear error.

    An empty frame (``read_audit_log`` gives one with only the provenance
    columns when nothing matched) is accepted as it is.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(
            f"{what}: frame must be the pandas DataFrame of read_audit_log, "
            f"not {type(frame).__name__}"
        )
    if len(frame) == 0:
        return frame
    missing = [name for name in dict.fromkeys(needed) if name not in frame.columns]
    if missing:
        raise ValueError(
            f"{what}: frame has no column {', '.join(map(repr, missing))} "
            "(pass the frame of read_audit_log, loaded with these columns)"
        )
    stamps = frame["timestamp"] if "timestamp" in frame.columns else None
    if stamps is not None and not isinstance(stamps.dtype, pd.DatetimeTZDtype):
        raise ValueError(
            f"{what}: frame['timestamp'] must hold tz-aware timestamps "
            f"(as read_audit_log gives), not {stamps.dtype}"
        )
    return frame


def _utc(stamps: pd.Series) -> pd.Series:
    """Timestamps as tz-aware UTC (microseconds), whatever zone or unit they came in."""
    if len(stamps) == 0 and not isinstance(stamps.dtype, pd.DatetimeTZDtype):
        return pd.Series([], dtype=_UTC_DTYPE, index=stamps.index, name=stamps.name)
    converted: pd.Series = stamps.dt.tz_convert("UTC").astype(_UTC_DTYPE)
    return converted


def _duration(value: object, name: str) -> pd.Timedelta:
    """A positive duration from ``value`` (``"10min"``, ``"1h"``, a timedelta)."""
    if isinstance(value, bool) or not isinstance(value, (str, timedelta, np.timedelta64)):
        raise TypeError(f"{name} must be a duration such as '10min' or a timedelta, not {value!r}")
    try:
        duration = pd.Timedelta(value)
    except (ValueError, TypeError):
        raise ValueError(
            f"{name}={value!r} is not a duration (e.g. '10min', '1h', '14D')"
        ) from None
    if pd.isna(duration) or duration <= pd.Timedelta(0):
        raise ValueError(f"{name}={value!r} must be a positive duration")
    return duration


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive integer, not {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, not {value!r}")
    return int(value)


def _column_name(value: object, name: str, frame: pd.DataFrame) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"{name} must be a column name (a string), not {value!r}")
    if len(frame) and value not in frame.columns:
        raise ValueError(f"{name}={value!r} is not a column of the frame")
    return value


def _column_names(value: object, name: str, frame: pd.DataFrame) -> tuple[str, ...]:
    names = (value,) if isinstance(value, str) else value
    if not isinstance(names, Iterable):
        raise TypeError(f"{name} must be column names, not {value!r}")
    out = tuple(names)
    if not out:
        raise ValueError(f"{name} must name at least one column")
    for item in out:
        _column_name(item, name, frame)
    if len(set(out)) != len(out):
        raise ValueError(f"{name}={value!r} names a column twice")
    return out


def _missing(values: pd.Series) -> pd.Series:
    """True where a text field is absent: null or empty (whitespace only).

    A string column is checked with its own (vectorised) string methods; any
    other column through its distinct values, so Python sees each value once.
    """
    if isinstance(values.dtype, pd.StringDtype):
        blank = values.str.strip().eq("").to_numpy(dtype=bool, na_value=True)
        return pd.Series(blank | values.isna().to_numpy(dtype=bool), index=values.index)
    codes, uniques = pd.factorize(_hashable(values).to_numpy(dtype=object), use_na_sentinel=True)
    empty = np.fromiter(
        (not str(value).strip() for value in uniques), dtype=bool, count=len(uniques)
    )
    missing = np.append(empty, True)[codes]  # code -1 (null) picks the appended True
    return pd.Series(missing, index=values.index)


def _is_type(frame: pd.DataFrame, types: Sequence[str]) -> pd.Series:
    """True where the event type is one of ``types``."""
    if "event_type" not in frame.columns:
        return pd.Series(False, index=frame.index)
    return frame["event_type"].isin(types).fillna(False).astype(bool)


def _flag(frame: pd.DataFrame, name: str) -> pd.Series:
    """A boolean column read leniently: missing or null means False."""
    if name not in frame.columns:
        return pd.Series(False, index=frame.index)
    return frame[name].fillna(False).astype(bool)


def _resource_objects(frame: pd.DataFrame, rows: np.ndarray | None = None) -> pd.Series:
    """Each event's resource (``metadata["resource"]``), null where there is none.

    ``rows`` (positions or a boolean mask) limits the work to those events;
    only the metadata column is read. A ``metadata.resource`` column
    (``read_audit_log(flatten_metadata=True)``) is used as it is; otherwise
    the key is read from the metadata dicts. Non-string resources are null: a
    resource is a path such as ``/patients/4``.
    """
    index = frame.index if rows is None else frame.index[rows]
    if "metadata.resource" in frame.columns:
        column = frame["metadata.resource"]
        values = column if rows is None else column.iloc[rows]
    elif "metadata" in frame.columns and len(index):
        metadata = frame["metadata"].to_numpy(dtype=object)
        if rows is not None:
            metadata = metadata[rows]
        if set(map(type, metadata)) == {dict}:  # as read_audit_log gives: dicts only
            found = list(map(dict.get, metadata, repeat("resource")))
            values = pd.Series(found, index=index, dtype=object)
        else:
            values = pd.Series(metadata, index=index, dtype=object).str.get("resource")
    else:
        return pd.Series(None, index=index, dtype=object)
    if not set(map(type, values.to_numpy(dtype=object))) <= {str, type(None)}:
        values = values.where(values.map(type, na_action="ignore").isin([str]).to_numpy(), None)
    return values.astype(object)


def _sequences(values: pd.Series) -> pd.Series:
    return values.astype("Int64").reset_index(drop=True)


def _empty(columns: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series([], dtype=dtype) for name, dtype in columns.items()})


def _hashable(values: pd.Series) -> pd.Series:
    """``values`` with each JSON object or list (a hostile event can put one
    where a name belongs) replaced by its canonical JSON text, so it can be
    grouped and compared like any other value instead of failing as unhashable."""
    if values.dtype != object:
        return values
    found = values.map(lambda v: isinstance(v, (dict, list)), na_action="ignore")
    nested = found.fillna(False).to_numpy(dtype=bool)
    if not nested.any():
        return values
    out = values.copy()
    out[nested] = [
        json.dumps(v, sort_keys=True, separators=(",", ":"), default=str) for v in values[nested]
    ]
    return out


def _codes(values: pd.Series) -> np.ndarray:
    """One int64 code per row, equal for equal values; -1 where the value is missing."""
    codes, uniques = pd.factorize(_hashable(values), use_na_sentinel=True)
    blank = np.append(_missing(pd.Series(uniques)).to_numpy(dtype=bool), True)
    out = np.asarray(codes, dtype=np.int64)
    out[blank[out]] = -1  # code -1 (null) picks the appended True
    return out


def _pair(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """One code per pair of codes (distinct pairs, distinct codes); -1 where either is -1."""
    if len(first) == 0:
        return first.copy()
    bad = (first < 0) | (second < 0)
    width = int(second.max()) + 1
    out: np.ndarray
    if (int(first.max()) + 1) * width < 2**62:  # the product is a code already
        out = first * width + second
    else:
        codes, _ = pd.factorize(first * width + second)
        out = np.asarray(codes, dtype=np.int64)
    out[bad] = -1
    return out


def _sorted_groups(codes: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows with a code (>= 0) ordered by code, then time, then position; and where each starts."""
    if len(codes) and codes.min() >= 0:
        order = np.lexsort((times, codes))
    else:
        valid = np.flatnonzero(codes >= 0)
        order = valid[np.lexsort((times[valid], codes[valid]))]
    if len(order) == 0:
        return order, order
    ordered = codes[order]
    return order, np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])


def _micros(stamps: pd.Series) -> np.ndarray:
    """UTC timestamps as int64 microseconds since the epoch."""
    return _utc(stamps).to_numpy(dtype="datetime64[us]").view(np.int64)


def _events(frame: pd.DataFrame, mask: pd.Series | np.ndarray) -> pd.DataFrame:
    """The rows of ``frame`` where ``mask`` holds: a new frame (taken once), index kept."""
    return frame.take(np.flatnonzero(np.asarray(mask, dtype=bool)))


# ------------------------------------------------------------------ the analyses


def failed_logins(
    frame: pd.DataFrame,
    *,
    by: str = "user_id",
    threshold: int = 5,
    window: str | timedelta = "10min",
) -> pd.DataFrame:
    """Clusters of failed log-ins per ``by`` value (PCI DSS 10.2.1.4, SOC 2 CC6.6).

    ``authentication_failed`` events with the same ``by`` value (events with
    none are left out) form a cluster while each failure follows the previous
    one by at most ``window``; clusters of at least ``threshold`` failures are
    returned, one row each, earliest first: ``<by>``, ``start``, ``end``,
    ``failures``, ``first_sequence``, ``last_sequence``, the first event's
    ``source_file`` and ``source_line``, and the distinct values of the other
    identity column (``client_ip`` when grouping by user, ``user_id`` when by
    IP) as a sorted tuple ``<other>s`` and their count ``distinct_<other>s``:
    one IP guessing many users' passwords is credential stuffing.
    """
    what = "failed_logins"
    _check_frame(frame, (), what)
    by = _column_name(by, "by", frame)
    threshold = _positive_int(threshold, "threshold")
    gap = _duration(window, "window")
    other = "user_id" if by == "client_ip" else "client_ip"
    columns: dict[str, Any] = {
        by: _TEXT,
        "start": _UTC_DTYPE,
        "end": _UTC_DTYPE,
        "failures": "int64",
        "first_sequence": "Int64",
        "last_sequence": "Int64",
        "source_file": _TEXT,
        "source_line": "int64",
        f"{other}s": "object",
        f"distinct_{other}s": "int64",
    }
    if len(frame) == 0:
        return _empty(columns)
    _check_frame(frame, ("event_type", "timestamp", by, other, *PROVENANCE), what)
    failed = frame.loc[
        _is_type(frame, ("authentication_failed",)).to_numpy(),
        ["timestamp", by, other, *PROVENANCE],
    ]
    failed = failed[~_missing(failed[by]).to_numpy()]
    if len(failed) == 0:
        return _empty(columns)
    failed = failed.assign(timestamp=_utc(failed["timestamp"]), _key=failed[by].astype(str))
    failed = failed.sort_values(["_key", "timestamp"], kind="stable")
    keys = failed["_key"].to_numpy(dtype=object)
    stamps = failed["timestamp"].to_numpy(dtype="datetime64[us]")
    new = np.ones(len(failed), dtype=bool)
    new[1:] = (keys[1:] != keys[:-1]) | ((stamps[1:] - stamps[:-1]) > gap.to_timedelta64())
    cluster = np.cumsum(new) - 1
    sizes = np.bincount(cluster)
    starts = np.flatnonzero(new)
    ends = np.r_[starts[1:], len(failed)] - 1
    big = sizes >= threshold
    if not big.any():
        return _empty(columns)
    first, last = starts[big], ends[big]
    in_big = big[cluster]
    others = failed.loc[in_big, [other]].assign(_cluster=cluster[in_big])
    others = others[~_missing(others[other]).to_numpy()]
    distinct = (
        others.astype({other: str})
        .drop_duplicates()
        .sort_values([other], kind="stable")
        .groupby("_cluster", sort=True)[other]
        .agg(tuple)
    )
    ids = np.flatnonzero(big)
    found = distinct.reindex(ids)
    out = pd.DataFrame(
        {
            by: failed[by].to_numpy(dtype=object)[first],
            "start": failed["timestamp"].iloc[first].reset_index(drop=True),
            "end": failed["timestamp"].iloc[last].reset_index(drop=True),
            "failures": sizes[big].astype(np.int64),
            "first_sequence": _sequences(failed["sequence_number"].iloc[first]),
            "last_sequence": _sequences(failed["sequence_number"].iloc[last]),
            "source_file": failed["source_file"].astype(object).to_numpy()[first],
            "source_line": failed["source_line"].to_numpy(dtype=np.int64)[first],
            f"{other}s": [value if isinstance(value, tuple) else () for value in found],
        }
    )
    out[f"distinct_{other}s"] = out[f"{other}s"].map(len)
    out = out.astype(columns).sort_values(["start", by], kind="stable")
    return out.reset_index(drop=True)


def _clock_time(value: object, name: str) -> int:
    """Microseconds after midnight of ``"HH:MM"``/``"HH:MM:SS"`` or a ``time``."""
    if isinstance(value, time):
        if value.tzinfo is not None:
            raise ValueError(f"{name}={value!r}: give a local clock time without a time zone")
        parts = (value.hour, value.minute, value.second, value.microsecond)
    elif isinstance(value, str):
        match = _TIME.match(value.strip())
        if match is None:
            raise ValueError(f"{name}={value!r} is not a clock time such as '08:00'")
        hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
        if (hour, minute, second) != (24, 0, 0) and (hour > 23 or minute > 59 or second > 59):
            raise ValueError(f"{name}={value!r} is not a clock time such as '08:00'")
        parts = (hour, minute, second, 0)
    else:
        raise TypeError(f"{name} must be a clock time such as '08:00', not {value!r}")
    hour, minute, second, micro = parts
    return ((hour * 60 + minute) * 60 + second) * 1_000_000 + micro


def _zone(tz: object) -> ZoneInfo:
    if isinstance(tz, ZoneInfo):
        return tz
    if not isinstance(tz, str) or not tz:
        raise TypeError(f"tz must be a time zone name such as 'Europe/Berlin', not {tz!r}")
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"tz={tz!r} is not a known time zone (an IANA name)") from None


def _holidays(holidays: object) -> np.ndarray:
    if isinstance(holidays, (str, date)):
        holidays = (holidays,)
    if not isinstance(holidays, Iterable):
        raise TypeError(f"holidays must be dates, not {holidays!r}")
    days: list[np.datetime64] = []
    for item in holidays:
        if isinstance(item, datetime):
            raise TypeError(f"holidays must be dates (local calendar days), not the time {item!r}")
        if isinstance(item, str):
            try:
                item = date.fromisoformat(item)
            except ValueError:
                raise ValueError(f"holidays: {item!r} is not a date in YYYY-MM-DD form") from None
        if not isinstance(item, date):
            raise TypeError(f"holidays must be dates, not {item!r}")
        days.append(np.datetime64(item, "D"))
    return np.array(days, dtype="datetime64[D]")


def off_hours(
    frame: pd.DataFrame,
    *,
    start: str | time = "08:00",
    end: str | time = "18:00",
    tz: str | ZoneInfo = "UTC",
    weekends: bool = True,
    holidays: Iterable[date | str] = (),
) -> pd.DataFrame:
    """Activity outside business hours (HIPAA activity review, SOC 2 CC7.2).

    The business day is ``[start, end)`` in local time ``tz`` (zoneinfo, so
    correct across DST changes): ``end`` itself is after hours. Each event
    gets one ``reason``: ``holiday`` (its local day is in ``holidays``), else
    ``weekend`` (Saturday or Sunday, unless ``weekends=False``), else
    ``before_hours`` or ``after_hours``. The system's reports about itself
    (``OFF_HOURS_EXEMPT``: start-up, shutdown, component and error events,
    ``compliance_check``) run around the clock and are not activity, so they
    are never reported. Returns the events, in frame order, plus ``reason``.
    """
    what = "off_hours"
    _check_frame(frame, (), what)
    first = _clock_time(start, "start")
    last = _clock_time(end, "end")
    if not first < last:
        raise ValueError(f"start={start!r} must be before end={end!r}")
    zone = _zone(tz)
    if not isinstance(weekends, bool):
        raise TypeError(f"weekends must be True or False, not {weekends!r}")
    days = _holidays(holidays)
    reasons = pd.CategoricalDtype(list(OFF_HOURS_REASONS))
    if len(frame) == 0:
        return frame.iloc[0:0].assign(reason=pd.Series([], dtype=reasons))
    _check_frame(frame, ("timestamp", "event_type", *PROVENANCE), what)
    day_us = 86_400_000_000
    wall = frame["timestamp"].dt.tz_convert(zone).dt.tz_localize(None)
    micros = wall.to_numpy(dtype="datetime64[us]").view(np.int64)
    del wall
    days_since_epoch = micros // day_us
    clock = micros - days_since_epoch * day_us
    del micros
    codes = np.full(len(frame), -1, dtype=np.int8)  # filled from the weakest reason up
    codes[clock >= last] = 3
    codes[clock < first] = 2
    del clock
    if weekends:
        codes[(days_since_epoch + 3) % 7 >= 5] = 1  # 1970-01-01 was a Thursday (3)
    if len(days):
        codes[np.isin(days_since_epoch, days.astype(np.int64))] = 0
    del days_since_epoch
    flagged = (codes >= 0) & ~_is_type(frame, OFF_HOURS_EXEMPT).to_numpy()
    reason = codes[flagged]
    del codes
    out = _events(frame, flagged)
    out["reason"] = pd.Categorical.from_codes(reason, dtype=reasons)
    return out


def sensitive_access(frame: pd.DataFrame, *, by: str = "user_id") -> pd.DataFrame:
    """Who touched PHI or PII, and how much (HIPAA 164.308(a)(1)(ii)(D) access report).

    Events with ``contains_phi`` or ``contains_pii`` are counted per ``by``
    value (events without one form their own row, key null): ``events``,
    ``phi_events``, ``pii_events``, ``distinct_resources``, ``first``,
    ``last``, and the first event's ``first_sequence``, ``source_file`` and
    ``source_line``. Most active first.
    """
    what = "sensitive_access"
    _check_frame(frame, (), what)
    by = _column_name(by, "by", frame)
    columns: dict[str, Any] = {
        by: _TEXT,
        "events": "int64",
        "phi_events": "int64",
        "pii_events": "int64",
        "distinct_resources": "int64",
        "first": _UTC_DTYPE,
        "last": _UTC_DTYPE,
        "first_sequence": "Int64",
        "source_file": _TEXT,
        "source_line": "int64",
    }
    if len(frame) == 0:
        return _empty(columns)
    _check_frame(frame, ("timestamp", by, *PROVENANCE), what)
    phi, pii = _flag(frame, "contains_phi"), _flag(frame, "contains_pii")
    keep = (phi | pii).to_numpy()
    if not keep.any():
        return _empty(columns)
    rows = np.flatnonzero(keep)
    keys = frame[by].iloc[rows]
    codes = _codes(keys)
    codes[codes < 0] = int(codes.max()) + 1  # events without a key: one group, key null
    times = _micros(frame["timestamp"].iloc[rows])
    order, starts = _sorted_groups(codes, times)
    ends = np.r_[starts[1:], len(order)]
    firsts, lasts = order[starts], order[ends - 1]
    group = np.empty(len(codes), dtype=np.int64)
    group[order] = np.repeat(np.arange(len(starts)), ends - starts)
    resource = _codes(_resource_objects(frame, rows))
    named = resource >= 0
    width = max(int(resource.max()), 0) + 1
    pairs = pd.unique(group[named] * width + resource[named])
    distinct = np.bincount(pairs // width, minlength=len(starts))
    at = rows[firsts]
    missing_key = _missing(keys).to_numpy()[firsts]
    out = pd.DataFrame(
        {
            by: np.where(missing_key, None, keys.iloc[firsts].to_numpy(dtype=object)),
            "events": ends - starts,
            "phi_events": np.add.reduceat(phi.to_numpy(dtype=np.int64)[rows][order], starts),
            "pii_events": np.add.reduceat(pii.to_numpy(dtype=np.int64)[rows][order], starts),
            "distinct_resources": distinct,
            "first": times[firsts].astype("datetime64[us]"),
            "last": times[lasts].astype("datetime64[us]"),
            "first_sequence": frame["sequence_number"].iloc[at].to_numpy(),
            "source_file": frame["source_file"].iloc[at].to_numpy(dtype=object),
            "source_line": frame["source_line"].iloc[at].to_numpy(),
        }
    )
    out["first"] = out["first"].dt.tz_localize("UTC")
    out["last"] = out["last"].dt.tz_localize("UTC")
    out = out.astype(columns)
    out = out.sort_values(["events", "first"], ascending=[False, True], kind="stable")
    result: pd.DataFrame = out[list(columns)].reset_index(drop=True)
    return result


def bulk_access(
    frame: pd.DataFrame,
    *,
    by: str = "user_id",
    per: str | timedelta = "1h",
    threshold: int = 100,
) -> pd.DataFrame:
    """Many data events by one key in one period: bulk reads and exports (GDPR Art. 33 scope).

    Data events are counted per ``by`` value (those without one are left
    out) and UTC period of length ``per`` (periods start at multiples of
    ``per`` since the epoch: ``"1h"`` is each hour, ``"1D"`` each UTC day);
    rows with ``events >= threshold``: ``<by>``, ``period`` (its start, a UTC
    timestamp), ``events``, ``distinct_resources``, ``exports`` (``data_export``
    events), ``first_sequence``, ``last_sequence`` and the first event's
    ``source_file`` and ``source_line``. Earliest first.
    """
    what = "bulk_access"
    _check_frame(frame, (), what)
    by = _column_name(by, "by", frame)
    length = _duration(per, "per")
    threshold = _positive_int(threshold, "threshold")
    columns: dict[str, Any] = {
        by: _TEXT,
        "period": _UTC_DTYPE,
        "events": "int64",
        "distinct_resources": "int64",
        "exports": "int64",
        "first_sequence": "Int64",
        "last_sequence": "Int64",
        "source_file": _TEXT,
        "source_line": "int64",
    }
    if len(frame) == 0:
        return _empty(columns)
    _check_frame(frame, ("timestamp", "event_type", by, *PROVENANCE), what)
    data = np.flatnonzero(_is_type(frame, DATA_EVENTS).to_numpy())
    step = length.to_timedelta64().astype("timedelta64[us]").astype(np.int64)
    periods = _micros(frame["timestamp"].iloc[data]) // step
    groups = _pair(_codes(frame[by].iloc[data]), periods - periods.min() if len(data) else periods)
    sizes = np.bincount(groups[groups >= 0]) if (groups >= 0).any() else np.zeros(0, np.int64)
    big = np.zeros(len(groups), dtype=bool)
    big[groups >= 0] = sizes[groups[groups >= 0]] >= threshold
    keep = data[big]
    if len(keep) == 0:
        return _empty(columns)
    rows = frame[["timestamp", "event_type", by, *PROVENANCE]].iloc[keep]
    period = (periods[big] * step).astype("datetime64[us]")
    rows = rows.assign(
        timestamp=_utc(rows["timestamp"]),
        _key=_hashable(rows[by])
        if pd.api.types.is_string_dtype(rows[by].dtype)
        else rows[by].astype(str),
        period=pd.Series(period, index=rows.index).dt.tz_localize("UTC"),
        _position=keep,
    )
    positions = rows["_position"].to_numpy()
    rows = rows.assign(
        _export=(rows["event_type"] == "data_export").fillna(False).to_numpy(dtype=np.int64),
        _resource=_resource_objects(frame, positions).to_numpy(),
    )
    rows = rows.sort_values("timestamp", kind="stable")
    out = rows.groupby(["_key", "period"], sort=False).agg(
        events=("timestamp", "size"),
        distinct_resources=("_resource", "nunique"),
        exports=("_export", "sum"),
        first_sequence=("sequence_number", "first"),
        last_sequence=("sequence_number", "last"),
        source_file=("source_file", "first"),
        source_line=("source_line", "first"),
    )
    out = out.reset_index().rename(columns={"_key": by})
    out = out.astype(columns)
    out = out.sort_values(["period", by], kind="stable")
    result: pd.DataFrame = out[list(columns)].reset_index(drop=True)
    return result


def first_seen(
    frame: pd.DataFrame,
    *,
    columns: Sequence[str] | str = ("user_id", "client_ip"),
    baseline: str | timedelta = "14D",
) -> pd.DataFrame:
    """Combinations first seen after the baseline: a known user from a new IP (SOC 2 CC7.2).

    The baseline is the first ``baseline`` of the frame's span (from its
    earliest event); a combination of ``columns`` values (rows with any of
    them missing are left out) whose first event comes at or after its end is
    new. One row per new combination, earliest first: ``columns...``,
    ``first``, ``first_sequence``, the first event's ``source_file`` and
    ``source_line``, and ``events`` (all its events in the frame).
    """
    what = "first_seen"
    _check_frame(frame, (), what)
    names = _column_names(columns, "columns", frame)
    span = _duration(baseline, "baseline")
    spec: dict[str, Any] = {name: _TEXT for name in names}
    spec.update(
        {
            "first": _UTC_DTYPE,
            "first_sequence": "Int64",
            "source_file": _TEXT,
            "source_line": "int64",
            "events": "int64",
        }
    )
    if len(frame) == 0:
        return _empty(spec)
    _check_frame(frame, ("timestamp", *names, *PROVENANCE), what)
    times = _micros(frame["timestamp"])
    cutoff = times.min() + span.to_timedelta64().astype("timedelta64[us]").astype(np.int64)
    codes = _codes(frame[names[0]])
    for name in names[1:]:
        codes = _pair(codes, _codes(frame[name]))
    order, starts = _sorted_groups(codes, times)
    firsts = order[starts]
    counts = np.diff(np.r_[starts, len(order)])
    new = times[firsts] >= cutoff
    at = firsts[new]
    if len(at) == 0:
        return _empty(spec)
    out = pd.DataFrame({name: frame[name].iloc[at].to_numpy(dtype=object) for name in names})
    out["first"] = _utc(frame["timestamp"].iloc[at]).to_numpy()
    out["first_sequence"] = frame["sequence_number"].iloc[at].to_numpy()
    out["source_file"] = frame["source_file"].iloc[at].to_numpy(dtype=object)
    out["source_line"] = frame["source_line"].iloc[at].to_numpy()
    out["events"] = counts[new]
    out = out.astype(spec).sort_values(["first", *names], kind="stable")
    result: pd.DataFrame = out[list(spec)].reset_index(drop=True)
    return result


def privileged_actions(frame: pd.DataFrame) -> pd.DataFrame:
    """Administrative actions (PCI DSS 10.2.1.2, SOX change control): the events, in frame order.

    ``config_changed``, ``data_deletion``, ``retention_policy_applied``,
    ``plugin_loaded``, ``plugin_unloaded`` and ``audit_log_access``.
    """
    what = "privileged_actions"
    _check_frame(frame, (), what)
    if len(frame) == 0:
        return frame.iloc[0:0].copy()
    _check_frame(frame, ("event_type", *PROVENANCE), what)
    return _events(frame, _is_type(frame, PRIVILEGED_EVENTS))


def silences(frame: pd.DataFrame, *, min_gap: str | timedelta = "1h") -> pd.DataFrame:
    """Stretches longer than ``min_gap`` with no event at all: was logging down? (PCI 10.2.1.6).

    One row per gap between consecutive events (by time) longer than
    ``min_gap``: ``start`` (the last event before), ``end`` (the first
    after), ``duration``, ``before_sequence``, ``after_sequence``, and the
    ``source_file``/``source_line`` of the event before and after.
    """
    what = "silences"
    _check_frame(frame, (), what)
    gap = _duration(min_gap, "min_gap")
    columns: dict[str, Any] = {
        "start": _UTC_DTYPE,
        "end": _UTC_DTYPE,
        "duration": "timedelta64[us]",
        "before_sequence": "Int64",
        "after_sequence": "Int64",
        "before_file": _TEXT,
        "before_line": "int64",
        "after_file": _TEXT,
        "after_line": "int64",
    }
    if len(frame) < 2:
        return _empty(columns)
    _check_frame(frame, ("timestamp", *PROVENANCE), what)
    rows = frame[list(PROVENANCE)].assign(timestamp=_utc(frame["timestamp"]))
    rows = rows.sort_values("timestamp", kind="stable")
    stamps = rows["timestamp"].to_numpy(dtype="datetime64[us]")
    steps = stamps[1:] - stamps[:-1]
    at = np.flatnonzero(steps > gap.to_timedelta64())
    if len(at) == 0:
        return _empty(columns)
    before, after = rows.iloc[at], rows.iloc[at + 1]
    out = pd.DataFrame(
        {
            "start": before["timestamp"].to_numpy(),
            "end": after["timestamp"].to_numpy(),
            "duration": steps[at],
            "before_sequence": _sequences(before["sequence_number"]),
            "after_sequence": _sequences(after["sequence_number"]),
            "before_file": before["source_file"].astype(object).to_numpy(),
            "before_line": before["source_line"].to_numpy(dtype=np.int64),
            "after_file": after["source_file"].astype(object).to_numpy(),
            "after_line": after["source_line"].to_numpy(dtype=np.int64),
        }
    )
    return out.astype(columns)


def completeness(frame: pd.DataFrame) -> pd.DataFrame:
    """PCI DSS 10.2.2 required fields, per event type: how many events lack each.

    Fields: ``user_id``; ``origin`` (``client_ip`` or, failing that,
    ``hostname``); and ``resource`` (``metadata["resource"]``) for data
    events. Null or blank counts as missing. One row per event type present
    and field, including fields never missing (the table is the evidence):
    ``event_type``, ``field``, ``missing``, ``events``, ``share_missing``
    (0..1). Rows with ``missing > 0`` are the exceptions.
    """
    what = "completeness"
    _check_frame(frame, (), what)
    columns: dict[str, Any] = {
        "event_type": _TEXT,
        "field": _TEXT,
        "missing": "int64",
        "events": "int64",
        "share_missing": "float64",
    }
    if len(frame) == 0:
        return _empty(columns)
    _check_frame(frame, ("event_type",), what)

    def absent(name: str) -> np.ndarray:
        if name not in frame.columns:
            return np.ones(len(frame), dtype=bool)
        return _missing(frame[name]).to_numpy()

    codes, names = pd.factorize(frame["event_type"], use_na_sentinel=True)
    kinds = [str(name) for name in names] + ["(none)"]
    codes = np.where(codes < 0, len(names), codes)
    data = _is_type(frame, DATA_EVENTS).to_numpy()
    resource = np.zeros(len(frame), dtype=bool)
    if data.any():
        resource[data] = _missing(_resource_objects(frame, data)).to_numpy()
    counts = {
        "user_id": absent("user_id"),
        "origin": absent("client_ip") & absent("hostname"),
        "resource": resource,
    }
    size = len(kinds)
    events = np.bincount(codes, minlength=size)
    has_data = np.bincount(codes, weights=data, minlength=size) > 0
    rows: list[tuple[str, str, int, int]] = []
    for field, flags in counts.items():
        missing = np.bincount(codes, weights=flags, minlength=size).astype(np.int64)
        for kind in np.flatnonzero(events):
            if field != "resource" or has_data[kind]:
                rows.append((kinds[kind], field, int(missing[kind]), int(events[kind])))
    order = {"user_id": 0, "origin": 1, "resource": 2}
    rows.sort(key=lambda row: (row[0], order[row[1]]))
    out = pd.DataFrame(rows, columns=["event_type", "field", "missing", "events"])
    out["share_missing"] = out["missing"] / out["events"]
    return out.astype(columns)


def _roster(roster: object) -> pd.Series:
    """Termination times (UTC) by user id, from a DataFrame or a CSV file."""
    if isinstance(roster, (str, PathLike)):
        path = Path(roster)
        try:
            table = pd.read_csv(path, dtype=str, keep_default_na=False)
        except FileNotFoundError:
            raise ValueError(f"roster: no such file {str(path)!r}") from None
        except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
            raise ValueError(f"roster: cannot read {str(path)!r} as CSV: {exc}") from None
        except pd.errors.EmptyDataError:
            raise ValueError(f"roster: {str(path)!r} is empty (no header)") from None
    elif isinstance(roster, pd.DataFrame):
        table = roster
    else:
        raise TypeError(
            f"roster must be a DataFrame or the path of a CSV file, not {type(roster).__name__}"
        )
    missing = [name for name in ("user_id", "terminated_at") if name not in table.columns]
    if missing:
        raise ValueError(f"roster has no column {', '.join(map(repr, missing))}")
    users = table["user_id"]
    named = ~_missing(users)
    raw = table["terminated_at"]
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        when = raw.dt.tz_convert("UTC")
    elif pd.api.types.is_datetime64_dtype(raw.dtype):
        when = raw.dt.tz_localize("UTC")
    else:
        text = raw.astype(object).where(~_missing(raw), None)
        text = text.map(_iso_text, na_action="ignore")
        when = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
        bad = text.notna() & when.isna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(
                f"roster: terminated_at {raw.iloc[row]!r} of user {users.iloc[row]!r} is not a "
                "date or time (use YYYY-MM-DD or an ISO 8601 time; naive times are UTC)"
            )
    when = when.astype(_UTC_DTYPE)
    keep = (named & when.notna()).to_numpy()
    ids = users[keep].astype(str).str.strip()
    doubled = ids[ids.duplicated()]
    if len(doubled):
        raise ValueError(f"roster lists user {doubled.iloc[0]!r} more than once")
    return pd.Series(when[keep].to_numpy(), index=pd.Index(ids.to_numpy(dtype=object)))


def _iso_text(value: object) -> object:
    """Roster cells for ``to_datetime``: dates and datetimes as ISO text, text stripped."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value).strip()


def after_termination(
    frame: pd.DataFrame, roster: pd.DataFrame | str | PathLike[str]
) -> pd.DataFrame:
    """Events by users at or after their termination (SOX ITGC access, SOC 2 CC6.2).

    ``roster`` is a DataFrame or a CSV file with ``user_id`` and
    ``terminated_at``: a date means 00:00 UTC that day, a naive time is UTC;
    rows with no termination are active users. Returns the events, in frame
    order, plus ``terminated_at``.
    """
    what = "after_termination"
    _check_frame(frame, (), what)
    ended = _roster(roster)
    if len(frame) == 0:
        return frame.iloc[0:0].assign(terminated_at=pd.Series([], dtype=_UTC_DTYPE))
    _check_frame(frame, ("timestamp", "user_id", *PROVENANCE), what)
    users = frame["user_id"]
    named = users.isin(ended.index).fillna(False).to_numpy(dtype=bool)
    cut = pd.Series(pd.NaT, index=frame.index, dtype=_UTC_DTYPE)
    if named.any():
        cut.iloc[np.flatnonzero(named)] = users[named].map(ended).astype(_UTC_DTYPE).to_numpy()
    late = (cut.notna() & (_utc(frame["timestamp"]) >= cut)).to_numpy()
    out = _events(frame, late)
    out["terminated_at"] = cut[late]
    return out


def disclosures(frame: pd.DataFrame, resource: str) -> pd.DataFrame:
    """Accounting of disclosures of one record (HIPAA 164.528), oldest first.

    Data events on ``resource`` itself or below it (``resource + "/..."``):
    ``/patients/4`` matches ``/patients/4`` and ``/patients/4/notes``, never
    ``/patients/42``. A trailing ``/`` on ``resource`` is ignored.
    """
    what = "disclosures"
    _check_frame(frame, (), what)
    if not isinstance(resource, str) or not resource.strip():
        raise TypeError(
            f"resource must be a non-empty string such as '/patients/4', not {resource!r}"
        )
    base = resource.rstrip("/") if resource.strip("/") else resource
    if len(frame) == 0:
        return frame.iloc[0:0].copy()
    _check_frame(frame, ("timestamp", "event_type", *PROVENANCE), what)
    data = _is_type(frame, DATA_EVENTS).to_numpy()
    hit = np.zeros(len(frame), dtype=bool)
    if data.any():
        below = base if base.endswith("/") else base + "/"
        codes, names = pd.factorize(_resource_objects(frame, data).to_numpy(), use_na_sentinel=True)
        match = np.fromiter(
            (name == base or name.startswith(below) for name in names),
            dtype=bool,
            count=len(names),
        )
        hit[data] = np.append(match, False)[codes]  # a null resource (code -1) never matches
    out = _events(frame, hit)
    order = np.argsort(out["timestamp"].to_numpy(dtype="datetime64[us]"), kind="stable")
    return out.iloc[order]


def _today(now: object) -> date:
    """``retention``'s day of judgement: ``now`` as a UTC date, or today."""
    day = to_day(now, name="now")  # type: ignore[arg-type]  # to_day says what it takes
    return datetime.now(UTC).date() if day is None else day


def _midnight(day: date) -> pd.Timestamp:
    return pd.Timestamp(day.isoformat(), tz="UTC").as_unit("us")


#: The most days a ``retention`` row lists in ``days`` (its count, first and
#: last are always exact).
RETENTION_DAYS_LISTED = 1000


def retention(
    source: str | PathLike[str],
    *,
    keep_days: int = 365,
    online_days: int = 90,
    now: date | datetime | str | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """History kept against the retention policy (PCI DSS 10.5.1), from the trail's file names.

    ``source`` is the trail's directory (or one of its files: its directory
    is used); only the names of the daily files are read. One row per rule,
    in this order: ``oldest_day`` and ``newest_day`` (``info``);
    ``missing_days``, days between them with no file (``exceptions``: an
    always-on system writes every day, a missing day may be a deleted file);
    ``past_keep_days``, files older than ``keep_days`` before ``now``
    (``exceptions``: kept past the policy); ``offline_days``, days older than
    ``online_days`` that may move to offline storage (``info``). Columns:
    ``rule``, ``status`` (``pass``, ``exceptions``, ``info``), ``count``,
    ``first``, ``last`` (UTC midnights), ``days`` (a tuple of them, for the
    rules that list days), ``detail``.

    ``source`` may be a URL (``s3://bucket/prefix/``, ... with
    ``storage_options``), e.g. where :func:`~fapilog_notebook.ship_trail`
    keeps the trail. There one more row, ``object_lock``, reads back each day
    file's S3 Object Lock retention: ``pass`` when every day file is locked
    (compliance or governance mode) until after ``now``, ``exceptions``
    listing the days that are not, ``info`` for a store without Object Lock.
    """
    keep = _positive_int(keep_days, "keep_days")
    online = _positive_int(online_days, "online_days")
    if online > keep:
        raise ValueError(f"online_days={online} must not exceed keep_days={keep}")
    today = _today(now)
    if not isinstance(source, (str, PathLike)):
        raise TypeError(f"source must be the trail's directory, not {type(source).__name__}")
    locks: list[tuple[date, datetime | None, str | None]] | None = None
    if is_url(source):
        prefix = ObjectPath(str(source), storage_options)
        if day_of(prefix.name) is not None:
            prefix = prefix.parent
        try:
            entries = [
                (day, entry.path)
                for entry in list_entries(prefix)
                if (day := day_of(entry.name)) is not None and entry.is_file()
            ]
        except OSError as exc:
            raise ValueError(f"source {prefix.url!r} cannot be listed: {exc}") from None
        days = [day for day, _ in entries]
        locks = [(day, *_object_lock(path)) for day, path in entries]
    else:
        if storage_options:
            raise TypeError("storage_options apply to URLs (s3://, ...), not to a local path")
        path = Path(source)
        directory = path.parent if path.is_file() and day_of(path) is not None else path
        if not directory.is_dir():
            raise ValueError(f"source {str(path)!r} is not a directory of audit files")
        try:
            days = [day for day, _ in list_audit_files(directory)]
        except OSError as exc:
            raise ValueError(f"source {str(directory)!r} cannot be listed: {exc}") from None
    rows: list[dict[str, Any]] = []

    def add(
        rule: str,
        status: str,
        found: Sequence[date],
        detail: str,
        *,
        listed: bool,
        count: int | None = None,
        last: date | None = None,
    ) -> None:
        """One rule's row; ``found`` may be the first days only, with the full
        ``count`` and ``last`` given (a span of millions of days is not listed)."""
        total = len(found) if count is None else count
        final = last if last is not None else (found[-1] if found else None)
        shown = found[:RETENTION_DAYS_LISTED] if listed else []
        if listed and total > len(shown):
            detail += f" (the first {len(shown)} are listed in days)"
        rows.append(
            {
                "rule": rule,
                "status": status,
                "count": total,
                "first": _midnight(found[0]) if found else pd.NaT,
                "last": _midnight(final) if final is not None else pd.NaT,
                "days": tuple(_midnight(day) for day in shown),
                "detail": detail,
            }
        )

    if not days:
        add("oldest_day", "exceptions", [], "no audit files", listed=False)
        add("newest_day", "exceptions", [], "no audit files", listed=False)
    else:
        oldest, newest = days[0], days[-1]
        covered = (today - oldest).days + 1
        add(
            "oldest_day",
            "info",
            [oldest],
            f"history starts {oldest.isoformat()}: {covered} days to {today.isoformat()} "
            f"(policy: {keep})",
            listed=False,
        )
        add(
            "newest_day",
            "info",
            [newest],
            f"newest file {newest.isoformat()}, {(today - newest).days} days before "
            f"{today.isoformat()}",
            listed=False,
        )
    # Day numbers, not objects: two files named for years far apart (planted,
    # or a clock gone wrong) span millions of days.
    if days:
        span = np.arange(
            np.datetime64(days[0], "D"), np.datetime64(days[-1], "D") + 1, dtype="datetime64[D]"
        )
        gaps = np.flatnonzero(~np.isin(span, np.array(days, dtype="datetime64[D]")))
    else:
        span, gaps = np.array([], dtype="datetime64[D]"), np.array([], dtype=np.int64)
    absent = [span[i].astype(date) for i in gaps[:RETENTION_DAYS_LISTED]]
    add(
        "missing_days",
        "exceptions" if len(gaps) else "pass",
        absent,
        f"{len(gaps)} days between the oldest and newest file have no file",
        listed=True,
        count=len(gaps),
        last=span[gaps[-1]].astype(date) if len(gaps) else None,
    )
    limit = today - timedelta(days=keep)
    old = [day for day in days if day < limit]
    add(
        "past_keep_days",
        "exceptions" if old else "pass",
        old,
        f"{len(old)} files from before {limit.isoformat()} ({keep} days) are still kept",
        listed=True,
    )
    cold = today - timedelta(days=online)
    offline = [day for day in days if day < cold]
    add(
        "offline_days",
        "info",
        offline,
        f"{len(offline)} files from before {cold.isoformat()} ({online} days) may be kept offline",
        listed=True,
    )
    if locks is not None:
        _lock_row(add, locks, today)
    out = pd.DataFrame(rows)
    for name in ("first", "last"):
        out[name] = pd.to_datetime(out[name], utc=True).astype(_UTC_DTYPE)
    return out.astype({"rule": _TEXT, "status": _TEXT, "count": "int64", "detail": _TEXT})


def _object_lock(path: ObjectPath) -> tuple[datetime | None, str | None]:
    """The S3 Object Lock retention of one object: (retain until, mode), or Nones.

    :raises ValueError: the store cannot be asked, naming the URL.
    """
    fs, key = path.filesystem()
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    if not any(p in ("s3", "s3a") for p in protocols):
        return None, None
    bucket, name, _ = fs.split_path(key)
    try:
        head = fs.call_s3("head_object", Bucket=bucket, Key=name)
    except Exception as exc:
        raise ValueError(str(path.error(exc, "cannot read the retention of"))) from None
    until, mode = head.get("ObjectLockRetainUntilDate"), head.get("ObjectLockMode")
    return (until if isinstance(until, datetime) else None), (mode if mode else None)


def _lock_row(add: Any, locks: list[tuple[date, datetime | None, str | None]], today: date) -> None:
    """The ``object_lock`` row: which day files are under retention after ``today``."""
    if not locks:
        add("object_lock", "info", [], "no day files", listed=False)
        return
    horizon = datetime.combine(today, time(), tzinfo=UTC) + timedelta(days=1)
    unlocked = [day for day, until, _ in locks if until is None or until < horizon]
    locked = [(day, until, mode) for day, until, mode in locks if day not in unlocked]
    if unlocked:
        add(
            "object_lock",
            "exceptions",
            unlocked,
            f"{len(unlocked)} of {len(locks)} day files are not under Object Lock retention "
            f"after {today.isoformat()}: they can be deleted or overwritten",
            listed=True,
        )
        return
    earliest = min(until for _, until, _ in locked if until is not None)
    modes = ", ".join(sorted({mode or "?" for _, _, mode in locked}))
    add(
        "object_lock",
        "pass",
        [day for day, _, _ in locked],
        f"all {len(locked)} day files are under Object Lock ({modes}) until at least "
        f"{earliest.isoformat(timespec='seconds')}",
        listed=True,
    )


def pseudonymize(
    frame: pd.DataFrame,
    *,
    columns: Sequence[str] | str = ("user_id", "client_ip"),
    key: bytes,
) -> pd.DataFrame:
    """A copy of the frame with identities replaced by keyed hashes, to share outside the team.

    Each non-null value of ``columns`` becomes the first 32 hex digits of its
    HMAC-SHA256 under ``key`` (32+ bytes), so one key gives one pseudonym per
    identity across calls and frames (joins and counts still work) while
    nobody without the key can link a pseudonym to a person. Nulls stay null.
    The key is never stored in the result or its ``attrs``. Free text
    (``message``, ``metadata``) is not rewritten.
    """
    what = "pseudonymize"
    if key is None:
        raise TypeError("pseudonymize needs key= (bytes, at least 32): the secret of the hashes")
    secret = check_key_bytes(key)
    _check_frame(frame, (), what)
    names = _column_names(columns, "columns", frame)
    out = frame.copy()
    if len(frame) == 0:
        return out
    _check_frame(frame, names, what)
    for name in names:
        values = frame[name]
        codes, uniques = pd.factorize(_hashable(values.astype(object)), use_na_sentinel=True)
        hashed = np.array(
            [
                hmac.new(secret, str(value).encode("utf-8"), hashlib.sha256).hexdigest()[
                    :_PSEUDONYM_HEX
                ]
                for value in uniques
            ]
            + [None],
            dtype=object,
        )
        out[name] = pd.Series(
            hashed[codes],
            index=frame.index,
            dtype=values.dtype if isinstance(values.dtype, pd.StringDtype) else object,
        )
    out.attrs = {**frame.attrs, "pseudonymized": list(names)}
    return out
