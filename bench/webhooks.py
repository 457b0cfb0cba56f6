"""Webhook delivery benchmark: one arq worker process, a local receiver process, real PostgreSQL/Redis.

    .venv/bin/python bench/webhooks.py                          # 20 endpoints, 3000-event backlog, 50 ev/s
    .venv/bin/python bench/webhooks.py --endpoints 1 --backlog 1000 --rate 50 --seconds 20

Starts its own embedded PostgreSQL and Redis, migrates, registers `--endpoints` bots (one endpoint each,
subscribed to `notification.created`) pointing at an aiohttp receiver in its own process, then:

1. throughput: commits `--backlog` events (round-robin over the bots) with the worker stopped, starts one
   `arq workers.main.WorkerSettings` process and times first → last delivery (deliveries/s sustained);
2. latency: with the worker running, commits `--rate` events/s for `--seconds` and prints p50/p95/p99/max
   of the delay from each event's commit to its arrival at the receiver (signature checked on arrival).

Each endpoint is delivered in event order (one in flight per endpoint), so throughput scales with the
number of endpoints up to the worker's `max_jobs`; `--endpoints 1` shows the ordered single-queue rate.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.cli import services  # noqa: E402
from bench.holds import bench_env  # noqa: E402

RECEIVER = r"""
import json, sys, time
from aiohttp import web
from standardwebhooks.webhooks import Webhook

secrets = json.loads(open(sys.argv[2]).read())
out = open(sys.argv[3], "a", buffering=1)
bad = 0

async def hook(request):
    global bad
    body = await request.read()
    arrived = time.time()
    try:
        payload = Webhook(secrets[request.match_info["bot"]]).verify(body, dict(request.headers))
    except Exception:
        bad += 1
        return web.Response(status=400)
    out.write(json.dumps({"t": arrived, "title": payload["data"]["title"]}) + "\n")
    return web.Response(status=204)

app = web.Application()
app.router.add_post("/hook/{bot}", hook)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


async def setup_bots(count: int, port: int) -> tuple[list[uuid.UUID], dict[str, str]]:
    from app.accounts.service import create_user
    from app.auth.principal import Principal
    from app.core.db import UnitOfWork
    from app.settings import load_settings
    from app.webhooks.schemas import EndpointCreate
    from app.webhooks.service import create_endpoint

    settings = load_settings()
    bots, secrets = [], {}
    for i in range(count):
        async with UnitOfWork() as uow:
            row = await create_user(
                uow.conn,
                email=f"bot{i}-{uuid.uuid4().hex[:6]}@bench.atp",
                password="bench-password-123",
                user_type="buyer",
                company_name="Bench",
                verification_level=0,
                password_hash="x",
            )
        principal = Principal(
            user_id=row["id"], email="", roles=frozenset(), permissions=frozenset({"webhooks:manage"}),
            verification_level=0,
        )  # fmt: skip
        endpoint = await create_endpoint(
            principal,
            EndpointCreate(url=f"http://127.0.0.1:{port}/hook/{i}", event_types=["notification.created"]),
            settings,
        )
        bots.append(row["id"])
        secrets[str(i)] = endpoint.secret
    return bots, secrets


async def commit_event(bot: uuid.UUID, label: str, committed: dict[str, float]) -> None:
    from app.core.db import UnitOfWork
    from app.notifications.service import notify

    async with UnitOfWork() as uow:
        await notify(uow, bot, "bench.tick", label)
    committed[label] = time.time()


def spawn(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


def arrivals(path: Path) -> dict[str, float]:
    seen: dict[str, float] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            item = json.loads(line)
            seen.setdefault(item["title"], item["t"])
    return seen


async def wait_for(path: Path, labels: set[str], within: float) -> dict[str, float]:
    deadline = time.monotonic() + within
    while True:
        seen = arrivals(path)
        if labels <= seen.keys() or time.monotonic() > deadline:
            return seen
        await asyncio.sleep(0.2)


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


async def run(args: argparse.Namespace, started, workdir: Path) -> None:
    _, env = bench_env(started, workdir)
    env.update(ATP_WEBHOOK_ALLOW_HOSTS="127.0.0.1", ATP_NOTIFY_RETRY_SCHEDULE="10")
    import os

    os.environ.update(env)
    from app.cli import migrate
    from app.core.db import engine

    await migrate()
    await engine().start_connection_pool(min_size=1, max_size=10)
    port = services.free_port()
    bots, secrets = await setup_bots(args.endpoints, port)
    (workdir / "secrets.json").write_text(json.dumps(secrets))
    (workdir / "receiver.py").write_text(RECEIVER)
    got = workdir / "arrivals.jsonl"
    procs: list[subprocess.Popen] = []
    try:
        receiver = [
            sys.executable,
            str(workdir / "receiver.py"),
            str(port),
            str(workdir / "secrets.json"),
            str(got),
        ]
        procs.append(spawn(receiver, env, workdir / "receiver.log"))
        committed: dict[str, float] = {}
        for i in range(args.backlog):
            await commit_event(bots[i % len(bots)], f"backlog-{i}", committed)
        worker = spawn(
            [sys.executable, "-m", "workers"],
            env,
            workdir / "worker.log",
        )
        procs.append(worker)
        seen = await wait_for(got, set(committed), within=600)
        backlog = [seen[k] for k in committed if k in seen]
        span = max(backlog) - min(backlog) if len(backlog) > 1 else float("nan")
        print(f"endpoints={args.endpoints} backlog={args.backlog} delivered={len(backlog)}")
        print(
            f"throughput: {len(backlog) / span:.0f} deliveries/s sustained by 1 worker ({span:.1f} s first→last)"
        )

        committed = {}
        interval = 1 / args.rate
        start = time.monotonic()
        total = int(args.rate * args.seconds)
        for i in range(total):
            await asyncio.sleep(max(0.0, start + i * interval - time.monotonic()))
            await commit_event(bots[i % len(bots)], f"live-{i}", committed)
        seen = await wait_for(got, set(committed), within=120)
        delays = [seen[k] - committed[k] for k in committed if k in seen]
        achieved = total / (time.monotonic() - start)
        print(
            f"latency at {args.rate} events/s ({achieved:.0f} achieved, {len(delays)}/{total} delivered): "
            f"p50={pct(delays, 0.5) * 1000:.0f} ms  p95={pct(delays, 0.95) * 1000:.0f} ms  "
            f"p99={pct(delays, 0.99) * 1000:.0f} ms  max={max(delays) * 1000:.0f} ms"
        )
        print(f"mean={statistics.mean(delays) * 1000:.0f} ms (commit → signed POST verified by the receiver)")
        from app.core import db

        split = await db.fetchrow(
            """SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM created_at - occurred_at)) AS queued,
                      percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM delivered_at - created_at)) AS sent
               FROM webhook_deliveries WHERE payload ->> 'title' LIKE 'live-%'"""
        )
        print(
            "split p50/p99: event → delivery row {:.0f}/{:.0f} ms, delivery row → answered {:.0f}/{:.0f} ms".format(
                *(v * 1000 for v in (*split["queued"], *split["sent"]))
            )
        )
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        await engine().close_connection_pool()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--endpoints", type=int, default=20)
    parser.add_argument("--backlog", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the work dir (worker.log, arrivals)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="atp-bench-webhooks-"))
    if not args.keep:
        atexit.register(shutil.rmtree, workdir, True)
    print(f"work dir: {workdir}")
    started = services.start(workdir, database_name="atp_bench", record=False)
    try:
        asyncio.run(run(args, started, workdir))
    finally:
        started.stop()


if __name__ == "__main__":
    main()
