"""Messaging's tables (schema ``messaging``), private to this context.

Messages are JSONB documents (``{text, attachments}``) in a table indexed for the two
hot reads: the latest messages of a conversation (``conversation_id, seq``) and the
conversations of a user (``participants.user_id``). ``seq`` numbers a gym's messages
in commit order (see ``gym_counters``), so "everything after message X" has no gaps.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from fitsync.kernel.db import Base

SCHEMA = "messaging"


class GymCounter(Base):
    """The last message number of a gym. Taking the next one locks the row until commit,
    so numbers are handed out, and committed, in order: readers never skip one."""

    __tablename__ = "gym_counters"
    __table_args__ = {"schema": SCHEMA}

    gym_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("gym_id", "pair_key"),
        Index("ix_conversations_activity", "gym_id", text("last_activity_at DESC"), "id"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    gym_id: Mapped[uuid.UUID]
    is_group: Mapped[bool]
    title: Mapped[str | None] = mapped_column(String(200))
    # "<smaller uuid>:<larger uuid>" for a 1:1 conversation: one per pair, by constraint.
    pair_key: Mapped[str | None] = mapped_column(String(80))
    participant_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)))
    # {user_id: {"name", "role"}} as they were when the conversation started.
    people: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_by: Mapped[uuid.UUID]
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    last_activity_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    last_seq: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    last_message: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class Participant(Base):
    """A user in a conversation, with how far they have read."""

    __tablename__ = "participants"
    __table_args__ = (
        Index("ix_participants_user", "user_id", "conversation_id"),
        {"schema": SCHEMA},
    )

    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.conversations.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    gym_id: Mapped[uuid.UUID]
    last_read_seq: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    joined_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class Message(Base):
    """``doc`` is ``{text, attachments}``; a deleted message keeps its place (tombstone)."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("gym_id", "seq"),
        Index("ix_messages_conversation_seq", "conversation_id", "seq"),
        Index(
            "ix_messages_doc",
            "doc",
            postgresql_using="gin",
            postgresql_ops={"doc": "jsonb_path_ops"},
        ),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    gym_id: Mapped[uuid.UUID]
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.conversations.id", ondelete="CASCADE")
    )
    seq: Mapped[int] = mapped_column(BigInteger)
    sender_id: Mapped[uuid.UUID]
    doc: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    edited_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
