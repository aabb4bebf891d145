"""Favourites (any role, on what they can see) and program ratings (clients, 1-5, once)."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.kernel import clock
from fitsync.kernel.auth import Principal, Role
from fitsync.kernel.errors import Forbidden, NotFound
from fitsync.training.models import Exercise, Favourite, Program, Rating, Workout
from fitsync.training.schemas import FavouriteOut, RatingOut, TargetType
from fitsync.training.service import exercises, programs, workouts

_MODELS: dict[TargetType, type[Exercise] | type[Workout] | type[Program]] = {
    TargetType.exercise: Exercise,
    TargetType.workout: Workout,
    TargetType.program: Program,
}


async def _check_visible(
    session: AsyncSession, principal: Principal, target_type: TargetType, target_id: uuid.UUID
) -> None:
    if target_type is TargetType.exercise:
        await exercises.get_exercise(session, principal=principal, exercise_id=target_id)
    elif target_type is TargetType.workout:
        await workouts.access_workout(session, principal=principal, workout_id=target_id)
    else:
        await programs.access_program(session, principal=principal, program_id=target_id)


async def add_favourite(
    session: AsyncSession, *, principal: Principal, target_type: TargetType, target_id: uuid.UUID
) -> bool:
    """Idempotent; returns whether it was new."""
    await _check_visible(session, principal, target_type, target_id)
    inserted = await session.scalar(
        insert(Favourite)
        .values(
            user_id=principal.user_id,
            target_type=target_type.value,
            target_id=target_id,
            gym_id=principal.gym_id,
        )
        .on_conflict_do_nothing()
        .returning(Favourite.target_id)
    )
    return inserted is not None


async def remove_favourite(
    session: AsyncSession, *, principal: Principal, target_type: TargetType, target_id: uuid.UUID
) -> None:
    result = await session.execute(
        delete(Favourite)
        .where(
            Favourite.user_id == principal.user_id,
            Favourite.target_type == target_type.value,
            Favourite.target_id == target_id,
        )
        .returning(Favourite.target_id)
    )
    if result.first() is None:
        raise NotFound("Not a favourite")


async def list_favourites(
    session: AsyncSession, *, principal: Principal, target_type: TargetType | None
) -> list[FavouriteOut]:
    query = select(Favourite).where(Favourite.user_id == principal.user_id)
    if target_type is not None:
        query = query.where(Favourite.target_type == target_type.value)
    rows = list(
        (await session.execute(query.order_by(Favourite.created_at.desc()).limit(500))).scalars()
    )
    names: dict[uuid.UUID, str] = {}
    for kind, model in _MODELS.items():
        ids = [r.target_id for r in rows if r.target_type == kind.value]
        if ids:
            found = await session.execute(select(model.id, model.name).where(model.id.in_(ids)))
            names.update({r.id: r.name for r in found})
    return [
        FavouriteOut(
            target_type=r.target_type,
            target_id=r.target_id,
            name=names.get(r.target_id),
            created_at=r.created_at,
        )
        for r in rows
    ]


async def rate_program(
    session: AsyncSession,
    *,
    principal: Principal,
    program_id: uuid.UUID,
    stars: int,
    comment: str | None,
) -> RatingOut:
    """A client rates a program assigned to them; rating again replaces the rating."""
    if principal.role is not Role.client:
        raise Forbidden("Only clients rate programs")
    program = await programs.access_program(session, principal=principal, program_id=program_id)
    now = clock.now()
    statement = insert(Rating).values(
        program_id=program.id,
        client_id=principal.user_id,
        gym_id=program.gym_id,
        stars=stars,
        comment=comment,
        created_at=now,
        updated_at=now,
    )
    upsert = statement.on_conflict_do_update(
        index_elements=[Rating.program_id, Rating.client_id],
        set_={"stars": stars, "comment": comment, "updated_at": now},
    ).returning(Rating)
    rating = (await session.execute(upsert)).scalar_one()
    return RatingOut.model_validate(rating)
