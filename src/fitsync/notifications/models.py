"""Notifications' tables (schema ``notifications``), private to this context.

Documents (preferences, inbox items, what a delivery says) are JSONB; the columns
beside them are what queries filter and sort on.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from fitsync.kernel.db import Base

SCHEMA = "notifications"


class Preference(Base):
    """A user's choices: ``{events: {type: [channels]}, quiet_hours, locale, phone}``."""

    __tablename__ = "preferences"
    __table_args__ = {"schema": SCHEMA}

    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    gym_id: Mapped[uuid.UUID | None]  # None for platform admins
    doc: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class PushSubscription(Base):
    """One browser or device of a user (a standard Web Push subscription)."""

    __tablename__ = "push_subscriptions"
    __table_args__ = (
        UniqueConstraint("user_id", "endpoint"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    gym_id: Mapped[uuid.UUID | None]  # None for platform admins
    user_id: Mapped[uuid.UUID]
    endpoint: Mapped[str] = mapped_column(String(2000))
    p256dh: Mapped[str] = mapped_column(String(200))
    auth: Mapped[str] = mapped_column(String(100))
    user_agent: Mapped[str | None] = mapped_column(String(400))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class Delivery(Base):
    """One event, to one recipient, on one channel: sent at most once.

    The unique key ``(event_id, recipient_id, channel)`` is the idempotency record of
    a send: a redelivered event finds its row and sends nothing. ``context`` holds what
    the templates need, captured when the event was handled.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "recipient_id", "channel"),
        CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'skipped', 'dead')", name="status"
        ),
        CheckConstraint("channel IN ('email', 'push', 'sms', 'in_app')", name="channel"),
        Index(
            "ix_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status IN ('pending', 'sending')"),
        ),
        Index("ix_deliveries_recipient_created", "recipient_id", "created_at"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    gym_id: Mapped[uuid.UUID]
    event_id: Mapped[uuid.UUID]
    event_type: Mapped[str] = mapped_column(String(100))
    recipient_id: Mapped[uuid.UUID]
    channel: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10), server_default=text("'pending'"))
    attempts: Mapped[int] = mapped_column(server_default=text("0"))
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    context: Mapped[dict[str, Any]] = mapped_column(JSONB)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    sent_at: Mapped[datetime | None]


class InboxItem(Base):
    """An in-app notification: ``doc`` is ``{title, body, data}``."""

    __tablename__ = "inbox"
    __table_args__ = (
        Index("ix_inbox_user_created", "user_id", text("created_at DESC"), text("id DESC")),
        Index("ix_inbox_user_unread", "user_id", postgresql_where=text("read_at IS NULL")),
        Index(
            "ix_inbox_doc", "doc", postgresql_using="gin", postgresql_ops={"doc": "jsonb_path_ops"}
        ),
        Index("ix_inbox_created", "created_at"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    gym_id: Mapped[uuid.UUID]
    user_id: Mapped[uuid.UUID]
    delivery_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    type: Mapped[str] = mapped_column(String(100))
    doc: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    read_at: Mapped[datetime | None]


class DevOutboxItem(Base):
    """What an unconfigured channel (no SMTP server, no SMS provider) would have sent.

    Never dropped: kept here for developers and operators to read.
    """

    __tablename__ = "dev_outbox"
    __table_args__ = {"schema": SCHEMA}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    gym_id: Mapped[uuid.UUID]
    delivery_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    channel: Mapped[str] = mapped_column(String(10))
    recipient: Mapped[str] = mapped_column(String(320))
    doc: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
