"""Progress's pure rules: units, strength formulas, heart-rate zones, training load, fitness
tests, trends and achievements. No I/O here; everything is unit-tested without a database.

Formulas, with their sources:

- Estimated one-rep max (e1RM). **Epley** (1985): ``w · (1 + r/30)``; **Brzycki** (1993):
  ``w · 36 / (37 - r)``. Both are given; Epley is the one shown as ``e1rm_kg``. A single
  is its own 1RM; sets of more than 12 reps get no estimate (both formulas drift).
- Heart-rate zones: **Karvonen** heart-rate reserve (HRR = max - resting), five zones at
  50/60/70/80/90 % of HRR above resting (below 50 % counts as "zone 0", not shown).
- **Banister TRIMP**: Σ minutes · x · 0.64 · e^(1.92 x), x = (HR - rest)/(max - rest);
  the women's constants 0.86 · e^(1.67 x) when the profile says so.
- Training load: the daily TRIMP sum; **ACWR** = acute (7-day mean) / chronic (28-day mean)
  of the daily load, "rolling averages" model (Gabbett 2016).
- **Normalised power** (Coggan): 30-s rolling mean of 1 Hz power, to the 4th power, mean,
  4th root.
- **Cooper** 12-minute run: VO2max = (d - 504.9) / 44.73 (ml/kg/min, d in metres).
- **BMI**: kg / m².
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

LB_IN_KG = 0.45359237
IN_IN_CM = 2.54
MILE_IN_M = 1609.344

E1RM_MAX_REPS = 12
ZONE_BOUNDS = (0.5, 0.6, 0.7, 0.8, 0.9)  # fractions of heart-rate reserve
DEFAULT_MAX_HR = 190
DEFAULT_RESTING_HR = 60
MAX_GAP_S = 10.0  # a longer gap between samples is a pause, not time spent in a zone


# ---------------------------------------------------------------- units


def lb_to_kg(value: float) -> float:
    return value * LB_IN_KG


def kg_to_lb(value: float) -> float:
    return value / LB_IN_KG


def in_to_cm(value: float) -> float:
    return value * IN_IN_CM


def cm_to_in(value: float) -> float:
    return value / IN_IN_CM


_MEASUREMENT_KEY = re.compile(r"^([a-z][a-z0-9_]{0,38}?)_(cm|in)$")


def measurements_to_cm(raw: dict[str, float]) -> dict[str, float]:
    """``{"waist_cm": 80, "hips_in": 40}`` → ``{"waist_cm": 80, "hips_cm": 101.6}``."""
    out: dict[str, float] = {}
    for key, value in raw.items():
        match = _MEASUREMENT_KEY.match(key)
        if not match:
            raise ValueError(f"measurement {key!r} must be a name ending in _cm or _in")
        if not (0 < value < 1000):
            raise ValueError(f"measurement {key!r} is out of range")
        name, unit = match.groups()
        if f"{name}_cm" in out:
            raise ValueError(f"measurement {name!r} is given twice")
        out[f"{name}_cm"] = round(in_to_cm(value) if unit == "in" else value, 2)
    return out


# ---------------------------------------------------------------- strength


def epley(load_kg: float, reps: int) -> float:
    return load_kg if reps == 1 else load_kg * (1 + reps / 30)


def brzycki(load_kg: float, reps: int) -> float:
    return load_kg * 36 / (37 - reps)


def e1rm(load_kg: float | None, reps: int) -> float | None:
    """The shown estimate (Epley), or None where no estimate is sound."""
    if load_kg is None or load_kg <= 0 or not 1 <= reps <= E1RM_MAX_REPS:
        return None
    return round(epley(load_kg, reps), 2)


def e1rm_brzycki(load_kg: float | None, reps: int) -> float | None:
    if load_kg is None or load_kg <= 0 or not 1 <= reps <= E1RM_MAX_REPS:
        return None
    return round(brzycki(load_kg, reps), 2)


def exercise_key(exercise_id: object | None, name: str | None) -> str:
    """What records are kept per: the library id, or the normalised name when unmatched."""
    if exercise_id is not None:
        return f"id:{exercise_id}"
    assert name, "an entry has an exercise id or a name"
    return "name:" + " ".join(name.lower().split())


# ---------------------------------------------------------------- heart rate and load


@dataclass(frozen=True)
class HrProfile:
    max_hr: int = DEFAULT_MAX_HR
    resting_hr: int = DEFAULT_RESTING_HR
    female: bool = False

    def reserve_fraction(self, hr: float) -> float:
        return (hr - self.resting_hr) / max(1, self.max_hr - self.resting_hr)

    def zone_floors(self) -> list[int]:
        """The lowest heart rate of zones 1-5."""
        reserve = self.max_hr - self.resting_hr
        return [round(self.resting_hr + f * reserve) for f in ZONE_BOUNDS]


def _intervals(times: Sequence[float]) -> Iterable[tuple[int, float]]:
    """(index of the sample, seconds it stands for): the time to the next sample, gaps capped."""
    for i in range(len(times) - 1):
        dt = times[i + 1] - times[i]
        if 0 < dt <= MAX_GAP_S:
            yield i, dt


def hr_zone_seconds(
    times: Sequence[float], hrs: Sequence[int | None], profile: HrProfile
) -> list[float]:
    """Seconds spent in zones 1-5."""
    floors = profile.zone_floors()
    zones = [0.0] * 5
    for i, dt in _intervals(times):
        hr = hrs[i]
        if hr is None:
            continue
        for z in range(4, -1, -1):
            if hr >= floors[z]:
                zones[z] += dt
                break
    return [round(z, 1) for z in zones]


def trimp(times: Sequence[float], hrs: Sequence[int | None], profile: HrProfile) -> float | None:
    """Banister's TRIMP over the samples with a heart rate (None when there are none)."""
    a, b = (0.86, 1.67) if profile.female else (0.64, 1.92)
    total, seen = 0.0, False
    for i, dt in _intervals(times):
        hr = hrs[i]
        if hr is None:
            continue
        seen = True
        x = min(max(profile.reserve_fraction(hr), 0.0), 1.0)
        total += dt / 60 * x * a * math.exp(b * x)
    return round(total, 1) if seen else None


def normalized_power(times: Sequence[float], powers: Sequence[int | None]) -> float | None:
    """Coggan's normalised power over a 1 Hz resampling (pauses count as zero)."""
    if not times or all(p is None for p in powers):
        return None
    start = times[0]
    seconds = int(times[-1] - start) + 1
    if seconds < 30:
        return None
    series = [0.0] * seconds
    for t, p in zip(times, powers, strict=True):
        if p is not None:
            series[int(t - start)] = float(p)
    window = 30
    rolling = sum(series[:window])
    fourth = (rolling / window) ** 4
    count = 1
    for i in range(window, seconds):
        rolling += series[i] - series[i - window]
        fourth += (rolling / window) ** 4
        count += 1
    result: float = (fourth / count) ** 0.25
    return round(result, 1)


@dataclass(frozen=True)
class LoadPoint:
    day: date
    load: float
    acute: float
    chronic: float
    acwr: float | None


def training_load(daily: dict[date, float], start: date, end: date) -> list[LoadPoint]:
    """Daily load with the 7-day acute and 28-day chronic means and their ratio."""
    out = []
    day = start
    while day <= end:
        acute = sum(daily.get(day - timedelta(days=i), 0.0) for i in range(7)) / 7
        chronic = sum(daily.get(day - timedelta(days=i), 0.0) for i in range(28)) / 28
        out.append(
            LoadPoint(
                day=day,
                load=round(daily.get(day, 0.0), 1),
                acute=round(acute, 1),
                chronic=round(chronic, 1),
                acwr=round(acute / chronic, 2) if chronic > 0 else None,
            )
        )
        day += timedelta(days=1)
    return out


# ---------------------------------------------------------------- fitness assessments


def cooper_vo2max(distance_m: float) -> float:
    """Cooper (1968): VO2max in ml/kg/min from the distance run in 12 minutes."""
    return round((distance_m - 504.9) / 44.73, 1)


def bmi(weight_kg: float, height_cm: float) -> float:
    return round(weight_kg / (height_cm / 100) ** 2, 1)


# ---------------------------------------------------------------- trends


def moving_average(points: Sequence[tuple[date, float]], days: int = 7) -> list[float]:
    """For each point, the mean of the points within the ``days`` days ending on it."""
    out = []
    lo = 0
    total = 0.0
    for hi, (day, value) in enumerate(points):
        total += value
        while points[lo][0] <= day - timedelta(days=days):
            total -= points[lo][1]
            lo += 1
        out.append(round(total / (hi - lo + 1), 2))
    return out


def change_over(points: Sequence[tuple[date, float]], days: int) -> float | None:
    """Latest value minus the value at (or just before) ``days`` days earlier."""
    if not points:
        return None
    last_day, last = points[-1]
    cutoff = last_day - timedelta(days=days)
    before = [v for d, v in points if d <= cutoff]
    if not before:
        return None
    return round(last - before[-1], 2)


# ---------------------------------------------------------------- achievements

WORKOUT_MILESTONES = {1: "first_workout", 10: "workouts_10", 50: "workouts_50", 100: "workouts_100"}
STREAK_WEEKS = 4
STREAK_CODE = "streak_4_weeks"


def milestone_for(count: int) -> str | None:
    return WORKOUT_MILESTONES.get(count)


def longest_week_streak(days: Iterable[date]) -> int:
    """The longest run of consecutive ISO weeks with at least one workout."""
    mondays = sorted({d - timedelta(days=d.weekday()) for d in days})
    best = run = 0
    previous: date | None = None
    for monday in mondays:
        run = run + 1 if previous and monday - previous == timedelta(days=7) else 1
        best = max(best, run)
        previous = monday
    return best


def pr_code(key: str, reps: int, load_kg: float) -> str:
    return f"pr:{key}:{reps}x{load_kg:g}"


# ---------------------------------------------------------------- samples query

_EVERY = re.compile(r"^(\d{1,5})(s|m)$")
SAMPLE_FIELDS = ("hr", "power", "cadence", "speed", "lat", "lon", "alt", "distance")


def parse_every(raw: str | None) -> int:
    """``"10s"``/``"1m"`` → seconds (1 when absent)."""
    if raw is None:
        return 1
    match = _EVERY.match(raw.strip())
    if not match:
        raise ValueError("every must look like '10s' or '1m'")
    seconds = int(match.group(1)) * (60 if match.group(2) == "m" else 1)
    if not 1 <= seconds <= 86_400:
        raise ValueError("every must be between 1s and 1440m")
    return seconds


def parse_fields(raw: str | None) -> tuple[str, ...]:
    if raw is None or not raw.strip():
        return SAMPLE_FIELDS
    fields = tuple(dict.fromkeys(f.strip() for f in raw.split(",") if f.strip()))
    unknown = [f for f in fields if f not in SAMPLE_FIELDS]
    if unknown:
        raise ValueError(f"unknown fields {', '.join(unknown)}; known: {', '.join(SAMPLE_FIELDS)}")
    return fields
