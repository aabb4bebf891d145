"""Communications benchmark: live messaging over WebSockets, and the event bus under a burst.

    .venv/bin/python bench/communications.py [--clients 500] [--messages 3000] [--burst 10000]

Runs `fitsync serve --workers 2` on a fresh database of the PostgreSQL server named by
FITSYNC_BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres) and
the Redis of FITSYNC_BENCH_REDIS_URL (default redis://127.0.0.1:6379/0, own key prefix).

1. Live messaging: CLIENTS users (half trainers, half clients, one 1:1 conversation per
   pair) each hold a WebSocket on /api/v1/ws; MESSAGES messages are POSTed by the clients
   (32 at a time) and each is awaited at the trainer's socket. Prints messages/s
   (sent and received end to end) and the POST→receipt latency p50/p99.
2. Event bus: BURST events are written to the outbox in one transaction; prints how
   long the server's relay took to publish them (events/s) and how long until every
   consumer group had read and acknowledged them (the consumer lag, and its peak).
3. The same with BURST/5 `achievement.earned` events for the clients: time until every
   in-app notification is in the inbox (consumer + dispatcher doing real work).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import asyncpg
import httpx
from _server import fitsync_server
from redis.asyncio import Redis
from sqlalchemy.engine import make_url
from websockets.asyncio.client import ClientConnection, connect

ADMIN = ("bench-admin@example.com", "bench-admin-password-1")
PASSWORD = "bench-user-password-1"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _seed(api: httpx.AsyncClient, pairs: int) -> tuple[str, list[tuple[dict, dict, str]]]:
    admin = (await api.post("/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]})).json()
    admin_h = {"authorization": f"Bearer {admin['access_token']}"}
    gym = (
        await api.post(
            "/gyms",
            headers=admin_h,
            json={"name": "Bench Gym", "timezone": "UTC", "currency": "EUR"},
        )
    ).json()
    gate = asyncio.Semaphore(16)

    async def account(role: str, n: int) -> dict:
        email = f"{role}-{n}@bench.example.com"
        async with gate:
            r = await api.post(
                "/users",
                headers=admin_h,
                json={
                    "email": email,
                    "first_name": role.title(),
                    "last_name": str(n),
                    "role": role,
                    "gym_id": gym["id"],
                    "password": PASSWORD,
                },
            )
            assert r.status_code == 201, r.text
            login = (
                await api.post("/auth/login", json={"email": email, "password": PASSWORD})
            ).json()
        return {"id": login["user"]["id"], "token": login["access_token"]}

    trainers = await asyncio.gather(*(account("trainer", n) for n in range(pairs)))
    clients = await asyncio.gather(*(account("client", n) for n in range(pairs)))

    async def conversation(trainer: dict, client: dict) -> str:
        async with gate:
            r = await api.post(
                "/conversations",
                headers={"authorization": f"Bearer {client['token']}"},
                json={"participant_ids": [trainer["id"]]},
            )
        return str(r.json()["id"])

    convs = await asyncio.gather(
        *(conversation(t, c) for t, c in zip(trainers, clients, strict=True))
    )
    return gym["id"], list(zip(trainers, clients, convs, strict=True))


async def messaging(
    base: str, pairs: list[tuple[dict, dict, str]], messages: int, senders: int
) -> None:
    ws_base = base.replace("http://", "ws://")
    sockets: list[ClientConnection] = []
    for trainer, client, _ in pairs:
        for who in (trainer, client):
            ws = await connect(f"{ws_base}/ws?token={who['token']}", max_queue=None)
            assert json.loads(await ws.recv())["type"] == "ready"
            sockets.append(ws)
    print(f"  {len(sockets)} WebSocket clients connected")

    sent_at: dict[str, float] = {}
    waiting: dict[str, asyncio.Future[float]] = {}
    received = 0

    async def listen(ws: ClientConnection, user_id: str) -> None:
        nonlocal received
        async for raw in ws:
            frame = json.loads(raw)
            if frame["type"] == "message.sent" and frame["data"]["sender_id"] != user_id:
                received += 1
                fut = waiting.get(frame["data"]["text"])
                if fut is not None and not fut.done():
                    fut.set_result(time.perf_counter())

    listeners = [
        asyncio.create_task(listen(ws, who["id"]))
        for ws, who in zip(sockets, [p for t, c, _ in pairs for p in (t, c)], strict=True)
    ]
    latencies: list[float] = []
    posts: list[float] = []
    gate = asyncio.Semaphore(senders)
    loop = asyncio.get_running_loop()
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as api:

        async def one(n: int) -> None:
            _trainer, client, conv = pairs[n % len(pairs)]
            key = f"bench {n} {uuid.uuid4().hex[:8]}"
            waiting[key] = loop.create_future()
            async with gate:
                sent_at[key] = time.perf_counter()
                r = await api.post(
                    f"/conversations/{conv}/messages",
                    headers={"authorization": f"Bearer {client['token']}"},
                    json={"text": key},
                )
                assert r.status_code == 201, r.text
                posts.append((time.perf_counter() - sent_at[key]) * 1000)
            got = await asyncio.wait_for(waiting[key], timeout=60)
            latencies.append((got - sent_at[key]) * 1000)

        await asyncio.gather(*(one(n) for n in range(min(200, messages))))  # warm up
        latencies.clear()
        posts.clear()
        started = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(messages)))
        elapsed = time.perf_counter() - started
    for task in listeners:
        task.cancel()
    for ws in sockets:
        await ws.close()
    print(
        f"  {messages} messages in {elapsed:.1f} s: {messages / elapsed:7.0f} messages/s end to end"
        f"   POST→receipt p50 {statistics.median(latencies):6.1f} ms"
        f"   p99 {_pct(latencies, 0.99):6.1f} ms   ({senders} concurrent senders)"
    )
    print(
        f"  of which the POST itself: p50 {statistics.median(posts):6.1f} ms"
        f"   p99 {_pct(posts, 0.99):6.1f} ms"
    )


async def burst(
    db_url: str, redis: Redis, prefix: str, n: int, gym_id: str, clients: list[dict]
) -> None:
    conn = await asyncpg.connect(db_url)
    stream = f"{prefix}events"

    async def lag() -> tuple[int, int]:
        groups = await redis.xinfo_groups(stream)
        return (
            max((int(g.get("lag") or 0) for g in groups), default=0),
            sum(int(g["pending"]) for g in groups),
        )

    try:
        idle_since = time.perf_counter()  # let the backlog of the messaging run drain first
        while True:
            left = await conn.fetchval(
                "SELECT count(*) FROM kernel.outbox WHERE published_at IS NULL"
            )
            if left == 0 and await lag() == (0, 0):
                break
            await asyncio.sleep(0.2)
        print(f"  (the bus was idle after {time.perf_counter() - idle_since:.1f} s)")
        started = time.perf_counter()
        await conn.execute(
            "INSERT INTO kernel.outbox (id, type, gym_id, occurred_at, data)"
            " SELECT gen_random_uuid(), 'bench.burst', $1::uuid, now(),"
            " jsonb_build_object('n', g) FROM generate_series(1, $2) g",
            gym_id,
            n,
        )
        written = time.perf_counter()
        relayed = peak = None
        peak_lag = 0
        while True:
            left = await conn.fetchval(
                "SELECT count(*) FROM kernel.outbox WHERE published_at IS NULL"
            )
            behind, pending = await lag()
            peak_lag = max(peak_lag, behind + pending)
            now = time.perf_counter()
            if left == 0 and relayed is None:
                relayed = now
            if relayed is not None and behind == 0 and pending == 0:
                peak = now
                break
            await asyncio.sleep(0.02)
        print(
            f"  {n} events written in {written - started:.2f} s; relayed to the stream in"
            f" {relayed - written:.2f} s ({n / (relayed - written):7.0f} events/s);"
            f" every consumer group caught up {peak - written:.2f} s after the write"
            f" (peak lag {peak_lag} entries)"
        )

        real = max(1, n // 5)
        before = await conn.fetchval("SELECT count(*) FROM notifications.inbox")
        started = time.perf_counter()
        await conn.execute(
            "INSERT INTO kernel.outbox (id, type, gym_id, occurred_at, data)"
            " SELECT gen_random_uuid(), 'achievement.earned', $1::uuid, now(),"
            " jsonb_build_object('achievement_id', gen_random_uuid(), 'name', 'Bench ' || g,"
            "   'client_id', ($3::text[])[1 + g % array_length($3::text[], 1)])"
            " FROM generate_series(1, $2) g",
            gym_id,
            real,
            [c["id"] for c in clients],
        )
        while await conn.fetchval("SELECT count(*) FROM notifications.inbox") < before + real:
            await asyncio.sleep(0.05)
        done = time.perf_counter() - started
        print(
            f"  {real} achievement.earned events → {real} in-app notifications stored in"
            f" {done:.2f} s ({real / done:6.0f} notifications/s: relay, consumer, dispatcher)"
        )
    finally:
        await conn.close()


async def main_async(args: argparse.Namespace) -> None:
    server_url = os.environ.get(
        "FITSYNC_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    redis_url = os.environ.get("FITSYNC_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    name = f"fitsync_bench_comm_{uuid.uuid4().hex[:8]}"
    server = make_url(server_url)
    admin_dsn = server.set(drivername="postgresql", database="postgres").render_as_string(False)
    db_dsn = server.set(drivername="postgresql", database=name).render_as_string(False)
    prefix = f"fitsync-bench-{uuid.uuid4().hex[:8]}:"
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    redis = Redis.from_url(redis_url, decode_responses=True)
    env = {
        "FITSYNC_DATABASE_URL": server.set(
            drivername="postgresql+asyncpg", database=name
        ).render_as_string(False),
        "FITSYNC_REDIS_URL": redis_url,
        "FITSYNC_REDIS_PREFIX": prefix,
        # Sign-in is not what this bench measures: cheap hashes make seeding fast.
        "FITSYNC_ARGON2_MEMORY_KIB": "1024",
        "FITSYNC_ARGON2_TIME_COST": "1",
        "FITSYNC_LOGIN_MAX_FAILURES_IP": "100000",
        "FITSYNC_DB_POOL_SIZE": "10",
    }
    try:
        with fitsync_server(2, admin=ADMIN, extra_env=env) as srv:
            async with httpx.AsyncClient(base_url=srv.base, timeout=60) as api:
                gym_id, pairs = await _seed(api, args.clients // 2)
            print("live messaging, 2 server workers:")
            for senders in args.senders:
                await messaging(srv.base, pairs, args.messages, senders)
            print("event bus, 2 server workers (relay + consumers + dispatcher in-process):")
            await burst(db_dsn, redis, prefix, args.burst, gym_id, [c for _t, c, _ in pairs])
    finally:
        keys = [k async for k in redis.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--burst", type=int, default=10_000)
    parser.add_argument("--senders", type=int, nargs="+", default=[1, 32])
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
