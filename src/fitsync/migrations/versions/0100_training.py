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

-- 'barbellbenchpressmediumgrip benchpress flatbenchpress': names and aliases glued, so
-- that "benchpress" or "pullup" typed without a space is a word of the document.
CREATE FUNCTION training.compact_words(name text, aliases text[]) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN training.compact(name) || ' '
        || coalesce((SELECT string_agg(training.compact(a), ' ') FROM unnest(aliases) a), '');

-- The weighted document: name (A) > aliases and glued names (B) > muscles, equipment,
-- category (C) > instructions/description (D).
-- ``tenant`` adds one lexeme naming whose row it is ('tenantlibrary', 'tenant<gym hex>'),
-- so that the GIN index itself keeps a search to the library and the caller's gym.
CREATE FUNCTION training.document(
    name text, aliases text[], tags text, body text, tenant text DEFAULT NULL
) RETURNS tsvector
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN tenant IS NULL THEN ''::tsvector
                ELSE to_tsvector('simple'::regconfig, 'tenant' || tenant) END
        || setweight(to_tsvector('english'::regconfig, training.norm(coalesce(name, ''))), 'A')
        || setweight(to_tsvector('english'::regconfig, training.norm(training.words(aliases))
            || ' ' || training.compact_words(name, aliases)), 'B')
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
        coalesce(description, '') || ' ' || training.words(instructions),
        coalesce(replace(CAST(gym_id AS text), '-', ''), 'library'))) STORED,
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

# Typo tolerance, the fast way (the pg_trgm documentation's spelling-suggestion recipe):
# the words of every name and alias are kept in a small lexicon (by a trigger, per gym;
# NULL for the library). A query word is widened with its closest lexicon words (trigram
# distance, GiST), and the candidates are then found by the full-text index alone (glued
# names are words of the document too). Comparing the query with every exercise by trigrams instead
# costs ~30 us a row, far too slow over 10,000 exercises.
#
# Row-level security keeps PostgreSQL from using an index for a non-leakproof operator
# (@@, %, LIKE) before the policy's check, so under RLS every search would read the
# whole table. The candidates function is therefore SECURITY DEFINER and applies the
# tenant rule itself (the policy's rule, from the same settings); the caller's query
# joins its ids back under RLS, so the policy still backs every row up.
SEARCH = """
CREATE TABLE training.search_words (
    word text NOT NULL,
    gym_id uuid
);

CREATE UNIQUE INDEX uq_search_words_word_gym ON training.search_words
    (word, coalesce(gym_id, '00000000-0000-0000-0000-000000000000'::uuid));

CREATE INDEX ix_search_words_trgm ON training.search_words USING gist (word gist_trgm_ops);

ALTER TABLE training.search_words ENABLE ROW LEVEL SECURITY;

CREATE FUNCTION training.index_words() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
BEGIN
    INSERT INTO training.search_words (word, gym_id)
    SELECT DISTINCT w, NEW.gym_id
    FROM regexp_split_to_table(
        training.norm(NEW.name || ' ' || training.words(NEW.aliases)) || ' '
            || training.compact_words(NEW.name, NEW.aliases),
        '[^a-z0-9]+') AS w
    WHERE length(w) >= 3 AND w ~ '[a-z]'
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

CREATE TRIGGER exercises_index_words AFTER INSERT OR UPDATE OF name, aliases
    ON training.exercises FOR EACH ROW EXECUTE FUNCTION training.index_words();

-- The query's words as a tsquery, each widened with its closest lexicon words:
-- {dumbell, curl} -> (dumbell | dumbbell | ...) & (curl:* | curls | ...).
CREATE FUNCTION training.search_query(words text[]) RETURNS tsquery
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public
    SET enable_seqscan = off
AS $$
DECLARE
    gym uuid := coalesce(nullif(current_setting('app.gym_id', true), '')::uuid,
                         '00000000-0000-0000-0000-000000000000'::uuid);
    n integer := coalesce(array_length(words, 1), 0);
    query tsquery;
    term tsquery;
    alt text;
BEGIN
    FOR i IN 1..n LOOP
        CONTINUE WHEN words[i] !~ '^[a-z0-9]+$';
        -- the word itself (the last one as a prefix: search as you type) ...
        term := to_tsquery('english', words[i] || CASE WHEN i = n THEN ':*' ELSE '' END);
        -- ... or one of the three lexicon words closest to it (trigram distance, GiST)
        IF length(words[i]) >= 3 THEN
            FOR alt IN EXECUTE
                'SELECT w.word FROM (SELECT s.word FROM training.search_words s'
                '  WHERE coalesce(s.gym_id, $2) = $2 ORDER BY s.word <-> $1 LIMIT 3) w'
                ' WHERE similarity(w.word, $1) >= 0.3'
                USING words[i], gym
            LOOP
                term := term || to_tsquery('english', alt);
            END LOOP;
        END IF;
        query := CASE WHEN query IS NULL THEN term ELSE query && term END;
    END LOOP;
    RETURN coalesce(query, ''::tsquery);
END
$$;

-- Up to 500 candidates visible to the transaction's gym, with their full-text rank.
CREATE FUNCTION training.exercise_candidates(words text[])
    RETURNS TABLE (id uuid, rank real)
    LANGUAGE plpgsql STABLE SECURITY DEFINER ROWS 100
    SET search_path = pg_catalog, public
    SET enable_seqscan = off
AS $$
DECLARE
    gym uuid := coalesce(nullif(current_setting('app.gym_id', true), '')::uuid,
                         '00000000-0000-0000-0000-000000000000'::uuid);
    query tsquery := training.search_query(words);
BEGIN
    -- EXECUTE plans with the values (a custom plan); enable_seqscan is off because the
    -- planner prices @@ like a cheap operator and would rather read the whole table.
    RETURN QUERY EXECUTE
        'SELECT e.id, ts_rank(''{0.05, 0.2, 0.5, 1.0}'', e.search_vector, $1)'
        ' FROM training.exercises e'
        ' WHERE e.search_vector @@ ($1 && $3) AND e.deleted_at IS NULL'
        -- the library and the transaction's gym (the library only without one)
        ' AND coalesce(e.gym_id, $2) = $2'
        ' ORDER BY 2 DESC LIMIT 500'
        USING query, gym, to_tsquery('simple', 'tenantlibrary | tenant' || replace(gym::text, '-', ''));
END
$$;
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
    for statement in SEARCH.split(";\n\n"):
        op.execute(statement)
    for function in ("training.search_query", "training.exercise_candidates"):
        op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {function} TO {APP_ROLE}")
    for table in TENANT_TABLES:
        for statement in rls_policy_sql(table):
            op.execute(statement)
    library.load_sync(op.get_bind())
    op.execute("ANALYZE training.exercises")


def downgrade() -> None:
    op.execute("DROP SCHEMA IF EXISTS training CASCADE")
