"""Progress analytics, ready for charts: weekly volume, adherence, PR history, training load
and ACWR, body-metric trends for a client; weekly aggregates for the gym.

Weeks are ISO weeks (Monday first) in the gym's time zone.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.kernel import clock
from fitsync.kernel.auth import Principal, Role
from fitsync.kernel.errors import Forbidden, Invalid
from fitsync.progress import domain, service
from fitsync.progress.access import Level, subject
from fitsync.progress.exercises import ExerciseCatalog
from fitsync.progress.models import Activity, RecordHistory, WorkoutLog, WorkoutSet
from fitsync.progress.schemas import (
    AdherenceWeekOut,
    GymWeekOut,
    LoadPointOut,
    RecordHistoryOut,
    WeekVolumeOut,
)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _weeks(last: date, count: int) -> list[date]:
    end = _monday(last)
    return [end - timedelta(weeks=i) for i in range(count - 1, -1, -1)]


async def weekly_volume(
    session: AsyncSession,
    catalog: ExerciseCatalog,
    *,
    principal: Principal,
    client_id: uuid.UUID,
    weeks: int,
) -> list[WeekVolumeOut]:
    """Σ reps x load of working sets per week, split by primary muscle of the exercise."""
    client = await subject(session, principal, client_id, level=Level.aggregate)
    tz = await service.gym_zone(session, client.gym_id)
    today = clock.now().astimezone(tz).date()
    mondays = _weeks(today, weeks)
    rows = (
        await session.execute(
            select(
                WorkoutSet.log_id,
                WorkoutSet.performed_at,
                WorkoutSet.exercise_id,
                WorkoutSet.reps,
                WorkoutSet.load_kg,
                WorkoutSet.warmup,
            ).where(
                WorkoutSet.user_id == client.id,
                WorkoutSet.performed_at >= clock.now() - timedelta(weeks=weeks, days=7),
            )
        )
    ).all()
    refs = await catalog.describe(session, {r.exercise_id for r in rows if r.exercise_id})
    volume: dict[date, float] = defaultdict(float)
    sets: dict[date, int] = defaultdict(int)
    logs: dict[date, set[uuid.UUID]] = defaultdict(set)
    muscles: dict[date, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for r in rows:
        week = _monday(r.performed_at.astimezone(tz).date())
        logs[week].add(r.log_id)
        if r.warmup:
            continue
        sets[week] += 1
        if r.reps and r.load_kg:
            kg = r.reps * r.load_kg
            volume[week] += kg
            ref = refs.get(r.exercise_id) if r.exercise_id else None
            muscle = ref.muscles[0] if ref and ref.muscles else "unassigned"
            muscles[week][muscle] += kg
    return [
        WeekVolumeOut(
            week_start=m,
            workouts=len(logs[m]),
            sets=sets[m],
            volume_kg=round(volume[m], 1),
            by_muscle={k: round(v, 1) for k, v in sorted(muscles[m].items())},
        )
        for m in mondays
    ]


async def adherence(
    session: AsyncSession, *, principal: Principal, client_id: uuid.UUID, weeks: int
) -> list[AdherenceWeekOut]:
    client = await subject(session, principal, client_id, level=Level.aggregate)
    tz = await service.gym_zone(session, client.gym_id)
    mondays = _weeks(clock.now().astimezone(tz).date(), weeks)
    rows = (
        await session.execute(
            select(WorkoutLog.performed_at, WorkoutLog.workout_id, WorkoutLog.adherence).where(
                WorkoutLog.user_id == client.id,
                WorkoutLog.performed_at >= clock.now() - timedelta(weeks=weeks, days=7),
            )
        )
    ).all()
    done: dict[date, int] = defaultdict(int)
    planned: dict[date, int] = defaultdict(int)
    ratios: dict[date, list[float]] = defaultdict(list)
    for r in rows:
        week = _monday(r.performed_at.astimezone(tz).date())
        done[week] += 1
        if r.workout_id is not None:
            planned[week] += 1
        if r.adherence is not None:
            ratios[week].append(r.adherence)
    return [
        AdherenceWeekOut(
            week_start=m,
            workouts=done[m],
            planned_workouts=planned[m],
            adherence=round(sum(ratios[m]) / len(ratios[m]), 3) if ratios[m] else None,
        )
        for m in mondays
    ]


async def record_history(
    session: AsyncSession, *, principal: Principal, client_id: uuid.UUID
) -> list[RecordHistoryOut]:
    client = await subject(session, principal, client_id, level=Level.aggregate)
    rows = (
        await session.execute(
            select(RecordHistory)
            .where(RecordHistory.user_id == client.id)
            .order_by(RecordHistory.performed_at, RecordHistory.id)
            .limit(2000)
        )
    ).scalars()
    return [_history_out(r) for r in rows]


async def latest_records(
    session: AsyncSession, *, principal: Principal, client_id: uuid.UUID, limit: int
) -> list[RecordHistoryOut]:
    """The ``limit`` latest improvements of the PR history, newest first."""
    client = await subject(session, principal, client_id, level=Level.aggregate)
    rows = (
        await session.execute(
            select(RecordHistory)
            .where(RecordHistory.user_id == client.id)
            .order_by(RecordHistory.performed_at.desc(), RecordHistory.id.desc())
            .limit(limit)
        )
    ).scalars()
    return [_history_out(r) for r in rows]


def _history_out(r: RecordHistory) -> RecordHistoryOut:
    return RecordHistoryOut(
        performed_at=r.performed_at,
        exercise_id=r.exercise_id,
        exercise_name=r.exercise_name,
        reps=r.reps,
        load_kg=r.load_kg,
        previous_kg=r.previous_kg,
        e1rm_kg=r.e1rm_kg,
    )


async def training_load(
    session: AsyncSession, *, principal: Principal, client_id: uuid.UUID, days: int
) -> list[LoadPointOut]:
    """Daily TRIMP of imported activities with the 7-day:28-day acute:chronic ratio."""
    client = await subject(session, principal, client_id, level=Level.aggregate)
    tz = await service.gym_zone(session, client.gym_id)
    today = clock.now().astimezone(tz).date()
    start = today - timedelta(days=days - 1)
    rows = (
        await session.execute(
            select(Activity.started_at, Activity.trimp).where(
                Activity.user_id == client.id,
                Activity.started_at >= clock.now() - timedelta(days=days + 29),
                Activity.trimp.is_not(None),
            )
        )
    ).all()
    daily: dict[date, float] = defaultdict(float)
    for r in rows:
        daily[r.started_at.astimezone(tz).date()] += r.trimp or 0.0
    return [
        LoadPointOut(date=p.day, load=p.load, acute=p.acute, chronic=p.chronic, acwr=p.acwr)
        for p in domain.training_load(daily, start, today)
    ]


async def gym_weeks(
    session: AsyncSession, *, principal: Principal, gym_id: uuid.UUID | None, weeks: int
) -> list[GymWeekOut]:
    """Per week: clients active, workouts logged, activities imported, volume lifted."""
    if principal.role not in (Role.gym_owner, Role.trainer, Role.admin):
        raise Forbidden("Gym analytics are for the gym's staff")
    if principal.is_admin:
        if gym_id is None:
            raise Invalid("gym_id is required for admins", loc=["query", "gym_id"])
    else:
        gym_id = principal.gym_id
    assert gym_id is not None
    tz = await service.gym_zone(session, gym_id)
    mondays = _weeks(clock.now().astimezone(tz).date(), weeks)
    since = clock.now() - timedelta(weeks=weeks, days=7)
    zone = str(tz)

    def week(column: Any) -> Any:
        return func.date_trunc("week", func.timezone(zone, column))

    logs = (
        await session.execute(
            select(
                week(WorkoutLog.performed_at).label("w"),
                func.count(),
                func.array_agg(func.distinct(WorkoutLog.user_id)),
            )
            .where(WorkoutLog.gym_id == gym_id, WorkoutLog.performed_at >= since)
            .group_by("w")
        )
    ).all()
    volume = (
        await session.execute(
            select(
                week(WorkoutSet.performed_at).label("w"),
                func.coalesce(func.sum(WorkoutSet.reps * WorkoutSet.load_kg), 0.0),
            )
            .where(
                WorkoutSet.gym_id == gym_id,
                WorkoutSet.performed_at >= since,
                WorkoutSet.warmup.is_(False),
            )
            .group_by("w")
        )
    ).all()
    acts = (
        await session.execute(
            select(
                week(Activity.started_at).label("w"),
                func.count(),
                func.array_agg(func.distinct(Activity.user_id)),
            )
            .where(Activity.gym_id == gym_id, Activity.started_at >= since)
            .group_by("w")
        )
    ).all()
    workouts = {r[0].date(): r[1] for r in logs}
    activities = {r[0].date(): r[1] for r in acts}
    active: dict[date, set[uuid.UUID]] = defaultdict(set)
    for r in (*logs, *acts):
        active[r[0].date()].update(r[2])
    kg = {r[0].date(): float(r[1] or 0) for r in volume}
    return [
        GymWeekOut(
            week_start=m,
            active_clients=len(active[m]),
            workouts=workouts.get(m, 0),
            activities=activities.get(m, 0),
            volume_kg=round(kg.get(m, 0.0), 1),
        )
        for m in mondays
    ]
