"""Scheduling's pure rules, without a database."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from fitsync.scheduling import domain
from fitsync.scheduling.domain import Availability, Busy, DateException, WeeklyRule

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = date(2027, 3, 22)  # the week of the 2027 spring-forward (Sunday 28 March)


def hours(weekday: int, start: str, end: str) -> WeeklyRule:
    return WeeklyRule(weekday, time.fromisoformat(start), time.fromisoformat(end))


def test_weekly_rule_minus_break() -> None:
    availability = Availability(
        rules=(hours(1, "09:00", "17:00"),), breaks=(hours(1, "12:00", "13:00"),)
    )
    assert availability.intervals_on(MONDAY) == [
        (time(9), time(12)),
        (time(13), time(17)),
    ]
    assert availability.intervals_on(MONDAY + timedelta(days=1)) == []


def test_day_off_and_changed_hours_override_the_week() -> None:
    availability = Availability(
        rules=(hours(1, "09:00", "17:00"),),
        exceptions=(
            DateException(MONDAY, None, None, unavailable=True),
            DateException(MONDAY + timedelta(days=7), time(14), time(16), unavailable=False),
            DateException(MONDAY + timedelta(days=14), time(10), time(11), unavailable=True),
        ),
    )
    assert availability.intervals_on(MONDAY) == []
    assert availability.intervals_on(MONDAY + timedelta(days=7)) == [(time(14), time(16))]
    assert availability.intervals_on(MONDAY + timedelta(days=14)) == [
        (time(9), time(10)),
        (time(11), time(17)),
    ]


def test_overlapping_rules_merge() -> None:
    availability = Availability(rules=(hours(1, "09:00", "11:00"), hours(1, "10:00", "12:00")))
    assert availability.intervals_on(MONDAY) == [(time(9), time(12))]


def test_nine_o_clock_stays_local_across_spring_forward() -> None:
    availability = Availability(rules=(hours(5, "09:00", "10:00"), hours(1, "09:00", "10:00")))
    friday, monday = date(2027, 3, 26), date(2027, 3, 29)
    hour = timedelta(hours=1)
    assert domain.grid_on(availability, friday, hour, BERLIN) == [
        datetime(2027, 3, 26, 8, tzinfo=UTC)  # CET, UTC+1
    ]
    assert domain.grid_on(availability, monday, hour, BERLIN) == [
        datetime(2027, 3, 29, 7, tzinfo=UTC)  # CEST, UTC+2
    ]


def test_skipped_hour_has_no_slot_and_repeated_hour_is_real_time() -> None:
    night = Availability(rules=(hours(7, "01:00", "04:00"),), slot_minutes=30)
    half = timedelta(minutes=30)
    spring = domain.grid_on(night, date(2027, 3, 28), half, BERLIN)
    local = [s.astimezone(BERLIN).strftime("%H:%M") for s in spring]
    assert local == ["01:00", "01:30", "03:00", "03:30"]  # 02:00-03:00 does not exist
    autumn = domain.grid_on(night, date(2027, 10, 31), half, BERLIN)
    assert len(autumn) == len(set(autumn)) == 6


def test_free_slots_leave_room_for_buffers_and_the_past() -> None:
    availability = Availability(rules=(hours(1, "09:00", "13:00"),), slot_minutes=30)
    taken = Busy(
        datetime(2027, 3, 22, 9, 0, tzinfo=UTC),  # 10:00-11:00 Berlin + 15 min buffer
        datetime(2027, 3, 22, 10, 15, tzinfo=UTC),
    )
    slots = domain.free_slots(
        availability,
        tz=BERLIN,
        window_from=datetime(2027, 3, 22, tzinfo=UTC),
        window_to=datetime(2027, 3, 23, tzinfo=UTC),
        duration=timedelta(hours=1),
        buffer=timedelta(minutes=15),
        busy=[taken],
        now=datetime(2027, 3, 22, 7, 45, tzinfo=UTC),  # 08:45 Berlin
    )
    local = [s.astimezone(BERLIN).strftime("%H:%M") for s, _ in slots]
    # 09:00 would end at 10:00, inside the buffer before 10:00; 11:00 is inside the buffer after.
    assert local == ["11:30", "12:00"]


def test_weekly_recurrence_keeps_local_time_across_dst() -> None:
    starts = domain.expand_recurrence(
        "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=4",
        first=datetime(2027, 3, 22, 9, tzinfo=BERLIN),
        tz=BERLIN,
    )
    assert [s.astimezone(BERLIN).strftime("%a %H:%M") for s in starts] == [
        "Mon 09:00",
        "Wed 09:00",
        "Mon 09:00",
        "Wed 09:00",
    ]
    assert starts[0].utcoffset() == timedelta(0)
    assert starts[0].hour == 8
    assert starts[2].hour == 7


def test_until_in_utc_or_local() -> None:
    first = datetime(2027, 3, 22, 9, tzinfo=BERLIN)
    utc = domain.expand_recurrence("FREQ=WEEKLY;UNTIL=20270406T000000Z", first=first, tz=BERLIN)
    local = domain.expand_recurrence("RRULE:FREQ=WEEKLY;UNTIL=20270405", first=first, tz=BERLIN)
    assert len(utc) == 3
    assert len(local) == 2


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ("FREQ=SOMETIMES", "FREQ must be one of"),
        ("FREQ=WEEKLY;BYDAY=XX", "BYDAY"),
        ("BYDAY=MO", "FREQ is required"),
        ("FREQ=WEEKLY;COUNT", "NAME=VALUE"),
        ("FREQ=WEEKLY;COUNT=3;UNTIL=20270501", "must not both"),
        ("FREQ=HOURLY;COUNT=3", "FREQ must be one of"),
        ("FREQ=DAILY;COUNT=501", "more than 500"),
        ("FREQ=DAILY", "more than 500"),
        ("FREQ=WEEKLY\nDTSTART:20200101T000000", "single RRULE line"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "no occurrence"),
    ],
)
def test_bad_recurrence_says_why(rule: str, reason: str) -> None:
    with pytest.raises(domain.RecurrenceError, match=reason):
        domain.expand_recurrence(rule, first=datetime(2027, 3, 22, 9, tzinfo=BERLIN), tz=BERLIN)


def test_five_hundred_occurrences_are_allowed() -> None:
    starts = domain.expand_recurrence(
        "FREQ=DAILY;COUNT=500", first=datetime(2027, 3, 22, 9, tzinfo=BERLIN), tz=BERLIN
    )
    assert len(starts) == 500


def test_late_cancellation_is_inside_the_window() -> None:
    start = datetime(2027, 3, 22, 9, tzinfo=UTC)
    assert domain.is_late_cancellation(
        starts_at=start, now=start - timedelta(hours=11), window_hours=12
    )
    assert not domain.is_late_cancellation(
        starts_at=start, now=start - timedelta(hours=12), window_hours=12
    )


def test_reminders_due_only_ahead_of_now() -> None:
    start = datetime(2027, 3, 22, 9, tzinfo=UTC)
    assert [lead for lead, _ in domain.reminder_times(start, start - timedelta(days=2))] == [
        1440,
        120,
    ]
    assert [lead for lead, _ in domain.reminder_times(start, start - timedelta(hours=3))] == [120]
    assert domain.reminder_times(start, start - timedelta(hours=1)) == []
