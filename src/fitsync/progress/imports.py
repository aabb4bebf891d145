"""Reading workout history exported by the Strong and Hevy apps (CSV).

Recognised layouts (by their header line):

- ``strong``: ``Date;Workout Name;Exercise Name;Set Order;Weight;Weight Unit;Reps;RPE;
  Distance;Distance Unit;Seconds;Notes;Workout Notes;Workout Duration`` (``;`` or ``,``).
- ``strong_legacy``: ``Date,Workout Name,Duration,Exercise Name,Set Order,Weight,Reps,
  Distance,Seconds,Notes,Workout Notes,RPE`` — no unit columns: the caller says which.
- ``hevy``: ``title,start_time,end_time,description,exercise_title,superset_id,
  exercise_notes,set_index,set_type,weight_kg|weight_lbs,reps,distance_km|distance_miles,
  duration_seconds,rpe``.

Times in these files are wall-clock times without an offset; they are read in the gym's
time zone. A workout is identified by (app family, start time, title): importing the same
export again, or the same workouts from another export of the same app, adds nothing.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from fitsync.progress import domain
from fitsync.progress.schemas import WorkoutLogIn

CsvFormat = Literal["strong", "strong_legacy", "hevy"]
MAX_ROWS = 100_000


class BadCsv(ValueError):
    pass


@dataclass
class ImportedWorkout:
    key: str
    body: WorkoutLogIn


@dataclass
class _Draft:
    performed_at: datetime
    title: str
    duration_s: int | None
    notes: str | None
    entries: list[dict[str, Any]] = field(default_factory=list)


def _norm(header: str) -> str:
    return header.strip().strip('"').lower()


def detect(header_line: str) -> tuple[CsvFormat, str]:
    """The layout and the delimiter, from the first line."""
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    names = [_norm(h) for h in next(csv.reader([header_line], delimiter=delimiter))]
    if "exercise_title" in names and "start_time" in names:
        return "hevy", delimiter
    if "exercise name" in names and "set order" in names:
        return ("strong" if "weight unit" in names else "strong_legacy"), delimiter
    raise BadCsv("unrecognised CSV: expected a Strong or Hevy export (see the header line)")


def _number(value: str | None, where: str) -> float | None:
    if value is None:
        return None
    value = value.strip().strip('"')
    if not value:
        return None
    try:
        return float(value.replace(",", "."))
    except ValueError:
        raise BadCsv(f"{where}: {value!r} is not a number") from None


_DURATION = re.compile(r"^(?:(\d+)h)?\s*(?:(\d+)m(?:in)?)?\s*(?:(\d+)s)?$")


def _duration(text: str | None) -> int | None:
    if not text or not text.strip():
        return None
    match = _DURATION.match(text.strip())
    if not match or not any(match.groups()):
        return None
    h, m, s = (int(g) if g else 0 for g in match.groups())
    return h * 3600 + m * 60 + s


def _strong_time(text: str, tz: ZoneInfo, where: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadCsv(f"{where}: {text!r} is not a date and time") from None
    return value if value.tzinfo else value.replace(tzinfo=tz)


def _hevy_time(text: str, tz: ZoneInfo, where: str) -> datetime:
    for pattern in ("%d %b %Y, %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(text.strip(), pattern).replace(tzinfo=tz)
        except ValueError:
            continue
    raise BadCsv(f"{where}: {text!r} is not a date and time")


def read(
    data: bytes,
    *,
    tz: ZoneInfo,
    weight_unit: Literal["kg", "lb"] = "kg",
    distance_unit: Literal["km", "mi"] = "km",
) -> tuple[CsvFormat, list[ImportedWorkout], set[str]]:
    """Workouts in the export (in file order) and the exercise names it uses."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadCsv("the CSV is not UTF-8 text") from None
    first = text.split("\n", 1)[0]
    fmt, delimiter = detect(first)
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    reader.fieldnames = [_norm(f) for f in reader.fieldnames or []]
    drafts: dict[str, _Draft] = {}
    names: set[str] = set()
    for line, row in enumerate(_rows(reader), start=2):
        where = f"line {line}"
        key, draft, exercise, set_ = _row(fmt, row, tz, where, weight_unit, distance_unit)
        if set_ is None:
            continue
        names.add(exercise)
        current = drafts.setdefault(key, draft)
        if not current.entries or current.entries[-1]["exercise_name"] != exercise:
            current.entries.append({"exercise_name": exercise, "sets": []})
        current.entries[-1]["sets"].append(set_)
    workouts = []
    for key, draft in drafts.items():
        try:
            body = WorkoutLogIn(
                performed_at=draft.performed_at,
                title=draft.title[:200] or None,
                duration_s=draft.duration_s,
                notes=(draft.notes or None) and draft.notes[:2000],
                entries=draft.entries[:50],
            )
        except ValidationError as exc:
            first_error = exc.errors()[0]
            loc = ".".join(str(p) for p in first_error["loc"])
            raise BadCsv(
                f"workout {draft.title!r} of {draft.performed_at:%Y-%m-%d}: {loc}: "
                f"{first_error['msg']}"
            ) from None
        workouts.append(ImportedWorkout(key=key, body=body))
    return fmt, workouts, names


def _rows(reader: csv.DictReader[str]) -> Iterator[dict[str, str]]:
    try:
        for count, row in enumerate(reader):
            if count >= MAX_ROWS:
                raise BadCsv(f"the CSV has more than {MAX_ROWS} rows")
            yield row
    except csv.Error as exc:
        raise BadCsv(f"the CSV is malformed: {exc}") from None


def _row(
    fmt: CsvFormat,
    row: dict[str, str],
    tz: ZoneInfo,
    where: str,
    weight_unit: str,
    distance_unit: str,
) -> tuple[str, _Draft, str, dict[str, Any] | None]:
    def get(name: str) -> str:
        return (row.get(name) or "").strip()

    if fmt == "hevy":
        start = _hevy_time(get("start_time"), tz, where)
        end_text = get("end_time")
        end = _hevy_time(end_text, tz, where) if end_text else None
        title = get("title")
        exercise = get("exercise_title")
        lbs = "weight_lbs" in row
        weight = _number(row.get("weight_lbs") if lbs else row.get("weight_kg"), where)
        miles = "distance_miles" in row
        distance = _number(row.get("distance_miles") if miles else row.get("distance_km"), where)
        seconds = _number(row.get("duration_seconds"), where)
        reps = _number(row.get("reps"), where)
        rpe = _number(row.get("rpe"), where)
        warmup = get("set_type").lower() == "warmup"
        family = "hevy"
        duration = int((end - start).total_seconds()) if end and end > start else None
        notes = get("description") or None
    else:
        start = _strong_time(get("date"), tz, where)
        title = get("workout name")
        exercise = get("exercise name")
        unit = get("weight unit").lower() if fmt == "strong" else weight_unit
        lbs = unit in ("lb", "lbs")
        weight = _number(row.get("weight"), where)
        dunit = get("distance unit").lower() if fmt == "strong" else distance_unit
        miles = dunit in ("mi", "miles")
        distance = _number(row.get("distance"), where)
        if dunit == "m" and distance is not None:
            distance /= 1000
        seconds = _number(row.get("seconds"), where)
        reps = _number(row.get("reps"), where)
        rpe = _number(row.get("rpe"), where)
        warmup = get("set order").upper() == "W"
        family = "strong"
        duration = _duration(get("workout duration") or get("duration"))
        notes = get("workout notes") or None
    if not exercise:
        raise BadCsv(f"{where}: the exercise name is empty")
    draft = _Draft(performed_at=start, title=title, duration_s=duration, notes=notes)
    key = f"{family}:{start.isoformat()}:{title}"[:200]
    set_: dict[str, Any] = {"warmup": warmup}
    if reps:
        set_["reps"] = int(reps)
    if weight:
        set_["load_kg"] = round(domain.lb_to_kg(weight), 3) if lbs else weight
    if distance:
        set_["distance_m"] = round(distance * (domain.MILE_IN_M if miles else 1000), 1)
    if seconds:
        set_["duration_s"] = int(seconds)
    if rpe is not None and 1 <= rpe <= 10:
        set_["rpe"] = rpe
    if not any(k in set_ for k in ("reps", "distance_m", "duration_s")):
        return key, draft, exercise, None  # an empty row (e.g. a skipped set)
    return key, draft, exercise, set_
