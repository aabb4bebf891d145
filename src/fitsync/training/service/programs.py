"""Programs (multi-week schedules of workouts), assignments, and the client's plan.

Assigning a program pins the current version of each of its workouts in the
assignment, so later edits of a workout do not rewrite what the client was given.
The client's calendar (``GET /me/plan``, see ``plan``) is written from the pinned
schedule at the same time: day ``d`` of week ``w`` falls on
``start_date + 7·(w-1) + (d-1)``.
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.kernel import outbox
from fitsync.kernel.auth import Principal, Role
from fitsync.kernel.db import unique_violation
from fitsync.kernel.errors import Conflict, Invalid, NotFound
from fitsync.kernel.pagination import Page, PageParams, encode_cursor
from fitsync.training import events
from fitsync.training.domain import end_date, search_terms
from fitsync.training.models import Program, ProgramAssignment, Rating, Workout
from fitsync.training.schemas import (
    AssignmentOut,
    PlanOut,
    ProgramIn,
    ProgramOut,
    ScheduleEntryOut,
)
from fitsync.training.service import exercises, plan
from fitsync.training.service.people import access_client, staff_gym

SEARCH_RANK = (
    "2.0 * ts_rank('{0.05, 0.2, 0.5, 1.0}', p.search_vector, to_tsquery('english', :tsq))"
    " + strict_word_similarity(:qtext, p.terms_norm) + similarity(:qtext, p.terms_norm)"
)
SEARCH_MATCH = "(p.search_vector @@ to_tsquery('english', :tsq) OR :qtext <<% p.terms_norm)"


async def _workouts_for_schedule(
    session: AsyncSession, principal: Principal, values: ProgramIn
) -> dict[uuid.UUID, Workout]:
    """The scheduled workouts, each visible to the caller; 422 naming the first bad entry."""
    ids = list({e.workout_id for e in values.schedule})
    query = select(Workout).where(
        Workout.id.in_(ids), Workout.gym_id == principal.gym_id, Workout.deleted_at.is_(None)
    )
    if principal.role is not Role.gym_owner:
        query = query.where((Workout.visibility == "gym") | (Workout.owner_id == principal.user_id))
    rows = await session.execute(query)
    found = {w.id: w for w in rows.scalars()}
    for index, entry in enumerate(values.schedule):
        if entry.workout_id not in found:
            raise Invalid(
                f"schedule[{index}].workout_id: no such workout ({entry.workout_id})",
                loc=["body", "schedule", index, "workout_id"],
            )
    return found


async def create_program(
    session: AsyncSession, *, principal: Principal, values: ProgramIn
) -> ProgramOut:
    gym_id = staff_gym(principal)
    workouts = await _workouts_for_schedule(session, principal, values)
    schedule = sorted(
        ({"week": e.week, "day": e.day, "workout_id": str(e.workout_id)} for e in values.schedule),
        key=lambda e: (e["week"], e["day"], e["workout_id"]),
    )
    program = Program(
        id=uuid.uuid4(),
        gym_id=gym_id,
        owner_id=principal.user_id,
        name=values.name,
        description=values.description,
        duration_weeks=values.duration_weeks,
        goal=values.goal,
        difficulty=values.difficulty,
        is_template=values.is_template,
        schedule=schedule,
    )
    session.add(program)
    await session.flush()
    await session.refresh(program)
    return _out(program, {w.id: w.name for w in workouts.values()}, None)


def _out(
    program: Program,
    workout_names: dict[uuid.UUID, str],
    rating: Row[Any] | None,
) -> ProgramOut:
    return ProgramOut(
        id=program.id,
        gym_id=program.gym_id,
        owner_id=program.owner_id,
        name=program.name,
        description=program.description,
        duration_weeks=program.duration_weeks,
        goal=program.goal,
        difficulty=program.difficulty,
        is_template=program.is_template,
        schedule=[
            ScheduleEntryOut(
                week=e["week"],
                day=e["day"],
                workout_id=e["workout_id"],
                workout_name=workout_names.get(uuid.UUID(e["workout_id"])),
            )
            for e in program.schedule
        ],
        rating_avg=round(float(rating.avg), 2) if rating and rating.avg is not None else None,
        rating_count=rating.count if rating else 0,
        created_at=program.created_at,
    )


async def _client_has_program(
    session: AsyncSession, client_id: uuid.UUID, program_id: uuid.UUID
) -> bool:
    found = await session.scalar(
        select(ProgramAssignment.id)
        .where(ProgramAssignment.client_id == client_id, ProgramAssignment.program_id == program_id)
        .limit(1)
    )
    return found is not None


async def access_program(
    session: AsyncSession, *, principal: Principal, program_id: uuid.UUID
) -> Program:
    """Staff of the program's gym see it; a client sees the programs assigned to them."""
    program = await session.get(Program, program_id)
    visible = program is not None and (principal.is_admin or program.gym_id == principal.gym_id)
    if program is None or not visible:
        raise NotFound("No such program")
    if principal.role is Role.client:
        if not await _client_has_program(session, principal.user_id, program_id):
            raise NotFound("No such program")
    elif program.deleted_at is not None:
        raise NotFound("No such program")
    return program


async def get_program(
    session: AsyncSession, *, principal: Principal, program_id: uuid.UUID
) -> ProgramOut:
    program = await access_program(session, principal=principal, program_id=program_id)
    ids = list({uuid.UUID(e["workout_id"]) for e in program.schedule})
    names = dict(
        (await session.execute(select(Workout.id, Workout.name).where(Workout.id.in_(ids)))).all()
    )
    rating = (
        await session.execute(
            select(func.avg(Rating.stars).label("avg"), func.count().label("count")).where(
                Rating.program_id == program_id
            )
        )
    ).first()
    return _out(program, names, rating)


async def list_programs(
    session: AsyncSession, *, principal: Principal, page: PageParams, q: str | None
) -> Page[ProgramOut]:
    params: dict[str, Any] = {"limit": page.limit + 1, "gym": principal.gym_id}
    where = ["p.deleted_at IS NULL"]
    if principal.role is Role.client:
        where.append(
            "p.id IN (SELECT program_id FROM training.program_assignments WHERE client_id = :me)"
        )
        params["me"] = principal.user_id
    elif not principal.is_admin:
        where.append("p.gym_id = :gym")
    terms = search_terms(q) if q else None
    if q and terms is None:
        return Page[ProgramOut](items=[])
    if terms is not None:
        offset = exercises.search_offset(page)
        where.append(SEARCH_MATCH)
        params.update(tsq=terms.tsquery, qtext=terms.text, offset=offset)
        order = f"{SEARCH_RANK} DESC, p.name, p.id LIMIT :limit OFFSET :offset"
    else:
        offset = 0
        if page.after:
            try:
                params["after_at"] = datetime.fromisoformat(page.after[0])
                params["after_id"] = uuid.UUID(page.after[1])
            except (ValueError, IndexError, TypeError):
                raise Invalid("malformed cursor", loc=["query", "cursor"]) from None
            where.append("(p.created_at, p.id) < (:after_at, :after_id)")
        order = "p.created_at DESC, p.id DESC LIMIT :limit"
    sql = f"SELECT p.id FROM training.programs p WHERE {' AND '.join(where)} ORDER BY {order}"
    ids = list((await session.execute(text(sql), params)).scalars())
    more = len(ids) > page.limit
    ids = ids[: page.limit]
    loaded = {
        p.id: p
        for p in (await session.execute(select(Program).where(Program.id.in_(ids)))).scalars()
    }
    programs = [loaded[i] for i in ids]
    workout_ids = list({uuid.UUID(e["workout_id"]) for p in programs for e in p.schedule})
    names = dict(
        (
            await session.execute(
                select(Workout.id, Workout.name).where(Workout.id.in_(workout_ids))
            )
        ).all()
    )
    ratings = {
        r.program_id: r
        for r in await session.execute(
            select(
                Rating.program_id, func.avg(Rating.stars).label("avg"), func.count().label("count")
            )
            .where(Rating.program_id.in_(ids))
            .group_by(Rating.program_id)
        )
    }
    cursor = None
    if more and terms is not None:
        cursor = encode_cursor(["offset", offset + page.limit])
    elif more:
        cursor = encode_cursor([programs[-1].created_at.isoformat(), str(programs[-1].id)])
    return Page[ProgramOut](
        items=[_out(p, names, ratings.get(p.id)) for p in programs], next_cursor=cursor
    )


# --- assignments -------------------------------------------------------------------------


async def assign_program(
    session: AsyncSession,
    *,
    principal: Principal,
    program_id: uuid.UUID,
    client_id: uuid.UUID,
    start_date: date,
) -> AssignmentOut:
    """Give the program to a client from ``start_date``; emits ``program.assigned``."""
    gym_id = staff_gym(principal)
    program = await access_program(session, principal=principal, program_id=program_id)
    await access_client(session, principal=principal, client_id=client_id)
    ids = list({uuid.UUID(e["workout_id"]) for e in program.schedule})
    versions = dict(
        (
            await session.execute(select(Workout.id, Workout.version).where(Workout.id.in_(ids)))
        ).all()
    )
    schedule = [
        {**e, "workout_version": versions[uuid.UUID(e["workout_id"])]} for e in program.schedule
    ]
    assignment = ProgramAssignment(
        id=uuid.uuid4(),
        gym_id=gym_id,
        program_id=program.id,
        client_id=client_id,
        assigned_by=principal.user_id,
        start_date=start_date,
        end_date=end_date(start_date, duration_weeks=program.duration_weeks),
        schedule=schedule,
    )
    session.add(assignment)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        if unique_violation(exc):
            raise Conflict(
                "This program is already assigned to this client from that date"
            ) from None
        raise
    await session.refresh(assignment)
    await plan.write_sessions(session, [assignment])
    await outbox.add(
        session,
        outbox.Event(
            type=events.PROGRAM_ASSIGNED,
            gym_id=gym_id,
            actor_id=principal.user_id,
            data={
                "assignment_id": str(assignment.id),
                "program_id": str(program.id),
                "program_name": program.name,
                "client_id": str(client_id),
                "assigned_by": str(principal.user_id),
                "start_date": start_date.isoformat(),
                "end_date": assignment.end_date.isoformat(),
                "sessions": len(schedule),
            },
        ),
    )
    return _assignment_out(assignment, program.name)


def _assignment_out(
    assignment: ProgramAssignment | Row[Any], program_name: str | None
) -> AssignmentOut:
    return AssignmentOut(
        id=assignment.id,
        program_id=assignment.program_id,
        program_name=program_name,
        client_id=assignment.client_id,
        assigned_by=assignment.assigned_by,
        start_date=assignment.start_date,
        end_date=assignment.end_date,
        status=assignment.status,
        created_at=assignment.created_at,
    )


async def list_assignments(
    session: AsyncSession,
    *,
    principal: Principal,
    client_id: uuid.UUID | None,
    page: PageParams,
) -> Page[AssignmentOut]:
    """A client's assignments (clients: their own; trainers: their clients'; owner: any)."""
    if principal.role is Role.client:
        client_id = client_id or principal.user_id
    where = []
    params: dict[str, Any] = {"limit": page.limit + 1}
    if client_id is not None:
        await access_client(session, principal=principal, client_id=client_id)
        where.append("a.client_id = :client")
        params["client"] = client_id
    elif principal.role is Role.trainer:
        where.append(
            "a.client_id IN (SELECT client_id FROM training.trainer_clients WHERE trainer_id = :me)"
        )
        params["me"] = principal.user_id
    elif not principal.is_admin:
        where.append("a.gym_id = :gym")
        params["gym"] = principal.gym_id
    if page.after:
        try:
            params["after_start"] = date.fromisoformat(page.after[0])
            params["after_id"] = uuid.UUID(page.after[1])
        except (ValueError, IndexError, TypeError):
            raise Invalid("malformed cursor", loc=["query", "cursor"]) from None
        where.append("(a.start_date, a.id) > (:after_start, :after_id)")
    sql = (
        "SELECT a.id, a.program_id, p.name AS program_name, a.client_id, a.assigned_by,"
        " a.start_date, a.end_date, a.status, a.created_at"
        " FROM training.program_assignments a JOIN training.programs p ON p.id = a.program_id"
        f" WHERE {' AND '.join(where) or 'true'} ORDER BY a.start_date, a.id LIMIT :limit"
    )
    rows = list(await session.execute(text(sql), params))
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    cursor = encode_cursor([rows[-1].start_date.isoformat(), str(rows[-1].id)]) if more else None
    return Page[AssignmentOut](
        items=[_assignment_out(r, r.program_name) for r in rows], next_cursor=cursor
    )


async def cancel_assignment(
    session: AsyncSession, *, principal: Principal, assignment_id: uuid.UUID
) -> AssignmentOut:
    staff_gym(principal)
    assignment = await session.get(ProgramAssignment, assignment_id)
    if assignment is None or assignment.gym_id != principal.gym_id:
        raise NotFound("No such assignment")
    await access_client(session, principal=principal, client_id=assignment.client_id)
    assignment.status = "cancelled"
    await session.flush()
    await plan.write_sessions(session, [assignment])
    program = await session.get_one(Program, assignment.program_id)
    return _assignment_out(assignment, program.name)


async def my_plan(
    session: AsyncSession, *, principal: Principal, start: date, end: date
) -> PlanOut:
    """The client's plan as a model, for in-process callers (pages, the demo seed);
    the endpoint sends ``plan.my_plan``'s JSON as it is."""
    document = json.loads(
        await plan.my_plan(await session.connection(), principal=principal, start=start, end=end)
    )
    document["from_date"], document["to_date"] = document.pop("from"), document.pop("to")
    return PlanOut.model_validate(document)
