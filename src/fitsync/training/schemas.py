"""Training's request and response bodies, with the sane ranges coaches work in."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from fitsync.kernel.schemas import Input, Output
from fitsync.training.domain import Activity, Sex

Name = Annotated[str, Field(min_length=1, max_length=200)]
ShortText = Annotated[str, Field(min_length=1, max_length=100)]
LongText = Annotated[str, Field(max_length=5000)]
Slug = Annotated[str, Field(min_length=1, max_length=50)]

MAX_WORKOUT_ITEMS = 300
MAX_SCHEDULE_ENTRIES = 7 * 104


class Category(StrEnum):
    strength = "strength"
    stretching = "stretching"
    plyometrics = "plyometrics"
    powerlifting = "powerlifting"
    olympic_weightlifting = "olympic weightlifting"
    strongman = "strongman"
    cardio = "cardio"


class Level(StrEnum):
    beginner = "beginner"
    intermediate = "intermediate"
    expert = "expert"


class Force(StrEnum):
    pull = "pull"
    push = "push"
    static = "static"


class Mechanic(StrEnum):
    compound = "compound"
    isolation = "isolation"


# --- lookups -----------------------------------------------------------------------------


class MuscleOut(Output):
    slug: str
    name: str
    region: str


class EquipmentOut(Output):
    slug: str
    name: str


# --- exercises ---------------------------------------------------------------------------


class ExerciseIn(Input):
    name: Name
    aliases: Annotated[list[ShortText], Field(max_length=20)] = []
    description: LongText | None = None
    instructions: Annotated[list[Annotated[str, Field(max_length=2000)]], Field(max_length=50)] = []
    category: Category = Category.strength
    level: Level = Level.beginner
    force: Force | None = None
    mechanic: Mechanic | None = None
    equipment: Slug | None = None
    primary_muscles: Annotated[list[Slug], Field(min_length=1, max_length=10)]
    secondary_muscles: Annotated[list[Slug], Field(max_length=10)] = []
    images: Annotated[list[Annotated[str, Field(max_length=500)]], Field(max_length=10)] = []
    video_url: Annotated[str, Field(max_length=500)] | None = None
    base_id: uuid.UUID | None = Field(
        default=None, description="The exercise this one is a variant of"
    )


class ExercisePatchIn(Input):
    name: Name | None = None
    aliases: Annotated[list[ShortText], Field(max_length=20)] | None = None
    description: LongText | None = None
    instructions: (
        Annotated[list[Annotated[str, Field(max_length=2000)]], Field(max_length=50)] | None
    ) = None
    category: Category | None = None
    level: Level | None = None
    force: Force | None = None
    mechanic: Mechanic | None = None
    equipment: Slug | None = None
    primary_muscles: Annotated[list[Slug], Field(min_length=1, max_length=10)] | None = None
    secondary_muscles: Annotated[list[Slug], Field(max_length=10)] | None = None
    images: Annotated[list[Annotated[str, Field(max_length=500)]], Field(max_length=10)] | None = (
        None
    )
    video_url: Annotated[str, Field(max_length=500)] | None = None
    base_id: uuid.UUID | None = None


class ExerciseRef(Output):
    id: uuid.UUID
    name: str


class ExerciseSummary(Output):
    id: uuid.UUID
    name: str
    category: str
    level: str
    equipment: str | None
    primary_muscles: list[str]
    secondary_muscles: list[str]
    gym_id: uuid.UUID | None
    source_id: str | None
    base_id: uuid.UUID | None


class ExerciseOut(ExerciseSummary):
    aliases: list[str]
    description: str | None
    instructions: list[str]
    force: str | None
    mechanic: str | None
    images: list[str]
    video_url: str | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    base: ExerciseRef | None = None
    variants: list[ExerciseRef] = []


# --- trainer-client ----------------------------------------------------------------------


class TrainerClientOut(Output):
    trainer_id: uuid.UUID
    client_id: uuid.UUID
    gym_id: uuid.UUID
    created_at: datetime


# --- workouts ----------------------------------------------------------------------------


class GroupFormat(StrEnum):
    superset = "superset"
    circuit = "circuit"
    emom = "emom"
    amrap = "amrap"
    tabata = "tabata"
    intervals = "intervals"


class SetType(StrEnum):
    normal = "normal"
    warmup = "warmup"
    drop = "drop"
    amrap = "amrap"
    failure = "failure"


class ProgressionType(StrEnum):
    load_per_week = "load_per_week"
    percent_per_week = "percent_per_week"
    on_completion = "on_completion"


class GroupIn(Input):
    """Exercises sharing a ``group`` label are done together in this format."""

    label: Annotated[str, Field(min_length=1, max_length=10)]
    format: GroupFormat
    rounds: Annotated[int, Field(ge=1, le=100)] | None = None
    work_seconds: Annotated[int, Field(ge=1, le=3600)] | None = None
    rest_seconds: Annotated[int, Field(ge=0, le=3600)] | None = None
    duration_minutes: Annotated[int, Field(ge=1, le=180)] | None = None


class ProgressionIn(Input):
    """``load_per_week``: +``increment_kg`` a week; ``percent_per_week``: +``percent`` a week;
    ``on_completion``: +``increment_kg`` once every set of the last session was completed."""

    type: ProgressionType
    increment_kg: Annotated[float, Field(gt=0, le=50)] | None = None
    percent: Annotated[float, Field(gt=0, le=50)] | None = None

    @model_validator(mode="after")
    def _amount(self) -> ProgressionIn:
        if self.type is ProgressionType.percent_per_week and self.percent is None:
            raise ValueError("percent_per_week needs 'percent'")
        if self.type is not ProgressionType.percent_per_week and self.increment_kg is None:
            raise ValueError(f"{self.type.value} needs 'increment_kg'")
        return self


class WorkoutExerciseIn(Input):
    exercise_id: uuid.UUID
    day: Annotated[int, Field(ge=1, le=7)] = 1
    order: Annotated[int, Field(ge=1, le=MAX_WORKOUT_ITEMS)]
    sets: Annotated[int, Field(ge=1, le=100)]
    reps: Annotated[int, Field(ge=1, le=1000)] | None = None
    reps_max: Annotated[int, Field(ge=1, le=1000)] | None = None
    duration_seconds: Annotated[int, Field(ge=1, le=36000)] | None = None
    rest_seconds: Annotated[int, Field(ge=0, le=3600)] = 60
    load: Annotated[float, Field(ge=0, le=1000, description="kg")] | None = None
    percent_1rm: Annotated[float, Field(gt=0, le=150)] | None = None
    rpe: Annotated[float, Field(ge=1, le=10)] | None = None
    rir: Annotated[int, Field(ge=0, le=10)] | None = None
    tempo: Annotated[str, Field(pattern=r"^[0-9Xx]{1,2}(-?[0-9Xx]{1,2}){3}$")] | None = None
    notes: Annotated[str, Field(max_length=1000)] | None = None
    set_type: SetType = SetType.normal
    group: Annotated[str, Field(min_length=1, max_length=10)] | None = None
    progression: ProgressionIn | None = None

    @model_validator(mode="after")
    def _dose(self) -> WorkoutExerciseIn:
        if (
            self.reps is None
            and self.duration_seconds is None
            and self.set_type
            not in (
                SetType.amrap,
                SetType.failure,
            )
        ):
            raise ValueError("give reps, a rep range or duration_seconds (or an AMRAP set)")
        if self.reps_max is not None and (self.reps is None or self.reps_max < self.reps):
            raise ValueError("reps_max needs reps and must be at least reps")
        return self


class WorkoutIn(Input):
    name: Name
    description: LongText | None = None
    goal: Annotated[str, Field(max_length=200)] | None = None
    difficulty: Level | None = None
    is_template: bool = False
    visibility: Literal["gym", "private"] = "gym"
    groups: Annotated[list[GroupIn], Field(max_length=50)] = []
    exercises: Annotated[list[WorkoutExerciseIn], Field(max_length=MAX_WORKOUT_ITEMS)] = []

    @model_validator(mode="after")
    def _consistent(self) -> WorkoutIn:
        labels = [g.label for g in self.groups]
        if len(set(labels)) != len(labels):
            raise ValueError("group labels must be unique")
        seen: set[tuple[int, int]] = set()
        for index, item in enumerate(self.exercises):
            if item.group is not None and item.group not in labels:
                raise ValueError(f"exercises[{index}]: unknown group {item.group!r}")
            if (item.day, item.order) in seen:
                raise ValueError(
                    f"exercises[{index}]: day {item.day} already has order {item.order}"
                )
            seen.add((item.day, item.order))
        return self


class WorkoutUpdateIn(WorkoutIn):
    expected_version: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="Answer 409 if the workout has moved past this version"
    )


class WorkoutExerciseOut(Output):
    exercise_id: uuid.UUID
    exercise_name: str | None = None
    day: int
    order: int
    sets: int
    reps: int | None = None
    reps_max: int | None = None
    duration_seconds: int | None = None
    rest_seconds: int
    load: float | None = None
    percent_1rm: float | None = None
    rpe: float | None = None
    rir: int | None = None
    tempo: str | None = None
    notes: str | None = None
    set_type: str = "normal"
    group: str | None = None
    progression: dict[str, Any] | None = None


class WorkoutSummary(Output):
    id: uuid.UUID
    gym_id: uuid.UUID
    owner_id: uuid.UUID
    name: str
    description: str | None
    goal: str | None
    difficulty: str | None
    is_template: bool
    visibility: str
    version: int
    copied_from: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class WorkoutOut(WorkoutSummary):
    groups: list[dict[str, Any]]
    exercises: list[WorkoutExerciseOut]
    updated_assignments: int | None = None


# --- programs ----------------------------------------------------------------------------


class ScheduleEntryIn(Input):
    week: Annotated[int, Field(ge=1, le=104)]
    day: Annotated[int, Field(ge=1, le=7)]
    workout_id: uuid.UUID


class ProgramIn(Input):
    name: Name
    description: LongText | None = None
    duration_weeks: Annotated[int, Field(ge=1, le=104)]
    goal: Annotated[str, Field(max_length=200)] | None = None
    difficulty: Level | None = None
    is_template: bool = False
    schedule: Annotated[list[ScheduleEntryIn], Field(min_length=1, max_length=MAX_SCHEDULE_ENTRIES)]

    @model_validator(mode="after")
    def _within_duration(self) -> ProgramIn:
        seen: set[tuple[int, int, uuid.UUID]] = set()
        for index, entry in enumerate(self.schedule):
            if entry.week > self.duration_weeks:
                raise ValueError(
                    f"schedule[{index}]: week {entry.week} is after the program's"
                    f" {self.duration_weeks} weeks"
                )
            key = (entry.week, entry.day, entry.workout_id)
            if key in seen:
                raise ValueError(f"schedule[{index}]: this workout is already on that day")
            seen.add(key)
        return self


class ScheduleEntryOut(Output):
    week: int
    day: int
    workout_id: uuid.UUID
    workout_name: str | None = None
    workout_version: int | None = None


class ProgramOut(Output):
    id: uuid.UUID
    gym_id: uuid.UUID
    owner_id: uuid.UUID
    name: str
    description: str | None
    duration_weeks: int
    goal: str | None
    difficulty: str | None
    is_template: bool
    schedule: list[ScheduleEntryOut]
    rating_avg: float | None = None
    rating_count: int = 0
    created_at: datetime


class AssignIn(Input):
    client_id: uuid.UUID
    start_date: date


class AssignmentOut(Output):
    id: uuid.UUID
    program_id: uuid.UUID
    program_name: str | None = None
    client_id: uuid.UUID
    assigned_by: uuid.UUID
    start_date: date
    end_date: date
    status: str
    created_at: datetime


class PlannedExercise(WorkoutExerciseOut):
    planned_load: float | None = None


class PlannedWorkout(Output):
    date: date
    assignment_id: uuid.UUID
    program_id: uuid.UUID
    program_name: str
    week: int
    day: int
    workout_id: uuid.UUID
    workout_version: int
    workout_name: str
    exercises: list[PlannedExercise]


class PlanOut(Output):
    client_id: uuid.UUID
    from_date: date = Field(serialization_alias="from")
    to_date: date = Field(serialization_alias="to")
    items: list[PlannedWorkout]


# --- diet plans --------------------------------------------------------------------------


class Restriction(StrEnum):
    vegan = "vegan"
    vegetarian = "vegetarian"
    pescatarian = "pescatarian"
    gluten_free = "gluten-free"
    dairy_free = "dairy-free"
    lactose_free = "lactose-free"
    nut_free = "nut-free"
    egg_free = "egg-free"
    soy_free = "soy-free"
    halal = "halal"
    kosher = "kosher"
    low_fodmap = "low-fodmap"
    low_sodium = "low-sodium"
    keto = "keto"


class EnergyIn(Input):
    sex: Sex
    weight_kg: Annotated[float, Field(ge=25, le=400)]
    height_cm: Annotated[float, Field(ge=100, le=250)]
    age: Annotated[int, Field(ge=14, le=110)]
    activity: Activity
    body_fat_pct: Annotated[float, Field(ge=3, le=70)] | None = None
    goal: Literal["lose", "maintain", "gain"] = "maintain"


class EnergyOut(Output):
    method: str
    bmr: int
    tdee: int
    calories: int
    protein_g: int
    carbs_g: int
    fat_g: int


class Macros(Input):
    protein_g: Annotated[int, Field(ge=0, le=2000)]
    carbs_g: Annotated[int, Field(ge=0, le=2000)]
    fat_g: Annotated[int, Field(ge=0, le=1000)]


class MealItem(Input):
    food: Annotated[str, Field(min_length=1, max_length=200)]
    quantity: Annotated[float, Field(gt=0, le=10000)]
    unit: Annotated[str, Field(min_length=1, max_length=20)] = "g"
    calories: Annotated[int, Field(ge=0, le=10000)] | None = None


class Meal(Input):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    time: Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")] | None = None
    items: Annotated[list[MealItem], Field(max_length=50)] = []


class DietPlanIn(Input):
    """``calories`` and ``macros`` may be left out when ``energy`` is given: they are then
    the estimate's (Mifflin-St Jeor, or Katch-McArdle with body fat)."""

    name: Name
    description: LongText | None = None
    calories: Annotated[int, Field(ge=800, le=10000)] | None = None
    macros: Macros | None = None
    meals: Annotated[list[Meal], Field(max_length=12)] = []
    restrictions: Annotated[list[Restriction], Field(max_length=14)] = []
    energy: EnergyIn | None = None


class MacrosOut(Output):
    protein_g: int
    carbs_g: int
    fat_g: int
    calories_from_macros: int


class DietPlanOut(Output):
    id: uuid.UUID
    gym_id: uuid.UUID
    owner_id: uuid.UUID
    name: str
    description: str | None
    calories: int
    macros: MacrosOut
    meals: list[dict[str, Any]]
    restrictions: list[str]
    energy: dict[str, Any] | None
    created_at: datetime


class DietAssignmentOut(Output):
    id: uuid.UUID
    diet_plan_id: uuid.UUID
    client_id: uuid.UUID
    assigned_by: uuid.UUID
    start_date: date
    created_at: datetime


# --- favourites and ratings --------------------------------------------------------------


class TargetType(StrEnum):
    exercise = "exercise"
    workout = "workout"
    program = "program"


class FavouriteOut(Output):
    target_type: str
    target_id: uuid.UUID
    name: str | None = None
    created_at: datetime


class RatingIn(Input):
    stars: Annotated[int, Field(ge=1, le=5)]
    comment: Annotated[str, Field(max_length=2000)] | None = None


class RatingOut(Output):
    program_id: uuid.UUID
    client_id: uuid.UUID
    stars: int
    comment: str | None
    updated_at: datetime
