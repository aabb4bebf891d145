"""Training tests keep the global exercise library between tests.

The library is reference data loaded by the migration; the root ``clean_state``
truncates every table, which would leave the library empty for the next test. This
override empties everything else, removes gym exercises, and restores the library
(reloading it when another context's test truncated it, or an admin test changed it).
"""

from __future__ import annotations

import json
from importlib import resources

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from fitsync.kernel.redis import make_redis
from fitsync.settings import Settings
from fitsync.training import library

LIBRARY_TABLES = {
    "training.muscles",
    "training.equipment",
    "training.exercises",
    "training.search_words",
}
LIBRARY_SIZE = len(
    json.loads((resources.files("fitsync.training") / "data" / "exercises.json").read_text())
)


@pytest.fixture
async def clean_state(settings: Settings, admin_engine: AsyncEngine, _tables: list[str]) -> None:
    others = [t for t in _tables if t not in LIBRARY_TABLES]
    async with admin_engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {', '.join(others)} RESTART IDENTITY CASCADE"))
        await conn.execute(text("DELETE FROM training.exercises WHERE source_id IS NULL"))
        await conn.execute(text("DELETE FROM training.search_words WHERE gym_id IS NOT NULL"))
        intact = await conn.scalar(
            text(
                "SELECT count(*) FROM training.exercises"
                " WHERE deleted_at IS NULL AND updated_at = created_at"
            )
        )
        if intact != LIBRARY_SIZE:
            await conn.execute(text("UPDATE training.exercises SET deleted_at = NULL"))
            await conn.run_sync(library.load_sync)
            await conn.execute(text("UPDATE training.exercises SET updated_at = created_at"))
    redis = make_redis(settings.redis_url or "")
    try:
        keys = [k async for k in redis.scan_iter(match=f"{settings.redis_prefix}*", count=1000)]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()
