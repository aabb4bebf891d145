"""Progress: body metrics, workout logs, records, achievements, activities, samples.

Revision ID: 0300
Revises: 0001
Create Date: 2026-11-23

``progress.samples`` is range-partitioned by time (one partition a month, made on demand
by ``progress.ensure_sample_partitions``, a SECURITY DEFINER function, because the
application role owns no table) with a BRIN index on time: rows arrive in time order,
an import at a time, so BRIN stays small and selective.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from fitsync.kernel.db import APP_ROLE, rls_policy_sql

revision: str = "0300"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = ("progress",)
depends_on: str | Sequence[str] | None = None


SCHEMA = "progress"
TENANT_TABLES = (
    "profiles",
    "body_metrics",
    "workout_logs",
    "workout_sets",
    "personal_records",
    "record_history",
    "athlete_stats",
    "achievements",
    "activities",
    "activity_files",
    "assessments",
)


def upgrade() -> None:
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    op.execute(f"GRANT USAGE ON SCHEMA {SCHEMA} TO {APP_ROLE}")
    op.create_table(
        "achievements",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("code", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column(
            "data",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("earned_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_achievements")),
        sa.UniqueConstraint("user_id", "code", name=op.f("uq_achievements_user_id_code")),
        schema="progress",
    )
    op.create_table(
        "activities",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("sport", sa.String(length=40), nullable=False),
        sa.Column("sub_sport", sa.String(length=40), nullable=True),
        sa.Column("source_format", sa.String(length=3), nullable=False),
        sa.Column("started_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("ended_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("elapsed_s", sa.Float(), nullable=True),
        sa.Column("moving_s", sa.Float(), nullable=True),
        sa.Column("distance_m", sa.Float(), nullable=True),
        sa.Column("ascent_m", sa.Float(), nullable=True),
        sa.Column("hr_avg", sa.Float(), nullable=True),
        sa.Column("hr_max", sa.SmallInteger(), nullable=True),
        sa.Column("power_avg", sa.Float(), nullable=True),
        sa.Column("power_max", sa.SmallInteger(), nullable=True),
        sa.Column("power_np", sa.Float(), nullable=True),
        sa.Column("cadence_avg", sa.Float(), nullable=True),
        sa.Column("calories", sa.Integer(), nullable=True),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("laps", sa.Integer(), nullable=True),
        sa.Column("device", sa.String(length=200), nullable=True),
        sa.Column("hr_zones_s", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("trimp", sa.Float(), nullable=True),
        sa.Column("file_name", sa.String(length=255), nullable=True),
        sa.Column("file_size", sa.Integer(), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "source_format IN ('fit', 'gpx', 'tcx')", name=op.f("ck_activities_source_format")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activities")),
        sa.UniqueConstraint(
            "user_id", "file_sha256", name=op.f("uq_activities_user_id_file_sha256")
        ),
        schema="progress",
    )
    op.create_index(
        "ix_activities_user_started",
        "activities",
        ["user_id", "started_at", "id"],
        unique=False,
        schema="progress",
    )
    op.create_table(
        "assessments",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("assessed_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("inputs", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("results", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("notes", sa.String(length=2000), nullable=True),
        sa.Column("created_by", sa.UUID(), nullable=False),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessments")),
        schema="progress",
    )
    op.create_index(
        "ix_assessments_user_assessed",
        "assessments",
        ["user_id", "assessed_at"],
        unique=False,
        schema="progress",
    )
    op.create_table(
        "athlete_stats",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=False),
        sa.Column("workouts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_athlete_stats")),
        schema="progress",
    )
    op.create_table(
        "body_metrics",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("measured_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("weight_kg", sa.Float(), nullable=True),
        sa.Column("body_fat_pct", sa.Float(), nullable=True),
        sa.Column(
            "measurements",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("created_by", sa.UUID(), nullable=False),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_body_metrics")),
        sa.UniqueConstraint(
            "user_id", "measured_at", name=op.f("uq_body_metrics_user_id_measured_at")
        ),
        schema="progress",
    )
    op.create_table(
        "personal_records",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("exercise_key", sa.String(length=250), nullable=False),
        sa.Column("reps", sa.SmallInteger(), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=False),
        sa.Column("exercise_id", sa.UUID(), nullable=True),
        sa.Column("exercise_name", sa.String(length=200), nullable=True),
        sa.Column("load_kg", sa.Float(), nullable=False),
        sa.Column("e1rm_kg", sa.Float(), nullable=True),
        sa.Column("performed_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("log_id", sa.UUID(), nullable=False),
        sa.PrimaryKeyConstraint(
            "user_id", "exercise_key", "reps", name=op.f("pk_personal_records")
        ),
        schema="progress",
    )
    op.create_table(
        "profiles",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=False),
        sa.Column(
            "units", sa.String(length=10), server_default=sa.text("'metric'"), nullable=False
        ),
        sa.Column("max_hr", sa.SmallInteger(), nullable=True),
        sa.Column("resting_hr", sa.SmallInteger(), nullable=True),
        sa.Column("female", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "updated_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("units IN ('metric', 'imperial')", name=op.f("ck_profiles_units")),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_profiles")),
        schema="progress",
    )
    op.create_table(
        "record_history",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("exercise_key", sa.String(length=250), nullable=False),
        sa.Column("exercise_id", sa.UUID(), nullable=True),
        sa.Column("exercise_name", sa.String(length=200), nullable=True),
        sa.Column("reps", sa.SmallInteger(), nullable=False),
        sa.Column("load_kg", sa.Float(), nullable=False),
        sa.Column("previous_kg", sa.Float(), nullable=True),
        sa.Column("e1rm_kg", sa.Float(), nullable=True),
        sa.Column("performed_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("log_id", sa.UUID(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_history")),
        schema="progress",
    )
    op.create_index(
        "ix_record_history_user_performed",
        "record_history",
        ["user_id", "performed_at"],
        unique=False,
        schema="progress",
    )
    op.create_table(
        "workout_logs",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("performed_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("workout_id", sa.UUID(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("duration_s", sa.Integer(), nullable=True),
        sa.Column("notes", sa.String(length=2000), nullable=True),
        sa.Column("adherence", sa.Float(), nullable=True),
        sa.Column("source", sa.String(length=20), server_default=sa.text("'api'"), nullable=False),
        sa.Column("source_key", sa.String(length=200), nullable=True),
        sa.Column("created_by", sa.UUID(), nullable=False),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workout_logs")),
        sa.UniqueConstraint(
            "user_id", "source_key", name=op.f("uq_workout_logs_user_id_source_key")
        ),
        schema="progress",
    )
    op.create_index(
        "ix_workout_logs_user_performed",
        "workout_logs",
        ["user_id", "performed_at", "id"],
        unique=False,
        schema="progress",
    )
    op.create_table(
        "activity_files",
        sa.Column("activity_id", sa.UUID(), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["progress.activities.id"],
            name=op.f("fk_activity_files_activity_id_activities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("activity_id", name=op.f("pk_activity_files")),
        schema="progress",
    )
    op.create_table(
        "workout_sets",
        sa.Column("log_id", sa.UUID(), nullable=False),
        sa.Column("entry", sa.SmallInteger(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("performed_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("exercise_id", sa.UUID(), nullable=True),
        sa.Column("exercise_name", sa.String(length=200), nullable=True),
        sa.Column("exercise_key", sa.String(length=250), nullable=False),
        sa.Column("reps", sa.SmallInteger(), nullable=True),
        sa.Column("load_kg", sa.Float(), nullable=True),
        sa.Column("rpe", sa.Float(), nullable=True),
        sa.Column("rir", sa.SmallInteger(), nullable=True),
        sa.Column("duration_s", sa.Integer(), nullable=True),
        sa.Column("distance_m", sa.Float(), nullable=True),
        sa.Column("warmup", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.ForeignKeyConstraint(
            ["log_id"],
            ["progress.workout_logs.id"],
            name=op.f("fk_workout_sets_log_id_workout_logs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("log_id", "entry", "position", name=op.f("pk_workout_sets")),
        schema="progress",
    )
    op.create_index(
        "ix_workout_sets_user_key",
        "workout_sets",
        ["user_id", "exercise_key"],
        unique=False,
        schema="progress",
    )
    _samples()
    op.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {SCHEMA} TO {APP_ROLE}")
    for table in TENANT_TABLES:
        for statement in rls_policy_sql(f"{SCHEMA}.{table}"):
            op.execute(statement)
    # The samples' policy is the same rule, with the settings read once per query (InitPlan)
    # instead of once per row: a 5-hour activity's 18,000 rows read twice as fast.
    tenant = (
        "(SELECT current_setting('app.all_gyms', true)) = 'on' OR "
        "gym_id = (SELECT nullif(current_setting('app.gym_id', true), '')::uuid)"
    )
    op.execute("ALTER TABLE progress.samples ENABLE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY samples_tenant ON progress.samples USING ({tenant}) WITH CHECK ({tenant})"
    )
    op.execute(f"GRANT SELECT, INSERT, DELETE ON progress.samples TO {APP_ROLE}")


def _samples() -> None:
    """The time-series table of the PostgreSQL adapter (see progress/timeseries.py)."""
    op.execute(
        """
        CREATE TABLE progress.samples (
            activity_id uuid NOT NULL,
            gym_id uuid NOT NULL,
            t timestamptz NOT NULL,
            hr smallint,
            power smallint,
            cadence smallint,
            speed real,
            lat integer,       -- 1e-7 degrees
            lon integer,
            alt real,
            distance real
        ) PARTITION BY RANGE (t)
        """
    )
    op.execute(
        "CREATE INDEX ix_samples_t_brin ON progress.samples USING brin (t)"
        " WITH (pages_per_range = 16, autosummarize = on)"
    )
    op.execute(
        """
        CREATE FUNCTION progress.ensure_sample_partitions(lo timestamptz, hi timestamptz)
        RETURNS integer
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, progress AS $$
        DECLARE
            month date := date_trunc('month', lo AT TIME ZONE 'UTC')::date;
            made integer := 0;
            name text;
        BEGIN
            IF hi - lo > interval '400 days' THEN
                RAISE EXCEPTION 'a sample span of more than 400 days is refused';
            END IF;
            WHILE month <= (hi AT TIME ZONE 'UTC')::date LOOP
                name := 'samples_' || to_char(month, 'YYYY_MM');
                IF to_regclass('progress.' || name) IS NULL THEN
                    BEGIN
                        EXECUTE format(
                            'CREATE TABLE progress.%I PARTITION OF progress.samples'
                            ' FOR VALUES FROM (%L) TO (%L)',
                            name,
                            month::timestamp AT TIME ZONE 'UTC',
                            (month + interval '1 month')::timestamp AT TIME ZONE 'UTC'
                        );
                        made := made + 1;
                    EXCEPTION WHEN duplicate_table OR unique_violation THEN
                        NULL;  -- made by a concurrent import
                    END;
                END IF;
                month := (month + interval '1 month')::date;
            END LOOP;
            RETURN made;
        END $$
        """
    )
    # BRIN summarises new page ranges only on VACUUM (or, with autosummarize, a little later):
    # until then every unsummarised range matches every query. The application calls this
    # right after an import commits, so a fresh activity is fast to read at once.
    op.execute(
        """
        CREATE FUNCTION progress.summarize_samples(lo timestamptz, hi timestamptz)
        RETURNS integer
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, progress AS $$
        DECLARE
            month date := date_trunc('month', lo AT TIME ZONE 'UTC')::date;
            total integer := 0;
            idx regclass;
        BEGIN
            WHILE month <= (hi AT TIME ZONE 'UTC')::date LOOP
                FOR idx IN
                    SELECT i.indexrelid::regclass FROM pg_index i
                    JOIN pg_class c ON c.oid = i.indexrelid
                    JOIN pg_am a ON a.oid = c.relam
                    WHERE a.amname = 'brin'
                      AND i.indrelid = to_regclass('progress.samples_' || to_char(month, 'YYYY_MM'))
                LOOP
                    total := total + brin_summarize_new_values(idx);
                END LOOP;
                month := (month + interval '1 month')::date;
            END LOOP;
            RETURN total;
        END $$
        """
    )
    op.execute("REVOKE ALL ON FUNCTION progress.summarize_samples FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION progress.summarize_samples TO {APP_ROLE}")
    op.execute("REVOKE ALL ON FUNCTION progress.ensure_sample_partitions FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION progress.ensure_sample_partitions TO {APP_ROLE}")


def downgrade() -> None:
    op.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
