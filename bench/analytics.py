"""Analytics figures over `--listings` demo listings (like `atp seed --listings 100000`):

    .venv/bin/python bench/analytics.py --listings 100000 --max-iter 150

Starts its own embedded PostgreSQL under --dir (deleted afterwards unless --keep), seeds it, imports the
sample ECB rates, then prints:
  * backfill + rollup build time; consumer throughput (synthetic price changes through the outbox);
  * valuation: held-out 20 % median absolute percentage error of the model beside the baseline
    "median price of the same type within ±3 years", and the 10-90 % band's coverage;
  * estimate latency p50/p99 (`POST /api/analytics/estimate`'s service function, model loaded);
  * `GET /api/analytics/prices` latency p50/p95/p99 (its service function, a mix of types and ranges).
A synthetic catalogue flatters any model: prices are a smooth function of type, age, hours and a damage
flag plus 6 % noise, so these errors are a lower bound of what real listings would give.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROOT = Path(__file__).resolve().parent.parent


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _report(label: str, seconds: list[float]) -> None:
    ms = [v * 1000 for v in seconds]
    print(
        f"{label:<28} n={len(ms):>5}  p50={_pct(ms, 50):7.2f} ms  p95={_pct(ms, 95):7.2f} ms  "
        f"p99={_pct(ms, 99):7.2f} ms",
        flush=True,
    )


async def _prepare(listings: int) -> None:
    import asyncpg

    from app.analytics.rates import import_rates
    from app.cli import migrate
    from app.cli.seed import seed
    from app.settings import load_settings

    await migrate()
    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        have = await conn.fetchval("SELECT count(*) FROM listings")
        if have < listings:
            started = time.perf_counter()
            await seed(listings=listings, settings=load_settings(), showcase=False)
            print(f"seeded {listings:,} listings in {time.perf_counter() - started:.1f} s", flush=True)
            await conn.execute("VACUUM ANALYZE listings, listing_search")
        else:
            print(f"reusing {have:,} listings", flush=True)
        started = time.perf_counter()
        await import_rates(conn, ROOT / "data" / "samples" / "ecb" / "eurofxref-hist.csv")
        print(f"rates imported in {time.perf_counter() - started:.1f} s", flush=True)
    finally:
        await conn.close()


async def _run(args) -> None:
    from app.analytics import market, training
    from app.core import db as core_db
    from app.core.db import UnitOfWork, engine

    pool = engine()
    await pool.start_connection_pool(min_size=2, max_size=4)
    try:
        if args.latency_only and await core_db.fetchrow(
            "SELECT 1 FROM valuation_models WHERE active AND sha256 <> ''"
        ):
            await _latencies(args)
            return
        started = time.perf_counter()
        async with UnitOfWork() as uow:
            added = await market.backfill(uow.conn)
            rollups = await uow.conn.fetchval("SELECT count(*) FROM market_rollups")
        print(
            f"backfill: {added:,} market facts and {rollups:,} rollup rows in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        await core_db.fetch("VACUUM ANALYZE market_events, market_rollups")

        # Consumer throughput: --events price changes written to the outbox, then drained by the consumer.
        ids = [r["id"] for r in await core_db.fetch(
            "SELECT id FROM listings WHERE status = 'active' ORDER BY random() LIMIT $1", args.events
        )]  # fmt: skip
        async with UnitOfWork() as uow:  # start after everything already in the outbox
            await market.consume(uow.conn, cursor="bench", limit=1)
            await uow.conn.execute(
                "UPDATE analytics_cursors SET position = (SELECT coalesce(max(position), 0) FROM outbox_events)"
                " WHERE name = 'bench'"
            )
        rng = random.Random(15)
        async with UnitOfWork() as uow:
            await uow.conn.executemany(
                """INSERT INTO outbox_events (event_id, channel, event_type, payload, occurred_at)
                   VALUES ($1, 'listings', 'listing.price_changed', $2::jsonb, now())""",
                [
                    (uuid.uuid4(), f'{{"listingId": "{i}", "version": 2, "oldPrice": "1.00", '
                     f'"newPrice": "{rng.randrange(100_000, 900_000)}.00", "currency": "USD"}}')
                    for i in ids
                ],
            )  # fmt: skip
        started = time.perf_counter()
        consumed = 0
        while True:
            async with UnitOfWork() as uow:
                batch = await market.consume(uow.conn, cursor="bench")
            consumed += batch.events
            if batch.events == 0:
                break
        elapsed = time.perf_counter() - started
        print(f"consumer: {consumed:,} events in {elapsed:.2f} s = {consumed / elapsed:,.0f} events/s "
              "(facts + rollup recompute, batches of 500, one worker)", flush=True)  # fmt: skip

        # Valuation: train (held-out 20 %) and report.
        started = time.perf_counter()
        result = await training.train_and_store(max_iter=args.max_iter)
        print(f"training: {time.perf_counter() - started:.1f} s; {training.describe(result)}", flush=True)
        m = result.get("metrics", {})
        if m:
            print(
                f"  MdAPE model {m['mdape']:.2%} (on rows the baseline answers: {m['mdapeWhereBaseline']:.2%}) vs "
                f"baseline {m['baselineMdape']:.2%} (answers {m['baselineCoverage']:.1%} of held-out rows); "
                f"10-90 % band coverage {m['bandCoverage']:.1%}",
                flush=True,
            )
        await _latencies(args)
    finally:
        await pool.close_connection_pool()


async def _latencies(args) -> None:
    from app.analytics import prices, valuation
    from app.analytics.model import ModelCache
    from app.analytics.schemas import EstimateRequest
    from app.core import db as core_db

    cache = ModelCache()
    await cache.current()
    subjects = [
        EstimateRequest(
            manufacturer=r["manufacturer"],
            model=r["model"],
            year_manufactured=r["year_manufactured"],
            hours_total=r["hours_total"],
        )
        for r in await core_db.fetch(
            "SELECT manufacturer, model, year_manufactured, hours_total FROM listings ORDER BY random() LIMIT 200"
        )
    ]
    for subject in subjects[:20]:
        await valuation.request_estimate(subject, cache=cache)
    latencies = []
    for i in range(args.requests):
        t0 = time.perf_counter()
        await valuation.request_estimate(subjects[i % len(subjects)], cache=cache)
        latencies.append(time.perf_counter() - t0)
    _report("estimate (1 client)", latencies)

    types = [
        (r["manufacturer"], r["model"])
        for r in await core_db.fetch(
            "SELECT DISTINCT manufacturer, model FROM market_rollups WHERE year = 0 ORDER BY 1, 2"
        )
    ]
    mix = []
    for i, (maker, model) in enumerate(types):
        mix.append(dict(manufacturer=maker, model=model, year_min=None, year_max=None, interval="month"))
        mix.append(dict(manufacturer=maker, model=model, year_min=2000 + i % 15, year_max=2010 + i % 15,
                        interval="quarter"))  # fmt: skip
    mix.append(dict(manufacturer=None, model=None, year_min=None, year_max=None, interval="month"))
    latencies = []
    for i in range(args.requests):
        q = mix[i % len(mix)]
        t0 = time.perf_counter()
        await prices.price_series(**q, start=None, end=None, currency="EUR" if i % 3 == 0 else "USD")
        latencies.append(time.perf_counter() - t0)
    _report("prices (1 client)", latencies)
    whole = [t for i, t in enumerate(latencies) if mix[i % len(mix)]["manufacturer"] is None]
    if whole:
        _report("  of which whole market", whole)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--listings", type=int, default=100_000)
    parser.add_argument("--max-iter", type=int, default=150, help="boosting iterations per quantile model")
    parser.add_argument("--events", type=int, default=5000, help="price changes for the consumer benchmark")
    parser.add_argument("--requests", type=int, default=1000, help="estimate and prices calls each")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/analytics-bench"))
    parser.add_argument("--keep", action="store_true", help="keep the database directory")
    parser.add_argument(
        "--latency-only",
        action="store_true",
        help="with a kept --dir that has a trained model: only the estimate and prices latencies",
    )
    args = parser.parse_args()

    from app.cli import services

    started = services.start(args.dir, record=False, redis=False)
    os.environ.update(
        DATABASE_URL=started.database_url, PICCOLO_CONF="db.piccolo_conf", ATP_ENV="development"
    )
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:1/0")  # not used; settings want a value
    try:
        asyncio.run(_prepare(args.listings))
        asyncio.run(_run(args))
    finally:
        started.stop()
        if not args.keep:
            shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
