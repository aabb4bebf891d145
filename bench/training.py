"""Training benchmark: exercise search and the client's plan under load.

    .venv/bin/python bench/training.py [--seconds 10] [--workers 1]

Starts `fitsync serve` (embedded stores, or FITSYNC_BENCH_DATABASE_URL /
FITSYNC_BENCH_REDIS_URL), adds 50 gyms with 200 synthetic exercises each (10,000 on top
of the 873 of the library), a trainer and a client with a 12-week program (4 workouts a
week), then measures with wrk:

* GET /exercises?q=<typo'd term>, rotating over misspelt, glued and prefix queries, at
  1 connection (latency) and 64 connections (throughput);
* GET /me/plan for one week and for the whole 12 weeks;

and prints the search's query plan at that scale (EXPLAIN), to show the indexes at work.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import urllib.parse
import uuid
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _server
import asyncpg
from _server import Load, Server, fitsync_server

ADMIN = ("bench-admin@example.com", "bench-admin-password-1")
PASSWORD = "bench-user-password-1"
GYMS = 50
PER_GYM = 200
TYPO_QUERIES = [
    "benchpres",
    "bench pres",
    "squatt",
    "dumbell curl",
    "pullup",
    "deadlfit",
    "shoulder pres",
    "lat pulldwn",
    "tricep pushdwn",
    "hamer curls",
    "bic",
    "romanain deadlift",
    "kettlebel swing",
    "calf raize",
    "skullcrusher",
    "legpress",
]
MODIFIERS = ["Paused", "Tempo", "Banded", "Deficit", "Single-Arm", "Close-Stance", "Wide", "Slow"]


def _dsn(server: Server) -> dict[str, str]:
    url = server.env.get("FITSYNC_DATABASE_URL")
    if url:
        return {"dsn": url.replace("postgresql+asyncpg", "postgresql")}
    return {
        "host": str(server.data_dir / "postgres" / "run"),
        "user": "postgres",
        "database": "postgres",
    }


async def add_gym_exercises(server: Server, gym_ids: list[str]) -> None:
    conn = await asyncpg.connect(**_dsn(server))
    try:
        library = await conn.fetch(
            "SELECT name, category, level, equipment, primary_muscles, secondary_muscles,"
            " instructions FROM training.exercises WHERE source_id IS NOT NULL"
        )
        rng = random.Random(7)
        rows = []
        for gym_id in gym_ids:
            for n in range(PER_GYM):
                base = rng.choice(library)
                rows.append(
                    (
                        uuid.uuid4(),
                        uuid.UUID(gym_id),
                        f"{rng.choice(MODIFIERS)} {base['name']} {n}"[:200],
                        base["category"],
                        base["level"],
                        base["equipment"],
                        base["primary_muscles"],
                        base["secondary_muscles"],
                        base["instructions"],
                    )
                )
        await conn.copy_records_to_table(
            "exercises",
            schema_name="training",
            records=rows,
            columns=[
                "id",
                "gym_id",
                "name",
                "category",
                "level",
                "equipment",
                "primary_muscles",
                "secondary_muscles",
                "instructions",
            ],
        )
        await conn.execute("ANALYZE training.exercises")
        total = await conn.fetchval("SELECT count(*) FROM training.exercises")
        print(f"exercises in the database: {total} (library + {len(rows)} synthetic)")
    finally:
        await conn.close()


def seed(server: Server) -> tuple[str, str, date]:
    """Gyms, a trainer and a client in the first; returns (client token, gym id, start)."""
    admin = server.call("POST", "/auth/login", {"email": ADMIN[0], "password": ADMIN[1]})[
        "access_token"
    ]
    gym_ids = [
        server.call(
            "POST", "/gyms", {"name": f"Bench Gym {i}", "timezone": "UTC", "currency": "EUR"}, admin
        )["id"]
        for i in range(GYMS)
    ]
    asyncio.run(add_gym_exercises(server, gym_ids))
    people = {}
    for role in ("trainer", "client"):
        email = f"bench-{role}@example.com"
        server.call(
            "POST",
            "/users",
            {
                "email": email,
                "first_name": "Bench",
                "last_name": role.title(),
                "role": role,
                "gym_id": gym_ids[0],
                "password": PASSWORD,
            },
            admin,
        )
        login = server.call("POST", "/auth/login", {"email": email, "password": PASSWORD})
        people[role] = (login["user"]["id"], login["access_token"])
    trainer_id, trainer = people["trainer"]
    client_id, client = people["client"]
    server.call("PUT", f"/trainers/{trainer_id}/clients/{client_id}", None, trainer)
    picks = server.call("GET", "/exercises?category=strength&limit=100", None, trainer)["items"]
    workouts = []
    for w in range(4):
        items = [
            {
                "exercise_id": picks[(w * 6 + i) % len(picks)]["id"],
                "order": i + 1,
                "sets": 4,
                "reps": 8,
                "reps_max": 10,
                "rest_seconds": 90,
                "load": 40 + 5 * i,
                "rpe": 8,
                "progression": {"type": "load_per_week", "increment_kg": 2.5},
            }
            for i in range(6)
        ]
        workouts.append(
            server.call(
                "POST", "/workouts", {"name": f"Session {w + 1}", "exercises": items}, trainer
            )["id"]
        )
    schedule = [
        {"week": week, "day": day, "workout_id": workouts[i]}
        for week in range(1, 13)
        for i, day in enumerate((1, 2, 4, 5))
    ]
    program = server.call(
        "POST",
        "/programs",
        {"name": "12-week strength", "duration_weeks": 12, "schedule": schedule},
        trainer,
    )
    start = date.today() - timedelta(days=date.today().weekday())
    server.call(
        "POST",
        f"/programs/{program['id']}/assign",
        {"client_id": client_id, "start_date": start.isoformat()},
        trainer,
    )
    return client, gym_ids[0], start


async def explain(server: Server, gym_id: str, q: str) -> str:
    from sqlalchemy.ext.asyncio import create_async_engine

    from fitsync.kernel.auth import Principal, Role
    from fitsync.kernel.db import APP_ROLE, make_sessionmaker, transaction
    from fitsync.training.service.exercises import explain_search

    dsn = _dsn(server)
    if "dsn" in dsn:
        url = dsn["dsn"].replace("postgresql://", "postgresql+asyncpg://")
    else:
        url = f"postgresql+asyncpg://postgres@/postgres?host={dsn['host']}"
    engine = create_async_engine(url)
    try:
        async with transaction(make_sessionmaker(engine), gym_id=uuid.UUID(gym_id)) as session:
            from sqlalchemy import text

            await session.execute(text(f"SET LOCAL ROLE {APP_ROLE}"))
            principal = Principal(
                user_id=uuid.uuid4(),
                role=Role.client,
                gym_id=uuid.UUID(gym_id),
                session_id=uuid.uuid4(),
            )
            return await explain_search(session, principal=principal, q=q)
    finally:
        await engine.dispose()


def wrk(url: str, **kwargs: object) -> Load:
    r"""_server.wrk, but reading the latency distribution by its own lines.

    _server.wrk's ``50%\s+`` also matches a thread-stats line ending in e.g. "93.50%",
    and then fails on the next word ("Req/Sec").
    """
    import re
    import subprocess

    real_run = subprocess.run

    def run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
        done = real_run(cmd, **kw)  # type: ignore[call-overload]
        out = re.sub(r"(\d)%(\s)", r"\1 pct\2", done.stdout.split("Latency Distribution")[0])
        done.stdout = out + "Latency Distribution" + done.stdout.split("Latency Distribution")[1]
        return done

    _server.subprocess.run = run  # type: ignore[assignment]
    try:
        return _server.wrk(url, **kwargs)  # type: ignore[arg-type]
    finally:
        _server.subprocess.run = real_run


def rotating(paths: list[str]) -> str:
    quoted = ", ".join(f'"{p}"' for p in paths)
    return (
        f"local paths = {{{quoted}}}\nlocal i = 0\n"
        "request = function()\n  i = i + 1\n"
        "  return wrk.format('GET', paths[(i % #paths) + 1])\nend\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    with fitsync_server(args.workers, admin=ADMIN) as server:
        token, gym_id, start = seed(server)
        headers = {"Authorization": f"Bearer {token}"}
        prefix = urllib.parse.urlparse(server.base).path
        search = [f"{prefix}/exercises?q={urllib.parse.quote(q)}&limit=20" for q in TYPO_QUERIES]
        print(f"\nserver: fitsync serve --workers {args.workers}; wrk, {args.seconds} s per run")
        wrk(
            server.base + "/exercises",
            connections=8,
            seconds=2,
            headers=headers,
            script=rotating(search),
        )
        for connections in (1, 64):
            load = wrk(
                server.base + "/exercises",
                connections=connections,
                seconds=args.seconds,
                headers=headers,
                script=rotating(search),
                threads=1 if connections == 1 else 2,
            )
            print(f"  GET /exercises?q=<typo>  {connections:2d} conns: {load}")
        week = f"from={start.isoformat()}&to={(start + timedelta(days=6)).isoformat()}"
        whole = f"from={start.isoformat()}&to={(start + timedelta(days=83)).isoformat()}"
        for label, query in (("1 week  ", week), ("12 weeks", whole)):
            for connections in (1, 64):
                load = wrk(
                    f"{server.base}/me/plan?{query}",
                    connections=connections,
                    seconds=args.seconds,
                    headers=headers,
                    threads=1 if connections == 1 else 2,
                )
                print(f"  GET /me/plan ({label})   {connections:2d} conns: {load}")
        print("\nEXPLAIN of GET /exercises?q=dumbell curl (caller's gym, 10,873 exercises):")
        print(asyncio.run(explain(server, gym_id, "dumbell curl")))


if __name__ == "__main__":
    main()
