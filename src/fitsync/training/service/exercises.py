"""The exercise library and the gyms' own exercises: list, search, read, write.

Search (``GET /exercises?q=``) runs in two steps, both in PostgreSQL.

candidates (``training.exercise_candidates``, migration 0100), through the GIN index
of the weighted ``search_vector``: every query word must match, each widened with its
three closest words of the names/aliases lexicon (trigram distance, a GiST index, so
``squatt`` ~ squat, ``dumbell`` ~ dumbbell, ``deadlfit`` ~ deadlift), the last word also
as a prefix so search-as-you-type works (``bic`` → biceps). Names and aliases are in the
document glued too, so ``benchpress`` and ``pullup`` match "bench press", "pull-up".

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
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

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

SUMMARY_COLUMNS = (
    "e.id, e.name, e.category, e.level, e.equipment, e.primary_muscles, e.secondary_muscles,"
    " e.gym_id, e.source_id, e.base_id"
)

SCORE_SQL = """
    2.0 * c.rank
    + (SELECT max(similarity(:qtext, training.norm(t))) FROM unnest(e.name || e.aliases) t)
    + CASE WHEN e.terms_compact LIKE :exact THEN 3.0
           WHEN e.terms_compact LIKE :starts THEN 0.4
           WHEN e.terms_compact LIKE :inside THEN 0.2
           ELSE 0 END
"""

# The candidates come from training.exercise_candidates (migration 0100): see there why a
# function. Row-level security still filters what this query returns.
CANDIDATES_SQL = "JOIN training.exercise_candidates(CAST(:words AS text[])) c ON c.id = e.id"


async def list_muscles(session: AsyncSession) -> list[MuscleOut]:
    rows = await session.execute(select(Muscle).order_by(Muscle.region, Muscle.name))
    return [MuscleOut.model_validate(m) for m in rows.scalars()]


async def list_equipment(session: AsyncSession) -> list[EquipmentOut]:
    rows = await session.execute(select(Equipment).order_by(Equipment.name))
    return [EquipmentOut.model_validate(e) for e in rows.scalars()]


async def list_exercises(
    session: AsyncSession,
    *,
    principal: Principal,
    page: PageParams,
    q: str | None,
    muscle: str | None,
    equipment: str | None,
    level: str | None,
    category: str | None,
) -> Page[ExerciseSummary]:
    """Search (ranked) or browse (by name) the library plus the caller's gym's exercises."""
    where, params = _visible(principal)
    params["limit"] = page.limit + 1
    if muscle:
        where.append("(e.primary_muscles || e.secondary_muscles) @> ARRAY[CAST(:muscle AS text)]")
        params["muscle"] = slug(muscle)
    if equipment:
        where.append("e.equipment = :equipment")
        params["equipment"] = slug(equipment)
    if level:
        where.append("e.level = :level")
        params["level"] = level
    if category:
        where.append("e.category = :category")
        params["category"] = category
    terms = search_terms(q) if q else None
    if q and terms is None:
        return Page[ExerciseSummary](items=[])
    if terms is not None:
        offset = search_offset(page)
        sql, search_params = _search_sql(terms, where)
        params.update(search_params, offset=offset)
        rows = list(await session.execute(text(sql + " LIMIT :limit OFFSET :offset"), params))
        more = len(rows) > page.limit and offset + page.limit < MAX_SEARCH_OFFSET
        rows = rows[: page.limit]
        cursor = encode_cursor(["offset", offset + page.limit]) if more else None
        return Page[ExerciseSummary](items=[_summary(r) for r in rows], next_cursor=cursor)
    if page.after:
        try:
            params["after_name"], params["after_id"] = str(page.after[0]), uuid.UUID(page.after[1])
        except (ValueError, IndexError, TypeError):
            raise Invalid("malformed cursor", loc=["query", "cursor"]) from None
        where.append("(e.name, e.id) > (:after_name, :after_id)")
    sql = (
        f"SELECT {SUMMARY_COLUMNS} FROM training.exercises e WHERE {' AND '.join(where)}"
        " ORDER BY e.name, e.id LIMIT :limit"
    )
    rows = list(await session.execute(text(sql), params))
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    cursor = encode_cursor([rows[-1].name, str(rows[-1].id)]) if more else None
    return Page[ExerciseSummary](items=[_summary(r) for r in rows], next_cursor=cursor)


def _visible(principal: Principal) -> tuple[list[str], dict[str, Any]]:
    """The library plus the caller's gym (admins: the library), not deleted.

    Written as ``coalesce(gym_id, :gym) = :gym`` rather than ``gym_id IS NULL OR …``: the
    latter tempts the planner into reading the whole library through the gym index,
    when the selective search indexes should drive the query.
    """
    return (
        ["coalesce(e.gym_id, :gym) = :gym", "e.deleted_at IS NULL"],
        {"gym": principal.gym_id or NO_GYM},
    )


def _search_sql(terms: SearchTerms, where: list[str]) -> tuple[str, dict[str, Any]]:
    sql = (
        f"SELECT {SUMMARY_COLUMNS}, {SCORE_SQL} AS score FROM training.exercises e"
        f" {CANDIDATES_SQL} WHERE {' AND '.join(where)} ORDER BY score DESC, e.name, e.id"
    )
    params = {
        "words": list(terms.words),
        "qtext": terms.text,
        "exact": f"%|{terms.compact}|%",
        "starts": f"%|{terms.compact}%",
        "inside": f"%{terms.compact}%",
    }
    return sql, params


async def explain_search(session: AsyncSession, *, principal: Principal, q: str) -> str:
    """The plan of the search query (for the benchmark and the index test)."""
    terms = search_terms(q)
    assert terms is not None
    where, params = _visible(principal)
    sql, search_params = _search_sql(terms, where)
    params.update(search_params)
    plan = [r[0] for r in await session.execute(text(f"EXPLAIN {sql} LIMIT 20"), params)]
    # Inside the candidates function (it runs as its owner, planned with the values):
    tsquery = await session.scalar(
        text("SELECT CAST(training.search_query(CAST(:words AS text[])) AS text)"),
        {"words": list(terms.words)},
    )
    gym = _literal(str(principal.gym_id or NO_GYM))
    tenant = _literal(f"tenantlibrary | tenant{(principal.gym_id or NO_GYM).hex}")
    await session.execute(text("SET LOCAL ROLE NONE"))
    await session.execute(text("SET LOCAL enable_seqscan = off"))
    try:
        inner = await session.execute(
            text(
                "EXPLAIN SELECT e.id, ts_rank('{0.05, 0.2, 0.5, 1.0}', e.search_vector,"
                f" CAST({_literal(tsquery)} AS tsquery)) FROM training.exercises e"
                f" WHERE e.search_vector @@ (CAST({_literal(tsquery)} AS tsquery)"
                f" && to_tsquery('simple', {tenant}))"
                f" AND e.deleted_at IS NULL AND coalesce(e.gym_id, {gym}) = {gym}"
                " ORDER BY 2 DESC LIMIT 500"
            )
        )
        plan += [f"-- training.exercise_candidates(), query {tsquery}:", *(r[0] for r in inner)]
    finally:
        await session.execute(text("RESET enable_seqscan"))
        await session.execute(text(f"SET LOCAL ROLE {APP_ROLE}"))
    return "\n".join(plan)


def search_offset(page: PageParams) -> int:
    if not page.after:
        return 0
    if len(page.after) != 2 or page.after[0] != "offset" or not isinstance(page.after[1], int):
        raise Invalid("this cursor belongs to another listing", loc=["query", "cursor"])
    return max(0, min(page.after[1], MAX_SEARCH_OFFSET))


def _summary(row: Row[Any]) -> ExerciseSummary:
    return ExerciseSummary(
        id=row.id,
        name=row.name,
        category=row.category,
        level=row.level,
        equipment=row.equipment,
        primary_muscles=row.primary_muscles,
        secondary_muscles=row.secondary_muscles,
        gym_id=row.gym_id,
        source_id=row.source_id,
        base_id=row.base_id,
    )


def _literal(value: str | None) -> str:
    return "NULL" if value is None else "'" + value.replace("'", "''") + "'"


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
