"""Progress's pure rules, without a database."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from fitsync.progress import domain


def test_e1rm_epley_and_brzycki() -> None:
    assert domain.e1rm(100, 1) == 100
    assert domain.e1rm(100, 5) == pytest.approx(116.67, abs=0.01)
    assert domain.e1rm_brzycki(100, 5) == pytest.approx(112.5)
    assert domain.e1rm(100, 13) is None  # too many reps for a sound estimate
    assert domain.e1rm(None, 5) is None
    assert domain.e1rm(0, 5) is None


def test_measurements_convert_inches() -> None:
    assert domain.measurements_to_cm({"waist_in": 10, "neck_cm": 40}) == {
        "waist_cm": 25.4,
        "neck_cm": 40,
    }
    with pytest.raises(ValueError, match="twice"):
        domain.measurements_to_cm({"waist_in": 30, "waist_cm": 80})
    with pytest.raises(ValueError, match="_cm or _in"):
        domain.measurements_to_cm({"Waist": 80})


def test_karvonen_zones_and_trimp() -> None:
    profile = domain.HrProfile(max_hr=200, resting_hr=60)
    assert profile.zone_floors() == [130, 144, 158, 172, 186]
    times = [float(t) for t in range(601)]
    hrs: list[int | None] = [165] * 601
    zones = domain.hr_zone_seconds(times, hrs, profile)
    assert zones == [0, 0, 600, 0, 0]
    x = (165 - 60) / 140
    expected = 10 * x * 0.64 * 2.718281828 ** (1.92 * x)
    assert domain.trimp(times, hrs, profile) == pytest.approx(expected, abs=0.1)
    female = domain.HrProfile(max_hr=200, resting_hr=60, female=True)
    assert domain.trimp(times, hrs, female) != domain.trimp(times, hrs, profile)


def test_pauses_do_not_count_as_time_in_zones() -> None:
    profile = domain.HrProfile()
    zones = domain.hr_zone_seconds([0.0, 1.0, 500.0, 501.0], [170, 170, 170, 170], profile)
    assert sum(zones) == 2


def test_acwr_is_acute_over_chronic() -> None:
    start = date(2026, 1, 1)
    daily = {start + timedelta(days=i): 100.0 for i in range(28)}
    points = domain.training_load(daily, start + timedelta(days=27), start + timedelta(days=34))
    assert points[0].acwr == 1.0
    assert points[-1].load == 0
    assert points[-1].acwr == 0  # a week off: acute 0, chronic still high
    assert domain.training_load({}, start, start)[0].acwr is None


def test_normalised_power_of_steady_power_is_that_power() -> None:
    times = [float(t) for t in range(120)]
    assert domain.normalized_power(times, [200] * 120) == 200
    assert domain.normalized_power(times[:10], [200] * 10) is None


def test_cooper_and_bmi() -> None:
    assert domain.cooper_vo2max(2400) == pytest.approx(42.4, abs=0.05)
    assert domain.bmi(70, 175) == 22.9


def test_week_streak_counts_consecutive_iso_weeks() -> None:
    monday = date(2026, 1, 5)
    days = [monday, monday + timedelta(days=8), monday + timedelta(days=20)]
    assert domain.longest_week_streak(days) == 3
    assert domain.longest_week_streak([*days, monday + timedelta(days=35)]) == 3
    assert domain.longest_week_streak([*days, monday + timedelta(days=27)]) == 4


def test_moving_average_and_change() -> None:
    day = date(2026, 1, 1)
    points = [(day + timedelta(days=i), float(i)) for i in range(10)]
    assert domain.moving_average(points, 7)[-1] == pytest.approx(sum(range(3, 10)) / 7, abs=0.01)
    assert domain.change_over(points, 5) == 5
    assert domain.change_over(points, 30) is None


@pytest.mark.parametrize(("raw", "seconds"), [(None, 1), ("10s", 10), ("1m", 60)])
def test_every(raw: str | None, seconds: int) -> None:
    assert domain.parse_every(raw) == seconds


@pytest.mark.parametrize("raw", ["0s", "10", "1h", "abc"])
def test_bad_every(raw: str) -> None:
    with pytest.raises(ValueError, match="every"):
        domain.parse_every(raw)
