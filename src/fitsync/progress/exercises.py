"""What progress needs to know of exercises: a port, and its adapter over training.

The exercise library belongs to the training context. Progress only asks four questions
(:class:`ExerciseCatalog`); :class:`TrainingCatalog` answers them through
``training.public``. Names from other apps' exports are matched first against the
library's names and aliases, then against a small table of the names the Strong and Hevy
apps use for common lifts, keyed by the free-exercise-db ids that training keeps as
``source_id``. :class:`LocalCatalog` (no library: every id accepted, only that table) is
kept for running progress on its own.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.training import public as training


@dataclass(frozen=True)
class ExerciseRef:
    id: uuid.UUID
    name: str
    muscles: tuple[str, ...]


class ExerciseCatalog(Protocol):
    async def unknown(self, session: AsyncSession, ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        """The ids among ``ids`` that are not exercises the caller's gym can use."""
        ...

    async def describe(
        self, session: AsyncSession, ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, ExerciseRef]:
        """Names and primary muscles of the exercises it knows."""
        ...

    async def match(self, session: AsyncSession, names: Collection[str]) -> dict[str, ExerciseRef]:
        """The library exercise each name stands for, for the names it can map."""
        ...

    async def planned_sets(
        self, session: AsyncSession, workout_id: uuid.UUID
    ) -> dict[uuid.UUID, int] | None:
        """Planned sets per exercise of an assigned workout, or None if unknown."""
        ...


_NAMESPACE = uuid.UUID("6f1c3a52-4f0e-4a7b-9a59-2d1f0c6b7e10")

# free-exercise-db id, name, primary muscles, other names (Strong / Hevy)
_BUILTIN: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "Barbell_Bench_Press_-_Medium_Grip",
        "Barbell Bench Press - Medium Grip",
        ("chest",),
        ("Bench Press (Barbell)", "Bench Press", "Barbell Bench Press"),
    ),
    ("Barbell_Squat", "Barbell Squat", ("quadriceps",), ("Squat (Barbell)", "Back Squat")),
    ("Barbell_Deadlift", "Barbell Deadlift", ("lower back",), ("Deadlift (Barbell)", "Deadlift")),
    (
        "Standing_Military_Press",
        "Standing Military Press",
        ("shoulders",),
        ("Overhead Press (Barbell)", "Overhead Press", "Military Press"),
    ),
    ("Romanian_Deadlift", "Romanian Deadlift", ("hamstrings",), ("Romanian Deadlift (Barbell)",)),
    (
        "Wide-Grip_Lat_Pulldown",
        "Wide-Grip Lat Pulldown",
        ("lats",),
        ("Lat Pulldown (Cable)", "Lat Pulldown"),
    ),
    ("Dumbbell_Bicep_Curl", "Dumbbell Bicep Curl", ("biceps",), ("Bicep Curl (Dumbbell)",)),
    (
        "Triceps_Pushdown",
        "Triceps Pushdown",
        ("triceps",),
        ("Triceps Pushdown (Cable - Straight Bar)", "Triceps Pushdown (Cable)"),
    ),
    (
        "Bent_Over_Barbell_Row",
        "Bent Over Barbell Row",
        ("middle back",),
        ("Bent Over Row (Barbell)", "Barbell Row"),
    ),
    ("Leg_Press", "Leg Press", ("quadriceps",), ("Leg Press (Machine)",)),
    ("Side_Lateral_Raise", "Side Lateral Raise", ("shoulders",), ("Lateral Raise (Dumbbell)",)),
    ("Face_Pull", "Face Pull", ("shoulders",), ("Face Pull (Cable)",)),
    ("Plank", "Plank", ("abdominals",), ()),
    ("Pullups", "Pullups", ("lats",), ("Pull Up", "Pull-Up")),
    ("Barbell_Hip_Thrust", "Barbell Hip Thrust", ("glutes",), ("Hip Thrust (Barbell)",)),
)


def normalise(name: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", name.lower()).split())


class LocalCatalog:
    """The stand-in used until the training context offers its exercise library."""

    def __init__(self) -> None:
        self.by_id: dict[uuid.UUID, ExerciseRef] = {}
        self.by_name: dict[str, ExerciseRef] = {}
        for slug, name, muscles, aliases in _BUILTIN:
            ref = ExerciseRef(id=uuid.uuid5(_NAMESPACE, slug), name=name, muscles=muscles)
            self.by_id[ref.id] = ref
            for alias in (name, slug, *aliases):
                self.by_name[normalise(alias)] = ref

    async def unknown(self, session: AsyncSession, ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        return set()

    async def describe(
        self, session: AsyncSession, ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, ExerciseRef]:
        return {i: self.by_id[i] for i in ids if i in self.by_id}

    async def match(self, session: AsyncSession, names: Collection[str]) -> dict[str, ExerciseRef]:
        found = {}
        for name in names:
            ref = self.by_name.get(normalise(name))
            if ref is not None:
                found[name] = ref
        return found

    async def planned_sets(
        self, session: AsyncSession, workout_id: uuid.UUID
    ) -> dict[uuid.UUID, int] | None:
        return None


class TrainingCatalog:
    """The training context's library (and the gym's own exercises) behind the port."""

    def __init__(self) -> None:
        self.by_name: dict[str, uuid.UUID] = {}
        for slug, name, _muscles, aliases in _BUILTIN:
            for alias in (name, slug, *aliases):
                self.by_name[normalise(alias)] = training.library_exercise_id(slug)

    async def unknown(self, session: AsyncSession, ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        return set(ids) - set(await training.describe_exercises(session, ids))

    async def describe(
        self, session: AsyncSession, ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, ExerciseRef]:
        found = await training.describe_exercises(session, ids)
        return {
            i: ExerciseRef(id=i, name=info.name, muscles=info.primary_muscles)
            for i, info in found.items()
        }

    async def match(self, session: AsyncSession, names: Collection[str]) -> dict[str, ExerciseRef]:
        exact = await training.match_exercise_names(session, names)
        found = {
            name: ExerciseRef(id=info.id, name=info.name, muscles=info.primary_muscles)
            for name, info in exact.items()
        }
        rest = {
            n: self.by_name[normalise(n)]
            for n in names
            if n not in found and normalise(n) in self.by_name
        }
        described = await self.describe(session, set(rest.values()))
        found.update({n: described[i] for n, i in rest.items() if i in described})
        return found

    async def planned_sets(
        self, session: AsyncSession, workout_id: uuid.UUID
    ) -> dict[uuid.UUID, int] | None:
        return await training.planned_sets(session, workout_id)
