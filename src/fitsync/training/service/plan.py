"""The client's calendar: planned sessions, written when programs are assigned.

An assignment pins a workout version per scheduled session; its calendar never changes
unless the assignment does. So the sessions are materialised then (``planned_sessions``:
one row per session, its exercises rendered with that week's planned loads) and
``GET /me/plan`` is one statement: a range read of the ``(client_id, session_date)``
index, rendered to JSON by PostgreSQL — no per-request Python work per session or
exercise.

Who writes: ``assign_program`` (new rows), ``cancel_assignment`` (rows dropped) and a
workout update that moves assignees to its new version (rows rewritten). Program and
workout names are joined when read, so a rename shows at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from fitsync.kernel.auth import Principal, Role
from fitsync.kernel.errors import Forbidden, Invalid
from fitsync.training.domain import progressed_load, session_date
from fitsync.training.models import PlannedSession, ProgramAssignment, WorkoutVersion
from fitsync.training.schemas import PlannedExercise

MAX_PLAN_DAYS = 366

# One statement (migration 0100): states the tenant, reads the range under RLS, renders
# the items' JSON.
PLAN_ITEMS = text("SELECT training.plan_items(:gym, :me, :start, :end)")


async def my_plan(conn: AsyncConnection, *, principal: Principal, start: date, end: date) -> str:
    """The client's planned workouts between two dates (inclusive), oldest first.

    One statement on ``conn`` (run it in autocommit: it states its own tenant). Returns
    the JSON document of ``PlanOut`` (the items rendered by PostgreSQL).
    """
    if principal.role is not Role.client:
        raise Forbidden("The plan is a client's; staff read GET /programs/assignments")
    if end < start:
        raise Invalid("'to' is before 'from'", loc=["query", "to"])
    if (end - start).days >= MAX_PLAN_DAYS:
        raise Invalid(f"at most {MAX_PLAN_DAYS} days at a time", loc=["query", "to"])
    items = await conn.scalar(
        PLAN_ITEMS, {"gym": principal.gym_id, "me": principal.user_id, "start": start, "end": end}
    )
    return (
        f'{{"client_id":"{principal.user_id}","from":"{start.isoformat()}",'
        f'"to":"{end.isoformat()}","items":{items}}}'
    )


def default_plan_range(today: date) -> tuple[date, date]:
    return today, today + timedelta(days=6)


async def write_sessions(session: AsyncSession, assignments: Sequence[ProgramAssignment]) -> None:
    """(Re)write the planned sessions of these assignments from their pinned schedules.

    Cancelled assignments get none.
    """
    if not assignments:
        return
    await session.execute(
        delete(PlannedSession).where(PlannedSession.assignment_id.in_([a.id for a in assignments]))
    )
    active = [a for a in assignments if a.status == "active"]
    keys = list(
        {(uuid.UUID(e["workout_id"]), e["workout_version"]) for a in active for e in a.schedule}
    )
    if not keys:
        return
    found = await session.execute(
        select(WorkoutVersion.workout_id, WorkoutVersion.version, WorkoutVersion.body).where(
            tuple_(WorkoutVersion.workout_id, WorkoutVersion.version).in_(keys)
        )
    )
    bodies = {(r.workout_id, r.version): r.body for r in found}
    rendered: dict[tuple[uuid.UUID, int, int], list[dict[str, Any]]] = {}
    rows = []
    for assignment in active:
        for seq, entry in enumerate(assignment.schedule):
            workout_id, version, week = (
                uuid.UUID(entry["workout_id"]),
                entry["workout_version"],
                entry["week"],
            )
            key = (workout_id, version, week)
            if key not in rendered:
                body = bodies.get((workout_id, version), {"exercises": []})
                rendered[key] = _planned_exercises(body, week)
            rows.append(
                {
                    "assignment_id": assignment.id,
                    "seq": seq,
                    "gym_id": assignment.gym_id,
                    "client_id": assignment.client_id,
                    "program_id": assignment.program_id,
                    "assignment_start": assignment.start_date,
                    "session_date": session_date(
                        assignment.start_date, week=week, day=entry["day"]
                    ),
                    "week": week,
                    "day": entry["day"],
                    "workout_id": workout_id,
                    "workout_version": version,
                    "exercises": rendered[key],
                }
            )
    await session.execute(insert(PlannedSession), rows)


async def rewrite_sessions(session: AsyncSession, assignment_ids: Sequence[uuid.UUID]) -> None:
    """Rewrite the calendar of assignments whose schedule changed."""
    if not assignment_ids:
        return
    assignments = (
        await session.execute(
            select(ProgramAssignment)
            .where(ProgramAssignment.id.in_(assignment_ids))
            .execution_options(populate_existing=True)
        )
    ).scalars()
    await write_sessions(session, list(assignments))


def _planned_exercises(body: dict[str, Any], week: int) -> list[dict[str, Any]]:
    """A workout version's exercises as ``PlannedExercise`` JSON, loads of ``week``."""
    return [
        PlannedExercise(
            **item,
            planned_load=progressed_load(item.get("load"), item.get("progression"), week=week),
        ).model_dump(mode="json", by_alias=True)
        for item in body["exercises"]
    ]
