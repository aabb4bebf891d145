"""Identity benchmark: argon2id cost, sign-in rate, and GET /users/me under load.

    .venv/bin/python bench/identity.py [--seconds 10]

Prints the argon2id parameters and hash/verify times, then for one and for two server
workers: POST /auth/login at 8 connections (argon2id-bound by design) and GET /users/me
with a valid token at 64 connections (requests/s, p50, p99), and how many PostgreSQL
transactions the /users/me run caused (the token check and the profile come from Redis).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import asyncpg
from _server import Server, fitsync_server, wrk

from fitsync.identity.domain import Argon2Params, Passwords

ADMIN = ("bench-admin@example.com", "bench-admin-password-1")
CLIENT_PASSWORD = "bench-client-password-1"


def argon2_figures() -> None:
    params = Argon2Params()
    passwords = Passwords(params)
    hashes, verifies = [], []
    for _ in range(20):
        t = time.perf_counter()
        digest = passwords.hash("correct-horse-battery-9")
        hashes.append(time.perf_counter() - t)
        t = time.perf_counter()
        passwords.verify(digest, "correct-horse-battery-9")
        verifies.append(time.perf_counter() - t)
    print(
        f"argon2id m={params.memory_kib} KiB t={params.time_cost} p={params.parallelism}: "
        f"hash median {statistics.median(hashes) * 1000:.1f} ms, "
        f"verify median {statistics.median(verifies) * 1000:.1f} ms (20 runs)"
    )


def seed(server: Server) -> tuple[str, str]:
    admin = server.call("POST", "/auth/login", {"email": ADMIN[0], "password": ADMIN[1]})[
        "access_token"
    ]
    gym = server.call(
        "POST", "/gyms", {"name": "Bench Gym", "timezone": "UTC", "currency": "EUR"}, admin
    )
    email = "bench-client@example.com"
    server.call(
        "POST",
        "/auth/register",
        {
            "email": email,
            "password": CLIENT_PASSWORD,
            "first_name": "B",
            "last_name": "C",
            "gym_id": gym["id"],
        },
    )
    token = server.call("POST", "/auth/login", {"email": email, "password": CLIENT_PASSWORD})[
        "access_token"
    ]
    return email, token


async def pg_transactions(server: Server) -> int:
    host = server.env.get("FITSYNC_DATABASE_URL") or str(server.data_dir / "postgres" / "run")
    conn = await (
        asyncpg.connect(host.replace("postgresql+asyncpg", "postgresql"))
        if "://" in host
        else asyncpg.connect(host=host, user="postgres", database="postgres")
    )
    try:
        return int(
            await conn.fetchval(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()"
            )
        )
    finally:
        await conn.close()


def run(workers: int, seconds: int) -> None:
    with fitsync_server(workers, admin=ADMIN) as server:
        email, token = seed(server)
        body = json.dumps({"email": email, "password": CLIENT_PASSWORD})
        login = wrk(
            server.base + "/auth/login",
            connections=8,
            seconds=seconds,
            script=f"wrk.method = 'POST'\nwrk.body = '{body}'\nwrk.headers['Content-Type'] = 'application/json'\n",
        )
        print(f"  POST /auth/login   8 conns, {workers} worker(s): {login}")
        wrk(
            server.base + "/users/me",
            connections=64,
            seconds=2,
            headers={"Authorization": f"Bearer {token}"},
        )
        time.sleep(11)  # let PostgreSQL flush the statistics of idle backends
        before = asyncio.run(pg_transactions(server))
        me = wrk(
            server.base + "/users/me",
            connections=64,
            seconds=seconds,
            headers={"Authorization": f"Bearer {token}"},
        )
        time.sleep(11)
        after = asyncio.run(pg_transactions(server))
        print(f"  GET /users/me     64 conns, {workers} worker(s): {me}")
        root = server.base.removesuffix("/api/v1")
        health = wrk(root + "/healthz", connections=64, seconds=seconds)
        print(f"  GET /healthz      64 conns, {workers} worker(s): {health}  (framework floor)")
        print(
            f"    PostgreSQL transactions during that run: {after - before - 1} for "
            f"{me.requests_per_s * seconds:.0f} requests (the outbox relay polls twice a second)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    argon2_figures()
    for workers in (1, 2):
        run(workers, args.seconds)


if __name__ == "__main__":
    main()
