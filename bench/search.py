"""Search latency and throughput on the PostgreSQL backend over `--listings` demo listings.

    .venv/bin/python bench/search.py --listings 100000 --seconds 10

Starts its own embedded PostgreSQL under --dir (deleted afterwards unless --keep), seeds it like
`atp seed`, then runs a fixed mix of 20 realistic queries through the search service function:
one client, then --clients concurrent clients. Prints p50/p95/p99, queries/s, and EXPLAIN ANALYZE
of the slowest query.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.search.schemas import SearchQuery

PUBLIC = ("active", "on_hold", "under_contract")


def _q(**kw) -> SearchQuery:
    kw.setdefault("statuses", PUBLIC)
    kw.setdefault("sort", "relevance" if kw.get("q") else "newest")
    return SearchQuery(**kw)


# What buyers do: type a model (often misspelt), add a filter or two, look at facets, sort.
MIX: list[tuple[str, SearchQuery]] = [
    ("cessna 172", _q(q="cessna 172")),
    ("cesna 172 g1000", _q(q="cesna 172 g1000")),
    ("pc12", _q(q="pc12", facets=("model", "year"))),
    ("king air 350 under 3m", _q(q="king air 350 under 3m")),
    ("g650", _q(q="g650")),
    ("citation cj3 + year", _q(q="citation cj3", year_min=2010)),
    ("beech baron", _q(q="beech baron", sort="price_asc")),
    ("skyhawk near dallas", _q(q="skyhawk", near=(32.78, -96.8), radius_km=300)),
    ("sr22 facets", _q(q="sr22", facets=("year", "country"))),
    ("tbm 940", _q(q="tbm 940")),
    ("gulfstrem", _q(q="gulfstrem")),
    ("robinson r44 hours", _q(q="robinson r44", hours_max=2000)),
    ("jets facets", _q(engine_type="jet", facets=("manufacturer", "engineType"), sort="price_desc")),
    ("piston US under 200k", _q(engine_type="piston", country="US", price_max=Decimal(200_000))),
    ("seats 8 range 3000", _q(seats_min=8, range_min=3000, sort="year_desc")),
    ("newest all facets", _q(facets=("manufacturer", "country"))),
    ("falcon 7x", _q(q="falcon 7x", sort="hours_asc")),
    ("phenom 300 2018+", _q(q="phenom 300", year_min=2018)),
    ("g1000 text", _q(q="g1000 nxi")),
    ("turboprop DE", _q(engine_type="turboprop", country="DE", facets=("model",))),
]


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _report(label: str, latencies: list[float], elapsed: float) -> None:
    ms = [v * 1000 for v in latencies]
    print(
        f"{label:<22} n={len(ms):>5}  p50={_pct(ms, 50):6.2f} ms  p95={_pct(ms, 95):6.2f} ms  "
        f"p99={_pct(ms, 99):6.2f} ms  {len(ms) / elapsed:7.1f} q/s"
    )


async def _prepare(listings: int) -> None:
    from app.cli import migrate
    from app.cli.seed import seed
    from app.settings import load_settings

    await migrate()
    import asyncpg

    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        have = await conn.fetchval("SELECT count(*) FROM listings")
    finally:
        await conn.close()
    if have >= listings:  # a kept database (--keep) is reused as it is
        print(f"reusing {have} listings", flush=True)
        return
    started = time.perf_counter()
    await seed(listings=listings, settings=load_settings(), showcase=False)
    print(f"seeded {listings} listings in {time.perf_counter() - started:.1f} s", flush=True)

    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        await conn.execute("VACUUM ANALYZE listings, listing_search")
    finally:
        await conn.close()


async def _statements(backend, query: SearchQuery) -> list[tuple[str, tuple]]:
    """The SQL statements (and arguments) one search of `query` runs, in order."""
    from app.core import db as core_db

    seen: list[tuple[str, tuple]] = []
    fetch = core_db.fetch

    async def recording(sql: str, *args):
        seen.append((sql, args))
        return await fetch(sql, *args)

    core_db.fetch = recording
    try:
        await backend.search(query)
    finally:
        core_db.fetch = fetch
    return seen


async def _run(seconds: float, clients: int) -> None:
    from app.core import db as core_db
    from app.core.db import engine
    from app.search.backends.postgres import PostgresSearch

    db = engine()
    await db.start_connection_pool(min_size=clients * 3, max_size=clients * 3)
    backend = PostgresSearch()
    per_query: dict[str, list[float]] = {name: [] for name, _ in MIX}
    try:
        for _, query in MIX:  # warm caches and plans
            await backend.search(query)

        async def client(offset: int, deadline: float, out: list[float], record: bool) -> None:
            i = offset
            while time.perf_counter() < deadline:
                name, query = MIX[i % len(MIX)]
                t0 = time.perf_counter()
                await backend.search(query)
                took = time.perf_counter() - t0
                out.append(took)
                if record:
                    per_query[name].append(took)
                i += 1

        single: list[float] = []
        t0 = time.perf_counter()
        await client(0, t0 + seconds, single, True)
        _report("1 client", single, time.perf_counter() - t0)

        many: list[float] = []
        t0 = time.perf_counter()
        deadline = t0 + seconds
        await asyncio.gather(*(client(k * 3, deadline, many, False) for k in range(clients)))
        _report(f"{clients} clients", many, time.perf_counter() - t0)

        print("\nper query (1 client, median ms):")
        medians = {name: statistics.median(v) * 1000 for name, v in per_query.items() if v}
        for name, value in sorted(medians.items(), key=lambda kv: -kv[1]):
            print(f"  {value:7.2f}  {name}")
        slowest = max(medians, key=lambda n: medians[n])
        print(f"\nEXPLAIN ANALYZE of the slowest ({slowest!r}), every statement its search runs:")
        for sql, args in await _statements(backend, dict(MIX)[slowest]):
            if sql.startswith("EXPLAIN"):  # the planner's estimate of a total: nothing runs
                continue
            rows = await core_db.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *args)
            print("\n" + "\n".join(r[0] for r in rows))
    finally:
        await db.close_connection_pool()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--listings", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10.0, help="per phase")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/search-bench"))
    parser.add_argument("--keep", action="store_true", help="keep the database directory")
    args = parser.parse_args()

    from app.cli import services

    started = services.start(args.dir, record=False, redis=False)
    os.environ.update(
        DATABASE_URL=started.database_url, PICCOLO_CONF="db.piccolo_conf", ATP_ENV="development"
    )
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:1/0")  # not used; settings want a value
    try:
        asyncio.run(_prepare(args.listings))
        asyncio.run(_run(args.seconds, args.clients))
    finally:
        started.stop()
        if not args.keep:
            shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
