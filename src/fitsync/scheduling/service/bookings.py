"""Bookings: class seats and 1:1 appointments, cancellation, attendance, reminders."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.kernel import clock, outbox
from fitsync.kernel.auth import Principal, Role
from fitsync.kernel.errors import Conflict, Forbidden, Invalid, NotFound
from fitsync.kernel.pagination import Page, PageParams, encode_cursor
from fitsync.scheduling import domain, events
from fitsync.scheduling.models import (
    Availability,
    Booking,
    IdempotencyKey,
    Reminder,
    TrainingSession,
)
from fitsync.scheduling.schemas import (
    BookingIn,
    BookingOut,
)
from fitsync.scheduling.service.access import (
    booking_client,
    gym_rules,
    gym_trainer,
    page_after,
    require_staff_of,
)
from fitsync.scheduling.service.availability import availability_of, check_duration
from fitsync.scheduling.service.seats import (
    ACTIVE_STATUSES,
    access_class,
    booking_event,
    booking_out,
    bookings_query,
    conflict_detail,
    fill_from_waitlist,
    load_booking,
    overlapping,
    schedule_reminders,
    seats_changed,
)

APPOINTMENT_TITLE = "Personal training"
CHECK_IN_OPENS = timedelta(hours=1)


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
    client_id = await booking_client(session, principal, body.client_id, principal.gym_id)
    row = await access_class(session, principal, class_id, lock=True)
    if principal.role is Role.trainer:
        require_staff_of(principal, row.trainer_id)
    if row.status == "cancelled":
        raise Conflict("The class is cancelled", class_id=str(row.id))
    now = clock.now()
    if row.starts_at <= now:
        raise Conflict("The class has already started", class_id=str(row.id))
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
    elif body.join_waitlist:
        booking.status = "waitlisted"
    else:
        await _refuse_if_booked(session, row.id, client_id)
        raise Conflict(
            "The class is full",
            class_id=str(row.id),
            capacity=row.capacity,
            waitlist=row.waitlisted,
        )
    # One active booking per client and class: the partial unique index decides.
    inserted = await session.scalar(
        pg_insert(Booking)
        .values(
            id=booking.id,
            gym_id=booking.gym_id,
            session_id=booking.session_id,
            client_id=client_id,
            status=booking.status,
            late_cancel=False,
            waitlist_seq=(
                func.nextval("scheduling.waitlist_seq") if booking.status == "waitlisted" else None
            ),
            sequence=0,
            booked_by=principal.user_id,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing()
        .returning(Booking.id)
    )
    if inserted is None:
        await _refuse_if_booked(session, row.id, client_id)
        raise Conflict("Already booked into this class")
    if booking.status == "confirmed":
        row.booked += 1
    else:
        row.waitlisted += 1
    row.updated_at = now
    await session.flush()
    if booking.status == "confirmed":
        await schedule_reminders(session, row, booking.id, now)
    await outbox.add(
        session, booking_event(events.BOOKING_CREATED, booking, row, principal.user_id)
    )
    seats_changed(session, row)
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


async def _refuse_if_booked(
    session: AsyncSession, session_id: uuid.UUID, client_id: uuid.UUID
) -> None:
    existing = await session.scalar(
        select(Booking.id).where(
            Booking.session_id == session_id,
            Booking.client_id == client_id,
            Booking.status != "cancelled",
        )
    )
    if existing is not None:
        raise Conflict("Already booked into this class", booking_id=str(existing))


async def _book_appointment(
    session: AsyncSession, *, principal: Principal, body: BookingIn
) -> BookingOut:
    assert body.trainer_id is not None
    assert body.starts_at is not None
    assert body.duration_minutes is not None
    assert principal.gym_id is not None
    trainer = await gym_trainer(session, principal, body.trainer_id)
    if principal.role is Role.trainer:
        require_staff_of(principal, trainer.id)
    client_id = await booking_client(session, principal, body.client_id, principal.gym_id)
    rules = await gym_rules(session, principal.gym_id)
    availability = availability_of(await session.get(Availability, trainer.id))
    check_duration(availability, body.duration_minutes, ["body", "duration_minutes"])
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
        other = await overlapping(
            session,
            trainer_id=trainer.id,
            client_id=client_id,
            spans=[(starts_at, ends_at)],
            buffer=rules.buffer,
        )
        raise Conflict(
            "That time is taken",
            conflicts_with=conflict_detail(principal, other) if other else None,
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
    await schedule_reminders(session, row, booking.id, now)
    await outbox.add(
        session, booking_event(events.BOOKING_CREATED, booking, row, principal.user_id)
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
    row = (await session.execute(bookings_query().where(Booking.id == booking_id))).first()
    return booking_out(row) if row else None


async def get_booking(
    session: AsyncSession, *, principal: Principal, booking_id: uuid.UUID
) -> BookingOut:
    row = (await session.execute(bookings_query().where(Booking.id == booking_id))).first()
    visible = row is not None and (
        principal.role in (Role.admin, Role.gym_owner)
        or (principal.role is Role.client and row.client_id == principal.user_id)
        or (principal.role is Role.trainer and row.trainer_id == principal.user_id)
    )
    if not visible:
        raise NotFound("No such booking")
    return booking_out(row)


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
        rules = await gym_rules(session, row.gym_id)
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
        booking_event(
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
        await fill_from_waitlist(session, row, actor_id=principal.user_id, now=now)
    seats_changed(session, row)
    return await load_booking(session, booking.id)


async def check_in(
    session: AsyncSession, *, principal: Principal, booking_id: uuid.UUID
) -> BookingOut:
    """Attendance: from an hour before the start; also corrects a no-show."""
    booking, row = await _access_booking(session, principal, booking_id)
    require_staff_of(principal, row.trainer_id)
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
    return await load_booking(session, booking.id)


async def mark_no_show(
    session: AsyncSession, *, principal: Principal, booking_id: uuid.UUID
) -> BookingOut:
    booking, row = await _access_booking(session, principal, booking_id)
    require_staff_of(principal, row.trainer_id)
    if booking.status != "confirmed":
        raise Conflict(f"The booking is {booking.status}", booking_status=booking.status)
    now = clock.now()
    if now < row.starts_at:
        raise Conflict("A no-show can be marked once the session has started")
    booking.status = "no_show"
    booking.updated_at = now
    booking.sequence += 1
    await session.flush()
    return await load_booking(session, booking.id)


async def list_bookings(
    session: AsyncSession,
    *,
    principal: Principal,
    window_from: datetime | None,
    window_to: datetime | None,
    status: str | None,
    page: PageParams,
) -> Page[BookingOut]:
    query = bookings_query().order_by(TrainingSession.starts_at, Booking.id).limit(page.limit + 1)
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
    if (after := page_after(page)) is not None:
        query = query.where(tuple_(TrainingSession.starts_at, Booking.id) > after)
    rows = (await session.execute(query)).all()
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    cursor = encode_cursor([rows[-1].starts_at.isoformat(), str(rows[-1].id)]) if more else None
    return Page[BookingOut](items=[booking_out(r) for r in rows], next_cursor=cursor)


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
            booking_event(
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
