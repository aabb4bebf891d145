"""Progress's request and response bodies."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, field_validator, model_validator

from fitsync.kernel.schemas import Input, Output
from fitsync.progress import domain

Units = Literal["metric", "imperial"]
Load = Annotated[float, Field(ge=0, le=1500)]


# ---------------------------------------------------------------- profile


class ProfileIn(Input):
    units: Units | None = None
    max_hr: Annotated[int, Field(ge=100, le=240)] | None = None
    resting_hr: Annotated[int, Field(ge=25, le=120)] | None = None
    female: bool | None = Field(
        default=None, description="Selects Banister's TRIMP constants for women"
    )


class ZoneOut(Output):
    zone: int
    min_hr: int
    max_hr: int


class ProfileOut(Output):
    client_id: uuid.UUID
    units: Units
    max_hr: int | None
    resting_hr: int | None
    female: bool
    zones: list[ZoneOut] = Field(description="Karvonen zones from max/resting HR (defaults)")


# ---------------------------------------------------------------- body metrics


class BodyMetricIn(Input):
    client_id: uuid.UUID | None = Field(default=None, description="Staff: whose metric")
    measured_at: AwareDatetime
    weight_kg: Annotated[float, Field(gt=0, le=500)] | None = None
    weight_lb: Annotated[float, Field(gt=0, le=1100)] | None = None
    body_fat_pct: Annotated[float, Field(gt=0, lt=80)] | None = None
    measurements: dict[str, float] | None = Field(
        default=None,
        description="Free-form keys ending in _cm or _in, e.g. {waist_cm: 80, hips_in: 38}",
        max_length=30,
    )

    @field_validator("measurements")
    @classmethod
    def _in_cm(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        return domain.measurements_to_cm(value) if value else value

    @model_validator(mode="after")
    def _something(self) -> BodyMetricIn:
        if self.weight_kg is not None and self.weight_lb is not None:
            raise ValueError("give weight_kg or weight_lb, not both")
        if self.weight_lb is not None:
            self.weight_kg = round(domain.lb_to_kg(self.weight_lb), 3)
            self.weight_lb = None
        if self.weight_kg is None and self.body_fat_pct is None and not self.measurements:
            raise ValueError(
                "give at least one of weight_kg, weight_lb, body_fat_pct, measurements"
            )
        return self


class DisplayOut(Output):
    units: Units
    weight: float | None
    weight_unit: Literal["kg", "lb"]
    measurements: dict[str, float]
    length_unit: Literal["cm", "in"]


class BodyMetricOut(Output):
    id: uuid.UUID
    client_id: uuid.UUID
    measured_at: datetime
    weight_kg: float | None
    body_fat_pct: float | None
    measurements: dict[str, float]
    display: DisplayOut
    created_at: datetime


class TrendPoint(Output):
    date: date
    value: float
    avg_7d: float


class TrendOut(Output):
    client_id: uuid.UUID
    metric: str
    unit: str
    points: list[TrendPoint]
    latest: float | None
    change_30d: float | None
    change_90d: float | None


# ---------------------------------------------------------------- workout logs


class SetIn(Input):
    reps: Annotated[int, Field(ge=0, le=1000)] | None = None
    load_kg: Load | None = None
    load_lb: Annotated[float, Field(ge=0, le=3300)] | None = None
    rpe: Annotated[float, Field(ge=1, le=10)] | None = None
    rir: Annotated[int, Field(ge=0, le=10)] | None = None
    duration_s: Annotated[int, Field(ge=0, le=86_400)] | None = None
    distance_m: Annotated[float, Field(ge=0, le=1_000_000)] | None = None
    warmup: bool = False

    @model_validator(mode="after")
    def _kg(self) -> SetIn:
        if self.load_kg is not None and self.load_lb is not None:
            raise ValueError("give load_kg or load_lb, not both")
        if self.load_lb is not None:
            self.load_kg = round(domain.lb_to_kg(self.load_lb), 3)
            self.load_lb = None
        if self.reps is None and self.duration_s is None and self.distance_m is None:
            raise ValueError("a set needs reps, or duration_s / distance_m for cardio")
        return self


class EntryIn(Input):
    exercise_id: uuid.UUID | None = None
    exercise_name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    sets: Annotated[list[SetIn], Field(min_length=1, max_length=100)]

    @model_validator(mode="after")
    def _named(self) -> EntryIn:
        if self.exercise_id is None and self.exercise_name is None:
            raise ValueError("an entry needs exercise_id (or exercise_name)")
        return self


class WorkoutLogIn(Input):
    client_id: uuid.UUID | None = Field(default=None, description="Staff: whose workout")
    performed_at: AwareDatetime
    workout_id: uuid.UUID | None = None
    title: Annotated[str, Field(max_length=200)] | None = None
    duration_s: Annotated[int, Field(ge=0, le=86_400)] | None = None
    notes: Annotated[str, Field(max_length=2000)] | None = None
    entries: Annotated[list[EntryIn], Field(min_length=1, max_length=50)]


class SetOut(Output):
    reps: int | None
    load_kg: float | None
    rpe: float | None
    rir: int | None
    duration_s: int | None
    distance_m: float | None
    warmup: bool
    e1rm_kg: float | None


class EntryOut(Output):
    exercise_id: uuid.UUID | None
    exercise_name: str | None
    sets: list[SetOut]


class NewRecordOut(Output):
    exercise_id: uuid.UUID | None
    exercise_name: str | None
    reps: int
    load_kg: float
    previous_kg: float | None
    e1rm_kg: float | None


class WorkoutLogOut(Output):
    id: uuid.UUID
    client_id: uuid.UUID
    performed_at: datetime
    workout_id: uuid.UUID | None
    title: str | None
    duration_s: int | None
    notes: str | None
    adherence: float | None
    source: str
    volume_kg: float
    entries: list[EntryOut]
    records: list[NewRecordOut] = Field(default_factory=list, description="PRs set by this log")
    created_at: datetime


class RepRecordOut(Output):
    reps: int
    load_kg: float
    e1rm_kg: float | None
    performed_at: datetime


class RecordOut(Output):
    exercise_id: uuid.UUID | None
    exercise_name: str | None
    e1rm_kg: float | None = Field(description="Best estimated 1RM, Epley: w·(1 + r/30)")
    e1rm_brzycki_kg: float | None = Field(description="Same set by Brzycki: w·36/(37 - r)")
    formula: Literal["epley"] = "epley"
    best: RepRecordOut
    by_reps: list[RepRecordOut]


class RecordsOut(Output):
    items: list[RecordOut]


class AchievementOut(Output):
    id: uuid.UUID
    code: str
    kind: str
    title: str
    data: dict[str, Any]
    earned_at: datetime


class AchievementsOut(Output):
    items: list[AchievementOut]


class ImportReportOut(Output):
    format: Literal["strong", "strong_legacy", "hevy"]
    workouts_imported: int
    workouts_skipped: int = Field(description="Already imported before (same workout)")
    sets_imported: int
    matched: dict[str, uuid.UUID] = Field(description="CSV exercise name → library exercise")
    unmatched: list[str] = Field(description="Names kept as given: not found in the library")


# ---------------------------------------------------------------- activities


class ActivityOut(Output):
    id: uuid.UUID
    client_id: uuid.UUID
    sport: str
    sub_sport: str | None
    source_format: Literal["fit", "gpx", "tcx"]
    started_at: datetime
    ended_at: datetime = Field(description="Time of the last sample")
    elapsed_s: float | None
    moving_s: float | None
    distance_m: float | None
    ascent_m: float | None
    hr_avg: float | None
    hr_max: int | None
    power_avg: float | None
    power_max: int | None
    power_np: float | None
    cadence_avg: float | None
    calories: int | None
    samples: int
    laps: int | None
    device: str | None
    hr_zones_s: list[float] | None = Field(description="Seconds in zones 1-5")
    trimp: float | None = Field(description="Banister TRIMP")
    file_name: str | None
    file_sha256: str
    created_at: datetime


class SampleOut(Output):
    t: datetime
    hr: float | None = None
    power: float | None = None
    cadence: float | None = None
    speed: float | None = None
    lat: float | None = None
    lon: float | None = None
    alt: float | None = None
    distance: float | None = None


class SamplesOut(Output):
    activity_id: uuid.UUID
    every_s: int
    fields: list[str]
    items: list[SampleOut]


# ---------------------------------------------------------------- assessments


class AssessmentIn(Input):
    client_id: uuid.UUID | None = None
    assessed_at: AwareDatetime
    weight_kg: Annotated[float, Field(gt=0, le=500)] | None = None
    height_cm: Annotated[float, Field(ge=50, le=260)] | None = None
    body_fat_pct: Annotated[float, Field(gt=0, lt=80)] | None = None
    resting_hr: Annotated[int, Field(ge=25, le=150)] | None = None
    cooper_distance_m: Annotated[float, Field(ge=500, le=6000)] | None = Field(
        default=None, description="Metres run in Cooper's 12-minute test"
    )
    notes: Annotated[str, Field(max_length=2000)] | None = None

    @model_validator(mode="after")
    def _something(self) -> AssessmentIn:
        measured = ("weight_kg", "height_cm", "body_fat_pct", "resting_hr", "cooper_distance_m")
        if all(getattr(self, name) is None for name in measured):
            raise ValueError(f"give at least one of {', '.join(measured)}")
        return self


class AssessmentOut(Output):
    id: uuid.UUID
    client_id: uuid.UUID
    assessed_at: datetime
    inputs: dict[str, Any]
    results: dict[str, Any]
    notes: str | None
    created_at: datetime


# ---------------------------------------------------------------- analytics


class WeekVolumeOut(Output):
    week_start: date
    workouts: int
    sets: int
    volume_kg: float
    by_muscle: dict[str, float]


class LoadPointOut(Output):
    date: date
    load: float
    acute: float
    chronic: float
    acwr: float | None


class AdherenceWeekOut(Output):
    week_start: date
    workouts: int
    planned_workouts: int
    adherence: float | None = Field(description="Mean done/planned sets over planned workouts")


class RecordHistoryOut(Output):
    performed_at: datetime
    exercise_id: uuid.UUID | None
    exercise_name: str | None
    reps: int
    load_kg: float
    previous_kg: float | None
    e1rm_kg: float | None


class GymWeekOut(Output):
    week_start: date
    active_clients: int
    workouts: int
    activities: int
    volume_kg: float


class Series(Output):
    items: list[Any]
