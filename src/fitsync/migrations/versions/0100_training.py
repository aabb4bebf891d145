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

-- {name, alias1, alias2} lower-cased and unaccented: what the query's trigram similarity is
-- measured against (stored, so a search does not unaccent every candidate's terms).
CREATE FUNCTION training.norm_terms(name text, aliases text[]) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN ARRAY[training.norm(name)]
        || coalesce((SELECT array_agg(training.norm(a)) FROM unnest(aliases) a), '{}');

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
    terms text[] GENERATED ALWAYS AS (training.norm_terms(name, aliases)) STORED,
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
-- GIN indexes without the pending list (fastupdate = off): a write costs a little more, but
-- a search never scans a list of not-yet-merged entries (after a bulk load of 10,000 gym
-- exercises that list made each search ~3 ms slower until a vacuum merged it).
CREATE INDEX ix_exercises_search ON training.exercises USING gin (search_vector)
    WITH (fastupdate = off);
CREATE INDEX ix_exercises_muscles ON training.exercises
    USING gin ((primary_muscles || secondary_muscles)) WITH (fastupdate = off);
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
CREATE INDEX ix_workouts_search ON training.workouts USING gin (search_vector)
    WITH (fastupdate = off);
CREATE INDEX ix_workouts_terms_trgm ON training.workouts USING gin (terms_norm gin_trgm_ops)
    WITH (fastupdate = off);

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
CREATE INDEX ix_programs_search ON training.programs USING gin (search_vector)
    WITH (fastupdate = off);
CREATE INDEX ix_programs_terms_trgm ON training.programs USING gin (terms_norm gin_trgm_ops)
    WITH (fastupdate = off);

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

-- The client's calendar, written when a program is assigned (and rewritten when its
-- workouts move to a new version, dropped when it is cancelled): one row per planned
-- session with its exercises rendered for that week (json keeps the rendering as is),
-- so GET /me/plan is one range read of an index.
CREATE TABLE training.planned_sessions (
    assignment_id uuid NOT NULL
        REFERENCES training.program_assignments (id) ON DELETE CASCADE,
    seq integer NOT NULL,
    gym_id uuid NOT NULL,
    client_id uuid NOT NULL,
    program_id uuid NOT NULL REFERENCES training.programs (id),
    assignment_start date NOT NULL,
    session_date date NOT NULL,
    week integer NOT NULL,
    day integer NOT NULL,
    workout_id uuid NOT NULL REFERENCES training.workouts (id),
    workout_version integer NOT NULL,
    exercises json NOT NULL,
    CONSTRAINT pk_planned_sessions PRIMARY KEY (assignment_id, seq)
);
CREATE INDEX ix_planned_sessions_client_date ON training.planned_sessions
    (client_id, session_date);

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
# NULL for the library). A query word is widened with its most similar lexicon words
# (trigram similarity through a GIN index; other gyms' words are filtered out after it),
# and the candidates are then found by the full-text index alone (glued names are words
# of the document too). Comparing the query with every exercise by trigrams instead
# costs ~30 us a row, far too slow over 10,000 exercises. The lexicon is kept small
# (see index_words) because a trigram lookup rechecks every word that shares the query's
# trigrams: with 10,000 gym exercises a lookup takes ~0.1-0.2 ms this way, where a GiST
# nearest-neighbour scan of the unpruned lexicon (23,000 words) took several ms a word.
#
# Row-level security keeps PostgreSQL from using an index for a non-leakproof operator
# (@@, %, LIKE) before the policy's check, so under RLS every search would read the
# whole table. The search function is therefore SECURITY DEFINER and applies the
# tenant rule itself (the policy's rule, from the same settings); the caller's query
# joins the page's ids back under RLS, so the policy still backs every row up.
SEARCH = """
CREATE TABLE training.search_words (
    word text NOT NULL,
    gym_id uuid
);

CREATE UNIQUE INDEX uq_search_words_word_gym ON training.search_words
    (word, coalesce(gym_id, '00000000-0000-0000-0000-000000000000'::uuid));

CREATE INDEX ix_search_words_trgm ON training.search_words USING gin (word gin_trgm_ops)
    WITH (fastupdate = off);

ALTER TABLE training.search_words ENABLE ROW LEVEL SECURITY;

-- The lexicon: the words of names and aliases, and the names and aliases of two or three
-- words glued ("benchpress", "latpulldown": what people type without the space). Longer
-- names are not glued here (nobody types "barbellbenchpressmediumgrip"; it is in the
-- document all the same), and a gym's words that the library has already are not
-- repeated: each long or repeated word would be one more row every lookup rechecks.
CREATE FUNCTION training.index_words() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
BEGIN
    INSERT INTO training.search_words (word, gym_id)
    SELECT DISTINCT w, NEW.gym_id
    FROM (
        SELECT regexp_split_to_table(
            training.norm(NEW.name || ' ' || training.words(NEW.aliases)), '[^a-z0-9]+')
        UNION ALL
        SELECT training.compact(t) FROM unnest(NEW.name || NEW.aliases) t
        WHERE array_length(array_remove(
            regexp_split_to_array(training.norm(t), '[^a-z0-9]+'), ''), 1) BETWEEN 2 AND 3
    ) AS words (w)
    WHERE length(w) >= 3 AND w ~ '[a-z]'
        AND (NEW.gym_id IS NULL OR NOT EXISTS (
            SELECT FROM training.search_words l
            WHERE l.word = w
                AND coalesce(l.gym_id, '00000000-0000-0000-0000-000000000000'::uuid)
                    = '00000000-0000-0000-0000-000000000000'::uuid))
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

CREATE TRIGGER exercises_index_words AFTER INSERT OR UPDATE OF name, aliases
    ON training.exercises FOR EACH ROW EXECUTE FUNCTION training.index_words();

-- The query's words as a tsquery, each widened with its closest lexicon words:
-- {dumbell, curl} -> (dumbell | dumbbell | ...) & (curl:* | curls | ...).
-- Static SQL, so PL/pgSQL keeps its plans for the session. The planner prices a trigram
-- GIN scan high and would rather read the whole (small) lexicon, through a table or a
-- btree scan, comparing every word (~1 ms): only the GIN index's bitmap is allowed.
CREATE FUNCTION training.search_query(words text[]) RETURNS tsquery
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public
    SET enable_seqscan = off
    SET enable_indexscan = off
    SET enable_indexonlyscan = off
    SET pg_trgm.similarity_threshold = 0.3
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
        -- ... or one of the three distinct lexicon words most similar to it (>= 0.3)
        IF length(words[i]) >= 3 THEN
            FOR alt IN
                SELECT s.word FROM training.search_words s
                WHERE (s.gym_id IS NULL OR s.gym_id = gym) AND s.word % words[i]
                GROUP BY s.word
                ORDER BY similarity(s.word, words[i]) DESC, s.word
                LIMIT 3
            LOOP
                term := term || to_tsquery('english', alt);
            END LOOP;
        END IF;
        query := CASE WHEN query IS NULL THEN term ELSE query && term END;
    END LOOP;
    RETURN coalesce(query, ''::tsquery);
END
$$;

-- One page of a ranked search, visible to the transaction's gym: (id, position).
-- Candidates: the 500 best by ts_rank among the rows the full-text index finds (the
-- tenant lexeme keeps that to the library and the gym), facets applied. Each is then
-- scored as documented in fitsync.training.service.exercises, and the page is cut.
CREATE FUNCTION training.search_exercises(
    words text[], query_text text, query_compact text,
    muscle_slug text, equipment_slug text, level_name text, category_name text,
    page_limit integer, page_offset integer
) RETURNS TABLE (id uuid, pos bigint)
    LANGUAGE plpgsql STABLE SECURITY DEFINER ROWS 21
    SET search_path = pg_catalog, public
    SET enable_seqscan = off
AS $$
DECLARE
    gym uuid := coalesce(nullif(current_setting('app.gym_id', true), '')::uuid,
                         '00000000-0000-0000-0000-000000000000'::uuid);
    query tsquery := training.search_query(words);
    tenant tsquery := to_tsquery('simple',
        'tenantlibrary | tenant' || replace(gym::text, '-', ''));
BEGIN
    -- enable_seqscan is off because the planner prices @@ like a cheap operator and
    -- would rather read the whole table.
    RETURN QUERY
    SELECT r.id, row_number() OVER (ORDER BY r.score DESC, r.name, r.id)
    FROM (
        SELECT c.id, c.name,
            2.0 * c.rank
            + (SELECT max(similarity(query_text, t)) FROM unnest(c.terms) t)
            + CASE WHEN c.terms_compact LIKE '%|' || query_compact || '|%' THEN 3.0
                   WHEN c.terms_compact LIKE '%|' || query_compact || '%' THEN 0.4
                   WHEN c.terms_compact LIKE '%' || query_compact || '%' THEN 0.2
                   ELSE 0 END AS score
        FROM (
            SELECT e.id, e.name, e.terms, e.terms_compact,
                ts_rank('{0.05, 0.2, 0.5, 1.0}', e.search_vector, query) AS rank
            FROM training.exercises e
            WHERE e.search_vector @@ (query && tenant) AND e.deleted_at IS NULL
                -- the library and the transaction's gym (the library only without one)
                AND coalesce(e.gym_id, gym) = gym
                AND (muscle_slug IS NULL
                     OR (e.primary_muscles || e.secondary_muscles) @> ARRAY[muscle_slug])
                AND (equipment_slug IS NULL OR e.equipment = equipment_slug)
                AND (level_name IS NULL OR e.level = level_name)
                AND (category_name IS NULL OR e.category = category_name)
            ORDER BY rank DESC
            LIMIT 500
        ) c
    ) r
    ORDER BY r.score DESC, r.name, r.id
    LIMIT page_limit OFFSET page_offset;
END
$$;
"""

# The two hot reads, each one statement: one round trip, no BEGIN/COMMIT around it (the
# caller runs it in autocommit; a unit of work costs ~1 ms of Python and three more round
# trips, as much as the read itself). Each states its tenant first, transaction-locally as
# kernel.db.set_tenant does (so it ends with the statement), then reads under RLS and
# renders the response body's JSON; the fields are those of the API's pydantic schemas,
# in their order (tests/training/test_hot_reads.py holds them to it).
HOT_READS = """
-- GET /exercises?q=: a Page[ExerciseSummary]'s items, and how many rows the page query
-- found (page_limit + 1 means there is a next page).
CREATE FUNCTION training.search_page(
    gym uuid, all_gyms boolean, words text[], query_text text, query_compact text,
    muscle_slug text, equipment_slug text, level_name text, category_name text,
    page_limit integer, page_offset integer
) RETURNS TABLE (items text, total bigint)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public
AS $$
BEGIN
    PERFORM set_config('app.gym_id', coalesce(gym::text, ''), true),
        set_config('app.all_gyms', CASE WHEN all_gyms THEN 'on' ELSE 'off' END, true);
    RETURN QUERY
    SELECT coalesce(json_agg(json_build_object(
            'id', e.id, 'name', e.name, 'category', e.category, 'level', e.level,
            'equipment', e.equipment, 'primary_muscles', e.primary_muscles,
            'secondary_muscles', e.secondary_muscles, 'gym_id', e.gym_id,
            'source_id', e.source_id, 'base_id', e.base_id)
            ORDER BY s.pos) FILTER (WHERE s.pos <= page_limit), '[]')::text,
        count(*)
    FROM training.search_exercises(words, query_text, query_compact, muscle_slug,
        equipment_slug, level_name, category_name, page_limit + 1, page_offset) s
    -- the page's rows, read back under RLS
    JOIN training.exercises e ON e.id = s.id;
END
$$;

-- GET /me/plan: a PlanOut's items (PlannedWorkout), oldest first; names joined, so a
-- renamed program or workout shows as it is called now.
CREATE FUNCTION training.plan_items(gym uuid, client uuid, from_date date, to_date date)
    RETURNS text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public
AS $$
BEGIN
    PERFORM set_config('app.gym_id', coalesce(gym::text, ''), true),
        set_config('app.all_gyms', 'off', true);
    RETURN (
        SELECT coalesce(json_agg(json_build_object(
                'date', s.session_date, 'assignment_id', s.assignment_id,
                'program_id', s.program_id, 'program_name', p.name, 'week', s.week,
                'day', s.day, 'workout_id', s.workout_id,
                'workout_version', s.workout_version, 'workout_name', w.name,
                'exercises', s.exercises)
                ORDER BY s.session_date, s.assignment_start, s.assignment_id, s.seq), '[]')::text
        FROM training.planned_sessions s
        JOIN training.programs p ON p.id = s.program_id
        JOIN training.workouts w ON w.id = s.workout_id
        WHERE s.client_id = client AND s.session_date BETWEEN from_date AND to_date);
END
$$;
"""

TENANT_TABLES = (
    "training.trainer_clients",
    "training.workouts",
    "training.workout_versions",
    "training.programs",
    "training.program_assignments",
    "training.planned_sessions",
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
    for statement in HOT_READS.split(";\n\n"):
        op.execute(statement)
    for function in (
        "training.search_query",
        "training.search_exercises",
        "training.search_page",
        "training.plan_items",
    ):
        op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {function} TO {APP_ROLE}")
    for table in TENANT_TABLES:
        for statement in rls_policy_sql(table):
            op.execute(statement)
    library.load_sync(op.get_bind())
    op.execute("ANALYZE training.exercises")
    op.execute("ANALYZE training.search_words")


def downgrade() -> None:
    op.execute("DROP SCHEMA IF EXISTS training CASCADE")
