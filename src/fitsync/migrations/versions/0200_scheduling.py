"""Scheduling: availability, sessions (classes and 1:1 appointments), bookings, reminders.

Revision ID: 0200
Revises: 0001
Create Date: 2026-11-23

The exclusion constraints need btree_gist (created by 0001).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from fitsync.kernel.db import APP_ROLE, rls_policy_sql

revision: str = "0200"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = ("scheduling",)
depends_on: str | Sequence[str] | None = None

# Every table carries gym_id: row-level security scopes each to the transaction's gym.
TABLES = (
    "availability",
    "calendar_feeds",
    "class_series",
    "idempotency_keys",
    "sessions",
    "bookings",
    "reminders",
)


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS scheduling")
    op.execute(f"GRANT USAGE ON SCHEMA scheduling TO {APP_ROLE}")
    op.execute("CREATE SEQUENCE scheduling.waitlist_seq")
    op.execute(f"GRANT USAGE ON SEQUENCE scheduling.waitlist_seq TO {APP_ROLE}")
    op.create_table(
        "availability",
        sa.Column("trainer_id", sa.UUID(), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=False),
        sa.Column("rules", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("exceptions", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("breaks", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("slot_minutes", sa.Integer(), nullable=False),
        sa.Column("durations", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column("updated_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("trainer_id", name=op.f("pk_availability")),
        schema="scheduling",
    )
    op.create_table(
        "calendar_feeds",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("rotated_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_calendar_feeds")),
        schema="scheduling",
    )
    op.create_table(
        "class_series",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=False),
        sa.Column("trainer_id", sa.UUID(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("rrule", sa.String(length=500), nullable=False),
        sa.Column("first_starts_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=True),
        sa.Column(
            "status", sa.String(length=20), server_default=sa.text("'scheduled'"), nullable=False
        ),
        sa.Column("created_by", sa.UUID(), nullable=False),
        sa.Column("created_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_class_series")),
        schema="scheduling",
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=False),
        sa.Column("request_hash", sa.LargeBinary(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "key", name=op.f("pk_idempotency_keys")),
        schema="scheduling",
    )
    op.create_index(
        "ix_idempotency_keys_created",
        "idempotency_keys",
        ["created_at"],
        unique=False,
        schema="scheduling",
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("series_id", sa.UUID(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("trainer_id", sa.UUID(), nullable=False),
        sa.Column("client_id", sa.UUID(), nullable=True),
        sa.Column("starts_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("ends_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("busy_until", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("booked", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("waitlisted", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=True),
        sa.Column(
            "status", sa.String(length=20), server_default=sa.text("'scheduled'"), nullable=False
        ),
        sa.Column("sequence", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_by", sa.UUID(), nullable=False),
        sa.Column("created_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("updated_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        postgresql.ExcludeConstraint(
            (sa.column("client_id"), "="),
            (sa.text("tstzrange(starts_at, ends_at)"), "&&"),
            where=sa.text("status = 'scheduled' AND kind = 'appointment'"),
            using="gist",
            name="ex_sessions_client_overlap",
        ),
        postgresql.ExcludeConstraint(
            (sa.column("trainer_id"), "="),
            (sa.text("tstzrange(starts_at, busy_until)"), "&&"),
            where=sa.text("status = 'scheduled'"),
            using="gist",
            name="ex_sessions_trainer_overlap",
        ),
        sa.CheckConstraint(
            "(kind = 'appointment') = (client_id IS NOT NULL)", name=op.f("ck_sessions_client")
        ),
        sa.CheckConstraint("kind IN ('class', 'appointment')", name=op.f("ck_sessions_kind")),
        sa.CheckConstraint("status IN ('scheduled', 'cancelled')", name=op.f("ck_sessions_status")),
        sa.CheckConstraint("booked >= 0 AND booked <= capacity", name=op.f("ck_sessions_seats")),
        sa.CheckConstraint("capacity >= 1", name=op.f("ck_sessions_capacity")),
        sa.CheckConstraint(
            "ends_at > starts_at AND busy_until >= ends_at", name=op.f("ck_sessions_times")
        ),
        sa.CheckConstraint("waitlisted >= 0", name=op.f("ck_sessions_waitlist")),
        sa.ForeignKeyConstraint(
            ["series_id"],
            ["scheduling.class_series.id"],
            name=op.f("fk_sessions_series_id_class_series"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
        schema="scheduling",
    )
    op.create_index(
        "ix_sessions_gym_kind_starts",
        "sessions",
        ["gym_id", "kind", "starts_at", "id"],
        unique=False,
        schema="scheduling",
    )
    op.create_index(
        "ix_sessions_series",
        "sessions",
        ["series_id", "starts_at"],
        unique=False,
        schema="scheduling",
    )
    op.create_table(
        "bookings",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=False),
        sa.Column("session_id", sa.UUID(), nullable=False),
        sa.Column("client_id", sa.UUID(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("late_cancel", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("waitlist_seq", sa.BigInteger(), nullable=True),
        sa.Column("sequence", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("booked_by", sa.UUID(), nullable=False),
        sa.Column("created_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("updated_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("cancelled_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("checked_in_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(status = 'waitlisted') = (waitlist_seq IS NOT NULL)",
            name=op.f("ck_bookings_waitlist"),
        ),
        sa.CheckConstraint(
            "status IN ('confirmed', 'waitlisted', 'cancelled', 'attended', 'no_show')",
            name=op.f("ck_bookings_status"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["scheduling.sessions.id"],
            name=op.f("fk_bookings_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bookings")),
        schema="scheduling",
    )
    op.create_index(
        "ix_bookings_client",
        "bookings",
        ["client_id", "created_at"],
        unique=False,
        schema="scheduling",
    )
    op.create_index(
        "ix_bookings_waitlist",
        "bookings",
        ["session_id", "waitlist_seq"],
        unique=False,
        schema="scheduling",
        postgresql_where=sa.text("status = 'waitlisted'"),
    )
    op.create_index(
        "uq_bookings_session_client_active",
        "bookings",
        ["session_id", "client_id"],
        unique=True,
        schema="scheduling",
        postgresql_where=sa.text("status <> 'cancelled'"),
    )
    op.create_table(
        "reminders",
        sa.Column("booking_id", sa.UUID(), nullable=False),
        sa.Column("lead_minutes", sa.Integer(), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=False),
        sa.Column("due_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("sent_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["scheduling.bookings.id"],
            name=op.f("fk_reminders_booking_id_bookings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("booking_id", "lead_minutes", name=op.f("pk_reminders")),
        schema="scheduling",
    )
    op.create_index(
        "ix_reminders_due",
        "reminders",
        ["due_at"],
        unique=False,
        schema="scheduling",
        postgresql_where=sa.text("sent_at IS NULL"),
    )
    op.create_index(
        "ix_sessions_gym_starts",
        "sessions",
        ["gym_id", "starts_at", "id"],
        unique=False,
        schema="scheduling",
    )
    for table in TABLES:
        for statement in rls_policy_sql(f"scheduling.{table}"):
            op.execute(statement)


def downgrade() -> None:
    op.drop_index("ix_sessions_gym_starts", table_name="sessions", schema="scheduling")
    op.drop_index(
        "ix_reminders_due",
        table_name="reminders",
        schema="scheduling",
        postgresql_where=sa.text("sent_at IS NULL"),
    )
    op.drop_table("reminders", schema="scheduling")
    op.drop_index(
        "uq_bookings_session_client_active",
        table_name="bookings",
        schema="scheduling",
        postgresql_where=sa.text("status <> 'cancelled'"),
    )
    op.drop_index(
        "ix_bookings_waitlist",
        table_name="bookings",
        schema="scheduling",
        postgresql_where=sa.text("status = 'waitlisted'"),
    )
    op.drop_index("ix_bookings_client", table_name="bookings", schema="scheduling")
    op.drop_table("bookings", schema="scheduling")
    op.drop_index("ix_sessions_series", table_name="sessions", schema="scheduling")
    op.drop_index("ix_sessions_gym_kind_starts", table_name="sessions", schema="scheduling")
    op.drop_table("sessions", schema="scheduling")
    op.drop_index("ix_idempotency_keys_created", table_name="idempotency_keys", schema="scheduling")
    op.drop_table("idempotency_keys", schema="scheduling")
    op.drop_table("class_series", schema="scheduling")
    op.drop_table("calendar_feeds", schema="scheduling")
    op.drop_table("availability", schema="scheduling")
    op.execute("DROP SEQUENCE IF EXISTS scheduling.waitlist_seq")
    op.execute("DROP SCHEMA IF EXISTS scheduling CASCADE")
