"""What other contexts may use of training: the trainer-client relation, the library loader.

Progress, scheduling and messaging ask "is this trainer one of this client's trainers?"
here rather than reading training's tables.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.training import library
from fitsync.training.models import Exercise, TrainerClient, Workout, WorkoutVersion
from fitsync.training.service.people import is_trainer_of

__all__ = [
    "ExerciseInfo",
    "client_ids_of",
    "describe_exercises",
    "is_trainer_of",
    "library_exercise_id",
    "load_library",
    "match_exercise_names",
    "planned_sets",
    "trainer_ids_of",
]


@dataclass(frozen=True)
class ExerciseInfo:
    id: uuid.UUID
    name: str
    primary_muscles: tuple[str, ...]


def _info(row: Exercise) -> ExerciseInfo:
    return ExerciseInfo(id=row.id, name=row.name, primary_muscles=tuple(row.primary_muscles))


async def describe_exercises(
    session: AsyncSession, ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, ExerciseInfo]:
    """The library's and the transaction's gym's exercises among ``ids`` (deleted ones too:
    old logs keep their names)."""
    if not ids:
        return {}
    rows = await session.execute(select(Exercise).where(Exercise.id.in_(list(ids))))
    return {row.id: _info(row) for row in rows.scalars()}


def _norm(name: str) -> str:
    return " ".join("".join(c if c.isalnum() else " " for c in name.lower()).split())


async def match_exercise_names(
    session: AsyncSession, names: Collection[str]
) -> dict[str, ExerciseInfo]:
    """Exercises whose name or alias equals a given name, ignoring case and punctuation;
    the gym's own exercises win over the library's."""
    wanted = {_norm(n): n for n in names if n.strip()}
    if not wanted:
        return {}
    normalised = func.lower(func.regexp_replace(Exercise.name, "[^A-Za-z0-9]+", " ", "g"))
    alias = func.unnest(Exercise.aliases).table_valued("value").render_derived()
    alias_match = (
        select(1)
        .select_from(alias)
        .where(
            func.trim(
                func.lower(func.regexp_replace(alias.c.value, "[^A-Za-z0-9]+", " ", "g"))
            ).in_(list(wanted))
        )
        .exists()
    )
    rows = await session.execute(
        select(Exercise)
        .where(
            Exercise.deleted_at.is_(None),
            or_(func.trim(normalised).in_(list(wanted)), alias_match),
        )
        .order_by(Exercise.gym_id.is_(None))
    )
    found: dict[str, ExerciseInfo] = {}
    for row in rows.scalars():
        for key in [_norm(row.name), *(_norm(a) for a in row.aliases)]:
            if key in wanted and wanted[key] not in found:
                found[wanted[key]] = _info(row)
    return found


async def planned_sets(session: AsyncSession, workout_id: uuid.UUID) -> dict[uuid.UUID, int] | None:
    """Planned sets per exercise of the workout's current version, or None if unknown."""
    body = await session.scalar(
        select(WorkoutVersion.body)
        .join(Workout, Workout.id == WorkoutVersion.workout_id)
        .where(Workout.id == workout_id, WorkoutVersion.version == Workout.version)
    )
    if body is None:
        return None
    sets: dict[uuid.UUID, int] = {}
    for item in body.get("exercises", []):
        key = uuid.UUID(item["exercise_id"])
        sets[key] = sets.get(key, 0) + int(item.get("sets", 0))
    return sets


load_library = library.load
library_exercise_id = library.exercise_id  # the stable id of a free-exercise-db exercise


async def trainer_ids_of(session: AsyncSession, client_id: uuid.UUID) -> list[uuid.UUID]:
    """The client's trainers (row-level security scopes it to the transaction's gym)."""
    rows = await session.execute(
        select(TrainerClient.trainer_id).where(TrainerClient.client_id == client_id)
    )
    return list(rows.scalars())


async def client_ids_of(session: AsyncSession, trainer_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.execute(
        select(TrainerClient.client_id).where(TrainerClient.trainer_id == trainer_id)
    )
    return list(rows.scalars())
