"""Workouts (plans) and their versions.

A workout's content (exercises, groups) lives in immutable versions. Editing an
assigned workout makes a new version: assignments keep pointing at the version they
were given, unless the editor asks to ``update_assignees`` (their active assignments
then move to the new version). Visibility: staff of the gym see workouts shared with
the gym and their own private ones (the gym owner sees all); a client sees the
workouts of their programs. Writers: the workout's owner and the gym owner.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Row, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.kernel import clock
from fitsync.kernel.auth import Principal, Role
from fitsync.kernel.errors import Conflict, Forbidden, Invalid, NotFound
from fitsync.kernel.pagination import Page, PageParams, encode_cursor
from fitsync.training.domain import search_terms
from fitsync.training.models import Workout, WorkoutVersion
from fitsync.training.schemas import (
    WorkoutExerciseOut,
    WorkoutIn,
    WorkoutOut,
    WorkoutSummary,
    WorkoutUpdateIn,
)
from fitsync.training.service import exercises, plan
from fitsync.training.service.people import staff_gym

MAX_SEARCH_OFFSET = 1000

# A plan document's search: the same engine as exercises (weighted full text with a
# prefix on the last word, plus trigram similarity for typos), on name > description.
SEARCH_RANK = (
    "2.0 * ts_rank('{0.05, 0.2, 0.5, 1.0}', w.search_vector, to_tsquery('english', :tsq))"
    " + strict_word_similarity(:qtext, w.terms_norm) + similarity(:qtext, w.terms_norm)"
)
SEARCH_MATCH = "(w.search_vector @@ to_tsquery('english', :tsq) OR :qtext <<% w.terms_norm)"


def _body(values: WorkoutIn, exercise_names: dict[uuid.UUID, str]) -> dict[str, Any]:
    items = sorted(values.exercises, key=lambda i: (i.day, i.order))
    return {
        "groups": [g.model_dump(mode="json", exclude_none=True) for g in values.groups],
        "exercises": [
            {
                **item.model_dump(mode="json", exclude_none=True),
                "exercise_name": exercise_names[item.exercise_id],
            }
            for item in items
        ],
    }


def _out(workout: Workout, body: dict[str, Any], **extra: Any) -> WorkoutOut:
    fields = {
        **WorkoutSummary.model_validate(workout).model_dump(),
        "groups": body["groups"],
        "exercises": [WorkoutExerciseOut.model_validate(i) for i in body["exercises"]],
        **extra,
    }
    return WorkoutOut(**fields)


async def _version_body(
    session: AsyncSession, workout_id: uuid.UUID, version: int
) -> dict[str, Any]:
    row = await session.get(WorkoutVersion, (workout_id, version))
    if row is None:
        raise NotFound("No such workout version")
    return row.body


async def create_workout(
    session: AsyncSession,
    *,
    principal: Principal,
    values: WorkoutIn,
    copied_from: uuid.UUID | None = None,
) -> WorkoutOut:
    gym_id = staff_gym(principal)
    found = await exercises.check_usable(
        session,
        principal=principal,
        ids=[i.exercise_id for i in values.exercises],
        loc="exercises",
    )
    workout = Workout(
        id=uuid.uuid4(),
        gym_id=gym_id,
        owner_id=principal.user_id,
        name=values.name,
        description=values.description,
        goal=values.goal,
        difficulty=values.difficulty,
        is_template=values.is_template,
        visibility=values.visibility,
        copied_from=copied_from,
        version=1,
    )
    session.add(workout)
    await session.flush()
    body = _body(values, found)
    session.add(
        WorkoutVersion(
            workout_id=workout.id,
            version=1,
            gym_id=gym_id,
            body=body,
            created_by=principal.user_id,
        )
    )
    await session.flush()
    await session.refresh(workout)
    return _out(workout, body)


async def assigned_versions(
    session: AsyncSession, *, client_id: uuid.UUID, workout_id: uuid.UUID | None = None
) -> dict[uuid.UUID, int]:
    """Workout id → the newest version assigned to the client (active assignments)."""
    sql = (
        "SELECT DISTINCT (s->>'workout_id')::uuid AS workout_id,"
        " (s->>'workout_version')::int AS version"
        " FROM training.program_assignments a, jsonb_array_elements(a.schedule) s"
        " WHERE a.client_id = :client AND a.status = 'active'"
    )
    params: dict[str, Any] = {"client": client_id}
    if workout_id is not None:
        sql += " AND a.schedule @> CAST(:probe AS jsonb)"
        params["probe"] = json.dumps([{"workout_id": str(workout_id)}])
    versions: dict[uuid.UUID, int] = {}
    for row in await session.execute(text(sql), params):
        versions[row.workout_id] = max(versions.get(row.workout_id, 0), row.version)
    if workout_id is not None:
        return {workout_id: versions[workout_id]} if workout_id in versions else {}
    return versions


def _staff_sees(principal: Principal, workout: Workout) -> bool:
    if principal.is_admin:
        return True
    if workout.gym_id != principal.gym_id or principal.role is Role.client:
        return False
    return (
        workout.visibility == "gym"
        or workout.owner_id == principal.user_id
        or principal.role is Role.gym_owner
    )


async def access_workout(
    session: AsyncSession, *, principal: Principal, workout_id: uuid.UUID
) -> tuple[Workout, int]:
    """The workout and the version the caller sees (clients: the one assigned to them)."""
    workout = await session.get(Workout, workout_id)
    if workout is None:
        raise NotFound("No such workout")
    if principal.role is Role.client:
        assigned = await assigned_versions(
            session, client_id=principal.user_id, workout_id=workout_id
        )
        if not assigned or workout.gym_id != principal.gym_id:
            raise NotFound("No such workout")
        return workout, assigned[workout_id]
    if workout.deleted_at is not None or not _staff_sees(principal, workout):
        raise NotFound("No such workout")
    return workout, workout.version


async def get_workout(
    session: AsyncSession, *, principal: Principal, workout_id: uuid.UUID, version: int | None
) -> WorkoutOut:
    workout, visible_version = await access_workout(
        session, principal=principal, workout_id=workout_id
    )
    if version is not None and principal.role is Role.client and version != visible_version:
        raise NotFound("No such workout version")
    shown = version or visible_version
    return _out(workout, await _version_body(session, workout_id, shown), version=shown)


def _require_editor(principal: Principal, workout: Workout) -> None:
    if principal.role is Role.gym_owner or workout.owner_id == principal.user_id:
        return
    raise Forbidden("Only the workout's owner or the gym owner can change it; copy it instead")


async def update_workout(
    session: AsyncSession,
    *,
    principal: Principal,
    workout_id: uuid.UUID,
    values: WorkoutUpdateIn,
    update_assignees: bool,
) -> WorkoutOut:
    """Write a new version; the row update serialises concurrent editors."""
    staff_gym(principal)
    workout, _ = await access_workout(session, principal=principal, workout_id=workout_id)
    _require_editor(principal, workout)
    found = await exercises.check_usable(
        session,
        principal=principal,
        ids=[i.exercise_id for i in values.exercises],
        loc="exercises",
    )
    query = (
        update(Workout)
        .where(Workout.id == workout_id, Workout.deleted_at.is_(None))
        .values(
            version=Workout.version + 1,
            name=values.name,
            description=values.description,
            goal=values.goal,
            difficulty=values.difficulty,
            is_template=values.is_template,
            visibility=values.visibility,
            updated_at=clock.now(),
        )
        .returning(Workout.version)
    )
    if values.expected_version is not None:
        query = query.where(Workout.version == values.expected_version)
    version = await session.scalar(query)
    if version is None:
        raise Conflict(
            f"The workout has changed since version {values.expected_version}; reload it"
        )
    body = _body(values, found)
    session.add(
        WorkoutVersion(
            workout_id=workout_id,
            version=version,
            gym_id=workout.gym_id,
            body=body,
            created_by=principal.user_id,
        )
    )
    await session.flush()
    moved = await _move_assignees(session, workout_id, version) if update_assignees else None
    await session.refresh(workout)
    return _out(workout, body, updated_assignments=moved)


async def _move_assignees(session: AsyncSession, workout_id: uuid.UUID, version: int) -> int:
    """Point the active assignments that use this workout at ``version``."""
    result = await session.execute(
        text(
            "UPDATE training.program_assignments a SET schedule = ("
            "  SELECT jsonb_agg(CASE WHEN s->>'workout_id' = :wid"
            "    THEN jsonb_set(s, '{workout_version}', to_jsonb(CAST(:version AS int)))"
            "    ELSE s END ORDER BY n)"
            "  FROM jsonb_array_elements(a.schedule) WITH ORDINALITY AS t(s, n))"
            " WHERE a.status = 'active' AND a.schedule @> CAST(:probe AS jsonb)"
            " RETURNING a.id"
        ),
        {
            "wid": str(workout_id),
            "version": version,
            "probe": json.dumps([{"workout_id": str(workout_id)}]),
        },
    )
    moved = list(result.scalars())
    await plan.rewrite_sessions(session, moved)
    return len(moved)


async def delete_workout(
    session: AsyncSession, *, principal: Principal, workout_id: uuid.UUID
) -> None:
    """Soft delete: gone from lists; assigned clients keep their pinned versions."""
    staff_gym(principal)
    workout, _ = await access_workout(session, principal=principal, workout_id=workout_id)
    _require_editor(principal, workout)
    workout.deleted_at = clock.now()
    await session.flush()


async def copy_workout(
    session: AsyncSession, *, principal: Principal, workout_id: uuid.UUID
) -> WorkoutOut:
    """A private, editable copy of a workout (typically a template) for the caller."""
    staff_gym(principal)
    workout, version = await access_workout(session, principal=principal, workout_id=workout_id)
    body = await _version_body(session, workout_id, version)
    values = WorkoutIn.model_validate(
        {
            "name": workout.name,
            "description": workout.description,
            "goal": workout.goal,
            "difficulty": workout.difficulty,
            "is_template": False,
            "visibility": "private",
            "groups": body["groups"],
            "exercises": [
                {k: v for k, v in item.items() if k != "exercise_name"}
                for item in body["exercises"]
            ],
        }
    )
    return await create_workout(session, principal=principal, values=values, copied_from=workout_id)


async def list_workouts(
    session: AsyncSession,
    *,
    principal: Principal,
    page: PageParams,
    q: str | None,
    is_template: bool | None,
    mine: bool,
) -> Page[WorkoutSummary]:
    params: dict[str, Any] = {
        "limit": page.limit + 1,
        "gym": principal.gym_id,
        "me": principal.user_id,
    }
    where = ["w.deleted_at IS NULL"]
    if principal.role is Role.client:
        assigned = await assigned_versions(session, client_id=principal.user_id)
        where.append("w.id = ANY(:assigned)")
        params["assigned"] = list(assigned)
    elif not principal.is_admin:
        where.append("w.gym_id = :gym")
        if principal.role is not Role.gym_owner:
            where.append("(w.visibility = 'gym' OR w.owner_id = :me)")
    if mine:
        where.append("w.owner_id = :me")
    if is_template is not None:
        where.append("w.is_template = :template")
        params["template"] = is_template
    terms = search_terms(q) if q else None
    if q and terms is None:
        return Page[WorkoutSummary](items=[])
    if terms is not None:
        offset = exercises.search_offset(page)
        where.append(SEARCH_MATCH)
        params.update(tsq=terms.tsquery, qtext=terms.text, offset=offset)
        sql = (
            f"SELECT w.*, {SEARCH_RANK} AS score FROM training.workouts w"
            f" WHERE {' AND '.join(where)} ORDER BY score DESC, w.name, w.id"
            " LIMIT :limit OFFSET :offset"
        )
        rows = list(await session.execute(text(sql), params))
        more = len(rows) > page.limit and offset + page.limit < MAX_SEARCH_OFFSET
        cursor = encode_cursor(["offset", offset + page.limit]) if more else None
        return Page[WorkoutSummary](
            items=[_summary(r) for r in rows[: page.limit]], next_cursor=cursor
        )
    if page.after:
        try:
            params["after_at"] = datetime.fromisoformat(page.after[0])
            params["after_id"] = uuid.UUID(page.after[1])
        except (ValueError, IndexError, TypeError):
            raise Invalid("malformed cursor", loc=["query", "cursor"]) from None
        where.append("(w.created_at, w.id) < (:after_at, :after_id)")
    sql = (
        f"SELECT w.* FROM training.workouts w WHERE {' AND '.join(where)}"
        " ORDER BY w.created_at DESC, w.id DESC LIMIT :limit"
    )
    rows = list(await session.execute(text(sql), params))
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    cursor = encode_cursor([rows[-1].created_at.isoformat(), str(rows[-1].id)]) if more else None
    return Page[WorkoutSummary](items=[_summary(r) for r in rows], next_cursor=cursor)


def _summary(row: Row[Any]) -> WorkoutSummary:
    return WorkoutSummary.model_validate(row._mapping)
