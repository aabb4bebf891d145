"""Training: exercise library, muscles, equipment, workouts, programs, diet plans.

Revision ID: 0100
Revises: 0001
Create Date: 2026-11-23

Search columns are maintained by PostgreSQL itself (generated columns over immutable
helper functions), indexed with GIN (tsvector) and GIN trigram indexes (pg_trgm). The
public exercise library is loaded at the end (idempotent: ``fitsync demo`` refreshes it).
"""

from collections.abc import Sequence

from alembic import op

from fitsync.kernel.db import APP_ROLE, rls_policy_sql
from fitsync.training import library

revision: str = "0100"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = ("training",)
depends_on: str | Sequence[str] | None = None

# Helpers for generated columns: IMMUTABLE wrappers (unaccent and array_to_string are only
# STABLE because their dictionary / element output could change; ours do not).
FUNCTIONS = """
CREATE FUNCTION training.norm(t text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN lower(public.unaccent('public.unaccent'::regdictionary, t));

CREATE FUNCTION training.words(a text[]) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN coalesce(array_to_string(a, ' '), '');

CREATE FUNCTION training.compact(t text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN regexp_replace(training.norm(t), '[^a-z0-9]+', '', 'g');

-- '|name|alias1|alias2|' with every term lower-cased, unaccented, glued ("benchpress").
CREATE FUNCTION training.compact_terms(name text, aliases text[]) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN '|' || training.compact(name) || '|'
        || coalesce((SELECT string_agg(training.compact(a), '|') || '|' FROM unnest(aliases) a), '');

-- The weighted document: name (A) > aliases (B) > muscles, equipment, category (C)
-- > instructions/description (D).
CREATE FUNCTION training.document(
    name text, aliases text[], tags text, body text
) RETURNS tsvector
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN setweight(to_tsvector('english'::regconfig, training.norm(coalesce(name, ''))), 'A')
        || setweight(to_tsvector('english'::regconfig, training.norm(training.words(aliases))), 'B')
        || setweight(to_tsvector('english'::regconfig, training.norm(coalesce(tags, ''))), 'C')
        || setweight(to_tsvector('english'::regconfig, training.norm(coalesce(body, ''))), 'D');
"""

TABLES = """
CREATE TABLE training.muscles (
    slug text PRIMARY KEY,
    name text NOT NULL,
    region text NOT NULL
);

CREATE TABLE training.equipment (
    slug text PRIMARY KEY,
    name text NOT NULL
);

CREATE TABLE training.exercises (
    id uuid PRIMARY KEY,
    gym_id uuid,
    source_id text,
    base_id uuid REFERENCES training.exercises (id),
    name varchar(200) NOT NULL,
    aliases text[] NOT NULL DEFAULT '{}',
    description text,
    instructions text[] NOT NULL DEFAULT '{}',
    category text NOT NULL,
    level text NOT NULL,
    force text,
    mechanic text,
    equipment text REFERENCES training.equipment (slug),
    primary_muscles text[] NOT NULL DEFAULT '{}',
    secondary_muscles text[] NOT NULL DEFAULT '{}',
    images text[] NOT NULL DEFAULT '{}',
    video_url text,
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    terms_norm text GENERATED ALWAYS AS (
        training.norm(name || ' ' || training.words(aliases))) STORED,
    terms_compact text GENERATED ALWAYS AS (training.compact_terms(name, aliases)) STORED,
    search_vector tsvector GENERATED ALWAYS AS (training.document(
        name, aliases,
        training.words(primary_muscles || secondary_muscles) || ' ' || coalesce(equipment, '')
            || ' ' || category,
        coalesce(description, '') || ' ' || training.words(instructions))) STORED,
    CONSTRAINT uq_exercises_source_id UNIQUE (source_id),
    CONSTRAINT ck_exercises_library CHECK (source_id IS NULL OR gym_id IS NULL),
    CONSTRAINT ck_exercises_category CHECK (category IN ('strength', 'stretching',
        'plyometrics', 'powerlifting', 'olympic weightlifting', 'strongman', 'cardio')),
    CONSTRAINT ck_exercises_level CHECK (level IN ('beginner', 'intermediate', 'expert')),
    CONSTRAINT ck_exercises_force CHECK (force IN ('pull', 'push', 'static')),
    CONSTRAINT ck_exercises_mechanic CHECK (mechanic IN ('compound', 'isolation')),
    CONSTRAINT ck_exercises_not_own_base CHECK (base_id <> id)
);
CREATE INDEX ix_exercises_search ON training.exercises USING gin (search_vector);
CREATE INDEX ix_exercises_terms_trgm ON training.exercises USING gin (terms_norm gin_trgm_ops);
CREATE INDEX ix_exercises_compact_trgm ON training.exercises
    USING gin (terms_compact gin_trgm_ops);
CREATE INDEX ix_exercises_muscles ON training.exercises
    USING gin ((primary_muscles || secondary_muscles));
CREATE INDEX ix_exercises_gym_name ON training.exercises (gym_id, name, id);
CREATE INDEX ix_exercises_base_id ON training.exercises (base_id) WHERE base_id IS NOT NULL;
CREATE UNIQUE INDEX uq_exercises_gym_name ON training.exercises (gym_id, training.norm(name))
    WHERE deleted_at IS NULL AND gym_id IS NOT NULL;

CREATE TABLE training.trainer_clients (
    gym_id uuid NOT NULL,
    trainer_id uuid NOT NULL,
    client_id uuid NOT NULL,
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_trainer_clients PRIMARY KEY (trainer_id, client_id),
    CONSTRAINT ck_trainer_clients_distinct CHECK (trainer_id <> client_id)
);
CREATE INDEX ix_trainer_clients_client ON training.trainer_clients (client_id);

CREATE TABLE training.workouts (
    id uuid PRIMARY KEY,
    gym_id uuid NOT NULL,
    owner_id uuid NOT NULL,
    name varchar(200) NOT NULL,
    description text,
    goal text,
    difficulty text,
    is_template boolean NOT NULL DEFAULT false,
    visibility text NOT NULL DEFAULT 'gym',
    copied_from uuid,
    version integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    terms_norm text GENERATED ALWAYS AS (training.norm(name)) STORED,
    search_vector tsvector GENERATED ALWAYS AS (training.document(
        name, '{}', coalesce(goal, '') || ' ' || coalesce(difficulty, ''),
        description)) STORED,
    CONSTRAINT ck_workouts_visibility CHECK (visibility IN ('gym', 'private')),
    CONSTRAINT ck_workouts_version CHECK (version >= 1)
);
CREATE INDEX ix_workouts_gym_created ON training.workouts (gym_id, created_at, id);
CREATE INDEX ix_workouts_search ON training.workouts USING gin (search_vector);
CREATE INDEX ix_workouts_terms_trgm ON training.workouts USING gin (terms_norm gin_trgm_ops);

CREATE TABLE training.workout_versions (
    workout_id uuid NOT NULL REFERENCES training.workouts (id),
    version integer NOT NULL,
    gym_id uuid NOT NULL,
    body jsonb NOT NULL,
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_workout_versions PRIMARY KEY (workout_id, version)
);

CREATE TABLE training.programs (
    id uuid PRIMARY KEY,
    gym_id uuid NOT NULL,
    owner_id uuid NOT NULL,
    name varchar(200) NOT NULL,
    description text,
    goal text,
    difficulty text,
    duration_weeks integer NOT NULL,
    is_template boolean NOT NULL DEFAULT false,
    schedule jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    terms_norm text GENERATED ALWAYS AS (training.norm(name)) STORED,
    search_vector tsvector GENERATED ALWAYS AS (training.document(
        name, '{}', coalesce(goal, '') || ' ' || coalesce(difficulty, ''),
        description)) STORED,
    CONSTRAINT ck_programs_weeks CHECK (duration_weeks BETWEEN 1 AND 104)
);
CREATE INDEX ix_programs_gym_created ON training.programs (gym_id, created_at, id);
CREATE INDEX ix_programs_search ON training.programs USING gin (search_vector);
CREATE INDEX ix_programs_terms_trgm ON training.programs USING gin (terms_norm gin_trgm_ops);

CREATE TABLE training.program_assignments (
    id uuid PRIMARY KEY,
    gym_id uuid NOT NULL,
    program_id uuid NOT NULL REFERENCES training.programs (id),
    client_id uuid NOT NULL,
    assigned_by uuid NOT NULL,
    start_date date NOT NULL,
    end_date date NOT NULL,
    status text NOT NULL DEFAULT 'active',
    schedule jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT uq_program_assignments_program_client_start
        UNIQUE (program_id, client_id, start_date),
    CONSTRAINT ck_program_assignments_status CHECK (status IN ('active', 'cancelled')),
    CONSTRAINT ck_program_assignments_dates CHECK (end_date >= start_date)
);
CREATE INDEX ix_program_assignments_client ON training.program_assignments
    (client_id, start_date, id);

CREATE TABLE training.diet_plans (
    id uuid PRIMARY KEY,
    gym_id uuid NOT NULL,
    owner_id uuid NOT NULL,
    name varchar(200) NOT NULL,
    description text,
    calories integer NOT NULL,
    protein_g integer NOT NULL,
    carbs_g integer NOT NULL,
    fat_g integer NOT NULL,
    meals jsonb NOT NULL DEFAULT '[]',
    restrictions text[] NOT NULL DEFAULT '{}',
    energy jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    CONSTRAINT ck_diet_plans_calories CHECK (calories BETWEEN 800 AND 10000),
    CONSTRAINT ck_diet_plans_macros CHECK (protein_g >= 0 AND carbs_g >= 0 AND fat_g >= 0),
    -- The macros' energy (4/4/9 kcal per gram) agrees with the stated calories within 5 %.
    CONSTRAINT ck_diet_plans_energy_agrees CHECK (
        abs(4 * protein_g + 4 * carbs_g + 9 * fat_g - calories) <= 0.05 * calories)
);
CREATE INDEX ix_diet_plans_gym_created ON training.diet_plans (gym_id, created_at, id);

CREATE TABLE training.diet_assignments (
    id uuid PRIMARY KEY,
    gym_id uuid NOT NULL,
    diet_plan_id uuid NOT NULL REFERENCES training.diet_plans (id),
    client_id uuid NOT NULL,
    assigned_by uuid NOT NULL,
    start_date date NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT uq_diet_assignments_plan_client_start UNIQUE (diet_plan_id, client_id, start_date)
);
CREATE INDEX ix_diet_assignments_client ON training.diet_assignments (client_id, start_date);

CREATE TABLE training.favourites (
    gym_id uuid,
    user_id uuid NOT NULL,
    target_type text NOT NULL,
    target_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_favourites PRIMARY KEY (user_id, target_type, target_id),
    CONSTRAINT ck_favourites_type CHECK (target_type IN ('exercise', 'workout', 'program'))
);

CREATE TABLE training.ratings (
    gym_id uuid NOT NULL,
    program_id uuid NOT NULL REFERENCES training.programs (id),
    client_id uuid NOT NULL,
    stars smallint NOT NULL,
    comment text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_ratings PRIMARY KEY (program_id, client_id),
    CONSTRAINT ck_ratings_stars CHECK (stars BETWEEN 1 AND 5)
);
"""

# Search candidates. Row-level security keeps PostgreSQL from using an index for a
# non-leakproof operator (@@, <<%, LIKE) before the policy's check, so under RLS every
# search would scan the whole table. This SECURITY DEFINER function reads the indexes
# and applies the same tenant rule as the policy itself; the caller's query then joins
# the returned ids back under RLS, so the policy still backs every row up.
CANDIDATES = """
CREATE FUNCTION training.exercise_candidates(tsq tsquery, qtext text, inside text)
    RETURNS SETOF uuid
    LANGUAGE sql STABLE SECURITY DEFINER PARALLEL SAFE ROWS 100
    SET search_path = pg_catalog, public
    SET pg_trgm.strict_word_similarity_threshold = 0.35
AS $$
    SELECT e.id FROM training.exercises e
    WHERE (e.search_vector @@ tsq OR qtext <<% e.terms_norm OR e.terms_compact LIKE inside)
      AND e.deleted_at IS NULL
      AND (e.gym_id IS NULL
           OR current_setting('app.all_gyms', true) = 'on'
           OR e.gym_id = nullif(current_setting('app.gym_id', true), '')::uuid)
$$
"""

TENANT_TABLES = (
    "training.trainer_clients",
    "training.workouts",
    "training.workout_versions",
    "training.programs",
    "training.program_assignments",
    "training.diet_plans",
    "training.diet_assignments",
    "training.favourites",
    "training.ratings",
)

_TENANT = (
    "current_setting('app.all_gyms', true) = 'on' OR "
    "gym_id = nullif(current_setting('app.gym_id', true), '')::uuid"
)


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";\n") if s.strip()]


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS training")
    op.execute(f"GRANT USAGE ON SCHEMA training TO {APP_ROLE}")
    for statement in _statements(FUNCTIONS + TABLES):
        op.execute(statement)
    # Lookup tables are global reference data (no tenant): read by all, added to by the loader.
    op.execute(f"GRANT SELECT, INSERT ON training.muscles, training.equipment TO {APP_ROLE}")
    # Exercises: the library (gym_id NULL) is visible to every tenant; only a transaction
    # for all gyms (admin, loader) may write it. Gym exercises follow the tenant rule.
    op.execute("ALTER TABLE training.exercises ENABLE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY exercises_tenant ON training.exercises"
        f" USING (gym_id IS NULL OR {_TENANT}) WITH CHECK ({_TENANT})"
    )
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON training.exercises TO {APP_ROLE}")
    op.execute(CANDIDATES)
    op.execute("REVOKE ALL ON FUNCTION training.exercise_candidates FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION training.exercise_candidates TO {APP_ROLE}")
    for table in TENANT_TABLES:
        for statement in rls_policy_sql(table):
            op.execute(statement)
    library.load_sync(op.get_bind())
    op.execute("ANALYZE training.exercises")


def downgrade() -> None:
    op.execute("DROP SCHEMA IF EXISTS training CASCADE")
