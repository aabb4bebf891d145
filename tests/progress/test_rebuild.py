"""``fitsync rebuild-timeseries``: the store refilled from the kept original files."""

from __future__ import annotations

import anyio
import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from fitsync.bootstrap import Container
from fitsync.cli import app as cli
from fitsync.progress import activities
from fitsync.progress.timeseries import SampleStore
from fitsync.settings import Settings
from tests.factories import make_gym, signed_in
from tests.progress.factories import upload_file


async def _series_length(client: httpx.AsyncClient, headers: dict[str, str], aid: str) -> int:
    response = await client.get(
        f"/progress/activities/{aid}/samples", params={"fields": "hr"}, headers=headers
    )
    return len(response.json()["items"])


async def test_rebuild_refills_the_store(
    client: httpx.AsyncClient, container: Container, store: SampleStore
) -> None:
    gym = await make_gym(container)
    me = await signed_in(client, container, gym_id=gym)
    created = (await upload_file(client, me, "tcx/sup_activity_1.tcx")).json()
    before = await _series_length(client, me.headers, created["id"])
    assert before == 111
    count, samples = await activities.rebuild_timeseries(container.sessionmaker, store)
    assert (count, samples) == (1, 111)
    assert await _series_length(client, me.headers, created["id"]) == before


async def test_cli_rebuilds_lost_samples(
    client: httpx.AsyncClient,
    container: Container,
    admin_engine: AsyncEngine,
    settings: Settings,
) -> None:
    gym = await make_gym(container)
    me = await signed_in(client, container, gym_id=gym)
    await upload_file(client, me, "fit/2020-06-01-16-52-40.fit")
    async with admin_engine.begin() as conn:
        await conn.execute(text("TRUNCATE progress.samples"))
    env = {
        "FITSYNC_DATABASE_URL": settings.database_url or "",
        "FITSYNC_REDIS_URL": settings.redis_url or "",
        "FITSYNC_REDIS_PREFIX": settings.redis_prefix,
        "FITSYNC_SECRET_KEY": settings.secret_key or "",
        "FITSYNC_DATA_DIR": str(settings.data_dir),
    }
    result = await anyio.to_thread.run_sync(
        lambda: CliRunner().invoke(cli, ["rebuild-timeseries"], env=env)
    )
    assert result.exit_code == 0, result.output
    assert "Rebuilt 1 activities (96 samples)" in result.output
    async with admin_engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM progress.samples"))).scalar() == 96
