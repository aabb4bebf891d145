"""The ASGI application: ``create_app()`` (a factory, for ``uvicorn --factory`` too)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text

from fitsync import __version__
from fitsync.bootstrap import Container, build_container
from fitsync.contexts import modules
from fitsync.kernel import errors, migrate
from fitsync.kernel.embedded import embedded_stores
from fitsync.kernel.http import BodyLimit
from fitsync.kernel.outbox import run_worker
from fitsync.settings import Settings
from fitsync.web import pages, routes

log = logging.getLogger("fitsync")


@contextlib.asynccontextmanager
async def _embedded_if_needed(settings: Settings) -> AsyncIterator[None]:
    """Start embedded stores for unset URLs (when not started by ``fitsync serve``)."""
    if settings.database_url and settings.redis_url:
        yield
        return
    stores = embedded_stores(
        settings.data_dir, postgres=not settings.database_url, redis=not settings.redis_url
    )
    urls = await anyio.to_thread.run_sync(stores.__enter__)
    assert urls is not None
    try:
        if not settings.database_url:
            settings.database_url = urls.database_url
            await anyio.to_thread.run_sync(migrate.upgrade, urls.database_url)
        settings.redis_url = settings.redis_url or urls.redis_url
        yield
    finally:
        await anyio.to_thread.run_sync(stores.__exit__, None, None, None)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with _embedded_if_needed(settings):
            container = build_container(settings)
            app.state.container = container
            worker = None
            if settings.run_worker:
                worker = asyncio.create_task(
                    run_worker(
                        container.sessionmaker,
                        container.bus,
                        interval=settings.relay_interval_seconds,
                        periodic=container.jobs,
                    )
                )
            # What start-up made lives as long as the process: frozen, it is out of the
            # collector's sight, so a full collection scans what requests made since, not
            # ~350,000 objects (~200 ms pauses every few seconds under load). A young
            # generation of 10,000 objects instead of 700 lets most of a request's objects
            # die before a collection would promote them, so full collections stay rare.
            gc.collect()
            gc.freeze()
            gc.set_threshold(10_000, *gc.get_threshold()[1:])
            try:
                yield
            finally:
                gc.unfreeze()
                if worker is not None:
                    worker.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await worker
                await container.close()

    app = FastAPI(
        title="FitSync",
        version=__version__,
        description="The open-source platform for gyms, studios and personal trainers.",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    errors.install(app, html=pages.error_page)
    app.add_middleware(
        BodyLimit,
        limit=settings.max_body_bytes,
        overrides={
            "/api/v1/progress/activities": settings.max_upload_bytes + 64 * 1024,
            "/progress/activities": settings.max_upload_bytes + 64 * 1024,
            "/api/v1/progress/workout-logs/import": 6 * 1024 * 1024,
        },
    )
    api = APIRouter(prefix="/api/v1")
    for module in modules("endpoints"):
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(_health_router())
    app.include_router(routes.router)
    app.mount("/static", StaticFiles(packages=[("fitsync.web", "static")]), name="static")
    return app


def _health_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        """Each store is reachable: 200 when all are, 503 naming the ones that are not."""
        container: Container = request.app.state.container

        async def postgres() -> None:
            async with container.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))

        async def redis() -> None:
            await container.redis.ping()

        stores: dict[str, Any] = {}
        for name, probe in (("postgres", postgres), ("redis", redis)):
            started = time.perf_counter()
            try:
                with anyio.fail_after(2):
                    await probe()
                stores[name] = {
                    "status": "ok",
                    "latency_ms": round((time.perf_counter() - started) * 1000, 2),
                }
            except Exception as exc:
                stores[name] = {"status": "down", "error": f"{type(exc).__name__}: {exc}"[:300]}
        ready = all(s["status"] == "ok" for s in stores.values())
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", "stores": stores},
            status_code=200 if ready else 503,
        )

    return router
