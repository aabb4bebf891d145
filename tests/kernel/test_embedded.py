"""The embedded stores start, keep their data across restarts, and refuse a second owner."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
import redis

from fitsync.kernel.embedded import (
    DataDirInUse,
    EmbeddedPostgres,
    EmbeddedRedis,
    _pid_alive,
    _read_pid,
    embedded_stores,
)


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A private directory (not pytest's shared, pruned tmp tree)."""
    path = Path(tempfile.mkdtemp(prefix="fitsync-embedded-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _pg(url: str, sql: str) -> list[asyncpg.Record]:
    import asyncio

    host = url.split("host=")[1]

    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(host=host, user="postgres", database="postgres")
        try:
            if ";" in sql:  # several statements: run them, no rows
                await conn.execute(sql)
                return []
            return await conn.fetch(sql)
        finally:
            await conn.close()

    return asyncio.run(run())


def test_stores_keep_their_data_across_restarts(data_dir: Path) -> None:
    with embedded_stores(data_dir) as urls:
        assert urls is not None
        _pg(urls.database_url, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')")
        redis.Redis.from_url(urls.redis_url).set("kept", "me too")
        version = _pg(urls.database_url, "SHOW server_version")[0][0]
        assert version.startswith("18")
        extensions = {
            r[0] for r in _pg(urls.database_url, "SELECT name FROM pg_available_extensions")
        }
        assert {"btree_gist", "pg_trgm", "unaccent", "citext"} <= extensions
    with embedded_stores(data_dir) as urls:
        assert urls is not None
        assert _pg(urls.database_url, "SELECT v FROM kept")[0][0] == "still here"
        assert redis.Redis.from_url(urls.redis_url).get("kept") == b"me too"


def test_second_instance_on_the_same_data_dir_is_refused(data_dir: Path) -> None:
    with embedded_stores(data_dir) as urls:
        assert urls is not None
        with (
            pytest.raises(DataDirInUse, match="another FitSync is running"),
            embedded_stores(data_dir),
        ):
            pass
        # Another process (a second `fitsync`) gets a clear error and exit code 2.
        env = {k: v for k, v in os.environ.items() if not k.startswith("FITSYNC_")}
        env["FITSYNC_DATA_DIR"] = str(data_dir)
        proc = subprocess.run(
            [sys.executable, "-m", "fitsync", "migrate"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 2
        assert "another FitSync is running" in proc.stderr.replace("\n", " ")
        # The first instance was not disturbed.
        assert _pg(urls.database_url, "SELECT 1")[0][0] == 1


def test_stores_left_running_by_a_killed_fitsync_are_recovered(data_dir: Path) -> None:
    first_pg, first_redis = (
        EmbeddedPostgres(data_dir / "postgres"),
        EmbeddedRedis(data_dir / "redis"),
    )
    url = first_pg.start()
    first_redis.start()
    _pg(url, "CREATE TABLE survived (v int); INSERT INTO survived VALUES (7)")
    # FitSync dies without stopping its stores; the next one finds them running.
    with embedded_stores(data_dir) as urls:
        assert urls is not None
        assert _pg(urls.database_url, "SELECT v FROM survived")[0][0] == 7
        assert redis.Redis.from_url(urls.redis_url).ping()


def test_sigterm_stops_fitsync_serve_and_its_stores(data_dir: Path) -> None:
    """`docker stop`, systemd and test fixtures send SIGTERM: nothing may be left running."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FITSYNC_")}
    env["FITSYNC_DATA_DIR"] = str(data_dir)
    proc = subprocess.Popen(
        [sys.executable, "-m", "fitsync", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2):
                    break
            except OSError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "fitsync serve did not start"
                time.sleep(0.3)
        valkey_pid = _read_pid(data_dir / "redis" / "valkey.pid")
        postgres_pid = _read_pid(data_dir / "postgres" / "data" / "postmaster.pid")
        assert valkey_pid
        assert postgres_pid
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Embedded stores stopped." in output
    assert not _pid_alive(valkey_pid)
    gone = time.monotonic() + 10  # pg_ctl returns once the pid file is gone, just before exit
    while _pid_alive(postgres_pid) and time.monotonic() < gone:
        time.sleep(0.1)
    assert not _pid_alive(postgres_pid)
