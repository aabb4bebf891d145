"""The exercise library and the gyms' own exercises: list, search, read, write.

Search (``GET /exercises?q=``) is one SQL statement, ``training.search_page``
(migration 0100): it states the caller's tenant, takes the page's ids in rank order from
``training.search_exercises``, joins them back under row-level security and renders the
page's JSON. In ``search_exercises``:

candidates, through the GIN index of the weighted ``search_vector``: every query word
must match, each widened with its three most similar words of the names/aliases lexicon
(trigram similarity >= 0.3 through a GIN index on (tenant, word), so ``squatt`` ~
squat, ``dumbell`` ~ dumbbell, ``deadlfit`` ~ deadlift), the last word also as a
prefix so search-as-you-type works (``bic`` → biceps). Names and aliases are in the
document glued too, so ``benchpress`` and ``pullup`` match "bench press", "pull-up".
Facets filter the candidates; the 500 best by ``ts_rank`` are scored.

rank (higher first; ties by name): the sum of
    * 2 x ``ts_rank`` of that widened query, with weights name 1.0 > aliases 0.5 >
      muscles/equipment/category 0.2 > instructions 0.05 — a name hit beats a hit in
      the instructions;
    * the trigram similarity of the query to the closest whole name or alias — which
      favours the exercise whose name *is* the query ("Barbell Squat", alias "squat")
      over longer ones that merely contain it ("Barbell Squat To A Bench");
    * a bonus when the glued query equals a glued name/alias (3.0), starts one (0.4),
      or is inside one (0.2): typing a name or alias, spaced or not, is the strongest
      signal there is.

Search and browsing answer with JSON rendered by PostgreSQL (``ExerciseSummary``'s
fields, in order): no ORM objects or pydantic models per row on the hottest read.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from fitsync.kernel import clock
from fitsync.kernel.auth import Principal
from fitsync.kernel.db import APP_ROLE, unique_violation
from fitsync.kernel.errors import Conflict, Forbidden, Invalid, NotFound
from fitsync.kernel.pagination import Page, PageParams, encode_cursor
from fitsync.training.domain import SearchTerms, search_terms
from fitsync.training.library import slug
from fitsync.training.models import Equipment, Exercise, Muscle
from fitsync.training.schemas import (
    EquipmentOut,
    ExerciseOut,
    ExerciseRef,
    ExerciseSummary,
    MuscleOut,
)
from fitsync.training.service.people import WRITERS

MAX_SEARCH_OFFSET = 1000
NO_GYM = uuid.UUID(int=0)

SUMMARY_FIELDS = tuple(ExerciseSummary.model_fields)
SUMMARY_COLUMNS = ", ".join(f"e.{field}" for field in SUMMARY_FIELDS)

# A search page is one statement, training.search_page (migration 0100): it states the
# tenant, takes the page's ids from training.search_exercises (see there why a
# SECURITY DEFINER function), reads the rows back under RLS and renders their JSON.
SEARCH_PAGE = text(
    "SELECT items, total FROM training.search_page(:gym, :all_gyms, CAST(:words AS text[]),"
    " :qtext, :compact, :muscle, :equipment, :level, :category, :limit, :offset)"
)

# A browsed page as one row: the items' JSON (the first :limit rows of r), how many rows r
# had (limit + 1 means there is more), and the last item's sort key.
BROWSE_SQL = (
    "SELECT coalesce(json_agg(json_build_object("
    + ", ".join(f"'{field}', r.{field}" for field in SUMMARY_FIELDS)
    + ") ORDER BY r.pos) FILTER (WHERE r.pos <= :limit), '[]')::text AS items,"
    " count(*) AS total,"
    " (array_agg(r.name) FILTER (WHERE r.pos = :limit))[1] AS last_name,"
    " (array_agg(r.id) FILTER (WHERE r.pos = :limit))[1] AS last_id"
    f" FROM (SELECT {SUMMARY_COLUMNS}, row_number() OVER (ORDER BY e.name, e.id) AS pos"
    " FROM training.exercises e WHERE {where} ORDER BY e.name, e.id LIMIT :fetch) r"
)

FACETS = {
    "muscle": "(e.primary_muscles || e.secondary_muscles) @> ARRAY[CAST(:muscle AS text)]",
    "equipment": "e.equipment = :equipment",
    "level": "e.level = :level",
    "category": "e.category = :category",
}


async def list_muscles(session: AsyncSession) -> list[MuscleOut]:
    rows = await session.execute(select(Muscle).order_by(Muscle.region, Muscle.name))
    return [MuscleOut.model_validate(m) for m in rows.scalars()]


async def list_equipment(session: AsyncSession) -> list[EquipmentOut]:
    rows = await session.execute(select(Equipment).order_by(Equipment.name))
    return [EquipmentOut.model_validate(e) for e in rows.scalars()]


def facets(
    *, muscle: str | None, equipment: str | None, level: str | None, category: str | None
) -> dict[str, str | None]:
    return {
        "muscle": slug(muscle) if muscle else None,
        "equipment": slug(equipment) if equipment else None,
        "level": level,
        "category": category,
    }


async def search_exercises(
    conn: AsyncConnection,
    *,
    principal: Principal,
    page: PageParams,
    q: str,
    filters: dict[str, str | None],
) -> str:
    """Ranked search of the library plus the caller's gym's exercises.

    One statement on ``conn`` (run it in autocommit: it states its own tenant). Returns
    the JSON document of ``Page[ExerciseSummary]``.
    """
    terms = search_terms(q)
    if terms is None:
        return page_json("[]", None)
    offset = search_offset(page)
    params = {
        "gym": principal.gym_id,
        "all_gyms": principal.is_admin,
        **_search_params(terms),
        **filters,
        "limit": page.limit,
        "offset": offset,
    }
    row = (await conn.execute(SEARCH_PAGE, params)).one()
    more = row.total > page.limit and offset + page.limit < MAX_SEARCH_OFFSET
    return page_json(row.items, ["offset", offset + page.limit] if more else None)


async def browse_exercises(
    session: AsyncSession,
    *,
    principal: Principal,
    page: PageParams,
    filters: dict[str, str | None],
) -> str:
    """The library plus the caller's gym's exercises by name, filtered by the facets.

    Returns the JSON document of ``Page[ExerciseSummary]``.
    """
    where, params = _visible(principal)
    params.update(limit=page.limit, fetch=page.limit + 1)
    for name, condition in FACETS.items():
        if filters[name] is not None:
            where.append(condition)
            params[name] = filters[name]
    if page.after:
        try:
            params["after_name"], params["after_id"] = str(page.after[0]), uuid.UUID(page.after[1])
        except (ValueError, IndexError, TypeError):
            raise Invalid("malformed cursor", loc=["query", "cursor"]) from None
        where.append("(e.name, e.id) > (:after_name, :after_id)")
    sql = BROWSE_SQL.format(where=" AND ".join(where))
    row = (await session.execute(text(sql), params)).one()
    more = row.total > page.limit
    return page_json(row.items, [row.last_name, str(row.last_id)] if more else None)


def page_json(items: str, cursor_key: list[Any] | None) -> str:
    """A ``Page`` document around items already rendered as a JSON array."""
    cursor = json.dumps(encode_cursor(cursor_key)) if cursor_key is not None else "null"
    return f'{{"items":{items},"next_cursor":{cursor}}}'


def _visible(principal: Principal) -> tuple[list[str], dict[str, Any]]:
    """The library plus the caller's gym (admins: the library), not deleted.

    Written as ``coalesce(gym_id, :gym) = :gym`` rather than ``gym_id IS NULL OR …``: the
    latter tempts the planner into reading the whole library through the gym index,
    when the selective indexes should drive the query.
    """
    return (
        ["coalesce(e.gym_id, :gym) = :gym", "e.deleted_at IS NULL"],
        {"gym": principal.gym_id or NO_GYM},
    )


def _search_params(terms: SearchTerms) -> dict[str, Any]:
    return {"words": list(terms.words), "qtext": terms.text, "compact": terms.compact}


async def explain_search(session: AsyncSession, *, principal: Principal, q: str) -> str:
    """The plans of a search, with EXPLAIN ANALYZE (for the benchmark and the index test).

    The page's rows joined back (in the caller's transaction, under RLS), then the lexicon
    lookup of each word and the candidates' query as ``training.search_exercises`` runs
    them (as their owner, so without RLS).
    """
    terms = search_terms(q)
    assert terms is not None
    params = {
        **_search_params(terms),
        **facets(muscle=None, equipment=None, level=None, category=None),
        "fetch": 21,
        "offset": 0,
    }
    analyze = "EXPLAIN (ANALYZE, COSTS OFF)"
    plan = ["-- the page's rows read back under RLS, as training.search_page does:"]
    plan += [
        r[0]
        for r in await session.execute(
            text(
                f"{analyze} SELECT e.* FROM training.search_exercises(CAST(:words AS text[]),"
                " :qtext, :compact, :muscle, :equipment, :level, :category, :fetch, :offset) s"
                " JOIN training.exercises e ON e.id = s.id"
            ),
            params,
        )
    ]
    tsquery = await session.scalar(
        text("SELECT CAST(training.search_query(CAST(:words AS text[])) AS text)"),
        {"words": list(terms.words)},
    )
    gym = principal.gym_id or NO_GYM
    # As the function runs them: as its owner, with its settings.
    seqscan = await session.scalar(text("SELECT current_setting('enable_seqscan')"))
    await session.execute(text("SET LOCAL ROLE NONE"))
    await session.execute(text("SET LOCAL enable_seqscan = off"))
    await session.execute(text("SET LOCAL pg_trgm.similarity_threshold = 0.3"))
    try:
        await session.execute(text("SET LOCAL enable_indexscan = off"))
        await session.execute(text("SET LOCAL enable_indexonlyscan = off"))
        for word in terms.words:
            lexicon = await session.execute(
                text(
                    f"{analyze} SELECT s.word FROM training.search_words s"
                    " WHERE (s.gym_id IS NULL OR s.gym_id = :gym)"
                    " AND s.word % :word GROUP BY s.word"
                    " ORDER BY similarity(s.word, :word) DESC, s.word LIMIT 3"
                ),
                {"gym": gym, "word": word},
            )
            plan += [f"-- the lexicon, for {word!r}:", *(r[0] for r in lexicon)]
        await session.execute(text("RESET enable_indexscan"))
        await session.execute(text("RESET enable_indexonlyscan"))
        tenant = f"tenantlibrary | tenant{gym.hex}"
        candidates = await session.execute(
            text(
                f"{analyze} SELECT e.id, ts_rank('{{0.05, 0.2, 0.5, 1.0}}', e.search_vector,"
                " CAST(:query AS tsquery)) FROM training.exercises e"
                " WHERE e.search_vector @@ (CAST(:query AS tsquery)"
                " && to_tsquery('simple', :tenant))"
                " AND e.deleted_at IS NULL AND coalesce(e.gym_id, :gym) = :gym"
                " ORDER BY 2 DESC LIMIT 500"
            ),
            {"query": tsquery, "tenant": tenant, "gym": gym},
        )
        plan += [f"-- the candidates, query {tsquery}:", *(r[0] for r in candidates)]
    finally:
        await session.execute(
            text("SELECT set_config('enable_seqscan', :value, true)"), {"value": seqscan}
        )
        await session.execute(text(f"SET LOCAL ROLE {APP_ROLE}"))
    return "\n".join(plan)


def search_offset(page: PageParams) -> int:
    if not page.after:
        return 0
    if len(page.after) != 2 or page.after[0] != "offset" or not isinstance(page.after[1], int):
        raise Invalid("this cursor belongs to another listing", loc=["query", "cursor"])
    return max(0, min(page.after[1], MAX_SEARCH_OFFSET))


# --- one exercise ------------------------------------------------------------------------


async def _get_visible(
    session: AsyncSession, principal: Principal, exercise_id: uuid.UUID
) -> Exercise:
    exercise = await session.get(Exercise, exercise_id)
    if exercise is None or (
        exercise.gym_id is not None
        and not principal.is_admin
        and exercise.gym_id != principal.gym_id
    ):
        raise NotFound("No such exercise")
    return exercise


async def get_exercise(
    session: AsyncSession, *, principal: Principal, exercise_id: uuid.UUID
) -> ExerciseOut:
    """Detail, deleted ones included: old workouts and logs still point at them."""
    exercise = await _get_visible(session, principal, exercise_id)
    return await _detail(session, principal, exercise)


async def _detail(session: AsyncSession, principal: Principal, exercise: Exercise) -> ExerciseOut:
    base = None
    if exercise.base_id is not None:
        row = (
            await session.execute(
                select(Exercise.id, Exercise.name).where(Exercise.id == exercise.base_id)
            )
        ).first()
        base = ExerciseRef(id=row.id, name=row.name) if row else None
    variants = await session.execute(
        select(Exercise.id, Exercise.name)
        .where(
            Exercise.base_id == exercise.id,
            Exercise.deleted_at.is_(None),
            (Exercise.gym_id.is_(None)) | (Exercise.gym_id == principal.gym_id),
        )
        .order_by(Exercise.name, Exercise.id)
        .limit(100)
    )
    out = ExerciseOut.model_validate(exercise)
    out.base = base
    out.variants = [ExerciseRef(id=r.id, name=r.name) for r in variants]
    return out


def _require_writer(principal: Principal) -> None:
    if principal.role not in WRITERS and not principal.is_admin:
        raise Forbidden("Only trainers, gym owners and admins write exercises")


async def _check_references(
    session: AsyncSession, principal: Principal, values: dict[str, Any]
) -> None:
    """Muscles and equipment exist; a base exercise is visible (and not a variant's loop)."""
    muscles = [*(values.get("primary_muscles") or []), *(values.get("secondary_muscles") or [])]
    if muscles:
        known = set((await session.execute(select(Muscle.slug))).scalars())
        for field in ("primary_muscles", "secondary_muscles"):
            for index, name in enumerate(values.get(field) or []):
                if slug(name) not in known:
                    raise Invalid(
                        f"unknown muscle {name!r} (see GET /muscles)",
                        loc=["body", field, index],
                    )
    if values.get("equipment"):
        equipment = slug(values["equipment"])
        if await session.get(Equipment, equipment) is None:
            raise Invalid(
                f"unknown equipment {values['equipment']!r} (see GET /equipment)",
                loc=["body", "equipment"],
            )
    if values.get("base_id") is not None:
        try:
            base = await _get_visible(session, principal, values["base_id"])
        except NotFound:
            raise Invalid("no such base exercise", loc=["body", "base_id"]) from None
        if base.deleted_at is not None:
            raise Invalid("the base exercise was deleted", loc=["body", "base_id"])


def _normalise(values: dict[str, Any]) -> dict[str, Any]:
    for field in ("primary_muscles", "secondary_muscles"):
        if values.get(field) is not None:
            values[field] = list(dict.fromkeys(slug(m) for m in values[field]))
    if values.get("equipment"):
        values["equipment"] = slug(values["equipment"])
    for field in ("category", "level", "force", "mechanic"):
        if values.get(field) is not None:
            values[field] = str(values[field])
    return values


async def create_exercise(
    session: AsyncSession, *, principal: Principal, values: dict[str, Any]
) -> ExerciseOut:
    """A gym's own exercise (an admin's goes to the global library)."""
    _require_writer(principal)
    values = _normalise(values)
    await _check_references(session, principal, values)
    exercise = Exercise(
        id=uuid.uuid4(),
        gym_id=None if principal.is_admin else principal.gym_id,
        created_by=principal.user_id,
        **values,
    )
    session.add(exercise)
    await _flush(session)
    await session.refresh(exercise)
    return await _detail(session, principal, exercise)


async def _flush(session: AsyncSession) -> None:
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        if unique_violation(exc):
            raise Conflict("The gym already has an exercise with this name") from None
        raise


async def _access_writable(
    session: AsyncSession, principal: Principal, exercise_id: uuid.UUID
) -> Exercise:
    _require_writer(principal)
    exercise = await _get_visible(session, principal, exercise_id)
    if exercise.deleted_at is not None:
        raise NotFound("No such exercise")
    if exercise.gym_id is None and not principal.is_admin:
        raise Forbidden("The global library is read-only; create a variant instead")
    return exercise


async def update_exercise(
    session: AsyncSession,
    *,
    principal: Principal,
    exercise_id: uuid.UUID,
    changes: dict[str, Any],
) -> ExerciseOut:
    exercise = await _access_writable(session, principal, exercise_id)
    changes = _normalise(changes)
    for required in ("name", "primary_muscles", "category", "level"):
        if required in changes and changes[required] is None:
            raise Invalid(f"{required} cannot be null", loc=["body", required])
    await _check_references(session, principal, changes)
    if changes.get("base_id") == exercise.id:
        raise Invalid("an exercise cannot be its own variant", loc=["body", "base_id"])
    for name, value in changes.items():
        setattr(exercise, name, value)
    exercise.updated_at = clock.now()
    await _flush(session)
    await session.refresh(exercise)
    return await _detail(session, principal, exercise)


async def delete_exercise(
    session: AsyncSession, *, principal: Principal, exercise_id: uuid.UUID
) -> None:
    """Soft delete: hidden from lists and new plans, still readable by id."""
    exercise = await _access_writable(session, principal, exercise_id)
    await session.execute(
        update(Exercise).where(Exercise.id == exercise.id).values(deleted_at=clock.now())
    )


async def names(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    rows = await session.execute(select(Exercise.id, Exercise.name).where(Exercise.id.in_(ids)))
    return {r.id: r.name for r in rows}


async def check_usable(
    session: AsyncSession, *, principal: Principal, ids: list[uuid.UUID], loc: str
) -> dict[uuid.UUID, str]:
    """Every id is a visible, not deleted exercise; 422 naming the first bad index."""
    unique = list(dict.fromkeys(ids))
    rows = await session.execute(
        select(Exercise.id, Exercise.name).where(
            Exercise.id.in_(unique),
            Exercise.deleted_at.is_(None),
            (Exercise.gym_id.is_(None)) | (Exercise.gym_id == principal.gym_id),
        )
    )
    found = {r.id: r.name for r in rows}
    for index, exercise_id in enumerate(ids):
        if exercise_id not in found:
            raise Invalid(
                f"{loc}[{index}].exercise_id: no such exercise ({exercise_id})",
                loc=["body", loc, index, "exercise_id"],
            )
    return found


async def list_exercises(
    session: AsyncSession,
    *,
    principal: Principal,
    page: PageParams,
    q: str | None,
    muscle: str | None = None,
    equipment: str | None = None,
    level: str | None = None,
    category: str | None = None,
) -> Page[ExerciseSummary]:
    """Search or browse as a model, for in-process callers (the pages)."""
    filters = facets(muscle=muscle, equipment=equipment, level=level, category=category)
    if q:
        document = await search_exercises(
            await session.connection(), principal=principal, page=page, q=q, filters=filters
        )
    else:
        document = await browse_exercises(session, principal=principal, page=page, filters=filters)
    return Page[ExerciseSummary].model_validate_json(document)
