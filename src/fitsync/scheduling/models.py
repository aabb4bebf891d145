"""Scheduling's tables (schema ``scheduling``), private to this context.

A *session* is anything a trainer runs at a time: a group-class occurrence
(``kind = 'class'``, many seats) or a 1:1 appointment (``kind = 'appointment'``, one
seat, one client). Keeping both in one table lets one exclusion constraint make a
trainer's overlapping sessions impossible, buffers included (``busy_until`` is the
end plus the gym's buffer). A *booking* is a client's seat (or waitlist place) in a
session; the session row carries the seat counters, guarded by CHECK constraints,
and is the lock every change of its bookings takes first.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fitsync.kernel.db import Base

SCHEMA = "scheduling"
ACTIVE = "status <> 'cancelled'"


class Availability(Base):
    """A trainer's published hours: one document per trainer, replaced as a whole."""

    __tablename__ = "availability"
    __table_args__ = {"schema": SCHEMA}

    trainer_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    gym_id: Mapped[uuid.UUID]
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    exceptions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    breaks: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    slot_minutes: Mapped[int]
    durations: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    updated_at: Mapped[datetime]


class ClassSeries(Base):
    """A recurring group class (RFC 5545 RRULE); its occurrences are sessions."""

    __tablename__ = "class_series"
    __table_args__ = {"schema": SCHEMA}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    gym_id: Mapped[uuid.UUID]
    trainer_id: Mapped[uuid.UUID]
    title: Mapped[str] = mapped_column(String(200))
    rrule: Mapped[str] = mapped_column(String(500))
    first_starts_at: Mapped[datetime]
    duration_minutes: Mapped[int]
    capacity: Mapped[int]
    location: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), server_default=text("'scheduled'"))
    created_by: Mapped[uuid.UUID]
    created_at: Mapped[datetime]


class TrainingSession(Base):
    __tablename__ = "sessions"
    __table_args__ = (
        CheckConstraint("kind IN ('class', 'appointment')", name="kind"),
        CheckConstraint("status IN ('scheduled', 'cancelled')", name="status"),
        CheckConstraint("(kind = 'appointment') = (client_id IS NOT NULL)", name="client"),
        CheckConstraint("ends_at > starts_at AND busy_until >= ends_at", name="times"),
        CheckConstraint("capacity >= 1", name="capacity"),
        CheckConstraint("booked >= 0 AND booked <= capacity", name="seats"),
        CheckConstraint("waitlisted >= 0", name="waitlist"),
        ExcludeConstraint(
            ("trainer_id", "="),
            (text("tstzrange(starts_at, busy_until)"), "&&"),
            where=text("status = 'scheduled'"),
            name="ex_sessions_trainer_overlap",
            using="gist",
        ),
        ExcludeConstraint(
            ("client_id", "="),
            (text("tstzrange(starts_at, ends_at)"), "&&"),
            where=text("status = 'scheduled' AND kind = 'appointment'"),
            name="ex_sessions_client_overlap",
            using="gist",
        ),
        Index("ix_sessions_gym_kind_starts", "gym_id", "kind", "starts_at", "id"),
        Index("ix_sessions_series", "series_id", "starts_at"),
        Index("ix_sessions_gym_starts", "gym_id", "starts_at", "id"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    gym_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(20))
    series_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey(f"{SCHEMA}.class_series.id", ondelete="CASCADE")
    )
    title: Mapped[str] = mapped_column(String(200))
    trainer_id: Mapped[uuid.UUID]
    client_id: Mapped[uuid.UUID | None]
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    busy_until: Mapped[datetime]
    capacity: Mapped[int]
    booked: Mapped[int] = mapped_column(server_default=text("0"))
    waitlisted: Mapped[int] = mapped_column(server_default=text("0"))
    location: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), server_default=text("'scheduled'"))
    sequence: Mapped[int] = mapped_column(server_default=text("0"))
    created_by: Mapped[uuid.UUID]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Booking(Base):
    __tablename__ = "bookings"
    __table_args__ = (
        CheckConstraint(
            "status IN ('confirmed', 'waitlisted', 'cancelled', 'attended', 'no_show')",
            name="status",
        ),
        CheckConstraint("(status = 'waitlisted') = (waitlist_seq IS NOT NULL)", name="waitlist"),
        Index(
            "uq_bookings_session_client_active",
            "session_id",
            "client_id",
            unique=True,
            postgresql_where=text(ACTIVE),
        ),
        Index(
            "ix_bookings_waitlist",
            "session_id",
            "waitlist_seq",
            postgresql_where=text("status = 'waitlisted'"),
        ),
        Index("ix_bookings_client", "client_id", "created_at"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    gym_id: Mapped[uuid.UUID]
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.sessions.id", ondelete="CASCADE")
    )
    client_id: Mapped[uuid.UUID]
    status: Mapped[str] = mapped_column(String(20))
    late_cancel: Mapped[bool] = mapped_column(server_default=text("false"))
    waitlist_seq: Mapped[int | None] = mapped_column(BigInteger)
    sequence: Mapped[int] = mapped_column(server_default=text("0"))
    booked_by: Mapped[uuid.UUID]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]
    checked_in_at: Mapped[datetime | None]


class Reminder(Base):
    """A due ``booking.reminder``: durable, sent once by :mod:`fitsync.scheduling.tasks`."""

    __tablename__ = "reminders"
    __table_args__ = (
        Index("ix_reminders_due", "due_at", postgresql_where=text("sent_at IS NULL")),
        {"schema": SCHEMA},
    )

    booking_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.bookings.id", ondelete="CASCADE"), primary_key=True
    )
    lead_minutes: Mapped[int] = mapped_column(primary_key=True)
    gym_id: Mapped[uuid.UUID]
    due_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class IdempotencyKey(Base):
    """The stored answer to a ``POST /bookings`` made with an ``Idempotency-Key``."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        Index("ix_idempotency_keys_created", "created_at"),
        {"schema": SCHEMA},
    )

    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    gym_id: Mapped[uuid.UUID]
    request_hash: Mapped[bytes] = mapped_column(LargeBinary)
    status_code: Mapped[int | None]
    response: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime]


class CalendarFeed(Base):
    """A user's secret feed; the token is derived (HMAC) from ``user_id`` and ``version``."""

    __tablename__ = "calendar_feeds"
    __table_args__ = {"schema": SCHEMA}

    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    gym_id: Mapped[uuid.UUID | None]  # None for a platform admin
    version: Mapped[int] = mapped_column(server_default=text("1"))
    rotated_at: Mapped[datetime]
