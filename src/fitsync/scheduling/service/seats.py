"""What classes and bookings share: a session's seats and waitlist, its reminders, and
the views of sessions and bookings. Functions that change seat counters expect the
caller to hold the session row's lock (``access_class(..., lock=True)``).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from fitsync.kernel import live, outbox
from fitsync.kernel.auth import Principal, Role
from fitsync.kernel.errors import NotFound
from fitsync.scheduling import domain, events
from fitsync.scheduling.models import (
    Booking,
    Reminder,
    TrainingSession,
)
from fitsync.scheduling.schemas import (
    BookingOut,
    ClassOut,
)
from fitsync.scheduling.service.access import visible

ACTIVE_STATUSES = ("confirmed", "waitlisted")


def class_out(row: TrainingSession) -> ClassOut:
    return ClassOut(
        id=row.id,
        title=row.title,
        trainer_id=row.trainer_id,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        capacity=row.capacity,
        booked=row.booked,
        waitlist=row.waitlisted,
        status=row.status,
        location=row.location,
        series_id=row.series_id,
    )


def seats_changed(session: AsyncSession, row: TrainingSession) -> None:
    if row.kind != "class":
        return
    live.notify(
        session,
        gym_id=row.gym_id,
        type=events.CLASS_SEATS,
        data={
            "class_id": str(row.id),
            "booked": row.booked,
            "capacity": row.capacity,
            "waitlist": row.waitlisted,
            "status": row.status,
        },
    )


async def overlapping(
    session: AsyncSession,
    *,
    trainer_id: uuid.UUID,
    client_id: uuid.UUID | None,
    spans: list[tuple[datetime, datetime]],
    buffer: timedelta,
) -> TrainingSession | None:
    """The first taken session a new one at ``spans`` would collide with."""
    trainer_hits = [
        func.tstzrange(TrainingSession.starts_at, TrainingSession.busy_until).op("&&")(
            func.tstzrange(s, e + buffer)
        )
        for s, e in spans
    ]
    clauses = [and_(TrainingSession.trainer_id == trainer_id, or_(*trainer_hits))]
    if client_id is not None:
        client_hits = [
            func.tstzrange(TrainingSession.starts_at, TrainingSession.ends_at).op("&&")(
                func.tstzrange(s, e)
            )
            for s, e in spans
        ]
        clauses.append(
            and_(
                TrainingSession.client_id == client_id,
                TrainingSession.kind == "appointment",
                or_(*client_hits),
            )
        )
    query = (
        select(TrainingSession)
        .where(TrainingSession.status == "scheduled", or_(*clauses))
        .order_by(TrainingSession.starts_at)
        .limit(1)
    )
    return (await session.execute(query)).scalars().first()


def conflict_detail(principal: Principal, other: TrainingSession) -> dict[str, Any]:
    """What a new session collides with, without naming another client to a client."""
    detail: dict[str, Any] = {
        "kind": other.kind,
        "starts_at": other.starts_at.isoformat(),
        "ends_at": other.ends_at.isoformat(),
    }
    if other.kind == "class":
        detail["class_id"] = str(other.id)
    mine = other.client_id == principal.user_id
    if principal.role is not Role.client or mine:
        detail["trainer_id"] = str(other.trainer_id)
        if other.client_id is not None:
            detail["client_id"] = str(other.client_id)
    return detail


async def access_class(
    session: AsyncSession, principal: Principal, class_id: uuid.UUID, *, lock: bool = False
) -> TrainingSession:
    query = select(TrainingSession).where(
        TrainingSession.id == class_id, TrainingSession.kind == "class"
    )
    if lock:
        query = query.with_for_update()
    row = (await session.execute(query)).scalars().first()
    if row is None or not visible(principal, row.gym_id):
        raise NotFound("No such class")
    return row


BookingRow = Select[*tuple[Any, ...]]  # booking and session columns


# Built once: an alias of a mapped class costs ~300 objects in reference cycles, which
# per query kept the garbage collector busy (full collections of ~200 ms under load).
_WAITING = aliased(Booking)


@cache  # built once: a select is immutable (each .where() returns a new one)
def bookings_query() -> BookingRow:
    waiting = _WAITING
    position = (
        select(func.count())
        .where(
            waiting.session_id == Booking.session_id,
            waiting.status == "waitlisted",
            waiting.waitlist_seq <= Booking.waitlist_seq,
        )
        .correlate(Booking)
        .scalar_subquery()
    )
    query: BookingRow = select(
        Booking.id,
        Booking.client_id,
        Booking.status,
        Booking.late_cancel,
        Booking.created_at,
        Booking.gym_id,
        TrainingSession.trainer_id,
        TrainingSession.kind,
        TrainingSession.id.label("session_id"),
        TrainingSession.starts_at,
        TrainingSession.ends_at,
        func.nullif(position, 0).label("waitlist_position"),
    ).join(TrainingSession, TrainingSession.id == Booking.session_id)
    return query


def booking_out(row: Any) -> BookingOut:
    return BookingOut(
        id=row.id,
        client_id=row.client_id,
        trainer_id=row.trainer_id,
        class_id=row.session_id if row.kind == "class" else None,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        status=row.status,
        late_cancel=row.late_cancel,
        waitlist_position=row.waitlist_position if row.status == "waitlisted" else None,
        created_at=row.created_at,
    )


async def load_booking(session: AsyncSession, booking_id: uuid.UUID) -> BookingOut:
    row = (await session.execute(bookings_query().where(Booking.id == booking_id))).one()
    return booking_out(row)


def booking_event(
    type_: str, booking: Booking, row: TrainingSession, actor_id: uuid.UUID, **extra: Any
) -> outbox.Event:
    return outbox.Event(
        type=type_,
        gym_id=row.gym_id,
        actor_id=actor_id,
        data={
            "booking_id": str(booking.id),
            "client_id": str(booking.client_id),
            "trainer_id": str(row.trainer_id),
            "class_id": str(row.id) if row.kind == "class" else None,
            "title": row.title,
            "location": row.location,
            "starts_at": row.starts_at.isoformat(),
            "ends_at": row.ends_at.isoformat(),
            "status": booking.status,
            **extra,
        },
    )


async def schedule_reminders(
    session: AsyncSession, row: TrainingSession, booking_id: uuid.UUID, now: datetime
) -> None:
    due = domain.reminder_times(row.starts_at, now)
    if due:
        await session.execute(
            pg_insert(Reminder)
            .values(
                [
                    {
                        "booking_id": booking_id,
                        "lead_minutes": lead,
                        "gym_id": row.gym_id,
                        "due_at": at,
                    }
                    for lead, at in due
                ]
            )
            .on_conflict_do_update(
                index_elements=[Reminder.booking_id, Reminder.lead_minutes],
                set_={"due_at": pg_insert(Reminder).excluded.due_at, "sent_at": None},
            )
        )


async def fill_from_waitlist(
    session: AsyncSession, row: TrainingSession, *, actor_id: uuid.UUID, now: datetime
) -> None:
    """Give free seats to the waitlist, first come first served (the session is locked)."""
    while row.kind == "class" and row.status == "scheduled" and row.booked < row.capacity:
        nxt = (
            await session.execute(
                select(Booking)
                .where(Booking.session_id == row.id, Booking.status == "waitlisted")
                .order_by(Booking.waitlist_seq)
                .limit(1)
                .with_for_update()
            )
        ).scalar_one_or_none()
        if nxt is None:
            return
        nxt.status = "confirmed"
        nxt.waitlist_seq = None
        nxt.updated_at = now
        nxt.sequence += 1
        row.booked += 1
        row.waitlisted -= 1
        await session.flush()
        await schedule_reminders(session, row, nxt.id, now)
        await outbox.add(session, booking_event(events.WAITLIST_PROMOTED, nxt, row, actor_id))
