"""Trainers' published hours and the free slots computed from them."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.kernel import clock
from fitsync.kernel.auth import Principal
from fitsync.kernel.errors import Invalid
from fitsync.scheduling import domain
from fitsync.scheduling.models import (
    Availability,
    TrainingSession,
)
from fitsync.scheduling.schemas import (
    AvailabilityIn,
    AvailabilityOut,
    SlotOut,
    SlotsOut,
)
from fitsync.scheduling.service.access import gym_rules, gym_trainer, require_staff_of


def availability_of(row: Availability | None) -> domain.Availability:
    if row is None:
        return domain.Availability()
    body = AvailabilityIn.model_validate(
        {
            "rules": row.rules,
            "exceptions": row.exceptions,
            "breaks": row.breaks,
            "slot_minutes": row.slot_minutes,
            "durations": row.durations,
        }
    )
    return domain.Availability(
        rules=tuple(domain.WeeklyRule(r.weekday, r.start_time, r.end_time) for r in body.rules),
        exceptions=tuple(
            domain.DateException(e.date, e.start_time, e.end_time, e.unavailable)
            for e in body.exceptions
        ),
        breaks=tuple(domain.WeeklyRule(b.weekday, b.start_time, b.end_time) for b in body.breaks),
        slot_minutes=body.slot_minutes,
        durations=tuple(body.durations),
    )


async def set_availability(
    session: AsyncSession, *, principal: Principal, trainer_id: uuid.UUID, body: AvailabilityIn
) -> AvailabilityOut:
    trainer = await gym_trainer(session, principal, trainer_id)
    require_staff_of(principal, trainer.id)
    assert trainer.gym_id is not None
    values = body.model_dump(mode="json")
    now = clock.now()
    statement = pg_insert(Availability).values(
        trainer_id=trainer.id, gym_id=trainer.gym_id, updated_at=now, **values
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[Availability.trainer_id], set_={**values, "updated_at": now}
        )
    )
    rules = await gym_rules(session, trainer.gym_id)
    return AvailabilityOut(
        trainer_id=trainer.id, timezone=rules.tz.key, updated_at=now, **body.model_dump()
    )


async def get_availability(
    session: AsyncSession, *, principal: Principal, trainer_id: uuid.UUID
) -> AvailabilityOut:
    trainer = await gym_trainer(session, principal, trainer_id)
    assert trainer.gym_id is not None
    row = await session.get(Availability, trainer.id)
    rules = await gym_rules(session, trainer.gym_id)
    body = (
        AvailabilityIn.model_validate(
            {
                "rules": row.rules,
                "exceptions": row.exceptions,
                "breaks": row.breaks,
                "slot_minutes": row.slot_minutes,
                "durations": row.durations,
            }
        )
        if row
        else AvailabilityIn(rules=[])
    )
    return AvailabilityOut(
        trainer_id=trainer.id,
        timezone=rules.tz.key,
        updated_at=row.updated_at if row else None,
        **body.model_dump(),
    )


async def _busy(
    session: AsyncSession, trainer_id: uuid.UUID, start: datetime, end: datetime
) -> list[domain.Busy]:
    rows = await session.execute(
        select(TrainingSession.starts_at, TrainingSession.busy_until).where(
            TrainingSession.trainer_id == trainer_id,
            TrainingSession.status == "scheduled",
            func.tstzrange(TrainingSession.starts_at, TrainingSession.busy_until).op("&&")(
                func.tstzrange(start, end)
            ),
        )
    )
    return [domain.Busy(r.starts_at, r.busy_until) for r in rows]


def check_duration(
    availability: domain.Availability, duration_minutes: int, loc: list[str | int]
) -> None:
    if duration_minutes not in availability.durations:
        allowed = ", ".join(str(d) for d in availability.durations)
        raise Invalid(f"This trainer offers sessions of {allowed} minutes", loc=loc)


async def list_slots(
    session: AsyncSession,
    *,
    principal: Principal,
    trainer_id: uuid.UUID,
    window_from: datetime | None,
    window_to: datetime | None,
    duration_minutes: int,
) -> SlotsOut:
    """Free bookable slots: availability minus taken sessions and buffers, never past."""
    trainer = await gym_trainer(session, principal, trainer_id)
    assert trainer.gym_id is not None
    now = clock.now()
    start = window_from or now
    end = window_to or start + timedelta(days=7)
    if end <= start:
        raise Invalid("'to' must be after 'from'", loc=["query", "to"])
    if end - start > domain.MAX_SLOT_WINDOW:
        raise Invalid(
            f"ask for at most {domain.MAX_SLOT_WINDOW.days} days at a time", loc=["query", "to"]
        )
    availability = availability_of(await session.get(Availability, trainer.id))
    check_duration(availability, duration_minutes, ["query", "duration"])
    rules = await gym_rules(session, trainer.gym_id)
    end = min(end, now + rules.horizon)
    if end <= start:
        return SlotsOut(items=[])
    duration = timedelta(minutes=duration_minutes)
    busy = await _busy(session, trainer.id, start - rules.buffer, end + rules.buffer)
    slots = domain.free_slots(
        availability,
        tz=rules.tz,
        window_from=start,
        window_to=end,
        duration=duration,
        buffer=rules.buffer,
        busy=busy,
        now=now,
    )
    return SlotsOut(items=[SlotOut(starts_at=s, ends_at=e) for s, e in slots])
