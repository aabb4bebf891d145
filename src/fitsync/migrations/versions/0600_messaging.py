"""Messaging: conversations, participants and their read marks, messages (JSONB).

Revision ID: 0600
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from fitsync.kernel.db import APP_ROLE, rls_policy_sql

revision: str = "0600"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = ("messaging",)
depends_on: str | Sequence[str] | None = None

SCHEMA = "messaging"
TENANT_TABLES = ("gym_counters", "conversations", "participants", "messages")
TZ = postgresql.TIMESTAMP(timezone=True)
JSONB = postgresql.JSONB(astext_type=sa.Text())


def _now() -> sa.TextClause:
    return sa.text("now()")


def upgrade() -> None:
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    op.execute(f"GRANT USAGE ON SCHEMA {SCHEMA} TO {APP_ROLE}")
    op.create_table(
        "gym_counters",
        sa.Column("gym_id", sa.UUID(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("gym_id", name=op.f("pk_gym_counters")),
        schema=SCHEMA,
    )
    op.create_table(
        "conversations",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=False),
        sa.Column("is_group", sa.Boolean(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("pair_key", sa.String(length=80), nullable=True),
        sa.Column("participant_ids", postgresql.ARRAY(sa.UUID()), nullable=False),
        sa.Column("people", JSONB, nullable=False),
        sa.Column("created_by", sa.UUID(), nullable=False),
        sa.Column("created_at", TZ, server_default=_now(), nullable=False),
        sa.Column("last_activity_at", TZ, server_default=_now(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_message", JSONB, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
        sa.UniqueConstraint("gym_id", "pair_key", name=op.f("uq_conversations_gym_id_pair_key")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_conversations_activity",
        "conversations",
        ["gym_id", sa.text("last_activity_at DESC"), "id"],
        schema=SCHEMA,
    )
    op.create_table(
        "participants",
        sa.Column("conversation_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=False),
        sa.Column("last_read_seq", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("joined_at", TZ, server_default=_now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            [f"{SCHEMA}.conversations.id"],
            name=op.f("fk_participants_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("conversation_id", "user_id", name=op.f("pk_participants")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_participants_user", "participants", ["user_id", "conversation_id"], schema=SCHEMA
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=False),
        sa.Column("conversation_id", sa.UUID(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("sender_id", sa.UUID(), nullable=False),
        sa.Column("doc", JSONB, nullable=False),
        sa.Column("created_at", TZ, server_default=_now(), nullable=False),
        sa.Column("edited_at", TZ, nullable=True),
        sa.Column("deleted_at", TZ, nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            [f"{SCHEMA}.conversations.id"],
            name=op.f("fk_messages_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("gym_id", "seq", name=op.f("uq_messages_gym_id_seq")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_messages_conversation_seq", "messages", ["conversation_id", "seq"], schema=SCHEMA
    )
    op.create_index(
        "ix_messages_doc",
        "messages",
        ["doc"],
        schema=SCHEMA,
        postgresql_using="gin",
        postgresql_ops={"doc": "jsonb_path_ops"},
    )
    for table in TENANT_TABLES:
        for statement in rls_policy_sql(f"{SCHEMA}.{table}"):
            op.execute(statement)


def downgrade() -> None:
    op.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
