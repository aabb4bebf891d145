"""Scheduling's pure rules: availability, slot grids, recurrence, late cancellation.

No I/O here. Times a trainer publishes are wall-clock times of the gym's time zone;
everything that leaves this module is an aware UTC datetime. A 09:00 rule is 09:00
local on both sides of a daylight-saving change; a wall-clock time that does not
exist on a given day (the hour skipped in spring) yields no slot.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

MAX_OCCURRENCES = 500
MAX_SLOT_WINDOW = timedelta(days=62)
DEFAULT_SLOT_MINUTES = 30
DEFAULT_DURATIONS = (30, 45, 60, 90)
REMINDER_LEADS = (timedelta(hours=24), timedelta(hours=2))
ALLOWED_FREQS = frozenset({"DAILY", "WEEKLY", "MONTHLY", "YEARLY"})

Interval = tuple[time, time]


@dataclass(frozen=True)
class WeeklyRule:
    weekday: int  # ISO 8601: 1 = Monday … 7 = Sunday
    start: time
    end: time


@dataclass(frozen=True)
class DateException:
    on: date
    start: time | None
    end: time | None
    unavailable: bool


@dataclass(frozen=True)
class Availability:
    """A trainer's published hours, as wall-clock times of the gym's time zone."""

    rules: tuple[WeeklyRule, ...] = ()
    exceptions: tuple[DateException, ...] = ()
    breaks: tuple[WeeklyRule, ...] = ()
    slot_minutes: int = DEFAULT_SLOT_MINUTES
    durations: tuple[int, ...] = DEFAULT_DURATIONS

    def intervals_on(self, day: date) -> list[Interval]:
        """The open hours of ``day``: rules (or that day's changed hours) minus breaks and
        unavailable windows, merged and sorted."""
        todays = [e for e in self.exceptions if e.on == day]
        if any(e.unavailable and e.start is None for e in todays):
            return []
        changed = [(e.start, e.end) for e in todays if not e.unavailable]
        if changed:
            open_hours = [(s, t) for s, t in changed if s is not None and t is not None]
        else:
            weekday = day.isoweekday()
            open_hours = [(r.start, r.end) for r in self.rules if r.weekday == weekday]
        closed = [(b.start, b.end) for b in self.breaks if b.weekday == day.isoweekday()]
        closed += [
            (e.start, e.end)
            for e in todays
            if e.unavailable and e.start is not None and e.end is not None
        ]
        return subtract(merge(open_hours), merge(closed))


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def subtract(base: list[Interval], holes: list[Interval]) -> list[Interval]:
    """``base`` minus ``holes`` (both merged and sorted)."""
    result = []
    for start, end in base:
        cursor = start
        for h_start, h_end in holes:
            if h_end <= cursor or h_start >= end:
                continue
            if h_start > cursor:
                result.append((cursor, h_start))
            cursor = max(cursor, h_end)
        if cursor < end:
            result.append((cursor, end))
    return result


def localize(day: date, at: time, tz: ZoneInfo) -> datetime | None:
    """``day at`` on the wall clock of ``tz`` in UTC; None when that time does not exist."""
    local = datetime.combine(day, at, tzinfo=tz)
    utc = local.astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None):
        return None  # skipped by a daylight-saving change
    return utc


def _steady_offset(day: date, tz: ZoneInfo) -> timedelta | None:
    """The UTC offset of ``tz`` all through ``day``, or None when it changes that day."""
    first = datetime.combine(day, time(0), tzinfo=tz).utcoffset()
    last = datetime.combine(day, time(23, 59), tzinfo=tz).utcoffset()
    if first is None or first != last:
        return None
    noon = datetime.combine(day, time(12), tzinfo=tz).utcoffset()
    return first if noon == first else None


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def grid_on(
    availability: Availability, day: date, duration: timedelta, tz: ZoneInfo
) -> list[datetime]:
    """Every start on ``day`` (UTC) where a session of ``duration`` fits the open hours.

    Starts step from the beginning of each open interval by ``slot_minutes`` of wall
    clock; a session fits when it ends (in real time) by the interval's end.
    """
    step = availability.slot_minutes
    starts: list[datetime] = []
    intervals = availability.intervals_on(day)
    if not intervals:
        return starts
    midnight = datetime.combine(day, time(0))
    offset = _steady_offset(day, tz)
    for open_from, open_to in intervals:
        minute, stop = _minutes(open_from), _minutes(open_to)
        if offset is not None:  # no DST change that day: plain arithmetic
            end = (midnight + timedelta(minutes=stop) - offset).replace(tzinfo=UTC)
            while minute < stop:
                start = (midnight + timedelta(minutes=minute) - offset).replace(tzinfo=UTC)
                if start + duration > end:
                    break
                starts.append(start)
                minute += step
            continue
        end = datetime.combine(day, open_to, tzinfo=tz).astimezone(UTC)
        while minute < stop:
            maybe = localize(day, time(minute // 60, minute % 60), tz)
            minute += step
            if maybe is None:
                continue
            if maybe + duration > end:
                break
            starts.append(maybe)
    return starts


@dataclass(frozen=True)
class Busy:
    """Time a trainer already has taken: ``[starts_at, busy_until)`` (buffer included)."""

    starts_at: datetime
    busy_until: datetime


@dataclass
class BusyIndex:
    """Answers "does ``[start, end + buffer)`` collide with a taken session?" in O(log n)."""

    busy: Sequence[Busy]
    _starts: list[datetime] = field(init=False)
    _max_until: list[datetime] = field(init=False)

    def __post_init__(self) -> None:
        ordered = sorted(self.busy, key=lambda b: b.starts_at)
        self._starts = [b.starts_at for b in ordered]
        self._max_until = list(itertools.accumulate((b.busy_until for b in ordered), max))

    def collides(self, start: datetime, end: datetime, buffer: timedelta) -> bool:
        # The same rule as the exclusion constraint: ranges [s, e + buffer) overlap.
        last = bisect.bisect_left(self._starts, end + buffer) - 1
        return last >= 0 and self._max_until[last] > start


def free_slots(
    availability: Availability,
    *,
    tz: ZoneInfo,
    window_from: datetime,
    window_to: datetime,
    duration: timedelta,
    buffer: timedelta,
    busy: Sequence[Busy],
    now: datetime,
) -> list[tuple[datetime, datetime]]:
    """Bookable ``(starts_at, ends_at)`` in the window: on the grid, free, in the future."""
    index = BusyIndex(busy)
    first_day = window_from.astimezone(tz).date() - timedelta(days=1)
    last_day = window_to.astimezone(tz).date()
    earliest = max(window_from, now)
    slots = []
    day = first_day
    while day <= last_day:
        for start in grid_on(availability, day, duration, tz):
            end = start + duration
            if start < earliest or end > window_to:
                continue
            if not index.collides(start, end, buffer):
                slots.append((start, end))
        day += timedelta(days=1)
    return slots


def on_grid(availability: Availability, start: datetime, duration: timedelta, tz: ZoneInfo) -> bool:
    """Whether a session of ``duration`` may start at ``start`` by the trainer's hours."""
    day = start.astimezone(tz).date()
    return start.astimezone(UTC) in set(grid_on(availability, day, duration, tz))


class RecurrenceError(ValueError):
    """A recurrence rule that is malformed or generates too much."""


_RRULE_LINE = re.compile(r"^(RRULE:)?[A-Z0-9=;,+\-:]+$", re.IGNORECASE)


def expand_recurrence(rule: str, *, first: datetime, tz: ZoneInfo) -> list[datetime]:
    """The UTC starts of an RFC 5545 RRULE whose first occurrence is ``first``.

    Occurrences keep the wall-clock time of ``first`` in ``tz`` across DST changes.
    Raises :class:`RecurrenceError` with the reason for a malformed rule, a
    frequency below daily, no occurrence at all, or more than ``MAX_OCCURRENCES``.
    """
    text = rule.strip()
    if not text or "\n" in text or not _RRULE_LINE.match(text):
        raise RecurrenceError("must be a single RRULE line such as 'FREQ=WEEKLY;BYDAY=MO;COUNT=10'")
    body = text[6:] if text.upper().startswith("RRULE:") else text
    parts: dict[str, str] = {}
    for part in body.split(";"):
        name, sep, value = part.partition("=")
        if not sep or not value:
            raise RecurrenceError(f"malformed part {part!r}: expected NAME=VALUE")
        if name.upper() in parts:
            raise RecurrenceError(f"{name.upper()} appears more than once")
        parts[name.upper()] = value.upper()
    freq = parts.get("FREQ")
    if freq is None:
        raise RecurrenceError("FREQ is required")
    if freq not in ALLOWED_FREQS:
        raise RecurrenceError(f"FREQ must be one of {', '.join(sorted(ALLOWED_FREQS))}")
    if "COUNT" in parts and "UNTIL" in parts:
        raise RecurrenceError("COUNT and UNTIL must not both appear (RFC 5545)")
    local_first = first.astimezone(tz)
    # dateutil wants a UTC UNTIL with an aware start and a local one with a naive start.
    aware = parts.get("UNTIL", "").endswith("Z")
    start = local_first if aware else local_first.replace(tzinfo=None)
    try:
        occurrences = list(itertools.islice(rrulestr(body, dtstart=start), MAX_OCCURRENCES + 1))
    except (ValueError, TypeError, OverflowError) as exc:
        raise RecurrenceError(str(exc) or "malformed RRULE") from None
    if len(occurrences) > MAX_OCCURRENCES:
        raise RecurrenceError(f"the rule generates more than {MAX_OCCURRENCES} occurrences")
    if not occurrences:
        raise RecurrenceError("the rule generates no occurrence")
    starts = []
    for occurrence in occurrences:
        utc = localize(occurrence.date(), occurrence.time(), tz)
        if utc is None:  # the wall-clock time is skipped that day: take the hour after
            utc = datetime.combine(occurrence.date(), occurrence.time(), tzinfo=tz).astimezone(UTC)
        starts.append(utc)
    return starts


def is_late_cancellation(*, starts_at: datetime, now: datetime, window_hours: int) -> bool:
    """Cancelling less than the gym's window before the start is late (billable)."""
    return starts_at - now < timedelta(hours=window_hours)


def reminder_times(starts_at: datetime, now: datetime) -> list[tuple[int, datetime]]:
    """``(lead_minutes, due_at)`` of each reminder still ahead of ``now``."""
    due = []
    for lead in REMINDER_LEADS:
        at = starts_at - lead
        if at > now:
            due.append((int(lead.total_seconds() // 60), at))
    return due
