"""Messaging benchmark (issue 13 "Measure"): send→deliver latency and saturation on one web process + one worker.

    .venv/bin/python bench/messaging.py                        # 1,000 threads, 200 msg/s for 10 s, ~2 minutes
    .venv/bin/python bench/messaging.py --threads 200 --rate 100 --seconds 5

Starts its own embedded PostgreSQL and Redis, one uvicorn (web + outbox relay) and one arq worker on
127.0.0.1. Creates `--threads` threads, each between its own buyer and its own seller, and opens one
WebSocket per participant (2 x threads sockets), each subscribed to its thread's channel. Then:
- steady: `--rate` messages/s for `--seconds`, open loop (a slow answer does not slow the sender), each
  message from one participant to the other over HTTP; latency = from just before the POST to the other
  participant's socket receiving `message.created` (p50/p99; target p99 < 50 ms at 200 msg/s);
- saturation: `--senders` participants send back to back for `--seconds`: messages stored/s (201s) and
  delivered/s (frames at the recipients, until the last one arrived);
- beside it, the listing fan-out of the same run: every socket subscribes to `listings` and `--events`
  listing events are committed through the outbox: events/s and deliveries/s until the last delivery.
The per-user send limit is raised for the run (ATP_MESSAGE_RATE_PER_MIN): it measures the platform, not
the limiter. The load client shares the machine: on a small box its own CPU is part of what is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import asyncpg
import psutil
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.cli import services  # noqa: E402
from bench.holds import bench_env, wait_ready  # noqa: E402

READERS: set[asyncio.Task] = set()  # one reader task per socket, kept alive for the run


async def until(condition, within_s: float) -> None:
    """Poll `condition` every 50 ms until it holds or `within_s` passed (counts change in reader tasks)."""
    deadline = time.monotonic() + within_s
    while not condition() and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)


class Results:
    def __init__(self) -> None:
        self.sent_at: dict[str, float] = {}  # message tag -> perf_counter before the POST
        self.latencies: list[float] = []
        self.post_latencies: list[float] = []
        self.delivered = 0
        self.last_delivery = 0.0
        self.listing_frames = 0
        self.last_listing_frame = 0.0
        self.errors: dict[int, int] = {}


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def make_people(db_url: str, data_dir: Path, threads: int) -> list[dict]:
    """Users, listings and threads inserted directly; tokens signed with the key the server loads."""
    from app.accounts.service import create_user
    from app.auth.passwords import hash_password
    from app.auth.tokens import TokenSigner, load_or_create_key
    from db.fixtures.catalogue import generate_listings
    from db.fixtures.listings import insert_listings

    signer = TokenSigner(
        load_or_create_key("", data_dir, allow_generate=True), issuer="atp", audience="atp-api", ttl_s=3600
    )
    password_hash = await hash_password("bench-password-123")
    conn = await asyncpg.connect(db_url)
    pairs = []
    try:
        async with conn.transaction():
            users = {"buyer": [], "seller": []}
            for kind in users:
                for _ in range(threads):
                    email = f"bench-{kind}-{uuid.uuid4().hex[:10]}@bench.atp"
                    row = await create_user(
                        conn, email=email, password="x", user_type=kind, verification_level=1,
                        password_hash=password_hash,
                    )  # fmt: skip
                    users[kind].append(row["id"])
            records = list(generate_listings(threads, users["seller"], seed=13))
            await insert_listings(conn, records)
            listing_ids = [r[0] for r in records]
            # One listing per seller, so every thread has two participants of its own.
            await conn.execute(
                """UPDATE listings l SET seller = s.seller, status = 'active'
                   FROM unnest($1::uuid[], $2::uuid[]) AS s (listing, seller) WHERE l.id = s.listing""",
                listing_ids,
                users["seller"],
            )
            for listing_id, buyer, seller in zip(listing_ids, users["buyer"], users["seller"], strict=True):
                thread_id = await conn.fetchval(
                    "INSERT INTO message_threads (listing_id, buyer_id) VALUES ($1, $2) RETURNING id",
                    listing_id,
                    buyer,
                )
                await conn.executemany(
                    "INSERT INTO thread_participants (thread_id, user_id, role) VALUES ($1, $2, $3)",
                    [(thread_id, buyer, "buyer"), (thread_id, seller, "seller")],
                )
                people = []
                for user_id, kind in ((buyer, "buyer"), (seller, "seller")):
                    token, _ = signer.issue(
                        user_id=user_id, email=f"{user_id}@bench.atp", roles=[kind], permissions=[],
                        verification_level=1, family_id=None,
                    )  # fmt: skip
                    people.append({"id": str(user_id), "headers": {"Authorization": f"Bearer {token}"}})
                pairs.append({"thread": str(thread_id), "people": people})
    finally:
        await conn.close()
    return pairs


async def open_sockets(base_ws: str, redis_url: str, pairs: list[dict], results: Results) -> list:
    """One socket per participant (tickets issued straight into Redis), subscribed to its thread."""
    from redis.asyncio import Redis

    from realtime.connection import Session
    from realtime.tickets import issue_ticket

    redis = Redis.from_url(redis_url)
    sockets = []
    readers = READERS

    async def one(pair: dict, person: dict) -> None:
        ticket = await issue_ticket(
            redis, Session(user_id=uuid.UUID(person["id"]), issued_at=time.time()), 60
        )
        ws = await connect(f"{base_ws}?ticket={ticket}", compression=None, open_timeout=30, max_queue=None)
        await ws.send(json.dumps({"op": "subscribe", "channel": f"thread:{pair['thread']}"}))
        answer = json.loads(await ws.recv())
        assert answer["op"] == "subscribed", answer
        sockets.append(ws)
        readers.add(asyncio.create_task(read(ws, person["id"], results)))

    semaphore = asyncio.Semaphore(100)

    async def guarded(pair, person):
        async with semaphore:
            await one(pair, person)

    await asyncio.gather(*(guarded(pair, person) for pair in pairs for person in pair["people"]))
    await redis.aclose()
    return sockets


async def read(ws, me: str, results: Results) -> None:
    with contextlib.suppress(Exception):
        async for raw in ws:
            now = time.perf_counter()
            frame = json.loads(raw)
            if frame.get("op") != "event":
                continue
            if frame["type"] == "message.created" and frame["data"]["senderId"] != me:
                sent = results.sent_at.pop(frame["data"]["body"], None)
                if sent is not None:
                    results.latencies.append(now - sent)
                results.delivered += 1
                results.last_delivery = now
            elif frame["channel"] == "listings":
                results.listing_frames += 1
                results.last_listing_frame = now


async def send(client: aiohttp.ClientSession, pair: dict, results: Results, tag: str) -> None:
    sender = random.choice(pair["people"])
    results.sent_at[tag] = started = time.perf_counter()
    async with client.post(
        f"/api/threads/{pair['thread']}/messages",
        json={"body": tag, "clientId": tag},
        headers=sender["headers"],
    ) as response:
        await response.read()
        status = response.status
    results.post_latencies.append(time.perf_counter() - started)
    if status != 201:
        results.errors[status] = results.errors.get(status, 0) + 1
        results.sent_at.pop(tag, None)


async def wait_delivered(results: Results, target: int, within_s: float = 20) -> None:
    await until(lambda: results.delivered >= target, within_s)


async def steady(client, pairs, results: Results, rate: int, seconds: float) -> dict:
    results.latencies.clear()
    results.post_latencies.clear()
    start_delivered = results.delivered
    tasks = []
    interval = 1 / rate
    began = time.perf_counter()
    for i in range(int(rate * seconds)):
        delay = began + i * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(
            asyncio.create_task(send(client, random.choice(pairs), results, f"s-{i}-{uuid.uuid4().hex[:8]}"))
        )
    await asyncio.gather(*tasks)
    await wait_delivered(results, start_delivered + len(tasks) - sum(results.errors.values()))
    return {
        "sent": len(tasks),
        "delivered": results.delivered - start_delivered,
        "p50": pct(results.latencies, 0.50),
        "p90": pct(results.latencies, 0.90),
        "p99": pct(results.latencies, 0.99),
        "max": pct(results.latencies, 1.0),
        "post_p50": pct(results.post_latencies, 0.50),
        "post_p99": pct(results.post_latencies, 0.99),
    }


async def saturate(client, pairs, results: Results, senders: int, seconds: float) -> dict:
    stored = 0
    start_delivered = results.delivered
    results.latencies.clear()
    began = time.perf_counter()
    stop = began + seconds

    async def loop(n: int) -> None:
        nonlocal stored
        i = 0
        while time.perf_counter() < stop:
            before = sum(results.errors.values())
            await send(
                client, pairs[(n * 7919 + i) % len(pairs)], results, f"x-{n}-{i}-{uuid.uuid4().hex[:6]}"
            )
            stored += sum(results.errors.values()) == before
            i += 1

    await asyncio.gather(*(loop(n) for n in range(senders)))
    sent_for = time.perf_counter() - began
    await wait_delivered(results, start_delivered + stored)
    delivered = results.delivered - start_delivered
    deliver_for = max(results.last_delivery - began, sent_for)
    return {
        "stored_per_s": stored / sent_for,
        "delivered_per_s": delivered / deliver_for,
        "stored": stored,
        "delivered": delivered,
        "p50": pct(results.latencies, 0.50),
        "p99": pct(results.latencies, 0.99),
    }


async def listing_fanout(sockets, results: Results, events: int) -> dict:
    """Every socket on `listings`; `events` listing events through the outbox; deliveries/s."""
    from app.core.db import UnitOfWork, start_pool
    from app.events import ListingPriceChanged
    from realtime import channels

    for ws in sockets:
        await ws.send(json.dumps({"op": "subscribe", "channel": "listings"}))
    await asyncio.sleep(2)  # let every `subscribed` arrive
    await start_pool(1, 4)
    listing_id = uuid.uuid4()
    results.listing_frames = 0
    began = time.perf_counter()
    for version in range(1, events + 1):
        async with UnitOfWork() as uow:
            uow.emit(
                ListingPriceChanged(
                    listing_id=listing_id, version=version, old_price="1.00", new_price="2.00", currency="USD"
                ),
                [channels.listings_feed()],
            )
    committed_for = time.perf_counter() - began
    target = events * len(sockets)
    await until(lambda: results.listing_frames >= target, 60)
    took = max(results.last_listing_frame - began, committed_for)
    return {
        "events": events,
        "deliveries": results.listing_frames,
        "events_per_s": events / took,
        "deliveries_per_s": results.listing_frames / took,
    }


class Sampler:
    """While a phase runs: CPU of each process group and what the database sessions wait on."""

    def __init__(self, db_url: str, groups: dict[str, list[psutil.Process]]) -> None:
        self.db_url, self.groups = db_url, groups
        self.waits: dict[str, int] = {}
        self.samples = 0
        self._task: asyncio.Task | None = None

    async def __aenter__(self) -> Sampler:
        for procs in self.groups.values():
            for proc in procs:
                with contextlib.suppress(psutil.Error):
                    proc.cpu_percent()
        self._task = asyncio.create_task(self._sample())
        return self

    async def _sample(self) -> None:
        conn = await asyncpg.connect(self.db_url)
        try:
            while True:
                rows = await conn.fetch(
                    """SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') AS w, count(*) AS n
                       FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid()
                       AND backend_type = 'client backend' GROUP BY 1"""
                )
                for row in rows:
                    self.waits[row["w"]] = self.waits.get(row["w"], 0) + row["n"]
                self.samples += 1
                await asyncio.sleep(0.1)
        finally:
            await conn.close()

    async def __aexit__(self, *exc) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        cpu = {}
        for name, procs in self.groups.items():
            total = 0.0
            for proc in procs:
                with contextlib.suppress(psutil.Error):
                    total += proc.cpu_percent()
            cpu[name] = total
        self.cpu = cpu

    def report(self) -> str:
        cpu = " ".join(f"{name}={value:.0f}%" for name, value in self.cpu.items())
        top = sorted(self.waits.items(), key=lambda item: -item[1])[:5]
        waits = ", ".join(f"{w} {n / max(self.samples, 1):.1f}" for w, n in top) or "none"
        return f"  CPU: {cpu}\n  active DB sessions by wait (mean per sample): {waits}"


def postgres_processes(workdir: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        with contextlib.suppress(psutil.Error):
            if proc.info["name"] == "postgres" or (
                proc.info["cmdline"]
                and str(workdir) in " ".join(proc.info["cmdline"])
                and "postgres" in proc.info["cmdline"][0]
            ):
                found.append(proc)
    return [p for p in found if _under(p, workdir)]


def _under(proc: psutil.Process, workdir: Path) -> bool:
    with contextlib.suppress(psutil.Error):
        for candidate in (proc, *proc.parents()):
            if str(workdir) in " ".join(candidate.cmdline()):
                return True
    return False


def start(name: str, command: list[str], env: dict[str, str], workdir: Path) -> subprocess.Popen:
    with open(workdir / f"{name}.log", "wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)


async def run(args: argparse.Namespace, started, workdir: Path) -> None:
    data_dir, env = bench_env(started, workdir)
    env = {
        **env,
        "ATP_MESSAGE_RATE_PER_MIN": "1000000",
        "ATP_RT_MAX_CONNECTIONS_PER_USER": "20",
        "ATP_DB_POOL_MAX": "20",
    }
    procs: list[subprocess.Popen] = []
    try:
        from app.cli import migrate

        await migrate()
        print(f"creating {args.threads} threads ({2 * args.threads} participants) …", flush=True)
        pairs = await make_people(started.database_url, data_dir, args.threads)
        port = services.free_port()
        base = f"http://127.0.0.1:{port}"
        bin_dir = Path(sys.executable).parent
        web = start(
            "uvicorn",
            [str(bin_dir / "uvicorn"), "app.main:create_app", "--factory", "--host", "127.0.0.1", "--port", str(port),
             "--no-access-log", "--log-level", "warning", "--timeout-keep-alive", "120"],
            env, workdir,
        )  # fmt: skip
        procs.append(web)
        procs.append(start("worker", [str(bin_dir / "arq"), "workers.main.WorkerSettings"], env, workdir))
        await wait_ready(base, web)
        results = Results()
        began = time.perf_counter()
        sockets = await open_sockets(f"ws://127.0.0.1:{port}/ws", started.redis_url, pairs, results)
        print(
            f"{len(sockets)} sockets open and subscribed in {time.perf_counter() - began:.1f} s", flush=True
        )
        server = psutil.Process(web.pid)
        groups = {
            "web": [server],
            "worker": [psutil.Process(procs[1].pid)],
            "postgres": postgres_processes(workdir),
            "bench client": [psutil.Process()],
        }
        # aiohttp, not httpx: the load client shares the CPUs, and httpx costs several times more per request.
        connector = aiohttp.TCPConnector(limit=400)
        async with aiohttp.ClientSession(
            base, connector=connector, timeout=aiohttp.ClientTimeout(total=60)
        ) as client:
            await steady(
                client, pairs, results, 20, 2
            )  # warm-up: pools, prepared statements, JIT-free caches
            async with Sampler(started.database_url, groups) as sampled:
                result = await steady(client, pairs, results, args.rate, args.seconds)
            cpu = sampled.cpu["web"]
            print(
                f"steady {args.rate} msg/s for {args.seconds:.0f} s, {len(sockets)} sockets on {args.threads} threads: "
                f"sent={result['sent']} delivered={result['delivered']} errors={results.errors or 0}"
            )
            print(
                f"  send→deliver p50={result['p50']:.1f} ms p90={result['p90']:.1f} ms p99={result['p99']:.1f} ms "
                f"max={result['max']:.0f} ms "
                f"(target p99 < 50 ms); POST p50={result['post_p50']:.1f} ms p99={result['post_p99']:.1f} ms; "
                f"web CPU {cpu:.0f}%",
                flush=True,
            )
            print(sampled.report(), flush=True)
            async with Sampler(started.database_url, groups) as sampled:
                sat = await saturate(client, pairs, results, args.senders, args.seconds)
            cpu = sampled.cpu["web"]
            print(
                f"saturation ({args.senders} senders back to back): stored {sat['stored_per_s']:.0f} msg/s, "
                f"delivered {sat['delivered_per_s']:.0f} msg/s ({sat['stored']} stored, {sat['delivered']} delivered), "
                f"send→deliver p50={sat['p50']:.1f} ms p99={sat['p99']:.1f} ms; web CPU {cpu:.0f}%",
                flush=True,
            )
            print(sampled.report(), flush=True)
        fan = await listing_fanout(sockets, results, args.events)
        print(
            f"listing fan-out, same run: {fan['events']} events to {len(sockets)} sockets: "
            f"{fan['events_per_s']:.0f} events/s, {fan['deliveries_per_s']:.0f} deliveries/s"
        )
        for ws in sockets:
            with contextlib.suppress(Exception):
                await ws.close()
    except BaseException:
        for name in ("uvicorn", "worker"):
            log = workdir / f"{name}.log"
            if log.exists():
                print(f"--- {name} log ---\n{log.read_text()[-3000:]}", file=sys.stderr)
        raise
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=200, help="messages per second in the steady phase")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--senders", type=int, default=64, help="concurrent senders in the saturation phase")
    parser.add_argument("--events", type=int, default=50, help="listing events in the fan-out comparison")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="atp-bench-messaging-"))
    atexit.register(shutil.rmtree, workdir, True)
    started = services.start(workdir, database_name="atp_bench", record=False)
    try:
        try:
            import uvloop

            uvloop.install()
        except ImportError:
            pass
        asyncio.run(run(args, started, workdir))
    finally:
        started.stop()


if __name__ == "__main__":
    main()
