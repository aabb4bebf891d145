"""Platform (extensions, app role, outbox), identity and gyms.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Later contexts start their own branch from this revision (``down_revision = "0001"``,
their own ``branch_labels``); ``fitsync migrate`` upgrades to all heads.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from fitsync.kernel.db import APP_ROLE, rls_policy_sql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("platform",)
depends_on: str | Sequence[str] | None = None


EXTENSIONS = ("citext", "btree_gist", "pg_trgm", "unaccent")
SCHEMAS = ("kernel", "identity", "gyms")
TENANT_TABLES = {
    "gyms.gyms": "id",
    "identity.users": "gym_id",
    "identity.sessions": "gym_id",
    "identity.spent_refresh_tokens": "gym_id",
    "identity.invitations": "gym_id",
}


def upgrade() -> None:
    for ext in EXTENSIONS:
        op.execute(f"CREATE EXTENSION IF NOT EXISTS {ext}")
    # The role the application runs as (SET ROLE): it owns nothing, so RLS applies to it.
    # Roles are cluster-wide; several databases on one server (tests) share it.
    op.execute(
        f"""DO $$ BEGIN
            CREATE ROLE {APP_ROLE} NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END $$"""
    )
    op.execute(f"GRANT {APP_ROLE} TO CURRENT_USER")
    for schema in SCHEMAS:
        op.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        op.execute(f"GRANT USAGE ON SCHEMA {schema} TO {APP_ROLE}")
    op.create_table(
        "gyms",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("address", sa.String(length=500), nullable=True),
        sa.Column(
            "branding",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "settings",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("member_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("staff_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gyms")),
        schema="gyms",
    )
    op.create_table(
        "users",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=True),
        sa.Column("email", postgresql.CITEXT(), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("(role = 'admin') = (gym_id IS NULL)", name=op.f("ck_users_tenant")),
        sa.CheckConstraint(
            "role IN ('admin', 'gym_owner', 'trainer', 'client')", name=op.f("ck_users_role")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
        schema="identity",
    )
    op.create_index(
        "ix_users_gym_role_created",
        "users",
        ["gym_id", "role", "created_at", "id"],
        unique=False,
        schema="identity",
    )
    op.create_table(
        "outbox",
        sa.Column("seq", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=True),
        sa.Column("actor_id", sa.UUID(), nullable=True),
        sa.Column("occurred_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("published_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_outbox")),
        sa.UniqueConstraint("id", name=op.f("uq_outbox_id")),
        schema="kernel",
    )
    op.create_index(
        "ix_outbox_unpublished",
        "outbox",
        ["seq"],
        unique=False,
        schema="kernel",
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_table(
        "processed_events",
        sa.Column("consumer", sa.String(length=100), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("processed_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id", name=op.f("pk_processed_events")),
        schema="kernel",
    )
    op.create_table(
        "invitations",
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=True),
        sa.Column("expires_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("used_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity.users.id"],
            name=op.f("fk_invitations_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_invitations")),
        schema="identity",
    )
    op.create_index(
        op.f("ix_invitations_user_id"), "invitations", ["user_id"], unique=False, schema="identity"
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=True),
        sa.Column("refresh_token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("ip", postgresql.INET(), nullable=True),
        sa.Column("user_agent", sa.String(length=400), nullable=True),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("revoked_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity.users.id"],
            name=op.f("fk_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
        sa.UniqueConstraint("refresh_token_hash", name=op.f("uq_sessions_refresh_token_hash")),
        schema="identity",
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"], unique=False, schema="identity")
    op.create_table(
        "spent_refresh_tokens",
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("session_id", sa.UUID(), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=True),
        sa.Column(
            "spent_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["identity.sessions.id"],
            name=op.f("fk_spent_refresh_tokens_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_spent_refresh_tokens")),
        schema="identity",
    )
    op.create_index(
        op.f("ix_spent_refresh_tokens_session_id"),
        "spent_refresh_tokens",
        ["session_id"],
        unique=False,
        schema="identity",
    )
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA kernel TO {APP_ROLE}")
    op.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA kernel TO {APP_ROLE}")
    for table, column in TENANT_TABLES.items():
        for statement in rls_policy_sql(table, column=column):
            op.execute(statement)


def downgrade() -> None:
    op.drop_index(
        op.f("ix_spent_refresh_tokens_session_id"),
        table_name="spent_refresh_tokens",
        schema="identity",
    )
    op.drop_table("spent_refresh_tokens", schema="identity")
    op.drop_index("ix_sessions_user_id", table_name="sessions", schema="identity")
    op.drop_table("sessions", schema="identity")
    op.drop_index(op.f("ix_invitations_user_id"), table_name="invitations", schema="identity")
    op.drop_table("invitations", schema="identity")
    op.drop_table("processed_events", schema="kernel")
    op.drop_index(
        "ix_outbox_unpublished",
        table_name="outbox",
        schema="kernel",
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.drop_table("outbox", schema="kernel")
    op.drop_index("ix_users_gym_role_created", table_name="users", schema="identity")
    op.drop_table("users", schema="identity")
    op.drop_table("gyms", schema="gyms")
    for schema in reversed(SCHEMAS):
        op.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
