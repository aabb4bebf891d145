"""Training's tables (schema ``training``), private to this context.

The DDL lives in migration 0100 (generated search columns, GIN indexes, row-level
security); these mappings mirror it for the ORM. Generated columns are ``Computed`` so
the ORM never writes them.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import ARRAY, JSON, Computed, ForeignKey, SmallInteger, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from fitsync.kernel.db import Base

SCHEMA = "training"
TextArray = ARRAY(Text)


class Muscle(Base):
    __tablename__ = "muscles"
    __table_args__ = {"schema": SCHEMA}

    slug: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    region: Mapped[str] = mapped_column(Text)


class Equipment(Base):
    __tablename__ = "equipment"
    __table_args__ = {"schema": SCHEMA}

    slug: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text)


class Exercise(Base):
    """A library exercise (``gym_id`` NULL, ``source_id`` set) or a gym's own."""

    __tablename__ = "exercises"
    __table_args__ = {"schema": SCHEMA}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    gym_id: Mapped[uuid.UUID | None]
    source_id: Mapped[str | None] = mapped_column(Text, unique=True)
    base_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey(f"{SCHEMA}.exercises.id"))
    name: Mapped[str] = mapped_column(String(200))
    aliases: Mapped[list[str]] = mapped_column(TextArray, server_default=text("'{}'"))
    description: Mapped[str | None] = mapped_column(Text)
    instructions: Mapped[list[str]] = mapped_column(TextArray, server_default=text("'{}'"))
    category: Mapped[str] = mapped_column(Text)
    level: Mapped[str] = mapped_column(Text)
    force: Mapped[str | None] = mapped_column(Text)
    mechanic: Mapped[str | None] = mapped_column(Text)
    equipment: Mapped[str | None] = mapped_column(Text, ForeignKey(f"{SCHEMA}.equipment.slug"))
    primary_muscles: Mapped[list[str]] = mapped_column(TextArray, server_default=text("'{}'"))
    secondary_muscles: Mapped[list[str]] = mapped_column(TextArray, server_default=text("'{}'"))
    images: Mapped[list[str]] = mapped_column(TextArray, server_default=text("'{}'"))
    video_url: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    deleted_at: Mapped[datetime | None]
    terms_norm: Mapped[str] = mapped_column(Text, Computed("terms_norm"))
    terms_compact: Mapped[str] = mapped_column(Text, Computed("terms_compact"))
    terms: Mapped[list[str]] = mapped_column(TextArray, Computed("terms"))
    search_vector: Mapped[Any] = mapped_column(TSVECTOR, Computed("search_vector"))


class TrainerClient(Base):
    """A client's trainer: a client has zero or more trainers in their gym."""

    __tablename__ = "trainer_clients"
    __table_args__ = {"schema": SCHEMA}

    trainer_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    client_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    gym_id: Mapped[uuid.UUID]
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class Workout(Base):
    """A plan's identity and listing fields; its content lives in :class:`WorkoutVersion`."""

    __tablename__ = "workouts"
    __table_args__ = {"schema": SCHEMA}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    gym_id: Mapped[uuid.UUID]
    owner_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    goal: Mapped[str | None] = mapped_column(Text)
    difficulty: Mapped[str | None] = mapped_column(Text)
    is_template: Mapped[bool] = mapped_column(server_default=text("false"))
    visibility: Mapped[str] = mapped_column(Text, server_default=text("'gym'"))
    copied_from: Mapped[uuid.UUID | None]
    version: Mapped[int] = mapped_column(server_default=text("1"))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    deleted_at: Mapped[datetime | None]
    terms_norm: Mapped[str] = mapped_column(Text, Computed("terms_norm"))
    search_vector: Mapped[Any] = mapped_column(TSVECTOR, Computed("search_vector"))


class WorkoutVersion(Base):
    """An immutable snapshot of a workout: what an assignment points at."""

    __tablename__ = "workout_versions"
    __table_args__ = {"schema": SCHEMA}

    workout_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.workouts.id"), primary_key=True
    )
    version: Mapped[int] = mapped_column(primary_key=True)
    gym_id: Mapped[uuid.UUID]
    body: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class Program(Base):
    __tablename__ = "programs"
    __table_args__ = {"schema": SCHEMA}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    gym_id: Mapped[uuid.UUID]
    owner_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    goal: Mapped[str | None] = mapped_column(Text)
    difficulty: Mapped[str | None] = mapped_column(Text)
    duration_weeks: Mapped[int]
    is_template: Mapped[bool] = mapped_column(server_default=text("false"))
    schedule: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    deleted_at: Mapped[datetime | None]
    terms_norm: Mapped[str] = mapped_column(Text, Computed("terms_norm"))
    search_vector: Mapped[Any] = mapped_column(TSVECTOR, Computed("search_vector"))


class ProgramAssignment(Base):
    """A program given to a client from a start date, with the workout versions pinned."""

    __tablename__ = "program_assignments"
    __table_args__ = {"schema": SCHEMA}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    gym_id: Mapped[uuid.UUID]
    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.programs.id"))
    client_id: Mapped[uuid.UUID]
    assigned_by: Mapped[uuid.UUID]
    start_date: Mapped[date]
    end_date: Mapped[date]
    status: Mapped[str] = mapped_column(Text, server_default=text("'active'"))
    schedule: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class PlannedSession(Base):
    """One session of a client's calendar, written when the program is assigned.

    ``exercises`` is rendered for that session's week (planned loads), from the workout
    version the assignment pins; names are joined when read, so renames show.
    """

    __tablename__ = "planned_sessions"
    __table_args__ = {"schema": SCHEMA}

    assignment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.program_assignments.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(primary_key=True)
    gym_id: Mapped[uuid.UUID]
    client_id: Mapped[uuid.UUID]
    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.programs.id"))
    assignment_start: Mapped[date]
    session_date: Mapped[date]
    week: Mapped[int]
    day: Mapped[int]
    workout_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.workouts.id"))
    workout_version: Mapped[int]
    exercises: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


class DietPlan(Base):
    __tablename__ = "diet_plans"
    __table_args__ = {"schema": SCHEMA}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    gym_id: Mapped[uuid.UUID]
    owner_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    calories: Mapped[int]
    protein_g: Mapped[int]
    carbs_g: Mapped[int]
    fat_g: Mapped[int]
    meals: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'"))
    restrictions: Mapped[list[str]] = mapped_column(TextArray, server_default=text("'{}'"))
    energy: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    deleted_at: Mapped[datetime | None]


class DietAssignment(Base):
    __tablename__ = "diet_assignments"
    __table_args__ = {"schema": SCHEMA}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    gym_id: Mapped[uuid.UUID]
    diet_plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.diet_plans.id"))
    client_id: Mapped[uuid.UUID]
    assigned_by: Mapped[uuid.UUID]
    start_date: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class Favourite(Base):
    __tablename__ = "favourites"
    __table_args__ = {"schema": SCHEMA}

    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    target_type: Mapped[str] = mapped_column(Text, primary_key=True)
    target_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    gym_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class Rating(Base):
    __tablename__ = "ratings"
    __table_args__ = {"schema": SCHEMA}

    program_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.programs.id"), primary_key=True
    )
    client_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    gym_id: Mapped[uuid.UUID]
    stars: Mapped[int] = mapped_column(SmallInteger)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
