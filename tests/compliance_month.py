"""A month of realistic audit traffic with planted compliance findings, and their ground truth.

``write_month(directory)`` writes March 2026 of a small clinic's trail with
``AuditTrail`` (``clock=`` gives each event its time) and returns a
:class:`Month`: every event written (with its sequence number) and, in
``expected``, exactly what each analysis must find.

The background is what a clean month looks like:

- twenty staff users, each with one or two fixed IPs used from the first
  weekdays on, read and change patient (PHI) and billing (PII) records on
  weekdays within 08:00-18:00 New York time, including the first and last
  business hour on both sides of the DST change of 8 March (a fixed UTC
  offset gets those wrong);
- now and then a mistyped password (one or two failures);
- a monitor's ``compliance_check`` every 20 minutes, around the clock, by
  ``svc-monitor`` (no IP): the trail is never silent for long;
- an admin's weekly ``config_changed``, a ``plugin_loaded``, two
  ``data_deletion`` and a ``retention_policy_applied``;
- reads of ``/patients/4`` and ``/patients/4/notes`` beside
  ``/patients/42``, ``/patients/42/labs`` and ``/patients/4xx``, whose ids
  start with the same characters.

Planted (``planted=True``): a password-guessing burst against one user from
a new IP, credential stuffing from one IP across forty users, a 03:00 access
on the Monday after the DST change, a bulk read of 300 records within one
hour, a known user from a new IP, a six-hour silence, and events by a user
after the termination date in the roster.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from fapilog_notebook import AuditTrail

TZ = "America/New_York"
ZONE = ZoneInfo(TZ)
FIRST_DAY = date(2026, 3, 1)
LAST_DAY = date(2026, 3, 31)
STAFF = (
    "alice",
    "bob",
    "carol",
    "dave",
    "erin",
    "frank",
    "gina",
    "hank",
    "ivan",
    "judy",
    "kim",
    "leo",
    "mona",
    "nick",
    "olga",
    "pete",
    "quinn",
    "rosa",
    "sam",
    "tom",
)
ADMIN = "alice"
MONITOR = "svc-monitor"
#: Termination dates of the roster (a date means 00:00 UTC); bob has none (active).
TERMINATED = {"tom": "2026-03-20", "sam": "2026-04-01"}
#: Planted identities and moments.
GUESSED_USER, GUESSING_IP = "erin", "192.0.2.66"
GUESSING_START = datetime(2026, 3, 17, 14, 0, tzinfo=UTC)  # 10:00 New York
STUFFING_IP = "198.51.100.23"
STUFFING_START = datetime(2026, 3, 18, 15, 0, tzinfo=UTC)  # 11:00 New York
NIGHT_USER = "kim"
NIGHT_ACCESS = datetime(2026, 3, 9, 3, 0, tzinfo=ZONE).astimezone(UTC)  # a Monday, EDT
BULK_USER = "gina"
BULK_START = datetime(2026, 3, 19, 14, 5, tzinfo=UTC)  # 10:05 New York
NEW_IP_USER, NEW_IP = "dave", "203.0.113.77"
NEW_IP_START = datetime(2026, 3, 24, 15, 10, tzinfo=UTC)
SILENCE_START = datetime(2026, 3, 26, 2, 0, tzinfo=UTC)
SILENCE_END = datetime(2026, 3, 26, 8, 0, tzinfo=UTC)
LATE_USER = "tom"
LATE_START = datetime(2026, 3, 23, 14, 30, tzinfo=UTC)
RECORD = "/patients/4"
#: ``first_seen``'s default baseline: the planted new combinations all come after it.
BASELINE = timedelta(days=14)
#: Planted windows: no background log-in failure falls within an hour of them.
_QUIET = (GUESSING_START, STUFFING_START)


@dataclass
class Event:
    """One event as written: its time, type, fields and the pattern it belongs to."""

    timestamp: datetime
    event_type: str
    user_id: str | None
    client_ip: str | None = None
    resource: str | None = None
    contains_phi: bool = False
    contains_pii: bool = False
    pattern: str = "background"
    sequence_number: int = 0


@dataclass
class Month:
    """What ``write_month`` wrote and what each analysis must find in it."""

    directory: Path
    events: list[Event]
    roster: pd.DataFrame
    expected: dict[str, Any] = field(default_factory=dict)
    tz: str = TZ

    def sequences(self, pattern: str) -> set[int]:
        """Sequence numbers of the events of one pattern."""
        return {e.sequence_number for e in self.events if e.pattern == pattern}


def staff_ips(user: str) -> tuple[str, ...]:
    """A user's fixed IPs: an office address, and for every other user a VPN one."""
    n = STAFF.index(user) + 1
    return (f"10.0.1.{n}",) if n % 2 else (f"10.0.1.{n}", f"10.8.0.{n}")


def _local(day: date, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute, second), ZONE).astimezone(UTC)


def _weekdays() -> list[date]:
    days = [FIRST_DAY + timedelta(days=n) for n in range((LAST_DAY - FIRST_DAY).days + 1)]
    return [d for d in days if d.weekday() < 5]


def _data_event(rng: random.Random, when: datetime, user: str, ip: str) -> Event:
    roll = rng.random()
    kind = "data_access" if roll < 0.85 else "data_modification" if roll < 0.97 else "data_export"
    if rng.random() < 0.8:
        resource = f"/patients/{rng.randint(100, 599)}" + rng.choice(("", "", "/notes", "/labs"))
        return Event(when, kind, user, ip, resource, contains_phi=True)
    return Event(when, kind, user, ip, f"/billing/{rng.randint(1000, 1999)}", contains_pii=True)


def _background(rng: random.Random) -> list[Event]:
    events: list[Event] = []
    tick = datetime.combine(FIRST_DAY, time(0), UTC)
    end = datetime.combine(LAST_DAY + timedelta(days=1), time(0), UTC)
    while tick < end:
        events.append(Event(tick, "compliance_check", MONITOR))
        tick += timedelta(minutes=20)
    weekdays = _weekdays()
    for number, day in enumerate(weekdays):
        for user in STAFF:
            if user == "tom" and day >= date(2026, 3, 20):
                continue
            ips = staff_ips(user)
            for _ in range(rng.randint(5, 9)):
                minute = rng.randrange(8 * 60, 18 * 60)
                when = _local(day, minute // 60, minute % 60, rng.randrange(60))
                events.append(_data_event(rng, when, user, rng.choice(ips)))
            if number == 0:  # every user's IPs are known from the first weekday
                for index, ip in enumerate(ips):
                    events.append(_data_event(rng, _local(day, 9, 10 + index), user, ip))
            if rng.random() < 0.3:
                when = _local(day, rng.randrange(8, 17), rng.randrange(60))
                if all(abs(when - quiet) > timedelta(hours=1) for quiet in _QUIET):
                    for n in range(rng.randint(1, 2)):
                        when_n = when + timedelta(seconds=20 * n)
                        events.append(Event(when_n, "authentication_failed", user, ips[0]))
        # The first and last business hour: wrong by an hour under a fixed offset.
        events.append(_data_event(rng, _local(day, 8, rng.randrange(60)), "bob", "10.0.1.2"))
        events.append(_data_event(rng, _local(day, 17, rng.randrange(60)), "carol", "10.0.1.3"))
        if day.weekday() == 0:
            events.append(Event(_local(day, 10, 0), "config_changed", ADMIN, staff_ips(ADMIN)[0]))
    admin_ip = staff_ips(ADMIN)[0]
    events += [
        Event(_local(date(2026, 3, 2), 9, 30), "retention_policy_applied", "svc-retention"),
        Event(_local(date(2026, 3, 4), 11, 0), "plugin_loaded", ADMIN, admin_ip),
        Event(_local(date(2026, 3, 12), 15, 0), "data_deletion", ADMIN, admin_ip, "/billing/1500"),
        Event(_local(date(2026, 3, 27), 15, 0), "data_deletion", ADMIN, admin_ip, "/patients/550"),
    ]
    for day, user, resource in (
        (date(2026, 3, 3), "judy", RECORD),
        (date(2026, 3, 3), "judy", "/patients/42"),
        (date(2026, 3, 11), "leo", "/patients/4/notes"),
        (date(2026, 3, 11), "leo", "/patients/42/labs"),
        (date(2026, 3, 17), "mona", "/patients/420"),
        (date(2026, 3, 25), "judy", RECORD),
        (date(2026, 3, 30), "nick", "/patients/4/labs"),
        (date(2026, 3, 30), "nick", "/patients/4"),
    ):
        when = _local(day, 13, rng.randrange(60))
        events.append(
            Event(when, "data_access", user, staff_ips(user)[0], resource, contains_phi=True)
        )
    return events


def _planted(rng: random.Random) -> list[Event]:
    events: list[Event] = []
    for n in range(30):
        events.append(
            Event(
                GUESSING_START + timedelta(seconds=20 * n),
                "authentication_failed",
                GUESSED_USER,
                GUESSING_IP,
                pattern="guessing",
            )
        )
    victims = [*STAFF[:12], *(f"user{n:03d}" for n in range(28))]
    for n, user in enumerate(victims):
        when = STUFFING_START + timedelta(seconds=15 * n)
        events.append(Event(when, "authentication_failed", user, STUFFING_IP, pattern="stuffing"))
    events.append(
        Event(
            NIGHT_ACCESS,
            "data_access",
            NIGHT_USER,
            staff_ips(NIGHT_USER)[0],
            "/patients/321",
            contains_phi=True,
            pattern="night",
        )
    )
    for n in range(300):
        events.append(
            Event(
                BULK_START + timedelta(seconds=8 * n),
                "data_access",
                BULK_USER,
                staff_ips(BULK_USER)[0],
                f"/patients/{1000 + n}",
                contains_phi=True,
                pattern="bulk",
            )
        )
    for n in range(3):
        when = NEW_IP_START + timedelta(minutes=4 * n)
        events.append(
            Event(
                when,
                "data_access",
                NEW_IP_USER,
                NEW_IP,
                f"/patients/{rng.randint(100, 599)}",
                contains_phi=True,
                pattern="new_ip",
            )
        )
    for n in range(4):
        when = LATE_START + timedelta(minutes=7 * n)
        events.append(
            Event(
                when,
                "data_access" if n < 3 else "data_export",
                LATE_USER,
                staff_ips(LATE_USER)[0],
                f"/billing/{rng.randint(1000, 1999)}",
                contains_pii=True,
                pattern="terminated",
            )
        )
    return events


def roster() -> pd.DataFrame:
    """The HR roster: two terminations (one after the month) and an active user."""
    return pd.DataFrame(
        {
            "user_id": [*TERMINATED, "bob"],
            "terminated_at": [*TERMINATED.values(), ""],
        }
    )


async def _write(directory: Path, events: list[Event]) -> None:
    now = [events[0].timestamp]
    async with AuditTrail(storage_path=directory, clock=lambda: now[0]) as trail:
        for event in events:
            now[0] = event.timestamp
            extra: dict[str, Any] = {}
            if event.resource is not None:
                extra["resource"] = event.resource
            await trail.log_event(
                event.event_type,
                f"{event.event_type} by {event.user_id}",
                user_id=event.user_id,
                client_ip=event.client_ip,
                contains_phi=event.contains_phi,
                contains_pii=event.contains_pii,
                **extra,
            )


def write_events(directory: Path | str, events: list[Event]) -> None:
    """Write ``events`` (in time order) to ``directory`` with a trail, each at its time."""
    asyncio.run(_write(Path(directory), events))


def write_month(directory: Path | str, *, planted: bool = True, seed: int = 13) -> Month:
    """Write the month to ``directory`` (new or empty) and return it with its ground truth."""
    rng = random.Random(seed)
    events = _background(rng)
    if planted:
        events += _planted(rng)
        events = [
            e
            for e in events
            if not (
                e.event_type == "compliance_check" and SILENCE_START < e.timestamp < SILENCE_END
            )
        ]
    events.sort(key=lambda e: e.timestamp)
    for number, event in enumerate(events, 1):
        event.sequence_number = number
    target = Path(directory)
    asyncio.run(_write(target, events))
    month = Month(target, events, roster())
    month.expected = _expected(month, planted)
    return month


def _seq_at(events: list[Event], when: datetime) -> int:
    return next(e.sequence_number for e in events if e.timestamp == when)


def _expected(month: Month, planted: bool) -> dict[str, Any]:
    """Exactly what each analysis must find, from the planted patterns alone."""
    events = month.events
    seqs = month.sequences
    expected: dict[str, Any] = {
        "privileged_actions": {
            e.sequence_number
            for e in events
            if e.event_type
            in ("config_changed", "data_deletion", "retention_policy_applied", "plugin_loaded")
        },
        "disclosures": [
            e.sequence_number
            for e in events
            if e.resource in (RECORD, RECORD + "/notes", RECORD + "/labs")
        ],
    }
    if not planted:
        expected.update(
            failed_logins_by_user=set(),
            failed_logins_by_ip=set(),
            off_hours={},
            bulk_access=set(),
            first_seen=set(),
            silences=set(),
            after_termination=set(),
        )
        return expected
    guessing = sorted(seqs("guessing"))
    stuffing = sorted(seqs("stuffing"))
    bulk_hour = BULK_START.replace(minute=0, second=0)
    in_bulk_hour = [
        e
        for e in events
        if e.user_id == BULK_USER
        and e.event_type.startswith("data_")
        and bulk_hour <= e.timestamp < bulk_hour + timedelta(hours=1)
    ]
    first_seen: set[tuple[str, str, int]] = set()
    cutoff = events[0].timestamp + BASELINE
    for pattern, ip in (("guessing", GUESSING_IP), ("stuffing", STUFFING_IP), ("new_ip", NEW_IP)):
        for e in events:
            if e.pattern == pattern and e.client_ip == ip and e.timestamp >= cutoff:
                key = (e.user_id or "", ip)
                if not any(k[:2] == key for k in first_seen):
                    first_seen.add((*key, e.sequence_number))
    expected.update(
        failed_logins_by_user={(GUESSED_USER, guessing[0], guessing[-1], len(guessing))},
        failed_logins_by_ip={
            (GUESSING_IP, guessing[0], guessing[-1], len(guessing)),
            (STUFFING_IP, stuffing[0], stuffing[-1], len(stuffing)),
        },
        stuffing_users=len(stuffing),
        off_hours={next(iter(seqs("night"))): "before_hours"},
        bulk_access={
            (
                BULK_USER,
                pd.Timestamp(bulk_hour),
                len(in_bulk_hour),
                min(e.sequence_number for e in in_bulk_hour),
            )
        },
        first_seen=first_seen,
        silences={(_seq_at(events, SILENCE_START), _seq_at(events, SILENCE_END))},
        after_termination=seqs("terminated"),
    )
    return expected
