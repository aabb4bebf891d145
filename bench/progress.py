"""Progress benchmark: watch-file import throughput, down-sampled reads, memory under load.

Runs FitSync (uvicorn, one worker) in a child process against a fresh database on the
PostgreSQL server named by FITSYNC_BENCH_DATABASE_URL (default: the local server), once
with the PostgreSQL time-series adapter and once with a private InfluxDB (when ``influxd``
is installed), and prints:

- import throughput (samples/s, POST to 201: upload + parse + store) for the largest real
  FIT file of the test data and for a synthetic 5-hour 1 Hz ride;
- GET /progress/activities/{id}/samples?every=10s&fields=hr,power on the 5-hour ride:
  p50 / p99 over 300 sequential requests;
- the server's peak RSS (VmHWM) before and after 4 concurrent uploads of 48-hour rides.

    .venv/bin/python bench/progress.py
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from statistics import quantiles

import asyncpg
import httpx
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.factories import PASSWORD, make_gym, make_user  # noqa: E402
from tests.progress.conftest import INFLUX_CONFIG  # noqa: E402
from tests.progress.fitwriter import synthetic_ride  # noqa: E402

from fitsync.bootstrap import build_container  # noqa: E402
from fitsync.kernel import migrate  # noqa: E402
from fitsync.kernel.auth import Role  # noqa: E402
from fitsync.settings import Settings  # noqa: E402

REAL_FIT = ROOT / "tests/data/progress/fit/4078723797.fit"
SERVER = os.environ.get(
    "FITSYNC_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS = os.environ.get("FITSYNC_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def influxdb() -> Iterator[str | None]:
    binary = shutil.which("influxd")
    if binary is None:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="bench-influx-") as root:
        port = free_port()
        conf = Path(root) / "influxdb.conf"
        conf.write_text(INFLUX_CONFIG.format(root=root, port=port, rpc_port=free_port()))
        proc = subprocess.Popen(
            [binary, "run", "-config", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{url}/ping", timeout=1).status_code == 204:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        try:
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=10)


@contextmanager
def server(env: dict[str, str]) -> Iterator[tuple[str, int]]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "fitsync.app:create_app",
            "--factory",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env={**os.environ, **env},
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    try:
        yield base, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def token(base: str, email: str) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=base) as c:
        r = await c.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        r.raise_for_status()
        return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def post_file(
    c: httpx.AsyncClient, headers: dict[str, str], data: bytes, name: str
) -> tuple[float, dict]:
    started = time.perf_counter()
    r = await c.post("/api/v1/progress/activities", files={"file": (name, data)}, headers=headers)
    elapsed = time.perf_counter() - started
    if r.status_code != 201:
        raise RuntimeError(f"{r.status_code} {r.text[:300]}")
    return elapsed, r.json()


async def run(
    label: str, env: dict[str, str], settings: Settings, five_hours: bytes, big: list[bytes]
) -> None:
    container = build_container(settings)
    try:
        gym = await make_gym(container, f"Bench {label}")
        users = [await make_user(container, role=Role.client, gym_id=gym) for _ in range(5)]
    finally:
        await container.close()
    with server(env) as (base, pid):
        headers = [await token(base, u.email) for u in users]
        async with httpx.AsyncClient(base_url=base, timeout=600) as c:
            real = REAL_FIT.read_bytes()
            t, body = await post_file(c, headers[0], real, REAL_FIT.name)
            n = body["samples"]
            kb = len(real) / 1e3
            say(label, f"import {REAL_FIT.name} ({kb:.0f} kB, {n} samples): {t * 1000:.0f} ms,")
            say(label, f"  {n / t:,.0f} samples/s")
            t, ride = await post_file(c, headers[0], five_hours, "five-hours.fit")
            n = ride["samples"]
            kb = len(five_hours) / 1e3
            say(
                label,
                f"import synthetic 5 h 1 Hz FIT ({kb:.0f} kB, {n} samples): {t * 1000:.0f} ms,",
            )
            say(label, f"  {n / t:,.0f} samples/s")
            path = f"/api/v1/progress/activities/{ride['id']}/samples"
            params = {"every": "10s", "fields": "hr,power"}
            for _ in range(20):
                await c.get(path, params=params, headers=headers[0])
            times = []
            for _ in range(300):
                started = time.perf_counter()
                r = await c.get(path, params=params, headers=headers[0])
                times.append((time.perf_counter() - started) * 1000)
                assert r.status_code == 200
                assert len(r.json()["items"]) == 1800
            q = quantiles(times, n=100)
            say(label, "GET samples every=10s fields=hr,power (1,800 points):")
            say(label, f"  p50 {q[49]:.1f} ms, p99 {q[98]:.1f} ms")
            before = peak_rss_mb(pid)
            started = time.perf_counter()
            results = await asyncio.gather(
                *(post_file(c, headers[1 + i], data, f"big-{i}.fit") for i, data in enumerate(big))
            )
            wall = time.perf_counter() - started
            total = sum(b["samples"] for _, b in results)
            mb = len(big[0]) / 1e6
            say(label, f"4 concurrent uploads of {mb:.1f} MB (48 h at 1 Hz, {total:,} samples):")
            say(label, f"  {wall:.1f} s wall, {total / wall:,.0f} samples/s")
            say(label, f"  server peak RSS {before:.0f} MB before, {peak_rss_mb(pid):.0f} MB after")


def say(label: str, text: str) -> None:
    print(f"[{label}] {text}", flush=True)


async def main() -> None:
    five_hours = synthetic_ride(start=datetime(2025, 6, 1, 6, tzinfo=UTC), seconds=5 * 3600)
    big = [
        synthetic_ride(start=datetime(2025, 7, 1 + i, tzinfo=UTC), seconds=48 * 3600, seed=i)
        for i in range(4)
    ]
    name = f"fitsync_bench_{uuid.uuid4().hex[:8]}"
    admin_dsn = make_url(SERVER).set(drivername="postgresql").render_as_string(hide_password=False)
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = (
        make_url(SERVER)
        .set(drivername="postgresql+asyncpg", database=name)
        .render_as_string(hide_password=False)
    )
    try:
        await asyncio.to_thread(migrate.upgrade, url)
        data_dir = tempfile.mkdtemp(prefix="bench-progress-")
        base_env = {
            "FITSYNC_DATABASE_URL": url,
            "FITSYNC_REDIS_URL": REDIS,
            "FITSYNC_REDIS_PREFIX": f"bench-{name}:",
            "FITSYNC_SECRET_KEY": "bench-secret-" + "x" * 40,
            "FITSYNC_DATA_DIR": data_dir,
        }
        settings = Settings(
            database_url=url,
            redis_url=REDIS,
            redis_prefix=base_env["FITSYNC_REDIS_PREFIX"],
            secret_key=base_env["FITSYNC_SECRET_KEY"],
            data_dir=Path(data_dir),
        )
        version = await admin.fetchval("SHOW server_version")
        print(f"machine: {os.cpu_count()} cores; PostgreSQL {version}")
        await run("postgres", base_env, settings, five_hours, big)
        with influxdb() as influx:
            if influx is None:
                print("[influxdb] skipped: influxd is not installed")
            else:
                env = {**base_env, "FITSYNC_INFLUX_URL": f"{influx}/bench"}
                await run("influxdb", env, settings, five_hours, big)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
