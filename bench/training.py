"""Training benchmark: exercise search and the client's plan under load.

    .venv/bin/python bench/training.py [--seconds 10] [--workers 1]

Starts `fitsync serve` (embedded stores, or FITSYNC_BENCH_DATABASE_URL /
FITSYNC_BENCH_REDIS_URL), adds 50 gyms with 200 synthetic exercises each (10,000 on top
of the 873 of the library), a trainer and a client with a 12-week program (4 workouts a
week), then measures with wrk (a separate C process) over loopback:

* GET /exercises?q=<typo'd term>, rotating over misspelt, glued and prefix queries;
* GET /me/plan for one week and for the whole 12 weeks;
* and, in the same run, GET /healthz (no auth, no store) and GET /muscles (a token check
  and a unit of work around one tiny query) as yardsticks: the machine is shared and
  noisy, so each figure is also given as a multiple of theirs.

Each at 1 connection (the latency of one request, i.e. the server's time: wrk is on the
same host) and at 64 connections (throughput). For each run also the CPU time the server
process and its PostgreSQL backends spent per request (from /proc: what a request costs,
whatever the load), and the load average. Ends with EXPLAIN ANALYZE of a search at that
scale, to show the indexes at work.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import asyncpg
from _server import Server, fitsync_server

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
        await conn.execute("ANALYZE training.search_words")
        total = await conn.fetchval("SELECT count(*) FROM training.exercises")
        words = await conn.fetchval("SELECT count(*) FROM training.search_words")
        print(f"exercises in the database: {total} (library + {len(rows)} synthetic)")
        print(f"words in the search lexicon: {words}")
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
    from sqlalchemy import text
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


# --- measuring ---------------------------------------------------------------------------


def _cpu_ms(pid: int, *, children: bool = False) -> float:
    """User + system CPU time of a process so far (0 when it is gone or not on Linux),
    with ``children`` also that of its children it has waited for."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = sum(int(f) for f in fields[11 : 15 if children else 13])
    return ticks * 1000 / os.sysconf("SC_CLK_TCK")


def _server_pids(port: int) -> list[int]:
    """The `fitsync serve --port N` process and its worker processes (not the stores)."""
    procs: dict[int, tuple[str, int | None]] = {}
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):
            continue
        procs[int(proc.name)] = (cmdline, ppid)
    roots = {pid for pid, (cmd, _) in procs.items() if f"serve --port {port} " in cmd + " "}
    workers = {pid for pid, (cmd, ppid) in procs.items() if ppid in roots and "spawn_main" in cmd}
    return sorted(roots | workers)


def _postgres_cpu_ms(server: Server) -> float:
    """CPU time the embedded PostgreSQL has spent so far: the postmaster, its live
    processes, and (counted in the postmaster's children times) the backends that ended.

    On an external server (FITSYNC_BENCH_DATABASE_URL) other users' work would count too,
    so there it is only the application's live backends (connections the pool closes
    during a run are missed).
    """
    pidfile = server.data_dir / "postgres" / "data" / "postmaster.pid"
    if pidfile.exists():
        postmaster = int(pidfile.read_text().split()[0])
        total = _cpu_ms(postmaster, children=True)
        for proc in Path("/proc").glob("[0-9]*"):
            if _ppid(proc) == postmaster:
                total += _cpu_ms(int(proc.name))
        return total
    return sum(map(_cpu_ms, asyncio.run(_backend_pids(server))))


def _ppid(proc: Path) -> int | None:
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError):
        return None


async def _backend_pids(server: Server) -> list[int]:
    """The PostgreSQL backends serving the application's connections."""
    conn = await asyncpg.connect(**_dsn(server))
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity"
            " WHERE application_name = 'fitsync' AND datname = current_database()"
        )
        return [r["pid"] for r in rows]
    finally:
        await conn.close()


@dataclass
class Run:
    connections: int
    requests: int
    requests_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int
    server_cpu_ms: float  # per request
    postgres_cpu_ms: float  # per request
    load: float  # 1-minute load average at the end


def _ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if match is None:
        raise ValueError(f"unexpected wrk latency {value!r}")
    number, unit = match.groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


class Bench:
    def __init__(self, server: Server, headers: dict[str, str], seconds: int) -> None:
        self.server = server
        self.headers = headers
        self.seconds = seconds
        self.port = urllib.parse.urlparse(server.base).port or 80
        self.origin = server.base.split("/api/")[0]

    def wrk(self, paths: list[str], connections: int, seconds: int | None = None) -> Run:
        """wrk rotating over ``paths`` (absolute paths on the server)."""
        if not shutil.which("wrk"):
            sys.exit("wrk is needed: apt-get install wrk")
        quoted = ", ".join(f'"{p}"' for p in paths)
        script = (
            f"local paths = {{{quoted}}}\nlocal i = 0\n"
            "request = function()\n  i = i + 1\n"
            "  return wrk.format('GET', paths[(i % #paths) + 1])\nend\n"
        )
        seconds = seconds or self.seconds
        cmd = [
            "wrk",
            f"-t{1 if connections == 1 else 2}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
        ]
        for name, value in self.headers.items():
            cmd += ["-H", f"{name}: {value}"]
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
            lua.write(script)
        server_pids = _server_pids(self.port)
        before = sum(map(_cpu_ms, server_pids)), _postgres_cpu_ms(self.server)
        try:
            out = subprocess.run(
                [*cmd, "-s", lua.name, self.origin + paths[0]],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        finally:
            os.unlink(lua.name)
        server_cpu = sum(map(_cpu_ms, server_pids)) - before[0]
        postgres_cpu = _postgres_cpu_ms(self.server) - before[1]
        if os.environ.get("BENCH_VERBOSE"):
            print(out)
        # The percentiles come from the "Latency Distribution" lines only (the thread
        # statistics above them end in percentages too; values may be space-padded).
        dist = out.split("Latency Distribution", 1)[1]
        pct = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)\s*$", dist, re.M))
        count = re.search(r"(\d+) requests in", out)
        rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
        non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
        assert count and rps and {"50", "90", "99"} <= set(pct), out
        requests = max(int(count.group(1)), 1)
        return Run(
            connections=connections,
            requests=requests,
            requests_per_s=float(rps.group(1)),
            p50_ms=_ms(pct["50"]),
            p90_ms=_ms(pct["90"]),
            p99_ms=_ms(pct["99"]),
            errors=int(non2xx.group(1)) if non2xx else 0,
            server_cpu_ms=server_cpu / requests,
            postgres_cpu_ms=postgres_cpu / requests,
            load=os.getloadavg()[0],
        )


def _row(label: str, run: Run, base: Run | None) -> str:
    line = (
        f"  {label:<26} {run.connections:2d} conn {run.requests_per_s:7.0f} req/s"
        f"  p50 {run.p50_ms:6.2f}  p90 {run.p90_ms:6.2f}  p99 {run.p99_ms:6.2f} ms"
        f"  cpu/req: server {run.server_cpu_ms:5.2f} pg {run.postgres_cpu_ms:5.2f} ms"
        f"  load {run.load:4.1f}"
    )
    if run.errors:
        line += f"  NON-2XX {run.errors}"
    if base is not None and base is not run:
        if run.connections == 1:
            line += f"  (p50 x{run.p50_ms / base.p50_ms:.0f}, p99 x{run.p99_ms / base.p99_ms:.1f}"
            line += " of healthz)"
        else:
            line += f"  ({run.requests_per_s / base.requests_per_s:.2f} of healthz req/s)"
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    with fitsync_server(args.workers, admin=ADMIN) as server:
        token, gym_id, start = seed(server)
        prefix = urllib.parse.urlparse(server.base).path
        bench = Bench(server, {"Authorization": f"Bearer {token}"}, args.seconds)
        search = [f"{prefix}/exercises?q={urllib.parse.quote(q)}&limit=20" for q in TYPO_QUERIES]
        week = f"from={start.isoformat()}&to={(start + timedelta(days=6)).isoformat()}"
        whole = f"from={start.isoformat()}&to={(start + timedelta(days=83)).isoformat()}"
        targets = [
            ("GET /healthz", ["/healthz"]),
            ("GET /muscles (floor)", [f"{prefix}/muscles"]),
            ("GET /exercises?q=<typo>", search),
            ("GET /me/plan (1 week)", [f"{prefix}/me/plan?{week}"]),
            ("GET /me/plan (12 weeks)", [f"{prefix}/me/plan?{whole}"]),
        ]
        print(
            f"\nserver: fitsync serve --workers {args.workers}; wrk, {args.seconds} s per run;"
            f" {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
        )
        for _, paths in targets:  # warm up: connections, prepared statements, plans
            bench.wrk(paths, connections=8, seconds=1)
        for connections in (1, 64):
            base = None
            for label, paths in targets:
                run = bench.wrk(paths, connections=connections)
                base = base or run
                print(_row(label, run, base), flush=True)
        print(
            "\nEXPLAIN ANALYZE of GET /exercises?q=dumbell curl (caller's gym, 10,873 exercises):"
        )
        print(asyncio.run(explain(server, gym_id, "dumbell curl")))


if __name__ == "__main__":
    main()
