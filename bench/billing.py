"""Billing benchmarks: point-of-sale throughput and the renewal job.

    .venv/bin/python bench/billing.py [--sales 1500] [--subscriptions 100000]

1. POS sales/s through the HTTP API (in-process ASGI, real PostgreSQL and Redis) with
   32 concurrent clients and a pool of 32 connections: every client selling its own
   product, then all of them selling one hot product. Each sale is one transaction:
   stock row lock, invoice number from the gym's counter (gapless numbers: this row
   serialises the gym's sales), invoice + lines, two ledger transactions, payment,
   outbox event, idempotency record.
2. The renewal job on N subscriptions due the same day (one gym, manual payment):
   wall time, renewals/s, and the process's peak resident memory.

Uses the PostgreSQL server of FITSYNC_BENCH_DATABASE_URL (default: the local
server, user postgres) in a throw-away database, and FITSYNC_BENCH_REDIS_URL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.factories import make_gym, signed_in

from fitsync.app import create_app
from fitsync.billing import tasks
from fitsync.billing.providers import BillingRuntime, build_runtime
from fitsync.bootstrap import Container
from fitsync.kernel import clock, migrate
from fitsync.kernel.auth import Role
from fitsync.kernel.db import make_engine
from fitsync.settings import Settings

CONCURRENCY = 32


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def pos(client: httpx.AsyncClient, container: Container, total: int) -> None:
    gym_id = await make_gym(container, "Bench Gym")
    owner = await signed_in(client, container, role=Role.gym_owner, gym_id=gym_id)

    async def new_product(stock: int) -> str:
        response = await client.post(
            "/billing/products",
            json={
                "name": "Bar",
                "sku": uuid.uuid4().hex[:12],
                "price": 250,
                "tax_rate_bp": 700,
                "stock": stock,
            },
            headers=owner.headers,
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def run(label: str, product_for: list[str]) -> None:
        latencies: list[float] = []
        per_worker = total // CONCURRENCY
        refused = 0

        async def worker(product_id: str) -> None:
            nonlocal refused
            for _ in range(per_worker):
                started = time.perf_counter()
                response = await client.post(
                    "/billing/sales",
                    json={"items": [{"product_id": product_id}], "payment": {"method": "cash"}},
                    headers={**owner.headers, "Idempotency-Key": uuid.uuid4().hex},
                )
                latencies.append(time.perf_counter() - started)
                if response.status_code != 201:
                    refused += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker(p) for p in product_for))
        elapsed = time.perf_counter() - started
        latencies.sort()
        n = len(latencies)
        p50 = statistics.median(latencies) * 1000
        print(
            f"POS {label:<28} {n / elapsed:8.1f} sales/s   p50 {p50:6.1f} ms"
            f"   p99 {latencies[int(n * 0.99) - 1] * 1000:7.1f} ms   ({n} sales, {refused} refused)"
        )

    distinct = [await new_product(total) for _ in range(CONCURRENCY)]
    await run("32 clients, 32 products", distinct)
    hot = await new_product(total)
    await run("32 clients, 1 hot product", [hot] * CONCURRENCY)


async def renewals(container: Container, database_url: str, count: int) -> None:
    gym_id = await make_gym(container, "Renewal Gym")
    today = clock.now().date()
    admin = make_engine(database_url, pool_size=1, app_role=False)
    plan_id = uuid.uuid4()
    async with admin.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO billing.plans (id, gym_id, name, interval, price, currency,"
                " tax_rate_bp) VALUES (:p, :g, 'Monthly', 'month', 4900, 'EUR', 1900)"
            ),
            {"p": plan_id, "g": gym_id},
        )
        await conn.execute(
            text(
                "INSERT INTO billing.subscriptions (id, gym_id, client_id, plan_id, status,"
                " payment_method, timezone, anchor_date, period_index, current_period_start,"
                " current_period_end, period_end_at, min_term_end)"
                " SELECT gen_random_uuid(), :g, gen_random_uuid(), :p, 'active', 'manual',"
                " 'Europe/Berlin', :start, 0, :start, :today, :due, :start"
                " FROM generate_series(1, :n)"
            ),
            {
                "g": gym_id,
                "p": plan_id,
                "start": today.replace(day=1) if today.day > 1 else today,
                "today": today,
                "due": clock.now(),
                "n": count,
            },
        )
    await admin.dispose()
    before = rss_mib()
    started = time.perf_counter()
    report = await tasks.run_renewals(
        container.sessionmaker, _runtime(), now=clock.now(), batch=1000
    )
    elapsed = time.perf_counter() - started
    print(
        f"renewals: {report.renewed} subscriptions in {elapsed:.1f} s"
        f" ({report.renewed / elapsed:.0f}/s); peak RSS {rss_mib():.0f} MiB"
        f" (was {before:.0f} MiB before the job)"
    )


def _runtime() -> BillingRuntime:
    return build_runtime(card_api_url=None, card_api_key=None, card_webhook_secret=None)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sales", type=int, default=1600)
    parser.add_argument("--subscriptions", type=int, default=100_000)
    args = parser.parse_args()
    server = make_url(
        os.environ.get(
            "FITSYNC_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        )
    )
    redis_url = os.environ.get("FITSYNC_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    name = f"fitsync_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(
        server.set(drivername="postgresql", database="postgres").render_as_string(False)
    )
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = server.set(drivername="postgresql+asyncpg", database=name).render_as_string(False)
    try:
        await asyncio.to_thread(migrate.upgrade, url)
        settings = Settings(
            database_url=url,
            redis_url=redis_url,
            redis_prefix=f"fitsync-bench-{name}:",
            secret_key="bench-" + "x" * 40,
            run_worker=False,
            db_pool_size=CONCURRENCY // 2,  # pool 16 + overflow 16 = 32 connections
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            container: Container = app.state.container
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://bench/api/v1", timeout=120
            ) as client:
                if args.sales:
                    await pos(client, container, args.sales)
            if args.subscriptions:
                await renewals(container, url, args.subscriptions)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
