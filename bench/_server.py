"""Shared by the benchmarks: run a real FitSync server and load it with wrk.

The server is `fitsync serve` in a subprocess on embedded stores in a temporary data
directory (what `make run` uses), or on the servers named by FITSYNC_BENCH_DATABASE_URL
and FITSYNC_BENCH_REDIS_URL. Load comes from wrk (Debian package `wrk`), a separate C
process, so the Python client does not compete with the server for the 2 cores.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    base: str
    data_dir: Path
    env: dict[str, str]

    def call(self, method: str, path: str, body: object = None, token: str | None = None) -> dict:
        request = urllib.request.Request(
            self.base + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={
                "content-type": "application/json",
                **({"authorization": f"Bearer {token}"} if token else {}),
            },
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return json.loads(raw) if raw else {}


@contextlib.contextmanager
def fitsync_server(
    workers: int = 1,
    *,
    admin: tuple[str, str] | None = None,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Server]:
    """A running `fitsync serve --workers N`; optionally with an admin account created first.

    ``extra_env`` adds FITSYNC_* settings (e.g. cheaper argon2 for a bench that is not
    about sign-in). An external database (FITSYNC_DATABASE_URL) is migrated first.
    """
    data_dir = Path(tempfile.mkdtemp(prefix="fitsync-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("FITSYNC_")}
    env.update(FITSYNC_DATA_DIR=str(data_dir), FITSYNC_SECRET_KEY="bench-" + "k" * 40)
    if os.environ.get("FITSYNC_BENCH_DATABASE_URL"):
        env["FITSYNC_DATABASE_URL"] = os.environ["FITSYNC_BENCH_DATABASE_URL"]
    if os.environ.get("FITSYNC_BENCH_REDIS_URL"):
        env["FITSYNC_REDIS_URL"] = os.environ["FITSYNC_BENCH_REDIS_URL"]
    env.update(extra_env or {})
    fitsync = [sys.executable, "-m", "fitsync"]
    if env.get("FITSYNC_DATABASE_URL"):
        subprocess.run([*fitsync, "migrate"], env=env, check=True, capture_output=True)
    if admin:
        subprocess.run(
            [*fitsync, "admin", "create", "--email", admin[0], "--password", admin[1]],
            env=env,
            check=True,
            capture_output=True,
        )
    port = free_port()
    proc = subprocess.Popen(
        [*fitsync, "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(base + "/readyz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"server did not start: {proc.stderr.read().decode() if proc.stderr else ''}"
                )
            time.sleep(0.3)
        yield Server(base=base + "/api/v1", data_dir=data_dir, env=env)
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(data_dir, ignore_errors=True)


@dataclass
class Load:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int

    def __str__(self) -> str:
        return f"{self.requests_per_s:9.0f} req/s   p50 {self.p50_ms:7.2f} ms   p99 {self.p99_ms:7.2f} ms   non-2xx {self.errors}"


def _ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if match is None:
        raise ValueError(f"unexpected wrk latency {value!r}")
    number, unit = match.groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(
    url: str,
    *,
    connections: int = 64,
    seconds: int = 10,
    threads: int = 2,
    script: str | None = None,
    headers: dict[str, str] | None = None,
) -> Load:
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in (headers or {}).items():
        cmd += ["-H", f"{name}: {value}"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script or "")
    if script:
        cmd += ["-s", lua.name]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    if os.environ.get("BENCH_VERBOSE"):
        print(out)
    os.unlink(lua.name)
    # Only the "Latency Distribution" lines: thread stats also contain "...50%".
    p50 = re.search(r"^\s+50%\s+(\S+)\s*$", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)\s*$", out, re.M)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    assert p50 and p99 and rps, out
    return Load(
        float(rps.group(1)),
        _ms(p50.group(1)),
        _ms(p99.group(1)),
        int(non2xx.group(1)) if non2xx else 0,
    )
