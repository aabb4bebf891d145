"""Group classes: one-off and recurring, edits, cancellations, rosters."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.kernel import clock, outbox
from fitsync.kernel.auth import Principal, Role
from fitsync.kernel.errors import Conflict, Forbidden, Invalid
from fitsync.kernel.pagination import Page, PageParams, encode_cursor
from fitsync.scheduling import domain, events
from fitsync.scheduling.models import (
    Booking,
    ClassSeries,
    Reminder,
    TrainingSession,
)
from fitsync.scheduling.schemas import (
    BookingOut,
    ClassCreatedOut,
    ClassIn,
    ClassOut,
    ClassUpdateIn,
)
from fitsync.scheduling.service.access import (
    GymRules,
    gym_rules,
    gym_trainer,
    page_after,
    require_staff_of,
    visible,
)
from fitsync.scheduling.service.seats import (
    ACTIVE_STATUSES,
    access_class,
    booking_out,
    bookings_query,
    class_out,
    conflict_detail,
    fill_from_waitlist,
    overlapping,
    schedule_reminders,
    seats_changed,
)


async def create_class(
    session: AsyncSession, *, principal: Principal, body: ClassIn
) -> ClassCreatedOut:
    if principal.role not in (Role.trainer, Role.gym_owner):
        raise Forbidden("Only trainers and gym owners create classes")
    trainer = await gym_trainer(session, principal, body.trainer_id)
    require_staff_of(principal, trainer.id)
    assert trainer.gym_id is not None
    rules = await gym_rules(session, trainer.gym_id)
    now = clock.now()
    if body.starts_at <= now:
        raise Invalid("The class must start in the future", loc=["body", "starts_at"])
    series_id = None
    starts = [body.starts_at.astimezone(UTC)]
    if body.recurrence is not None:
        try:
            starts = domain.expand_recurrence(body.recurrence, first=body.starts_at, tz=rules.tz)
        except domain.RecurrenceError as exc:
            raise Invalid(f"recurrence: {exc}", loc=["body", "recurrence"]) from None
        starts = [s for s in starts if s > now]
        if not starts:
            raise Invalid("recurrence: every occurrence is in the past", loc=["body", "recurrence"])
        series_id = uuid.uuid4()
        session.add(
            ClassSeries(
                id=series_id,
                gym_id=trainer.gym_id,
                trainer_id=trainer.id,
                title=body.title,
                rrule=body.recurrence,
                first_starts_at=starts[0],
                duration_minutes=body.duration_minutes,
                capacity=body.capacity,
                location=body.location,
                created_by=principal.user_id,
                created_at=now,
            )
        )
        await session.flush()
    duration = timedelta(minutes=body.duration_minutes)
    rows = [
        {
            "id": uuid.uuid4(),
            "gym_id": trainer.gym_id,
            "kind": "class",
            "series_id": series_id,
            "title": body.title,
            "trainer_id": trainer.id,
            "starts_at": start,
            "ends_at": start + duration,
            "busy_until": start + duration + rules.buffer,
            "capacity": body.capacity,
            "location": body.location,
            "created_by": principal.user_id,
            "created_at": now,
            "updated_at": now,
        }
        for start in starts
    ]
    try:
        async with session.begin_nested():
            await session.execute(insert(TrainingSession), rows)
    except IntegrityError:
        other = await overlapping(
            session,
            trainer_id=trainer.id,
            client_id=None,
            spans=[(start, start + duration) for start in starts],
            buffer=rules.buffer,
        )
        raise Conflict(
            "The trainer already has a session at that time",
            conflicts_with=conflict_detail(principal, other) if other else None,
        ) from None
    first = await session.get(TrainingSession, rows[0]["id"])
    assert first is not None
    return ClassCreatedOut(**class_out(first).model_dump(), occurrences=len(rows))


async def list_classes(
    session: AsyncSession,
    *,
    principal: Principal,
    window_from: datetime | None,
    window_to: datetime | None,
    trainer_id: uuid.UUID | None,
    page: PageParams,
) -> Page[ClassOut]:
    query = (
        select(TrainingSession)
        .where(TrainingSession.kind == "class")
        .order_by(TrainingSession.starts_at, TrainingSession.id)
        .limit(page.limit + 1)
    )
    if not principal.is_admin:
        query = query.where(TrainingSession.gym_id == principal.gym_id)
    if window_from is not None:
        query = query.where(TrainingSession.starts_at >= window_from)
    if window_to is not None:
        query = query.where(TrainingSession.starts_at < window_to)
    if trainer_id is not None:
        query = query.where(TrainingSession.trainer_id == trainer_id)
    if (after := page_after(page)) is not None:
        query = query.where(tuple_(TrainingSession.starts_at, TrainingSession.id) > after)
    rows = list((await session.execute(query)).scalars())
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    cursor = encode_cursor([rows[-1].starts_at.isoformat(), str(rows[-1].id)]) if more else None
    return Page[ClassOut](items=[class_out(r) for r in rows], next_cursor=cursor)


async def get_class(
    session: AsyncSession, *, principal: Principal, class_id: uuid.UUID
) -> ClassOut:
    return class_out(await access_class(session, principal, class_id))


async def class_titles(
    session: AsyncSession, *, principal: Principal, class_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """{id: title} of the classes the caller may see, in one query (e.g. for bookings)."""
    if not class_ids:
        return {}
    query = select(TrainingSession.id, TrainingSession.title, TrainingSession.gym_id).where(
        TrainingSession.id.in_(list(class_ids)), TrainingSession.kind == "class"
    )
    rows = (await session.execute(query)).all()
    return {r.id: r.title for r in rows if visible(principal, r.gym_id)}


async def list_roster(
    session: AsyncSession, *, principal: Principal, class_id: uuid.UUID
) -> list[BookingOut]:
    """Everyone booked or waitlisted in a class: for its trainer and the gym's owner."""
    row = await access_class(session, principal, class_id)
    require_staff_of(principal, row.trainer_id)
    query = (
        bookings_query()
        .where(Booking.session_id == row.id)
        .order_by(Booking.status != "waitlisted", Booking.waitlist_seq, Booking.created_at)
    )
    return [booking_out(r) for r in (await session.execute(query)).all()]


async def _series_rows(
    session: AsyncSession, row: TrainingSession, apply_to: str
) -> list[TrainingSession]:
    """The occurrence, or it and every later scheduled occurrence of its series (locked)."""
    if apply_to == "occurrence" or row.series_id is None:
        return [row]
    query = (
        select(TrainingSession)
        .where(
            TrainingSession.series_id == row.series_id,
            TrainingSession.starts_at >= row.starts_at,
            TrainingSession.status == "scheduled",
        )
        .order_by(TrainingSession.starts_at)
        .with_for_update()
    )
    return list((await session.execute(query)).scalars())


async def update_class(
    session: AsyncSession, *, principal: Principal, class_id: uuid.UUID, body: ClassUpdateIn
) -> ClassOut:
    row = await access_class(session, principal, class_id, lock=True)
    require_staff_of(principal, row.trainer_id)
    if row.status == "cancelled":
        raise Conflict("The class is cancelled")
    now = clock.now()
    if row.starts_at <= now:
        raise Conflict("The class has already started")
    changes = body.model_dump(exclude_unset=True, exclude={"apply_to"})
    moves = "starts_at" in changes or "duration_minutes" in changes
    if moves and body.apply_to == "series":
        raise Invalid(
            "Move occurrences one at a time; a series keeps its times",
            loc=["body", "apply_to"],
        )
    rules = await gym_rules(session, row.gym_id)
    for target in await _series_rows(session, row, body.apply_to):
        if "title" in changes and body.title is not None:
            target.title = body.title
        if "location" in changes:
            target.location = body.location
        if body.capacity is not None:
            if body.capacity < target.booked:
                raise Conflict(
                    f"{target.booked} seats are taken; capacity cannot go below that",
                    class_id=str(target.id),
                )
            target.capacity = body.capacity
        if moves:
            await _move(session, principal, target, body, rules, now)
        target.sequence += 1
        target.updated_at = now
        await session.flush()
        await fill_from_waitlist(session, target, actor_id=principal.user_id, now=now)
        seats_changed(session, target)
    return class_out(row)


async def _move(
    session: AsyncSession,
    principal: Principal,
    row: TrainingSession,
    body: ClassUpdateIn,
    rules: GymRules,
    now: datetime,
) -> None:
    starts_at = body.starts_at or row.starts_at
    duration = (
        timedelta(minutes=body.duration_minutes)
        if body.duration_minutes is not None
        else row.ends_at - row.starts_at
    )
    if starts_at <= now:
        raise Invalid("The class must start in the future", loc=["body", "starts_at"])
    row.starts_at, row.ends_at = starts_at, starts_at + duration
    row.busy_until = row.ends_at + rules.buffer
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict("The trainer already has a session at that time") from None
    # Reminders follow the class.
    seated = select(Booking.id).where(Booking.session_id == row.id, Booking.status == "confirmed")
    await session.execute(
        delete(Reminder).where(Reminder.booking_id.in_(seated), Reminder.sent_at.is_(None))
    )
    await session.execute(
        update(Booking)
        .where(Booking.session_id == row.id, Booking.status.in_(ACTIVE_STATUSES))
        .values(sequence=Booking.sequence + 1, updated_at=now)
    )
    for booking_id in (await session.execute(seated)).scalars():
        await schedule_reminders(session, row, booking_id, now)


async def cancel_class(
    session: AsyncSession, *, principal: Principal, class_id: uuid.UUID, apply_to: str
) -> ClassOut:
    """Cancel an occurrence (or it and the rest of its series) and every booking in it."""
    row = await access_class(session, principal, class_id, lock=True)
    require_staff_of(principal, row.trainer_id)
    if row.status == "cancelled":
        raise Conflict("The class is already cancelled")
    now = clock.now()
    if row.starts_at <= now:
        raise Conflict("The class has already started")
    targets = await _series_rows(session, row, apply_to)
    if apply_to == "series" and row.series_id is not None and targets[0].id == row.id:
        await session.execute(
            update(ClassSeries)
            .where(ClassSeries.id == row.series_id, ClassSeries.first_starts_at >= row.starts_at)
            .values(status="cancelled")
        )
    for target in targets:
        cancelled = (
            await session.execute(
                update(Booking)
                .where(Booking.session_id == target.id, Booking.status.in_(ACTIVE_STATUSES))
                .values(
                    status="cancelled",
                    waitlist_seq=None,
                    cancelled_at=now,
                    updated_at=now,
                    sequence=Booking.sequence + 1,
                )
                .returning(Booking.id, Booking.client_id)
            )
        ).all()
        await session.execute(
            delete(Reminder).where(
                Reminder.booking_id.in_([b.id for b in cancelled]), Reminder.sent_at.is_(None)
            )
        )
        target.status = "cancelled"
        target.booked = 0
        target.waitlisted = 0
        target.sequence += 1
        target.updated_at = now
        await outbox.add(
            session,
            outbox.Event(
                type=events.CLASS_CANCELLED,
                gym_id=target.gym_id,
                actor_id=principal.user_id,
                data={
                    "class_id": str(target.id),
                    "series_id": str(target.series_id) if target.series_id else None,
                    "title": target.title,
                    "trainer_id": str(target.trainer_id),
                    "starts_at": target.starts_at.isoformat(),
                    "ends_at": target.ends_at.isoformat(),
                    "booking_ids": [str(b.id) for b in cancelled],
                    "client_ids": [str(b.client_id) for b in cancelled],
                },
            ),
        )
        seats_changed(session, target)
    await session.flush()
    return class_out(row)
