"""Scheduling's use cases: availability, slots, classes, bookings, waitlists, reminders.

Concurrency: every change to the seats of a session first locks the session row
(``SELECT … FOR UPDATE``) and then its bookings — one lock order everywhere, so
two cancellations, a booking and a cancellation, or a class cancellation and a
booking serialise on the session and cannot deadlock. The seat counters on that
row are guarded by ``CHECK (booked <= capacity)``; a trainer's (and a client's)
overlapping sessions are refused by exclusion constraints. The Python checks
below give good messages; the database keeps the invariants.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, delete, func, insert, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from fitsync.gyms import public as gyms
from fitsync.identity import public as identity
from fitsync.kernel import clock, live, outbox
from fitsync.kernel.auth import Principal, Role
from fitsync.kernel.errors import Conflict, Forbidden, Invalid, NotFound
from fitsync.kernel.pagination import Page, PageParams, encode_cursor
from fitsync.scheduling import domain, events
from fitsync.scheduling.models import (
    Availability,
    Booking,
    ClassSeries,
    IdempotencyKey,
    Reminder,
    TrainingSession,
)
from fitsync.scheduling.schemas import (
    AvailabilityIn,
    AvailabilityOut,
    BookingIn,
    BookingOut,
    ClassCreatedOut,
    ClassIn,
    ClassOut,
    ClassUpdateIn,
    SlotOut,
    SlotsOut,
)

APPOINTMENT_TITLE = "Personal training"
CHECK_IN_OPENS = timedelta(hours=1)
ACTIVE_STATUSES = ("confirmed", "waitlisted")
SEATED_STATUSES = ("confirmed", "attended", "no_show")


# --- the gym, its people, and who may do what ---------------------------------------


@dataclass(frozen=True)
class GymRules:
    gym_id: uuid.UUID
    tz: ZoneInfo
    buffer: timedelta
    cancellation_window_hours: int
    horizon: timedelta


async def _gym_rules(session: AsyncSession, gym_id: uuid.UUID) -> GymRules:
    gym = await gyms.get_gym(session, gym_id)
    if gym is None:
        raise NotFound("No such gym")
    return GymRules(
        gym_id=gym.id,
        tz=ZoneInfo(gym.timezone),
        buffer=timedelta(minutes=gym.settings.session_buffer_minutes),
        cancellation_window_hours=gym.settings.cancellation_window_hours,
        horizon=timedelta(days=gym.settings.booking_horizon_days),
    )


def _visible(principal: Principal, gym_id: uuid.UUID | None) -> bool:
    return principal.is_admin or (gym_id is not None and gym_id == principal.gym_id)


async def _trainer(
    session: AsyncSession, principal: Principal, trainer_id: uuid.UUID
) -> identity.UserInfo:
    """A trainer (or the owner, who may train too) of the caller's gym; 404 otherwise."""
    user = await identity.get_user(session, trainer_id)
    if (
        user is None
        or not _visible(principal, user.gym_id)
        or user.role not in (Role.trainer, Role.gym_owner)
        or not user.is_active
    ):
        raise NotFound("No such trainer in this gym")
    return user


async def _client(
    session: AsyncSession, principal: Principal, client_id: uuid.UUID | None, gym_id: uuid.UUID
) -> uuid.UUID:
    """Whom a booking is for: clients book for themselves, staff for a client of the gym."""
    if principal.role is Role.client:
        if client_id not in (None, principal.user_id):
            raise Forbidden("Clients book only for themselves")
        return principal.user_id
    if client_id is None:
        raise Invalid("Say which client the booking is for", loc=["body", "client_id"])
    user = await identity.get_user(session, client_id)
    if user is None or user.gym_id != gym_id or user.role is not Role.client:
        raise NotFound("No such client in this gym")
    return user.id


def _require_staff_of(principal: Principal, trainer_id: uuid.UUID) -> None:
    """Trainers act on their own sessions; owners and admins on any of the gym."""
    if principal.role in (Role.gym_owner, Role.admin):
        return
    if principal.role is Role.trainer and principal.user_id == trainer_id:
        return
    raise Forbidden("Only the session's trainer or the gym's owner can do this")


# --- availability and slots ----------------------------------------------------------


def _availability_of(row: Availability | None) -> domain.Availability:
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
    trainer = await _trainer(session, principal, trainer_id)
    _require_staff_of(principal, trainer.id)
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
    rules = await _gym_rules(session, trainer.gym_id)
    return AvailabilityOut(
        trainer_id=trainer.id, timezone=rules.tz.key, updated_at=now, **body.model_dump()
    )


async def get_availability(
    session: AsyncSession, *, principal: Principal, trainer_id: uuid.UUID
) -> AvailabilityOut:
    trainer = await _trainer(session, principal, trainer_id)
    assert trainer.gym_id is not None
    row = await session.get(Availability, trainer.id)
    rules = await _gym_rules(session, trainer.gym_id)
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


def _check_duration(
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
    trainer = await _trainer(session, principal, trainer_id)
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
    availability = _availability_of(await session.get(Availability, trainer.id))
    _check_duration(availability, duration_minutes, ["query", "duration"])
    rules = await _gym_rules(session, trainer.gym_id)
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


# --- classes ------------------------------------------------------------------------


def _class_out(row: TrainingSession) -> ClassOut:
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


def _seats_changed(session: AsyncSession, row: TrainingSession) -> None:
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


async def _overlapping(
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


def _conflict_detail(principal: Principal, other: TrainingSession) -> dict[str, Any]:
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


async def create_class(
    session: AsyncSession, *, principal: Principal, body: ClassIn
) -> ClassCreatedOut:
    if principal.role not in (Role.trainer, Role.gym_owner):
        raise Forbidden("Only trainers and gym owners create classes")
    trainer = await _trainer(session, principal, body.trainer_id)
    _require_staff_of(principal, trainer.id)
    assert trainer.gym_id is not None
    rules = await _gym_rules(session, trainer.gym_id)
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
        other = await _overlapping(
            session,
            trainer_id=trainer.id,
            client_id=None,
            spans=[(start, start + duration) for start in starts],
            buffer=rules.buffer,
        )
        raise Conflict(
            "The trainer already has a session at that time",
            conflicts_with=_conflict_detail(principal, other) if other else None,
        ) from None
    first = await session.get(TrainingSession, rows[0]["id"])
    assert first is not None
    return ClassCreatedOut(**_class_out(first).model_dump(), occurrences=len(rows))


def _after(page: PageParams) -> tuple[datetime, uuid.UUID] | None:
    if not page.after:
        return None
    try:
        return datetime.fromisoformat(page.after[0]), uuid.UUID(page.after[1])
    except (ValueError, IndexError, TypeError):
        raise Invalid("malformed cursor", loc=["query", "cursor"]) from None


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
    if (after := _after(page)) is not None:
        query = query.where(tuple_(TrainingSession.starts_at, TrainingSession.id) > after)
    rows = list((await session.execute(query)).scalars())
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    cursor = encode_cursor([rows[-1].starts_at.isoformat(), str(rows[-1].id)]) if more else None
    return Page[ClassOut](items=[_class_out(r) for r in rows], next_cursor=cursor)


async def _access_class(
    session: AsyncSession, principal: Principal, class_id: uuid.UUID, *, lock: bool = False
) -> TrainingSession:
    query = select(TrainingSession).where(
        TrainingSession.id == class_id, TrainingSession.kind == "class"
    )
    if lock:
        query = query.with_for_update()
    row = (await session.execute(query)).scalars().first()
    if row is None or not _visible(principal, row.gym_id):
        raise NotFound("No such class")
    return row


async def get_class(
    session: AsyncSession, *, principal: Principal, class_id: uuid.UUID
) -> ClassOut:
    return _class_out(await _access_class(session, principal, class_id))


async def list_roster(
    session: AsyncSession, *, principal: Principal, class_id: uuid.UUID
) -> list[BookingOut]:
    """Everyone booked or waitlisted in a class: for its trainer and the gym's owner."""
    row = await _access_class(session, principal, class_id)
    _require_staff_of(principal, row.trainer_id)
    query = (
        _bookings_query()
        .where(Booking.session_id == row.id)
        .order_by(Booking.status != "waitlisted", Booking.waitlist_seq, Booking.created_at)
    )
    return [_booking_out(r) for r in (await session.execute(query)).all()]


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
    row = await _access_class(session, principal, class_id, lock=True)
    _require_staff_of(principal, row.trainer_id)
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
    rules = await _gym_rules(session, row.gym_id)
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
        await _fill_from_waitlist(session, target, actor_id=principal.user_id, now=now)
        _seats_changed(session, target)
    return _class_out(row)


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
        await _schedule_reminders(session, row, booking_id, now)


async def cancel_class(
    session: AsyncSession, *, principal: Principal, class_id: uuid.UUID, apply_to: str
) -> ClassOut:
    """Cancel an occurrence (or it and the rest of its series) and every booking in it."""
    row = await _access_class(session, principal, class_id, lock=True)
    _require_staff_of(principal, row.trainer_id)
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
        _seats_changed(session, target)
    await session.flush()
    return _class_out(row)


# --- bookings -----------------------------------------------------------------------


BookingRow = Select[*tuple[Any, ...]]  # booking and session columns


def _bookings_query() -> BookingRow:
    waiting = aliased(Booking)
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


def _booking_out(row: Any) -> BookingOut:
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


async def _load_booking(session: AsyncSession, booking_id: uuid.UUID) -> BookingOut:
    row = (await session.execute(_bookings_query().where(Booking.id == booking_id))).one()
    return _booking_out(row)


def _booking_event(
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


async def _schedule_reminders(
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


def request_hash(body: BookingIn) -> bytes:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).digest()


async def book(
    session: AsyncSession,
    *,
    principal: Principal,
    body: BookingIn,
    idempotency_key: str | None = None,
) -> BookingOut:
    """Book a class seat (or a waitlist place) or a 1:1 appointment.

    With an ``idempotency_key`` the first answer is stored with the booking, in the
    same transaction; a repeat with the same body returns it, with another body 422.
    A repeat racing the first waits for it (the key's row is locked until commit).
    """
    if principal.role not in (Role.client, Role.trainer, Role.gym_owner):
        raise Forbidden("Bookings are made by clients and by the gym's staff")
    assert principal.gym_id is not None
    if idempotency_key is not None:
        digest = request_hash(body)
        claimed = await session.execute(
            pg_insert(IdempotencyKey)
            .values(
                user_id=principal.user_id,
                key=idempotency_key,
                gym_id=principal.gym_id,
                request_hash=digest,
                created_at=clock.now(),
            )
            .on_conflict_do_nothing()
            .returning(IdempotencyKey.key)
        )
        if claimed.first() is None:
            stored = await session.get(IdempotencyKey, (principal.user_id, idempotency_key))
            if stored is None or stored.response is None:
                raise Conflict("A request with this Idempotency-Key is still in progress")
            if stored.request_hash != digest:
                raise Invalid(
                    "This Idempotency-Key was used with a different request",
                    loc=["header", "Idempotency-Key"],
                )
            return BookingOut.model_validate(stored.response)
    if body.class_id is not None:
        out = await _book_class(session, principal=principal, body=body, class_id=body.class_id)
    else:
        out = await _book_appointment(session, principal=principal, body=body)
    if idempotency_key is not None:
        await session.execute(
            update(IdempotencyKey)
            .where(
                IdempotencyKey.user_id == principal.user_id, IdempotencyKey.key == idempotency_key
            )
            .values(status_code=201, response=out.model_dump(mode="json"))
        )
    return out


async def _book_class(
    session: AsyncSession, *, principal: Principal, body: BookingIn, class_id: uuid.UUID
) -> BookingOut:
    assert principal.gym_id is not None
    client_id = await _client(session, principal, body.client_id, principal.gym_id)
    row = await _access_class(session, principal, class_id, lock=True)
    if principal.role is Role.trainer:
        _require_staff_of(principal, row.trainer_id)
    if row.status == "cancelled":
        raise Conflict("The class is cancelled", class_id=str(row.id))
    now = clock.now()
    if row.starts_at <= now:
        raise Conflict("The class has already started", class_id=str(row.id))
    existing = await session.scalar(
        select(Booking.id).where(
            Booking.session_id == row.id,
            Booking.client_id == client_id,
            Booking.status != "cancelled",
        )
    )
    if existing is not None:
        raise Conflict("Already booked into this class", booking_id=str(existing))
    booking = Booking(
        id=uuid.uuid4(),
        gym_id=row.gym_id,
        session_id=row.id,
        client_id=client_id,
        booked_by=principal.user_id,
        created_at=now,
        updated_at=now,
        late_cancel=False,
        sequence=0,
    )
    if row.booked < row.capacity:
        booking.status = "confirmed"
        row.booked += 1
    elif body.join_waitlist:
        booking.status = "waitlisted"
        booking.waitlist_seq = await session.scalar(func.nextval("scheduling.waitlist_seq"))
        row.waitlisted += 1
    else:
        raise Conflict(
            "The class is full",
            class_id=str(row.id),
            capacity=row.capacity,
            waitlist=row.waitlisted,
        )
    row.updated_at = now
    session.add(booking)
    await session.flush()
    if booking.status == "confirmed":
        await _schedule_reminders(session, row, booking.id, now)
    await outbox.add(
        session, _booking_event(events.BOOKING_CREATED, booking, row, principal.user_id)
    )
    _seats_changed(session, row)
    position = None
    if booking.status == "waitlisted":
        position = row.waitlisted  # the newest place: the session lock orders them
    return BookingOut(
        id=booking.id,
        client_id=client_id,
        trainer_id=row.trainer_id,
        class_id=row.id,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        status=booking.status,
        late_cancel=False,
        waitlist_position=position,
        created_at=now,
    )


async def _book_appointment(
    session: AsyncSession, *, principal: Principal, body: BookingIn
) -> BookingOut:
    assert body.trainer_id is not None
    assert body.starts_at is not None
    assert body.duration_minutes is not None
    assert principal.gym_id is not None
    trainer = await _trainer(session, principal, body.trainer_id)
    if principal.role is Role.trainer:
        _require_staff_of(principal, trainer.id)
    client_id = await _client(session, principal, body.client_id, principal.gym_id)
    rules = await _gym_rules(session, principal.gym_id)
    availability = _availability_of(await session.get(Availability, trainer.id))
    _check_duration(availability, body.duration_minutes, ["body", "duration_minutes"])
    now = clock.now()
    starts_at = body.starts_at.astimezone(UTC)
    if starts_at <= now:
        raise Invalid("The slot is in the past", loc=["body", "starts_at"])
    if starts_at > now + rules.horizon:
        raise Invalid(f"Bookings open {rules.horizon.days} days ahead", loc=["body", "starts_at"])
    duration = timedelta(minutes=body.duration_minutes)
    if not domain.on_grid(availability, starts_at, duration, rules.tz):
        raise Invalid(
            "The trainer offers no session at that time (see GET /trainers/{id}/slots)",
            loc=["body", "starts_at"],
        )
    ends_at = starts_at + duration
    session_id = await session.scalar(
        pg_insert(TrainingSession)
        .values(
            id=uuid.uuid4(),
            gym_id=principal.gym_id,
            kind="appointment",
            title=APPOINTMENT_TITLE,
            trainer_id=trainer.id,
            client_id=client_id,
            starts_at=starts_at,
            ends_at=ends_at,
            busy_until=ends_at + rules.buffer,
            capacity=1,
            booked=1,
            created_by=principal.user_id,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing()  # an exclusion constraint said no: report with whom
        .returning(TrainingSession.id)
    )
    if session_id is None:
        other = await _overlapping(
            session,
            trainer_id=trainer.id,
            client_id=client_id,
            spans=[(starts_at, ends_at)],
            buffer=rules.buffer,
        )
        raise Conflict(
            "That time is taken",
            conflicts_with=_conflict_detail(principal, other) if other else None,
        )
    row = await session.get(TrainingSession, session_id)
    assert row is not None
    booking = Booking(
        id=uuid.uuid4(),
        gym_id=row.gym_id,
        session_id=row.id,
        client_id=client_id,
        status="confirmed",
        booked_by=principal.user_id,
        created_at=now,
        updated_at=now,
        late_cancel=False,
        sequence=0,
    )
    session.add(booking)
    await session.flush()
    await _schedule_reminders(session, row, booking.id, now)
    await outbox.add(
        session, _booking_event(events.BOOKING_CREATED, booking, row, principal.user_id)
    )
    return BookingOut(
        id=booking.id,
        client_id=client_id,
        trainer_id=trainer.id,
        class_id=None,
        starts_at=starts_at,
        ends_at=ends_at,
        status="confirmed",
        late_cancel=False,
        waitlist_position=None,
        created_at=now,
    )


async def _access_booking(
    session: AsyncSession, principal: Principal, booking_id: uuid.UUID
) -> tuple[Booking, TrainingSession]:
    """The booking and its session, locked in that order (session first); 404 when the
    caller may not see it: clients see their own, trainers their sessions' bookings."""
    found = (
        await session.execute(
            select(Booking.session_id, Booking.client_id, TrainingSession.trainer_id)
            .join(TrainingSession, TrainingSession.id == Booking.session_id)
            .where(Booking.id == booking_id)
        )
    ).first()
    visible = found is not None and (
        principal.role in (Role.admin, Role.gym_owner)
        or (principal.role is Role.client and found.client_id == principal.user_id)
        or (principal.role is Role.trainer and found.trainer_id == principal.user_id)
    )
    if not visible or found is None:
        raise NotFound("No such booking")
    row = (
        await session.execute(
            select(TrainingSession).where(TrainingSession.id == found.session_id).with_for_update()
        )
    ).scalar_one()
    booking = (
        await session.execute(
            select(Booking)
            .where(Booking.id == booking_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    return booking, row


async def find_booking(session: AsyncSession, booking_id: uuid.UUID) -> BookingOut | None:
    row = (await session.execute(_bookings_query().where(Booking.id == booking_id))).first()
    return _booking_out(row) if row else None


async def get_booking(
    session: AsyncSession, *, principal: Principal, booking_id: uuid.UUID
) -> BookingOut:
    row = (await session.execute(_bookings_query().where(Booking.id == booking_id))).first()
    visible = row is not None and (
        principal.role in (Role.admin, Role.gym_owner)
        or (principal.role is Role.client and row.client_id == principal.user_id)
        or (principal.role is Role.trainer and row.trainer_id == principal.user_id)
    )
    if not visible:
        raise NotFound("No such booking")
    return _booking_out(row)


async def cancel_booking(
    session: AsyncSession, *, principal: Principal, booking_id: uuid.UUID
) -> BookingOut:
    """Cancel; a seat freed goes to the first of the waitlist, exactly once."""
    booking, row = await _access_booking(session, principal, booking_id)
    if booking.status not in ACTIVE_STATUSES:
        raise Conflict(f"The booking is {booking.status}", booking_status=booking.status)
    now = clock.now()
    if row.starts_at <= now:
        raise Conflict("The session has already started; mark a no-show instead")
    was = booking.status
    if was == "confirmed":
        rules = await _gym_rules(session, row.gym_id)
        booking.late_cancel = domain.is_late_cancellation(
            starts_at=row.starts_at, now=now, window_hours=rules.cancellation_window_hours
        )
        row.booked -= 1
        if row.kind == "appointment":
            row.status = "cancelled"  # frees the trainer's time
            row.sequence += 1
    else:
        row.waitlisted -= 1
    booking.status = "cancelled"
    booking.waitlist_seq = None
    booking.cancelled_at = now
    booking.updated_at = now
    booking.sequence += 1
    row.updated_at = now
    await session.execute(
        delete(Reminder).where(Reminder.booking_id == booking.id, Reminder.sent_at.is_(None))
    )
    await session.flush()
    await outbox.add(
        session,
        _booking_event(
            events.BOOKING_CANCELLED,
            booking,
            row,
            principal.user_id,
            late_cancel=booking.late_cancel,
            previous_status=was,
            cancelled_by=str(principal.user_id),
        ),
    )
    if was == "confirmed" and row.kind == "class":
        await _fill_from_waitlist(session, row, actor_id=principal.user_id, now=now)
    _seats_changed(session, row)
    return await _load_booking(session, booking.id)


async def _fill_from_waitlist(
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
        await _schedule_reminders(session, row, nxt.id, now)
        await outbox.add(session, _booking_event(events.WAITLIST_PROMOTED, nxt, row, actor_id))


async def check_in(
    session: AsyncSession, *, principal: Principal, booking_id: uuid.UUID
) -> BookingOut:
    """Attendance: from an hour before the start; also corrects a no-show."""
    booking, row = await _access_booking(session, principal, booking_id)
    _require_staff_of(principal, row.trainer_id)
    if booking.status not in ("confirmed", "no_show"):
        raise Conflict(f"The booking is {booking.status}", booking_status=booking.status)
    now = clock.now()
    if now < row.starts_at - CHECK_IN_OPENS:
        raise Conflict("Check-in opens an hour before the start")
    booking.status = "attended"
    booking.checked_in_at = now
    booking.updated_at = now
    booking.sequence += 1
    await session.flush()
    return await _load_booking(session, booking.id)


async def mark_no_show(
    session: AsyncSession, *, principal: Principal, booking_id: uuid.UUID
) -> BookingOut:
    booking, row = await _access_booking(session, principal, booking_id)
    _require_staff_of(principal, row.trainer_id)
    if booking.status != "confirmed":
        raise Conflict(f"The booking is {booking.status}", booking_status=booking.status)
    now = clock.now()
    if now < row.starts_at:
        raise Conflict("A no-show can be marked once the session has started")
    booking.status = "no_show"
    booking.updated_at = now
    booking.sequence += 1
    await session.flush()
    return await _load_booking(session, booking.id)


async def list_bookings(
    session: AsyncSession,
    *,
    principal: Principal,
    window_from: datetime | None,
    window_to: datetime | None,
    status: str | None,
    page: PageParams,
) -> Page[BookingOut]:
    query = _bookings_query().order_by(TrainingSession.starts_at, Booking.id).limit(page.limit + 1)
    if principal.role is Role.client:
        query = query.where(Booking.client_id == principal.user_id)
    elif principal.role is Role.trainer:
        query = query.where(TrainingSession.trainer_id == principal.user_id)
    elif principal.role is Role.gym_owner:
        query = query.where(Booking.gym_id == principal.gym_id)
    if window_from is not None:
        query = query.where(TrainingSession.starts_at >= window_from)
    if window_to is not None:
        query = query.where(TrainingSession.starts_at < window_to)
    if status is not None:
        query = query.where(Booking.status == status)
    if (after := _after(page)) is not None:
        query = query.where(tuple_(TrainingSession.starts_at, Booking.id) > after)
    rows = (await session.execute(query)).all()
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    cursor = encode_cursor([rows[-1].starts_at.isoformat(), str(rows[-1].id)]) if more else None
    return Page[BookingOut](items=[_booking_out(r) for r in rows], next_cursor=cursor)


# --- reminders and housekeeping (run by tasks.py) -----------------------------------


async def send_due_reminders(session: AsyncSession, *, now: datetime, batch: int = 200) -> int:
    """Emit ``booking.reminder`` for due reminders; returns how many were claimed.

    Rows are claimed with ``SKIP LOCKED`` and marked sent in the transaction that
    writes the event, so concurrent or repeated runs emit each reminder once, and a
    crash before commit leaves it due.
    """
    due = (
        (
            await session.execute(
                select(Reminder)
                .where(Reminder.sent_at.is_(None), Reminder.due_at <= now)
                .order_by(Reminder.due_at)
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
        )
        .scalars()
        .all()
    )
    if not due:
        return 0
    rows = {
        r.Booking.id: r
        for r in await session.execute(
            select(Booking, TrainingSession)
            .join(TrainingSession, TrainingSession.id == Booking.session_id)
            .where(Booking.id.in_([d.booking_id for d in due]))
        )
    }
    for reminder in due:
        reminder.sent_at = now
        found = rows.get(reminder.booking_id)
        if found is None:
            continue
        booking, row = found.Booking, found.TrainingSession
        if booking.status != "confirmed" or row.status != "scheduled" or row.starts_at <= now:
            continue  # nothing to remind of any more
        await outbox.add(
            session,
            _booking_event(
                events.BOOKING_REMINDER,
                booking,
                row,
                booking.client_id,
                lead_minutes=reminder.lead_minutes,
            ),
        )
    await session.flush()
    return len(due)


async def forget_idempotency_keys(session: AsyncSession, *, older_than: datetime) -> int:
    result = await session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.created_at < older_than)
    )
    return int(getattr(result, "rowcount", 0) or 0)
