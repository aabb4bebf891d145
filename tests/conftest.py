"""Test fixtures: real PostgreSQL and Redis, a fresh database per run.

With ``FITSYNC_TEST_DATABASE_URL`` / ``FITSYNC_TEST_REDIS_URL`` set (CI sets them to the
machine's servers) the tests use those servers; otherwise they start the embedded
stores in a temporary directory. Either way the run gets its own database and its
own Redis key prefix, so concurrent runs never collide. After each test every table
is truncated and the run's Redis keys are deleted.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from importlib import resources
from pathlib import Path

import anyio
import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from fitsync.app import create_app
from fitsync.bootstrap import Container
from fitsync.kernel import migrate
from fitsync.kernel.db import make_engine
from fitsync.kernel.embedded import embedded_stores
from fitsync.kernel.redis import make_redis
from fitsync.settings import Settings
from fitsync.training import library

RUN_ID = uuid.uuid4().hex[:10]


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def server_urls() -> Iterator[tuple[str, str]]:
    """(PostgreSQL server URL, Redis URL): the machine's servers, or embedded ones."""
    db_url = os.environ.get("FITSYNC_TEST_DATABASE_URL")
    redis_url = os.environ.get("FITSYNC_TEST_REDIS_URL")
    if db_url and redis_url:
        yield (
            make_url(db_url).set(drivername="postgresql+asyncpg").render_as_string(False),
            redis_url,
        )
        return
    with (
        tempfile.TemporaryDirectory(prefix="fitsync-test-") as tmp,
        embedded_stores(Path(tmp), postgres=not db_url, redis=not redis_url, durable=False) as urls,
    ):
        assert urls is not None
        yield (
            make_url(db_url).set(drivername="postgresql+asyncpg").render_as_string(False)
            if db_url
            else urls.database_url,
            redis_url or urls.redis_url,
        )


@pytest.fixture(scope="session")
async def database_url(server_urls: tuple[str, str]) -> AsyncIterator[str]:
    """A database of this run's own, migrated; dropped at the end."""
    server = make_url(server_urls[0])
    name = f"fitsync_test_{RUN_ID}"
    admin = await asyncpg.connect(
        _asyncpg_dsn(server.set(database="postgres").render_as_string(False))
    )
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = server.set(database=name).render_as_string(hide_password=False)
    await anyio.to_thread.run_sync(migrate.upgrade, url)
    yield url
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


@pytest.fixture(scope="session")
def settings(
    database_url: str, server_urls: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    return Settings(
        database_url=database_url,
        redis_url=server_urls[1],
        redis_prefix=f"fitsync-test-{RUN_ID}:",
        data_dir=tmp_path_factory.mktemp("data"),
        secret_key="test-secret-" + "x" * 40,
        run_worker=False,
        public_url="http://testserver",
        db_pool_size=20,
    )


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def container(app: FastAPI, clean_state: None) -> Container:
    result = app.state.container
    assert isinstance(result, Container)
    return result


@pytest.fixture(scope="session")
async def admin_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """A superuser engine (no RLS) for arranging and inspecting state."""
    engine = make_engine(database_url, pool_size=2, app_role=False)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def _tables(admin_engine: AsyncEngine) -> list[str]:
    async with admin_engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT schemaname || '.' || tablename FROM pg_tables"
                " WHERE schemaname NOT IN ('pg_catalog', 'information_schema', 'public')"
            )
        )
        return [r[0] for r in rows]


# Reference data loaded by the migrations that tests keep between tests.
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
    """Empty tables (but the exercise library) and no Redis keys: every store-using test
    starts here. The library is restored when a test changed or deleted library rows."""
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


@pytest.fixture
async def client(app: FastAPI, clean_state: None) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver/api/v1") as c:
        yield c
