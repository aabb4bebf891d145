"""Progress fixtures: a private InfluxDB for the InfluxDB adapter, and both stores."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from fitsync.bootstrap import Container
from fitsync.progress.timeseries import InfluxSampleStore, SampleStore

INFLUX_CONFIG = """
reporting-enabled = false
bind-address = "127.0.0.1:{rpc_port}"
[meta]
  dir = "{root}/meta"
  logging-enabled = false
[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:{port}"
  log-enabled = false
  max-body-size = 0
[continuous_queries]
  enabled = false
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def influx_url() -> Iterator[str]:
    """A private InfluxDB 1.x on a free loopback port, with its data in a temp directory."""
    binary = shutil.which("influxd")
    if binary is None:
        pytest.skip(
            "influxd is not installed (apt-get install influxdb); InfluxDB adapter untested"
        )
    with tempfile.TemporaryDirectory(prefix="fitsync-influx-") as root:
        port, rpc_port = _free_port(), _free_port()
        config = Path(root) / "influxdb.conf"
        config.write_text(INFLUX_CONFIG.format(root=root, port=port, rpc_port=rpc_port))
        log = (Path(root) / "influxd.log").open("w")
        process = subprocess.Popen(
            [binary, "run", "-config", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{url}/ping", timeout=1).status_code == 204:
                        break
                except httpx.HTTPError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "influxd did not start: " + (Path(root) / "influxd.log").read_text()[-2000:]
                    )
                time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
            log.close()


@pytest.fixture(params=["postgres", "influxdb"])
async def store(request: pytest.FixtureRequest, container: Container) -> AsyncIterator[SampleStore]:
    """Each adapter in turn, plugged into the running application."""
    original = container.progress.store
    if request.param == "postgres":
        yield original
        return
    url = request.getfixturevalue("influx_url")
    influx = InfluxSampleStore(f"{url}/fitsync_{uuid.uuid4().hex[:8]}")
    container.progress.store = influx
    try:
        yield influx
    finally:
        container.progress.store = original
        await influx.close()
