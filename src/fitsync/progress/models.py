"""Progress's tables (schema ``progress``), private to this context.

The per-second samples table (``progress.samples``, range-partitioned by time, BRIN on
time) is not mapped here: only the time-series port's PostgreSQL adapter touches it, with
COPY and plain SQL; the migration creates it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    LargeBinary,
    SmallInteger,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from fitsync.kernel.db import Base

SCHEMA = "progress"


class Profile(Base):
    """A client's settings for progress: display units and heart-rate zones."""

    __tablename__ = "profiles"
    __table_args__ = (
        CheckConstraint("units IN ('metric', 'imperial')", name="units"),
        {"schema": SCHEMA},
    )

    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    gym_id: Mapped[uuid.UUID]
    units: Mapped[str] = mapped_column(String(10), server_default=text("'metric'"))
    max_hr: Mapped[int | None] = mapped_column(SmallInteger)
    resting_hr: Mapped[int | None] = mapped_column(SmallInteger)
    female: Mapped[bool] = mapped_column(server_default=text("false"))
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class BodyMetric(Base):
    __tablename__ = "body_metrics"
    __table_args__ = (
        UniqueConstraint("user_id", "measured_at"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    gym_id: Mapped[uuid.UUID]
    user_id: Mapped[uuid.UUID]
    measured_at: Mapped[datetime]
    weight_kg: Mapped[float | None] = mapped_column(Float)
    body_fat_pct: Mapped[float | None] = mapped_column(Float)
    measurements: Mapped[dict[str, float]] = mapped_column(
        JSONB, server_default=text("'{}'::jsonb")
    )
    created_by: Mapped[uuid.UUID]
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class WorkoutLog(Base):
    __tablename__ = "workout_logs"
    __table_args__ = (
        UniqueConstraint("user_id", "source_key"),
        Index("ix_workout_logs_user_performed", "user_id", "performed_at", "id"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    gym_id: Mapped[uuid.UUID]
    user_id: Mapped[uuid.UUID]
    performed_at: Mapped[datetime]
    workout_id: Mapped[uuid.UUID | None]
    title: Mapped[str | None] = mapped_column(String(200))
    duration_s: Mapped[int | None]
    notes: Mapped[str | None] = mapped_column(String(2000))
    adherence: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(20), server_default=text("'api'"))
    # What makes an imported workout the same on a second import (None for API logs).
    source_key: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[uuid.UUID]
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class WorkoutSet(Base):
    """One performed set; the log's entries are these rows grouped by ``entry``."""

    __tablename__ = "workout_sets"
    __table_args__ = (
        Index("ix_workout_sets_user_key", "user_id", "exercise_key"),
        {"schema": SCHEMA},
    )

    log_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.workout_logs.id", ondelete="CASCADE"), primary_key=True
    )
    entry: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    position: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    gym_id: Mapped[uuid.UUID]
    user_id: Mapped[uuid.UUID]
    performed_at: Mapped[datetime]
    exercise_id: Mapped[uuid.UUID | None]
    exercise_name: Mapped[str | None] = mapped_column(String(200))
    exercise_key: Mapped[str] = mapped_column(String(250))
    reps: Mapped[int | None] = mapped_column(SmallInteger)
    load_kg: Mapped[float | None] = mapped_column(Float)
    rpe: Mapped[float | None] = mapped_column(Float)
    rir: Mapped[int | None] = mapped_column(SmallInteger)
    duration_s: Mapped[int | None]
    distance_m: Mapped[float | None] = mapped_column(Float)
    warmup: Mapped[bool] = mapped_column(server_default=text("false"))


class PersonalRecord(Base):
    """The best load a client has lifted for a given exercise and rep count."""

    __tablename__ = "personal_records"
    __table_args__ = {"schema": SCHEMA}

    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    exercise_key: Mapped[str] = mapped_column(String(250), primary_key=True)
    reps: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    gym_id: Mapped[uuid.UUID]
    exercise_id: Mapped[uuid.UUID | None]
    exercise_name: Mapped[str | None] = mapped_column(String(200))
    load_kg: Mapped[float] = mapped_column(Float)
    e1rm_kg: Mapped[float | None] = mapped_column(Float)
    performed_at: Mapped[datetime]
    log_id: Mapped[uuid.UUID]


class RecordHistory(Base):
    """Every improvement of a personal record (the PR history)."""

    __tablename__ = "record_history"
    __table_args__ = (
        Index("ix_record_history_user_performed", "user_id", "performed_at"),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    gym_id: Mapped[uuid.UUID]
    user_id: Mapped[uuid.UUID]
    exercise_key: Mapped[str] = mapped_column(String(250))
    exercise_id: Mapped[uuid.UUID | None]
    exercise_name: Mapped[str | None] = mapped_column(String(200))
    reps: Mapped[int] = mapped_column(SmallInteger)
    load_kg: Mapped[float] = mapped_column(Float)
    previous_kg: Mapped[float | None] = mapped_column(Float)
    e1rm_kg: Mapped[float | None] = mapped_column(Float)
    performed_at: Mapped[datetime]
    log_id: Mapped[uuid.UUID]


class AthleteStats(Base):
    """Running counts per client; its row lock serialises one client's logging."""

    __tablename__ = "athlete_stats"
    __table_args__ = {"schema": SCHEMA}

    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    gym_id: Mapped[uuid.UUID]
    workouts: Mapped[int] = mapped_column(server_default=text("0"))


class Achievement(Base):
    __tablename__ = "achievements"
    __table_args__ = (
        UniqueConstraint("user_id", "code"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    gym_id: Mapped[uuid.UUID]
    user_id: Mapped[uuid.UUID]
    code: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(300))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    earned_at: Mapped[datetime]


class Activity(Base):
    """An imported wearable activity: its summary; the samples live in the time-series store."""

    __tablename__ = "activities"
    __table_args__ = (
        UniqueConstraint("user_id", "file_sha256"),
        Index("ix_activities_user_started", "user_id", "started_at", "id"),
        CheckConstraint("source_format IN ('fit', 'gpx', 'tcx')", name="source_format"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    gym_id: Mapped[uuid.UUID]
    user_id: Mapped[uuid.UUID]
    sport: Mapped[str] = mapped_column(String(40))
    sub_sport: Mapped[str | None] = mapped_column(String(40))
    source_format: Mapped[str] = mapped_column(String(3))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime]
    elapsed_s: Mapped[float | None] = mapped_column(Float)
    moving_s: Mapped[float | None] = mapped_column(Float)
    distance_m: Mapped[float | None] = mapped_column(Float)
    ascent_m: Mapped[float | None] = mapped_column(Float)
    hr_avg: Mapped[float | None] = mapped_column(Float)
    hr_max: Mapped[int | None] = mapped_column(SmallInteger)
    power_avg: Mapped[float | None] = mapped_column(Float)
    power_max: Mapped[int | None] = mapped_column(SmallInteger)
    power_np: Mapped[float | None] = mapped_column(Float)
    cadence_avg: Mapped[float | None] = mapped_column(Float)
    calories: Mapped[int | None]
    samples: Mapped[int]
    laps: Mapped[int | None]
    device: Mapped[str | None] = mapped_column(String(200))
    hr_zones_s: Mapped[list[float] | None] = mapped_column(JSONB)
    trimp: Mapped[float | None] = mapped_column(Float)
    file_name: Mapped[str | None] = mapped_column(String(255))
    file_size: Mapped[int]
    file_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class ActivityFile(Base):
    """The original upload, kept so the time-series store can be rebuilt from it."""

    __tablename__ = "activity_files"
    __table_args__ = {"schema": SCHEMA}

    activity_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.activities.id", ondelete="CASCADE"), primary_key=True
    )
    gym_id: Mapped[uuid.UUID]
    content: Mapped[bytes] = mapped_column(LargeBinary)


class Assessment(Base):
    """A fitness assessment: what was measured and what follows from it (formulas named)."""

    __tablename__ = "assessments"
    __table_args__ = (
        Index("ix_assessments_user_assessed", "user_id", "assessed_at"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    gym_id: Mapped[uuid.UUID]
    user_id: Mapped[uuid.UUID]
    assessed_at: Mapped[datetime]
    inputs: Mapped[dict[str, Any]] = mapped_column(JSONB)
    results: Mapped[dict[str, Any]] = mapped_column(JSONB)
    notes: Mapped[str | None] = mapped_column(String(2000))
    created_by: Mapped[uuid.UUID]
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


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
