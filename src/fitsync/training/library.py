"""The global exercise library: the public-domain free-exercise-db, loaded into PostgreSQL.

``data/exercises.json`` is github:yuhonas/free-exercise-db (The Unlicense; see
``data/LICENSE.md`` and ``data/SOURCE.md``). Loading is one idempotent upsert keyed by the
source id (``source_id``); each exercise's UUID is derived from its source id, so it is
the same on every installation. Re-running changes only rows whose data changed and
never resurrects a library exercise an admin deleted. ``data/aliases.json`` adds the
names coaches use ("bench press", "ohp", "rdl") to the canonical exercises.
"""

from __future__ import annotations

import json
import uuid
from functools import cache
from importlib import resources
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

NAMESPACE = uuid.UUID("6f1f3c1e-7a51-4a0b-9d36-3f2f8f0a1b10")

# The 17 muscles of the data, with the body region a picker groups them by.
MUSCLE_REGIONS = {
    "abdominals": "core",
    "abductors": "legs",
    "adductors": "legs",
    "biceps": "arms",
    "calves": "legs",
    "chest": "chest",
    "forearms": "arms",
    "glutes": "legs",
    "hamstrings": "legs",
    "lats": "back",
    "lower back": "back",
    "middle back": "back",
    "neck": "neck",
    "quadriceps": "legs",
    "shoulders": "shoulders",
    "traps": "back",
    "triceps": "arms",
}
EQUIPMENT = (
    "bands",
    "barbell",
    "body only",
    "cable",
    "dumbbell",
    "e-z curl bar",
    "exercise ball",
    "foam roll",
    "kettlebells",
    "machine",
    "medicine ball",
    "other",
)


def slug(value: str) -> str:
    """``"lower back"`` → ``"lower-back"``: the key of a muscle or an equipment."""
    return "-".join(value.lower().split())


def exercise_id(source_id: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, source_id)


@cache
def _document() -> str:
    data = resources.files("fitsync.training") / "data"
    exercises = json.loads((data / "exercises.json").read_text(encoding="utf-8"))
    aliases: dict[str, Any] = json.loads((data / "aliases.json").read_text(encoding="utf-8"))
    rows = [
        {
            "id": str(exercise_id(e["id"])),
            "source_id": e["id"],
            "name": e["name"],
            "aliases": aliases.get(e["id"], []),
            "instructions": e["instructions"],
            "category": e["category"],
            "level": e["level"],
            "force": e["force"],
            "mechanic": e["mechanic"],
            "equipment": slug(e["equipment"]) if e["equipment"] else None,
            "primary_muscles": [slug(m) for m in e["primaryMuscles"]],
            "secondary_muscles": [slug(m) for m in e["secondaryMuscles"]],
            "images": e["images"],
        }
        for e in exercises
    ]
    return json.dumps(rows)


def _lookups() -> tuple[str, str]:
    muscles = [{"slug": slug(m), "name": m.title(), "region": r} for m, r in MUSCLE_REGIONS.items()]
    equipment = [{"slug": slug(e), "name": e.title()} for e in EQUIPMENT]
    return json.dumps(muscles), json.dumps(equipment)


_MUSCLES = text(
    "INSERT INTO training.muscles (slug, name, region)"
    " SELECT slug, name, region FROM jsonb_to_recordset(CAST(:doc AS jsonb))"
    " AS m(slug text, name text, region text) ON CONFLICT (slug) DO NOTHING"
)
_EQUIPMENT = text(
    "INSERT INTO training.equipment (slug, name)"
    " SELECT slug, name FROM jsonb_to_recordset(CAST(:doc AS jsonb))"
    " AS m(slug text, name text) ON CONFLICT (slug) DO NOTHING"
)
_COLUMNS = (
    "name, aliases, instructions, category, level, force, mechanic, equipment,"
    " primary_muscles, secondary_muscles, images"
)
_EXERCISES = text(
    f"INSERT INTO training.exercises (id, source_id, {_COLUMNS})"
    f" SELECT id, source_id, {_COLUMNS} FROM jsonb_to_recordset(CAST(:doc AS jsonb)) AS e("
    " id uuid, source_id text, name text, aliases text[], instructions text[], category text,"
    " level text, force text, mechanic text, equipment text, primary_muscles text[],"
    " secondary_muscles text[], images text[])"
    " ON CONFLICT (source_id) DO UPDATE SET "
    + ", ".join(f"{c.strip()} = EXCLUDED.{c.strip()}" for c in _COLUMNS.split(","))
    + ", updated_at = now()"
    f" WHERE ({', '.join(f'exercises.{c.strip()}' for c in _COLUMNS.split(','))})"
    f" IS DISTINCT FROM ({', '.join(f'EXCLUDED.{c.strip()}' for c in _COLUMNS.split(','))})"
)


def load_sync(connection: Connection) -> int:
    """Load (or refresh) the library on a synchronous connection (the migration's)."""
    muscles, equipment = _lookups()
    connection.execute(_MUSCLES, {"doc": muscles})
    connection.execute(_EQUIPMENT, {"doc": equipment})
    return connection.execute(_EXERCISES, {"doc": _document()}).rowcount


async def load(session: AsyncSession) -> int:
    """Load (or refresh) the library; the transaction must be for all gyms.

    Returns how many exercises were inserted or changed (0 when up to date).
    """
    muscles, equipment = _lookups()
    await session.execute(_MUSCLES, {"doc": muscles})
    await session.execute(_EQUIPMENT, {"doc": equipment})
    result = await session.execute(_EXERCISES, {"doc": _document()})
    return int(getattr(result, "rowcount", 0) or 0)
