"""Scheduling benchmark: prints figures, asserts nothing.

1. POST /bookings throughput at 64 connections, low contention (each request books a
   random one of 1,000 classes) and high contention (every request books the same
   class): requests/s, p50, p99.
2. GET /trainers/{id}/slots over a 4-week window: p50, p99 (one client at a time,
   then 8 at once).
3. pgbench running the same booking transaction (the SQL the service sends) at the
   same concurrency, and the HTTP/pgbench ratio.

    .venv/bin/python bench/scheduling.py [--requests 4000] [--connections 64] [--workers 1]

PostgreSQL and Redis: FITSYNC_BENCH_DATABASE_URL (default
postgresql://postgres@127.0.0.1:5432/postgres) and FITSYNC_BENCH_REDIS_URL (default
redis://127.0.0.1:6379/0). The script creates its own database and drops it at the end;
the API runs as ``uvicorn --factory fitsync.app:create_app`` in a subprocess.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import jwt

from fitsync.kernel import migrate

SECRET = "bench-secret-" + "x" * 40
HOT_CAPACITY = 1_000_000


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def token(user_id: uuid.UUID, role: str, gym_id: uuid.UUID) -> str:
    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "role": role,
        "gym_id": str(gym_id),
        "sid": str(uuid.uuid4()),
        "iat": now,
        "exp": now + 3600,
        "iss": "fitsync",
        "aud": "fitsync-api",
    }
    return jwt.encode(claims, SECRET, algorithm="HS256")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def seed(dsn: str, clients: int) -> dict[str, object]:
    """A gym, a trainer with all-week hours, ``clients`` clients, 1,000 classes + 1 hot one."""
    conn = await asyncpg.connect(dsn)
    gym_id, owner_id, trainer_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await conn.execute(
        "INSERT INTO gyms.gyms (id, name, timezone, currency, settings) VALUES"
        " ($1, 'Bench Gym', 'Europe/Berlin', 'EUR', '{\"booking_horizon_days\": 365}')",
        gym_id,
    )
    users = [(owner_id, "gym_owner"), (trainer_id, "trainer")]
    client_ids = [uuid.uuid4() for _ in range(clients)]
    users += [(c, "client") for c in client_ids]
    await conn.executemany(
        "INSERT INTO identity.users (id, gym_id, email, first_name, last_name, role)"
        " VALUES ($1, $2, $3::text, 'B', 'U', $4)",
        [(u, gym_id, f"{u}@bench.example", r) for u, r in users],
    )
    now = datetime.now(UTC)
    start = (now + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    classes = []
    for i in range(1001):  # hourly, so one trainer never overlaps; #1000 is the hot one
        starts = start + timedelta(hours=i)
        classes.append(
            (
                uuid.uuid4(),
                gym_id,
                "class",
                f"Class {i}",
                trainer_id,
                starts,
                starts + timedelta(minutes=50),
                starts + timedelta(minutes=50),
                HOT_CAPACITY if i == 1000 else 10_000,
                trainer_id,
                now,
                now,
            )
        )
    await conn.copy_records_to_table(
        "sessions",
        schema_name="scheduling",
        columns=[
            "id",
            "gym_id",
            "kind",
            "title",
            "trainer_id",
            "starts_at",
            "ends_at",
            "busy_until",
            "capacity",
            "created_by",
            "created_at",
            "updated_at",
        ],
        records=classes,
    )
    # A second trainer whose 4 weeks are open and half booked, for the slots figure.
    slots_trainer = uuid.uuid4()
    await conn.execute(
        "INSERT INTO identity.users (id, gym_id, email, first_name, last_name, role)"
        " VALUES ($1, $2, $3, 'S', 'T', 'trainer')",
        slots_trainer,
        gym_id,
        f"{slots_trainer}@bench.example",
    )
    rules = ",".join(
        f'{{"weekday": {d}, "start_time": "07:00:00", "end_time": "21:00:00"}}' for d in range(1, 8)
    )
    await conn.execute(
        "INSERT INTO scheduling.availability (trainer_id, gym_id, rules, exceptions, breaks,"
        " slot_minutes, durations, updated_at) VALUES ($1, $2, $3::jsonb, '[]', '[]', 30,"
        " '{30,60,90}', now())",
        slots_trainer,
        gym_id,
        f"[{rules}]",
    )
    appointments = []
    day0 = (now + timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)
    for day in range(28):
        for hour in (0, 2, 4, 6, 8):  # five 1:1 sessions a day
            starts = day0 + timedelta(days=day, hours=hour)
            appointments.append(
                (
                    uuid.uuid4(),
                    gym_id,
                    "appointment",
                    "Personal training",
                    slots_trainer,
                    random.choice(client_ids),
                    starts,
                    starts + timedelta(hours=1),
                    starts + timedelta(hours=1),
                    1,
                    1,
                    slots_trainer,
                    now,
                    now,
                )
            )
    await conn.copy_records_to_table(
        "sessions",
        schema_name="scheduling",
        columns=[
            "id",
            "gym_id",
            "kind",
            "title",
            "trainer_id",
            "client_id",
            "starts_at",
            "ends_at",
            "busy_until",
            "capacity",
            "booked",
            "created_by",
            "created_at",
            "updated_at",
        ],
        records=appointments,
    )
    await conn.execute("ANALYZE")
    await conn.close()
    return {
        "gym_id": gym_id,
        "trainer_id": trainer_id,
        "slots_trainer": slots_trainer,
        "client_ids": client_ids,
        "class_ids": [c[0] for c in classes[:1000]],
        "hot_class": classes[1000][0],
        "owner_id": owner_id,
    }


def start_server(
    db_url: str,
    redis_url: str,
    port: int,
    workers: int,
    data_dir: str,
    pool: int,
    run_worker: bool,
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "FITSYNC_DATABASE_URL": db_url,
        "FITSYNC_REDIS_URL": redis_url,
        "FITSYNC_SECRET_KEY": SECRET,
        "FITSYNC_REDIS_PREFIX": f"fitsync-bench-{uuid.uuid4().hex[:6]}:",
        "FITSYNC_DB_POOL_SIZE": str(pool),
        "FITSYNC_DATA_DIR": data_dir,
        "FITSYNC_RUN_WORKER": "true" if run_worker else "false",
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "fitsync.app:create_app",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
            "--timeout-keep-alive",
            "60",
        ],
        env=env,
    )


async def wait_ready(base: str) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(300):
            try:
                if (await http.get(f"{base}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the server did not start")


async def load(
    base: str, connections: int, jobs: list[tuple[str, str, dict[str, str], object]]
) -> tuple[float, list[float], dict[int, int]]:
    """Run ``jobs`` (method, path, headers, json) over ``connections`` connections."""
    latencies: list[float] = []
    codes: dict[int, int] = {}
    queue = iter(jobs)
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as http:

        async def worker() -> None:
            for method, path, headers, body in queue:
                started = time.perf_counter()
                try:
                    response = await http.request(method, path, headers=headers, json=body)
                    code = response.status_code
                except httpx.TransportError:  # counted as status 0
                    code = 0
                latencies.append((time.perf_counter() - started) * 1000)
                codes[code] = codes.get(code, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    return elapsed, latencies, codes


def report(name: str, elapsed: float, latencies: list[float], codes: dict[int, int]) -> float:
    rate = len(latencies) / elapsed
    print(
        f"{name:<44} {rate:8.0f} req/s   p50 {statistics.median(latencies):7.1f} ms"
        f"   p99 {pct(latencies, 0.99):7.1f} ms   status {dict(sorted(codes.items()))}"
    )
    return rate


PGBENCH_SQL = """\\set n random({lo}, {hi})
BEGIN;
SELECT set_config('app.gym_id', '{gym_id}', true), set_config('app.all_gyms', 'off', true);
SELECT id AS sid, gen_random_uuid() AS cid, gen_random_uuid() AS bid, booked, capacity
  FROM scheduling.sessions WHERE id = (SELECT id FROM public.bench_classes WHERE n = :n)
  AND kind = 'class' FOR UPDATE \\gset
INSERT INTO scheduling.bookings (id, gym_id, session_id, client_id, status, late_cancel, sequence,
  booked_by, created_at, updated_at) VALUES (':bid', '{gym_id}', ':sid', ':cid', 'confirmed',
  false, 0, ':cid', now(), now()) ON CONFLICT DO NOTHING RETURNING id;
UPDATE scheduling.sessions SET booked = booked + 1, updated_at = now() WHERE id = ':sid';
INSERT INTO scheduling.reminders (booking_id, lead_minutes, gym_id, due_at)
  VALUES (':bid', 1440, '{gym_id}', now() + interval '1 day'),
  (':bid', 120, '{gym_id}', now() + interval '1 day')
  ON CONFLICT (booking_id, lead_minutes) DO UPDATE SET due_at = excluded.due_at, sent_at = NULL;
INSERT INTO kernel.outbox (id, type, gym_id, actor_id, occurred_at, data)
  VALUES (gen_random_uuid(), 'booking.created', '{gym_id}', ':cid', now(),
  '{{"booking_id": ":bid", "status": "confirmed"}}');
COMMIT;
"""


def pgbench(
    dsn: str, connections: int, seconds: int, script: str, workdir: Path
) -> tuple[float, float, float] | None:
    """(transactions/s, p50 ms, p99 ms) of ``script``, or None without pgbench."""
    binary = shutil.which("pgbench")
    if binary is None:
        print("pgbench not found (apt-get install postgresql-contrib); skipped")
        return None
    path = workdir / "book.sql"
    path.write_text(script)
    env = {**os.environ, "PGOPTIONS": "-c role=fitsync_app -c jit=off"}
    out = subprocess.run(
        [
            binary,
            "-n",
            "-c",
            str(connections),
            "-j",
            "2",
            "-T",
            str(seconds),
            "-f",
            str(path),
            "-l",
            "--log-prefix",
            str(workdir / "pgbench_log"),
            dsn,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=workdir,
    )
    tps = float(re.search(r"tps = ([\d.]+)", out.stdout).group(1))  # type: ignore[union-attr]
    latencies = []
    for log in workdir.glob("pgbench_log*"):
        for line in log.read_text().splitlines():
            latencies.append(int(line.split()[2]) / 1000)
    return tps, statistics.median(latencies), pct(latencies, 0.99)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--pgbench-seconds", type=int, default=15)
    parser.add_argument(
        "--db-pool",
        type=int,
        default=16,
        help="the server's pool size per worker (it may open as many again under load)",
    )
    parser.add_argument(
        "--no-worker",
        action="store_true",
        help="run the API without the in-process outbox relay and consumers",
    )
    parser.add_argument(
        "--pgbench-connections", type=int, default=None, help="default: --connections"
    )
    args = parser.parse_args()

    server_url = os.environ.get(
        "FITSYNC_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    redis_url = os.environ.get("FITSYNC_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    name = f"fitsync_bench_sched_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = server_url.rsplit("/", 1)[0] + f"/{name}"
    sa_url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
    server: subprocess.Popen[bytes] | None = None
    workdir = Path(tempfile.mkdtemp(prefix="fitsync-bench-"))
    try:
        await asyncio.to_thread(migrate.upgrade, sa_url)
        clients_needed = args.requests * 2 + 10
        world = await seed(dsn, clients_needed)
        port = free_port()
        server = start_server(
            sa_url, redis_url, port, args.workers, str(workdir), args.db_pool, not args.no_worker
        )
        base = f"http://127.0.0.1:{port}"
        await wait_ready(base)
        api = f"{base}/api/v1"
        gym_id = world["gym_id"]
        client_ids: list[uuid.UUID] = world["client_ids"]  # type: ignore[assignment]
        class_ids: list[uuid.UUID] = world["class_ids"]  # type: ignore[assignment]
        tokens = [token(c, "client", gym_id) for c in client_ids]  # type: ignore[arg-type]
        print(
            f"FitSync scheduling benchmark: {args.connections} HTTP connections, {args.workers}"
            f" uvicorn worker(s) with up to {2 * args.db_pool} database connections each,"
            f" {os.cpu_count()} CPUs, {args.requests} requests per run"
        )

        # Warm up the pool and the code paths.
        warm = [
            ("GET", f"/classes/{class_ids[i]}", {"Authorization": f"Bearer {tokens[-1]}"}, None)
            for i in range(200)
        ]
        await load(api, args.connections, warm)

        low = [
            (
                "POST",
                "/bookings",
                {"Authorization": f"Bearer {tokens[i]}"},
                {"class_id": str(random.choice(class_ids))},
            )
            for i in range(args.requests)
        ]
        low_rate = report(
            "POST /bookings, 1,000 classes (low contention)",
            *await load(api, args.connections, low),
        )
        hot = [
            (
                "POST",
                "/bookings",
                {"Authorization": f"Bearer {tokens[args.requests + i]}"},
                {"class_id": str(world["hot_class"])},
            )
            for i in range(args.requests)
        ]
        hot_rate = report(
            "POST /bookings, 1 class (high contention)", *await load(api, args.connections, hot)
        )

        start = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
        params = (
            f"from={start.isoformat()}&to={(start + timedelta(weeks=4)).isoformat()}&duration=60"
        )
        params = params.replace("+", "%2B")
        slots_path = f"/trainers/{world['slots_trainer']}/slots?{params}"
        headers = {"Authorization": f"Bearer {tokens[-1]}"}
        async with httpx.AsyncClient(base_url=api) as http:
            sample = await http.get(slots_path, headers=headers)
            found = len(sample.json()["items"])
        slots_jobs = [("GET", slots_path, headers, None) for _ in range(500)]
        report(
            f"GET /trainers/{{id}}/slots, 4 weeks ({found} slots), 1 conn",
            *await load(api, 1, slots_jobs),
        )
        report("GET /trainers/{id}/slots, 4 weeks, 8 conns", *await load(api, 8, slots_jobs))

        if server is not None:
            server.terminate()
            server.wait(timeout=30)
            server = None
        conn = await asyncpg.connect(dsn)
        await conn.execute("CREATE TABLE public.bench_classes (n int PRIMARY KEY, id uuid)")
        await conn.executemany(
            "INSERT INTO public.bench_classes VALUES ($1, $2)",
            [(i + 1, c) for i, c in enumerate(class_ids)] + [(1001, world["hot_class"])],
        )
        await conn.execute("GRANT SELECT ON public.bench_classes TO fitsync_app")
        await conn.close()
        for label, classes, rate in (
            ("1,000 classes", 1000, low_rate),
            ("1 class", 1, hot_rate),
        ):
            lo, hi = (1, 1000) if classes == 1000 else (1001, 1001)
            script = PGBENCH_SQL.format(lo=lo, hi=hi, gym_id=gym_id)
            for old in workdir.glob("pgbench_log*"):
                old.unlink()
            result = pgbench(
                dsn,
                args.pgbench_connections or args.connections,
                args.pgbench_seconds,
                script,
                workdir,
            )
            if result:
                tps, p50, p99 = result
                name = f"pgbench -c {args.pgbench_connections or args.connections}, {label}"
                print(
                    f"{name:<44} {tps:8.0f} tx/s    p50 {p50:7.1f} ms   p99 {p99:7.1f} ms"
                    f"   HTTP/pgbench = {rate / tps:.2f}"
                )
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
