"""Progress's use cases: settings, body metrics, workout logs with records and achievements,
fitness assessments. Wearable activities are in ``activities.py``, charts in ``analytics.py``.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.gyms import public as gyms
from fitsync.kernel import clock, outbox
from fitsync.kernel.auth import Principal
from fitsync.kernel.db import unique_violation
from fitsync.kernel.errors import AppError, Conflict, Invalid
from fitsync.kernel.pagination import Page, PageParams, encode_cursor
from fitsync.progress import domain, events, imports
from fitsync.progress.access import Level, subject
from fitsync.progress.exercises import ExerciseCatalog
from fitsync.progress.models import (
    Achievement,
    Assessment,
    AthleteStats,
    BodyMetric,
    PersonalRecord,
    Profile,
    RecordHistory,
    WorkoutLog,
    WorkoutSet,
)
from fitsync.progress.schemas import (
    AchievementOut,
    AchievementsOut,
    AssessmentIn,
    AssessmentOut,
    BodyMetricIn,
    BodyMetricOut,
    DisplayOut,
    EntryIn,
    EntryOut,
    ImportReportOut,
    NewRecordOut,
    ProfileIn,
    ProfileOut,
    RecordOut,
    RecordsOut,
    RepRecordOut,
    SetOut,
    TrendOut,
    TrendPoint,
    WorkoutLogIn,
    WorkoutLogOut,
    ZoneOut,
)

# ---------------------------------------------------------------- settings


async def get_profile(session: AsyncSession, user_id: uuid.UUID) -> Profile | None:
    return await session.get(Profile, user_id)


def hr_profile(profile: Profile | None) -> domain.HrProfile:
    if profile is None:
        return domain.HrProfile()
    return domain.HrProfile(
        max_hr=profile.max_hr or domain.DEFAULT_MAX_HR,
        resting_hr=profile.resting_hr or domain.DEFAULT_RESTING_HR,
        female=profile.female,
    )


def _profile_out(client_id: uuid.UUID, profile: Profile | None) -> ProfileOut:
    hp = hr_profile(profile)
    floors = hp.zone_floors()
    zones = [
        ZoneOut(zone=i + 1, min_hr=floors[i], max_hr=(floors[i + 1] - 1) if i < 4 else hp.max_hr)
        for i in range(5)
    ]
    return ProfileOut(
        client_id=client_id,
        units="imperial" if profile and profile.units == "imperial" else "metric",
        max_hr=profile.max_hr if profile else None,
        resting_hr=profile.resting_hr if profile else None,
        female=bool(profile and profile.female),
        zones=zones,
    )


async def read_profile(
    session: AsyncSession, *, principal: Principal, client_id: uuid.UUID | None
) -> ProfileOut:
    client = await subject(session, principal, client_id, level=Level.read)
    return _profile_out(client.id, await get_profile(session, client.id))


async def update_profile(
    session: AsyncSession, *, principal: Principal, client_id: uuid.UUID | None, body: ProfileIn
) -> ProfileOut:
    client = await subject(session, principal, client_id, level=Level.write)
    assert client.gym_id is not None
    changes = body.model_dump(exclude_unset=True)
    values = {k: v for k, v in changes.items() if v is not None or k in ("max_hr", "resting_hr")}
    statement = pg_insert(Profile).values(user_id=client.id, gym_id=client.gym_id, **values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[Profile.user_id], set_={**values, "updated_at": clock.now()}
        )
        if values
        else statement.on_conflict_do_nothing()
    )
    profile = await session.get(Profile, client.id, populate_existing=True)
    hp = hr_profile(profile)
    if hp.resting_hr >= hp.max_hr - 20:
        raise Invalid("resting_hr must be well below max_hr", loc=["body", "resting_hr"])
    return _profile_out(client.id, profile)


# ---------------------------------------------------------------- body metrics


def _metric_out(row: BodyMetric, units: str) -> BodyMetricOut:
    imperial = units == "imperial"
    weight = row.weight_kg
    display = DisplayOut(
        units="imperial" if imperial else "metric",
        weight=(round(domain.kg_to_lb(weight), 1) if imperial else round(weight, 2))
        if weight is not None
        else None,
        weight_unit="lb" if imperial else "kg",
        measurements={
            key.removesuffix("_cm"): round(domain.cm_to_in(v), 1) if imperial else v
            for key, v in row.measurements.items()
        },
        length_unit="in" if imperial else "cm",
    )
    return BodyMetricOut(
        id=row.id,
        client_id=row.user_id,
        measured_at=row.measured_at,
        weight_kg=row.weight_kg,
        body_fat_pct=row.body_fat_pct,
        measurements=row.measurements,
        display=display,
        created_at=row.created_at,
    )


async def _units(session: AsyncSession, user_id: uuid.UUID, asked: str | None) -> str:
    if asked:
        return asked
    profile = await get_profile(session, user_id)
    return profile.units if profile else "metric"


async def add_body_metric(
    session: AsyncSession, *, principal: Principal, body: BodyMetricIn
) -> BodyMetricOut:
    client = await subject(session, principal, body.client_id, level=Level.write)
    assert client.gym_id is not None
    row = BodyMetric(
        gym_id=client.gym_id,
        user_id=client.id,
        measured_at=body.measured_at,
        weight_kg=body.weight_kg,
        body_fat_pct=body.body_fat_pct,
        measurements=body.measurements or {},
        created_by=principal.user_id,
        created_at=clock.now(),
    )
    session.add(row)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        if unique_violation(exc):
            raise Conflict("There is already a measurement at that time") from None
        raise
    return _metric_out(row, await _units(session, client.id, None))


async def list_body_metrics(
    session: AsyncSession,
    *,
    principal: Principal,
    client_id: uuid.UUID | None,
    units: str | None,
    since: datetime | None,
    until: datetime | None,
    page: PageParams,
) -> Page[BodyMetricOut]:
    client = await subject(session, principal, client_id, level=Level.read)
    query = (
        select(BodyMetric)
        .where(BodyMetric.user_id == client.id)
        .order_by(BodyMetric.measured_at.desc(), BodyMetric.id.desc())
        .limit(page.limit + 1)
    )
    if since:
        query = query.where(BodyMetric.measured_at >= since)
    if until:
        query = query.where(BodyMetric.measured_at < until)
    if page.after:
        at, row_id = _cursor(page.after)
        query = query.where(tuple_(BodyMetric.measured_at, BodyMetric.id) < (at, row_id))
    rows = list((await session.execute(query)).scalars())
    shown = await _units(session, client.id, units)
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    cursor = encode_cursor([rows[-1].measured_at.isoformat(), str(rows[-1].id)]) if more else None
    return Page[BodyMetricOut](items=[_metric_out(r, shown) for r in rows], next_cursor=cursor)


def _cursor(after: list[Any]) -> tuple[datetime, uuid.UUID]:
    try:
        return datetime.fromisoformat(after[0]), uuid.UUID(after[1])
    except (ValueError, IndexError, TypeError):
        raise Invalid("malformed cursor", loc=["query", "cursor"]) from None


async def body_metric_trend(
    session: AsyncSession,
    *,
    principal: Principal,
    client_id: uuid.UUID | None,
    metric: str,
    days: int,
    level: Level = Level.read,
) -> TrendOut:
    """Daily values (the day's last measurement), their 7-day mean, change over 30/90 days."""
    client = await subject(session, principal, client_id, level=level)
    since = clock.now() - timedelta(days=days)
    rows = (
        await session.execute(
            select(
                BodyMetric.measured_at,
                BodyMetric.weight_kg,
                BodyMetric.body_fat_pct,
                BodyMetric.measurements,
            )
            .where(BodyMetric.user_id == client.id, BodyMetric.measured_at >= since)
            .order_by(BodyMetric.measured_at)
        )
    ).all()
    units = {"weight_kg": "kg", "body_fat_pct": "%"}
    if metric not in units and not metric.endswith("_cm"):
        raise Invalid(
            "metric is weight_kg, body_fat_pct or a measurement key ending in _cm",
            loc=["query", "metric"],
        )
    tz = await gym_zone(session, client.gym_id)
    daily: dict[date, float] = {}
    for row in rows:
        if metric == "weight_kg":
            value = row.weight_kg
        elif metric == "body_fat_pct":
            value = row.body_fat_pct
        else:
            value = row.measurements.get(metric)
        if value is not None:
            daily[row.measured_at.astimezone(tz).date()] = float(value)
    points = sorted(daily.items())
    averages = domain.moving_average(points, 7)
    return TrendOut(
        client_id=client.id,
        metric=metric,
        unit=units.get(metric, "cm"),
        points=[
            TrendPoint(date=d, value=v, avg_7d=a)
            for (d, v), a in zip(points, averages, strict=True)
        ],
        latest=points[-1][1] if points else None,
        change_30d=domain.change_over(points, 30),
        change_90d=domain.change_over(points, 90),
    )


async def gym_zone(session: AsyncSession, gym_id: uuid.UUID | None) -> ZoneInfo:
    gym = await gyms.get_gym(session, gym_id) if gym_id else None
    return ZoneInfo(gym.timezone if gym else "UTC")


# ---------------------------------------------------------------- workout logs


@dataclass(frozen=True)
class LoggedWorkout:
    log: WorkoutLogOut | None  # None: this workout had been imported before
    achievements: list[str]


def _set_rows(
    log: WorkoutLog, entries: list[EntryIn], names: dict[int, tuple[uuid.UUID | None, str | None]]
) -> list[dict[str, Any]]:
    rows = []
    for e, entry in enumerate(entries):
        exercise_id, name = names[e]
        key = domain.exercise_key(exercise_id, name)
        for position, s in enumerate(entry.sets):
            rows.append(
                {
                    "log_id": log.id,
                    "entry": e,
                    "position": position,
                    "gym_id": log.gym_id,
                    "user_id": log.user_id,
                    "performed_at": log.performed_at,
                    "exercise_id": exercise_id,
                    "exercise_name": name,
                    "exercise_key": key,
                    "reps": s.reps,
                    "load_kg": s.load_kg,
                    "rpe": s.rpe,
                    "rir": s.rir,
                    "duration_s": s.duration_s,
                    "distance_m": s.distance_m,
                    "warmup": s.warmup,
                }
            )
    return rows


def _log_out(
    log: WorkoutLog, sets: list[dict[str, Any]], records: list[NewRecordOut]
) -> WorkoutLogOut:
    entries: dict[int, EntryOut] = {}
    volume = 0.0
    for s in sorted(sets, key=lambda r: (r["entry"], r["position"])):
        entry = entries.setdefault(
            s["entry"],
            EntryOut(exercise_id=s["exercise_id"], exercise_name=s["exercise_name"], sets=[]),
        )
        if not s["warmup"] and s["reps"] and s["load_kg"]:
            volume += s["reps"] * s["load_kg"]
        entry.sets.append(
            SetOut(
                reps=s["reps"],
                load_kg=s["load_kg"],
                rpe=s["rpe"],
                rir=s["rir"],
                duration_s=s["duration_s"],
                distance_m=s["distance_m"],
                warmup=s["warmup"],
                e1rm_kg=None if s["warmup"] else domain.e1rm(s["load_kg"], s["reps"] or 0),
            )
        )
    return WorkoutLogOut(
        id=log.id,
        client_id=log.user_id,
        performed_at=log.performed_at,
        workout_id=log.workout_id,
        title=log.title,
        duration_s=log.duration_s,
        notes=log.notes,
        adherence=log.adherence,
        source=log.source,
        volume_kg=round(volume, 2),
        entries=list(entries.values()),
        records=records,
        created_at=log.created_at,
    )


async def log_workout(
    session: AsyncSession,
    catalog: ExerciseCatalog,
    *,
    principal: Principal,
    body: WorkoutLogIn,
    source: str = "api",
    source_key: str | None = None,
) -> LoggedWorkout:
    """Record a workout; detect personal records and award achievements, each exactly once.

    One client's logs are serialised by the row lock on their ``athlete_stats`` row (taken
    first), so counts, records and streaks are decided on committed data
    even when logs arrive concurrently; unique constraints back every award.
    """
    client = await subject(session, principal, body.client_id, level=Level.write)
    gym_id = client.gym_id
    assert gym_id is not None
    ids = {e.exercise_id for e in body.entries if e.exercise_id is not None}
    unknown = await catalog.unknown(session, ids)
    if unknown:
        raise Invalid(f"unknown exercise {sorted(map(str, unknown))[0]}", loc=["body", "entries"])
    described = await catalog.describe(session, ids)
    matched = await catalog.match(
        session,
        {e.exercise_name for e in body.entries if e.exercise_id is None and e.exercise_name},
    )
    names: dict[int, tuple[uuid.UUID | None, str | None]] = {}
    for i, entry in enumerate(body.entries):
        if entry.exercise_id is not None:
            ref = described.get(entry.exercise_id)
            names[i] = (entry.exercise_id, entry.exercise_name or (ref.name if ref else None))
        else:
            assert entry.exercise_name is not None
            ref = matched.get(entry.exercise_name)
            names[i] = (ref.id, ref.name) if ref else (None, entry.exercise_name)

    # First the lock that serialises this client's logging (their stats row), so that
    # counts, records and streaks are decided one log at a time and no two imports can
    # wait on each other's workouts (no deadlock).
    await session.execute(
        pg_insert(AthleteStats)
        .values(user_id=client.id, gym_id=gym_id, workouts=0)
        .on_conflict_do_update(
            index_elements=[AthleteStats.user_id], set_={"workouts": AthleteStats.workouts}
        )
    )
    now = clock.now()
    log_id = uuid.uuid4()
    inserted = await session.execute(
        pg_insert(WorkoutLog)
        .values(
            id=log_id,
            gym_id=gym_id,
            user_id=client.id,
            performed_at=body.performed_at,
            workout_id=body.workout_id,
            title=body.title,
            duration_s=body.duration_s,
            notes=body.notes,
            source=source,
            source_key=source_key,
            created_by=principal.user_id,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=[WorkoutLog.user_id, WorkoutLog.source_key])
        .returning(WorkoutLog.id)
    )
    if inserted.first() is None:
        return LoggedWorkout(log=None, achievements=[])
    log = await session.get_one(WorkoutLog, log_id)

    count = (
        await session.execute(
            update(AthleteStats)
            .where(AthleteStats.user_id == client.id)
            .values(workouts=AthleteStats.workouts + 1)
            .returning(AthleteStats.workouts)
        )
    ).scalar_one()

    rows = _set_rows(log, body.entries, names)
    await session.execute(insert(WorkoutSet), rows)

    if body.workout_id is not None:
        planned = await catalog.planned_sets(session, body.workout_id)
        if planned:
            done: dict[uuid.UUID, int] = defaultdict(int)
            for r in rows:
                if r["exercise_id"] is not None and not r["warmup"]:
                    done[r["exercise_id"]] += 1
            ratio = sum(min(done[x], n) for x, n in planned.items()) / sum(planned.values())
            log.adherence = round(ratio, 3)

    await outbox.add(
        session,
        outbox.Event(
            type=events.WORKOUT_LOGGED,
            gym_id=gym_id,
            actor_id=principal.user_id,
            data={
                "log_id": str(log.id),
                "client_id": str(client.id),
                "performed_at": log.performed_at.isoformat(),
                "workout_id": str(log.workout_id) if log.workout_id else None,
                "sets": len(rows),
                "source": source,
            },
        ),
    )
    records = await _detect_records(session, log, rows)
    earned: list[tuple[str, str, str, dict[str, Any]]] = []
    for record in records:
        if record.previous_kg is not None:
            label = record.exercise_name or "an exercise"
            earned.append(
                (
                    domain.pr_code(_key(record), record.reps, record.load_kg),
                    "pr",
                    f"New record: {label}, {record.reps} x {record.load_kg:g} kg",
                    record.model_dump(mode="json"),
                )
            )
    milestone = domain.milestone_for(count)
    if milestone:
        earned.append((milestone, "milestone", _MILESTONE_TITLES[milestone], {"workouts": count}))
    if await _has_streak(session, client.id, client.gym_id):
        earned.append(
            (
                domain.STREAK_CODE,
                "streak",
                f"{domain.STREAK_WEEKS} weeks in a row",
                {"weeks": domain.STREAK_WEEKS},
            )
        )
    codes = []
    for code, kind, title, data in earned:
        if await _award(session, principal, gym_id, client.id, code, kind, title, data, log.id):
            codes.append(code)

    return LoggedWorkout(log=_log_out(log, rows, records), achievements=codes)


def _key(record: NewRecordOut) -> str:
    return domain.exercise_key(record.exercise_id, record.exercise_name)


_MILESTONE_TITLES = {
    "first_workout": "First workout logged",
    "workouts_10": "10 workouts",
    "workouts_50": "50 workouts",
    "workouts_100": "100 workouts",
}


async def _detect_records(
    session: AsyncSession, log: WorkoutLog, rows: list[dict[str, Any]]
) -> list[NewRecordOut]:
    """Best load per (exercise, reps) in this log against the standing records."""
    best: dict[tuple[str, int], dict[str, Any]] = {}
    for r in rows:
        if r["warmup"] or not r["reps"] or not r["load_kg"]:
            continue
        slot = (r["exercise_key"], r["reps"])
        if slot not in best or r["load_kg"] > best[slot]["load_kg"]:
            best[slot] = r
    if not best:
        return []
    standing = {
        (rec.exercise_key, rec.reps): rec.load_kg
        for rec in (
            await session.execute(
                select(PersonalRecord).where(
                    PersonalRecord.user_id == log.user_id,
                    PersonalRecord.exercise_key.in_({k for k, _ in best}),
                )
            )
        ).scalars()
    }
    found = []
    for (key, reps), r in sorted(best.items()):
        previous = standing.get((key, reps))
        if previous is not None and r["load_kg"] <= previous:
            continue
        e1 = domain.e1rm(r["load_kg"], reps)
        values = {
            "user_id": log.user_id,
            "exercise_key": key,
            "reps": reps,
            "gym_id": log.gym_id,
            "exercise_id": r["exercise_id"],
            "exercise_name": r["exercise_name"],
            "load_kg": r["load_kg"],
            "e1rm_kg": e1,
            "performed_at": log.performed_at,
            "log_id": log.id,
        }
        statement = pg_insert(PersonalRecord).values(**values)
        changed = await session.execute(
            statement.on_conflict_do_update(
                index_elements=[
                    PersonalRecord.user_id,
                    PersonalRecord.exercise_key,
                    PersonalRecord.reps,
                ],
                set_={k: statement.excluded[k] for k in values if k not in ("user_id", "reps")},
                where=PersonalRecord.load_kg < statement.excluded.load_kg,
            ).returning(PersonalRecord.reps)
        )
        if changed.first() is None:
            continue
        await session.execute(
            insert(RecordHistory).values(
                gym_id=log.gym_id,
                user_id=log.user_id,
                exercise_key=key,
                exercise_id=r["exercise_id"],
                exercise_name=r["exercise_name"],
                reps=reps,
                load_kg=r["load_kg"],
                previous_kg=previous,
                e1rm_kg=e1,
                performed_at=log.performed_at,
                log_id=log.id,
            )
        )
        found.append(
            NewRecordOut(
                exercise_id=r["exercise_id"],
                exercise_name=r["exercise_name"],
                reps=reps,
                load_kg=r["load_kg"],
                previous_kg=previous,
                e1rm_kg=e1,
            )
        )
    return found


async def _has_streak(session: AsyncSession, user_id: uuid.UUID, gym_id: uuid.UUID | None) -> bool:
    tz = await gym_zone(session, gym_id)
    already = await session.scalar(
        select(Achievement.id).where(
            Achievement.user_id == user_id, Achievement.code == domain.STREAK_CODE
        )
    )
    if already:
        return False
    times = (
        await session.execute(select(WorkoutLog.performed_at).where(WorkoutLog.user_id == user_id))
    ).scalars()
    return domain.longest_week_streak(t.astimezone(tz).date() for t in times) >= domain.STREAK_WEEKS


async def _award(
    session: AsyncSession,
    principal: Principal,
    gym_id: uuid.UUID,
    user_id: uuid.UUID,
    code: str,
    kind: str,
    title: str,
    data: dict[str, Any],
    log_id: uuid.UUID | None,
) -> bool:
    """Insert the achievement unless earned before; emit ``achievement.earned`` if new."""
    achievement_id = uuid.uuid4()
    earned_at = clock.now()
    row = (
        await session.execute(
            pg_insert(Achievement)
            .values(
                id=achievement_id,
                gym_id=gym_id,
                user_id=user_id,
                code=code,
                kind=kind,
                title=title,
                data=data,
                earned_at=earned_at,
            )
            .on_conflict_do_nothing(index_elements=[Achievement.user_id, Achievement.code])
            .returning(Achievement.id)
        )
    ).first()
    if row is None:
        return False
    await outbox.add(
        session,
        outbox.Event(
            type=events.ACHIEVEMENT_EARNED,
            gym_id=gym_id,
            actor_id=principal.user_id,
            data={
                "achievement_id": str(achievement_id),
                "client_id": str(user_id),
                "code": code,
                "kind": kind,
                "title": title,
                "name": title,  # what notifications show
                "log_id": str(log_id) if log_id else None,
                "earned_at": earned_at.isoformat(),
            },
        ),
    )
    return True


async def list_workout_logs(
    session: AsyncSession,
    *,
    principal: Principal,
    client_id: uuid.UUID | None,
    since: datetime | None,
    until: datetime | None,
    page: PageParams,
) -> Page[WorkoutLogOut]:
    client = await subject(session, principal, client_id, level=Level.read)
    query = (
        select(WorkoutLog)
        .where(WorkoutLog.user_id == client.id)
        .order_by(WorkoutLog.performed_at.desc(), WorkoutLog.id.desc())
        .limit(page.limit + 1)
    )
    if since:
        query = query.where(WorkoutLog.performed_at >= since)
    if until:
        query = query.where(WorkoutLog.performed_at < until)
    if page.after:
        at, row_id = _cursor(page.after)
        query = query.where(tuple_(WorkoutLog.performed_at, WorkoutLog.id) < (at, row_id))
    logs = list((await session.execute(query)).scalars())
    more = len(logs) > page.limit
    logs = logs[: page.limit]
    sets: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    if logs:
        for s in (
            await session.execute(
                select(WorkoutSet).where(WorkoutSet.log_id.in_([log.id for log in logs]))
            )
        ).scalars():
            sets[s.log_id].append({c: getattr(s, c) for c in (*_SET_FIELDS,)})
    cursor = encode_cursor([logs[-1].performed_at.isoformat(), str(logs[-1].id)]) if more else None
    return Page[WorkoutLogOut](
        items=[_log_out(log, sets[log.id], []) for log in logs], next_cursor=cursor
    )


_SET_FIELDS = (
    "entry",
    "position",
    "exercise_id",
    "exercise_name",
    "reps",
    "load_kg",
    "rpe",
    "rir",
    "duration_s",
    "distance_m",
    "warmup",
)


async def list_records(
    session: AsyncSession, *, principal: Principal, client_id: uuid.UUID | None
) -> RecordsOut:
    client = await subject(session, principal, client_id, level=Level.read)
    rows = (
        await session.execute(
            select(PersonalRecord)
            .where(PersonalRecord.user_id == client.id)
            .order_by(PersonalRecord.exercise_key, PersonalRecord.reps)
        )
    ).scalars()
    grouped: dict[str, list[PersonalRecord]] = defaultdict(list)
    for rec in rows:
        grouped[rec.exercise_key].append(rec)
    items = []
    for recs in grouped.values():
        by_reps = [
            RepRecordOut(
                reps=r.reps, load_kg=r.load_kg, e1rm_kg=r.e1rm_kg, performed_at=r.performed_at
            )
            for r in recs
        ]
        estimated = [r for r in recs if r.e1rm_kg is not None]
        top = max(estimated, key=lambda r: r.e1rm_kg or 0) if estimated else None
        heaviest = max(recs, key=lambda r: (r.load_kg, r.reps))
        best = top or heaviest
        items.append(
            RecordOut(
                exercise_id=recs[0].exercise_id,
                exercise_name=recs[0].exercise_name,
                e1rm_kg=top.e1rm_kg if top else None,
                e1rm_brzycki_kg=domain.e1rm_brzycki(top.load_kg, top.reps) if top else None,
                best=RepRecordOut(
                    reps=best.reps,
                    load_kg=best.load_kg,
                    e1rm_kg=best.e1rm_kg,
                    performed_at=best.performed_at,
                ),
                by_reps=by_reps,
            )
        )
    items.sort(key=lambda r: -(r.e1rm_kg or 0))
    return RecordsOut(items=items)


async def list_achievements(
    session: AsyncSession, *, principal: Principal, client_id: uuid.UUID | None
) -> AchievementsOut:
    client = await subject(session, principal, client_id, level=Level.read)
    rows = (
        await session.execute(
            select(Achievement)
            .where(Achievement.user_id == client.id)
            .order_by(Achievement.earned_at, Achievement.code)
        )
    ).scalars()
    return AchievementsOut(items=[AchievementOut.model_validate(a) for a in rows])


async def count_workouts(session: AsyncSession, user_id: uuid.UUID) -> int:
    return int(await session.scalar(select(func.count()).where(WorkoutLog.user_id == user_id)) or 0)


# ---------------------------------------------------------------- assessments


async def add_assessment(
    session: AsyncSession, *, principal: Principal, body: AssessmentIn
) -> AssessmentOut:
    client = await subject(session, principal, body.client_id, level=Level.write)
    assert client.gym_id is not None
    inputs = body.model_dump(exclude={"client_id", "assessed_at", "notes"}, exclude_none=True)
    results: dict[str, Any] = {}
    if body.weight_kg is not None and body.height_cm is not None:
        results["bmi"] = {
            "value": domain.bmi(body.weight_kg, body.height_cm),
            "formula": "weight_kg / (height_cm / 100)²",
        }
    if body.cooper_distance_m is not None:
        results["vo2max"] = {
            "value": domain.cooper_vo2max(body.cooper_distance_m),
            "unit": "ml/kg/min",
            "test": "cooper_12min",
            "formula": "(distance_m - 504.9) / 44.73 (Cooper 1968)",
        }
    if body.body_fat_pct is not None:
        results["body_fat_pct"] = {"value": body.body_fat_pct, "method": "as measured"}
    if body.resting_hr is not None:
        results["resting_hr"] = {"value": body.resting_hr, "unit": "bpm"}
    row = Assessment(
        gym_id=client.gym_id,
        user_id=client.id,
        assessed_at=body.assessed_at,
        inputs=inputs,
        results=results,
        notes=body.notes,
        created_by=principal.user_id,
        created_at=clock.now(),
    )
    session.add(row)
    await session.flush()
    return _assessment_out(row)


def _assessment_out(row: Any) -> AssessmentOut:
    return AssessmentOut(
        id=row.id,
        client_id=row.user_id,
        assessed_at=row.assessed_at,
        inputs=row.inputs,
        results=row.results,
        notes=row.notes,
        created_at=row.created_at,
    )


async def list_assessments(
    session: AsyncSession, *, principal: Principal, client_id: uuid.UUID | None
) -> list[AssessmentOut]:
    client = await subject(session, principal, client_id, level=Level.read)
    rows = (
        await session.execute(
            select(Assessment)
            .where(Assessment.user_id == client.id)
            .order_by(Assessment.assessed_at)
            .limit(500)
        )
    ).scalars()
    return [_assessment_out(r) for r in rows]


# ---------------------------------------------------------------- CSV history import


async def import_workout_csv(
    session: AsyncSession,
    catalog: ExerciseCatalog,
    *,
    principal: Principal,
    client_id: uuid.UUID | None,
    data: bytes,
    weight_unit: Literal["kg", "lb"],
    distance_unit: Literal["km", "mi"],
) -> ImportReportOut:
    """Import a Strong or Hevy export; workouts imported before are skipped."""
    client = await subject(session, principal, client_id, level=Level.write)
    tz = await gym_zone(session, client.gym_id)
    try:
        fmt, workouts, names = imports.read(
            data, tz=tz, weight_unit=weight_unit, distance_unit=distance_unit
        )
    except imports.BadCsv as exc:
        raise AppError(str(exc)) from None
    matched = await catalog.match(session, names)
    imported = skipped = sets = 0
    for workout in workouts:
        body = workout.body.model_copy(update={"client_id": client.id})
        result = await log_workout(
            session, catalog, principal=principal, body=body, source=fmt, source_key=workout.key
        )
        if result.log is None:
            skipped += 1
            continue
        imported += 1
        sets += sum(len(e.sets) for e in result.log.entries)
    return ImportReportOut(
        format=fmt,
        workouts_imported=imported,
        workouts_skipped=skipped,
        sets_imported=sets,
        matched={name: ref.id for name, ref in sorted(matched.items())},
        unmatched=sorted(names - set(matched)),
    )
