"""Identity's tables (schema ``identity``), private to this context."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, text
from sqlalchemy.dialects.postgresql import CITEXT, INET
from sqlalchemy.orm import Mapped, mapped_column

from fitsync.kernel.db import Base

SCHEMA = "identity"


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'gym_owner', 'trainer', 'client')", name="role"),
        CheckConstraint("(role = 'admin') = (gym_id IS NULL)", name="tenant"),
        Index("ix_users_gym_role_created", "gym_id", "role", "created_at", "id"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    gym_id: Mapped[uuid.UUID | None]
    email: Mapped[str] = mapped_column(CITEXT, unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))  # None: invited, not set
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class Session(Base):
    """A sign-in; its refresh tokens form one family and share its ``id`` (``sid``)."""

    __tablename__ = "sessions"
    __table_args__ = (Index("ix_sessions_user_id", "user_id"), {"schema": SCHEMA})

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.users.id", ondelete="CASCADE"))
    gym_id: Mapped[uuid.UUID | None]
    refresh_token_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    ip: Mapped[str | None] = mapped_column(INET)
    user_agent: Mapped[str | None] = mapped_column(String(400))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(40))


class SpentRefreshToken(Base):
    """Refresh tokens already exchanged: presenting one again betrays a theft."""

    __tablename__ = "spent_refresh_tokens"
    __table_args__ = {"schema": SCHEMA}

    token_hash: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.sessions.id", ondelete="CASCADE"), index=True
    )
    gym_id: Mapped[uuid.UUID | None]
    spent_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class Invitation(Base):
    """A one-time link for a user created by someone else to set their password."""

    __tablename__ = "invitations"
    __table_args__ = {"schema": SCHEMA}

    token_hash: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.users.id", ondelete="CASCADE"), index=True
    )
    gym_id: Mapped[uuid.UUID | None]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
